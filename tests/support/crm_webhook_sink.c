/* crm_webhook_sink.c: a webhook receiver for tests on libmicrohttpd, verifying signatures with libsodium. */
#include "crm_webhook_sink.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crm_test.h"

#define S_KEY_MAX 64
#define S_URL_MAX 64

struct crm_webhook_sink {
    struct MHD_Daemon *daemon;
    int port;
    char url[S_URL_MAX];
    unsigned char key[S_KEY_MAX];
    size_t key_len;
    bool check;
    unsigned fail_first;
    pthread_mutex_t lock;
    crm_webhook_request_t requests[CRM_WEBHOOK_SINK_REQUESTS_MAX];
    size_t count;
};

typedef struct {
    char *data;
    size_t len;
    bool too_big;
} s_body_t;

/* True when one of the space-separated "v1,<base64>" signatures is HMAC-SHA256(key, id.ts.body)
 * and the timestamp is within the tolerance. */
static bool s_verify(const crm_webhook_sink_t *sink, const crm_webhook_request_t *r)
{
    char *end = NULL;
    long long ts = strtoll(r->timestamp, &end, 10);
    if (!r->timestamp[0] || *end || llabs((long long) time(NULL) - ts) > CRM_WEBHOOK_SINK_TOLERANCE_S)
        return false;
    crypto_auth_hmacsha256_state st;
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_init(&st, sink->key, sink->key_len);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *) r->id, strlen(r->id));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *) ".", 1);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *) r->timestamp, strlen(r->timestamp));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *) ".", 1);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *) r->body, strlen(r->body));
    crypto_auth_hmacsha256_final(&st, mac);
    char expected[sodium_base64_ENCODED_LEN(crypto_auth_hmacsha256_BYTES, sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(expected, sizeof expected, mac, sizeof mac, sodium_base64_VARIANT_ORIGINAL);
    char list[CRM_WEBHOOK_SINK_HEADER_MAX];
    snprintf(list, sizeof list, "%s", r->signature);
    char *save = NULL;
    for (char *sig = strtok_r(list, " ", &save); sig; sig = strtok_r(NULL, " ", &save))
        if (strncmp(sig, "v1,", 3) == 0 && strcmp(sig + 3, expected) == 0)
            return true;
    return false;
}

static void s_header(struct MHD_Connection *conn, const char *name, char *out)
{
    const char *v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
    snprintf(out, CRM_WEBHOOK_SINK_HEADER_MAX, "%s", v ? v : "");
}

static enum MHD_Result s_answer(struct MHD_Connection *conn, unsigned status)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, (void *) "", MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ok = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return ok;
}

