/* crm_config.c: settings from the environment, with defaults and validation, and the suite's topology. */
#include "crm_config.h"

#include "crm_error.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define S_ECHO_MAX        64       /* bytes of a bad value quoted back in an error */
#define S_PORT_MAX        65535
#define S_PORT_DIGITS_MAX 5
#define S_LOOPBACK        "127.0.0.1"
#define S_PLACES_MAX      (2 + 4 * CRM_SVC_COUNT)   /* HTTP, ingest, then four per service */

struct crm_config {
    crm_config_lookup_fn lookup;
    void *arg;
    char error[CRM_CONFIG_ERROR_MAX];
};

/* What a setting must look like, for the shared readers of text settings. */
typedef enum { S_TEXT, S_ADDR, S_ENDPOINT } s_kind_t;

typedef struct {
    const char *name;       /* lower case, as in crm_service_name */
    const char *upper;      /* as in the variables' names */
    int rpc, pub, replay, health;   /* default ports; 0 for none */
} s_service_default_t;

static const s_service_default_t s_services[CRM_SVC_COUNT] = {
    [CRM_SVC_GATEWAY]   = { "gateway",   "GATEWAY",   0,    5571, 5572, 0    },
    [CRM_SVC_CONTACTS]  = { "contacts",  "CONTACTS",  5580, 5581, 5582, 9101 },
    [CRM_SVC_LOYALTY]   = { "loyalty",   "LOYALTY",   5590, 5591, 5592, 9102 },
    [CRM_SVC_FEEDBACK]  = { "feedback",  "FEEDBACK",  5600, 5601, 5602, 9103 },
    [CRM_SVC_ANALYTICS] = { "analytics", "ANALYTICS", 5610, 5611, 5612, 9104 },
    [CRM_SVC_NOTIFIER]  = { "notifier",  "NOTIFIER",  5620, 5621, 5622, 9105 },
};

typedef struct {
    const char *suffix;
    unsigned long long factor;
} s_unit_t;

static const s_unit_t s_size_units[] = {
    { "", 1 }, { "B", 1 }, { "KiB", 1ULL << 10 }, { "MiB", 1ULL << 20 }, { "GiB", 1ULL << 30 },
    { "TiB", 1ULL << 40 },
};

static const s_unit_t s_duration_units[] = {
    { "ms", 1 }, { "s", 1000 }, { "m", 60 * 1000 }, { "h", 60 * 60 * 1000 },
    { "d", 24 * 60 * 60 * 1000 },
};

static const char *
s_lookup_env(const char *name, void *arg)
{
    (void) arg;
    return getenv(name);
}

int
crm_config_new(crm_config_lookup_fn lookup, void *arg, crm_config_t **cfg_p)
{
    assert(cfg_p);
    *cfg_p = NULL;
    crm_config_t *cfg = calloc(1, sizeof *cfg);
    if (!cfg)
        return CRM_ENOMEM;
    cfg->lookup = lookup ? lookup : s_lookup_env;
    cfg->arg = lookup ? arg : NULL;
    *cfg_p = cfg;
    return 0;
}

void
crm_config_destroy(crm_config_t **cfg_p)
{
    if (!cfg_p || !*cfg_p)
        return;
    free(*cfg_p);
    *cfg_p = NULL;
}

const char *
crm_config_error(const crm_config_t *cfg)
{
    assert(cfg);
    return cfg->error;
}

/* Sets the error text: NAME="value": then the explanation; returns CRM_ECONFIG. The value is
 * quoted back shortened and with unprintable bytes as '?', so the text is always one clean line. */
