/* test_analytics_churn.c: churn warning end to end with the real contacts, analytics and gateway: a customer with regular backdated orders who stopped buying gets exactly one churn-risk event with the right reasons, and the contact's stage becomes at risk; a new order wins them back. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crm/v1/analytics.pb-c.h"
#include "crm_codec.h"
#include "crm_event.h"
#include "crm_suite.h"
#include "crm_time.h"

#define ADMIN CRM_SUITE_ADMIN_KEY
#define WAIT_MS 30000
#define POLL_MS 100
#define EVENTS_MAX 64
#define DAY_US (INT64_C(86400) * 1000000)
#define ORDERS 6                 /* every 30 days, the last one 130 days ago */
#define EMAIL "slipping.away@example.com"

static crm_suite_t suite;

static void s_env(const char *name, const char *value)
{
    size_t n = 0;
    while (suite.env[n])
        n++;
    snprintf(suite.env_text[n], CRM_SUITE_ENV_SIZE, "%s=%s", name, value);
    suite.env[n] = suite.env_text[n];
    suite.env[n + 1] = NULL;
}

static void s_setup(void)
{
    crm_suite_init(&suite);
    s_env("CRM_ANALYTICS_TICK", "200ms");
    s_env("CRM_ANALYTICS_RISK_INTERVAL", "1s");
    s_env("CRM_ANALYTICS_SETTLE", "1s");
    s_env("CRM_ANALYTICS_RFM_INTERVAL", "0");
    crm_suite_start(&suite, CRM_SVC_CONTACTS);
    crm_suite_start(&suite, CRM_SVC_ANALYTICS);
    crm_suite_start(&suite, CRM_SVC_GATEWAY);
}

static void s_teardown(void)
{
    crm_suite_destroy(&suite);
    crm_test_check_leaks();
}

TestSuite(analytics_churn, .init = s_setup, .fini = s_teardown, .timeout = 180);

/* An order.placed CloudEvent placed at placed_us. */
static void s_order(int n, int64_t placed_us)
{
    char placed[CRM_TIME_TEXT_MAX], body[1024];
    cr_assert_eq(crm_time_format_us(placed_us, placed, sizeof placed), 0);
    snprintf(body, sizeof body,
             "{\"specversion\":\"1.0\",\"id\":\"churn-%d\",\"source\":\"/shop/test\",\"type\":\"order.placed\","
             "\"data\":{\"orderId\":\"CH-%d\",\"customer\":{\"email\":\"" EMAIL "\"},\"amountMinor\":\"12000\","
             "\"currency\":\"CNY\",\"placedAt\":\"%s\"}}",
             n, n, placed);
    const char *const headers[] = { "Content-Type: application/cloudevents+json", NULL };
    crm_http_response_t r;
    crm_suite_http(&suite, "POST", "/v1/events", ADMIN, body, headers, &r);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    cr_assert(strstr(r.body, "accepted"), "%s", r.body);
    crm_http_response_clear(&r);
}

static json_t *s_get(const char *path, long status)
{
    crm_http_response_t r;
    crm_suite_http(&suite, "GET", path, ADMIN, NULL, NULL, &r);
    cr_assert_eq(r.status, status, "GET %s: %ld %s", path, r.status, r.body);
    json_t *json = r.body_len ? crm_http_json(&r) : NULL;
    crm_http_response_clear(&r);
    return json;
}

/* The ChurnRisk and StageChanged events analytics published about customer_id. */
static size_t s_events(const char *type, const char *customer_id, const ProtobufCMessageDescriptor *desc,
                       ProtobufCMessage **last)
{
    Crm__V1__Event *events[EVENTS_MAX];
    size_t n = crm_suite_events(&suite, CRM_SVC_ANALYTICS, type, events, EVENTS_MAX);
    size_t mine = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(events[i]->subject, customer_id) == 0) {
            mine++;
            if (last) {
                crm_codec_message_free(last);
                cr_assert_eq(crm_event_data(events[i], desc, last), 0);
            }
        }
        crm_event_destroy(&events[i]);
    }
    return mine;
}

static const char *s_stage(const char *customer_id, char *out, size_t size)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/contacts/%s", customer_id);
    json_t *c = s_get(path, 200);
    const char *stage = json_string_value(json_object_get(c, "lifecycleStage"));
    snprintf(out, size, "%s", stage ? stage : "");
    json_decref(c);
    return out;
}

