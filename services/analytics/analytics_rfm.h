/* analytics_rfm.h: RFM scores by quintiles over the active base, value tiers, and the scoring run that publishes segment changes. */
#ifndef ANALYTICS_RFM_H
#define ANALYTICS_RFM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crm/v1/contacts.pb-c.h"
#include "analytics_ctx.h"

#define ANALYTICS_RFM_LEVELS 5          /* scores 1..5 */
#define ANALYTICS_RFM_CELLS  (ANALYTICS_RFM_LEVELS * ANALYTICS_RFM_LEVELS * ANALYTICS_RFM_LEVELS)

/* Scores n values by quintile: value i gets 1 + floor(5 * w / n), where w counts the values
 * strictly worse than it (smaller when higher_is_better, larger otherwise). Equal values get equal
 * scores; the best get 5 only when at least four fifths of the values are worse. Writes
 * scores[0..n). Returns 0 or CRM_ENOMEM. */
int analytics_rfm_quintiles(const int64_t *values, size_t n, bool higher_is_better, uint32_t *scores);

/* The value tier of RFM scores: high when r + f + m >= settings->rfm_high, mid when >= rfm_mid,
 * low otherwise. */
Crm__V1__ValueTier analytics_rfm_value_tier(const analytics_settings_t *settings, uint32_t r, uint32_t f, uint32_t m);

/* Scores every customer as of as_of in one write transaction (README.md, "Segments"): recency
 * (days since the last net purchase; fewer is better), frequency (net purchases) and monetary
 * (net spend in the reporting currency) by quintiles over the customers active at as_of; the value
 * tier from the scores, low for buyers outside the active base; stores each customer's scores and
 * publishes SegmentChanged when a value tier changes; stores the distribution in the meta record.
 * Returns 0, CRM_ENOMEM or a store or codec error. */
int analytics_rfm_run(analytics_t *an, crm_txn_t *txn, int64_t as_of);

#endif