static int s_fail(crm_config_t *cfg, const char *name, const char *value, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
s_fail(crm_config_t *cfg, const char *name, const char *value, const char *fmt, ...)
{
    char echo[S_ECHO_MAX + 4];
    size_t n = 0;
    if (value) {
        for (const char *p = value; *p && n < S_ECHO_MAX; p++)
            echo[n++] = isprint((unsigned char) *p) ? *p : '?';
        if (strlen(value) > S_ECHO_MAX) {
            memcpy(echo + n, "...", 3);
            n += 3;
        }
    }
    echo[n] = '\0';
    int len = value ? snprintf(cfg->error, sizeof cfg->error, "%s=\"%s\": ", name, echo)
                    : snprintf(cfg->error, sizeof cfg->error, "%s: ", name);
    if (len >= 0 && (size_t) len < sizeof cfg->error) {
        va_list args;
        va_start(args, fmt);
        vsnprintf(cfg->error + len, sizeof cfg->error - (size_t) len, fmt, args);
        va_end(args);
    }
    return CRM_ECONFIG;
}

/* The value of name, or NULL when it is unset or empty. Returns 0 or CRM_ECONFIG (too long). */
static int
s_get(crm_config_t *cfg, const char *name, const char **value)
{
    assert(cfg);
    assert(name && strlen(name) <= CRM_CONFIG_NAME_MAX);
    *value = cfg->lookup(name, cfg->arg);
    if (*value && !**value)
        *value = NULL;
    if (*value && strlen(*value) > CRM_CONFIG_VALUE_MAX)
        return s_fail(cfg, name, *value, "longer than %d bytes", CRM_CONFIG_VALUE_MAX);
    return 0;
}

/* Reads the decimal digits at s into *v. Returns the first byte after them, or NULL when there
 * are none or the number does not fit 64 bits. */
static const char *
s_digits(const char *s, unsigned long long *v)
{
    unsigned long long n = 0;
    const char *p = s;
    for (; *p >= '0' && *p <= '9'; p++) {
        unsigned digit = (unsigned) (*p - '0');
        if (n > (ULLONG_MAX - digit) / 10)
            return NULL;
        n = n * 10 + digit;
    }
    if (p == s)
        return NULL;
    *v = n;
    return p;
}

/* Parses digits then one of units (matched case-insensitively when fold). Returns 0, or -1 for
 * bad syntax, or -2 when the product passes limit. */
static int
s_parse_scaled(const char *text, const s_unit_t *units, size_t n_units, bool fold,
               unsigned long long limit, unsigned long long *out)
{
    unsigned long long v;
    const char *rest = s_digits(text, &v);
    if (!rest) {
        /* Only digits that overflow fall here with digits present. */
        return (text[0] >= '0' && text[0] <= '9') ? -2 : -1;
    }
    for (size_t i = 0; i < n_units; i++) {
        bool same = fold ? strcasecmp(rest, units[i].suffix) == 0
                         : strcmp(rest, units[i].suffix) == 0;
        if (!same)
            continue;
        if (v > limit / units[i].factor)
            return -2;
        *out = v * units[i].factor;
        return 0;
    }
    return -1;
}

int
crm_config_string(crm_config_t *cfg, const char *name, const char *def, char **out)
{
    assert(out);
    const char *value;
    int rc = s_get(cfg, name, &value);
    if (rc)
        return rc;
    if (!value)
        value = def;
    if (!value) {
        *out = NULL;
        return 0;
    }
    char *copy = strdup(value);
    if (!copy)
        return CRM_ENOMEM;
    *out = copy;
    return 0;
}

int
crm_config_int(crm_config_t *cfg, const char *name, long long def, long long min, long long max,
               long long *out)
{
    assert(out);
    assert(min <= def && def <= max);
    const char *value;
    int rc = s_get(cfg, name, &value);
    if (rc)
        return rc;
    if (!value) {
        *out = def;
        return 0;
    }
    const char *digits = value + (value[0] == '-' || value[0] == '+');
    char *end;
    errno = 0;
    long long v = strtoll(value, &end, 10);
    if (!(*digits >= '0' && *digits <= '9') || *end || errno == ERANGE || v < min || v > max)
        return s_fail(cfg, name, value, "expected an integer from %lld to %lld", min, max);
    *out = v;
    return 0;
}

int
crm_config_size(crm_config_t *cfg, const char *name, size_t def, size_t min, size_t max,
                size_t *out)
{
    assert(out);
    assert(min <= def && def <= max);
    const char *value;
    int rc = s_get(cfg, name, &value);
    if (rc)
        return rc;
    if (!value) {
        *out = def;
        return 0;
    }
    unsigned long long v;
    rc = s_parse_scaled(value, s_size_units, sizeof s_size_units / sizeof s_size_units[0], true,
                        SIZE_MAX, &v);
    if (rc == -1)
        return s_fail(cfg, name, value,
                      "expected a size in bytes such as 1000, 512KiB, 64MiB or 1GiB");
    if (rc == -2 || v < min || v > max)
        return s_fail(cfg, name, value, "expected a size from %zu to %zu bytes", min, max);
    *out = (size_t) v;
    return 0;
}

int
crm_config_duration_ms(crm_config_t *cfg, const char *name, long long def, long long min,
                       long long max, long long *out)
{
    assert(out);
    assert(0 <= min && min <= def && def <= max);
    const char *value;
    int rc = s_get(cfg, name, &value);
    if (rc)
        return rc;
    if (!value) {
        *out = def;
        return 0;
    }
    unsigned long long v = 0;
    rc = strcmp(value, "0") == 0 ? 0
         : s_parse_scaled(value, s_duration_units,
                          sizeof s_duration_units / sizeof s_duration_units[0], false, LLONG_MAX,
                          &v);
    if (rc == -1)
        return s_fail(cfg, name, value,
                      "expected a duration such as 500ms, 30s, 5m, 2h or 1d");
    if (rc == -2 || (long long) v < min || (long long) v > max)
        return s_fail(cfg, name, value, "expected a duration from %lldms to %lldms", min, max);
    *out = (long long) v;
    return 0;
}

int
crm_config_bool(crm_config_t *cfg, const char *name, bool def, bool *out)
{
    static const char *const yes[] = { "1", "true", "yes", "on" };
    static const char *const no[] = { "0", "false", "no", "off" };
    assert(out);
    const char *value;
    int rc = s_get(cfg, name, &value);
    if (rc)
        return rc;
    if (!value) {
        *out = def;
        return 0;
    }
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        if (strcasecmp(value, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(value, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return s_fail(cfg, name, value, "expected 1, 0, true, false, yes, no, on or off");
}

static bool
s_host_name_valid(const char *host, size_t len)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char) host[i]) && host[i] != '.' && host[i] != '-'
            && host[i] != '_')
            return false;
    return true;
}

