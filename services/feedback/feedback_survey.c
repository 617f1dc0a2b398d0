/* feedback_survey.c: survey definitions: validation, the defaults, score ranges and classes, locale texts. */
#include "feedback_survey.h"

#include <assert.h>
#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "crm_codec.h"
#include "crm_error.h"

/* Every generated map<string, string> entry has the layout of feedback_text_entry_t. */
_Static_assert(sizeof(Crm__V1__Survey__TextsEntry) == sizeof(feedback_text_entry_t), "map entry layout");
_Static_assert(offsetof(Crm__V1__Survey__TextsEntry, key) == offsetof(feedback_text_entry_t, key), "map entry key");
_Static_assert(offsetof(Crm__V1__Survey__TextsEntry, value) == offsetof(feedback_text_entry_t, value), "map entry value");
_Static_assert(sizeof(Crm__V1__SurveyQuestion__TextsEntry) == sizeof(feedback_text_entry_t), "map entry layout");
_Static_assert(sizeof(Crm__V1__SurveyChoice__LabelsEntry) == sizeof(feedback_text_entry_t), "map entry layout");

#define S_NPS  CRM__V1__SURVEY_KIND__SURVEY_KIND_NPS
#define S_CSAT CRM__V1__SURVEY_KIND__SURVEY_KIND_CSAT
#define S_CES  CRM__V1__SURVEY_KIND__SURVEY_KIND_CES
#define S_FALLBACK_LOCALE "en"

/* Three surveys for the first start; JSON through the codec, as an admin would send them. */
static const char *const s_default_surveys[] = {
    "{\"id\":\"nps\",\"name\":\"Net Promoter Score\",\"kind\":\"nps\",\"active\":true,"
    "\"triggers\":[\"purchase\"],"
    "\"texts\":{\"en\":\"How likely are you to recommend us to a friend or colleague? (0 = not at all likely, "
    "10 = extremely likely)\",\"zh-CN\":\"您有多大可能向朋友或同事推荐我们？（0 = 完全不可能，10 = 非常可能）\"},"
    "\"followUps\":[{\"id\":\"reason\",\"kind\":\"open_text\",\"texts\":{\"en\":\"What is the main reason for "
    "your score?\",\"zh-CN\":\"您给出这个分数的主要原因是什么？\"}}]}",
    "{\"id\":\"csat\",\"name\":\"Customer Satisfaction\",\"kind\":\"csat\",\"active\":true,"
    "\"triggers\":[\"complaint_resolved\"],"
    "\"texts\":{\"en\":\"How satisfied are you with how we handled your request? (1 = very unsatisfied, "
    "5 = very satisfied)\",\"zh-CN\":\"您对我们处理您的问题的方式满意吗？（1 = 非常不满意，5 = 非常满意）\"},"
    "\"followUps\":[{\"id\":\"comment\",\"kind\":\"open_text\",\"texts\":{\"en\":\"What could we have done "
    "better?\",\"zh-CN\":\"我们有哪些地方可以做得更好？\"}}]}",
    "{\"id\":\"ces\",\"name\":\"Customer Effort Score\",\"kind\":\"ces\",\"active\":true,"
    "\"texts\":{\"en\":\"How easy was it to get what you needed today? (1 = very difficult, 7 = very easy)\","
    "\"zh-CN\":\"今天办理您的事情有多容易？（1 = 非常困难，7 = 非常容易）\"},"
    "\"followUps\":[{\"id\":\"effort\",\"kind\":\"open_text\",\"texts\":{\"en\":\"What made it easy or "
    "difficult?\",\"zh-CN\":\"是什么让它变得容易或困难？\"}}]}",
};

/* --- Texts */

static size_t s_language_len(const char *tag)
{
    const char *dash = strchr(tag, '-');
    return dash ? (size_t) (dash - tag) : strlen(tag);
}

const char *feedback_text_pick(const void *const *entries, size_t n, const char *locale, const char *fallback_locale)
{
    const feedback_text_entry_t *const *e = (const feedback_text_entry_t *const *) entries;
    if (n == 0)
        return "";
    const char *wanted[] = { locale, fallback_locale, S_FALLBACK_LOCALE };
    for (size_t w = 0; w < sizeof wanted / sizeof wanted[0]; w++) {
        const char *tag = wanted[w];
        if (!tag || !tag[0])
            continue;
        for (size_t i = 0; i < n; i++)
            if (strcasecmp(e[i]->key, tag) == 0 && e[i]->value[0])
                return e[i]->value;
        size_t lang = s_language_len(tag);
        for (size_t i = 0; i < n; i++)
            if (s_language_len(e[i]->key) == lang && strncasecmp(e[i]->key, tag, lang) == 0 && e[i]->value[0])
                return e[i]->value;
    }
    return e[0]->value;
}

