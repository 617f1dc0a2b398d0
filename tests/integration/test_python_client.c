/* test_python_client.c: the Python example client (examples/python) publishes over HTTP and ZeroMQ; effects land once. */
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crm_suite.h"

#define ADMIN CRM_SUITE_ADMIN_KEY
#define CLIENT_SCRIPT CRM_SOURCE_DIR "/examples/python/crm_ingest.py"
#define DEFAULT_PYTHON "/usr/bin/python3"   /* Debian's, with python3-zmq and python3-protobuf */
#define CLIENT_WAIT_MS 15000                /* one run of the client, protoc included */
#define CLIENT_OUT_MAX 4096
#define CLIENT_ARGS_MAX 40
#define RESULTS_MAX 4
#define APPLY_WAIT_MS 15000
#define SETTLE_MS 500                       /* a doubled effect would show by then */
#define EXIT_REJECTED 1                     /* the client's exit statuses */
#define EXIT_UNAVAILABLE 3

static crm_suite_t suite;
static char gen_dir[CRM_TEST_PATH_MAX + 16];

static void s_setup(void)
{
    crm_suite_init(&suite);
    crm_suite_start(&suite, CRM_SVC_CONTACTS);
    crm_suite_start(&suite, CRM_SVC_GATEWAY);
    snprintf(gen_dir, sizeof gen_dir, "%s/pygen", suite.dir);
}

static void s_teardown(void)
{
    crm_suite_destroy(&suite);
    crm_test_check_leaks();
}

TestSuite(python_client, .init = s_setup, .fini = s_teardown, .timeout = 60);

/* What one run of the client printed: one JSON result per line. */
typedef struct {
    int status;                    /* exit status, or -1 when it did not exit normally */
    char out[CLIENT_OUT_MAX];
    json_t *results[RESULTS_MAX];
    size_t n_results;
} client_run_t;

static void s_run_clear(client_run_t *run)
{
    for (size_t i = 0; i < run->n_results; i++)
        json_decref(run->results[i]);
    run->n_results = 0;
}

/* Runs the example with args (the command first, NULL-terminated; the suite's URL and endpoint, the
 * generated-code folder and a time-out are added after the command, so args may override them),
 * collects its stdout, and kills it when it runs past CLIENT_WAIT_MS (failing the test). */
static void s_run(client_run_t *run, const char *const *args)
{
    const char *python = getenv("CRM_PYTHON") ? getenv("CRM_PYTHON") : DEFAULT_PYTHON;
    const char *argv[CLIENT_ARGS_MAX];
    size_t n = 0;
    argv[n++] = python;
    argv[n++] = CLIENT_SCRIPT;
    argv[n++] = args[0];                /* the command; then defaults that later args may override */
    argv[n++] = "--url";
    argv[n++] = suite.base_url;
    argv[n++] = "--endpoint";
    argv[n++] = suite.ingest_endpoint;
    argv[n++] = "--gen-dir";
    argv[n++] = gen_dir;
    argv[n++] = "--timeout";
    argv[n++] = "5";
    for (size_t i = 1; args[i]; i++) {
        cr_assert_lt(n, CLIENT_ARGS_MAX - 1);
        argv[n++] = args[i];
    }
    argv[n] = NULL;

    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        execv(python, (char *const *) argv);
        _exit(127);
    }
    close(fds[1]);
    memset(run, 0, sizeof *run);
    size_t used = 0;
    long long deadline = crm_test_now_ms() + CLIENT_WAIT_MS;
    bool eof = false;
    while (!eof && crm_test_now_ms() < deadline) {
        struct pollfd p = { .fd = fds[0], .events = POLLIN };
        int ready = poll(&p, 1, (int) (deadline - crm_test_now_ms()));
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready <= 0)
            break;
        ssize_t got = read(fds[0], run->out + used, sizeof run->out - 1 - used);
        if (got <= 0)
            eof = true;
        else
            used += (size_t) got;
        cr_assert_lt(used, sizeof run->out - 1, "the client printed too much");
    }
    close(fds[0]);
    int status = crm_test_wait(pid, eof ? CLIENT_WAIT_MS : 0);
    if (status == -1) {
        crm_test_stop(pid, SIGKILL, CLIENT_WAIT_MS);
        cr_assert_fail("the Python client did not finish within %d ms", CLIENT_WAIT_MS);
    }
    run->status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    cr_assert_neq(run->status, 127, "could not run %s (set CRM_PYTHON?)", python);

    for (char *line = strtok(run->out, "\n"); line; line = strtok(NULL, "\n")) {
        cr_assert_lt(run->n_results, RESULTS_MAX, "too many results");
        json_t *json = json_loads(line, 0, NULL);
        cr_assert_not_null(json, "not a JSON result: %s", line);
        run->results[run->n_results++] = json;
    }
}

