/* crm_health.h: the small HTTP server every service runs for /healthz, /readyz and /metrics. */
#ifndef CRM_HEALTH_H
#define CRM_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crm_metrics.h"

/* Routes (GET, and HEAD with no body):
 *   /healthz  200 {"status":"ok"} while the process lives
 *   /readyz   200 {"status":"ready"}, or 503 {"status":"not ready","reason":"..."}
 *   /metrics  200, Content-Type text/plain; version=0.0.4, the registry rendered
 *   else      404 application/problem+json; other methods 405 with Allow: GET, HEAD */

#define CRM_HEALTH_THREADS          2       /* worker threads, so one slow readiness check does not block /healthz */
#define CRM_HEALTH_MAX_CONNECTIONS  64      /* open connections at once */
#define CRM_HEALTH_TIMEOUT_S        10      /* an idle connection is closed after this */
#define CRM_HEALTH_REASON_MAX       256     /* bytes of a not-ready reason, with its NUL */

/* Answers whether the service is ready. Returns true when ready; otherwise writes a short
 * reason (NUL-terminated, at most reason_size bytes) and returns false. Called on the server's
 * threads, possibly on two at once: it must be thread-safe and quick. */
typedef bool (*crm_health_ready_fn)(void *arg, char *reason, size_t reason_size);

typedef struct crm_health crm_health_t;

/* Starts serving on addr, "host:port" as crm_config_addr accepts it (numeric IPv4, IPv6 in
 * brackets, or localhost; port 0 picks a free port, see crm_health_port). metrics (may be NULL:
 * /metrics then answers 404) and ready (may be NULL: always ready) are borrowed and must
 * outlive the server; arg is passed to ready.
 * Returns 0 and sets *health_p (caller stops it with crm_health_stop), CRM_ECONFIG (addr does
 * not parse or is not a local address), CRM_EIO (the port is taken, or the server could not
 * start), CRM_EDENIED (no right to bind that port) or CRM_ENOMEM. */
int crm_health_start(const char *addr, crm_metrics_t *metrics, crm_health_ready_fn ready,
                     void *arg, crm_health_t **health_p);

/* Returns the port the server listens on (the real one when started with port 0). */
uint16_t crm_health_port(const crm_health_t *health);

/* Stops the server, waiting for requests in progress, and frees it. Safe on NULL; sets
 * *health_p to NULL. */
void crm_health_stop(crm_health_t **health_p);

#endif
