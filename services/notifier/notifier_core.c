/* notifier_core.c: the notifier state: settings, first start, the outbox, errors, the rule cache. */
#include "notifier_ctx.h"

#include <assert.h>
#include <ctype.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crm_codec.h"
#include "crm_error.h"
#include "crm_event.h"
#include "crm_time.h"
#include "notifier_delivery.h"
#include "notifier_directory.h"
#include "notifier_rules.h"
#include "notifier_template.h"

#define S_DURATION_MAX_MS (31LL * 24 * 3600 * 1000)   /* a month */
#define S_RETRY_BASE_MIN_MS 10
#define S_TIMEOUT_MIN_MS 100
#define S_TIMEOUT_MAX_MS (5LL * 60 * 1000)
#define S_TICK_MIN_MS 10
#define S_TICK_MAX_MS (60LL * 1000)

static int64_t s_wall_clock(void *arg)
{
    return crm_time_now_us();
}

void notifier_settings_default(notifier_settings_t *s)
{
    memset(s, 0, sizeof *s);
    snprintf(s->smtp_from, sizeof s->smtp_from, "%s", NOTIFIER_DEFAULT_SMTP_FROM);
    s->smtp_tls = NOTIFIER_TLS_AUTO;
    s->retry_base_us = NOTIFIER_DEFAULT_RETRY_BASE_MS * 1000;
    s->retry_max_us = NOTIFIER_DEFAULT_RETRY_MAX_MS * 1000;
    s->max_attempts = NOTIFIER_DEFAULT_MAX_ATTEMPTS;
    s->send_timeout_us = NOTIFIER_DEFAULT_SEND_TIMEOUT_MS * 1000;
    snprintf(s->default_locale, sizeof s->default_locale, "%s", NOTIFIER_DEFAULT_LOCALE);
    s->park_us = NOTIFIER_DEFAULT_PARK_MS * 1000;
    s->senders = NOTIFIER_DEFAULT_SENDERS;
    s->catch_up_days = NOTIFIER_DEFAULT_CATCH_UP_DAYS;
}

/* Reads a text setting into a fixed buffer. */
static int s_text(crm_config_t *cfg, const char *name, const char *def, char *out, size_t size)
{
    char *v = NULL;
    int rc = crm_config_string(cfg, name, def, &v);
    if (rc)
        return rc;
    snprintf(out, size, "%s", v ? v : "");
    free(v);
    return 0;
}

/* "MM-DD=name" or "YYYY-MM-DD=name", comma-separated. */
static int s_holidays(const char *text, notifier_settings_t *s, char *why, size_t why_size)
{
    s->holiday_count = 0;
    const char *p = text;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        if (!*p)
            break;
        size_t len = strcspn(p, ",");
        char item[NOTIFIER_NAME_SIZE + 16];
        if (len >= sizeof item || s->holiday_count == NOTIFIER_HOLIDAYS_MAX)
            goto bad;
        memcpy(item, p, len);
        item[len] = '\0';
        while (len && item[len - 1] == ' ')
            item[--len] = '\0';
        char *eq = strchr(item, '=');
        if (!eq)
            goto bad;
        *eq = '\0';
        notifier_holiday_t *h = &s->holidays[s->holiday_count];
        memset(h, 0, sizeof *h);
        char date[NOTIFIER_DATE_SIZE];
        if (strlen(item) == 5)
            snprintf(date, sizeof date, "2000-%s", item);   /* a leap year: 02-29 is a date */
        else
            snprintf(date, sizeof date, "%.10s", item);
        if (notifier_date_parse(date, &h->year, &h->month, &h->mday) != 0 || (strlen(item) != 5 && strlen(item) != 10)
            || !notifier_name_valid(eq + 1, false))
            goto bad;
        if (strlen(item) == 5)
            h->year = 0;
        snprintf(h->name, sizeof h->name, "%s", eq + 1);
        s->holiday_count++;
        p += strcspn(p, ",");
    }
    return 0;
bad:
    snprintf(why, why_size,
             "CRM_NOTIFIER_HOLIDAYS=\"%.64s\": expected MM-DD=name or YYYY-MM-DD=name, comma-separated "
             "(at most %d), such as 01-01=new_year,2027-02-06=spring_festival",
             text, NOTIFIER_HOLIDAYS_MAX);
    return CRM_ECONFIG;
}

