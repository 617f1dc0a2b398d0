/* contacts_handlers.c: one function per request method and per consumed event of the contacts service. */
#include "contacts_handlers.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crm/v1/analytics.pb-c.h"
#include "crm_codec.h"
#include "crm_error.h"
#include "crm_event.h"

#define S_ID_TEXT_MAX 64      /* how much of a bad id goes into a message */

struct contacts {
    crm_store_t *store;
    crm_outbox_t *outbox;
    crm_id_gen_t *ids;
    crm_service_t *svc;       /* NULL until contacts_set_service */
    crm_log_t *log;           /* NULL: no logging */
    contacts_db_t db;
    contacts_settings_t settings;
    char source[CONTACTS_SOURCE_MAX];
    contacts_ctx_t ctx;
};

int
contacts_new(crm_store_t *store, crm_outbox_t *outbox, crm_id_gen_t *ids, const char *source,
             const contacts_settings_t *settings, contacts_t **self_p)
{
    assert(store && outbox && ids && source && settings && self_p);
    if (!*source || strlen(source) >= CONTACTS_SOURCE_MAX || settings->repeat_purchases < 2
        || settings->loyal_purchases < settings->repeat_purchases
        || settings->loyal_purchases > CONTACTS_PURCHASES_SETTING_MAX)
        return CRM_EINVALID;
    contacts_t *self = calloc(1, sizeof *self);
    if (!self)
        return CRM_ENOMEM;
    self->store = store;
    self->outbox = outbox;
    self->ids = ids;
    self->settings = *settings;
    snprintf(self->source, sizeof self->source, "%s", source);
    self->ctx = (contacts_ctx_t) {
        .db = &self->db, .outbox = outbox, .ids = ids, .source = self->source,
        .settings = &self->settings,
    };
    int rc = contacts_record_open(store, &self->db);
    if (rc) {
        free(self);
        return rc;
    }
    *self_p = self;
    return 0;
}

