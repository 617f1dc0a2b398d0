/* feedback_sla.c: business hours and SLA due times counted in business time. */
#include "feedback_sla.h"

#include <assert.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "crm_error.h"

#define S_US_PER_WEEK (FEEDBACK_US_PER_DAY * FEEDBACK_DAYS_PER_WEEK)
#define S_EPOCH_WEEKDAY 3          /* 1970-01-01 was a Thursday; Monday is 0 */
#define S_DAY_NAME_LEN 3

static const char *const s_days[FEEDBACK_DAYS_PER_WEEK] = { "mon", "tue", "wed", "thu", "fri", "sat", "sun" };

static int s_fail(char *why, size_t why_size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int s_fail(char *why, size_t why_size, const char *fmt, ...)
{
    if (why && why_size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, why_size, fmt, ap);
        va_end(ap);
    }
    return CRM_EINVALID;
}

static int64_t s_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

void feedback_hours_always(feedback_hours_t *out)
{
    memset(out, 0, sizeof *out);
    out->always_open = true;
    for (int d = 0; d < FEEDBACK_DAYS_PER_WEEK; d++)
        out->close_min[d] = FEEDBACK_MINUTES_PER_DAY;
}

static const char *s_skip_space(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

/* Reads a day name at *p. Returns its index, or -1. */
static int s_day(const char **p)
{
    for (int d = 0; d < FEEDBACK_DAYS_PER_WEEK; d++)
        if (strncasecmp(*p, s_days[d], S_DAY_NAME_LEN) == 0 && !isalpha((unsigned char) (*p)[S_DAY_NAME_LEN])) {
            *p += S_DAY_NAME_LEN;
            return d;
        }
    return -1;
}

/* Reads "HH:MM" at *p (00:00 .. 24:00). Returns minutes, or -1. */
static int s_clock(const char **p)
{
    const char *s = *p;
    if (!isdigit((unsigned char) s[0]) || !isdigit((unsigned char) s[1]) || s[2] != ':'
        || !isdigit((unsigned char) s[3]) || !isdigit((unsigned char) s[4]))
        return -1;
    int h = (s[0] - '0') * 10 + (s[1] - '0');
    int m = (s[3] - '0') * 10 + (s[4] - '0');
    if (m > 59 || h > 24 || (h == 24 && m != 0))
        return -1;
    *p = s + 5;
    return h * 60 + m;
}

static int s_parse_offset(const char *offset, int *minutes, char *why, size_t why_size)
{
    *minutes = 0;
    if (!offset || !offset[0] || strcmp(offset, "Z") == 0 || strcmp(offset, "z") == 0)
        return 0;
    const char *p = offset + 1;
    int m = -1;
    if (offset[0] == '+' || offset[0] == '-')
        m = s_clock(&p);
    if (m < 0 || *p || m > FEEDBACK_OFFSET_MAX_MIN)
        return s_fail(why, why_size, "\"%.32s\": expected a UTC offset such as +08:00, -05:00 or Z", offset);
    *minutes = offset[0] == '-' ? -m : m;
    return 0;
}

int feedback_hours_parse(const char *hours, const char *offset, feedback_hours_t *out, char *why,
                         size_t why_size)
{
    assert(out);
    feedback_hours_t h;
    memset(&h, 0, sizeof h);
    if (why && why_size)
        why[0] = '\0';
    int rc = s_parse_offset(offset, &h.offset_min, why, why_size);
    if (rc)
        return rc;
    if (!hours || strnlen(hours, FEEDBACK_HOURS_TEXT_MAX + 1) > FEEDBACK_HOURS_TEXT_MAX)
        return s_fail(why, why_size, "expected business hours such as \"Mon-Fri 09:00-18:00\" or \"24x7\"");
    const char *p = s_skip_space(hours);
    if (strncasecmp(p, "24x7", 4) == 0 && *s_skip_space(p + 4) == '\0') {
        int off = h.offset_min;
        feedback_hours_always(out);
        out->offset_min = off;
        return 0;
    }
    bool named[FEEDBACK_DAYS_PER_WEEK] = { false };
    bool any_open = false;
    while (*p) {
        const char *group = p;
        int first = s_day(&p);
        int last = first;
        if (first >= 0 && *p == '-') {
            p++;
            last = s_day(&p);
        }
        if (first < 0 || last < 0)
            return s_fail(why, why_size, "at \"%.24s\": expected a day such as Mon or a range such as Mon-Fri", group);
        if (*p != ' ' && *p != '\t')
            return s_fail(why, why_size, "at \"%.24s\": expected a space and hours such as 09:00-18:00", group);
        p = s_skip_space(p);
        int open = s_clock(&p);
        int close = -1;
        if (open >= 0 && *p == '-') {
            p++;
            close = s_clock(&p);
        }
        if (open < 0 || close < 0)
            return s_fail(why, why_size, "at \"%.24s\": expected hours such as 09:00-18:00", group);
        if (open >= close)
            return s_fail(why, why_size, "at \"%.24s\": the day must open before it closes", group);
        for (int d = first;; d = (d + 1) % FEEDBACK_DAYS_PER_WEEK) {
            if (named[d])
                return s_fail(why, why_size, "%s is named twice", s_days[d]);
            named[d] = true;
            h.open_min[d] = open;
            h.close_min[d] = close;
            any_open = true;
            if (d == last)
                break;
        }
        p = s_skip_space(p);
        if (*p == ',' || *p == ';')
            p = s_skip_space(p + 1);
        else if (*p)
            return s_fail(why, why_size, "at \"%.24s\": expected ',' between groups", p);
    }
    if (!any_open)
        return s_fail(why, why_size, "no day is open; write \"24x7\" or days such as \"Mon-Fri 09:00-18:00\"");
    *out = h;
    return 0;
}

/* The local day of t, its weekday, and where that day starts in UTC microseconds. */
static void s_local_day(const feedback_hours_t *h, int64_t t, int *weekday, int64_t *day_start)
{
    int64_t off = h->offset_min * FEEDBACK_US_PER_MINUTE;
    int64_t day = s_floor_div(t + off, FEEDBACK_US_PER_DAY);
    int64_t wd = (day % FEEDBACK_DAYS_PER_WEEK + FEEDBACK_DAYS_PER_WEEK + S_EPOCH_WEEKDAY) % FEEDBACK_DAYS_PER_WEEK;
    *weekday = (int) wd;
    *day_start = day * FEEDBACK_US_PER_DAY - off;
}

static int64_t s_week_open(const feedback_hours_t *h)
{
    int64_t total = 0;
    for (int d = 0; d < FEEDBACK_DAYS_PER_WEEK; d++)
        total += (int64_t) (h->close_min[d] - h->open_min[d]) * FEEDBACK_US_PER_MINUTE;
    return total;
}

bool feedback_hours_open_at(const feedback_hours_t *h, int64_t at_us)
{
    if (h->always_open)
        return true;
    int wd;
    int64_t start;
    s_local_day(h, at_us, &wd, &start);
    int64_t open = start + h->open_min[wd] * FEEDBACK_US_PER_MINUTE;
    int64_t close = start + h->close_min[wd] * FEEDBACK_US_PER_MINUTE;
    return at_us >= open && at_us < close;
}

int64_t feedback_hours_add(const feedback_hours_t *h, int64_t start_us, int64_t duration_us)
{
    if (duration_us <= 0)
        return start_us;
    if (h->always_open)
        return start_us + duration_us;
    int64_t week_open = s_week_open(h);
    assert(week_open > 0);
    int64_t t = start_us;
    int64_t remaining = duration_us;
    bool skipped = false;
    for (;;) {
        int wd;
        int64_t day_start;
        s_local_day(h, t, &wd, &day_start);
        if (!skipped && t == day_start && remaining > week_open) {
            /* From the start of a day, every whole week holds week_open of business time. */
            int64_t weeks = (remaining - 1) / week_open;
            t += weeks * S_US_PER_WEEK;
            remaining -= weeks * week_open;
            skipped = true;
            continue;
        }
        int64_t open = day_start + h->open_min[wd] * FEEDBACK_US_PER_MINUTE;
        int64_t close = day_start + h->close_min[wd] * FEEDBACK_US_PER_MINUTE;
        if (open < close && t < close) {
            int64_t from = t > open ? t : open;
            if (remaining <= close - from)
                return from + remaining;
            remaining -= close - from;
        }
        t = day_start + FEEDBACK_US_PER_DAY;
    }
}

int64_t feedback_hours_between(const feedback_hours_t *h, int64_t from_us, int64_t to_us)
{
    if (to_us <= from_us)
        return 0;
    if (h->always_open)
        return to_us - from_us;
    int64_t week_open = s_week_open(h);
    int64_t total = 0;
    int64_t t = from_us;
    bool skipped = false;
    while (t < to_us) {
        int wd;
        int64_t day_start;
        s_local_day(h, t, &wd, &day_start);
        if (!skipped && t == day_start && to_us - t > S_US_PER_WEEK) {
            int64_t weeks = (to_us - t) / S_US_PER_WEEK;
            t += weeks * S_US_PER_WEEK;
            total += weeks * week_open;
            skipped = true;
            continue;
        }
        int64_t open = day_start + h->open_min[wd] * FEEDBACK_US_PER_MINUTE;
        int64_t close = day_start + h->close_min[wd] * FEEDBACK_US_PER_MINUTE;
        int64_t a = t > open ? t : open;
        int64_t b = to_us < close ? to_us : close;
        if (b > a)
            total += b - a;
        t = day_start + FEEDBACK_US_PER_DAY;
    }
    return total;
}
