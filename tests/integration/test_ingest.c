/* test_ingest.c: integrator events through POST /v1/events and the ZeroMQ ingest socket, applied once by contacts. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "crm/v1/envelope.pb-c.h"
#include "crm/v1/ingest.pb-c.h"
#include "crm_codec.h"
#include "crm_event.h"
#include "crm_suite.h"

#define ADMIN CRM_SUITE_ADMIN_KEY
#define APPLY_WAIT_MS 30000

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

TestSuite(ingest, .init = s_setup, .fini = s_teardown, .timeout = 120);

static const char *s_str(json_t *obj, const char *key)
{
    const char *v = json_string_value(json_object_get(obj, key));
    return v ? v : "";
}

static json_t *s_customer(json_t *body)
{
    json_t *inner = json_object_get(body, "customer");
    return inner ? inner : body;
}

static const char *const batch_type[] = { "Content-Type: application/cloudevents-batch+json", NULL };

static char *s_order_event(const char *id, const char *order, const char *email, long amount)
{
    char *text = malloc(512);
    snprintf(text, 512,
             "{\"specversion\":\"1.0\",\"id\":\"%s\",\"source\":\"/shop/hz-01\",\"type\":\"order.placed\","
             "\"data\":{\"orderId\":\"%s\",\"customer\":{\"email\":\"%s\"},\"amountMinor\":\"%ld\","
             "\"currency\":\"CNY\",\"placedAt\":\"2026-11-20T08:00:00Z\"}}", id, order, email, amount);
    return text;
}

/* Waits until the customer with email has `purchases` purchases; returns its JSON (caller decrefs). */
static json_t *s_wait_customer(const char *email, int purchases)
{
    char path[256];
    snprintf(path, sizeof path, "/v1/contacts?email=%s", email);
    long long deadline = crm_test_now_ms() + APPLY_WAIT_MS;
    json_t *found = NULL;
    while (crm_test_now_ms() < deadline) {
        crm_http_response_t r;
        crm_suite_http(&suite, "GET", path, ADMIN, NULL, NULL, &r);
        json_t *json = crm_http_json(&r);
        crm_http_response_clear(&r);
        json_t *c = json_array_get(json_object_get(json, "customers"), 0);
        if (c && json_integer_value(json_object_get(c, "purchaseCount")) >= purchases) {
            found = json_incref(c);
            json_decref(json);
            break;
        }
        json_decref(json);
        usleep(100 * 1000);
    }
    cr_assert_not_null(found, "customer %s did not reach %d purchases", email, purchases);
    return found;
}

