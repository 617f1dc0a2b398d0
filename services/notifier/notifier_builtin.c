/* notifier_builtin.c: the built-in templates (English and Chinese) and rules written on the first start. */
#include "notifier_rules.h"

#include <stdio.h>
#include <string.h>

#include "crm_error.h"

#define S_LABELS_MAX 12

typedef struct {
    const char *key, *value;
} s_label_t;

typedef struct {
    const char *id;
    const char *locale;
    const char *subject;
    const char *body;
    s_label_t labels[S_LABELS_MAX];
} s_template_t;

#define S_TIERS_EN { "bronze", "Bronze" }, { "silver", "Silver" }, { "gold", "Gold" }, { "platinum", "Platinum" }
#define S_TIERS_ZH { "bronze", "青铜" }, { "silver", "白银" }, { "gold", "黄金" }, { "platinum", "铂金" }
#define S_CLOCKS_EN { "first_response", "first response" }, { "resolution", "resolution" }
#define S_CLOCKS_ZH { "first_response", "首次响应" }, { "resolution", "解决" }
#define S_PRIORITY_EN { "low", "low" }, { "normal", "normal" }, { "high", "high" }, { "urgent", "urgent" }
#define S_PRIORITY_ZH { "low", "低" }, { "normal", "普通" }, { "high", "高" }, { "urgent", "紧急" }

