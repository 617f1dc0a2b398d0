/* gateway_handlers.h: one function per route kind: forwarding to a service, keys, events, health. */
#ifndef GATEWAY_HANDLERS_H
#define GATEWAY_HANDLERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <microhttpd.h>

#include "crm_log.h"
#include "crm_metrics.h"
#include "crm_rpc.h"
#include "gateway_answer.h"
#include "gateway_cloudevents.h"
#include "gateway_idempotency.h"
#include "gateway_ingest.h"
#include "gateway_keys.h"
#include "gateway_metrics.h"
#include "gateway_audit.h"
#include "gateway_ratelimit.h"
#include "gateway_routes.h"
#include "gateway_rpc.h"
#include "gateway_settings.h"

#define GATEWAY_QUERY_MAX       32   /* query parameters in one request */
#define GATEWAY_CE_HEADERS_MAX  32   /* ce-* headers in one binary-mode request */

/* What the handlers work with; everything borrowed, alive while the HTTP server runs. */
typedef struct {
    const gateway_settings_t *settings;
    gateway_keys_t *keys;
    gateway_idem_t *idem;
    gateway_ingest_t *ingest;
    gateway_metrics_t *metrics;
    crm_metrics_t *registry;                  /* rendered by /metrics */
    crm_log_t *log;
    gateway_rpc_t *rpcs[CRM_SVC_COUNT];       /* NULL for a service without routes */
    gateway_ratelimit_t *ratelimit;           /* NULL when requests are not limited */
    gateway_audit_t *audit;                   /* the log of sensitive operations */
} gateway_env_t;

typedef enum {
    GATEWAY_CALL_READING = 0,    /* headers checked; the body arrives */
    GATEWAY_CALL_WAITING,        /* suspended while the service answers or the ingest log commits */
    GATEWAY_CALL_ANSWERED        /* answer is made */
} gateway_call_state_t;

/* One HTTP request in progress (MHD's per-request state). */
typedef struct {
    const gateway_env_t *env;
    struct MHD_Connection *conn;
    const char *method;                       /* MHD's, valid for the request */
    char path[GATEWAY_PATH_MAX];
    const gateway_route_t *route;             /* NULL when none matched */
    gateway_path_values_t values;
    gateway_caller_t caller;                  /* empty id for public routes */
    char *body;                               /* the body as received (malloc'd), not NUL-terminated */
    size_t body_len;
    size_t body_cap;
    size_t body_expected;                     /* Content-Length, or 0 */
    bool too_large;                           /* the body passed settings->max_body */
    char idem_key[GATEWAY_IDEM_KEY_MAX + 1];  /* "" when the request has none */
    unsigned char idem_hash[GATEWAY_IDEM_HASH_SIZE];
    bool idem_reserved;
    gateway_call_state_t state;
    gateway_answer_t answer;
    gateway_ingest_batch_t batch;             /* POST /v1/events */
    gateway_rpc_call_t rpc;                   /* forwarded routes: the call to the service */
    void *rpc_body;                           /* its packed request (malloc'd) */
    int64_t start_us;                         /* monotonic, for the latency histogram */
} gateway_call_t;

/* Runs call->route once the whole request is in: fills call->answer and sets the state to
 * GATEWAY_CALL_ANSWERED, or suspends the connection and sets GATEWAY_CALL_WAITING (a request to
 * a service, or events being committed); the connection is resumed when that is done, MHD calls
 * back, and gateway_handle_resumed finishes. */
void gateway_handle(gateway_call_t *call);

/* Finishes a call that was waiting: fills call->answer. */
void gateway_handle_resumed(gateway_call_t *call);

/* Frees what a call holds (not the call). */
void gateway_call_clear(gateway_call_t *call);

/* Route handlers (each fills call->answer). */
void gateway_handle_forward(gateway_call_t *call);     /* suspends */
void gateway_handle_key_create(gateway_call_t *call);
void gateway_handle_key_list(gateway_call_t *call);
void gateway_handle_key_revoke(gateway_call_t *call);
void gateway_handle_events(gateway_call_t *call);      /* may suspend instead */
void gateway_handle_healthz(gateway_call_t *call);
void gateway_handle_readyz(gateway_call_t *call);
void gateway_handle_metrics(gateway_call_t *call);
void gateway_handle_openapi(gateway_call_t *call);
void gateway_handle_audit_list(gateway_call_t *call);    /* GET /v1/audit (admin) */
void gateway_handle_audit_verify(gateway_call_t *call);  /* GET /v1/audit/verify (admin) */

/* GET /v1/contacts/{id}/export (admin): everything every service holds on one customer, as one
 * JSON document: each customer-scoped read route (GET /v1/contacts/{id}...) and the customer's
 * complaints, every page of each, keyed by path. Blocks its HTTP thread while it asks. A service
 * that does not answer makes it 503 (an export is whole or nothing); an unknown customer 404. */
void gateway_handle_export(gateway_call_t *call);

/* Writes a finished call to the audit log when its route is audited and its answer a first
 * success (not an idempotent replay). A failure to write is logged. */
void gateway_audit_call(gateway_call_t *call);   /* GET /v1/openapi.json: the document, made from the route table */

/* Strips the route's body field from a field path reported for the request message, so that it
 * names the field in the body the client sent ("customer.email" -> "email"). Returns a pointer
 * into path (NULL when path is NULL). */
const char *gateway_client_field(const gateway_route_t *route, const char *path);

#endif
