/* crm_load.c: the benchmark load generator: one epoll thread, keep-alive connections, latency percentiles. */
#include "crm_load.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define REQUEST_MAX (256 * 1024)
#define RESPONSE_MAX (1024 * 1024)
#define LATENCY_MAX 4000000

typedef struct {
    int fd;
    char *out;
    size_t out_len, out_sent;
    char *in;
    size_t in_len;
    uint64_t sent_at_ns;
    uint64_t n;
    bool done;
} s_conn_t;

static uint64_t s_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

static int s_connect(int port)
{
    /* Connect blocking (instant on loopback), then go non-blocking: an unconnected socket in
     * epoll reports a hang-up. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port) };
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *) &addr, sizeof addr) < 0) {
        close(fd);
        return -1;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

/* Returns the length of a complete response at the start of buf, 0 when incomplete, and the status. */
static size_t s_response_length(const char *buf, size_t len, int *status)
{
    const char *end = memmem(buf, len, "\r\n\r\n", 4);
    if (!end)
        return 0;
    size_t head = (size_t) (end - buf) + 4;
    *status = len > 12 ? atoi(buf + 9) : 0;
    size_t body = 0;
    for (const char *p = buf; p < end; p++) {
        if ((p == buf || p[-1] == '\n') && strncasecmp(p, "Content-Length:", 15) == 0) {
            body = strtoull(p + 15, NULL, 10);
            break;
        }
    }
    return len >= head + body ? head + body : 0;
}

static int s_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;
    return x < y ? -1 : x > y;
}

static bool s_next(s_conn_t *c, size_t index, crm_load_request_fn make, void *arg)
{
    c->out_len = make(index, c->n++, c->out, REQUEST_MAX, arg);
    c->out_sent = 0;
    c->sent_at_ns = s_now_ns();
    return c->out_len > 0;
}

int crm_load_run(int port, size_t connections, int warmup_ms, int run_ms, crm_load_request_fn make,
                 void *arg, crm_load_result_t *result)
{
    memset(result, 0, sizeof *result);
    if (connections == 0 || connections > CRM_LOAD_MAX_CONNECTIONS)
        return -1;
    int ep = epoll_create1(0);
    s_conn_t *conns = calloc(connections, sizeof *conns);
    uint32_t *latencies_us = malloc(LATENCY_MAX * sizeof *latencies_us);
    size_t latency_count = 0;
    int rc = 0;
    for (size_t i = 0; i < connections; i++) {
        conns[i].out = malloc(REQUEST_MAX);
        conns[i].in = malloc(RESPONSE_MAX);
        conns[i].fd = s_connect(port);
        if (conns[i].fd < 0) {
            rc = -1;
            goto out;
        }
        struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.u64 = i };
        epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev);
        conns[i].done = !s_next(&conns[i], i, make, arg);
    }
    uint64_t start = s_now_ns();
    uint64_t measure_from = start + (uint64_t) warmup_ms * 1000000u;
    uint64_t stop_at = measure_from + (uint64_t) run_ms * 1000000u;
    size_t active = connections;
    struct epoll_event events[CRM_LOAD_MAX_CONNECTIONS];
    while (active > 0) {
        uint64_t now = s_now_ns();
        if (now >= stop_at)
            break;
        int n = epoll_wait(ep, events, CRM_LOAD_MAX_CONNECTIONS, 100);
        for (int e = 0; e < n; e++) {
            size_t i = events[e].data.u64;
            s_conn_t *c = &conns[i];
            if (c->done)
                continue;
            if ((events[e].events & EPOLLOUT) && c->out_sent < c->out_len) {
                ssize_t w = send(c->fd, c->out + c->out_sent, c->out_len - c->out_sent, MSG_NOSIGNAL);
                if (w > 0)
                    c->out_sent += (size_t) w;
                else if (w < 0 && errno != EAGAIN) {
                    result->errors++;
                    c->done = true;
                    active--;
                    continue;
                }
            }
            if (events[e].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                ssize_t r = recv(c->fd, c->in + c->in_len, RESPONSE_MAX - c->in_len, 0);
                if (r <= 0) {
                    if (r < 0 && errno == EAGAIN)
                        continue;
                    result->errors++;
                    c->done = true;
                    active--;
                    continue;
                }
                c->in_len += (size_t) r;
                int status = 0;
                size_t len = s_response_length(c->in, c->in_len, &status);
                if (len == 0)
                    continue;
                uint64_t done_at = s_now_ns();
                if (c->sent_at_ns >= measure_from && done_at <= stop_at) {
                    result->requests++;
                    if (status >= 400)
                        result->errors++;
                    if (latency_count < LATENCY_MAX)
                        latencies_us[latency_count++] = (uint32_t) ((done_at - c->sent_at_ns) / 1000);
                }
                memmove(c->in, c->in + len, c->in_len - len);
                c->in_len -= len;
                if (!s_next(c, i, make, arg)) {
                    c->done = true;
                    active--;
                    continue;
                }
                ssize_t w = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL);
                if (w > 0)
                    c->out_sent = (size_t) w;
            }
        }
    }
    uint64_t end = s_now_ns();
    result->seconds = (double) ((end < stop_at ? end : stop_at) - measure_from) / 1e9;
    if (result->seconds > 0)
        result->rps = (double) result->requests / result->seconds;
    if (latency_count) {
        qsort(latencies_us, latency_count, sizeof *latencies_us, s_cmp);
        result->p50_ms = latencies_us[latency_count / 2] / 1000.0;
        result->p99_ms = latencies_us[(latency_count * 99) / 100] / 1000.0;
    }
out:
    for (size_t i = 0; i < connections; i++) {
        if (conns[i].fd > 0)
            close(conns[i].fd);
        free(conns[i].out);
        free(conns[i].in);
    }
    free(conns);
    free(latencies_us);
    close(ep);
    return rc;
}
