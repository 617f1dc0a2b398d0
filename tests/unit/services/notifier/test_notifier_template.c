/* test_notifier_template.c: templates: Chinese text, labels and filters, missing placeholders, checks, and the choice of a locale. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "crm_error.h"
#include "crm_test.h"
#include "notifier_template.h"

static json_t *ctx, *labels;

static void s_setup(void)
{
    ctx = json_loads("{\"customer\": {\"name\": \"张伟\", \"tier\": \"silver\"},"
                     " \"event\": {\"toTier\": \"silver\", \"points\": \"1200\", \"balance\": 80, \"rate\": 1.5,"
                     " \"ok\": false, \"tags\": [\"vip\", 7], \"expiresAt\": \"2026-07-01T00:00:00Z\","
                     " \"spend\": \"123456\", \"neg\": -5, \"nothing\": null, \"empty\": \"\", \"obj\": {\"b\": 2, \"a\": 1}}}",
                     0, NULL);
    labels = json_loads("{\"silver\": \"白银\", \"gold\": \"黄金\"}", 0, NULL);
    cr_assert(ctx && labels);
}

static void s_teardown(void)
{
    json_decref(ctx);
    json_decref(labels);
    crm_test_check_leaks();
}

TestSuite(notifier_template, .init = s_setup, .fini = s_teardown);

static char *s_render(const char *text, notifier_missing_t *missing)
{
    char *out = NULL;
    cr_assert_eq(notifier_template_render(text, ctx, labels, &out, missing), 0, "%s", text);
    return out;
}

Test(notifier_template, chinese_text_with_labels)
{
    notifier_missing_t missing = { 0 };
    char *out = s_render("{{customer.name}}，您好！恭喜您成为{{event.toTier|label}}会员。", &missing);
    cr_assert_str_eq(out, "张伟，您好！恭喜您成为白银会员。");
    cr_assert_eq(missing.count, 0);
    free(out);
    /* A value the labels do not have renders as itself. */
    out = s_render("{{ customer.tier | label }} / {{event.points|label}}", &missing);
    cr_assert_str_eq(out, "白银 / 1200");
    free(out);
}

Test(notifier_template, values_render_as_text)
{
    char *out = s_render("{{event.points}} {{event.balance}} {{event.rate}} {{event.ok}} {{event.tags}} {{event.neg}}",
                         NULL);
    cr_assert_str_eq(out, "1200 80 1.5 false vip, 7 -5");
    free(out);
    out = s_render("{{event.obj}}", NULL);
    cr_assert_str_eq(out, "{\"a\":1,\"b\":2}");
    free(out);
}

Test(notifier_template, date_and_money_filters)
{
    char *out = s_render("{{event.expiresAt|date}} {{event.spend|money}} {{event.balance|money}} {{event.neg|money}}",
                         NULL);
    cr_assert_str_eq(out, "2026-07-01 1234.56 0.80 -0.05");
    free(out);
}

Test(notifier_template, missing_placeholders_render_empty_and_are_reported)
{
    notifier_missing_t missing = { 0 };
    char *out = s_render("Hi {{customer.nickname}}, {{event.nothing}}{{event.empty}}! {{customer.nickname}}",
                         &missing);
    cr_assert_str_eq(out, "Hi , ! ");
    cr_assert_eq(missing.total, 4);
    cr_assert_eq(missing.count, 3, "each path once");
    cr_assert_str_eq(missing.names[0], "customer.nickname");
    cr_assert_str_eq(missing.names[1], "event.nothing");
    cr_assert_str_eq(missing.names[2], "event.empty");
    free(out);
}

Test(notifier_template, text_that_is_not_a_placeholder_is_kept)
{
    char *out = s_render("{{ not a path! }} and {{ unclosed", NULL);
    cr_assert_str_eq(out, "{{ not a path! }} and {{ unclosed");
    free(out);
}

Test(notifier_template, checks_refuse_bad_templates)
{
    char why[256];
    cr_assert_eq(notifier_template_check("您好 {{customer.name}} {{event.at|date}}", why, sizeof why), 0, "%s", why);
    cr_assert_eq(notifier_template_check("{{customer.name", why, sizeof why), CRM_EINVALID);
    cr_assert(strstr(why, "at 1: '{{' without '}}'"), "%s", why);
    cr_assert_eq(notifier_template_check("x {{customer name}}", why, sizeof why), CRM_EINVALID);
    cr_assert(strstr(why, "at 3: expected a field path"), "%s", why);
    cr_assert_eq(notifier_template_check("{{a|upper}}", why, sizeof why), CRM_EINVALID);
    cr_assert(strstr(why, "unknown filter"), "%s", why);
    cr_assert_eq(notifier_template_check("{{a {{b}}", why, sizeof why), CRM_EINVALID);
    cr_assert_eq(notifier_template_check("\xff\xfe", why, sizeof why), CRM_EINVALID);
    cr_assert(strstr(why, "UTF-8"));
}

Test(notifier_template, a_rendering_past_the_limit_is_refused)
{
    json_t *big = json_object();
    char *text = malloc(NOTIFIER_RENDER_MAX + 1);
    memset(text, 'a', NOTIFIER_RENDER_MAX);
    text[NOTIFIER_RENDER_MAX] = '\0';
    char *out = NULL;
    cr_assert_eq(notifier_template_render(text, big, NULL, &out, NULL), CRM_ETOOBIG);
    cr_assert_null(out);
    free(text);
    json_decref(big);
}

Test(notifier_template, the_locale_is_chosen_with_fallbacks)
{
    const char *const locales[] = { "en", "zh-CN", "fr" };
    cr_assert_eq(notifier_locale_pick(locales, 3, "zh-CN", "en"), 1);
    cr_assert_eq(notifier_locale_pick(locales, 3, "ZH-cn", "en"), 1, "case does not matter");
    cr_assert_eq(notifier_locale_pick(locales, 3, "zh-TW", "en"), 1, "the same language");
    cr_assert_eq(notifier_locale_pick(locales, 3, "zh", "en"), 1);
    cr_assert_eq(notifier_locale_pick(locales, 3, "de-DE", "en"), 0, "else the fallback");
    cr_assert_eq(notifier_locale_pick(locales, 3, "", "en"), 0);
    cr_assert_eq(notifier_locale_pick(locales, 3, NULL, "fr-CA"), 2, "the fallback's language");
    const char *const only_zh[] = { "zh-CN" };
    cr_assert_eq(notifier_locale_pick(only_zh, 1, "de", "en"), 0, "else the first");
    cr_assert_eq(notifier_locale_pick(NULL, 0, "de", "en"), -1);
    cr_assert(notifier_locale_valid("zh-CN"));
    cr_assert(notifier_locale_valid("zh-Hans-CN"));
    cr_assert(notifier_locale_valid("en"));
    cr_assert_not(notifier_locale_valid("e"));
    cr_assert_not(notifier_locale_valid("zh_CN"));
    cr_assert_not(notifier_locale_valid("zh-"));
    cr_assert_not(notifier_locale_valid(""));
}