/* --- Scores and classes */

int feedback_score_range(Crm__V1__SurveyKind kind, int *min, int *max)
{
    switch (kind) {
    case S_NPS: *min = 0; *max = 10; return 0;
    case S_CSAT: *min = 1; *max = 5; return 0;
    case S_CES: *min = 1; *max = 7; return 0;
    default: return CRM_EINVALID;
    }
}

int feedback_classify(Crm__V1__SurveyKind kind, int score, Crm__V1__AnswerClass *out)
{
    int min, max;
    if (feedback_score_range(kind, &min, &max) || score < min || score > max)
        return CRM_EINVALID;
    switch (kind) {
    case S_NPS:
        *out = score >= 9 ? CRM__V1__ANSWER_CLASS__ANSWER_CLASS_PROMOTER
             : score >= 7 ? CRM__V1__ANSWER_CLASS__ANSWER_CLASS_PASSIVE
                          : CRM__V1__ANSWER_CLASS__ANSWER_CLASS_DETRACTOR;
        break;
    case S_CSAT:
        *out = score >= 4 ? CRM__V1__ANSWER_CLASS__ANSWER_CLASS_SATISFIED
                          : CRM__V1__ANSWER_CLASS__ANSWER_CLASS_UNSATISFIED;
        break;
    default:
        *out = score >= 5 ? CRM__V1__ANSWER_CLASS__ANSWER_CLASS_EASY
             : score == 4 ? CRM__V1__ANSWER_CLASS__ANSWER_CLASS_NEUTRAL
                          : CRM__V1__ANSWER_CLASS__ANSWER_CLASS_DIFFICULT;
        break;
    }
    return 0;
}

const char *feedback_kind_name(Crm__V1__SurveyKind kind)
{
    switch (kind) {
    case S_NPS: return "nps";
    case S_CSAT: return "csat";
    case S_CES: return "ces";
    default: return "unspecified";
    }
}

const char *feedback_class_name(Crm__V1__AnswerClass cls)
{
    static const char *const names[] = {
        "unspecified", "promoter", "passive", "detractor", "satisfied", "unsatisfied", "easy", "neutral", "difficult",
    };
    return (unsigned) cls < sizeof names / sizeof names[0] ? names[cls] : "unspecified";
}

Crm__V1__SentimentPolarity feedback_polarity_proto(feedback_polarity_t polarity)
{
    switch (polarity) {
    case FEEDBACK_POLARITY_POSITIVE: return CRM__V1__SENTIMENT_POLARITY__SENTIMENT_POLARITY_POSITIVE;
    case FEEDBACK_POLARITY_NEGATIVE: return CRM__V1__SENTIMENT_POLARITY__SENTIMENT_POLARITY_NEGATIVE;
    default: return CRM__V1__SENTIMENT_POLARITY__SENTIMENT_POLARITY_NEUTRAL;
    }
}

Crm__V1__ComplaintCategory feedback_category_for_topics(unsigned topics)
{
    if (topics & ((1u << FEEDBACK_TOPIC_DELIVERY) | (1u << FEEDBACK_TOPIC_PACKAGING)))
        return CRM__V1__COMPLAINT_CATEGORY__COMPLAINT_CATEGORY_DELIVERY;
    if (topics & ((1u << FEEDBACK_TOPIC_PRICE) | (1u << FEEDBACK_TOPIC_RETURNS)))
        return CRM__V1__COMPLAINT_CATEGORY__COMPLAINT_CATEGORY_BILLING;
    if (topics & (1u << FEEDBACK_TOPIC_QUALITY))
        return CRM__V1__COMPLAINT_CATEGORY__COMPLAINT_CATEGORY_PRODUCT;
    return CRM__V1__COMPLAINT_CATEGORY__COMPLAINT_CATEGORY_SERVICE;
}

/* --- Validation */

bool feedback_name_valid(const char *id)
{
    size_t len = id ? strlen(id) : 0;
    if (len == 0 || len > FEEDBACK_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char) id[i]) && id[i] != '.' && id[i] != '_' && id[i] != '-')
            return false;
    return true;
}

bool feedback_locale_valid(const char *tag)
{
    size_t len = tag ? strlen(tag) : 0;
    if (len < 2 || len >= FEEDBACK_LOCALE_MAX || !isalpha((unsigned char) tag[0]))
        return false;
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char) tag[i]) && tag[i] != '-')
            return false;
    return tag[len - 1] != '-';
}

/* A text of at most FEEDBACK_QUESTION_TEXT_MAX bytes, not empty, no control characters but
 * newlines and tabs. */
