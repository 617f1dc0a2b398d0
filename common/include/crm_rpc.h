/* crm_rpc.h: request/reply between the gateway and a service: crm.v1.Request/Reply over DEALER/ROUTER. */
#ifndef CRM_RPC_H
#define CRM_RPC_H

#include <stddef.h>
#include <stdint.h>

/* On the wire a client's DEALER sends one frame, a packed crm.v1.Request; the service's ROUTER
 * sees [routing id][Request] and answers [routing id][Reply], which the DEALER receives as one
 * frame, a packed crm.v1.Reply carrying the request's id. Callers of this module never see the
 * generated protobuf structs: they work with the plain structs below.
 *
 * A request carries its deadline as Unix time in microseconds (now + the caller's time-out). A
 * server answers STATUS_TIMEOUT itself to a request whose deadline has passed when it reads it,
 * so service code never sees it; this compares wall clocks, so hosts need NTP. */

#define CRM_RPC_MAX_MESSAGE   ((size_t) 16 << 20)   /* bytes in one packed Request or Reply; a
                                                       * peer sending more is disconnected */
#define CRM_RPC_SNDHWM        1000                  /* messages queued per peer, each way */
#define CRM_RPC_RCVHWM        1000
#define CRM_RPC_LINGER_MS     0                     /* unsent messages are dropped at close */
#define CRM_RPC_HEARTBEAT_IVL_MS      1000          /* ZMTP pings, so a dead peer is noticed */
#define CRM_RPC_HEARTBEAT_TIMEOUT_MS  3000
#define CRM_RPC_RECONNECT_IVL_MS      50            /* client reconnects after a lost server */
#define CRM_RPC_RECONNECT_IVL_MAX_MS  500
#define CRM_RPC_MAX_TIMEOUT_MS        (24 * 3600 * 1000)   /* longest time-out a call may ask */
#define CRM_RPC_SERVER_RECV_BATCH     64            /* bad or expired messages one recv skips */
#define CRM_RPC_POOL_MAX_SIZE         256           /* clients in one pool */

/* Text fields of a request, as sizes including the terminating NUL. A request whose fields are
 * longer is answered STATUS_INVALID by the server and refused with CRM_EINVALID by the client. */
#define CRM_RPC_ID_SIZE       64
#define CRM_RPC_METHOD_SIZE   128
#define CRM_RPC_KEY_ID_SIZE   64
#define CRM_RPC_ROLE_SIZE     32
#define CRM_RPC_ENDPOINT_SIZE 256

/* The outcome of a request, mirroring enum crm.v1.Status value for value. */
#define CRM_RPC_STATUS_MAP(X)                 \
    X(OK,                  0)                 \
    X(INVALID,             1)                 \
    X(NOT_FOUND,           2)                 \
    X(CONFLICT,            3)                 \
    X(PRECONDITION_FAILED, 4)                 \
    X(FORBIDDEN,           5)                 \
    X(UNAVAILABLE,         6)                 \
    X(INTERNAL,            7)                 \
    X(TOO_LARGE,           8)                 \
    X(UNKNOWN_METHOD,      9)                 \
    X(TIMEOUT,             10)

#define CRM_RPC_STATUS_ENUM(name, value) CRM_RPC_##name = value,
typedef enum { CRM_RPC_STATUS_MAP(CRM_RPC_STATUS_ENUM) } crm_rpc_status_t;
#undef CRM_RPC_STATUS_ENUM

#define CRM_RPC_STATUS_COUNT 11

/* Returns the status's name as in the proto without its prefix ("OK", "NOT_FOUND"), or "UNKNOWN"
 * for a value outside the enum (borrowed, static; never NULL). */
const char *crm_rpc_status_name(crm_rpc_status_t status);

typedef struct crm_rpc_server crm_rpc_server_t;
typedef struct crm_rpc_client crm_rpc_client_t;
typedef struct crm_rpc_pool crm_rpc_pool_t;

