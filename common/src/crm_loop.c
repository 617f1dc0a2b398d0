/* crm_loop.c: one zmq_poll over sockets and fds, a small timer table, and a signalfd for SIGINT/SIGTERM. */
#include "crm_loop.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "crm_error.h"

#define MS_PER_S 1000
#define NS_PER_MS 1000000
#define NO_TIMEOUT (-1L)

typedef struct {
    crm_loop_fn fn;              /* NULL for the signal fd */
    void *arg;
    bool removed;                /* removed during dispatch; compacted afterwards */
} s_handler_t;

typedef struct {
    bool active;
    int id;
    uint64_t seq;                /* creation order, for ties and for "not in this pass" */
    int64_t due_ms;
    int interval_ms;             /* 0 for a one-shot */
    crm_loop_fn fn;
    void *arg;
} s_timer_t;

struct crm_loop {
    zmq_pollitem_t items[CRM_LOOP_MAX_HANDLERS];
    s_handler_t handlers[CRM_LOOP_MAX_HANDLERS];
    int count;
    s_timer_t timers[CRM_LOOP_MAX_TIMERS];
    int next_timer_id;
    uint64_t next_seq;
    int signal_fd;               /* -1 until crm_loop_watch_signals */
    int signal;                  /* what stopped the last run */
    int64_t now_ms;              /* the time of the current pass, while running */
    bool running;
    bool dispatching;
    bool stopped;
};

static int64_t
s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * MS_PER_S + ts.tv_nsec / NS_PER_MS;
}

int
crm_loop_new(crm_loop_t **loop_p)
{
    assert(loop_p);
    crm_loop_t *loop = calloc(1, sizeof *loop);
    *loop_p = loop;
    if (!loop)
        return CRM_ENOMEM;
    loop->signal_fd = -1;
    loop->next_timer_id = 1;
    return 0;
}

void
crm_loop_destroy(crm_loop_t **loop_p)
{
    assert(loop_p);
    crm_loop_t *loop = *loop_p;
    if (!loop)
        return;
    assert(!loop->running);
    if (loop->signal_fd >= 0)
        close(loop->signal_fd);
    free(loop);
    *loop_p = NULL;
}

/* The index of a live handler for socket (or, when socket is NULL, for fd), or -1. */
static int
s_find(crm_loop_t *loop, void *socket, int fd)
{
    for (int i = 0; i < loop->count; i++) {
        if (loop->handlers[i].removed)
            continue;
        if (socket ? loop->items[i].socket == socket : (!loop->items[i].socket && loop->items[i].fd == fd))
            return i;
    }
    return -1;
}

static int
s_add(crm_loop_t *loop, void *socket, int fd, crm_loop_fn fn, void *arg)
{
    if (s_find(loop, socket, fd) >= 0)
        return CRM_EEXISTS;
    if (loop->count == CRM_LOOP_MAX_HANDLERS)
        return CRM_ELIMIT;
    int i = loop->count++;
    loop->items[i] = (zmq_pollitem_t) { .socket = socket, .fd = socket ? 0 : fd, .events = ZMQ_POLLIN };
    loop->handlers[i] = (s_handler_t) { .fn = fn, .arg = arg };
    return 0;
}

/* Drops removed handlers, keeping the others in order. Not while dispatching: indexes must hold. */
static void
s_compact(crm_loop_t *loop)
{
    assert(!loop->dispatching);
    int kept = 0;
    for (int i = 0; i < loop->count; i++) {
        if (loop->handlers[i].removed)
            continue;
        loop->items[kept] = loop->items[i];
        loop->handlers[kept] = loop->handlers[i];
        kept++;
    }
    loop->count = kept;
}

static int
s_remove(crm_loop_t *loop, void *socket, int fd)
{
    int i = s_find(loop, socket, fd);
    if (i < 0)
        return CRM_ENOTFOUND;
    loop->handlers[i].removed = true;
    if (!loop->dispatching)
        s_compact(loop);
    return 0;
}

int
crm_loop_add_socket(crm_loop_t *loop, void *socket, crm_loop_fn fn, void *arg)
{
    assert(loop);
    assert(socket);
    assert(fn);
    return s_add(loop, socket, -1, fn, arg);
}

