/* notifier_jobs.c: the time-driven work: reminders, digests, birthdays, holidays, held events; catching up after a restart. */
#include "notifier_jobs.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crm_codec.h"
#include "crm_error.h"
#include "notifier_delivery.h"
#include "notifier_directory.h"
#include "notifier_rules.h"

#define S_MMDD_LEN 4
#define S_YEAR_UNKNOWN_MIN 1000      /* a birth year below this is "not given" */

/* --- Meta */

typedef struct {
    int64_t calendar_day;
    char calendar_cursor[NOTIFIER_CALENDAR_KEY_LEN + 1];
    int64_t holiday_day;
    char holiday_cursor[CRM_ID_SIZE];
    uint32_t holiday_index;
} s_meta_t;

static int s_meta_get(notifier_t *nt, crm_txn_t *txn, s_meta_t *meta)
{
    memset(meta, 0, sizeof *meta);
    Crm__V1__NotifierMeta *m = NULL;
    int rc = notifier_record_get(txn, nt->db.meta, NOTIFIER_META_KEY, strlen(NOTIFIER_META_KEY),
                                 &crm__v1__notifier_meta__descriptor, (ProtobufCMessage **) &m);
    if (rc)
        return rc;
    meta->calendar_day = m->calendar_day;
    snprintf(meta->calendar_cursor, sizeof meta->calendar_cursor, "%s", m->calendar_cursor);
    meta->holiday_day = m->holiday_day;
    snprintf(meta->holiday_cursor, sizeof meta->holiday_cursor, "%s", m->holiday_cursor);
    meta->holiday_index = m->holiday_index;
    crm_codec_message_free((ProtobufCMessage **) &m);
    return 0;
}

static int s_meta_put(notifier_t *nt, crm_txn_t *txn, s_meta_t *meta)
{
    Crm__V1__NotifierMeta m = CRM__V1__NOTIFIER_META__INIT;
    m.seeded = true;
    m.calendar_day = meta->calendar_day;
    m.calendar_cursor = meta->calendar_cursor;
    m.holiday_day = meta->holiday_day;
    m.holiday_cursor = meta->holiday_cursor;
    m.holiday_index = meta->holiday_index;
    return notifier_record_put(txn, nt->db.meta, NOTIFIER_META_KEY, strlen(NOTIFIER_META_KEY), &m.base);
}

/* --- Calendar */

/* Raises a calendar occasion of a customer for the rules. */
static int s_occasion(notifier_t *nt, crm_txn_t *txn, const char *type, const char *event_id, const char *customer_id,
                      const char *occasion, int64_t day, int age)
{
    char date[NOTIFIER_DATE_SIZE];
    notifier_date_format(day, date);
    Crm__V1__CalendarOccasion o = CRM__V1__CALENDAR_OCCASION__INIT;
    o.customer_id = (char *) customer_id;
    o.occasion = (char *) occasion;
    o.date = date;
    o.age = age > 0 ? (uint32_t) age : 0;
    json_t *data = NULL;
    int rc = crm_codec_json_from_message(&o.base, CRM_CODEC_EMIT_DEFAULTS, &data, NULL);
    if (rc)
        return rc;
    notifier_event_t ev = {
        .type = type, .id = event_id, .subject = customer_id, .time_us = notifier_now(nt), .data = data,
    };
    rc = notifier_intake(nt, txn, &ev, false, NULL);
    json_decref(data);
    return rc;
}

int notifier_calendar_birthday(notifier_t *nt, crm_txn_t *txn, const char *customer_id, int64_t day)
{
    Crm__V1__NotifyCustomer *c = NULL;
    int rc = notifier_customer_get(nt, txn, customer_id, &c);
    if (rc == CRM_ENOTFOUND)
        return 0;
    if (rc)
        return rc;
    int year = 0, month = 0, mday = 0, today_year = 0, today_month = 0, today_mday = 0;
    bool year_known = strlen(c->birthday) == 10 && notifier_date_parse(c->birthday, &year, &month, &mday) == 0
                      && year >= S_YEAR_UNKNOWN_MIN;
    notifier_civil_from_day(day, &today_year, &today_month, &today_mday);
    if (!c->deleted && c->birthday[0]) {
        char event_id[NOTIFIER_EVENT_ID_MAX];
        snprintf(event_id, sizeof event_id, "birthday:%s:%04d", customer_id, today_year);
        rc = s_occasion(nt, txn, NOTIFIER_TYPE_BIRTHDAY, event_id, customer_id, "birthday", day,
                        year_known ? today_year - year : 0);
    }
    crm_codec_message_free((ProtobufCMessage **) &c);
    return rc;
}