/* A request as a server hands it to the service. Only crm_rpc_server_recv makes these (a private
 * routing id follows the public fields); give each back with crm_rpc_server_reply or
 * crm_rpc_request_destroy. */
typedef struct {
    char id[CRM_RPC_ID_SIZE];          /* the client's id for it; never empty */
    char method[CRM_RPC_METHOD_SIZE];  /* "contacts.CreateCustomer"; never empty */
    int64_t deadline_us;               /* Unix time in microseconds; 0 when the caller set none */
    char key_id[CRM_RPC_KEY_ID_SIZE];  /* the caller as the gateway authenticated it; may be "" */
    char role[CRM_RPC_ROLE_SIZE];      /* may be "" */
    uint8_t *body;                     /* the method's request message (owned by the request) */
    size_t body_len;                   /* body is NULL when 0 */
} crm_rpc_request_t;

/* A reply as a service gives it. Everything is borrowed for the call; NULL strings are sent as
 * empty ones. */
typedef struct {
    crm_rpc_status_t status;
    const char *error;                 /* a human sentence when status is not OK */
    const char *field;                 /* the offending field, when there is one */
    const char *conflict_id;           /* the other record on CRM_RPC_CONFLICT */
    const void *body;                  /* the method's reply message when status is OK */
    size_t body_len;
} crm_rpc_reply_t;

/* A reply as a client receives it. The strings are NULL when the reply left them empty, and the
 * body NULL when empty; all belong to the result: free them with crm_rpc_result_clear. */
typedef struct {
    crm_rpc_status_t status;           /* a value outside the enum arrives as CRM_RPC_INTERNAL */
    char *error;
    char *field;
    char *conflict_id;
    uint8_t *body;
    size_t body_len;
} crm_rpc_result_t;

/* Frees what a result holds and zeroes it (status becomes CRM_RPC_OK). Safe on a zeroed result
 * and on NULL. */
void crm_rpc_result_clear(crm_rpc_result_t *result);

/* --- Server (a service): one ROUTER socket, driven by the service's poll loop. Not thread-safe. */

/* Binds a ROUTER socket on endpoint ("tcp://127.0.0.1:5581", or "tcp://127.0.0.1:*" for a port
 * chosen by the system: see crm_rpc_server_endpoint) with linger 0, CRM_RPC_MAX_MESSAGE, the
 * HWMs, heartbeats, and unroutable replies dropped silently (the client has gone).
 * Returns 0 and sets *server_p (caller destroys), CRM_EINVALID (endpoint NULL, too long or
 * malformed), CRM_ENOMEM, or CRM_EBUS (socket or bind failed; for example the port is taken). */
int crm_rpc_server_new(void *zmq_ctx, const char *endpoint, crm_rpc_server_t **server_p);

/* Closes the socket; unanswered requests stay valid and may still be destroyed (replying to them
 * is not possible any more). Safe on NULL; sets *server_p to NULL. */
void crm_rpc_server_destroy(crm_rpc_server_t **server_p);

/* The ROUTER socket, for zmq_poll with ZMQ_POLLIN (borrowed; do not read from it yourself). */
void *crm_rpc_server_socket(crm_rpc_server_t *server);

/* The endpoint actually bound, with the port filled in (borrowed, valid as long as the server). */
const char *crm_rpc_server_endpoint(crm_rpc_server_t *server);

/* Takes the next request without waiting. Messages that are not a valid Request are answered
 * STATUS_INVALID (with the field at fault when there is one) and skipped; requests whose deadline
 * has passed are answered STATUS_TIMEOUT and skipped; at most CRM_RPC_SERVER_RECV_BATCH are
 * skipped in one call. Returns 0 and sets *req_p (caller owns: reply or destroy it),
 * CRM_ENOTFOUND when no request waits (poll again), CRM_ENOMEM, or CRM_EBUS (the socket failed,
 * for example its context was terminated). */
int crm_rpc_server_recv(crm_rpc_server_t *server, crm_rpc_request_t **req_p);

