/* analytics_figures.c: the figures of a period from the day buckets: summary, series and cohorts. */
#include "analytics_figures.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crm_codec.h"
#include "crm_error.h"

#define S_PCT 100.0

/* DayFigures field numbers used here (proto/crm/v1/analytics.proto). */
enum {
    F_CUSTOMERS_CREATED = 1, F_FIRST_PURCHASES, F_SECOND_PURCHASES, F_ORDERS, F_MONEY_ORDERS, F_REVENUE,
    F_NET_REVENUE, F_REFUNDS, F_ACTIVE_STARTS, F_ACTIVE_ENDS, F_PROSPECT_STARTS, F_PROSPECT_ENDS,
    F_NPS_ANSWERS, F_NPS_PROMOTERS, F_NPS_DETRACTORS, F_CSAT_ANSWERS, F_CSAT_SATISFIED, F_CES_ANSWERS,
    F_CES_SCORE_SUM, F_COMPLAINTS_OPENED, F_COMPLAINTS_BREACHED, F_COMPLAINTS_REOPENED, F_FIRST_RESPONSES,
    F_FIRST_RESPONSE_SECONDS, F_RESOLUTIONS, F_RESOLUTION_SECONDS, F_RESOLVED_FIRST_CONTACT, F_POINTS_EARNED,
    F_POINTS_REDEEMED, F_POINTS_EXPIRED, F_POINTS_OTHER, F_MEMBERS_NEW,
};

/* --- Day buckets */

/* Adds a stored DayFigures value into row (indexed by field number - 1). */
static int s_add_bucket(const crm_val_t *v, int64_t row[ANALYTICS_DAY_FIELDS])
{
    const ProtobufCMessageDescriptor *desc = &crm__v1__day_figures__descriptor;
    Crm__V1__DayFigures *day = NULL;
    int rc = crm_codec_msgpack_decode(desc, v->data, v->size, (ProtobufCMessage **) &day, NULL);
    if (rc)
        return rc;
    for (unsigned i = 0; i < desc->n_fields; i++) {
        unsigned n = desc->fields[i].id;
        assert(n >= 1 && n <= ANALYTICS_DAY_FIELDS);
        row[n - 1] += *(const int64_t *) ((const char *) day + desc->fields[i].offset);
    }
    crm_codec_message_free((ProtobufCMessage **) &day);
    return 0;
}

int analytics_days_load(const analytics_t *an, crm_txn_t *txn, const char *scope, int64_t first, int64_t last,
                        analytics_days_t *days)
{
    assert(first <= last);
    memset(days, 0, sizeof *days);
    days->first = first;
    days->count = (size_t) (last - first + 1);
    days->cum = calloc(days->count, sizeof *days->cum);
    if (!days->cum)
        return CRM_ENOMEM;
    uint8_t key[ANALYTICS_KEY_MAX];
    size_t prefix = analytics_key_scope(key, scope);
    crm_cursor_t *cur = NULL;
    int rc = crm_cursor_open(txn, an->db.days, &cur);
    crm_val_t k, v;
    if (rc == 0)
        rc = crm_cursor_seek(cur, key, prefix, &k, &v);
    while (rc == 0) {
        if (k.size != prefix + ANALYTICS_DAY_KEY_LEN || memcmp(k.data, key, prefix) != 0)
            break;
        int64_t day = analytics_key_day_read((const uint8_t *) k.data + prefix);
        if (day > last)
            break;
        rc = s_add_bucket(&v, day < first ? days->before : days->cum[day - first]);
        if (rc == 0)
            rc = crm_cursor_next(cur, &k, &v);
    }
    crm_cursor_close(&cur);
    if (rc == CRM_ENOTFOUND)
        rc = 0;
    if (rc) {
        analytics_days_clear(days);
        return rc;
    }
    for (size_t i = 0; i < days->count; i++)
        for (int f = 0; f < ANALYTICS_DAY_FIELDS; f++)
            days->cum[i][f] += i ? days->cum[i - 1][f] : days->before[f];
    return 0;
}

