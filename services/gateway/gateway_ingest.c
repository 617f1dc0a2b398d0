/* gateway_ingest.c: event batches, deduplication and the group committer to the ingest log. */
#include "gateway_ingest.h"

#include <assert.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crm_bus.h"
#include "crm_codec.h"
#include "crm_error.h"
#include "crm_event.h"

#define S_DEDUP_KEY_MAX (GATEWAY_CE_SOURCE_MAX + 1 + GATEWAY_CE_ID_MAX)
#define S_BATCH_FIRST_CAPACITY 16

const gateway_ingest_type_t gateway_ingest_types[] = {
    { "order.placed", "crm.ingest.order.placed.v1", &crm__v1__order_placed__descriptor },
    { "order.refunded", "crm.ingest.order.refunded.v1", &crm__v1__order_refunded__descriptor },
    { "interaction.logged", "crm.ingest.interaction.logged.v1", &crm__v1__interaction_reported__descriptor },
    { "customer.upserted", "crm.ingest.customer.upserted.v1", &crm__v1__customer_upserted__descriptor },
    { "complaint.filed", "crm.ingest.complaint.filed.v1", &crm__v1__complaint_filed__descriptor },
};

const size_t gateway_ingest_types_count = sizeof gateway_ingest_types / sizeof gateway_ingest_types[0];

const gateway_ingest_type_t *
gateway_ingest_type_find(const char *type)
{
    for (size_t i = 0; type && i < gateway_ingest_types_count; i++)
        if (strcmp(gateway_ingest_types[i].type, type) == 0)
            return &gateway_ingest_types[i];
    return NULL;
}

/* --- Batches. */

void
gateway_ingest_batch_clear(gateway_ingest_batch_t *batch)
{
    assert(batch);
    for (size_t i = 0; i < batch->count; i++)
        crm_codec_message_free(&batch->events[i].data);
    free(batch->events);
    memset(batch, 0, sizeof *batch);
}

gateway_ingest_event_t *
gateway_ingest_batch_add(gateway_ingest_batch_t *batch)
{
    assert(batch);
    if (batch->count == batch->capacity) {
        size_t capacity = batch->capacity ? batch->capacity * 2 : S_BATCH_FIRST_CAPACITY;
        gateway_ingest_event_t *events = realloc(batch->events, capacity * sizeof *events);
        if (!events)
            return NULL;
        batch->events = events;
        batch->capacity = capacity;
    }
    gateway_ingest_event_t *event = &batch->events[batch->count++];
    memset(event, 0, sizeof *event);
    return event;
}

void
gateway_ingest_reject(gateway_ingest_event_t *event, const char *field, const char *fmt, ...)
{
    assert(event && fmt);
    event->pending = false;
    event->outcome = CRM__V1__INGEST_RESULT__OUTCOME__OUTCOME_REJECTED;
    event->sequence = 0;
    crm_codec_message_free(&event->data);
    snprintf(event->field, sizeof event->field, "%s", field ? field : "");
    va_list args;
    va_start(args, fmt);
    vsnprintf(event->error, sizeof event->error, fmt, args);
    va_end(args);
}

void
gateway_ingest_batch_tally(const gateway_ingest_batch_t *batch, size_t *accepted,
                           size_t *duplicate, size_t *rejected)
{
    size_t a = 0, d = 0, r = 0;
    for (size_t i = 0; i < batch->count; i++) {
        switch (batch->events[i].outcome) {
        case CRM__V1__INGEST_RESULT__OUTCOME__OUTCOME_ACCEPTED:  a++; break;
        case CRM__V1__INGEST_RESULT__OUTCOME__OUTCOME_DUPLICATE: d++; break;
        case CRM__V1__INGEST_RESULT__OUTCOME__OUTCOME_REJECTED:  r++; break;
        default: break;
        }
    }
    if (accepted)
        *accepted = a;
    if (duplicate)
        *duplicate = d;
    if (rejected)
        *rejected = r;
}

void
gateway_ingest_result(const gateway_ingest_event_t *event, Crm__V1__IngestResult *result)
{
    assert(event && result);
    crm__v1__ingest_result__init(result);
    result->id = (char *) event->id;
    result->source = (char *) event->source;
    result->outcome = event->outcome;
    result->error = (char *) event->error;
    result->field = (char *) event->field;
    result->sequence = event->sequence;
}

/* --- The committer. */

struct gateway_ingest {
    gateway_ctx_t ctx;
    crm_db_t dedup_db;
    pthread_mutex_t lock;
    pthread_cond_t wake;          /* a batch was queued, or stop */
    pthread_cond_t finished;      /* a batch was handed back */
    gateway_ingest_batch_t *head; /* the queue */
    gateway_ingest_batch_t *tail;
    bool stopping;
    bool busy;                    /* a group is being committed */
    bool thread_started;
    pthread_t thread;
};

