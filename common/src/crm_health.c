/* crm_health.c: the small HTTP server every service runs for /healthz, /readyz and /metrics. */
#include "crm_health.h"

#include "crm_config.h"
#include "crm_error.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define S_JSON            "application/json"
#define S_PROBLEM_JSON    "application/problem+json"
#define S_METRICS_TYPE    "text/plain; version=0.0.4; charset=utf-8"
#define S_ALLOW           "GET, HEAD"

struct crm_health {
    struct MHD_Daemon *daemon;
    crm_metrics_t *metrics;          /* borrowed; NULL for none */
    crm_health_ready_fn ready;       /* borrowed; NULL for always ready */
    void *arg;
    uint16_t port;
};

/* Common code never logs: MHD's messages go nowhere. */
static void
s_quiet(void *cls, const char *fmt, va_list args)
{
    (void) cls; (void) fmt; (void) args;
}

/* Queues one answer. body is copied unless owned is true, in which case MHD takes it over and
 * frees it with free(). */
static enum MHD_Result
s_answer(struct MHD_Connection *conn, unsigned status, const char *type, char *body, size_t len,
         bool owned)
{
    struct MHD_Response *response = MHD_create_response_from_buffer(
        len, body, owned ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_MUST_COPY);
    if (!response) {
        if (owned)
            free(body);
        return MHD_NO;
    }
    enum MHD_Result rc = MHD_YES;
    if (MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, type) != MHD_YES
        || MHD_add_response_header(response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store") != MHD_YES
        || (status == MHD_HTTP_METHOD_NOT_ALLOWED
            && MHD_add_response_header(response, MHD_HTTP_HEADER_ALLOW, S_ALLOW) != MHD_YES))
        rc = MHD_NO;
    if (rc == MHD_YES)
        rc = MHD_queue_response(conn, status, response);
    MHD_destroy_response(response);
    return rc;
}

static enum MHD_Result
s_answer_text(struct MHD_Connection *conn, unsigned status, const char *type, const char *body)
{
    return s_answer(conn, status, type, (char *) body, strlen(body), false);
}

/* An RFC 9457 problem. title and detail are constant ASCII, so no escaping is needed. */
static enum MHD_Result
s_problem(struct MHD_Connection *conn, unsigned status, const char *title, const char *detail)
{
    json_t *doc = json_pack("{s:s, s:s, s:i, s:s}", "type", "about:blank", "title", title,
                            "status", (int) status, "detail", detail);
    char *body = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (!body)
        return MHD_NO;
    return s_answer(conn, status, S_PROBLEM_JSON, body, strlen(body), true);
}

static enum MHD_Result
s_readyz(crm_health_t *health, struct MHD_Connection *conn)
{
    char reason[CRM_HEALTH_REASON_MAX] = "";
    if (!health->ready || health->ready(health->arg, reason, sizeof reason))
        return s_answer_text(conn, MHD_HTTP_OK, S_JSON, "{\"status\":\"ready\"}");

    /* The reason is the service's own text: keep it printable ASCII, then let jansson quote it. */
    reason[sizeof reason - 1] = '\0';
    for (char *p = reason; *p; p++)
        if ((unsigned char) *p < 0x20 || (unsigned char) *p > 0x7E)
            *p = '?';
    json_t *doc = json_pack("{s:s, s:s}", "status", "not ready", "reason", reason);
    char *body = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (!body)
        return MHD_NO;
    return s_answer(conn, MHD_HTTP_SERVICE_UNAVAILABLE, S_JSON, body, strlen(body), true);
}

static enum MHD_Result
s_metrics(crm_health_t *health, struct MHD_Connection *conn)
{
    if (!health->metrics)
        return s_problem(conn, MHD_HTTP_NOT_FOUND, "Not Found", "this service has no metrics");
    char *text = NULL;
    size_t len = 0;
    if (crm_metrics_render(health->metrics, &text, &len) != 0)
        return s_problem(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "Internal Server Error",
                         "the metrics could not be rendered");
    return s_answer(conn, MHD_HTTP_OK, S_METRICS_TYPE, text, len, true);
}

