/* test_contacts_service.c: the real crm-contacts process: settings from the environment, requests, ingest from a gateway stand-in, events out, restart, SIGTERM. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "crm/v1/contacts_api.pb-c.h"
#include "crm/v1/ingest.pb-c.h"
#include "crm_bus.h"
#include "crm_codec.h"
#include "crm_error.h"
#include "crm_event.h"
#include "crm_outbox.h"
#include "crm_rpc.h"
#include "crm_store.h"
#include "crm_test.h"

#define WAIT_MS       10000
#define CALL_MS       2000
#define POLL_MS       10
#define HEARTBEAT_MS  100
#define ENV_MAX       16
#define ENV_TEXT      (CRM_TEST_PATH_MAX + 64)

/* The gateway stand-in: an outbox of ingest events, published and replayed by a thread. */
typedef struct {
    crm_store_t *store;
    crm_outbox_t *outbox;
    crm_id_gen_t *ids;
    crm_bus_pub_t *pub;
    crm_bus_replay_server_t *replay;
    pthread_t thread;
    atomic_bool stop;
    atomic_int failures;
} s_gateway_t;

static struct {
    char dir[CRM_TEST_PATH_MAX];
    char log[CRM_TEST_PATH_MAX + 16];
    char rpc[64], pub[64], replay[64], gw_pub[64], gw_replay[64];
    int health_port;
    char env_text[ENV_MAX][ENV_TEXT];
    char *env[ENV_MAX + 1];
    void *ctx;
    s_gateway_t gw;
    pid_t pid;
    /* the test's own sockets, closed by the teardown whatever happened */
    crm_rpc_client_t *client;
    crm_bus_sub_t *sub;
    crm_bus_replay_client_t *replay_client;
} s;

static void *
s_gateway_loop(void *arg)
{
    (void) arg;
    long long next_heartbeat = 0;
    while (!atomic_load(&s.gw.stop)) {
        zmq_pollitem_t items[] = {
            { crm_bus_replay_server_socket(s.gw.replay), 0, ZMQ_POLLIN, 0 },
            { NULL, crm_outbox_fd(s.gw.outbox), ZMQ_POLLIN, 0 },
        };
        zmq_poll(items, 2, POLL_MS);
        if ((items[0].revents & ZMQ_POLLIN) && crm_outbox_serve_replay(s.gw.outbox, s.gw.replay) != 0)
            atomic_fetch_add(&s.gw.failures, 1);
        if ((items[1].revents & ZMQ_POLLIN) && crm_outbox_publish(s.gw.outbox, s.gw.pub, NULL) != 0)
            atomic_fetch_add(&s.gw.failures, 1);
        if (crm_test_now_ms() >= next_heartbeat) {
            uint64_t head = 0;
            if (crm_outbox_head(s.gw.outbox, &head) == 0)
                crm_bus_pub_heartbeat(s.gw.pub, head);
            next_heartbeat = crm_test_now_ms() + HEARTBEAT_MS;
        }
    }
    return NULL;
}

static void
s_env(const char *name, const char *value)
{
    size_t i = 0;
    while (s.env[i])
        i++;
    cr_assert_lt(i, ENV_MAX);
    snprintf(s.env_text[i], ENV_TEXT, "%s=%s", name, value);
    s.env[i] = s.env_text[i];
}

static void
s_setup(void)
{
    memset(&s, 0, sizeof s);
    crm_test_tmpdir(s.dir);
    snprintf(s.log, sizeof s.log, "%s/contacts.log", s.dir);
    crm_test_endpoint(s.rpc);
    crm_test_endpoint(s.pub);
    crm_test_endpoint(s.replay);
    crm_test_endpoint(s.gw_pub);
    crm_test_endpoint(s.gw_replay);
    s.health_port = crm_test_free_port();
    char health[64], data[CRM_TEST_PATH_MAX + 16];
    snprintf(health, sizeof health, "127.0.0.1:%d", s.health_port);
    snprintf(data, sizeof data, "%s/data", s.dir);
    s_env("CRM_DATA_DIR", data);
    s_env("CRM_CONTACTS_RPC_ENDPOINT", s.rpc);
    s_env("CRM_CONTACTS_PUB_ENDPOINT", s.pub);
    s_env("CRM_CONTACTS_REPLAY_ENDPOINT", s.replay);
    s_env("CRM_CONTACTS_HEALTH_ADDR", health);
    s_env("CRM_GATEWAY_PUB_ENDPOINT", s.gw_pub);
    s_env("CRM_GATEWAY_REPLAY_ENDPOINT", s.gw_replay);

    s.ctx = zmq_ctx_new();
    cr_assert_not_null(s.ctx);
    char gw_store[CRM_TEST_PATH_MAX + 16];
    snprintf(gw_store, sizeof gw_store, "%s/gateway", s.dir);
    crm_store_options_t opts = { .no_sync = true };
    cr_assert_eq(crm_store_open(gw_store, &opts, &s.gw.store), 0);
    cr_assert_eq(crm_outbox_new(s.gw.store, &s.gw.outbox), 0);
    cr_assert_eq(crm_id_gen_new(&s.gw.ids), 0);
    cr_assert_eq(crm_bus_pub_new(s.ctx, s.gw_pub, &s.gw.pub), 0);
    cr_assert_eq(crm_bus_replay_server_new(s.ctx, s.gw_replay, &s.gw.replay), 0);
    cr_assert_eq(pthread_create(&s.gw.thread, NULL, s_gateway_loop, NULL), 0);
}

