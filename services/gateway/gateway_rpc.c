/* gateway_rpc.c: the asynchronous request dispatcher: a queue in, a DEALER socket, a table of calls in flight. */
#include "gateway_rpc.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "crm/v1/rpc.pb-c.h"
#include "crm_error.h"
#include "crm_time.h"

#define S_ID_MAX 32

struct gateway_rpc {
    void *socket;
    int wake_fd;                       /* eventfd: calls queued, or stop */
    pthread_t thread;
    bool started;
    bool joined;
    pthread_mutex_t lock;
    pthread_cond_t finished;           /* gateway_rpc_call's wait */
    gateway_rpc_call_t *head;          /* queued, guarded by lock */
    gateway_rpc_call_t *tail;
    bool stopping;
    /* The dispatcher thread's alone. */
    gateway_rpc_call_t *slots[GATEWAY_RPC_MAX_IN_FLIGHT];
    uint32_t generations[GATEWAY_RPC_MAX_IN_FLIGHT];
    uint32_t free_slots[GATEWAY_RPC_MAX_IN_FLIGHT];
    size_t free_count;
    size_t in_flight;
    int64_t next_deadline_ms;
};

static int64_t
s_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
s_finish(gateway_rpc_call_t *call, int rc)
{
    call->rc = rc;
    call->done(call, call->done_arg);
}

/* --- The dispatcher thread. */

static void
s_release(gateway_rpc_t *rpc, uint32_t slot)
{
    rpc->slots[slot] = NULL;
    rpc->generations[slot]++;
    rpc->free_slots[rpc->free_count++] = slot;
    rpc->in_flight--;
}

static bool
s_text_fits(const char *s, size_t size)
{
    return !s || strlen(s) < size;
}

static void
s_send(gateway_rpc_t *rpc, gateway_rpc_call_t *call)
{
    if (!call->method || !*call->method || !s_text_fits(call->method, CRM_RPC_METHOD_SIZE)
        || !s_text_fits(call->key_id, CRM_RPC_KEY_ID_SIZE)
        || !s_text_fits(call->role, CRM_RPC_ROLE_SIZE) || (!call->body && call->body_len)
        || call->timeout_ms < 1 || call->timeout_ms > CRM_RPC_MAX_TIMEOUT_MS) {
        s_finish(call, CRM_EINVALID);
        return;
    }
    if (rpc->free_count == 0) {
        s_finish(call, CRM_EUNAVAIL);
        return;
    }
    uint32_t slot = rpc->free_slots[--rpc->free_count];
    char id[S_ID_MAX];
    snprintf(id, sizeof id, "%" PRIu32 ".%" PRIu32, slot, rpc->generations[slot]);
    Crm__V1__Caller caller = CRM__V1__CALLER__INIT;
    caller.key_id = (char *) (call->key_id ? call->key_id : "");
    caller.role = (char *) (call->role ? call->role : "");
    Crm__V1__Request msg = CRM__V1__REQUEST__INIT;
    msg.id = id;
    msg.method = (char *) call->method;
    msg.deadline_unix_us = crm_time_now_us() + (call->deadline_ms - s_mono_ms()) * 1000;
    msg.caller = &caller;
    msg.body.data = (uint8_t *) call->body;
    msg.body.len = call->body_len;
    size_t size = crm__v1__request__get_packed_size(&msg);
    int rc = 0;
    zmq_msg_t frame;
    if (size > CRM_RPC_MAX_MESSAGE)
        rc = CRM_ETOOBIG;
    else if (zmq_msg_init_size(&frame, size))
        rc = CRM_ENOMEM;
    if (rc) {
        rpc->free_slots[rpc->free_count++] = slot;
        s_finish(call, rc);
        return;
    }
    crm__v1__request__pack(&msg, zmq_msg_data(&frame));
    /* ZMQ_IMMEDIATE: with no server connected (or its queue full) this fails at once. */
    if (zmq_msg_send(&frame, rpc->socket, ZMQ_DONTWAIT) < 0) {
        int err = zmq_errno();
        zmq_msg_close(&frame);
        rpc->free_slots[rpc->free_count++] = slot;
        s_finish(call, err == EAGAIN ? CRM_EUNAVAIL : CRM_EBUS);
        return;
    }
    rpc->slots[slot] = call;
    rpc->in_flight++;
    if (rpc->in_flight == 1 || call->deadline_ms < rpc->next_deadline_ms)
        rpc->next_deadline_ms = call->deadline_ms;
}

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

