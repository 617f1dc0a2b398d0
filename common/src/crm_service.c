/* crm_service.c: the service skeleton: wiring of settings, store, outbox, sockets and the loop. */
#include "crm_service.h"

#include <assert.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "crm_bus.h"
#include "crm_error.h"
#include "crm_health.h"

#define SOURCE_MAX 64
#define METHOD_MAX 96

typedef struct {
    crm_subscriber_t *sub;
    crm_service_t *svc;
    char publisher[32];
} s_subscription_t;

struct crm_service {
    crm_service_id_t id;
    crm_config_t *config;
    crm_topology_t topology;
    crm_log_t *log;
    crm_metrics_t *metrics;
    crm_loop_t *loop;
    void *zmq;
    crm_store_t *store;
    crm_outbox_t *outbox;
    crm_id_gen_t *ids;
    crm_bus_pub_t *pub;
    crm_bus_replay_server_t *replay;
    crm_rpc_server_t *rpc;
    crm_health_t *health;
    crm_service_request_fn on_request;
    void *on_request_arg;
    s_subscription_t subscriptions[CRM_SERVICE_MAX_SUBSCRIPTIONS];
    size_t subscription_count;
    char source[SOURCE_MAX];
    char ping_method[METHOD_MAX];
    crm_metrics_counter_t *published;
    crm_metrics_counter_t *requests;
    crm_metrics_gauge_t *outbox_head;
};

static const char *s_errname(int rc)
{
    return crm_errname(rc);
}

int crm_service_new(crm_service_id_t id, crm_service_t **svc_p)
{
    assert(id < CRM_SVC_COUNT && svc_p);
    crm_service_t *svc = calloc(1, sizeof *svc);
    if (!svc)
        return CRM_ENOMEM;
    svc->id = id;
    const char *name = crm_service_name(id);
    snprintf(svc->source, sizeof svc->source, "/crm/%s", name);
    snprintf(svc->ping_method, sizeof svc->ping_method, "%s.%s", name, CRM_SERVICE_PING_METHOD);
    /* Signals first: threads made later (ZeroMQ's, the health server's) inherit the mask. */
    signal(SIGPIPE, SIG_IGN);
    int rc = crm_loop_new(&svc->loop);
    if (rc == 0)
        rc = crm_loop_watch_signals(svc->loop);
    if (rc == 0)
        rc = crm_config_new(NULL, NULL, &svc->config);
    if (rc == 0)
        rc = crm_log_new(name, 2, CRM_LOG_INFO, &svc->log);
    if (rc)
        goto out;
    rc = crm_topology_load(svc->config, &svc->topology);
    if (rc) {
        crm_log_error(svc->log, "invalid settings", "error", crm_config_error(svc->config));
        goto out;
    }
    crm_log_set_level(svc->log, svc->topology.log_level);
    const crm_service_config_t *self = &svc->topology.services[id];
    rc = crm_metrics_new(&svc->metrics);
    if (rc == 0)
        rc = crm_id_gen_new(&svc->ids);
    if (rc == 0) {
        rc = crm_store_open(self->store_dir, NULL, &svc->store);
        if (rc)
            crm_log_error(svc->log, "cannot open the store", "path", self->store_dir, "error", s_errname(rc));
    }
    if (rc == 0)
        rc = crm_outbox_new(svc->store, &svc->outbox);
    svc->zmq = zmq_ctx_new();
    if (!svc->zmq && rc == 0)
        rc = CRM_EBUS;
    char bind[CRM_CONFIG_ENDPOINT_MAX];
    if (rc == 0 && self->pub_endpoint[0]) {
        rc = crm_topology_bind_endpoint(&svc->topology, self->pub_endpoint, bind, sizeof bind);
        if (rc == 0)
            rc = crm_bus_pub_new(svc->zmq, bind, &svc->pub);
        if (rc)
            crm_log_error(svc->log, "cannot bind the event publisher", "endpoint", self->pub_endpoint,
                          "error", s_errname(rc));
    }
    if (rc == 0 && self->replay_endpoint[0]) {
        rc = crm_topology_bind_endpoint(&svc->topology, self->replay_endpoint, bind, sizeof bind);
        if (rc == 0)
            rc = crm_bus_replay_server_new(svc->zmq, bind, &svc->replay);
        if (rc)
            crm_log_error(svc->log, "cannot bind the replay endpoint", "endpoint", self->replay_endpoint,
                          "error", s_errname(rc));
    }
    if (rc == 0 && self->rpc_endpoint[0]) {
        rc = crm_topology_bind_endpoint(&svc->topology, self->rpc_endpoint, bind, sizeof bind);
        if (rc == 0)
            rc = crm_rpc_server_new(svc->zmq, bind, &svc->rpc);
        if (rc)
            crm_log_error(svc->log, "cannot bind the request endpoint", "endpoint", self->rpc_endpoint,
                          "error", s_errname(rc));
    }
    if (rc == 0)
        rc = crm_metrics_counter(svc->metrics, "crm_events_published_total",
                                 "Events published live from the outbox.", NULL, &svc->published);
    if (rc == 0)
        rc = crm_metrics_counter(svc->metrics, "crm_requests_total", "Requests handled.", NULL,
                                 &svc->requests);
    if (rc == 0)
        rc = crm_metrics_gauge(svc->metrics, "crm_outbox_head", "Sequence of the last committed event.",
                               NULL, &svc->outbox_head);
out:
    if (rc) {
        if (svc->log)
            crm_log_error(svc->log, "start failed", "error", s_errname(rc));
        else
            fprintf(stderr, "%s: start failed: %s\n", name, crm_strerror(rc));
        crm_service_destroy(&svc);
        return rc;
    }
    *svc_p = svc;
    return 0;
}

