/* feedback_handlers.c: one function per request method and per consumed contacts event. */
#include "feedback_handlers.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crm/v1/contacts.pb-c.h"
#include "crm/v1/feedback_api.pb-c.h"
#include "crm_codec.h"
#include "crm_error.h"
#include "crm_event.h"
#include "feedback_complaint.h"
#include "feedback_invite.h"
#include "feedback_survey.h"
#include "feedback_token.h"
#include "feedback_workflow.h"

#define S_LIST_FIRST_CAP 16      /* messages a page holds before it grows */
#define S_PURCHASE_CAUSE "purchase:"

typedef struct s_call s_call_t;

/* A method: works in txn (a write transaction for methods that change state) and answers with
 * s_reply, or fails through feedback_fail(&c->err, ...) or with a store error. */
typedef int (*s_method_fn)(crm_txn_t *txn, s_call_t *c);

struct s_call {
    feedback_t *fb;
    const feedback_caller_t *caller;
    feedback_actor_t who;
    const ProtobufCMessage *req;
    s_method_fn fn;
    feedback_err_t err;
    uint8_t *body;
    size_t body_len;
};

void feedback_result_clear(feedback_result_t *res)
{
    if (!res)
        return;
    free(res->body);
    memset(res, 0, sizeof *res);
}

/* --- Helpers */

static int s_reply(s_call_t *c, const ProtobufCMessage *msg)
{
    free(c->body);
    c->body = NULL;
    c->body_len = 0;
    void *buf = NULL;
    size_t len = 0;
    int rc = crm_codec_pb_encode(msg, &buf, &len);
    if (rc)
        return rc;
    c->body = buf;
    c->body_len = len;
    return 0;
}

static int s_need_customer(s_call_t *c, const char *id, const char *field)
{
    if (!crm_id_valid(id))
        return feedback_fail(&c->err, CRM_RPC_INVALID, field, "a customer id (26 characters) is required");
    return 0;
}

static uint32_t s_page_size(uint32_t asked)
{
    if (asked == 0)
        return FEEDBACK_PAGE_SIZE_DEFAULT;
    return asked > FEEDBACK_PAGE_SIZE_MAX ? FEEDBACK_PAGE_SIZE_MAX : asked;
}

static int s_page_token(s_call_t *c, const char *token)
{
    if (token[0] && !crm_id_valid(token))
        return feedback_fail(&c->err, CRM_RPC_INVALID, "pageToken", "not a page token of this list");
    return 0;
}

/* Text a person wrote: required or not, at most max bytes, no control characters but newlines
 * and tabs. */
static int s_check_text(s_call_t *c, const char *s, const char *field, size_t max, bool required)
{
    size_t len = strlen(s);
    if (required && len == 0)
        return feedback_fail(&c->err, CRM_RPC_INVALID, field, "%s is required", field);
    if (len > max)
        return feedback_fail(&c->err, CRM_RPC_INVALID, field, "at most %zu bytes", max);
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char) s[i];
        if ((ch < 0x20 && ch != '\n' && ch != '\t' && ch != '\r') || ch == 0x7f)
            return feedback_fail(&c->err, CRM_RPC_INVALID, field, "control characters are not allowed");
    }
    return 0;
}

/* A page of decoded messages, freed together. */
typedef struct {
    ProtobufCMessage **items;
    size_t count;
    size_t cap;
} s_list_t;

static int s_list_add(s_list_t *list, ProtobufCMessage *msg)
{
    if (list->count == list->cap) {
        size_t cap = list->cap ? list->cap * 2 : S_LIST_FIRST_CAP;
        ProtobufCMessage **items = realloc(list->items, cap * sizeof *items);
        if (!items)
            return CRM_ENOMEM;
        list->items = items;
        list->cap = cap;
    }
    list->items[list->count++] = msg;
    return 0;
}

static void s_list_clear(s_list_t *list)
{
    for (size_t i = 0; i < list->count; i++)
        crm_codec_message_free(&list->items[i]);
    free(list->items);
    memset(list, 0, sizeof *list);
}

/* Visits ids newest first: the keys of db that start with prefix (a 26-byte customer id; NULL for
 * a db keyed by the ids themselves), before the id `before` ("" from the newest). fn sets *stop
 * to end the walk. */
typedef int (*s_visit_fn)(void *arg, const char *id, bool *stop);

static int s_walk_newest(crm_txn_t *txn, crm_db_t db, const char *prefix, const char *before, s_visit_fn fn, void *arg)
{
    size_t pre = prefix ? CRM_ID_LEN : 0;
    uint8_t key[2 * CRM_ID_LEN + 1];
    if (prefix)
        memcpy(key, prefix, CRM_ID_LEN);
    size_t key_len = pre;
    if (before[0]) {
        memcpy(key + pre, before, CRM_ID_LEN);
        key_len += CRM_ID_LEN;
    } else {
        key[key_len++] = 0xff;   /* after every id */
    }
    crm_cursor_t *cur = NULL;
    int rc = crm_cursor_open(txn, db, &cur);
    crm_val_t k;
    if (rc == 0) {
        rc = crm_cursor_seek(cur, key, key_len, &k, NULL);
        rc = rc == 0 ? crm_cursor_prev(cur, &k, NULL) : rc == CRM_ENOTFOUND ? crm_cursor_last(cur, &k, NULL) : rc;
    }
    bool stop = false;
    for (; rc == 0 && !stop; rc = stop ? 0 : crm_cursor_prev(cur, &k, NULL)) {
        if (k.size != pre + CRM_ID_LEN || (prefix && memcmp(k.data, prefix, CRM_ID_LEN) != 0))
            break;
        char id[CRM_ID_SIZE];
        memcpy(id, (const char *) k.data + pre, CRM_ID_LEN);
        id[CRM_ID_LEN] = '\0';
        rc = fn(arg, id, &stop);
    }
    crm_cursor_close(&cur);
    return rc == CRM_ENOTFOUND ? 0 : rc;
}

/* --- Surveys */

static int s_put_survey(crm_txn_t *txn, s_call_t *c)
{
    const Crm__V1__PutSurveyRequest *r = (const void *) c->req;
    if (!r->survey)
        return feedback_fail(&c->err, CRM_RPC_INVALID, "survey", "a survey is required");
    int rc = feedback_survey_validate(r->survey, &c->err);
    if (rc)
        return rc;
    char id[FEEDBACK_NAME_SIZE];
    if (r->survey->id[0]) {
        snprintf(id, sizeof id, "%s", r->survey->id);
    } else {
        char fresh[CRM_ID_SIZE];
        rc = crm_id_next(c->fb->ids, fresh);
        if (rc)
            return rc;
        snprintf(id, sizeof id, "%s", fresh);
    }
    Crm__V1__Survey *old = NULL;
    rc = feedback_survey_get(&c->fb->db, txn, id, &old);
    if (rc && rc != CRM_ENOTFOUND)
        return rc;
    if (rc == CRM_ENOTFOUND) {
        uint64_t count = 0;
        rc = crm_store_count(txn, c->fb->db.surveys, &count);
        if (rc == 0 && count >= FEEDBACK_SURVEYS_MAX)
            rc = feedback_fail(&c->err, CRM_RPC_CONFLICT, "survey", "at most %d surveys exist", FEEDBACK_SURVEYS_MAX);
        if (rc)
            return rc;
    }
    int64_t now = feedback_now(c->fb);
    Crm__V1__Timestamp created, updated;
    Crm__V1__Survey s = *r->survey;
    s.id = id;
    s.created_at = feedback_ts_fill(&created, old && old->created_at ? feedback_ts_us(old->created_at) : now);
    s.updated_at = feedback_ts_fill(&updated, now);
    crm_codec_message_free((ProtobufCMessage **) &old);
    rc = feedback_record_put(txn, c->fb->db.surveys, id, strlen(id), &s.base);
    if (rc == 0) {
        Crm__V1__SurveyReply rep = CRM__V1__SURVEY_REPLY__INIT;
        rep.survey = &s;
        rc = s_reply(c, &rep.base);
    }
    return rc;
}

