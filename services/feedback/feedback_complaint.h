/* feedback_complaint.h: complaints in the store: opening, the workflow's moves, replies and notes, SLA clocks, escalation, erasure. */
#ifndef FEEDBACK_COMPLAINT_H
#define FEEDBACK_COMPLAINT_H

#include <stdbool.h>
#include <stdint.h>

#include "crm/v1/feedback.pb-c.h"
#include "feedback_ctx.h"

#define FEEDBACK_COMPLAINT_TEXT_MAX    8192   /* bytes of a complaint's text, a reply or a note */
#define FEEDBACK_COMPLAINT_SUBJECT_MAX 256    /* bytes of a subject */
#define FEEDBACK_ATTACHMENTS_MAX       16     /* references per complaint */
#define FEEDBACK_ATTACHMENT_MAX        1024   /* bytes of one reference */
#define FEEDBACK_ASSIGNEE_MAX          128    /* bytes of an assignee or a team */
#define FEEDBACK_HISTORY_MAX           1000   /* lines in one complaint's history */
#define FEEDBACK_ESCALATION_TEAM_LEAD  1
#define FEEDBACK_ESCALATION_ADMINS     2

/* Opens complaint c in txn. The caller has set customer_id (a valid id), category, priority
 * (unspecified becomes normal), subject, text, attachments, origin, channel, source,
 * source_event_id, occurred_at, answer_id, locale; this sets id, status open, created and updated
 * times, both SLA due times (business time from now by priority) with their timers, created_by,
 * the first history line, and publishes complaint.opened. c stays the caller's. Returns 0, or a
 * store, codec or id error. */
int feedback_complaint_open(feedback_t *fb, crm_txn_t *txn, Crm__V1__Complaint *c, const feedback_actor_t *who);

/* Moves c to `to` (feedback_workflow.h says which moves are allowed), with assignee and team
 * (either may be NULL or ""; assigned needs one of them) and comment (may be NULL), on behalf of
 * who: records the history line, keeps the timers in step (resolution stops the clocks and starts
 * the automatic close; a reopen restarts an unbreached resolution clock), schedules the
 * satisfaction survey at the first resolution, and publishes assigned, responded (when resolving
 * before any reply), resolved, reopened or closed. Returns 0; CRM_EINVALID, CRM_ECONFLICT (with
 * err naming from and to) or CRM_ELIMIT (history full) with err filled; or a store error. */
int feedback_complaint_transition(feedback_t *fb, crm_txn_t *txn, Crm__V1__Complaint *c, Crm__V1__ComplaintStatus to,
                                  const char *assignee, const char *team, const char *comment,
                                  const feedback_actor_t *who, feedback_err_t *err);

/* A reply to the customer (published as complaint.replied; the first one also stops the
 * first-response clock and publishes complaint.responded). Refused on a closed complaint
 * (CRM_ECONFLICT). Returns 0, CRM_ECONFLICT or CRM_ELIMIT with err filled, or a store error. */
int feedback_complaint_reply(feedback_t *fb, crm_txn_t *txn, Crm__V1__Complaint *c, const char *text,
                             const feedback_actor_t *who, feedback_err_t *err);

/* An internal note: stored in the history, never published. Returns 0, CRM_ELIMIT with err
 * filled, or a store error. */
int feedback_complaint_note(feedback_t *fb, crm_txn_t *txn, Crm__V1__Complaint *c, const char *text,
                            const feedback_actor_t *who, feedback_err_t *err);

/* Runs a due complaint timer (first-response or resolution clock, level-2 escalation, automatic
 * close) as "system": a clock still running is breached once (complaint.sla_breached) and the
 * complaint escalated to the team lead (complaint.escalated level 1) when not yet escalated;
 * level 2 goes to the admins; a resolved complaint whose reopen window has passed is closed.
 * Stale timers (the clock stopped or moved) do nothing. Returns 0 or a store or codec error. */
int feedback_complaint_on_timer(feedback_t *fb, crm_txn_t *txn, const Crm__V1__FeedbackTimer *timer);

/* True when a clock of c is breached, or due by now_us and still running. */
bool feedback_complaint_overdue(const Crm__V1__Complaint *c, int64_t now_us);

/* Forgets the personal data of customer_id's complaints: subject, text, attachments, and the
 * texts of their history lines (the lines, times and actors stay). Returns 0 or a store or codec
 * error. */
int feedback_complaints_erase(feedback_t *fb, crm_txn_t *txn, const char *customer_id);

#endif
