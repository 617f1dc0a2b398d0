/* test_gateway_ingest.c: committing events to the ingest log: dedup by (source, id), group commit, envelopes. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "crm_codec.h"
#include "gateway_fixture.h"
#include "gateway_ingest.h"

static gateway_fixture_t fx;
static gateway_ingest_t *ingest;

static void
s_setup(void)
{
    memset(&fx, 0, sizeof fx);
    gateway_fixture_open(&fx);
    cr_assert_eq(gateway_ingest_new(&fx.ctx, &ingest), 0);
}

static void
s_teardown(void)
{
    gateway_ingest_destroy(&ingest);
    gateway_fixture_destroy(&fx);
    crm_test_check_leaks();
}

TestSuite(gateway_ingest, .init = s_setup, .fini = s_teardown);

/* Adds a valid order.placed event (source, id) to batch. */
static void
s_add(gateway_ingest_batch_t *batch, const char *source, const char *id)
{
    gateway_ingest_event_t *ev = gateway_ingest_batch_add(batch);
    cr_assert_not_null(ev);
    snprintf(ev->id, sizeof ev->id, "%s", id);
    snprintf(ev->source, sizeof ev->source, "%s", source);
    ev->type = gateway_ingest_type_find("order.placed");
    ev->time_us = 1700000000LL * 1000000;
    cr_assert_eq(crm_codec_message_new(&crm__v1__order_placed__descriptor, &ev->data), 0);
    ev->pending = true;
}

Test(gateway_ingest, accepted_events_land_in_the_log_with_the_integrators_id)
{
    gateway_ingest_batch_t batch = { 0 };
    s_add(&batch, "/shop", "e-1");
    gateway_ingest_event_t *rejected = gateway_ingest_batch_add(&batch);
    gateway_ingest_reject(rejected, "type", "bad %s", "type");
    s_add(&batch, "/shop", "e-2");
    cr_assert_eq(gateway_ingest_commit_now(ingest, &batch), 0);
    cr_assert_eq(batch.events[0].outcome, CRM__V1__INGEST_RESULT__OUTCOME__OUTCOME_ACCEPTED);
    cr_assert_eq(batch.events[0].sequence, 1);
    cr_assert_eq(batch.events[1].outcome, CRM__V1__INGEST_RESULT__OUTCOME__OUTCOME_REJECTED);
    cr_assert_str_eq(batch.events[1].error, "bad type");
    cr_assert_eq(batch.events[2].sequence, 2);
    cr_assert_eq(gateway_fixture_head(&fx), 2);
    size_t a, d, r;
    gateway_ingest_batch_tally(&batch, &a, &d, &r);
    cr_assert(a == 2 && d == 0 && r == 1);

    char topic[64];
    Crm__V1__Event *event = gateway_fixture_event(&fx, 2, topic, sizeof topic);
    cr_assert_str_eq(topic, "crm.ingest.order.placed.v1");
    cr_assert_str_eq(event->id, "e-2");
    cr_assert_str_eq(event->source, "/shop");
    cr_assert_str_eq(event->subject, "");
    cr_assert_str_eq(event->data_schema, "crm.v1.OrderPlaced");
    cr_assert_eq(event->time->seconds, 1700000000);
    crm_event_destroy(&event);
    gateway_ingest_batch_clear(&batch);
}

