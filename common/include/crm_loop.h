/* crm_loop.h: a service's event loop: one zmq_poll over ZeroMQ sockets and fds, timers, and SIGINT/SIGTERM. */
#ifndef CRM_LOOP_H
#define CRM_LOOP_H

/* A loop is single-threaded: every function is called from the thread that runs it (handlers
 * included). Handlers may add and remove sockets, fds and timers, their own included. The loop
 * never closes what it is given. Typical use, in main:
 *
 *     crm_loop_new(&loop);
 *     crm_loop_watch_signals(loop);            // before any thread starts
 *     crm_loop_add_socket(loop, crm_rpc_server_socket(server), s_on_request, self);
 *     crm_loop_add_timer(loop, 1000, s_on_tick, self, NULL);
 *     rc = crm_loop_run(loop);                 // until SIGTERM, crm_loop_stop or a handler's error
 *     crm_loop_destroy(&loop);
 */

#define CRM_LOOP_MAX_HANDLERS    64                    /* sockets and fds, the signal fd included */
#define CRM_LOOP_MAX_TIMERS      64
#define CRM_LOOP_MAX_INTERVAL_MS (24 * 3600 * 1000)    /* longest timer interval or delay */

typedef struct crm_loop crm_loop_t;

/* A handler: called when its socket or fd is readable, or its timer is due. Returns 0 to go on,
 * or a negative code, which stops the loop and becomes crm_loop_run's result. */
typedef int (*crm_loop_fn)(crm_loop_t *loop, void *arg);

/* Makes an empty loop. Returns 0 and sets *loop_p (caller destroys), or CRM_ENOMEM. */
int crm_loop_new(crm_loop_t **loop_p);

/* Frees the loop and closes its signal fd; registered sockets and fds are left open. Signals
 * blocked by crm_loop_watch_signals stay blocked. Not from a handler. Safe on NULL; sets *loop_p
 * to NULL. */
void crm_loop_destroy(crm_loop_t **loop_p);

/* Calls fn(loop, arg) whenever the ZeroMQ socket has a message to read (ZMQ_POLLIN); the handler
 * should read what waits. Returns 0, CRM_EEXISTS (socket already there) or CRM_ELIMIT (more than
 * CRM_LOOP_MAX_HANDLERS). The socket is borrowed: keep it open while registered. */
int crm_loop_add_socket(crm_loop_t *loop, void *socket, crm_loop_fn fn, void *arg);

/* Stops watching the socket. Returns 0 or CRM_ENOTFOUND. */
int crm_loop_remove_socket(crm_loop_t *loop, void *socket);

/* Calls fn(loop, arg) whenever the plain fd is readable or in error (POLLIN, POLLERR). Returns 0,
 * CRM_EINVALID (fd < 0), CRM_EEXISTS or CRM_ELIMIT. The fd is borrowed. */
int crm_loop_add_fd(crm_loop_t *loop, int fd, crm_loop_fn fn, void *arg);

/* Stops watching the fd. Returns 0 or CRM_ENOTFOUND. */
int crm_loop_remove_fd(crm_loop_t *loop, int fd);

/* Calls fn(loop, arg) every interval_ms (1 .. CRM_LOOP_MAX_INTERVAL_MS), first interval_ms from
 * now; from a handler, "now" is the start of the current loop pass, so timers added together fire
 * in the order of their delays. A timer that falls behind skips the ticks it missed rather than
 * firing in a burst. Timers due together fire in order of due time, then of creation. Sets *timer_id when not NULL (ids are
 * positive). Returns 0, CRM_EINVALID (bad interval) or CRM_ELIMIT (more than CRM_LOOP_MAX_TIMERS). */
int crm_loop_add_timer(crm_loop_t *loop, int interval_ms, crm_loop_fn fn, void *arg, int *timer_id);

/* As crm_loop_add_timer, but fires once, delay_ms (0 .. CRM_LOOP_MAX_INTERVAL_MS) from now, and is
 * then removed: its id is free for reuse once it has fired. */
int crm_loop_add_oneshot(crm_loop_t *loop, int delay_ms, crm_loop_fn fn, void *arg, int *timer_id);

/* Cancels a timer. Returns 0, or CRM_ENOTFOUND (no such timer, or a one-shot that has fired). */
int crm_loop_remove_timer(crm_loop_t *loop, int timer_id);

/* Runs until a handler returns a negative code (returned), crm_loop_stop is called, a watched
 * signal arrives, or nothing is left to wait for (no sockets, fds or timers). Returns 0 in the last
 * three cases, the handler's code, or CRM_EBUS when zmq_poll fails (for example its context was
 * terminated). Not reentrant: never call it from a handler. */
int crm_loop_run(crm_loop_t *loop);

/* From a handler: makes crm_loop_run return 0 once the handler returns; no further handler is
 * called. Not thread-safe: another thread should wake the loop through a socket or fd instead. */
void crm_loop_stop(crm_loop_t *loop);

/* Blocks SIGINT and SIGTERM in the calling thread (threads started afterwards inherit the mask:
 * call this in main before starting any) and watches them through a signalfd: when one arrives,
 * crm_loop_run returns 0 and crm_loop_signal tells which. Returns 0, CRM_EEXISTS (already
 * watching), CRM_ELIMIT (no handler slot left) or CRM_EIO (the signalfd failed). */
int crm_loop_watch_signals(crm_loop_t *loop);

/* The signal that stopped the last crm_loop_run (SIGINT or SIGTERM), or 0 when none did. */
int crm_loop_signal(crm_loop_t *loop);

#endif
