/* analytics_dataset.h: THE fixed data set of the analytics tests: twelve customers over eighteen months (2024-01 .. 2025-06) with orders, refunds, answers, complaints, points and tiers, as events of contacts, loyalty and feedback. The figures it makes are worked out by hand in test_analytics_dataset.c. */
#ifndef ANALYTICS_DATASET_H
#define ANALYTICS_DATASET_H

#include "crm/v1/contacts.pb-c.h"
#include "crm/v1/feedback.pb-c.h"
#include "crm/v1/loyalty.pb-c.h"
#include "analytics_publishers.h"

/* Customer "C01" is 01JDATASET0000000000000C01, and so on. */
#define DS_ID_PREFIX "01JDATASET0000000000000"
#define DS_CUSTOMERS 12

static char ds_ids[DS_CUSTOMERS + 1][CRM_ID_SIZE];

/* The full id of "Cnn" (borrowed, static). */
static inline const char *ds_id(const char *short_id)
{
    int n = atoi(short_id + 1);
    cr_assert(n >= 1 && n <= DS_CUSTOMERS, "%s", short_id);
    snprintf(ds_ids[n], CRM_ID_SIZE, "%sC%02d", DS_ID_PREFIX, n);
    cr_assert(crm_id_valid(ds_ids[n]), "%s", ds_ids[n]);
    return ds_ids[n];
}

static inline int64_t ds_time(const char *rfc3339)
{
    int64_t us = 0;
    cr_assert_eq(crm_time_parse_us(rfc3339, &us), 0, "%s", rfc3339);
    return us;
}

static inline Crm__V1__Timestamp *ds_ts(Crm__V1__Timestamp *ts, int64_t us)
{
    crm__v1__timestamp__init(ts);
    ts->seconds = us / 1000000;
    ts->nanos = (int32_t) (us % 1000000) * 1000;
    return ts;
}

/* --- contacts */

static inline void ds_customer(ap_batch_t *b, const char *c, const char *created, const char *owner,
                               Crm__V1__NeedType need)
{
    Crm__V1__Timestamp ts;
    Crm__V1__Customer cust = CRM__V1__CUSTOMER__INIT;
    cust.id = (char *) ds_id(c);
    cust.name = (char *) c;
    cust.owner = (char *) owner;
    cust.need_type = need;
    cust.lifecycle_stage = CRM__V1__LIFECYCLE_STAGE__LIFECYCLE_STAGE_PROSPECT;
    cust.created_at = ds_ts(&ts, ds_time(created));
    Crm__V1__CustomerCreated m = CRM__V1__CUSTOMER_CREATED__INIT;
    m.customer = &cust;
    ap_add(b, "crm.contacts.customer.created.v1", ds_id(c), ds_time(created), &m.base);
}

static inline void ds_owner(ap_batch_t *b, const char *c, const char *created, const char *owner,
                            Crm__V1__NeedType need, const char *at)
{
    Crm__V1__Timestamp ts;
    Crm__V1__Customer cust = CRM__V1__CUSTOMER__INIT;
    cust.id = (char *) ds_id(c);
    cust.name = (char *) c;
    cust.owner = (char *) owner;
    cust.need_type = need;
    cust.created_at = ds_ts(&ts, ds_time(created));
    char *changed[] = { "owner" };
    Crm__V1__CustomerUpdated m = CRM__V1__CUSTOMER_UPDATED__INIT;
    m.customer = &cust;
    m.n_changed_fields = 1;
    m.changed_fields = changed;
    ap_add(b, "crm.contacts.customer.updated.v1", ds_id(c), ds_time(at), &m.base);
}

static inline void ds_purchase(ap_batch_t *b, const char *c, const char *id, const char *at, int64_t amount,
                               const char *currency)
{
    Crm__V1__Timestamp ts;
    Crm__V1__Purchase p = CRM__V1__PURCHASE__INIT;
    p.id = (char *) id;
    p.customer_id = (char *) ds_id(c);
    p.order_id = (char *) id;
    p.amount_minor = amount;
    p.currency = (char *) currency;
    p.purchased_at = ds_ts(&ts, ds_time(at));
    Crm__V1__PurchaseRecorded m = CRM__V1__PURCHASE_RECORDED__INIT;
    m.purchase = &p;
    ap_add(b, "crm.contacts.purchase.recorded.v1", ds_id(c), ds_time(at), &m.base);
}

