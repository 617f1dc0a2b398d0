/* analytics_server.h: the analytics service's wiring: settings, the request handler, the three subscriptions, the job timer and the restart a rebuild asks for. */
#ifndef ANALYTICS_SERVER_H
#define ANALYTICS_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "crm_config.h"
#include "crm_service.h"
#include "analytics_ctx.h"

#define ANALYTICS_TICK_ROUNDS_MAX   16       /* job transactions per timer tick before yielding */
#define ANALYTICS_TICK_MIN_MS       10
#define ANALYTICS_TICK_MAX_MS       (60LL * 1000)
#define ANALYTICS_DURATION_MAX_MS   (3660LL * 24 * 3600 * 1000)   /* ten years */
#define ANALYTICS_PROBE_TIMEOUT_MS  200      /* asking a publisher for its head before the jobs */
#define ANALYTICS_RESTART_DELAY_MS  250      /* lets the rebuild's answer leave before the restart */

typedef struct analytics_server analytics_server_t;

/* Reads the CRM_ANALYTICS_* settings (README.md) from cfg over the defaults into *settings, the
 * job timer's interval into *tick_ms and CRM_ANALYTICS_REBUILD into *rebuild. Returns 0, or
 * CRM_ECONFIG with why (why_size bytes) naming the variable and what it expects; CRM_ENOMEM. */
int analytics_settings_load(crm_config_t *cfg, analytics_settings_t *settings, long long *tick_ms, bool *rebuild,
                            char *why, size_t why_size);

/* Wires the analytics service into svc (borrowed; it must outlive the server): reads its settings,
 * opens its databases, resets them first when a rebuild is due (asked for, or
 * CRM_ANALYTICS_REBUILD), answers "analytics.*" requests, applies the events of contacts, loyalty
 * and feedback, and runs the jobs every tick. Call before crm_service_run. Returns 0 and sets
 * *server_p (caller destroys, before svc), CRM_ECONFIG (logged), or the error that stopped it
 * (logged). */
int analytics_server_new(crm_service_t *svc, analytics_server_t **server_p);

/* True when the loop was stopped for a restart a rebuild asked for (main then starts again). */
bool analytics_server_restart(const analytics_server_t *server);

/* The analytics state, borrowed. */
analytics_t *analytics_server_state(analytics_server_t *server);

/* Frees the server. Safe on NULL; sets *server_p to NULL. */
void analytics_server_destroy(analytics_server_t **server_p);

#endif
