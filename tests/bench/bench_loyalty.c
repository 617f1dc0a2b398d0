/* bench_loyalty.c: purchases from an integrator's ingest to a loyalty balance updated, end to end, beside the foundation's outbox rate. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "crm/v1/ingest.pb-c.h"
#include "crm/v1/loyalty.pb-c.h"
#include "crm_bus.h"
#include "crm_codec.h"
#include "crm_error.h"
#include "crm_event.h"
#include "crm_outbox_rate.h"
#include "crm_suite.h"

#define CUSTOMERS 2000             /* made by a first order each, before measuring */
#define ORDERS 30000               /* the throughput run */
#define WINDOW 1000                /* orders sent and not yet acknowledged, at most */
#define DEFAULT_RATE 5000          /* orders per second in the latency run; the first argument overrides */
#define RATE_MAX 20000
#define RATE_SECONDS 5
#define RATE_ORDERS_MAX (RATE_MAX * RATE_SECONDS)
#define OUTBOX_EVENTS 50000
#define WAIT_MS 120000             /* the longest a run may take to be applied */
#define REPLAY_BATCH 2000
#define REPLAY_TIMEOUT_MS 5000
#define EARNED "crm.loyalty.points.earned.v1"
#define RECORDED "crm.contacts.purchase.recorded.v1"

typedef struct {
    void *zmq;
    void *ingest;                  /* DEALER to the gateway's ZeroMQ ingest */
    crm_bus_replay_client_t *replay;   /* loyalty's replay endpoint */
    uint64_t replay_after;
    uint64_t earned;               /* purchase earnings seen through replay so far */
    uint64_t sent, acked, refused;
} s_bench_t;

static long long s_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long) ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static void s_die(const char *what, const crm_suite_t *suite)
{
    fprintf(stderr, "bench_loyalty: %s (service logs: %s)\n", what, suite->log);
    exit(1);
}

/* Sends order n of customer n % CUSTOMERS over the ingest socket, without waiting. */
static int s_send_order(s_bench_t *b, uint64_t n)
{
    char id[32], order[32], email[48];
    snprintf(id, sizeof id, "e-%llu", (unsigned long long) n);
    snprintf(order, sizeof order, "SO-%llu", (unsigned long long) n);
    snprintf(email, sizeof email, "c%llu@bench.example.com", (unsigned long long) (n % CUSTOMERS));
    Crm__V1__CustomerRef ref = CRM__V1__CUSTOMER_REF__INIT;
    ref.email = email;
    Crm__V1__OrderPlaced placed = CRM__V1__ORDER_PLACED__INIT;
    placed.order_id = order;
    placed.customer = &ref;
    placed.amount_minor = (int64_t) (1000 + n % 50000);
    placed.currency = "CNY";
    uint8_t data[256], buf[512];
    Crm__V1__Event event = CRM__V1__EVENT__INIT;
    event.id = id;
    event.source = "/shop/bench";
    event.spec_version = "1.0";
    event.type = "order.placed";
    event.data.data = data;
    event.data.len = crm__v1__order_placed__pack(&placed, data);
    event.data_schema = "crm.v1.OrderPlaced";
    size_t len = crm__v1__event__pack(&event, buf);
    if (zmq_send(b->ingest, buf, len, 0) != (int) len)
        return -1;
    b->sent++;
    return 0;
}

/* Reads every acknowledgement waiting, or waits up to timeout_ms for the first. */
static void s_read_acks(s_bench_t *b, int timeout_ms)
{
    zmq_pollitem_t item = { b->ingest, 0, ZMQ_POLLIN, 0 };
    if (zmq_poll(&item, 1, timeout_ms) <= 0)
        return;
    uint8_t reply[1024];
    int n;
    while ((n = zmq_recv(b->ingest, reply, sizeof reply, ZMQ_DONTWAIT)) > 0) {
        Crm__V1__IngestResult *r = crm__v1__ingest_result__unpack(NULL, (size_t) n, reply);
        if (!r || r->outcome != CRM__V1__INGEST_RESULT__OUTCOME__OUTCOME_ACCEPTED)
            b->refused++;
        b->acked++;
        if (r)
            crm__v1__ingest_result__free_unpacked(r, NULL);
    }
}

static bool s_is_topic(const crm_bus_event_t *ev, const char *topic)
{
    return !ev->heartbeat && ev->topic_len == strlen(topic) && memcmp(ev->topic, topic, ev->topic_len) == 0;
}

/* True when the event is the earning of a purchase. */
static bool s_is_purchase_earning(const crm_bus_event_t *ev)
{
    if (!s_is_topic(ev, EARNED))
        return false;
    Crm__V1__Event *env = NULL;
    ProtobufCMessage *data = NULL;
    bool yes = crm_event_decode(ev->payload, ev->payload_len, &env) == 0
               && crm_event_data(env, &crm__v1__points_changed__descriptor, &data) == 0
               && ((Crm__V1__PointsChanged *) data)->entry
               && ((Crm__V1__PointsChanged *) data)->entry->earn_kind == CRM__V1__EARN_KIND__EARN_KIND_PURCHASE;
    crm_codec_message_free(&data);
    crm_event_destroy(&env);
    return yes;
}

