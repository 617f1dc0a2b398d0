/* test_contacts_api.c: customers through the real gateway and contacts processes, over HTTP only. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crm_suite.h"

#define ADMIN CRM_SUITE_ADMIN_KEY
#define PAGING_CUSTOMERS 10000
#define UPSERT_BATCH 100
#define APPLY_WAIT_MS 120000

static crm_suite_t suite;

static void s_setup(void)
{
    crm_suite_init(&suite);
    crm_suite_start(&suite, CRM_SVC_CONTACTS);
    crm_suite_start(&suite, CRM_SVC_GATEWAY);
}

static void s_teardown(void)
{
    crm_suite_destroy(&suite);
    crm_test_check_leaks();
}

TestSuite(contacts_api, .init = s_setup, .fini = s_teardown, .timeout = 300);

/* The customer object of a reply: the body itself, or its "customer" member. */
static json_t *s_customer(json_t *body)
{
    json_t *inner = json_object_get(body, "customer");
    return inner ? inner : body;
}

static const char *s_str(json_t *obj, const char *key)
{
    const char *v = json_string_value(json_object_get(obj, key));
    return v ? v : "";
}

/* Creates a customer and copies its id into id (size 64). Returns the HTTP status. */
static long s_create(const char *body, char *id)
{
    crm_http_response_t r;
    crm_suite_http(&suite, "POST", "/v1/contacts", ADMIN, body, NULL, &r);
    long status = r.status;
    if (status == 201 || status == 200) {
        json_t *json = crm_http_json(&r);
        snprintf(id, 64, "%s", s_str(s_customer(json), "id"));
        json_decref(json);
    }
    crm_http_response_clear(&r);
    return status;
}

