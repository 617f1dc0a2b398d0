/* test_crm_metrics.c: crm_metrics registration, updates from threads and the text format. */
#include "crm_error.h"
#include "crm_metrics.h"

#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "crm_test.h"

/* Every test fails on leaked memory. */
TestSuite(crm_metrics, .fini = crm_test_check_leaks);

#define T_THREADS      4
#define T_PER_THREAD   100000

/* Checks that every line of text is a comment (# HELP / # TYPE) or a sample, that each family
 * has exactly one HELP and one TYPE line before its samples, and that the text ends with a
 * newline. Returns the number of sample lines. */
static size_t
t_check_format(const char *text)
{
    regex_t sample, help, type;
    cr_assert_eq(regcomp(&sample,
                         "^([a-zA-Z_:][a-zA-Z0-9_:]*)"
                         "(\\{[a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\\\]|\\\\.)*\""
                         "(,[a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\\\]|\\\\.)*\")*\\})?"
                         " ([-+]?[0-9.eE+-]+|NaN|\\+Inf|-Inf)$", REG_EXTENDED), 0);
    cr_assert_eq(regcomp(&help, "^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) ", REG_EXTENDED), 0);
    cr_assert_eq(regcomp(&type, "^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram)$",
                         REG_EXTENDED), 0);
    size_t samples = 0, len = strlen(text);
    cr_assert(len == 0 || text[len - 1] == '\n', "text does not end with a newline");
    char family[256] = "", seen[64][256];
    size_t n_seen = 0;
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        char line[2048];
        size_t n = (size_t) (nl - p);
        cr_assert(n < sizeof line);
        memcpy(line, p, n);
        line[n] = '\0';
        regmatch_t m[3];
        if (regexec(&help, line, 3, m, 0) == 0) {
            snprintf(family, sizeof family, "%.*s", (int) (m[1].rm_eo - m[1].rm_so),
                     line + m[1].rm_so);
            for (size_t i = 0; i < n_seen; i++)
                cr_assert_str_neq(seen[i], family, "family %s described twice", family);
            cr_assert(n_seen < 64);
            snprintf(seen[n_seen++], sizeof seen[0], "%s", family);
            /* The TYPE line follows at once. */
            const char *next = nl + 1;
            const char *nl2 = strchr(next, '\n');
            cr_assert_not_null(nl2);
            snprintf(line, sizeof line, "%.*s", (int) (nl2 - next), next);
            cr_assert_eq(regexec(&type, line, 3, m, 0), 0, "no TYPE after HELP: %s", line);
            cr_assert_eq(strncmp(line + m[1].rm_so, family, strlen(family)), 0);
            nl = nl2;
        }
        else {
            cr_assert_eq(regexec(&sample, line, 3, m, 0), 0, "bad line: %s", line);
            cr_assert_eq(strncmp(line, family, strlen(family)), 0,
                         "sample %s outside its family %s", line, family);
            samples++;
        }
        p = nl + 1;
    }
    regfree(&sample);
    regfree(&help);
    regfree(&type);
    return samples;
}

/* The value of the sample whose name and labels are exactly key, or NULL. Copied into out. */
static const char *
t_value(const char *text, const char *key, char *out, size_t size)
{
    size_t key_len = strlen(key);
    for (const char *p = text; *p; p = strchr(p, '\n') + 1) {
        if (strncmp(p, key, key_len) == 0 && p[key_len] == ' ') {
            const char *v = p + key_len + 1;
            snprintf(out, size, "%.*s", (int) (strchr(v, '\n') - v), v);
            return out;
        }
    }
    return NULL;
}

static void
t_assert_value(const char *text, const char *key, const char *want)
{
    char got[64];
    cr_assert_not_null(t_value(text, key, got, sizeof got), "no sample %s in:\n%s", key, text);
    cr_assert_str_eq(got, want, "%s is %s, want %s", key, got, want);
}

