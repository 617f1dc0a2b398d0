/* test_gateway_http.c: the real gateway server in-process on 127.0.0.1, spoken to over HTTP and ZeroMQ, with a stand-in contacts service. */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "crm/v1/contacts_api.pb-c.h"
#include "crm/v1/envelope.pb-c.h"
#include "crm/v1/ingest.pb-c.h"
#include "crm_codec.h"
#include "crm_rpc.h"
#include "crm_test.h"
#include "gateway_routes.h"
#include "gateway_server.h"

#define ADMIN_KEY     "crm_unit_admin_key_0123456789abcdefghijklmnopq"
#define CUSTOMER_ID   "01ARZ3NDEKTSV4RRFFQ69G5FAV"
#define OTHER_ID      "01BX5ZZKBKACTAV9WEVGEMMVRZ"
#define HTTP_TIMEOUT_MS 10000
#define SLOW_MS       700
#define RPC_TIMEOUT   "300ms"

/* --- A stand-in for the contacts service: answers a few methods and remembers what it got. It
 * listens on every other service's request endpoint too (/readyz pings every service with
 * routes): their Ping is answered, their other methods are unknown. */

typedef struct {
    pthread_t thread;
    void *zmq;
    crm_rpc_server_t *server;
    atomic_bool stop;
    pthread_mutex_t lock;
    char method[CRM_RPC_METHOD_SIZE];
    char key_id[CRM_RPC_KEY_ID_SIZE];
    char role[CRM_RPC_ROLE_SIZE];
    uint8_t body[4096];
    size_t body_len;
    int creates;
    int calls;
} s_fake_t;

static s_fake_t fake;
static gateway_server_t *server;
static char dir[CRM_TEST_PATH_MAX];
static char base[64];
static char contacts_endpoint[64];
static char other_endpoints[CRM_SVC_COUNT][64];    /* the services besides contacts and the gateway */

static void
s_reply_customer(crm_rpc_request_t **req, const char *id, const char *name, uint64_t version)
{
    Crm__V1__Customer c = CRM__V1__CUSTOMER__INIT;
    c.id = (char *) id;
    c.name = (char *) name;
    c.version = version;
    Crm__V1__CustomerReply reply = CRM__V1__CUSTOMER_REPLY__INIT;
    reply.customer = &c;
    uint8_t buf[512];
    size_t len = crm__v1__customer_reply__pack(&reply, buf);
    crm_rpc_reply_t r = { .status = CRM_RPC_OK, .body = buf, .body_len = len };
    crm_rpc_server_reply(fake.server, req, &r);
}

static void
s_reply_status(crm_rpc_request_t **req, crm_rpc_status_t status, const char *error, const char *field,
               const char *conflict_id)
{
    crm_rpc_reply_t r = { .status = status, .error = error, .field = field, .conflict_id = conflict_id };
    crm_rpc_server_reply(fake.server, req, &r);
}

static void
s_fake_handle(crm_rpc_request_t **req_p)
{
    crm_rpc_request_t *req = *req_p;
    pthread_mutex_lock(&fake.lock);
    snprintf(fake.method, sizeof fake.method, "%s", req->method);
    snprintf(fake.key_id, sizeof fake.key_id, "%s", req->key_id);
    snprintf(fake.role, sizeof fake.role, "%s", req->role);
    fake.body_len = req->body_len < sizeof fake.body ? req->body_len : 0;
    if (fake.body_len)
        memcpy(fake.body, req->body, fake.body_len);
    fake.calls++;
    fake.creates += strcmp(req->method, "contacts.CreateCustomer") == 0;
    pthread_mutex_unlock(&fake.lock);

    size_t method_len = strlen(req->method);
    if (method_len > 5 && strcmp(req->method + method_len - 5, ".Ping") == 0) {
        s_reply_status(req_p, CRM_RPC_OK, NULL, NULL, NULL);
    } else if (strcmp(req->method, "contacts.GetCustomer") == 0) {
        Crm__V1__GetCustomerRequest *get = crm__v1__get_customer_request__unpack(NULL, req->body_len, req->body);
        if (get && strcmp(get->id, "slow") == 0)
            usleep(SLOW_MS * 1000);
        if (get && strcmp(get->id, CUSTOMER_ID) == 0)
            s_reply_customer(req_p, CUSTOMER_ID, "李伟", 7);
        else
            s_reply_status(req_p, CRM_RPC_NOT_FOUND, "no customer has this id", NULL, NULL);
        crm__v1__get_customer_request__free_unpacked(get, NULL);
    } else if (strcmp(req->method, "contacts.CreateCustomer") == 0) {
        Crm__V1__CreateCustomerRequest *create =
            crm__v1__create_customer_request__unpack(NULL, req->body_len, req->body);
        if (create && create->customer && strcmp(create->customer->email, "taken@example.com") == 0)
            s_reply_status(req_p, CRM_RPC_CONFLICT, "another customer has this email", "email", OTHER_ID);
        else
            s_reply_customer(req_p, CUSTOMER_ID, create && create->customer ? create->customer->name : "", 1);
        crm__v1__create_customer_request__free_unpacked(create, NULL);
    } else if (strcmp(req->method, "contacts.UpdateCustomer") == 0) {
        Crm__V1__UpdateCustomerRequest *update =
            crm__v1__update_customer_request__unpack(NULL, req->body_len, req->body);
        if (update && update->if_match_version && update->if_match_version != 7)
            s_reply_status(req_p, CRM_RPC_PRECONDITION_FAILED, "the customer has changed", NULL, NULL);
        else
            s_reply_customer(req_p, CUSTOMER_ID, update && update->customer ? update->customer->name : "", 8);
        crm__v1__update_customer_request__free_unpacked(update, NULL);
    } else if (strcmp(req->method, "contacts.SearchCustomers") == 0) {
        Crm__V1__SearchCustomersReply reply = CRM__V1__SEARCH_CUSTOMERS_REPLY__INIT;
        uint8_t buf[16];
        size_t len = crm__v1__search_customers_reply__pack(&reply, buf);
        crm_rpc_reply_t r = { .status = CRM_RPC_OK, .body = len ? buf : NULL, .body_len = len };
        crm_rpc_server_reply(fake.server, req_p, &r);
    } else if (strcmp(req->method, "contacts.DeleteCustomer") == 0) {
        s_reply_status(req_p, CRM_RPC_OK, NULL, NULL, NULL);
    } else {
        s_reply_status(req_p, CRM_RPC_UNKNOWN_METHOD, "unknown method", NULL, NULL);
    }
}

