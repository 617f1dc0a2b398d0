/* analytics_fold.h: folding events into a customer's facts and the facts into the day buckets: contributions, their difference, and merges and deletions. */
#ifndef ANALYTICS_FOLD_H
#define ANALYTICS_FOLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crm/v1/analytics.pb-c.h"
#include "analytics_ctx.h"

/* How the figures stay equal to a fold of the whole history, whatever the order events arrive in:
 * a customer's contribution to the figures (every day bucket, cohort cell, tier change and active
 * spell it adds to, in each of its segments) is a function of the customer's facts alone. Folding
 * an event computes the contribution of the facts before it, changes the facts, computes the
 * contribution after it, and writes only the difference. A late purchase that changes a
 * customer's first purchase, cohort or active spells, or a new owner or tier that moves the
 * customer to another segment, is thus counted exactly as if it had been there all along. */

/* Families of facts: an event changes one; a change of segment or profile changes all. */
#define ANALYTICS_FAM_PURCHASES  0x1u   /* profile and purchases */
#define ANALYTICS_FAM_ANSWERS    0x2u
#define ANALYTICS_FAM_COMPLAINTS 0x4u
#define ANALYTICS_FAM_LOYALTY    0x8u
#define ANALYTICS_FAM_ALL        0xfu

#define ANALYTICS_SCOPES_MAX     4      /* all, tier, need type, owner */
#define ANALYTICS_CONTACTS_KEPT  16     /* newest interaction times kept per customer */
#define ANALYTICS_MERGE_HOPS     8      /* merged_into links followed */

/* What one item adds to. */
typedef enum {
    ANALYTICS_ITEM_DAY = 1,       /* days: <scope><a = day>, field = DayFigures field number */
    ANALYTICS_ITEM_COHORT = 2,    /* cohorts: <scope><a = cohort month><b = offset> */
    ANALYTICS_ITEM_TIER = 3,      /* tiers: <scope><a = day><name = tier id> */
    ANALYTICS_ITEM_LAPSE = 4,     /* lapses: <scope><a = lapse day><b = start day><name = customer id> */
} analytics_item_kind_t;

/* One contribution. Strings are borrowed (from the scopes and the customer record). */
typedef struct {
    uint8_t kind;
    uint8_t field;
    const char *scope;
    int64_t a;
    int64_t b;
    const char *name;
    int64_t value;
} analytics_item_t;

typedef struct {
    analytics_item_t *v;
    size_t count;
    size_t cap;
} analytics_items_t;

/* A customer's segments as scope texts ("a", "tgold", "n1", "oann"). */
typedef struct {
    char text[ANALYTICS_SCOPES_MAX][ANALYTICS_SCOPE_MAX];
    size_t count;
} analytics_scopes_t;

/* Frees the items' array and zeroes the list. Safe on a zeroed list. */
void analytics_items_clear(analytics_items_t *items);

/* The customer's scopes: "a"; "t<tier>" for a loyalty member (the tier of the latest change, or
 * the entry tier); "n<need type>" when known; "o<owner>" when set. */
void analytics_scopes(const analytics_t *an, const Crm__V1__AnalyticsCustomer *c, analytics_scopes_t *scopes);

/* The customer's loyalty tier now (the latest change's, else the entry tier), or "" for a
 * customer who is not a member. Borrowed from c or the settings. */
const char *analytics_customer_tier(const analytics_t *an, const Crm__V1__AnalyticsCustomer *c);

/* True for a net purchase (not fully refunded). */
bool analytics_purchase_net(const Crm__V1__PurchaseFact *p);

/* Appends the contributions of the families of c, each with value * sign, in each scope.
 * Returns 0 or CRM_ENOMEM. */
int analytics_contrib(const analytics_t *an, const Crm__V1__AnalyticsCustomer *c, const analytics_scopes_t *scopes,
                      unsigned families, int sign, analytics_items_t *items);

/* Sorts items, sums equal ones and writes the non-zero sums into the figure databases.
 * Returns 0 or a store or codec error. */
