/* crm_outbox.c: the transactional outbox over crm_store and crm_bus. */
#include "crm_outbox.h"

#include <assert.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "crm_error.h"

#define SEQ_SIZE 8
#define TOPIC_LEN_SIZE 1

struct crm_outbox {
    crm_store_t *store;
    crm_db_t db;
    int notify_fd;
    uint64_t published;          /* publishing thread only */
};

int crm_outbox_new(crm_store_t *store, crm_outbox_t **outbox_p)
{
    assert(store && outbox_p);
    crm_outbox_t *outbox = calloc(1, sizeof *outbox);
    if (!outbox)
        return CRM_ENOMEM;
    outbox->store = store;
    outbox->notify_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    int rc = outbox->notify_fd < 0 ? CRM_EIO : 0;
    if (rc == 0)
        rc = crm_store_db(store, CRM_OUTBOX_DB, &outbox->db);
    if (rc == 0)
        rc = crm_outbox_head(outbox, &outbox->published);
    if (rc) {
        crm_outbox_destroy(&outbox);
        return rc;
    }
    *outbox_p = outbox;
    return 0;
}

void crm_outbox_destroy(crm_outbox_t **outbox_p)
{
    if (!outbox_p || !*outbox_p)
        return;
    if ((*outbox_p)->notify_fd >= 0)
        close((*outbox_p)->notify_fd);
    free(*outbox_p);
    *outbox_p = NULL;
}

/* The last sequence in the outbox as seen by txn. */
static int s_last_seq(crm_outbox_t *outbox, crm_txn_t *txn, uint64_t *seq)
{
    crm_cursor_t *cursor = NULL;
    int rc = crm_cursor_open(txn, outbox->db, &cursor);
    if (rc)
        return rc;
    crm_val_t key;
    rc = crm_cursor_last(cursor, &key, NULL);
    if (rc == 0) {
        assert(key.size == SEQ_SIZE);
        *seq = crm_bus_seq_decode(key.data);
    } else if (rc == CRM_ENOTFOUND) {
        *seq = 0;
        rc = 0;
    }
    crm_cursor_close(&cursor);
    return rc;
}

int crm_outbox_next_seq(crm_outbox_t *outbox, crm_txn_t *txn, uint64_t *seq)
{
    uint64_t last = 0;
    int rc = s_last_seq(outbox, txn, &last);
    if (rc == 0)
        *seq = last + 1;
    return rc;
}

int crm_outbox_append_at(crm_outbox_t *outbox, crm_txn_t *txn, uint64_t seq, const char *topic,
                         const void *payload, size_t payload_len)
{
    size_t topic_len = topic ? strlen(topic) : 0;
    if (topic_len == 0 || topic_len > CRM_BUS_MAX_TOPIC || seq == 0)
        return CRM_EINVALID;
    if (payload_len > CRM_BUS_MAX_PAYLOAD)
        return CRM_ETOOBIG;
    size_t size = TOPIC_LEN_SIZE + topic_len + payload_len;
    unsigned char *value = malloc(size);
    if (!value)
        return CRM_ENOMEM;
    value[0] = (unsigned char) topic_len;
    memcpy(value + TOPIC_LEN_SIZE, topic, topic_len);
    if (payload_len)
        memcpy(value + TOPIC_LEN_SIZE + topic_len, payload, payload_len);
    unsigned char key[SEQ_SIZE];
    crm_bus_seq_encode(seq, key);
    /* APPEND refuses a key that does not sort after the last: sequences only grow. */
    int rc = crm_store_put(txn, outbox->db, key, SEQ_SIZE, value, size, CRM_STORE_APPEND);
    free(value);
    return rc;
}

int crm_outbox_append(crm_outbox_t *outbox, crm_txn_t *txn, const char *topic, const void *payload,
                      size_t payload_len, uint64_t *seq_p)
{
    uint64_t seq = 0;
    int rc = crm_outbox_next_seq(outbox, txn, &seq);
    if (rc == 0)
        rc = crm_outbox_append_at(outbox, txn, seq, topic, payload, payload_len);
    if (rc == 0 && seq_p)
        *seq_p = seq;
    return rc;
}

void crm_outbox_notify(crm_outbox_t *outbox)
{
    uint64_t one = 1;
    /* A full counter or EAGAIN still leaves the fd readable: nothing is lost. */
    ssize_t n = write(outbox->notify_fd, &one, sizeof one);
    (void) n;
}

int crm_outbox_fd(crm_outbox_t *outbox)
{
    return outbox->notify_fd;
}

/* Splits a stored value into topic and payload. */
static int s_split(const crm_val_t *value, crm_val_t *topic, crm_val_t *payload)
{
    const unsigned char *data = value->data;
    if (value->size < TOPIC_LEN_SIZE || value->size < (size_t) TOPIC_LEN_SIZE + data[0] || data[0] == 0)
        return CRM_ESTORE;
    topic->data = data + TOPIC_LEN_SIZE;
    topic->size = data[0];
    payload->data = data + TOPIC_LEN_SIZE + data[0];
    payload->size = value->size - TOPIC_LEN_SIZE - data[0];
    return 0;
}

