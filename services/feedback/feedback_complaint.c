/* feedback_complaint.c: complaints in the store: opening, the workflow's moves, replies and notes, SLA clocks, escalation, erasure. */
#include "feedback_complaint.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crm_codec.h"
#include "crm_error.h"
#include "feedback_invite.h"
#include "feedback_workflow.h"

#define S_OPEN     CRM__V1__COMPLAINT_STATUS__COMPLAINT_STATUS_OPEN
#define S_ASSIGNED CRM__V1__COMPLAINT_STATUS__COMPLAINT_STATUS_ASSIGNED
#define S_WAITING  CRM__V1__COMPLAINT_STATUS__COMPLAINT_STATUS_WAITING_ON_CUSTOMER
#define S_RESOLVED CRM__V1__COMPLAINT_STATUS__COMPLAINT_STATUS_RESOLVED
#define S_CLOSED   CRM__V1__COMPLAINT_STATUS__COMPLAINT_STATUS_CLOSED

#define S_TIMER_FIRST   CRM__V1__FEEDBACK_TIMER__KIND__KIND_FIRST_RESPONSE
#define S_TIMER_RESOLVE CRM__V1__FEEDBACK_TIMER__KIND__KIND_RESOLUTION
#define S_TIMER_ADMINS  CRM__V1__FEEDBACK_TIMER__KIND__KIND_ESCALATE_ADMINS
#define S_TIMER_CLOSE   CRM__V1__FEEDBACK_TIMER__KIND__KIND_AUTO_CLOSE

#define S_CLOCK_FIRST   CRM__V1__SLA_CLOCK__SLA_CLOCK_FIRST_RESPONSE
#define S_CLOCK_RESOLVE CRM__V1__SLA_CLOCK__SLA_CLOCK_RESOLUTION

#define S_US_PER_SECOND 1000000
#define S_AUTO_CLOSE_COMMENT "closed automatically: the reopen window has passed"

static const feedback_actor_t s_system = { FEEDBACK_SYSTEM_ACTOR, FEEDBACK_SYSTEM_ACTOR };

static const char *s_or_empty(const char *s)
{
    return s ? s : "";
}

static Crm__V1__Priority s_priority(const Crm__V1__Complaint *c)
{
    int p = (int) c->priority;
    return p > 0 && p < FEEDBACK_PRIORITY_COUNT ? c->priority : CRM__V1__PRIORITY__PRIORITY_NORMAL;
}

static int s_touch(feedback_t *fb, Crm__V1__Complaint *c)
{
    c->version++;
    return feedback_ts_put(&c->updated_at, feedback_now(fb));
}

/* --- Timers */

static int s_timer(feedback_t *fb, crm_txn_t *txn, const Crm__V1__Complaint *c, Crm__V1__FeedbackTimer__Kind kind,
                   int64_t due_us)
{
    Crm__V1__FeedbackTimer t = CRM__V1__FEEDBACK_TIMER__INIT;
    t.kind = kind;
    t.due_us = due_us;
    t.complaint_id = c->id;
    t.customer_id = c->customer_id;
    t.complaint_version = c->version;
    return feedback_timer_put(&fb->db, txn, &t, c->id);
}

static int s_timer_del(feedback_t *fb, crm_txn_t *txn, const Crm__V1__Complaint *c, Crm__V1__FeedbackTimer__Kind kind,
                       int64_t due_us)
{
    if (due_us == 0)
        return 0;
    return feedback_timer_del(&fb->db, txn, due_us, kind, c->id);
}

/* When a resolved complaint closes by itself. */
static int64_t s_auto_close_at(const feedback_t *fb, const Crm__V1__Complaint *c)
{
    return feedback_ts_us(c->resolved_at) + fb->settings.reopen_window_us;
}

/* --- History and events */

/* Appends a history line (seq and time set here) and counts it. Callers' lines are bounded by
 * FEEDBACK_HISTORY_MAX (CRM_ELIMIT); the system's always go in. */
