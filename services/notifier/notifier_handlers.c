/* notifier_handlers.c: the request methods: rules, templates, staff, webhook endpoints, reminders, the delivery log, inboxes. */
#include "notifier_handlers.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crm/v1/notifier_api.pb-c.h"
#include "crm_codec.h"
#include "crm_error.h"
#include "crm_time.h"
#include "notifier_delivery.h"
#include "notifier_directory.h"
#include "notifier_rules.h"
#include "notifier_template.h"
#include "notifier_webhook.h"

#define S_LIST_FIRST_CAP 16
#define S_KEY_HIGH "\x7f"           /* sorts after every id character */

typedef struct s_call s_call_t;

typedef int (*s_method_fn)(crm_txn_t *txn, s_call_t *c);

struct s_call {
    notifier_t *nt;
    const notifier_caller_t *caller;
    const ProtobufCMessage *req;
    s_method_fn fn;
    notifier_err_t err;
    uint8_t *body;
    size_t body_len;
    bool rules_changed;
};

void notifier_answer_clear(notifier_answer_t *ans)
{
    if (!ans)
        return;
    free(ans->body);
    memset(ans, 0, sizeof *ans);
}

/* --- Helpers */

static int s_reply(s_call_t *c, const ProtobufCMessage *msg)
{
    free(c->body);
    c->body = NULL;
    c->body_len = 0;
    void *buf = NULL;
    size_t len = 0;
    int rc = crm_codec_pb_encode(msg, &buf, &len);
    if (rc)
        return rc;
    c->body = buf;
    c->body_len = len;
    return 0;
}

static uint32_t s_page_size(uint32_t asked)
{
    if (asked == 0)
        return NOTIFIER_PAGE_SIZE_DEFAULT;
    return asked > NOTIFIER_PAGE_SIZE_MAX ? NOTIFIER_PAGE_SIZE_MAX : asked;
}

static int s_id_token(s_call_t *c, const char *token)
{
    if (token[0] && !crm_id_valid(token))
        return notifier_fail(&c->err, CRM_RPC_INVALID, "pageToken", "not a page token of this list");
    return 0;
}

typedef struct {
    ProtobufCMessage **items;
    size_t count, cap;
} s_list_t;

static int s_list_add(s_list_t *list, ProtobufCMessage *msg)
{
    if (list->count == list->cap) {
        size_t cap = list->cap ? list->cap * 2 : S_LIST_FIRST_CAP;
        ProtobufCMessage **items = realloc(list->items, cap * sizeof *items);
        if (!items)
            return CRM_ENOMEM;
        list->items = items;
        list->cap = cap;
    }
    list->items[list->count++] = msg;
    return 0;
}

static void s_list_clear(s_list_t *list)
{
    for (size_t i = 0; i < list->count; i++)
        crm_codec_message_free(&list->items[i]);
    free(list->items);
    memset(list, 0, sizeof *list);
}

/* Reads every record of db (keys starting with prefix, prefix_len bytes; NULL for all) into list,
 * keeping those keep accepts (NULL: all). */
typedef bool (*s_keep_fn)(const ProtobufCMessage *msg, const void *arg);

static int s_read_all(crm_txn_t *txn, crm_db_t db, const void *prefix, size_t prefix_len,
                      const ProtobufCMessageDescriptor *desc, s_keep_fn keep, const void *arg, s_list_t *list)
{
    crm_cursor_t *cur = NULL;
    int rc = crm_cursor_open(txn, db, &cur);
    crm_val_t k, v;
    if (rc == 0)
        rc = prefix_len ? crm_cursor_seek(cur, prefix, prefix_len, &k, &v) : crm_cursor_first(cur, &k, &v);
    for (; rc == 0; rc = crm_cursor_next(cur, &k, &v)) {
        if (prefix_len && (k.size < prefix_len || memcmp(k.data, prefix, prefix_len) != 0))
            break;
        ProtobufCMessage *msg = NULL;
        rc = crm_codec_msgpack_decode(desc, v.data, v.size, &msg, NULL);
        if (rc)
            break;
        if (keep && !keep(msg, arg)) {
            crm_codec_message_free(&msg);
            continue;
        }
        rc = s_list_add(list, msg);
        if (rc) {
            crm_codec_message_free(&msg);
            break;
        }
    }
    crm_cursor_close(&cur);
    return rc == CRM_ENOTFOUND ? 0 : rc;
}

static Crm__V1__Timestamp *s_stamp(Crm__V1__Timestamp *ts, int64_t us)
{
    return notifier_ts_set(ts, us);
}

/* Reads the stored record under key to keep its created_at (and builtin flag). */
static int s_previous(crm_txn_t *txn, crm_db_t db, const void *key, size_t key_len,
                      const ProtobufCMessageDescriptor *desc, ProtobufCMessage **out)
{
    int rc = notifier_record_get(txn, db, key, key_len, desc, out);
    return rc == CRM_ENOTFOUND ? 0 : rc;
}

/* --- Rules */

static bool s_rule_type(const ProtobufCMessage *msg, const void *arg)
{
    const char *type = arg;
    return !type[0] || strcmp(((const Crm__V1__NotifyRule *) msg)->event_type, type) == 0;
}

static int s_list_rules(crm_txn_t *txn, s_call_t *c)
{
    const Crm__V1__ListNotifyRulesRequest *r = (const void *) c->req;
    s_list_t list = { 0 };
    int rc = s_read_all(txn, c->nt->db.rules, NULL, 0, &crm__v1__notify_rule__descriptor, s_rule_type, r->event_type,
                        &list);
    if (rc == 0) {
        Crm__V1__ListNotifyRulesReply rep = CRM__V1__LIST_NOTIFY_RULES_REPLY__INIT;
        rep.n_rules = list.count;
        rep.rules = (Crm__V1__NotifyRule **) list.items;
        rc = s_reply(c, &rep.base);
    }
    s_list_clear(&list);
    return rc;
}

