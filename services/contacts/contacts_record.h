/* contacts_record.h: customers, their indexes, interactions and purchases, and their key layout in LMDB. */
#ifndef CONTACTS_RECORD_H
#define CONTACTS_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crm/v1/contacts.pb-c.h"
#include "crm_id.h"
#include "crm_store.h"
#include "contacts_validate.h"

/* Key layout (README.md has the same table). Records are MessagePack (crm_codec); ids are
 * 26-byte ULIDs; "time" is 8 bytes big-endian of the inverted, sign-flipped Unix microseconds, so
 * that keys sort newest first; "\0" is one zero byte; index values are empty.
 *
 *   customers       <customer id>                                   -> Customer
 *   customer_unique e<email, ASCII lower case>                      -> customer id
 *                   p<phone, "+digits">                             -> customer id
 *                   x<system>\0<external id>                        -> customer id
 *   customer_index  n<name folded, first 1..N bytes>\0<customer id> (every prefix up to
 *                                                                    CONTACTS_NAME_INDEX_PREFIX_MAX)
 *                   t<tag folded>\0<customer id>
 *                   v<value tier number>\0<customer id>
 *                   d<need type number>\0<customer id>
 *                   s<lifecycle stage number>\0<customer id>
 *                   o<owner>\0<customer id>
 *                   c<custom field name>\0<value text>\0<customer id>
 *   interactions    <customer id><time occurredAt><interaction id>  -> Interaction
 *   purchases       <customer id><time purchasedAt><purchase id>    -> Purchase
 *   purchase_refs   o<order id>                                     -> purchases key
 *                   p<purchase id>                                  -> purchases key
 *
 * Every write of a customer updates its index entries in the same transaction. */

#define CONTACTS_DB_CUSTOMERS       "customers"
#define CONTACTS_DB_UNIQUE          "customer_unique"
#define CONTACTS_DB_INDEX           "customer_index"
#define CONTACTS_DB_INTERACTIONS    "interactions"
#define CONTACTS_DB_PURCHASES       "purchases"
#define CONTACTS_DB_PURCHASE_REFS   "purchase_refs"

#define CONTACTS_NAME_INDEX_PREFIX_MAX 16     /* bytes of the folded name indexed as prefixes */
#define CONTACTS_PAGE_SIZE_DEFAULT     50
#define CONTACTS_PAGE_SIZE_MAX         500    /* a larger page_size is cut to this */
#define CONTACTS_PAGE_TOKEN_MAX        64     /* bytes of a page token, with its NUL */
#define CONTACTS_SEARCH_PROBE_MAX      1000   /* index entries counted per filter to pick the index */
#define CONTACTS_TIME_KEY_LEN          8
#define CONTACTS_HISTORY_KEY_LEN       (CRM_ID_LEN + CONTACTS_TIME_KEY_LEN + CRM_ID_LEN)

/* Lifecycle thresholds (settings CRM_CONTACTS_REPEAT_PURCHASES and CRM_CONTACTS_LOYAL_PURCHASES). */
#define CONTACTS_DEFAULT_REPEAT_PURCHASES 2
#define CONTACTS_DEFAULT_LOYAL_PURCHASES  5
#define CONTACTS_PURCHASES_SETTING_MAX    1000000

typedef struct {
    uint32_t repeat_purchases;    /* >= 2: from this many purchases a customer is "repeat" */
    uint32_t loyal_purchases;     /* >= repeat_purchases: from this many, "loyal" */
} contacts_settings_t;

typedef struct {
    crm_db_t customers;
    crm_db_t unique;
    crm_db_t index;
    crm_db_t interactions;
    crm_db_t purchases;
    crm_db_t purchase_refs;
} contacts_db_t;

/* A page of records: Customer, Interaction or Purchase messages, owned by the page. */
typedef struct {
    ProtobufCMessage **items;
    size_t count;
    char next_token[CONTACTS_PAGE_TOKEN_MAX];   /* "" on the last page */
} contacts_page_t;

/* The filters of a search; NULL or "" (0 for the enums) means not given. phone is normalised by
 * the caller; name_prefix, email and tag match case-insensitively (ASCII). */
typedef struct {
    const char *name_prefix;
    const char *email;
    const char *phone;
    const char *tag;
    int value_tier;
    int need_type;
    int lifecycle_stage;
    const char *owner;
    const char *custom_field;       /* with custom_value */
    const char *custom_value;
    const char *external_system;    /* with external_id */
    const char *external_id;
} contacts_query_t;

/* Opens (creating) the databases. Call at start-up before any other transaction is open.
 * Returns 0 or a store error. */
int contacts_record_open(crm_store_t *store, contacts_db_t *db);

/* --- Lifecycle */

/* The stage purchases alone earn: prospect (0), first_purchase (1), repeat, loyal. */
Crm__V1__LifecycleStage contacts_stage_derive(const contacts_settings_t *settings, uint32_t purchases);

/* True for at_risk and churned: stages the analytics service sets, which only a purchase ends. */
bool contacts_stage_is_risk(Crm__V1__LifecycleStage stage);

/* --- Customers */

