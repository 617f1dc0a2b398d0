/* loyalty_handlers.c: one function per request method and per consumed contacts event. */
#include "loyalty_handlers.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crm/v1/contacts.pb-c.h"
#include "crm/v1/feedback.pb-c.h"
#include "crm/v1/loyalty_api.pb-c.h"
#include "crm_codec.h"
#include "crm_error.h"
#include "crm_event.h"
#include "loyalty_ledger.h"
#include "loyalty_record.h"
#include "loyalty_rewards.h"
#include "loyalty_rules.h"
#include "loyalty_tiers.h"

#define S_LIST_FIRST_CAP 16                   /* messages a page holds before it grows */
#define S_TOKEN_MAX 32                        /* bytes of a numeric page token, with its NUL */
#define S_REFERRED_BY_FIELD "referredBy"      /* the contacts custom field naming a referrer */
#define S_REDEMPTION_KEY_LEN (CRM_ID_LEN + CRM_ID_LEN)

typedef struct s_call s_call_t;

/* A method: works in txn (a write transaction for methods that change state) and answers with
 * s_reply, or fails through loyalty_fail(&c->err, ...) or with a store error. */
typedef int (*s_method_fn)(crm_txn_t *txn, s_call_t *c);

struct s_call {
    loyalty_t *ly;
    const loyalty_caller_t *caller;
    const ProtobufCMessage *req;
    s_method_fn fn;
    loyalty_err_t err;
    uint8_t *body;
    size_t body_len;
};

void loyalty_answer_clear(loyalty_answer_t *ans)
{
    if (!ans)
        return;
    free(ans->body);
    memset(ans, 0, sizeof *ans);
}

/* --- Helpers */

static int s_reply(s_call_t *c, const ProtobufCMessage *msg)
{
    free(c->body);
    c->body = NULL;
    c->body_len = 0;
    void *buf = NULL;
    size_t len = 0;
    int rc = crm_codec_pb_encode(msg, &buf, &len);
    if (rc)
        return rc;
    c->body = buf;
    c->body_len = len;
    return 0;
}

static int s_need_customer(s_call_t *c, const char *id, const char *field)
{
    if (!crm_id_valid(id))
        return loyalty_fail(&c->err, CRM_RPC_INVALID, field, "a customer id (26 characters) is required");
    return 0;
}

/* An optional reference (activity id, request id, adjustment id): printable, bounded. */
static int s_check_ref(s_call_t *c, const char *s, const char *field, bool required)
{
    size_t len = strlen(s);
    if (required && len == 0)
        return loyalty_fail(&c->err, CRM_RPC_INVALID, field, "%s is required", field);
    if (len > LOYALTY_REF_MAX)
        return loyalty_fail(&c->err, CRM_RPC_INVALID, field, "longer than %d bytes", LOYALTY_REF_MAX);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char) s[i] < 0x20 || s[i] == 0x7f)
            return loyalty_fail(&c->err, CRM_RPC_INVALID, field, "control characters are not allowed");
    return 0;
}

static uint32_t s_page_size(uint32_t asked)
{
    if (asked == 0)
        return LOYALTY_PAGE_SIZE_DEFAULT;
    return asked > LOYALTY_PAGE_SIZE_MAX ? LOYALTY_PAGE_SIZE_MAX : asked;
}

/* Parses a numeric page token ("" is 0). */
static int s_number_token(s_call_t *c, const char *token, uint64_t *n)
{
    *n = 0;
    if (!token[0])
        return 0;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(token, &end, 10);
    if (errno || !end || *end || token[0] < '0' || token[0] > '9' || v == 0)
        return loyalty_fail(&c->err, CRM_RPC_INVALID, "pageToken", "not a page token of this list");
    *n = v;
    return 0;
}

/* A page of decoded messages, freed together. */
typedef struct {
    ProtobufCMessage **items;
    size_t count;
    size_t cap;
} s_list_t;

static int s_list_add(s_list_t *list, ProtobufCMessage *msg)
{
    if (list->count == list->cap) {
        size_t cap = list->cap ? list->cap * 2 : S_LIST_FIRST_CAP;
        ProtobufCMessage **items = realloc(list->items, cap * sizeof *items);
        if (!items)
            return CRM_ENOMEM;
        list->items = items;
        list->cap = cap;
    }
    list->items[list->count++] = msg;
    return 0;
}

static void s_list_clear(s_list_t *list)
{
    for (size_t i = 0; i < list->count; i++)
        crm_codec_message_free(&list->items[i]);
    free(list->items);
    memset(list, 0, sizeof *list);
}

/* Makes a fresh account real: membership from at_us, the calendar, stored. */
static int s_account_touch(loyalty_t *ly, crm_txn_t *txn, loyalty_account_t *acc, int64_t at_us)
{
    if (acc->stored)
        return 0;
    acc->member_since_us = at_us;
    acc->updated_us = loyalty_now(ly);
    int rc = loyalty_account_put(&ly->db, txn, acc);
    if (rc == 0)
        rc = loyalty_calendar_update(ly, txn, acc, "", 0);
    return rc;
}

static int s_entry_get(loyalty_t *ly, crm_txn_t *txn, const char *customer_id, uint64_t seq,
                       Crm__V1__LedgerEntry **out)
{
    uint8_t key[LOYALTY_LOT_KEY_LEN];
    loyalty_key_lot(key, customer_id, seq);
    return loyalty_record_get(txn, ly->db.entries, key, sizeof key, &crm__v1__ledger_entry__descriptor,
                              (ProtobufCMessage **) out);
}

/* Writes an audit record of the caller's change; sets id_out (may be NULL). */
static int s_audit(crm_txn_t *txn, s_call_t *c, const char *action, const char *customer_id,
                   const char *target_id, int64_t points, const char *reason, char *id_out)
{
    char id[CRM_ID_SIZE];
    int rc = crm_id_next(c->ly->ids, id);
    if (rc)
        return rc;
    Crm__V1__Timestamp time;
    Crm__V1__LoyaltyAudit a = CRM__V1__LOYALTY_AUDIT__INIT;
    a.id = id;
    a.time = loyalty_ts_set(&time, loyalty_now(c->ly));
    a.actor_key_id = (char *) (c->caller->key_id ? c->caller->key_id : "");
    a.actor_role = (char *) (c->caller->role ? c->caller->role : "");
    a.action = (char *) action;
    a.customer_id = (char *) (customer_id ? customer_id : "");
    a.target_id = (char *) (target_id ? target_id : "");
    a.points = points;
    a.reason = (char *) (reason ? reason : "");
    rc = loyalty_record_put(txn, c->ly->db.audit, id, CRM_ID_LEN, &a.base);
    if (rc == 0 && id_out)
        snprintf(id_out, CRM_ID_SIZE, "%s", id);
    return rc;
}

/* --- Balance, lots, statement, tier, badges */

/* The soonest expiry among a customer's open lots, and the points expiring that UTC day. */
static int s_next_expiry(loyalty_t *ly, crm_txn_t *txn, const char *customer_id, int64_t *points,
                         int64_t *at)
{
    *points = 0;
    *at = 0;
    crm_cursor_t *cur = NULL;
    int rc = crm_cursor_open(txn, ly->db.open_lots, &cur);
    if (rc)
        return rc;
    int64_t first_day = INT64_MAX;
    crm_val_t k;
    for (rc = crm_cursor_seek(cur, customer_id, CRM_ID_LEN, &k, NULL); rc == 0;
         rc = crm_cursor_next(cur, &k, NULL)) {
        if (k.size != LOYALTY_LOT_KEY_LEN || memcmp(k.data, customer_id, CRM_ID_LEN) != 0)
            break;
        Crm__V1__Lot *lot = NULL;
        rc = loyalty_lot_get(&ly->db, txn, customer_id,
                             loyalty_key_u64_read((const uint8_t *) k.data + CRM_ID_LEN), &lot);
        if (rc)
            break;
        int64_t expires = loyalty_ts_us(lot->expires_at);
        int64_t day = loyalty_day_of(expires);
        if (day < first_day) {
            first_day = day;
            *points = lot->remaining;
            *at = expires;
        } else if (day == first_day) {
            *points += lot->remaining;
            if (expires < *at)
                *at = expires;
        }
        crm_codec_message_free((ProtobufCMessage **) &lot);
    }
    crm_cursor_close(&cur);
    return rc == CRM_ENOTFOUND ? 0 : rc;
}

static int s_get_balance(crm_txn_t *txn, s_call_t *c)
{
    const Crm__V1__CustomerLoyaltyRequest *r = (const void *) c->req;
    int rc = s_need_customer(c, r->customer_id, "customerId");
    loyalty_account_t acc;
    if (rc == 0)
        rc = loyalty_account_get(&c->ly->db, txn, r->customer_id, &acc);
    loyalty_tiers_t tiers = { 0 };
    if (rc == 0)
        rc = loyalty_tiers_load(c->ly, txn, &tiers);
    int64_t expiring = 0, expiry_at = 0;
    if (rc == 0)
        rc = s_next_expiry(c->ly, txn, r->customer_id, &expiring, &expiry_at);
    if (rc == 0) {
        const Crm__V1__Tier *held = loyalty_tiers_held(&tiers, acc.tier);
        Crm__V1__Timestamp at;
        Crm__V1__BalanceReply rep = CRM__V1__BALANCE_REPLY__INIT;
        rep.customer_id = acc.customer_id;
        rep.balance = acc.balance;
        rep.pending = acc.pending;
        rep.lifetime_earned = acc.lifetime_earned;
        rep.lifetime_redeemed = acc.lifetime_redeemed;
        rep.lifetime_expired = acc.lifetime_expired;
        rep.lifetime_reversed = acc.lifetime_reversed;
        rep.lifetime_adjusted = acc.lifetime_adjusted;
        rep.shortfall = acc.shortfall;
        rep.tier = held ? held->id : acc.tier;
        rep.next_expiry_points = expiring;
        rep.next_expiry_at = expiry_at ? loyalty_ts_set(&at, expiry_at) : NULL;
        rep.closed = acc.closed;
        rc = s_reply(c, &rep.base);
    }
    loyalty_tiers_clear(&tiers);
    return rc;
}