Test(ingest, a_duplicate_event_in_two_batches_is_applied_once)
{
    char *e1 = s_order_event("evt-1", "SO-100", "dup@example.com", 1000);
    char *e2 = s_order_event("evt-2", "SO-101", "dup@example.com", 2000);
    char *e3 = s_order_event("evt-3", "SO-102", "dup@example.com", 3000);
    char body[2048];
    snprintf(body, sizeof body, "[%s,%s]", e1, e2);
    crm_http_response_t r;
    crm_suite_http(&suite, "POST", "/v1/events", ADMIN, body, batch_type, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    json_t *json = crm_http_json(&r);
    json_t *results = json_object_get(json, "results");
    cr_assert_eq(json_array_size(results), 2);
    cr_assert_str_eq(s_str(json_array_get(results, 0), "outcome"), "accepted");
    json_decref(json);
    crm_http_response_clear(&r);

    snprintf(body, sizeof body, "[%s,%s]", e1, e3);
    crm_suite_http(&suite, "POST", "/v1/events", ADMIN, body, batch_type, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    json = crm_http_json(&r);
    results = json_object_get(json, "results");
    cr_assert_str_eq(s_str(json_array_get(results, 0), "outcome"), "duplicate");
    cr_assert_str_eq(s_str(json_array_get(results, 1), "outcome"), "accepted");
    json_decref(json);
    crm_http_response_clear(&r);
    free(e1);
    free(e2);
    free(e3);

    json_t *c = s_wait_customer("dup@example.com", 3);
    usleep(500 * 1000);   /* a doubled effect would show by now */
    json_decref(c);
    c = s_wait_customer("dup@example.com", 3);
    cr_assert_eq(json_integer_value(json_object_get(c, "purchaseCount")), 3, "three orders, not four");
    char path[160];
    snprintf(path, sizeof path, "/v1/contacts/%s/purchases", s_str(c, "id"));
    json_decref(c);
    crm_suite_http(&suite, "GET", path, ADMIN, NULL, NULL, &r);
    json = crm_http_json(&r);
    cr_assert_eq(json_array_size(json_object_get(json, "purchases")), 3);
    json_decref(json);
    crm_http_response_clear(&r);
}

Test(ingest, structured_and_binary_modes_and_rejections)
{
    crm_http_response_t r;
    char *e = s_order_event("s-1", "SO-200", "modes@example.com", 100);
    const char *structured[] = { "Content-Type: application/cloudevents+json", NULL };
    crm_suite_http(&suite, "POST", "/v1/events", ADMIN, e, structured, &r);
    free(e);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert(strstr(r.body, "accepted"));
    crm_http_response_clear(&r);

    const char *binary[] = { "Content-Type: application/json", "ce-specversion: 1.0", "ce-id: b-1",
                             "ce-source: /shop/hz-01", "ce-type: order.placed", NULL };
    crm_suite_http(&suite, "POST", "/v1/events", ADMIN,
                   "{\"orderId\":\"SO-201\",\"customer\":{\"email\":\"modes@example.com\"},"
                   "\"amountMinor\":\"300\",\"currency\":\"CNY\"}", binary, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert(strstr(r.body, "accepted"));
    crm_http_response_clear(&r);

    /* A batch with bad events: each gets its own verdict, the good one is still committed. */
    crm_suite_http(&suite, "POST", "/v1/events", ADMIN,
                   "[{\"specversion\":\"1.0\",\"id\":\"x-1\",\"source\":\"/s\",\"type\":\"no.such.type\",\"data\":{}},"
                   "{\"specversion\":\"1.0\",\"source\":\"/s\",\"type\":\"order.placed\",\"data\":{}},"
                   "{\"specversion\":\"1.0\",\"id\":\"x-3\",\"source\":\"/s\",\"type\":\"order.placed\","
                   "\"data\":{\"orderId\":\"SO-202\",\"amountMinor\":\"abc\"}},"
                   "{\"specversion\":\"1.0\",\"id\":\"x-4\",\"source\":\"/s\",\"type\":\"interaction.logged\","
                   "\"data\":{\"customer\":{\"email\":\"modes@example.com\"},\"channel\":\"chat\","
                   "\"direction\":\"inbound\",\"summary\":\"asked about sizes\"}}]", batch_type, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    json_t *json = crm_http_json(&r);
    json_t *results = json_object_get(json, "results");
    cr_assert_eq(json_array_size(results), 4);
    cr_assert_str_eq(s_str(json_array_get(results, 0), "outcome"), "rejected");
    cr_assert_str_eq(s_str(json_array_get(results, 1), "outcome"), "rejected");
    cr_assert_str_eq(s_str(json_array_get(results, 2), "outcome"), "rejected");
    cr_assert_neq(s_str(json_array_get(results, 2), "error")[0], '\0');
    cr_assert_str_eq(s_str(json_array_get(results, 3), "outcome"), "accepted");
    json_decref(json);
    crm_http_response_clear(&r);

    crm_suite_http(&suite, "POST", "/v1/events", ADMIN, "{not json", batch_type, &r);
    cr_assert_eq(r.status, 400);
    cr_assert(strstr(r.content_type, "application/problem+json"));
    crm_http_response_clear(&r);

    json_t *c = s_wait_customer("modes@example.com", 2);
    char path[160];
    snprintf(path, sizeof path, "/v1/contacts/%s/interactions", s_str(c, "id"));
    json_decref(c);
    long long deadline = crm_test_now_ms() + APPLY_WAIT_MS;
    size_t count = 0;
    while (count == 0 && crm_test_now_ms() < deadline) {
        crm_suite_http(&suite, "GET", path, ADMIN, NULL, NULL, &r);
        json = crm_http_json(&r);
        count = json_array_size(json_object_get(json, "interactions"));
        json_decref(json);
        crm_http_response_clear(&r);
        if (!count)
            usleep(100 * 1000);
    }
    cr_assert_eq(count, 1);
}

/* Packs an order.placed envelope for the ZeroMQ ingest socket. */
static size_t s_pack_order(const char *id, const char *order, const char *email, uint8_t *out, size_t size)
{
    Crm__V1__CustomerRef ref = CRM__V1__CUSTOMER_REF__INIT;
    ref.email = (char *) email;
    Crm__V1__OrderPlaced placed = CRM__V1__ORDER_PLACED__INIT;
    placed.order_id = (char *) order;
    placed.customer = &ref;
    placed.amount_minor = 4200;
    placed.currency = "CNY";
    uint8_t data[512];
    size_t data_len = crm__v1__order_placed__pack(&placed, data);
    Crm__V1__Event event = CRM__V1__EVENT__INIT;
    event.id = (char *) id;
    event.source = "/erp/main";
    event.spec_version = "1.0";
    event.type = "order.placed";
    event.data.data = data;
    event.data.len = data_len;
    event.data_schema = "crm.v1.OrderPlaced";
    cr_assert_leq(crm__v1__event__get_packed_size(&event), size);
    return crm__v1__event__pack(&event, out);
}

static Crm__V1__IngestResult *s_zmq_send(void *socket, const uint8_t *buf, size_t len)
{
    cr_assert_eq(zmq_send(socket, buf, len, 0), (int) len);
    zmq_pollitem_t item = { socket, 0, ZMQ_POLLIN, 0 };
    cr_assert_eq(zmq_poll(&item, 1, 10000), 1, "the ingest socket acknowledges");
    uint8_t reply[4096];
    int n = zmq_recv(socket, reply, sizeof reply, 0);
    cr_assert_gt(n, 0);
    Crm__V1__IngestResult *result = crm__v1__ingest_result__unpack(NULL, (size_t) n, reply);
    cr_assert_not_null(result);
    return result;
}

Test(ingest, zeromq_ingest_acknowledges_after_commit_and_deduplicates)
{
    void *ctx = zmq_ctx_new();
    void *socket = zmq_socket(ctx, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(socket, ZMQ_LINGER, &linger, sizeof linger);
    cr_assert_eq(zmq_connect(socket, suite.ingest_endpoint), 0);
    uint8_t buf[1024];
    size_t len = s_pack_order("z-1", "SO-300", "zmq@example.com", buf, sizeof buf);
    Crm__V1__IngestResult *result = s_zmq_send(socket, buf, len);
    cr_assert_eq(result->outcome, CRM__V1__INGEST_RESULT__OUTCOME__OUTCOME_ACCEPTED, "%s", result->error);
    cr_assert_gt(result->sequence, 0);
    crm__v1__ingest_result__free_unpacked(result, NULL);
    result = s_zmq_send(socket, buf, len);
    cr_assert_eq(result->outcome, CRM__V1__INGEST_RESULT__OUTCOME__OUTCOME_DUPLICATE);
    crm__v1__ingest_result__free_unpacked(result, NULL);
    result = s_zmq_send(socket, (const uint8_t *) "garbage", 7);
    cr_assert_eq(result->outcome, CRM__V1__INGEST_RESULT__OUTCOME__OUTCOME_REJECTED);
    crm__v1__ingest_result__free_unpacked(result, NULL);
    zmq_close(socket);
    zmq_ctx_term(ctx);

    json_t *c = s_wait_customer("zmq@example.com", 1);
    cr_assert_eq(json_integer_value(json_object_get(c, "purchaseCount")), 1);
    json_decref(c);
}

Test(ingest, refunds_and_upserts_from_integrators)
{
    crm_http_response_t r;
    crm_suite_http(&suite, "POST", "/v1/events", ADMIN,
                   "[{\"specversion\":\"1.0\",\"id\":\"u-1\",\"source\":\"/erp\",\"type\":\"customer.upserted\","
                   "\"data\":{\"customer\":{\"name\":\"Chen Jie\",\"email\":\"chen@example.com\","
                   "\"externalIds\":[{\"system\":\"erp\",\"id\":\"C-77\"}]}}},"
                   "{\"specversion\":\"1.0\",\"id\":\"u-2\",\"source\":\"/erp\",\"type\":\"customer.upserted\","
                   "\"data\":{\"customer\":{\"externalIds\":[{\"system\":\"erp\",\"id\":\"C-77\"}],\"owner\":\"agent-3\"}}},"
                   "{\"specversion\":\"1.0\",\"id\":\"o-1\",\"source\":\"/erp\",\"type\":\"order.placed\","
                   "\"data\":{\"orderId\":\"SO-400\",\"customer\":{\"externalId\":{\"system\":\"erp\",\"id\":\"C-77\"}},"
                   "\"amountMinor\":\"9000\",\"currency\":\"CNY\"}},"
                   "{\"specversion\":\"1.0\",\"id\":\"r-1\",\"source\":\"/erp\",\"type\":\"order.refunded\","
                   "\"data\":{\"orderId\":\"SO-400\",\"refundId\":\"RF-400\",\"amountMinor\":\"9000\",\"currency\":\"CNY\"}}]",
                   batch_type, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    crm_http_response_clear(&r);
    /* Wait for the refund to be applied: the fully refunded order no longer counts. */
    long long deadline = crm_test_now_ms() + APPLY_WAIT_MS;
    bool done = false;
    json_t *c = NULL;
    while (!done && crm_test_now_ms() < deadline) {
        crm_suite_http(&suite, "GET", "/v1/contacts?externalSystem=erp&externalId=C-77", ADMIN, NULL, NULL, &r);
        json_t *json = crm_http_json(&r);
        crm_http_response_clear(&r);
        json_decref(c);
        c = json_incref(json_array_get(json_object_get(json, "customers"), 0));
        json_decref(json);
        if (c) {
            char path[160];
            snprintf(path, sizeof path, "/v1/contacts/%s/purchases", s_str(c, "id"));
            crm_suite_http(&suite, "GET", path, ADMIN, NULL, NULL, &r);
            json = crm_http_json(&r);
            json_t *p = json_array_get(json_object_get(json, "purchases"), 0);
            done = p && strcmp(s_str(p, "refundedMinor"), "9000") == 0;
            json_decref(json);
            crm_http_response_clear(&r);
        }
        if (!done)
            usleep(100 * 1000);
    }
    cr_assert(done, "the refund was applied");
    cr_assert_str_eq(s_str(c, "name"), "Chen Jie");
    cr_assert_str_eq(s_str(c, "owner"), "agent-3", "the second upsert updated the same customer");
    json_decref(c);
    (void) s_customer;
}

Test(ingest, a_filed_complaint_is_logged_and_handed_on_once)
{
    static const char *const complaint =
        "{\"specversion\":\"1.0\",\"id\":\"cc-1\",\"source\":\"/callcentre\",\"type\":\"complaint.filed\","
        "\"data\":{\"customer\":{\"email\":\"li.na@example.com\"},\"category\":\"delivery\","
        "\"priority\":\"high\",\"subject\":\"快递晚了三天\",\"text\":\"The parcel came three days late.\","
        "\"channel\":\"phone\",\"attachments\":[\"doc:rec-991\"]}}";
    char body[2048];
    snprintf(body, sizeof body, "[%s,%s]", complaint, complaint);
    crm_http_response_t r;
    crm_suite_http(&suite, "POST", "/v1/events", ADMIN, body, batch_type, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    json_t *json = crm_http_json(&r);
    json_t *results = json_object_get(json, "results");
    cr_assert_str_eq(s_str(json_array_get(results, 0), "outcome"), "accepted");
    cr_assert_str_eq(s_str(json_array_get(results, 1), "outcome"), "duplicate");
    json_decref(json);
    crm_http_response_clear(&r);

    /* A complaint without a channel, or with nothing said, changes nothing. */
    crm_suite_http(&suite, "POST", "/v1/events", ADMIN,
                   "[{\"specversion\":\"1.0\",\"id\":\"cc-2\",\"source\":\"/callcentre\",\"type\":\"complaint.filed\","
                   "\"data\":{\"customer\":{\"email\":\"li.na@example.com\"},\"subject\":\"x\"}},"
                   "{\"specversion\":\"1.0\",\"id\":\"cc-3\",\"source\":\"/callcentre\",\"type\":\"complaint.filed\","
                   "\"data\":{\"customer\":{\"email\":\"li.na@example.com\"},\"channel\":\"phone\"}}]",
                   batch_type, &r);
    json = crm_http_json(&r);
    results = json_object_get(json, "results");
    cr_assert_str_eq(s_str(json_array_get(results, 0), "outcome"), "rejected", "%s", r.body);
    cr_assert_str_eq(s_str(json_array_get(results, 0), "field"), "data.channel", "%s", r.body);
    cr_assert_str_eq(s_str(json_array_get(results, 1), "outcome"), "rejected", "%s", r.body);
    cr_assert_str_eq(s_str(json_array_get(results, 1), "field"), "data.text", "%s", r.body);
    json_decref(json);
    crm_http_response_clear(&r);

    /* Contacts made the unknown caller a customer, logged the call, and published the complaint once. */
    Crm__V1__Event *events[4] = { 0 };
    size_t n = 0;
    long long deadline = crm_test_now_ms() + APPLY_WAIT_MS;
    while (n == 0 && crm_test_now_ms() < deadline) {
        n = crm_suite_events(&suite, CRM_SVC_CONTACTS, "crm.contacts.complaint.received.v1", events, 4);
        if (n == 0)
            usleep(100 * 1000);
    }
    cr_assert_eq(n, 1, "one complaint handed on");
    ProtobufCMessage *data = NULL;
    cr_assert_eq(crm_event_data(events[0], &crm__v1__complaint_received__descriptor, &data), 0);
    Crm__V1__ComplaintReceived *c = (Crm__V1__ComplaintReceived *) data;
    cr_assert_str_eq(c->event_id, "cc-1");
    cr_assert_str_eq(c->source, "/callcentre");
    cr_assert_eq(c->category, CRM__V1__COMPLAINT_CATEGORY__COMPLAINT_CATEGORY_DELIVERY);
    cr_assert_eq(c->priority, CRM__V1__PRIORITY__PRIORITY_HIGH);
    cr_assert_eq(c->n_attachments, 1);
    cr_assert_str_eq(events[0]->subject, c->customer_id);

    char path[160];
    snprintf(path, sizeof path, "/v1/contacts/%s/interactions", c->customer_id);
    crm_suite_http(&suite, "GET", path, ADMIN, NULL, NULL, &r);
    json = crm_http_json(&r);
    json_t *it = json_array_get(json_object_get(json, "interactions"), 0);
    cr_assert_not_null(it, "%s", r.body);
    cr_assert_str_eq(s_str(it, "id"), c->interaction_id);
    cr_assert_str_eq(s_str(it, "summary"), "快递晚了三天");
    cr_assert_str_eq(s_str(it, "direction"), "inbound");
    json_decref(json);
    crm_http_response_clear(&r);
    crm_codec_message_free(&data);
    crm_event_destroy(&events[0]);
}
