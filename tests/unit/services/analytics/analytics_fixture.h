/* analytics_fixture.h: the analytics tests' fixture: a temporary store with outbox, an analytics state on a fake clock, the events of contacts, loyalty and feedback, requests, and the stored figures. */
#ifndef ANALYTICS_FIXTURE_H
#define ANALYTICS_FIXTURE_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crm/v1/analytics.pb-c.h"
#include "crm/v1/analytics_api.pb-c.h"
#include "crm/v1/contacts.pb-c.h"
#include "crm/v1/envelope.pb-c.h"
#include "crm/v1/feedback.pb-c.h"
#include "crm/v1/loyalty.pb-c.h"
#include "crm_codec.h"
#include "crm_error.h"
#include "crm_event.h"
#include "crm_id.h"
#include "crm_outbox.h"
#include "crm_store.h"
#include "crm_test.h"
#include "crm_time.h"
#include "analytics_ctx.h"
#include "analytics_figures.h"
#include "analytics_fold.h"
#include "analytics_handlers.h"
#include "analytics_record.h"
#include "analytics_rfm.h"
#include "analytics_risk.h"

#define FX_DAY ANALYTICS_US_PER_DAY
#define FX_HOUR (INT64_C(3600) * 1000000)
/* 2025-06-30T12:00:00Z: the fake clock's start. */
#define FX_T0 (INT64_C(1751284800) * 1000000)

typedef struct {
    char dir[CRM_TEST_PATH_MAX];
    crm_store_t *store;
    crm_outbox_t *outbox;
    crm_id_gen_t *ids;
    analytics_t *an;
    analytics_settings_t settings;
    int64_t now;              /* the fake clock */
    uint64_t seq;             /* sequence of the events made */
    uint64_t fixed_seq;       /* when not 0: the sequence of the next event (a replayed event keeps its own) */
} fx_t;

static fx_t fx;

static inline int64_t fx_clock(void *arg)
{
    return ((fx_t *) arg)->now;
}

static inline void fx_start(void)
{
    crm_store_options_t opts = { .no_sync = true };
    cr_assert_eq(crm_store_open(fx.dir, &opts, &fx.store), 0);
    cr_assert_eq(crm_outbox_new(fx.store, &fx.outbox), 0);
    analytics_options_t ao = {
        .store = fx.store, .outbox = fx.outbox, .ids = fx.ids, .source = "/crm/analytics",
        .settings = fx.settings, .clock = fx_clock, .clock_arg = &fx,
    };
    cr_assert_eq(analytics_new(&ao, &fx.an), 0);
}

static inline void fx_stop(void)
{
    analytics_destroy(&fx.an);
    crm_outbox_destroy(&fx.outbox);
    crm_store_destroy(&fx.store);
}

static inline void fx_restart(void)
{
    fx_stop();
    fx_start();
}

static inline void fx_setup(void)
{
    memset(&fx, 0, sizeof fx);
    crm_test_tmpdir(fx.dir);
    cr_assert_eq(crm_id_gen_new(&fx.ids), 0);
    analytics_settings_default(&fx.settings);
    fx.now = FX_T0;
    fx_start();
}

static inline void fx_teardown(void)
{
    fx_stop();
    crm_id_gen_destroy(&fx.ids);
    crm_test_rmtree(fx.dir);
    crm_test_check_leaks();
}

/* A new customer id. */
static inline void fx_customer(char out[CRM_ID_SIZE])
{
    cr_assert_eq(crm_id_next(fx.ids, out), 0);
}

/* The Unix microseconds of midday UTC on a date "YYYY-MM-DD". */
static inline int64_t fx_date(const char *date)
{
    int64_t day = 0;
    cr_assert_eq(analytics_date_parse(date, &day), 0, "%s", date);
    return day * FX_DAY + 12 * FX_HOUR;
}

/* --- Events */

typedef struct {
    const crm_bus_event_t *event;
    int (*apply)(crm_txn_t *, const crm_bus_event_t *, void *);
} fx_apply_t;

static inline int fx_apply_body(crm_txn_t *txn, void *arg)
{
    fx_apply_t *a = arg;
    return a->apply(txn, a->event, fx.an);
}

