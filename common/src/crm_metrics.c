/* crm_metrics.c: counters, gauges and histograms, rendered in the Prometheus text format 0.0.4. */
#include "crm_metrics.h"

#include "crm_error.h"

#include <assert.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Updates must be lock-free: 64-bit atomics have to be native. */
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "64-bit atomics are not lock-free on this target");
_Static_assert(sizeof(unsigned long long) == sizeof(double), "a double must fit a 64-bit word");

#define S_MAX_PAIRS      (CRM_METRICS_LABELS_MAX / 4)   /* a="" is the shortest pair */
#define S_NUMBER_MAX     40                              /* a double as text, with its NUL */
#define S_SHORT_DIGITS   15                              /* try this precision first */
#define S_ROUND_DIGITS   17                              /* always enough to read back exactly */
#define S_RENDER_INITIAL 4096                            /* first size of the render buffer */

const double crm_metrics_latency_bounds[CRM_METRICS_LATENCY_BOUNDS_COUNT] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10
};

typedef enum { S_COUNTER, S_GAUGE, S_HISTOGRAM } s_type_t;

static const char *const s_type_names[] = { "counter", "gauge", "histogram" };

/* One series. value is the count of a counter, the bits of a gauge's double, or the bits of a
 * histogram's sum; buckets (histograms only) holds n_bounds + 1 non-cumulative counts, the last
 * one for +Inf. */
typedef struct s_family s_family_t;

typedef struct s_series {
    struct s_series *next;
    const s_family_t *family;      /* for a histogram's bounds */
    char *labels;                  /* normalised label text, "" for none */
    atomic_ullong value;
    atomic_ullong *buckets;
} s_series_t;

/* The handle types are a series; each keeps its own name so the compiler tells them apart. */
struct crm_metrics_counter { s_series_t s; };
struct crm_metrics_gauge { s_series_t s; };
struct crm_metrics_histogram { s_series_t s; };

struct s_family {
    char *name;
    char *help;
    s_type_t type;
    size_t n_bounds;
    double *bounds;
    char (*bound_text)[S_NUMBER_MAX];   /* each bound as written in le="..." */
    s_series_t *head, *tail;
};

struct crm_metrics {
    pthread_mutex_t lock;          /* guards the families and their series lists */
    s_family_t *families[CRM_METRICS_MAX_FAMILIES];
    size_t n_families;
    size_t n_series;
};

/* A growing text buffer for rendering. */
typedef struct {
    char *data;
    size_t len, cap;
    bool failed;
} s_buf_t;

static uint64_t
s_double_bits(double d)
{
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits);
    return bits;
}

