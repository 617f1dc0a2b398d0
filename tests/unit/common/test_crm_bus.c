/* test_crm_bus.c: the bus frames: publish and receive, heartbeats, replay exchange, malformed input. */
#include <criterion/criterion.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "crm_bus.h"
#include "crm_error.h"
#include "crm_test.h"

#define WAIT_MS 3000

static void *ctx;
static char pub_ep[64], replay_ep[64];

static void s_setup(void)
{
    ctx = zmq_ctx_new();
    crm_test_endpoint(pub_ep);
    crm_test_endpoint(replay_ep);
}

static void s_teardown(void)
{
    zmq_ctx_term(ctx);
    crm_test_check_leaks();
}

/* Waits for the next event on sub, up to WAIT_MS. */
static int s_recv(crm_bus_sub_t *sub, crm_bus_event_t *event)
{
    zmq_pollitem_t item = { crm_bus_sub_socket(sub), 0, ZMQ_POLLIN, 0 };
    if (zmq_poll(&item, 1, WAIT_MS) <= 0)
        return CRM_ETIMEOUT;
    return crm_bus_sub_recv(sub, event);
}

TestSuite(crm_bus, .init = s_setup, .fini = s_teardown);

Test(crm_bus, sequence_encoding_sorts_like_numbers)
{
    unsigned char a[8], b[8];
    crm_bus_seq_encode(255, a);
    crm_bus_seq_encode(256, b);
    cr_assert(memcmp(a, b, 8) < 0);
    cr_assert_eq(crm_bus_seq_decode(b), 256);
    crm_bus_seq_encode(UINT64_MAX, a);
    cr_assert_eq(crm_bus_seq_decode(a), UINT64_MAX);
}

Test(crm_bus, topic_prefix)
{
    cr_assert(crm_bus_topic_matches("crm.ingest.order.placed.v1", 26, "crm.ingest."));
    cr_assert_not(crm_bus_topic_matches("crm.ingest", 10, "crm.ingest."));
    cr_assert(crm_bus_topic_matches("abc", 3, ""));
}

Test(crm_bus, published_events_arrive_with_topic_sequence_and_payload)
{
    crm_bus_pub_t *pub = NULL;
    crm_bus_sub_t *sub = NULL;
    cr_assert_eq(crm_bus_pub_new(ctx, pub_ep, &pub), 0);
    cr_assert_eq(crm_bus_sub_new(ctx, pub_ep, &sub), 0);
    /* PUB drops while the subscription travels: publish until the first arrives. */
    crm_bus_event_t event;
    int rc = CRM_ETIMEOUT;
    for (int i = 0; i < 100 && rc != 0; i++) {
        cr_assert_eq(crm_bus_pub_heartbeat(pub, 7), 0);
        zmq_pollitem_t item = { crm_bus_sub_socket(sub), 0, ZMQ_POLLIN, 0 };
        if (zmq_poll(&item, 1, 50) > 0)
            rc = crm_bus_sub_recv(sub, &event);
    }
    cr_assert_eq(rc, 0);
    cr_assert(event.heartbeat);
    cr_assert_eq(event.seq, 7);

    cr_assert_eq(crm_bus_publish(pub, "crm.test.thing.v1", 42, "hello", 5), 0);
    do {
        cr_assert_eq(s_recv(sub, &event), 0);
    } while (event.heartbeat);
    cr_assert_eq(event.topic_len, strlen("crm.test.thing.v1"));
    cr_assert_eq(memcmp(event.topic, "crm.test.thing.v1", event.topic_len), 0);
    cr_assert_eq(event.seq, 42);
    cr_assert_eq(event.payload_len, 5);
    cr_assert_eq(memcmp(event.payload, "hello", 5), 0);
    cr_assert_not(event.heartbeat);
    crm_bus_sub_destroy(&sub);
    crm_bus_pub_destroy(&pub);
    cr_assert_null(pub);
}

