/* loyalty_rewards.c: the rewards catalogue and redemptions. */
#include "loyalty_rewards.h"

#include <assert.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crm_codec.h"
#include "crm_error.h"
#include "loyalty_ledger.h"
#include "loyalty_record.h"
#include "loyalty_rules.h"
#include "loyalty_tiers.h"

#define S_TEXT_MAX        256     /* bytes of a reward's name */
#define S_DESCRIPTION_MAX 2048
#define S_TIERS_MAX       32
#define S_CODE_DAYS_MAX   3660
#define S_REDEMPTION_KEY_LEN (CRM_ID_LEN + CRM_ID_LEN)

/* Crockford base32 without I, L, O, U: nothing to misread on a receipt. */
static const char s_code_alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

int loyalty_reward_validate(const Crm__V1__Reward *r, loyalty_err_t *err)
{
    if (r->id[0] && !loyalty_name_valid(r->id))
        return loyalty_fail(err, CRM_RPC_INVALID, "reward.id",
                            "an id is 1 to %d characters of letters, digits, '.', '_' and '-'",
                            LOYALTY_NAME_MAX);
    if (r->name[0] == '\0' || strlen(r->name) > S_TEXT_MAX)
        return loyalty_fail(err, CRM_RPC_INVALID, "reward.name", "a name of 1 to %d bytes is required",
                            S_TEXT_MAX);
    if (strlen(r->description) > S_DESCRIPTION_MAX)
        return loyalty_fail(err, CRM_RPC_INVALID, "reward.description", "longer than %d bytes",
                            S_DESCRIPTION_MAX);
    if (r->kind < CRM__V1__REWARD_KIND__REWARD_KIND_GIFT || r->kind > CRM__V1__REWARD_KIND__REWARD_KIND_VOUCHER)
        return loyalty_fail(err, CRM_RPC_INVALID, "reward.kind", "kind must be gift, coupon or voucher");
    if (r->points_price <= 0 || r->points_price > LOYALTY_POINTS_MAX)
        return loyalty_fail(err, CRM_RPC_INVALID, "reward.pointsPrice", "pointsPrice must be from 1 to %lld",
                            (long long) LOYALTY_POINTS_MAX);
    if (r->stock < 0)
        return loyalty_fail(err, CRM_RPC_INVALID, "reward.stock", "must not be negative");
    if (r->value_minor < 0)
        return loyalty_fail(err, CRM_RPC_INVALID, "reward.valueMinor", "must not be negative");
    if (r->currency[0] && !loyalty_currency_valid(r->currency))
        return loyalty_fail(err, CRM_RPC_INVALID, "reward.currency", "an ISO 4217 code such as \"CNY\"");
    if (r->code_validity_days > S_CODE_DAYS_MAX)
        return loyalty_fail(err, CRM_RPC_INVALID, "reward.codeValidityDays", "at most %d days",
                            S_CODE_DAYS_MAX);
    if (r->valid_from && r->valid_until && loyalty_ts_us(r->valid_until) <= loyalty_ts_us(r->valid_from))
        return loyalty_fail(err, CRM_RPC_INVALID, "reward.validUntil", "validUntil must be after validFrom");
    if (r->n_tiers > S_TIERS_MAX)
        return loyalty_fail(err, CRM_RPC_INVALID, "reward.tiers", "at most %d tiers", S_TIERS_MAX);
    for (size_t i = 0; i < r->n_tiers; i++)
        if (!loyalty_name_valid(r->tiers[i])) {
            char field[LOYALTY_FIELD_MAX];
            snprintf(field, sizeof field, "reward.tiers[%zu]", i);
            return loyalty_fail(err, CRM_RPC_INVALID, field, "not a tier id");
        }
    return 0;
}

int loyalty_reward_get(loyalty_t *ly, crm_txn_t *txn, const char *id, Crm__V1__Reward **reward_p)
{
    if (!loyalty_name_valid(id))
        return CRM_ENOTFOUND;
    return loyalty_record_get(txn, ly->db.rewards, id, strlen(id), &crm__v1__reward__descriptor,
                              (ProtobufCMessage **) reward_p);
}

