/* test_notifier_api.c: the notifier through real processes (contacts, loyalty, notifier, gateway) with a real SMTP server and webhook receiver on loopback: a Chinese tier-upgrade email, no email without consent, a webhook delivered on the third try, a reminder due while stopped, a birthday greeting once. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crm_smtp_sink.h"
#include "crm_suite.h"
#include "crm_time.h"
#include "crm_webhook_sink.h"

#define ADMIN CRM_SUITE_ADMIN_KEY
#define WAIT_MS 30000                 /* contacts -> loyalty -> notifier -> SMTP, under the sanitizers */
#define QUIET_MS 1500                 /* how long "nothing more arrives" is watched */
#define POLL_MS 50
#define SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

static crm_suite_t suite;
static crm_smtp_sink_t *smtp;
static crm_webhook_sink_t *hook;

static void s_env(const char *name, const char *value)
{
    size_t n = 0;
    while (suite.env[n])
        n++;
    cr_assert_lt(n, CRM_SUITE_ENV_MAX);
    snprintf(suite.env_text[n], CRM_SUITE_ENV_SIZE, "%s=%s", name, value);
    suite.env[n] = suite.env_text[n];
    suite.env[n + 1] = NULL;
}

static void s_setup(void)
{
    crm_smtp_sink_start(&smtp);
    crm_webhook_sink_start(SECRET, 2, &hook);
    crm_suite_init(&suite);
    char url[64];
    snprintf(url, sizeof url, "smtp://127.0.0.1:%d", crm_smtp_sink_port(smtp));
    s_env("CRM_NOTIFIER_SMTP_URL", url);
    s_env("CRM_NOTIFIER_SMTP_FROM", "crm@example.com");
    s_env("CRM_NOTIFIER_SMTP_FROM_NAME", "会员中心");
    s_env("CRM_NOTIFIER_ALLOW_PRIVATE_TARGETS", "1");   /* the receiver is on loopback */
    s_env("CRM_NOTIFIER_RETRY_BASE", "200ms");
    s_env("CRM_NOTIFIER_RETRY_MAX_DELAY", "1s");
    s_env("CRM_NOTIFIER_TICK", "100ms");
    crm_suite_start(&suite, CRM_SVC_CONTACTS);
    crm_suite_start(&suite, CRM_SVC_LOYALTY);
    crm_suite_start(&suite, CRM_SVC_NOTIFIER);
    crm_suite_start(&suite, CRM_SVC_GATEWAY);
}

static void s_teardown(void)
{
    crm_suite_destroy(&suite);
    crm_webhook_sink_stop(&hook);
    crm_smtp_sink_stop(&smtp);
    crm_test_check_leaks();
}

TestSuite(notifier_api, .init = s_setup, .fini = s_teardown, .timeout = 120);

static const char *s_str(json_t *obj, const char *key)
{
    const char *v = json_string_value(json_object_get(obj, key));
    return v ? v : "";
}

/* Sends method path with body as admin; asserts status; returns the answer's JSON (caller decrefs). */
static json_t *s_call(const char *method, const char *path, const char *body, long status)
{
    return crm_suite_call(&suite, method, path, ADMIN, body, status);
}

/* Creates a customer from its JSON; writes its id (size 32). */
static void s_customer(const char *body, char *id)
{
    json_t *c = s_call("POST", "/v1/contacts", body, 201);
    snprintf(id, 32, "%s", s_str(c, "id"));
    json_decref(c);
    cr_assert(id[0]);
}

static void s_purchase(const char *id, const char *order, long long amount_minor)
{
    char path[128], body[256];
    snprintf(path, sizeof path, "/v1/contacts/%s/purchases", id);
    snprintf(body, sizeof body, "{\"orderId\":\"%s\",\"amountMinor\":\"%lld\",\"currency\":\"CNY\"}", order, amount_minor);
    json_decref(s_call("POST", path, body, 201));
}

/* Polls the customer's delivery log until a delivery of rule has status; returns it (caller
 * decrefs). */
static json_t *s_wait_delivery(const char *path, const char *rule, const char *status)
{
    long long deadline = crm_test_now_ms() + WAIT_MS;
    while (crm_test_now_ms() < deadline) {
        json_t *log = s_call("GET", path, NULL, 200);
        json_t *list = json_object_get(log, "deliveries");
        for (size_t i = 0; i < json_array_size(list); i++) {
            json_t *d = json_array_get(list, i);
            if (strcmp(s_str(d, "ruleId"), rule) == 0 && strcmp(s_str(d, "status"), status) == 0) {
                json_incref(d);
                json_decref(log);
                return d;
            }
        }
        json_decref(log);
        usleep(POLL_MS * 1000);
    }
    cr_assert_fail("no %s delivery of rule %s at %s", status, rule, path);
    return NULL;
}

