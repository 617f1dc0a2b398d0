/* test_analytics_handlers.c: request methods (bad input and its field, roles, paging, customer scores, status) and the rebuild reset; malformed events. */
#include "analytics_fixture.h"

static void s_setup(void)
{
    fx_setup();
}

TestSuite(analytics_handlers, .init = s_setup, .fini = fx_teardown, .timeout = 60);

static crm_rpc_status_t s_raw(const char *method, const char *role, const void *body, size_t len, char *field)
{
    analytics_caller_t caller = { "key-1", role };
    analytics_answer_t ans;
    analytics_handle(fx.an, method, &caller, body, len, &ans);
    if (field)
        snprintf(field, ANALYTICS_FIELD_MAX, "%s", ans.field);
    crm_rpc_status_t status = ans.status;
    analytics_answer_clear(&ans);
    return status;
}

Test(analytics_handlers, bad_requests_get_the_status_and_the_field)
{
    char field[ANALYTICS_FIELD_MAX];
    cr_assert_eq(s_raw("analytics.NoSuchMethod", "admin", NULL, 0, NULL), CRM_RPC_UNKNOWN_METHOD);
    cr_assert_eq(s_raw("loyalty.GetSummary", "admin", NULL, 0, NULL), CRM_RPC_UNKNOWN_METHOD);
    static const uint8_t garbage[] = { 0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f };
    cr_assert_eq(s_raw("analytics.GetSummary", "analyst", garbage, sizeof garbage, NULL), CRM_RPC_INVALID);
    Crm__V1__SummaryRequest sum = CRM__V1__SUMMARY_REQUEST__INIT;
    sum.from = "2025-02-30";
    cr_assert_eq(fx_call("analytics.GetSummary", "analyst", &sum.base, NULL, NULL, field), CRM_RPC_INVALID);
    cr_assert_str_eq(field, "from");
    sum.from = "2025-03-01";
    sum.to = "2025-02-01";
    cr_assert_eq(fx_call("analytics.GetSummary", "analyst", &sum.base, NULL, NULL, field), CRM_RPC_INVALID);
    cr_assert_str_eq(field, "from");
    sum.from = "2000-01-01";
    sum.to = "2025-02-01";
    cr_assert_eq(fx_call("analytics.GetSummary", "analyst", &sum.base, NULL, NULL, field), CRM_RPC_INVALID);
    cr_assert_str_eq(field, "to");
    sum.from = "2025-01-01";
    sum.tier = "gold";
    sum.owner = "ann";
    cr_assert_eq(fx_call("analytics.GetSummary", "analyst", &sum.base, NULL, NULL, field), CRM_RPC_INVALID);
    cr_assert_str_eq(field, "owner");
    Crm__V1__SeriesRequest ser = CRM__V1__SERIES_REQUEST__INIT;
    cr_assert_eq(fx_call("analytics.GetSeries", "analyst", &ser.base, NULL, NULL, field), CRM_RPC_INVALID);
    cr_assert_str_eq(field, "figure");
    ser.figure = "noSuchFigure";
    cr_assert_eq(fx_call("analytics.GetSeries", "analyst", &ser.base, NULL, NULL, field), CRM_RPC_INVALID);
    cr_assert_str_eq(field, "figure");
    Crm__V1__ListAtRiskRequest risk = CRM__V1__LIST_AT_RISK_REQUEST__INIT;
    risk.min_score = 101;
    cr_assert_eq(fx_call("analytics.ListAtRisk", "analyst", &risk.base, NULL, NULL, field), CRM_RPC_INVALID);
    cr_assert_str_eq(field, "minScore");
    risk.min_score = 0;
    risk.page_token = "zz";
    cr_assert_eq(fx_call("analytics.ListAtRisk", "analyst", &risk.base, NULL, NULL, field), CRM_RPC_INVALID);
    cr_assert_str_eq(field, "pageToken");
    Crm__V1__CustomerScoresRequest cs = CRM__V1__CUSTOMER_SCORES_REQUEST__INIT;
    cr_assert_eq(fx_call("analytics.GetCustomerScores", "analyst", &cs.base, NULL, NULL, field), CRM_RPC_INVALID);
    cr_assert_str_eq(field, "customerId");
    char unknown[CRM_ID_SIZE];
    fx_customer(unknown);
    cs.customer_id = unknown;
    cr_assert_eq(fx_call("analytics.GetCustomerScores", "analyst", &cs.base, NULL, NULL, field), CRM_RPC_NOT_FOUND);
    /* Admin methods. */
    Crm__V1__RecomputeRfmRequest rfm = CRM__V1__RECOMPUTE_RFM_REQUEST__INIT;
    cr_assert_eq(fx_call("analytics.RecomputeRfm", "analyst", &rfm.base, NULL, NULL, NULL), CRM_RPC_FORBIDDEN);
    Crm__V1__RebuildRequest rb = CRM__V1__REBUILD_REQUEST__INIT;
    cr_assert_eq(fx_call("analytics.Rebuild", "analyst", &rb.base, NULL, NULL, NULL), CRM_RPC_FORBIDDEN);
    cr_assert_eq(fx_call("analytics.RecomputeRfm", "admin", &rfm.base, NULL, NULL, NULL), CRM_RPC_OK);
}

