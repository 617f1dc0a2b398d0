/* test_feedback_api.c: feedback through the gateway with real processes: an order brings an invitation whose token answers once, a complaint's whole workflow, illegal moves, an SLA breach raised after a restart, integrator complaints. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crm/v1/feedback.pb-c.h"
#include "crm_event.h"
#include "crm_suite.h"
#include "crm_time.h"

#define ADMIN CRM_SUITE_ADMIN_KEY
#define APPLY_WAIT_MS 30000           /* ingest -> contacts -> feedback, under the sanitizers */
#define POLL_MS 50
#define SECRET_SIZE 128
#define ID_SIZE 32
#define TOKEN_SIZE 64
#define EVENTS_MAX 64
#define SLA_FIRST_RESPONSE_S 3        /* CRM_FEEDBACK_SLA_NORMAL_FIRST_RESPONSE in this suite */
#define STOPPED_S 4                   /* how long feedback stays down: past the first-response due time */

static crm_suite_t suite;

/* Adds a setting to the environment the suite starts services with. */
static void s_env(const char *name, const char *value)
{
    size_t n = 0;
    while (suite.env[n])
        n++;
    cr_assert_lt(n + 1, CRM_SUITE_ENV_MAX);
    snprintf(suite.env_text[n], CRM_SUITE_ENV_SIZE, "%s=%s", name, value);
    suite.env[n] = suite.env_text[n];
    suite.env[n + 1] = NULL;
}

static void s_setup(void)
{
    crm_suite_init(&suite);
    char url[128];
    snprintf(url, sizeof url, "%s/v1/answers/", suite.base_url);
    s_env("CRM_FEEDBACK_ANSWER_URL_BASE", url);
    s_env("CRM_FEEDBACK_INVITE_DELAY", "1s");
    s_env("CRM_FEEDBACK_BUSINESS_HOURS", "24x7");
    s_env("CRM_FEEDBACK_SLA_NORMAL_FIRST_RESPONSE", "3s");
    s_env("CRM_FEEDBACK_SLA_NORMAL_RESOLUTION", "1h");
    s_env("CRM_FEEDBACK_TICK", "100ms");
    crm_suite_start(&suite, CRM_SVC_CONTACTS);
    crm_suite_start(&suite, CRM_SVC_FEEDBACK);
    crm_suite_start(&suite, CRM_SVC_GATEWAY);
}

static void s_teardown(void)
{
    crm_suite_destroy(&suite);
    crm_test_check_leaks();
}

TestSuite(feedback_api, .init = s_setup, .fini = s_teardown, .timeout = 120);

static const char *s_str(json_t *obj, const char *key)
{
    const char *v = json_string_value(json_object_get(obj, key));
    return v ? v : "";
}

/* Sends method path with key and body; asserts status; returns the answer's JSON (caller decrefs). */
static json_t *s_call(const char *method, const char *path, const char *key, const char *body, long status)
{
    return crm_suite_call(&suite, method, path, key, body, status);
}

static void s_make_key(const char *role, char *secret)
{
    char body[128];
    snprintf(body, sizeof body, "{\"name\":\"feedback-%s\",\"role\":\"%s\"}", role, role);
    json_t *json = s_call("POST", "/v1/keys", ADMIN, body, 201);
    snprintf(secret, SECRET_SIZE, "%s", s_str(json, "secret"));
    json_decref(json);
}

