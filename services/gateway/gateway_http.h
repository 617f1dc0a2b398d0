/* gateway_http.h: the gateway's HTTP server: libmicrohttpd with a thread pool on epoll, auth, limits, idempotency, dispatch. */
#ifndef GATEWAY_HTTP_H
#define GATEWAY_HTTP_H

#include <stdint.h>

#include "gateway_handlers.h"

/* Every request goes through, in order: route match (404; 405 with Allow), API key (401 with
 * WWW-Authenticate: Bearer; 403 for the wrong role), Content-Type (415), Content-Length and the
 * bytes actually received against CRM_HTTP_MAX_BODY (413; counted here, MHD does not cap
 * bodies), Idempotency-Key (400 when malformed or on a route that takes none), then the route's
 * handler. The request line and headers are counted against CRM_HTTP_MAX_HEADER here (431);
 * MHD's per-connection memory (CRM_HTTP_MAX_HEADER + GATEWAY_HTTP_IO_SLACK) stops anything far
 * larger before it reaches us (MHD's own 431). */

#define GATEWAY_HTTP_IO_SLACK     ((size_t) 32 << 10)   /* MHD's connection memory beyond the headers */
#define GATEWAY_HTTP_BACKLOG      1024                  /* listen queue */
#define GATEWAY_HTTP_BODY_FIRST   4096                  /* first allocation of a body buffer */

typedef struct gateway_http gateway_http_t;

/* Starts serving on addr ("host:port": a numeric IPv4 or bracketed IPv6 address, or localhost;
 * port 0 picks a free one) with env (copied; what it points to is borrowed and must outlive the
 * server). Returns 0 and sets *http_p (caller stops it), CRM_ECONFIG (bad address), CRM_EIO (the
 * port is taken, or MHD could not start) or CRM_ENOMEM. */
int gateway_http_start(const char *addr, const gateway_env_t *env, gateway_http_t **http_p);

/* The port served (the real one when started with port 0). */
uint16_t gateway_http_port(const gateway_http_t *http);

/* Stops accepting new connections; requests on open connections are still answered. */
void gateway_http_quiesce(gateway_http_t *http);

/* Stops the server, closing every connection, and frees it. No connection may be suspended
 * (stop the ingest committer first: it hands back every batch). Safe on NULL; sets *http_p to
 * NULL. */
void gateway_http_stop(gateway_http_t **http_p);

#endif
