/* feedback_survey.h: survey definitions: validation, the defaults, score ranges and classes, locale texts. */
#ifndef FEEDBACK_SURVEY_H
#define FEEDBACK_SURVEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crm/v1/feedback.pb-c.h"
#include "feedback_ctx.h"
#include "feedback_sentiment.h"

#define FEEDBACK_SURVEYS_MAX        256     /* surveys that may exist */
#define FEEDBACK_FOLLOW_UPS_MAX     10      /* follow-up questions of one survey */
#define FEEDBACK_CHOICES_MAX        20      /* choices of one single-choice question */
#define FEEDBACK_LOCALES_MAX        16      /* texts (locales) of one question or label */
#define FEEDBACK_QUESTION_TEXT_MAX  1024    /* bytes of a question, a label or a survey name */
#define FEEDBACK_VALIDITY_HOURS_MAX (24 * 366)

/* The layout every generated map<string, string> entry shares (asserted in feedback_survey.c). */
typedef struct {
    ProtobufCMessage base;
    char *key;
    char *value;
} feedback_text_entry_t;

/* The text of a map<string, string> field (locale -> text) for locale: the exact tag (any
 * case), else the same language ("zh" for "zh-CN"), else fallback_locale, else "en", else the
 * first entry; "" when the map is empty. Borrowed from the entries. */
const char *feedback_text_pick(const void *const *entries, size_t n, const char *locale, const char *fallback_locale);
#define FEEDBACK_TEXT_PICK(msg, field, locale, fallback) \
    feedback_text_pick((const void *const *) (msg)->field, (msg)->n_##field, (locale), (fallback))

/* The score range of a survey kind: NPS 0..10, CSAT 1..5, CES 1..7. Returns 0, or CRM_EINVALID
 * for an unspecified or unknown kind. */
int feedback_score_range(Crm__V1__SurveyKind kind, int *min, int *max);

/* The class of a score: NPS 9-10 promoter, 7-8 passive, 0-6 detractor; CSAT 4-5 satisfied, 1-3
 * unsatisfied; CES 5-7 easy, 4 neutral, 1-3 difficult. Returns 0 and sets *out, or CRM_EINVALID
 * when the score is out of the kind's range (or the kind is unknown). Pure. */
int feedback_classify(Crm__V1__SurveyKind kind, int score, Crm__V1__AnswerClass *out);

/* The JSON names of a kind ("nps") and a class ("detractor"). Static. */
const char *feedback_kind_name(Crm__V1__SurveyKind kind);
const char *feedback_class_name(Crm__V1__AnswerClass cls);

/* True for an id of 1 to FEEDBACK_NAME_MAX bytes of [A-Za-z0-9._-]. */
bool feedback_name_valid(const char *id);

/* True for a BCP 47-shaped tag: 2 to FEEDBACK_LOCALE_MAX - 1 bytes of letters, digits and '-',
 * starting with a letter ("en", "zh-CN", "zh-Hans-CN"). */
bool feedback_locale_valid(const char *tag);

/* The proto polarity of the analyser's polarity. */
Crm__V1__SentimentPolarity feedback_polarity_proto(feedback_polarity_t polarity);

/* The complaint category for the topics of a comment (a bit set of feedback_topic_t): delivery or
 * packaging -> delivery; price or returns -> billing; quality -> product; otherwise service. */
Crm__V1__ComplaintCategory feedback_category_for_topics(unsigned topics);

/* Checks a survey as PutSurvey receives it (id may be empty: one is made): id, name, kind,
 * texts ("en" required; tags BCP 47-shaped; texts non-empty and bounded), follow-ups (unique ids,
 * a kind, texts with "en", single choice with 2..FEEDBACK_CHOICES_MAX labelled choices), triggers
 * (purchase or complaint_resolved only) and validity. Returns 0, or CRM_EINVALID with err filled
 * (field such as "survey.followUps[1].choices"). */
int feedback_survey_validate(const Crm__V1__Survey *survey, feedback_err_t *err);

/* Writes the default surveys "nps" (trigger purchase), "csat" (trigger complaint_resolved) and
 * "ces", each active with English and Chinese (zh-CN) texts and one optional open-text
 * follow-up, stamped now_us. Returns 0, or a store or codec error. */
int feedback_surveys_seed(feedback_t *fb, crm_txn_t *txn, int64_t now_us);

/* Finds the survey to send: survey_id when not empty (CRM_ENOTFOUND when there is none; it may be
 * inactive: the caller checks), else for the automatic triggers (purchase, complaint_resolved)
 * the first active survey (by id) whose triggers include trigger, and for the others (on demand,
 * segment) the first active NPS survey (CRM_ENOTFOUND when none). Returns 0 with *out (caller
 * frees), or a store or codec error. */
int feedback_survey_find(feedback_t *fb, crm_txn_t *txn, const char *survey_id, Crm__V1__SurveyTrigger trigger,
                         Crm__V1__Survey **out);

#endif
