/* crm_suite.c: starting the real services on loopback for integration tests, and speaking HTTP to them. */
#include "crm_suite.h"

#include <criterion/criterion.h>
#include <ctype.h>
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "crm_bus.h"
#include "crm_error.h"
#include "crm_event.h"

#define HTTP_TIMEOUT_MS 30000
#define REPLAY_TIMEOUT_MS 5000
#define REPLAY_BATCH 1000

static void s_env_add(crm_suite_t *suite, size_t *n, const char *name, const char *value)
{
    cr_assert_lt(*n, CRM_SUITE_ENV_MAX);
    snprintf(suite->env_text[*n], CRM_SUITE_ENV_SIZE, "%s=%s", name, value);
    suite->env[*n] = suite->env_text[*n];
    (*n)++;
    suite->env[*n] = NULL;
}

void crm_suite_init(crm_suite_t *suite)
{
    memset(suite, 0, sizeof *suite);
    crm_test_tmpdir(suite->dir);
    snprintf(suite->log, sizeof suite->log, "%s/services.log", suite->dir);
    size_t n = 0;
    char value[CRM_SUITE_ENV_SIZE], name[96];
    s_env_add(suite, &n, "CRM_DATA_DIR", suite->dir);
    suite->http_port = crm_test_free_port();
    snprintf(value, sizeof value, "127.0.0.1:%d", suite->http_port);
    snprintf(suite->base_url, sizeof suite->base_url, "http://127.0.0.1:%d", suite->http_port);
    s_env_add(suite, &n, "CRM_HTTP_ADDR", value);
    crm_test_endpoint(suite->ingest_endpoint);
    s_env_add(suite, &n, "CRM_INGEST_ENDPOINT", suite->ingest_endpoint);
    s_env_add(suite, &n, "CRM_ADMIN_KEY", CRM_SUITE_ADMIN_KEY);
    s_env_add(suite, &n, "CRM_LOG_LEVEL", "info");
    /* Tests send many requests with one key; the one about the limit sets it. */
    s_env_add(suite, &n, "CRM_GATEWAY_RATE_LIMIT", "0");
    for (int id = 0; id < CRM_SVC_COUNT; id++) {
        char upper[32];
        const char *svc = crm_service_name((crm_service_id_t) id);
        size_t i = 0;
        for (; svc[i] && i < sizeof upper - 1; i++)
            upper[i] = (char) toupper((unsigned char) svc[i]);
        upper[i] = '\0';
        static const char *const kinds[] = { "RPC", "PUB", "REPLAY" };
        for (size_t k = 0; k < 3; k++) {
            char endpoint[64];
            crm_test_endpoint(endpoint);
            snprintf(name, sizeof name, "CRM_%s_%s_ENDPOINT", upper, kinds[k]);
            s_env_add(suite, &n, name, endpoint);
            if (k == 0)
                snprintf(suite->rpc_endpoints[id], sizeof suite->rpc_endpoints[id], "%s", endpoint);
            if (k == 1)
                snprintf(suite->pub_endpoints[id], sizeof suite->pub_endpoints[id], "%s", endpoint);
            if (k == 2)
                snprintf(suite->replay_endpoints[id], sizeof suite->replay_endpoints[id], "%s", endpoint);
        }
        if (id != CRM_SVC_GATEWAY) {
            suite->health_ports[id] = crm_test_free_port();
            snprintf(name, sizeof name, "CRM_%s_HEALTH_ADDR", upper);
            snprintf(value, sizeof value, "127.0.0.1:%d", suite->health_ports[id]);
            s_env_add(suite, &n, name, value);
        } else {
            suite->health_ports[id] = suite->http_port;
        }
    }
}

void crm_suite_set(crm_suite_t *suite, const char *name, const char *value)
{
    size_t len = strlen(name);
    size_t n = 0;
    for (; suite->env[n]; n++) {
        if (strncmp(suite->env_text[n], name, len) == 0 && suite->env_text[n][len] == '=') {
            snprintf(suite->env_text[n], CRM_SUITE_ENV_SIZE, "%s=%s", name, value);
            return;
        }
    }
    s_env_add(suite, &n, name, value);
}

/* Waits until the gateway, when it runs, reaches every running service: /readyz no longer lists
 * any of them as unavailable (services that are not running may stay listed). */