/* MHD calls this for every request, once at least; every route answers at the first call,
 * before any request body is read (MHD then closes the connection after the answer). */
static enum MHD_Result
s_handle(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
         const char *version, const char *upload_data, size_t *upload_data_size, void **state)
{
    (void) version; (void) upload_data; (void) upload_data_size; (void) state;
    crm_health_t *health = cls;
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return s_problem(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "Method Not Allowed",
                         "only GET and HEAD are served here");
    if (strcmp(url, "/healthz") == 0)
        return s_answer_text(conn, MHD_HTTP_OK, S_JSON, "{\"status\":\"ok\"}");
    if (strcmp(url, "/readyz") == 0)
        return s_readyz(health, conn);
    if (strcmp(url, "/metrics") == 0)
        return s_metrics(health, conn);
    return s_problem(conn, MHD_HTTP_NOT_FOUND, "Not Found",
                     "no such resource; try /healthz, /readyz or /metrics");
}

/* Turns addr into a socket address. Returns 0 or CRM_ECONFIG. */
static int
s_resolve(const char *addr, struct sockaddr_storage *sa, socklen_t *sa_len)
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
        *sa_len = sizeof *v4;
        return 0;
    }
    if (inet_pton(AF_INET6, numeric, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        *sa_len = sizeof *v6;
        return 0;
    }
    return CRM_ECONFIG;   /* names other than localhost are not looked up */
}

/* After MHD failed to start: tries the bind alone to tell why. */
static int
s_bind_error(const struct sockaddr_storage *sa, socklen_t sa_len)
{
    int fd = socket(sa->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return errno == EAFNOSUPPORT ? CRM_ECONFIG : CRM_EIO;
    int on = 1;
    int rc = CRM_EIO;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (bind(fd, (const struct sockaddr *) sa, sa_len) != 0) {
        switch (errno) {
        case EACCES:        rc = CRM_EDENIED; break;
        case EADDRNOTAVAIL: rc = CRM_ECONFIG; break;
        default:            rc = CRM_EIO; break;   /* EADDRINUSE above all */
        }
    }
    close(fd);
    return rc;
}

int
crm_health_start(const char *addr, crm_metrics_t *metrics, crm_health_ready_fn ready,
                 void *arg, crm_health_t **health_p)
{
    assert(health_p);
    *health_p = NULL;
    struct sockaddr_storage sa;
    socklen_t sa_len = 0;
    int rc = s_resolve(addr, &sa, &sa_len);
    if (rc)
        return rc;

    crm_health_t *health = calloc(1, sizeof *health);
    if (!health)
        return CRM_ENOMEM;
    health->metrics = metrics;
    health->ready = ready;
    health->arg = arg;

    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL;
    if (sa.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    /* The logger goes first so that nothing is printed while the daemon starts. */
    health->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, s_handle, health,
        MHD_OPTION_EXTERNAL_LOGGER, s_quiet, NULL,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &sa,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned) CRM_HEALTH_THREADS,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned) CRM_HEALTH_MAX_CONNECTIONS,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) CRM_HEALTH_TIMEOUT_S,
        MHD_OPTION_END);
    if (!health->daemon) {
        rc = s_bind_error(&sa, sa_len);
        goto out;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(health->daemon,
                                                           MHD_DAEMON_INFO_BIND_PORT);
    if (!info || info->port == 0) {
        rc = CRM_EIO;
        goto out;
    }
    health->port = info->port;
    *health_p = health;
    health = NULL;
out:
    if (health) {
        if (health->daemon)
            MHD_stop_daemon(health->daemon);
        free(health);
    }
    return rc;
}

uint16_t
crm_health_port(const crm_health_t *health)
{
    assert(health);
    return health->port;
}

void
crm_health_stop(crm_health_t **health_p)
{
    if (!health_p || !*health_p)
        return;
    crm_health_t *health = *health_p;
    MHD_stop_daemon(health->daemon);
    free(health);
    *health_p = NULL;
}
