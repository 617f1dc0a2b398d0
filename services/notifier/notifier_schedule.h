/* notifier_schedule.h: the notifier's time arithmetic: retry backoff with jitter, quiet hours, times of day, local days and dates. */
#ifndef NOTIFIER_SCHEDULE_H
#define NOTIFIER_SCHEDULE_H

#include <stdbool.h>
#include <stdint.h>

#define NOTIFIER_US_PER_SECOND INT64_C(1000000)
#define NOTIFIER_US_PER_MINUTE (INT64_C(60) * NOTIFIER_US_PER_SECOND)
#define NOTIFIER_US_PER_DAY    (INT64_C(86400) * NOTIFIER_US_PER_SECOND)
#define NOTIFIER_MINUTES_PER_DAY 1440
#define NOTIFIER_OFFSET_MAX_MIN  (14 * 60)   /* UTC offsets run from -14:00 to +14:00 */
#define NOTIFIER_DATE_SIZE       11          /* "YYYY-MM-DD" and the NUL */

/* Quiet hours: from start to end (minutes after local midnight); when start > end they span
 * midnight ("22:00-08:00"). Off when on is false. */
typedef struct {
    bool on;
    int start_min;
    int end_min;
} notifier_quiet_t;

/* The delay before retry number `failures` (1 after the first failure): base_us doubled for each
 * earlier failure, at most max_us, then "equal jitter": half of it, plus random % (half + 1).
 * So the delay lies in [d/2, d] for d = min(base * 2^(failures-1), max). random is any 32-bit
 * random number (the caller draws it; tests pass fixed ones). Returns microseconds (>= 0). */
int64_t notifier_backoff_us(int64_t base_us, int64_t max_us, uint32_t failures, uint32_t random);

/* Parses "HH:MM" (00:00 to 23:59) into minutes after midnight. Returns 0 or CRM_EINVALID. */
int notifier_clock_parse(const char *text, int *minutes);

/* Parses quiet hours "HH:MM-HH:MM" ("" or "off": none). Returns 0 or CRM_EINVALID (also for a
 * start equal to the end). */
int notifier_quiet_parse(const char *text, notifier_quiet_t *quiet);

/* Parses a UTC offset: "Z", "0", "+08:00", "-05:30", "+0800" or "+8". Returns 0 with *minutes,
 * or CRM_EINVALID (beyond +-14:00). */
int notifier_offset_parse(const char *text, int *minutes);

/* When at_us falls in the quiet hours (local time = UTC + offset_min), the end of those quiet
 * hours; else at_us. */
int64_t notifier_quiet_defer(const notifier_quiet_t *quiet, int offset_min, int64_t at_us);

/* The first instant at or after from_us whose local time is minutes after midnight. */
int64_t notifier_next_time_of_day(int minutes, int offset_min, int64_t from_us);

/* The local day (days since 1970-01-01, in local time) of at_us, and the first instant of a
 * local day. */
int64_t notifier_local_day(int64_t at_us, int offset_min);
int64_t notifier_local_day_start(int64_t day, int offset_min);

/* The civil date (proleptic Gregorian) of a day since the epoch, and back. */
void notifier_civil_from_day(int64_t day, int *year, int *month, int *mday);
int64_t notifier_day_from_civil(int year, int month, int mday);

/* Parses "YYYY-MM-DD" (a real date; year 1 to 9999). Returns 0 or CRM_EINVALID. */
int notifier_date_parse(const char *text, int *year, int *month, int *mday);

/* Writes the civil date of day as "YYYY-MM-DD" into out. */
void notifier_date_format(int64_t day, char out[NOTIFIER_DATE_SIZE]);

/* True when someone born on month/mday celebrates on the local day `day`: the same month and day,
 * and 29 February on 28 February in common years. */
bool notifier_birthday_on(int month, int mday, int64_t day);

#endif
