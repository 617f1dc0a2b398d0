/* test_feedback_sla.c: business hours: parsing, open or closed at a time, SLA due times counted in business time, at UTC offsets. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crm_error.h"
#include "crm_time.h"
#include "feedback_sla.h"

#define MIN (INT64_C(60) * 1000000)
#define HOUR (60 * MIN)
#define DAY (24 * HOUR)

/* Unix microseconds of an RFC 3339 time. */
static int64_t at(const char *text)
{
    int64_t us = 0;
    cr_assert_eq(crm_time_parse_us(text, &us), 0, "%s", text);
    return us;
}

static void expect_time(int64_t got, const char *want)
{
    char text[CRM_TIME_TEXT_MAX];
    cr_assert_eq(crm_time_format_us(got, text, sizeof text), 0);
    cr_assert_str_eq(text, want);
}

static feedback_hours_t parse(const char *hours, const char *offset)
{
    feedback_hours_t h;
    char why[128];
    cr_assert_eq(feedback_hours_parse(hours, offset, &h, why, sizeof why), 0, "%s: %s", hours, why);
    return h;
}

Test(feedback_sla, parses_days_ranges_and_offsets)
{
    feedback_hours_t h = parse("Mon-Fri 09:00-18:00", "+08:00");
    cr_assert(!h.always_open);
    cr_assert_eq(h.offset_min, 480);
    for (int d = 0; d < 5; d++) {
        cr_assert_eq(h.open_min[d], 9 * 60);
        cr_assert_eq(h.close_min[d], 18 * 60);
    }
    cr_assert_eq(h.open_min[5], h.close_min[5], "Saturday is closed");
    cr_assert_eq(h.open_min[6], h.close_min[6], "Sunday is closed");

    h = parse("mon-fri 08:30-17:30, Sat 10:00-14:00; sun 00:00-24:00", "-05:00");
    cr_assert_eq(h.offset_min, -300);
    cr_assert_eq(h.open_min[0], 8 * 60 + 30);
    cr_assert_eq(h.close_min[5], 14 * 60);
    cr_assert_eq(h.close_min[6], 24 * 60);

    h = parse("Sat-Mon 10:00-12:00", "Z");   /* a range may wrap around the week */
    cr_assert_eq(h.close_min[5], 12 * 60);
    cr_assert_eq(h.close_min[6], 12 * 60);
    cr_assert_eq(h.close_min[0], 12 * 60);
    cr_assert_eq(h.open_min[1], h.close_min[1]);

    h = parse("24x7", "");
    cr_assert(h.always_open);
}

Test(feedback_sla, refuses_bad_hours_with_a_reason)
{
    static const char *const bad[] = {
        "", "Mon-Fri", "Mon-Fri 9:00-18:00", "Mon-Fri 18:00-09:00", "Mon-Fri 09:00-09:00", "Mon-Fry 09:00-18:00",
        "Mon-Fri 09:00-18:00 Sat 10:00-12:00", "Mon-Fri 09:00-18:00, Fri 10:00-12:00", "Mon 09:00-24:30",
        "Mon 25:00-26:00", "24x7 please",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        feedback_hours_t h;
        char why[128] = "";
        cr_assert_eq(feedback_hours_parse(bad[i], "", &h, why, sizeof why), CRM_EINVALID, "\"%s\" was accepted",
                     bad[i]);
        cr_assert_neq(why[0], '\0', "no reason for \"%s\"", bad[i]);
    }
    feedback_hours_t h;
    cr_assert_eq(feedback_hours_parse("24x7", "+15:00", &h, NULL, 0), CRM_EINVALID);
    cr_assert_eq(feedback_hours_parse("24x7", "08:00", &h, NULL, 0), CRM_EINVALID);
    cr_assert_eq(feedback_hours_parse("24x7", "+8", &h, NULL, 0), CRM_EINVALID);
}

Test(feedback_sla, knows_when_the_desk_is_open)
{
    feedback_hours_t h = parse("Mon-Fri 09:00-18:00", "+08:00");
    cr_assert(feedback_hours_open_at(&h, at("2026-03-10T01:00:00Z")), "Tue 09:00 in Shanghai");
    cr_assert(!feedback_hours_open_at(&h, at("2026-03-10T00:59:59Z")), "Tue 08:59:59 in Shanghai");
    cr_assert(!feedback_hours_open_at(&h, at("2026-03-10T10:00:00Z")), "Tue 18:00 in Shanghai: closed");
    cr_assert(!feedback_hours_open_at(&h, at("2026-03-14T03:00:00Z")), "Saturday");
    feedback_hours_t always;
    feedback_hours_always(&always);
    cr_assert(feedback_hours_open_at(&always, at("2026-03-14T03:00:00Z")));
}

