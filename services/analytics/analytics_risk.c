/* analytics_risk.c: churn-risk scoring, the evaluation schedule and the stage transitions. */
#include "analytics_risk.h"

#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crm/v1/feedback.pb-c.h"
#include "crm_codec.h"
#include "crm_error.h"
#include "analytics_fold.h"

#define S_SECONDS_PER_DAY  86400
#define S_SCORE_KEY_LEN    (1 + CRM_ID_LEN)
#define S_DUE_KEY_LEN      (ANALYTICS_TIME_KEY_LEN + CRM_ID_LEN)
#define S_NPS_SCALE        10
#define S_CSAT_SCALE       25
#define S_CES_RANGE        6
#define S_PERCENT          100
#define S_NPS_DETRACTOR    6
#define S_LOW_SCORE        3       /* CSAT and CES: 1..3 is unsatisfied or difficult */
#define S_STATE_REASON_MAX 128

/* --- Scoring */

int analytics_score_normalised(uint32_t kind, int32_t score)
{
    switch (kind) {
    case CRM__V1__SURVEY_KIND__SURVEY_KIND_NPS:
        return score * S_NPS_SCALE;
    case CRM__V1__SURVEY_KIND__SURVEY_KIND_CSAT:
        return (score - 1) * S_CSAT_SCALE;
    case CRM__V1__SURVEY_KIND__SURVEY_KIND_CES:
        return (score - 1) * S_PERCENT / S_CES_RANGE;
    default:
        return S_PERCENT / 2;
    }
}

bool analytics_answer_negative(uint32_t kind, int32_t score)
{
    switch (kind) {
    case CRM__V1__SURVEY_KIND__SURVEY_KIND_NPS:
        return score <= S_NPS_DETRACTOR;
    case CRM__V1__SURVEY_KIND__SURVEY_KIND_CSAT:
    case CRM__V1__SURVEY_KIND__SURVEY_KIND_CES:
        return score <= S_LOW_SCORE;
    default:
        return false;
    }
}

static void s_reason(analytics_risk_t *out, const char *code, uint32_t points, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void s_reason(analytics_risk_t *out, const char *code, uint32_t points, const char *fmt, ...)
{
    if (points == 0 || out->count == ANALYTICS_RISK_REASONS_MAX)
        return;
    analytics_reason_t *r = &out->reasons[out->count++];
    snprintf(r->code, sizeof r->code, "%s", code);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->detail, sizeof r->detail, fmt, ap);
    va_end(ap);
    r->weight = points;
    out->score += points;
}

/* points * min(max(x, 0), full) / full, rounded down. */
static uint32_t s_graded(uint32_t points, int64_t x, int64_t full)
{
    if (full <= 0 || x <= 0)
        return 0;
    if (x > full)
        x = full;
    return (uint32_t) ((int64_t) points * x / full);
}