void
contacts_destroy(contacts_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

void
contacts_set_service(contacts_t *self, crm_service_t *svc)
{
    self->svc = svc;
    self->log = svc ? crm_service_log(svc) : NULL;
}

const contacts_db_t *
contacts_db(const contacts_t *self)
{
    return &self->db;
}

const contacts_ctx_t *
contacts_ctx(const contacts_t *self)
{
    return &self->ctx;
}

void
contacts_reply_clear(contacts_reply_t *reply)
{
    if (!reply)
        return;
    free(reply->body);
    memset(reply, 0, sizeof *reply);
}

static int
s_write(contacts_t *self, crm_store_write_fn fn, void *arg)
{
    if (self->svc)
        return crm_service_write(self->svc, fn, arg);
    int rc = crm_store_write(self->store, fn, arg);
    if (rc == 0)
        crm_outbox_notify(self->outbox);
    return rc;
}

/* --- Replies */

static crm_rpc_status_t
s_status_of(int rc)
{
    switch (rc) {
    case CRM_EINVALID:
        return CRM_RPC_INVALID;
    case CRM_ENOTFOUND:
        return CRM_RPC_NOT_FOUND;
    case CRM_ECONFLICT:
    case CRM_EEXISTS:
        return CRM_RPC_CONFLICT;
    case CRM_ESTALE:
        return CRM_RPC_PRECONDITION_FAILED;
    case CRM_ETOOBIG:
        return CRM_RPC_TOO_LARGE;
    default:
        return CRM_RPC_INTERNAL;
    }
}

static void
s_reply_error(contacts_t *self, contacts_reply_t *reply, const char *method, int rc,
              const contacts_err_t *err)
{
    free(reply->body);
    reply->body = NULL;
    reply->body_len = 0;
    reply->status = s_status_of(rc);
    if (reply->status == CRM_RPC_INTERNAL) {
        contacts_fail(&reply->err, rc, "", "internal error");
        if (self->log)
            crm_log_error(self->log, "request failed", "method", method, "error", crm_errname(rc),
                          "detail", crm_strerror(rc));
        return;
    }
    if (err && err->code == rc)
        reply->err = *err;
    else
        contacts_fail(&reply->err, rc, "", "%s", crm_strerror(rc));
    if (self->log)
        crm_log_info(self->log, "request refused", "method", method,
                     "status", crm_rpc_status_name(reply->status), "field", reply->err.field,
                     "error", reply->err.message);
}

static void
s_reply_msg(contacts_t *self, contacts_reply_t *reply, const char *method, const ProtobufCMessage *msg)
{
    int rc = crm_codec_pb_encode(msg, &reply->body, &reply->body_len);
    if (rc) {
        s_reply_error(self, reply, method, rc, NULL);
        return;
    }
    reply->status = CRM_RPC_OK;
}

static int
s_required(const char *value, const char *field, contacts_err_t *err)
{
    if (!value || !*value)
        return contacts_fail(err, CRM_EINVALID, field, "%s is required", field);
    return 0;
}

/* Makes *msg_p an empty message of desc when the request left it out. */
static int
s_ensure(ProtobufCMessage **msg_p, const ProtobufCMessageDescriptor *desc)
{
    return *msg_p ? 0 : crm_codec_message_new(desc, msg_p);
}

/* --- Customers */

typedef struct {
    contacts_t *self;
    Crm__V1__Customer *customer;
    contacts_err_t err;
} s_create_t;

static int
s_create_body(crm_txn_t *txn, void *arg)
{
    s_create_t *a = arg;
    return contacts_op_create(&a->self->ctx, txn, a->customer, &a->err);
}

void
contacts_create_customer(contacts_t *self, Crm__V1__CreateCustomerRequest *req, contacts_reply_t *reply)
{
    s_create_t a = { .self = self };
    int rc = s_ensure((ProtobufCMessage **) &req->customer, &crm__v1__customer__descriptor);
    if (rc == 0) {
        a.customer = req->customer;
        rc = contacts_validate_customer(a.customer, true, &a.err);
    }
    Crm__V1__LifecycleStage stage = rc == 0 ? a.customer->lifecycle_stage : 0;
    if (rc == 0 && stage != CRM__V1__LIFECYCLE_STAGE__LIFECYCLE_STAGE_UNSPECIFIED
        && stage != CRM__V1__LIFECYCLE_STAGE__LIFECYCLE_STAGE_PROSPECT && !contacts_stage_is_risk(stage))
        rc = contacts_fail(&a.err, CRM_EINVALID, "lifecycleStage",
                           "a new customer's lifecycleStage is prospect, at_risk or churned");
    if (rc == 0)
        rc = s_write(self, s_create_body, &a);
    if (rc) {
        s_reply_error(self, reply, CONTACTS_METHOD_CREATE_CUSTOMER, rc, &a.err);
        return;
    }
    Crm__V1__CustomerReply out = CRM__V1__CUSTOMER_REPLY__INIT;
    out.customer = a.customer;
    s_reply_msg(self, reply, CONTACTS_METHOD_CREATE_CUSTOMER, &out.base);
}

void
contacts_get_customer(contacts_t *self, Crm__V1__GetCustomerRequest *req, contacts_reply_t *reply)
{
    contacts_err_t err = { 0 };
    Crm__V1__Customer *c = NULL;
    crm_txn_t *txn = NULL;
    int rc = s_required(req->id, "id", &err);
    if (rc == 0 && (rc = crm_store_read_begin(self->store, &txn)) == 0) {
        rc = contacts_customer_get(&self->db, txn, req->id, &c);
        crm_store_txn_end(&txn);
    }
    if (rc == CRM_ENOTFOUND)
        contacts_fail(&err, rc, "id", "customer %.*s not found", S_ID_TEXT_MAX, req->id);
    if (rc) {
        s_reply_error(self, reply, CONTACTS_METHOD_GET_CUSTOMER, rc, &err);
        return;
    }
    Crm__V1__CustomerReply out = CRM__V1__CUSTOMER_REPLY__INIT;
    out.customer = c;
    s_reply_msg(self, reply, CONTACTS_METHOD_GET_CUSTOMER, &out.base);
    crm_codec_message_free((ProtobufCMessage **) &c);
}

typedef struct {
    contacts_t *self;
    const Crm__V1__UpdateCustomerRequest *req;
    Crm__V1__Customer *out;
    contacts_err_t err;
} s_update_t;

static int
s_update_body(crm_txn_t *txn, void *arg)
{
    s_update_t *a = arg;
    crm_codec_message_free((ProtobufCMessage **) &a->out);
    return contacts_op_update(&a->self->ctx, txn, a->req->id, a->req->customer, a->req->update_mask,
                              a->req->n_update_mask, a->req->if_match_version, &a->out, &a->err);
}

void
contacts_update_customer(contacts_t *self, Crm__V1__UpdateCustomerRequest *req, contacts_reply_t *reply)
{
    s_update_t a = { .self = self, .req = req };
    int rc = s_required(req->id, "id", &a.err);
    if (rc == 0)
        rc = s_write(self, s_update_body, &a);
    if (rc) {
        s_reply_error(self, reply, CONTACTS_METHOD_UPDATE_CUSTOMER, rc, &a.err);
    } else {
        Crm__V1__CustomerReply out = CRM__V1__CUSTOMER_REPLY__INIT;
        out.customer = a.out;
        s_reply_msg(self, reply, CONTACTS_METHOD_UPDATE_CUSTOMER, &out.base);
    }
    crm_codec_message_free((ProtobufCMessage **) &a.out);
}

typedef struct {
    contacts_t *self;
    const Crm__V1__DeleteCustomerRequest *req;
    contacts_err_t err;
} s_delete_t;

static int
s_delete_body(crm_txn_t *txn, void *arg)
{
    s_delete_t *a = arg;
    return contacts_op_delete(&a->self->ctx, txn, a->req->id, a->req->if_match_version, &a->err);
}

void
contacts_delete_customer(contacts_t *self, Crm__V1__DeleteCustomerRequest *req, contacts_reply_t *reply)
{
    s_delete_t a = { .self = self, .req = req };
    int rc = s_required(req->id, "id", &a.err);
    if (rc == 0)
        rc = s_write(self, s_delete_body, &a);
    if (rc) {
        s_reply_error(self, reply, CONTACTS_METHOD_DELETE_CUSTOMER, rc, &a.err);
        return;
    }
    Crm__V1__DeleteCustomerReply out = CRM__V1__DELETE_CUSTOMER_REPLY__INIT;
    out.id = req->id;
    s_reply_msg(self, reply, CONTACTS_METHOD_DELETE_CUSTOMER, &out.base);
}

static int
s_max_len(const char *value, const char *field, size_t max, contacts_err_t *err)
{
    if (strlen(value) > max)
        return contacts_fail(err, CRM_EINVALID, field, "%s is longer than %zu bytes", field, max);
    return 0;
}

static int
s_enum_filter(const ProtobufCEnumDescriptor *desc, int value, const char *field, contacts_err_t *err)
{
    if (!protobuf_c_enum_descriptor_get_value(desc, value))
        return contacts_fail(err, CRM_EINVALID, field, "%s has an unknown value %d", field, value);
    return 0;
}

/* Checks a search request and fills the query (borrowing from req; phone into phone). */
static int
s_search_query(const Crm__V1__SearchCustomersRequest *req, contacts_query_t *q,
               char phone[CONTACTS_PHONE_SIZE], contacts_err_t *err)
{
    int rc;
    if ((rc = s_max_len(req->name_prefix, "namePrefix", CONTACTS_NAME_MAX, err))
        || (rc = s_max_len(req->email, "email", CONTACTS_EMAIL_MAX, err))
        || (rc = s_max_len(req->tag, "tag", CONTACTS_TAG_MAX, err))
        || (rc = s_max_len(req->owner, "owner", CONTACTS_OWNER_MAX, err))
        || (rc = s_max_len(req->custom_field, "customField", CONTACTS_CUSTOM_NAME_MAX, err))
        || (rc = s_max_len(req->custom_value, "customValue", CONTACTS_CUSTOM_VALUE_MAX, err))
        || (rc = s_max_len(req->external_system, "externalSystem", CONTACTS_EXTERNAL_SYSTEM_MAX, err))
        || (rc = s_max_len(req->external_id, "externalId", CONTACTS_EXTERNAL_ID_MAX, err))
        || (rc = s_enum_filter(&crm__v1__value_tier__descriptor, (int) req->value_tier, "valueTier", err))
        || (rc = s_enum_filter(&crm__v1__need_type__descriptor, (int) req->need_type, "needType", err))
        || (rc = s_enum_filter(&crm__v1__lifecycle_stage__descriptor, (int) req->lifecycle_stage,
                               "lifecycleStage", err)))
        return rc;
    if (*req->custom_field && !*req->custom_value)
        return contacts_fail(err, CRM_EINVALID, "customValue", "customValue is required with customField");
    if (*req->custom_value && !*req->custom_field)
        return contacts_fail(err, CRM_EINVALID, "customField", "customField is required with customValue");
    if (*req->external_system && !*req->external_id)
        return contacts_fail(err, CRM_EINVALID, "externalId", "externalId is required with externalSystem");
    if (*req->external_id && !*req->external_system)
        return contacts_fail(err, CRM_EINVALID, "externalSystem", "externalSystem is required with externalId");
    phone[0] = '\0';
    if (*req->phone && contacts_phone_normalise(req->phone, phone, CONTACTS_PHONE_SIZE))
        return contacts_fail(err, CRM_EINVALID, "phone",
                             "phone must be in international form, such as +49 30 1234567");
    *q = (contacts_query_t) {
        .name_prefix = req->name_prefix, .email = req->email, .phone = phone, .tag = req->tag,
        .value_tier = (int) req->value_tier, .need_type = (int) req->need_type,
        .lifecycle_stage = (int) req->lifecycle_stage, .owner = req->owner,
        .custom_field = req->custom_field, .custom_value = req->custom_value,
        .external_system = req->external_system, .external_id = req->external_id,
    };
    return 0;
}

void
contacts_search_customers(contacts_t *self, Crm__V1__SearchCustomersRequest *req, contacts_reply_t *reply)
{
    contacts_err_t err = { 0 };
    contacts_query_t q;
    char phone[CONTACTS_PHONE_SIZE];
    contacts_page_t page = { 0 };
    crm_txn_t *txn = NULL;
    int rc = s_search_query(req, &q, phone, &err);
    if (rc == 0 && (rc = crm_store_read_begin(self->store, &txn)) == 0) {
        rc = contacts_customer_search(&self->db, txn, &q, req->page_token, req->page_size, &page, &err);
        crm_store_txn_end(&txn);
    }
    if (rc) {
        s_reply_error(self, reply, CONTACTS_METHOD_SEARCH_CUSTOMERS, rc, &err);
        return;
    }
    Crm__V1__SearchCustomersReply out = CRM__V1__SEARCH_CUSTOMERS_REPLY__INIT;
    out.customers = (Crm__V1__Customer **) page.items;
    out.n_customers = page.count;
    out.next_page_token = page.next_token;
    s_reply_msg(self, reply, CONTACTS_METHOD_SEARCH_CUSTOMERS, &out.base);
    contacts_page_clear(&page);
}

/* --- Interactions and purchases */

typedef struct {
    contacts_t *self;
    const char *customer_id;
    Crm__V1__Interaction *interaction;
    contacts_err_t err;
} s_interaction_t;

static int
s_interaction_body(crm_txn_t *txn, void *arg)
{
    s_interaction_t *a = arg;
    return contacts_op_log_interaction(&a->self->ctx, txn, a->customer_id, a->interaction, &a->err);
}

void
contacts_log_interaction(contacts_t *self, Crm__V1__LogInteractionRequest *req, contacts_reply_t *reply)
{
    s_interaction_t a = { .self = self, .customer_id = req->customer_id };
    int rc = s_required(req->customer_id, "customerId", &a.err);
    if (rc == 0)
        rc = s_ensure((ProtobufCMessage **) &req->interaction, &crm__v1__interaction__descriptor);
    if (rc == 0) {
        a.interaction = req->interaction;
        rc = contacts_validate_interaction(a.interaction, &a.err);
    }
    if (rc == 0)
        rc = s_write(self, s_interaction_body, &a);
    if (rc) {
        s_reply_error(self, reply, CONTACTS_METHOD_LOG_INTERACTION, rc, &a.err);
        return;
    }
    Crm__V1__InteractionReply out = CRM__V1__INTERACTION_REPLY__INIT;
    out.interaction = a.interaction;
    s_reply_msg(self, reply, CONTACTS_METHOD_LOG_INTERACTION, &out.base);
}

typedef int (*s_list_fn)(const contacts_db_t *db, crm_txn_t *txn, const char *customer_id,
                         const char *page_token, uint32_t page_size, contacts_page_t *page,
                         contacts_err_t *err);

/* Reads one page of a customer's history; the customer must exist. */
static int
s_list(contacts_t *self, const Crm__V1__ListRequest *req, s_list_fn list, contacts_page_t *page,
       contacts_err_t *err)
{
    crm_txn_t *txn = NULL;
    Crm__V1__Customer *c = NULL;
    int rc = s_required(req->customer_id, "customerId", err);
    if (rc || (rc = crm_store_read_begin(self->store, &txn)))
        return rc;
    rc = contacts_customer_get(&self->db, txn, req->customer_id, &c);
    if (rc == CRM_ENOTFOUND)
        contacts_fail(err, rc, "customerId", "customer %.*s not found", S_ID_TEXT_MAX, req->customer_id);
    if (rc == 0)
        rc = list(&self->db, txn, req->customer_id, req->page_token, req->page_size, page, err);
    crm_store_txn_end(&txn);
    crm_codec_message_free((ProtobufCMessage **) &c);
    return rc;
}

void
contacts_list_interactions(contacts_t *self, Crm__V1__ListRequest *req, contacts_reply_t *reply)
{
    contacts_err_t err = { 0 };
    contacts_page_t page = { 0 };
    int rc = s_list(self, req, contacts_interaction_list, &page, &err);
    if (rc) {
        s_reply_error(self, reply, CONTACTS_METHOD_LIST_INTERACTIONS, rc, &err);
        return;
    }
    Crm__V1__ListInteractionsReply out = CRM__V1__LIST_INTERACTIONS_REPLY__INIT;
    out.interactions = (Crm__V1__Interaction **) page.items;
    out.n_interactions = page.count;
    out.next_page_token = page.next_token;
    s_reply_msg(self, reply, CONTACTS_METHOD_LIST_INTERACTIONS, &out.base);
    contacts_page_clear(&page);
}

typedef struct {
    contacts_t *self;
    const char *customer_id;
    Crm__V1__Purchase *purchase;
    contacts_err_t err;
} s_purchase_t;

static int
s_purchase_body(crm_txn_t *txn, void *arg)
{
    s_purchase_t *a = arg;
    return contacts_op_record_purchase(&a->self->ctx, txn, a->customer_id, a->purchase, false, NULL,
                                       &a->err);
}

void
contacts_record_purchase(contacts_t *self, Crm__V1__RecordPurchaseRequest *req, contacts_reply_t *reply)
{
    s_purchase_t a = { .self = self, .customer_id = req->customer_id };
    int rc = s_required(req->customer_id, "customerId", &a.err);
    if (rc == 0)
        rc = s_ensure((ProtobufCMessage **) &req->purchase, &crm__v1__purchase__descriptor);
    if (rc == 0) {
        a.purchase = req->purchase;
        rc = contacts_validate_purchase(a.purchase, &a.err);
    }
    if (rc == 0)
        rc = s_write(self, s_purchase_body, &a);
    if (rc) {
        s_reply_error(self, reply, CONTACTS_METHOD_RECORD_PURCHASE, rc, &a.err);
        return;
    }
    Crm__V1__PurchaseReply out = CRM__V1__PURCHASE_REPLY__INIT;
    out.purchase = a.purchase;
    s_reply_msg(self, reply, CONTACTS_METHOD_RECORD_PURCHASE, &out.base);
}

void
contacts_list_purchases(contacts_t *self, Crm__V1__ListRequest *req, contacts_reply_t *reply)
{
    contacts_err_t err = { 0 };
    contacts_page_t page = { 0 };
    int rc = s_list(self, req, contacts_purchase_list, &page, &err);
    if (rc) {
        s_reply_error(self, reply, CONTACTS_METHOD_LIST_PURCHASES, rc, &err);
        return;
    }
    Crm__V1__ListPurchasesReply out = CRM__V1__LIST_PURCHASES_REPLY__INIT;
    out.purchases = (Crm__V1__Purchase **) page.items;
    out.n_purchases = page.count;
    out.next_page_token = page.next_token;
    s_reply_msg(self, reply, CONTACTS_METHOD_LIST_PURCHASES, &out.base);
    contacts_page_clear(&page);
}

typedef struct {
    contacts_t *self;
    const Crm__V1__RefundPurchaseRequest *req;
    Crm__V1__Refund *refund;
    Crm__V1__Purchase *purchase;       /* as stored after the refund */
    contacts_err_t err;
} s_refund_t;

static int
s_refund_body(crm_txn_t *txn, void *arg)
{
    s_refund_t *a = arg;
    bool repeated = false;
    crm_codec_message_free((ProtobufCMessage **) &a->purchase);
    int rc = contacts_purchase_get(&a->self->db, txn, a->req->purchase_id, &a->purchase);
    if (rc == 0 && strcmp(a->purchase->customer_id, a->req->customer_id) != 0)
        rc = CRM_ENOTFOUND;
    if (rc == CRM_ENOTFOUND)
        return contacts_fail(&a->err, rc, "purchaseId", "purchase %.*s of customer %.*s not found",
                             S_ID_TEXT_MAX, a->req->purchase_id, S_ID_TEXT_MAX, a->req->customer_id);
    if (rc)
        return rc;
    return contacts_op_refund(&a->self->ctx, txn, &a->purchase, a->refund, &repeated, &a->err);
}

void
contacts_refund_purchase(contacts_t *self, Crm__V1__RefundPurchaseRequest *req, contacts_reply_t *reply)
{
    s_refund_t a = { .self = self, .req = req };
    int rc = s_required(req->customer_id, "customerId", &a.err);
    if (rc == 0)
        rc = s_required(req->purchase_id, "purchaseId", &a.err);
    if (rc == 0)
        rc = s_ensure((ProtobufCMessage **) &req->refund, &crm__v1__refund__descriptor);
    if (rc == 0) {
        a.refund = req->refund;
        rc = contacts_validate_refund(a.refund, &a.err);
    }
    if (rc == 0)
        rc = s_write(self, s_refund_body, &a);
    if (rc) {
        s_reply_error(self, reply, CONTACTS_METHOD_REFUND_PURCHASE, rc, &a.err);
    } else {
        Crm__V1__PurchaseReply out = CRM__V1__PURCHASE_REPLY__INIT;
        out.purchase = a.purchase;
        s_reply_msg(self, reply, CONTACTS_METHOD_REFUND_PURCHASE, &out.base);
    }
    crm_codec_message_free((ProtobufCMessage **) &a.purchase);
}

typedef struct {
    contacts_t *self;
    const Crm__V1__MergeCustomersRequest *req;
    Crm__V1__Customer *out;
    contacts_err_t err;
} s_merge_t;

static int
s_merge_body(crm_txn_t *txn, void *arg)
{
    s_merge_t *a = arg;
    crm_codec_message_free((ProtobufCMessage **) &a->out);
    return contacts_op_merge(&a->self->ctx, txn, a->req->survivor_id, a->req->merged_id, &a->out, &a->err);
}

void
contacts_merge_customers(contacts_t *self, Crm__V1__MergeCustomersRequest *req, contacts_reply_t *reply)
{
    s_merge_t a = { .self = self, .req = req };
    int rc = s_required(req->survivor_id, "survivorId", &a.err);
    if (rc == 0)
        rc = s_required(req->merged_id, "mergedId", &a.err);
    if (rc == 0)
        rc = s_write(self, s_merge_body, &a);
    if (rc) {
        s_reply_error(self, reply, CONTACTS_METHOD_MERGE_CUSTOMERS, rc, &a.err);
    } else {
        Crm__V1__CustomerReply out = CRM__V1__CUSTOMER_REPLY__INIT;
        out.customer = a.out;
        s_reply_msg(self, reply, CONTACTS_METHOD_MERGE_CUSTOMERS, &out.base);
    }
    crm_codec_message_free((ProtobufCMessage **) &a.out);
}

/* --- The method table */

typedef void (*s_handler_fn)(contacts_t *self, ProtobufCMessage *req, contacts_reply_t *reply);

#define S_HANDLER(fn, type)                                                            \
    static void s_##fn(contacts_t *self, ProtobufCMessage *req, contacts_reply_t *reply) \
    {                                                                                  \
        fn(self, (type *) req, reply);                                                 \
    }
S_HANDLER(contacts_create_customer, Crm__V1__CreateCustomerRequest)
S_HANDLER(contacts_get_customer, Crm__V1__GetCustomerRequest)
S_HANDLER(contacts_update_customer, Crm__V1__UpdateCustomerRequest)
S_HANDLER(contacts_delete_customer, Crm__V1__DeleteCustomerRequest)
S_HANDLER(contacts_search_customers, Crm__V1__SearchCustomersRequest)
S_HANDLER(contacts_log_interaction, Crm__V1__LogInteractionRequest)
S_HANDLER(contacts_list_interactions, Crm__V1__ListRequest)
S_HANDLER(contacts_record_purchase, Crm__V1__RecordPurchaseRequest)
S_HANDLER(contacts_list_purchases, Crm__V1__ListRequest)
S_HANDLER(contacts_refund_purchase, Crm__V1__RefundPurchaseRequest)
S_HANDLER(contacts_merge_customers, Crm__V1__MergeCustomersRequest)

static const struct {
    const char *method;
    const ProtobufCMessageDescriptor *request;
    s_handler_fn fn;
} s_methods[] = {
    { CONTACTS_METHOD_CREATE_CUSTOMER, &crm__v1__create_customer_request__descriptor, s_contacts_create_customer },
    { CONTACTS_METHOD_GET_CUSTOMER, &crm__v1__get_customer_request__descriptor, s_contacts_get_customer },
    { CONTACTS_METHOD_UPDATE_CUSTOMER, &crm__v1__update_customer_request__descriptor, s_contacts_update_customer },
    { CONTACTS_METHOD_DELETE_CUSTOMER, &crm__v1__delete_customer_request__descriptor, s_contacts_delete_customer },
    { CONTACTS_METHOD_SEARCH_CUSTOMERS, &crm__v1__search_customers_request__descriptor, s_contacts_search_customers },
    { CONTACTS_METHOD_LOG_INTERACTION, &crm__v1__log_interaction_request__descriptor, s_contacts_log_interaction },
    { CONTACTS_METHOD_LIST_INTERACTIONS, &crm__v1__list_request__descriptor, s_contacts_list_interactions },
    { CONTACTS_METHOD_RECORD_PURCHASE, &crm__v1__record_purchase_request__descriptor, s_contacts_record_purchase },
    { CONTACTS_METHOD_LIST_PURCHASES, &crm__v1__list_request__descriptor, s_contacts_list_purchases },
    { CONTACTS_METHOD_REFUND_PURCHASE, &crm__v1__refund_purchase_request__descriptor, s_contacts_refund_purchase },
    { CONTACTS_METHOD_MERGE_CUSTOMERS, &crm__v1__merge_customers_request__descriptor, s_contacts_merge_customers },
};

void
contacts_handle(contacts_t *self, const char *method, const void *body, size_t len,
                contacts_reply_t *reply)
{
    for (size_t i = 0; i < sizeof s_methods / sizeof s_methods[0]; i++) {
        if (strcmp(s_methods[i].method, method) != 0)
            continue;
        ProtobufCMessage *req = NULL;
        crm_codec_error_t cerr = { .path = "", .message = "" };
        int rc = crm_codec_pb_decode(s_methods[i].request, body, len, &req, &cerr);
        if (rc) {
            int code = rc == CRM_ETOOBIG ? CRM_ETOOBIG : CRM_EINVALID;
            contacts_err_t err;
            contacts_fail(&err, code, cerr.path, "the request body is not a valid %s: %s",
                          s_methods[i].request->name, cerr.message);
            s_reply_error(self, reply, method, code, &err);
            return;
        }
        s_methods[i].fn(self, req, reply);
        crm_codec_message_free(&req);
        return;
    }
    reply->status = CRM_RPC_UNKNOWN_METHOD;
    contacts_fail(&reply->err, CRM_ENOTFOUND, "", "unknown method %.*s", CRM_RPC_METHOD_SIZE, method);
}

/* --- Consumed events */

int
contacts_on_order_placed(contacts_t *self, crm_txn_t *txn, const Crm__V1__Event *env,
                         Crm__V1__OrderPlaced *msg, contacts_err_t *err)
{
    Crm__V1__Purchase view = CRM__V1__PURCHASE__INIT;
    Crm__V1__Purchase *p = NULL, *existing = NULL;
    char id[CRM_ID_SIZE];
    int rc = s_required(msg->order_id, "orderId", err);
    if (rc)
        return rc;
    view.order_id = msg->order_id;
    view.amount_minor = msg->amount_minor;
    view.currency = msg->currency;
    view.n_items = msg->n_items;
    view.items = msg->items;
    view.purchased_at = msg->placed_at ? msg->placed_at : env->time;
    if ((rc = contacts_validate_purchase(&view, err)))
        return rc;
    /* The same order twice earns once: a recorded order is a no-op, whoever it names. */
    rc = contacts_purchase_find_order(&self->db, txn, msg->order_id, &existing);
    crm_codec_message_free((ProtobufCMessage **) &existing);
    if (rc != CRM_ENOTFOUND)
        return rc;
    if ((rc = contacts_op_resolve(&self->ctx, txn, msg->customer, true, id, err))
        || (rc = contacts_message_copy(&view.base, (ProtobufCMessage **) &p)))
        return rc;
    rc = contacts_op_record_purchase(&self->ctx, txn, id, p, true, NULL, err);
    crm_codec_message_free((ProtobufCMessage **) &p);
    return rc;
}

int
contacts_on_order_refunded(contacts_t *self, crm_txn_t *txn, const Crm__V1__Event *env,
                           Crm__V1__OrderRefunded *msg, contacts_err_t *err)
{
    Crm__V1__Refund view = CRM__V1__REFUND__INIT;
    Crm__V1__Refund *r = NULL;
    Crm__V1__Purchase *p = NULL;
    bool repeated = false;
    int rc = s_required(msg->order_id, "orderId", err);
    if (rc)
        return rc;
    view.id = *msg->refund_id ? msg->refund_id : env->id;
    view.amount_minor = msg->amount_minor;
    view.reason = msg->reason;
    view.refunded_at = msg->refunded_at ? msg->refunded_at : env->time;
    if ((rc = contacts_validate_refund(&view, err)))
        return rc;
    rc = contacts_purchase_find_order(&self->db, txn, msg->order_id, &p);
    if (rc == CRM_ENOTFOUND)
        return contacts_fail(err, CRM_EINVALID, "orderId", "order %s is not recorded", msg->order_id);
    if (rc)
        return rc;
    if (*msg->currency && strcmp(msg->currency, p->currency) != 0)
        rc = contacts_fail(err, CRM_EINVALID, "currency", "currency %s differs from the order's %s",
                           msg->currency, p->currency);
    if (rc == 0 && (rc = contacts_message_copy(&view.base, (ProtobufCMessage **) &r)) == 0)
        rc = contacts_op_refund(&self->ctx, txn, &p, r, &repeated, err);
    crm_codec_message_free((ProtobufCMessage **) &r);
    crm_codec_message_free((ProtobufCMessage **) &p);
    return rc;
}

int
contacts_on_interaction_logged(contacts_t *self, crm_txn_t *txn, const Crm__V1__Event *env,
                               Crm__V1__InteractionReported *msg, contacts_err_t *err)
{
    Crm__V1__Interaction view = CRM__V1__INTERACTION__INIT;
    Crm__V1__Interaction *it = NULL;
    char id[CRM_ID_SIZE];
    view.channel = msg->channel;
    view.direction = msg->direction;
    view.summary = msg->summary;
    view.agent = msg->agent;
    view.occurred_at = msg->occurred_at ? msg->occurred_at : env->time;
    int rc = contacts_validate_interaction(&view, err);
    if (rc || (rc = contacts_op_resolve(&self->ctx, txn, msg->customer, true, id, err))
        || (rc = contacts_message_copy(&view.base, (ProtobufCMessage **) &it)))
        return rc;
    rc = contacts_op_log_interaction(&self->ctx, txn, id, it, err);
    crm_codec_message_free((ProtobufCMessage **) &it);
    return rc;
}

int
contacts_on_customer_upserted(contacts_t *self, crm_txn_t *txn, const Crm__V1__Event *env,
                              Crm__V1__CustomerUpserted *msg, contacts_err_t *err)
{
    (void) env;
    if (!msg->customer)
        return contacts_fail(err, CRM_EINVALID, "customer", "customer is required");
    return contacts_op_upsert(&self->ctx, txn, msg->customer, NULL, err);
}

int
contacts_on_complaint_filed(contacts_t *self, crm_txn_t *txn, const Crm__V1__Event *env,
                            Crm__V1__ComplaintFiled *msg, contacts_err_t *err)
{
    Crm__V1__ComplaintReceived c = CRM__V1__COMPLAINT_RECEIVED__INIT;
    char id[CRM_ID_SIZE];
    int rc = contacts_op_resolve(&self->ctx, txn, msg->customer, true, id, err);
    if (rc)
        return rc;
    c.customer_id = id;
    c.event_id = env->id;
    c.source = env->source;
    c.category = msg->category;
    c.priority = msg->priority;
    c.subject = msg->subject;
    c.text = msg->text;
    c.channel = msg->channel;
    c.n_attachments = msg->n_attachments;
    c.attachments = msg->attachments;
    c.occurred_at = msg->occurred_at ? msg->occurred_at : env->time;
    rc = contacts_op_file_complaint(&self->ctx, txn, &c, err);
    free(c.interaction_id != protobuf_c_empty_string ? c.interaction_id : NULL);
    return rc;
}

typedef int (*s_ingest_fn)(contacts_t *self, crm_txn_t *txn, const Crm__V1__Event *env,
                           ProtobufCMessage *msg, contacts_err_t *err);

#define S_INGEST(fn, type)                                                                   \
    static int s_##fn(contacts_t *self, crm_txn_t *txn, const Crm__V1__Event *env,             \
                      ProtobufCMessage *msg, contacts_err_t *err)                            \
    {                                                                                        \
        return fn(self, txn, env, (type *) msg, err);                                        \
    }
