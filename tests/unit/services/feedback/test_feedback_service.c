/* test_feedback_service.c: the feedback service through its requests, contacts events and timers on a fake clock: invitations, answers, complaints, SLA clocks, restarts. */
#include "feedback_fixture.h"

#include "feedback_complaint.h"
#include "feedback_token.h"

#define OPEN     CRM__V1__COMPLAINT_STATUS__COMPLAINT_STATUS_OPEN
#define ASSIGNED CRM__V1__COMPLAINT_STATUS__COMPLAINT_STATUS_ASSIGNED
#define PROGRESS CRM__V1__COMPLAINT_STATUS__COMPLAINT_STATUS_IN_PROGRESS
#define WAITING  CRM__V1__COMPLAINT_STATUS__COMPLAINT_STATUS_WAITING_ON_CUSTOMER
#define RESOLVED CRM__V1__COMPLAINT_STATUS__COMPLAINT_STATUS_RESOLVED
#define CLOSED   CRM__V1__COMPLAINT_STATUS__COMPLAINT_STATUS_CLOSED
#define NORMAL   CRM__V1__PRIORITY__PRIORITY_NORMAL
#define URGENT   CRM__V1__PRIORITY__PRIORITY_URGENT

TestSuite(feedback_service, .init = fx_setup, .fini = fx_teardown);

/* The invitation.created events after seq: the last one's invitation (caller frees) and count. */
static size_t s_invitations(uint64_t after, Crm__V1__InvitationCreated **last)
{
    return fx_events(after, FEEDBACK_EVENT_INVITATION_CREATED, &crm__v1__invitation_created__descriptor,
                     (ProtobufCMessage **) last);
}

/* Submits an answer by token. */
static crm_rpc_status_t s_submit(const char *token, int score, const char *text, char *error_out)
{
    Crm__V1__FollowUpAnswer fu = CRM__V1__FOLLOW_UP_ANSWER__INIT;
    fu.question_id = "reason";
    fu.text = (char *) (text ? text : "");
    Crm__V1__FollowUpAnswer *fus[1] = { &fu };
    Crm__V1__SubmitAnswerRequest req = CRM__V1__SUBMIT_ANSWER_REQUEST__INIT;
    req.token = (char *) token;
    req.score = score;
    req.n_follow_ups = text ? 1 : 0;
    req.follow_ups = fus;
    return fx_call_full("feedback.SubmitAnswer", "", &req.base, NULL, NULL, NULL, error_out);
}

/* Makes an invitation on demand for customer_id; returns it with its token (caller frees). */
static Crm__V1__Invitation *s_invite(const char *customer_id, const char *survey_id)
{
    Crm__V1__InviteRequest req = CRM__V1__INVITE_REQUEST__INIT;
    req.customer_id = (char *) customer_id;
    req.survey_id = (char *) (survey_id ? survey_id : "");
    Crm__V1__InvitationReply *rep = NULL;
    cr_assert_eq(fx_call("feedback.Invite", "agent", &req.base, &crm__v1__invitation_reply__descriptor,
                         (ProtobufCMessage **) &rep), CRM_RPC_OK);
    Crm__V1__Invitation *inv = rep->invitation;
    rep->invitation = NULL;
    crm_codec_message_free((ProtobufCMessage **) &rep);
    return inv;
}

Test(feedback_service, the_first_start_writes_three_surveys_in_english_and_chinese)
{
    Crm__V1__ListSurveysRequest req = CRM__V1__LIST_SURVEYS_REQUEST__INIT;
    Crm__V1__ListSurveysReply *rep = NULL;
    cr_assert_eq(fx_call("feedback.ListSurveys", "analyst", &req.base, &crm__v1__list_surveys_reply__descriptor,
                         (ProtobufCMessage **) &rep), CRM_RPC_OK);
    cr_assert_eq(rep->n_surveys, 3);
    const char *ids[] = { "ces", "csat", "nps" };
    for (size_t i = 0; i < 3; i++) {
        Crm__V1__Survey *s = rep->surveys[i];
        cr_assert_str_eq(s->id, ids[i]);
        cr_assert(s->active);
        cr_assert_eq(s->n_texts, 2);
        cr_assert_eq(s->n_follow_ups, 1);
        cr_assert_eq(s->follow_ups[0]->kind, CRM__V1__QUESTION_KIND__QUESTION_KIND_OPEN_TEXT);
        cr_assert(!s->follow_ups[0]->required);
        bool zh = false;
        for (size_t t = 0; t < s->n_texts; t++)
            zh = zh || (strcmp(s->texts[t]->key, "zh-CN") == 0 && strlen(s->texts[t]->value) > 0);
        cr_assert(zh, "%s has a Chinese text", s->id);
    }
    crm_codec_message_free((ProtobufCMessage **) &rep);
    /* A restart does not write them again (an admin's change stays). */
    Crm__V1__Survey s = CRM__V1__SURVEY__INIT;
    s.id = "ces";
    s.name = "Effort";
    s.kind = CRM__V1__SURVEY_KIND__SURVEY_KIND_CES;
    Crm__V1__Survey__TextsEntry en = CRM__V1__SURVEY__TEXTS_ENTRY__INIT;
    en.key = "en";
    en.value = "Was it easy?";
    Crm__V1__Survey__TextsEntry *texts[1] = { &en };
    s.n_texts = 1;
    s.texts = texts;
    Crm__V1__PutSurveyRequest put = CRM__V1__PUT_SURVEY_REQUEST__INIT;
    put.survey = &s;
    cr_assert_eq(fx_call("feedback.PutSurvey", "agent", &put.base, NULL, NULL), CRM_RPC_FORBIDDEN);
    cr_assert_eq(fx_call("feedback.PutSurvey", "admin", &put.base, NULL, NULL), CRM_RPC_OK);
    fx_restart();
    Crm__V1__GetSurveyRequest get = CRM__V1__GET_SURVEY_REQUEST__INIT;
    get.id = "ces";
    Crm__V1__SurveyReply *one = NULL;
    cr_assert_eq(fx_call("feedback.GetSurvey", "agent", &get.base, &crm__v1__survey_reply__descriptor,
                         (ProtobufCMessage **) &one), CRM_RPC_OK);
    cr_assert_str_eq(one->survey->name, "Effort");
    cr_assert(!one->survey->active);
    crm_codec_message_free((ProtobufCMessage **) &one);
}

