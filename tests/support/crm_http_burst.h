/* crm_http_burst.h: raw HTTP/1.1 over plain sockets: many identical requests completed at the same instant, and byte-exact requests curl would not send. */
#ifndef CRM_HTTP_BURST_H
#define CRM_HTTP_BURST_H

#include <stdbool.h>
#include <stddef.h>

#define CRM_HTTP_BURST_MAX 256           /* connections in one burst */
#define CRM_HTTP_BURST_REQUEST_MAX 65536 /* bytes of one request made by crm_http_burst_request */

/* One raw answer. body is NUL-terminated (the caller clears the answer). */
typedef struct {
    long status;                        /* 0 when no status line came */
    char content_type[128];
    char location[256];
    char etag[64];
    bool replayed;                      /* Idempotent-Replayed: true */
    char *body;
    size_t body_len;
} crm_http_raw_t;

/* Writes into out (size CRM_HTTP_BURST_REQUEST_MAX) the bytes of an HTTP/1.1 request with
 * "Connection: close" and, when body is not NULL, Content-Length body_len (body copied as is).
 * headers: NULL-terminated "Name: value" lines or NULL. Returns the length; aborts the test when
 * it does not fit. */
size_t crm_http_burst_request(char *out, const char *method, const char *target,
                              const char *const *headers, const char *body, size_t body_len);

/* Sends the same request bytes on count connections to 127.0.0.1:port so that every request is
 * complete at the same instant: connects all, writes all but the last byte on each, waits
 * settle_ms (so the server has read the rest), then writes the last byte on every connection in
 * one loop, and reads every answer until the server closes (at most timeout_ms in all). Fills
 * answers[0..count) (the caller clears each). Returns 0, or -1 when a connection failed or an
 * answer did not end in time (the answers read so far are still filled). */
int crm_http_burst(int port, const char *request, size_t len, size_t count, int settle_ms,
                   int timeout_ms, crm_http_raw_t *answers);

/* As crm_http_burst, with a request of its own on each connection (requests[i], lens[i] bytes). */
int crm_http_burst_each(int port, const char *const *requests, const size_t *lens, size_t count,
                        int settle_ms, int timeout_ms, crm_http_raw_t *answers);

/* One request as crm_http_burst with count 1 and no settling. Returns 0 or -1. */
int crm_http_raw(int port, const char *request, size_t len, int timeout_ms, crm_http_raw_t *answer);

/* Frees the body and zeroes the answer. */
void crm_http_raw_clear(crm_http_raw_t *answer);

#endif
