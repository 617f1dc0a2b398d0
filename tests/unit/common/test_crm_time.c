/* test_crm_time.c: crm_time: the clock, RFC 3339 formatting and parsing, calendar and offset edge cases. */
#include <criterion/criterion.h>

#include <string.h>

#include "crm_error.h"
#include "crm_time.h"
#include "crm_test.h"

/* Every test fails on leaked memory. */
TestSuite(crm_time, .fini = crm_test_check_leaks);

#define US_2020 1577836800000000LL
#define US_2100 4102444800000000LL
#define ROUND_TRIPS 20000

Test(crm_time, now_is_plausible_and_moves_forward)
{
    int64_t a = crm_time_now_us();
    int64_t b = crm_time_now_us();
    cr_assert_gt(a, US_2020);
    cr_assert_lt(a, US_2100);
    cr_assert_geq(b, a);
}

static void
assert_format(int64_t seconds, int32_t nanos, const char *want)
{
    char text[CRM_TIME_TEXT_MAX];
    cr_assert_eq(crm_time_format(seconds, nanos, text, sizeof text), 0);
    cr_assert_str_eq(text, want);
    int64_t s;
    int32_t n;
    cr_assert_eq(crm_time_parse(want, &s, &n), 0, "%s", want);
    cr_assert_eq(s, seconds, "%s", want);
    cr_assert_eq(n, nanos, "%s", want);
}

Test(crm_time, format_known_instants)
{
    assert_format(0, 0, "1970-01-01T00:00:00Z");
    assert_format(1795428000, 0, "2026-11-23T10:00:00Z");
    assert_format(1795428000, 250000000, "2026-11-23T10:00:00.250Z");
    assert_format(1795428000, 123456000, "2026-11-23T10:00:00.123456Z");
    assert_format(1795428000, 1, "2026-11-23T10:00:00.000000001Z");
    assert_format(1795428000, 999999999, "2026-11-23T10:00:00.999999999Z");
    assert_format(951827696, 0, "2000-02-29T12:34:56Z");
    assert_format(-1, 500000000, "1969-12-31T23:59:59.500Z");
    assert_format(-14182940, 0, "1969-07-20T20:17:40Z");
    assert_format(CRM_TIME_MIN_SECONDS, 0, "0001-01-01T00:00:00Z");
    assert_format(CRM_TIME_MAX_SECONDS, 999999999, "9999-12-31T23:59:59.999999999Z");
}

Test(crm_time, format_rejects_out_of_range_and_small_buffers)
{
    char text[CRM_TIME_TEXT_MAX];
    cr_assert_eq(crm_time_format(CRM_TIME_MAX_SECONDS + 1, 0, text, sizeof text), CRM_EINVALID);
    cr_assert_eq(crm_time_format(CRM_TIME_MIN_SECONDS - 1, 0, text, sizeof text), CRM_EINVALID);
    cr_assert_eq(crm_time_format(0, -1, text, sizeof text), CRM_EINVALID);
    cr_assert_eq(crm_time_format(0, 1000000000, text, sizeof text), CRM_EINVALID);
    cr_assert_eq(crm_time_format(0, 0, text, 20), CRM_ETOOBIG);     /* needs 21 with the NUL */
    cr_assert_str_eq(text, "");
    cr_assert_eq(crm_time_format(0, 0, text, 21), 0);
}

static void
assert_parse(const char *text, const char *utc)
{
    int64_t s;
    int32_t n;
    cr_assert_eq(crm_time_parse(text, &s, &n), 0, "%s", text);
    char out[CRM_TIME_TEXT_MAX];
    cr_assert_eq(crm_time_format(s, n, out, sizeof out), 0);
    cr_assert_str_eq(out, utc, "%s", text);
}

Test(crm_time, parse_offsets_and_calendar)
{
    assert_parse("2026-11-23T18:00:00+08:00", "2026-11-23T10:00:00Z");
    assert_parse("2026-11-23T04:30:00-05:30", "2026-11-23T10:00:00Z");
    assert_parse("2026-11-23T10:00:00-00:00", "2026-11-23T10:00:00Z");
    assert_parse("2026-11-23t10:00:00z", "2026-11-23T10:00:00Z");
    assert_parse("2027-01-01T07:59:59+08:00", "2026-12-31T23:59:59Z");
    assert_parse("2026-12-31T20:00:00-05:00", "2027-01-01T01:00:00Z");
    assert_parse("2024-03-01T00:30:00+01:00", "2024-02-29T23:30:00Z");
    assert_parse("2023-03-01T00:30:00+01:00", "2023-02-28T23:30:00Z");
    assert_parse("2000-02-29T00:00:00Z", "2000-02-29T00:00:00Z");
    assert_parse("2026-11-23T10:00:00.5Z", "2026-11-23T10:00:00.500Z");
    assert_parse("2026-11-23T10:00:00.1234Z", "2026-11-23T10:00:00.123400Z");
    assert_parse("2026-11-23T10:00:00.000Z", "2026-11-23T10:00:00Z");
    assert_parse("0001-01-01T00:00:00Z", "0001-01-01T00:00:00Z");
    assert_parse("0001-01-01T08:00:00+08:00", "0001-01-01T00:00:00Z");
    assert_parse("9999-12-31T23:59:59.999999999Z", "9999-12-31T23:59:59.999999999Z");
    assert_parse("9999-12-31T23:59:59+23:59", "9999-12-31T00:00:59Z");
}

