/* test_crm_loop.c: the event loop: timers, sockets, fds, stopping, and SIGTERM/SIGINT through a signalfd. */
#include <criterion/criterion.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "crm_error.h"
#include "crm_loop.h"
#include "crm_test.h"

/* Every test fails on leaked memory. */
TestSuite(crm_loop, .fini = crm_test_check_leaks);

#define SAFETY_MS 5000      /* a one-shot that ends a test that would otherwise hang */
#define LATE_MS 500         /* generous bound on how late a timer may fire */
#define MAX_EVENTS 32

/* What handlers saw, in order. */
typedef struct {
    crm_loop_t *loop;
    long long start_ms;
    int tags[MAX_EVENTS];
    long long at_ms[MAX_EVENTS];
    int count;
} s_log_t;

static void
s_log(s_log_t *log, int tag)
{
    cr_assert_lt(log->count, MAX_EVENTS);
    log->tags[log->count] = tag;
    log->at_ms[log->count] = crm_test_now_ms() - log->start_ms;
    log->count++;
}

/* A one-shot's argument: where to log, and what. */
typedef struct {
    s_log_t *log;
    int tag;
} s_mark_t;

static int
s_on_mark(crm_loop_t *loop, void *arg)
{
    s_mark_t *mark = arg;
    s_log(mark->log, mark->tag);
    return 0;
}

static int
s_on_stop(crm_loop_t *loop, void *arg)
{
    crm_loop_stop(loop);
    return 0;
}

static int
s_on_safety(crm_loop_t *loop, void *arg)
{
    return CRM_ETIMEOUT;      /* the test failed to stop the loop by itself */
}

Test(crm_loop, empty_loop_returns_at_once)
{
    crm_loop_t *loop = NULL;
    cr_assert_eq(crm_loop_new(&loop), 0);
    cr_assert_eq(crm_loop_run(loop), 0);
    cr_assert_eq(crm_loop_signal(loop), 0);
    crm_loop_destroy(&loop);
    cr_assert_null(loop);
    crm_loop_destroy(&loop);
}

/* Adds the one-shots of the ordering test; run from a handler so they share one start time. */
static int
s_on_setup_order(crm_loop_t *loop, void *arg)
{
    s_mark_t *marks = arg;     /* 60, 20, 40, 41 (also 40), 0 */
    const int delays[] = { 60, 20, 40, 40, 0 };
    for (int i = 0; i < 5; i++)
        cr_assert_eq(crm_loop_add_oneshot(loop, delays[i], s_on_mark, &marks[i], NULL), 0);
    cr_assert_eq(crm_loop_add_oneshot(loop, 80, s_on_stop, NULL, NULL), 0);
    return 0;
}

Test(crm_loop, one_shots_fire_in_order_at_about_the_right_times)
{
    crm_loop_t *loop = NULL;
    cr_assert_eq(crm_loop_new(&loop), 0);
    s_log_t log = { .loop = loop, .start_ms = crm_test_now_ms() };
    /* Added out of order; two share a due time and must fire in creation order. */
    s_mark_t marks[] = { { &log, 60 }, { &log, 20 }, { &log, 40 }, { &log, 41 }, { &log, 0 } };
    cr_assert_eq(crm_loop_add_oneshot(loop, 0, s_on_setup_order, marks, NULL), 0);
    cr_assert_eq(crm_loop_add_oneshot(loop, SAFETY_MS, s_on_safety, NULL, NULL), 0);

    cr_assert_eq(crm_loop_run(loop), 0);
    cr_assert_eq(log.count, 5);
    const int want[] = { 0, 20, 40, 41, 60 };
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(log.tags[i], want[i], "event %d: tag %d, want %d", i, log.tags[i], want[i]);
        int due = want[i] == 41 ? 40 : want[i];
        /* Never early (the delays count from after start_ms); late only by scheduling. */
        cr_assert(log.at_ms[i] >= due && log.at_ms[i] < due + LATE_MS,
                  "tag %d fired at %lld ms", log.tags[i], log.at_ms[i]);
    }
    cr_assert_geq(crm_test_now_ms() - log.start_ms, 80);
    crm_loop_destroy(&loop);
}

