/* contacts_fixture.h: a temporary contacts store with its handlers, and helpers to call methods and read the outbox. */
#ifndef CONTACTS_FIXTURE_H
#define CONTACTS_FIXTURE_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crm/v1/contacts_api.pb-c.h"
#include "crm/v1/envelope.pb-c.h"
#include "crm_codec.h"
#include "crm_error.h"
#include "crm_event.h"
#include "crm_test.h"
#include "contacts_handlers.h"

#define FX_SOURCE "/crm/contacts"
#define FX_TEXT_MAX 256

typedef struct {
    char dir[CRM_TEST_PATH_MAX];
    crm_store_t *store;
    crm_outbox_t *outbox;
    crm_id_gen_t *ids;
    contacts_t *contacts;
    contacts_settings_t settings;
    size_t map_size;                 /* 0: the store's default */
    /* the last error reply */
    contacts_err_t err;
} fx_t;

static fx_t fx;

static __attribute__((unused)) void
fx_open(void)
{
    crm_store_options_t opts = { .no_sync = true, .map_size = fx.map_size };
    char path[CRM_TEST_PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/store", fx.dir);
    cr_assert_eq(crm_store_open(path, &opts, &fx.store), 0);
    cr_assert_eq(crm_outbox_new(fx.store, &fx.outbox), 0);
    cr_assert_eq(crm_id_gen_new(&fx.ids), 0);
    cr_assert_eq(contacts_new(fx.store, fx.outbox, fx.ids, FX_SOURCE, &fx.settings, &fx.contacts), 0);
}

static __attribute__((unused)) void
fx_close(void)
{
    contacts_destroy(&fx.contacts);
    crm_id_gen_destroy(&fx.ids);
    crm_outbox_destroy(&fx.outbox);
    crm_store_destroy(&fx.store);
}

static __attribute__((unused)) void
fx_setup(void)
{
    memset(&fx, 0, sizeof fx);
    fx.settings = (contacts_settings_t) {
        .repeat_purchases = CONTACTS_DEFAULT_REPEAT_PURCHASES,
        .loyal_purchases = CONTACTS_DEFAULT_LOYAL_PURCHASES,
    };
    crm_test_tmpdir(fx.dir);
    fx_open();
}

static __attribute__((unused)) void
fx_teardown(void)
{
    fx_close();
    crm_test_rmtree(fx.dir);
    crm_test_check_leaks();
}

/* Calls method with req; on OK decodes the reply body as reply_desc into *out (may be NULL).
 * Keeps the error of a refusal in fx.err. Returns the status. */
static __attribute__((unused)) crm_rpc_status_t
fx_call(const char *method, const ProtobufCMessage *req, const ProtobufCMessageDescriptor *reply_desc,
        ProtobufCMessage **out)
{
    void *body = NULL;
    size_t len = 0;
    cr_assert_eq(crm_codec_pb_encode(req, &body, &len), 0);
    contacts_reply_t reply = { 0 };
    contacts_handle(fx.contacts, method, body, len, &reply);
    free(body);
    fx.err = reply.err;
    if (reply.status == CRM_RPC_OK && out) {
        cr_assert_not_null(reply_desc);
        cr_assert_eq(crm_codec_pb_decode(reply_desc, reply.body, reply.body_len, out, NULL), 0);
    }
    crm_rpc_status_t status = reply.status;
    contacts_reply_clear(&reply);
    return status;
}

static __attribute__((unused)) void
fx_free(void *msg_p)
{
    crm_codec_message_free((ProtobufCMessage **) msg_p);
}

/* Builds a customer from JSON (the codec's proto3 JSON). Caller frees. */
static __attribute__((unused)) Crm__V1__Customer *
fx_customer_json(const char *json)
{
    ProtobufCMessage *msg = NULL;
    crm_codec_error_t err;
    int rc = crm_codec_json_decode(&crm__v1__customer__descriptor, json, strlen(json), &msg, &err);
    cr_assert_eq(rc, 0, "bad test JSON %s: %s %s", json, err.path, err.message);
    return (Crm__V1__Customer *) msg;
}

/* Decodes any message from JSON. Caller frees. */
static __attribute__((unused)) ProtobufCMessage *
fx_json(const ProtobufCMessageDescriptor *desc, const char *json)
{
    ProtobufCMessage *msg = NULL;
    crm_codec_error_t err;
    int rc = crm_codec_json_decode(desc, json, strlen(json), &msg, &err);
    cr_assert_eq(rc, 0, "bad test JSON %s: %s %s", json, err.path, err.message);
    return msg;
}

/* Creates the customer given as JSON. Returns the status; on OK writes the id (id may be NULL). */
static __attribute__((unused)) crm_rpc_status_t
fx_create(const char *json, char id[CRM_ID_SIZE])
{
    Crm__V1__CreateCustomerRequest req = CRM__V1__CREATE_CUSTOMER_REQUEST__INIT;
    req.customer = fx_customer_json(json);
    Crm__V1__CustomerReply *reply = NULL;
    crm_rpc_status_t status = fx_call(CONTACTS_METHOD_CREATE_CUSTOMER, &req.base,
                                      &crm__v1__customer_reply__descriptor, (ProtobufCMessage **) &reply);
    if (status == CRM_RPC_OK && id)
        snprintf(id, CRM_ID_SIZE, "%s", reply->customer->id);
    fx_free(&reply);
    fx_free(&req.customer);
    return status;
}

/* Creates the customer and asserts it worked; returns its id in a static ring of buffers. */
static __attribute__((unused)) const char *
fx_create_ok(const char *json)
{
    static char ring[8][CRM_ID_SIZE];
    static int next;
    char *id = ring[next++ % 8];
    crm_rpc_status_t status = fx_create(json, id);
    cr_assert_eq(status, CRM_RPC_OK, "create %s: %s (%s: %s)", json, crm_rpc_status_name(status),
                 fx.err.field, fx.err.message);
    return id;
}

/* Reads a customer (NULL when not found). Caller frees. */
static __attribute__((unused)) Crm__V1__Customer *
fx_get(const char *id)
{
    Crm__V1__GetCustomerRequest req = CRM__V1__GET_CUSTOMER_REQUEST__INIT;
    req.id = (char *) id;
    Crm__V1__CustomerReply *reply = NULL;
    if (fx_call(CONTACTS_METHOD_GET_CUSTOMER, &req.base, &crm__v1__customer_reply__descriptor,
                (ProtobufCMessage **) &reply) != CRM_RPC_OK)
        return NULL;
    Crm__V1__Customer *c = reply->customer;
    reply->customer = NULL;
    fx_free(&reply);
    return c;
}

/* Updates customer id with the fields of json named in the mask (comma-separated). Returns the
 * status; on OK sets *out when not NULL (caller frees). */
static __attribute__((unused)) crm_rpc_status_t
fx_update(const char *id, const char *json, const char *mask, uint64_t if_match, Crm__V1__Customer **out)
{
    Crm__V1__UpdateCustomerRequest req = CRM__V1__UPDATE_CUSTOMER_REQUEST__INIT;
    req.id = (char *) id;
    req.customer = fx_customer_json(json);
    req.if_match_version = if_match;
    char paths[FX_TEXT_MAX];
    char *items[CONTACTS_UPDATE_MASK_MAX + 8];
    snprintf(paths, sizeof paths, "%s", mask);
    size_t n = 0;
    for (char *save = NULL, *p = strtok_r(paths, ",", &save); p; p = strtok_r(NULL, ",", &save))
        items[n++] = p;
    req.update_mask = items;
    req.n_update_mask = n;
    Crm__V1__CustomerReply *reply = NULL;
    crm_rpc_status_t status = fx_call(CONTACTS_METHOD_UPDATE_CUSTOMER, &req.base,
                                      &crm__v1__customer_reply__descriptor, (ProtobufCMessage **) &reply);
    if (status == CRM_RPC_OK && out) {
        *out = reply->customer;
        reply->customer = NULL;
    }
    fx_free(&reply);
    fx_free(&req.customer);
    return status;
}

/* The sequence of the last event in the outbox. */
static __attribute__((unused)) uint64_t
fx_head(void)
{
    uint64_t head = 0;
    cr_assert_eq(crm_outbox_head(fx.outbox, &head), 0);
    return head;
}

/* Reads event seq: writes its type into type (FX_TEXT_MAX) and returns the envelope (caller frees
 * with crm_event_destroy). */
static __attribute__((unused)) Crm__V1__Event *
fx_event(uint64_t seq, char *type)
{
    crm_txn_t *txn = NULL;
    crm_val_t topic, payload;
    Crm__V1__Event *env = NULL;
    cr_assert_eq(crm_store_read_begin(fx.store, &txn), 0);
    cr_assert_eq(crm_outbox_get(fx.outbox, txn, seq, &topic, &payload), 0, "no event %llu",
                 (unsigned long long) seq);
    snprintf(type, FX_TEXT_MAX, "%.*s", (int) topic.size, (const char *) topic.data);
    cr_assert_eq(crm_event_decode(payload.data, payload.size, &env), 0);
    crm_store_txn_end(&txn);
    cr_assert_str_eq(env->type, type);
    cr_assert_str_eq(env->source, FX_SOURCE);
    return env;
}

/* The payload of the last event, which must have type; caller frees. Also checks its subject. */
static __attribute__((unused)) ProtobufCMessage *
fx_last_event(const char *type, const ProtobufCMessageDescriptor *desc, const char *subject)
{
    char got[FX_TEXT_MAX];
    Crm__V1__Event *env = fx_event(fx_head(), got);
    cr_assert_str_eq(got, type);
    if (subject)
        cr_assert_str_eq(env->subject, subject);
    ProtobufCMessage *data = NULL;
    cr_assert_eq(crm_event_data(env, desc, &data), 0);
    crm_event_destroy(&env);
    return data;
}

/* Counts the events of type from seq first to the head. */
static __attribute__((unused)) int
fx_count_events(uint64_t first, const char *type)
{
    int n = 0;
    uint64_t head = fx_head();
    for (uint64_t seq = first; seq <= head; seq++) {
        char got[FX_TEXT_MAX];
        Crm__V1__Event *env = fx_event(seq, got);
        n += strcmp(got, type) == 0;
        crm_event_destroy(&env);
    }
    return n;
}

#endif
