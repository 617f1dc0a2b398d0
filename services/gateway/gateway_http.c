/* gateway_http.c: the HTTP server: request intake, checks, idempotency, answers, metrics. */
#include "gateway_http.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "crm_config.h"
#include "crm_error.h"
#include "crm_time.h"

#define S_LOG_LINE_MAX 512
#define S_BEARER "Bearer"

struct gateway_http {
    struct MHD_Daemon *daemon;
    gateway_env_t env;
    uint16_t port;
    MHD_socket quiesced;      /* the listen socket after quiescing, closed at stop */
};

static int64_t
s_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * CRM_TIME_US_PER_SECOND + ts.tv_nsec / 1000;
}

static void
s_mhd_log(void *cls, const char *fmt, va_list args)
{
    gateway_http_t *http = cls;
    if (!crm_log_enabled(http->env.log, CRM_LOG_DEBUG))
        return;
    char line[S_LOG_LINE_MAX];
    vsnprintf(line, sizeof line, fmt, args);
    size_t len = strlen(line);
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        line[--len] = '\0';
    crm_log_debug(http->env.log, "http server", "detail", line);
}

/* --- Answering. */

static enum MHD_Result
s_send(gateway_call_t *call)
{
    gateway_answer_t *a = &call->answer;
    assert(a->status);
    struct MHD_Response *response;
    if (a->body) {
        response = MHD_create_response_from_buffer(a->body_len, a->body, MHD_RESPMEM_MUST_FREE);
        if (response) {
            a->body = NULL;    /* MHD frees it */
            a->body_len = 0;
        }
    } else {
        response = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    }
    if (!response)
        return MHD_NO;
    enum MHD_Result ok = MHD_YES;
    if (a->content_type[0])
        ok &= MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, a->content_type);
    ok &= MHD_add_response_header(response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (a->etag[0])
        ok &= MHD_add_response_header(response, MHD_HTTP_HEADER_ETAG, a->etag);
    if (a->location[0])
        ok &= MHD_add_response_header(response, MHD_HTTP_HEADER_LOCATION, a->location);
    if (a->allow[0])
        ok &= MHD_add_response_header(response, MHD_HTTP_HEADER_ALLOW, a->allow);
    if (a->authenticate)
        ok &= MHD_add_response_header(response, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                      "Bearer realm=\"crm\"");
    if (a->replayed)
        ok &= MHD_add_response_header(response, "Idempotent-Replayed", "true");
    if (a->retry_after_s) {
        char retry[16];
        snprintf(retry, sizeof retry, "%u", a->retry_after_s);
        ok &= MHD_add_response_header(response, "Retry-After", retry);
    }
    if (ok == MHD_YES)
        ok = MHD_queue_response(call->conn, a->status, response);
    MHD_destroy_response(response);

    const gateway_env_t *env = call->env;
    double seconds = (double) (s_mono_us() - call->start_us) / 1e6;
    gateway_metrics_request(env->metrics, call->route, a->status, seconds);
    if (a->status >= 500 && !(call->route && (call->route->flags & GATEWAY_ROUTE_PUBLIC))) {
        char status[16];
        snprintf(status, sizeof status, "%u", a->status);
        crm_log_warn(env->log, "request failed", "method", call->method, "path", call->path,
                     "status", status);
    }
    return ok;
}

static enum MHD_Result
s_refuse(gateway_call_t *call, gateway_problem_t problem, const char *field, const char *detail)
{
    gateway_answer_problem(&call->answer, problem, detail, field, NULL);
    call->state = GATEWAY_CALL_ANSWERED;
    return s_send(call);
}

/* --- First look at a request: route, key, role, content type, size, Idempotency-Key. */

/* Finds the token of an "Authorization: Bearer <token>" header. Returns false when malformed. */
static bool
s_bearer(const char *header, const char **token, size_t *len)
{
    const char *p = header;
    while (*p == ' ')
        p++;
    if (strncasecmp(p, S_BEARER, strlen(S_BEARER)) != 0)
        return false;
    p += strlen(S_BEARER);
    if (*p != ' ')
        return false;
    while (*p == ' ')
        p++;
    size_t n = strlen(p);
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    *token = p;
    *len = n;
    return n > 0;
}

