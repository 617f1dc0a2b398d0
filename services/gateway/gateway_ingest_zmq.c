/* gateway_ingest_zmq.c: the ZeroMQ ingest socket and its thread. */
#include "gateway_ingest_zmq.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <zmq.h>

#include "crm_config.h"
#include "crm_error.h"

#define S_HEARTBEAT_IVL_MS      1000
#define S_HEARTBEAT_TIMEOUT_MS  3000
#define S_MAX_FRAMES            3       /* routing id, optional empty delimiter, the envelope */

struct gateway_ingest_zmq {
    void *socket;
    int stop_fd;
    pthread_t thread;
    bool started;
    gateway_ingest_t *ingest;
    gateway_ce_limits_t limits;
    gateway_ingest_zmq_fn on_batch;
    void *arg;
    char endpoint[CRM_CONFIG_ENDPOINT_MAX];
    /* The batch being handled: one routing id and shape per event. */
    gateway_ingest_batch_t batch;
    zmq_msg_t ids[GATEWAY_INGEST_ZMQ_BATCH];
    bool delimited[GATEWAY_INGEST_ZMQ_BATCH];
};

/* Reads the rest of a message's frames and drops them. */
static void
s_drain(void *socket)
{
    int more = 0;
    size_t size = sizeof more;
    while (zmq_getsockopt(socket, ZMQ_RCVMORE, &more, &size) == 0 && more) {
        zmq_msg_t frame;
        zmq_msg_init(&frame);
        int got = zmq_msg_recv(&frame, socket, 0);
        zmq_msg_close(&frame);
        if (got < 0)
            break;
    }
}

/* Reads one waiting message into slot n of the batch. Returns 0, CRM_ENOTFOUND when nothing
 * waits, CRM_ENOMEM or CRM_EBUS. */
static int
s_read_one(gateway_ingest_zmq_t *zi, size_t n)
{
    zmq_msg_t frames[S_MAX_FRAMES];
    size_t count = 0;
    zmq_msg_init(&frames[0]);
    if (zmq_msg_recv(&frames[0], zi->socket, ZMQ_DONTWAIT) < 0) {
        int err = zmq_errno();
        zmq_msg_close(&frames[0]);
        return err == EAGAIN || err == EINTR ? CRM_ENOTFOUND : CRM_EBUS;
    }
    count = 1;
    bool overlong = false;
    while (zmq_msg_more(&frames[count - 1])) {
        if (count == S_MAX_FRAMES) {
            overlong = true;
            s_drain(zi->socket);
            break;
        }
        zmq_msg_init(&frames[count]);
        if (zmq_msg_recv(&frames[count], zi->socket, 0) < 0) {
            zmq_msg_close(&frames[count]);
            break;
        }
        count++;
    }
    gateway_ingest_event_t *ev = gateway_ingest_batch_add(&zi->batch);
    int rc = 0;
    zmq_msg_init(&zi->ids[n]);
    zmq_msg_move(&zi->ids[n], &frames[0]);
    zi->delimited[n] = count == 3 && zmq_msg_size(&frames[1]) == 0;
    if (!ev) {
        rc = CRM_ENOMEM;
    } else if (overlong || count < 2 || (count == 3 && !zi->delimited[n])) {
        gateway_ingest_reject(ev, NULL, "expected one frame: a packed crm.v1.Event");
    } else {
        const zmq_msg_t *payload = &frames[count - 1];
        rc = gateway_ce_from_envelope(zmq_msg_data((zmq_msg_t *) payload),
                                      zmq_msg_size((zmq_msg_t *) payload), &zi->limits, ev);
    }
    for (size_t i = 0; i < count; i++)
        zmq_msg_close(&frames[i]);
    if (rc && ev)
        zi->batch.count--;
    if (rc)
        zmq_msg_close(&zi->ids[n]);
    return rc;
}

/* Sends event i's result to its peer; a peer that has gone or is full loses it. */
static void
s_answer(gateway_ingest_zmq_t *zi, size_t i)
{
    Crm__V1__IngestResult result;
    gateway_ingest_result(&zi->batch.events[i], &result);
    size_t len = crm__v1__ingest_result__get_packed_size(&result);
    zmq_msg_t frame;
    if (len ? zmq_msg_init_size(&frame, len) : zmq_msg_init(&frame))
        return;
    if (len)
        crm__v1__ingest_result__pack(&result, zmq_msg_data(&frame));
    if (zmq_msg_send(&zi->ids[i], zi->socket, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&frame);
        return;
    }
    if (zi->delimited[i] && zmq_send(zi->socket, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&frame);
        return;
    }
    if (zmq_msg_send(&frame, zi->socket, ZMQ_DONTWAIT) < 0)
        zmq_msg_close(&frame);
}

