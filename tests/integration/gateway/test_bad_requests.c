/* test_bad_requests.c: every kind of bad request a client can make gets a clear 4xx problem and changes nothing. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "crm_bus.h"
#include "crm_error.h"
#include "crm_http_burst.h"
#include "crm_suite.h"

#define ADMIN CRM_SUITE_ADMIN_KEY
#define AUTH "Authorization: Bearer " CRM_SUITE_ADMIN_KEY
#define JSON "Content-Type: application/json"
#define CE_JSON "Content-Type: application/cloudevents+json"
#define CE_BATCH "Content-Type: application/cloudevents-batch+json"
#define PROBLEMS "https://crm.example/problems/"
#define FORGED "crm_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
#define NO_CUSTOMER "01ZZZZZZZZZZZZZZZZZZZZZZZZ"
#define MAX_BODY (1024 * 1024)          /* CRM_HTTP_MAX_BODY's default */
#define MAX_STRING 4096                 /* CRM_HTTP_MAX_STRING's default */
#define MAX_HEADER (16 * 1024)          /* CRM_HTTP_MAX_HEADER's default */
#define MAX_BATCH 1000                  /* CRM_INGEST_MAX_BATCH's default */
#define SETTLE_MS 500                   /* heads unchanged this long: the suite is quiet */
#define SETTLE_WAIT_MS 20000
#define REPLAY_TIMEOUT_MS 5000
#define RAW_TIMEOUT_MS 10000
#define SECRET_SIZE 128
#define ID_SIZE 64
#define PATH_SIZE 2048
#define SLACK 64                        /* room for the JSON around a built body */
#define EVENT_TEXT_MAX 200              /* bytes of one event in the built batch */

static crm_suite_t suite;

static void s_setup(void)
{
    crm_suite_init(&suite);
    crm_suite_start(&suite, CRM_SVC_CONTACTS);
    crm_suite_start(&suite, CRM_SVC_LOYALTY);
    crm_suite_start(&suite, CRM_SVC_FEEDBACK);
    crm_suite_start(&suite, CRM_SVC_GATEWAY);
}

static void s_teardown(void)
{
    crm_suite_destroy(&suite);
    crm_test_check_leaks();
}

TestSuite(bad_requests, .init = s_setup, .fini = s_teardown, .timeout = 120);

/* One bad request and the answer it must get. Paths and headers may hold {cid} (the customer),
 * {agent} and {revoked} (keys' secrets). */
typedef struct {
    const char *name;
    const char *method;
    const char *path;
    const char *auth;          /* a whole header line, or NULL for none */
    const char *ctype;         /* a whole header line, or NULL for none */
    const char *extra;         /* one more header line, or NULL */
    const char *body;          /* NULL: no body */
    size_t body_len;           /* 0: strlen(body) */
    bool raw;                  /* sent byte for byte over a socket (curl would fix it up) */
    long status;
    const char *slug;          /* problem type after PROBLEMS */
    const char *field;         /* expected `field`, or NULL when none is checked */
} s_case_t;

/* What must not move: each publisher's head, and the counts a client sees. */
typedef struct {
    uint64_t heads[CRM_SVC_COUNT];
    size_t customers;
    size_t complaints;
    long long version;
    long long balance;
    size_t keys;
} s_state_t;

static char s_cid[ID_SIZE];
static char s_agent[SECRET_SIZE];
static char s_revoked[SECRET_SIZE];

static const char *s_str(json_t *obj, const char *key)
{
    const char *v = json_string_value(json_object_get(obj, key));
    return v ? v : "";
}

static long long s_int(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (json_is_integer(v))
        return json_integer_value(v);
    return json_is_string(v) ? strtoll(json_string_value(v), NULL, 10) : 0;
}

static json_t *s_call(const char *method, const char *path, const char *body, long status)
{
    crm_http_response_t r;
    crm_suite_http(&suite, method, path, ADMIN, body, NULL, &r);
    long got = r.status;
    char shown[400];
    snprintf(shown, sizeof shown, "%.380s", r.body);
    json_t *json = r.body_len ? json_loadb(r.body, r.body_len, 0, NULL) : NULL;
    crm_http_response_clear(&r);
    if (got != status)
        json_decref(json);
    cr_assert_eq(got, status, "%s %s: %ld %s", method, path, got, shown);
    cr_assert(json || status == 204, "%s %s: not JSON: %s", method, path, shown);
    return json;
}

static uint64_t s_head(void *ctx, crm_service_id_t id)
{
    crm_bus_replay_client_t *client = NULL;
    cr_assert_eq(crm_bus_replay_client_new(ctx, suite.replay_endpoints[id], &client), 0);
    crm_bus_batch_t *batch = NULL;
    long long deadline = crm_test_now_ms() + REPLAY_TIMEOUT_MS;
    int rc;
    while ((rc = crm_bus_replay_fetch(client, 0, 1, REPLAY_TIMEOUT_MS, &batch)) == CRM_EUNAVAIL
           && crm_test_now_ms() < deadline)
        usleep(10 * 1000);
    cr_assert_eq(rc, 0, "%s does not answer replays", crm_service_name(id));
    uint64_t head = crm_bus_batch_head(batch);
    crm_bus_batch_destroy(&batch);
    crm_bus_replay_client_destroy(&client);
    return head;
}

