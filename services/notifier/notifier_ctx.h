/* notifier_ctx.h: the notifier's shared state (store, outbox, settings, clock, compiled rules), its errors, and the events it raises. */
#ifndef NOTIFIER_CTX_H
#define NOTIFIER_CTX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>

#include "crm_config.h"
#include "crm_id.h"
#include "crm_log.h"
#include "crm_metrics.h"
#include "crm_outbox.h"
#include "crm_rpc.h"
#include "crm_store.h"
#include "notifier_expr.h"
#include "notifier_record.h"
#include "notifier_schedule.h"

/* Defaults of the settings (README.md, "Settings"). */
#define NOTIFIER_DEFAULT_SMTP_FROM        "crm@localhost"
#define NOTIFIER_DEFAULT_RETRY_BASE_MS    (30LL * 1000)              /* CRM_NOTIFIER_RETRY_BASE */
#define NOTIFIER_DEFAULT_RETRY_MAX_MS     (3600LL * 1000)            /* CRM_NOTIFIER_RETRY_MAX_DELAY */
#define NOTIFIER_DEFAULT_MAX_ATTEMPTS     8                          /* CRM_NOTIFIER_MAX_ATTEMPTS */
#define NOTIFIER_DEFAULT_SEND_TIMEOUT_MS  (15LL * 1000)              /* CRM_NOTIFIER_SEND_TIMEOUT */
#define NOTIFIER_DEFAULT_PARK_MS          (60LL * 1000)              /* CRM_NOTIFIER_PARK_TIMEOUT */
#define NOTIFIER_DEFAULT_TICK_MS          1000LL                     /* CRM_NOTIFIER_TICK */
#define NOTIFIER_DEFAULT_SENDERS          2                          /* CRM_NOTIFIER_SENDERS */
#define NOTIFIER_DEFAULT_CATCH_UP_DAYS    0                          /* CRM_NOTIFIER_CALENDAR_CATCH_UP_DAYS */

#define NOTIFIER_SETTING_MAX      CRM_CONFIG_VALUE_MAX   /* bytes of a text setting, with its NUL */
#define NOTIFIER_HOLIDAYS_MAX     64                     /* dates in CRM_NOTIFIER_HOLIDAYS */
#define NOTIFIER_SENDERS_MAX      16
#define NOTIFIER_ATTEMPTS_MAX     100
#define NOTIFIER_ERROR_MAX        256                    /* bytes of an error sentence, with its NUL */
#define NOTIFIER_FIELD_MAX        256                    /* bytes of an offending field's name */
#define NOTIFIER_TICK_BATCH       256                    /* due items one job transaction handles */
#define NOTIFIER_CATCH_UP_DAYS_MAX 31

typedef enum {
    NOTIFIER_TLS_AUTO = 0,       /* smtps:// is TLS from the start; smtp:// tries STARTTLS */
    NOTIFIER_TLS_NONE,           /* plain text (a relay on the same host) */
    NOTIFIER_TLS_STARTTLS,       /* smtp:// with STARTTLS required */
    NOTIFIER_TLS_VERIFY_OFF      /* TLS as auto, certificates not checked (testing only) */
} notifier_tls_t;

/* A holiday: every year on month/mday (year 0), or on one date. */
typedef struct {
    int year, month, mday;
    char name[NOTIFIER_NAME_SIZE];
} notifier_holiday_t;

typedef struct {
    char smtp_url[NOTIFIER_SETTING_MAX];        /* "" : email is not configured */
    char smtp_from[NOTIFIER_SETTING_MAX];
    char smtp_from_name[NOTIFIER_SETTING_MAX];
    char smtp_user[NOTIFIER_SETTING_MAX];
    char smtp_password[NOTIFIER_SETTING_MAX];
    notifier_tls_t smtp_tls;
    char sms_url[NOTIFIER_SETTING_MAX];         /* "" : SMS is not configured */
    char sms_token[NOTIFIER_SETTING_MAX];
    bool allow_private;                         /* webhooks may reach private and loopback addresses */
    int64_t retry_base_us;
    int64_t retry_max_us;
    uint32_t max_attempts;
    int64_t send_timeout_us;
    notifier_quiet_t quiet;
    int utc_offset_min;
    char default_locale[NOTIFIER_SETTING_MAX];
    uint32_t daily_cap;                         /* customer messages per day over all rules; 0: none */
    int64_t park_us;                            /* how long an event waits for its customer */
    uint32_t senders;
    uint32_t catch_up_days;                     /* missed calendar days still greeted after a restart */
    notifier_holiday_t holidays[NOTIFIER_HOLIDAYS_MAX];
    size_t holiday_count;
} notifier_settings_t;

/* Returns the current time in Unix microseconds; must be safe from any thread. */
typedef int64_t (*notifier_clock_fn)(void *arg);

/* Tells the senders that a delivery may be due (safe from any thread). */
typedef void (*notifier_wake_fn)(void *arg);

