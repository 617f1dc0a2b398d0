/* notifier_rules.c: validation of rules, templates, staff and webhook endpoints, and the compiled rule cache. */
#include "notifier_rules.h"

#include <assert.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crm_codec.h"
#include "crm_error.h"
#include "notifier_expr.h"
#include "notifier_template.h"
#include "notifier_webhook.h"

static bool s_has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool notifier_email_valid(const char *s)
{
    size_t len = strlen(s);
    if (len < 3 || len >= NOTIFIER_ADDRESS_MAX)
        return false;
    const char *at = strchr(s, '@');
    if (!at || at == s || !at[1] || strchr(at + 1, '@'))
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char) s[i];
        if (c <= ' ' || c == 0x7f || c == '<' || c == '>' || c == ',' || c == '"' || c == '\\')
            return false;
    }
    return true;
}

bool notifier_recipient_valid(const char *spec)
{
    static const char *const plain[] = { "customer", "owner", "team_lead", "admins" };
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++)
        if (strcmp(spec, plain[i]) == 0)
            return true;
    static const char *const prefixed[] = { "team:", "team_lead:", "staff:", "webhook:" };
    for (size_t i = 0; i < sizeof prefixed / sizeof prefixed[0]; i++)
        if (s_has_prefix(spec, prefixed[i]))
            return notifier_name_valid(spec + strlen(prefixed[i]), i == 2);
    if (s_has_prefix(spec, "address:"))
        return notifier_email_valid(spec + strlen("address:"));
    return false;
}

static bool s_text_ok(const char *s, size_t max)
{
    size_t len = strnlen(s, max + 1);
    if (len > max || !crm_codec_utf8_valid(s, len))
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char) s[i] < 0x20 && s[i] != '\n' && s[i] != '\t')
            return false;
    return true;
}

static bool s_event_type_ok(const char *s)
{
    size_t len = strlen(s);
    if (len == 0 || len > NOTIFIER_EVENT_TYPE_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!(isalnum((unsigned char) s[i]) || s[i] == '.' || s[i] == '_' || s[i] == '-'))
            return false;
    return true;
}

/* True when some template with id exists (in any locale). */
static int s_template_exists(notifier_t *nt, crm_txn_t *txn, const char *id, bool *found)
{
    *found = false;
    notifier_key_t k;
    notifier_key_reset(&k);
    notifier_key_str(&k, id);
    notifier_key_nul(&k);
    crm_cursor_t *cur = NULL;
    int rc = crm_cursor_open(txn, nt->db.templates, &cur);
    crm_val_t key;
    if (rc == 0)
        rc = crm_cursor_seek(cur, k.data, k.len, &key, NULL);
    if (rc == 0)
        *found = key.size > k.len && memcmp(key.data, k.data, k.len) == 0;
    crm_cursor_close(&cur);
    return rc == CRM_ENOTFOUND ? 0 : rc;
}