static void
s_teardown(void)
{
    if (s.pid > 0)
        crm_test_stop(s.pid, SIGKILL, WAIT_MS);
    crm_rpc_client_destroy(&s.client);
    crm_bus_sub_destroy(&s.sub);
    crm_bus_replay_client_destroy(&s.replay_client);
    atomic_store(&s.gw.stop, true);
    pthread_join(s.gw.thread, NULL);
    crm_bus_replay_server_destroy(&s.gw.replay);
    crm_bus_pub_destroy(&s.gw.pub);
    zmq_ctx_term(s.ctx);
    crm_id_gen_destroy(&s.gw.ids);
    crm_outbox_destroy(&s.gw.outbox);
    crm_store_destroy(&s.gw.store);
    crm_test_rmtree(s.dir);
    crm_test_check_leaks();
}

TestSuite(service, .init = s_setup, .fini = s_teardown, .timeout = 60);

static void
s_start(void)
{
    char program[CRM_TEST_PATH_MAX];
    crm_test_program("crm-contacts", program);
    char *argv[] = { program, NULL };
    s.pid = crm_test_spawn(argv, s.env, s.log);
    cr_assert(crm_test_wait_port(s.health_port, WAIT_MS), "crm-contacts did not start (see %s)", s.log);
}

/* Stops the process with SIGTERM; asserts a clean exit. */
static void
s_stop(void)
{
    int status = crm_test_stop(s.pid, SIGTERM, WAIT_MS);
    s.pid = 0;
    cr_assert(WIFEXITED(status), "crm-contacts did not exit by itself (status %d)", status);
    cr_assert_eq(WEXITSTATUS(status), 0);
}

/* Calls a method, retrying while the connection is being made. */
static crm_rpc_status_t
s_call(crm_rpc_client_t *client, const char *method, const ProtobufCMessage *req,
       const ProtobufCMessageDescriptor *reply_desc, ProtobufCMessage **out, crm_rpc_result_t *keep)
{
    void *body = NULL;
    size_t len = 0;
    cr_assert_eq(crm_codec_pb_encode(req, &body, &len), 0);
    crm_rpc_result_t result = { 0 };
    int rc = CRM_EUNAVAIL;
    long long deadline = crm_test_now_ms() + WAIT_MS;
    while ((rc = crm_rpc_call(client, method, "test", "admin", body, len, CALL_MS, &result)) == CRM_EUNAVAIL
           && crm_test_now_ms() < deadline)
        usleep(POLL_MS * 1000);
    free(body);
    cr_assert_eq(rc, 0, "%s: %s", method, crm_errname(rc));
    if (result.status == CRM_RPC_OK && out)
        cr_assert_eq(crm_codec_pb_decode(reply_desc, result.body, result.body_len, out, NULL), 0);
    crm_rpc_status_t status = result.status;
    if (keep)
        *keep = result;
    else
        crm_rpc_result_clear(&result);
    return status;
}

typedef struct {
    const char *topic;
    const char *id;
    const ProtobufCMessage *data;
} s_append_t;

static int
s_append_body(crm_txn_t *txn, void *arg)
{
    const s_append_t *a = arg;
    crm_event_spec_t spec = { .id = a->id, .source = "/shop/hz-01", .type = a->topic, .data = a->data };
    return crm_event_append(s.gw.outbox, txn, s.gw.ids, &spec, NULL);
}

/* The gateway stand-in accepts one integrator event into its ingest log. */
static void
s_ingest(const char *topic, const char *id, const ProtobufCMessageDescriptor *desc, const char *json)
{
    ProtobufCMessage *data = NULL;
    cr_assert_eq(crm_codec_json_decode(desc, json, strlen(json), &data, NULL), 0);
    s_append_t a = { .topic = topic, .id = id, .data = data };
    cr_assert_eq(crm_store_write(s.gw.store, s_append_body, &a), 0);
    crm_outbox_notify(s.gw.outbox);
    crm_codec_message_free(&data);
}

