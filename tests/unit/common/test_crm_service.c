/* test_crm_service.c: the service skeleton in a child process: ping, unknown methods, events published, clean stop on SIGTERM. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "crm_error.h"
#include "crm_service.h"
#include "crm_test.h"

#define WAIT_MS 10000

static char dir[CRM_TEST_PATH_MAX];
static char rpc_ep[64], pub_ep[64], replay_ep[64];

/* The child: a contacts-shaped service that answers "contacts.Echo" and commits one event per call. */
typedef struct {
    crm_service_t *svc;
    const char *text;
} s_write_t;

static int s_write_event(crm_txn_t *txn, void *arg)
{
    s_write_t *w = arg;
    return crm_outbox_append(crm_service_outbox(w->svc), txn, "crm.test.echoed.v1", w->text,
                             strlen(w->text), NULL);
}

static void s_echo(crm_service_t *svc, crm_rpc_request_t **req_p, void *arg)
{
    crm_rpc_request_t *req = *req_p;
    if (strcmp(req->method, "contacts.Echo") != 0) {
        crm_rpc_reply_t reply = { .status = CRM_RPC_UNKNOWN_METHOD, .error = "unknown method" };
        crm_service_reply(svc, req_p, &reply);
        return;
    }
    char text[64];
    snprintf(text, sizeof text, "%.*s", (int) req->body_len, (const char *) req->body);
    s_write_t w = { svc, text };
    int rc = crm_service_write(svc, s_write_event, &w);
    crm_rpc_reply_t reply = { .status = rc ? CRM_RPC_INTERNAL : CRM_RPC_OK, .body = req->body,
                              .body_len = req->body_len };
    crm_service_reply(svc, req_p, &reply);
}

static void s_child(void)
{
    crm_service_t *svc = NULL;
    if (crm_service_new(CRM_SVC_CONTACTS, &svc) != 0)
        _exit(3);
    crm_service_on_request(svc, s_echo, NULL);
    int rc = crm_service_run(svc, NULL, NULL);
    crm_service_destroy(&svc);
    _exit(rc ? 4 : 0);
}

static pid_t s_start(void)
{
    char data[CRM_TEST_PATH_MAX + 8];
    snprintf(data, sizeof data, "%s", dir);
    setenv("CRM_DATA_DIR", data, 1);
    setenv("CRM_CONTACTS_RPC_ENDPOINT", rpc_ep, 1);
    setenv("CRM_CONTACTS_PUB_ENDPOINT", pub_ep, 1);
    setenv("CRM_CONTACTS_REPLAY_ENDPOINT", replay_ep, 1);
    setenv("CRM_CONTACTS_HEALTH_ADDR", "127.0.0.1:0", 1);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0)
        s_child();
    return pid;
}

static void s_setup(void)
{
    crm_test_tmpdir(dir);
    crm_test_endpoint(rpc_ep);
    crm_test_endpoint(pub_ep);
    crm_test_endpoint(replay_ep);
}

static void s_teardown(void)
{
    crm_test_rmtree(dir);
    crm_test_check_leaks();
}

TestSuite(crm_service, .init = s_setup, .fini = s_teardown, .timeout = 60);

/* Calls method until the service answers (it may still be starting). */
static int s_call(crm_rpc_client_t *client, const char *method, const char *body, crm_rpc_result_t *result)
{
    long long deadline = crm_test_now_ms() + WAIT_MS;
    int rc;
    do {
        memset(result, 0, sizeof *result);
        rc = crm_rpc_call(client, method, "k1", "admin", body, body ? strlen(body) : 0, 1000, result);
        if (rc == CRM_EUNAVAIL)
            usleep(20 * 1000);
    } while (rc == CRM_EUNAVAIL && crm_test_now_ms() < deadline);
    return rc;
}