int notifier_settings_load(crm_config_t *cfg, notifier_settings_t *s, long long *tick_ms, char *why,
                           size_t why_size)
{
    snprintf(why, why_size, "%s", "");
    notifier_settings_default(s);
    struct {
        const char *name;
        const char *def;
        char *out;
        size_t size;
    } const texts[] = {
        { "CRM_NOTIFIER_SMTP_URL", "", s->smtp_url, sizeof s->smtp_url },
        { "CRM_NOTIFIER_SMTP_FROM", NOTIFIER_DEFAULT_SMTP_FROM, s->smtp_from, sizeof s->smtp_from },
        { "CRM_NOTIFIER_SMTP_FROM_NAME", "", s->smtp_from_name, sizeof s->smtp_from_name },
        { "CRM_NOTIFIER_SMTP_USER", "", s->smtp_user, sizeof s->smtp_user },
        { "CRM_NOTIFIER_SMTP_PASSWORD", "", s->smtp_password, sizeof s->smtp_password },
        { "CRM_NOTIFIER_SMS_URL", "", s->sms_url, sizeof s->sms_url },
        { "CRM_NOTIFIER_SMS_TOKEN", "", s->sms_token, sizeof s->sms_token },
        { "CRM_NOTIFIER_DEFAULT_LOCALE", NOTIFIER_DEFAULT_LOCALE, s->default_locale, sizeof s->default_locale },
    };
    int rc = 0;
    for (size_t i = 0; i < sizeof texts / sizeof texts[0] && rc == 0; i++)
        rc = s_text(cfg, texts[i].name, texts[i].def, texts[i].out, texts[i].size);
    struct {
        const char *name;
        long long def, min, max;
        int64_t *out;
    } const durations[] = {
        { "CRM_NOTIFIER_RETRY_BASE", NOTIFIER_DEFAULT_RETRY_BASE_MS, S_RETRY_BASE_MIN_MS, S_DURATION_MAX_MS, &s->retry_base_us },
        { "CRM_NOTIFIER_RETRY_MAX_DELAY", NOTIFIER_DEFAULT_RETRY_MAX_MS, S_RETRY_BASE_MIN_MS, S_DURATION_MAX_MS, &s->retry_max_us },
        { "CRM_NOTIFIER_SEND_TIMEOUT", NOTIFIER_DEFAULT_SEND_TIMEOUT_MS, S_TIMEOUT_MIN_MS, S_TIMEOUT_MAX_MS, &s->send_timeout_us },
        { "CRM_NOTIFIER_PARK_TIMEOUT", NOTIFIER_DEFAULT_PARK_MS, 0, S_DURATION_MAX_MS, &s->park_us },
    };
    for (size_t i = 0; i < sizeof durations / sizeof durations[0] && rc == 0; i++) {
        long long ms = 0;
        rc = crm_config_duration_ms(cfg, durations[i].name, durations[i].def, durations[i].min, durations[i].max, &ms);
        if (rc == 0)
            *durations[i].out = ms * 1000;
    }
    long long n = 0;
    if (rc == 0)
        rc = crm_config_int(cfg, "CRM_NOTIFIER_MAX_ATTEMPTS", NOTIFIER_DEFAULT_MAX_ATTEMPTS, 1, NOTIFIER_ATTEMPTS_MAX, &n);
    if (rc == 0) {
        s->max_attempts = (uint32_t) n;
        rc = crm_config_int(cfg, "CRM_NOTIFIER_SENDERS", NOTIFIER_DEFAULT_SENDERS, 1, NOTIFIER_SENDERS_MAX, &n);
    }
    if (rc == 0) {
        s->senders = (uint32_t) n;
        rc = crm_config_int(cfg, "CRM_NOTIFIER_DAILY_CAP", 0, 0, UINT32_MAX, &n);
    }
    if (rc == 0) {
        s->daily_cap = (uint32_t) n;
        rc = crm_config_int(cfg, "CRM_NOTIFIER_CALENDAR_CATCH_UP_DAYS", NOTIFIER_DEFAULT_CATCH_UP_DAYS, 0,
                            NOTIFIER_CATCH_UP_DAYS_MAX, &n);
    }
    if (rc == 0) {
        s->catch_up_days = (uint32_t) n;
        rc = crm_config_bool(cfg, "CRM_NOTIFIER_ALLOW_PRIVATE_TARGETS", false, &s->allow_private);
    }
    if (rc == 0)
        rc = crm_config_duration_ms(cfg, "CRM_NOTIFIER_TICK", NOTIFIER_DEFAULT_TICK_MS, S_TICK_MIN_MS, S_TICK_MAX_MS,
                                    tick_ms);
    if (rc) {
        snprintf(why, why_size, "%s", crm_config_error(cfg));
        return rc;
    }
    char text[NOTIFIER_SETTING_MAX];
    rc = s_text(cfg, "CRM_NOTIFIER_SMTP_TLS", "auto", text, sizeof text);
    if (rc == 0) {
        static const char *const names[] = { "auto", "none", "starttls", "insecure" };
        bool found = false;
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            if (strcasecmp(text, names[i]) == 0) {
                s->smtp_tls = (notifier_tls_t) i;
                found = true;
            }
        if (!found) {
            snprintf(why, why_size, "CRM_NOTIFIER_SMTP_TLS=\"%.32s\": expected auto, none, starttls or insecure", text);
            return CRM_ECONFIG;
        }
        rc = s_text(cfg, "CRM_NOTIFIER_QUIET_HOURS", "", text, sizeof text);
    }
    if (rc == 0 && notifier_quiet_parse(text, &s->quiet) != 0) {
        snprintf(why, why_size, "CRM_NOTIFIER_QUIET_HOURS=\"%.32s\": expected HH:MM-HH:MM such as 21:00-08:00, or off",
                 text);
        return CRM_ECONFIG;
    }
    if (rc == 0)
        rc = s_text(cfg, "CRM_NOTIFIER_UTC_OFFSET", "+00:00", text, sizeof text);
    if (rc == 0 && notifier_offset_parse(text, &s->utc_offset_min) != 0) {
        snprintf(why, why_size, "CRM_NOTIFIER_UTC_OFFSET=\"%.32s\": expected an offset such as +08:00 or -05:00", text);
        return CRM_ECONFIG;
    }
    if (rc == 0 && !notifier_locale_valid(s->default_locale)) {
        snprintf(why, why_size, "CRM_NOTIFIER_DEFAULT_LOCALE=\"%.32s\": expected a BCP 47 tag such as en or zh-CN",
                 s->default_locale);
        return CRM_ECONFIG;
    }
    if (rc == 0)
        rc = s_text(cfg, "CRM_NOTIFIER_HOLIDAYS", "", text, sizeof text);
    if (rc == 0)
        rc = s_holidays(text, s, why, why_size);
    if (rc == CRM_ECONFIG && !why[0])
        snprintf(why, why_size, "%s", crm_config_error(cfg));
    return rc;
}

