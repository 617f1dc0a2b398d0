/* feedback_core.c: the feedback state, first-start defaults, events out, and the timer job. */
#include "feedback_ctx.h"

#include <assert.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crm_codec.h"
#include "crm_error.h"
#include "crm_event.h"
#include "crm_time.h"
#include "feedback_complaint.h"
#include "feedback_invite.h"
#include "feedback_survey.h"

static int64_t s_wall_clock(void *arg)
{
    (void) arg;
    return crm_time_now_us();
}

void feedback_settings_default(feedback_settings_t *s)
{
    memset(s, 0, sizeof *s);
    s->invite_delay_us = FEEDBACK_DEFAULT_INVITE_DELAY_MS * 1000;
    s->resolved_invite_delay_us = FEEDBACK_DEFAULT_RESOLVED_INVITE_DELAY_MS * 1000;
    s->invite_validity_us = FEEDBACK_DEFAULT_INVITE_VALIDITY_MS * 1000;
    s->invite_cooldown_us = FEEDBACK_DEFAULT_INVITE_COOLDOWN_MS * 1000;
    snprintf(s->answer_url_base, sizeof s->answer_url_base, "%s", FEEDBACK_DEFAULT_ANSWER_URL_BASE);
    snprintf(s->default_locale, sizeof s->default_locale, "%s", FEEDBACK_DEFAULT_LOCALE);
    s->auto_complaint = FEEDBACK_DEFAULT_AUTO_COMPLAINT;
    s->auto_complaint_sentiment = FEEDBACK_DEFAULT_AUTO_COMPLAINT_SENTIMENT;
    static const long long first[FEEDBACK_PRIORITY_COUNT] = {
        0, FEEDBACK_DEFAULT_SLA_LOW_FIRST_MS, FEEDBACK_DEFAULT_SLA_NORMAL_FIRST_MS, FEEDBACK_DEFAULT_SLA_HIGH_FIRST_MS,
        FEEDBACK_DEFAULT_SLA_URGENT_FIRST_MS,
    };
    static const long long resolve[FEEDBACK_PRIORITY_COUNT] = {
        0, FEEDBACK_DEFAULT_SLA_LOW_RESOLVE_MS, FEEDBACK_DEFAULT_SLA_NORMAL_RESOLVE_MS,
        FEEDBACK_DEFAULT_SLA_HIGH_RESOLVE_MS, FEEDBACK_DEFAULT_SLA_URGENT_RESOLVE_MS,
    };
    for (int p = 0; p < FEEDBACK_PRIORITY_COUNT; p++) {
        s->sla_first_response_us[p] = first[p] * 1000;
        s->sla_resolution_us[p] = resolve[p] * 1000;
    }
    int rc = feedback_hours_parse(FEEDBACK_DEFAULT_BUSINESS_HOURS, FEEDBACK_DEFAULT_UTC_OFFSET, &s->hours, NULL, 0);
    assert(rc == 0);
    (void) rc;
    s->escalate_admins_us = FEEDBACK_DEFAULT_ESCALATE_ADMINS_MS * 1000;
    s->reopen_window_us = FEEDBACK_DEFAULT_REOPEN_WINDOW_MS * 1000;
}

void feedback_team_lead(const feedback_settings_t *s, const char *team, char *out, size_t out_size)
{
    assert(out && out_size);
    out[0] = '\0';
    const char *fallback = NULL;
    size_t fallback_len = 0;
    size_t team_len = team ? strlen(team) : 0;
    const char *p = s->team_leads;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t) (end - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        if (eq) {
            size_t name_len = (size_t) (eq - p);
            const char *lead = eq + 1;
            size_t lead_len = len - name_len - 1;
            if (team_len && name_len == team_len && memcmp(p, team, team_len) == 0) {
                snprintf(out, out_size, "%.*s", (int) lead_len, lead);
                return;
            }
            if (name_len == 1 && p[0] == '*') {
                fallback = lead;
                fallback_len = lead_len;
            }
        }
        p += len + (end ? 1 : 0);
    }
    if (fallback)
        snprintf(out, out_size, "%.*s", (int) fallback_len, fallback);
}

int64_t feedback_now(const feedback_t *fb)
{
    return fb->clock(fb->clock_arg);
}

int feedback_fail(feedback_err_t *err, crm_rpc_status_t status, const char *field, const char *fmt, ...)
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
    case CRM_RPC_CONFLICT: return CRM_ECONFLICT;
    case CRM_RPC_PRECONDITION_FAILED: return CRM_ESTALE;
    case CRM_RPC_FORBIDDEN: return CRM_EDENIED;
    case CRM_RPC_TOO_LARGE: return CRM_ELIMIT;
    default: return CRM_EINVALID;
    }
}

int feedback_write(feedback_t *fb, crm_store_write_fn fn, void *arg)
{
    int rc = crm_store_write(fb->store, fn, arg);
    if (rc == 0)
        crm_outbox_notify(fb->outbox);
    return rc;
}

int feedback_emit(feedback_t *fb, crm_txn_t *txn, const char *type, const char *customer_id,
                  const ProtobufCMessage *data)
{
    crm_event_spec_t spec = {
        .source = fb->source, .type = type, .subject = customer_id, .time_us = feedback_now(fb), .data = data,
    };
    return crm_event_append(fb->outbox, txn, fb->ids, &spec, NULL);
}

/* --- First start */