static double
s_bits_double(uint64_t bits)
{
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

/* Writes v as the text format wants it: NaN, +Inf, -Inf, or the shortest of %.15g and %.17g
 * that reads back as the same double. */
static void
s_format_double(double v, char out[S_NUMBER_MAX])
{
    if (isnan(v)) {
        snprintf(out, S_NUMBER_MAX, "NaN");
        return;
    }
    if (isinf(v)) {
        snprintf(out, S_NUMBER_MAX, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    snprintf(out, S_NUMBER_MAX, "%.*g", S_SHORT_DIGITS, v);
    if (strtod(out, NULL) != v)
        snprintf(out, S_NUMBER_MAX, "%.*g", S_ROUND_DIGITS, v);
}

static bool
s_name_valid(const char *name, bool colons)
{
    if (!name || !*name)
        return false;
    for (const char *p = name; *p; p++) {
        bool alpha = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_'
                     || (colons && *p == ':');
        bool digit = *p >= '0' && *p <= '9';
        if (!alpha && !(digit && p != name))
            return false;
    }
    return true;
}

/* Length of the valid UTF-8 sequence at s (2 to 4 bytes, s[0] >= 0x80), or 0. */
static size_t
s_utf8_length(const unsigned char *s)
{
    unsigned char c = s[0], lo = 0x80, hi = 0xBF;
    size_t n;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        lo = c == 0xE0 ? 0xA0 : 0x80;
        hi = c == 0xED ? 0x9F : 0xBF;
    }
    else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        lo = c == 0xF0 ? 0x90 : 0x80;
        hi = c == 0xF4 ? 0x8F : 0xBF;
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

/* One label pair inside the caller's text: the name and the whole pair. */
typedef struct {
    const char *name;
    size_t name_len;
    const char *pair;
    size_t pair_len;
} s_pair_t;

static int
s_pair_compare(const void *a, const void *b)
{
    const s_pair_t *x = a, *y = b;
    size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
    int c = memcmp(x->name, y->name, n);
    if (c)
        return c;
    return (x->name_len > y->name_len) - (x->name_len < y->name_len);
}

/* Checks labels and writes them into out (CRM_METRICS_LABELS_MAX + 1 bytes) with the pairs
 * sorted by name, so that the same set written in another order is the same series.
 * Returns 0 or CRM_EINVALID. */
static int
s_labels_normalise(const char *labels, bool histogram, char *out)
{
    out[0] = '\0';
    if (!labels || !*labels)
        return 0;
    if (strlen(labels) > CRM_METRICS_LABELS_MAX)
        return CRM_EINVALID;
    s_pair_t pairs[S_MAX_PAIRS];
    size_t n = 0;
    const char *p = labels;
    for (;;) {
        assert(n < S_MAX_PAIRS);
        s_pair_t *pair = &pairs[n++];
        pair->name = pair->pair = p;
        while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_'
               || (*p >= '0' && *p <= '9' && p != pair->name))
            p++;
        pair->name_len = (size_t) (p - pair->name);
        if (pair->name_len == 0 || p[0] != '=' || p[1] != '"')
            return CRM_EINVALID;
        if (pair->name_len >= 2 && pair->name[0] == '_' && pair->name[1] == '_')
            return CRM_EINVALID;
        if (histogram && pair->name_len == 2 && memcmp(pair->name, "le", 2) == 0)
            return CRM_EINVALID;
        p += 2;
        while (*p != '"') {
            const unsigned char c = (unsigned char) *p;
            if (c == '\0' || c < 0x20)
                return CRM_EINVALID;
            if (c == '\\') {
                if (p[1] != '\\' && p[1] != '"' && p[1] != 'n')
                    return CRM_EINVALID;
                p += 2;
            }
            else if (c >= 0x80) {
                size_t len = s_utf8_length((const unsigned char *) p);
                if (len == 0)
                    return CRM_EINVALID;
                p += len;
            }
            else
                p++;
        }
        p++;
        pair->pair_len = (size_t) (p - pair->pair);
        if (*p == '\0')
            break;
        if (*p != ',' || p[1] == '\0')
            return CRM_EINVALID;
        p++;
    }
    qsort(pairs, n, sizeof pairs[0], s_pair_compare);
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && s_pair_compare(&pairs[i - 1], &pairs[i]) == 0)
            return CRM_EINVALID;   /* a label name given twice */
        if (i > 0)
            out[len++] = ',';
        memcpy(out + len, pairs[i].pair, pairs[i].pair_len);
        len += pairs[i].pair_len;
    }
    assert(len <= CRM_METRICS_LABELS_MAX);
    out[len] = '\0';
    return 0;
}

static void
s_series_free(s_series_t *series)
{
    if (!series)
        return;
    free(series->labels);
    free(series->buckets);
    free(series);
}

static void
s_family_free(s_family_t *family)
{
    if (!family)
        return;
    s_series_t *series = family->head;
    while (series) {
        s_series_t *next = series->next;
        s_series_free(series);
        series = next;
    }
    free(family->name);
    free(family->help);
    free(family->bounds);
    free(family->bound_text);
    free(family);
}

static s_family_t *
s_family_new(const char *name, const char *help, s_type_t type, const double *bounds,
             size_t n_bounds)
{
    s_family_t *family = calloc(1, sizeof *family);
    if (!family)
        return NULL;
    family->type = type;
    family->n_bounds = n_bounds;
    family->name = strdup(name);
    family->help = strdup(help);
    if (!family->name || !family->help)
        goto fail;
    if (type == S_HISTOGRAM && n_bounds > 0) {
        family->bounds = malloc(n_bounds * sizeof *family->bounds);
        family->bound_text = malloc(n_bounds * sizeof *family->bound_text);
        if (!family->bounds || !family->bound_text)
            goto fail;
        memcpy(family->bounds, bounds, n_bounds * sizeof *bounds);
        for (size_t i = 0; i < n_bounds; i++)
            s_format_double(bounds[i], family->bound_text[i]);
    }
    return family;
fail:
    s_family_free(family);
    return NULL;
}

