/* feedback_invite.c: invitations with single-use tokens, and answers with their classes, sentiment and automatic complaints. */
#include "feedback_invite.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crm_codec.h"
#include "crm_error.h"
#include "crm_time.h"
#include "feedback_complaint.h"
#include "feedback_survey.h"
#include "feedback_token.h"

#define S_PENDING  CRM__V1__INVITATION_STATUS__INVITATION_STATUS_PENDING
#define S_ANSWERED CRM__V1__INVITATION_STATUS__INVITATION_STATUS_ANSWERED
#define S_PURCHASE CRM__V1__SURVEY_TRIGGER__SURVEY_TRIGGER_PURCHASE
#define S_US_PER_HOUR (INT64_C(3600) * 1000000)
#define S_ID_AFTER_LAST "\xff"       /* sorts after every id: seeks the end of a customer's prefix */
#define S_SUBJECT_MAX 160

/* --- Look-ups */

/* Places cur on the last key that starts with the 26-byte prefix. Returns 0 with *k, or
 * CRM_ENOTFOUND when there is none. */
static int s_last_with_prefix(crm_cursor_t *cur, const char *prefix, crm_val_t *k)
{
    uint8_t key[CRM_ID_LEN + 1];
    memcpy(key, prefix, CRM_ID_LEN);
    key[CRM_ID_LEN] = (uint8_t) S_ID_AFTER_LAST[0];
    int rc = crm_cursor_seek(cur, key, sizeof key, k, NULL);
    rc = rc == 0 ? crm_cursor_prev(cur, k, NULL) : rc == CRM_ENOTFOUND ? crm_cursor_last(cur, k, NULL) : rc;
    if (rc == 0 && (k->size < CRM_ID_LEN || memcmp(k->data, prefix, CRM_ID_LEN) != 0))
        rc = CRM_ENOTFOUND;
    return rc;
}

/* When customer_id was last invited (Unix microseconds; 0 never), from the newest invitation id. */
static int s_last_invited(feedback_t *fb, crm_txn_t *txn, const char *customer_id, int64_t *at_us)
{
    *at_us = 0;
    crm_cursor_t *cur = NULL;
    int rc = crm_cursor_open(txn, fb->db.customer_invitations, &cur);
    crm_val_t k;
    if (rc == 0)
        rc = s_last_with_prefix(cur, customer_id, &k);
    if (rc == 0 && k.size == FEEDBACK_PAIR_KEY_LEN) {
        char id[CRM_ID_SIZE];
        memcpy(id, (const char *) k.data + CRM_ID_LEN, CRM_ID_LEN);
        id[CRM_ID_LEN] = '\0';
        uint64_t ms = 0;
        if (crm_id_time_ms(id, &ms) == 0)
            *at_us = (int64_t) ms * 1000;
    }
    crm_cursor_close(&cur);
    return rc == CRM_ENOTFOUND ? 0 : rc;
}

int feedback_invite_pending(feedback_t *fb, crm_txn_t *txn, const char *customer_id, const char *survey_id,
                            bool *pending)
{
    *pending = false;
    int64_t now = feedback_now(fb);
    char (*ids)[CRM_ID_SIZE] = malloc(FEEDBACK_PENDING_SCAN_MAX * sizeof *ids);
    if (!ids)
        return CRM_ENOMEM;
    size_t count = 0;
    crm_cursor_t *cur = NULL;
    int rc = crm_cursor_open(txn, fb->db.customer_invitations, &cur);
    crm_val_t k;
    for (rc = rc ? rc : s_last_with_prefix(cur, customer_id, &k); rc == 0 && count < FEEDBACK_PENDING_SCAN_MAX;
         rc = crm_cursor_prev(cur, &k, NULL)) {
        if (k.size != FEEDBACK_PAIR_KEY_LEN || memcmp(k.data, customer_id, CRM_ID_LEN) != 0)
            break;
        memcpy(ids[count], (const char *) k.data + CRM_ID_LEN, CRM_ID_LEN);
        ids[count++][CRM_ID_LEN] = '\0';
    }
    crm_cursor_close(&cur);
    if (rc == CRM_ENOTFOUND)
        rc = 0;
    for (size_t i = 0; rc == 0 && i < count && !*pending; i++) {
        Crm__V1__Invitation *inv = NULL;
        rc = feedback_invitation_get(&fb->db, txn, ids[i], &inv);
        if (rc == 0)
            *pending = inv->status == S_PENDING && strcmp(inv->survey_id, survey_id) == 0
                       && feedback_ts_us(inv->expires_at) > now;
        else if (rc == CRM_ENOTFOUND)
            rc = 0;
        crm_codec_message_free((ProtobufCMessage **) &inv);
    }
    free(ids);
    return rc;
}