/* Birthdays of one day, from the cursor on; uses up *budget. Sets *done when the day is over. */
static int s_birthdays(notifier_t *nt, crm_txn_t *txn, s_meta_t *meta, int64_t day, size_t *budget, bool *done)
{
    *done = false;
    int y, m, d;
    notifier_civil_from_day(day, &y, &m, &d);
    char prefixes[2][S_MMDD_LEN + 1];
    size_t n_prefixes = 1;
    snprintf(prefixes[0], sizeof prefixes[0], "%02d%02d", m, d);
    if (m == 2 && d == 28 && notifier_birthday_on(2, 29, day)) {
        snprintf(prefixes[1], sizeof prefixes[1], "0229");   /* 29 February on the 28th in common years */
        n_prefixes = 2;
    }
    const char *start = meta->calendar_cursor[0] ? meta->calendar_cursor : prefixes[0];
    crm_cursor_t *cur = NULL;
    int rc = crm_cursor_open(txn, nt->db.calendar, &cur);
    crm_val_t k;
    if (rc == 0)
        rc = crm_cursor_seek(cur, start, strlen(start), &k, NULL);
    if (rc == 0 && meta->calendar_cursor[0] && k.size == strlen(start) && memcmp(k.data, start, k.size) == 0)
        rc = crm_cursor_next(cur, &k, NULL);   /* the cursor names the last key done */
    for (; rc == 0; rc = crm_cursor_next(cur, &k, NULL)) {
        if (k.size != NOTIFIER_CALENDAR_KEY_LEN)
            continue;
        bool ours = false, past = true;
        for (size_t i = 0; i < n_prefixes; i++) {
            int c = memcmp(k.data, prefixes[i], S_MMDD_LEN);
            ours |= c == 0;
            past &= c > 0;
        }
        if (past)
            break;
        if (!ours)
            continue;
        if (*budget == 0) {
            crm_cursor_close(&cur);
            return 0;
        }
        char id[CRM_ID_SIZE];
        memcpy(id, (const char *) k.data + S_MMDD_LEN, CRM_ID_LEN);
        id[CRM_ID_LEN] = '\0';
        memcpy(meta->calendar_cursor, k.data, k.size);
        meta->calendar_cursor[k.size] = '\0';
        (*budget)--;
        rc = notifier_calendar_birthday(nt, txn, id, day);
        if (rc)
            break;
    }
    crm_cursor_close(&cur);
    if (rc == CRM_ENOTFOUND)
        rc = 0;
    if (rc == 0)
        *done = true;
    return rc;
}

static bool s_holiday_on(const notifier_holiday_t *h, int64_t day)
{
    int y, m, d;
    notifier_civil_from_day(day, &y, &m, &d);
    return h->month == m && h->mday == d && (h->year == 0 || h->year == y);
}