Test(gateway_ingest, a_repeated_source_and_id_is_a_duplicate_in_one_batch_or_later)
{
    gateway_ingest_batch_t batch = { 0 };
    s_add(&batch, "/shop", "e-1");
    s_add(&batch, "/shop", "e-1");
    s_add(&batch, "/erp", "e-1");      /* another source: another event */
    cr_assert_eq(gateway_ingest_commit(ingest, &batch), 0);
    cr_assert_eq(batch.events[0].outcome, CRM__V1__INGEST_RESULT__OUTCOME__OUTCOME_ACCEPTED);
    cr_assert_eq(batch.events[1].outcome, CRM__V1__INGEST_RESULT__OUTCOME__OUTCOME_DUPLICATE);
    cr_assert_eq(batch.events[1].sequence, batch.events[0].sequence, "the first one's sequence");
    cr_assert_eq(batch.events[2].outcome, CRM__V1__INGEST_RESULT__OUTCOME__OUTCOME_ACCEPTED);
    gateway_ingest_batch_clear(&batch);

    s_add(&batch, "/erp", "e-1");
    s_add(&batch, "/erp", "e-2");
    cr_assert_eq(gateway_ingest_commit(ingest, &batch), 0);
    cr_assert_eq(batch.events[0].outcome, CRM__V1__INGEST_RESULT__OUTCOME__OUTCOME_DUPLICATE);
    cr_assert_eq(batch.events[0].sequence, 2);
    cr_assert_eq(batch.events[1].outcome, CRM__V1__INGEST_RESULT__OUTCOME__OUTCOME_ACCEPTED);
    cr_assert_eq(gateway_fixture_head(&fx), 3, "each event is in the log once");
    gateway_ingest_batch_clear(&batch);
}

#define THREADS 8
#define BATCHES 25
#define PER_BATCH 20

typedef struct {
    int thread;
    int failures;
    size_t accepted;
} s_worker_t;

static void *
s_worker(void *arg)
{
    s_worker_t *w = arg;
    for (int b = 0; b < BATCHES; b++) {
        gateway_ingest_batch_t batch = { 0 };
        for (int i = 0; i < PER_BATCH; i++) {
            gateway_ingest_event_t *ev = gateway_ingest_batch_add(&batch);
            snprintf(ev->id, sizeof ev->id, "t%d-b%d-e%d", w->thread, b, i);
            /* Every thread also sends one event all threads share. */
            if (i == 0)
                snprintf(ev->id, sizeof ev->id, "shared-%d", b);
            snprintf(ev->source, sizeof ev->source, "/load");
            ev->type = gateway_ingest_type_find("order.placed");
            if (crm_codec_message_new(&crm__v1__order_placed__descriptor, &ev->data) != 0)
                w->failures++;
            ev->pending = true;
        }
        if (gateway_ingest_commit(ingest, &batch) != 0)
            w->failures++;
        size_t a = 0;
        gateway_ingest_batch_tally(&batch, &a, NULL, NULL);
        w->accepted += a;
        gateway_ingest_batch_clear(&batch);
    }
    return NULL;
}

Test(gateway_ingest, concurrent_batches_are_grouped_and_each_event_is_logged_once)
{
    pthread_t threads[THREADS];
    s_worker_t workers[THREADS];
    int writes_before = fx.writes;
    for (int t = 0; t < THREADS; t++) {
        workers[t] = (s_worker_t) { .thread = t };
        pthread_create(&threads[t], NULL, s_worker, &workers[t]);
    }
    size_t accepted = 0;
    int failures = 0;
    for (int t = 0; t < THREADS; t++) {
        pthread_join(threads[t], NULL);
        accepted += workers[t].accepted;
        failures += workers[t].failures;
    }
    cr_assert_eq(failures, 0);
    size_t unique = (size_t) THREADS * BATCHES * (PER_BATCH - 1) + BATCHES;
    cr_assert_eq(accepted, unique);
    cr_assert_eq(gateway_fixture_head(&fx), unique);
    int transactions = fx.writes - writes_before;
    cr_assert_leq(transactions, THREADS * BATCHES);
    cr_log_info("%d batches in %d transactions", THREADS * BATCHES, transactions);
}

static void
s_never(gateway_ingest_batch_t *batch, void *arg)
{
    (void) batch;
    (*(int *) arg)++;
}

Test(gateway_ingest, a_stopped_committer_refuses_new_batches)
{
    gateway_ingest_stop(ingest);
    gateway_ingest_batch_t batch = { 0 };
    s_add(&batch, "/shop", "late");
    int called = 0;
    cr_assert_eq(gateway_ingest_submit(ingest, &batch, s_never, &called), CRM_EUNAVAIL);
    cr_assert_eq(gateway_ingest_commit(ingest, &batch), CRM_EUNAVAIL);
    cr_assert_eq(called, 0);
    cr_assert_eq(gateway_fixture_head(&fx), 0);
    gateway_ingest_batch_clear(&batch);
}