/* --- Making invitations */

int feedback_invite_schedule(feedback_t *fb, crm_txn_t *txn, const feedback_invite_spec_t *spec, int64_t due_us)
{
    char made[FEEDBACK_CAUSE_MAX];
    int rc = feedback_cause_get(&fb->db, txn, spec->cause, made);
    if (rc != CRM_ENOTFOUND)
        return rc;   /* 0: seen before; or an error */
    rc = feedback_cause_put(&fb->db, txn, spec->cause, "");
    if (rc)
        return rc;
    Crm__V1__FeedbackTimer t = CRM__V1__FEEDBACK_TIMER__INIT;
    t.kind = CRM__V1__FEEDBACK_TIMER__KIND__KIND_INVITE;
    t.due_us = due_us;
    t.customer_id = (char *) spec->customer_id;
    t.survey_id = (char *) (spec->survey_id ? spec->survey_id : "");
    t.trigger = spec->trigger;
    t.cause = (char *) spec->cause;
    return feedback_timer_put(&fb->db, txn, &t, spec->cause);
}

int feedback_invite_make(feedback_t *fb, crm_txn_t *txn, const feedback_invite_spec_t *spec,
                         Crm__V1__Invitation **out, feedback_err_t *err)
{
    assert(crm_id_valid(spec->customer_id));
    Crm__V1__Survey *survey = NULL;
    Crm__V1__FeedbackCustomer *cust = NULL;
    int rc = feedback_survey_find(fb, txn, spec->survey_id, spec->trigger, &survey);
    if (rc == CRM_ENOTFOUND) {
        if (spec->survey_id && spec->survey_id[0])
            rc = feedback_fail(err, CRM_RPC_NOT_FOUND, "surveyId", "no survey %.64s", spec->survey_id);
        else
            rc = feedback_fail(err, CRM_RPC_NOT_FOUND, "surveyId", "no active survey fits this invitation");
        goto out;
    }
    if (rc)
        goto out;
    if (!survey->active) {
        rc = feedback_fail(err, CRM_RPC_CONFLICT, "surveyId", "survey %s is not active", survey->id);
        goto out;
    }
    rc = feedback_customer_get(&fb->db, txn, spec->customer_id, &cust);
    if (rc && rc != CRM_ENOTFOUND)
        goto out;
    rc = 0;
    if (cust && (cust->deleted || cust->erased)) {
        rc = feedback_fail(err, CRM_RPC_CONFLICT, "customerId", "customer %s was deleted", spec->customer_id);
        goto out;
    }
    const char *locale = spec->locale && feedback_locale_valid(spec->locale) ? spec->locale
                       : cust && feedback_locale_valid(cust->locale) ? cust->locale
                                                                     : fb->settings.default_locale;
    char token[FEEDBACK_TOKEN_SIZE];
    uint8_t hash[FEEDBACK_TOKEN_HASH_LEN];
    char id[CRM_ID_SIZE];
    feedback_token_new(token);
    rc = feedback_token_hash(token, hash);
    assert(rc == 0);
    rc = crm_id_next(fb->ids, id);
    if (rc)
        goto out;
    int64_t now = feedback_now(fb);
    int64_t validity = survey->validity_hours ? (int64_t) survey->validity_hours * S_US_PER_HOUR
                                              : fb->settings.invite_validity_us;
    char url[FEEDBACK_URL_MAX + FEEDBACK_TOKEN_SIZE];
    snprintf(url, sizeof url, "%s%s", fb->settings.answer_url_base, token);
    Crm__V1__Timestamp created, expires;
    Crm__V1__Invitation inv = CRM__V1__INVITATION__INIT;
    inv.id = id;
    inv.customer_id = (char *) spec->customer_id;
    inv.survey_id = survey->id;
    inv.survey_kind = survey->kind;
    inv.created_at = feedback_ts_fill(&created, now);
    inv.expires_at = feedback_ts_fill(&expires, now + validity);
    inv.locale = (char *) locale;
    inv.question = (char *) FEEDBACK_TEXT_PICK(survey, texts, locale, fb->settings.default_locale);
    inv.trigger = spec->trigger;
    inv.cause = (char *) (spec->cause ? spec->cause : "");
    inv.status = S_PENDING;
    rc = feedback_record_put(txn, fb->db.invitations, id, CRM_ID_LEN, &inv.base);   /* without token */
    if (rc == 0)
        rc = crm_store_put(txn, fb->db.tokens, hash, sizeof hash, id, CRM_ID_LEN, CRM_STORE_NOOVERWRITE);
    if (rc == 0) {
        uint8_t key[FEEDBACK_PAIR_KEY_LEN];
        feedback_key_pair(key, spec->customer_id, id);
        rc = feedback_index_put(txn, fb->db.customer_invitations, key, sizeof key);
    }
    if (rc == 0 && spec->cause && spec->cause[0])
        rc = feedback_cause_put(&fb->db, txn, spec->cause, id);
    inv.token = token;
    inv.answer_url = url;
    if (rc == 0) {
        Crm__V1__InvitationCreated ev = CRM__V1__INVITATION_CREATED__INIT;
        ev.invitation = &inv;
        rc = feedback_emit(fb, txn, FEEDBACK_EVENT_INVITATION_CREATED, spec->customer_id, &ev.base);
    }
    if (rc == 0 && out)
        rc = feedback_msg_copy(&inv.base, (ProtobufCMessage **) out);
out:
    crm_codec_message_free((ProtobufCMessage **) &survey);
    crm_codec_message_free((ProtobufCMessage **) &cust);
    return rc;
}

