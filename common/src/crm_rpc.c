/* crm_rpc.c: request/reply over DEALER/ROUTER; protobuf packing stays inside this file. */
#include "crm_rpc.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "crm/v1/rpc.pb-c.h"
#include "crm_error.h"
#include "crm_id.h"

#define ROUTING_ID_MAX 255          /* ZeroMQ routing ids are 1 to 255 bytes */
#define US_PER_MS 1000
#define US_PER_S 1000000
#define NS_PER_US 1000
#define MS_PER_S 1000
#define NS_PER_MS 1000000
#define S_SKIPPED 1                 /* s_recv_one: a message was handled here; look again */

/* Every crm_rpc_status_t is the crm.v1.Status of the same name and value. */
#define S_CHECK_STATUS(name, value) \
    _Static_assert(CRM_RPC_##name == (int) CRM__V1__STATUS__STATUS_##name, "crm_rpc_status_t " #name);
CRM_RPC_STATUS_MAP(S_CHECK_STATUS)
#undef S_CHECK_STATUS
_Static_assert(CRM_RPC_TIMEOUT + 1 == CRM_RPC_STATUS_COUNT, "CRM_RPC_STATUS_COUNT");
_Static_assert(CRM_ID_SIZE <= CRM_RPC_ID_SIZE, "request ids are ULIDs");

struct crm_rpc_server {
    void *socket;
    char endpoint[CRM_RPC_ENDPOINT_SIZE];
};

struct crm_rpc_client {
    void *socket;
    crm_id_gen_t *ids;
};

struct crm_rpc_pool {
    pthread_mutex_t lock;
    pthread_cond_t freed;       /* signalled when a client goes back to the pool */
    int size;
    int idle_count;
    crm_rpc_client_t **clients; /* all of them, for destroy */
    crm_rpc_client_t **idle;    /* a stack of idle_count free clients */
};

/* A request with its private part; crm_rpc_request_t comes first so the two convert. */
typedef struct {
    crm_rpc_request_t pub;
    size_t routing_len;
    uint8_t routing[ROUTING_ID_MAX];
    /* the body follows */
} s_request_t;

const char *
crm_rpc_status_name(crm_rpc_status_t status)
{
    switch (status) {
#define S_STATUS_NAME(name, value) case CRM_RPC_##name: return #name;
    CRM_RPC_STATUS_MAP(S_STATUS_NAME)
#undef S_STATUS_NAME
    default: return "UNKNOWN";
    }
}

static bool
s_status_known(int status)
{
    return status >= 0 && status < CRM_RPC_STATUS_COUNT;
}

static int64_t
s_unix_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * US_PER_S + ts.tv_nsec / NS_PER_US;
}

static int64_t
s_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * MS_PER_S + ts.tv_nsec / NS_PER_MS;
}

/* Maps a failed zmq call's errno to a code. */
static int
s_zmq_error(void)
{
    switch (zmq_errno()) {
    case EINVAL:
    case EPROTONOSUPPORT:
    case ENOCOMPATPROTO:
        return CRM_EINVALID;
    case ENOMEM:
        return CRM_ENOMEM;
    case EINTR:
        return CRM_EINTERRUPT;
    default:
        return CRM_EBUS;
    }
}

static bool
s_endpoint_ok(const char *endpoint)
{
    return endpoint && *endpoint && strlen(endpoint) < CRM_RPC_ENDPOINT_SIZE;
}

