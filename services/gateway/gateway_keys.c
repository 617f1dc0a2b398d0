/* gateway_keys.c: API keys: making secrets, hashing them, storing, listing and revoking keys. */
#include "gateway_keys.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crm_codec.h"
#include "crm_error.h"
#include "crm_event.h"
#include "crm_time.h"

/* The key_hashes value: the role in one byte, then the key id. */
#define S_INDEX_SIZE (1 + CRM_ID_LEN)

struct gateway_keys {
    gateway_ctx_t ctx;
    crm_db_t keys_db;
    crm_db_t hashes_db;
    crm_db_t meta_db;
    unsigned char install_secret[GATEWAY_KEY_INSTALL_SECRET_SIZE];
};

static void
s_hash(const gateway_keys_t *keys, const char *secret, size_t len,
       unsigned char out[GATEWAY_KEY_HASH_SIZE])
{
    crypto_generichash(out, GATEWAY_KEY_HASH_SIZE, (const unsigned char *) secret, len,
                       keys->install_secret, sizeof keys->install_secret);
}

static void
s_now(Crm__V1__Timestamp *ts)
{
    int64_t us = crm_time_now_us();
    ts->seconds = us / CRM_TIME_US_PER_SECOND;
    ts->nanos = (int32_t) (us % CRM_TIME_US_PER_SECOND) * 1000;
}

/* --- Opening: the per-install hashing key. */

typedef struct {
    gateway_keys_t *keys;
    unsigned char fresh[GATEWAY_KEY_INSTALL_SECRET_SIZE];
} s_secret_job_t;

static int
s_install_secret_txn(crm_txn_t *txn, void *arg)
{
    s_secret_job_t *job = arg;
    gateway_keys_t *keys = job->keys;
    crm_val_t val;
    int rc = crm_store_get(txn, keys->meta_db, GATEWAY_META_HASH_SECRET,
                           strlen(GATEWAY_META_HASH_SECRET), &val);
    if (rc == 0) {
        if (val.size != sizeof keys->install_secret)
            return CRM_ESTORE;
        memcpy(keys->install_secret, val.data, val.size);
        return 0;
    }
    if (rc != CRM_ENOTFOUND)
        return rc;
    memcpy(keys->install_secret, job->fresh, sizeof job->fresh);
    return crm_store_put(txn, keys->meta_db, GATEWAY_META_HASH_SECRET,
                         strlen(GATEWAY_META_HASH_SECRET), job->fresh, sizeof job->fresh,
                         CRM_STORE_NOOVERWRITE);
}

int
gateway_keys_new(const gateway_ctx_t *ctx, gateway_keys_t **keys_p)
{
    assert(ctx && ctx->store && ctx->outbox && ctx->ids && ctx->write && keys_p);
    *keys_p = NULL;
    if (sodium_init() < 0)
        return CRM_EIO;
    gateway_keys_t *keys = calloc(1, sizeof *keys);
    if (!keys)
        return CRM_ENOMEM;
    keys->ctx = *ctx;
    s_secret_job_t job = { .keys = keys };
    randombytes_buf(job.fresh, sizeof job.fresh);
    int rc = crm_store_db(ctx->store, GATEWAY_KEYS_DB, &keys->keys_db);
    if (rc == 0)
        rc = crm_store_db(ctx->store, GATEWAY_KEY_HASHES_DB, &keys->hashes_db);
    if (rc == 0)
        rc = crm_store_db(ctx->store, GATEWAY_META_DB, &keys->meta_db);
    if (rc == 0)
        rc = gateway_ctx_write(ctx, s_install_secret_txn, &job);
    sodium_memzero(job.fresh, sizeof job.fresh);
    if (rc) {
        gateway_keys_destroy(&keys);
        return rc;
    }
    *keys_p = keys;
    return 0;
}

void
gateway_keys_destroy(gateway_keys_t **keys_p)
{
    if (!keys_p || !*keys_p)
        return;
    sodium_memzero((*keys_p)->install_secret, sizeof (*keys_p)->install_secret);
    free(*keys_p);
    *keys_p = NULL;
}

