/* notifier_fixture.h: the notifier tests' fixture: a temporary store with outbox, the notifier on a fake clock, events as the subscriber applies them, requests, the senders drained by hand, and the test SMTP server and webhook receiver. */
#ifndef NOTIFIER_FIXTURE_H
#define NOTIFIER_FIXTURE_H

#include <criterion/criterion.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "crm/v1/analytics.pb-c.h"
#include "crm/v1/contacts.pb-c.h"
#include "crm/v1/envelope.pb-c.h"
#include "crm/v1/feedback.pb-c.h"
#include "crm/v1/loyalty.pb-c.h"
#include "crm/v1/notifier.pb-c.h"
#include "crm/v1/notifier_api.pb-c.h"
#include "crm_codec.h"
#include "crm_error.h"
#include "crm_event.h"
#include "crm_id.h"
#include "crm_outbox.h"
#include "crm_smtp_sink.h"
#include "crm_store.h"
#include "crm_test.h"
#include "crm_time.h"
#include "crm_webhook_sink.h"
#include "notifier_ctx.h"
#include "notifier_delivery.h"
#include "notifier_events.h"
#include "notifier_handlers.h"
#include "notifier_jobs.h"
#include "notifier_rules.h"
#include "notifier_sender.h"

#define FX_SECOND INT64_C(1000000)
#define FX_MINUTE (60 * FX_SECOND)
#define FX_HOUR   (60 * FX_MINUTE)
#define FX_DAY    (24 * FX_HOUR)
#define FX_WAIT_MS 5000
#define FX_SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

typedef struct {
    char dir[CRM_TEST_PATH_MAX];
    crm_store_t *store;
    crm_outbox_t *outbox;
    crm_id_gen_t *ids;
    crm_db_t outbox_db;
    notifier_t *nt;
    notifier_settings_t settings;
    int64_t now;                  /* the fake clock; starts at the real time (webhook receivers check it) */
    crm_smtp_sink_t *smtp;
    unsigned events;              /* events made, for their ids */
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
    cr_assert_eq(crm_store_db(fx.store, CRM_OUTBOX_DB, &fx.outbox_db), 0);
    notifier_options_t o = {
        .store = fx.store, .outbox = fx.outbox, .ids = fx.ids, .source = "/crm/notifier",
        .settings = fx.settings, .clock = fx_clock, .clock_arg = &fx,
    };
    cr_assert_eq(notifier_new(&o, &fx.nt), 0);
}

static inline void fx_stop(void)
{
    notifier_destroy(&fx.nt);
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
    cr_assert(sodium_init() >= 0);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    crm_test_tmpdir(fx.dir);
    cr_assert_eq(crm_id_gen_new(&fx.ids), 0);
    crm_smtp_sink_start(&fx.smtp);
    notifier_settings_default(&fx.settings);
    snprintf(fx.settings.smtp_url, sizeof fx.settings.smtp_url, "smtp://127.0.0.1:%d", crm_smtp_sink_port(fx.smtp));
    snprintf(fx.settings.smtp_from, sizeof fx.settings.smtp_from, "crm@example.com");
    fx.settings.allow_private = true;
    fx.settings.retry_base_us = FX_SECOND;
    fx.settings.retry_max_us = 10 * FX_SECOND;
    fx.settings.send_timeout_us = 5 * FX_SECOND;
    fx.now = crm_time_now_us();
    fx_start();
}

static inline void fx_teardown(void)
{
    fx_stop();
    crm_smtp_sink_stop(&fx.smtp);
    crm_id_gen_destroy(&fx.ids);
    crm_test_rmtree(fx.dir);
    curl_global_cleanup();
    crm_test_check_leaks();
}

/* --- Events, as the subscriber applies them */

typedef struct {
    const Crm__V1__Event *ev;
} fx_apply_t;

static inline int fx_apply_body(crm_txn_t *txn, void *arg)
{
    return notifier_event_apply(fx.nt, txn, ((fx_apply_t *) arg)->ev, true);
}

