/* loyalty_rules.h: earning rules: validation, storage, the default rules, and what an earning is worth under caps, limits and budgets. */
#ifndef LOYALTY_RULES_H
#define LOYALTY_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crm/v1/loyalty.pb-c.h"
#include "loyalty_ctx.h"
#include "loyalty_record.h"

/* How points are worked out (README.md, "Earning rules"): every rule of the earning's kind that
 * is valid at the earning's time and open to the customer's tier adds its points: a purchase rule
 * of the purchase's currency floor(amount_minor * points_per_unit / unit_minor), another rule its
 * fixed_points; then, unless no_tier_multiplier, times the tier's multiplier_percent / 100
 * (rounded down); then cut to what the rule's per-customer limits (points and times per UTC
 * day, ISO week and calendar month) and its budget still allow. A campaign is one more rule. */

#define LOYALTY_PARTS_MAX        16      /* rules that may add to one earning (in id order) */
#define LOYALTY_RULES_MAX        1024    /* rules in the store */
#define LOYALTY_DEFAULT_UNIT     100     /* minor units per unit when unit_minor is 0 */
#define LOYALTY_COUNTER_KEY_MAX  (1 + 4 + LOYALTY_NAME_MAX + 1 + CRM_ID_LEN)

/* One earning to price. Strings are borrowed for the call. */
typedef struct {
    Crm__V1__EarnKind kind;
    const char *customer_id;
    const char *currency;                /* purchase */
    int64_t amount_minor;                /* purchase */
    Crm__V1__BadgeKind badge;            /* badge */
    Crm__V1__ReferralTarget side;        /* referral: REFERRER or REFEREE, the one rewarded */
    const char *tier_id;                 /* the customer's tier ("" for none) */
    uint32_t multiplier_percent;         /* that tier's multiplier (0 means 100) */
    int64_t at_us;                       /* when it happened: rules' validity and periods */
} loyalty_earning_t;

/* What an earning is worth: the total and each rule's part (parts point into this struct). */
typedef struct {
    int64_t points;
    size_t count;
    Crm__V1__EarnPart items[LOYALTY_PARTS_MAX];
    Crm__V1__EarnPart *ptrs[LOYALTY_PARTS_MAX];
    char ids[LOYALTY_PARTS_MAX][LOYALTY_NAME_SIZE];
} loyalty_parts_t;

/* True when s is a currency code: LOYALTY_CURRENCY_LEN upper-case letters. */
bool loyalty_currency_valid(const char *s);

/* True when s is a valid rule, tier or reward id: 1 to LOYALTY_NAME_MAX bytes of
 * [A-Za-z0-9._-]. */
bool loyalty_name_valid(const char *s);

/* Checks a rule as given to PutRule (its id may be empty). Returns 0 or CRM_EINVALID with err
 * naming the field (for example "rule.currency"). */
int loyalty_rule_validate(const Crm__V1__EarnRule *rule, loyalty_err_t *err);

/* Reads a rule. Returns 0 with *rule_p (caller frees with crm_codec_message_free),
 * CRM_ENOTFOUND, or a store or codec error. */
int loyalty_rule_get(loyalty_t *ly, crm_txn_t *txn, const char *id, Crm__V1__EarnRule **rule_p);

/* Stores a rule (id set) as given. Returns 0, CRM_ELIMIT (LOYALTY_RULES_MAX rules already, for
 * a new one), or a store or codec error. */
int loyalty_rule_put(loyalty_t *ly, crm_txn_t *txn, const Crm__V1__EarnRule *rule);

/* Deletes a rule and its usage. Returns 0, CRM_ENOTFOUND or a store error. */
int loyalty_rule_del(loyalty_t *ly, crm_txn_t *txn, const char *id);

/* Points awarded so far by rule id (0 when none). Returns 0 or a store or codec error. */
int loyalty_rule_awarded(loyalty_t *ly, crm_txn_t *txn, const char *id, int64_t *points);

/* Writes the default rules (README.md) stamped at now_us. Returns 0 or a store or codec error. */
int loyalty_rules_seed(loyalty_t *ly, crm_txn_t *txn, int64_t now_us);

/* Prices an earning and records the rules' use (per-customer counters, budgets) in txn.
 * Fills *parts. Returns 0 or a store or codec error. */
int loyalty_rules_price(loyalty_t *ly, crm_txn_t *txn, const loyalty_earning_t *e,
                        loyalty_parts_t *parts);

/* Prices an earning for acc (its tier filled in from the tiers) and adds the points to acc as one
 * lot with cause (pending for the return window when pending). Sets *points_out, *lot_out and
 * *entry_out (each may be NULL; 0 when nothing was earned). Returns 0 or a store or codec
 * error. */
int loyalty_rules_award(loyalty_t *ly, crm_txn_t *txn, loyalty_account_t *acc,
                        const loyalty_earning_t *e, const char *cause, bool pending,
                        int64_t *points_out, uint64_t *lot_out, uint64_t *entry_out);

/* Deletes per-customer counters of periods that ended before the previous one, at most max
 * keys; sets *deleted. Returns 0 or a store error. */
int loyalty_counters_trim(loyalty_t *ly, crm_txn_t *txn, int64_t now_us, size_t max,
                          size_t *deleted);

#endif
