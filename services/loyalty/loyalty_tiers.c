/* loyalty_tiers.c: tiers, rolling purchase statistics, upgrades and reviews, badges and the calendar. */
#include "loyalty_tiers.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crm_codec.h"
#include "crm_error.h"
#include "loyalty_ledger.h"
#include "loyalty_rules.h"

#define S_TEXT_MAX      256    /* bytes of a tier's name or one benefit */
#define S_BENEFITS_MAX  32
#define S_PURCHASE_KEY_MAX (CRM_ID_LEN + LOYALTY_TIME_KEY_LEN + LOYALTY_REF_MAX)
#define S_BADGE_KEY_LEN (CRM_ID_LEN + 1)

/* --- Tiers */

static int s_rank_cmp(const void *a, const void *b)
{
    const Crm__V1__Tier *x = *(Crm__V1__Tier *const *) a;
    const Crm__V1__Tier *y = *(Crm__V1__Tier *const *) b;
    return x->rank < y->rank ? -1 : x->rank > y->rank;
}

int loyalty_tiers_load(loyalty_t *ly, crm_txn_t *txn, loyalty_tiers_t *tiers)
{
    memset(tiers, 0, sizeof *tiers);
    crm_cursor_t *cur = NULL;
    int rc = crm_cursor_open(txn, ly->db.tiers, &cur);
    if (rc)
        return rc;
    crm_val_t k, v;
    for (rc = crm_cursor_first(cur, &k, &v); rc == 0; rc = crm_cursor_next(cur, &k, &v)) {
        Crm__V1__Tier **grown = realloc(tiers->items, (tiers->count + 1) * sizeof *grown);
        if (!grown) {
            rc = CRM_ENOMEM;
            break;
        }
        tiers->items = grown;
        rc = crm_codec_msgpack_decode(&crm__v1__tier__descriptor, v.data, v.size,
                                      (ProtobufCMessage **) &tiers->items[tiers->count], NULL);
        if (rc)
            break;
        tiers->count++;
    }
    crm_cursor_close(&cur);
    if (rc == CRM_ENOTFOUND)
        rc = 0;
    if (rc) {
        loyalty_tiers_clear(tiers);
        return rc;
    }
    if (tiers->count)
        qsort(tiers->items, tiers->count, sizeof tiers->items[0], s_rank_cmp);
    return 0;
}

void loyalty_tiers_clear(loyalty_tiers_t *tiers)
{
    for (size_t i = 0; i < tiers->count; i++)
        crm_codec_message_free((ProtobufCMessage **) &tiers->items[i]);
    free(tiers->items);
    memset(tiers, 0, sizeof *tiers);
}

const Crm__V1__Tier *loyalty_tiers_held(const loyalty_tiers_t *tiers, const char *tier_id)
{
    if (tiers->count == 0)
        return NULL;
    for (size_t i = 0; tier_id && *tier_id && i < tiers->count; i++)
        if (strcmp(tiers->items[i]->id, tier_id) == 0)
            return tiers->items[i];
    return tiers->items[0];
}

const Crm__V1__Tier *loyalty_tiers_qualify(const loyalty_tiers_t *tiers, int64_t spend,
                                           uint32_t purchases)
{
    if (tiers->count == 0)
        return NULL;
    const Crm__V1__Tier *best = tiers->items[0];
    for (size_t i = 1; i < tiers->count; i++) {
        const Crm__V1__Tier *t = tiers->items[i];
        if (spend >= t->min_spend_minor && purchases >= t->min_purchases)
            best = t;
    }
    return best;
}

const Crm__V1__Tier *loyalty_tiers_next(const loyalty_tiers_t *tiers, const Crm__V1__Tier *t)
{
    for (size_t i = 0; t && i + 1 < tiers->count; i++)
        if (tiers->items[i] == t)
            return tiers->items[i + 1];
    return NULL;
}