static int s_get_survey(crm_txn_t *txn, s_call_t *c)
{
    const Crm__V1__GetSurveyRequest *r = (const void *) c->req;
    Crm__V1__Survey *s = NULL;
    int rc = feedback_survey_get(&c->fb->db, txn, r->id, &s);
    if (rc == CRM_ENOTFOUND)
        return feedback_fail(&c->err, CRM_RPC_NOT_FOUND, "id", "no survey %.64s", r->id);
    if (rc == 0) {
        Crm__V1__SurveyReply rep = CRM__V1__SURVEY_REPLY__INIT;
        rep.survey = s;
        rc = s_reply(c, &rep.base);
    }
    crm_codec_message_free((ProtobufCMessage **) &s);
    return rc;
}

static int s_list_surveys(crm_txn_t *txn, s_call_t *c)
{
    const Crm__V1__ListSurveysRequest *r = (const void *) c->req;
    s_list_t list = { 0 };
    crm_cursor_t *cur = NULL;
    int rc = crm_cursor_open(txn, c->fb->db.surveys, &cur);
    crm_val_t v;
    for (rc = rc ? rc : crm_cursor_first(cur, NULL, &v); rc == 0; rc = crm_cursor_next(cur, NULL, &v)) {
        ProtobufCMessage *s = NULL;
        rc = crm_codec_msgpack_decode(&crm__v1__survey__descriptor, v.data, v.size, &s, NULL);
        if (rc == 0 && !r->include_inactive && !((Crm__V1__Survey *) s)->active) {
            crm_codec_message_free(&s);
            continue;
        }
        if (rc == 0)
            rc = s_list_add(&list, s);
        if (rc) {
            crm_codec_message_free(&s);
            break;
        }
    }
    crm_cursor_close(&cur);
    if (rc == CRM_ENOTFOUND)
        rc = 0;
    if (rc == 0) {
        Crm__V1__ListSurveysReply rep = CRM__V1__LIST_SURVEYS_REPLY__INIT;
        rep.n_surveys = list.count;
        rep.surveys = (Crm__V1__Survey **) list.items;
        rc = s_reply(c, &rep.base);
    }
    s_list_clear(&list);
    return rc;
}

/* --- Invitations */

static int s_invite(crm_txn_t *txn, s_call_t *c)
{
    const Crm__V1__InviteRequest *r = (const void *) c->req;
    int rc = s_need_customer(c, r->customer_id, "customerId");
    if (rc)
        return rc;
    if (r->survey_id[0] && !feedback_name_valid(r->survey_id))
        return feedback_fail(&c->err, CRM_RPC_INVALID, "surveyId", "not a survey id");
    if (r->locale[0] && !feedback_locale_valid(r->locale))
        return feedback_fail(&c->err, CRM_RPC_INVALID, "locale", "a locale such as en or zh-CN");
    char cause[FEEDBACK_CAUSE_MAX];
    snprintf(cause, sizeof cause, "on_demand:%.64s", c->who.id);
    feedback_invite_spec_t spec = {
        .customer_id = r->customer_id, .survey_id = r->survey_id,
        .trigger = CRM__V1__SURVEY_TRIGGER__SURVEY_TRIGGER_ON_DEMAND, .cause = cause, .locale = r->locale,
    };
    Crm__V1__Invitation *inv = NULL;
    rc = feedback_invite_make(c->fb, txn, &spec, &inv, &c->err);
    if (rc == 0) {
        Crm__V1__InvitationReply rep = CRM__V1__INVITATION_REPLY__INIT;
        rep.invitation = inv;
        rc = s_reply(c, &rep.base);
    }
    crm_codec_message_free((ProtobufCMessage **) &inv);
    return rc;
}

static bool s_has_tag(const Crm__V1__FeedbackCustomer *cust, const char *tag)
{
    for (size_t i = 0; i < cust->n_tags; i++)
        if (strcmp(cust->tags[i], tag) == 0)
            return true;
    return false;
}

static bool s_segment_match(const Crm__V1__InviteSegmentRequest *r, const Crm__V1__FeedbackCustomer *cust)
{
    return !cust->deleted && !cust->erased && (!r->value_tier || r->value_tier == cust->value_tier)
           && (!r->lifecycle_stage || r->lifecycle_stage == cust->lifecycle_stage)
           && (!r->owner[0] || strcmp(r->owner, cust->owner) == 0) && (!r->tag[0] || s_has_tag(cust, r->tag));
}

