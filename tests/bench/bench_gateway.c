/* bench_gateway.c: HTTP figures of the suite: ingest through POST /v1/events and GET /v1/contacts/{id}, against libmicrohttpd answering a fixed body. */
#include <jansson.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crm_load.h"
#include "crm_suite.h"

#define CUSTOMERS 1000
#define GET_CONNECTIONS 64
#define INGEST_CONNECTIONS 8
#define INGEST_BATCH 100
#define INGEST_POOL 8000               /* prepared requests per run: 800,000 events, more than a run takes */
#define INGEST_REQUEST_MAX (48 * 1024)
#define WARMUP_MS 1000
#define RUN_MS 5000
#define RUNS 3
#define GET_TARGET 0.40
#define INGEST_TARGET 50000.0

/* A reply body the size of a typical customer record. */
static const char fixed_body[] =
    "{\"id\":\"01JDX5Q6Y8M3TZ0AB1C2D3E4F5\",\"name\":\"Li Wei\",\"email\":\"li.wei@example.com\","
    "\"phone\":\"+8613800138000\",\"tags\":[\"vip\",\"newsletter\"],\"valueTier\":\"high\","
    "\"needType\":\"quality_seeking\",\"lifecycleStage\":\"repeat\",\"locale\":\"zh-CN\","
    "\"createdAt\":\"2026-11-23T10:00:00Z\",\"updatedAt\":\"2026-11-23T10:00:00Z\",\"version\":\"3\","
    "\"purchaseCount\":4,\"consent\":{\"email\":\"granted\",\"sms\":\"withdrawn\"}}";