uint32_t loyalty_tier_multiplier(const Crm__V1__Tier *t)
{
    return t && t->multiplier_percent ? t->multiplier_percent : 100;
}

int loyalty_tier_validate(const Crm__V1__Tier *t, loyalty_err_t *err)
{
    if (!loyalty_name_valid(t->id))
        return loyalty_fail(err, CRM_RPC_INVALID, "tier.id",
                            "an id is 1 to %d characters of letters, digits, '.', '_' and '-'",
                            LOYALTY_NAME_MAX);
    if (strlen(t->name) > S_TEXT_MAX)
        return loyalty_fail(err, CRM_RPC_INVALID, "tier.name", "longer than %d bytes", S_TEXT_MAX);
    if (t->min_spend_minor < 0)
        return loyalty_fail(err, CRM_RPC_INVALID, "tier.minSpendMinor", "must not be negative");
    if (t->multiplier_percent > LOYALTY_MULTIPLIER_MAX)
        return loyalty_fail(err, CRM_RPC_INVALID, "tier.multiplierPercent", "at most %d", LOYALTY_MULTIPLIER_MAX);
    if (t->n_benefits > S_BENEFITS_MAX)
        return loyalty_fail(err, CRM_RPC_INVALID, "tier.benefits", "at most %d benefits", S_BENEFITS_MAX);
    for (size_t i = 0; i < t->n_benefits; i++)
        if (strlen(t->benefits[i]) > S_TEXT_MAX) {
            char field[LOYALTY_FIELD_MAX];
            snprintf(field, sizeof field, "tier.benefits[%zu]", i);
            return loyalty_fail(err, CRM_RPC_INVALID, field, "longer than %d bytes", S_TEXT_MAX);
        }
    return 0;
}

int loyalty_tier_put(loyalty_t *ly, crm_txn_t *txn, const Crm__V1__Tier *tier, loyalty_err_t *err)
{
    loyalty_tiers_t tiers;
    int rc = loyalty_tiers_load(ly, txn, &tiers);
    if (rc)
        return rc;
    bool exists = false;
    for (size_t i = 0; i < tiers.count && rc == 0; i++) {
        const Crm__V1__Tier *t = tiers.items[i];
        if (strcmp(t->id, tier->id) == 0)
            exists = true;
        else if (t->rank == tier->rank)
            rc = loyalty_fail(err, CRM_RPC_CONFLICT, "tier.rank", "tier %s has rank %u", t->id,
                              (unsigned) t->rank);
    }
    if (rc == 0 && !exists && tiers.count >= LOYALTY_TIERS_MAX)
        rc = loyalty_fail(err, CRM_RPC_INVALID, "tier", "at most %d tiers", LOYALTY_TIERS_MAX);
    loyalty_tiers_clear(&tiers);
    if (rc)
        return rc;
    return loyalty_record_put(txn, ly->db.tiers, tier->id, strlen(tier->id), &tier->base);
}

int loyalty_tier_del(loyalty_t *ly, crm_txn_t *txn, const char *id)
{
    if (!loyalty_name_valid(id))
        return CRM_ENOTFOUND;
    return crm_store_del(txn, ly->db.tiers, id, strlen(id));
}

typedef struct {
    const char *id;
    const char *name;
    int64_t min_spend_minor;
    uint32_t min_purchases;
    uint32_t multiplier_percent;
    bool vip;
} s_default_tier_t;

static const s_default_tier_t s_default_tiers[] = {
    { "bronze", "Bronze", 0, 0, 100, false },
    { "silver", "Silver", 100000, 2, 125, false },      /* 1,000.00 and 2 purchases */
    { "gold", "Gold", 500000, 5, 150, false },          /* 5,000.00 and 5 purchases */
    { "platinum", "Platinum", 2000000, 10, 200, true }, /* 20,000.00 and 10 purchases */
};

