/* feedback_record.c: the feedback records, their key layout in LMDB, and editing of decoded messages. */
#include "feedback_record.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crm_codec.h"
#include "crm_error.h"

#define S_SIGN_BIT (UINT64_C(1) << 63)
#define S_HISTORY_FIRST_CAP 8

int feedback_record_open(crm_store_t *store, feedback_db_t *db)
{
    struct {
        const char *name;
        crm_db_t *db;
    } const dbs[] = {
        { FEEDBACK_DB_SURVEYS, &db->surveys },
        { FEEDBACK_DB_INVITATIONS, &db->invitations },
        { FEEDBACK_DB_TOKENS, &db->tokens },
        { FEEDBACK_DB_CUSTOMER_INVITATIONS, &db->customer_invitations },
        { FEEDBACK_DB_ANSWERS, &db->answers },
        { FEEDBACK_DB_CUSTOMER_ANSWERS, &db->customer_answers },
        { FEEDBACK_DB_COMPLAINTS, &db->complaints },
        { FEEDBACK_DB_COMPLAINT_HISTORY, &db->complaint_history },
        { FEEDBACK_DB_CUSTOMER_COMPLAINTS, &db->customer_complaints },
        { FEEDBACK_DB_CAUSES, &db->causes },
        { FEEDBACK_DB_CUSTOMERS, &db->customers },
        { FEEDBACK_DB_TIMERS, &db->timers },
        { FEEDBACK_DB_META, &db->meta },
    };
    for (size_t i = 0; i < sizeof dbs / sizeof dbs[0]; i++) {
        int rc = crm_store_db(store, dbs[i].name, dbs[i].db);
        if (rc)
            return rc;
    }
    return 0;
}

/* --- Keys */

static void s_u64(uint8_t *out, uint64_t n, int len)
{
    for (int i = len - 1; i >= 0; i--) {
        out[i] = (uint8_t) (n & 0xff);
        n >>= 8;
    }
}

void feedback_key_time(uint8_t out[FEEDBACK_TIME_KEY_LEN], int64_t us)
{
    s_u64(out, (uint64_t) us ^ S_SIGN_BIT, FEEDBACK_TIME_KEY_LEN);
}

int64_t feedback_key_time_read(const uint8_t in[FEEDBACK_TIME_KEY_LEN])
{
    uint64_t n = 0;
    for (int i = 0; i < FEEDBACK_TIME_KEY_LEN; i++)
        n = (n << 8) | in[i];
    return (int64_t) (n ^ S_SIGN_BIT);
}

void feedback_key_pair(uint8_t out[FEEDBACK_PAIR_KEY_LEN], const char *a, const char *b)
{
    assert(strlen(a) == CRM_ID_LEN && strlen(b) == CRM_ID_LEN);
    memcpy(out, a, CRM_ID_LEN);
    memcpy(out + CRM_ID_LEN, b, CRM_ID_LEN);
}

void feedback_key_history(uint8_t out[FEEDBACK_HISTORY_KEY_LEN], const char *complaint_id, uint32_t seq)
{
    assert(strlen(complaint_id) == CRM_ID_LEN);
    memcpy(out, complaint_id, CRM_ID_LEN);
    s_u64(out + CRM_ID_LEN, seq, FEEDBACK_SEQ_KEY_LEN);
}

size_t feedback_key_timer(uint8_t out[FEEDBACK_TIMER_KEY_MAX], int64_t due_us, Crm__V1__FeedbackTimer__Kind kind,
                          const char *ref)
{
    size_t ref_len = strlen(ref);
    if (ref_len >= FEEDBACK_CAUSE_MAX)
        return 0;
    feedback_key_time(out, due_us);
    out[FEEDBACK_TIME_KEY_LEN] = (uint8_t) kind;
    memcpy(out + FEEDBACK_TIME_KEY_LEN + 1, ref, ref_len);
    return FEEDBACK_TIME_KEY_LEN + 1 + ref_len;
}

/* --- Records, generically */

int feedback_record_get(crm_txn_t *txn, crm_db_t db, const void *key, size_t key_len,
                        const ProtobufCMessageDescriptor *desc, ProtobufCMessage **msg_p)
{
    crm_val_t v;
    int rc = crm_store_get(txn, db, key, key_len, &v);
    if (rc)
        return rc;
    return crm_codec_msgpack_decode(desc, v.data, v.size, msg_p, NULL);
}