static enum MHD_Result s_fixed(void *cls, struct MHD_Connection *connection, const char *url,
                               const char *method, const char *version, const char *upload_data,
                               size_t *upload_data_size, void **req_cls)
{
    /* The first call only sees the headers: answering then makes libmicrohttpd close the
     * connection after the response, so answer on the second call, as the gateway does. */
    static const int seen = 1;
    if (!*req_cls) {
        *req_cls = (void *) &seen;
        return MHD_YES;
    }
    struct MHD_Response *response = MHD_create_response_from_buffer(
        sizeof fixed_body - 1, (void *) fixed_body, MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(response, "Content-Type", "application/json");
    enum MHD_Result ret = MHD_queue_response(connection, MHD_HTTP_OK, response);
    MHD_destroy_response(response);
    return ret;
}

typedef struct {
    int port;
    char ids[CUSTOMERS][32];
    size_t id_count;
    const char *key;
    uint64_t event_counter;
    unsigned run;
    char *pool[INGEST_POOL];             /* prepared ingest requests */
    size_t pool_len[INGEST_POOL];
    size_t pool_next;
} s_bench_t;

static size_t s_get_fixed(size_t c, uint64_t n, char *out, size_t size, void *arg)
{
    return (size_t) snprintf(out, size, "GET /v1/fixed HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
}

static size_t s_get_contact(size_t c, uint64_t n, char *out, size_t size, void *arg)
{
    s_bench_t *b = arg;
    const char *id = b->ids[(c * 7919 + n) % b->id_count];
    return (size_t) snprintf(out, size,
                             "GET /v1/contacts/%s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                             "Authorization: Bearer %s\r\n\r\n", id, b->key);
}

/* One POST /v1/events request of INGEST_BATCH new orders (ids from b->event_counter), into out. */
static size_t s_build_events(s_bench_t *b, char *out, size_t size)
{
    static char body[128 * 1024];
    size_t len = 0;
    body[len++] = '[';
    for (int i = 0; i < INGEST_BATCH; i++) {
        uint64_t e = ++b->event_counter;
        len += (size_t) snprintf(body + len, sizeof body - len,
            "%s{\"specversion\":\"1.0\",\"id\":\"r%u-e%llu\",\"source\":\"/shop/bench\","
            "\"type\":\"order.placed\",\"datacontenttype\":\"application/json\","
            "\"data\":{\"orderId\":\"r%u-o%llu\",\"customer\":{\"email\":\"c%llu@example.com\"},"
            "\"amountMinor\":\"%llu\",\"currency\":\"CNY\",\"placedAt\":\"2026-11-23T10:00:00Z\"}}",
            i ? "," : "", b->run, (unsigned long long) e, b->run, (unsigned long long) e,
            (unsigned long long) (e % 5000), (unsigned long long) (1000 + e % 90000));
    }
    body[len++] = ']';
    return (size_t) snprintf(out, size,
                             "POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
                             "Content-Type: application/cloudevents-batch+json\r\nContent-Length: %zu\r\n\r\n%.*s",
                             b->key, len, (int) len, body);
}

/* Requests are made before the run, so that writing JSON does not take the machine's time from
 * the gateway: the load generator only copies them. */
static void s_prepare_events(s_bench_t *b)
{
    for (size_t i = 0; i < INGEST_POOL; i++) {
        char *text = malloc(INGEST_REQUEST_MAX);
        size_t len = s_build_events(b, text, INGEST_REQUEST_MAX);
        b->pool[i] = text;
        b->pool_len[i] = len;
    }
    b->pool_next = 0;
}

static void s_release_events(s_bench_t *b)
{
    for (size_t i = 0; i < INGEST_POOL; i++) {
        free(b->pool[i]);
        b->pool[i] = NULL;
    }
}

static size_t s_post_events(size_t c, uint64_t n, char *out, size_t size, void *arg)
{
    (void) c;
    (void) n;
    s_bench_t *b = arg;
    if (b->pool_next == INGEST_POOL)
        return 0;     /* all used: this connection stops */
    size_t len = b->pool_len[b->pool_next];
    if (len > size)
        return 0;
    memcpy(out, b->pool[b->pool_next++], len);
    return len;
}

static int s_cmp(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

static double s_median(double *v, double *spread)
{
    qsort(v, RUNS, sizeof *v, s_cmp);
    *spread = v[RUNS / 2] > 0 ? 100.0 * (v[RUNS - 1] - v[0]) / v[RUNS / 2] : 0;
    return v[RUNS / 2];
}

int main(void)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    static s_bench_t b;
    double ceiling[RUNS], ceiling_p99[RUNS], get[RUNS], get_p99[RUNS], ingest[RUNS];
    uint64_t errors = 0;

    /* The ceiling: the same HTTP library, a fixed body, no work. */
    int port = crm_test_free_port();
    struct MHD_Daemon *daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL_LINUX_ONLY | MHD_USE_TURBO, (uint16_t) port, NULL, NULL,
        s_fixed, NULL, MHD_OPTION_THREAD_POOL_SIZE, (unsigned) cores, MHD_OPTION_END);
    if (!daemon) {
        fprintf(stderr, "cannot start the reference server\n");
        return 1;
    }
    for (int r = 0; r < RUNS; r++) {
        crm_load_result_t res;
        crm_load_run(port, GET_CONNECTIONS, WARMUP_MS, RUN_MS, s_get_fixed, &b, &res);
        ceiling[r] = res.rps;
        ceiling_p99[r] = res.p99_ms;
    }
    MHD_stop_daemon(daemon);

    /* The suite: gateway and contacts as separate processes. */
    crm_suite_t suite;
    crm_suite_init(&suite);
    crm_suite_start(&suite, CRM_SVC_CONTACTS);
    crm_suite_start(&suite, CRM_SVC_GATEWAY);
    b.port = suite.http_port;
    b.key = CRM_SUITE_ADMIN_KEY;
    for (int i = 0; i < CUSTOMERS; i++) {
        char body[256];
        snprintf(body, sizeof body, "{\"name\":\"Customer %d\",\"email\":\"bench%d@example.com\",\"tags\":[\"bench\"]}", i, i);
        crm_http_response_t resp;
        crm_suite_http(&suite, "POST", "/v1/contacts", b.key, body, NULL, &resp);
        json_t *json = json_loadb(resp.body, resp.body_len, 0, NULL);
        json_t *customer = json_object_get(json, "customer");
        const char *id = json_string_value(json_object_get(customer ? customer : json, "id"));
        if (resp.status < 300 && id)
            snprintf(b.ids[b.id_count++], sizeof b.ids[0], "%s", id);
        json_decref(json);
        crm_http_response_clear(&resp);
    }
    if (b.id_count == 0) {
        fprintf(stderr, "could not create customers; see %s\n", suite.log);
        return 1;
    }
    /* Every GET run first: ingested events keep contacts busy applying them for a while after. */
    for (int r = 0; r < RUNS; r++) {
        crm_load_result_t res;
        crm_load_run(b.port, GET_CONNECTIONS, WARMUP_MS, RUN_MS, s_get_contact, &b, &res);
        get[r] = res.rps;
        get_p99[r] = res.p99_ms;
        errors += res.errors;
    }
    for (int r = 0; r < RUNS; r++) {
        crm_load_result_t res;
        b.run = (unsigned) r;
        s_prepare_events(&b);
        crm_load_run(b.port, INGEST_CONNECTIONS, WARMUP_MS, RUN_MS, s_post_events, &b, &res);
        s_release_events(&b);
        if (b.pool_next == INGEST_POOL)
            fprintf(stderr, "bench_gateway: the prepared ingest requests ran out; raise INGEST_POOL\n");
        ingest[r] = res.rps * INGEST_BATCH;
        errors += res.errors;
    }
    crm_suite_destroy(&suite);

    double s1, s2, s3, s4, s5;
    double c = s_median(ceiling, &s1), cp = s_median(ceiling_p99, &s2);
    double g = s_median(get, &s3), gp = s_median(get_p99, &s4);
    double in = s_median(ingest, &s5);
    printf("gateway benchmark: %ld cores, median of %d runs of %d ms, %d connections for GET, %d for ingest\n",
           cores, RUNS, RUN_MS, GET_CONNECTIONS, INGEST_CONNECTIONS);
    printf("%-58s %12s %8s %10s\n", "figure", "value", "spread", "p99 ms");
    printf("%-58s %12.0f %7.0f%% %10.2f\n", "libmicrohttpd fixed JSON body, requests/s (ceiling)", c, s1, cp);
    printf("%-58s %12.0f %7.0f%% %10.2f\n", "GET /v1/contacts/{id}, requests/s", g, s3, gp);
    printf("%-58s %11.0f%%  (target >= %.0f%%: %s)\n", "ratio GET / ceiling", 100.0 * g / c,
           100.0 * GET_TARGET, g / c >= GET_TARGET ? "met" : "NOT met");
    printf("%-58s %12.0f %7.0f%%  (target >= %.0f: %s)\n", "POST /v1/events, batches of 100, events/s", in, s5,
           INGEST_TARGET, in >= INGEST_TARGET ? "met" : "NOT met");
    (void) s2;
    (void) s4;
    printf("HTTP errors during the runs: %llu\n", (unsigned long long) errors);
    return 0;
}
