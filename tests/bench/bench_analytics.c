/* bench_analytics.c: events folded into the figures per second (beside the foundation's outbox rate), and the latency of summary queries over 100,000 customers and 1,000,000 events; the bench acts as contacts, loyalty and feedback. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../integration/analytics/analytics_publishers.h"
#include "crm/v1/contacts.pb-c.h"
#include "crm/v1/feedback.pb-c.h"
#include "crm/v1/loyalty.pb-c.h"
#include "crm_outbox_rate.h"

#define CUSTOMERS 100000
#define EVENTS 1000000            /* loaded before analytics starts, then folded by replay */
#define LIVE_EVENTS 100000        /* appended while analytics runs, folded live */
#define OUTBOX_EVENTS 100000
#define SPAN_DAYS 730             /* 2023-07-01 .. 2025-06-30 */
#define QUERIES 30                /* per kind of query */
#define WAIT_MS (15 * 60 * 1000)
#define PROGRESS_MS 2000
#define OWNERS 20
#define DAY_US (INT64_C(86400) * 1000000)

static crm_suite_t suite;
static ap_t ap;
static ap_batch_t batches[AP_COUNT];
static char ids[CUSTOMERS][CRM_ID_SIZE];
static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t appended;

static uint64_t s_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static long long s_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long) ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static ap_batch_t *s_batch(crm_service_id_t id)
{
    for (int i = 0; i < AP_COUNT; i++)
        if (ap_ids[i] == id)
            return &batches[i];
    return NULL;
}

static void s_add(crm_service_id_t id, const char *type, const char *subject, int64_t time_us,
                  const ProtobufCMessage *msg)
{
    ap_add(s_batch(id), type, subject, time_us, msg);
    appended++;
}

static Crm__V1__Timestamp *s_ts(Crm__V1__Timestamp *ts, int64_t us)
{
    crm__v1__timestamp__init(ts);
    ts->seconds = us / 1000000;
    ts->nanos = (int32_t) (us % 1000000) * 1000;
    return ts;
}

static char s_owners[OWNERS][16];
static char s_refs[8][32];

static void s_created(int c, int64_t at)
{
    Crm__V1__Timestamp ts;
    Crm__V1__Customer cust = CRM__V1__CUSTOMER__INIT;
    cust.id = ids[c];
    cust.name = "Bench";
    cust.owner = s_owners[c % OWNERS];
    cust.need_type = (Crm__V1__NeedType) (1 + c % 3);
    cust.created_at = s_ts(&ts, at);
    Crm__V1__CustomerCreated m = CRM__V1__CUSTOMER_CREATED__INIT;
    m.customer = &cust;
    s_add(CRM_SVC_CONTACTS, "crm.contacts.customer.created.v1", ids[c], at, &m.base);
}

static void s_purchase(int c, uint64_t n, int64_t at, int64_t amount, const char *currency, int64_t refunded,
                       int64_t refund_at)
{
    snprintf(s_refs[0], sizeof s_refs[0], "P%llu", (unsigned long long) n);
    snprintf(s_refs[1], sizeof s_refs[1], "R%llu", (unsigned long long) n);
    Crm__V1__Timestamp ts, rts;
    Crm__V1__Purchase p = CRM__V1__PURCHASE__INIT;
    p.id = s_refs[0];
    p.customer_id = ids[c];
    p.order_id = s_refs[0];
    p.amount_minor = amount;
    p.currency = (char *) currency;
    p.purchased_at = s_ts(&ts, at);
    if (!refunded) {
        Crm__V1__PurchaseRecorded m = CRM__V1__PURCHASE_RECORDED__INIT;
        m.purchase = &p;
        s_add(CRM_SVC_CONTACTS, "crm.contacts.purchase.recorded.v1", ids[c], at, &m.base);
        return;
    }
    p.refunded_minor = refunded;
    Crm__V1__Refund r = CRM__V1__REFUND__INIT;
    r.id = s_refs[1];
    r.amount_minor = refunded;
    r.refunded_at = s_ts(&rts, refund_at);
    Crm__V1__PurchaseRefunded m = CRM__V1__PURCHASE_REFUNDED__INIT;
    m.purchase = &p;
    m.refund = &r;
    s_add(CRM_SVC_CONTACTS, "crm.contacts.purchase.refunded.v1", ids[c], refund_at, &m.base);
}