void crm_service_destroy(crm_service_t **svc_p)
{
    if (!svc_p || !*svc_p)
        return;
    crm_service_t *svc = *svc_p;
    crm_health_stop(&svc->health);
    for (size_t i = 0; i < svc->subscription_count; i++)
        crm_subscriber_destroy(&svc->subscriptions[i].sub);
    crm_rpc_server_destroy(&svc->rpc);
    crm_bus_replay_server_destroy(&svc->replay);
    crm_bus_pub_destroy(&svc->pub);
    if (svc->zmq)
        zmq_ctx_term(svc->zmq);
    crm_outbox_destroy(&svc->outbox);
    crm_store_destroy(&svc->store);
    crm_id_gen_destroy(&svc->ids);
    crm_metrics_destroy(&svc->metrics);
    crm_log_destroy(&svc->log);
    crm_config_destroy(&svc->config);
    crm_loop_destroy(&svc->loop);
    free(svc);
    *svc_p = NULL;
}

crm_log_t *crm_service_log(crm_service_t *svc) { return svc->log; }
crm_store_t *crm_service_store(crm_service_t *svc) { return svc->store; }
crm_outbox_t *crm_service_outbox(crm_service_t *svc) { return svc->outbox; }
crm_metrics_t *crm_service_metrics(crm_service_t *svc) { return svc->metrics; }
crm_loop_t *crm_service_loop(crm_service_t *svc) { return svc->loop; }
crm_config_t *crm_service_config(crm_service_t *svc) { return svc->config; }
crm_id_gen_t *crm_service_ids(crm_service_t *svc) { return svc->ids; }
const crm_topology_t *crm_service_topology(crm_service_t *svc) { return &svc->topology; }
void *crm_service_zmq(crm_service_t *svc) { return svc->zmq; }
const char *crm_service_source(crm_service_t *svc) { return svc->source; }

int crm_service_on_request(crm_service_t *svc, crm_service_request_fn fn, void *arg)
{
    if (!svc->rpc)
        return CRM_EINVALID;
    svc->on_request = fn;
    svc->on_request_arg = arg;
    return 0;
}

int crm_service_reply(crm_service_t *svc, crm_rpc_request_t **req_p, const crm_rpc_reply_t *reply)
{
    int rc = crm_rpc_server_reply(svc->rpc, req_p, reply);
    if (rc && rc != CRM_ETOOBIG)
        crm_log_warn(svc->log, "reply not sent", "error", s_errname(rc));
    return rc;
}