int notifier_rule_check(notifier_t *nt, crm_txn_t *txn, const Crm__V1__NotifyRule *r, notifier_err_t *err)
{
    if (!notifier_name_valid(r->id, false) || r->id[0] == '_')
        return notifier_fail(err, CRM_RPC_INVALID, "rule.id",
                             "a rule id is 1 to %d characters of A-Z a-z 0-9 . _ - and does not start with _",
                             NOTIFIER_NAME_MAX);
    if (!s_text_ok(r->name, NOTIFIER_TEXT_MAX))
        return notifier_fail(err, CRM_RPC_INVALID, "rule.name", "at most %d bytes of text", NOTIFIER_TEXT_MAX);
    if (!s_event_type_ok(r->event_type))
        return notifier_fail(err, CRM_RPC_INVALID, "rule.eventType",
                             "an event type such as crm.loyalty.tier.changed.v1 is required");
    char why[NOTIFIER_EXPR_ERROR_MAX];
    notifier_expr_t *cond = NULL;
    if (notifier_expr_compile(r->condition, &cond, why, sizeof why) != 0)
        return notifier_fail(err, CRM_RPC_INVALID, "rule.condition", "%s", why[0] ? why : "out of memory");
    notifier_expr_destroy(&cond);
    if (!notifier_name_valid(r->template_id, false))
        return notifier_fail(err, CRM_RPC_INVALID, "rule.templateId", "a template id is required");
    bool found = false;
    int rc = s_template_exists(nt, txn, r->template_id, &found);
    if (rc)
        return rc;
    if (!found)
        return notifier_fail(err, CRM_RPC_INVALID, "rule.templateId", "no template \"%s\": create it first",
                             r->template_id);
    if (r->channel == CRM__V1__NOTIFY_CHANNEL__NOTIFY_CHANNEL_UNSPECIFIED
        || !protobuf_c_enum_descriptor_get_value(&crm__v1__notify_channel__descriptor, (int) r->channel))
        return notifier_fail(err, CRM_RPC_INVALID, "rule.channel", "a channel is required: email, sms, webhook or in_app");
    if (r->n_recipients == 0 || r->n_recipients > NOTIFIER_RECIPIENTS_MAX)
        return notifier_fail(err, CRM_RPC_INVALID, "rule.recipients", "1 to %d recipients are required",
                             NOTIFIER_RECIPIENTS_MAX);
    bool webhook_channel = r->channel == CRM__V1__NOTIFY_CHANNEL__NOTIFY_CHANNEL_WEBHOOK;
    for (size_t i = 0; i < r->n_recipients; i++) {
        char field[64];
        snprintf(field, sizeof field, "rule.recipients[%zu]", i);
        const char *spec = r->recipients[i];
        if (!notifier_recipient_valid(spec))
            return notifier_fail(err, CRM_RPC_INVALID, field,
                                 "expected customer, owner, team_lead, admins, team:<name>, team_lead:<team>, "
                                 "staff:<id>, webhook:<id> or address:<email>");
        bool is_webhook = s_has_prefix(spec, "webhook:");
        if (is_webhook != webhook_channel)
            return notifier_fail(err, CRM_RPC_INVALID, field,
                                 webhook_channel ? "the webhook channel sends only to webhook:<id> recipients"
                                                 : "webhook:<id> recipients need the webhook channel");
        if (is_webhook) {
            const char *id = spec + strlen("webhook:");
            crm_val_t v;
            rc = crm_store_get(txn, nt->db.webhooks, id, strlen(id), &v);
            if (rc == CRM_ENOTFOUND)
                return notifier_fail(err, CRM_RPC_INVALID, field, "no webhook endpoint \"%s\": create it first", id);
            if (rc)
                return rc;
        }
    }
    if (r->delay_seconds > NOTIFIER_DELAY_MAX_S)
        return notifier_fail(err, CRM_RPC_INVALID, "rule.delaySeconds", "at most %u seconds", NOTIFIER_DELAY_MAX_S);
    int minutes = 0;
    if (r->time_of_day[0] && notifier_clock_parse(r->time_of_day, &minutes) != 0)
        return notifier_fail(err, CRM_RPC_INVALID, "rule.timeOfDay", "expected HH:MM, such as 09:30");
    if (r->digest_minutes > NOTIFIER_DIGEST_MAX_MIN)
        return notifier_fail(err, CRM_RPC_INVALID, "rule.digestMinutes", "at most %u minutes", NOTIFIER_DIGEST_MAX_MIN);
    return 0;
}

int notifier_template_valid(const Crm__V1__NotifyTemplate *t, notifier_err_t *err)
{
    if (!notifier_name_valid(t->id, false))
        return notifier_fail(err, CRM_RPC_INVALID, "template.id",
                             "a template id is 1 to %d characters of A-Z a-z 0-9 . _ -", NOTIFIER_NAME_MAX);
    if (!notifier_locale_valid(t->locale))
        return notifier_fail(err, CRM_RPC_INVALID, "template.locale", "a BCP 47 locale such as en or zh-CN is required");
    char why[NOTIFIER_ERROR_MAX];
    if (!t->body[0])
        return notifier_fail(err, CRM_RPC_INVALID, "template.body", "a body is required");
    if (notifier_template_check(t->subject, why, sizeof why) != 0)
        return notifier_fail(err, CRM_RPC_INVALID, "template.subject", "%s", why);
    if (strchr(t->subject, '\n') || strchr(t->subject, '\r'))
        return notifier_fail(err, CRM_RPC_INVALID, "template.subject", "a subject is one line");
    if (notifier_template_check(t->body, why, sizeof why) != 0)
        return notifier_fail(err, CRM_RPC_INVALID, "template.body", "%s", why);
    if (!s_text_ok(t->description, NOTIFIER_TEXT_MAX))
        return notifier_fail(err, CRM_RPC_INVALID, "template.description", "at most %d bytes of text", NOTIFIER_TEXT_MAX);
    if (t->n_labels > NOTIFIER_LABELS_MAX)
        return notifier_fail(err, CRM_RPC_INVALID, "template.labels", "at most %d labels", NOTIFIER_LABELS_MAX);
    for (size_t i = 0; i < t->n_labels; i++)
        if (!s_text_ok(t->labels[i]->key, NOTIFIER_TEXT_MAX) || !s_text_ok(t->labels[i]->value, NOTIFIER_TEXT_MAX)) {
            char field[NOTIFIER_FIELD_MAX];
            snprintf(field, sizeof field, "template.labels.%.128s", t->labels[i]->key);
            return notifier_fail(err, CRM_RPC_INVALID, field, "at most %d bytes of text", NOTIFIER_TEXT_MAX);
        }
    return 0;
}

