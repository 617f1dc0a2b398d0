/* test_rate_limit.c: a key that sends too fast gets 429 with Retry-After, other keys do not, and it may go on once its bucket refills. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "crm_suite.h"

#define ADMIN CRM_SUITE_ADMIN_KEY
#define RATE "2"          /* requests a second per key */
#define BURST 5

static crm_suite_t suite;

static void s_setup(void)
{
    crm_suite_init(&suite);
    crm_suite_set(&suite, "CRM_GATEWAY_RATE_LIMIT", RATE);
    crm_suite_set(&suite, "CRM_GATEWAY_RATE_BURST", "5");
    crm_suite_start(&suite, CRM_SVC_CONTACTS);
    crm_suite_start(&suite, CRM_SVC_GATEWAY);
}

static void s_teardown(void)
{
    crm_suite_destroy(&suite);
    crm_test_check_leaks();
}

TestSuite(rate_limit, .init = s_setup, .fini = s_teardown, .timeout = 60);

static long s_get(const char *key, crm_http_response_t *r)
{
    crm_suite_http(&suite, "GET", "/v1/contacts", key, NULL, NULL, r);
    return r->status;
}

Test(rate_limit, a_key_over_its_rate_waits_and_others_do_not)
{
    /* A second key, made while the admin key still has its burst. */
    crm_http_response_t r;
    crm_suite_http(&suite, "POST", "/v1/keys", ADMIN, "{\"name\":\"reports\",\"role\":\"analyst\"}", NULL, &r);
    cr_assert(r.status == 200 || r.status == 201, "%ld %s", r.status, r.body);
    json_t *json = crm_http_json(&r);
    char analyst[128];
    snprintf(analyst, sizeof analyst, "%s", json_string_value(json_object_get(json, "secret")));
    json_decref(json);
    crm_http_response_clear(&r);

    int ok = 0;
    for (int i = 0; i < BURST + 3; i++) {
        ok += s_get(ADMIN, &r) == 200;
        crm_http_response_clear(&r);
    }
    cr_assert_leq(ok, BURST, "%d of %d went through", ok, BURST + 3);
    cr_assert_geq(ok, BURST - 2, "the burst (less the key creation) went through: %d", ok);
    cr_assert_eq(s_get(ADMIN, &r), 429, "%s", r.body);
    cr_assert(strstr(r.content_type, "application/problem+json"), "%s", r.content_type);
    cr_assert_str_eq(r.retry_after, "1", "at 2 a second, one request is allowed again within a second");
    json = crm_http_json(&r);
    cr_assert(strstr(json_string_value(json_object_get(json, "type")), "rate-limited"), "%s", r.body);
    json_decref(json);
    crm_http_response_clear(&r);

    cr_assert_eq(s_get(analyst, &r), 200, "another key has its own bucket: %s", r.body);
    crm_http_response_clear(&r);

    sleep(1);       /* two requests' worth at 2 a second */
    cr_assert_eq(s_get(ADMIN, &r), 200, "%s", r.body);
    crm_http_response_clear(&r);
}
