/* analytics_record.h: the analytics records (MessagePack through crm_codec), their key layout in LMDB, and the calendar of day buckets. */
#ifndef ANALYTICS_RECORD_H
#define ANALYTICS_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "crm/v1/analytics.pb-c.h"
#include "crm_id.h"
#include "crm_store.h"

/* Key layout (README.md has the same table). Records are MessagePack (crm_codec) of the named
 * crm.v1 message. A "scope" is the segment a figure belongs to, as text: "a" (all customers),
 * "t<tier id>", "n<need type number>" or "o<owner>"; it is followed by one zero byte. "day" is
 * the local day number (days since 1970-01-01 in the service's calendar) plus 2^31, 4 bytes
 * big-endian; "month" is year * 12 + month - 1, 4 bytes big-endian; "time" is 8 bytes big-endian
 * of Unix microseconds with the sign bit flipped. Index values are empty.
 *
 *   customers  <customer id>                                   -> AnalyticsCustomer
 *   days       <scope>\0<day>                                  -> DayFigures
 *   cohorts    <scope>\0<cohort month><offset, 4 bytes>        -> AnalyticsCounter
 *   tiers      <scope>\0<day><tier id>                         -> AnalyticsCounter (members +/-)
 *   lapses     <scope>\0<lapse day><start day><customer id>    (one per active spell)
 *   states     <customer id>                                   -> CustomerState (kept by rebuilds)
 *   due        <time><customer id>                             (next risk evaluation, wall clock)
 *   risk       <255 - score, 1 byte><customer id>              (last evaluated score > 0)
 *   meta       "state"                                         -> AnalyticsMeta
 */

#define ANALYTICS_DB_CUSTOMERS "customers"
#define ANALYTICS_DB_DAYS      "days"
#define ANALYTICS_DB_COHORTS   "cohorts"
#define ANALYTICS_DB_TIERS     "tiers"
#define ANALYTICS_DB_LAPSES    "lapses"
#define ANALYTICS_DB_STATES    "states"
#define ANALYTICS_DB_DUE       "due"
#define ANALYTICS_DB_RISK      "risk"
#define ANALYTICS_DB_META      "meta"
#define ANALYTICS_META_KEY     "state"

#define ANALYTICS_US_PER_SECOND INT64_C(1000000)
#define ANALYTICS_US_PER_DAY    (INT64_C(86400) * ANALYTICS_US_PER_SECOND)
#define ANALYTICS_DAY_KEY_LEN   4
#define ANALYTICS_TIME_KEY_LEN  8
#define ANALYTICS_OWNER_MAX     128      /* bytes of an owner (as contacts: CONTACTS_OWNER_MAX) */
#define ANALYTICS_TIER_MAX      64       /* bytes of a loyalty tier id */
#define ANALYTICS_REF_MAX       128      /* bytes of a purchase, refund, answer or complaint id */
#define ANALYTICS_SCOPE_MAX     (1 + ANALYTICS_OWNER_MAX + 1)   /* scope text and its NUL */
#define ANALYTICS_KEY_MAX       (ANALYTICS_SCOPE_MAX + 2 * ANALYTICS_DAY_KEY_LEN + ANALYTICS_TIER_MAX + CRM_ID_LEN)
#define ANALYTICS_DATE_SIZE     11       /* "YYYY-MM-DD" and its NUL */
#define ANALYTICS_MONTH_SIZE    8        /* "YYYY-MM" and its NUL */
#define ANALYTICS_DAY_MIN       (-719162)   /* 0001-01-01 */
#define ANALYTICS_DAY_MAX       2932896     /* 9999-12-31 */
/* Event times analytics takes: 1900-01-01 .. 9000-01-01 (anything else is a malformed event). */
#define ANALYTICS_TIME_MIN_US   (INT64_C(-2208988800) * 1000000)
#define ANALYTICS_TIME_MAX_US   (INT64_C(221845392000) * 1000000)

typedef struct {
    crm_db_t customers, days, cohorts, tiers, lapses, states, due, risk, meta;
} analytics_db_t;

/* Opens (creating) every database. Call at start-up before any other transaction is open.
 * Returns 0 or a store error. */
int analytics_record_open(crm_store_t *store, analytics_db_t *db);

/* --- Calendar: local day numbers (days since 1970-01-01 in the service's calendar). */

/* The local day of a Unix time in microseconds, offset_us ahead of UTC; rounds down. */
int64_t analytics_day_of(int64_t us, int64_t offset_us);

/* The civil date (proleptic Gregorian) of a day number, and back. */
void analytics_civil_from_day(int64_t day, int *year, int *month, int *mday);
int64_t analytics_day_from_civil(int year, int month, int mday);

/* The Monday that starts the ISO week of day. */
int64_t analytics_week_start(int64_t day);

/* The month index (year * 12 + month - 1) of a day, and the first day of a month index. */
int64_t analytics_month_of(int64_t day);
int64_t analytics_month_first_day(int64_t month);

/* Parses "YYYY-MM-DD" (a real date in years 0001..9999) into a day number. Returns 0 or
 * CRM_EINVALID (*day untouched). */
int analytics_date_parse(const char *text, int64_t *day);

/* Writes a day as "YYYY-MM-DD" and a month index as "YYYY-MM" into out (caller's). */
void analytics_date_format(int64_t day, char out[ANALYTICS_DATE_SIZE]);
void analytics_month_format(int64_t month, char out[ANALYTICS_MONTH_SIZE]);

/* --- Keys */

/* Writes and reads the 4-byte key of a day number and the 8-byte key of a time. */
void analytics_key_day(uint8_t out[ANALYTICS_DAY_KEY_LEN], int64_t day);
int64_t analytics_key_day_read(const uint8_t in[ANALYTICS_DAY_KEY_LEN]);
void analytics_key_time(uint8_t out[ANALYTICS_TIME_KEY_LEN], int64_t us);
int64_t analytics_key_time_read(const uint8_t in[ANALYTICS_TIME_KEY_LEN]);

/* Writes "<scope>\0" into out (at least ANALYTICS_SCOPE_MAX bytes). Returns its length, NUL
 * included. scope must be at most ANALYTICS_SCOPE_MAX - 1 bytes (asserted). */
size_t analytics_key_scope(uint8_t *out, const char *scope);

/* --- Timestamps */

/* Unix microseconds of a Timestamp; 0 for NULL. */
int64_t analytics_ts_us(const Crm__V1__Timestamp *ts);

/* Fills ts from Unix microseconds. Returns ts. */
Crm__V1__Timestamp *analytics_ts_set(Crm__V1__Timestamp *ts, int64_t us);

/* --- Records, generically */

/* Reads key from db as a message of type desc. Returns 0 with *msg_p (caller frees with
 * crm_codec_message_free), CRM_ENOTFOUND, a store error or a codec error. */
int analytics_record_get(crm_txn_t *txn, crm_db_t db, const void *key, size_t key_len,
                         const ProtobufCMessageDescriptor *desc, ProtobufCMessage **msg_p);

/* Encodes msg and stores it under key. Returns 0, a codec error or a store error. */
int analytics_record_put(crm_txn_t *txn, crm_db_t db, const void *key, size_t key_len,
                         const ProtobufCMessage *msg);

/* Deletes key when present. Returns 0 (also when absent) or a store error. */
int analytics_record_del(crm_txn_t *txn, crm_db_t db, const void *key, size_t key_len);

/* Deletes up to max entries of db (all when max is 0) and sets *left when entries remain.
 * Returns 0 or a store error. */
int analytics_db_clear(crm_txn_t *txn, crm_db_t db, size_t max, bool *left);

#endif