static void s_interaction(int c, uint64_t n, int64_t at)
{
    snprintf(s_refs[2], sizeof s_refs[2], "I%llu", (unsigned long long) n);
    Crm__V1__Timestamp ts;
    Crm__V1__Interaction i = CRM__V1__INTERACTION__INIT;
    i.id = s_refs[2];
    i.customer_id = ids[c];
    i.channel = CRM__V1__CHANNEL__CHANNEL_CHAT;
    i.occurred_at = s_ts(&ts, at);
    Crm__V1__InteractionLogged m = CRM__V1__INTERACTION_LOGGED__INIT;
    m.interaction = &i;
    s_add(CRM_SVC_CONTACTS, "crm.contacts.interaction.logged.v1", ids[c], at, &m.base);
}

static void s_earn(int c, int64_t points, int64_t at)
{
    Crm__V1__Timestamp ts;
    Crm__V1__LedgerEntry e = CRM__V1__LEDGER_ENTRY__INIT;
    e.customer_id = ids[c];
    e.kind = CRM__V1__ENTRY_KIND__ENTRY_KIND_EARN;
    e.points = points;
    e.time = s_ts(&ts, at);
    Crm__V1__PointsChanged m = CRM__V1__POINTS_CHANGED__INIT;
    m.entry = &e;
    s_add(CRM_SVC_LOYALTY, "crm.loyalty.points.earned.v1", ids[c], at, &m.base);
}

static void s_tier(int c, int64_t at)
{
    Crm__V1__TierChanged m = CRM__V1__TIER_CHANGED__INIT;
    m.customer_id = ids[c];
    m.from_tier = "bronze";
    m.to_tier = c % 2 ? "silver" : "gold";
    m.change = CRM__V1__TIER_CHANGE__TIER_CHANGE_UPGRADE;
    s_add(CRM_SVC_LOYALTY, "crm.loyalty.tier.changed.v1", ids[c], at, &m.base);
}

static void s_answer(int c, uint64_t n, int64_t at)
{
    snprintf(s_refs[3], sizeof s_refs[3], "A%llu", (unsigned long long) n);
    Crm__V1__Timestamp ts;
    Crm__V1__Answer a = CRM__V1__ANSWER__INIT;
    a.id = s_refs[3];
    a.customer_id = ids[c];
    a.survey_kind = (Crm__V1__SurveyKind) (1 + s_rand() % 3);
    a.score = (int32_t) (a.survey_kind == CRM__V1__SURVEY_KIND__SURVEY_KIND_NPS ? s_rand() % 11
                         : a.survey_kind == CRM__V1__SURVEY_KIND__SURVEY_KIND_CSAT ? 1 + s_rand() % 5 : 1 + s_rand() % 7);
    a.answered_at = s_ts(&ts, at);
    Crm__V1__AnswerReceived m = CRM__V1__ANSWER_RECEIVED__INIT;
    m.answer = &a;
    s_add(CRM_SVC_FEEDBACK, "crm.feedback.answer.received.v1", ids[c], at, &m.base);
}

static void s_complaint(int c, uint64_t n, int64_t at, bool resolved)
{
    snprintf(s_refs[4], sizeof s_refs[4], "K%llu", (unsigned long long) n);
    Crm__V1__Timestamp t1, t2, t3;
    Crm__V1__Complaint k = CRM__V1__COMPLAINT__INIT;
    k.id = s_refs[4];
    k.customer_id = ids[c];
    k.created_at = s_ts(&t1, at);
    k.status = CRM__V1__COMPLAINT_STATUS__COMPLAINT_STATUS_OPEN;
    k.version = 1;
    int64_t when = at;
    if (resolved) {
        int64_t frs = 3600 * (int64_t) (1 + n % 48), rs = 86400 * (int64_t) (1 + n % 10);
        k.status = CRM__V1__COMPLAINT_STATUS__COMPLAINT_STATUS_RESOLVED;
        k.version = 4;
        k.first_response_at = s_ts(&t2, at + frs * 1000000);
        k.first_response_seconds = frs;
        k.resolved_at = s_ts(&t3, at + rs * 1000000);
        k.resolution_seconds = rs;
        k.resolved_at_first_contact = n % 3 == 0;
        k.first_response_breached = frs > 24 * 3600;
        when = at + rs * 1000000;
    }
    Crm__V1__ComplaintChanged m = CRM__V1__COMPLAINT_CHANGED__INIT;
    m.complaint = &k;
    s_add(CRM_SVC_FEEDBACK, resolved ? "crm.feedback.complaint.resolved.v1" : "crm.feedback.complaint.opened.v1",
          ids[c], when, &m.base);
}

