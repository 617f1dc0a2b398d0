/* test_notifier_schedule.c: backoff arithmetic with jitter, quiet hours, times of day, offsets and dates. */
#include <criterion/criterion.h>
#include <string.h>

#include "crm_error.h"
#include "crm_test.h"
#include "notifier_schedule.h"

#define S INT64_C(1000000)
#define MIN (60 * S)
#define HOUR (60 * MIN)
/* 2026-03-10T12:00:00Z */
#define T0 (INT64_C(1773144000) * S)

static void s_teardown(void)
{
    crm_test_check_leaks();
}

TestSuite(notifier_schedule, .fini = s_teardown);

Test(notifier_schedule, backoff_doubles_up_to_the_maximum_and_jitters_within_the_upper_half)
{
    int64_t base = 30 * S, max = HOUR;
    /* random 0 gives the lower bound d/2 (rounded up), the largest random the upper bound d. */
    int64_t expected[] = { 30 * S, 60 * S, 120 * S, 240 * S, 480 * S, 960 * S, 1920 * S, HOUR, HOUR };
    for (uint32_t failures = 1; failures <= 9; failures++) {
        int64_t d = expected[failures - 1];
        int64_t low = notifier_backoff_us(base, max, failures, 0);
        int64_t high = notifier_backoff_us(base, max, failures, (uint32_t) (d / 2));
        cr_assert_eq(low, d - d / 2, "failure %u: %lld", failures, (long long) low);
        cr_assert_eq(high, d, "failure %u: %lld", failures, (long long) high);
        for (uint32_t r = 0; r < 1000; r += 37) {
            int64_t v = notifier_backoff_us(base, max, failures, r * 7919u);
            cr_assert(v >= d / 2 && v <= d, "failure %u: %lld outside [%lld, %lld]", failures, (long long) v,
                      (long long) d / 2, (long long) d);
        }
    }
    /* Large counts saturate without overflow. */
    cr_assert_eq(notifier_backoff_us(base, max, 1000, 0), HOUR - HOUR / 2);
    cr_assert(notifier_backoff_us(INT64_MAX / 4, INT64_MAX, 60, 0) > 0);
    cr_assert_eq(notifier_backoff_us(0, max, 3, 5), 0);
    /* The test suite's short settings: 100 ms doubled. */
    cr_assert_eq(notifier_backoff_us(100000, 1000000, 1, 0), 50000);
    cr_assert_eq(notifier_backoff_us(100000, 1000000, 2, 100000), 200000);
}

Test(notifier_schedule, clocks_offsets_and_quiet_hours_parse)
{
    int m = 0;
    cr_assert_eq(notifier_clock_parse("09:30", &m), 0);
    cr_assert_eq(m, 570);
    cr_assert_eq(notifier_clock_parse("24:00", &m), CRM_EINVALID);
    cr_assert_eq(notifier_clock_parse("9:30", &m), CRM_EINVALID);
    cr_assert_eq(notifier_clock_parse("09:60", &m), CRM_EINVALID);
    cr_assert_eq(notifier_offset_parse("+08:00", &m), 0);
    cr_assert_eq(m, 480);
    cr_assert_eq(notifier_offset_parse("-05:30", &m), 0);
    cr_assert_eq(m, -330);
    cr_assert_eq(notifier_offset_parse("+0800", &m), 0);
    cr_assert_eq(m, 480);
    cr_assert_eq(notifier_offset_parse("+8", &m), 0);
    cr_assert_eq(m, 480);
    cr_assert_eq(notifier_offset_parse("Z", &m), 0);
    cr_assert_eq(m, 0);
    cr_assert_eq(notifier_offset_parse("+15:00", &m), CRM_EINVALID);
    cr_assert_eq(notifier_offset_parse("08:00", &m), CRM_EINVALID);
    notifier_quiet_t q;
    cr_assert_eq(notifier_quiet_parse("22:00-08:00", &q), 0);
    cr_assert(q.on);
    cr_assert_eq(q.start_min, 1320);
    cr_assert_eq(q.end_min, 480);
    cr_assert_eq(notifier_quiet_parse("", &q), 0);
    cr_assert_not(q.on);
    cr_assert_eq(notifier_quiet_parse("off", &q), 0);
    cr_assert_eq(notifier_quiet_parse("22:00-22:00", &q), CRM_EINVALID);
    cr_assert_eq(notifier_quiet_parse("22:00 08:00", &q), CRM_EINVALID);
}