static inline void ds_refund(ap_batch_t *b, const char *c, const char *id, const char *bought, int64_t amount,
                             const char *refund_id, int64_t refund, int64_t refunded_total, const char *at)
{
    Crm__V1__Timestamp ts, rts;
    Crm__V1__Purchase p = CRM__V1__PURCHASE__INIT;
    p.id = (char *) id;
    p.customer_id = (char *) ds_id(c);
    p.order_id = (char *) id;
    p.amount_minor = amount;
    p.currency = "CNY";
    p.purchased_at = ds_ts(&ts, ds_time(bought));
    p.refunded_minor = refunded_total;
    Crm__V1__Refund r = CRM__V1__REFUND__INIT;
    r.id = (char *) refund_id;
    r.amount_minor = refund;
    r.refunded_at = ds_ts(&rts, ds_time(at));
    Crm__V1__PurchaseRefunded m = CRM__V1__PURCHASE_REFUNDED__INIT;
    m.purchase = &p;
    m.refund = &r;
    ap_add(b, "crm.contacts.purchase.refunded.v1", ds_id(c), ds_time(at), &m.base);
}

static inline void ds_interaction(ap_batch_t *b, const char *c, const char *id, const char *at)
{
    Crm__V1__Timestamp ts;
    Crm__V1__Interaction i = CRM__V1__INTERACTION__INIT;
    i.id = (char *) id;
    i.customer_id = (char *) ds_id(c);
    i.channel = CRM__V1__CHANNEL__CHANNEL_PHONE;
    i.occurred_at = ds_ts(&ts, ds_time(at));
    Crm__V1__InteractionLogged m = CRM__V1__INTERACTION_LOGGED__INIT;
    m.interaction = &i;
    ap_add(b, "crm.contacts.interaction.logged.v1", ds_id(c), ds_time(at), &m.base);
}

#define Q CRM__V1__NEED_TYPE__NEED_TYPE_QUALITY_SEEKING
#define PS CRM__V1__NEED_TYPE__NEED_TYPE_PRICE_SENSITIVE
#define NONE CRM__V1__NEED_TYPE__NEED_TYPE_UNSPECIFIED

