/* crm_bus.h: event frames over ZeroMQ: publish, subscribe and replay; knows topics, sequences and bytes only. */
#ifndef CRM_BUS_H
#define CRM_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* On the wire an event is three frames: [topic][sequence, 8 bytes big-endian][payload].
 * A publisher also sends heartbeats, [CRM_BUS_HEARTBEAT_TOPIC][head sequence][], so that a
 * subscriber that missed the last events notices the gap even when the stream goes quiet.
 * Replay is a DEALER/ROUTER exchange: request [request id 8][after 8][max events 4]; reply
 * [request id 8][head 8][count 4] followed by three frames per event. */

#define CRM_BUS_MAX_TOPIC          128              /* bytes, without the terminating NUL */
#define CRM_BUS_MAX_PAYLOAD        ((size_t) 1 << 20)
#define CRM_BUS_HEARTBEAT_TOPIC    "crm.bus.heartbeat"
#define CRM_BUS_HEARTBEAT_MS       500              /* how often a publisher says where it is */
#define CRM_BUS_REPLAY_MAX_EVENTS  2000             /* events in one replay reply */
#define CRM_BUS_REPLAY_MAX_BYTES   ((size_t) 8 << 20)
#define CRM_BUS_HWM                200000           /* messages queued per socket before PUB drops */
#define CRM_BUS_RECONNECT_MS       50
#define CRM_BUS_RECONNECT_MAX_MS   1000

typedef struct crm_bus_pub crm_bus_pub_t;
typedef struct crm_bus_sub crm_bus_sub_t;
typedef struct crm_bus_replay_server crm_bus_replay_server_t;
typedef struct crm_bus_replay_request crm_bus_replay_request_t;
typedef struct crm_bus_replay_client crm_bus_replay_client_t;
typedef struct crm_bus_batch crm_bus_batch_t;

/* One received event or heartbeat. Pointers are borrowed from the message or batch that holds
 * them and stay valid until it is closed or destroyed. The topic is not NUL-terminated. */
typedef struct {
    const char *topic;
    size_t topic_len;
    uint64_t seq;
    const void *payload;
    size_t payload_len;
    bool heartbeat;          /* true for a heartbeat: seq is the publisher's head */
} crm_bus_event_t;

/* Returns true when the topic (topic_len bytes) starts with prefix (a C string). */
bool crm_bus_topic_matches(const char *topic, size_t topic_len, const char *prefix);

/* --- Publishing. */

/* Binds a PUB socket on endpoint. Returns 0 and sets *pub_p (caller destroys), CRM_EINVALID (bad
 * endpoint) or CRM_EBUS (bind failed, for example the port is taken). */
int crm_bus_pub_new(void *zmq_ctx, const char *endpoint, crm_bus_pub_t **pub_p);

/* Closes the socket. Safe on NULL; sets *pub_p to NULL. */
void crm_bus_pub_destroy(crm_bus_pub_t **pub_p);

/* Publishes one event. PUB never blocks: a subscriber that is slow or away misses it and catches
 * up by replay. Returns 0, CRM_EINVALID (topic empty or longer than CRM_BUS_MAX_TOPIC) or
 * CRM_ETOOBIG (payload over CRM_BUS_MAX_PAYLOAD). */
int crm_bus_publish(crm_bus_pub_t *pub, const char *topic, uint64_t seq, const void *payload,
                    size_t payload_len);

/* Sends a heartbeat carrying the publisher's head sequence. Returns 0 or CRM_EBUS. */
int crm_bus_pub_heartbeat(crm_bus_pub_t *pub, uint64_t head);

/* --- Subscribing: one SUB socket per publisher, taking everything it sends. */

/* Connects a SUB socket to a publisher's endpoint (which may not be up yet). Returns 0 and sets
 * *sub_p (caller destroys), CRM_EINVALID or CRM_EBUS. */
int crm_bus_sub_new(void *zmq_ctx, const char *endpoint, crm_bus_sub_t **sub_p);

/* Closes the socket. Safe on NULL; sets *sub_p to NULL. */
void crm_bus_sub_destroy(crm_bus_sub_t **sub_p);

/* The ZeroMQ socket, borrowed, for zmq_poll. */
void *crm_bus_sub_socket(crm_bus_sub_t *sub);

