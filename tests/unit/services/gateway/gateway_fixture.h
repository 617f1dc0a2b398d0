/* gateway_fixture.h: a temporary gateway store (store, outbox, ids, context) for the gateway's unit tests. */
#ifndef GATEWAY_FIXTURE_H
#define GATEWAY_FIXTURE_H

#include <criterion/criterion.h>
#include <stdio.h>

#include "crm_error.h"
#include "crm_event.h"
#include "crm_id.h"
#include "crm_outbox.h"
#include "crm_store.h"
#include "crm_test.h"
#include "gateway_ctx.h"

typedef struct {
    char dir[CRM_TEST_PATH_MAX];
    crm_store_t *store;
    crm_outbox_t *outbox;
    crm_id_gen_t *ids;
    gateway_ctx_t ctx;
    int writes;                       /* write transactions run through ctx */
} gateway_fixture_t;

static inline int
gateway_fixture_write(void *arg, crm_store_write_fn fn, void *fn_arg)
{
    gateway_fixture_t *f = arg;
    f->writes++;
    return crm_store_write(f->store, fn, fn_arg);
}

/* Opens the store in f->dir (made when empty). */
static inline void
gateway_fixture_open(gateway_fixture_t *f)
{
    if (!f->dir[0])
        crm_test_tmpdir(f->dir);
    crm_store_options_t opts = { .no_sync = true };
    cr_assert_eq(crm_store_open(f->dir, &opts, &f->store), 0);
    cr_assert_eq(crm_outbox_new(f->store, &f->outbox), 0);
    cr_assert_eq(crm_id_gen_new(&f->ids), 0);
    f->ctx = (gateway_ctx_t) { .store = f->store, .outbox = f->outbox, .ids = f->ids,
                               .source = "/crm/gateway", .write = gateway_fixture_write,
                               .write_arg = f };
}

/* Closes the store, keeping the folder (to reopen it). */
static inline void
gateway_fixture_close(gateway_fixture_t *f)
{
    crm_outbox_destroy(&f->outbox);
    crm_store_destroy(&f->store);
    crm_id_gen_destroy(&f->ids);
}

static inline void
gateway_fixture_destroy(gateway_fixture_t *f)
{
    gateway_fixture_close(f);
    crm_test_rmtree(f->dir);
}

/* Decodes the outbox event with sequence seq: its topic into topic (size bytes) and the envelope
 * (caller destroys with crm_event_destroy). */
static inline Crm__V1__Event *
gateway_fixture_event(gateway_fixture_t *f, uint64_t seq, char *topic, size_t size)
{
    crm_txn_t *txn = NULL;
    cr_assert_eq(crm_store_read_begin(f->store, &txn), 0);
    crm_val_t t, p;
    cr_assert_eq(crm_outbox_get(f->outbox, txn, seq, &t, &p), 0, "no event %llu", (unsigned long long) seq);
    snprintf(topic, size, "%.*s", (int) t.size, (const char *) t.data);
    Crm__V1__Event *event = NULL;
    cr_assert_eq(crm_event_decode(p.data, p.size, &event), 0);
    crm_store_txn_end(&txn);
    return event;
}

static inline uint64_t
gateway_fixture_head(gateway_fixture_t *f)
{
    uint64_t head = 0;
    cr_assert_eq(crm_outbox_head(f->outbox, &head), 0);
    return head;
}

#endif
