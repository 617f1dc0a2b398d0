/* loyalty_rules.c: earning rules: validation, storage, defaults, pricing under limits and budgets. */
#include "loyalty_rules.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crm_codec.h"
#include "crm_error.h"
#include "loyalty_ledger.h"
#include "loyalty_tiers.h"

#define S_TEXT_MAX     256     /* bytes of a rule's name */
#define S_TIERS_MAX    32      /* tiers a rule may be restricted to */

/* The periods of per-customer limits: the key's first byte. */
#define S_DAY   'd'
#define S_WEEK  'w'
#define S_MONTH 'm'

bool loyalty_name_valid(const char *s)
{
    size_t len = s ? strlen(s) : 0;
    if (len == 0 || len > LOYALTY_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                  || c == '.' || c == '_' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

bool loyalty_currency_valid(const char *s)
{
    if (!s || strlen(s) != LOYALTY_CURRENCY_LEN)
        return false;
    for (int i = 0; i < LOYALTY_CURRENCY_LEN; i++)
        if (s[i] < 'A' || s[i] > 'Z')
            return false;
    return true;
}

int loyalty_rule_validate(const Crm__V1__EarnRule *r, loyalty_err_t *err)
{
    if (r->id[0] && !loyalty_name_valid(r->id))
        return loyalty_fail(err, CRM_RPC_INVALID, "rule.id",
                            "an id is 1 to %d characters of letters, digits, '.', '_' and '-'",
                            LOYALTY_NAME_MAX);
    if (strlen(r->name) > S_TEXT_MAX)
        return loyalty_fail(err, CRM_RPC_INVALID, "rule.name", "longer than %d bytes", S_TEXT_MAX);
    if (r->kind < CRM__V1__EARN_KIND__EARN_KIND_PURCHASE || r->kind > CRM__V1__EARN_KIND__EARN_KIND_BADGE)
        return loyalty_fail(err, CRM_RPC_INVALID, "rule.kind",
                            "kind must be purchase, survey, review, referral, social_share, birthday or badge");
    if (r->kind == CRM__V1__EARN_KIND__EARN_KIND_PURCHASE) {
        if (!loyalty_currency_valid(r->currency))
            return loyalty_fail(err, CRM_RPC_INVALID, "rule.currency",
                                "a purchase rule needs an ISO 4217 currency such as \"CNY\"");
        if (r->points_per_unit == 0)
            return loyalty_fail(err, CRM_RPC_INVALID, "rule.pointsPerUnit",
                                "a purchase rule gives at least 1 point per unit");
    } else if (r->fixed_points <= 0 || r->fixed_points > LOYALTY_POINTS_MAX) {
        return loyalty_fail(err, CRM_RPC_INVALID, "rule.fixedPoints",
                            "fixedPoints must be from 1 to %lld", (long long) LOYALTY_POINTS_MAX);
    }
    if (r->kind == CRM__V1__EARN_KIND__EARN_KIND_BADGE
        && (r->badge < CRM__V1__BADGE_KIND__BADGE_KIND_FIRST_PURCHASE || r->badge > CRM__V1__BADGE_KIND__BADGE_KIND_VIP))
        return loyalty_fail(err, CRM_RPC_INVALID, "rule.badge", "a badge rule names its badge");
    if (r->referral_target < 0 || r->referral_target > CRM__V1__REFERRAL_TARGET__REFERRAL_TARGET_BOTH)
        return loyalty_fail(err, CRM_RPC_INVALID, "rule.referralTarget", "unknown referral target");
    struct {
        int64_t value;
        const char *field;
    } const limits[] = {
        { r->max_points_per_day, "rule.maxPointsPerDay" },
        { r->max_points_per_week, "rule.maxPointsPerWeek" },
        { r->max_points_per_month, "rule.maxPointsPerMonth" },
        { r->budget, "rule.budget" },
    };
    for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++)
        if (limits[i].value < 0)
            return loyalty_fail(err, CRM_RPC_INVALID, limits[i].field, "must not be negative");
    if (r->valid_from && r->valid_until && loyalty_ts_us(r->valid_until) <= loyalty_ts_us(r->valid_from))
        return loyalty_fail(err, CRM_RPC_INVALID, "rule.validUntil", "validUntil must be after validFrom");
    if (r->n_tiers > S_TIERS_MAX)
        return loyalty_fail(err, CRM_RPC_INVALID, "rule.tiers", "at most %d tiers", S_TIERS_MAX);
    for (size_t i = 0; i < r->n_tiers; i++)
        if (!loyalty_name_valid(r->tiers[i])) {
            char field[LOYALTY_FIELD_MAX];
            snprintf(field, sizeof field, "rule.tiers[%zu]", i);
            return loyalty_fail(err, CRM_RPC_INVALID, field, "not a tier id");
        }
    return 0;
}

int loyalty_rule_get(loyalty_t *ly, crm_txn_t *txn, const char *id, Crm__V1__EarnRule **rule_p)
{
    if (!loyalty_name_valid(id))
        return CRM_ENOTFOUND;
    return loyalty_record_get(txn, ly->db.rules, id, strlen(id), &crm__v1__earn_rule__descriptor,
                              (ProtobufCMessage **) rule_p);
}

int loyalty_rule_put(loyalty_t *ly, crm_txn_t *txn, const Crm__V1__EarnRule *rule)
{
    assert(loyalty_name_valid(rule->id));
    crm_val_t v;
    int rc = crm_store_get(txn, ly->db.rules, rule->id, strlen(rule->id), &v);
    if (rc == CRM_ENOTFOUND) {
        uint64_t count = 0;
        rc = crm_store_count(txn, ly->db.rules, &count);
        if (rc == 0 && count >= LOYALTY_RULES_MAX)
            rc = CRM_ELIMIT;
    }
    if (rc)
        return rc;
    Crm__V1__EarnRule stored = *rule;
    stored.awarded = 0;
    return loyalty_record_put(txn, ly->db.rules, rule->id, strlen(rule->id), &stored.base);
}

int loyalty_rule_del(loyalty_t *ly, crm_txn_t *txn, const char *id)
{
    if (!loyalty_name_valid(id))
        return CRM_ENOTFOUND;
    int rc = crm_store_del(txn, ly->db.rules, id, strlen(id));
    if (rc == 0)
        rc = loyalty_index_del(txn, ly->db.rule_usage, id, strlen(id));
    return rc;
}

/* Reads a usage record (zero when absent). */
static int s_usage_get(crm_txn_t *txn, crm_db_t db, const void *key, size_t len, int64_t *points,
                       uint64_t *times)
{
    *points = 0;
    *times = 0;
    Crm__V1__RuleUsage *u = NULL;
    int rc = loyalty_record_get(txn, db, key, len, &crm__v1__rule_usage__descriptor,
                                (ProtobufCMessage **) &u);
    if (rc == CRM_ENOTFOUND)
        return 0;
    if (rc)
        return rc;
    *points = u->points;
    *times = u->times;
    crm_codec_message_free((ProtobufCMessage **) &u);
    return 0;
}

static int s_usage_put(crm_txn_t *txn, crm_db_t db, const void *key, size_t len, int64_t points,
                       uint64_t times)
{
    Crm__V1__RuleUsage u = CRM__V1__RULE_USAGE__INIT;
    u.points = points;
    u.times = times;
    return loyalty_record_put(txn, db, key, len, &u.base);
}

int loyalty_rule_awarded(loyalty_t *ly, crm_txn_t *txn, const char *id, int64_t *points)
{
    uint64_t times = 0;
    return s_usage_get(txn, ly->db.rule_usage, id, strlen(id), points, &times);
}

/* --- Defaults */

typedef struct {
    const char *id;
    const char *name;
    Crm__V1__EarnKind kind;
    const char *currency;
    uint32_t points_per_unit;
    int64_t fixed_points;
    uint32_t max_times_per_day;
    Crm__V1__BadgeKind badge;
} s_default_rule_t;

static const s_default_rule_t s_default_rules[] = {
    { "purchase-cny", "1 point per yuan", CRM__V1__EARN_KIND__EARN_KIND_PURCHASE, "CNY", 1, 0, 0, 0 },
    { "purchase-usd", "1 point per dollar", CRM__V1__EARN_KIND__EARN_KIND_PURCHASE, "USD", 1, 0, 0, 0 },
    { "purchase-eur", "1 point per euro", CRM__V1__EARN_KIND__EARN_KIND_PURCHASE, "EUR", 1, 0, 0, 0 },
    { "survey", "Survey answered", CRM__V1__EARN_KIND__EARN_KIND_SURVEY, "", 0, 20, 5, 0 },
    { "review", "Review written", CRM__V1__EARN_KIND__EARN_KIND_REVIEW, "", 0, 50, 3, 0 },
    { "referral", "Referral's first purchase", CRM__V1__EARN_KIND__EARN_KIND_REFERRAL, "", 0, 200, 0, 0 },
    { "social-share", "Social share", CRM__V1__EARN_KIND__EARN_KIND_SOCIAL_SHARE, "", 0, 10, 3, 0 },
    { "birthday", "Birthday bonus", CRM__V1__EARN_KIND__EARN_KIND_BIRTHDAY, "", 0, 100, 0, 0 },
    { "badge-first-purchase", "First purchase", CRM__V1__EARN_KIND__EARN_KIND_BADGE, "", 0, 50, 0,
      CRM__V1__BADGE_KIND__BADGE_KIND_FIRST_PURCHASE },
    { "badge-tenth-purchase", "Tenth purchase", CRM__V1__EARN_KIND__EARN_KIND_BADGE, "", 0, 200, 0,
      CRM__V1__BADGE_KIND__BADGE_KIND_TENTH_PURCHASE },
    { "badge-one-year", "One year a member", CRM__V1__EARN_KIND__EARN_KIND_BADGE, "", 0, 100, 0,
      CRM__V1__BADGE_KIND__BADGE_KIND_ONE_YEAR_MEMBER },
    { "badge-vip", "VIP", CRM__V1__EARN_KIND__EARN_KIND_BADGE, "", 0, 500, 0,
      CRM__V1__BADGE_KIND__BADGE_KIND_VIP },
};

int loyalty_rules_seed(loyalty_t *ly, crm_txn_t *txn, int64_t now_us)
{
    Crm__V1__Timestamp now;
    loyalty_ts_set(&now, now_us);
    for (size_t i = 0; i < sizeof s_default_rules / sizeof s_default_rules[0]; i++) {
        const s_default_rule_t *d = &s_default_rules[i];
        Crm__V1__EarnRule r = CRM__V1__EARN_RULE__INIT;
        r.id = (char *) d->id;
        r.name = (char *) d->name;
        r.kind = d->kind;
        r.currency = (char *) d->currency;
        r.points_per_unit = d->points_per_unit;
        r.unit_minor = d->points_per_unit ? LOYALTY_DEFAULT_UNIT : 0;
        r.fixed_points = d->fixed_points;
        r.no_tier_multiplier = d->kind != CRM__V1__EARN_KIND__EARN_KIND_PURCHASE;
        r.max_times_per_day = d->max_times_per_day;
        r.badge = d->badge;
        r.referral_target = d->kind == CRM__V1__EARN_KIND__EARN_KIND_REFERRAL
                                ? CRM__V1__REFERRAL_TARGET__REFERRAL_TARGET_BOTH : 0;
        r.created_at = &now;
        r.updated_at = &now;
        int rc = loyalty_rule_put(ly, txn, &r);
        if (rc)
            return rc;
    }
    return 0;
}

/* --- Pricing */

/* The index of the period of kind holding at_us. */
static uint32_t s_period(char kind, int64_t at_us)
{
    int64_t day = loyalty_day_of(at_us > 0 ? at_us : 0);
    if (kind == S_DAY)
        return (uint32_t) day;
    if (kind == S_WEEK)
        return (uint32_t) ((day + 3) / 7);   /* weeks from Monday; 1970-01-01 was a Thursday */
    int year, month, mday;
    loyalty_civil_from_day(day, &year, &month, &mday);
    return (uint32_t) (year * 12 + month - 1);
}

/* Writes the counter key of a rule, a customer and a period; returns its length. */
static size_t s_counter_key(uint8_t out[LOYALTY_COUNTER_KEY_MAX], char kind, uint32_t period,
                            const char *rule_id, const char *customer_id)
{
    size_t id_len = strlen(rule_id);
    assert(id_len <= LOYALTY_NAME_MAX && strlen(customer_id) == CRM_ID_LEN);
    out[0] = (uint8_t) kind;
    out[1] = (uint8_t) (period >> 24);
    out[2] = (uint8_t) (period >> 16);
    out[3] = (uint8_t) (period >> 8);
    out[4] = (uint8_t) period;
    memcpy(out + 5, rule_id, id_len);
    out[5 + id_len] = '\0';
    memcpy(out + 6 + id_len, customer_id, CRM_ID_LEN);
    return 6 + id_len + CRM_ID_LEN;
}

/* True when the rule r applies to earning e. */
static bool s_matches(const Crm__V1__EarnRule *r, const loyalty_earning_t *e)
{
    if (r->kind != e->kind)
        return false;
    if (r->valid_from && e->at_us < loyalty_ts_us(r->valid_from))
        return false;
    if (r->valid_until && e->at_us >= loyalty_ts_us(r->valid_until))
        return false;
    switch (e->kind) {
    case CRM__V1__EARN_KIND__EARN_KIND_PURCHASE:
        if (!e->currency || strcmp(r->currency, e->currency) != 0)
            return false;
        break;
    case CRM__V1__EARN_KIND__EARN_KIND_BADGE:
        if (r->badge != e->badge)
            return false;
        break;
    case CRM__V1__EARN_KIND__EARN_KIND_REFERRAL:
        if (r->referral_target != CRM__V1__REFERRAL_TARGET__REFERRAL_TARGET_UNSPECIFIED
            && r->referral_target != CRM__V1__REFERRAL_TARGET__REFERRAL_TARGET_BOTH
            && r->referral_target != e->side)
            return false;
        break;
    default:
        break;
    }
    if (r->n_tiers == 0)
        return true;
    for (size_t i = 0; i < r->n_tiers; i++)
        if (e->tier_id && strcmp(r->tiers[i], e->tier_id) == 0)
            return true;
    return false;
}

/* Lowers *points to what limit still allows, given used. 0 means no limit. */
static void s_limit(int64_t *points, int64_t limit, int64_t used)
{
    if (limit <= 0)
        return;
    int64_t left = limit - used;
    if (left < 0)
        left = 0;
    if (*points > left)
        *points = left;
}

/* Prices rule r for e, applies its limits and records its use. Sets *points. */
static int s_price_rule(loyalty_t *ly, crm_txn_t *txn, const Crm__V1__EarnRule *r,
                        const loyalty_earning_t *e, int64_t *points_out)
{
    *points_out = 0;
    int64_t points;
    if (r->kind == CRM__V1__EARN_KIND__EARN_KIND_PURCHASE) {
        uint32_t unit = r->unit_minor ? r->unit_minor : LOYALTY_DEFAULT_UNIT;
        __int128 p = e->amount_minor > 0 ? (__int128) e->amount_minor * r->points_per_unit / unit : 0;
        points = p > LOYALTY_POINTS_MAX ? LOYALTY_POINTS_MAX : (int64_t) p;
    } else {
        points = r->fixed_points;
    }
    if (!r->no_tier_multiplier) {
        uint32_t mult = e->multiplier_percent ? e->multiplier_percent : 100;
        __int128 p = (__int128) points * mult / 100;
        points = p > LOYALTY_POINTS_MAX ? LOYALTY_POINTS_MAX : (int64_t) p;
    }
    struct {
        char kind;
        int64_t max_points;
        uint32_t max_times;
    } const periods[] = {
        { S_DAY, r->max_points_per_day, r->max_times_per_day },
        { S_WEEK, r->max_points_per_week, r->max_times_per_week },
        { S_MONTH, r->max_points_per_month, r->max_times_per_month },
    };
    enum { S_PERIODS = sizeof periods / sizeof periods[0] };
    uint8_t keys[S_PERIODS][LOYALTY_COUNTER_KEY_MAX];
    size_t key_lens[S_PERIODS] = { 0 };
    int64_t used_points[S_PERIODS] = { 0 };
    uint64_t used_times[S_PERIODS] = { 0 };
    int rc = 0;
    for (size_t i = 0; i < S_PERIODS && rc == 0; i++) {
        if (!periods[i].max_points && !periods[i].max_times)
            continue;
        key_lens[i] = s_counter_key(keys[i], periods[i].kind, s_period(periods[i].kind, e->at_us),
                                    r->id, e->customer_id);
        rc = s_usage_get(txn, ly->db.counters, keys[i], key_lens[i], &used_points[i], &used_times[i]);
        if (periods[i].max_times && used_times[i] >= periods[i].max_times)
            points = 0;
        s_limit(&points, periods[i].max_points, used_points[i]);
    }
    int64_t awarded = 0;
    uint64_t times = 0;
    if (rc == 0)
        rc = s_usage_get(txn, ly->db.rule_usage, r->id, strlen(r->id), &awarded, &times);
    if (rc)
        return rc;
    s_limit(&points, r->budget, awarded);
    if (points <= 0)
        return 0;
    for (size_t i = 0; i < S_PERIODS && rc == 0; i++)
        if (key_lens[i])
            rc = s_usage_put(txn, ly->db.counters, keys[i], key_lens[i], used_points[i] + points,
                             used_times[i] + 1);
    if (rc == 0)
        rc = s_usage_put(txn, ly->db.rule_usage, r->id, strlen(r->id), awarded + points, times + 1);
    if (rc == 0)
        *points_out = points;
    return rc;
}

int loyalty_rules_price(loyalty_t *ly, crm_txn_t *txn, const loyalty_earning_t *e,
                        loyalty_parts_t *parts)
{
    memset(parts, 0, sizeof *parts);
    crm_cursor_t *cur = NULL;
    int rc = crm_cursor_open(txn, ly->db.rules, &cur);
    if (rc)
        return rc;
    size_t matched = 0;
    crm_val_t k, v;
    for (rc = crm_cursor_first(cur, &k, &v); rc == 0 && matched < LOYALTY_PARTS_MAX;
         rc = crm_cursor_next(cur, &k, &v)) {
        Crm__V1__EarnRule *r = NULL;
        rc = crm_codec_msgpack_decode(&crm__v1__earn_rule__descriptor, v.data, v.size,
                                      (ProtobufCMessage **) &r, NULL);
        if (rc)
            break;
        int64_t points = 0;
        if (s_matches(r, e)) {
            matched++;
            rc = s_price_rule(ly, txn, r, e, &points);
        }
        if (rc == 0 && points > 0) {
            size_t i = parts->count++;
            snprintf(parts->ids[i], sizeof parts->ids[i], "%s", r->id);
            crm__v1__earn_part__init(&parts->items[i]);
            parts->items[i].rule_id = parts->ids[i];
            parts->items[i].points = points;
            parts->ptrs[i] = &parts->items[i];
            parts->points += points;
            if (parts->points > LOYALTY_POINTS_MAX)
                parts->points = LOYALTY_POINTS_MAX;
        }
        crm_codec_message_free((ProtobufCMessage **) &r);
    }
    crm_cursor_close(&cur);
    return rc == CRM_ENOTFOUND ? 0 : rc;
}

int loyalty_rules_award(loyalty_t *ly, crm_txn_t *txn, loyalty_account_t *acc,
                        const loyalty_earning_t *e, const char *cause, bool pending,
                        int64_t *points_out, uint64_t *lot_out, uint64_t *entry_out)
{
    if (points_out)
        *points_out = 0;
    if (lot_out)
        *lot_out = 0;
    if (entry_out)
        *entry_out = 0;
    if (acc->closed)
        return 0;
    loyalty_tiers_t tiers = { 0 };
    int rc = loyalty_tiers_load(ly, txn, &tiers);
    if (rc)
        return rc;
    const Crm__V1__Tier *held = loyalty_tiers_held(&tiers, acc->tier);
    loyalty_earning_t priced = *e;
    priced.customer_id = acc->customer_id;
    priced.tier_id = held ? held->id : "";
    priced.multiplier_percent = loyalty_tier_multiplier(held);
    loyalty_parts_t parts;
    rc = loyalty_rules_price(ly, txn, &priced, &parts);
    if (rc == 0 && parts.points > 0) {
        loyalty_earn_t earn = {
            .kind = e->kind, .cause = cause, .points = parts.points, .earned_us = e->at_us,
            .pending = pending, .parts = parts.ptrs, .part_count = parts.count,
        };
        rc = loyalty_ledger_earn(ly, txn, acc, &earn, lot_out, entry_out);
        if (rc == 0 && points_out)
            *points_out = parts.points;
    }
    loyalty_tiers_clear(&tiers);
    return rc;
}

int loyalty_counters_trim(loyalty_t *ly, crm_txn_t *txn, int64_t now_us, size_t max, size_t *deleted)
{
    *deleted = 0;
    const char kinds[] = { S_DAY, S_WEEK, S_MONTH };
    crm_cursor_t *cur = NULL;
    int rc = crm_cursor_open(txn, ly->db.counters, &cur);
    if (rc)
        return rc;
    for (size_t i = 0; i < sizeof kinds && rc == 0 && *deleted < max; i++) {
        uint32_t keep_from = s_period(kinds[i], now_us);
        keep_from = keep_from ? keep_from - 1 : 0;
        uint8_t start = (uint8_t) kinds[i];
        crm_val_t k;
        for (rc = crm_cursor_seek(cur, &start, 1, &k, NULL); rc == 0 && *deleted < max;) {
            const uint8_t *key = k.data;
            if (k.size < 5 || key[0] != start)
                break;
            uint32_t period = (uint32_t) key[1] << 24 | (uint32_t) key[2] << 16
                              | (uint32_t) key[3] << 8 | key[4];
            if (period >= keep_from)
                break;
            rc = crm_cursor_del(cur);
            if (rc == 0) {
                (*deleted)++;
                rc = crm_cursor_next(cur, &k, NULL);
            }
        }
        if (rc == CRM_ENOTFOUND)
            rc = 0;
    }
    crm_cursor_close(&cur);
    return rc;
}