/* Waits for the customer with email to have count purchases; returns its id in id_out. */
static void
s_wait_purchases(crm_rpc_client_t *client, const char *email, uint32_t count, char *id_out)
{
    Crm__V1__SearchCustomersRequest req = CRM__V1__SEARCH_CUSTOMERS_REQUEST__INIT;
    req.email = (char *) email;
    uint32_t seen = 0;
    long long deadline = crm_test_now_ms() + WAIT_MS;
    do {
        Crm__V1__SearchCustomersReply *reply = NULL;
        cr_assert_eq(s_call(client, "contacts.SearchCustomers", &req.base,
                            &crm__v1__search_customers_reply__descriptor, (ProtobufCMessage **) &reply, NULL),
                     CRM_RPC_OK);
        if (reply->n_customers == 1) {
            seen = reply->customers[0]->purchase_count;
            snprintf(id_out, CRM_ID_SIZE, "%s", reply->customers[0]->id);
        }
        crm_codec_message_free((ProtobufCMessage **) &reply);
        if (seen == count)
            return;
        usleep(POLL_MS * 1000);
    } while (crm_test_now_ms() < deadline);
    cr_assert_fail("%s has %u purchases, expected %u", email, seen, count);
}

/* Waits for one live event on sub; writes its topic. Returns false on time-out. */
static bool
s_next_live(crm_bus_sub_t *sub, char *topic, size_t size)
{
    long long deadline = crm_test_now_ms() + WAIT_MS;
    while (crm_test_now_ms() < deadline) {
        zmq_pollitem_t item = { crm_bus_sub_socket(sub), 0, ZMQ_POLLIN, 0 };
        zmq_poll(&item, 1, POLL_MS);
        crm_bus_event_t ev;
        while (crm_bus_sub_recv(sub, &ev) == 0) {
            if (ev.heartbeat)
                continue;
            snprintf(topic, size, "%.*s", (int) ev.topic_len, ev.topic);
            return true;
        }
    }
    return false;
}

static bool
s_log_has(const char *text)
{
    FILE *f = fopen(s.log, "r");
    if (!f)
        return false;
    char line[4096];
    bool found = false;
    while (!found && fgets(line, sizeof line, f))
        found = strstr(line, text) != NULL;
    fclose(f);
    return found;
}

