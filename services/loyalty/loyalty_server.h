/* loyalty_server.h: the loyalty service's wiring: settings, the request handler, the contacts subscription and the job timer on the skeleton's loop. */
#ifndef LOYALTY_SERVER_H
#define LOYALTY_SERVER_H

#include <stddef.h>

#include "crm_config.h"
#include "crm_service.h"
#include "loyalty_ctx.h"

#define LOYALTY_TICK_ROUNDS_MAX 16     /* job transactions per timer tick before yielding to requests */
#define LOYALTY_TICK_MIN_MS     10
#define LOYALTY_TICK_MAX_MS     (60LL * 1000)
#define LOYALTY_DURATION_MAX_MS (3660LL * 24 * 3600 * 1000)   /* ten years */

typedef struct loyalty_server loyalty_server_t;

/* Reads the CRM_LOYALTY_* settings (README.md) from cfg over the defaults into *settings and
 * the job timer's interval into *tick_ms. Returns 0, or CRM_ECONFIG with why (why_size bytes)
 * naming the variable and what it expects; CRM_ENOMEM. */
int loyalty_settings_load(crm_config_t *cfg, loyalty_settings_t *settings, long long *tick_ms,
                          char *why, size_t why_size);

/* Wires the loyalty service into svc (borrowed; it must outlive the server): reads its
 * settings, opens its databases (writing the defaults on the first start), answers
 * "loyalty.*" requests, applies the contacts service's events, and runs the time-driven jobs
 * every tick (catching up at once after a start). Call before crm_service_run. Returns 0 and
 * sets *server_p (caller destroys, before svc), CRM_ECONFIG (logged), or the error that stopped
 * it (logged). */
int loyalty_server_new(crm_service_t *svc, loyalty_server_t **server_p);

/* The loyalty state, borrowed. */
loyalty_t *loyalty_server_state(loyalty_server_t *server);

/* Frees the server. Safe on NULL; sets *server_p to NULL. */
void loyalty_server_destroy(loyalty_server_t **server_p);

#endif
