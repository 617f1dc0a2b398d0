/* analytics_ctx.h: the analytics service's shared state (store, outbox, settings, clock), its errors, the rebuild reset and the time-driven jobs. */
#ifndef ANALYTICS_CTX_H
#define ANALYTICS_CTX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "crm_id.h"
#include "crm_outbox.h"
#include "crm_rpc.h"
#include "crm_store.h"
#include "analytics_record.h"

/* Defaults of the settings (README.md, "Settings"). */
#define ANALYTICS_DEFAULT_ACTIVE_WINDOW_DAYS 90                  /* CRM_ANALYTICS_ACTIVE_WINDOW */
#define ANALYTICS_DEFAULT_CURRENCY           "CNY"               /* CRM_ANALYTICS_CURRENCY */
#define ANALYTICS_DEFAULT_UTC_OFFSET         "+00:00"            /* CRM_ANALYTICS_UTC_OFFSET */
#define ANALYTICS_DEFAULT_LIFESPAN_DAYS      1095                /* CRM_ANALYTICS_LIFESPAN (3 years) */
#define ANALYTICS_DEFAULT_ENTRY_TIER         "bronze"            /* CRM_ANALYTICS_ENTRY_TIER */
#define ANALYTICS_DEFAULT_TICK_MS            1000LL              /* CRM_ANALYTICS_TICK */
#define ANALYTICS_DEFAULT_RISK_INTERVAL_MS   (3600LL * 1000)     /* CRM_ANALYTICS_RISK_INTERVAL */
#define ANALYTICS_DEFAULT_SETTLE_MS          (10LL * 1000)       /* CRM_ANALYTICS_SETTLE */
#define ANALYTICS_DEFAULT_RISK_THRESHOLD     50                  /* CRM_ANALYTICS_RISK_THRESHOLD */
#define ANALYTICS_DEFAULT_SILENCE_MS         (60LL * 86400 * 1000)    /* CRM_ANALYTICS_SILENCE */
#define ANALYTICS_DEFAULT_CHURN_AFTER_MS     (180LL * 86400 * 1000)   /* CRM_ANALYTICS_CHURN_AFTER */
#define ANALYTICS_DEFAULT_RISK_WINDOW_MS     (90LL * 86400 * 1000)    /* CRM_ANALYTICS_RISK_WINDOW */
#define ANALYTICS_DEFAULT_RFM_INTERVAL_MS    (86400LL * 1000)         /* CRM_ANALYTICS_RFM_INTERVAL */
#define ANALYTICS_DEFAULT_RFM_HIGH           12                  /* CRM_ANALYTICS_RFM_HIGH */
#define ANALYTICS_DEFAULT_RFM_MID            8                   /* CRM_ANALYTICS_RFM_MID */

#define ANALYTICS_ERROR_MAX   256     /* bytes of an error sentence, with its NUL */
#define ANALYTICS_FIELD_MAX   256     /* bytes of an offending field's name, with its NUL */
#define ANALYTICS_CURRENCY_LEN 3      /* an ISO 4217 code */
#define ANALYTICS_TICK_BATCH  256     /* due customers evaluated per job transaction */
#define ANALYTICS_RESET_BATCH 20000   /* entries deleted per reset transaction */

typedef struct {
    int64_t active_window_days;        /* W: active = a net purchase in the last W days */
    char currency[ANALYTICS_CURRENCY_LEN + 1];   /* the reporting currency of money figures */
    int64_t utc_offset_us;             /* the calendar of day buckets, ahead of UTC */
    int64_t lifespan_days;             /* expected customer lifespan; 0: derived from churn */
    char entry_tier[ANALYTICS_TIER_MAX + 1];     /* the tier of a member without a tier change */
    int64_t risk_interval_us;          /* each buyer is evaluated this often; 0: never by the job */
    int64_t settle_us;                 /* the job waits this long after a customer's last event */
    uint32_t risk_threshold;           /* 1..100 */
    int64_t silence_us;                /* "silent" counts from this long without contact */
    int64_t churn_after_us;            /* churned: no purchase for this long */
    int64_t risk_window_us;            /* the recent window of complaints and answers */
    int64_t rfm_interval_us;           /* between RFM runs; 0: on demand only */
    uint32_t rfm_high;                 /* RFM total from which the value tier is high */
    uint32_t rfm_mid;                  /* ... mid; below: low */
} analytics_settings_t;

/* Returns the current time in Unix microseconds. */
typedef int64_t (*analytics_clock_fn)(void *arg);