/* Applies an event of type with payload data, its envelope dated time_us, as the subscriber would.
 * Returns what the apply function returned (the transaction is aborted on an error). */
static inline int fx_event_at(const char *type, const ProtobufCMessage *data, int64_t time_us, const char *subject)
{
    uint8_t *payload = malloc(protobuf_c_message_get_packed_size(data) + 1);
    size_t payload_len = protobuf_c_message_pack(data, payload);
    char id[CRM_ID_SIZE];
    cr_assert_eq(crm_id_next(fx.ids, id), 0);
    Crm__V1__Timestamp time;
    Crm__V1__Event ev = CRM__V1__EVENT__INIT;
    ev.id = id;
    ev.source = "/crm/test";
    ev.spec_version = "1.0";
    ev.type = (char *) type;
    ev.time = analytics_ts_set(&time, time_us);
    ev.subject = (char *) (subject ? subject : "");
    ev.sequence = fx.fixed_seq ? fx.fixed_seq : ++fx.seq;
    fx.fixed_seq = 0;
    ev.data_content_type = "application/protobuf";
    ev.data.data = payload;
    ev.data.len = payload_len;
    ev.data_schema = (char *) data->descriptor->name;
    uint8_t *buf = malloc(crm__v1__event__get_packed_size(&ev) + 1);
    size_t len = crm__v1__event__pack(&ev, buf);
    crm_bus_event_t bus = {
        .topic = type, .topic_len = strlen(type), .seq = ev.sequence, .payload = buf, .payload_len = len,
    };
    fx_apply_t a = { &bus, NULL };
    if (strncmp(type, "crm.contacts.", 13) == 0)
        a.apply = analytics_on_contacts_event;
    else if (strncmp(type, "crm.loyalty.", 12) == 0)
        a.apply = analytics_on_loyalty_event;
    else
        a.apply = analytics_on_feedback_event;
    int rc = analytics_write(fx.an, fx_apply_body, &a);
    free(buf);
    free(payload);
    return rc;
}

static inline int fx_created(const char *customer, int64_t created_us, Crm__V1__NeedType need, const char *owner)
{
    Crm__V1__Timestamp created;
    Crm__V1__Customer c = CRM__V1__CUSTOMER__INIT;
    c.id = (char *) customer;
    c.name = "Test";
    c.need_type = need;
    c.owner = (char *) (owner ? owner : "");
    c.created_at = analytics_ts_set(&created, created_us);
    Crm__V1__CustomerCreated m = CRM__V1__CUSTOMER_CREATED__INIT;
    m.customer = &c;
    return fx_event_at("crm.contacts.customer.created.v1", &m.base, created_us, customer);
}

static inline int fx_updated(const char *customer, int64_t created_us, Crm__V1__NeedType need, const char *owner,
                             int64_t at_us)
{
    Crm__V1__Timestamp created;
    Crm__V1__Customer c = CRM__V1__CUSTOMER__INIT;
    c.id = (char *) customer;
    c.name = "Test";
    c.need_type = need;
    c.owner = (char *) (owner ? owner : "");
    c.created_at = analytics_ts_set(&created, created_us);
    Crm__V1__CustomerUpdated m = CRM__V1__CUSTOMER_UPDATED__INIT;
    m.customer = &c;
    return fx_event_at("crm.contacts.customer.updated.v1", &m.base, at_us, customer);
}

/* A purchase recorded by contacts (refunded_total already refunded). */
static inline int fx_purchase(const char *customer, const char *id, int64_t amount, const char *currency, int64_t at_us)
{
    Crm__V1__Timestamp at;
    Crm__V1__Purchase p = CRM__V1__PURCHASE__INIT;
    p.id = (char *) id;
    p.customer_id = (char *) customer;
    p.order_id = (char *) id;
    p.amount_minor = amount;
    p.currency = (char *) currency;
    p.purchased_at = analytics_ts_set(&at, at_us);
    Crm__V1__PurchaseRecorded m = CRM__V1__PURCHASE_RECORDED__INIT;
    m.purchase = &p;
    return fx_event_at("crm.contacts.purchase.recorded.v1", &m.base, at_us, customer);
}

