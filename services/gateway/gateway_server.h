/* gateway_server.h: the gateway service: the skeleton, its HTTP server, keys, idempotency, ingest over HTTP and ZeroMQ. */
#ifndef GATEWAY_SERVER_H
#define GATEWAY_SERVER_H

#include <stdint.h>

/* The gateway is a crm_service (CRM_SVC_GATEWAY) with a store under <CRM_DATA_DIR>/gateway, its
 * outbox being the ingest log and audit trail, a publisher and replay endpoint, and no request
 * socket of its own. HTTP requests run on libmicrohttpd's threads; forwarded ones go through an
 * asynchronous dispatcher per owning service (the connection waits suspended); ingested events go
 * through one group committer. */

typedef struct gateway_server gateway_server_t;

/* Starts everything from the environment: settings, store, keys (making the first admin key on
 * first start: from CRM_ADMIN_KEY, or drawn and printed once on stdout as the single line
 * "CRM_ADMIN_KEY=<secret>"), the HTTP server on CRM_HTTP_ADDR and the ZeroMQ ingest socket on
 * CRM_INGEST_ENDPOINT. Call from main before any other thread starts (signals are blocked here).
 * Returns 0 and sets *server_p (caller destroys), or the error that stopped it (logged). */
int gateway_server_new(gateway_server_t **server_p);

/* Runs the service loop (publishing committed events, replay, purging idempotency records)
 * until SIGINT or SIGTERM. Returns 0 after a signal, or the error that stopped it. */
int gateway_server_run(gateway_server_t *server);

/* The HTTP port served, and the ZeroMQ ingest endpoint bound (borrowed), for tests. */
uint16_t gateway_server_http_port(const gateway_server_t *server);
const char *gateway_server_ingest_endpoint(const gateway_server_t *server);

/* Stops and frees everything: the ingest socket, the committer (answering what it holds), the
 * dispatchers, the HTTP server, the service. Safe on NULL; sets *server_p to NULL. */
void gateway_server_destroy(gateway_server_t **server_p);

#endif