S_INGEST(contacts_on_order_placed, Crm__V1__OrderPlaced)
S_INGEST(contacts_on_order_refunded, Crm__V1__OrderRefunded)
S_INGEST(contacts_on_interaction_logged, Crm__V1__InteractionReported)
S_INGEST(contacts_on_customer_upserted, Crm__V1__CustomerUpserted)
S_INGEST(contacts_on_complaint_filed, Crm__V1__ComplaintFiled)

static const struct {
    const char *topic;
    const ProtobufCMessageDescriptor *data;
    s_ingest_fn fn;
} s_ingest[] = {
    { CONTACTS_INGEST_ORDER_PLACED, &crm__v1__order_placed__descriptor, s_contacts_on_order_placed },
    { CONTACTS_INGEST_ORDER_REFUNDED, &crm__v1__order_refunded__descriptor, s_contacts_on_order_refunded },
    { CONTACTS_INGEST_INTERACTION_LOGGED, &crm__v1__interaction_reported__descriptor, s_contacts_on_interaction_logged },
    { CONTACTS_INGEST_CUSTOMER_UPSERTED, &crm__v1__customer_upserted__descriptor, s_contacts_on_customer_upserted },
    { CONTACTS_INGEST_COMPLAINT_FILED, &crm__v1__complaint_filed__descriptor, s_contacts_on_complaint_filed },
};

