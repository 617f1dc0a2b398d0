/* crm_time.c: wall-clock time and RFC 3339 text in UTC (proleptic Gregorian calendar). */
#include "crm_time.h"

#include <assert.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "crm_error.h"

#define S_SECONDS_PER_DAY 86400
#define S_SECONDS_PER_HOUR 3600
#define S_SECONDS_PER_MINUTE 60
#define S_NANOS_PER_MILLI 1000000
#define S_NANOS_PER_MICRO 1000
#define S_YEAR_MIN 1
#define S_YEAR_MAX 9999
#define S_OFFSET_HOURS_MAX 23
/* "YYYY-MM-DDTHH:MM:SS" */
#define S_BASE_LEN 19
/* ".123456789" with its NUL */
#define S_FRACTION_TEXT_MAX 16

int64_t
crm_time_now_us(void)
{
    struct timespec ts;
    int rc = clock_gettime(CLOCK_REALTIME, &ts);
    assert(rc == 0);
    (void) rc;
    return (int64_t) ts.tv_sec * CRM_TIME_US_PER_SECOND + ts.tv_nsec / S_NANOS_PER_MICRO;
}

static bool
s_is_leap(int64_t year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

static unsigned
s_days_in_month(int64_t year, unsigned month)
{
    static const unsigned days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    assert(month >= 1 && month <= 12);
    return month == 2 && s_is_leap(year) ? 29 : days[month - 1];
}

/* Days since 1970-01-01 of a civil date (H. Hinnant's algorithm). */
static int64_t
s_days_from_civil(int64_t year, unsigned month, unsigned day)
{
    year -= month <= 2;
    int64_t era = (year >= 0 ? year : year - 399) / 400;
    unsigned yoe = (unsigned) (year - era * 400);
    unsigned doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t) doe - 719468;
}

