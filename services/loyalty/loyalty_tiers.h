/* loyalty_tiers.h: tiers (rolling spend and purchases, upgrade at once, downgrade at review after a grace period), badges, and the calendar of birthdays and anniversaries. */
#ifndef LOYALTY_TIERS_H
#define LOYALTY_TIERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crm/v1/loyalty.pb-c.h"
#include "loyalty_ctx.h"
#include "loyalty_record.h"

#define LOYALTY_TOPIC_TIER_CHANGED  "crm.loyalty.tier.changed.v1"
#define LOYALTY_TOPIC_BADGE_AWARDED "crm.loyalty.badge.awarded.v1"

#define LOYALTY_TIERS_MAX           32     /* tiers in the programme */
#define LOYALTY_TENTH_PURCHASE      10     /* the purchase count of the tenth-purchase badge */
#define LOYALTY_MULTIPLIER_MAX      10000  /* a tier's multiplierPercent: x100 */
#define LOYALTY_CALENDAR_BIRTHDAY   'b'
#define LOYALTY_CALENDAR_ANNIVERSARY 'a'

/* The programme's tiers, lowest rank first. */
typedef struct {
    Crm__V1__Tier **items;
    size_t count;
} loyalty_tiers_t;

/* Reads every tier, sorted by rank. Returns 0 with *tiers filled (caller clears them), or a
 * store or codec error. */
int loyalty_tiers_load(loyalty_t *ly, crm_txn_t *txn, loyalty_tiers_t *tiers);

/* Frees the tiers and zeroes them. Safe on zeroed tiers. */
void loyalty_tiers_clear(loyalty_tiers_t *tiers);

/* The tier with id tier_id, or the entry tier (lowest rank) when there is none such; NULL when
 * the programme has no tiers. Borrowed from tiers. */
const Crm__V1__Tier *loyalty_tiers_held(const loyalty_tiers_t *tiers, const char *tier_id);

/* The highest tier whose thresholds spend and purchases both meet (the entry tier at least);
 * NULL when there are no tiers. Borrowed. */
const Crm__V1__Tier *loyalty_tiers_qualify(const loyalty_tiers_t *tiers, int64_t spend,
                                           uint32_t purchases);

/* The tier ranked just above t; NULL at the top. Borrowed. */
const Crm__V1__Tier *loyalty_tiers_next(const loyalty_tiers_t *tiers, const Crm__V1__Tier *t);

/* A tier's purchase multiplier in percent: 100 for NULL or 0. */
uint32_t loyalty_tier_multiplier(const Crm__V1__Tier *t);

/* Checks a tier as given to PutTier. Returns 0 or CRM_EINVALID with err naming the field. */
int loyalty_tier_validate(const Crm__V1__Tier *tier, loyalty_err_t *err);

/* Stores a tier (id set). Returns 0, CRM_ECONFLICT (another tier has its rank; err names it),
 * CRM_ELIMIT (LOYALTY_TIERS_MAX tiers already), or a store or codec error. */
int loyalty_tier_put(loyalty_t *ly, crm_txn_t *txn, const Crm__V1__Tier *tier, loyalty_err_t *err);

/* Deletes a tier. Returns 0, CRM_ENOTFOUND or a store error. */
int loyalty_tier_del(loyalty_t *ly, crm_txn_t *txn, const char *id);

/* Writes the default tiers (Bronze, Silver, Gold, Platinum; README.md). Returns 0 or an error. */
int loyalty_tiers_seed(loyalty_t *ly, crm_txn_t *txn, int64_t now_us);

/* --- Purchases toward tiers */

/* Records a purchase toward the tiers (purchases database). Returns 0 or a store error. */
int loyalty_purchase_put(loyalty_t *ly, crm_txn_t *txn, const char *customer_id, int64_t at_us,
                         const char *purchase_id, const Crm__V1__PurchaseRecord *rec);

/* The rolling spend (purchases in the tier currency, refunds deducted) and purchase count (not
 * fully refunded) of a customer over the window ending at at_us. Returns 0 or an error. */
int loyalty_tier_stats(loyalty_t *ly, crm_txn_t *txn, const char *customer_id, int64_t at_us,
                       int64_t *spend, uint32_t *purchases);

/* Moves every purchase of from_id to to_id. Returns 0 or a store error. */
int loyalty_purchases_move(loyalty_t *ly, crm_txn_t *txn, const char *from_id, const char *to_id);

/* --- Tier changes */

/* Upgrades acc at once when the window ending at at_us earns a higher tier than it holds (or
 * sets the entry tier on a fresh account): publishes crm.loyalty.tier.changed.v1 and awards the
 * VIP badge on reaching a vip tier. Stores acc. Returns 0 or an error. */
int loyalty_tier_upgrade(loyalty_t *ly, crm_txn_t *txn, loyalty_account_t *acc, int64_t at_us);

/* The periodic review of acc at now_us: upgrades as loyalty_tier_upgrade does; when the window
 * earns a lower tier, remembers since when (the first review that saw it) and downgrades once
 * that is the grace period ago; forgets it when the customer qualifies again. Returns 0 or an
 * error. */
int loyalty_tier_review(loyalty_t *ly, crm_txn_t *txn, loyalty_account_t *acc, int64_t now_us);

/* --- Badges */

/* Awards badge kind to acc once, with the bonus its badge rules give: stores the badge,
 * publishes crm.loyalty.badge.awarded.v1, adds the bonus points. Sets *awarded (may be NULL)
 * to false when acc had it already. Returns 0 or an error. */
int loyalty_badge_award(loyalty_t *ly, crm_txn_t *txn, loyalty_account_t *acc,
                        Crm__V1__BadgeKind kind, int64_t at_us, bool *awarded);

/* Awards what acc's purchase count and membership have earned: first purchase, tenth purchase,
 * one year a member. Returns 0 or an error. */
int loyalty_badges_check(loyalty_t *ly, crm_txn_t *txn, loyalty_account_t *acc, int64_t at_us);

/* Copies acc from's badges that to lacks to to (no bonus, no event). Returns 0 or an error. */
int loyalty_badges_copy(loyalty_t *ly, crm_txn_t *txn, const char *from_id, const char *to_id);

/* --- Calendar */

/* Puts acc's birthday and membership anniversary in the calendar, removing the entries of
 * old_birthday and old_member_since_us when they differ ("" and 0 for none). Does not store
 * acc. Returns 0 or a store error. */
int loyalty_calendar_update(loyalty_t *ly, crm_txn_t *txn, const loyalty_account_t *acc,
                            const char *old_birthday, int64_t old_member_since_us);

/* Removes acc's calendar entries. Returns 0 or a store error. */
int loyalty_calendar_remove(loyalty_t *ly, crm_txn_t *txn, const loyalty_account_t *acc);

/* Celebrates, for day (days since the epoch, UTC), the customer of calendar key: the birthday
 * bonus once per calendar year (cause "birthday:<customer>:<year>"), or the one-year badge.
 * Returns 0 or an error. */
int loyalty_calendar_celebrate(loyalty_t *ly, crm_txn_t *txn, const crm_val_t *key, int64_t day);

/* True when s is a date "YYYY-MM-DD" that exists. */
bool loyalty_birthday_valid(const char *s);

/* Awards the birthday bonus of year for acc (once per year) at at_us; sets *points (may be
 * NULL). Returns 0 or an error. */
int loyalty_birthday_award(loyalty_t *ly, crm_txn_t *txn, loyalty_account_t *acc, int year,
                           int64_t at_us, int64_t *points, uint64_t *entry);

#endif