Test(crm_metrics, renders_the_text_format)
{
    crm_metrics_t *reg = NULL;
    cr_assert_eq(crm_metrics_new(&reg), 0);
    crm_metrics_counter_t *get = NULL, *put = NULL, *plain = NULL;
    crm_metrics_gauge_t *depth = NULL;
    crm_metrics_histogram_t *latency = NULL;
    cr_assert_eq(crm_metrics_counter(reg, "crm_rpc_requests_total", "RPC requests handled.",
                                     "method=\"contacts.Get\"", &get), 0);
    cr_assert_eq(crm_metrics_counter(reg, "crm_rpc_requests_total", "RPC requests handled.",
                                     "method=\"contacts.Put\"", &put), 0);
    cr_assert_eq(crm_metrics_gauge(reg, "crm_queue_depth", "Events waiting.\nSecond \\ line",
                                   NULL, &depth), 0);
    static const double bounds[] = { 0.005, 0.1, 1 };
    cr_assert_eq(crm_metrics_histogram(reg, "crm_rpc_seconds", "RPC latency.",
                                       "method=\"contacts.Get\"", bounds, 3, &latency), 0);
    cr_assert_eq(crm_metrics_counter(reg, "crm_started_total", "", "", &plain), 0);

    crm_metrics_counter_inc(get);
    crm_metrics_counter_add(get, 41);
    crm_metrics_counter_inc(put);
    crm_metrics_gauge_set(depth, 7.5);
    crm_metrics_gauge_add(depth, -2.25);
    crm_metrics_histogram_observe(latency, 0.005);   /* on a bound: counted in that bucket */
    crm_metrics_histogram_observe(latency, 0.05);
    crm_metrics_histogram_observe(latency, 0.5);
    crm_metrics_histogram_observe(latency, 30);
    crm_metrics_histogram_observe(latency, 30);

    char *text = NULL;
    size_t len = 0;
    cr_assert_eq(crm_metrics_render(reg, &text, &len), 0);
    cr_assert_eq(len, strlen(text));
    const char *want =
        "# HELP crm_rpc_requests_total RPC requests handled.\n"
        "# TYPE crm_rpc_requests_total counter\n"
        "crm_rpc_requests_total{method=\"contacts.Get\"} 42\n"
        "crm_rpc_requests_total{method=\"contacts.Put\"} 1\n"
        "# HELP crm_queue_depth Events waiting.\\nSecond \\\\ line\n"
        "# TYPE crm_queue_depth gauge\n"
        "crm_queue_depth 5.25\n"
        "# HELP crm_rpc_seconds RPC latency.\n"
        "# TYPE crm_rpc_seconds histogram\n"
        "crm_rpc_seconds_bucket{method=\"contacts.Get\",le=\"0.005\"} 1\n"
        "crm_rpc_seconds_bucket{method=\"contacts.Get\",le=\"0.1\"} 2\n"
        "crm_rpc_seconds_bucket{method=\"contacts.Get\",le=\"1\"} 3\n"
        "crm_rpc_seconds_bucket{method=\"contacts.Get\",le=\"+Inf\"} 5\n"
        "crm_rpc_seconds_sum{method=\"contacts.Get\"} 60.555\n"
        "crm_rpc_seconds_count{method=\"contacts.Get\"} 5\n"
        "# HELP crm_started_total \n"
        "# TYPE crm_started_total counter\n"
        "crm_started_total 0\n";
    cr_assert_str_eq(text, want);
    cr_assert_eq(t_check_format(text), 10);
    free(text);

    cr_assert_eq(crm_metrics_counter_value(get), 42);
    cr_assert_float_eq(crm_metrics_gauge_value(depth), 5.25, 1e-12);
    cr_assert_eq(crm_metrics_histogram_count(latency), 5);
    cr_assert_float_eq(crm_metrics_histogram_sum(latency), 60.555, 1e-9);
    crm_metrics_destroy(&reg);
    cr_assert_null(reg);
    crm_metrics_destroy(&reg);
}

Test(crm_metrics, empty_registry_renders_nothing)
{
    crm_metrics_t *reg = NULL;
    cr_assert_eq(crm_metrics_new(&reg), 0);
    char *text = NULL;
    cr_assert_eq(crm_metrics_render(reg, &text, NULL), 0);
    cr_assert_str_eq(text, "");
    free(text);
    crm_metrics_destroy(&reg);
}