static int s_put_rule(crm_txn_t *txn, s_call_t *c)
{
    const Crm__V1__PutNotifyRuleRequest *r = (const void *) c->req;
    if (!r->rule)
        return notifier_fail(&c->err, CRM_RPC_INVALID, "rule", "a rule is required");
    Crm__V1__NotifyRule rule = *r->rule;
    char id[CRM_ID_SIZE];
    if (!rule.id[0]) {
        int rc = crm_id_next(c->nt->ids, id);
        if (rc)
            return rc;
        rule.id = id;
    }
    int rc = notifier_rule_check(c->nt, txn, &rule, &c->err);
    if (rc)
        return rc;
    ProtobufCMessage *prev = NULL;
    rc = s_previous(txn, c->nt->db.rules, rule.id, strlen(rule.id), &crm__v1__notify_rule__descriptor, &prev);
    uint64_t count = 0;
    if (rc == 0 && !prev)
        rc = crm_store_count(txn, c->nt->db.rules, &count);
    if (rc == 0 && count >= NOTIFIER_RULES_MAX)
        rc = notifier_fail(&c->err, CRM_RPC_CONFLICT, "rule.id", "at most %d rules", NOTIFIER_RULES_MAX);
    if (rc == 0) {
        const Crm__V1__NotifyRule *old = (const Crm__V1__NotifyRule *) prev;
        Crm__V1__Timestamp created, updated;
        int64_t now = notifier_now(c->nt);
        rule.builtin = old ? old->builtin : false;
        rule.created_at = old && old->created_at ? old->created_at : s_stamp(&created, now);
        rule.updated_at = s_stamp(&updated, now);
        rc = notifier_record_put(txn, c->nt->db.rules, rule.id, strlen(rule.id), &rule.base);
        if (rc == 0) {
            Crm__V1__NotifyRuleReply rep = CRM__V1__NOTIFY_RULE_REPLY__INIT;
            rep.rule = &rule;
            rc = s_reply(c, &rep.base);
        }
        c->rules_changed = true;
    }
    crm_codec_message_free(&prev);
    return rc;
}

static int s_delete_rule(crm_txn_t *txn, s_call_t *c)
{
    const Crm__V1__DeleteNotifierRequest *r = (const void *) c->req;
    if (!notifier_name_valid(r->id, false))
        return notifier_fail(&c->err, CRM_RPC_INVALID, "id", "a rule id is required");
    int rc = crm_store_del(txn, c->nt->db.rules, r->id, strlen(r->id));
    if (rc == CRM_ENOTFOUND)
        return notifier_fail(&c->err, CRM_RPC_NOT_FOUND, "id", "no rule \"%s\"", r->id);
    if (rc)
        return rc;
    c->rules_changed = true;
    Crm__V1__DeleteNotifierReply rep = CRM__V1__DELETE_NOTIFIER_REPLY__INIT;
    rep.deleted = true;
    return s_reply(c, &rep.base);
}

/* --- Templates */

static int s_template_key(notifier_key_t *k, const char *id, const char *locale)
{
    notifier_key_reset(k);
    notifier_key_str(k, id);
    notifier_key_nul(k);
    notifier_key_str(k, locale);
    return k->overflow ? CRM_EINVALID : 0;
}

static int s_list_templates(crm_txn_t *txn, s_call_t *c)
{
    const Crm__V1__ListTemplatesRequest *r = (const void *) c->req;
    notifier_key_t prefix;
    notifier_key_reset(&prefix);
    if (r->id[0]) {
        notifier_key_str(&prefix, r->id);
        notifier_key_nul(&prefix);
        if (prefix.overflow)
            return notifier_fail(&c->err, CRM_RPC_INVALID, "id", "a template id is at most %d bytes", NOTIFIER_NAME_MAX);
    }
    s_list_t list = { 0 };
    int rc = s_read_all(txn, c->nt->db.templates, prefix.data, prefix.len, &crm__v1__notify_template__descriptor, NULL,
                        NULL, &list);
    if (rc == 0) {
        Crm__V1__ListTemplatesReply rep = CRM__V1__LIST_TEMPLATES_REPLY__INIT;
        rep.n_templates = list.count;
        rep.templates = (Crm__V1__NotifyTemplate **) list.items;
        rc = s_reply(c, &rep.base);
    }
    s_list_clear(&list);
    return rc;
}

static int s_put_template(crm_txn_t *txn, s_call_t *c)
{
    const Crm__V1__PutTemplateRequest *r = (const void *) c->req;
    if (!r->template_)
        return notifier_fail(&c->err, CRM_RPC_INVALID, "template", "a template is required");
    Crm__V1__NotifyTemplate t = *r->template_;
    int rc = notifier_template_valid(&t, &c->err);
    if (rc)
        return rc;
    notifier_key_t k;
    s_template_key(&k, t.id, t.locale);
    ProtobufCMessage *prev = NULL;
    rc = s_previous(txn, c->nt->db.templates, k.data, k.len, &crm__v1__notify_template__descriptor, &prev);
    if (rc == 0) {
        const Crm__V1__NotifyTemplate *old = (const Crm__V1__NotifyTemplate *) prev;
        Crm__V1__Timestamp created, updated;
        int64_t now = notifier_now(c->nt);
        t.builtin = old ? old->builtin : false;
        t.created_at = old && old->created_at ? old->created_at : s_stamp(&created, now);
        t.updated_at = s_stamp(&updated, now);
        rc = notifier_record_put(txn, c->nt->db.templates, k.data, k.len, &t.base);
        if (rc == 0) {
            Crm__V1__TemplateReply rep = CRM__V1__TEMPLATE_REPLY__INIT;
            rep.template_ = &t;
            rc = s_reply(c, &rep.base);
        }
    }
    crm_codec_message_free(&prev);
    return rc;
}

/* True when a rule uses the template, or it is one the notifier needs itself. */
static bool s_template_needed(notifier_t *nt, const char *id)
{
    if (strcmp(id, NOTIFIER_TEMPLATE_REMINDER) == 0 || strcmp(id, NOTIFIER_TEMPLATE_DIGEST) == 0)
        return true;
    for (size_t i = 0; i < nt->rules.count; i++)
        if (strcmp(nt->rules.items[i].rule->template_id, id) == 0)
            return true;
    return false;
}