static int s_invite_segment(crm_txn_t *txn, s_call_t *c)
{
    const Crm__V1__InviteSegmentRequest *r = (const void *) c->req;
    int rc = s_page_token(c, r->page_token);
    if (rc)
        return rc;
    if (r->survey_id[0] && !feedback_name_valid(r->survey_id))
        return feedback_fail(&c->err, CRM_RPC_INVALID, "surveyId", "not a survey id");
    Crm__V1__Survey *survey = NULL;
    rc = feedback_survey_find(c->fb, txn, r->survey_id, CRM__V1__SURVEY_TRIGGER__SURVEY_TRIGGER_SEGMENT, &survey);
    if (rc == CRM_ENOTFOUND)
        return feedback_fail(&c->err, CRM_RPC_NOT_FOUND, "surveyId", "no survey %.64s", r->survey_id[0] ? r->survey_id : "nps");
    if (rc)
        return rc;
    if (!survey->active) {
        rc = feedback_fail(&c->err, CRM_RPC_CONFLICT, "surveyId", "survey %s is not active", survey->id);
        crm_codec_message_free((ProtobufCMessage **) &survey);
        return rc;
    }
    uint32_t limit = r->limit && r->limit < FEEDBACK_SEGMENT_MAX ? r->limit : FEEDBACK_SEGMENT_MAX;
    char **ids = calloc(limit, sizeof *ids);
    char (*id_text)[CRM_ID_SIZE] = malloc(limit * sizeof *id_text);
    Crm__V1__InviteSegmentReply rep = CRM__V1__INVITE_SEGMENT_REPLY__INIT;
    char next[CRM_ID_SIZE] = "";
    rc = ids && id_text ? 0 : CRM_ENOMEM;
    crm_cursor_t *cur = NULL;
    if (rc == 0)
        rc = crm_cursor_open(txn, c->fb->db.customers, &cur);
    crm_val_t k, v;
    if (rc == 0)
        rc = r->page_token[0] ? crm_cursor_seek(cur, r->page_token, CRM_ID_LEN, &k, &v) : crm_cursor_first(cur, &k, &v);
    size_t scanned = 0;
    for (; rc == 0; rc = crm_cursor_next(cur, &k, &v)) {
        if (k.size != CRM_ID_LEN || (r->page_token[0] && memcmp(k.data, r->page_token, CRM_ID_LEN) == 0))
            continue;
        if (rep.invited == limit || scanned == FEEDBACK_SEGMENT_SCAN_MAX)
            break;   /* next (the last customer looked at) is where the next request goes on */
        scanned++;
        memcpy(next, k.data, CRM_ID_LEN);
        next[CRM_ID_LEN] = '\0';
        Crm__V1__FeedbackCustomer *cust = NULL;
        rc = crm_codec_msgpack_decode(&crm__v1__feedback_customer__descriptor, v.data, v.size,
                                      (ProtobufCMessage **) &cust, NULL);
        if (rc)
            break;
        bool match = s_segment_match(r, cust);
        crm_codec_message_free((ProtobufCMessage **) &cust);
        if (!match)
            continue;
        bool pending = false;
        rc = feedback_invite_pending(c->fb, txn, next, survey->id, &pending);
        if (rc)
            break;
        if (pending) {
            rep.skipped++;
            continue;
        }
        feedback_invite_spec_t spec = {
            .customer_id = next, .survey_id = survey->id, .trigger = CRM__V1__SURVEY_TRIGGER__SURVEY_TRIGGER_SEGMENT,
            .cause = "",
        };
        Crm__V1__Invitation *inv = NULL;
        rc = feedback_invite_make(c->fb, txn, &spec, &inv, &c->err);
        if (rc)
            break;
        snprintf(id_text[rep.invited], CRM_ID_SIZE, "%s", inv->id);
        ids[rep.invited] = id_text[rep.invited];
        rep.invited++;
        crm_codec_message_free((ProtobufCMessage **) &inv);
    }
    bool at_end = rc == CRM_ENOTFOUND;
    crm_cursor_close(&cur);
    if (at_end) {
        rc = 0;
        next[0] = '\0';
    }
    if (rc == 0) {
        rep.n_invitation_ids = rep.invited;
        rep.invitation_ids = ids;
        rep.next_page_token = next;
        rc = s_reply(c, &rep.base);
    }
    free(ids);
    free(id_text);
    crm_codec_message_free((ProtobufCMessage **) &survey);
    return rc;
}

/* The status to show: pending past its expiry reads as expired. */
static void s_invitation_status(s_call_t *c, Crm__V1__Invitation *inv)
{
    if (inv->status == CRM__V1__INVITATION_STATUS__INVITATION_STATUS_PENDING
        && feedback_now(c->fb) >= feedback_ts_us(inv->expires_at))
        inv->status = CRM__V1__INVITATION_STATUS__INVITATION_STATUS_EXPIRED;
}

typedef struct {
    s_call_t *c;
    crm_txn_t *txn;
    s_list_t list;
    uint32_t page;
    char next[CRM_ID_SIZE];
    size_t scanned;
    const Crm__V1__ListComplaintsRequest *filter;
} s_page_t;

static int s_visit_invitation(void *arg, const char *id, bool *stop)
{
    s_page_t *p = arg;
    if (p->list.count == p->page) {
        Crm__V1__Invitation *last = (Crm__V1__Invitation *) p->list.items[p->list.count - 1];
        snprintf(p->next, sizeof p->next, "%s", last->id);
        *stop = true;
        return 0;
    }
    Crm__V1__Invitation *inv = NULL;
    int rc = feedback_invitation_get(&p->c->fb->db, p->txn, id, &inv);
    if (rc == CRM_ENOTFOUND)
        return 0;
    if (rc == 0) {
        s_invitation_status(p->c, inv);
        rc = s_list_add(&p->list, &inv->base);
    }
    if (rc)
        crm_codec_message_free((ProtobufCMessage **) &inv);
    return rc;
}

static int s_list_invitations(crm_txn_t *txn, s_call_t *c)
{
    const Crm__V1__ListInvitationsRequest *r = (const void *) c->req;
    int rc = s_need_customer(c, r->customer_id, "customerId");
    if (rc == 0)
        rc = s_page_token(c, r->page_token);
    if (rc)
        return rc;
    s_page_t p = { .c = c, .txn = txn, .page = s_page_size(r->page_size) };
    rc = s_walk_newest(txn, c->fb->db.customer_invitations, r->customer_id, r->page_token, s_visit_invitation, &p);
    if (rc == 0) {
        Crm__V1__ListInvitationsReply rep = CRM__V1__LIST_INVITATIONS_REPLY__INIT;
        rep.n_invitations = p.list.count;
        rep.invitations = (Crm__V1__Invitation **) p.list.items;
        rep.next_page_token = p.next;
        rc = s_reply(c, &rep.base);
    }
    s_list_clear(&p.list);
    return rc;
}

/* --- Answers */

static int s_need_token(s_call_t *c, const char *token)
{
    if (!feedback_token_valid(token))
        return feedback_fail(&c->err, CRM_RPC_NOT_FOUND, "token", "no invitation has this token");
    return 0;
}

