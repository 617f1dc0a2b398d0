/* gateway_idempotency.c: the Idempotency-Key store: reserve, keep the first answer, replay, purge. */
#include "gateway_idempotency.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crm/v1/gateway.pb-c.h"
#include "crm_bus.h"
#include "crm_codec.h"
#include "crm_error.h"
#include "crm_time.h"

#define S_KEY_MAX (CRM_ID_LEN + 1 + GATEWAY_IDEM_KEY_MAX)
#define S_TIME_KEY_MAX (8 + S_KEY_MAX)

struct gateway_idem {
    gateway_ctx_t ctx;
    crm_db_t db;
    crm_db_t time_db;
    int64_t ttl_us;
    int64_t pending_us;
};

int
gateway_idem_new(const gateway_ctx_t *ctx, int64_t ttl_us, int64_t pending_us,
                 gateway_idem_t **idem_p)
{
    assert(ctx && ctx->store && ctx->write && idem_p && ttl_us > 0 && pending_us > 0);
    *idem_p = NULL;
    gateway_idem_t *idem = calloc(1, sizeof *idem);
    if (!idem)
        return CRM_ENOMEM;
    idem->ctx = *ctx;
    idem->ttl_us = ttl_us;
    idem->pending_us = pending_us;
    int rc = crm_store_db(ctx->store, GATEWAY_IDEM_DB, &idem->db);
    if (rc == 0)
        rc = crm_store_db(ctx->store, GATEWAY_IDEM_TIME_DB, &idem->time_db);
    if (rc) {
        free(idem);
        return rc;
    }
    *idem_p = idem;
    return 0;
}

void
gateway_idem_destroy(gateway_idem_t **idem_p)
{
    if (!idem_p || !*idem_p)
        return;
    free(*idem_p);
    *idem_p = NULL;
}