static size_t
s_dedup_key(const gateway_ingest_event_t *event, unsigned char out[S_DEDUP_KEY_MAX])
{
    size_t source_len = strlen(event->source);
    size_t id_len = strlen(event->id);
    assert(source_len <= GATEWAY_CE_SOURCE_MAX && id_len <= GATEWAY_CE_ID_MAX);
    memcpy(out, event->source, source_len);
    out[source_len] = 0;
    memcpy(out + source_len + 1, event->id, id_len);
    return source_len + 1 + id_len;
}

/* Commits one event in txn. Returns 0 (decided) or a store error (abort the group). */
static int
s_commit_event(gateway_ingest_t *ingest, crm_txn_t *txn, gateway_ingest_event_t *event)
{
    unsigned char key[S_DEDUP_KEY_MAX];
    size_t key_len = s_dedup_key(event, key);
    crm_val_t val;
    int rc = crm_store_get(txn, ingest->dedup_db, key, key_len, &val);
    if (rc == 0) {
        event->outcome = CRM__V1__INGEST_RESULT__OUTCOME__OUTCOME_DUPLICATE;
        event->sequence = val.size == 8 ? crm_bus_seq_decode(val.data) : 0;
        return 0;
    }
    if (rc != CRM_ENOTFOUND)
        return rc;
    crm_event_spec_t spec = {
        .id = event->id, .source = event->source, .type = event->type->topic,
        .subject = NULL, .time_us = event->time_us, .data = event->data,
    };
    uint64_t seq = 0;
    rc = crm_event_append(ingest->ctx.outbox, txn, ingest->ctx.ids, &spec, &seq);
    if (rc == CRM_ETOOBIG || rc == CRM_EINVALID) {
        event->outcome = CRM__V1__INGEST_RESULT__OUTCOME__OUTCOME_REJECTED;
        snprintf(event->error, sizeof event->error, "the event is too large for the ingest log");
        return 0;
    }
    if (rc)
        return rc;
    unsigned char seq_be[8];
    crm_bus_seq_encode(seq, seq_be);
    rc = crm_store_put(txn, ingest->dedup_db, key, key_len, seq_be, sizeof seq_be,
                       CRM_STORE_NOOVERWRITE);
    if (rc)
        return rc;
    event->outcome = CRM__V1__INGEST_RESULT__OUTCOME__OUTCOME_ACCEPTED;
    event->sequence = seq;
    return 0;
}

typedef struct {
    gateway_ingest_t *ingest;
    gateway_ingest_batch_t *group;   /* linked by next */
} s_group_job_t;

/* The write body: may run again after the map grows, so it first forgets any earlier run. */
static int
s_group_txn(crm_txn_t *txn, void *arg)
{
    s_group_job_t *job = arg;
    for (gateway_ingest_batch_t *b = job->group; b; b = b->next)
        for (size_t i = 0; i < b->count; i++)
            if (b->events[i].pending) {
                b->events[i].outcome = CRM__V1__INGEST_RESULT__OUTCOME__OUTCOME_UNSPECIFIED;
                b->events[i].sequence = 0;
                b->events[i].error[0] = '\0';
            }
    for (gateway_ingest_batch_t *b = job->group; b; b = b->next)
        for (size_t i = 0; i < b->count; i++) {
            if (!b->events[i].pending)
                continue;
            int rc = s_commit_event(job->ingest, txn, &b->events[i]);
            if (rc)
                return rc;
        }
    return 0;
}

/* Commits a group (linked by next) and sets each batch's rc. */
static void
s_commit_group(gateway_ingest_t *ingest, gateway_ingest_batch_t *group)
{
    s_group_job_t job = { .ingest = ingest, .group = group };
    int rc = gateway_ctx_write(&ingest->ctx, s_group_txn, &job);
    for (gateway_ingest_batch_t *b = group; b; b = b->next) {
        b->rc = rc;
        if (rc)
            for (size_t i = 0; i < b->count; i++)
                if (b->events[i].pending) {
                    b->events[i].outcome = CRM__V1__INGEST_RESULT__OUTCOME__OUTCOME_UNSPECIFIED;
                    b->events[i].sequence = 0;
                }
    }
}

static size_t
s_pending(const gateway_ingest_batch_t *batch)
{
    size_t n = 0;
    for (size_t i = 0; i < batch->count; i++)
        n += batch->events[i].pending;
    return n;
}