/* Holiday greetings of one day: each holiday of the day, to every known customer. */
static int s_holidays(notifier_t *nt, crm_txn_t *txn, s_meta_t *meta, int64_t day, size_t *budget, bool *done)
{
    *done = false;
    char date[NOTIFIER_DATE_SIZE];
    notifier_date_format(day, date);
    for (; meta->holiday_index < nt->settings.holiday_count; meta->holiday_index++, meta->holiday_cursor[0] = '\0') {
        const notifier_holiday_t *h = &nt->settings.holidays[meta->holiday_index];
        if (!s_holiday_on(h, day))
            continue;
        char event_id[NOTIFIER_EVENT_ID_MAX];
        snprintf(event_id, sizeof event_id, "holiday:%s:%s", h->name, date);
        crm_cursor_t *cur = NULL;
        int rc = crm_cursor_open(txn, nt->db.customers, &cur);
        crm_val_t k, v;
        if (rc == 0)
            rc = meta->holiday_cursor[0] ? crm_cursor_seek(cur, meta->holiday_cursor, CRM_ID_LEN, &k, &v)
                                         : crm_cursor_first(cur, &k, &v);
        if (rc == 0 && meta->holiday_cursor[0] && k.size == CRM_ID_LEN && memcmp(k.data, meta->holiday_cursor, CRM_ID_LEN) == 0)
            rc = crm_cursor_next(cur, &k, &v);
        for (; rc == 0; rc = crm_cursor_next(cur, &k, &v)) {
            if (k.size != CRM_ID_LEN)
                continue;
            if (*budget == 0) {
                crm_cursor_close(&cur);
                return 0;
            }
            char id[CRM_ID_SIZE];
            memcpy(id, k.data, CRM_ID_LEN);
            id[CRM_ID_LEN] = '\0';
            memcpy(meta->holiday_cursor, id, CRM_ID_SIZE);
            (*budget)--;
            Crm__V1__NotifyCustomer *c = NULL;
            rc = crm_codec_msgpack_decode(&crm__v1__notify_customer__descriptor, v.data, v.size,
                                          (ProtobufCMessage **) &c, NULL);
            bool live = rc == 0 && !c->deleted;
            crm_codec_message_free((ProtobufCMessage **) &c);
            if (rc == 0 && live)
                rc = s_occasion(nt, txn, NOTIFIER_TYPE_HOLIDAY, event_id, id, h->name, day, 0);
            if (rc)
                break;
        }
        crm_cursor_close(&cur);
        if (rc && rc != CRM_ENOTFOUND)
            return rc;
    }
    *done = true;
    return 0;
}

/* Days not yet done, up to today; days older than the catch-up window are passed over. */
static int s_calendar(notifier_t *nt, crm_txn_t *txn, size_t *budget, bool *more)
{
    s_meta_t meta;
    int rc = s_meta_get(nt, txn, &meta);
    if (rc)
        return rc;
    s_meta_t before = meta;
    int64_t today = notifier_local_day(notifier_now(nt), nt->settings.utc_offset_min);
    int64_t oldest = today - (int64_t) nt->settings.catch_up_days;
    while (rc == 0 && meta.calendar_day < today && *budget > 0) {
        if (meta.calendar_day + 1 < oldest) {
            meta.calendar_day = oldest - 1;
            meta.calendar_cursor[0] = '\0';
            continue;
        }
        bool done = false;
        rc = s_birthdays(nt, txn, &meta, meta.calendar_day + 1, budget, &done);
        if (rc == 0 && done) {
            meta.calendar_day++;
            meta.calendar_cursor[0] = '\0';
        }
    }
    while (rc == 0 && meta.holiday_day < today && *budget > 0) {
        if (meta.holiday_day + 1 < oldest) {
            meta.holiday_day = oldest - 1;
            meta.holiday_index = 0;
            meta.holiday_cursor[0] = '\0';
            continue;
        }
        bool done = false;
        rc = s_holidays(nt, txn, &meta, meta.holiday_day + 1, budget, &done);
        if (rc == 0 && done) {
            meta.holiday_day++;
            meta.holiday_index = 0;
            meta.holiday_cursor[0] = '\0';
        }
    }
    if (rc == 0 && (meta.calendar_day < today || meta.holiday_day < today))
        *more = true;
    if (rc == 0 && memcmp(&meta, &before, sizeof meta) != 0)
        rc = s_meta_put(nt, txn, &meta);
    return rc;
}

/* --- Reminders */

