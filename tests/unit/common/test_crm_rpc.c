/* test_crm_rpc.c: request/reply over DEALER/ROUTER: round trips, statuses, pools, dead and silent servers, garbage. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdint.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "crm/v1/rpc.pb-c.h"
#include "crm_error.h"
#include "crm_rpc.h"
#include "crm_test.h"

#define CALL_TIMEOUT_MS 2000
#define CONNECT_WAIT_MS 3000       /* how long a fresh client may take to find its server */
#define RESTART_WAIT_MS 5000
#define SLOW_MS 300                /* how long the "slow" method sleeps */
#define POOL_THREADS 8
#define POOL_SIZE 4
#define CALLS_PER_THREAD 150
#define SLACK_MS 1000              /* generous bound on lateness */
#define SERVER_POLL_MS 20
#define TERM_WAIT_S 5
#define RC_UNSET 1                 /* no code is positive */
#define CONFLICT_ID "01ARYZ6S41TSV4RRFFQ69G5FAV"

/* --- A service in a thread: polls its server and answers by method. It counts problems instead
 * of asserting: assertions belong to the test's main thread. */

typedef struct {
    crm_rpc_server_t *server;
    pthread_t thread;
    atomic_bool stop;
    atomic_int handled;        /* requests the service saw */
    atomic_int errors;         /* recv failures, requests not taken over */
    atomic_int last_reply_rc;  /* what crm_rpc_server_reply returned last */
} s_service_t;

static void
s_handle(s_service_t *svc, crm_rpc_request_t **req_p)
{
    crm_rpc_request_t *req = *req_p;
    crm_rpc_reply_t reply = { .status = CRM_RPC_OK };
    char text[256];
    void *big = NULL;
    atomic_fetch_add(&svc->handled, 1);
    if (strcmp(req->method, "echo") == 0) {
        reply.body = req->body;
        reply.body_len = req->body_len;
    } else if (strcmp(req->method, "status") == 0) {
        /* The body names the status to answer with. */
        snprintf(text, sizeof text, "%.*s", (int) req->body_len, (const char *) req->body);
        reply.status = (crm_rpc_status_t) atoi(text);
        reply.error = "bad email";
        reply.field = "email";
        reply.conflict_id = CONFLICT_ID;
    } else if (strcmp(req->method, "whoami") == 0) {
        snprintf(text, sizeof text, "%s|%s|%s|%" PRId64, req->id, req->key_id, req->role,
                 req->deadline_us);
        reply.body = text;
        reply.body_len = strlen(text);
    } else if (strcmp(req->method, "slow") == 0) {
        usleep(SLOW_MS * 1000);
        reply.body = req->body;
        reply.body_len = req->body_len;
    } else if (strcmp(req->method, "silent") == 0) {
        crm_rpc_request_destroy(req_p);
        return;
    } else if (strcmp(req->method, "big") == 0) {
        big = calloc(1, CRM_RPC_MAX_MESSAGE);
        reply.body = big;
        reply.body_len = CRM_RPC_MAX_MESSAGE;
    } else if (strcmp(req->method, "badstatus") == 0) {
        reply.status = (crm_rpc_status_t) 99;
    } else {
        reply.status = CRM_RPC_UNKNOWN_METHOD;
        reply.error = "no such method";
    }
    atomic_store(&svc->last_reply_rc, crm_rpc_server_reply(svc->server, req_p, &reply));
    if (*req_p)
        atomic_fetch_add(&svc->errors, 1);
    free(big);
}

static void *
s_service_run(void *arg)
{
    s_service_t *svc = arg;
    while (!atomic_load(&svc->stop)) {
        zmq_pollitem_t item = { .socket = crm_rpc_server_socket(svc->server), .events = ZMQ_POLLIN };
        zmq_poll(&item, 1, SERVER_POLL_MS);
        crm_rpc_request_t *req = NULL;
        int rc;
        while ((rc = crm_rpc_server_recv(svc->server, &req)) == 0)
            s_handle(svc, &req);
        if (rc != CRM_ENOTFOUND || req)
            atomic_fetch_add(&svc->errors, 1);
    }
    return NULL;
}

/* Binds a server on endpoint, retrying a while (a port just released may still be busy), and runs
 * it in a thread. */
static s_service_t *
s_service_start(void *ctx, const char *endpoint)
{
    s_service_t *svc = calloc(1, sizeof *svc);
    cr_assert_not_null(svc);
    atomic_store(&svc->last_reply_rc, RC_UNSET);
    long long until = crm_test_now_ms() + CONNECT_WAIT_MS;
    int rc;
    while ((rc = crm_rpc_server_new(ctx, endpoint, &svc->server)) == CRM_EBUS && crm_test_now_ms() < until)
        usleep(10 * 1000);
    cr_assert_eq(rc, 0, "server on %s: %s", endpoint, crm_strerror(rc));
    cr_assert_eq(pthread_create(&svc->thread, NULL, s_service_run, svc), 0);
    return svc;
}