int analytics_items_apply(const analytics_t *an, crm_txn_t *txn, analytics_items_t *items);

/* --- The fold */

/* Changes a customer's facts for one event; sets *families to the families it changed (0:
 * nothing). Returns 0, CRM_EINVALID (a malformed event) or CRM_ENOMEM. */
typedef int (*analytics_mutate_fn)(const analytics_t *an, Crm__V1__AnalyticsCustomer *c, void *arg,
                                   unsigned *families);

/* Folds one change into customer_id's facts and the figures: follows merges to the survivor,
 * ignores deleted customers, creates the customer when new. Writes resolved_id (the customer
 * changed; "" when ignored) and sets *families. Returns 0, the mutate function's error, or a
 * store or codec error. */
int analytics_fold(analytics_t *an, crm_txn_t *txn, const char *customer_id, analytics_mutate_fn fn,
                   void *arg, char resolved_id[CRM_ID_SIZE], unsigned *families);

/* Contacts merged merged_id into survivor_id: the merged customer's facts join the survivor's
 * (the survivor's profile from contacts when given), its figures move with them, and it becomes a
 * link to the survivor; its published state goes. Returns 0, CRM_EINVALID or a store or codec
 * error. */
int analytics_fold_merge(analytics_t *an, crm_txn_t *txn, const char *survivor_id, const char *merged_id,
                         const Crm__V1__Customer *survivor);

/* Contacts deleted the customer: its figures and facts go, later events about it are ignored.
 * Returns 0 or a store or codec error. */
int analytics_fold_delete(analytics_t *an, crm_txn_t *txn, const char *customer_id);

/* Reads a customer's record (NULL when unknown). Returns 0 with *c_p (caller frees with
 * crm_codec_message_free; NULL when not found), or a store or codec error. */
int analytics_customer_get(const analytics_t *an, crm_txn_t *txn, const char *customer_id,
                           Crm__V1__AnalyticsCustomer **c_p);

/* --- Fact changes (for the mutate functions) */

/* The profile from a contacts Customer: created_us, need type, owner, stage. */
int analytics_fact_profile(Crm__V1__AnalyticsCustomer *c, const Crm__V1__Customer *cust, unsigned *families);

/* A purchase (new, or updated by a refund: refunded_minor and the refund appended once by id). */
int analytics_fact_purchase(Crm__V1__AnalyticsCustomer *c, const char *id, int64_t time_us, int64_t amount_minor,
                            const char *currency, int64_t refunded_minor, const Crm__V1__RefundFact *refund,
                            unsigned *families);

/* A survey answer, once by id. */
int analytics_fact_answer(Crm__V1__AnalyticsCustomer *c, const Crm__V1__AnswerFact *answer, unsigned *families);

/* A complaint's newest state (an older version than the one kept changes nothing). */
int analytics_fact_complaint(Crm__V1__AnalyticsCustomer *c, const Crm__V1__ComplaintFact *complaint,
                             unsigned *families);

/* A ledger entry: its day's sums and the membership start; day is the local day of time_us. */
int analytics_fact_points(Crm__V1__AnalyticsCustomer *c, int64_t day, int64_t time_us, int64_t earned,
                          int64_t redeemed, int64_t expired, int64_t other, bool redeem, unsigned *families);

/* A tier change (changes the customer's segment). */
int analytics_fact_tier(Crm__V1__AnalyticsCustomer *c, int64_t time_us, const char *from_tier, const char *to_tier,
                        uint64_t order, unsigned *families);

/* A "points expiring" notice: kept when newer than the one kept. */
int analytics_fact_notice(Crm__V1__AnalyticsCustomer *c, int64_t time_us, int64_t expires_us, int64_t points,
                          unsigned *families);

/* An interaction time (newest ANALYTICS_CONTACTS_KEPT kept; changes no figure). */
int analytics_fact_contact(Crm__V1__AnalyticsCustomer *c, int64_t time_us, unsigned *families);

#endif