/* Options both ends share. Returns 0 or CRM_EBUS. */
static int
s_set_common_options(void *socket)
{
    int linger = CRM_RPC_LINGER_MS;
    int64_t max_message = (int64_t) CRM_RPC_MAX_MESSAGE;
    int sndhwm = CRM_RPC_SNDHWM;
    int rcvhwm = CRM_RPC_RCVHWM;
    int heartbeat_ivl = CRM_RPC_HEARTBEAT_IVL_MS;
    int heartbeat_timeout = CRM_RPC_HEARTBEAT_TIMEOUT_MS;
    if (zmq_setsockopt(socket, ZMQ_LINGER, &linger, sizeof linger)
        || zmq_setsockopt(socket, ZMQ_MAXMSGSIZE, &max_message, sizeof max_message)
        || zmq_setsockopt(socket, ZMQ_SNDHWM, &sndhwm, sizeof sndhwm)
        || zmq_setsockopt(socket, ZMQ_RCVHWM, &rcvhwm, sizeof rcvhwm)
        || zmq_setsockopt(socket, ZMQ_HEARTBEAT_IVL, &heartbeat_ivl, sizeof heartbeat_ivl)
        || zmq_setsockopt(socket, ZMQ_HEARTBEAT_TIMEOUT, &heartbeat_timeout, sizeof heartbeat_timeout))
        return CRM_EBUS;
    return 0;
}

/* Reads and drops the remaining frames of a multipart message. */
static void
s_drain(void *socket)
{
    int more = 1;
    size_t more_size = sizeof more;
    while (zmq_getsockopt(socket, ZMQ_RCVMORE, &more, &more_size) == 0 && more) {
        zmq_msg_t frame;
        zmq_msg_init(&frame);
        int rc = zmq_msg_recv(&frame, socket, ZMQ_DONTWAIT);
        zmq_msg_close(&frame);
        if (rc < 0)
            break;
    }
}

/* --- Server. */

int
crm_rpc_server_new(void *zmq_ctx, const char *endpoint, crm_rpc_server_t **server_p)
{
    assert(zmq_ctx);
    assert(server_p);
    *server_p = NULL;
    if (!s_endpoint_ok(endpoint))
        return CRM_EINVALID;
    int rc = 0;
    crm_rpc_server_t *server = calloc(1, sizeof *server);
    if (!server)
        return CRM_ENOMEM;
    server->socket = zmq_socket(zmq_ctx, ZMQ_ROUTER);
    if (!server->socket) {
        rc = CRM_EBUS;
        goto out;
    }
    int mandatory = 0;
    rc = s_set_common_options(server->socket);
    if (rc)
        goto out;
    if (zmq_setsockopt(server->socket, ZMQ_ROUTER_MANDATORY, &mandatory, sizeof mandatory)) {
        rc = CRM_EBUS;
        goto out;
    }
    if (zmq_bind(server->socket, endpoint)) {
        rc = s_zmq_error();
        if (rc != CRM_EINVALID)
            rc = CRM_EBUS;
        goto out;
    }
    size_t len = sizeof server->endpoint;
    if (zmq_getsockopt(server->socket, ZMQ_LAST_ENDPOINT, server->endpoint, &len)) {
        rc = CRM_EBUS;
        goto out;
    }
    *server_p = server;
    server = NULL;
out:
    crm_rpc_server_destroy(&server);
    return rc;
}

void
crm_rpc_server_destroy(crm_rpc_server_t **server_p)
{
    assert(server_p);
    crm_rpc_server_t *server = *server_p;
    if (!server)
        return;
    if (server->socket)
        zmq_close(server->socket);
    free(server);
    *server_p = NULL;
}

void *
crm_rpc_server_socket(crm_rpc_server_t *server)
{
    assert(server);
    return server->socket;
}

const char *
crm_rpc_server_endpoint(crm_rpc_server_t *server)
{
    assert(server);
    return server->endpoint;
}

/* Packs and sends reply to routing with the given request id. A reply too large or with a status
 * outside the enum is replaced by STATUS_INTERNAL. Returns 0, CRM_ETOOBIG or CRM_EINVALID (the
 * substitute was sent), CRM_ENOMEM or CRM_EBUS. */
