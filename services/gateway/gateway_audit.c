/* gateway_audit.c: the append-only, hash-chained log of sensitive operations made through the gateway. */
#include "gateway_audit.h"

#include <assert.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crm_bus.h"
#include "crm_codec.h"
#include "crm_error.h"
#include "crm_event.h"

#define S_KEY_SIZE 8                 /* the seq, big-endian: lines sort in order */
#define S_TOKEN_MAX 24

struct gateway_audit {
    gateway_ctx_t ctx;
    crm_db_t db;
};

int
gateway_audit_new(const gateway_ctx_t *ctx, gateway_audit_t **audit_p)
{
    assert(ctx && audit_p);
    *audit_p = NULL;
    gateway_audit_t *audit = calloc(1, sizeof *audit);
    if (!audit)
        return CRM_ENOMEM;
    audit->ctx = *ctx;
    int rc = crm_store_db(ctx->store, GATEWAY_AUDIT_DB, &audit->db);
    if (rc) {
        free(audit);
        return rc;
    }
    *audit_p = audit;
    return 0;
}

void
gateway_audit_destroy(gateway_audit_t **audit_p)
{
    if (!audit_p || !*audit_p)
        return;
    free(*audit_p);
    *audit_p = NULL;
}

/* The line's hash: BLAKE2b-256 over prev_hash and the line packed with its hash empty. */
static int
s_hash(const Crm__V1__AuditEntry *entry, uint8_t out[GATEWAY_AUDIT_HASH_SIZE])
{
    Crm__V1__AuditEntry bare = *entry;
    bare.hash.data = NULL;
    bare.hash.len = 0;
    void *packed = NULL;
    size_t len = 0;
    int rc = crm_codec_pb_encode(&bare.base, &packed, &len);
    if (rc)
        return rc;
    crypto_generichash_state state;
    crypto_generichash_init(&state, NULL, 0, GATEWAY_AUDIT_HASH_SIZE);
    crypto_generichash_update(&state, entry->prev_hash.data, entry->prev_hash.len);
    crypto_generichash_update(&state, packed, len);
    crypto_generichash_final(&state, out, GATEWAY_AUDIT_HASH_SIZE);
    free(packed);
    return 0;
}

/* Reads the line under a cursor's value. Caller frees. */
static int
s_decode(const crm_val_t *v, Crm__V1__AuditEntry **out)
{
    return crm_codec_msgpack_decode(&crm__v1__audit_entry__descriptor, v->data, v->size,
                                    (ProtobufCMessage **) out, NULL);
}

typedef struct {
    gateway_audit_t *audit;
    const Crm__V1__AuditEntry *entry;
    int64_t now_us;
} s_append_t;

static int
s_append_body(crm_txn_t *txn, void *arg)
{
    s_append_t *a = arg;
    gateway_audit_t *audit = a->audit;
    Crm__V1__AuditEntry line = *a->entry;
    Crm__V1__AuditEntry *last = NULL;
    uint8_t prev[GATEWAY_AUDIT_HASH_SIZE] = { 0 };
    uint8_t hash[GATEWAY_AUDIT_HASH_SIZE];
    Crm__V1__Timestamp time = CRM__V1__TIMESTAMP__INIT;
    crm_cursor_t *cur = NULL;
    void *packed = NULL;
    size_t packed_len = 0;
    int rc = crm_cursor_open(txn, audit->db, &cur);
    crm_val_t k, v;
    line.seq = 1;
    if (rc == 0) {
        rc = crm_cursor_last(cur, &k, &v);
        if (rc == 0 && (rc = s_decode(&v, &last)) == 0) {
            line.seq = last->seq + 1;
            if (last->hash.len == sizeof prev)
                memcpy(prev, last->hash.data, sizeof prev);
        } else if (rc == CRM_ENOTFOUND) {
            rc = 0;
        }
    }
    crm_cursor_close(&cur);
    if (rc)
        goto out;
    time.seconds = a->now_us / 1000000;
    time.nanos = (int32_t) (a->now_us % 1000000) * 1000;
    line.time = &time;
    line.prev_hash.data = prev;
    line.prev_hash.len = sizeof prev;
    line.hash.data = NULL;
    line.hash.len = 0;
    if ((rc = s_hash(&line, hash)))
        goto out;
    line.hash.data = hash;
    line.hash.len = sizeof hash;
    unsigned char key[S_KEY_SIZE];
    crm_bus_seq_encode(line.seq, key);
    if ((rc = crm_codec_msgpack_encode(&line.base, &packed, &packed_len)) == 0)
        rc = crm_store_put(txn, audit->db, key, sizeof key, packed, packed_len, CRM_STORE_APPEND);
    if (rc == 0) {
        crm_event_spec_t spec = {
            .source = audit->ctx.source, .type = GATEWAY_AUDIT_TOPIC, .subject = line.key_id,
            .data = &line.base,
        };
        rc = crm_event_append(audit->ctx.outbox, txn, audit->ctx.ids, &spec, NULL);
    }
out:
    free(packed);
    crm_codec_message_free((ProtobufCMessage **) &last);
    return rc;
}