static const s_template_t s_templates[] = {
    { "tier-upgrade", "en", "Congratulations, you are now a {{event.toTier|label}} member",
      "Dear {{customer.name}},\n\nCongratulations on reaching the {{event.toTier|label}} tier. Thank you for "
      "your loyalty: your new member benefits are waiting for you.\n",
      { S_TIERS_EN } },
    { "tier-upgrade", "zh-CN", "恭喜您升级为{{event.toTier|label}}会员",
      "{{customer.name}}，您好！\n\n恭喜您成为我们的{{event.toTier|label}}会员。感谢您一直以来的支持，"
      "更多会员礼遇正在等着您。\n",
      { S_TIERS_ZH } },
    { "points-expiring", "en", "{{event.points}} of your points expire on {{event.expiresAt|date}}",
      "Dear {{customer.name}},\n\n{{event.points}} points expire on {{event.expiresAt|date}}. Your balance is "
      "{{event.balance}} points: use them before they go.\n",
      { { NULL, NULL } } },
    { "points-expiring", "zh-CN", "您有{{event.points}}积分将于{{event.expiresAt|date}}过期",
      "{{customer.name}}，您好！\n\n您有{{event.points}}积分将于{{event.expiresAt|date}}过期，当前积分余额"
      "{{event.balance}}，请尽快使用。\n",
      { { NULL, NULL } } },
    { "birthday", "en", "Happy birthday, {{customer.name}}!",
      "Dear {{customer.name}},\n\nHappy birthday from all of us! Thank you for being with us; we wish you a "
      "wonderful year ahead.\n",
      { { NULL, NULL } } },
    { "birthday", "zh-CN", "{{customer.name}}，生日快乐！",
      "亲爱的{{customer.name}}：\n\n祝您生日快乐！感谢您一路相伴，愿您新的一岁万事顺意。\n", { { NULL, NULL } } },
    { "holiday", "en", "Happy {{event.occasion|label}}, {{customer.name}}",
      "Dear {{customer.name}},\n\nWe wish you a happy {{event.occasion|label}}.\n",
      { { "new_year", "New Year" }, { "spring_festival", "Spring Festival" }, { "lantern_festival", "Lantern Festival" },
        { "labour_day", "Labour Day" }, { "dragon_boat", "Dragon Boat Festival" }, { "mid_autumn", "Mid-Autumn Festival" },
        { "national_day", "National Day" }, { "christmas", "Christmas" } } },
    { "holiday", "zh-CN", "{{customer.name}}，{{event.occasion|label}}快乐",
      "亲爱的{{customer.name}}：\n\n祝您{{event.occasion|label}}快乐，阖家幸福！\n",
      { { "new_year", "新年" }, { "spring_festival", "春节" }, { "lantern_festival", "元宵节" },
        { "labour_day", "劳动节" }, { "dragon_boat", "端午节" }, { "mid_autumn", "中秋节" },
        { "national_day", "国庆节" }, { "christmas", "圣诞节" } } },
    { "churn-risk", "en", "Churn risk: {{customer.name}}",
      "{{recipient.name}},\n\nAnalytics flags your customer {{customer.name}} ({{customer.id}}) as at risk of "
      "leaving: risk score {{event.score}} (threshold {{event.threshold}}). Main reason: "
      "{{event.reasons[0].detail}}\n\nPlease get in touch.\n",
      { { NULL, NULL } } },
    { "churn-risk", "zh-CN", "流失预警：{{customer.name}}",
      "{{recipient.name}}：\n\n分析显示您的客户{{customer.name}}（{{customer.id}}）有流失风险：风险分"
      "{{event.score}}（阈值{{event.threshold}}）。主要原因：{{event.reasons[0].detail}}\n\n请尽快联系。\n",
      { { NULL, NULL } } },
    { "complaint-sla-breached", "en", "Complaint past its {{event.clock|label}} deadline: {{event.complaint.subject}}",
      "{{recipient.name}},\n\nComplaint {{event.complaint.id}} of {{customer.name}} ({{event.complaint.priority|label}} "
      "priority) missed its {{event.clock|label}} deadline of {{event.dueAt}}.\n\nTeam: {{event.complaint.team}}\n"
      "Assignee: {{event.complaint.assignee}}\n",
      { S_CLOCKS_EN, S_PRIORITY_EN } },
    { "complaint-sla-breached", "zh-CN", "投诉超过{{event.clock|label}}时限：{{event.complaint.subject}}",
      "{{recipient.name}}：\n\n客户{{customer.name}}的投诉{{event.complaint.id}}（{{event.complaint.priority|label}}优先级）"
      "已超过{{event.clock|label}}时限（{{event.dueAt}}）。\n\n团队：{{event.complaint.team}}\n负责人：{{event.complaint.assignee}}\n",
      { S_CLOCKS_ZH, S_PRIORITY_ZH } },
    { "complaint-escalated", "en", "Complaint escalated (level {{event.level}}): {{event.complaint.subject}}",
      "{{recipient.name}},\n\nComplaint {{event.complaint.id}} of {{customer.name}} is escalated to level "
      "{{event.level}} after its {{event.clock|label}} deadline passed.\n\nTeam: {{event.team}}\n"
      "Status: {{event.complaint.status}}\n",
      { S_CLOCKS_EN } },
    { "complaint-escalated", "zh-CN", "投诉升级（第{{event.level}}级）：{{event.complaint.subject}}",
      "{{recipient.name}}：\n\n客户{{customer.name}}的投诉{{event.complaint.id}}因超过{{event.clock|label}}时限"
      "已升级至第{{event.level}}级。\n\n团队：{{event.team}}\n状态：{{event.complaint.status}}\n",
      { S_CLOCKS_ZH } },
    { "complaint-replied", "en", "Re: {{event.subject}}", "Dear {{customer.name}},\n\n{{event.text}}\n",
      { { NULL, NULL } } },
    { "complaint-replied", "zh-CN", "回复：{{event.subject}}", "{{customer.name}}，您好！\n\n{{event.text}}\n",
      { { NULL, NULL } } },
    { "survey-invitation", "en", "{{customer.name}}, how did we do?",
      "Dear {{customer.name}},\n\n{{event.invitation.question}}\n\nPlease answer here (until "
      "{{event.invitation.expiresAt|date}}): {{event.invitation.answerUrl}}\n",
      { { NULL, NULL } } },
    { "survey-invitation", "zh-CN", "{{customer.name}}，请为我们的服务打分",
      "{{customer.name}}，您好！\n\n{{event.invitation.question}}\n\n请在{{event.invitation.expiresAt|date}}前点击作答："
      "{{event.invitation.answerUrl}}\n",
      { { NULL, NULL } } },
    { "api-key-changed", "en", "API key \"{{event.key.name}}\" {{type|label}}",
      "The API key \"{{event.key.name}}\" ({{event.key.id}}, role {{event.key.role}}) was {{type|label}} by "
      "{{event.actorKeyId}} at {{time}}.\n",
      { { "crm.audit.key.created.v1", "created" }, { "crm.audit.key.revoked.v1", "revoked" } } },
    { "api-key-changed", "zh-CN", "API 密钥“{{event.key.name}}”已{{type|label}}",
      "API 密钥“{{event.key.name}}”（{{event.key.id}}，角色 {{event.key.role}}）已于 {{time}} 被 "
      "{{event.actorKeyId}} {{type|label}}。\n",
      { { "crm.audit.key.created.v1", "创建" }, { "crm.audit.key.revoked.v1", "吊销" } } },
    { "sensitive-operation", "en", "Sensitive operation: {{event.operation}}",
      "{{event.method}} {{event.path}} ({{event.operation}}) was done by the {{event.role}} key "
      "{{event.keyId}} at {{event.time}}; audit line {{event.seq}}.\n",
      { { NULL, NULL } } },
    { "sensitive-operation", "zh-CN", "敏感操作：{{event.operation}}",
      "{{event.role}} 密钥 {{event.keyId}} 于 {{event.time}} 执行了 {{event.method}} {{event.path}}"
      "（{{event.operation}}），审计记录第 {{event.seq}} 条。\n",
      { { NULL, NULL } } },
    { "customer-erased", "en", "Customer {{event.customerId}} was erased",
      "Every personal detail of customer {{event.customerId}} was erased at {{time}}, as asked.\n", { { NULL, NULL } } },
    { "customer-erased", "zh-CN", "客户{{event.customerId}}的个人数据已删除",
      "客户{{event.customerId}}的全部个人数据已于 {{time}} 按要求删除。\n", { { NULL, NULL } } },
    { NOTIFIER_TEMPLATE_REMINDER, "en", "Reminder: {{customer.name}}",
      "{{recipient.name}},\n\n{{reminder.note}}\n\nCustomer: {{customer.name}} ({{reminder.customerId}})\n"
      "Due: {{reminder.dueAt}}\n",
      { { NULL, NULL } } },
    { NOTIFIER_TEMPLATE_REMINDER, "zh-CN", "提醒：{{customer.name}}",
      "{{recipient.name}}：\n\n{{reminder.note}}\n\n客户：{{customer.name}}（{{reminder.customerId}}）\n"
      "到期：{{reminder.dueAt}}\n",
      { { NULL, NULL } } },
    { NOTIFIER_TEMPLATE_DIGEST, "en", "{{digest.count}} alerts: {{rule.name}}",
      "{{recipient.name}},\n\n{{digest.count}} alerts of \"{{rule.name}}\" since {{digest.since}}:\n\n{{digest.items}}\n",
      { { NULL, NULL } } },
    { NOTIFIER_TEMPLATE_DIGEST, "zh-CN", "{{digest.count}}条提醒：{{rule.name}}",
      "{{recipient.name}}：\n\n自{{digest.since}}以来“{{rule.name}}”共{{digest.count}}条提醒：\n\n{{digest.items}}\n",
      { { NULL, NULL } } },
};

