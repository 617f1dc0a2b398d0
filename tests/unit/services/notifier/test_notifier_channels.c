/* test_notifier_channels.c: the channels against real servers on loopback: SMTP to the test sink, signed webhooks and SMS to the test receiver; failures, refusals and stopping. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "crm_error.h"
#include "crm_smtp_sink.h"
#include "crm_test.h"
#include "crm_webhook_sink.h"
#include "notifier_channels.h"
#include "notifier_webhook.h"

#define SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define WRONG_SECRET "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
#define WAIT_MS 5000

static notifier_settings_t settings;
static atomic_bool no_stop;

static void s_setup(void)
{
    cr_assert(sodium_init() >= 0);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    notifier_settings_default(&settings);
    settings.send_timeout_us = 5 * 1000000;
    atomic_init(&no_stop, false);
}

static void s_teardown(void)
{
    curl_global_cleanup();
    crm_test_check_leaks();
}

TestSuite(notifier_channels, .init = s_setup, .fini = s_teardown, .timeout = 60);

static int64_t s_now(void)
{
    return (int64_t) time(NULL) * 1000000;
}

Test(notifier_channels, mail_is_composed_with_encoded_headers_and_a_base64_body)
{
    char *mail = NULL;
    cr_assert_eq(notifier_mail_compose("crm@example.com", "会员中心", "zhang@example.com", "恭喜您升级为白银会员",
                                       "张伟，您好！\n第二行", "01J0000000000000000000000Z", INT64_C(1773144000) * 1000000,
                                       &mail), 0);
    cr_assert(strstr(mail, "Date: Tue, 10 Mar 2026 12:00:00 +0000\r\n"), "%s", mail);
    cr_assert(strstr(mail, "From: =?UTF-8?B?"), "%s", mail);
    cr_assert(strstr(mail, "To: zhang@example.com\r\n"));
    cr_assert(strstr(mail, "Subject: =?UTF-8?B?"));
    cr_assert(strstr(mail, "Message-ID: <01J0000000000000000000000Z@crm-notifier>\r\n"));
    cr_assert(strstr(mail, "Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n"));
    /* No header line is longer than 78 characters, however long the subject. */
    char long_subject[400] = "";
    for (int i = 0; i < 30; i++)
        strcat(long_subject, "恭喜");
    free(mail);
    cr_assert_eq(notifier_mail_compose("a@b.c", "", "d@e.f", long_subject, "x", "id", 0, &mail), 0);
    for (const char *line = mail; *line;) {
        const char *end = strstr(line, "\r\n");
        cr_assert(end);
        cr_assert_leq(end - line, 78, "a header line of %ld characters", (long) (end - line));
        line = end + 2;
    }
    free(mail);
    cr_assert_eq(notifier_mail_compose("a@b.c", "", "d@e.f", "two\r\nlines", "x", "id", 0, &mail), CRM_EINVALID,
                 "no header injection");
}

Test(notifier_channels, an_email_reaches_the_smtp_server_whole)
{
    crm_smtp_sink_t *sink = NULL;
    crm_smtp_sink_start(&sink);
    snprintf(settings.smtp_url, sizeof settings.smtp_url, "smtp://127.0.0.1:%d", crm_smtp_sink_port(sink));
    snprintf(settings.smtp_from, sizeof settings.smtp_from, "crm@example.com");
    char why[256];
    int rc = notifier_send_email(&settings, &no_stop, "01J0000000000000000000000A", "zhang@example.com",
                                 "恭喜您升级为白银会员", "张伟，您好！\n.点开头的一行\n", s_now(), why, sizeof why);
    cr_assert_eq(rc, 0, "%s", why);
    cr_assert(crm_smtp_sink_wait(sink, 1, WAIT_MS));
    crm_smtp_message_t m;
    cr_assert(crm_smtp_sink_get(sink, 0, &m));
    cr_assert_str_eq(m.from, "crm@example.com");
    cr_assert_eq(m.n_to, 1);
    cr_assert_str_eq(m.to[0], "zhang@example.com");
    cr_assert_str_eq(m.subject, "恭喜您升级为白银会员");
    cr_assert_str_eq(m.body, "张伟，您好！\n.点开头的一行\n");
    crm_smtp_message_clear(&m);
    crm_smtp_sink_stop(&sink);
}

