/* notifier_channels.c: email over SMTP, webhooks and SMS over HTTP, with libcurl's easy interface (one handle per message). */
#include "notifier_channels.h"

#include <assert.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "crm_error.h"
#include "notifier_webhook.h"

#define S_HEADER_MAX (NOTIFIER_SETTING_MAX + 16)
#define S_DATE_MAX 64

/* --- Composing mail */

static bool s_ascii_plain(const char *s)
{
    for (; *s; s++)
        if ((unsigned char) *s >= 0x7f || (unsigned char) *s < 0x20)
            return false;
    return true;
}

/* Writes text as RFC 2047 encoded words ("=?UTF-8?B?...?="), each of whole UTF-8 characters,
 * folded with CRLF SP; plain ASCII is written as it is. */
static void s_encoded_words(FILE *f, const char *text)
{
    if (s_ascii_plain(text)) {
        fputs(text, f);
        return;
    }
    size_t len = strlen(text);
    size_t at = 0;
    bool first = true;
    while (at < len) {
        size_t n = len - at < NOTIFIER_MAIL_WORD_BYTES ? len - at : NOTIFIER_MAIL_WORD_BYTES;
        while (at + n < len && ((unsigned char) text[at + n] & 0xc0) == 0x80)
            n--;   /* do not split a character */
        char b64[sodium_base64_ENCODED_LEN(NOTIFIER_MAIL_WORD_BYTES, sodium_base64_VARIANT_ORIGINAL)];
        sodium_bin2base64(b64, sizeof b64, (const unsigned char *) text + at, n, sodium_base64_VARIANT_ORIGINAL);
        fprintf(f, "%s=?UTF-8?B?%s?=", first ? "" : "\r\n ", b64);
        first = false;
        at += n;
    }
}

static bool s_one_line(const char *s)
{
    return !strchr(s, '\r') && !strchr(s, '\n');
}

int notifier_mail_compose(const char *from, const char *from_name, const char *to, const char *subject,
                          const char *body, const char *message_id, int64_t date_us, char **out)
{
    if (!s_one_line(from) || !s_one_line(from_name) || !s_one_line(to) || !s_one_line(subject)
        || !s_one_line(message_id))
        return CRM_EINVALID;
    char *text = NULL;
    size_t text_len = 0;
    FILE *f = open_memstream(&text, &text_len);
    if (!f)
        return CRM_ENOMEM;
    time_t t = (time_t) (date_us / 1000000);
    struct tm tm;
    char date[S_DATE_MAX];
    gmtime_r(&t, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    fprintf(f, "Date: %s\r\nFrom: ", date);
    if (from_name[0]) {
        if (s_ascii_plain(from_name) && !strpbrk(from_name, "\"\\"))
            fprintf(f, "\"%s\"", from_name);
        else
            s_encoded_words(f, from_name);
        fprintf(f, " <%s>\r\n", from);
    } else {
        fprintf(f, "%s\r\n", from);
    }
    fprintf(f, "To: %s\r\nSubject: ", to);
    s_encoded_words(f, subject);
    fprintf(f, "\r\nMessage-ID: <%s@%s>\r\nMIME-Version: 1.0\r\n"
               "Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n"
               "X-CRM-Delivery: %s\r\n\r\n",
            message_id, NOTIFIER_MESSAGE_ID_HOST, message_id);
    /* The body in canonical form (CRLF line ends), then base64 in lines of 76. */
    size_t body_len = strlen(body);
    char *canon = malloc(body_len * 2 + 1);
    if (!canon) {
        fclose(f);
        free(text);
        return CRM_ENOMEM;
    }
    size_t n = 0;
    for (size_t i = 0; i < body_len; i++) {
        if (body[i] == '\n' && (i == 0 || body[i - 1] != '\r'))
            canon[n++] = '\r';
        canon[n++] = body[i];
    }
    size_t b64_size = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
    char *b64 = malloc(b64_size);
    if (!b64) {
        free(canon);
        fclose(f);
        free(text);
        return CRM_ENOMEM;
    }
    sodium_bin2base64(b64, b64_size, (const unsigned char *) canon, n, sodium_base64_VARIANT_ORIGINAL);
    size_t b64_len = strlen(b64);
    for (size_t i = 0; i < b64_len; i += NOTIFIER_MAIL_LINE)
        fprintf(f, "%.*s\r\n", (int) (b64_len - i < NOTIFIER_MAIL_LINE ? b64_len - i : NOTIFIER_MAIL_LINE), b64 + i);
    free(b64);
    free(canon);
    if (fclose(f) != 0) {
        free(text);
        return CRM_ENOMEM;
    }
    *out = text;
    return 0;
}

/* --- libcurl plumbing */

typedef struct {
    const char *data;
    size_t len, at;
} s_upload_t;

static size_t s_read(char *buffer, size_t size, size_t nitems, void *arg)
{
    s_upload_t *u = arg;
    size_t room = size * nitems;
    size_t n = u->len - u->at < room ? u->len - u->at : room;
    memcpy(buffer, u->data + u->at, n);
    u->at += n;
    return n;
}

static size_t s_discard(char *ptr, size_t size, size_t nmemb, void *arg)
{
    return size * nmemb;
}

static int s_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    const atomic_bool *stop = arg;
    return stop && atomic_load(stop) ? 1 : 0;
}