Test(notifier_api, a_tier_upgrade_sends_one_email_with_the_name_and_tier_in_chinese)
{
    char id[32];
    s_customer("{\"name\":\"张伟\",\"email\":\"zhang.wei@example.com\",\"locale\":\"zh-CN\","
               "\"consent\":{\"email\":\"granted\"}}",
               id);
    /* Silver: 1,000.00 CNY and 2 purchases in the rolling window. */
    s_purchase(id, "order-zw-1", 60000);
    s_purchase(id, "order-zw-2", 60000);
    cr_assert(crm_smtp_sink_wait(smtp, 1, WAIT_MS), "no email arrived");
    crm_smtp_message_t m;
    cr_assert(crm_smtp_sink_get(smtp, 0, &m));
    cr_assert_str_eq(m.from, "crm@example.com");
    cr_assert_eq(m.n_to, 1);
    cr_assert_str_eq(m.to[0], "zhang.wei@example.com");
    cr_assert_str_eq(m.subject, "恭喜您升级为白银会员");
    cr_assert(strstr(m.body, "张伟，您好！"), "%s", m.body);
    cr_assert(strstr(m.body, "恭喜您成为我们的白银会员"), "%s", m.body);
    cr_assert(strstr(m.data, "From: =?UTF-8?B?"), "the display name is encoded: %s", m.data);
    crm_smtp_message_clear(&m);
    usleep(QUIET_MS * 1000);
    cr_assert_eq(crm_smtp_sink_count(smtp), 1, "exactly one email");
    char path[128];
    snprintf(path, sizeof path, "/v1/contacts/%s/notifications", id);
    json_t *d = s_wait_delivery(path, "tier-upgrade", "sent");
    cr_assert_str_eq(s_str(d, "channel"), "email");
    cr_assert_str_eq(s_str(d, "locale"), "zh-CN");
    char recipient[64];
    snprintf(recipient, sizeof recipient, "customer:%s", id);
    cr_assert_str_eq(s_str(d, "recipient"), recipient);
    cr_assert_eq(json_integer_value(json_object_get(d, "attempts")), 1);
    json_decref(d);
}

Test(notifier_api, a_customer_without_email_consent_gets_none_and_the_skip_is_queryable)
{
    char id[32];
    s_customer("{\"name\":\"李娜\",\"email\":\"li.na@example.com\",\"locale\":\"zh-CN\"}", id);
    s_purchase(id, "order-ln-1", 60000);
    s_purchase(id, "order-ln-2", 60000);
    char path[128];
    snprintf(path, sizeof path, "/v1/contacts/%s/notifications?status=skipped", id);
    json_t *d = s_wait_delivery(path, "tier-upgrade", "skipped");
    cr_assert_str_eq(s_str(d, "skipReason"), "no_consent");
    json_decref(d);
    usleep(QUIET_MS * 1000);
    cr_assert_eq(crm_smtp_sink_count(smtp), 0, "no email");
}

Test(notifier_api, a_webhook_receiver_that_fails_twice_gets_the_message_on_the_third_try)
{
    char body[512];
    snprintf(body, sizeof body, "{\"id\":\"erp\",\"url\":\"%s\",\"secret\":\"%s\"}", crm_webhook_sink_url(hook), SECRET);
    json_decref(s_call("POST", "/v1/notifier/webhooks", body, 200));
    json_decref(s_call("POST", "/v1/notifier/rules",
                       "{\"id\":\"new-customer-to-erp\",\"name\":\"New customers to the ERP\","
                       "\"eventType\":\"crm.contacts.customer.created.v1\",\"templateId\":\"birthday\","
                       "\"channel\":\"webhook\",\"recipients\":[\"webhook:erp\"]}",
                       200));
    char id[32];
    s_customer("{\"name\":\"Chen Jie\",\"email\":\"chen@example.com\",\"locale\":\"en\"}", id);
    cr_assert(crm_webhook_sink_wait(hook, 3, WAIT_MS), "three tries expected, %zu seen", crm_webhook_sink_count(hook));
    crm_webhook_request_t r[3];
    for (size_t i = 0; i < 3; i++)
        cr_assert(crm_webhook_sink_get(hook, i, &r[i]));
    cr_assert_eq(r[0].status, 500);
    cr_assert_eq(r[1].status, 500);
    cr_assert_eq(r[2].status, 204);
    cr_assert(r[2].signature_ok, "the third signature verifies: %s", r[2].signature);
    cr_assert_str_eq(r[0].id, r[2].id, "the same webhook-id on every try");
    json_t *payload = json_loads(r[2].body, 0, NULL);
    cr_assert_str_eq(s_str(payload, "type"), "crm.contacts.customer.created.v1");
    cr_assert_str_eq(s_str(json_object_get(payload, "data"), "customerId"), id);
    json_decref(payload);
    for (size_t i = 0; i < 3; i++)
        crm_webhook_request_clear(&r[i]);
    json_t *d = s_wait_delivery("/v1/notifier/deliveries?ruleId=new-customer-to-erp", "new-customer-to-erp", "sent");
    cr_assert_eq(json_integer_value(json_object_get(d, "attempts")), 3);
    json_decref(d);
    usleep(QUIET_MS * 1000);
    cr_assert_eq(crm_webhook_sink_count(hook), 3, "no fourth try");
}