static bool s_gateway_sees_all(crm_suite_t *suite)
{
    char url[128];
    snprintf(url, sizeof url, "%s/readyz", suite->base_url);
    long long deadline = crm_test_now_ms() + CRM_SUITE_START_MS;
    while (crm_test_now_ms() < deadline) {
        crm_http_response_t r;
        if (crm_http("GET", url, NULL, NULL, 0, &r) == 0) {
            json_t *json = json_loadb(r.body, r.body_len, 0, NULL);
            json_t *down = json_object_get(json, "unavailable");
            bool all = r.status == 200 || (r.status == 503 && json_is_array(down));
            for (size_t i = 0; all && i < json_array_size(down); i++) {
                crm_service_id_t id;
                if (crm_service_parse(json_string_value(json_array_get(down, i)), &id) == 0 && suite->pids[id])
                    all = false;
            }
            json_decref(json);
            crm_http_response_clear(&r);
            if (all)
                return true;
        }
        usleep(20 * 1000);
    }
    return false;
}

void crm_suite_start(crm_suite_t *suite, crm_service_id_t id)
{
    char program[CRM_TEST_PATH_MAX], name[64];
    snprintf(name, sizeof name, "crm-%s", crm_service_name(id));
    crm_test_program(name, program);
    cr_assert_eq(suite->pids[id], 0, "%s is already running", name);
    char *argv[] = { program, NULL };
    suite->pids[id] = crm_test_spawn(argv, suite->env, suite->log);
    bool up = crm_test_wait_port(suite->health_ports[id], CRM_SUITE_START_MS);
    if (!up) {
        crm_test_stop(suite->pids[id], SIGKILL, 1000);
        suite->pids[id] = 0;
    }
    cr_assert(up, "%s did not start; see %s", name, suite->log);
    if (suite->pids[CRM_SVC_GATEWAY])
        cr_assert(s_gateway_sees_all(suite), "the gateway does not reach %s; see %s", name, suite->log);
}

int crm_suite_stop(crm_suite_t *suite, crm_service_id_t id, int sig)
{
    if (!suite->pids[id])
        return -1;
    int status = crm_test_stop(suite->pids[id], sig, 10000);
    suite->pids[id] = 0;
    return status;
}

void crm_suite_destroy(crm_suite_t *suite)
{
    bool clean = true;
    const char *unclean = "";
    for (int id = 0; id < CRM_SVC_COUNT; id++) {
        if (!suite->pids[id])
            continue;
        int status = crm_suite_stop(suite, (crm_service_id_t) id, SIGTERM);
        if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
            clean = false;
            unclean = crm_service_name((crm_service_id_t) id);
        }
    }
    if (clean)
        crm_test_rmtree(suite->dir);
    cr_assert(clean, "%s did not stop cleanly on SIGTERM; see %s", unclean, suite->log);
}

/* --- HTTP through libcurl. */

typedef struct {
    char *data;
    size_t len;
} s_buffer_t;

static size_t s_on_body(char *ptr, size_t size, size_t nmemb, void *arg)
{
    s_buffer_t *b = arg;
    size_t n = size * nmemb;
    char *grown = realloc(b->data, b->len + n + 1);
    if (!grown)
        return 0;
    memcpy(grown + b->len, ptr, n);
    b->data = grown;
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

static void s_header_value(const char *line, size_t len, const char *name, char *out, size_t size)
{
    size_t name_len = strlen(name);
    if (len <= name_len + 1 || strncasecmp(line, name, name_len) != 0 || line[name_len] != ':')
        return;
    const char *v = line + name_len + 1;
    const char *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    snprintf(out, size, "%.*s", (int) (end - v), v);
}

static size_t s_on_header(char *line, size_t size, size_t nmemb, void *arg)
{
    crm_http_response_t *r = arg;
    size_t len = size * nmemb;
    s_header_value(line, len, "Content-Type", r->content_type, sizeof r->content_type);
    s_header_value(line, len, "ETag", r->etag, sizeof r->etag);
    s_header_value(line, len, "Location", r->location, sizeof r->location);
    s_header_value(line, len, "Allow", r->allow, sizeof r->allow);
    s_header_value(line, len, "WWW-Authenticate", r->www_authenticate, sizeof r->www_authenticate);
    s_header_value(line, len, "Retry-After", r->retry_after, sizeof r->retry_after);
    return len;
}

int crm_http(const char *method, const char *url, const char *const *headers, const char *body,
             size_t body_len, crm_http_response_t *response)
{
    memset(response, 0, sizeof *response);
    CURL *curl = curl_easy_init();
    if (!curl)
        return -1;
    struct curl_slist *list = NULL;
    for (size_t i = 0; headers && headers[i]; i++)
        list = curl_slist_append(list, headers[i]);
    list = curl_slist_append(list, "Expect:");
    s_buffer_t buffer = { 0 };
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long) HTTP_TIMEOUT_MS);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, s_on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &buffer);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, s_on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, response);
    if (body) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long) body_len);
    }
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    CURLcode rc = curl_easy_perform(curl);
    if (rc == CURLE_OK)
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response->status);
    curl_slist_free_all(list);
    curl_easy_cleanup(curl);
    if (rc != CURLE_OK) {
        free(buffer.data);
        return -1;
    }
    if (!buffer.data)
        buffer.data = calloc(1, 1);
    response->body = buffer.data;
    response->body_len = buffer.len;
    return 0;
}

