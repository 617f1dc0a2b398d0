/* notifier_template.h: message templates: {{placeholders}} filled from the event and the customer, and the choice of a locale. */
#ifndef NOTIFIER_TEMPLATE_H
#define NOTIFIER_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "notifier_expr.h"

/* A placeholder is {{path}} or {{path|filter}}, spaces allowed inside the braces; the path reads
 * the context object as a condition's path does (notifier_json_path). Filters:
 *   label   the value's text in the template's labels ("gold" -> "黄金"); the value itself when
 *           the labels have none
 *   date    the date part of an RFC 3339 time ("2026-05-01T10:00:00Z" -> "2026-05-01")
 *   money   minor units as a decimal with two places ("123456" -> "1234.56")
 * A value renders as its text: strings as they are, integers in decimal, other numbers in the
 * shortest form, booleans as true/false, arrays as their items joined by ", ". A missing or null
 * value renders empty and is reported. Text outside placeholders is copied byte for byte. */

#define NOTIFIER_TEMPLATE_MAX   16384    /* bytes of a subject or body template */
#define NOTIFIER_RENDER_MAX     65536    /* bytes of a rendered text */
#define NOTIFIER_MISSING_MAX    8        /* missing placeholders reported per rendering */
#define NOTIFIER_LOCALE_MAX     36       /* bytes of a BCP 47 tag, with its NUL */
#define NOTIFIER_DEFAULT_LOCALE "en"     /* the locale every template should have */

/* Placeholders that rendered empty. */
typedef struct {
    size_t count;                        /* how many, up to NOTIFIER_MISSING_MAX */
    size_t total;                        /* how many in all */
    char names[NOTIFIER_MISSING_MAX][NOTIFIER_EXPR_PATH_MAX];
} notifier_missing_t;

/* Checks a template's text: every "{{" closed by "}}", each placeholder a path with a known
 * filter, at most NOTIFIER_TEMPLATE_MAX bytes of UTF-8. Returns 0, or CRM_EINVALID with why
 * (why_size bytes), such as "at 14: unknown filter 'upper'". */
int notifier_template_check(const char *text, char *why, size_t why_size);

/* Renders text with its placeholders read from ctx (a JSON object, borrowed) and labels (a JSON
 * object of strings, borrowed; may be NULL). Placeholders that rendered empty are added to
 * *missing (may be NULL; the caller zeroes it first). Returns 0 with *out (NUL-terminated,
 * malloc'd, the caller frees it); CRM_ETOOBIG (more than NOTIFIER_RENDER_MAX bytes); CRM_ENOMEM. */
int notifier_template_render(const char *text, const json_t *ctx, const json_t *labels, char **out,
                             notifier_missing_t *missing);

/* Picks the locale for want among n locales: the same tag (ignoring case), else one of the same
 * language ("zh-CN" for "zh" or "zh-TW"), else fallback, else one of fallback's language, else
 * the first. Returns its index, or -1 when n is 0. want and fallback may be "" or NULL. */
int notifier_locale_pick(const char *const *locales, size_t n, const char *want, const char *fallback);

/* True when s is a plausible BCP 47 tag: 2 to 8 letters, then "-" and 1 to 8 letters or digits,
 * at most NOTIFIER_LOCALE_MAX - 1 bytes in all. */
bool notifier_locale_valid(const char *s);

#endif
