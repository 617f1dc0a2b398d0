/* test_crm_health.c: crm_health served on ephemeral ports, spoken to by a raw HTTP/1.0 client. */
#include "crm_error.h"
#include "crm_health.h"
#include "crm_metrics.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include "crm_test.h"

/* Every test fails on leaked memory. */
TestSuite(crm_health, .fini = crm_test_check_leaks);

#define T_RESPONSE_MAX  65536
#define T_TIMEOUT_S     5
#define T_SLOW_READY_MS 1000

typedef struct {
    int status;
    char headers[4096];      /* the header block, lines ending with \r\n */
    char body[T_RESPONSE_MAX];
    size_t body_len;
} t_response_t;

/* Sends one raw request to 127.0.0.1 (or ::1 when v6) and reads the answer to EOF. Returns 0
 * (status 0 when the server closed without answering), or -1 when the connection fails. */
static int
t_request_raw(uint16_t port, bool v6, const char *request, t_response_t *res)
{
    memset(res, 0, sizeof *res);
    int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
    cr_assert(fd >= 0);
    struct timeval tv = { .tv_sec = T_TIMEOUT_S };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_in a4 = { .sin_family = AF_INET, .sin_port = htons(port) };
    struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_port = htons(port) };
    a4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a6.sin6_addr = in6addr_loopback;
    int rc = v6 ? connect(fd, (struct sockaddr *) &a6, sizeof a6)
                : connect(fd, (struct sockaddr *) &a4, sizeof a4);
    if (rc != 0) {
        close(fd);
        return -1;
    }
    cr_assert_eq(write(fd, request, strlen(request)), (ssize_t) strlen(request));
    static char raw[T_RESPONSE_MAX + 4096];
    size_t len = 0;
    ssize_t n;
    while (len < sizeof raw - 1 && (n = read(fd, raw + len, sizeof raw - 1 - len)) > 0)
        len += (size_t) n;
    close(fd);
    raw[len] = '\0';
    if (len == 0)
        return 0;   /* closed without a word: status stays 0 */
    cr_assert_eq(sscanf(raw, "HTTP/1.%*d %d", &res->status), 1, "bad status line: %s", raw);
    char *end = strstr(raw, "\r\n\r\n");
    cr_assert_not_null(end, "no end of headers: %s", raw);
    size_t head_len = (size_t) (end - raw) + 2;
    cr_assert_lt(head_len, sizeof res->headers);
    memcpy(res->headers, raw, head_len);
    res->body_len = len - head_len - 2;
    memcpy(res->body, end + 4, res->body_len);
    res->body[res->body_len] = '\0';
    return 0;
}

static void
t_get(uint16_t port, const char *method, const char *path, t_response_t *res)
{
    char request[512];
    snprintf(request, sizeof request, "%s %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", method, path);
    cr_assert_eq(t_request_raw(port, false, request, res), 0, "cannot connect to port %u", port);
}

/* The value of a header (case-insensitive name), copied into out, or NULL. */
static const char *
t_header(const t_response_t *res, const char *name, char *out, size_t size)
{
    size_t len = strlen(name);
    for (const char *p = strstr(res->headers, "\r\n"); p && p[2]; p = strstr(p + 2, "\r\n")) {
        const char *line = p + 2;
        if (strncasecmp(line, name, len) == 0 && line[len] == ':') {
            const char *v = line + len + 1;
            while (*v == ' ')
                v++;
            snprintf(out, size, "%.*s", (int) (strstr(v, "\r\n") - v), v);
            return out;
        }
    }
    return NULL;
}

static void
t_assert_header(const t_response_t *res, const char *name, const char *want)
{
    char got[256];
    cr_assert_not_null(t_header(res, name, got, sizeof got), "no %s header in:\n%s", name,
                       res->headers);
    cr_assert_str_eq(got, want);
}