static void *
s_fake_run(void *arg)
{
    (void) arg;
    while (!atomic_load(&fake.stop)) {
        zmq_pollitem_t item = { .socket = crm_rpc_server_socket(fake.server), .events = ZMQ_POLLIN };
        if (zmq_poll(&item, 1, 20) <= 0)
            continue;
        crm_rpc_request_t *req = NULL;
        while (crm_rpc_server_recv(fake.server, &req) == 0)
            s_fake_handle(&req);
    }
    return NULL;
}

static void
s_fake_start(void)
{
    fake.zmq = zmq_ctx_new();
    cr_assert_eq(crm_rpc_server_new(fake.zmq, contacts_endpoint, &fake.server), 0);
    for (int id = 0; id < CRM_SVC_COUNT; id++)
        if (other_endpoints[id][0])
            cr_assert_eq(zmq_bind(crm_rpc_server_socket(fake.server), other_endpoints[id]), 0);
    atomic_store(&fake.stop, false);
    pthread_create(&fake.thread, NULL, s_fake_run, NULL);
}

static void
s_fake_stop(void)
{
    if (!fake.zmq)
        return;
    atomic_store(&fake.stop, true);
    pthread_join(fake.thread, NULL);
    crm_rpc_server_destroy(&fake.server);
    zmq_ctx_term(fake.zmq);
    fake.zmq = NULL;
}

/* --- HTTP. */

typedef struct {
    long status;
    char *body;
    size_t body_len;
    char headers[4096];
    size_t headers_len;
} s_resp_t;

static size_t
s_on_body(char *data, size_t size, size_t n, void *arg)
{
    s_resp_t *r = arg;
    char *grown = realloc(r->body, r->body_len + size * n + 1);
    if (!grown)
        return 0;
    r->body = grown;
    memcpy(r->body + r->body_len, data, size * n);
    r->body_len += size * n;
    r->body[r->body_len] = '\0';
    return size * n;
}

static size_t
s_on_header(char *data, size_t size, size_t n, void *arg)
{
    s_resp_t *r = arg;
    size_t len = size * n;
    if (r->headers_len + len < sizeof r->headers) {
        memcpy(r->headers + r->headers_len, data, len);
        r->headers_len += len;
        r->headers[r->headers_len] = '\0';
    }
    return len;
}

/* Finds a response header's value (case-insensitive name) into out; "" when absent. */
static const char *
s_header(const s_resp_t *r, const char *name, char *out, size_t size)
{
    out[0] = '\0';
    size_t n = strlen(name);
    for (const char *line = r->headers; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        if (strncasecmp(line, name, n) == 0 && line[n] == ':') {
            const char *v = line + n + 1;
            while (*v == ' ')
                v++;
            size_t len = strcspn(v, "\r\n");
            snprintf(out, size, "%.*s", (int) (len < size ? len : size - 1), v);
            break;
        }
    }
    return out;
}

typedef struct {
    const char *data;
    size_t len;
    size_t at;
} s_upload_t;

static size_t
s_on_read(char *out, size_t size, size_t n, void *arg)
{
    s_upload_t *u = arg;
    size_t take = u->len - u->at < size * n ? u->len - u->at : size * n;
    memcpy(out, u->data + u->at, take);
    u->at += take;
    return take;
}

/* Sends a request; headers NULL-terminated; key NULL for none; chunked sends the body without a
 * Content-Length. */
static void
s_http_full(const char *method, const char *path, const char *key, const char *body, size_t body_len,
            const char *const *headers, bool chunked, s_resp_t *r)
{
    memset(r, 0, sizeof *r);
    CURL *curl = curl_easy_init();
    cr_assert_not_null(curl);
    struct curl_slist *list = curl_slist_append(NULL, "Expect:");
    char auth[512];
    if (key) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", key);
        list = curl_slist_append(list, auth);
    }
    bool typed = false;
    for (size_t i = 0; headers && headers[i]; i++) {
        list = curl_slist_append(list, headers[i]);
        typed |= strncasecmp(headers[i], "Content-Type:", 13) == 0;
    }
    if (body && !typed)
        list = curl_slist_append(list, "Content-Type: application/json");
    char url[1400];
    snprintf(url, sizeof url, "%s%s", base, path);
    s_upload_t upload = { .data = body, .len = body_len };
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long) HTTP_TIMEOUT_MS);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, s_on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, s_on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, r);
    if (body && chunked) {
        list = curl_slist_append(list, "Transfer-Encoding: chunked");
        curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(curl, CURLOPT_READFUNCTION, s_on_read);
        curl_easy_setopt(curl, CURLOPT_READDATA, &upload);
    } else if (body) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long) body_len);
    }
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
    CURLcode rc = curl_easy_perform(curl);
    if (rc == CURLE_OK)
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(list);
    curl_easy_cleanup(curl);
    cr_assert_eq(rc, CURLE_OK, "%s %s: %s", method, path, curl_easy_strerror(rc));
    if (!r->body)
        r->body = calloc(1, 1);
}

static void
s_http(const char *method, const char *path, const char *key, const char *body,
       const char *const *headers, s_resp_t *r)
{
    s_http_full(method, path, key, body, body ? strlen(body) : 0, headers, false, r);
}

static void
s_clear(s_resp_t *r)
{
    free(r->body);
    memset(r, 0, sizeof *r);
}

static json_t *
s_json(const s_resp_t *r)
{
    json_error_t err;
    json_t *doc = json_loadb(r->body, r->body_len, 0, &err);
    cr_assert_not_null(doc, "not JSON: %s", r->body);
    return doc;
}

/* Checks a problem answer: status, type slug and (when not NULL) field. */
static void
s_expect_problem(const s_resp_t *r, long status, const char *slug, const char *field)
{
    cr_assert_eq(r->status, status, "expected %ld, got %ld: %s", status, r->status, r->body);
    char type[128];
    s_header(r, "Content-Type", type, sizeof type);
    cr_assert_str_eq(type, "application/problem+json");
    json_t *doc = s_json(r);
    char uri[128];
    snprintf(uri, sizeof uri, "https://crm.example/problems/%s", slug);
    cr_assert_str_eq(json_string_value(json_object_get(doc, "type")), uri, "%s", r->body);
    cr_assert_eq(json_integer_value(json_object_get(doc, "status")), status);
    cr_assert_not_null(json_string_value(json_object_get(doc, "detail")));
    if (field)
        cr_assert_str_eq(json_string_value(json_object_get(doc, "field")), field, "%s", r->body);
    json_decref(doc);
}

