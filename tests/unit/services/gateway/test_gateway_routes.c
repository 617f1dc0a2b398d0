/* test_gateway_routes.c: the route table: pattern matching, 404 and 405, and a walk of every route and role. */
#include <criterion/criterion.h>
#include <string.h>

#include "crm/v1/contacts_api.pb-c.h"
#include "crm_codec.h"
#include "crm_error.h"
#include "crm_test.h"
#include "gateway_routes.h"

TestSuite(gateway_routes, .fini = crm_test_check_leaks);

static const Crm__V1__Role all_roles[] = { CRM__V1__ROLE__ROLE_ADMIN, CRM__V1__ROLE__ROLE_AGENT,
                                           CRM__V1__ROLE__ROLE_ANALYST, CRM__V1__ROLE__ROLE_INTEGRATOR };

static const gateway_route_t *
s_find(const char *method, const char *path, gateway_path_values_t *values, int *rc)
{
    const gateway_route_t *route = NULL;
    char allow[GATEWAY_ALLOW_MAX];
    *rc = gateway_route_find(method, path, &route, values, allow);
    return route;
}

Test(gateway_routes, matches_literal_and_parameter_segments)
{
    gateway_path_values_t v;
    int rc;
    const gateway_route_t *r = s_find("GET", "/v1/contacts", &v, &rc);
    cr_assert_eq(rc, 0);
    cr_assert_str_eq(r->rpc, "contacts.SearchCustomers");
    cr_assert_eq(v.count, 0);

    r = s_find("GET", "/v1/contacts/01ARZ3NDEKTSV4RRFFQ69G5FAV", &v, &rc);
    cr_assert_eq(rc, 0);
    cr_assert_str_eq(r->rpc, "contacts.GetCustomer");
    cr_assert_eq(v.count, 1);
    cr_assert_str_eq(v.values[0], "01ARZ3NDEKTSV4RRFFQ69G5FAV");

    r = s_find("POST", "/v1/contacts/C1/purchases/P9/refunds", &v, &rc);
    cr_assert_eq(rc, 0);
    cr_assert_str_eq(r->rpc, "contacts.RefundPurchase");
    cr_assert_eq(v.count, 2);
    cr_assert_str_eq(v.values[0], "C1");
    cr_assert_str_eq(v.values[1], "P9");

    r = s_find("HEAD", "/healthz", &v, &rc);
    cr_assert_eq(rc, 0, "HEAD is served as GET");
    cr_assert_eq(r->local, GATEWAY_LOCAL_HEALTHZ);

    r = s_find("POST", "/v1/contacts/C1/merge", &v, &rc);
    cr_assert_eq(rc, 0);
    cr_assert_str_eq(r->rpc, "contacts.MergeCustomers");
}

Test(gateway_routes, unknown_paths_are_not_found)
{
    static const char *const paths[] = {
        "/", "", "/v1", "/v1/", "/v1/contacts/", "/v1/contacts//purchases", "/v1/contact",
        "/v1/contacts/a/b", "/v1/contacts/C1/purchases/P1", "/v2/contacts", "/V1/contacts",
        "/v1/contacts/C1/purchases/P1/refunds/R1", "/healthz/", "/v1/keysx",
    };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        gateway_path_values_t v;
        int rc;
        const gateway_route_t *r = s_find("GET", paths[i], &v, &rc);
        cr_assert_eq(rc, CRM_ENOTFOUND, "%s", paths[i]);
        cr_assert_null(r);
    }
    /* A parameter longer than a segment may be. */
    char path[GATEWAY_SEGMENT_MAX + 32];
    memset(path, 'x', sizeof path);
    memcpy(path, "/v1/contacts/", 13);
    path[13 + GATEWAY_SEGMENT_MAX] = '\0';
    gateway_path_values_t v;
    int rc;
    s_find("GET", path, &v, &rc);
    cr_assert_eq(rc, CRM_ENOTFOUND);
}

Test(gateway_routes, a_known_path_with_another_method_lists_the_allowed_ones)
{
    const gateway_route_t *route = (const gateway_route_t *) 1;
    gateway_path_values_t v;
    char allow[GATEWAY_ALLOW_MAX];
    cr_assert_eq(gateway_route_find("PUT", "/v1/contacts/C1", &route, &v, allow), CRM_EINVALID);
    cr_assert_null(route);
    cr_assert_str_eq(allow, "GET, HEAD, PATCH, DELETE");
    cr_assert_eq(gateway_route_find("DELETE", "/v1/contacts", &route, &v, allow), CRM_EINVALID);
    cr_assert_str_eq(allow, "POST, GET, HEAD");
    cr_assert_eq(gateway_route_find("GET", "/v1/events", &route, &v, allow), CRM_EINVALID);
    cr_assert_str_eq(allow, "POST");
    cr_assert_eq(gateway_route_find("GET", "/v1/contacts", &route, &v, allow), 0);
    cr_assert_str_eq(allow, "", "no Allow on a match");
}

