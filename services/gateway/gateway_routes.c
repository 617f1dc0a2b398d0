/* gateway_routes.c: the route table and path matching. */
#include "gateway_routes.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "crm/v1/contacts_api.pb-c.h"
#include "crm/v1/analytics_api.pb-c.h"
#include "crm/v1/ingest.pb-c.h"
#include "crm/v1/loyalty_api.pb-c.h"
#include "crm/v1/feedback_api.pb-c.h"
#include "crm/v1/notifier_api.pb-c.h"
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
 * "admin" as well). Feedback (services/feedback/README.md): only admin manages surveys and invites
 * a segment; agents file and handle complaints (transitions, replies, notes), invite one customer
 * and record answers given by phone; analysts read; integrators file complaints and read a
 * customer's invitations; the answer form /v1/answers/{token} is public (the single-use token is
 * the credential). Notifier (services/notifier/README.md): only admin manages rules, templates,
 * staff, webhook endpoints and retries dead letters (the service checks the role "admin" as well);
 * staff read rules, templates, the delivery log and reminders; agents read the staff directory and
 * create and cancel reminders; agents and integrators read and mark a customer's in-app inbox.
 * Analytics (services/analytics/README.md): analysts and admin read the figures, series, cohorts,
 * the RFM distribution, the at-risk list, a customer's scores and the status; only admin
 * recomputes the RFM scores and rebuilds the figures (the service checks the role "admin" as well). */
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
    { .method = "GET", .pattern = "/v1/surveys",
      .roles = S_ANYONE,
      .service = CRM_SVC_FEEDBACK, .rpc = "feedback.ListSurveys",
      .request = &crm__v1__list_surveys_request__descriptor,
      .reply = &crm__v1__list_surveys_reply__descriptor,
      .status = 200, .query = { { "includeInactive", "include_inactive", NULL } } },
    { .method = "POST", .pattern = "/v1/surveys",
      .roles = GATEWAY_ADMIN,
      .flags = GATEWAY_ROUTE_BODY | GATEWAY_ROUTE_IDEMPOTENT,
      .service = CRM_SVC_FEEDBACK, .rpc = "feedback.PutSurvey",
      .request = &crm__v1__put_survey_request__descriptor,
      .reply = &crm__v1__survey_reply__descriptor,
      .body_field = "survey", .reply_field = "survey", .status = 200 },
    { .method = "GET", .pattern = "/v1/surveys/{id}",
      .roles = S_ANYONE,
      .service = CRM_SVC_FEEDBACK, .rpc = "feedback.GetSurvey",
      .request = &crm__v1__get_survey_request__descriptor,
      .reply = &crm__v1__survey_reply__descriptor,
      .reply_field = "survey", .status = 200, .path = { { "id", "id", NULL } } },
    { .method = "POST", .pattern = "/v1/surveys/{id}/invitations",
      .roles = GATEWAY_ADMIN,
      .flags = GATEWAY_ROUTE_BODY | GATEWAY_ROUTE_IDEMPOTENT,
      .service = CRM_SVC_FEEDBACK, .rpc = "feedback.InviteSegment",
      .request = &crm__v1__invite_segment_request__descriptor,
      .reply = &crm__v1__invite_segment_reply__descriptor,
      .status = 200, .path = { { "id", "survey_id", NULL } } },
    { .method = "POST", .pattern = "/v1/contacts/{id}/invitations",
      .roles = GATEWAY_ADMIN | GATEWAY_AGENT,
      .flags = GATEWAY_ROUTE_BODY | GATEWAY_ROUTE_IDEMPOTENT,
      .service = CRM_SVC_FEEDBACK, .rpc = "feedback.Invite",
      .request = &crm__v1__invite_request__descriptor,
      .reply = &crm__v1__invitation_reply__descriptor,
      .reply_field = "invitation", .status = 201, .path = { { "id", "customer_id", NULL } } },
    { .method = "GET", .pattern = "/v1/contacts/{id}/invitations",
      .roles = S_EVERYONE,
      .service = CRM_SVC_FEEDBACK, .rpc = "feedback.ListInvitations",
      .request = &crm__v1__list_invitations_request__descriptor,
      .reply = &crm__v1__list_invitations_reply__descriptor,
      .status = 200, .path = { { "id", "customer_id", NULL } }, .query = { S_PAGE } },
    { .method = "GET", .pattern = "/v1/contacts/{id}/answers",
      .roles = S_ANYONE,
      .service = CRM_SVC_FEEDBACK, .rpc = "feedback.ListAnswers",
      .request = &crm__v1__list_answers_request__descriptor,
      .reply = &crm__v1__list_answers_reply__descriptor,
      .status = 200, .path = { { "id", "customer_id", NULL } }, .query = { S_PAGE } },
    { .method = "POST", .pattern = "/v1/contacts/{id}/answers",
      .roles = GATEWAY_ADMIN | GATEWAY_AGENT,
      .flags = GATEWAY_ROUTE_BODY | GATEWAY_ROUTE_IDEMPOTENT,
      .service = CRM_SVC_FEEDBACK, .rpc = "feedback.RecordAnswer",
      .request = &crm__v1__record_answer_request__descriptor,
      .reply = &crm__v1__answer_reply__descriptor,
      .reply_field = "answer", .status = 201, .path = { { "id", "customer_id", NULL } } },
    /* The customer's own answer form: no API key; the single-use token is the credential. */
    { .method = "GET", .pattern = "/v1/answers/{token}",
      .roles = 0, .flags = GATEWAY_ROUTE_PUBLIC,
      .service = CRM_SVC_FEEDBACK, .rpc = "feedback.GetQuestion",
      .request = &crm__v1__question_request__descriptor,
      .reply = &crm__v1__question_reply__descriptor,
      .status = 200, .path = { { "token", "token", NULL } }, .query = { { "locale", "locale", NULL } } },
    { .method = "POST", .pattern = "/v1/answers/{token}",
      .roles = 0, .flags = GATEWAY_ROUTE_PUBLIC | GATEWAY_ROUTE_BODY,
      .service = CRM_SVC_FEEDBACK, .rpc = "feedback.SubmitAnswer",
      .request = &crm__v1__submit_answer_request__descriptor,
      .reply = &crm__v1__submit_answer_reply__descriptor,
      .status = 201, .path = { { "token", "token", NULL } } },
    { .method = "POST", .pattern = "/v1/complaints",
      .roles = GATEWAY_ADMIN | GATEWAY_AGENT | GATEWAY_INTEGRATOR,
      .flags = GATEWAY_ROUTE_BODY | GATEWAY_ROUTE_LOCATION | GATEWAY_ROUTE_IDEMPOTENT,
      .service = CRM_SVC_FEEDBACK, .rpc = "feedback.FileComplaint",
      .request = &crm__v1__file_complaint_request__descriptor,
      .reply = &crm__v1__complaint_reply__descriptor,
      .body_field = "complaint", .reply_field = "complaint", .status = 201 },
    { .method = "GET", .pattern = "/v1/complaints",
      .roles = S_ANYONE,
      .service = CRM_SVC_FEEDBACK, .rpc = "feedback.ListComplaints",
      .request = &crm__v1__list_complaints_request__descriptor,
      .reply = &crm__v1__list_complaints_reply__descriptor,
      .status = 200,
      .query = { { "status", "status", NULL }, { "category", "category", NULL },
                 { "priority", "priority", NULL }, { "assignee", "assignee", NULL },
                 { "team", "team", NULL }, { "overdue", "overdue", NULL },
                 { "customerId", "customer_id", NULL }, S_PAGE } },
    { .method = "GET", .pattern = "/v1/complaints/{id}",
      .roles = S_ANYONE,
      .service = CRM_SVC_FEEDBACK, .rpc = "feedback.GetComplaint",
      .request = &crm__v1__get_complaint_request__descriptor,
      .reply = &crm__v1__complaint_reply__descriptor,
      .reply_field = "complaint", .status = 200, .path = { { "id", "id", NULL } } },
    { .method = "POST", .pattern = "/v1/complaints/{id}/transitions",
      .roles = GATEWAY_ADMIN | GATEWAY_AGENT,
      .flags = GATEWAY_ROUTE_BODY | GATEWAY_ROUTE_IDEMPOTENT,
      .service = CRM_SVC_FEEDBACK, .rpc = "feedback.TransitionComplaint",
      .request = &crm__v1__transition_complaint_request__descriptor,
      .reply = &crm__v1__complaint_reply__descriptor,
      .reply_field = "complaint", .status = 200, .path = { { "id", "complaint_id", NULL } } },
    { .method = "POST", .pattern = "/v1/complaints/{id}/replies",
      .roles = GATEWAY_ADMIN | GATEWAY_AGENT,
      .flags = GATEWAY_ROUTE_BODY | GATEWAY_ROUTE_IDEMPOTENT,
      .service = CRM_SVC_FEEDBACK, .rpc = "feedback.ReplyComplaint",
      .request = &crm__v1__complaint_text_request__descriptor,
      .reply = &crm__v1__complaint_reply__descriptor,
      .reply_field = "complaint", .status = 201, .path = { { "id", "complaint_id", NULL } } },
    { .method = "POST", .pattern = "/v1/complaints/{id}/notes",
      .roles = GATEWAY_ADMIN | GATEWAY_AGENT,
      .flags = GATEWAY_ROUTE_BODY | GATEWAY_ROUTE_IDEMPOTENT,
      .service = CRM_SVC_FEEDBACK, .rpc = "feedback.AddComplaintNote",
      .request = &crm__v1__complaint_text_request__descriptor,
      .reply = &crm__v1__complaint_reply__descriptor,
      .reply_field = "complaint", .status = 201, .path = { { "id", "complaint_id", NULL } } },
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
    /* Notifier (services/notifier/README.md, "HTTP routes for the gateway's table"). */
    { .method = "GET", .pattern = "/v1/notifier/rules",
      .roles = S_ANYONE,
      .service = CRM_SVC_NOTIFIER, .rpc = "notifier.ListRules",
      .request = &crm__v1__list_notify_rules_request__descriptor,
      .reply = &crm__v1__list_notify_rules_reply__descriptor,
      .status = 200, .query = { { "eventType", "event_type", NULL } } },
    { .method = "POST", .pattern = "/v1/notifier/rules",
      .roles = GATEWAY_ADMIN,
      .flags = GATEWAY_ROUTE_BODY | GATEWAY_ROUTE_IDEMPOTENT,
      .service = CRM_SVC_NOTIFIER, .rpc = "notifier.PutRule",
      .request = &crm__v1__put_notify_rule_request__descriptor,
      .reply = &crm__v1__notify_rule_reply__descriptor,
      .body_field = "rule", .reply_field = "rule", .status = 200 },
    { .method = "DELETE", .pattern = "/v1/notifier/rules/{id}",
      .roles = GATEWAY_ADMIN,
      .flags = GATEWAY_ROUTE_IDEMPOTENT | GATEWAY_ROUTE_NO_CONTENT,
      .service = CRM_SVC_NOTIFIER, .rpc = "notifier.DeleteRule",
      .request = &crm__v1__delete_notifier_request__descriptor,
      .reply = &crm__v1__delete_notifier_reply__descriptor,
      .status = 204, .path = { { "id", "id", NULL } } },
    { .method = "GET", .pattern = "/v1/notifier/templates",
      .roles = S_ANYONE,
      .service = CRM_SVC_NOTIFIER, .rpc = "notifier.ListTemplates",
      .request = &crm__v1__list_templates_request__descriptor,
      .reply = &crm__v1__list_templates_reply__descriptor,
      .status = 200, .query = { { "id", "id", NULL } } },
    { .method = "POST", .pattern = "/v1/notifier/templates",
      .roles = GATEWAY_ADMIN,
      .flags = GATEWAY_ROUTE_BODY | GATEWAY_ROUTE_IDEMPOTENT,
      .service = CRM_SVC_NOTIFIER, .rpc = "notifier.PutTemplate",
      .request = &crm__v1__put_template_request__descriptor,
      .reply = &crm__v1__template_reply__descriptor,
      .body_field = "template", .reply_field = "template", .status = 200 },
    { .method = "DELETE", .pattern = "/v1/notifier/templates/{id}/{locale}",
      .roles = GATEWAY_ADMIN,
      .flags = GATEWAY_ROUTE_IDEMPOTENT | GATEWAY_ROUTE_NO_CONTENT,
      .service = CRM_SVC_NOTIFIER, .rpc = "notifier.DeleteTemplate",
      .request = &crm__v1__delete_notifier_request__descriptor,
      .reply = &crm__v1__delete_notifier_reply__descriptor,
      .status = 204, .path = { { "id", "id", NULL }, { "locale", "locale", NULL } } },
    { .method = "GET", .pattern = "/v1/notifier/staff",
      .roles = GATEWAY_ADMIN | GATEWAY_AGENT,
      .service = CRM_SVC_NOTIFIER, .rpc = "notifier.ListStaff",
      .request = &crm__v1__list_staff_request__descriptor,
      .reply = &crm__v1__list_staff_reply__descriptor,
      .status = 200, .query = { { "team", "team", NULL } } },
    { .method = "POST", .pattern = "/v1/notifier/staff",
      .roles = GATEWAY_ADMIN,
      .flags = GATEWAY_ROUTE_BODY | GATEWAY_ROUTE_IDEMPOTENT,
      .service = CRM_SVC_NOTIFIER, .rpc = "notifier.PutStaff",
      .request = &crm__v1__put_staff_request__descriptor,
      .reply = &crm__v1__staff_reply__descriptor,
      .body_field = "member", .reply_field = "member", .status = 200 },
    { .method = "DELETE", .pattern = "/v1/notifier/staff/{id}",
      .roles = GATEWAY_ADMIN,
      .flags = GATEWAY_ROUTE_IDEMPOTENT | GATEWAY_ROUTE_NO_CONTENT,
      .service = CRM_SVC_NOTIFIER, .rpc = "notifier.DeleteStaff",
      .request = &crm__v1__delete_notifier_request__descriptor,
      .reply = &crm__v1__delete_notifier_reply__descriptor,
      .status = 204, .path = { { "id", "id", NULL } } },
    { .method = "GET", .pattern = "/v1/notifier/staff/{id}/inbox",
      .roles = GATEWAY_ADMIN | GATEWAY_AGENT,
      .service = CRM_SVC_NOTIFIER, .rpc = "notifier.ListInbox",
      .request = &crm__v1__list_inbox_request__descriptor,
      .reply = &crm__v1__list_inbox_reply__descriptor,
      .status = 200, .path = { { "id", "recipient_id", NULL } },
      .query = { { "unreadOnly", "unread_only", NULL }, S_PAGE } },
    { .method = "POST", .pattern = "/v1/notifier/staff/{id}/inbox/read",
      .roles = GATEWAY_ADMIN | GATEWAY_AGENT,
      .flags = GATEWAY_ROUTE_BODY | GATEWAY_ROUTE_IDEMPOTENT,
      .service = CRM_SVC_NOTIFIER, .rpc = "notifier.MarkRead",
      .request = &crm__v1__mark_read_request__descriptor,
      .reply = &crm__v1__mark_read_reply__descriptor,
      .status = 200, .path = { { "id", "recipient_id", NULL } } },
    { .method = "GET", .pattern = "/v1/notifier/webhooks",
      .roles = GATEWAY_ADMIN,
      .service = CRM_SVC_NOTIFIER, .rpc = "notifier.ListWebhooks",
      .request = &crm__v1__list_webhooks_request__descriptor,
      .reply = &crm__v1__list_webhooks_reply__descriptor,
      .status = 200 },
    { .method = "POST", .pattern = "/v1/notifier/webhooks",
      .roles = GATEWAY_ADMIN,
      .flags = GATEWAY_ROUTE_BODY | GATEWAY_ROUTE_IDEMPOTENT,
      .service = CRM_SVC_NOTIFIER, .rpc = "notifier.PutWebhook",
      .request = &crm__v1__put_webhook_request__descriptor,
      .reply = &crm__v1__webhook_reply__descriptor,
      .body_field = "webhook", .reply_field = "webhook", .status = 200 },
    { .method = "DELETE", .pattern = "/v1/notifier/webhooks/{id}",
      .roles = GATEWAY_ADMIN,
      .flags = GATEWAY_ROUTE_IDEMPOTENT | GATEWAY_ROUTE_NO_CONTENT,
      .service = CRM_SVC_NOTIFIER, .rpc = "notifier.DeleteWebhook",
      .request = &crm__v1__delete_notifier_request__descriptor,
      .reply = &crm__v1__delete_notifier_reply__descriptor,
      .status = 204, .path = { { "id", "id", NULL } } },
    { .method = "GET", .pattern = "/v1/notifier/deliveries",
      .roles = S_ANYONE,
      .service = CRM_SVC_NOTIFIER, .rpc = "notifier.ListDeliveries",
      .request = &crm__v1__list_deliveries_request__descriptor,
      .reply = &crm__v1__list_deliveries_reply__descriptor,
      .status = 200,
      .query = { { "ruleId", "rule_id", NULL }, { "customerId", "customer_id", NULL },
                 { "status", "status", NULL }, S_PAGE } },
    { .method = "POST", .pattern = "/v1/notifier/deliveries/{id}/retry",
      .roles = GATEWAY_ADMIN,
      .flags = GATEWAY_ROUTE_IDEMPOTENT,
      .service = CRM_SVC_NOTIFIER, .rpc = "notifier.RetryDelivery",
      .request = &crm__v1__retry_delivery_request__descriptor,
      .reply = &crm__v1__delivery_reply__descriptor,
      .reply_field = "delivery", .status = 200, .path = { { "id", "id", NULL } } },
    { .method = "GET", .pattern = "/v1/contacts/{id}/notifications",
      .roles = S_ANYONE,
      .service = CRM_SVC_NOTIFIER, .rpc = "notifier.ListDeliveries",
      .request = &crm__v1__list_deliveries_request__descriptor,
      .reply = &crm__v1__list_deliveries_reply__descriptor,
      .status = 200, .path = { { "id", "customer_id", NULL } },
      .query = { { "ruleId", "rule_id", NULL }, { "status", "status", NULL }, S_PAGE } },
    { .method = "POST", .pattern = "/v1/contacts/{id}/reminders",
      .roles = GATEWAY_ADMIN | GATEWAY_AGENT,
      .flags = GATEWAY_ROUTE_BODY | GATEWAY_ROUTE_IDEMPOTENT,
      .service = CRM_SVC_NOTIFIER, .rpc = "notifier.CreateReminder",
      .request = &crm__v1__create_reminder_request__descriptor,
      .reply = &crm__v1__reminder_reply__descriptor,
      .body_field = "reminder", .reply_field = "reminder", .status = 201,
      .path = { { "id", "customer_id", NULL } } },
    { .method = "GET", .pattern = "/v1/contacts/{id}/reminders",
      .roles = S_ANYONE,
      .service = CRM_SVC_NOTIFIER, .rpc = "notifier.ListReminders",
      .request = &crm__v1__list_reminders_request__descriptor,
      .reply = &crm__v1__list_reminders_reply__descriptor,
      .status = 200, .path = { { "id", "customer_id", NULL } },
      .query = { { "includeDone", "include_done", NULL }, S_PAGE } },
    { .method = "POST", .pattern = "/v1/contacts/{id}/reminders/{reminderId}/cancel",
      .roles = GATEWAY_ADMIN | GATEWAY_AGENT,
      .flags = GATEWAY_ROUTE_IDEMPOTENT,
      .service = CRM_SVC_NOTIFIER, .rpc = "notifier.CancelReminder",
      .request = &crm__v1__cancel_reminder_request__descriptor,
      .reply = &crm__v1__reminder_reply__descriptor,
      .reply_field = "reminder", .status = 200,
      .path = { { "id", "customer_id", NULL }, { "reminderId", "id", NULL } } },
    { .method = "GET", .pattern = "/v1/contacts/{id}/inbox",
      .roles = S_CASHIER,
      .service = CRM_SVC_NOTIFIER, .rpc = "notifier.ListInbox",
      .request = &crm__v1__list_inbox_request__descriptor,
      .reply = &crm__v1__list_inbox_reply__descriptor,
      .status = 200, .path = { { "id", "recipient_id", NULL } },
      .query = { { "unreadOnly", "unread_only", NULL }, S_PAGE } },
    { .method = "POST", .pattern = "/v1/contacts/{id}/inbox/read",
      .roles = S_CASHIER,
      .flags = GATEWAY_ROUTE_BODY | GATEWAY_ROUTE_IDEMPOTENT,
      .service = CRM_SVC_NOTIFIER, .rpc = "notifier.MarkRead",
      .request = &crm__v1__mark_read_request__descriptor,
      .reply = &crm__v1__mark_read_reply__descriptor,
      .status = 200, .path = { { "id", "recipient_id", NULL } } },
    { .method = "POST", .pattern = "/v1/events",
      .roles = GATEWAY_ADMIN | GATEWAY_INTEGRATOR,
      .flags = GATEWAY_ROUTE_BODY | GATEWAY_ROUTE_IDEMPOTENT,
      .local = GATEWAY_LOCAL_EVENTS,
      .reply = &crm__v1__ingest_reply__descriptor, .status = 200 },
    /* Analytics (services/analytics/README.md, "HTTP routes for the gateway's table"). */
    { .method = "GET", .pattern = "/v1/analytics/summary",
      .roles = GATEWAY_ADMIN | GATEWAY_ANALYST,
      .service = CRM_SVC_ANALYTICS, .rpc = "analytics.GetSummary",
      .request = &crm__v1__summary_request__descriptor,
      .reply = &crm__v1__summary_reply__descriptor,
      .reply_field = "summary", .status = 200,
      .query = { { "from", "from", NULL }, { "to", "to", NULL }, { "tier", "tier", NULL },
                 { "needType", "need_type", NULL }, { "owner", "owner", NULL } } },
    { .method = "GET", .pattern = "/v1/analytics/series",
      .roles = GATEWAY_ADMIN | GATEWAY_ANALYST,
      .service = CRM_SVC_ANALYTICS, .rpc = "analytics.GetSeries",
      .request = &crm__v1__series_request__descriptor,
      .reply = &crm__v1__series_reply__descriptor,
      .status = 200,
      .query = { { "figure", "figure", NULL }, { "granularity", "granularity", NULL },
                 { "from", "from", NULL }, { "to", "to", NULL }, { "tier", "tier", NULL },
                 { "needType", "need_type", NULL }, { "owner", "owner", NULL } } },
    { .method = "GET", .pattern = "/v1/analytics/cohorts",
      .roles = GATEWAY_ADMIN | GATEWAY_ANALYST,
      .service = CRM_SVC_ANALYTICS, .rpc = "analytics.GetCohorts",
      .request = &crm__v1__cohort_request__descriptor,
      .reply = &crm__v1__cohort_reply__descriptor,
      .status = 200,
      .query = { { "from", "from", NULL }, { "to", "to", NULL }, { "tier", "tier", NULL },
                 { "needType", "need_type", NULL }, { "owner", "owner", NULL } } },
    { .method = "GET", .pattern = "/v1/analytics/at-risk",
      .roles = GATEWAY_ADMIN | GATEWAY_ANALYST,
      .service = CRM_SVC_ANALYTICS, .rpc = "analytics.ListAtRisk",
      .request = &crm__v1__list_at_risk_request__descriptor,
      .reply = &crm__v1__list_at_risk_reply__descriptor,
      .status = 200,
      .query = { { "minScore", "min_score", NULL }, S_PAGE } },
    { .method = "GET", .pattern = "/v1/analytics/rfm",
      .roles = GATEWAY_ADMIN | GATEWAY_ANALYST,
      .service = CRM_SVC_ANALYTICS, .rpc = "analytics.GetRfmDistribution",
      .request = &crm__v1__rfm_request__descriptor,
      .reply = &crm__v1__rfm_distribution__descriptor,
      .status = 200 },
    /* The body is required, {} or {"asOf": ...}: a route either takes a JSON body or ignores it. */
    { .method = "POST", .pattern = "/v1/analytics/rfm/recompute",
      .roles = GATEWAY_ADMIN, .flags = GATEWAY_ROUTE_BODY,
      .service = CRM_SVC_ANALYTICS, .rpc = "analytics.RecomputeRfm",
      .request = &crm__v1__recompute_rfm_request__descriptor,
      .reply = &crm__v1__rfm_distribution__descriptor,
      .status = 200 },
    { .method = "GET", .pattern = "/v1/analytics/customers/{id}",
      .roles = GATEWAY_ADMIN | GATEWAY_ANALYST,
      .service = CRM_SVC_ANALYTICS, .rpc = "analytics.GetCustomerScores",
      .request = &crm__v1__customer_scores_request__descriptor,
      .reply = &crm__v1__customer_scores_reply__descriptor,
      .reply_field = "scores", .status = 200,
      .path = { { "id", "customer_id", NULL } }, .query = { { "asOf", "as_of", NULL } } },
    { .method = "GET", .pattern = "/v1/contacts/{id}/analytics",
      .roles = GATEWAY_ADMIN | GATEWAY_ANALYST,
      .service = CRM_SVC_ANALYTICS, .rpc = "analytics.GetCustomerScores",
      .request = &crm__v1__customer_scores_request__descriptor,
      .reply = &crm__v1__customer_scores_reply__descriptor,
      .reply_field = "scores", .status = 200,
      .path = { { "id", "customer_id", NULL } }, .query = { { "asOf", "as_of", NULL } } },
    { .method = "POST", .pattern = "/v1/analytics/rebuild",
      .roles = GATEWAY_ADMIN, .flags = GATEWAY_ROUTE_BODY,
      .service = CRM_SVC_ANALYTICS, .rpc = "analytics.Rebuild",
      .request = &crm__v1__rebuild_request__descriptor,
      .reply = &crm__v1__rebuild_reply__descriptor,
      .status = 202 },
    { .method = "GET", .pattern = "/v1/analytics/status",
      .roles = GATEWAY_ADMIN | GATEWAY_ANALYST,
      .service = CRM_SVC_ANALYTICS, .rpc = "analytics.GetStatus",
      .request = &crm__v1__status_request__descriptor,
      .reply = &crm__v1__status_reply__descriptor,
      .status = 200 },
    { .method = "GET", .pattern = "/healthz", .flags = GATEWAY_ROUTE_PUBLIC,
      .local = GATEWAY_LOCAL_HEALTHZ, .status = 200 },
    { .method = "GET", .pattern = "/readyz", .flags = GATEWAY_ROUTE_PUBLIC,
      .local = GATEWAY_LOCAL_READYZ, .status = 200 },
    { .method = "GET", .pattern = "/metrics", .flags = GATEWAY_ROUTE_PUBLIC,
      .local = GATEWAY_LOCAL_METRICS, .status = 200 },
    { .method = "GET", .pattern = "/v1/openapi.json", .flags = GATEWAY_ROUTE_PUBLIC,
      .local = GATEWAY_LOCAL_OPENAPI, .status = 200 },
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