static int s_history(feedback_t *fb, crm_txn_t *txn, Crm__V1__Complaint *c, Crm__V1__ComplaintEntry *e,
                     const feedback_actor_t *who, bool bounded, feedback_err_t *err)
{
    if (bounded && c->history_count >= FEEDBACK_HISTORY_MAX)
        return feedback_fail(err, CRM_RPC_CONFLICT, NULL, "the complaint's history is full (%d lines)",
                             FEEDBACK_HISTORY_MAX);
    Crm__V1__Timestamp time;
    e->seq = ++c->history_count;
    e->time = feedback_ts_fill(&time, feedback_now(fb));
    e->actor = (char *) s_or_empty(who->id);
    e->actor_role = (char *) s_or_empty(who->role);
    uint8_t key[FEEDBACK_HISTORY_KEY_LEN];
    feedback_key_history(key, c->id, e->seq);
    int rc = feedback_record_put(txn, fb->db.complaint_history, key, sizeof key, &e->base);
    e->time = NULL;   /* time is on this stack frame; an event carrying e sets it again */
    return rc;
}

/* Publishes a ComplaintChanged of type: c after the change (history left out), with the line. */
static int s_emit_changed(feedback_t *fb, crm_txn_t *txn, const char *type, Crm__V1__Complaint *c,
                          Crm__V1__ComplaintStatus from, const feedback_actor_t *who, Crm__V1__ComplaintEntry *e)
{
    size_t n_history = c->n_history;
    Crm__V1__ComplaintEntry **history = c->history;
    c->n_history = 0;
    c->history = NULL;
    Crm__V1__Timestamp time;
    if (e)
        e->time = feedback_ts_fill(&time, feedback_now(fb));
    Crm__V1__ComplaintChanged ev = CRM__V1__COMPLAINT_CHANGED__INIT;
    ev.complaint = c;
    ev.from_status = from;
    ev.actor = (char *) s_or_empty(who->id);
    ev.actor_role = (char *) s_or_empty(who->role);
    ev.entry = e;
    int rc = feedback_emit(fb, txn, type, c->customer_id, &ev.base);
    if (e)
        e->time = NULL;
    c->n_history = n_history;
    c->history = history;
    return rc;
}

/* The event that goes with the message part of an event: c with its history left out. */
static int s_emit_with_complaint(feedback_t *fb, crm_txn_t *txn, const char *type, Crm__V1__Complaint *c,
                                 ProtobufCMessage *ev, Crm__V1__Complaint **slot)
{
    size_t n_history = c->n_history;
    Crm__V1__ComplaintEntry **history = c->history;
    c->n_history = 0;
    c->history = NULL;
    *slot = c;
    int rc = feedback_emit(fb, txn, type, c->customer_id, ev);
    *slot = NULL;
    c->n_history = n_history;
    c->history = history;
    return rc;
}

/* --- Opening */