Test(feedback_service, a_purchase_leads_to_one_invitation_after_the_delay_in_the_customers_language)
{
    char customer[CRM_ID_SIZE];
    fx_new_id(customer);
    cr_assert_eq(fx_customer(customer, "zh-CN", NULL, 0), 0);
    uint64_t before = fx_head();
    cr_assert_eq(fx_purchase(customer, "P-1"), 0);
    cr_assert_eq(fx_purchase(customer, "P-1"), 0, "a purchase seen twice");
    fx_advance(fx.settings.invite_delay_us - FX_SECOND);
    cr_assert_eq(s_invitations(before, NULL), 0, "not before the delay");
    fx_advance(FX_SECOND);
    Crm__V1__InvitationCreated *ev = NULL;
    char subject[CRM_ID_SIZE];
    cr_assert_eq(fx_events_subject(before, FEEDBACK_EVENT_INVITATION_CREATED, &crm__v1__invitation_created__descriptor,
                                   (ProtobufCMessage **) &ev, subject), 1);
    cr_assert_str_eq(subject, customer);
    Crm__V1__Invitation *inv = ev->invitation;
    cr_assert_str_eq(inv->customer_id, customer);
    cr_assert_str_eq(inv->survey_id, "nps");
    cr_assert_eq(inv->survey_kind, CRM__V1__SURVEY_KIND__SURVEY_KIND_NPS);
    cr_assert_eq(inv->trigger, CRM__V1__SURVEY_TRIGGER__SURVEY_TRIGGER_PURCHASE);
    cr_assert_str_eq(inv->cause, "purchase:P-1");
    cr_assert_str_eq(inv->locale, "zh-CN");
    cr_assert(strstr(inv->question, "推荐"), "%s", inv->question);
    cr_assert(feedback_token_valid(inv->token));
    char url[256];
    snprintf(url, sizeof url, "%s%s", FEEDBACK_DEFAULT_ANSWER_URL_BASE, inv->token);
    cr_assert_str_eq(inv->answer_url, url);
    cr_assert_eq(feedback_ts_us(inv->expires_at) - feedback_ts_us(inv->created_at), fx.settings.invite_validity_us);
    /* The stored invitation has no token. */
    Crm__V1__ListInvitationsRequest lr = CRM__V1__LIST_INVITATIONS_REQUEST__INIT;
    lr.customer_id = customer;
    Crm__V1__ListInvitationsReply *list = NULL;
    cr_assert_eq(fx_call("feedback.ListInvitations", "integrator", &lr.base, &crm__v1__list_invitations_reply__descriptor,
                         (ProtobufCMessage **) &list), CRM_RPC_OK);
    cr_assert_eq(list->n_invitations, 1);
    cr_assert_str_eq(list->invitations[0]->token, "");
    cr_assert_str_eq(list->invitations[0]->answer_url, "");
    cr_assert_eq(list->invitations[0]->status, CRM__V1__INVITATION_STATUS__INVITATION_STATUS_PENDING);
    crm_codec_message_free((ProtobufCMessage **) &list);
    crm_codec_message_free((ProtobufCMessage **) &ev);
    /* Another purchase within the cooldown: no second invitation. */
    uint64_t mid = fx_head();
    cr_assert_eq(fx_purchase(customer, "P-2"), 0);
    fx_advance(fx.settings.invite_delay_us);
    cr_assert_eq(s_invitations(mid, NULL), 0);
}

Test(feedback_service, a_token_answers_once_and_is_refused_after)
{
    char customer[CRM_ID_SIZE];
    fx_new_id(customer);
    Crm__V1__Invitation *inv = s_invite(customer, NULL);
    cr_assert(feedback_token_valid(inv->token));
    /* The form's question, in the default locale. */
    Crm__V1__QuestionRequest q = CRM__V1__QUESTION_REQUEST__INIT;
    q.token = inv->token;
    Crm__V1__QuestionReply *qr = NULL;
    cr_assert_eq(fx_call("feedback.GetQuestion", "", &q.base, &crm__v1__question_reply__descriptor,
                         (ProtobufCMessage **) &qr), CRM_RPC_OK);
    cr_assert_eq(qr->min_score, 0);
    cr_assert_eq(qr->max_score, 10);
    cr_assert(strstr(qr->question, "recommend"), "%s", qr->question);
    cr_assert_eq(qr->n_follow_ups, 1);
    crm_codec_message_free((ProtobufCMessage **) &qr);
    q.locale = "zh-CN";
    cr_assert_eq(fx_call("feedback.GetQuestion", "", &q.base, &crm__v1__question_reply__descriptor,
                         (ProtobufCMessage **) &qr), CRM_RPC_OK);
    cr_assert(strstr(qr->question, "推荐"), "%s", qr->question);
    crm_codec_message_free((ProtobufCMessage **) &qr);

    uint64_t before = fx_head();
    char error[FEEDBACK_ERROR_MAX];
    cr_assert_eq(s_submit(inv->token, 11, NULL, error), CRM_RPC_INVALID, "out of range");
    cr_assert_eq(s_submit(inv->token, 9, "Fast delivery, friendly staff", error), CRM_RPC_OK, "%s", error);
    cr_assert_eq(s_submit(inv->token, 9, NULL, error), CRM_RPC_CONFLICT);
    cr_assert(strstr(error, "already answered"), "%s", error);
    cr_assert_eq(s_submit(inv->token, 3, NULL, error), CRM_RPC_CONFLICT);
    cr_assert_eq(fx_call_full("feedback.GetQuestion", "", &q.base, NULL, NULL, NULL, error), CRM_RPC_CONFLICT);
    Crm__V1__AnswerReceived *ev = NULL;
    cr_assert_eq(fx_events(before, FEEDBACK_EVENT_ANSWER_RECEIVED, &crm__v1__answer_received__descriptor,
                           (ProtobufCMessage **) &ev), 1);
    cr_assert_eq(ev->answer->score, 9);
    cr_assert_eq(ev->answer->answer_class, CRM__V1__ANSWER_CLASS__ANSWER_CLASS_PROMOTER);
    cr_assert_eq(ev->answer->channel, CRM__V1__ANSWER_CHANNEL__ANSWER_CHANNEL_LINK);
    cr_assert_eq(ev->answer->survey_kind, CRM__V1__SURVEY_KIND__SURVEY_KIND_NPS);
    cr_assert_neq(ev->answer->polarity, CRM__V1__SENTIMENT_POLARITY__SENTIMENT_POLARITY_UNSPECIFIED,
                  "open text is analysed");
    cr_assert_str_eq(ev->answer->complaint_id, "", "a promoter opens no complaint");
    crm_codec_message_free((ProtobufCMessage **) &ev);
    /* A token never made, and a malformed one. */
    char other[FEEDBACK_TOKEN_SIZE];
    feedback_token_new(other);
    cr_assert_eq(s_submit(other, 9, NULL, error), CRM_RPC_NOT_FOUND);
    cr_assert_eq(s_submit("not-a-token", 9, NULL, error), CRM_RPC_NOT_FOUND);
    crm_codec_message_free((ProtobufCMessage **) &inv);
}

Test(feedback_service, an_expired_token_is_refused_clearly)
{
    char customer[CRM_ID_SIZE];
    fx_new_id(customer);
    Crm__V1__Invitation *inv = s_invite(customer, "csat");
    fx_advance(fx.settings.invite_validity_us);
    char error[FEEDBACK_ERROR_MAX];
    cr_assert_eq(s_submit(inv->token, 4, NULL, error), CRM_RPC_CONFLICT);
    cr_assert(strstr(error, "expired"), "%s", error);
    Crm__V1__ListInvitationsRequest lr = CRM__V1__LIST_INVITATIONS_REQUEST__INIT;
    lr.customer_id = customer;
    Crm__V1__ListInvitationsReply *list = NULL;
    cr_assert_eq(fx_call("feedback.ListInvitations", "agent", &lr.base, &crm__v1__list_invitations_reply__descriptor,
                         (ProtobufCMessage **) &list), CRM_RPC_OK);
    cr_assert_eq(list->invitations[0]->status, CRM__V1__INVITATION_STATUS__INVITATION_STATUS_EXPIRED);
    crm_codec_message_free((ProtobufCMessage **) &list);
    crm_codec_message_free((ProtobufCMessage **) &inv);
}