int
crm_loop_remove_socket(crm_loop_t *loop, void *socket)
{
    assert(loop);
    assert(socket);
    return s_remove(loop, socket, -1);
}

int
crm_loop_add_fd(crm_loop_t *loop, int fd, crm_loop_fn fn, void *arg)
{
    assert(loop);
    assert(fn);
    if (fd < 0)
        return CRM_EINVALID;
    return s_add(loop, NULL, fd, fn, arg);
}

int
crm_loop_remove_fd(crm_loop_t *loop, int fd)
{
    assert(loop);
    if (fd < 0 || fd == loop->signal_fd)
        return CRM_ENOTFOUND;
    return s_remove(loop, NULL, fd);
}

static s_timer_t *
s_timer_find(crm_loop_t *loop, int timer_id)
{
    for (int i = 0; i < CRM_LOOP_MAX_TIMERS; i++)
        if (loop->timers[i].active && loop->timers[i].id == timer_id)
            return &loop->timers[i];
    return NULL;
}

/* The next positive id that no live timer holds. There are far fewer timers than ids. */
static int
s_timer_new_id(crm_loop_t *loop)
{
    for (;;) {
        int id = loop->next_timer_id;
        loop->next_timer_id = id == INT_MAX ? 1 : id + 1;
        if (!s_timer_find(loop, id))
            return id;
    }
}

static int
s_timer_add(crm_loop_t *loop, int delay_ms, int interval_ms, crm_loop_fn fn, void *arg, int *timer_id)
{
    s_timer_t *timer = NULL;
    for (int i = 0; i < CRM_LOOP_MAX_TIMERS && !timer; i++)
        if (!loop->timers[i].active)
            timer = &loop->timers[i];
    if (!timer)
        return CRM_ELIMIT;
    /* From a handler, count from the start of the pass, so timers added together keep the order
     * of their delays however long the handler takes (libuv's loop time does the same). */
    int64_t base_ms = loop->running ? loop->now_ms : s_now_ms();
    *timer = (s_timer_t) {
        .active = true,
        .id = s_timer_new_id(loop),
        .seq = loop->next_seq++,
        .due_ms = base_ms + delay_ms,
        .interval_ms = interval_ms,
        .fn = fn,
        .arg = arg,
    };
    if (timer_id)
        *timer_id = timer->id;
    return 0;
}

int
crm_loop_add_timer(crm_loop_t *loop, int interval_ms, crm_loop_fn fn, void *arg, int *timer_id)
{
    assert(loop);
    assert(fn);
    if (interval_ms < 1 || interval_ms > CRM_LOOP_MAX_INTERVAL_MS)
        return CRM_EINVALID;
    return s_timer_add(loop, interval_ms, interval_ms, fn, arg, timer_id);
}

int
crm_loop_add_oneshot(crm_loop_t *loop, int delay_ms, crm_loop_fn fn, void *arg, int *timer_id)
{
    assert(loop);
    assert(fn);
    if (delay_ms < 0 || delay_ms > CRM_LOOP_MAX_INTERVAL_MS)
        return CRM_EINVALID;
    return s_timer_add(loop, delay_ms, 0, fn, arg, timer_id);
}

int
crm_loop_remove_timer(crm_loop_t *loop, int timer_id)
{
    assert(loop);
    s_timer_t *timer = s_timer_find(loop, timer_id);
    if (!timer)
        return CRM_ENOTFOUND;
    timer->active = false;
    return 0;
}

void
crm_loop_stop(crm_loop_t *loop)
{
    assert(loop);
    loop->stopped = true;
}

int
crm_loop_signal(crm_loop_t *loop)
{
    assert(loop);
    return loop->signal;
}

int
crm_loop_watch_signals(crm_loop_t *loop)
{
    assert(loop);
    if (loop->signal_fd >= 0)
        return CRM_EEXISTS;
    if (loop->count >= CRM_LOOP_MAX_HANDLERS)     /* before the mask changes */
        return CRM_ELIMIT;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
        return CRM_EIO;
    int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0)
        return CRM_EIO;
    int rc = s_add(loop, NULL, fd, NULL, NULL);
    if (rc) {
        close(fd);
        return rc;
    }
    loop->signal_fd = fd;
    return 0;
}