void analytics_risk_score(const analytics_t *an, const Crm__V1__AnalyticsCustomer *c, int64_t as_of,
                          analytics_risk_t *out)
{
    memset(out, 0, sizeof *out);
    const analytics_settings_t *s = &an->settings;
    int64_t last_contact = 0;
    for (size_t i = 0; i < c->n_purchases; i++) {
        const Crm__V1__PurchaseFact *p = c->purchases[i];
        if (p->time_us > as_of)
            continue;
        if (p->time_us > last_contact)
            last_contact = p->time_us;
        if (!analytics_purchase_net(p))
            continue;
        out->purchases++;
        if (!out->first_purchase_us || p->time_us < out->first_purchase_us)
            out->first_purchase_us = p->time_us;
        if (p->time_us > out->last_purchase_us)
            out->last_purchase_us = p->time_us;
        if (strcmp(p->currency, s->currency) == 0)
            out->net_spend_minor += p->amount_minor - (p->refunded_minor > p->amount_minor ? p->amount_minor
                                                                                             : p->refunded_minor);
    }
    if (out->purchases == 0)
        return;
    int64_t today = analytics_day(an, as_of);
    out->active = today - analytics_day(an, out->last_purchase_us) < s->active_window_days;

    /* interval_stretched: the gap since the last purchase beyond the customer's usual interval. */
    int64_t span = (out->last_purchase_us - out->first_purchase_us) / ANALYTICS_US_PER_SECOND;
    int64_t gap = (as_of - out->last_purchase_us) / ANALYTICS_US_PER_SECOND;
    if (out->purchases >= ANALYTICS_RISK_MIN_PURCHASES && span > 0) {
        int64_t excess = (int64_t) (out->purchases - 1) * gap - span;
        s_reason(out, "interval_stretched", s_graded(ANALYTICS_RISK_INTERVAL_POINTS, excess, span),
                 "no purchase for %" PRId64 " days; usually every %" PRId64 " days", gap / S_SECONDS_PER_DAY,
                 span / (int64_t) (out->purchases - 1) / S_SECONDS_PER_DAY);
    }

    /* silent: no contact of any kind for longer than CRM_ANALYTICS_SILENCE. */
    const Crm__V1__AnswerFact *latest = NULL, *previous = NULL;
    for (size_t i = 0; i < c->n_answers; i++) {
        const Crm__V1__AnswerFact *a = c->answers[i];
        if (a->time_us > as_of)
            continue;
        if (a->time_us > last_contact)
            last_contact = a->time_us;
        if (!latest || a->time_us > latest->time_us || (a->time_us == latest->time_us && strcmp(a->id, latest->id) > 0)) {
            previous = latest;
            latest = a;
        } else if (!previous || a->time_us > previous->time_us
                   || (a->time_us == previous->time_us && strcmp(a->id, previous->id) > 0)) {
            previous = a;
        }
    }
    int recent = 0, earlier = 0;
    for (size_t i = 0; i < c->n_complaints; i++) {
        int64_t t = c->complaints[i]->created_us;
        if (t > as_of)
            continue;
        if (t > last_contact)
            last_contact = t;
        if (t > as_of - s->risk_window_us)
            recent++;
        else if (t > as_of - 2 * s->risk_window_us)
            earlier++;
    }
    for (size_t i = 0; i < c->n_contact_us; i++)
        if (c->contact_us[i] <= as_of && c->contact_us[i] > last_contact)
            last_contact = c->contact_us[i];
    int64_t silence = s->silence_us / ANALYTICS_US_PER_SECOND;
    int64_t quiet = (as_of - last_contact) / ANALYTICS_US_PER_SECOND;
    s_reason(out, "silent", s_graded(ANALYTICS_RISK_SILENT_POINTS, quiet - silence, silence),
             "no contact for %" PRId64 " days", quiet / S_SECONDS_PER_DAY);

    /* complaints_rising: more complaints in the risk window than in the one before. */
    if (recent > earlier) {
        int64_t points = (int64_t) ANALYTICS_RISK_COMPLAINT_STEP * (recent - earlier);
        s_reason(out, "complaints_rising",
                 (uint32_t) (points > ANALYTICS_RISK_COMPLAINT_POINTS ? ANALYTICS_RISK_COMPLAINT_POINTS : points),
                 "%d complaints in the last %" PRId64 " days, %d in the %" PRId64 " days before", recent,
                 s->risk_window_us / ANALYTICS_US_PER_DAY, earlier, s->risk_window_us / ANALYTICS_US_PER_DAY);
    }

    /* low_scores and falling_scores: the latest answer, within the risk window. */
    if (latest && latest->time_us > as_of - s->risk_window_us) {
        if (analytics_answer_negative(latest->kind, latest->score))
            s_reason(out, "low_scores", ANALYTICS_RISK_LOW_POINTS, "the last survey answer scored %d",
                     (int) latest->score);
        if (previous) {
            int now_n = analytics_score_normalised(latest->kind, latest->score);
            int before_n = analytics_score_normalised(previous->kind, previous->score);
            if (now_n <= before_n - ANALYTICS_RISK_FALL_MIN)
                s_reason(out, "falling_scores", ANALYTICS_RISK_FALLING_POINTS,
                         "survey answers fell from %d to %d (of 100)", before_n, now_n);
        }
    }

    /* points_expiring_unused: points about to expire, or expired lately, and nothing redeemed. */
    bool notice = c->notice_us && c->notice_us <= as_of && as_of < c->notice_expires_us
                  && c->last_redeem_us < c->notice_us;
    int64_t expired = 0;
    for (size_t i = 0; i < c->n_loyalty_days; i++) {
        const Crm__V1__LoyaltyDayFact *d = c->loyalty_days[i];
        if (d->expired > 0 && d->day <= today && d->day > today - s->risk_window_us / ANALYTICS_US_PER_DAY)
            expired += d->expired;
    }
    bool lapsed_points = expired > 0 && c->last_redeem_us <= as_of - s->risk_window_us;
    if (notice) {
        char date[ANALYTICS_DATE_SIZE];
        analytics_date_format(analytics_day(an, c->notice_expires_us), date);
        s_reason(out, "points_expiring_unused", ANALYTICS_RISK_EXPIRING_POINTS,
                 "%" PRId64 " points expire on %s and nothing was redeemed", c->notice_points, date);
    } else if (lapsed_points) {
        s_reason(out, "points_expiring_unused", ANALYTICS_RISK_EXPIRING_POINTS,
                 "%" PRId64 " points expired unused in the last %" PRId64 " days", expired,
                 s->risk_window_us / ANALYTICS_US_PER_DAY);
    }
    assert(out->score <= S_PERCENT);
}

