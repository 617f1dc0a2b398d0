/* loyalty_ledger.h: the points ledger: lots earned, spent oldest first, released, expired, reversed, adjusted, merged; one entry and one event per change. */
#ifndef LOYALTY_LEDGER_H
#define LOYALTY_LEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crm/v1/loyalty.pb-c.h"
#include "loyalty_ctx.h"
#include "loyalty_record.h"

/* Every function here works inside a write transaction txn on an account read with
 * loyalty_account_get, appends at most one ledger entry with its event
 * (crm.loyalty.points.<earned|released|redeemed|restored|expired|reversed|adjusted|merged|
 * closed>.v1, payload crm.v1.PointsChanged) and stores the account before it returns. The
 * ledger's invariants (loyalty_ledger_check) hold after each. */

#define LOYALTY_TOPIC_EARNED    "crm.loyalty.points.earned.v1"
#define LOYALTY_TOPIC_RELEASED  "crm.loyalty.points.released.v1"
#define LOYALTY_TOPIC_REDEEMED  "crm.loyalty.points.redeemed.v1"
#define LOYALTY_TOPIC_RESTORED  "crm.loyalty.points.restored.v1"
#define LOYALTY_TOPIC_EXPIRED   "crm.loyalty.points.expired.v1"
#define LOYALTY_TOPIC_REVERSED  "crm.loyalty.points.reversed.v1"
#define LOYALTY_TOPIC_ADJUSTED  "crm.loyalty.points.adjusted.v1"
#define LOYALTY_TOPIC_MERGED    "crm.loyalty.points.merged.v1"
#define LOYALTY_TOPIC_CLOSED    "crm.loyalty.points.closed.v1"
#define LOYALTY_TOPIC_EXPIRING  "crm.loyalty.points.expiring.v1"

#define LOYALTY_POINTS_MAX      (INT64_C(1) << 50)   /* points in one earning or adjustment */

/* Lots drawn from or given back to: a growing array of crm.v1.LotDraw. */
typedef struct {
    Crm__V1__LotDraw *items;
    Crm__V1__LotDraw **ptrs;      /* items' addresses, as a repeated field wants them */
    size_t count;
    size_t cap;
} loyalty_draws_t;

/* Appends a draw. Returns 0 or CRM_ENOMEM. */
int loyalty_draws_add(loyalty_draws_t *draws, uint64_t lot, int64_t points, bool pending);

/* Frees the draws and zeroes them. Safe on zeroed draws. */
void loyalty_draws_clear(loyalty_draws_t *draws);

/* An earning: what loyalty_ledger_earn puts in a new lot. Strings are borrowed for the call. */
typedef struct {
    Crm__V1__EarnKind kind;
    const char *cause;                   /* e.g. "purchase:<purchase id>" */
    int64_t points;                      /* <= 0: nothing is written */
    int64_t earned_us;                   /* when it was earned (the lot's earnedAt) */
    int64_t expires_us;                  /* 0: earned_us + the validity setting */
    bool pending;                        /* hold the points for the return window */
    Crm__V1__EarnPart **parts;           /* the rules' contributions, for the entry */
    size_t part_count;
    const char *reason;                  /* a short note, or the admin's reason */
    const char *actor;                   /* the admin's key id, or NULL */
    Crm__V1__EntryKind entry_kind;       /* 0: ENTRY_KIND_EARN; ADJUST for adjustments */
} loyalty_earn_t;

/* Adds a lot of e->points: pending until earned_us + the return window when e->pending and
 * that is still ahead, else spendable. Sets *lot_out to its number and *entry_out to the entry
 * (either may be NULL; 0 when points <= 0 and nothing was written). Returns 0, CRM_EINVALID
 * (points above LOYALTY_POINTS_MAX, or a closed account), or a store or codec error. */
int loyalty_ledger_earn(loyalty_t *ly, crm_txn_t *txn, loyalty_account_t *acc,
                        const loyalty_earn_t *e, uint64_t *lot_out, uint64_t *entry_out);

