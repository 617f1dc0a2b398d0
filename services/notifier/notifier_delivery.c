/* notifier_delivery.c: rules to deliveries (recipients, consent, caps, digests, the queue) and the queue's side for senders (claim, complete, retry). */
#include "notifier_delivery.h"

#include <assert.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crm_codec.h"
#include "crm_error.h"
#include "crm_time.h"
#include "notifier_directory.h"
#include "notifier_rules.h"
#include "notifier_template.h"

#define S_PHONE_MAX 65
#define S_NAME_MAX 256
#define S_ITEM_PREFIX "- "
#define S_PARKED_TYPE_MAX 160

/* One resolved recipient. */
typedef struct {
    char key[NOTIFIER_RECIPIENT_MAX];      /* "customer:<id>", "staff:<id>", "webhook:<id>", "address:<email>" */
    char id[NOTIFIER_ADDRESS_MAX];         /* the customer, staff or endpoint id, or the address */
    bool is_customer;
    bool is_webhook;
    bool unknown;                          /* a customer never heard of */
    bool deleted;
    bool disabled;
    char name[S_NAME_MAX];
    char email[NOTIFIER_ADDRESS_MAX];
    char phone[S_PHONE_MAX];
    char locale[NOTIFIER_LOCALE_MAX];
    Crm__V1__ConsentState email_consent, sms_consent;
} s_recipient_t;

typedef struct {
    s_recipient_t *items;
    size_t count;
} s_recipients_t;

/* What to send, for one rule (or a reminder, or a digest) and one event. */
typedef struct {
    const char *rule_id;
    const char *template_id;
    Crm__V1__NotifyChannel channel;
    const char *event_id;
    const char *event_type;
    const char *customer_id;              /* "" when none */
    int64_t event_time_us;
    uint32_t delay_s;
    const char *time_of_day;
    uint32_t digest_minutes;
    uint32_t daily_cap;
    bool transactional;
    const char *reminder_id;
    uint32_t digest_count;
    json_t *ctx;                          /* the rendering context; "recipient" is set per recipient */
    const json_t *event_data;
    const Crm__V1__NotifyCustomer *customer;
    char delivery_id[CRM_ID_SIZE];        /* out: the delivery made, "" when none */
} s_plan_t;

static void s_copy(char *out, size_t size, const char *in)
{
    snprintf(out, size, "%s", in ? in : "");
}

static bool s_has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* --- Recipients */

static s_recipient_t *s_add(s_recipients_t *list, const char *key)
{
    for (size_t i = 0; i < list->count; i++)
        if (strcmp(list->items[i].key, key) == 0)
            return NULL;
    if (list->count == NOTIFIER_EXPAND_MAX)
        return NULL;
    s_recipient_t *r = &list->items[list->count++];
    memset(r, 0, sizeof *r);
    s_copy(r->key, sizeof r->key, key);
    return r;
}

static void s_add_customer(s_recipients_t *list, const char *customer_id, const Crm__V1__NotifyCustomer *c)
{
    char key[NOTIFIER_RECIPIENT_MAX];
    snprintf(key, sizeof key, "customer:%s", customer_id);
    s_recipient_t *r = s_add(list, key);
    if (!r)
        return;
    r->is_customer = true;
    s_copy(r->id, sizeof r->id, customer_id);
    if (!c || !c->described) {
        r->unknown = true;
        return;
    }
    r->deleted = c->deleted;
    s_copy(r->name, sizeof r->name, c->name);
    if (strlen(c->email) < sizeof r->email)
        s_copy(r->email, sizeof r->email, c->email);
    s_copy(r->phone, sizeof r->phone, c->phone);
    s_copy(r->locale, sizeof r->locale, c->locale);
    r->email_consent = c->consent ? c->consent->email : CRM__V1__CONSENT_STATE__CONSENT_STATE_UNSPECIFIED;
    r->sms_consent = c->consent ? c->consent->sms : CRM__V1__CONSENT_STATE__CONSENT_STATE_UNSPECIFIED;
}

static void s_add_staff(s_recipients_t *list, const Crm__V1__StaffMember *m)
{
    char key[NOTIFIER_RECIPIENT_MAX];
    snprintf(key, sizeof key, "staff:%s", m->id);
    s_recipient_t *r = s_add(list, key);
    if (!r)
        return;
    s_copy(r->id, sizeof r->id, m->id);
    r->disabled = m->disabled;
    s_copy(r->name, sizeof r->name, m->name[0] ? m->name : m->id);
    if (strlen(m->email) < sizeof r->email)
        s_copy(r->email, sizeof r->email, m->email);
    s_copy(r->phone, sizeof r->phone, m->phone);
    s_copy(r->locale, sizeof r->locale, m->locale);
}

static void s_add_address(s_recipients_t *list, const char *email)
{
    if (strlen(email) >= NOTIFIER_ADDRESS_MAX || !notifier_email_valid(email))
        return;
    char key[NOTIFIER_RECIPIENT_MAX];
    snprintf(key, sizeof key, "address:%s", email);
    s_recipient_t *r = s_add(list, key);
    if (!r)
        return;
    s_copy(r->id, sizeof r->id, email);
    s_copy(r->name, sizeof r->name, email);
    s_copy(r->email, sizeof r->email, email);
}

typedef struct {
    s_recipients_t *list;
    const char *team;                     /* NULL: any */
    bool leads;
    bool admins;
    size_t added;
} s_scan_t;

static bool s_in_team(const Crm__V1__StaffMember *m, const char *team)
{
    for (size_t i = 0; i < m->n_teams; i++)
        if (strcmp(m->teams[i], team) == 0)
            return true;
    return false;
}

static int s_scan_one(const Crm__V1__StaffMember *m, void *arg)
{
    s_scan_t *s = arg;
    if (s->team && !s_in_team(m, s->team))
        return 0;
    if ((s->leads && !m->team_lead) || (s->admins && !m->admin))
        return 0;
    size_t before = s->list->count;
    s_add_staff(s->list, m);
    s->added += s->list->count - before;
    return 0;
}

static int s_scan(notifier_t *nt, crm_txn_t *txn, s_recipients_t *list, const char *team, bool leads, bool admins,
                  size_t *added)
{
    s_scan_t s = { .list = list, .team = team, .leads = leads, .admins = admins };
    int rc = notifier_staff_each(nt, txn, s_scan_one, &s);
    if (added)
        *added = s.added;
    return rc;
}

/* The team leads for an event: the staff member the event names as team lead, else the leads of
 * the team it names, else of the account owner's teams, else every team lead. */
static int s_team_leads(notifier_t *nt, crm_txn_t *txn, s_recipients_t *list, const json_t *data,
                        const Crm__V1__NotifyCustomer *c)
{
    const char *lead = json_string_value(notifier_json_path(data, "teamLead"));
    if (lead && lead[0]) {
        Crm__V1__StaffMember *m = NULL;
        int rc = notifier_staff_get(nt, txn, lead, &m);
        if (rc == 0) {
            s_add_staff(list, m);
            crm_codec_message_free((ProtobufCMessage **) &m);
            return 0;
        }
        if (rc != CRM_ENOTFOUND)
            return rc;
        if (strchr(lead, '@')) {
            s_add_address(list, lead);   /* a lead named by address (CRM_FEEDBACK_TEAM_LEADS) */
            return 0;
        }
    }
    static const char *const team_paths[] = { "team", "complaint.team" };
    for (size_t i = 0; i < sizeof team_paths / sizeof team_paths[0]; i++) {
        const char *team = json_string_value(notifier_json_path(data, team_paths[i]));
        size_t added = 0;
        if (team && team[0]) {
            int rc = s_scan(nt, txn, list, team, true, false, &added);
            if (rc || added)
                return rc;
        }
    }
    if (c && c->owner[0]) {
        Crm__V1__StaffMember *owner = NULL;
        int rc = notifier_staff_get(nt, txn, c->owner, &owner);
        if (rc && rc != CRM_ENOTFOUND)
            return rc;
        size_t added = 0;
        for (size_t i = 0; rc == 0 && i < owner->n_teams; i++) {
            size_t n = 0;
            rc = s_scan(nt, txn, list, owner->teams[i], true, false, &n);
            added += n;
        }
        crm_codec_message_free((ProtobufCMessage **) &owner);
        if (rc || added)
            return rc == CRM_ENOTFOUND ? 0 : rc;
    }
    return s_scan(nt, txn, list, NULL, true, false, NULL);
}

