/* analytics_publishers.h: the test acting as contacts, loyalty and feedback: an outbox, an event publisher and a replay endpoint each, served by a thread, on the endpoints the analytics process subscribes to. */
#ifndef ANALYTICS_PUBLISHERS_H
#define ANALYTICS_PUBLISHERS_H

#include <criterion/criterion.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "crm_bus.h"
#include "crm_codec.h"
#include "crm_error.h"
#include "crm_event.h"
#include "crm_id.h"
#include "crm_outbox.h"
#include "crm_store.h"
#include "crm_suite.h"
#include "crm_time.h"

#define AP_COUNT 3                 /* contacts, loyalty, feedback */
#define AP_POLL_MS 50
#define AP_BATCH 1000              /* events appended per write transaction */

typedef struct {
    crm_service_id_t id;
    char source[32];
    char dir[CRM_TEST_PATH_MAX + 32];
    crm_store_t *store;
    crm_outbox_t *outbox;
    crm_bus_pub_t *pub;
    crm_bus_replay_server_t *replay;
} ap_publisher_t;

typedef struct {
    void *zmq;
    crm_id_gen_t *ids;
    ap_publisher_t pubs[AP_COUNT];
    pthread_t thread;
    atomic_bool stop;
    bool running;
} ap_t;

static const crm_service_id_t ap_ids[AP_COUNT] = { CRM_SVC_CONTACTS, CRM_SVC_LOYALTY, CRM_SVC_FEEDBACK };

static inline long long ap_now_ms(void)
{
    return crm_test_now_ms();
}

/* Publishes what was committed, answers replays and says where it is, until stopped. */
static inline void *ap_thread(void *arg)
{
    ap_t *ap = arg;
    long long next_heartbeat = 0;
    while (!atomic_load(&ap->stop)) {
        zmq_pollitem_t items[2 * AP_COUNT];
        for (int i = 0; i < AP_COUNT; i++) {
            items[2 * i] = (zmq_pollitem_t) { crm_bus_replay_server_socket(ap->pubs[i].replay), 0, ZMQ_POLLIN, 0 };
            items[2 * i + 1] = (zmq_pollitem_t) { NULL, crm_outbox_fd(ap->pubs[i].outbox), ZMQ_POLLIN, 0 };
        }
        zmq_poll(items, 2 * AP_COUNT, AP_POLL_MS);
        for (int i = 0; i < AP_COUNT; i++) {
            if (items[2 * i].revents & ZMQ_POLLIN)
                crm_outbox_serve_replay(ap->pubs[i].outbox, ap->pubs[i].replay);
            if (items[2 * i + 1].revents & ZMQ_POLLIN)
                crm_outbox_publish(ap->pubs[i].outbox, ap->pubs[i].pub, NULL);
        }
        if (ap_now_ms() >= next_heartbeat) {
            for (int i = 0; i < AP_COUNT; i++) {
                uint64_t head = 0;
                if (crm_outbox_head(ap->pubs[i].outbox, &head) == 0)
                    crm_bus_pub_heartbeat(ap->pubs[i].pub, head);
            }
            next_heartbeat = ap_now_ms() + CRM_BUS_HEARTBEAT_MS;
        }
    }
    return NULL;
}

/* Opens the three publishers on the suite's endpoints (stores under the suite's folder) and
 * starts serving them. no_sync: commits without fsync (benchmarks). */
static inline void ap_start(ap_t *ap, crm_suite_t *suite, bool no_sync)
{
    memset(ap, 0, sizeof *ap);
    ap->zmq = zmq_ctx_new();
    cr_assert_not_null(ap->zmq);
    cr_assert_eq(crm_id_gen_new(&ap->ids), 0);
    crm_store_options_t opts = { .no_sync = no_sync };
    for (int i = 0; i < AP_COUNT; i++) {
        ap_publisher_t *p = &ap->pubs[i];
        p->id = ap_ids[i];
        snprintf(p->source, sizeof p->source, "/crm/%s", crm_service_name(p->id));
        snprintf(p->dir, sizeof p->dir, "%s/fake-%s", suite->dir, crm_service_name(p->id));
        cr_assert_eq(crm_store_open(p->dir, &opts, &p->store), 0);
        cr_assert_eq(crm_outbox_new(p->store, &p->outbox), 0);
        cr_assert_eq(crm_bus_pub_new(ap->zmq, suite->pub_endpoints[p->id], &p->pub), 0);
        cr_assert_eq(crm_bus_replay_server_new(ap->zmq, suite->replay_endpoints[p->id], &p->replay), 0);
    }
    atomic_store(&ap->stop, false);
    cr_assert_eq(pthread_create(&ap->thread, NULL, ap_thread, ap), 0);
    ap->running = true;
}

static inline void ap_stop(ap_t *ap)
{
    if (ap->running) {
        atomic_store(&ap->stop, true);
        pthread_join(ap->thread, NULL);
        ap->running = false;
    }
    for (int i = 0; i < AP_COUNT; i++) {
        ap_publisher_t *p = &ap->pubs[i];
        crm_bus_replay_server_destroy(&p->replay);
        crm_bus_pub_destroy(&p->pub);
        crm_outbox_destroy(&p->outbox);
        crm_store_destroy(&p->store);
    }
    crm_id_gen_destroy(&ap->ids);
    if (ap->zmq)
        zmq_ctx_term(ap->zmq);
    ap->zmq = NULL;
}

