/* gateway_server.c: wiring of the gateway: the skeleton, settings, keys, stores, RPC dispatchers, HTTP and ZeroMQ ingest. */
#include "gateway_server.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crm_codec.h"
#include "crm_error.h"
#include "crm_service.h"
#include "crm_time.h"
#include "gateway_http.h"
#include "gateway_ingest_zmq.h"

#define S_ERROR_MAX 512
#define S_FIRST_KEY_NAME "first admin key"

struct gateway_server {
    crm_service_t *svc;
    gateway_settings_t settings;
    gateway_ctx_t ctx;
    gateway_keys_t *keys;
    gateway_idem_t *idem;
    gateway_ingest_t *ingest;
    gateway_metrics_t *metrics;
    gateway_rpc_t *rpcs[CRM_SVC_COUNT];
    gateway_ratelimit_t *ratelimit;
    gateway_audit_t *audit;
    gateway_ce_limits_t limits;
    gateway_http_t *http;
    gateway_ingest_zmq_t *zmq;
};

static int
s_write(void *svc, crm_store_write_fn fn, void *arg)
{
    return crm_service_write(svc, fn, arg);
}

/* On first start (no key was ever made): the first admin key, from CRM_ADMIN_KEY or drawn and
 * printed once on stdout. */
static int
s_first_admin_key(gateway_server_t *server)
{
    crm_log_t *log = crm_service_log(server->svc);
    uint64_t total = 0;
    int rc = gateway_keys_count(server->keys, &total, NULL);
    if (rc || total > 0)
        return rc;
    char secret[GATEWAY_KEY_SECRET_SIZE];
    Crm__V1__ApiKey *key = NULL;
    const char *chosen = server->settings.admin_key;
    rc = gateway_keys_create(server->keys, S_FIRST_KEY_NAME, CRM__V1__ROLE__ROLE_ADMIN, "", chosen,
                             true, secret, &key);
    if (rc == CRM_EEXISTS)
        return 0;       /* another start made one meanwhile */
    if (rc) {
        crm_log_error(log, "cannot make the first admin key", "error", crm_errname(rc));
        return rc;
    }
    if (!chosen) {
        printf("CRM_ADMIN_KEY=%s\n", secret);
        fflush(stdout);
    }
    gateway_metrics_key_change(server->metrics, true);
    crm_log_info(log, "first admin key made", "key_id", key->id, "prefix", key->prefix, "from",
                 chosen ? "CRM_ADMIN_KEY" : "drawn at random; printed once on stdout");
    explicit_bzero(secret, sizeof secret);
    crm_codec_message_free((ProtobufCMessage **) &key);
    return 0;
}

static int
s_start_rpcs(gateway_server_t *server)
{
    const crm_topology_t *topo = crm_service_topology(server->svc);
    for (size_t i = 0; i < gateway_routes_count; i++) {
        const gateway_route_t *route = &gateway_routes[i];
        if (route->local != GATEWAY_LOCAL_NONE || server->rpcs[route->service])
            continue;
        const char *endpoint = topo->services[route->service].rpc_endpoint;
        int rc = gateway_rpc_new(crm_service_zmq(server->svc), endpoint, &server->rpcs[route->service]);
        if (rc) {
            crm_log_error(crm_service_log(server->svc), "cannot connect to a service", "service",
                          crm_service_name(route->service), "endpoint", endpoint,
                          "error", crm_errname(rc));
            return rc;
        }
    }
    return 0;
}

static void
s_on_zmq_batch(const gateway_ingest_batch_t *batch, void *arg)
{
    gateway_server_t *server = arg;
    size_t accepted = 0, duplicate = 0, rejected = 0;
    gateway_ingest_batch_tally(batch, &accepted, &duplicate, &rejected);
    gateway_metrics_ingest(server->metrics, GATEWAY_TRANSPORT_ZMQ, accepted, duplicate, rejected);
}

static int
s_on_purge(crm_loop_t *loop, void *arg)
{
    (void) loop;
    gateway_server_t *server = arg;
    size_t purged = 0;
    int rc = gateway_idem_purge(server->idem, crm_time_now_us(), &purged);
    if (rc)
        crm_log_warn(crm_service_log(server->svc), "purging idempotency records failed", "error",
                     crm_errname(rc));
    return 0;
}