Test(feedback_service, a_detractor_opens_a_complaint_unless_the_setting_is_off)
{
    char customer[CRM_ID_SIZE];
    fx_new_id(customer);
    Crm__V1__Invitation *inv = s_invite(customer, NULL);
    uint64_t before = fx_head();
    cr_assert_eq(s_submit(inv->token, 2, "The parcel arrived broken", NULL), CRM_RPC_OK);
    Crm__V1__ComplaintChanged *opened = NULL;
    cr_assert_eq(fx_events(before, FEEDBACK_EVENT_COMPLAINT_OPENED, &crm__v1__complaint_changed__descriptor,
                           (ProtobufCMessage **) &opened), 1);
    Crm__V1__Complaint *c = opened->complaint;
    cr_assert_eq(c->origin, CRM__V1__COMPLAINT_ORIGIN__COMPLAINT_ORIGIN_SURVEY);
    cr_assert_str_eq(c->customer_id, customer);
    cr_assert(strstr(c->text, "broken"), "%s", c->text);
    cr_assert_str_eq(opened->actor, "system");
    Crm__V1__AnswerReceived *ans = NULL;
    cr_assert_eq(fx_events(before, FEEDBACK_EVENT_ANSWER_RECEIVED, &crm__v1__answer_received__descriptor,
                           (ProtobufCMessage **) &ans), 1);
    cr_assert_str_eq(ans->answer->complaint_id, c->id);
    cr_assert_str_eq(c->answer_id, ans->answer->id);
    crm_codec_message_free((ProtobufCMessage **) &ans);
    crm_codec_message_free((ProtobufCMessage **) &opened);
    crm_codec_message_free((ProtobufCMessage **) &inv);

    fx.settings.auto_complaint = false;
    fx_restart();
    inv = s_invite(customer, NULL);
    before = fx_head();
    cr_assert_eq(s_submit(inv->token, 0, NULL, NULL), CRM_RPC_OK);
    cr_assert_eq(fx_events(before, FEEDBACK_EVENT_COMPLAINT_OPENED, NULL, NULL), 0);
    crm_codec_message_free((ProtobufCMessage **) &inv);
}

Test(feedback_service, a_comment_below_the_sentiment_setting_opens_a_complaint)
{
    /* Any comment scores below 100 (the highest threshold): deterministic whatever the lexicon. */
    fx.settings.auto_complaint_sentiment = 100;
    fx_restart();
    char customer[CRM_ID_SIZE];
    fx_new_id(customer);
    Crm__V1__Invitation *inv = s_invite(customer, NULL);
    uint64_t before = fx_head();
    cr_assert_eq(s_submit(inv->token, 8, "送货太慢了", NULL), CRM_RPC_OK);
    Crm__V1__ComplaintChanged *opened = NULL;
    cr_assert_eq(fx_events(before, FEEDBACK_EVENT_COMPLAINT_OPENED, &crm__v1__complaint_changed__descriptor,
                           (ProtobufCMessage **) &opened), 1);
    cr_assert_str_eq(opened->complaint->text, "送货太慢了");
    cr_assert_eq(opened->complaint->priority, NORMAL, "a passive with a bad comment: normal priority");
    crm_codec_message_free((ProtobufCMessage **) &opened);
    crm_codec_message_free((ProtobufCMessage **) &inv);
    /* No open text, no comment: a passive opens nothing. */
    inv = s_invite(customer, NULL);
    before = fx_head();
    cr_assert_eq(s_submit(inv->token, 8, NULL, NULL), CRM_RPC_OK);
    cr_assert_eq(fx_events(before, FEEDBACK_EVENT_COMPLAINT_OPENED, NULL, NULL), 0);
    crm_codec_message_free((ProtobufCMessage **) &inv);
}

Test(feedback_service, an_agent_records_a_phone_answer)
{
    char customer[CRM_ID_SIZE];
    fx_new_id(customer);
    Crm__V1__RecordAnswerRequest req = CRM__V1__RECORD_ANSWER_REQUEST__INIT;
    req.customer_id = customer;
    req.survey_id = "csat";
    req.score = 5;
    Crm__V1__AnswerReply *rep = NULL;
    cr_assert_eq(fx_call("feedback.RecordAnswer", "agent", &req.base, &crm__v1__answer_reply__descriptor,
                         (ProtobufCMessage **) &rep), CRM_RPC_OK);
    cr_assert_eq(rep->answer->answer_class, CRM__V1__ANSWER_CLASS__ANSWER_CLASS_SATISFIED);
    cr_assert_eq(rep->answer->channel, CRM__V1__ANSWER_CHANNEL__ANSWER_CHANNEL_PHONE);
    cr_assert_str_eq(rep->answer->recorded_by, "key-agent");
    cr_assert_eq(rep->answer->polarity, CRM__V1__SENTIMENT_POLARITY__SENTIMENT_POLARITY_UNSPECIFIED);
    crm_codec_message_free((ProtobufCMessage **) &rep);
    /* To an invitation: it is used up. */
    Crm__V1__Invitation *inv = s_invite(customer, "ces");
    req.survey_id = "";
    req.invitation_id = inv->id;
    req.score = 4;
    cr_assert_eq(fx_call("feedback.RecordAnswer", "agent", &req.base, NULL, NULL), CRM_RPC_OK);
    cr_assert_eq(fx_call("feedback.RecordAnswer", "agent", &req.base, NULL, NULL), CRM_RPC_CONFLICT);
    cr_assert_eq(s_submit(inv->token, 4, NULL, NULL), CRM_RPC_CONFLICT);
    /* Bad input. */
    req.invitation_id = "";
    req.survey_id = "";
    char field[FEEDBACK_FIELD_MAX];
    cr_assert_eq(fx_call_full("feedback.RecordAnswer", "agent", &req.base, NULL, NULL, field, NULL), CRM_RPC_INVALID);
    cr_assert_str_eq(field, "surveyId");
    req.survey_id = "csat";
    Crm__V1__FollowUpAnswer fu = CRM__V1__FOLLOW_UP_ANSWER__INIT;
    fu.question_id = "nope";
    Crm__V1__FollowUpAnswer *fus[1] = { &fu };
    req.n_follow_ups = 1;
    req.follow_ups = fus;
    cr_assert_eq(fx_call_full("feedback.RecordAnswer", "agent", &req.base, NULL, NULL, field, NULL), CRM_RPC_INVALID);
    cr_assert_str_eq(field, "followUps[0].questionId");
    Crm__V1__ListAnswersRequest lr = CRM__V1__LIST_ANSWERS_REQUEST__INIT;
    lr.customer_id = customer;
    lr.page_size = 1;
    Crm__V1__ListAnswersReply *list = NULL;
    cr_assert_eq(fx_call("feedback.ListAnswers", "analyst", &lr.base, &crm__v1__list_answers_reply__descriptor,
                         (ProtobufCMessage **) &list), CRM_RPC_OK);
    cr_assert_eq(list->n_answers, 1);
    cr_assert_eq(list->answers[0]->score, 4, "newest first");
    lr.page_token = list->next_page_token;
    Crm__V1__ListAnswersReply *page2 = NULL;
    cr_assert_eq(fx_call("feedback.ListAnswers", "analyst", &lr.base, &crm__v1__list_answers_reply__descriptor,
                         (ProtobufCMessage **) &page2), CRM_RPC_OK);
    cr_assert_eq(page2->n_answers, 1);
    cr_assert_eq(page2->answers[0]->score, 5);
    cr_assert_str_eq(page2->next_page_token, "");
    crm_codec_message_free((ProtobufCMessage **) &page2);
    crm_codec_message_free((ProtobufCMessage **) &list);
    crm_codec_message_free((ProtobufCMessage **) &inv);
}