/* Sends one CloudEvent as the integrator; returns its outcome's text (size 32). */
static void s_ingest(const char *key, const char *id, const char *type, const char *data, char *outcome)
{
    char body[2048];
    snprintf(body, sizeof body,
             "{\"specversion\":\"1.0\",\"id\":\"%s\",\"source\":\"/shop/hz-01\",\"type\":\"%s\",\"data\":%s}", id,
             type, data);
    const char *const structured[] = { "Content-Type: application/cloudevents+json", NULL };
    crm_http_response_t r;
    crm_suite_http(&suite, "POST", "/v1/events", key, body, structured, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    json_t *json = crm_http_json(&r);
    json_t *result = json_array_get(json_object_get(json, "results"), 0);
    snprintf(outcome, 32, "%s", s_str(result, "outcome"));
    json_decref(json);
    crm_http_response_clear(&r);
}

/* Waits until contacts knows the customer with email; writes its id. */
static void s_customer_id(const char *email, char *id)
{
    char path[256];
    snprintf(path, sizeof path, "/v1/contacts?email=%s", email);
    long long deadline = crm_test_now_ms() + APPLY_WAIT_MS;
    id[0] = '\0';
    while (!id[0] && crm_test_now_ms() < deadline) {
        json_t *json = s_call("GET", path, ADMIN, NULL, 200);
        json_t *c = json_array_get(json_object_get(json, "customers"), 0);
        if (c)
            snprintf(id, ID_SIZE, "%s", s_str(c, "id"));
        json_decref(json);
        if (!id[0])
            usleep(POLL_MS * 1000);
    }
    cr_assert(id[0], "contacts never matched %s", email);
}

/* Creates a customer through the API; writes its id. */
static void s_create_customer(const char *email, const char *locale, char *id)
{
    char body[256];
    snprintf(body, sizeof body, "{\"name\":\"Li Lei\",\"email\":\"%s\",\"locale\":\"%s\"}", email, locale);
    json_t *json = s_call("POST", "/v1/contacts", ADMIN, body, 201);
    snprintf(id, ID_SIZE, "%s", s_str(json, "id"));
    json_decref(json);
    cr_assert_eq(strlen(id), 26);
}

/* Polls GET path until the array `field` of its answer has at least n items; returns the answer
 * (caller decrefs). */
static json_t *s_wait_items(const char *path, const char *field, size_t n)
{
    long long deadline = crm_test_now_ms() + APPLY_WAIT_MS;
    for (;;) {
        json_t *json = s_call("GET", path, ADMIN, NULL, 200);
        if (json_array_size(json_object_get(json, field)) >= n)
            return json;
        json_decref(json);
        cr_assert_lt(crm_test_now_ms(), deadline, "%s never had %zu %s", path, n, field);
        usleep(POLL_MS * 1000);
    }
}

/* The token of customer_id's newest invitation, from the invitation.created events feedback
 * published (what the notifier reads). */
static void s_token(const char *customer_id, char *token, char *answer_url)
{
    Crm__V1__Event *events[EVENTS_MAX];
    size_t n = crm_suite_events(&suite, CRM_SVC_FEEDBACK, "crm.feedback.invitation.created.v1", events, EVENTS_MAX);
    token[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        Crm__V1__InvitationCreated *m = NULL;
        cr_assert_eq(crm_event_data(events[i], &crm__v1__invitation_created__descriptor, (ProtobufCMessage **) &m), 0);
        cr_assert_str_eq(events[i]->subject, m->invitation->customer_id);
        if (strcmp(m->invitation->customer_id, customer_id) == 0) {
            snprintf(token, TOKEN_SIZE, "%s", m->invitation->token);
            snprintf(answer_url, 256, "%s", m->invitation->answer_url);
        }
        protobuf_c_message_free_unpacked(&m->base, NULL);
        crm_event_destroy(&events[i]);
    }
    cr_assert(token[0], "no invitation.created event for %s", customer_id);
}

Test(feedback_api, an_order_brings_an_invitation_whose_token_answers_once)
{
    char integrator[SECRET_SIZE], outcome[32];
    s_make_key("integrator", integrator);
    s_ingest(integrator, "order-evt-1", "order.placed",
             "{\"orderId\":\"SO-1001\",\"customer\":{\"email\":\"wang@example.com\"},\"amountMinor\":\"25900\","
             "\"currency\":\"CNY\"}", outcome);
    cr_assert_str_eq(outcome, "accepted");
    char customer[ID_SIZE];
    s_customer_id("wang@example.com", customer);
    char path[256];
    snprintf(path, sizeof path, "/v1/contacts/%s/invitations", customer);
    json_t *list = s_wait_items(path, "invitations", 1);
    json_t *inv = json_array_get(json_object_get(list, "invitations"), 0);
    cr_assert_str_eq(s_str(inv, "surveyId"), "nps");
    cr_assert_str_eq(s_str(inv, "trigger"), "purchase");
    cr_assert_str_eq(s_str(inv, "status"), "pending");
    cr_assert_str_eq(s_str(inv, "token"), "", "lists never show tokens");
    json_decref(list);
    /* The integrator may read them too. */
    json_decref(s_call("GET", path, integrator, NULL, 200));

    char token[TOKEN_SIZE], url[256], expected_url[256];
    s_token(customer, token, url);
    snprintf(expected_url, sizeof expected_url, "%s/v1/answers/%s", suite.base_url, token);
    cr_assert_str_eq(url, expected_url);

    /* The public form: no key needed. */
    char answer_path[128];
    snprintf(answer_path, sizeof answer_path, "/v1/answers/%s", token);
    json_t *q = s_call("GET", answer_path, NULL, NULL, 200);
    cr_assert_eq(json_integer_value(json_object_get(q, "maxScore")), 10);
    cr_assert(strstr(s_str(q, "question"), "recommend"), "%s", s_str(q, "question"));
    json_decref(q);
    char zh_path[160];
    snprintf(zh_path, sizeof zh_path, "%s?locale=zh-CN", answer_path);
    q = s_call("GET", zh_path, NULL, NULL, 200);
    cr_assert(strstr(s_str(q, "question"), "推荐"), "%s", s_str(q, "question"));
    json_decref(q);

    const char *body = "{\"score\":9,\"followUps\":[{\"questionId\":\"reason\",\"text\":\"快递很快，包装很好\"}]}";
    json_t *ok = s_call("POST", answer_path, NULL, body, 201);
    cr_assert_eq(json_integer_value(json_object_get(ok, "score")), 9);
    cr_assert_eq(strlen(s_str(ok, "answerId")), 26);
    cr_assert_null(json_object_get(ok, "customerId"), "the public reply tells nothing of the customer");
    json_decref(ok);
    for (int i = 0; i < 2; i++) {
        json_t *refused = s_call("POST", answer_path, NULL, body, 409);
        cr_assert(strstr(s_str(refused, "detail"), "already answered"), "%s", s_str(refused, "detail"));
        json_decref(refused);
    }
    json_t *gone = s_call("GET", answer_path, NULL, NULL, 409);
    json_decref(gone);
    json_decref(s_call("POST", "/v1/answers/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", NULL, body, 404));

    snprintf(path, sizeof path, "/v1/contacts/%s/answers", customer);
    json_t *answers = s_call("GET", path, ADMIN, NULL, 200);
    json_t *a = json_array_get(json_object_get(answers, "answers"), 0);
    cr_assert_not_null(a);
    cr_assert_eq(json_array_size(json_object_get(answers, "answers")), 1);
    cr_assert_str_eq(s_str(a, "answerClass"), "promoter");
    cr_assert_str_eq(s_str(a, "channel"), "link");
    cr_assert_str_eq(s_str(a, "surveyKind"), "nps");
    cr_assert_neq(s_str(a, "polarity")[0], '\0', "the open text was analysed");
    json_decref(answers);
}

/* Files a complaint as key for customer; returns its id. */
static void s_file(const char *key, const char *customer, const char *priority, char *id)
{
    char body[512];
    snprintf(body, sizeof body,
             "{\"customerId\":\"%s\",\"category\":\"delivery\",\"priority\":\"%s\",\"subject\":\"Late parcel\","
             "\"text\":\"My parcel is three days late\",\"attachments\":[\"https://files.example/1.jpg\"]}",
             customer, priority);
    crm_http_response_t r;
    crm_suite_http(&suite, "POST", "/v1/complaints", key, body, NULL, &r);
    cr_assert_eq(r.status, 201, "%s", r.body);
    json_t *json = crm_http_json(&r);
    snprintf(id, ID_SIZE, "%s", s_str(json, "id"));
    cr_assert_str_eq(s_str(json, "status"), "open");
    char location[128];
    snprintf(location, sizeof location, "/v1/complaints/%s", id);
    cr_assert(strstr(r.location, location), "Location: %s", r.location);
    json_decref(json);
    crm_http_response_clear(&r);
}

static json_t *s_move(const char *key, const char *id, const char *body, long status)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/complaints/%s/transitions", id);
    return s_call("POST", path, key, body, status);
}

