/* test_loyalty_service.c: the crm-loyalty process: starts from environment settings alone, earns from a contacts event exactly once across a restart, answers requests, stops cleanly on SIGTERM. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "crm/v1/contacts.pb-c.h"
#include "crm/v1/loyalty_api.pb-c.h"
#include "crm_bus.h"
#include "crm_error.h"
#include "crm_event.h"
#include "crm_id.h"
#include "crm_outbox.h"
#include "crm_rpc.h"
#include "crm_store.h"
#include "crm_test.h"
#include "crm_time.h"

#define WAIT_MS      15000
#define POLL_MS      20
#define HEARTBEAT_MS 100

static char dir[CRM_TEST_PATH_MAX], log_path[CRM_TEST_PATH_MAX + 16];
static char ly_rpc[64], ly_pub[64], ly_replay[64], ct_pub[64], ct_replay[64];
static int health_port;
static pid_t child;          /* the running crm-loyalty, stopped by the teardown if a test failed */

/* The contacts service, faked: an outbox published and replayed from this process. */
typedef struct {
    crm_store_t *store;
    crm_outbox_t *outbox;
    crm_id_gen_t *ids;
    crm_bus_pub_t *pub;
    crm_bus_replay_server_t *replay;
    long long next_heartbeat;
} s_contacts_t;

static void s_setup(void)
{
    crm_test_tmpdir(dir);
    snprintf(log_path, sizeof log_path, "%s/loyalty.log", dir);
    crm_test_endpoint(ly_rpc);
    crm_test_endpoint(ly_pub);
    crm_test_endpoint(ly_replay);
    crm_test_endpoint(ct_pub);
    crm_test_endpoint(ct_replay);
    health_port = crm_test_free_port();
}

static void s_teardown(void)
{
    if (child > 0)
        crm_test_stop(child, SIGKILL, 5000);
    child = 0;
    crm_test_rmtree(dir);
    crm_test_check_leaks();
}

TestSuite(loyalty_service, .init = s_setup, .fini = s_teardown, .timeout = 90);

static pid_t s_start_loyalty(void)
{
    static char env[12][CRM_TEST_PATH_MAX + 64];
    snprintf(env[0], sizeof env[0], "CRM_DATA_DIR=%s/data", dir);
    snprintf(env[1], sizeof env[1], "CRM_LOYALTY_RPC_ENDPOINT=%s", ly_rpc);
    snprintf(env[2], sizeof env[2], "CRM_LOYALTY_PUB_ENDPOINT=%s", ly_pub);
    snprintf(env[3], sizeof env[3], "CRM_LOYALTY_REPLAY_ENDPOINT=%s", ly_replay);
    snprintf(env[4], sizeof env[4], "CRM_LOYALTY_HEALTH_ADDR=127.0.0.1:%d", health_port);
    snprintf(env[5], sizeof env[5], "CRM_CONTACTS_PUB_ENDPOINT=%s", ct_pub);
    snprintf(env[6], sizeof env[6], "CRM_CONTACTS_REPLAY_ENDPOINT=%s", ct_replay);
    snprintf(env[7], sizeof env[7], "CRM_LOYALTY_TICK=50ms");
    char *envp[] = { env[0], env[1], env[2], env[3], env[4], env[5], env[6], env[7], NULL };
    char program[CRM_TEST_PATH_MAX];
    crm_test_program("crm-loyalty", program);
    char *argv[] = { program, NULL };
    child = crm_test_spawn(argv, envp, log_path);
    return child;
}

