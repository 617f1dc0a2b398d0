/* bus_subscriber.c: a test subscriber: applies a publisher's numbered events and checks each is the next one, exactly once. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <zmq.h>

#include "crm_bus.h"
#include "crm_error.h"
#include "crm_store.h"
#include "crm_subscriber.h"

#define CHECK_DB "check"
#define KEY_LAST "last"          /* the last event applied, by this program's own count */
#define KEY_COUNT "count"        /* how many times apply ran and committed */
#define KEY_VIOLATIONS "violations"
#define PAYLOAD_SIZE 100
#define POLL_MS 100

typedef struct {
    crm_db_t db;
} s_check_t;

static uint64_t s_get_u64(crm_txn_t *txn, crm_db_t db, const char *key)
{
    crm_val_t v;
    if (crm_store_get(txn, db, key, strlen(key), &v) != 0 || v.size != 8)
        return 0;
    return crm_bus_seq_decode(v.data);
}

static int s_put_u64(crm_txn_t *txn, crm_db_t db, const char *key, uint64_t value)
{
    unsigned char bytes[8];
    crm_bus_seq_encode(value, bytes);
    return crm_store_put(txn, db, key, strlen(key), bytes, 8, 0);
}

/* The effect of one event: it must be the one after the last applied, with the right payload. */
static int s_apply(crm_txn_t *txn, const crm_bus_event_t *event, void *arg)
{
    s_check_t *check = arg;
    uint64_t last = s_get_u64(txn, check->db, KEY_LAST);
    uint64_t count = s_get_u64(txn, check->db, KEY_COUNT);
    bool ok = event->payload_len == PAYLOAD_SIZE
              && crm_bus_seq_decode(event->payload) == event->seq && event->seq == last + 1;
    for (size_t i = 8; ok && i < PAYLOAD_SIZE; i++)
        ok = ((const unsigned char *) event->payload)[i] == (unsigned char) ((event->seq * 31 + i) & 0xff);
    int rc = 0;
    if (!ok)
        rc = s_put_u64(txn, check->db, KEY_VIOLATIONS, s_get_u64(txn, check->db, KEY_VIOLATIONS) + 1);
    if (rc == 0)
        rc = s_put_u64(txn, check->db, KEY_LAST, event->seq);
    if (rc == 0)
        rc = s_put_u64(txn, check->db, KEY_COUNT, count + 1);
    return rc;
}

static long long s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
    const char *store_path = NULL, *pub_ep = NULL, *replay_ep = NULL;
    uint64_t expect = 0;
    bool no_sync = false;
    static const struct option options[] = {
        { "store", required_argument, 0, 's' }, { "pub", required_argument, 0, 'p' },
        { "replay", required_argument, 0, 'r' }, { "expect", required_argument, 0, 'e' },
        { "no-sync", no_argument, 0, 'n' }, { 0, 0, 0, 0 },
    };
    int opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 's': store_path = optarg; break;
        case 'p': pub_ep = optarg; break;
        case 'r': replay_ep = optarg; break;
        case 'e': expect = strtoull(optarg, NULL, 10); break;
        case 'n': no_sync = true; break;
        default: return 2;
        }
    }
    if (!store_path || !pub_ep || !replay_ep) {
        fprintf(stderr, "usage: bus_subscriber --store DIR --pub EP --replay EP [--expect N] [--no-sync]\n");
        return 2;
    }
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    sigprocmask(SIG_BLOCK, &signals, NULL);
    int signal_fd = signalfd(-1, &signals, SFD_NONBLOCK | SFD_CLOEXEC);

    void *ctx = zmq_ctx_new();
    crm_store_t *store = NULL;
    crm_subscriber_t *sub = NULL;
    s_check_t check = { 0 };
    crm_store_options_t store_opts = { .no_sync = no_sync };
    int rc = crm_store_open(store_path, &store_opts, &store);
    if (rc == 0)
        rc = crm_store_db(store, CHECK_DB, &check.db);
    if (rc == 0)
        rc = crm_subscriber_new(ctx, store, "publisher", pub_ep, replay_ep, s_apply, &check, &sub);
    if (rc) {
        fprintf(stderr, "bus_subscriber: start: %s\n", crm_strerror(rc));
        goto out;
    }
    long long next_tick = 0;
    bool stop = false;
    while (rc == 0 && !stop && !(expect && crm_subscriber_cursor(sub) >= expect)) {
        if (s_now_ms() >= next_tick) {
            rc = crm_subscriber_tick(sub);
            next_tick = s_now_ms() + POLL_MS;
        }
        zmq_pollitem_t items[] = {
            { crm_subscriber_socket(sub), 0, ZMQ_POLLIN, 0 },
            { NULL, signal_fd, ZMQ_POLLIN, 0 },
        };
        if (rc == 0 && zmq_poll(items, 2, POLL_MS) < 0 && errno != EINTR)
            rc = CRM_EBUS;
        if (rc == 0 && (items[0].revents & ZMQ_POLLIN))
            rc = crm_subscriber_process(sub);
        if (items[1].revents & ZMQ_POLLIN)
            stop = true;
    }
    if (rc)
        fprintf(stderr, "bus_subscriber: %s\n", crm_strerror(rc));
out:
    crm_subscriber_destroy(&sub);
    crm_store_destroy(&store);
    zmq_ctx_term(ctx);
    return rc ? 1 : 0;
}