/* A refund of refund_amount at refund_us, bringing the purchase's refunds to refunded_total. */
static inline int fx_refund(const char *customer, const char *id, int64_t amount, int64_t purchased_us,
                            const char *refund_id, int64_t refund_amount, int64_t refunded_total, int64_t refund_us)
{
    Crm__V1__Timestamp at, rt;
    Crm__V1__Purchase p = CRM__V1__PURCHASE__INIT;
    p.id = (char *) id;
    p.customer_id = (char *) customer;
    p.order_id = (char *) id;
    p.amount_minor = amount;
    p.currency = "CNY";
    p.purchased_at = analytics_ts_set(&at, purchased_us);
    p.refunded_minor = refunded_total;
    Crm__V1__Refund r = CRM__V1__REFUND__INIT;
    r.id = (char *) refund_id;
    r.amount_minor = refund_amount;
    r.refunded_at = analytics_ts_set(&rt, refund_us);
    Crm__V1__PurchaseRefunded m = CRM__V1__PURCHASE_REFUNDED__INIT;
    m.purchase = &p;
    m.refund = &r;
    return fx_event_at("crm.contacts.purchase.refunded.v1", &m.base, refund_us, customer);
}

static inline int fx_interaction(const char *customer, int64_t at_us)
{
    char id[CRM_ID_SIZE];
    fx_customer(id);
    Crm__V1__Timestamp at;
    Crm__V1__Interaction i = CRM__V1__INTERACTION__INIT;
    i.id = id;
    i.customer_id = (char *) customer;
    i.channel = CRM__V1__CHANNEL__CHANNEL_PHONE;
    i.occurred_at = analytics_ts_set(&at, at_us);
    Crm__V1__InteractionLogged m = CRM__V1__INTERACTION_LOGGED__INIT;
    m.interaction = &i;
    return fx_event_at("crm.contacts.interaction.logged.v1", &m.base, at_us, customer);
}

static inline int fx_merged(const char *survivor, const char *merged, int64_t at_us)
{
    Crm__V1__CustomerMerged m = CRM__V1__CUSTOMER_MERGED__INIT;
    m.survivor_id = (char *) survivor;
    m.merged_id = (char *) merged;
    return fx_event_at("crm.contacts.customer.merged.v1", &m.base, at_us, survivor);
}

static inline int fx_deleted(const char *customer, int64_t at_us)
{
    Crm__V1__CustomerDeleted m = CRM__V1__CUSTOMER_DELETED__INIT;
    m.customer_id = (char *) customer;
    return fx_event_at("crm.contacts.customer.deleted.v1", &m.base, at_us, customer);
}

/* A survey answer (kind crm.v1.SurveyKind). */
static inline int fx_answer(const char *customer, const char *id, Crm__V1__SurveyKind kind, int score, int64_t at_us)
{
    Crm__V1__Timestamp at;
    Crm__V1__Answer a = CRM__V1__ANSWER__INIT;
    a.id = (char *) id;
    a.customer_id = (char *) customer;
    a.survey_kind = kind;
    a.score = score;
    a.answered_at = analytics_ts_set(&at, at_us);
    Crm__V1__AnswerReceived m = CRM__V1__ANSWER_RECEIVED__INIT;
    m.answer = &a;
    return fx_event_at("crm.feedback.answer.received.v1", &m.base, at_us, customer);
}

/* A complaint's state. Times 0 are unset. */
typedef struct {
    const char *customer;
    const char *id;
    Crm__V1__ComplaintStatus status;
    int64_t created_us;
    int64_t first_response_us;
    int64_t first_response_seconds;
    int64_t resolved_us;
    int64_t resolution_seconds;
    bool first_contact;
    bool breached;
    uint32_t reopen_count;
    uint64_t version;
} fx_complaint_t;

static inline int fx_complaint(const char *type, const fx_complaint_t *k, int64_t at_us)
{
    Crm__V1__Timestamp created, fr, res;
    Crm__V1__Complaint c = CRM__V1__COMPLAINT__INIT;
    c.id = (char *) k->id;
    c.customer_id = (char *) k->customer;
    c.status = k->status;
    c.created_at = analytics_ts_set(&created, k->created_us);
    c.first_response_at = k->first_response_us ? analytics_ts_set(&fr, k->first_response_us) : NULL;
    c.first_response_seconds = k->first_response_seconds;
    c.resolved_at = k->resolved_us ? analytics_ts_set(&res, k->resolved_us) : NULL;
    c.resolution_seconds = k->resolution_seconds;
    c.resolved_at_first_contact = k->first_contact;
    c.first_response_breached = k->breached;
    c.reopen_count = k->reopen_count;
    c.version = k->version;
    Crm__V1__ComplaintChanged m = CRM__V1__COMPLAINT_CHANGED__INIT;
    m.complaint = &c;
    return fx_event_at(type, &m.base, at_us, k->customer);
}