Test(analytics_handlers, malformed_events_are_refused)
{
    Crm__V1__PurchaseRecorded none = CRM__V1__PURCHASE_RECORDED__INIT;
    cr_assert_eq(fx_event_at("crm.contacts.purchase.recorded.v1", &none.base, FX_T0, NULL), CRM_EINVALID);
    Crm__V1__Purchase p = CRM__V1__PURCHASE__INIT;
    p.id = "p1";
    p.customer_id = "not-an-id";
    p.currency = "CNY";
    Crm__V1__PurchaseRecorded bad = CRM__V1__PURCHASE_RECORDED__INIT;
    bad.purchase = &p;
    cr_assert_eq(fx_event_at("crm.contacts.purchase.recorded.v1", &bad.base, FX_T0, NULL), CRM_EINVALID);
    char a[CRM_ID_SIZE];
    fx_customer(a);
    p.customer_id = a;
    p.amount_minor = -5;
    cr_assert_eq(fx_event_at("crm.contacts.purchase.recorded.v1", &bad.base, FX_T0, NULL), CRM_EINVALID);
    /* A time out of range (year 9500) would make day numbers nobody can count. */
    p.amount_minor = 100;
    Crm__V1__Timestamp far;
    p.purchased_at = analytics_ts_set(&far, INT64_C(237622000000) * 1000000);
    cr_assert_eq(fx_event_at("crm.contacts.purchase.recorded.v1", &bad.base, FX_T0, NULL), CRM_EINVALID);
    p.purchased_at = NULL;
    cr_assert_eq(fx_event_at("crm.contacts.purchase.recorded.v1", &bad.base, FX_T0, NULL), 0,
                 "without purchasedAt the envelope's time counts");
    /* A payload of another type than the topic says. */
    Crm__V1__CustomerDeleted other = CRM__V1__CUSTOMER_DELETED__INIT;
    other.customer_id = a;
    cr_assert_eq(fx_event_at("crm.feedback.answer.received.v1", &other.base, FX_T0, NULL), CRM_EINVALID);
    /* Topics analytics has no use for are skipped. */
    cr_assert_eq(fx_event_at("crm.loyalty.badge.awarded.v1", &other.base, FX_T0, NULL), 0);
    cr_assert_eq(fx_event_at("crm.contacts.customer.erased.v1", &other.base, FX_T0, NULL), 0);
}