/* The policy, written out independently of the table: which role may call what. */
static unsigned
s_expected_roles(const char *method, const char *pattern)
{
    static const struct {
        const char *method, *pattern;
        unsigned roles;
    } policy[] = {
        { "POST", "/v1/contacts", GATEWAY_ADMIN | GATEWAY_AGENT },
        { "GET", "/v1/contacts", GATEWAY_ADMIN | GATEWAY_AGENT | GATEWAY_ANALYST },
        { "GET", "/v1/contacts/{id}", GATEWAY_ADMIN | GATEWAY_AGENT | GATEWAY_ANALYST | GATEWAY_INTEGRATOR },
        { "PATCH", "/v1/contacts/{id}", GATEWAY_ADMIN | GATEWAY_AGENT },
        { "DELETE", "/v1/contacts/{id}", GATEWAY_ADMIN },
        { "POST", "/v1/contacts/{id}/interactions", GATEWAY_ADMIN | GATEWAY_AGENT },
        { "GET", "/v1/contacts/{id}/interactions", GATEWAY_ADMIN | GATEWAY_AGENT | GATEWAY_ANALYST },
        { "POST", "/v1/contacts/{id}/purchases", GATEWAY_ADMIN | GATEWAY_AGENT },
        { "GET", "/v1/contacts/{id}/purchases", GATEWAY_ADMIN | GATEWAY_AGENT | GATEWAY_ANALYST },
        { "POST", "/v1/contacts/{id}/purchases/{purchaseId}/refunds", GATEWAY_ADMIN | GATEWAY_AGENT },
        { "POST", "/v1/contacts/{id}/merge", GATEWAY_ADMIN | GATEWAY_AGENT },
        { "POST", "/v1/keys", GATEWAY_ADMIN },
        { "GET", "/v1/keys", GATEWAY_ADMIN },
        { "DELETE", "/v1/keys/{id}", GATEWAY_ADMIN },
        { "POST", "/v1/events", GATEWAY_ADMIN | GATEWAY_INTEGRATOR },
        { "GET", "/v1/audit", GATEWAY_ADMIN },
        { "GET", "/v1/contacts/{id}/export", GATEWAY_ADMIN },
        { "GET", "/v1/audit/verify", GATEWAY_ADMIN },
        /* Loyalty: services/loyalty/README.md, "HTTP routes for the gateway's table". */
        { "GET", "/v1/contacts/{id}/loyalty", GATEWAY_ADMIN | GATEWAY_AGENT | GATEWAY_ANALYST | GATEWAY_INTEGRATOR },
        { "GET", "/v1/contacts/{id}/loyalty/lots", GATEWAY_ADMIN | GATEWAY_AGENT | GATEWAY_ANALYST },
        { "GET", "/v1/contacts/{id}/loyalty/statement", GATEWAY_ADMIN | GATEWAY_AGENT | GATEWAY_ANALYST },
        { "GET", "/v1/contacts/{id}/loyalty/tier", GATEWAY_ADMIN | GATEWAY_AGENT | GATEWAY_ANALYST | GATEWAY_INTEGRATOR },
        { "GET", "/v1/contacts/{id}/loyalty/badges", GATEWAY_ADMIN | GATEWAY_AGENT | GATEWAY_ANALYST },
        { "POST", "/v1/contacts/{id}/loyalty/redemptions", GATEWAY_ADMIN | GATEWAY_AGENT | GATEWAY_INTEGRATOR },
        { "GET", "/v1/contacts/{id}/loyalty/redemptions", GATEWAY_ADMIN | GATEWAY_AGENT | GATEWAY_ANALYST },
        { "POST", "/v1/contacts/{id}/loyalty/adjustments", GATEWAY_ADMIN },
        { "POST", "/v1/contacts/{id}/loyalty/activities", GATEWAY_ADMIN | GATEWAY_AGENT | GATEWAY_INTEGRATOR },
        { "GET", "/v1/loyalty/rules", GATEWAY_ADMIN | GATEWAY_AGENT | GATEWAY_ANALYST },
        { "POST", "/v1/loyalty/rules", GATEWAY_ADMIN },
        { "DELETE", "/v1/loyalty/rules/{id}", GATEWAY_ADMIN },
        { "GET", "/v1/loyalty/tiers", GATEWAY_ADMIN | GATEWAY_AGENT | GATEWAY_ANALYST | GATEWAY_INTEGRATOR },
        { "POST", "/v1/loyalty/tiers", GATEWAY_ADMIN },
        { "DELETE", "/v1/loyalty/tiers/{id}", GATEWAY_ADMIN },
        { "GET", "/v1/loyalty/rewards", GATEWAY_ADMIN | GATEWAY_AGENT | GATEWAY_ANALYST | GATEWAY_INTEGRATOR },
        { "POST", "/v1/loyalty/rewards", GATEWAY_ADMIN },
        { "GET", "/v1/loyalty/rewards/{id}", GATEWAY_ADMIN | GATEWAY_AGENT | GATEWAY_ANALYST | GATEWAY_INTEGRATOR },
        { "GET", "/v1/loyalty/redemptions/{code}", GATEWAY_ADMIN | GATEWAY_AGENT | GATEWAY_INTEGRATOR },
        { "POST", "/v1/loyalty/redemptions/{code}/use", GATEWAY_ADMIN | GATEWAY_AGENT | GATEWAY_INTEGRATOR },
        { "POST", "/v1/loyalty/redemptions/{code}/cancel", GATEWAY_ADMIN | GATEWAY_AGENT },
        { "GET", "/v1/loyalty/audit", GATEWAY_ADMIN },
        /* Feedback: services/feedback/README.md, "HTTP routes for the gateway's table". */
        { "GET", "/v1/surveys", GATEWAY_ADMIN | GATEWAY_AGENT | GATEWAY_ANALYST },
        { "POST", "/v1/surveys", GATEWAY_ADMIN },
        { "GET", "/v1/surveys/{id}", GATEWAY_ADMIN | GATEWAY_AGENT | GATEWAY_ANALYST },
        { "POST", "/v1/surveys/{id}/invitations", GATEWAY_ADMIN },
        { "POST", "/v1/contacts/{id}/invitations", GATEWAY_ADMIN | GATEWAY_AGENT },
        { "GET", "/v1/contacts/{id}/invitations", GATEWAY_ADMIN | GATEWAY_AGENT | GATEWAY_ANALYST | GATEWAY_INTEGRATOR },
        { "GET", "/v1/contacts/{id}/answers", GATEWAY_ADMIN | GATEWAY_AGENT | GATEWAY_ANALYST },
        { "POST", "/v1/contacts/{id}/answers", GATEWAY_ADMIN | GATEWAY_AGENT },
        { "POST", "/v1/complaints", GATEWAY_ADMIN | GATEWAY_AGENT | GATEWAY_INTEGRATOR },
        { "GET", "/v1/complaints", GATEWAY_ADMIN | GATEWAY_AGENT | GATEWAY_ANALYST },
        { "GET", "/v1/complaints/{id}", GATEWAY_ADMIN | GATEWAY_AGENT | GATEWAY_ANALYST },
        { "POST", "/v1/complaints/{id}/transitions", GATEWAY_ADMIN | GATEWAY_AGENT },
        { "POST", "/v1/complaints/{id}/replies", GATEWAY_ADMIN | GATEWAY_AGENT },
        { "POST", "/v1/complaints/{id}/notes", GATEWAY_ADMIN | GATEWAY_AGENT },
        /* Notifier: services/notifier/README.md. */
        { "GET", "/v1/notifier/rules", GATEWAY_ADMIN | GATEWAY_AGENT | GATEWAY_ANALYST },
        { "POST", "/v1/notifier/rules", GATEWAY_ADMIN },
        { "DELETE", "/v1/notifier/rules/{id}", GATEWAY_ADMIN },
        { "GET", "/v1/notifier/templates", GATEWAY_ADMIN | GATEWAY_AGENT | GATEWAY_ANALYST },
        { "POST", "/v1/notifier/templates", GATEWAY_ADMIN },
        { "DELETE", "/v1/notifier/templates/{id}/{locale}", GATEWAY_ADMIN },
        { "GET", "/v1/notifier/staff", GATEWAY_ADMIN | GATEWAY_AGENT },
        { "POST", "/v1/notifier/staff", GATEWAY_ADMIN },
        { "DELETE", "/v1/notifier/staff/{id}", GATEWAY_ADMIN },
        { "GET", "/v1/notifier/staff/{id}/inbox", GATEWAY_ADMIN | GATEWAY_AGENT },
        { "POST", "/v1/notifier/staff/{id}/inbox/read", GATEWAY_ADMIN | GATEWAY_AGENT },
        { "GET", "/v1/notifier/webhooks", GATEWAY_ADMIN },
        { "POST", "/v1/notifier/webhooks", GATEWAY_ADMIN },
        { "DELETE", "/v1/notifier/webhooks/{id}", GATEWAY_ADMIN },
        { "GET", "/v1/notifier/deliveries", GATEWAY_ADMIN | GATEWAY_AGENT | GATEWAY_ANALYST },
        { "POST", "/v1/notifier/deliveries/{id}/retry", GATEWAY_ADMIN },
        { "GET", "/v1/contacts/{id}/notifications", GATEWAY_ADMIN | GATEWAY_AGENT | GATEWAY_ANALYST },
        { "POST", "/v1/contacts/{id}/reminders", GATEWAY_ADMIN | GATEWAY_AGENT },
        { "GET", "/v1/contacts/{id}/reminders", GATEWAY_ADMIN | GATEWAY_AGENT | GATEWAY_ANALYST },
        { "POST", "/v1/contacts/{id}/reminders/{reminderId}/cancel", GATEWAY_ADMIN | GATEWAY_AGENT },
        { "GET", "/v1/contacts/{id}/inbox", GATEWAY_ADMIN | GATEWAY_AGENT | GATEWAY_INTEGRATOR },
        { "POST", "/v1/contacts/{id}/inbox/read", GATEWAY_ADMIN | GATEWAY_AGENT | GATEWAY_INTEGRATOR },
        /* Analytics: figures for analysts (and admins); rebuilding and recomputing for admins. */
        { "GET", "/v1/analytics/summary", GATEWAY_ADMIN | GATEWAY_ANALYST },
        { "GET", "/v1/analytics/series", GATEWAY_ADMIN | GATEWAY_ANALYST },
        { "GET", "/v1/analytics/cohorts", GATEWAY_ADMIN | GATEWAY_ANALYST },
        { "GET", "/v1/analytics/at-risk", GATEWAY_ADMIN | GATEWAY_ANALYST },
        { "GET", "/v1/analytics/rfm", GATEWAY_ADMIN | GATEWAY_ANALYST },
        { "POST", "/v1/analytics/rfm/recompute", GATEWAY_ADMIN },
        { "GET", "/v1/analytics/customers/{id}", GATEWAY_ADMIN | GATEWAY_ANALYST },
        { "GET", "/v1/contacts/{id}/analytics", GATEWAY_ADMIN | GATEWAY_ANALYST },
        { "POST", "/v1/analytics/rebuild", GATEWAY_ADMIN },
        { "GET", "/v1/analytics/status", GATEWAY_ADMIN | GATEWAY_ANALYST },
    };
    for (size_t i = 0; i < sizeof policy / sizeof policy[0]; i++)
        if (strcmp(policy[i].method, method) == 0 && strcmp(policy[i].pattern, pattern) == 0)
            return policy[i].roles;
    return 0xdead;   /* a route the policy does not know */
}

