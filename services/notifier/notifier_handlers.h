/* notifier_handlers.h: one function per request method ("notifier.<Method>"). */
#ifndef NOTIFIER_HANDLERS_H
#define NOTIFIER_HANDLERS_H

#include <stddef.h>
#include <stdint.h>

#include "crm_rpc.h"
#include "notifier_ctx.h"

#define NOTIFIER_METHOD_PREFIX     "notifier."
#define NOTIFIER_PAGE_SIZE_DEFAULT 50
#define NOTIFIER_PAGE_SIZE_MAX     500       /* a larger page_size is cut to this */
#define NOTIFIER_SCAN_MAX          5000      /* entries one filtered page looks at before answering */
#define NOTIFIER_NOTE_MAX          2048      /* bytes of a reminder's note */
#define NOTIFIER_REQUEST_ID_MAX    128       /* bytes of a reminder's request id */
#define NOTIFIER_ADMIN_ROLE        "admin"
#define NOTIFIER_SECRET_SHOWN      10        /* characters of a webhook secret a listing shows */

/* Who calls, as the gateway authenticated them. Strings are borrowed; "" when unknown. */
typedef struct {
    const char *key_id;
    const char *role;
} notifier_caller_t;

/* The answer to a request: the reply status, and the packed reply message when OK, or the error
 * sentence and the offending field (lowerCamelCase, such as "rule.condition"). */
typedef struct {
    crm_rpc_status_t status;
    char error[NOTIFIER_ERROR_MAX];
    char field[NOTIFIER_FIELD_MAX];
    uint8_t *body;                /* malloc'd; NULL when body_len is 0 */
    size_t body_len;
} notifier_answer_t;

/* Frees the answer's body and zeroes it. Safe on a zeroed answer. */
void notifier_answer_clear(notifier_answer_t *ans);

/* Answers method ("notifier.PutRule", ...) with the packed request body (body_len bytes; body may
 * be NULL when 0), on behalf of caller. Methods that manage rules, templates, staff and webhooks
 * and RetryDelivery need the admin role (else FORBIDDEN). Fills *ans (caller clears it): OK with
 * the packed reply; INVALID, NOT_FOUND, CONFLICT or FORBIDDEN with error and field;
 * UNKNOWN_METHOD; INTERNAL for a store failure. Loop thread only (rule changes recompile the
 * rule cache). */
void notifier_handle(notifier_t *nt, const char *method, const notifier_caller_t *caller, const void *body,
                     size_t body_len, notifier_answer_t *ans);

#endif
