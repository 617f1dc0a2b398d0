/* gateway_routes.c: the route table and path matching. */
#include "gateway_routes.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "crm/v1/contacts_api.pb-c.h"
#include "crm/v1/ingest.pb-c.h"
#include "crm/v1/loyalty_api.pb-c.h"
#include "crm_error.h"

#define S_PAGE { "pageSize", "page_size", NULL }, { "pageToken", "page_token", NULL }
#define S_ANYONE (GATEWAY_ADMIN | GATEWAY_AGENT | GATEWAY_ANALYST)
#define S_EVERYONE (S_ANYONE | GATEWAY_INTEGRATOR)
#define S_CASHIER (GATEWAY_ADMIN | GATEWAY_AGENT | GATEWAY_INTEGRATOR)
#define S_LOYALTY_CUSTOMER { { "id", "customer_id", NULL } }

/* Who may do what: admin everything; agent reads and writes customers, their interactions and
 * purchases, and merges; analyst reads; integrator sends events and reads one customer; only
 * admin deletes customers and manages keys. Loyalty (services/loyalty/README.md, "HTTP routes for
 * the gateway's table"): everyone reads a balance, a tier, the tiers and the rewards; staff read
 * the rest; agents and integrators redeem, use codes and report activities; only admin adjusts
 * points, manages rules, tiers and rewards, and reads the audit log (the service checks the role
 * "admin" as well). */
