/* test_feedback_survey.c: score classes and ranges, locale texts, survey validation, complaint categories from topics. */
#include <criterion/criterion.h>
#include <string.h>

#include "crm_codec.h"
#include "crm_error.h"
#include "feedback_survey.h"

#define NPS  CRM__V1__SURVEY_KIND__SURVEY_KIND_NPS
#define CSAT CRM__V1__SURVEY_KIND__SURVEY_KIND_CSAT
#define CES  CRM__V1__SURVEY_KIND__SURVEY_KIND_CES

static const char *class_of(Crm__V1__SurveyKind kind, int score)
{
    Crm__V1__AnswerClass cls;
    if (feedback_classify(kind, score, &cls))
        return "invalid";
    return feedback_class_name(cls);
}

Test(feedback_survey, classifies_every_score)
{
    static const char *const nps[] = { "detractor", "detractor", "detractor", "detractor", "detractor", "detractor",
                                       "detractor", "passive", "passive", "promoter", "promoter" };
    for (int s = 0; s <= 10; s++)
        cr_assert_str_eq(class_of(NPS, s), nps[s], "NPS %d", s);
    static const char *const csat[] = { "invalid", "unsatisfied", "unsatisfied", "unsatisfied", "satisfied", "satisfied" };
    for (int s = 0; s <= 5; s++)
        cr_assert_str_eq(class_of(CSAT, s), csat[s], "CSAT %d", s);
    static const char *const ces[] = { "invalid", "difficult", "difficult", "difficult", "neutral", "easy", "easy", "easy" };
    for (int s = 0; s <= 7; s++)
        cr_assert_str_eq(class_of(CES, s), ces[s], "CES %d", s);
    cr_assert_str_eq(class_of(NPS, -1), "invalid");
    cr_assert_str_eq(class_of(NPS, 11), "invalid");
    cr_assert_str_eq(class_of(CSAT, 6), "invalid");
    cr_assert_str_eq(class_of(CES, 8), "invalid");
    cr_assert_str_eq(class_of(CRM__V1__SURVEY_KIND__SURVEY_KIND_UNSPECIFIED, 5), "invalid");
    int min, max;
    cr_assert_eq(feedback_score_range(CES, &min, &max), 0);
    cr_assert_eq(min, 1);
    cr_assert_eq(max, 7);
}

static Crm__V1__Survey *survey_json(const char *json)
{
    Crm__V1__Survey *s = NULL;
    crm_codec_error_t err;
    cr_assert_eq(crm_codec_json_decode(&crm__v1__survey__descriptor, json, strlen(json), (ProtobufCMessage **) &s, &err),
                 0, "%s: %s", err.path, err.message);
    return s;
}

Test(feedback_survey, picks_the_text_of_a_locale)
{
    Crm__V1__Survey *s = survey_json("{\"texts\":{\"en\":\"Hello\",\"zh-CN\":\"你好\",\"fr\":\"Bonjour\"}}");
    cr_assert_str_eq(FEEDBACK_TEXT_PICK(s, texts, "zh-CN", "en"), "你好");
    cr_assert_str_eq(FEEDBACK_TEXT_PICK(s, texts, "ZH-cn", "en"), "你好", "tags compare without case");
    cr_assert_str_eq(FEEDBACK_TEXT_PICK(s, texts, "zh-TW", "en"), "你好", "same language");
    cr_assert_str_eq(FEEDBACK_TEXT_PICK(s, texts, "zh", "en"), "你好");
    cr_assert_str_eq(FEEDBACK_TEXT_PICK(s, texts, "fr-CA", "en"), "Bonjour");
    cr_assert_str_eq(FEEDBACK_TEXT_PICK(s, texts, "de", "fr"), "Bonjour", "the fallback locale");
    cr_assert_str_eq(FEEDBACK_TEXT_PICK(s, texts, "de", "ja"), "Hello", "English last");
    cr_assert_str_eq(FEEDBACK_TEXT_PICK(s, texts, "", ""), "Hello");
    crm_codec_message_free((ProtobufCMessage **) &s);
    s = survey_json("{}");
    cr_assert_str_eq(FEEDBACK_TEXT_PICK(s, texts, "en", "en"), "");
    crm_codec_message_free((ProtobufCMessage **) &s);
}

static void expect_invalid(const char *json, const char *field)
{
    Crm__V1__Survey *s = survey_json(json);
    feedback_err_t err = { 0 };
    cr_assert_eq(feedback_survey_validate(s, &err), CRM_EINVALID, "accepted: %s", json);
    cr_assert_str_eq(err.field, field, "%s: %s", json, err.message);
    cr_assert_neq(err.message[0], '\0');
    crm_codec_message_free((ProtobufCMessage **) &s);
}

#define GOOD_HEAD "\"name\":\"Delivery\",\"kind\":\"csat\",\"texts\":{\"en\":\"How was delivery?\",\"zh-CN\":\"配送如何？\"}"