Test(feedback_api, a_complaint_runs_the_whole_workflow_with_its_timestamps)
{
    char agent[SECRET_SIZE], analyst[SECRET_SIZE], customer[ID_SIZE], id[ID_SIZE];
    s_make_key("agent", agent);
    s_make_key("analyst", analyst);
    s_create_customer("zhang@example.com", "zh-CN", customer);
    s_file(agent, customer, "normal", id);
    json_decref(s_move(analyst, id, "{\"to\":\"assigned\",\"assignee\":\"alice\"}", 403));
    json_t *c = s_move(agent, id, "{\"to\":\"assigned\",\"assignee\":\"alice\",\"team\":\"logistics\"}", 200);
    cr_assert_str_eq(s_str(c, "status"), "assigned");
    cr_assert_str_eq(s_str(c, "assignee"), "alice");
    json_decref(c);
    json_decref(s_move(agent, id, "{\"to\":\"in_progress\"}", 200));
    char path[128];
    snprintf(path, sizeof path, "/v1/complaints/%s/notes", id);
    json_decref(s_call("POST", path, agent, "{\"text\":\"Courier confirmed the delay\"}", 201));
    snprintf(path, sizeof path, "/v1/complaints/%s/replies", id);
    c = s_call("POST", path, agent, "{\"text\":\"很抱歉，您的包裹今天发出。\"}", 201);
    cr_assert_neq(s_str(c, "firstResponseAt")[0], '\0');
    json_decref(c);
    c = s_move(agent, id, "{\"to\":\"resolved\",\"comment\":\"Delivered\"}", 200);
    cr_assert_str_eq(s_str(c, "status"), "resolved");
    cr_assert_neq(s_str(c, "resolvedAt")[0], '\0');
    cr_assert_eq(json_is_true(json_object_get(c, "resolvedAtFirstContact")), true);
    json_decref(c);
    c = s_move(agent, id, "{\"to\":\"closed\"}", 200);
    cr_assert_neq(s_str(c, "closedAt")[0], '\0');
    json_decref(c);

    snprintf(path, sizeof path, "/v1/complaints/%s", id);
    c = s_call("GET", path, analyst, NULL, 200);
    json_t *history = json_object_get(c, "history");
    cr_assert_eq(json_array_size(history), 7, "opened, assigned, in progress, note, reply, resolved, closed");
    static const char *const kinds[] = { "transition", "transition", "transition", "note", "reply", "transition",
                                         "transition" };
    static const char *const to[] = { "open", "assigned", "in_progress", "in_progress", "in_progress", "resolved",
                                      "closed" };
    int64_t last = 0;
    for (size_t i = 0; i < 7; i++) {
        json_t *line = json_array_get(history, i);
        cr_assert_str_eq(s_str(line, "kind"), kinds[i], "line %zu", i);
        cr_assert_str_eq(s_str(line, "toStatus"), to[i], "line %zu", i);
        int64_t t = 0;
        cr_assert_eq(crm_time_parse_us(s_str(line, "time"), &t), 0, "line %zu has a time", i);
        cr_assert_geq(t, last);
        last = t;
        cr_assert_neq(s_str(line, "actor")[0], '\0', "line %zu has who", i);
    }
    cr_assert_str_eq(s_str(json_array_get(history, 1), "actorRole"), "agent");
    cr_assert_str_eq(s_str(c, "createdAt")[0] ? "set" : "", "set");
    cr_assert_str_eq(s_str(c, "firstResponseDue")[0] ? "set" : "", "set");
    cr_assert_str_eq(s_str(c, "resolutionDue")[0] ? "set" : "", "set");
    json_decref(c);

    /* Filters: closed delivery complaints of this customer. */
    snprintf(path, sizeof path, "/v1/complaints?customerId=%s&status=closed&category=delivery", customer);
    c = s_call("GET", path, analyst, NULL, 200);
    cr_assert_eq(json_array_size(json_object_get(c, "complaints")), 1);
    json_decref(c);
}