static int s_get_question(crm_txn_t *txn, s_call_t *c)
{
    const Crm__V1__QuestionRequest *r = (const void *) c->req;
    int rc = s_need_token(c, r->token);
    if (rc)
        return rc;
    if (r->locale[0] && !feedback_locale_valid(r->locale))
        return feedback_fail(&c->err, CRM_RPC_INVALID, "locale", "a locale such as en or zh-CN");
    Crm__V1__Invitation *inv = NULL;
    Crm__V1__Survey *s = NULL;
    rc = feedback_invite_by_token(c->fb, txn, r->token, &inv, &c->err);
    if (rc == 0) {
        rc = feedback_survey_get(&c->fb->db, txn, inv->survey_id, &s);
        if (rc == CRM_ENOTFOUND)
            rc = feedback_fail(&c->err, CRM_RPC_NOT_FOUND, "token", "the invitation's survey no longer exists");
    }
    Crm__V1__QuestionFollowUp fus[FEEDBACK_FOLLOW_UPS_MAX];
    Crm__V1__QuestionFollowUp *fu_ptrs[FEEDBACK_FOLLOW_UPS_MAX];
    Crm__V1__SurveyChoiceText choices[FEEDBACK_FOLLOW_UPS_MAX][FEEDBACK_CHOICES_MAX];
    Crm__V1__SurveyChoiceText *choice_ptrs[FEEDBACK_FOLLOW_UPS_MAX][FEEDBACK_CHOICES_MAX];
    if (rc == 0) {
        const char *locale = r->locale[0] ? r->locale : inv->locale;
        const char *fallback = c->fb->settings.default_locale;
        Crm__V1__QuestionReply rep = CRM__V1__QUESTION_REPLY__INIT;
        int min = 0, max = 0;
        feedback_score_range(s->kind, &min, &max);
        rep.survey_id = s->id;
        rep.survey_kind = s->kind;
        rep.question = (char *) FEEDBACK_TEXT_PICK(s, texts, locale, fallback);
        rep.min_score = min;
        rep.max_score = max;
        rep.locale = (char *) locale;
        rep.expires_at = inv->expires_at;
        size_t n = s->n_follow_ups < FEEDBACK_FOLLOW_UPS_MAX ? s->n_follow_ups : FEEDBACK_FOLLOW_UPS_MAX;
        for (size_t i = 0; i < n; i++) {
            const Crm__V1__SurveyQuestion *q = s->follow_ups[i];
            crm__v1__question_follow_up__init(&fus[i]);
            fus[i].id = q->id;
            fus[i].kind = q->kind;
            fus[i].text = (char *) FEEDBACK_TEXT_PICK(q, texts, locale, fallback);
            fus[i].required = q->required;
            size_t nc = q->n_choices < FEEDBACK_CHOICES_MAX ? q->n_choices : FEEDBACK_CHOICES_MAX;
            for (size_t j = 0; j < nc; j++) {
                crm__v1__survey_choice_text__init(&choices[i][j]);
                choices[i][j].id = q->choices[j]->id;
                choices[i][j].label = (char *) FEEDBACK_TEXT_PICK(q->choices[j], labels, locale, fallback);
                choice_ptrs[i][j] = &choices[i][j];
            }
            fus[i].n_choices = nc;
            fus[i].choices = choice_ptrs[i];
            fu_ptrs[i] = &fus[i];
        }
        rep.n_follow_ups = n;
        rep.follow_ups = fu_ptrs;
        rc = s_reply(c, &rep.base);
    }
    crm_codec_message_free((ProtobufCMessage **) &inv);
    crm_codec_message_free((ProtobufCMessage **) &s);
    return rc;
}

static int s_submit_answer(crm_txn_t *txn, s_call_t *c)
{
    const Crm__V1__SubmitAnswerRequest *r = (const void *) c->req;
    int rc = s_need_token(c, r->token);
    if (rc)
        return rc;
    feedback_answer_input_t in = {
        .token = r->token, .score = r->score, .follow_ups = r->follow_ups, .n_follow_ups = r->n_follow_ups,
        .comment = r->comment, .recorded_by = "",
    };
    Crm__V1__Answer *a = NULL;
    rc = feedback_answer_record(c->fb, txn, &in, &a, &c->err);
    if (rc == 0) {
        Crm__V1__SubmitAnswerReply rep = CRM__V1__SUBMIT_ANSWER_REPLY__INIT;
        rep.answer_id = a->id;
        rep.survey_kind = a->survey_kind;
        rep.score = a->score;
        rep.answered_at = a->answered_at;
        rc = s_reply(c, &rep.base);
    }
    crm_codec_message_free((ProtobufCMessage **) &a);
    return rc;
}

static int s_record_answer(crm_txn_t *txn, s_call_t *c)
{
    const Crm__V1__RecordAnswerRequest *r = (const void *) c->req;
    int rc = s_need_customer(c, r->customer_id, "customerId");
    if (rc)
        return rc;
    if (r->invitation_id[0] && !crm_id_valid(r->invitation_id))
        return feedback_fail(&c->err, CRM_RPC_NOT_FOUND, "invitationId", "no invitation %.32s", r->invitation_id);
    if (r->survey_id[0] && !feedback_name_valid(r->survey_id))
        return feedback_fail(&c->err, CRM_RPC_INVALID, "surveyId", "not a survey id");
    if (r->locale[0] && !feedback_locale_valid(r->locale))
        return feedback_fail(&c->err, CRM_RPC_INVALID, "locale", "a locale such as en or zh-CN");
    if (r->channel == CRM__V1__ANSWER_CHANNEL__ANSWER_CHANNEL_LINK)
        return feedback_fail(&c->err, CRM_RPC_INVALID, "channel", "link answers come with their token; an agent "
                             "records phone or agent answers");
    feedback_answer_input_t in = {
        .customer_id = r->customer_id, .invitation_id = r->invitation_id, .survey_id = r->survey_id,
        .score = r->score, .follow_ups = r->follow_ups, .n_follow_ups = r->n_follow_ups, .comment = r->comment,
        .channel = r->channel, .recorded_by = c->who.id, .locale = r->locale,
    };
    Crm__V1__Answer *a = NULL;
    rc = feedback_answer_record(c->fb, txn, &in, &a, &c->err);
    if (rc == 0) {
        Crm__V1__AnswerReply rep = CRM__V1__ANSWER_REPLY__INIT;
        rep.answer = a;
        rc = s_reply(c, &rep.base);
    }
    crm_codec_message_free((ProtobufCMessage **) &a);
    return rc;
}

static int s_visit_answer(void *arg, const char *id, bool *stop)
{
    s_page_t *p = arg;
    if (p->list.count == p->page) {
        snprintf(p->next, sizeof p->next, "%s", ((Crm__V1__Answer *) p->list.items[p->list.count - 1])->id);
        *stop = true;
        return 0;
    }
    Crm__V1__Answer *a = NULL;
    int rc = feedback_answer_get(&p->c->fb->db, p->txn, id, &a);
    if (rc == CRM_ENOTFOUND)
        return 0;
    if (rc == 0)
        rc = s_list_add(&p->list, &a->base);
    if (rc)
        crm_codec_message_free((ProtobufCMessage **) &a);
    return rc;
}

static int s_list_answers(crm_txn_t *txn, s_call_t *c)
{
    const Crm__V1__ListAnswersRequest *r = (const void *) c->req;
    int rc = s_need_customer(c, r->customer_id, "customerId");
    if (rc == 0)
        rc = s_page_token(c, r->page_token);
    if (rc)
        return rc;
    s_page_t p = { .c = c, .txn = txn, .page = s_page_size(r->page_size) };
    rc = s_walk_newest(txn, c->fb->db.customer_answers, r->customer_id, r->page_token, s_visit_answer, &p);
    if (rc == 0) {
        Crm__V1__ListAnswersReply rep = CRM__V1__LIST_ANSWERS_REPLY__INIT;
        rep.n_answers = p.list.count;
        rep.answers = (Crm__V1__Answer **) p.list.items;
        rep.next_page_token = p.next;
        rc = s_reply(c, &rep.base);
    }
    s_list_clear(&p.list);
    return rc;
}

/* --- Complaints */

static int s_complaint_reply(s_call_t *c, Crm__V1__Complaint *complaint)
{
    Crm__V1__ComplaintReply rep = CRM__V1__COMPLAINT_REPLY__INIT;
    rep.complaint = complaint;
    return s_reply(c, &rep.base);
}

