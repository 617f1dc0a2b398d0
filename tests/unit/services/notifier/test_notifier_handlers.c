/* test_notifier_handlers.c: rules and deliveries through the request methods and consumed events: built-ins, validation, consent, dedup, caps, webhooks with retries and dead letters, in-app inboxes, erasure. */
#include "notifier_fixture.h"

TestSuite(notifier_handlers, .init = fx_setup, .fini = fx_teardown, .timeout = 60);

Test(notifier_handlers, built_in_rules_and_templates_are_written_once_and_then_managed_like_any)
{
    Crm__V1__ListNotifyRulesRequest req = CRM__V1__LIST_NOTIFY_RULES_REQUEST__INIT;
    Crm__V1__ListNotifyRulesReply *rep = NULL;
    cr_assert_eq(fx_call("notifier.ListRules", "agent", &req.base, &crm__v1__list_notify_rules_reply__descriptor,
                         (ProtobufCMessage **) &rep), CRM_RPC_OK);
    size_t builtins = rep->n_rules;
    cr_assert_geq(builtins, 12);
    const char *const expected[] = { "churn-risk", "complaint-sla-breached", "complaint-escalated-lead",
                                     "complaint-escalated-admins", "complaint-replied", "survey-invitation",
                                     "tier-upgrade", "points-expiring", "birthday", "holiday", "api-key-created",
                                     "api-key-revoked", "customer-erased" };
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++) {
        bool found = false;
        for (size_t k = 0; k < rep->n_rules; k++)
            if (strcmp(rep->rules[k]->id, expected[i]) == 0) {
                found = true;
                cr_assert(rep->rules[k]->builtin);
            }
        cr_assert(found, "no built-in rule %s", expected[i]);
    }
    fx_free(rep);
    /* Every built-in template in English and Chinese. */
    Crm__V1__ListTemplatesRequest treq = CRM__V1__LIST_TEMPLATES_REQUEST__INIT;
    treq.id = "tier-upgrade";
    Crm__V1__ListTemplatesReply *trep = NULL;
    cr_assert_eq(fx_call("notifier.ListTemplates", "analyst", &treq.base, &crm__v1__list_templates_reply__descriptor,
                         (ProtobufCMessage **) &trep), CRM_RPC_OK);
    cr_assert_eq(trep->n_templates, 2);
    cr_assert_str_eq(trep->templates[0]->locale, "en");
    cr_assert_str_eq(trep->templates[1]->locale, "zh-CN");
    fx_free(trep);
    /* A deleted built-in stays deleted after a restart. */
    Crm__V1__DeleteNotifierRequest del = CRM__V1__DELETE_NOTIFIER_REQUEST__INIT;
    del.id = "holiday";
    cr_assert_eq(fx_call("notifier.DeleteRule", "admin", &del.base, &crm__v1__delete_notifier_reply__descriptor, NULL),
                 CRM_RPC_OK);
    fx_restart();
    cr_assert_eq(fx_call("notifier.ListRules", "agent", &req.base, &crm__v1__list_notify_rules_reply__descriptor,
                         (ProtobufCMessage **) &rep), CRM_RPC_OK);
    cr_assert_eq(rep->n_rules, builtins - 1);
    fx_free(rep);
    cr_assert_eq(fx_call("notifier.DeleteRule", "admin", &del.base, &crm__v1__delete_notifier_reply__descriptor, NULL),
                 CRM_RPC_NOT_FOUND);
}

