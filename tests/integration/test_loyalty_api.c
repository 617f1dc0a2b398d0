/* test_loyalty_api.c: loyalty through the gateway: integrator orders earn at the tier multiplier, upgrades, refunds, racing redemptions. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crm_suite.h"

#define ADMIN CRM_SUITE_ADMIN_KEY
#define APPLY_WAIT_MS 30000           /* ingest -> contacts -> loyalty, under the sanitizers */
#define POLL_MS 50
#define SECRET_SIZE 128
#define CODE_LEN 12                   /* a redemption code: 12 Crockford base32 characters */
#define RACE_THREADS 50
#define RACE_CUSTOMERS 5
#define RACE_STOCK 10
#define RACE_PRICE 10
#define RACE_SEED 1000

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

TestSuite(loyalty_api, .init = s_setup, .fini = s_teardown, .timeout = 180);

static const char *s_str(json_t *obj, const char *key)
{
    const char *v = json_string_value(json_object_get(obj, key));
    return v ? v : "";
}

/* A 64-bit integer field: JSON writes them as strings, and leaves out zeros. */
static long long s_int(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (json_is_integer(v))
        return json_integer_value(v);
    return json_is_string(v) ? strtoll(json_string_value(v), NULL, 10) : 0;
}

/* Makes a key with role through the API; writes its secret (size SECRET_SIZE). */
static void s_make_key(const char *role, char *secret)
{
    char body[128];
    snprintf(body, sizeof body, "{\"name\":\"loyalty-%s\",\"role\":\"%s\"}", role, role);
    crm_http_response_t r;
    crm_suite_http(&suite, "POST", "/v1/keys", ADMIN, body, NULL, &r);
    cr_assert_eq(r.status, 201, "%ld %s", r.status, r.body);
    json_t *json = crm_http_json(&r);
    snprintf(secret, SECRET_SIZE, "%s", s_str(json, "secret"));
    json_decref(json);
    crm_http_response_clear(&r);
}

/* Sends method path with key and body; asserts status; returns the answer's JSON (caller decrefs). */
static json_t *s_call(const char *method, const char *path, const char *key, const char *body, long status)
{
    return crm_suite_call(&suite, method, path, key, body, status);
}

/* Sends one CloudEvent of type with data (JSON text) as the integrator; asserts its outcome. */
static void s_ingest_outcome(const char *key, const char *id, const char *type, const char *data,
                             const char *outcome)
{
    char body[1024];
    snprintf(body, sizeof body,
             "{\"specversion\":\"1.0\",\"id\":\"%s\",\"source\":\"/shop/hz-01\",\"type\":\"%s\",\"data\":%s}",
             id, type, data);
    const char *const structured[] = { "Content-Type: application/cloudevents+json", NULL };
    crm_http_response_t r;
    crm_suite_http(&suite, "POST", "/v1/events", key, body, structured, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    json_t *json = crm_http_json(&r);
    json_t *result = json_array_get(json_object_get(json, "results"), 0);
    cr_assert_str_eq(s_str(result, "outcome"), outcome, "%s", r.body);
    json_decref(json);
    crm_http_response_clear(&r);
}

static void s_ingest(const char *key, const char *id, const char *type, const char *data)
{
    s_ingest_outcome(key, id, type, data, "accepted");
}

static void s_order(const char *key, const char *event_id, const char *order_id, const char *email,
                    long long amount_minor)
{
    char data[512];
    snprintf(data, sizeof data,
             "{\"orderId\":\"%s\",\"customer\":{\"email\":\"%s\"},\"amountMinor\":\"%lld\",\"currency\":\"CNY\"}",
             order_id, email, amount_minor);
    s_ingest(key, event_id, "order.placed", data);
}

static void s_refund(const char *key, const char *event_id, const char *order_id, const char *refund_id,
                     long long amount_minor)
{
    char data[512];
    snprintf(data, sizeof data,
             "{\"orderId\":\"%s\",\"refundId\":\"%s\",\"amountMinor\":\"%lld\",\"currency\":\"CNY\"}",
             order_id, refund_id, amount_minor);
    s_ingest(key, event_id, "order.refunded", data);
}

/* Waits until contacts knows the customer with email; writes its id (size 32). */
static void s_customer_id(const char *email, char *id)
{
    char path[256];
    snprintf(path, sizeof path, "/v1/contacts?email=%s", email);
    long long deadline = crm_test_now_ms() + APPLY_WAIT_MS;
    id[0] = '\0';
    while (!id[0] && crm_test_now_ms() < deadline) {
        json_t *json = s_call("GET", path, ADMIN, NULL, 200);
        json_t *c = json_array_get(json_object_get(json, "customers"), 0);
        if (c)
            snprintf(id, 32, "%s", s_str(c, "id"));
        json_decref(json);
        if (!id[0])
            usleep(POLL_MS * 1000);
    }
    cr_assert(id[0], "contacts never created the customer %s", email);
}

/* Polls the customer's balance (as key) until field equals want; returns the last answer (caller
 * decrefs). Asserts it got there within APPLY_WAIT_MS. */
static json_t *s_wait_balance(const char *key, const char *id, const char *field, long long want)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/contacts/%s/loyalty", id);
    long long deadline = crm_test_now_ms() + APPLY_WAIT_MS;
    json_t *json = NULL;
    for (;;) {
        json_decref(json);
        json = s_call("GET", path, key, NULL, 200);
        if (s_int(json, field) == want || crm_test_now_ms() >= deadline)
            break;
        usleep(POLL_MS * 1000);
    }
    char *text = json_dumps(json, JSON_COMPACT);
    bool got = s_int(json, field) == want;
    cr_assert(got, "%s never reached %lld: %s", field, want, text);
    free(text);
    return json;
}