Test(feedback_survey, validates_definitions)
{
    Crm__V1__Survey *s = survey_json("{\"id\":\"delivery-2026\"," GOOD_HEAD ",\"triggers\":[\"purchase\"],"
                                     "\"followUps\":[{\"id\":\"why\",\"kind\":\"open_text\",\"texts\":{\"en\":\"Why?\"}},"
                                     "{\"id\":\"speed\",\"kind\":\"single_choice\",\"required\":true,"
                                     "\"texts\":{\"en\":\"Speed?\"},\"choices\":[{\"id\":\"fast\",\"labels\":"
                                     "{\"en\":\"Fast\"}},{\"id\":\"slow\",\"labels\":{\"en\":\"Slow\"}}]}]}");
    feedback_err_t err = { 0 };
    cr_assert_eq(feedback_survey_validate(s, &err), 0, "%s: %s", err.field, err.message);
    crm_codec_message_free((ProtobufCMessage **) &s);

    expect_invalid("{\"id\":\"bad id\"," GOOD_HEAD "}", "survey.id");
    expect_invalid("{\"kind\":\"csat\",\"texts\":{\"en\":\"x\"}}", "survey.name");
    expect_invalid("{\"name\":\"x\",\"texts\":{\"en\":\"x\"}}", "survey.kind");
    expect_invalid("{\"name\":\"x\",\"kind\":\"nps\",\"texts\":{\"zh-CN\":\"只有中文\"}}", "survey.texts");
    expect_invalid("{\"name\":\"x\",\"kind\":\"nps\",\"texts\":{\"en\":\"x\",\"not a tag\":\"y\"}}", "survey.texts");
    expect_invalid("{\"name\":\"x\",\"kind\":\"nps\",\"texts\":{\"en\":\"\"}}", "survey.texts");
    expect_invalid("{" GOOD_HEAD ",\"triggers\":[\"segment\"]}", "survey.triggers");
    expect_invalid("{" GOOD_HEAD ",\"validityHours\":100000}", "survey.validityHours");
    expect_invalid("{" GOOD_HEAD ",\"followUps\":[{\"id\":\"a\",\"texts\":{\"en\":\"A\"}}]}", "survey.followUps[0].kind");
    expect_invalid("{" GOOD_HEAD ",\"followUps\":[{\"id\":\"a\",\"kind\":\"open_text\",\"texts\":{\"en\":\"A\"}},"
                   "{\"id\":\"a\",\"kind\":\"open_text\",\"texts\":{\"en\":\"B\"}}]}", "survey.followUps[1].id");
    expect_invalid("{" GOOD_HEAD ",\"followUps\":[{\"id\":\"a\",\"kind\":\"single_choice\",\"texts\":{\"en\":\"A\"},"
                   "\"choices\":[{\"id\":\"x\",\"labels\":{\"en\":\"X\"}}]}]}", "survey.followUps[0].choices");
    expect_invalid("{" GOOD_HEAD ",\"followUps\":[{\"id\":\"a\",\"kind\":\"single_choice\",\"texts\":{\"en\":\"A\"},"
                   "\"choices\":[{\"id\":\"x\",\"labels\":{\"en\":\"X\"}},{\"id\":\"x\",\"labels\":{\"en\":\"Y\"}}]}]}",
                   "survey.followUps[0].choices[1]");
    expect_invalid("{" GOOD_HEAD ",\"followUps\":[{\"id\":\"a\",\"kind\":\"open_text\",\"texts\":{\"en\":\"A\"},"
                   "\"choices\":[{\"id\":\"x\",\"labels\":{\"en\":\"X\"}}]}]}", "survey.followUps[0].choices");
}

Test(feedback_survey, names_and_locales)
{
    cr_assert(feedback_name_valid("nps"));
    cr_assert(feedback_name_valid("a.b_c-1"));
    cr_assert(!feedback_name_valid(""));
    cr_assert(!feedback_name_valid("a/b"));
    char long_name[FEEDBACK_NAME_MAX + 2];
    memset(long_name, 'a', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    cr_assert(!feedback_name_valid(long_name));
    cr_assert(feedback_locale_valid("en"));
    cr_assert(feedback_locale_valid("zh-Hans-CN"));
    cr_assert(!feedback_locale_valid("e"));
    cr_assert(!feedback_locale_valid("zh_CN"));
    cr_assert(!feedback_locale_valid("-en"));
    cr_assert(!feedback_locale_valid("en-"));
}

Test(feedback_survey, topics_pick_a_category)
{
    cr_assert_eq(feedback_category_for_topics(1u << FEEDBACK_TOPIC_DELIVERY),
                 CRM__V1__COMPLAINT_CATEGORY__COMPLAINT_CATEGORY_DELIVERY);
    cr_assert_eq(feedback_category_for_topics(1u << FEEDBACK_TOPIC_PACKAGING),
                 CRM__V1__COMPLAINT_CATEGORY__COMPLAINT_CATEGORY_DELIVERY);
    cr_assert_eq(feedback_category_for_topics(1u << FEEDBACK_TOPIC_PRICE),
                 CRM__V1__COMPLAINT_CATEGORY__COMPLAINT_CATEGORY_BILLING);
    cr_assert_eq(feedback_category_for_topics(1u << FEEDBACK_TOPIC_QUALITY),
                 CRM__V1__COMPLAINT_CATEGORY__COMPLAINT_CATEGORY_PRODUCT);
    cr_assert_eq(feedback_category_for_topics(1u << FEEDBACK_TOPIC_STAFF),
                 CRM__V1__COMPLAINT_CATEGORY__COMPLAINT_CATEGORY_SERVICE);
    cr_assert_eq(feedback_category_for_topics(0), CRM__V1__COMPLAINT_CATEGORY__COMPLAINT_CATEGORY_SERVICE);
    cr_assert_eq(feedback_polarity_proto(FEEDBACK_POLARITY_NEGATIVE),
                 CRM__V1__SENTIMENT_POLARITY__SENTIMENT_POLARITY_NEGATIVE);
}