/* Spends points from the spendable balance, oldest lot first (a REDEEM entry naming
 * redemption_id). Fills draws (caller clears them) with the lots spent. Returns 0,
 * CRM_ECONFLICT when the balance is short (nothing changed), CRM_EINVALID (points <= 0), or a
 * store or codec error. */
int loyalty_ledger_redeem(loyalty_t *ly, crm_txn_t *txn, loyalty_account_t *acc, int64_t points,
                          const char *cause, const char *redemption_id, loyalty_draws_t *draws,
                          uint64_t *entry_out);

/* Gives back what a redemption drew (a REDEEM_CANCEL entry): to the same lots when they belong
 * to acc (from_customer is acc's id), else, after a merge, as new lots of acc that expire with
 * the lots drawn from. Lots whose time has passed expire at the next tick. Returns 0 or a store
 * or codec error. */
int loyalty_ledger_restore(loyalty_t *ly, crm_txn_t *txn, loyalty_account_t *acc,
                           const char *from_customer, Crm__V1__LotDraw *const *draws,
                           size_t draw_count, const char *cause, const char *redemption_id,
                           uint64_t *entry_out);

/* Takes back points a refund reverses (a REVERSE entry): first from lot (its pending points
 * too; 0: none), then from spendable lots oldest first, never below zero; what could not be
 * taken is the shortfall, recorded on the entry and the account. Sets *shortfall_out (may be
 * NULL). Returns 0 or a store or codec error. */
int loyalty_ledger_reverse(loyalty_t *ly, crm_txn_t *txn, loyalty_account_t *acc, int64_t points,
                           uint64_t lot, const char *cause, uint64_t *entry_out,
                           int64_t *shortfall_out);

/* A manual adjustment (an ADJUST entry with reason and actor): positive points make a new lot
 * expiring at expires_us (0: after the validity setting); negative ones are taken oldest lot
 * first. Returns 0, CRM_ECONFLICT when the balance is short of a deduction, CRM_EINVALID
 * (points 0 or beyond LOYALTY_POINTS_MAX, or a closed account), or a store or codec error. */
int loyalty_ledger_adjust(loyalty_t *ly, crm_txn_t *txn, loyalty_account_t *acc, int64_t points,
                          const char *reason, const char *actor, const char *cause,
                          int64_t expires_us, uint64_t *entry_out);

/* Makes a pending lot spendable (a RELEASE entry). Nothing happens when the lot is not pending
 * or has no points left. Returns 0, CRM_ENOTFOUND or a store or codec error. */
int loyalty_ledger_release(loyalty_t *ly, crm_txn_t *txn, loyalty_account_t *acc, uint64_t lot);

/* Expires what is left of a lot (an EXPIRE entry). Nothing happens when nothing is left.
 * Returns 0, CRM_ENOTFOUND or a store or codec error. */
int loyalty_ledger_expire(loyalty_t *ly, crm_txn_t *txn, loyalty_account_t *acc, uint64_t lot);

/* Moves every open lot of from to to, keeping expiry and pending state (a MERGE_OUT entry on
 * from, a MERGE_IN entry on to), points the causes of the moved lots at their new lots, and
 * closes from (merged_into = to). Returns 0 or a store or codec error. */
int loyalty_ledger_merge(loyalty_t *ly, crm_txn_t *txn, loyalty_account_t *to,
                         loyalty_account_t *from, const char *cause);

/* Forfeits every point of acc (a CLOSE entry) and closes the account. Returns 0 or a store or
 * codec error. */
int loyalty_ledger_close(loyalty_t *ly, crm_txn_t *txn, loyalty_account_t *acc, const char *cause);

/* Checks a customer's ledger in txn (read or write): balance and pending are not negative and
 * equal the sums of the entries' points and pending points (and every entry's running
 * totals); entries are numbered without holes; the lots' points left equal the balances, each
 * lot with points left is indexed as open and by expiry (and by release time while pending);
 * lifetime totals add up to the balances. Returns 0, CRM_EINVALID with why (a sentence, may be
 * NULL) filled, or a store or codec error. */
int loyalty_ledger_check(loyalty_t *ly, crm_txn_t *txn, const char *customer_id, char *why,
                         size_t why_size);

#endif