static int s_reminders(notifier_t *nt, crm_txn_t *txn, size_t *budget, bool *more)
{
    int64_t now = notifier_now(nt);
    int rc = 0;
    while (rc == 0) {
        crm_cursor_t *cur = NULL;
        crm_val_t k;
        rc = crm_cursor_open(txn, nt->db.reminder_due, &cur);
        if (rc == 0)
            rc = crm_cursor_first(cur, &k, NULL);
        if (rc) {
            crm_cursor_close(&cur);
            break;
        }
        if (k.size != NOTIFIER_TIME_KEY_LEN + CRM_ID_LEN) {
            rc = crm_cursor_del(cur);   /* not a key of ours */
            crm_cursor_close(&cur);
            continue;
        }
        if (notifier_key_time_read(k.data) > now) {
            crm_cursor_close(&cur);
            break;
        }
        if (*budget == 0) {
            *more = true;
            crm_cursor_close(&cur);
            break;
        }
        char id[CRM_ID_SIZE] = "";
        memcpy(id, (const char *) k.data + NOTIFIER_TIME_KEY_LEN, CRM_ID_LEN);
        rc = crm_cursor_del(cur);
        crm_cursor_close(&cur);
        if (rc)
            break;
        (*budget)--;
        Crm__V1__Reminder *r = NULL;
        rc = notifier_record_get(txn, nt->db.reminders, id, CRM_ID_LEN, &crm__v1__reminder__descriptor,
                                 (ProtobufCMessage **) &r);
        if (rc == CRM_ENOTFOUND) {
            rc = 0;
            continue;
        }
        if (rc == 0 && r->status == CRM__V1__REMINDER_STATUS__REMINDER_STATUS_PENDING)
            rc = notifier_reminder_fire(nt, txn, r);
        if (rc == 0)
            NOTIFIER_LOG(nt, CRM_LOG_INFO, "reminder fired", "reminder", id, "customer", r->customer_id);
        crm_codec_message_free((ProtobufCMessage **) &r);
    }
    return rc == CRM_ENOTFOUND ? 0 : rc;
}

int notifier_reminders_erase(notifier_t *nt, crm_txn_t *txn, const char *customer_id)
{
    crm_cursor_t *cur = NULL;
    int rc = crm_cursor_open(txn, nt->db.customer_reminders, &cur);
    crm_val_t k;
    for (rc = rc ? rc : crm_cursor_seek(cur, customer_id, CRM_ID_LEN, &k, NULL); rc == 0;
         rc = crm_cursor_next(cur, &k, NULL)) {
        if (k.size != 2 * CRM_ID_LEN || memcmp(k.data, customer_id, CRM_ID_LEN) != 0)
            break;
        char id[CRM_ID_SIZE];
        memcpy(id, (const char *) k.data + CRM_ID_LEN, CRM_ID_LEN);
        id[CRM_ID_LEN] = '\0';
        Crm__V1__Reminder *r = NULL;
        rc = notifier_record_get(txn, nt->db.reminders, id, CRM_ID_LEN, &crm__v1__reminder__descriptor,
                                 (ProtobufCMessage **) &r);
        if (rc == CRM_ENOTFOUND) {
            rc = 0;
            continue;
        }
        if (rc)
            break;
        if (r->status == CRM__V1__REMINDER_STATUS__REMINDER_STATUS_PENDING) {
            notifier_key_t due;
            notifier_key_reset(&due);
            notifier_key_time(&due, notifier_ts_us(r->due_at));
            notifier_key_str(&due, id);
            rc = notifier_index_del(txn, nt->db.reminder_due, due.data, due.len);
            r->status = CRM__V1__REMINDER_STATUS__REMINDER_STATUS_CANCELLED;
        }
        char *keep = r->note;
        r->note = "";
        if (rc == 0)
            rc = notifier_record_put(txn, nt->db.reminders, id, CRM_ID_LEN, &r->base);
        r->note = keep;
        crm_codec_message_free((ProtobufCMessage **) &r);
        if (rc)
            break;
    }
    crm_cursor_close(&cur);
    return rc == CRM_ENOTFOUND ? 0 : rc;
}

/* --- Digests */