Test(notifier_handlers, a_tier_upgrade_sends_one_email_in_the_customers_language)
{
    char id[CRM_ID_SIZE];
    fx_new_id(id);
    fx_customer(id, "张伟", "zhang.wei@example.com", "zh-CN", CRM__V1__CONSENT_STATE__CONSENT_STATE_GRANTED, NULL, NULL);
    fx_tier(id, "bronze", "silver", CRM__V1__TIER_CHANGE__TIER_CHANGE_UPGRADE, "01J00000000000000000000001");
    cr_assert_eq(fx_drain(), 1);
    cr_assert(crm_smtp_sink_wait(fx.smtp, 1, FX_WAIT_MS));
    crm_smtp_message_t m;
    cr_assert(crm_smtp_sink_get(fx.smtp, 0, &m));
    cr_assert_str_eq(m.to[0], "zhang.wei@example.com");
    cr_assert_str_eq(m.subject, "恭喜您升级为白银会员");
    cr_assert(strstr(m.body, "张伟，您好！"), "%s", m.body);
    cr_assert(strstr(m.body, "白银会员"), "%s", m.body);
    crm_smtp_message_clear(&m);
    /* The same event again (a replay): nothing more. A downgrade: not a congratulation. */
    fx_tier(id, "bronze", "silver", CRM__V1__TIER_CHANGE__TIER_CHANGE_UPGRADE, "01J00000000000000000000001");
    fx_tier(id, "silver", "bronze", CRM__V1__TIER_CHANGE__TIER_CHANGE_DOWNGRADE, NULL);
    cr_assert_eq(fx_drain(), 0);
    cr_assert_eq(crm_smtp_sink_count(fx.smtp), 1);
    Crm__V1__ListDeliveriesReply *log = fx_deliveries(id, NULL);
    cr_assert_eq(log->n_deliveries, 1);
    cr_assert_eq(log->deliveries[0]->status, CRM__V1__DELIVERY_STATUS__DELIVERY_STATUS_SENT);
    cr_assert_str_eq(log->deliveries[0]->rule_id, "tier-upgrade");
    cr_assert_str_eq(log->deliveries[0]->locale, "zh-CN");
    cr_assert_eq(log->deliveries[0]->attempts, 1);
    fx_free(log);
    cr_assert_eq(fx_published(NOTIFIER_TYPE_SENT), 1);
    /* An English customer gets English. */
    char en[CRM_ID_SIZE];
    fx_new_id(en);
    fx_customer(en, "Ann Lee", "ann@example.com", "en-GB", CRM__V1__CONSENT_STATE__CONSENT_STATE_GRANTED, NULL, NULL);
    fx_tier(en, "silver", "gold", CRM__V1__TIER_CHANGE__TIER_CHANGE_UPGRADE, NULL);
    cr_assert_eq(fx_drain(), 1);
    cr_assert(crm_smtp_sink_get(fx.smtp, 1, &m));
    cr_assert_str_eq(m.subject, "Congratulations, you are now a Gold member");
    crm_smtp_message_clear(&m);
}

Test(notifier_handlers, no_email_without_consent_and_the_skip_is_logged_and_published)
{
    char never[CRM_ID_SIZE], withdrawn[CRM_ID_SIZE];
    fx_new_id(never);
    fx_new_id(withdrawn);
    fx_customer(never, "李娜", "li.na@example.com", "zh-CN", CRM__V1__CONSENT_STATE__CONSENT_STATE_UNSPECIFIED, NULL,
                NULL);
    fx_customer(withdrawn, "王芳", "wang@example.com", "zh-CN", CRM__V1__CONSENT_STATE__CONSENT_STATE_WITHDRAWN, NULL,
                NULL);
    fx_tier(never, "bronze", "silver", CRM__V1__TIER_CHANGE__TIER_CHANGE_UPGRADE, NULL);
    fx_tier(withdrawn, "bronze", "silver", CRM__V1__TIER_CHANGE__TIER_CHANGE_UPGRADE, NULL);
    cr_assert_eq(fx_drain(), 0);
    cr_assert_eq(crm_smtp_sink_count(fx.smtp), 0);
    const char *ids[] = { never, withdrawn };
    for (size_t i = 0; i < 2; i++) {
        Crm__V1__ListDeliveriesReply *log = fx_deliveries(ids[i], NULL);
        cr_assert_eq(log->n_deliveries, 1);
        cr_assert_eq(log->deliveries[0]->status, CRM__V1__DELIVERY_STATUS__DELIVERY_STATUS_SKIPPED);
        cr_assert_str_eq(log->deliveries[0]->skip_reason, "no_consent");
        fx_free(log);
    }
    cr_assert_eq(fx_published(NOTIFIER_TYPE_SKIPPED), 2);
    /* A transactional rule (the complaint reply) may write when consent was never asked, never
     * when it was withdrawn. */
    const char *people[] = { never, withdrawn };
    for (size_t i = 0; i < 2; i++) {
        Crm__V1__ComplaintReplied r = CRM__V1__COMPLAINT_REPLIED__INIT;
        r.complaint_id = "01J0000000000000000000000C";
        r.customer_id = (char *) people[i];
        r.text = "我们已为您办理退款。";
        r.subject = "退款";
        fx_event("crm.feedback.complaint.replied.v1", people[i], &r.base);
    }
    cr_assert_eq(fx_drain(), 1);
    crm_smtp_message_t m;
    cr_assert(crm_smtp_sink_get(fx.smtp, 0, &m));
    cr_assert_str_eq(m.to[0], "li.na@example.com");
    cr_assert_str_eq(m.subject, "回复：退款");
    crm_smtp_message_clear(&m);
}