int loyalty_tiers_seed(loyalty_t *ly, crm_txn_t *txn, int64_t now_us)
{
    Crm__V1__Timestamp now;
    loyalty_ts_set(&now, now_us);
    for (size_t i = 0; i < sizeof s_default_tiers / sizeof s_default_tiers[0]; i++) {
        const s_default_tier_t *d = &s_default_tiers[i];
        Crm__V1__Tier t = CRM__V1__TIER__INIT;
        t.id = (char *) d->id;
        t.name = (char *) d->name;
        t.rank = (uint32_t) i;
        t.min_spend_minor = d->min_spend_minor;
        t.min_purchases = d->min_purchases;
        t.multiplier_percent = d->multiplier_percent;
        t.vip = d->vip;
        t.created_at = &now;
        t.updated_at = &now;
        int rc = loyalty_record_put(txn, ly->db.tiers, t.id, strlen(t.id), &t.base);
        if (rc)
            return rc;
    }
    return 0;
}

/* --- Purchases */

static size_t s_purchase_key(uint8_t out[S_PURCHASE_KEY_MAX], const char *customer_id, int64_t at_us,
                             const char *purchase_id)
{
    size_t id_len = strlen(purchase_id);
    assert(id_len <= LOYALTY_REF_MAX);
    memcpy(out, customer_id, CRM_ID_LEN);
    loyalty_key_time(out + CRM_ID_LEN, at_us);
    memcpy(out + CRM_ID_LEN + LOYALTY_TIME_KEY_LEN, purchase_id, id_len);
    return CRM_ID_LEN + LOYALTY_TIME_KEY_LEN + id_len;
}

int loyalty_purchase_put(loyalty_t *ly, crm_txn_t *txn, const char *customer_id, int64_t at_us,
                         const char *purchase_id, const Crm__V1__PurchaseRecord *rec)
{
    uint8_t key[S_PURCHASE_KEY_MAX];
    size_t len = s_purchase_key(key, customer_id, at_us, purchase_id);
    return loyalty_record_put(txn, ly->db.purchases, key, len, &rec->base);
}

int loyalty_tier_stats(loyalty_t *ly, crm_txn_t *txn, const char *customer_id, int64_t at_us,
                       int64_t *spend_p, uint32_t *purchases_p)
{
    *spend_p = 0;
    *purchases_p = 0;
    uint8_t start[CRM_ID_LEN + LOYALTY_TIME_KEY_LEN];
    memcpy(start, customer_id, CRM_ID_LEN);
    loyalty_key_time(start + CRM_ID_LEN, at_us - ly->settings.tier_window_us + 1);
    crm_cursor_t *cur = NULL;
    int rc = crm_cursor_open(txn, ly->db.purchases, &cur);
    if (rc)
        return rc;
    int64_t spend = 0;
    uint32_t purchases = 0;
    crm_val_t k, v;
    for (rc = crm_cursor_seek(cur, start, sizeof start, &k, &v); rc == 0;
         rc = crm_cursor_next(cur, &k, &v)) {
        if (k.size < sizeof start || memcmp(k.data, customer_id, CRM_ID_LEN) != 0)
            break;
        if (loyalty_key_time_read((const uint8_t *) k.data + CRM_ID_LEN) > at_us)
            break;
        Crm__V1__PurchaseRecord *p = NULL;
        rc = crm_codec_msgpack_decode(&crm__v1__purchase_record__descriptor, v.data, v.size,
                                      (ProtobufCMessage **) &p, NULL);
        if (rc)
            break;
        int64_t net = p->amount_minor - p->refunded_minor;
        if (net > 0) {
            purchases++;
            if (strcmp(p->currency, ly->settings.tier_currency) == 0)
                spend += net;
        }
        crm_codec_message_free((ProtobufCMessage **) &p);
    }
    crm_cursor_close(&cur);
    if (rc == CRM_ENOTFOUND)
        rc = 0;
    if (rc == 0) {
        *spend_p = spend;
        *purchases_p = purchases;
    }
    return rc;
}