/* Refuses connections to private addresses: libcurl asks for the socket of each address it is
 * about to connect to, after resolving the name. */
typedef struct {
    bool allow_private;
    bool refused;
} s_socket_guard_t;

static curl_socket_t s_open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *address)
{
    s_socket_guard_t *g = arg;
    if (!g->allow_private && notifier_addr_private(&address->addr)) {
        g->refused = true;
        return CURL_SOCKET_BAD;
    }
    return socket(address->family, address->socktype, address->protocol);
}

static void s_common(CURL *curl, const notifier_settings_t *s, const atomic_bool *stop)
{
    long timeout_ms = (long) (s->send_timeout_us / 1000);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                     timeout_ms < NOTIFIER_CONNECT_TIMEOUT_MS ? timeout_ms : (long) NOTIFIER_CONNECT_TIMEOUT_MS);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, s_progress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, (void *) stop);
}

static int s_curl_outcome(CURLcode code, const char *errbuf, char *why, size_t why_size)
{
    snprintf(why, why_size, "%s", errbuf[0] ? errbuf : curl_easy_strerror(code));
    switch (code) {
    case CURLE_OK: return 0;
    case CURLE_ABORTED_BY_CALLBACK: return CRM_EINTERRUPT;
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT: return CRM_EINVALID;
    default: return CRM_EUNAVAIL;
    }
}

int notifier_http_outcome(long status)
{
    if (status >= 200 && status < 300)
        return 0;
    if (status == 408 || status == 429)
        return CRM_EUNAVAIL;
    if (status >= 400 && status < 500)
        return CRM_EINVALID;
    return CRM_EUNAVAIL;
}

/* --- Email */