bool
gateway_idem_key_acceptable(const char *key)
{
    size_t len = key ? strnlen(key, GATEWAY_IDEM_KEY_MAX + 1) : 0;
    if (len == 0 || len > GATEWAY_IDEM_KEY_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (key[i] < ' ' || key[i] > '~')
            return false;
    return true;
}

static void
s_hash_part(crypto_generichash_state *state, const void *data, size_t len)
{
    unsigned char prefix[8];
    crm_bus_seq_encode((uint64_t) len, prefix);
    crypto_generichash_update(state, prefix, sizeof prefix);
    if (len)
        crypto_generichash_update(state, data, len);
}

void
gateway_idem_hash(const char *method, const char *path_and_query, const void *body, size_t len,
                  unsigned char out[GATEWAY_IDEM_HASH_SIZE])
{
    assert(method && path_and_query && (body || len == 0));
    crypto_generichash_state state;
    crypto_generichash_init(&state, NULL, 0, GATEWAY_IDEM_HASH_SIZE);
    s_hash_part(&state, method, strlen(method));
    s_hash_part(&state, path_and_query, strlen(path_and_query));
    s_hash_part(&state, body, len);
    crypto_generichash_final(&state, out, GATEWAY_IDEM_HASH_SIZE);
}

/* The record's key: <key id> 0x00 <key>. Returns its length. */
static size_t
s_key(const char *key_id, const char *key, unsigned char out[S_KEY_MAX])
{
    size_t id_len = strlen(key_id);
    size_t key_len = strlen(key);
    assert(id_len <= CRM_ID_LEN && key_len <= GATEWAY_IDEM_KEY_MAX);
    memcpy(out, key_id, id_len);
    out[id_len] = 0;
    memcpy(out + id_len + 1, key, key_len);
    return id_len + 1 + key_len;
}

static size_t
s_time_key(int64_t created_us, const unsigned char *key, size_t key_len,
           unsigned char out[S_TIME_KEY_MAX])
{
    crm_bus_seq_encode((uint64_t) created_us, out);
    memcpy(out + 8, key, key_len);
    return 8 + key_len;
}

static int64_t
s_record_us(const Crm__V1__IdempotencyRecord *record)
{
    if (!record->created_at)
        return 0;
    return record->created_at->seconds * CRM_TIME_US_PER_SECOND + record->created_at->nanos / 1000;
}

static int
s_decode(const crm_val_t *val, Crm__V1__IdempotencyRecord **record_p)
{
    ProtobufCMessage *msg = NULL;
    int rc = crm_codec_msgpack_decode(&crm__v1__idempotency_record__descriptor, val->data,
                                      val->size, &msg, NULL);
    if (rc)
        return rc == CRM_ENOMEM ? rc : CRM_ESTORE;
    *record_p = (Crm__V1__IdempotencyRecord *) msg;
    return 0;
}

/* Puts record under key (and its time entry). */
static int
s_put(gateway_idem_t *idem, crm_txn_t *txn, const unsigned char *key, size_t key_len,
      const Crm__V1__IdempotencyRecord *record, bool with_time_entry)
{
    void *packed = NULL;
    size_t packed_len = 0;
    int rc = crm_codec_msgpack_encode(&record->base, &packed, &packed_len);
    if (rc == 0)
        rc = crm_store_put(txn, idem->db, key, key_len, packed, packed_len, 0);
    free(packed);
    if (rc == 0 && with_time_entry) {
        unsigned char time_key[S_TIME_KEY_MAX];
        size_t time_len = s_time_key(s_record_us(record), key, key_len, time_key);
        rc = crm_store_put(txn, idem->time_db, time_key, time_len, "", 0, 0);
    }
    return rc;
}

/* Deletes the entry under key and its time entry. */
static int
s_delete(gateway_idem_t *idem, crm_txn_t *txn, const unsigned char *key, size_t key_len,
         int64_t created_us)
{
    unsigned char time_key[S_TIME_KEY_MAX];
    size_t time_len = s_time_key(created_us, key, key_len, time_key);
    int rc = crm_store_del(txn, idem->time_db, time_key, time_len);
    if (rc == 0 || rc == CRM_ENOTFOUND)
        rc = crm_store_del(txn, idem->db, key, key_len);
    return rc == CRM_ENOTFOUND ? 0 : rc;
}

typedef struct {
    gateway_idem_t *idem;
    const char *key_id;
    const char *key;
    const unsigned char *hash;
    int64_t now_us;
    const gateway_answer_t *answer;       /* finish */
    gateway_idem_outcome_t outcome;       /* begin */
    gateway_answer_t *stored;
} s_job_t;

static int
s_copy_answer(const Crm__V1__IdempotencyRecord *record, gateway_answer_t *answer)
{
    gateway_answer_clear(answer);
    int rc = gateway_answer_text(answer, record->status, record->content_type,
                                 (const char *) record->body.data, record->body.len);
    if (rc)
        return rc;
    snprintf(answer->etag, sizeof answer->etag, "%s", record->etag);
    snprintf(answer->location, sizeof answer->location, "%s", record->location);
    answer->replayed = true;
    return 0;
}

static int
s_begin_txn(crm_txn_t *txn, void *arg)
{
    s_job_t *job = arg;
    gateway_idem_t *idem = job->idem;
    unsigned char key[S_KEY_MAX];
    size_t key_len = s_key(job->key_id, job->key, key);
    Crm__V1__IdempotencyRecord *record = NULL;
    gateway_answer_clear(job->stored);
    job->outcome = GATEWAY_IDEM_PROCEED;
    crm_val_t val;
    int rc = crm_store_get(txn, idem->db, key, key_len, &val);
    if (rc == 0) {
        rc = s_decode(&val, &record);
        if (rc)
            goto out;
        int64_t created = s_record_us(record);
        bool expired = created < job->now_us - idem->ttl_us;
        bool abandoned = !record->done && created < job->now_us - idem->pending_us;
        if (!expired && !abandoned) {
            if (record->request_hash.len != GATEWAY_IDEM_HASH_SIZE
                || sodium_memcmp(record->request_hash.data, job->hash, GATEWAY_IDEM_HASH_SIZE) != 0)
                job->outcome = GATEWAY_IDEM_MISMATCH;
            else if (!record->done)
                job->outcome = GATEWAY_IDEM_IN_PROGRESS;
            else {
                job->outcome = GATEWAY_IDEM_REPLAY;
                rc = s_copy_answer(record, job->stored);
            }
            goto out;
        }
        rc = s_delete(idem, txn, key, key_len, created);
        if (rc)
            goto out;
    } else if (rc != CRM_ENOTFOUND) {
        goto out;
    }
    Crm__V1__Timestamp now = CRM__V1__TIMESTAMP__INIT;
    now.seconds = job->now_us / CRM_TIME_US_PER_SECOND;
    now.nanos = (int32_t) (job->now_us % CRM_TIME_US_PER_SECOND) * 1000;
    Crm__V1__IdempotencyRecord fresh = CRM__V1__IDEMPOTENCY_RECORD__INIT;
    fresh.request_hash.data = (uint8_t *) job->hash;
    fresh.request_hash.len = GATEWAY_IDEM_HASH_SIZE;
    fresh.created_at = &now;
    rc = s_put(idem, txn, key, key_len, &fresh, true);
out:
    crm_codec_message_free((ProtobufCMessage **) &record);
    return rc;
}

int
gateway_idem_begin(gateway_idem_t *idem, const char *key_id, const char *key,
                   const unsigned char hash[GATEWAY_IDEM_HASH_SIZE], int64_t now_us,
                   gateway_idem_outcome_t *outcome, gateway_answer_t *stored)
{
    assert(idem && key_id && hash && outcome && stored);
    if (!gateway_idem_key_acceptable(key) || strlen(key_id) > CRM_ID_LEN)
        return CRM_EINVALID;
    s_job_t job = { .idem = idem, .key_id = key_id, .key = key, .hash = hash, .now_us = now_us,
                    .stored = stored };
    int rc = gateway_ctx_write(&idem->ctx, s_begin_txn, &job);
    if (rc) {
        gateway_answer_clear(stored);
        return rc;
    }
    *outcome = job.outcome;
    return 0;
}

static int
s_finish_txn(crm_txn_t *txn, void *arg)
{
    s_job_t *job = arg;
    gateway_idem_t *idem = job->idem;
    unsigned char key[S_KEY_MAX];
    size_t key_len = s_key(job->key_id, job->key, key);
    Crm__V1__IdempotencyRecord *record = NULL;
    crm_val_t val;
    int rc = crm_store_get(txn, idem->db, key, key_len, &val);
    if (rc == CRM_ENOTFOUND)
        return 0;     /* purged or taken over meanwhile: nothing to keep */
    if (rc == 0)
        rc = s_decode(&val, &record);
    if (rc)
        goto out;
    if (record->done || record->request_hash.len != GATEWAY_IDEM_HASH_SIZE
        || sodium_memcmp(record->request_hash.data, job->hash, GATEWAY_IDEM_HASH_SIZE) != 0)
        goto out;     /* not our reservation any more */
    const gateway_answer_t *answer = job->answer;
    if (answer->status >= 500) {
        rc = s_delete(idem, txn, key, key_len, s_record_us(record));
        goto out;
    }
    Crm__V1__IdempotencyRecord done = *record;
    done.done = true;
    done.status = answer->status;
    done.content_type = (char *) answer->content_type;
    done.etag = (char *) answer->etag;
    done.location = (char *) answer->location;
    done.body.data = (uint8_t *) answer->body;
    done.body.len = answer->body ? answer->body_len : 0;
    rc = s_put(idem, txn, key, key_len, &done, false);
out:
    crm_codec_message_free((ProtobufCMessage **) &record);
    return rc;
}

int
gateway_idem_finish(gateway_idem_t *idem, const char *key_id, const char *key,
                    const unsigned char hash[GATEWAY_IDEM_HASH_SIZE],
                    const gateway_answer_t *answer)
{
    assert(idem && key_id && hash && answer);
    if (!gateway_idem_key_acceptable(key) || strlen(key_id) > CRM_ID_LEN)
        return CRM_EINVALID;
    s_job_t job = { .idem = idem, .key_id = key_id, .key = key, .hash = hash, .answer = answer };
    return gateway_ctx_write(&idem->ctx, s_finish_txn, &job);
}

typedef struct {
    gateway_idem_t *idem;
    int64_t cutoff_us;
    size_t purged;
} s_purge_job_t;

static int
s_purge_txn(crm_txn_t *txn, void *arg)
{
    s_purge_job_t *job = arg;
    gateway_idem_t *idem = job->idem;
    job->purged = 0;
    crm_cursor_t *cursor = NULL;
    int rc = crm_cursor_open(txn, idem->time_db, &cursor);
    crm_val_t k;
    if (rc == 0)
        rc = crm_cursor_first(cursor, &k, NULL);
    while (rc == 0 && job->purged < GATEWAY_IDEM_PURGE_MAX) {
        if (k.size <= 8 || k.size > S_TIME_KEY_MAX) {
            rc = CRM_ESTORE;
            break;
        }
        if ((int64_t) crm_bus_seq_decode(k.data) >= job->cutoff_us)
            break;
        unsigned char key[S_KEY_MAX];
        size_t key_len = k.size - 8;
        memcpy(key, (const unsigned char *) k.data + 8, key_len);
        rc = crm_cursor_del(cursor);
        if (rc == 0) {
            rc = crm_store_del(txn, idem->db, key, key_len);
            if (rc == CRM_ENOTFOUND)
                rc = 0;
        }
        if (rc == 0) {
            job->purged++;
            rc = crm_cursor_next(cursor, &k, NULL);
        }
    }
    crm_cursor_close(&cursor);
    return rc == CRM_ENOTFOUND ? 0 : rc;
}

int
gateway_idem_purge(gateway_idem_t *idem, int64_t now_us, size_t *purged)
{
    assert(idem);
    s_purge_job_t job = { .idem = idem, .cutoff_us = now_us - idem->ttl_us };
    int rc = gateway_ctx_write(&idem->ctx, s_purge_txn, &job);
    if (purged)
        *purged = rc == 0 ? job.purged : 0;
    return rc;
}
