/* notifier_server.h: the notifier's wiring: settings, requests, the subscriptions, the job timer and the sender threads on the skeleton. */
#ifndef NOTIFIER_SERVER_H
#define NOTIFIER_SERVER_H

#include "crm_service.h"
#include "notifier_ctx.h"

#define NOTIFIER_TICK_ROUNDS_MAX 16     /* job transactions per timer tick before yielding to requests */

typedef struct notifier_server notifier_server_t;

/* Wires the notifier into svc (borrowed; it must outlive the server): reads its settings (a bad
 * one is logged and stops the start), opens its databases (writing the built-in rules and
 * templates on the first start), answers "notifier.*" requests, applies the events of contacts,
 * loyalty, feedback, analytics and the gateway's audit events, runs the jobs every tick
 * (catching up at once after a start) and starts the sender threads. Call before crm_service_run.
 * Returns 0 and sets *server_p (caller destroys, before svc), CRM_ECONFIG, or the error that
 * stopped it (logged). */
int notifier_server_new(crm_service_t *svc, notifier_server_t **server_p);

/* The notifier state, borrowed. */
notifier_t *notifier_server_state(notifier_server_t *server);

/* Stops the sender threads (a message being sent is queued again) and frees the server. Safe on
 * NULL; sets *server_p to NULL. */
void notifier_server_destroy(notifier_server_t **server_p);

#endif
