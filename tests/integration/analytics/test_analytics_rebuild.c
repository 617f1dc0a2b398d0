/* test_analytics_rebuild.c: the data set fed publisher by publisher in reverse order (feedback, then loyalty, then contacts), then rebuilt from sequence 0: every figure and every customer's scores are the same, and the rebuild publishes nothing again. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics_dataset.h"
#include "crm_suite.h"

#define ADMIN CRM_SUITE_ADMIN_KEY
#define FOLD_WAIT_MS 30000
#define SETTLE_MS 2500           /* the risk job (every 1 s, no settling) has evaluated everyone */
#define EVENTS_MAX 256

static crm_suite_t suite;
static ap_t ap;
static ap_batch_t batch;

static void s_setup(void)
{
    crm_suite_init(&suite);
    ap_env(&suite, "CRM_ANALYTICS_TICK", "100ms");
    ap_env(&suite, "CRM_ANALYTICS_RISK_INTERVAL", "1s");
    ap_env(&suite, "CRM_ANALYTICS_SETTLE", "0");
    ap_env(&suite, "CRM_ANALYTICS_RFM_INTERVAL", "0");
    ap_start(&ap, &suite, false);
    memset(&batch, 0, sizeof batch);
    batch.ap = &ap;
    crm_suite_start(&suite, CRM_SVC_ANALYTICS);
    crm_suite_start(&suite, CRM_SVC_GATEWAY);
}

static void s_teardown(void)
{
    crm_suite_destroy(&suite);
    ap_stop(&ap);
    crm_test_check_leaks();
}

TestSuite(analytics_rebuild, .init = s_setup, .fini = s_teardown, .timeout = 240);

static char *s_get_text(const char *path)
{
    crm_http_response_t r;
    crm_suite_http(&suite, "GET", path, ADMIN, NULL, NULL, &r);
    cr_assert_eq(r.status, 200, "GET %s: %ld %s", path, r.status, r.body);
    json_t *json = crm_http_json(&r);
    crm_http_response_clear(&r);
    char *text = json_dumps(json, JSON_SORT_KEYS | JSON_INDENT(1));
    json_decref(json);
    return text;
}

/* Every figure the service answers, as one text: summaries (all, per segment), series, cohorts,
 * the RFM distribution as of a fixed time, and each customer's scores as of fixed times. */
static char *s_snapshot(void)
{
    static const char *const paths[] = {
        "/v1/analytics/summary?from=2025-01-01&to=2025-03-31",
        "/v1/analytics/summary?from=2024-07-01&to=2024-09-30",
        "/v1/analytics/summary?from=2024-01-01&to=2025-06-30",
        "/v1/analytics/summary?from=2025-01-01&to=2025-03-31&owner=ann",
        "/v1/analytics/summary?from=2025-01-01&to=2025-03-31&tier=gold",
        "/v1/analytics/summary?from=2025-01-01&to=2025-03-31&needType=price_sensitive",
        "/v1/analytics/series?figure=nps&granularity=month&from=2024-01-01&to=2025-06-30",
        "/v1/analytics/series?figure=activeEnd&granularity=week&from=2024-01-01&to=2025-06-30",
        "/v1/analytics/series?figure=outstandingPoints&granularity=day&from=2025-01-01&to=2025-03-31",
        "/v1/analytics/cohorts?from=2024-01-01&to=2025-06-30",
    };
    size_t cap = 1 << 20, len = 0;
    char *out = malloc(cap);
    out[0] = '\0';
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        char *text = s_get_text(paths[i]);
        len += (size_t) snprintf(out + len, cap - len, "%s\n%s\n", paths[i], text);
        free(text);
    }
    crm_http_response_t r;
    crm_suite_http(&suite, "POST", "/v1/analytics/rfm/recompute", ADMIN, "{\"asOf\":\"2025-04-20T12:00:00Z\"}", NULL, &r);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    len += (size_t) snprintf(out + len, cap - len, "rfm\n%s\n", r.body);
    crm_http_response_clear(&r);
    static const char *const times[] = { "2024-12-31T12:00:00Z", "2025-04-20T12:00:00Z", "2025-06-30T12:00:00Z" };
    for (int c = 1; c <= DS_CUSTOMERS; c++) {
        char short_id[8];
        snprintf(short_id, sizeof short_id, "C%02d", c);
        for (size_t t = 0; t < sizeof times / sizeof times[0]; t++) {
            char path[256];
            snprintf(path, sizeof path, "/v1/analytics/customers/%s?asOf=%s", ds_id(short_id), times[t]);
            char *text = s_get_text(path);
            len += (size_t) snprintf(out + len, cap - len, "%s\n%s\n", path, text);
            free(text);
        }
    }
    cr_assert_lt(len, cap - 1);
    return out;
}

