/* contacts_handlers.h: one function per request method and per consumed event of the contacts service. */
#ifndef CONTACTS_HANDLERS_H
#define CONTACTS_HANDLERS_H

#include <stddef.h>
#include <stdint.h>

#include "crm/v1/contacts_api.pb-c.h"
#include "crm/v1/envelope.pb-c.h"
#include "crm/v1/ingest.pb-c.h"
#include "crm_bus.h"
#include "crm_id.h"
#include "crm_log.h"
#include "crm_outbox.h"
#include "crm_rpc.h"
#include "crm_service.h"
#include "crm_store.h"
#include "contacts_ops.h"
#include "contacts_record.h"

/* Request methods ("contacts.Ping" is answered by the service skeleton). Bodies are the
 * messages of proto/crm/v1/contacts_api.proto. */
#define CONTACTS_METHOD_CREATE_CUSTOMER    "contacts.CreateCustomer"
#define CONTACTS_METHOD_GET_CUSTOMER       "contacts.GetCustomer"
#define CONTACTS_METHOD_UPDATE_CUSTOMER    "contacts.UpdateCustomer"
#define CONTACTS_METHOD_DELETE_CUSTOMER    "contacts.DeleteCustomer"
#define CONTACTS_METHOD_SEARCH_CUSTOMERS   "contacts.SearchCustomers"
#define CONTACTS_METHOD_LOG_INTERACTION    "contacts.LogInteraction"
#define CONTACTS_METHOD_LIST_INTERACTIONS  "contacts.ListInteractions"
#define CONTACTS_METHOD_RECORD_PURCHASE    "contacts.RecordPurchase"
#define CONTACTS_METHOD_LIST_PURCHASES     "contacts.ListPurchases"
#define CONTACTS_METHOD_REFUND_PURCHASE    "contacts.RefundPurchase"
#define CONTACTS_METHOD_MERGE_CUSTOMERS    "contacts.MergeCustomers"

/* Events consumed from the gateway's ingest log (prefix CONTACTS_INGEST_PREFIX). */
#define CONTACTS_INGEST_PREFIX             "crm.ingest."
#define CONTACTS_INGEST_ORDER_PLACED       "crm.ingest.order.placed.v1"
#define CONTACTS_INGEST_ORDER_REFUNDED     "crm.ingest.order.refunded.v1"
#define CONTACTS_INGEST_INTERACTION_LOGGED "crm.ingest.interaction.logged.v1"
#define CONTACTS_INGEST_CUSTOMER_UPSERTED  "crm.ingest.customer.upserted.v1"
#define CONTACTS_INGEST_COMPLAINT_FILED    "crm.ingest.complaint.filed.v1"

/* Events consumed from the analytics service (prefix CONTACTS_ANALYTICS_PREFIX). */
#define CONTACTS_ANALYTICS_PREFIX          "crm.analytics.customer."
#define CONTACTS_ANALYTICS_SEGMENT_CHANGED "crm.analytics.customer.segment_changed.v1"
#define CONTACTS_ANALYTICS_STAGE_CHANGED   "crm.analytics.customer.stage_changed.v1"

#define CONTACTS_SOURCE_MAX 128

typedef struct contacts contacts_t;

/* The answer to one request: status, and on error the sentence, the field and the conflicting
 * record; on success the packed reply message. */
typedef struct {
    crm_rpc_status_t status;
    contacts_err_t err;
    void *body;                   /* owned; free with contacts_reply_clear */
    size_t body_len;
} contacts_reply_t;

/* Frees the reply's body and zeroes it. Safe on a zeroed reply. */
void contacts_reply_clear(contacts_reply_t *reply);

/* Makes the handlers over store, outbox and ids (all borrowed; they must outlive the handlers),
 * raising events with source ("/crm/contacts") and deriving stages with settings (copied). Opens
 * the service's databases, so call it at start-up before any other transaction is open.
 * Writes go through crm_store_write and crm_outbox_notify until contacts_set_service is called.
 * Returns 0 and sets *self_p (caller destroys), CRM_EINVALID (bad settings or source), CRM_ENOMEM
 * or a store error. */
int contacts_new(crm_store_t *store, crm_outbox_t *outbox, crm_id_gen_t *ids, const char *source,
                 const contacts_settings_t *settings, contacts_t **self_p);

/* Frees the handlers. Safe on NULL; sets *self_p to NULL. */
void contacts_destroy(contacts_t **self_p);

/* From now on, writes go through crm_service_write and errors are logged to the service's log
 * (both borrowed). */
void contacts_set_service(contacts_t *self, crm_service_t *svc);

/* The databases and the context of the operations (borrowed, for tests and tools). */
const contacts_db_t *contacts_db(const contacts_t *self);
const contacts_ctx_t *contacts_ctx(const contacts_t *self);

