/* gateway_metrics.c: the gateway's metric series, registered once, updated lock-free. */
#include "gateway_metrics.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>

#include "crm_error.h"

#define S_ROUTES_MAX 256         /* routes in the table, asserted */
#define S_LABELS_MAX 256

static const unsigned s_statuses[] = { 200, 201, 204, 400, 401, 403, 404, 405, 409, 412, 413,
                                       415, 422, 431, 500, 501, 503, 504 };
#define S_STATUS_COUNT (sizeof s_statuses / sizeof s_statuses[0])
#define S_STATUS_OTHER S_STATUS_COUNT

static const char *const s_transports[GATEWAY_TRANSPORT_COUNT] = { "http", "zmq" };
static const char *const s_outcomes[3] = { "accepted", "duplicate", "rejected" };
static const char *const s_rpc_errors[GATEWAY_RPC_ERR_COUNT] = {
    "unreachable", "deadline", "transport", "internal", "unavailable", "timeout"
};
static const char *const s_auth[GATEWAY_AUTH_COUNT] = { "missing", "unknown", "forbidden", "rate_limited" };

struct gateway_metrics {
    /* Rows are routes; the row gateway_routes_count counts requests that matched none. */
    crm_metrics_counter_t *requests[S_ROUTES_MAX + 1][S_STATUS_COUNT + 1];
    crm_metrics_histogram_t *latency[S_ROUTES_MAX + 1];
    crm_metrics_counter_t *ingest[GATEWAY_TRANSPORT_COUNT][3];
    crm_metrics_counter_t *rpc[CRM_SVC_COUNT][GATEWAY_RPC_ERR_COUNT];
    crm_metrics_counter_t *keys[2];
    crm_metrics_counter_t *auth[GATEWAY_AUTH_COUNT];
};

static void
s_route_label(size_t row, char *out, size_t size)
{
    if (row == gateway_routes_count)
        snprintf(out, size, "unmatched");
    else
        snprintf(out, size, "%s %s", gateway_routes[row].method, gateway_routes[row].pattern);
}

int
gateway_metrics_new(crm_metrics_t *reg, gateway_metrics_t **m_p)
{
    assert(reg && m_p);
    assert(gateway_routes_count <= S_ROUTES_MAX);
    *m_p = NULL;
    gateway_metrics_t *m = calloc(1, sizeof *m);
    if (!m)
        return CRM_ENOMEM;
    char labels[S_LABELS_MAX];
    char route[S_LABELS_MAX / 2];
    int rc = 0;
    for (size_t row = 0; rc == 0 && row <= gateway_routes_count; row++) {
        s_route_label(row, route, sizeof route);
        for (size_t s = 0; rc == 0 && s <= S_STATUS_COUNT; s++) {
            char status[16];
            if (s == S_STATUS_OTHER)
                snprintf(status, sizeof status, "other");
            else
                snprintf(status, sizeof status, "%u", s_statuses[s]);
            snprintf(labels, sizeof labels, "route=\"%s\",status=\"%s\"", route, status);
            rc = crm_metrics_counter(reg, "crm_gateway_http_requests_total",
                                     "HTTP requests answered, by route and status.", labels,
                                     &m->requests[row][s]);
        }
        if (rc == 0) {
            snprintf(labels, sizeof labels, "route=\"%s\"", route);
            rc = crm_metrics_histogram(reg, "crm_gateway_http_request_seconds",
                                       "Time from a request's headers to its answer, by route.",
                                       labels, crm_metrics_latency_bounds,
                                       CRM_METRICS_LATENCY_BOUNDS_COUNT, &m->latency[row]);
        }
    }
    for (size_t t = 0; rc == 0 && t < GATEWAY_TRANSPORT_COUNT; t++)
        for (size_t o = 0; rc == 0 && o < 3; o++) {
            snprintf(labels, sizeof labels, "transport=\"%s\",outcome=\"%s\"", s_transports[t],
                     s_outcomes[o]);
            rc = crm_metrics_counter(reg, "crm_gateway_ingest_events_total",
                                     "Integrator events, by transport and outcome.", labels,
                                     &m->ingest[t][o]);
        }
    for (size_t svc = 0; rc == 0 && svc < CRM_SVC_COUNT; svc++)
        for (size_t e = 0; rc == 0 && e < GATEWAY_RPC_ERR_COUNT; e++) {
            snprintf(labels, sizeof labels, "service=\"%s\",error=\"%s\"",
                     crm_service_name((crm_service_id_t) svc), s_rpc_errors[e]);
            rc = crm_metrics_counter(reg, "crm_gateway_rpc_errors_total",
                                     "Forwarded requests that failed, by service and error.",
                                     labels, &m->rpc[svc][e]);
        }
    for (size_t k = 0; rc == 0 && k < 2; k++) {
        snprintf(labels, sizeof labels, "action=\"%s\"", k ? "revoked" : "created");
        rc = crm_metrics_counter(reg, "crm_gateway_key_changes_total",
                                 "API keys created and revoked.", labels, &m->keys[k]);
    }
    for (size_t a = 0; rc == 0 && a < GATEWAY_AUTH_COUNT; a++) {
        snprintf(labels, sizeof labels, "reason=\"%s\"", s_auth[a]);
        rc = crm_metrics_counter(reg, "crm_gateway_auth_failures_total",
                                 "Requests refused for their API key, by reason.", labels,
                                 &m->auth[a]);
    }
    if (rc) {
        free(m);
        return rc;
    }
    *m_p = m;
    return 0;
}

void
gateway_metrics_destroy(gateway_metrics_t **m_p)
{
    if (!m_p || !*m_p)
        return;
    free(*m_p);
    *m_p = NULL;
}

void
gateway_metrics_request(gateway_metrics_t *m, const gateway_route_t *route, unsigned status,
                        double seconds)
{
    assert(m);
    size_t row = route ? gateway_route_index(route) : gateway_routes_count;
    size_t column = S_STATUS_OTHER;
    for (size_t s = 0; s < S_STATUS_COUNT; s++)
        if (s_statuses[s] == status) {
            column = s;
            break;
        }
    crm_metrics_counter_inc(m->requests[row][column]);
    crm_metrics_histogram_observe(m->latency[row], seconds);
}

void
gateway_metrics_ingest(gateway_metrics_t *m, gateway_transport_t transport, size_t accepted,
                       size_t duplicate, size_t rejected)
{
    assert(m && transport < GATEWAY_TRANSPORT_COUNT);
    crm_metrics_counter_add(m->ingest[transport][0], accepted);
    crm_metrics_counter_add(m->ingest[transport][1], duplicate);
    crm_metrics_counter_add(m->ingest[transport][2], rejected);
}

void
gateway_metrics_rpc_error(gateway_metrics_t *m, crm_service_id_t service, gateway_rpc_error_t error)
{
    assert(m && service < CRM_SVC_COUNT && error < GATEWAY_RPC_ERR_COUNT);
    crm_metrics_counter_inc(m->rpc[service][error]);
}

void
gateway_metrics_key_change(gateway_metrics_t *m, bool created)
{
    assert(m);
    crm_metrics_counter_inc(m->keys[created ? 0 : 1]);
}

void
gateway_metrics_auth_failure(gateway_metrics_t *m, gateway_auth_failure_t reason)
{
    assert(m && reason < GATEWAY_AUTH_COUNT);
    crm_metrics_counter_inc(m->auth[reason]);
}