Test(notifier_handlers, consent_withdrawn_after_queueing_still_stops_the_message)
{
    fx.settings.quiet = (notifier_quiet_t) { 0 };
    char id[CRM_ID_SIZE];
    fx_new_id(id);
    fx_customer(id, "Bo", "bo@example.com", "en", CRM__V1__CONSENT_STATE__CONSENT_STATE_GRANTED, NULL, NULL);
    fx_tier(id, "bronze", "silver", CRM__V1__TIER_CHANGE__TIER_CHANGE_UPGRADE, NULL);
    fx_customer(id, "Bo", "bo@example.com", "en", CRM__V1__CONSENT_STATE__CONSENT_STATE_WITHDRAWN, NULL, NULL);
    cr_assert_eq(fx_drain(), 0);
    cr_assert_eq(crm_smtp_sink_count(fx.smtp), 0);
    Crm__V1__ListDeliveriesReply *log = fx_deliveries(id, NULL);
    cr_assert_eq(log->deliveries[0]->status, CRM__V1__DELIVERY_STATUS__DELIVERY_STATUS_SKIPPED);
    fx_free(log);
}

Test(notifier_handlers, rules_are_validated_with_the_offending_field)
{
    Crm__V1__NotifyTemplate t = CRM__V1__NOTIFY_TEMPLATE__INIT;
    t.id = "vip-thanks";
    t.locale = "en";
    t.subject = "Thank you, {{customer.name}";
    t.body = "Your {{event.purchase.amountMinor|money}} {{event.purchase.currency}} purchase is on its way.";
    Crm__V1__PutTemplateRequest treq = CRM__V1__PUT_TEMPLATE_REQUEST__INIT;
    treq.template_ = &t;
    cr_assert_eq(fx_call("notifier.PutTemplate", "admin", &treq.base, &crm__v1__template_reply__descriptor, NULL),
                 CRM_RPC_INVALID);
    cr_assert_str_eq(fx_last_field, "template.subject");
    t.subject = "Thank you, {{customer.name}}";
    cr_assert_eq(fx_call("notifier.PutTemplate", "admin", &treq.base, &crm__v1__template_reply__descriptor, NULL),
                 CRM_RPC_OK, "%s", fx_last_error);
    char *recipients[] = { "customer" };
    Crm__V1__NotifyRule rule = CRM__V1__NOTIFY_RULE__INIT;
    rule.id = "vip-purchase";
    rule.name = "VIP purchase";
    rule.event_type = "crm.contacts.purchase.recorded.v1";
    rule.condition = "customer.tier = \"gold\"";
    rule.template_id = "vip-thanks";
    rule.channel = CRM__V1__NOTIFY_CHANNEL__NOTIFY_CHANNEL_IN_APP;
    rule.n_recipients = 1;
    rule.recipients = recipients;
    Crm__V1__PutNotifyRuleRequest req = CRM__V1__PUT_NOTIFY_RULE_REQUEST__INIT;
    req.rule = &rule;
    cr_assert_eq(fx_call("notifier.PutRule", "admin", &req.base, &crm__v1__notify_rule_reply__descriptor, NULL),
                 CRM_RPC_INVALID);
    cr_assert_str_eq(fx_last_field, "rule.condition");
    cr_assert(strstr(fx_last_error, "at 15: use '==' to compare"), "%s", fx_last_error);
    rule.condition = "customer.tier == \"gold\" && event.purchase.amountMinor > 100000";
    rule.template_id = "no-such-template";
    cr_assert_eq(fx_call("notifier.PutRule", "admin", &req.base, &crm__v1__notify_rule_reply__descriptor, NULL),
                 CRM_RPC_INVALID);
    cr_assert_str_eq(fx_last_field, "rule.templateId");
    rule.template_id = "vip-thanks";
    recipients[0] = "webhook:erp";
    cr_assert_eq(fx_call("notifier.PutRule", "admin", &req.base, &crm__v1__notify_rule_reply__descriptor, NULL),
                 CRM_RPC_INVALID);
    cr_assert_str_eq(fx_last_field, "rule.recipients[0]");
    recipients[0] = "the boss";
    cr_assert_eq(fx_call("notifier.PutRule", "admin", &req.base, &crm__v1__notify_rule_reply__descriptor, NULL),
                 CRM_RPC_INVALID);
    recipients[0] = "customer";
    rule.time_of_day = "25:00";
    cr_assert_eq(fx_call("notifier.PutRule", "admin", &req.base, &crm__v1__notify_rule_reply__descriptor, NULL),
                 CRM_RPC_INVALID);
    cr_assert_str_eq(fx_last_field, "rule.timeOfDay");
    rule.time_of_day = "";
    rule.id = "_mine";
    cr_assert_eq(fx_call("notifier.PutRule", "admin", &req.base, &crm__v1__notify_rule_reply__descriptor, NULL),
                 CRM_RPC_INVALID);
    cr_assert_str_eq(fx_last_field, "rule.id");
    rule.id = "vip-purchase";
    cr_assert_eq(fx_call("notifier.PutRule", "agent", &req.base, &crm__v1__notify_rule_reply__descriptor, NULL),
                 CRM_RPC_FORBIDDEN);
    cr_assert_eq(fx_call("notifier.PutRule", "admin", &req.base, &crm__v1__notify_rule_reply__descriptor, NULL),
                 CRM_RPC_OK, "%s %s", fx_last_field, fx_last_error);
    /* The new rule applies at once: gold customers' large purchases land in their inbox. */
    char gold[CRM_ID_SIZE], plain[CRM_ID_SIZE];
    fx_new_id(gold);
    fx_new_id(plain);
    fx_customer(gold, "Gold", "g@example.com", "en", CRM__V1__CONSENT_STATE__CONSENT_STATE_GRANTED, NULL, NULL);
    fx_customer(plain, "Plain", "p@example.com", "en", CRM__V1__CONSENT_STATE__CONSENT_STATE_GRANTED, NULL, NULL);
    fx_tier(gold, "silver", "gold", CRM__V1__TIER_CHANGE__TIER_CHANGE_DOWNGRADE, NULL);   /* no email, but tier gold */
    const char *who[] = { gold, plain };
    for (size_t i = 0; i < 2; i++) {
        Crm__V1__Purchase p = CRM__V1__PURCHASE__INIT;
        p.id = "01J0000000000000000000000P";
        p.customer_id = (char *) who[i];
        p.amount_minor = 250000;
        p.currency = "CNY";
        Crm__V1__PurchaseRecorded pr = CRM__V1__PURCHASE_RECORDED__INIT;
        pr.purchase = &p;
        fx_event("crm.contacts.purchase.recorded.v1", who[i], &pr.base);
    }
    cr_assert_eq(fx_drain(), 0, "in-app messages are not network sends");
    Crm__V1__ListInboxRequest inbox = CRM__V1__LIST_INBOX_REQUEST__INIT;
    inbox.recipient_id = gold;
    Crm__V1__ListInboxReply *box = NULL;
    cr_assert_eq(fx_call("notifier.ListInbox", "integrator", &inbox.base, &crm__v1__list_inbox_reply__descriptor,
                         (ProtobufCMessage **) &box), CRM_RPC_OK);
    cr_assert_eq(box->n_messages, 1);
    cr_assert_eq(box->unread, 1);
    cr_assert_str_eq(box->messages[0]->subject, "Thank you, Gold");
    cr_assert_str_eq(box->messages[0]->body, "Your 2500.00 CNY purchase is on its way.");
    char message_id[CRM_ID_SIZE];
    snprintf(message_id, sizeof message_id, "%s", box->messages[0]->id);
    fx_free(box);
    inbox.recipient_id = plain;
    cr_assert_eq(fx_call("notifier.ListInbox", "integrator", &inbox.base, &crm__v1__list_inbox_reply__descriptor,
                         (ProtobufCMessage **) &box), CRM_RPC_OK);
    cr_assert_eq(box->n_messages, 0, "the condition did not hold");
    fx_free(box);
    Crm__V1__MarkReadRequest mark = CRM__V1__MARK_READ_REQUEST__INIT;
    mark.recipient_id = gold;
    mark.message_id = message_id;
    Crm__V1__MarkReadReply *marked = NULL;
    cr_assert_eq(fx_call("notifier.MarkRead", "integrator", &mark.base, &crm__v1__mark_read_reply__descriptor,
                         (ProtobufCMessage **) &marked), CRM_RPC_OK);
    cr_assert_eq(marked->marked, 1);
    cr_assert_eq(marked->unread, 0);
    fx_free(marked);
    inbox.recipient_id = gold;
    inbox.unread_only = true;
    cr_assert_eq(fx_call("notifier.ListInbox", "integrator", &inbox.base, &crm__v1__list_inbox_reply__descriptor,
                         (ProtobufCMessage **) &box), CRM_RPC_OK);
    cr_assert_eq(box->n_messages, 0);
    fx_free(box);
}