static size_t s_count(const char *type)
{
    Crm__V1__Event *events[EVENTS_MAX];
    size_t n = crm_suite_events(&suite, CRM_SVC_ANALYTICS, type, events, EVENTS_MAX);
    for (size_t i = 0; i < n; i++)
        crm_event_destroy(&events[i]);
    return n;
}

Test(analytics_rebuild, rebuilt_figures_equal_the_incremental_ones)
{
    /* Incremental, in an order no replay would take: feedback first, contacts last. */
    batch.pub = ap_pub(&ap, CRM_SVC_FEEDBACK);
    ds_feedback(&batch);
    cr_assert(ap_wait_folded(&ap, &suite, ADMIN, 0, FOLD_WAIT_MS), "feedback not folded; see %s", suite.log);
    batch.pub = ap_pub(&ap, CRM_SVC_LOYALTY);
    ds_loyalty(&batch);
    cr_assert(ap_wait_folded(&ap, &suite, ADMIN, 0, FOLD_WAIT_MS), "loyalty not folded; see %s", suite.log);
    batch.pub = ap_pub(&ap, CRM_SVC_CONTACTS);
    ds_contacts(&batch);
    cr_assert(ap_wait_folded(&ap, &suite, ADMIN, 0, FOLD_WAIT_MS), "contacts not folded; see %s", suite.log);
    usleep(SETTLE_MS * 1000);
    char *incremental = s_snapshot();
    /* The figures are those worked out by hand (test_analytics_dataset.c), in this order too. */
    cr_assert(strstr(incremental, "\"outstandingPoints\": \"1905\""), "%.2000s", incremental);
    cr_assert(strstr(incremental, "\"lapsed\": \"2\""));
    size_t risks = s_count("crm.analytics.customer.churn_risk.v1");
    size_t stages = s_count("crm.analytics.customer.stage_changed.v1");
    size_t segments = s_count("crm.analytics.customer.segment_changed.v1");
    cr_assert_gt(stages, 0, "the data set's customers are churned by now");
    cr_assert_gt(segments, 0);

    crm_http_response_t r;
    crm_suite_http(&suite, "POST", "/v1/analytics/rebuild", ADMIN, "{}", NULL, &r);
    cr_assert_eq(r.status, 202, "%ld %s", r.status, r.body);
    json_t *json = crm_http_json(&r);
    cr_assert_str_eq(json_string_value(json_object_get(json, "generation")), "1");
    json_decref(json);
    crm_http_response_clear(&r);
    cr_assert(ap_wait_folded(&ap, &suite, ADMIN, 1, FOLD_WAIT_MS), "the rebuild did not finish; see %s", suite.log);
    json = NULL;
    crm_suite_http(&suite, "GET", "/v1/analytics/status", ADMIN, NULL, NULL, &r);
    json = crm_http_json(&r);
    cr_assert_str_eq(json_string_value(json_object_get(json, "generation")), "1");
    cr_assert_not_null(json_object_get(json, "rebuiltAt"));
    json_decref(json);
    crm_http_response_clear(&r);
    usleep(SETTLE_MS * 1000);
    char *rebuilt = s_snapshot();
    cr_assert_str_eq(rebuilt, incremental);
    /* What was published before is not published again. */
    cr_assert_eq(s_count("crm.analytics.customer.churn_risk.v1"), risks);
    cr_assert_eq(s_count("crm.analytics.customer.stage_changed.v1"), stages);
    cr_assert_eq(s_count("crm.analytics.customer.segment_changed.v1"), segments);
    free(incremental);
    free(rebuilt);
}