Test(crm_bus, bad_topics_and_payloads_are_refused)
{
    crm_bus_pub_t *pub = NULL;
    cr_assert_eq(crm_bus_pub_new(ctx, pub_ep, &pub), 0);
    char topic[CRM_BUS_MAX_TOPIC + 2];
    memset(topic, 'a', sizeof topic - 1);
    topic[sizeof topic - 1] = '\0';
    cr_assert_eq(crm_bus_publish(pub, topic, 1, "", 0), CRM_EINVALID);
    cr_assert_eq(crm_bus_publish(pub, "", 1, "", 0), CRM_EINVALID);
    cr_assert_eq(crm_bus_publish(pub, "t", 1, "", CRM_BUS_MAX_PAYLOAD + 1), CRM_ETOOBIG);
    crm_bus_pub_destroy(&pub);
}

Test(crm_bus, binding_a_taken_endpoint_fails_clearly)
{
    crm_bus_pub_t *a = NULL, *b = NULL;
    cr_assert_eq(crm_bus_pub_new(ctx, pub_ep, &a), 0);
    cr_assert_eq(crm_bus_pub_new(ctx, pub_ep, &b), CRM_EBUS);
    cr_assert_null(b);
    cr_assert_eq(crm_bus_pub_new(ctx, "nonsense://x", &b), CRM_EINVALID);
    crm_bus_pub_destroy(&a);
}

Test(crm_bus, malformed_live_messages_are_dropped)
{
    void *raw = zmq_socket(ctx, ZMQ_PUB);
    cr_assert_eq(zmq_bind(raw, pub_ep), 0);
    crm_bus_sub_t *sub = NULL;
    cr_assert_eq(crm_bus_sub_new(ctx, pub_ep, &sub), 0);
    usleep(200 * 1000);
    zmq_send(raw, "only-one-frame", 14, 0);
    zmq_send(raw, "t", 1, ZMQ_SNDMORE);
    zmq_send(raw, "short", 5, ZMQ_SNDMORE);   /* the sequence must be 8 bytes */
    zmq_send(raw, "p", 1, 0);
    zmq_send(raw, "t", 1, ZMQ_SNDMORE);
    zmq_send(raw, "12345678", 8, ZMQ_SNDMORE);
    zmq_send(raw, "p", 1, ZMQ_SNDMORE);
    zmq_send(raw, "extra", 5, 0);               /* four frames */
    crm_bus_event_t event;
    cr_assert_eq(s_recv(sub, &event), CRM_EPROTOCOL);
    cr_assert_eq(s_recv(sub, &event), CRM_EPROTOCOL);
    cr_assert_eq(s_recv(sub, &event), CRM_EPROTOCOL);
    cr_assert_eq(crm_bus_sub_recv(sub, &event), CRM_ENOTFOUND);
    crm_bus_sub_destroy(&sub);
    zmq_close(raw);
}