int feedback_complaint_open(feedback_t *fb, crm_txn_t *txn, Crm__V1__Complaint *c, const feedback_actor_t *who)
{
    assert(crm_id_valid(c->customer_id));
    int64_t now = feedback_now(fb);
    char id[CRM_ID_SIZE];
    int rc = crm_id_next(fb->ids, id);
    if (rc == 0)
        rc = feedback_str_set(&c->id, id);
    if (rc)
        return rc;
    Crm__V1__Priority prio = s_priority(c);
    c->priority = prio;
    c->status = S_OPEN;
    c->version = 1;
    c->history_count = 0;
    const feedback_settings_t *s = &fb->settings;
    rc = feedback_ts_put(&c->created_at, now);
    if (rc == 0)
        rc = feedback_ts_put(&c->updated_at, now);
    if (rc == 0)
        rc = feedback_ts_put(&c->first_response_due, feedback_hours_add(&s->hours, now, s->sla_first_response_us[prio]));
    if (rc == 0)
        rc = feedback_ts_put(&c->resolution_due, feedback_hours_add(&s->hours, now, s->sla_resolution_us[prio]));
    if (rc == 0)
        rc = feedback_str_set(&c->created_by, who->id);
    if (rc == 0)
        rc = s_timer(fb, txn, c, S_TIMER_FIRST, feedback_ts_us(c->first_response_due));
    if (rc == 0)
        rc = s_timer(fb, txn, c, S_TIMER_RESOLVE, feedback_ts_us(c->resolution_due));
    if (rc)
        return rc;
    uint8_t key[FEEDBACK_PAIR_KEY_LEN];
    feedback_key_pair(key, c->customer_id, c->id);
    rc = feedback_index_put(txn, fb->db.customer_complaints, key, sizeof key);
    Crm__V1__ComplaintEntry e = CRM__V1__COMPLAINT_ENTRY__INIT;
    e.kind = CRM__V1__COMPLAINT_ENTRY_KIND__COMPLAINT_ENTRY_KIND_TRANSITION;
    e.from_status = CRM__V1__COMPLAINT_STATUS__COMPLAINT_STATUS_UNSPECIFIED;
    e.to_status = S_OPEN;
    if (rc == 0)
        rc = s_history(fb, txn, c, &e, who, false, NULL);
    if (rc == 0)
        rc = feedback_complaint_put(&fb->db, txn, c);
    if (rc == 0)
        rc = s_emit_changed(fb, txn, FEEDBACK_EVENT_COMPLAINT_OPENED, c, e.from_status, who, &e);
    return rc;
}

/* --- The first response */

/* Marks the first response now (a reply, or a resolution before any reply) and stops its clock.
 * Sets *first when this was it. */
static int s_first_response(feedback_t *fb, crm_txn_t *txn, Crm__V1__Complaint *c, bool *first)
{
    *first = false;
    if (c->first_response_at)
        return 0;
    int64_t now = feedback_now(fb);
    *first = true;
    c->first_response_seconds = (now - feedback_ts_us(c->created_at)) / S_US_PER_SECOND;
    int rc = feedback_ts_put(&c->first_response_at, now);
    if (rc == 0 && !c->first_response_breached)
        rc = s_timer_del(fb, txn, c, S_TIMER_FIRST, feedback_ts_us(c->first_response_due));
    return rc;
}

/* --- Moves */

static int s_check_name(const char *s, const char *field, feedback_err_t *err)
{
    if (s && strlen(s) > FEEDBACK_ASSIGNEE_MAX)
        return feedback_fail(err, CRM_RPC_INVALID, field, "at most %d bytes", FEEDBACK_ASSIGNEE_MAX);
    for (const char *p = s; p && *p; p++)
        if ((unsigned char) *p < 0x20 || *p == 0x7f)
            return feedback_fail(err, CRM_RPC_INVALID, field, "control characters are not allowed");
    return 0;
}

/* Resolving: clocks stop, the automatic close and the satisfaction survey are scheduled. */
static int s_resolve(feedback_t *fb, crm_txn_t *txn, Crm__V1__Complaint *c, bool *responded)
{
    int64_t now = feedback_now(fb);
    int rc = s_first_response(fb, txn, c, responded);
    if (rc == 0)
        rc = feedback_ts_put(&c->resolved_at, now);
    if (rc)
        return rc;
    c->resolution_seconds = (now - feedback_ts_us(c->created_at)) / S_US_PER_SECOND;
    c->resolved_at_first_contact = c->reply_count <= 1 && !c->waited_on_customer && c->reopen_count == 0;
    if (!c->resolution_breached)
        rc = s_timer_del(fb, txn, c, S_TIMER_RESOLVE, feedback_ts_us(c->resolution_due));
    if (rc == 0)
        rc = s_timer_del(fb, txn, c, S_TIMER_ADMINS, feedback_ts_us(c->escalate_admins_at));
    if (rc == 0)
        rc = s_timer(fb, txn, c, S_TIMER_CLOSE, s_auto_close_at(fb, c));
    if (rc == 0) {
        char cause[FEEDBACK_CAUSE_MAX];
        snprintf(cause, sizeof cause, "complaint:%s", c->id);
        feedback_invite_spec_t spec = {
            .customer_id = c->customer_id, .trigger = CRM__V1__SURVEY_TRIGGER__SURVEY_TRIGGER_COMPLAINT_RESOLVED,
            .cause = cause, .locale = c->locale,
        };
        rc = feedback_invite_schedule(fb, txn, &spec, now + fb->settings.resolved_invite_delay_us);
    }
    return rc;
}