int loyalty_purchases_move(loyalty_t *ly, crm_txn_t *txn, const char *from_id, const char *to_id)
{
    crm_cursor_t *cur = NULL;
    int rc = crm_cursor_open(txn, ly->db.purchases, &cur);
    if (rc)
        return rc;
    crm_val_t k, v;
    for (rc = crm_cursor_seek(cur, from_id, CRM_ID_LEN, &k, &v); rc == 0;) {
        if (k.size <= CRM_ID_LEN || k.size > S_PURCHASE_KEY_MAX || memcmp(k.data, from_id, CRM_ID_LEN) != 0)
            break;
        uint8_t key[S_PURCHASE_KEY_MAX];
        size_t len = k.size;
        memcpy(key, k.data, len);
        memcpy(key, to_id, CRM_ID_LEN);
        void *value = malloc(v.size ? v.size : 1);
        if (!value) {
            rc = CRM_ENOMEM;
            break;
        }
        memcpy(value, v.data, v.size);
        size_t value_len = v.size;
        rc = crm_cursor_del(cur);
        if (rc == 0)
            rc = crm_store_put(txn, ly->db.purchases, key, len, value, value_len, 0);
        free(value);
        if (rc)
            break;
        /* Seek again: the put may have moved the cursor's page. */
        rc = crm_cursor_seek(cur, from_id, CRM_ID_LEN, &k, &v);
    }
    crm_cursor_close(&cur);
    return rc == CRM_ENOTFOUND ? 0 : rc;
}

/* --- Tier changes */

/* Moves acc to tier t (NULL: none) and publishes the change when it is one. */
static int s_tier_set(loyalty_t *ly, crm_txn_t *txn, loyalty_account_t *acc, const loyalty_tiers_t *tiers,
                      const Crm__V1__Tier *t, Crm__V1__TierChange change, int64_t at_us, int64_t spend,
                      uint32_t purchases)
{
    const char *to = t ? t->id : "";
    char from[LOYALTY_NAME_SIZE];
    snprintf(from, sizeof from, "%s", acc->tier);
    snprintf(acc->tier, sizeof acc->tier, "%s", to);
    acc->tier_since_us = at_us;
    acc->below_since_us = 0;
    int rc = loyalty_account_put(&ly->db, txn, acc);
    if (rc || change == CRM__V1__TIER_CHANGE__TIER_CHANGE_UNSPECIFIED)
        return rc;
    Crm__V1__TierChanged ev = CRM__V1__TIER_CHANGED__INIT;
    ev.customer_id = acc->customer_id;
    ev.from_tier = from;
    ev.to_tier = (char *) to;
    ev.change = change;
    ev.rolling_spend_minor = spend;
    ev.rolling_purchases = purchases;
    rc = loyalty_emit(ly, txn, LOYALTY_TOPIC_TIER_CHANGED, acc->customer_id, &ev.base, loyalty_now(ly));
    if (rc == 0 && t && t->vip)
        rc = loyalty_badge_award(ly, txn, acc, CRM__V1__BADGE_KIND__BADGE_KIND_VIP, at_us, NULL);
    return rc;
}

/* Upgrades (or sets the first tier) given the tiers and the window's figures. Sets *changed. */
static int s_upgrade(loyalty_t *ly, crm_txn_t *txn, loyalty_account_t *acc, const loyalty_tiers_t *tiers,
                     int64_t at_us, int64_t spend, uint32_t purchases, bool *changed)
{
    *changed = false;
    const Crm__V1__Tier *qual = loyalty_tiers_qualify(tiers, spend, purchases);
    if (!qual)
        return 0;
    const Crm__V1__Tier *held = loyalty_tiers_held(tiers, acc->tier);
    bool known = false;
    for (size_t i = 0; i < tiers->count; i++)
        if (strcmp(tiers->items[i]->id, acc->tier) == 0)
            known = true;
    if (qual->rank > held->rank) {
        *changed = true;
        return s_tier_set(ly, txn, acc, tiers, qual, CRM__V1__TIER_CHANGE__TIER_CHANGE_UPGRADE, at_us,
                          spend, purchases);
    }
    if (!known) {
        /* A fresh account, or its tier was deleted: it holds the entry tier from now, quietly. */
        *changed = true;
        return s_tier_set(ly, txn, acc, tiers, held, CRM__V1__TIER_CHANGE__TIER_CHANGE_UNSPECIFIED,
                          at_us, spend, purchases);
    }
    return 0;
}

