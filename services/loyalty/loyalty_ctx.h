/* loyalty_ctx.h: the loyalty service's shared state (store, outbox, settings, clock), its errors, and the time-driven jobs. */
#ifndef LOYALTY_CTX_H
#define LOYALTY_CTX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "crm_id.h"
#include "crm_outbox.h"
#include "crm_rpc.h"
#include "crm_store.h"
#include "loyalty_record.h"

/* Defaults of the settings (README.md, "Settings"). */
#define LOYALTY_DEFAULT_VALIDITY_MS        (365LL * 24 * 3600 * 1000)   /* CRM_LOYALTY_POINTS_VALIDITY */
#define LOYALTY_DEFAULT_RETURN_WINDOW_MS   0LL                          /* CRM_LOYALTY_RETURN_WINDOW */
#define LOYALTY_DEFAULT_WARNING_MS         (30LL * 24 * 3600 * 1000)    /* CRM_LOYALTY_EXPIRY_WARNING */
#define LOYALTY_DEFAULT_TIER_WINDOW_MS     (365LL * 24 * 3600 * 1000)   /* CRM_LOYALTY_TIER_WINDOW */
#define LOYALTY_DEFAULT_TIER_GRACE_MS      (30LL * 24 * 3600 * 1000)    /* CRM_LOYALTY_TIER_GRACE */
#define LOYALTY_DEFAULT_REVIEW_INTERVAL_MS (24LL * 3600 * 1000)         /* CRM_LOYALTY_TIER_REVIEW_INTERVAL */
#define LOYALTY_DEFAULT_CODE_VALIDITY_MS   (90LL * 24 * 3600 * 1000)    /* CRM_LOYALTY_CODE_VALIDITY */
#define LOYALTY_DEFAULT_TICK_MS            1000LL                       /* CRM_LOYALTY_TICK */
#define LOYALTY_DEFAULT_TIER_CURRENCY      "CNY"                        /* CRM_LOYALTY_TIER_CURRENCY */

#define LOYALTY_TICK_BATCH        256     /* due lots, calendar or review items per job transaction */
#define LOYALTY_CALENDAR_CATCH_UP 366     /* days of missed birthdays a restart still celebrates */
#define LOYALTY_ERROR_MAX         256     /* bytes of an error sentence, with its NUL */
#define LOYALTY_FIELD_MAX         256     /* bytes of an offending field's name, with its NUL (as CRM_CODEC_PATH_MAX) */

typedef struct {
    int64_t validity_us;          /* lifetime of a lot */
    int64_t return_window_us;     /* purchase points stay pending this long; 0: spendable at once */
    int64_t warning_us;           /* "about to expire" this long before; 0: no warnings */
    int64_t tier_window_us;       /* the rolling window of tier spend and purchases */
    int64_t tier_grace_us;        /* below a tier this long (seen at reviews) before a downgrade */
    int64_t review_interval_us;   /* between tier reviews */
    int64_t code_validity_us;     /* default life of a redemption code */
    char tier_currency[4];        /* ISO 4217: purchases in it count toward tier spend */
} loyalty_settings_t;

/* Returns the current time in Unix microseconds. */
typedef int64_t (*loyalty_clock_fn)(void *arg);

typedef struct {
    crm_store_t *store;           /* borrowed; outlives the loyalty state */
    crm_outbox_t *outbox;         /* borrowed */
    crm_id_gen_t *ids;            /* borrowed */
    const char *source;           /* "/crm/loyalty", copied */
    loyalty_settings_t settings;
    loyalty_clock_fn clock;       /* NULL: the wall clock */
    void *clock_arg;
} loyalty_options_t;

/* The service's state. Every function on it is safe from several threads (writes are
 * serialised by the store). Fields are read-only after loyalty_new. */
typedef struct {
    crm_store_t *store;
    crm_outbox_t *outbox;
    crm_id_gen_t *ids;
    char source[64];
    loyalty_db_t db;
    loyalty_settings_t settings;
    loyalty_clock_fn clock;
    void *clock_arg;
} loyalty_t;

/* Why a request or an event was refused: the reply status, a sentence and the offending field
 * (lowerCamelCase), or the other record on a conflict. */
typedef struct {
    crm_rpc_status_t status;
    char message[LOYALTY_ERROR_MAX];
    char field[LOYALTY_FIELD_MAX];
} loyalty_err_t;

/* The default settings. */
void loyalty_settings_default(loyalty_settings_t *settings);

/* Opens the databases and, on the first start, writes the default tiers and earning rules.
 * Call at start-up before any other transaction is open. Returns 0 and sets *ly_p (caller
 * destroys), CRM_EINVALID (missing store, outbox or ids), CRM_ENOMEM or a store error. */
int loyalty_new(const loyalty_options_t *opts, loyalty_t **ly_p);

/* Frees the state (not the store, outbox or ids). Safe on NULL; sets *ly_p to NULL. */
void loyalty_destroy(loyalty_t **ly_p);

/* The current time by the state's clock, in Unix microseconds. */
int64_t loyalty_now(const loyalty_t *ly);

/* Runs fn in a write transaction and wakes the publisher once it commits.
 * Returns what crm_store_write returns. */
int loyalty_write(loyalty_t *ly, crm_store_write_fn fn, void *arg);

/* Appends an event (type, the customer as subject, payload data) to the outbox in txn.
 * Returns 0 or an error of crm_event_append. */
int loyalty_emit(loyalty_t *ly, crm_txn_t *txn, const char *type, const char *customer_id,
                 const ProtobufCMessage *data, int64_t time_us);

/* Fills err (when not NULL) and returns the matching error code: CRM_EINVALID for INVALID,
 * CRM_ENOTFOUND for NOT_FOUND, CRM_ECONFLICT for CONFLICT and PRECONDITION_FAILED, CRM_EDENIED
 * for FORBIDDEN, CRM_ELIMIT for TOO_LARGE. */
int loyalty_fail(loyalty_err_t *err, crm_rpc_status_t status, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The time-driven jobs, one write transaction: releases pending lots whose return window is
 * over, expires lots whose time has come, publishes "about to expire" events, celebrates
 * birthdays and membership anniversaries (catching up on days missed while stopped), runs the
 * periodic tier review, and clears old rule counters; at most LOYALTY_TICK_BATCH items. Sets
 * *more when items remain due (call again). Returns 0 or a store or codec error. */
int loyalty_tick(loyalty_t *ly, bool *more);

#endif