static void
s_service_stop(s_service_t **svc_p)
{
    s_service_t *svc = *svc_p;
    atomic_store(&svc->stop, true);
    pthread_join(svc->thread, NULL);
    cr_assert_eq(atomic_load(&svc->errors), 0);
    crm_rpc_server_destroy(&svc->server);
    cr_assert_null(svc->server);
    free(svc);
    *svc_p = NULL;
}

/* Waits until the service has stored the outcome of its last reply (it lands after the client
 * already has the reply), then returns it and resets it. */
static int
s_last_reply_rc(s_service_t *svc)
{
    long long until = crm_test_now_ms() + CALL_TIMEOUT_MS;
    int rc;
    while ((rc = atomic_load(&svc->last_reply_rc)) == RC_UNSET && crm_test_now_ms() < until)
        usleep(1000);
    atomic_store(&svc->last_reply_rc, RC_UNSET);
    return rc;
}

/* Calls, retrying while the fresh client has not connected yet. */
static int
s_call_when_up(crm_rpc_client_t *client, const char *method, const void *body, size_t body_len,
               crm_rpc_result_t *result)
{
    long long until = crm_test_now_ms() + CONNECT_WAIT_MS;
    int rc;
    while ((rc = crm_rpc_call(client, method, "key-1", "agent", body, body_len, CALL_TIMEOUT_MS,
                              result)) == CRM_EUNAVAIL && crm_test_now_ms() < until)
        usleep(5 * 1000);
    return rc;
}

/* --- Fixture: a context and a free loopback endpoint for each test. */

static void *s_ctx;
static char s_endpoint[64];

static void
s_setup(void)
{
    s_ctx = zmq_ctx_new();
    cr_assert_not_null(s_ctx);
    crm_test_endpoint(s_endpoint);
}

static void *
s_term(void *ctx)
{
    return (void *) (intptr_t) zmq_ctx_term(ctx);
}

static void
s_teardown(void)
{
    /* zmq_ctx_term waits for every socket to be closed: proof of clean teardown. A test that
     * failed half-way leaves sockets open, so wait a bounded time. */
    pthread_t thread;
    cr_assert_eq(pthread_create(&thread, NULL, s_term, s_ctx), 0);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += TERM_WAIT_S;
    void *rc = NULL;
    cr_assert_eq(pthread_timedjoin_np(thread, &rc, &until), 0, "sockets left open");
    cr_assert_eq((intptr_t) rc, 0);
    crm_test_check_leaks();
}

TestSuite(crm_rpc, .init = s_setup, .fini = s_teardown, .timeout = 60);

Test(crm_rpc, status_names_mirror_the_proto)
{
    cr_assert_str_eq(crm_rpc_status_name(CRM_RPC_OK), "OK");
    cr_assert_str_eq(crm_rpc_status_name(CRM_RPC_NOT_FOUND), "NOT_FOUND");
    cr_assert_str_eq(crm_rpc_status_name(CRM_RPC_TIMEOUT), "TIMEOUT");
    cr_assert_str_eq(crm_rpc_status_name((crm_rpc_status_t) 42), "UNKNOWN");
    /* Every value of crm.v1.Status has a name here, spelled as in the proto. */
    const ProtobufCEnumDescriptor *d = &crm__v1__status__descriptor;
    cr_assert_eq(d->n_values, CRM_RPC_STATUS_COUNT);
    for (unsigned i = 0; i < d->n_values; i++) {
        const char *name = crm_rpc_status_name((crm_rpc_status_t) d->values[i].value);
        cr_assert_str_eq(d->values[i].name + strlen("STATUS_"), name);
    }
}

