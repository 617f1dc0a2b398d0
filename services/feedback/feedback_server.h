/* feedback_server.h: the feedback service's wiring: settings, the request handler, the contacts subscription and the timer job on the skeleton's loop. */
#ifndef FEEDBACK_SERVER_H
#define FEEDBACK_SERVER_H

#include <stddef.h>

#include "crm_config.h"
#include "crm_service.h"
#include "feedback_ctx.h"

#define FEEDBACK_TICK_ROUNDS_MAX 16     /* timer transactions per tick before yielding to requests */
#define FEEDBACK_TICK_MIN_MS     10
#define FEEDBACK_TICK_MAX_MS     (60LL * 1000)
#define FEEDBACK_DURATION_MAX_MS (3660LL * 24 * 3600 * 1000)   /* ten years */
#define FEEDBACK_SLA_MIN_MS      1000                          /* an SLA clock runs at least a second */
#define FEEDBACK_SENTIMENT_MIN   (-100)
#define FEEDBACK_SENTIMENT_MAX   100

typedef struct feedback_server feedback_server_t;

/* Reads the CRM_FEEDBACK_* settings (README.md) from cfg over the defaults into *settings and
 * the timer job's interval into *tick_ms. Returns 0, or CRM_ECONFIG with why (why_size bytes)
 * naming the variable and what it expects; CRM_ENOMEM. */
int feedback_settings_load(crm_config_t *cfg, feedback_settings_t *settings, long long *tick_ms, char *why,
                           size_t why_size);

/* Wires the feedback service into svc (borrowed; it must outlive the server): reads its
 * settings, opens its databases (writing the default surveys on the first start), answers
 * "feedback.*" requests, applies the contacts service's events, and runs the timers every tick
 * (catching up at once after a start). Call before crm_service_run. Returns 0 and sets *server_p
 * (caller destroys, before svc), CRM_ECONFIG (logged), or the error that stopped it (logged). */
int feedback_server_new(crm_service_t *svc, feedback_server_t **server_p);

/* The feedback state, borrowed. */
feedback_t *feedback_server_state(feedback_server_t *server);

/* Frees the server. Safe on NULL; sets *server_p to NULL. */
void feedback_server_destroy(feedback_server_t **server_p);

#endif