int loyalty_reward_put(loyalty_t *ly, crm_txn_t *txn, const Crm__V1__Reward *reward)
{
    assert(loyalty_name_valid(reward->id));
    return loyalty_record_put(txn, ly->db.rewards, reward->id, strlen(reward->id), &reward->base);
}

bool loyalty_reward_active(const Crm__V1__Reward *r, int64_t now_us)
{
    if (r->valid_from && now_us < loyalty_ts_us(r->valid_from))
        return false;
    if (r->valid_until && now_us >= loyalty_ts_us(r->valid_until))
        return false;
    return r->unlimited || r->stock > 0;
}

bool loyalty_reward_open_to(const Crm__V1__Reward *r, const char *tier_id)
{
    if (r->n_tiers == 0)
        return true;
    for (size_t i = 0; i < r->n_tiers; i++)
        if (tier_id && strcmp(r->tiers[i], tier_id) == 0)
            return true;
    return false;
}

/* --- Redemptions */

static int s_redemption_get(loyalty_t *ly, crm_txn_t *txn, const char *id, Crm__V1__Redemption **out)
{
    if (!crm_id_valid(id))
        return CRM_ENOTFOUND;
    return loyalty_record_get(txn, ly->db.redemptions, id, CRM_ID_LEN, &crm__v1__redemption__descriptor,
                              (ProtobufCMessage **) out);
}

/* Draws a code no other redemption has. */
static int s_new_code(loyalty_t *ly, crm_txn_t *txn, char code[LOYALTY_CODE_SIZE])
{
    for (int attempt = 0; attempt < LOYALTY_CODE_TRIES; attempt++) {
        uint8_t random[LOYALTY_CODE_LEN];
        randombytes_buf(random, sizeof random);
        for (int i = 0; i < LOYALTY_CODE_LEN; i++)
            code[i] = s_code_alphabet[random[i] % (sizeof s_code_alphabet - 1)];
        code[LOYALTY_CODE_LEN] = '\0';
        crm_val_t v;
        int rc = crm_store_get(txn, ly->db.codes, code, LOYALTY_CODE_LEN, &v);
        if (rc == CRM_ENOTFOUND)
            return 0;
        if (rc)
            return rc;
    }
    return CRM_ECONFLICT;
}

/* Publishes a redemption's change. */
static int s_redemption_event(loyalty_t *ly, crm_txn_t *txn, const char *topic, Crm__V1__Redemption *r)
{
    Crm__V1__RedemptionChanged ev = CRM__V1__REDEMPTION_CHANGED__INIT;
    ev.redemption = r;
    return loyalty_emit(ly, txn, topic, r->customer_id, &ev.base, loyalty_now(ly));
}