/* Puts webhook endpoint id at url with the test secret, and a rule sending customer.created there. */
static void s_webhook_rule(const char *id, const char *url)
{
    Crm__V1__WebhookEndpoint w = CRM__V1__WEBHOOK_ENDPOINT__INIT;
    w.id = (char *) id;
    w.url = (char *) url;
    w.secret = FX_SECRET;
    Crm__V1__PutWebhookRequest wreq = CRM__V1__PUT_WEBHOOK_REQUEST__INIT;
    wreq.webhook = &w;
    cr_assert_eq(fx_call("notifier.PutWebhook", "admin", &wreq.base, &crm__v1__webhook_reply__descriptor, NULL),
                 CRM_RPC_OK, "%s %s", fx_last_field, fx_last_error);
    char spec[96];
    snprintf(spec, sizeof spec, "webhook:%s", id);
    char *recipients[] = { spec };
    Crm__V1__NotifyRule rule = CRM__V1__NOTIFY_RULE__INIT;
    rule.id = "new-customer-to-erp";
    rule.event_type = "crm.contacts.customer.created.v1";
    rule.template_id = "birthday";
    rule.channel = CRM__V1__NOTIFY_CHANNEL__NOTIFY_CHANNEL_WEBHOOK;
    rule.n_recipients = 1;
    rule.recipients = recipients;
    Crm__V1__PutNotifyRuleRequest req = CRM__V1__PUT_NOTIFY_RULE_REQUEST__INIT;
    req.rule = &rule;
    cr_assert_eq(fx_call("notifier.PutRule", "admin", &req.base, &crm__v1__notify_rule_reply__descriptor, NULL),
                 CRM_RPC_OK, "%s %s", fx_last_field, fx_last_error);
}

