/* crm_bus.c: event frames over ZeroMQ: PUB/SUB for the live stream, ROUTER/DEALER for replay. */
#include "crm_bus.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "crm_error.h"

#define SEQ_SIZE 8
#define REQUEST_ID_SIZE 8
#define COUNT_SIZE 4
#define ROUTING_ID_MAX 256
#define LINGER_MS 0
#define HEARTBEAT_IVL_MS 1000   /* ZMTP heartbeats, so a dead peer is noticed */
#define HEARTBEAT_TIMEOUT_MS 3000

struct crm_bus_pub {
    void *socket;
};

struct crm_bus_sub {
    void *socket;
    zmq_msg_t frames[3];
    bool holding;            /* frames hold the last event handed out */
};

struct crm_bus_replay_server {
    void *socket;
};

/* One event copied into an answer. */
typedef struct {
    char *topic;
    size_t topic_len;
    uint64_t seq;
    void *payload;
    size_t payload_len;
} s_entry_t;

struct crm_bus_replay_request {
    zmq_msg_t routing_id;
    unsigned char request_id[REQUEST_ID_SIZE];
    uint64_t after;
    size_t max;
    s_entry_t *entries;
    size_t count;
    size_t bytes;
};

struct crm_bus_replay_client {
    void *socket;
    uint64_t next_request_id;
};

struct crm_bus_batch {
    uint64_t head;
    size_t count;
    zmq_msg_t *frames;       /* 3 per event */
};

void crm_bus_seq_encode(uint64_t seq, unsigned char out[8])
{
    for (int i = 7; i >= 0; i--) {
        out[i] = (unsigned char) (seq & 0xff);
        seq >>= 8;
    }
}

uint64_t crm_bus_seq_decode(const unsigned char in[8])
{
    uint64_t seq = 0;
    for (int i = 0; i < 8; i++)
        seq = (seq << 8) | in[i];
    return seq;
}

static void s_count_encode(uint32_t n, unsigned char out[4])
{
    out[0] = (unsigned char) (n >> 24);
    out[1] = (unsigned char) (n >> 16);
    out[2] = (unsigned char) (n >> 8);
    out[3] = (unsigned char) n;
}

static uint32_t s_count_decode(const unsigned char in[4])
{
    return ((uint32_t) in[0] << 24) | ((uint32_t) in[1] << 16) | ((uint32_t) in[2] << 8) | in[3];
}

bool crm_bus_topic_matches(const char *topic, size_t topic_len, const char *prefix)
{
    size_t n = strlen(prefix);
    return n <= topic_len && memcmp(topic, prefix, n) == 0;
}

/* Makes a socket with the options every bus socket shares. */
static int s_socket_new(void *ctx, int type, void **socket_p)
{
    void *socket = zmq_socket(ctx, type);
    if (!socket)
        return CRM_EBUS;
    int linger = LINGER_MS;
    int hwm = CRM_BUS_HWM;
    int64_t max_size = (int64_t) (CRM_BUS_MAX_PAYLOAD + CRM_BUS_REPLAY_MAX_BYTES + 4096);
    int ivl = HEARTBEAT_IVL_MS, timeout = HEARTBEAT_TIMEOUT_MS;
    int reconnect = CRM_BUS_RECONNECT_MS, reconnect_max = CRM_BUS_RECONNECT_MAX_MS;
    if (zmq_setsockopt(socket, ZMQ_LINGER, &linger, sizeof linger)
        || zmq_setsockopt(socket, ZMQ_SNDHWM, &hwm, sizeof hwm)
        || zmq_setsockopt(socket, ZMQ_RCVHWM, &hwm, sizeof hwm)
        || zmq_setsockopt(socket, ZMQ_MAXMSGSIZE, &max_size, sizeof max_size)
        || zmq_setsockopt(socket, ZMQ_HEARTBEAT_IVL, &ivl, sizeof ivl)
        || zmq_setsockopt(socket, ZMQ_HEARTBEAT_TIMEOUT, &timeout, sizeof timeout)
        || zmq_setsockopt(socket, ZMQ_RECONNECT_IVL, &reconnect, sizeof reconnect)
        || zmq_setsockopt(socket, ZMQ_RECONNECT_IVL_MAX, &reconnect_max, sizeof reconnect_max)) {
        zmq_close(socket);
        return CRM_EBUS;
    }
    *socket_p = socket;
    return 0;
}