Test(crm_rpc, round_trip_with_body_bytes_over_tcp)
{
    s_service_t *svc = s_service_start(s_ctx, s_endpoint);
    crm_rpc_client_t *client = NULL;
    cr_assert_eq(crm_rpc_client_new(s_ctx, s_endpoint, &client), 0);

    const unsigned char body[] = { 0x00, 0x01, 0xff, 'h', 'i', 0x00, 0x80 };
    crm_rpc_result_t res = { 0 };
    cr_assert_eq(s_call_when_up(client, "echo", body, sizeof body, &res), 0);
    cr_assert_eq(res.status, CRM_RPC_OK);
    cr_assert_eq(res.body_len, sizeof body);
    cr_assert_eq(memcmp(res.body, body, sizeof body), 0);
    cr_assert_null(res.error);
    cr_assert_null(res.field);
    cr_assert_null(res.conflict_id);
    crm_rpc_result_clear(&res);
    cr_assert_null(res.body);
    cr_assert_eq(res.body_len, 0);

    /* An empty body comes back as none. */
    cr_assert_eq(crm_rpc_call(client, "echo", NULL, NULL, NULL, 0, CALL_TIMEOUT_MS, &res), 0);
    cr_assert_eq(res.status, CRM_RPC_OK);
    cr_assert_null(res.body);
    cr_assert_eq(res.body_len, 0);
    crm_rpc_result_clear(&res);

    cr_assert_eq(crm_rpc_call(client, "nope", NULL, NULL, NULL, 0, CALL_TIMEOUT_MS, &res), 0);
    cr_assert_eq(res.status, CRM_RPC_UNKNOWN_METHOD);
    cr_assert_str_eq(res.error, "no such method");
    crm_rpc_result_clear(&res);
    crm_rpc_result_clear(&res);           /* twice is fine */
    crm_rpc_result_clear(NULL);

    crm_rpc_client_destroy(&client);
    cr_assert_null(client);
    crm_rpc_client_destroy(&client);
    cr_assert_eq(atomic_load(&svc->handled), 3);
    s_service_stop(&svc);
}

Test(crm_rpc, round_trip_over_inproc)
{
    s_service_t *svc = s_service_start(s_ctx, "inproc://crm-rpc-test");
    crm_rpc_client_t *client = NULL;
    cr_assert_eq(crm_rpc_client_new(s_ctx, "inproc://crm-rpc-test", &client), 0);
    crm_rpc_result_t res = { 0 };
    cr_assert_eq(s_call_when_up(client, "echo", "abc", 3, &res), 0);
    cr_assert_eq(res.body_len, 3);
    cr_assert_eq(memcmp(res.body, "abc", 3), 0);
    crm_rpc_result_clear(&res);
    crm_rpc_client_destroy(&client);
    s_service_stop(&svc);
}

Test(crm_rpc, every_status_and_its_strings_travel)
{
    s_service_t *svc = s_service_start(s_ctx, s_endpoint);
    crm_rpc_client_t *client = NULL;
    cr_assert_eq(crm_rpc_client_new(s_ctx, s_endpoint, &client), 0);
    for (int status = 0; status < CRM_RPC_STATUS_COUNT; status++) {
        char body[8];
        snprintf(body, sizeof body, "%d", status);
        crm_rpc_result_t res = { 0 };
        cr_assert_eq(s_call_when_up(client, "status", body, strlen(body), &res), 0);
        cr_assert_eq((int) res.status, status, "%s", crm_rpc_status_name(res.status));
        cr_assert_str_eq(res.error, "bad email");
        cr_assert_str_eq(res.field, "email");
        cr_assert_str_eq(res.conflict_id, CONFLICT_ID);
        cr_assert_null(res.body);
        crm_rpc_result_clear(&res);
    }
    crm_rpc_client_destroy(&client);
    s_service_stop(&svc);
}

