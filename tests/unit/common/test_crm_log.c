/* test_crm_log.c: crm_log lines read back through a pipe and parsed with jansson. */
#include "crm_error.h"
#include "crm_log.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "crm_test.h"

/* Every test fails on leaked memory. */
TestSuite(crm_log, .fini = crm_test_check_leaks);

#define T_THREADS          4
#define T_LINES_PER_THREAD 500
#define T_READ_CHUNK       4096

/* Everything written to a pipe, collected by a reader thread so writers never block. */
typedef struct {
    int fds[2];
    pthread_t reader;
    char *data;
    size_t len;
} t_sink_t;

static void *
t_reader(void *arg)
{
    t_sink_t *sink = arg;
    size_t cap = 0;
    for (;;) {
        if (sink->len + T_READ_CHUNK + 1 > cap) {
            cap = cap ? cap * 2 : 4 * T_READ_CHUNK;
            char *grown = realloc(sink->data, cap);
            if (!grown)
                abort();
            sink->data = grown;
        }
        ssize_t n = read(sink->fds[0], sink->data + sink->len, T_READ_CHUNK);
        if (n <= 0)
            break;
        sink->len += (size_t) n;
    }
    if (sink->data)
        sink->data[sink->len] = '\0';
    return NULL;
}

static void
t_sink_open(t_sink_t *sink)
{
    memset(sink, 0, sizeof *sink);
    cr_assert_eq(pipe(sink->fds), 0);
    cr_assert_eq(pthread_create(&sink->reader, NULL, t_reader, sink), 0);
}

/* Closes the write end, waits for the reader and returns the lines parsed as JSON objects
 * (a JSON array the caller decrefs). Every line must end with a newline and parse strictly. */
static json_t *
t_sink_close(t_sink_t *sink)
{
    close(sink->fds[1]);
    pthread_join(sink->reader, NULL);
    close(sink->fds[0]);
    json_t *lines = json_array();
    char *p = sink->data;
    while (p && *p) {
        char *nl = strchr(p, '\n');
        /* Assert only on failure: each Criterion assertion costs a message under --full-stats. */
        if (!nl)
            cr_assert_fail("last line has no newline: %s", p);
        json_error_t err;
        json_t *obj = json_loadb(p, (size_t) (nl - p), JSON_REJECT_DUPLICATES, &err);
        if (!json_is_object(obj))
            cr_assert_fail("not a JSON object (%s): %.*s", err.text, (int) (nl - p), p);
        json_array_append_new(lines, obj);
        p = nl + 1;
    }
    free(sink->data);
    return lines;
}

static const char *
t_str(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    cr_assert(json_is_string(v), "member %s is not a string", key);
    return json_string_value(v);
}

Test(crm_log, writes_one_json_object_per_line)
{
    t_sink_t sink;
    t_sink_open(&sink);
    crm_log_t *log = NULL;
    cr_assert_eq(crm_log_new("contacts", sink.fds[1], CRM_LOG_INFO, &log), 0);
    cr_assert_eq(crm_log_info(log, "started", "port", "5580", "mode", "test"), 0);
    cr_assert_eq(crm_log_warn(log, "no fields"), 0);
    cr_assert_eq(crm_log_write(log, CRM_LOG_ERROR, "with null", "peer", (const char *) NULL,
                               (const char *) NULL), 0);
    crm_log_destroy(&log);
    cr_assert_null(log);
    crm_log_destroy(&log);

    json_t *lines = t_sink_close(&sink);
    cr_assert_eq(json_array_size(lines), 3);
    json_t *first = json_array_get(lines, 0);
    cr_assert_str_eq(t_str(first, "level"), "info");
    cr_assert_str_eq(t_str(first, "service"), "contacts");
    cr_assert_str_eq(t_str(first, "msg"), "started");
    cr_assert_str_eq(t_str(first, "port"), "5580");
    cr_assert_str_eq(t_str(first, "mode"), "test");
    cr_assert_null(json_object_get(first, "truncated"));
    cr_assert_eq(json_object_size(first), 6);

    /* ts is RFC 3339 UTC with milliseconds, and close to now. */
    const char *ts = t_str(first, "ts");
    cr_assert_eq(strlen(ts), 24, "ts %s", ts);
    struct tm tm = { 0 };
    int ms = -1;
    char *rest = strptime(ts, "%Y-%m-%dT%H:%M:%S", &tm);
    cr_assert_not_null(rest, "ts %s", ts);
    cr_assert_eq(sscanf(rest, ".%3dZ", &ms), 1, "ts %s", ts);
    cr_assert(ms >= 0 && ms < 1000);
    time_t when = timegm(&tm);
    cr_assert(llabs((long long) (when - time(NULL))) < 60, "ts %s is not now", ts);

    cr_assert_str_eq(t_str(json_array_get(lines, 1), "level"), "warn");
    json_t *third = json_array_get(lines, 2);
    cr_assert_str_eq(t_str(third, "level"), "error");
    cr_assert(json_is_null(json_object_get(third, "peer")));
    json_decref(lines);
}