static int s_list_lots(crm_txn_t *txn, s_call_t *c)
{
    const Crm__V1__ListLotsRequest *r = (const void *) c->req;
    uint64_t after = 0;
    int rc = s_need_customer(c, r->customer_id, "customerId");
    if (rc == 0)
        rc = s_number_token(c, r->page_token, &after);
    if (rc)
        return rc;
    uint32_t page = s_page_size(r->page_size);
    s_list_t list = { 0 };
    char next[S_TOKEN_MAX] = "";
    crm_cursor_t *cur = NULL;
    rc = crm_cursor_open(txn, r->include_spent ? c->ly->db.lots : c->ly->db.open_lots, &cur);
    uint8_t start[LOYALTY_LOT_KEY_LEN];
    loyalty_key_lot(start, r->customer_id, after + 1);
    crm_val_t k;
    if (rc == 0)
        rc = crm_cursor_seek(cur, start, sizeof start, &k, NULL);
    for (; rc == 0; rc = crm_cursor_next(cur, &k, NULL)) {
        if (k.size != LOYALTY_LOT_KEY_LEN || memcmp(k.data, r->customer_id, CRM_ID_LEN) != 0)
            break;
        uint64_t number = loyalty_key_u64_read((const uint8_t *) k.data + CRM_ID_LEN);
        if (list.count == page) {
            snprintf(next, sizeof next, "%" PRIu64, number - 1);
            break;
        }
        Crm__V1__Lot *lot = NULL;
        rc = loyalty_lot_get(&c->ly->db, txn, r->customer_id, number, &lot);
        if (rc == 0)
            rc = s_list_add(&list, &lot->base);
        if (rc) {
            crm_codec_message_free((ProtobufCMessage **) &lot);
            break;
        }
    }
    crm_cursor_close(&cur);
    if (rc == CRM_ENOTFOUND)
        rc = 0;
    if (rc == 0) {
        Crm__V1__ListLotsReply rep = CRM__V1__LIST_LOTS_REPLY__INIT;
        rep.n_lots = list.count;
        rep.lots = (Crm__V1__Lot **) list.items;
        rep.next_page_token = next;
        rc = s_reply(c, &rep.base);
    }
    s_list_clear(&list);
    return rc;
}

static int s_get_statement(crm_txn_t *txn, s_call_t *c)
{
    const Crm__V1__StatementRequest *r = (const void *) c->req;
    uint64_t from = 0;
    int rc = s_need_customer(c, r->customer_id, "customerId");
    if (rc == 0)
        rc = s_number_token(c, r->page_token, &from);
    loyalty_account_t acc;
    if (rc == 0)
        rc = loyalty_account_get(&c->ly->db, txn, r->customer_id, &acc);
    if (rc)
        return rc;
    uint64_t last = acc.next_entry - 1;
    if (!r->page_token[0] || from > last)
        from = last;
    uint32_t page = s_page_size(r->page_size);
    s_list_t list = { 0 };
    uint64_t seq = from;
    for (; rc == 0 && seq >= 1 && list.count < page; seq--) {
        Crm__V1__LedgerEntry *e = NULL;
        rc = s_entry_get(c->ly, txn, r->customer_id, seq, &e);
        if (rc == 0)
            rc = s_list_add(&list, &e->base);
        if (rc)
            crm_codec_message_free((ProtobufCMessage **) &e);
    }
    if (rc == 0) {
        char next[S_TOKEN_MAX] = "";
        if (seq >= 1)
            snprintf(next, sizeof next, "%" PRIu64, seq);
        Crm__V1__StatementReply rep = CRM__V1__STATEMENT_REPLY__INIT;
        rep.n_entries = list.count;
        rep.entries = (Crm__V1__LedgerEntry **) list.items;
        rep.next_page_token = next;
        rep.balance = acc.balance;
        rep.pending = acc.pending;
        rc = s_reply(c, &rep.base);
    }
    s_list_clear(&list);
    return rc;
}

static int s_get_tier(crm_txn_t *txn, s_call_t *c)
{
    const Crm__V1__CustomerLoyaltyRequest *r = (const void *) c->req;
    int rc = s_need_customer(c, r->customer_id, "customerId");
    loyalty_account_t acc;
    if (rc == 0)
        rc = loyalty_account_get(&c->ly->db, txn, r->customer_id, &acc);
    loyalty_tiers_t tiers = { 0 };
    if (rc == 0)
        rc = loyalty_tiers_load(c->ly, txn, &tiers);
    int64_t spend = 0;
    uint32_t purchases = 0;
    if (rc == 0)
        rc = loyalty_tier_stats(c->ly, txn, r->customer_id, loyalty_now(c->ly), &spend, &purchases);
    if (rc == 0) {
        const Crm__V1__Tier *held = loyalty_tiers_held(&tiers, acc.tier);
        const Crm__V1__Tier *next = loyalty_tiers_next(&tiers, held);
        Crm__V1__Timestamp since, below;
        Crm__V1__TierReply rep = CRM__V1__TIER_REPLY__INIT;
        rep.customer_id = acc.customer_id;
        rep.tier = (Crm__V1__Tier *) held;
        rep.since = acc.tier_since_us ? loyalty_ts_set(&since, acc.tier_since_us) : NULL;
        rep.rolling_spend_minor = spend;
        rep.rolling_purchases = purchases;
        rep.currency = c->ly->settings.tier_currency;
        rep.next_tier = (Crm__V1__Tier *) next;
        if (next) {
            rep.spend_to_next_minor = next->min_spend_minor > spend ? next->min_spend_minor - spend : 0;
            rep.purchases_to_next = next->min_purchases > purchases ? next->min_purchases - purchases : 0;
        }
        rep.below_since = acc.below_since_us ? loyalty_ts_set(&below, acc.below_since_us) : NULL;
        rep.qualifying_tier = (Crm__V1__Tier *) loyalty_tiers_qualify(&tiers, spend, purchases);
        rc = s_reply(c, &rep.base);
    }
    loyalty_tiers_clear(&tiers);
    return rc;
}

static int s_list_badges(crm_txn_t *txn, s_call_t *c)
{
    const Crm__V1__CustomerLoyaltyRequest *r = (const void *) c->req;
    int rc = s_need_customer(c, r->customer_id, "customerId");
    if (rc)
        return rc;
    s_list_t list = { 0 };
    crm_cursor_t *cur = NULL;
    rc = crm_cursor_open(txn, c->ly->db.badges, &cur);
    crm_val_t k, v;
    if (rc == 0)
        rc = crm_cursor_seek(cur, r->customer_id, CRM_ID_LEN, &k, &v);
    for (; rc == 0; rc = crm_cursor_next(cur, &k, &v)) {
        if (k.size <= CRM_ID_LEN || memcmp(k.data, r->customer_id, CRM_ID_LEN) != 0)
            break;
        ProtobufCMessage *badge = NULL;
        rc = crm_codec_msgpack_decode(&crm__v1__badge__descriptor, v.data, v.size, &badge, NULL);
        if (rc == 0)
            rc = s_list_add(&list, badge);
        if (rc) {
            crm_codec_message_free(&badge);
            break;
        }
    }
    crm_cursor_close(&cur);
    if (rc == CRM_ENOTFOUND)
        rc = 0;
    if (rc == 0) {
        Crm__V1__ListBadgesReply rep = CRM__V1__LIST_BADGES_REPLY__INIT;
        rep.n_badges = list.count;
        rep.badges = (Crm__V1__Badge **) list.items;
        rc = s_reply(c, &rep.base);
    }
    s_list_clear(&list);
    return rc;
}

/* --- Rules */

static int s_put_rule(crm_txn_t *txn, s_call_t *c)
{
    const Crm__V1__PutRuleRequest *r = (const void *) c->req;
    if (!r->rule)
        return loyalty_fail(&c->err, CRM_RPC_INVALID, "rule", "a rule is required");
    int rc = loyalty_rule_validate(r->rule, &c->err);
    if (rc)
        return rc;
    char id[LOYALTY_NAME_SIZE];
    if (r->rule->id[0]) {
        snprintf(id, sizeof id, "%s", r->rule->id);
    } else {
        char fresh[CRM_ID_SIZE];
        rc = crm_id_next(c->ly->ids, fresh);
        if (rc)
            return rc;
        snprintf(id, sizeof id, "%s", fresh);
    }
    Crm__V1__EarnRule *old = NULL;
    rc = loyalty_rule_get(c->ly, txn, id, &old);
    if (rc && rc != CRM_ENOTFOUND)
        return rc;
    int64_t now = loyalty_now(c->ly);
    Crm__V1__Timestamp created, updated;
    Crm__V1__EarnRule rule = *r->rule;
    rule.id = id;
    rule.created_at = loyalty_ts_set(&created, old && old->created_at ? loyalty_ts_us(old->created_at) : now);
    rule.updated_at = loyalty_ts_set(&updated, now);
    crm_codec_message_free((ProtobufCMessage **) &old);
    rc = loyalty_rule_put(c->ly, txn, &rule);
    if (rc == CRM_ELIMIT)
        return loyalty_fail(&c->err, CRM_RPC_INVALID, "rule", "at most %d rules", LOYALTY_RULES_MAX);
    if (rc == 0)
        rc = loyalty_rule_awarded(c->ly, txn, id, &rule.awarded);
    if (rc == 0)
        rc = s_audit(txn, c, "loyalty.PutRule", NULL, id, 0, NULL, NULL);
    if (rc == 0) {
        Crm__V1__RuleReply rep = CRM__V1__RULE_REPLY__INIT;
        rep.rule = &rule;
        rc = s_reply(c, &rep.base);
    }
    return rc;
}