/* Checks what a caller may set on a complaint they file. */
static int s_check_filed(s_call_t *c, const Crm__V1__Complaint *in)
{
    int rc = s_need_customer(c, in->customer_id, "complaint.customerId");
    if (rc)
        return rc;
    int category = (int) in->category;
    if (category <= 0 || category > CRM__V1__COMPLAINT_CATEGORY__COMPLAINT_CATEGORY_SUGGESTION)
        return feedback_fail(&c->err, CRM_RPC_INVALID, "complaint.category",
                             "category is required: product, service, delivery, billing or suggestion");
    if ((int) in->priority < 0 || (int) in->priority >= FEEDBACK_PRIORITY_COUNT)
        return feedback_fail(&c->err, CRM_RPC_INVALID, "complaint.priority", "priority: low, normal, high or urgent");
    rc = s_check_text(c, in->text, "complaint.text", FEEDBACK_COMPLAINT_TEXT_MAX, true);
    if (rc == 0)
        rc = s_check_text(c, in->subject, "complaint.subject", FEEDBACK_COMPLAINT_SUBJECT_MAX, false);
    if (rc)
        return rc;
    if (in->n_attachments > FEEDBACK_ATTACHMENTS_MAX)
        return feedback_fail(&c->err, CRM_RPC_INVALID, "complaint.attachments", "at most %d attachments",
                             FEEDBACK_ATTACHMENTS_MAX);
    for (size_t i = 0; rc == 0 && i < in->n_attachments; i++)
        rc = s_check_text(c, in->attachments[i], "complaint.attachments", FEEDBACK_ATTACHMENT_MAX, true);
    return rc;
}

/* A new complaint holding what a filer may set (from in), the rest for feedback_complaint_open. */
static int s_complaint_from(const Crm__V1__Complaint *in, const char *locale, Crm__V1__Complaint **out)
{
    Crm__V1__Complaint *c = NULL;
    int rc = crm_codec_message_new(&crm__v1__complaint__descriptor, (ProtobufCMessage **) &c);
    if (rc)
        return rc;
    c->category = in->category;
    c->priority = in->priority;
    c->channel = in->channel;
    c->origin = in->origin;
    rc = feedback_str_set(&c->customer_id, in->customer_id);
    if (rc == 0)
        rc = feedback_str_set(&c->subject, in->subject);
    if (rc == 0)
        rc = feedback_str_set(&c->text, in->text);
    if (rc == 0)
        rc = feedback_str_set(&c->source, in->source);
    if (rc == 0)
        rc = feedback_str_set(&c->source_event_id, in->source_event_id);
    if (rc == 0)
        rc = feedback_str_set(&c->locale, locale);
    if (rc == 0)
        rc = feedback_ts_put(&c->occurred_at, feedback_ts_us(in->occurred_at));
    for (size_t i = 0; rc == 0 && i < in->n_attachments; i++)
        rc = feedback_strv_add(&c->attachments, &c->n_attachments, in->attachments[i]);
    if (rc)
        crm_codec_message_free((ProtobufCMessage **) &c);
    *out = c;
    return rc;
}

/* The customer's locale from the directory ("" when unknown); CRM_ECONFLICT (err) when deleted. */
static int s_customer_locale(feedback_t *fb, crm_txn_t *txn, const char *customer_id, char *locale, feedback_err_t *err)
{
    locale[0] = '\0';
    Crm__V1__FeedbackCustomer *cust = NULL;
    int rc = feedback_customer_get(&fb->db, txn, customer_id, &cust);
    if (rc == CRM_ENOTFOUND)
        return 0;
    if (rc == 0 && (cust->deleted || cust->erased))
        rc = feedback_fail(err, CRM_RPC_CONFLICT, "complaint.customerId", "customer %s was deleted", customer_id);
    else if (rc == 0 && feedback_locale_valid(cust->locale))
        snprintf(locale, FEEDBACK_LOCALE_MAX, "%s", cust->locale);
    crm_codec_message_free((ProtobufCMessage **) &cust);
    return rc;
}

static int s_file_complaint(crm_txn_t *txn, s_call_t *c)
{
    const Crm__V1__FileComplaintRequest *r = (const void *) c->req;
    if (!r->complaint)
        return feedback_fail(&c->err, CRM_RPC_INVALID, "complaint", "a complaint is required");
    int rc = s_check_filed(c, r->complaint);
    char locale[FEEDBACK_LOCALE_MAX];
    if (rc == 0)
        rc = s_customer_locale(c->fb, txn, r->complaint->customer_id, locale, &c->err);
    if (rc)
        return rc;
    Crm__V1__Complaint in = *r->complaint;
    bool integrator = strcmp(c->who.role, FEEDBACK_INTEGRATOR_ROLE) == 0;
    in.origin = integrator ? CRM__V1__COMPLAINT_ORIGIN__COMPLAINT_ORIGIN_INTEGRATOR : CRM__V1__COMPLAINT_ORIGIN__COMPLAINT_ORIGIN_API;
    in.source = (char *) "";
    in.source_event_id = (char *) "";
    Crm__V1__Complaint *complaint = NULL;
    rc = s_complaint_from(&in, locale, &complaint);
    if (rc == 0)
        rc = feedback_complaint_open(c->fb, txn, complaint, &c->who);
    if (rc == 0)
        rc = s_complaint_reply(c, complaint);
    crm_codec_message_free((ProtobufCMessage **) &complaint);
    return rc;
}

static int s_load_complaint(crm_txn_t *txn, s_call_t *c, const char *id, const char *field, Crm__V1__Complaint **out)
{
    int rc = feedback_complaint_get(&c->fb->db, txn, id, out);
    if (rc == CRM_ENOTFOUND)
        return feedback_fail(&c->err, CRM_RPC_NOT_FOUND, field, "no complaint %.32s", id);
    return rc;
}

static int s_get_complaint(crm_txn_t *txn, s_call_t *c)
{
    const Crm__V1__GetComplaintRequest *r = (const void *) c->req;
    Crm__V1__Complaint *complaint = NULL;
    int rc = s_load_complaint(txn, c, r->id, "id", &complaint);
    if (rc == 0)
        rc = feedback_complaint_history_load(&c->fb->db, txn, complaint);
    if (rc == 0)
        rc = s_complaint_reply(c, complaint);
    crm_codec_message_free((ProtobufCMessage **) &complaint);
    return rc;
}

static bool s_complaint_match(const Crm__V1__ListComplaintsRequest *f, const Crm__V1__Complaint *x, int64_t now)
{
    return (!f->status || f->status == x->status) && (!f->category || f->category == x->category)
           && (!f->priority || f->priority == x->priority) && (!f->assignee[0] || strcmp(f->assignee, x->assignee) == 0)
           && (!f->team[0] || strcmp(f->team, x->team) == 0)
           && (!f->customer_id[0] || strcmp(f->customer_id, x->customer_id) == 0)
           && (!f->overdue || feedback_complaint_overdue(x, now));
}

