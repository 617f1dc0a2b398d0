/* gateway_settings.h: the gateway's own settings, read from the environment with defaults. */
#ifndef GATEWAY_SETTINGS_H
#define GATEWAY_SETTINGS_H

#include <stddef.h>
#include <stdint.h>

#include "crm_config.h"

#define GATEWAY_DEFAULT_MAX_CONNECTIONS   1024
#define GATEWAY_DEFAULT_HTTP_TIMEOUT_MS   (60LL * 1000)
#define GATEWAY_DEFAULT_MAX_BODY          ((size_t) 1 << 20)
#define GATEWAY_DEFAULT_MAX_HEADER        ((size_t) 16 << 10)
#define GATEWAY_DEFAULT_MAX_STRING        4096
#define GATEWAY_DEFAULT_MAX_BATCH         1000
#define GATEWAY_DEFAULT_RPC_TIMEOUT_MS    5000
#define GATEWAY_DEFAULT_READY_TIMEOUT_MS  1000
#define GATEWAY_DEFAULT_IDEM_TTL_MS       (24LL * 3600 * 1000)
#define GATEWAY_DEFAULT_IDEM_PURGE_MS     (60LL * 1000)
#define GATEWAY_DEFAULT_RATE_LIMIT        1000    /* requests a second per API key */
#define GATEWAY_DEFAULT_RATE_BURST        2000    /* requests at once per API key */
#define GATEWAY_MAX_RATE                  1000000

#define GATEWAY_MAX_THREADS               256
#define GATEWAY_MIN_BODY                  ((size_t) 1 << 10)
#define GATEWAY_MAX_BODY                  ((size_t) 16 << 20)
#define GATEWAY_MIN_HEADER                ((size_t) 1 << 10)
#define GATEWAY_MAX_HEADER                ((size_t) 1 << 20)
#define GATEWAY_MIN_STRING                16
#define GATEWAY_MAX_STRING                ((size_t) 1 << 20)
#define GATEWAY_MAX_TIMEOUT_MS            (10LL * 60 * 1000)
#define GATEWAY_MAX_IDEM_TTL_MS           (30LL * 24 * 3600 * 1000)

typedef struct {
    unsigned http_threads;         /* CRM_HTTP_THREADS: HTTP worker threads (0: one per core) */
    unsigned max_connections;      /* CRM_HTTP_MAX_CONNECTIONS */
    unsigned http_timeout_s;       /* CRM_HTTP_TIMEOUT: idle connections are closed after it */
    size_t max_body;               /* CRM_HTTP_MAX_BODY: bytes of a request body */
    size_t max_header;             /* CRM_HTTP_MAX_HEADER: bytes of the request line and headers */
    size_t max_string;             /* CRM_HTTP_MAX_STRING: bytes of any string field */
    size_t max_batch;              /* CRM_INGEST_MAX_BATCH: events in one batch */
    int rpc_timeout_ms;            /* CRM_GATEWAY_RPC_TIMEOUT: deadline of a forwarded request */
    int ready_timeout_ms;          /* CRM_GATEWAY_READY_TIMEOUT: how long /readyz waits for a Ping */
    long long idem_ttl_ms;         /* CRM_IDEMPOTENCY_TTL */
    long long idem_purge_ms;       /* CRM_IDEMPOTENCY_PURGE_INTERVAL */
    unsigned rate_limit;           /* CRM_GATEWAY_RATE_LIMIT: requests a second per key; 0 off */
    unsigned rate_burst;           /* CRM_GATEWAY_RATE_BURST: requests at once per key */
    char *admin_key;               /* CRM_ADMIN_KEY, or NULL (owned) */
} gateway_settings_t;

/* Reads the settings through cfg; a thread count of 0 is resolved to the number of cores.
 * Returns 0 (caller clears *settings), CRM_ECONFIG (error, error_size bytes, says which setting
 * and why; CRM_ADMIN_KEY is checked too) or CRM_ENOMEM. */
int gateway_settings_load(crm_config_t *cfg, gateway_settings_t *settings, char *error,
                          size_t error_size);

/* Frees what settings holds (the admin key is wiped first). Safe on a zeroed struct. */
void gateway_settings_clear(gateway_settings_t *settings);

#endif
