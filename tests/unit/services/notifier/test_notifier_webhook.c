/* test_notifier_webhook.c: Standard Webhooks signatures (the specification's own test vector), secrets, URLs, and the refusal of private and loopback targets. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <sodium.h>
#include <string.h>

#include "crm_error.h"
#include "crm_test.h"
#include "notifier_webhook.h"

static void s_setup(void)
{
    cr_assert(sodium_init() >= 0);
}

static void s_teardown(void)
{
    crm_test_check_leaks();
}

TestSuite(notifier_webhook, .init = s_setup, .fini = s_teardown);

/* The published test vector of the Standard Webhooks reference libraries (and Svix's). */
#define VECTOR_SECRET    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define VECTOR_ID        "msg_p5jXN8AQM9LWM0D4loKWxJek"
#define VECTOR_TIMESTAMP 1614265330
#define VECTOR_BODY      "{\"test\": 2432232314}"
#define VECTOR_SIGNATURE "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

Test(notifier_webhook, the_specification_test_vector_reproduces_exactly)
{
    char sig[NOTIFIER_WEBHOOK_SIGNATURE_MAX];
    cr_assert_eq(notifier_webhook_sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY,
                                       strlen(VECTOR_BODY), sig), 0);
    cr_assert_str_eq(sig, VECTOR_SIGNATURE);
    /* The prefix is optional, as in the reference implementation. */
    cr_assert_eq(notifier_webhook_sign(VECTOR_SECRET + 6, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY,
                                       strlen(VECTOR_BODY), sig), 0);
    cr_assert_str_eq(sig, VECTOR_SIGNATURE);
}

Test(notifier_webhook, every_signed_part_counts)
{
    char base[NOTIFIER_WEBHOOK_SIGNATURE_MAX], sig[NOTIFIER_WEBHOOK_SIGNATURE_MAX];
    notifier_webhook_sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY, strlen(VECTOR_BODY), base);
    notifier_webhook_sign(VECTOR_SECRET, "msg_other", VECTOR_TIMESTAMP, VECTOR_BODY, strlen(VECTOR_BODY), sig);
    cr_assert_str_neq(sig, base);
    notifier_webhook_sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TIMESTAMP + 1, VECTOR_BODY, strlen(VECTOR_BODY), sig);
    cr_assert_str_neq(sig, base);
    notifier_webhook_sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TIMESTAMP, "{\"test\": 2432232315}", strlen(VECTOR_BODY), sig);
    cr_assert_str_neq(sig, base);
}

Test(notifier_webhook, secrets_are_made_and_checked)
{
    char secret[NOTIFIER_WEBHOOK_SECRET_MAX], other[NOTIFIER_WEBHOOK_SECRET_MAX];
    cr_assert_eq(notifier_webhook_secret_new(secret), 0);
    cr_assert_eq(notifier_webhook_secret_new(other), 0);
    cr_assert_eq(strncmp(secret, "whsec_", 6), 0);
    cr_assert_str_neq(secret, other);
    uint8_t key[NOTIFIER_WEBHOOK_KEY_MAX];
    size_t len = 0;
    cr_assert_eq(notifier_webhook_secret_key(secret, key, &len), 0);
    cr_assert_eq(len, NOTIFIER_WEBHOOK_KEY_NEW);
    cr_assert_eq(notifier_webhook_secret_key(VECTOR_SECRET, key, &len), 0);
    cr_assert_eq(len, 24);
    cr_assert_eq(notifier_webhook_secret_key("whsec_short", key, &len), CRM_EINVALID, "too short a key");
    cr_assert_eq(notifier_webhook_secret_key("whsec_not base64 at all!!", key, &len), CRM_EINVALID);
    cr_assert_eq(notifier_webhook_secret_key("whsec_", key, &len), CRM_EINVALID);
    char sig[NOTIFIER_WEBHOOK_SIGNATURE_MAX];
    cr_assert_eq(notifier_webhook_sign("whsec_!!", "id", 1, "{}", 2, sig), CRM_EINVALID);
}

static bool s_v4(const char *text)
{
    struct sockaddr_in sa = { .sin_family = AF_INET };
    cr_assert_eq(inet_pton(AF_INET, text, &sa.sin_addr), 1, "%s", text);
    return notifier_addr_private((struct sockaddr *) &sa);
}

static bool s_v6(const char *text)
{
    struct sockaddr_in6 sa = { .sin6_family = AF_INET6 };
    cr_assert_eq(inet_pton(AF_INET6, text, &sa.sin6_addr), 1, "%s", text);
    return notifier_addr_private((struct sockaddr *) &sa);
}

