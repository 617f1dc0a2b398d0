/* crm_service.h: the skeleton every service follows: settings, log, store, outbox, request socket, subscriptions, health, one loop until SIGTERM. */
#ifndef CRM_SERVICE_H
#define CRM_SERVICE_H

#include "crm_config.h"
#include "crm_health.h"
#include "crm_id.h"
#include "crm_log.h"
#include "crm_loop.h"
#include "crm_metrics.h"
#include "crm_outbox.h"
#include "crm_rpc.h"
#include "crm_store.h"
#include "crm_subscriber.h"

#define CRM_SERVICE_MAX_SUBSCRIPTIONS 8
#define CRM_SERVICE_TICK_MS           100     /* subscriber catch-up and housekeeping */
#define CRM_SERVICE_READER_CHECK_MS   10000   /* clearing stale LMDB readers of dead processes */
#define CRM_SERVICE_PING_METHOD       "Ping"  /* "<service>.Ping" is answered by the skeleton */

typedef struct crm_service crm_service_t;

/* Handles one request from the request socket. The handler answers it with crm_service_reply
 * (which takes the request over), or leaves it: the skeleton then answers INTERNAL. */
typedef void (*crm_service_request_fn)(crm_service_t *svc, crm_rpc_request_t **req_p, void *arg);

/* Starts a service: blocks SIGINT and SIGTERM in the calling thread (call from main before any
 * thread starts), reads the settings and topology from the environment, opens the log on stderr,
 * the metrics, the store under <CRM_DATA_DIR>/<name>, the outbox, binds the event publisher and
 * replay endpoints, and the request endpoint when the service has one. Returns 0 and sets *svc_p
 * (caller destroys), CRM_ECONFIG (the reason is logged), or the error that stopped it. */
int crm_service_new(crm_service_id_t id, crm_service_t **svc_p);

/* Stops and frees everything. Safe on NULL; sets *svc_p to NULL. */
void crm_service_destroy(crm_service_t **svc_p);

/* Parts, borrowed for the life of the service. */
crm_log_t *crm_service_log(crm_service_t *svc);
crm_store_t *crm_service_store(crm_service_t *svc);
crm_outbox_t *crm_service_outbox(crm_service_t *svc);
crm_metrics_t *crm_service_metrics(crm_service_t *svc);
crm_loop_t *crm_service_loop(crm_service_t *svc);
crm_config_t *crm_service_config(crm_service_t *svc);
crm_id_gen_t *crm_service_ids(crm_service_t *svc);
const crm_topology_t *crm_service_topology(crm_service_t *svc);
void *crm_service_zmq(crm_service_t *svc);
const char *crm_service_source(crm_service_t *svc);   /* "/crm/<name>", for event envelopes */

/* Sets the request handler. Returns 0, or CRM_EINVALID when the service has no request endpoint. */
int crm_service_on_request(crm_service_t *svc, crm_service_request_fn fn, void *arg);

/* Answers a request and frees it (sets *req_p to NULL). Returns 0 or CRM_EBUS. */
int crm_service_reply(crm_service_t *svc, crm_rpc_request_t **req_p, const crm_rpc_reply_t *reply);

/* Applies, exactly once and in order, the events of another service whose topic starts with
 * prefix (NULL for all), through apply inside the store's write transactions. Call before
 * crm_service_run. Returns 0, CRM_ELIMIT or the error of crm_subscriber_new. */
int crm_service_subscribe(crm_service_t *svc, crm_service_id_t publisher, const char *prefix,
                          crm_subscriber_apply_fn apply, void *arg);

/* Runs fn in a write transaction (crm_store_write) and, once committed, wakes the publisher
 * for the events fn appended to the outbox. Safe from any thread. Returns what
 * crm_store_write returns. */
int crm_service_write(crm_service_t *svc, crm_store_write_fn fn, void *arg);

/* Starts the health endpoint (ready calls back for /readyz; NULL: ready while running) and runs
 * the loop: requests, publishing committed events, heartbeats, replay, subscriptions, stale
 * reader checks, until SIGINT or SIGTERM. Returns 0 after a signal, or the error that stopped it. */
int crm_service_run(crm_service_t *svc, crm_health_ready_fn ready, void *ready_arg);

#endif