int
contacts_apply_ingest(crm_txn_t *txn, const crm_bus_event_t *event, void *arg)
{
    contacts_t *self = arg;
    size_t i = 0;
    for (; i < sizeof s_ingest / sizeof s_ingest[0]; i++)
        if (strlen(s_ingest[i].topic) == event->topic_len
            && memcmp(s_ingest[i].topic, event->topic, event->topic_len) == 0)
            break;
    if (i == sizeof s_ingest / sizeof s_ingest[0])
        return 0;      /* another service's ingest event */
    contacts_err_t err = { 0 };
    Crm__V1__Event *env = NULL;
    ProtobufCMessage *msg = NULL;
    int rc = crm_event_decode(event->payload, event->payload_len, &env);
    if (rc)
        rc = contacts_fail(&err, CRM_EINVALID, "", "not a valid event envelope");
    if (rc == 0 && crm_event_data(env, s_ingest[i].data, &msg) != 0)
        rc = contacts_fail(&err, CRM_EINVALID, "data", "the data is not a valid %s", s_ingest[i].data->name);
    if (rc == 0)
        rc = s_ingest[i].fn(self, txn, env, msg, &err);
    if (rc && contacts_op_client_error(rc)) {
        if (err.code != rc)
            contacts_fail(&err, rc, "", "%s", crm_strerror(rc));
        if (self->log)
            crm_log_warn(self->log, "ingest event refused", "topic", s_ingest[i].topic,
                         "id", env ? env->id : "", "source", env ? env->source : "",
                         "field", err.field, "error", err.message);
        rc = CRM_EINVALID;
    } else if (rc && rc != CRM_EMAPFULL && self->log) {
        crm_log_error(self->log, "ingest event failed, to be retried", "topic", s_ingest[i].topic,
                      "error", crm_errname(rc));
    }
    crm_codec_message_free(&msg);
    crm_event_destroy(&env);
    return rc;
}