static void s_snapshot(s_state_t *s)
{
    memset(s, 0, sizeof *s);
    void *ctx = zmq_ctx_new();
    static const crm_service_id_t publishers[] = { CRM_SVC_CONTACTS, CRM_SVC_LOYALTY, CRM_SVC_FEEDBACK,
                                                   CRM_SVC_GATEWAY };
    for (size_t i = 0; i < sizeof publishers / sizeof publishers[0]; i++)
        s->heads[publishers[i]] = s_head(ctx, publishers[i]);
    zmq_ctx_term(ctx);
    json_t *j = s_call("GET", "/v1/contacts?pageSize=500", NULL, 200);
    s->customers = json_array_size(json_object_get(j, "customers"));
    json_decref(j);
    j = s_call("GET", "/v1/complaints?pageSize=500", NULL, 200);
    s->complaints = json_array_size(json_object_get(j, "complaints"));
    json_decref(j);
    char path[128];
    snprintf(path, sizeof path, "/v1/contacts/%s", s_cid);
    j = s_call("GET", path, NULL, 200);
    s->version = s_int(j, "version");
    json_decref(j);
    snprintf(path, sizeof path, "/v1/contacts/%s/loyalty", s_cid);
    j = s_call("GET", path, NULL, 200);
    s->balance = s_int(j, "balance");
    json_decref(j);
    j = s_call("GET", "/v1/keys", NULL, 200);
    s->keys = json_array_size(json_object_get(j, "keys"));
    json_decref(j);
}

static bool s_same(const s_state_t *a, const s_state_t *b)
{
    return memcmp(a->heads, b->heads, sizeof a->heads) == 0 && a->customers == b->customers
           && a->complaints == b->complaints && a->version == b->version && a->balance == b->balance
           && a->keys == b->keys;
}

static void s_describe(const s_state_t *s, char *out, size_t size)
{
    snprintf(out, size,
             "heads contacts %llu loyalty %llu feedback %llu gateway %llu; customers %zu, complaints %zu, "
             "version %lld, balance %lld, keys %zu",
             (unsigned long long) s->heads[CRM_SVC_CONTACTS], (unsigned long long) s->heads[CRM_SVC_LOYALTY],
             (unsigned long long) s->heads[CRM_SVC_FEEDBACK], (unsigned long long) s->heads[CRM_SVC_GATEWAY],
             s->customers, s->complaints, s->version, s->balance, s->keys);
}

/* Waits until the asynchronous reactions to the setup are over: the state holds still. */
static void s_settle(s_state_t *state)
{
    long long deadline = crm_test_now_ms() + SETTLE_WAIT_MS;
    s_state_t now;
    s_snapshot(state);
    while (crm_test_now_ms() < deadline) {
        usleep(SETTLE_MS * 1000);
        s_snapshot(&now);
        if (s_same(state, &now))
            return;
        *state = now;
    }
    cr_assert_fail("the suite never settled");
}

/* Makes a customer with points, an agent key and a revoked key. */
static void s_given(void)
{
    json_t *c = s_call("POST", "/v1/contacts", "{\"name\":\"Bad Input\",\"email\":\"bad.input@example.com\"}", 201);
    snprintf(s_cid, sizeof s_cid, "%s", s_str(c, "id"));
    json_decref(c);
    char path[128];
    snprintf(path, sizeof path, "/v1/contacts/%s/loyalty/adjustments", s_cid);
    json_decref(s_call("POST", path, "{\"points\":\"500\",\"reason\":\"seed\",\"adjustmentId\":\"seed-1\"}", 201));
    json_t *k = s_call("POST", "/v1/keys", "{\"name\":\"bad-agent\",\"role\":\"agent\"}", 201);
    snprintf(s_agent, sizeof s_agent, "%s", s_str(k, "secret"));
    json_decref(k);
    k = s_call("POST", "/v1/keys", "{\"name\":\"bad-revoked\",\"role\":\"admin\"}", 201);
    snprintf(s_revoked, sizeof s_revoked, "%s", s_str(k, "secret"));
    snprintf(path, sizeof path, "/v1/keys/%s", s_str(json_object_get(k, "key"), "id"));
    json_decref(k);
    json_decref(s_call("DELETE", path, NULL, 204));
}

/* Replaces {cid}, {agent} and {revoked} in text. */
static void s_expand(const char *text, char *out, size_t size)
{
    size_t n = 0;
    while (*text && n + 1 < size) {
        const char *with = NULL;
        size_t skip = 0;
        static const struct {
            const char *name;
            const char *value;
        } slots[] = { { "{cid}", s_cid }, { "{agent}", s_agent }, { "{revoked}", s_revoked } };
        for (size_t i = 0; i < sizeof slots / sizeof slots[0] && !with; i++) {
            size_t len = strlen(slots[i].name);
            if (strncmp(text, slots[i].name, len) == 0) {
                with = slots[i].value;
                skip = len;
            }
        }
        if (with) {
            n += (size_t) snprintf(out + n, size - n, "%s", with);
            text += skip;
        } else {
            out[n++] = *text++;
        }
    }
    cr_assert_lt(n + 1, size);
    out[n] = '\0';
}

/* The answer, from curl or from a raw socket. */
typedef struct {
    long status;
    char content_type[128];
    char allow[128];
    char www_authenticate[128];
    char *body;
    size_t body_len;
} s_answer_t;