static int s_list_rules(crm_txn_t *txn, s_call_t *c)
{
    const Crm__V1__ListRulesRequest *r = (const void *) c->req;
    s_list_t list = { 0 };
    crm_cursor_t *cur = NULL;
    int rc = crm_cursor_open(txn, c->ly->db.rules, &cur);
    crm_val_t k, v;
    if (rc == 0)
        rc = crm_cursor_first(cur, &k, &v);
    for (; rc == 0; rc = crm_cursor_next(cur, &k, &v)) {
        Crm__V1__EarnRule *rule = NULL;
        rc = crm_codec_msgpack_decode(&crm__v1__earn_rule__descriptor, v.data, v.size,
                                      (ProtobufCMessage **) &rule, NULL);
        if (rc)
            break;
        if (r->kind && rule->kind != r->kind) {
            crm_codec_message_free((ProtobufCMessage **) &rule);
            continue;
        }
        rc = loyalty_rule_awarded(c->ly, txn, rule->id, &rule->awarded);
        if (rc == 0)
            rc = s_list_add(&list, &rule->base);
        if (rc) {
            crm_codec_message_free((ProtobufCMessage **) &rule);
            break;
        }
    }
    crm_cursor_close(&cur);
    if (rc == CRM_ENOTFOUND)
        rc = 0;
    if (rc == 0) {
        Crm__V1__ListRulesReply rep = CRM__V1__LIST_RULES_REPLY__INIT;
        rep.n_rules = list.count;
        rep.rules = (Crm__V1__EarnRule **) list.items;
        rc = s_reply(c, &rep.base);
    }
    s_list_clear(&list);
    return rc;
}

/* Deletes the rule or tier the request names with del, audited under method. */
static int s_delete_by_id(crm_txn_t *txn, s_call_t *c, int (*del)(loyalty_t *, crm_txn_t *, const char *),
                          const char *what, const char *method)
{
    const Crm__V1__DeleteLoyaltyRequest *r = (const void *) c->req;
    int rc = del(c->ly, txn, r->id);
    if (rc == CRM_ENOTFOUND)
        return loyalty_fail(&c->err, CRM_RPC_NOT_FOUND, "id", "no %s %s", what, r->id);
    if (rc == 0)
        rc = s_audit(txn, c, method, NULL, r->id, 0, NULL, NULL);
    if (rc == 0) {
        Crm__V1__DeleteLoyaltyReply rep = CRM__V1__DELETE_LOYALTY_REPLY__INIT;
        rep.id = r->id;
        rc = s_reply(c, &rep.base);
    }
    return rc;
}

static int s_delete_rule(crm_txn_t *txn, s_call_t *c)
{
    return s_delete_by_id(txn, c, loyalty_rule_del, "rule", "loyalty.DeleteRule");
}

/* --- Tiers */

static int s_put_tier(crm_txn_t *txn, s_call_t *c)
{
    const Crm__V1__PutTierRequest *r = (const void *) c->req;
    if (!r->tier)
        return loyalty_fail(&c->err, CRM_RPC_INVALID, "tier", "a tier is required");
    int rc = loyalty_tier_validate(r->tier, &c->err);
    if (rc)
        return rc;
    Crm__V1__Tier *old = NULL;
    rc = loyalty_record_get(txn, c->ly->db.tiers, r->tier->id, strlen(r->tier->id), &crm__v1__tier__descriptor,
                            (ProtobufCMessage **) &old);
    if (rc && rc != CRM_ENOTFOUND)
        return rc;
    int64_t now = loyalty_now(c->ly);
    Crm__V1__Timestamp created, updated;
    Crm__V1__Tier tier = *r->tier;
    tier.created_at = loyalty_ts_set(&created, old && old->created_at ? loyalty_ts_us(old->created_at) : now);
    tier.updated_at = loyalty_ts_set(&updated, now);
    crm_codec_message_free((ProtobufCMessage **) &old);
    rc = loyalty_tier_put(c->ly, txn, &tier, &c->err);
    if (rc == 0)
        rc = s_audit(txn, c, "loyalty.PutTier", NULL, tier.id, 0, NULL, NULL);
    if (rc == 0) {
        Crm__V1__TierDefReply rep = CRM__V1__TIER_DEF_REPLY__INIT;
        rep.tier = &tier;
        rc = s_reply(c, &rep.base);
    }
    return rc;
}

static int s_list_tiers(crm_txn_t *txn, s_call_t *c)
{
    loyalty_tiers_t tiers;
    int rc = loyalty_tiers_load(c->ly, txn, &tiers);
    if (rc)
        return rc;
    Crm__V1__ListTiersReply rep = CRM__V1__LIST_TIERS_REPLY__INIT;
    rep.n_tiers = tiers.count;
    rep.tiers = tiers.items;
    rc = s_reply(c, &rep.base);
    loyalty_tiers_clear(&tiers);
    return rc;
}

static int s_delete_tier(crm_txn_t *txn, s_call_t *c)
{
    return s_delete_by_id(txn, c, loyalty_tier_del, "tier", "loyalty.DeleteTier");
}

/* --- Rewards */

static int s_put_reward(crm_txn_t *txn, s_call_t *c)
{
    const Crm__V1__PutRewardRequest *r = (const void *) c->req;
    if (!r->reward)
        return loyalty_fail(&c->err, CRM_RPC_INVALID, "reward", "a reward is required");
    int rc = loyalty_reward_validate(r->reward, &c->err);
    if (rc)
        return rc;
    char id[LOYALTY_NAME_SIZE];
    if (r->reward->id[0]) {
        snprintf(id, sizeof id, "%s", r->reward->id);
    } else {
        char fresh[CRM_ID_SIZE];
        rc = crm_id_next(c->ly->ids, fresh);
        if (rc)
            return rc;
        snprintf(id, sizeof id, "%s", fresh);
    }
    Crm__V1__Reward *old = NULL;
    rc = loyalty_reward_get(c->ly, txn, id, &old);
    if (rc && rc != CRM_ENOTFOUND)
        return rc;
    int64_t now = loyalty_now(c->ly);
    Crm__V1__Timestamp created, updated;
    Crm__V1__Reward reward = *r->reward;
    reward.id = id;
    reward.redeemed = old ? old->redeemed : 0;
    reward.created_at = loyalty_ts_set(&created, old && old->created_at ? loyalty_ts_us(old->created_at) : now);
    reward.updated_at = loyalty_ts_set(&updated, now);
    crm_codec_message_free((ProtobufCMessage **) &old);
    rc = loyalty_reward_put(c->ly, txn, &reward);
    if (rc == 0)
        rc = s_audit(txn, c, "loyalty.PutReward", NULL, id, 0, NULL, NULL);
    if (rc == 0) {
        Crm__V1__RewardReply rep = CRM__V1__REWARD_REPLY__INIT;
        rep.reward = &reward;
        rc = s_reply(c, &rep.base);
    }
    return rc;
}

static int s_get_reward(crm_txn_t *txn, s_call_t *c)
{
    const Crm__V1__GetRewardRequest *r = (const void *) c->req;
    Crm__V1__Reward *reward = NULL;
    int rc = loyalty_reward_get(c->ly, txn, r->id, &reward);
    if (rc == CRM_ENOTFOUND)
        return loyalty_fail(&c->err, CRM_RPC_NOT_FOUND, "id", "no reward %s", r->id);
    if (rc == 0) {
        Crm__V1__RewardReply rep = CRM__V1__REWARD_REPLY__INIT;
        rep.reward = reward;
        rc = s_reply(c, &rep.base);
    }
    crm_codec_message_free((ProtobufCMessage **) &reward);
    return rc;
}