static enum MHD_Result
s_authenticate(gateway_call_t *call)
{
    const gateway_env_t *env = call->env;
    const char *header = MHD_lookup_connection_value(call->conn, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_AUTHORIZATION);
    const char *token = NULL;
    size_t len = 0;
    if (!header || !s_bearer(header, &token, &len)) {
        gateway_metrics_auth_failure(env->metrics, GATEWAY_AUTH_MISSING);
        return s_refuse(call, GATEWAY_PROBLEM_UNAUTHORIZED, NULL,
                        "send an API key as Authorization: Bearer <key>");
    }
    int rc = gateway_keys_authenticate(env->keys, token, len, &call->caller);
    if (rc == CRM_ENOTFOUND) {
        gateway_metrics_auth_failure(env->metrics, GATEWAY_AUTH_UNKNOWN);
        return s_refuse(call, GATEWAY_PROBLEM_UNAUTHORIZED, NULL, "the API key is unknown or revoked");
    }
    if (rc) {
        crm_log_error(env->log, "reading keys failed", "error", crm_errname(rc));
        return s_refuse(call, GATEWAY_PROBLEM_UNAVAILABLE, NULL, "the key store cannot be read");
    }
    unsigned retry_s = 0;
    if (env->ratelimit && !gateway_ratelimit_take(env->ratelimit, call->caller.id, s_mono_us(), &retry_s)) {
        gateway_metrics_auth_failure(env->metrics, GATEWAY_AUTH_RATE_LIMITED);
        char detail[128];
        snprintf(detail, sizeof detail, "this key may make %u requests a second (%u at once); retry in %u s",
                 env->settings->rate_limit, env->settings->rate_burst, retry_s);
        gateway_answer_problem(&call->answer, GATEWAY_PROBLEM_RATE_LIMITED, detail, NULL, NULL);
        call->answer.retry_after_s = retry_s;
        call->state = GATEWAY_CALL_ANSWERED;
        return s_send(call);
    }
    if (!gateway_route_allows(call->route, call->caller.role)) {
        gateway_metrics_auth_failure(env->metrics, GATEWAY_AUTH_FORBIDDEN);
        char detail[128];
        snprintf(detail, sizeof detail, "a key with the role %s may not call %s %s",
                 gateway_role_name(call->caller.role), call->route->method, call->route->pattern);
        return s_refuse(call, GATEWAY_PROBLEM_FORBIDDEN, NULL, detail);
    }
    return MHD_YES;
}

static enum MHD_Result
s_check_body_headers(gateway_call_t *call)
{
    const gateway_route_t *route = call->route;
    const gateway_settings_t *settings = call->env->settings;
    const char *length = MHD_lookup_connection_value(call->conn, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (length) {
        char *end = NULL;
        errno = 0;
        unsigned long long n = strtoull(length, &end, 10);
        if (errno == 0 && end != length && n > settings->max_body) {
            char detail[128];
            snprintf(detail, sizeof detail, "the body may hold at most %zu bytes", settings->max_body);
            return s_refuse(call, GATEWAY_PROBLEM_TOO_LARGE, NULL, detail);
        }
        if (errno == 0 && end != length)
            call->body_expected = (size_t) n;
    }
    if (!(route->flags & GATEWAY_ROUTE_BODY))
        return MHD_YES;
    const char *type = MHD_lookup_connection_value(call->conn, MHD_HEADER_KIND,
                                                   MHD_HTTP_HEADER_CONTENT_TYPE);
    if (route->local == GATEWAY_LOCAL_EVENTS) {
        gateway_ce_mode_t mode;
        if (gateway_ce_mode(type, &mode) != 0)
            return s_refuse(call, GATEWAY_PROBLEM_MEDIA_TYPE, NULL,
                            "send " GATEWAY_CE_STRUCTURED_TYPE ", " GATEWAY_CE_BATCH_TYPE " or "
                            GATEWAY_CE_BINARY_TYPE " with ce-* headers");
    } else if (!gateway_media_type_is(type, GATEWAY_JSON)) {
        return s_refuse(call, GATEWAY_PROBLEM_MEDIA_TYPE, NULL,
                        "send the body as Content-Type: application/json");
    }
    return MHD_YES;
}

static enum MHD_Result
s_check_idempotency_key(gateway_call_t *call)
{
    const char *key = MHD_lookup_connection_value(call->conn, MHD_HEADER_KIND, "Idempotency-Key");
    if (!key || strcmp(call->route->method, "GET") == 0)
        return MHD_YES;
    if (!(call->route->flags & GATEWAY_ROUTE_IDEMPOTENT))
        return s_refuse(call, GATEWAY_PROBLEM_VALIDATION, "Idempotency-Key",
                        "this route takes no Idempotency-Key (its answer holds a secret that is "
                        "never stored)");
    if (!gateway_idem_key_acceptable(key)) {
        char detail[128];
        snprintf(detail, sizeof detail, "an Idempotency-Key is 1 to %d printable ASCII characters",
                 GATEWAY_IDEM_KEY_MAX);
        return s_refuse(call, GATEWAY_PROBLEM_VALIDATION, "Idempotency-Key", detail);
    }
    snprintf(call->idem_key, sizeof call->idem_key, "%s", key);
    return MHD_YES;
}

typedef struct {
    size_t bytes;
} s_header_size_t;

static enum MHD_Result
s_count_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void) kind;
    s_header_size_t *size = cls;
    size->bytes += strlen(key) + 4 + (value ? strlen(value) : 0);    /* "key: value\r\n" */
    return MHD_YES;
}

