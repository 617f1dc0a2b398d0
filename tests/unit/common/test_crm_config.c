/* test_crm_config.c: crm_config readers, their error texts, and the suite topology. */
#include "crm_config.h"
#include "crm_error.h"

#include <criterion/criterion.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "crm_test.h"

/* Every test fails on leaked memory. */
TestSuite(crm_config, .fini = crm_test_check_leaks);

#define T_VARS_MAX 16

/* A fake environment: NULL-terminated "NAME=value" entries. */
typedef struct {
    const char *vars[T_VARS_MAX];
} t_env_t;

static const char *
t_lookup(const char *name, void *arg)
{
    const t_env_t *env = arg;
    size_t len = strlen(name);
    for (size_t i = 0; i < T_VARS_MAX && env->vars[i]; i++)
        if (strncmp(env->vars[i], name, len) == 0 && env->vars[i][len] == '=')
            return env->vars[i] + len + 1;
    return NULL;
}

static crm_config_t *
t_config(t_env_t *env)
{
    crm_config_t *cfg = NULL;
    cr_assert_eq(crm_config_new(t_lookup, env, &cfg), 0);
    return cfg;
}

/* Asserts that the last error names the variable. */
static void
t_assert_error_names(crm_config_t *cfg, const char *name, const char *also)
{
    const char *error = crm_config_error(cfg);
    cr_assert_eq(strncmp(error, name, strlen(name)), 0, "error does not start with %s: %s", name,
                 error);
    if (also)
        cr_assert_not_null(strstr(error, also), "error lacks \"%s\": %s", also, error);
}

Test(crm_config, defaults_with_an_empty_environment)
{
    t_env_t env = { { NULL } };
    crm_config_t *cfg = t_config(&env);
    cr_assert_str_eq(crm_config_error(cfg), "");
    char *s = NULL;
    long long i = 0, ms = 0;
    size_t size = 0;
    bool flag = false;
    cr_assert_eq(crm_config_string(cfg, "CRM_X", "dflt", &s), 0);
    cr_assert_str_eq(s, "dflt");
    free(s);
    s = (char *) 1;
    cr_assert_eq(crm_config_string(cfg, "CRM_ADMIN_KEY", NULL, &s), 0);
    cr_assert_null(s);
    cr_assert_eq(crm_config_int(cfg, "CRM_X", 7, 0, 10, &i), 0);
    cr_assert_eq(i, 7);
    cr_assert_eq(crm_config_size(cfg, "CRM_X", 4096, 0, SIZE_MAX, &size), 0);
    cr_assert_eq(size, 4096);
    cr_assert_eq(crm_config_duration_ms(cfg, "CRM_X", 1500, 0, LLONG_MAX, &ms), 0);
    cr_assert_eq(ms, 1500);
    cr_assert_eq(crm_config_bool(cfg, "CRM_X", true, &flag), 0);
    cr_assert(flag);
    cr_assert_eq(crm_config_addr(cfg, "CRM_X", "127.0.0.1:9", &s), 0);
    cr_assert_str_eq(s, "127.0.0.1:9");
    free(s);
    cr_assert_eq(crm_config_endpoint(cfg, "CRM_X", "tcp://127.0.0.1:9", &s), 0);
    cr_assert_str_eq(s, "tcp://127.0.0.1:9");
    free(s);
    crm_log_level_t level = CRM_LOG_ERROR;
    cr_assert_eq(crm_config_log_level(cfg, &level), 0);
    cr_assert_eq(level, CRM_LOG_INFO);
    crm_config_destroy(&cfg);
    cr_assert_null(cfg);
    crm_config_destroy(&cfg);
}

Test(crm_config, empty_values_take_the_default)
{
    t_env_t env = { { "CRM_N=", "CRM_S=" } };
    crm_config_t *cfg = t_config(&env);
    long long n = 0;
    char *s = NULL;
    cr_assert_eq(crm_config_int(cfg, "CRM_N", 3, 0, 9, &n), 0);
    cr_assert_eq(n, 3);
    cr_assert_eq(crm_config_string(cfg, "CRM_S", "d", &s), 0);
    cr_assert_str_eq(s, "d");
    free(s);
    crm_config_destroy(&cfg);
}