static int s_list_rewards(crm_txn_t *txn, s_call_t *c)
{
    const Crm__V1__ListRewardsRequest *r = (const void *) c->req;
    int rc = 0;
    if (r->page_token[0] && !loyalty_name_valid(r->page_token))
        return loyalty_fail(&c->err, CRM_RPC_INVALID, "pageToken", "not a page token of this list");
    char tier_id[LOYALTY_NAME_SIZE] = "";
    if (r->customer_id[0]) {
        rc = s_need_customer(c, r->customer_id, "customerId");
        loyalty_account_t acc;
        loyalty_tiers_t tiers = { 0 };
        if (rc == 0)
            rc = loyalty_account_get(&c->ly->db, txn, r->customer_id, &acc);
        if (rc == 0)
            rc = loyalty_tiers_load(c->ly, txn, &tiers);
        if (rc == 0) {
            const Crm__V1__Tier *held = loyalty_tiers_held(&tiers, acc.tier);
            snprintf(tier_id, sizeof tier_id, "%s", held ? held->id : "");
        }
        loyalty_tiers_clear(&tiers);
        if (rc)
            return rc;
    }
    int64_t now = loyalty_now(c->ly);
    uint32_t page = s_page_size(r->page_size);
    s_list_t list = { 0 };
    char next[LOYALTY_NAME_SIZE] = "";
    crm_cursor_t *cur = NULL;
    rc = crm_cursor_open(txn, c->ly->db.rewards, &cur);
    crm_val_t k, v;
    if (rc == 0)
        rc = r->page_token[0] ? crm_cursor_seek(cur, r->page_token, strlen(r->page_token), &k, &v)
                              : crm_cursor_first(cur, &k, &v);
    for (; rc == 0; rc = crm_cursor_next(cur, &k, &v)) {
        if (r->page_token[0] && k.size == strlen(r->page_token) && memcmp(k.data, r->page_token, k.size) == 0)
            continue;
        Crm__V1__Reward *reward = NULL;
        rc = crm_codec_msgpack_decode(&crm__v1__reward__descriptor, v.data, v.size,
                                      (ProtobufCMessage **) &reward, NULL);
        if (rc)
            break;
        bool shown = (r->include_inactive || loyalty_reward_active(reward, now))
                     && (!r->customer_id[0] || loyalty_reward_open_to(reward, tier_id));
        if (!shown) {
            crm_codec_message_free((ProtobufCMessage **) &reward);
            continue;
        }
        if (list.count == page) {
            snprintf(next, sizeof next, "%s", ((Crm__V1__Reward *) list.items[list.count - 1])->id);
            crm_codec_message_free((ProtobufCMessage **) &reward);
            break;
        }
        rc = s_list_add(&list, &reward->base);
        if (rc) {
            crm_codec_message_free((ProtobufCMessage **) &reward);
            break;
        }
    }
    crm_cursor_close(&cur);
    if (rc == CRM_ENOTFOUND)
        rc = 0;
    if (rc == 0) {
        Crm__V1__ListRewardsReply rep = CRM__V1__LIST_REWARDS_REPLY__INIT;
        rep.n_rewards = list.count;
        rep.rewards = (Crm__V1__Reward **) list.items;
        rep.next_page_token = next;
        rc = s_reply(c, &rep.base);
    }
    s_list_clear(&list);
    return rc;
}

/* --- Redemptions */

static int s_redemption_reply(s_call_t *c, Crm__V1__Redemption *red, int64_t balance)
{
    Crm__V1__RedemptionReply rep = CRM__V1__REDEMPTION_REPLY__INIT;
    rep.redemption = red;
    rep.balance = balance;
    return s_reply(c, &rep.base);
}

static int s_redeem(crm_txn_t *txn, s_call_t *c)
{
    const Crm__V1__RedeemRequest *r = (const void *) c->req;
    int rc = s_need_customer(c, r->customer_id, "customerId");
    if (rc == 0 && !r->reward_id[0])
        rc = loyalty_fail(&c->err, CRM_RPC_INVALID, "rewardId", "rewardId is required");
    if (rc == 0)
        rc = s_check_ref(c, r->request_id, "requestId", false);
    Crm__V1__Redemption *red = NULL;
    int64_t balance = 0;
    if (rc == 0) {
        loyalty_account_t acc;
        rc = loyalty_account_get(&c->ly->db, txn, r->customer_id, &acc);
        if (rc == 0)
            rc = s_account_touch(c->ly, txn, &acc, loyalty_now(c->ly));
    }
    if (rc == 0)
        rc = loyalty_redeem(c->ly, txn, r->customer_id, r->reward_id, r->request_id, &red, &balance, &c->err);
    if (rc == 0)
        rc = s_redemption_reply(c, red, balance);
    crm_codec_message_free((ProtobufCMessage **) &red);
    return rc;
}

static int s_mark_used(crm_txn_t *txn, s_call_t *c)
{
    const Crm__V1__RedemptionActionRequest *r = (const void *) c->req;
    Crm__V1__Redemption *red = NULL;
    int rc = loyalty_redemption_use(c->ly, txn, r->code, r->redemption_id, c->caller->key_id, &red, &c->err);
    if (rc == 0)
        rc = s_redemption_reply(c, red, 0);
    crm_codec_message_free((ProtobufCMessage **) &red);
    return rc;
}

static int s_cancel_redemption(crm_txn_t *txn, s_call_t *c)
{
    const Crm__V1__RedemptionActionRequest *r = (const void *) c->req;
    if (strlen(r->reason) > LOYALTY_REASON_MAX)
        return loyalty_fail(&c->err, CRM_RPC_INVALID, "reason", "longer than %d bytes", LOYALTY_REASON_MAX);
    Crm__V1__Redemption *red = NULL;
    int64_t balance = 0;
    int rc = loyalty_redemption_cancel(c->ly, txn, r->code, r->redemption_id, r->reason, &red, &balance, &c->err);
    if (rc == 0)
        rc = s_audit(txn, c, "loyalty.CancelRedemption", red->customer_id, red->id, red->points, r->reason, NULL);
    if (rc == 0)
        rc = s_redemption_reply(c, red, balance);
    crm_codec_message_free((ProtobufCMessage **) &red);
    return rc;
}

static int s_get_redemption(crm_txn_t *txn, s_call_t *c)
{
    const Crm__V1__RedemptionActionRequest *r = (const void *) c->req;
    Crm__V1__Redemption *red = NULL;
    int rc = loyalty_redemption_find(c->ly, txn, r->code, r->redemption_id, &red, &c->err);
    if (rc == 0)
        rc = s_redemption_reply(c, red, 0);
    crm_codec_message_free((ProtobufCMessage **) &red);
    return rc;
}

static int s_list_redemptions(crm_txn_t *txn, s_call_t *c)
{
    const Crm__V1__ListRedemptionsRequest *r = (const void *) c->req;
    int rc = s_need_customer(c, r->customer_id, "customerId");
    if (rc == 0 && r->page_token[0] && !crm_id_valid(r->page_token))
        rc = loyalty_fail(&c->err, CRM_RPC_INVALID, "pageToken", "not a page token of this list");
    if (rc)
        return rc;
    uint32_t page = s_page_size(r->page_size);
    s_list_t list = { 0 };
    char next[CRM_ID_SIZE] = "";
    uint8_t start[S_REDEMPTION_KEY_LEN];
    memcpy(start, r->customer_id, CRM_ID_LEN);
    if (r->page_token[0])
        memcpy(start + CRM_ID_LEN, r->page_token, CRM_ID_LEN);
    else
        memset(start + CRM_ID_LEN, 0xff, CRM_ID_LEN);
    crm_cursor_t *cur = NULL;
    rc = crm_cursor_open(txn, c->ly->db.customer_redemptions, &cur);
    crm_val_t k;
    if (rc == 0) {
        /* Newest first: from the last key before start. */
        rc = crm_cursor_seek(cur, start, sizeof start, &k, NULL);
        rc = rc == 0 ? crm_cursor_prev(cur, &k, NULL) : rc == CRM_ENOTFOUND ? crm_cursor_last(cur, &k, NULL) : rc;
    }
    for (; rc == 0; rc = crm_cursor_prev(cur, &k, NULL)) {
        if (k.size != S_REDEMPTION_KEY_LEN || memcmp(k.data, r->customer_id, CRM_ID_LEN) != 0)
            break;
        char id[CRM_ID_SIZE];
        memcpy(id, (const char *) k.data + CRM_ID_LEN, CRM_ID_LEN);
        id[CRM_ID_LEN] = '\0';
        if (list.count == page) {
            snprintf(next, sizeof next, "%s", ((Crm__V1__Redemption *) list.items[list.count - 1])->id);
            break;
        }
        ProtobufCMessage *red = NULL;
        rc = loyalty_record_get(txn, c->ly->db.redemptions, id, CRM_ID_LEN, &crm__v1__redemption__descriptor, &red);
        if (rc == 0)
            rc = s_list_add(&list, red);
        if (rc) {
            crm_codec_message_free(&red);
            break;
        }
    }
    crm_cursor_close(&cur);
    if (rc == CRM_ENOTFOUND)
        rc = 0;
    if (rc == 0) {
        Crm__V1__ListRedemptionsReply rep = CRM__V1__LIST_REDEMPTIONS_REPLY__INIT;
        rep.n_redemptions = list.count;
        rep.redemptions = (Crm__V1__Redemption **) list.items;
        rep.next_page_token = next;
        rc = s_reply(c, &rep.base);
    }
    s_list_clear(&list);
    return rc;
}

/* --- Adjustments and activities */