static bool s_text_ok(const char *s)
{
    size_t len = strlen(s);
    if (len == 0 || len > FEEDBACK_QUESTION_TEXT_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char) s[i];
        if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f)
            return false;
    }
    return true;
}

static int s_check_texts(const void *const *entries, size_t n, const char *field, feedback_err_t *err)
{
    const feedback_text_entry_t *const *e = (const feedback_text_entry_t *const *) entries;
    if (n > FEEDBACK_LOCALES_MAX)
        return feedback_fail(err, CRM_RPC_INVALID, field, "at most %d locales", FEEDBACK_LOCALES_MAX);
    bool english = false;
    for (size_t i = 0; i < n; i++) {
        if (!feedback_locale_valid(e[i]->key))
            return feedback_fail(err, CRM_RPC_INVALID, field, "\"%.40s\" is not a locale such as en or zh-CN",
                                 e[i]->key);
        if (!s_text_ok(e[i]->value))
            return feedback_fail(err, CRM_RPC_INVALID, field,
                                 "the %s text must be 1 to %d bytes without control characters", e[i]->key,
                                 FEEDBACK_QUESTION_TEXT_MAX);
        english = english || strcasecmp(e[i]->key, S_FALLBACK_LOCALE) == 0;
    }
    if (!english)
        return feedback_fail(err, CRM_RPC_INVALID, field, "an English (\"en\") text is required");
    return 0;
}

static int s_check_question(const Crm__V1__SurveyQuestion *q, size_t index, feedback_err_t *err)
{
    char field[FEEDBACK_FIELD_MAX];
    snprintf(field, sizeof field, "survey.followUps[%zu].id", index);
    if (!feedback_name_valid(q->id))
        return feedback_fail(err, CRM_RPC_INVALID, field, "an id of 1 to %d characters [A-Za-z0-9._-] is required",
                             FEEDBACK_NAME_MAX);
    snprintf(field, sizeof field, "survey.followUps[%zu].kind", index);
    if (q->kind != CRM__V1__QUESTION_KIND__QUESTION_KIND_OPEN_TEXT
        && q->kind != CRM__V1__QUESTION_KIND__QUESTION_KIND_SINGLE_CHOICE)
        return feedback_fail(err, CRM_RPC_INVALID, field, "kind must be open_text or single_choice");
    snprintf(field, sizeof field, "survey.followUps[%zu].texts", index);
    int rc = s_check_texts((const void *const *) q->texts, q->n_texts, field, err);
    if (rc)
        return rc;
    snprintf(field, sizeof field, "survey.followUps[%zu].choices", index);
    if (q->kind == CRM__V1__QUESTION_KIND__QUESTION_KIND_OPEN_TEXT) {
        if (q->n_choices)
            return feedback_fail(err, CRM_RPC_INVALID, field, "an open-text question has no choices");
        return 0;
    }
    if (q->n_choices < 2 || q->n_choices > FEEDBACK_CHOICES_MAX)
        return feedback_fail(err, CRM_RPC_INVALID, field, "a single-choice question has 2 to %d choices",
                             FEEDBACK_CHOICES_MAX);
    for (size_t i = 0; i < q->n_choices; i++) {
        const Crm__V1__SurveyChoice *c = q->choices[i];
        snprintf(field, sizeof field, "survey.followUps[%zu].choices[%zu]", index, i);
        if (!feedback_name_valid(c->id))
            return feedback_fail(err, CRM_RPC_INVALID, field, "a choice id of 1 to %d characters [A-Za-z0-9._-] "
                                 "is required", FEEDBACK_NAME_MAX);
        for (size_t j = 0; j < i; j++)
            if (strcmp(q->choices[j]->id, c->id) == 0)
                return feedback_fail(err, CRM_RPC_INVALID, field, "choice id \"%s\" is used twice", c->id);
        rc = s_check_texts((const void *const *) c->labels, c->n_labels, field, err);
        if (rc)
            return rc;
    }
    return 0;
}