Test(crm_config, reads_good_values)
{
    t_env_t env = { {
        "CRM_S=hello world", "CRM_I=-42", "CRM_IP=+9", "CRM_Z=64MiB", "CRM_Z2=1000",
        "CRM_Z3=512kib", "CRM_Z4=1GiB", "CRM_Z5=2TiB", "CRM_Z6=7B", "CRM_D=500ms",
        "CRM_D2=2h", "CRM_B=Yes", "CRM_A=[::1]:0", "CRM_E=ipc:///tmp/crm.sock",
        "CRM_LOG_LEVEL=WARN",
    } };
    crm_config_t *cfg = t_config(&env);
    char *s = NULL;
    long long i = 0, ms = 0;
    size_t size = 0;
    bool flag = false;
    cr_assert_eq(crm_config_string(cfg, "CRM_S", NULL, &s), 0);
    cr_assert_str_eq(s, "hello world");
    free(s);
    cr_assert_eq(crm_config_int(cfg, "CRM_I", 0, -100, 100, &i), 0);
    cr_assert_eq(i, -42);
    cr_assert_eq(crm_config_int(cfg, "CRM_IP", 0, -100, 100, &i), 0);
    cr_assert_eq(i, 9);
    const struct { const char *name; size_t want; } sizes[] = {
        { "CRM_Z", (size_t) 64 << 20 }, { "CRM_Z2", 1000 }, { "CRM_Z3", (size_t) 512 << 10 },
        { "CRM_Z4", (size_t) 1 << 30 }, { "CRM_Z5", (size_t) 2 << 40 }, { "CRM_Z6", 7 },
    };
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        cr_assert_eq(crm_config_size(cfg, sizes[k].name, 0, 0, SIZE_MAX, &size), 0, "%s: %s",
                     sizes[k].name, crm_config_error(cfg));
        cr_assert_eq(size, sizes[k].want, "%s", sizes[k].name);
    }
    cr_assert_eq(crm_config_duration_ms(cfg, "CRM_D", 0, 0, LLONG_MAX, &ms), 0);
    cr_assert_eq(ms, 500);
    cr_assert_eq(crm_config_duration_ms(cfg, "CRM_D2", 0, 0, LLONG_MAX, &ms), 0);
    cr_assert_eq(ms, 2LL * 3600 * 1000);
    cr_assert_eq(crm_config_bool(cfg, "CRM_B", false, &flag), 0);
    cr_assert(flag);
    cr_assert_eq(crm_config_addr(cfg, "CRM_A", "127.0.0.1:1", &s), 0);
    cr_assert_str_eq(s, "[::1]:0");
    free(s);
    cr_assert_eq(crm_config_endpoint(cfg, "CRM_E", "tcp://127.0.0.1:1", &s), 0);
    cr_assert_str_eq(s, "ipc:///tmp/crm.sock");
    free(s);
    crm_log_level_t level = CRM_LOG_DEBUG;
    cr_assert_eq(crm_config_log_level(cfg, &level), 0);
    cr_assert_eq(level, CRM_LOG_WARN);
    crm_config_destroy(&cfg);
}