/* Reopening: the automatic close is off, an unbreached resolution clock starts again. */
static int s_reopen(feedback_t *fb, crm_txn_t *txn, Crm__V1__Complaint *c)
{
    int64_t now = feedback_now(fb);
    const feedback_settings_t *s = &fb->settings;
    int rc = s_timer_del(fb, txn, c, S_TIMER_CLOSE, s_auto_close_at(fb, c));
    if (rc == 0)
        rc = feedback_ts_put(&c->reopened_at, now);
    if (rc == 0)
        rc = feedback_ts_put(&c->resolved_at, 0);
    if (rc)
        return rc;
    c->reopen_count++;
    c->resolved_at_first_contact = false;
    if (!c->resolution_breached) {
        rc = feedback_ts_put(&c->resolution_due, feedback_hours_add(&s->hours, now, s->sla_resolution_us[s_priority(c)]));
        if (rc == 0)
            rc = s_timer(fb, txn, c, S_TIMER_RESOLVE, feedback_ts_us(c->resolution_due));
    }
    if (rc == 0 && c->escalation_level == FEEDBACK_ESCALATION_TEAM_LEAD) {
        rc = feedback_ts_put(&c->escalate_admins_at, feedback_hours_add(&s->hours, now, s->escalate_admins_us));
        if (rc == 0)
            rc = s_timer(fb, txn, c, S_TIMER_ADMINS, feedback_ts_us(c->escalate_admins_at));
    }
    return rc;
}

/* Closing: every timer of the complaint goes. */
static int s_close(feedback_t *fb, crm_txn_t *txn, Crm__V1__Complaint *c)
{
    int rc = feedback_ts_put(&c->closed_at, feedback_now(fb));
    if (rc == 0 && !c->first_response_at && !c->first_response_breached)
        rc = s_timer_del(fb, txn, c, S_TIMER_FIRST, feedback_ts_us(c->first_response_due));
    if (rc == 0 && !c->resolved_at && !c->resolution_breached)
        rc = s_timer_del(fb, txn, c, S_TIMER_RESOLVE, feedback_ts_us(c->resolution_due));
    if (rc == 0)
        rc = s_timer_del(fb, txn, c, S_TIMER_ADMINS, feedback_ts_us(c->escalate_admins_at));
    if (rc == 0 && c->resolved_at)
        rc = s_timer_del(fb, txn, c, S_TIMER_CLOSE, s_auto_close_at(fb, c));
    return rc;
}

