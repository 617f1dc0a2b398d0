/* loyalty_record.h: the loyalty records (MessagePack through crm_codec) and their key layout in LMDB. */
#ifndef LOYALTY_RECORD_H
#define LOYALTY_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "crm/v1/loyalty.pb-c.h"
#include "crm_id.h"
#include "crm_store.h"

/* Key layout (README.md has the same table). Records are MessagePack (crm_codec) of the named
 * crm.v1 message; customer ids are 26-byte ULIDs; "time" is 8 bytes big-endian of the Unix
 * microseconds with the sign bit flipped (so keys sort by time); "number" is 8 bytes big-endian;
 * "\0" is one zero byte; index values are empty.
 *
 *   accounts       <customer id>                               -> LoyaltyAccount
 *   lots           <customer id><lot number>                   -> Lot
 *   open_lots      <customer id><lot number>                   (lots with points left)
 *   entries        <customer id><entry seq>                    -> LedgerEntry
 *   lot_expiry     <time expiresAt><customer id><lot number>   (lots with points left)
 *   lot_pending    <time availableAt><customer id><lot number> (pending lots with points left)
 *   lot_warning    <time expiresAt - warning><customer id><lot number>  (not yet warned)
 *   causes         <cause text>                                -> CauseRecord
 *   purchases      <customer id><time purchasedAt><purchase id> -> PurchaseRecord
 *   rules          <rule id>                                   -> EarnRule
 *   rule_usage     <rule id>                                   -> RuleUsage (all customers)
 *   counters       <period 'd'|'w'|'m'><period index, 4 bytes><rule id>\0<customer id> -> RuleUsage
 *   tiers          <tier id>                                   -> Tier
 *   badges         <customer id><badge kind, 1 byte>           -> Badge
 *   calendar       <'b' birthday | 'a' anniversary><MMDD, 4 digits><customer id>
 *   rewards        <reward id>                                 -> Reward
 *   redemptions    <redemption id>                             -> Redemption
 *   codes          <code>                                      -> redemption id
 *   customer_redemptions <customer id><redemption id>
 *   audit          <audit id>                                  -> LoyaltyAudit
 *   meta           "state"                                     -> LoyaltyMeta
 */

#define LOYALTY_DB_ACCOUNTS      "accounts"
#define LOYALTY_DB_LOTS          "lots"
#define LOYALTY_DB_OPEN_LOTS     "open_lots"
#define LOYALTY_DB_ENTRIES       "entries"
#define LOYALTY_DB_LOT_EXPIRY    "lot_expiry"
#define LOYALTY_DB_LOT_PENDING   "lot_pending"
#define LOYALTY_DB_LOT_WARNING   "lot_warning"
#define LOYALTY_DB_CAUSES        "causes"
#define LOYALTY_DB_PURCHASES     "purchases"
#define LOYALTY_DB_RULES         "rules"
#define LOYALTY_DB_RULE_USAGE    "rule_usage"
#define LOYALTY_DB_COUNTERS      "counters"
#define LOYALTY_DB_TIERS         "tiers"
#define LOYALTY_DB_BADGES        "badges"
#define LOYALTY_DB_CALENDAR      "calendar"
#define LOYALTY_DB_REWARDS       "rewards"
#define LOYALTY_DB_REDEMPTIONS   "redemptions"
#define LOYALTY_DB_CODES         "codes"
#define LOYALTY_DB_CUSTOMER_REDEMPTIONS "customer_redemptions"
#define LOYALTY_DB_AUDIT         "audit"
#define LOYALTY_DB_META          "meta"
#define LOYALTY_META_KEY         "state"