Test(notifier_handlers, a_webhook_that_fails_twice_gets_the_message_on_the_third_try)
{
    crm_webhook_sink_t *sink = NULL;
    crm_webhook_sink_start(FX_SECRET, 2, &sink);
    s_webhook_rule("erp", crm_webhook_sink_url(sink));
    char id[CRM_ID_SIZE];
    fx_new_id(id);
    fx_customer(id, "Chen", "chen@example.com", "zh-CN", CRM__V1__CONSENT_STATE__CONSENT_STATE_GRANTED, NULL, NULL);
    cr_assert_eq(fx_drain(), 1);
    cr_assert_eq(fx_drain(), 0, "not yet due again");
    Crm__V1__ListDeliveriesReply *log = fx_deliveries(NULL, "new-customer-to-erp");
    cr_assert_eq(log->n_deliveries, 1);
    cr_assert_eq(log->deliveries[0]->status, CRM__V1__DELIVERY_STATUS__DELIVERY_STATUS_RETRYING);
    cr_assert_eq(log->deliveries[0]->attempts, 1);
    cr_assert(strstr(log->deliveries[0]->last_error, "500"), "%s", log->deliveries[0]->last_error);
    fx_free(log);
    fx.now += 1100 * 1000;   /* past the first backoff (at most 1 s) */
    cr_assert_eq(fx_drain(), 1);
    fx.now += 2100 * 1000;   /* past the second (at most 2 s) */
    cr_assert_eq(fx_drain(), 1);
    cr_assert_eq(crm_webhook_sink_count(sink), 3);
    log = fx_deliveries(NULL, "new-customer-to-erp");
    cr_assert_eq(log->deliveries[0]->status, CRM__V1__DELIVERY_STATUS__DELIVERY_STATUS_SENT);
    cr_assert_eq(log->deliveries[0]->attempts, 3);
    fx_free(log);
    /* The same message id every time; the third one verified. */
    crm_webhook_request_t first, third;
    cr_assert(crm_webhook_sink_get(sink, 0, &first));
    cr_assert(crm_webhook_sink_get(sink, 2, &third));
    cr_assert_str_eq(first.id, third.id);
    cr_assert(third.signature_ok);
    cr_assert_eq(third.status, 204);
    json_t *body = json_loads(third.body, 0, NULL);
    cr_assert_str_eq(json_string_value(json_object_get(body, "type")), "crm.contacts.customer.created.v1");
    cr_assert_str_eq(json_string_value(notifier_json_path(body, "data.customerId")), id);
    cr_assert_str_eq(json_string_value(notifier_json_path(body, "data.event.customer.name")), "Chen");
    json_decref(body);
    crm_webhook_request_clear(&first);
    crm_webhook_request_clear(&third);
    cr_assert_eq(fx_published(NOTIFIER_TYPE_FAILED), 2);
    cr_assert_eq(fx_published(NOTIFIER_TYPE_SENT), 1);
    crm_webhook_sink_stop(&sink);
}