int feedback_invite_on_timer(feedback_t *fb, crm_txn_t *txn, const Crm__V1__FeedbackTimer *t)
{
    if (!crm_id_valid(t->customer_id))
        return 0;
    if (t->trigger == S_PURCHASE && fb->settings.invite_cooldown_us > 0) {
        int64_t last = 0;
        int rc = s_last_invited(fb, txn, t->customer_id, &last);
        if (rc)
            return rc;
        if (last && feedback_now(fb) - last < fb->settings.invite_cooldown_us)
            return t->cause[0] ? feedback_cause_put(&fb->db, txn, t->cause, "skipped:cooldown") : 0;
    }
    feedback_invite_spec_t spec = {
        .customer_id = t->customer_id, .survey_id = t->survey_id, .trigger = t->trigger, .cause = t->cause,
    };
    feedback_err_t err = { 0 };
    int rc = feedback_invite_make(fb, txn, &spec, NULL, &err);
    if (rc && err.status != CRM_RPC_OK)
        return t->cause[0] ? feedback_cause_put(&fb->db, txn, t->cause, "skipped") : 0;
    return rc;
}

int feedback_invite_by_token(feedback_t *fb, crm_txn_t *txn, const char *token, Crm__V1__Invitation **out,
                             feedback_err_t *err)
{
    uint8_t hash[FEEDBACK_TOKEN_HASH_LEN];
    if (feedback_token_hash(token, hash))
        return feedback_fail(err, CRM_RPC_NOT_FOUND, "token", "no invitation has this token");
    crm_val_t v;
    int rc = crm_store_get(txn, fb->db.tokens, hash, sizeof hash, &v);
    if (rc == CRM_ENOTFOUND || (rc == 0 && v.size != CRM_ID_LEN))
        return feedback_fail(err, CRM_RPC_NOT_FOUND, "token", "no invitation has this token");
    if (rc)
        return rc;
    char id[CRM_ID_SIZE];
    memcpy(id, v.data, CRM_ID_LEN);
    id[CRM_ID_LEN] = '\0';
    Crm__V1__Invitation *inv = NULL;
    rc = feedback_invitation_get(&fb->db, txn, id, &inv);
    if (rc == CRM_ENOTFOUND)
        return feedback_fail(err, CRM_RPC_NOT_FOUND, "token", "no invitation has this token");
    if (rc)
        return rc;
    char at[CRM_TIME_TEXT_MAX] = "";
    if (inv->status == S_ANSWERED) {
        crm_time_format_us(feedback_ts_us(inv->answered_at), at, sizeof at);
        rc = feedback_fail(err, CRM_RPC_CONFLICT, "token", "this invitation was already answered (at %s); "
                           "each invitation takes one answer", at);
    } else if (feedback_now(fb) >= feedback_ts_us(inv->expires_at)) {
        crm_time_format_us(feedback_ts_us(inv->expires_at), at, sizeof at);
        rc = feedback_fail(err, CRM_RPC_CONFLICT, "token", "this invitation expired at %s and can no longer be "
                           "answered", at);
    }
    if (rc) {
        crm_codec_message_free((ProtobufCMessage **) &inv);
        return rc;
    }
    *out = inv;
    return 0;
}