static int s_adjust(crm_txn_t *txn, s_call_t *c)
{
    const Crm__V1__AdjustRequest *r = (const void *) c->req;
    int64_t now = loyalty_now(c->ly);
    int rc = s_need_customer(c, r->customer_id, "customerId");
    if (rc == 0 && (r->points == 0 || r->points > LOYALTY_POINTS_MAX || r->points < -LOYALTY_POINTS_MAX))
        rc = loyalty_fail(&c->err, CRM_RPC_INVALID, "points", "points must be non-zero, at most %lld either way",
                          (long long) LOYALTY_POINTS_MAX);
    if (rc == 0 && (!r->reason[0] || strlen(r->reason) > LOYALTY_REASON_MAX))
        rc = loyalty_fail(&c->err, CRM_RPC_INVALID, "reason", "a reason of 1 to %d bytes is required",
                          LOYALTY_REASON_MAX);
    if (rc == 0)
        rc = s_check_ref(c, r->adjustment_id, "adjustmentId", false);
    if (rc == 0 && r->expires_at && loyalty_ts_us(r->expires_at) <= now)
        rc = loyalty_fail(&c->err, CRM_RPC_INVALID, "expiresAt", "expiresAt must be in the future");
    if (rc)
        return rc;
    char cause[LOYALTY_CAUSE_MAX] = "";
    if (r->adjustment_id[0])
        snprintf(cause, sizeof cause, "adjust:%s:%s", r->customer_id, r->adjustment_id);
    Crm__V1__CauseRecord *seen = NULL;
    Crm__V1__LedgerEntry *entry = NULL;
    loyalty_account_t acc;
    rc = cause[0] ? loyalty_cause_get(&c->ly->db, txn, cause, &seen) : CRM_ENOTFOUND;
    if (rc == 0) {
        rc = s_entry_get(c->ly, txn, seen->customer_id, seen->entry, &entry);
        if (rc == 0)
            rc = loyalty_account_get(&c->ly->db, txn, r->customer_id, &acc);
        if (rc == 0) {
            Crm__V1__AdjustReply rep = CRM__V1__ADJUST_REPLY__INIT;
            rep.entry = entry;
            rep.balance = acc.balance;
            rep.duplicate = true;
            rc = s_reply(c, &rep.base);
        }
        goto out;
    }
    if (rc != CRM_ENOTFOUND)
        goto out;
    rc = loyalty_account_get(&c->ly->db, txn, r->customer_id, &acc);
    if (rc == 0)
        rc = s_account_touch(c->ly, txn, &acc, now);
    if (rc == 0 && acc.closed)
        rc = loyalty_fail(&c->err, CRM_RPC_CONFLICT, "customerId", "the customer's account is closed");
    char audit_id[CRM_ID_SIZE] = "";
    if (rc == 0)
        rc = s_audit(txn, c, "loyalty.Adjust", r->customer_id, r->adjustment_id, r->points, r->reason, audit_id);
    char own_cause[LOYALTY_CAUSE_MAX];
    snprintf(own_cause, sizeof own_cause, "adjust:%s", audit_id);
    uint64_t seq = 0;
    if (rc == 0) {
        rc = loyalty_ledger_adjust(c->ly, txn, &acc, r->points, r->reason, c->caller->key_id,
                                   cause[0] ? cause : own_cause, loyalty_ts_us(r->expires_at), &seq);
        if (rc == CRM_ECONFLICT)
            rc = loyalty_fail(&c->err, CRM_RPC_CONFLICT, "points", "the balance (%lld points) is below the deduction",
                              (long long) acc.balance);
    }
    if (rc == 0 && cause[0]) {
        Crm__V1__CauseRecord rec = CRM__V1__CAUSE_RECORD__INIT;
        rec.customer_id = acc.customer_id;
        rec.entry = seq;
        rec.points = r->points;
        rec.ref = audit_id;
        rc = loyalty_cause_put(&c->ly->db, txn, cause, &rec);
    }
    if (rc == 0)
        rc = s_entry_get(c->ly, txn, acc.customer_id, seq, &entry);
    if (rc == 0) {
        Crm__V1__AdjustReply rep = CRM__V1__ADJUST_REPLY__INIT;
        rep.entry = entry;
        rep.balance = acc.balance;
        rc = s_reply(c, &rep.base);
    }
out:
    crm_codec_message_free((ProtobufCMessage **) &entry);
    crm_codec_message_free((ProtobufCMessage **) &seen);
    return rc;
}

static int s_activity_reply(s_call_t *c, crm_txn_t *txn, const char *customer_id, int64_t points,
                            uint64_t seq, bool duplicate)
{
    Crm__V1__LedgerEntry *entry = NULL;
    int rc = seq ? s_entry_get(c->ly, txn, customer_id, seq, &entry) : 0;
    if (rc == 0) {
        Crm__V1__ActivityReply rep = CRM__V1__ACTIVITY_REPLY__INIT;
        rep.points = points;
        rep.entry = entry;
        rep.duplicate = duplicate;
        rc = s_reply(c, &rep.base);
    }
    crm_codec_message_free((ProtobufCMessage **) &entry);
    return rc;
}

/* Awards an activity of kind (survey, review, social_share) with its own id activity_id, done at
 * at, by the rules, once: the cause "activity:<kind>:<customer>:<activity id>" remembers it. Sets
 * *points and *seq (the ledger entry, 0 when nothing was earned), and *duplicate when it was
 * awarded before (then *seq is the first award's entry). */
static int s_award_activity(loyalty_t *ly, crm_txn_t *txn, loyalty_account_t *acc, Crm__V1__EarnKind kind,
                            const char *activity_id, int64_t at, int64_t *points, uint64_t *seq,
                            bool *duplicate)
{
    *points = 0;
    *seq = 0;
    *duplicate = false;
    char cause[LOYALTY_CAUSE_MAX];
    snprintf(cause, sizeof cause, "activity:%d:%s:%s", (int) kind, acc->customer_id, activity_id);
    Crm__V1__CauseRecord *seen = NULL;
    int rc = loyalty_cause_get(&ly->db, txn, cause, &seen);
    if (rc == 0) {
        *seq = seen->entry;
        *duplicate = true;
        crm_codec_message_free((ProtobufCMessage **) &seen);
        return 0;
    }
    if (rc != CRM_ENOTFOUND)
        return rc;
    loyalty_earning_t e = { .kind = kind, .at_us = at };
    uint64_t lot = 0;
    rc = loyalty_rules_award(ly, txn, acc, &e, cause, false, points, &lot, seq);
    if (rc == 0) {
        Crm__V1__CauseRecord rec = CRM__V1__CAUSE_RECORD__INIT;
        rec.customer_id = acc->customer_id;
        rec.lot = lot;
        rec.points = *points;
        rec.time_us = at;
        rec.entry = *seq;
        rc = loyalty_cause_put(&ly->db, txn, cause, &rec);
    }
    return rc;
}

static int s_record_activity(crm_txn_t *txn, s_call_t *c)
{
    const Crm__V1__RecordActivityRequest *r = (const void *) c->req;
    int64_t now = loyalty_now(c->ly);
    int rc = s_need_customer(c, r->customer_id, "customerId");
    if (rc)
        return rc;
    switch (r->kind) {
    case CRM__V1__EARN_KIND__EARN_KIND_SURVEY:
    case CRM__V1__EARN_KIND__EARN_KIND_REVIEW:
    case CRM__V1__EARN_KIND__EARN_KIND_SOCIAL_SHARE:
        rc = s_check_ref(c, r->activity_id, "activityId", true);
        break;
    case CRM__V1__EARN_KIND__EARN_KIND_BIRTHDAY:
        break;
    case CRM__V1__EARN_KIND__EARN_KIND_REFERRAL:
        if (!crm_id_valid(r->referrer_id) || strcmp(r->referrer_id, r->customer_id) == 0)
            rc = loyalty_fail(&c->err, CRM_RPC_INVALID, "referrerId", "the referrer's customer id is required");
        break;
    default:
        rc = loyalty_fail(&c->err, CRM_RPC_INVALID, "kind",
                          "kind must be survey, review, social_share, birthday or referral");
    }
    if (rc)
        return rc;
    int64_t at = r->occurred_at ? loyalty_ts_us(r->occurred_at) : now;
    if (at > now)
        at = now;
    loyalty_account_t acc;
    rc = loyalty_account_get(&c->ly->db, txn, r->customer_id, &acc);
    if (rc == 0)
        rc = s_account_touch(c->ly, txn, &acc, at);
    if (rc)
        return rc;
    if (r->kind == CRM__V1__EARN_KIND__EARN_KIND_REFERRAL) {
        bool duplicate = strcmp(acc.referred_by, r->referrer_id) == 0;
        if (!acc.referred_by[0] && acc.purchase_count == 0 && !acc.closed) {
            snprintf(acc.referred_by, sizeof acc.referred_by, "%s", r->referrer_id);
            rc = loyalty_account_put(&c->ly->db, txn, &acc);
        }
        return rc ? rc : s_activity_reply(c, txn, acc.customer_id, 0, 0, duplicate);
    }
    if (r->kind == CRM__V1__EARN_KIND__EARN_KIND_BIRTHDAY) {
        int year, month, mday;
        loyalty_civil_from_day(loyalty_day_of(at), &year, &month, &mday);
        char cause[LOYALTY_CAUSE_MAX];
        snprintf(cause, sizeof cause, "birthday:%s:%d", acc.customer_id, year);
        Crm__V1__CauseRecord *seen = NULL;
        rc = loyalty_cause_get(&c->ly->db, txn, cause, &seen);
        if (rc == 0) {
            rc = s_activity_reply(c, txn, acc.customer_id, 0, seen->entry, true);
            crm_codec_message_free((ProtobufCMessage **) &seen);
            return rc;
        }
        if (rc != CRM_ENOTFOUND)
            return rc;
        int64_t points = 0;
        uint64_t seq = 0;
        rc = loyalty_birthday_award(c->ly, txn, &acc, year, at, &points, &seq);
        return rc ? rc : s_activity_reply(c, txn, acc.customer_id, points, seq, false);
    }
    int64_t points = 0;
    uint64_t seq = 0;
    bool duplicate = false;
    rc = s_award_activity(c->ly, txn, &acc, r->kind, r->activity_id, at, &points, &seq, &duplicate);
    return rc ? rc : s_activity_reply(c, txn, acc.customer_id, points, seq, duplicate);
}

