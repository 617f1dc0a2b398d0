/* crm_config.h: settings from the environment, with defaults and validation, and the suite's topology. */
#ifndef CRM_CONFIG_H
#define CRM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crm_log.h"

/* Every setting has a default, so one machine runs the suite with no configuration at all.
 * A variable that is unset or empty takes its default; a value that does not parse or is out
 * of range is CRM_ECONFIG, and crm_config_error then names the variable and says what is
 * expected, for example:
 *   CRM_STORE_MAP_SIZE="64MB": expected a size in bytes such as 1000, 512KiB, 64MiB or 1GiB */

#define CRM_CONFIG_NAME_MAX      64     /* bytes of a variable's name */
#define CRM_CONFIG_VALUE_MAX     1024   /* bytes of a variable's value */
#define CRM_CONFIG_ERROR_MAX     512    /* bytes of the last error text, with its NUL */
#define CRM_CONFIG_HOST_MAX      256    /* bytes of a host name or address, with its NUL */
#define CRM_CONFIG_ENDPOINT_MAX  320    /* bytes of an endpoint or address, with its NUL */
#define CRM_CONFIG_PATH_MAX      1024   /* bytes of a folder path, with its NUL */

/* Where values come from: returns the value of name (borrowed; it must stay valid until the
 * crm_config_* call that asked for it returns) or NULL when unset. */
typedef const char *(*crm_config_lookup_fn)(const char *name, void *arg);

typedef struct crm_config crm_config_t;

/* Makes a reader of settings through lookup (with arg), or through getenv when lookup is NULL.
 * Returns 0 and sets *cfg_p (caller owns; free with crm_config_destroy) or CRM_ENOMEM.
 * A crm_config_t is for one thread at a time. */
int crm_config_new(crm_config_lookup_fn lookup, void *arg, crm_config_t **cfg_p);

/* Frees the reader. Safe on NULL; sets *cfg_p to NULL. */
void crm_config_destroy(crm_config_t **cfg_p);

/* The text of the last CRM_ECONFIG from this reader, naming the variable and what it expects
 * ("" when none yet; borrowed, valid until the next call on cfg). */
const char *crm_config_error(const crm_config_t *cfg);

/* Every reader below returns 0 and sets *out, or CRM_ECONFIG (*out unchanged, error text set).
 * Defaults are the caller's constants and must themselves be valid (asserted). */

/* Any text up to CRM_CONFIG_VALUE_MAX bytes. *out is a copy the caller frees with free();
 * CRM_ENOMEM is possible. def may be NULL for a setting with no default (such as
 * CRM_ADMIN_KEY): *out is then NULL while the variable is unset or empty. */
int crm_config_string(crm_config_t *cfg, const char *name, const char *def, char **out);

/* A decimal integer, optionally signed, from min to max. */
int crm_config_int(crm_config_t *cfg, const char *name, long long def, long long min,
                   long long max, long long *out);

/* A size in bytes: digits, optionally followed by B, KiB, MiB, GiB or TiB (any case), such as
 * "1000", "512KiB", "64MiB", "1GiB"; from min to max. Decimal units (KB, MB) are refused as
 * ambiguous; so are fractions, signs and spaces. */
int crm_config_size(crm_config_t *cfg, const char *name, size_t def, size_t min, size_t max,
                    size_t *out);

/* A duration: digits followed by ms, s, m, h or d, such as "500ms", "30s", "5m", "2h", "1d";
 * "0" alone is zero. Written to *out in milliseconds, from min to max. */
int crm_config_duration_ms(crm_config_t *cfg, const char *name, long long def, long long min,
                           long long max, long long *out);

/* 1, 0, true, false, yes, no, on, off, in any case. */
int crm_config_bool(crm_config_t *cfg, const char *name, bool def, bool *out);

/* An address to listen on or reach, host:port: a host name, an IPv4 address or an IPv6
 * address in brackets ("[::1]:9101"), and a port from 0 to 65535 (0: any free port). *out is a
 * copy the caller frees with free(); CRM_ENOMEM is possible. */
int crm_config_addr(crm_config_t *cfg, const char *name, const char *def, char **out);

/* A ZeroMQ endpoint: tcp://host:port (host as for crm_config_addr, or *; port 1 to 65535),
 * ipc://path or inproc://name. *out is a copy the caller frees with free(); CRM_ENOMEM is
 * possible. */
int crm_config_endpoint(crm_config_t *cfg, const char *name, const char *def, char **out);

/* The level of CRM_LOG_LEVEL: debug, info, warn or error (default info). */
int crm_config_log_level(crm_config_t *cfg, crm_log_level_t *out);