int loyalty_redeem(loyalty_t *ly, crm_txn_t *txn, const char *customer_id, const char *reward_id,
                   const char *request_id, Crm__V1__Redemption **out, int64_t *balance,
                   loyalty_err_t *err)
{
    *out = NULL;
    *balance = 0;
    int64_t now = loyalty_now(ly);
    char cause[LOYALTY_CAUSE_MAX] = "";
    Crm__V1__Reward *reward = NULL;
    loyalty_tiers_t tiers = { 0 };
    loyalty_draws_t draws = { 0 };
    loyalty_account_t acc;
    int rc = loyalty_account_get(&ly->db, txn, customer_id, &acc);
    if (rc)
        return rc;
    if (request_id && *request_id) {
        snprintf(cause, sizeof cause, "redeem:%s:%s", customer_id, request_id);
        Crm__V1__CauseRecord *rec = NULL;
        rc = loyalty_cause_get(&ly->db, txn, cause, &rec);
        if (rc == 0) {
            rc = s_redemption_get(ly, txn, rec->ref, out);
            crm_codec_message_free((ProtobufCMessage **) &rec);
            *balance = acc.balance;
            return rc;
        }
        if (rc != CRM_ENOTFOUND)
            return rc;
    }
    rc = loyalty_reward_get(ly, txn, reward_id, &reward);
    if (rc == CRM_ENOTFOUND)
        return loyalty_fail(err, CRM_RPC_NOT_FOUND, "rewardId", "no reward %s", reward_id);
    if (rc)
        return rc;
    rc = loyalty_tiers_load(ly, txn, &tiers);
    if (rc)
        goto out;
    const Crm__V1__Tier *held = loyalty_tiers_held(&tiers, acc.tier);
    if (acc.closed) {
        rc = loyalty_fail(err, CRM_RPC_CONFLICT, "customerId", "the customer's account is closed");
    } else if ((reward->valid_from && now < loyalty_ts_us(reward->valid_from))
               || (reward->valid_until && now >= loyalty_ts_us(reward->valid_until))) {
        rc = loyalty_fail(err, CRM_RPC_CONFLICT, "rewardId", "reward %s is not available now", reward_id);
    } else if (!loyalty_reward_open_to(reward, held ? held->id : "")) {
        rc = loyalty_fail(err, CRM_RPC_FORBIDDEN, "rewardId", "reward %s is not open to tier %s",
                          reward_id, held ? held->id : "(none)");
    } else if (!reward->unlimited && reward->stock <= 0) {
        rc = loyalty_fail(err, CRM_RPC_CONFLICT, "rewardId", "reward %s is out of stock", reward_id);
    } else if (acc.balance < reward->points_price) {
        rc = loyalty_fail(err, CRM_RPC_CONFLICT, "customerId",
                          "the balance (%lld points) is below the price (%lld points)",
                          (long long) acc.balance, (long long) reward->points_price);
    }
    if (rc)
        goto out;

    char id[CRM_ID_SIZE], code[LOYALTY_CODE_SIZE];
    rc = crm_id_next(ly->ids, id);
    if (rc == 0)
        rc = s_new_code(ly, txn, code);
    uint64_t entry = 0;
    if (rc == 0)
        rc = loyalty_ledger_redeem(ly, txn, &acc, reward->points_price, cause[0] ? cause : "redeem",
                                   id, &draws, &entry);
    if (rc)
        goto out;

    Crm__V1__Reward updated = *reward;
    if (!updated.unlimited)
        updated.stock -= 1;
    updated.redeemed += 1;
    rc = loyalty_reward_put(ly, txn, &updated);
    if (rc)
        goto out;

    int64_t validity = reward->code_validity_days ? (int64_t) reward->code_validity_days * LOYALTY_US_PER_DAY
                                                  : ly->settings.code_validity_us;
    Crm__V1__Timestamp created_at, expires_at;
    Crm__V1__Redemption r = CRM__V1__REDEMPTION__INIT;
    r.id = id;
    r.code = code;
    r.customer_id = acc.customer_id;
    r.reward_id = reward->id;
    r.reward_name = reward->name;
    r.reward_kind = reward->kind;
    r.points = reward->points_price;
    r.status = CRM__V1__REDEMPTION_STATUS__REDEMPTION_STATUS_ISSUED;
    r.entry = entry;
    r.n_draws = draws.count;
    r.draws = draws.ptrs;
    r.created_at = loyalty_ts_set(&created_at, now);
    r.expires_at = loyalty_ts_set(&expires_at, now + validity);
    r.request_id = (char *) (request_id ? request_id : "");
    rc = loyalty_record_put(txn, ly->db.redemptions, id, CRM_ID_LEN, &r.base);
    if (rc == 0)
        rc = crm_store_put(txn, ly->db.codes, code, LOYALTY_CODE_LEN, id, CRM_ID_LEN, CRM_STORE_NOOVERWRITE);
    if (rc == 0) {
        uint8_t key[S_REDEMPTION_KEY_LEN];
        memcpy(key, acc.customer_id, CRM_ID_LEN);
        memcpy(key + CRM_ID_LEN, id, CRM_ID_LEN);
        rc = loyalty_index_put(txn, ly->db.customer_redemptions, key, sizeof key);
    }
    if (rc == 0 && cause[0]) {
        Crm__V1__CauseRecord rec = CRM__V1__CAUSE_RECORD__INIT;
        rec.customer_id = acc.customer_id;
        rec.entry = entry;
        rec.ref = id;
        rc = loyalty_cause_put(&ly->db, txn, cause, &rec);
    }
    if (rc == 0)
        rc = s_redemption_event(ly, txn, LOYALTY_TOPIC_REWARD_REDEEMED, &r);
    if (rc == 0)
        rc = s_redemption_get(ly, txn, id, out);
    if (rc == 0)
        *balance = acc.balance;
out:
    loyalty_draws_clear(&draws);
    loyalty_tiers_clear(&tiers);
    crm_codec_message_free((ProtobufCMessage **) &reward);
    return rc;
}