Test(notifier_channels, email_failures_are_told_apart)
{
    char why[256];
    settings.smtp_url[0] = '\0';
    cr_assert_eq(notifier_send_email(&settings, &no_stop, "id", "a@b.c", "s", "b", s_now(), why, sizeof why),
                 CRM_EINVALID);
    cr_assert(strstr(why, "CRM_NOTIFIER_SMTP_URL"), "%s", why);
    /* Nobody listens: retry later. */
    snprintf(settings.smtp_url, sizeof settings.smtp_url, "smtp://127.0.0.1:%d", crm_test_free_port());
    cr_assert_eq(notifier_send_email(&settings, &no_stop, "id", "a@b.c", "s", "b", s_now(), why, sizeof why),
                 CRM_EUNAVAIL, "%s", why);
}

typedef struct {
    atomic_bool *stop;
    int delay_ms;
} s_stopper_t;

static void *s_stopper(void *arg)
{
    s_stopper_t *s = arg;
    usleep((useconds_t) s->delay_ms * 1000);
    atomic_store(s->stop, true);
    return NULL;
}

Test(notifier_channels, a_send_in_progress_gives_up_when_asked_to_stop)
{
    /* A server that accepts connections (the backlog does) but never greets. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof sa;
    cr_assert_eq(bind(fd, (struct sockaddr *) &sa, sizeof sa), 0);
    cr_assert_eq(listen(fd, 4), 0);
    getsockname(fd, (struct sockaddr *) &sa, &len);
    snprintf(settings.smtp_url, sizeof settings.smtp_url, "smtp://127.0.0.1:%d", ntohs(sa.sin_port));
    settings.send_timeout_us = 30 * 1000000;
    atomic_bool stop;
    atomic_init(&stop, false);
    s_stopper_t stopper = { &stop, 300 };
    pthread_t t;
    pthread_create(&t, NULL, s_stopper, &stopper);
    long long start = crm_test_now_ms();
    char why[256];
    int rc = notifier_send_email(&settings, &stop, "id", "a@b.c", "s", "b", s_now(), why, sizeof why);
    long long took = crm_test_now_ms() - start;
    pthread_join(t, NULL);
    close(fd);
    cr_assert_eq(rc, CRM_EINTERRUPT, "%d %s", rc, why);
    cr_assert_lt(took, 5000, "stopping took %lld ms", took);
}

Test(notifier_channels, a_webhook_is_signed_and_a_failure_is_retryable)
{
    crm_webhook_sink_t *sink = NULL;
    crm_webhook_sink_start(SECRET, 1, &sink);
    settings.allow_private = true;
    char why[256];
    const char *body = "{\"type\":\"crm.loyalty.tier.changed.v1\",\"data\":{\"toTier\":\"silver\"}}";
    int rc = notifier_send_webhook(&settings, &no_stop, crm_webhook_sink_url(sink), SECRET, "msg_1", body, s_now(),
                                   why, sizeof why);
    cr_assert_eq(rc, CRM_EUNAVAIL, "the first answer is 500: %s", why);
    rc = notifier_send_webhook(&settings, &no_stop, crm_webhook_sink_url(sink), SECRET, "msg_1", body, s_now(), why,
                               sizeof why);
    cr_assert_eq(rc, 0, "%s", why);
    crm_webhook_request_t r;
    cr_assert(crm_webhook_sink_get(sink, 1, &r));
    cr_assert_str_eq(r.id, "msg_1");
    cr_assert(r.signature_ok, "signature %s over %s.%s", r.signature, r.id, r.timestamp);
    cr_assert_str_eq(r.body, body);
    cr_assert_str_eq(r.content_type, "application/json");
    crm_webhook_request_clear(&r);
    /* Signed with another secret, the receiver refuses it (401): a failure for good. */
    rc = notifier_send_webhook(&settings, &no_stop, crm_webhook_sink_url(sink), WRONG_SECRET, "msg_2", body, s_now(),
                               why, sizeof why);
    cr_assert_eq(rc, CRM_EINVALID, "%s", why);
    cr_assert(crm_webhook_sink_get(sink, 2, &r));
    cr_assert_not(r.signature_ok);
    crm_webhook_request_clear(&r);
    crm_webhook_sink_stop(&sink);
}