static bool
s_timers_active(crm_loop_t *loop)
{
    for (int i = 0; i < CRM_LOOP_MAX_TIMERS; i++)
        if (loop->timers[i].active)
            return true;
    return false;
}

/* Milliseconds until the next timer is due (0 when one is overdue), or NO_TIMEOUT. */
static long
s_poll_timeout(crm_loop_t *loop)
{
    int64_t now = s_now_ms();
    long timeout = NO_TIMEOUT;
    for (int i = 0; i < CRM_LOOP_MAX_TIMERS; i++) {
        const s_timer_t *t = &loop->timers[i];
        if (!t->active)
            continue;
        long wait = t->due_ms > now ? (long) (t->due_ms - now) : 0;
        if (timeout == NO_TIMEOUT || wait < timeout)
            timeout = wait;
    }
    return timeout;
}

/* Reads what the signal fd holds and stops the loop when a watched signal came. */
static void
s_read_signal(crm_loop_t *loop)
{
    struct signalfd_siginfo info;
    ssize_t n = read(loop->signal_fd, &info, sizeof info);
    if (n == (ssize_t) sizeof info) {
        loop->signal = (int) info.ssi_signo;
        loop->stopped = true;
    }
}

/* Calls the handlers of readable sockets and fds. Returns 0 or the first negative handler code. */
static int
s_dispatch_items(crm_loop_t *loop)
{
    int rc = 0;
    int count = loop->count;     /* handlers added meanwhile wait for the next poll */
    loop->dispatching = true;
    for (int i = 0; i < count && !loop->stopped; i++) {
        s_handler_t *h = &loop->handlers[i];
        if (h->removed || !(loop->items[i].revents & (ZMQ_POLLIN | ZMQ_POLLERR)))
            continue;
        if (!h->fn) {
            s_read_signal(loop);
            continue;
        }
        rc = h->fn(loop, h->arg);
        if (rc < 0) {
            loop->stopped = true;
            break;
        }
        rc = 0;
    }
    loop->dispatching = false;
    s_compact(loop);
    return rc;
}

/* Fires the timers due now, earliest first; timers added by these handlers wait for the next
 * pass. Returns 0 or the first negative handler code. */
static int
s_dispatch_timers(crm_loop_t *loop)
{
    int64_t now = loop->now_ms = s_now_ms();
    uint64_t pass_seq = loop->next_seq;
    while (!loop->stopped) {
        s_timer_t *next = NULL;
        for (int i = 0; i < CRM_LOOP_MAX_TIMERS; i++) {
            s_timer_t *t = &loop->timers[i];
            if (!t->active || t->seq >= pass_seq || t->due_ms > now)
                continue;
            if (!next || t->due_ms < next->due_ms || (t->due_ms == next->due_ms && t->seq < next->seq))
                next = t;
        }
        if (!next)
            break;
        crm_loop_fn fn = next->fn;
        void *arg = next->arg;
        if (next->interval_ms) {
            next->due_ms += next->interval_ms;
            if (next->due_ms <= now)
                next->due_ms = now + next->interval_ms;    /* fell behind: skip missed ticks */
        } else {
            next->active = false;                           /* a one-shot is gone before it runs */
        }
        int rc = fn(loop, arg);
        if (rc < 0) {
            loop->stopped = true;
            return rc;
        }
    }
    return 0;
}

int
crm_loop_run(crm_loop_t *loop)
{
    assert(loop);
    assert(!loop->running);
    loop->running = true;
    loop->stopped = false;
    loop->signal = 0;
    loop->now_ms = s_now_ms();
    int rc = 0;
    while (!loop->stopped) {
        if (loop->count == 0 && !s_timers_active(loop))
            break;
        int ready = zmq_poll(loop->items, loop->count, s_poll_timeout(loop));
        loop->now_ms = s_now_ms();
        if (ready < 0) {
            if (zmq_errno() == EINTR)
                continue;
            rc = CRM_EBUS;
            break;
        }
        if (ready > 0) {
            rc = s_dispatch_items(loop);
            if (rc)
                break;
        }
        rc = s_dispatch_timers(loop);
        if (rc)
            break;
    }
    loop->running = false;
    return rc;
}