Test(feedback_api, an_illegal_transition_is_refused)
{
    char agent[SECRET_SIZE], customer[ID_SIZE], id[ID_SIZE];
    s_make_key("agent", agent);
    s_create_customer("li@example.com", "en", customer);
    s_file(agent, customer, "high", id);
    json_t *p = s_move(agent, id, "{\"to\":\"waiting_on_customer\"}", 409);
    cr_assert_str_eq(s_str(p, "detail"), "a complaint cannot move from open to waiting_on_customer");
    json_decref(p);
    p = s_move(agent, id, "{\"to\":\"assigned\"}", 400);
    cr_assert_str_eq(s_str(p, "field"), "assignee");
    json_decref(p);
    p = s_move(agent, id, "{\"to\":\"sideways\"}", 400);
    json_decref(p);
    char path[128];
    snprintf(path, sizeof path, "/v1/complaints/%s", id);
    p = s_call("GET", path, agent, NULL, 200);
    cr_assert_str_eq(s_str(p, "status"), "open");
    cr_assert_eq(json_array_size(json_object_get(p, "history")), 1);
    json_decref(p);
    json_decref(s_call("GET", "/v1/complaints/01J0000000000000000000000Z", agent, NULL, 404));
}

Test(feedback_api, an_sla_breach_while_feedback_is_stopped_is_raised_when_it_restarts)
{
    char agent[SECRET_SIZE], customer[ID_SIZE], id[ID_SIZE];
    s_make_key("agent", agent);
    s_create_customer("zhao@example.com", "en", customer);
    s_file(agent, customer, "normal", id);
    int status = crm_suite_stop(&suite, CRM_SVC_FEEDBACK, SIGTERM);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "feedback stops cleanly");
    sleep(STOPPED_S);
    int64_t restarted_us = crm_time_now_us();
    crm_suite_start(&suite, CRM_SVC_FEEDBACK);

    char path[128];
    snprintf(path, sizeof path, "/v1/complaints/%s", id);
    long long deadline = crm_test_now_ms() + APPLY_WAIT_MS;
    json_t *c = NULL;
    for (;;) {
        c = s_call("GET", path, agent, NULL, 200);
        if (json_is_true(json_object_get(c, "firstResponseBreached")))
            break;
        json_decref(c);
        cr_assert_lt(crm_test_now_ms(), deadline, "the breach was never raised");
        usleep(POLL_MS * 1000);
    }
    cr_assert_eq(json_integer_value(json_object_get(c, "escalationLevel")), 1, "escalated to the team lead");
    json_decref(c);

    Crm__V1__Event *events[EVENTS_MAX];
    size_t n = crm_suite_events(&suite, CRM_SVC_FEEDBACK, "crm.feedback.complaint.sla_breached.v1", events, EVENTS_MAX);
    size_t mine = 0;
    for (size_t i = 0; i < n; i++) {
        Crm__V1__SlaBreached *b = NULL;
        cr_assert_eq(crm_event_data(events[i], &crm__v1__sla_breached__descriptor, (ProtobufCMessage **) &b), 0);
        if (strcmp(b->complaint->id, id) == 0) {
            mine++;
            cr_assert_eq(b->clock, CRM__V1__SLA_CLOCK__SLA_CLOCK_FIRST_RESPONSE);
            int64_t due = b->due_at->seconds * 1000000 + b->due_at->nanos / 1000;
            int64_t detected = b->detected_at->seconds * 1000000 + b->detected_at->nanos / 1000;
            cr_assert_lt(due, restarted_us, "it fell due while feedback was down");
            cr_assert_geq(detected, restarted_us, "it was raised after the restart");
        }
        protobuf_c_message_free_unpacked(&b->base, NULL);
        crm_event_destroy(&events[i]);
    }
    cr_assert_eq(mine, 1, "published once");
    n = crm_suite_events(&suite, CRM_SVC_FEEDBACK, "crm.feedback.complaint.escalated.v1", events, EVENTS_MAX);
    cr_assert_geq(n, 1);
    for (size_t i = 0; i < n; i++)
        crm_event_destroy(&events[i]);
    json_t *overdue = s_call("GET", "/v1/complaints?overdue=true", agent, NULL, 200);
    cr_assert_eq(json_array_size(json_object_get(overdue, "complaints")), 1);
    json_decref(overdue);
}

