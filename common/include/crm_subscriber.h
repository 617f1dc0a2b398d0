/* crm_subscriber.h: exactly-once, in-order consumption of one publisher's events into a store. */
#ifndef CRM_SUBSCRIBER_H
#define CRM_SUBSCRIBER_H

#include <stddef.h>
#include <stdint.h>

#include "crm_bus.h"
#include "crm_store.h"

/* A subscriber keeps, in the consuming service's own store, the last sequence it applied from a
 * publisher (its cursor), and advances it in the same write transaction as the effects of the
 * events. Live events arrive over PUB/SUB; any gap (a sequence jump, a heartbeat ahead of the
 * cursor, a fresh start) is filled from the publisher's replay endpoint before going on. So each
 * event is applied exactly once and in sequence order, whatever crashes or drops happen.
 *
 * Events whose topic matches none of the prefixes still advance the cursor, without a call.
 * An apply function that returns CRM_EINVALID declares the event unusable: it is kept in the
 * dead-letter database with the error, the cursor moves past it, and nothing of its partial effect
 * is kept. Any other error is transient: nothing advances and the events are tried again later. */

#define CRM_SUBSCRIBER_CURSOR_DB       "bus_cursors"
#define CRM_SUBSCRIBER_DEAD_LETTER_DB  "bus_dead_letters"
#define CRM_SUBSCRIBER_BATCH_MAX       1024     /* events applied per write transaction */
#define CRM_SUBSCRIBER_BATCH_BYTES     ((size_t) 4 << 20)
#define CRM_SUBSCRIBER_MAX_PREFIXES    16
#define CRM_SUBSCRIBER_MAX_NAME        64
#define CRM_SUBSCRIBER_REPLAY_TIMEOUT_MS 2000
#define CRM_SUBSCRIBER_CATCH_UP_ROUNDS 16       /* replay answers taken per call before yielding */

typedef struct crm_subscriber crm_subscriber_t;

/* Applies one event inside the write transaction that also advances the cursor. The event's
 * pointers are borrowed for the call. Returns 0, CRM_EINVALID (unusable event: dead-lettered) or
 * another code (transient: retried). It may run again for the same event after an abort, so its
 * only effects must be in txn. */
typedef int (*crm_subscriber_apply_fn)(crm_txn_t *txn, const crm_bus_event_t *event, void *arg);

/* Makes a subscriber to the publisher called `publisher` (the cursor's name, at most
 * CRM_SUBSCRIBER_MAX_NAME bytes) at pub_endpoint and replay_endpoint, applying into store
 * (borrowed). Call at start-up, before any transaction is open. Returns 0 and sets *sub_p (caller
 * destroys), CRM_EINVALID or a store or bus error. */
int crm_subscriber_new(void *zmq_ctx, crm_store_t *store, const char *publisher,
                       const char *pub_endpoint, const char *replay_endpoint,
                       crm_subscriber_apply_fn apply, void *arg, crm_subscriber_t **sub_p);

/* Frees the subscriber. Safe on NULL; sets *sub_p to NULL. */
void crm_subscriber_destroy(crm_subscriber_t **sub_p);

/* Adds a topic prefix to apply ("crm.ingest." for example). With none, every event is applied.
 * Returns 0, CRM_ELIMIT or CRM_EINVALID. */
int crm_subscriber_add_prefix(crm_subscriber_t *sub, const char *prefix);

/* The SUB socket, borrowed, for zmq_poll. */
void *crm_subscriber_socket(crm_subscriber_t *sub);

/* Call when the socket is readable: applies waiting live events in batches, one transaction each,
 * and catches up by replay when it sees a gap. Returns 0 or the error that stopped it (the
 * events not applied are retried by replay later). */
int crm_subscriber_process(crm_subscriber_t *sub);

/* Call every CRM_BUS_HEARTBEAT_MS or so, and once at start: catches up by replay when the cursor
 * is behind what the publisher last said, or when it has never heard from it. A publisher that is
 * down is not an error: it is tried again on the next call. Returns 0, or the error of an apply function or the store
 * (nothing was advanced; the events are tried again on the next call). */
int crm_subscriber_tick(crm_subscriber_t *sub);

/* The last applied sequence, and the highest head the publisher has announced. */
uint64_t crm_subscriber_cursor(const crm_subscriber_t *sub);
uint64_t crm_subscriber_known_head(const crm_subscriber_t *sub);

/* Number of events dead-lettered by this process. */
uint64_t crm_subscriber_dead_letters(const crm_subscriber_t *sub);

#endif