static int s_visit_complaint(void *arg, const char *id, bool *stop)
{
    s_page_t *p = arg;
    if (p->scanned == FEEDBACK_LIST_SCAN_MAX) {
        *stop = true;   /* next already names the last complaint looked at */
        return 0;
    }
    Crm__V1__Complaint *x = NULL;
    int rc = feedback_complaint_get(&p->c->fb->db, p->txn, id, &x);
    if (rc == CRM_ENOTFOUND)
        return 0;
    if (rc)
        return rc;
    if (!s_complaint_match(p->filter, x, feedback_now(p->c->fb))) {
        p->scanned++;
        snprintf(p->next, sizeof p->next, "%s", id);
        crm_codec_message_free((ProtobufCMessage **) &x);
        return 0;
    }
    if (p->list.count == p->page) {
        snprintf(p->next, sizeof p->next, "%s", ((Crm__V1__Complaint *) p->list.items[p->list.count - 1])->id);
        *stop = true;
        crm_codec_message_free((ProtobufCMessage **) &x);
        return 0;
    }
    p->scanned++;
    p->next[0] = '\0';
    rc = s_list_add(&p->list, &x->base);
    if (rc)
        crm_codec_message_free((ProtobufCMessage **) &x);
    return rc;
}

static int s_list_complaints(crm_txn_t *txn, s_call_t *c)
{
    const Crm__V1__ListComplaintsRequest *r = (const void *) c->req;
    int rc = s_page_token(c, r->page_token);
    if (rc == 0 && r->customer_id[0])
        rc = s_need_customer(c, r->customer_id, "customerId");
    if (rc)
        return rc;
    s_page_t p = { .c = c, .txn = txn, .page = s_page_size(r->page_size), .filter = r };
    if (r->customer_id[0])
        rc = s_walk_newest(txn, c->fb->db.customer_complaints, r->customer_id, r->page_token, s_visit_complaint, &p);
    else
        rc = s_walk_newest(txn, c->fb->db.complaints, NULL, r->page_token, s_visit_complaint, &p);
    /* A walk that ran to the end with no match after the last one listed has no next page. */
    if (rc == 0 && p.scanned < FEEDBACK_LIST_SCAN_MAX && p.list.count < p.page)
        p.next[0] = '\0';
    if (rc == 0) {
        Crm__V1__ListComplaintsReply rep = CRM__V1__LIST_COMPLAINTS_REPLY__INIT;
        rep.n_complaints = p.list.count;
        rep.complaints = (Crm__V1__Complaint **) p.list.items;
        rep.next_page_token = p.next;
        rc = s_reply(c, &rep.base);
    }
    s_list_clear(&p.list);
    return rc;
}

static int s_transition(crm_txn_t *txn, s_call_t *c)
{
    const Crm__V1__TransitionComplaintRequest *r = (const void *) c->req;
    Crm__V1__Complaint *complaint = NULL;
    int rc = s_load_complaint(txn, c, r->complaint_id, "complaintId", &complaint);
    if (rc == 0 && r->if_version && r->if_version != complaint->version)
        rc = feedback_fail(&c->err, CRM_RPC_PRECONDITION_FAILED, "ifVersion",
                           "the complaint is at version %llu, not %llu", (unsigned long long) complaint->version,
                           (unsigned long long) r->if_version);
    if (rc == 0)
        rc = feedback_complaint_transition(c->fb, txn, complaint, r->to, r->assignee, r->team, r->comment, &c->who,
                                           &c->err);
    if (rc == 0)
        rc = s_complaint_reply(c, complaint);
    crm_codec_message_free((ProtobufCMessage **) &complaint);
    return rc;
}

static int s_text_action(crm_txn_t *txn, s_call_t *c, bool reply)
{
    const Crm__V1__ComplaintTextRequest *r = (const void *) c->req;
    int rc = s_check_text(c, r->text, "text", FEEDBACK_COMPLAINT_TEXT_MAX, true);
    Crm__V1__Complaint *complaint = NULL;
    if (rc == 0)
        rc = s_load_complaint(txn, c, r->complaint_id, "complaintId", &complaint);
    if (rc == 0)
        rc = reply ? feedback_complaint_reply(c->fb, txn, complaint, r->text, &c->who, &c->err)
                   : feedback_complaint_note(c->fb, txn, complaint, r->text, &c->who, &c->err);
    if (rc == 0)
        rc = s_complaint_reply(c, complaint);
    crm_codec_message_free((ProtobufCMessage **) &complaint);
    return rc;
}

static int s_reply_complaint(crm_txn_t *txn, s_call_t *c)
{
    return s_text_action(txn, c, true);
}

static int s_add_note(crm_txn_t *txn, s_call_t *c)
{
    return s_text_action(txn, c, false);
}

/* --- The method table */

typedef struct {
    const char *name;                              /* after "feedback." */
    const ProtobufCMessageDescriptor *request;
    s_method_fn fn;
    bool write;
    bool admin;
} s_method_t;

static const s_method_t s_methods[] = {
    { "PutSurvey", &crm__v1__put_survey_request__descriptor, s_put_survey, true, true },
    { "GetSurvey", &crm__v1__get_survey_request__descriptor, s_get_survey, false, false },
    { "ListSurveys", &crm__v1__list_surveys_request__descriptor, s_list_surveys, false, false },
    { "Invite", &crm__v1__invite_request__descriptor, s_invite, true, false },
    { "InviteSegment", &crm__v1__invite_segment_request__descriptor, s_invite_segment, true, true },
    { "ListInvitations", &crm__v1__list_invitations_request__descriptor, s_list_invitations, false, false },
    { "GetQuestion", &crm__v1__question_request__descriptor, s_get_question, false, false },
    { "SubmitAnswer", &crm__v1__submit_answer_request__descriptor, s_submit_answer, true, false },
    { "RecordAnswer", &crm__v1__record_answer_request__descriptor, s_record_answer, true, false },
    { "ListAnswers", &crm__v1__list_answers_request__descriptor, s_list_answers, false, false },
    { "FileComplaint", &crm__v1__file_complaint_request__descriptor, s_file_complaint, true, false },
    { "GetComplaint", &crm__v1__get_complaint_request__descriptor, s_get_complaint, false, false },
    { "ListComplaints", &crm__v1__list_complaints_request__descriptor, s_list_complaints, false, false },
    { "TransitionComplaint", &crm__v1__transition_complaint_request__descriptor, s_transition, true, false },
    { "ReplyComplaint", &crm__v1__complaint_text_request__descriptor, s_reply_complaint, true, false },
    { "AddComplaintNote", &crm__v1__complaint_text_request__descriptor, s_add_note, true, false },
};

static int s_write_body(crm_txn_t *txn, void *arg)
{
    s_call_t *c = arg;
    free(c->body);
    c->body = NULL;
    c->body_len = 0;
    memset(&c->err, 0, sizeof c->err);
    return c->fn(txn, c);
}

static void s_result(feedback_result_t *res, crm_rpc_status_t status, const char *field, const char *error)
{
    res->status = status;
    snprintf(res->field, sizeof res->field, "%s", field ? field : "");
    snprintf(res->error, sizeof res->error, "%s", error ? error : "");
}

