/* loyalty_core.c: the loyalty state, first-start defaults, events out, and the time-driven jobs (release, expiry, warnings, calendar, tier review). */
#include "loyalty_ctx.h"

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
#include "loyalty_ledger.h"
#include "loyalty_rules.h"
#include "loyalty_tiers.h"

/* The service's progress at rest (crm.v1.LoyaltyMeta). */
typedef struct {
    bool seeded;
    int64_t calendar_day;
    char calendar_cursor[LOYALTY_CALENDAR_KEY_LEN + 1];
    int64_t next_review_us;
    char review_cursor[CRM_ID_SIZE];
    int64_t review_started_us;
} s_meta_t;

static int64_t s_wall_clock(void *arg)
{
    return crm_time_now_us();
}

void loyalty_settings_default(loyalty_settings_t *s)
{
    memset(s, 0, sizeof *s);
    s->validity_us = LOYALTY_DEFAULT_VALIDITY_MS * 1000;
    s->return_window_us = LOYALTY_DEFAULT_RETURN_WINDOW_MS * 1000;
    s->warning_us = LOYALTY_DEFAULT_WARNING_MS * 1000;
    s->tier_window_us = LOYALTY_DEFAULT_TIER_WINDOW_MS * 1000;
    s->tier_grace_us = LOYALTY_DEFAULT_TIER_GRACE_MS * 1000;
    s->review_interval_us = LOYALTY_DEFAULT_REVIEW_INTERVAL_MS * 1000;
    s->code_validity_us = LOYALTY_DEFAULT_CODE_VALIDITY_MS * 1000;
    snprintf(s->tier_currency, sizeof s->tier_currency, "%s", LOYALTY_DEFAULT_TIER_CURRENCY);
}

int64_t loyalty_now(const loyalty_t *ly)
{
    return ly->clock(ly->clock_arg);
}

int loyalty_fail(loyalty_err_t *err, crm_rpc_status_t status, const char *field, const char *fmt, ...)
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

int loyalty_write(loyalty_t *ly, crm_store_write_fn fn, void *arg)
{
    int rc = crm_store_write(ly->store, fn, arg);
    if (rc == 0)
        crm_outbox_notify(ly->outbox);
    return rc;
}

int loyalty_emit(loyalty_t *ly, crm_txn_t *txn, const char *type, const char *customer_id,
                 const ProtobufCMessage *data, int64_t time_us)
{
    crm_event_spec_t spec = {
        .source = ly->source, .type = type, .subject = customer_id, .time_us = time_us, .data = data,
    };
    return crm_event_append(ly->outbox, txn, ly->ids, &spec, NULL);
}

/* --- Meta */

static int s_meta_get(loyalty_t *ly, crm_txn_t *txn, s_meta_t *meta)
{
    memset(meta, 0, sizeof *meta);
    Crm__V1__LoyaltyMeta *m = NULL;
    int rc = loyalty_record_get(txn, ly->db.meta, LOYALTY_META_KEY, strlen(LOYALTY_META_KEY),
                                &crm__v1__loyalty_meta__descriptor, (ProtobufCMessage **) &m);
    if (rc == CRM_ENOTFOUND)
        return 0;
    if (rc)
        return rc;
    meta->seeded = m->seeded;
    meta->calendar_day = m->calendar_day;
    snprintf(meta->calendar_cursor, sizeof meta->calendar_cursor, "%s", m->calendar_cursor);
    meta->next_review_us = m->next_review_us;
    snprintf(meta->review_cursor, sizeof meta->review_cursor, "%s", m->review_cursor);
    meta->review_started_us = m->review_started_us;
    crm_codec_message_free((ProtobufCMessage **) &m);
    return 0;
}

static int s_meta_put(loyalty_t *ly, crm_txn_t *txn, s_meta_t *meta)
{
    Crm__V1__LoyaltyMeta m = CRM__V1__LOYALTY_META__INIT;
    m.seeded = meta->seeded;
    m.calendar_day = meta->calendar_day;
    m.calendar_cursor = meta->calendar_cursor;
    m.next_review_us = meta->next_review_us;
    m.review_cursor = meta->review_cursor;
    m.review_started_us = meta->review_started_us;
    return loyalty_record_put(txn, ly->db.meta, LOYALTY_META_KEY, strlen(LOYALTY_META_KEY), &m.base);
}

static bool s_meta_same(const s_meta_t *a, const s_meta_t *b)
{
    return a->seeded == b->seeded && a->calendar_day == b->calendar_day
           && strcmp(a->calendar_cursor, b->calendar_cursor) == 0 && a->next_review_us == b->next_review_us
           && strcmp(a->review_cursor, b->review_cursor) == 0 && a->review_started_us == b->review_started_us;
}