void analytics_days_clear(analytics_days_t *days)
{
    if (!days)
        return;
    free(days->cum);
    memset(days, 0, sizeof *days);
}

int64_t analytics_days_through(const analytics_days_t *days, int field, int64_t d)
{
    assert(field >= 1 && field <= ANALYTICS_DAY_FIELDS);
    assert(d >= days->first - 1 && d < days->first + (int64_t) days->count);
    if (d < days->first)
        return days->before[field - 1];
    return days->cum[d - days->first][field - 1];
}

int64_t analytics_days_sum(const analytics_days_t *days, int field, int64_t a, int64_t b)
{
    return analytics_days_through(days, field, b) - analytics_days_through(days, field, a - 1);
}

int analytics_lapsed(const analytics_t *an, crm_txn_t *txn, const char *scope, int64_t a, int64_t b, int64_t *count)
{
    *count = 0;
    uint8_t key[ANALYTICS_KEY_MAX];
    size_t prefix = analytics_key_scope(key, scope);
    analytics_key_day(key + prefix, a);
    crm_cursor_t *cur = NULL;
    int rc = crm_cursor_open(txn, an->db.lapses, &cur);
    crm_val_t k;
    if (rc == 0)
        rc = crm_cursor_seek(cur, key, prefix + ANALYTICS_DAY_KEY_LEN, &k, NULL);
    while (rc == 0) {
        const uint8_t *kk = k.data;
        if (k.size != prefix + 2 * ANALYTICS_DAY_KEY_LEN + CRM_ID_LEN || memcmp(kk, key, prefix) != 0)
            break;
        int64_t lapse = analytics_key_day_read(kk + prefix);
        if (lapse > b)
            break;
        int64_t start = analytics_key_day_read(kk + prefix + ANALYTICS_DAY_KEY_LEN);
        if (start <= a - 1)
            (*count)++;
        rc = crm_cursor_next(cur, &k, NULL);
    }
    crm_cursor_close(&cur);
    return rc == CRM_ENOTFOUND ? 0 : rc;
}

/* Members per tier through day d, from the tier changes. */
static int s_tiers(const analytics_t *an, crm_txn_t *txn, const char *scope, int64_t d, analytics_summary_t *out)
{
    uint8_t key[ANALYTICS_KEY_MAX];
    size_t prefix = analytics_key_scope(key, scope);
    int64_t counts[ANALYTICS_TIERS_MAX] = { 0 };
    size_t n = 0;
    crm_cursor_t *cur = NULL;
    int rc = crm_cursor_open(txn, an->db.tiers, &cur);
    crm_val_t k, v;
    if (rc == 0)
        rc = crm_cursor_seek(cur, key, prefix, &k, &v);
    while (rc == 0) {
        const uint8_t *kk = k.data;
        if (k.size < prefix + ANALYTICS_DAY_KEY_LEN || memcmp(kk, key, prefix) != 0)
            break;
        if (analytics_key_day_read(kk + prefix) > d)
            break;
        size_t name_len = k.size - prefix - ANALYTICS_DAY_KEY_LEN;
        if (name_len > ANALYTICS_TIER_MAX) {
            rc = CRM_ESTORE;
            break;
        }
        char name[ANALYTICS_TIER_MAX + 1];
        memcpy(name, kk + prefix + ANALYTICS_DAY_KEY_LEN, name_len);
        name[name_len] = '\0';
        Crm__V1__AnalyticsCounter *counter = NULL;
        rc = crm_codec_msgpack_decode(&crm__v1__analytics_counter__descriptor, v.data, v.size,
                                      (ProtobufCMessage **) &counter, NULL);
        if (rc)
            break;
        size_t i = 0;
        while (i < n && strcmp(out->tier_names[i], name) != 0)
            i++;
        if (i == n && n < ANALYTICS_TIERS_MAX)
            snprintf(out->tier_names[n++], sizeof out->tier_names[0], "%s", name);
        if (i < n)
            counts[i] += counter->value;
        crm_codec_message_free((ProtobufCMessage **) &counter);
        rc = crm_cursor_next(cur, &k, &v);
    }
    crm_cursor_close(&cur);
    if (rc == CRM_ENOTFOUND)
        rc = 0;
    if (rc)
        return rc;
    /* Tiers in name order, those with members only. */
    size_t kept = 0;
    for (size_t i = 0; i < n; i++)
        if (counts[i] != 0) {
            if (kept != i) {
                memcpy(out->tier_names[kept], out->tier_names[i], sizeof out->tier_names[0]);
                counts[kept] = counts[i];
            }
            kept++;
        }
    for (size_t i = 1; i < kept; i++)
        for (size_t j = i; j > 0 && strcmp(out->tier_names[j - 1], out->tier_names[j]) > 0; j--) {
            char tmp[ANALYTICS_TIER_MAX + 1];
            memcpy(tmp, out->tier_names[j], sizeof tmp);
            memcpy(out->tier_names[j], out->tier_names[j - 1], sizeof tmp);
            memcpy(out->tier_names[j - 1], tmp, sizeof tmp);
            int64_t c = counts[j];
            counts[j] = counts[j - 1];
            counts[j - 1] = c;
        }
    for (size_t i = 0; i < kept; i++) {
        crm__v1__tier_members__init(&out->tiers[i]);
        out->tiers[i].tier = out->tier_names[i];
        out->tiers[i].members = counts[i];
        out->tier_ptrs[i] = &out->tiers[i];
    }
    out->msg.n_members_per_tier = kept;
    out->msg.members_per_tier = kept ? out->tier_ptrs : NULL;
    return 0;
}