/* --- State, index, schedule */

int analytics_state_get(const analytics_t *an, crm_txn_t *txn, const char *customer_id,
                        Crm__V1__CustomerState **st_p)
{
    *st_p = NULL;
    int rc = analytics_record_get(txn, an->db.states, customer_id, strlen(customer_id),
                                  &crm__v1__customer_state__descriptor, (ProtobufCMessage **) st_p);
    if (rc != CRM_ENOTFOUND)
        return rc;
    rc = crm_codec_message_new(&crm__v1__customer_state__descriptor, (ProtobufCMessage **) st_p);
    if (rc)
        return rc;
    (*st_p)->customer_id = strdup(customer_id);
    if (!(*st_p)->customer_id) {
        crm_codec_message_free((ProtobufCMessage **) st_p);
        return CRM_ENOMEM;
    }
    return 0;
}

static int s_state_put(const analytics_t *an, crm_txn_t *txn, const Crm__V1__CustomerState *st)
{
    return analytics_record_put(txn, an->db.states, st->customer_id, strlen(st->customer_id), &st->base);
}

static void s_score_key(uint8_t key[S_SCORE_KEY_LEN], uint32_t score, const char *customer_id)
{
    key[0] = (uint8_t) (255 - (score > 255 ? 255 : score));
    memcpy(key + 1, customer_id, CRM_ID_LEN);
}

static void s_due_key(uint8_t key[S_DUE_KEY_LEN], int64_t due_us, const char *customer_id)
{
    analytics_key_time(key, due_us);
    memcpy(key + ANALYTICS_TIME_KEY_LEN, customer_id, CRM_ID_LEN);
}

/* Moves the customer's next evaluation to due_us (0: none). */
static int s_schedule(const analytics_t *an, crm_txn_t *txn, Crm__V1__CustomerState *st, int64_t due_us)
{
    if (st->due_us == due_us)
        return 0;
    uint8_t key[S_DUE_KEY_LEN];
    int rc = 0;
    if (st->due_us) {
        s_due_key(key, st->due_us, st->customer_id);
        rc = analytics_record_del(txn, an->db.due, key, sizeof key);
    }
    if (rc == 0 && due_us) {
        s_due_key(key, due_us, st->customer_id);
        rc = crm_store_put(txn, an->db.due, key, sizeof key, "", 0, 0);
    }
    if (rc == 0)
        st->due_us = due_us;
    return rc;
}