Test(feedback_service, a_complaint_runs_the_whole_workflow_with_its_timestamps)
{
    char customer[CRM_ID_SIZE];
    fx_new_id(customer);
    uint64_t before = fx_head();
    Crm__V1__Complaint *c = fx_file(customer, NORMAL, "The parcel is three days late");
    cr_assert_eq(c->status, OPEN);
    cr_assert_eq(c->origin, CRM__V1__COMPLAINT_ORIGIN__COMPLAINT_ORIGIN_API);
    cr_assert_eq(feedback_ts_us(c->created_at), fx.now);
    cr_assert_eq(feedback_ts_us(c->first_response_due), fx.now + fx.settings.sla_first_response_us[NORMAL]);
    cr_assert_eq(feedback_ts_us(c->resolution_due), fx.now + fx.settings.sla_resolution_us[NORMAL]);
    char id[CRM_ID_SIZE];
    snprintf(id, sizeof id, "%s", c->id);
    crm_codec_message_free((ProtobufCMessage **) &c);
    int64_t t0 = fx.now;

    char error[FEEDBACK_ERROR_MAX];
    cr_assert_eq(fx_move(id, ASSIGNED, NULL, error, NULL), CRM_RPC_INVALID, "assigning needs someone");
    fx_advance(10 * FX_MINUTE);
    cr_assert_eq(fx_move(id, ASSIGNED, "alice", error, &c), CRM_RPC_OK, "%s", error);
    cr_assert_str_eq(c->assignee, "alice");
    crm_codec_message_free((ProtobufCMessage **) &c);
    cr_assert_eq(fx_move(id, PROGRESS, NULL, error, NULL), CRM_RPC_OK, "%s", error);
    fx_advance(20 * FX_MINUTE);
    Crm__V1__ComplaintTextRequest text = CRM__V1__COMPLAINT_TEXT_REQUEST__INIT;
    text.complaint_id = id;
    text.text = "Customer is a VIP; handle with care";
    cr_assert_eq(fx_call("feedback.AddComplaintNote", "agent", &text.base, NULL, NULL), CRM_RPC_OK);
    text.text = "We are sorry; your parcel leaves today.";
    cr_assert_eq(fx_call("feedback.ReplyComplaint", "agent", &text.base, NULL, NULL), CRM_RPC_OK);
    int64_t replied_at = fx.now;
    cr_assert_eq(fx_move(id, WAITING, NULL, error, NULL), CRM_RPC_OK, "%s", error);
    fx_advance(FX_HOUR);
    cr_assert_eq(fx_move(id, RESOLVED, NULL, error, &c), CRM_RPC_OK, "%s", error);
    int64_t resolved_at = fx.now;
    cr_assert_eq(feedback_ts_us(c->first_response_at), replied_at);
    cr_assert_eq(c->first_response_seconds, (replied_at - t0) / FX_SECOND);
    cr_assert_eq(feedback_ts_us(c->resolved_at), resolved_at);
    cr_assert_eq(c->resolution_seconds, (resolved_at - t0) / FX_SECOND);
    cr_assert(!c->resolved_at_first_contact, "it waited on the customer");
    cr_assert(!c->first_response_breached);
    crm_codec_message_free((ProtobufCMessage **) &c);
    fx_advance(FX_HOUR);
    cr_assert_eq(fx_move(id, ASSIGNED, NULL, error, &c), CRM_RPC_OK, "a reopen keeps the assignee: %s", error);
    cr_assert_eq(c->reopen_count, 1);
    cr_assert_eq(feedback_ts_us(c->reopened_at), fx.now);
    cr_assert_null(c->resolved_at);
    crm_codec_message_free((ProtobufCMessage **) &c);
    cr_assert_eq(fx_move(id, RESOLVED, NULL, error, NULL), CRM_RPC_OK, "%s", error);
    cr_assert_eq(fx_move(id, CLOSED, NULL, error, &c), CRM_RPC_OK, "%s", error);
    cr_assert_eq(feedback_ts_us(c->closed_at), fx.now);
    crm_codec_message_free((ProtobufCMessage **) &c);
    cr_assert_eq(fx_move(id, OPEN, NULL, error, NULL), CRM_RPC_CONFLICT);
    cr_assert(strstr(error, "closed"), "%s", error);
    text.text = "too late";
    cr_assert_eq(fx_call("feedback.ReplyComplaint", "agent", &text.base, NULL, NULL), CRM_RPC_CONFLICT);

    /* The history: every move with who and when, the reply and the note. */
    c = fx_complaint(id);
    cr_assert_eq(c->n_history, 10);
    cr_assert_eq(c->history_count, 10);
    static const Crm__V1__ComplaintEntryKind kinds[] = {
        CRM__V1__COMPLAINT_ENTRY_KIND__COMPLAINT_ENTRY_KIND_TRANSITION, CRM__V1__COMPLAINT_ENTRY_KIND__COMPLAINT_ENTRY_KIND_TRANSITION,
        CRM__V1__COMPLAINT_ENTRY_KIND__COMPLAINT_ENTRY_KIND_TRANSITION, CRM__V1__COMPLAINT_ENTRY_KIND__COMPLAINT_ENTRY_KIND_NOTE,
        CRM__V1__COMPLAINT_ENTRY_KIND__COMPLAINT_ENTRY_KIND_REPLY,
    };
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        cr_assert_eq(c->history[i]->kind, kinds[i], "line %zu", i);
    cr_assert_eq(c->history[1]->from_status, OPEN);
    cr_assert_eq(c->history[1]->to_status, ASSIGNED);
    cr_assert_str_eq(c->history[1]->actor, "key-agent");
    cr_assert_str_eq(c->history[1]->actor_role, "agent");
    cr_assert_eq(feedback_ts_us(c->history[1]->time), t0 + 10 * FX_MINUTE);
    cr_assert_eq(c->history[9]->to_status, CLOSED);
    cr_assert_eq(c->reply_count, 1);
    cr_assert_eq(c->note_count, 1);
    crm_codec_message_free((ProtobufCMessage **) &c);

    /* The events: one each, the reply published and the note not. */
    cr_assert_eq(fx_events(before, FEEDBACK_EVENT_COMPLAINT_OPENED, NULL, NULL), 1);
    cr_assert_eq(fx_events(before, FEEDBACK_EVENT_COMPLAINT_ASSIGNED, NULL, NULL), 1);
    cr_assert_eq(fx_events(before, FEEDBACK_EVENT_COMPLAINT_RESPONDED, NULL, NULL), 1);
    cr_assert_eq(fx_events(before, FEEDBACK_EVENT_COMPLAINT_RESOLVED, NULL, NULL), 2);
    cr_assert_eq(fx_events(before, FEEDBACK_EVENT_COMPLAINT_REOPENED, NULL, NULL), 1);
    cr_assert_eq(fx_events(before, FEEDBACK_EVENT_COMPLAINT_CLOSED, NULL, NULL), 1);
    Crm__V1__ComplaintReplied *rep = NULL;
    cr_assert_eq(fx_events(before, FEEDBACK_EVENT_COMPLAINT_REPLIED, &crm__v1__complaint_replied__descriptor,
                           (ProtobufCMessage **) &rep), 1);
    cr_assert_str_eq(rep->text, "We are sorry; your parcel leaves today.");
    cr_assert_str_eq(rep->complaint_id, id);
    crm_codec_message_free((ProtobufCMessage **) &rep);
    Crm__V1__ComplaintChanged *closed = NULL;
    cr_assert_eq(fx_events(before, FEEDBACK_EVENT_COMPLAINT_CLOSED, &crm__v1__complaint_changed__descriptor,
                           (ProtobufCMessage **) &closed), 1);
    cr_assert_eq(closed->complaint->reopen_count, 1);
    cr_assert_eq(closed->complaint->n_history, 0, "events carry no history");
    cr_assert_eq(closed->from_status, RESOLVED);
    cr_assert_str_eq(closed->actor, "key-agent");
    crm_codec_message_free((ProtobufCMessage **) &closed);
    /* The satisfaction survey after the first resolution, once. */
    fx_advance(fx.settings.resolved_invite_delay_us);
    Crm__V1__InvitationCreated *inv = NULL;
    cr_assert_eq(s_invitations(before, &inv), 1);
    cr_assert_str_eq(inv->invitation->survey_id, "csat");
    cr_assert_eq(inv->invitation->trigger, CRM__V1__SURVEY_TRIGGER__SURVEY_TRIGGER_COMPLAINT_RESOLVED);
    crm_codec_message_free((ProtobufCMessage **) &inv);
}