Test(crm_config, parses_durations_and_booleans)
{
    const struct { const char *text; long long ms; } durations[] = {
        { "0", 0 }, { "0ms", 0 }, { "1ms", 1 }, { "30s", 30000 }, { "5m", 300000 },
        { "1d", 86400000LL }, { "106751991167d", 106751991167LL * 86400000LL },
        { "9223372036854775807ms", LLONG_MAX },
    };
    for (size_t k = 0; k < sizeof durations / sizeof durations[0]; k++) {
        char var[64];
        snprintf(var, sizeof var, "CRM_D=%s", durations[k].text);
        t_env_t env = { { var } };
        crm_config_t *cfg = t_config(&env);
        long long ms = -1;
        cr_assert_eq(crm_config_duration_ms(cfg, "CRM_D", 0, 0, LLONG_MAX, &ms), 0, "%s: %s",
                     durations[k].text, crm_config_error(cfg));
        cr_assert_eq(ms, durations[k].ms, "%s gave %lld", durations[k].text, ms);
        crm_config_destroy(&cfg);
    }
    const struct { const char *text; bool value; } bools[] = {
        { "1", true }, { "0", false }, { "true", true }, { "FALSE", false }, { "yes", true },
        { "No", false }, { "on", true }, { "OFF", false },
    };
    for (size_t k = 0; k < sizeof bools / sizeof bools[0]; k++) {
        char var[64];
        snprintf(var, sizeof var, "CRM_B=%s", bools[k].text);
        t_env_t env = { { var } };
        crm_config_t *cfg = t_config(&env);
        bool flag = !bools[k].value;
        cr_assert_eq(crm_config_bool(cfg, "CRM_B", !bools[k].value, &flag), 0);
        cr_assert_eq(flag, bools[k].value, "%s", bools[k].text);
        crm_config_destroy(&cfg);
    }
}