static int s_delete_template(crm_txn_t *txn, s_call_t *c)
{
    const Crm__V1__DeleteNotifierRequest *r = (const void *) c->req;
    if (!notifier_name_valid(r->id, false))
        return notifier_fail(&c->err, CRM_RPC_INVALID, "id", "a template id is required");
    if (!notifier_locale_valid(r->locale))
        return notifier_fail(&c->err, CRM_RPC_INVALID, "locale", "a locale is required");
    if (strcmp(r->locale, c->nt->settings.default_locale) == 0 && s_template_needed(c->nt, r->id))
        return notifier_fail(&c->err, CRM_RPC_CONFLICT, "locale",
                             "the template is in use: its default locale (%s) stays; replace it instead",
                             c->nt->settings.default_locale);
    notifier_key_t k;
    s_template_key(&k, r->id, r->locale);
    int rc = crm_store_del(txn, c->nt->db.templates, k.data, k.len);
    if (rc == CRM_ENOTFOUND)
        return notifier_fail(&c->err, CRM_RPC_NOT_FOUND, "id", "no template \"%s\" in %s", r->id, r->locale);
    if (rc)
        return rc;
    Crm__V1__DeleteNotifierReply rep = CRM__V1__DELETE_NOTIFIER_REPLY__INIT;
    rep.deleted = true;
    return s_reply(c, &rep.base);
}

/* --- Staff */

static bool s_staff_team(const ProtobufCMessage *msg, const void *arg)
{
    const char *team = arg;
    const Crm__V1__StaffMember *m = (const Crm__V1__StaffMember *) msg;
    if (!team[0])
        return true;
    for (size_t i = 0; i < m->n_teams; i++)
        if (strcmp(m->teams[i], team) == 0)
            return true;
    return false;
}

static int s_list_staff(crm_txn_t *txn, s_call_t *c)
{
    const Crm__V1__ListStaffRequest *r = (const void *) c->req;
    s_list_t list = { 0 };
    int rc = s_read_all(txn, c->nt->db.staff, NULL, 0, &crm__v1__staff_member__descriptor, s_staff_team, r->team, &list);
    if (rc == 0) {
        Crm__V1__ListStaffReply rep = CRM__V1__LIST_STAFF_REPLY__INIT;
        rep.n_staff = list.count;
        rep.staff = (Crm__V1__StaffMember **) list.items;
        rc = s_reply(c, &rep.base);
    }
    s_list_clear(&list);
    return rc;
}

static int s_put_staff(crm_txn_t *txn, s_call_t *c)
{
    const Crm__V1__PutStaffRequest *r = (const void *) c->req;
    if (!r->member)
        return notifier_fail(&c->err, CRM_RPC_INVALID, "member", "a staff member is required");
    Crm__V1__StaffMember m = *r->member;
    int rc = notifier_staff_valid(&m, &c->err);
    if (rc)
        return rc;
    ProtobufCMessage *prev = NULL;
    rc = s_previous(txn, c->nt->db.staff, m.id, strlen(m.id), &crm__v1__staff_member__descriptor, &prev);
    uint64_t count = 0;
    if (rc == 0 && !prev)
        rc = crm_store_count(txn, c->nt->db.staff, &count);
    if (rc == 0 && count >= NOTIFIER_STAFF_MAX)
        rc = notifier_fail(&c->err, CRM_RPC_CONFLICT, "member.id", "at most %d staff members", NOTIFIER_STAFF_MAX);
    if (rc == 0) {
        const Crm__V1__StaffMember *old = (const Crm__V1__StaffMember *) prev;
        Crm__V1__Timestamp created, updated;
        int64_t now = notifier_now(c->nt);
        m.created_at = old && old->created_at ? old->created_at : s_stamp(&created, now);
        m.updated_at = s_stamp(&updated, now);
        rc = notifier_record_put(txn, c->nt->db.staff, m.id, strlen(m.id), &m.base);
        if (rc == 0) {
            Crm__V1__StaffReply rep = CRM__V1__STAFF_REPLY__INIT;
            rep.member = &m;
            rc = s_reply(c, &rep.base);
        }
    }
    crm_codec_message_free(&prev);
    return rc;
}

static int s_delete_staff(crm_txn_t *txn, s_call_t *c)
{
    const Crm__V1__DeleteNotifierRequest *r = (const void *) c->req;
    if (!notifier_name_valid(r->id, true))
        return notifier_fail(&c->err, CRM_RPC_INVALID, "id", "a staff id is required");
    int rc = crm_store_del(txn, c->nt->db.staff, r->id, strlen(r->id));
    if (rc == CRM_ENOTFOUND)
        return notifier_fail(&c->err, CRM_RPC_NOT_FOUND, "id", "no staff member \"%s\"", r->id);
    if (rc)
        return rc;
    Crm__V1__DeleteNotifierReply rep = CRM__V1__DELETE_NOTIFIER_REPLY__INIT;
    rep.deleted = true;
    return s_reply(c, &rep.base);
}

/* --- Webhook endpoints */

static int s_list_webhooks(crm_txn_t *txn, s_call_t *c)
{
    s_list_t list = { 0 };
    int rc = s_read_all(txn, c->nt->db.webhooks, NULL, 0, &crm__v1__webhook_endpoint__descriptor, NULL, NULL, &list);
    if (rc == 0) {
        /* Secrets are shown whole only when set: a listing shows their start. */
        for (size_t i = 0; i < list.count; i++) {
            Crm__V1__WebhookEndpoint *w = (Crm__V1__WebhookEndpoint *) list.items[i];
            if (strlen(w->secret) > NOTIFIER_SECRET_SHOWN)
                strcpy(w->secret + NOTIFIER_SECRET_SHOWN - 3, "...");
        }
        Crm__V1__ListWebhooksReply rep = CRM__V1__LIST_WEBHOOKS_REPLY__INIT;
        rep.n_webhooks = list.count;
        rep.webhooks = (Crm__V1__WebhookEndpoint **) list.items;
        rc = s_reply(c, &rep.base);
    }
    s_list_clear(&list);
    return rc;
}

