/* test_export.c: everything the suite holds on one customer, from every service, as one JSON document; whole or nothing. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "crm_suite.h"

#define ADMIN CRM_SUITE_ADMIN_KEY
#define WAIT_MS 20000

static crm_suite_t suite;

static void s_setup(void)
{
    crm_suite_init(&suite);
    crm_suite_start(&suite, CRM_SVC_CONTACTS);
    crm_suite_start(&suite, CRM_SVC_LOYALTY);
    crm_suite_start(&suite, CRM_SVC_FEEDBACK);
    crm_suite_start(&suite, CRM_SVC_NOTIFIER);
    crm_suite_start(&suite, CRM_SVC_ANALYTICS);
    crm_suite_start(&suite, CRM_SVC_GATEWAY);
}

static void s_teardown(void)
{
    crm_suite_destroy(&suite);
    crm_test_check_leaks();
}

TestSuite(export, .init = s_setup, .fini = s_teardown, .timeout = 120);

static json_t *s_call(const char *method, const char *path, const char *body, long status)
{
    return crm_suite_call(&suite, method, path, ADMIN, body, status);
}

Test(export, one_document_from_every_service_or_nothing)
{
    json_t *c = s_call("POST", "/v1/contacts", "{\"name\":\"Zhao Lei\",\"email\":\"zhao.lei@example.com\"}", 201);
    json_t *inner = json_object_get(c, "customer");
    char id[64];
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(inner ? inner : c, "id")));
    json_decref(c);
    char path[160], body[256];
    snprintf(path, sizeof path, "/v1/contacts/%s/purchases", id);
    json_decref(s_call("POST", path, "{\"orderId\":\"EX-1\",\"amountMinor\":\"25000\",\"currency\":\"CNY\"}", 201));
    snprintf(body, sizeof body, "{\"customerId\":\"%s\",\"category\":\"delivery\",\"channel\":\"email\","
             "\"text\":\"The parcel never came.\"}", id);
    json_decref(s_call("POST", "/v1/complaints", body, 201));

    /* Wait for loyalty to have earned the purchase's points. */
    snprintf(path, sizeof path, "/v1/contacts/%s/loyalty", id);
    long long deadline = crm_test_now_ms() + WAIT_MS;
    const char *balance = NULL;
    json_t *b = NULL;
    while (crm_test_now_ms() < deadline) {
        json_decref(b);
        b = s_call("GET", path, NULL, 200);
        balance = json_string_value(json_object_get(b, "balance"));
        if (balance && strcmp(balance, "300") == 0)
            break;
        usleep(100 * 1000);
    }
    cr_assert_str_eq(balance ? balance : "", "300", "250 points for 250 CNY and 50 for a first purchase");
    json_decref(b);

    snprintf(path, sizeof path, "/v1/contacts/%s/export", id);
    json_t *doc = s_call("GET", path, NULL, 200);
    cr_assert_str_eq(json_string_value(json_object_get(doc, "customerId")), id);
    json_t *parts = json_object_get(doc, "parts");
    json_t *customer = json_object_get(json_object_get(parts, "/contacts/{id}"), "customer");
    cr_assert_str_eq(json_string_value(json_object_get(customer, "email")), "zhao.lei@example.com");
    cr_assert_eq(json_array_size(json_object_get(json_object_get(parts, "/contacts/{id}/purchases"), "purchases")), 1);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(parts, "/contacts/{id}/loyalty"), "balance")), "300");
    cr_assert_gt(json_array_size(json_object_get(json_object_get(parts, "/contacts/{id}/loyalty/statement"), "entries")), 0);
    json_t *complaints = json_object_get(json_object_get(parts, "/complaints"), "complaints");
    cr_assert_eq(json_array_size(complaints), 1, "%s", json_dumps(json_object_get(parts, "/complaints"), 0));
    cr_assert_not_null(json_object_get(parts, "/contacts/{id}/notifications"), "the notifier's part is there");
    json_decref(doc);

    /* The export is a sensitive operation: it is in the audit log. */
    json_t *log = s_call("GET", "/v1/audit", NULL, 200);
    json_t *last = json_array_get(json_object_get(log, "entries"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(last, "operation")), "customers.export");
    json_decref(log);

    /* Nobody: 404. A service down: 503, nothing half-exported. */
    json_decref(s_call("GET", "/v1/contacts/01J0000000000000000000000Z/export", NULL, 404));
    crm_suite_stop(&suite, CRM_SVC_LOYALTY, SIGTERM);
    json_decref(s_call("GET", path, NULL, 503));
}
