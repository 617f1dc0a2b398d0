/* crm_log.c: structured logs, one JSON object per line, written whole with one write(2). */
#include "crm_log.h"

#include "crm_error.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* Room always kept free at the end of a line for the closing quote of the string being written,
 * ,"truncated":true, the closing brace and the newline. */
#define S_TAIL_RESERVE   24
#define S_TS_MAX         128     /* "2026-11-23T10:00:00.123Z"; room for any int the compiler imagines */
#define S_ESCAPE_MAX     8       /* escaped bytes of one character at most ("\u00XX") */
#define S_NS_PER_MS      1000000L

struct crm_log {
    char service[CRM_LOG_SERVICE_MAX + 1];
    int fd;
    atomic_int min_level;
    pthread_mutex_t write_lock;   /* one writer at a time, so partial writes cannot interleave */
};

/* A line being built in a caller's buffer. */
typedef struct {
    char *buf;
    size_t cap;
    size_t len;
    bool truncated;
} s_line_t;

static const char *const s_level_names[] = { "debug", "info", "warn", "error" };
#define S_LEVEL_COUNT (sizeof s_level_names / sizeof s_level_names[0])

/* Escaped keys of the fixed members, with their quotes, as they appear in the line. */
static const char *const s_reserved_keys[] = {
    "\"ts\"", "\"level\"", "\"service\"", "\"msg\"", "\"truncated\""
};

int
crm_log_level_parse(const char *text, crm_log_level_t *level)
{
    assert(level);
    if (!text)
        return CRM_EINVALID;
    for (size_t i = 0; i < S_LEVEL_COUNT; i++) {
        if (strcasecmp(text, s_level_names[i]) == 0) {
            *level = (crm_log_level_t) i;
            return 0;
        }
    }
    if (strcasecmp(text, "warning") == 0) {
        *level = CRM_LOG_WARN;
        return 0;
    }
    return CRM_EINVALID;
}

const char *
crm_log_level_name(crm_log_level_t level)
{
    if ((unsigned) level >= S_LEVEL_COUNT)
        return "unknown";
    return s_level_names[level];
}

int
crm_log_new(const char *service, int fd, crm_log_level_t min_level, crm_log_t **log_p)
{
    assert(log_p);
    *log_p = NULL;
    if (!service || !*service || strlen(service) > CRM_LOG_SERVICE_MAX || fd < 0
        || (unsigned) min_level >= S_LEVEL_COUNT)
        return CRM_EINVALID;

    crm_log_t *log = calloc(1, sizeof *log);
    if (!log)
        return CRM_ENOMEM;
    memcpy(log->service, service, strlen(service) + 1);
    log->fd = fd;
    atomic_init(&log->min_level, (int) min_level);
    if (pthread_mutex_init(&log->write_lock, NULL) != 0) {
        free(log);
        return CRM_ENOMEM;
    }
    *log_p = log;
    return 0;
}

void
crm_log_destroy(crm_log_t **log_p)
{
    if (!log_p || !*log_p)
        return;
    crm_log_t *log = *log_p;
    pthread_mutex_destroy(&log->write_lock);
    free(log);
    *log_p = NULL;
}

void
crm_log_set_level(crm_log_t *log, crm_log_level_t min_level)
{
    assert(log);
    assert((unsigned) min_level < S_LEVEL_COUNT);
    atomic_store_explicit(&log->min_level, (int) min_level, memory_order_relaxed);
}

bool
crm_log_enabled(const crm_log_t *log, crm_log_level_t level)
{
    assert(log);
    /* atomic_load takes a pointer to non-const in C11; the member is only read. */
    crm_log_t *mutable_log = (crm_log_t *) log;
    return (int) level >= atomic_load_explicit(&mutable_log->min_level, memory_order_relaxed);
}

/* Appends n raw bytes when they fit with the tail reserve kept free. */
static bool
s_put_raw(s_line_t *line, const char *bytes, size_t n)
{
    if (line->len + n + S_TAIL_RESERVE > line->cap)
        return false;
    memcpy(line->buf + line->len, bytes, n);
    line->len += n;
    return true;
}

/* Length of the valid UTF-8 sequence at s (1 to 4), or 0 when the bytes there are not one.
 * s is NUL-terminated, so reading stops at the NUL, which is never a continuation byte. */
