/* test_idempotency_race.c: 100 identical requests with one Idempotency-Key completed at the same instant have one effect and identical answers. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crm_event.h"
#include "crm_http_burst.h"
#include "crm_suite.h"

#define ADMIN CRM_SUITE_ADMIN_KEY
#define RACE 100                      /* identical requests at once */
#define SETTLE_MS 300                 /* lets the gateway read all but the last byte of each */
#define BURST_TIMEOUT_MS 20000
#define CONTROL 20                    /* requests with distinct keys in the control burst */
#define EVENTS_MAX 256
#define PROBLEMS "https://crm.example/problems/"

static crm_suite_t suite;

static void s_setup(void)
{
    crm_suite_init(&suite);
    crm_suite_start(&suite, CRM_SVC_CONTACTS);
    crm_suite_start(&suite, CRM_SVC_LOYALTY);
    crm_suite_start(&suite, CRM_SVC_GATEWAY);
}

static void s_teardown(void)
{
    crm_suite_destroy(&suite);
    crm_test_check_leaks();
}

TestSuite(idempotency_race, .init = s_setup, .fini = s_teardown, .timeout = 60);

/* How the answers of one burst split up. */
typedef struct {
    size_t success;            /* 2xx */
    size_t in_progress;        /* 409 idempotency-in-progress */
    size_t reuse;              /* 422 idempotency-key-reuse */
    size_t replayed;           /* successes with Idempotent-Replayed: true */
    const crm_http_raw_t *first_success;
} s_tally_t;

static const char *s_str(json_t *obj, const char *key)
{
    const char *v = json_string_value(json_object_get(obj, key));
    return v ? v : "";
}

/* Checks one problem answer: status, problem+json, the slug, and field Idempotency-Key. */
static void s_check_problem(const crm_http_raw_t *a, size_t i, long status, const char *slug)
{
    cr_expect_eq(a->status, status, "answer %zu: %ld %s", i, a->status, a->body);
    cr_expect(strncmp(a->content_type, "application/problem+json", 24) == 0, "answer %zu: %s", i,
              a->content_type);
    json_error_t error;
    json_t *p = json_loadb(a->body, a->body_len, 0, &error);
    cr_assert_not_null(p, "answer %zu is not JSON: %s", i, a->body);
    char type[128];
    snprintf(type, sizeof type, PROBLEMS "%s", slug);
    cr_expect_str_eq(s_str(p, "type"), type, "answer %zu: %s", i, a->body);
    cr_expect_str_eq(s_str(p, "field"), "Idempotency-Key", "answer %zu: %s", i, a->body);
    cr_expect_neq(s_str(p, "detail")[0], '\0', "answer %zu: %s", i, a->body);
    json_decref(p);
}

/* Sorts the burst's answers; asserts each is a success with status success, 409 in progress or
 * (when reuse_ok) 422, and that every success is byte-identical (status, body, Location, ETag). */
static s_tally_t s_tally(const crm_http_raw_t *answers, size_t count, long success, bool reuse_ok)
{
    s_tally_t t = { 0 };
    for (size_t i = 0; i < count; i++) {
        const crm_http_raw_t *a = &answers[i];
        if (a->status == success) {
            t.success++;
            if (a->replayed)
                t.replayed++;
            if (!t.first_success) {
                t.first_success = a;
                continue;
            }
            const crm_http_raw_t *f = t.first_success;
            cr_expect_eq(a->body_len, f->body_len, "answer %zu differs:\n%s\n%s", i, a->body, f->body);
            cr_expect(a->body_len == f->body_len && memcmp(a->body, f->body, a->body_len) == 0,
                      "answer %zu differs:\n%s\n%s", i, a->body, f->body);
            cr_expect_str_eq(a->location, f->location, "answer %zu", i);
            cr_expect_str_eq(a->etag, f->etag, "answer %zu", i);
            cr_expect_str_eq(a->content_type, f->content_type, "answer %zu", i);
        } else if (a->status == 409) {
            t.in_progress++;
            s_check_problem(a, i, 409, "idempotency-in-progress");
        } else if (a->status == 422 && reuse_ok) {
            t.reuse++;
            s_check_problem(a, i, 422, "idempotency-key-reuse");
        } else {
            cr_expect_fail("answer %zu: unexpected %ld %s", i, a->status, a->body);
        }
    }
    cr_assert_geq(t.success, 1, "no request succeeded (%zu in progress, %zu reuse)", t.in_progress,
                  t.reuse);
    return t;
}

/* Sends the request bytes RACE times at once; the caller clears the answers. */
static void s_burst(const char *request, size_t len, crm_http_raw_t *answers)
{
    int rc = crm_http_burst(suite.http_port, request, len, RACE, SETTLE_MS, BURST_TIMEOUT_MS, answers);
    size_t missing = 0;
    for (size_t i = 0; i < RACE; i++)
        missing += answers[i].status == 0;
    cr_assert_eq(rc, 0, "the burst did not complete: %zu answers missing; see %s", missing, suite.log);
}

