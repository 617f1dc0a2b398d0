/* test_feedback_workflow.c: the complaint state machine: every move of the table, reopen windows, refusals naming from and to. */
#include <criterion/criterion.h>
#include <string.h>

#include "crm_error.h"
#include "feedback_workflow.h"

#define OPEN     CRM__V1__COMPLAINT_STATUS__COMPLAINT_STATUS_OPEN
#define ASSIGNED CRM__V1__COMPLAINT_STATUS__COMPLAINT_STATUS_ASSIGNED
#define PROGRESS CRM__V1__COMPLAINT_STATUS__COMPLAINT_STATUS_IN_PROGRESS
#define WAITING  CRM__V1__COMPLAINT_STATUS__COMPLAINT_STATUS_WAITING_ON_CUSTOMER
#define RESOLVED CRM__V1__COMPLAINT_STATUS__COMPLAINT_STATUS_RESOLVED
#define CLOSED   CRM__V1__COMPLAINT_STATUS__COMPLAINT_STATUS_CLOSED
#define STATUSES 7
#define DAY (INT64_C(86400) * 1000000)

/* The workflow written out by hand: expected[from][to]. */
static const bool expected[STATUSES][STATUSES] = {
    /* from open */     [OPEN] = { [ASSIGNED] = true, [PROGRESS] = true, [RESOLVED] = true, [CLOSED] = true },
    /* from assigned */ [ASSIGNED] = { [ASSIGNED] = true, [PROGRESS] = true, [WAITING] = true, [RESOLVED] = true },
    /* in progress */   [PROGRESS] = { [ASSIGNED] = true, [WAITING] = true, [RESOLVED] = true },
    /* waiting */       [WAITING] = { [ASSIGNED] = true, [PROGRESS] = true, [RESOLVED] = true },
    /* resolved */      [RESOLVED] = { [CLOSED] = true, [OPEN] = true, [ASSIGNED] = true, [PROGRESS] = true },
    /* closed: final */ [CLOSED] = { false },
};

Test(feedback_workflow, every_move_follows_the_table)
{
    int allowed = 0;
    for (int from = 0; from < STATUSES; from++)
        for (int to = 0; to < STATUSES; to++) {
            bool want = from > 0 && to > 0 && expected[from][to];
            cr_assert_eq(feedback_transition_allowed((feedback_status_t) from, (feedback_status_t) to), want,
                         "%s -> %s", feedback_status_name((feedback_status_t) from),
                         feedback_status_name((feedback_status_t) to));
            allowed += want;
        }
    cr_assert_eq(allowed, 18);
    cr_assert(!feedback_transition_allowed(OPEN, (feedback_status_t) 99));
    cr_assert(!feedback_transition_allowed((feedback_status_t) -1, OPEN));
}

Test(feedback_workflow, refusals_name_from_and_to)
{
    char why[FEEDBACK_WHY_MAX];
    cr_assert_eq(feedback_transition_check(OPEN, WAITING, 0, 0, DAY, why, sizeof why), CRM_ECONFLICT);
    cr_assert_str_eq(why, "a complaint cannot move from open to waiting_on_customer");
    cr_assert_eq(feedback_transition_check(PROGRESS, OPEN, 0, 0, DAY, why, sizeof why), CRM_ECONFLICT);
    cr_assert_str_eq(why, "a complaint cannot move from in_progress to open");
    cr_assert_eq(feedback_transition_check(CLOSED, OPEN, 0, 0, DAY, why, sizeof why), CRM_ECONFLICT);
    cr_assert(strstr(why, "closed is final"), "%s", why);
    cr_assert_eq(feedback_transition_check(OPEN, (feedback_status_t) 0, 0, 0, DAY, why, sizeof why), CRM_EINVALID);
    cr_assert_eq(feedback_transition_check(OPEN, ASSIGNED, 0, 0, DAY, NULL, 0), 0);
}

Test(feedback_workflow, a_reopen_is_allowed_only_within_the_window)
{
    int64_t resolved = 1000 * DAY;
    char why[FEEDBACK_WHY_MAX];
    cr_assert(feedback_transition_is_reopen(RESOLVED, OPEN));
    cr_assert(feedback_transition_is_reopen(RESOLVED, PROGRESS));
    cr_assert(!feedback_transition_is_reopen(RESOLVED, CLOSED));
    cr_assert(!feedback_transition_is_reopen(ASSIGNED, PROGRESS));
    cr_assert_eq(feedback_transition_check(RESOLVED, ASSIGNED, resolved, resolved + 7 * DAY, 7 * DAY, why, sizeof why), 0);
    cr_assert_eq(feedback_transition_check(RESOLVED, ASSIGNED, resolved, resolved + 7 * DAY + 1, 7 * DAY, why,
                                           sizeof why), CRM_ECONFLICT);
    cr_assert(strstr(why, "from resolved to assigned"), "%s", why);
    cr_assert(strstr(why, "reopen window closed at"), "%s", why);
    /* Closing a resolved complaint is never limited by the window. */
    cr_assert_eq(feedback_transition_check(RESOLVED, CLOSED, resolved, resolved + 30 * DAY, 7 * DAY, NULL, 0), 0);
}

Test(feedback_workflow, active_statuses)
{
    cr_assert(feedback_status_active(OPEN));
    cr_assert(feedback_status_active(WAITING));
    cr_assert(!feedback_status_active(RESOLVED));
    cr_assert(!feedback_status_active(CLOSED));
    cr_assert(!feedback_status_active((feedback_status_t) 0));
    cr_assert_str_eq(feedback_status_name(WAITING), "waiting_on_customer");
    cr_assert_str_eq(feedback_status_name((feedback_status_t) 42), "unspecified");
}