static size_t
s_utf8_length(const unsigned char *s)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    unsigned char lo = 0x80, hi = 0xBF;
    size_t n;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0)
            lo = 0xA0;            /* no overlong forms */
        else if (c == 0xED)
            hi = 0x9F;            /* no UTF-16 surrogates */
    }
    else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0)
            lo = 0x90;            /* no overlong forms */
        else if (c == 0xF4)
            hi = 0x8F;            /* nothing above U+10FFFF */
    }
    else
        return 0;
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return n;
}

/* Escapes the character at s into out (S_ESCAPE_MAX bytes). Returns the bytes written to out
 * and sets *consumed to the input bytes used. */
static size_t
s_escape_char(const unsigned char *s, char *out, size_t *consumed)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char c = s[0];
    *consumed = 1;
    switch (c) {
    case '"':  memcpy(out, "\\\"", 2); return 2;
    case '\\': memcpy(out, "\\\\", 2); return 2;
    case '\n': memcpy(out, "\\n", 2); return 2;
    case '\r': memcpy(out, "\\r", 2); return 2;
    case '\t': memcpy(out, "\\t", 2); return 2;
    case '\b': memcpy(out, "\\b", 2); return 2;
    case '\f': memcpy(out, "\\f", 2); return 2;
    default: break;
    }
    if (c < 0x20) {
        memcpy(out, "\\u00", 4);
        out[4] = hex[c >> 4];
        out[5] = hex[c & 0xF];
        return 6;
    }
    size_t n = s_utf8_length(s);
    if (n == 0) {
        memcpy(out, "\xEF\xBF\xBD", 3);   /* U+FFFD REPLACEMENT CHARACTER */
        return 3;
    }
    memcpy(out, s, n);
    *consumed = n;
    return n;
}

/* Appends text as a JSON string, cut after at most limit escaped bytes or where the line is
 * full (then line->truncated is set). Returns false, with nothing appended, when not even an
 * empty string fits. */
static bool
s_put_string(s_line_t *line, const char *text, size_t limit)
{
    if (!s_put_raw(line, "\"", 1))
        return false;
    /* The tail reserve holds the closing quote, so only the content is bounded here. */
    size_t end = line->cap - S_TAIL_RESERVE;
    if (end > line->len + limit)
        end = line->len + limit;
    const unsigned char *s = (const unsigned char *) text;
    while (*s) {
        char escaped[S_ESCAPE_MAX];
        size_t consumed;
        size_t n = s_escape_char(s, escaped, &consumed);
        if (line->len + n > end) {
            line->truncated = true;
            break;
        }
        memcpy(line->buf + line->len, escaped, n);
        line->len += n;
        s += consumed;
    }
    line->buf[line->len++] = '"';
    return true;
}

static void
s_timestamp(char *out, size_t size)
{
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    snprintf(out, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, now.tv_nsec / S_NS_PER_MS);
}

/* True when the escaped key at buf[start, start + len) equals a reserved key or an earlier one. */
static bool
s_key_taken(const s_line_t *line, size_t start, size_t len, const size_t key_start[],
            const size_t key_len[], size_t keys)
{
    const char *key = line->buf + start;
    for (size_t i = 0; i < sizeof s_reserved_keys / sizeof s_reserved_keys[0]; i++)
        if (strlen(s_reserved_keys[i]) == len && memcmp(s_reserved_keys[i], key, len) == 0)
            return true;
    for (size_t i = 0; i < keys; i++)
        if (key_len[i] == len && memcmp(line->buf + key_start[i], key, len) == 0)
            return true;
    return false;
}