static enum MHD_Result
s_begin(gateway_call_t *call, const char *url)
{
    s_header_size_t size = { .bytes = strlen(call->method) + strlen(url) + 12 };
    MHD_get_connection_values(call->conn, MHD_HEADER_KIND, s_count_header, &size);
    if (size.bytes > call->env->settings->max_header) {
        char detail[128];
        snprintf(detail, sizeof detail, "the request line and headers may hold at most %zu bytes",
                 call->env->settings->max_header);
        return s_refuse(call, GATEWAY_PROBLEM_HEADER_TOO_LARGE, NULL, detail);
    }
    size_t len = strnlen(url, sizeof call->path);
    if (len >= sizeof call->path)
        return s_refuse(call, GATEWAY_PROBLEM_NOT_FOUND, NULL, "the path is too long");
    memcpy(call->path, url, len + 1);
    int rc = gateway_route_find(call->method, call->path, &call->route, &call->values,
                                call->answer.allow);
    if (rc == CRM_ENOTFOUND)
        return s_refuse(call, GATEWAY_PROBLEM_NOT_FOUND, NULL, "no such resource");
    if (rc == CRM_EINVALID) {
        char detail[GATEWAY_ALLOW_MAX + 32];
        snprintf(detail, sizeof detail, "this resource takes %s", call->answer.allow);
        return s_refuse(call, GATEWAY_PROBLEM_METHOD_NOT_ALLOWED, NULL, detail);
    }
    if (call->route->flags & GATEWAY_ROUTE_PUBLIC)
        return s_check_body_headers(call);
    enum MHD_Result ok = s_authenticate(call);
    if (ok == MHD_YES && call->state != GATEWAY_CALL_ANSWERED)
        ok = s_check_body_headers(call);
    if (ok == MHD_YES && call->state != GATEWAY_CALL_ANSWERED)
        ok = s_check_idempotency_key(call);
    return ok;
}

/* --- The body. */

static void
s_take_body(gateway_call_t *call, const char *data, size_t size)
{
    size_t max = call->env->settings->max_body;
    if (call->too_large || size > max - call->body_len) {
        call->too_large = true;
        free(call->body);
        call->body = NULL;
        call->body_len = call->body_cap = 0;
        return;
    }
    if (call->body_len + size > call->body_cap) {
        size_t cap = call->body_cap ? call->body_cap : GATEWAY_HTTP_BODY_FIRST;
        if (!call->body_cap && call->body_expected > cap)
            cap = call->body_expected;      /* Content-Length said how much: one allocation */
        while (cap < call->body_len + size)
            cap *= 2;
        if (cap > max)
            cap = max;
        char *grown = realloc(call->body, cap);
        if (!grown) {
            call->too_large = true;     /* answered 413: we cannot hold it */
            free(call->body);
            call->body = NULL;
            call->body_len = call->body_cap = 0;
            return;
        }
        call->body = grown;
        call->body_cap = cap;
    }
    memcpy(call->body + call->body_len, data, size);
    call->body_len += size;
}