static int s_digests(notifier_t *nt, crm_txn_t *txn, size_t *budget, bool *more)
{
    int64_t now = notifier_now(nt);
    int rc = 0;
    while (rc == 0) {
        crm_cursor_t *cur = NULL;
        crm_val_t k;
        rc = crm_cursor_open(txn, nt->db.digest_due, &cur);
        if (rc == 0)
            rc = crm_cursor_first(cur, &k, NULL);
        if (rc) {
            crm_cursor_close(&cur);
            break;
        }
        if (k.size > NOTIFIER_TIME_KEY_LEN && notifier_key_time_read(k.data) > now) {
            crm_cursor_close(&cur);
            break;
        }
        if (rc == 0 && *budget == 0) {
            *more = true;
            crm_cursor_close(&cur);
            break;
        }
        char recipient[NOTIFIER_KEY_MAX] = "", rule[NOTIFIER_KEY_MAX] = "";
        {
            const char *rest = (const char *) k.data + NOTIFIER_TIME_KEY_LEN;
            size_t len = k.size > NOTIFIER_TIME_KEY_LEN ? k.size - NOTIFIER_TIME_KEY_LEN : 0;
            const char *nul = memchr(rest, '\0', len);
            if (nul) {
                memcpy(recipient, rest, (size_t) (nul - rest));
                memcpy(rule, nul + 1, len - (size_t) (nul - rest) - 1);
            }
            rc = crm_cursor_del(cur);
        }
        crm_cursor_close(&cur);
        if (rc)
            break;
        (*budget)--;
        if (recipient[0] && rule[0]) {
            rc = notifier_digest_flush(nt, txn, recipient, rule);
            if (rc == CRM_ENOTFOUND)
                rc = 0;
        }
    }
    return rc == CRM_ENOTFOUND ? 0 : rc;
}

/* --- Held events */

/* Runs one parked record (JSON text) through the rules. */
static int s_parked_run(notifier_t *nt, crm_txn_t *txn, const crm_val_t *v, int64_t *parked_us, char *subject,
                        char *event_id)
{
    json_t *rec = json_loadb(v->data, v->size, 0, NULL);
    const char *type = json_string_value(json_object_get(rec, "type"));
    const char *id = json_string_value(json_object_get(rec, "id"));
    const char *sub = json_string_value(json_object_get(rec, "subject"));
    if (!rec || !type || !id || !sub || strlen(id) > NOTIFIER_EVENT_ID_MAX || strlen(sub) != CRM_ID_LEN) {
        json_decref(rec);
        return CRM_EINVALID;
    }
    *parked_us = (int64_t) json_integer_value(json_object_get(rec, "parkedUs"));
    snprintf(subject, CRM_ID_SIZE, "%s", sub);
    snprintf(event_id, NOTIFIER_EVENT_ID_MAX + 1, "%s", id);
    json_t *data = json_object_get(rec, "data");
    notifier_event_t ev = {
        .type = type, .id = id, .subject = sub,
        .time_us = (int64_t) json_integer_value(json_object_get(rec, "timeUs")),
        .data = json_is_object(data) ? data : NULL,
    };
    int rc = notifier_intake(nt, txn, &ev, false, NULL);
    json_decref(rec);
    return rc;
}

static int s_parked_forget(notifier_t *nt, crm_txn_t *txn, int64_t parked_us, const char *subject, const char *event_id)
{
    notifier_key_t k, t;
    notifier_key_reset(&k);
    notifier_key_str(&k, subject);
    notifier_key_str(&k, event_id);
    notifier_key_reset(&t);
    notifier_key_time(&t, parked_us);
    notifier_key_str(&t, subject);
    notifier_key_str(&t, event_id);
    int rc = notifier_index_del(txn, nt->db.parked, k.data, k.len);
    if (rc == 0)
        rc = notifier_index_del(txn, nt->db.parked_time, t.data, t.len);
    return rc;
}

