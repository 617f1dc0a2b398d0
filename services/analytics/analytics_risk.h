/* analytics_risk.h: the churn-risk score of a customer with its reasons, and the stage transitions it drives (at risk, churned, won back). */
#ifndef ANALYTICS_RISK_H
#define ANALYTICS_RISK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crm/v1/analytics.pb-c.h"
#include "analytics_ctx.h"

/* The signals and their most points (they add up to 100). README.md, "Churn risk", defines each. */
#define ANALYTICS_RISK_INTERVAL_POINTS   30     /* "interval_stretched" */
#define ANALYTICS_RISK_SILENT_POINTS     25     /* "silent" */
#define ANALYTICS_RISK_COMPLAINT_POINTS  15     /* "complaints_rising" */
#define ANALYTICS_RISK_COMPLAINT_STEP    5      /* points per complaint more than in the window before */
#define ANALYTICS_RISK_LOW_POINTS        10     /* "low_scores" */
#define ANALYTICS_RISK_FALLING_POINTS    10     /* "falling_scores" */
#define ANALYTICS_RISK_FALL_MIN          20     /* normalised points an answer must fall by */
#define ANALYTICS_RISK_EXPIRING_POINTS   10     /* "points_expiring_unused" */
#define ANALYTICS_RISK_MIN_PURCHASES     3      /* purchases before an interval is "usual" */
#define ANALYTICS_RISK_REASONS_MAX       6
#define ANALYTICS_RISK_CODE_MAX          32
#define ANALYTICS_RISK_DETAIL_MAX        160

#define ANALYTICS_TOPIC_SEGMENT_CHANGED "crm.analytics.customer.segment_changed.v1"
#define ANALYTICS_TOPIC_CHURN_RISK      "crm.analytics.customer.churn_risk.v1"
#define ANALYTICS_TOPIC_STAGE_CHANGED   "crm.analytics.customer.stage_changed.v1"

typedef struct {
    char code[ANALYTICS_RISK_CODE_MAX];
    char detail[ANALYTICS_RISK_DETAIL_MAX];
    uint32_t weight;                   /* the points it adds */
} analytics_reason_t;

typedef struct {
    uint32_t score;                    /* 0..100 */
    size_t count;
    analytics_reason_t reasons[ANALYTICS_RISK_REASONS_MAX];
    uint32_t purchases;                /* net purchases up to as_of */
    int64_t first_purchase_us;         /* 0 when none */
    int64_t last_purchase_us;
    int64_t net_spend_minor;           /* reporting currency */
    bool active;                       /* a net purchase within the active window */
} analytics_risk_t;

/* A survey score on 0..100: NPS x10, CSAT (s-1) x25, CES (s-1) x100/6 (rounded down). */
int analytics_score_normalised(uint32_t kind, int32_t score);

/* True for a detractor (NPS 0-6), unsatisfied (CSAT 1-3) or difficult (CES 1-3) answer. */
bool analytics_answer_negative(uint32_t kind, int32_t score);

/* Scores c as of as_of from its facts dated up to as_of (README.md, "Churn risk"). A customer
 * without a net purchase scores 0. */
void analytics_risk_score(const analytics_t *an, const Crm__V1__AnalyticsCustomer *c, int64_t as_of,
                          analytics_risk_t *out);

/* Reads what analytics said about a customer (a fresh state when none). Returns 0 with *st_p
 * (caller frees with crm_codec_message_free), CRM_ENOMEM or a store or codec error. */
int analytics_state_get(const analytics_t *an, crm_txn_t *txn, const char *customer_id,
                        Crm__V1__CustomerState **st_p);

/* Evaluates customer_id as of now: stores the score and reasons (and the at-risk index);
 * publishes ChurnRisk when the score crosses the threshold upwards (once, until it falls below
 * again) with StageChanged to at_risk, and StageChanged to churned after CRM_ANALYTICS_CHURN_AFTER
 * without a purchase; schedules the next evaluation. Returns 0 or a store or codec error. */
int analytics_risk_evaluate(analytics_t *an, crm_txn_t *txn, const char *customer_id, int64_t now);

/* A purchase made at purchase_us was folded for customer_id: a customer analytics had set at risk
 * or churned who bought after the purchases known then is won back (StageChanged with won_back).
 * Returns 0 or a store or codec error. */
int analytics_risk_purchase(analytics_t *an, crm_txn_t *txn, const char *customer_id, int64_t purchase_us);

/* The customer's events arrived: evaluate them once they settle (CRM_ANALYTICS_SETTLE from now),
 * unless an evaluation is due sooner. Returns 0 or a store or codec error. */
int analytics_risk_touch(analytics_t *an, crm_txn_t *txn, const char *customer_id);

/* Evaluates up to max customers whose evaluation is due at now (a customer whose events are still
 * arriving is put off until they settle). Sets *more when more are due. Returns 0 or a store or
 * codec error. */
int analytics_risk_due(analytics_t *an, crm_txn_t *txn, int64_t now, size_t max, bool *more);

#endif
