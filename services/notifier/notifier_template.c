/* notifier_template.c: filling {{placeholders}} from JSON, checking templates, picking a locale. */
#include "notifier_template.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crm_codec.h"
#include "crm_error.h"

#define S_OPEN "{{"
#define S_CLOSE "}}"
#define S_NUMBER_MAX 64          /* bytes of a number's text */
#define S_FILTER_MAX 16          /* bytes of a filter's name, with its NUL */
#define S_DATE_LEN 10            /* "YYYY-MM-DD" */
#define S_JOIN ", "

typedef enum { S_F_NONE, S_F_LABEL, S_F_DATE, S_F_MONEY, S_F_UNKNOWN } s_filter_t;

/* A growing output buffer. */
typedef struct {
    char *data;
    size_t len, cap;
    int rc;
} s_buf_t;

static void s_put(s_buf_t *b, const char *s, size_t n)
{
    if (b->rc)
        return;
    if (b->len + n >= NOTIFIER_RENDER_MAX) {
        b->rc = CRM_ETOOBIG;
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *grown = realloc(b->data, cap);
        if (!grown) {
            b->rc = CRM_ENOMEM;
            return;
        }
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static void s_puts(s_buf_t *b, const char *s)
{
    s_put(b, s, strlen(s));
}

/* Splits the inside of a placeholder (len bytes at s) into its path and filter, trimmed.
 * Returns false when the path is empty or too long, or the filter name too long. */
static bool s_split(const char *s, size_t len, char path[NOTIFIER_EXPR_PATH_MAX], s_filter_t *filter)
{
    while (len && isspace((unsigned char) *s)) {
        s++;
        len--;
    }
    while (len && isspace((unsigned char) s[len - 1]))
        len--;
    const char *bar = memchr(s, '|', len);
    size_t path_len = bar ? (size_t) (bar - s) : len;
    while (path_len && isspace((unsigned char) s[path_len - 1]))
        path_len--;
    if (path_len == 0 || path_len >= NOTIFIER_EXPR_PATH_MAX)
        return false;
    memcpy(path, s, path_len);
    path[path_len] = '\0';
    *filter = S_F_NONE;
    if (bar) {
        const char *f = bar + 1;
        size_t f_len = len - (size_t) (f - s);
        while (f_len && isspace((unsigned char) *f)) {
            f++;
            f_len--;
        }
        char name[S_FILTER_MAX];
        if (f_len == 0 || f_len >= sizeof name)
            return false;
        memcpy(name, f, f_len);
        name[f_len] = '\0';
        *filter = strcmp(name, "label") == 0 ? S_F_LABEL
                  : strcmp(name, "date") == 0 ? S_F_DATE
                  : strcmp(name, "money") == 0 ? S_F_MONEY : S_F_UNKNOWN;
    }
    return true;
}

static bool s_path_valid(const char *path)
{
    const char *p = path;
    for (;;) {
        if (!(isalpha((unsigned char) *p) || *p == '_'))
            return false;
        while (isalnum((unsigned char) *p) || *p == '_')
            p++;
        while (*p == '[') {
            const char *digits = ++p;
            while (isdigit((unsigned char) *p))
                p++;
            if (p == digits || *p != ']')
                return false;
            p++;
        }
        if (*p == '\0')
            return true;
        if (*p != '.')
            return false;
        p++;
    }
}

int notifier_template_check(const char *text, char *why, size_t why_size)
{
    why[0] = '\0';
    size_t len = strnlen(text, NOTIFIER_TEMPLATE_MAX + 1);
    if (len > NOTIFIER_TEMPLATE_MAX) {
        snprintf(why, why_size, "longer than %d bytes", NOTIFIER_TEMPLATE_MAX);
        return CRM_EINVALID;
    }
    if (!crm_codec_utf8_valid(text, len)) {
        snprintf(why, why_size, "not valid UTF-8");
        return CRM_EINVALID;
    }
    const char *p = text;
    while ((p = strstr(p, S_OPEN))) {
        size_t at = (size_t) (p - text) + 1;
        const char *end = strstr(p + 2, S_CLOSE);
        const char *next_open = strstr(p + 2, S_OPEN);
        if (!end || (next_open && next_open < end)) {
            snprintf(why, why_size, "at %zu: '{{' without '}}'", at);
            return CRM_EINVALID;
        }
        char path[NOTIFIER_EXPR_PATH_MAX];
        s_filter_t filter;
        if (!s_split(p + 2, (size_t) (end - p - 2), path, &filter) || !s_path_valid(path)) {
            snprintf(why, why_size, "at %zu: expected a field path such as {{customer.name}}", at);
            return CRM_EINVALID;
        }
        if (filter == S_F_UNKNOWN) {
            snprintf(why, why_size, "at %zu: unknown filter (label, date or money)", at);
            return CRM_EINVALID;
        }
        p = end + 2;
    }
    return 0;
}

static void s_missing(notifier_missing_t *missing, const char *path)
{
    if (!missing)
        return;
    missing->total++;
    for (size_t i = 0; i < missing->count; i++)
        if (strcmp(missing->names[i], path) == 0)
            return;
    if (missing->count < NOTIFIER_MISSING_MAX)
        snprintf(missing->names[missing->count++], NOTIFIER_EXPR_PATH_MAX, "%s", path);
}

/* Writes one scalar value's text; returns false for null and for what has no text. */
static bool s_scalar(s_buf_t *b, const json_t *v)
{
    char num[S_NUMBER_MAX];
    if (json_is_string(v)) {
        s_put(b, json_string_value(v), json_string_length(v));
    } else if (json_is_integer(v)) {
        snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        s_puts(b, num);
    } else if (json_is_real(v)) {
        snprintf(num, sizeof num, "%.15g", json_real_value(v));
        s_puts(b, num);
    } else if (json_is_boolean(v)) {
        s_puts(b, json_is_true(v) ? "true" : "false");
    } else {
        return false;
    }
    return true;
}

/* Minor units (an integer, or its decimal text) as major units with two places. */
static bool s_money(s_buf_t *b, const json_t *v)
{
    long long minor = 0;
    if (json_is_integer(v)) {
        minor = json_integer_value(v);
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end = NULL;
        errno = 0;
        minor = strtoll(s, &end, 10);
        if (errno || !end || *end || end == s)
            return false;
    } else {
        return false;
    }
    char num[S_NUMBER_MAX];
    unsigned long long abs = minor < 0 ? (unsigned long long) -(minor + 1) + 1 : (unsigned long long) minor;
    snprintf(num, sizeof num, "%s%llu.%02llu", minor < 0 ? "-" : "", abs / 100, abs % 100);
    s_puts(b, num);
    return true;
}

/* Renders one value through its filter. Returns false when it rendered nothing. */
static bool s_value(s_buf_t *b, const json_t *v, s_filter_t filter, const json_t *labels)
{
    if (!v || json_is_null(v))
        return false;
    if (filter == S_F_LABEL && json_is_string(v)) {
        const json_t *text = labels ? json_object_get(labels, json_string_value(v)) : NULL;
        if (json_is_string(text)) {
            s_put(b, json_string_value(text), json_string_length(text));
            return true;
        }
    }
    if (filter == S_F_DATE && json_is_string(v) && json_string_length(v) >= S_DATE_LEN) {
        s_put(b, json_string_value(v), S_DATE_LEN);
        return true;
    }
    if (filter == S_F_MONEY && s_money(b, v))
        return true;
    if (json_is_array(v)) {
        size_t i;
        const json_t *item;
        bool any = false;
        json_array_foreach(v, i, item) {
            if (any)
                s_puts(b, S_JOIN);
            any |= s_value(b, item, filter, labels);
        }
        return any;
    }
    if (json_is_object(v)) {
        char *text = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
        if (!text) {
            b->rc = b->rc ? b->rc : CRM_ENOMEM;
            return false;
        }
        s_puts(b, text);
        free(text);
        return true;
    }
    return s_scalar(b, v);
}

int notifier_template_render(const char *text, const json_t *ctx, const json_t *labels, char **out,
                             notifier_missing_t *missing)
{
    assert(text && out);
    s_buf_t b = { 0 };
    s_put(&b, "", 0);
    const char *p = text;
    for (;;) {
        const char *open = strstr(p, S_OPEN);
        const char *close = open ? strstr(open + 2, S_CLOSE) : NULL;
        if (!open || !close) {
            s_puts(&b, p);
            break;
        }
        s_put(&b, p, (size_t) (open - p));
        char path[NOTIFIER_EXPR_PATH_MAX];
        s_filter_t filter;
        if (s_split(open + 2, (size_t) (close - open - 2), path, &filter) && s_path_valid(path)) {
            size_t before = b.len;
            if (!s_value(&b, notifier_json_path(ctx, path), filter, labels) || b.len == before)
                s_missing(missing, path);
        } else {
            s_put(&b, open, (size_t) (close + 2 - open));   /* not a placeholder: kept as written */
        }
        p = close + 2;
    }
    if (b.rc) {
        free(b.data);
        return b.rc;
    }
    *out = b.data;
    return 0;
}

/* --- Locales */

static size_t s_language_len(const char *tag)
{
    size_t n = 0;
    while (tag[n] && tag[n] != '-' && tag[n] != '_')
        n++;
    return n;
}

static bool s_same_language(const char *a, const char *b)
{
    size_t la = s_language_len(a), lb = s_language_len(b);
    return la && la == lb && strncasecmp(a, b, la) == 0;
}

int notifier_locale_pick(const char *const *locales, size_t n, const char *want, const char *fallback)
{
    if (n == 0)
        return -1;
    const char *wants[2] = { want ? want : "", fallback ? fallback : "" };
    for (size_t w = 0; w < 2; w++) {
        if (!wants[w][0])
            continue;
        for (size_t i = 0; i < n; i++)
            if (strcasecmp(locales[i], wants[w]) == 0)
                return (int) i;
        for (size_t i = 0; i < n; i++)
            if (s_same_language(locales[i], wants[w]))
                return (int) i;
    }
    return 0;
}

bool notifier_locale_valid(const char *s)
{
    size_t len = strlen(s);
    if (len >= NOTIFIER_LOCALE_MAX)
        return false;
    size_t lang = s_language_len(s);
    if (lang < 2 || lang > 8)
        return false;
    for (size_t i = 0; i < lang; i++)
        if (!isalpha((unsigned char) s[i]))
            return false;
    const char *p = s + lang;
    while (*p) {
        if (*p != '-')
            return false;
        p++;
        size_t part = 0;
        while (isalnum((unsigned char) p[part]))
            part++;
        if (part == 0 || part > 8)
            return false;
        p += part;
    }
    return true;
}