bool
gateway_keys_secret_acceptable(const char *secret)
{
    if (!secret)
        return false;
    size_t len = strnlen(secret, GATEWAY_KEY_SECRET_MAX + 1);
    if (len < GATEWAY_KEY_SECRET_MIN || len > GATEWAY_KEY_SECRET_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (secret[i] <= ' ' || secret[i] > '~')
            return false;
    return true;
}

/* --- Checking a key. */

int
gateway_keys_authenticate(gateway_keys_t *keys, const char *secret, size_t len,
                          gateway_caller_t *caller)
{
    assert(keys && secret && caller);
    if (len == 0 || len > GATEWAY_KEY_SECRET_MAX)
        return CRM_ENOTFOUND;
    unsigned char hash[GATEWAY_KEY_HASH_SIZE];
    s_hash(keys, secret, len, hash);
    crm_txn_t *txn = NULL;
    int rc = crm_store_read_begin(keys->ctx.store, &txn);
    if (rc)
        return rc;
    crm_val_t val;
    rc = crm_store_get(txn, keys->hashes_db, hash, sizeof hash, &val);
    if (rc == 0 && val.size != S_INDEX_SIZE)
        rc = CRM_ESTORE;
    if (rc == 0) {
        const unsigned char *v = val.data;
        caller->role = (Crm__V1__Role) v[0];
        memcpy(caller->id, v + 1, CRM_ID_LEN);
        caller->id[CRM_ID_LEN] = '\0';
    }
    crm_store_txn_end(&txn);
    return rc;
}

/* --- Making a key. */

typedef struct {
    gateway_keys_t *keys;
    bool only_if_none;
    unsigned char hash[GATEWAY_KEY_HASH_SIZE];
    unsigned char index[S_INDEX_SIZE];
    const char *id;
    void *record;                 /* the packed ApiKeyRecord */
    size_t record_len;
    const ProtobufCMessage *audit;
} s_create_job_t;

static int
s_audit(gateway_keys_t *keys, crm_txn_t *txn, const char *topic, const ProtobufCMessage *audit,
        const char *subject)
{
    crm_event_spec_t spec = {
        .source = keys->ctx.source, .type = topic, .subject = subject, .data = audit,
    };
    return crm_event_append(keys->ctx.outbox, txn, keys->ctx.ids, &spec, NULL);
}

static int
s_create_txn(crm_txn_t *txn, void *arg)
{
    s_create_job_t *job = arg;
    gateway_keys_t *keys = job->keys;
    int rc;
    if (job->only_if_none) {
        uint64_t count = 0;
        rc = crm_store_count(txn, keys->keys_db, &count);
        if (rc)
            return rc;
        if (count > 0)
            return CRM_EEXISTS;
    }
    rc = crm_store_put(txn, keys->hashes_db, job->hash, sizeof job->hash, job->index,
                       sizeof job->index, CRM_STORE_NOOVERWRITE);
    if (rc == 0)
        rc = crm_store_put(txn, keys->keys_db, job->id, strlen(job->id), job->record,
                           job->record_len, CRM_STORE_NOOVERWRITE);
    if (rc == 0)
        rc = s_audit(keys, txn, GATEWAY_KEY_TOPIC_CREATED, job->audit, NULL);
    return rc;
}

static bool
s_name_acceptable(const char *name)
{
    size_t len = name ? strnlen(name, GATEWAY_KEY_NAME_MAX + 1) : 0;
    if (len == 0 || len > GATEWAY_KEY_NAME_MAX || !crm_codec_utf8_valid(name, len))
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char) name[i] < ' ' || name[i] == 0x7f)
            return false;
    return true;
}

static bool
s_role_acceptable(Crm__V1__Role role)
{
    return role == CRM__V1__ROLE__ROLE_ADMIN || role == CRM__V1__ROLE__ROLE_AGENT
           || role == CRM__V1__ROLE__ROLE_ANALYST || role == CRM__V1__ROLE__ROLE_INTEGRATOR;
}