/* First start: the default tiers and rules, and the jobs' starting points. */
static int s_seed(crm_txn_t *txn, void *arg)
{
    loyalty_t *ly = arg;
    s_meta_t meta;
    int rc = s_meta_get(ly, txn, &meta);
    if (rc || meta.seeded)
        return rc;
    int64_t now = loyalty_now(ly);
    rc = loyalty_tiers_seed(ly, txn, now);
    if (rc == 0)
        rc = loyalty_rules_seed(ly, txn, now);
    if (rc)
        return rc;
    meta.seeded = true;
    meta.calendar_day = loyalty_day_of(now) - 1;
    meta.next_review_us = now + ly->settings.review_interval_us;
    return s_meta_put(ly, txn, &meta);
}

int loyalty_new(const loyalty_options_t *opts, loyalty_t **ly_p)
{
    if (!opts->store || !opts->outbox || !opts->ids)
        return CRM_EINVALID;
    if (sodium_init() < 0)
        return CRM_EIO;
    loyalty_t *ly = calloc(1, sizeof *ly);
    if (!ly)
        return CRM_ENOMEM;
    ly->store = opts->store;
    ly->outbox = opts->outbox;
    ly->ids = opts->ids;
    snprintf(ly->source, sizeof ly->source, "%s", opts->source ? opts->source : "/crm/loyalty");
    ly->settings = opts->settings;
    ly->clock = opts->clock ? opts->clock : s_wall_clock;
    ly->clock_arg = opts->clock_arg;
    int rc = loyalty_record_open(ly->store, &ly->db);
    if (rc == 0)
        rc = crm_store_write(ly->store, s_seed, ly);
    if (rc) {
        free(ly);
        return rc;
    }
    *ly_p = ly;
    return 0;
}

void loyalty_destroy(loyalty_t **ly_p)
{
    if (!ly_p || !*ly_p)
        return;
    free(*ly_p);
    *ly_p = NULL;
}

/* --- Jobs */

typedef struct {
    loyalty_t *ly;
    int64_t now;
    size_t budget;      /* items this transaction may still handle */
    bool more;
} s_tick_t;

/* What a job does to one due lot. */
typedef int (*s_lot_job_fn)(loyalty_t *ly, crm_txn_t *txn, loyalty_account_t *acc, uint64_t lot);

static int s_warn(loyalty_t *ly, crm_txn_t *txn, loyalty_account_t *acc, uint64_t number)
{
    Crm__V1__Lot *lot = NULL;
    int rc = loyalty_lot_get(&ly->db, txn, acc->customer_id, number, &lot);
    if (rc)
        return rc;
    if (lot->remaining > 0 && !lot->warned) {
        lot->warned = true;
        rc = loyalty_lot_put(&ly->db, txn, lot, ly->settings.warning_us);
        if (rc == 0) {
            Crm__V1__PointsExpiring ev = CRM__V1__POINTS_EXPIRING__INIT;
            ev.customer_id = acc->customer_id;
            ev.lot = number;
            ev.points = lot->remaining;
            ev.expires_at = lot->expires_at;
            ev.balance = acc->balance;
            rc = loyalty_emit(ly, txn, LOYALTY_TOPIC_EXPIRING, acc->customer_id, &ev.base, loyalty_now(ly));
        }
    }
    crm_codec_message_free((ProtobufCMessage **) &lot);
    return rc;
}

/* Runs fn on the lots of time index db that are due at t->now, at most t->budget of them. */
static int s_due_lots(s_tick_t *t, crm_txn_t *txn, crm_db_t db, s_lot_job_fn fn)
{
    if (t->budget == 0)
        return 0;
    uint8_t (*keys)[LOYALTY_INDEX_KEY_LEN] = malloc(t->budget * sizeof *keys);
    if (!keys)
        return CRM_ENOMEM;
    size_t count = 0;
    crm_cursor_t *cur = NULL;
    int rc = crm_cursor_open(txn, db, &cur);
    if (rc == 0) {
        crm_val_t k;
        for (rc = crm_cursor_first(cur, &k, NULL); rc == 0 && count < t->budget;
             rc = crm_cursor_next(cur, &k, NULL)) {
            if (k.size != LOYALTY_INDEX_KEY_LEN || loyalty_key_time_read(k.data) > t->now)
                break;
            memcpy(keys[count++], k.data, LOYALTY_INDEX_KEY_LEN);
        }
        crm_cursor_close(&cur);
        if (rc == CRM_ENOTFOUND)
            rc = 0;
    }
    if (count == t->budget)
        t->more = true;
    for (size_t i = 0; rc == 0 && i < count; i++) {
        crm_val_t key = { keys[i], LOYALTY_INDEX_KEY_LEN };
        int64_t at = 0;
        uint64_t lot = 0;
        char customer_id[CRM_ID_SIZE];
        loyalty_key_index_read(&key, &at, customer_id, &lot);
        loyalty_account_t acc;
        rc = loyalty_account_get(&t->ly->db, txn, customer_id, &acc);
        if (rc == 0)
            rc = fn(t->ly, txn, &acc, lot);
        if (rc == CRM_ENOTFOUND)
            rc = 0;
        /* The job removes the key through the lot; a stale one must not come back forever. */
        if (rc == 0)
            rc = loyalty_index_del(txn, db, keys[i], LOYALTY_INDEX_KEY_LEN);
    }
    t->budget -= count;
    free(keys);
    return rc;
}