typedef struct {
    int count;
    int stop_at;
} s_counter_t;

static int
s_on_count(crm_loop_t *loop, void *arg)
{
    s_counter_t *c = arg;
    c->count++;
    return c->count == c->stop_at ? CRM_EINTERRUPT : 0;
}

Test(crm_loop, repeating_timer_until_a_handler_fails)
{
    crm_loop_t *loop = NULL;
    cr_assert_eq(crm_loop_new(&loop), 0);
    s_counter_t counter = { .stop_at = 5 };
    int id = 0;
    long long start = crm_test_now_ms();
    cr_assert_eq(crm_loop_add_timer(loop, 10, s_on_count, &counter, &id), 0);
    cr_assert_gt(id, 0);
    cr_assert_eq(crm_loop_add_oneshot(loop, SAFETY_MS, s_on_safety, NULL, NULL), 0);
    /* The handler's own code comes back. */
    cr_assert_eq(crm_loop_run(loop), CRM_EINTERRUPT);
    long long took = crm_test_now_ms() - start;
    cr_assert_eq(counter.count, 5);
    cr_assert(took >= 49 && took < 50 + LATE_MS, "took %lld ms", took);
    /* The timer is still there; the loop can run again. */
    counter.count = 0;
    counter.stop_at = 2;
    cr_assert_eq(crm_loop_run(loop), CRM_EINTERRUPT);
    cr_assert_eq(counter.count, 2);
    cr_assert_eq(crm_loop_remove_timer(loop, id), 0);
    cr_assert_eq(crm_loop_remove_timer(loop, id), CRM_ENOTFOUND);
    crm_loop_destroy(&loop);
}

typedef struct {
    s_counter_t *counter;
    int timer_id;
    int oneshot_id;
    int count_at_removal;
    int rc;
} s_remover_t;

static int
s_on_remove(crm_loop_t *loop, void *arg)
{
    s_remover_t *r = arg;
    r->count_at_removal = r->counter->count;
    r->rc = crm_loop_remove_timer(loop, r->timer_id);
    return 0;
}

/* Adds a 10 ms ticker and, 55 ms later, its remover: from a handler, so both count from the same
 * start and the ticker fires at most 5 times. */
static int
s_on_setup_remove(crm_loop_t *loop, void *arg)
{
    s_remover_t *r = arg;
    cr_assert_eq(crm_loop_add_timer(loop, 10, s_on_count, r->counter, &r->timer_id), 0);
    cr_assert_eq(crm_loop_add_oneshot(loop, 55, s_on_remove, r, &r->oneshot_id), 0);
    cr_assert_neq(r->oneshot_id, r->timer_id);
    cr_assert_eq(crm_loop_add_oneshot(loop, 150, s_on_stop, NULL, NULL), 0);
    return 0;
}

Test(crm_loop, removed_timer_stops_firing)
{
    crm_loop_t *loop = NULL;
    cr_assert_eq(crm_loop_new(&loop), 0);
    s_counter_t counter = { .stop_at = -1 };
    s_remover_t remover = { .counter = &counter, .rc = 1 };
    cr_assert_eq(crm_loop_add_oneshot(loop, 0, s_on_setup_remove, &remover, NULL), 0);
    cr_assert_eq(crm_loop_run(loop), 0);
    cr_assert_eq(remover.rc, 0);
    cr_assert(remover.count_at_removal >= 1 && remover.count_at_removal <= 5, "%d",
              remover.count_at_removal);
    cr_assert_eq(counter.count, remover.count_at_removal, "fired after removal");
    /* A fired one-shot is gone. */
    cr_assert_eq(crm_loop_remove_timer(loop, remover.oneshot_id), CRM_ENOTFOUND);
    /* Nothing is left: run returns at once. */
    cr_assert_eq(crm_loop_run(loop), 0);
    crm_loop_destroy(&loop);
}

