/* contacts_ops.h: the changes the contacts service makes, each inside one write transaction with the events it raises. */
#ifndef CONTACTS_OPS_H
#define CONTACTS_OPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crm/v1/contacts.pb-c.h"
#include "crm/v1/ingest.pb-c.h"
#include "crm_id.h"
#include "crm_outbox.h"
#include "crm_store.h"
#include "contacts_record.h"
#include "contacts_validate.h"

/* Events raised (the bus topic is the type; the subject is the customer id). */
#define CONTACTS_EVENT_CUSTOMER_CREATED    "crm.contacts.customer.created.v1"
#define CONTACTS_EVENT_CUSTOMER_UPDATED    "crm.contacts.customer.updated.v1"
#define CONTACTS_EVENT_CUSTOMER_MERGED     "crm.contacts.customer.merged.v1"
#define CONTACTS_EVENT_CUSTOMER_DELETED    "crm.contacts.customer.deleted.v1"
#define CONTACTS_EVENT_INTERACTION_LOGGED  "crm.contacts.interaction.logged.v1"
#define CONTACTS_EVENT_PURCHASE_RECORDED   "crm.contacts.purchase.recorded.v1"
#define CONTACTS_EVENT_PURCHASE_REFUNDED   "crm.contacts.purchase.refunded.v1"
#define CONTACTS_EVENT_COMPLAINT_RECEIVED  "crm.contacts.complaint.received.v1"

#define CONTACTS_UPDATE_MASK_MAX 64        /* paths in one update_mask */
#define CONTACTS_COMPLAINT_SUMMARY_MAX 200 /* bytes of a filed complaint kept as its interaction's summary */

/* What every operation works with; all borrowed. */
typedef struct {
    const contacts_db_t *db;
    crm_outbox_t *outbox;
    crm_id_gen_t *ids;
    const char *source;                    /* event source, "/crm/contacts" */
    const contacts_settings_t *settings;
} contacts_ctx_t;

/* Every operation below runs inside a write transaction txn (a crm_store_write body or a
 * subscriber's apply function), may run again for the same input after an abort, and writes its
 * events to the outbox in txn. Each returns 0; a client error with err filled: CRM_EINVALID,
 * CRM_ENOTFOUND, CRM_ECONFLICT (err->conflict_id names the other record) or CRM_ESTALE; or an
 * internal error (CRM_ENOMEM, store errors such as CRM_EMAPFULL, which must reach crm_store_write). */

/* Returns true for the codes that are the client's doing (see above). */
bool contacts_op_client_error(int rc);

/* Stores the new customer c (validated with contacts_validate_customer): sets its id, version 1,
 * created and updated times, purchase count 0 and stage prospect (an at_risk or churned stage given
 * is kept). c is modified in place and then is the stored record. Raises customer.created. */
int contacts_op_create(const contacts_ctx_t *ctx, crm_txn_t *txn, Crm__V1__Customer *c,
                       contacts_err_t *err);

/* Changes the fields of customer id named in mask (lowerCamelCase paths: a top-level field, or
 * "address.<field>", "consent.<field>", "customFields.<name>") to their value in patch; a path
 * absent from patch is cleared. lifecycleStage may be set to at_risk or churned, or cleared to
 * the stage purchases earn. if_match (0: none) must equal the stored version. When something
 * changed, bumps the version and raises customer.updated. Sets *out (caller frees with
 * crm_codec_message_free) to the stored record. */
int contacts_op_update(const contacts_ctx_t *ctx, crm_txn_t *txn, const char *id,
                       const Crm__V1__Customer *patch, char *const *mask, size_t mask_len,
                       uint64_t if_match, Crm__V1__Customer **out, contacts_err_t *err);

/* Deletes customer id with its index entries, interactions and purchases; raises
 * customer.deleted. if_match as for contacts_op_update. */
int contacts_op_delete(const contacts_ctx_t *ctx, crm_txn_t *txn, const char *id, uint64_t if_match,
                       contacts_err_t *err);

/* Merges merged_id into survivor_id: moves its interactions and purchases, unions tags,
 * interests, external ids and custom fields, fills the survivor's empty fields, recounts
 * purchases and the stage, deletes merged_id; raises customer.merged. Sets *out (caller frees) to
 * the survivor as stored. */