/* Each bad value gives CRM_ECONFIG, leaves *out alone, and an error naming the variable. */
Test(crm_config, bad_values_name_the_variable)
{
    const char *bad_ints[] = { "abc", "12x", " 5", "5 ", "", "-", "1.5", "11", "-1",
                               "99999999999999999999", "0x10" };
    for (size_t k = 0; k < sizeof bad_ints / sizeof bad_ints[0]; k++) {
        if (!*bad_ints[k])
            continue;   /* empty means unset */
        char var[64];
        snprintf(var, sizeof var, "CRM_WORKERS=%s", bad_ints[k]);
        t_env_t env = { { var } };
        crm_config_t *cfg = t_config(&env);
        long long n = 77;
        cr_assert_eq(crm_config_int(cfg, "CRM_WORKERS", 1, 0, 10, &n), CRM_ECONFIG, "%s",
                     bad_ints[k]);
        cr_assert_eq(n, 77);
        t_assert_error_names(cfg, "CRM_WORKERS", "integer from 0 to 10");
        crm_config_destroy(&cfg);
    }

    const char *bad_sizes[] = { "64MB", "1.5GiB", "-1", "1 GiB", "GiB", "10XiB", "+5",
                                "18446744073709551616", "99999999999999999999999",
                                "16777216TiB", "17179869184GiB" };
    for (size_t k = 0; k < sizeof bad_sizes / sizeof bad_sizes[0]; k++) {
        char var[64];
        snprintf(var, sizeof var, "CRM_STORE_MAP_SIZE=%s", bad_sizes[k]);
        t_env_t env = { { var } };
        crm_config_t *cfg = t_config(&env);
        size_t size = 77;
        cr_assert_eq(crm_config_size(cfg, "CRM_STORE_MAP_SIZE", 1, 0, SIZE_MAX, &size),
                     CRM_ECONFIG, "%s", bad_sizes[k]);
        cr_assert_eq(size, 77);
        t_assert_error_names(cfg, "CRM_STORE_MAP_SIZE", "size");
        crm_config_destroy(&cfg);
    }

    const char *bad_durations[] = { "5", "30S", "1.5s", "-1s", "1w", "ms", "1 s", "5min",
                                    "9223372036854775808ms", "106751991168d",
                                    "99999999999999999999s" };
    for (size_t k = 0; k < sizeof bad_durations / sizeof bad_durations[0]; k++) {
        char var[64];
        snprintf(var, sizeof var, "CRM_TIMEOUT=%s", bad_durations[k]);
        t_env_t env = { { var } };
        crm_config_t *cfg = t_config(&env);
        long long ms = 77;
        cr_assert_eq(crm_config_duration_ms(cfg, "CRM_TIMEOUT", 1, 0, LLONG_MAX, &ms),
                     CRM_ECONFIG, "%s", bad_durations[k]);
        cr_assert_eq(ms, 77);
        t_assert_error_names(cfg, "CRM_TIMEOUT", "duration");
        crm_config_destroy(&cfg);
    }

    const char *bad_bools[] = { "2", "yess", "t", "enabled" };
    for (size_t k = 0; k < sizeof bad_bools / sizeof bad_bools[0]; k++) {
        char var[64];
        snprintf(var, sizeof var, "CRM_CURVE=%s", bad_bools[k]);
        t_env_t env = { { var } };
        crm_config_t *cfg = t_config(&env);
        bool flag = true;
        cr_assert_eq(crm_config_bool(cfg, "CRM_CURVE", true, &flag), CRM_ECONFIG);
        t_assert_error_names(cfg, "CRM_CURVE", "true, false");
        crm_config_destroy(&cfg);
    }

    const char *bad_addrs[] = { "127.0.0.1", ":80", "127.0.0.1:", "127.0.0.1:65536",
                                "127.0.0.1:-1", "127.0.0.1:80x", "host name:80", "::1:80",
                                "[::1]80", "[]:80", "[zz]:80", "*:80", "h:000080",
                                "tcp://127.0.0.1:80" };
    for (size_t k = 0; k < sizeof bad_addrs / sizeof bad_addrs[0]; k++) {
        char var[64];
        snprintf(var, sizeof var, "CRM_HTTP_ADDR=%s", bad_addrs[k]);
        t_env_t env = { { var } };
        crm_config_t *cfg = t_config(&env);
        char *s = NULL;
        cr_assert_eq(crm_config_addr(cfg, "CRM_HTTP_ADDR", "127.0.0.1:1", &s), CRM_ECONFIG,
                     "%s", bad_addrs[k]);
        cr_assert_null(s);
        t_assert_error_names(cfg, "CRM_HTTP_ADDR", "host:port");
        crm_config_destroy(&cfg);
    }

    const char *bad_endpoints[] = { "127.0.0.1:80", "tcp://127.0.0.1", "tcp://127.0.0.1:0",
                                    "tcp://:80", "udp://127.0.0.1:80", "ipc://", "inproc://",
                                    "tcp://127.0.0.1:70000" };
    for (size_t k = 0; k < sizeof bad_endpoints / sizeof bad_endpoints[0]; k++) {
        char var[64];
        snprintf(var, sizeof var, "CRM_INGEST_ENDPOINT=%s", bad_endpoints[k]);
        t_env_t env = { { var } };
        crm_config_t *cfg = t_config(&env);
        char *s = NULL;
        cr_assert_eq(crm_config_endpoint(cfg, "CRM_INGEST_ENDPOINT", "tcp://127.0.0.1:1", &s),
                     CRM_ECONFIG, "%s", bad_endpoints[k]);
        t_assert_error_names(cfg, "CRM_INGEST_ENDPOINT", "endpoint");
        crm_config_destroy(&cfg);
    }

    t_env_t env = { { "CRM_LOG_LEVEL=loud" } };
    crm_config_t *cfg = t_config(&env);
    crm_log_level_t level = CRM_LOG_ERROR;
    cr_assert_eq(crm_config_log_level(cfg, &level), CRM_ECONFIG);
    cr_assert_eq(level, CRM_LOG_ERROR);
    t_assert_error_names(cfg, "CRM_LOG_LEVEL=\"loud\"", "debug, info, warn or error");
    crm_config_destroy(&cfg);
}