/* --- Fixture. */

static void
s_env(const char *name, const char *value)
{
    cr_assert_eq(setenv(name, value, 1), 0);
}

static void
s_endpoint_env(const char *name)
{
    char endpoint[64];
    crm_test_endpoint(endpoint);
    s_env(name, endpoint);
}

static void
s_setup_without_contacts(void)
{
    memset(&fake, 0, sizeof fake);
    pthread_mutex_init(&fake.lock, NULL);
    crm_test_tmpdir(dir);
    int port = crm_test_free_port();
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    snprintf(base, sizeof base, "http://127.0.0.1:%d", port);
    crm_test_endpoint(contacts_endpoint);
    s_env("CRM_DATA_DIR", dir);
    s_env("CRM_HTTP_ADDR", addr);
    s_env("CRM_CONTACTS_RPC_ENDPOINT", contacts_endpoint);
    memset(other_endpoints, 0, sizeof other_endpoints);
    for (int id = 0; id < CRM_SVC_COUNT; id++) {
        if (id == CRM_SVC_GATEWAY || id == CRM_SVC_CONTACTS)
            continue;
        char name[64], upper[32];
        const char *svc = crm_service_name((crm_service_id_t) id);
        size_t n = 0;
        for (; svc[n] && n + 1 < sizeof upper; n++)
            upper[n] = (char) (svc[n] - 'a' + 'A');
        upper[n] = '\0';
        snprintf(name, sizeof name, "CRM_%s_RPC_ENDPOINT", upper);
        crm_test_endpoint(other_endpoints[id]);
        s_env(name, other_endpoints[id]);
    }
    s_endpoint_env("CRM_INGEST_ENDPOINT");
    s_endpoint_env("CRM_GATEWAY_PUB_ENDPOINT");
    s_endpoint_env("CRM_GATEWAY_REPLAY_ENDPOINT");
    s_env("CRM_ADMIN_KEY", ADMIN_KEY);
    s_env("CRM_GATEWAY_RPC_TIMEOUT", RPC_TIMEOUT);
    s_env("CRM_GATEWAY_READY_TIMEOUT", "300ms");
    s_env("CRM_HTTP_MAX_BODY", "4KiB");
    s_env("CRM_HTTP_MAX_HEADER", "2KiB");
    s_env("CRM_HTTP_MAX_STRING", "100");
    s_env("CRM_INGEST_MAX_BATCH", "3");
    s_env("CRM_HTTP_THREADS", "4");
    s_env("CRM_LOG_LEVEL", "warn");
    cr_assert_eq(gateway_server_new(&server), 0);
    cr_assert_eq(gateway_server_http_port(server), port);
}

static void
s_setup(void)
{
    s_setup_without_contacts();
    s_fake_start();
    /* Wait until the gateway's connections to contacts are up. */
    long long until = crm_test_now_ms() + 5000;
    for (;;) {
        s_resp_t r;
        s_http("GET", "/readyz", NULL, NULL, NULL, &r);
        long status = r.status;
        s_clear(&r);
        if (status == 200)
            break;
        cr_assert_lt(crm_test_now_ms(), until, "the gateway never became ready");
        usleep(20 * 1000);
    }
}

static void
s_teardown(void)
{
    gateway_server_destroy(&server);
    s_fake_stop();
    pthread_mutex_destroy(&fake.lock);
    crm_test_rmtree(dir);
    crm_test_check_leaks();
}

TestSuite(gateway_http, .init = s_setup, .fini = s_teardown, .timeout = 60);

/* Makes a key with role; writes its secret (size 128) and id (size 32). */
static void
s_make_key(const char *role, char *secret, char *id)
{
    char body[128];
    snprintf(body, sizeof body, "{\"name\":\"%s key\",\"role\":\"%s\"}", role, role);
    s_resp_t r;
    s_http("POST", "/v1/keys", ADMIN_KEY, body, NULL, &r);
    cr_assert_eq(r.status, 201, "%s", r.body);
    json_t *doc = s_json(&r);
    snprintf(secret, 128, "%s", json_string_value(json_object_get(doc, "secret")));
    snprintf(id, 32, "%s", json_string_value(json_object_get(json_object_get(doc, "key"), "id")));
    char location[256], want[256];
    snprintf(want, sizeof want, "/v1/keys/%s", id);
    cr_assert_str_eq(s_header(&r, "Location", location, sizeof location), want);
    json_decref(doc);
    s_clear(&r);
}

/* --- Tests. */

Test(gateway_http, health_readiness_and_metrics_need_no_key)
{
    s_resp_t r;
    s_http("GET", "/healthz", NULL, NULL, NULL, &r);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "{\"status\":\"ok\"}");
    s_clear(&r);
    s_http("GET", "/readyz", NULL, NULL, NULL, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    s_clear(&r);
    s_http("GET", "/v1/contacts/" CUSTOMER_ID, ADMIN_KEY, NULL, NULL, &r);
    cr_assert_eq(r.status, 200);
    s_clear(&r);
    s_http("GET", "/metrics", NULL, NULL, NULL, &r);
    cr_assert_eq(r.status, 200);
    cr_assert_not_null(strstr(r.body, "crm_gateway_http_requests_total{route=\"GET /v1/contacts/{id}\",status=\"200\"} 1"),
                       "%s", r.body);
    cr_assert_not_null(strstr(r.body, "crm_gateway_http_request_seconds_bucket{route=\"GET /v1/contacts/{id}\""));
    cr_assert_not_null(strstr(r.body, "crm_gateway_key_changes_total{action=\"created\"} 1"), "the first admin key");
    s_clear(&r);

    /* Contacts goes away: readiness says who. */
    s_fake_stop();
    s_http("GET", "/readyz", NULL, NULL, NULL, &r);
    cr_assert_eq(r.status, 503);
    json_t *doc = s_json(&r);
    cr_assert_str_eq(json_string_value(json_array_get(json_object_get(doc, "unavailable"), 0)), "contacts");
    json_decref(doc);
    s_clear(&r);
    s_http("GET", "/healthz", NULL, NULL, NULL, &r);
    cr_assert_eq(r.status, 200, "alive all the same");
    s_clear(&r);
}