/* The statement's newest entry of kind (and, for earn entries, earn kind), or NULL. Borrowed from
 * statement. */
static json_t *s_newest_entry(json_t *statement, const char *kind, const char *earn_kind)
{
    json_t *entries = json_object_get(statement, "entries");
    for (size_t i = 0; i < json_array_size(entries); i++) {
        json_t *e = json_array_get(entries, i);
        if (strcmp(s_str(e, "kind"), kind) == 0
            && (!earn_kind || strcmp(s_str(e, "earnKind"), earn_kind) == 0))
            return e;
    }
    return NULL;
}

static json_t *s_statement(const char *id)
{
    char path[256];
    snprintf(path, sizeof path, "/v1/contacts/%s/loyalty/statement", id);
    return s_call("GET", path, ADMIN, NULL, 200);
}

/* The default programme (services/loyalty/README.md): 1 point per whole CNY; first-purchase badge
 * 50 points; Bronze x1; Silver from 1,000.00 CNY and 2 purchases, x1.25. */
Test(loyalty_api, an_integrator_order_earns_at_the_tier_multiplier_and_the_crossing_purchase_upgrades)
{
    char shop[SECRET_SIZE];
    s_make_key("integrator", shop);
    char id[32];

    /* 600.00 CNY as Bronze: 600 points, and the first-purchase badge's 50. */
    s_order(shop, "earn-1", "SO-E1", "earn@example.com", 60000);
    s_customer_id("earn@example.com", id);
    json_t *balance = s_wait_balance(shop, id, "balance", 650);
    cr_assert_str_eq(s_str(balance, "tier"), "bronze");
    json_decref(balance);
    json_t *st = s_statement(id);
    json_t *earn = s_newest_entry(st, "earn", "purchase");
    cr_assert_not_null(earn, "no purchase earning in the statement");
    cr_assert_eq(s_int(earn, "points"), 600, "x1 at Bronze");
    cr_assert_not_null(s_newest_entry(st, "earn", "badge"), "the first-purchase badge bonus");
    json_decref(st);
    char path[256];
    snprintf(path, sizeof path, "/v1/contacts/%s/loyalty/tier", id);
    json_t *tier = s_call("GET", path, shop, NULL, 200);
    cr_assert_str_eq(s_str(json_object_get(tier, "tier"), "id"), "bronze");
    cr_assert_str_eq(s_str(json_object_get(tier, "nextTier"), "id"), "silver");
    cr_assert_eq(s_int(tier, "spendToNextMinor"), 40000, "400.00 CNY short of Silver");
    json_decref(tier);

    /* 500.00 more crosses Silver's 1,000.00 and 2 purchases: the upgrade comes with this purchase,
     * which already earns x1.25 = 625 (not 500). */
    s_order(shop, "earn-2", "SO-E2", "earn@example.com", 50000);
    balance = s_wait_balance(shop, id, "balance", 650 + 625);
    cr_assert_str_eq(s_str(balance, "tier"), "silver");
    cr_assert_eq(s_int(balance, "lifetimeEarned"), 1275);
    json_decref(balance);
    st = s_statement(id);
    earn = s_newest_entry(st, "earn", "purchase");
    cr_assert_eq(s_int(earn, "points"), 625, "x1.25 at Silver");
    json_decref(st);
    tier = s_call("GET", path, shop, NULL, 200);
    cr_assert_str_eq(s_str(json_object_get(tier, "tier"), "id"), "silver");
    cr_assert_eq(s_int(tier, "rollingSpendMinor"), 110000);
    cr_assert_eq(s_int(tier, "rollingPurchases"), 2);
    cr_assert_str_eq(s_str(json_object_get(tier, "nextTier"), "id"), "gold");
    json_decref(tier);

    /* The same order event again is a duplicate at the door and earns nothing more. */
    s_ingest_outcome(shop, "earn-2", "order.placed",
                     "{\"orderId\":\"SO-E2\",\"customer\":{\"email\":\"earn@example.com\"},"
                     "\"amountMinor\":\"50000\",\"currency\":\"CNY\"}", "duplicate");
    usleep(300 * 1000);
    balance = s_wait_balance(shop, id, "balance", 1275);
    json_decref(balance);
}

