/* loyalty_rewards.h: the rewards catalogue and redemptions: points and stock taken in one transaction, a unique code, used or cancelled. */
#ifndef LOYALTY_REWARDS_H
#define LOYALTY_REWARDS_H

#include <stdbool.h>
#include <stdint.h>

#include "crm/v1/loyalty.pb-c.h"
#include "loyalty_ctx.h"

#define LOYALTY_TOPIC_REWARD_REDEEMED  "crm.loyalty.reward.redeemed.v1"
#define LOYALTY_TOPIC_REWARD_USED      "crm.loyalty.reward.used.v1"
#define LOYALTY_TOPIC_REWARD_CANCELLED "crm.loyalty.reward.cancelled.v1"

#define LOYALTY_CODE_LEN         12      /* characters of a redemption code (Crockford base32) */
#define LOYALTY_CODE_SIZE        (LOYALTY_CODE_LEN + 1)
#define LOYALTY_CODE_TRIES       8       /* fresh codes drawn before giving up on a clash */
#define LOYALTY_MERGE_HOPS_MAX   8       /* merged accounts followed to find the survivor */

/* Checks a reward as given to PutReward (its id may be empty). Returns 0 or CRM_EINVALID with
 * err naming the field (for example "reward.pointsPrice"). */
int loyalty_reward_validate(const Crm__V1__Reward *reward, loyalty_err_t *err);

/* Reads a reward. Returns 0 with *reward_p (caller frees with crm_codec_message_free),
 * CRM_ENOTFOUND, or a store or codec error. */
int loyalty_reward_get(loyalty_t *ly, crm_txn_t *txn, const char *id, Crm__V1__Reward **reward_p);

/* Stores a reward (id set). Returns 0 or a store or codec error. */
int loyalty_reward_put(loyalty_t *ly, crm_txn_t *txn, const Crm__V1__Reward *reward);

/* True when the reward may be redeemed at now_us (valid, and in stock or unlimited). */
bool loyalty_reward_active(const Crm__V1__Reward *reward, int64_t now_us);

/* True when a customer of tier tier_id may take the reward. */
bool loyalty_reward_open_to(const Crm__V1__Reward *reward, const char *tier_id);

/* Redeems reward_id for customer_id at now: checks validity, tier, stock and balance, then, in
 * txn, takes the points (oldest lots first) and one item of stock, issues a unique code and
 * publishes crm.loyalty.points.redeemed.v1 and crm.loyalty.reward.redeemed.v1. With a
 * request_id, a repeat returns the first redemption. Returns 0 with *out (caller frees with
 * crm_codec_message_free) and *balance; CRM_ENOTFOUND (no such reward), CRM_ECONFLICT (not
 * available now, out of stock, balance too low, account closed), CRM_EDENIED (the customer's
 * tier may not take it), each with err filled; or a store or codec error. */
int loyalty_redeem(loyalty_t *ly, crm_txn_t *txn, const char *customer_id, const char *reward_id,
                   const char *request_id, Crm__V1__Redemption **out, int64_t *balance,
                   loyalty_err_t *err);

/* Finds a redemption by code (when not empty) or id. Returns 0 with *out (caller frees),
 * CRM_ENOTFOUND with err naming code or redemptionId, or a store or codec error. */
int loyalty_redemption_find(loyalty_t *ly, crm_txn_t *txn, const char *code, const char *id,
                            Crm__V1__Redemption **out, loyalty_err_t *err);

/* Marks a redemption used by actor (a key id). Publishes crm.loyalty.reward.used.v1.
 * Returns 0 with *out (caller frees); CRM_ENOTFOUND; CRM_ECONFLICT (used, cancelled or expired
 * already) with err; or a store or codec error. */
int loyalty_redemption_use(loyalty_t *ly, crm_txn_t *txn, const char *code, const char *id,
                           const char *actor, Crm__V1__Redemption **out, loyalty_err_t *err);

/* Cancels an issued redemption: its points go back (to the survivor after a merge; nowhere
 * for a deleted customer) and its item back to stock. Publishes
 * crm.loyalty.points.restored.v1 and crm.loyalty.reward.cancelled.v1. Returns 0 with *out
 * (caller frees) and *balance; CRM_ENOTFOUND; CRM_ECONFLICT (used or cancelled already) with
 * err; or a store or codec error. */
int loyalty_redemption_cancel(loyalty_t *ly, crm_txn_t *txn, const char *code, const char *id,
                              const char *reason, Crm__V1__Redemption **out, int64_t *balance,
                              loyalty_err_t *err);

/* Moves the index of from_id's redemptions to to_id (the records keep their customer; a
 * cancellation finds the survivor). Returns 0 or a store error. */
int loyalty_redemptions_move(loyalty_t *ly, crm_txn_t *txn, const char *from_id, const char *to_id);

#endif