/* Resolves one recipient spec of a rule or reminder into list. */
static int s_expand(notifier_t *nt, crm_txn_t *txn, s_recipients_t *list, const char *spec, const char *customer_id,
                    const Crm__V1__NotifyCustomer *c, const json_t *data)
{
    int rc = 0;
    if (strcmp(spec, "customer") == 0) {
        if (customer_id && customer_id[0])
            s_add_customer(list, customer_id, c);
    } else if (strcmp(spec, "owner") == 0) {
        if (!c || !c->owner[0])
            return 0;
        Crm__V1__StaffMember *m = NULL;
        rc = notifier_staff_get(nt, txn, c->owner, &m);
        if (rc == 0)
            s_add_staff(list, m);
        else if (rc == CRM_ENOTFOUND && strchr(c->owner, '@'))
            s_add_address(list, c->owner);   /* an owner written as an email address */
        crm_codec_message_free((ProtobufCMessage **) &m);
        rc = rc == CRM_ENOTFOUND ? 0 : rc;
    } else if (strcmp(spec, "team_lead") == 0) {
        rc = s_team_leads(nt, txn, list, data, c);
    } else if (strcmp(spec, "admins") == 0) {
        rc = s_scan(nt, txn, list, NULL, false, true, NULL);
    } else if (s_has_prefix(spec, "team_lead:")) {
        rc = s_scan(nt, txn, list, spec + strlen("team_lead:"), true, false, NULL);
    } else if (s_has_prefix(spec, "team:")) {
        rc = s_scan(nt, txn, list, spec + strlen("team:"), false, false, NULL);
    } else if (s_has_prefix(spec, "staff:")) {
        Crm__V1__StaffMember *m = NULL;
        rc = notifier_staff_get(nt, txn, spec + strlen("staff:"), &m);
        if (rc == 0)
            s_add_staff(list, m);
        crm_codec_message_free((ProtobufCMessage **) &m);
        rc = rc == CRM_ENOTFOUND ? 0 : rc;
    } else if (s_has_prefix(spec, "webhook:")) {
        s_recipient_t *r = s_add(list, spec);
        if (r) {
            r->is_webhook = true;
            s_copy(r->id, sizeof r->id, spec + strlen("webhook:"));
            s_copy(r->name, sizeof r->name, r->id);
        }
    } else if (s_has_prefix(spec, "address:")) {
        s_add_address(list, spec + strlen("address:"));
    }
    return rc;
}

/* --- Templates */

/* Reads the template id in the locale best for want. Returns 0 with *out (caller frees),
 * CRM_ENOTFOUND (no locale at all), or a store or codec error. */
static int s_template(notifier_t *nt, crm_txn_t *txn, const char *id, const char *want,
                      Crm__V1__NotifyTemplate **out)
{
    notifier_key_t prefix;
    notifier_key_reset(&prefix);
    notifier_key_str(&prefix, id);
    notifier_key_nul(&prefix);
    if (prefix.overflow)
        return CRM_ENOTFOUND;
    char locales[NOTIFIER_TEMPLATE_LOCALES][NOTIFIER_LOCALE_MAX];
    const char *ptrs[NOTIFIER_TEMPLATE_LOCALES];
    size_t n = 0;
    crm_cursor_t *cur = NULL;
    int rc = crm_cursor_open(txn, nt->db.templates, &cur);
    crm_val_t k;
    for (rc = rc ? rc : crm_cursor_seek(cur, prefix.data, prefix.len, &k, NULL); rc == 0 && n < NOTIFIER_TEMPLATE_LOCALES;
         rc = crm_cursor_next(cur, &k, NULL)) {
        if (k.size <= prefix.len || memcmp(k.data, prefix.data, prefix.len) != 0)
            break;
        size_t len = k.size - prefix.len;
        if (len >= NOTIFIER_LOCALE_MAX)
            continue;
        memcpy(locales[n], (const char *) k.data + prefix.len, len);
        locales[n][len] = '\0';
        ptrs[n] = locales[n];
        n++;
    }
    crm_cursor_close(&cur);
    if (rc && rc != CRM_ENOTFOUND)
        return rc;
    int pick = notifier_locale_pick(ptrs, n, want, nt->settings.default_locale);
    if (pick < 0)
        return CRM_ENOTFOUND;
    notifier_key_str(&prefix, locales[pick]);
    return notifier_record_get(txn, nt->db.templates, prefix.data, prefix.len, &crm__v1__notify_template__descriptor,
                               (ProtobufCMessage **) out);
}

static json_t *s_labels(const Crm__V1__NotifyTemplate *t)
{
    json_t *labels = json_object();
    for (size_t i = 0; labels && i < t->n_labels; i++)
        json_object_set_new(labels, t->labels[i]->key, json_string(t->labels[i]->value));
    return labels;
}

/* Renders subject and body for the recipient. Missing placeholders are logged. */
static int s_render(notifier_t *nt, const s_plan_t *plan, const Crm__V1__NotifyTemplate *t, char **subject,
                    char **body)
{
    json_t *labels = s_labels(t);
    if (!labels)
        return CRM_ENOMEM;
    notifier_missing_t missing = { 0 };
    int rc = notifier_template_render(t->subject, plan->ctx, labels, subject, &missing);
    if (rc == 0)
        rc = notifier_template_render(t->body, plan->ctx, labels, body, &missing);
    json_decref(labels);
    if (rc == 0 && missing.count) {
        char names[NOTIFIER_MISSING_MAX * (NOTIFIER_EXPR_PATH_MAX + 2)] = "";
        size_t len = 0;
        for (size_t i = 0; i < missing.count && len < sizeof names; i++)
            len += (size_t) snprintf(names + len, sizeof names - len, "%s%s", i ? ", " : "", missing.names[i]);
        NOTIFIER_LOG(nt, CRM_LOG_WARN, "template placeholders rendered empty", "template", t->id, "locale", t->locale,
                     "placeholders", names, "rule", plan->rule_id, "event", plan->event_id);
    }
    return rc;
}

/* --- Deliveries */

static int s_delivery_get(notifier_t *nt, crm_txn_t *txn, const char *id, Crm__V1__Delivery **out)
{
    if (!crm_id_valid(id))
        return CRM_ENOTFOUND;
    return notifier_record_get(txn, nt->db.deliveries, id, CRM_ID_LEN, &crm__v1__delivery__descriptor,
                               (ProtobufCMessage **) out);
}

static int s_delivery_put(notifier_t *nt, crm_txn_t *txn, const Crm__V1__Delivery *d)
{
    return notifier_record_put(txn, nt->db.deliveries, d->id, CRM_ID_LEN, &d->base);
}

static void s_due_key(notifier_key_t *k, int64_t at_us, const char *id)
{
    notifier_key_reset(k);
    notifier_key_time(k, at_us);
    notifier_key_str(k, id);
}

static int s_due_put(notifier_t *nt, crm_txn_t *txn, int64_t at_us, const char *id)
{
    notifier_key_t k;
    s_due_key(&k, at_us, id);
    return notifier_index_put(txn, nt->db.due, k.data, k.len);
}

static int s_due_del(notifier_t *nt, crm_txn_t *txn, const Crm__V1__Delivery *d)
{
    notifier_key_t k;
    s_due_key(&k, notifier_ts_us(d->due_at), d->id);
    return notifier_index_del(txn, nt->db.due, k.data, k.len);
}

/* Publishes what became of a delivery. */
static int s_emit(notifier_t *nt, crm_txn_t *txn, const char *type, const Crm__V1__Delivery *d)
{
    Crm__V1__MessageEvent e = CRM__V1__MESSAGE_EVENT__INIT;
    e.delivery_id = d->id;
    e.rule_id = d->rule_id;
    e.event_id = d->event_id;
    e.event_type = d->event_type;
    e.customer_id = d->customer_id;
    e.channel = d->channel;
    e.recipient = d->recipient;
    e.status = d->status;
    e.attempts = d->attempts;
    e.error = d->last_error;
    e.skip_reason = d->skip_reason;
    if (d->status == CRM__V1__DELIVERY_STATUS__DELIVERY_STATUS_RETRYING)
        e.next_attempt_at = d->due_at;
    return notifier_emit(nt, txn, type, d->customer_id, &e.base);
}

