/* crm_http_burst.c: raw HTTP/1.1 over plain sockets for bursts of simultaneous requests and byte-exact requests. */
#include "crm_http_burst.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define S_READ_CHUNK 16384

typedef struct {
    char *data;
    size_t len;
    size_t cap;
    bool done;
} s_buffer_t;

static long long s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

size_t crm_http_burst_request(char *out, const char *method, const char *target,
                              const char *const *headers, const char *body, size_t body_len)
{
    int n = snprintf(out, CRM_HTTP_BURST_REQUEST_MAX, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n", method,
                     target);
    cr_assert(n > 0 && n < CRM_HTTP_BURST_REQUEST_MAX);
    size_t len = (size_t) n;
    for (size_t i = 0; headers && headers[i]; i++) {
        n = snprintf(out + len, CRM_HTTP_BURST_REQUEST_MAX - len, "%s\r\n", headers[i]);
        cr_assert(n > 0 && (size_t) n < CRM_HTTP_BURST_REQUEST_MAX - len);
        len += (size_t) n;
    }
    if (body)
        n = snprintf(out + len, CRM_HTTP_BURST_REQUEST_MAX - len,
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n", body_len);
    else
        n = snprintf(out + len, CRM_HTTP_BURST_REQUEST_MAX - len, "Connection: close\r\n\r\n");
    cr_assert(n > 0 && (size_t) n < CRM_HTTP_BURST_REQUEST_MAX - len);
    len += (size_t) n;
    if (body) {
        cr_assert_lt(body_len, CRM_HTTP_BURST_REQUEST_MAX - len, "request too large");
        memcpy(out + len, body, body_len);
        len += body_len;
    }
    return len;
}

static int s_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port) };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *) &sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static bool s_write_all(int fd, const char *data, size_t len)
{
    while (len) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        data += n;
        len -= (size_t) n;
    }
    return true;
}

/* Copies header name's value (trimmed) from the head into out; empty when absent. */
static void s_header(const char *head, size_t head_len, const char *name, char *out, size_t size)
{
    out[0] = '\0';
    size_t name_len = strlen(name);
    const char *p = head;
    const char *end = head + head_len;
    while (p < end) {
        const char *eol = memmem(p, (size_t) (end - p), "\r\n", 2);
        if (!eol)
            eol = end;
        if ((size_t) (eol - p) > name_len && p[name_len] == ':' && strncasecmp(p, name, name_len) == 0) {
            const char *v = p + name_len + 1;
            while (v < eol && (*v == ' ' || *v == '\t'))
                v++;
            size_t n = (size_t) (eol - v);
            if (n >= size)
                n = size - 1;
            memcpy(out, v, n);
            out[n] = '\0';
            return;
        }
        p = eol + 2;
    }
}

/* Decodes a chunked body in place; returns its length. */
static size_t s_unchunk(char *data, size_t len)
{
    size_t in = 0, out = 0;
    while (in < len) {
        char *end = NULL;
        unsigned long n = strtoul(data + in, &end, 16);
        char *eol = memmem(data + in, len - in, "\r\n", 2);
        if (!eol || end == data + in)
            break;
        in = (size_t) (eol - data) + 2;
        if (n == 0 || n > len - in)
            break;
        memmove(data + out, data + in, n);
        out += n;
        in += n + 2;
    }
    return out;
}

static void s_parse(s_buffer_t *buf, crm_http_raw_t *answer)
{
    memset(answer, 0, sizeof *answer);
    const char *sep = buf->data ? memmem(buf->data, buf->len, "\r\n\r\n", 4) : NULL;
    if (!sep || buf->len < 12 || strncmp(buf->data, "HTTP/1.", 7) != 0) {
        answer->body = calloc(1, 1);
        return;
    }
    answer->status = strtol(buf->data + 9, NULL, 10);
    size_t head_len = (size_t) (sep - buf->data);
    s_header(buf->data, head_len, "Content-Type", answer->content_type, sizeof answer->content_type);
    s_header(buf->data, head_len, "Location", answer->location, sizeof answer->location);
    s_header(buf->data, head_len, "ETag", answer->etag, sizeof answer->etag);
    char value[64];
    s_header(buf->data, head_len, "Idempotent-Replayed", value, sizeof value);
    answer->replayed = strcasecmp(value, "true") == 0;
    char *body = buf->data + head_len + 4;
    size_t body_len = buf->len - head_len - 4;
    s_header(buf->data, head_len, "Transfer-Encoding", value, sizeof value);
    if (strcasecmp(value, "chunked") == 0) {
        body_len = s_unchunk(body, body_len);
    } else {
        s_header(buf->data, head_len, "Content-Length", value, sizeof value);
        if (value[0] && strtoul(value, NULL, 10) < body_len)
            body_len = strtoul(value, NULL, 10);
    }
    answer->body = malloc(body_len + 1);
    cr_assert_not_null(answer->body);
    memcpy(answer->body, body, body_len);
    answer->body[body_len] = '\0';
    answer->body_len = body_len;
}