int notifier_send_email(const notifier_settings_t *s, const atomic_bool *stop, const char *message_id,
                        const char *to, const char *subject, const char *body, int64_t now_us, char *why,
                        size_t why_size)
{
    why[0] = '\0';
    if (!s->smtp_url[0]) {
        snprintf(why, why_size, "email is not configured (CRM_NOTIFIER_SMTP_URL)");
        return CRM_EINVALID;
    }
    char *mail = NULL;
    int rc = notifier_mail_compose(s->smtp_from, s->smtp_from_name, to, subject, body, message_id, now_us, &mail);
    if (rc) {
        snprintf(why, why_size, "%s", rc == CRM_EINVALID ? "a header holds a line break" : "out of memory");
        return rc;
    }
    CURL *curl = curl_easy_init();
    if (!curl) {
        free(mail);
        snprintf(why, why_size, "libcurl could not start");
        return CRM_EUNAVAIL;
    }
    char from[S_HEADER_MAX], rcpt[S_HEADER_MAX];
    snprintf(from, sizeof from, "<%s>", s->smtp_from);
    snprintf(rcpt, sizeof rcpt, "<%s>", to);
    struct curl_slist *rcpts = curl_slist_append(NULL, rcpt);
    s_upload_t upload = { .data = mail, .len = strlen(mail) };
    char errbuf[CURL_ERROR_SIZE] = "";
    s_common(curl, s, stop);
    curl_easy_setopt(curl, CURLOPT_URL, s->smtp_url);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(curl, CURLOPT_MAIL_FROM, from);
    curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, rcpts);
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, s_read);
    curl_easy_setopt(curl, CURLOPT_READDATA, &upload);
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    switch (s->smtp_tls) {
    case NOTIFIER_TLS_NONE: curl_easy_setopt(curl, CURLOPT_USE_SSL, (long) CURLUSESSL_NONE); break;
    case NOTIFIER_TLS_STARTTLS: curl_easy_setopt(curl, CURLOPT_USE_SSL, (long) CURLUSESSL_ALL); break;
    case NOTIFIER_TLS_VERIFY_OFF:
        curl_easy_setopt(curl, CURLOPT_USE_SSL, (long) CURLUSESSL_TRY);
        curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
        break;
    default: curl_easy_setopt(curl, CURLOPT_USE_SSL, (long) CURLUSESSL_TRY); break;
    }
    if (s->smtp_user[0]) {
        curl_easy_setopt(curl, CURLOPT_USERNAME, s->smtp_user);
        curl_easy_setopt(curl, CURLOPT_PASSWORD, s->smtp_password);
    }
    CURLcode code = rcpts ? curl_easy_perform(curl) : CURLE_OUT_OF_MEMORY;
    long reply = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply);
    rc = s_curl_outcome(code, errbuf, why, why_size);
    if (rc == CRM_EUNAVAIL && reply >= 500 && reply < 600) {
        snprintf(why + strlen(why), why_size - strlen(why), " (SMTP %ld)", reply);
        rc = CRM_EINVALID;   /* the server refused for good, e.g. 550 no such mailbox */
    }
    curl_slist_free_all(rcpts);
    curl_easy_cleanup(curl);
    free(mail);
    return rc;
}

/* --- HTTP */

typedef struct {
    const char *url;
    const char *body;
    struct curl_slist *headers;
    bool guard_private;
} s_post_t;

static int s_post(const notifier_settings_t *s, const atomic_bool *stop, s_post_t *p, char *why, size_t why_size)
{
    CURL *curl = curl_easy_init();
    if (!curl) {
        snprintf(why, why_size, "libcurl could not start");
        return CRM_EUNAVAIL;
    }
    char errbuf[CURL_ERROR_SIZE] = "";
    s_socket_guard_t guard = { .allow_private = !p->guard_private || s->allow_private };
    s_common(curl, s, stop);
    curl_easy_setopt(curl, CURLOPT_URL, p->url);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, p->body);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long) strlen(p->body));
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, p->headers);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, NOTIFIER_USER_AGENT);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, s_discard);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(curl, CURLOPT_OPENSOCKETFUNCTION, s_open_socket);
    curl_easy_setopt(curl, CURLOPT_OPENSOCKETDATA, &guard);
    CURLcode code = curl_easy_perform(curl);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(curl);
    if (guard.refused && code != CURLE_OK) {
        snprintf(why, why_size, "refused: the target resolves to a private or loopback address "
                                "(CRM_NOTIFIER_ALLOW_PRIVATE_TARGETS is off)");
        return CRM_EDENIED;
    }
    int rc = s_curl_outcome(code, errbuf, why, why_size);
    if (rc)
        return rc;
    snprintf(why, why_size, "HTTP %ld", status);
    return notifier_http_outcome(status);
}