/* Receives the next event without waiting. The event stays valid until the next call to
 * crm_bus_sub_recv or crm_bus_sub_destroy. Returns 0, CRM_ENOTFOUND when nothing is waiting,
 * CRM_EPROTOCOL for a malformed message (consumed and dropped) or CRM_EBUS. */
int crm_bus_sub_recv(crm_bus_sub_t *sub, crm_bus_event_t *event);

/* --- Replay, publisher side: a ROUTER socket answering "events after N". */

/* Binds the replay socket. Returns 0 and sets *server_p (caller destroys), CRM_EINVALID or CRM_EBUS. */
int crm_bus_replay_server_new(void *zmq_ctx, const char *endpoint, crm_bus_replay_server_t **server_p);

/* Closes the socket. Safe on NULL; sets *server_p to NULL. */
void crm_bus_replay_server_destroy(crm_bus_replay_server_t **server_p);

/* The ZeroMQ socket, borrowed, for zmq_poll. */
void *crm_bus_replay_server_socket(crm_bus_replay_server_t *server);

/* Receives the next replay request without waiting. Returns 0 and sets *request_p (the caller
 * answers it with crm_bus_replay_send or drops it with crm_bus_replay_request_destroy),
 * CRM_ENOTFOUND when nothing is waiting, CRM_EPROTOCOL (malformed, dropped) or CRM_EBUS. */
int crm_bus_replay_recv(crm_bus_replay_server_t *server, crm_bus_replay_request_t **request_p);

/* The request's "after" sequence and the most events the answer may hold (never more than
 * CRM_BUS_REPLAY_MAX_EVENTS). */
uint64_t crm_bus_replay_request_after(const crm_bus_replay_request_t *request);
size_t crm_bus_replay_request_max(const crm_bus_replay_request_t *request);

/* Adds one event (copied) to the answer. Returns 0, CRM_ELIMIT when the answer is full by count
 * or bytes (the event was not added; send what there is), CRM_EINVALID or CRM_ENOMEM. */
int crm_bus_replay_add(crm_bus_replay_request_t *request, const char *topic, size_t topic_len,
                       uint64_t seq, const void *payload, size_t payload_len);

/* Sends the answer with the publisher's head sequence, and frees the request (takes it over and
 * sets *request_p to NULL). Returns 0 or CRM_EBUS (the client is gone; nothing else to do). */
int crm_bus_replay_send(crm_bus_replay_server_t *server, crm_bus_replay_request_t **request_p,
                        uint64_t head);

/* Frees a request without answering. Safe on NULL; sets *request_p to NULL. */
void crm_bus_replay_request_destroy(crm_bus_replay_request_t **request_p);

/* --- Replay, subscriber side. */

/* Connects a DEALER to a publisher's replay endpoint. Returns 0 and sets *client_p (caller
 * destroys), CRM_EINVALID or CRM_EBUS. */
int crm_bus_replay_client_new(void *zmq_ctx, const char *endpoint, crm_bus_replay_client_t **client_p);

/* Closes the socket. Safe on NULL; sets *client_p to NULL. */
void crm_bus_replay_client_destroy(crm_bus_replay_client_t **client_p);

/* Asks for up to max events after sequence `after` and waits for the answer at most timeout_ms.
 * Returns 0 and sets *batch_p (caller destroys), CRM_EUNAVAIL when the publisher is not connected,
 * CRM_ETIMEOUT when it did not answer in time, or CRM_EPROTOCOL for a malformed answer. */
int crm_bus_replay_fetch(crm_bus_replay_client_t *client, uint64_t after, size_t max, int timeout_ms,
                         crm_bus_batch_t **batch_p);

/* A replay answer: the publisher's head and the events, in sequence order. */
uint64_t crm_bus_batch_head(const crm_bus_batch_t *batch);
size_t crm_bus_batch_count(const crm_bus_batch_t *batch);

/* Fills *event with the i-th event (borrowed from the batch). i must be < count. */
void crm_bus_batch_event(const crm_bus_batch_t *batch, size_t i, crm_bus_event_t *event);

/* Frees the batch. Safe on NULL; sets *batch_p to NULL. */
void crm_bus_batch_destroy(crm_bus_batch_t **batch_p);

/* Encodes and decodes an 8-byte big-endian sequence; keys in the stores use the same order. */
void crm_bus_seq_encode(uint64_t seq, unsigned char out[8]);
uint64_t crm_bus_seq_decode(const unsigned char in[8]);

#endif
