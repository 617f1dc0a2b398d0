/* feedback_fixture.h: the feedback tests' fixture: a temporary store with outbox, a feedback state on a fake clock, contacts events, requests, events out. */
#ifndef FEEDBACK_FIXTURE_H
#define FEEDBACK_FIXTURE_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crm/v1/contacts.pb-c.h"
#include "crm/v1/envelope.pb-c.h"
#include "crm/v1/feedback.pb-c.h"
#include "crm/v1/feedback_api.pb-c.h"
#include "crm_codec.h"
#include "crm_error.h"
#include "crm_event.h"
#include "crm_id.h"
#include "crm_outbox.h"
#include "crm_store.h"
#include "crm_test.h"
#include "crm_time.h"
#include "feedback_ctx.h"
#include "feedback_handlers.h"
#include "feedback_record.h"

#define FX_SECOND (INT64_C(1000000))
#define FX_MINUTE (60 * FX_SECOND)
#define FX_HOUR   (60 * FX_MINUTE)
#define FX_DAY    (24 * FX_HOUR)
/* 2026-03-10T12:00:00Z, a Tuesday: the fake clock's start. */
#define FX_T0     (INT64_C(1773144000) * 1000000)

typedef struct {
    char dir[CRM_TEST_PATH_MAX];
    crm_store_t *store;
    crm_outbox_t *outbox;
    crm_id_gen_t *ids;
    feedback_t *fb;
    feedback_settings_t settings;
    int64_t now;              /* the fake clock */
    uint64_t event_seq;       /* sequence of the contacts events made */
} fx_t;

static fx_t fx;

static inline int64_t fx_clock(void *arg)
{
    return ((fx_t *) arg)->now;
}

/* Opens the store, outbox and feedback state (again, after fx_stop: a restart). */
static inline void fx_start(void)
{
    crm_store_options_t opts = { .no_sync = true };
    cr_assert_eq(crm_store_open(fx.dir, &opts, &fx.store), 0);
    cr_assert_eq(crm_outbox_new(fx.store, &fx.outbox), 0);
    feedback_options_t fo = {
        .store = fx.store, .outbox = fx.outbox, .ids = fx.ids, .source = "/crm/feedback",
        .settings = fx.settings, .clock = fx_clock, .clock_arg = &fx,
    };
    cr_assert_eq(feedback_new(&fo, &fx.fb), 0);
}

static inline void fx_stop(void)
{
    feedback_destroy(&fx.fb);
    crm_outbox_destroy(&fx.outbox);
    crm_store_destroy(&fx.store);
}

static inline void fx_restart(void)
{
    fx_stop();
    fx_start();
}

/* Default settings, with 24x7 business hours so that SLA arithmetic is plain in service tests. */
static inline void fx_setup(void)
{
    memset(&fx, 0, sizeof fx);
    crm_test_tmpdir(fx.dir);
    cr_assert_eq(crm_id_gen_new(&fx.ids), 0);
    feedback_settings_default(&fx.settings);
    feedback_hours_always(&fx.settings.hours);
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
static inline void fx_new_id(char out[CRM_ID_SIZE])
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
    return feedback_on_contacts_event(txn, a->event, fx.fb);
}

/* Applies a contacts event of type with payload data, as the subscriber would. Returns what the
 * apply function returned (the transaction is aborted on an error). */
static inline int fx_event(const char *type, const ProtobufCMessage *data)
{
    uint8_t *payload = malloc(protobuf_c_message_get_packed_size(data) + 1);
    size_t payload_len = protobuf_c_message_pack(data, payload);
    char id[CRM_ID_SIZE];
    fx_new_id(id);
    Crm__V1__Timestamp time;
    Crm__V1__Event ev = CRM__V1__EVENT__INIT;
    ev.id = id;
    ev.source = "/crm/contacts";
    ev.spec_version = "1.0";
    ev.type = (char *) type;
    ev.time = feedback_ts_fill(&time, fx.now);
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
    int rc = feedback_write(fx.fb, fx_apply_body, &a);
    free(buf);
    free(payload);
    return rc;
}