/* Reads customer id. Returns 0 with *out (caller frees with crm_codec_message_free),
 * CRM_ENOTFOUND, or a store or codec error. */
int contacts_customer_get(const contacts_db_t *db, crm_txn_t *txn, const char *id,
                          Crm__V1__Customer **out);

/* Writes cust (its id must be set) with its index entries, in a write transaction. old is the
 * record as stored before (NULL for a new customer): only index entries that differ are touched.
 * Returns 0; CRM_ECONFLICT when the email, phone or an external id belongs to another customer
 * (err names the field and conflict_id the other customer; nothing to commit); CRM_EINVALID when a
 * key is too long; a store or codec error. */
int contacts_customer_put(const contacts_db_t *db, crm_txn_t *txn, const Crm__V1__Customer *old,
                          const Crm__V1__Customer *cust, contacts_err_t *err);

/* Deletes the record of cust and its index entries (not its history). Returns 0 or a store error. */
int contacts_customer_remove(const contacts_db_t *db, crm_txn_t *txn, const Crm__V1__Customer *cust);

/* Finds the customer holding a unique value and writes its id into id_out. email is matched
 * case-insensitively; phone must be normalised. Each returns 0, CRM_ENOTFOUND or a store error. */
int contacts_customer_find_email(const contacts_db_t *db, crm_txn_t *txn, const char *email,
                                 char id_out[CRM_ID_SIZE]);
int contacts_customer_find_phone(const contacts_db_t *db, crm_txn_t *txn, const char *phone,
                                 char id_out[CRM_ID_SIZE]);
int contacts_customer_find_external(const contacts_db_t *db, crm_txn_t *txn, const char *system,
                                    const char *external_id, char id_out[CRM_ID_SIZE]);

/* One page of the customers matching every filter of q, in id order, after the customer named by
 * page_token ("" or NULL: from the start). Served from the most selective index; with no filter,
 * from the records. page_size 0 means CONTACTS_PAGE_SIZE_DEFAULT; more than
 * CONTACTS_PAGE_SIZE_MAX is cut. Returns 0 with *page filled (caller clears it with
 * contacts_page_clear), CRM_EINVALID (a malformed page token; err names "pageToken") or a store
 * or codec error. */
int contacts_customer_search(const contacts_db_t *db, crm_txn_t *txn, const contacts_query_t *q,
                             const char *page_token, uint32_t page_size, contacts_page_t *page,
                             contacts_err_t *err);

/* Frees what the page holds and zeroes it. Safe on a zeroed page. */
void contacts_page_clear(contacts_page_t *page);

/* --- Interactions */

/* Writes an interaction (id, customer_id and occurred_at set). Returns 0 or a store error. */
int contacts_interaction_put(const contacts_db_t *db, crm_txn_t *txn, const Crm__V1__Interaction *it);

/* One page of a customer's interactions, newest first. As contacts_customer_search for the
 * page size, token and errors. */
int contacts_interaction_list(const contacts_db_t *db, crm_txn_t *txn, const char *customer_id,
                              const char *page_token, uint32_t page_size, contacts_page_t *page,
                              contacts_err_t *err);

/* --- Purchases */

/* True when the purchase counts toward purchase_count: it is not fully refunded. */
bool contacts_purchase_counts(const Crm__V1__Purchase *p);

/* Writes a purchase (id, customer_id, order_id and purchased_at set) and its references by id and
 * order id, new or replacing the same purchase. Returns 0 or a store error. */
int contacts_purchase_put(const contacts_db_t *db, crm_txn_t *txn, const Crm__V1__Purchase *p);

/* Reads a purchase by its id, or by its order id. Each returns 0 with *out (caller frees with
 * crm_codec_message_free), CRM_ENOTFOUND or a store or codec error. */
int contacts_purchase_get(const contacts_db_t *db, crm_txn_t *txn, const char *purchase_id,
                          Crm__V1__Purchase **out);
int contacts_purchase_find_order(const contacts_db_t *db, crm_txn_t *txn, const char *order_id,
                                 Crm__V1__Purchase **out);

/* One page of a customer's purchases, newest first (see contacts_interaction_list). */
int contacts_purchase_list(const contacts_db_t *db, crm_txn_t *txn, const char *customer_id,
                           const char *page_token, uint32_t page_size, contacts_page_t *page,
                           contacts_err_t *err);

/* Counts a customer's purchases that count and finds the newest one's time. Sets *count and
 * *last_us (0 and *has_last false when none). Returns 0 or a store or codec error. */
int contacts_purchase_stats(const contacts_db_t *db, crm_txn_t *txn, const char *customer_id,
                            uint32_t *count, int64_t *last_us, bool *has_last);

/* --- A customer's history (interactions and purchases) */

/* Deletes every interaction and purchase of a customer, with the purchase references.
 * Returns 0 or a store or codec error. */
int contacts_history_delete(const contacts_db_t *db, crm_txn_t *txn, const char *customer_id);

/* Moves every interaction and purchase of from_id to to_id (their customerId changes).
 * Returns 0 or a store or codec error. */
int contacts_history_move(const contacts_db_t *db, crm_txn_t *txn, const char *from_id,
                          const char *to_id);

#endif