Test(crm_metrics, writes_special_and_exact_numbers)
{
    crm_metrics_t *reg = NULL;
    cr_assert_eq(crm_metrics_new(&reg), 0);
    const struct { const char *labels; double value; const char *text; } cases[] = {
        { "v=\"nan\"", NAN, "NaN" },
        { "v=\"inf\"", INFINITY, "+Inf" },
        { "v=\"-inf\"", -INFINITY, "-Inf" },
        { "v=\"tenth\"", 0.1, "0.1" },
        { "v=\"third\"", 1.0 / 3.0, "0.33333333333333331" },
        { "v=\"big\"", 1e21, "1e+21" },
        { "v=\"int\"", 3, "3" },
        { "v=\"neg\"", -2.5, "-2.5" },
    };
    size_t n = sizeof cases / sizeof cases[0];
    for (size_t i = 0; i < n; i++) {
        crm_metrics_gauge_t *g = NULL;
        cr_assert_eq(crm_metrics_gauge(reg, "crm_value", "A value.", cases[i].labels, &g), 0);
        crm_metrics_gauge_set(g, cases[i].value);
    }
    crm_metrics_counter_t *huge = NULL;
    cr_assert_eq(crm_metrics_counter(reg, "crm_huge_total", "Big.", NULL, &huge), 0);
    crm_metrics_counter_add(huge, UINT64_MAX);

    char *text = NULL;
    cr_assert_eq(crm_metrics_render(reg, &text, NULL), 0);
    cr_assert_eq(t_check_format(text), n + 1);
    for (size_t i = 0; i < n; i++) {
        char key[128];
        snprintf(key, sizeof key, "crm_value{%s}", cases[i].labels);
        t_assert_value(text, key, cases[i].text);
        if (isfinite(cases[i].value)) {
            char got[64];
            t_value(text, key, got, sizeof got);
            cr_assert_eq(strtod(got, NULL), cases[i].value, "%s does not read back", got);
        }
    }
    t_assert_value(text, "crm_huge_total", "18446744073709551615");
    free(text);
    crm_metrics_destroy(&reg);
}

Test(crm_metrics, same_name_and_labels_give_the_same_handle)
{
    crm_metrics_t *reg = NULL;
    cr_assert_eq(crm_metrics_new(&reg), 0);
    crm_metrics_counter_t *a = NULL, *b = NULL, *c = NULL;
    cr_assert_eq(crm_metrics_counter(reg, "crm_x_total", "X.", "a=\"1\",b=\"2\"", &a), 0);
    cr_assert_eq(crm_metrics_counter(reg, "crm_x_total", "X.", "b=\"2\",a=\"1\"", &b), 0);
    cr_assert_eq(a, b, "label order must not make a new series");
    cr_assert_eq(crm_metrics_counter(reg, "crm_x_total", "X.", "a=\"1\",b=\"3\"", &c), 0);
    cr_assert_neq(a, c);
    crm_metrics_counter_inc(a);
    crm_metrics_counter_inc(b);
    char *text = NULL;
    cr_assert_eq(crm_metrics_render(reg, &text, NULL), 0);
    t_assert_value(text, "crm_x_total{a=\"1\",b=\"2\"}", "2");
    t_assert_value(text, "crm_x_total{a=\"1\",b=\"3\"}", "0");
    cr_assert_eq(t_check_format(text), 2);
    free(text);
    crm_metrics_destroy(&reg);
}