static s_series_t *
s_series_new(const s_family_t *family, const char *labels)
{
    /* Allocated with the size of the largest handle type, which all wrap one series. */
    s_series_t *series = calloc(1, sizeof(struct crm_metrics_histogram));
    if (!series)
        return NULL;
    series->family = family;
    atomic_init(&series->value, family->type == S_COUNTER ? 0 : s_double_bits(0.0));
    series->labels = strdup(labels);
    if (!series->labels)
        goto fail;
    if (family->type == S_HISTOGRAM) {
        series->buckets = calloc(family->n_bounds + 1, sizeof *series->buckets);
        if (!series->buckets)
            goto fail;
        for (size_t i = 0; i <= family->n_bounds; i++)
            atomic_init(&series->buckets[i], 0);
    }
    return series;
fail:
    s_series_free(series);
    return NULL;
}

int
crm_metrics_new(crm_metrics_t **reg_p)
{
    assert(reg_p);
    *reg_p = NULL;
    crm_metrics_t *reg = calloc(1, sizeof *reg);
    if (!reg)
        return CRM_ENOMEM;
    if (pthread_mutex_init(&reg->lock, NULL) != 0) {
        free(reg);
        return CRM_ENOMEM;
    }
    *reg_p = reg;
    return 0;
}

void
crm_metrics_destroy(crm_metrics_t **reg_p)
{
    if (!reg_p || !*reg_p)
        return;
    crm_metrics_t *reg = *reg_p;
    for (size_t i = 0; i < reg->n_families; i++)
        s_family_free(reg->families[i]);
    pthread_mutex_destroy(&reg->lock);
    free(reg);
    *reg_p = NULL;
}

/* Finds or adds the family and the series for labels. */
static int
s_register(crm_metrics_t *reg, s_type_t type, const char *name, const char *help,
           const char *labels, const double *bounds, size_t n_bounds, s_series_t **series_p)
{
    assert(reg);
    assert(series_p);
    *series_p = NULL;
    if (!help)
        help = "";
    if (!s_name_valid(name, true) || strlen(name) > CRM_METRICS_NAME_MAX
        || strlen(help) > CRM_METRICS_HELP_MAX)
        return CRM_EINVALID;
    if (type == S_HISTOGRAM) {
        if (n_bounds > CRM_METRICS_MAX_BOUNDS || (n_bounds > 0 && !bounds))
            return CRM_EINVALID;
        for (size_t i = 0; i < n_bounds; i++)
            if (!isfinite(bounds[i]) || (i > 0 && !(bounds[i] > bounds[i - 1])))
                return CRM_EINVALID;
    }
    char normal[CRM_METRICS_LABELS_MAX + 1];
    int rc = s_labels_normalise(labels, type == S_HISTOGRAM, normal);
    if (rc)
        return rc;

    pthread_mutex_lock(&reg->lock);
    s_family_t *family = NULL;
    bool family_added = false;
    for (size_t i = 0; i < reg->n_families && !family; i++)
        if (strcmp(reg->families[i]->name, name) == 0)
            family = reg->families[i];
    if (family) {
        if (family->type != type || strcmp(family->help, help) != 0
            || (type == S_HISTOGRAM
                && (family->n_bounds != n_bounds
                    || (n_bounds > 0
                        && memcmp(family->bounds, bounds, n_bounds * sizeof *bounds) != 0)))) {
            rc = CRM_ECONFLICT;
            goto out;
        }
    }
    else {
        if (reg->n_families == CRM_METRICS_MAX_FAMILIES) {
            rc = CRM_ELIMIT;
            goto out;
        }
        family = s_family_new(name, help, type, bounds, n_bounds);
        if (!family) {
            rc = CRM_ENOMEM;
            goto out;
        }
        reg->families[reg->n_families++] = family;
        family_added = true;
    }

    for (s_series_t *series = family->head; series; series = series->next) {
        if (strcmp(series->labels, normal) == 0) {
            *series_p = series;
            goto out;
        }
    }
    if (reg->n_series == CRM_METRICS_MAX_SERIES) {
        rc = CRM_ELIMIT;
        goto out;
    }
    s_series_t *series = s_series_new(family, normal);
    if (!series) {
        rc = CRM_ENOMEM;
        goto out;
    }
    if (family->tail)
        family->tail->next = series;
    else
        family->head = series;
    family->tail = series;
    reg->n_series++;
    *series_p = series;
out:
    if (rc && family_added) {
        /* A family made for this call and left without a series is taken back. */
        reg->n_families--;
        s_family_free(family);
    }
    pthread_mutex_unlock(&reg->lock);
    return rc;
}