/* --- Answers */

static const Crm__V1__SurveyQuestion *s_question(const Crm__V1__Survey *s, const char *id)
{
    for (size_t i = 0; i < s->n_follow_ups; i++)
        if (strcmp(s->follow_ups[i]->id, id) == 0)
            return s->follow_ups[i];
    return NULL;
}

static bool s_has_choice(const Crm__V1__SurveyQuestion *q, const char *id)
{
    for (size_t i = 0; i < q->n_choices; i++)
        if (strcmp(q->choices[i]->id, id) == 0)
            return true;
    return false;
}

/* What the open texts of an answer say, together. */
typedef struct {
    long sum;
    int count;
    unsigned topics;
} s_mood_t;

/* Analyses one open text into fu (when not NULL) and the total. */
static int s_analyse(const char *text, const char *field, Crm__V1__FollowUpAnswer *fu, char **topic_names,
                     s_mood_t *mood, feedback_err_t *err)
{
    if (!text[0])
        return 0;
    feedback_sentiment_t s;
    if (feedback_sentiment_analyze(text, strlen(text), &s))
        return feedback_fail(err, CRM_RPC_INVALID, field, "the text must be valid UTF-8 of at most %d bytes",
                             FEEDBACK_ANSWER_TEXT_MAX);
    mood->sum += s.score;
    mood->count++;
    mood->topics |= s.topics;
    if (fu) {
        fu->sentiment_score = s.score;
        fu->polarity = feedback_polarity_proto(s.polarity);
        for (int t = 0; t < FEEDBACK_TOPIC_COUNT; t++)
            if (s.topics & (1u << t))
                topic_names[fu->n_topics++] = (char *) feedback_topic_name((feedback_topic_t) t);
        fu->topics = topic_names;
    }
    return 0;
}