static void s_send(const s_case_t *c, s_answer_t *a)
{
    char path[PATH_SIZE], auth[256], extra[MAX_HEADER * 2];
    s_expand(c->path, path, sizeof path);
    const char *headers[4];
    size_t n = 0;
    if (c->auth) {
        s_expand(c->auth, auth, sizeof auth);
        headers[n++] = auth;
    }
    if (c->ctype)
        headers[n++] = c->ctype;
    if (c->extra) {
        s_expand(c->extra, extra, sizeof extra);
        headers[n++] = extra;
    }
    headers[n] = NULL;
    const char *body = c->body;
    size_t body_len = body ? (c->body_len ? c->body_len : strlen(body)) : 0;
    char *expanded = NULL;
    if (body && !c->body_len) {        /* a body from the table: fill in {cid} */
        size_t size = body_len + SECRET_SIZE * 4 + 1;
        expanded = malloc(size);
        cr_assert_not_null(expanded);
        s_expand(body, expanded, size);
        body = expanded;
        body_len = strlen(expanded);
    }
    memset(a, 0, sizeof *a);
    if (c->raw) {
        static char request[CRM_HTTP_BURST_REQUEST_MAX];
        size_t len = crm_http_burst_request(request, c->method, path, headers, body, body_len);
        free(expanded);
        crm_http_raw_t r;
        cr_assert_eq(crm_http_raw(suite.http_port, request, len, RAW_TIMEOUT_MS, &r), 0,
                     "%s: no answer; see %s", c->name, suite.log);
        a->status = r.status;
        snprintf(a->content_type, sizeof a->content_type, "%s", r.content_type);
        a->body = r.body;
        a->body_len = r.body_len;
        return;
    }
    char url[PATH_SIZE + 64];
    snprintf(url, sizeof url, "%s%s", suite.base_url, path);
    crm_http_response_t r;
    int rc = crm_http(c->method, url, headers, body, body_len, &r);
    free(expanded);
    cr_assert_eq(rc, 0, "%s: no answer; see %s", c->name, suite.log);
    a->status = r.status;
    snprintf(a->content_type, sizeof a->content_type, "%s", r.content_type);
    snprintf(a->allow, sizeof a->allow, "%s", r.allow);
    snprintf(a->www_authenticate, sizeof a->www_authenticate, "%s", r.www_authenticate);
    a->body = r.body;
    a->body_len = r.body_len;
}

/* Sends one case and checks the answer and that nothing changed. Returns false on a failure
 * (reported with cr_expect, so every case runs). */
static bool s_check(const s_case_t *c, s_state_t *before)
{
    s_answer_t a;
    s_send(c, &a);
    bool ok = true;
    char shown[400];
    snprintf(shown, sizeof shown, "%.380s", a.body ? a.body : "");
    cr_log_info("[%s] %ld %.300s", c->name, a.status, shown);
    if (a.status != c->status) {
        cr_expect_fail("[%s] %s %.80s: expected %ld %s, got %ld %s", c->name, c->method, c->path, c->status,
                       c->slug, a.status, shown);
        ok = false;
    }
    if (a.status >= 500)
        cr_log_error("[%s] BUG: server error %ld: %s", c->name, a.status, shown);
    if (strncmp(a.content_type, "application/problem+json", 24) != 0) {
        cr_expect_fail("[%s] Content-Type %s (want application/problem+json): %s", c->name,
                       a.content_type, shown);
        ok = false;
    }
    json_t *p = json_loadb(a.body ? a.body : "", a.body_len, 0, NULL);
    if (!p) {
        cr_expect_fail("[%s] the answer is not JSON: %s", c->name, shown);
        ok = false;
    } else {
        char type[128];
        snprintf(type, sizeof type, PROBLEMS "%s", c->slug);
        if (strcmp(s_str(p, "type"), type) != 0 || !s_str(p, "title")[0] || !s_str(p, "detail")[0]
            || json_integer_value(json_object_get(p, "status")) != a.status) {
            cr_expect_fail("[%s] want type %s with title, detail and status: %s", c->name, type, shown);
            ok = false;
        }
        if (c->field && strcmp(s_str(p, "field"), c->field) != 0) {
            cr_expect_fail("[%s] want field \"%s\": %s", c->name, c->field, shown);
            ok = false;
        }
        json_decref(p);
    }
    if (c->status == 401 && !c->raw && !strstr(a.www_authenticate, "Bearer")) {
        cr_expect_fail("[%s] 401 without WWW-Authenticate: Bearer", c->name);
        ok = false;
    }
    if (c->status == 405 && !c->raw && !a.allow[0]) {
        cr_expect_fail("[%s] 405 without Allow", c->name);
        ok = false;
    }
    free(a.body);
    s_state_t after;
    s_snapshot(&after);
    if (!s_same(before, &after)) {
        char was[256], now[256];
        s_describe(before, was, sizeof was);
        s_describe(&after, now, sizeof now);
        cr_expect_fail("[%s] changed something:\n before %s\n after  %s", c->name, was, now);
        *before = after;
        ok = false;
    }
    return ok;
}