#define S_PREFIX_LEN  5       /* a calendar key's kind and MMDD */
#define S_PREFIXES_MAX 4      /* two kinds, each for the day and for 29 February */

/* The calendar prefixes ("b0228") of day, in key order: day's own, and 29 February on the 28th
 * of a common year. Returns how many. */
static size_t s_calendar_prefixes(int64_t day, char prefixes[S_PREFIXES_MAX][S_PREFIX_LEN + 1])
{
    int year, month, mday;
    loyalty_civil_from_day(day, &year, &month, &mday);
    bool leap_day_too = month == 2 && mday == 28 && !loyalty_leap_year(year);
    size_t n = 0;
    const char kinds[] = { LOYALTY_CALENDAR_ANNIVERSARY, LOYALTY_CALENDAR_BIRTHDAY };
    for (size_t i = 0; i < sizeof kinds; i++) {
        snprintf(prefixes[n++], S_PREFIX_LEN + 1, "%c%02d%02d", kinds[i], month, mday);
        if (leap_day_too)
            snprintf(prefixes[n++], S_PREFIX_LEN + 1, "%c0229", kinds[i]);
    }
    return n;
}

/* Celebrates the next birthdays and anniversaries: the day after meta->calendar_day, from the
 * key after meta->calendar_cursor, at most t->budget customers. */
static int s_calendar_day(s_tick_t *t, crm_txn_t *txn, s_meta_t *meta)
{
    int64_t today = loyalty_day_of(t->now);
    if (meta->calendar_day >= today || t->budget == 0)
        return 0;
    int64_t day = meta->calendar_day + 1;
    if (today - day >= LOYALTY_CALENDAR_CATCH_UP) {
        day = today - LOYALTY_CALENDAR_CATCH_UP + 1;
        meta->calendar_cursor[0] = '\0';
    }
    char prefixes[S_PREFIXES_MAX][S_PREFIX_LEN + 1];
    size_t prefix_count = s_calendar_prefixes(day, prefixes);
    uint8_t (*keys)[LOYALTY_CALENDAR_KEY_LEN] = malloc(t->budget * sizeof *keys);
    if (!keys)
        return CRM_ENOMEM;
    size_t count = 0;
    crm_cursor_t *cur = NULL;
    int rc = crm_cursor_open(txn, t->ly->db.calendar, &cur);
    const char *after = meta->calendar_cursor;
    for (size_t p = 0; rc == 0 && p < prefix_count && count < t->budget; p++) {
        const char *prefix = prefixes[p];
        bool resume = after[0] && memcmp(after, prefix, S_PREFIX_LEN) == 0;
        if (after[0] && memcmp(after, prefix, S_PREFIX_LEN) > 0)
            continue;   /* done before the restart */
        crm_val_t k;
        rc = resume ? crm_cursor_seek(cur, after, strlen(after), &k, NULL)
                    : crm_cursor_seek(cur, prefix, S_PREFIX_LEN, &k, NULL);
        for (; rc == 0 && count < t->budget; rc = crm_cursor_next(cur, &k, NULL)) {
            if (k.size != LOYALTY_CALENDAR_KEY_LEN || memcmp(k.data, prefix, S_PREFIX_LEN) != 0)
                break;
            if (resume && memcmp(k.data, after, LOYALTY_CALENDAR_KEY_LEN) == 0)
                continue;
            memcpy(keys[count++], k.data, LOYALTY_CALENDAR_KEY_LEN);
        }
        if (rc == CRM_ENOTFOUND)
            rc = 0;
    }
    crm_cursor_close(&cur);
    for (size_t i = 0; rc == 0 && i < count; i++) {
        crm_val_t key = { keys[i], LOYALTY_CALENDAR_KEY_LEN };
        rc = loyalty_calendar_celebrate(t->ly, txn, &key, day);
    }
    if (rc == 0) {
        if (count == t->budget) {
            memcpy(meta->calendar_cursor, keys[count - 1], LOYALTY_CALENDAR_KEY_LEN);
            meta->calendar_cursor[LOYALTY_CALENDAR_KEY_LEN] = '\0';
        } else {
            meta->calendar_day = day;
            meta->calendar_cursor[0] = '\0';
        }
    }
    t->budget -= count;
    free(keys);
    return rc;
}

