/* test_crm_subscriber.c: outbox and subscriber together: start order, gaps, restarts, bad events, prefixes. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

#include "crm_error.h"
#include "crm_outbox.h"
#include "crm_store.h"
#include "crm_subscriber.h"
#include "crm_test.h"

#define WAIT_MS 10000
#define POLL_MS 10

/* The publishing side, run by a thread as a service's loop would. */
typedef struct {
    char dir[CRM_TEST_PATH_MAX];
    char pub_ep[64], replay_ep[64];
    void *ctx;
    crm_store_t *store;
    crm_outbox_t *outbox;
    pthread_t thread;
    atomic_bool stop;
    atomic_bool live;                /* publish live; when false only replay serves events */
} s_pub_t;

/* The consuming side: a store with the applied events. */
typedef struct {
    char dir[CRM_TEST_PATH_MAX];
    crm_store_t *store;
    crm_db_t applied;                /* seq -> payload */
    crm_subscriber_t *sub;
    uint64_t fail_seq;               /* apply fails for this seq ... */
    int fail_rc;                     /* ... with this code */
    int fail_times;                  /* this many times (-1 forever) */
    uint64_t calls;
} s_sub_t;

static s_pub_t pub;
static s_sub_t con;

static void *s_pub_loop(void *arg)
{
    (void) arg;
    crm_bus_pub_t *bus = NULL;
    crm_bus_replay_server_t *replay = NULL;
    cr_assert_eq(crm_bus_pub_new(pub.ctx, pub.pub_ep, &bus), 0);
    cr_assert_eq(crm_bus_replay_server_new(pub.ctx, pub.replay_ep, &replay), 0);
    long long next_heartbeat = 0;
    while (!atomic_load(&pub.stop)) {
        zmq_pollitem_t items[] = {
            { crm_bus_replay_server_socket(replay), 0, ZMQ_POLLIN, 0 },
            { NULL, crm_outbox_fd(pub.outbox), ZMQ_POLLIN, 0 },
        };
        zmq_poll(items, 2, POLL_MS);
        if (items[0].revents & ZMQ_POLLIN)
            cr_assert_eq(crm_outbox_serve_replay(pub.outbox, replay), 0);
        if ((items[1].revents & ZMQ_POLLIN) && atomic_load(&pub.live))
            cr_assert_eq(crm_outbox_publish(pub.outbox, bus, NULL), 0);
        if (crm_test_now_ms() >= next_heartbeat) {
            uint64_t head = 0;
            cr_assert_eq(crm_outbox_head(pub.outbox, &head), 0);
            crm_bus_pub_heartbeat(bus, head);
            next_heartbeat = crm_test_now_ms() + 100;
        }
    }
    crm_bus_replay_server_destroy(&replay);
    crm_bus_pub_destroy(&bus);
    return NULL;
}

typedef struct {
    const char *topic;
    int first;
    int count;
} s_events_t;

static int s_write_events(crm_txn_t *txn, void *arg)
{
    s_events_t *e = arg;
    int rc = 0;
    for (int i = 0; rc == 0 && i < e->count; i++) {
        char payload[32];
        snprintf(payload, sizeof payload, "event %d", e->first + i);
        rc = crm_outbox_append(pub.outbox, txn, e->topic, payload, strlen(payload), NULL);
    }
    return rc;
}

/* Commits count events on topic, numbered from first, and wakes the publishing thread. */
static void s_commit(const char *topic, int first, int count)
{
    s_events_t e = { topic, first, count };
    cr_assert_eq(crm_store_write(pub.store, s_write_events, &e), 0);
    crm_outbox_notify(pub.outbox);
}

static int s_apply(crm_txn_t *txn, const crm_bus_event_t *event, void *arg)
{
    s_sub_t *c = arg;
    c->calls++;
    unsigned char key[8];
    crm_bus_seq_encode(event->seq, key);
    /* Write first, then fail: a failed event's partial effect must not survive. */
    int rc = crm_store_put(txn, c->applied, key, 8, event->payload, event->payload_len, CRM_STORE_NOOVERWRITE);
    if (rc == 0 && event->seq == c->fail_seq && c->fail_times != 0) {
        if (c->fail_times > 0)
            c->fail_times--;
        return c->fail_rc;
    }
    return rc;
}

static void s_sub_open(void)
{
    cr_assert_eq(crm_store_open(con.dir, NULL, &con.store), 0);
    cr_assert_eq(crm_store_db(con.store, "applied", &con.applied), 0);
    cr_assert_eq(crm_subscriber_new(pub.ctx, con.store, "test", pub.pub_ep, pub.replay_ep, s_apply, &con,
                                    &con.sub), 0);
}

static void s_sub_close(void)
{
    crm_subscriber_destroy(&con.sub);
    crm_store_destroy(&con.store);
}