Test(service, serves_requests_applies_ingest_once_and_stops_on_sigterm)
{
    s_start();
    cr_assert_eq(crm_rpc_client_new(s.ctx, s.rpc, &s.client), 0);
    crm_rpc_client_t *client = s.client;
    Crm__V1__GetCustomerRequest none = CRM__V1__GET_CUSTOMER_REQUEST__INIT;
    cr_assert_eq(s_call(client, "contacts.Ping", &none.base, NULL, NULL, NULL), CRM_RPC_OK);
    cr_assert_eq(s_call(client, "contacts.Frobnicate", &none.base, NULL, NULL, NULL), CRM_RPC_UNKNOWN_METHOD);

    /* Live events from the contacts publisher. */
    cr_assert_eq(crm_bus_sub_new(s.ctx, s.pub, &s.sub), 0);
    crm_bus_sub_t *sub = s.sub;
    usleep(200 * 1000);   /* let the subscription reach the publisher */

    Crm__V1__CreateCustomerRequest create = CRM__V1__CREATE_CUSTOMER_REQUEST__INIT;
    Crm__V1__Customer customer = CRM__V1__CUSTOMER__INIT;
    customer.name = (char *) "Wang Fang";
    customer.email = (char *) "fang@example.cn";
    create.customer = &customer;
    Crm__V1__CustomerReply *created = NULL;
    cr_assert_eq(s_call(client, "contacts.CreateCustomer", &create.base, &crm__v1__customer_reply__descriptor,
                        (ProtobufCMessage **) &created, NULL), CRM_RPC_OK);
    char fang[CRM_ID_SIZE];
    snprintf(fang, sizeof fang, "%s", created->customer->id);
    crm_codec_message_free((ProtobufCMessage **) &created);
    char topic[CRM_BUS_MAX_TOPIC + 1];
    cr_assert(s_next_live(sub, topic, sizeof topic), "no live event after a create");
    cr_assert_str_eq(topic, "crm.contacts.customer.created.v1");

    /* Errors travel with their field and the other customer. */
    customer.name = (char *) "Copy";
    customer.email = (char *) "FANG@example.cn";
    crm_rpc_result_t result = { 0 };
    cr_assert_eq(s_call(client, "contacts.CreateCustomer", &create.base, NULL, NULL, &result), CRM_RPC_CONFLICT);
    cr_assert_str_eq(result.field, "email");
    cr_assert_str_eq(result.conflict_id, fang);
    crm_rpc_result_clear(&result);
    customer.email = (char *) "broken";
    cr_assert_eq(s_call(client, "contacts.CreateCustomer", &create.base, NULL, NULL, &result), CRM_RPC_INVALID);
    cr_assert_str_eq(result.field, "email");
    cr_assert_not_null(result.error);
    crm_rpc_result_clear(&result);

    /* An order through the gateway's ingest log, for a known and a new customer. */
    s_ingest("crm.ingest.order.placed.v1", "evt-1", &crm__v1__order_placed__descriptor,
             "{\"orderId\":\"HZ-1\",\"customer\":{\"email\":\"fang@example.cn\"},\"amountMinor\":\"8800\",\"currency\":\"CNY\"}");
    s_ingest("crm.ingest.order.placed.v1", "evt-2", &crm__v1__order_placed__descriptor,
             "{\"orderId\":\"HZ-2\",\"customer\":{\"email\":\"new@example.cn\"},\"amountMinor\":\"100\",\"currency\":\"CNY\"}");
    s_ingest("crm.ingest.order.placed.v1", "evt-3", &crm__v1__order_placed__descriptor,
             "{\"orderId\":\"HZ-1\",\"customer\":{\"email\":\"fang@example.cn\"},\"amountMinor\":\"8800\",\"currency\":\"CNY\"}");
    s_ingest("crm.ingest.order.placed.v1", "evt-4", &crm__v1__order_placed__descriptor,
             "{\"orderId\":\"HZ-3\",\"amountMinor\":\"1\",\"currency\":\"CNY\"}");   /* no customer: dead letter */
    char id[CRM_ID_SIZE];
    s_wait_purchases(client, "new@example.cn", 1, id);
    s_wait_purchases(client, "fang@example.cn", 1, id);
    cr_assert_str_eq(id, fang);
    /* The events the ingest raised are published live too. */
    bool recorded = false;
    while (!recorded && s_next_live(sub, topic, sizeof topic))
        recorded = strcmp(topic, "crm.contacts.purchase.recorded.v1") == 0;
    cr_assert(recorded, "purchase.recorded was not published live");
    crm_bus_sub_destroy(&s.sub);
    s_stop();
    cr_assert(s_log_has("\"started\""));
    cr_assert(s_log_has("\"stopped\""));
    cr_assert(s_log_has("ingest event refused"), "the dead letter is logged");

    /* After a restart nothing is applied twice, and new events still arrive. */
    s_start();
    s_ingest("crm.ingest.order.placed.v1", "evt-5", &crm__v1__order_placed__descriptor,
             "{\"orderId\":\"HZ-4\",\"customer\":{\"email\":\"fang@example.cn\"},\"amountMinor\":\"5\",\"currency\":\"CNY\"}");
    s_wait_purchases(client, "fang@example.cn", 2, id);
    s_wait_purchases(client, "new@example.cn", 1, id);

    /* Every event contacts raised is there for replay, in order. */
    crm_bus_batch_t *batch = NULL;
    cr_assert_eq(crm_bus_replay_client_new(s.ctx, s.replay, &s.replay_client), 0);
    crm_bus_replay_client_t *replay = s.replay_client;
    int rc = CRM_EUNAVAIL;
    long long deadline = crm_test_now_ms() + WAIT_MS;
    while ((rc = crm_bus_replay_fetch(replay, 0, CRM_BUS_REPLAY_MAX_EVENTS, CALL_MS, &batch)) == CRM_EUNAVAIL
           && crm_test_now_ms() < deadline)
        usleep(POLL_MS * 1000);
    cr_assert_eq(rc, 0);
    int created_count = 0, recorded_count = 0;
    for (size_t i = 0; i < crm_bus_batch_count(batch); i++) {
        crm_bus_event_t ev;
        crm_bus_batch_event(batch, i, &ev);
        cr_assert_eq(ev.seq, i + 1);
        created_count += crm_bus_topic_matches(ev.topic, ev.topic_len, "crm.contacts.customer.created.v1");
        recorded_count += crm_bus_topic_matches(ev.topic, ev.topic_len, "crm.contacts.purchase.recorded.v1");
    }
    cr_assert_eq(created_count, 2);
    cr_assert_eq(recorded_count, 3);
    crm_bus_batch_destroy(&batch);
    s_stop();
    cr_assert_eq(atomic_load(&s.gw.failures), 0);
}

Test(service, bad_settings_stop_the_start)
{
    s_env("CRM_CONTACTS_LOYAL_PURCHASES", "1");
    char program[CRM_TEST_PATH_MAX];
    crm_test_program("crm-contacts", program);
    char *argv[] = { program, NULL };
    s.pid = crm_test_spawn(argv, s.env, s.log);
    int status = crm_test_wait(s.pid, WAIT_MS);
    s.pid = 0;
    cr_assert(WIFEXITED(status));
    cr_assert_neq(WEXITSTATUS(status), 0);
    cr_assert(s_log_has("CRM_CONTACTS_LOYAL_PURCHASES"), "the log names the setting");
}