Test(gateway_http, no_key_an_unknown_key_and_the_wrong_role)
{
    s_resp_t r;
    s_http("GET", "/v1/contacts/" CUSTOMER_ID, NULL, NULL, NULL, &r);
    s_expect_problem(&r, 401, "unauthorized", NULL);
    char value[128];
    cr_assert_str_eq(s_header(&r, "WWW-Authenticate", value, sizeof value), "Bearer realm=\"crm\"");
    s_clear(&r);
    static const char *const basic[] = { "Authorization: Basic YTpi", NULL };
    s_http("GET", "/v1/contacts/" CUSTOMER_ID, NULL, NULL, basic, &r);
    s_expect_problem(&r, 401, "unauthorized", NULL);
    s_clear(&r);
    s_http("GET", "/v1/contacts/" CUSTOMER_ID, "crm_not_a_key_at_all_not_a_key_at_all", NULL, NULL, &r);
    s_expect_problem(&r, 401, "unauthorized", NULL);
    s_clear(&r);

    char analyst[128], analyst_id[32];
    s_make_key("analyst", analyst, analyst_id);
    s_http("DELETE", "/v1/contacts/" CUSTOMER_ID, analyst, NULL, NULL, &r);
    s_expect_problem(&r, 403, "forbidden", NULL);
    s_clear(&r);
    s_http("POST", "/v1/keys", analyst, "{\"name\":\"x\",\"role\":\"admin\"}", NULL, &r);
    s_expect_problem(&r, 403, "forbidden", NULL);
    s_clear(&r);
    int calls = fake.calls;
    s_http("GET", "/v1/contacts/" CUSTOMER_ID, analyst, NULL, NULL, &r);
    cr_assert_eq(r.status, 200);
    s_clear(&r);
    pthread_mutex_lock(&fake.lock);
    cr_assert_eq(fake.calls, calls + 1);
    cr_assert_str_eq(fake.method, "contacts.GetCustomer");
    cr_assert_str_eq(fake.key_id, analyst_id, "the caller goes with the request");
    cr_assert_str_eq(fake.role, "analyst");
    pthread_mutex_unlock(&fake.lock);
}

Test(gateway_http, every_route_and_role_over_http)
{
    static const char *const roles[] = { "agent", "analyst", "integrator" };
    char secrets[4][128], ids[4][32];
    for (size_t i = 0; i < 3; i++)
        s_make_key(roles[i], secrets[i], ids[i]);
    snprintf(secrets[3], 128, "%s", ADMIN_KEY);
    static const Crm__V1__Role role_ids[] = { CRM__V1__ROLE__ROLE_AGENT, CRM__V1__ROLE__ROLE_ANALYST,
                                              CRM__V1__ROLE__ROLE_INTEGRATOR, CRM__V1__ROLE__ROLE_ADMIN };
    size_t wrong = 0, checked = 0;
    for (size_t i = 0; i < gateway_routes_count; i++) {
        const gateway_route_t *route = &gateway_routes[i];
        char path[256] = "";
        for (const char *p = route->pattern; *p;) {
            if (*p == '{') {
                strcat(path, "01J0000000000000000000000Z");
                p = strchr(p, '}') + 1;
            } else {
                strncat(path, p++, 1);
            }
        }
        const char *body = route->flags & GATEWAY_ROUTE_BODY ? "{}" : NULL;
        s_resp_t r;
        s_http(route->method, path, NULL, body, NULL, &r);
        bool public_route = route->flags & GATEWAY_ROUTE_PUBLIC;
        wrong += public_route ? (r.status == 401 || r.status == 403) : r.status != 401;
        checked++;
        s_clear(&r);
        for (size_t k = 0; k < 4 && !public_route; k++) {
            s_http(route->method, path, secrets[k], body, NULL, &r);
            bool allowed = gateway_route_allows(route, role_ids[k]);
            bool ok = r.status != 401 && (allowed ? r.status != 403 : r.status == 403);
            if (!ok)
                cr_log_error("%s %s as %s: %ld %s", route->method, route->pattern, roles[k < 3 ? k : 0],
                             r.status, r.body);
            wrong += !ok;
            checked++;
            s_clear(&r);
        }
    }
    cr_assert_eq(wrong, 0, "%zu of %zu calls broke the table", wrong, checked);
}

Test(gateway_http, keys_are_made_listed_and_revoked_at_once)
{
    char agent[128], agent_id[32];
    s_make_key("agent", agent, agent_id);
    cr_assert_eq(strncmp(agent, "crm_", 4), 0);
    s_resp_t r;
    s_http("GET", "/v1/contacts/" CUSTOMER_ID, agent, NULL, NULL, &r);
    cr_assert_eq(r.status, 200);
    s_clear(&r);

    s_http("GET", "/v1/keys", ADMIN_KEY, NULL, NULL, &r);
    cr_assert_eq(r.status, 200);
    json_t *doc = s_json(&r);
    json_t *keys = json_object_get(doc, "keys");
    cr_assert_eq(json_array_size(keys), 2);
    cr_assert_null(strstr(r.body, agent + 12), "no secret in the listing");
    cr_assert_null(strstr(r.body, "secret"));
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(keys, 1), "role")), "agent");
    json_decref(doc);
    s_clear(&r);

    char path[64];
    snprintf(path, sizeof path, "/v1/keys/%s", agent_id);
    s_http("DELETE", path, ADMIN_KEY, NULL, NULL, &r);
    cr_assert_eq(r.status, 204, "%s", r.body);
    cr_assert_eq(r.body_len, 0);
    s_clear(&r);
    s_http("GET", "/v1/contacts/" CUSTOMER_ID, agent, NULL, NULL, &r);
    s_expect_problem(&r, 401, "unauthorized", NULL);
    s_clear(&r);
    s_http("DELETE", "/v1/keys/01J0000000000000000000000Z", ADMIN_KEY, NULL, NULL, &r);
    s_expect_problem(&r, 404, "not-found", NULL);
    s_clear(&r);

    /* The only admin key stays. */
    s_http("GET", "/v1/keys", ADMIN_KEY, NULL, NULL, &r);
    doc = s_json(&r);
    const char *admin_id = json_string_value(json_object_get(json_array_get(json_object_get(doc, "keys"), 0), "id"));
    snprintf(path, sizeof path, "/v1/keys/%s", admin_id);
    json_decref(doc);
    s_clear(&r);
    s_http("DELETE", path, ADMIN_KEY, NULL, NULL, &r);
    s_expect_problem(&r, 409, "conflict", NULL);
    s_clear(&r);

    s_http("POST", "/v1/keys", ADMIN_KEY, "{\"name\":\"x\",\"role\":\"boss\"}", NULL, &r);
    s_expect_problem(&r, 400, "validation", "role");
    s_clear(&r);
    s_http("POST", "/v1/keys", ADMIN_KEY, "{\"role\":\"agent\"}", NULL, &r);
    s_expect_problem(&r, 400, "validation", "name");
    s_clear(&r);
    static const char *const idem[] = { "Idempotency-Key: k1", NULL };
    s_http("POST", "/v1/keys", ADMIN_KEY, "{\"name\":\"x\",\"role\":\"agent\"}", idem, &r);
    s_expect_problem(&r, 400, "validation", "Idempotency-Key");
    s_clear(&r);
    s_http("GET", "/metrics", NULL, NULL, NULL, &r);
    cr_assert_not_null(strstr(r.body, "crm_gateway_key_changes_total{action=\"revoked\"} 1"));
    cr_assert_not_null(strstr(r.body, "crm_gateway_auth_failures_total{reason=\"unknown\"} 1"));
    s_clear(&r);
}