/* Checks the follow-up answers against the survey and analyses their texts into fus. */
static int s_follow_ups(const Crm__V1__Survey *survey, const feedback_answer_input_t *in, Crm__V1__FollowUpAnswer *fus,
                        Crm__V1__FollowUpAnswer **fu_ptrs, char *topic_names[][FEEDBACK_TOPIC_COUNT], s_mood_t *mood,
                        feedback_err_t *err)
{
    if (in->n_follow_ups > FEEDBACK_FOLLOW_UPS_MAX)
        return feedback_fail(err, CRM_RPC_INVALID, "followUps", "at most %d answers", FEEDBACK_FOLLOW_UPS_MAX);
    char field[FEEDBACK_FIELD_MAX];
    for (size_t i = 0; i < in->n_follow_ups; i++) {
        const Crm__V1__FollowUpAnswer *a = in->follow_ups[i];
        snprintf(field, sizeof field, "followUps[%zu].questionId", i);
        const Crm__V1__SurveyQuestion *q = s_question(survey, a->question_id);
        if (!q)
            return feedback_fail(err, CRM_RPC_INVALID, field, "survey %s has no question \"%.64s\"", survey->id,
                                 a->question_id);
        for (size_t j = 0; j < i; j++)
            if (strcmp(in->follow_ups[j]->question_id, a->question_id) == 0)
                return feedback_fail(err, CRM_RPC_INVALID, field, "question %s is answered twice", q->id);
        crm__v1__follow_up_answer__init(&fus[i]);
        fus[i].question_id = q->id;
        fu_ptrs[i] = &fus[i];
        if (q->kind == CRM__V1__QUESTION_KIND__QUESTION_KIND_SINGLE_CHOICE) {
            snprintf(field, sizeof field, "followUps[%zu].choiceId", i);
            if (!s_has_choice(q, a->choice_id))
                return feedback_fail(err, CRM_RPC_INVALID, field, "question %s has no choice \"%.64s\"", q->id,
                                     a->choice_id);
            fus[i].choice_id = a->choice_id;
            continue;
        }
        snprintf(field, sizeof field, "followUps[%zu].text", i);
        if (a->choice_id[0])
            return feedback_fail(err, CRM_RPC_INVALID, field, "question %s takes text, not a choice", q->id);
        if (strlen(a->text) > FEEDBACK_ANSWER_TEXT_MAX)
            return feedback_fail(err, CRM_RPC_INVALID, field, "at most %d bytes", FEEDBACK_ANSWER_TEXT_MAX);
        fus[i].text = a->text;
        int rc = s_analyse(a->text, field, &fus[i], topic_names[i], mood, err);
        if (rc)
            return rc;
    }
    for (size_t i = 0; i < survey->n_follow_ups; i++) {
        const Crm__V1__SurveyQuestion *q = survey->follow_ups[i];
        if (!q->required)
            continue;
        bool answered = false;
        for (size_t j = 0; j < in->n_follow_ups; j++)
            answered = answered || (strcmp(fus[j].question_id, q->id) == 0 && (fus[j].text[0] || fus[j].choice_id[0]));
        if (!answered)
            return feedback_fail(err, CRM_RPC_INVALID, "followUps", "question %s must be answered", q->id);
    }
    return 0;
}

/* Joins the open texts of an answer for a complaint's text (size bytes with the NUL), cut at a
 * character boundary when too long. */
static void s_join_texts(const Crm__V1__Answer *a, char *out, size_t size)
{
    assert(size > 0);
    const char *texts[FEEDBACK_FOLLOW_UPS_MAX + 1];
    size_t n = 0;
    for (size_t i = 0; i < a->n_follow_ups && n < FEEDBACK_FOLLOW_UPS_MAX; i++)
        if (a->follow_ups[i]->text[0])
            texts[n++] = a->follow_ups[i]->text;
    if (a->comment[0])
        texts[n++] = a->comment;
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        const char *parts[2] = { len ? "\n" : "", texts[i] };
        for (size_t p = 0; p < 2; p++) {
            size_t part = strlen(parts[p]);
            size_t room = size - 1 - len;
            if (part > room) {
                part = room;
                while (part > 0 && ((unsigned char) parts[p][part] & 0xC0) == 0x80)
                    part--;   /* parts[p][part] continues a character: cut before that character */
                memcpy(out + len, parts[p], part);
                out[len + part] = '\0';
                return;
            }
            memcpy(out + len, parts[p], part);
            len += part;
        }
    }
    out[len] = '\0';
}