/* --- Running the route, with Idempotency-Key around it. */

static enum MHD_Result
s_collect_query(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void) kind;
    FILE *out = cls;
    fprintf(out, "%s%s%s&", key, value ? "=" : "", value ? value : "");
    return MHD_YES;
}

/* Hashes method, path, query and body into call->idem_hash. Returns 0 or CRM_ENOMEM. */
static int
s_idem_hash(gateway_call_t *call)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    if (!out)
        return CRM_ENOMEM;
    fprintf(out, "%s?", call->path);
    MHD_get_connection_values(call->conn, MHD_GET_ARGUMENT_KIND, s_collect_query, out);
    if (fclose(out) != 0 || !text) {
        free(text);
        return CRM_ENOMEM;
    }
    gateway_idem_hash(call->method, text, call->body, call->body_len, call->idem_hash);
    free(text);
    return 0;
}

static void
s_run(gateway_call_t *call)
{
    const gateway_env_t *env = call->env;
    if (call->too_large) {
        char detail[128];
        snprintf(detail, sizeof detail, "the body may hold at most %zu bytes", env->settings->max_body);
        gateway_answer_problem(&call->answer, GATEWAY_PROBLEM_TOO_LARGE, detail, NULL, NULL);
        call->state = GATEWAY_CALL_ANSWERED;
        return;
    }
    if (call->idem_key[0]) {
        gateway_idem_outcome_t outcome = GATEWAY_IDEM_PROCEED;
        int rc = s_idem_hash(call);
        if (rc == 0)
            rc = gateway_idem_begin(env->idem, call->caller.id, call->idem_key, call->idem_hash,
                                    crm_time_now_us(), &outcome, &call->answer);
        call->state = GATEWAY_CALL_ANSWERED;
        if (rc) {
            crm_log_error(env->log, "idempotency store failed", "error", crm_errname(rc));
            gateway_answer_problem(&call->answer, GATEWAY_PROBLEM_UNAVAILABLE,
                                   "the idempotency store cannot be written", NULL, NULL);
            return;
        }
        switch (outcome) {
        case GATEWAY_IDEM_REPLAY:
            return;
        case GATEWAY_IDEM_MISMATCH:
            gateway_answer_problem(&call->answer, GATEWAY_PROBLEM_KEY_REUSE,
                                   "this Idempotency-Key was used for another request; use a new key",
                                   "Idempotency-Key", NULL);
            return;
        case GATEWAY_IDEM_IN_PROGRESS:
            gateway_answer_problem(&call->answer, GATEWAY_PROBLEM_IN_PROGRESS,
                                   "the first request with this Idempotency-Key is still running; "
                                   "retry later", "Idempotency-Key", NULL);
            return;
        case GATEWAY_IDEM_PROCEED:
            call->idem_reserved = true;
            break;
        }
    }
    gateway_handle(call);
}

/* Keeps the answer of a reserved Idempotency-Key. */
static void
s_idem_finish(gateway_call_t *call)
{
    if (!call->idem_reserved)
        return;
    call->idem_reserved = false;
    int rc = gateway_idem_finish(call->env->idem, call->caller.id, call->idem_key, call->idem_hash,
                                 &call->answer);
    if (rc)
        crm_log_error(call->env->log, "keeping an idempotent answer failed", "error", crm_errname(rc));
}

/* --- MHD callbacks. */