/* Parses the body as JSON and checks one string member. Returns the document (caller decrefs). */
static json_t *
t_json_body(const t_response_t *res, const char *key, const char *want)
{
    json_error_t err;
    json_t *doc = json_loadb(res->body, res->body_len, JSON_REJECT_DUPLICATES, &err);
    cr_assert_not_null(doc, "body is not JSON (%s): %s", err.text, res->body);
    json_t *v = json_object_get(doc, key);
    cr_assert(json_is_string(v), "no string %s in %s", key, res->body);
    cr_assert_str_eq(json_string_value(v), want);
    return doc;
}

/* A readiness check the test switches, with a reason that needs escaping. */
typedef struct {
    atomic_bool ready;
    atomic_int calls;
    int delay_ms;
} t_ready_t;

static bool
t_ready(void *arg, char *reason, size_t reason_size)
{
    t_ready_t *state = arg;
    atomic_fetch_add(&state->calls, 1);
    if (state->delay_ms) {
        struct timespec ts = { state->delay_ms / 1000, (state->delay_ms % 1000) * 1000000L };
        nanosleep(&ts, NULL);
    }
    if (atomic_load(&state->ready))
        return true;
    snprintf(reason, reason_size, "store \"contacts\" not open\n\x01yet\xff");
    return false;
}

static crm_health_t *
t_start(crm_metrics_t *metrics, crm_health_ready_fn ready, void *arg)
{
    crm_health_t *health = NULL;
    int rc = crm_health_start("127.0.0.1:0", metrics, ready, arg, &health);
    cr_assert_eq(rc, 0, "start: %s", crm_strerror(rc));
    cr_assert_neq(crm_health_port(health), 0);
    return health;
}

Test(crm_health, healthz_answers_ok)
{
    crm_health_t *health = t_start(NULL, NULL, NULL);
    t_response_t res;
    t_get(crm_health_port(health), "GET", "/healthz", &res);
    cr_assert_eq(res.status, 200);
    t_assert_header(&res, "Content-Type", "application/json");
    json_t *doc = t_json_body(&res, "status", "ok");
    cr_assert_eq(json_object_size(doc), 1);
    json_decref(doc);

    /* A query string does not change the route. */
    t_get(crm_health_port(health), "GET", "/healthz?verbose=1", &res);
    cr_assert_eq(res.status, 200);

    /* HEAD gets the status and headers, no body. */
    t_get(crm_health_port(health), "HEAD", "/healthz", &res);
    cr_assert_eq(res.status, 200);
    cr_assert_eq(res.body_len, 0);

    crm_health_stop(&health);
    cr_assert_null(health);
    crm_health_stop(&health);
}

Test(crm_health, readyz_follows_the_callback)
{
    t_ready_t state = { .ready = false };
    crm_health_t *health = t_start(NULL, t_ready, &state);
    uint16_t port = crm_health_port(health);
    t_response_t res;
    t_get(port, "GET", "/readyz", &res);
    cr_assert_eq(res.status, 503);
    t_assert_header(&res, "Content-Type", "application/json");
    json_t *doc = t_json_body(&res, "status", "not ready");
    json_t *reason = json_object_get(doc, "reason");
    cr_assert(json_is_string(reason));
    cr_assert_str_eq(json_string_value(reason), "store \"contacts\" not open??yet?");
    json_decref(doc);

    atomic_store(&state.ready, true);
    t_get(port, "GET", "/readyz", &res);
    cr_assert_eq(res.status, 200);
    doc = t_json_body(&res, "status", "ready");
    cr_assert_null(json_object_get(doc, "reason"));
    json_decref(doc);
    cr_assert_eq(atomic_load(&state.calls), 2);

    /* /healthz never asks the callback. */
    atomic_store(&state.ready, false);
    t_get(port, "GET", "/healthz", &res);
    cr_assert_eq(res.status, 200);
    cr_assert_eq(atomic_load(&state.calls), 2);
    crm_health_stop(&health);

    /* Without a callback the service is ready. */
    health = t_start(NULL, NULL, NULL);
    t_get(crm_health_port(health), "GET", "/readyz", &res);
    cr_assert_eq(res.status, 200);
    json_decref(t_json_body(&res, "status", "ready"));
    crm_health_stop(&health);
}

