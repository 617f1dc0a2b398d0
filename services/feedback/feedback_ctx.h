/* feedback_ctx.h: the feedback service's shared state (store, outbox, settings, clock), its errors, events out, and the timer job. */
#ifndef FEEDBACK_CTX_H
#define FEEDBACK_CTX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "crm_id.h"
#include "crm_outbox.h"
#include "crm_rpc.h"
#include "crm_store.h"
#include "feedback_record.h"
#include "feedback_sla.h"

/* Events out (topic = type; subject = the customer id). */
#define FEEDBACK_EVENT_INVITATION_CREATED "crm.feedback.invitation.created.v1"
#define FEEDBACK_EVENT_ANSWER_RECEIVED    "crm.feedback.answer.received.v1"
#define FEEDBACK_EVENT_COMPLAINT_OPENED   "crm.feedback.complaint.opened.v1"
#define FEEDBACK_EVENT_COMPLAINT_ASSIGNED "crm.feedback.complaint.assigned.v1"
#define FEEDBACK_EVENT_COMPLAINT_RESPONDED "crm.feedback.complaint.responded.v1"
#define FEEDBACK_EVENT_COMPLAINT_RESOLVED "crm.feedback.complaint.resolved.v1"
#define FEEDBACK_EVENT_COMPLAINT_REOPENED "crm.feedback.complaint.reopened.v1"
#define FEEDBACK_EVENT_COMPLAINT_CLOSED   "crm.feedback.complaint.closed.v1"
#define FEEDBACK_EVENT_COMPLAINT_REPLIED  "crm.feedback.complaint.replied.v1"
#define FEEDBACK_EVENT_SLA_BREACHED       "crm.feedback.complaint.sla_breached.v1"
#define FEEDBACK_EVENT_ESCALATED          "crm.feedback.complaint.escalated.v1"

/* Defaults of the settings (README.md, "Settings"). SLA durations are business time. */
#define FEEDBACK_MS_HOUR (3600LL * 1000)
#define FEEDBACK_MS_DAY  (24 * FEEDBACK_MS_HOUR)
#define FEEDBACK_DEFAULT_INVITE_DELAY_MS          FEEDBACK_MS_DAY           /* CRM_FEEDBACK_INVITE_DELAY */
#define FEEDBACK_DEFAULT_RESOLVED_INVITE_DELAY_MS FEEDBACK_MS_HOUR          /* CRM_FEEDBACK_RESOLVED_INVITE_DELAY */
#define FEEDBACK_DEFAULT_INVITE_VALIDITY_MS       (14 * FEEDBACK_MS_DAY)    /* CRM_FEEDBACK_INVITE_VALIDITY */
#define FEEDBACK_DEFAULT_INVITE_COOLDOWN_MS       (7 * FEEDBACK_MS_DAY)     /* CRM_FEEDBACK_INVITE_COOLDOWN */
#define FEEDBACK_DEFAULT_ANSWER_URL_BASE          "http://127.0.0.1:8080/v1/answers/"
#define FEEDBACK_DEFAULT_LOCALE                   "en"
#define FEEDBACK_DEFAULT_AUTO_COMPLAINT           true
#define FEEDBACK_DEFAULT_AUTO_COMPLAINT_SENTIMENT (-50)
#define FEEDBACK_DEFAULT_BUSINESS_HOURS           "Mon-Fri 09:00-18:00"
#define FEEDBACK_DEFAULT_UTC_OFFSET               "+00:00"
#define FEEDBACK_DEFAULT_ESCALATE_ADMINS_MS       (4 * FEEDBACK_MS_HOUR)    /* CRM_FEEDBACK_ESCALATE_ADMINS_AFTER */
#define FEEDBACK_DEFAULT_REOPEN_WINDOW_MS         (7 * FEEDBACK_MS_DAY)     /* CRM_FEEDBACK_REOPEN_WINDOW */
#define FEEDBACK_DEFAULT_TICK_MS                  1000LL                    /* CRM_FEEDBACK_TICK */
/* SLA clocks per priority (first response, resolution), business time. */
#define FEEDBACK_DEFAULT_SLA_URGENT_FIRST_MS  (30LL * 60 * 1000)
#define FEEDBACK_DEFAULT_SLA_URGENT_RESOLVE_MS (4 * FEEDBACK_MS_HOUR)
#define FEEDBACK_DEFAULT_SLA_HIGH_FIRST_MS    (2 * FEEDBACK_MS_HOUR)
#define FEEDBACK_DEFAULT_SLA_HIGH_RESOLVE_MS  (9 * FEEDBACK_MS_HOUR)
#define FEEDBACK_DEFAULT_SLA_NORMAL_FIRST_MS  (4 * FEEDBACK_MS_HOUR)
#define FEEDBACK_DEFAULT_SLA_NORMAL_RESOLVE_MS (27 * FEEDBACK_MS_HOUR)
#define FEEDBACK_DEFAULT_SLA_LOW_FIRST_MS     (9 * FEEDBACK_MS_HOUR)
#define FEEDBACK_DEFAULT_SLA_LOW_RESOLVE_MS   (45 * FEEDBACK_MS_HOUR)