static int
s_send_reply(crm_rpc_server_t *server, const uint8_t *routing, size_t routing_len, const char *id,
             const crm_rpc_reply_t *reply)
{
    int rc = 0;
    Crm__V1__Reply msg = CRM__V1__REPLY__INIT;
    msg.id = (char *) id;
    msg.status = (Crm__V1__Status) reply->status;
    msg.error = (char *) (reply->error ? reply->error : "");
    msg.field = (char *) (reply->field ? reply->field : "");
    msg.conflict_id = (char *) (reply->conflict_id ? reply->conflict_id : "");
    msg.body.data = (uint8_t *) reply->body;
    msg.body.len = reply->body ? reply->body_len : 0;
    if (!s_status_known((int) reply->status))
        rc = CRM_EINVALID;
    else if (crm__v1__reply__get_packed_size(&msg) > CRM_RPC_MAX_MESSAGE)
        rc = CRM_ETOOBIG;
    if (rc) {
        msg.status = CRM__V1__STATUS__STATUS_INTERNAL;
        msg.error = (char *) (rc == CRM_ETOOBIG ? "reply too large" : "service gave an invalid status");
        msg.field = msg.conflict_id = (char *) "";
        msg.body.data = NULL;
        msg.body.len = 0;
        if (crm__v1__reply__get_packed_size(&msg) > CRM_RPC_MAX_MESSAGE)
            msg.id = (char *) "";     /* only a giant request id can get here */
    }
    size_t size = crm__v1__reply__get_packed_size(&msg);
    zmq_msg_t frame;
    if (zmq_msg_init_size(&frame, size))
        return CRM_ENOMEM;
    size_t packed = crm__v1__reply__pack(&msg, zmq_msg_data(&frame));
    assert(packed == size);
    /* Unroutable replies (the client has gone) are dropped by the ROUTER: ROUTER_MANDATORY is off. */
    if (zmq_send(server->socket, routing, routing_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0
        || zmq_msg_send(&frame, server->socket, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&frame);
        return CRM_EBUS;
    }
    return rc;
}

/* Answers a message that is not a valid request, or has expired, and returns S_SKIPPED or an
 * error of s_send_reply other than the substitutions. */
static int
s_answer(crm_rpc_server_t *server, zmq_msg_t *routing, const char *id,
         crm_rpc_status_t status, const char *error, const char *field)
{
    crm_rpc_reply_t reply = { .status = status, .error = error, .field = field };
    int rc = s_send_reply(server, zmq_msg_data(routing), zmq_msg_size(routing), id, &reply);
    return rc == CRM_ENOMEM || rc == CRM_EBUS ? rc : S_SKIPPED;
}

/* Checks an unpacked request. Returns NULL when it is fine, or the name of the field at fault and
 * sets *why. */
static const char *
s_check_request(const Crm__V1__Request *msg, const char **why)
{
    if (!msg->id || !*msg->id) {
        *why = "request id is empty";
        return "id";
    }
    if (strlen(msg->id) >= CRM_RPC_ID_SIZE) {
        *why = "request id is too long";
        return "id";
    }
    if (!msg->method || !*msg->method) {
        *why = "method is empty";
        return "method";
    }
    if (strlen(msg->method) >= CRM_RPC_METHOD_SIZE) {
        *why = "method is too long";
        return "method";
    }
    if (msg->deadline_unix_us < 0) {
        *why = "deadline is negative";
        return "deadline_unix_us";
    }
    if (msg->caller && msg->caller->key_id && strlen(msg->caller->key_id) >= CRM_RPC_KEY_ID_SIZE) {
        *why = "caller key id is too long";
        return "caller.key_id";
    }
    if (msg->caller && msg->caller->role && strlen(msg->caller->role) >= CRM_RPC_ROLE_SIZE) {
        *why = "caller role is too long";
        return "caller.role";
    }
    return NULL;
}

/* Reads one message. Returns 0 and sets *req_p, S_SKIPPED (answered or dropped), CRM_ENOTFOUND
 * (nothing waits), CRM_ENOMEM or CRM_EBUS. */
static int
s_recv_one(crm_rpc_server_t *server, crm_rpc_request_t **req_p)
{
    int rc = 0;
    zmq_msg_t routing, payload;
    zmq_msg_init(&routing);
    zmq_msg_init(&payload);
    Crm__V1__Request *msg = NULL;

    if (zmq_msg_recv(&routing, server->socket, ZMQ_DONTWAIT) < 0) {
        int err = zmq_errno();
        rc = err == EAGAIN || err == EINTR ? CRM_ENOTFOUND : CRM_EBUS;
        goto out;
    }
    /* A ROUTER always prefixes a routing id; without more frames there is nothing to answer. */
    if (!zmq_msg_more(&routing)) {
        rc = S_SKIPPED;
        goto out;
    }
    if (zmq_msg_recv(&payload, server->socket, ZMQ_DONTWAIT) < 0) {
        rc = CRM_EBUS;
        goto out;
    }
    size_t routing_len = zmq_msg_size(&routing);
    if (routing_len == 0 || routing_len > ROUTING_ID_MAX) {
        s_drain(server->socket);
        rc = S_SKIPPED;
        goto out;
    }
    if (zmq_msg_more(&payload)) {
        s_drain(server->socket);
        rc = s_answer(server, &routing, "", CRM_RPC_INVALID, "a request is one frame", NULL);
        goto out;
    }
    msg = crm__v1__request__unpack(NULL, zmq_msg_size(&payload), zmq_msg_data(&payload));
    if (!msg) {
        rc = s_answer(server, &routing, "", CRM_RPC_INVALID, "not a crm.v1.Request", NULL);
        goto out;
    }
    const char *why = NULL;
    const char *field = s_check_request(msg, &why);
    if (field) {
        rc = s_answer(server, &routing, msg->id ? msg->id : "", CRM_RPC_INVALID, why, field);
        goto out;
    }
    if (msg->deadline_unix_us > 0 && msg->deadline_unix_us <= s_unix_us()) {
        rc = s_answer(server, &routing, msg->id, CRM_RPC_TIMEOUT,
                      "deadline passed before the service read the request", NULL);
        goto out;
    }

    size_t body_len = msg->body.data ? msg->body.len : 0;
    s_request_t *req = calloc(1, sizeof *req + body_len);
    if (!req) {
        rc = CRM_ENOMEM;
        goto out;
    }
    strcpy(req->pub.id, msg->id);
    strcpy(req->pub.method, msg->method);
    req->pub.deadline_us = msg->deadline_unix_us;
    if (msg->caller && msg->caller->key_id)
        strcpy(req->pub.key_id, msg->caller->key_id);
    if (msg->caller && msg->caller->role)
        strcpy(req->pub.role, msg->caller->role);
    if (body_len) {
        req->pub.body = (uint8_t *) (req + 1);
        memcpy(req->pub.body, msg->body.data, body_len);
        req->pub.body_len = body_len;
    }
    req->routing_len = routing_len;
    memcpy(req->routing, zmq_msg_data(&routing), routing_len);
    *req_p = &req->pub;
out:
    if (msg)
        crm__v1__request__free_unpacked(msg, NULL);
    zmq_msg_close(&payload);
    zmq_msg_close(&routing);
    return rc;
}

int
crm_rpc_server_recv(crm_rpc_server_t *server, crm_rpc_request_t **req_p)
{
    assert(server);
    assert(req_p);
    *req_p = NULL;
    for (int i = 0; i < CRM_RPC_SERVER_RECV_BATCH; i++) {
        int rc = s_recv_one(server, req_p);
        if (rc != S_SKIPPED)
            return rc;
    }
    /* Poll again: what is left still shows as readable, and other sockets get their turn. */
    return CRM_ENOTFOUND;
}

int
crm_rpc_server_reply(crm_rpc_server_t *server, crm_rpc_request_t **req_p,
                     const crm_rpc_reply_t *reply)
{
    assert(server);
    assert(req_p && *req_p);
    assert(reply);
    s_request_t *req = (s_request_t *) *req_p;
    int rc = s_send_reply(server, req->routing, req->routing_len, req->pub.id, reply);
    crm_rpc_request_destroy(req_p);
    return rc;
}

void
crm_rpc_request_destroy(crm_rpc_request_t **req_p)
{
    assert(req_p);
    free(*req_p);     /* one allocation: s_request_t and its body */
    *req_p = NULL;
}

/* --- Client. */

int
crm_rpc_client_new(void *zmq_ctx, const char *endpoint, crm_rpc_client_t **client_p)
{
    assert(zmq_ctx);
    assert(client_p);
    *client_p = NULL;
    if (!s_endpoint_ok(endpoint))
        return CRM_EINVALID;
    int rc = 0;
    crm_rpc_client_t *client = calloc(1, sizeof *client);
    if (!client)
        return CRM_ENOMEM;
    rc = crm_id_gen_new(&client->ids);
    if (rc)
        goto out;
    client->socket = zmq_socket(zmq_ctx, ZMQ_DEALER);
    if (!client->socket) {
        rc = CRM_EBUS;
        goto out;
    }
    rc = s_set_common_options(client->socket);
    if (rc)
        goto out;
    int immediate = 1;
    int reconnect = CRM_RPC_RECONNECT_IVL_MS;
    int reconnect_max = CRM_RPC_RECONNECT_IVL_MAX_MS;
    if (zmq_setsockopt(client->socket, ZMQ_IMMEDIATE, &immediate, sizeof immediate)
        || zmq_setsockopt(client->socket, ZMQ_RECONNECT_IVL, &reconnect, sizeof reconnect)
        || zmq_setsockopt(client->socket, ZMQ_RECONNECT_IVL_MAX, &reconnect_max, sizeof reconnect_max)) {
        rc = CRM_EBUS;
        goto out;
    }
    if (zmq_connect(client->socket, endpoint)) {
        rc = s_zmq_error();
        if (rc != CRM_EINVALID)
            rc = CRM_EBUS;
        goto out;
    }
    *client_p = client;
    client = NULL;
out:
    crm_rpc_client_destroy(&client);
    return rc;
}

void
crm_rpc_client_destroy(crm_rpc_client_t **client_p)
{
    assert(client_p);
    crm_rpc_client_t *client = *client_p;
    if (!client)
        return;
    if (client->socket)
        zmq_close(client->socket);
    crm_id_gen_destroy(&client->ids);
    free(client);
    *client_p = NULL;
}

void
crm_rpc_result_clear(crm_rpc_result_t *result)
{
    if (!result)
        return;
    free(result->error);
    free(result->field);
    free(result->conflict_id);
    free(result->body);
    memset(result, 0, sizeof *result);
}

/* A copy of s, or NULL when s is empty. Sets *failed on allocation failure. */
static char *
s_dup_nonempty(const char *s, bool *failed)
{
    if (!s || !*s)
        return NULL;
    char *copy = strdup(s);
    if (!copy)
        *failed = true;
    return copy;
}

/* Fills result from a reply. Returns 0 or CRM_ENOMEM (result cleared). */
static int
s_fill_result(const Crm__V1__Reply *reply, crm_rpc_result_t *result)
{
    bool failed = false;
    result->status = s_status_known((int) reply->status) ? (crm_rpc_status_t) reply->status
                                                         : CRM_RPC_INTERNAL;
    result->error = s_dup_nonempty(reply->error, &failed);
    result->field = s_dup_nonempty(reply->field, &failed);
    result->conflict_id = s_dup_nonempty(reply->conflict_id, &failed);
    if (reply->body.data && reply->body.len) {
        result->body = malloc(reply->body.len);
        if (result->body) {
            memcpy(result->body, reply->body.data, reply->body.len);
            result->body_len = reply->body.len;
        } else {
            failed = true;
        }
    }
    if (failed) {
        crm_rpc_result_clear(result);
        return CRM_ENOMEM;
    }
    return 0;
}

/* Reads one waiting message. Returns 0 with *result filled when it is the reply to id,
 * S_SKIPPED when it is anything else (dropped), CRM_ENOTFOUND when nothing waits, CRM_ENOMEM or
 * CRM_EBUS. */
static int
s_take_reply(crm_rpc_client_t *client, const char *id, crm_rpc_result_t *result)
{
    int rc = 0;
    zmq_msg_t frame;
    zmq_msg_init(&frame);
    Crm__V1__Reply *reply = NULL;
    if (zmq_msg_recv(&frame, client->socket, ZMQ_DONTWAIT) < 0) {
        int err = zmq_errno();
        rc = err == EAGAIN || err == EINTR ? CRM_ENOTFOUND : CRM_EBUS;
        goto out;
    }
    if (zmq_msg_more(&frame)) {
        s_drain(client->socket);
        rc = S_SKIPPED;
        goto out;
    }
    reply = crm__v1__reply__unpack(NULL, zmq_msg_size(&frame), zmq_msg_data(&frame));
    if (!reply || !reply->id || strcmp(reply->id, id) != 0) {
        rc = S_SKIPPED;       /* garbled, or a late answer to an earlier call */
        goto out;
    }
    rc = s_fill_result(reply, result);
out:
    if (reply)
        crm__v1__reply__free_unpacked(reply, NULL);
    zmq_msg_close(&frame);
    return rc;
}

static bool
s_text_fits(const char *s, size_t size)
{
    return !s || strlen(s) < size;
}

int
crm_rpc_call(crm_rpc_client_t *client, const char *method, const char *key_id,
             const char *role, const void *body, size_t body_len, int timeout_ms,
             crm_rpc_result_t *result)
{
    assert(client);
    assert(result);
    memset(result, 0, sizeof *result);
    if (!method || !*method || !s_text_fits(method, CRM_RPC_METHOD_SIZE)
        || !s_text_fits(key_id, CRM_RPC_KEY_ID_SIZE) || !s_text_fits(role, CRM_RPC_ROLE_SIZE)
        || timeout_ms < 1 || timeout_ms > CRM_RPC_MAX_TIMEOUT_MS || (!body && body_len))
        return CRM_EINVALID;
    if (body_len > CRM_RPC_MAX_MESSAGE)
        return CRM_ETOOBIG;

    char id[CRM_ID_SIZE];
    int rc = crm_id_next(client->ids, id);
    if (rc)
        return rc;
    int64_t deadline_ms = s_mono_ms() + timeout_ms;

    Crm__V1__Caller caller = CRM__V1__CALLER__INIT;
    caller.key_id = (char *) (key_id ? key_id : "");
    caller.role = (char *) (role ? role : "");
    Crm__V1__Request msg = CRM__V1__REQUEST__INIT;
    msg.id = id;
    msg.method = (char *) method;
    msg.deadline_unix_us = s_unix_us() + (int64_t) timeout_ms * US_PER_MS;
    msg.caller = &caller;
    msg.body.data = (uint8_t *) body;
    msg.body.len = body_len;
    size_t size = crm__v1__request__get_packed_size(&msg);
    if (size > CRM_RPC_MAX_MESSAGE)
        return CRM_ETOOBIG;
    zmq_msg_t frame;
    if (zmq_msg_init_size(&frame, size))
        return CRM_ENOMEM;
    size_t packed = crm__v1__request__pack(&msg, zmq_msg_data(&frame));
    assert(packed == size);
    /* ZMQ_IMMEDIATE: with no connected server there is no pipe, so this fails with EAGAIN. */
    if (zmq_msg_send(&frame, client->socket, ZMQ_DONTWAIT) < 0) {
        int err = zmq_errno();
        zmq_msg_close(&frame);
        return err == EAGAIN ? CRM_EUNAVAIL : err == EINTR ? CRM_EINTERRUPT : CRM_EBUS;
    }

    for (;;) {
        rc = s_take_reply(client, id, result);
        if (rc == S_SKIPPED)
            continue;
        if (rc != CRM_ENOTFOUND)
            return rc;
        int64_t remaining = deadline_ms - s_mono_ms();
        if (remaining <= 0)
            return CRM_ETIMEOUT;
        zmq_pollitem_t item = { .socket = client->socket, .events = ZMQ_POLLIN };
        if (zmq_poll(&item, 1, (long) remaining) < 0 && zmq_errno() != EINTR)
            return CRM_EBUS;
    }
}

/* --- Pool. */

int
crm_rpc_pool_new(void *zmq_ctx, const char *endpoint, int size, crm_rpc_pool_t **pool_p)
{
    assert(zmq_ctx);
    assert(pool_p);
    *pool_p = NULL;
    if (size < 1 || size > CRM_RPC_POOL_MAX_SIZE)
        return CRM_EINVALID;
    int rc = 0;
    bool lock_made = false, cond_made = false;
    pthread_condattr_t attr;
    bool attr_made = false;
    crm_rpc_pool_t *pool = calloc(1, sizeof *pool);
    if (!pool)
        return CRM_ENOMEM;
    pool->clients = calloc((size_t) size, sizeof *pool->clients);
    pool->idle = calloc((size_t) size, sizeof *pool->idle);
    if (!pool->clients || !pool->idle) {
        rc = CRM_ENOMEM;
        goto out;
    }
    if (pthread_mutex_init(&pool->lock, NULL)) {
        rc = CRM_ENOMEM;
        goto out;
    }
    lock_made = true;
    if (pthread_condattr_init(&attr)) {
        rc = CRM_ENOMEM;
        goto out;
    }
    attr_made = true;
    if (pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) || pthread_cond_init(&pool->freed, &attr)) {
        rc = CRM_ENOMEM;
        goto out;
    }
    cond_made = true;
    for (; pool->size < size; pool->size++) {
        rc = crm_rpc_client_new(zmq_ctx, endpoint, &pool->clients[pool->size]);
        if (rc)
            goto out;
        pool->idle[pool->idle_count++] = pool->clients[pool->size];
    }
    *pool_p = pool;
    pool = NULL;
out:
    if (attr_made)
        pthread_condattr_destroy(&attr);
    if (pool) {
        for (int i = 0; i < pool->size; i++)
            crm_rpc_client_destroy(&pool->clients[i]);
        if (cond_made)
            pthread_cond_destroy(&pool->freed);
        if (lock_made)
            pthread_mutex_destroy(&pool->lock);
        free(pool->clients);
        free(pool->idle);
        free(pool);
    }
    return rc;
}