/* Draws a new secret: the prefix and 43 base64url characters. */
static void
s_draw_secret(char out[GATEWAY_KEY_SECRET_SIZE])
{
    unsigned char random[GATEWAY_KEY_RANDOM_BYTES];
    randombytes_buf(random, sizeof random);
    size_t prefix = strlen(GATEWAY_KEY_SECRET_PREFIX);
    memcpy(out, GATEWAY_KEY_SECRET_PREFIX, prefix);
    sodium_bin2base64(out + prefix, GATEWAY_KEY_SECRET_SIZE - prefix, random, sizeof random,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(random, sizeof random);
}

int
gateway_keys_create(gateway_keys_t *keys, const char *name, Crm__V1__Role role,
                    const char *actor, const char *secret, bool only_if_none,
                    char secret_out[GATEWAY_KEY_SECRET_SIZE], Crm__V1__ApiKey **key_p)
{
    assert(keys && secret_out);
    secret_out[0] = '\0';
    if (key_p)
        *key_p = NULL;
    if (!s_name_acceptable(name) || !s_role_acceptable(role)
        || (secret && !gateway_keys_secret_acceptable(secret)))
        return CRM_EINVALID;
    char drawn[GATEWAY_KEY_SECRET_SIZE];
    if (!secret) {
        s_draw_secret(drawn);
        secret = drawn;
    }
    char id[CRM_ID_SIZE];
    int rc = crm_id_next(keys->ctx.ids, id);
    if (rc)
        return rc;

    char prefix[GATEWAY_KEY_SHOWN_PREFIX + 1];
    snprintf(prefix, sizeof prefix, "%s", secret);
    Crm__V1__Timestamp created = CRM__V1__TIMESTAMP__INIT;
    s_now(&created);
    Crm__V1__ApiKey key = CRM__V1__API_KEY__INIT;
    key.id = id;
    key.name = (char *) name;
    key.role = role;
    key.prefix = prefix;
    key.created_at = &created;
    key.created_by = (char *) (actor ? actor : "");
    s_create_job_t job = { .keys = keys, .only_if_none = only_if_none, .id = id };
    s_hash(keys, secret, strlen(secret), job.hash);
    job.index[0] = (unsigned char) role;
    memcpy(job.index + 1, id, CRM_ID_LEN);
    Crm__V1__ApiKeyRecord record = CRM__V1__API_KEY_RECORD__INIT;
    record.key = &key;
    record.secret_hash.data = job.hash;
    record.secret_hash.len = sizeof job.hash;
    Crm__V1__KeyChanged audit = CRM__V1__KEY_CHANGED__INIT;
    audit.key = &key;
    audit.actor_key_id = key.created_by;
    job.audit = &audit.base;
    rc = crm_codec_msgpack_encode(&record.base, &job.record, &job.record_len);
    if (rc == 0)
        rc = gateway_ctx_write(&keys->ctx, s_create_txn, &job);
    if (rc == 0 && key_p) {
        ProtobufCMessage *copy = NULL;
        Crm__V1__ApiKeyRecord *stored = NULL;
        rc = crm_codec_msgpack_decode(&crm__v1__api_key_record__descriptor, job.record,
                                      job.record_len, (ProtobufCMessage **) &stored, NULL);
        if (rc == 0) {
            copy = &stored->key->base;
            stored->key = NULL;
            crm_codec_message_free((ProtobufCMessage **) &stored);
            *key_p = (Crm__V1__ApiKey *) copy;
        }
    }
    if (rc == 0)
        snprintf(secret_out, GATEWAY_KEY_SECRET_SIZE, "%s", secret);
    free(job.record);
    sodium_memzero(drawn, sizeof drawn);
    return rc;
}

/* --- Reading keys. */

/* Decodes one stored record. Returns 0 with *record_p (caller frees) or CRM_ESTORE. */
static int
s_record_decode(const crm_val_t *val, Crm__V1__ApiKeyRecord **record_p)
{
    ProtobufCMessage *msg = NULL;
    int rc = crm_codec_msgpack_decode(&crm__v1__api_key_record__descriptor, val->data, val->size,
                                      &msg, NULL);
    if (rc == CRM_ENOMEM)
        return rc;
    if (rc || !((Crm__V1__ApiKeyRecord *) msg)->key) {
        crm_codec_message_free(&msg);
        return CRM_ESTORE;
    }
    *record_p = (Crm__V1__ApiKeyRecord *) msg;
    return 0;
}

static bool
s_valid_admin(const Crm__V1__ApiKey *key)
{
    return key->role == CRM__V1__ROLE__ROLE_ADMIN && !key->revoked_at;
}

/* Counts the valid admin keys in txn. */
static int
s_count_admins(gateway_keys_t *keys, crm_txn_t *txn, uint64_t *admins)
{
    *admins = 0;
    crm_cursor_t *cursor = NULL;
    int rc = crm_cursor_open(txn, keys->keys_db, &cursor);
    crm_val_t k, v;
    while (rc == 0 && (rc = crm_cursor_next(cursor, &k, &v)) == 0) {
        Crm__V1__ApiKeyRecord *record = NULL;
        rc = s_record_decode(&v, &record);
        if (rc == 0 && s_valid_admin(record->key))
            (*admins)++;
        crm_codec_message_free((ProtobufCMessage **) &record);
    }
    crm_cursor_close(&cursor);
    return rc == CRM_ENOTFOUND ? 0 : rc;
}

int
gateway_keys_count(gateway_keys_t *keys, uint64_t *total, uint64_t *valid_admins)
{
    assert(keys && total);
    crm_txn_t *txn = NULL;
    int rc = crm_store_read_begin(keys->ctx.store, &txn);
    if (rc == 0)
        rc = crm_store_count(txn, keys->keys_db, total);
    if (rc == 0 && valid_admins)
        rc = s_count_admins(keys, txn, valid_admins);
    crm_store_txn_end(&txn);
    return rc;
}

int
gateway_keys_list(gateway_keys_t *keys, Crm__V1__ListKeysReply **reply_p)
{
    assert(keys && reply_p);
    *reply_p = NULL;
    ProtobufCMessage *msg = NULL;
    crm_txn_t *txn = NULL;
    crm_cursor_t *cursor = NULL;
    uint64_t count = 0;
    int rc = crm_codec_message_new(&crm__v1__list_keys_reply__descriptor, &msg);
    if (rc == 0)
        rc = crm_store_read_begin(keys->ctx.store, &txn);
    if (rc == 0)
        rc = crm_store_count(txn, keys->keys_db, &count);
    const ProtobufCFieldDescriptor *field =
        protobuf_c_message_descriptor_get_field_by_name(&crm__v1__list_keys_reply__descriptor, "keys");
    assert(field);
    if (rc == 0 && count)
        rc = crm_codec_repeated_alloc(msg, field, (size_t) count);
    if (rc == 0)
        rc = crm_cursor_open(txn, keys->keys_db, &cursor);
    Crm__V1__ListKeysReply *reply = (Crm__V1__ListKeysReply *) msg;
    crm_val_t k, v;
    while (rc == 0 && reply->n_keys < count && (rc = crm_cursor_next(cursor, &k, &v)) == 0) {
        Crm__V1__ApiKeyRecord *record = NULL;
        rc = s_record_decode(&v, &record);
        if (rc == 0) {
            reply->keys[reply->n_keys++] = record->key;
            record->key = NULL;
        }
        crm_codec_message_free((ProtobufCMessage **) &record);
    }
    if (rc == CRM_ENOTFOUND)
        rc = 0;
    crm_cursor_close(&cursor);
    crm_store_txn_end(&txn);
    if (rc)
        crm_codec_message_free(&msg);
    else
        *reply_p = reply;
    return rc;
}

/* --- Revoking. */

typedef struct {
    gateway_keys_t *keys;
    const char *id;
    const char *actor;
    Crm__V1__ApiKey *after;       /* made by the last run of the body */
} s_revoke_job_t;

static int
s_revoke_txn(crm_txn_t *txn, void *arg)
{
    s_revoke_job_t *job = arg;
    gateway_keys_t *keys = job->keys;
    crm_codec_message_free((ProtobufCMessage **) &job->after);
    Crm__V1__ApiKeyRecord *record = NULL;
    void *packed = NULL;
    size_t packed_len = 0;
    Crm__V1__Timestamp now = CRM__V1__TIMESTAMP__INIT;
    crm_val_t val;
    int rc = crm_store_get(txn, keys->keys_db, job->id, strlen(job->id), &val);
    if (rc == 0)
        rc = s_record_decode(&val, &record);
    if (rc)
        goto out;
    if (!record->key->revoked_at) {
        if (record->key->role == CRM__V1__ROLE__ROLE_ADMIN) {
            uint64_t admins = 0;
            rc = s_count_admins(keys, txn, &admins);
            if (rc == 0 && admins <= 1)
                rc = CRM_ECONFLICT;
            if (rc)
                goto out;
        }
        s_now(&now);
        record->key->revoked_at = &now;
        rc = crm_codec_msgpack_encode(&record->base, &packed, &packed_len);
        if (rc == 0)
            rc = crm_store_put(txn, keys->keys_db, job->id, strlen(job->id), packed, packed_len, 0);
        if (rc == 0) {
            rc = crm_store_del(txn, keys->hashes_db, record->secret_hash.data,
                               record->secret_hash.len);
            if (rc == CRM_ENOTFOUND)
                rc = 0;
        }
        if (rc == 0) {
            Crm__V1__KeyChanged audit = CRM__V1__KEY_CHANGED__INIT;
            audit.key = record->key;
            audit.actor_key_id = (char *) (job->actor ? job->actor : "");
            rc = s_audit(keys, txn, GATEWAY_KEY_TOPIC_REVOKED, &audit.base, NULL);
        }
        record->key->revoked_at = NULL;   /* it points at the stack: not the record's to free */
        if (rc)
            goto out;
        Crm__V1__ApiKeyRecord *after = NULL;
        crm_val_t packed_val = { .data = packed, .size = packed_len };
        rc = s_record_decode(&packed_val, &after);
        if (rc == 0) {
            job->after = after->key;
            after->key = NULL;
            crm_codec_message_free((ProtobufCMessage **) &after);
        }
    } else {
        job->after = record->key;
        record->key = NULL;
    }
out:
    free(packed);
    crm_codec_message_free((ProtobufCMessage **) &record);
    return rc;
}

int
gateway_keys_revoke(gateway_keys_t *keys, const char *id, const char *actor,
                    Crm__V1__ApiKey **key_p)
{
    assert(keys && id);
    if (key_p)
        *key_p = NULL;
    if (!crm_id_valid(id))
        return CRM_ENOTFOUND;
    s_revoke_job_t job = { .keys = keys, .id = id, .actor = actor };
    int rc = gateway_ctx_write(&keys->ctx, s_revoke_txn, &job);
    if (rc == 0 && key_p) {
        *key_p = job.after;
        job.after = NULL;
    }
    crm_codec_message_free((ProtobufCMessage **) &job.after);
    return rc;
}