/* The whole history: per customer a creation, ~4.5 orders, some refunds, answers, complaints,
 * points and tier changes; then interactions up to `total` events. */
static void s_history(int64_t start_us, uint64_t total)
{
    uint64_t n = 0;
    long long last = crm_test_now_ms();
    int64_t end = start_us + SPAN_DAYS * DAY_US;
    for (int c = 0; c < CUSTOMERS; c++) {
        int64_t at = start_us + (int64_t) (s_rand() % 600) * DAY_US + (int64_t) (s_rand() % 86400) * 1000000;
        s_created(c, at);
        int orders = 1 + (int) (s_rand() % 8);
        for (int k = 0; k < orders && at < end; k++) {
            at += (int64_t) (5 + s_rand() % 110) * DAY_US;
            if (at >= end)
                break;
            int64_t amount = 1000 + (int64_t) (s_rand() % 49000);
            bool refund = s_rand() % 22 == 0;
            s_purchase(c, ++n, at, amount, s_rand() % 20 ? "CNY" : "USD", 0, 0);
            if (refund)
                s_purchase(c, n, at, amount, "CNY", amount / 2, at + 3 * DAY_US);
            if (s_rand() % 3 == 0)
                s_earn(c, amount / 100, at);
        }
        int answers = (int) (s_rand() % 4);
        for (int a = 0; a < answers; a++)
            s_answer(c, ++n, start_us + (int64_t) (s_rand() % SPAN_DAYS) * DAY_US);
        if (c % 4 == 0) {
            int64_t k_at = start_us + (int64_t) (s_rand() % (SPAN_DAYS - 20)) * DAY_US;
            s_complaint(c, ++n, k_at, false);
            s_complaint(c, n, k_at, true);
        }
        if (c % 10 == 0)
            s_tier(c, start_us + (int64_t) (s_rand() % SPAN_DAYS) * DAY_US);
        if (crm_test_now_ms() - last > PROGRESS_MS) {
            last = crm_test_now_ms();
            printf("  loading: %d customers, %llu events\n", c, (unsigned long long) appended);
            fflush(stdout);
        }
    }
    while (appended < total) {
        int c = (int) (s_rand() % CUSTOMERS);
        s_interaction(c, ++n, start_us + (int64_t) (s_rand() % SPAN_DAYS) * DAY_US);
    }
    for (int i = 0; i < AP_COUNT; i++)
        ap_flush(&batches[i]);
}

/* Events applied so far: the sum of analytics' cursors (status through the gateway). */
static uint64_t s_folded(void)
{
    crm_http_response_t r;
    crm_suite_http(&suite, "GET", "/v1/analytics/status", CRM_SUITE_ADMIN_KEY, NULL, NULL, &r);
    uint64_t sum = 0;
    if (r.status == 200) {
        json_t *json = crm_http_json(&r);
        json_t *cursors = json_object_get(json, "cursors");
        for (size_t i = 0; i < json_array_size(cursors); i++) {
            json_t *seq = json_object_get(json_array_get(cursors, i), "sequence");
            sum += json_is_string(seq) ? strtoull(json_string_value(seq), NULL, 10) : 0;
        }
        json_decref(json);
    }
    crm_http_response_clear(&r);
    return sum;
}

static uint64_t s_heads(void)
{
    uint64_t sum = 0;
    for (int i = 0; i < AP_COUNT; i++)
        sum += ap_head(&ap, ap_ids[i]);
    return sum;
}

/* Waits until analytics has applied `target` events; prints progress. Returns the time it took, in
 * seconds, or -1. */
