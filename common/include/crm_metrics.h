/* crm_metrics.h: counters, gauges and histograms, rendered in the Prometheus text format 0.0.4. */
#ifndef CRM_METRICS_H
#define CRM_METRICS_H

#include <stddef.h>
#include <stdint.h>

/* A registry holds metric families (one name, help text and type each); a family holds series,
 * one per set of label values fixed at registration. Registering takes a mutex; updating a
 * series is lock-free (C11 atomics) and safe from any thread. Handles belong to the registry and
 * stay valid until it is destroyed. */

#define CRM_METRICS_MAX_FAMILIES   256    /* metric names in one registry */
#define CRM_METRICS_MAX_SERIES     4096   /* series in one registry, all families together */
#define CRM_METRICS_MAX_BOUNDS     32     /* histogram bucket bounds, +Inf not counted */
#define CRM_METRICS_NAME_MAX       128    /* bytes of a metric name */
#define CRM_METRICS_HELP_MAX       512    /* bytes of a help text */
#define CRM_METRICS_LABELS_MAX     512    /* bytes of a series' label text */

/* Bucket bounds in seconds for request latencies, from 0.5 ms to 10 s. */
#define CRM_METRICS_LATENCY_BOUNDS_COUNT 14
extern const double crm_metrics_latency_bounds[CRM_METRICS_LATENCY_BOUNDS_COUNT];

typedef struct crm_metrics crm_metrics_t;
typedef struct crm_metrics_counter crm_metrics_counter_t;
typedef struct crm_metrics_gauge crm_metrics_gauge_t;
typedef struct crm_metrics_histogram crm_metrics_histogram_t;

/* Makes an empty registry. Returns 0 and sets *reg_p (caller owns; free with
 * crm_metrics_destroy) or CRM_ENOMEM. */
int crm_metrics_new(crm_metrics_t **reg_p);

/* Frees the registry and every handle it gave out. No thread may still use a handle.
 * Safe on NULL; sets *reg_p to NULL. */
void crm_metrics_destroy(crm_metrics_t **reg_p);

/* Registration. name matches [a-zA-Z_:][a-zA-Z0-9_:]*; help is free text (one line; \ and
 * newlines are escaped on output); labels is NULL or "" for none, or Prometheus label pairs
 * such as "method=\"contacts.Get\",code=\"ok\"" (label names [a-zA-Z_][a-zA-Z0-9_]*, not starting
 * with "__"; values escape \\, \" and \n; no repeated label name). The first registration of a
 * name fixes its help and type (and, for histograms, its bounds). Registering the same name and
 * labels again returns the same handle.
 * Each returns 0 and sets *handle_p (borrowed from the registry), CRM_EINVALID (bad name, help,
 * labels or bounds, or a text over its limit), CRM_ECONFLICT (the name exists with another type,
 * help or bounds), CRM_ELIMIT (CRM_METRICS_MAX_FAMILIES or CRM_METRICS_MAX_SERIES reached) or
 * CRM_ENOMEM. Thread-safe. */
int crm_metrics_counter(crm_metrics_t *reg, const char *name, const char *help, const char *labels,
                        crm_metrics_counter_t **counter_p);
int crm_metrics_gauge(crm_metrics_t *reg, const char *name, const char *help, const char *labels,
                      crm_metrics_gauge_t **gauge_p);
/* bounds: n_bounds (0 to CRM_METRICS_MAX_BOUNDS) finite upper bounds in strictly increasing
 * order, copied; the +Inf bucket is implicit. The label name "le" is reserved. */
int crm_metrics_histogram(crm_metrics_t *reg, const char *name, const char *help,
                          const char *labels, const double *bounds, size_t n_bounds,
                          crm_metrics_histogram_t **histogram_p);

/* Updates: lock-free, thread-safe, never fail. */
void crm_metrics_counter_inc(crm_metrics_counter_t *counter);
void crm_metrics_counter_add(crm_metrics_counter_t *counter, uint64_t n);
void crm_metrics_gauge_set(crm_metrics_gauge_t *gauge, double value);
void crm_metrics_gauge_add(crm_metrics_gauge_t *gauge, double delta);   /* negative to lower */
/* Counts value in the first bucket whose bound is >= value (NaN only in +Inf) and adds it to
 * the sum. */
void crm_metrics_histogram_observe(crm_metrics_histogram_t *histogram, double value);

/* Current values, for tests and for services that read their own figures. */
uint64_t crm_metrics_counter_value(const crm_metrics_counter_t *counter);
double crm_metrics_gauge_value(const crm_metrics_gauge_t *gauge);
uint64_t crm_metrics_histogram_count(const crm_metrics_histogram_t *histogram);
double crm_metrics_histogram_sum(const crm_metrics_histogram_t *histogram);

/* Renders every family in registration order, in the text exposition format 0.0.4: # HELP and
 * # TYPE once per family, then its series; histograms as cumulative _bucket{le="..."} lines
 * ending with le="+Inf", then _sum and _count. Safe while other threads update and register
 * (each series is read atomically; a histogram's _count always equals its +Inf bucket).
 * Returns 0 and sets *text_p (NUL-terminated, caller frees with free()) and *len_p (bytes
 * without the NUL; len_p may be NULL), or CRM_ENOMEM. */
int crm_metrics_render(crm_metrics_t *reg, char **text_p, size_t *len_p);

#endif