Test(gateway_http, a_customer_answer_carries_its_etag_and_create_its_location)
{
    s_resp_t r;
    char value[256];
    s_http("GET", "/v1/contacts/" CUSTOMER_ID, ADMIN_KEY, NULL, NULL, &r);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(s_header(&r, "ETag", value, sizeof value), "\"7\"");
    cr_assert_str_eq(s_header(&r, "Content-Type", value, sizeof value), "application/json");
    json_t *doc = s_json(&r);
    cr_assert_str_eq(json_string_value(json_object_get(doc, "id")), CUSTOMER_ID, "the customer itself");
    cr_assert_str_eq(json_string_value(json_object_get(doc, "name")), "李伟");
    cr_assert_str_eq(json_string_value(json_object_get(doc, "version")), "7");
    json_decref(doc);
    s_clear(&r);

    s_http("POST", "/v1/contacts", ADMIN_KEY, "{\"name\":\"Wang Fang\",\"email\":\"wf@example.cn\"}", NULL, &r);
    cr_assert_eq(r.status, 201, "%s", r.body);
    cr_assert_str_eq(s_header(&r, "Location", value, sizeof value), "/v1/contacts/" CUSTOMER_ID);
    cr_assert_str_eq(s_header(&r, "ETag", value, sizeof value), "\"1\"");
    s_clear(&r);
    pthread_mutex_lock(&fake.lock);
    Crm__V1__CreateCustomerRequest *sent = crm__v1__create_customer_request__unpack(NULL, fake.body_len, fake.body);
    pthread_mutex_unlock(&fake.lock);
    cr_assert_not_null(sent);
    cr_assert_str_eq(sent->customer->email, "wf@example.cn", "the body is the customer");
    crm__v1__create_customer_request__free_unpacked(sent, NULL);

    s_http("GET", "/v1/contacts/01J0000000000000000000000Z", ADMIN_KEY, NULL, NULL, &r);
    s_expect_problem(&r, 404, "not-found", NULL);
    s_clear(&r);
    s_http("POST", "/v1/contacts", ADMIN_KEY, "{\"name\":\"X\",\"email\":\"taken@example.com\"}", NULL, &r);
    s_expect_problem(&r, 409, "conflict", "email");
    doc = s_json(&r);
    cr_assert_str_eq(json_string_value(json_object_get(doc, "conflictId")), OTHER_ID);
    json_decref(doc);
    s_clear(&r);
}

