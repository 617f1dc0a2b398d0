/* notifier_record.c: the notifier's records and their key layout in LMDB. */
#include "notifier_record.h"

#include <assert.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crm_codec.h"
#include "crm_error.h"

#define S_SIGN_BIT (UINT64_C(1) << 63)

int notifier_record_open(crm_store_t *store, notifier_db_t *db)
{
    struct {
        const char *name;
        crm_db_t *db;
    } const dbs[] = {
        { NOTIFIER_DB_RULES, &db->rules },
        { NOTIFIER_DB_TEMPLATES, &db->templates },
        { NOTIFIER_DB_STAFF, &db->staff },
        { NOTIFIER_DB_WEBHOOKS, &db->webhooks },
        { NOTIFIER_DB_CUSTOMERS, &db->customers },
        { NOTIFIER_DB_CALENDAR, &db->calendar },
        { NOTIFIER_DB_DELIVERIES, &db->deliveries },
        { NOTIFIER_DB_DUE, &db->due },
        { NOTIFIER_DB_INFLIGHT, &db->inflight },
        { NOTIFIER_DB_DEDUP, &db->dedup },
        { NOTIFIER_DB_BY_CUSTOMER, &db->by_customer },
        { NOTIFIER_DB_BY_RULE, &db->by_rule },
        { NOTIFIER_DB_DEAD, &db->dead },
        { NOTIFIER_DB_COUNTERS, &db->counters },
        { NOTIFIER_DB_DIGESTS, &db->digests },
        { NOTIFIER_DB_DIGEST_DUE, &db->digest_due },
        { NOTIFIER_DB_REMINDERS, &db->reminders },
        { NOTIFIER_DB_REMINDER_DUE, &db->reminder_due },
        { NOTIFIER_DB_CUSTOMER_REMINDERS, &db->customer_reminders },
        { NOTIFIER_DB_REMINDER_REQUESTS, &db->reminder_requests },
        { NOTIFIER_DB_INBOX, &db->inbox },
        { NOTIFIER_DB_PARKED, &db->parked },
        { NOTIFIER_DB_PARKED_TIME, &db->parked_time },
        { NOTIFIER_DB_META, &db->meta },
    };
    for (size_t i = 0; i < sizeof dbs / sizeof dbs[0]; i++) {
        int rc = crm_store_db(store, dbs[i].name, dbs[i].db);
        if (rc)
            return rc;
    }
    return 0;
}

/* --- Keys */

void notifier_key_reset(notifier_key_t *k)
{
    k->len = 0;
    k->overflow = false;
}

static void s_key_bytes(notifier_key_t *k, const void *data, size_t n)
{
    if (k->overflow || k->len + n > NOTIFIER_KEY_MAX) {
        k->overflow = true;
        return;
    }
    memcpy(k->data + k->len, data, n);
    k->len += n;
}

void notifier_key_str(notifier_key_t *k, const char *s)
{
    s_key_bytes(k, s, strlen(s));
}

void notifier_key_nul(notifier_key_t *k)
{
    s_key_bytes(k, "", 1);
}

void notifier_key_time(notifier_key_t *k, int64_t us)
{
    uint64_t n = (uint64_t) us ^ S_SIGN_BIT;
    uint8_t b[NOTIFIER_TIME_KEY_LEN];
    for (int i = NOTIFIER_TIME_KEY_LEN - 1; i >= 0; i--) {
        b[i] = (uint8_t) (n & 0xff);
        n >>= 8;
    }
    s_key_bytes(k, b, sizeof b);
}

void notifier_key_day(notifier_key_t *k, int64_t day)
{
    uint32_t n = (uint32_t) day;
    uint8_t b[NOTIFIER_DAY_KEY_LEN] = { (uint8_t) (n >> 24), (uint8_t) (n >> 16), (uint8_t) (n >> 8), (uint8_t) n };
    s_key_bytes(k, b, sizeof b);
}

int64_t notifier_key_time_read(const uint8_t in[NOTIFIER_TIME_KEY_LEN])
{
    uint64_t n = 0;
    for (int i = 0; i < NOTIFIER_TIME_KEY_LEN; i++)
        n = (n << 8) | in[i];
    return (int64_t) (n ^ S_SIGN_BIT);
}

/* --- Timestamps */

int64_t notifier_ts_us(const Crm__V1__Timestamp *ts)
{
    if (!ts)
        return 0;
    return ts->seconds * 1000000 + ts->nanos / 1000;
}

Crm__V1__Timestamp *notifier_ts_set(Crm__V1__Timestamp *ts, int64_t us)
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

/* --- Records */

int notifier_record_get(crm_txn_t *txn, crm_db_t db, const void *key, size_t key_len,
                        const ProtobufCMessageDescriptor *desc, ProtobufCMessage **msg_p)
{
    crm_val_t val;
    int rc = crm_store_get(txn, db, key, key_len, &val);
    if (rc)
        return rc;
    return crm_codec_msgpack_decode(desc, val.data, val.size, msg_p, NULL);
}

int notifier_record_put(crm_txn_t *txn, crm_db_t db, const void *key, size_t key_len,
                        const ProtobufCMessage *msg)
{
    void *buf = NULL;
    size_t len = 0;
    int rc = crm_codec_msgpack_encode(msg, &buf, &len);
    if (rc)
        return rc;
    rc = crm_store_put(txn, db, key, key_len, buf, len, 0);
    free(buf);
    return rc;
}

int notifier_index_put(crm_txn_t *txn, crm_db_t db, const void *key, size_t key_len)
{
    return crm_store_put(txn, db, key, key_len, "", 0, 0);
}

int notifier_index_del(crm_txn_t *txn, crm_db_t db, const void *key, size_t key_len)
{
    int rc = crm_store_del(txn, db, key, key_len);
    return rc == CRM_ENOTFOUND ? 0 : rc;
}

bool notifier_name_valid(const char *s, bool at_allowed)
{
    size_t len = strlen(s);
    if (len == 0 || len > NOTIFIER_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!(isalnum((unsigned char) c) || c == '.' || c == '_' || c == '-' || (at_allowed && c == '@')))
            return false;
    }
    return true;
}