Test(crm_log, skips_lines_below_the_level)
{
    t_sink_t sink;
    t_sink_open(&sink);
    crm_log_t *log = NULL;
    cr_assert_eq(crm_log_new("loyalty", sink.fds[1], CRM_LOG_WARN, &log), 0);
    cr_assert_not(crm_log_enabled(log, CRM_LOG_INFO));
    cr_assert(crm_log_enabled(log, CRM_LOG_ERROR));
    crm_log_debug(log, "d");
    crm_log_info(log, "i");
    crm_log_warn(log, "w");
    crm_log_error(log, "e");
    crm_log_set_level(log, CRM_LOG_DEBUG);
    crm_log_debug(log, "d2");
    crm_log_destroy(&log);

    json_t *lines = t_sink_close(&sink);
    cr_assert_eq(json_array_size(lines), 3);
    cr_assert_str_eq(t_str(json_array_get(lines, 0), "msg"), "w");
    cr_assert_str_eq(t_str(json_array_get(lines, 1), "msg"), "e");
    cr_assert_str_eq(t_str(json_array_get(lines, 2), "msg"), "d2");
    cr_assert_str_eq(t_str(json_array_get(lines, 2), "level"), "debug");
    json_decref(lines);
}

Test(crm_log, escapes_everything_into_valid_json)
{
    t_sink_t sink;
    t_sink_open(&sink);
    crm_log_t *log = NULL;
    cr_assert_eq(crm_log_new("feedback", sink.fds[1], CRM_LOG_DEBUG, &log), 0);
    const char *nasty = "quote\" backslash\\ nl\n cr\r tab\t bell\a esc\x1b del\x7f";
    crm_log_info(log, nasty, "key \"with\" quotes", nasty);
    /* Invalid UTF-8: a lone continuation byte, a truncated sequence, an overlong slash, a
     * surrogate, a byte that never appears; valid multi-byte text survives. */
    crm_log_info(log, "bad \x80 \xC3 \xC0\xAF \xED\xA0\x80 \xFF end", "ok", "h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80",
                 "bad\xFE", "v\xC3");
    crm_log_destroy(&log);

    json_t *lines = t_sink_close(&sink);
    cr_assert_eq(json_array_size(lines), 2);
    json_t *first = json_array_get(lines, 0);
    cr_assert_str_eq(t_str(first, "msg"), nasty);
    cr_assert_str_eq(t_str(first, "key \"with\" quotes"), nasty);

    json_t *second = json_array_get(lines, 1);
    const char *msg = t_str(second, "msg");
    cr_assert_not_null(strstr(msg, "bad \xEF\xBF\xBD"), "msg %s", msg);
    cr_assert_not_null(strstr(msg, " end"), "msg %s", msg);
    cr_assert_null(strstr(msg, "\xED\xA0\x80"));
    cr_assert_str_eq(t_str(second, "ok"), "h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80");
    cr_assert_str_eq(t_str(second, "bad\xEF\xBF\xBD"), "v\xEF\xBF\xBD");
    json_decref(lines);
}

Test(crm_log, drops_reserved_and_repeated_keys)
{
    t_sink_t sink;
    t_sink_open(&sink);
    crm_log_t *log = NULL;
    cr_assert_eq(crm_log_new("notifier", sink.fds[1], CRM_LOG_DEBUG, &log), 0);
    crm_log_info(log, "m", "msg", "spoof", "level", "debug", "id", "1", "id", "2", "ts", "x",
                 "service", "y", "truncated", "no", "other", "3");
    crm_log_destroy(&log);

    json_t *lines = t_sink_close(&sink);
    json_t *line = json_array_get(lines, 0);
    cr_assert_str_eq(t_str(line, "msg"), "m");
    cr_assert_str_eq(t_str(line, "level"), "info");
    cr_assert_str_eq(t_str(line, "service"), "notifier");
    cr_assert_str_eq(t_str(line, "id"), "1");
    cr_assert_str_eq(t_str(line, "other"), "3");
    cr_assert(json_is_true(json_object_get(line, "truncated")));
    json_decref(lines);
}