/* Runs the consumer's loop until its cursor reaches target or the wait ends. */
static void s_sub_run_until(uint64_t target)
{
    long long deadline = crm_test_now_ms() + WAIT_MS;
    long long next_tick = 0;
    while (crm_subscriber_cursor(con.sub) < target && crm_test_now_ms() < deadline) {
        if (crm_test_now_ms() >= next_tick) {
            int rc = crm_subscriber_tick(con.sub);
            cr_assert(rc == 0 || rc == con.fail_rc, "tick: %s", crm_strerror(rc));
            next_tick = crm_test_now_ms() + 50;
        }
        zmq_pollitem_t item = { crm_subscriber_socket(con.sub), 0, ZMQ_POLLIN, 0 };
        if (zmq_poll(&item, 1, POLL_MS) > 0) {
            int rc = crm_subscriber_process(con.sub);
            cr_assert(rc == 0 || rc == con.fail_rc, "process: %s", crm_strerror(rc));
        }
    }
    cr_assert_eq(crm_subscriber_cursor(con.sub), target);
}

static uint64_t s_applied_count(void)
{
    crm_txn_t *txn = NULL;
    uint64_t count = 0;
    cr_assert_eq(crm_store_read_begin(con.store, &txn), 0);
    cr_assert_eq(crm_store_count(txn, con.applied, &count), 0);
    crm_store_txn_end(&txn);
    return count;
}

static bool s_applied(uint64_t seq)
{
    crm_txn_t *txn = NULL;
    unsigned char key[8];
    crm_val_t v;
    crm_bus_seq_encode(seq, key);
    cr_assert_eq(crm_store_read_begin(con.store, &txn), 0);
    int rc = crm_store_get(txn, con.applied, key, 8, &v);
    crm_store_txn_end(&txn);
    return rc == 0;
}

static void s_setup(void)
{
    memset(&con, 0, sizeof con);
    crm_test_tmpdir(pub.dir);
    crm_test_tmpdir(con.dir);
    crm_test_endpoint(pub.pub_ep);
    crm_test_endpoint(pub.replay_ep);
    pub.ctx = zmq_ctx_new();
    atomic_store(&pub.stop, false);
    atomic_store(&pub.live, true);
    cr_assert_eq(crm_store_open(pub.dir, NULL, &pub.store), 0);
    cr_assert_eq(crm_outbox_new(pub.store, &pub.outbox), 0);
}

static void s_pub_start(void)
{
    pthread_create(&pub.thread, NULL, s_pub_loop, NULL);
}

static void s_teardown(void)
{
    atomic_store(&pub.stop, true);
    if (pub.thread)
        pthread_join(pub.thread, NULL);
    pub.thread = 0;
    s_sub_close();
    crm_outbox_destroy(&pub.outbox);
    crm_store_destroy(&pub.store);
    zmq_ctx_term(pub.ctx);
    crm_test_rmtree(pub.dir);
    crm_test_rmtree(con.dir);
    crm_test_check_leaks();
}

TestSuite(crm_subscriber, .init = s_setup, .fini = s_teardown, .timeout = 60);

Test(crm_subscriber, outbox_sequences_start_at_one_without_holes)
{
    s_commit("t.a", 1, 3);
    s_commit("t.a", 4, 2);
    uint64_t head = 0;
    cr_assert_eq(crm_outbox_head(pub.outbox, &head), 0);
    cr_assert_eq(head, 5);
    crm_txn_t *txn = NULL;
    crm_val_t topic, payload;
    cr_assert_eq(crm_store_read_begin(pub.store, &txn), 0);
    cr_assert_eq(crm_outbox_get(pub.outbox, txn, 4, &topic, &payload), 0);
    cr_assert_eq(topic.size, 3);
    cr_assert_eq(memcmp(payload.data, "event 4", payload.size), 0);
    cr_assert_eq(crm_outbox_get(pub.outbox, txn, 6, &topic, &payload), CRM_ENOTFOUND);
    crm_store_txn_end(&txn);
}

static int s_append_then_fail(crm_txn_t *txn, void *arg)
{
    int rc = crm_outbox_append(pub.outbox, txn, "t.a", "x", 1, NULL);
    return rc ? rc : CRM_ECONFLICT;
}

Test(crm_subscriber, an_aborted_change_leaves_no_event)
{
    cr_assert_eq(crm_store_write(pub.store, s_append_then_fail, NULL), CRM_ECONFLICT);
    uint64_t head = 1;
    cr_assert_eq(crm_outbox_head(pub.outbox, &head), 0);
    cr_assert_eq(head, 0);
}

Test(crm_subscriber, events_committed_before_the_subscriber_started_are_replayed)
{
    s_commit("t.a", 1, 2500);       /* more than one replay answer */
    s_pub_start();
    s_sub_open();
    s_sub_run_until(2500);
    cr_assert_eq(s_applied_count(), 2500);
    cr_assert_eq(con.calls, 2500);
}