static void s_clear(crm_http_raw_t *answers)
{
    for (size_t i = 0; i < RACE; i++)
        crm_http_raw_clear(&answers[i]);
}

/* Counts contacts' events of type about subject (NULL: any). */
static size_t s_events(const char *type, const char *subject)
{
    Crm__V1__Event *events[EVENTS_MAX];
    size_t n = crm_suite_events(&suite, CRM_SVC_CONTACTS, type, events, EVENTS_MAX);
    size_t found = 0;
    for (size_t i = 0; i < n; i++) {
        if (!subject || strcmp(events[i]->subject, subject) == 0)
            found++;
        crm_event_destroy(&events[i]);
    }
    return found;
}

static json_t *s_get(const char *path)
{
    crm_http_response_t r;
    crm_suite_http(&suite, "GET", path, ADMIN, NULL, NULL, &r);
    cr_assert_eq(r.status, 200, "GET %s: %ld %s", path, r.status, r.body);
    json_t *json = crm_http_json(&r);
    crm_http_response_clear(&r);
    return json;
}

static size_t s_request(char *out, const char *path, const char *idem_key, const char *body)
{
    char idem[320];
    snprintf(idem, sizeof idem, "Idempotency-Key: %s", idem_key);
    const char *const headers[] = { "Authorization: Bearer " ADMIN, "Content-Type: application/json",
                                    idem, NULL };
    return crm_http_burst_request(out, "POST", path, headers, body, strlen(body));
}

Test(idempotency_race, create_customer_once)
{
    static char request[CRM_HTTP_BURST_REQUEST_MAX];
    /* No email or phone: contacts' uniqueness would hide a second create; only the key can. */
    const char *body = "{\"name\":\"Idem Racer\",\"tags\":[\"race\"],\"locale\":\"en\"}";
    size_t len = s_request(request, "/v1/contacts", "race-create-1", body);
    crm_http_raw_t answers[RACE];
    s_burst(request, len, answers);
    s_tally_t t = s_tally(answers, RACE, 201, false);
    cr_log_info("create: %zu created or replayed (%zu replayed), %zu in progress", t.success,
                t.replayed, t.in_progress);
    cr_expect_eq(t.success + t.in_progress, RACE);
    cr_expect_eq(t.replayed, t.success - 1, "every success but the first is a replay");

    json_t *created = json_loadb(t.first_success->body, t.first_success->body_len, 0, NULL);
    cr_assert_not_null(created, "%s", t.first_success->body);
    char id[64];
    snprintf(id, sizeof id, "%s", s_str(created, "id"));
    json_decref(created);
    cr_assert_neq(id[0], '\0');

    /* Exactly one customer and one created event. */
    json_t *list = s_get("/v1/contacts?name=Idem%20Racer&pageSize=500");
    json_t *customers = json_object_get(list, "customers");
    cr_expect_eq(json_array_size(customers), 1, "customers made: %zu", json_array_size(customers));
    cr_expect_str_eq(s_str(json_array_get(customers, 0), "id"), id);
    json_decref(list);
    cr_expect_eq(s_events("crm.contacts.customer.created.v1", NULL), 1);

    /* Once the first has finished, a second burst gets the very same answer every time. */
    crm_http_raw_t again[RACE];
    s_burst(request, len, again);
    s_tally_t t2 = s_tally(again, RACE, 201, false);
    cr_expect_eq(t2.success, RACE, "after the first finished: %zu in progress", t2.in_progress);
    cr_expect_eq(t2.replayed, RACE);
    cr_expect(t2.first_success->body_len == t.first_success->body_len
              && memcmp(t2.first_success->body, t.first_success->body, t.first_success->body_len) == 0,
              "the replay differs:\n%s\n%s", t2.first_success->body, t.first_success->body);
    list = s_get("/v1/contacts?name=Idem%20Racer&pageSize=500");
    cr_expect_eq(json_array_size(json_object_get(list, "customers")), 1);
    json_decref(list);
    cr_expect_eq(s_events("crm.contacts.customer.created.v1", NULL), 1);
    s_clear(again);
    s_clear(answers);
}

/* The control: the same burst with a key of its own on each connection makes one customer per
 * request, so the counts above would have seen a double. */
Test(idempotency_race, distinct_keys_each_run)
{
    static char requests[CONTROL][CRM_HTTP_BURST_REQUEST_MAX];
    const char *pointers[CONTROL];
    size_t lens[CONTROL];
    for (size_t i = 0; i < CONTROL; i++) {
        char key[32];
        snprintf(key, sizeof key, "race-control-%zu", i);
        lens[i] = s_request(requests[i], "/v1/contacts", key, "{\"name\":\"Idem Control\"}");
        pointers[i] = requests[i];
    }
    crm_http_raw_t answers[CONTROL];
    cr_assert_eq(crm_http_burst_each(suite.http_port, pointers, lens, CONTROL, SETTLE_MS,
                                     BURST_TIMEOUT_MS, answers), 0, "see %s", suite.log);
    for (size_t i = 0; i < CONTROL; i++) {
        cr_expect_eq(answers[i].status, 201, "answer %zu: %ld %s", i, answers[i].status, answers[i].body);
        crm_http_raw_clear(&answers[i]);
    }
    json_t *list = s_get("/v1/contacts?name=Idem%20Control&pageSize=500");
    cr_expect_eq(json_array_size(json_object_get(list, "customers")), CONTROL);
    json_decref(list);
    cr_expect_eq(s_events("crm.contacts.customer.created.v1", NULL), CONTROL);
}

