/* gateway_metrics.h: the gateway's metrics: requests by route and status, latency, ingest outcomes, RPC errors, keys. */
#ifndef GATEWAY_METRICS_H
#define GATEWAY_METRICS_H

#include <stddef.h>

#include "crm_config.h"
#include "crm_metrics.h"
#include "gateway_routes.h"

/* Families (all series registered at start, so updates never lock):
 *   crm_gateway_http_requests_total{route="GET /v1/contacts/{id}",status="200"}  counter
 *     (route "unmatched" for requests that match no route; status "other" beyond the usual set)
 *   crm_gateway_http_request_seconds{route=...}                                   histogram
 *   crm_gateway_ingest_events_total{transport="http|zmq",outcome="accepted|duplicate|rejected"}
 *   crm_gateway_rpc_errors_total{service="contacts",error="unreachable|deadline|transport|
 *     internal|unavailable|timeout"}  (the last three as the service answered them)
 *   crm_gateway_key_changes_total{action="created|revoked"}
 *   crm_gateway_auth_failures_total{reason="missing|unknown|forbidden"} */

typedef struct gateway_metrics gateway_metrics_t;

typedef enum { GATEWAY_TRANSPORT_HTTP = 0, GATEWAY_TRANSPORT_ZMQ, GATEWAY_TRANSPORT_COUNT } gateway_transport_t;

typedef enum {
    GATEWAY_RPC_ERR_UNREACHABLE = 0,   /* CRM_EUNAVAIL: no server connected */
    GATEWAY_RPC_ERR_DEADLINE,          /* CRM_ETIMEOUT: no answer in time */
    GATEWAY_RPC_ERR_TRANSPORT,         /* another failure of the call */
    GATEWAY_RPC_ERR_INTERNAL,          /* the service answered INTERNAL (or an unknown status) */
    GATEWAY_RPC_ERR_UNAVAILABLE,       /* ... UNAVAILABLE */
    GATEWAY_RPC_ERR_TIMEOUT,           /* ... TIMEOUT */
    GATEWAY_RPC_ERR_COUNT
} gateway_rpc_error_t;

typedef enum {
    GATEWAY_AUTH_MISSING = 0, GATEWAY_AUTH_UNKNOWN, GATEWAY_AUTH_FORBIDDEN, GATEWAY_AUTH_RATE_LIMITED, GATEWAY_AUTH_COUNT
} gateway_auth_failure_t;

/* Registers every series in reg (borrowed; it must outlive the result). Returns 0 and sets *m_p
 * (caller destroys), or an error of crm_metrics_counter/histogram. */
int gateway_metrics_new(crm_metrics_t *reg, gateway_metrics_t **m_p);

/* Frees it (the series stay in the registry). Safe on NULL; sets *m_p to NULL. */
void gateway_metrics_destroy(gateway_metrics_t **m_p);

/* Counts one answered request; route is NULL when none matched. Lock-free. */
void gateway_metrics_request(gateway_metrics_t *m, const gateway_route_t *route, unsigned status,
                             double seconds);

void gateway_metrics_ingest(gateway_metrics_t *m, gateway_transport_t transport, size_t accepted,
                            size_t duplicate, size_t rejected);

void gateway_metrics_rpc_error(gateway_metrics_t *m, crm_service_id_t service, gateway_rpc_error_t error);

void gateway_metrics_key_change(gateway_metrics_t *m, bool created);

void gateway_metrics_auth_failure(gateway_metrics_t *m, gateway_auth_failure_t reason);

#endif
