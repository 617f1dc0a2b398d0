/* analytics_core.c: the analytics state, events out, the meta record, the rebuild reset and the time-driven jobs. */
#include "analytics_ctx.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crm_codec.h"
#include "crm_error.h"
#include "crm_event.h"
#include "crm_subscriber.h"
#include "crm_time.h"
#include "analytics_risk.h"
#include "analytics_rfm.h"

#define S_OFFSET_MAX_MINUTES (14 * 60)
#define S_OFFSET_TEXT_LEN    6          /* "+HH:MM" */
#define S_US_PER_MINUTE      (INT64_C(60) * 1000000)

static int64_t s_wall_clock(void *arg)
{
    return crm_time_now_us();
}

void analytics_settings_default(analytics_settings_t *s)
{
    memset(s, 0, sizeof *s);
    s->active_window_days = ANALYTICS_DEFAULT_ACTIVE_WINDOW_DAYS;
    snprintf(s->currency, sizeof s->currency, "%s", ANALYTICS_DEFAULT_CURRENCY);
    s->utc_offset_us = 0;
    s->lifespan_days = ANALYTICS_DEFAULT_LIFESPAN_DAYS;
    snprintf(s->entry_tier, sizeof s->entry_tier, "%s", ANALYTICS_DEFAULT_ENTRY_TIER);
    s->risk_interval_us = ANALYTICS_DEFAULT_RISK_INTERVAL_MS * 1000;
    s->settle_us = ANALYTICS_DEFAULT_SETTLE_MS * 1000;
    s->risk_threshold = ANALYTICS_DEFAULT_RISK_THRESHOLD;
    s->silence_us = ANALYTICS_DEFAULT_SILENCE_MS * 1000;
    s->churn_after_us = ANALYTICS_DEFAULT_CHURN_AFTER_MS * 1000;
    s->risk_window_us = ANALYTICS_DEFAULT_RISK_WINDOW_MS * 1000;
    s->rfm_interval_us = ANALYTICS_DEFAULT_RFM_INTERVAL_MS * 1000;
    s->rfm_high = ANALYTICS_DEFAULT_RFM_HIGH;
    s->rfm_mid = ANALYTICS_DEFAULT_RFM_MID;
}

int analytics_offset_parse(const char *text, int64_t *offset_us)
{
    if (!text || strlen(text) != S_OFFSET_TEXT_LEN || (text[0] != '+' && text[0] != '-') || text[3] != ':')
        return CRM_EINVALID;
    int digits[4];
    static const int at[4] = { 1, 2, 4, 5 };
    for (int i = 0; i < 4; i++) {
        char c = text[at[i]];
        if (c < '0' || c > '9')
            return CRM_EINVALID;
        digits[i] = c - '0';
    }
    int hours = digits[0] * 10 + digits[1], minutes = digits[2] * 10 + digits[3];
    int total = hours * 60 + minutes;
    if (minutes >= 60 || total > S_OFFSET_MAX_MINUTES)
        return CRM_EINVALID;
    *offset_us = (text[0] == '-' ? -1 : 1) * (int64_t) total * S_US_PER_MINUTE;
    return 0;
}

int analytics_new(const analytics_options_t *opts, analytics_t **an_p)
{
    if (!opts || !opts->store || !opts->outbox || !opts->ids || !an_p)
        return CRM_EINVALID;
    analytics_t *an = calloc(1, sizeof *an);
    if (!an)
        return CRM_ENOMEM;
    an->store = opts->store;
    an->outbox = opts->outbox;
    an->ids = opts->ids;
    snprintf(an->source, sizeof an->source, "%s", opts->source ? opts->source : "/crm/analytics");
    an->settings = opts->settings;
    assert(an->settings.active_window_days > 0 && an->settings.risk_threshold > 0);
    an->clock = opts->clock ? opts->clock : s_wall_clock;
    an->clock_arg = opts->clock_arg;
    int rc = analytics_record_open(an->store, &an->db);
    if (rc == 0)
        rc = crm_store_db(an->store, CRM_SUBSCRIBER_CURSOR_DB, &an->cursors);
    if (rc) {
        free(an);
        return rc;
    }
    *an_p = an;
    return 0;
}