int loyalty_tier_upgrade(loyalty_t *ly, crm_txn_t *txn, loyalty_account_t *acc, int64_t at_us)
{
    if (acc->closed)
        return 0;
    loyalty_tiers_t tiers;
    int rc = loyalty_tiers_load(ly, txn, &tiers);
    if (rc)
        return rc;
    int64_t spend = 0;
    uint32_t purchases = 0;
    bool changed = false;
    rc = loyalty_tier_stats(ly, txn, acc->customer_id, at_us, &spend, &purchases);
    if (rc == 0)
        rc = s_upgrade(ly, txn, acc, &tiers, at_us, spend, purchases, &changed);
    loyalty_tiers_clear(&tiers);
    return rc;
}

int loyalty_tier_review(loyalty_t *ly, crm_txn_t *txn, loyalty_account_t *acc, int64_t now_us)
{
    if (acc->closed)
        return 0;
    loyalty_tiers_t tiers;
    int rc = loyalty_tiers_load(ly, txn, &tiers);
    if (rc)
        return rc;
    int64_t spend = 0;
    uint32_t purchases = 0;
    bool changed = false;
    rc = loyalty_tier_stats(ly, txn, acc->customer_id, now_us, &spend, &purchases);
    if (rc == 0)
        rc = s_upgrade(ly, txn, acc, &tiers, now_us, spend, purchases, &changed);
    if (rc || changed || tiers.count == 0)
        goto out;
    const Crm__V1__Tier *qual = loyalty_tiers_qualify(&tiers, spend, purchases);
    const Crm__V1__Tier *held = loyalty_tiers_held(&tiers, acc->tier);
    if (qual->rank >= held->rank) {
        if (acc->below_since_us) {
            acc->below_since_us = 0;
            rc = loyalty_account_put(&ly->db, txn, acc);
        }
        goto out;
    }
    if (!acc->below_since_us) {
        acc->below_since_us = now_us;
        rc = loyalty_account_put(&ly->db, txn, acc);
    }
    if (rc == 0 && now_us - acc->below_since_us >= ly->settings.tier_grace_us)
        rc = s_tier_set(ly, txn, acc, &tiers, qual, CRM__V1__TIER_CHANGE__TIER_CHANGE_DOWNGRADE, now_us,
                        spend, purchases);
out:
    loyalty_tiers_clear(&tiers);
    return rc;
}

/* --- Badges */

static void s_badge_key(uint8_t out[S_BADGE_KEY_LEN], const char *customer_id, Crm__V1__BadgeKind kind)
{
    memcpy(out, customer_id, CRM_ID_LEN);
    out[CRM_ID_LEN] = (uint8_t) kind;
}

