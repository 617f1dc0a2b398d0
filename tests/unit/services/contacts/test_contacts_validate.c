/* test_contacts_validate.c: the format checks and normalisations of contacts_validate. */
#include <criterion/criterion.h>
#include <string.h>

#include "crm_error.h"
#include "crm_test.h"
#include "crm_time.h"
#include "contacts_validate.h"

TestSuite(validate, .fini = crm_test_check_leaks);

Test(validate, emails)
{
    const char *good[] = {
        "a@example.com", "first.last+tag@sub.example.co.uk", "x_y-z@e-x.io", "o'brien@example.ie",
        "\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.\xe5\xb9\xbf\xe5\x91\x8a", "a@xn--p1ai.xn--p1ai",
    };
    const char *bad[] = {
        "", "plain", "@example.com", "a@", "a@example", "a@@example.com", "a b@example.com",
        ".a@example.com", "a.@example.com", "a..b@example.com", "a@-example.com", "a@example-.com",
        "a@example..com", "a@example.123", "a@exa_mple.com", "\"quoted\"@example.com",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        cr_assert(contacts_email_valid(good[i]), "%s", good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_not(contacts_email_valid(bad[i]), "%s", bad[i]);
    char local[CONTACTS_EMAIL_LOCAL_MAX + 20];
    memset(local, 'a', CONTACTS_EMAIL_LOCAL_MAX);
    strcpy(local + CONTACTS_EMAIL_LOCAL_MAX, "@example.com");
    cr_assert(contacts_email_valid(local));
    memset(local, 'a', CONTACTS_EMAIL_LOCAL_MAX + 1);
    strcpy(local + CONTACTS_EMAIL_LOCAL_MAX + 1, "@example.com");
    cr_assert_not(contacts_email_valid(local));
}

Test(validate, phones)
{
    const struct {
        const char *in, *out;
    } good[] = {
        { "+49 30 1234567", "+49301234567" },
        { "+1 (555) 123-4567", "+15551234567" },
        { " +86.10.1234.5678", "+861012345678" },
        { "+123456789012345", "+123456789012345" },
        { "+1234567", "+1234567" },
    };
    const char *bad[] = {
        "", "030 1234567", "+", "+123456", "+1234567890123456", "+0 30 1234567", "+49 30 12x4567",
        "49+301234567", "+49/30/1234567", "+49 30 1234567 ext 5", "++49301234567",
    };
    char out[CONTACTS_PHONE_SIZE];
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        cr_assert_eq(contacts_phone_normalise(good[i].in, out, sizeof out), 0, "%s", good[i].in);
        cr_assert_str_eq(out, good[i].out);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(contacts_phone_normalise(bad[i], out, sizeof out), CRM_EINVALID, "%s", bad[i]);
}

Test(validate, birthdays)
{
    int64_t now = 0;
    cr_assert_eq(crm_time_parse_us("2026-06-15T12:00:00Z", &now), 0);
    const char *good[] = { "1990-01-31", "2000-02-29", "1900-01-01", "2026-06-15" };
    const char *bad[] = {
        "", "1990-1-31", "1990/01/31", "1990-02-30", "1900-02-29", "2023-02-29", "1899-12-31",
        "1990-00-10", "1990-13-01", "1990-01-32", "2026-06-16", "19900131", "1990-01-31T00:00:00Z",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        cr_assert(contacts_birthday_valid(good[i], now), "%s", good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_not(contacts_birthday_valid(bad[i], now), "%s", bad[i]);
}

Test(validate, currencies_and_folding)
{
    cr_assert(contacts_currency_valid("EUR"));
    cr_assert(contacts_currency_valid("CNY"));
    cr_assert_not(contacts_currency_valid("eur"));
    cr_assert_not(contacts_currency_valid("EU"));
    cr_assert_not(contacts_currency_valid("EURO"));
    cr_assert_not(contacts_currency_valid("E1R"));
    char out[32];
    contacts_fold("Ada LOVELACE \xc3\x85", out, sizeof out);
    cr_assert_str_eq(out, "ada lovelace \xc3\x85", "ASCII folded, other bytes kept");
    contacts_fold("ABCDEF", out, 4);
    cr_assert_str_eq(out, "abc");
}

Test(validate, value_text_forms)
{
    Crm__V1__Value v = CRM__V1__VALUE__INIT;
    char out[CONTACTS_VALUE_TEXT_MAX];
    const struct {
        double d;
        const char *text;
    } numbers[] = { { 12.5, "12.5" }, { 3, "3" }, { 0.1, "0.1" }, { -2.25, "-2.25" }, { 1e21, "1e+21" } };
    v.kind_case = CRM__V1__VALUE__KIND_NUMBER_VALUE;
    for (size_t i = 0; i < sizeof numbers / sizeof numbers[0]; i++) {
        v.number_value = numbers[i].d;
        contacts_value_text(&v, out, sizeof out);
        cr_assert_str_eq(out, numbers[i].text);
    }
    v.kind_case = CRM__V1__VALUE__KIND_BOOL_VALUE;
    v.bool_value = 1;
    contacts_value_text(&v, out, sizeof out);
    cr_assert_str_eq(out, "true");
    v.kind_case = CRM__V1__VALUE__KIND_STRING_VALUE;
    v.string_value = (char *) "gold";
    contacts_value_text(&v, out, sizeof out);
    cr_assert_str_eq(out, "gold");
    contacts_value_text(NULL, out, sizeof out);
    cr_assert_str_eq(out, "");
}

Test(validate, interactions_purchases_refunds)
{
    contacts_err_t err;
    Crm__V1__Interaction it = CRM__V1__INTERACTION__INIT;
    cr_assert_eq(contacts_validate_interaction(&it, &err), CRM_EINVALID);
    cr_assert_str_eq(err.field, "channel");
    it.channel = CRM__V1__CHANNEL__CHANNEL_VISIT;
    cr_assert_eq(contacts_validate_interaction(&it, &err), 0);
    it.direction = (Crm__V1__Direction) 7;
    cr_assert_eq(contacts_validate_interaction(&it, &err), CRM_EINVALID);
    cr_assert_str_eq(err.field, "direction");
    it.direction = CRM__V1__DIRECTION__DIRECTION_OUTBOUND;
    it.summary = (char *) "two\nlines\tand a tab";
    cr_assert_eq(contacts_validate_interaction(&it, &err), 0);
    Crm__V1__Timestamp bad_time = CRM__V1__TIMESTAMP__INIT;
    bad_time.nanos = -1;
    it.occurred_at = &bad_time;
    cr_assert_eq(contacts_validate_interaction(&it, &err), CRM_EINVALID);
    cr_assert_str_eq(err.field, "occurredAt");

    Crm__V1__Purchase p = CRM__V1__PURCHASE__INIT;
    p.currency = (char *) "EUR";
    cr_assert_eq(contacts_validate_purchase(&p, &err), 0);
    p.amount_minor = CONTACTS_AMOUNT_MAX + 1;
    cr_assert_eq(contacts_validate_purchase(&p, &err), CRM_EINVALID);
    cr_assert_str_eq(err.field, "amountMinor");

    Crm__V1__Refund r = CRM__V1__REFUND__INIT;
    cr_assert_eq(contacts_validate_refund(&r, &err), CRM_EINVALID);
    cr_assert_str_eq(err.field, "amountMinor");
    r.amount_minor = 1;
    cr_assert_eq(contacts_validate_refund(&r, &err), 0);
}