void analytics_destroy(analytics_t **an_p)
{
    if (!an_p || !*an_p)
        return;
    free(*an_p);
    *an_p = NULL;
}

int64_t analytics_now(const analytics_t *an)
{
    return an->clock(an->clock_arg);
}

int64_t analytics_day(const analytics_t *an, int64_t us)
{
    return analytics_day_of(us, an->settings.utc_offset_us);
}

int analytics_write(analytics_t *an, crm_store_write_fn fn, void *arg)
{
    int rc = crm_store_write(an->store, fn, arg);
    if (rc == 0)
        crm_outbox_notify(an->outbox);
    return rc;
}

int analytics_emit(analytics_t *an, crm_txn_t *txn, const char *type, const char *customer_id,
                   const ProtobufCMessage *data, int64_t time_us)
{
    crm_event_spec_t spec = {
        .source = an->source, .type = type, .subject = customer_id, .time_us = time_us, .data = data,
    };
    return crm_event_append(an->outbox, txn, an->ids, &spec, NULL);
}

int analytics_fail(analytics_err_t *err, crm_rpc_status_t status, const char *field, const char *fmt, ...)
{
    if (err) {
        err->status = status;
        snprintf(err->field, sizeof err->field, "%s", field ? field : "");
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    switch (status) {
    case CRM_RPC_NOT_FOUND: return CRM_ENOTFOUND;
    case CRM_RPC_CONFLICT:
    case CRM_RPC_PRECONDITION_FAILED: return CRM_ECONFLICT;
    case CRM_RPC_FORBIDDEN: return CRM_EDENIED;
    case CRM_RPC_TOO_LARGE: return CRM_ELIMIT;
    default: return CRM_EINVALID;
    }
}

/* --- Meta */

int analytics_meta_get(const analytics_t *an, crm_txn_t *txn, Crm__V1__AnalyticsMeta **meta_p)
{
    int rc = analytics_record_get(txn, an->db.meta, ANALYTICS_META_KEY, strlen(ANALYTICS_META_KEY),
                                  &crm__v1__analytics_meta__descriptor, (ProtobufCMessage **) meta_p);
    if (rc == CRM_ENOTFOUND)
        rc = crm_codec_message_new(&crm__v1__analytics_meta__descriptor, (ProtobufCMessage **) meta_p);
    return rc;
}

int analytics_meta_put(const analytics_t *an, crm_txn_t *txn, const Crm__V1__AnalyticsMeta *meta)
{
    return analytics_record_put(txn, an->db.meta, ANALYTICS_META_KEY, strlen(ANALYTICS_META_KEY), &meta->base);
}

/* --- Rebuild */

typedef struct {
    analytics_t *an;
    uint64_t generation;
    bool pending;
} s_request_t;

static int s_request_body(crm_txn_t *txn, void *arg)
{
    s_request_t *r = arg;
    Crm__V1__AnalyticsMeta *meta = NULL;
    int rc = analytics_meta_get(r->an, txn, &meta);
    if (rc)
        return rc;
    meta->rebuild_pending = true;
    r->generation = meta->generation + 1;
    rc = analytics_meta_put(r->an, txn, meta);
    crm_codec_message_free((ProtobufCMessage **) &meta);
    return rc;
}

int analytics_rebuild_request(analytics_t *an, uint64_t *generation)
{
    s_request_t r = { .an = an };
    int rc = analytics_write(an, s_request_body, &r);
    if (rc == 0)
        *generation = r.generation;
    return rc;
}

static int s_pending_body(crm_txn_t *txn, void *arg)
{
    s_request_t *r = arg;
    Crm__V1__AnalyticsMeta *meta = NULL;
    int rc = analytics_meta_get(r->an, txn, &meta);
    if (rc == 0)
        r->pending = meta->rebuild_pending;
    crm_codec_message_free((ProtobufCMessage **) &meta);
    return rc;
}

typedef struct {
    analytics_t *an;
    crm_db_t db;
    bool left;
} s_clear_t;

static int s_clear_body(crm_txn_t *txn, void *arg)
{
    s_clear_t *c = arg;
    return analytics_db_clear(txn, c->db, ANALYTICS_RESET_BATCH, &c->left);
}

typedef struct {
    analytics_t *an;
    crm_db_t cursors;
    const char *const *publishers;
    size_t count;
} s_finish_t;

static int s_finish_body(crm_txn_t *txn, void *arg)
{
    s_finish_t *f = arg;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < f->count; i++)
        rc = analytics_record_del(txn, f->cursors, f->publishers[i], strlen(f->publishers[i]));
    Crm__V1__AnalyticsMeta *meta = NULL;
    if (rc == 0)
        rc = analytics_meta_get(f->an, txn, &meta);
    if (rc == 0) {
        meta->generation++;
        meta->rebuild_pending = false;
        meta->rebuilt_us = analytics_now(f->an);
        rc = analytics_meta_put(f->an, txn, meta);
    }
    crm_codec_message_free((ProtobufCMessage **) &meta);
    return rc;
}

