/* crm_time.h: wall-clock time and RFC 3339 text in UTC, as microseconds or seconds plus nanoseconds. */
#ifndef CRM_TIME_H
#define CRM_TIME_H

#include <stddef.h>
#include <stdint.h>

/* Room for any text crm_time_format writes, NUL included ("9999-12-31T23:59:59.999999999Z" is 30). */
#define CRM_TIME_TEXT_MAX 40
/* The representable range: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z, in Unix seconds. */
#define CRM_TIME_MIN_SECONDS (-62135596800LL)
#define CRM_TIME_MAX_SECONDS 253402300799LL
#define CRM_TIME_NANOS_PER_SECOND 1000000000
#define CRM_TIME_US_PER_SECOND 1000000
/* The longest fraction of a second accepted on input (nanoseconds). */
#define CRM_TIME_FRACTION_DIGITS_MAX 9

/* Returns the current wall-clock time in microseconds since the Unix epoch (CLOCK_REALTIME). */
int64_t crm_time_now_us(void);

/* Writes seconds + nanos as RFC 3339 in UTC into out, for example "2026-11-23T10:00:00Z" or
 * "2026-11-23T10:00:00.250Z": the fraction is printed only when nanos is not 0, with 3, 6 or 9
 * digits (the fewest that are exact). Returns 0; CRM_EINVALID when seconds is outside
 * [CRM_TIME_MIN_SECONDS, CRM_TIME_MAX_SECONDS] or nanos outside [0, 999999999]; CRM_ETOOBIG when
 * size is too small (use CRM_TIME_TEXT_MAX). out is the caller's. */
int crm_time_format(int64_t seconds, int32_t nanos, char *out, size_t size);

/* Parses RFC 3339 text ("2026-11-23T18:00:00.5+08:00", "2026-11-23t10:00:00z") into seconds and
 * nanos since the Unix epoch, normalised to UTC (nanos in [0, 999999999]). Accepts 'T' or 't',
 * 'Z', 'z' or a numeric offset, and a fraction of 1 to 9 digits. Rejects anything else, including
 * leading or trailing spaces, impossible dates (2025-02-29), leap seconds (:60) and times outside
 * years 0001..9999 once normalised to UTC. Returns 0 or CRM_EINVALID (outputs untouched). */
int crm_time_parse(const char *text, int64_t *seconds_p, int32_t *nanos_p);

/* As crm_time_parse, for text of len bytes that need not be NUL-terminated. */
int crm_time_parse_n(const char *text, size_t len, int64_t *seconds_p, int32_t *nanos_p);

/* Writes microseconds since the Unix epoch as RFC 3339 in UTC (see crm_time_format).
 * Returns 0, CRM_EINVALID (out of range) or CRM_ETOOBIG (size too small). */
int crm_time_format_us(int64_t unix_us, char *out, size_t size);

/* Parses RFC 3339 text (see crm_time_parse) into microseconds since the Unix epoch; a fraction
 * finer than a microsecond is truncated towards the past. Returns 0 or CRM_EINVALID. */
int crm_time_parse_us(const char *text, int64_t *unix_us_p);

#endif