/* Two timers due together; the first stops the loop, so the second must not run. */
Test(crm_loop, stop_from_a_handler_calls_no_further_handler)
{
    crm_loop_t *loop = NULL;
    cr_assert_eq(crm_loop_new(&loop), 0);
    s_log_t log = { .loop = loop, .start_ms = crm_test_now_ms() };
    s_mark_t late = { &log, 1 };
    cr_assert_eq(crm_loop_add_oneshot(loop, 10, s_on_stop, NULL, NULL), 0);
    cr_assert_eq(crm_loop_add_oneshot(loop, 10, s_on_mark, &late, NULL), 0);
    cr_assert_eq(crm_loop_run(loop), 0);
    cr_assert_eq(log.count, 0);
    /* Running again fires the one left. */
    cr_assert_eq(crm_loop_run(loop), 0);
    cr_assert_eq(log.count, 1);
    crm_loop_destroy(&loop);
}

/* --- Sockets and fds. */

typedef struct {
    void *push;
    void *pull;
    char got[MAX_EVENTS][16];
    int count;
    int want;
} s_pipe_t;

static int
s_on_send(crm_loop_t *loop, void *arg)
{
    s_pipe_t *p = arg;
    const char *words[] = { "one", "two", "three" };
    for (int i = 0; i < 3; i++)
        cr_assert_eq(zmq_send(p->push, words[i], strlen(words[i]), 0), (int) strlen(words[i]));
    return 0;
}

static int
s_on_pull(crm_loop_t *loop, void *arg)
{
    s_pipe_t *p = arg;
    for (;;) {
        char buf[16] = { 0 };
        int n = zmq_recv(p->pull, buf, sizeof buf - 1, ZMQ_DONTWAIT);
        if (n < 0) {
            cr_assert_eq(zmq_errno(), EAGAIN);
            break;
        }
        cr_assert_lt(p->count, MAX_EVENTS);
        memcpy(p->got[p->count++], buf, sizeof buf);
    }
    if (p->count >= p->want)
        crm_loop_stop(loop);
    return 0;
}

Test(crm_loop, socket_handler_gets_messages)
{
    void *ctx = zmq_ctx_new();
    cr_assert_not_null(ctx);
    char endpoint[64];
    crm_test_endpoint(endpoint);
    s_pipe_t p = { .want = 3 };
    p.pull = zmq_socket(ctx, ZMQ_PULL);
    p.push = zmq_socket(ctx, ZMQ_PUSH);
    int linger = 0;
    zmq_setsockopt(p.push, ZMQ_LINGER, &linger, sizeof linger);
    cr_assert_eq(zmq_bind(p.pull, endpoint), 0);
    cr_assert_eq(zmq_connect(p.push, endpoint), 0);

    crm_loop_t *loop = NULL;
    cr_assert_eq(crm_loop_new(&loop), 0);
    cr_assert_eq(crm_loop_add_socket(loop, p.pull, s_on_pull, &p), 0);
    cr_assert_eq(crm_loop_add_socket(loop, p.pull, s_on_pull, &p), CRM_EEXISTS);
    cr_assert_eq(crm_loop_add_oneshot(loop, 10, s_on_send, &p, NULL), 0);
    cr_assert_eq(crm_loop_add_oneshot(loop, SAFETY_MS, s_on_safety, NULL, NULL), 0);
    cr_assert_eq(crm_loop_run(loop), 0);
    cr_assert_eq(p.count, 3);
    cr_assert_str_eq(p.got[0], "one");
    cr_assert_str_eq(p.got[1], "two");
    cr_assert_str_eq(p.got[2], "three");

    cr_assert_eq(crm_loop_remove_socket(loop, p.pull), 0);
    cr_assert_eq(crm_loop_remove_socket(loop, p.pull), CRM_ENOTFOUND);
    crm_loop_destroy(&loop);
    zmq_close(p.push);
    zmq_close(p.pull);
    cr_assert_eq(zmq_ctx_term(ctx), 0);
}