#define LOYALTY_TIME_KEY_LEN     8
#define LOYALTY_NUMBER_KEY_LEN   8
#define LOYALTY_LOT_KEY_LEN      (CRM_ID_LEN + LOYALTY_NUMBER_KEY_LEN)
#define LOYALTY_INDEX_KEY_LEN    (LOYALTY_TIME_KEY_LEN + LOYALTY_LOT_KEY_LEN)
#define LOYALTY_NAME_MAX         64      /* bytes of a rule, tier or reward id */
#define LOYALTY_NAME_SIZE        (LOYALTY_NAME_MAX + 1)
#define LOYALTY_REF_MAX          128     /* bytes of an activity id, request id, purchase or refund id */
#define LOYALTY_CAUSE_MAX        256     /* bytes of a cause text, with its NUL */
#define LOYALTY_BIRTHDAY_SIZE    11      /* "YYYY-MM-DD" and the NUL */
#define LOYALTY_CURRENCY_LEN     3       /* an ISO 4217 code */
#define LOYALTY_CALENDAR_KEY_LEN (1 + 4 + CRM_ID_LEN)
#define LOYALTY_US_PER_DAY       (INT64_C(86400) * 1000000)

typedef struct {
    crm_db_t accounts, lots, open_lots, entries, lot_expiry, lot_pending, lot_warning, causes,
        purchases, rules, rule_usage, counters, tiers, badges, calendar, rewards, redemptions,
        codes, customer_redemptions, audit, meta;
} loyalty_db_t;

/* A customer's account, as the ledger works on it (the record is crm.v1.LoyaltyAccount). */
typedef struct {
    char customer_id[CRM_ID_SIZE];
    int64_t balance;
    int64_t pending;
    int64_t lifetime_earned;
    int64_t lifetime_redeemed;
    int64_t lifetime_expired;
    int64_t lifetime_reversed;
    int64_t lifetime_adjusted;
    int64_t shortfall;
    char tier[LOYALTY_NAME_SIZE];       /* "" until the first evaluation: the entry tier */
    int64_t tier_since_us;
    int64_t below_since_us;
    uint32_t purchase_count;
    int64_t member_since_us;
    char birthday[LOYALTY_BIRTHDAY_SIZE];
    char referred_by[CRM_ID_SIZE];
    uint64_t next_entry;
    uint64_t next_lot;
    bool closed;
    char merged_into[CRM_ID_SIZE];
    int64_t updated_us;
    bool stored;                        /* read from the store (false: a fresh account) */
} loyalty_account_t;

/* Opens (creating) every database. Call at start-up before any other transaction is open.
 * Returns 0 or a store error. */
int loyalty_record_open(crm_store_t *store, loyalty_db_t *db);

/* --- Keys */

/* Writes the 8-byte time key of a Unix time in microseconds. */
void loyalty_key_time(uint8_t out[LOYALTY_TIME_KEY_LEN], int64_t us);

/* Reads a time key. */
int64_t loyalty_key_time_read(const uint8_t in[LOYALTY_TIME_KEY_LEN]);

/* Writes and reads an 8-byte big-endian number. */
void loyalty_key_u64(uint8_t out[LOYALTY_NUMBER_KEY_LEN], uint64_t n);
uint64_t loyalty_key_u64_read(const uint8_t in[LOYALTY_NUMBER_KEY_LEN]);

/* <customer id><number>: the key of a lot, an open lot or a ledger entry. */
void loyalty_key_lot(uint8_t out[LOYALTY_LOT_KEY_LEN], const char *customer_id, uint64_t number);

/* <time><customer id><lot number>: the key of the time indexes of lots. */
void loyalty_key_index(uint8_t out[LOYALTY_INDEX_KEY_LEN], int64_t us, const char *customer_id,
                       uint64_t lot);

/* Splits a time index key. Returns 0 or CRM_EINVALID (bad size). customer_out gets the id. */
int loyalty_key_index_read(const crm_val_t *key, int64_t *us, char customer_out[CRM_ID_SIZE],
                           uint64_t *lot);

/* --- Timestamps */