/* Matches one reply to its call and finishes it. Replies to nothing (late, garbled) are dropped. */
static void
s_on_reply(gateway_rpc_t *rpc, const void *data, size_t size)
{
    Crm__V1__Reply *reply = crm__v1__reply__unpack(NULL, size, data);
    if (!reply)
        return;
    uint32_t slot = 0, generation = 0;
    char tail = 0;
    gateway_rpc_call_t *call = NULL;
    if (reply->id && sscanf(reply->id, "%" SCNu32 ".%" SCNu32 "%c", &slot, &generation, &tail) == 2
        && slot < GATEWAY_RPC_MAX_IN_FLIGHT && rpc->generations[slot] == generation)
        call = rpc->slots[slot];
    if (!call) {
        crm__v1__reply__free_unpacked(reply, NULL);
        return;
    }
    s_release(rpc, slot);
    crm_rpc_result_t *result = &call->result;
    memset(result, 0, sizeof *result);
    bool failed = false;
    int status = (int) reply->status;
    result->status = status >= 0 && status < CRM_RPC_STATUS_COUNT ? (crm_rpc_status_t) status
                                                                  : CRM_RPC_INTERNAL;
    result->error = s_dup_nonempty(reply->error, &failed);
    result->field = s_dup_nonempty(reply->field, &failed);
    result->conflict_id = s_dup_nonempty(reply->conflict_id, &failed);
    if (reply->body.len) {
        result->body = malloc(reply->body.len);
        if (result->body) {
            memcpy(result->body, reply->body.data, reply->body.len);
            result->body_len = reply->body.len;
        } else {
            failed = true;
        }
    }
    crm__v1__reply__free_unpacked(reply, NULL);
    if (failed)
        crm_rpc_result_clear(result);
    s_finish(call, failed ? CRM_ENOMEM : 0);
}

static void
s_receive(gateway_rpc_t *rpc)
{
    for (;;) {
        zmq_msg_t frame;
        zmq_msg_init(&frame);
        if (zmq_msg_recv(&frame, rpc->socket, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&frame);
            return;
        }
        bool more = zmq_msg_more(&frame);
        if (!more)
            s_on_reply(rpc, zmq_msg_data(&frame), zmq_msg_size(&frame));
        zmq_msg_close(&frame);
        while (more) {      /* not a reply of ours: drop all its frames */
            zmq_msg_init(&frame);
            if (zmq_msg_recv(&frame, rpc->socket, 0) < 0) {
                zmq_msg_close(&frame);
                return;
            }
            more = zmq_msg_more(&frame);
            zmq_msg_close(&frame);
        }
    }
}

/* Finishes the calls whose deadline has passed (every call when all is true) with rc. */
static void
s_expire(gateway_rpc_t *rpc, int64_t now, bool all, int rc)
{
    int64_t next = INT64_MAX;
    for (uint32_t slot = 0; slot < GATEWAY_RPC_MAX_IN_FLIGHT && rpc->in_flight; slot++) {
        gateway_rpc_call_t *call = rpc->slots[slot];
        if (!call)
            continue;
        if (all || call->deadline_ms <= now) {
            s_release(rpc, slot);
            s_finish(call, rc);
        } else if (call->deadline_ms < next) {
            next = call->deadline_ms;
        }
    }
    rpc->next_deadline_ms = next;
}