/* Customers (created 09:00; orders at 12:00 UTC). C07 and C11 never buy. */
static inline void ds_contacts(ap_batch_t *b)
{
    ds_customer(b, "C01", "2024-01-05T09:00:00Z", "ann", Q);
    ds_customer(b, "C02", "2024-02-01T09:00:00Z", "ann", PS);
    ds_customer(b, "C03", "2024-03-15T09:00:00Z", "bob", Q);
    ds_customer(b, "C08", "2024-05-01T09:00:00Z", "bob", Q);
    ds_customer(b, "C04", "2024-06-01T09:00:00Z", "bob", PS);
    ds_customer(b, "C10", "2024-07-01T09:00:00Z", "bob", Q);
    ds_customer(b, "C09", "2024-09-01T09:00:00Z", "bob", NONE);
    ds_customer(b, "C11", "2024-11-01T09:00:00Z", "", PS);
    ds_customer(b, "C05", "2024-12-01T09:00:00Z", "ann", Q);
    ds_customer(b, "C06", "2025-01-15T09:00:00Z", "bob", PS);
    ds_customer(b, "C07", "2025-02-10T09:00:00Z", "ann", PS);
    ds_customer(b, "C12", "2025-03-01T09:00:00Z", "ann", Q);
    ds_purchase(b, "C01", "P0101", "2024-01-10T12:00:00Z", 10000, "CNY");
    ds_purchase(b, "C02", "P0201", "2024-02-10T12:00:00Z", 5000, "CNY");
    ds_purchase(b, "C01", "P0102", "2024-03-01T12:00:00Z", 20000, "CNY");
    ds_purchase(b, "C03", "P0301", "2024-04-01T12:00:00Z", 40000, "CNY");
    ds_purchase(b, "C08", "P0801", "2024-05-05T12:00:00Z", 5000, "USD");
    ds_purchase(b, "C01", "P0103", "2024-05-20T12:00:00Z", 15000, "CNY");
    ds_purchase(b, "C04", "P0401", "2024-06-10T12:00:00Z", 3000, "CNY");
    ds_purchase(b, "C10", "P1001", "2024-07-05T12:00:00Z", 2000, "CNY");
    ds_purchase(b, "C04", "P0402", "2024-08-15T12:00:00Z", 3500, "CNY");
    ds_purchase(b, "C09", "P0901", "2024-09-10T12:00:00Z", 6000, "CNY");
    ds_purchase(b, "C04", "P0403", "2024-10-10T12:00:00Z", 4000, "CNY");
    ds_purchase(b, "C03", "P0302", "2024-10-20T12:00:00Z", 35000, "CNY");
    ds_purchase(b, "C01", "P0104", "2024-11-15T12:00:00Z", 30000, "CNY");
    ds_purchase(b, "C09", "P0902", "2024-11-25T12:00:00Z", 6000, "CNY");
    ds_purchase(b, "C04", "P0404", "2024-12-05T12:00:00Z", 2500, "CNY");
    ds_purchase(b, "C02", "P0202", "2024-12-20T12:00:00Z", 8000, "CNY");
    ds_refund(b, "C02", "P0202", "2024-12-20T12:00:00Z", 8000, "R0201", 8000, 8000, "2024-12-28T12:00:00Z");
    ds_purchase(b, "C08", "P0802", "2024-12-30T12:00:00Z", 11000, "CNY");
    ds_purchase(b, "C03", "P0303", "2025-01-05T12:00:00Z", 45000, "CNY");
    ds_purchase(b, "C01", "P0105", "2025-01-20T12:00:00Z", 25000, "CNY");
    ds_owner(b, "C09", "2024-09-01T09:00:00Z", "ann", NONE, "2025-02-01T09:00:00Z");
    ds_purchase(b, "C05", "P0501", "2025-02-01T12:00:00Z", 9000, "CNY");
    ds_purchase(b, "C02", "P0203", "2025-02-14T12:00:00Z", 12000, "CNY");
    ds_refund(b, "C02", "P0203", "2025-02-14T12:00:00Z", 12000, "R0202", 2000, 2000, "2025-02-20T12:00:00Z");
    ds_purchase(b, "C12", "P1201", "2025-03-01T12:00:00Z", 5000, "CNY");
    ds_purchase(b, "C01", "P0106", "2025-03-10T12:00:00Z", 20000, "CNY");
    ds_purchase(b, "C05", "P0502", "2025-03-15T12:00:00Z", 6000, "CNY");
    ds_purchase(b, "C06", "P0601", "2025-03-20T12:00:00Z", 7000, "CNY");
    ds_purchase(b, "C08", "P0803", "2025-03-25T12:00:00Z", 13000, "CNY");
    ds_refund(b, "C03", "P0303", "2025-01-05T12:00:00Z", 45000, "R0301", 5000, 5000, "2025-04-10T12:00:00Z");
    ds_purchase(b, "C09", "P0903", "2025-04-15T12:00:00Z", 8000, "CNY");
    ds_interaction(b, "C01", "I0101", "2025-04-18T12:00:00Z");
    ds_purchase(b, "C01", "P0107", "2025-05-05T12:00:00Z", 10000, "CNY");
    ap_flush(b);
}

/* --- loyalty */