static const s_case_t s_cases[] = {
    /* --- Keys and roles. */
    { "no Authorization", "POST", "/v1/contacts", NULL, JSON, NULL, "{\"name\":\"X\"}", 0, false, 401, "unauthorized", NULL },
    { "Basic scheme", "POST", "/v1/contacts", "Authorization: Basic YWRtaW46YWRtaW4=", JSON, NULL, "{\"name\":\"X\"}", 0, false, 401, "unauthorized", NULL },
    { "Bearer without a key", "POST", "/v1/contacts", "Authorization: Bearer", JSON, NULL, "{\"name\":\"X\"}", 0, true, 401, "unauthorized", NULL },
    { "key without a scheme", "POST", "/v1/contacts", "Authorization: " ADMIN, JSON, NULL, "{\"name\":\"X\"}", 0, false, 401, "unauthorized", NULL },
    { "forged key", "POST", "/v1/contacts", "Authorization: Bearer " FORGED, JSON, NULL, "{\"name\":\"X\"}", 0, false, 401, "unauthorized", NULL },
    { "admin key with a byte more", "POST", "/v1/contacts", AUTH "x", JSON, NULL, "{\"name\":\"X\"}", 0, false, 401, "unauthorized", NULL },
    { "admin key cut short", "POST", "/v1/contacts", "Authorization: Bearer crm_test_admin_key_0123456789", JSON, NULL, "{\"name\":\"X\"}", 0, false, 401, "unauthorized", NULL },
    { "key with invalid UTF-8", "POST", "/v1/contacts", "Authorization: Bearer \xff\xfe\xfd", JSON, NULL, "{\"name\":\"X\"}", 0, true, 401, "unauthorized", NULL },
    { "revoked key", "POST", "/v1/contacts", "Authorization: Bearer {revoked}", JSON, NULL, "{\"name\":\"X\"}", 0, false, 401, "unauthorized", NULL },
    { "agent adjusts points", "POST", "/v1/contacts/{cid}/loyalty/adjustments", "Authorization: Bearer {agent}", JSON, NULL, "{\"points\":\"10\",\"reason\":\"x\"}", 0, false, 403, "forbidden", NULL },
    { "agent makes a key", "POST", "/v1/keys", "Authorization: Bearer {agent}", JSON, NULL, "{\"name\":\"x\",\"role\":\"admin\"}", 0, false, 403, "forbidden", NULL },
    /* --- Routes and methods. */
    { "unknown route", "POST", "/v1/nothing", AUTH, JSON, NULL, "{}", 0, false, 404, "not-found", NULL },
    { "PUT on contacts", "PUT", "/v1/contacts", AUTH, JSON, NULL, "{\"name\":\"X\"}", 0, false, 405, "method-not-allowed", NULL },
    { "DELETE on complaints", "DELETE", "/v1/complaints", AUTH, NULL, NULL, NULL, 0, false, 405, "method-not-allowed", NULL },
    { "PATCH on events", "PATCH", "/v1/events", AUTH, CE_JSON, NULL, "{}", 0, false, 405, "method-not-allowed", NULL },
    /* --- Content type, framing, sizes. */
    { "text/plain body", "POST", "/v1/contacts", AUTH, "Content-Type: text/plain", NULL, "{\"name\":\"X\"}", 0, false, 415, "unsupported-media-type", NULL },
    { "no Content-Type", "POST", "/v1/contacts", AUTH, NULL, NULL, "{\"name\":\"X\"}", 0, true, 415, "unsupported-media-type", NULL },
    { "form body", "POST", "/v1/complaints", AUTH, "Content-Type: application/x-www-form-urlencoded", NULL, "customerId=x&subject=y", 0, false, 415, "unsupported-media-type", NULL },
    { "truncated JSON", "POST", "/v1/contacts", AUTH, JSON, NULL, "{\"name\":\"Trunc", 0, false, 400, "malformed-json", NULL },
    { "truncated in an escape", "POST", "/v1/contacts", AUTH, JSON, NULL, "{\"name\":\"A\\u00", 0, false, 400, "malformed-json", NULL },
    { "truncated JSON object", "POST", "/v1/contacts/{cid}/purchases", AUTH, JSON, NULL, "{\"amountMinor\":\"10\",\"currency\":\"CNY\"", 0, false, 400, "malformed-json", NULL },
    { "empty body", "POST", "/v1/contacts", AUTH, JSON, NULL, "", 0, true, 400, "validation", NULL },
    { "no body on a body route", "POST", "/v1/complaints", AUTH, JSON, NULL, NULL, 0, true, 400, "validation", NULL },
    { "not JSON at all", "POST", "/v1/contacts", AUTH, JSON, NULL, "name=X", 0, false, 400, "malformed-json", NULL },
    { "duplicate keys", "POST", "/v1/contacts", AUTH, JSON, NULL, "{\"name\":\"A\",\"name\":\"B\"}", 0, false, 400, "malformed-json", NULL },
    { "array instead of object", "POST", "/v1/contacts", AUTH, JSON, NULL, "[{\"name\":\"X\"}]", 0, false, 400, "validation", NULL },
    { "invalid UTF-8 in a string", "POST", "/v1/contacts", AUTH, JSON, NULL, "{\"name\":\"Bad \xff\xfe name\"}", 0, false, 400, "malformed-json", NULL },
    { "overlong UTF-8 in a string", "POST", "/v1/complaints", AUTH, JSON, NULL, "{\"customerId\":\"{cid}\",\"channel\":\"email\",\"subject\":\"\xc0\xaf\"}", 0, false, 400, "malformed-json", NULL },
    { "NUL escape in a string", "POST", "/v1/contacts", AUTH, JSON, NULL, "{\"name\":\"A\\u0000B\"}", 0, false, 400, "malformed-json", NULL },
    /* --- Wrong types, missing fields, unknown fields. */
    { "name is a number", "POST", "/v1/contacts", AUTH, JSON, NULL, "{\"name\":42}", 0, false, 400, "validation", "name" },
    { "tags is a string", "POST", "/v1/contacts", AUTH, JSON, NULL, "{\"name\":\"X\",\"tags\":\"vip\"}", 0, false, 400, "validation", "tags" },
    { "tags[1] is an object", "POST", "/v1/contacts", AUTH, JSON, NULL, "{\"name\":\"X\",\"tags\":[\"a\",{}]}", 0, false, 400, "validation", "tags[1]" },
    { "address.city is a number", "POST", "/v1/contacts", AUTH, JSON, NULL, "{\"name\":\"X\",\"address\":{\"city\":5}}", 0, false, 400, "validation", "address.city" },
    { "unknown enum", "POST", "/v1/contacts", AUTH, JSON, NULL, "{\"name\":\"X\",\"valueTier\":\"platinum\"}", 0, false, 400, "validation", "valueTier" },
    { "unknown field", "POST", "/v1/contacts", AUTH, JSON, NULL, "{\"name\":\"X\",\"nickname\":\"y\"}", 0, false, 400, "validation", "nickname" },
    { "name missing", "POST", "/v1/contacts", AUTH, JSON, NULL, "{\"email\":\"nameless@example.com\"}", 0, false, 400, "validation", "name" },
    { "email taken", "POST", "/v1/contacts", AUTH, JSON, NULL, "{\"name\":\"Y\",\"email\":\"BAD.INPUT@example.com\"}", 0, false, 409, "conflict", "email" },
    { "string over the limit", "POST", "/v1/contacts", AUTH, JSON, NULL, NULL /* built */, 1, false, 400, "validation", "name" },
    { "body over the limit", "POST", "/v1/contacts", AUTH, JSON, NULL, NULL /* built */, 2, false, 413, "payload-too-large", NULL },
    { "PATCH email is a number", "PATCH", "/v1/contacts/{cid}", AUTH, JSON, NULL, "{\"email\":12}", 0, false, 400, "validation", "email" },
    { "PATCH a read-only field", "PATCH", "/v1/contacts/{cid}", AUTH, JSON, NULL, "{\"version\":\"9\"}", 0, false, 400, "validation", "version" },
    { "PATCH If-Match not a version", "PATCH", "/v1/contacts/{cid}", AUTH, JSON, "If-Match: \"abc\"", "{\"occupation\":\"x\"}", 0, false, 400, "validation", "If-Match" },
    { "PATCH stale If-Match", "PATCH", "/v1/contacts/{cid}", AUTH, JSON, "If-Match: \"99\"", "{\"occupation\":\"x\"}", 0, false, 412, "precondition-failed", NULL },
    { "PATCH unknown customer", "PATCH", "/v1/contacts/" NO_CUSTOMER, AUTH, JSON, NULL, "{\"occupation\":\"x\"}", 0, false, 404, "not-found", NULL },
    /* --- Numbers. */
    { "amount beyond int64 (string)", "POST", "/v1/contacts/{cid}/purchases", AUTH, JSON, NULL, "{\"amountMinor\":\"99999999999999999999\",\"currency\":\"CNY\"}", 0, false, 400, "validation", "amountMinor" },
    { "amount beyond int64 (number)", "POST", "/v1/contacts/{cid}/purchases", AUTH, JSON, NULL, "{\"amountMinor\":99999999999999999999,\"currency\":\"CNY\"}", 0, false, 400, "malformed-json", NULL },
    { "amount 1e30", "POST", "/v1/contacts/{cid}/purchases", AUTH, JSON, NULL, "{\"amountMinor\":1e30,\"currency\":\"CNY\"}", 0, false, 400, "validation", "amountMinor" },
    { "amount with a fraction", "POST", "/v1/contacts/{cid}/purchases", AUTH, JSON, NULL, "{\"amountMinor\":12.5,\"currency\":\"CNY\"}", 0, false, 400, "validation", "amountMinor" },
    { "amount negative", "POST", "/v1/contacts/{cid}/purchases", AUTH, JSON, NULL, "{\"amountMinor\":\"-5\",\"currency\":\"CNY\"}", 0, false, 400, "validation", "amountMinor" },
    { "amount over 10^15", "POST", "/v1/contacts/{cid}/purchases", AUTH, JSON, NULL, "{\"amountMinor\":\"1000000000000001\",\"currency\":\"CNY\"}", 0, false, 400, "validation", "amountMinor" },
    { "quantity negative (uint32)", "POST", "/v1/contacts/{cid}/purchases", AUTH, JSON, NULL, "{\"amountMinor\":\"10\",\"currency\":\"CNY\",\"items\":[{\"sku\":\"a\",\"quantity\":-1}]}", 0, false, 400, "validation", "items[0].quantity" },
    { "quantity beyond uint32", "POST", "/v1/contacts/{cid}/purchases", AUTH, JSON, NULL, "{\"amountMinor\":\"10\",\"currency\":\"CNY\",\"items\":[{\"sku\":\"a\",\"quantity\":4294967296}]}", 0, false, 400, "validation", "items[0].quantity" },
    { "currency missing", "POST", "/v1/contacts/{cid}/purchases", AUTH, JSON, NULL, "{\"amountMinor\":\"10\"}", 0, false, 400, "validation", "currency" },
    { "currency lower case", "POST", "/v1/contacts/{cid}/purchases", AUTH, JSON, NULL, "{\"amountMinor\":\"10\",\"currency\":\"cny\"}", 0, false, 400, "validation", "currency" },
    { "points not a number", "POST", "/v1/contacts/{cid}/loyalty/adjustments", AUTH, JSON, NULL, "{\"points\":\"ten\",\"reason\":\"x\"}", 0, false, 400, "validation", "points" },
    { "points beyond int64", "POST", "/v1/contacts/{cid}/loyalty/adjustments", AUTH, JSON, NULL, "{\"points\":\"9223372036854775808\",\"reason\":\"x\"}", 0, false, 400, "validation", "points" },
    { "points below int64", "POST", "/v1/contacts/{cid}/loyalty/adjustments", AUTH, JSON, NULL, "{\"points\":\"-9223372036854775809\",\"reason\":\"x\"}", 0, false, 400, "validation", "points" },
    { "points INT64_MIN", "POST", "/v1/contacts/{cid}/loyalty/adjustments", AUTH, JSON, NULL, "{\"points\":\"-9223372036854775808\",\"reason\":\"x\"}", 0, false, 400, "validation", "points" },
    { "points INT64_MAX", "POST", "/v1/contacts/{cid}/loyalty/adjustments", AUTH, JSON, NULL, "{\"points\":\"9223372036854775807\",\"reason\":\"x\"}", 0, false, 400, "validation", "points" },
    { "adjustment reason missing", "POST", "/v1/contacts/{cid}/loyalty/adjustments", AUTH, JSON, NULL, "{\"points\":\"10\"}", 0, false, 400, "validation", "reason" },
    { "expiresAt not a time", "POST", "/v1/contacts/{cid}/loyalty/adjustments", AUTH, JSON, NULL, "{\"points\":\"10\",\"reason\":\"x\",\"expiresAt\":\"tomorrow\"}", 0, false, 400, "validation", "expiresAt" },
    { "customerId in the body", "POST", "/v1/contacts/{cid}/loyalty/redemptions", AUTH, JSON, NULL, "{\"customerId\":\"{cid}\",\"rewardId\":\"mug\"}", 0, false, 400, "validation", "customerId" },
    { "rewardId is a number", "POST", "/v1/contacts/{cid}/loyalty/redemptions", AUTH, JSON, NULL, "{\"rewardId\":5}", 0, false, 400, "validation", "rewardId" },
    { "rewardId missing", "POST", "/v1/contacts/{cid}/loyalty/redemptions", AUTH, JSON, NULL, "{}", 0, false, 400, "validation", "rewardId" },
    { "unknown reward", "POST", "/v1/contacts/{cid}/loyalty/redemptions", AUTH, JSON, NULL, "{\"rewardId\":\"no-such-reward\"}", 0, false, 404, "not-found", "rewardId" },
    /* --- Paths and query parameters. */
    { "invalid UTF-8 in the path (escaped)", "PATCH", "/v1/contacts/%FF%FE", AUTH, JSON, NULL, "{\"occupation\":\"x\"}", 0, false, 400, "validation", "id" },
    { "invalid UTF-8 in the path (raw bytes)", "PATCH", "/v1/contacts/\xff\xfe", AUTH, JSON, NULL, "{\"occupation\":\"x\"}", 0, true, 400, NULL, NULL },
    { "over-long path segment", "PATCH", "/v1/contacts/" "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", AUTH, JSON, NULL, "{\"occupation\":\"x\"}", 0, false, 404, "not-found", NULL },
    { "unknown query parameter", "GET", "/v1/contacts?bogus=1", AUTH, NULL, NULL, NULL, 0, false, 400, "validation", "bogus" },
    { "pageSize not a number", "GET", "/v1/contacts?pageSize=abc", AUTH, NULL, NULL, NULL, 0, false, 400, "validation", "pageSize" },
    { "pageSize negative", "GET", "/v1/contacts?pageSize=-1", AUTH, NULL, NULL, NULL, 0, false, 400, "validation", "pageSize" },
    { "pageSize beyond int64", "GET", "/v1/contacts?pageSize=99999999999999999999", AUTH, NULL, NULL, NULL, 0, false, 400, "validation", "pageSize" },
    { "invalid UTF-8 in a query value", "GET", "/v1/contacts?name=%FF%FE", AUTH, NULL, NULL, NULL, 0, false, 400, "validation", "name" },
    { "bad complaint status filter", "GET", "/v1/complaints?status=lost", AUTH, NULL, NULL, NULL, 0, false, 400, "validation", "status" },
    /* --- Idempotency-Key. */
    { "Idempotency-Key too long", "POST", "/v1/contacts", AUTH, JSON, "Idempotency-Key: " "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk" "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk" "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk" /* 256 */, "{\"name\":\"X\"}", 0, false, 400, "validation", "Idempotency-Key" },
    { "Idempotency-Key empty", "POST", "/v1/contacts", AUTH, JSON, "Idempotency-Key:", "{\"name\":\"X\"}", 0, true, 400, "validation", "Idempotency-Key" },
    { "Idempotency-Key not ASCII", "POST", "/v1/contacts", AUTH, JSON, "Idempotency-Key: cl\xc3\xa9-\xff", "{\"name\":\"X\"}", 0, true, 400, "validation", "Idempotency-Key" },
    { "Idempotency-Key on POST /v1/keys", "POST", "/v1/keys", AUTH, JSON, "Idempotency-Key: k-1", "{\"name\":\"idem\",\"role\":\"agent\"}", 0, false, 400, "validation", "Idempotency-Key" },
    { "header over the limit", "GET", "/v1/contacts", AUTH, NULL, NULL /* built */, NULL, 3, false, 431, "header-too-large", NULL },
    /* --- Feedback: forged answer tokens, complaints. */
    { "forged answer token", "POST", "/v1/answers/forged-token-0123456789", NULL, JSON, NULL, "{\"score\":9}", 0, false, 404, "not-found", NULL },
    { "forged answer token, GET", "GET", "/v1/answers/forged-token-0123456789", NULL, NULL, NULL, NULL, 0, false, 404, "not-found", NULL },
    { "answer token invalid UTF-8", "POST", "/v1/answers/%C0%AF%FF", NULL, JSON, NULL, "{\"score\":9}", 0, false, 400, "validation", "token" },
    { "answer score is a string", "POST", "/v1/answers/forged-token-0123456789", NULL, JSON, NULL, "{\"score\":\"nine\"}", 0, false, 400, "validation", "score" },
    { "answer score beyond int32", "POST", "/v1/answers/forged-token-0123456789", NULL, JSON, NULL, "{\"score\":2147483648}", 0, false, 400, "validation", "score" },
    { "answer with a token in the body", "POST", "/v1/answers/forged-token-0123456789", NULL, JSON, NULL, "{\"token\":\"other\",\"score\":9}", 0, false, 400, "validation", "token" },
    { "complaint subject is a number", "POST", "/v1/complaints", AUTH, JSON, NULL, "{\"customerId\":\"{cid}\",\"channel\":\"email\",\"subject\":5}", 0, false, 400, "validation", "subject" },
    { "complaint without customer", "POST", "/v1/complaints", AUTH, JSON, NULL, "{\"channel\":\"email\",\"subject\":\"x\"}", 0, false, 400, "validation", "customerId" },
    { "complaint without subject or text", "POST", "/v1/complaints", AUTH, JSON, NULL, "{\"customerId\":\"{cid}\",\"channel\":\"email\",\"category\":\"delivery\"}", 0, false, 400, "validation", "text" },
    { "complaint unknown category", "POST", "/v1/complaints", AUTH, JSON, NULL, "{\"customerId\":\"{cid}\",\"channel\":\"email\",\"subject\":\"x\",\"category\":\"aliens\"}", 0, false, 400, "validation", "category" },
    { "complaint subject over 256 bytes", "POST", "/v1/complaints", AUTH, JSON, NULL, "{\"customerId\":\"{cid}\",\"channel\":\"email\",\"category\":\"delivery\",\"text\":\"t\",\"subject\":\"" "ssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssss" "ssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssss" "s" "ssssssssssssssssssssssssssssssssssssssssssssssssssssssss\"}" /* 257 bytes */, 0, false, 400, "validation", "subject" },
    /* --- Ingest: whole requests refused. */
    { "events as text/plain", "POST", "/v1/events", AUTH, "Content-Type: text/plain", NULL, "{}", 0, false, 415, "unsupported-media-type", NULL },
    { "structured event not JSON", "POST", "/v1/events", AUTH, CE_JSON, NULL, "{\"specversion\":\"1.0\",", 0, false, 400, "malformed-json", NULL },
    { "structured event is an array", "POST", "/v1/events", AUTH, CE_JSON, NULL, "[]", 0, false, 400, "validation", NULL },
    { "batch is an object", "POST", "/v1/events", AUTH, CE_BATCH, NULL, "{}", 0, false, 400, "validation", NULL },
    { "batch over the limit", "POST", "/v1/events", AUTH, CE_BATCH, NULL, NULL /* built */, 4, false, 413, "batch-too-large", NULL },
    { "events with invalid UTF-8", "POST", "/v1/events", AUTH, CE_JSON, NULL, "{\"specversion\":\"1.0\",\"id\":\"\xff\",\"source\":\"/s\",\"type\":\"order.placed\",\"data\":{}}", 0, false, 400, "malformed-json", NULL },
    { "events with a forged key", "POST", "/v1/events", "Authorization: Bearer " FORGED, CE_JSON, NULL, "{}", 0, false, 401, "unauthorized", NULL },
};