const gateway_route_t gateway_routes[] = {
    { .method = "POST", .pattern = "/v1/contacts",
      .roles = GATEWAY_ADMIN | GATEWAY_AGENT,
      .flags = GATEWAY_ROUTE_BODY | GATEWAY_ROUTE_ETAG | GATEWAY_ROUTE_LOCATION | GATEWAY_ROUTE_IDEMPOTENT,
      .service = CRM_SVC_CONTACTS, .rpc = "contacts.CreateCustomer",
      .request = &crm__v1__create_customer_request__descriptor,
      .reply = &crm__v1__customer_reply__descriptor,
      .body_field = "customer", .reply_field = "customer", .status = 201 },
    { .method = "GET", .pattern = "/v1/contacts",
      .roles = S_ANYONE,
      .service = CRM_SVC_CONTACTS, .rpc = "contacts.SearchCustomers",
      .request = &crm__v1__search_customers_request__descriptor,
      .reply = &crm__v1__search_customers_reply__descriptor,
      .status = 200,
      .query = { { "name", "name_prefix", NULL }, { "email", "email", NULL },
                 { "phone", "phone", NULL }, { "tag", "tag", NULL },
                 { "tier", "value_tier", NULL }, { "needType", "need_type", NULL },
                 { "stage", "lifecycle_stage", NULL }, { "owner", "owner", NULL },
                 { "customField", "custom_field", NULL }, { "customValue", "custom_value", NULL },
                 { "field.", "custom_field", "custom_value" },
                 { "externalSystem", "external_system", NULL }, { "externalId", "external_id", NULL },
                 S_PAGE } },
    { .method = "GET", .pattern = "/v1/contacts/{id}",
      .roles = S_ANYONE | GATEWAY_INTEGRATOR, .flags = GATEWAY_ROUTE_ETAG,
      .service = CRM_SVC_CONTACTS, .rpc = "contacts.GetCustomer",
      .request = &crm__v1__get_customer_request__descriptor,
      .reply = &crm__v1__customer_reply__descriptor,
      .reply_field = "customer", .status = 200,
      .path = { { "id", "id", NULL } } },
    { .method = "PATCH", .pattern = "/v1/contacts/{id}",
      .roles = GATEWAY_ADMIN | GATEWAY_AGENT,
      .flags = GATEWAY_ROUTE_BODY | GATEWAY_ROUTE_ETAG | GATEWAY_ROUTE_IF_MATCH
               | GATEWAY_ROUTE_UPDATE_MASK | GATEWAY_ROUTE_IDEMPOTENT,
      .service = CRM_SVC_CONTACTS, .rpc = "contacts.UpdateCustomer",
      .request = &crm__v1__update_customer_request__descriptor,
      .reply = &crm__v1__customer_reply__descriptor,
      .body_field = "customer", .reply_field = "customer", .status = 200,
      .path = { { "id", "id", NULL } } },
    { .method = "DELETE", .pattern = "/v1/contacts/{id}",
      .roles = GATEWAY_ADMIN,
      .flags = GATEWAY_ROUTE_IF_MATCH | GATEWAY_ROUTE_IDEMPOTENT | GATEWAY_ROUTE_NO_CONTENT,
      .service = CRM_SVC_CONTACTS, .rpc = "contacts.DeleteCustomer",
      .request = &crm__v1__delete_customer_request__descriptor,
      .reply = &crm__v1__delete_customer_reply__descriptor,
      .status = 204,
      .path = { { "id", "id", NULL } } },
    { .method = "POST", .pattern = "/v1/contacts/{id}/interactions",
      .roles = GATEWAY_ADMIN | GATEWAY_AGENT,
      .flags = GATEWAY_ROUTE_BODY | GATEWAY_ROUTE_IDEMPOTENT,
      .service = CRM_SVC_CONTACTS, .rpc = "contacts.LogInteraction",
      .request = &crm__v1__log_interaction_request__descriptor,
      .reply = &crm__v1__interaction_reply__descriptor,
      .body_field = "interaction", .reply_field = "interaction", .status = 201,
      .path = { { "id", "customer_id", NULL } } },
    { .method = "GET", .pattern = "/v1/contacts/{id}/interactions",
      .roles = S_ANYONE,
      .service = CRM_SVC_CONTACTS, .rpc = "contacts.ListInteractions",
      .request = &crm__v1__list_request__descriptor,
      .reply = &crm__v1__list_interactions_reply__descriptor,
      .status = 200,
      .path = { { "id", "customer_id", NULL } }, .query = { S_PAGE } },
    { .method = "POST", .pattern = "/v1/contacts/{id}/purchases",
      .roles = GATEWAY_ADMIN | GATEWAY_AGENT,
      .flags = GATEWAY_ROUTE_BODY | GATEWAY_ROUTE_IDEMPOTENT,
      .service = CRM_SVC_CONTACTS, .rpc = "contacts.RecordPurchase",
      .request = &crm__v1__record_purchase_request__descriptor,
      .reply = &crm__v1__purchase_reply__descriptor,
      .body_field = "purchase", .reply_field = "purchase", .status = 201,
      .path = { { "id", "customer_id", NULL } } },
    { .method = "GET", .pattern = "/v1/contacts/{id}/purchases",
      .roles = S_ANYONE,
      .service = CRM_SVC_CONTACTS, .rpc = "contacts.ListPurchases",
      .request = &crm__v1__list_request__descriptor,
      .reply = &crm__v1__list_purchases_reply__descriptor,
      .status = 200,
      .path = { { "id", "customer_id", NULL } }, .query = { S_PAGE } },
    { .method = "POST", .pattern = "/v1/contacts/{id}/purchases/{purchaseId}/refunds",
      .roles = GATEWAY_ADMIN | GATEWAY_AGENT,
      .flags = GATEWAY_ROUTE_BODY | GATEWAY_ROUTE_IDEMPOTENT,
      .service = CRM_SVC_CONTACTS, .rpc = "contacts.RefundPurchase",
      .request = &crm__v1__refund_purchase_request__descriptor,
      .reply = &crm__v1__purchase_reply__descriptor,
      .body_field = "refund", .reply_field = "purchase", .status = 201,
      .path = { { "id", "customer_id", NULL }, { "purchaseId", "purchase_id", NULL } } },
    { .method = "POST", .pattern = "/v1/contacts/{id}/merge",
      .roles = GATEWAY_ADMIN | GATEWAY_AGENT,
      .flags = GATEWAY_ROUTE_BODY | GATEWAY_ROUTE_ETAG | GATEWAY_ROUTE_IDEMPOTENT,
      .service = CRM_SVC_CONTACTS, .rpc = "contacts.MergeCustomers",
      .request = &crm__v1__merge_customers_request__descriptor,
      .reply = &crm__v1__customer_reply__descriptor,
      .reply_field = "customer", .status = 200,
      .path = { { "id", "survivor_id", NULL } } },
    { .method = "GET", .pattern = "/v1/contacts/{id}/loyalty",
      .roles = S_EVERYONE,
      .service = CRM_SVC_LOYALTY, .rpc = "loyalty.GetBalance",
      .request = &crm__v1__customer_loyalty_request__descriptor,
      .reply = &crm__v1__balance_reply__descriptor,
      .status = 200, .path = S_LOYALTY_CUSTOMER },
    { .method = "GET", .pattern = "/v1/contacts/{id}/loyalty/lots",
      .roles = S_ANYONE,
      .service = CRM_SVC_LOYALTY, .rpc = "loyalty.ListLots",
      .request = &crm__v1__list_lots_request__descriptor,
      .reply = &crm__v1__list_lots_reply__descriptor,
      .status = 200, .path = S_LOYALTY_CUSTOMER,
      .query = { { "includeSpent", "include_spent", NULL }, S_PAGE } },
    { .method = "GET", .pattern = "/v1/contacts/{id}/loyalty/statement",
      .roles = S_ANYONE,
      .service = CRM_SVC_LOYALTY, .rpc = "loyalty.GetStatement",
      .request = &crm__v1__statement_request__descriptor,
      .reply = &crm__v1__statement_reply__descriptor,
      .status = 200, .path = S_LOYALTY_CUSTOMER, .query = { S_PAGE } },
    { .method = "GET", .pattern = "/v1/contacts/{id}/loyalty/tier",
      .roles = S_EVERYONE,
      .service = CRM_SVC_LOYALTY, .rpc = "loyalty.GetTier",
      .request = &crm__v1__customer_loyalty_request__descriptor,
      .reply = &crm__v1__tier_reply__descriptor,
      .status = 200, .path = S_LOYALTY_CUSTOMER },
    { .method = "GET", .pattern = "/v1/contacts/{id}/loyalty/badges",
      .roles = S_ANYONE,
      .service = CRM_SVC_LOYALTY, .rpc = "loyalty.ListBadges",
      .request = &crm__v1__customer_loyalty_request__descriptor,
      .reply = &crm__v1__list_badges_reply__descriptor,
      .status = 200, .path = S_LOYALTY_CUSTOMER },
    { .method = "POST", .pattern = "/v1/contacts/{id}/loyalty/redemptions",
      .roles = S_CASHIER,
      .flags = GATEWAY_ROUTE_BODY | GATEWAY_ROUTE_IDEMPOTENT,
      .service = CRM_SVC_LOYALTY, .rpc = "loyalty.Redeem",
      .request = &crm__v1__redeem_request__descriptor,
      .reply = &crm__v1__redemption_reply__descriptor,
      .status = 201, .path = S_LOYALTY_CUSTOMER },
    { .method = "GET", .pattern = "/v1/contacts/{id}/loyalty/redemptions",
      .roles = S_ANYONE,
      .service = CRM_SVC_LOYALTY, .rpc = "loyalty.ListRedemptions",
      .request = &crm__v1__list_redemptions_request__descriptor,
      .reply = &crm__v1__list_redemptions_reply__descriptor,
      .status = 200, .path = S_LOYALTY_CUSTOMER, .query = { S_PAGE } },
    { .method = "POST", .pattern = "/v1/contacts/{id}/loyalty/adjustments",
      .roles = GATEWAY_ADMIN,
      .flags = GATEWAY_ROUTE_BODY | GATEWAY_ROUTE_IDEMPOTENT,
      .service = CRM_SVC_LOYALTY, .rpc = "loyalty.Adjust",
      .request = &crm__v1__adjust_request__descriptor,
      .reply = &crm__v1__adjust_reply__descriptor,
      .status = 201, .path = S_LOYALTY_CUSTOMER },
    { .method = "POST", .pattern = "/v1/contacts/{id}/loyalty/activities",
      .roles = S_CASHIER,
      .flags = GATEWAY_ROUTE_BODY | GATEWAY_ROUTE_IDEMPOTENT,
      .service = CRM_SVC_LOYALTY, .rpc = "loyalty.RecordActivity",
      .request = &crm__v1__record_activity_request__descriptor,
      .reply = &crm__v1__activity_reply__descriptor,
      .status = 201, .path = S_LOYALTY_CUSTOMER },
    { .method = "GET", .pattern = "/v1/loyalty/rules",
      .roles = S_ANYONE,
      .service = CRM_SVC_LOYALTY, .rpc = "loyalty.ListRules",
      .request = &crm__v1__list_rules_request__descriptor,
      .reply = &crm__v1__list_rules_reply__descriptor,
      .status = 200, .query = { { "kind", "kind", NULL } } },
    { .method = "POST", .pattern = "/v1/loyalty/rules",
      .roles = GATEWAY_ADMIN,
      .flags = GATEWAY_ROUTE_BODY | GATEWAY_ROUTE_IDEMPOTENT,
      .service = CRM_SVC_LOYALTY, .rpc = "loyalty.PutRule",
      .request = &crm__v1__put_rule_request__descriptor,
      .reply = &crm__v1__rule_reply__descriptor,
      .body_field = "rule", .reply_field = "rule", .status = 200 },
    { .method = "DELETE", .pattern = "/v1/loyalty/rules/{id}",
      .roles = GATEWAY_ADMIN,
      .flags = GATEWAY_ROUTE_IDEMPOTENT | GATEWAY_ROUTE_NO_CONTENT,
      .service = CRM_SVC_LOYALTY, .rpc = "loyalty.DeleteRule",
      .request = &crm__v1__delete_loyalty_request__descriptor,
      .reply = &crm__v1__delete_loyalty_reply__descriptor,
      .status = 204, .path = { { "id", "id", NULL } } },
    { .method = "GET", .pattern = "/v1/loyalty/tiers",
      .roles = S_EVERYONE,
      .service = CRM_SVC_LOYALTY, .rpc = "loyalty.ListTiers",
      .request = &crm__v1__list_tiers_request__descriptor,
      .reply = &crm__v1__list_tiers_reply__descriptor,
      .status = 200 },
    { .method = "POST", .pattern = "/v1/loyalty/tiers",
      .roles = GATEWAY_ADMIN,
      .flags = GATEWAY_ROUTE_BODY | GATEWAY_ROUTE_IDEMPOTENT,
      .service = CRM_SVC_LOYALTY, .rpc = "loyalty.PutTier",
      .request = &crm__v1__put_tier_request__descriptor,
      .reply = &crm__v1__tier_def_reply__descriptor,
      .body_field = "tier", .reply_field = "tier", .status = 200 },
    { .method = "DELETE", .pattern = "/v1/loyalty/tiers/{id}",
      .roles = GATEWAY_ADMIN,
      .flags = GATEWAY_ROUTE_IDEMPOTENT | GATEWAY_ROUTE_NO_CONTENT,
      .service = CRM_SVC_LOYALTY, .rpc = "loyalty.DeleteTier",
      .request = &crm__v1__delete_loyalty_request__descriptor,
      .reply = &crm__v1__delete_loyalty_reply__descriptor,
      .status = 204, .path = { { "id", "id", NULL } } },
    { .method = "GET", .pattern = "/v1/loyalty/rewards",
      .roles = S_EVERYONE,
      .service = CRM_SVC_LOYALTY, .rpc = "loyalty.ListRewards",
      .request = &crm__v1__list_rewards_request__descriptor,
      .reply = &crm__v1__list_rewards_reply__descriptor,
      .status = 200,
      .query = { { "includeInactive", "include_inactive", NULL },
                 { "customerId", "customer_id", NULL }, S_PAGE } },
    { .method = "POST", .pattern = "/v1/loyalty/rewards",
      .roles = GATEWAY_ADMIN,
      .flags = GATEWAY_ROUTE_BODY | GATEWAY_ROUTE_IDEMPOTENT,
      .service = CRM_SVC_LOYALTY, .rpc = "loyalty.PutReward",
      .request = &crm__v1__put_reward_request__descriptor,
      .reply = &crm__v1__reward_reply__descriptor,
      .body_field = "reward", .reply_field = "reward", .status = 200 },
    { .method = "GET", .pattern = "/v1/loyalty/rewards/{id}",
      .roles = S_EVERYONE,
      .service = CRM_SVC_LOYALTY, .rpc = "loyalty.GetReward",
      .request = &crm__v1__get_reward_request__descriptor,
      .reply = &crm__v1__reward_reply__descriptor,
      .reply_field = "reward", .status = 200, .path = { { "id", "id", NULL } } },
    { .method = "GET", .pattern = "/v1/loyalty/redemptions/{code}",
      .roles = S_CASHIER,
      .service = CRM_SVC_LOYALTY, .rpc = "loyalty.GetRedemption",
      .request = &crm__v1__redemption_action_request__descriptor,
      .reply = &crm__v1__redemption_reply__descriptor,
      .status = 200, .path = { { "code", "code", NULL } } },
    { .method = "POST", .pattern = "/v1/loyalty/redemptions/{code}/use",
      .roles = S_CASHIER,
      .flags = GATEWAY_ROUTE_IDEMPOTENT,
      .service = CRM_SVC_LOYALTY, .rpc = "loyalty.MarkRedemptionUsed",
      .request = &crm__v1__redemption_action_request__descriptor,
      .reply = &crm__v1__redemption_reply__descriptor,
      .status = 200, .path = { { "code", "code", NULL } } },
    /* The body ({"reason": ...}) is required, {} when there is no reason: a route either takes a
     * JSON body or ignores what is sent. */
    { .method = "POST", .pattern = "/v1/loyalty/redemptions/{code}/cancel",
      .roles = GATEWAY_ADMIN | GATEWAY_AGENT,
      .flags = GATEWAY_ROUTE_BODY | GATEWAY_ROUTE_IDEMPOTENT,
      .service = CRM_SVC_LOYALTY, .rpc = "loyalty.CancelRedemption",
      .request = &crm__v1__redemption_action_request__descriptor,
      .reply = &crm__v1__redemption_reply__descriptor,
      .status = 200, .path = { { "code", "code", NULL } } },
    { .method = "GET", .pattern = "/v1/loyalty/audit",
      .roles = GATEWAY_ADMIN,
      .service = CRM_SVC_LOYALTY, .rpc = "loyalty.ListAudit",
      .request = &crm__v1__list_audit_request__descriptor,
      .reply = &crm__v1__list_audit_reply__descriptor,
      .status = 200, .query = { S_PAGE } },
    { .method = "POST", .pattern = "/v1/keys",
      .roles = GATEWAY_ADMIN, .flags = GATEWAY_ROUTE_BODY | GATEWAY_ROUTE_LOCATION,
      .local = GATEWAY_LOCAL_KEY_CREATE,
      .request = &crm__v1__create_key_request__descriptor,
      .reply = &crm__v1__create_key_reply__descriptor, .status = 201 },
    { .method = "GET", .pattern = "/v1/keys",
      .roles = GATEWAY_ADMIN, .local = GATEWAY_LOCAL_KEY_LIST,
      .reply = &crm__v1__list_keys_reply__descriptor, .status = 200 },
    { .method = "DELETE", .pattern = "/v1/keys/{id}",
      .roles = GATEWAY_ADMIN, .flags = GATEWAY_ROUTE_IDEMPOTENT | GATEWAY_ROUTE_NO_CONTENT,
      .local = GATEWAY_LOCAL_KEY_REVOKE, .status = 204,
      .path = { { "id", "id", NULL } } },
    { .method = "POST", .pattern = "/v1/events",
      .roles = GATEWAY_ADMIN | GATEWAY_INTEGRATOR,
      .flags = GATEWAY_ROUTE_BODY | GATEWAY_ROUTE_IDEMPOTENT,
      .local = GATEWAY_LOCAL_EVENTS,
      .reply = &crm__v1__ingest_reply__descriptor, .status = 200 },
    { .method = "GET", .pattern = "/healthz", .flags = GATEWAY_ROUTE_PUBLIC,
      .local = GATEWAY_LOCAL_HEALTHZ, .status = 200 },
    { .method = "GET", .pattern = "/readyz", .flags = GATEWAY_ROUTE_PUBLIC,
      .local = GATEWAY_LOCAL_READYZ, .status = 200 },
    { .method = "GET", .pattern = "/metrics", .flags = GATEWAY_ROUTE_PUBLIC,
      .local = GATEWAY_LOCAL_METRICS, .status = 200 },
};