void feedback_handle(feedback_t *fb, const char *method, const feedback_caller_t *caller, const void *body,
                     size_t body_len, feedback_result_t *res)
{
    memset(res, 0, sizeof *res);
    const s_method_t *m = NULL;
    size_t prefix = strlen(FEEDBACK_METHOD_PREFIX);
    if (strncmp(method, FEEDBACK_METHOD_PREFIX, prefix) == 0)
        for (size_t i = 0; i < sizeof s_methods / sizeof s_methods[0]; i++)
            if (strcmp(method + prefix, s_methods[i].name) == 0)
                m = &s_methods[i];
    if (!m) {
        s_result(res, CRM_RPC_UNKNOWN_METHOD, NULL, "unknown method");
        return;
    }
    const feedback_caller_t nobody = { "", "" };
    if (!caller)
        caller = &nobody;
    if (m->admin && (!caller->role || strcmp(caller->role, FEEDBACK_ADMIN_ROLE) != 0)) {
        s_result(res, CRM_RPC_FORBIDDEN, NULL, "this method needs the admin role");
        return;
    }
    ProtobufCMessage *req = NULL;
    crm_codec_error_t cerr;
    int rc = crm_codec_pb_decode(m->request, body_len ? body : "", body_len, &req, &cerr);
    if (rc) {
        s_result(res, rc == CRM_ETOOBIG ? CRM_RPC_TOO_LARGE : CRM_RPC_INVALID, cerr.path, cerr.message);
        return;
    }
    s_call_t c = {
        .fb = fb, .caller = caller, .req = req, .fn = m->fn,
        .who = { caller->key_id ? caller->key_id : "", caller->role ? caller->role : "" },
    };
    if (m->write) {
        rc = feedback_write(fb, s_write_body, &c);
    } else {
        crm_txn_t *txn = NULL;
        rc = crm_store_read_begin(fb->store, &txn);
        if (rc == 0)
            rc = m->fn(txn, &c);
        crm_store_txn_end(&txn);
    }
    if (rc == 0) {
        res->status = CRM_RPC_OK;
        res->body = c.body;
        res->body_len = c.body_len;
        c.body = NULL;
    } else if (c.err.status != CRM_RPC_OK) {
        s_result(res, c.err.status, c.err.field, c.err.message);
    } else {
        s_result(res, CRM_RPC_INTERNAL, NULL, crm_strerror(rc));
    }
    free(c.body);
    crm_codec_message_free(&req);
}

/* --- Contacts events */

/* The directory entry of a customer, or a fresh one. Returns 0 with *out (caller frees). */
static int s_directory_get(feedback_t *fb, crm_txn_t *txn, const char *id, Crm__V1__FeedbackCustomer **out)
{
    int rc = feedback_customer_get(&fb->db, txn, id, out);
    if (rc != CRM_ENOTFOUND)
        return rc;
    rc = crm_codec_message_new(&crm__v1__feedback_customer__descriptor, (ProtobufCMessage **) out);
    if (rc == 0)
        rc = feedback_str_set(&(*out)->id, id);
    return rc;
}

static int s_directory_put(feedback_t *fb, crm_txn_t *txn, Crm__V1__FeedbackCustomer *d)
{
    d->updated_us = feedback_now(fb);
    return feedback_record_put(txn, fb->db.customers, d->id, CRM_ID_LEN, &d->base);
}

/* What feedback keeps of a customer: locale, tier, tags, stage, owner, email. */
static int s_directory_upsert(feedback_t *fb, crm_txn_t *txn, const Crm__V1__Customer *cust)
{
    if (!cust || !crm_id_valid(cust->id))
        return CRM_EINVALID;
    Crm__V1__FeedbackCustomer *d = NULL;
    int rc = s_directory_get(fb, txn, cust->id, &d);
    if (rc)
        return rc;
    if (!d->erased) {
        d->value_tier = cust->value_tier;
        d->lifecycle_stage = cust->lifecycle_stage;
        rc = feedback_str_set(&d->locale, feedback_locale_valid(cust->locale) ? cust->locale : "");
        if (rc == 0)
            rc = feedback_str_set(&d->owner, cust->owner);
        if (rc == 0)
            rc = feedback_str_set(&d->email, cust->email);
        if (rc == 0) {
            feedback_strv_clear(&d->tags, &d->n_tags);
            for (size_t i = 0; rc == 0 && i < cust->n_tags; i++)
                rc = feedback_strv_add(&d->tags, &d->n_tags, cust->tags[i]);
        }
        if (rc == 0)
            rc = s_directory_put(fb, txn, d);
    }
    crm_codec_message_free((ProtobufCMessage **) &d);
    return rc;
}

/* Marks a customer gone; erase also forgets what feedback held of them. */
static int s_directory_gone(feedback_t *fb, crm_txn_t *txn, const char *id, bool erase)
{
    if (!crm_id_valid(id))
        return CRM_EINVALID;
    Crm__V1__FeedbackCustomer *d = NULL;
    int rc = s_directory_get(fb, txn, id, &d);
    if (rc)
        return rc;
    d->deleted = true;
    if (erase) {
        d->erased = true;
        d->value_tier = 0;
        d->lifecycle_stage = 0;
        rc = feedback_str_set(&d->locale, "");
        if (rc == 0)
            rc = feedback_str_set(&d->owner, "");
        if (rc == 0)
            rc = feedback_str_set(&d->email, "");
        feedback_strv_clear(&d->tags, &d->n_tags);
    }
    if (rc == 0)
        rc = s_directory_put(fb, txn, d);
    crm_codec_message_free((ProtobufCMessage **) &d);
    if (rc == 0 && erase)
        rc = feedback_answers_erase(fb, txn, id);
    if (rc == 0 && erase)
        rc = feedback_complaints_erase(fb, txn, id);
    return rc;
}

static int s_on_customer_created(feedback_t *fb, crm_txn_t *txn, const Crm__V1__Event *ev, const ProtobufCMessage *msg)
{
    (void) ev;
    return s_directory_upsert(fb, txn, ((const Crm__V1__CustomerCreated *) msg)->customer);
}

static int s_on_customer_updated(feedback_t *fb, crm_txn_t *txn, const Crm__V1__Event *ev, const ProtobufCMessage *msg)
{
    (void) ev;
    return s_directory_upsert(fb, txn, ((const Crm__V1__CustomerUpdated *) msg)->customer);
}

static int s_on_customer_merged(feedback_t *fb, crm_txn_t *txn, const Crm__V1__Event *ev, const ProtobufCMessage *msg)
{
    (void) ev;
    const Crm__V1__CustomerMerged *m = (const void *) msg;
    int rc = s_directory_gone(fb, txn, m->merged_id, false);
    if (rc == 0 && m->survivor)
        rc = s_directory_upsert(fb, txn, m->survivor);
    return rc;
}

static int s_on_customer_deleted(feedback_t *fb, crm_txn_t *txn, const Crm__V1__Event *ev, const ProtobufCMessage *msg)
{
    (void) ev;
    return s_directory_gone(fb, txn, ((const Crm__V1__CustomerDeleted *) msg)->customer_id, false);
}