static void *
s_run(void *arg)
{
    gateway_rpc_t *rpc = arg;
    for (;;) {
        long timeout = -1;
        if (rpc->in_flight) {
            int64_t left = rpc->next_deadline_ms - s_mono_ms();
            timeout = left > 0 ? (long) left : 0;
        }
        zmq_pollitem_t items[2] = {
            { .socket = rpc->socket, .events = ZMQ_POLLIN },
            { .socket = NULL, .fd = rpc->wake_fd, .events = ZMQ_POLLIN },
        };
        if (zmq_poll(items, 2, timeout) < 0 && zmq_errno() != EINTR)
            break;
        if (items[1].revents & ZMQ_POLLIN) {
            uint64_t count;
            ssize_t got = read(rpc->wake_fd, &count, sizeof count);
            (void) got;
        }
        pthread_mutex_lock(&rpc->lock);
        gateway_rpc_call_t *queue = rpc->head;
        rpc->head = rpc->tail = NULL;
        bool stopping = rpc->stopping;
        pthread_mutex_unlock(&rpc->lock);
        for (gateway_rpc_call_t *call = queue, *next; call; call = next) {
            next = call->next;
            call->next = NULL;
            if (stopping)
                s_finish(call, CRM_EUNAVAIL);
            else
                s_send(rpc, call);
        }
        s_receive(rpc);
        if (stopping) {
            s_expire(rpc, 0, true, CRM_EUNAVAIL);
            break;
        }
        int64_t now = s_mono_ms();
        if (rpc->in_flight && now >= rpc->next_deadline_ms)
            s_expire(rpc, now, false, CRM_ETIMEOUT);
    }
    /* On a socket failure: finish what is left, and refuse the rest. */
    pthread_mutex_lock(&rpc->lock);
    rpc->stopping = true;
    gateway_rpc_call_t *queue = rpc->head;
    rpc->head = rpc->tail = NULL;
    pthread_mutex_unlock(&rpc->lock);
    for (gateway_rpc_call_t *call = queue, *next; call; call = next) {
        next = call->next;
        s_finish(call, CRM_EUNAVAIL);
    }
    s_expire(rpc, 0, true, CRM_EUNAVAIL);
    return NULL;
}

/* --- Public. */

int
gateway_rpc_new(void *zmq_ctx, const char *endpoint, gateway_rpc_t **rpc_p)
{
    assert(zmq_ctx && rpc_p);
    *rpc_p = NULL;
    if (!endpoint || !*endpoint || strlen(endpoint) >= CRM_RPC_ENDPOINT_SIZE)
        return CRM_EINVALID;
    gateway_rpc_t *rpc = calloc(1, sizeof *rpc);
    if (!rpc)
        return CRM_ENOMEM;
    rpc->wake_fd = -1;
    pthread_mutex_init(&rpc->lock, NULL);
    pthread_cond_init(&rpc->finished, NULL);
    for (uint32_t i = 0; i < GATEWAY_RPC_MAX_IN_FLIGHT; i++)
        rpc->free_slots[i] = GATEWAY_RPC_MAX_IN_FLIGHT - 1 - i;
    rpc->free_count = GATEWAY_RPC_MAX_IN_FLIGHT;
    int rc = CRM_EBUS;
    rpc->socket = zmq_socket(zmq_ctx, ZMQ_DEALER);
    if (!rpc->socket)
        goto out;
    int linger = CRM_RPC_LINGER_MS, immediate = 1, hwm = GATEWAY_RPC_MAX_IN_FLIGHT;
    int ivl = CRM_RPC_HEARTBEAT_IVL_MS, hb_timeout = CRM_RPC_HEARTBEAT_TIMEOUT_MS;
    int reconnect = CRM_RPC_RECONNECT_IVL_MS, reconnect_max = CRM_RPC_RECONNECT_IVL_MAX_MS;
    int64_t max = (int64_t) CRM_RPC_MAX_MESSAGE;
    if (zmq_setsockopt(rpc->socket, ZMQ_LINGER, &linger, sizeof linger)
        || zmq_setsockopt(rpc->socket, ZMQ_IMMEDIATE, &immediate, sizeof immediate)
        || zmq_setsockopt(rpc->socket, ZMQ_SNDHWM, &hwm, sizeof hwm)
        || zmq_setsockopt(rpc->socket, ZMQ_RCVHWM, &hwm, sizeof hwm)
        || zmq_setsockopt(rpc->socket, ZMQ_MAXMSGSIZE, &max, sizeof max)
        || zmq_setsockopt(rpc->socket, ZMQ_HEARTBEAT_IVL, &ivl, sizeof ivl)
        || zmq_setsockopt(rpc->socket, ZMQ_HEARTBEAT_TIMEOUT, &hb_timeout, sizeof hb_timeout)
        || zmq_setsockopt(rpc->socket, ZMQ_RECONNECT_IVL, &reconnect, sizeof reconnect)
        || zmq_setsockopt(rpc->socket, ZMQ_RECONNECT_IVL_MAX, &reconnect_max, sizeof reconnect_max))
        goto out;
    if (zmq_connect(rpc->socket, endpoint) != 0) {
        rc = CRM_EINVALID;
        goto out;
    }
    rpc->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (rpc->wake_fd < 0 || pthread_create(&rpc->thread, NULL, s_run, rpc) != 0) {
        rc = CRM_EIO;
        goto out;
    }
    rpc->started = true;
    rc = 0;
out:
    if (rc)
        gateway_rpc_destroy(&rpc);
    *rpc_p = rpc;
    return rc;
}