Test(crm_rpc, caller_id_and_deadline_reach_the_service)
{
    s_service_t *svc = s_service_start(s_ctx, s_endpoint);
    crm_rpc_client_t *client = NULL;
    cr_assert_eq(crm_rpc_client_new(s_ctx, s_endpoint, &client), 0);
    crm_rpc_result_t res = { 0 };
    cr_assert_eq(s_call_when_up(client, "echo", NULL, 0, &res), 0);
    crm_rpc_result_clear(&res);

    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t before_us = (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    cr_assert_eq(crm_rpc_call(client, "whoami", "key-42", "admin", NULL, 0, CALL_TIMEOUT_MS, &res), 0);
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t after_us = (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    cr_assert_eq(res.status, CRM_RPC_OK);
    char text[256] = { 0 };
    cr_assert_lt(res.body_len, sizeof text);
    memcpy(text, res.body, res.body_len);
    char id[CRM_RPC_ID_SIZE], key[CRM_RPC_KEY_ID_SIZE], role[CRM_RPC_ROLE_SIZE];
    int64_t deadline = 0;
    cr_assert_eq(sscanf(text, "%63[^|]|%63[^|]|%31[^|]|%" SCNd64, id, key, role, &deadline), 4, "%s", text);
    cr_assert_eq(strlen(id), 26, "request ids are ULIDs: %s", id);
    cr_assert_str_eq(key, "key-42");
    cr_assert_str_eq(role, "admin");
    cr_assert(deadline >= before_us + CALL_TIMEOUT_MS * 1000 && deadline <= after_us + CALL_TIMEOUT_MS * 1000,
              "deadline %" PRId64 " not in [%" PRId64 ", %" PRId64 "]", deadline, before_us, after_us);
    crm_rpc_result_clear(&res);
    crm_rpc_client_destroy(&client);
    s_service_stop(&svc);
}

/* --- Pool. */

typedef struct {
    crm_rpc_pool_t *pool;
    int thread;
    int ok;
    int unavailable;
    int failed;
} s_worker_t;

static void *
s_worker(void *arg)
{
    s_worker_t *w = arg;
    for (int n = 0; n < CALLS_PER_THREAD; n++) {
        char body[32];
        int len = snprintf(body, sizeof body, "t%d-n%d", w->thread, n);
        crm_rpc_result_t res = { 0 };
        int rc = crm_rpc_pool_call(w->pool, "echo", "key", "agent", body, (size_t) len,
                                   CALL_TIMEOUT_MS, &res);
        if (rc == CRM_EUNAVAIL) {         /* a pool client not connected yet: nothing was sent */
            w->unavailable++;
            n--;
            usleep(1000);
            continue;
        }
        if (rc == 0 && res.status == CRM_RPC_OK && res.body_len == (size_t) len
            && memcmp(res.body, body, (size_t) len) == 0)
            w->ok++;
        else
            w->failed++;
        crm_rpc_result_clear(&res);
    }
    return NULL;
}

Test(crm_rpc, pool_shared_by_eight_threads_counts_exactly)
{
    s_service_t *svc = s_service_start(s_ctx, s_endpoint);
    crm_rpc_pool_t *pool = NULL;
    cr_assert_eq(crm_rpc_pool_new(s_ctx, s_endpoint, POOL_SIZE, &pool), 0);
    pthread_t threads[POOL_THREADS];
    s_worker_t workers[POOL_THREADS];
    for (int t = 0; t < POOL_THREADS; t++) {
        workers[t] = (s_worker_t) { .pool = pool, .thread = t };
        cr_assert_eq(pthread_create(&threads[t], NULL, s_worker, &workers[t]), 0);
    }
    int ok = 0, failed = 0, unavailable = 0;
    for (int t = 0; t < POOL_THREADS; t++) {
        pthread_join(threads[t], NULL);
        ok += workers[t].ok;
        failed += workers[t].failed;
        unavailable += workers[t].unavailable;
    }
    cr_assert_eq(failed, 0);
    cr_assert_eq(ok, POOL_THREADS * CALLS_PER_THREAD);
    cr_assert_eq(atomic_load(&svc->handled), POOL_THREADS * CALLS_PER_THREAD,
                 "the service saw %d (with %d unavailable)", atomic_load(&svc->handled), unavailable);
    crm_rpc_pool_destroy(&pool);
    cr_assert_null(pool);
    crm_rpc_pool_destroy(&pool);
    s_service_stop(&svc);
}

/* All clients of a one-client pool busy with a silent call: the second caller's wait for a free
 * client counts toward its time-out. */
typedef struct {
    crm_rpc_pool_t *pool;
    int rc;
} s_silent_t;

static void *
s_silent_caller(void *arg)
{
    s_silent_t *s = arg;
    crm_rpc_result_t res = { 0 };
    s->rc = crm_rpc_pool_call(s->pool, "silent", NULL, NULL, NULL, 0, 600, &res);
    return NULL;
}

Test(crm_rpc, pool_wait_counts_toward_the_timeout)
{
    s_service_t *svc = s_service_start(s_ctx, s_endpoint);
    crm_rpc_pool_t *pool = NULL;
    cr_assert_eq(crm_rpc_pool_new(s_ctx, s_endpoint, 1, &pool), 0);
    crm_rpc_result_t res = { 0 };
    long long until = crm_test_now_ms() + CONNECT_WAIT_MS;
    int rc;
    while ((rc = crm_rpc_pool_call(pool, "echo", NULL, NULL, NULL, 0, CALL_TIMEOUT_MS, &res)) == CRM_EUNAVAIL
           && crm_test_now_ms() < until)
        usleep(5000);
    cr_assert_eq(rc, 0);
    crm_rpc_result_clear(&res);

    s_silent_t silent = { .pool = pool };
    pthread_t thread;
    cr_assert_eq(pthread_create(&thread, NULL, s_silent_caller, &silent), 0);
    usleep(100 * 1000);         /* let it take the only client */
    long long start = crm_test_now_ms();
    rc = crm_rpc_pool_call(pool, "echo", NULL, NULL, NULL, 0, 150, &res);
    long long took = crm_test_now_ms() - start;
    cr_assert_eq(rc, CRM_ETIMEOUT);
    cr_assert(took >= 149 && took < 150 + SLACK_MS, "took %lld ms", took);
    pthread_join(thread, NULL);
    cr_assert_eq(silent.rc, CRM_ETIMEOUT);
    /* The client came back to the pool and still works. */
    cr_assert_eq(crm_rpc_pool_call(pool, "echo", NULL, NULL, "x", 1, CALL_TIMEOUT_MS, &res), 0);
    cr_assert_eq(res.body_len, 1);
    crm_rpc_result_clear(&res);
    crm_rpc_pool_destroy(&pool);
    s_service_stop(&svc);
}

/* --- Failures. */

Test(crm_rpc, no_server_is_unavailable_at_once)
{
    crm_rpc_client_t *client = NULL;
    cr_assert_eq(crm_rpc_client_new(s_ctx, s_endpoint, &client), 0);
    crm_rpc_pool_t *pool = NULL;
    cr_assert_eq(crm_rpc_pool_new(s_ctx, s_endpoint, 2, &pool), 0);
    for (int i = 0; i < 3; i++) {
        crm_rpc_result_t res = { .status = CRM_RPC_CONFLICT };
        long long start = crm_test_now_ms();
        cr_assert_eq(crm_rpc_call(client, "echo", NULL, NULL, "x", 1, 10 * CALL_TIMEOUT_MS, &res),
                     CRM_EUNAVAIL);
        cr_assert_eq(crm_rpc_pool_call(pool, "echo", NULL, NULL, "x", 1, 10 * CALL_TIMEOUT_MS, &res),
                     CRM_EUNAVAIL);
        cr_assert_lt(crm_test_now_ms() - start, SLACK_MS);
        cr_assert_eq(res.status, CRM_RPC_OK);       /* zeroed */
        cr_assert_null(res.body);
        usleep(50 * 1000);                          /* reconnect attempts meanwhile change nothing */
    }
    crm_rpc_pool_destroy(&pool);
    crm_rpc_client_destroy(&client);
}

Test(crm_rpc, silent_server_times_out)
{
    s_service_t *svc = s_service_start(s_ctx, s_endpoint);
    crm_rpc_client_t *client = NULL;
    cr_assert_eq(crm_rpc_client_new(s_ctx, s_endpoint, &client), 0);
    crm_rpc_result_t res = { 0 };
    cr_assert_eq(s_call_when_up(client, "echo", NULL, 0, &res), 0);
    const int timeout_ms = 250;
    long long start = crm_test_now_ms();
    cr_assert_eq(crm_rpc_call(client, "silent", NULL, NULL, NULL, 0, timeout_ms, &res), CRM_ETIMEOUT);
    long long took = crm_test_now_ms() - start;
    cr_assert(took >= timeout_ms - 1 && took < timeout_ms + SLACK_MS, "took %lld ms", took);
    cr_assert_null(res.body);
    crm_rpc_client_destroy(&client);
    cr_assert_eq(atomic_load(&svc->handled), 2);
    s_service_stop(&svc);
}

Test(crm_rpc, late_reply_to_a_timed_out_call_is_dropped)
{
    s_service_t *svc = s_service_start(s_ctx, s_endpoint);
    crm_rpc_client_t *client = NULL;
    cr_assert_eq(crm_rpc_client_new(s_ctx, s_endpoint, &client), 0);
    crm_rpc_result_t res = { 0 };
    cr_assert_eq(s_call_when_up(client, "echo", NULL, 0, &res), 0);
    cr_assert_eq(crm_rpc_call(client, "slow", NULL, NULL, "stale", 5, SLOW_MS / 3, &res), CRM_ETIMEOUT);
    /* The service answers "stale" while this call waits; only "fresh" may come back. */
    cr_assert_eq(crm_rpc_call(client, "echo", NULL, NULL, "fresh", 5, CALL_TIMEOUT_MS, &res), 0);
    cr_assert_eq(res.body_len, 5);
    cr_assert_eq(memcmp(res.body, "fresh", 5), 0);
    crm_rpc_result_clear(&res);
    crm_rpc_client_destroy(&client);
    cr_assert_eq(atomic_load(&svc->handled), 3);
    s_service_stop(&svc);
}

Test(crm_rpc, client_recovers_after_server_restart)
{
    s_service_t *svc = s_service_start(s_ctx, s_endpoint);
    crm_rpc_client_t *client = NULL;
    cr_assert_eq(crm_rpc_client_new(s_ctx, s_endpoint, &client), 0);
    crm_rpc_result_t res = { 0 };
    cr_assert_eq(s_call_when_up(client, "echo", "a", 1, &res), 0);
    crm_rpc_result_clear(&res);
    s_service_stop(&svc);

    /* Server gone: the call fails one way or another, and quickly. */
    long long start = crm_test_now_ms();
    int rc = crm_rpc_call(client, "echo", NULL, NULL, "b", 1, 300, &res);
    cr_assert(rc == CRM_EUNAVAIL || rc == CRM_ETIMEOUT, "%s", crm_errname(rc));
    cr_assert_lt(crm_test_now_ms() - start, 300 + SLACK_MS);

    svc = s_service_start(s_ctx, s_endpoint);
    long long until = crm_test_now_ms() + RESTART_WAIT_MS;
    int attempts = 0;
    do {
        attempts++;
        rc = crm_rpc_call(client, "echo", NULL, NULL, "c", 1, 200, &res);
        if (rc == CRM_EUNAVAIL)
            usleep(10 * 1000);
    } while (rc != 0 && crm_test_now_ms() < until);
    cr_assert_eq(rc, 0, "after %d attempts: %s", attempts, crm_errname(rc));
    cr_assert_eq(res.body_len, 1);
    cr_assert_eq(res.body[0], 'c');
    crm_rpc_result_clear(&res);
    crm_rpc_client_destroy(&client);
    s_service_stop(&svc);
}

/* --- Raw peers: what a broken or hostile client can send. */

static void *
s_raw_dealer(const char *endpoint)
{
    void *dealer = zmq_socket(s_ctx, ZMQ_DEALER);
    cr_assert_not_null(dealer);
    int linger = 0;
    zmq_setsockopt(dealer, ZMQ_LINGER, &linger, sizeof linger);
    cr_assert_eq(zmq_connect(dealer, endpoint), 0);
    return dealer;
}

/* Receives one Reply on a raw DEALER within CALL_TIMEOUT_MS (caller frees it). */
static Crm__V1__Reply *
s_raw_reply(void *dealer)
{
    zmq_pollitem_t item = { .socket = dealer, .events = ZMQ_POLLIN };
    cr_assert_eq(zmq_poll(&item, 1, CALL_TIMEOUT_MS), 1, "no reply");
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    cr_assert_geq(zmq_msg_recv(&msg, dealer, 0), 0);
    cr_assert_not(zmq_msg_more(&msg));
    Crm__V1__Reply *reply = crm__v1__reply__unpack(NULL, zmq_msg_size(&msg), zmq_msg_data(&msg));
    zmq_msg_close(&msg);
    cr_assert_not_null(reply);
    return reply;
}

static void
s_raw_send_request(void *dealer, const char *id, const char *method, int64_t deadline_us)
{
    Crm__V1__Request req = CRM__V1__REQUEST__INIT;
    req.id = (char *) id;
    req.method = (char *) method;
    req.deadline_unix_us = deadline_us;
    uint8_t buf[1024];
    size_t size = crm__v1__request__get_packed_size(&req);
    cr_assert_leq(size, sizeof buf);
    crm__v1__request__pack(&req, buf);
    cr_assert_eq(zmq_send(dealer, buf, size, 0), (int) size);
}

static void
s_expect_reply(void *dealer, const char *id, crm_rpc_status_t status, const char *field)
{
    Crm__V1__Reply *reply = s_raw_reply(dealer);
    cr_assert_str_eq(reply->id, id);
    cr_assert_eq((int) reply->status, (int) status, "got %s", crm_rpc_status_name((crm_rpc_status_t) reply->status));
    cr_assert_str_eq(reply->field, field);
    if (status != CRM_RPC_OK)
        cr_assert_str_neq(reply->error, "");
    crm__v1__reply__free_unpacked(reply, NULL);
}

static int64_t
s_unix_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

Test(crm_rpc, garbage_is_answered_invalid_or_dropped)
{
    s_service_t *svc = s_service_start(s_ctx, s_endpoint);
    void *dealer = s_raw_dealer(s_endpoint);

    /* Not protobuf at all (an unterminated length-delimited field). */
    const char junk[] = "\x0a\xff\xff\xff\x0f garbage";
    cr_assert_eq(zmq_send(dealer, junk, sizeof junk - 1, 0), (int) sizeof junk - 1);
    s_expect_reply(dealer, "", CRM_RPC_INVALID, "");

    /* Two frames. */
    cr_assert_eq(zmq_send(dealer, "a", 1, ZMQ_SNDMORE), 1);
    cr_assert_eq(zmq_send(dealer, "b", 1, 0), 1);
    s_expect_reply(dealer, "", CRM_RPC_INVALID, "");

    /* An empty frame parses as an empty Request, which has no id. */
    cr_assert_eq(zmq_send(dealer, "", 0, 0), 0);
    s_expect_reply(dealer, "", CRM_RPC_INVALID, "id");

    /* Fields out of bounds: the id comes back so a real client could match the reply. */
    s_raw_send_request(dealer, "r1", "", 0);
    s_expect_reply(dealer, "r1", CRM_RPC_INVALID, "method");
    char long_method[CRM_RPC_METHOD_SIZE + 1];
    memset(long_method, 'm', sizeof long_method - 1);
    long_method[sizeof long_method - 1] = '\0';
    s_raw_send_request(dealer, "r2", long_method, 0);
    s_expect_reply(dealer, "r2", CRM_RPC_INVALID, "method");
    char long_id[CRM_RPC_ID_SIZE + 1];
    memset(long_id, 'i', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = '\0';
    s_raw_send_request(dealer, long_id, "echo", 0);
    s_expect_reply(dealer, long_id, CRM_RPC_INVALID, "id");
    s_raw_send_request(dealer, "r3", "echo", -5);
    s_expect_reply(dealer, "r3", CRM_RPC_INVALID, "deadline_unix_us");

    /* More than CRM_RPC_MAX_MESSAGE: ZeroMQ drops the connection; nothing reaches the service. */
    void *hog = s_raw_dealer(s_endpoint);
    size_t huge = CRM_RPC_MAX_MESSAGE + 1;
    char *big = calloc(1, huge);
    cr_assert_not_null(big);
    cr_assert_eq(zmq_send(hog, big, huge, 0), (int) huge);
    free(big);

    /* A well-formed request with no deadline still works on the same connection. */
    s_raw_send_request(dealer, "r4", "echo", 0);
    s_expect_reply(dealer, "r4", CRM_RPC_OK, "");    /* echo answers OK: error is "" */
    zmq_close(hog);
    zmq_close(dealer);
    cr_assert_eq(atomic_load(&svc->handled), 1, "only r4 reaches the service");
    s_service_stop(&svc);
}

Test(crm_rpc, expired_deadline_is_answered_timeout_by_the_server)
{
    /* No thread: this test drives the server by hand, on a port the system picks. */
    crm_rpc_server_t *server = NULL;
    cr_assert_eq(crm_rpc_server_new(s_ctx, "tcp://127.0.0.1:*", &server), 0);
    const char *endpoint = crm_rpc_server_endpoint(server);
    cr_assert(strncmp(endpoint, "tcp://127.0.0.1:", 16) == 0 && atoi(endpoint + 16) > 0, "%s", endpoint);
    void *dealer = s_raw_dealer(endpoint);
    zmq_pollitem_t item = { .socket = crm_rpc_server_socket(server), .events = ZMQ_POLLIN };
    crm_rpc_request_t *req = (crm_rpc_request_t *) &item;    /* recv must reset it */

    cr_assert_eq(crm_rpc_server_recv(server, &req), CRM_ENOTFOUND);
    cr_assert_null(req);

    s_raw_send_request(dealer, "expired-1", "echo", s_unix_us() - 1000000);
    cr_assert_eq(zmq_poll(&item, 1, CALL_TIMEOUT_MS), 1);
    cr_assert_eq(crm_rpc_server_recv(server, &req), CRM_ENOTFOUND, "an expired request is not handed out");
    cr_assert_null(req);
    Crm__V1__Reply *reply = s_raw_reply(dealer);
    cr_assert_str_eq(reply->id, "expired-1");
    cr_assert_eq(reply->status, CRM__V1__STATUS__STATUS_TIMEOUT);
    crm__v1__reply__free_unpacked(reply, NULL);

    /* A live one is handed out with its fields, and answered. */
    int64_t deadline = s_unix_us() + 10 * 1000000LL;
    s_raw_send_request(dealer, "live-1", "contacts.Get", deadline);
    cr_assert_eq(zmq_poll(&item, 1, CALL_TIMEOUT_MS), 1);
    cr_assert_eq(crm_rpc_server_recv(server, &req), 0);
    cr_assert_str_eq(req->id, "live-1");
    cr_assert_str_eq(req->method, "contacts.Get");
    cr_assert_eq(req->deadline_us, deadline);
    cr_assert_str_eq(req->key_id, "");
    cr_assert_str_eq(req->role, "");
    cr_assert_null(req->body);
    cr_assert_eq(req->body_len, 0);
    crm_rpc_reply_t ok = { .status = CRM_RPC_NOT_FOUND, .error = "no such customer", .field = "id" };
    cr_assert_eq(crm_rpc_server_reply(server, &req, &ok), 0);
    cr_assert_null(req);
    reply = s_raw_reply(dealer);
    cr_assert_str_eq(reply->id, "live-1");
    cr_assert_eq(reply->status, CRM__V1__STATUS__STATUS_NOT_FOUND);
    cr_assert_str_eq(reply->error, "no such customer");
    cr_assert_str_eq(reply->field, "id");
    crm__v1__reply__free_unpacked(reply, NULL);

    /* A request may also be dropped unanswered; and the server may go while one is held. */
    s_raw_send_request(dealer, "held-1", "echo", 0);
    cr_assert_eq(zmq_poll(&item, 1, CALL_TIMEOUT_MS), 1);
    cr_assert_eq(crm_rpc_server_recv(server, &req), 0);
    cr_assert_eq(req->deadline_us, 0);
    zmq_close(dealer);
    crm_rpc_server_destroy(&server);
    cr_assert_null(server);
    crm_rpc_request_destroy(&req);
    cr_assert_null(req);
    crm_rpc_request_destroy(&req);
}

Test(crm_rpc, oversized_or_invalid_replies_become_internal)
{
    s_service_t *svc = s_service_start(s_ctx, s_endpoint);
    crm_rpc_client_t *client = NULL;
    cr_assert_eq(crm_rpc_client_new(s_ctx, s_endpoint, &client), 0);
    crm_rpc_result_t res = { 0 };
    cr_assert_eq(s_call_when_up(client, "big", NULL, 0, &res), 0);
    cr_assert_eq(res.status, CRM_RPC_INTERNAL);
    cr_assert_str_eq(res.error, "reply too large");
    cr_assert_null(res.body);
    crm_rpc_result_clear(&res);
    cr_assert_eq(s_last_reply_rc(svc), CRM_ETOOBIG);

    cr_assert_eq(crm_rpc_call(client, "badstatus", NULL, NULL, NULL, 0, CALL_TIMEOUT_MS, &res), 0);
    cr_assert_eq(res.status, CRM_RPC_INTERNAL);
    crm_rpc_result_clear(&res);
    cr_assert_eq(s_last_reply_rc(svc), CRM_EINVALID);

    /* The connection survived both. */
    cr_assert_eq(crm_rpc_call(client, "echo", NULL, NULL, "ok", 2, CALL_TIMEOUT_MS, &res), 0);
    cr_assert_eq(res.body_len, 2);
    crm_rpc_result_clear(&res);
    cr_assert_eq(s_last_reply_rc(svc), 0);
    crm_rpc_client_destroy(&client);
    s_service_stop(&svc);
}

Test(crm_rpc, bad_arguments_are_refused)
{
    crm_rpc_server_t *server = NULL;
    cr_assert_eq(crm_rpc_server_new(s_ctx, NULL, &server), CRM_EINVALID);
    cr_assert_eq(crm_rpc_server_new(s_ctx, "nonsense", &server), CRM_EINVALID);
    cr_assert_null(server);
    cr_assert_eq(crm_rpc_server_new(s_ctx, s_endpoint, &server), 0);
    crm_rpc_server_t *second = NULL;
    cr_assert_eq(crm_rpc_server_new(s_ctx, s_endpoint, &second), CRM_EBUS, "port taken");
    cr_assert_null(second);

    crm_rpc_client_t *client = NULL;
    cr_assert_eq(crm_rpc_client_new(s_ctx, NULL, &client), CRM_EINVALID);
    cr_assert_eq(crm_rpc_client_new(s_ctx, "nonsense", &client), CRM_EINVALID);
    cr_assert_null(client);
    cr_assert_eq(crm_rpc_client_new(s_ctx, s_endpoint, &client), 0);

    crm_rpc_result_t res = { 0 };
    char long_key[CRM_RPC_KEY_ID_SIZE + 1];
    memset(long_key, 'k', sizeof long_key - 1);
    long_key[sizeof long_key - 1] = '\0';
    static const char one = 'x';
    cr_assert_eq(crm_rpc_call(client, NULL, NULL, NULL, NULL, 0, 100, &res), CRM_EINVALID);
    cr_assert_eq(crm_rpc_call(client, "", NULL, NULL, NULL, 0, 100, &res), CRM_EINVALID);
    cr_assert_eq(crm_rpc_call(client, "echo", long_key, NULL, NULL, 0, 100, &res), CRM_EINVALID);
    cr_assert_eq(crm_rpc_call(client, "echo", NULL, NULL, NULL, 5, 100, &res), CRM_EINVALID);
    cr_assert_eq(crm_rpc_call(client, "echo", NULL, NULL, NULL, 0, 0, &res), CRM_EINVALID);
    cr_assert_eq(crm_rpc_call(client, "echo", NULL, NULL, NULL, 0, CRM_RPC_MAX_TIMEOUT_MS + 1, &res),
                 CRM_EINVALID);
    /* Refused before the body is read. */
    cr_assert_eq(crm_rpc_call(client, "echo", NULL, NULL, &one, CRM_RPC_MAX_MESSAGE + 1, 100, &res),
                 CRM_ETOOBIG);

    crm_rpc_pool_t *pool = NULL;
    cr_assert_eq(crm_rpc_pool_new(s_ctx, s_endpoint, 0, &pool), CRM_EINVALID);
    cr_assert_eq(crm_rpc_pool_new(s_ctx, s_endpoint, CRM_RPC_POOL_MAX_SIZE + 1, &pool), CRM_EINVALID);
    cr_assert_eq(crm_rpc_pool_new(s_ctx, "nonsense", 2, &pool), CRM_EINVALID);
    cr_assert_null(pool);

    crm_rpc_client_destroy(&client);
    crm_rpc_server_destroy(&server);
    crm_rpc_server_destroy(&server);
}