/* A detractor or a very negative comment opens a complaint (when the setting is on). */
static int s_auto_complaint(feedback_t *fb, crm_txn_t *txn, Crm__V1__Answer *a, bool detractor, bool negative,
                            unsigned topics, char complaint_id[CRM_ID_SIZE])
{
    complaint_id[0] = '\0';
    Crm__V1__Complaint *c = NULL;
    int rc = crm_codec_message_new(&crm__v1__complaint__descriptor, (ProtobufCMessage **) &c);
    if (rc)
        return rc;
    char subject[S_SUBJECT_MAX];
    if (detractor)
        snprintf(subject, sizeof subject, "Survey %s: score %d (%s)", a->survey_id, a->score,
                 feedback_class_name(a->answer_class));
    else
        snprintf(subject, sizeof subject, "Survey %s: very negative comment", a->survey_id);
    char *text = malloc(FEEDBACK_COMPLAINT_TEXT_MAX + 1);
    char source[FEEDBACK_CAUSE_MAX];
    snprintf(source, sizeof source, "answer:%s", a->id);
    rc = text ? 0 : CRM_ENOMEM;
    if (rc == 0) {
        s_join_texts(a, text, FEEDBACK_COMPLAINT_TEXT_MAX + 1);
        c->category = feedback_category_for_topics(topics);
        c->priority = detractor && negative ? CRM__V1__PRIORITY__PRIORITY_HIGH : CRM__V1__PRIORITY__PRIORITY_NORMAL;
        c->origin = CRM__V1__COMPLAINT_ORIGIN__COMPLAINT_ORIGIN_SURVEY;
        c->channel = a->channel == CRM__V1__ANSWER_CHANNEL__ANSWER_CHANNEL_PHONE ? CRM__V1__CHANNEL__CHANNEL_PHONE
                                                                                : CRM__V1__CHANNEL__CHANNEL_UNSPECIFIED;
        rc = feedback_str_set(&c->customer_id, a->customer_id);
    }
    if (rc == 0)
        rc = feedback_str_set(&c->subject, subject);
    if (rc == 0)
        rc = feedback_str_set(&c->text, text[0] ? text : subject);
    if (rc == 0)
        rc = feedback_str_set(&c->source, source);
    if (rc == 0)
        rc = feedback_str_set(&c->answer_id, a->id);
    if (rc == 0)
        rc = feedback_str_set(&c->locale, a->locale);
    if (rc == 0) {
        feedback_actor_t system = { FEEDBACK_SYSTEM_ACTOR, FEEDBACK_SYSTEM_ACTOR };
        rc = feedback_complaint_open(fb, txn, c, &system);
    }
    if (rc == 0)
        snprintf(complaint_id, CRM_ID_SIZE, "%s", c->id);
    free(text);
    crm_codec_message_free((ProtobufCMessage **) &c);
    return rc;
}

/* The invitation and survey an answer is for. */
static int s_target(feedback_t *fb, crm_txn_t *txn, const feedback_answer_input_t *in, Crm__V1__Invitation **inv,
                    Crm__V1__Survey **survey, feedback_err_t *err)
{
    int rc = 0;
    if (in->token && in->token[0]) {
        rc = feedback_invite_by_token(fb, txn, in->token, inv, err);
    } else if (in->invitation_id && in->invitation_id[0]) {
        rc = feedback_invitation_get(&fb->db, txn, in->invitation_id, inv);
        if (rc == 0 && strcmp((*inv)->customer_id, in->customer_id) != 0)
            rc = CRM_ENOTFOUND;
        if (rc == CRM_ENOTFOUND)
            return feedback_fail(err, CRM_RPC_NOT_FOUND, "invitationId", "customer %s has no invitation %.32s",
                                 in->customer_id, in->invitation_id);
        if (rc == 0 && (*inv)->status == S_ANSWERED)
            rc = feedback_fail(err, CRM_RPC_CONFLICT, "invitationId", "this invitation was already answered; each "
                               "invitation takes one answer");
        else if (rc == 0 && feedback_now(fb) >= feedback_ts_us((*inv)->expires_at))
            rc = feedback_fail(err, CRM_RPC_CONFLICT, "invitationId", "this invitation expired and can no longer "
                               "be answered");
    } else if (!in->survey_id || !in->survey_id[0]) {
        return feedback_fail(err, CRM_RPC_INVALID, "surveyId", "a survey id or an invitation id is required");
    }
    if (rc)
        return rc;
    const char *survey_id = *inv ? (*inv)->survey_id : in->survey_id;
    rc = feedback_survey_get(&fb->db, txn, survey_id, survey);
    if (rc == CRM_ENOTFOUND)
        return feedback_fail(err, CRM_RPC_NOT_FOUND, "surveyId", "no survey %.64s", survey_id);
    return rc;
}