Test(idempotency_race, record_purchase_once)
{
    crm_http_response_t r;
    crm_suite_http(&suite, "POST", "/v1/contacts", ADMIN, "{\"name\":\"Idem Buyer\"}", NULL, &r);
    cr_assert_eq(r.status, 201, "%s", r.body);
    json_t *customer = crm_http_json(&r);
    char id[64], path[128];
    snprintf(id, sizeof id, "%s", s_str(customer, "id"));
    json_decref(customer);
    crm_http_response_clear(&r);

    static char request[CRM_HTTP_BURST_REQUEST_MAX];
    /* No orderId: contacts then takes the purchase's own id, so only the key prevents a double. */
    const char *body = "{\"amountMinor\":\"12345\",\"currency\":\"CNY\","
                       "\"items\":[{\"sku\":\"T-1\",\"quantity\":1,\"unitPriceMinor\":\"12345\"}]}";
    snprintf(path, sizeof path, "/v1/contacts/%s/purchases", id);
    size_t len = s_request(request, path, "race-purchase-1", body);
    crm_http_raw_t answers[RACE];
    s_burst(request, len, answers);
    s_tally_t t = s_tally(answers, RACE, 201, false);
    cr_log_info("purchase: %zu recorded or replayed (%zu replayed), %zu in progress", t.success,
                t.replayed, t.in_progress);
    cr_expect_eq(t.success + t.in_progress, RACE);
    cr_expect_eq(t.replayed, t.success - 1, "every success but the first is a replay");

    json_t *list = s_get(path);
    cr_expect_eq(json_array_size(json_object_get(list, "purchases")), 1, "purchases: %zu",
                 json_array_size(json_object_get(list, "purchases")));
    json_decref(list);
    snprintf(path, sizeof path, "/v1/contacts/%s", id);
    customer = s_get(path);
    cr_expect_eq(json_integer_value(json_object_get(customer, "purchaseCount")), 1);
    json_decref(customer);
    cr_expect_eq(s_events("crm.contacts.purchase.recorded.v1", id), 1);
    s_clear(answers);
}

/* The same key with two different bodies at once (alternating connections): exactly one request
 * runs; the other body never does (409 while the first runs, 422 after). */
Test(idempotency_race, one_key_two_bodies)
{
    static char request_a[CRM_HTTP_BURST_REQUEST_MAX], request_b[CRM_HTTP_BURST_REQUEST_MAX];
    size_t len_a = s_request(request_a, "/v1/contacts", "race-two-bodies", "{\"name\":\"Idem Twin A\"}");
    size_t len_b = s_request(request_b, "/v1/contacts", "race-two-bodies", "{\"name\":\"Idem Twin B\"}");
    const char *requests[RACE];
    size_t lens[RACE];
    for (size_t i = 0; i < RACE; i++) {
        requests[i] = i % 2 ? request_b : request_a;
        lens[i] = i % 2 ? len_b : len_a;
    }
    crm_http_raw_t answers[RACE];
    cr_assert_eq(crm_http_burst_each(suite.http_port, requests, lens, RACE, SETTLE_MS,
                                     BURST_TIMEOUT_MS, answers), 0, "see %s", suite.log);
    s_tally_t t = s_tally(answers, RACE, 201, true);
    cr_expect_eq(t.success + t.in_progress + t.reuse, RACE);
    json_t *winner = json_loadb(t.first_success->body, t.first_success->body_len, 0, NULL);
    cr_assert_not_null(winner);
    char name[64];
    snprintf(name, sizeof name, "%s", s_str(winner, "name"));
    json_decref(winner);
    /* Every success carries the winner's body; no request with the other body succeeded. */
    for (size_t i = 0; i < RACE; i++) {
        if (answers[i].status != 201)
            continue;
        bool is_b = i % 2;
        cr_expect_str_eq(name, is_b ? "Idem Twin B" : "Idem Twin A",
                         "answer %zu (body %c) succeeded with the other body's answer", i, is_b ? 'B' : 'A');
    }
    cr_log_info("two bodies: %zu succeeded, %zu in progress, %zu reuse", t.success, t.in_progress, t.reuse);
    json_t *list = s_get("/v1/contacts?name=Idem%20Twin&pageSize=500");
    json_t *customers = json_object_get(list, "customers");
    cr_expect_eq(json_array_size(customers), 1, "customers made: %zu", json_array_size(customers));
    cr_expect_str_eq(s_str(json_array_get(customers, 0), "name"), name);
    json_decref(list);
    s_clear(answers);
}