static double s_wait(uint64_t target, uint64_t from, long long t0)
{
    long long deadline = crm_test_now_ms() + WAIT_MS;
    long long last = 0;
    while (crm_test_now_ms() < deadline) {
        uint64_t done = s_folded();
        if (done >= target)
            return (double) (s_now_us() - t0) / 1e6;
        if (crm_test_now_ms() - last >= PROGRESS_MS) {
            last = crm_test_now_ms();
            double s = (double) (s_now_us() - t0) / 1e6;
            printf("  folded %llu of %llu events (%.0f events/s so far)\n", (unsigned long long) (done - from),
                   (unsigned long long) (target - from), s > 0 ? (double) (done - from) / s : 0.0);
            fflush(stdout);
        }
        usleep(200 * 1000);
    }
    return -1;
}

static int s_cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *) a, y = *(const long long *) b;
    return x < y ? -1 : x > y;
}

/* Times QUERIES requests of path (after a warm-up); writes p50 and p99 in ms. */
static void s_latency(const char *method, const char *path, const char *body, double *p50, double *p99)
{
    long long lat[QUERIES];
    for (int i = -1; i < QUERIES; i++) {
        crm_http_response_t r;
        long long t = s_now_us();
        crm_suite_http(&suite, method, path, CRM_SUITE_ADMIN_KEY, body, NULL, &r);
        long long dt = s_now_us() - t;
        if (r.status != 200) {
            fprintf(stderr, "bench_analytics: %s %s: %ld %s\n", method, path, r.status, r.body);
            exit(1);
        }
        crm_http_response_clear(&r);
        if (i >= 0)
            lat[i] = dt;
    }
    qsort(lat, QUERIES, sizeof lat[0], s_cmp_ll);
    *p50 = (double) lat[QUERIES / 2] / 1000.0;
    *p99 = (double) lat[QUERIES - 1] / 1000.0;
}

