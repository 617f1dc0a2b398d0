/* feedback_workflow.h: the complaint workflow as a pure state machine: which moves are allowed, reopen windows, names. */
#ifndef FEEDBACK_WORKFLOW_H
#define FEEDBACK_WORKFLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crm/v1/feedback.pb-c.h"

#define FEEDBACK_WHY_MAX 256              /* bytes of a refusal's sentence, with its NUL */

typedef Crm__V1__ComplaintStatus feedback_status_t;

/* The status's JSON name ("open", "in_progress", ...; "unspecified" out of range). Static. */
const char *feedback_status_name(feedback_status_t status);

/* True when the workflow allows moving a complaint from `from` to `to` at all (see ComplaintStatus
 * in feedback.proto): open -> assigned, in_progress, resolved, closed; assigned -> assigned
 * (reassign), in_progress, waiting_on_customer, resolved; in_progress -> assigned,
 * waiting_on_customer, resolved; waiting_on_customer -> assigned, in_progress, resolved;
 * resolved -> closed, and open, assigned or in_progress (a reopen); closed -> nothing. */
bool feedback_transition_allowed(feedback_status_t from, feedback_status_t to);

/* True when from -> to is a reopen (from resolved back to work). */
bool feedback_transition_is_reopen(feedback_status_t from, feedback_status_t to);

/* Checks a move at now_us for a complaint resolved at resolved_us (0 when never), with the reopen
 * window reopen_window_us. Returns 0 when allowed; CRM_EINVALID when `to` is not a status;
 * CRM_ECONFLICT when the workflow refuses it or the reopen window has closed. why (why_size
 * bytes, may be NULL) gets a sentence naming from and to. Pure. */
int feedback_transition_check(feedback_status_t from, feedback_status_t to, int64_t resolved_us, int64_t now_us,
                              int64_t reopen_window_us, char *why, size_t why_size);

/* True while the complaint is still being worked on (not resolved or closed). */
bool feedback_status_active(feedback_status_t status);

#endif