typedef struct {
    const char *id;
    const char *name;
    const char *event_type;
    const char *condition;
    const char *template_id;
    Crm__V1__NotifyChannel channel;
    const char *recipients[3];
    uint32_t digest_minutes;
    bool transactional;
} s_rule_t;

#define S_EMAIL CRM__V1__NOTIFY_CHANNEL__NOTIFY_CHANNEL_EMAIL

static const s_rule_t s_rules[] = {
    { "churn-risk", "Churn risk to the account owner", "crm.analytics.customer.churn_risk.v1", "", "churn-risk",
      S_EMAIL, { "owner" }, 60, false },
    { "complaint-sla-breached", "Complaint SLA breach to the team lead", "crm.feedback.complaint.sla_breached.v1", "",
      "complaint-sla-breached", S_EMAIL, { "team_lead" }, 0, false },
    { "complaint-escalated-lead", "Complaint escalation (level 1) to the team lead",
      "crm.feedback.complaint.escalated.v1", "event.level < 2", "complaint-escalated", S_EMAIL, { "team_lead" }, 0,
      false },
    { "complaint-escalated-admins", "Complaint escalation (level 2) to the team lead and the admins",
      "crm.feedback.complaint.escalated.v1", "event.level >= 2", "complaint-escalated", S_EMAIL,
      { "team_lead", "admins" }, 0, false },
    { "complaint-replied", "Complaint reply to the customer", "crm.feedback.complaint.replied.v1", "",
      "complaint-replied", S_EMAIL, { "customer" }, 0, true },
    { "survey-invitation", "Survey invitation to the customer", "crm.feedback.invitation.created.v1", "",
      "survey-invitation", S_EMAIL, { "customer" }, 0, false },
    { "tier-upgrade", "Tier upgrade congratulations", "crm.loyalty.tier.changed.v1", "event.change == \"upgrade\"",
      "tier-upgrade", S_EMAIL, { "customer" }, 0, false },
    { "points-expiring", "Points about to expire", "crm.loyalty.points.expiring.v1", "event.points > 0",
      "points-expiring", S_EMAIL, { "customer" }, 0, false },
    { "birthday", "Birthday greeting", NOTIFIER_TYPE_BIRTHDAY, "", "birthday", S_EMAIL, { "customer" }, 0, false },
    { "holiday", "Holiday greeting", NOTIFIER_TYPE_HOLIDAY, "", "holiday", S_EMAIL, { "customer" }, 0, false },
    { "api-key-created", "API key created, to the admins", "crm.audit.key.created.v1", "", "api-key-changed", S_EMAIL,
      { "admins" }, 0, false },
    { "api-key-revoked", "API key revoked, to the admins", "crm.audit.key.revoked.v1", "", "api-key-changed", S_EMAIL,
      { "admins" }, 0, false },
    { "sensitive-operation", "Sensitive operation (merge, deletion, points adjustment, bulk or rule change), to the admins",
      "crm.audit.operation.v1", "event.operation != \"keys.create\" && event.operation != \"keys.revoke\"",
      "sensitive-operation", S_EMAIL, { "admins" }, 0, false },
    { "customer-erased", "Customer erased, to the admins", "crm.contacts.customer.erased.v1", "", "customer-erased",
      S_EMAIL, { "admins" }, 0, false },
};