Test(crm_config, ranges_and_long_values)
{
    t_env_t env = { { "CRM_Z=1KiB", "CRM_D=2s", "CRM_I=-9223372036854775808", "CRM_LONG", NULL } };
    char *long_var = malloc(CRM_CONFIG_VALUE_MAX + 32);
    int n = snprintf(long_var, CRM_CONFIG_VALUE_MAX + 32, "CRM_LONG=");
    memset(long_var + n, 'x', CRM_CONFIG_VALUE_MAX + 1);
    long_var[n + CRM_CONFIG_VALUE_MAX + 1] = '\0';
    env.vars[3] = long_var;
    crm_config_t *cfg = t_config(&env);

    size_t size = 0;
    cr_assert_eq(crm_config_size(cfg, "CRM_Z", 2048, 2048, 4096, &size), CRM_ECONFIG);
    t_assert_error_names(cfg, "CRM_Z", "from 2048 to 4096 bytes");
    cr_assert_eq(crm_config_size(cfg, "CRM_Z", 0, 0, 1024, &size), 0);
    cr_assert_eq(size, 1024);
    long long v = 0;
    cr_assert_eq(crm_config_duration_ms(cfg, "CRM_D", 0, 0, 1000, &v), CRM_ECONFIG);
    t_assert_error_names(cfg, "CRM_D", "from 0ms to 1000ms");
    cr_assert_eq(crm_config_int(cfg, "CRM_I", 0, LLONG_MIN, LLONG_MAX, &v), 0);
    cr_assert_eq(v, LLONG_MIN);

    char *s = NULL;
    cr_assert_eq(crm_config_string(cfg, "CRM_LONG", "d", &s), CRM_ECONFIG);
    cr_assert_null(s);
    t_assert_error_names(cfg, "CRM_LONG", "longer than");
    /* The value is echoed shortened, so the error stays one short line. */
    cr_assert_lt(strlen(crm_config_error(cfg)), 200);
    crm_config_destroy(&cfg);
    free(long_var);
}

Test(crm_config, error_text_is_printable)
{
    t_env_t env = { { "CRM_B=\x01\n\xff" } };
    crm_config_t *cfg = t_config(&env);
    bool flag;
    cr_assert_eq(crm_config_bool(cfg, "CRM_B", false, &flag), CRM_ECONFIG);
    for (const char *p = crm_config_error(cfg); *p; p++)
        cr_assert(*p >= 0x20 && *p < 0x7f, "unprintable byte in: %s", crm_config_error(cfg));
    crm_config_destroy(&cfg);
}

Test(crm_config, addr_parse_splits_host_and_port)
{
    char host[CRM_CONFIG_HOST_MAX];
    uint16_t port = 1;
    cr_assert_eq(crm_config_addr_parse("127.0.0.1:0", host, sizeof host, &port), 0);
    cr_assert_str_eq(host, "127.0.0.1");
    cr_assert_eq(port, 0);
    cr_assert_eq(crm_config_addr_parse("[::1]:65535", host, sizeof host, &port), 0);
    cr_assert_str_eq(host, "::1");
    cr_assert_eq(port, 65535);
    cr_assert_eq(crm_config_addr_parse("gateway_1.local:80", host, sizeof host, &port), 0);
    cr_assert_str_eq(host, "gateway_1.local");
    cr_assert_eq(crm_config_addr_parse("localhost:80", host, 4, &port), CRM_EINVALID);
    cr_assert_eq(crm_config_addr_parse(NULL, host, sizeof host, &port), CRM_EINVALID);
    cr_assert_eq(crm_config_addr_parse("x", host, sizeof host, &port), CRM_EINVALID);
}

Test(crm_config, service_names)
{
    const char *names[] = { "gateway", "contacts", "loyalty", "feedback", "analytics",
                            "notifier" };
    cr_assert_eq(sizeof names / sizeof names[0], CRM_SVC_COUNT);
    for (int i = 0; i < CRM_SVC_COUNT; i++) {
        cr_assert_str_eq(crm_service_name((crm_service_id_t) i), names[i]);
        crm_service_id_t id = CRM_SVC_COUNT;
        cr_assert_eq(crm_service_parse(names[i], &id), 0);
        cr_assert_eq(id, (crm_service_id_t) i);
    }
    crm_service_id_t id;
    cr_assert_eq(crm_service_parse("billing", &id), CRM_ENOTFOUND);
    cr_assert_eq(crm_service_parse(NULL, &id), CRM_ENOTFOUND);
    cr_assert_str_eq(crm_service_name(CRM_SVC_COUNT), "unknown");
}