static int s_list_audit(crm_txn_t *txn, s_call_t *c)
{
    const Crm__V1__ListAuditRequest *r = (const void *) c->req;
    if (r->page_token[0] && !crm_id_valid(r->page_token))
        return loyalty_fail(&c->err, CRM_RPC_INVALID, "pageToken", "not a page token of this list");
    uint32_t page = s_page_size(r->page_size);
    s_list_t list = { 0 };
    char next[CRM_ID_SIZE] = "";
    crm_cursor_t *cur = NULL;
    int rc = crm_cursor_open(txn, c->ly->db.audit, &cur);
    crm_val_t k, v;
    if (rc == 0) {
        if (r->page_token[0]) {
            rc = crm_cursor_seek(cur, r->page_token, CRM_ID_LEN, &k, &v);
            rc = rc == 0 ? crm_cursor_prev(cur, &k, &v) : rc == CRM_ENOTFOUND ? crm_cursor_last(cur, &k, &v) : rc;
        } else {
            rc = crm_cursor_last(cur, &k, &v);
        }
    }
    for (; rc == 0; rc = crm_cursor_prev(cur, &k, &v)) {
        if (list.count == page) {
            snprintf(next, sizeof next, "%s", ((Crm__V1__LoyaltyAudit *) list.items[list.count - 1])->id);
            break;
        }
        ProtobufCMessage *a = NULL;
        rc = crm_codec_msgpack_decode(&crm__v1__loyalty_audit__descriptor, v.data, v.size, &a, NULL);
        if (rc == 0)
            rc = s_list_add(&list, a);
        if (rc) {
            crm_codec_message_free(&a);
            break;
        }
    }
    crm_cursor_close(&cur);
    if (rc == CRM_ENOTFOUND)
        rc = 0;
    if (rc == 0) {
        Crm__V1__ListAuditReply rep = CRM__V1__LIST_AUDIT_REPLY__INIT;
        rep.n_records = list.count;
        rep.records = (Crm__V1__LoyaltyAudit **) list.items;
        rep.next_page_token = next;
        rc = s_reply(c, &rep.base);
    }
    s_list_clear(&list);
    return rc;
}

/* --- The method table */

typedef struct {
    const char *name;                              /* after "loyalty." */
    const ProtobufCMessageDescriptor *request;
    s_method_fn fn;
    bool write;
    bool admin;
} s_method_t;

static const s_method_t s_methods[] = {
    { "GetBalance", &crm__v1__customer_loyalty_request__descriptor, s_get_balance, false, false },
    { "ListLots", &crm__v1__list_lots_request__descriptor, s_list_lots, false, false },
    { "GetStatement", &crm__v1__statement_request__descriptor, s_get_statement, false, false },
    { "GetTier", &crm__v1__customer_loyalty_request__descriptor, s_get_tier, false, false },
    { "ListBadges", &crm__v1__customer_loyalty_request__descriptor, s_list_badges, false, false },
    { "PutRule", &crm__v1__put_rule_request__descriptor, s_put_rule, true, true },
    { "ListRules", &crm__v1__list_rules_request__descriptor, s_list_rules, false, false },
    { "DeleteRule", &crm__v1__delete_loyalty_request__descriptor, s_delete_rule, true, true },
    { "PutTier", &crm__v1__put_tier_request__descriptor, s_put_tier, true, true },
    { "ListTiers", &crm__v1__list_tiers_request__descriptor, s_list_tiers, false, false },
    { "DeleteTier", &crm__v1__delete_loyalty_request__descriptor, s_delete_tier, true, true },
    { "PutReward", &crm__v1__put_reward_request__descriptor, s_put_reward, true, true },
    { "GetReward", &crm__v1__get_reward_request__descriptor, s_get_reward, false, false },
    { "ListRewards", &crm__v1__list_rewards_request__descriptor, s_list_rewards, false, false },
    { "Redeem", &crm__v1__redeem_request__descriptor, s_redeem, true, false },
    { "MarkRedemptionUsed", &crm__v1__redemption_action_request__descriptor, s_mark_used, true, false },
    { "CancelRedemption", &crm__v1__redemption_action_request__descriptor, s_cancel_redemption, true, false },
    { "GetRedemption", &crm__v1__redemption_action_request__descriptor, s_get_redemption, false, false },
    { "ListRedemptions", &crm__v1__list_redemptions_request__descriptor, s_list_redemptions, false, false },
    { "Adjust", &crm__v1__adjust_request__descriptor, s_adjust, true, true },
    { "RecordActivity", &crm__v1__record_activity_request__descriptor, s_record_activity, true, false },
    { "ListAudit", &crm__v1__list_audit_request__descriptor, s_list_audit, false, true },
};

static int s_write_body(crm_txn_t *txn, void *arg)
{
    s_call_t *c = arg;
    free(c->body);
    c->body = NULL;
    c->body_len = 0;
    memset(&c->err, 0, sizeof c->err);
    return c->fn(txn, c);
}

static void s_answer(loyalty_answer_t *ans, crm_rpc_status_t status, const char *field, const char *error)
{
    ans->status = status;
    snprintf(ans->field, sizeof ans->field, "%s", field ? field : "");
    snprintf(ans->error, sizeof ans->error, "%s", error ? error : "");
}

void loyalty_handle(loyalty_t *ly, const char *method, const loyalty_caller_t *caller,
                    const void *body, size_t body_len, loyalty_answer_t *ans)
{
    memset(ans, 0, sizeof *ans);
    const s_method_t *m = NULL;
    size_t prefix = strlen(LOYALTY_METHOD_PREFIX);
    if (strncmp(method, LOYALTY_METHOD_PREFIX, prefix) == 0)
        for (size_t i = 0; i < sizeof s_methods / sizeof s_methods[0]; i++)
            if (strcmp(method + prefix, s_methods[i].name) == 0)
                m = &s_methods[i];
    if (!m) {
        s_answer(ans, CRM_RPC_UNKNOWN_METHOD, NULL, "unknown method");
        return;
    }
    const loyalty_caller_t nobody = { "", "" };
    if (!caller)
        caller = &nobody;
    if (m->admin && (!caller->role || strcmp(caller->role, LOYALTY_ADMIN_ROLE) != 0)) {
        s_answer(ans, CRM_RPC_FORBIDDEN, NULL, "this method needs the admin role");
        return;
    }
    ProtobufCMessage *req = NULL;
    crm_codec_error_t cerr;
    int rc = crm_codec_pb_decode(m->request, body_len ? body : "", body_len, &req, &cerr);
    if (rc) {
        s_answer(ans, rc == CRM_ETOOBIG ? CRM_RPC_TOO_LARGE : CRM_RPC_INVALID, cerr.path, cerr.message);
        return;
    }
    s_call_t c = { .ly = ly, .caller = caller, .req = req, .fn = m->fn };
    if (m->write) {
        rc = loyalty_write(ly, s_write_body, &c);
    } else {
        crm_txn_t *txn = NULL;
        rc = crm_store_read_begin(ly->store, &txn);
        if (rc == 0)
            rc = m->fn(txn, &c);
        crm_store_txn_end(&txn);
    }
    if (rc == 0) {
        ans->status = CRM_RPC_OK;
        ans->body = c.body;
        ans->body_len = c.body_len;
        c.body = NULL;
    } else if (c.err.status != CRM_RPC_OK) {
        s_answer(ans, c.err.status, c.err.field, c.err.message);
    } else {
        s_answer(ans, CRM_RPC_INTERNAL, NULL, crm_strerror(rc));
    }
    free(c.body);
    crm_codec_message_free(&req);
}

/* --- Contacts events */

/* The time an event's occurrence is counted at: when it happened, never after now. */
static int64_t s_event_time(const Crm__V1__Timestamp *when, const Crm__V1__Event *ev, int64_t now)
{
    int64_t at = when ? loyalty_ts_us(when) : ev->time ? loyalty_ts_us(ev->time) : now;
    return at > now ? now : at;
}

/* A referred customer's first purchase: the referral rules reward the referee and the referrer,
 * once each. */
static int s_referral(loyalty_t *ly, crm_txn_t *txn, loyalty_account_t *referee, int64_t at)
{
    struct {
        Crm__V1__ReferralTarget side;
        const char *name;
    } const sides[] = {
        { CRM__V1__REFERRAL_TARGET__REFERRAL_TARGET_REFEREE, "referee" },
        { CRM__V1__REFERRAL_TARGET__REFERRAL_TARGET_REFERRER, "referrer" },
    };
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < sizeof sides / sizeof sides[0]; i++) {
        char cause[LOYALTY_CAUSE_MAX];
        snprintf(cause, sizeof cause, "referral:%s:%s", referee->customer_id, sides[i].name);
        if (loyalty_cause_seen(&ly->db, txn, cause, &rc) || rc)
            continue;
        loyalty_account_t other;
        loyalty_account_t *acc = referee;
        if (sides[i].side == CRM__V1__REFERRAL_TARGET__REFERRAL_TARGET_REFERRER) {
            rc = loyalty_account_get(&ly->db, txn, referee->referred_by, &other);
            if (rc == 0)
                rc = s_account_touch(ly, txn, &other, at);
            acc = &other;
        }
        loyalty_earning_t e = { .kind = CRM__V1__EARN_KIND__EARN_KIND_REFERRAL, .side = sides[i].side, .at_us = at };
        int64_t points = 0;
        uint64_t lot = 0, seq = 0;
        if (rc == 0)
            rc = loyalty_rules_award(ly, txn, acc, &e, cause, false, &points, &lot, &seq);
        if (rc == 0) {
            Crm__V1__CauseRecord rec = CRM__V1__CAUSE_RECORD__INIT;
            rec.customer_id = acc->customer_id;
            rec.lot = lot;
            rec.points = points;
            rec.entry = seq;
            rec.time_us = at;
            rec.ref = referee->customer_id;
            rc = loyalty_cause_put(&ly->db, txn, cause, &rec);
        }
    }
    return rc;
}

