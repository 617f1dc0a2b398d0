/* test_analytics_risk.c: the churn-risk signals and their points, the once-only warning, the stages (at risk, churned, won back), and the settling schedule. */
#include "analytics_fixture.h"

static void s_setup(void)
{
    fx_setup();
}

TestSuite(analytics_risk, .init = s_setup, .fini = fx_teardown, .timeout = 60);

static Crm__V1__AnalyticsCustomer *s_customer(const char *id)
{
    Crm__V1__AnalyticsCustomer *c = NULL;
    crm_txn_t *txn = NULL;
    cr_assert_eq(crm_store_read_begin(fx.store, &txn), 0);
    cr_assert_eq(analytics_customer_get(fx.an, txn, id, &c), 0);
    crm_store_txn_end(&txn);
    cr_assert_not_null(c);
    return c;
}

static analytics_risk_t s_score(const char *id, int64_t as_of)
{
    Crm__V1__AnalyticsCustomer *c = s_customer(id);
    analytics_risk_t r;
    analytics_risk_score(fx.an, c, as_of, &r);
    crm_codec_message_free((ProtobufCMessage **) &c);
    return r;
}

static uint32_t s_points(const analytics_risk_t *r, const char *code)
{
    for (size_t i = 0; i < r->count; i++)
        if (strcmp(r->reasons[i].code, code) == 0)
            return r->reasons[i].weight;
    return 0;
}

/* Four purchases 30 days apart, the last one 100 days before T:
 *   interval_stretched: span 90 days over 3 intervals (usual 30); excess = 3 x 100 - 90 = 210 days,
 *     beyond the span: the full 30 points.
 *   silent: 100 days without contact, silence 60: 25 x (100 - 60) / 60 = 16.67 -> 16.
 * Total 46. */
Test(analytics_risk, interval_and_silence)
{
    char a[CRM_ID_SIZE];
    fx_customer(a);
    int64_t t = fx_date("2025-06-30");
    for (int k = 0; k < 4; k++) {
        char id[16];
        snprintf(id, sizeof id, "p%d", k);
        cr_assert_eq(fx_purchase(a, id, 1000, "CNY", t - (100 + 30 * (3 - k)) * FX_DAY), 0);
    }
    analytics_risk_t r = s_score(a, t);
    cr_assert_eq(r.purchases, 4);
    cr_assert_eq(s_points(&r, "interval_stretched"), 30);
    cr_assert_eq(s_points(&r, "silent"), 16);
    cr_assert_eq(r.score, 46);
    cr_assert_eq(r.count, 2);
    cr_assert_str_eq(r.reasons[0].detail, "no purchase for 100 days; usually every 30 days");
    cr_assert_str_eq(r.reasons[1].detail, "no contact for 100 days");
    /* 40 days after the last purchase: the gap is 10 days beyond the usual 30 (3 x 40 - 90 = 30 of
     * 90): 30 x 30 / 90 = 10 points; no silence yet. */
    r = s_score(a, t - 60 * FX_DAY);
    cr_assert_eq(s_points(&r, "interval_stretched"), 10);
    cr_assert_eq(r.score, 10);
    /* An interaction 10 days before T ends the silence. */
    cr_assert_eq(fx_interaction(a, t - 10 * FX_DAY), 0);
    r = s_score(a, t);
    cr_assert_eq(s_points(&r, "silent"), 0);
    cr_assert_eq(r.score, 30);
    /* A customer with fewer than three purchases has no usual interval. */
    char b[CRM_ID_SIZE];
    fx_customer(b);
    cr_assert_eq(fx_purchase(b, "b1", 1000, "CNY", t - 200 * FX_DAY), 0);
    cr_assert_eq(fx_purchase(b, "b2", 1000, "CNY", t - 190 * FX_DAY), 0);
    r = s_score(b, t);
    cr_assert_eq(s_points(&r, "interval_stretched"), 0);
    cr_assert_eq(s_points(&r, "silent"), 25, "190 days: at least twice the silence");
    /* A prospect scores nothing. */
    char p[CRM_ID_SIZE];
    fx_customer(p);
    cr_assert_eq(fx_created(p, t - 300 * FX_DAY, 0, NULL), 0);
    r = s_score(p, t);
    cr_assert_eq(r.score, 0);
    cr_assert_eq(r.count, 0);
}