int
crm_metrics_counter(crm_metrics_t *reg, const char *name, const char *help, const char *labels,
                    crm_metrics_counter_t **counter_p)
{
    s_series_t *series;
    int rc = s_register(reg, S_COUNTER, name, help, labels, NULL, 0, &series);
    *counter_p = rc ? NULL : (crm_metrics_counter_t *) series;
    return rc;
}

int
crm_metrics_gauge(crm_metrics_t *reg, const char *name, const char *help, const char *labels,
                  crm_metrics_gauge_t **gauge_p)
{
    s_series_t *series;
    int rc = s_register(reg, S_GAUGE, name, help, labels, NULL, 0, &series);
    *gauge_p = rc ? NULL : (crm_metrics_gauge_t *) series;
    return rc;
}

int
crm_metrics_histogram(crm_metrics_t *reg, const char *name, const char *help,
                      const char *labels, const double *bounds, size_t n_bounds,
                      crm_metrics_histogram_t **histogram_p)
{
    s_series_t *series;
    int rc = s_register(reg, S_HISTOGRAM, name, help, labels, bounds, n_bounds, &series);
    *histogram_p = rc ? NULL : (crm_metrics_histogram_t *) series;
    return rc;
}

/* Adds delta to the double held as bits in word, by compare-and-swap. */
static void
s_add_double(atomic_ullong *word, double delta)
{
    unsigned long long old = atomic_load_explicit(word, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(word, &old,
                                                  s_double_bits(s_bits_double(old) + delta),
                                                  memory_order_relaxed, memory_order_relaxed))
        ;
}

void
crm_metrics_counter_inc(crm_metrics_counter_t *counter)
{
    crm_metrics_counter_add(counter, 1);
}

void
crm_metrics_counter_add(crm_metrics_counter_t *counter, uint64_t n)
{
    assert(counter);
    atomic_fetch_add_explicit(&counter->s.value, n, memory_order_relaxed);
}

void
crm_metrics_gauge_set(crm_metrics_gauge_t *gauge, double value)
{
    assert(gauge);
    atomic_store_explicit(&gauge->s.value, s_double_bits(value), memory_order_relaxed);
}

void
crm_metrics_gauge_add(crm_metrics_gauge_t *gauge, double delta)
{
    assert(gauge);
    s_add_double(&gauge->s.value, delta);
}

void
crm_metrics_histogram_observe(crm_metrics_histogram_t *histogram, double value)
{
    assert(histogram);
    const s_family_t *family = histogram->s.family;
    size_t bucket = 0;
    while (bucket < family->n_bounds && !(value <= family->bounds[bucket]))
        bucket++;
    atomic_fetch_add_explicit(&histogram->s.buckets[bucket], 1, memory_order_relaxed);
    s_add_double(&histogram->s.value, value);
}

uint64_t
crm_metrics_counter_value(const crm_metrics_counter_t *counter)
{
    assert(counter);
    /* C11's atomic_load takes a pointer to non-const; the value is only read. */
    return atomic_load_explicit(&((crm_metrics_counter_t *) counter)->s.value,
                                memory_order_relaxed);
}

double
crm_metrics_gauge_value(const crm_metrics_gauge_t *gauge)
{
    assert(gauge);
    return s_bits_double(atomic_load_explicit(&((crm_metrics_gauge_t *) gauge)->s.value,
                                              memory_order_relaxed));
}

uint64_t
crm_metrics_histogram_count(const crm_metrics_histogram_t *histogram)
{
    assert(histogram);
    s_series_t *series = &((crm_metrics_histogram_t *) histogram)->s;
    uint64_t count = 0;
    for (size_t i = 0; i <= series->family->n_bounds; i++)
        count += atomic_load_explicit(&series->buckets[i], memory_order_relaxed);
    return count;
}

double
crm_metrics_histogram_sum(const crm_metrics_histogram_t *histogram)
{
    assert(histogram);
    return s_bits_double(atomic_load_explicit(&((crm_metrics_histogram_t *) histogram)->s.value,
                                              memory_order_relaxed));
}

static void
s_buf_reserve(s_buf_t *buf, size_t more)
{
    if (buf->failed || buf->len + more + 1 <= buf->cap)
        return;
    size_t cap = buf->cap ? buf->cap : S_RENDER_INITIAL;
    while (cap < buf->len + more + 1)
        cap *= 2;
    char *data = realloc(buf->data, cap);
    if (!data) {
        buf->failed = true;
        return;
    }
    buf->data = data;
    buf->cap = cap;
}