int feedback_complaint_transition(feedback_t *fb, crm_txn_t *txn, Crm__V1__Complaint *c, Crm__V1__ComplaintStatus to,
                                  const char *assignee, const char *team, const char *comment,
                                  const feedback_actor_t *who, feedback_err_t *err)
{
    Crm__V1__ComplaintStatus from = c->status;
    int64_t now = feedback_now(fb);
    char why[FEEDBACK_WHY_MAX];
    int rc = feedback_transition_check(from, to, feedback_ts_us(c->resolved_at), now, fb->settings.reopen_window_us,
                                       why, sizeof why);
    if (rc)
        return feedback_fail(err, rc == CRM_EINVALID ? CRM_RPC_INVALID : CRM_RPC_CONFLICT, "to", "%s", why);
    assignee = s_or_empty(assignee);
    team = s_or_empty(team);
    comment = s_or_empty(comment);
    rc = s_check_name(assignee, "assignee", err);
    if (rc == 0)
        rc = s_check_name(team, "team", err);
    if (rc)
        return rc;
    if (strlen(comment) > FEEDBACK_COMPLAINT_TEXT_MAX)
        return feedback_fail(err, CRM_RPC_INVALID, "comment", "at most %d bytes", FEEDBACK_COMPLAINT_TEXT_MAX);
    if (to == S_ASSIGNED && !assignee[0] && !team[0] && (from != S_RESOLVED || (!c->assignee[0] && !c->team[0])))
        return feedback_fail(err, CRM_RPC_INVALID, "assignee", "assigning needs an assignee or a team");
    if (c->history_count >= FEEDBACK_HISTORY_MAX)
        return feedback_fail(err, CRM_RPC_CONFLICT, NULL, "the complaint's history is full (%d lines)",
                             FEEDBACK_HISTORY_MAX);
    bool reopen = feedback_transition_is_reopen(from, to);
    if (assignee[0])
        rc = feedback_str_set(&c->assignee, assignee);
    if (rc == 0 && team[0])
        rc = feedback_str_set(&c->team, team);
    bool responded = false;
    if (rc == 0 && reopen)
        rc = s_reopen(fb, txn, c);
    else if (rc == 0 && to == S_RESOLVED)
        rc = s_resolve(fb, txn, c, &responded);
    else if (rc == 0 && to == S_CLOSED)
        rc = s_close(fb, txn, c);
    if (rc)
        return rc;
    if (to == S_WAITING)
        c->waited_on_customer = true;
    c->status = to;
    rc = s_touch(fb, c);
    Crm__V1__ComplaintEntry e = CRM__V1__COMPLAINT_ENTRY__INIT;
    e.kind = CRM__V1__COMPLAINT_ENTRY_KIND__COMPLAINT_ENTRY_KIND_TRANSITION;
    e.from_status = from;
    e.to_status = to;
    e.assignee = (char *) assignee;
    e.team = (char *) team;
    e.text = (char *) comment;
    if (rc == 0)
        rc = s_history(fb, txn, c, &e, who, false, err);
    if (rc == 0)
        rc = feedback_complaint_put(&fb->db, txn, c);
    if (rc == 0 && responded)
        rc = s_emit_changed(fb, txn, FEEDBACK_EVENT_COMPLAINT_RESPONDED, c, from, who, &e);
    const char *type = reopen ? FEEDBACK_EVENT_COMPLAINT_REOPENED
                     : to == S_ASSIGNED ? FEEDBACK_EVENT_COMPLAINT_ASSIGNED
                     : to == S_RESOLVED ? FEEDBACK_EVENT_COMPLAINT_RESOLVED
                     : to == S_CLOSED ? FEEDBACK_EVENT_COMPLAINT_CLOSED
                                      : NULL;
    if (rc == 0 && type)
        rc = s_emit_changed(fb, txn, type, c, from, who, &e);
    return rc;
}

/* --- Replies and notes */

int feedback_complaint_reply(feedback_t *fb, crm_txn_t *txn, Crm__V1__Complaint *c, const char *text,
                             const feedback_actor_t *who, feedback_err_t *err)
{
    if (c->status == S_CLOSED)
        return feedback_fail(err, CRM_RPC_CONFLICT, NULL, "a closed complaint takes no replies (notes are still "
                             "possible)");
    if (c->history_count >= FEEDBACK_HISTORY_MAX)
        return feedback_fail(err, CRM_RPC_CONFLICT, NULL, "the complaint's history is full (%d lines)",
                             FEEDBACK_HISTORY_MAX);
    bool first = false;
    int rc = s_first_response(fb, txn, c, &first);
    if (rc)
        return rc;
    c->reply_count++;
    rc = s_touch(fb, c);
    Crm__V1__ComplaintEntry e = CRM__V1__COMPLAINT_ENTRY__INIT;
    e.kind = CRM__V1__COMPLAINT_ENTRY_KIND__COMPLAINT_ENTRY_KIND_REPLY;
    e.from_status = c->status;
    e.to_status = c->status;
    e.text = (char *) text;
    if (rc == 0)
        rc = s_history(fb, txn, c, &e, who, true, err);
    if (rc == 0)
        rc = feedback_complaint_put(&fb->db, txn, c);
    if (rc == 0 && first)
        rc = s_emit_changed(fb, txn, FEEDBACK_EVENT_COMPLAINT_RESPONDED, c, c->status, who, &e);
    if (rc == 0) {
        Crm__V1__Timestamp time;
        Crm__V1__ComplaintReplied ev = CRM__V1__COMPLAINT_REPLIED__INIT;
        ev.complaint_id = c->id;
        ev.customer_id = c->customer_id;
        ev.text = (char *) text;
        ev.actor = (char *) s_or_empty(who->id);
        ev.time = feedback_ts_fill(&time, feedback_now(fb));
        ev.locale = c->locale;
        ev.channel = c->channel;
        ev.subject = c->subject;
        ev.reply_number = c->reply_count;
        rc = feedback_emit(fb, txn, FEEDBACK_EVENT_COMPLAINT_REPLIED, c->customer_id, &ev.base);
    }
    return rc;
}