static void s_contacts_open(void *ctx, s_contacts_t *c)
{
    char path[CRM_TEST_PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/contacts", dir);
    crm_store_options_t opts = { .no_sync = true };
    cr_assert_eq(crm_store_open(path, &opts, &c->store), 0);
    cr_assert_eq(crm_outbox_new(c->store, &c->outbox), 0);
    cr_assert_eq(crm_id_gen_new(&c->ids), 0);
    cr_assert_eq(crm_bus_pub_new(ctx, ct_pub, &c->pub), 0);
    cr_assert_eq(crm_bus_replay_server_new(ctx, ct_replay, &c->replay), 0);
}

static void s_contacts_close(s_contacts_t *c)
{
    crm_bus_replay_server_destroy(&c->replay);
    crm_bus_pub_destroy(&c->pub);
    crm_id_gen_destroy(&c->ids);
    crm_outbox_destroy(&c->outbox);
    crm_store_destroy(&c->store);
}

/* Serves replay, publishes and beats for a while, as the contacts service's loop would. */
static void s_contacts_pump(s_contacts_t *c, int ms)
{
    long long until = crm_test_now_ms() + ms;
    do {
        zmq_pollitem_t items[] = {
            { crm_bus_replay_server_socket(c->replay), 0, ZMQ_POLLIN, 0 },
            { NULL, crm_outbox_fd(c->outbox), ZMQ_POLLIN, 0 },
        };
        zmq_poll(items, 2, POLL_MS);
        if (items[0].revents & ZMQ_POLLIN)
            cr_assert_eq(crm_outbox_serve_replay(c->outbox, c->replay), 0);
        if (items[1].revents & ZMQ_POLLIN)
            cr_assert_eq(crm_outbox_publish(c->outbox, c->pub, NULL), 0);
        if (crm_test_now_ms() >= c->next_heartbeat) {
            uint64_t head = 0;
            cr_assert_eq(crm_outbox_head(c->outbox, &head), 0);
            crm_bus_pub_heartbeat(c->pub, head);
            c->next_heartbeat = crm_test_now_ms() + HEARTBEAT_MS;
        }
    } while (crm_test_now_ms() < until);
}

typedef struct {
    s_contacts_t *c;
    const char *customer;
} s_purchase_t;

static int s_append_purchase(crm_txn_t *txn, void *arg)
{
    s_purchase_t *p = arg;
    Crm__V1__Timestamp at = CRM__V1__TIMESTAMP__INIT;
    at.seconds = crm_time_now_us() / 1000000;
    Crm__V1__Purchase purchase = CRM__V1__PURCHASE__INIT;
    purchase.id = "purchase-1";
    purchase.customer_id = (char *) p->customer;
    purchase.order_id = "order-1";
    purchase.amount_minor = 12345;
    purchase.currency = "CNY";
    purchase.purchased_at = &at;
    Crm__V1__PurchaseRecorded m = CRM__V1__PURCHASE_RECORDED__INIT;
    m.purchase = &purchase;
    m.purchase_number = 1;
    crm_event_spec_t spec = {
        .source = "/crm/contacts", .type = "crm.contacts.purchase.recorded.v1", .subject = p->customer,
        .data = &m.base,
    };
    return crm_event_append(p->c->outbox, txn, p->c->ids, &spec, NULL);
}

/* Calls a loyalty method until the service answers (it may still be starting). */
static int s_call(crm_rpc_client_t *client, const char *method, const ProtobufCMessage *req,
                  crm_rpc_result_t *result)
{
    uint8_t body[512];
    size_t len = protobuf_c_message_pack(req, body);
    long long deadline = crm_test_now_ms() + WAIT_MS;
    int rc;
    do {
        memset(result, 0, sizeof *result);
        rc = crm_rpc_call(client, method, "key-1", "admin", body, len, 1000, result);
        if (rc == CRM_EUNAVAIL || rc == CRM_ETIMEOUT)
            usleep(20 * 1000);
    } while ((rc == CRM_EUNAVAIL || rc == CRM_ETIMEOUT) && crm_test_now_ms() < deadline);
    return rc;
}

static int64_t s_balance(crm_rpc_client_t *client, const char *customer)
{
    Crm__V1__CustomerLoyaltyRequest req = CRM__V1__CUSTOMER_LOYALTY_REQUEST__INIT;
    req.customer_id = (char *) customer;
    crm_rpc_result_t result;
    cr_assert_eq(s_call(client, "loyalty.GetBalance", &req.base, &result), 0);
    cr_assert_eq(result.status, CRM_RPC_OK, "GetBalance: %s", result.error ? result.error : "");
    Crm__V1__BalanceReply *rep = crm__v1__balance_reply__unpack(NULL, result.body_len, result.body);
    cr_assert_not_null(rep);
    int64_t balance = rep->balance;
    crm__v1__balance_reply__free_unpacked(rep, NULL);
    crm_rpc_result_clear(&result);
    return balance;
}

Test(loyalty_service, earns_from_contacts_events_once_across_a_restart_and_stops_on_sigterm)
{
    void *ctx = zmq_ctx_new();
    s_contacts_t contacts = { 0 };
    s_contacts_open(ctx, &contacts);
    char customer[CRM_ID_SIZE];
    cr_assert_eq(crm_id_next(contacts.ids, customer), 0);
    s_purchase_t p = { &contacts, customer };
    cr_assert_eq(crm_store_write(contacts.store, s_append_purchase, &p), 0);
    crm_outbox_notify(contacts.outbox);

    pid_t pid = s_start_loyalty();
    crm_rpc_client_t *client = NULL;
    cr_assert_eq(crm_rpc_client_new(ctx, ly_rpc, &client), 0);
    crm_rpc_result_t result;
    Crm__V1__ListTiersRequest tiers = CRM__V1__LIST_TIERS_REQUEST__INIT;
    cr_assert_eq(s_call(client, "loyalty.Ping", &tiers.base, &result), 0);
    cr_assert_eq(result.status, CRM_RPC_OK);
    crm_rpc_result_clear(&result);
    cr_assert(crm_test_wait_port(health_port, WAIT_MS));

    /* The purchase reaches loyalty by replay: 123 points and the first-purchase bonus. */
    long long deadline = crm_test_now_ms() + WAIT_MS;
    int64_t balance = 0;
    while (balance == 0 && crm_test_now_ms() < deadline) {
        s_contacts_pump(&contacts, 100);
        balance = s_balance(client, customer);
    }
    cr_assert_eq(balance, 123 + 50);

    /* Its own events go out through the outbox and can be replayed. */
    crm_bus_replay_client_t *replay = NULL;
    cr_assert_eq(crm_bus_replay_client_new(ctx, ly_replay, &replay), 0);
    crm_bus_batch_t *batch = NULL;
    int rc;
    deadline = crm_test_now_ms() + WAIT_MS;
    do {
        rc = crm_bus_replay_fetch(replay, 0, 100, 1000, &batch);
        if (rc == CRM_EUNAVAIL)
            usleep(20 * 1000);
    } while (rc == CRM_EUNAVAIL && crm_test_now_ms() < deadline);
    cr_assert_eq(rc, 0, "replay: %s", crm_errname(rc));
    size_t earned = 0;
    for (size_t i = 0; i < crm_bus_batch_count(batch); i++) {
        crm_bus_event_t ev;
        crm_bus_batch_event(batch, i, &ev);
        earned += crm_bus_topic_matches(ev.topic, ev.topic_len, "crm.loyalty.points.earned.v1");
    }
    cr_assert_eq(earned, 2);
    crm_bus_batch_destroy(&batch);
    crm_bus_replay_client_destroy(&replay);

    int status = crm_test_stop(pid, SIGTERM, 10000);
    child = 0;
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "crm-loyalty did not stop cleanly (status %d)", status);

    /* Started again: the event is not applied twice. */
    pid = s_start_loyalty();
    s_contacts_pump(&contacts, 1000);
    cr_assert_eq(s_balance(client, customer), 123 + 50);
    s_contacts_pump(&contacts, 500);
    cr_assert_eq(s_balance(client, customer), 123 + 50);
    status = crm_test_stop(pid, SIGTERM, 10000);
    child = 0;
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    crm_rpc_client_destroy(&client);
    s_contacts_close(&contacts);
    zmq_ctx_term(ctx);
}