/* Counts a customer's messages today, of the rule and over all rules, and refuses past a cap. */
static int s_cap(notifier_t *nt, crm_txn_t *txn, const s_plan_t *plan, bool *over)
{
    *over = false;
    if (!plan->customer_id[0])
        return 0;
    int64_t day = notifier_local_day(notifier_now(nt), nt->settings.utc_offset_min);
    struct {
        const char *rule;
        uint32_t cap;
    } caps[2] = { { plan->rule_id, plan->daily_cap }, { NOTIFIER_ALL_RULES, nt->settings.daily_cap } };
    uint32_t counts[2] = { 0, 0 };
    notifier_key_t keys[2];
    for (size_t i = 0; i < 2; i++) {
        notifier_key_reset(&keys[i]);
        notifier_key_day(&keys[i], day);
        notifier_key_str(&keys[i], plan->customer_id);
        notifier_key_str(&keys[i], caps[i].rule);
        crm_val_t v;
        int rc = crm_store_get(txn, nt->db.counters, keys[i].data, keys[i].len, &v);
        if (rc == 0 && v.size == NOTIFIER_COUNT_LEN) {
            const uint8_t *b = v.data;
            counts[i] = ((uint32_t) b[0] << 24) | ((uint32_t) b[1] << 16) | ((uint32_t) b[2] << 8) | b[3];
        } else if (rc && rc != CRM_ENOTFOUND) {
            return rc;
        }
        if (caps[i].cap && counts[i] >= caps[i].cap)
            *over = true;
    }
    if (*over)
        return 0;
    for (size_t i = 0; i < 2; i++) {
        uint32_t n = counts[i] + 1;
        uint8_t b[NOTIFIER_COUNT_LEN] = { (uint8_t) (n >> 24), (uint8_t) (n >> 16), (uint8_t) (n >> 8), (uint8_t) n };
        int rc = crm_store_put(txn, nt->db.counters, keys[i].data, keys[i].len, b, sizeof b, 0);
        if (rc)
            return rc;
    }
    return 0;
}

static bool s_consents(Crm__V1__ConsentState state, bool transactional)
{
    if (state == CRM__V1__CONSENT_STATE__CONSENT_STATE_GRANTED)
        return true;
    return transactional && state == CRM__V1__CONSENT_STATE__CONSENT_STATE_UNSPECIFIED;
}

static bool s_quiet_applies(const Crm__V1__Delivery *d)
{
    return s_has_prefix(d->recipient, "customer:")
           && (d->channel == CRM__V1__NOTIFY_CHANNEL__NOTIFY_CHANNEL_EMAIL
               || d->channel == CRM__V1__NOTIFY_CHANNEL__NOTIFY_CHANNEL_SMS);
}

/* The webhook body (Standard Webhooks' payload shape: type, timestamp, data). */
static int s_webhook_payload(const s_plan_t *plan, const Crm__V1__Delivery *d, char **out)
{
    char ts[CRM_TIME_TEXT_MAX] = "";
    crm_time_format_us(plan->event_time_us, ts, sizeof ts);
    json_t *data = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "deliveryId", d->id, "ruleId", d->rule_id, "eventId",
                             d->event_id, "customerId", d->customer_id, "subject", d->subject, "text", d->body);
    if (!data)
        return CRM_ENOMEM;
    if (plan->event_data)
        json_object_set(data, "event", (json_t *) plan->event_data);
    else
        json_object_set_new(data, "event", json_object());
    if (plan->customer)
        json_object_set_new(data, "customer", notifier_customer_json(plan->customer));
    json_t *body = json_pack("{s:s, s:s, s:o}", "type", d->event_type, "timestamp", ts, "data", data);
    if (!body)
        return CRM_ENOMEM;
    *out = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    return *out ? 0 : CRM_ENOMEM;
}

static int s_index(notifier_t *nt, crm_txn_t *txn, const Crm__V1__Delivery *d, const notifier_key_t *dedup)
{
    int rc = crm_store_put(txn, nt->db.dedup, dedup->data, dedup->len, d->id, CRM_ID_LEN, 0);
    notifier_key_t k;
    if (rc == 0 && crm_id_valid(d->customer_id)) {
        notifier_key_reset(&k);
        notifier_key_str(&k, d->customer_id);
        notifier_key_str(&k, d->id);
        rc = notifier_index_put(txn, nt->db.by_customer, k.data, k.len);
    }
    if (rc == 0) {
        notifier_key_reset(&k);
        notifier_key_str(&k, d->rule_id);
        notifier_key_nul(&k);
        notifier_key_str(&k, d->id);
        rc = notifier_index_put(txn, nt->db.by_rule, k.data, k.len);
    }
    return rc;
}