typedef struct {
    int fds[2];
    int reads;
    char last;
} s_fd_t;

/* Reads one byte; on 'q' removes its own fd, which leaves nothing and ends the loop. */
static int
s_on_fd(crm_loop_t *loop, void *arg)
{
    s_fd_t *f = arg;
    char c = 0;
    cr_assert_eq(read(f->fds[0], &c, 1), 1);
    f->reads++;
    f->last = c;
    if (c == 'q')
        cr_assert_eq(crm_loop_remove_fd(loop, f->fds[0]), 0);
    return 0;
}

Test(crm_loop, fd_handler_reads_and_removes_itself)
{
    s_fd_t f = { 0 };
    cr_assert_eq(pipe(f.fds), 0);
    crm_loop_t *loop = NULL;
    cr_assert_eq(crm_loop_new(&loop), 0);
    cr_assert_eq(crm_loop_add_fd(loop, -1, s_on_fd, &f), CRM_EINVALID);
    cr_assert_eq(crm_loop_add_fd(loop, f.fds[0], s_on_fd, &f), 0);
    cr_assert_eq(crm_loop_add_fd(loop, f.fds[0], s_on_fd, &f), CRM_EEXISTS);
    cr_assert_eq(write(f.fds[1], "abq", 3), 3);
    /* No timers: the loop ends when the handler removes the last fd. */
    cr_assert_eq(crm_loop_run(loop), 0);
    cr_assert_eq(f.reads, 3);
    cr_assert_eq(f.last, 'q');
    cr_assert_eq(crm_loop_remove_fd(loop, f.fds[0]), CRM_ENOTFOUND);
    crm_loop_destroy(&loop);
    close(f.fds[0]);
    close(f.fds[1]);
}

Test(crm_loop, terminated_context_is_a_bus_error)
{
    void *ctx = zmq_ctx_new();
    void *pull = zmq_socket(ctx, ZMQ_PULL);
    cr_assert_not_null(pull);
    crm_loop_t *loop = NULL;
    cr_assert_eq(crm_loop_new(&loop), 0);
    cr_assert_eq(crm_loop_add_socket(loop, pull, s_on_stop, NULL), 0);
    cr_assert_eq(crm_loop_add_oneshot(loop, SAFETY_MS, s_on_safety, NULL, NULL), 0);
    zmq_ctx_shutdown(ctx);
    cr_assert_eq(crm_loop_run(loop), CRM_EBUS);
    crm_loop_destroy(&loop);
    zmq_close(pull);
    zmq_ctx_term(ctx);
}

/* --- Limits. */

static int
s_on_nothing(crm_loop_t *loop, void *arg)
{
    return 0;
}