Test(crm_bus, replay_answers_events_after_a_sequence)
{
    crm_bus_replay_server_t *server = NULL;
    crm_bus_replay_client_t *client = NULL;
    cr_assert_eq(crm_bus_replay_server_new(ctx, replay_ep, &server), 0);
    cr_assert_eq(crm_bus_replay_client_new(ctx, replay_ep, &client), 0);
    /* The client fetches on a thread of its own in real use; here the server answers in between. */
    crm_bus_batch_t *batch = NULL;
    int rc = CRM_EUNAVAIL;
    for (int i = 0; i < 100 && rc == CRM_EUNAVAIL; i++) {
        rc = crm_bus_replay_fetch(client, 10, 3, 1, &batch);
        if (rc == CRM_EUNAVAIL)
            usleep(20 * 1000);
    }
    cr_assert_eq(rc, CRM_ETIMEOUT, "the request went out but nobody answered yet");
    crm_bus_replay_request_t *request = NULL;
    zmq_pollitem_t item = { crm_bus_replay_server_socket(server), 0, ZMQ_POLLIN, 0 };
    cr_assert_eq(zmq_poll(&item, 1, WAIT_MS), 1);
    cr_assert_eq(crm_bus_replay_recv(server, &request), 0);
    cr_assert_eq(crm_bus_replay_request_after(request), 10);
    cr_assert_eq(crm_bus_replay_request_max(request), 3);
    cr_assert_eq(crm_bus_replay_add(request, "a.b", 3, 11, "x", 1), 0);
    cr_assert_eq(crm_bus_replay_add(request, "a.c", 3, 12, "", 0), 0);
    cr_assert_eq(crm_bus_replay_add(request, "a.d", 3, 13, "zz", 2), 0);
    cr_assert_eq(crm_bus_replay_add(request, "a.e", 3, 14, "zz", 2), CRM_ELIMIT);
    cr_assert_eq(crm_bus_replay_send(server, &request, 99), 0);
    cr_assert_null(request);

    /* That answer was for the timed-out request: the next fetch must skip it and take its own. */
    rc = crm_bus_replay_fetch(client, 12, 5, 300, &batch);
    cr_assert_eq(rc, CRM_ETIMEOUT);
    cr_assert_eq(zmq_poll(&item, 1, WAIT_MS), 1);
    cr_assert_eq(crm_bus_replay_recv(server, &request), 0);
    cr_assert_eq(crm_bus_replay_request_after(request), 12);
    cr_assert_eq(crm_bus_replay_add(request, "a.d", 3, 13, "zz", 2), 0);
    cr_assert_eq(crm_bus_replay_send(server, &request, 13), 0);
    /* The answer is queued now; a fetch with a fresh id ignores it: answers are matched by id. */
    cr_assert_eq(crm_bus_replay_fetch(client, 12, 5, 200, &batch), CRM_ETIMEOUT);
    crm_bus_replay_client_destroy(&client);
    crm_bus_replay_server_destroy(&server);
}

Test(crm_bus, replay_client_without_a_publisher_is_unavailable_at_once)
{
    crm_bus_replay_client_t *client = NULL;
    cr_assert_eq(crm_bus_replay_client_new(ctx, replay_ep, &client), 0);
    crm_bus_batch_t *batch = NULL;
    long long start = crm_test_now_ms();
    cr_assert_eq(crm_bus_replay_fetch(client, 0, 10, 5000, &batch), CRM_EUNAVAIL);
    cr_assert_lt(crm_test_now_ms() - start, 1000);
    crm_bus_replay_client_destroy(&client);
}

Test(crm_bus, malformed_replay_requests_are_dropped)
{
    crm_bus_replay_server_t *server = NULL;
    cr_assert_eq(crm_bus_replay_server_new(ctx, replay_ep, &server), 0);
    void *raw = zmq_socket(ctx, ZMQ_DEALER);
    cr_assert_eq(zmq_connect(raw, replay_ep), 0);
    zmq_send(raw, "garbage", 7, 0);
    zmq_send(raw, "a", 1, ZMQ_SNDMORE);
    zmq_send(raw, "b", 1, 0);
    zmq_pollitem_t item = { crm_bus_replay_server_socket(server), 0, ZMQ_POLLIN, 0 };
    crm_bus_replay_request_t *request = NULL;
    cr_assert_eq(zmq_poll(&item, 1, WAIT_MS), 1);
    cr_assert_eq(crm_bus_replay_recv(server, &request), CRM_EPROTOCOL);
    cr_assert_null(request);
    cr_assert_eq(zmq_poll(&item, 1, WAIT_MS), 1);
    cr_assert_eq(crm_bus_replay_recv(server, &request), CRM_EPROTOCOL);
    cr_assert_eq(crm_bus_replay_recv(server, &request), CRM_ENOTFOUND);
    zmq_close(raw);
    crm_bus_replay_server_destroy(&server);
}