int loyalty_redemption_find(loyalty_t *ly, crm_txn_t *txn, const char *code, const char *id,
                            Crm__V1__Redemption **out, loyalty_err_t *err)
{
    *out = NULL;
    char found[CRM_ID_SIZE] = "";
    if (code && *code) {
        crm_val_t v;
        int rc = strlen(code) == LOYALTY_CODE_LEN ? crm_store_get(txn, ly->db.codes, code, LOYALTY_CODE_LEN, &v)
                                                  : CRM_ENOTFOUND;
        if (rc == CRM_ENOTFOUND || (rc == 0 && v.size != CRM_ID_LEN))
            return loyalty_fail(err, CRM_RPC_NOT_FOUND, "code", "no redemption has this code");
        if (rc)
            return rc;
        memcpy(found, v.data, CRM_ID_LEN);
        found[CRM_ID_LEN] = '\0';
        id = found;
    }
    if (!id || !*id)
        return loyalty_fail(err, CRM_RPC_INVALID, "code", "a code or a redemptionId is required");
    int rc = s_redemption_get(ly, txn, id, out);
    if (rc == CRM_ENOTFOUND)
        return loyalty_fail(err, CRM_RPC_NOT_FOUND, found[0] ? "code" : "redemptionId", "no such redemption");
    return rc;
}

/* Refuses a change to a redemption that is not issued any more. */
static int s_require_issued(const Crm__V1__Redemption *r, const char *field, loyalty_err_t *err)
{
    if (r->status == CRM__V1__REDEMPTION_STATUS__REDEMPTION_STATUS_USED)
        return loyalty_fail(err, CRM_RPC_CONFLICT, field, "redemption %s was used already", r->id);
    if (r->status == CRM__V1__REDEMPTION_STATUS__REDEMPTION_STATUS_CANCELLED)
        return loyalty_fail(err, CRM_RPC_CONFLICT, field, "redemption %s was cancelled", r->id);
    return 0;
}

int loyalty_redemption_use(loyalty_t *ly, crm_txn_t *txn, const char *code, const char *id,
                           const char *actor, Crm__V1__Redemption **out, loyalty_err_t *err)
{
    *out = NULL;
    Crm__V1__Redemption *r = NULL;
    int rc = loyalty_redemption_find(ly, txn, code, id, &r, err);
    if (rc)
        return rc;
    const char *field = code && *code ? "code" : "redemptionId";
    int64_t now = loyalty_now(ly);
    rc = s_require_issued(r, field, err);
    if (rc == 0 && r->expires_at && now >= loyalty_ts_us(r->expires_at))
        rc = loyalty_fail(err, CRM_RPC_CONFLICT, field, "the code expired");
    if (rc == 0) {
        Crm__V1__Timestamp used_at;
        Crm__V1__Redemption upd = *r;
        upd.status = CRM__V1__REDEMPTION_STATUS__REDEMPTION_STATUS_USED;
        upd.used_at = loyalty_ts_set(&used_at, now);
        upd.used_by = (char *) (actor ? actor : "");
        rc = loyalty_record_put(txn, ly->db.redemptions, r->id, CRM_ID_LEN, &upd.base);
        if (rc == 0)
            rc = s_redemption_event(ly, txn, LOYALTY_TOPIC_REWARD_USED, &upd);
        if (rc == 0)
            rc = s_redemption_get(ly, txn, r->id, out);
    }
    crm_codec_message_free((ProtobufCMessage **) &r);
    return rc;
}

