/* crm_load.h: a small HTTP/1.1 load generator for benchmarks: keep-alive connections on one epoll thread. */
#ifndef CRM_LOAD_H
#define CRM_LOAD_H

#include <stddef.h>
#include <stdint.h>

#define CRM_LOAD_MAX_CONNECTIONS 256

/* Makes the request text for connection c, request number n (so bodies and ids can vary). Writes
 * at most size bytes into out and returns the length, or 0 to stop this connection. */
typedef size_t (*crm_load_request_fn)(size_t c, uint64_t n, char *out, size_t size, void *arg);

typedef struct {
    uint64_t requests;       /* answered in the measured window */
    uint64_t errors;         /* answers with a status >= 400, or broken connections */
    double seconds;          /* the measured window */
    double rps;
    double p50_ms, p99_ms;
} crm_load_result_t;

/* Opens `connections` connections to 127.0.0.1:port and keeps each busy with one request at a time
 * for warmup_ms, then measures for run_ms. Returns 0, or -1 when it could not connect. */
int crm_load_run(int port, size_t connections, int warmup_ms, int run_ms, crm_load_request_fn make,
                 void *arg, crm_load_result_t *result);

#endif