/* Reads loyalty's new events through replay, counting purchase earnings. Returns 0 or a CRM_E*. */
static int s_poll_earned(s_bench_t *b)
{
    crm_bus_batch_t *batch = NULL;
    int rc = crm_bus_replay_fetch(b->replay, b->replay_after, REPLAY_BATCH, REPLAY_TIMEOUT_MS, &batch);
    if (rc)
        return rc;
    for (size_t i = 0; i < crm_bus_batch_count(batch); i++) {
        crm_bus_event_t ev;
        crm_bus_batch_event(batch, i, &ev);
        b->replay_after = ev.seq;
        b->earned += s_is_purchase_earning(&ev);
    }
    crm_bus_batch_destroy(&batch);
    return 0;
}

/* Waits until loyalty has earned for `target` purchases in all. Returns the monotonic time it was
 * seen, or -1 after WAIT_MS. */
static long long s_wait_earned(s_bench_t *b, uint64_t target)
{
    long long deadline = s_now_us() + (long long) WAIT_MS * 1000;
    while (s_now_us() < deadline) {
        s_read_acks(b, 0);
        int rc = s_poll_earned(b);
        if (rc && rc != CRM_EUNAVAIL && rc != CRM_ETIMEOUT)
            return -1;
        if (b->earned >= target)
            return s_now_us();
        if (rc)
            usleep(1000);
    }
    return -1;
}

/* Sends count orders from number first, keeping at most WINDOW unacknowledged. */
static int s_send_all(s_bench_t *b, uint64_t first, uint64_t count)
{
    for (uint64_t n = first; n < first + count; n++) {
        while (b->sent - b->acked >= WINDOW)
            s_read_acks(b, 1000);
        if (s_send_order(b, n))
            return -1;
        s_read_acks(b, 0);
    }
    return 0;
}

static int s_cmp_ll(const void *x, const void *y)
{
    long long a = *(const long long *) x, c = *(const long long *) y;
    return a < c ? -1 : a > c;
}

/* How long each stage took for each order, from its scheduled send time, in microseconds. */
typedef struct {
    long long acked[RATE_ORDERS_MAX];      /* the gateway committed it to the ingest log */
    long long recorded[RATE_ORDERS_MAX];   /* contacts published the purchase */
    long long earned[RATE_ORDERS_MAX];     /* loyalty published the earning: the balance is updated */
    size_t n_acked, n_recorded, n_earned;
} s_stages_t;

/* The latency run: `rate` orders a second on a fixed schedule; each order's latency runs from its
 * scheduled time to the moment its acknowledgement, its purchase (contacts' publisher) and its
 * earning (loyalty's publisher) arrive. Each comes in the order the orders were sent (one ingest
 * log, contacts and loyalty each apply in order), so the k-th of each is the k-th order's. */
static void s_rate_run(s_bench_t *b, const crm_suite_t *suite, uint64_t first, int rate, s_stages_t *st)
{
    static long long scheduled[RATE_ORDERS_MAX];
    const size_t orders = (size_t) rate * RATE_SECONDS;
    crm_bus_sub_t *loyalty = NULL, *contacts = NULL;
    if (crm_bus_sub_new(b->zmq, suite->pub_endpoints[CRM_SVC_LOYALTY], &loyalty)
        || crm_bus_sub_new(b->zmq, suite->pub_endpoints[CRM_SVC_CONTACTS], &contacts))
        s_die("cannot subscribe to loyalty and contacts", suite);
    usleep(300 * 1000);            /* let the subscriptions reach the publishers */
    long long start = s_now_us() + 1000;
    size_t sent = 0;
    long long deadline = start + (long long) RATE_SECONDS * 1000000 + (long long) WAIT_MS * 1000;
    while (st->n_earned < orders && s_now_us() < deadline) {
        long long now = s_now_us();
        while (sent < orders && start + (long long) sent * 1000000 / rate <= now) {
            scheduled[sent] = start + (long long) sent * 1000000 / rate;
            if (s_send_order(b, first + sent))
                s_die("ingest send failed", suite);
            sent++;
        }
        long long next = sent < orders ? start + (long long) sent * 1000000 / rate : now + 10000;
        int wait_ms = next > now ? (int) ((next - now + 999) / 1000) : 0;
        zmq_pollitem_t items[3] = { { b->ingest, 0, ZMQ_POLLIN, 0 },
                                    { crm_bus_sub_socket(contacts), 0, ZMQ_POLLIN, 0 },
                                    { crm_bus_sub_socket(loyalty), 0, ZMQ_POLLIN, 0 } };
        if (zmq_poll(items, 3, wait_ms) <= 0)
            continue;
        uint64_t before = b->acked;
        s_read_acks(b, 0);
        for (uint64_t k = before; k < b->acked && st->n_acked < sent; k++, st->n_acked++)
            st->acked[st->n_acked] = s_now_us() - scheduled[st->n_acked];
        crm_bus_event_t ev;
        while (crm_bus_sub_recv(contacts, &ev) == 0)
            if (s_is_topic(&ev, RECORDED) && st->n_recorded < sent) {
                st->recorded[st->n_recorded] = s_now_us() - scheduled[st->n_recorded];
                st->n_recorded++;
            }
        while (crm_bus_sub_recv(loyalty, &ev) == 0)
            if (s_is_purchase_earning(&ev) && st->n_earned < sent) {
                st->earned[st->n_earned] = s_now_us() - scheduled[st->n_earned];
                st->n_earned++;
            }
    }
    crm_bus_sub_destroy(&contacts);
    crm_bus_sub_destroy(&loyalty);
}