const size_t gateway_routes_count = sizeof gateway_routes / sizeof gateway_routes[0];

/* Matches path against pattern, filling values. Returns true on a match. */
static bool
s_match(const char *pattern, const char *path, gateway_path_values_t *values)
{
    values->count = 0;
    const char *p = pattern;
    const char *s = path;
    while (*p && *s) {
        if (*p != '/' || *s != '/')
            return false;
        p++;
        s++;
        const char *p_end = strchr(p, '/');
        const char *s_end = strchr(s, '/');
        size_t p_len = p_end ? (size_t) (p_end - p) : strlen(p);
        size_t s_len = s_end ? (size_t) (s_end - s) : strlen(s);
        if (p_len >= 2 && p[0] == '{' && p[p_len - 1] == '}') {
            if (s_len == 0 || s_len >= GATEWAY_SEGMENT_MAX)
                return false;
            assert(values->count < GATEWAY_ROUTE_MAX_PATH_PARAMS);
            memcpy(values->values[values->count], s, s_len);
            values->values[values->count][s_len] = '\0';
            values->count++;
        } else if (p_len != s_len || memcmp(p, s, p_len) != 0) {
            return false;
        }
        p += p_len;
        s += s_len;
    }
    return *p == '\0' && *s == '\0';
}

/* Appends a method to the Allow list, once. */
static void
s_allow_add(char allow[GATEWAY_ALLOW_MAX], const char *method)
{
    if (strstr(allow, method))
        return;
    size_t len = strlen(allow);
    snprintf(allow + len, GATEWAY_ALLOW_MAX - len, "%s%s", len ? ", " : "", method);
}