/* The bodies and headers too big to write out: built here, matched by body_len in the table. */
static char *s_build(size_t which, size_t *len)
{
    char *out = NULL;
    if (which == 1) {            /* a name one byte over the string limit */
        out = malloc(MAX_STRING + SLACK);
        cr_assert_not_null(out);
        int n = snprintf(out, MAX_STRING + SLACK, "{\"name\":\"");
        memset(out + n, 'n', MAX_STRING + 1);
        snprintf(out + n + MAX_STRING + 1, SLACK - (size_t) n, "\"}");
    } else if (which == 2) {     /* a body one byte over the body limit */
        out = malloc(MAX_BODY + SLACK);
        cr_assert_not_null(out);
        int n = snprintf(out, MAX_BODY + SLACK, "{\"name\":\"X\",\"occupation\":\"");
        memset(out + n, 'o', MAX_BODY + 1 - (size_t) n - 2);
        snprintf(out + MAX_BODY + 1 - 2, SLACK, "\"}");
    } else if (which == 3) {     /* a header over the header limit */
        out = malloc(MAX_HEADER + SLACK);
        cr_assert_not_null(out);
        int n = snprintf(out, MAX_HEADER + SLACK, "X-Filler: ");
        memset(out + n, 'f', MAX_HEADER);
        out[n + MAX_HEADER] = '\0';
    } else if (which == 4) {     /* a batch of MAX_BATCH + 1 good events */
        size_t size = (MAX_BATCH + 1) * EVENT_TEXT_MAX + SLACK;
        out = malloc(size);
        cr_assert_not_null(out);
        size_t n = (size_t) snprintf(out, size, "[");
        for (size_t i = 0; i <= MAX_BATCH; i++)
            n += (size_t) snprintf(out + n, size - n,
                                   "%s{\"specversion\":\"1.0\",\"id\":\"big-%zu\",\"source\":\"/bad\","
                                   "\"type\":\"interaction.logged\",\"data\":{\"customer\":{\"email\":"
                                   "\"bad.input@example.com\"},\"channel\":\"email\"}}",
                                   i ? "," : "", i);
        snprintf(out + n, size - n, "]");
    }
    *len = strlen(out);
    return out;
}