Test(gateway_http, patch_sends_the_mask_and_if_match)
{
    static const char *const fresh[] = { "If-Match: \"7\"", NULL };
    static const char *const stale[] = { "If-Match: W/\"3\"", NULL };
    static const char *const bad[] = { "If-Match: 7", NULL };
    s_resp_t r;
    char value[64];
    s_http("PATCH", "/v1/contacts/" CUSTOMER_ID, ADMIN_KEY, "{\"name\":\"New\",\"postal_code\":null,\"email\":null}",
           fresh, &r);
    s_expect_problem(&r, 400, "validation", "postal_code");
    s_clear(&r);
    s_http("PATCH", "/v1/contacts/" CUSTOMER_ID, ADMIN_KEY, "{\"name\":\"New\",\"value_tier\":\"high\",\"email\":null}",
           fresh, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_str_eq(s_header(&r, "ETag", value, sizeof value), "\"8\"");
    s_clear(&r);
    pthread_mutex_lock(&fake.lock);
    Crm__V1__UpdateCustomerRequest *sent = crm__v1__update_customer_request__unpack(NULL, fake.body_len, fake.body);
    pthread_mutex_unlock(&fake.lock);
    cr_assert_not_null(sent);
    cr_assert_str_eq(sent->id, CUSTOMER_ID);
    cr_assert_eq(sent->if_match_version, 7);
    cr_assert_eq(sent->n_update_mask, 3);
    cr_assert_str_eq(sent->update_mask[0], "name");
    cr_assert_str_eq(sent->update_mask[1], "valueTier", "names are normalised to lowerCamelCase");
    cr_assert_str_eq(sent->update_mask[2], "email");
    cr_assert_eq(sent->customer->value_tier, CRM__V1__VALUE_TIER__VALUE_TIER_HIGH);
    crm__v1__update_customer_request__free_unpacked(sent, NULL);

    s_http("PATCH", "/v1/contacts/" CUSTOMER_ID, ADMIN_KEY, "{\"name\":\"New\"}", stale, &r);
    s_expect_problem(&r, 412, "precondition-failed", NULL);
    s_clear(&r);
    s_http("PATCH", "/v1/contacts/" CUSTOMER_ID, ADMIN_KEY, "{\"name\":\"New\"}", bad, &r);
    s_expect_problem(&r, 400, "validation", "If-Match");
    s_clear(&r);
    s_http("DELETE", "/v1/contacts/" CUSTOMER_ID, ADMIN_KEY, NULL, fresh, &r);
    cr_assert_eq(r.status, 204);
    s_clear(&r);
}

Test(gateway_http, search_maps_query_parameters)
{
    s_resp_t r;
    s_http("GET", "/v1/contacts?name=Li&tier=high&field.vip=true&pageSize=10&pageToken=abc", ADMIN_KEY, NULL, NULL, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_str_eq(r.body, "{\"customers\":[]}", "an empty page still has its list");
    s_clear(&r);
    pthread_mutex_lock(&fake.lock);
    Crm__V1__SearchCustomersRequest *sent = crm__v1__search_customers_request__unpack(NULL, fake.body_len, fake.body);
    pthread_mutex_unlock(&fake.lock);
    cr_assert_not_null(sent);
    cr_assert_str_eq(sent->name_prefix, "Li");
    cr_assert_eq(sent->value_tier, CRM__V1__VALUE_TIER__VALUE_TIER_HIGH);
    cr_assert_str_eq(sent->custom_field, "vip");
    cr_assert_str_eq(sent->custom_value, "true");
    cr_assert_eq(sent->page_size, 10);
    cr_assert_str_eq(sent->page_token, "abc");
    crm__v1__search_customers_request__free_unpacked(sent, NULL);

    s_http("GET", "/v1/contacts?colour=red", ADMIN_KEY, NULL, NULL, &r);
    s_expect_problem(&r, 400, "validation", "colour");
    s_clear(&r);
    s_http("GET", "/v1/contacts?pageSize=ten", ADMIN_KEY, NULL, NULL, &r);
    s_expect_problem(&r, 400, "validation", "pageSize");
    s_clear(&r);
    s_http("GET", "/v1/contacts?tier=golden", ADMIN_KEY, NULL, NULL, &r);
    s_expect_problem(&r, 400, "validation", "valueTier");
    s_clear(&r);
    s_http("GET", "/v1/contacts?customField=a&field.b=c", ADMIN_KEY, NULL, NULL, &r);
    s_expect_problem(&r, 400, "validation", NULL);
    s_clear(&r);
}

Test(gateway_http, bad_requests_get_problem_answers)
{
    s_resp_t r;
    char value[128];
    s_http("GET", "/v1/nothing", ADMIN_KEY, NULL, NULL, &r);
    s_expect_problem(&r, 404, "not-found", NULL);
    s_clear(&r);
    s_http("PUT", "/v1/contacts/" CUSTOMER_ID, ADMIN_KEY, "{}", NULL, &r);
    s_expect_problem(&r, 405, "method-not-allowed", NULL);
    cr_assert_str_eq(s_header(&r, "Allow", value, sizeof value), "GET, HEAD, PATCH, DELETE");
    s_clear(&r);
    s_http("POST", "/v1/contacts", ADMIN_KEY, "{\"name\":", NULL, &r);
    s_expect_problem(&r, 400, "malformed-json", NULL);
    s_clear(&r);
    s_http("POST", "/v1/contacts", ADMIN_KEY, "{\"name\":\"a\",\"name\":\"b\"}", NULL, &r);
    s_expect_problem(&r, 400, "malformed-json", NULL);
    s_clear(&r);
    s_http("POST", "/v1/contacts", ADMIN_KEY, "[1]", NULL, &r);
    s_expect_problem(&r, 400, "validation", NULL);
    s_clear(&r);
    s_http("POST", "/v1/contacts", ADMIN_KEY, "{\"nmae\":\"typo\"}", NULL, &r);
    s_expect_problem(&r, 400, "validation", "nmae");
    s_clear(&r);
    s_http("POST", "/v1/contacts", ADMIN_KEY, "{\"address\":{\"city\":7}}", NULL, &r);
    s_expect_problem(&r, 400, "validation", "address.city");
    s_clear(&r);
    char long_name[256];
    snprintf(long_name, sizeof long_name, "{\"name\":\"%0150d\"}", 0);
    s_http("POST", "/v1/contacts", ADMIN_KEY, long_name, NULL, &r);
    s_expect_problem(&r, 400, "validation", "name");
    s_clear(&r);
    static const char *const text[] = { "Content-Type: text/plain", NULL };
    s_http("POST", "/v1/contacts", ADMIN_KEY, "{}", text, &r);
    s_expect_problem(&r, 415, "unsupported-media-type", NULL);
    s_clear(&r);
    s_http("POST", "/v1/contacts", ADMIN_KEY, "", NULL, &r);
    s_expect_problem(&r, 400, "validation", NULL);
    s_clear(&r);
    s_http("POST", "/v1/contacts/" CUSTOMER_ID "/merge", ADMIN_KEY, "{\"survivorId\":\"x\",\"mergedId\":\"y\"}", NULL, &r);
    s_expect_problem(&r, 400, "validation", "survivorId");
    s_clear(&r);
    int calls = fake.calls;
    s_http("GET", "/v1/contacts/" CUSTOMER_ID "/interactions", ADMIN_KEY, NULL, NULL, &r);
    s_expect_problem(&r, 501, "not-implemented", NULL);
    s_clear(&r);
    cr_assert_eq(fake.calls, calls + 1);
}

Test(gateway_http, bodies_and_headers_are_bounded)
{
    size_t big = 5000;
    char *body = malloc(big + 1);
    memset(body, ' ', big);
    body[0] = '{';
    body[big - 1] = '}';
    body[big] = '\0';
    s_resp_t r;
    s_http("POST", "/v1/contacts", ADMIN_KEY, body, NULL, &r);
    s_expect_problem(&r, 413, "payload-too-large", NULL);
    s_clear(&r);
    /* Without a Content-Length the bytes are counted as they come. */
    s_http_full("POST", "/v1/contacts", ADMIN_KEY, body, big, NULL, true, &r);
    s_expect_problem(&r, 413, "payload-too-large", NULL);
    s_clear(&r);
    /* Just under the limit is fine. */
    s_http_full("POST", "/v1/contacts", ADMIN_KEY, body, 4000, NULL, true, &r);
    cr_assert_neq(r.status, 413);
    s_clear(&r);
    free(body);

    /* Headers over CRM_HTTP_MAX_HEADER (2 KiB here): counted by the gateway... */
    char *header = malloc(70000);
    snprintf(header, 70000, "X-Filler: %02500d", 0);
    const char *const headers[] = { header, NULL };
    s_http("GET", "/v1/contacts/" CUSTOMER_ID, ADMIN_KEY, NULL, headers, &r);
    s_expect_problem(&r, 431, "header-too-large", NULL);
    s_clear(&r);
    /* ...just under it they pass... */
    snprintf(header, 70000, "X-Filler: %01800d", 0);
    s_http("GET", "/v1/contacts/" CUSTOMER_ID, ADMIN_KEY, NULL, headers, &r);
    cr_assert_eq(r.status, 200);
    s_clear(&r);
    /* ...and far larger ones never get past libmicrohttpd's connection memory. */
    snprintf(header, 70000, "X-Filler: %060000d", 0);
    s_http("GET", "/v1/contacts/" CUSTOMER_ID, ADMIN_KEY, NULL, headers, &r);
    cr_assert_eq(r.status, 431);
    s_clear(&r);
    free(header);
    s_http("GET", "/healthz", NULL, NULL, NULL, &r);
    cr_assert_eq(r.status, 200, "the server is fine afterwards");
    s_clear(&r);
}

Test(gateway_http, an_idempotency_key_replays_the_first_answer)
{
    static const char *const k1[] = { "Idempotency-Key: create-1", NULL };
    s_resp_t first, again, other;
    char value[64];
    s_http("POST", "/v1/contacts", ADMIN_KEY, "{\"name\":\"Once\"}", k1, &first);
    cr_assert_eq(first.status, 201);
    cr_assert_str_eq(s_header(&first, "Idempotent-Replayed", value, sizeof value), "");
    s_http("POST", "/v1/contacts", ADMIN_KEY, "{\"name\":\"Once\"}", k1, &again);
    cr_assert_eq(again.status, 201);
    cr_assert_str_eq(again.body, first.body);
    cr_assert_str_eq(s_header(&again, "Location", value, sizeof value), "/v1/contacts/" CUSTOMER_ID);
    cr_assert_str_eq(s_header(&again, "ETag", value, sizeof value), "\"1\"");
    cr_assert_str_eq(s_header(&again, "Idempotent-Replayed", value, sizeof value), "true");
    cr_assert_eq(fake.creates, 1, "the service saw one request");
    s_http("POST", "/v1/contacts", ADMIN_KEY, "{\"name\":\"Twice\"}", k1, &other);
    s_expect_problem(&other, 422, "idempotency-key-reuse", "Idempotency-Key");
    cr_assert_eq(fake.creates, 1);
    s_clear(&first);
    s_clear(&again);
    s_clear(&other);

    /* A failure of the service is not kept: the retry runs. */
    s_fake_stop();
    static const char *const k2[] = { "Idempotency-Key: create-2", NULL };
    s_http("POST", "/v1/contacts", ADMIN_KEY, "{\"name\":\"Later\"}", k2, &first);
    s_expect_problem(&first, 503, "service-unavailable", NULL);
    s_clear(&first);
    s_fake_start();
    long long until = crm_test_now_ms() + 5000;
    do {
        usleep(20 * 1000);
        s_http("POST", "/v1/contacts", ADMIN_KEY, "{\"name\":\"Later\"}", k2, &first);
        long status = first.status;
        s_clear(&first);
        if (status == 201)
            break;
        cr_assert_eq(status, 503);
    } while (crm_test_now_ms() < until);
    cr_assert_eq(fake.creates, 2, "the retry ran");
    static const char *const bad[] = { "Idempotency-Key: caf\xc3\xa9", NULL };
    s_http("POST", "/v1/contacts", ADMIN_KEY, "{}", bad, &first);
    s_expect_problem(&first, 400, "validation", "Idempotency-Key");
    s_clear(&first);
}

Test(gateway_http, a_service_that_is_down_or_slow_answers_503_or_504_quickly)
{
    s_fake_stop();
    s_resp_t r;
    long long t0 = crm_test_now_ms();
    s_http("GET", "/v1/contacts/" CUSTOMER_ID, ADMIN_KEY, NULL, NULL, &r);
    long long took = crm_test_now_ms() - t0;
    s_expect_problem(&r, 503, "service-unavailable", NULL);
    cr_assert_not_null(strstr(r.body, "contacts"));
    cr_assert_lt(took, 1000, "no hang: %lld ms", took);
    s_clear(&r);

    s_fake_start();
    long long until = crm_test_now_ms() + 5000;
    for (;;) {
        s_http("GET", "/readyz", NULL, NULL, NULL, &r);
        long status = r.status;
        s_clear(&r);
        if (status == 200)
            break;
        cr_assert_lt(crm_test_now_ms(), until);
        usleep(20 * 1000);
    }
    t0 = crm_test_now_ms();
    s_http("GET", "/v1/contacts/slow", ADMIN_KEY, NULL, NULL, &r);
    took = crm_test_now_ms() - t0;
    s_expect_problem(&r, 504, "timeout", NULL);
    cr_assert_lt(took, SLOW_MS, "the deadline, not the service, ends the wait: %lld ms", took);
    s_clear(&r);
    s_http("GET", "/metrics", NULL, NULL, NULL, &r);
    cr_assert_not_null(strstr(r.body, "crm_gateway_rpc_errors_total{error=\"unreachable\",service=\"contacts\"} 1"));
    cr_assert_not_null(strstr(r.body, "crm_gateway_rpc_errors_total{error=\"deadline\",service=\"contacts\"} 1"));
    s_clear(&r);
}

#define EVENT(id, currency) "{\"specversion\":\"1.0\",\"id\":\"" id "\",\"source\":\"/shop\",\"type\":\"order.placed\"," \
    "\"data\":{\"orderId\":\"o-" id "\",\"customer\":{\"email\":\"a@b.c\"},\"amountMinor\":\"100\",\"currency\":\"" currency "\"}}"

Test(gateway_http, events_are_acknowledged_after_commit_with_one_result_each)
{
    static const char *const structured[] = { "Content-Type: application/cloudevents+json", NULL };
    static const char *const batch[] = { "Content-Type: application/cloudevents-batch+json", NULL };
    char integrator[128], integrator_id[32];
    s_make_key("integrator", integrator, integrator_id);
    s_resp_t r;
    s_http("POST", "/v1/events", integrator, EVENT("e-1", "EUR"), structured, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    json_t *doc = s_json(&r);
    json_t *result = json_array_get(json_object_get(doc, "results"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(result, "outcome")), "accepted", "%s", r.body);
    cr_assert_str_eq(json_string_value(json_object_get(result, "id")), "e-1");
    const char *first_seq = json_string_value(json_object_get(result, "sequence"));
    cr_assert_not_null(first_seq);
    char seq[32];
    snprintf(seq, sizeof seq, "%s", first_seq);
    json_decref(doc);
    s_clear(&r);

    s_http("POST", "/v1/events", integrator, "[" EVENT("e-1", "EUR") "," EVENT("e-2", "eur") "," EVENT("e-3", "EUR") "]",
           batch, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    doc = s_json(&r);
    json_t *results = json_object_get(doc, "results");
    cr_assert_eq(json_array_size(results), 3);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(results, 0), "outcome")), "duplicate");
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(results, 0), "sequence")), seq);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(results, 1), "outcome")), "rejected");
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(results, 1), "field")), "data.currency");
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(results, 2), "outcome")), "accepted");
    json_decref(doc);
    s_clear(&r);

    s_http("POST", "/v1/events", integrator, "[" EVENT("a", "EUR") "," EVENT("b", "EUR") "," EVENT("c", "EUR") "," EVENT("d", "EUR") "]",
           batch, &r);
    s_expect_problem(&r, 413, "batch-too-large", NULL);
    s_clear(&r);
    s_http("POST", "/v1/events", integrator, "{", structured, &r);
    s_expect_problem(&r, 400, "malformed-json", NULL);
    s_clear(&r);
    static const char *const xml[] = { "Content-Type: application/xml", NULL };
    s_http("POST", "/v1/events", integrator, "<e/>", xml, &r);
    s_expect_problem(&r, 415, "unsupported-media-type", NULL);
    s_clear(&r);

    static const char *const binary[] = { "ce-specversion: 1.0", "ce-id: bin-1", "ce-source: /pos",
                                          "ce-type: interaction.logged", NULL };
    s_http("POST", "/v1/events", integrator, "{\"customer\":{\"email\":\"a@b.c\"},\"channel\":\"visit\"}", binary, &r);
    cr_assert_eq(r.status, 200);
    cr_assert_not_null(strstr(r.body, "\"outcome\":\"accepted\""), "%s", r.body);
    s_clear(&r);
    s_http("GET", "/metrics", NULL, NULL, NULL, &r);
    cr_assert_not_null(strstr(r.body, "crm_gateway_ingest_events_total{outcome=\"accepted\",transport=\"http\"} 3"), "%s", r.body);
    cr_assert_not_null(strstr(r.body, "crm_gateway_ingest_events_total{outcome=\"duplicate\",transport=\"http\"} 1"));
    s_clear(&r);
}