int loyalty_badge_award(loyalty_t *ly, crm_txn_t *txn, loyalty_account_t *acc,
                        Crm__V1__BadgeKind kind, int64_t at_us, bool *awarded)
{
    if (awarded)
        *awarded = false;
    if (acc->closed)
        return 0;
    uint8_t key[S_BADGE_KEY_LEN];
    s_badge_key(key, acc->customer_id, kind);
    crm_val_t v;
    int rc = crm_store_get(txn, ly->db.badges, key, sizeof key, &v);
    if (rc != CRM_ENOTFOUND)
        return rc;
    char cause[LOYALTY_CAUSE_MAX];
    snprintf(cause, sizeof cause, "badge:%s:%d", acc->customer_id, (int) kind);
    loyalty_earning_t e = {
        .kind = CRM__V1__EARN_KIND__EARN_KIND_BADGE, .badge = kind, .at_us = at_us,
    };
    int64_t bonus = 0;
    rc = loyalty_rules_award(ly, txn, acc, &e, cause, false, &bonus, NULL, NULL);
    if (rc)
        return rc;
    Crm__V1__Timestamp when;
    Crm__V1__Badge badge = CRM__V1__BADGE__INIT;
    badge.customer_id = acc->customer_id;
    badge.kind = kind;
    badge.awarded_at = loyalty_ts_set(&when, at_us);
    badge.bonus_points = bonus;
    rc = loyalty_record_put(txn, ly->db.badges, key, sizeof key, &badge.base);
    if (rc == 0) {
        Crm__V1__BadgeAwarded ev = CRM__V1__BADGE_AWARDED__INIT;
        ev.badge = &badge;
        rc = loyalty_emit(ly, txn, LOYALTY_TOPIC_BADGE_AWARDED, acc->customer_id, &ev.base,
                          loyalty_now(ly));
    }
    if (rc == 0 && awarded)
        *awarded = true;
    return rc;
}

/* True when a year has passed from since_us to at_us (same month and day, or later). */
static bool s_year_passed(int64_t since_us, int64_t at_us)
{
    if (since_us <= 0 || at_us <= since_us)
        return false;
    int y0, m0, d0, y1, m1, d1;
    loyalty_civil_from_day(loyalty_day_of(since_us), &y0, &m0, &d0);
    loyalty_civil_from_day(loyalty_day_of(at_us), &y1, &m1, &d1);
    if (y1 - y0 > 1)
        return true;
    if (y1 - y0 < 1)
        return false;
    return m1 > m0 || (m1 == m0 && d1 >= d0) || (m0 == 2 && d0 == 29 && m1 == 2 && d1 == 28
                                                  && !loyalty_leap_year(y1));
}

int loyalty_badges_check(loyalty_t *ly, crm_txn_t *txn, loyalty_account_t *acc, int64_t at_us)
{
    int rc = 0;
    if (acc->purchase_count >= 1)
        rc = loyalty_badge_award(ly, txn, acc, CRM__V1__BADGE_KIND__BADGE_KIND_FIRST_PURCHASE, at_us, NULL);
    if (rc == 0 && acc->purchase_count >= LOYALTY_TENTH_PURCHASE)
        rc = loyalty_badge_award(ly, txn, acc, CRM__V1__BADGE_KIND__BADGE_KIND_TENTH_PURCHASE, at_us, NULL);
    if (rc == 0 && s_year_passed(acc->member_since_us, at_us))
        rc = loyalty_badge_award(ly, txn, acc, CRM__V1__BADGE_KIND__BADGE_KIND_ONE_YEAR_MEMBER, at_us, NULL);
    return rc;
}

int loyalty_badges_copy(loyalty_t *ly, crm_txn_t *txn, const char *from_id, const char *to_id)
{
    for (int kind = CRM__V1__BADGE_KIND__BADGE_KIND_FIRST_PURCHASE; kind <= CRM__V1__BADGE_KIND__BADGE_KIND_VIP;
         kind++) {
        uint8_t from_key[S_BADGE_KEY_LEN], to_key[S_BADGE_KEY_LEN];
        s_badge_key(from_key, from_id, (Crm__V1__BadgeKind) kind);
        s_badge_key(to_key, to_id, (Crm__V1__BadgeKind) kind);
        crm_val_t v;
        int rc = crm_store_get(txn, ly->db.badges, to_key, sizeof to_key, &v);
        if (rc == 0)
            continue;
        if (rc != CRM_ENOTFOUND)
            return rc;
        Crm__V1__Badge *badge = NULL;
        rc = loyalty_record_get(txn, ly->db.badges, from_key, sizeof from_key, &crm__v1__badge__descriptor,
                                (ProtobufCMessage **) &badge);
        if (rc == CRM_ENOTFOUND)
            continue;
        if (rc)
            return rc;
        Crm__V1__Badge copy = *badge;
        copy.customer_id = (char *) to_id;
        copy.bonus_points = 0;
        rc = loyalty_record_put(txn, ly->db.badges, to_key, sizeof to_key, &copy.base);
        crm_codec_message_free((ProtobufCMessage **) &badge);
        if (rc)
            return rc;
    }
    return 0;
}