Test(crm_metrics, rejects_bad_registrations)
{
    crm_metrics_t *reg = NULL;
    cr_assert_eq(crm_metrics_new(&reg), 0);
    crm_metrics_counter_t *c = (crm_metrics_counter_t *) 1;
    crm_metrics_gauge_t *g = NULL;
    crm_metrics_histogram_t *h = NULL;

    const char *bad_names[] = { "", "1abc", "crm-x", "crm x", "é" };
    for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++)
        cr_assert_eq(crm_metrics_counter(reg, bad_names[i], "h", NULL, &c), CRM_EINVALID,
                     "name %s", bad_names[i]);
    cr_assert_null(c);
    cr_assert_eq(crm_metrics_counter(reg, NULL, "h", NULL, &c), CRM_EINVALID);
    cr_assert_eq(crm_metrics_counter(reg, "crm:ok_total", "h", NULL, &c), 0);

    const char *bad_labels[] = {
        "a", "a=", "a=\"", "a=1", "a=\"x\",", ",a=\"x\"", "a=\"x\" ", "a=\"x\",a=\"y\"",
        "1a=\"x\"", "__a=\"x\"", "a=\"bad\\escape\"", "a=\"raw\nnewline\"", "a=\"\xff\"",
        "a=\"x\"b=\"y\"", "a-b=\"x\"",
    };
    for (size_t i = 0; i < sizeof bad_labels / sizeof bad_labels[0]; i++)
        cr_assert_eq(crm_metrics_counter(reg, "crm_l_total", "h", bad_labels[i], &c),
                     CRM_EINVALID, "labels %s", bad_labels[i]);
    cr_assert_eq(crm_metrics_counter(reg, "crm_l_total", "h",
                                     "a=\"q\\\"uote \\\\ nl\\n \xc3\xa9\",_b1=\"\"", &c), 0);

    char long_name[CRM_METRICS_NAME_MAX + 2];
    memset(long_name, 'n', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    cr_assert_eq(crm_metrics_counter(reg, long_name, "h", NULL, &c), CRM_EINVALID);
    char long_help[CRM_METRICS_HELP_MAX + 2];
    memset(long_help, 'h', sizeof long_help - 1);
    long_help[sizeof long_help - 1] = '\0';
    cr_assert_eq(crm_metrics_counter(reg, "crm_h_total", long_help, NULL, &c), CRM_EINVALID);

    /* Conflicts with an existing family. */
    cr_assert_eq(crm_metrics_gauge(reg, "crm:ok_total", "h", NULL, &g), CRM_ECONFLICT);
    cr_assert_null(g);
    cr_assert_eq(crm_metrics_counter(reg, "crm:ok_total", "other help", NULL, &c), CRM_ECONFLICT);

    /* Histogram bounds and the reserved le label. */
    const double good[] = { 1, 2, 3 };
    const double unsorted[] = { 1, 3, 2 };
    const double repeated[] = { 1, 1 };
    const double with_nan[] = { 1, NAN };
    const double with_inf[] = { 1, INFINITY };
    double many[CRM_METRICS_MAX_BOUNDS + 1];
    for (size_t i = 0; i < sizeof many / sizeof many[0]; i++)
        many[i] = (double) i;
    cr_assert_eq(crm_metrics_histogram(reg, "crm_h", "h", NULL, unsorted, 3, &h), CRM_EINVALID);
    cr_assert_eq(crm_metrics_histogram(reg, "crm_h", "h", NULL, repeated, 2, &h), CRM_EINVALID);
    cr_assert_eq(crm_metrics_histogram(reg, "crm_h", "h", NULL, with_nan, 2, &h), CRM_EINVALID);
    cr_assert_eq(crm_metrics_histogram(reg, "crm_h", "h", NULL, with_inf, 2, &h), CRM_EINVALID);
    cr_assert_eq(crm_metrics_histogram(reg, "crm_h", "h", NULL, many, CRM_METRICS_MAX_BOUNDS + 1,
                                       &h), CRM_EINVALID);
    cr_assert_eq(crm_metrics_histogram(reg, "crm_h", "h", NULL, NULL, 2, &h), CRM_EINVALID);
    cr_assert_eq(crm_metrics_histogram(reg, "crm_h", "h", "le=\"1\"", good, 3, &h), CRM_EINVALID);
    cr_assert_eq(crm_metrics_histogram(reg, "crm_h", "h", NULL, many, CRM_METRICS_MAX_BOUNDS, &h),
                 0);
    cr_assert_eq(crm_metrics_histogram(reg, "crm_h", "h", "a=\"1\"", good, 3, &h), CRM_ECONFLICT);
    cr_assert_eq(crm_metrics_histogram(reg, "crm_none", "h", NULL, NULL, 0, &h), 0);
    crm_metrics_histogram_observe(h, -5);

    /* Failed registrations leave no trace in the output. */
    char *text = NULL;
    cr_assert_eq(crm_metrics_render(reg, &text, NULL), 0);
    cr_assert_null(strstr(text, "crm_l_total{a=\"x\"}"));
    cr_assert_null(strstr(text, "crm_h_total"));
    t_assert_value(text, "crm_none_bucket{le=\"+Inf\"}", "1");
    t_assert_value(text, "crm_none_count", "1");
    t_assert_value(text, "crm_none_sum", "-5");
    t_assert_value(text, "crm_h_bucket{le=\"31\"}", "0");
    t_check_format(text);
    free(text);
    crm_metrics_destroy(&reg);
}