Test(notifier_schedule, quiet_hours_defer_to_their_end_in_local_time)
{
    notifier_quiet_t q;
    notifier_quiet_parse("22:00-08:00", &q);
    /* T0 is 12:00 UTC: outside. */
    cr_assert_eq(notifier_quiet_defer(&q, 0, T0), T0);
    /* 23:30 UTC: inside, until 08:00 the next day. */
    int64_t late = T0 + 11 * HOUR + 30 * MIN;
    cr_assert_eq(notifier_quiet_defer(&q, 0, late), T0 + 20 * HOUR);
    /* 03:00 UTC the next day: inside, until 08:00 the same day. */
    int64_t early = T0 + 15 * HOUR;
    cr_assert_eq(notifier_quiet_defer(&q, 0, early), T0 + 20 * HOUR);
    /* At +08:00, T0 is 20:00 local: outside; T0 + 3 h is 23:00 local: until 08:00 local = 00:00 UTC. */
    cr_assert_eq(notifier_quiet_defer(&q, 480, T0), T0);
    cr_assert_eq(notifier_quiet_defer(&q, 480, T0 + 3 * HOUR), T0 + 12 * HOUR);
    /* The end itself is no longer quiet. */
    cr_assert_eq(notifier_quiet_defer(&q, 0, T0 + 20 * HOUR), T0 + 20 * HOUR);
    /* Within one day (13:00-14:00). */
    notifier_quiet_parse("13:00-14:00", &q);
    cr_assert_eq(notifier_quiet_defer(&q, 0, T0 + 90 * MIN), T0 + 2 * HOUR);
    cr_assert_eq(notifier_quiet_defer(&q, 0, T0 + 2 * HOUR), T0 + 2 * HOUR);
    cr_assert_eq(notifier_quiet_defer(NULL, 0, T0), T0);
}

Test(notifier_schedule, the_next_time_of_day)
{
    cr_assert_eq(notifier_next_time_of_day(9 * 60, 0, T0), T0 + 21 * HOUR, "09:00 tomorrow");
    cr_assert_eq(notifier_next_time_of_day(12 * 60, 0, T0), T0, "now is 12:00");
    cr_assert_eq(notifier_next_time_of_day(13 * 60, 0, T0), T0 + HOUR);
    cr_assert_eq(notifier_next_time_of_day(9 * 60, 480, T0), T0 + 13 * HOUR, "09:00 at +08:00 is 01:00 UTC");
}

Test(notifier_schedule, local_days_dates_and_birthdays)
{
    int64_t day = notifier_local_day(T0, 0);
    char date[NOTIFIER_DATE_SIZE];
    notifier_date_format(day, date);
    cr_assert_str_eq(date, "2026-03-10");
    notifier_date_format(notifier_local_day(T0 + 12 * HOUR, 480), date);
    cr_assert_str_eq(date, "2026-03-11", "08:00 local the next day");
    notifier_date_format(notifier_local_day(T0 - 13 * HOUR, -60), date);
    cr_assert_str_eq(date, "2026-03-09");
    cr_assert_eq(notifier_local_day_start(day, 0), T0 - 12 * HOUR);
    cr_assert_eq(notifier_local_day_start(day, 480), T0 - 20 * HOUR);
    int y, m, d;
    cr_assert_eq(notifier_date_parse("1990-03-10", &y, &m, &d), 0);
    cr_assert_eq(notifier_date_parse("2025-02-29", &y, &m, &d), CRM_EINVALID);
    cr_assert_eq(notifier_date_parse("2024-02-29", &y, &m, &d), 0);
    cr_assert_eq(notifier_date_parse("2024-13-01", &y, &m, &d), CRM_EINVALID);
    cr_assert_eq(notifier_date_parse("2024-1-01", &y, &m, &d), CRM_EINVALID);
    cr_assert(notifier_birthday_on(3, 10, day));
    cr_assert_not(notifier_birthday_on(3, 11, day));
    /* 29 February on the 28th in common years, on the 29th in leap years. */
    cr_assert(notifier_birthday_on(2, 29, notifier_day_from_civil(2027, 2, 28)));
    cr_assert_not(notifier_birthday_on(2, 29, notifier_day_from_civil(2028, 2, 28)));
    cr_assert(notifier_birthday_on(2, 29, notifier_day_from_civil(2028, 2, 29)));
    cr_assert_eq(notifier_day_from_civil(1970, 1, 1), 0);
    notifier_civil_from_day(notifier_day_from_civil(2000, 12, 31), &y, &m, &d);
    cr_assert(y == 2000 && m == 12 && d == 31);
}