/* Sends one envelope over the ingest socket and returns the result (caller frees). */
static Crm__V1__IngestResult *
s_zmq_ingest(void *socket, const char *id, const char *currency)
{
    Crm__V1__CustomerRef ref = CRM__V1__CUSTOMER_REF__INIT;
    ref.email = "z@b.c";
    Crm__V1__OrderPlaced order = CRM__V1__ORDER_PLACED__INIT;
    order.order_id = "zo";
    order.customer = &ref;
    order.currency = (char *) currency;
    uint8_t data[256];
    Crm__V1__Event ev = CRM__V1__EVENT__INIT;
    ev.id = (char *) id;
    ev.source = "/zmq";
    ev.spec_version = "1.0";
    ev.type = "order.placed";
    ev.data.data = data;
    ev.data.len = crm__v1__order_placed__pack(&order, data);
    uint8_t buf[512];
    size_t len = crm__v1__event__pack(&ev, buf);
    cr_assert_eq(zmq_send(socket, buf, len, 0), (int) len);
    uint8_t reply[512];
    int got = zmq_recv(socket, reply, sizeof reply, 0);
    cr_assert_gt(got, 0, "no result within the time-out");
    Crm__V1__IngestResult *result = crm__v1__ingest_result__unpack(NULL, (size_t) got, reply);
    cr_assert_not_null(result);
    return result;
}