Test(analytics_churn, a_customer_who_stops_buying_is_warned_once_and_marked_at_risk)
{
    /* Orders every 30 days, 280 .. 130 days ago: usually every 30 days, silent for 130.
     * interval_stretched: 5 x 130 - 150 = 500 > 150: 30 points; silent: 130 days against 60: 25.
     * 55 reaches the threshold 50. */
    int64_t now = crm_time_now_us();
    for (int i = 0; i < ORDERS; i++)
        s_order(i, now - (int64_t) (280 - 30 * i) * DAY_US);
    json_t *found = NULL;
    long long deadline = crm_test_now_ms() + WAIT_MS;
    while (crm_test_now_ms() < deadline) {
        found = s_get("/v1/contacts?email=" EMAIL, 200);
        json_t *list = json_object_get(found, "customers");
        if (json_array_size(list) == 1 && json_integer_value(json_object_get(json_array_get(list, 0), "purchaseCount")) == ORDERS)
            break;
        json_decref(found);
        found = NULL;
        usleep(POLL_MS * 1000);
    }
    cr_assert_not_null(found, "contacts did not record the orders; see %s", suite.log);
    char id[CRM_ID_SIZE];
    snprintf(id, sizeof id, "%s",
             json_string_value(json_object_get(json_array_get(json_object_get(found, "customers"), 0), "id")));
    json_decref(found);

    /* One warning, with its reasons. */
    Crm__V1__ChurnRisk *risk = NULL;
    deadline = crm_test_now_ms() + WAIT_MS;
    while (crm_test_now_ms() < deadline
           && s_events("crm.analytics.customer.churn_risk.v1", id, &crm__v1__churn_risk__descriptor,
                       (ProtobufCMessage **) &risk) == 0)
        usleep(POLL_MS * 1000);
    cr_assert_not_null(risk, "no churn-risk event; see %s", suite.log);
    cr_assert_eq(risk->score, 55);
    cr_assert_eq(risk->threshold, 50);
    cr_assert_eq(risk->n_reasons, 2);
    cr_assert_str_eq(risk->reasons[0]->code, "interval_stretched");
    cr_assert_eq(risk->reasons[0]->weight, 30);
    cr_assert_str_eq(risk->reasons[0]->detail, "no purchase for 130 days; usually every 30 days");
    cr_assert_str_eq(risk->reasons[1]->code, "silent");
    cr_assert_eq(risk->reasons[1]->weight, 25);
    crm_codec_message_free((ProtobufCMessage **) &risk);

    /* The stage: analytics says at_risk, and contacts keeps it. */
    Crm__V1__StageChanged *stage = NULL;
    cr_assert_eq(s_events("crm.analytics.customer.stage_changed.v1", id, &crm__v1__stage_changed__descriptor,
                          (ProtobufCMessage **) &stage), 1);
    cr_assert_eq(stage->stage, CRM__V1__LIFECYCLE_STAGE__LIFECYCLE_STAGE_AT_RISK);
    crm_codec_message_free((ProtobufCMessage **) &stage);
    char text[32] = "";
    deadline = crm_test_now_ms() + WAIT_MS;
    while (crm_test_now_ms() < deadline && strcmp(s_stage(id, text, sizeof text), "at_risk") != 0)
        usleep(POLL_MS * 1000);
    cr_assert_str_eq(text, "at_risk", "the contact's stage did not change (contacts consumes StageChanged); see %s",
                     suite.log);

    /* The at-risk list and the customer's scores say the same. */
    json_t *list = s_get("/v1/analytics/at-risk", 200);
    json_t *first = json_array_get(json_object_get(list, "customers"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(first, "customerId")), id);
    cr_assert_eq(json_integer_value(json_object_get(first, "score")), 55);
    cr_assert_str_eq(json_string_value(json_object_get(first, "stage")), "at_risk");
    json_decref(list);
    char path[128];
    snprintf(path, sizeof path, "/v1/contacts/%s/analytics", id);
    json_t *scores = s_get(path, 200);
    cr_assert_eq(json_integer_value(json_object_get(scores, "churnScore")), 55);
    cr_assert(json_is_true(json_object_get(scores, "riskRaised")));
    json_decref(scores);

    /* Several evaluations later: still exactly one warning. */
    usleep(3 * 1000 * 1000);
    cr_assert_eq(s_events("crm.analytics.customer.churn_risk.v1", id, NULL, NULL), 1);
    cr_assert_eq(s_events("crm.analytics.customer.stage_changed.v1", id, NULL, NULL), 1);

    /* A new order wins them back. */
    s_order(ORDERS, crm_time_now_us());
    deadline = crm_test_now_ms() + WAIT_MS;
    while (crm_test_now_ms() < deadline
           && s_events("crm.analytics.customer.stage_changed.v1", id, &crm__v1__stage_changed__descriptor,
                       (ProtobufCMessage **) &stage) < 2)
        usleep(POLL_MS * 1000);
    cr_assert_not_null(stage);
    cr_assert(stage->won_back, "no won-back stage change; see %s", suite.log);
    cr_assert_eq(stage->previous_stage, CRM__V1__LIFECYCLE_STAGE__LIFECYCLE_STAGE_AT_RISK);
    crm_codec_message_free((ProtobufCMessage **) &stage);
    deadline = crm_test_now_ms() + WAIT_MS;
    while (crm_test_now_ms() < deadline && strcmp(s_stage(id, text, sizeof text), "at_risk") == 0)
        usleep(POLL_MS * 1000);
    cr_assert_str_eq(text, "loyal", "seven purchases: contacts' loyal stage");
    usleep(2 * 1000 * 1000);
    cr_assert_eq(s_events("crm.analytics.customer.churn_risk.v1", id, NULL, NULL), 1);
}