Test(bad_requests, every_bad_request_is_a_clear_4xx_and_changes_nothing)
{
    s_given();
    s_state_t state;
    s_settle(&state);
    size_t failed = 0;
    for (size_t i = 0; i < sizeof s_cases / sizeof s_cases[0]; i++) {
        s_case_t c = s_cases[i];
        char *built = NULL;
        if (!c.body && c.body_len) {
            size_t len = 0;
            built = s_build(c.body_len, &len);
            if (c.body_len == 3) {
                c.extra = built;
                c.body_len = 0;
            } else {
                c.body = built;
                c.body_len = len;
            }
        }
        if (!c.slug)        /* the table leaves the slug open: validation or malformed-json */
            c.slug = "validation";
        if (!s_check(&c, &state))
            failed++;
        free(built);
    }
    cr_log_info("%zu bad requests, %zu failed", sizeof s_cases / sizeof s_cases[0], failed);

    /* The control: the same routes with good bodies do change the state, so the checks above
     * would have seen a change. */
    char body[256];
    snprintf(body, sizeof body,
             "{\"customerId\":\"%s\",\"channel\":\"email\",\"category\":\"delivery\",\"subject\":\"s\",\"text\":\"t\"}",
             s_cid);
    json_decref(s_call("POST", "/v1/complaints", body, 201));
    json_decref(s_call("POST", "/v1/contacts", "{\"name\":\"Good Input\"}", 201));
    s_state_t after;
    s_snapshot(&after);
    cr_expect_eq(after.customers, state.customers + 1);
    cr_expect_eq(after.complaints, state.complaints + 1);
    cr_expect_gt(after.heads[CRM_SVC_CONTACTS], state.heads[CRM_SVC_CONTACTS]);
    cr_expect_gt(after.heads[CRM_SVC_FEEDBACK], state.heads[CRM_SVC_FEEDBACK]);
}