Test(gateway_http, the_zeromq_socket_acknowledges_each_envelope)
{
    void *ctx = zmq_ctx_new();
    void *dealer = zmq_socket(ctx, ZMQ_DEALER);
    int timeout = 5000, linger = 0;
    zmq_setsockopt(dealer, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    zmq_setsockopt(dealer, ZMQ_LINGER, &linger, sizeof linger);
    cr_assert_eq(zmq_connect(dealer, gateway_server_ingest_endpoint(server)), 0);
    Crm__V1__IngestResult *r = s_zmq_ingest(dealer, "z-1", "CNY");
    cr_assert_eq(r->outcome, CRM__V1__INGEST_RESULT__OUTCOME__OUTCOME_ACCEPTED, "%s %s", r->field, r->error);
    cr_assert_str_eq(r->id, "z-1");
    cr_assert_gt(r->sequence, 0);
    uint64_t seq = r->sequence;
    crm__v1__ingest_result__free_unpacked(r, NULL);
    r = s_zmq_ingest(dealer, "z-1", "CNY");
    cr_assert_eq(r->outcome, CRM__V1__INGEST_RESULT__OUTCOME__OUTCOME_DUPLICATE);
    cr_assert_eq(r->sequence, seq);
    crm__v1__ingest_result__free_unpacked(r, NULL);
    r = s_zmq_ingest(dealer, "z-2", "cny");
    cr_assert_eq(r->outcome, CRM__V1__INGEST_RESULT__OUTCOME__OUTCOME_REJECTED);
    cr_assert_str_eq(r->field, "data.currency");
    crm__v1__ingest_result__free_unpacked(r, NULL);
    /* Garbage is answered too. */
    cr_assert_eq(zmq_send(dealer, "\xff\xff", 2, 0), 2);
    uint8_t reply[512];
    int got = zmq_recv(dealer, reply, sizeof reply, 0);
    cr_assert_gt(got, 0);
    r = crm__v1__ingest_result__unpack(NULL, (size_t) got, reply);
    cr_assert_eq(r->outcome, CRM__V1__INGEST_RESULT__OUTCOME__OUTCOME_REJECTED);
    crm__v1__ingest_result__free_unpacked(r, NULL);
    zmq_close(dealer);
    zmq_ctx_term(ctx);
}
