/* feedback_handlers.h: one function per request method ("feedback.<Method>") and per consumed contacts event. */
#ifndef FEEDBACK_HANDLERS_H
#define FEEDBACK_HANDLERS_H

#include <stddef.h>
#include <stdint.h>

#include "crm_bus.h"
#include "crm_rpc.h"
#include "crm_store.h"
#include "feedback_ctx.h"

#define FEEDBACK_METHOD_PREFIX     "feedback."
#define FEEDBACK_PAGE_SIZE_DEFAULT 50
#define FEEDBACK_PAGE_SIZE_MAX     500      /* a larger page_size is cut to this */
#define FEEDBACK_LIST_SCAN_MAX     10000    /* complaints one ListComplaints page looks at */
#define FEEDBACK_SEGMENT_MAX       1000     /* invitations one InviteSegment request makes */
#define FEEDBACK_SEGMENT_SCAN_MAX  100000   /* customers one InviteSegment request looks at */
#define FEEDBACK_ADMIN_ROLE        "admin"
#define FEEDBACK_INTEGRATOR_ROLE   "integrator"

/* Who calls, as the gateway authenticated them. Strings are borrowed; "" when unknown (the
 * public answer routes). */
typedef struct {
    const char *key_id;
    const char *role;
} feedback_caller_t;

/* The answer to a request: the reply status, and the packed reply message when OK, or the error
 * sentence and the offending field (lowerCamelCase, such as "customerId" or "survey.texts"). */
typedef struct {
    crm_rpc_status_t status;
    char error[FEEDBACK_ERROR_MAX];
    char field[FEEDBACK_FIELD_MAX];
    uint8_t *body;                /* malloc'd; NULL when body_len is 0 */
    size_t body_len;
} feedback_result_t;

/* Frees the result's body and zeroes it. Safe on a zeroed result. */
void feedback_result_clear(feedback_result_t *res);

/* Answers method ("feedback.FileComplaint", ...) with the packed request body (body_len bytes;
 * body may be NULL when 0), on behalf of caller (NULL: nobody). PutSurvey and InviteSegment need
 * the admin role (else FORBIDDEN). Fills *res (caller clears it): OK with the packed reply; INVALID,
 * NOT_FOUND, CONFLICT (illegal moves, used or expired tokens), PRECONDITION_FAILED or FORBIDDEN
 * with error and field; TOO_LARGE; UNKNOWN_METHOD; INTERNAL for a store failure. Nothing is
 * written unless OK. Safe from several threads. */
void feedback_handle(feedback_t *fb, const char *method, const feedback_caller_t *caller, const void *body,
                     size_t body_len, feedback_result_t *res);

/* The subscriber's apply function for the contacts service's events (arg is the feedback_t):
 * purchase recorded (an invitation after CRM_FEEDBACK_INVITE_DELAY, once per purchase); customer
 * created, updated and merged (the directory: locale, tier, tags, stage, owner, email); deleted
 * (no more invitations); erased (directory, answer texts and complaint texts forgotten);
 * complaint received (a complaint opened, once per integrator event). Returns 0, CRM_EINVALID for
 * a malformed event (dead-lettered), or a store error (retried). */
int feedback_on_contacts_event(crm_txn_t *txn, const crm_bus_event_t *event, void *arg);

#endif
