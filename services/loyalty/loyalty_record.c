/* loyalty_record.c: the loyalty records and their key layout in LMDB. */
#include "loyalty_record.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crm_codec.h"
#include "crm_error.h"

#define S_SIGN_BIT (UINT64_C(1) << 63)

int loyalty_record_open(crm_store_t *store, loyalty_db_t *db)
{
    struct {
        const char *name;
        crm_db_t *db;
    } const dbs[] = {
        { LOYALTY_DB_ACCOUNTS, &db->accounts },     { LOYALTY_DB_LOTS, &db->lots },
        { LOYALTY_DB_OPEN_LOTS, &db->open_lots },   { LOYALTY_DB_ENTRIES, &db->entries },
        { LOYALTY_DB_LOT_EXPIRY, &db->lot_expiry }, { LOYALTY_DB_LOT_PENDING, &db->lot_pending },
        { LOYALTY_DB_LOT_WARNING, &db->lot_warning }, { LOYALTY_DB_CAUSES, &db->causes },
        { LOYALTY_DB_PURCHASES, &db->purchases },   { LOYALTY_DB_RULES, &db->rules },
        { LOYALTY_DB_RULE_USAGE, &db->rule_usage }, { LOYALTY_DB_COUNTERS, &db->counters },
        { LOYALTY_DB_TIERS, &db->tiers },           { LOYALTY_DB_BADGES, &db->badges },
        { LOYALTY_DB_CALENDAR, &db->calendar },     { LOYALTY_DB_REWARDS, &db->rewards },
        { LOYALTY_DB_REDEMPTIONS, &db->redemptions }, { LOYALTY_DB_CODES, &db->codes },
        { LOYALTY_DB_CUSTOMER_REDEMPTIONS, &db->customer_redemptions },
        { LOYALTY_DB_AUDIT, &db->audit },           { LOYALTY_DB_META, &db->meta },
    };
    for (size_t i = 0; i < sizeof dbs / sizeof dbs[0]; i++) {
        int rc = crm_store_db(store, dbs[i].name, dbs[i].db);
        if (rc)
            return rc;
    }
    return 0;
}

/* --- Keys */

void loyalty_key_u64(uint8_t out[LOYALTY_NUMBER_KEY_LEN], uint64_t n)
{
    for (int i = LOYALTY_NUMBER_KEY_LEN - 1; i >= 0; i--) {
        out[i] = (uint8_t) (n & 0xff);
        n >>= 8;
    }
}

uint64_t loyalty_key_u64_read(const uint8_t in[LOYALTY_NUMBER_KEY_LEN])
{
    uint64_t n = 0;
    for (int i = 0; i < LOYALTY_NUMBER_KEY_LEN; i++)
        n = (n << 8) | in[i];
    return n;
}

void loyalty_key_time(uint8_t out[LOYALTY_TIME_KEY_LEN], int64_t us)
{
    loyalty_key_u64(out, (uint64_t) us ^ S_SIGN_BIT);
}

int64_t loyalty_key_time_read(const uint8_t in[LOYALTY_TIME_KEY_LEN])
{
    return (int64_t) (loyalty_key_u64_read(in) ^ S_SIGN_BIT);
}

void loyalty_key_lot(uint8_t out[LOYALTY_LOT_KEY_LEN], const char *customer_id, uint64_t number)
{
    assert(strlen(customer_id) == CRM_ID_LEN);
    memcpy(out, customer_id, CRM_ID_LEN);
    loyalty_key_u64(out + CRM_ID_LEN, number);
}

void loyalty_key_index(uint8_t out[LOYALTY_INDEX_KEY_LEN], int64_t us, const char *customer_id,
                       uint64_t lot)
{
    loyalty_key_time(out, us);
    loyalty_key_lot(out + LOYALTY_TIME_KEY_LEN, customer_id, lot);
}

int loyalty_key_index_read(const crm_val_t *key, int64_t *us, char customer_out[CRM_ID_SIZE],
                           uint64_t *lot)
{
    if (key->size != LOYALTY_INDEX_KEY_LEN)
        return CRM_EINVALID;
    const uint8_t *k = key->data;
    *us = loyalty_key_time_read(k);
    memcpy(customer_out, k + LOYALTY_TIME_KEY_LEN, CRM_ID_LEN);
    customer_out[CRM_ID_LEN] = '\0';
    *lot = loyalty_key_u64_read(k + LOYALTY_TIME_KEY_LEN + CRM_ID_LEN);
    return 0;
}

/* --- Timestamps */

int64_t loyalty_ts_us(const Crm__V1__Timestamp *ts)
{
    if (!ts)
        return 0;
    return ts->seconds * 1000000 + ts->nanos / 1000;
}