/* Complaints: 3 in the last 90 days, 1 in the 90 before: 5 x (3 - 1) = 10 points. The last answer,
 * an NPS 3 (detractor), 20 days ago: low_scores 10; the answer before it a CSAT 5 (100 of 100),
 * now 30 of 100: falling_scores 10. */
Test(analytics_risk, complaints_scores_and_expiring_points)
{
    char a[CRM_ID_SIZE];
    fx_customer(a);
    int64_t t = fx_date("2025-06-30");
    cr_assert_eq(fx_purchase(a, "p1", 1000, "CNY", t - 5 * FX_DAY), 0);
    static const int ages[4] = { 10, 40, 80, 150 };
    for (int i = 0; i < 4; i++) {
        char id[16];
        snprintf(id, sizeof id, "k%d", i);
        fx_complaint_t k = { a, id, CRM__V1__COMPLAINT_STATUS__COMPLAINT_STATUS_OPEN, t - ages[i] * FX_DAY, 0, 0, 0, 0,
                             false, false, 0, 1 };
        cr_assert_eq(fx_complaint("crm.feedback.complaint.opened.v1", &k, k.created_us), 0);
    }
    cr_assert_eq(fx_answer(a, "s1", CRM__V1__SURVEY_KIND__SURVEY_KIND_CSAT, 5, t - 50 * FX_DAY), 0);
    cr_assert_eq(fx_answer(a, "n1", CRM__V1__SURVEY_KIND__SURVEY_KIND_NPS, 3, t - 20 * FX_DAY), 0);
    analytics_risk_t r = s_score(a, t);
    cr_assert_eq(s_points(&r, "complaints_rising"), 10);
    cr_assert_eq(s_points(&r, "low_scores"), 10);
    cr_assert_eq(s_points(&r, "falling_scores"), 10);
    cr_assert_eq(s_points(&r, "points_expiring_unused"), 0);
    cr_assert_eq(r.score, 30);
    /* Points about to expire, nothing redeemed since the notice. */
    cr_assert_eq(fx_points(a, "crm.loyalty.points.earned.v1", CRM__V1__ENTRY_KIND__ENTRY_KIND_EARN, 100, t - 300 * FX_DAY), 0);
    cr_assert_eq(fx_expiring(a, 100, t + 20 * FX_DAY, t - 10 * FX_DAY), 0);
    r = s_score(a, t);
    cr_assert_eq(s_points(&r, "points_expiring_unused"), 10);
    cr_assert_eq(r.score, 40);
    /* A redemption after the notice ends it. */
    cr_assert_eq(fx_points(a, "crm.loyalty.points.redeemed.v1", CRM__V1__ENTRY_KIND__ENTRY_KIND_REDEEM, -50, t - 2 * FX_DAY), 0);
    r = s_score(a, t);
    cr_assert_eq(s_points(&r, "points_expiring_unused"), 0);
    /* Points that expired lately with no redemption in the window count too. */
    char b[CRM_ID_SIZE];
    fx_customer(b);
    cr_assert_eq(fx_purchase(b, "b1", 1000, "CNY", t - 5 * FX_DAY), 0);
    cr_assert_eq(fx_points(b, "crm.loyalty.points.expired.v1", CRM__V1__ENTRY_KIND__ENTRY_KIND_EXPIRE, -70, t - 30 * FX_DAY), 0);
    r = s_score(b, t);
    cr_assert_eq(s_points(&r, "points_expiring_unused"), 10);
    cr_assert_eq(analytics_score_normalised(CRM__V1__SURVEY_KIND__SURVEY_KIND_CES, 7), 100);
    cr_assert_eq(analytics_score_normalised(CRM__V1__SURVEY_KIND__SURVEY_KIND_CES, 2), 16);
    cr_assert(analytics_answer_negative(CRM__V1__SURVEY_KIND__SURVEY_KIND_CES, 3));
    cr_assert(!analytics_answer_negative(CRM__V1__SURVEY_KIND__SURVEY_KIND_NPS, 7));
}