static int s_seed(crm_txn_t *txn, void *arg)
{
    feedback_t *fb = arg;
    Crm__V1__FeedbackMeta *meta = NULL;
    int rc = feedback_record_get(txn, fb->db.meta, FEEDBACK_META_KEY, strlen(FEEDBACK_META_KEY),
                                 &crm__v1__feedback_meta__descriptor, (ProtobufCMessage **) &meta);
    bool seeded = rc == 0 && meta->seeded;
    crm_codec_message_free((ProtobufCMessage **) &meta);
    if (rc && rc != CRM_ENOTFOUND)
        return rc;
    if (seeded)
        return 0;
    rc = feedback_surveys_seed(fb, txn, feedback_now(fb));
    if (rc == 0) {
        Crm__V1__FeedbackMeta m = CRM__V1__FEEDBACK_META__INIT;
        m.seeded = true;
        rc = feedback_record_put(txn, fb->db.meta, FEEDBACK_META_KEY, strlen(FEEDBACK_META_KEY), &m.base);
    }
    return rc;
}

int feedback_new(const feedback_options_t *opts, feedback_t **fb_p)
{
    if (!opts || !opts->store || !opts->outbox || !opts->ids)
        return CRM_EINVALID;
    if (sodium_init() < 0)
        return CRM_EIO;
    feedback_t *fb = calloc(1, sizeof *fb);
    if (!fb)
        return CRM_ENOMEM;
    fb->store = opts->store;
    fb->outbox = opts->outbox;
    fb->ids = opts->ids;
    snprintf(fb->source, sizeof fb->source, "%s", opts->source ? opts->source : "/crm/feedback");
    fb->settings = opts->settings;
    fb->clock = opts->clock ? opts->clock : s_wall_clock;
    fb->clock_arg = opts->clock_arg;
    int rc = feedback_record_open(fb->store, &fb->db);
    if (rc == 0)
        rc = crm_store_write(fb->store, s_seed, fb);
    if (rc) {
        free(fb);
        return rc;
    }
    *fb_p = fb;
    return 0;
}

void feedback_destroy(feedback_t **fb_p)
{
    if (!fb_p || !*fb_p)
        return;
    free(*fb_p);
    *fb_p = NULL;
}

/* --- The timer job */

typedef struct {
    feedback_t *fb;
    bool more;
} s_tick_t;

typedef struct {
    uint8_t key[FEEDBACK_TIMER_KEY_MAX];
    size_t len;
} s_due_key_t;

/* Runs one timer. A refusal about the data (a record that no longer fits) drops the timer
 * rather than failing every later tick; store and memory errors are retried. */
static int s_run_timer(feedback_t *fb, crm_txn_t *txn, const Crm__V1__FeedbackTimer *t)
{
    int rc = 0;
    switch (t->kind) {
    case CRM__V1__FEEDBACK_TIMER__KIND__KIND_INVITE:
        rc = feedback_invite_on_timer(fb, txn, t);
        break;
    case CRM__V1__FEEDBACK_TIMER__KIND__KIND_FIRST_RESPONSE:
    case CRM__V1__FEEDBACK_TIMER__KIND__KIND_RESOLUTION:
    case CRM__V1__FEEDBACK_TIMER__KIND__KIND_ESCALATE_ADMINS:
    case CRM__V1__FEEDBACK_TIMER__KIND__KIND_AUTO_CLOSE:
        rc = feedback_complaint_on_timer(fb, txn, t);
        break;
    default:
        break;   /* a kind this version does not know: dropped */
    }
    bool refusal = rc == CRM_EINVALID || rc == CRM_ENOTFOUND || rc == CRM_ECONFLICT || rc == CRM_ESTALE;
    return refusal ? 0 : rc;
}

static int s_tick_body(crm_txn_t *txn, void *arg)
{
    s_tick_t *t = arg;
    t->more = false;
    feedback_t *fb = t->fb;
    int64_t now = feedback_now(fb);
    s_due_key_t *keys = malloc(FEEDBACK_TICK_BATCH * sizeof *keys);
    if (!keys)
        return CRM_ENOMEM;
    size_t count = 0;
    crm_cursor_t *cur = NULL;
    int rc = crm_cursor_open(txn, fb->db.timers, &cur);
    crm_val_t k;
    for (rc = rc ? rc : crm_cursor_first(cur, &k, NULL); rc == 0 && count < FEEDBACK_TICK_BATCH;
         rc = crm_cursor_next(cur, &k, NULL)) {
        if (k.size < FEEDBACK_TIME_KEY_LEN || k.size > FEEDBACK_TIMER_KEY_MAX || feedback_key_time_read(k.data) > now)
            break;
        memcpy(keys[count].key, k.data, k.size);
        keys[count++].len = k.size;
    }
    crm_cursor_close(&cur);
    if (rc == CRM_ENOTFOUND)
        rc = 0;
    if (count == FEEDBACK_TICK_BATCH)
        t->more = true;
    for (size_t i = 0; rc == 0 && i < count; i++) {
        Crm__V1__FeedbackTimer *timer = NULL;
        int got = feedback_record_get(txn, fb->db.timers, keys[i].key, keys[i].len,
                                      &crm__v1__feedback_timer__descriptor, (ProtobufCMessage **) &timer);
        rc = feedback_index_del(txn, fb->db.timers, keys[i].key, keys[i].len);
        if (rc == 0 && got == 0)
            rc = s_run_timer(fb, txn, timer);
        else if (rc == 0 && got != CRM_EINVALID && got != CRM_ENOTFOUND)
            rc = got;   /* a store failure: retried; an unreadable timer is dropped */
        crm_codec_message_free((ProtobufCMessage **) &timer);
    }
    free(keys);
    return rc;
}

int feedback_tick(feedback_t *fb, bool *more)
{
    s_tick_t t = { .fb = fb };
    int rc = feedback_write(fb, s_tick_body, &t);
    *more = rc == 0 && t.more;
    return rc;
}