int feedback_record_put(crm_txn_t *txn, crm_db_t db, const void *key, size_t key_len,
                        const ProtobufCMessage *msg)
{
    void *buf = NULL;
    size_t len = 0;
    int rc = crm_codec_msgpack_encode(msg, &buf, &len);
    if (rc == 0)
        rc = crm_store_put(txn, db, key, key_len, buf, len, 0);
    free(buf);
    return rc;
}

int feedback_index_put(crm_txn_t *txn, crm_db_t db, const void *key, size_t key_len)
{
    return crm_store_put(txn, db, key, key_len, "", 0, 0);
}

int feedback_index_del(crm_txn_t *txn, crm_db_t db, const void *key, size_t key_len)
{
    int rc = crm_store_del(txn, db, key, key_len);
    return rc == CRM_ENOTFOUND ? 0 : rc;
}

/* --- Editing decoded messages */

int feedback_str_set(char **field, const char *value)
{
    char *copy = (char *) protobuf_c_empty_string;
    if (value && value[0]) {
        copy = strdup(value);
        if (!copy)
            return CRM_ENOMEM;
    }
    if (*field && *field != protobuf_c_empty_string)
        free(*field);
    *field = copy;
    return 0;
}

int64_t feedback_ts_us(const Crm__V1__Timestamp *ts)
{
    if (!ts)
        return 0;
    return ts->seconds * 1000000 + ts->nanos / 1000;
}

Crm__V1__Timestamp *feedback_ts_fill(Crm__V1__Timestamp *ts, int64_t us)
{
    crm__v1__timestamp__init(ts);
    int64_t seconds = us / 1000000;
    int64_t rest = us % 1000000;
    if (rest < 0) {
        seconds -= 1;
        rest += 1000000;
    }
    ts->seconds = seconds;
    ts->nanos = (int32_t) rest * 1000;
    return ts;
}

int feedback_ts_put(Crm__V1__Timestamp **ts, int64_t us)
{
    if (us == 0) {
        free(*ts);
        *ts = NULL;
        return 0;
    }
    if (!*ts) {
        *ts = malloc(sizeof **ts);
        if (!*ts)
            return CRM_ENOMEM;
    }
    feedback_ts_fill(*ts, us);
    return 0;
}

int feedback_strv_add(char ***v, size_t *n, const char *s)
{
    char *copy = strdup(s);
    char **grown = copy ? realloc(*v, (*n + 1) * sizeof **v) : NULL;
    if (!grown) {
        free(copy);
        return CRM_ENOMEM;
    }
    grown[(*n)++] = copy;
    *v = grown;
    return 0;
}

void feedback_strv_clear(char ***v, size_t *n)
{
    for (size_t i = 0; i < *n; i++)
        if ((*v)[i] != protobuf_c_empty_string)
            free((*v)[i]);
    free(*v);
    *v = NULL;
    *n = 0;
}

int feedback_msg_copy(const ProtobufCMessage *msg, ProtobufCMessage **copy_p)
{
    void *buf = NULL;
    size_t len = 0;
    int rc = crm_codec_pb_encode(msg, &buf, &len);
    if (rc == 0)
        rc = crm_codec_pb_decode(msg->descriptor, buf, len, copy_p, NULL);
    free(buf);
    return rc;
}

/* --- Typed records */

int feedback_complaint_get(const feedback_db_t *db, crm_txn_t *txn, const char *id, Crm__V1__Complaint **out)
{
    if (!crm_id_valid(id))
        return CRM_ENOTFOUND;
    return feedback_record_get(txn, db->complaints, id, CRM_ID_LEN, &crm__v1__complaint__descriptor,
                               (ProtobufCMessage **) out);
}

int feedback_complaint_put(const feedback_db_t *db, crm_txn_t *txn, Crm__V1__Complaint *c)
{
    assert(crm_id_valid(c->id));
    size_t n = c->n_history;
    Crm__V1__ComplaintEntry **history = c->history;
    c->n_history = 0;
    c->history = NULL;
    int rc = feedback_record_put(txn, db->complaints, c->id, CRM_ID_LEN, &c->base);
    c->n_history = n;
    c->history = history;
    return rc;
}