int crm_service_subscribe(crm_service_t *svc, crm_service_id_t publisher, const char *prefix,
                          crm_subscriber_apply_fn apply, void *arg)
{
    assert(publisher < CRM_SVC_COUNT);
    if (svc->subscription_count == CRM_SERVICE_MAX_SUBSCRIPTIONS)
        return CRM_ELIMIT;
    const crm_service_config_t *from = &svc->topology.services[publisher];
    s_subscription_t *s = &svc->subscriptions[svc->subscription_count];
    snprintf(s->publisher, sizeof s->publisher, "%s", crm_service_name(publisher));
    s->svc = svc;
    int rc = crm_subscriber_new(svc->zmq, svc->store, s->publisher, from->pub_endpoint,
                                from->replay_endpoint, apply, arg, &s->sub);
    if (rc == 0 && prefix)
        rc = crm_subscriber_add_prefix(s->sub, prefix);
    if (rc) {
        crm_subscriber_destroy(&s->sub);
        return rc;
    }
    svc->subscription_count++;
    return 0;
}

int crm_service_write(crm_service_t *svc, crm_store_write_fn fn, void *arg)
{
    int rc = crm_store_write(svc->store, fn, arg);
    if (rc == 0)
        crm_outbox_notify(svc->outbox);
    return rc;
}

/* --- Loop handlers. A handler returns a negative code only to stop the service. */

static int s_on_request(crm_loop_t *loop, void *arg)
{
    crm_service_t *svc = arg;
    for (;;) {
        crm_rpc_request_t *req = NULL;
        int rc = crm_rpc_server_recv(svc->rpc, &req);
        if (rc == CRM_ENOTFOUND)
            return 0;
        if (rc == CRM_ENOMEM)
            continue;
        if (rc)
            return rc;
        crm_metrics_counter_inc(svc->requests);
        if (strcmp(req->method, svc->ping_method) == 0) {
            crm_rpc_reply_t pong = { .status = CRM_RPC_OK };
            crm_service_reply(svc, &req, &pong);
        } else if (svc->on_request) {
            svc->on_request(svc, &req, svc->on_request_arg);
        } else {
            crm_rpc_reply_t unknown = { .status = CRM_RPC_UNKNOWN_METHOD, .error = "unknown method" };
            crm_service_reply(svc, &req, &unknown);
        }
        if (req) {
            crm_rpc_reply_t internal = { .status = CRM_RPC_INTERNAL, .error = "the request was not answered" };
            crm_service_reply(svc, &req, &internal);
        }
    }
}

static int s_publish(crm_service_t *svc)
{
    size_t published = 0;
    int rc = svc->pub ? crm_outbox_publish(svc->outbox, svc->pub, &published) : 0;
    if (rc)
        crm_log_error(svc->log, "publishing failed", "error", s_errname(rc));
    crm_metrics_counter_add(svc->published, published);
    return 0;   /* subscribers recover anything unpublished by replay */
}

static int s_on_outbox(crm_loop_t *loop, void *arg)
{
    return s_publish(arg);
}

static int s_on_replay(crm_loop_t *loop, void *arg)
{
    crm_service_t *svc = arg;
    int rc = crm_outbox_serve_replay(svc->outbox, svc->replay);
    if (rc)
        crm_log_error(svc->log, "replay failed", "error", s_errname(rc));
    return 0;
}

static int s_on_heartbeat(crm_loop_t *loop, void *arg)
{
    crm_service_t *svc = arg;
    uint64_t head = 0;
    int rc = crm_outbox_head(svc->outbox, &head);
    if (rc == 0) {
        crm_metrics_gauge_set(svc->outbox_head, (double) head);
        if (svc->pub)
            crm_bus_pub_heartbeat(svc->pub, head);
    }
    return 0;
}