/* Stores the score and reasons, and keeps the at-risk index in step. */
static int s_store_score(const analytics_t *an, crm_txn_t *txn, Crm__V1__CustomerState *st,
                         const analytics_risk_t *risk, int64_t now, Crm__V1__RiskReason *reasons,
                         Crm__V1__RiskReason **reason_ptrs)
{
    uint8_t key[S_SCORE_KEY_LEN];
    int rc = 0;
    if (st->score != risk->score) {
        if (st->score > 0) {
            s_score_key(key, st->score, st->customer_id);
            rc = analytics_record_del(txn, an->db.risk, key, sizeof key);
        }
        if (rc == 0 && risk->score > 0) {
            s_score_key(key, risk->score, st->customer_id);
            rc = crm_store_put(txn, an->db.risk, key, sizeof key, "", 0, 0);
        }
    }
    /* The state's own reasons are freed with it: swap in borrowed ones only for the write. */
    size_t n_old = st->n_reasons;
    Crm__V1__RiskReason **old = st->reasons;
    for (size_t i = 0; i < risk->count; i++) {
        crm__v1__risk_reason__init(&reasons[i]);
        reasons[i].code = (char *) risk->reasons[i].code;
        reasons[i].detail = (char *) risk->reasons[i].detail;
        reasons[i].weight = risk->reasons[i].weight;
        reason_ptrs[i] = &reasons[i];
    }
    st->score = risk->score;
    st->evaluated_us = now;
    st->n_reasons = risk->count;
    st->reasons = risk->count ? reason_ptrs : NULL;
    if (rc == 0)
        rc = s_state_put(an, txn, st);
    st->n_reasons = n_old;
    st->reasons = old;
    return rc;
}

static int s_emit_stage(analytics_t *an, crm_txn_t *txn, const char *customer_id, Crm__V1__LifecycleStage stage,
                        Crm__V1__LifecycleStage previous, bool won_back, const char *reason, int64_t at)
{
    Crm__V1__Timestamp ts;
    Crm__V1__StageChanged ev = CRM__V1__STAGE_CHANGED__INIT;
    ev.customer_id = (char *) customer_id;
    ev.stage = stage;
    ev.previous_stage = previous;
    ev.won_back = won_back;
    ev.reason = (char *) reason;
    ev.at = analytics_ts_set(&ts, at);
    return analytics_emit(an, txn, ANALYTICS_TOPIC_STAGE_CHANGED, customer_id, &ev.base, at);
}

static int s_emit_risk(analytics_t *an, crm_txn_t *txn, const char *customer_id, const analytics_risk_t *risk,
                       Crm__V1__RiskReason **reason_ptrs, int64_t at)
{
    Crm__V1__Timestamp ts;
    Crm__V1__ChurnRisk ev = CRM__V1__CHURN_RISK__INIT;
    ev.customer_id = (char *) customer_id;
    ev.score = risk->score;
    ev.threshold = an->settings.risk_threshold;
    ev.n_reasons = risk->count;
    ev.reasons = risk->count ? reason_ptrs : NULL;
    ev.at = analytics_ts_set(&ts, at);
    return analytics_emit(an, txn, ANALYTICS_TOPIC_CHURN_RISK, customer_id, &ev.base, at);
}