int analytics_rebuild_reset(analytics_t *an, bool force, const char *const *publishers, size_t publisher_count,
                            bool *done)
{
    if (done)
        *done = false;
    s_request_t r = { .an = an };
    int rc = force ? 0 : crm_store_write(an->store, s_pending_body, &r);
    if (rc || (!force && !r.pending))
        return rc;
    const crm_db_t dbs[] = { an->db.customers, an->db.days, an->db.cohorts, an->db.tiers, an->db.lapses };
    for (size_t i = 0; rc == 0 && i < sizeof dbs / sizeof dbs[0]; i++) {
        s_clear_t c = { .an = an, .db = dbs[i], .left = true };
        while (rc == 0 && c.left)
            rc = crm_store_write(an->store, s_clear_body, &c);
    }
    s_finish_t f = { .an = an, .cursors = an->cursors, .publishers = publishers, .count = publisher_count };
    if (rc == 0)
        rc = crm_store_write(an->store, s_finish_body, &f);
    if (rc == 0 && done)
        *done = true;
    return rc;
}

/* --- Jobs */

typedef struct {
    analytics_t *an;
    bool more;
    bool rfm;
} s_tick_t;

static int s_due_body(crm_txn_t *txn, void *arg)
{
    s_tick_t *t = arg;
    return analytics_risk_due(t->an, txn, analytics_now(t->an), ANALYTICS_TICK_BATCH, &t->more);
}

static int s_rfm_body(crm_txn_t *txn, void *arg)
{
    s_tick_t *t = arg;
    analytics_t *an = t->an;
    t->rfm = false;
    Crm__V1__AnalyticsMeta *meta = NULL;
    int rc = analytics_meta_get(an, txn, &meta);
    if (rc)
        return rc;
    int64_t now = analytics_now(an);
    bool due = an->settings.rfm_interval_us > 0 && now >= meta->next_rfm_us;
    crm_codec_message_free((ProtobufCMessage **) &meta);
    if (!due)
        return 0;
    rc = analytics_rfm_run(an, txn, now);
    if (rc == 0)
        rc = analytics_meta_get(an, txn, &meta);
    if (rc == 0) {
        meta->next_rfm_us = now + an->settings.rfm_interval_us;
        rc = analytics_meta_put(an, txn, meta);
    }
    crm_codec_message_free((ProtobufCMessage **) &meta);
    t->rfm = rc == 0;
    return rc;
}

int analytics_tick(analytics_t *an, bool *more)
{
    *more = false;
    if (an->behind)
        return 0;
    s_tick_t t = { .an = an };
    int rc = analytics_write(an, s_due_body, &t);
    if (rc == 0)
        rc = analytics_write(an, s_rfm_body, &t);
    *more = t.more;
    return rc;
}