/* Decodes body (len bytes, a packed request message of method) and runs the method's handler.
 * Unknown methods get CRM_RPC_UNKNOWN_METHOD, undecodable bodies CRM_RPC_INVALID. *reply must be
 * zeroed; the caller clears it. */
void contacts_handle(contacts_t *self, const char *method, const void *body, size_t len,
                     contacts_reply_t *reply);

/* --- One function per method. Each takes the decoded request (modified while validating it:
 * still the caller's) and fills *reply (zeroed by the caller): CRM_RPC_OK with the reply message
 * (CustomerReply, DeleteCustomerReply, SearchCustomersReply, InteractionReply,
 * ListInteractionsReply, PurchaseReply or ListPurchasesReply), or INVALID, NOT_FOUND, CONFLICT,
 * PRECONDITION_FAILED or INTERNAL with reply->err filled. */
void contacts_create_customer(contacts_t *self, Crm__V1__CreateCustomerRequest *req, contacts_reply_t *reply);
void contacts_get_customer(contacts_t *self, Crm__V1__GetCustomerRequest *req, contacts_reply_t *reply);
void contacts_update_customer(contacts_t *self, Crm__V1__UpdateCustomerRequest *req, contacts_reply_t *reply);
void contacts_delete_customer(contacts_t *self, Crm__V1__DeleteCustomerRequest *req, contacts_reply_t *reply);
void contacts_search_customers(contacts_t *self, Crm__V1__SearchCustomersRequest *req, contacts_reply_t *reply);
void contacts_log_interaction(contacts_t *self, Crm__V1__LogInteractionRequest *req, contacts_reply_t *reply);
void contacts_list_interactions(contacts_t *self, Crm__V1__ListRequest *req, contacts_reply_t *reply);
void contacts_record_purchase(contacts_t *self, Crm__V1__RecordPurchaseRequest *req, contacts_reply_t *reply);
void contacts_list_purchases(contacts_t *self, Crm__V1__ListRequest *req, contacts_reply_t *reply);
void contacts_refund_purchase(contacts_t *self, Crm__V1__RefundPurchaseRequest *req, contacts_reply_t *reply);
void contacts_merge_customers(contacts_t *self, Crm__V1__MergeCustomersRequest *req, contacts_reply_t *reply);

/* --- Consumed events */

/* The subscriber's apply function (arg is the contacts_t) for the gateway's "crm.ingest." events:
 * decodes the envelope and calls the handler for its topic, in txn. Other topics are skipped.
 * Returns 0, CRM_EINVALID for an event that cannot be applied (it is dead-lettered; the reason is
 * logged), or an internal error (retried). */
int contacts_apply_ingest(crm_txn_t *txn, const crm_bus_event_t *event, void *arg);

/* The subscriber's apply function (arg is the contacts_t) for analytics' "crm.analytics.customer."
 * events: segment_changed sets the value tier, stage_changed the at-risk and churned stages (see
 * contacts_op_apply_analysis). Events about customers no longer here are skipped. Returns as
 * contacts_apply_ingest. */
int contacts_apply_analytics(crm_txn_t *txn, const crm_bus_event_t *event, void *arg);

/* One function per ingest event type; each returns as contacts_apply_ingest (err says why when
 * CRM_EINVALID). The payloads are the caller's and may be modified.
 * order.placed: a purchase for the customer the ref names (created from its email or external id
 *   when unknown); an order id already recorded is a no-op.
 * order.refunded: a refund of the order's purchase; refund_id (else the event id) makes it
 *   idempotent; an unknown order is CRM_EINVALID.
 * interaction.logged: an interaction for the customer the ref names (created as above).
 * customer.upserted: see contacts_op_upsert. */
int contacts_on_order_placed(contacts_t *self, crm_txn_t *txn, const Crm__V1__Event *env,
                             Crm__V1__OrderPlaced *msg, contacts_err_t *err);
int contacts_on_order_refunded(contacts_t *self, crm_txn_t *txn, const Crm__V1__Event *env,
                               Crm__V1__OrderRefunded *msg, contacts_err_t *err);
int contacts_on_interaction_logged(contacts_t *self, crm_txn_t *txn, const Crm__V1__Event *env,
                                   Crm__V1__InteractionReported *msg, contacts_err_t *err);
int contacts_on_customer_upserted(contacts_t *self, crm_txn_t *txn, const Crm__V1__Event *env,
                                  Crm__V1__CustomerUpserted *msg, contacts_err_t *err);
int contacts_on_complaint_filed(contacts_t *self, crm_txn_t *txn, const Crm__V1__Event *env,
                                Crm__V1__ComplaintFiled *msg, contacts_err_t *err);

#endif