void
crm_rpc_pool_destroy(crm_rpc_pool_t **pool_p)
{
    assert(pool_p);
    crm_rpc_pool_t *pool = *pool_p;
    if (!pool)
        return;
    assert(pool->idle_count == pool->size);   /* no call in progress */
    for (int i = 0; i < pool->size; i++)
        crm_rpc_client_destroy(&pool->clients[i]);
    pthread_cond_destroy(&pool->freed);
    pthread_mutex_destroy(&pool->lock);
    free(pool->clients);
    free(pool->idle);
    free(pool);
    *pool_p = NULL;
}

int
crm_rpc_pool_call(crm_rpc_pool_t *pool, const char *method, const char *key_id,
                  const char *role, const void *body, size_t body_len, int timeout_ms,
                  crm_rpc_result_t *result)
{
    assert(pool);
    assert(result);
    memset(result, 0, sizeof *result);
    if (timeout_ms < 1 || timeout_ms > CRM_RPC_MAX_TIMEOUT_MS)
        return CRM_EINVALID;
    int64_t deadline_ms = s_mono_ms() + timeout_ms;
    struct timespec until = {
        .tv_sec = (time_t) (deadline_ms / MS_PER_S),
        .tv_nsec = (long) (deadline_ms % MS_PER_S) * NS_PER_MS,
    };

    pthread_mutex_lock(&pool->lock);
    while (pool->idle_count == 0) {
        int err = pthread_cond_timedwait(&pool->freed, &pool->lock, &until);
        if (err == ETIMEDOUT && pool->idle_count == 0) {
            pthread_mutex_unlock(&pool->lock);
            return CRM_ETIMEOUT;
        }
    }
    crm_rpc_client_t *client = pool->idle[--pool->idle_count];
    pthread_mutex_unlock(&pool->lock);

    int rc = CRM_ETIMEOUT;
    int64_t remaining = deadline_ms - s_mono_ms();
    if (remaining > 0)
        rc = crm_rpc_call(client, method, key_id, role, body, body_len, (int) remaining, result);

    pthread_mutex_lock(&pool->lock);
    assert(pool->idle_count < pool->size);
    pool->idle[pool->idle_count++] = client;
    pthread_cond_signal(&pool->freed);
    pthread_mutex_unlock(&pool->lock);
    return rc;
}