typedef struct {
    const char *id;
    int64_t now;
} s_eval_t;

static int s_eval_body(crm_txn_t *txn, void *arg)
{
    s_eval_t *e = arg;
    return analytics_risk_evaluate(fx.an, txn, e->id, e->now);
}

static void s_evaluate(const char *id, int64_t now)
{
    s_eval_t e = { id, now };
    cr_assert_eq(analytics_write(fx.an, s_eval_body, &e), 0);
}

/* Crossing the threshold publishes one ChurnRisk and at_risk; it is not repeated while the score
 * stays high; a purchase wins the customer back; a later crossing warns again; a long silence
 * makes the customer churned. */
Test(analytics_risk, one_warning_per_crossing_and_the_stages)
{
    char a[CRM_ID_SIZE];
    fx_customer(a);
    int64_t t = fx_date("2025-06-30");
    for (int k = 0; k < 4; k++) {
        char id[16];
        snprintf(id, sizeof id, "p%d", k);
        cr_assert_eq(fx_purchase(a, id, 1000, "CNY", t - (130 + 30 * (3 - k)) * FX_DAY), 0);
    }
    /* At T: interval 30 (full), silent 25 x 70 / 60 -> 25: 55 >= 50. */
    uint64_t head = fx_head();
    s_evaluate(a, t);
    Crm__V1__ChurnRisk *risk = NULL;
    cr_assert_eq(fx_events(head, ANALYTICS_TOPIC_CHURN_RISK, &crm__v1__churn_risk__descriptor,
                           (ProtobufCMessage **) &risk), 1);
    cr_assert_eq(risk->score, 55);
    cr_assert_eq(risk->threshold, 50);
    cr_assert_eq(risk->n_reasons, 2);
    cr_assert_str_eq(risk->reasons[0]->code, "interval_stretched");
    cr_assert_str_eq(risk->reasons[1]->code, "silent");
    crm_codec_message_free((ProtobufCMessage **) &risk);
    Crm__V1__StageChanged *stage = NULL;
    cr_assert_eq(fx_events(head, ANALYTICS_TOPIC_STAGE_CHANGED, &crm__v1__stage_changed__descriptor,
                           (ProtobufCMessage **) &stage), 1);
    cr_assert_eq(stage->stage, CRM__V1__LIFECYCLE_STAGE__LIFECYCLE_STAGE_AT_RISK);
    cr_assert(!stage->won_back);
    crm_codec_message_free((ProtobufCMessage **) &stage);
    /* Still high a day later: nothing new. */
    head = fx_head();
    s_evaluate(a, t + FX_DAY);
    cr_assert_eq(fx_head(), head);
    /* An old purchase arriving late (before the ones known) is no comeback. */
    cr_assert_eq(fx_purchase(a, "old", 1000, "CNY", t - 400 * FX_DAY), 0);
    cr_assert_eq(fx_events(head, ANALYTICS_TOPIC_STAGE_CHANGED, NULL, NULL), 0);
    /* A new purchase is. */
    cr_assert_eq(fx_purchase(a, "back", 1000, "CNY", t + 2 * FX_DAY), 0);
    cr_assert_eq(fx_events(head, ANALYTICS_TOPIC_STAGE_CHANGED, &crm__v1__stage_changed__descriptor,
                           (ProtobufCMessage **) &stage), 1);
    cr_assert(stage->won_back);
    cr_assert_eq(stage->stage, CRM__V1__LIFECYCLE_STAGE__LIFECYCLE_STAGE_REPEAT);
    cr_assert_eq(stage->previous_stage, CRM__V1__LIFECYCLE_STAGE__LIFECYCLE_STAGE_AT_RISK);
    crm_codec_message_free((ProtobufCMessage **) &stage);
    head = fx_head();
    s_evaluate(a, t + 3 * FX_DAY);
    cr_assert_eq(fx_events(head, ANALYTICS_TOPIC_CHURN_RISK, NULL, NULL), 0, "score fell below: armed again");
    /* Silent again for long: the warning comes again, then at 180 days churned. */
    s_evaluate(a, t + 2 * FX_DAY + 150 * FX_DAY);
    cr_assert_eq(fx_events(head, ANALYTICS_TOPIC_CHURN_RISK, NULL, NULL), 1);
    s_evaluate(a, t + 2 * FX_DAY + 181 * FX_DAY);
    cr_assert_eq(fx_events(head, ANALYTICS_TOPIC_CHURN_RISK, NULL, NULL), 1);
    cr_assert_eq(fx_events(head, ANALYTICS_TOPIC_STAGE_CHANGED, &crm__v1__stage_changed__descriptor,
                           (ProtobufCMessage **) &stage), 2);
    cr_assert_eq(stage->stage, CRM__V1__LIFECYCLE_STAGE__LIFECYCLE_STAGE_CHURNED);
    cr_assert_eq(stage->previous_stage, CRM__V1__LIFECYCLE_STAGE__LIFECYCLE_STAGE_AT_RISK);
    crm_codec_message_free((ProtobufCMessage **) &stage);
    /* The at-risk list shows the last score with its reasons. */
    Crm__V1__ListAtRiskRequest req = CRM__V1__LIST_AT_RISK_REQUEST__INIT;
    Crm__V1__ListAtRiskReply *list = NULL;
    cr_assert_eq(fx_call("analytics.ListAtRisk", "analyst", &req.base, &crm__v1__list_at_risk_reply__descriptor,
                         (ProtobufCMessage **) &list, NULL), CRM_RPC_OK);
    cr_assert_eq(list->n_customers, 1);
    cr_assert_str_eq(list->customers[0]->customer_id, a);
    cr_assert_eq(list->customers[0]->stage, CRM__V1__LIFECYCLE_STAGE__LIFECYCLE_STAGE_CHURNED);
    cr_assert_geq(list->customers[0]->n_reasons, 2);
    crm_codec_message_free((ProtobufCMessage **) &list);
}