int feedback_complaint_note(feedback_t *fb, crm_txn_t *txn, Crm__V1__Complaint *c, const char *text,
                            const feedback_actor_t *who, feedback_err_t *err)
{
    Crm__V1__ComplaintEntry e = CRM__V1__COMPLAINT_ENTRY__INIT;
    e.kind = CRM__V1__COMPLAINT_ENTRY_KIND__COMPLAINT_ENTRY_KIND_NOTE;
    e.from_status = c->status;
    e.to_status = c->status;
    e.text = (char *) text;
    int rc = s_history(fb, txn, c, &e, who, true, err);
    if (rc)
        return rc;
    c->note_count++;
    rc = s_touch(fb, c);
    if (rc == 0)
        rc = feedback_complaint_put(&fb->db, txn, c);
    return rc;
}

/* --- SLA clocks and escalation */

/* Raises the escalation to level, with its history line and event. */
static int s_escalate(feedback_t *fb, crm_txn_t *txn, Crm__V1__Complaint *c, uint32_t level, Crm__V1__SlaClock clock)
{
    c->escalation_level = level;
    int rc = 0;
    if (level == FEEDBACK_ESCALATION_TEAM_LEAD) {
        const feedback_settings_t *s = &fb->settings;
        rc = feedback_ts_put(&c->escalate_admins_at, feedback_hours_add(&s->hours, feedback_now(fb), s->escalate_admins_us));
        if (rc == 0)
            rc = s_timer(fb, txn, c, S_TIMER_ADMINS, feedback_ts_us(c->escalate_admins_at));
    }
    Crm__V1__ComplaintEntry e = CRM__V1__COMPLAINT_ENTRY__INIT;
    e.kind = CRM__V1__COMPLAINT_ENTRY_KIND__COMPLAINT_ENTRY_KIND_ESCALATION;
    e.from_status = c->status;
    e.to_status = c->status;
    e.clock = clock;
    e.level = level;
    e.team = c->team;
    if (rc == 0)
        rc = s_history(fb, txn, c, &e, &s_system, false, NULL);
    return rc;
}

static int s_emit_escalated(feedback_t *fb, crm_txn_t *txn, Crm__V1__Complaint *c, Crm__V1__SlaClock clock)
{
    char lead[FEEDBACK_ASSIGNEE_MAX + 1];
    feedback_team_lead(&fb->settings, c->team, lead, sizeof lead);
    Crm__V1__ComplaintEscalated ev = CRM__V1__COMPLAINT_ESCALATED__INIT;
    ev.level = c->escalation_level;
    ev.team = c->team;
    ev.team_lead = lead;
    ev.clock = clock;
    return s_emit_with_complaint(fb, txn, FEEDBACK_EVENT_ESCALATED, c, &ev.base, &ev.complaint);
}