Test(feedback_api, a_complaint_filed_through_ingest_becomes_a_complaint_once)
{
    char integrator[SECRET_SIZE], outcome[32];
    s_make_key("integrator", integrator);
    const char *data = "{\"customer\":{\"email\":\"chen@example.com\"},\"category\":\"product\",\"priority\":\"high\","
                       "\"subject\":\"屏幕坏了\",\"text\":\"收到的手机屏幕有裂痕\",\"channel\":\"phone\","
                       "\"attachments\":[\"doc:cc-1\"]}";
    s_ingest(integrator, "cc-evt-1", "complaint.filed", data, outcome);
    cr_assert_str_eq(outcome, "accepted");
    s_ingest(integrator, "cc-evt-1", "complaint.filed", data, outcome);
    cr_assert_str_eq(outcome, "duplicate");
    char customer[ID_SIZE];
    s_customer_id("chen@example.com", customer);
    char path[256];
    snprintf(path, sizeof path, "/v1/complaints?customerId=%s", customer);
    json_t *list = s_wait_items(path, "complaints", 1);
    json_t *c = json_array_get(json_object_get(list, "complaints"), 0);
    cr_assert_str_eq(s_str(c, "origin"), "integrator");
    cr_assert_str_eq(s_str(c, "category"), "product");
    cr_assert_str_eq(s_str(c, "priority"), "high");
    cr_assert_str_eq(s_str(c, "sourceEventId"), "cc-evt-1");
    cr_assert_str_eq(s_str(c, "text"), "收到的手机屏幕有裂痕");
    json_decref(list);
    /* A while later, still one. */
    usleep(500 * 1000);
    list = s_call("GET", path, ADMIN, NULL, 200);
    cr_assert_eq(json_array_size(json_object_get(list, "complaints")), 1);
    json_decref(list);
}