Test(crm_metrics, enforces_the_limits)
{
    crm_metrics_t *reg = NULL;
    cr_assert_eq(crm_metrics_new(&reg), 0);
    crm_metrics_counter_t *c = NULL;
    char name[64], labels[64];
    /* Plain checks in the loops: each Criterion assertion costs a message under --full-stats. */
    int failures = 0;
    for (int i = 0; i < CRM_METRICS_MAX_FAMILIES; i++) {
        snprintf(name, sizeof name, "crm_family_%d_total", i);
        failures += crm_metrics_counter(reg, name, "h", NULL, &c) != 0;
    }
    cr_assert_eq(failures, 0);
    cr_assert_eq(crm_metrics_counter(reg, "crm_one_more_total", "h", NULL, &c), CRM_ELIMIT);
    /* The family that could not be added leaves no trace; an existing one still takes series. */
    int rc = 0, added = 0;
    for (int i = 0; rc == 0 && i <= CRM_METRICS_MAX_SERIES; i++) {
        snprintf(labels, sizeof labels, "i=\"%d\"", i);
        rc = crm_metrics_counter(reg, "crm_family_0_total", "h", labels, &c);
        added += rc == 0;
    }
    cr_assert_eq(rc, CRM_ELIMIT);
    cr_assert_eq(added, CRM_METRICS_MAX_SERIES - CRM_METRICS_MAX_FAMILIES);
    char *text = NULL;
    cr_assert_eq(crm_metrics_render(reg, &text, NULL), 0);
    cr_assert_null(strstr(text, "crm_one_more_total"));
    size_t lines = 0;
    for (const char *p = text; *p; p++)
        lines += *p == '\n';
    /* Two comment lines per family and one line per series. */
    cr_assert_eq(lines, 2 * CRM_METRICS_MAX_FAMILIES + CRM_METRICS_MAX_SERIES);
    free(text);
    crm_metrics_destroy(&reg);
}

typedef struct {
    crm_metrics_t *reg;
    crm_metrics_counter_t *counter;
    crm_metrics_gauge_t *gauge;
    crm_metrics_histogram_t *histogram;
    crm_metrics_counter_t *registered;    /* what this thread's own registration returned */
    int failures;
} t_worker_t;

static void *
t_worker(void *arg)
{
    t_worker_t *w = arg;
    static const double bounds[] = { 1, 2 };
    crm_metrics_histogram_t *h = NULL;
    if (crm_metrics_counter(w->reg, "crm_shared_total", "Shared.", "k=\"v\"", &w->registered)
        || crm_metrics_histogram(w->reg, "crm_shared_seconds", "Shared.", NULL, bounds, 2, &h)
        || h != w->histogram)
        w->failures++;
    for (int i = 0; i < T_PER_THREAD; i++) {
        crm_metrics_counter_inc(w->counter);
        crm_metrics_counter_inc(w->registered);
        crm_metrics_gauge_add(w->gauge, 1.0);
        crm_metrics_histogram_observe(w->histogram, i % 2 ? 0.5 : 1.5);
        if (i % 1000 == 0) {
            char *text = NULL;
            if (crm_metrics_render(w->reg, &text, NULL))
                w->failures++;
            free(text);
        }
    }
    return NULL;
}

