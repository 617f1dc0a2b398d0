/* test_notifier_expr.c: rule conditions: what compiles, what is refused with where and why, and how they evaluate over JSON. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <string.h>

#include "crm_error.h"
#include "crm_test.h"
#include "notifier_expr.h"

static json_t *ctx;

static void s_setup(void)
{
    ctx = json_loads("{\"event\": {\"score\": 5, \"points\": \"1200\", \"change\": \"upgrade\", \"toTier\": \"gold\","
                     " \"tags\": [\"vip\", \"new\"], \"complaint\": {\"priority\": \"urgent\", \"team\": \"care\"},"
                     " \"items\": [{\"sku\": \"A-1\"}], \"ok\": true, \"empty\": \"\", \"zero\": 0, \"nothing\": null,"
                     " \"at\": \"2026-05-01T10:00:00Z\"},"
                     " \"customer\": {\"name\": \"张伟\", \"tier\": \"gold\", \"locale\": \"zh-CN\"}}",
                     0, NULL);
    cr_assert(ctx);
}

static void s_teardown(void)
{
    json_decref(ctx);
    crm_test_check_leaks();
}

TestSuite(notifier_expr, .init = s_setup, .fini = s_teardown);

/* Compiles text (which must compile) and evaluates it. */
static bool s_eval(const char *text)
{
    notifier_expr_t *e = NULL;
    char why[NOTIFIER_EXPR_ERROR_MAX];
    int rc = notifier_expr_compile(text, &e, why, sizeof why);
    cr_assert_eq(rc, 0, "%s: %s", text, why);
    bool v = notifier_expr_eval(e, ctx);
    notifier_expr_destroy(&e);
    cr_assert_null(e);
    return v;
}

/* Compiles text, which must be refused with code; returns why. */
static void s_refused(const char *text, int code, const char *why_has)
{
    notifier_expr_t *e = NULL;
    char why[NOTIFIER_EXPR_ERROR_MAX];
    int rc = notifier_expr_compile(text, &e, why, sizeof why);
    cr_assert_eq(rc, code, "%s compiled (%d)", text, rc);
    cr_assert_null(e);
    cr_assert(strstr(why, why_has), "%s: \"%s\" lacks \"%s\"", text, why, why_has);
}

Test(notifier_expr, the_example_of_the_issue)
{
    cr_assert(s_eval("customer.tier == \"gold\" && event.score < 7"));
    cr_assert_not(s_eval("customer.tier == \"gold\" && event.score < 5"));
    cr_assert(s_eval("customer.tier == 'gold' || event.score > 100"));
}

Test(notifier_expr, comparisons_are_numeric_for_numbers_and_decimal_text)
{
    cr_assert(s_eval("event.points > 999"));          /* an int64 arrives as "1200" */
    cr_assert(s_eval("event.points == 1200"));
    cr_assert(s_eval("event.points >= 1200 && event.points <= 1200.0"));
    cr_assert_not(s_eval("event.points != 1200"));
    cr_assert(s_eval("event.score == 5.0"));
    cr_assert(s_eval("event.score > -1e3"));
}

Test(notifier_expr, text_compares_in_byte_order_so_times_compare_in_time_order)
{
    cr_assert(s_eval("event.at < \"2026-06-01T00:00:00Z\""));
    cr_assert(s_eval("event.at > \"2026-04-30\""));
    cr_assert(s_eval("customer.name == \"张伟\""));
    cr_assert_not(s_eval("customer.name == \"张\""));
}

Test(notifier_expr, null_and_missing_fields)
{
    cr_assert(s_eval("event.nothing == null"));
    cr_assert(s_eval("event.missing == null"));
    cr_assert(s_eval("event.missing.deeper == null"));
    cr_assert_not(s_eval("event.missing < 3"));
    cr_assert_not(s_eval("event.missing > 3"));
    cr_assert(s_eval("event.missing != 3"));
    cr_assert_not(s_eval("event.score == null"));
}

Test(notifier_expr, truthiness_of_a_lone_operand_and_not)
{
    cr_assert(s_eval("event.ok"));
    cr_assert_not(s_eval("event.empty"));
    cr_assert_not(s_eval("event.zero"));
    cr_assert_not(s_eval("event.nothing"));
    cr_assert_not(s_eval("event.missing"));
    cr_assert(s_eval("event.tags"));
    cr_assert(s_eval("!event.missing"));
    cr_assert(s_eval("!!event.ok"));
    cr_assert(s_eval("!(event.score > 7)"));
    cr_assert(s_eval("true && !false"));
    cr_assert(s_eval("   "), "an empty condition always holds");
}