/* A customer created by contacts with a locale (NULL: none) and tags. */
static inline int fx_customer(const char *customer_id, const char *locale, const char *tag, Crm__V1__ValueTier tier)
{
    char *tags[1] = { (char *) tag };
    Crm__V1__Customer c = CRM__V1__CUSTOMER__INIT;
    c.id = (char *) customer_id;
    c.name = "Test";
    c.email = "test@example.com";
    c.locale = (char *) (locale ? locale : "");
    c.n_tags = tag ? 1 : 0;
    c.tags = tags;
    c.value_tier = tier;
    Crm__V1__CustomerCreated m = CRM__V1__CUSTOMER_CREATED__INIT;
    m.customer = &c;
    return fx_event("crm.contacts.customer.created.v1", &m.base);
}

/* A purchase recorded by contacts. */
static inline int fx_purchase(const char *customer_id, const char *purchase_id)
{
    Crm__V1__Purchase p = CRM__V1__PURCHASE__INIT;
    p.id = (char *) purchase_id;
    p.customer_id = (char *) customer_id;
    p.order_id = (char *) purchase_id;
    p.amount_minor = 1000;
    p.currency = "CNY";
    Crm__V1__PurchaseRecorded m = CRM__V1__PURCHASE_RECORDED__INIT;
    m.purchase = &p;
    m.purchase_number = 1;
    return fx_event("crm.contacts.purchase.recorded.v1", &m.base);
}

/* --- Requests */

/* Calls method with req as role (key id "key-<role>"); decodes an OK reply as reply_desc into
 * *reply_p (when not NULL; caller frees). Returns the status; the error's field and sentence go to
 * field_out and error_out (each may be NULL, FEEDBACK_FIELD_MAX / FEEDBACK_ERROR_MAX bytes). */
static inline crm_rpc_status_t fx_call_full(const char *method, const char *role, const ProtobufCMessage *req,
                                            const ProtobufCMessageDescriptor *reply_desc, ProtobufCMessage **reply_p,
                                            char *field_out, char *error_out)
{
    size_t len = protobuf_c_message_get_packed_size(req);
    uint8_t *body = malloc(len + 1);
    protobuf_c_message_pack(req, body);
    char key_id[64];
    snprintf(key_id, sizeof key_id, "key-%s", role);
    feedback_caller_t caller = { role[0] ? key_id : "", role };
    feedback_result_t res;
    feedback_handle(fx.fb, method, &caller, body, len, &res);
    free(body);
    if (field_out)
        snprintf(field_out, FEEDBACK_FIELD_MAX, "%s", res.field);
    if (error_out)
        snprintf(error_out, FEEDBACK_ERROR_MAX, "%s", res.error);
    if (reply_p)
        *reply_p = NULL;
    if (res.status == CRM_RPC_OK && reply_p && reply_desc)
        cr_assert_eq(crm_codec_pb_decode(reply_desc, res.body ? (const void *) res.body : "", res.body_len, reply_p,
                                         NULL), 0);
    crm_rpc_status_t status = res.status;
    feedback_result_clear(&res);
    return status;
}

static inline crm_rpc_status_t fx_call(const char *method, const char *role, const ProtobufCMessage *req,
                                       const ProtobufCMessageDescriptor *reply_desc, ProtobufCMessage **reply_p)
{
    return fx_call_full(method, role, req, reply_desc, reply_p, NULL, NULL);
}

/* Runs the timers until nothing is due. */
static inline void fx_tick(void)
{
    bool more = true;
    for (int i = 0; more && i < 10000; i++)
        cr_assert_eq(feedback_tick(fx.fb, &more), 0);
    cr_assert(!more);
}

/* Moves the fake clock and runs the timers. */
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
 * decoded as desc into *last_p when both are not NULL (caller frees); its subject goes to
 * subject_out (CRM_ID_SIZE bytes) when not NULL. */