Test(crm_log, cuts_long_lines_and_keeps_them_valid)
{
    t_sink_t sink;
    t_sink_open(&sink);
    crm_log_t *log = NULL;
    cr_assert_eq(crm_log_new("analytics", sink.fds[1], CRM_LOG_DEBUG, &log), 0);

    /* A value of multi-byte characters and quotes far beyond every limit. */
    size_t big_len = 4 * CRM_LOG_LINE_MAX;
    char *big = malloc(big_len + 1);
    for (size_t i = 0; i < big_len; i += 4)
        memcpy(big + i, i % 8 ? "\xE2\x82\xAC\"" : "ab\"\n", 4);
    big[big_len] = '\0';
    crm_log_info(log, big, "a", big, "b", big, "c", big, "d", big, "e", big);

    /* More fields than CRM_LOG_FIELDS_MAX. */
    char keys[CRM_LOG_FIELDS_MAX + 2][8];
    for (int i = 0; i < CRM_LOG_FIELDS_MAX + 2; i++)
        snprintf(keys[i], sizeof keys[i], "k%d", i);
#define K(i) keys[i], "v"
    crm_log_info(log, "many", K(0), K(1), K(2), K(3), K(4), K(5), K(6), K(7), K(8), K(9), K(10),
                 K(11), K(12), K(13), K(14), K(15), K(16), K(17), K(18), K(19), K(20), K(21),
                 K(22), K(23), K(24), K(25), K(26), K(27), K(28), K(29), K(30), K(31), K(32),
                 K(33));
#undef K
    crm_log_writef(log, CRM_LOG_INFO, "%s", big);
    crm_log_destroy(&log);
    free(big);

    json_t *lines = t_sink_close(&sink);
    cr_assert_eq(json_array_size(lines), 3);
    for (size_t i = 0; i < 3; i++) {
        json_t *line = json_array_get(lines, i);
        char *text = json_dumps(line, JSON_COMPACT);
        cr_assert(strlen(text) < CRM_LOG_LINE_MAX);
        free(text);
        cr_assert(json_is_true(json_object_get(line, "truncated")), "line %zu", i);
    }
    json_t *first = json_array_get(lines, 0);
    const char *msg = t_str(first, "msg");
    cr_assert(strlen(msg) > CRM_LOG_VALUE_MAX / 4, "message kept: %zu", strlen(msg));
    cr_assert_eq(strncmp(msg, "ab\"\n\xE2\x82\xAC\"", 8), 0);
    cr_assert_not_null(json_object_get(first, "a"), "first field kept within the value limit");
    json_t *many = json_array_get(lines, 1);
    cr_assert_str_eq(t_str(many, "k31"), "v");
    cr_assert_null(json_object_get(many, "k32"));
    json_decref(lines);
}

Test(crm_log, writef_formats_the_message)
{
    t_sink_t sink;
    t_sink_open(&sink);
    crm_log_t *log = NULL;
    cr_assert_eq(crm_log_new("gateway", sink.fds[1], CRM_LOG_INFO, &log), 0);
    cr_assert_eq(crm_log_writef(log, CRM_LOG_WARN, "queue %s at %d%%", "ingest", 93), 0);
    cr_assert_eq(crm_log_writef(log, CRM_LOG_DEBUG, "hidden %d", 1), 0);
    crm_log_destroy(&log);
    json_t *lines = t_sink_close(&sink);
    cr_assert_eq(json_array_size(lines), 1);
    cr_assert_str_eq(t_str(json_array_get(lines, 0), "msg"), "queue ingest at 93%");
    json_decref(lines);
}

typedef struct {
    crm_log_t *log;
    int id;
    int failures;           /* counted here: Criterion asserts belong to the main thread */
} t_worker_t;

static void *
t_worker(void *arg)
{
    t_worker_t *w = arg;
    char id[16], seq[16];
    snprintf(id, sizeof id, "%d", w->id);
    /* Lines longer than PIPE_BUF would interleave if they were not written under one lock. */
    char pad[6000];
    memset(pad, 'a' + w->id, sizeof pad - 1);
    pad[sizeof pad - 1] = '\0';
    for (int i = 0; i < T_LINES_PER_THREAD; i++) {
        snprintf(seq, sizeof seq, "%d", i);
        if (crm_log_info(w->log, "tick", "thread", id, "seq", seq, "pad", i % 10 == 0 ? pad : "x"))
            w->failures++;
    }
    return NULL;
}