Test(feedback_service, illegal_moves_are_refused_and_change_nothing)
{
    char customer[CRM_ID_SIZE];
    fx_new_id(customer);
    Crm__V1__Complaint *c = fx_file(customer, NORMAL, "Rude cashier");
    uint64_t before = fx_head();
    char error[FEEDBACK_ERROR_MAX];
    cr_assert_eq(fx_move(c->id, WAITING, NULL, error, NULL), CRM_RPC_CONFLICT);
    cr_assert_str_eq(error, "a complaint cannot move from open to waiting_on_customer");
    cr_assert_eq(fx_move(c->id, (Crm__V1__ComplaintStatus) 0, NULL, error, NULL), CRM_RPC_INVALID);
    cr_assert_eq(fx_move("01J0000000000000000000000Z", ASSIGNED, "bob", error, NULL), CRM_RPC_NOT_FOUND);
    cr_assert_eq(fx_head(), before, "no event");
    Crm__V1__Complaint *after = fx_complaint(c->id);
    cr_assert_eq(after->status, OPEN);
    cr_assert_eq(after->version, c->version);
    cr_assert_eq(after->n_history, 1);
    crm_codec_message_free((ProtobufCMessage **) &after);
    /* A stale version is refused. */
    Crm__V1__TransitionComplaintRequest req = CRM__V1__TRANSITION_COMPLAINT_REQUEST__INIT;
    req.complaint_id = c->id;
    req.to = PROGRESS;
    req.if_version = c->version + 1;
    cr_assert_eq(fx_call("feedback.TransitionComplaint", "agent", &req.base, NULL, NULL), CRM_RPC_PRECONDITION_FAILED);
    req.if_version = c->version;
    cr_assert_eq(fx_call("feedback.TransitionComplaint", "agent", &req.base, NULL, NULL), CRM_RPC_OK);
    crm_codec_message_free((ProtobufCMessage **) &c);
}

Test(feedback_service, a_resolved_complaint_reopens_within_the_window_and_then_closes_by_itself)
{
    char customer[CRM_ID_SIZE];
    fx_new_id(customer);
    Crm__V1__Complaint *c = fx_file(customer, NORMAL, "Wrong size");
    char error[FEEDBACK_ERROR_MAX];
    cr_assert_eq(fx_move(c->id, RESOLVED, NULL, error, NULL), CRM_RPC_OK, "%s", error);
    Crm__V1__Complaint *now = fx_complaint(c->id);
    cr_assert(now->resolved_at_first_contact, "resolved with no reply, never waiting, never reopened");
    cr_assert_eq(feedback_ts_us(now->first_response_at), fx.now, "resolving counts as the first response");
    crm_codec_message_free((ProtobufCMessage **) &now);
    uint64_t before = fx_head();
    fx_advance(fx.settings.reopen_window_us - FX_SECOND);
    now = fx_complaint(c->id);
    cr_assert_eq(now->status, RESOLVED);
    crm_codec_message_free((ProtobufCMessage **) &now);
    fx_advance(2 * FX_SECOND);
    cr_assert_eq(fx_move(c->id, OPEN, NULL, error, NULL), CRM_RPC_CONFLICT);
    now = fx_complaint(c->id);
    cr_assert_eq(now->status, CLOSED, "closed by the system when the window passed");
    cr_assert_str_eq(now->history[now->n_history - 1]->actor, "system");
    crm_codec_message_free((ProtobufCMessage **) &now);
    cr_assert_eq(fx_events(before, FEEDBACK_EVENT_COMPLAINT_CLOSED, NULL, NULL), 1);
    crm_codec_message_free((ProtobufCMessage **) &c);
}