static inline void ds_points(ap_batch_t *b, const char *c, Crm__V1__EntryKind kind, int64_t points, const char *at)
{
    static const char *const types[] = {
        [CRM__V1__ENTRY_KIND__ENTRY_KIND_EARN] = "crm.loyalty.points.earned.v1",
        [CRM__V1__ENTRY_KIND__ENTRY_KIND_REDEEM] = "crm.loyalty.points.redeemed.v1",
        [CRM__V1__ENTRY_KIND__ENTRY_KIND_REDEEM_CANCEL] = "crm.loyalty.points.restored.v1",
        [CRM__V1__ENTRY_KIND__ENTRY_KIND_EXPIRE] = "crm.loyalty.points.expired.v1",
        [CRM__V1__ENTRY_KIND__ENTRY_KIND_REVERSE] = "crm.loyalty.points.reversed.v1",
        [CRM__V1__ENTRY_KIND__ENTRY_KIND_ADJUST] = "crm.loyalty.points.adjusted.v1",
    };
    Crm__V1__Timestamp ts;
    Crm__V1__LedgerEntry e = CRM__V1__LEDGER_ENTRY__INIT;
    e.customer_id = (char *) ds_id(c);
    e.kind = kind;
    e.points = points;
    e.time = ds_ts(&ts, ds_time(at));
    Crm__V1__PointsChanged m = CRM__V1__POINTS_CHANGED__INIT;
    m.entry = &e;
    ap_add(b, types[kind], ds_id(c), ds_time(at), &m.base);
}

static inline void ds_tier(ap_batch_t *b, const char *c, const char *from, const char *to, const char *at)
{
    Crm__V1__TierChanged m = CRM__V1__TIER_CHANGED__INIT;
    m.customer_id = (char *) ds_id(c);
    m.from_tier = (char *) from;
    m.to_tier = (char *) to;
    m.change = CRM__V1__TIER_CHANGE__TIER_CHANGE_UPGRADE;
    ap_add(b, "crm.loyalty.tier.changed.v1", ds_id(c), ds_time(at), &m.base);
}

#define EARN CRM__V1__ENTRY_KIND__ENTRY_KIND_EARN
#define REDEEM CRM__V1__ENTRY_KIND__ENTRY_KIND_REDEEM
#define RESTORE CRM__V1__ENTRY_KIND__ENTRY_KIND_REDEEM_CANCEL
#define EXPIRE CRM__V1__ENTRY_KIND__ENTRY_KIND_EXPIRE
#define REVERSE CRM__V1__ENTRY_KIND__ENTRY_KIND_REVERSE
#define ADJUST CRM__V1__ENTRY_KIND__ENTRY_KIND_ADJUST

static inline void ds_loyalty(ap_batch_t *b)
{
    ds_points(b, "C01", EARN, 100, "2024-01-10T12:00:00Z");
    ds_points(b, "C02", EARN, 50, "2024-02-10T12:00:00Z");
    ds_points(b, "C01", EARN, 200, "2024-03-01T12:00:00Z");
    ds_tier(b, "C01", "bronze", "silver", "2024-03-01T12:00:01Z");
    ds_points(b, "C03", EARN, 400, "2024-04-01T12:00:00Z");
    ds_tier(b, "C03", "bronze", "silver", "2024-04-01T12:00:01Z");
    ds_points(b, "C01", EARN, 150, "2024-05-20T12:00:00Z");
    ds_points(b, "C01", REDEEM, -300, "2024-06-01T12:00:00Z");
    ds_points(b, "C04", EARN, 30, "2024-06-10T12:00:00Z");
    ds_points(b, "C04", EARN, 35, "2024-08-15T12:00:00Z");
    ds_points(b, "C09", EARN, 60, "2024-09-10T12:00:00Z");
    ds_points(b, "C04", EARN, 40, "2024-10-10T12:00:00Z");
    ds_points(b, "C03", EARN, 350, "2024-10-20T12:00:00Z");
    ds_points(b, "C01", EARN, 300, "2024-11-15T12:00:00Z");
    ds_tier(b, "C01", "silver", "gold", "2024-11-15T12:00:01Z");
    ds_points(b, "C09", EARN, 60, "2024-11-25T12:00:00Z");
    ds_points(b, "C03", REDEEM, -500, "2024-12-01T12:00:00Z");
    ds_points(b, "C04", EARN, 25, "2024-12-05T12:00:00Z");
    ds_points(b, "C08", EARN, 110, "2024-12-30T12:00:00Z");
    ds_tier(b, "C08", "bronze", "silver", "2024-12-30T12:00:01Z");
    ds_points(b, "C03", EARN, 450, "2025-01-05T12:00:00Z");
    ds_tier(b, "C03", "silver", "gold", "2025-01-05T12:00:01Z");
    ds_points(b, "C09", ADJUST, 15, "2025-01-15T12:00:00Z");
    ds_points(b, "C01", EARN, 250, "2025-01-20T12:00:00Z");
    ds_points(b, "C01", REDEEM, -400, "2025-02-01T12:00:00Z");
    ds_points(b, "C05", EARN, 90, "2025-02-01T12:00:00Z");
    ds_points(b, "C02", EXPIRE, -50, "2025-02-10T12:00:00Z");
    ds_points(b, "C02", EARN, 100, "2025-02-14T12:00:00Z");
    ds_points(b, "C02", REVERSE, -20, "2025-02-20T12:00:00Z");
    ds_points(b, "C03", REDEEM, -200, "2025-03-01T12:00:00Z");
    ds_points(b, "C03", RESTORE, 200, "2025-03-02T12:00:00Z");
    ds_points(b, "C04", EXPIRE, -30, "2025-03-05T12:00:00Z");
    ds_points(b, "C01", EARN, 200, "2025-03-10T12:00:00Z");
    ds_points(b, "C05", EARN, 60, "2025-03-15T12:00:00Z");
    ds_points(b, "C08", EARN, 130, "2025-03-25T12:00:00Z");
    ds_points(b, "C09", EARN, 80, "2025-04-15T12:00:00Z");
    ds_points(b, "C01", EARN, 100, "2025-05-05T12:00:00Z");
    ap_flush(b);
}