static void
s_buf_put(s_buf_t *buf, const char *text, size_t len)
{
    s_buf_reserve(buf, len);
    if (buf->failed)
        return;
    memcpy(buf->data + buf->len, text, len);
    buf->len += len;
    buf->data[buf->len] = '\0';
}

static void s_buf_printf(s_buf_t *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
s_buf_printf(s_buf_t *buf, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    int n = vsnprintf(NULL, 0, fmt, args);
    va_end(args);
    assert(n >= 0);
    s_buf_reserve(buf, (size_t) n);
    if (buf->failed)
        return;
    va_start(args, fmt);
    vsnprintf(buf->data + buf->len, buf->cap - buf->len, fmt, args);
    va_end(args);
    buf->len += (size_t) n;
}

/* Help text with \ and newline escaped, as # HELP wants. */
static void
s_buf_put_help(s_buf_t *buf, const char *help)
{
    for (const char *p = help; *p; p++) {
        if (*p == '\\')
            s_buf_put(buf, "\\\\", 2);
        else if (*p == '\n')
            s_buf_put(buf, "\\n", 2);
        else
            s_buf_put(buf, p, 1);
    }
}

/* name{labels} or name{labels,le="bound"} or name, then the value. */
static void
s_buf_put_sample(s_buf_t *buf, const char *name, const char *suffix, const char *labels,
                 const char *le, const char *value)
{
    s_buf_printf(buf, "%s%s", name, suffix);
    if (*labels || le) {
        s_buf_printf(buf, "{%s", labels);
        if (le)
            s_buf_printf(buf, "%sle=\"%s\"", *labels ? "," : "", le);
        s_buf_put(buf, "}", 1);
    }
    s_buf_printf(buf, " %s\n", value);
}

static void
s_render_series(s_buf_t *buf, const s_family_t *family, s_series_t *series)
{
    char number[S_NUMBER_MAX];
    unsigned long long raw = atomic_load_explicit(&series->value, memory_order_relaxed);
    switch (family->type) {
    case S_COUNTER:
        snprintf(number, sizeof number, "%llu", raw);
        s_buf_put_sample(buf, family->name, "", series->labels, NULL, number);
        break;
    case S_GAUGE:
        s_format_double(s_bits_double(raw), number);
        s_buf_put_sample(buf, family->name, "", series->labels, NULL, number);
        break;
    case S_HISTOGRAM: {
        /* Read each bucket once; _count is the +Inf bucket, so the two always agree. */
        unsigned long long cumulative = 0;
        for (size_t i = 0; i <= family->n_bounds; i++) {
            cumulative += atomic_load_explicit(&series->buckets[i], memory_order_relaxed);
            snprintf(number, sizeof number, "%llu", cumulative);
            s_buf_put_sample(buf, family->name, "_bucket", series->labels,
                             i < family->n_bounds ? family->bound_text[i] : "+Inf", number);
        }
        s_format_double(s_bits_double(raw), number);
        s_buf_put_sample(buf, family->name, "_sum", series->labels, NULL, number);
        snprintf(number, sizeof number, "%llu", cumulative);
        s_buf_put_sample(buf, family->name, "_count", series->labels, NULL, number);
        break;
    }
    }
}

int
crm_metrics_render(crm_metrics_t *reg, char **text_p, size_t *len_p)
{
    assert(reg);
    assert(text_p);
    *text_p = NULL;
    if (len_p)
        *len_p = 0;
    s_buf_t buf = { 0 };
    s_buf_reserve(&buf, 0);   /* an empty registry still renders "" */
    if (!buf.failed)
        buf.data[0] = '\0';

    pthread_mutex_lock(&reg->lock);
    for (size_t i = 0; i < reg->n_families; i++) {
        const s_family_t *family = reg->families[i];
        s_buf_printf(&buf, "# HELP %s ", family->name);
        s_buf_put_help(&buf, family->help);
        s_buf_printf(&buf, "\n# TYPE %s %s\n", family->name, s_type_names[family->type]);
        for (s_series_t *series = family->head; series; series = series->next)
            s_render_series(&buf, family, series);
    }
    pthread_mutex_unlock(&reg->lock);

    if (buf.failed) {
        free(buf.data);
        return CRM_ENOMEM;
    }
    *text_p = buf.data;
    if (len_p)
        *len_p = buf.len;
    return 0;
}