/* Finds the account that now holds customer_id's points (the survivor of merges). */
static int s_holder(loyalty_t *ly, crm_txn_t *txn, const char *customer_id, loyalty_account_t *acc)
{
    int rc = loyalty_account_get(&ly->db, txn, customer_id, acc);
    for (int hop = 0; rc == 0 && hop < LOYALTY_MERGE_HOPS_MAX && acc->closed && crm_id_valid(acc->merged_into);
         hop++) {
        char next[CRM_ID_SIZE];
        snprintf(next, sizeof next, "%s", acc->merged_into);
        rc = loyalty_account_get(&ly->db, txn, next, acc);
    }
    return rc;
}

int loyalty_redemption_cancel(loyalty_t *ly, crm_txn_t *txn, const char *code, const char *id,
                              const char *reason, Crm__V1__Redemption **out, int64_t *balance,
                              loyalty_err_t *err)
{
    *out = NULL;
    *balance = 0;
    Crm__V1__Redemption *r = NULL;
    Crm__V1__Reward *reward = NULL;
    int rc = loyalty_redemption_find(ly, txn, code, id, &r, err);
    if (rc)
        return rc;
    rc = s_require_issued(r, code && *code ? "code" : "redemptionId", err);
    if (rc)
        goto out;
    loyalty_account_t acc;
    rc = s_holder(ly, txn, r->customer_id, &acc);
    char cause[LOYALTY_CAUSE_MAX];
    snprintf(cause, sizeof cause, "cancel:%s", r->id);
    if (rc == 0 && !acc.closed)
        rc = loyalty_ledger_restore(ly, txn, &acc, r->customer_id, r->draws, r->n_draws, cause, r->id, NULL);
    if (rc)
        goto out;
    rc = loyalty_reward_get(ly, txn, r->reward_id, &reward);
    if (rc == 0) {
        Crm__V1__Reward updated = *reward;
        if (!updated.unlimited)
            updated.stock += 1;
        if (updated.redeemed)
            updated.redeemed -= 1;
        rc = loyalty_reward_put(ly, txn, &updated);
    } else if (rc == CRM_ENOTFOUND) {
        rc = 0;   /* the reward left the catalogue: nothing to give back to */
    }
    if (rc)
        goto out;
    Crm__V1__Timestamp cancelled_at;
    Crm__V1__Redemption upd = *r;
    upd.status = CRM__V1__REDEMPTION_STATUS__REDEMPTION_STATUS_CANCELLED;
    upd.cancelled_at = loyalty_ts_set(&cancelled_at, loyalty_now(ly));
    upd.cancel_reason = (char *) (reason ? reason : "");
    rc = loyalty_record_put(txn, ly->db.redemptions, r->id, CRM_ID_LEN, &upd.base);
    if (rc == 0)
        rc = s_redemption_event(ly, txn, LOYALTY_TOPIC_REWARD_CANCELLED, &upd);
    if (rc == 0)
        rc = s_redemption_get(ly, txn, r->id, out);
    if (rc == 0)
        *balance = acc.balance;
out:
    crm_codec_message_free((ProtobufCMessage **) &reward);
    crm_codec_message_free((ProtobufCMessage **) &r);
    return rc;
}

int loyalty_redemptions_move(loyalty_t *ly, crm_txn_t *txn, const char *from_id, const char *to_id)
{
    crm_cursor_t *cur = NULL;
    int rc = crm_cursor_open(txn, ly->db.customer_redemptions, &cur);
    if (rc)
        return rc;
    crm_val_t k;
    for (rc = crm_cursor_seek(cur, from_id, CRM_ID_LEN, &k, NULL); rc == 0;
         rc = crm_cursor_seek(cur, from_id, CRM_ID_LEN, &k, NULL)) {
        if (k.size != S_REDEMPTION_KEY_LEN || memcmp(k.data, from_id, CRM_ID_LEN) != 0)
            break;
        uint8_t key[S_REDEMPTION_KEY_LEN];
        memcpy(key, to_id, CRM_ID_LEN);
        memcpy(key + CRM_ID_LEN, (const uint8_t *) k.data + CRM_ID_LEN, CRM_ID_LEN);
        rc = crm_cursor_del(cur);
        if (rc == 0)
            rc = loyalty_index_put(txn, ly->db.customer_redemptions, key, sizeof key);
        if (rc)
            break;
    }
    crm_cursor_close(&cur);
    return rc == CRM_ENOTFOUND ? 0 : rc;
}