int contacts_op_merge(const contacts_ctx_t *ctx, crm_txn_t *txn, const char *survivor_id,
                      const char *merged_id, Crm__V1__Customer **out, contacts_err_t *err);

/* Logs interaction it (validated) for customer_id: sets its id, customerId, occurredAt (now when
 * unset) and recordedAt in place; raises interaction.logged. */
int contacts_op_log_interaction(const contacts_ctx_t *ctx, crm_txn_t *txn, const char *customer_id,
                                Crm__V1__Interaction *it, contacts_err_t *err);

/* Files complaint c (from ingest; customer_id, subject/text and channel already set) for its
 * customer: logs it as an inbound interaction (summary: the subject, else the start of the text),
 * sets c->interaction_id (allocated: the caller frees it), and raises CONTACTS_EVENT_COMPLAINT_RECEIVED with c. CRM_ENOTFOUND when
 * the customer does not exist. */
int contacts_op_file_complaint(const contacts_ctx_t *ctx, crm_txn_t *txn,
                               Crm__V1__ComplaintReceived *c, contacts_err_t *err);

/* Applies what the analytics service found about customer id: tier (UNSPECIFIED: unchanged)
 * becomes its value tier; stage at_risk or churned becomes its stage; won_back puts a customer at
 * risk or churned back on the stage their purchases earn (a later purchase does the same). Other
 * stages are contacts' own and ignored. Raises customer.updated when something changed.
 * CRM_ENOTFOUND for an unknown customer. */
int contacts_op_apply_analysis(const contacts_ctx_t *ctx, crm_txn_t *txn, const char *id,
                               Crm__V1__ValueTier tier, Crm__V1__LifecycleStage stage, bool won_back,
                               contacts_err_t *err);

/* Records purchase p (validated) for customer_id: sets its id, customerId, orderId (its id when
 * empty), purchasedAt (now when unset) and recordedAt in place; updates the customer's purchase
 * count, last purchase time and stage (a purchase also ends at_risk and churned); raises
 * purchase.recorded (and customer.updated when the stage changed). An order id already recorded is
 * CRM_ECONFLICT (conflict_id: that purchase), or, with duplicate_ok, a no-op that sets *duplicate
 * (may be NULL otherwise). */
int contacts_op_record_purchase(const contacts_ctx_t *ctx, crm_txn_t *txn, const char *customer_id,
                                Crm__V1__Purchase *p, bool duplicate_ok, bool *duplicate,
                                contacts_err_t *err);

/* Refunds r (validated) from the purchase *p_p (as read in txn; replaced by the stored one): a
 * refund id already in the purchase with the same amount is a no-op that sets *repeated; with
 * another amount CRM_EINVALID. The refunds never exceed the amount. r's id (new when empty) and
 * refundedAt (now when unset) are set in place. When the purchase becomes fully refunded the
 * customer's count, last purchase time and stage follow. Raises purchase.refunded. */
int contacts_op_refund(const contacts_ctx_t *ctx, crm_txn_t *txn, Crm__V1__Purchase **p_p,
                       Crm__V1__Refund *r, bool *repeated, contacts_err_t *err);

/* Finds the customer an integrator names (customer id, else external id, else email). When none
 * matches and create is true and the ref has an email or external id, creates a minimal customer
 * with them (named after the email, or "<system> <id>"); when matched by email, an external id of
 * the ref that nobody holds is added to the customer. Writes the id into id_out. */
int contacts_op_resolve(const contacts_ctx_t *ctx, crm_txn_t *txn, const Crm__V1__CustomerRef *ref,
                        bool create, char id_out[CRM_ID_SIZE], contacts_err_t *err);

/* Upserts u (from customer.upserted): matched by any of its external ids, then its email; the
 * non-empty fields of u replace the customer's (external ids and custom fields are added to,
 * address and consent merged field by field); created when nothing matches. Server-assigned
 * fields and lifecycleStage of u are ignored. Sets *out (caller frees; may be NULL). */
int contacts_op_upsert(const contacts_ctx_t *ctx, crm_txn_t *txn, Crm__V1__Customer *u,
                       Crm__V1__Customer **out, contacts_err_t *err);

/* Copies a message (deeply, allocated part by part). Returns 0 with *out (caller frees with
 * crm_codec_message_free) or CRM_ENOMEM. */
int contacts_message_copy(const ProtobufCMessage *msg, ProtobufCMessage **out);

#endif