int analytics_risk_evaluate(analytics_t *an, crm_txn_t *txn, const char *customer_id, int64_t now)
{
    const analytics_settings_t *s = &an->settings;
    Crm__V1__AnalyticsCustomer *c = NULL;
    Crm__V1__CustomerState *st = NULL;
    int rc = analytics_customer_get(an, txn, customer_id, &c);
    if (rc == 0)
        rc = analytics_state_get(an, txn, customer_id, &st);
    if (rc)
        goto out;
    analytics_risk_t risk;
    if (c && !c->deleted && !c->merged_into[0])
        analytics_risk_score(an, c, now, &risk);
    else
        memset(&risk, 0, sizeof risk);
    Crm__V1__RiskReason reasons[ANALYTICS_RISK_REASONS_MAX];
    Crm__V1__RiskReason *reason_ptrs[ANALYTICS_RISK_REASONS_MAX];
    for (size_t i = 0; i < risk.count; i++) {
        crm__v1__risk_reason__init(&reasons[i]);
        reasons[i].code = risk.reasons[i].code;
        reasons[i].detail = risk.reasons[i].detail;
        reasons[i].weight = risk.reasons[i].weight;
        reason_ptrs[i] = &reasons[i];
    }
    Crm__V1__LifecycleStage contacts_stage = c ? c->stage : CRM__V1__LIFECYCLE_STAGE__LIFECYCLE_STAGE_UNSPECIFIED;
    bool churning = risk.purchases > 0 && now - risk.last_purchase_us >= s->churn_after_us;
    char why[S_STATE_REASON_MAX];
    if (risk.score >= s->risk_threshold && !st->risk_raised) {
        st->risk_raised = true;
        st->raised_us = now;
        rc = s_emit_risk(an, txn, customer_id, &risk, reason_ptrs, now);
        bool staged = st->stage == CRM__V1__LIFECYCLE_STAGE__LIFECYCLE_STAGE_AT_RISK
                      || st->stage == CRM__V1__LIFECYCLE_STAGE__LIFECYCLE_STAGE_CHURNED;
        if (rc == 0 && !staged && !churning) {
            snprintf(why, sizeof why, "churn risk %u reached the threshold %u", risk.score, s->risk_threshold);
            rc = s_emit_stage(an, txn, customer_id, CRM__V1__LIFECYCLE_STAGE__LIFECYCLE_STAGE_AT_RISK,
                              contacts_stage, false, why, now);
            st->stage = CRM__V1__LIFECYCLE_STAGE__LIFECYCLE_STAGE_AT_RISK;
            st->stage_since_us = now;
            st->stage_last_purchase_us = risk.last_purchase_us;
        }
    } else if (risk.score < s->risk_threshold && st->risk_raised) {
        st->risk_raised = false;   /* armed again: the next crossing is news */
    }
    if (rc == 0 && churning && st->stage != CRM__V1__LIFECYCLE_STAGE__LIFECYCLE_STAGE_CHURNED) {
        Crm__V1__LifecycleStage previous = st->stage ? st->stage : contacts_stage;
        snprintf(why, sizeof why, "no purchase for %" PRId64 " days",
                 (now - risk.last_purchase_us) / ANALYTICS_US_PER_DAY);
        rc = s_emit_stage(an, txn, customer_id, CRM__V1__LIFECYCLE_STAGE__LIFECYCLE_STAGE_CHURNED, previous, false,
                          why, now);
        st->stage = CRM__V1__LIFECYCLE_STAGE__LIFECYCLE_STAGE_CHURNED;
        st->stage_since_us = now;
        st->stage_last_purchase_us = risk.last_purchase_us;
    }
    if (rc == 0)
        rc = s_schedule(an, txn, st, risk.purchases > 0 && s->risk_interval_us > 0 ? now + s->risk_interval_us : 0);
    Crm__V1__RiskReason stored[ANALYTICS_RISK_REASONS_MAX];
    Crm__V1__RiskReason *stored_ptrs[ANALYTICS_RISK_REASONS_MAX];
    if (rc == 0)
        rc = s_store_score(an, txn, st, &risk, now, stored, stored_ptrs);
out:
    crm_codec_message_free((ProtobufCMessage **) &c);
    crm_codec_message_free((ProtobufCMessage **) &st);
    return rc;
}