static enum MHD_Result
s_access(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
         const char *version, const char *upload_data, size_t *upload_data_size, void **state)
{
    (void) version;
    gateway_http_t *http = cls;
    gateway_call_t *call = *state;
    if (!call) {
        call = calloc(1, sizeof *call);
        if (!call)
            return MHD_NO;
        *state = call;
        call->env = &http->env;
        call->conn = conn;
        call->method = method;
        call->start_us = s_mono_us();
        return s_begin(call, url);
    }
    if (call->state == GATEWAY_CALL_ANSWERED)
        return MHD_YES;      /* the rest of a refused request's body is discarded */
    if (*upload_data_size) {
        s_take_body(call, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (call->state == GATEWAY_CALL_WAITING)
        gateway_handle_resumed(call);
    else
        s_run(call);
    if (call->state == GATEWAY_CALL_WAITING)
        return MHD_YES;      /* suspended until the service answers or the ingest log commits */
    s_idem_finish(call);
    gateway_audit_call(call);
    return s_send(call);
}

static void
s_completed(void *cls, struct MHD_Connection *conn, void **state,
            enum MHD_RequestTerminationCode code)
{
    (void) cls; (void) conn; (void) code;
    gateway_call_t *call = *state;
    if (!call)
        return;
    /* A call still WAITING here was resumed (by the committer or the RPC dispatcher, which let
     * go of it) and then ended before MHD called us back: its client went away meanwhile. A
     * suspended connection is never completed, so nobody holds a freed call. The work was done
     * all the same: keep its answer for a retry with the same Idempotency-Key, and audit it. */
    if (call->state == GATEWAY_CALL_WAITING
        && (call->idem_reserved || (call->route->flags & GATEWAY_ROUTE_AUDITED))) {
        gateway_handle_resumed(call);
        s_idem_finish(call);
        gateway_audit_call(call);
    }
    gateway_call_clear(call);
    free(call);
    *state = NULL;
}

/* --- Starting and stopping. */

static int
s_resolve(const char *addr, struct sockaddr_storage *sa)
{
    char host[CRM_CONFIG_HOST_MAX];
    uint16_t port;
    if (crm_config_addr_parse(addr, host, sizeof host, &port) != 0)
        return CRM_ECONFIG;
    memset(sa, 0, sizeof *sa);
    struct sockaddr_in *v4 = (struct sockaddr_in *) sa;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *) sa;
    const char *numeric = strcmp(host, "localhost") == 0 ? "127.0.0.1" : host;
    if (inet_pton(AF_INET, numeric, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        return 0;
    }
    if (inet_pton(AF_INET6, numeric, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        return 0;
    }
    return CRM_ECONFIG;
}

int
gateway_http_start(const char *addr, const gateway_env_t *env, gateway_http_t **http_p)
{
    assert(addr && env && env->settings && http_p);
    *http_p = NULL;
    struct sockaddr_storage sa;
    int rc = s_resolve(addr, &sa);
    if (rc)
        return rc;
    gateway_http_t *http = calloc(1, sizeof *http);
    if (!http)
        return CRM_ENOMEM;
    http->env = *env;
    http->quiesced = MHD_INVALID_SOCKET;
    const gateway_settings_t *s = env->settings;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME
                     | MHD_USE_TURBO;
    if (sa.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    http->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, s_access, http,
        MHD_OPTION_EXTERNAL_LOGGER, s_mhd_log, http,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &sa,
        MHD_OPTION_THREAD_POOL_SIZE, s->http_threads,
        MHD_OPTION_CONNECTION_LIMIT, s->max_connections,
        MHD_OPTION_CONNECTION_TIMEOUT, s->http_timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, s->max_header + GATEWAY_HTTP_IO_SLACK,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned) GATEWAY_HTTP_BACKLOG,
        MHD_OPTION_NOTIFY_COMPLETED, s_completed, http,
        MHD_OPTION_END);
    if (!http->daemon) {
        free(http);
        return CRM_EIO;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(http->daemon, MHD_DAEMON_INFO_BIND_PORT);
    if (!info || info->port == 0) {
        MHD_stop_daemon(http->daemon);
        free(http);
        return CRM_EIO;
    }
    http->port = info->port;
    *http_p = http;
    return 0;
}

uint16_t
gateway_http_port(const gateway_http_t *http)
{
    assert(http);
    return http->port;
}

void
gateway_http_quiesce(gateway_http_t *http)
{
    assert(http);
    if (http->quiesced == MHD_INVALID_SOCKET)
        http->quiesced = MHD_quiesce_daemon(http->daemon);
}

void
gateway_http_stop(gateway_http_t **http_p)
{
    if (!http_p || !*http_p)
        return;
    MHD_stop_daemon((*http_p)->daemon);
    if ((*http_p)->quiesced != MHD_INVALID_SOCKET)
        close((*http_p)->quiesced);
    free(*http_p);
    *http_p = NULL;
}