static int s_put_webhook(crm_txn_t *txn, s_call_t *c)
{
    const Crm__V1__PutWebhookRequest *r = (const void *) c->req;
    if (!r->webhook)
        return notifier_fail(&c->err, CRM_RPC_INVALID, "webhook", "a webhook endpoint is required");
    Crm__V1__WebhookEndpoint w = *r->webhook;
    int rc = notifier_webhook_valid(c->nt, &w, &c->err);
    if (rc)
        return rc;
    ProtobufCMessage *prev = NULL;
    rc = s_previous(txn, c->nt->db.webhooks, w.id, strlen(w.id), &crm__v1__webhook_endpoint__descriptor, &prev);
    char secret[NOTIFIER_WEBHOOK_SECRET_MAX];
    if (rc == 0) {
        const Crm__V1__WebhookEndpoint *old = (const Crm__V1__WebhookEndpoint *) prev;
        if (!w.secret[0] && old && old->secret[0]) {
            w.secret = old->secret;   /* a change of URL keeps the secret */
        } else if (!w.secret[0]) {
            notifier_webhook_secret_new(secret);
            w.secret = secret;
        }
        Crm__V1__Timestamp created, updated;
        int64_t now = notifier_now(c->nt);
        w.created_at = old && old->created_at ? old->created_at : s_stamp(&created, now);
        w.updated_at = s_stamp(&updated, now);
        rc = notifier_record_put(txn, c->nt->db.webhooks, w.id, strlen(w.id), &w.base);
        if (rc == 0) {
            Crm__V1__WebhookReply rep = CRM__V1__WEBHOOK_REPLY__INIT;
            rep.webhook = &w;
            rc = s_reply(c, &rep.base);
        }
    }
    crm_codec_message_free(&prev);
    return rc;
}

static int s_delete_webhook(crm_txn_t *txn, s_call_t *c)
{
    const Crm__V1__DeleteNotifierRequest *r = (const void *) c->req;
    if (!notifier_name_valid(r->id, false))
        return notifier_fail(&c->err, CRM_RPC_INVALID, "id", "a webhook id is required");
    char spec[NOTIFIER_RECIPIENT_MAX];
    snprintf(spec, sizeof spec, "webhook:%s", r->id);
    for (size_t i = 0; i < c->nt->rules.count; i++) {
        const Crm__V1__NotifyRule *rule = c->nt->rules.items[i].rule;
        for (size_t k = 0; k < rule->n_recipients; k++)
            if (strcmp(rule->recipients[k], spec) == 0)
                return notifier_fail(&c->err, CRM_RPC_CONFLICT, "id", "rule \"%s\" sends to this endpoint", rule->id);
    }
    int rc = crm_store_del(txn, c->nt->db.webhooks, r->id, strlen(r->id));
    if (rc == CRM_ENOTFOUND)
        return notifier_fail(&c->err, CRM_RPC_NOT_FOUND, "id", "no webhook endpoint \"%s\"", r->id);
    if (rc)
        return rc;
    Crm__V1__DeleteNotifierReply rep = CRM__V1__DELETE_NOTIFIER_REPLY__INIT;
    rep.deleted = true;
    return s_reply(c, &rep.base);
}

/* --- Reminders */

static int s_reminder_check(s_call_t *c, const char *customer_id, const Crm__V1__Reminder *r)
{
    if (!crm_id_valid(customer_id))
        return notifier_fail(&c->err, CRM_RPC_INVALID, "customerId", "a customer id (26 characters) is required");
    if (!r)
        return notifier_fail(&c->err, CRM_RPC_INVALID, "reminder", "a reminder is required");
    if (!r->due_at)
        return notifier_fail(&c->err, CRM_RPC_INVALID, "dueAt", "a due time is required");
    size_t note = strlen(r->note);
    if (note == 0 || note > NOTIFIER_NOTE_MAX || !crm_codec_utf8_valid(r->note, note))
        return notifier_fail(&c->err, CRM_RPC_INVALID, "note", "a note of 1 to %d bytes is required", NOTIFIER_NOTE_MAX);
    if (r->kind[0] && !notifier_name_valid(r->kind, false))
        return notifier_fail(&c->err, CRM_RPC_INVALID, "kind",
                             "a kind is a short name such as contract_expiry, receivable_due or follow_up_visit");
    if (r->n_recipients > NOTIFIER_RECIPIENTS_MAX)
        return notifier_fail(&c->err, CRM_RPC_INVALID, "recipients", "at most %d recipients", NOTIFIER_RECIPIENTS_MAX);
    Crm__V1__NotifyChannel channel = r->channel ? r->channel : CRM__V1__NOTIFY_CHANNEL__NOTIFY_CHANNEL_EMAIL;
    if (!protobuf_c_enum_descriptor_get_value(&crm__v1__notify_channel__descriptor, (int) channel)
        || channel == CRM__V1__NOTIFY_CHANNEL__NOTIFY_CHANNEL_WEBHOOK)
        return notifier_fail(&c->err, CRM_RPC_INVALID, "channel", "a reminder goes by email, sms or in_app");
    for (size_t i = 0; i < r->n_recipients; i++) {
        if (!notifier_recipient_valid(r->recipients[i]) || strncmp(r->recipients[i], "webhook:", 8) == 0) {
            char field[64];
            snprintf(field, sizeof field, "recipients[%zu]", i);
            return notifier_fail(&c->err, CRM_RPC_INVALID, field,
                                 "expected customer, owner, team_lead, admins, team:<name>, team_lead:<team>, "
                                 "staff:<id> or address:<email>");
        }
    }
    if (strlen(r->request_id) > NOTIFIER_REQUEST_ID_MAX)
        return notifier_fail(&c->err, CRM_RPC_INVALID, "requestId", "at most %d bytes", NOTIFIER_REQUEST_ID_MAX);
    return 0;
}

static int s_reminder_reply(s_call_t *c, const Crm__V1__Reminder *r)
{
    Crm__V1__ReminderReply rep = CRM__V1__REMINDER_REPLY__INIT;
    rep.reminder = (Crm__V1__Reminder *) r;
    return s_reply(c, &rep.base);
}

static int s_reminder_get(s_call_t *c, crm_txn_t *txn, const char *id, Crm__V1__Reminder **out)
{
    if (!crm_id_valid(id))
        return CRM_ENOTFOUND;
    return notifier_record_get(txn, c->nt->db.reminders, id, CRM_ID_LEN, &crm__v1__reminder__descriptor,
                               (ProtobufCMessage **) out);
}

