/* crm_smtp_sink.c: a small SMTP server for tests (RFC 5321 subset), decoding what it receives. */
#include "crm_smtp_sink.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "crm_test.h"

#define S_LINE_MAX 2048
#define S_POLL_MS 50
#define S_IDLE_MS 10000          /* a client silent this long is dropped */

struct crm_smtp_sink {
    int listen_fd;
    int port;
    pthread_t thread;
    atomic_bool stop;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    crm_smtp_message_t messages[CRM_SMTP_SINK_MESSAGES_MAX];
    size_t count;
};

/* A connection's input: buffered reads of lines. */
typedef struct {
    crm_smtp_sink_t *sink;
    int fd;
    char buf[S_LINE_MAX * 2];
    size_t len;
} s_conn_t;

/* Reads one line (without CRLF) into out. Returns its length, or -1 when the client went away, the
 * line is too long, the sink stops or the client idles too long. */
static long s_line(s_conn_t *c, char *out, size_t size)
{
    int idle = 0;
    for (;;) {
        char *nl = memchr(c->buf, '\n', c->len);
        if (nl) {
            size_t n = (size_t) (nl - c->buf);
            size_t keep = n && c->buf[n - 1] == '\r' ? n - 1 : n;
            if (keep >= size)
                return -1;
            memcpy(out, c->buf, keep);
            out[keep] = '\0';
            memmove(c->buf, nl + 1, c->len - n - 1);
            c->len -= n + 1;
            return (long) keep;
        }
        if (c->len == sizeof c->buf || c->sink->stop || idle > S_IDLE_MS)
            return -1;
        struct pollfd p = { .fd = c->fd, .events = POLLIN };
        int r = poll(&p, 1, S_POLL_MS);
        if (r == 0) {
            idle += S_POLL_MS;
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        ssize_t got = r > 0 ? read(c->fd, c->buf + c->len, sizeof c->buf - c->len) : -1;
        if (got <= 0)
            return -1;
        c->len += (size_t) got;
        idle = 0;
    }
}

static void s_say(s_conn_t *c, const char *text)
{
    size_t len = strlen(text);
    while (len) {
        ssize_t n = send(c->fd, text, len, MSG_NOSIGNAL);
        if (n <= 0)
            return;
        text += n;
        len -= (size_t) n;
    }
}

/* The address between < and > (or the text after the colon), cut to fit out. */
static void s_address(const char *arg, char *out, size_t size)
{
    const char *open = strchr(arg, '<');
    const char *close = open ? strchr(open, '>') : NULL;
    const char *from = open && close ? open + 1 : arg;
    size_t len = open && close ? (size_t) (close - open - 1) : strlen(arg);
    if (len >= size)
        len = size - 1;
    memcpy(out, from, len);
    out[len] = '\0';
}

/* --- Decoding */

static char *s_base64(const char *in, size_t len, size_t *out_len)
{
    char *out = malloc(len + 1);
    size_t n = 0;
    if (!out || sodium_base642bin((unsigned char *) out, len, in, len, " \r\n\t", &n, NULL,
                                  sodium_base64_VARIANT_ORIGINAL) != 0) {
        free(out);
        return NULL;
    }
    out[n] = '\0';
    if (out_len)
        *out_len = n;
    return out;
}

/* Decodes RFC 2047 "B" encoded words (UTF-8); whitespace between two encoded words is dropped. */
static char *s_decode_words(const char *text)
{
    size_t len = strlen(text);
    char *out = malloc(len + 1);
    size_t n = 0;
    const char *p = text;
    bool after_word = false;
    while (out && *p) {
        if (strncasecmp(p, "=?UTF-8?B?", 10) == 0) {
            const char *start = p + 10;
            const char *end = strstr(start, "?=");
            if (!end)
                break;
            size_t got = 0;
            char *bin = s_base64(start, (size_t) (end - start), &got);
            if (bin) {
                memcpy(out + n, bin, got);
                n += got;
                free(bin);
            }
            p = end + 2;
            after_word = true;
            continue;
        }
        if (after_word && isspace((unsigned char) *p)) {
            const char *q = p;
            while (isspace((unsigned char) *q))
                q++;
            if (strncasecmp(q, "=?UTF-8?B?", 10) == 0) {
                p = q;
                continue;
            }
        }
        after_word = false;
        out[n++] = *p++;
    }
    if (out)
        out[n] = '\0';
    return out;
}

/* Splits the message into the decoded subject and body. */
static void s_decode(crm_smtp_message_t *m)
{
    const char *data = m->data;
    const char *split = strstr(data, "\r\n\r\n");
    size_t head_len = split ? (size_t) (split - data) : strlen(data);
    const char *body = split ? split + 4 : "";
    char *head = strndup(data, head_len);
    char subject[S_LINE_MAX * 4] = "";
    bool base64 = false;
    for (char *line = head, *next; line && *line; line = next) {
        next = strstr(line, "\r\n");
        if (next) {
            *next = '\0';
            next += 2;
        }
        if (strncasecmp(line, "Subject:", 8) == 0) {
            snprintf(subject, sizeof subject, "%s", line + 8 + (line[8] == ' '));
            /* Folded lines continue the header. */
            while (next && (*next == ' ' || *next == '\t')) {
                char *more = strstr(next, "\r\n");
                if (more)
                    *more = '\0';
                size_t used = strlen(subject);
                snprintf(subject + used, sizeof subject - used, "%s", next);
                next = more ? more + 2 : NULL;
            }
        } else if (strncasecmp(line, "Content-Transfer-Encoding:", 26) == 0 && strstr(line + 26, "base64")) {
            base64 = true;
        }
    }
    free(head);
    m->subject = s_decode_words(subject);
    char *decoded = base64 ? s_base64(body, strlen(body), NULL) : strdup(body);
    /* LF line ends. */
    if (decoded) {
        size_t w = 0;
        for (size_t r = 0; decoded[r]; r++)
            if (!(decoded[r] == '\r' && decoded[r + 1] == '\n'))
                decoded[w++] = decoded[r];
        decoded[w] = '\0';
    }
    m->body = decoded;
}

/* --- Sessions */

static void s_session(crm_smtp_sink_t *sink, int fd)
{
    s_conn_t c = { .sink = sink, .fd = fd };
    char line[S_LINE_MAX];
    crm_smtp_message_t m;
    memset(&m, 0, sizeof m);
    bool have_from = false;
    s_say(&c, "220 crm-smtp-sink ESMTP ready\r\n");
    while (s_line(&c, line, sizeof line) >= 0) {
        if (strncasecmp(line, "EHLO", 4) == 0) {
            s_say(&c, "250-crm-smtp-sink\r\n250-8BITMIME\r\n250 HELP\r\n");
        } else if (strncasecmp(line, "HELO", 4) == 0) {
            s_say(&c, "250 crm-smtp-sink\r\n");
        } else if (strncasecmp(line, "MAIL FROM:", 10) == 0) {
            crm_smtp_message_clear(&m);
            s_address(line + 10, m.from, sizeof m.from);
            have_from = true;
            s_say(&c, "250 OK\r\n");
        } else if (strncasecmp(line, "RCPT TO:", 8) == 0) {
            if (!have_from) {
                s_say(&c, "503 MAIL first\r\n");
            } else if (m.n_to == CRM_SMTP_SINK_RCPT_MAX) {
                s_say(&c, "452 too many recipients\r\n");
            } else {
                s_address(line + 8, m.to[m.n_to++], CRM_SMTP_SINK_ADDRESS_MAX);
                s_say(&c, "250 OK\r\n");
            }
        } else if (strcasecmp(line, "DATA") == 0) {
            if (!have_from || m.n_to == 0) {
                s_say(&c, "503 RCPT first\r\n");
                continue;
            }
            s_say(&c, "354 End data with <CR><LF>.<CR><LF>\r\n");
            size_t cap = S_LINE_MAX, len = 0;
            char *data = malloc(cap);
            long n;
            bool done = false;
            while (data && (n = s_line(&c, line, sizeof line)) >= 0) {
                if (strcmp(line, ".") == 0) {
                    done = true;
                    break;
                }
                const char *text = line[0] == '.' ? line + 1 : line;   /* dot-unstuffing */
                size_t tl = strlen(text);
                if (len + tl + 3 > cap) {
                    cap = (len + tl + 3) * 2;
                    char *grown = cap <= CRM_SMTP_SINK_DATA_MAX ? realloc(data, cap) : NULL;
                    if (!grown) {
                        free(data);
                        data = NULL;
                        break;
                    }
                    data = grown;
                }
                memcpy(data + len, text, tl);
                len += tl;
                memcpy(data + len, "\r\n", 3);
                len += 2;
            }
            if (!done || !data) {
                free(data);
                break;
            }
            data[len] = '\0';
            m.data = data;
            s_decode(&m);
            pthread_mutex_lock(&sink->lock);
            bool kept = sink->count < CRM_SMTP_SINK_MESSAGES_MAX;
            if (kept) {
                sink->messages[sink->count++] = m;
                memset(&m, 0, sizeof m);
                pthread_cond_broadcast(&sink->cond);
            }
            pthread_mutex_unlock(&sink->lock);
            crm_smtp_message_clear(&m);
            have_from = false;
            s_say(&c, kept ? "250 OK queued\r\n" : "452 mailbox full\r\n");
        } else if (strcasecmp(line, "RSET") == 0) {
            crm_smtp_message_clear(&m);
            have_from = false;
            s_say(&c, "250 OK\r\n");
        } else if (strcasecmp(line, "NOOP") == 0) {
            s_say(&c, "250 OK\r\n");
        } else if (strcasecmp(line, "QUIT") == 0) {
            s_say(&c, "221 bye\r\n");
            break;
        } else {
            s_say(&c, "502 command not implemented\r\n");
        }
    }
    crm_smtp_message_clear(&m);
    close(fd);
}

static void *s_serve(void *arg)
{
    crm_smtp_sink_t *sink = arg;
    while (!sink->stop) {
        struct pollfd p = { .fd = sink->listen_fd, .events = POLLIN };
        if (poll(&p, 1, S_POLL_MS) <= 0)
            continue;
        int fd = accept(sink->listen_fd, NULL, NULL);
        if (fd >= 0)
            s_session(sink, fd);
    }
    return NULL;
}

void crm_smtp_sink_start(crm_smtp_sink_t **sink_p)
{
    cr_assert(sodium_init() >= 0);
    crm_smtp_sink_t *sink = calloc(1, sizeof *sink);
    cr_assert(sink);
    pthread_mutex_init(&sink->lock, NULL);
    pthread_cond_init(&sink->cond, NULL);
    sink->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert(sink->listen_fd >= 0);
    int one = 1;
    setsockopt(sink->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t sa_len = sizeof sa;
    cr_assert_eq(bind(sink->listen_fd, (struct sockaddr *) &sa, sizeof sa), 0);
    cr_assert_eq(listen(sink->listen_fd, 16), 0);
    cr_assert_eq(getsockname(sink->listen_fd, (struct sockaddr *) &sa, &sa_len), 0);
    sink->port = ntohs(sa.sin_port);
    cr_assert_eq(pthread_create(&sink->thread, NULL, s_serve, sink), 0);
    *sink_p = sink;
}

int crm_smtp_sink_port(const crm_smtp_sink_t *sink)
{
    return sink->port;
}

size_t crm_smtp_sink_count(crm_smtp_sink_t *sink)
{
    pthread_mutex_lock(&sink->lock);
    size_t n = sink->count;
    pthread_mutex_unlock(&sink->lock);
    return n;
}

bool crm_smtp_sink_wait(crm_smtp_sink_t *sink, size_t count, int timeout_ms)
{
    long long deadline = crm_test_now_ms() + timeout_ms;
    while (crm_smtp_sink_count(sink) < count) {
        if (crm_test_now_ms() >= deadline)
            return false;
        usleep(20 * 1000);
    }
    return true;
}

bool crm_smtp_sink_get(crm_smtp_sink_t *sink, size_t i, crm_smtp_message_t *out)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&sink->lock);
    bool ok = i < sink->count;
    if (ok) {
        const crm_smtp_message_t *m = &sink->messages[i];
        memcpy(out->from, m->from, sizeof out->from);
        memcpy(out->to, m->to, sizeof out->to);
        out->n_to = m->n_to;
        out->data = strdup(m->data ? m->data : "");
        out->subject = strdup(m->subject ? m->subject : "");
        out->body = strdup(m->body ? m->body : "");
    }
    pthread_mutex_unlock(&sink->lock);
    return ok;
}

void crm_smtp_message_clear(crm_smtp_message_t *message)
{
    free(message->data);
    free(message->subject);
    free(message->body);
    memset(message, 0, sizeof *message);
}

void crm_smtp_sink_stop(crm_smtp_sink_t **sink_p)
{
    if (!sink_p || !*sink_p)
        return;
    crm_smtp_sink_t *sink = *sink_p;
    atomic_store(&sink->stop, true);
    pthread_join(sink->thread, NULL);
    close(sink->listen_fd);
    for (size_t i = 0; i < sink->count; i++)
        crm_smtp_message_clear(&sink->messages[i]);
    pthread_cond_destroy(&sink->cond);
    pthread_mutex_destroy(&sink->lock);
    free(sink);
    *sink_p = NULL;
}