/* A single structured CloudEvent that fails the per-event checks is, as the README documents,
 * answered 200 with outcome "rejected" (error and field), and nothing reaches the ingest log. */
Test(bad_requests, rejected_events_are_kept_out_of_the_ingest_log)
{
    s_given();
    s_state_t state;
    s_settle(&state);
    static const struct {
        const char *body;
        const char *field;
    } events[] = {
        { "{\"specversion\":\"0.3\",\"id\":\"e1\",\"source\":\"/bad\",\"type\":\"order.placed\",\"data\":{}}", "specversion" },
        { "{\"specversion\":\"1.0\",\"source\":\"/bad\",\"type\":\"order.placed\",\"data\":{}}", "id" },
        { "{\"specversion\":\"1.0\",\"id\":\"e3\",\"source\":\"/bad\",\"type\":\"order.teleported\",\"data\":{}}", "type" },
        { "{\"specversion\":\"1.0\",\"id\":\"e4\",\"source\":\"/bad\",\"type\":\"order.placed\",\"data\":{\"orderId\":\"o\",\"customer\":{\"email\":\"bad.input@example.com\"},\"currency\":\"CNY\",\"amountMinor\":\"99999999999999999999\"}}", "data.amountMinor" },
        { "{\"specversion\":\"1.0\",\"id\":\"e5\",\"source\":\"/bad\",\"type\":\"order.placed\",\"data\":{\"orderId\":\"o\",\"customer\":{\"email\":\"bad.input@example.com\"},\"currency\":\"CNY\",\"amountMinor\":\"-1\"}}", "data.amountMinor" },
        { "{\"specversion\":\"1.0\",\"id\":\"e6\",\"source\":\"/bad\",\"type\":\"order.placed\",\"data\":{\"orderId\":7}}", "data.orderId" },
        { "{\"specversion\":\"1.0\",\"id\":\"e7\",\"source\":\"/bad\",\"type\":\"order.placed\",\"time\":\"yesterday\",\"data\":{\"orderId\":\"o\",\"customer\":{\"email\":\"bad.input@example.com\"},\"currency\":\"CNY\",\"amountMinor\":\"1\"}}", "time" },
        { "{\"specversion\":\"1.0\",\"id\":\"e8\",\"source\":\"/bad\",\"type\":\"complaint.filed\",\"data\":{\"customer\":{\"email\":\"bad.input@example.com\"}}}", NULL },
    };
    for (size_t i = 0; i < sizeof events / sizeof events[0]; i++) {
        const char *const headers[] = { CE_JSON, NULL };
        crm_http_response_t r;
        crm_suite_http(&suite, "POST", "/v1/events", ADMIN, events[i].body, headers, &r);
        cr_expect(r.status == 200 || (r.status >= 400 && r.status < 500), "event %zu: %ld %s", i,
                  r.status, r.body);
        if (r.status == 200) {
            json_t *j = crm_http_json(&r);
            json_t *result = json_array_get(json_object_get(j, "results"), 0);
            cr_expect_str_eq(s_str(result, "outcome"), "rejected", "event %zu: %s", i, r.body);
            cr_expect_neq(s_str(result, "error")[0], '\0', "event %zu: %s", i, r.body);
            if (events[i].field)
                cr_expect_str_eq(s_str(result, "field"), events[i].field, "event %zu: %s", i, r.body);
            json_decref(j);
        }
        crm_http_response_clear(&r);
        s_state_t after;
        s_snapshot(&after);
        cr_expect(s_same(&state, &after), "event %zu changed something", i);
        state = after;
    }
    /* Binary mode (application/json) without any ce-* header: one rejected event. */
    crm_http_response_t r;
    crm_suite_http(&suite, "POST", "/v1/events", ADMIN, "{\"orderId\":\"x\"}", NULL, &r);
    cr_expect(r.status == 200 || (r.status >= 400 && r.status < 500), "binary: %ld %s", r.status, r.body);
    if (r.status == 200) {
        json_t *j = crm_http_json(&r);
        json_t *result = json_array_get(json_object_get(j, "results"), 0);
        cr_expect_str_eq(s_str(result, "outcome"), "rejected", "binary: %s", r.body);
        cr_expect_str_eq(s_str(result, "field"), "ce-specversion", "binary: %s", r.body);
        json_decref(j);
    }
    crm_http_response_clear(&r);
    s_state_t after;
    s_snapshot(&after);
    cr_expect(s_same(&state, &after), "the binary event changed something");
}