static int s_on_customer_erased(feedback_t *fb, crm_txn_t *txn, const Crm__V1__Event *ev, const ProtobufCMessage *msg)
{
    (void) ev;
    return s_directory_gone(fb, txn, ((const Crm__V1__CustomerErased *) msg)->customer_id, true);
}

static int s_on_purchase_recorded(feedback_t *fb, crm_txn_t *txn, const Crm__V1__Event *ev, const ProtobufCMessage *msg)
{
    (void) ev;
    const Crm__V1__Purchase *p = ((const Crm__V1__PurchaseRecorded *) msg)->purchase;
    if (!p || !crm_id_valid(p->customer_id) || !p->id[0] || strlen(p->id) + strlen(S_PURCHASE_CAUSE) >= FEEDBACK_CAUSE_MAX)
        return CRM_EINVALID;
    Crm__V1__FeedbackCustomer *d = NULL;
    int rc = feedback_customer_get(&fb->db, txn, p->customer_id, &d);
    bool gone = rc == 0 && d->deleted;
    crm_codec_message_free((ProtobufCMessage **) &d);
    if (rc && rc != CRM_ENOTFOUND)
        return rc;
    if (gone)
        return 0;
    char cause[FEEDBACK_CAUSE_MAX];
    snprintf(cause, sizeof cause, S_PURCHASE_CAUSE "%s", p->id);
    feedback_invite_spec_t spec = {
        .customer_id = p->customer_id, .trigger = CRM__V1__SURVEY_TRIGGER__SURVEY_TRIGGER_PURCHASE, .cause = cause,
    };
    return feedback_invite_schedule(fb, txn, &spec, feedback_now(fb) + fb->settings.invite_delay_us);
}

/* An integrator's complaint, opened once per (source, event id). */
static int s_on_complaint_received(feedback_t *fb, crm_txn_t *txn, const Crm__V1__Event *ev, const ProtobufCMessage *msg)
{
    (void) ev;
    const Crm__V1__ComplaintReceived *m = (const void *) msg;
    if (!crm_id_valid(m->customer_id) || !m->event_id[0] || strlen(m->text) > FEEDBACK_COMPLAINT_TEXT_MAX
        || strlen(m->subject) > FEEDBACK_COMPLAINT_SUBJECT_MAX || m->n_attachments > FEEDBACK_ATTACHMENTS_MAX)
        return CRM_EINVALID;
    char cause[FEEDBACK_CAUSE_MAX];
    int n = snprintf(cause, sizeof cause, "event:%s\n%s", m->source, m->event_id);
    if (n < 0 || (size_t) n >= sizeof cause)
        return CRM_EINVALID;
    char made[FEEDBACK_CAUSE_MAX];
    int rc = feedback_cause_get(&fb->db, txn, cause, made);
    if (rc != CRM_ENOTFOUND)
        return rc;   /* 0: opened before */
    char locale[FEEDBACK_LOCALE_MAX];
    feedback_err_t err = { 0 };
    rc = s_customer_locale(fb, txn, m->customer_id, locale, &err);
    if (rc == CRM_ECONFLICT)
        return feedback_cause_put(&fb->db, txn, cause, "skipped:deleted");
    if (rc)
        return rc;
    Crm__V1__Complaint in = CRM__V1__COMPLAINT__INIT;
    in.customer_id = m->customer_id;
    int category = (int) m->category;
    in.category = category > 0 && category <= CRM__V1__COMPLAINT_CATEGORY__COMPLAINT_CATEGORY_SUGGESTION
                      ? m->category : CRM__V1__COMPLAINT_CATEGORY__COMPLAINT_CATEGORY_SERVICE;
    in.priority = (int) m->priority > 0 && (int) m->priority < FEEDBACK_PRIORITY_COUNT ? m->priority
                                                                                      : CRM__V1__PRIORITY__PRIORITY_NORMAL;
    in.subject = m->subject;
    in.text = m->text[0] ? m->text : m->subject;
    in.n_attachments = m->n_attachments;
    in.attachments = m->attachments;
    in.origin = CRM__V1__COMPLAINT_ORIGIN__COMPLAINT_ORIGIN_INTEGRATOR;
    in.channel = m->channel;
    in.source = m->source;
    in.source_event_id = m->event_id;
    in.occurred_at = m->occurred_at;
    Crm__V1__Complaint *c = NULL;
    rc = s_complaint_from(&in, locale, &c);
    feedback_actor_t who = { m->source[0] ? m->source : FEEDBACK_INTEGRATOR_ROLE, FEEDBACK_INTEGRATOR_ROLE };
    if (rc == 0)
        rc = feedback_complaint_open(fb, txn, c, &who);
    if (rc == 0)
        rc = feedback_cause_put(&fb->db, txn, cause, c->id);
    crm_codec_message_free((ProtobufCMessage **) &c);
    return rc;
}

typedef int (*s_event_fn)(feedback_t *fb, crm_txn_t *txn, const Crm__V1__Event *ev, const ProtobufCMessage *msg);

static const struct {
    const char *type;
    const ProtobufCMessageDescriptor *data;
    s_event_fn fn;
} s_events[] = {
    { "crm.contacts.purchase.recorded.v1", &crm__v1__purchase_recorded__descriptor, s_on_purchase_recorded },
    { "crm.contacts.customer.created.v1", &crm__v1__customer_created__descriptor, s_on_customer_created },
    { "crm.contacts.customer.updated.v1", &crm__v1__customer_updated__descriptor, s_on_customer_updated },
    { "crm.contacts.customer.merged.v1", &crm__v1__customer_merged__descriptor, s_on_customer_merged },
    { "crm.contacts.customer.deleted.v1", &crm__v1__customer_deleted__descriptor, s_on_customer_deleted },
    { "crm.contacts.customer.erased.v1", &crm__v1__customer_erased__descriptor, s_on_customer_erased },
    { "crm.contacts.complaint.received.v1", &crm__v1__complaint_received__descriptor, s_on_complaint_received },
};

int feedback_on_contacts_event(crm_txn_t *txn, const crm_bus_event_t *event, void *arg)
{
    feedback_t *fb = arg;
    size_t i = 0;
    size_t count = sizeof s_events / sizeof s_events[0];
    for (; i < count; i++)
        if (event->topic_len == strlen(s_events[i].type) && memcmp(event->topic, s_events[i].type, event->topic_len) == 0)
            break;
    if (i == count)
        return 0;   /* an event feedback has no use for */
    Crm__V1__Event *ev = NULL;
    ProtobufCMessage *msg = NULL;
    int rc = crm_event_decode(event->payload, event->payload_len, &ev);
    if (rc == 0)
        rc = crm_event_data(ev, s_events[i].data, &msg);
    if (rc)
        rc = CRM_EINVALID;
    else
        rc = s_events[i].fn(fb, txn, ev, msg);
    crm_codec_message_free(&msg);
    crm_event_destroy(&ev);
    /* The subscriber commits this transaction right after; the publisher reads the notification
     * only then, and finds nothing new if the transaction was aborted. */
    if (rc == 0)
        crm_outbox_notify(fb->outbox);
    return rc;
}