Test(feedback_service, a_breach_is_published_once_per_clock_and_escalates_twice)
{
    fx.settings.sla_first_response_us[URGENT] = 10 * FX_SECOND;
    fx.settings.sla_resolution_us[URGENT] = 60 * FX_SECOND;
    fx.settings.escalate_admins_us = 30 * FX_SECOND;
    snprintf(fx.settings.team_leads, sizeof fx.settings.team_leads, "billing=lead-b,*=lead-any");
    fx_restart();
    char customer[CRM_ID_SIZE];
    fx_new_id(customer);
    Crm__V1__Complaint *c = fx_file(customer, URGENT, "Charged twice");
    char error[FEEDBACK_ERROR_MAX];
    Crm__V1__TransitionComplaintRequest req = CRM__V1__TRANSITION_COMPLAINT_REQUEST__INIT;
    req.complaint_id = c->id;
    req.to = ASSIGNED;
    req.team = "billing";
    cr_assert_eq(fx_call("feedback.TransitionComplaint", "agent", &req.base, NULL, NULL), CRM_RPC_OK);
    uint64_t before = fx_head();
    fx_advance(9 * FX_SECOND);
    cr_assert_eq(fx_events(before, FEEDBACK_EVENT_SLA_BREACHED, NULL, NULL), 0);
    fx_advance(FX_SECOND);
    Crm__V1__SlaBreached *breach = NULL;
    cr_assert_eq(fx_events(before, FEEDBACK_EVENT_SLA_BREACHED, &crm__v1__sla_breached__descriptor,
                           (ProtobufCMessage **) &breach), 1);
    cr_assert_eq(breach->clock, CRM__V1__SLA_CLOCK__SLA_CLOCK_FIRST_RESPONSE);
    cr_assert_eq(feedback_ts_us(breach->due_at), feedback_ts_us(c->first_response_due));
    cr_assert(breach->complaint->first_response_breached);
    crm_codec_message_free((ProtobufCMessage **) &breach);
    Crm__V1__ComplaintEscalated *esc = NULL;
    cr_assert_eq(fx_events(before, FEEDBACK_EVENT_ESCALATED, &crm__v1__complaint_escalated__descriptor,
                           (ProtobufCMessage **) &esc), 1);
    cr_assert_eq(esc->level, 1);
    cr_assert_str_eq(esc->team, "billing");
    cr_assert_str_eq(esc->team_lead, "lead-b");
    crm_codec_message_free((ProtobufCMessage **) &esc);
    /* A reply now does not un-breach; the resolution clock runs on; admins after 30 s. */
    Crm__V1__ComplaintTextRequest text = CRM__V1__COMPLAINT_TEXT_REQUEST__INIT;
    text.complaint_id = c->id;
    text.text = "Looking into it";
    cr_assert_eq(fx_call("feedback.ReplyComplaint", "agent", &text.base, NULL, NULL), CRM_RPC_OK);
    fx_advance(30 * FX_SECOND);
    cr_assert_eq(fx_events(before, FEEDBACK_EVENT_ESCALATED, &crm__v1__complaint_escalated__descriptor,
                           (ProtobufCMessage **) &esc), 2);
    cr_assert_eq(esc->level, 2);
    crm_codec_message_free((ProtobufCMessage **) &esc);
    fx_advance(30 * FX_SECOND);
    cr_assert_eq(fx_events(before, FEEDBACK_EVENT_SLA_BREACHED, &crm__v1__sla_breached__descriptor,
                           (ProtobufCMessage **) &breach), 2);
    cr_assert_eq(breach->clock, CRM__V1__SLA_CLOCK__SLA_CLOCK_RESOLUTION);
    crm_codec_message_free((ProtobufCMessage **) &breach);
    fx_advance(FX_DAY);
    cr_assert_eq(fx_events(before, FEEDBACK_EVENT_SLA_BREACHED, NULL, NULL), 2, "once per clock");
    cr_assert_eq(fx_events(before, FEEDBACK_EVENT_ESCALATED, NULL, NULL), 2);
    Crm__V1__Complaint *now = fx_complaint(c->id);
    cr_assert_eq(now->escalation_level, 2);
    cr_assert(now->resolution_breached);
    crm_codec_message_free((ProtobufCMessage **) &now);
    /* Overdue in the list. */
    Crm__V1__ListComplaintsRequest lr = CRM__V1__LIST_COMPLAINTS_REQUEST__INIT;
    lr.overdue = true;
    Crm__V1__ListComplaintsReply *list = NULL;
    cr_assert_eq(fx_call("feedback.ListComplaints", "analyst", &lr.base, &crm__v1__list_complaints_reply__descriptor,
                         (ProtobufCMessage **) &list), CRM_RPC_OK);
    cr_assert_eq(list->n_complaints, 1);
    crm_codec_message_free((ProtobufCMessage **) &list);
    crm_codec_message_free((ProtobufCMessage **) &c);
    (void) error;
}

Test(feedback_service, a_breach_while_stopped_is_raised_at_the_restart)
{
    fx.settings.sla_first_response_us[NORMAL] = 5 * FX_SECOND;
    fx_restart();
    char customer[CRM_ID_SIZE];
    fx_new_id(customer);
    Crm__V1__Complaint *c = fx_file(customer, NORMAL, "No answer from support");
    uint64_t before = fx_head();
    fx_stop();
    fx.now += FX_HOUR;      /* time passes while the service is down */
    fx_start();
    cr_assert_eq(fx_events(before, FEEDBACK_EVENT_SLA_BREACHED, NULL, NULL), 0, "not before a tick");
    fx_tick();
    Crm__V1__SlaBreached *breach = NULL;
    cr_assert_eq(fx_events(before, FEEDBACK_EVENT_SLA_BREACHED, &crm__v1__sla_breached__descriptor,
                           (ProtobufCMessage **) &breach), 1);
    cr_assert_eq(feedback_ts_us(breach->detected_at) - feedback_ts_us(breach->due_at), FX_HOUR - 5 * FX_SECOND);
    crm_codec_message_free((ProtobufCMessage **) &breach);
    fx_restart();
    fx_tick();
    cr_assert_eq(fx_events(before, FEEDBACK_EVENT_SLA_BREACHED, NULL, NULL), 1, "not again after another restart");
    crm_codec_message_free((ProtobufCMessage **) &c);
}

Test(feedback_service, sla_due_times_count_business_hours)
{
    cr_assert_eq(feedback_hours_parse("Mon-Fri 09:00-18:00", "+00:00", &fx.settings.hours, NULL, 0), 0);
    fx.settings.sla_first_response_us[NORMAL] = 2 * FX_HOUR;
    fx_restart();
    fx.now = INT64_C(1773421200) * 1000000;   /* Friday 2026-03-13 17:00 UTC */
    char customer[CRM_ID_SIZE];
    fx_new_id(customer);
    Crm__V1__Complaint *c = fx_file(customer, NORMAL, "Weekend trouble");
    char due[CRM_TIME_TEXT_MAX];
    cr_assert_eq(crm_time_format_us(feedback_ts_us(c->first_response_due), due, sizeof due), 0);
    cr_assert_str_eq(due, "2026-03-16T10:00:00Z", "one hour on Friday, one on Monday");
    crm_codec_message_free((ProtobufCMessage **) &c);
}