Test(crm_log, lines_from_threads_never_interleave)
{
    t_sink_t sink;
    t_sink_open(&sink);
    crm_log_t *log = NULL;
    cr_assert_eq(crm_log_new("contacts", sink.fds[1], CRM_LOG_INFO, &log), 0);
    pthread_t threads[T_THREADS];
    t_worker_t workers[T_THREADS];
    for (int i = 0; i < T_THREADS; i++) {
        workers[i] = (t_worker_t) { .log = log, .id = i };
        cr_assert_eq(pthread_create(&threads[i], NULL, t_worker, &workers[i]), 0);
    }
    for (int i = 0; i < T_THREADS; i++) {
        pthread_join(threads[i], NULL);
        cr_assert_eq(workers[i].failures, 0);
    }
    crm_log_destroy(&log);

    json_t *lines = t_sink_close(&sink);
    cr_assert_eq(json_array_size(lines), T_THREADS * T_LINES_PER_THREAD);
    /* Checked with plain code and one assertion at the end: under --full-stats every
     * Criterion assertion is a message to the runner, and millions of them take minutes. */
    int next[T_THREADS] = { 0 };
    size_t i, bad = 0;
    json_t *line;
    json_array_foreach(lines, i, line) {
        json_t *thread = json_object_get(line, "thread"), *seq = json_object_get(line, "seq");
        const char *pad = json_string_value(json_object_get(line, "pad"));
        int id = thread ? atoi(json_string_value(thread)) : -1;
        if (id < 0 || id >= T_THREADS || !seq || !pad
            || atoi(json_string_value(seq)) != next[id]) {
            bad++;
            continue;
        }
        next[id]++;
        for (const char *p = pad; *p && strcmp(pad, "x") != 0; p++)
            if (*p != 'a' + id) {
                bad++;
                break;
            }
    }
    cr_assert_eq(bad, 0, "%zu lines mixed up or out of order", bad);
    for (int t = 0; t < T_THREADS; t++)
        cr_assert_eq(next[t], T_LINES_PER_THREAD);
    json_decref(lines);
}

Test(crm_log, parses_levels_and_rejects_bad_arguments)
{
    crm_log_level_t level = CRM_LOG_ERROR;
    cr_assert_eq(crm_log_level_parse("debug", &level), 0);
    cr_assert_eq(level, CRM_LOG_DEBUG);
    cr_assert_eq(crm_log_level_parse("INFO", &level), 0);
    cr_assert_eq(level, CRM_LOG_INFO);
    cr_assert_eq(crm_log_level_parse("warning", &level), 0);
    cr_assert_eq(level, CRM_LOG_WARN);
    cr_assert_eq(crm_log_level_parse("error", &level), 0);
    cr_assert_eq(level, CRM_LOG_ERROR);
    cr_assert_eq(crm_log_level_parse("verbose", &level), CRM_EINVALID);
    cr_assert_eq(crm_log_level_parse("", &level), CRM_EINVALID);
    cr_assert_eq(crm_log_level_parse(NULL, &level), CRM_EINVALID);
    cr_assert_eq(level, CRM_LOG_ERROR);
    cr_assert_str_eq(crm_log_level_name(CRM_LOG_WARN), "warn");

    crm_log_t *log = (crm_log_t *) 1;
    cr_assert_eq(crm_log_new("", 2, CRM_LOG_INFO, &log), CRM_EINVALID);
    cr_assert_null(log);
    cr_assert_eq(crm_log_new(NULL, 2, CRM_LOG_INFO, &log), CRM_EINVALID);
    cr_assert_eq(crm_log_new("x", -1, CRM_LOG_INFO, &log), CRM_EINVALID);
    cr_assert_eq(crm_log_new("x", 2, (crm_log_level_t) 9, &log), CRM_EINVALID);
    char long_name[CRM_LOG_SERVICE_MAX + 2];
    memset(long_name, 's', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    cr_assert_eq(crm_log_new(long_name, 2, CRM_LOG_INFO, &log), CRM_EINVALID);
}

Test(crm_log, reports_a_failed_write)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    crm_log_t *log = NULL;
    cr_assert_eq(crm_log_new("contacts", fds[0], CRM_LOG_INFO, &log), 0);  /* read end */
    cr_assert_eq(crm_log_info(log, "lost"), CRM_EIO);
    crm_log_destroy(&log);
    close(fds[0]);
    close(fds[1]);
}