Test(crm_health, metrics_renders_the_registry)
{
    crm_metrics_t *reg = NULL;
    cr_assert_eq(crm_metrics_new(&reg), 0);
    crm_metrics_counter_t *counter = NULL;
    cr_assert_eq(crm_metrics_counter(reg, "crm_rpc_requests_total", "RPC requests.",
                                     "method=\"contacts.Get\"", &counter), 0);
    crm_metrics_counter_add(counter, 3);
    crm_health_t *health = t_start(reg, NULL, NULL);
    t_response_t res;
    t_get(crm_health_port(health), "GET", "/metrics", &res);
    cr_assert_eq(res.status, 200);
    char type[256];
    cr_assert_not_null(t_header(&res, "Content-Type", type, sizeof type));
    cr_assert_eq(strncmp(type, "text/plain; version=0.0.4", 25), 0, "content type %s", type);
    char *want = NULL;
    cr_assert_eq(crm_metrics_render(reg, &want, NULL), 0);
    cr_assert_str_eq(res.body, want);
    cr_assert_not_null(strstr(res.body, "crm_rpc_requests_total{method=\"contacts.Get\"} 3\n"));
    free(want);

    /* Updates show on the next scrape. */
    crm_metrics_counter_inc(counter);
    t_get(crm_health_port(health), "GET", "/metrics", &res);
    cr_assert_not_null(strstr(res.body, "crm_rpc_requests_total{method=\"contacts.Get\"} 4\n"));
    crm_health_stop(&health);
    crm_metrics_destroy(&reg);

    /* No registry: no metrics route. */
    health = t_start(NULL, NULL, NULL);
    t_get(crm_health_port(health), "GET", "/metrics", &res);
    cr_assert_eq(res.status, 404);
    crm_health_stop(&health);
}

Test(crm_health, unknown_paths_and_methods_get_problems)
{
    crm_health_t *health = t_start(NULL, NULL, NULL);
    uint16_t port = crm_health_port(health);
    const char *paths[] = { "/", "/nope", "/healthz/", "/HEALTHZ", "/metrics/x" };
    t_response_t res;
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        t_get(port, "GET", paths[i], &res);
        cr_assert_eq(res.status, 404, "%s gave %d", paths[i], res.status);
        t_assert_header(&res, "Content-Type", "application/problem+json");
        json_t *doc = t_json_body(&res, "title", "Not Found");
        cr_assert_eq(json_integer_value(json_object_get(doc, "status")), 404);
        json_decref(doc);
    }
    const char *requests[] = {
        "POST /healthz HTTP/1.0\r\nContent-Length: 5\r\n\r\nhello",
        "DELETE /metrics HTTP/1.0\r\n\r\n",
        "PUT /nope HTTP/1.0\r\nContent-Length: 0\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof requests / sizeof requests[0]; i++) {
        cr_assert_eq(t_request_raw(port, false, requests[i], &res), 0);
        cr_assert_eq(res.status, 405, "request %zu gave %d", i, res.status);
        t_assert_header(&res, "Allow", "GET, HEAD");
        t_assert_header(&res, "Content-Type", "application/problem+json");
        json_t *doc = t_json_body(&res, "title", "Method Not Allowed");
        cr_assert_eq(json_integer_value(json_object_get(doc, "status")), 405);
        json_decref(doc);
    }
    /* Garbage is refused by MHD itself (closed, or a 4xx) and the server lives on. */
    cr_assert_eq(t_request_raw(port, false, "NONSENSE\r\n\r\n", &res), 0);
    cr_assert(res.status == 0 || res.status >= 400, "garbage gave %d", res.status);
    t_get(port, "GET", "/healthz", &res);
    cr_assert_eq(res.status, 200);
    crm_health_stop(&health);
}

