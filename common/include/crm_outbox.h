/* crm_outbox.h: the transactional outbox: events written with the state change, published after commit, replayed on demand. */
#ifndef CRM_OUTBOX_H
#define CRM_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#include "crm_bus.h"
#include "crm_store.h"

/* Events live in the publisher's store, in the database CRM_OUTBOX_DB, keyed by their sequence
 * (8 bytes big-endian, so keys sort in sequence order) with the value [topic length, 1 byte]
 * [topic][payload]. Sequences start at 1 and have no holes. Events are kept: replay can start from
 * any point, and a consumer that is rebuilt from nothing reads the whole history. */
#define CRM_OUTBOX_DB "outbox"
#define CRM_OUTBOX_PUBLISH_MAX 4096   /* events published per crm_outbox_publish call */

typedef struct crm_outbox crm_outbox_t;

/* Opens the outbox over store (borrowed; it must outlive the outbox). Call at start-up, before
 * any transaction is open. Returns 0 and sets *outbox_p (caller destroys), or a store error. */
int crm_outbox_new(crm_store_t *store, crm_outbox_t **outbox_p);

/* Frees the outbox. Safe on NULL; sets *outbox_p to NULL. */
void crm_outbox_destroy(crm_outbox_t **outbox_p);

/* The sequence the next event appended in this write transaction will get. Returns 0 and sets
 * *seq, or a store error. */
int crm_outbox_next_seq(crm_outbox_t *outbox, crm_txn_t *txn, uint64_t *seq);

/* Appends one event in a write transaction (inside a crm_store_write body), so that it commits or
 * vanishes with the state change. Sets *seq (may be NULL) to its sequence. Returns 0,
 * CRM_EINVALID (empty or too long topic), CRM_ETOOBIG (payload over CRM_BUS_MAX_PAYLOAD),
 * CRM_EMAPFULL (crm_store_write grows the map and runs the body again) or another store error. */
int crm_outbox_append(crm_outbox_t *outbox, crm_txn_t *txn, const char *topic, const void *payload,
                      size_t payload_len, uint64_t *seq);

/* As crm_outbox_append, with the sequence the caller got from crm_outbox_next_seq in this same
 * transaction (when the payload must carry it, as an envelope does): spares a second lookup.
 * Returns the same codes; CRM_EINVALID when seq does not sort after the last event. */
int crm_outbox_append_at(crm_outbox_t *outbox, crm_txn_t *txn, uint64_t seq, const char *topic,
                         const void *payload, size_t payload_len);

/* Tells the publishing thread that events were committed: makes crm_outbox_fd readable.
 * Safe from any thread. */
void crm_outbox_notify(crm_outbox_t *outbox);

/* A file descriptor that is readable after crm_outbox_notify, for the publishing thread's poll. */
int crm_outbox_fd(crm_outbox_t *outbox);

/* From the publishing thread: publishes, in order, committed events not yet published by this
 * process (at most CRM_OUTBOX_PUBLISH_MAX per call; sets *published when not NULL), and clears the
 * notification. Events committed before this process started are not re-published live: at open
 * the outbox counts them as published, and subscribers get them by replay. Returns 0 or a store
 * or bus error. */
int crm_outbox_publish(crm_outbox_t *outbox, crm_bus_pub_t *pub, size_t *published);

/* The sequence of the last committed event (0 when none). Returns 0 or a store error. */
int crm_outbox_head(crm_outbox_t *outbox, uint64_t *head);

/* Answers waiting replay requests from the store, "events after N", until none is waiting.
 * Returns 0 or a store or bus error. */
int crm_outbox_serve_replay(crm_outbox_t *outbox, crm_bus_replay_server_t *server);

/* Reads the event with sequence seq in txn: topic (not NUL-terminated) and payload, borrowed until
 * txn ends. Returns 0, CRM_ENOTFOUND or a store error. */
int crm_outbox_get(crm_outbox_t *outbox, crm_txn_t *txn, uint64_t seq, crm_val_t *topic,
                   crm_val_t *payload);

#endif