/* --- feedback */

static inline void ds_answer(ap_batch_t *b, const char *c, const char *id, Crm__V1__SurveyKind kind, int score,
                             const char *at)
{
    Crm__V1__Timestamp ts;
    Crm__V1__Answer a = CRM__V1__ANSWER__INIT;
    a.id = (char *) id;
    a.customer_id = (char *) ds_id(c);
    a.survey_kind = kind;
    a.score = score;
    a.answered_at = ds_ts(&ts, ds_time(at));
    Crm__V1__AnswerReceived m = CRM__V1__ANSWER_RECEIVED__INIT;
    m.answer = &a;
    ap_add(b, "crm.feedback.answer.received.v1", ds_id(c), ds_time(at), &m.base);
}

/* One version of a complaint; times NULL when unset. */
static inline void ds_complaint(ap_batch_t *b, const char *type, const char *c, const char *id, uint64_t version,
                                Crm__V1__ComplaintStatus status, const char *created, const char *first_response,
                                int64_t frs, const char *resolved, int64_t rs, bool first_contact, bool breached,
                                uint32_t reopens, const char *at)
{
    Crm__V1__Timestamp t1, t2, t3;
    Crm__V1__Complaint k = CRM__V1__COMPLAINT__INIT;
    k.id = (char *) id;
    k.customer_id = (char *) ds_id(c);
    k.status = status;
    k.version = version;
    k.created_at = ds_ts(&t1, ds_time(created));
    k.first_response_at = first_response ? ds_ts(&t2, ds_time(first_response)) : NULL;
    k.first_response_seconds = frs;
    k.resolved_at = resolved ? ds_ts(&t3, ds_time(resolved)) : NULL;
    k.resolution_seconds = rs;
    k.resolved_at_first_contact = first_contact;
    k.first_response_breached = breached;
    k.reopen_count = reopens;
    if (strcmp(type, "crm.feedback.complaint.sla_breached.v1") == 0) {
        Crm__V1__SlaBreached m = CRM__V1__SLA_BREACHED__INIT;
        m.complaint = &k;
        m.clock = CRM__V1__SLA_CLOCK__SLA_CLOCK_FIRST_RESPONSE;
        ap_add(b, type, ds_id(c), ds_time(at), &m.base);
        return;
    }
    Crm__V1__ComplaintChanged m = CRM__V1__COMPLAINT_CHANGED__INIT;
    m.complaint = &k;
    ap_add(b, type, ds_id(c), ds_time(at), &m.base);
}

