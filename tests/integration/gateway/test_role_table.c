/* test_role_table.c: walks the gateway's whole route table over HTTP: every route, every role, and no key. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "crm_suite.h"
#include "gateway_routes.h"

#define ADMIN CRM_SUITE_ADMIN_KEY
#define NO_SUCH_ID "01J0000000000000000000000Z"

static crm_suite_t suite;

static void s_setup(void)
{
    crm_suite_init(&suite);
    crm_suite_start(&suite, CRM_SVC_CONTACTS);
    crm_suite_start(&suite, CRM_SVC_GATEWAY);
}

static void s_teardown(void)
{
    crm_suite_destroy(&suite);
    crm_test_check_leaks();
}

TestSuite(role_table, .init = s_setup, .fini = s_teardown, .timeout = 120);

/* Makes a key with role through the API and copies its secret into out (size 128). */
static void s_make_key(Crm__V1__Role role, char *out)
{
    if (role == CRM__V1__ROLE__ROLE_ADMIN) {
        snprintf(out, 128, "%s", ADMIN);
        return;
    }
    char body[128];
    snprintf(body, sizeof body, "{\"name\":\"walker-%s\",\"role\":\"%s\"}", gateway_role_name(role),
             gateway_role_name(role));
    crm_http_response_t r;
    crm_suite_http(&suite, "POST", "/v1/keys", ADMIN, body, NULL, &r);
    cr_assert(r.status == 200 || r.status == 201, "%ld %s", r.status, r.body);
    json_t *json = crm_http_json(&r);
    snprintf(out, 128, "%s", json_string_value(json_object_get(json, "secret")));
    json_decref(json);
    crm_http_response_clear(&r);
}

/* The route's pattern with every {param} replaced by an id that exists nowhere: authorisation
 * comes before any work, so an allowed call gets 404 or 400 and never changes anything. */
static void s_path(const char *pattern, char *out, size_t size)
{
    size_t n = 0;
    for (const char *p = pattern; *p && n + 1 < size;) {
        if (*p == '{') {
            const char *end = strchr(p, '}');
            n += (size_t) snprintf(out + n, size - n, "%s", NO_SUCH_ID);
            p = end ? end + 1 : p + strlen(p);
        } else {
            out[n++] = *p++;
        }
    }
    out[n < size ? n : size - 1] = '\0';
}

Test(role_table, every_route_admits_exactly_the_roles_the_table_names)
{
    static const Crm__V1__Role roles[] = { CRM__V1__ROLE__ROLE_AGENT, CRM__V1__ROLE__ROLE_ANALYST,
                                           CRM__V1__ROLE__ROLE_INTEGRATOR, CRM__V1__ROLE__ROLE_ADMIN };
    char keys[4][128];
    for (size_t i = 0; i < 4; i++)
        s_make_key(roles[i], keys[i]);

    int checked = 0, wrong = 0;
    char report[4096] = "";
    size_t report_len = 0;
    for (size_t i = 0; i < gateway_routes_count; i++) {
        const gateway_route_t *route = &gateway_routes[i];
        char path[512];
        s_path(route->pattern, path, sizeof path);
        bool public_route = route->flags & GATEWAY_ROUTE_PUBLIC;
        const char *body = route->flags & GATEWAY_ROUTE_BODY ? "{}" : NULL;
        /* No key: 401 on every route but the public ones. */
        crm_http_response_t r;
        crm_suite_http(&suite, route->method, path, NULL, body, NULL, &r);
        bool ok = public_route ? r.status != 401 && r.status != 403 : r.status == 401;
        checked++;
        if (!ok) {
            wrong++;
            report_len += (size_t) snprintf(report + report_len, sizeof report - report_len,
                                            "%s %s without a key: %ld\n", route->method, route->pattern, r.status);
        }
        crm_http_response_clear(&r);
        for (size_t k = 0; k < 4 && !public_route; k++) {
            bool allowed = gateway_route_allows(route, roles[k]);
            crm_suite_http(&suite, route->method, path, keys[k], body, NULL, &r);
            ok = r.status != 401 && (allowed ? r.status != 403 : r.status == 403);
            checked++;
            if (!ok && report_len < sizeof report - 200) {
                wrong++;
                report_len += (size_t) snprintf(report + report_len, sizeof report - report_len,
                                                "%s %s as %s (%s): %ld\n", route->method, route->pattern,
                                                gateway_role_name(roles[k]), allowed ? "allowed" : "refused",
                                                r.status);
            }
            crm_http_response_clear(&r);
        }
    }
    printf("role table: %zu routes, %d calls checked\n", gateway_routes_count, checked);
    cr_assert_eq(wrong, 0, "calls that did not follow the table:\n%s", report);
    cr_assert_gt(gateway_routes_count, 10);
}