static void
s_wake(gateway_rpc_t *rpc)
{
    uint64_t one = 1;
    ssize_t written = write(rpc->wake_fd, &one, sizeof one);
    (void) written;
}

void
gateway_rpc_stop(gateway_rpc_t *rpc)
{
    assert(rpc);
    pthread_mutex_lock(&rpc->lock);
    rpc->stopping = true;
    bool join = rpc->started && !rpc->joined;
    rpc->joined = true;
    pthread_mutex_unlock(&rpc->lock);
    if (join) {
        s_wake(rpc);
        pthread_join(rpc->thread, NULL);
    }
}

void
gateway_rpc_destroy(gateway_rpc_t **rpc_p)
{
    if (!rpc_p || !*rpc_p)
        return;
    gateway_rpc_t *rpc = *rpc_p;
    gateway_rpc_stop(rpc);
    if (rpc->socket)
        zmq_close(rpc->socket);
    if (rpc->wake_fd >= 0)
        close(rpc->wake_fd);
    pthread_cond_destroy(&rpc->finished);
    pthread_mutex_destroy(&rpc->lock);
    free(rpc);
    *rpc_p = NULL;
}

int
gateway_rpc_submit(gateway_rpc_t *rpc, gateway_rpc_call_t *call, gateway_rpc_done_fn done, void *arg)
{
    assert(rpc && call && done);
    int timeout = call->timeout_ms;
    if (timeout < 1 || timeout > CRM_RPC_MAX_TIMEOUT_MS)
        timeout = 1;      /* refused as CRM_EINVALID below, through the dispatcher */
    call->rc = 0;
    memset(&call->result, 0, sizeof call->result);
    call->done = done;
    call->done_arg = arg;
    call->deadline_ms = s_mono_ms() + timeout;
    call->next = NULL;
    pthread_mutex_lock(&rpc->lock);
    if (rpc->stopping) {
        pthread_mutex_unlock(&rpc->lock);
        return CRM_EUNAVAIL;
    }
    bool was_empty = rpc->head == NULL;
    if (rpc->tail)
        rpc->tail->next = call;
    else
        rpc->head = call;
    rpc->tail = call;
    pthread_mutex_unlock(&rpc->lock);
    if (was_empty)
        s_wake(rpc);
    return 0;
}

static void
s_wake_waiter(gateway_rpc_call_t *call, void *arg)
{
    gateway_rpc_t *rpc = arg;
    pthread_mutex_lock(&rpc->lock);
    call->done_flag = 1;
    pthread_cond_broadcast(&rpc->finished);
    pthread_mutex_unlock(&rpc->lock);
}

int
gateway_rpc_call(gateway_rpc_t *rpc, gateway_rpc_call_t *call)
{
    call->done_flag = 0;
    int rc = gateway_rpc_submit(rpc, call, s_wake_waiter, rpc);
    if (rc) {
        call->rc = rc;
        return rc;
    }
    pthread_mutex_lock(&rpc->lock);
    while (!call->done_flag)
        pthread_cond_wait(&rpc->finished, &rpc->lock);
    pthread_mutex_unlock(&rpc->lock);
    return call->rc;
}