static double s_ratio(double num, double den)
{
    return den != 0 ? num / den : 0;
}

/* Every figure of a..b from days (loaded from a - W at the latest through b) and lapsed. */
static void s_compute(const analytics_t *an, const analytics_days_t *days, int64_t a, int64_t b, int64_t lapsed,
                      Crm__V1__Summary *s)
{
#define SUM(f) analytics_days_sum(days, (f), a, b)
#define THROUGH(f, d) analytics_days_through(days, (f), (d))
    int64_t window = an->settings.active_window_days;
    s->nps_answers = SUM(F_NPS_ANSWERS);
    s->nps_promoters = SUM(F_NPS_PROMOTERS);
    s->nps_detractors = SUM(F_NPS_DETRACTORS);
    s->nps_passives = s->nps_answers - s->nps_promoters - s->nps_detractors;
    s->nps = s_ratio(S_PCT * (double) (s->nps_promoters - s->nps_detractors), (double) s->nps_answers);
    s->csat_answers = SUM(F_CSAT_ANSWERS);
    s->csat_satisfied = SUM(F_CSAT_SATISFIED);
    s->csat = s_ratio(S_PCT * (double) s->csat_satisfied, (double) s->csat_answers);
    s->ces_answers = SUM(F_CES_ANSWERS);
    s->ces_average = s_ratio((double) SUM(F_CES_SCORE_SUM), (double) s->ces_answers);

    s->active_start = THROUGH(F_ACTIVE_STARTS, a - 1) - THROUGH(F_ACTIVE_ENDS, a - 1);
    s->active_end = THROUGH(F_ACTIVE_STARTS, b) - THROUGH(F_ACTIVE_ENDS, b);
    s->complaints_opened = SUM(F_COMPLAINTS_OPENED);
    s->complaint_rate = s_ratio(S_PCT * (double) s->complaints_opened, (double) s->active_end);
    s->first_responses = SUM(F_FIRST_RESPONSES);
    s->avg_first_response_seconds = s_ratio((double) SUM(F_FIRST_RESPONSE_SECONDS), (double) s->first_responses);
    s->resolutions = SUM(F_RESOLUTIONS);
    s->avg_resolution_seconds = s_ratio((double) SUM(F_RESOLUTION_SECONDS), (double) s->resolutions);
    s->resolved_first_contact = SUM(F_RESOLVED_FIRST_CONTACT);
    s->fcr_rate = s_ratio(S_PCT * (double) s->resolved_first_contact, (double) s->resolutions);
    s->complaints_breached = SUM(F_COMPLAINTS_BREACHED);
    s->sla_breach_rate = s_ratio(S_PCT * (double) s->complaints_breached, (double) s->complaints_opened);
    s->complaints_reopened = SUM(F_COMPLAINTS_REOPENED);
    s->reopen_rate = s_ratio(S_PCT * (double) s->complaints_reopened, (double) s->complaints_opened);

    s->lapsed = lapsed;
    s->retained = s->active_start - lapsed;
    s->retention_rate = s_ratio(S_PCT * (double) s->retained, (double) s->active_start);
    s->churn_rate = s_ratio(S_PCT * (double) lapsed, (double) s->active_start);
    s->new_customers = SUM(F_FIRST_PURCHASES);
    s->buyers = THROUGH(F_FIRST_PURCHASES, b);
    s->repeat_buyers = THROUGH(F_SECOND_PURCHASES, b);
    s->repeat_purchase_rate = s_ratio(S_PCT * (double) s->repeat_buyers, (double) s->buyers);
    s->orders = SUM(F_ORDERS);
    s->money_orders = SUM(F_MONEY_ORDERS);
    s->revenue_minor = SUM(F_REVENUE);
    s->refunds_minor = SUM(F_REFUNDS);
    s->net_revenue_minor = SUM(F_NET_REVENUE);
    s->aov = s_ratio((double) s->net_revenue_minor, (double) s->money_orders);
    s->window_orders = analytics_days_sum(days, F_ORDERS, b - window + 1, b);
    s->purchase_frequency = s_ratio((double) s->window_orders, (double) s->active_end);
    s->historic_clv = s_ratio((double) THROUGH(F_NET_REVENUE, b), (double) s->buyers);
    if (an->settings.lifespan_days > 0)
        s->expected_lifespan_days = (double) an->settings.lifespan_days;
    else
        s->expected_lifespan_days = s_ratio((double) (b - a + 1) * (double) s->active_start, (double) lapsed);
    s->predictive_clv = s->aov * s->purchase_frequency * s->expected_lifespan_days / (double) window;
    s->customers_created = SUM(F_CUSTOMERS_CREATED);
    s->prospects_start = THROUGH(F_PROSPECT_STARTS, a - 1) - THROUGH(F_PROSPECT_ENDS, a - 1);
    s->prospects_new = SUM(F_PROSPECT_STARTS);
    s->conversions = SUM(F_PROSPECT_ENDS);
    s->conversion_rate = s_ratio(S_PCT * (double) s->conversions, (double) (s->prospects_start + s->prospects_new));

    s->points_earned = SUM(F_POINTS_EARNED);
    s->points_redeemed = SUM(F_POINTS_REDEEMED);
    s->points_expired = SUM(F_POINTS_EXPIRED);
    s->points_other = SUM(F_POINTS_OTHER);
    s->outstanding_points = THROUGH(F_POINTS_EARNED, b) - THROUGH(F_POINTS_REDEEMED, b)
                            - THROUGH(F_POINTS_EXPIRED, b) + THROUGH(F_POINTS_OTHER, b);
    s->members = THROUGH(F_MEMBERS_NEW, b);
#undef SUM
#undef THROUGH
}