int crm_http_burst_each(int port, const char *const *requests, const size_t *lens, size_t count,
                        int settle_ms, int timeout_ms, crm_http_raw_t *answers)
{
    cr_assert(count > 0 && count <= CRM_HTTP_BURST_MAX);
    int fds[CRM_HTTP_BURST_MAX];
    s_buffer_t bufs[CRM_HTTP_BURST_MAX];
    memset(bufs, 0, sizeof bufs);
    int rc = 0;
    for (size_t i = 0; i < count; i++) {
        cr_assert_gt(lens[i], 0);
        fds[i] = s_connect(port);
        if (fds[i] < 0 || !s_write_all(fds[i], requests[i], lens[i] - 1))
            rc = -1;
    }
    if (settle_ms > 0)
        usleep((useconds_t) settle_ms * 1000);
    for (size_t i = 0; i < count; i++)      /* the instant: every request becomes complete */
        if (fds[i] >= 0 && !s_write_all(fds[i], requests[i] + lens[i] - 1, 1))
            rc = -1;
    long long deadline = s_now_ms() + timeout_ms;
    size_t open = 0;
    for (size_t i = 0; i < count; i++) {
        if (fds[i] >= 0) {
            fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
            open++;
        } else {
            bufs[i].done = true;
        }
    }
    struct pollfd pfds[CRM_HTTP_BURST_MAX];
    while (open && s_now_ms() < deadline) {
        size_t n = 0;
        size_t which[CRM_HTTP_BURST_MAX];
        for (size_t i = 0; i < count; i++)
            if (!bufs[i].done) {
                pfds[n] = (struct pollfd) { .fd = fds[i], .events = POLLIN };
                which[n++] = i;
            }
        int ready = poll(pfds, (nfds_t) n, (int) (deadline - s_now_ms()));
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready <= 0)
            break;
        for (size_t k = 0; k < n; k++) {
            if (!pfds[k].revents)
                continue;
            s_buffer_t *b = &bufs[which[k]];
            if (b->cap - b->len < S_READ_CHUNK) {
                b->cap = b->cap ? b->cap * 2 : S_READ_CHUNK * 2;
                b->data = realloc(b->data, b->cap);
                cr_assert_not_null(b->data);
            }
            ssize_t got = read(pfds[k].fd, b->data + b->len, b->cap - b->len - 1);
            if (got > 0) {
                b->len += (size_t) got;
            } else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
                b->done = true;
                open--;
            }
        }
    }
    if (open)
        rc = -1;
    for (size_t i = 0; i < count; i++) {
        if (fds[i] >= 0)
            close(fds[i]);
        s_parse(&bufs[i], &answers[i]);
        free(bufs[i].data);
    }
    return rc;
}

int crm_http_burst(int port, const char *request, size_t len, size_t count, int settle_ms,
                   int timeout_ms, crm_http_raw_t *answers)
{
    cr_assert(count > 0 && count <= CRM_HTTP_BURST_MAX);
    const char *requests[CRM_HTTP_BURST_MAX];
    size_t lens[CRM_HTTP_BURST_MAX];
    for (size_t i = 0; i < count; i++) {
        requests[i] = request;
        lens[i] = len;
    }
    return crm_http_burst_each(port, requests, lens, count, settle_ms, timeout_ms, answers);
}

int crm_http_raw(int port, const char *request, size_t len, int timeout_ms, crm_http_raw_t *answer)
{
    return crm_http_burst(port, request, len, 1, 0, timeout_ms, answer);
}

void crm_http_raw_clear(crm_http_raw_t *answer)
{
    free(answer->body);
    memset(answer, 0, sizeof *answer);
}