Crm__V1__Timestamp *loyalty_ts_set(Crm__V1__Timestamp *ts, int64_t us)
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

int64_t loyalty_day_of(int64_t us)
{
    int64_t day = us / LOYALTY_US_PER_DAY;
    if (us % LOYALTY_US_PER_DAY < 0)
        day -= 1;
    return day;
}

/* Howard Hinnant's days_from_civil and civil_from_days. */
void loyalty_civil_from_day(int64_t day, int *year, int *month, int *mday)
{
    int64_t z = day + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    *year = (int) (y + (m <= 2));
    *month = (int) m;
    *mday = (int) d;
}

int64_t loyalty_day_from_civil(int year, int month, int mday)
{
    int64_t y = (int64_t) year - (month <= 2);
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + mday - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

bool loyalty_leap_year(int year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

/* --- Records */

int loyalty_record_get(crm_txn_t *txn, crm_db_t db, const void *key, size_t key_len,
                       const ProtobufCMessageDescriptor *desc, ProtobufCMessage **msg_p)
{
    crm_val_t val;
    int rc = crm_store_get(txn, db, key, key_len, &val);
    if (rc)
        return rc;
    return crm_codec_msgpack_decode(desc, val.data, val.size, msg_p, NULL);
}

int loyalty_record_put(crm_txn_t *txn, crm_db_t db, const void *key, size_t key_len,
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

int loyalty_index_put(crm_txn_t *txn, crm_db_t db, const void *key, size_t key_len)
{
    return crm_store_put(txn, db, key, key_len, "", 0, 0);
}

int loyalty_index_del(crm_txn_t *txn, crm_db_t db, const void *key, size_t key_len)
{
    int rc = crm_store_del(txn, db, key, key_len);
    return rc == CRM_ENOTFOUND ? 0 : rc;
}

/* --- Accounts */

/* Copies a record string into a fixed buffer (cut to size; record strings are checked on
 * the way in). */
static void s_copy(char *out, size_t size, const char *in)
{
    snprintf(out, size, "%s", in ? in : "");
}

int loyalty_account_get(const loyalty_db_t *db, crm_txn_t *txn, const char *customer_id,
                        loyalty_account_t *acc)
{
    assert(strlen(customer_id) == CRM_ID_LEN);
    memset(acc, 0, sizeof *acc);
    s_copy(acc->customer_id, sizeof acc->customer_id, customer_id);
    acc->next_entry = 1;
    acc->next_lot = 1;
    ProtobufCMessage *msg = NULL;
    int rc = loyalty_record_get(txn, db->accounts, customer_id, CRM_ID_LEN,
                                &crm__v1__loyalty_account__descriptor, &msg);
    if (rc == CRM_ENOTFOUND)
        return 0;
    if (rc)
        return rc;
    const Crm__V1__LoyaltyAccount *r = (const Crm__V1__LoyaltyAccount *) msg;
    acc->balance = r->balance;
    acc->pending = r->pending;
    acc->lifetime_earned = r->lifetime_earned;
    acc->lifetime_redeemed = r->lifetime_redeemed;
    acc->lifetime_expired = r->lifetime_expired;
    acc->lifetime_reversed = r->lifetime_reversed;
    acc->lifetime_adjusted = r->lifetime_adjusted;
    acc->shortfall = r->shortfall;
    s_copy(acc->tier, sizeof acc->tier, r->tier);
    acc->tier_since_us = r->tier_since_us;
    acc->below_since_us = r->below_since_us;
    acc->purchase_count = r->purchase_count;
    acc->member_since_us = r->member_since_us;
    s_copy(acc->birthday, sizeof acc->birthday, r->birthday);
    s_copy(acc->referred_by, sizeof acc->referred_by, r->referred_by);
    acc->next_entry = r->next_entry ? r->next_entry : 1;
    acc->next_lot = r->next_lot ? r->next_lot : 1;
    acc->closed = r->closed;
    s_copy(acc->merged_into, sizeof acc->merged_into, r->merged_into);
    acc->updated_us = r->updated_us;
    acc->stored = true;
    crm_codec_message_free(&msg);
    return 0;
}

int loyalty_account_put(const loyalty_db_t *db, crm_txn_t *txn, loyalty_account_t *acc)
{
    assert(acc->balance >= 0 && acc->pending >= 0);
    Crm__V1__LoyaltyAccount r = CRM__V1__LOYALTY_ACCOUNT__INIT;
    r.customer_id = acc->customer_id;
    r.balance = acc->balance;
    r.pending = acc->pending;
    r.lifetime_earned = acc->lifetime_earned;
    r.lifetime_redeemed = acc->lifetime_redeemed;
    r.lifetime_expired = acc->lifetime_expired;
    r.lifetime_reversed = acc->lifetime_reversed;
    r.lifetime_adjusted = acc->lifetime_adjusted;
    r.shortfall = acc->shortfall;
    r.tier = acc->tier;
    r.tier_since_us = acc->tier_since_us;
    r.below_since_us = acc->below_since_us;
    r.purchase_count = acc->purchase_count;
    r.member_since_us = acc->member_since_us;
    r.birthday = acc->birthday;
    r.referred_by = acc->referred_by;
    r.next_entry = acc->next_entry;
    r.next_lot = acc->next_lot;
    r.closed = acc->closed;
    r.merged_into = acc->merged_into;
    r.updated_us = acc->updated_us;
    int rc = loyalty_record_put(txn, db->accounts, acc->customer_id, CRM_ID_LEN, &r.base);
    if (rc == 0)
        acc->stored = true;
    return rc;
}

/* --- Lots */

int loyalty_lot_get(const loyalty_db_t *db, crm_txn_t *txn, const char *customer_id,
                    uint64_t number, Crm__V1__Lot **lot_p)
{
    uint8_t key[LOYALTY_LOT_KEY_LEN];
    loyalty_key_lot(key, customer_id, number);
    return loyalty_record_get(txn, db->lots, key, sizeof key, &crm__v1__lot__descriptor,
                              (ProtobufCMessage **) lot_p);
}

int loyalty_lot_put(const loyalty_db_t *db, crm_txn_t *txn, const Crm__V1__Lot *lot,
                    int64_t warning_us)
{
    assert(lot->remaining >= 0 && lot->remaining <= lot->points);
    uint8_t key[LOYALTY_LOT_KEY_LEN];
    loyalty_key_lot(key, lot->customer_id, lot->number);
    int rc = loyalty_record_put(txn, db->lots, key, sizeof key, &lot->base);
    if (rc)
        return rc;
    bool open = lot->remaining > 0;
    int64_t expires_us = loyalty_ts_us(lot->expires_at);
    uint8_t ix[LOYALTY_INDEX_KEY_LEN];
    rc = open ? loyalty_index_put(txn, db->open_lots, key, sizeof key)
              : loyalty_index_del(txn, db->open_lots, key, sizeof key);
    if (rc == 0) {
        loyalty_key_index(ix, expires_us, lot->customer_id, lot->number);
        rc = open ? loyalty_index_put(txn, db->lot_expiry, ix, sizeof ix)
                  : loyalty_index_del(txn, db->lot_expiry, ix, sizeof ix);
    }
    if (rc == 0) {
        loyalty_key_index(ix, loyalty_ts_us(lot->available_at), lot->customer_id, lot->number);
        rc = open && lot->pending ? loyalty_index_put(txn, db->lot_pending, ix, sizeof ix)
                                  : loyalty_index_del(txn, db->lot_pending, ix, sizeof ix);
    }
    if (rc == 0 && warning_us > 0) {
        loyalty_key_index(ix, expires_us - warning_us, lot->customer_id, lot->number);
        rc = open && !lot->warned ? loyalty_index_put(txn, db->lot_warning, ix, sizeof ix)
                                  : loyalty_index_del(txn, db->lot_warning, ix, sizeof ix);
    }
    return rc;
}

/* --- Causes */

int loyalty_cause_get(const loyalty_db_t *db, crm_txn_t *txn, const char *cause,
                      Crm__V1__CauseRecord **rec_p)
{
    size_t len = strlen(cause);
    if (len == 0 || len >= LOYALTY_CAUSE_MAX)
        return CRM_EINVALID;
    return loyalty_record_get(txn, db->causes, cause, len, &crm__v1__cause_record__descriptor,
                              (ProtobufCMessage **) rec_p);
}

int loyalty_cause_put(const loyalty_db_t *db, crm_txn_t *txn, const char *cause,
                      const Crm__V1__CauseRecord *rec)
{
    size_t len = strlen(cause);
    if (len == 0 || len >= LOYALTY_CAUSE_MAX)
        return CRM_EINVALID;
    return loyalty_record_put(txn, db->causes, cause, len, &rec->base);
}

bool loyalty_cause_seen(const loyalty_db_t *db, crm_txn_t *txn, const char *cause, int *rc)
{
    crm_val_t val;
    size_t len = strlen(cause);
    *rc = 0;
    if (len == 0 || len >= LOYALTY_CAUSE_MAX) {
        *rc = CRM_EINVALID;
        return false;
    }
    int got = crm_store_get(txn, db->causes, cause, len, &val);
    if (got == 0)
        return true;
    if (got != CRM_ENOTFOUND)
        *rc = got;
    return false;
}
