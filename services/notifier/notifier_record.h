/* notifier_record.h: the notifier's records (MessagePack through crm_codec) and their key layout in LMDB. */
#ifndef NOTIFIER_RECORD_H
#define NOTIFIER_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "crm/v1/notifier.pb-c.h"
#include "crm_id.h"
#include "crm_store.h"

/* Key layout (README.md has the same table). Records are MessagePack (crm_codec) of the named
 * crm.v1 message; ids of deliveries, reminders and inbox messages are 26-byte ULIDs (they sort by
 * time); "time" is 8 bytes big-endian of the Unix microseconds with the sign bit flipped; "day" is
 * 4 bytes big-endian of the local day; "\0" one zero byte; index values are empty.
 *
 *   rules              <rule id>                                -> NotifyRule
 *   templates          <template id>\0<locale>                  -> NotifyTemplate
 *   staff              <staff id>                               -> StaffMember
 *   webhooks           <endpoint id>                            -> WebhookEndpoint
 *   customers          <customer id>                            -> NotifyCustomer
 *   calendar           <MMDD, 4 digits><customer id>            (birthdays)
 *   deliveries         <delivery id>                            -> Delivery
 *   due                <time><delivery id>                      (queued and retrying deliveries)
 *   inflight           <delivery id>                            (taken by a sender, not yet done)
 *   dedup              <rule id>\0<event id>\0<recipient>       -> delivery id
 *   by_customer        <customer id><delivery id>
 *   by_rule            <rule id>\0<delivery id>
 *   dead               <delivery id>                            (dead letters)
 *   counters           <day><customer id><rule id or "*">       -> count, 4 bytes big-endian
 *   digests            <recipient>\0<rule id>                   -> DigestBucket
 *   digest_due         <time><recipient>\0<rule id>
 *   reminders          <reminder id>                            -> Reminder
 *   reminder_due       <time><reminder id>                      (pending reminders)
 *   customer_reminders <customer id><reminder id>
 *   reminder_requests  <customer id><request id>                -> reminder id
 *   inbox              <recipient id>\0<message id>             -> InboxMessage
 *   parked             <customer id><event id>                  -> the event as received
 *   parked_time        <time><customer id><event id>
 *   meta               "state"                                  -> NotifierMeta
 */

#define NOTIFIER_DB_RULES              "rules"
#define NOTIFIER_DB_TEMPLATES          "templates"
#define NOTIFIER_DB_STAFF              "staff"
#define NOTIFIER_DB_WEBHOOKS           "webhooks"
#define NOTIFIER_DB_CUSTOMERS          "customers"
#define NOTIFIER_DB_CALENDAR           "calendar"
#define NOTIFIER_DB_DELIVERIES         "deliveries"
#define NOTIFIER_DB_DUE                "due"
#define NOTIFIER_DB_INFLIGHT           "inflight"
#define NOTIFIER_DB_DEDUP              "dedup"
#define NOTIFIER_DB_BY_CUSTOMER        "by_customer"
#define NOTIFIER_DB_BY_RULE            "by_rule"
#define NOTIFIER_DB_DEAD               "dead"
#define NOTIFIER_DB_COUNTERS           "counters"
#define NOTIFIER_DB_DIGESTS            "digests"
#define NOTIFIER_DB_DIGEST_DUE         "digest_due"
#define NOTIFIER_DB_REMINDERS          "reminders"
#define NOTIFIER_DB_REMINDER_DUE       "reminder_due"
#define NOTIFIER_DB_CUSTOMER_REMINDERS "customer_reminders"
#define NOTIFIER_DB_REMINDER_REQUESTS  "reminder_requests"
#define NOTIFIER_DB_INBOX              "inbox"
#define NOTIFIER_DB_PARKED             "parked"
#define NOTIFIER_DB_PARKED_TIME        "parked_time"
#define NOTIFIER_DB_META               "meta"
#define NOTIFIER_META_KEY              "state"