/* Events schedule an evaluation once they settle; the job evaluates what is due. */
Test(analytics_risk, the_job_waits_for_a_customers_events_to_settle)
{
    fx.settings.settle_us = 10 * 1000000;
    fx.settings.risk_interval_us = FX_HOUR;
    fx.settings.rfm_interval_us = 0;   /* no RFM run in the way */
    fx_restart();
    char a[CRM_ID_SIZE];
    fx_customer(a);
    for (int k = 0; k < 4; k++) {
        char id[16];
        snprintf(id, sizeof id, "p%d", k);
        cr_assert_eq(fx_purchase(a, id, 1000, "CNY", fx.now - (130 + 30 * (3 - k)) * FX_DAY), 0);
    }
    uint64_t head = fx_head();
    fx_tick();
    cr_assert_eq(fx_head(), head, "not yet settled");
    fx.now += 5 * 1000000;
    cr_assert_eq(fx_interaction(a, fx.now - 200 * FX_DAY), 0);   /* an old interaction: still silent */
    fx.now += 6 * 1000000;
    fx_tick();
    cr_assert_eq(fx_head(), head, "the interaction put it off");
    fx.now += 5 * 1000000;
    fx_tick();
    cr_assert_eq(fx_events(head, ANALYTICS_TOPIC_CHURN_RISK, NULL, NULL), 1);
    /* While a publisher is behind, nothing is evaluated. */
    fx.an->behind = true;
    fx.now += 2 * FX_HOUR;
    head = fx_head();
    fx_tick();
    cr_assert_eq(fx_head(), head);
    fx.an->behind = false;
    /* Every hour again; nothing new while nothing changes. */
    fx_tick();
    cr_assert_eq(fx_head(), head);
    Crm__V1__CustomerState *st = NULL;
    crm_txn_t *txn = NULL;
    cr_assert_eq(crm_store_read_begin(fx.store, &txn), 0);
    cr_assert_eq(analytics_state_get(fx.an, txn, a, &st), 0);
    crm_store_txn_end(&txn);
    cr_assert_eq(st->due_us, fx.now + FX_HOUR);
    cr_assert_eq(st->evaluated_us, fx.now);
    crm_codec_message_free((ProtobufCMessage **) &st);
}