int notifier_staff_valid(const Crm__V1__StaffMember *m, notifier_err_t *err)
{
    if (!notifier_name_valid(m->id, true))
        return notifier_fail(err, CRM_RPC_INVALID, "member.id",
                             "a staff id is 1 to %d characters of A-Z a-z 0-9 . _ - @", NOTIFIER_NAME_MAX);
    if (!s_text_ok(m->name, NOTIFIER_TEXT_MAX) || strchr(m->name, '\n'))
        return notifier_fail(err, CRM_RPC_INVALID, "member.name", "one line of at most %d bytes", NOTIFIER_TEXT_MAX);
    if (m->email[0] && !notifier_email_valid(m->email))
        return notifier_fail(err, CRM_RPC_INVALID, "member.email", "not an email address");
    if (!s_text_ok(m->phone, NOTIFIER_NAME_MAX) || strchr(m->phone, '\n'))
        return notifier_fail(err, CRM_RPC_INVALID, "member.phone", "at most %d bytes", NOTIFIER_NAME_MAX);
    if (m->locale[0] && !notifier_locale_valid(m->locale))
        return notifier_fail(err, CRM_RPC_INVALID, "member.locale", "a BCP 47 locale such as en or zh-CN");
    if (m->n_teams > NOTIFIER_TEAMS_MAX)
        return notifier_fail(err, CRM_RPC_INVALID, "member.teams", "at most %d teams", NOTIFIER_TEAMS_MAX);
    for (size_t i = 0; i < m->n_teams; i++)
        if (!notifier_name_valid(m->teams[i], false)) {
            char field[64];
            snprintf(field, sizeof field, "member.teams[%zu]", i);
            return notifier_fail(err, CRM_RPC_INVALID, field, "a team name is 1 to %d characters of A-Z a-z 0-9 . _ -",
                                 NOTIFIER_NAME_MAX);
        }
    return 0;
}

int notifier_webhook_valid(const notifier_t *nt, const Crm__V1__WebhookEndpoint *w, notifier_err_t *err)
{
    if (!notifier_name_valid(w->id, false))
        return notifier_fail(err, CRM_RPC_INVALID, "webhook.id",
                             "a webhook id is 1 to %d characters of A-Z a-z 0-9 . _ -", NOTIFIER_NAME_MAX);
    char why[NOTIFIER_ERROR_MAX];
    int rc = notifier_target_check(w->url, nt->settings.allow_private, why, sizeof why);
    if (rc == CRM_EUNAVAIL)
        rc = 0;   /* a name that does not resolve now may later; the sender checks again */
    if (rc)
        return notifier_fail(err, CRM_RPC_INVALID, "webhook.url", "%s", why);
    uint8_t key[NOTIFIER_WEBHOOK_KEY_MAX];
    size_t key_len = 0;
    if (w->secret[0] && notifier_webhook_secret_key(w->secret, key, &key_len) != 0)
        return notifier_fail(err, CRM_RPC_INVALID, "webhook.secret",
                             "expected whsec_ followed by the base64 of %d to %d random bytes", NOTIFIER_WEBHOOK_KEY_MIN,
                             NOTIFIER_WEBHOOK_KEY_MAX);
    if (!s_text_ok(w->description, NOTIFIER_TEXT_MAX))
        return notifier_fail(err, CRM_RPC_INVALID, "webhook.description", "at most %d bytes of text", NOTIFIER_TEXT_MAX);
    return 0;
}

/* --- The cache */

int notifier_rules_load(notifier_t *nt, crm_txn_t *txn, notifier_rules_t *out)
{
    memset(out, 0, sizeof *out);
    uint64_t count = 0;
    int rc = crm_store_count(txn, nt->db.rules, &count);
    if (rc)
        return rc;
    if (count == 0)
        return 0;
    out->items = calloc((size_t) count, sizeof *out->items);
    if (!out->items)
        return CRM_ENOMEM;
    crm_cursor_t *cur = NULL;
    rc = crm_cursor_open(txn, nt->db.rules, &cur);
    crm_val_t k, v;
    for (rc = rc ? rc : crm_cursor_first(cur, &k, &v); rc == 0 && out->count < count;
         rc = crm_cursor_next(cur, &k, &v)) {
        ProtobufCMessage *msg = NULL;
        rc = crm_codec_msgpack_decode(&crm__v1__notify_rule__descriptor, v.data, v.size, &msg, NULL);
        if (rc)
            break;
        notifier_rule_t *item = &out->items[out->count];
        item->rule = (Crm__V1__NotifyRule *) msg;
        char why[NOTIFIER_EXPR_ERROR_MAX];
        if (notifier_expr_compile(item->rule->condition, &item->cond, why, sizeof why) != 0) {
            NOTIFIER_LOG(nt, CRM_LOG_ERROR, "a stored rule's condition does not compile; rule ignored", "rule",
                         item->rule->id, "error", why);
            crm_codec_message_free(&msg);
            item->rule = NULL;
            continue;
        }
        out->count++;
    }
    crm_cursor_close(&cur);
    if (rc == CRM_ENOTFOUND)
        rc = 0;
    if (rc)
        notifier_rules_clear(out);
    return rc;
}

void notifier_rules_clear(notifier_rules_t *rules)
{
    if (!rules)
        return;
    for (size_t i = 0; i < rules->count; i++) {
        crm_codec_message_free((ProtobufCMessage **) &rules->items[i].rule);
        notifier_expr_destroy(&rules->items[i].cond);
    }
    free(rules->items);
    memset(rules, 0, sizeof *rules);
}