Test(gateway_routes, every_route_and_role_follows_the_policy)
{
    size_t checked = 0, wrong = 0, public_routes = 0;
    for (size_t i = 0; i < gateway_routes_count; i++) {
        const gateway_route_t *route = &gateway_routes[i];
        if (route->flags & GATEWAY_ROUTE_PUBLIC) {
            public_routes++;
            bool health = strcmp(route->pattern, "/healthz") == 0 || strcmp(route->pattern, "/readyz") == 0
                          || strcmp(route->pattern, "/metrics") == 0
                          || strcmp(route->pattern, "/v1/openapi.json") == 0;
            bool answer = strcmp(route->pattern, "/v1/answers/{token}") == 0;
            wrong += !(health && strcmp(route->method, "GET") == 0)
                     && !(answer && (strcmp(route->method, "GET") == 0 || strcmp(route->method, "POST") == 0));
            wrong += route->roles != 0;
            for (size_t k = 0; k < 4; k++)
                wrong += !gateway_route_allows(route, all_roles[k]);
            continue;
        }
        unsigned expected = s_expected_roles(route->method, route->pattern);
        if (expected != route->roles) {
            cr_log_error("%s %s: roles %#x, policy %#x", route->method, route->pattern, route->roles,
                         expected);
            wrong++;
        }
        for (size_t k = 0; k < 4; k++) {
            bool allowed = gateway_route_allows(route, all_roles[k]);
            bool want = (expected & GATEWAY_ROLE_BIT(all_roles[k])) != 0;
            checked++;
            wrong += allowed != want;
        }
        wrong += gateway_route_allows(route, CRM__V1__ROLE__ROLE_UNSPECIFIED);
        wrong += gateway_route_allows(route, (Crm__V1__Role) 99);
        /* Admin may do everything. */
        wrong += !gateway_route_allows(route, CRM__V1__ROLE__ROLE_ADMIN);
    }
    cr_assert_eq(wrong, 0, "%zu checks failed", wrong);
    cr_assert_eq(public_routes, 6, "only health, readiness, metrics, the API document and survey answers by token are public");
    cr_assert_eq(checked, (gateway_routes_count - 6) * 4);
}

