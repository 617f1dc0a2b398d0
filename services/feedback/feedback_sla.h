/* feedback_sla.h: business hours ("Mon-Fri 09:00-18:00" at a UTC offset, or "24x7") and SLA due times counted in business time. */
#ifndef FEEDBACK_SLA_H
#define FEEDBACK_SLA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FEEDBACK_HOURS_TEXT_MAX   256                      /* bytes of a business-hours setting */
#define FEEDBACK_OFFSET_MAX_MIN   (14 * 60)                /* UTC offsets from -14:00 to +14:00 */
#define FEEDBACK_US_PER_MINUTE    (INT64_C(60) * 1000000)
#define FEEDBACK_US_PER_DAY       (INT64_C(86400) * 1000000)
#define FEEDBACK_MINUTES_PER_DAY  (24 * 60)
#define FEEDBACK_DAYS_PER_WEEK    7

/* When staff work, in local time (UTC + offset). Day 0 is Monday. A day is open from
 * open_min[day] (inclusive) to close_min[day] (exclusive), minutes since local midnight; a
 * closed day has open_min == close_min. always_open is "24x7". */
typedef struct {
    bool always_open;
    int offset_min;                              /* local time = UTC + offset_min minutes */
    int open_min[FEEDBACK_DAYS_PER_WEEK];
    int close_min[FEEDBACK_DAYS_PER_WEEK];
} feedback_hours_t;

/* Parses business hours: "24x7", or groups separated by ',' or ';', each "<days> <HH:MM>-<HH:MM>"
 * where days is a day ("Mon") or a range ("Mon-Fri", wrapping allowed: "Sat-Sun"), day names in
 * English, any case, three letters; the end may be "24:00"; the start is before the end. A day
 * named twice is refused; days not named are closed; at least one day must be open. offset is
 * "+HH:MM", "-HH:MM", "Z" or "" (UTC), at most 14:00. Returns 0 and fills *out, or CRM_EINVALID
 * with why (why_size bytes; may be NULL) saying what is wrong. */
int feedback_hours_parse(const char *hours, const char *offset, feedback_hours_t *out, char *why,
                         size_t why_size);

/* The 24x7 schedule at UTC. */
void feedback_hours_always(feedback_hours_t *out);

/* True when at_us (Unix microseconds) falls in business hours. */
bool feedback_hours_open_at(const feedback_hours_t *hours, int64_t at_us);

/* The moment business time duration_us after start_us is reached: time outside business hours
 * does not count, so a clock started on Friday evening with 2 hours left is due on Monday at
 * 11:00. duration_us 0 (or less) is due at start_us. Pure. */
int64_t feedback_hours_add(const feedback_hours_t *hours, int64_t start_us, int64_t duration_us);

/* Business time between from_us and to_us (0 when to_us <= from_us). Pure. */
int64_t feedback_hours_between(const feedback_hours_t *hours, int64_t from_us, int64_t to_us);

#endif