/* A clock ran out: the breach (once), and the first escalation when none happened yet. */
static int s_breach(feedback_t *fb, crm_txn_t *txn, Crm__V1__Complaint *c, Crm__V1__SlaClock clock, int64_t due_us)
{
    if (clock == S_CLOCK_FIRST)
        c->first_response_breached = true;
    else
        c->resolution_breached = true;
    Crm__V1__ComplaintEntry e = CRM__V1__COMPLAINT_ENTRY__INIT;
    e.kind = CRM__V1__COMPLAINT_ENTRY_KIND__COMPLAINT_ENTRY_KIND_SLA_BREACH;
    e.from_status = c->status;
    e.to_status = c->status;
    e.clock = clock;
    int rc = s_history(fb, txn, c, &e, &s_system, false, NULL);
    bool escalate = c->escalation_level < FEEDBACK_ESCALATION_TEAM_LEAD;
    if (rc == 0 && escalate)
        rc = s_escalate(fb, txn, c, FEEDBACK_ESCALATION_TEAM_LEAD, clock);
    if (rc == 0)
        rc = s_touch(fb, c);
    if (rc == 0)
        rc = feedback_complaint_put(&fb->db, txn, c);
    if (rc == 0) {
        Crm__V1__Timestamp due, detected;
        Crm__V1__SlaBreached ev = CRM__V1__SLA_BREACHED__INIT;
        ev.clock = clock;
        ev.due_at = feedback_ts_fill(&due, due_us);
        ev.detected_at = feedback_ts_fill(&detected, feedback_now(fb));
        rc = s_emit_with_complaint(fb, txn, FEEDBACK_EVENT_SLA_BREACHED, c, &ev.base, &ev.complaint);
    }
    if (rc == 0 && escalate)
        rc = s_emit_escalated(fb, txn, c, clock);
    return rc;
}

static int s_admins(feedback_t *fb, crm_txn_t *txn, Crm__V1__Complaint *c)
{
    Crm__V1__SlaClock clock = c->resolution_breached ? S_CLOCK_RESOLVE : S_CLOCK_FIRST;
    int rc = s_escalate(fb, txn, c, FEEDBACK_ESCALATION_ADMINS, clock);
    if (rc == 0)
        rc = s_touch(fb, c);
    if (rc == 0)
        rc = feedback_complaint_put(&fb->db, txn, c);
    if (rc == 0)
        rc = s_emit_escalated(fb, txn, c, clock);
    return rc;
}

int feedback_complaint_on_timer(feedback_t *fb, crm_txn_t *txn, const Crm__V1__FeedbackTimer *t)
{
    Crm__V1__Complaint *c = NULL;
    int rc = feedback_complaint_get(&fb->db, txn, t->complaint_id, &c);
    if (rc)
        return rc == CRM_ENOTFOUND ? 0 : rc;
    bool active = feedback_status_active(c->status);
    int64_t now = feedback_now(fb);
    switch (t->kind) {
    case S_TIMER_FIRST:
        if (!c->first_response_at && !c->first_response_breached && active
            && t->due_us == feedback_ts_us(c->first_response_due))
            rc = s_breach(fb, txn, c, S_CLOCK_FIRST, t->due_us);
        break;
    case S_TIMER_RESOLVE:
        if (!c->resolution_breached && active && t->due_us == feedback_ts_us(c->resolution_due))
            rc = s_breach(fb, txn, c, S_CLOCK_RESOLVE, t->due_us);
        break;
    case S_TIMER_ADMINS:
        if (active && c->escalation_level == FEEDBACK_ESCALATION_TEAM_LEAD
            && t->due_us == feedback_ts_us(c->escalate_admins_at))
            rc = s_admins(fb, txn, c);
        break;
    case S_TIMER_CLOSE:
        if (c->status != S_RESOLVED)
            break;
        if (now < s_auto_close_at(fb, c)) {
            rc = s_timer(fb, txn, c, S_TIMER_CLOSE, s_auto_close_at(fb, c));   /* the window grew */
            break;
        }
        rc = feedback_complaint_transition(fb, txn, c, S_CLOSED, NULL, NULL, S_AUTO_CLOSE_COMMENT, &s_system, NULL);
        break;
    default:
        break;
    }
    crm_codec_message_free((ProtobufCMessage **) &c);
    return rc;
}