static int s_create_reminder(crm_txn_t *txn, s_call_t *c)
{
    const Crm__V1__CreateReminderRequest *req = (const void *) c->req;
    int rc = s_reminder_check(c, req->customer_id, req->reminder);
    if (rc)
        return rc;
    notifier_key_t rk;
    notifier_key_reset(&rk);
    notifier_key_str(&rk, req->customer_id);
    notifier_key_str(&rk, req->reminder->request_id);
    if (req->reminder->request_id[0]) {
        crm_val_t v;
        rc = crm_store_get(txn, c->nt->db.reminder_requests, rk.data, rk.len, &v);
        if (rc == 0 && v.size == CRM_ID_LEN) {
            char id[CRM_ID_SIZE];
            memcpy(id, v.data, CRM_ID_LEN);
            id[CRM_ID_LEN] = '\0';
            Crm__V1__Reminder *old = NULL;
            rc = s_reminder_get(c, txn, id, &old);
            if (rc == 0)
                rc = s_reminder_reply(c, old);
            crm_codec_message_free((ProtobufCMessage **) &old);
            return rc;
        }
        if (rc && rc != CRM_ENOTFOUND)
            return rc;
    }
    char id[CRM_ID_SIZE];
    rc = crm_id_next(c->nt->ids, id);
    if (rc)
        return rc;
    Crm__V1__Reminder r = *req->reminder;
    Crm__V1__Timestamp created;
    static char *const owner_only[] = { "owner" };
    r.id = id;
    r.customer_id = req->customer_id;
    r.status = CRM__V1__REMINDER_STATUS__REMINDER_STATUS_PENDING;
    r.channel = r.channel ? r.channel : CRM__V1__NOTIFY_CHANNEL__NOTIFY_CHANNEL_EMAIL;
    if (r.n_recipients == 0) {
        r.n_recipients = 1;
        r.recipients = (char **) owner_only;
    }
    r.created_by = (char *) (c->caller->key_id ? c->caller->key_id : "");
    r.created_at = s_stamp(&created, notifier_now(c->nt));
    r.fired_at = NULL;
    r.cancelled_at = NULL;
    rc = notifier_record_put(txn, c->nt->db.reminders, id, CRM_ID_LEN, &r.base);
    notifier_key_t k;
    if (rc == 0) {
        notifier_key_reset(&k);
        notifier_key_time(&k, notifier_ts_us(r.due_at));
        notifier_key_str(&k, id);
        rc = notifier_index_put(txn, c->nt->db.reminder_due, k.data, k.len);
    }
    if (rc == 0) {
        notifier_key_reset(&k);
        notifier_key_str(&k, r.customer_id);
        notifier_key_str(&k, id);
        rc = notifier_index_put(txn, c->nt->db.customer_reminders, k.data, k.len);
    }
    if (rc == 0 && r.request_id[0])
        rc = crm_store_put(txn, c->nt->db.reminder_requests, rk.data, rk.len, id, CRM_ID_LEN, 0);
    if (rc == 0)
        rc = s_reminder_reply(c, &r);
    return rc;
}

static int s_list_reminders(crm_txn_t *txn, s_call_t *c)
{
    const Crm__V1__ListRemindersRequest *r = (const void *) c->req;
    if (!crm_id_valid(r->customer_id))
        return notifier_fail(&c->err, CRM_RPC_INVALID, "customerId", "a customer id (26 characters) is required");
    int rc = s_id_token(c, r->page_token);
    if (rc)
        return rc;
    uint32_t page = s_page_size(r->page_size);
    notifier_key_t start;
    notifier_key_reset(&start);
    notifier_key_str(&start, r->customer_id);
    notifier_key_str(&start, r->page_token);
    s_list_t list = { 0 };
    char next[CRM_ID_SIZE] = "";
    crm_cursor_t *cur = NULL;
    crm_val_t k;
    rc = crm_cursor_open(txn, c->nt->db.customer_reminders, &cur);
    if (rc == 0)
        rc = crm_cursor_seek(cur, start.data, start.len, &k, NULL);
    if (rc == 0 && r->page_token[0] && k.size == start.len && memcmp(k.data, start.data, k.size) == 0)
        rc = crm_cursor_next(cur, &k, NULL);
    size_t scanned = 0;
    for (; rc == 0; rc = crm_cursor_next(cur, &k, NULL)) {
        if (k.size != 2 * CRM_ID_LEN || memcmp(k.data, r->customer_id, CRM_ID_LEN) != 0)
            break;
        char id[CRM_ID_SIZE];
        memcpy(id, (const char *) k.data + CRM_ID_LEN, CRM_ID_LEN);
        id[CRM_ID_LEN] = '\0';
        if (list.count == page || scanned++ == NOTIFIER_SCAN_MAX) {
            snprintf(next, sizeof next, "%s", list.count ? ((Crm__V1__Reminder *) list.items[list.count - 1])->id : id);
            break;
        }
        Crm__V1__Reminder *rem = NULL;
        rc = s_reminder_get(c, txn, id, &rem);
        if (rc == CRM_ENOTFOUND) {
            rc = 0;
            continue;
        }
        if (rc)
            break;
        if (!r->include_done && rem->status != CRM__V1__REMINDER_STATUS__REMINDER_STATUS_PENDING) {
            crm_codec_message_free((ProtobufCMessage **) &rem);
            continue;
        }
        rc = s_list_add(&list, &rem->base);
        if (rc) {
            crm_codec_message_free((ProtobufCMessage **) &rem);
            break;
        }
    }
    crm_cursor_close(&cur);
    if (rc == CRM_ENOTFOUND)
        rc = 0;
    if (rc == 0) {
        Crm__V1__ListRemindersReply rep = CRM__V1__LIST_REMINDERS_REPLY__INIT;
        rep.n_reminders = list.count;
        rep.reminders = (Crm__V1__Reminder **) list.items;
        rep.next_page_token = next;
        rc = s_reply(c, &rep.base);
    }
    s_list_clear(&list);
    return rc;
}