/* A ledger entry of kind with points (spendable) and pending change, dated at_us. */
static inline int fx_points(const char *customer, const char *type, Crm__V1__EntryKind kind, int64_t points,
                            int64_t at_us)
{
    Crm__V1__Timestamp at;
    Crm__V1__LedgerEntry e = CRM__V1__LEDGER_ENTRY__INIT;
    e.customer_id = (char *) customer;
    e.kind = kind;
    e.points = points;
    e.time = analytics_ts_set(&at, at_us);
    Crm__V1__PointsChanged m = CRM__V1__POINTS_CHANGED__INIT;
    m.entry = &e;
    return fx_event_at(type, &m.base, at_us, customer);
}

static inline int fx_tier(const char *customer, const char *from, const char *to, int64_t at_us)
{
    Crm__V1__TierChanged m = CRM__V1__TIER_CHANGED__INIT;
    m.customer_id = (char *) customer;
    m.from_tier = (char *) from;
    m.to_tier = (char *) to;
    m.change = CRM__V1__TIER_CHANGE__TIER_CHANGE_UPGRADE;
    return fx_event_at("crm.loyalty.tier.changed.v1", &m.base, at_us, customer);
}

static inline int fx_expiring(const char *customer, int64_t points, int64_t expires_us, int64_t at_us)
{
    Crm__V1__Timestamp exp;
    Crm__V1__PointsExpiring m = CRM__V1__POINTS_EXPIRING__INIT;
    m.customer_id = (char *) customer;
    m.points = points;
    m.expires_at = analytics_ts_set(&exp, expires_us);
    return fx_event_at("crm.loyalty.points.expiring.v1", &m.base, at_us, customer);
}

/* --- Reading */

/* The summary of from..to ("YYYY-MM-DD") for scope (label "test"). */
static inline analytics_summary_t *fx_summary(const char *scope, const char *from, const char *to)
{
    int64_t a = 0, b = 0;
    cr_assert_eq(analytics_date_parse(from, &a), 0);
    cr_assert_eq(analytics_date_parse(to, &b), 0);
    analytics_summary_t *s = malloc(sizeof *s);
    crm_txn_t *txn = NULL;
    cr_assert_eq(crm_store_read_begin(fx.store, &txn), 0);
    cr_assert_eq(analytics_summary(fx.an, txn, scope, "test", a, b, s), 0);
    crm_store_txn_end(&txn);
    return s;
}

/* Calls method with req as role; decodes an OK reply as reply_desc into *reply_p (when not NULL;
 * caller frees). Returns the status; the answer's field goes to field_out (may be NULL). */
static inline crm_rpc_status_t fx_call(const char *method, const char *role, const ProtobufCMessage *req,
                                       const ProtobufCMessageDescriptor *reply_desc, ProtobufCMessage **reply_p,
                                       char *field_out)
{
    size_t len = protobuf_c_message_get_packed_size(req);
    uint8_t *body = malloc(len + 1);
    protobuf_c_message_pack(req, body);
    analytics_caller_t caller = { "key-1", role };
    analytics_answer_t ans;
    analytics_handle(fx.an, method, &caller, body, len, &ans);
    free(body);
    if (field_out)
        snprintf(field_out, ANALYTICS_FIELD_MAX, "%s", ans.field);
    if (reply_p)
        *reply_p = NULL;
    if (ans.status == CRM_RPC_OK && reply_p && reply_desc)
        cr_assert_eq(crm_codec_pb_decode(reply_desc, ans.body ? (const void *) ans.body : "", ans.body_len,
                                         reply_p, NULL), 0);
    crm_rpc_status_t status = ans.status;
    analytics_answer_clear(&ans);
    return status;
}