static int s_digest_add(notifier_t *nt, crm_txn_t *txn, const s_plan_t *plan, const s_recipient_t *r,
                        const Crm__V1__Delivery *d, bool *full)
{
    *full = false;
    notifier_key_t k;
    notifier_key_reset(&k);
    notifier_key_str(&k, r->key);
    notifier_key_nul(&k);
    notifier_key_str(&k, plan->rule_id);
    Crm__V1__DigestBucket *old = NULL;
    int rc = notifier_record_get(txn, nt->db.digests, k.data, k.len, &crm__v1__digest_bucket__descriptor,
                                 (ProtobufCMessage **) &old);
    if (rc && rc != CRM_ENOTFOUND)
        return rc;
    int64_t now = notifier_now(nt);
    size_t n = old ? old->n_delivery_ids : 0;
    char **ids = calloc(n + 1, sizeof *ids);
    if (!ids) {
        crm_codec_message_free((ProtobufCMessage **) &old);
        return CRM_ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        ids[i] = old->delivery_ids[i];
    ids[n] = d->id;
    Crm__V1__DigestBucket b = CRM__V1__DIGEST_BUCKET__INIT;
    b.recipient = (char *) r->key;
    b.rule_id = (char *) plan->rule_id;
    b.channel = plan->channel;
    b.n_delivery_ids = n + 1;
    b.delivery_ids = ids;
    b.window_start_us = old ? old->window_start_us : now;
    b.window_end_us = old ? old->window_end_us : now + (int64_t) plan->digest_minutes * NOTIFIER_US_PER_MINUTE;
    b.address = (char *) d->address;
    b.locale = (char *) d->locale;
    b.name = (char *) r->name;
    rc = notifier_record_put(txn, nt->db.digests, k.data, k.len, &b.base);
    if (rc == 0 && !old) {
        notifier_key_t due;
        notifier_key_reset(&due);
        notifier_key_time(&due, b.window_end_us);
        notifier_key_str(&due, r->key);
        notifier_key_nul(&due);
        notifier_key_str(&due, plan->rule_id);
        rc = due.overflow ? CRM_EINVALID : notifier_index_put(txn, nt->db.digest_due, due.data, due.len);
    }
    *full = b.n_delivery_ids >= NOTIFIER_DIGEST_ITEMS_MAX;
    free(ids);
    crm_codec_message_free((ProtobufCMessage **) &old);
    return rc;
}

/* The address a channel uses for r, or "" when r has none there. */
static const char *s_address(const s_recipient_t *r, Crm__V1__NotifyChannel channel)
{
    switch (channel) {
    case CRM__V1__NOTIFY_CHANNEL__NOTIFY_CHANNEL_EMAIL: return r->email;
    case CRM__V1__NOTIFY_CHANNEL__NOTIFY_CHANNEL_SMS: return r->phone;
    case CRM__V1__NOTIFY_CHANNEL__NOTIFY_CHANNEL_WEBHOOK: return r->is_webhook ? r->id : "";
    case CRM__V1__NOTIFY_CHANNEL__NOTIFY_CHANNEL_IN_APP:
        return r->is_customer || s_has_prefix(r->key, "staff:") ? r->id : "";
    default: return "";
    }
}

static const char *s_skip_reason(const s_plan_t *plan, const s_recipient_t *r, const char *address)
{
    if (r->unknown)
        return NOTIFIER_SKIP_UNKNOWN_CUSTOMER;
    if (r->deleted)
        return NOTIFIER_SKIP_CUSTOMER_DELETED;
    if (r->disabled)
        return NOTIFIER_SKIP_DISABLED;
    if (r->is_customer && plan->channel == CRM__V1__NOTIFY_CHANNEL__NOTIFY_CHANNEL_EMAIL
        && !s_consents(r->email_consent, plan->transactional))
        return NOTIFIER_SKIP_NO_CONSENT;
    if (r->is_customer && plan->channel == CRM__V1__NOTIFY_CHANNEL__NOTIFY_CHANNEL_SMS
        && !s_consents(r->sms_consent, plan->transactional))
        return NOTIFIER_SKIP_NO_CONSENT;
    if (!address[0])
        return NOTIFIER_SKIP_NO_ADDRESS;
    return NULL;
}

/* Records the delivery of plan to r (once per rule, event and recipient). */
static int s_deliver(notifier_t *nt, crm_txn_t *txn, s_plan_t *plan, const s_recipient_t *r)
{
    plan->delivery_id[0] = '\0';
    notifier_key_t dedup;
    notifier_key_reset(&dedup);
    notifier_key_str(&dedup, plan->rule_id);
    notifier_key_nul(&dedup);
    notifier_key_str(&dedup, plan->event_id);
    notifier_key_nul(&dedup);
    notifier_key_str(&dedup, r->key);
    if (dedup.overflow)
        return CRM_EINVALID;
    crm_val_t seen;
    int rc = crm_store_get(txn, nt->db.dedup, dedup.data, dedup.len, &seen);
    if (rc == 0)
        return 0;   /* sent (or skipped) once already */
    if (rc != CRM_ENOTFOUND)
        return rc;

    const char *address = s_address(r, plan->channel);
    const char *skip = s_skip_reason(plan, r, address);
    bool over = false;
    if (!skip && r->is_customer) {
        rc = s_cap(nt, txn, plan, &over);
        if (rc)
            return rc;
        if (over)
            skip = NOTIFIER_SKIP_DAILY_CAP;
    }
    /* The recipient's own locale; a customer's is on the customer record; staff without one get
     * the default, not the customer's. */
    const char *locale = r->locale[0] ? r->locale : nt->settings.default_locale;
    json_t *who = json_pack("{s:s, s:s, s:s, s:s}", "id", r->id, "name", r->name, "key", r->key, "locale", locale);
    if (!who)
        return CRM_ENOMEM;
    json_object_set_new(plan->ctx, "recipient", who);

    char id[CRM_ID_SIZE];
    rc = crm_id_next(nt->ids, id);
    if (rc)
        return rc;
    int64_t now = notifier_now(nt);
    Crm__V1__NotifyTemplate *t = NULL;
    char *subject = NULL, *body = NULL, *payload = NULL;
    char error[NOTIFIER_ERROR_MAX] = "";
    rc = s_template(nt, txn, plan->template_id, locale, &t);
    if (rc == CRM_ENOTFOUND) {
        snprintf(error, sizeof error, "no template \"%s\"", plan->template_id);
        rc = 0;
    } else if (rc == 0) {
        rc = s_render(nt, plan, t, &subject, &body);
    }
    if (rc)
        goto out;
    Crm__V1__Timestamp created, due_at;
    Crm__V1__Delivery d = CRM__V1__DELIVERY__INIT;
    d.id = id;
    d.rule_id = (char *) plan->rule_id;
    d.template_id = (char *) plan->template_id;
    d.event_id = (char *) plan->event_id;
    d.event_type = (char *) plan->event_type;
    d.customer_id = (char *) plan->customer_id;
    d.channel = plan->channel;
    d.recipient = (char *) r->key;
    d.address = (char *) address;
    d.locale = t ? t->locale : (char *) locale;
    d.subject = subject ? subject : "";
    d.body = body ? body : "";
    d.created_at = d.updated_at = notifier_ts_set(&created, now);
    d.transactional = plan->transactional;
    d.reminder_id = (char *) (plan->reminder_id ? plan->reminder_id : "");
    d.digest_count = plan->digest_count;
    if (plan->channel == CRM__V1__NOTIFY_CHANNEL__NOTIFY_CHANNEL_WEBHOOK && !skip && !error[0]) {
        rc = s_webhook_payload(plan, &d, &payload);
        if (rc)
            goto out;
        d.payload = payload;
    }
    const char *event_type = NULL;
    bool full = false;
    if (error[0]) {
        d.status = CRM__V1__DELIVERY_STATUS__DELIVERY_STATUS_DEAD;
        d.last_error = error;
        event_type = NOTIFIER_TYPE_DEAD;
        rc = notifier_index_put(txn, nt->db.dead, id, CRM_ID_LEN);
    } else if (skip) {
        d.status = CRM__V1__DELIVERY_STATUS__DELIVERY_STATUS_SKIPPED;
        d.skip_reason = (char *) skip;
        event_type = NOTIFIER_TYPE_SKIPPED;
    } else if (plan->digest_minutes && !r->is_customer && !r->is_webhook) {
        d.status = CRM__V1__DELIVERY_STATUS__DELIVERY_STATUS_DIGEST_PENDING;
        rc = s_digest_add(nt, txn, plan, r, &d, &full);
    } else {
        int64_t due = now + (int64_t) plan->delay_s * NOTIFIER_US_PER_SECOND;
        int minutes = 0;
        if (plan->time_of_day && plan->time_of_day[0] && notifier_clock_parse(plan->time_of_day, &minutes) == 0)
            due = notifier_next_time_of_day(minutes, nt->settings.utc_offset_min, due);
        d.status = CRM__V1__DELIVERY_STATUS__DELIVERY_STATUS_QUEUED;
        if (s_quiet_applies(&d))
            due = notifier_quiet_defer(&nt->settings.quiet, nt->settings.utc_offset_min, due);
        d.due_at = notifier_ts_set(&due_at, due);
        rc = s_due_put(nt, txn, due, id);
    }
    if (rc == 0)
        rc = s_delivery_put(nt, txn, &d);
    if (rc == 0)
        rc = s_index(nt, txn, &d, &dedup);
    if (rc == 0 && event_type)
        rc = s_emit(nt, txn, event_type, &d);
    if (rc == 0 && full)
        rc = notifier_digest_flush(nt, txn, r->key, plan->rule_id);
    if (rc == 0) {
        s_copy(plan->delivery_id, sizeof plan->delivery_id, id);
        if (skip)
            NOTIFIER_LOG(nt, CRM_LOG_INFO, "message skipped", "delivery", id, "rule", plan->rule_id, "reason", skip,
                         "recipient", r->key, "event", plan->event_id);
        else if (error[0])
            NOTIFIER_LOG(nt, CRM_LOG_ERROR, "message dead-lettered", "delivery", id, "rule", plan->rule_id, "error",
                         error);
        else if (d.status == CRM__V1__DELIVERY_STATUS__DELIVERY_STATUS_QUEUED)
            notifier_wake(nt);
    }
out:
    free(subject);
    free(body);
    free(payload);
    crm_codec_message_free((ProtobufCMessage **) &t);
    return rc;
}

/* --- Intake */

static int s_park(notifier_t *nt, crm_txn_t *txn, const notifier_event_t *ev)
{
    if (strlen(ev->id) > NOTIFIER_EVENT_ID_MAX || strlen(ev->type) >= S_PARKED_TYPE_MAX)
        return CRM_EINVALID;
    int64_t now = notifier_now(nt);
    json_t *rec = json_pack("{s:s, s:s, s:s, s:I, s:I, s:O}", "type", ev->type, "id", ev->id, "subject", ev->subject,
                            "timeUs", (json_int_t) ev->time_us, "parkedUs", (json_int_t) now, "data",
                            ev->data ? (json_t *) ev->data : json_null());
    if (!rec)
        return CRM_ENOMEM;
    char *text = json_dumps(rec, JSON_COMPACT);
    json_decref(rec);
    if (!text)
        return CRM_ENOMEM;
    notifier_key_t k, t;
    notifier_key_reset(&k);
    notifier_key_str(&k, ev->subject);
    notifier_key_str(&k, ev->id);
    notifier_key_reset(&t);
    notifier_key_time(&t, now);
    notifier_key_str(&t, ev->subject);
    notifier_key_str(&t, ev->id);
    int rc = crm_store_put(txn, nt->db.parked, k.data, k.len, text, strlen(text), CRM_STORE_NOOVERWRITE);
    if (rc == CRM_EEXISTS)
        rc = 0;
    else if (rc == 0)
        rc = notifier_index_put(txn, nt->db.parked_time, t.data, t.len);
    free(text);
    return rc;
}

static json_t *s_context(const notifier_event_t *ev, const Crm__V1__NotifyCustomer *c, int64_t now_us)
{
    char time_text[CRM_TIME_TEXT_MAX] = "", now_text[CRM_TIME_TEXT_MAX] = "";
    crm_time_format_us(ev->time_us, time_text, sizeof time_text);
    crm_time_format_us(now_us, now_text, sizeof now_text);
    json_t *customer = notifier_customer_json(c);
    if (!customer)
        return NULL;
    return json_pack("{s:o, s:o, s:s, s:s, s:s, s:s, s:s}", "event",
                     ev->data ? json_incref((json_t *) ev->data) : json_object(),
                     "customer", customer, "type", ev->type, "eventId", ev->id, "subject", ev->subject ? ev->subject : "",
                     "time", time_text, "now", now_text);
}

static int s_apply_rule(notifier_t *nt, crm_txn_t *txn, const Crm__V1__NotifyRule *rule, const notifier_event_t *ev,
                        const Crm__V1__NotifyCustomer *c, json_t *ctx)
{
    s_recipients_t list = { .items = calloc(NOTIFIER_EXPAND_MAX, sizeof(s_recipient_t)) };
    if (!list.items)
        return CRM_ENOMEM;
    int rc = 0;
    for (size_t i = 0; i < rule->n_recipients && rc == 0; i++)
        rc = s_expand(nt, txn, &list, rule->recipients[i], ev->subject, c, ev->data);
    if (rc == 0 && list.count == 0)
        NOTIFIER_LOG(nt, CRM_LOG_WARN, "a rule matched but reaches nobody", "rule", rule->id, "event", ev->id,
                     "customer", ev->subject);
    json_object_set_new(ctx, "rule", json_pack("{s:s, s:s}", "id", rule->id, "name", rule->name));
    s_plan_t plan = {
        .rule_id = rule->id, .template_id = rule->template_id, .channel = rule->channel, .event_id = ev->id,
        .event_type = ev->type, .customer_id = ev->subject ? ev->subject : "", .event_time_us = ev->time_us,
        .delay_s = rule->delay_seconds, .time_of_day = rule->time_of_day, .digest_minutes = rule->digest_minutes,
        .daily_cap = rule->daily_cap, .transactional = rule->transactional, .ctx = ctx, .event_data = ev->data,
        .customer = c,
    };
    for (size_t i = 0; i < list.count && rc == 0; i++)
        rc = s_deliver(nt, txn, &plan, &list.items[i]);
    free(list.items);
    return rc;
}

int notifier_intake(notifier_t *nt, crm_txn_t *txn, const notifier_event_t *ev, bool may_park, bool *parked)
{
    if (parked)
        *parked = false;
    size_t matched = 0;
    for (size_t i = 0; i < nt->rules.count; i++)
        matched += !nt->rules.items[i].rule->disabled && strcmp(nt->rules.items[i].rule->event_type, ev->type) == 0;
    if (!matched)
        return 0;
    if (strlen(ev->id) == 0 || strlen(ev->id) > NOTIFIER_EVENT_ID_MAX)
        return CRM_EINVALID;
    Crm__V1__NotifyCustomer *c = NULL;
    int rc = 0;
    if (ev->subject && crm_id_valid(ev->subject)) {
        rc = notifier_customer_get(nt, txn, ev->subject, &c);
        bool unknown = rc == CRM_ENOTFOUND || (rc == 0 && !c->described);
        if (unknown && may_park && nt->settings.park_us > 0) {
            crm_codec_message_free((ProtobufCMessage **) &c);
            rc = s_park(nt, txn, ev);
            if (rc == 0 && parked)
                *parked = true;
            return rc;
        }
        if (rc && rc != CRM_ENOTFOUND)
            return rc;
        rc = 0;
    }
    json_t *ctx = s_context(ev, c, notifier_now(nt));
    if (!ctx)
        rc = CRM_ENOMEM;
    for (size_t i = 0; i < nt->rules.count && rc == 0; i++) {
        const notifier_rule_t *item = &nt->rules.items[i];
        if (item->rule->disabled || strcmp(item->rule->event_type, ev->type) != 0)
            continue;
        if (!notifier_expr_eval(item->cond, ctx))
            continue;
        rc = s_apply_rule(nt, txn, item->rule, ev, c, ctx);
    }
    json_decref(ctx);
    crm_codec_message_free((ProtobufCMessage **) &c);
    return rc;
}

/* --- Reminders */

int notifier_reminder_fire(notifier_t *nt, crm_txn_t *txn, Crm__V1__Reminder *reminder)
{
    int64_t now = notifier_now(nt);
    Crm__V1__Timestamp fired;
    Crm__V1__Timestamp *keep_fired = reminder->fired_at;
    reminder->status = CRM__V1__REMINDER_STATUS__REMINDER_STATUS_FIRED;
    reminder->fired_at = notifier_ts_set(&fired, now);
    int rc = notifier_record_put(txn, nt->db.reminders, reminder->id, CRM_ID_LEN, &reminder->base);
    Crm__V1__ReminderDue due = CRM__V1__REMINDER_DUE__INIT;
    due.reminder = reminder;
    if (rc == 0)
        rc = notifier_emit(nt, txn, NOTIFIER_TYPE_REMINDER, reminder->customer_id, &due.base);
    reminder->fired_at = keep_fired;
    if (rc)
        return rc;
    Crm__V1__NotifyCustomer *c = NULL;
    rc = notifier_customer_get(nt, txn, reminder->customer_id, &c);
    if (rc && rc != CRM_ENOTFOUND)
        return rc;
    json_t *data = NULL;
    rc = crm_codec_json_from_message(&reminder->base, CRM_CODEC_EMIT_DEFAULTS, &data, NULL);
    char event_id[CRM_ID_SIZE + 16];
    snprintf(event_id, sizeof event_id, "reminder:%s", reminder->id);
    notifier_event_t ev = {
        .type = NOTIFIER_TYPE_REMINDER, .id = event_id, .subject = reminder->customer_id,
        .time_us = notifier_ts_us(reminder->due_at), .data = data,
    };
    json_t *ctx = rc == 0 ? s_context(&ev, c, now) : NULL;
    s_recipients_t list = { .items = calloc(NOTIFIER_EXPAND_MAX, sizeof(s_recipient_t)) };
    if (rc == 0 && (!ctx || !list.items))
        rc = CRM_ENOMEM;
    if (rc == 0) {
        json_object_set(ctx, "reminder", data);
        json_object_set_new(ctx, "rule", json_pack("{s:s, s:s}", "id", NOTIFIER_RULE_REMINDER, "name", "reminder"));
    }
    static const char *const owner_only[] = { "owner" };
    size_t n = reminder->n_recipients ? reminder->n_recipients : 1;
    const char *const *specs = reminder->n_recipients ? (const char *const *) reminder->recipients : owner_only;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = s_expand(nt, txn, &list, specs[i], reminder->customer_id, c, data);
    if (rc == 0 && list.count == 0)
        NOTIFIER_LOG(nt, CRM_LOG_WARN, "a reminder fell due but reaches nobody", "reminder", reminder->id, "customer",
                     reminder->customer_id);
    s_plan_t plan = {
        .rule_id = NOTIFIER_RULE_REMINDER, .template_id = NOTIFIER_TEMPLATE_REMINDER,
        .channel = reminder->channel ? reminder->channel : CRM__V1__NOTIFY_CHANNEL__NOTIFY_CHANNEL_EMAIL,
        .event_id = event_id, .event_type = NOTIFIER_TYPE_REMINDER, .customer_id = reminder->customer_id,
        .event_time_us = ev.time_us, .transactional = true, .reminder_id = reminder->id, .ctx = ctx,
        .event_data = data, .customer = c,
    };
    for (size_t i = 0; i < list.count && rc == 0; i++)
        rc = s_deliver(nt, txn, &plan, &list.items[i]);
    free(list.items);
    json_decref(ctx);
    json_decref(data);
    crm_codec_message_free((ProtobufCMessage **) &c);
    return rc;
}

/* --- Digests */

int notifier_digest_flush(notifier_t *nt, crm_txn_t *txn, const char *recipient, const char *rule_id)
{
    notifier_key_t k;
    notifier_key_reset(&k);
    notifier_key_str(&k, recipient);
    notifier_key_nul(&k);
    notifier_key_str(&k, rule_id);
    Crm__V1__DigestBucket *b = NULL;
    int rc = notifier_record_get(txn, nt->db.digests, k.data, k.len, &crm__v1__digest_bucket__descriptor,
                                 (ProtobufCMessage **) &b);
    if (rc)
        return rc;
    Crm__V1__NotifyRule *rule = NULL;
    rc = notifier_record_get(txn, nt->db.rules, rule_id, strlen(rule_id), &crm__v1__notify_rule__descriptor,
                             (ProtobufCMessage **) &rule);
    if (rc && rc != CRM_ENOTFOUND)
        goto out;
    /* The items: one line per message, its subject. */
    size_t count = 0;
    char *text = NULL;
    size_t text_len = 0;
    FILE *f = open_memstream(&text, &text_len);
    if (!f) {
        rc = CRM_ENOMEM;
        goto out;
    }
    rc = 0;
    for (size_t i = 0; i < b->n_delivery_ids && rc == 0; i++) {
        Crm__V1__Delivery *d = NULL;
        rc = s_delivery_get(nt, txn, b->delivery_ids[i], &d);
        if (rc == CRM_ENOTFOUND) {
            rc = 0;
            continue;
        }
        if (rc == 0 && d->status == CRM__V1__DELIVERY_STATUS__DELIVERY_STATUS_DIGEST_PENDING) {
            fprintf(f, "%s%s\n", S_ITEM_PREFIX, d->subject);
            count++;
        }
        crm_codec_message_free((ProtobufCMessage **) &d);
    }
    fclose(f);
    if (rc) {
        free(text);
        goto out;
    }
    char since[CRM_TIME_TEXT_MAX] = "";
    crm_time_format_us(b->window_start_us, since, sizeof since);
    char event_id[NOTIFIER_EVENT_ID_MAX];
    snprintf(event_id, sizeof event_id, "digest:%" PRId64, b->window_start_us);
    json_t *ctx = json_pack("{s:{s:I, s:s, s:s}, s:{s:s, s:s}}", "digest", "count", (json_int_t) count, "items",
                            text ? text : "", "since", since, "rule", "id", rule_id, "name",
                            rule ? rule->name : rule_id);
    free(text);
    if (!ctx) {
        rc = CRM_ENOMEM;
        goto out;
    }
    s_recipient_t r = { 0 };
    s_copy(r.key, sizeof r.key, b->recipient);
    const char *colon = strchr(b->recipient, ':');
    s_copy(r.id, sizeof r.id, colon ? colon + 1 : b->recipient);
    s_copy(r.name, sizeof r.name, b->name);
    s_copy(r.locale, sizeof r.locale, b->locale);
    if (b->channel == CRM__V1__NOTIFY_CHANNEL__NOTIFY_CHANNEL_SMS)
        s_copy(r.phone, sizeof r.phone, b->address);
    else if (b->channel == CRM__V1__NOTIFY_CHANNEL__NOTIFY_CHANNEL_EMAIL)
        s_copy(r.email, sizeof r.email, b->address);
    s_plan_t plan = {
        .rule_id = rule_id, .template_id = NOTIFIER_TEMPLATE_DIGEST, .channel = b->channel, .event_id = event_id,
        .event_type = "crm.notifier.digest.v1", .customer_id = "", .event_time_us = notifier_now(nt),
        .digest_count = (uint32_t) count, .ctx = ctx,
    };
    if (count)
        rc = s_deliver(nt, txn, &plan, &r);
    json_decref(ctx);
    /* The gathered messages now belong to the digest. */
    for (size_t i = 0; i < b->n_delivery_ids && rc == 0; i++) {
        Crm__V1__Delivery *d = NULL;
        rc = s_delivery_get(nt, txn, b->delivery_ids[i], &d);
        if (rc == CRM_ENOTFOUND) {
            rc = 0;
            continue;
        }
        if (rc == 0 && d->status == CRM__V1__DELIVERY_STATUS__DELIVERY_STATUS_DIGEST_PENDING) {
            Crm__V1__Timestamp at;
            char *keep = d->digest_id;
            Crm__V1__Timestamp *keep_at = d->updated_at;
            d->status = CRM__V1__DELIVERY_STATUS__DELIVERY_STATUS_DIGESTED;
            d->digest_id = plan.delivery_id;
            d->updated_at = notifier_ts_set(&at, notifier_now(nt));
            rc = s_delivery_put(nt, txn, d);
            d->digest_id = keep;
            d->updated_at = keep_at;
        }
        crm_codec_message_free((ProtobufCMessage **) &d);
    }
    if (rc == 0)
        rc = crm_store_del(txn, nt->db.digests, k.data, k.len);
    if (rc == 0) {
        notifier_key_t due;
        notifier_key_reset(&due);
        notifier_key_time(&due, b->window_end_us);
        notifier_key_str(&due, recipient);
        notifier_key_nul(&due);
        notifier_key_str(&due, rule_id);
        rc = notifier_index_del(txn, nt->db.digest_due, due.data, due.len);
    }
out:
    crm_codec_message_free((ProtobufCMessage **) &rule);
    crm_codec_message_free((ProtobufCMessage **) &b);
    return rc;
}

/* --- The queue */

int notifier_delivery_requeue(notifier_t *nt, crm_txn_t *txn, const char *id, int64_t at_us)
{
    Crm__V1__Delivery *d = NULL;
    int rc = s_delivery_get(nt, txn, id, &d);
    if (rc == CRM_ENOTFOUND)
        return 0;
    if (rc)
        return rc;
    if (d->status == CRM__V1__DELIVERY_STATUS__DELIVERY_STATUS_SENDING) {
        Crm__V1__Timestamp due, *keep = d->due_at;
        d->status = d->attempts ? CRM__V1__DELIVERY_STATUS__DELIVERY_STATUS_RETRYING
                                : CRM__V1__DELIVERY_STATUS__DELIVERY_STATUS_QUEUED;
        d->due_at = notifier_ts_set(&due, at_us);
        rc = s_delivery_put(nt, txn, d);
        if (rc == 0)
            rc = s_due_put(nt, txn, at_us, id);
        d->due_at = keep;
    }
    crm_codec_message_free((ProtobufCMessage **) &d);
    return rc;
}

int notifier_delivery_retry(notifier_t *nt, crm_txn_t *txn, const char *id, Crm__V1__Delivery **out)
{
    Crm__V1__Delivery *d = NULL;
    int rc = s_delivery_get(nt, txn, id, &d);
    if (rc)
        return rc;
    if (d->status != CRM__V1__DELIVERY_STATUS__DELIVERY_STATUS_DEAD || !d->address[0]) {
        crm_codec_message_free((ProtobufCMessage **) &d);
        return CRM_ECONFLICT;
    }
    int64_t now = notifier_now(nt);
    Crm__V1__Timestamp due, at, *keep_due = d->due_at, *keep_at = d->updated_at;
    char *keep_error = d->last_error;
    d->status = CRM__V1__DELIVERY_STATUS__DELIVERY_STATUS_QUEUED;
    d->attempts = 0;
    d->last_error = "";
    d->due_at = notifier_ts_set(&due, now);
    d->updated_at = notifier_ts_set(&at, now);
    rc = s_delivery_put(nt, txn, d);
    d->due_at = keep_due;
    d->updated_at = keep_at;
    d->last_error = keep_error;
    if (rc == 0)
        rc = s_due_put(nt, txn, now, id);
    if (rc == 0)
        rc = notifier_index_del(txn, nt->db.dead, id, CRM_ID_LEN);
    crm_codec_message_free((ProtobufCMessage **) &d);
    if (rc == 0)
        rc = s_delivery_get(nt, txn, id, out);
    if (rc == 0)
        notifier_wake(nt);
    return rc;
}

int notifier_deliveries_erase(notifier_t *nt, crm_txn_t *txn, const char *customer_id)
{
    crm_cursor_t *cur = NULL;
    int rc = crm_cursor_open(txn, nt->db.by_customer, &cur);
    crm_val_t k;
    for (rc = rc ? rc : crm_cursor_seek(cur, customer_id, CRM_ID_LEN, &k, NULL); rc == 0;
         rc = crm_cursor_next(cur, &k, NULL)) {
        if (k.size != 2 * CRM_ID_LEN || memcmp(k.data, customer_id, CRM_ID_LEN) != 0)
            break;
        char id[CRM_ID_SIZE];
        memcpy(id, (const char *) k.data + CRM_ID_LEN, CRM_ID_LEN);
        id[CRM_ID_LEN] = '\0';
        Crm__V1__Delivery *d = NULL;
        rc = s_delivery_get(nt, txn, id, &d);
        if (rc == CRM_ENOTFOUND) {
            rc = 0;
            continue;
        }
        if (rc)
            break;
        bool queued = d->status == CRM__V1__DELIVERY_STATUS__DELIVERY_STATUS_QUEUED
                      || d->status == CRM__V1__DELIVERY_STATUS__DELIVERY_STATUS_RETRYING;
        if (queued)
            rc = s_due_del(nt, txn, d);
        char *keep[5] = { d->address, d->subject, d->body, d->payload, d->skip_reason };
        if (queued) {
            d->status = CRM__V1__DELIVERY_STATUS__DELIVERY_STATUS_SKIPPED;
            d->skip_reason = NOTIFIER_SKIP_CUSTOMER_DELETED;
        }
        d->address = d->subject = d->body = d->payload = "";
        if (rc == 0)
            rc = s_delivery_put(nt, txn, d);
        d->address = keep[0];
        d->subject = keep[1];
        d->body = keep[2];
        d->payload = keep[3];
        d->skip_reason = keep[4];
        crm_codec_message_free((ProtobufCMessage **) &d);
        if (rc)
            break;
    }
    crm_cursor_close(&cur);
    if (rc == CRM_ENOTFOUND)
        rc = 0;
    /* The customer's inbox goes entirely. */
    notifier_key_t prefix;
    notifier_key_reset(&prefix);
    notifier_key_str(&prefix, customer_id);
    notifier_key_nul(&prefix);
    if (rc == 0)
        rc = crm_cursor_open(txn, nt->db.inbox, &cur);
    for (rc = rc ? rc : crm_cursor_seek(cur, prefix.data, prefix.len, &k, NULL); rc == 0;) {
        if (k.size < prefix.len || memcmp(k.data, prefix.data, prefix.len) != 0)
            break;
        rc = crm_cursor_del(cur);
        if (rc == 0)
            rc = crm_cursor_next(cur, &k, NULL);
    }
    crm_cursor_close(&cur);
    return rc == CRM_ENOTFOUND ? 0 : rc;
}

/* --- Senders */

void notifier_job_clear(notifier_job_t *job)
{
    free(job->address);
    free(job->subject);
    free(job->body);
    free(job->payload);
    sodium_memzero(job->secret, sizeof job->secret);
    memset(job, 0, sizeof *job);
}

typedef struct {
    notifier_t *nt;
    notifier_job_t *job;
    int64_t now;
    bool got, worked;
    int64_t next_due;
    size_t skipped, sent_inline;
} s_claim_t;

/* Marks d skipped (reason) and publishes it. */
static int s_skip_now(notifier_t *nt, crm_txn_t *txn, Crm__V1__Delivery *d, const char *reason, int64_t now)
{
    Crm__V1__Timestamp at, *keep = d->updated_at;
    char *keep_reason = d->skip_reason;
    d->status = CRM__V1__DELIVERY_STATUS__DELIVERY_STATUS_SKIPPED;
    d->skip_reason = (char *) reason;
    d->updated_at = notifier_ts_set(&at, now);
    int rc = s_delivery_put(nt, txn, d);
    if (rc == 0)
        rc = s_emit(nt, txn, NOTIFIER_TYPE_SKIPPED, d);
    d->updated_at = keep;
    d->skip_reason = keep_reason;
    return rc;
}

static int s_dead_now(notifier_t *nt, crm_txn_t *txn, Crm__V1__Delivery *d, const char *error, int64_t now)
{
    Crm__V1__Timestamp at, *keep = d->updated_at;
    char *keep_error = d->last_error;
    d->status = CRM__V1__DELIVERY_STATUS__DELIVERY_STATUS_DEAD;
    d->last_error = (char *) error;
    d->updated_at = notifier_ts_set(&at, now);
    int rc = s_delivery_put(nt, txn, d);
    if (rc == 0)
        rc = notifier_index_put(txn, nt->db.dead, d->id, CRM_ID_LEN);
    if (rc == 0)
        rc = s_emit(nt, txn, NOTIFIER_TYPE_DEAD, d);
    d->updated_at = keep;
    d->last_error = keep_error;
    return rc;
}

/* An in-app message: into the recipient's inbox at once. */
static int s_inbox_deliver(notifier_t *nt, crm_txn_t *txn, Crm__V1__Delivery *d, int64_t now)
{
    char id[CRM_ID_SIZE];
    int rc = crm_id_next(nt->ids, id);
    if (rc)
        return rc;
    Crm__V1__Timestamp created, sent, *keep_sent = d->sent_at, *keep_at = d->updated_at;
    Crm__V1__InboxMessage m = CRM__V1__INBOX_MESSAGE__INIT;
    m.id = id;
    m.recipient_id = d->address;
    m.delivery_id = d->id;
    m.rule_id = d->rule_id;
    m.event_type = d->event_type;
    m.subject = d->subject;
    m.body = d->body;
    m.created_at = notifier_ts_set(&created, now);
    notifier_key_t k;
    notifier_key_reset(&k);
    notifier_key_str(&k, d->address);
    notifier_key_nul(&k);
    notifier_key_str(&k, id);
    rc = k.overflow ? CRM_EINVALID : notifier_record_put(txn, nt->db.inbox, k.data, k.len, &m.base);
    d->status = CRM__V1__DELIVERY_STATUS__DELIVERY_STATUS_SENT;
    d->attempts++;
    d->sent_at = d->updated_at = notifier_ts_set(&sent, now);
    if (rc == 0)
        rc = s_delivery_put(nt, txn, d);
    if (rc == 0)
        rc = s_emit(nt, txn, NOTIFIER_TYPE_SENT, d);
    d->sent_at = keep_sent;
    d->updated_at = keep_at;
    return rc;
}

/* Checks a claimed delivery is still wanted; fills job for network channels. Sets *send. */
static int s_claim_one(s_claim_t *c, crm_txn_t *txn, Crm__V1__Delivery *d, bool *send)
{
    notifier_t *nt = c->nt;
    *send = false;
    int rc = 0;
    if (s_has_prefix(d->recipient, "customer:")) {
        Crm__V1__NotifyCustomer *cust = NULL;
        rc = notifier_customer_get(nt, txn, d->customer_id, &cust);
        if (rc && rc != CRM_ENOTFOUND)
            return rc;
        const char *skip = NULL;
        if (cust && cust->deleted)
            skip = NOTIFIER_SKIP_CUSTOMER_DELETED;
        else if (cust && d->channel == CRM__V1__NOTIFY_CHANNEL__NOTIFY_CHANNEL_EMAIL
                 && !s_consents(cust->consent ? cust->consent->email : 0, d->transactional))
            skip = NOTIFIER_SKIP_NO_CONSENT;
        else if (cust && d->channel == CRM__V1__NOTIFY_CHANNEL__NOTIFY_CHANNEL_SMS
                 && !s_consents(cust->consent ? cust->consent->sms : 0, d->transactional))
            skip = NOTIFIER_SKIP_NO_CONSENT;
        crm_codec_message_free((ProtobufCMessage **) &cust);
        if (skip) {
            c->skipped++;
            return s_skip_now(nt, txn, d, skip, c->now);
        }
    }
    if (d->channel == CRM__V1__NOTIFY_CHANNEL__NOTIFY_CHANNEL_IN_APP) {
        c->sent_inline++;
        return s_inbox_deliver(nt, txn, d, c->now);
    }
    notifier_job_t *job = c->job;
    if (d->channel == CRM__V1__NOTIFY_CHANNEL__NOTIFY_CHANNEL_WEBHOOK) {
        Crm__V1__WebhookEndpoint *w = NULL;
        rc = notifier_record_get(txn, nt->db.webhooks, d->address, strlen(d->address),
                                 &crm__v1__webhook_endpoint__descriptor, (ProtobufCMessage **) &w);
        if (rc == CRM_ENOTFOUND)
            return s_dead_now(nt, txn, d, "the webhook endpoint was deleted", c->now);
        if (rc)
            return rc;
        if (w->disabled) {
            crm_codec_message_free((ProtobufCMessage **) &w);
            c->skipped++;
            return s_skip_now(nt, txn, d, NOTIFIER_SKIP_DISABLED, c->now);
        }
        s_copy(job->url, sizeof job->url, w->url);
        s_copy(job->secret, sizeof job->secret, w->secret);
        crm_codec_message_free((ProtobufCMessage **) &w);
    }
    job->address = strdup(d->address);
    job->subject = strdup(d->subject);
    job->body = strdup(d->body);
    job->payload = strdup(d->payload);
    if (!job->address || !job->subject || !job->body || !job->payload)
        return CRM_ENOMEM;
    s_copy(job->id, sizeof job->id, d->id);
    s_copy(job->recipient, sizeof job->recipient, d->recipient);
    job->channel = d->channel;
    job->attempts = d->attempts;
    Crm__V1__Timestamp at, *keep = d->updated_at;
    d->status = CRM__V1__DELIVERY_STATUS__DELIVERY_STATUS_SENDING;
    d->updated_at = notifier_ts_set(&at, c->now);
    rc = s_delivery_put(nt, txn, d);
    d->updated_at = keep;
    if (rc == 0)
        rc = notifier_index_put(txn, nt->db.inflight, d->id, CRM_ID_LEN);
    if (rc == 0)
        *send = true;
    return rc;
}

static int s_claim_body(crm_txn_t *txn, void *arg)
{
    s_claim_t *c = arg;
    notifier_job_clear(c->job);
    c->got = c->worked = false;
    c->next_due = 0;
    c->skipped = c->sent_inline = 0;
    int rc = 0;
    for (size_t round = 0; rc == 0 && !c->got && round < NOTIFIER_CLAIM_SKIP_MAX; round++) {
        crm_cursor_t *cur = NULL;
        crm_val_t k;
        rc = crm_cursor_open(txn, c->nt->db.due, &cur);
        if (rc == 0)
            rc = crm_cursor_first(cur, &k, NULL);
        if (rc == 0 && k.size != NOTIFIER_TIME_KEY_LEN + CRM_ID_LEN) {
            rc = crm_cursor_del(cur);   /* not a key of ours */
            crm_cursor_close(&cur);
            continue;
        }
        int64_t at = rc == 0 ? notifier_key_time_read(k.data) : 0;
        char id[CRM_ID_SIZE] = "";
        if (rc == 0 && at > c->now) {
            c->next_due = at;
            crm_cursor_close(&cur);
            break;
        }
        if (rc == 0) {
            memcpy(id, (const char *) k.data + NOTIFIER_TIME_KEY_LEN, CRM_ID_LEN);
            rc = crm_cursor_del(cur);
        }
        crm_cursor_close(&cur);
        if (rc)
            break;
        Crm__V1__Delivery *d = NULL;
        rc = s_delivery_get(c->nt, txn, id, &d);
        if (rc == CRM_ENOTFOUND) {
            rc = 0;
            continue;
        }
        bool send = false;
        if (rc == 0 && (d->status == CRM__V1__DELIVERY_STATUS__DELIVERY_STATUS_QUEUED
                        || d->status == CRM__V1__DELIVERY_STATUS__DELIVERY_STATUS_RETRYING)) {
            c->worked = true;
            rc = s_claim_one(c, txn, d, &send);
        }
        crm_codec_message_free((ProtobufCMessage **) &d);
        c->got = send;
    }
    return rc == CRM_ENOTFOUND ? 0 : rc;
}

int notifier_delivery_claim(notifier_t *nt, notifier_job_t *job, bool *got, bool *worked, int64_t *next_due_us)
{
    s_claim_t c = { .nt = nt, .job = job, .now = notifier_now(nt) };
    int rc = notifier_write(nt, s_claim_body, &c);
    if (rc) {
        notifier_job_clear(job);
        c.got = false;
    }
    *got = c.got;
    *worked = rc == 0 && c.worked;
    *next_due_us = c.next_due;
    return rc;
}

typedef struct {
    notifier_t *nt;
    const notifier_job_t *job;
    int outcome;
    const char *error;
    uint32_t random;
    int64_t now;
    Crm__V1__DeliveryStatus status;       /* out: what became of it */
    uint32_t attempts;
    int64_t next_us;
} s_complete_t;

static int s_complete_body(crm_txn_t *txn, void *arg)
{
    s_complete_t *c = arg;
    notifier_t *nt = c->nt;
    c->status = CRM__V1__DELIVERY_STATUS__DELIVERY_STATUS_UNSPECIFIED;
    Crm__V1__Delivery *d = NULL;
    int rc = notifier_index_del(txn, nt->db.inflight, c->job->id, CRM_ID_LEN);
    if (rc == 0)
        rc = s_delivery_get(nt, txn, c->job->id, &d);
    if (rc == CRM_ENOTFOUND)
        return 0;
    if (rc)
        return rc;
    if (d->status != CRM__V1__DELIVERY_STATUS__DELIVERY_STATUS_SENDING) {
        crm_codec_message_free((ProtobufCMessage **) &d);
        return 0;
    }
    Crm__V1__Timestamp at, due, sent;
    Crm__V1__Timestamp *keep_at = d->updated_at, *keep_due = d->due_at, *keep_sent = d->sent_at;
    char *keep_error = d->last_error;
    d->updated_at = notifier_ts_set(&at, c->now);
    const char *type = NULL;
    if (c->outcome == CRM_EINTERRUPT) {
        d->status = d->attempts ? CRM__V1__DELIVERY_STATUS__DELIVERY_STATUS_RETRYING
                                : CRM__V1__DELIVERY_STATUS__DELIVERY_STATUS_QUEUED;
        d->due_at = notifier_ts_set(&due, c->now);
        rc = s_due_put(nt, txn, c->now, d->id);
    } else if (c->outcome == 0) {
        d->status = CRM__V1__DELIVERY_STATUS__DELIVERY_STATUS_SENT;
        d->attempts++;
        d->sent_at = notifier_ts_set(&sent, c->now);
        d->due_at = NULL;
        d->last_error = "";
        type = NOTIFIER_TYPE_SENT;
    } else {
        d->attempts++;
        d->last_error = (char *) (c->error && c->error[0] ? c->error : crm_strerror(c->outcome));
        bool permanent = c->outcome == CRM_EINVALID || c->outcome == CRM_EDENIED;
        if (permanent || d->attempts >= nt->settings.max_attempts) {
            d->status = CRM__V1__DELIVERY_STATUS__DELIVERY_STATUS_DEAD;
            d->due_at = NULL;
            rc = notifier_index_put(txn, nt->db.dead, d->id, CRM_ID_LEN);
            type = NOTIFIER_TYPE_DEAD;
        } else {
            int64_t next = c->now + notifier_backoff_us(nt->settings.retry_base_us, nt->settings.retry_max_us,
                                                        d->attempts, c->random);
            if (s_quiet_applies(d))
                next = notifier_quiet_defer(&nt->settings.quiet, nt->settings.utc_offset_min, next);
            d->status = CRM__V1__DELIVERY_STATUS__DELIVERY_STATUS_RETRYING;
            d->due_at = notifier_ts_set(&due, next);
            rc = s_due_put(nt, txn, next, d->id);
            c->next_us = next;
            type = NOTIFIER_TYPE_FAILED;
        }
    }
    if (rc == 0)
        rc = s_delivery_put(nt, txn, d);
    if (rc == 0 && type)
        rc = s_emit(nt, txn, type, d);
    c->status = d->status;
    c->attempts = d->attempts;
    d->updated_at = keep_at;
    d->due_at = keep_due;
    d->sent_at = keep_sent;
    d->last_error = keep_error;
    crm_codec_message_free((ProtobufCMessage **) &d);
    return rc;
}

int notifier_delivery_complete(notifier_t *nt, const notifier_job_t *job, int outcome, const char *error)
{
    s_complete_t c = {
        .nt = nt, .job = job, .outcome = outcome, .error = error, .random = randombytes_random(),
        .now = notifier_now(nt),
    };
    int rc = notifier_write(nt, s_complete_body, &c);
    if (rc)
        return rc;
    char attempts[16];
    snprintf(attempts, sizeof attempts, "%" PRIu32, c.attempts);
    const char *channel = protobuf_c_enum_descriptor_get_value(&crm__v1__notify_channel__descriptor, (int) job->channel)
                              ? protobuf_c_enum_descriptor_get_value(&crm__v1__notify_channel__descriptor,
                                                                     (int) job->channel)->name
                              : "?";
    crm_metrics_counter_t *counter = c.status == CRM__V1__DELIVERY_STATUS__DELIVERY_STATUS_SENT       ? nt->sent
                                     : c.status == CRM__V1__DELIVERY_STATUS__DELIVERY_STATUS_RETRYING ? nt->failed
                                     : c.status == CRM__V1__DELIVERY_STATUS__DELIVERY_STATUS_DEAD     ? nt->dead
                                                                                                      : NULL;
    if (counter)
        crm_metrics_counter_inc(counter);
    switch (c.status) {
    case CRM__V1__DELIVERY_STATUS__DELIVERY_STATUS_SENT:
        NOTIFIER_LOG(nt, CRM_LOG_INFO, "message sent", "delivery", job->id, "channel", channel, "recipient",
                     job->recipient, "attempts", attempts);
        break;
    case CRM__V1__DELIVERY_STATUS__DELIVERY_STATUS_RETRYING: {
        char next[CRM_TIME_TEXT_MAX] = "";
        crm_time_format_us(c.next_us, next, sizeof next);
        NOTIFIER_LOG(nt, CRM_LOG_WARN, "message failed; retrying", "delivery", job->id, "channel", channel,
                     "attempts", attempts, "next", next, "error", error ? error : crm_strerror(outcome));
        break;
    }
    case CRM__V1__DELIVERY_STATUS__DELIVERY_STATUS_DEAD:
        NOTIFIER_LOG(nt, CRM_LOG_ERROR, "message dead-lettered", "delivery", job->id, "channel", channel,
                     "attempts", attempts, "error", error ? error : crm_strerror(outcome));
        break;
    default:
        break;
    }
    return 0;
}