/* Applies an event of type about subject with payload data, under event id id (NULL: a new one).
 * Returns what the apply returned. */
static inline int fx_event_id(const char *type, const char *subject, const ProtobufCMessage *data, const char *id)
{
    uint8_t *payload = malloc(protobuf_c_message_get_packed_size(data) + 1);
    size_t len = protobuf_c_message_pack(data, payload);
    char made[CRM_ID_SIZE];
    if (!id) {
        cr_assert_eq(crm_id_next(fx.ids, made), 0);
        id = made;
    }
    Crm__V1__Timestamp at;
    notifier_ts_set(&at, fx.now);
    Crm__V1__Event ev = CRM__V1__EVENT__INIT;
    ev.id = (char *) id;
    ev.source = "/crm/test";
    ev.spec_version = "1.0";
    ev.type = (char *) type;
    ev.subject = (char *) (subject ? subject : "");
    ev.time = &at;
    ev.sequence = ++fx.events;
    ev.data_content_type = "application/protobuf";
    ev.data.data = payload;
    ev.data.len = len;
    ev.data_schema = (char *) data->descriptor->name;
    fx_apply_t a = { &ev };
    int rc = notifier_write(fx.nt, fx_apply_body, &a);
    free(payload);
    return rc;
}

static inline void fx_event(const char *type, const char *subject, const ProtobufCMessage *data)
{
    int rc = fx_event_id(type, subject, data, NULL);
    cr_assert_eq(rc, 0, "%s: %s", type, crm_errname(rc));
}

/* A customer from contacts: created (or updated when it exists). consent_email: the state. */
static inline void fx_customer(const char *id, const char *name, const char *email, const char *locale,
                               Crm__V1__ConsentState consent_email, const char *owner, const char *birthday)
{
    Crm__V1__Consent consent = CRM__V1__CONSENT__INIT;
    consent.email = consent_email;
    Crm__V1__Customer c = CRM__V1__CUSTOMER__INIT;
    c.id = (char *) id;
    c.name = (char *) name;
    c.email = (char *) email;
    c.locale = (char *) locale;
    c.consent = &consent;
    c.owner = (char *) (owner ? owner : "");
    c.birthday = (char *) (birthday ? birthday : "");
    Crm__V1__CustomerCreated created = CRM__V1__CUSTOMER_CREATED__INIT;
    created.customer = &c;
    fx_event("crm.contacts.customer.created.v1", id, &created.base);
}

static inline void fx_new_id(char out[CRM_ID_SIZE])
{
    cr_assert_eq(crm_id_next(fx.ids, out), 0);
}

static inline void fx_tier(const char *customer, const char *from, const char *to, Crm__V1__TierChange change,
                           const char *event_id)
{
    Crm__V1__TierChanged t = CRM__V1__TIER_CHANGED__INIT;
    t.customer_id = (char *) customer;
    t.from_tier = (char *) from;
    t.to_tier = (char *) to;
    t.change = change;
    int rc = fx_event_id("crm.loyalty.tier.changed.v1", customer, &t.base, event_id);
    cr_assert_eq(rc, 0, "%s", crm_errname(rc));
}

/* --- Requests */

/* Calls method as role with req; returns the answer's status; *reply_p (may be NULL) gets the
 * decoded reply of type reply_desc when OK (caller frees). field and error of a refusal are copied
 * into the fixture's last_* for the test to check. */
static char fx_last_field[NOTIFIER_FIELD_MAX], fx_last_error[NOTIFIER_ERROR_MAX];