/* Prints the p50 and p99 of n latencies (sorted here), in ms, under label. */
static void s_print_marks(const char *label, int rate, long long *lat, size_t n)
{
    if (n == 0)
        return;
    qsort(lat, n, sizeof lat[0], s_cmp_ll);
    char text[112];
    snprintf(text, sizeof text, "at %d orders/s: %s, p50 / p99 ms", rate, label);
    printf("%-66s %5.2f / %5.2f\n", text, (double) lat[n / 2] / 1000.0, (double) lat[(size_t) ((double) n * 0.99)] / 1000.0);
}

int main(int argc, char **argv)
{
    int rate = argc > 1 ? atoi(argv[1]) : DEFAULT_RATE;
    if (rate <= 0 || rate > RATE_MAX) {
        fprintf(stderr, "usage: bench_loyalty [orders per second in the latency run, 1..%d]\n", RATE_MAX);
        return 2;
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    double outbox = crm_outbox_rate_delivery(OUTBOX_EVENTS);

    static s_bench_t b;
    crm_suite_t suite;
    crm_suite_init(&suite);
    crm_suite_start(&suite, CRM_SVC_CONTACTS);
    crm_suite_start(&suite, CRM_SVC_LOYALTY);
    crm_suite_start(&suite, CRM_SVC_GATEWAY);
    b.zmq = zmq_ctx_new();
    b.ingest = zmq_socket(b.zmq, ZMQ_DEALER);
    int linger = 0, hwm = 2 * WINDOW;
    zmq_setsockopt(b.ingest, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(b.ingest, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(b.ingest, ZMQ_RCVHWM, &hwm, sizeof hwm);
    if (zmq_connect(b.ingest, suite.ingest_endpoint)
        || crm_bus_replay_client_new(b.zmq, suite.replay_endpoints[CRM_SVC_LOYALTY], &b.replay))
        s_die("cannot connect", &suite);

    /* Customers first: each one's first order makes them. */
    if (s_send_all(&b, 0, CUSTOMERS) || s_wait_earned(&b, CUSTOMERS) < 0)
        s_die("the first orders were not applied", &suite);

    /* Throughput: ORDERS orders as fast as the ingest acknowledges them. */
    long long t0 = s_now_us();
    if (s_send_all(&b, CUSTOMERS, ORDERS))
        s_die("ingest send failed", &suite);
    long long acked_at = s_now_us();
    long long t1 = s_wait_earned(&b, CUSTOMERS + ORDERS);
    if (t1 < 0)
        s_die("the orders were not all applied in time", &suite);
    double ingest_rate = ORDERS / ((double) (acked_at - t0) / 1e6);
    double applied_rate = ORDERS / ((double) (t1 - t0) / 1e6);

    /* Latency at a fixed rate. */
    static s_stages_t stages;
    s_rate_run(&b, &suite, CUSTOMERS + ORDERS, rate, &stages);
    s_read_acks(&b, 100);

    crm_bus_replay_client_destroy(&b.replay);
    zmq_close(b.ingest);
    zmq_ctx_term(b.zmq);
    crm_suite_destroy(&suite);

    printf("loyalty benchmark: %ld cores; contacts, loyalty and gateway as separate processes; orders over the "
           "ZeroMQ ingest\n", cores);
    printf("%-66s %12s\n", "figure", "value");
    printf("%-66s %12.0f\n", "foundation: outbox commit + delivery, events/s (reference)", outbox);
    printf("%-66s %12.0f\n", "orders acknowledged by the ingest (committed), orders/s", ingest_rate);
    printf("%-66s %12.0f\n", "purchases applied to the ledger end to end, purchases/s", applied_rate);
    printf("%-66s %11.0f%%\n", "ratio applied / outbox rate", 100.0 * applied_rate / outbox);
    s_print_marks("ingest to balance updated", rate, stages.earned, stages.n_earned);
    s_print_marks("  of which: ingest acknowledged (committed)", rate, stages.acked, stages.n_acked);
    s_print_marks("  of which: purchase published by contacts", rate, stages.recorded, stages.n_recorded);
    printf("latency run: %zu of %d earnings seen; orders refused by the ingest: %llu\n", stages.n_earned,
           rate * RATE_SECONDS, (unsigned long long) b.refused);
    return stages.n_earned == (size_t) rate * RATE_SECONDS && b.refused == 0 ? 0 : 1;
}