/* Sends reply to the request's client and destroys the request: takes over *req_p and sets it to
 * NULL, whatever the outcome. Never blocks: a reply to a client that has gone, or whose queue is
 * full, is dropped. Returns 0; CRM_ETOOBIG when the packed reply would exceed CRM_RPC_MAX_MESSAGE
 * (the client gets STATUS_INTERNAL with no body instead); CRM_EINVALID when reply->status is
 * outside the enum (the client gets STATUS_INTERNAL); CRM_ENOMEM or CRM_EBUS (nothing sent). */
int crm_rpc_server_reply(crm_rpc_server_t *server, crm_rpc_request_t **req_p,
                         const crm_rpc_reply_t *reply);

/* Frees a request without answering it (the client will time out). Safe on NULL; sets *req_p to
 * NULL. */
void crm_rpc_request_destroy(crm_rpc_request_t **req_p);

/* --- Client (the gateway): one DEALER socket. Not thread-safe: one thread at a time (a pool
 * shares several among threads). */

/* Connects a DEALER socket to endpoint with ZMQ_IMMEDIATE (a call while no server is connected
 * fails at once), linger 0, heartbeats, CRM_RPC_MAX_MESSAGE and a short reconnect interval. The
 * connection is made in the background: a call right after may find no server yet.
 * Returns 0 and sets *client_p (caller destroys), CRM_EINVALID (endpoint NULL, too long or
 * malformed), CRM_ENOMEM, CRM_EIO (no randomness for request ids) or CRM_EBUS. */
int crm_rpc_client_new(void *zmq_ctx, const char *endpoint, crm_rpc_client_t **client_p);

/* Closes the socket. Safe on NULL; sets *client_p to NULL. */
void crm_rpc_client_destroy(crm_rpc_client_t **client_p);

/* Calls method with body (body_len bytes; body may be NULL when 0) on behalf of key_id and role
 * (either may be NULL for ""), waiting at most timeout_ms (1 .. CRM_RPC_MAX_TIMEOUT_MS) for the
 * reply; the request's deadline is now + timeout_ms. Replies to earlier calls that timed out are
 * read and dropped on the way. *result is overwritten without being freed: pass a zeroed or
 * cleared one. Returns 0 with *result filled (the caller owns it and clears it; the service's
 * verdict is result->status) or, with *result zeroed:
 *   CRM_EINVALID  method NULL or empty, a text field too long, or a bad timeout_ms;
 *   CRM_ETOOBIG   the packed request would exceed CRM_RPC_MAX_MESSAGE;
 *   CRM_EUNAVAIL  no server is connected (or its queue is full): nothing was sent;
 *   CRM_ETIMEOUT  no reply within timeout_ms (the service may still act on the request);
 *   CRM_ENOMEM, CRM_EBUS. */
int crm_rpc_call(crm_rpc_client_t *client, const char *method, const char *key_id,
                 const char *role, const void *body, size_t body_len, int timeout_ms,
                 crm_rpc_result_t *result);

/* --- Pool: size clients to one endpoint shared by many threads. Thread-safe. */

/* Makes size clients (1 .. CRM_RPC_POOL_MAX_SIZE) connected to endpoint. Returns 0 and sets
 * *pool_p (caller destroys), or an error of crm_rpc_client_new, or CRM_EINVALID (bad size). */
int crm_rpc_pool_new(void *zmq_ctx, const char *endpoint, int size, crm_rpc_pool_t **pool_p);

/* Destroys the pool and its clients. No call may be in progress. Safe on NULL; sets *pool_p to
 * NULL. */
void crm_rpc_pool_destroy(crm_rpc_pool_t **pool_p);

/* As crm_rpc_call, on a client taken from the pool: waits for a free client when all are busy;
 * that wait counts toward timeout_ms (CRM_ETIMEOUT when no client frees up in time). */
int crm_rpc_pool_call(crm_rpc_pool_t *pool, const char *method, const char *key_id,
                      const char *role, const void *body, size_t body_len, int timeout_ms,
                      crm_rpc_result_t *result);

#endif