/* --- Calendar */

bool loyalty_birthday_valid(const char *s)
{
    if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return false;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return false;
    int year = atoi(s), month = atoi(s + 5), mday = atoi(s + 8);
    static const int days[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    if (year < 1 || month < 1 || month > 12 || mday < 1 || mday > days[month - 1])
        return false;
    return !(month == 2 && mday == 29 && !loyalty_leap_year(year));
}

/* Writes the calendar key of kind for "MMDD" mmdd and a customer. */
static void s_calendar_key(uint8_t out[LOYALTY_CALENDAR_KEY_LEN], char kind, const char *mmdd,
                           const char *customer_id)
{
    out[0] = (uint8_t) kind;
    memcpy(out + 1, mmdd, 4);
    memcpy(out + 5, customer_id, CRM_ID_LEN);
}

/* "MMDD" of a birthday "YYYY-MM-DD" into out (5 bytes); false when there is none. */
static bool s_birthday_mmdd(const char *birthday, char out[5])
{
    if (!loyalty_birthday_valid(birthday))
        return false;
    memcpy(out, birthday + 5, 2);
    memcpy(out + 2, birthday + 8, 2);
    out[4] = '\0';
    return true;
}

/* "MMDD" of a time into out; false for none (0). */
static bool s_time_mmdd(int64_t us, char out[5])
{
    if (us <= 0)
        return false;
    int y, m, d;
    loyalty_civil_from_day(loyalty_day_of(us), &y, &m, &d);
    snprintf(out, 5, "%02d%02d", m, d);
    return true;
}

int loyalty_calendar_update(loyalty_t *ly, crm_txn_t *txn, const loyalty_account_t *acc,
                            const char *old_birthday, int64_t old_member_since_us)
{
    uint8_t key[LOYALTY_CALENDAR_KEY_LEN];
    char mmdd[5];
    int rc = 0;
    if (strcmp(old_birthday, acc->birthday) != 0 && s_birthday_mmdd(old_birthday, mmdd)) {
        s_calendar_key(key, LOYALTY_CALENDAR_BIRTHDAY, mmdd, acc->customer_id);
        rc = loyalty_index_del(txn, ly->db.calendar, key, sizeof key);
    }
    if (rc == 0 && !acc->closed && s_birthday_mmdd(acc->birthday, mmdd)) {
        s_calendar_key(key, LOYALTY_CALENDAR_BIRTHDAY, mmdd, acc->customer_id);
        rc = loyalty_index_put(txn, ly->db.calendar, key, sizeof key);
    }
    if (rc == 0 && old_member_since_us != acc->member_since_us && s_time_mmdd(old_member_since_us, mmdd)) {
        s_calendar_key(key, LOYALTY_CALENDAR_ANNIVERSARY, mmdd, acc->customer_id);
        rc = loyalty_index_del(txn, ly->db.calendar, key, sizeof key);
    }
    if (rc == 0 && !acc->closed && s_time_mmdd(acc->member_since_us, mmdd)) {
        uint8_t badge[S_BADGE_KEY_LEN];
        crm_val_t v;
        s_badge_key(badge, acc->customer_id, CRM__V1__BADGE_KIND__BADGE_KIND_ONE_YEAR_MEMBER);
        rc = crm_store_get(txn, ly->db.badges, badge, sizeof badge, &v);
        if (rc == CRM_ENOTFOUND) {
            s_calendar_key(key, LOYALTY_CALENDAR_ANNIVERSARY, mmdd, acc->customer_id);
            rc = loyalty_index_put(txn, ly->db.calendar, key, sizeof key);
        }
    }
    return rc;
}

int loyalty_calendar_remove(loyalty_t *ly, crm_txn_t *txn, const loyalty_account_t *acc)
{
    uint8_t key[LOYALTY_CALENDAR_KEY_LEN];
    char mmdd[5];
    int rc = 0;
    if (s_birthday_mmdd(acc->birthday, mmdd)) {
        s_calendar_key(key, LOYALTY_CALENDAR_BIRTHDAY, mmdd, acc->customer_id);
        rc = loyalty_index_del(txn, ly->db.calendar, key, sizeof key);
    }
    if (rc == 0 && s_time_mmdd(acc->member_since_us, mmdd)) {
        s_calendar_key(key, LOYALTY_CALENDAR_ANNIVERSARY, mmdd, acc->customer_id);
        rc = loyalty_index_del(txn, ly->db.calendar, key, sizeof key);
    }
    return rc;
}

int loyalty_birthday_award(loyalty_t *ly, crm_txn_t *txn, loyalty_account_t *acc, int year,
                           int64_t at_us, int64_t *points, uint64_t *entry)
{
    if (points)
        *points = 0;
    if (entry)
        *entry = 0;
    char cause[LOYALTY_CAUSE_MAX];
    snprintf(cause, sizeof cause, "birthday:%s:%d", acc->customer_id, year);
    int rc = 0;
    if (loyalty_cause_seen(&ly->db, txn, cause, &rc) || rc || acc->closed)
        return rc;
    loyalty_earning_t e = { .kind = CRM__V1__EARN_KIND__EARN_KIND_BIRTHDAY, .at_us = at_us };
    int64_t earned = 0;
    uint64_t lot = 0, made = 0;
    rc = loyalty_rules_award(ly, txn, acc, &e, cause, false, &earned, &lot, &made);
    if (rc)
        return rc;
    Crm__V1__CauseRecord rec = CRM__V1__CAUSE_RECORD__INIT;
    rec.customer_id = acc->customer_id;
    rec.lot = lot;
    rec.points = earned;
    rec.time_us = at_us;
    rec.entry = made;
    rc = loyalty_cause_put(&ly->db, txn, cause, &rec);
    if (rc == 0 && points)
        *points = earned;
    if (rc == 0 && entry)
        *entry = made;
    return rc;
}

int loyalty_calendar_celebrate(loyalty_t *ly, crm_txn_t *txn, const crm_val_t *key, int64_t day)
{
    if (key->size != LOYALTY_CALENDAR_KEY_LEN)
        return 0;
    const char *k = key->data;
    char customer_id[CRM_ID_SIZE];
    memcpy(customer_id, k + 5, CRM_ID_LEN);
    customer_id[CRM_ID_LEN] = '\0';
    loyalty_account_t acc;
    int rc = loyalty_account_get(&ly->db, txn, customer_id, &acc);
    if (rc || !acc.stored || acc.closed)
        return rc;
    int year, month, mday;
    loyalty_civil_from_day(day, &year, &month, &mday);
    int64_t at_us = day * LOYALTY_US_PER_DAY;
    if (k[0] == LOYALTY_CALENDAR_BIRTHDAY)
        return loyalty_birthday_award(ly, txn, &acc, year, at_us, NULL, NULL);
    if (!s_year_passed(acc.member_since_us, at_us))
        return 0;
    rc = loyalty_badge_award(ly, txn, &acc, CRM__V1__BADGE_KIND__BADGE_KIND_ONE_YEAR_MEMBER, at_us, NULL);
    if (rc == 0)
        rc = loyalty_index_del(txn, ly->db.calendar, key->data, key->size);
    return rc;
}
