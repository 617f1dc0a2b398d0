/* loyalty_fixture.h: the loyalty tests' fixture: a temporary store with outbox, a loyalty state on a fake clock, contacts events, requests, and the ledger's invariants. */
#ifndef LOYALTY_FIXTURE_H
#define LOYALTY_FIXTURE_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crm/v1/contacts.pb-c.h"
#include "crm/v1/envelope.pb-c.h"
#include "crm/v1/loyalty.pb-c.h"
#include "crm/v1/loyalty_api.pb-c.h"
#include "crm_codec.h"
#include "crm_error.h"
#include "crm_event.h"
#include "crm_id.h"
#include "crm_outbox.h"
#include "crm_store.h"
#include "crm_test.h"
#include "crm_time.h"
#include "loyalty_ctx.h"
#include "loyalty_handlers.h"
#include "loyalty_ledger.h"
#include "loyalty_record.h"

#define FX_DAY  LOYALTY_US_PER_DAY
#define FX_HOUR (INT64_C(3600) * 1000000)
/* 2026-03-10T12:00:00Z: the fake clock's start. */
#define FX_T0   (INT64_C(1773144000) * 1000000)

typedef struct {
    char dir[CRM_TEST_PATH_MAX];
    crm_store_t *store;
    crm_outbox_t *outbox;
    crm_id_gen_t *ids;
    loyalty_t *ly;
    loyalty_settings_t settings;
    int64_t now;              /* the fake clock */
    uint64_t event_seq;       /* sequence of the contacts events made */
} fx_t;

static fx_t fx;

static inline int64_t fx_clock(void *arg)
{
    return ((fx_t *) arg)->now;
}

/* Opens the store, outbox and loyalty state (again, after fx_stop: a restart). */
static inline void fx_start(void)
{
    crm_store_options_t opts = { .no_sync = true };
    cr_assert_eq(crm_store_open(fx.dir, &opts, &fx.store), 0);
    cr_assert_eq(crm_outbox_new(fx.store, &fx.outbox), 0);
    loyalty_options_t lo = {
        .store = fx.store, .outbox = fx.outbox, .ids = fx.ids, .source = "/crm/loyalty",
        .settings = fx.settings, .clock = fx_clock, .clock_arg = &fx,
    };
    cr_assert_eq(loyalty_new(&lo, &fx.ly), 0);
}

static inline void fx_stop(void)
{
    loyalty_destroy(&fx.ly);
    crm_outbox_destroy(&fx.outbox);
    crm_store_destroy(&fx.store);
}

static inline void fx_restart(void)
{
    fx_stop();
    fx_start();
}

/* Call from a suite's .init after changing nothing, or from a test after changing fx.settings
 * (then fx_restart). */