int feedback_answer_record(feedback_t *fb, crm_txn_t *txn, const feedback_answer_input_t *in,
                           Crm__V1__Answer **out, feedback_err_t *err)
{
    Crm__V1__Invitation *inv = NULL;
    Crm__V1__Survey *survey = NULL;
    Crm__V1__FeedbackCustomer *cust = NULL;
    int rc = s_target(fb, txn, in, &inv, &survey, err);
    if (rc)
        goto out;
    const char *customer_id = inv ? inv->customer_id : in->customer_id;
    assert(crm_id_valid(customer_id));
    Crm__V1__AnswerClass cls;
    if (feedback_classify(survey->kind, in->score, &cls)) {
        int min = 0, max = 0;
        feedback_score_range(survey->kind, &min, &max);
        rc = feedback_fail(err, CRM_RPC_INVALID, "score", "a %s score is a whole number from %d to %d",
                           feedback_kind_name(survey->kind), min, max);
        goto out;
    }
    Crm__V1__FollowUpAnswer fus[FEEDBACK_FOLLOW_UPS_MAX];
    Crm__V1__FollowUpAnswer *fu_ptrs[FEEDBACK_FOLLOW_UPS_MAX];
    char *topic_names[FEEDBACK_FOLLOW_UPS_MAX][FEEDBACK_TOPIC_COUNT];
    s_mood_t mood = { 0 };
    const char *comment = in->comment ? in->comment : "";
    rc = s_follow_ups(survey, in, fus, fu_ptrs, topic_names, &mood, err);
    if (rc == 0 && strlen(comment) > FEEDBACK_ANSWER_TEXT_MAX)
        rc = feedback_fail(err, CRM_RPC_INVALID, "comment", "at most %d bytes", FEEDBACK_ANSWER_TEXT_MAX);
    if (rc == 0)
        rc = s_analyse(comment, "comment", NULL, NULL, &mood, err);
    if (rc)
        goto out;
    rc = feedback_customer_get(&fb->db, txn, customer_id, &cust);
    if (rc && rc != CRM_ENOTFOUND)
        goto out;
    char id[CRM_ID_SIZE];
    rc = crm_id_next(fb->ids, id);
    if (rc)
        goto out;
    int64_t now = feedback_now(fb);
    int mean = mood.count ? (int) (mood.sum / mood.count) : 0;
    char *answer_topics[FEEDBACK_TOPIC_COUNT];
    size_t n_topics = 0;
    for (int t = 0; t < FEEDBACK_TOPIC_COUNT; t++)
        if (mood.topics & (1u << t))
            answer_topics[n_topics++] = (char *) feedback_topic_name((feedback_topic_t) t);
    const char *locale = in->locale && feedback_locale_valid(in->locale) ? in->locale
                       : inv ? inv->locale
                       : cust && feedback_locale_valid(cust->locale) ? cust->locale
                                                                     : fb->settings.default_locale;
    Crm__V1__Timestamp answered;
    Crm__V1__Answer a = CRM__V1__ANSWER__INIT;
    a.id = id;
    a.invitation_id = inv ? inv->id : (char *) "";
    a.customer_id = (char *) customer_id;
    a.survey_id = survey->id;
    a.survey_kind = survey->kind;
    a.score = in->score;
    a.answer_class = cls;
    a.n_follow_ups = in->n_follow_ups;
    a.follow_ups = fu_ptrs;
    a.comment = (char *) comment;
    a.sentiment_score = mean;
    a.polarity = !mood.count ? CRM__V1__SENTIMENT_POLARITY__SENTIMENT_POLARITY_UNSPECIFIED
               : mean >= FEEDBACK_POLARITY_MARGIN ? CRM__V1__SENTIMENT_POLARITY__SENTIMENT_POLARITY_POSITIVE
               : mean <= -FEEDBACK_POLARITY_MARGIN ? CRM__V1__SENTIMENT_POLARITY__SENTIMENT_POLARITY_NEGATIVE
                                                   : CRM__V1__SENTIMENT_POLARITY__SENTIMENT_POLARITY_NEUTRAL;
    a.n_topics = n_topics;
    a.topics = answer_topics;
    a.channel = in->token && in->token[0] ? CRM__V1__ANSWER_CHANNEL__ANSWER_CHANNEL_LINK
              : in->channel ? in->channel
                            : CRM__V1__ANSWER_CHANNEL__ANSWER_CHANNEL_PHONE;
    a.recorded_by = (char *) (in->recorded_by ? in->recorded_by : "");
    a.answered_at = feedback_ts_fill(&answered, now);
    a.locale = (char *) locale;
    a.trigger = inv ? inv->trigger : CRM__V1__SURVEY_TRIGGER__SURVEY_TRIGGER_UNSPECIFIED;
    char complaint_id[CRM_ID_SIZE] = "";
    bool detractor = cls == CRM__V1__ANSWER_CLASS__ANSWER_CLASS_DETRACTOR;
    bool negative = mood.count > 0 && mean < fb->settings.auto_complaint_sentiment;
    if (fb->settings.auto_complaint && (detractor || negative)) {
        rc = s_auto_complaint(fb, txn, &a, detractor, negative, mood.topics, complaint_id);
        if (rc)
            goto out;
    }
    a.complaint_id = complaint_id;
    rc = feedback_record_put(txn, fb->db.answers, id, CRM_ID_LEN, &a.base);
    if (rc == 0) {
        uint8_t key[FEEDBACK_PAIR_KEY_LEN];
        feedback_key_pair(key, customer_id, id);
        rc = feedback_index_put(txn, fb->db.customer_answers, key, sizeof key);
    }
    if (rc == 0 && inv) {
        inv->status = S_ANSWERED;
        rc = feedback_ts_put(&inv->answered_at, now);
        if (rc == 0)
            rc = feedback_str_set(&inv->answer_id, id);
        if (rc == 0)
            rc = feedback_record_put(txn, fb->db.invitations, inv->id, CRM_ID_LEN, &inv->base);
    }
    if (rc == 0) {
        Crm__V1__AnswerReceived ev = CRM__V1__ANSWER_RECEIVED__INIT;
        ev.answer = &a;
        rc = feedback_emit(fb, txn, FEEDBACK_EVENT_ANSWER_RECEIVED, customer_id, &ev.base);
    }
    if (rc == 0 && out)
        rc = feedback_msg_copy(&a.base, (ProtobufCMessage **) out);
out:
    crm_codec_message_free((ProtobufCMessage **) &inv);
    crm_codec_message_free((ProtobufCMessage **) &survey);
    crm_codec_message_free((ProtobufCMessage **) &cust);
    return rc;
}