static void *
s_committer(void *arg)
{
    gateway_ingest_t *ingest = arg;
    pthread_mutex_lock(&ingest->lock);
    for (;;) {
        while (!ingest->head && !ingest->stopping)
            pthread_cond_wait(&ingest->wake, &ingest->lock);
        if (!ingest->head)
            break;     /* stopping, and nothing left */
        /* Take whole batches, up to GATEWAY_INGEST_GROUP_MAX events (at least one batch). */
        gateway_ingest_batch_t *group = ingest->head;
        gateway_ingest_batch_t *last = group;
        size_t events = s_pending(group);
        while (last->next && events + s_pending(last->next) <= GATEWAY_INGEST_GROUP_MAX) {
            last = last->next;
            events += s_pending(last);
        }
        ingest->head = last->next;
        if (!ingest->head)
            ingest->tail = NULL;
        last->next = NULL;
        ingest->busy = true;
        pthread_mutex_unlock(&ingest->lock);

        s_commit_group(ingest, group);
        for (gateway_ingest_batch_t *b = group, *next; b; b = next) {
            next = b->next;
            b->next = NULL;
            b->done(b, b->done_arg);   /* the batch is not ours from here on */
        }

        pthread_mutex_lock(&ingest->lock);
        ingest->busy = false;
        pthread_cond_broadcast(&ingest->finished);
    }
    pthread_mutex_unlock(&ingest->lock);
    return NULL;
}

int
gateway_ingest_new(const gateway_ctx_t *ctx, gateway_ingest_t **ingest_p)
{
    assert(ctx && ctx->store && ctx->outbox && ctx->ids && ctx->write && ingest_p);
    *ingest_p = NULL;
    gateway_ingest_t *ingest = calloc(1, sizeof *ingest);
    if (!ingest)
        return CRM_ENOMEM;
    ingest->ctx = *ctx;
    int rc = crm_store_db(ctx->store, GATEWAY_INGEST_DEDUP_DB, &ingest->dedup_db);
    if (rc) {
        free(ingest);
        return rc;
    }
    pthread_mutex_init(&ingest->lock, NULL);
    pthread_cond_init(&ingest->wake, NULL);
    pthread_cond_init(&ingest->finished, NULL);
    if (pthread_create(&ingest->thread, NULL, s_committer, ingest) != 0) {
        gateway_ingest_destroy(&ingest);
        return CRM_EIO;
    }
    ingest->thread_started = true;
    *ingest_p = ingest;
    return 0;
}

void
gateway_ingest_stop(gateway_ingest_t *ingest)
{
    assert(ingest);
    pthread_mutex_lock(&ingest->lock);
    ingest->stopping = true;
    pthread_cond_broadcast(&ingest->wake);
    while (ingest->thread_started && (ingest->head || ingest->busy))
        pthread_cond_wait(&ingest->finished, &ingest->lock);
    pthread_mutex_unlock(&ingest->lock);
}

void
gateway_ingest_destroy(gateway_ingest_t **ingest_p)
{
    if (!ingest_p || !*ingest_p)
        return;
    gateway_ingest_t *ingest = *ingest_p;
    gateway_ingest_stop(ingest);
    if (ingest->thread_started)
        pthread_join(ingest->thread, NULL);
    pthread_cond_destroy(&ingest->finished);
    pthread_cond_destroy(&ingest->wake);
    pthread_mutex_destroy(&ingest->lock);
    free(ingest);
    *ingest_p = NULL;
}

int
gateway_ingest_submit(gateway_ingest_t *ingest, gateway_ingest_batch_t *batch,
                      gateway_ingest_done_fn done, void *arg)
{
    assert(ingest && batch && done);
    batch->next = NULL;
    batch->done = done;
    batch->done_arg = arg;
    batch->finished = false;
    batch->rc = 0;
    pthread_mutex_lock(&ingest->lock);
    if (ingest->stopping) {
        pthread_mutex_unlock(&ingest->lock);
        return CRM_EUNAVAIL;
    }
    if (ingest->tail)
        ingest->tail->next = batch;
    else
        ingest->head = batch;
    ingest->tail = batch;
    pthread_cond_signal(&ingest->wake);
    pthread_mutex_unlock(&ingest->lock);
    return 0;
}

/* The done callback of gateway_ingest_commit: runs on the committer thread. */
static void
s_wake_waiter(gateway_ingest_batch_t *batch, void *arg)
{
    gateway_ingest_t *ingest = arg;
    pthread_mutex_lock(&ingest->lock);
    batch->finished = true;
    pthread_cond_broadcast(&ingest->finished);
    pthread_mutex_unlock(&ingest->lock);
}

int
gateway_ingest_commit(gateway_ingest_t *ingest, gateway_ingest_batch_t *batch)
{
    int rc = gateway_ingest_submit(ingest, batch, s_wake_waiter, ingest);
    if (rc)
        return rc;
    pthread_mutex_lock(&ingest->lock);
    while (!batch->finished)
        pthread_cond_wait(&ingest->finished, &ingest->lock);
    pthread_mutex_unlock(&ingest->lock);
    return batch->rc;
}

int
gateway_ingest_commit_now(gateway_ingest_t *ingest, gateway_ingest_batch_t *batch)
{
    assert(ingest && batch);
    batch->next = NULL;
    s_commit_group(ingest, batch);
    return batch->rc;
}