Test(feedback_service, an_integrators_complaint_opens_once)
{
    char customer[CRM_ID_SIZE];
    fx_new_id(customer);
    cr_assert_eq(fx_customer(customer, "zh-CN", NULL, 0), 0);
    char *attachments[1] = { "https://shop.example/photo/1.jpg" };
    Crm__V1__ComplaintReceived m = CRM__V1__COMPLAINT_RECEIVED__INIT;
    m.customer_id = customer;
    m.event_id = "cc-7781";
    m.source = "/callcentre/sh-01";
    m.category = CRM__V1__COMPLAINT_CATEGORY__COMPLAINT_CATEGORY_PRODUCT;
    m.priority = CRM__V1__PRIORITY__PRIORITY_HIGH;
    m.subject = "屏幕坏了";
    m.text = "收到的手机屏幕有裂痕";
    m.channel = CRM__V1__CHANNEL__CHANNEL_PHONE;
    m.n_attachments = 1;
    m.attachments = attachments;
    uint64_t before = fx_head();
    cr_assert_eq(fx_event("crm.contacts.complaint.received.v1", &m.base), 0);
    cr_assert_eq(fx_event("crm.contacts.complaint.received.v1", &m.base), 0, "the same event again");
    Crm__V1__ComplaintChanged *opened = NULL;
    cr_assert_eq(fx_events(before, FEEDBACK_EVENT_COMPLAINT_OPENED, &crm__v1__complaint_changed__descriptor,
                           (ProtobufCMessage **) &opened), 1);
    Crm__V1__Complaint *c = opened->complaint;
    cr_assert_eq(c->origin, CRM__V1__COMPLAINT_ORIGIN__COMPLAINT_ORIGIN_INTEGRATOR);
    cr_assert_eq(c->priority, CRM__V1__PRIORITY__PRIORITY_HIGH);
    cr_assert_eq(c->channel, CRM__V1__CHANNEL__CHANNEL_PHONE);
    cr_assert_str_eq(c->source_event_id, "cc-7781");
    cr_assert_str_eq(c->locale, "zh-CN");
    cr_assert_eq(c->n_attachments, 1);
    cr_assert_str_eq(opened->actor, "/callcentre/sh-01");
    cr_assert_str_eq(opened->actor_role, "integrator");
    crm_codec_message_free((ProtobufCMessage **) &opened);
    /* Another event id is another complaint; a malformed one is dead-lettered. */
    m.event_id = "cc-7782";
    cr_assert_eq(fx_event("crm.contacts.complaint.received.v1", &m.base), 0);
    cr_assert_eq(fx_events(before, FEEDBACK_EVENT_COMPLAINT_OPENED, NULL, NULL), 2);
    /* The longest source (256 bytes) and event id (128) the gateway accepts still open one. */
    char source[257], event_id[129];
    memset(source, 's', 256);
    source[0] = '/';
    source[256] = '\0';
    memset(event_id, 'e', 128);
    event_id[128] = '\0';
    m.source = source;
    m.event_id = event_id;
    cr_assert_eq(fx_event("crm.contacts.complaint.received.v1", &m.base), 0);
    cr_assert_eq(fx_events(before, FEEDBACK_EVENT_COMPLAINT_OPENED, NULL, NULL), 3);
    m.customer_id = "nobody";
    cr_assert_eq(fx_event("crm.contacts.complaint.received.v1", &m.base), CRM_EINVALID);
}

Test(feedback_service, a_segment_is_invited_within_the_limit_and_paged)
{
    char vip[3][CRM_ID_SIZE], other[CRM_ID_SIZE], gone[CRM_ID_SIZE];
    for (int i = 0; i < 3; i++) {
        fx_new_id(vip[i]);
        cr_assert_eq(fx_customer(vip[i], "en", "vip", CRM__V1__VALUE_TIER__VALUE_TIER_HIGH), 0);
    }
    fx_new_id(other);
    cr_assert_eq(fx_customer(other, "en", "new", CRM__V1__VALUE_TIER__VALUE_TIER_LOW), 0);
    fx_new_id(gone);
    cr_assert_eq(fx_customer(gone, "en", "vip", CRM__V1__VALUE_TIER__VALUE_TIER_HIGH), 0);
    Crm__V1__CustomerDeleted del = CRM__V1__CUSTOMER_DELETED__INIT;
    del.customer_id = gone;
    cr_assert_eq(fx_event("crm.contacts.customer.deleted.v1", &del.base), 0);

    Crm__V1__InviteSegmentRequest req = CRM__V1__INVITE_SEGMENT_REQUEST__INIT;
    req.survey_id = "ces";
    req.tag = "vip";
    req.limit = 2;
    cr_assert_eq(fx_call("feedback.InviteSegment", "agent", &req.base, NULL, NULL), CRM_RPC_FORBIDDEN);
    Crm__V1__InviteSegmentReply *rep = NULL;
    cr_assert_eq(fx_call("feedback.InviteSegment", "admin", &req.base, &crm__v1__invite_segment_reply__descriptor,
                         (ProtobufCMessage **) &rep), CRM_RPC_OK);
    cr_assert_eq(rep->invited, 2);
    cr_assert_eq(rep->n_invitation_ids, 2);
    cr_assert_str_eq(rep->next_page_token, vip[1]);
    req.page_token = vip[1];
    Crm__V1__InviteSegmentReply *rep2 = NULL;
    cr_assert_eq(fx_call("feedback.InviteSegment", "admin", &req.base, &crm__v1__invite_segment_reply__descriptor,
                         (ProtobufCMessage **) &rep2), CRM_RPC_OK);
    cr_assert_eq(rep2->invited, 1, "the third VIP; the deleted one and the other tag are left out");
    cr_assert_str_eq(rep2->next_page_token, "");
    /* Again from the start: everyone already has a pending invitation. */
    req.page_token = "";
    req.limit = 0;
    Crm__V1__InviteSegmentReply *rep3 = NULL;
    cr_assert_eq(fx_call("feedback.InviteSegment", "admin", &req.base, &crm__v1__invite_segment_reply__descriptor,
                         (ProtobufCMessage **) &rep3), CRM_RPC_OK);
    cr_assert_eq(rep3->invited, 0);
    cr_assert_eq(rep3->skipped, 3);
    crm_codec_message_free((ProtobufCMessage **) &rep3);
    crm_codec_message_free((ProtobufCMessage **) &rep2);
    crm_codec_message_free((ProtobufCMessage **) &rep);
    /* Deleted customers get no invitation on demand either. */
    Crm__V1__InviteRequest one = CRM__V1__INVITE_REQUEST__INIT;
    one.customer_id = gone;
    cr_assert_eq(fx_call("feedback.Invite", "agent", &one.base, NULL, NULL), CRM_RPC_CONFLICT);
}