static bool
s_host_ipv6_valid(const char *host, size_t len)
{
    if (len < 2)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!isxdigit((unsigned char) host[i]) && host[i] != ':' && host[i] != '.')
            return false;
    return true;
}

/* Splits host:port; the host may be "*" when star is true. */
static int
s_addr_split(const char *addr, bool star, char *host, size_t host_size, uint16_t *port)
{
    if (!addr)
        return CRM_EINVALID;
    const char *host_start = addr, *host_end, *colon;
    if (addr[0] == '[') {
        host_start = addr + 1;
        host_end = strchr(host_start, ']');
        if (!host_end || host_end[1] != ':'
            || !s_host_ipv6_valid(host_start, (size_t) (host_end - host_start)))
            return CRM_EINVALID;
        colon = host_end + 1;
    }
    else {
        colon = strrchr(addr, ':');
        if (!colon)
            return CRM_EINVALID;
        host_end = colon;
        size_t len = (size_t) (host_end - host_start);
        if (!(star && len == 1 && host_start[0] == '*') && !s_host_name_valid(host_start, len))
            return CRM_EINVALID;
    }
    const char *digits = colon + 1;
    size_t n_digits = strlen(digits);
    unsigned long long v;
    const char *end = s_digits(digits, &v);
    if (!end || *end || n_digits > S_PORT_DIGITS_MAX || v > S_PORT_MAX)
        return CRM_EINVALID;
    size_t host_len = (size_t) (host_end - host_start);
    if (host_len + 1 > host_size)
        return CRM_EINVALID;
    memcpy(host, host_start, host_len);
    host[host_len] = '\0';
    *port = (uint16_t) v;
    return 0;
}