Test(notifier_api, a_reminder_due_while_the_service_was_stopped_fires_once_after_it_restarts)
{
    json_decref(s_call("POST", "/v1/notifier/staff",
                       "{\"id\":\"alice\",\"name\":\"Alice Wang\",\"email\":\"alice@example.com\",\"teams\":[\"care\"]}",
                       200));
    char id[32];
    s_customer("{\"name\":\"钱多多\",\"email\":\"qian@example.com\",\"owner\":\"alice\"}", id);
    char due[CRM_TIME_TEXT_MAX], path[128], body[512];
    crm_time_format_us(crm_time_now_us() + 3 * 1000000, due, sizeof due);
    snprintf(path, sizeof path, "/v1/contacts/%s/reminders", id);
    snprintf(body, sizeof body,
             "{\"dueAt\":\"%s\",\"kind\":\"contract_expiry\",\"note\":\"合同6月30日到期，请联系续约\","
             "\"requestId\":\"r-1\"}",
             due);
    json_t *reminder = s_call("POST", path, body, 201);
    cr_assert_str_eq(s_str(reminder, "status"), "pending");
    json_decref(reminder);
    crm_suite_stop(&suite, CRM_SVC_NOTIFIER, SIGTERM);
    sleep(4);   /* the reminder falls due while the notifier is down */
    cr_assert_eq(crm_smtp_sink_count(smtp), 0);
    crm_suite_start(&suite, CRM_SVC_NOTIFIER);
    cr_assert(crm_smtp_sink_wait(smtp, 1, WAIT_MS), "the reminder did not fire after the restart");
    crm_smtp_message_t m;
    cr_assert(crm_smtp_sink_get(smtp, 0, &m));
    cr_assert_str_eq(m.to[0], "alice@example.com", "the account owner");
    cr_assert(strstr(m.body, "合同6月30日到期，请联系续约"), "%s", m.body);
    cr_assert(strstr(m.subject, "钱多多"), "%s", m.subject);
    crm_smtp_message_clear(&m);
    crm_suite_stop(&suite, CRM_SVC_NOTIFIER, SIGTERM);
    crm_suite_start(&suite, CRM_SVC_NOTIFIER);
    usleep(QUIET_MS * 1000);
    cr_assert_eq(crm_smtp_sink_count(smtp), 1, "once");
    snprintf(path, sizeof path, "/v1/contacts/%s/reminders?includeDone=true", id);
    json_t *list = s_call("GET", path, NULL, 200);
    json_t *first = json_array_get(json_object_get(list, "reminders"), 0);
    cr_assert_str_eq(s_str(first, "status"), "fired");
    cr_assert(s_str(first, "firedAt")[0]);
    json_decref(list);
}

Test(notifier_api, a_birthday_greeting_goes_out_once_on_the_day)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    int year = tm.tm_mon == 1 && tm.tm_mday == 29 ? 1992 : 1990;   /* 29 February needs a leap year */
    char body[512];
    snprintf(body, sizeof body,
             "{\"name\":\"孙丽\",\"email\":\"sun.li@example.com\",\"locale\":\"zh-CN\","
             "\"consent\":{\"email\":\"granted\"},\"birthday\":\"%d-%02d-%02d\"}",
             year, tm.tm_mon + 1, tm.tm_mday);
    char id[32];
    s_customer(body, id);
    cr_assert(crm_smtp_sink_wait(smtp, 1, WAIT_MS), "no birthday greeting");
    crm_smtp_message_t m;
    cr_assert(crm_smtp_sink_get(smtp, 0, &m));
    cr_assert_str_eq(m.to[0], "sun.li@example.com");
    cr_assert_str_eq(m.subject, "孙丽，生日快乐！");
    crm_smtp_message_clear(&m);
    /* A restart runs the day's calendar again: still one greeting. */
    crm_suite_stop(&suite, CRM_SVC_NOTIFIER, SIGTERM);
    crm_suite_start(&suite, CRM_SVC_NOTIFIER);
    usleep(QUIET_MS * 1000);
    cr_assert_eq(crm_smtp_sink_count(smtp), 1, "once on the day");
    char path[128];
    snprintf(path, sizeof path, "/v1/contacts/%s/notifications", id);
    json_t *d = s_wait_delivery(path, "birthday", "sent");
    json_decref(d);
}
