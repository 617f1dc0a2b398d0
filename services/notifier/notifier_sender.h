/* notifier_sender.h: the sender threads: each takes due deliveries from the queue in LMDB, sends them outside any transaction, and records the outcome. */
#ifndef NOTIFIER_SENDER_H
#define NOTIFIER_SENDER_H

#include <stdatomic.h>
#include <stdbool.h>

#include "notifier_ctx.h"
#include "notifier_delivery.h"

#define NOTIFIER_SENDER_IDLE_MS 1000      /* longest sleep between looks at the queue */
#define NOTIFIER_SENDER_ERROR_MS 500      /* pause after a store error */

typedef struct notifier_sender notifier_sender_t;

/* Sends one job (the channel's sender, by job->channel) and returns its outcome as
 * notifier_delivery_complete takes it, with why (why_size bytes). */
int notifier_sender_send(const notifier_t *nt, const atomic_bool *stop, const notifier_job_t *job, char *why,
                         size_t why_size);

/* Takes, sends and records deliveries until none is due: returns 0 and sets *next_due_us (when
 * the next queued delivery is due, 0: none) and *sent (how many were sent or failed), or a store
 * error. For tests, and the body of each sender thread. */
int notifier_sender_drain(notifier_t *nt, const atomic_bool *stop, int64_t *next_due_us, unsigned *sent);

/* Starts nt->settings.senders threads (call after notifier_new, before the loop runs, from the
 * thread that blocked SIGINT and SIGTERM) and sets nt->wake so that new due work wakes them.
 * Returns 0 and sets *sender_p (caller stops it), CRM_ENOMEM or CRM_EIO (a thread did not start). */
int notifier_sender_start(notifier_t *nt, notifier_sender_t **sender_p);

/* Asks the threads to stop (a send in progress is abandoned and its delivery queued again),
 * joins them, unsets nt->wake and frees. Safe on NULL; sets *sender_p to NULL. */
void notifier_sender_stop(notifier_sender_t **sender_p);

#endif