int
crm_config_addr_parse(const char *addr, char *host, size_t host_size, uint16_t *port)
{
    assert(host && port);
    return s_addr_split(addr, false, host, host_size, port);
}

/* Checks an endpoint; for tcp:// also returns its host and port. */
static bool
s_endpoint_valid(const char *endpoint, bool *tcp, char *host, uint16_t *port)
{
    *tcp = false;
    if (strncmp(endpoint, "tcp://", 6) == 0) {
        *tcp = true;
        return s_addr_split(endpoint + 6, true, host, CRM_CONFIG_HOST_MAX, port) == 0
               && *port != 0;
    }
    if (strncmp(endpoint, "ipc://", 6) == 0)
        return endpoint[6] != '\0';
    if (strncmp(endpoint, "inproc://", 9) == 0)
        return endpoint[9] != '\0';
    return false;
}

/* Reads a text setting of kind into dst (dst_size bytes). */
static int
s_read_into(crm_config_t *cfg, s_kind_t kind, const char *name, const char *def, char *dst,
            size_t dst_size)
{
    const char *value;
    int rc = s_get(cfg, name, &value);
    if (rc)
        return rc;
    bool is_default = !value;
    if (is_default)
        value = def;
    assert(value);
    char host[CRM_CONFIG_HOST_MAX];
    uint16_t port;
    bool tcp;
    bool ok = kind == S_TEXT
              || (kind == S_ADDR && s_addr_split(value, false, host, sizeof host, &port) == 0)
              || (kind == S_ENDPOINT && s_endpoint_valid(value, &tcp, host, &port));
    assert(ok || !is_default);
    if (!ok && kind == S_ADDR)
        return s_fail(cfg, name, value,
                      "expected host:port such as 127.0.0.1:9101 or [::1]:9101, port 0 to 65535");
    if (!ok)
        return s_fail(cfg, name, value,
                      "expected an endpoint such as tcp://127.0.0.1:5580 (port 1 to 65535), "
                      "ipc:///path or inproc://name");
    if (strlen(value) + 1 > dst_size)
        return s_fail(cfg, name, value, "longer than %zu bytes", dst_size - 1);
    memcpy(dst, value, strlen(value) + 1);
    return 0;
}

/* A kind-checked copy the caller frees. */
static int
s_read_copy(crm_config_t *cfg, s_kind_t kind, const char *name, const char *def, char **out)
{
    assert(out);
    char value[CRM_CONFIG_VALUE_MAX + 1];
    int rc = s_read_into(cfg, kind, name, def, value, sizeof value);
    if (rc)
        return rc;
    char *copy = strdup(value);
    if (!copy)
        return CRM_ENOMEM;
    *out = copy;
    return 0;
}

int
crm_config_addr(crm_config_t *cfg, const char *name, const char *def, char **out)
{
    return s_read_copy(cfg, S_ADDR, name, def, out);
}

int
crm_config_endpoint(crm_config_t *cfg, const char *name, const char *def, char **out)
{
    return s_read_copy(cfg, S_ENDPOINT, name, def, out);
}

int
crm_config_log_level(crm_config_t *cfg, crm_log_level_t *out)
{
    static const char name[] = "CRM_LOG_LEVEL";
    assert(out);
    const char *value;
    int rc = s_get(cfg, name, &value);
    if (rc)
        return rc;
    if (!value) {
        *out = CRM_CONFIG_DEFAULT_LOG_LEVEL;
        return 0;
    }
    if (crm_log_level_parse(value, out) != 0)
        return s_fail(cfg, name, value, "expected debug, info, warn or error");
    return 0;
}

