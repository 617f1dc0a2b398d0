/* notifier_schedule.c: backoff with jitter, quiet hours, times of day and civil dates. */
#include "notifier_schedule.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crm_error.h"

#define S_BACKOFF_SHIFT_MAX 40     /* 2^40 times the base is past any sensible maximum */

int64_t notifier_backoff_us(int64_t base_us, int64_t max_us, uint32_t failures, uint32_t random)
{
    if (base_us <= 0 || max_us <= 0)
        return 0;
    int64_t d = base_us;
    uint32_t shift = failures > 0 ? failures - 1 : 0;
    for (uint32_t i = 0; i < shift && i < S_BACKOFF_SHIFT_MAX && d < max_us; i++)
        d = d > INT64_MAX / 2 ? INT64_MAX : d * 2;
    if (d > max_us)
        d = max_us;
    int64_t half = d / 2;
    return d - half + (int64_t) ((uint64_t) random % (uint64_t) (half + 1));
}

static bool s_two_digits(const char *s, int *out)
{
    if (!isdigit((unsigned char) s[0]) || !isdigit((unsigned char) s[1]))
        return false;
    *out = (s[0] - '0') * 10 + (s[1] - '0');
    return true;
}

int notifier_clock_parse(const char *text, int *minutes)
{
    int h = 0, m = 0;
    if (strlen(text) != 5 || !s_two_digits(text, &h) || text[2] != ':' || !s_two_digits(text + 3, &m) || h > 23
        || m > 59)
        return CRM_EINVALID;
    *minutes = h * 60 + m;
    return 0;
}

int notifier_quiet_parse(const char *text, notifier_quiet_t *quiet)
{
    notifier_quiet_t q = { 0 };
    if (text[0] == '\0' || strcmp(text, "off") == 0) {
        *quiet = q;
        return 0;
    }
    char start[6], end[6];
    if (strlen(text) != 11 || text[5] != '-')
        return CRM_EINVALID;
    memcpy(start, text, 5);
    start[5] = '\0';
    memcpy(end, text + 6, 5);
    end[5] = '\0';
    if (notifier_clock_parse(start, &q.start_min) || notifier_clock_parse(end, &q.end_min)
        || q.start_min == q.end_min)
        return CRM_EINVALID;
    q.on = true;
    *quiet = q;
    return 0;
}

int notifier_offset_parse(const char *text, int *minutes)
{
    if (strcmp(text, "Z") == 0 || strcmp(text, "z") == 0 || strcmp(text, "0") == 0) {
        *minutes = 0;
        return 0;
    }
    if (text[0] != '+' && text[0] != '-')
        return CRM_EINVALID;
    int sign = text[0] == '-' ? -1 : 1;
    const char *p = text + 1;
    int h = 0, m = 0;
    size_t len = strlen(p);
    if (len == 1 && isdigit((unsigned char) p[0])) {
        h = p[0] - '0';
    } else if (len == 2 && s_two_digits(p, &h)) {
    } else if (len == 4 && s_two_digits(p, &h) && s_two_digits(p + 2, &m)) {
    } else if (len == 5 && s_two_digits(p, &h) && p[2] == ':' && s_two_digits(p + 3, &m)) {
    } else {
        return CRM_EINVALID;
    }
    int total = h * 60 + m;
    if (m > 59 || total > NOTIFIER_OFFSET_MAX_MIN)
        return CRM_EINVALID;
    *minutes = sign * total;
    return 0;
}

/* Floor division. */
static int64_t s_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

int64_t notifier_local_day(int64_t at_us, int offset_min)
{
    return s_floor_div(at_us + offset_min * NOTIFIER_US_PER_MINUTE, NOTIFIER_US_PER_DAY);
}

int64_t notifier_local_day_start(int64_t day, int offset_min)
{
    return day * NOTIFIER_US_PER_DAY - offset_min * NOTIFIER_US_PER_MINUTE;
}

/* Minutes after local midnight of at_us (with its fraction in microseconds dropped). */
static int s_local_minute(int64_t at_us, int offset_min, int64_t *day)
{
    *day = notifier_local_day(at_us, offset_min);
    int64_t into = at_us - notifier_local_day_start(*day, offset_min);
    return (int) (into / NOTIFIER_US_PER_MINUTE);
}

int64_t notifier_quiet_defer(const notifier_quiet_t *quiet, int offset_min, int64_t at_us)
{
    if (!quiet || !quiet->on)
        return at_us;
    int64_t day = 0;
    int m = s_local_minute(at_us, offset_min, &day);
    bool wraps = quiet->start_min > quiet->end_min;
    bool inside = wraps ? (m >= quiet->start_min || m < quiet->end_min)
                        : (m >= quiet->start_min && m < quiet->end_min);
    if (!inside)
        return at_us;
    int64_t end_day = wraps && m >= quiet->start_min ? day + 1 : day;
    return notifier_local_day_start(end_day, offset_min) + quiet->end_min * NOTIFIER_US_PER_MINUTE;
}

int64_t notifier_next_time_of_day(int minutes, int offset_min, int64_t from_us)
{
    int64_t day = notifier_local_day(from_us, offset_min);
    int64_t at = notifier_local_day_start(day, offset_min) + minutes * NOTIFIER_US_PER_MINUTE;
    return at >= from_us ? at : at + NOTIFIER_US_PER_DAY;
}

/* Howard Hinnant's civil_from_days and days_from_civil. */
void notifier_civil_from_day(int64_t day, int *year, int *month, int *mday)
{
    int64_t z = day + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    *year = (int) (y + (m <= 2));
    *month = (int) m;
    *mday = (int) d;
}

int64_t notifier_day_from_civil(int year, int month, int mday)
{
    int64_t y = (int64_t) year - (month <= 2);
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + mday - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static bool s_leap(int year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

int notifier_date_parse(const char *text, int *year, int *month, int *mday)
{
    if (strlen(text) != 10 || text[4] != '-' || text[7] != '-')
        return CRM_EINVALID;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && !isdigit((unsigned char) text[i]))
            return CRM_EINVALID;
    int y = atoi(text), m = 0, d = 0;
    s_two_digits(text + 5, &m);
    s_two_digits(text + 8, &d);
    static const int days[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    if (y < 1 || m < 1 || m > 12 || d < 1 || d > days[m - 1] || (m == 2 && d == 29 && !s_leap(y)))
        return CRM_EINVALID;
    *year = y;
    *month = m;
    *mday = d;
    return 0;
}

void notifier_date_format(int64_t day, char out[NOTIFIER_DATE_SIZE])
{
    int y, m, d;
    notifier_civil_from_day(day, &y, &m, &d);
    unsigned year = (unsigned) (y < 0 ? 0 : y % 10000);
    const unsigned parts[3] = { year, (unsigned) m % 100, (unsigned) d % 100 };
    const int widths[3] = { 4, 2, 2 };
    size_t at = 0;
    for (int p = 0; p < 3; p++) {
        unsigned v = parts[p];
        for (int i = widths[p] - 1; i >= 0; i--) {
            out[at + (size_t) i] = (char) ('0' + v % 10);
            v /= 10;
        }
        at += (size_t) widths[p];
        if (p < 2)
            out[at++] = '-';
    }
    out[at] = '\0';
}

bool notifier_birthday_on(int month, int mday, int64_t day)
{
    int y, m, d;
    notifier_civil_from_day(day, &y, &m, &d);
    if (month == m && mday == d)
        return true;
    return month == 2 && mday == 29 && m == 2 && d == 28 && !s_leap(y);
}