static int s_attach(void *socket, const char *endpoint, bool bind)
{
    if (!endpoint || !*endpoint)
        return CRM_EINVALID;
    int rc = bind ? zmq_bind(socket, endpoint) : zmq_connect(socket, endpoint);
    if (rc == 0)
        return 0;
    return errno == EINVAL || errno == EPROTONOSUPPORT || errno == ENOCOMPATPROTO ? CRM_EINVALID
                                                                                   : CRM_EBUS;
}

static int s_send(void *socket, const void *data, size_t size, int flags)
{
    while (zmq_send(socket, data, size, flags) < 0) {
        if (errno != EINTR)
            return errno == EAGAIN ? CRM_EUNAVAIL : CRM_EBUS;
    }
    return 0;
}

/* --- Publishing. */

int crm_bus_pub_new(void *zmq_ctx, const char *endpoint, crm_bus_pub_t **pub_p)
{
    assert(zmq_ctx && pub_p);
    crm_bus_pub_t *pub = calloc(1, sizeof *pub);
    if (!pub)
        return CRM_ENOMEM;
    int rc = s_socket_new(zmq_ctx, ZMQ_PUB, &pub->socket);
    if (rc == 0)
        rc = s_attach(pub->socket, endpoint, true);
    if (rc) {
        crm_bus_pub_destroy(&pub);
        return rc;
    }
    *pub_p = pub;
    return 0;
}

void crm_bus_pub_destroy(crm_bus_pub_t **pub_p)
{
    if (!pub_p || !*pub_p)
        return;
    if ((*pub_p)->socket)
        zmq_close((*pub_p)->socket);
    free(*pub_p);
    *pub_p = NULL;
}