Test(notifier_handlers, failures_past_the_last_attempt_are_dead_lettered_and_can_be_retried)
{
    fx.settings.max_attempts = 3;
    fx_restart();
    crm_webhook_sink_t *sink = NULL;
    crm_webhook_sink_start(FX_SECRET, 1000, &sink);
    s_webhook_rule("erp", crm_webhook_sink_url(sink));
    char id[CRM_ID_SIZE];
    fx_new_id(id);
    fx_customer(id, "Chen", "chen@example.com", "en", CRM__V1__CONSENT_STATE__CONSENT_STATE_GRANTED, NULL, NULL);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(fx_drain(), 1);
        fx.now += 20 * FX_SECOND;
    }
    cr_assert_eq(fx_drain(), 0);
    Crm__V1__ListDeliveriesRequest req = CRM__V1__LIST_DELIVERIES_REQUEST__INIT;
    req.status = CRM__V1__DELIVERY_STATUS__DELIVERY_STATUS_DEAD;
    Crm__V1__ListDeliveriesReply *dead = NULL;
    cr_assert_eq(fx_call("notifier.ListDeliveries", "admin", &req.base, &crm__v1__list_deliveries_reply__descriptor,
                         (ProtobufCMessage **) &dead), CRM_RPC_OK);
    cr_assert_eq(dead->n_deliveries, 1);
    cr_assert_eq(dead->deliveries[0]->attempts, 3);
    cr_assert(strstr(dead->deliveries[0]->last_error, "HTTP 500"), "%s", dead->deliveries[0]->last_error);
    char delivery[CRM_ID_SIZE];
    snprintf(delivery, sizeof delivery, "%s", dead->deliveries[0]->id);
    fx_free(dead);
    cr_assert_eq(fx_published(NOTIFIER_TYPE_DEAD), 1);
    cr_assert_eq(crm_webhook_sink_count(sink), 3);
    /* An admin sends it again once the receiver is mended. */
    crm_webhook_sink_stop(&sink);
    crm_webhook_sink_start(FX_SECRET, 0, &sink);
    s_webhook_rule("erp", crm_webhook_sink_url(sink));
    Crm__V1__RetryDeliveryRequest retry = CRM__V1__RETRY_DELIVERY_REQUEST__INIT;
    retry.id = delivery;
    cr_assert_eq(fx_call("notifier.RetryDelivery", "agent", &retry.base, &crm__v1__delivery_reply__descriptor, NULL),
                 CRM_RPC_FORBIDDEN);
    cr_assert_eq(fx_call("notifier.RetryDelivery", "admin", &retry.base, &crm__v1__delivery_reply__descriptor, NULL),
                 CRM_RPC_OK, "%s", fx_last_error);
    cr_assert_eq(fx_drain(), 1);
    cr_assert_eq(crm_webhook_sink_count(sink), 1);
    cr_assert_eq(fx_call("notifier.RetryDelivery", "admin", &retry.base, &crm__v1__delivery_reply__descriptor, NULL),
                 CRM_RPC_CONFLICT, "only dead letters");
    crm_webhook_sink_stop(&sink);
}

Test(notifier_handlers, webhooks_to_private_targets_are_refused_unless_allowed)
{
    fx.settings.allow_private = false;
    fx_restart();
    Crm__V1__WebhookEndpoint w = CRM__V1__WEBHOOK_ENDPOINT__INIT;
    w.id = "erp";
    w.url = "http://127.0.0.1:9/hook";
    Crm__V1__PutWebhookRequest req = CRM__V1__PUT_WEBHOOK_REQUEST__INIT;
    req.webhook = &w;
    cr_assert_eq(fx_call("notifier.PutWebhook", "admin", &req.base, &crm__v1__webhook_reply__descriptor, NULL),
                 CRM_RPC_INVALID);
    cr_assert_str_eq(fx_last_field, "webhook.url");
    cr_assert(strstr(fx_last_error, "private"), "%s", fx_last_error);
    w.url = "http://10.0.0.8/hook";
    cr_assert_eq(fx_call("notifier.PutWebhook", "admin", &req.base, &crm__v1__webhook_reply__descriptor, NULL),
                 CRM_RPC_INVALID);
    w.url = "https://8.8.8.8/hook";
    w.secret = "whsec_tooshort";
    cr_assert_eq(fx_call("notifier.PutWebhook", "admin", &req.base, &crm__v1__webhook_reply__descriptor, NULL),
                 CRM_RPC_INVALID);
    cr_assert_str_eq(fx_last_field, "webhook.secret");
    w.secret = "";
    Crm__V1__WebhookReply *rep = NULL;
    cr_assert_eq(fx_call("notifier.PutWebhook", "admin", &req.base, &crm__v1__webhook_reply__descriptor,
                         (ProtobufCMessage **) &rep), CRM_RPC_OK, "%s", fx_last_error);
    cr_assert_eq(strncmp(rep->webhook->secret, "whsec_", 6), 0, "a secret is made: %s", rep->webhook->secret);
    cr_assert_gt(strlen(rep->webhook->secret), 40);
    fx_free(rep);
    Crm__V1__ListWebhooksRequest list = CRM__V1__LIST_WEBHOOKS_REQUEST__INIT;
    Crm__V1__ListWebhooksReply *all = NULL;
    cr_assert_eq(fx_call("notifier.ListWebhooks", "admin", &list.base, &crm__v1__list_webhooks_reply__descriptor,
                         (ProtobufCMessage **) &all), CRM_RPC_OK);
    cr_assert_eq(all->n_webhooks, 1);
    cr_assert_eq(strlen(all->webhooks[0]->secret), NOTIFIER_SECRET_SHOWN, "a listing shows only the start");
    fx_free(all);
}