int
contacts_apply_analytics(crm_txn_t *txn, const crm_bus_event_t *event, void *arg)
{
    contacts_t *self = arg;
    bool segment = crm_bus_topic_matches(event->topic, event->topic_len, CONTACTS_ANALYTICS_SEGMENT_CHANGED)
                   && event->topic_len == strlen(CONTACTS_ANALYTICS_SEGMENT_CHANGED);
    bool stage = crm_bus_topic_matches(event->topic, event->topic_len, CONTACTS_ANALYTICS_STAGE_CHANGED)
                 && event->topic_len == strlen(CONTACTS_ANALYTICS_STAGE_CHANGED);
    if (!segment && !stage)
        return 0;
    const ProtobufCMessageDescriptor *desc = segment ? &crm__v1__segment_changed__descriptor
                                                     : &crm__v1__stage_changed__descriptor;
    contacts_err_t err = { 0 };
    Crm__V1__Event *env = NULL;
    ProtobufCMessage *msg = NULL;
    int rc = crm_event_decode(event->payload, event->payload_len, &env);
    if (rc == 0 && crm_event_data(env, desc, &msg) != 0)
        rc = CRM_EINVALID;
    if (rc == 0 && segment) {
        const Crm__V1__SegmentChanged *m = (const Crm__V1__SegmentChanged *) msg;
        rc = contacts_op_apply_analysis(&self->ctx, txn, m->customer_id, m->value_tier,
                                        CRM__V1__LIFECYCLE_STAGE__LIFECYCLE_STAGE_UNSPECIFIED, false, &err);
    } else if (rc == 0) {
        const Crm__V1__StageChanged *m = (const Crm__V1__StageChanged *) msg;
        rc = contacts_op_apply_analysis(&self->ctx, txn, m->customer_id,
                                        CRM__V1__VALUE_TIER__VALUE_TIER_UNSPECIFIED, m->stage, m->won_back, &err);
    }
    if (rc == CRM_ENOTFOUND)
        rc = 0;                    /* deleted or merged away since */
    else if (rc && contacts_op_client_error(rc)) {
        if (self->log)
            crm_log_warn(self->log, "analytics event refused", "id", env ? env->id : "",
                         "error", *err.message ? err.message : crm_strerror(rc));
        rc = CRM_EINVALID;
    }
    crm_codec_message_free(&msg);
    crm_event_destroy(&env);
    return rc;
}