static int s_on_events(crm_loop_t *loop, void *arg)
{
    s_subscription_t *s = arg;
    int rc = crm_subscriber_process(s->sub);
    /* Applying may have appended events to this service's outbox: publish them now. */
    crm_outbox_notify(s->svc->outbox);
    if (rc)
        crm_log_warn(s->svc->log, "applying events failed; retrying", "publisher", s->publisher,
                     "error", s_errname(rc));
    return 0;
}

static int s_on_tick(crm_loop_t *loop, void *arg)
{
    crm_service_t *svc = arg;
    for (size_t i = 0; i < svc->subscription_count; i++) {
        int rc = crm_subscriber_tick(svc->subscriptions[i].sub);
        crm_outbox_notify(svc->outbox);
        if (rc)
            crm_log_warn(svc->log, "catching up failed; retrying", "publisher",
                         svc->subscriptions[i].publisher, "error", s_errname(rc));
    }
    return 0;
}

static int s_on_reader_check(crm_loop_t *loop, void *arg)
{
    crm_service_t *svc = arg;
    int cleared = 0;
    if (crm_store_reader_check(svc->store, &cleared) == 0 && cleared > 0) {
        char n[16];
        snprintf(n, sizeof n, "%d", cleared);
        crm_log_info(svc->log, "cleared stale store readers", "count", n);
    }
    return 0;
}

static bool s_ready_always(void *arg, char *reason, size_t reason_size)
{
    return true;
}

int crm_service_run(crm_service_t *svc, crm_health_ready_fn ready, void *ready_arg)
{
    const crm_service_config_t *self = &svc->topology.services[svc->id];
    int rc = 0;
    if (self->health_addr[0]) {
        rc = crm_health_start(self->health_addr, svc->metrics, ready ? ready : s_ready_always,
                              ready_arg, &svc->health);
        if (rc) {
            crm_log_error(svc->log, "cannot start the health endpoint", "addr", self->health_addr,
                          "error", s_errname(rc));
            return rc;
        }
    }
    int timer = 0;
    rc = crm_loop_add_fd(svc->loop, crm_outbox_fd(svc->outbox), s_on_outbox, svc);
    if (rc == 0 && svc->replay)
        rc = crm_loop_add_socket(svc->loop, crm_bus_replay_server_socket(svc->replay), s_on_replay, svc);
    if (rc == 0 && svc->rpc)
        rc = crm_loop_add_socket(svc->loop, crm_rpc_server_socket(svc->rpc), s_on_request, svc);
    for (size_t i = 0; rc == 0 && i < svc->subscription_count; i++)
        rc = crm_loop_add_socket(svc->loop, crm_subscriber_socket(svc->subscriptions[i].sub),
                                 s_on_events, &svc->subscriptions[i]);
    if (rc == 0)
        rc = crm_loop_add_timer(svc->loop, CRM_BUS_HEARTBEAT_MS, s_on_heartbeat, svc, &timer);
    if (rc == 0 && svc->subscription_count)
        rc = crm_loop_add_timer(svc->loop, CRM_SERVICE_TICK_MS, s_on_tick, svc, &timer);
    if (rc == 0)
        rc = crm_loop_add_timer(svc->loop, CRM_SERVICE_READER_CHECK_MS, s_on_reader_check, svc, &timer);
    if (rc) {
        crm_log_error(svc->log, "cannot set up the loop", "error", s_errname(rc));
        return rc;
    }
    s_on_heartbeat(svc->loop, svc);
    s_on_tick(svc->loop, svc);
    crm_log_info(svc->log, "started", "rpc", self->rpc_endpoint, "pub", self->pub_endpoint,
                 "health", self->health_addr, "store", self->store_dir);
    rc = crm_loop_run(svc->loop);
    /* Publish what committed last, so live subscribers need no replay for it. */
    s_publish(svc);
    int sig = crm_loop_signal(svc->loop);
    char sig_text[16];
    snprintf(sig_text, sizeof sig_text, "%d", sig);
    if (rc)
        crm_log_error(svc->log, "stopped on error", "error", s_errname(rc));
    else
        crm_log_info(svc->log, "stopped", "signal", sig_text);
    return rc;
}