static int s_cancel_reminder(crm_txn_t *txn, s_call_t *c)
{
    const Crm__V1__CancelReminderRequest *req = (const void *) c->req;
    Crm__V1__Reminder *r = NULL;
    int rc = s_reminder_get(c, txn, req->id, &r);
    if (rc == CRM_ENOTFOUND || (rc == 0 && req->customer_id[0] && strcmp(r->customer_id, req->customer_id) != 0)) {
        crm_codec_message_free((ProtobufCMessage **) &r);
        return notifier_fail(&c->err, CRM_RPC_NOT_FOUND, "id", "no such reminder");
    }
    if (rc)
        return rc;
    if (r->status == CRM__V1__REMINDER_STATUS__REMINDER_STATUS_FIRED) {
        crm_codec_message_free((ProtobufCMessage **) &r);
        return notifier_fail(&c->err, CRM_RPC_CONFLICT, "id", "the reminder has already fired");
    }
    Crm__V1__Timestamp at, *keep = r->cancelled_at;
    if (r->status == CRM__V1__REMINDER_STATUS__REMINDER_STATUS_PENDING) {
        notifier_key_t k;
        notifier_key_reset(&k);
        notifier_key_time(&k, notifier_ts_us(r->due_at));
        notifier_key_str(&k, r->id);
        rc = notifier_index_del(txn, c->nt->db.reminder_due, k.data, k.len);
        r->status = CRM__V1__REMINDER_STATUS__REMINDER_STATUS_CANCELLED;
        r->cancelled_at = s_stamp(&at, notifier_now(c->nt));
        if (rc == 0)
            rc = notifier_record_put(txn, c->nt->db.reminders, r->id, CRM_ID_LEN, &r->base);
    }
    if (rc == 0)
        rc = s_reminder_reply(c, r);
    r->cancelled_at = keep;
    crm_codec_message_free((ProtobufCMessage **) &r);
    return rc;
}

/* --- Deliveries */

/* Walks an index newest first (keys <prefix><delivery id>, the id the last 26 bytes), from before
 * the token; keeps deliveries with the status (0: any). */
static int s_list_deliveries(crm_txn_t *txn, s_call_t *c)
{
    const Crm__V1__ListDeliveriesRequest *r = (const void *) c->req;
    if (r->customer_id[0] && !crm_id_valid(r->customer_id))
        return notifier_fail(&c->err, CRM_RPC_INVALID, "customerId", "a customer id has 26 characters");
    if (r->rule_id[0] && !notifier_name_valid(r->rule_id, false))
        return notifier_fail(&c->err, CRM_RPC_INVALID, "ruleId", "not a rule id");
    int rc = s_id_token(c, r->page_token);
    if (rc)
        return rc;
    crm_db_t db = c->nt->db.deliveries;
    notifier_key_t prefix;
    notifier_key_reset(&prefix);
    if (r->customer_id[0]) {
        db = c->nt->db.by_customer;
        notifier_key_str(&prefix, r->customer_id);
    } else if (r->rule_id[0]) {
        db = c->nt->db.by_rule;
        notifier_key_str(&prefix, r->rule_id);
        notifier_key_nul(&prefix);
    } else if (r->status == CRM__V1__DELIVERY_STATUS__DELIVERY_STATUS_DEAD) {
        db = c->nt->db.dead;
    }
    notifier_key_t start = prefix;
    notifier_key_str(&start, r->page_token[0] ? r->page_token : S_KEY_HIGH);
    uint32_t page = s_page_size(r->page_size);
    s_list_t list = { 0 };
    char next[CRM_ID_SIZE] = "";
    crm_cursor_t *cur = NULL;
    crm_val_t k;
    rc = crm_cursor_open(txn, db, &cur);
    if (rc == 0) {
        rc = crm_cursor_seek(cur, start.data, start.len, &k, NULL);
        rc = rc == CRM_ENOTFOUND ? crm_cursor_last(cur, &k, NULL) : rc == 0 ? crm_cursor_prev(cur, &k, NULL) : rc;
    }
    size_t scanned = 0;
    char last[CRM_ID_SIZE] = "";
    for (; rc == 0; rc = crm_cursor_prev(cur, &k, NULL)) {
        if (k.size != prefix.len + CRM_ID_LEN || memcmp(k.data, prefix.data, prefix.len) != 0)
            break;
        char id[CRM_ID_SIZE];
        memcpy(id, (const char *) k.data + prefix.len, CRM_ID_LEN);
        id[CRM_ID_LEN] = '\0';
        if (list.count == page || scanned == NOTIFIER_SCAN_MAX) {
            snprintf(next, sizeof next, "%s", last);
            break;
        }
        scanned++;
        snprintf(last, sizeof last, "%s", id);
        Crm__V1__Delivery *d = NULL;
        rc = notifier_record_get(txn, c->nt->db.deliveries, id, CRM_ID_LEN, &crm__v1__delivery__descriptor,
                                 (ProtobufCMessage **) &d);
        if (rc == CRM_ENOTFOUND) {
            rc = 0;
            continue;
        }
        if (rc)
            break;
        if (r->status && d->status != r->status) {
            crm_codec_message_free((ProtobufCMessage **) &d);
            continue;
        }
        rc = s_list_add(&list, &d->base);
        if (rc) {
            crm_codec_message_free((ProtobufCMessage **) &d);
            break;
        }
    }
    crm_cursor_close(&cur);
    if (rc == CRM_ENOTFOUND)
        rc = 0;
    if (rc == 0) {
        Crm__V1__ListDeliveriesReply rep = CRM__V1__LIST_DELIVERIES_REPLY__INIT;
        rep.n_deliveries = list.count;
        rep.deliveries = (Crm__V1__Delivery **) list.items;
        rep.next_page_token = next;
        rc = s_reply(c, &rep.base);
    }
    s_list_clear(&list);
    return rc;
}

static int s_retry_delivery(crm_txn_t *txn, s_call_t *c)
{
    const Crm__V1__RetryDeliveryRequest *r = (const void *) c->req;
    Crm__V1__Delivery *d = NULL;
    int rc = notifier_delivery_retry(c->nt, txn, r->id, &d);
    if (rc == CRM_ENOTFOUND)
        return notifier_fail(&c->err, CRM_RPC_NOT_FOUND, "id", "no such delivery");
    if (rc == CRM_ECONFLICT)
        return notifier_fail(&c->err, CRM_RPC_CONFLICT, "id", "only a dead-lettered delivery with an address is retried");
    if (rc)
        return rc;
    Crm__V1__DeliveryReply rep = CRM__V1__DELIVERY_REPLY__INIT;
    rep.delivery = d;
    rc = s_reply(c, &rep.base);
    crm_codec_message_free((ProtobufCMessage **) &d);
    return rc;
}

/* --- Inboxes */