/* Every key and value of the figure databases and the customers, as one text, for comparing two
 * stores (caller frees). */
static inline char *fx_dump(void)
{
    crm_db_t dbs[] = { fx.an->db.customers, fx.an->db.days, fx.an->db.cohorts, fx.an->db.tiers, fx.an->db.lapses };
    size_t cap = 1 << 16, len = 0;
    char *out = malloc(cap);
    out[0] = '\0';
    crm_txn_t *txn = NULL;
    cr_assert_eq(crm_store_read_begin(fx.store, &txn), 0);
    for (size_t d = 0; d < sizeof dbs / sizeof dbs[0]; d++) {
        crm_cursor_t *cur = NULL;
        cr_assert_eq(crm_cursor_open(txn, dbs[d], &cur), 0);
        crm_val_t k, v;
        int rc = crm_cursor_first(cur, &k, &v);
        while (rc == 0) {
            ProtobufCMessage *msg = NULL;
            char *json = NULL;
            if (d == 0) {
                /* Customers: the facts, without the wall-clock stamp. */
                cr_assert_eq(crm_codec_msgpack_decode(&crm__v1__analytics_customer__descriptor, v.data, v.size,
                                                      &msg, NULL), 0);
                ((Crm__V1__AnalyticsCustomer *) msg)->folded_wall_us = 0;
                cr_assert_eq(crm_codec_json_encode(msg, 0, &json, NULL, NULL), 0);
            }
            size_t need = len + 2 * k.size + (json ? strlen(json) : 2 * v.size) + 16;
            while (need > cap) {
                cap *= 2;
                out = realloc(out, cap);
            }
            len += (size_t) snprintf(out + len, cap - len, "%zu:", d);
            for (size_t i = 0; i < k.size; i++)
                len += (size_t) snprintf(out + len, cap - len, "%02x", ((const uint8_t *) k.data)[i]);
            out[len++] = '=';
            if (json) {
                len += (size_t) snprintf(out + len, cap - len, "%s", json);
            } else {
                for (size_t i = 0; i < v.size; i++)
                    len += (size_t) snprintf(out + len, cap - len, "%02x", ((const uint8_t *) v.data)[i]);
            }
            out[len++] = '\n';
            out[len] = '\0';
            free(json);
            crm_codec_message_free(&msg);
            rc = crm_cursor_next(cur, &k, &v);
        }
        crm_cursor_close(&cur);
    }
    crm_store_txn_end(&txn);
    return out;
}

/* The outbox head. */
static inline uint64_t fx_head(void)
{
    uint64_t head = 0;
    cr_assert_eq(crm_outbox_head(fx.outbox, &head), 0);
    return head;
}

/* Counts the events of type published after sequence after; the last one's payload is decoded as
 * desc into *last_p when both are not NULL (caller frees). */
static inline size_t fx_events(uint64_t after, const char *type, const ProtobufCMessageDescriptor *desc,
                               ProtobufCMessage **last_p)
{
    if (last_p)
        *last_p = NULL;
    uint64_t head = fx_head();
    size_t count = 0;
    crm_txn_t *txn = NULL;
    cr_assert_eq(crm_store_read_begin(fx.store, &txn), 0);
    for (uint64_t seq = after + 1; seq <= head; seq++) {
        crm_val_t topic, payload;
        cr_assert_eq(crm_outbox_get(fx.outbox, txn, seq, &topic, &payload), 0);
        if (type && (topic.size != strlen(type) || memcmp(topic.data, type, topic.size) != 0))
            continue;
        count++;
        if (last_p && desc) {
            crm_codec_message_free(last_p);
            Crm__V1__Event *ev = NULL;
            cr_assert_eq(crm_event_decode(payload.data, payload.size, &ev), 0);
            cr_assert_eq(crm_event_data(ev, desc, last_p), 0);
            crm_event_destroy(&ev);
        }
    }
    crm_store_txn_end(&txn);
    return count;
}

/* Runs the jobs until nothing is due. */
static inline void fx_tick(void)
{
    bool more = true;
    for (int i = 0; more && i < 10000; i++)
        cr_assert_eq(analytics_tick(fx.an, &more), 0);
    cr_assert(!more);
}

#endif