Test(gateway_routes, every_table_entry_is_consistent_with_its_messages)
{
    size_t wrong = 0;
    for (size_t i = 0; i < gateway_routes_count; i++) {
        const gateway_route_t *r = &gateway_routes[i];
        /* Path parameters: as many mappings as {name} segments, named alike. */
        size_t braces = 0;
        for (const char *p = r->pattern; (p = strchr(p, '{')); p++)
            braces++;
        size_t mapped = 0;
        while (mapped < GATEWAY_ROUTE_MAX_PATH_PARAMS && r->path[mapped].name) {
            char token[64];
            snprintf(token, sizeof token, "{%s}", r->path[mapped].name);
            wrong += strstr(r->pattern, token) == NULL;
            mapped++;
        }
        wrong += mapped != braces;
        wrong += r->status < 200 || r->status > 204;
        wrong += (r->status == 204) != ((r->flags & GATEWAY_ROUTE_NO_CONTENT) != 0);
        if (r->local != GATEWAY_LOCAL_NONE) {
            wrong += r->rpc != NULL;
            continue;
        }
        /* Forwarded: the method names its service, every field named exists. */
        wrong += r->rpc == NULL || r->request == NULL || r->reply == NULL;
        if (!r->rpc || !r->request || !r->reply)
            continue;
        char prefix[64];
        snprintf(prefix, sizeof prefix, "%s.", crm_service_name(r->service));
        wrong += strncmp(r->rpc, prefix, strlen(prefix)) != 0;
        for (size_t k = 0; k < mapped; k++)
            wrong += !protobuf_c_message_descriptor_get_field_by_name(r->request, r->path[k].field);
        for (size_t k = 0; k < GATEWAY_ROUTE_MAX_QUERY && r->query[k].name; k++) {
            wrong += !protobuf_c_message_descriptor_get_field_by_name(r->request, r->query[k].field);
            if (r->query[k].value_field)
                wrong += !protobuf_c_message_descriptor_get_field_by_name(r->request, r->query[k].value_field);
        }
        if (r->body_field) {
            const ProtobufCFieldDescriptor *f =
                protobuf_c_message_descriptor_get_field_by_name(r->request, r->body_field);
            wrong += !f || f->type != PROTOBUF_C_TYPE_MESSAGE;
            wrong += !(r->flags & GATEWAY_ROUTE_BODY);
        }
        if (r->reply_field) {
            const ProtobufCFieldDescriptor *f =
                protobuf_c_message_descriptor_get_field_by_name(r->reply, r->reply_field);
            wrong += !f || f->type != PROTOBUF_C_TYPE_MESSAGE;
        }
        if (r->flags & GATEWAY_ROUTE_IF_MATCH)
            wrong += !protobuf_c_message_descriptor_get_field_by_name(r->request, "if_match_version");
        if (r->flags & GATEWAY_ROUTE_UPDATE_MASK)
            wrong += !protobuf_c_message_descriptor_get_field_by_name(r->request, "update_mask");
        if (wrong)
            cr_log_error("after %s %s: %zu problems", r->method, r->pattern, wrong);
    }
    cr_assert_eq(wrong, 0);
}

Test(gateway_routes, role_names)
{
    cr_assert_str_eq(gateway_role_name(CRM__V1__ROLE__ROLE_ADMIN), "admin");
    cr_assert_str_eq(gateway_role_name(CRM__V1__ROLE__ROLE_AGENT), "agent");
    cr_assert_str_eq(gateway_role_name(CRM__V1__ROLE__ROLE_ANALYST), "analyst");
    cr_assert_str_eq(gateway_role_name(CRM__V1__ROLE__ROLE_INTEGRATOR), "integrator");
    cr_assert_str_eq(gateway_role_name((Crm__V1__Role) 42), "unspecified");
}