/* Splits "host:port" as crm_config_addr accepts it: writes the host (without brackets) into
 * host (host_size bytes) and the port into *port. Returns 0 or CRM_EINVALID (bad syntax, or the
 * host does not fit). */
int crm_config_addr_parse(const char *addr, char *host, size_t host_size, uint16_t *port);

/* --- The suite's topology: where each service listens, and where it keeps its store. */

#define CRM_CONFIG_DEFAULT_DATA_DIR        "./data"
#define CRM_CONFIG_DEFAULT_HTTP_ADDR       "127.0.0.1:8080"
#define CRM_CONFIG_DEFAULT_INGEST_ENDPOINT "tcp://127.0.0.1:5570"
#define CRM_CONFIG_DEFAULT_LOG_LEVEL       CRM_LOG_INFO

typedef enum {
    CRM_SVC_GATEWAY = 0,
    CRM_SVC_CONTACTS,
    CRM_SVC_LOYALTY,
    CRM_SVC_FEEDBACK,
    CRM_SVC_ANALYTICS,
    CRM_SVC_NOTIFIER,
    CRM_SVC_COUNT
} crm_service_id_t;

/* Returns the service's lower-case name, such as "contacts" (static; "unknown" when out of
 * range). */
const char *crm_service_name(crm_service_id_t id);

/* Finds a service by its lower-case name. Returns 0 and sets *id, or CRM_ENOTFOUND. */
int crm_service_parse(const char *name, crm_service_id_t *id);

/* One service's places. An empty string means the service has none: the gateway has no RPC
 * endpoint and no health address of its own (its health answers on CRM_HTTP_ADDR). */
typedef struct {
    char rpc_endpoint[CRM_CONFIG_ENDPOINT_MAX];     /* CRM_<SERVICE>_RPC_ENDPOINT */
    char pub_endpoint[CRM_CONFIG_ENDPOINT_MAX];     /* CRM_<SERVICE>_PUB_ENDPOINT */
    char replay_endpoint[CRM_CONFIG_ENDPOINT_MAX];  /* CRM_<SERVICE>_REPLAY_ENDPOINT */
    char health_addr[CRM_CONFIG_ENDPOINT_MAX];      /* CRM_<SERVICE>_HEALTH_ADDR */
    char store_dir[CRM_CONFIG_PATH_MAX];            /* <CRM_DATA_DIR>/<service> */
} crm_service_config_t;

typedef struct {
    char data_dir[CRM_CONFIG_PATH_MAX];               /* CRM_DATA_DIR */
    char http_addr[CRM_CONFIG_ENDPOINT_MAX];          /* CRM_HTTP_ADDR */
    char ingest_endpoint[CRM_CONFIG_ENDPOINT_MAX];    /* CRM_INGEST_ENDPOINT */
    crm_log_level_t log_level;                        /* CRM_LOG_LEVEL */
    char bind_host[CRM_CONFIG_HOST_MAX];              /* CRM_BIND_HOST, "" when unset */
    crm_service_config_t services[CRM_SVC_COUNT];     /* indexed by crm_service_id_t */
} crm_topology_t;

/* Fills *topo from the settings, over these defaults (all on 127.0.0.1):
 *   service    rpc    pub    replay  health
 *   gateway    -      5571   5572    -   (ingest 5570, HTTP 8080)
 *   contacts   5580   5581   5582    9101
 *   loyalty    5590   5591   5592    9102
 *   feedback   5600   5601   5602    9103
 *   analytics  5610   5611   5612    9104
 *   notifier   5620   5621   5622    9105
 * Endpoints are "tcp://127.0.0.1:<port>", health addresses "127.0.0.1:<port>".
 * Returns 0, or CRM_ECONFIG when a value is bad or too long, or when two settings name the
 * same place (the same endpoint text, or the same host and port for TCP; the error names both
 * variables). *topo is unspecified after an error. */
int crm_topology_load(crm_config_t *cfg, crm_topology_t *topo);

/* The endpoint a service binds for one of its own endpoints: the endpoint as written, or, when
 * CRM_BIND_HOST is set ("*" or "0.0.0.0" in containers, where peers reach a service by a name it
 * cannot bind), "tcp://<bind host>:<port>" for a TCP endpoint. Writes it into out (size bytes).
 * Returns 0, or CRM_EINVALID when it does not fit or the endpoint is not valid. */
int crm_topology_bind_endpoint(const crm_topology_t *topo, const char *endpoint, char *out,
                               size_t size);

#endif