static int s_recipient_check(s_call_t *c, const char *id)
{
    if (!crm_id_valid(id) && !notifier_name_valid(id, true))
        return notifier_fail(&c->err, CRM_RPC_INVALID, "recipientId", "a customer or staff id is required");
    return 0;
}

static int s_list_inbox(crm_txn_t *txn, s_call_t *c)
{
    const Crm__V1__ListInboxRequest *r = (const void *) c->req;
    int rc = s_recipient_check(c, r->recipient_id);
    if (rc == 0)
        rc = s_id_token(c, r->page_token);
    if (rc)
        return rc;
    notifier_key_t prefix;
    notifier_key_reset(&prefix);
    notifier_key_str(&prefix, r->recipient_id);
    notifier_key_nul(&prefix);
    uint32_t page = s_page_size(r->page_size);
    s_list_t list = { 0 };
    char next[CRM_ID_SIZE] = "";
    uint32_t unread = 0;
    crm_cursor_t *cur = NULL;
    crm_val_t k, v;
    rc = crm_cursor_open(txn, c->nt->db.inbox, &cur);
    notifier_key_t start = prefix;
    notifier_key_str(&start, S_KEY_HIGH);
    if (rc == 0) {
        rc = crm_cursor_seek(cur, start.data, start.len, &k, &v);
        rc = rc == CRM_ENOTFOUND ? crm_cursor_last(cur, &k, &v) : rc == 0 ? crm_cursor_prev(cur, &k, &v) : rc;
    }
    size_t scanned = 0;
    bool past_token = !r->page_token[0];
    char last[CRM_ID_SIZE] = "";
    for (; rc == 0 && scanned < NOTIFIER_SCAN_MAX; rc = crm_cursor_prev(cur, &k, &v), scanned++) {
        if (k.size != prefix.len + CRM_ID_LEN || memcmp(k.data, prefix.data, prefix.len) != 0)
            break;
        ProtobufCMessage *msg = NULL;
        rc = crm_codec_msgpack_decode(&crm__v1__inbox_message__descriptor, v.data, v.size, &msg, NULL);
        if (rc)
            break;
        const Crm__V1__InboxMessage *m = (const Crm__V1__InboxMessage *) msg;
        unread += !m->read;
        bool wanted = past_token && (!r->unread_only || !m->read);
        if (!past_token && strcmp(m->id, r->page_token) == 0)
            past_token = true;
        if (wanted && list.count == page) {
            if (!next[0])
                snprintf(next, sizeof next, "%s", last);
            wanted = false;
        }
        if (wanted) {
            snprintf(last, sizeof last, "%s", m->id);
            rc = s_list_add(&list, msg);
            if (rc == 0)
                continue;
        }
        crm_codec_message_free(&msg);
    }
    crm_cursor_close(&cur);
    if (rc == CRM_ENOTFOUND)
        rc = 0;
    if (rc == 0) {
        Crm__V1__ListInboxReply rep = CRM__V1__LIST_INBOX_REPLY__INIT;
        rep.n_messages = list.count;
        rep.messages = (Crm__V1__InboxMessage **) list.items;
        rep.unread = unread;
        rep.next_page_token = next;
        rc = s_reply(c, &rep.base);
    }
    s_list_clear(&list);
    return rc;
}

/* Marks the message under key read; counts it in *marked. */
static int s_mark_one(s_call_t *c, crm_txn_t *txn, const notifier_key_t *key, int64_t now, uint32_t *marked)
{
    Crm__V1__InboxMessage *m = NULL;
    int rc = notifier_record_get(txn, c->nt->db.inbox, key->data, key->len, &crm__v1__inbox_message__descriptor,
                                 (ProtobufCMessage **) &m);
    if (rc)
        return rc;
    if (!m->read) {
        Crm__V1__Timestamp at, *keep = m->read_at;
        m->read = true;
        m->read_at = s_stamp(&at, now);
        rc = notifier_record_put(txn, c->nt->db.inbox, key->data, key->len, &m->base);
        m->read_at = keep;
        (*marked)++;
    }
    crm_codec_message_free((ProtobufCMessage **) &m);
    return rc;
}

static int s_mark_read(crm_txn_t *txn, s_call_t *c)
{
    const Crm__V1__MarkReadRequest *r = (const void *) c->req;
    int rc = s_recipient_check(c, r->recipient_id);
    if (rc)
        return rc;
    if (r->message_id[0] && !crm_id_valid(r->message_id))
        return notifier_fail(&c->err, CRM_RPC_INVALID, "messageId", "not a message id");
    notifier_key_t prefix;
    notifier_key_reset(&prefix);
    notifier_key_str(&prefix, r->recipient_id);
    notifier_key_nul(&prefix);
    uint32_t marked = 0, unread = 0;
    int64_t now = notifier_now(c->nt);
    if (r->message_id[0]) {
        notifier_key_t key = prefix;
        notifier_key_str(&key, r->message_id);
        rc = s_mark_one(c, txn, &key, now, &marked);
        if (rc == CRM_ENOTFOUND)
            return notifier_fail(&c->err, CRM_RPC_NOT_FOUND, "messageId", "no such message");
        if (rc)
            return rc;
    }
    /* Unread ones (to mark, or to count): collected first, changed after the walk. */
    char (*ids)[CRM_ID_SIZE] = calloc(NOTIFIER_SCAN_MAX, sizeof *ids);
    if (!ids)
        return CRM_ENOMEM;
    size_t n = 0;
    crm_cursor_t *cur = NULL;
    crm_val_t k, v;
    rc = crm_cursor_open(txn, c->nt->db.inbox, &cur);
    if (rc == 0)
        rc = crm_cursor_seek(cur, prefix.data, prefix.len, &k, &v);
    for (; rc == 0 && n < NOTIFIER_SCAN_MAX; rc = crm_cursor_next(cur, &k, &v)) {
        if (k.size != prefix.len + CRM_ID_LEN || memcmp(k.data, prefix.data, prefix.len) != 0)
            break;
        ProtobufCMessage *msg = NULL;
        rc = crm_codec_msgpack_decode(&crm__v1__inbox_message__descriptor, v.data, v.size, &msg, NULL);
        if (rc)
            break;
        if (!((const Crm__V1__InboxMessage *) msg)->read) {
            memcpy(ids[n], (const char *) k.data + prefix.len, CRM_ID_LEN);
            ids[n++][CRM_ID_LEN] = '\0';
        }
        crm_codec_message_free(&msg);
    }
    crm_cursor_close(&cur);
    if (rc == CRM_ENOTFOUND)
        rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (r->message_id[0]) {
            unread++;
            continue;
        }
        notifier_key_t key = prefix;
        notifier_key_str(&key, ids[i]);
        rc = s_mark_one(c, txn, &key, now, &marked);
    }
    free(ids);
    if (rc)
        return rc;
    Crm__V1__MarkReadReply rep = CRM__V1__MARK_READ_REPLY__INIT;
    rep.marked = marked;
    rep.unread = unread;
    return s_reply(c, &rep.base);
}