Test(notifier_handlers, a_daily_cap_skips_what_goes_over)
{
    char *recipients[] = { "customer" };
    Crm__V1__NotifyRule rule = CRM__V1__NOTIFY_RULE__INIT;
    rule.id = "interaction-thanks";
    rule.event_type = "crm.contacts.interaction.logged.v1";
    rule.template_id = "birthday";
    rule.channel = CRM__V1__NOTIFY_CHANNEL__NOTIFY_CHANNEL_EMAIL;
    rule.n_recipients = 1;
    rule.recipients = recipients;
    rule.daily_cap = 1;
    Crm__V1__PutNotifyRuleRequest req = CRM__V1__PUT_NOTIFY_RULE_REQUEST__INIT;
    req.rule = &rule;
    cr_assert_eq(fx_call("notifier.PutRule", "admin", &req.base, &crm__v1__notify_rule_reply__descriptor, NULL),
                 CRM_RPC_OK, "%s", fx_last_error);
    char id[CRM_ID_SIZE];
    fx_new_id(id);
    fx_customer(id, "Dan", "dan@example.com", "en", CRM__V1__CONSENT_STATE__CONSENT_STATE_GRANTED, NULL, NULL);
    for (int i = 0; i < 3; i++) {
        Crm__V1__Interaction in = CRM__V1__INTERACTION__INIT;
        in.customer_id = id;
        Crm__V1__InteractionLogged il = CRM__V1__INTERACTION_LOGGED__INIT;
        il.interaction = &in;
        fx_event("crm.contacts.interaction.logged.v1", id, &il.base);
    }
    cr_assert_eq(fx_drain(), 1);
    Crm__V1__ListDeliveriesReply *log = fx_deliveries(id, "interaction-thanks");
    cr_assert_eq(log->n_deliveries, 3);
    unsigned capped = 0;
    for (size_t i = 0; i < log->n_deliveries; i++)
        capped += strcmp(log->deliveries[i]->skip_reason, "daily_cap") == 0;
    cr_assert_eq(capped, 2);
    fx_free(log);
    fx.now += FX_DAY;
    Crm__V1__Interaction in = CRM__V1__INTERACTION__INIT;
    in.customer_id = id;
    Crm__V1__InteractionLogged il = CRM__V1__INTERACTION_LOGGED__INIT;
    il.interaction = &in;
    fx_event("crm.contacts.interaction.logged.v1", id, &il.base);
    cr_assert_eq(fx_drain(), 1, "a new day");
}

Test(notifier_handlers, complaint_escalations_reach_the_team_lead_and_then_the_admins)
{
    fx_staff("lead-care", "Lin (lead)", "lin@example.com", "care", true, false);
    fx_staff("lead-sales", "Sam (lead)", "sam@example.com", "sales", true, false);
    fx_staff("boss", "Bea (admin)", "bea@example.com", NULL, false, true);
    char id[CRM_ID_SIZE];
    fx_new_id(id);
    fx_customer(id, "周杰", "zhou@example.com", "zh-CN", CRM__V1__CONSENT_STATE__CONSENT_STATE_UNSPECIFIED, NULL, NULL);
    Crm__V1__Complaint c = CRM__V1__COMPLAINT__INIT;
    c.id = "01J0000000000000000000000Q";
    c.customer_id = id;
    c.subject = "Late delivery";
    c.team = "care";
    c.priority = CRM__V1__PRIORITY__PRIORITY_URGENT;
    Crm__V1__ComplaintEscalated e = CRM__V1__COMPLAINT_ESCALATED__INIT;
    e.complaint = &c;
    e.level = 1;
    e.team = "care";
    fx_event("crm.feedback.complaint.escalated.v1", id, &e.base);
    cr_assert_eq(fx_drain(), 1);
    crm_smtp_message_t m;
    cr_assert(crm_smtp_sink_get(fx.smtp, 0, &m));
    cr_assert_str_eq(m.to[0], "lin@example.com", "the lead of the complaint's team");
    cr_assert_str_eq(m.subject, "Complaint escalated (level 1): Late delivery");
    crm_smtp_message_clear(&m);
    e.level = 2;
    fx_event("crm.feedback.complaint.escalated.v1", id, &e.base);
    cr_assert_eq(fx_drain(), 2, "the lead and the admin");
    bool lead = false, admin = false;
    for (size_t i = 1; i < 3; i++) {
        cr_assert(crm_smtp_sink_get(fx.smtp, i, &m));
        lead |= strcmp(m.to[0], "lin@example.com") == 0;
        admin |= strcmp(m.to[0], "bea@example.com") == 0;
        crm_smtp_message_clear(&m);
    }
    cr_assert(lead && admin);
}