Test(feedback_service, lists_filter_and_page_complaints)
{
    char a[CRM_ID_SIZE], b[CRM_ID_SIZE];
    fx_new_id(a);
    fx_new_id(b);
    char ids[5][CRM_ID_SIZE];
    for (int i = 0; i < 5; i++) {
        Crm__V1__Complaint *c = fx_file(i < 3 ? a : b, i == 4 ? URGENT : NORMAL, "text");
        snprintf(ids[i], CRM_ID_SIZE, "%s", c->id);
        crm_codec_message_free((ProtobufCMessage **) &c);
    }
    cr_assert_eq(fx_move(ids[1], ASSIGNED, "carol", NULL, NULL), CRM_RPC_OK);
    Crm__V1__ListComplaintsRequest req = CRM__V1__LIST_COMPLAINTS_REQUEST__INIT;
    Crm__V1__ListComplaintsReply *rep = NULL;
    req.page_size = 2;
    cr_assert_eq(fx_call("feedback.ListComplaints", "analyst", &req.base, &crm__v1__list_complaints_reply__descriptor,
                         (ProtobufCMessage **) &rep), CRM_RPC_OK);
    cr_assert_eq(rep->n_complaints, 2);
    cr_assert_str_eq(rep->complaints[0]->id, ids[4], "newest first");
    cr_assert_str_eq(rep->complaints[1]->id, ids[3]);
    char token[CRM_ID_SIZE];
    snprintf(token, sizeof token, "%s", rep->next_page_token);
    crm_codec_message_free((ProtobufCMessage **) &rep);
    req.page_token = token;
    req.page_size = 10;
    cr_assert_eq(fx_call("feedback.ListComplaints", "analyst", &req.base, &crm__v1__list_complaints_reply__descriptor,
                         (ProtobufCMessage **) &rep), CRM_RPC_OK);
    cr_assert_eq(rep->n_complaints, 3);
    cr_assert_str_eq(rep->complaints[2]->id, ids[0]);
    cr_assert_str_eq(rep->next_page_token, "");
    crm_codec_message_free((ProtobufCMessage **) &rep);
    Crm__V1__ListComplaintsRequest f = CRM__V1__LIST_COMPLAINTS_REQUEST__INIT;
    f.customer_id = a;
    f.status = OPEN;
    cr_assert_eq(fx_call("feedback.ListComplaints", "analyst", &f.base, &crm__v1__list_complaints_reply__descriptor,
                         (ProtobufCMessage **) &rep), CRM_RPC_OK);
    cr_assert_eq(rep->n_complaints, 2);
    crm_codec_message_free((ProtobufCMessage **) &rep);
    Crm__V1__ListComplaintsRequest g = CRM__V1__LIST_COMPLAINTS_REQUEST__INIT;
    g.assignee = "carol";
    cr_assert_eq(fx_call("feedback.ListComplaints", "analyst", &g.base, &crm__v1__list_complaints_reply__descriptor,
                         (ProtobufCMessage **) &rep), CRM_RPC_OK);
    cr_assert_eq(rep->n_complaints, 1);
    cr_assert_str_eq(rep->complaints[0]->id, ids[1]);
    crm_codec_message_free((ProtobufCMessage **) &rep);
    Crm__V1__ListComplaintsRequest h = CRM__V1__LIST_COMPLAINTS_REQUEST__INIT;
    h.priority = URGENT;
    cr_assert_eq(fx_call("feedback.ListComplaints", "analyst", &h.base, &crm__v1__list_complaints_reply__descriptor,
                         (ProtobufCMessage **) &rep), CRM_RPC_OK);
    cr_assert_eq(rep->n_complaints, 1);
    crm_codec_message_free((ProtobufCMessage **) &rep);
    h.priority = 0;
    h.page_token = "garbage";
    char field[FEEDBACK_FIELD_MAX];
    cr_assert_eq(fx_call_full("feedback.ListComplaints", "analyst", &h.base, NULL, NULL, field, NULL), CRM_RPC_INVALID);
    cr_assert_str_eq(field, "pageToken");
}

Test(feedback_service, filing_checks_its_input)
{
    char customer[CRM_ID_SIZE];
    fx_new_id(customer);
    Crm__V1__Complaint c = CRM__V1__COMPLAINT__INIT;
    c.customer_id = customer;
    c.text = "text";
    Crm__V1__FileComplaintRequest req = CRM__V1__FILE_COMPLAINT_REQUEST__INIT;
    req.complaint = &c;
    char field[FEEDBACK_FIELD_MAX];
    cr_assert_eq(fx_call_full("feedback.FileComplaint", "agent", &req.base, NULL, NULL, field, NULL), CRM_RPC_INVALID);
    cr_assert_str_eq(field, "complaint.category");
    c.category = CRM__V1__COMPLAINT_CATEGORY__COMPLAINT_CATEGORY_BILLING;
    c.text = "";
    cr_assert_eq(fx_call_full("feedback.FileComplaint", "agent", &req.base, NULL, NULL, field, NULL), CRM_RPC_INVALID);
    cr_assert_str_eq(field, "complaint.text");
    c.text = "bad\x01text";
    cr_assert_eq(fx_call_full("feedback.FileComplaint", "agent", &req.base, NULL, NULL, field, NULL), CRM_RPC_INVALID);
    c.text = "ok";
    c.customer_id = "x";
    cr_assert_eq(fx_call_full("feedback.FileComplaint", "agent", &req.base, NULL, NULL, field, NULL), CRM_RPC_INVALID);
    cr_assert_str_eq(field, "complaint.customerId");
    /* Output fields sent by a caller are ignored. */
    c.customer_id = customer;
    c.status = CLOSED;
    c.escalation_level = 2;
    Crm__V1__ComplaintReply *rep = NULL;
    cr_assert_eq(fx_call("feedback.FileComplaint", "integrator", &req.base, &crm__v1__complaint_reply__descriptor,
                         (ProtobufCMessage **) &rep), CRM_RPC_OK);
    cr_assert_eq(rep->complaint->status, OPEN);
    cr_assert_eq(rep->complaint->escalation_level, 0);
    cr_assert_eq(rep->complaint->priority, NORMAL);
    cr_assert_eq(rep->complaint->origin, CRM__V1__COMPLAINT_ORIGIN__COMPLAINT_ORIGIN_INTEGRATOR);
    crm_codec_message_free((ProtobufCMessage **) &rep);
    cr_assert_eq(fx_call("feedback.Nothing", "admin", &req.base, NULL, NULL), CRM_RPC_UNKNOWN_METHOD);
}

Test(feedback_service, erasure_forgets_texts_but_keeps_figures)
{
    char customer[CRM_ID_SIZE];
    fx_new_id(customer);
    cr_assert_eq(fx_customer(customer, "en", "vip", 0), 0);
    Crm__V1__Complaint *c = fx_file(customer, NORMAL, "My address is 1 Secret Road");
    Crm__V1__ComplaintTextRequest note = CRM__V1__COMPLAINT_TEXT_REQUEST__INIT;
    note.complaint_id = c->id;
    note.text = "called her at home";
    cr_assert_eq(fx_call("feedback.AddComplaintNote", "agent", &note.base, NULL, NULL), CRM_RPC_OK);
    Crm__V1__Invitation *inv = s_invite(customer, NULL);
    cr_assert_eq(s_submit(inv->token, 10, "Great, thanks Anna", NULL), CRM_RPC_OK);
    Crm__V1__CustomerErased erased = CRM__V1__CUSTOMER_ERASED__INIT;
    erased.customer_id = customer;
    cr_assert_eq(fx_event("crm.contacts.customer.erased.v1", &erased.base), 0);
    Crm__V1__Complaint *after = fx_complaint(c->id);
    cr_assert_str_eq(after->text, "");
    cr_assert_str_eq(after->subject, "");
    cr_assert(after->erased);
    for (size_t i = 0; i < after->n_history; i++)
        cr_assert_str_eq(after->history[i]->text, "");
    cr_assert_eq(after->n_history, 2);
    crm_codec_message_free((ProtobufCMessage **) &after);
    Crm__V1__ListAnswersRequest lr = CRM__V1__LIST_ANSWERS_REQUEST__INIT;
    lr.customer_id = customer;
    Crm__V1__ListAnswersReply *list = NULL;
    cr_assert_eq(fx_call("feedback.ListAnswers", "analyst", &lr.base, &crm__v1__list_answers_reply__descriptor,
                         (ProtobufCMessage **) &list), CRM_RPC_OK);
    cr_assert_eq(list->n_answers, 1);
    cr_assert_eq(list->answers[0]->score, 10);
    cr_assert_str_eq(list->answers[0]->follow_ups[0]->text, "");
    crm_codec_message_free((ProtobufCMessage **) &list);
    /* No more invitations for them. */
    Crm__V1__InviteRequest one = CRM__V1__INVITE_REQUEST__INIT;
    one.customer_id = customer;
    cr_assert_eq(fx_call("feedback.Invite", "agent", &one.base, NULL, NULL), CRM_RPC_CONFLICT);
    crm_codec_message_free((ProtobufCMessage **) &inv);
    crm_codec_message_free((ProtobufCMessage **) &c);
}