/* Celebrates the days since meta->calendar_day up to today, one day after the
 * other while the budget lasts; a day with more customers than the budget leaves a cursor. */
static int s_calendar(s_tick_t *t, crm_txn_t *txn, s_meta_t *meta)
{
    int64_t today = loyalty_day_of(t->now);
    int rc = 0;
    while (rc == 0 && meta->calendar_day < today && t->budget > 0) {
        rc = s_calendar_day(t, txn, meta);
        if (meta->calendar_cursor[0])
            break;
    }
    if (meta->calendar_day < today)
        t->more = true;
    return rc;
}

/* The periodic tier review, resumed from meta->review_cursor, at most t->budget accounts. */
static int s_review(s_tick_t *t, crm_txn_t *txn, s_meta_t *meta)
{
    if (t->now < meta->next_review_us || t->budget == 0)
        return 0;
    if (!meta->review_cursor[0] && !meta->review_started_us)
        meta->review_started_us = t->now;
    char (*ids)[CRM_ID_SIZE] = malloc(t->budget * sizeof *ids);
    if (!ids)
        return CRM_ENOMEM;
    size_t count = 0;
    crm_cursor_t *cur = NULL;
    int rc = crm_cursor_open(txn, t->ly->db.accounts, &cur);
    if (rc == 0) {
        crm_val_t k;
        const char *after = meta->review_cursor;
        rc = after[0] ? crm_cursor_seek(cur, after, strlen(after), &k, NULL) : crm_cursor_first(cur, &k, NULL);
        for (; rc == 0 && count < t->budget; rc = crm_cursor_next(cur, &k, NULL)) {
            if (k.size != CRM_ID_LEN || (after[0] && memcmp(k.data, after, CRM_ID_LEN) == 0))
                continue;
            memcpy(ids[count], k.data, CRM_ID_LEN);
            ids[count++][CRM_ID_LEN] = '\0';
        }
        crm_cursor_close(&cur);
        if (rc == CRM_ENOTFOUND)
            rc = 0;
    }
    for (size_t i = 0; rc == 0 && i < count; i++) {
        loyalty_account_t acc;
        rc = loyalty_account_get(&t->ly->db, txn, ids[i], &acc);
        if (rc == 0)
            rc = loyalty_tier_review(t->ly, txn, &acc, t->now);
    }
    if (rc == 0) {
        if (count == t->budget) {
            snprintf(meta->review_cursor, sizeof meta->review_cursor, "%s", ids[count - 1]);
            t->more = true;
        } else {
            int64_t next = meta->review_started_us + t->ly->settings.review_interval_us;
            meta->next_review_us = next > t->now ? next : t->now + t->ly->settings.review_interval_us;
            meta->review_cursor[0] = '\0';
            meta->review_started_us = 0;
        }
    }
    t->budget -= count;
    free(ids);
    return rc;
}

static int s_tick_body(crm_txn_t *txn, void *arg)
{
    s_tick_t *t = arg;
    t->budget = LOYALTY_TICK_BATCH;
    t->more = false;
    loyalty_t *ly = t->ly;
    s_meta_t meta, before;
    int rc = s_meta_get(ly, txn, &meta);
    before = meta;
    if (rc == 0)
        rc = s_due_lots(t, txn, ly->db.lot_pending, loyalty_ledger_release);
    if (rc == 0)
        rc = s_due_lots(t, txn, ly->db.lot_expiry, loyalty_ledger_expire);
    if (rc == 0 && ly->settings.warning_us > 0)
        rc = s_due_lots(t, txn, ly->db.lot_warning, s_warn);
    if (rc == 0)
        rc = s_calendar(t, txn, &meta);
    if (rc == 0)
        rc = s_review(t, txn, &meta);
    if (rc == 0 && !s_meta_same(&meta, &before))
        rc = s_meta_put(ly, txn, &meta);
    if (rc == 0 && t->budget > 0) {
        size_t deleted = 0;
        rc = loyalty_counters_trim(ly, txn, t->now, t->budget, &deleted);
        if (deleted == t->budget)
            t->more = true;
    }
    return rc;
}

int loyalty_tick(loyalty_t *ly, bool *more)
{
    s_tick_t t = { .ly = ly, .now = loyalty_now(ly) };
    int rc = loyalty_write(ly, s_tick_body, &t);
    *more = rc == 0 && t.more;
    return rc;
}
