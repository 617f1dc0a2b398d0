/* analytics_record.c: the analytics records, their key layout in LMDB, and the calendar of day buckets. */
#include "analytics_record.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crm_codec.h"
#include "crm_error.h"

#define S_SIGN_BIT  (UINT64_C(1) << 63)
#define S_DAY_BIAS  (INT64_C(1) << 31)
#define S_UNIX_MONDAY_SHIFT 3        /* 1970-01-01 was a Thursday: (day + 3) % 7 is 0 on Mondays */

int analytics_record_open(crm_store_t *store, analytics_db_t *db)
{
    struct {
        const char *name;
        crm_db_t *db;
    } const dbs[] = {
        { ANALYTICS_DB_CUSTOMERS, &db->customers }, { ANALYTICS_DB_DAYS, &db->days },
        { ANALYTICS_DB_COHORTS, &db->cohorts },     { ANALYTICS_DB_TIERS, &db->tiers },
        { ANALYTICS_DB_LAPSES, &db->lapses },       { ANALYTICS_DB_STATES, &db->states },
        { ANALYTICS_DB_DUE, &db->due },             { ANALYTICS_DB_RISK, &db->risk },
        { ANALYTICS_DB_META, &db->meta },
    };
    for (size_t i = 0; i < sizeof dbs / sizeof dbs[0]; i++) {
        int rc = crm_store_db(store, dbs[i].name, dbs[i].db);
        if (rc)
            return rc;
    }
    return 0;
}

/* --- Calendar */

static int64_t s_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0)))
        q -= 1;
    return q;
}

int64_t analytics_day_of(int64_t us, int64_t offset_us)
{
    return s_floor_div(us + offset_us, ANALYTICS_US_PER_DAY);
}

/* Howard Hinnant's civil_from_days and days_from_civil. */
void analytics_civil_from_day(int64_t day, int *year, int *month, int *mday)
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

int64_t analytics_day_from_civil(int year, int month, int mday)
{
    int64_t y = (int64_t) year - (month <= 2);
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t mp = month > 2 ? month - 3 : month + 9;
    int64_t doy = (153 * mp + 2) / 5 + mday - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int64_t analytics_week_start(int64_t day)
{
    int64_t shifted = day + S_UNIX_MONDAY_SHIFT;
    return day - (shifted - s_floor_div(shifted, 7) * 7);
}

int64_t analytics_month_of(int64_t day)
{
    int year, month, mday;
    analytics_civil_from_day(day, &year, &month, &mday);
    return (int64_t) year * 12 + month - 1;
}

int64_t analytics_month_first_day(int64_t month)
{
    return analytics_day_from_civil((int) s_floor_div(month, 12), (int) (month - s_floor_div(month, 12) * 12) + 1, 1);
}

int analytics_date_parse(const char *text, int64_t *day)
{
    if (!text || strlen(text) != ANALYTICS_DATE_SIZE - 1 || text[4] != '-' || text[7] != '-')
        return CRM_EINVALID;
    int parts[3] = { 0, 0, 0 };
    static const int starts[3] = { 0, 5, 8 };
    static const int lens[3] = { 4, 2, 2 };
    for (int p = 0; p < 3; p++)
        for (int i = 0; i < lens[p]; i++) {
            char c = text[starts[p] + i];
            if (c < '0' || c > '9')
                return CRM_EINVALID;
            parts[p] = parts[p] * 10 + (c - '0');
        }
    if (parts[0] < 1 || parts[1] < 1 || parts[1] > 12 || parts[2] < 1)
        return CRM_EINVALID;
    int64_t d = analytics_day_from_civil(parts[0], parts[1], parts[2]);
    int y, m, md;
    analytics_civil_from_day(d, &y, &m, &md);
    if (y != parts[0] || m != parts[1] || md != parts[2])
        return CRM_EINVALID;   /* 2025-02-30 and the like */
    *day = d;
    return 0;
}

/* Writes n (0 <= n < 10^width) as width decimal digits. */
static void s_digits(char *out, int n, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        out[i] = (char) ('0' + n % 10);
        n /= 10;
    }
}

void analytics_date_format(int64_t day, char out[ANALYTICS_DATE_SIZE])
{
    int y, m, d;
    analytics_civil_from_day(day, &y, &m, &d);
    s_digits(out, ((y % 10000) + 10000) % 10000, 4);
    out[4] = '-';
    s_digits(out + 5, m, 2);
    out[7] = '-';
    s_digits(out + 8, d, 2);
    out[10] = '\0';
}