static inline void fx_setup(void)
{
    memset(&fx, 0, sizeof fx);
    crm_test_tmpdir(fx.dir);
    cr_assert_eq(crm_id_gen_new(&fx.ids), 0);
    loyalty_settings_default(&fx.settings);
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

/* --- Contacts events */

typedef struct {
    const crm_bus_event_t *event;
} fx_apply_t;

static inline int fx_apply_body(crm_txn_t *txn, void *arg)
{
    fx_apply_t *a = arg;
    return loyalty_on_event(txn, a->event, fx.ly);
}

/* Applies a contacts event of type with payload data, as the subscriber would. Returns what the
 * apply function returned (the transaction is aborted on an error). */
static inline int fx_event(const char *type, const ProtobufCMessage *data)
{
    uint8_t *payload = malloc(protobuf_c_message_get_packed_size(data) + 1);
    size_t payload_len = protobuf_c_message_pack(data, payload);
    char id[CRM_ID_SIZE];
    cr_assert_eq(crm_id_next(fx.ids, id), 0);
    Crm__V1__Timestamp time;
    Crm__V1__Event ev = CRM__V1__EVENT__INIT;
    ev.id = id;
    ev.source = "/crm/contacts";
    ev.spec_version = "1.0";
    ev.type = (char *) type;
    ev.time = loyalty_ts_set(&time, fx.now);
    ev.sequence = ++fx.event_seq;
    ev.data_content_type = "application/protobuf";
    ev.data.data = payload;
    ev.data.len = payload_len;
    ev.data_schema = (char *) data->descriptor->name;
    uint8_t *buf = malloc(crm__v1__event__get_packed_size(&ev) + 1);
    size_t len = crm__v1__event__pack(&ev, buf);
    crm_bus_event_t bus = {
        .topic = type, .topic_len = strlen(type), .seq = ev.sequence, .payload = buf, .payload_len = len,
    };
    fx_apply_t a = { &bus };
    int rc = loyalty_write(fx.ly, fx_apply_body, &a);
    free(buf);
    free(payload);
    return rc;
}

/* A purchase recorded by contacts: amount in minor units, made at at_us. */
static inline int fx_purchase(const char *customer_id, const char *purchase_id, int64_t amount, const char *currency,
                       int64_t at_us)
{
    Crm__V1__Timestamp at;
    Crm__V1__Purchase p = CRM__V1__PURCHASE__INIT;
    p.id = (char *) purchase_id;
    p.customer_id = (char *) customer_id;
    p.order_id = (char *) purchase_id;
    p.amount_minor = amount;
    p.currency = (char *) currency;
    p.purchased_at = loyalty_ts_set(&at, at_us);
    Crm__V1__PurchaseRecorded m = CRM__V1__PURCHASE_RECORDED__INIT;
    m.purchase = &p;
    return fx_event("crm.contacts.purchase.recorded.v1", &m.base);
}

/* A refund of refund_amount, bringing the purchase's refunds to refunded_total. */
static inline int fx_refund(const char *customer_id, const char *purchase_id, int64_t amount, const char *refund_id,
                     int64_t refund_amount, int64_t refunded_total)
{
    Crm__V1__Purchase p = CRM__V1__PURCHASE__INIT;
    p.id = (char *) purchase_id;
    p.customer_id = (char *) customer_id;
    p.order_id = (char *) purchase_id;
    p.amount_minor = amount;
    p.currency = "CNY";
    p.refunded_minor = refunded_total;
    Crm__V1__Refund r = CRM__V1__REFUND__INIT;
    r.id = (char *) refund_id;
    r.amount_minor = refund_amount;
    Crm__V1__PurchaseRefunded m = CRM__V1__PURCHASE_REFUNDED__INIT;
    m.purchase = &p;
    m.refund = &r;
    return fx_event("crm.contacts.purchase.refunded.v1", &m.base);
}

/* A customer created by contacts (birthday "YYYY-MM-DD" or NULL; created at created_us). */
static inline int fx_customer_created(const char *customer_id, const char *birthday, int64_t created_us)
{
    Crm__V1__Timestamp created;
    Crm__V1__Customer c = CRM__V1__CUSTOMER__INIT;
    c.id = (char *) customer_id;
    c.name = "Test";
    c.birthday = (char *) (birthday ? birthday : "");
    c.created_at = loyalty_ts_set(&created, created_us);
    Crm__V1__CustomerCreated m = CRM__V1__CUSTOMER_CREATED__INIT;
    m.customer = &c;
    return fx_event("crm.contacts.customer.created.v1", &m.base);
}

/* --- Requests */

/* Calls method with req as role; decodes an OK reply as reply_desc into *reply_p (when not
 * NULL; caller frees). Returns the status; the answer's field goes to field_out (may be NULL,
 * LOYALTY_FIELD_MAX bytes). */
static inline crm_rpc_status_t fx_call(const char *method, const char *role, const ProtobufCMessage *req,
                                const ProtobufCMessageDescriptor *reply_desc, ProtobufCMessage **reply_p,
                                char *field_out)
{
    size_t len = protobuf_c_message_get_packed_size(req);
    uint8_t *body = malloc(len + 1);
    protobuf_c_message_pack(req, body);
    loyalty_caller_t caller = { "key-1", role };
    loyalty_answer_t ans;
    loyalty_handle(fx.ly, method, &caller, body, len, &ans);
    free(body);
    if (field_out)
        snprintf(field_out, LOYALTY_FIELD_MAX, "%s", ans.field);
    if (reply_p)
        *reply_p = NULL;
    if (ans.status == CRM_RPC_OK && reply_p && reply_desc)
        cr_assert_eq(crm_codec_pb_decode(reply_desc, ans.body ? (const void *) ans.body : "", ans.body_len,
                                         reply_p, NULL), 0);
    crm_rpc_status_t status = ans.status;
    loyalty_answer_clear(&ans);
    return status;
}

/* The account of a customer. */
static inline loyalty_account_t fx_account(const char *customer_id)
{
    crm_txn_t *txn = NULL;
    loyalty_account_t acc;
    cr_assert_eq(crm_store_read_begin(fx.store, &txn), 0);
    cr_assert_eq(loyalty_account_get(&fx.ly->db, txn, customer_id, &acc), 0);
    crm_store_txn_end(&txn);
    return acc;
}

/* Checks the ledger's invariants of a customer. Returns 0, or CRM_EINVALID with why filled. */
static inline int fx_check(const char *customer_id, char *why, size_t why_size)
{
    crm_txn_t *txn = NULL;
    cr_assert_eq(crm_store_read_begin(fx.store, &txn), 0);
    int rc = loyalty_ledger_check(fx.ly, txn, customer_id, why, why_size);
    crm_store_txn_end(&txn);
    return rc;
}

/* Runs the jobs until nothing is due. */
static inline void fx_tick(void)
{
    bool more = true;
    for (int i = 0; more && i < 10000; i++)
        cr_assert_eq(loyalty_tick(fx.ly, &more), 0);
    cr_assert(!more);
}

/* Moves the fake clock and runs the jobs. */
static inline void fx_advance(int64_t us)
{
    fx.now += us;
    fx_tick();
}

/* The outbox head. */
static inline uint64_t fx_head(void)
{
    uint64_t head = 0;
    cr_assert_eq(crm_outbox_head(fx.outbox, &head), 0);
    return head;
}

/* Counts the events of type (all when NULL) after sequence after; the last one's payload is
 * decoded as desc into *last_p when both are not NULL (caller frees). */
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

/* Gives a customer points with an admin adjustment (a new lot). */
static inline void fx_give(const char *customer_id, int64_t points)
{
    Crm__V1__AdjustRequest req = CRM__V1__ADJUST_REQUEST__INIT;
    req.customer_id = (char *) customer_id;
    req.points = points;
    req.reason = "test";
    cr_assert_eq(fx_call("loyalty.Adjust", "admin", &req.base, NULL, NULL, NULL), CRM_RPC_OK);
}

/* Puts a reward in the catalogue (stock < 0: unlimited). */
static inline void fx_reward(const char *id, int64_t price, int64_t stock)
{
    Crm__V1__Reward r = CRM__V1__REWARD__INIT;
    r.id = (char *) id;
    r.name = (char *) id;
    r.kind = CRM__V1__REWARD_KIND__REWARD_KIND_GIFT;
    r.points_price = price;
    r.stock = stock < 0 ? 0 : stock;
    r.unlimited = stock < 0;
    Crm__V1__PutRewardRequest req = CRM__V1__PUT_REWARD_REQUEST__INIT;
    req.reward = &r;
    cr_assert_eq(fx_call("loyalty.PutReward", "admin", &req.base, NULL, NULL, NULL), CRM_RPC_OK);
}

/* Redeems a reward; returns the status and the redemption (caller frees) when OK. */
static inline crm_rpc_status_t fx_redeem(const char *customer_id, const char *reward_id, const char *request_id,
                                  Crm__V1__RedemptionReply **reply_p)
{
    Crm__V1__RedeemRequest req = CRM__V1__REDEEM_REQUEST__INIT;
    req.customer_id = (char *) customer_id;
    req.reward_id = (char *) reward_id;
    req.request_id = (char *) (request_id ? request_id : "");
    return fx_call("loyalty.Redeem", "agent", &req.base, &crm__v1__redemption_reply__descriptor,
                   (ProtobufCMessage **) reply_p, NULL);
}

#endif