int64_t notifier_now(const notifier_t *nt)
{
    return nt->clock(nt->clock_arg);
}

int notifier_fail(notifier_err_t *err, crm_rpc_status_t status, const char *field, const char *fmt, ...)
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

int notifier_write(notifier_t *nt, crm_store_write_fn fn, void *arg)
{
    int rc = crm_store_write(nt->store, fn, arg);
    if (rc == 0)
        crm_outbox_notify(nt->outbox);
    return rc;
}

void notifier_wake(notifier_t *nt)
{
    if (nt->wake)
        nt->wake(nt->wake_arg);
}

int notifier_emit(notifier_t *nt, crm_txn_t *txn, const char *type, const char *subject,
                  const ProtobufCMessage *data)
{
    crm_event_spec_t spec = {
        .source = nt->source, .type = type, .subject = subject && subject[0] ? subject : NULL,
        .time_us = notifier_now(nt), .data = data,
    };
    return crm_event_append(nt->outbox, txn, nt->ids, &spec, NULL);
}

/* --- Meta */

static int s_seed(crm_txn_t *txn, void *arg)
{
    notifier_t *nt = arg;
    Crm__V1__NotifierMeta *meta = NULL;
    int rc = notifier_record_get(txn, nt->db.meta, NOTIFIER_META_KEY, strlen(NOTIFIER_META_KEY),
                                 &crm__v1__notifier_meta__descriptor, (ProtobufCMessage **) &meta);
    if (rc == 0 && meta->seeded) {
        crm_codec_message_free((ProtobufCMessage **) &meta);
        return 0;
    }
    if (rc && rc != CRM_ENOTFOUND)
        return rc;
    crm_codec_message_free((ProtobufCMessage **) &meta);
    int64_t now = notifier_now(nt);
    rc = notifier_builtin_seed(nt, txn, now);
    if (rc)
        return rc;
    Crm__V1__NotifierMeta m = CRM__V1__NOTIFIER_META__INIT;
    m.seeded = true;
    int64_t today = notifier_local_day(now, nt->settings.utc_offset_min);
    m.calendar_day = today - 1;     /* today's birthdays and holidays are still to come */
    m.holiday_day = today - 1;
    m.calendar_cursor = "";
    m.holiday_cursor = "";
    return notifier_record_put(txn, nt->db.meta, NOTIFIER_META_KEY, strlen(NOTIFIER_META_KEY), &m.base);
}