const char *
crm_service_name(crm_service_id_t id)
{
    if ((unsigned) id >= CRM_SVC_COUNT)
        return "unknown";
    return s_services[id].name;
}

int
crm_service_parse(const char *name, crm_service_id_t *id)
{
    assert(id);
    for (size_t i = 0; name && i < CRM_SVC_COUNT; i++) {
        if (strcmp(name, s_services[i].name) == 0) {
            *id = (crm_service_id_t) i;
            return 0;
        }
    }
    return CRM_ENOTFOUND;
}

/* One place a topology names, for the check that no two settings share one. */
typedef struct {
    char name[CRM_CONFIG_NAME_MAX + 1];
    const char *value;
    bool tcp;                       /* compared by host and port */
    char host[CRM_CONFIG_HOST_MAX];
    uint16_t port;
} s_place_t;

static void
s_place_add(s_place_t *places, size_t *n, const char *name, const char *value, bool is_addr)
{
    assert(*n < S_PLACES_MAX);
    s_place_t *place = &places[(*n)++];
    snprintf(place->name, sizeof place->name, "%s", name);
    place->value = value;
    int rc = 0;
    if (is_addr) {
        place->tcp = true;
        rc = s_addr_split(value, false, place->host, sizeof place->host, &place->port);
    }
    else {
        bool ok = s_endpoint_valid(value, &place->tcp, place->host, &place->port);
        rc = ok ? 0 : CRM_EINVALID;
    }
    assert(rc == 0);   /* every value was checked when it was read */
}

static bool
s_places_clash(const s_place_t *a, const s_place_t *b)
{
    if (a->tcp != b->tcp)
        return false;
    if (!a->tcp)
        return strcmp(a->value, b->value) == 0;
    /* Port 0 asks for any free port: two of them never clash. */
    return a->port != 0 && a->port == b->port && strcasecmp(a->host, b->host) == 0;
}

/* Reads CRM_<SERVICE>_<what> into dst when the service has that place (default port > 0). */
static int
s_service_place(crm_config_t *cfg, const s_service_default_t *svc, const char *what,
                s_kind_t kind, int default_port, char *dst, size_t dst_size, s_place_t *places,
                size_t *n_places)
{
    dst[0] = '\0';
    if (default_port == 0)
        return 0;
    char name[CRM_CONFIG_NAME_MAX + 1];
    char def[CRM_CONFIG_ENDPOINT_MAX];
    snprintf(name, sizeof name, "CRM_%s_%s", svc->upper, what);
    snprintf(def, sizeof def, "%s%s:%d", kind == S_ENDPOINT ? "tcp://" : "", S_LOOPBACK,
             default_port);
    int rc = s_read_into(cfg, kind, name, def, dst, dst_size);
    if (rc == 0)
        s_place_add(places, n_places, name, dst, kind == S_ADDR);
    return rc;
}