int
gateway_route_find(const char *method, const char *path, const gateway_route_t **route_p,
                   gateway_path_values_t *values, char allow[GATEWAY_ALLOW_MAX])
{
    assert(method && path && route_p && values && allow);
    *route_p = NULL;
    allow[0] = '\0';
    if (strcmp(method, "HEAD") == 0)
        method = "GET";
    if (strnlen(path, GATEWAY_PATH_MAX) >= GATEWAY_PATH_MAX)
        return CRM_ENOTFOUND;
    bool path_known = false;
    gateway_path_values_t scratch;
    for (size_t i = 0; i < gateway_routes_count; i++) {
        const gateway_route_t *route = &gateway_routes[i];
        if (!s_match(route->pattern, path, &scratch))
            continue;
        if (strcmp(route->method, method) == 0) {
            *route_p = route;
            *values = scratch;
            allow[0] = '\0';
            return 0;
        }
        path_known = true;
        s_allow_add(allow, route->method);
        if (strcmp(route->method, "GET") == 0)
            s_allow_add(allow, "HEAD");
    }
    return path_known ? CRM_EINVALID : CRM_ENOTFOUND;
}

bool
gateway_route_allows(const gateway_route_t *route, Crm__V1__Role role)
{
    assert(route);
    if (route->flags & GATEWAY_ROUTE_PUBLIC)
        return true;
    if ((unsigned) role >= sizeof(unsigned) * 8 || role == CRM__V1__ROLE__ROLE_UNSPECIFIED)
        return false;
    return (route->roles & GATEWAY_ROLE_BIT(role)) != 0;
}

size_t
gateway_route_index(const gateway_route_t *route)
{
    assert(route >= gateway_routes && route < gateway_routes + gateway_routes_count);
    return (size_t) (route - gateway_routes);
}

const char *
gateway_role_name(Crm__V1__Role role)
{
    switch (role) {
    case CRM__V1__ROLE__ROLE_ADMIN:      return "admin";
    case CRM__V1__ROLE__ROLE_AGENT:      return "agent";
    case CRM__V1__ROLE__ROLE_ANALYST:    return "analyst";
    case CRM__V1__ROLE__ROLE_INTEGRATOR: return "integrator";
    default:                             return "unspecified";
    }
}
