/* crm_log.h: structured logs, one JSON object per line, written whole with one write(2). */
#ifndef CRM_LOG_H
#define CRM_LOG_H

#include <stdbool.h>
#include <stdarg.h>

/* A line looks like
 *   {"ts":"2026-11-23T10:00:00.123Z","level":"info","service":"contacts","msg":"started",
 *    "port":"5580"}
 * Keys and values are JSON-escaped; bytes that are not valid UTF-8 become U+FFFD, so a line is
 * always valid JSON whatever the input. Field values are strings (or null). */

#define CRM_LOG_LINE_MAX     8192   /* bytes in one line, newline included; longer lines are cut */
#define CRM_LOG_VALUE_MAX    2048   /* escaped bytes of one message or value before it is cut */
#define CRM_LOG_SERVICE_MAX  64     /* bytes of the service name, without the NUL */
#define CRM_LOG_FIELDS_MAX   32     /* key/value pairs in one line; later pairs are dropped */

/* When anything was cut or dropped, the line ends with "truncated":true. A field whose key
 * repeats a reserved key (ts, level, service, msg, truncated) or an earlier key is dropped. */

typedef enum {
    CRM_LOG_DEBUG = 0,
    CRM_LOG_INFO,
    CRM_LOG_WARN,
    CRM_LOG_ERROR
} crm_log_level_t;

typedef struct crm_log crm_log_t;

/* Makes a logger that writes lines for service to fd (not owned: the caller keeps it open
 * while the logger lives and closes it afterwards). Lines below min_level are skipped.
 * Returns 0 and sets *log_p (caller owns; free with crm_log_destroy), CRM_EINVALID (service
 * empty, longer than CRM_LOG_SERVICE_MAX, fd negative or level out of range) or CRM_ENOMEM.
 * When fd is a pipe or socket whose reader is gone, write(2) raises SIGPIPE: services ignore
 * SIGPIPE. */
int crm_log_new(const char *service, int fd, crm_log_level_t min_level, crm_log_t **log_p);

/* Frees the logger (the fd stays open). Safe on NULL; sets *log_p to NULL. */
void crm_log_destroy(crm_log_t **log_p);

/* Parses "debug", "info", "warn" (or "warning") or "error", in any case. Returns 0 and sets
 * *level, or CRM_EINVALID (level unchanged). */
int crm_log_level_parse(const char *text, crm_log_level_t *level);

/* Returns the lower-case name of a level, such as "warn" (static; "unknown" when out of range). */
const char *crm_log_level_name(crm_log_level_t level);

/* Changes the lowest level written; safe while other threads log. */
void crm_log_set_level(crm_log_t *log, crm_log_level_t min_level);

/* Returns true when a line at level would be written (to skip costly formatting). */
bool crm_log_enabled(const crm_log_t *log, crm_log_level_t level);

/* Writes one line: msg then key/value string pairs, ended by a NULL key; a NULL value is
 * written as JSON null. Thread-safe; lines from threads never interleave. Returns 0 (also when
 * the level is below the minimum and nothing is written) or CRM_EIO (write failed; the line is
 * lost). The arguments stay the caller's. */
int crm_log_write(crm_log_t *log, crm_log_level_t level, const char *msg, ...)
    __attribute__((sentinel));

/* crm_log_write with the pairs in a va_list. */
int crm_log_writev(crm_log_t *log, crm_log_level_t level, const char *msg, va_list pairs);

/* Writes one line whose message is formatted as printf does; no fields. Returns as
 * crm_log_write. */
int crm_log_writef(crm_log_t *log, crm_log_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Convenience: crm_log_info(log, "started", "port", port_text) writes an info line with one
 * field; the NULL that ends the pairs is added here. */
#define crm_log_debug(log, ...) crm_log_write((log), CRM_LOG_DEBUG, __VA_ARGS__, (const char *) 0)
#define crm_log_info(log, ...)  crm_log_write((log), CRM_LOG_INFO, __VA_ARGS__, (const char *) 0)
#define crm_log_warn(log, ...)  crm_log_write((log), CRM_LOG_WARN, __VA_ARGS__, (const char *) 0)
#define crm_log_error(log, ...) crm_log_write((log), CRM_LOG_ERROR, __VA_ARGS__, (const char *) 0)

#endif