Test(crm_subscriber, live_events_apply_once_in_order)
{
    s_pub_start();
    s_sub_open();
    s_sub_run_until(0);
    for (int i = 0; i < 20; i++)
        s_commit("t.a", i * 10 + 1, 10);
    s_sub_run_until(200);
    cr_assert_eq(s_applied_count(), 200);
    cr_assert_eq(con.calls, 200);
}

Test(crm_subscriber, missed_live_events_are_fetched_by_replay)
{
    atomic_store(&pub.live, false);
    s_pub_start();
    s_sub_open();
    s_commit("t.a", 1, 50);         /* never published live: heartbeats reveal the gap */
    s_sub_run_until(50);
    atomic_store(&pub.live, true);
    s_commit("t.a", 51, 5);
    s_sub_run_until(55);
    cr_assert_eq(s_applied_count(), 55);
}

Test(crm_subscriber, a_restarted_subscriber_resumes_after_its_cursor)
{
    s_pub_start();
    s_sub_open();
    s_commit("t.a", 1, 30);
    s_sub_run_until(30);
    s_sub_close();
    s_commit("t.a", 31, 30);
    s_sub_open();
    cr_assert_eq(crm_subscriber_cursor(con.sub), 30);
    con.calls = 0;
    s_sub_run_until(60);
    cr_assert_eq(con.calls, 30, "only the new events are applied after a restart");
    cr_assert_eq(s_applied_count(), 60);
}

Test(crm_subscriber, an_unusable_event_is_dead_lettered_and_the_rest_applied)
{
    con.fail_seq = 7;
    con.fail_rc = CRM_EINVALID;
    con.fail_times = -1;
    s_pub_start();
    s_sub_open();
    s_commit("t.a", 1, 12);
    s_sub_run_until(12);
    cr_assert_eq(crm_subscriber_dead_letters(con.sub), 1);
    cr_assert_eq(s_applied_count(), 11);
    cr_assert_not(s_applied(7), "the dead event's partial effect was rolled back");
    cr_assert(s_applied(6) && s_applied(8));
    crm_db_t dead;
    uint64_t count = 0;
    crm_txn_t *txn = NULL;
    cr_assert_eq(crm_store_db(con.store, CRM_SUBSCRIBER_DEAD_LETTER_DB, &dead), 0);
    cr_assert_eq(crm_store_read_begin(con.store, &txn), 0);
    cr_assert_eq(crm_store_count(txn, dead, &count), 0);
    crm_store_txn_end(&txn);
    cr_assert_eq(count, 1);
}

Test(crm_subscriber, a_transient_failure_is_retried_without_doubling)
{
    con.fail_seq = 5;
    con.fail_rc = CRM_EIO;
    con.fail_times = 3;
    s_pub_start();
    s_sub_open();
    s_commit("t.a", 1, 10);
    s_sub_run_until(10);
    cr_assert_eq(s_applied_count(), 10);
    cr_assert_eq(crm_subscriber_dead_letters(con.sub), 0);
}

Test(crm_subscriber, only_matching_prefixes_are_applied_but_the_cursor_passes_all)
{
    s_pub_start();
    s_sub_open();
    cr_assert_eq(crm_subscriber_add_prefix(con.sub, "crm.ingest."), 0);
    cr_assert_eq(crm_subscriber_add_prefix(con.sub, ""), CRM_EINVALID);
    s_commit("crm.ingest.order.placed.v1", 1, 3);
    s_commit("crm.other.thing.v1", 4, 3);
    s_commit("crm.ingest.order.refunded.v1", 7, 2);
    s_sub_run_until(8);
    cr_assert_eq(s_applied_count(), 5);
    cr_assert(s_applied(1) && !s_applied(4) && s_applied(8));
}

Test(crm_subscriber, a_subscriber_started_before_its_publisher_catches_up)
{
    s_sub_open();
    cr_assert_eq(crm_subscriber_tick(con.sub), 0, "a publisher that is away is not an error");
    s_commit("t.a", 1, 40);
    s_pub_start();
    s_sub_run_until(40);
    cr_assert_eq(s_applied_count(), 40);
}

static int s_append_at_stale(crm_txn_t *txn, void *arg)
{
    int *rc = arg;
    *rc = crm_outbox_append_at(pub.outbox, txn, 2, "t.a", "late", 4);
    return 0;
}

Test(crm_subscriber, append_at_refuses_a_sequence_that_does_not_grow)
{
    s_commit("t.a", 1, 3);
    int rc = 0;
    cr_assert_eq(crm_store_write(pub.store, s_append_at_stale, &rc), 0);
    cr_assert_eq(rc, CRM_EINVALID);
    uint64_t head = 0;
    cr_assert_eq(crm_outbox_head(pub.outbox, &head), 0);
    cr_assert_eq(head, 3);
}