Test(crm_config, topology_defaults)
{
    t_env_t env = { { NULL } };
    crm_config_t *cfg = t_config(&env);
    crm_topology_t *topo = malloc(sizeof *topo);
    cr_assert_eq(crm_topology_load(cfg, topo), 0, "%s", crm_config_error(cfg));
    cr_assert_str_eq(topo->data_dir, "./data");
    cr_assert_str_eq(topo->http_addr, "127.0.0.1:8080");
    cr_assert_str_eq(topo->ingest_endpoint, "tcp://127.0.0.1:5570");
    cr_assert_eq(topo->log_level, CRM_LOG_INFO);

    const struct { int rpc, pub, replay, health; } want[CRM_SVC_COUNT] = {
        { 0, 5571, 5572, 0 }, { 5580, 5581, 5582, 9101 }, { 5590, 5591, 5592, 9102 },
        { 5600, 5601, 5602, 9103 }, { 5610, 5611, 5612, 9104 }, { 5620, 5621, 5622, 9105 },
    };
    for (int i = 0; i < CRM_SVC_COUNT; i++) {
        const crm_service_config_t *svc = &topo->services[i];
        char buf[128];
        if (want[i].rpc)
            snprintf(buf, sizeof buf, "tcp://127.0.0.1:%d", want[i].rpc);
        else
            buf[0] = '\0';
        cr_assert_str_eq(svc->rpc_endpoint, buf);
        snprintf(buf, sizeof buf, "tcp://127.0.0.1:%d", want[i].pub);
        cr_assert_str_eq(svc->pub_endpoint, buf);
        snprintf(buf, sizeof buf, "tcp://127.0.0.1:%d", want[i].replay);
        cr_assert_str_eq(svc->replay_endpoint, buf);
        if (want[i].health)
            snprintf(buf, sizeof buf, "127.0.0.1:%d", want[i].health);
        else
            buf[0] = '\0';
        cr_assert_str_eq(svc->health_addr, buf);
        snprintf(buf, sizeof buf, "./data/%s", crm_service_name((crm_service_id_t) i));
        cr_assert_str_eq(svc->store_dir, buf);
    }
    free(topo);
    crm_config_destroy(&cfg);
}

Test(crm_config, topology_overrides)
{
    t_env_t env = { {
        "CRM_DATA_DIR=/var/lib/crm//", "CRM_HTTP_ADDR=0.0.0.0:80", "CRM_LOG_LEVEL=debug",
        "CRM_INGEST_ENDPOINT=tcp://*:6000", "CRM_CONTACTS_RPC_ENDPOINT=tcp://contacts:5580",
        "CRM_LOYALTY_RPC_ENDPOINT=tcp://loyalty:5580", "CRM_NOTIFIER_HEALTH_ADDR=127.0.0.1:0",
        "CRM_ANALYTICS_HEALTH_ADDR=127.0.0.1:0", "CRM_GATEWAY_PUB_ENDPOINT=ipc:///run/gw.pub",
        "CRM_GATEWAY_RPC_ENDPOINT=not read: the gateway has none",
    } };
    crm_config_t *cfg = t_config(&env);
    crm_topology_t *topo = malloc(sizeof *topo);
    cr_assert_eq(crm_topology_load(cfg, topo), 0, "%s", crm_config_error(cfg));
    cr_assert_str_eq(topo->data_dir, "/var/lib/crm");
    cr_assert_str_eq(topo->services[CRM_SVC_FEEDBACK].store_dir, "/var/lib/crm/feedback");
    cr_assert_str_eq(topo->http_addr, "0.0.0.0:80");
    cr_assert_eq(topo->log_level, CRM_LOG_DEBUG);
    cr_assert_str_eq(topo->ingest_endpoint, "tcp://*:6000");
    /* The same port on two hosts is two places. */
    cr_assert_str_eq(topo->services[CRM_SVC_CONTACTS].rpc_endpoint, "tcp://contacts:5580");
    cr_assert_str_eq(topo->services[CRM_SVC_LOYALTY].rpc_endpoint, "tcp://loyalty:5580");
    /* Port 0 twice is two free ports, not a clash. */
    cr_assert_str_eq(topo->services[CRM_SVC_NOTIFIER].health_addr, "127.0.0.1:0");
    cr_assert_str_eq(topo->services[CRM_SVC_ANALYTICS].health_addr, "127.0.0.1:0");
    cr_assert_str_eq(topo->services[CRM_SVC_GATEWAY].pub_endpoint, "ipc:///run/gw.pub");
    cr_assert_str_eq(topo->services[CRM_SVC_GATEWAY].rpc_endpoint, "");
    cr_assert_str_eq(topo->services[CRM_SVC_GATEWAY].replay_endpoint, "tcp://127.0.0.1:5572");
    free(topo);
    crm_config_destroy(&cfg);

    t_env_t root = { { "CRM_DATA_DIR=/" } };
    cfg = t_config(&root);
    topo = malloc(sizeof *topo);
    cr_assert_eq(crm_topology_load(cfg, topo), 0);
    cr_assert_str_eq(topo->services[CRM_SVC_CONTACTS].store_dir, "/contacts");
    free(topo);
    crm_config_destroy(&cfg);
}