Test(crm_time, parse_rejects_garbage)
{
    static const char *const bad[] = {
        "",
        "2026",
        "2026-11-23",
        "2026-11-23T10:00:00",              /* no offset */
        "2026-11-23 10:00:00Z",
        "2026-11-23T10:00Z",
        "2026-11-23T10:00:00.Z",
        "2026-11-23T10:00:00.1234567891Z",  /* ten fraction digits */
        "2026-11-23T10:00:00ZZ",
        " 2026-11-23T10:00:00Z",
        "2026-11-23T10:00:00Z ",
        "2026-13-01T00:00:00Z",
        "2026-00-01T00:00:00Z",
        "2026-11-00T00:00:00Z",
        "2026-11-31T00:00:00Z",
        "2025-02-29T00:00:00Z",
        "1900-02-29T00:00:00Z",
        "2026-11-23T24:00:00Z",
        "2026-11-23T10:60:00Z",
        "2026-11-23T10:00:60Z",             /* leap seconds are not representable */
        "2026-11-23T10:00:00+24:00",
        "2026-11-23T10:00:00+08:60",
        "2026-11-23T10:00:00+0800",
        "2026-11-23T10:00:00+08",
        "0000-12-31T23:59:59Z",
        "0001-01-01T00:00:00+00:01",        /* before year 1 in UTC */
        "9999-12-31T23:59:59-00:01",        /* after year 9999 in UTC */
        "+2026-11-23T10:00:00Z",
        "2026-1-23T10:00:00Z",
        "２０２６-11-23T10:00:00Z",
        "2026-11-23T10:00:00.-1Z",
        "yesterday",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t s = 12345;
        int32_t n = 678;
        cr_assert_eq(crm_time_parse(bad[i], &s, &n), CRM_EINVALID, "accepted \"%s\"", bad[i]);
        cr_assert_eq(s, 12345, "%s", bad[i]);
        cr_assert_eq(n, 678, "%s", bad[i]);
    }
    /* The length-bounded parser stops at len, NUL or not. */
    int64_t s;
    int32_t n;
    cr_assert_eq(crm_time_parse_n("2026-11-23T10:00:00Zjunk", 20, &s, &n), 0);
    cr_assert_eq(s, 1795428000);
    cr_assert_eq(crm_time_parse_n("2026-11-23T10:00:00Z", 19, &s, &n), CRM_EINVALID);
}

Test(crm_time, round_trip_many_instants)
{
    uint64_t state = 1;
    uint64_t span = (uint64_t) (CRM_TIME_MAX_SECONDS - CRM_TIME_MIN_SECONDS) + 1;
    for (int i = 0; i < ROUND_TRIPS; i++) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        int64_t seconds = CRM_TIME_MIN_SECONDS + (int64_t) ((state >> 11) % span);
        int32_t nanos = (int32_t) ((state >> 3) % CRM_TIME_NANOS_PER_SECOND);
        if (i % 3 == 0)
            nanos = 0;
        char text[CRM_TIME_TEXT_MAX];
        cr_assert_eq(crm_time_format(seconds, nanos, text, sizeof text), 0);
        int64_t s;
        int32_t n;
        cr_assert_eq(crm_time_parse(text, &s, &n), 0, "%s", text);
        cr_assert(s == seconds && n == nanos, "%s", text);
    }
}

Test(crm_time, microseconds)
{
    char text[CRM_TIME_TEXT_MAX];
    cr_assert_eq(crm_time_format_us(1795428000123456LL, text, sizeof text), 0);
    cr_assert_str_eq(text, "2026-11-23T10:00:00.123456Z");
    cr_assert_eq(crm_time_format_us(-1, text, sizeof text), 0);
    cr_assert_str_eq(text, "1969-12-31T23:59:59.999999Z");
    cr_assert_eq(crm_time_format_us(0, text, sizeof text), 0);
    cr_assert_str_eq(text, "1970-01-01T00:00:00Z");

    int64_t us;
    cr_assert_eq(crm_time_parse_us("2026-11-23T18:00:00.123456789+08:00", &us), 0);
    cr_assert_eq(us, 1795428000123456LL);      /* nanoseconds truncated */
    cr_assert_eq(crm_time_parse_us("1969-12-31T23:59:59.999999Z", &us), 0);
    cr_assert_eq(us, -1);
    cr_assert_eq(crm_time_parse_us("not a time", &us), CRM_EINVALID);

    int64_t now = crm_time_now_us();
    cr_assert_eq(crm_time_format_us(now, text, sizeof text), 0);
    cr_assert_eq(crm_time_parse_us(text, &us), 0);
    cr_assert_eq(us, now);
}