static inline ap_publisher_t *ap_pub(ap_t *ap, crm_service_id_t id)
{
    for (int i = 0; i < AP_COUNT; i++)
        if (ap->pubs[i].id == id)
            return &ap->pubs[i];
    cr_assert_fail("not a publisher: %d", id);
    return NULL;
}

/* A pending batch of events for one publisher, committed together. */
typedef struct {
    ap_t *ap;
    ap_publisher_t *pub;
    const char *type[AP_BATCH];
    const char *subject[AP_BATCH];
    int64_t time_us[AP_BATCH];
    uint8_t *data[AP_BATCH];
    size_t data_len[AP_BATCH];
    const ProtobufCMessageDescriptor *desc[AP_BATCH];
    size_t count;
} ap_batch_t;

static inline int ap_batch_body(crm_txn_t *txn, void *arg)
{
    ap_batch_t *b = arg;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < b->count; i++) {
        ProtobufCMessage *msg = NULL;
        rc = crm_codec_pb_decode(b->desc[i], b->data[i], b->data_len[i], &msg, NULL);
        crm_event_spec_t spec = {
            .source = b->pub->source, .type = b->type[i], .subject = b->subject[i], .time_us = b->time_us[i],
            .data = msg,
        };
        if (rc == 0)
            rc = crm_event_append(b->pub->outbox, txn, b->ap->ids, &spec, NULL);
        crm_codec_message_free(&msg);
    }
    return rc;
}

/* Commits the pending events and wakes the publishing thread. */
static inline void ap_flush(ap_batch_t *b)
{
    if (b->count == 0)
        return;
    cr_assert_eq(crm_store_write(b->pub->store, ap_batch_body, b), 0);
    crm_outbox_notify(b->pub->outbox);
    for (size_t i = 0; i < b->count; i++)
        free(b->data[i]);
    b->count = 0;
}

/* Adds one event (type, subject, time, payload msg) to the batch; commits when full. The type and
 * subject must outlive the next flush. */
static inline void ap_add(ap_batch_t *b, const char *type, const char *subject, int64_t time_us,
                          const ProtobufCMessage *msg)
{
    if (b->count == AP_BATCH)
        ap_flush(b);
    size_t n = b->count;
    size_t len = protobuf_c_message_get_packed_size(msg);
    b->data[n] = malloc(len + 1);
    b->data_len[n] = protobuf_c_message_pack(msg, b->data[n]);
    b->desc[n] = msg->descriptor;
    b->type[n] = type;
    b->subject[n] = subject;
    b->time_us[n] = time_us;
    b->count++;
}

/* The publisher's head. */
static inline uint64_t ap_head(ap_t *ap, crm_service_id_t id)
{
    uint64_t head = 0;
    cr_assert_eq(crm_outbox_head(ap_pub(ap, id)->outbox, &head), 0);
    return head;
}

/* Waits until analytics (through the gateway, with key) has folded every event of the three
 * publishers and shows generation at least `generation`; at most wait_ms. Returns true then. */
static inline bool ap_wait_folded(ap_t *ap, crm_suite_t *suite, const char *key, uint64_t generation, int wait_ms)
{
    uint64_t heads[AP_COUNT];
    for (int i = 0; i < AP_COUNT; i++)
        heads[i] = ap_head(ap, ap->pubs[i].id);
    long long deadline = crm_test_now_ms() + wait_ms;
    while (crm_test_now_ms() < deadline) {
        crm_http_response_t r;
        crm_suite_http(suite, "GET", "/v1/analytics/status", key, NULL, NULL, &r);
        bool done = false;
        if (r.status == 200) {
            json_t *json = crm_http_json(&r);
            json_t *gen = json_object_get(json, "generation");
            uint64_t g = json_is_string(gen) ? strtoull(json_string_value(gen), NULL, 10) : 0;
            json_t *cursors = json_object_get(json, "cursors");
            done = g >= generation && !json_is_true(json_object_get(json, "rebuildPending"));
            for (size_t i = 0; done && i < json_array_size(cursors); i++) {
                json_t *c = json_array_get(cursors, i);
                const char *name = json_string_value(json_object_get(c, "publisher"));
                json_t *seq = json_object_get(c, "sequence");
                uint64_t s = json_is_string(seq) ? strtoull(json_string_value(seq), NULL, 10) : 0;
                for (int k = 0; k < AP_COUNT; k++)
                    if (name && strcmp(name, crm_service_name(ap->pubs[k].id)) == 0 && s < heads[k])
                        done = false;
            }
            json_decref(json);
        }
        crm_http_response_clear(&r);
        if (done)
            return true;
        usleep(50 * 1000);
    }
    return false;
}

/* Adds NAME=value to the environment the suite gives its services. */
static inline void ap_env(crm_suite_t *suite, const char *name, const char *value)
{
    size_t n = 0;
    while (suite->env[n])
        n++;
    cr_assert_lt(n, CRM_SUITE_ENV_MAX);
    snprintf(suite->env_text[n], CRM_SUITE_ENV_SIZE, "%s=%s", name, value);
    suite->env[n] = suite->env_text[n];
    suite->env[n + 1] = NULL;
}

#endif