Test(notifier_channels, private_targets_are_refused_on_the_address_connected_to)
{
    crm_webhook_sink_t *sink = NULL;
    crm_webhook_sink_start(SECRET, 0, &sink);
    settings.allow_private = false;
    char why[256], url[128];
    int rc = notifier_send_webhook(&settings, &no_stop, crm_webhook_sink_url(sink), SECRET, "m", "{}", s_now(), why,
                                   sizeof why);
    cr_assert_eq(rc, CRM_EDENIED, "%s", why);
    snprintf(url, sizeof url, "http://localhost:%d/hook", crm_webhook_sink_port(sink));
    rc = notifier_send_webhook(&settings, &no_stop, url, SECRET, "m", "{}", s_now(), why, sizeof why);
    cr_assert_eq(rc, CRM_EDENIED, "%s", why);
    /* 127.0.0.1 written as one number: refused on the resolved address. */
    snprintf(url, sizeof url, "http://2130706433:%d/hook", crm_webhook_sink_port(sink));
    rc = notifier_send_webhook(&settings, &no_stop, url, SECRET, "m", "{}", s_now(), why, sizeof why);
    cr_assert_eq(rc, CRM_EDENIED, "%s", why);
    cr_assert_eq(crm_webhook_sink_count(sink), 0, "nothing reached the receiver");
    crm_webhook_sink_stop(&sink);
}

Test(notifier_channels, an_sms_goes_to_the_gateway_as_json)
{
    crm_webhook_sink_t *sink = NULL;
    crm_webhook_sink_start(NULL, 0, &sink);
    snprintf(settings.sms_url, sizeof settings.sms_url, "%s", crm_webhook_sink_url(sink));
    snprintf(settings.sms_token, sizeof settings.sms_token, "sms-token-1");
    char why[256];
    cr_assert_eq(notifier_send_sms(&settings, &no_stop, "msg_9", "+8613800000000", "您的积分即将过期", why, sizeof why), 0,
                 "%s", why);
    crm_webhook_request_t r;
    cr_assert(crm_webhook_sink_get(sink, 0, &r));
    cr_assert_str_eq(r.authorization, "Bearer sms-token-1");
    json_t *json = json_loads(r.body, 0, NULL);
    cr_assert_str_eq(json_string_value(json_object_get(json, "to")), "+8613800000000");
    cr_assert_str_eq(json_string_value(json_object_get(json, "text")), "您的积分即将过期");
    json_decref(json);
    crm_webhook_request_clear(&r);
    settings.sms_url[0] = '\0';
    cr_assert_eq(notifier_send_sms(&settings, &no_stop, "m", "+1", "x", why, sizeof why), CRM_EINVALID);
    crm_webhook_sink_stop(&sink);
    cr_assert_eq(notifier_http_outcome(204), 0);
    cr_assert_eq(notifier_http_outcome(429), CRM_EUNAVAIL);
    cr_assert_eq(notifier_http_outcome(408), CRM_EUNAVAIL);
    cr_assert_eq(notifier_http_outcome(503), CRM_EUNAVAIL);
    cr_assert_eq(notifier_http_outcome(404), CRM_EINVALID);
}