int analytics_summary(const analytics_t *an, crm_txn_t *txn, const char *scope, const char *segment, int64_t from,
                      int64_t to, analytics_summary_t *out)
{
    assert(from <= to);
    memset(out, 0, sizeof *out);
    crm__v1__summary__init(&out->msg);
    analytics_date_format(from, out->from);
    analytics_date_format(to, out->to);
    snprintf(out->segment, sizeof out->segment, "%s", segment);
    snprintf(out->currency, sizeof out->currency, "%s", an->settings.currency);
    out->msg.from = out->from;
    out->msg.to = out->to;
    out->msg.segment = out->segment;
    out->msg.currency = out->currency;
    analytics_days_t days;
    int64_t lapsed = 0;
    int rc = analytics_days_load(an, txn, scope, from - an->settings.active_window_days, to, &days);
    if (rc)
        return rc;
    rc = analytics_lapsed(an, txn, scope, from, to, &lapsed);
    if (rc == 0) {
        s_compute(an, &days, from, to, lapsed, &out->msg);
        rc = s_tiers(an, txn, scope, to, out);
    }
    analytics_days_clear(&days);
    return rc;
}

/* --- Series */

int64_t analytics_period_start(Crm__V1__Granularity g, int64_t day)
{
    switch (g) {
    case CRM__V1__GRANULARITY__GRANULARITY_WEEK:
        return analytics_week_start(day);
    case CRM__V1__GRANULARITY__GRANULARITY_MONTH:
        return analytics_month_first_day(analytics_month_of(day));
    default:
        return day;
    }
}

