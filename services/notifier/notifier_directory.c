/* notifier_directory.c: the customers the notifier knows (from events) with their birthdays, and the staff directory. */
#include "notifier_directory.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crm_codec.h"
#include "crm_error.h"

static int s_get_raw(notifier_t *nt, crm_txn_t *txn, const char *id, Crm__V1__NotifyCustomer **out)
{
    if (!crm_id_valid(id))
        return CRM_ENOTFOUND;
    return notifier_record_get(txn, nt->db.customers, id, CRM_ID_LEN, &crm__v1__notify_customer__descriptor,
                               (ProtobufCMessage **) out);
}

int notifier_customer_get(notifier_t *nt, crm_txn_t *txn, const char *id, Crm__V1__NotifyCustomer **out)
{
    int rc = s_get_raw(nt, txn, id, out);
    if (rc == 0 && (*out)->merged_into[0] && crm_id_valid((*out)->merged_into)) {
        Crm__V1__NotifyCustomer *survivor = NULL;
        int got = s_get_raw(nt, txn, (*out)->merged_into, &survivor);
        if (got == 0) {
            crm_codec_message_free((ProtobufCMessage **) out);
            *out = survivor;
        } else if (got != CRM_ENOTFOUND) {
            crm_codec_message_free((ProtobufCMessage **) out);
            return got;
        }
    }
    return rc;
}

/* The calendar key of a birthday: <MMDD><customer id>. Returns false when the birthday is not a
 * date. */
static bool s_calendar_key(const char *birthday, const char *id, char key[NOTIFIER_CALENDAR_KEY_LEN])
{
    int y, m, d;
    char date[NOTIFIER_DATE_SIZE];
    /* "--MM-DD" (no year) and "0000-MM-DD" are taken as "year unknown". */
    if (strlen(birthday) == 7 && birthday[0] == '-' && birthday[1] == '-')
        snprintf(date, sizeof date, "2000%s", birthday + 1);
    else if (strlen(birthday) == 10 && strncmp(birthday, "0000", 4) == 0)
        snprintf(date, sizeof date, "2000%s", birthday + 4);
    else
        snprintf(date, sizeof date, "%.10s", birthday);
    if (strlen(birthday) < 7 || notifier_date_parse(date, &y, &m, &d) != 0)
        return false;
    key[0] = (char) ('0' + m / 10);
    key[1] = (char) ('0' + m % 10);
    key[2] = (char) ('0' + d / 10);
    key[3] = (char) ('0' + d % 10);
    memcpy(key + 4, id, CRM_ID_LEN);
    return true;
}

static int s_calendar_set(notifier_t *nt, crm_txn_t *txn, const char *id, const char *old_birthday,
                          const char *new_birthday)
{
    char key[NOTIFIER_CALENDAR_KEY_LEN];
    if (old_birthday && strcmp(old_birthday, new_birthday ? new_birthday : "") == 0)
        return 0;
    int rc = 0;
    if (old_birthday && s_calendar_key(old_birthday, id, key))
        rc = notifier_index_del(txn, nt->db.calendar, key, sizeof key);
    if (rc == 0 && new_birthday && s_calendar_key(new_birthday, id, key))
        rc = notifier_index_put(txn, nt->db.calendar, key, sizeof key);
    return rc;
}

static bool s_birthday_today(notifier_t *nt, const char *birthday)
{
    char key[NOTIFIER_CALENDAR_KEY_LEN];
    static const char zero_id[CRM_ID_SIZE] = "00000000000000000000000000";
    if (!s_calendar_key(birthday, zero_id, key))
        return false;
    int month = (key[0] - '0') * 10 + (key[1] - '0');
    int mday = (key[2] - '0') * 10 + (key[3] - '0');
    return notifier_birthday_on(month, mday, notifier_local_day(notifier_now(nt), nt->settings.utc_offset_min));
}

int notifier_customer_upsert(notifier_t *nt, crm_txn_t *txn, const Crm__V1__Customer *c, bool *birthday_today)
{
    *birthday_today = false;
    if (!crm_id_valid(c->id))
        return CRM_EINVALID;
    Crm__V1__NotifyCustomer *old = NULL;
    int rc = s_get_raw(nt, txn, c->id, &old);
    if (rc && rc != CRM_ENOTFOUND)
        return rc;
    Crm__V1__Consent no_consent = CRM__V1__CONSENT__INIT;
    Crm__V1__NotifyCustomer rec = CRM__V1__NOTIFY_CUSTOMER__INIT;
    rec.id = c->id;
    rec.name = c->name;
    rec.email = c->email;
    rec.phone = c->phone;
    rec.locale = c->locale;
    rec.consent = c->consent ? c->consent : &no_consent;
    rec.owner = c->owner;
    rec.birthday = c->birthday;
    rec.tier = old ? old->tier : "";
    rec.value_tier = c->value_tier;
    rec.n_tags = c->n_tags;
    rec.tags = c->tags;
    rec.lifecycle_stage = c->lifecycle_stage;
    rec.described = true;
    rec.updated_us = notifier_now(nt);
    rc = notifier_record_put(txn, nt->db.customers, c->id, CRM_ID_LEN, &rec.base);
    if (rc == 0)
        rc = s_calendar_set(nt, txn, c->id, old ? old->birthday : NULL, c->birthday);
    if (rc == 0)
        *birthday_today = c->birthday[0] && s_birthday_today(nt, c->birthday);
    crm_codec_message_free((ProtobufCMessage **) &old);
    return rc;
}