Test(crm_loop, limits_and_bad_arguments)
{
    crm_loop_t *loop = NULL;
    cr_assert_eq(crm_loop_new(&loop), 0);
    cr_assert_eq(crm_loop_add_timer(loop, 0, s_on_nothing, NULL, NULL), CRM_EINVALID);
    cr_assert_eq(crm_loop_add_timer(loop, CRM_LOOP_MAX_INTERVAL_MS + 1, s_on_nothing, NULL, NULL),
                 CRM_EINVALID);
    cr_assert_eq(crm_loop_add_oneshot(loop, -1, s_on_nothing, NULL, NULL), CRM_EINVALID);
    int ids[CRM_LOOP_MAX_TIMERS];
    for (int i = 0; i < CRM_LOOP_MAX_TIMERS; i++) {
        cr_assert_eq(crm_loop_add_timer(loop, 1000, s_on_nothing, NULL, &ids[i]), 0);
        for (int j = 0; j < i; j++)
            cr_assert_neq(ids[i], ids[j]);
    }
    cr_assert_eq(crm_loop_add_oneshot(loop, 10, s_on_nothing, NULL, NULL), CRM_ELIMIT);
    cr_assert_eq(crm_loop_remove_timer(loop, ids[3]), 0);
    cr_assert_eq(crm_loop_add_oneshot(loop, 10, s_on_nothing, NULL, NULL), 0);
    cr_assert_eq(crm_loop_remove_timer(loop, 0), CRM_ENOTFOUND);

    /* Handlers: the fd numbers need not be open until the loop runs. */
    const int base_fd = 1000;
    for (int i = 0; i < CRM_LOOP_MAX_HANDLERS; i++)
        cr_assert_eq(crm_loop_add_fd(loop, base_fd + i, s_on_nothing, NULL), 0);
    cr_assert_eq(crm_loop_add_fd(loop, base_fd - 1, s_on_nothing, NULL), CRM_ELIMIT);
    cr_assert_eq(crm_loop_watch_signals(loop), CRM_ELIMIT);
    cr_assert_eq(crm_loop_remove_fd(loop, base_fd + 5), 0);
    cr_assert_eq(crm_loop_add_fd(loop, base_fd - 1, s_on_nothing, NULL), 0);
    crm_loop_destroy(&loop);
}

/* --- Signals. Criterion runs each test in its own process, so blocking signals here is local. */

Test(crm_loop, sigterm_raised_after_blocking_stops_the_loop)
{
    crm_loop_t *loop = NULL;
    cr_assert_eq(crm_loop_new(&loop), 0);
    cr_assert_eq(crm_loop_watch_signals(loop), 0);
    cr_assert_eq(crm_loop_watch_signals(loop), CRM_EEXISTS);
    cr_assert_eq(crm_loop_add_oneshot(loop, SAFETY_MS, s_on_safety, NULL, NULL), 0);
    long long start = crm_test_now_ms();
    cr_assert_eq(raise(SIGTERM), 0);       /* blocked: it waits in the signalfd */
    cr_assert_eq(crm_loop_run(loop), 0);
    cr_assert_eq(crm_loop_signal(loop), SIGTERM);
    cr_assert_lt(crm_test_now_ms() - start, 1000);
    crm_loop_destroy(&loop);
}

static int
s_on_kill(crm_loop_t *loop, void *arg)
{
    int *sent = arg;
    *sent = 1;
    cr_assert_eq(kill(getpid(), SIGINT), 0);
    return 0;
}

Test(crm_loop, sigint_during_the_run_stops_the_loop)
{
    crm_loop_t *loop = NULL;
    cr_assert_eq(crm_loop_new(&loop), 0);
    cr_assert_eq(crm_loop_watch_signals(loop), 0);
    int sent = 0;
    s_counter_t ticks = { .stop_at = -1 };
    cr_assert_eq(crm_loop_add_timer(loop, 5, s_on_count, &ticks, NULL), 0);
    cr_assert_eq(crm_loop_add_oneshot(loop, 30, s_on_kill, &sent, NULL), 0);
    cr_assert_eq(crm_loop_add_oneshot(loop, SAFETY_MS, s_on_safety, NULL, NULL), 0);
    cr_assert_eq(crm_loop_run(loop), 0);
    cr_assert_eq(sent, 1);
    cr_assert_eq(crm_loop_signal(loop), SIGINT);
    cr_assert_gt(ticks.count, 0);
    /* The signal is consumed: a new run does not stop at once. */
    s_counter_t three = { .stop_at = 3 };
    cr_assert_eq(crm_loop_add_timer(loop, 5, s_on_count, &three, NULL), 0);
    cr_assert_eq(crm_loop_run(loop), CRM_EINTERRUPT);
    cr_assert_eq(crm_loop_signal(loop), 0);
    crm_loop_destroy(&loop);
}
