/* gateway_ingest.h: integrator events: batches, deduplication by (source, id), and the group committer to the ingest log. */
#ifndef GATEWAY_INGEST_H
#define GATEWAY_INGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "crm/v1/ingest.pb-c.h"
#include "gateway_ctx.h"

/* Accepted events are appended to the gateway's outbox (its ingest log) under the topic
 * "crm.ingest.<type>.v1", each a crm.v1.Event envelope carrying the integrator's id and source,
 * no subject, and the packed payload named by data_schema ("crm.v1.OrderPlaced").
 *
 * Store layout:
 *   ingest_dedup   <source> 0x00 <id> -> the sequence it was accepted with (8 bytes, big-endian)
 * written in the same transaction as the outbox append, so an event is in the log once.
 *
 * Group commit: a committer thread takes every batch queued while it was committing the last
 * group and commits them all in one write transaction (one fsync), then hands each batch back. */

#define GATEWAY_INGEST_DEDUP_DB     "ingest_dedup"
#define GATEWAY_CE_ID_MAX           128     /* bytes of an event id */
#define GATEWAY_CE_SOURCE_MAX       256     /* bytes of an event source */
#define GATEWAY_CE_ERROR_MAX        256     /* bytes of a rejection's text, with the NUL */
#define GATEWAY_CE_FIELD_MAX        128     /* bytes of a rejection's field, with the NUL */
#define GATEWAY_COMPLAINT_SUBJECT_MAX     256   /* bytes of a filed complaint's subject (as feedback takes) */
#define GATEWAY_COMPLAINT_TEXT_MAX        8192  /* bytes of a filed complaint's text */
#define GATEWAY_COMPLAINT_ATTACHMENTS_MAX 16    /* attachment references on one complaint */
#define GATEWAY_INGEST_GROUP_MAX    20000   /* events committed in one transaction at most */

/* One known event type. */
typedef struct {
    const char *type;                             /* "order.placed" */
    const char *topic;                            /* "crm.ingest.order.placed.v1" */
    const ProtobufCMessageDescriptor *payload;    /* crm.v1.OrderPlaced */
} gateway_ingest_type_t;

extern const gateway_ingest_type_t gateway_ingest_types[];
extern const size_t gateway_ingest_types_count;

/* Finds a type by its name ("order.placed"). Returns it (static) or NULL. */
const gateway_ingest_type_t *gateway_ingest_type_find(const char *type);

/* One event of a batch, and, once handled, its result. */
typedef struct {
    char id[GATEWAY_CE_ID_MAX + 1];
    char source[GATEWAY_CE_SOURCE_MAX + 1];
    const gateway_ingest_type_t *type;
    int64_t time_us;                              /* the event's time; 0 for none (now) */
    ProtobufCMessage *data;                       /* the payload, owned; NULL when rejected */
    bool pending;                                 /* valid, waiting for the commit */
    Crm__V1__IngestResult__Outcome outcome;       /* UNSPECIFIED until decided */
    char error[GATEWAY_CE_ERROR_MAX];
    char field[GATEWAY_CE_FIELD_MAX];
    uint64_t sequence;                            /* accepted: its sequence; duplicate: the first's */
} gateway_ingest_event_t;

typedef struct gateway_ingest_batch gateway_ingest_batch_t;

/* Called by the committer thread when a submitted batch is committed (or failed: batch->rc).
 * The batch is the submitter's again from this call on. */
typedef void (*gateway_ingest_done_fn)(gateway_ingest_batch_t *batch, void *arg);

struct gateway_ingest_batch {
    gateway_ingest_event_t *events;
    size_t count;
    size_t capacity;
    int rc;                                       /* 0, or why the commit failed (nothing kept) */
    /* The committer's. */
    gateway_ingest_batch_t *next;
    gateway_ingest_done_fn done;
    void *done_arg;
    bool finished;
};

/* Empties a batch, freeing its events' payloads and array; it may be reused. Safe on a zeroed
 * batch. */
void gateway_ingest_batch_clear(gateway_ingest_batch_t *batch);

/* Adds a zeroed event at the end. Returns it (owned by the batch), or NULL when out of memory. */
gateway_ingest_event_t *gateway_ingest_batch_add(gateway_ingest_batch_t *batch);

/* Marks event rejected with a printf-style reason and a field (may be NULL); frees its payload. */
void gateway_ingest_reject(gateway_ingest_event_t *event, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Counts the batch's events by outcome (any pointer may be NULL). */
void gateway_ingest_batch_tally(const gateway_ingest_batch_t *batch, size_t *accepted,
                                size_t *duplicate, size_t *rejected);

/* Fills result with event's outcome; its strings are borrowed from event. */
void gateway_ingest_result(const gateway_ingest_event_t *event, Crm__V1__IngestResult *result);

typedef struct gateway_ingest gateway_ingest_t;

/* Opens the dedup database and starts the committer thread. Call at start-up, before any
 * transaction is open. ctx is copied. Returns 0 and sets *ingest_p (caller destroys),
 * CRM_ENOMEM, CRM_EIO (no thread) or a store error. */
int gateway_ingest_new(const gateway_ctx_t *ctx, gateway_ingest_t **ingest_p);

/* Stops taking batches: later submissions fail with CRM_EUNAVAIL; batches already queued are
 * still committed and handed back. Returns once the committer is idle. Thread-safe. */
void gateway_ingest_stop(gateway_ingest_t *ingest);

/* Stops (as gateway_ingest_stop), joins the thread and frees. Safe on NULL; sets *ingest_p to
 * NULL. */
void gateway_ingest_destroy(gateway_ingest_t **ingest_p);

/* Queues batch for the next group commit; done(batch, arg) is called from the committer thread
 * once it is committed. Each pending event then has its outcome: accepted (with its sequence),
 * duplicate (of an event accepted before, or earlier in the same group), or rejected (too large
 * for the log). When the commit fails, batch->rc says why and the pending events stay undecided.
 * The batch must stay untouched until done. Returns 0, or CRM_EUNAVAIL when stopped (done is
 * not called). Thread-safe. */
int gateway_ingest_submit(gateway_ingest_t *ingest, gateway_ingest_batch_t *batch,
                          gateway_ingest_done_fn done, void *arg);

/* Submits batch and waits until it is committed. Returns batch->rc, or CRM_EUNAVAIL when
 * stopped. Thread-safe. */
int gateway_ingest_commit(gateway_ingest_t *ingest, gateway_ingest_batch_t *batch);

/* Commits, in the calling thread, the batch without the committer (for tests and tools).
 * Returns batch->rc. */
int gateway_ingest_commit_now(gateway_ingest_t *ingest, gateway_ingest_batch_t *batch);

#endif
