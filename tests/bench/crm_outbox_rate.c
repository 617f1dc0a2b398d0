/* crm_outbox_rate.c: the foundation's outbox delivery rate and raw LMDB's, measured the same way for every benchmark. */
#include "crm_outbox_rate.h"

#include <errno.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zmq.h>

#include "crm_bus.h"
#include "crm_error.h"
#include "crm_outbox.h"
#include "crm_store.h"
#include "crm_subscriber.h"
#include "crm_test.h"

#define TOPIC "bench.event.v1"
#define POLL_MS 10
#define RAW_MAP_SIZE ((size_t) 1 << 30)

typedef struct {
    char dir[CRM_TEST_PATH_MAX];
    char pub_ep[64];
    char replay_ep[64];
    uint64_t events;
    atomic_bool stop;
    atomic_int failed;
} s_run_t;

static void s_payload(uint64_t seq, unsigned char *out)
{
    memset(out, (int) (seq & 0xff), CRM_OUTBOX_RATE_PAYLOAD);
    crm_bus_seq_encode(seq, out);
}

/* --- Reference: raw LMDB, batches of CRM_OUTBOX_RATE_BATCH puts per synced commit, keys in sequence order. */
double
crm_outbox_rate_raw_lmdb(const char *dir, uint64_t events)
{
    MDB_env *env = NULL;
    MDB_dbi dbi;
    MDB_txn *txn = NULL;
    mkdir(dir, 0700);
    if (mdb_env_create(&env) || mdb_env_set_mapsize(env, RAW_MAP_SIZE) || mdb_env_open(env, dir, 0, 0600)) {
        fprintf(stderr, "raw lmdb: open failed\n");
        exit(1);
    }
    long long start = crm_test_now_ms();
    uint64_t seq = 1;
    while (seq <= events) {
        if (mdb_txn_begin(env, NULL, 0, &txn) || mdb_dbi_open(txn, NULL, 0, &dbi)) {
            fprintf(stderr, "raw lmdb: txn failed\n");
            exit(1);
        }
        for (int i = 0; i < CRM_OUTBOX_RATE_BATCH && seq <= events; i++, seq++) {
            unsigned char key[8], payload[CRM_OUTBOX_RATE_PAYLOAD];
            crm_bus_seq_encode(seq, key);
            s_payload(seq, payload);
            MDB_val k = { sizeof key, key }, v = { sizeof payload, payload };
            if (mdb_put(txn, dbi, &k, &v, MDB_APPEND)) {
                fprintf(stderr, "raw lmdb: put failed\n");
                exit(1);
            }
        }
        if (mdb_txn_commit(txn)) {
            fprintf(stderr, "raw lmdb: commit failed\n");
            exit(1);
        }
    }
    long long ms = crm_test_now_ms() - start;
    mdb_env_close(env);
    return (double) events * 1000.0 / (double) (ms ? ms : 1);
}

/* --- The suite: outbox on one store, published, applied by a subscriber into another store. */
typedef struct {
    crm_outbox_t *outbox;
    uint64_t next;
    uint64_t events;
} s_batch_t;

static int s_write_batch(crm_txn_t *txn, void *arg)
{
    s_batch_t *b = arg;
    int rc = 0;
    for (uint64_t seq = b->next; rc == 0 && seq < b->next + CRM_OUTBOX_RATE_BATCH && seq <= b->events; seq++) {
        unsigned char payload[CRM_OUTBOX_RATE_PAYLOAD];
        s_payload(seq, payload);
        rc = crm_outbox_append(b->outbox, txn, TOPIC, payload, sizeof payload, NULL);
    }
    return rc;
}