Test(notifier_handlers, an_erasure_scrubs_the_log_and_tells_the_admins)
{
    fx_staff("boss", "Bea", "bea@example.com", NULL, false, true);
    char id[CRM_ID_SIZE];
    fx_new_id(id);
    fx_customer(id, "Zoe Quill", "zoe@example.com", "en", CRM__V1__CONSENT_STATE__CONSENT_STATE_GRANTED, NULL, NULL);
    fx_tier(id, "bronze", "silver", CRM__V1__TIER_CHANGE__TIER_CHANGE_UPGRADE, NULL);
    cr_assert_eq(fx_drain(), 1);
    Crm__V1__CustomerErased erased = CRM__V1__CUSTOMER_ERASED__INIT;
    erased.customer_id = id;
    fx_event("crm.contacts.customer.erased.v1", id, &erased.base);
    Crm__V1__ListDeliveriesReply *log = fx_deliveries(id, NULL);
    cr_assert_eq(log->n_deliveries, 2, "the upgrade, and the admin's notice of the erasure");
    for (size_t i = 0; i < log->n_deliveries; i++) {
        if (strcmp(log->deliveries[i]->rule_id, "customer-erased") == 0)
            continue;   /* made after the erasure, without personal data */
        cr_assert_str_eq(log->deliveries[i]->subject, "");
        cr_assert_str_eq(log->deliveries[i]->body, "");
        cr_assert_eq(strstr(log->deliveries[i]->address, "zoe"), NULL);
    }
    fx_free(log);
    cr_assert_eq(fx_drain(), 1, "the admins hear of it");
    crm_smtp_message_t m;
    cr_assert(crm_smtp_sink_get(fx.smtp, 1, &m));
    cr_assert_str_eq(m.to[0], "bea@example.com");
    cr_assert(strstr(m.subject, id), "%s", m.subject);
    cr_assert_eq(strstr(m.body, "Zoe"), NULL, "no personal data in it");
    crm_smtp_message_clear(&m);
    /* Nothing more goes to the erased customer. */
    fx_tier(id, "silver", "gold", CRM__V1__TIER_CHANGE__TIER_CHANGE_UPGRADE, NULL);
    cr_assert_eq(fx_drain(), 0);
}

Test(notifier_handlers, an_event_waits_for_its_customer)
{
    char id[CRM_ID_SIZE];
    fx_new_id(id);
    /* Loyalty's event arrives before contacts' (two publishers, no order between them). */
    fx_tier(id, "bronze", "silver", CRM__V1__TIER_CHANGE__TIER_CHANGE_UPGRADE, NULL);
    cr_assert_eq(fx_drain(), 0);
    fx_customer(id, "Fay", "fay@example.com", "en", CRM__V1__CONSENT_STATE__CONSENT_STATE_GRANTED, NULL, NULL);
    cr_assert_eq(fx_drain(), 1, "released when the customer became known");
    crm_smtp_message_t m;
    cr_assert(crm_smtp_sink_get(fx.smtp, 0, &m));
    cr_assert_str_eq(m.to[0], "fay@example.com");
    cr_assert_str_eq(m.subject, "Congratulations, you are now a Silver member");
    crm_smtp_message_clear(&m);
    /* One that never shows up is applied without after the wait. */
    char ghost[CRM_ID_SIZE];
    fx_new_id(ghost);
    fx_tier(ghost, "bronze", "silver", CRM__V1__TIER_CHANGE__TIER_CHANGE_UPGRADE, NULL);
    fx_tick();
    Crm__V1__ListDeliveriesReply *none = fx_deliveries(ghost, NULL);
    cr_assert_eq(none->n_deliveries, 0);
    fx_free(none);
    fx.now += fx.settings.park_us + FX_SECOND;
    fx_tick();
    Crm__V1__ListDeliveriesReply *log = fx_deliveries(ghost, NULL);
    cr_assert_eq(log->n_deliveries, 1);
    cr_assert_str_eq(log->deliveries[0]->skip_reason, "unknown_customer");
    fx_free(log);
}