Test(feedback_sla, counts_only_business_time)
{
    feedback_hours_t h = parse("Mon-Fri 09:00-18:00", "");
    /* Within a day. */
    expect_time(feedback_hours_add(&h, at("2026-03-10T10:00:00Z"), 2 * HOUR), "2026-03-10T12:00:00Z");
    /* Started before opening: the clock starts at 09:00. */
    expect_time(feedback_hours_add(&h, at("2026-03-10T06:00:00Z"), 2 * HOUR), "2026-03-10T11:00:00Z");
    /* Friday 17:00 with 2 hours: one hour on Friday, one on Monday. */
    expect_time(feedback_hours_add(&h, at("2026-03-13T17:00:00Z"), 2 * HOUR), "2026-03-16T10:00:00Z");
    /* Saturday: waits for Monday. */
    expect_time(feedback_hours_add(&h, at("2026-03-14T12:00:00Z"), 30 * MIN), "2026-03-16T09:30:00Z");
    /* Exactly at closing. */
    expect_time(feedback_hours_add(&h, at("2026-03-10T09:00:00Z"), 9 * HOUR), "2026-03-10T18:00:00Z");
    /* Three business days (27 hours) from Wednesday 12:00: Monday 12:00. */
    expect_time(feedback_hours_add(&h, at("2026-03-11T12:00:00Z"), 27 * HOUR), "2026-03-16T12:00:00Z");
    /* Whole weeks: 45 business hours a week; 100 weeks later the same hour. */
    expect_time(feedback_hours_add(&h, at("2026-03-10T10:00:00Z"), 100 * 45 * HOUR), "2028-02-08T10:00:00Z");
    /* Zero is now, even after hours. */
    expect_time(feedback_hours_add(&h, at("2026-03-14T12:00:00Z"), 0), "2026-03-14T12:00:00Z");
}

Test(feedback_sla, local_time_follows_the_offset)
{
    /* Shanghai: 09:00-18:00 local is 01:00-10:00 UTC. Friday 17:30 local with one hour left:
     * half an hour on Friday, half on Monday at 09:30 local (01:30 UTC). */
    feedback_hours_t h = parse("Mon-Fri 09:00-18:00", "+08:00");
    expect_time(feedback_hours_add(&h, at("2026-03-13T09:30:00Z"), HOUR), "2026-03-16T01:30:00Z");
    /* New York, -05:00: Monday 23:00 UTC is 18:00 local, closed; Tuesday 09:00 local = 14:00 UTC. */
    feedback_hours_t ny = parse("Mon-Fri 09:00-18:00", "-05:00");
    expect_time(feedback_hours_add(&ny, at("2026-03-09T23:00:00Z"), 15 * MIN), "2026-03-10T14:15:00Z");
}

Test(feedback_sla, always_open_is_plain_addition)
{
    feedback_hours_t h = parse("24x7", "+08:00");
    int64_t t = at("2026-03-14T12:00:00Z");
    cr_assert_eq(feedback_hours_add(&h, t, 5 * 1000000), t + 5 * 1000000);
    cr_assert_eq(feedback_hours_between(&h, t, t + DAY), DAY);
}

Test(feedback_sla, between_measures_business_time)
{
    feedback_hours_t h = parse("Mon-Fri 09:00-18:00", "");
    cr_assert_eq(feedback_hours_between(&h, at("2026-03-13T17:00:00Z"), at("2026-03-16T10:00:00Z")), 2 * HOUR);
    cr_assert_eq(feedback_hours_between(&h, at("2026-03-14T00:00:00Z"), at("2026-03-15T23:00:00Z")), 0);
    cr_assert_eq(feedback_hours_between(&h, at("2026-03-16T00:00:00Z"), at("2026-03-30T00:00:00Z")), 90 * HOUR);
    cr_assert_eq(feedback_hours_between(&h, at("2026-03-16T00:00:00Z"), at("2026-03-15T00:00:00Z")), 0);
}

/* The fast paths (skipping whole weeks) agree with walking minute by minute. */
Test(feedback_sla, agrees_with_a_minute_by_minute_walk)
{
    feedback_hours_t h = parse("Mon-Thu 08:00-12:00, Fri 13:30-17:00, Sun 10:00-11:00", "+05:30");
    srand(7);
    for (int round = 0; round < 200; round++) {
        int64_t start = at("2026-03-01T00:00:00Z") + (int64_t) (rand() % (30 * 24 * 60)) * MIN;
        int64_t minutes = rand() % (3 * 7 * 24 * 60 / 4);
        int64_t due = feedback_hours_add(&h, start, minutes * MIN);
        /* Walk: the due time is the end of the minutes-th open minute after start. */
        int64_t t = start;
        int64_t left = minutes;
        while (left > 0) {
            if (feedback_hours_open_at(&h, t))
                left--;
            t += MIN;
        }
        if (minutes > 0)
            cr_assert_eq(due, t, "round %d: %lld minutes from %lld", round, (long long) minutes, (long long) start);
        cr_assert_eq(feedback_hours_between(&h, start, due), minutes * MIN, "round %d", round);
    }
}
