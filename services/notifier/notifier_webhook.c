/* notifier_webhook.c: Standard Webhooks signatures with libsodium's HMAC-SHA256, secrets, URL splitting and the private-address check. */
#include "notifier_webhook.h"

#include <arpa/inet.h>
#include <assert.h>
#include <ctype.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "crm_error.h"

#define S_B64 sodium_base64_VARIANT_ORIGINAL
#define S_TIMESTAMP_MAX 24
#define S_ADDR_TEXT_MAX INET6_ADDRSTRLEN

int notifier_webhook_secret_new(char out[NOTIFIER_WEBHOOK_SECRET_MAX])
{
    uint8_t key[NOTIFIER_WEBHOOK_KEY_NEW];
    randombytes_buf(key, sizeof key);
    size_t prefix = strlen(NOTIFIER_WEBHOOK_SECRET_PREFIX);
    memcpy(out, NOTIFIER_WEBHOOK_SECRET_PREFIX, prefix);
    sodium_bin2base64(out + prefix, NOTIFIER_WEBHOOK_SECRET_MAX - prefix, key, sizeof key, S_B64);
    sodium_memzero(key, sizeof key);
    return 0;
}

int notifier_webhook_secret_key(const char *secret, uint8_t key[NOTIFIER_WEBHOOK_KEY_MAX], size_t *key_len)
{
    size_t prefix = strlen(NOTIFIER_WEBHOOK_SECRET_PREFIX);
    if (strncmp(secret, NOTIFIER_WEBHOOK_SECRET_PREFIX, prefix) == 0)
        secret += prefix;
    size_t len = strnlen(secret, NOTIFIER_WEBHOOK_SECRET_MAX);
    const char *end = NULL;
    if (len == 0 || len >= NOTIFIER_WEBHOOK_SECRET_MAX
        || sodium_base642bin(key, NOTIFIER_WEBHOOK_KEY_MAX, secret, len, NULL, key_len, &end, S_B64) != 0
        || end != secret + len || *key_len < NOTIFIER_WEBHOOK_KEY_MIN)
        return CRM_EINVALID;
    return 0;
}

int notifier_webhook_sign(const char *secret, const char *msg_id, int64_t timestamp, const void *body,
                          size_t body_len, char out[NOTIFIER_WEBHOOK_SIGNATURE_MAX])
{
    uint8_t key[NOTIFIER_WEBHOOK_KEY_MAX];
    size_t key_len = 0;
    if (notifier_webhook_secret_key(secret, key, &key_len) != 0)
        return CRM_EINVALID;
    char ts[S_TIMESTAMP_MAX];
    snprintf(ts, sizeof ts, "%" PRId64, timestamp);
    crypto_auth_hmacsha256_state state;
    uint8_t mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_init(&state, key, key_len);
    crypto_auth_hmacsha256_update(&state, (const uint8_t *) msg_id, strlen(msg_id));
    crypto_auth_hmacsha256_update(&state, (const uint8_t *) ".", 1);
    crypto_auth_hmacsha256_update(&state, (const uint8_t *) ts, strlen(ts));
    crypto_auth_hmacsha256_update(&state, (const uint8_t *) ".", 1);
    crypto_auth_hmacsha256_update(&state, body, body_len);
    crypto_auth_hmacsha256_final(&state, mac);
    sodium_memzero(key, sizeof key);
    memcpy(out, "v1,", 3);
    sodium_bin2base64(out + 3, NOTIFIER_WEBHOOK_SIGNATURE_MAX - 3, mac, sizeof mac, S_B64);
    return 0;
}

/* --- Private addresses */

static bool s_v4_private(uint32_t a)
{
    uint8_t b0 = (uint8_t) (a >> 24), b1 = (uint8_t) (a >> 16);
    return b0 == 0                                   /* 0.0.0.0/8: "this network" */
           || b0 == 10                               /* 10/8 */
           || b0 == 127                              /* loopback */
           || (b0 == 100 && (b1 & 0xc0) == 64)       /* 100.64/10: shared address space */
           || (b0 == 169 && b1 == 254)               /* link-local */
           || (b0 == 172 && (b1 & 0xf0) == 16)       /* 172.16/12 */
           || (b0 == 192 && b1 == 168)               /* 192.168/16 */
           || b0 >= 224;                             /* multicast, reserved, broadcast */
}