Test(crm_health, ports_taken_and_bad_addresses)
{
    crm_health_t *first = t_start(NULL, NULL, NULL);
    crm_health_t *second = t_start(NULL, NULL, NULL);
    cr_assert_neq(crm_health_port(first), crm_health_port(second));

    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%u", crm_health_port(first));
    crm_health_t *third = (crm_health_t *) 1;
    cr_assert_eq(crm_health_start(addr, NULL, NULL, NULL, &third), CRM_EIO);
    cr_assert_null(third);

    const char *bad[] = { "", "nonsense", "127.0.0.1", "127.0.0.1:99999", "300.1.1.1:80",
                          "example.invalid:80", "[::1", "127.0.0.1:http", "192.0.2.1:0" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(crm_health_start(bad[i], NULL, NULL, NULL, &third), CRM_ECONFIG, "%s",
                     bad[i]);
    cr_assert_eq(crm_health_start(NULL, NULL, NULL, NULL, &third), CRM_ECONFIG);

    /* Once stopped, the port is closed and free again. */
    uint16_t port = crm_health_port(first);
    crm_health_stop(&first);
    t_response_t res;
    cr_assert_eq(t_request_raw(port, false, "GET /healthz HTTP/1.0\r\n\r\n", &res), -1);
    cr_assert_eq(crm_health_start(addr, NULL, NULL, NULL, &third), 0);
    cr_assert_eq(crm_health_port(third), port);
    crm_health_stop(&third);
    crm_health_stop(&second);
}

Test(crm_health, localhost_and_ipv6)
{
    crm_health_t *health = NULL;
    cr_assert_eq(crm_health_start("localhost:0", NULL, NULL, NULL, &health), 0);
    t_response_t res;
    t_get(crm_health_port(health), "GET", "/healthz", &res);
    cr_assert_eq(res.status, 200);
    crm_health_stop(&health);

    int rc = crm_health_start("[::1]:0", NULL, NULL, NULL, &health);
    if (rc == CRM_ECONFIG)
        cr_skip_test("no IPv6 loopback here");
    cr_assert_eq(rc, 0);
    cr_assert_eq(t_request_raw(crm_health_port(health), true,
                               "GET /healthz HTTP/1.0\r\n\r\n", &res), 0);
    cr_assert_eq(res.status, 200);
    crm_health_stop(&health);
}

typedef struct {
    uint16_t port;
    int status;
} t_client_t;

static void *
t_slow_client(void *arg)
{
    t_client_t *client = arg;
    t_response_t *res = malloc(sizeof *res);
    if (t_request_raw(client->port, false, "GET /readyz HTTP/1.0\r\n\r\n", res) == 0)
        client->status = res->status;
    free(res);
    return NULL;
}

static long long
t_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

Test(crm_health, slow_readiness_does_not_block_healthz)
{
    t_ready_t state = { .ready = true, .delay_ms = T_SLOW_READY_MS };
    crm_health_t *health = t_start(NULL, t_ready, &state);
    t_client_t client = { .port = crm_health_port(health) };
    pthread_t thread;
    cr_assert_eq(pthread_create(&thread, NULL, t_slow_client, &client), 0);
    while (atomic_load(&state.calls) == 0)
        usleep(1000);
    long long start = t_now_ms();
    t_response_t res;
    t_get(crm_health_port(health), "GET", "/healthz", &res);
    long long took = t_now_ms() - start;
    cr_assert_eq(res.status, 200);
    cr_assert_lt(took, T_SLOW_READY_MS / 2, "/healthz waited %lld ms for /readyz", took);
    pthread_join(thread, NULL);
    cr_assert_eq(client.status, 200);
    crm_health_stop(&health);
}