static int s_on_purchase_recorded(loyalty_t *ly, crm_txn_t *txn, const Crm__V1__Event *ev,
                                  const ProtobufCMessage *msg)
{
    const Crm__V1__PurchaseRecorded *m = (const void *) msg;
    const Crm__V1__Purchase *p = m->purchase;
    if (!p || !crm_id_valid(p->customer_id) || !p->id[0] || strlen(p->id) > LOYALTY_REF_MAX
        || p->amount_minor < 0 || strlen(p->currency) > LOYALTY_CURRENCY_LEN)
        return CRM_EINVALID;
    char cause[LOYALTY_CAUSE_MAX];
    snprintf(cause, sizeof cause, "purchase:%s", p->id);
    int rc = 0;
    if (loyalty_cause_seen(&ly->db, txn, cause, &rc) || rc)
        return rc;
    int64_t now = loyalty_now(ly);
    int64_t at = s_event_time(p->purchased_at, ev, now);
    loyalty_account_t acc;
    rc = loyalty_account_get(&ly->db, txn, p->customer_id, &acc);
    if (rc == 0)
        rc = s_account_touch(ly, txn, &acc, at);
    if (rc)
        return rc;
    Crm__V1__CauseRecord rec = CRM__V1__CAUSE_RECORD__INIT;
    rec.customer_id = acc.customer_id;
    rec.amount_minor = p->amount_minor;
    rec.currency = p->currency;
    rec.refunded_minor = p->refunded_minor > p->amount_minor ? p->amount_minor : p->refunded_minor;
    rec.time_us = at;
    if (acc.closed)
        return loyalty_cause_put(&ly->db, txn, cause, &rec);
    int64_t net = rec.amount_minor - rec.refunded_minor;
    Crm__V1__PurchaseRecord pr = CRM__V1__PURCHASE_RECORD__INIT;
    pr.amount_minor = rec.amount_minor;
    pr.refunded_minor = rec.refunded_minor;
    pr.currency = p->currency;
    rc = loyalty_purchase_put(ly, txn, acc.customer_id, at, p->id, &pr);
    if (rc == 0 && net > 0) {
        acc.purchase_count++;
        rc = loyalty_account_put(&ly->db, txn, &acc);
    }
    /* The purchase that crosses a threshold upgrades first, and earns at the new multiplier. */
    if (rc == 0)
        rc = loyalty_tier_upgrade(ly, txn, &acc, at);
    if (rc == 0) {
        loyalty_earning_t e = {
            .kind = CRM__V1__EARN_KIND__EARN_KIND_PURCHASE, .currency = p->currency, .amount_minor = net,
            .at_us = at,
        };
        rc = loyalty_rules_award(ly, txn, &acc, &e, cause, true, &rec.points, &rec.lot, &rec.entry);
    }
    if (rc == 0)
        rc = loyalty_cause_put(&ly->db, txn, cause, &rec);
    if (rc == 0)
        rc = loyalty_badges_check(ly, txn, &acc, at);
    if (rc == 0 && net > 0 && acc.purchase_count == 1 && crm_id_valid(acc.referred_by))
        rc = s_referral(ly, txn, &acc, at);
    return rc;
}

static int s_on_purchase_refunded(loyalty_t *ly, crm_txn_t *txn, const Crm__V1__Event *ev,
                                  const ProtobufCMessage *msg)
{
    const Crm__V1__PurchaseRefunded *m = (const void *) msg;
    const Crm__V1__Purchase *p = m->purchase;
    const Crm__V1__Refund *refund = m->refund;
    if (!p || !refund || !p->id[0] || strlen(p->id) > LOYALTY_REF_MAX || !refund->id[0]
        || strlen(refund->id) > LOYALTY_REF_MAX || refund->amount_minor < 0)
        return CRM_EINVALID;
    char cause[LOYALTY_CAUSE_MAX], purchase_cause[LOYALTY_CAUSE_MAX];
    snprintf(cause, sizeof cause, "refund:%s", refund->id);
    snprintf(purchase_cause, sizeof purchase_cause, "purchase:%s", p->id);
    int rc = 0;
    if (loyalty_cause_seen(&ly->db, txn, cause, &rc) || rc)
        return rc;
    Crm__V1__CauseRecord done = CRM__V1__CAUSE_RECORD__INIT;
    done.customer_id = p->customer_id;
    done.ref = p->id;
    Crm__V1__CauseRecord *rec = NULL;
    rc = loyalty_cause_get(&ly->db, txn, purchase_cause, &rec);
    if (rc == CRM_ENOTFOUND)   /* a purchase from before the programme: nothing was earned */
        return loyalty_cause_put(&ly->db, txn, cause, &done);
    if (rc)
        return rc;
    loyalty_account_t acc;
    rc = loyalty_account_get(&ly->db, txn, rec->customer_id, &acc);
    if (rc)
        goto out;
    int64_t refunded = rec->refunded_minor + refund->amount_minor;
    if (p->refunded_minor > refunded)
        refunded = p->refunded_minor;
    if (refunded > rec->amount_minor)
        refunded = rec->amount_minor;
    int64_t target = rec->points;
    if (rec->amount_minor > 0)
        target = (int64_t) ((__int128) rec->points * refunded / rec->amount_minor);
    int64_t delta = target - rec->reversed;
    uint64_t seq = 0;
    if (delta > 0 && !acc.closed)
        rc = loyalty_ledger_reverse(ly, txn, &acc, delta, rec->lot, cause, &seq, NULL);
    if (rc)
        goto out;
    bool counted_before = rec->amount_minor - rec->refunded_minor > 0;
    bool counted_after = rec->amount_minor - refunded > 0;
    Crm__V1__CauseRecord updated = *rec;
    updated.reversed = delta > 0 ? rec->reversed + delta : rec->reversed;
    updated.refunded_minor = refunded;
    rc = loyalty_cause_put(&ly->db, txn, purchase_cause, &updated);
    if (rc == 0) {
        Crm__V1__PurchaseRecord pr = CRM__V1__PURCHASE_RECORD__INIT;
        pr.amount_minor = rec->amount_minor;
        pr.refunded_minor = refunded;
        pr.currency = rec->currency;
        rc = loyalty_purchase_put(ly, txn, acc.customer_id, rec->time_us, p->id, &pr);
    }
    if (rc == 0 && counted_before && !counted_after && acc.purchase_count > 0) {
        acc.purchase_count--;
        rc = loyalty_account_put(&ly->db, txn, &acc);
    }
    if (rc == 0) {
        done.customer_id = acc.customer_id;
        done.points = delta > 0 ? -delta : 0;
        done.entry = seq;
        rc = loyalty_cause_put(&ly->db, txn, cause, &done);
    }
out:
    crm_codec_message_free((ProtobufCMessage **) &rec);
    return rc;
}

/* Takes what loyalty needs from a customer record: birthday, membership, referrer. */
static int s_profile(loyalty_t *ly, crm_txn_t *txn, const Crm__V1__Customer *cust)
{
    if (!cust || !crm_id_valid(cust->id))
        return CRM_EINVALID;
    loyalty_account_t acc;
    int rc = loyalty_account_get(&ly->db, txn, cust->id, &acc);
    if (rc || acc.closed)
        return rc;
    char old_birthday[LOYALTY_BIRTHDAY_SIZE];
    snprintf(old_birthday, sizeof old_birthday, "%s", acc.birthday);
    int64_t old_member = acc.member_since_us;
    bool changed = !acc.stored;
    const char *birthday = loyalty_birthday_valid(cust->birthday) ? cust->birthday : "";
    if (strcmp(birthday, acc.birthday) != 0) {
        snprintf(acc.birthday, sizeof acc.birthday, "%s", birthday);
        changed = true;
    }
    int64_t created = cust->created_at ? loyalty_ts_us(cust->created_at) : loyalty_now(ly);
    if (!acc.member_since_us || created < acc.member_since_us) {
        acc.member_since_us = created;
        changed = true;
    }
    for (size_t i = 0; i < cust->n_custom_fields; i++) {
        const Crm__V1__Customer__CustomFieldsEntry *f = cust->custom_fields[i];
        if (strcmp(f->key, S_REFERRED_BY_FIELD) != 0 || !f->value
            || f->value->kind_case != CRM__V1__VALUE__KIND_STRING_VALUE)
            continue;
        const char *referrer = f->value->string_value;
        if (crm_id_valid(referrer) && strcmp(referrer, acc.customer_id) != 0 && !acc.referred_by[0]
            && acc.purchase_count == 0) {
            snprintf(acc.referred_by, sizeof acc.referred_by, "%s", referrer);
            changed = true;
        }
    }
    if (!changed)
        return 0;
    acc.updated_us = loyalty_now(ly);
    rc = loyalty_account_put(&ly->db, txn, &acc);
    if (rc == 0)
        rc = loyalty_calendar_update(ly, txn, &acc, old_birthday, old_member);
    return rc;
}