bool feedback_complaint_overdue(const Crm__V1__Complaint *c, int64_t now_us)
{
    if (!feedback_status_active(c->status))
        return false;
    if (c->resolution_breached || (c->resolution_due && now_us >= feedback_ts_us(c->resolution_due)))
        return true;
    if (c->first_response_at)
        return false;
    return c->first_response_breached || (c->first_response_due && now_us >= feedback_ts_us(c->first_response_due));
}

/* --- Erasure */

static int s_erase_history(feedback_t *fb, crm_txn_t *txn, const char *complaint_id)
{
    crm_cursor_t *cur = NULL;
    int rc = crm_cursor_open(txn, fb->db.complaint_history, &cur);
    crm_val_t k, v;
    if (rc == 0)
        rc = crm_cursor_seek(cur, complaint_id, CRM_ID_LEN, &k, &v);
    for (; rc == 0; rc = crm_cursor_next(cur, &k, &v)) {
        if (k.size != FEEDBACK_HISTORY_KEY_LEN || memcmp(k.data, complaint_id, CRM_ID_LEN) != 0)
            break;
        Crm__V1__ComplaintEntry *e = NULL;
        rc = crm_codec_msgpack_decode(&crm__v1__complaint_entry__descriptor, v.data, v.size, (ProtobufCMessage **) &e,
                                      NULL);
        if (rc)
            break;
        if (e->text[0]) {
            uint8_t key[FEEDBACK_HISTORY_KEY_LEN];
            memcpy(key, k.data, sizeof key);
            rc = feedback_str_set(&e->text, "");
            if (rc == 0)
                rc = feedback_record_put(txn, fb->db.complaint_history, key, sizeof key, &e->base);
        }
        crm_codec_message_free((ProtobufCMessage **) &e);
    }
    crm_cursor_close(&cur);
    return rc == CRM_ENOTFOUND ? 0 : rc;
}

int feedback_complaints_erase(feedback_t *fb, crm_txn_t *txn, const char *customer_id)
{
    char (*ids)[CRM_ID_SIZE] = NULL;
    size_t count = 0, cap = 0;
    crm_cursor_t *cur = NULL;
    int rc = crm_cursor_open(txn, fb->db.customer_complaints, &cur);
    crm_val_t k;
    if (rc == 0)
        rc = crm_cursor_seek(cur, customer_id, CRM_ID_LEN, &k, NULL);
    for (; rc == 0; rc = crm_cursor_next(cur, &k, NULL)) {
        if (k.size != FEEDBACK_PAIR_KEY_LEN || memcmp(k.data, customer_id, CRM_ID_LEN) != 0)
            break;
        if (count == cap) {
            cap = cap ? cap * 2 : 8;
            char (*grown)[CRM_ID_SIZE] = realloc(ids, cap * sizeof *grown);
            if (!grown) {
                rc = CRM_ENOMEM;
                break;
            }
            ids = grown;
        }
        memcpy(ids[count], (const char *) k.data + CRM_ID_LEN, CRM_ID_LEN);
        ids[count++][CRM_ID_LEN] = '\0';
    }
    crm_cursor_close(&cur);
    if (rc == CRM_ENOTFOUND)
        rc = 0;
    for (size_t i = 0; rc == 0 && i < count; i++) {
        Crm__V1__Complaint *c = NULL;
        rc = feedback_complaint_get(&fb->db, txn, ids[i], &c);
        if (rc == CRM_ENOTFOUND) {
            rc = 0;
            continue;
        }
        if (rc == 0)
            rc = feedback_str_set(&c->subject, "");
        if (rc == 0)
            rc = feedback_str_set(&c->text, "");
        if (rc == 0) {
            feedback_strv_clear(&c->attachments, &c->n_attachments);
            c->erased = true;
            rc = s_touch(fb, c);
        }
        if (rc == 0)
            rc = feedback_complaint_put(&fb->db, txn, c);
        if (rc == 0)
            rc = s_erase_history(fb, txn, ids[i]);
        crm_codec_message_free((ProtobufCMessage **) &c);
    }
    free(ids);
    return rc;
}