static enum MHD_Result s_handle(void *arg, struct MHD_Connection *conn, const char *url, const char *method,
                                const char *version, const char *upload, size_t *upload_size, void **state)
{
    crm_webhook_sink_t *sink = arg;
    s_body_t *body = *state;
    if (!body) {
        body = calloc(1, sizeof *body);
        if (!body)
            return MHD_NO;
        *state = body;
        return MHD_YES;
    }
    if (*upload_size) {
        if (body->len + *upload_size > CRM_WEBHOOK_SINK_BODY_MAX) {
            body->too_big = true;
        } else {
            char *grown = realloc(body->data, body->len + *upload_size + 1);
            if (!grown)
                return MHD_NO;
            body->data = grown;
            memcpy(body->data + body->len, upload, *upload_size);
            body->len += *upload_size;
            body->data[body->len] = '\0';
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (strcmp(method, "POST") != 0 || body->too_big)
        return s_answer(conn, body->too_big ? 413 : 405);
    crm_webhook_request_t r;
    memset(&r, 0, sizeof r);
    snprintf(r.path, sizeof r.path, "%s", url);
    s_header(conn, "webhook-id", r.id);
    s_header(conn, "webhook-timestamp", r.timestamp);
    s_header(conn, "webhook-signature", r.signature);
    s_header(conn, "Content-Type", r.content_type);
    s_header(conn, "Authorization", r.authorization);
    r.body = strdup(body->data ? body->data : "");
    r.signature_ok = sink->check && r.body && s_verify(sink, &r);
    pthread_mutex_lock(&sink->lock);
    size_t index = sink->count;
    unsigned status = index < sink->fail_first ? 500 : sink->check && !r.signature_ok ? 401 : 204;
    r.status = status;
    if (index < CRM_WEBHOOK_SINK_REQUESTS_MAX) {
        sink->requests[sink->count++] = r;
    } else {
        free(r.body);
        status = 507;
    }
    pthread_mutex_unlock(&sink->lock);
    return s_answer(conn, status);
}

static void s_done(void *arg, struct MHD_Connection *conn, void **state, enum MHD_RequestTerminationCode code)
{
    s_body_t *body = *state;
    if (body) {
        free(body->data);
        free(body);
        *state = NULL;
    }
}

void crm_webhook_sink_start(const char *secret, unsigned fail_first, crm_webhook_sink_t **sink_p)
{
    cr_assert(sodium_init() >= 0);
    crm_webhook_sink_t *sink = calloc(1, sizeof *sink);
    cr_assert(sink);
    pthread_mutex_init(&sink->lock, NULL);
    sink->fail_first = fail_first;
    if (secret) {
        const char *b64 = strncmp(secret, "whsec_", 6) == 0 ? secret + 6 : secret;
        cr_assert_eq(sodium_base642bin(sink->key, sizeof sink->key, b64, strlen(b64), NULL, &sink->key_len, NULL,
                                       sodium_base64_VARIANT_ORIGINAL),
                     0, "the test's webhook secret is not base64");
        sink->check = true;
    }
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    sink->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL, s_handle, sink,
                                    MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &sa, MHD_OPTION_NOTIFY_COMPLETED,
                                    s_done, sink, MHD_OPTION_END);
    cr_assert(sink->daemon, "the webhook sink did not start");
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(sink->daemon, MHD_DAEMON_INFO_BIND_PORT);
    cr_assert(info && info->port);
    sink->port = info->port;
    snprintf(sink->url, sizeof sink->url, "http://127.0.0.1:%d/hook", sink->port);
    *sink_p = sink;
}

int crm_webhook_sink_port(const crm_webhook_sink_t *sink)
{
    return sink->port;
}

const char *crm_webhook_sink_url(const crm_webhook_sink_t *sink)
{
    return sink->url;
}

size_t crm_webhook_sink_count(crm_webhook_sink_t *sink)
{
    pthread_mutex_lock(&sink->lock);
    size_t n = sink->count;
    pthread_mutex_unlock(&sink->lock);
    return n;
}

bool crm_webhook_sink_wait(crm_webhook_sink_t *sink, size_t count, int timeout_ms)
{
    long long deadline = crm_test_now_ms() + timeout_ms;
    while (crm_webhook_sink_count(sink) < count) {
        if (crm_test_now_ms() >= deadline)
            return false;
        usleep(20 * 1000);
    }
    return true;
}

bool crm_webhook_sink_get(crm_webhook_sink_t *sink, size_t i, crm_webhook_request_t *out)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&sink->lock);
    bool ok = i < sink->count;
    if (ok) {
        *out = sink->requests[i];
        out->body = strdup(sink->requests[i].body ? sink->requests[i].body : "");
    }
    pthread_mutex_unlock(&sink->lock);
    return ok;
}

void crm_webhook_request_clear(crm_webhook_request_t *request)
{
    free(request->body);
    memset(request, 0, sizeof *request);
}

void crm_webhook_sink_stop(crm_webhook_sink_t **sink_p)
{
    if (!sink_p || !*sink_p)
        return;
    crm_webhook_sink_t *sink = *sink_p;
    MHD_stop_daemon(sink->daemon);
    for (size_t i = 0; i < sink->count; i++)
        crm_webhook_request_clear(&sink->requests[i]);
    pthread_mutex_destroy(&sink->lock);
    free(sink);
    *sink_p = NULL;
}