/* A stopped process may have taken deliveries without recording their outcome: queue them again
 * (the attempt is not counted; the message may have gone out once already). */
static int s_requeue_inflight(crm_txn_t *txn, void *arg)
{
    notifier_t *nt = arg;
    crm_cursor_t *cur = NULL;
    int rc = crm_cursor_open(txn, nt->db.inflight, &cur);
    crm_val_t k;
    int64_t now = notifier_now(nt);
    for (rc = rc ? rc : crm_cursor_first(cur, &k, NULL); rc == 0;) {
        char id[CRM_ID_SIZE];
        if (k.size != CRM_ID_LEN) {
            rc = crm_cursor_del(cur);
        } else {
            memcpy(id, k.data, CRM_ID_LEN);
            id[CRM_ID_LEN] = '\0';
            rc = notifier_delivery_requeue(nt, txn, id, now);
            if (rc == 0)
                rc = crm_cursor_del(cur);
        }
        if (rc == 0)
            rc = crm_cursor_next(cur, &k, NULL);
    }
    crm_cursor_close(&cur);
    return rc == CRM_ENOTFOUND ? 0 : rc;
}

int notifier_rules_reload(notifier_t *nt)
{
    crm_txn_t *txn = NULL;
    notifier_rules_t fresh = { 0 };
    int rc = crm_store_read_begin(nt->store, &txn);
    if (rc == 0)
        rc = notifier_rules_load(nt, txn, &fresh);
    crm_store_txn_end(&txn);
    if (rc) {
        notifier_rules_clear(&fresh);
        return rc;
    }
    notifier_rules_clear(&nt->rules);
    nt->rules = fresh;
    return 0;
}

int notifier_new(const notifier_options_t *opts, notifier_t **nt_p)
{
    if (!opts->store || !opts->outbox || !opts->ids)
        return CRM_EINVALID;
    if (sodium_init() < 0)
        return CRM_EIO;
    notifier_t *nt = calloc(1, sizeof *nt);
    if (!nt)
        return CRM_ENOMEM;
    nt->store = opts->store;
    nt->outbox = opts->outbox;
    nt->ids = opts->ids;
    nt->log = opts->log;
    snprintf(nt->source, sizeof nt->source, "%s", opts->source ? opts->source : "/crm/notifier");
    nt->settings = opts->settings;
    nt->clock = opts->clock ? opts->clock : s_wall_clock;
    nt->clock_arg = opts->clock_arg;
    int rc = notifier_record_open(nt->store, &nt->db);
    struct {
        const char *labels;
        crm_metrics_counter_t **out;
    } const counters[] = {
        { "outcome=\"sent\"", &nt->sent }, { "outcome=\"failed\"", &nt->failed },
        { "outcome=\"dead_lettered\"", &nt->dead },
    };
    for (size_t i = 0; rc == 0 && opts->metrics && i < sizeof counters / sizeof counters[0]; i++)
        rc = crm_metrics_counter(opts->metrics, "crm_notifier_messages_total",
                                 "Messages sent, failed (to be retried) and dead-lettered by the notifier's senders",
                                 counters[i].labels, counters[i].out);
    if (rc == 0)
        rc = crm_store_write(nt->store, s_seed, nt);
    if (rc == 0)
        rc = crm_store_write(nt->store, s_requeue_inflight, nt);
    if (rc == 0)
        rc = notifier_rules_reload(nt);
    if (rc) {
        notifier_destroy(&nt);
        return rc;
    }
    *nt_p = nt;
    return 0;
}

void notifier_destroy(notifier_t **nt_p)
{
    if (!nt_p || !*nt_p)
        return;
    notifier_rules_clear(&(*nt_p)->rules);
    free(*nt_p);
    *nt_p = NULL;
}