/* --- Dispatch */

typedef struct {
    const char *name;
    const ProtobufCMessageDescriptor *request;
    s_method_fn fn;
    bool write;
    bool admin;
} s_method_t;

static const s_method_t s_methods[] = {
    { "ListRules", &crm__v1__list_notify_rules_request__descriptor, s_list_rules, false, false },
    { "PutRule", &crm__v1__put_notify_rule_request__descriptor, s_put_rule, true, true },
    { "DeleteRule", &crm__v1__delete_notifier_request__descriptor, s_delete_rule, true, true },
    { "ListTemplates", &crm__v1__list_templates_request__descriptor, s_list_templates, false, false },
    { "PutTemplate", &crm__v1__put_template_request__descriptor, s_put_template, true, true },
    { "DeleteTemplate", &crm__v1__delete_notifier_request__descriptor, s_delete_template, true, true },
    { "ListStaff", &crm__v1__list_staff_request__descriptor, s_list_staff, false, false },
    { "PutStaff", &crm__v1__put_staff_request__descriptor, s_put_staff, true, true },
    { "DeleteStaff", &crm__v1__delete_notifier_request__descriptor, s_delete_staff, true, true },
    { "ListWebhooks", &crm__v1__list_webhooks_request__descriptor, s_list_webhooks, false, true },
    { "PutWebhook", &crm__v1__put_webhook_request__descriptor, s_put_webhook, true, true },
    { "DeleteWebhook", &crm__v1__delete_notifier_request__descriptor, s_delete_webhook, true, true },
    { "CreateReminder", &crm__v1__create_reminder_request__descriptor, s_create_reminder, true, false },
    { "ListReminders", &crm__v1__list_reminders_request__descriptor, s_list_reminders, false, false },
    { "CancelReminder", &crm__v1__cancel_reminder_request__descriptor, s_cancel_reminder, true, false },
    { "ListDeliveries", &crm__v1__list_deliveries_request__descriptor, s_list_deliveries, false, false },
    { "RetryDelivery", &crm__v1__retry_delivery_request__descriptor, s_retry_delivery, true, true },
    { "ListInbox", &crm__v1__list_inbox_request__descriptor, s_list_inbox, false, false },
    { "MarkRead", &crm__v1__mark_read_request__descriptor, s_mark_read, true, false },
};

static int s_write_body(crm_txn_t *txn, void *arg)
{
    s_call_t *c = arg;
    free(c->body);
    c->body = NULL;
    c->body_len = 0;
    c->rules_changed = false;
    memset(&c->err, 0, sizeof c->err);
    return c->fn(txn, c);
}

static void s_answer(notifier_answer_t *ans, crm_rpc_status_t status, const char *field, const char *error)
{
    ans->status = status;
    snprintf(ans->field, sizeof ans->field, "%s", field ? field : "");
    snprintf(ans->error, sizeof ans->error, "%s", error ? error : "");
}

void notifier_handle(notifier_t *nt, const char *method, const notifier_caller_t *caller, const void *body,
                     size_t body_len, notifier_answer_t *ans)
{
    memset(ans, 0, sizeof *ans);
    const s_method_t *m = NULL;
    size_t prefix = strlen(NOTIFIER_METHOD_PREFIX);
    if (strncmp(method, NOTIFIER_METHOD_PREFIX, prefix) == 0)
        for (size_t i = 0; i < sizeof s_methods / sizeof s_methods[0]; i++)
            if (strcmp(method + prefix, s_methods[i].name) == 0)
                m = &s_methods[i];
    if (!m) {
        s_answer(ans, CRM_RPC_UNKNOWN_METHOD, NULL, "unknown method");
        return;
    }
    const notifier_caller_t nobody = { "", "" };
    if (!caller)
        caller = &nobody;
    if (m->admin && (!caller->role || strcmp(caller->role, NOTIFIER_ADMIN_ROLE) != 0)) {
        s_answer(ans, CRM_RPC_FORBIDDEN, NULL, "this method needs the admin role");
        return;
    }
    ProtobufCMessage *req = NULL;
    crm_codec_error_t cerr;
    int rc = crm_codec_pb_decode(m->request, body_len ? body : "", body_len, &req, &cerr);
    if (rc) {
        s_answer(ans, rc == CRM_ETOOBIG ? CRM_RPC_TOO_LARGE : CRM_RPC_INVALID, cerr.path, cerr.message);
        return;
    }
    s_call_t c = { .nt = nt, .caller = caller, .req = req, .fn = m->fn };
    if (m->write) {
        rc = notifier_write(nt, s_write_body, &c);
    } else {
        crm_txn_t *txn = NULL;
        rc = crm_store_read_begin(nt->store, &txn);
        if (rc == 0)
            rc = m->fn(txn, &c);
        crm_store_txn_end(&txn);
    }
    if (rc == 0 && c.rules_changed) {
        int reload = notifier_rules_reload(nt);
        if (reload)
            NOTIFIER_LOG(nt, CRM_LOG_ERROR, "the rules changed but could not be reloaded", "error", crm_errname(reload));
    }
    if (rc == 0) {
        ans->status = CRM_RPC_OK;
        ans->body = c.body;
        ans->body_len = c.body_len;
        c.body = NULL;
    } else if (c.err.status != CRM_RPC_OK) {
        s_answer(ans, c.err.status, c.err.field, c.err.message);
    } else {
        s_answer(ans, CRM_RPC_INTERNAL, NULL, crm_strerror(rc));
    }
    free(c.body);
    crm_codec_message_free(&req);
}