int crm_bus_publish(crm_bus_pub_t *pub, const char *topic, uint64_t seq, const void *payload,
                    size_t payload_len)
{
    size_t topic_len = topic ? strlen(topic) : 0;
    if (topic_len == 0 || topic_len > CRM_BUS_MAX_TOPIC)
        return CRM_EINVALID;
    if (payload_len > CRM_BUS_MAX_PAYLOAD)
        return CRM_ETOOBIG;
    unsigned char seq_bytes[SEQ_SIZE];
    crm_bus_seq_encode(seq, seq_bytes);
    /* PUB never blocks; a message past the high-water mark is dropped, and replay recovers it. */
    int rc = s_send(pub->socket, topic, topic_len, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    if (rc == 0)
        rc = s_send(pub->socket, seq_bytes, SEQ_SIZE, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    if (rc == 0)
        rc = s_send(pub->socket, payload, payload_len, ZMQ_DONTWAIT);
    return rc == CRM_EUNAVAIL ? 0 : rc;
}

int crm_bus_pub_heartbeat(crm_bus_pub_t *pub, uint64_t head)
{
    return crm_bus_publish(pub, CRM_BUS_HEARTBEAT_TOPIC, head, "", 0);
}

/* --- Subscribing. */

int crm_bus_sub_new(void *zmq_ctx, const char *endpoint, crm_bus_sub_t **sub_p)
{
    assert(zmq_ctx && sub_p);
    crm_bus_sub_t *sub = calloc(1, sizeof *sub);
    if (!sub)
        return CRM_ENOMEM;
    int rc = s_socket_new(zmq_ctx, ZMQ_SUB, &sub->socket);
    /* Everything from the publisher: the cursor must see every sequence to stay contiguous. */
    if (rc == 0 && zmq_setsockopt(sub->socket, ZMQ_SUBSCRIBE, "", 0))
        rc = CRM_EBUS;
    if (rc == 0)
        rc = s_attach(sub->socket, endpoint, false);
    if (rc) {
        crm_bus_sub_destroy(&sub);
        return rc;
    }
    for (int i = 0; i < 3; i++)
        zmq_msg_init(&sub->frames[i]);
    sub->holding = true;
    *sub_p = sub;
    return 0;
}

void crm_bus_sub_destroy(crm_bus_sub_t **sub_p)
{
    if (!sub_p || !*sub_p)
        return;
    crm_bus_sub_t *sub = *sub_p;
    if (sub->holding)
        for (int i = 0; i < 3; i++)
            zmq_msg_close(&sub->frames[i]);
    if (sub->socket)
        zmq_close(sub->socket);
    free(sub);
    *sub_p = NULL;
}

void *crm_bus_sub_socket(crm_bus_sub_t *sub)
{
    return sub->socket;
}

/* Discards the rest of a multipart message. */
static void s_drain_more(void *socket, zmq_msg_t *last)
{
    while (zmq_msg_more(last)) {
        zmq_msg_close(last);
        zmq_msg_init(last);
        if (zmq_msg_recv(last, socket, 0) < 0)
            break;
    }
}

int crm_bus_sub_recv(crm_bus_sub_t *sub, crm_bus_event_t *event)
{
    for (int i = 0; i < 3; i++) {
        zmq_msg_close(&sub->frames[i]);
        zmq_msg_init(&sub->frames[i]);
    }
    int parts = 0;
    for (; parts < 3; parts++) {
        int rc;
        while ((rc = zmq_msg_recv(&sub->frames[parts], sub->socket, parts == 0 ? ZMQ_DONTWAIT : 0)) < 0
               && errno == EINTR)
            ;
        if (rc < 0)
            return parts == 0 && errno == EAGAIN ? CRM_ENOTFOUND : CRM_EBUS;
        if (!zmq_msg_more(&sub->frames[parts]))
            break;
    }
    if (parts >= 3) {
        s_drain_more(sub->socket, &sub->frames[2]);
        return CRM_EPROTOCOL;
    }
    if (parts != 2)
        return CRM_EPROTOCOL;
    size_t topic_len = zmq_msg_size(&sub->frames[0]);
    if (topic_len == 0 || topic_len > CRM_BUS_MAX_TOPIC || zmq_msg_size(&sub->frames[1]) != SEQ_SIZE)
        return CRM_EPROTOCOL;
    event->topic = zmq_msg_data(&sub->frames[0]);
    event->topic_len = topic_len;
    event->seq = crm_bus_seq_decode(zmq_msg_data(&sub->frames[1]));
    event->payload = zmq_msg_data(&sub->frames[2]);
    event->payload_len = zmq_msg_size(&sub->frames[2]);
    event->heartbeat = topic_len == strlen(CRM_BUS_HEARTBEAT_TOPIC)
                       && memcmp(event->topic, CRM_BUS_HEARTBEAT_TOPIC, topic_len) == 0;
    return 0;
}

/* --- Replay, publisher side. */

int crm_bus_replay_server_new(void *zmq_ctx, const char *endpoint, crm_bus_replay_server_t **server_p)
{
    assert(zmq_ctx && server_p);
    crm_bus_replay_server_t *server = calloc(1, sizeof *server);
    if (!server)
        return CRM_ENOMEM;
    int rc = s_socket_new(zmq_ctx, ZMQ_ROUTER, &server->socket);
    if (rc == 0)
        rc = s_attach(server->socket, endpoint, true);
    if (rc) {
        crm_bus_replay_server_destroy(&server);
        return rc;
    }
    *server_p = server;
    return 0;
}

void crm_bus_replay_server_destroy(crm_bus_replay_server_t **server_p)
{
    if (!server_p || !*server_p)
        return;
    if ((*server_p)->socket)
        zmq_close((*server_p)->socket);
    free(*server_p);
    *server_p = NULL;
}

void *crm_bus_replay_server_socket(crm_bus_replay_server_t *server)
{
    return server->socket;
}

int crm_bus_replay_recv(crm_bus_replay_server_t *server, crm_bus_replay_request_t **request_p)
{
    crm_bus_replay_request_t *request = calloc(1, sizeof *request);
    if (!request)
        return CRM_ENOMEM;
    zmq_msg_init(&request->routing_id);
    zmq_msg_t body;
    zmq_msg_init(&body);
    int rc = 0;
    if (zmq_msg_recv(&request->routing_id, server->socket, ZMQ_DONTWAIT) < 0) {
        rc = errno == EAGAIN || errno == EINTR ? CRM_ENOTFOUND : CRM_EBUS;
        goto out;
    }
    if (!zmq_msg_more(&request->routing_id) || zmq_msg_recv(&body, server->socket, 0) < 0) {
        rc = CRM_EPROTOCOL;
        goto out;
    }
    if (zmq_msg_more(&body) || zmq_msg_size(&body) != REQUEST_ID_SIZE + SEQ_SIZE + COUNT_SIZE) {
        s_drain_more(server->socket, &body);
        rc = CRM_EPROTOCOL;
        goto out;
    }
    const unsigned char *data = zmq_msg_data(&body);
    memcpy(request->request_id, data, REQUEST_ID_SIZE);
    request->after = crm_bus_seq_decode(data + REQUEST_ID_SIZE);
    request->max = s_count_decode(data + REQUEST_ID_SIZE + SEQ_SIZE);
    if (request->max == 0 || request->max > CRM_BUS_REPLAY_MAX_EVENTS)
        request->max = CRM_BUS_REPLAY_MAX_EVENTS;
    request->entries = calloc(request->max, sizeof *request->entries);
    if (!request->entries)
        rc = CRM_ENOMEM;
out:
    zmq_msg_close(&body);
    if (rc) {
        crm_bus_replay_request_destroy(&request);
        return rc;
    }
    *request_p = request;
    return 0;
}

uint64_t crm_bus_replay_request_after(const crm_bus_replay_request_t *request)
{
    return request->after;
}

size_t crm_bus_replay_request_max(const crm_bus_replay_request_t *request)
{
    return request->max;
}

int crm_bus_replay_add(crm_bus_replay_request_t *request, const char *topic, size_t topic_len,
                       uint64_t seq, const void *payload, size_t payload_len)
{
    if (topic_len == 0 || topic_len > CRM_BUS_MAX_TOPIC || payload_len > CRM_BUS_MAX_PAYLOAD)
        return CRM_EINVALID;
    if (request->count == request->max
        || (request->count > 0 && request->bytes + topic_len + payload_len > CRM_BUS_REPLAY_MAX_BYTES))
        return CRM_ELIMIT;
    s_entry_t *entry = &request->entries[request->count];
    entry->topic = malloc(topic_len);
    entry->payload = malloc(payload_len ? payload_len : 1);
    if (!entry->topic || !entry->payload) {
        free(entry->topic);
        free(entry->payload);
        entry->topic = entry->payload = NULL;
        return CRM_ENOMEM;
    }
    memcpy(entry->topic, topic, topic_len);
    if (payload_len)
        memcpy(entry->payload, payload, payload_len);
    entry->topic_len = topic_len;
    entry->payload_len = payload_len;
    entry->seq = seq;
    request->count++;
    request->bytes += topic_len + payload_len;
    return 0;
}

int crm_bus_replay_send(crm_bus_replay_server_t *server, crm_bus_replay_request_t **request_p,
                        uint64_t head)
{
    crm_bus_replay_request_t *request = *request_p;
    unsigned char header[REQUEST_ID_SIZE + SEQ_SIZE + COUNT_SIZE];
    memcpy(header, request->request_id, REQUEST_ID_SIZE);
    crm_bus_seq_encode(head, header + REQUEST_ID_SIZE);
    s_count_encode((uint32_t) request->count, header + REQUEST_ID_SIZE + SEQ_SIZE);
    int rc = 0;
    /* ROUTER drops a message for a peer that is gone; that is all the error there can be. */
    if (zmq_msg_send(&request->routing_id, server->socket, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        rc = CRM_EBUS;
        goto out;
    }
    zmq_msg_init(&request->routing_id);   /* sent messages are emptied; keep it closable */
    int more = request->count ? ZMQ_SNDMORE : 0;
    rc = s_send(server->socket, header, sizeof header, more | ZMQ_DONTWAIT);
    for (size_t i = 0; rc == 0 && i < request->count; i++) {
        s_entry_t *entry = &request->entries[i];
        unsigned char seq_bytes[SEQ_SIZE];
        crm_bus_seq_encode(entry->seq, seq_bytes);
        bool last = i + 1 == request->count;
        rc = s_send(server->socket, entry->topic, entry->topic_len, ZMQ_SNDMORE | ZMQ_DONTWAIT);
        if (rc == 0)
            rc = s_send(server->socket, seq_bytes, SEQ_SIZE, ZMQ_SNDMORE | ZMQ_DONTWAIT);
        if (rc == 0)
            rc = s_send(server->socket, entry->payload, entry->payload_len,
                        (last ? 0 : ZMQ_SNDMORE) | ZMQ_DONTWAIT);
    }
    if (rc)
        rc = CRM_EBUS;
out:
    crm_bus_replay_request_destroy(request_p);
    return rc;
}

void crm_bus_replay_request_destroy(crm_bus_replay_request_t **request_p)
{
    if (!request_p || !*request_p)
        return;
    crm_bus_replay_request_t *request = *request_p;
    zmq_msg_close(&request->routing_id);
    for (size_t i = 0; i < request->count; i++) {
        free(request->entries[i].topic);
        free(request->entries[i].payload);
    }
    free(request->entries);
    free(request);
    *request_p = NULL;
}

/* --- Replay, subscriber side. */

int crm_bus_replay_client_new(void *zmq_ctx, const char *endpoint, crm_bus_replay_client_t **client_p)
{
    assert(zmq_ctx && client_p);
    crm_bus_replay_client_t *client = calloc(1, sizeof *client);
    if (!client)
        return CRM_ENOMEM;
    int immediate = 1;
    int rc = s_socket_new(zmq_ctx, ZMQ_DEALER, &client->socket);
    if (rc == 0 && zmq_setsockopt(client->socket, ZMQ_IMMEDIATE, &immediate, sizeof immediate))
        rc = CRM_EBUS;
    if (rc == 0)
        rc = s_attach(client->socket, endpoint, false);
    if (rc) {
        crm_bus_replay_client_destroy(&client);
        return rc;
    }
    *client_p = client;
    return 0;
}

void crm_bus_replay_client_destroy(crm_bus_replay_client_t **client_p)
{
    if (!client_p || !*client_p)
        return;
    if ((*client_p)->socket)
        zmq_close((*client_p)->socket);
    free(*client_p);
    *client_p = NULL;
}

static long long s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Receives every frame of one message into a growing array. Returns the count or a negative code. */
static int s_recv_all(void *socket, zmq_msg_t **frames_p, size_t *count_p)
{
    size_t count = 0, cap = 16;
    zmq_msg_t *frames = malloc(cap * sizeof *frames);
    if (!frames)
        return CRM_ENOMEM;
    for (;;) {
        if (count == cap) {
            zmq_msg_t *grown = realloc(frames, 2 * cap * sizeof *frames);
            if (!grown)
                goto fail;
            frames = grown;
            cap *= 2;
        }
        zmq_msg_init(&frames[count]);
        int rc;
        while ((rc = zmq_msg_recv(&frames[count], socket, count == 0 ? ZMQ_DONTWAIT : 0)) < 0
               && errno == EINTR)
            ;
        if (rc < 0) {
            zmq_msg_close(&frames[count]);
            if (count == 0 && errno == EAGAIN) {
                free(frames);
                return CRM_ENOTFOUND;
            }
            goto fail;
        }
        count++;
        if (!zmq_msg_more(&frames[count - 1]))
            break;
    }
    *frames_p = frames;
    *count_p = count;
    return 0;
fail:
    for (size_t i = 0; i < count; i++)
        zmq_msg_close(&frames[i]);
    free(frames);
    return CRM_EBUS;
}

int crm_bus_replay_fetch(crm_bus_replay_client_t *client, uint64_t after, size_t max, int timeout_ms,
                         crm_bus_batch_t **batch_p)
{
    unsigned char request[REQUEST_ID_SIZE + SEQ_SIZE + COUNT_SIZE];
    uint64_t request_id = ++client->next_request_id;
    crm_bus_seq_encode(request_id, request);
    crm_bus_seq_encode(after, request + REQUEST_ID_SIZE);
    s_count_encode((uint32_t) (max > CRM_BUS_REPLAY_MAX_EVENTS ? CRM_BUS_REPLAY_MAX_EVENTS : max),
                   request + REQUEST_ID_SIZE + SEQ_SIZE);
    int rc = s_send(client->socket, request, sizeof request, ZMQ_DONTWAIT);
    if (rc)
        return rc;   /* CRM_EUNAVAIL: no publisher connected (ZMQ_IMMEDIATE) */

    long long deadline = s_now_ms() + timeout_ms;
    for (;;) {
        long long left = deadline - s_now_ms();
        if (left <= 0)
            return CRM_ETIMEOUT;
        zmq_pollitem_t item = { client->socket, 0, ZMQ_POLLIN, 0 };
        int n = zmq_poll(&item, 1, (long) left);
        if (n < 0 && errno != EINTR)
            return CRM_EBUS;
        if (n <= 0)
            continue;
        zmq_msg_t *frames = NULL;
        size_t count = 0;
        rc = s_recv_all(client->socket, &frames, &count);
        if (rc == CRM_ENOTFOUND)
            continue;
        if (rc)
            return rc;
        const unsigned char *header = zmq_msg_data(&frames[0]);
        bool ok = zmq_msg_size(&frames[0]) == REQUEST_ID_SIZE + SEQ_SIZE + COUNT_SIZE;
        bool ours = ok && crm_bus_seq_decode(header) == request_id;
        size_t events = ok ? s_count_decode(header + REQUEST_ID_SIZE + SEQ_SIZE) : 0;
        ok = ok && count == 1 + 3 * events;
        for (size_t i = 0; ok && i < events; i++) {
            size_t topic_len = zmq_msg_size(&frames[1 + 3 * i]);
            ok = topic_len > 0 && topic_len <= CRM_BUS_MAX_TOPIC
                 && zmq_msg_size(&frames[2 + 3 * i]) == SEQ_SIZE;
        }
        if (!ok || !ours) {
            for (size_t i = 0; i < count; i++)
                zmq_msg_close(&frames[i]);
            free(frames);
            if (!ok)
                return CRM_EPROTOCOL;
            continue;   /* a late answer to an earlier request */
        }
        crm_bus_batch_t *batch = calloc(1, sizeof *batch);
        if (!batch) {
            for (size_t i = 0; i < count; i++)
                zmq_msg_close(&frames[i]);
            free(frames);
            return CRM_ENOMEM;
        }
        batch->head = crm_bus_seq_decode(header + REQUEST_ID_SIZE);
        batch->count = events;
        batch->frames = frames;
        *batch_p = batch;
        return 0;
    }
}

uint64_t crm_bus_batch_head(const crm_bus_batch_t *batch)
{
    return batch->head;
}

size_t crm_bus_batch_count(const crm_bus_batch_t *batch)
{
    return batch->count;
}

void crm_bus_batch_event(const crm_bus_batch_t *batch, size_t i, crm_bus_event_t *event)
{
    assert(i < batch->count);
    zmq_msg_t *f = &batch->frames[1 + 3 * i];
    event->topic = zmq_msg_data(&f[0]);
    event->topic_len = zmq_msg_size(&f[0]);
    event->seq = crm_bus_seq_decode(zmq_msg_data(&f[1]));
    event->payload = zmq_msg_data(&f[2]);
    event->payload_len = zmq_msg_size(&f[2]);
    event->heartbeat = false;
}

void crm_bus_batch_destroy(crm_bus_batch_t **batch_p)
{
    if (!batch_p || !*batch_p)
        return;
    crm_bus_batch_t *batch = *batch_p;
    for (size_t i = 0; i < 1 + 3 * batch->count; i++)
        zmq_msg_close(&batch->frames[i]);
    free(batch->frames);
    free(batch);
    *batch_p = NULL;
}