Test(loyalty_api, a_refund_reverses_in_proportion_and_a_full_refund_takes_back_the_rest)
{
    char shop[SECRET_SIZE];
    s_make_key("integrator", shop);
    char id[32];
    s_order(shop, "ref-1", "SO-R1", "refund@example.com", 80000);
    s_customer_id("refund@example.com", id);
    json_t *balance = s_wait_balance(shop, id, "balance", 800 + 50);
    json_decref(balance);

    /* A quarter refunded: floor(800 x 200.00 / 800.00) = 200 points back. */
    s_refund(shop, "ref-2", "SO-R1", "RF-1", 20000);
    balance = s_wait_balance(shop, id, "lifetimeReversed", 200);
    cr_assert_eq(s_int(balance, "balance"), 650);
    cr_assert_eq(s_int(balance, "lifetimeEarned"), 850, "earnings stay; the reversal is its own entry");
    json_decref(balance);
    json_t *st = s_statement(id);
    json_t *rev = s_newest_entry(st, "reverse", NULL);
    cr_assert_not_null(rev, "no reverse entry");
    cr_assert_eq(s_int(rev, "points"), -200);
    cr_assert_eq(s_int(rev, "balanceAfter"), 650);
    json_decref(st);

    /* Spend 500 of it, then refund the rest of the order: 600 more to reverse, but only 150 are
     * left; the balance goes to zero and 450 are recorded as the shortfall. */
    char path[256];
    snprintf(path, sizeof path, "/v1/contacts/%s/loyalty/adjustments", id);
    json_t *adj = s_call("POST", path, ADMIN, "{\"points\":\"-500\",\"reason\":\"test: spend\"}", 201);
    cr_assert_eq(s_int(adj, "balance"), 150, "admin adjusts: the service took role \"admin\"");
    json_decref(adj);
    s_refund(shop, "ref-3", "SO-R1", "RF-2", 60000);
    balance = s_wait_balance(shop, id, "lifetimeReversed", 350);
    cr_assert_eq(s_int(balance, "balance"), 0, "never below zero");
    cr_assert_eq(s_int(balance, "shortfall"), 450);
    json_decref(balance);
}

/* One redemption attempt, made on its own thread (no assertions here). */
typedef struct {
    pthread_barrier_t *start;
    const char *key;
    char customer[32];
    int index;
    long status;
    char code[32];
} s_attempt_t;