static void *s_publisher(void *arg)
{
    s_run_t *run = arg;
    char path[CRM_TEST_PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/pub", run->dir);
    void *ctx = zmq_ctx_new();
    crm_store_t *store = NULL;
    crm_outbox_t *outbox = NULL;
    crm_bus_pub_t *pub = NULL;
    crm_bus_replay_server_t *replay = NULL;
    int rc = crm_store_open(path, NULL, &store);
    if (rc == 0) rc = crm_outbox_new(store, &outbox);
    if (rc == 0) rc = crm_bus_pub_new(ctx, run->pub_ep, &pub);
    if (rc == 0) rc = crm_bus_replay_server_new(ctx, run->replay_ep, &replay);
    uint64_t next = 1;
    long long next_heartbeat = 0;
    while (rc == 0 && !atomic_load(&run->stop)) {
        if (next <= run->events) {
            s_batch_t b = { .outbox = outbox, .next = next, .events = run->events };
            rc = crm_store_write(store, s_write_batch, &b);
            next += CRM_OUTBOX_RATE_BATCH;
            if (rc == 0) rc = crm_outbox_publish(outbox, pub, NULL);
        }
        if (rc == 0 && crm_test_now_ms() >= next_heartbeat) {
            uint64_t head = 0;
            rc = crm_outbox_head(outbox, &head);
            if (rc == 0) rc = crm_bus_pub_heartbeat(pub, head);
            next_heartbeat = crm_test_now_ms() + CRM_BUS_HEARTBEAT_MS;
        }
        zmq_pollitem_t item = { crm_bus_replay_server_socket(replay), 0, ZMQ_POLLIN, 0 };
        if (rc == 0 && zmq_poll(&item, 1, next <= run->events ? 0 : POLL_MS) > 0)
            rc = crm_outbox_serve_replay(outbox, replay);
    }
    if (rc) {
        fprintf(stderr, "publisher: %s\n", crm_strerror(rc));
        atomic_store(&run->failed, 1);
    }
    crm_bus_replay_server_destroy(&replay);
    crm_bus_pub_destroy(&pub);
    crm_outbox_destroy(&outbox);
    crm_store_destroy(&store);
    zmq_ctx_term(ctx);
    return NULL;
}

typedef struct {
    crm_db_t db;
} s_apply_t;

/* The subscriber's effect: one small record per event, as a consuming service would write. */
static int s_apply(crm_txn_t *txn, const crm_bus_event_t *event, void *arg)
{
    s_apply_t *a = arg;
    unsigned char key[8];
    crm_bus_seq_encode(event->seq, key);
    return crm_store_put(txn, a->db, key, sizeof key, event->payload, event->payload_len, CRM_STORE_APPEND);
}

static double s_delivery(s_run_t *run)
{
    char path[CRM_TEST_PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/sub", run->dir);
    crm_test_endpoint(run->pub_ep);
    crm_test_endpoint(run->replay_ep);
    atomic_store(&run->stop, false);
    void *ctx = zmq_ctx_new();
    crm_store_t *store = NULL;
    crm_subscriber_t *sub = NULL;
    s_apply_t a;
    int rc = crm_store_open(path, NULL, &store);
    if (rc == 0) rc = crm_store_db(store, "applied", &a.db);
    if (rc == 0) rc = crm_subscriber_new(ctx, store, "bench", run->pub_ep, run->replay_ep, s_apply, &a, &sub);
    if (rc) {
        fprintf(stderr, "subscriber: %s\n", crm_strerror(rc));
        exit(1);
    }
    /* Let the SUB connect before the stream starts, as a running suite would be. */
    pthread_t thread;
    long long start = crm_test_now_ms();
    pthread_create(&thread, NULL, s_publisher, run);
    long long next_tick = 0;
    while (rc == 0 && crm_subscriber_cursor(sub) < run->events && !atomic_load(&run->failed)) {
        if (crm_test_now_ms() >= next_tick) {
            rc = crm_subscriber_tick(sub);
            next_tick = crm_test_now_ms() + 100;
        }
        zmq_pollitem_t item = { crm_subscriber_socket(sub), 0, ZMQ_POLLIN, 0 };
        if (rc == 0 && zmq_poll(&item, 1, POLL_MS) > 0)
            rc = crm_subscriber_process(sub);
    }
    long long ms = crm_test_now_ms() - start;
    atomic_store(&run->stop, true);
    pthread_join(thread, NULL);
    if (rc || atomic_load(&run->failed)) {
        fprintf(stderr, "subscriber: %s\n", crm_strerror(rc));
        exit(1);
    }
    crm_subscriber_destroy(&sub);
    crm_store_destroy(&store);
    zmq_ctx_term(ctx);
    return (double) run->events * 1000.0 / (double) (ms ? ms : 1);
}

double
crm_outbox_rate_delivery(uint64_t events)
{
    s_run_t run = { .events = events };
    crm_test_tmpdir(run.dir);
    double rate = s_delivery(&run);
    crm_test_rmtree(run.dir);
    return rate;
}