int analytics_risk_purchase(analytics_t *an, crm_txn_t *txn, const char *customer_id, int64_t purchase_us)
{
    Crm__V1__CustomerState *st = NULL;
    int rc = analytics_state_get(an, txn, customer_id, &st);
    if (rc)
        return rc;
    bool staged = st->stage == CRM__V1__LIFECYCLE_STAGE__LIFECYCLE_STAGE_AT_RISK
                  || st->stage == CRM__V1__LIFECYCLE_STAGE__LIFECYCLE_STAGE_CHURNED;
    if (staged && purchase_us > st->stage_last_purchase_us) {
        char date[ANALYTICS_DATE_SIZE], why[S_STATE_REASON_MAX];
        analytics_date_format(analytics_day(an, purchase_us), date);
        snprintf(why, sizeof why, "bought again on %s", date);
        rc = s_emit_stage(an, txn, customer_id, CRM__V1__LIFECYCLE_STAGE__LIFECYCLE_STAGE_REPEAT, st->stage, true,
                          why, purchase_us);
        st->stage = CRM__V1__LIFECYCLE_STAGE__LIFECYCLE_STAGE_UNSPECIFIED;
        st->stage_since_us = purchase_us;
        st->risk_raised = false;
        if (rc == 0)
            rc = s_state_put(an, txn, st);
    }
    crm_codec_message_free((ProtobufCMessage **) &st);
    return rc;
}

int analytics_risk_touch(analytics_t *an, crm_txn_t *txn, const char *customer_id)
{
    if (an->settings.risk_interval_us <= 0)
        return 0;
    int64_t target = analytics_now(an) + an->settings.settle_us;
    Crm__V1__CustomerState *st = NULL;
    int rc = analytics_state_get(an, txn, customer_id, &st);
    if (rc == 0 && (st->due_us == 0 || st->due_us > target)) {
        rc = s_schedule(an, txn, st, target);
        if (rc == 0)
            rc = s_state_put(an, txn, st);
    }
    crm_codec_message_free((ProtobufCMessage **) &st);
    return rc;
}

int analytics_risk_due(analytics_t *an, crm_txn_t *txn, int64_t now, size_t max, bool *more)
{
    *more = false;
    char (*ids)[CRM_ID_SIZE] = calloc(max ? max : 1, sizeof *ids);
    if (!ids)
        return CRM_ENOMEM;
    size_t n = 0;
    crm_cursor_t *cur = NULL;
    int rc = crm_cursor_open(txn, an->db.due, &cur);
    crm_val_t k;
    if (rc == 0)
        rc = crm_cursor_first(cur, &k, NULL);
    while (rc == 0) {
        if (k.size != S_DUE_KEY_LEN) {
            rc = CRM_ESTORE;
            break;
        }
        if (analytics_key_time_read(k.data) > now)
            break;
        if (n == max) {
            *more = true;
            break;
        }
        memcpy(ids[n], (const uint8_t *) k.data + ANALYTICS_TIME_KEY_LEN, CRM_ID_LEN);
        ids[n][CRM_ID_LEN] = '\0';
        n++;
        rc = crm_cursor_next(cur, &k, NULL);
    }
    crm_cursor_close(&cur);
    if (rc == CRM_ENOTFOUND)
        rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        Crm__V1__AnalyticsCustomer *c = NULL;
        rc = analytics_customer_get(an, txn, ids[i], &c);
        int64_t settled = c ? c->folded_wall_us + an->settings.settle_us : 0;
        crm_codec_message_free((ProtobufCMessage **) &c);
        if (rc)
            break;
        if (settled > now) {
            /* Its events are still arriving: come back when they have settled. */
            Crm__V1__CustomerState *st = NULL;
            rc = analytics_state_get(an, txn, ids[i], &st);
            if (rc == 0)
                rc = s_schedule(an, txn, st, settled);
            if (rc == 0)
                rc = s_state_put(an, txn, st);
            crm_codec_message_free((ProtobufCMessage **) &st);
        } else {
            rc = analytics_risk_evaluate(an, txn, ids[i], now);
        }
    }
    free(ids);
    return rc;
}