int main(void)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    printf("bench_analytics: measuring the foundation's outbox delivery rate (%d events)...\n", OUTBOX_EVENTS);
    fflush(stdout);
    double outbox = crm_outbox_rate_delivery(OUTBOX_EVENTS);

    crm_suite_init(&suite);
    ap_env(&suite, "CRM_ANALYTICS_RISK_INTERVAL", "0");
    ap_env(&suite, "CRM_ANALYTICS_RFM_INTERVAL", "0");
    ap_env(&suite, "CRM_GATEWAY_RPC_TIMEOUT", "120s");
    ap_start(&ap, &suite, true);
    for (int i = 0; i < AP_COUNT; i++) {
        batches[i].ap = &ap;
        batches[i].pub = &ap.pubs[i];
    }
    for (int i = 0; i < OWNERS; i++)
        snprintf(s_owners[i], sizeof s_owners[i], "owner%02d", i);
    for (int c = 0; c < CUSTOMERS; c++)
        if (crm_id_next(ap.ids, ids[c]) != 0)
            return 1;
    int64_t start = 0;
    crm_time_parse_us("2023-07-01T00:00:00Z", &start);
    printf("loading %d events about %d customers into the publishers' outboxes...\n", EVENTS, CUSTOMERS);
    fflush(stdout);
    long long load0 = s_now_us();
    s_history(start, EVENTS);
    printf("  loaded %llu events in %.1f s (contacts %llu, loyalty %llu, feedback %llu)\n",
           (unsigned long long) appended, (double) (s_now_us() - load0) / 1e6,
           (unsigned long long) ap_head(&ap, CRM_SVC_CONTACTS), (unsigned long long) ap_head(&ap, CRM_SVC_LOYALTY),
           (unsigned long long) ap_head(&ap, CRM_SVC_FEEDBACK));

    /* Replay: analytics starts behind by the whole history and folds it. */
    long long t0 = s_now_us();
    crm_suite_start(&suite, CRM_SVC_ANALYTICS);
    crm_suite_start(&suite, CRM_SVC_GATEWAY);
    double replay_s = s_wait(s_heads(), 0, t0);
    if (replay_s < 0) {
        fprintf(stderr, "bench_analytics: the history was not folded in time; see %s\n", suite.log);
        return 1;
    }
    double replay_rate = (double) EVENTS / replay_s;

    /* Live: more events appended while analytics runs, as fast as the publishers commit them. */
    uint64_t before = s_folded();
    uint64_t live_target = appended + LIVE_EVENTS;
    long long t1 = s_now_us();
    while (appended < live_target) {
        int c = (int) (s_rand() % CUSTOMERS);
        int64_t at = start + (int64_t) (s_rand() % SPAN_DAYS) * DAY_US;
        if (s_rand() % 2)
            s_purchase(c, 10000000 + appended, at, 1000 + (int64_t) (s_rand() % 9000), "CNY", 0, 0);
        else
            s_answer(c, 10000000 + appended, at);
        if (appended % AP_BATCH == 0)
            for (int i = 0; i < AP_COUNT; i++)
                ap_flush(&batches[i]);
    }
    for (int i = 0; i < AP_COUNT; i++)
        ap_flush(&batches[i]);
    double live_s = s_wait(s_heads(), before, t1);
    double live_rate = live_s > 0 ? (double) LIVE_EVENTS / live_s : 0;

    /* RFM over the base, then queries. */
    long long r0 = s_now_us();
    crm_http_response_t r;
    crm_suite_http(&suite, "POST", "/v1/analytics/rfm/recompute", CRM_SUITE_ADMIN_KEY,
                   "{\"asOf\":\"2025-06-30T12:00:00Z\"}", NULL, &r);
    double rfm_s = (double) (s_now_us() - r0) / 1e6;
    if (r.status != 200)
        fprintf(stderr, "bench_analytics: RFM run: %ld %s\n", r.status, r.body);
    crm_http_response_clear(&r);
    static const struct {
        const char *name, *method, *path, *body;
    } queries[] = {
        { "summary, one year, all customers", "GET", "/v1/analytics/summary?from=2024-07-01&to=2025-06-30", NULL },
        { "summary, one quarter, all customers", "GET", "/v1/analytics/summary?from=2025-01-01&to=2025-03-31", NULL },
        { "summary, one year, one owner's customers", "GET",
          "/v1/analytics/summary?from=2024-07-01&to=2025-06-30&owner=owner07", NULL },
        { "series: NPS by month over two years", "GET",
          "/v1/analytics/series?figure=nps&granularity=month&from=2023-07-01&to=2025-06-30", NULL },
        { "series: active customers by week over two years", "GET",
          "/v1/analytics/series?figure=activeEnd&granularity=week&from=2023-07-01&to=2025-06-30", NULL },
        { "cohort table, 24 months", "GET", "/v1/analytics/cohorts?from=2023-07-01&to=2025-06-30", NULL },
    };
    size_t nq = sizeof queries / sizeof queries[0];
    double p50[8], p99[8];
    for (size_t q = 0; q < nq; q++)
        s_latency(queries[q].method, queries[q].path, queries[q].body, &p50[q], &p99[q]);
    uint64_t customers = 0;
    crm_suite_http(&suite, "GET", "/v1/analytics/status", CRM_SUITE_ADMIN_KEY, NULL, NULL, &r);
    json_t *status = crm_http_json(&r);
    json_t *cv = json_object_get(status, "customers");
    customers = json_is_string(cv) ? strtoull(json_string_value(cv), NULL, 10) : 0;
    json_decref(status);
    crm_http_response_clear(&r);

    crm_suite_destroy(&suite);
    ap_stop(&ap);

    printf("\nanalytics benchmark: %ld cores; analytics and gateway as separate processes; the bench is contacts, "
           "loyalty and feedback\n", cores);
    printf("%llu customers, %d events loaded over %d days, then %d more live\n", (unsigned long long) customers,
           EVENTS, SPAN_DAYS, LIVE_EVENTS);
    printf("%-66s %12s\n", "figure", "value");
    printf("%-66s %12.0f\n", "foundation: outbox commit + delivery, events/s (reference)", outbox);
    printf("%-66s %12.0f\n", "history replayed and folded into the figures, events/s", replay_rate);
    printf("%-66s %12.0f\n", "live events folded into the figures, events/s", live_rate);
    printf("%-66s %11.0f%%\n", "ratio replay fold / outbox rate", 100.0 * replay_rate / outbox);
    printf("%-66s %12.2f\n", "RFM run over every customer, s", rfm_s);
    for (size_t q = 0; q < nq; q++) {
        char label[128];
        snprintf(label, sizeof label, "%s: p50 ms", queries[q].name);
        printf("%-66s %12.2f\n", label, p50[q]);
        snprintf(label, sizeof label, "%s: p99 ms", queries[q].name);
        printf("%-66s %12.2f\n", label, p99[q]);
    }
    return 0;
}