/* Unix microseconds of a Timestamp; 0 for NULL. */
int64_t loyalty_ts_us(const Crm__V1__Timestamp *ts);

/* Fills ts from Unix microseconds. Returns ts. */
Crm__V1__Timestamp *loyalty_ts_set(Crm__V1__Timestamp *ts, int64_t us);

/* Days since the epoch (UTC) of a time, rounding down. */
int64_t loyalty_day_of(int64_t us);

/* The civil date (proleptic Gregorian, UTC) of a day since the epoch, and back. */
void loyalty_civil_from_day(int64_t day, int *year, int *month, int *mday);
int64_t loyalty_day_from_civil(int year, int month, int mday);

/* True when year is a leap year. */
bool loyalty_leap_year(int year);

/* --- Records, generically: MessagePack through crm_codec. */

/* Reads key from db as a message of type desc. Returns 0 with *msg_p (caller frees with
 * crm_codec_message_free), CRM_ENOTFOUND, a store error or a codec error. */
int loyalty_record_get(crm_txn_t *txn, crm_db_t db, const void *key, size_t key_len,
                       const ProtobufCMessageDescriptor *desc, ProtobufCMessage **msg_p);

/* Encodes msg and stores it under key. Returns 0, a codec error or a store error. */
int loyalty_record_put(crm_txn_t *txn, crm_db_t db, const void *key, size_t key_len,
                       const ProtobufCMessage *msg);

/* Stores an empty value under key (an index entry). Returns 0 or a store error. */
int loyalty_index_put(crm_txn_t *txn, crm_db_t db, const void *key, size_t key_len);

/* Deletes key when present. Returns 0 (also when absent) or a store error. */
int loyalty_index_del(crm_txn_t *txn, crm_db_t db, const void *key, size_t key_len);

/* --- Accounts */

/* Reads the account of customer_id into *acc. An account never stored reads as a fresh one
 * (acc->stored false, next_entry and next_lot 1). Returns 0, or a store or codec error. */
int loyalty_account_get(const loyalty_db_t *db, crm_txn_t *txn, const char *customer_id,
                        loyalty_account_t *acc);

/* Stores *acc (and sets acc->stored). Returns 0, or a store or codec error. */
int loyalty_account_put(const loyalty_db_t *db, crm_txn_t *txn, loyalty_account_t *acc);

/* --- Lots */

/* Reads lot number of customer_id. Returns 0 with *lot_p (caller frees with
 * crm_codec_message_free), CRM_ENOTFOUND, or a store or codec error. */
int loyalty_lot_get(const loyalty_db_t *db, crm_txn_t *txn, const char *customer_id,
                    uint64_t number, Crm__V1__Lot **lot_p);

/* Stores a lot and keeps its index entries in step: open_lots, lot_expiry, lot_pending (while
 * pending) and lot_warning (while not warned; warning_us before expiry, none when warning_us is
 * 0) hold the lot exactly while it has points left. Returns 0, or a store or codec error. */
int loyalty_lot_put(const loyalty_db_t *db, crm_txn_t *txn, const Crm__V1__Lot *lot,
                    int64_t warning_us);

/* --- Causes */

/* Reads the record of a cause. Returns 0 with *rec_p (caller frees with crm_codec_message_free),
 * CRM_ENOTFOUND, or a store or codec error. */
int loyalty_cause_get(const loyalty_db_t *db, crm_txn_t *txn, const char *cause,
                      Crm__V1__CauseRecord **rec_p);

/* Stores the record of a cause. Returns 0, CRM_EINVALID (cause too long), or a store or codec
 * error. */
int loyalty_cause_put(const loyalty_db_t *db, crm_txn_t *txn, const char *cause,
                      const Crm__V1__CauseRecord *rec);

/* True when cause has a record; sets *rc to the error when the lookup failed. */
bool loyalty_cause_seen(const loyalty_db_t *db, crm_txn_t *txn, const char *cause, int *rc);

#endif