int feedback_answers_erase(feedback_t *fb, crm_txn_t *txn, const char *customer_id)
{
    crm_cursor_t *cur = NULL;
    int rc = crm_cursor_open(txn, fb->db.customer_answers, &cur);
    crm_val_t k;
    if (rc == 0)
        rc = crm_cursor_seek(cur, customer_id, CRM_ID_LEN, &k, NULL);
    for (; rc == 0; rc = crm_cursor_next(cur, &k, NULL)) {
        if (k.size != FEEDBACK_PAIR_KEY_LEN || memcmp(k.data, customer_id, CRM_ID_LEN) != 0)
            break;
        char id[CRM_ID_SIZE];
        memcpy(id, (const char *) k.data + CRM_ID_LEN, CRM_ID_LEN);
        id[CRM_ID_LEN] = '\0';
        Crm__V1__Answer *a = NULL;
        rc = feedback_answer_get(&fb->db, txn, id, &a);
        if (rc == CRM_ENOTFOUND) {
            rc = 0;
            continue;
        }
        if (rc == 0)
            rc = feedback_str_set(&a->comment, "");
        for (size_t i = 0; rc == 0 && i < a->n_follow_ups; i++)
            rc = feedback_str_set(&a->follow_ups[i]->text, "");
        if (rc == 0)
            rc = feedback_record_put(txn, fb->db.answers, id, CRM_ID_LEN, &a->base);
        crm_codec_message_free((ProtobufCMessage **) &a);
    }
    crm_cursor_close(&cur);
    return rc == CRM_ENOTFOUND ? 0 : rc;
}