Test(crm_config, a_bind_host_binds_own_tcp_endpoints_on_it)
{
    t_env_t env = { { "CRM_BIND_HOST=*", "CRM_CONTACTS_PUB_ENDPOINT=tcp://contacts:5581" } };
    crm_config_t *cfg = t_config(&env);
    crm_topology_t *topo = malloc(sizeof *topo);
    cr_assert_eq(crm_topology_load(cfg, topo), 0, "%s", crm_config_error(cfg));
    char out[CRM_CONFIG_ENDPOINT_MAX];
    cr_assert_eq(crm_topology_bind_endpoint(topo, topo->services[CRM_SVC_CONTACTS].pub_endpoint, out, sizeof out), 0);
    cr_assert_str_eq(out, "tcp://*:5581", "peers connect to contacts:5581, contacts binds every interface");
    cr_assert_eq(crm_topology_bind_endpoint(topo, "ipc:///run/x", out, sizeof out), 0);
    cr_assert_str_eq(out, "ipc:///run/x", "only TCP endpoints change");
    cr_assert_eq(crm_topology_bind_endpoint(topo, "tcp://a:1", out, 8), CRM_EINVALID, "too small");
    cr_assert_eq(crm_topology_bind_endpoint(topo, "nonsense", out, sizeof out), CRM_EINVALID);
    free(topo);
    crm_config_destroy(&cfg);

    t_env_t none = { { "CRM_CONTACTS_PUB_ENDPOINT=tcp://127.0.0.1:7001" } };
    cfg = t_config(&none);
    topo = malloc(sizeof *topo);
    cr_assert_eq(crm_topology_load(cfg, topo), 0);
    cr_assert_eq(crm_topology_bind_endpoint(topo, topo->services[CRM_SVC_CONTACTS].pub_endpoint, out, sizeof out), 0);
    cr_assert_str_eq(out, "tcp://127.0.0.1:7001", "without a bind host, the endpoint as written");
    free(topo);
    crm_config_destroy(&cfg);

    t_env_t bad = { { "CRM_BIND_HOST=tcp://x" } };
    cfg = t_config(&bad);
    topo = malloc(sizeof *topo);
    cr_assert_eq(crm_topology_load(cfg, topo), CRM_ECONFIG);
    cr_assert(strstr(crm_config_error(cfg), "CRM_BIND_HOST"), "%s", crm_config_error(cfg));
    free(topo);
    crm_config_destroy(&cfg);
}