bool notifier_addr_private(const struct sockaddr *addr)
{
    if (!addr)
        return true;
    if (addr->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *) addr;
        return s_v4_private(ntohl(in->sin_addr.s_addr));
    }
    if (addr->sa_family != AF_INET6)
        return true;
    const uint8_t *b = ((const struct sockaddr_in6 *) addr)->sin6_addr.s6_addr;
    static const uint8_t zeros[12] = { 0 };
    static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    if (memcmp(b, zeros, 12) == 0 || memcmp(b, mapped, 12) == 0) {
        /* ::, ::1, ::a.b.c.d and ::ffff:a.b.c.d: judged as the IPv4 address (0.0.0.0 and
         * 0.0.0.1 are private there too). */
        uint32_t v4 = ((uint32_t) b[12] << 24) | ((uint32_t) b[13] << 16) | ((uint32_t) b[14] << 8) | b[15];
        return s_v4_private(v4);
    }
    return (b[0] & 0xfe) == 0xfc                     /* fc00::/7: unique local */
           || (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) /* fe80::/10: link-local */
           || (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) /* fec0::/10: site-local (deprecated) */
           || b[0] == 0xff;                          /* multicast */
}

bool notifier_host_private_name(const char *host)
{
    static const char name[] = "localhost";
    size_t len = strlen(host);
    size_t n = sizeof name - 1;
    if (len && host[len - 1] == '.')
        len--;                                       /* "localhost." */
    if (len == n && strncasecmp(host, name, n) == 0)
        return true;
    return len > n && host[len - n - 1] == '.' && strncasecmp(host + len - n, name, n) == 0;
}

int notifier_url_split(const char *url, char host[NOTIFIER_HOST_MAX], uint16_t *port, char *why,
                       size_t why_size)
{
    why[0] = '\0';
    host[0] = '\0';
    if (strnlen(url, NOTIFIER_URL_MAX + 1) > NOTIFIER_URL_MAX) {
        snprintf(why, why_size, "longer than %d bytes", NOTIFIER_URL_MAX);
        return CRM_EINVALID;
    }
    CURLU *u = curl_url();
    if (!u)
        return CRM_ENOMEM;
    char *scheme = NULL, *h = NULL, *user = NULL, *port_text = NULL;
    int rc = 0;
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK
        || curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK
        || curl_url_get(u, CURLUPART_HOST, &h, 0) != CURLUE_OK || !h[0]) {
        snprintf(why, why_size, "not a URL such as https://example.com/hooks");
        rc = CRM_EINVALID;
        goto out;
    }
    if (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0) {
        snprintf(why, why_size, "only http:// and https:// URLs are allowed");
        rc = CRM_EINVALID;
        goto out;
    }
    if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK) {
        snprintf(why, why_size, "credentials in the URL are not allowed");
        rc = CRM_EINVALID;
        goto out;
    }
    if (curl_url_get(u, CURLUPART_PORT, &port_text, CURLU_DEFAULT_PORT) != CURLUE_OK) {
        snprintf(why, why_size, "bad port");
        rc = CRM_EINVALID;
        goto out;
    }
    long p = strtol(port_text, NULL, 10);
    if (p <= 0 || p > 65535) {
        snprintf(why, why_size, "bad port");
        rc = CRM_EINVALID;
        goto out;
    }
    *port = (uint16_t) p;
    /* IPv6 literals come with their brackets. */
    size_t len = strlen(h);
    const char *start = h;
    if (len >= 2 && h[0] == '[' && h[len - 1] == ']') {
        start = h + 1;
        len -= 2;
    }
    if (len >= NOTIFIER_HOST_MAX) {
        snprintf(why, why_size, "host name too long");
        rc = CRM_EINVALID;
        goto out;
    }
    memcpy(host, start, len);
    host[len] = '\0';
out:
    curl_free(scheme);
    curl_free(h);
    curl_free(user);
    curl_free(port_text);
    curl_url_cleanup(u);
    return rc;
}

int notifier_target_check(const char *url, bool allow_private, char *why, size_t why_size)
{
    char host[NOTIFIER_HOST_MAX];
    uint16_t port = 0;
    int rc = notifier_url_split(url, host, &port, why, why_size);
    if (rc || allow_private)
        return rc;
    if (notifier_host_private_name(host)) {
        snprintf(why, why_size, "%s is a loopback name; private targets are not allowed", host);
        return CRM_EDENIED;
    }
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
    struct addrinfo *res = NULL;
    if (getaddrinfo(host, NULL, &hints, &res) != 0 || !res) {
        snprintf(why, why_size, "%s does not resolve", host);
        return CRM_EUNAVAIL;
    }
    for (struct addrinfo *ai = res; ai && rc == 0; ai = ai->ai_next) {
        if (!notifier_addr_private(ai->ai_addr))
            continue;
        char text[S_ADDR_TEXT_MAX] = "";
        const void *a = ai->ai_family == AF_INET ? (const void *) &((struct sockaddr_in *) ai->ai_addr)->sin_addr
                                                 : (const void *) &((struct sockaddr_in6 *) ai->ai_addr)->sin6_addr;
        inet_ntop(ai->ai_family, a, text, sizeof text);
        snprintf(why, why_size, "%s resolves to %s, a private address; private targets are not allowed", host,
                 text);
        rc = CRM_EDENIED;
    }
    freeaddrinfo(res);
    return rc;
}
