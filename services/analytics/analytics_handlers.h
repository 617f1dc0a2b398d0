/* analytics_handlers.h: one function per request method ("analytics.<Method>") and per consumed event of contacts, loyalty and feedback. */
#ifndef ANALYTICS_HANDLERS_H
#define ANALYTICS_HANDLERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crm_bus.h"
#include "crm_rpc.h"
#include "crm_store.h"
#include "analytics_ctx.h"

#define ANALYTICS_METHOD_PREFIX     "analytics."
#define ANALYTICS_PAGE_SIZE_DEFAULT 50
#define ANALYTICS_PAGE_SIZE_MAX     500      /* a larger page_size is cut to this */
#define ANALYTICS_DEFAULT_DAYS      30       /* a period without `from`: this many days up to `to` */
#define ANALYTICS_ADMIN_ROLE        "admin"
#define ANALYTICS_PUBLISHERS        { "contacts", "loyalty", "feedback" }   /* cursor names (crm_service_name) */
#define ANALYTICS_PUBLISHER_COUNT   3
#define ANALYTICS_SEQ_SIZE          8        /* a cursor value: crm_bus_seq_encode's 8 bytes */

/* Who calls, as the gateway authenticated them. Strings are borrowed; "" when unknown. */
typedef struct {
    const char *key_id;
    const char *role;
} analytics_caller_t;

/* The answer to a request: the reply status, and the packed reply message when OK, or the error
 * sentence and the offending field (lowerCamelCase). restart: a rebuild was accepted, the
 * service should restart (once the answer is sent) to replay its publishers. */
typedef struct {
    crm_rpc_status_t status;
    char error[ANALYTICS_ERROR_MAX];
    char field[ANALYTICS_FIELD_MAX];
    uint8_t *body;                /* malloc'd; NULL when body_len is 0 */
    size_t body_len;
    bool restart;
} analytics_answer_t;

/* Frees the answer's body and zeroes it. Safe on a zeroed answer. */
void analytics_answer_clear(analytics_answer_t *ans);

/* Answers method ("analytics.GetSummary", ...) with the packed request body (body_len bytes; body
 * may be NULL when 0), on behalf of caller. RecomputeRfm and Rebuild need the admin role (else
 * FORBIDDEN). Fills *ans (caller clears it): OK with the packed reply; INVALID or NOT_FOUND with
 * error and field; UNKNOWN_METHOD; INTERNAL for a store failure. */
void analytics_handle(analytics_t *an, const char *method, const analytics_caller_t *caller, const void *body,
                      size_t body_len, analytics_answer_t *ans);

/* The subscribers' apply functions (arg is the analytics_t) for the events of contacts
 * ("crm.contacts."), loyalty ("crm.loyalty.") and feedback ("crm.feedback."), README.md "Events
 * in". Each folds its event into the customer's facts and the figures, at the time the event says
 * it happened. Returns 0, CRM_EINVALID for a malformed event (dead-lettered), or a store error
 * (retried). */
int analytics_on_contacts_event(crm_txn_t *txn, const crm_bus_event_t *event, void *arg);
int analytics_on_loyalty_event(crm_txn_t *txn, const crm_bus_event_t *event, void *arg);
int analytics_on_feedback_event(crm_txn_t *txn, const crm_bus_event_t *event, void *arg);

#endif
