/* loyalty_handlers.h: one function per request method ("loyalty.<Method>") and per consumed contacts event. */
#ifndef LOYALTY_HANDLERS_H
#define LOYALTY_HANDLERS_H

#include <stddef.h>
#include <stdint.h>

#include "crm_bus.h"
#include "crm_rpc.h"
#include "crm_store.h"
#include "loyalty_ctx.h"

#define LOYALTY_METHOD_PREFIX     "loyalty."
#define LOYALTY_PAGE_SIZE_DEFAULT 50
#define LOYALTY_PAGE_SIZE_MAX     500      /* a larger page_size is cut to this */
#define LOYALTY_REASON_MAX        512      /* bytes of an adjustment's or cancellation's reason */
#define LOYALTY_ADMIN_ROLE        "admin"

/* Who calls, as the gateway authenticated them. Strings are borrowed; "" when unknown. */
typedef struct {
    const char *key_id;
    const char *role;
} loyalty_caller_t;

/* The answer to a request: the reply status, and the packed reply message when OK, or the
 * error sentence and the offending field (lowerCamelCase, such as "customerId" or
 * "rule.currency"). */
typedef struct {
    crm_rpc_status_t status;
    char error[LOYALTY_ERROR_MAX];
    char field[LOYALTY_FIELD_MAX];
    uint8_t *body;                /* malloc'd; NULL when body_len is 0 */
    size_t body_len;
} loyalty_answer_t;

/* Frees the answer's body and zeroes it. Safe on a zeroed answer. */
void loyalty_answer_clear(loyalty_answer_t *ans);

/* Answers method ("loyalty.GetBalance", ...) with the packed request body (body_len bytes;
 * body may be NULL when 0), on behalf of caller. Methods that change admin data (rules, tiers,
 * rewards, adjustments, the audit log) need the admin role (else FORBIDDEN). Fills *ans
 * (caller clears it): OK with the packed reply message; INVALID, NOT_FOUND, CONFLICT or
 * FORBIDDEN with error and field; UNKNOWN_METHOD; INTERNAL for a store failure. Safe from
 * several threads. */
void loyalty_handle(loyalty_t *ly, const char *method, const loyalty_caller_t *caller,
                    const void *body, size_t body_len, loyalty_answer_t *ans);

/* The subscriber's apply function for the contacts and feedback services' events (arg is the
 * loyalty_t): a survey answer (feedback's answer.received: the survey rules' points, once per
 * answer); purchase recorded (points, tiers, badges, referrals) and refunded (reversal); customer
 * created and updated (birthday, membership, referrer), merged (the merged customer's points,
 * purchases, badges and redemptions move to the survivor), deleted (points forfeited, account
 * closed) and erased (birthday and referrer forgotten). Each takes effect once, keyed by its
 * cause. Returns 0, CRM_EINVALID for a malformed event (dead-lettered), or a store error
 * (retried). */
int loyalty_on_event(crm_txn_t *txn, const crm_bus_event_t *event, void *arg);

#endif
