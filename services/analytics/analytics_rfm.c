/* analytics_rfm.c: RFM quintiles, value tiers and the scoring run. */
#include "analytics_rfm.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "crm/v1/analytics.pb-c.h"
#include "crm_codec.h"
#include "crm_error.h"
#include "analytics_risk.h"

#define S_VALUE_TIERS 4           /* crm.v1.ValueTier: unspecified, high, mid, low */

static int s_i64_cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
    return x < y ? -1 : x > y;
}

/* Number of sorted[0..n) strictly below v. */
static size_t s_below(const int64_t *sorted, size_t n, int64_t v)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (sorted[mid] < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int analytics_rfm_quintiles(const int64_t *values, size_t n, bool higher_is_better, uint32_t *scores)
{
    if (n == 0)
        return 0;
    int64_t *sorted = malloc(n * sizeof *sorted);
    if (!sorted)
        return CRM_ENOMEM;
    memcpy(sorted, values, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, s_i64_cmp);
    for (size_t i = 0; i < n; i++) {
        size_t worse = higher_is_better ? s_below(sorted, n, values[i])
                                        : values[i] == INT64_MAX ? 0 : n - s_below(sorted, n, values[i] + 1);
        scores[i] = (uint32_t) (1 + (ANALYTICS_RFM_LEVELS * worse) / n);
    }
    free(sorted);
    return 0;
}

Crm__V1__ValueTier analytics_rfm_value_tier(const analytics_settings_t *settings, uint32_t r, uint32_t f, uint32_t m)
{
    uint32_t total = r + f + m;
    if (total >= settings->rfm_high)
        return CRM__V1__VALUE_TIER__VALUE_TIER_HIGH;
    if (total >= settings->rfm_mid)
        return CRM__V1__VALUE_TIER__VALUE_TIER_MID;
    return CRM__V1__VALUE_TIER__VALUE_TIER_LOW;
}

/* One customer as the run sees it. */
typedef struct {
    char id[CRM_ID_SIZE];
    bool buyer;
    bool active;
    size_t slot;                 /* index among the active */
} s_entry_t;

typedef struct {
    s_entry_t *entries;
    size_t count, cap;
    int64_t *recency, *frequency, *monetary;
    size_t active, active_cap;
} s_run_t;

static void s_run_clear(s_run_t *run)
{
    free(run->entries);
    free(run->recency);
    free(run->frequency);
    free(run->monetary);
    memset(run, 0, sizeof *run);
}

static int s_grow(void **p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap * 2 : 1024;
    while (n < need)
        n *= 2;
    void *grown = realloc(*p, n * size);
    if (!grown)
        return CRM_ENOMEM;
    *p = grown;
    *cap = n;
    return 0;
}

static int s_collect(analytics_t *an, crm_txn_t *txn, int64_t as_of, s_run_t *run)
{
    crm_cursor_t *cur = NULL;
    int rc = crm_cursor_open(txn, an->db.customers, &cur);
    crm_val_t k, v;
    if (rc == 0)
        rc = crm_cursor_first(cur, &k, &v);
    int64_t today = analytics_day(an, as_of);
    while (rc == 0) {
        Crm__V1__AnalyticsCustomer *c = NULL;
        rc = crm_codec_msgpack_decode(&crm__v1__analytics_customer__descriptor, v.data, v.size,
                                      (ProtobufCMessage **) &c, NULL);
        if (rc)
            break;
        if (!c->deleted && !c->merged_into[0] && crm_id_valid(c->id)) {
            analytics_risk_t facts;
            analytics_risk_score(an, c, as_of, &facts);
            rc = s_grow((void **) &run->entries, &run->cap, run->count + 1, sizeof *run->entries);
            if (rc == 0 && facts.active && run->active == run->active_cap) {
                size_t cap = run->active_cap ? run->active_cap * 2 : 1024;
                int64_t **arrays[3] = { &run->recency, &run->frequency, &run->monetary };
                for (int a = 0; rc == 0 && a < 3; a++) {
                    int64_t *grown = realloc(*arrays[a], cap * sizeof *grown);
                    if (grown)
                        *arrays[a] = grown;
                    else
                        rc = CRM_ENOMEM;
                }
                if (rc == 0)
                    run->active_cap = cap;
            }
            if (rc == 0) {
                s_entry_t *e = &run->entries[run->count++];
                memset(e, 0, sizeof *e);
                memcpy(e->id, c->id, CRM_ID_SIZE);
                e->buyer = facts.purchases > 0;
                e->active = facts.active;
                if (e->active) {
                    e->slot = run->active++;
                    run->recency[e->slot] = today - analytics_day(an, facts.last_purchase_us);
                    run->frequency[e->slot] = facts.purchases;
                    run->monetary[e->slot] = facts.net_spend_minor;
                }
            }
        }
        crm_codec_message_free((ProtobufCMessage **) &c);
        if (rc == 0)
            rc = crm_cursor_next(cur, &k, &v);
    }
    crm_cursor_close(&cur);
    return rc == CRM_ENOTFOUND ? 0 : rc;
}

int analytics_rfm_run(analytics_t *an, crm_txn_t *txn, int64_t as_of)
{
    s_run_t run = { 0 };
    uint32_t *scores = NULL;
    Crm__V1__AnalyticsMeta *meta = NULL;
    int64_t cells[ANALYTICS_RFM_CELLS] = { 0 };
    int rc = s_collect(an, txn, as_of, &run);
    if (rc)
        goto out;
    scores = calloc(3 * (run.active ? run.active : 1), sizeof *scores);
    if (!scores) {
        rc = CRM_ENOMEM;
        goto out;
    }
    uint32_t *r = scores, *f = scores + run.active, *m = scores + 2 * run.active;
    rc = analytics_rfm_quintiles(run.recency, run.active, false, r);
    if (rc == 0)
        rc = analytics_rfm_quintiles(run.frequency, run.active, true, f);
    if (rc == 0)
        rc = analytics_rfm_quintiles(run.monetary, run.active, true, m);
    int64_t tiers[S_VALUE_TIERS] = { 0 };
    for (size_t i = 0; rc == 0 && i < run.count; i++) {
        const s_entry_t *e = &run.entries[i];
        uint32_t rs = 0, fs = 0, ms = 0;
        Crm__V1__ValueTier tier = CRM__V1__VALUE_TIER__VALUE_TIER_UNSPECIFIED;
        if (e->active) {
            rs = r[e->slot];
            fs = f[e->slot];
            ms = m[e->slot];
            tier = analytics_rfm_value_tier(&an->settings, rs, fs, ms);
            cells[((rs - 1) * ANALYTICS_RFM_LEVELS + (fs - 1)) * ANALYTICS_RFM_LEVELS + (ms - 1)]++;
        } else if (e->buyer) {
            tier = CRM__V1__VALUE_TIER__VALUE_TIER_LOW;
        }
        tiers[tier]++;
        Crm__V1__CustomerState *st = NULL;
        rc = analytics_state_get(an, txn, e->id, &st);
        if (rc)
            break;
        bool changed = st->value_tier != tier;
        if (changed || st->recency != rs || st->frequency != fs || st->monetary != ms) {
            if (changed) {
                Crm__V1__Timestamp at;
                Crm__V1__SegmentChanged ev = CRM__V1__SEGMENT_CHANGED__INIT;
                ev.customer_id = (char *) e->id;
                ev.value_tier = tier;
                ev.previous_value_tier = st->value_tier;
                ev.recency = rs;
                ev.frequency = fs;
                ev.monetary = ms;
                ev.at = analytics_ts_set(&at, as_of);
                rc = analytics_emit(an, txn, ANALYTICS_TOPIC_SEGMENT_CHANGED, e->id, &ev.base, as_of);
            }
            st->value_tier = tier;
            st->recency = rs;
            st->frequency = fs;
            st->monetary = ms;
            st->rfm_as_of_us = as_of;
            if (rc == 0)
                rc = analytics_record_put(txn, an->db.states, e->id, CRM_ID_LEN, &st->base);
        }
        crm_codec_message_free((ProtobufCMessage **) &st);
    }
    if (rc == 0)
        rc = analytics_meta_get(an, txn, &meta);
    if (rc)
        goto out;
    Crm__V1__RfmCell cell_msgs[ANALYTICS_RFM_CELLS];
    Crm__V1__RfmCell *cell_ptrs[ANALYTICS_RFM_CELLS];
    size_t n_cells = 0;
    for (int i = 0; i < ANALYTICS_RFM_CELLS; i++) {
        if (!cells[i])
            continue;
        crm__v1__rfm_cell__init(&cell_msgs[n_cells]);
        cell_msgs[n_cells].recency = (uint32_t) (i / (ANALYTICS_RFM_LEVELS * ANALYTICS_RFM_LEVELS) + 1);
        cell_msgs[n_cells].frequency = (uint32_t) (i / ANALYTICS_RFM_LEVELS % ANALYTICS_RFM_LEVELS + 1);
        cell_msgs[n_cells].monetary = (uint32_t) (i % ANALYTICS_RFM_LEVELS + 1);
        cell_msgs[n_cells].customers = cells[i];
        cell_ptrs[n_cells] = &cell_msgs[n_cells];
        n_cells++;
    }
    /* The stored cells are the decoder's: swap in ours for the write, then back. */
    size_t n_old = meta->n_rfm_cells;
    Crm__V1__RfmCell **old = meta->rfm_cells;
    meta->rfm_as_of_us = as_of;
    meta->rfm_base = (int64_t) run.active;
    meta->n_rfm_cells = n_cells;
    meta->rfm_cells = n_cells ? cell_ptrs : NULL;
    meta->value_high = tiers[CRM__V1__VALUE_TIER__VALUE_TIER_HIGH];
    meta->value_mid = tiers[CRM__V1__VALUE_TIER__VALUE_TIER_MID];
    meta->value_low = tiers[CRM__V1__VALUE_TIER__VALUE_TIER_LOW];
    rc = analytics_meta_put(an, txn, meta);
    meta->n_rfm_cells = n_old;
    meta->rfm_cells = old;
out:
    crm_codec_message_free((ProtobufCMessage **) &meta);
    free(scores);
    s_run_clear(&run);
    return rc;
}
