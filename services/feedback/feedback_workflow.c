/* feedback_workflow.c: the complaint workflow's allowed moves. */
#include "feedback_workflow.h"

#include <inttypes.h>
#include <stdio.h>

#include "crm_error.h"
#include "crm_time.h"

#define S_OPEN     CRM__V1__COMPLAINT_STATUS__COMPLAINT_STATUS_OPEN
#define S_ASSIGNED CRM__V1__COMPLAINT_STATUS__COMPLAINT_STATUS_ASSIGNED
#define S_PROGRESS CRM__V1__COMPLAINT_STATUS__COMPLAINT_STATUS_IN_PROGRESS
#define S_WAITING  CRM__V1__COMPLAINT_STATUS__COMPLAINT_STATUS_WAITING_ON_CUSTOMER
#define S_RESOLVED CRM__V1__COMPLAINT_STATUS__COMPLAINT_STATUS_RESOLVED
#define S_CLOSED   CRM__V1__COMPLAINT_STATUS__COMPLAINT_STATUS_CLOSED
#define S_STATUS_COUNT (S_CLOSED + 1)

#define S_BIT(s) (1u << (unsigned) (s))

/* allowed[from]: the bits of the statuses `from` may move to. */
static const unsigned s_allowed[S_STATUS_COUNT] = {
    [S_OPEN] = S_BIT(S_ASSIGNED) | S_BIT(S_PROGRESS) | S_BIT(S_RESOLVED) | S_BIT(S_CLOSED),
    [S_ASSIGNED] = S_BIT(S_ASSIGNED) | S_BIT(S_PROGRESS) | S_BIT(S_WAITING) | S_BIT(S_RESOLVED),
    [S_PROGRESS] = S_BIT(S_ASSIGNED) | S_BIT(S_WAITING) | S_BIT(S_RESOLVED),
    [S_WAITING] = S_BIT(S_ASSIGNED) | S_BIT(S_PROGRESS) | S_BIT(S_RESOLVED),
    [S_RESOLVED] = S_BIT(S_CLOSED) | S_BIT(S_OPEN) | S_BIT(S_ASSIGNED) | S_BIT(S_PROGRESS),
    [S_CLOSED] = 0,
};

static const char *const s_names[S_STATUS_COUNT] = {
    "unspecified", "open", "assigned", "in_progress", "waiting_on_customer", "resolved", "closed",
};

static bool s_valid(feedback_status_t s)
{
    return (int) s > 0 && (int) s < S_STATUS_COUNT;
}

const char *feedback_status_name(feedback_status_t status)
{
    return (int) status >= 0 && (int) status < S_STATUS_COUNT ? s_names[status] : "unspecified";
}

bool feedback_transition_allowed(feedback_status_t from, feedback_status_t to)
{
    return s_valid(from) && s_valid(to) && (s_allowed[from] & S_BIT(to)) != 0;
}

bool feedback_transition_is_reopen(feedback_status_t from, feedback_status_t to)
{
    return from == S_RESOLVED && (to == S_OPEN || to == S_ASSIGNED || to == S_PROGRESS);
}

bool feedback_status_active(feedback_status_t status)
{
    return s_valid(status) && status != S_RESOLVED && status != S_CLOSED;
}

int feedback_transition_check(feedback_status_t from, feedback_status_t to, int64_t resolved_us, int64_t now_us,
                              int64_t reopen_window_us, char *why, size_t why_size)
{
    char dummy[1];
    if (!why || !why_size) {
        why = dummy;
        why_size = sizeof dummy;
    }
    why[0] = '\0';
    if (!s_valid(to)) {
        snprintf(why, why_size, "\"to\" must be a status: assigned, in_progress, waiting_on_customer, resolved, "
                                "closed or open (to reopen)");
        return CRM_EINVALID;
    }
    if (!feedback_transition_allowed(from, to)) {
        if (from == S_CLOSED)
            snprintf(why, why_size, "a closed complaint cannot move to %s: closed is final", s_names[to]);
        else
            snprintf(why, why_size, "a complaint cannot move from %s to %s", feedback_status_name(from), s_names[to]);
        return CRM_ECONFLICT;
    }
    if (feedback_transition_is_reopen(from, to) && now_us - resolved_us > reopen_window_us) {
        char at[CRM_TIME_TEXT_MAX] = "";
        crm_time_format_us(resolved_us + reopen_window_us, at, sizeof at);
        snprintf(why, why_size, "a complaint cannot move from resolved to %s: the reopen window closed at %s",
                 s_names[to], at);
        return CRM_ECONFLICT;
    }
    return 0;
}