int
gateway_server_new(gateway_server_t **server_p)
{
    assert(server_p);
    *server_p = NULL;
    gateway_server_t *server = calloc(1, sizeof *server);
    if (!server)
        return CRM_ENOMEM;
    int rc = crm_service_new(CRM_SVC_GATEWAY, &server->svc);
    if (rc) {
        free(server);
        return rc;
    }
    crm_log_t *log = crm_service_log(server->svc);
    const crm_topology_t *topo = crm_service_topology(server->svc);
    char error[S_ERROR_MAX];
    rc = gateway_settings_load(crm_service_config(server->svc), &server->settings, error, sizeof error);
    if (rc) {
        crm_log_error(log, "invalid settings", "error", error);
        goto out;
    }
    server->ctx = (gateway_ctx_t) {
        .store = crm_service_store(server->svc),
        .outbox = crm_service_outbox(server->svc),
        .ids = crm_service_ids(server->svc),
        .source = crm_service_source(server->svc),
        .write = s_write,
        .write_arg = server->svc,
    };
    server->limits = (gateway_ce_limits_t) { .max_batch = server->settings.max_batch,
                                             .max_string = server->settings.max_string };
    rc = gateway_metrics_new(crm_service_metrics(server->svc), &server->metrics);
    if (rc == 0)
        rc = gateway_keys_new(&server->ctx, &server->keys);
    if (rc == 0)
        rc = gateway_idem_new(&server->ctx, server->settings.idem_ttl_ms * 1000,
                              (int64_t) server->settings.rpc_timeout_ms * 2000 + 1000000,
                              &server->idem);
    if (rc == 0)
        rc = gateway_ingest_new(&server->ctx, &server->ingest);
    if (rc) {
        crm_log_error(log, "cannot open the gateway's stores", "error", crm_errname(rc));
        goto out;
    }
    rc = s_first_admin_key(server);
    if (rc == 0)
        rc = s_start_rpcs(server);
    if (rc == 0)
        rc = gateway_audit_new(&server->ctx, &server->audit);
    if (rc == 0 && server->settings.rate_limit)
        rc = gateway_ratelimit_new(server->settings.rate_limit, server->settings.rate_burst, &server->ratelimit);
    if (rc)
        goto out;
    gateway_env_t env = {
        .settings = &server->settings,
        .keys = server->keys,
        .idem = server->idem,
        .ingest = server->ingest,
        .metrics = server->metrics,
        .registry = crm_service_metrics(server->svc),
        .log = log,
        .ratelimit = server->ratelimit,
        .audit = server->audit,
    };
    memcpy(env.rpcs, server->rpcs, sizeof env.rpcs);
    rc = gateway_http_start(topo->http_addr, &env, &server->http);
    if (rc) {
        crm_log_error(log, "cannot serve HTTP", "addr", topo->http_addr, "error", crm_errname(rc));
        goto out;
    }
    rc = gateway_ingest_zmq_new(crm_service_zmq(server->svc), topo->ingest_endpoint,
                                server->settings.max_body, server->ingest, &server->limits,
                                s_on_zmq_batch, server, &server->zmq);
    if (rc) {
        crm_log_error(log, "cannot bind the ingest socket", "endpoint", topo->ingest_endpoint,
                      "error", crm_errname(rc));
        goto out;
    }
    rc = crm_loop_add_timer(crm_service_loop(server->svc), (int) server->settings.idem_purge_ms,
                            s_on_purge, server, NULL);
    if (rc)
        goto out;
    char port[16], threads[16];
    snprintf(port, sizeof port, "%u", (unsigned) gateway_http_port(server->http));
    snprintf(threads, sizeof threads, "%u", server->settings.http_threads);
    crm_log_info(log, "serving HTTP", "addr", topo->http_addr, "port", port, "threads", threads,
                 "ingest", gateway_ingest_zmq_endpoint(server->zmq));
out:
    if (rc) {
        gateway_server_destroy(&server);
        return rc;
    }
    *server_p = server;
    return 0;
}

int
gateway_server_run(gateway_server_t *server)
{
    assert(server);
    return crm_service_run(server->svc, NULL, NULL);
}

uint16_t
gateway_server_http_port(const gateway_server_t *server)
{
    assert(server && server->http);
    return gateway_http_port(server->http);
}

const char *
gateway_server_ingest_endpoint(const gateway_server_t *server)
{
    assert(server && server->zmq);
    return gateway_ingest_zmq_endpoint(server->zmq);
}

void
gateway_server_destroy(gateway_server_t **server_p)
{
    if (!server_p || !*server_p)
        return;
    gateway_server_t *server = *server_p;
    gateway_ingest_zmq_destroy(&server->zmq);
    if (server->http)
        gateway_http_quiesce(server->http);
    /* The committer and the dispatchers hand back every call (resuming its connection) before
     * they stop, so no connection is suspended when the HTTP server stops. */
    if (server->ingest)
        gateway_ingest_stop(server->ingest);
    for (size_t i = 0; i < CRM_SVC_COUNT; i++)
        if (server->rpcs[i])
            gateway_rpc_stop(server->rpcs[i]);
    gateway_http_stop(&server->http);
    gateway_ingest_destroy(&server->ingest);
    for (size_t i = 0; i < CRM_SVC_COUNT; i++)
        gateway_rpc_destroy(&server->rpcs[i]);
    gateway_ratelimit_destroy(&server->ratelimit);
    gateway_audit_destroy(&server->audit);
    gateway_idem_destroy(&server->idem);
    gateway_keys_destroy(&server->keys);
    gateway_metrics_destroy(&server->metrics);
    gateway_settings_clear(&server->settings);
    crm_service_destroy(&server->svc);
    free(server);
    *server_p = NULL;
}