Test(crm_service, answers_ping_and_requests_publishes_and_stops_on_sigterm)
{
    pid_t pid = s_start();
    void *ctx = zmq_ctx_new();
    crm_rpc_client_t *client = NULL;
    crm_bus_sub_t *sub = NULL;
    crm_bus_replay_client_t *replay = NULL;
    cr_assert_eq(crm_rpc_client_new(ctx, rpc_ep, &client), 0);
    cr_assert_eq(crm_bus_sub_new(ctx, pub_ep, &sub), 0);
    cr_assert_eq(crm_bus_replay_client_new(ctx, replay_ep, &replay), 0);

    crm_rpc_result_t result;
    cr_assert_eq(s_call(client, "contacts.Ping", NULL, &result), 0);
    cr_assert_eq(result.status, CRM_RPC_OK);
    crm_rpc_result_clear(&result);
    cr_assert_eq(s_call(client, "contacts.Nothing", NULL, &result), 0);
    cr_assert_eq(result.status, CRM_RPC_UNKNOWN_METHOD);
    crm_rpc_result_clear(&result);

    cr_assert_eq(s_call(client, "contacts.Echo", "first", &result), 0);
    cr_assert_eq(result.status, CRM_RPC_OK);
    cr_assert_eq(result.body_len, 5);
    crm_rpc_result_clear(&result);

    /* The committed event is in the outbox: replay returns it with sequence 1. */
    crm_bus_batch_t *batch = NULL;
    int rc = CRM_EUNAVAIL;
    for (int i = 0; i < 100 && rc == CRM_EUNAVAIL; i++) {
        rc = crm_bus_replay_fetch(replay, 0, 10, 2000, &batch);
        if (rc == CRM_EUNAVAIL)
            usleep(20 * 1000);
    }
    cr_assert_eq(rc, 0);
    cr_assert_eq(crm_bus_batch_count(batch), 1);
    crm_bus_event_t event;
    crm_bus_batch_event(batch, 0, &event);
    cr_assert_eq(event.seq, 1);
    cr_assert_eq(event.payload_len, 5);
    cr_assert_eq(memcmp(event.payload, "first", 5), 0);
    crm_bus_batch_destroy(&batch);

    /* A live event reaches a connected subscriber. */
    usleep(200 * 1000);
    cr_assert_eq(s_call(client, "contacts.Echo", "second", &result), 0);
    crm_rpc_result_clear(&result);
    long long deadline = crm_test_now_ms() + WAIT_MS;
    bool seen = false;
    while (!seen && crm_test_now_ms() < deadline) {
        zmq_pollitem_t item = { crm_bus_sub_socket(sub), 0, ZMQ_POLLIN, 0 };
        if (zmq_poll(&item, 1, 100) > 0 && crm_bus_sub_recv(sub, &event) == 0 && !event.heartbeat)
            seen = event.seq == 2 && event.payload_len == 6;
    }
    cr_assert(seen, "the second event was published live");

    crm_bus_replay_client_destroy(&replay);
    crm_bus_sub_destroy(&sub);
    crm_rpc_client_destroy(&client);
    zmq_ctx_term(ctx);
    int status = crm_test_stop(pid, SIGTERM, WAIT_MS);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "clean exit on SIGTERM (status %d)", status);
}

Test(crm_service, a_taken_endpoint_stops_the_start_with_an_error)
{
    /* A real service binary (exec'd, so nothing of this process's threads comes along). */
    void *ctx = zmq_ctx_new();
    void *squatter = zmq_socket(ctx, ZMQ_ROUTER);
    cr_assert_eq(zmq_bind(squatter, rpc_ep), 0);
    char program[CRM_TEST_PATH_MAX], log[CRM_TEST_PATH_MAX + 16], data[CRM_TEST_PATH_MAX + 32];
    char rpc[96], pub[96], replay[96];
    crm_test_program("crm-contacts", program);
    snprintf(log, sizeof log, "%s/log", dir);
    snprintf(data, sizeof data, "CRM_DATA_DIR=%s", dir);
    snprintf(rpc, sizeof rpc, "CRM_CONTACTS_RPC_ENDPOINT=%s", rpc_ep);
    snprintf(pub, sizeof pub, "CRM_CONTACTS_PUB_ENDPOINT=%s", pub_ep);
    snprintf(replay, sizeof replay, "CRM_CONTACTS_REPLAY_ENDPOINT=%s", replay_ep);
    char *env[] = { data, rpc, pub, replay, "CRM_CONTACTS_HEALTH_ADDR=127.0.0.1:0", NULL };
    char *argv[] = { program, NULL };
    pid_t pid = crm_test_spawn(argv, env, log);
    int status = crm_test_wait(pid, WAIT_MS * 4);
    if (status == -1)
        crm_test_stop(pid, SIGKILL, 1000);
    zmq_close(squatter);
    zmq_ctx_term(ctx);
    cr_assert(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) != 0,
              "the service refused to start (status %d)", status);
}