int notifier_send_webhook(const notifier_settings_t *s, const atomic_bool *stop, const char *url,
                          const char *secret, const char *message_id, const char *body, int64_t now_us, char *why,
                          size_t why_size)
{
    why[0] = '\0';
    char host[NOTIFIER_HOST_MAX];
    uint16_t port = 0;
    if (notifier_url_split(url, host, &port, why, why_size) != 0)
        return CRM_EINVALID;
    if (!s->allow_private && notifier_host_private_name(host)) {
        snprintf(why, why_size, "refused: %s is a loopback name (CRM_NOTIFIER_ALLOW_PRIVATE_TARGETS is off)", host);
        return CRM_EDENIED;
    }
    int64_t ts = now_us / 1000000;
    char signature[NOTIFIER_WEBHOOK_SIGNATURE_MAX];
    if (notifier_webhook_sign(secret, message_id, ts, body, strlen(body), signature) != 0) {
        snprintf(why, why_size, "the endpoint's secret is unusable");
        return CRM_EINVALID;
    }
    char h_id[S_HEADER_MAX], h_ts[S_HEADER_MAX], h_sig[S_HEADER_MAX];
    snprintf(h_id, sizeof h_id, "webhook-id: %s", message_id);
    snprintf(h_ts, sizeof h_ts, "webhook-timestamp: %" PRId64, ts);
    snprintf(h_sig, sizeof h_sig, "webhook-signature: %s", signature);
    struct curl_slist *headers = NULL;
    const char *const lines[] = { "Content-Type: application/json", h_id, h_ts, h_sig, "Expect:" };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        struct curl_slist *grown = curl_slist_append(headers, lines[i]);
        if (!grown) {
            curl_slist_free_all(headers);
            snprintf(why, why_size, "out of memory");
            return CRM_ENOMEM;
        }
        headers = grown;
    }
    s_post_t p = { .url = url, .body = body, .headers = headers, .guard_private = true };
    int rc = s_post(s, stop, &p, why, why_size);
    curl_slist_free_all(headers);
    return rc;
}

int notifier_send_sms(const notifier_settings_t *s, const atomic_bool *stop, const char *message_id,
                      const char *to, const char *text, char *why, size_t why_size)
{
    why[0] = '\0';
    if (!s->sms_url[0]) {
        snprintf(why, why_size, "SMS is not configured (CRM_NOTIFIER_SMS_URL)");
        return CRM_EINVALID;
    }
    json_t *json = json_pack("{s:s, s:s, s:s}", "to", to, "text", text, "id", message_id);
    char *body = json ? json_dumps(json, JSON_COMPACT) : NULL;
    json_decref(json);
    if (!body) {
        snprintf(why, why_size, "out of memory");
        return CRM_ENOMEM;
    }
    char auth[NOTIFIER_SETTING_MAX + 32], key[S_HEADER_MAX];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", s->sms_token);
    snprintf(key, sizeof key, "Idempotency-Key: %s", message_id);
    struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
    struct curl_slist *grown = headers ? curl_slist_append(headers, key) : NULL;
    headers = grown ? grown : headers;
    grown = headers && s->sms_token[0] ? curl_slist_append(headers, auth) : headers;
    headers = grown ? grown : headers;
    grown = headers ? curl_slist_append(headers, "Expect:") : NULL;
    headers = grown ? grown : headers;
    int rc = CRM_ENOMEM;
    if (grown) {
        s_post_t p = { .url = s->sms_url, .body = body, .headers = headers, .guard_private = false };
        rc = s_post(s, stop, &p, why, why_size);
    } else {
        snprintf(why, why_size, "out of memory");
    }
    curl_slist_free_all(headers);
    free(body);
    return rc;
}