static void *s_redeem(void *arg)
{
    s_attempt_t *a = arg;
    char url[256], body[128], auth[SECRET_SIZE + 32];
    snprintf(url, sizeof url, "%s/v1/contacts/%s/loyalty/redemptions", suite.base_url, a->customer);
    snprintf(body, sizeof body, "{\"rewardId\":\"mug\",\"requestId\":\"race-%d\"}", a->index);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", a->key);
    const char *const headers[] = { auth, "Content-Type: application/json", NULL };
    pthread_barrier_wait(a->start);
    crm_http_response_t r;
    a->status = crm_http("POST", url, headers, body, strlen(body), &r) == 0 ? r.status : -1;
    if (a->status == 201) {
        json_t *json = json_loadb(r.body, r.body_len, 0, NULL);
        const char *code = json_string_value(json_object_get(json_object_get(json, "redemption"), "code"));
        snprintf(a->code, sizeof a->code, "%s", code ? code : "");
        json_decref(json);
    }
    crm_http_response_clear(&r);
    return NULL;
}

static int s_cmp_code(const void *a, const void *b)
{
    return strcmp(((const s_attempt_t *) a)->code, ((const s_attempt_t *) b)->code);
}

Test(loyalty_api, fifty_concurrent_redemptions_of_ten_in_stock_issue_exactly_ten_codes)
{
    char cashier[SECRET_SIZE];
    s_make_key("integrator", cashier);
    json_t *reward = s_call("POST", "/v1/loyalty/rewards", ADMIN,
                            "{\"id\":\"mug\",\"name\":\"Mug\",\"kind\":\"gift\",\"pointsPrice\":\"10\",\"stock\":\"10\"}",
                            200);
    cr_assert_eq(s_int(reward, "stock"), RACE_STOCK);
    json_decref(reward);

    /* Customers with enough points that only the stock can refuse them. */
    char ids[RACE_CUSTOMERS][32];
    for (int c = 0; c < RACE_CUSTOMERS; c++) {
        char body[128], path[256];
        snprintf(body, sizeof body, "{\"name\":\"Racer %d\",\"email\":\"racer%d@example.com\"}", c, c);
        json_t *customer = s_call("POST", "/v1/contacts", ADMIN, body, 201);
        snprintf(ids[c], sizeof ids[c], "%s", s_str(customer, "id"));
        json_decref(customer);
        snprintf(path, sizeof path, "/v1/contacts/%s/loyalty/adjustments", ids[c]);
        snprintf(body, sizeof body, "{\"points\":\"%d\",\"reason\":\"race seed\",\"adjustmentId\":\"seed-%d\"}",
                 RACE_SEED, c);
        json_decref(s_call("POST", path, ADMIN, body, 201));
    }

    static s_attempt_t attempts[RACE_THREADS];
    pthread_t threads[RACE_THREADS];
    pthread_barrier_t start;
    cr_assert_eq(pthread_barrier_init(&start, NULL, RACE_THREADS), 0);
    for (int i = 0; i < RACE_THREADS; i++) {
        attempts[i] = (s_attempt_t) { .start = &start, .key = cashier, .index = i };
        snprintf(attempts[i].customer, sizeof attempts[i].customer, "%s", ids[i % RACE_CUSTOMERS]);
        cr_assert_eq(pthread_create(&threads[i], NULL, s_redeem, &attempts[i]), 0);
    }
    for (int i = 0; i < RACE_THREADS; i++)
        pthread_join(threads[i], NULL);
    pthread_barrier_destroy(&start);

    int won = 0, sold_out = 0, other = 0, bad_codes = 0;
    long other_status = 0;
    for (int i = 0; i < RACE_THREADS; i++) {
        if (attempts[i].status == 201) {
            won++;
            bad_codes += strlen(attempts[i].code) != CODE_LEN;
        } else if (attempts[i].status == 409) {
            sold_out++;
        } else {
            other++;
            other_status = attempts[i].status;
        }
    }
    cr_assert_eq(other, 0, "%d attempts got neither 201 nor 409 (e.g. %ld)", other, other_status);
    cr_assert_eq(won, RACE_STOCK, "exactly the stock is sold: %d won", won);
    cr_assert_eq(sold_out, RACE_THREADS - RACE_STOCK);
    cr_assert_eq(bad_codes, 0);
    qsort(attempts, RACE_THREADS, sizeof attempts[0], s_cmp_code);
    int repeated = 0;
    for (int i = 1; i < RACE_THREADS; i++)
        repeated += attempts[i].code[0] && strcmp(attempts[i].code, attempts[i - 1].code) == 0;
    cr_assert_eq(repeated, 0, "every code is unique");

    /* The stock is gone, and only the winners paid: points taken = 10 x their redemptions. */
    reward = s_call("GET", "/v1/loyalty/rewards/mug", cashier, NULL, 200);
    cr_assert_eq(s_int(reward, "stock"), 0);
    cr_assert_eq(s_int(reward, "redeemed"), RACE_STOCK);
    json_decref(reward);
    int listed = 0, mismatched = 0;
    for (int c = 0; c < RACE_CUSTOMERS; c++) {
        char path[256];
        snprintf(path, sizeof path, "/v1/contacts/%s/loyalty/redemptions", ids[c]);
        json_t *list = s_call("GET", path, ADMIN, NULL, 200);
        size_t n = json_array_size(json_object_get(list, "redemptions"));
        json_decref(list);
        snprintf(path, sizeof path, "/v1/contacts/%s/loyalty", ids[c]);
        json_t *balance = s_call("GET", path, cashier, NULL, 200);
        mismatched += s_int(balance, "balance") != RACE_SEED - RACE_PRICE * (long long) n;
        json_decref(balance);
        listed += (int) n;
    }
    cr_assert_eq(listed, RACE_STOCK);
    cr_assert_eq(mismatched, 0, "a balance does not match its redemptions");

    /* A code is used once; a cancelled redemption gives the item back. */
    const char *used = NULL, *cancelled = NULL;
    for (int i = 0; i < RACE_THREADS; i++) {
        if (!attempts[i].code[0])
            continue;
        if (!used)
            used = attempts[i].code;
        else if (!cancelled)
            cancelled = attempts[i].code;
    }
    char path[256];
    snprintf(path, sizeof path, "/v1/loyalty/redemptions/%s/use", used);
    json_t *red = s_call("POST", path, cashier, NULL, 200);
    cr_assert_str_eq(s_str(json_object_get(red, "redemption"), "status"), "used");
    json_decref(red);
    json_decref(s_call("POST", path, cashier, NULL, 409));
    snprintf(path, sizeof path, "/v1/loyalty/redemptions/%s/cancel", cancelled);
    red = s_call("POST", path, ADMIN, "{\"reason\":\"changed their mind\"}", 200);
    cr_assert_str_eq(s_str(json_object_get(red, "redemption"), "status"), "cancelled");
    json_decref(red);
    reward = s_call("GET", "/v1/loyalty/rewards/mug", cashier, NULL, 200);
    cr_assert_eq(s_int(reward, "stock"), 1, "the item is back");
    json_decref(reward);
}

