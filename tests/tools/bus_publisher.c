/* bus_publisher.c: a test publisher: commits numbered events to its outbox in batches, publishes and serves replay. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <zmq.h>

#include "crm_bus.h"
#include "crm_error.h"
#include "crm_outbox.h"
#include "crm_store.h"

#define TOPIC "test.bus.event.v1"
#define PAYLOAD_SIZE 100            /* bytes per event: the sequence, then filler derived from it */
#define DEFAULT_BATCH 100
#define POLL_MS 100

typedef struct {
    crm_outbox_t *outbox;
    uint64_t total;
    size_t batch;
} s_batch_t;

/* The payload of event seq: 8 bytes of seq, then bytes derived from it. Subscribers check it. */
static void s_payload(uint64_t seq, unsigned char out[PAYLOAD_SIZE])
{
    crm_bus_seq_encode(seq, out);
    for (size_t i = 8; i < PAYLOAD_SIZE; i++)
        out[i] = (unsigned char) ((seq * 31 + i) & 0xff);
}

static int s_write_batch(crm_txn_t *txn, void *arg)
{
    s_batch_t *b = arg;
    uint64_t seq = 0;
    int rc = crm_outbox_next_seq(b->outbox, txn, &seq);
    for (size_t i = 0; rc == 0 && i < b->batch && seq <= b->total; i++, seq++) {
        unsigned char payload[PAYLOAD_SIZE];
        s_payload(seq, payload);
        rc = crm_outbox_append(b->outbox, txn, TOPIC, payload, sizeof payload, NULL);
    }
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
    uint64_t total = 0;
    size_t batch = DEFAULT_BATCH;
    bool no_sync = false;
    uint64_t rate = 0;              /* events per second; 0 for as fast as the disk goes */
    static const struct option options[] = {
        { "store", required_argument, 0, 's' }, { "pub", required_argument, 0, 'p' },
        { "replay", required_argument, 0, 'r' }, { "total", required_argument, 0, 't' },
        { "batch", required_argument, 0, 'b' }, { "no-sync", no_argument, 0, 'n' },
        { "rate", required_argument, 0, 'R' }, { 0, 0, 0, 0 },
    };
    int opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 's': store_path = optarg; break;
        case 'p': pub_ep = optarg; break;
        case 'r': replay_ep = optarg; break;
        case 't': total = strtoull(optarg, NULL, 10); break;
        case 'b': batch = strtoull(optarg, NULL, 10); break;
        case 'n': no_sync = true; break;
        case 'R': rate = strtoull(optarg, NULL, 10); break;
        default: return 2;
        }
    }
    if (!store_path || !pub_ep || !replay_ep || batch == 0) {
        fprintf(stderr, "usage: bus_publisher --store DIR --pub EP --replay EP --total N [--batch B] [--rate EVENTS_PER_S] [--no-sync]\n");
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
    crm_outbox_t *outbox = NULL;
    crm_bus_pub_t *pub = NULL;
    crm_bus_replay_server_t *replay = NULL;
    crm_store_options_t store_opts = { .no_sync = no_sync };
    int rc = crm_store_open(store_path, &store_opts, &store);
    if (rc == 0)
        rc = crm_outbox_new(store, &outbox);
    if (rc == 0)
        rc = crm_bus_pub_new(ctx, pub_ep, &pub);
    if (rc == 0)
        rc = crm_bus_replay_server_new(ctx, replay_ep, &replay);
    if (rc) {
        fprintf(stderr, "bus_publisher: start: %s\n", crm_strerror(rc));
        goto out;
    }
    uint64_t head = 0;
    rc = crm_outbox_head(outbox, &head);
    long long next_heartbeat = 0;
    long long started = s_now_ms();
    uint64_t first = head;
    bool stop = false;
    while (rc == 0 && !stop) {
        bool paced = rate && (long long) ((head - first) * 1000 / rate) > s_now_ms() - started;
        if (head < total && !paced) {
            s_batch_t b = { .outbox = outbox, .total = total, .batch = batch };
            rc = crm_store_write(store, s_write_batch, &b);
            if (rc == 0)
                rc = crm_outbox_head(outbox, &head);
            if (rc == 0)
                rc = crm_outbox_publish(outbox, pub, NULL);
        }
        if (rc == 0 && s_now_ms() >= next_heartbeat) {
            rc = crm_bus_pub_heartbeat(pub, head);
            next_heartbeat = s_now_ms() + CRM_BUS_HEARTBEAT_MS;
        }
        zmq_pollitem_t items[] = {
            { crm_bus_replay_server_socket(replay), 0, ZMQ_POLLIN, 0 },
            { NULL, signal_fd, ZMQ_POLLIN, 0 },
        };
        if (zmq_poll(items, 2, head < total ? (paced ? 1 : 0) : POLL_MS) < 0 && errno != EINTR)
            rc = CRM_EBUS;
        if (rc == 0 && (items[0].revents & ZMQ_POLLIN))
            rc = crm_outbox_serve_replay(outbox, replay);
        if (items[1].revents & ZMQ_POLLIN)
            stop = true;
    }
    if (rc)
        fprintf(stderr, "bus_publisher: %s\n", crm_strerror(rc));
out:
    crm_bus_replay_server_destroy(&replay);
    crm_bus_pub_destroy(&pub);
    crm_outbox_destroy(&outbox);
    crm_store_destroy(&store);
    zmq_ctx_term(ctx);
    return rc ? 1 : 0;
}