Test(notifier_webhook, private_and_loopback_addresses)
{
    static const char *const private_v4[] = {
        "127.0.0.1", "127.255.255.254", "10.0.0.1", "10.255.255.255", "172.16.0.1", "172.31.255.255",
        "192.168.0.1", "192.168.255.255", "169.254.169.254", "0.0.0.0", "100.64.0.1", "224.0.0.1", "255.255.255.255",
    };
    static const char *const public_v4[] = {
        "8.8.8.8", "1.1.1.1", "172.15.255.255", "172.32.0.1", "192.169.0.1", "169.253.0.1", "11.0.0.1", "100.128.0.1",
        "9.255.255.255", "126.255.255.255", "128.0.0.1",
    };
    for (size_t i = 0; i < sizeof private_v4 / sizeof private_v4[0]; i++)
        cr_assert(s_v4(private_v4[i]), "%s should be private", private_v4[i]);
    for (size_t i = 0; i < sizeof public_v4 / sizeof public_v4[0]; i++)
        cr_assert_not(s_v4(public_v4[i]), "%s should be public", public_v4[i]);
    static const char *const private_v6[] = {
        "::1", "::", "fc00::1", "fd12:3456::1", "fe80::1", "ff02::1", "::ffff:127.0.0.1", "::ffff:10.1.2.3",
        "::ffff:192.168.1.1", "::127.0.0.1",
    };
    static const char *const public_v6[] = { "2001:4860:4860::8888", "2606:4700::1111", "::ffff:8.8.8.8", "fbff::1" };
    for (size_t i = 0; i < sizeof private_v6 / sizeof private_v6[0]; i++)
        cr_assert(s_v6(private_v6[i]), "%s should be private", private_v6[i]);
    for (size_t i = 0; i < sizeof public_v6 / sizeof public_v6[0]; i++)
        cr_assert_not(s_v6(public_v6[i]), "%s should be public", public_v6[i]);
    cr_assert(notifier_addr_private(NULL));
    cr_assert(notifier_host_private_name("localhost"));
    cr_assert(notifier_host_private_name("LOCALHOST."));
    cr_assert(notifier_host_private_name("api.localhost"));
    cr_assert_not(notifier_host_private_name("notlocalhost"));
    cr_assert_not(notifier_host_private_name("example.com"));
}

Test(notifier_webhook, urls_split_into_host_and_port)
{
    char host[NOTIFIER_HOST_MAX], why[256];
    uint16_t port = 0;
    cr_assert_eq(notifier_url_split("https://hooks.example.com/crm?x=1", host, &port, why, sizeof why), 0, "%s", why);
    cr_assert_str_eq(host, "hooks.example.com");
    cr_assert_eq(port, 443);
    cr_assert_eq(notifier_url_split("http://[::1]:8080/h", host, &port, why, sizeof why), 0, "%s", why);
    cr_assert_str_eq(host, "::1");
    cr_assert_eq(port, 8080);
    cr_assert_eq(notifier_url_split("http://10.0.0.1/", host, &port, why, sizeof why), 0);
    cr_assert_eq(port, 80);
    cr_assert_eq(notifier_url_split("ftp://example.com/", host, &port, why, sizeof why), CRM_EINVALID);
    cr_assert(strstr(why, "http"), "%s", why);
    cr_assert_eq(notifier_url_split("https://user:pw@example.com/", host, &port, why, sizeof why), CRM_EINVALID);
    cr_assert(strstr(why, "credentials"), "%s", why);
    cr_assert_eq(notifier_url_split("not a url", host, &port, why, sizeof why), CRM_EINVALID);
}

Test(notifier_webhook, targets_are_checked_on_the_resolved_address)
{
    char why[256];
    cr_assert_eq(notifier_target_check("http://127.0.0.1:9/x", false, why, sizeof why), CRM_EDENIED);
    cr_assert(strstr(why, "127.0.0.1"), "%s", why);
    cr_assert_eq(notifier_target_check("http://localhost:9/x", false, why, sizeof why), CRM_EDENIED);
    cr_assert_eq(notifier_target_check("http://[::1]:9/x", false, why, sizeof why), CRM_EDENIED);
    cr_assert_eq(notifier_target_check("http://192.168.1.20/x", false, why, sizeof why), CRM_EDENIED);
    /* A name that resolves to loopback (here through /etc/hosts: ip6-localhost or localhost6 may be
     * missing, so the test builds none; "127.1" is a numeric name the resolver turns into 127.0.0.1). */
    cr_assert_eq(notifier_target_check("http://127.1/x", false, why, sizeof why), CRM_EDENIED);
    cr_assert_eq(notifier_target_check("http://2130706433/x", false, why, sizeof why), CRM_EDENIED,
                 "127.0.0.1 written as one number");
    cr_assert_eq(notifier_target_check("http://127.0.0.1:9/x", true, why, sizeof why), 0, "allowed by the setting");
    cr_assert_eq(notifier_target_check("http://8.8.8.8/x", false, why, sizeof why), 0, "%s", why);
    cr_assert_eq(notifier_target_check("gopher://8.8.8.8/", false, why, sizeof why), CRM_EINVALID);
}