int
gateway_audit_append(gateway_audit_t *audit, const Crm__V1__AuditEntry *entry, int64_t now_us)
{
    assert(audit && entry);
    if (strlen(entry->path) > GATEWAY_AUDIT_TEXT_MAX || strlen(entry->operation) > GATEWAY_AUDIT_TEXT_MAX)
        return CRM_EINVALID;
    s_append_t a = { .audit = audit, .entry = entry, .now_us = now_us };
    return gateway_ctx_write(&audit->ctx, s_append_body, &a);
}

int
gateway_audit_list(gateway_audit_t *audit, uint32_t page_size, const char *page_token,
                   Crm__V1__ListAuditEntriesReply **reply_p)
{
    assert(audit && reply_p);
    *reply_p = NULL;
    uint64_t below = UINT64_MAX;
    if (page_token && *page_token) {
        char *end = NULL;
        unsigned long long n = strtoull(page_token, &end, 10);
        if (!end || *end || n == 0 || strlen(page_token) > S_TOKEN_MAX)
            return CRM_EINVALID;
        below = n;
    }
    uint32_t page = page_size == 0 ? GATEWAY_AUDIT_PAGE_DEFAULT
                                   : page_size > GATEWAY_AUDIT_PAGE_MAX ? GATEWAY_AUDIT_PAGE_MAX : page_size;
    Crm__V1__ListAuditEntriesReply *reply = NULL;
    int rc = crm_codec_message_new(&crm__v1__list_audit_entries_reply__descriptor, (ProtobufCMessage **) &reply);
    if (rc)
        return rc;
    reply->entries = calloc(page, sizeof *reply->entries);
    crm_txn_t *txn = NULL;
    crm_cursor_t *cur = NULL;
    if (!reply->entries)
        rc = CRM_ENOMEM;
    if (rc == 0)
        rc = crm_store_read_begin(audit->ctx.store, &txn);
    if (rc == 0)
        rc = crm_cursor_open(txn, audit->db, &cur);
    crm_val_t k, v;
    if (rc == 0) {
        if (below == UINT64_MAX) {
            rc = crm_cursor_last(cur, &k, &v);
        } else {
            unsigned char key[S_KEY_SIZE];
            crm_bus_seq_encode(below, key);
            rc = crm_cursor_seek(cur, key, sizeof key, &k, &v);
            rc = rc == 0 ? crm_cursor_prev(cur, &k, &v) : rc == CRM_ENOTFOUND ? crm_cursor_last(cur, &k, &v) : rc;
        }
    }
    while (rc == 0 && reply->n_entries < page) {
        Crm__V1__AuditEntry *e = NULL;
        if ((rc = s_decode(&v, &e)))
            break;
        reply->entries[reply->n_entries++] = e;
        rc = crm_cursor_prev(cur, &k, &v);
    }
    if (rc == 0 && reply->n_entries == page) {
        char token[S_TOKEN_MAX];
        snprintf(token, sizeof token, "%" PRIu64, reply->entries[page - 1]->seq);
        if (crm_codec_strndup(token, strlen(token), &reply->next_page_token) != 0)
            rc = CRM_ENOMEM;
    }
    if (rc == CRM_ENOTFOUND)
        rc = 0;
    crm_cursor_close(&cur);
    crm_store_txn_end(&txn);
    if (rc) {
        crm_codec_message_free((ProtobufCMessage **) &reply);
        return rc;
    }
    *reply_p = reply;
    return 0;
}

int
gateway_audit_verify(gateway_audit_t *audit, Crm__V1__VerifyAuditReply *reply)
{
    assert(audit && reply);
    reply->intact = true;
    reply->entries = 0;
    reply->first_bad_seq = 0;
    reply->detail = (char *) "every line follows the one before";
    uint8_t prev[GATEWAY_AUDIT_HASH_SIZE] = { 0 };
    crm_txn_t *txn = NULL;
    crm_cursor_t *cur = NULL;
    int rc = crm_store_read_begin(audit->ctx.store, &txn);
    if (rc == 0)
        rc = crm_cursor_open(txn, audit->db, &cur);
    crm_val_t k, v;
    if (rc == 0)
        rc = crm_cursor_first(cur, &k, &v);
    uint64_t expect = 1;
    while (rc == 0 && reply->intact) {
        Crm__V1__AuditEntry *e = NULL;
        uint8_t hash[GATEWAY_AUDIT_HASH_SIZE];
        const char *fault = NULL;
        if (s_decode(&v, &e) != 0)
            fault = "a line cannot be read";
        else if (e->seq != expect)
            fault = "a line is missing or out of order";
        else if (e->prev_hash.len != sizeof prev || memcmp(e->prev_hash.data, prev, sizeof prev) != 0)
            fault = "a line does not follow the one before";
        else if (s_hash(e, hash) != 0 || e->hash.len != sizeof hash || memcmp(e->hash.data, hash, sizeof hash) != 0)
            fault = "a line was changed after it was written";
        if (fault) {
            reply->intact = false;
            reply->first_bad_seq = expect;
            reply->detail = (char *) fault;
        } else {
            memcpy(prev, hash, sizeof prev);
            reply->entries++;
            expect++;
        }
        crm_codec_message_free((ProtobufCMessage **) &e);
        if (reply->intact)
            rc = crm_cursor_next(cur, &k, &v);
    }
    if (rc == CRM_ENOTFOUND)
        rc = 0;
    crm_cursor_close(&cur);
    crm_store_txn_end(&txn);
    return rc;
}