static int s_on_customer_created(loyalty_t *ly, crm_txn_t *txn, const Crm__V1__Event *ev,
                                 const ProtobufCMessage *msg)
{
    return s_profile(ly, txn, ((const Crm__V1__CustomerCreated *) msg)->customer);
}

static int s_on_customer_updated(loyalty_t *ly, crm_txn_t *txn, const Crm__V1__Event *ev,
                                 const ProtobufCMessage *msg)
{
    return s_profile(ly, txn, ((const Crm__V1__CustomerUpdated *) msg)->customer);
}

static int s_on_customer_merged(loyalty_t *ly, crm_txn_t *txn, const Crm__V1__Event *ev,
                                const ProtobufCMessage *msg)
{
    const Crm__V1__CustomerMerged *m = (const void *) msg;
    if (!crm_id_valid(m->survivor_id) || !crm_id_valid(m->merged_id) || strcmp(m->survivor_id, m->merged_id) == 0)
        return CRM_EINVALID;
    char cause[LOYALTY_CAUSE_MAX];
    snprintf(cause, sizeof cause, "merge:%s", m->merged_id);
    int rc = 0;
    if (loyalty_cause_seen(&ly->db, txn, cause, &rc) || rc)
        return rc;
    Crm__V1__CauseRecord done = CRM__V1__CAUSE_RECORD__INIT;
    done.customer_id = (char *) m->survivor_id;
    done.ref = (char *) m->merged_id;
    loyalty_account_t from, to;
    rc = loyalty_account_get(&ly->db, txn, m->merged_id, &from);
    if (rc == 0)
        rc = loyalty_account_get(&ly->db, txn, m->survivor_id, &to);
    if (rc == 0 && from.stored && !from.closed && !to.closed) {
        int64_t now = loyalty_now(ly);
        rc = s_account_touch(ly, txn, &to, from.member_since_us ? from.member_since_us : now);
        char old_birthday[LOYALTY_BIRTHDAY_SIZE];
        snprintf(old_birthday, sizeof old_birthday, "%s", to.birthday);
        int64_t old_member = to.member_since_us;
        if (rc == 0)
            rc = loyalty_calendar_remove(ly, txn, &from);
        if (rc == 0)
            rc = loyalty_ledger_merge(ly, txn, &to, &from, cause);
        if (rc == 0)
            rc = loyalty_purchases_move(ly, txn, from.customer_id, to.customer_id);
        if (rc == 0)
            rc = loyalty_badges_copy(ly, txn, from.customer_id, to.customer_id);
        if (rc == 0)
            rc = loyalty_redemptions_move(ly, txn, from.customer_id, to.customer_id);
        if (rc == 0) {
            to.purchase_count += from.purchase_count;
            from.purchase_count = 0;
            if (from.member_since_us && from.member_since_us < to.member_since_us)
                to.member_since_us = from.member_since_us;
            if (!to.birthday[0])
                snprintf(to.birthday, sizeof to.birthday, "%s", from.birthday);
            rc = loyalty_account_put(&ly->db, txn, &from);
        }
        if (rc == 0)
            rc = loyalty_account_put(&ly->db, txn, &to);
        if (rc == 0)
            rc = loyalty_calendar_update(ly, txn, &to, old_birthday, old_member);
        if (rc == 0)
            rc = loyalty_tier_upgrade(ly, txn, &to, now);
        if (rc == 0)
            rc = loyalty_badges_check(ly, txn, &to, now);
    }
    if (rc == 0 && m->survivor)
        rc = s_profile(ly, txn, m->survivor);
    if (rc == 0)
        rc = loyalty_cause_put(&ly->db, txn, cause, &done);
    return rc;
}

static int s_on_customer_deleted(loyalty_t *ly, crm_txn_t *txn, const Crm__V1__Event *ev,
                                 const ProtobufCMessage *msg)
{
    const Crm__V1__CustomerDeleted *m = (const void *) msg;
    if (!crm_id_valid(m->customer_id))
        return CRM_EINVALID;
    loyalty_account_t acc;
    int rc = loyalty_account_get(&ly->db, txn, m->customer_id, &acc);
    if (rc || !acc.stored || acc.closed)
        return rc;
    char cause[LOYALTY_CAUSE_MAX];
    snprintf(cause, sizeof cause, "close:%s", acc.customer_id);
    rc = loyalty_calendar_remove(ly, txn, &acc);
    if (rc == 0)
        rc = loyalty_ledger_close(ly, txn, &acc, cause);
    return rc;
}

static int s_on_customer_erased(loyalty_t *ly, crm_txn_t *txn, const Crm__V1__Event *ev,
                                const ProtobufCMessage *msg)
{
    const Crm__V1__CustomerErased *m = (const void *) msg;
    if (!crm_id_valid(m->customer_id))
        return CRM_EINVALID;
    loyalty_account_t acc;
    int rc = loyalty_account_get(&ly->db, txn, m->customer_id, &acc);
    if (rc || !acc.stored || (!acc.birthday[0] && !acc.referred_by[0]))
        return rc;
    rc = loyalty_calendar_remove(ly, txn, &acc);
    acc.birthday[0] = '\0';
    acc.referred_by[0] = '\0';
    if (rc == 0)
        rc = loyalty_account_put(&ly->db, txn, &acc);
    if (rc == 0 && !acc.closed)
        rc = loyalty_calendar_update(ly, txn, &acc, "", 0);
    return rc;
}

static int s_on_answer_received(loyalty_t *ly, crm_txn_t *txn, const Crm__V1__Event *ev,
                                const ProtobufCMessage *msg)
{
    const Crm__V1__AnswerReceived *m = (const void *) msg;
    const Crm__V1__Answer *a = m->answer;
    if (!a || !crm_id_valid(a->customer_id) || !a->id[0] || strlen(a->id) > LOYALTY_REF_MAX)
        return CRM_EINVALID;
    int64_t now = loyalty_now(ly);
    int64_t at = a->answered_at ? loyalty_ts_us(a->answered_at) : ev->time ? loyalty_ts_us(ev->time) : now;
    if (at > now)
        at = now;
    loyalty_account_t acc;
    int rc = loyalty_account_get(&ly->db, txn, a->customer_id, &acc);
    if (rc || acc.closed)
        return rc;
    if ((rc = s_account_touch(ly, txn, &acc, at)))
        return rc;
    int64_t points = 0;
    uint64_t seq = 0;
    bool duplicate = false;
    return s_award_activity(ly, txn, &acc, CRM__V1__EARN_KIND__EARN_KIND_SURVEY, a->id, at, &points, &seq,
                            &duplicate);
}

typedef int (*s_event_fn)(loyalty_t *ly, crm_txn_t *txn, const Crm__V1__Event *ev, const ProtobufCMessage *msg);

static const struct {
    const char *type;
    const ProtobufCMessageDescriptor *data;
    s_event_fn fn;
} s_events[] = {
    { "crm.contacts.purchase.recorded.v1", &crm__v1__purchase_recorded__descriptor, s_on_purchase_recorded },
    { "crm.contacts.purchase.refunded.v1", &crm__v1__purchase_refunded__descriptor, s_on_purchase_refunded },
    { "crm.contacts.customer.created.v1", &crm__v1__customer_created__descriptor, s_on_customer_created },
    { "crm.contacts.customer.updated.v1", &crm__v1__customer_updated__descriptor, s_on_customer_updated },
    { "crm.contacts.customer.merged.v1", &crm__v1__customer_merged__descriptor, s_on_customer_merged },
    { "crm.contacts.customer.deleted.v1", &crm__v1__customer_deleted__descriptor, s_on_customer_deleted },
    { "crm.contacts.customer.erased.v1", &crm__v1__customer_erased__descriptor, s_on_customer_erased },
    { "crm.feedback.answer.received.v1", &crm__v1__answer_received__descriptor, s_on_answer_received },
};

int loyalty_on_event(crm_txn_t *txn, const crm_bus_event_t *event, void *arg)
{
    loyalty_t *ly = arg;
    size_t i = 0;
    size_t count = sizeof s_events / sizeof s_events[0];
    for (; i < count; i++)
        if (event->topic_len == strlen(s_events[i].type)
            && memcmp(event->topic, s_events[i].type, event->topic_len) == 0)
            break;
    if (i == count)
        return 0;   /* an event loyalty has no use for */
    Crm__V1__Event *ev = NULL;
    ProtobufCMessage *msg = NULL;
    int rc = crm_event_decode(event->payload, event->payload_len, &ev);
    if (rc == 0)
        rc = crm_event_data(ev, s_events[i].data, &msg);
    if (rc)
        rc = CRM_EINVALID;
    else
        rc = s_events[i].fn(ly, txn, ev, msg);
    crm_codec_message_free(&msg);
    crm_event_destroy(&ev);
    /* The subscriber commits this transaction right after; the publisher (the same loop) reads
     * the notification only then, and finds nothing new if the transaction was aborted. */
    if (rc == 0)
        crm_outbox_notify(ly->outbox);
    return rc;
}
