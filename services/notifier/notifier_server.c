/* notifier_server.c: the notifier's wiring on the skeleton: settings, requests, subscriptions, the job timer, the sender threads. */
#include "notifier_server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "crm_error.h"
#include "notifier_events.h"
#include "notifier_handlers.h"
#include "notifier_sender.h"

struct notifier_server {
    crm_service_t *svc;
    notifier_t *nt;
    notifier_sender_t *sender;
    long long tick_ms;
    int catch_up_timer;        /* a one-shot while jobs remain due; 0 when none */
    bool curl_ready;
};

/* The publishers whose events the rules may name. */
static const struct {
    crm_service_id_t publisher;
    const char *prefix;
} s_subscriptions[] = {
    { CRM_SVC_CONTACTS, "crm.contacts." },
    { CRM_SVC_LOYALTY, "crm.loyalty." },
    { CRM_SVC_FEEDBACK, "crm.feedback." },
    { CRM_SVC_ANALYTICS, "crm.analytics." },
    { CRM_SVC_GATEWAY, "crm.audit." },
};

static void s_on_request(crm_service_t *svc, crm_rpc_request_t **req_p, void *arg)
{
    notifier_server_t *server = arg;
    crm_rpc_request_t *req = *req_p;
    notifier_caller_t caller = { req->key_id, req->role };
    notifier_answer_t ans;
    notifier_handle(server->nt, req->method, &caller, req->body, req->body_len, &ans);
    if (ans.status == CRM_RPC_INTERNAL)
        crm_log_error(crm_service_log(svc), "request failed", "method", req->method, "error", ans.error);
    crm_rpc_reply_t reply = {
        .status = ans.status, .error = ans.error, .field = ans.field, .body = ans.body, .body_len = ans.body_len,
    };
    crm_service_reply(svc, req_p, &reply);
    notifier_answer_clear(&ans);
}

static int s_on_tick(crm_loop_t *loop, void *arg);

static int s_on_catch_up(crm_loop_t *loop, void *arg)
{
    notifier_server_t *server = arg;
    server->catch_up_timer = 0;
    return s_on_tick(loop, arg);
}

/* Runs the due jobs, a few transactions at a time; comes back at once while some remain. */
static int s_on_tick(crm_loop_t *loop, void *arg)
{
    notifier_server_t *server = arg;
    bool more = true;
    for (int round = 0; more && round < NOTIFIER_TICK_ROUNDS_MAX; round++) {
        int rc = notifier_tick(server->nt, &more);
        if (rc) {
            crm_log_error(crm_service_log(server->svc), "notifier jobs failed; retrying", "error", crm_errname(rc));
            return 0;
        }
    }
    if (more && !server->catch_up_timer)
        crm_loop_add_oneshot(loop, 0, s_on_catch_up, server, &server->catch_up_timer);
    return 0;
}

int notifier_server_new(crm_service_t *svc, notifier_server_t **server_p)
{
    crm_log_t *log = crm_service_log(svc);
    notifier_server_t *server = calloc(1, sizeof *server);
    if (!server)
        return CRM_ENOMEM;
    server->svc = svc;
    notifier_options_t opts = {
        .store = crm_service_store(svc), .outbox = crm_service_outbox(svc), .ids = crm_service_ids(svc),
        .log = log, .metrics = crm_service_metrics(svc), .source = crm_service_source(svc),
    };
    char why[CRM_CONFIG_ERROR_MAX];
    int rc = notifier_settings_load(crm_service_config(svc), &opts.settings, &server->tick_ms, why, sizeof why);
    if (rc) {
        crm_log_error(log, "invalid settings", "error", why);
        goto out;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        crm_log_error(log, "libcurl did not start");
        rc = CRM_EIO;
        goto out;
    }
    server->curl_ready = true;
    rc = notifier_new(&opts, &server->nt);
    if (rc) {
        crm_log_error(log, "cannot open the notifier store", "error", crm_errname(rc));
        goto out;
    }
    rc = crm_service_on_request(svc, s_on_request, server);
    for (size_t i = 0; rc == 0 && i < sizeof s_subscriptions / sizeof s_subscriptions[0]; i++)
        rc = crm_service_subscribe(svc, s_subscriptions[i].publisher, s_subscriptions[i].prefix, notifier_on_event,
                                   server->nt);
    if (rc == 0)
        rc = crm_loop_add_timer(crm_service_loop(svc), (int) server->tick_ms, s_on_tick, server, NULL);
    if (rc == 0)
        rc = crm_loop_add_oneshot(crm_service_loop(svc), 0, s_on_catch_up, server, &server->catch_up_timer);
    if (rc == 0)
        rc = notifier_sender_start(server->nt, &server->sender);
    if (rc)
        crm_log_error(log, "cannot wire the notifier service", "error", crm_errname(rc));
    else if (!opts.settings.smtp_url[0])
        crm_log_warn(log, "email is not configured: set CRM_NOTIFIER_SMTP_URL (email messages are dead-lettered)");
out:
    if (rc) {
        notifier_server_destroy(&server);
        return rc;
    }
    *server_p = server;
    return 0;
}

notifier_t *notifier_server_state(notifier_server_t *server)
{
    return server->nt;
}

void notifier_server_destroy(notifier_server_t **server_p)
{
    if (!server_p || !*server_p)
        return;
    notifier_server_t *server = *server_p;
    notifier_sender_stop(&server->sender);
    notifier_destroy(&server->nt);
    if (server->curl_ready)
        curl_global_cleanup();
    free(server);
    *server_p = NULL;
}
