/* feedback_invite.h: invitations with single-use tokens (made at once, on a timer, or for a segment) and answers (by token or by an agent). */
#ifndef FEEDBACK_INVITE_H
#define FEEDBACK_INVITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crm/v1/feedback.pb-c.h"
#include "feedback_ctx.h"
#include "feedback_sentiment.h"

#define FEEDBACK_PENDING_SCAN_MAX 200     /* a customer's newest invitations looked at for a pending one */
#define FEEDBACK_ANSWER_TEXT_MAX  FEEDBACK_TEXT_MAX   /* bytes of an open-text answer or comment */

/* What to invite to. Strings are borrowed. */
typedef struct {
    const char *customer_id;
    const char *survey_id;            /* "" or NULL: by trigger (feedback_survey_find) */
    Crm__V1__SurveyTrigger trigger;
    const char *cause;                /* "purchase:<id>", "complaint:<id>", "segment:...", "key:<key id>" */
    const char *locale;               /* "" or NULL: the customer's, else the default */
} feedback_invite_spec_t;

/* Schedules an invitation for due_us (a timer), once per cause: a cause seen before does
 * nothing. Returns 0, CRM_EINVALID (cause too long), or a store or codec error. */
int feedback_invite_schedule(feedback_t *fb, crm_txn_t *txn, const feedback_invite_spec_t *spec, int64_t due_us);

/* Makes an invitation now: a new token (kept only as its hash), the question in the customer's
 * locale, the answer URL, expiry (the survey's validity or the setting); stores it and publishes
 * invitation.created (with token and URL). *out (may be NULL) gets the invitation with its token
 * and URL (caller frees). Returns 0; CRM_ENOTFOUND (no such survey) or CRM_ECONFLICT (survey
 * inactive, customer deleted or erased) with err filled; or a store, codec or id error. */
int feedback_invite_make(feedback_t *fb, crm_txn_t *txn, const feedback_invite_spec_t *spec,
                         Crm__V1__Invitation **out, feedback_err_t *err);

/* Runs a due invitation timer: makes the invitation unless the customer was deleted, no survey
 * fits, or (purchases) the customer was invited within the cooldown. Returns 0 or a store,
 * codec or id error. */
int feedback_invite_on_timer(feedback_t *fb, crm_txn_t *txn, const Crm__V1__FeedbackTimer *timer);

/* Sets *pending when one of customer_id's newest FEEDBACK_PENDING_SCAN_MAX invitations to
 * survey_id is pending and not expired. Returns 0 or a store or codec error. */
int feedback_invite_pending(feedback_t *fb, crm_txn_t *txn, const char *customer_id, const char *survey_id,
                            bool *pending);

/* Finds the invitation of a token that may still be answered. Returns 0 with *out (caller
 * frees); CRM_ENOTFOUND (not a token of ours) or CRM_ECONFLICT ("already answered" or "expired",
 * with the time) with err filled; or a store or codec error. */
int feedback_invite_by_token(feedback_t *fb, crm_txn_t *txn, const char *token, Crm__V1__Invitation **out,
                             feedback_err_t *err);

/* An answer as it arrives. Strings borrowed; follow_ups borrowed. */
typedef struct {
    const char *token;                /* the public route: the invitation's token */
    const char *customer_id;          /* an agent: the customer, and */
    const char *invitation_id;        /*   an invitation of theirs ("" for none), or */
    const char *survey_id;            /*   a survey */
    int score;
    Crm__V1__FollowUpAnswer *const *follow_ups;
    size_t n_follow_ups;
    const char *comment;
    Crm__V1__AnswerChannel channel;
    const char *recorded_by;          /* the agent's key id; "" for the customer */
    const char *locale;
} feedback_answer_input_t;

/* Records an answer: checks the invitation (once only, not expired) or survey, the score's range
 * and the follow-ups (known questions, choices, required ones, lengths); classifies the score;
 * analyses every open text and the comment for sentiment and topics; uses up the invitation;
 * publishes answer.received; and, when the setting is on, opens a complaint for a detractor or
 * a comment below the sentiment threshold. *out (may be NULL) gets the answer (caller frees).
 * Returns 0; CRM_EINVALID, CRM_ENOTFOUND or CRM_ECONFLICT with err filled; or a store error. */
int feedback_answer_record(feedback_t *fb, crm_txn_t *txn, const feedback_answer_input_t *in,
                           Crm__V1__Answer **out, feedback_err_t *err);

/* Forgets the texts of customer_id's answers (scores, classes and sentiment figures stay).
 * Returns 0 or a store or codec error. */
int feedback_answers_erase(feedback_t *fb, crm_txn_t *txn, const char *customer_id);

#endif