int feedback_survey_validate(const Crm__V1__Survey *s, feedback_err_t *err)
{
    if (s->id[0] && !feedback_name_valid(s->id))
        return feedback_fail(err, CRM_RPC_INVALID, "survey.id", "an id is 1 to %d characters [A-Za-z0-9._-]",
                             FEEDBACK_NAME_MAX);
    if (!s_text_ok(s->name))
        return feedback_fail(err, CRM_RPC_INVALID, "survey.name", "a name of 1 to %d bytes is required",
                             FEEDBACK_QUESTION_TEXT_MAX);
    int min, max;
    if (feedback_score_range(s->kind, &min, &max))
        return feedback_fail(err, CRM_RPC_INVALID, "survey.kind", "kind must be nps, csat or ces");
    int rc = s_check_texts((const void *const *) s->texts, s->n_texts, "survey.texts", err);
    if (rc)
        return rc;
    if (s->n_follow_ups > FEEDBACK_FOLLOW_UPS_MAX)
        return feedback_fail(err, CRM_RPC_INVALID, "survey.followUps", "at most %d follow-up questions",
                             FEEDBACK_FOLLOW_UPS_MAX);
    for (size_t i = 0; i < s->n_follow_ups; i++) {
        rc = s_check_question(s->follow_ups[i], i, err);
        if (rc)
            return rc;
        for (size_t j = 0; j < i; j++)
            if (strcmp(s->follow_ups[j]->id, s->follow_ups[i]->id) == 0) {
                char field[FEEDBACK_FIELD_MAX];
                snprintf(field, sizeof field, "survey.followUps[%zu].id", i);
                return feedback_fail(err, CRM_RPC_INVALID, field, "question id \"%s\" is used twice",
                                     s->follow_ups[i]->id);
            }
    }
    for (size_t i = 0; i < s->n_triggers; i++)
        if (s->triggers[i] != CRM__V1__SURVEY_TRIGGER__SURVEY_TRIGGER_PURCHASE
            && s->triggers[i] != CRM__V1__SURVEY_TRIGGER__SURVEY_TRIGGER_COMPLAINT_RESOLVED)
            return feedback_fail(err, CRM_RPC_INVALID, "survey.triggers",
                                 "automatic triggers are purchase and complaint_resolved");
    if (s->validity_hours > FEEDBACK_VALIDITY_HOURS_MAX)
        return feedback_fail(err, CRM_RPC_INVALID, "survey.validityHours", "at most %d hours",
                             FEEDBACK_VALIDITY_HOURS_MAX);
    return 0;
}

/* --- Defaults and look-up */

int feedback_surveys_seed(feedback_t *fb, crm_txn_t *txn, int64_t now_us)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < sizeof s_default_surveys / sizeof s_default_surveys[0]; i++) {
        Crm__V1__Survey *s = NULL;
        rc = crm_codec_json_decode(&crm__v1__survey__descriptor, s_default_surveys[i], strlen(s_default_surveys[i]),
                                   (ProtobufCMessage **) &s, NULL);
        assert(rc != CRM_EINVALID);   /* the defaults are valid by construction */
        if (rc == 0)
            rc = feedback_ts_put(&s->created_at, now_us);
        if (rc == 0)
            rc = feedback_ts_put(&s->updated_at, now_us);
        if (rc == 0)
            rc = feedback_record_put(txn, fb->db.surveys, s->id, strlen(s->id), &s->base);
        crm_codec_message_free((ProtobufCMessage **) &s);
    }
    return rc;
}

static bool s_has_trigger(const Crm__V1__Survey *s, Crm__V1__SurveyTrigger trigger)
{
    for (size_t i = 0; i < s->n_triggers; i++)
        if (s->triggers[i] == trigger)
            return true;
    return false;
}

int feedback_survey_find(feedback_t *fb, crm_txn_t *txn, const char *survey_id, Crm__V1__SurveyTrigger trigger,
                         Crm__V1__Survey **out)
{
    if (survey_id && survey_id[0])
        return feedback_survey_get(&fb->db, txn, survey_id, out);
    bool automatic = trigger == CRM__V1__SURVEY_TRIGGER__SURVEY_TRIGGER_PURCHASE
                     || trigger == CRM__V1__SURVEY_TRIGGER__SURVEY_TRIGGER_COMPLAINT_RESOLVED;
    crm_cursor_t *cur = NULL;
    int rc = crm_cursor_open(txn, fb->db.surveys, &cur);
    crm_val_t v;
    Crm__V1__Survey *found = NULL;
    for (rc = rc ? rc : crm_cursor_first(cur, NULL, &v); rc == 0 && !found; rc = crm_cursor_next(cur, NULL, &v)) {
        Crm__V1__Survey *s = NULL;
        rc = crm_codec_msgpack_decode(&crm__v1__survey__descriptor, v.data, v.size, (ProtobufCMessage **) &s, NULL);
        if (rc)
            break;
        bool match = s->active && (automatic ? s_has_trigger(s, trigger) : s->kind == S_NPS);
        if (match)
            found = s;
        else
            crm_codec_message_free((ProtobufCMessage **) &s);
    }
    crm_cursor_close(&cur);
    if (found) {
        *out = found;
        return 0;
    }
    return rc == 0 ? CRM_ENOTFOUND : rc;
}