Test(contacts_api, create_read_update_delete_with_versions)
{
    char id[64], path[128];
    cr_assert_eq(s_create("{\"name\":\"Li Wei\",\"email\":\"Li.Wei@Example.com\",\"phone\":\"+8613800138000\","
                          "\"tags\":[\"vip\"],\"valueTier\":\"high\",\"needType\":\"quality_seeking\","
                          "\"customFields\":{\"vip\":true,\"shoeSize\":42,\"city\":\"Hangzhou\"},"
                          "\"consent\":{\"email\":\"granted\"},\"birthday\":\"1990-02-28\"}", id), 201);
    cr_assert_neq(id[0], '\0');
    snprintf(path, sizeof path, "/v1/contacts/%s", id);

    crm_http_response_t r;
    crm_suite_http(&suite, "GET", path, ADMIN, NULL, NULL, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_str_eq(r.etag, "\"1\"");
    json_t *json = crm_http_json(&r);
    json_t *c = s_customer(json);
    cr_assert_str_eq(s_str(c, "name"), "Li Wei");
    cr_assert_str_eq(s_str(c, "valueTier"), "high");
    cr_assert_str_eq(s_str(c, "lifecycleStage"), "prospect");
    cr_assert(json_is_true(json_object_get(json_object_get(c, "customFields"), "vip")));
    cr_assert_neq(s_str(c, "createdAt")[0], '\0');
    json_decref(json);
    crm_http_response_clear(&r);

    /* Update with the current version; then the same stale version is refused. */
    const char *if_match_1[] = { "If-Match: \"1\"", NULL };
    crm_suite_http(&suite, "PATCH", path, ADMIN, "{\"owner\":\"agent-7\",\"tags\":[\"vip\",\"gold\"]}", if_match_1, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_str_eq(r.etag, "\"2\"");
    json = crm_http_json(&r);
    cr_assert_str_eq(s_str(s_customer(json), "owner"), "agent-7");
    cr_assert_str_eq(s_str(s_customer(json), "name"), "Li Wei", "fields not in the body stay");
    json_decref(json);
    crm_http_response_clear(&r);

    crm_suite_http(&suite, "PATCH", path, ADMIN, "{\"owner\":\"agent-9\"}", if_match_1, &r);
    cr_assert_eq(r.status, 412, "a stale write is refused: %s", r.body);
    cr_assert(strstr(r.content_type, "application/problem+json"));
    crm_http_response_clear(&r);
    crm_suite_http(&suite, "GET", path, ADMIN, NULL, NULL, &r);
    json = crm_http_json(&r);
    cr_assert_str_eq(s_str(s_customer(json), "owner"), "agent-7", "the refused write changed nothing");
    json_decref(json);
    crm_http_response_clear(&r);

    /* Bad input names the field and changes nothing. */
    crm_suite_http(&suite, "PATCH", path, ADMIN, "{\"email\":\"not-an-email\"}", NULL, &r);
    cr_assert(r.status == 400 || r.status == 422, "status %ld", r.status);
    json = crm_http_json(&r);
    cr_assert_str_eq(s_str(json, "field"), "email");
    json_decref(json);
    crm_http_response_clear(&r);
    crm_suite_http(&suite, "PATCH", path, ADMIN, "{\"nonsense\":1}", NULL, &r);
    cr_assert(r.status == 400 || r.status == 422);
    crm_http_response_clear(&r);
    crm_suite_http(&suite, "GET", path, ADMIN, NULL, NULL, &r);
    cr_assert_str_eq(r.etag, "\"2\"");
    crm_http_response_clear(&r);

    const char *if_match_2[] = { "If-Match: \"2\"", NULL };
    crm_suite_http(&suite, "DELETE", path, ADMIN, NULL, if_match_2, &r);
    cr_assert(r.status == 200 || r.status == 204, "status %ld: %s", r.status, r.body);
    crm_http_response_clear(&r);
    crm_suite_http(&suite, "GET", path, ADMIN, NULL, NULL, &r);
    cr_assert_eq(r.status, 404);
    crm_http_response_clear(&r);
}

Test(contacts_api, a_clash_on_email_phone_or_external_id_names_the_other_customer)
{
    char first[64], other[64];
    cr_assert_eq(s_create("{\"name\":\"A\",\"email\":\"a@example.com\",\"phone\":\"+8613900000001\","
                          "\"externalIds\":[{\"system\":\"shopify\",\"id\":\"42\"}]}", first), 201);
    const char *clashes[] = {
        "{\"name\":\"B\",\"email\":\"A@EXAMPLE.COM\"}",
        "{\"name\":\"B\",\"phone\":\"+8613900000001\"}",
        "{\"name\":\"B\",\"externalIds\":[{\"system\":\"shopify\",\"id\":\"42\"}]}",
    };
    for (size_t i = 0; i < 3; i++) {
        crm_http_response_t r;
        crm_suite_http(&suite, "POST", "/v1/contacts", ADMIN, clashes[i], NULL, &r);
        cr_assert_eq(r.status, 409, "clash %zu: %ld %s", i, r.status, r.body);
        json_t *json = crm_http_json(&r);
        cr_assert_str_eq(s_str(json, "conflictId"), first, "the problem names the other customer");
        json_decref(json);
        crm_http_response_clear(&r);
    }
    cr_assert_eq(s_create("{\"name\":\"B\",\"email\":\"b@example.com\"}", other), 201);
    char path[128];
    snprintf(path, sizeof path, "/v1/contacts/%s", other);
    crm_http_response_t r;
    crm_suite_http(&suite, "PATCH", path, ADMIN, "{\"email\":\"a@example.com\"}", NULL, &r);
    cr_assert_eq(r.status, 409);
    crm_http_response_clear(&r);
}

Test(contacts_api, interactions_and_purchases_newest_first_with_refunds)
{
    char id[64], path[160];
    cr_assert_eq(s_create("{\"name\":\"Zhang San\",\"email\":\"zs@example.com\"}", id), 201);
    for (int i = 0; i < 3; i++) {
        char body[256];
        snprintf(body, sizeof body,
                 "{\"channel\":\"phone\",\"direction\":\"inbound\",\"summary\":\"call %d\","
                 "\"occurredAt\":\"2026-11-0%dT10:00:00Z\"}", i, i + 1);
        snprintf(path, sizeof path, "/v1/contacts/%s/interactions", id);
        crm_http_response_t r;
        crm_suite_http(&suite, "POST", path, ADMIN, body, NULL, &r);
        cr_assert(r.status == 201 || r.status == 200, "%ld %s", r.status, r.body);
        crm_http_response_clear(&r);
    }
    crm_http_response_t r;
    crm_suite_http(&suite, "GET", path, ADMIN, NULL, NULL, &r);
    cr_assert_eq(r.status, 200);
    json_t *json = crm_http_json(&r);
    json_t *list = json_object_get(json, "interactions");
    cr_assert_eq(json_array_size(list), 3);
    cr_assert_str_eq(s_str(json_array_get(list, 0), "summary"), "call 2", "newest first");
    json_decref(json);
    crm_http_response_clear(&r);

    snprintf(path, sizeof path, "/v1/contacts/%s/purchases", id);
    crm_suite_http(&suite, "POST", path, ADMIN,
                   "{\"orderId\":\"SO-1\",\"amountMinor\":\"10000\",\"currency\":\"CNY\","
                   "\"items\":[{\"sku\":\"T1\",\"quantity\":2,\"unitPriceMinor\":\"5000\"}]}", NULL, &r);
    cr_assert(r.status == 201 || r.status == 200, "%ld %s", r.status, r.body);
    json = crm_http_json(&r);
    json_t *purchase = json_object_get(json, "purchase");
    char purchase_id[64];
    snprintf(purchase_id, sizeof purchase_id, "%s", s_str(purchase ? purchase : json, "id"));
    json_decref(json);
    crm_http_response_clear(&r);
    crm_suite_http(&suite, "POST", path, ADMIN, "{\"orderId\":\"SO-1\",\"amountMinor\":\"1\",\"currency\":\"CNY\"}", NULL, &r);
    cr_assert_eq(r.status, 409, "an order is recorded once");
    crm_http_response_clear(&r);

    snprintf(path, sizeof path, "/v1/contacts/%s/purchases/%s/refunds", id, purchase_id);
    crm_suite_http(&suite, "POST", path, ADMIN, "{\"id\":\"RF-1\",\"amountMinor\":\"4000\",\"reason\":\"size\"}", NULL, &r);
    cr_assert(r.status == 200 || r.status == 201, "%ld %s", r.status, r.body);
    crm_http_response_clear(&r);
    crm_suite_http(&suite, "POST", path, ADMIN, "{\"id\":\"RF-2\",\"amountMinor\":\"7000\"}", NULL, &r);
    cr_assert(r.status == 400 || r.status == 422, "refunds never exceed the amount: %ld", r.status);
    crm_http_response_clear(&r);

    snprintf(path, sizeof path, "/v1/contacts/%s", id);
    crm_suite_http(&suite, "GET", path, ADMIN, NULL, NULL, &r);
    json = crm_http_json(&r);
    cr_assert_eq(json_integer_value(json_object_get(s_customer(json), "purchaseCount")), 1);
    cr_assert_str_eq(s_str(s_customer(json), "lifecycleStage"), "first_purchase");
    json_decref(json);
    crm_http_response_clear(&r);
}

Test(contacts_api, merge_moves_history_to_the_survivor)
{
    char a[64], b[64], path[160], body[160];
    cr_assert_eq(s_create("{\"name\":\"Wang Fang\",\"email\":\"wf@example.com\",\"tags\":[\"a\"]}", a), 201);
    cr_assert_eq(s_create("{\"name\":\"W. Fang\",\"phone\":\"+8613700000000\",\"tags\":[\"b\"]}", b), 201);
    snprintf(path, sizeof path, "/v1/contacts/%s/purchases", b);
    crm_http_response_t r;
    crm_suite_http(&suite, "POST", path, ADMIN, "{\"orderId\":\"M-1\",\"amountMinor\":\"500\",\"currency\":\"CNY\"}", NULL, &r);
    crm_http_response_clear(&r);
    snprintf(path, sizeof path, "/v1/contacts/%s/merge", a);
    snprintf(body, sizeof body, "{\"mergedId\":\"%s\"}", b);
    crm_suite_http(&suite, "POST", path, ADMIN, body, NULL, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    json_t *json = crm_http_json(&r);
    json_t *c = s_customer(json);
    json_t *survivor = json_object_get(json, "survivor");
    if (survivor)
        c = survivor;
    cr_assert_str_eq(s_str(c, "phone"), "+8613700000000", "empty fields are filled from the merged one");
    cr_assert_eq(json_array_size(json_object_get(c, "tags")), 2);
    json_decref(json);
    crm_http_response_clear(&r);
    snprintf(path, sizeof path, "/v1/contacts/%s", b);
    crm_suite_http(&suite, "GET", path, ADMIN, NULL, NULL, &r);
    cr_assert_eq(r.status, 404);
    crm_http_response_clear(&r);
    snprintf(path, sizeof path, "/v1/contacts/%s/purchases", a);
    crm_suite_http(&suite, "GET", path, ADMIN, NULL, NULL, &r);
    json = crm_http_json(&r);
    cr_assert_eq(json_array_size(json_object_get(json, "purchases")), 1, "the purchase moved");
    json_decref(json);
    crm_http_response_clear(&r);
}

Test(contacts_api, a_stopped_service_gives_503_at_once_and_recovers)
{
    char id[64];
    cr_assert_eq(s_create("{\"name\":\"Before\"}", id), 201);
    int status = crm_suite_stop(&suite, CRM_SVC_CONTACTS, SIGKILL);
    cr_assert(WIFSIGNALED(status));
    crm_http_response_t r;
    long long start = crm_test_now_ms();
    crm_suite_http(&suite, "GET", "/v1/contacts", ADMIN, NULL, NULL, &r);
    cr_assert_eq(r.status, 503, "%ld %s", r.status, r.body);
    cr_assert_lt(crm_test_now_ms() - start, 6000, "never a hang");
    cr_assert(strstr(r.content_type, "application/problem+json"));
    crm_http_response_clear(&r);
    crm_suite_http(&suite, "GET", "/readyz", NULL, NULL, NULL, &r);
    cr_assert_eq(r.status, 503);
    crm_http_response_clear(&r);
    crm_suite_http(&suite, "GET", "/healthz", NULL, NULL, NULL, &r);
    cr_assert_eq(r.status, 200);
    crm_http_response_clear(&r);

    /* Restarted, contacts is reached again (the fixture waits until /readyz no longer lists it). */
    crm_suite_start(&suite, CRM_SVC_CONTACTS);
    crm_suite_http(&suite, "GET", "/readyz", NULL, NULL, NULL, &r);
    cr_assert_null(strstr(r.body, "contacts"), "%s", r.body);
    crm_http_response_clear(&r);
    char path[128];
    snprintf(path, sizeof path, "/v1/contacts/%s", id);
    crm_suite_http(&suite, "GET", path, ADMIN, NULL, NULL, &r);
    cr_assert_eq(r.status, 200, "the data survived the crash");
    crm_http_response_clear(&r);
}

Test(contacts_api, idempotency_key_repeats_the_first_answer)
{
    const char *key1[] = { "Idempotency-Key: create-ann-1", NULL };
    crm_http_response_t r1, r2, r3;
    crm_suite_http(&suite, "POST", "/v1/contacts", ADMIN, "{\"name\":\"Ann\",\"email\":\"ann@example.com\"}", key1, &r1);
    cr_assert_eq(r1.status, 201);
    crm_suite_http(&suite, "POST", "/v1/contacts", ADMIN, "{\"name\":\"Ann\",\"email\":\"ann@example.com\"}", key1, &r2);
    cr_assert_eq(r2.status, 201, "the repeat gets the first answer, not a clash: %s", r2.body);
    cr_assert_str_eq(r1.body, r2.body);
    crm_suite_http(&suite, "POST", "/v1/contacts", ADMIN, "{\"name\":\"Bob\"}", key1, &r3);
    cr_assert_eq(r3.status, 422, "the same key with another body");
    crm_http_response_clear(&r1);
    crm_http_response_clear(&r2);
    crm_http_response_clear(&r3);
}

Test(contacts_api, keys_are_created_listed_and_revoked_at_once)
{
    crm_http_response_t r;
    crm_suite_http(&suite, "GET", "/v1/contacts", NULL, NULL, NULL, &r);
    cr_assert_eq(r.status, 401);
    cr_assert(strstr(r.www_authenticate, "Bearer"));
    crm_http_response_clear(&r);
    crm_suite_http(&suite, "GET", "/v1/contacts", "crm_wrong_key_wrong_key_wrong_key_wrong", NULL, NULL, &r);
    cr_assert_eq(r.status, 401);
    crm_http_response_clear(&r);

    crm_suite_http(&suite, "POST", "/v1/keys", ADMIN, "{\"name\":\"shop\",\"role\":\"integrator\"}", NULL, &r);
    cr_assert(r.status == 201 || r.status == 200, "%ld %s", r.status, r.body);
    json_t *json = crm_http_json(&r);
    char secret[128], key_id[64];
    snprintf(secret, sizeof secret, "%s", s_str(json, "secret"));
    snprintf(key_id, sizeof key_id, "%s", s_str(json_object_get(json, "key"), "id"));
    cr_assert_gt(strlen(secret), 20);
    json_decref(json);
    crm_http_response_clear(&r);

    crm_suite_http(&suite, "GET", "/v1/keys", ADMIN, NULL, NULL, &r);
    cr_assert_eq(r.status, 200);
    cr_assert_null(strstr(r.body, secret), "a listing never shows a secret");
    cr_assert(strstr(r.body, key_id));
    crm_http_response_clear(&r);

    crm_suite_http(&suite, "GET", "/v1/contacts", secret, NULL, NULL, &r);
    cr_assert_eq(r.status, 403, "an integrator may not search customers");
    crm_http_response_clear(&r);
    crm_suite_http(&suite, "GET", "/v1/keys", secret, NULL, NULL, &r);
    cr_assert_eq(r.status, 403);
    crm_http_response_clear(&r);

    char path[128];
    snprintf(path, sizeof path, "/v1/keys/%s", key_id);
    crm_suite_http(&suite, "DELETE", path, ADMIN, NULL, NULL, &r);
    cr_assert(r.status == 200 || r.status == 204, "%ld", r.status);
    crm_http_response_clear(&r);
    crm_suite_http(&suite, "POST", "/v1/events", secret, "[]", (const char *[]) { "Content-Type: application/cloudevents-batch+json", NULL }, &r);
    cr_assert_eq(r.status, 401, "a revoked key is refused on its very next request");
    crm_http_response_clear(&r);
}

/* Sends PAGING_CUSTOMERS customer.upserted events in batches, then pages through them all. */
Test(contacts_api, search_pages_through_ten_thousand_customers_without_miss_or_repeat, .timeout = 600)
{
    const char *batch_type[] = { "Content-Type: application/cloudevents-batch+json", NULL };
    size_t body_size = 64 * 1024;
    char *body = malloc(body_size);
    for (int b = 0; b < PAGING_CUSTOMERS / UPSERT_BATCH; b++) {
        size_t len = 0;
        body[len++] = '[';
        for (int i = 0; i < UPSERT_BATCH; i++) {
            int n = b * UPSERT_BATCH + i;
            len += (size_t) snprintf(body + len, body_size - len,
                "%s{\"specversion\":\"1.0\",\"id\":\"up-%d\",\"source\":\"/tests/paging\","
                "\"type\":\"customer.upserted\",\"data\":{\"customer\":{\"name\":\"Paged %05d\","
                "\"email\":\"paged%05d@example.com\",\"tags\":[\"paged\"]}}}", i ? "," : "", n, n, n);
        }
        body[len++] = ']';
        body[len] = '\0';
        crm_http_response_t r;
        crm_suite_http(&suite, "POST", "/v1/events", ADMIN, body, batch_type, &r);
        cr_assert_eq(r.status, 200, "%.300s", r.body);
        crm_http_response_clear(&r);
    }
    free(body);

    /* Events apply in order: once the last customer is there, all are. */
    char path[256];
    snprintf(path, sizeof path, "/v1/contacts?email=paged%05d@example.com", PAGING_CUSTOMERS - 1);
    long long deadline = crm_test_now_ms() + APPLY_WAIT_MS;
    bool found = false;
    while (!found && crm_test_now_ms() < deadline) {
        crm_http_response_t r;
        crm_suite_http(&suite, "GET", path, ADMIN, NULL, NULL, &r);
        json_t *json = crm_http_json(&r);
        found = json_array_size(json_object_get(json, "customers")) == 1;
        json_decref(json);
        crm_http_response_clear(&r);
        if (!found)
            usleep(200 * 1000);
    }
    cr_assert(found, "the ingested customers were applied");

    unsigned char *seen = calloc(PAGING_CUSTOMERS, 1);
    int total = 0, repeats = 0, pages = 0;
    char token[256] = "";
    do {
        if (token[0])
            snprintf(path, sizeof path, "/v1/contacts?tag=paged&pageSize=500&pageToken=%s", token);
        else
            snprintf(path, sizeof path, "/v1/contacts?tag=paged&pageSize=500");
        crm_http_response_t r;
        crm_suite_http(&suite, "GET", path, ADMIN, NULL, NULL, &r);
        cr_assert_eq(r.status, 200, "%.300s", r.body);
        json_t *json = crm_http_json(&r);
        json_t *list = json_object_get(json, "customers");
        for (size_t i = 0; i < json_array_size(list); i++) {
            int n = -1;
            if (sscanf(s_str(json_array_get(list, i), "email"), "paged%d@", &n) == 1 && n >= 0
                && n < PAGING_CUSTOMERS) {
                if (seen[n])
                    repeats++;
                seen[n] = 1;
                total++;
            }
        }
        snprintf(token, sizeof token, "%s", s_str(json, "nextPageToken"));
        json_decref(json);
        crm_http_response_clear(&r);
        pages++;
        if (pages == 3) {
            char id[64];   /* customers created while paging must not disturb the walk */
            s_create("{\"name\":\"Late arrival\",\"tags\":[\"paged\"]}", id);
        }
    } while (token[0] && pages < 1000);
    int missing = 0;
    for (int n = 0; n < PAGING_CUSTOMERS; n++)
        missing += !seen[n];
    free(seen);
    cr_assert_eq(repeats, 0, "customers repeated across pages: %d", repeats);
    cr_assert_eq(missing, 0, "customers missed by paging: %d", missing);
    cr_assert_eq(total, PAGING_CUSTOMERS);
}