static void
s_civil_from_days(int64_t days, int64_t *year, unsigned *month, unsigned *day)
{
    days += 719468;
    int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    unsigned doe = (unsigned) (days - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *day = doy - (153 * mp + 2) / 5 + 1;
    *month = mp < 10 ? mp + 3 : mp - 9;
    *year = (int64_t) yoe + era * 400 + (*month <= 2);
}

int
crm_time_format(int64_t seconds, int32_t nanos, char *out, size_t size)
{
    assert(out);
    if (seconds < CRM_TIME_MIN_SECONDS || seconds > CRM_TIME_MAX_SECONDS || nanos < 0
        || nanos >= CRM_TIME_NANOS_PER_SECOND)
        return CRM_EINVALID;

    int64_t days = seconds / S_SECONDS_PER_DAY;
    int64_t rest = seconds % S_SECONDS_PER_DAY;
    if (rest < 0) {
        rest += S_SECONDS_PER_DAY;
        days -= 1;
    }
    int64_t year;
    unsigned month, day;
    s_civil_from_days(days, &year, &month, &day);

    char fraction[S_FRACTION_TEXT_MAX] = "";
    if (nanos % S_NANOS_PER_MILLI == 0 && nanos != 0)
        snprintf(fraction, sizeof fraction, ".%03d", (int) (nanos / S_NANOS_PER_MILLI));
    else if (nanos % S_NANOS_PER_MICRO == 0 && nanos != 0)
        snprintf(fraction, sizeof fraction, ".%06d", (int) (nanos / S_NANOS_PER_MICRO));
    else if (nanos != 0)
        snprintf(fraction, sizeof fraction, ".%09d", (int) nanos);

    int n = snprintf(out, size, "%04d-%02u-%02uT%02d:%02d:%02d%sZ", (int) year, month, day,
                     (int) (rest / S_SECONDS_PER_HOUR),
                     (int) (rest % S_SECONDS_PER_HOUR / S_SECONDS_PER_MINUTE),
                     (int) (rest % S_SECONDS_PER_MINUTE), fraction);
    if (n < 0 || (size_t) n >= size) {
        if (size > 0)
            out[0] = '\0';
        return CRM_ETOOBIG;
    }
    return 0;
}

/* Reads exactly count decimal digits at text; false when any is not a digit. */
static bool
s_digits(const char *text, size_t count, unsigned *value)
{
    unsigned v = 0;
    for (size_t i = 0; i < count; i++) {
        if (text[i] < '0' || text[i] > '9')
            return false;
        v = v * 10 + (unsigned) (text[i] - '0');
    }
    *value = v;
    return true;
}

int
crm_time_parse_n(const char *text, size_t len, int64_t *seconds_p, int32_t *nanos_p)
{
    assert(text && seconds_p && nanos_p);
    unsigned year, month, day, hour, minute, second;
    if (len < S_BASE_LEN + 1)
        return CRM_EINVALID;
    if (!s_digits(text, 4, &year) || text[4] != '-' || !s_digits(text + 5, 2, &month)
        || text[7] != '-' || !s_digits(text + 8, 2, &day) || (text[10] != 'T' && text[10] != 't')
        || !s_digits(text + 11, 2, &hour) || text[13] != ':' || !s_digits(text + 14, 2, &minute)
        || text[16] != ':' || !s_digits(text + 17, 2, &second))
        return CRM_EINVALID;
    if (year < S_YEAR_MIN || month < 1 || month > 12 || day < 1
        || day > s_days_in_month(year, month) || hour > 23 || minute > 59 || second > 59)
        return CRM_EINVALID;

    size_t at = S_BASE_LEN;
    int32_t nanos = 0;
    if (text[at] == '.') {
        at++;
        size_t digits = 0;
        while (at < len && text[at] >= '0' && text[at] <= '9') {
            if (++digits > CRM_TIME_FRACTION_DIGITS_MAX)
                return CRM_EINVALID;
            nanos = nanos * 10 + (text[at] - '0');
            at++;
        }
        if (digits == 0)
            return CRM_EINVALID;
        for (; digits < CRM_TIME_FRACTION_DIGITS_MAX; digits++)
            nanos *= 10;
    }
    if (at >= len)
        return CRM_EINVALID;

    int64_t offset = 0;
    if (text[at] == 'Z' || text[at] == 'z') {
        at++;
    } else if (text[at] == '+' || text[at] == '-') {
        unsigned off_hour, off_minute;
        if (len - at < 6 || !s_digits(text + at + 1, 2, &off_hour) || text[at + 3] != ':'
            || !s_digits(text + at + 4, 2, &off_minute) || off_hour > S_OFFSET_HOURS_MAX
            || off_minute > 59)
            return CRM_EINVALID;
        offset = (int64_t) off_hour * S_SECONDS_PER_HOUR + (int64_t) off_minute * S_SECONDS_PER_MINUTE;
        if (text[at] == '-')
            offset = -offset;
        at += 6;
    } else {
        return CRM_EINVALID;
    }
    if (at != len)
        return CRM_EINVALID;

    int64_t seconds = s_days_from_civil(year, month, day) * S_SECONDS_PER_DAY
                      + (int64_t) hour * S_SECONDS_PER_HOUR + (int64_t) minute * S_SECONDS_PER_MINUTE
                      + second - offset;
    if (seconds < CRM_TIME_MIN_SECONDS || seconds > CRM_TIME_MAX_SECONDS)
        return CRM_EINVALID;
    *seconds_p = seconds;
    *nanos_p = nanos;
    return 0;
}

int
crm_time_parse(const char *text, int64_t *seconds_p, int32_t *nanos_p)
{
    assert(text);
    return crm_time_parse_n(text, strlen(text), seconds_p, nanos_p);
}

int
crm_time_format_us(int64_t unix_us, char *out, size_t size)
{
    int64_t seconds = unix_us / CRM_TIME_US_PER_SECOND;
    int64_t micros = unix_us % CRM_TIME_US_PER_SECOND;
    if (micros < 0) {
        micros += CRM_TIME_US_PER_SECOND;
        seconds -= 1;
    }
    return crm_time_format(seconds, (int32_t) (micros * S_NANOS_PER_MICRO), out, size);
}

int
crm_time_parse_us(const char *text, int64_t *unix_us_p)
{
    assert(unix_us_p);
    int64_t seconds;
    int32_t nanos;
    int rc = crm_time_parse(text, &seconds, &nanos);
    if (rc == 0)
        *unix_us_p = seconds * CRM_TIME_US_PER_SECOND + nanos / S_NANOS_PER_MICRO;
    return rc;
}