static void
s_handle_batch(gateway_ingest_zmq_t *zi, size_t n)
{
    bool pending = false;
    for (size_t i = 0; i < n; i++)
        pending |= zi->batch.events[i].pending;
    int rc = pending ? gateway_ingest_commit(zi->ingest, &zi->batch) : 0;
    if (rc)
        for (size_t i = 0; i < n; i++)
            if (zi->batch.events[i].pending)
                gateway_ingest_reject(&zi->batch.events[i], NULL,
                                      "the ingest log could not be written (%s); send it again",
                                      crm_strerror(rc));
    for (size_t i = 0; i < n; i++) {
        s_answer(zi, i);
        zmq_msg_close(&zi->ids[i]);
    }
    if (zi->on_batch)
        zi->on_batch(&zi->batch, zi->arg);
    gateway_ingest_batch_clear(&zi->batch);
}

static void *
s_run(void *arg)
{
    gateway_ingest_zmq_t *zi = arg;
    for (;;) {
        zmq_pollitem_t items[2] = {
            { .socket = zi->socket, .events = ZMQ_POLLIN },
            { .socket = NULL, .fd = zi->stop_fd, .events = ZMQ_POLLIN },
        };
        if (zmq_poll(items, 2, GATEWAY_INGEST_ZMQ_POLL_MS) < 0 && zmq_errno() != EINTR)
            break;
        if (items[1].revents & ZMQ_POLLIN)
            break;
        if (!(items[0].revents & ZMQ_POLLIN))
            continue;
        size_t n = 0;
        while (n < GATEWAY_INGEST_ZMQ_BATCH) {
            int rc = s_read_one(zi, n);
            if (rc)
                break;
            n++;
        }
        if (n)
            s_handle_batch(zi, n);
    }
    return NULL;
}

int
gateway_ingest_zmq_new(void *zmq_ctx, const char *endpoint, size_t max_message,
                       gateway_ingest_t *ingest, const gateway_ce_limits_t *limits,
                       gateway_ingest_zmq_fn on_batch, void *arg, gateway_ingest_zmq_t **zi_p)
{
    assert(zmq_ctx && ingest && limits && zi_p);
    *zi_p = NULL;
    if (!endpoint || strlen(endpoint) >= CRM_CONFIG_ENDPOINT_MAX)
        return CRM_EINVALID;
    gateway_ingest_zmq_t *zi = calloc(1, sizeof *zi);
    if (!zi)
        return CRM_ENOMEM;
    zi->stop_fd = -1;
    zi->ingest = ingest;
    zi->limits = *limits;
    zi->on_batch = on_batch;
    zi->arg = arg;
    int rc = CRM_EBUS;
    zi->socket = zmq_socket(zmq_ctx, ZMQ_ROUTER);
    if (!zi->socket)
        goto out;
    int linger = 0, hwm = GATEWAY_INGEST_ZMQ_HWM;
    int ivl = S_HEARTBEAT_IVL_MS, timeout = S_HEARTBEAT_TIMEOUT_MS;
    int64_t max = (int64_t) max_message;
    if (zmq_setsockopt(zi->socket, ZMQ_LINGER, &linger, sizeof linger)
        || zmq_setsockopt(zi->socket, ZMQ_SNDHWM, &hwm, sizeof hwm)
        || zmq_setsockopt(zi->socket, ZMQ_RCVHWM, &hwm, sizeof hwm)
        || zmq_setsockopt(zi->socket, ZMQ_MAXMSGSIZE, &max, sizeof max)
        || zmq_setsockopt(zi->socket, ZMQ_HEARTBEAT_IVL, &ivl, sizeof ivl)
        || zmq_setsockopt(zi->socket, ZMQ_HEARTBEAT_TIMEOUT, &timeout, sizeof timeout))
        goto out;
    if (zmq_bind(zi->socket, endpoint) != 0) {
        rc = zmq_errno() == EINVAL || zmq_errno() == EPROTONOSUPPORT ? CRM_EINVALID : CRM_EBUS;
        goto out;
    }
    size_t size = sizeof zi->endpoint;
    if (zmq_getsockopt(zi->socket, ZMQ_LAST_ENDPOINT, zi->endpoint, &size) != 0)
        goto out;
    zi->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (zi->stop_fd < 0) {
        rc = CRM_EIO;
        goto out;
    }
    if (pthread_create(&zi->thread, NULL, s_run, zi) != 0) {
        rc = CRM_EIO;
        goto out;
    }
    zi->started = true;
    rc = 0;
out:
    if (rc)
        gateway_ingest_zmq_destroy(&zi);
    *zi_p = zi;
    return rc;
}

const char *
gateway_ingest_zmq_endpoint(const gateway_ingest_zmq_t *zi)
{
    assert(zi);
    return zi->endpoint;
}

void
gateway_ingest_zmq_destroy(gateway_ingest_zmq_t **zi_p)
{
    if (!zi_p || !*zi_p)
        return;
    gateway_ingest_zmq_t *zi = *zi_p;
    if (zi->started) {
        uint64_t one = 1;
        ssize_t written = write(zi->stop_fd, &one, sizeof one);
        (void) written;
        pthread_join(zi->thread, NULL);
    }
    if (zi->socket)
        zmq_close(zi->socket);
    if (zi->stop_fd >= 0)
        close(zi->stop_fd);
    gateway_ingest_batch_clear(&zi->batch);
    free(zi);
    *zi_p = NULL;
}