void analytics_month_format(int64_t month, char out[ANALYTICS_MONTH_SIZE])
{
    int y = (int) s_floor_div(month, 12);
    int m = (int) (month - (int64_t) y * 12) + 1;
    s_digits(out, ((y % 10000) + 10000) % 10000, 4);
    out[4] = '-';
    s_digits(out + 5, m, 2);
    out[7] = '\0';
}

/* --- Keys */

static void s_u64(uint8_t *out, size_t len, uint64_t n)
{
    for (size_t i = len; i-- > 0;) {
        out[i] = (uint8_t) (n & 0xff);
        n >>= 8;
    }
}

static uint64_t s_u64_read(const uint8_t *in, size_t len)
{
    uint64_t n = 0;
    for (size_t i = 0; i < len; i++)
        n = (n << 8) | in[i];
    return n;
}

void analytics_key_day(uint8_t out[ANALYTICS_DAY_KEY_LEN], int64_t day)
{
    assert(day > -S_DAY_BIAS && day < S_DAY_BIAS);
    s_u64(out, ANALYTICS_DAY_KEY_LEN, (uint64_t) (day + S_DAY_BIAS));
}

int64_t analytics_key_day_read(const uint8_t in[ANALYTICS_DAY_KEY_LEN])
{
    return (int64_t) s_u64_read(in, ANALYTICS_DAY_KEY_LEN) - S_DAY_BIAS;
}

void analytics_key_time(uint8_t out[ANALYTICS_TIME_KEY_LEN], int64_t us)
{
    s_u64(out, ANALYTICS_TIME_KEY_LEN, (uint64_t) us ^ S_SIGN_BIT);
}

int64_t analytics_key_time_read(const uint8_t in[ANALYTICS_TIME_KEY_LEN])
{
    return (int64_t) (s_u64_read(in, ANALYTICS_TIME_KEY_LEN) ^ S_SIGN_BIT);
}

size_t analytics_key_scope(uint8_t *out, const char *scope)
{
    size_t len = strlen(scope);
    assert(len > 0 && len < ANALYTICS_SCOPE_MAX);
    memcpy(out, scope, len + 1);
    return len + 1;
}

/* --- Timestamps */

int64_t analytics_ts_us(const Crm__V1__Timestamp *ts)
{
    if (!ts)
        return 0;
    return ts->seconds * ANALYTICS_US_PER_SECOND + ts->nanos / 1000;
}

Crm__V1__Timestamp *analytics_ts_set(Crm__V1__Timestamp *ts, int64_t us)
{
    crm__v1__timestamp__init(ts);
    ts->seconds = s_floor_div(us, ANALYTICS_US_PER_SECOND);
    ts->nanos = (int32_t) (us - ts->seconds * ANALYTICS_US_PER_SECOND) * 1000;
    return ts;
}

/* --- Records */

int analytics_record_get(crm_txn_t *txn, crm_db_t db, const void *key, size_t key_len,
                         const ProtobufCMessageDescriptor *desc, ProtobufCMessage **msg_p)
{
    crm_val_t v;
    int rc = crm_store_get(txn, db, key, key_len, &v);
    if (rc)
        return rc;
    return crm_codec_msgpack_decode(desc, v.data, v.size, msg_p, NULL);
}

int analytics_record_put(crm_txn_t *txn, crm_db_t db, const void *key, size_t key_len,
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

int analytics_record_del(crm_txn_t *txn, crm_db_t db, const void *key, size_t key_len)
{
    int rc = crm_store_del(txn, db, key, key_len);
    return rc == CRM_ENOTFOUND ? 0 : rc;
}

int analytics_db_clear(crm_txn_t *txn, crm_db_t db, size_t max, bool *left)
{
    *left = false;
    crm_cursor_t *cur = NULL;
    int rc = crm_cursor_open(txn, db, &cur);
    if (rc)
        return rc;
    size_t done = 0;
    crm_val_t k;
    rc = crm_cursor_first(cur, &k, NULL);
    while (rc == 0) {
        if (max && done == max) {
            *left = true;
            break;
        }
        rc = crm_cursor_del(cur);
        if (rc)
            break;
        done++;
        rc = crm_cursor_next(cur, &k, NULL);
    }
    crm_cursor_close(&cur);
    return rc == CRM_ENOTFOUND ? 0 : rc;
}