static inline crm_rpc_status_t fx_call(const char *method, const char *role, const ProtobufCMessage *req,
                                       const ProtobufCMessageDescriptor *reply_desc, ProtobufCMessage **reply_p)
{
    uint8_t *body = malloc(protobuf_c_message_get_packed_size(req) + 1);
    size_t len = protobuf_c_message_pack(req, body);
    notifier_caller_t caller = { "key-test", role };
    notifier_answer_t ans;
    notifier_handle(fx.nt, method, &caller, body, len, &ans);
    free(body);
    snprintf(fx_last_field, sizeof fx_last_field, "%s", ans.field);
    snprintf(fx_last_error, sizeof fx_last_error, "%s", ans.error);
    if (reply_p) {
        *reply_p = NULL;
        if (ans.status == CRM_RPC_OK)
            cr_assert_eq(crm_codec_pb_decode(reply_desc, ans.body_len ? ans.body : (const uint8_t *) "", ans.body_len,
                                             reply_p, NULL), 0);
    }
    crm_rpc_status_t status = ans.status;
    notifier_answer_clear(&ans);
    return status;
}

/* Puts a staff member. */
static inline void fx_staff(const char *id, const char *name, const char *email, const char *team, bool lead,
                            bool admin)
{
    char *teams[1] = { (char *) team };
    Crm__V1__StaffMember m = CRM__V1__STAFF_MEMBER__INIT;
    m.id = (char *) id;
    m.name = (char *) name;
    m.email = (char *) email;
    m.n_teams = team ? 1 : 0;
    m.teams = teams;
    m.team_lead = lead;
    m.admin = admin;
    Crm__V1__PutStaffRequest req = CRM__V1__PUT_STAFF_REQUEST__INIT;
    req.member = &m;
    cr_assert_eq(fx_call("notifier.PutStaff", "admin", &req.base, &crm__v1__staff_reply__descriptor, NULL), CRM_RPC_OK,
                 "%s %s", fx_last_field, fx_last_error);
}

/* The deliveries of a customer (newest first). Caller frees. */
static inline Crm__V1__ListDeliveriesReply *fx_deliveries(const char *customer_id, const char *rule_id)
{
    Crm__V1__ListDeliveriesRequest req = CRM__V1__LIST_DELIVERIES_REQUEST__INIT;
    req.customer_id = (char *) (customer_id ? customer_id : "");
    req.rule_id = (char *) (rule_id ? rule_id : "");
    ProtobufCMessage *rep = NULL;
    cr_assert_eq(fx_call("notifier.ListDeliveries", "analyst", &req.base, &crm__v1__list_deliveries_reply__descriptor,
                         &rep),
                 CRM_RPC_OK, "%s", fx_last_error);
    return (Crm__V1__ListDeliveriesReply *) rep;
}

static inline void fx_free(void *msg)
{
    ProtobufCMessage *m = msg;
    crm_codec_message_free(&m);
}

/* --- Senders and jobs */

/* Sends what is due now (as a sender thread would). Returns how many were sent or failed. */
static inline unsigned fx_drain(void)
{
    int64_t next = 0;
    unsigned sent = 0;
    int rc = notifier_sender_drain(fx.nt, NULL, &next, &sent);
    cr_assert_eq(rc, 0, "%s", crm_errname(rc));
    return sent;
}

static inline void fx_tick(void)
{
    bool more = true;
    for (int i = 0; more && i < 100; i++)
        cr_assert_eq(notifier_tick(fx.nt, &more), 0);
    cr_assert_not(more);
}

/* How many events of type are in the outbox. */
static inline unsigned fx_published(const char *type)
{
    crm_txn_t *txn = NULL;
    cr_assert_eq(crm_store_read_begin(fx.store, &txn), 0);
    crm_cursor_t *cur = NULL;
    cr_assert_eq(crm_cursor_open(txn, fx.outbox_db, &cur), 0);
    unsigned n = 0;
    crm_val_t k, v;
    size_t len = strlen(type);
    for (int rc = crm_cursor_first(cur, &k, &v); rc == 0; rc = crm_cursor_next(cur, &k, &v)) {
        const uint8_t *p = v.data;
        if (v.size > 1 && p[0] == len && memcmp(p + 1, type, len) == 0)
            n++;
    }
    crm_cursor_close(&cur);
    crm_store_txn_end(&txn);
    return n;
}

#endif