void crm_suite_http(crm_suite_t *suite, const char *method, const char *path, const char *key,
                    const char *body, const char *const *headers, crm_http_response_t *response)
{
    char url[1024], auth[256];
    snprintf(url, sizeof url, "%s%s", suite->base_url, path);
    const char *list[24];
    size_t n = 0;
    bool has_type = false;
    for (size_t i = 0; headers && headers[i] && n < 20; i++) {
        list[n++] = headers[i];
        if (strncasecmp(headers[i], "Content-Type:", 13) == 0)
            has_type = true;
    }
    if (key) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", key);
        list[n++] = auth;
    }
    if (body && !has_type)
        list[n++] = "Content-Type: application/json";
    list[n] = NULL;
    int rc = crm_http(method, url, list, body, body ? strlen(body) : 0, response);
    cr_assert_eq(rc, 0, "%s %s: no response; see %s", method, path, suite->log);
}

json_t *crm_http_json(const crm_http_response_t *response)
{
    json_error_t error;
    json_t *json = json_loadb(response->body, response->body_len, 0, &error);
    cr_assert_not_null(json, "response is not JSON (%s): %.300s", error.text, response->body);
    return json;
}

void crm_http_response_clear(crm_http_response_t *response)
{
    free(response->body);
    memset(response, 0, sizeof *response);
}

size_t crm_suite_events(crm_suite_t *suite, crm_service_id_t id, const char *type,
                        Crm__V1__Event **out, size_t max)
{
    void *ctx = zmq_ctx_new();
    crm_bus_replay_client_t *client = NULL;
    cr_assert_eq(crm_bus_replay_client_new(ctx, suite->replay_endpoints[id], &client), 0);
    size_t found = 0;
    uint64_t after = 0, head = 1;
    long long deadline = crm_test_now_ms() + REPLAY_TIMEOUT_MS;
    int rc = 0;
    while (rc == 0 && after < head) {
        crm_bus_batch_t *batch = NULL;
        rc = crm_bus_replay_fetch(client, after, REPLAY_BATCH, REPLAY_TIMEOUT_MS, &batch);
        if (rc == CRM_EUNAVAIL && crm_test_now_ms() < deadline) {
            usleep(10 * 1000);     /* still connecting */
            rc = 0;
            continue;
        }
        if (rc)
            break;
        head = crm_bus_batch_head(batch);
        size_t n = crm_bus_batch_count(batch);
        for (size_t i = 0; i < n; i++) {
            crm_bus_event_t ev;
            crm_bus_batch_event(batch, i, &ev);
            after = ev.seq;
            if (found < max && strlen(type) == ev.topic_len && memcmp(type, ev.topic, ev.topic_len) == 0
                && crm_event_decode(ev.payload, ev.payload_len, &out[found]) == 0)
                found++;
        }
        crm_bus_batch_destroy(&batch);
        if (n == 0)
            break;
    }
    crm_bus_replay_client_destroy(&client);
    zmq_ctx_term(ctx);
    cr_assert_eq(rc, 0, "the %s publisher did not answer a replay: %s", crm_service_name(id),
                 crm_errname(rc));
    return found;
}

json_t *crm_suite_call(crm_suite_t *suite, const char *method, const char *path, const char *key,
                       const char *body, long status)
{
    crm_http_response_t r;
    crm_suite_http(suite, method, path, key, body, NULL, &r);
    cr_assert_eq(r.status, status, "%s %s: %ld %s", method, path, r.status, r.body ? r.body : "");
    json_t *json = r.body_len ? crm_http_json(&r) : NULL;
    crm_http_response_clear(&r);
    return json;
}