int feedback_complaint_history_load(const feedback_db_t *db, crm_txn_t *txn, Crm__V1__Complaint *c)
{
    for (size_t i = 0; i < c->n_history; i++)
        crm_codec_message_free((ProtobufCMessage **) &c->history[i]);
    free(c->history);
    c->history = NULL;
    c->n_history = 0;
    size_t cap = 0;
    crm_cursor_t *cur = NULL;
    int rc = crm_cursor_open(txn, db->complaint_history, &cur);
    crm_val_t k, v;
    if (rc == 0)
        rc = crm_cursor_seek(cur, c->id, CRM_ID_LEN, &k, &v);
    for (; rc == 0; rc = crm_cursor_next(cur, &k, &v)) {
        if (k.size != FEEDBACK_HISTORY_KEY_LEN || memcmp(k.data, c->id, CRM_ID_LEN) != 0)
            break;
        if (c->n_history == cap) {
            cap = cap ? cap * 2 : S_HISTORY_FIRST_CAP;
            Crm__V1__ComplaintEntry **grown = realloc(c->history, cap * sizeof *grown);
            if (!grown) {
                rc = CRM_ENOMEM;
                break;
            }
            c->history = grown;
        }
        ProtobufCMessage *e = NULL;
        rc = crm_codec_msgpack_decode(&crm__v1__complaint_entry__descriptor, v.data, v.size, &e, NULL);
        if (rc)
            break;
        c->history[c->n_history++] = (Crm__V1__ComplaintEntry *) e;
    }
    crm_cursor_close(&cur);
    return rc == CRM_ENOTFOUND ? 0 : rc;
}

int feedback_invitation_get(const feedback_db_t *db, crm_txn_t *txn, const char *id, Crm__V1__Invitation **out)
{
    if (!crm_id_valid(id))
        return CRM_ENOTFOUND;
    return feedback_record_get(txn, db->invitations, id, CRM_ID_LEN, &crm__v1__invitation__descriptor,
                               (ProtobufCMessage **) out);
}

int feedback_survey_get(const feedback_db_t *db, crm_txn_t *txn, const char *id, Crm__V1__Survey **out)
{
    size_t len = strlen(id);
    if (len == 0 || len > FEEDBACK_NAME_MAX)
        return CRM_ENOTFOUND;
    return feedback_record_get(txn, db->surveys, id, len, &crm__v1__survey__descriptor, (ProtobufCMessage **) out);
}

int feedback_answer_get(const feedback_db_t *db, crm_txn_t *txn, const char *id, Crm__V1__Answer **out)
{
    if (!crm_id_valid(id))
        return CRM_ENOTFOUND;
    return feedback_record_get(txn, db->answers, id, CRM_ID_LEN, &crm__v1__answer__descriptor,
                               (ProtobufCMessage **) out);
}

int feedback_customer_get(const feedback_db_t *db, crm_txn_t *txn, const char *id, Crm__V1__FeedbackCustomer **out)
{
    if (!crm_id_valid(id))
        return CRM_ENOTFOUND;
    return feedback_record_get(txn, db->customers, id, CRM_ID_LEN, &crm__v1__feedback_customer__descriptor,
                               (ProtobufCMessage **) out);
}

int feedback_timer_put(const feedback_db_t *db, crm_txn_t *txn, const Crm__V1__FeedbackTimer *t, const char *ref)
{
    uint8_t key[FEEDBACK_TIMER_KEY_MAX];
    size_t len = feedback_key_timer(key, t->due_us, t->kind, ref);
    if (len == 0)
        return CRM_EINVALID;
    return feedback_record_put(txn, db->timers, key, len, &t->base);
}

int feedback_timer_del(const feedback_db_t *db, crm_txn_t *txn, int64_t due_us, Crm__V1__FeedbackTimer__Kind kind,
                       const char *ref)
{
    uint8_t key[FEEDBACK_TIMER_KEY_MAX];
    size_t len = feedback_key_timer(key, due_us, kind, ref);
    if (len == 0)
        return 0;
    return feedback_index_del(txn, db->timers, key, len);
}

int feedback_cause_get(const feedback_db_t *db, crm_txn_t *txn, const char *cause, char *value)
{
    size_t len = strlen(cause);
    if (len == 0 || len >= FEEDBACK_CAUSE_MAX)
        return CRM_EINVALID;
    crm_val_t v;
    int rc = crm_store_get(txn, db->causes, cause, len, &v);
    if (rc)
        return rc;
    size_t n = v.size < FEEDBACK_CAUSE_MAX - 1 ? v.size : FEEDBACK_CAUSE_MAX - 1;
    memcpy(value, v.data, n);
    value[n] = '\0';
    return 0;
}

int feedback_cause_put(const feedback_db_t *db, crm_txn_t *txn, const char *cause, const char *value)
{
    size_t len = strlen(cause);
    if (len == 0 || len >= FEEDBACK_CAUSE_MAX)
        return CRM_EINVALID;
    return crm_store_put(txn, db->causes, cause, len, value, strlen(value), 0);
}