Test(crm_config, topology_rejects_shared_and_bad_places)
{
    const struct { const char *vars[3]; const char *culprit; const char *other; } cases[] = {
        { { "CRM_LOYALTY_PUB_ENDPOINT=tcp://127.0.0.1:5580" }, "CRM_LOYALTY_PUB_ENDPOINT",
          "CRM_CONTACTS_RPC_ENDPOINT" },
        { { "CRM_INGEST_ENDPOINT=tcp://127.0.0.1:5571" }, "CRM_GATEWAY_PUB_ENDPOINT",
          "CRM_INGEST_ENDPOINT" },
        { { "CRM_HTTP_ADDR=127.0.0.1:9105" }, "CRM_NOTIFIER_HEALTH_ADDR", "CRM_HTTP_ADDR" },
        { { "CRM_FEEDBACK_HEALTH_ADDR=127.0.0.1:5600" }, "CRM_FEEDBACK_HEALTH_ADDR",
          "CRM_FEEDBACK_RPC_ENDPOINT" },
        { { "CRM_CONTACTS_RPC_ENDPOINT=ipc:///tmp/x", "CRM_LOYALTY_REPLAY_ENDPOINT=ipc:///tmp/x" },
          "CRM_LOYALTY_REPLAY_ENDPOINT", "CRM_CONTACTS_RPC_ENDPOINT" },
        { { "CRM_CONTACTS_RPC_ENDPOINT=tcp://LocalHost:7000",
            "CRM_LOYALTY_RPC_ENDPOINT=tcp://localhost:7000" },
          "CRM_LOYALTY_RPC_ENDPOINT", "CRM_CONTACTS_RPC_ENDPOINT" },
        { { "CRM_ANALYTICS_RPC_ENDPOINT=5610" }, "CRM_ANALYTICS_RPC_ENDPOINT", "endpoint" },
        { { "CRM_NOTIFIER_HEALTH_ADDR=9105" }, "CRM_NOTIFIER_HEALTH_ADDR", "host:port" },
        { { "CRM_HTTP_ADDR=nope" }, "CRM_HTTP_ADDR", "host:port" },
        { { "CRM_INGEST_ENDPOINT=tcp://127.0.0.1" }, "CRM_INGEST_ENDPOINT", "endpoint" },
        { { "CRM_LOG_LEVEL=chatty" }, "CRM_LOG_LEVEL", "debug" },
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        t_env_t env = { { cases[k].vars[0], cases[k].vars[1], cases[k].vars[2] } };
        crm_config_t *cfg = t_config(&env);
        crm_topology_t *topo = malloc(sizeof *topo);
        cr_assert_eq(crm_topology_load(cfg, topo), CRM_ECONFIG, "case %zu", k);
        t_assert_error_names(cfg, cases[k].culprit, cases[k].other);
        free(topo);
        crm_config_destroy(&cfg);
    }

    /* A data folder too long for the store folders under it. */
    char *dir = malloc(CRM_CONFIG_PATH_MAX + 32);
    int n = snprintf(dir, CRM_CONFIG_PATH_MAX + 32, "CRM_DATA_DIR=");
    memset(dir + n, 'd', CRM_CONFIG_PATH_MAX - 4);
    dir[n + CRM_CONFIG_PATH_MAX - 4] = '\0';
    t_env_t env = { { dir } };
    crm_config_t *cfg = t_config(&env);
    crm_topology_t *topo = malloc(sizeof *topo);
    cr_assert_eq(crm_topology_load(cfg, topo), CRM_ECONFIG);
    t_assert_error_names(cfg, "CRM_DATA_DIR", "longer than");
    free(topo);
    free(dir);
    crm_config_destroy(&cfg);
}

Test(crm_config, reads_the_real_environment_by_default)
{
    cr_assert_eq(setenv("CRM_TEST_CONFIG_PORT", "12", 1), 0);
    crm_config_t *cfg = NULL;
    cr_assert_eq(crm_config_new(NULL, NULL, &cfg), 0);
    long long v = 0;
    cr_assert_eq(crm_config_int(cfg, "CRM_TEST_CONFIG_PORT", 1, 0, 100, &v), 0);
    cr_assert_eq(v, 12);
    crm_config_destroy(&cfg);
    unsetenv("CRM_TEST_CONFIG_PORT");
}