#define FEEDBACK_PRIORITY_COUNT   5         /* Priority values, unspecified included */
#define FEEDBACK_URL_MAX          512       /* bytes of the answer URL base, with its NUL */
#define FEEDBACK_LOCALE_MAX       36        /* bytes of a BCP 47 tag, with its NUL */
#define FEEDBACK_TEAM_LEADS_MAX   1024      /* bytes of CRM_FEEDBACK_TEAM_LEADS, with its NUL */
#define FEEDBACK_TICK_BATCH       256       /* due timers per job transaction */
#define FEEDBACK_ERROR_MAX        256       /* bytes of an error sentence, with its NUL */
#define FEEDBACK_FIELD_MAX        256       /* bytes of an offending field's name, with its NUL */
#define FEEDBACK_SYSTEM_ACTOR     "system"

typedef struct {
    int64_t invite_delay_us;          /* purchase -> invitation */
    int64_t resolved_invite_delay_us; /* complaint resolved -> invitation */
    int64_t invite_validity_us;       /* an invitation's life unless its survey says */
    int64_t invite_cooldown_us;       /* no purchase invitation within this of the last one; 0: none */
    char answer_url_base[FEEDBACK_URL_MAX];
    char default_locale[FEEDBACK_LOCALE_MAX];
    bool auto_complaint;              /* a detractor or a very negative comment opens a complaint */
    int auto_complaint_sentiment;     /* "very negative": a sentiment score below this */
    int64_t sla_first_response_us[FEEDBACK_PRIORITY_COUNT];   /* by Priority; [0] unused */
    int64_t sla_resolution_us[FEEDBACK_PRIORITY_COUNT];
    feedback_hours_t hours;           /* business hours the SLA clocks count */
    int64_t escalate_admins_us;       /* level 1 -> level 2, business time */
    int64_t reopen_window_us;         /* a resolved complaint may reopen this long; then it closes */
    char team_leads[FEEDBACK_TEAM_LEADS_MAX];   /* "team=lead,team2=lead2,*=default" */
} feedback_settings_t;

/* Returns the current time in Unix microseconds. */
typedef int64_t (*feedback_clock_fn)(void *arg);

typedef struct {
    crm_store_t *store;               /* borrowed; outlives the state */
    crm_outbox_t *outbox;             /* borrowed */
    crm_id_gen_t *ids;                /* borrowed */
    const char *source;               /* "/crm/feedback", copied */
    feedback_settings_t settings;
    feedback_clock_fn clock;          /* NULL: the wall clock */
    void *clock_arg;
} feedback_options_t;

/* The service's state. Safe from several threads (writes are serialised by the store); fields
 * are read-only after feedback_new. */
typedef struct {
    crm_store_t *store;
    crm_outbox_t *outbox;
    crm_id_gen_t *ids;
    char source[64];
    feedback_db_t db;
    feedback_settings_t settings;
    feedback_clock_fn clock;
    void *clock_arg;
} feedback_t;

/* Why a request or an operation was refused: the reply status, a sentence and the offending
 * field (lowerCamelCase). */
typedef struct {
    crm_rpc_status_t status;
    char message[FEEDBACK_ERROR_MAX];
    char field[FEEDBACK_FIELD_MAX];
} feedback_err_t;

/* Who acts: the caller's key id and role, or "system", or an integrator's source. Borrowed. */
typedef struct {
    const char *id;
    const char *role;
} feedback_actor_t;

/* The default settings. */
void feedback_settings_default(feedback_settings_t *settings);

/* The team lead of team from settings->team_leads ("*" is the fallback); "" when none. Writes
 * at most out_size bytes. */
void feedback_team_lead(const feedback_settings_t *settings, const char *team, char *out, size_t out_size);

/* Opens the databases and, on the first start, writes the default surveys (NPS, CSAT, CES with
 * English and Chinese texts). Call at start-up before any other transaction is open. Returns 0
 * and sets *fb_p (caller destroys), CRM_EINVALID (missing store, outbox or ids), CRM_EIO (no
 * libsodium), CRM_ENOMEM or a store error. */
int feedback_new(const feedback_options_t *opts, feedback_t **fb_p);

/* Frees the state (not the store, outbox or ids). Safe on NULL; sets *fb_p to NULL. */
void feedback_destroy(feedback_t **fb_p);

/* The current time by the state's clock, in Unix microseconds. */
int64_t feedback_now(const feedback_t *fb);

/* Runs fn in a write transaction and wakes the publisher once it commits. Returns what
 * crm_store_write returns. */
int feedback_write(feedback_t *fb, crm_store_write_fn fn, void *arg);

/* Appends an event (type, the customer as subject, payload data) to the outbox in txn.
 * Returns 0 or an error of crm_event_append. */
int feedback_emit(feedback_t *fb, crm_txn_t *txn, const char *type, const char *customer_id,
                  const ProtobufCMessage *data);

/* Fills err (when not NULL) and returns the matching error code: CRM_EINVALID for INVALID,
 * CRM_ENOTFOUND for NOT_FOUND, CRM_ECONFLICT for CONFLICT, CRM_ESTALE for PRECONDITION_FAILED,
 * CRM_EDENIED for FORBIDDEN, CRM_ELIMIT for TOO_LARGE. */
int feedback_fail(feedback_err_t *err, crm_rpc_status_t status, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The timer job, one write transaction: runs the timers due by now (delayed invitations, SLA
 * clocks, escalations, automatic closes), at most FEEDBACK_TICK_BATCH, oldest first; after a
 * restart the first ticks catch up on everything that fell due meanwhile. Sets *more when
 * timers remain due (call again). Returns 0 or a store or codec error (nothing applied). */
int feedback_tick(feedback_t *fb, bool *more);

#endif