int64_t analytics_period_end(Crm__V1__Granularity g, int64_t day)
{
    switch (g) {
    case CRM__V1__GRANULARITY__GRANULARITY_WEEK:
        return analytics_week_start(day) + 6;
    case CRM__V1__GRANULARITY__GRANULARITY_MONTH:
        return analytics_month_first_day(analytics_month_of(day) + 1) - 1;
    default:
        return day;
    }
}

void analytics_series_clear(analytics_series_t *series)
{
    if (!series)
        return;
    free(series->points);
    free(series->point_ptrs);
    free(series->dates);
    memset(series, 0, sizeof *series);
}

int analytics_series(const analytics_t *an, crm_txn_t *txn, const char *scope, const char *figure,
                     Crm__V1__Granularity g, int64_t from, int64_t to, analytics_series_t *out)
{
    assert(from <= to);
    memset(out, 0, sizeof *out);
    const ProtobufCFieldDescriptor *f = crm_codec_field_by_json_name(&crm__v1__summary__descriptor, figure);
    if (!f || f->label == PROTOBUF_C_LABEL_REPEATED
        || (f->type != PROTOBUF_C_TYPE_INT64 && f->type != PROTOBUF_C_TYPE_DOUBLE))
        return CRM_EINVALID;
    int64_t first = analytics_period_start(g, from);
    int64_t last = analytics_period_end(g, to);
    size_t count = 0;
    for (int64_t p = first; p <= last; p = analytics_period_end(g, p) + 1)
        if (++count > ANALYTICS_SERIES_MAX)
            return CRM_ELIMIT;
    out->points = calloc(count, sizeof *out->points);
    out->point_ptrs = calloc(count, sizeof *out->point_ptrs);
    out->dates = calloc(count, sizeof *out->dates);
    if (!out->points || !out->point_ptrs || !out->dates) {
        analytics_series_clear(out);
        return CRM_ENOMEM;
    }
    analytics_days_t days;
    int rc = analytics_days_load(an, txn, scope, first - an->settings.active_window_days, last, &days);
    for (int64_t p = first; rc == 0 && p <= last; p = analytics_period_end(g, p) + 1) {
        int64_t end = analytics_period_end(g, p);
        int64_t lapsed = 0;
        rc = analytics_lapsed(an, txn, scope, p, end, &lapsed);
        if (rc)
            break;
        Crm__V1__Summary s = CRM__V1__SUMMARY__INIT;
        s_compute(an, &days, p, end, lapsed, &s);
        const void *slot = (const char *) &s + f->offset;
        Crm__V1__SeriesPoint *pt = &out->points[out->count];
        crm__v1__series_point__init(pt);
        analytics_date_format(p, out->dates[out->count][0]);
        analytics_date_format(end, out->dates[out->count][1]);
        pt->start = out->dates[out->count][0];
        pt->end = out->dates[out->count][1];
        pt->value = f->type == PROTOBUF_C_TYPE_INT64 ? (double) *(const int64_t *) slot : *(const double *) slot;
        out->point_ptrs[out->count] = pt;
        out->count++;
    }
    analytics_days_clear(&days);
    if (rc)
        analytics_series_clear(out);
    return rc;
}