Test(loyalty_service, refuses_bad_settings)
{
    static char env[6][CRM_TEST_PATH_MAX + 64];
    snprintf(env[0], sizeof env[0], "CRM_DATA_DIR=%s/data", dir);
    snprintf(env[1], sizeof env[1], "CRM_LOYALTY_TIER_CURRENCY=yuan");
    snprintf(env[2], sizeof env[2], "CRM_LOYALTY_RPC_ENDPOINT=%s", ly_rpc);
    snprintf(env[3], sizeof env[3], "CRM_LOYALTY_PUB_ENDPOINT=%s", ly_pub);
    snprintf(env[4], sizeof env[4], "CRM_LOYALTY_REPLAY_ENDPOINT=%s", ly_replay);
    snprintf(env[5], sizeof env[5], "CRM_LOYALTY_HEALTH_ADDR=127.0.0.1:%d", health_port);
    char *envp[] = { env[0], env[1], env[2], env[3], env[4], env[5], NULL };
    char program[CRM_TEST_PATH_MAX];
    crm_test_program("crm-loyalty", program);
    char *argv[] = { program, NULL };
    child = crm_test_spawn(argv, envp, log_path);
    int status = crm_test_wait(child, 10000);
    child = 0;
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) != 0);
    FILE *f = fopen(log_path, "r");
    cr_assert_not_null(f);
    char line[1024];
    bool named = false;
    while (fgets(line, sizeof line, f))
        named = named || strstr(line, "CRM_LOYALTY_TIER_CURRENCY") != NULL;
    fclose(f);
    cr_assert(named, "the log names the bad setting");
}