static const char *s_str(json_t *obj, const char *key)
{
    const char *v = json_string_value(json_object_get(obj, key));
    return v ? v : "";
}

static const char *s_outcome(client_run_t *run, size_t i)
{
    cr_assert_lt(i, run->n_results, "result %zu missing (exit %d)", i, run->status);
    return s_str(run->results[i], "outcome");
}

/* Runs the client and expects exit 0 and these outcomes, one per copy sent. */
static void s_expect(const char *const *args, const char *first, const char *second, char *sequence,
                     size_t sequence_size)
{
    client_run_t run;
    s_run(&run, args);
    cr_assert_eq(run.status, 0, "client exit %d", run.status);
    cr_assert_eq(run.n_results, second ? 2u : 1u);
    cr_assert_str_eq(s_outcome(&run, 0), first);
    if (second) {
        cr_assert_str_eq(s_outcome(&run, 1), second);
        cr_assert_str_eq(s_str(run.results[1], "sequence"), s_str(run.results[0], "sequence"),
                         "a duplicate names its first copy's sequence");
    }
    if (sequence) {
        cr_assert_neq(s_str(run.results[0], "sequence")[0], '\0');
        snprintf(sequence, sequence_size, "%s", s_str(run.results[0], "sequence"));
    }
    s_run_clear(&run);
}

/* GET path (admin) and return the JSON body (caller decrefs). */
static json_t *s_get(const char *path)
{
    crm_http_response_t r;
    crm_suite_http(&suite, "GET", path, ADMIN, NULL, NULL, &r);
    cr_assert_eq(r.status, 200, "GET %s: %ld %s", path, r.status, r.body);
    json_t *json = crm_http_json(&r);
    crm_http_response_clear(&r);
    return json;
}

/* The customer with email once it has purchases purchases (one refunded by refunded_minor) and
 * interactions interactions; NULL when that did not happen in APPLY_WAIT_MS (caller decrefs). */
static json_t *s_wait_effects(const char *email, int purchases, const char *refunded_minor,
                              size_t interactions)
{
    char path[256];
    long long deadline = crm_test_now_ms() + APPLY_WAIT_MS;
    while (crm_test_now_ms() < deadline) {
        snprintf(path, sizeof path, "/v1/contacts?email=%s", email);
        json_t *list = s_get(path);
        json_t *c = json_incref(json_array_get(json_object_get(list, "customers"), 0));
        json_decref(list);
        if (c && json_integer_value(json_object_get(c, "purchaseCount")) == purchases) {
            snprintf(path, sizeof path, "/v1/contacts/%s/purchases", s_str(c, "id"));
            json_t *bought = s_get(path);
            bool refunded = false;
            json_t *p;
            size_t i;
            json_array_foreach(json_object_get(bought, "purchases"), i, p)
                refunded |= strcmp(s_str(p, "refundedMinor"), refunded_minor) == 0;
            json_decref(bought);
            snprintf(path, sizeof path, "/v1/contacts/%s/interactions", s_str(c, "id"));
            json_t *talks = s_get(path);
            size_t talked = json_array_size(json_object_get(talks, "interactions"));
            json_decref(talks);
            if (refunded && talked == interactions)
                return c;
        }
        json_decref(c);
        usleep(100 * 1000);
    }
    return NULL;
}