Test(crm_metrics, concurrent_updates_give_exact_totals)
{
    crm_metrics_t *reg = NULL;
    cr_assert_eq(crm_metrics_new(&reg), 0);
    static const double bounds[] = { 1, 2 };
    crm_metrics_counter_t *counter = NULL;
    crm_metrics_gauge_t *gauge = NULL;
    crm_metrics_histogram_t *histogram = NULL;
    cr_assert_eq(crm_metrics_counter(reg, "crm_ops_total", "Ops.", NULL, &counter), 0);
    cr_assert_eq(crm_metrics_gauge(reg, "crm_level", "Level.", NULL, &gauge), 0);
    cr_assert_eq(crm_metrics_histogram(reg, "crm_shared_seconds", "Shared.", NULL, bounds, 2,
                                       &histogram), 0);
    pthread_t threads[T_THREADS];
    t_worker_t workers[T_THREADS];
    for (int i = 0; i < T_THREADS; i++) {
        workers[i] = (t_worker_t) { .reg = reg, .counter = counter, .gauge = gauge,
                                    .histogram = histogram };
        cr_assert_eq(pthread_create(&threads[i], NULL, t_worker, &workers[i]), 0);
    }
    for (int i = 0; i < T_THREADS; i++) {
        pthread_join(threads[i], NULL);
        cr_assert_eq(workers[i].failures, 0);
        cr_assert_eq(workers[i].registered, workers[0].registered);
    }
    const unsigned long long total = (unsigned long long) T_THREADS * T_PER_THREAD;
    cr_assert_eq(crm_metrics_counter_value(counter), total);
    cr_assert_eq(crm_metrics_counter_value(workers[0].registered), total);
    cr_assert_eq(crm_metrics_gauge_value(gauge), (double) total);
    cr_assert_eq(crm_metrics_histogram_count(histogram), total);
    cr_assert_eq(crm_metrics_histogram_sum(histogram), (double) total);   /* 0.5 + 1.5 pairs */

    char *text = NULL, want[32];
    cr_assert_eq(crm_metrics_render(reg, &text, NULL), 0);
    snprintf(want, sizeof want, "%llu", total);
    t_assert_value(text, "crm_ops_total", want);
    t_assert_value(text, "crm_shared_total{k=\"v\"}", want);
    t_assert_value(text, "crm_level", want);
    t_assert_value(text, "crm_shared_seconds_count", want);
    t_assert_value(text, "crm_shared_seconds_bucket{le=\"+Inf\"}", want);
    snprintf(want, sizeof want, "%llu", total / 2);
    t_assert_value(text, "crm_shared_seconds_bucket{le=\"1\"}", want);
    t_check_format(text);
    free(text);
    crm_metrics_destroy(&reg);
}

Test(crm_metrics, latency_bounds_are_usable)
{
    crm_metrics_t *reg = NULL;
    cr_assert_eq(crm_metrics_new(&reg), 0);
    crm_metrics_histogram_t *h = NULL;
    cr_assert_eq(crm_metrics_histogram(reg, "crm_latency_seconds", "Latency.", NULL,
                                       crm_metrics_latency_bounds,
                                       CRM_METRICS_LATENCY_BOUNDS_COUNT, &h), 0);
    crm_metrics_histogram_observe(h, 0.0004);
    crm_metrics_histogram_observe(h, 11);
    char *text = NULL;
    cr_assert_eq(crm_metrics_render(reg, &text, NULL), 0);
    cr_assert_eq(t_check_format(text), CRM_METRICS_LATENCY_BOUNDS_COUNT + 3);
    t_assert_value(text, "crm_latency_seconds_bucket{le=\"0.0005\"}", "1");
    t_assert_value(text, "crm_latency_seconds_bucket{le=\"10\"}", "1");
    t_assert_value(text, "crm_latency_seconds_bucket{le=\"+Inf\"}", "2");
    free(text);
    crm_metrics_destroy(&reg);
}