/* Summary through the request, with a segment, and customer scores with as_of. */
Test(analytics_handlers, summary_and_customer_scores)
{
    char a[CRM_ID_SIZE];
    fx_customer(a);
    cr_assert_eq(fx_created(a, fx_date("2025-01-01"), CRM__V1__NEED_TYPE__NEED_TYPE_SERVICE_SEEKING, "ann"), 0);
    cr_assert_eq(fx_purchase(a, "p1", 2500, "CNY", fx_date("2025-01-10")), 0);
    cr_assert_eq(fx_answer(a, "n1", CRM__V1__SURVEY_KIND__SURVEY_KIND_NPS, 9, fx_date("2025-01-11")), 0);
    Crm__V1__SummaryRequest req = CRM__V1__SUMMARY_REQUEST__INIT;
    req.from = "2025-01-01";
    req.to = "2025-01-31";
    req.need_type = CRM__V1__NEED_TYPE__NEED_TYPE_SERVICE_SEEKING;
    Crm__V1__SummaryReply *rep = NULL;
    cr_assert_eq(fx_call("analytics.GetSummary", "analyst", &req.base, &crm__v1__summary_reply__descriptor,
                         (ProtobufCMessage **) &rep, NULL), CRM_RPC_OK);
    cr_assert_str_eq(rep->summary->segment, "needType:service_seeking");
    cr_assert_eq(rep->summary->nps_promoters, 1);
    cr_assert_eq(rep->summary->orders, 1);
    cr_assert_str_eq(rep->summary->currency, "CNY");
    crm_codec_message_free((ProtobufCMessage **) &rep);
    req.need_type = CRM__V1__NEED_TYPE__NEED_TYPE_PRICE_SENSITIVE;
    cr_assert_eq(fx_call("analytics.GetSummary", "analyst", &req.base, &crm__v1__summary_reply__descriptor,
                         (ProtobufCMessage **) &rep, NULL), CRM_RPC_OK);
    cr_assert_eq(rep->summary->orders, 0);
    crm_codec_message_free((ProtobufCMessage **) &rep);
    Crm__V1__Timestamp as_of;
    Crm__V1__CustomerScoresRequest cs = CRM__V1__CUSTOMER_SCORES_REQUEST__INIT;
    cs.customer_id = a;
    cs.as_of = analytics_ts_set(&as_of, fx_date("2025-01-20"));
    Crm__V1__CustomerScoresReply *scores = NULL;
    cr_assert_eq(fx_call("analytics.GetCustomerScores", "analyst", &cs.base, &crm__v1__customer_scores_reply__descriptor,
                         (ProtobufCMessage **) &scores, NULL), CRM_RPC_OK);
    cr_assert_eq(scores->scores->purchases, 1);
    cr_assert(scores->scores->active);
    cr_assert_eq(scores->scores->net_spend_minor, 2500);
    cr_assert_eq(scores->scores->churn_score, 0);
    cr_assert_str_eq(scores->scores->owner, "ann");
    cr_assert_eq(scores->scores->answers, 1);
    crm_codec_message_free((ProtobufCMessage **) &scores);
    /* Half a year later: silent (all 25 points), not active any more. */
    cs.as_of = analytics_ts_set(&as_of, fx_date("2025-07-20"));
    cr_assert_eq(fx_call("analytics.GetCustomerScores", "analyst", &cs.base, &crm__v1__customer_scores_reply__descriptor,
                         (ProtobufCMessage **) &scores, NULL), CRM_RPC_OK);
    cr_assert(!scores->scores->active);
    cr_assert_eq(scores->scores->churn_score, 25);
    cr_assert_str_eq(scores->scores->reasons[0]->code, "silent");
    crm_codec_message_free((ProtobufCMessage **) &scores);
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

/* Seven customers at risk (each 55: interval 30 and silence 25), paged three by three in id order. */
Test(analytics_handlers, the_at_risk_list_pages_by_score)
{
    char ids[7][CRM_ID_SIZE];
    int64_t t = fx_date("2025-06-30");
    for (int i = 0; i < 7; i++) {
        fx_customer(ids[i]);
        for (int k = 0; k < 3; k++) {
            char pid[16];
            snprintf(pid, sizeof pid, "p%d-%d", i, k);
            cr_assert_eq(fx_purchase(ids[i], pid, 1000, "CNY", t - (200 + 10 * k + i) * FX_DAY), 0);
        }
        s_eval_t e = { ids[i], t };
        cr_assert_eq(analytics_write(fx.an, s_eval_body, &e), 0);
    }
    Crm__V1__ListAtRiskRequest req = CRM__V1__LIST_AT_RISK_REQUEST__INIT;
    req.page_size = 3;
    size_t seen = 0;
    uint32_t last_score = 101;
    char token[64] = "";
    for (int page = 0; page < 5; page++) {
        req.page_token = token;
        Crm__V1__ListAtRiskReply *rep = NULL;
        cr_assert_eq(fx_call("analytics.ListAtRisk", "analyst", &req.base, &crm__v1__list_at_risk_reply__descriptor,
                             (ProtobufCMessage **) &rep, NULL), CRM_RPC_OK);
        for (size_t i = 0; i < rep->n_customers; i++) {
            cr_assert_leq(rep->customers[i]->score, last_score);
            last_score = rep->customers[i]->score;
            cr_assert_geq(rep->customers[i]->score, 50);
            seen++;
        }
        snprintf(token, sizeof token, "%s", rep->next_page_token);
        bool more = rep->next_page_token[0] != 0;
        crm_codec_message_free((ProtobufCMessage **) &rep);
        if (!more)
            break;
    }
    cr_assert_eq(seen, 7);
    req.page_token = "";
    req.min_score = 100;
    Crm__V1__ListAtRiskReply *rep = NULL;
    cr_assert_eq(fx_call("analytics.ListAtRisk", "analyst", &req.base, &crm__v1__list_at_risk_reply__descriptor,
                         (ProtobufCMessage **) &rep, NULL), CRM_RPC_OK);
    cr_assert_eq(rep->n_customers, 0);
    crm_codec_message_free((ProtobufCMessage **) &rep);
}

static int s_cursor_body(crm_txn_t *txn, void *arg)
{
    unsigned char seq[8];
    crm_bus_seq_encode(42, seq);
    return crm_store_put(txn, fx.an->cursors, "contacts", strlen("contacts"), seq, sizeof seq, 0);
}

/* A rebuild request stands until the next start, which clears the figures and facts and the
 * publishers' cursors, keeps what was published, and raises the generation. */
Test(analytics_handlers, rebuild_request_and_reset)
{
    char a[CRM_ID_SIZE];
    fx_customer(a);
    cr_assert_eq(fx_purchase(a, "p1", 2500, "CNY", fx_date("2025-01-10")), 0);
    s_eval_t e = { a, fx_date("2025-09-30") };
    cr_assert_eq(analytics_write(fx.an, s_eval_body, &e), 0);
    /* A cursor as a subscriber would have written it. */
    cr_assert_eq(analytics_write(fx.an, s_cursor_body, NULL), 0);
    Crm__V1__RebuildRequest rb = CRM__V1__REBUILD_REQUEST__INIT;
    Crm__V1__RebuildReply *reply = NULL;
    cr_assert_eq(fx_call("analytics.Rebuild", "admin", &rb.base, &crm__v1__rebuild_reply__descriptor,
                         (ProtobufCMessage **) &reply, NULL), CRM_RPC_OK);
    cr_assert_eq(reply->generation, 1);
    crm_codec_message_free((ProtobufCMessage **) &reply);
    Crm__V1__StatusRequest sr = CRM__V1__STATUS_REQUEST__INIT;
    Crm__V1__StatusReply *status = NULL;
    cr_assert_eq(fx_call("analytics.GetStatus", "analyst", &sr.base, &crm__v1__status_reply__descriptor,
                         (ProtobufCMessage **) &status, NULL), CRM_RPC_OK);
    cr_assert(status->rebuild_pending);
    cr_assert_eq(status->generation, 0);
    cr_assert_eq(status->customers, 1);
    cr_assert_eq(status->n_cursors, 3);
    cr_assert_str_eq(status->cursors[0]->publisher, "contacts");
    cr_assert_eq(status->cursors[0]->sequence, 42);
    crm_codec_message_free((ProtobufCMessage **) &status);
    static const char *const names[3] = { "contacts", "loyalty", "feedback" };
    bool done = false;
    cr_assert_eq(analytics_rebuild_reset(fx.an, false, names, 3, &done), 0);
    cr_assert(done);
    cr_assert_eq(fx_call("analytics.GetStatus", "analyst", &sr.base, &crm__v1__status_reply__descriptor,
                         (ProtobufCMessage **) &status, NULL), CRM_RPC_OK);
    cr_assert(!status->rebuild_pending);
    cr_assert_eq(status->generation, 1);
    cr_assert_eq(status->customers, 0);
    cr_assert_eq(status->cursors[0]->sequence, 0, "contacts is read again from sequence 0");
    crm_codec_message_free((ProtobufCMessage **) &status);
    char *dump = fx_dump();
    cr_assert_str_eq(dump, "", "figures and facts cleared");
    free(dump);
    /* What was published stays: the state with its score. */
    Crm__V1__CustomerState *st = NULL;
    crm_txn_t *txn = NULL;
    cr_assert_eq(crm_store_read_begin(fx.store, &txn), 0);
    cr_assert_eq(analytics_state_get(fx.an, txn, a, &st), 0);
    crm_store_txn_end(&txn);
    cr_assert_gt(st->score, 0);
    crm_codec_message_free((ProtobufCMessage **) &st);
    /* Without a request nothing happens; forced, it happens again. */
    cr_assert_eq(analytics_rebuild_reset(fx.an, false, names, 3, &done), 0);
    cr_assert(!done);
    cr_assert_eq(analytics_rebuild_reset(fx.an, true, names, 3, &done), 0);
    cr_assert(done);
}