int crm_outbox_get(crm_outbox_t *outbox, crm_txn_t *txn, uint64_t seq, crm_val_t *topic,
                   crm_val_t *payload)
{
    unsigned char key[SEQ_SIZE];
    crm_bus_seq_encode(seq, key);
    crm_val_t value;
    int rc = crm_store_get(txn, outbox->db, key, SEQ_SIZE, &value);
    return rc ? rc : s_split(&value, topic, payload);
}

int crm_outbox_head(crm_outbox_t *outbox, uint64_t *head)
{
    crm_txn_t *txn = NULL;
    int rc = crm_store_read_begin(outbox->store, &txn);
    if (rc)
        return rc;
    rc = s_last_seq(outbox, txn, head);
    crm_store_txn_end(&txn);
    return rc;
}

/* Copies one topic into a NUL-terminated buffer for crm_bus_publish. */
static void s_topic_string(const crm_val_t *topic, char out[CRM_BUS_MAX_TOPIC + 1])
{
    size_t n = topic->size > CRM_BUS_MAX_TOPIC ? CRM_BUS_MAX_TOPIC : topic->size;
    memcpy(out, topic->data, n);
    out[n] = '\0';
}

int crm_outbox_publish(crm_outbox_t *outbox, crm_bus_pub_t *pub, size_t *published)
{
    uint64_t counter;
    ssize_t n = read(outbox->notify_fd, &counter, sizeof counter);
    (void) n;   /* EAGAIN: nothing was signalled, but publishing what is there is still right */
    if (published)
        *published = 0;

    crm_txn_t *txn = NULL;
    crm_cursor_t *cursor = NULL;
    int rc = crm_store_read_begin(outbox->store, &txn);
    if (rc)
        return rc;
    rc = crm_cursor_open(txn, outbox->db, &cursor);
    if (rc)
        goto out;
    unsigned char key[SEQ_SIZE];
    crm_bus_seq_encode(outbox->published + 1, key);
    crm_val_t k, v;
    size_t count = 0;
    for (rc = crm_cursor_seek(cursor, key, SEQ_SIZE, &k, &v); rc == 0 && count < CRM_OUTBOX_PUBLISH_MAX;
         rc = crm_cursor_next(cursor, &k, &v)) {
        uint64_t seq = crm_bus_seq_decode(k.data);
        assert(seq == outbox->published + 1);
        crm_val_t topic, payload;
        rc = s_split(&v, &topic, &payload);
        if (rc)
            goto out;
        char topic_text[CRM_BUS_MAX_TOPIC + 1];
        s_topic_string(&topic, topic_text);
        rc = crm_bus_publish(pub, topic_text, seq, payload.data, payload.size);
        if (rc)
            goto out;
        outbox->published = seq;
        count++;
    }
    if (rc == CRM_ENOTFOUND)
        rc = 0;
    if (count == CRM_OUTBOX_PUBLISH_MAX)
        crm_outbox_notify(outbox);   /* more to go: come back on the next poll */
    if (published)
        *published = count;
out:
    crm_cursor_close(&cursor);
    crm_store_txn_end(&txn);
    return rc;
}

/* Answers one replay request from a read snapshot. */
static int s_answer(crm_outbox_t *outbox, crm_bus_replay_server_t *server,
                    crm_bus_replay_request_t **request_p)
{
    crm_txn_t *txn = NULL;
    crm_cursor_t *cursor = NULL;
    uint64_t head = 0;
    int rc = crm_store_read_begin(outbox->store, &txn);
    if (rc)
        goto out;
    rc = s_last_seq(outbox, txn, &head);
    if (rc)
        goto out;
    rc = crm_cursor_open(txn, outbox->db, &cursor);
    if (rc)
        goto out;
    uint64_t after = crm_bus_replay_request_after(*request_p);
    unsigned char key[SEQ_SIZE];
    crm_bus_seq_encode(after + 1, key);
    crm_val_t k, v;
    for (rc = crm_cursor_seek(cursor, key, SEQ_SIZE, &k, &v); rc == 0;
         rc = crm_cursor_next(cursor, &k, &v)) {
        crm_val_t topic, payload;
        rc = s_split(&v, &topic, &payload);
        if (rc)
            goto out;
        rc = crm_bus_replay_add(*request_p, topic.data, topic.size, crm_bus_seq_decode(k.data),
                                payload.data, payload.size);
        if (rc == CRM_ELIMIT) {
            rc = 0;
            break;
        }
        if (rc)
            goto out;
    }
    if (rc == CRM_ENOTFOUND)
        rc = 0;
out:
    crm_cursor_close(&cursor);
    crm_store_txn_end(&txn);
    if (rc) {
        crm_bus_replay_request_destroy(request_p);
        return rc;
    }
    /* A client that went away is not the publisher's error. */
    crm_bus_replay_send(server, request_p, head);
    return 0;
}

int crm_outbox_serve_replay(crm_outbox_t *outbox, crm_bus_replay_server_t *server)
{
    for (;;) {
        crm_bus_replay_request_t *request = NULL;
        int rc = crm_bus_replay_recv(server, &request);
        if (rc == CRM_ENOTFOUND)
            return 0;
        if (rc == CRM_EPROTOCOL)
            continue;
        if (rc)
            return rc;
        rc = s_answer(outbox, server, &request);
        if (rc)
            return rc;
    }
}