typedef struct {
    crm_store_t *store;           /* borrowed; outlives the analytics state */
    crm_outbox_t *outbox;         /* borrowed */
    crm_id_gen_t *ids;            /* borrowed */
    const char *source;           /* "/crm/analytics", copied */
    analytics_settings_t settings;
    analytics_clock_fn clock;     /* NULL: the wall clock */
    void *clock_arg;
} analytics_options_t;

/* The service's state. Fields are read-only after analytics_new, except `behind`, which the
 * server sets from its loop thread: while a publisher has events not yet folded, the jobs that
 * publish (risk evaluation, periodic RFM) wait. */
typedef struct {
    crm_store_t *store;
    crm_outbox_t *outbox;
    crm_id_gen_t *ids;
    char source[64];
    analytics_db_t db;
    crm_db_t cursors;             /* the subscribers' cursors (crm_subscriber.h): status, rebuild */
    analytics_settings_t settings;
    analytics_clock_fn clock;
    void *clock_arg;
    bool behind;
} analytics_t;

/* Why a request or an event was refused: the reply status, a sentence and the offending field. */
typedef struct {
    crm_rpc_status_t status;
    char message[ANALYTICS_ERROR_MAX];
    char field[ANALYTICS_FIELD_MAX];
} analytics_err_t;

/* The default settings. */
void analytics_settings_default(analytics_settings_t *settings);

/* Parses a UTC offset "+HH:MM" or "-HH:MM" (at most 14 hours) into microseconds. Returns 0 or
 * CRM_EINVALID. */
int analytics_offset_parse(const char *text, int64_t *offset_us);

/* Opens the databases. Call at start-up before any other transaction is open. Returns 0 and sets
 * *an_p (caller destroys), CRM_EINVALID (missing store, outbox or ids), CRM_ENOMEM or a store
 * error. */
int analytics_new(const analytics_options_t *opts, analytics_t **an_p);

/* Frees the state (not the store, outbox or ids). Safe on NULL; sets *an_p to NULL. */
void analytics_destroy(analytics_t **an_p);

/* The current time by the state's clock, in Unix microseconds. */
int64_t analytics_now(const analytics_t *an);

/* The local day of a time, in the service's calendar. */
int64_t analytics_day(const analytics_t *an, int64_t us);

/* Runs fn in a write transaction and wakes the publisher once it commits.
 * Returns what crm_store_write returns. */
int analytics_write(analytics_t *an, crm_store_write_fn fn, void *arg);

/* Appends an event (type, the customer as subject, payload data) to the outbox in txn.
 * Returns 0 or an error of crm_event_append. */
int analytics_emit(analytics_t *an, crm_txn_t *txn, const char *type, const char *customer_id,
                   const ProtobufCMessage *data, int64_t time_us);

/* Fills err (when not NULL) and returns the matching error code: CRM_EINVALID for INVALID,
 * CRM_ENOTFOUND for NOT_FOUND, CRM_ECONFLICT for CONFLICT, CRM_EDENIED for FORBIDDEN. */
int analytics_fail(analytics_err_t *err, crm_rpc_status_t status, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Reads the meta record (a fresh one when none). Returns 0 with *meta_p (caller frees with
 * crm_codec_message_free), or a store or codec error. */
int analytics_meta_get(const analytics_t *an, crm_txn_t *txn, Crm__V1__AnalyticsMeta **meta_p);

/* Stores the meta record. Returns 0 or a store or codec error. */
int analytics_meta_put(const analytics_t *an, crm_txn_t *txn, const Crm__V1__AnalyticsMeta *meta);

/* Marks a rebuild as wanted (the next start resets and replays). Sets *generation to the
 * generation the rebuild will make. Returns 0 or a store or codec error. */
int analytics_rebuild_request(analytics_t *an, uint64_t *generation);

/* The rebuild reset, at start-up before subscribing: when `force` or a rebuild was requested,
 * clears the figures and facts (customers, days, cohorts, tiers, lapses) and the cursors of the
 * named publishers in the subscribers' cursor database (so they replay from sequence 0), and
 * raises the generation. What analytics published (states, schedule, at-risk index, RFM) is kept.
 * Several transactions; a crash midway leaves the request standing, so the next start finishes
 * it. Sets *done when a reset happened (may be NULL). Returns 0 or a store or codec error. */
int analytics_rebuild_reset(analytics_t *an, bool force, const char *const *publishers,
                            size_t publisher_count, bool *done);

/* The time-driven jobs, one write transaction: evaluates the churn risk of customers whose
 * evaluation is due (at most ANALYTICS_TICK_BATCH) and, when due, runs the RFM scoring. Both
 * wait while an->behind. Sets *more when work remains due now. Returns 0 or a store or codec
 * error. */
int analytics_tick(analytics_t *an, bool *more);

#endif