/* Appends the pairs from va_list as members; stops at the NULL key or when the line is full. */
static void
s_put_fields(s_line_t *line, va_list pairs)
{
    size_t key_start[CRM_LOG_FIELDS_MAX];
    size_t key_len[CRM_LOG_FIELDS_MAX];
    size_t keys = 0;
    const char *key;
    while ((key = va_arg(pairs, const char *)) != NULL) {
        const char *value = va_arg(pairs, const char *);
        if (keys == CRM_LOG_FIELDS_MAX) {
            line->truncated = true;
            return;
        }
        size_t mark = line->len;
        bool cut_before = line->truncated;
        line->truncated = false;
        bool ok = s_put_raw(line, ",", 1) && s_put_string(line, key, CRM_LOG_VALUE_MAX);
        bool key_cut = line->truncated;
        line->truncated = cut_before;
        if (!ok || key_cut) {
            /* A cut key would be a different key: drop the pair and stop, the line is full. */
            line->len = mark;
            line->truncated = true;
            return;
        }
        size_t start = mark + 1, len = line->len - start;
        if (s_key_taken(line, start, len, key_start, key_len, keys)) {
            line->len = mark;
            line->truncated = true;
            continue;
        }
        ok = s_put_raw(line, ":", 1)
             && (value ? s_put_string(line, value, CRM_LOG_VALUE_MAX) : s_put_raw(line, "null", 4));
        if (!ok) {
            line->len = mark;
            line->truncated = true;
            return;
        }
        key_start[keys] = start;
        key_len[keys] = len;
        keys++;
    }
}

/* Writes the whole line, retrying after signals and partial writes. */
static int
s_write_line(crm_log_t *log, const char *buf, size_t len)
{
    int rc = 0;
    pthread_mutex_lock(&log->write_lock);
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(log->fd, buf + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = CRM_EIO;
            goto out;
        }
        done += (size_t) n;
    }
out:
    pthread_mutex_unlock(&log->write_lock);
    return rc;
}

/* Builds and writes a line: the fixed members, msg, then the pairs when pairs is not NULL. */
static int
s_log(crm_log_t *log, crm_log_level_t level, const char *msg, bool msg_cut, va_list *pairs)
{
    char buf[CRM_LOG_LINE_MAX];
    char ts[S_TS_MAX];
    s_line_t line = { .buf = buf, .cap = sizeof buf, .len = 0, .truncated = msg_cut };
    s_timestamp(ts, sizeof ts);

    /* The fixed members are short (the service name is bounded), so they always fit. */
    bool ok = s_put_raw(&line, "{\"ts\":", 6) && s_put_string(&line, ts, CRM_LOG_VALUE_MAX)
              && s_put_raw(&line, ",\"level\":", 9)
              && s_put_string(&line, s_level_names[level], CRM_LOG_VALUE_MAX)
              && s_put_raw(&line, ",\"service\":", 11)
              && s_put_string(&line, log->service, CRM_LOG_VALUE_MAX)
              && s_put_raw(&line, ",\"msg\":", 7)
              && (msg ? s_put_string(&line, msg, CRM_LOG_VALUE_MAX) : s_put_raw(&line, "null", 4));
    assert(ok);
    if (pairs)
        s_put_fields(&line, *pairs);

    /* The reserve guarantees room for the tail. */
    static const char truncated[] = ",\"truncated\":true";
    if (line.truncated) {
        memcpy(line.buf + line.len, truncated, sizeof truncated - 1);
        line.len += sizeof truncated - 1;
    }
    line.buf[line.len++] = '}';
    line.buf[line.len++] = '\n';
    assert(line.len <= line.cap);
    return s_write_line(log, line.buf, line.len);
}

int
crm_log_writev(crm_log_t *log, crm_log_level_t level, const char *msg, va_list pairs)
{
    assert(log);
    assert((unsigned) level < S_LEVEL_COUNT);
    if (!crm_log_enabled(log, level))
        return 0;
    va_list copy;
    va_copy(copy, pairs);
    int rc = s_log(log, level, msg, false, &copy);
    va_end(copy);
    return rc;
}

int
crm_log_write(crm_log_t *log, crm_log_level_t level, const char *msg, ...)
{
    va_list pairs;
    va_start(pairs, msg);
    int rc = crm_log_writev(log, level, msg, pairs);
    va_end(pairs);
    return rc;
}

int
crm_log_writef(crm_log_t *log, crm_log_level_t level, const char *fmt, ...)
{
    assert(log);
    assert((unsigned) level < S_LEVEL_COUNT);
    assert(fmt);
    if (!crm_log_enabled(log, level))
        return 0;
    char msg[CRM_LOG_VALUE_MAX + 1];
    va_list args;
    va_start(args, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, args);
    va_end(args);
    if (n < 0)
        msg[0] = '\0';
    return s_log(log, level, msg, n < 0 || (size_t) n >= sizeof msg, NULL);
}