Test(notifier_expr, precedence_and_parentheses)
{
    /* && binds tighter than ||. */
    cr_assert(s_eval("true || false && false"));
    cr_assert_not(s_eval("(true || false) && false"));
    cr_assert(s_eval("((event.score == 5))"));
}

Test(notifier_expr, contains_on_text_and_arrays_and_indexes)
{
    cr_assert(s_eval("event.tags contains \"vip\""));
    cr_assert_not(s_eval("event.tags contains \"gold\""));
    cr_assert(s_eval("customer.locale contains \"zh\""));
    cr_assert(s_eval("event.items[0].sku == \"A-1\""));
    cr_assert(s_eval("event.items[1].sku == null"));
    cr_assert(s_eval("event.complaint.priority == \"urgent\" && event.complaint.team == \"care\""));
}

Test(notifier_expr, bad_conditions_are_refused_with_the_place_and_the_reason)
{
    s_refused("customer.tier = \"gold\"", CRM_EINVALID, "at 15: use '==' to compare");
    s_refused("event.score <", CRM_EINVALID, "expected a value after '<'");
    s_refused("event.score < 7 &&", CRM_EINVALID, "expected a value at the end");
    s_refused("(event.score < 7", CRM_EINVALID, "expected ')'");
    s_refused("event.score < 7)", CRM_EINVALID, "')' without '('");
    s_refused("\"open", CRM_EINVALID, "unterminated string");
    s_refused("event.score < 7 & true", CRM_EINVALID, "use '&&'");
    s_refused("event.score | true", CRM_EINVALID, "use '||'");
    s_refused("1 < 2 < 3", CRM_EINVALID, "comparisons do not chain");
    s_refused("event..score", CRM_EINVALID, "expected a field name");
    s_refused("event.tags[x]", CRM_EINVALID, "expected an index");
    s_refused("contains \"a\"", CRM_EINVALID, "before 'contains'");
    s_refused("0x10 > 1", CRM_EINVALID, "not a decimal number");
    s_refused("'a\\q'", CRM_EINVALID, "unknown escape");
    s_refused("event.score # 3", CRM_EINVALID, "expected && or ||");
}

Test(notifier_expr, limits_are_refused_as_too_big)
{
    char deep[NOTIFIER_EXPR_MAX_DEPTH * 2 + 16];
    size_t n = 0;
    for (int i = 0; i <= NOTIFIER_EXPR_MAX_DEPTH; i++)
        deep[n++] = '(';
    deep[n++] = '1';
    for (int i = 0; i <= NOTIFIER_EXPR_MAX_DEPTH; i++)
        deep[n++] = ')';
    deep[n] = '\0';
    s_refused(deep, CRM_ETOOBIG, "nested deeper");

    char wide[NOTIFIER_EXPR_MAX_LEN];
    n = 0;
    while (n + 6 < sizeof wide - 1) {
        memcpy(wide + n, n ? "||1==1" : "1==1", n ? 6 : 4);
        n += n ? 6 : 4;
    }
    wide[n] = '\0';
    s_refused(wide, CRM_ETOOBIG, "terms");

    char *long_text = malloc(NOTIFIER_EXPR_MAX_LEN + 2);
    memset(long_text, ' ', NOTIFIER_EXPR_MAX_LEN + 1);
    long_text[NOTIFIER_EXPR_MAX_LEN + 1] = '\0';
    s_refused(long_text, CRM_ETOOBIG, "longer than");
    free(long_text);
}

Test(notifier_expr, paths_read_json_directly)
{
    cr_assert_str_eq(json_string_value(notifier_json_path(ctx, "event.complaint.team")), "care");
    cr_assert_str_eq(json_string_value(notifier_json_path(ctx, "event.tags[1]")), "new");
    cr_assert_null(notifier_json_path(ctx, "event.tags[2]"));
    cr_assert_null(notifier_json_path(ctx, "event.score.deeper"));
    cr_assert_null(notifier_json_path(ctx, "event..score"));
    cr_assert_null(notifier_json_path(ctx, "event.tags[x]"));
    cr_assert_null(notifier_json_path(NULL, "event"));
}