int
crm_topology_load(crm_config_t *cfg, crm_topology_t *topo)
{
    assert(cfg);
    assert(topo);
    memset(topo, 0, sizeof *topo);
    s_place_t places[S_PLACES_MAX];
    size_t n_places = 0;

    int rc = s_read_into(cfg, S_TEXT, "CRM_DATA_DIR", CRM_CONFIG_DEFAULT_DATA_DIR, topo->data_dir,
                         sizeof topo->data_dir);
    if (rc)
        goto out;
    size_t dir_len = strlen(topo->data_dir);
    while (dir_len > 1 && topo->data_dir[dir_len - 1] == '/')
        topo->data_dir[--dir_len] = '\0';
    rc = crm_config_log_level(cfg, &topo->log_level);
    if (rc)
        goto out;
    rc = s_read_into(cfg, S_ADDR, "CRM_HTTP_ADDR", CRM_CONFIG_DEFAULT_HTTP_ADDR, topo->http_addr,
                     sizeof topo->http_addr);
    if (rc)
        goto out;
    s_place_add(places, &n_places, "CRM_HTTP_ADDR", topo->http_addr, true);
    rc = s_read_into(cfg, S_ENDPOINT, "CRM_INGEST_ENDPOINT", CRM_CONFIG_DEFAULT_INGEST_ENDPOINT,
                     topo->ingest_endpoint, sizeof topo->ingest_endpoint);
    if (rc)
        goto out;
    s_place_add(places, &n_places, "CRM_INGEST_ENDPOINT", topo->ingest_endpoint, false);
    rc = s_read_into(cfg, S_TEXT, "CRM_BIND_HOST", "", topo->bind_host, sizeof topo->bind_host);
    if (rc)
        goto out;
    if (topo->bind_host[0] && strpbrk(topo->bind_host, "/: \t")) {
        rc = s_fail(cfg, "CRM_BIND_HOST", topo->bind_host, "expected a host such as * or 0.0.0.0");
        goto out;
    }

    for (size_t i = 0; i < CRM_SVC_COUNT; i++) {
        const s_service_default_t *svc = &s_services[i];
        crm_service_config_t *conf = &topo->services[i];
        int n = snprintf(conf->store_dir, sizeof conf->store_dir, "%s%s%s", topo->data_dir,
                         strcmp(topo->data_dir, "/") == 0 ? "" : "/", svc->name);
        if (n < 0 || (size_t) n >= sizeof conf->store_dir) {
            rc = s_fail(cfg, "CRM_DATA_DIR", topo->data_dir, "longer than %zu bytes",
                        sizeof conf->store_dir - strlen(svc->name) - 2);
            goto out;
        }
        rc = s_service_place(cfg, svc, "RPC_ENDPOINT", S_ENDPOINT, svc->rpc, conf->rpc_endpoint,
                             sizeof conf->rpc_endpoint, places, &n_places);
        if (rc == 0)
            rc = s_service_place(cfg, svc, "PUB_ENDPOINT", S_ENDPOINT, svc->pub,
                                 conf->pub_endpoint, sizeof conf->pub_endpoint, places,
                                 &n_places);
        if (rc == 0)
            rc = s_service_place(cfg, svc, "REPLAY_ENDPOINT", S_ENDPOINT, svc->replay,
                                 conf->replay_endpoint, sizeof conf->replay_endpoint, places,
                                 &n_places);
        if (rc == 0)
            rc = s_service_place(cfg, svc, "HEALTH_ADDR", S_ADDR, svc->health, conf->health_addr,
                                 sizeof conf->health_addr, places, &n_places);
        if (rc)
            goto out;
    }

    for (size_t i = 0; i < n_places; i++) {
        for (size_t j = 0; j < i; j++) {
            if (s_places_clash(&places[j], &places[i])) {
                rc = s_fail(cfg, places[i].name, places[i].value,
                            "the same place as %s=\"%s\"; every service needs its own",
                            places[j].name, places[j].value);
                goto out;
            }
        }
    }
out:
    return rc;
}

int
crm_topology_bind_endpoint(const crm_topology_t *topo, const char *endpoint, char *out, size_t size)
{
    assert(topo && endpoint && out);
    char host[CRM_CONFIG_HOST_MAX];
    uint16_t port = 0;
    bool tcp = false;
    if (!s_endpoint_valid(endpoint, &tcp, host, &port))
        return CRM_EINVALID;
    int n = tcp && topo->bind_host[0]
                ? snprintf(out, size, "tcp://%s:%u", topo->bind_host, (unsigned) port)
                : snprintf(out, size, "%s", endpoint);
    return n >= 0 && (size_t) n < size ? 0 : CRM_EINVALID;
}