#define NPS CRM__V1__SURVEY_KIND__SURVEY_KIND_NPS
#define CSAT CRM__V1__SURVEY_KIND__SURVEY_KIND_CSAT
#define CES CRM__V1__SURVEY_KIND__SURVEY_KIND_CES
#define K_OPEN CRM__V1__COMPLAINT_STATUS__COMPLAINT_STATUS_OPEN
#define K_PROGRESS CRM__V1__COMPLAINT_STATUS__COMPLAINT_STATUS_IN_PROGRESS
#define K_RESOLVED CRM__V1__COMPLAINT_STATUS__COMPLAINT_STATUS_RESOLVED
#define K_CLOSED CRM__V1__COMPLAINT_STATUS__COMPLAINT_STATUS_CLOSED
#define K_ "crm.feedback.complaint."

static inline void ds_feedback(ap_batch_t *b)
{
    ds_answer(b, "C03", "A14", CSAT, 4, "2024-10-25T12:00:00Z");
    ds_answer(b, "C04", "A08", NPS, 2, "2024-11-01T12:00:00Z");
    ds_answer(b, "C01", "A07", NPS, 9, "2024-12-10T12:00:00Z");
    ds_answer(b, "C02", "A10", CSAT, 5, "2025-01-10T12:00:00Z");
    ds_answer(b, "C01", "A15", CES, 6, "2025-01-21T12:00:00Z");
    ds_answer(b, "C01", "A01", NPS, 10, "2025-01-25T12:00:00Z");
    ds_answer(b, "C09", "A13", CSAT, 3, "2025-01-30T12:00:00Z");
    ds_answer(b, "C04", "A11", CSAT, 2, "2025-02-01T12:00:00Z");
    ds_answer(b, "C05", "A16", CES, 7, "2025-02-02T12:00:00Z");
    ds_answer(b, "C02", "A02", NPS, 6, "2025-02-15T12:00:00Z");
    ds_answer(b, "C05", "A04", NPS, 8, "2025-02-20T12:00:00Z");
    ds_answer(b, "C12", "A06", NPS, 10, "2025-03-02T12:00:00Z");
    ds_answer(b, "C03", "A03", NPS, 9, "2025-03-05T12:00:00Z");
    ds_answer(b, "C06", "A12", CSAT, 4, "2025-03-21T12:00:00Z");
    ds_answer(b, "C08", "A05", NPS, 3, "2025-03-26T12:00:00Z");
    ds_answer(b, "C08", "A17", CES, 2, "2025-03-27T12:00:00Z");
    ds_answer(b, "C09", "A09", NPS, 7, "2025-04-20T10:00:00Z");
    ds_answer(b, "C03", "A18", CES, 5, "2025-05-01T12:00:00Z");
    /* K4 (C09): opened 2024-12-28 10:00, first response breached, answered 2025-01-02 10:00 (5 days),
     * resolved 2025-01-05 10:00 (8 days), closed. */
    ds_complaint(b, K_ "opened.v1", "C09", "K4", 1, K_OPEN, "2024-12-28T10:00:00Z", NULL, 0, NULL, 0, false, false,
                 0, "2024-12-28T10:00:00Z");
    ds_complaint(b, K_ "sla_breached.v1", "C09", "K4", 2, K_OPEN, "2024-12-28T10:00:00Z", NULL, 0, NULL, 0, false,
                 true, 0, "2024-12-29T10:00:00Z");
    ds_complaint(b, K_ "responded.v1", "C09", "K4", 3, K_PROGRESS, "2024-12-28T10:00:00Z", "2025-01-02T10:00:00Z",
                 432000, NULL, 0, false, true, 0, "2025-01-02T10:00:00Z");
    ds_complaint(b, K_ "resolved.v1", "C09", "K4", 4, K_RESOLVED, "2024-12-28T10:00:00Z", "2025-01-02T10:00:00Z",
                 432000, "2025-01-05T10:00:00Z", 691200, false, true, 0, "2025-01-05T10:00:00Z");
    ds_complaint(b, K_ "closed.v1", "C09", "K4", 5, K_CLOSED, "2024-12-28T10:00:00Z", "2025-01-02T10:00:00Z",
                 432000, "2025-01-05T10:00:00Z", 691200, false, true, 0, "2025-01-12T10:00:00Z");
    /* K1 (C02): opened 2025-01-12 09:00, answered in 2 h, resolved the next day at first contact, closed. */
    ds_complaint(b, K_ "opened.v1", "C02", "K1", 1, K_OPEN, "2025-01-12T09:00:00Z", NULL, 0, NULL, 0, false, false,
                 0, "2025-01-12T09:00:00Z");
    ds_complaint(b, K_ "responded.v1", "C02", "K1", 2, K_PROGRESS, "2025-01-12T09:00:00Z", "2025-01-12T11:00:00Z",
                 7200, NULL, 0, false, false, 0, "2025-01-12T11:00:00Z");
    ds_complaint(b, K_ "resolved.v1", "C02", "K1", 3, K_RESOLVED, "2025-01-12T09:00:00Z", "2025-01-12T11:00:00Z",
                 7200, "2025-01-13T09:00:00Z", 86400, true, false, 0, "2025-01-13T09:00:00Z");
    ds_complaint(b, K_ "closed.v1", "C02", "K1", 4, K_CLOSED, "2025-01-12T09:00:00Z", "2025-01-12T11:00:00Z",
                 7200, "2025-01-13T09:00:00Z", 86400, true, false, 0, "2025-01-20T09:00:00Z");
    /* K2 (C04): opened 2025-02-03 10:00, first response breached, answered after 30 h, resolved after 4
     * days, reopened, resolved again 2025-02-12 10:00 (9 days from opening). */
    ds_complaint(b, K_ "opened.v1", "C04", "K2", 1, K_OPEN, "2025-02-03T10:00:00Z", NULL, 0, NULL, 0, false, false,
                 0, "2025-02-03T10:00:00Z");
    ds_complaint(b, K_ "sla_breached.v1", "C04", "K2", 2, K_OPEN, "2025-02-03T10:00:00Z", NULL, 0, NULL, 0, false,
                 true, 0, "2025-02-04T10:00:00Z");
    ds_complaint(b, K_ "responded.v1", "C04", "K2", 3, K_PROGRESS, "2025-02-03T10:00:00Z", "2025-02-04T16:00:00Z",
                 108000, NULL, 0, false, true, 0, "2025-02-04T16:00:00Z");
    ds_complaint(b, K_ "resolved.v1", "C04", "K2", 4, K_RESOLVED, "2025-02-03T10:00:00Z", "2025-02-04T16:00:00Z",
                 108000, "2025-02-07T10:00:00Z", 345600, false, true, 0, "2025-02-07T10:00:00Z");
    ds_complaint(b, K_ "reopened.v1", "C04", "K2", 5, K_OPEN, "2025-02-03T10:00:00Z", "2025-02-04T16:00:00Z",
                 108000, "2025-02-07T10:00:00Z", 345600, false, true, 1, "2025-02-09T10:00:00Z");
    ds_complaint(b, K_ "resolved.v1", "C04", "K2", 6, K_RESOLVED, "2025-02-03T10:00:00Z", "2025-02-04T16:00:00Z",
                 108000, "2025-02-12T10:00:00Z", 777600, false, true, 1, "2025-02-12T10:00:00Z");
    /* K3 (C08): opened 2025-03-26 08:00, answered in 2 h, in progress. K5 (C01): opened 2025-03-30. */
    ds_complaint(b, K_ "opened.v1", "C08", "K3", 1, K_OPEN, "2025-03-26T08:00:00Z", NULL, 0, NULL, 0, false, false,
                 0, "2025-03-26T08:00:00Z");
    ds_complaint(b, K_ "responded.v1", "C08", "K3", 2, K_PROGRESS, "2025-03-26T08:00:00Z", "2025-03-26T10:00:00Z",
                 7200, NULL, 0, false, false, 0, "2025-03-26T10:00:00Z");
    ds_complaint(b, K_ "opened.v1", "C01", "K5", 1, K_OPEN, "2025-03-30T12:00:00Z", NULL, 0, NULL, 0, false, false,
                 0, "2025-03-30T12:00:00Z");
    ap_flush(b);
}

#undef Q
#undef PS
#undef NONE

#endif