Test(python_client, http_and_zeromq_events_take_effect_exactly_once)
{
    char seq[32];
    /* HTTP: one order sent twice in one batch; the gateway keeps the first. */
    s_expect((const char *const[]) { "order", "--transport", "http", "--key", ADMIN, "--id", "py-h-1",
                                     "--source", "/shop/py", "--order-id", "SO-P1", "--email",
                                     "py@example.com", "--amount", "1500", "--currency", "CNY",
                                     "--item", "T-1:1:1500:Tee", "--copies", "2", NULL },
             "accepted", "duplicate", NULL, 0);
    /* ZeroMQ: another order, twice on one socket, then once more from a new run. */
    const char *const zmq_order[] = { "order", "--transport", "zmq", "--id", "py-z-1", "--source",
                                      "/shop/py", "--order-id", "SO-P2", "--email", "py@example.com",
                                      "--amount", "2500", "--currency", "CNY", "--copies", "2", NULL };
    s_expect(zmq_order, "accepted", "duplicate", seq, sizeof seq);
    client_run_t run;
    const char *const zmq_again[] = { "order", "--transport", "zmq", "--id", "py-z-1", "--source",
                                      "/shop/py", "--order-id", "SO-P2", "--email", "py@example.com",
                                      "--amount", "2500", "--currency", "CNY", NULL };
    s_run(&run, zmq_again);
    cr_assert_eq(run.status, 0);
    cr_assert_str_eq(s_outcome(&run, 0), "duplicate");
    cr_assert_str_eq(s_str(run.results[0], "sequence"), seq);
    s_run_clear(&run);
    /* A refund over HTTP, a complaint over ZeroMQ. */
    s_expect((const char *const[]) { "refund", "--transport", "http", "--key", ADMIN, "--id", "py-h-2",
                                     "--source", "/shop/py", "--order-id", "SO-P1", "--refund-id",
                                     "RF-P1", "--amount", "500", "--currency", "CNY", NULL },
             "accepted", NULL, NULL, 0);
    s_expect((const char *const[]) { "complaint", "--transport", "zmq", "--id", "py-z-2", "--source",
                                     "/callcentre/py", "--email", "py@example.com", "--channel", "phone",
                                     "--category", "delivery", "--priority", "high", "--subject",
                                     "包裹迟到", "--text", "Two days late.", "--copies", "2", NULL },
             "accepted", "duplicate", NULL, 0);

    json_t *c = s_wait_effects("py@example.com", 2, "500", 1);
    cr_assert_not_null(c, "two orders, the refund and the complaint were applied");
    json_decref(c);
    usleep(SETTLE_MS * 1000);
    c = s_wait_effects("py@example.com", 2, "500", 1);
    cr_assert_not_null(c, "and nothing was applied twice");
    char path[160];
    snprintf(path, sizeof path, "/v1/contacts/%s/purchases", s_str(c, "id"));
    json_t *bought = s_get(path);
    json_t *purchases = json_object_get(bought, "purchases");
    cr_assert_eq(json_array_size(purchases), 2);
    json_t *p;
    size_t i;
    json_array_foreach(purchases, i, p) {
        const char *order = s_str(p, "orderId");
        cr_assert(strcmp(order, "SO-P1") == 0 || strcmp(order, "SO-P2") == 0, "%s", order);
        cr_assert_str_eq(s_str(p, "amountMinor"), strcmp(order, "SO-P1") == 0 ? "1500" : "2500");
    }
    json_decref(bought);
    snprintf(path, sizeof path, "/v1/contacts/%s/interactions", s_str(c, "id"));
    json_t *talks = s_get(path);
    cr_assert_str_eq(s_str(json_array_get(json_object_get(talks, "interactions"), 0), "summary"), "包裹迟到");
    json_decref(talks);
    json_decref(c);
}

Test(python_client, rejections_and_an_absent_gateway_are_reported)
{
    client_run_t run;
    /* A bad currency: the event is rejected with the field named, over both transports. */
    const char *const bad_http[] = { "order", "--transport", "http", "--key", ADMIN, "--id", "py-bad-1",
                                     "--order-id", "SO-B1", "--email", "bad@example.com", "--amount",
                                     "100", "--currency", "cny", NULL };
    s_run(&run, bad_http);
    cr_assert_eq(run.status, EXIT_REJECTED);
    cr_assert_str_eq(s_outcome(&run, 0), "rejected");
    cr_assert_str_eq(s_str(run.results[0], "field"), "data.currency");
    s_run_clear(&run);
    const char *const bad_zmq[] = { "order", "--transport", "zmq", "--id", "py-bad-2", "--order-id",
                                    "SO-B2", "--email", "bad@example.com", "--amount", "100",
                                    "--currency", "cny", NULL };
    s_run(&run, bad_zmq);
    cr_assert_eq(run.status, EXIT_REJECTED);
    cr_assert_str_eq(s_outcome(&run, 0), "rejected");
    cr_assert_neq(s_str(run.results[0], "error")[0], '\0');
    s_run_clear(&run);
    /* A wrong key: the whole request is refused (401), nothing printed. */
    const char *const bad_key[] = { "order", "--transport", "http", "--key", "crm_nope", "--id", "py-bad-3",
                                    "--order-id", "SO-B3", "--email", "bad@example.com", "--amount",
                                    "100", "--currency", "CNY", NULL };
    s_run(&run, bad_key);
    cr_assert_eq(run.status, EXIT_REJECTED);
    cr_assert_eq(run.n_results, 0u);
    /* Nobody listening: the client retries, then says it gave up. */
    char nowhere[64];
    crm_test_endpoint(nowhere);
    const char *const absent[] = { "order", "--transport", "zmq", "--id", "py-bad-4", "--order-id",
                                   "SO-B4", "--email", "bad@example.com", "--amount", "100", "--currency",
                                   "CNY", "--retries", "1", "--endpoint", nowhere, "--timeout", "0.3",
                                   NULL };
    s_run(&run, absent);
    cr_assert_eq(run.status, EXIT_UNAVAILABLE);
    cr_assert_eq(run.n_results, 0u);

    json_t *list = s_get("/v1/contacts?email=bad@example.com");
    cr_assert_eq(json_array_size(json_object_get(list, "customers")), 0, "nothing was applied");
    json_decref(list);
}