#define NOTIFIER_TIME_KEY_LEN   8
#define NOTIFIER_DAY_KEY_LEN    4
#define NOTIFIER_COUNT_LEN      4
#define NOTIFIER_NAME_MAX       64       /* bytes of a rule, template, staff or webhook id */
#define NOTIFIER_NAME_SIZE      (NOTIFIER_NAME_MAX + 1)
#define NOTIFIER_EVENT_ID_MAX   128      /* bytes of an event id the notifier keys on */
#define NOTIFIER_ADDRESS_MAX    255      /* bytes of an email address a recipient names, with its NUL */
#define NOTIFIER_RECIPIENT_MAX  (NOTIFIER_ADDRESS_MAX + 8)   /* "address:<email>", "staff:<id>", ... */
#define NOTIFIER_KEY_MAX        CRM_STORE_MAX_KEY_SIZE
#define NOTIFIER_ALL_RULES      "*"      /* the counters' key of the cap over every rule */
#define NOTIFIER_RULE_REMINDER  "_reminder"
#define NOTIFIER_RULE_DIGEST    "_digest"

typedef struct {
    crm_db_t rules, templates, staff, webhooks, customers, calendar, deliveries, due, inflight, dedup,
        by_customer, by_rule, dead, counters, digests, digest_due, reminders, reminder_due,
        customer_reminders, reminder_requests, inbox, parked, parked_time, meta;
} notifier_db_t;

/* A key under construction (at most NOTIFIER_KEY_MAX bytes). */
typedef struct {
    uint8_t data[NOTIFIER_KEY_MAX];
    size_t len;
    bool overflow;                       /* a part did not fit: the key must not be used */
} notifier_key_t;

/* Opens (creating) every database. Call at start-up before any other transaction is open.
 * Returns 0 or a store error. */
int notifier_record_open(crm_store_t *store, notifier_db_t *db);

/* --- Keys */

void notifier_key_reset(notifier_key_t *k);
void notifier_key_str(notifier_key_t *k, const char *s);          /* the bytes of s, no NUL */
void notifier_key_nul(notifier_key_t *k);                         /* one zero byte */
void notifier_key_time(notifier_key_t *k, int64_t us);
void notifier_key_day(notifier_key_t *k, int64_t day);

/* Reads an 8-byte time key part. */
int64_t notifier_key_time_read(const uint8_t in[NOTIFIER_TIME_KEY_LEN]);

/* --- Timestamps */

/* Unix microseconds of a Timestamp; 0 for NULL. */
int64_t notifier_ts_us(const Crm__V1__Timestamp *ts);

/* Fills ts from Unix microseconds. Returns ts. */
Crm__V1__Timestamp *notifier_ts_set(Crm__V1__Timestamp *ts, int64_t us);

/* --- Records, generically */

/* Reads key from db as a message of type desc. Returns 0 with *msg_p (caller frees with
 * crm_codec_message_free), CRM_ENOTFOUND, a store error or a codec error. */
int notifier_record_get(crm_txn_t *txn, crm_db_t db, const void *key, size_t key_len,
                        const ProtobufCMessageDescriptor *desc, ProtobufCMessage **msg_p);

/* Encodes msg and stores it under key. Returns 0, CRM_EINVALID (bad key), a codec or store error. */
int notifier_record_put(crm_txn_t *txn, crm_db_t db, const void *key, size_t key_len,
                        const ProtobufCMessage *msg);

/* Stores an empty value under key (an index entry). Returns 0 or a store error. */
int notifier_index_put(crm_txn_t *txn, crm_db_t db, const void *key, size_t key_len);

/* Deletes key when present. Returns 0 (also when absent) or a store error. */
int notifier_index_del(crm_txn_t *txn, crm_db_t db, const void *key, size_t key_len);

/* True when a record id is 1 to NOTIFIER_NAME_MAX bytes of [A-Za-z0-9._-] (and '@' when
 * at_allowed). */
bool notifier_name_valid(const char *s, bool at_allowed);

#endif