static int s_put_template(notifier_t *nt, crm_txn_t *txn, const s_template_t *t, int64_t now_us)
{
    Crm__V1__NotifyTemplate__LabelsEntry entries[S_LABELS_MAX];
    Crm__V1__NotifyTemplate__LabelsEntry *ptrs[S_LABELS_MAX];
    size_t n = 0;
    for (; n < S_LABELS_MAX && t->labels[n].key; n++) {
        crm__v1__notify_template__labels_entry__init(&entries[n]);
        entries[n].key = (char *) t->labels[n].key;
        entries[n].value = (char *) t->labels[n].value;
        ptrs[n] = &entries[n];
    }
    Crm__V1__Timestamp at;
    Crm__V1__NotifyTemplate rec = CRM__V1__NOTIFY_TEMPLATE__INIT;
    rec.id = (char *) t->id;
    rec.locale = (char *) t->locale;
    rec.subject = (char *) t->subject;
    rec.body = (char *) t->body;
    rec.n_labels = n;
    rec.labels = ptrs;
    rec.description = "built in";
    rec.builtin = true;
    rec.created_at = rec.updated_at = notifier_ts_set(&at, now_us);
    notifier_err_t err = { 0 };
    int rc = notifier_template_valid(&rec, &err);
    if (rc) {
        NOTIFIER_LOG(nt, CRM_LOG_ERROR, "a built-in template is invalid", "template", t->id, "error", err.message);
        return rc;
    }
    notifier_key_t k;
    notifier_key_reset(&k);
    notifier_key_str(&k, t->id);
    notifier_key_nul(&k);
    notifier_key_str(&k, t->locale);
    return notifier_record_put(txn, nt->db.templates, k.data, k.len, &rec.base);
}

int notifier_builtin_seed(notifier_t *nt, crm_txn_t *txn, int64_t now_us)
{
    int rc = 0;
    for (size_t i = 0; i < sizeof s_templates / sizeof s_templates[0] && rc == 0; i++)
        rc = s_put_template(nt, txn, &s_templates[i], now_us);
    for (size_t i = 0; i < sizeof s_rules / sizeof s_rules[0] && rc == 0; i++) {
        const s_rule_t *r = &s_rules[i];
        char *recipients[3];
        size_t n = 0;
        for (; n < 3 && r->recipients[n]; n++)
            recipients[n] = (char *) r->recipients[n];
        Crm__V1__Timestamp at;
        Crm__V1__NotifyRule rec = CRM__V1__NOTIFY_RULE__INIT;
        rec.id = (char *) r->id;
        rec.name = (char *) r->name;
        rec.event_type = (char *) r->event_type;
        rec.condition = (char *) r->condition;
        rec.template_id = (char *) r->template_id;
        rec.channel = r->channel;
        rec.n_recipients = n;
        rec.recipients = recipients;
        rec.digest_minutes = r->digest_minutes;
        rec.transactional = r->transactional;
        rec.builtin = true;
        rec.created_at = rec.updated_at = notifier_ts_set(&at, now_us);
        notifier_err_t err = { 0 };
        rc = notifier_rule_check(nt, txn, &rec, &err);
        if (rc) {
            NOTIFIER_LOG(nt, CRM_LOG_ERROR, "a built-in rule is invalid", "rule", r->id, "error", err.message);
            break;
        }
        rc = notifier_record_put(txn, nt->db.rules, r->id, strlen(r->id), &rec.base);
    }
    return rc;
}
