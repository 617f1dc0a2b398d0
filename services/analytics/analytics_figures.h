/* analytics_figures.h: the figures of a period from the day buckets: the summary, time series by day, week or month, and the cohort table. */
#ifndef ANALYTICS_FIGURES_H
#define ANALYTICS_FIGURES_H

#include <stddef.h>
#include <stdint.h>

#include "crm/v1/analytics_api.pb-c.h"
#include "analytics_ctx.h"

#define ANALYTICS_DAY_FIELDS   32       /* fields of crm.v1.DayFigures, numbered 1..32 */
#define ANALYTICS_PERIOD_MAX   3660     /* days in one summary, series or cohort period */
#define ANALYTICS_SERIES_MAX   1000     /* points in one series */
#define ANALYTICS_TIERS_MAX    64       /* tiers listed in members_per_tier */
#define ANALYTICS_LABEL_MAX    (16 + ANALYTICS_OWNER_MAX)   /* "needType:price_sensitive", "owner:<owner>" */

/* The day buckets of one scope: the sums of every field before `first`, and each day from
 * `first` to `first + count - 1` as running totals (cum[i] = everything through day first + i). */
typedef struct {
    int64_t first;
    size_t count;
    int64_t before[ANALYTICS_DAY_FIELDS];
    int64_t (*cum)[ANALYTICS_DAY_FIELDS];
} analytics_days_t;

/* Loads the buckets of scope for days first..last (first <= last). Returns 0 with *days filled
 * (caller clears it), CRM_ENOMEM or a store or codec error. */
int analytics_days_load(const analytics_t *an, crm_txn_t *txn, const char *scope, int64_t first, int64_t last,
                        analytics_days_t *days);

/* Frees the running totals. Safe on a zeroed value. */
void analytics_days_clear(analytics_days_t *days);

/* The sum of field (a DayFigures field number) over days a..b, and its total through day d.
 * a - 1, b and d must lie within first - 1 .. first + count - 1 (asserted). */
int64_t analytics_days_sum(const analytics_days_t *days, int field, int64_t a, int64_t b);
int64_t analytics_days_through(const analytics_days_t *days, int field, int64_t d);

/* Counts the customers of scope active at the end of day a - 1 whose activity lapsed on a day in
 * a..b (the `lapsed` figure). Returns 0 and sets *count, or a store error. */
int analytics_lapsed(const analytics_t *an, crm_txn_t *txn, const char *scope, int64_t a, int64_t b, int64_t *count);

/* A summary and the storage its message points into. */
typedef struct {
    Crm__V1__Summary msg;
    char from[ANALYTICS_DATE_SIZE];
    char to[ANALYTICS_DATE_SIZE];
    char segment[ANALYTICS_LABEL_MAX];
    char currency[ANALYTICS_CURRENCY_LEN + 1];
    Crm__V1__TierMembers tiers[ANALYTICS_TIERS_MAX];
    Crm__V1__TierMembers *tier_ptrs[ANALYTICS_TIERS_MAX];
    char tier_names[ANALYTICS_TIERS_MAX][ANALYTICS_TIER_MAX + 1];
} analytics_summary_t;

/* Computes every figure of days from..to (README.md, "Definitions") for scope, labelled with
 * segment (borrowed text, such as "all" or "owner:ann"). Returns 0 with *out filled, CRM_ENOMEM,
 * or a store or codec error. */
int analytics_summary(const analytics_t *an, crm_txn_t *txn, const char *scope, const char *segment, int64_t from,
                      int64_t to, analytics_summary_t *out);

/* The periods of a series: the day, ISO week (from Monday) or calendar month holding day. */
int64_t analytics_period_start(Crm__V1__Granularity g, int64_t day);
int64_t analytics_period_end(Crm__V1__Granularity g, int64_t day);

/* A series and its storage. */
typedef struct {
    Crm__V1__SeriesPoint *points;
    Crm__V1__SeriesPoint **point_ptrs;
    char (*dates)[2][ANALYTICS_DATE_SIZE];
    size_t count;
} analytics_series_t;

/* The figure named `figure` (a lowerCamelCase or proto name of a numeric Summary field) for every
 * period of granularity g that holds a day of from..to, each over its whole period. Returns 0
 * with *out (caller clears it), CRM_EINVALID (no such numeric figure), CRM_ELIMIT (more than
 * ANALYTICS_SERIES_MAX periods), CRM_ENOMEM or a store or codec error. */
int analytics_series(const analytics_t *an, crm_txn_t *txn, const char *scope, const char *figure,
                     Crm__V1__Granularity g, int64_t from, int64_t to, analytics_series_t *out);

/* Frees a series. Safe on a zeroed value. */
void analytics_series_clear(analytics_series_t *series);

/* A cohort table and its storage. */
typedef struct {
    Crm__V1__CohortRow *rows;
    Crm__V1__CohortRow **row_ptrs;
    char (*months)[ANALYTICS_MONTH_SIZE];
    size_t count;
} analytics_cohorts_t;

/* The cohorts of first-purchase months month(from)..month(to) of scope, each with its customers
 * still buying k months later for k = 0 .. month(to) - cohort. Returns 0 with *out (caller
 * clears it), CRM_ENOMEM or a store or codec error. */
int analytics_cohorts(const analytics_t *an, crm_txn_t *txn, const char *scope, int64_t from, int64_t to,
                      analytics_cohorts_t *out);

/* Frees a cohort table. Safe on a zeroed value. */
void analytics_cohorts_clear(analytics_cohorts_t *cohorts);

#endif