static inline size_t fx_events_subject(uint64_t after, const char *type, const ProtobufCMessageDescriptor *desc,
                                       ProtobufCMessage **last_p, char *subject_out)
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
        Crm__V1__Event *ev = NULL;
        cr_assert_eq(crm_event_decode(payload.data, payload.size, &ev), 0);
        if (desc)
            cr_assert_str_eq(ev->data_schema, desc->name);
        if (subject_out)
            snprintf(subject_out, CRM_ID_SIZE, "%s", ev->subject);
        if (last_p && desc) {
            crm_codec_message_free(last_p);
            cr_assert_eq(crm_event_data(ev, desc, last_p), 0);
        }
        crm_event_destroy(&ev);
    }
    crm_store_txn_end(&txn);
    return count;
}

static inline size_t fx_events(uint64_t after, const char *type, const ProtobufCMessageDescriptor *desc,
                               ProtobufCMessage **last_p)
{
    return fx_events_subject(after, type, desc, last_p, NULL);
}

/* Files a complaint for customer_id as an agent; returns it (caller frees). */
static inline Crm__V1__Complaint *fx_file(const char *customer_id, Crm__V1__Priority priority, const char *text)
{
    Crm__V1__Complaint c = CRM__V1__COMPLAINT__INIT;
    c.customer_id = (char *) customer_id;
    c.category = CRM__V1__COMPLAINT_CATEGORY__COMPLAINT_CATEGORY_DELIVERY;
    c.priority = priority;
    c.subject = "Late parcel";
    c.text = (char *) text;
    Crm__V1__FileComplaintRequest req = CRM__V1__FILE_COMPLAINT_REQUEST__INIT;
    req.complaint = &c;
    Crm__V1__ComplaintReply *rep = NULL;
    cr_assert_eq(fx_call("feedback.FileComplaint", "agent", &req.base, &crm__v1__complaint_reply__descriptor,
                         (ProtobufCMessage **) &rep), CRM_RPC_OK);
    Crm__V1__Complaint *out = rep->complaint;
    rep->complaint = NULL;
    crm_codec_message_free((ProtobufCMessage **) &rep);
    return out;
}

/* Moves a complaint; returns the status (and the complaint after, when OK and out is not NULL). */
static inline crm_rpc_status_t fx_move(const char *complaint_id, Crm__V1__ComplaintStatus to, const char *assignee,
                                       char *error_out, Crm__V1__Complaint **out)
{
    Crm__V1__TransitionComplaintRequest req = CRM__V1__TRANSITION_COMPLAINT_REQUEST__INIT;
    req.complaint_id = (char *) complaint_id;
    req.to = to;
    req.assignee = (char *) (assignee ? assignee : "");
    Crm__V1__ComplaintReply *rep = NULL;
    crm_rpc_status_t st = fx_call_full("feedback.TransitionComplaint", "agent", &req.base,
                                       &crm__v1__complaint_reply__descriptor, (ProtobufCMessage **) &rep, NULL,
                                       error_out);
    if (out) {
        *out = rep ? rep->complaint : NULL;
        if (rep)
            rep->complaint = NULL;
    }
    crm_codec_message_free((ProtobufCMessage **) &rep);
    return st;
}

/* The complaint with its history (caller frees). */
static inline Crm__V1__Complaint *fx_complaint(const char *id)
{
    Crm__V1__GetComplaintRequest req = CRM__V1__GET_COMPLAINT_REQUEST__INIT;
    req.id = (char *) id;
    Crm__V1__ComplaintReply *rep = NULL;
    cr_assert_eq(fx_call("feedback.GetComplaint", "analyst", &req.base, &crm__v1__complaint_reply__descriptor,
                         (ProtobufCMessage **) &rep), CRM_RPC_OK);
    Crm__V1__Complaint *out = rep->complaint;
    rep->complaint = NULL;
    crm_codec_message_free((ProtobufCMessage **) &rep);
    return out;
}

#endif