typedef struct {
    crm_store_t *store;           /* borrowed; outlives the notifier state */
    crm_outbox_t *outbox;         /* borrowed */
    crm_id_gen_t *ids;            /* borrowed */
    crm_log_t *log;               /* borrowed; NULL: no logging */
    crm_metrics_t *metrics;       /* borrowed; NULL: no metrics */
    const char *source;           /* "/crm/notifier", copied */
    notifier_settings_t settings;
    notifier_clock_fn clock;      /* NULL: the wall clock */
    void *clock_arg;
} notifier_options_t;

/* A rule with its condition compiled. */
typedef struct {
    Crm__V1__NotifyRule *rule;    /* owned */
    notifier_expr_t *cond;        /* owned */
} notifier_rule_t;

typedef struct {
    notifier_rule_t *items;
    size_t count;
} notifier_rules_t;

/* The service's state. The fields are read-only after notifier_new except rules, which only the
 * thread running the loop (requests, events, jobs) reads and replaces, and wake, set once before
 * the senders start. Senders use the store (one transaction per thread), the outbox, the ids,
 * the log and the settings, which are all safe from several threads. */
typedef struct {
    crm_store_t *store;
    crm_outbox_t *outbox;
    crm_id_gen_t *ids;
    crm_log_t *log;
    char source[64];
    notifier_db_t db;
    notifier_settings_t settings;
    notifier_clock_fn clock;
    void *clock_arg;
    notifier_rules_t rules;
    notifier_wake_fn wake;
    void *wake_arg;
    /* crm_notifier_messages_total{outcome="sent|failed|dead_lettered"}; NULL without metrics. */
    crm_metrics_counter_t *sent, *failed, *dead;
} notifier_t;

/* Why a request was refused: the reply status, a sentence and the offending field. */
typedef struct {
    crm_rpc_status_t status;
    char message[NOTIFIER_ERROR_MAX];
    char field[NOTIFIER_FIELD_MAX];
} notifier_err_t;

/* The default settings. */
void notifier_settings_default(notifier_settings_t *settings);

/* Reads the CRM_NOTIFIER_* settings (README.md) from cfg over the defaults. Returns 0, or
 * CRM_ECONFIG with why (why_size bytes) naming the variable and what it expects; CRM_ENOMEM. */
int notifier_settings_load(crm_config_t *cfg, notifier_settings_t *settings, long long *tick_ms,
                           char *why, size_t why_size);

/* Opens the databases, writes the built-in rules and templates on the first start, puts back in
 * the queue deliveries a stopped process had taken, and compiles the rules. Call at start-up
 * before any other transaction is open. Returns 0 and sets *nt_p (caller destroys), CRM_EINVALID
 * (missing store, outbox or ids), CRM_EIO (no randomness), CRM_ENOMEM or a store error. */
int notifier_new(const notifier_options_t *opts, notifier_t **nt_p);

/* Frees the state (not the store, outbox, ids or log). Safe on NULL; sets *nt_p to NULL. */
void notifier_destroy(notifier_t **nt_p);

/* The current time by the state's clock, in Unix microseconds. */
int64_t notifier_now(const notifier_t *nt);

/* Runs fn in a write transaction and wakes the publisher once it commits. Returns what
 * crm_store_write returns. */
int notifier_write(notifier_t *nt, crm_store_write_fn fn, void *arg);

/* Tells the senders that work may be due (nothing when none are set). */
void notifier_wake(notifier_t *nt);

/* Appends an event (type, subject, payload data) to the outbox in txn. Returns 0 or an error
 * of crm_event_append. */
int notifier_emit(notifier_t *nt, crm_txn_t *txn, const char *type, const char *subject,
                  const ProtobufCMessage *data);

/* Fills err (when not NULL) and returns the matching code: CRM_EINVALID for INVALID,
 * CRM_ENOTFOUND for NOT_FOUND, CRM_ECONFLICT for CONFLICT, CRM_EDENIED for FORBIDDEN. */
int notifier_fail(notifier_err_t *err, crm_rpc_status_t status, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Recompiles the rule cache from the store (after rules changed). Returns 0, or a store or codec
 * error (the old cache stays). Loop thread only. */
int notifier_rules_reload(notifier_t *nt);

/* The service's time-driven work, one write transaction: reminders that fell due, digests whose
 * window closed, birthdays and holidays of days not yet done (catching up after a restart),
 * events that waited too long for their customer. At most NOTIFIER_TICK_BATCH items; sets *more
 * when items remain due. Returns 0 or a store or codec error. Loop thread only. */
int notifier_tick(notifier_t *nt, bool *more);

/* Logs through the state's log, when it has one. */
#define NOTIFIER_LOG(nt, level, ...)                                                         \
    do {                                                                                     \
        if ((nt)->log)                                                                       \
            crm_log_write((nt)->log, (level), __VA_ARGS__, (const char *) 0);                \
    } while (0)

#endif