int notifier_parked_release(notifier_t *nt, crm_txn_t *txn, const char *customer_id)
{
    int rc = 0;
    for (;;) {
        crm_cursor_t *cur = NULL;
        crm_val_t k, v;
        rc = crm_cursor_open(txn, nt->db.parked, &cur);
        if (rc == 0)
            rc = crm_cursor_seek(cur, customer_id, CRM_ID_LEN, &k, &v);
        if (rc || k.size <= CRM_ID_LEN || memcmp(k.data, customer_id, CRM_ID_LEN) != 0) {
            crm_cursor_close(&cur);
            break;
        }
        int64_t parked_us = 0;
        char subject[CRM_ID_SIZE] = "", event_id[NOTIFIER_EVENT_ID_MAX + 1] = "";
        /* The record is copied out: intake writes, which may move LMDB pages. */
        crm_val_t copy = { .size = v.size, .data = malloc(v.size ? v.size : 1) };
        size_t id_len = k.size - CRM_ID_LEN < NOTIFIER_EVENT_ID_MAX ? k.size - CRM_ID_LEN : NOTIFIER_EVENT_ID_MAX;
        char key_event[NOTIFIER_EVENT_ID_MAX + 1];
        memcpy(key_event, (const char *) k.data + CRM_ID_LEN, id_len);
        key_event[id_len] = '\0';
        crm_cursor_close(&cur);
        if (!copy.data)
            return CRM_ENOMEM;
        memcpy((void *) copy.data, v.data, v.size);
        rc = s_parked_run(nt, txn, &copy, &parked_us, subject, event_id);
        free((void *) copy.data);
        if (rc == CRM_EINVALID) {
            snprintf(subject, sizeof subject, "%s", customer_id);
            snprintf(event_id, sizeof event_id, "%s", key_event);
            rc = 0;
        }
        if (rc == 0)
            rc = s_parked_forget(nt, txn, parked_us, subject, event_id);
        if (rc)
            break;
    }
    return rc == CRM_ENOTFOUND ? 0 : rc;
}

static int s_parked_expired(notifier_t *nt, crm_txn_t *txn, size_t *budget, bool *more)
{
    int64_t limit = notifier_now(nt) - nt->settings.park_us;
    int rc = 0;
    while (rc == 0) {
        crm_cursor_t *cur = NULL;
        crm_val_t k;
        rc = crm_cursor_open(txn, nt->db.parked_time, &cur);
        if (rc == 0)
            rc = crm_cursor_first(cur, &k, NULL);
        if (rc || k.size <= NOTIFIER_TIME_KEY_LEN + CRM_ID_LEN || notifier_key_time_read(k.data) > limit) {
            crm_cursor_close(&cur);
            break;
        }
        if (*budget == 0) {
            *more = true;
            crm_cursor_close(&cur);
            break;
        }
        (*budget)--;
        char customer[CRM_ID_SIZE];
        memcpy(customer, (const char *) k.data + NOTIFIER_TIME_KEY_LEN, CRM_ID_LEN);
        customer[CRM_ID_LEN] = '\0';
        crm_cursor_close(&cur);
        NOTIFIER_LOG(nt, CRM_LOG_WARN, "events waited too long for their customer; applying them without",
                     "customer", customer);
        rc = notifier_parked_release(nt, txn, customer);
    }
    return rc == CRM_ENOTFOUND ? 0 : rc;
}

/* --- The tick */

typedef struct {
    notifier_t *nt;
    bool more;
} s_tick_t;

static int s_tick_body(crm_txn_t *txn, void *arg)
{
    s_tick_t *t = arg;
    t->more = false;
    size_t budget = NOTIFIER_TICK_BATCH;
    int rc = s_reminders(t->nt, txn, &budget, &t->more);
    if (rc == 0)
        rc = s_digests(t->nt, txn, &budget, &t->more);
    if (rc == 0)
        rc = s_calendar(t->nt, txn, &budget, &t->more);
    if (rc == 0)
        rc = s_parked_expired(t->nt, txn, &budget, &t->more);
    return rc;
}

int notifier_tick(notifier_t *nt, bool *more)
{
    s_tick_t t = { .nt = nt };
    int rc = notifier_write(nt, s_tick_body, &t);
    *more = rc == 0 && t.more;
    return rc;
}