/* --- Cohorts */

void analytics_cohorts_clear(analytics_cohorts_t *cohorts)
{
    if (!cohorts)
        return;
    for (size_t i = 0; cohorts->rows && i < cohorts->count; i++) {
        free(cohorts->rows[i].active);
        free(cohorts->rows[i].retention);
    }
    free(cohorts->rows);
    free(cohorts->row_ptrs);
    free(cohorts->months);
    memset(cohorts, 0, sizeof *cohorts);
}

int analytics_cohorts(const analytics_t *an, crm_txn_t *txn, const char *scope, int64_t from, int64_t to,
                      analytics_cohorts_t *out)
{
    memset(out, 0, sizeof *out);
    int64_t first = analytics_month_of(from), last = analytics_month_of(to);
    assert(first <= last);
    size_t count = (size_t) (last - first + 1);
    out->rows = calloc(count, sizeof *out->rows);
    out->row_ptrs = calloc(count, sizeof *out->row_ptrs);
    out->months = calloc(count, sizeof *out->months);
    if (!out->rows || !out->row_ptrs || !out->months) {
        analytics_cohorts_clear(out);
        return CRM_ENOMEM;
    }
    int rc = 0;
    for (size_t i = 0; i < count; i++) {
        Crm__V1__CohortRow *row = &out->rows[i];
        crm__v1__cohort_row__init(row);
        out->count++;
        size_t cells = count - i;
        row->active = calloc(cells, sizeof *row->active);
        row->retention = calloc(cells, sizeof *row->retention);
        if (!row->active || !row->retention) {
            rc = CRM_ENOMEM;
            break;
        }
        row->n_active = row->n_retention = cells;
        analytics_month_format(first + (int64_t) i, out->months[i]);
        row->month = out->months[i];
        out->row_ptrs[i] = row;
    }
    uint8_t key[ANALYTICS_KEY_MAX];
    size_t prefix = analytics_key_scope(key, scope);
    analytics_key_day(key + prefix, first);
    crm_cursor_t *cur = NULL;
    if (rc == 0)
        rc = crm_cursor_open(txn, an->db.cohorts, &cur);
    crm_val_t k, v;
    if (rc == 0)
        rc = crm_cursor_seek(cur, key, prefix + ANALYTICS_DAY_KEY_LEN, &k, &v);
    while (rc == 0) {
        const uint8_t *kk = k.data;
        if (k.size != prefix + 2 * ANALYTICS_DAY_KEY_LEN || memcmp(kk, key, prefix) != 0)
            break;
        int64_t cohort = analytics_key_day_read(kk + prefix);
        if (cohort > last)
            break;
        int64_t offset = analytics_key_day_read(kk + prefix + ANALYTICS_DAY_KEY_LEN);
        Crm__V1__CohortRow *row = &out->rows[cohort - first];
        if (offset >= 0 && (size_t) offset < row->n_active) {
            Crm__V1__AnalyticsCounter *counter = NULL;
            rc = crm_codec_msgpack_decode(&crm__v1__analytics_counter__descriptor, v.data, v.size,
                                          (ProtobufCMessage **) &counter, NULL);
            if (rc)
                break;
            row->active[offset] = counter->value;
            crm_codec_message_free((ProtobufCMessage **) &counter);
        }
        rc = crm_cursor_next(cur, &k, &v);
    }
    crm_cursor_close(&cur);
    if (rc == CRM_ENOTFOUND)
        rc = 0;
    for (size_t i = 0; rc == 0 && i < count; i++) {
        Crm__V1__CohortRow *row = &out->rows[i];
        row->customers = row->active[0];
        for (size_t c = 0; c < row->n_active; c++)
            row->retention[c] = s_ratio(S_PCT * (double) row->active[c], (double) row->customers);
    }
    if (rc)
        analytics_cohorts_clear(out);
    return rc;
}