Test(loyalty_api, admin_only_loyalty_routes_refuse_other_roles)
{
    char agent[SECRET_SIZE];
    s_make_key("agent", agent);
    json_decref(s_call("POST", "/v1/loyalty/rules", agent, "{\"kind\":\"survey\",\"fixedPoints\":\"5\"}", 403));
    json_decref(s_call("GET", "/v1/loyalty/audit", agent, NULL, 403));
    /* The admin gets through the gateway and the service's own role check alike. */
    json_t *rule = s_call("POST", "/v1/loyalty/rules", ADMIN,
                          "{\"id\":\"survey-extra\",\"kind\":\"survey\",\"fixedPoints\":\"5\"}", 200);
    cr_assert_str_eq(s_str(rule, "id"), "survey-extra");
    json_decref(rule);
    json_t *rules = s_call("GET", "/v1/loyalty/rules?kind=survey", agent, NULL, 200);
    cr_assert_geq(json_array_size(json_object_get(rules, "rules")), 2);
    json_decref(rules);
    json_decref(s_call("DELETE", "/v1/loyalty/rules/survey-extra", ADMIN, NULL, 204));
    json_t *audit = s_call("GET", "/v1/loyalty/audit", ADMIN, NULL, 200);
    cr_assert_geq(json_array_size(json_object_get(audit, "records")), 2, "the put and the delete");
    json_decref(audit);
}