int notifier_customer_set_tier(notifier_t *nt, crm_txn_t *txn, const char *id, const char *tier)
{
    if (!crm_id_valid(id))
        return CRM_EINVALID;
    Crm__V1__NotifyCustomer *old = NULL;
    int rc = s_get_raw(nt, txn, id, &old);
    if (rc == CRM_ENOTFOUND) {
        Crm__V1__NotifyCustomer rec = CRM__V1__NOTIFY_CUSTOMER__INIT;
        rec.id = (char *) id;
        rec.tier = (char *) tier;
        rec.updated_us = notifier_now(nt);
        return notifier_record_put(txn, nt->db.customers, id, CRM_ID_LEN, &rec.base);
    }
    if (rc)
        return rc;
    char *keep = old->tier;
    old->tier = (char *) tier;
    old->updated_us = notifier_now(nt);
    rc = notifier_record_put(txn, nt->db.customers, id, CRM_ID_LEN, &old->base);
    old->tier = keep;
    crm_codec_message_free((ProtobufCMessage **) &old);
    return rc;
}

int notifier_customer_forget(notifier_t *nt, crm_txn_t *txn, const char *id, bool erased, const char *merged_into)
{
    if (!crm_id_valid(id))
        return CRM_EINVALID;
    Crm__V1__NotifyCustomer *old = NULL;
    int rc = s_get_raw(nt, txn, id, &old);
    if (rc && rc != CRM_ENOTFOUND)
        return rc;
    if (old)
        rc = s_calendar_set(nt, txn, id, old->birthday, NULL);
    Crm__V1__NotifyCustomer rec = CRM__V1__NOTIFY_CUSTOMER__INIT;
    rec.id = (char *) id;
    if (old && !erased) {
        /* Deleted or merged: the name stays for messages already on their way to staff. */
        rec.name = old->name;
        rec.owner = old->owner;
        rec.locale = old->locale;
        rec.tier = old->tier;
    }
    rec.deleted = true;
    rec.described = true;
    rec.erased = erased;
    rec.merged_into = (char *) (merged_into ? merged_into : "");
    rec.updated_us = notifier_now(nt);
    if (rc == 0 || rc == CRM_ENOTFOUND)
        rc = notifier_record_put(txn, nt->db.customers, id, CRM_ID_LEN, &rec.base);
    crm_codec_message_free((ProtobufCMessage **) &old);
    return rc;
}

int notifier_staff_get(notifier_t *nt, crm_txn_t *txn, const char *id, Crm__V1__StaffMember **out)
{
    size_t len = strlen(id);
    if (len == 0 || len > NOTIFIER_NAME_MAX)
        return CRM_ENOTFOUND;
    return notifier_record_get(txn, nt->db.staff, id, len, &crm__v1__staff_member__descriptor, (ProtobufCMessage **) out);
}

int notifier_staff_each(notifier_t *nt, crm_txn_t *txn, notifier_staff_fn fn, void *arg)
{
    crm_cursor_t *cur = NULL;
    int rc = crm_cursor_open(txn, nt->db.staff, &cur);
    crm_val_t k, v;
    for (rc = rc ? rc : crm_cursor_first(cur, &k, &v); rc == 0; rc = crm_cursor_next(cur, &k, &v)) {
        ProtobufCMessage *msg = NULL;
        rc = crm_codec_msgpack_decode(&crm__v1__staff_member__descriptor, v.data, v.size, &msg, NULL);
        if (rc)
            break;
        rc = fn((const Crm__V1__StaffMember *) msg, arg);
        crm_codec_message_free(&msg);
        if (rc)
            break;
    }
    crm_cursor_close(&cur);
    return rc == CRM_ENOTFOUND ? 0 : rc;
}

json_t *notifier_customer_json(const Crm__V1__NotifyCustomer *c)
{
    if (!c)
        return json_object();
    json_t *json = NULL;
    if (crm_codec_json_from_message(&c->base, CRM_CODEC_EMIT_DEFAULTS, &json, NULL) != 0)
        return NULL;
    return json;
}
