/* loyalty_server.c: the loyalty service's wiring on the skeleton: settings, requests, the contacts subscription, the job timer. */
#include "loyalty_server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crm_error.h"
#include "loyalty_handlers.h"
#include "loyalty_rules.h"

struct loyalty_server {
    crm_service_t *svc;
    loyalty_t *ly;
    long long tick_ms;
    int catch_up_timer;        /* a one-shot while jobs remain due; 0 when none */
};

int loyalty_settings_load(crm_config_t *cfg, loyalty_settings_t *s, long long *tick_ms, char *why,
                          size_t why_size)
{
    snprintf(why, why_size, "%s", "");
    loyalty_settings_default(s);
    struct {
        const char *name;
        long long def;
        long long min;
        int64_t *out;
    } const durations[] = {
        { "CRM_LOYALTY_POINTS_VALIDITY", LOYALTY_DEFAULT_VALIDITY_MS, 1000, &s->validity_us },
        { "CRM_LOYALTY_RETURN_WINDOW", LOYALTY_DEFAULT_RETURN_WINDOW_MS, 0, &s->return_window_us },
        { "CRM_LOYALTY_EXPIRY_WARNING", LOYALTY_DEFAULT_WARNING_MS, 0, &s->warning_us },
        { "CRM_LOYALTY_TIER_WINDOW", LOYALTY_DEFAULT_TIER_WINDOW_MS, 1000, &s->tier_window_us },
        { "CRM_LOYALTY_TIER_GRACE", LOYALTY_DEFAULT_TIER_GRACE_MS, 0, &s->tier_grace_us },
        { "CRM_LOYALTY_TIER_REVIEW_INTERVAL", LOYALTY_DEFAULT_REVIEW_INTERVAL_MS, 1000, &s->review_interval_us },
        { "CRM_LOYALTY_CODE_VALIDITY", LOYALTY_DEFAULT_CODE_VALIDITY_MS, 1000, &s->code_validity_us },
    };
    for (size_t i = 0; i < sizeof durations / sizeof durations[0]; i++) {
        long long ms = 0;
        int rc = crm_config_duration_ms(cfg, durations[i].name, durations[i].def, durations[i].min,
                                        LOYALTY_DURATION_MAX_MS, &ms);
        if (rc) {
            snprintf(why, why_size, "%s", crm_config_error(cfg));
            return rc;
        }
        *durations[i].out = ms * 1000;
    }
    char *currency = NULL;
    int rc = crm_config_duration_ms(cfg, "CRM_LOYALTY_TICK", LOYALTY_DEFAULT_TICK_MS, LOYALTY_TICK_MIN_MS,
                                    LOYALTY_TICK_MAX_MS, tick_ms);
    if (rc == 0)
        rc = crm_config_string(cfg, "CRM_LOYALTY_TIER_CURRENCY", LOYALTY_DEFAULT_TIER_CURRENCY, &currency);
    if (rc) {
        snprintf(why, why_size, "%s", crm_config_error(cfg));
        return rc;
    }
    bool ok = loyalty_currency_valid(currency);
    if (ok)
        snprintf(s->tier_currency, sizeof s->tier_currency, "%s", currency);
    else
        snprintf(why, why_size, "CRM_LOYALTY_TIER_CURRENCY=\"%.8s\": expected an ISO 4217 code such as CNY",
                 currency);
    free(currency);
    return ok ? 0 : CRM_ECONFIG;
}

static void s_on_request(crm_service_t *svc, crm_rpc_request_t **req_p, void *arg)
{
    loyalty_server_t *server = arg;
    crm_rpc_request_t *req = *req_p;
    loyalty_caller_t caller = { req->key_id, req->role };
    loyalty_answer_t ans;
    loyalty_handle(server->ly, req->method, &caller, req->body, req->body_len, &ans);
    if (ans.status == CRM_RPC_INTERNAL)
        crm_log_error(crm_service_log(svc), "request failed", "method", req->method, "error", ans.error);
    crm_rpc_reply_t reply = {
        .status = ans.status, .error = ans.error, .field = ans.field, .body = ans.body,
        .body_len = ans.body_len,
    };
    crm_service_reply(svc, req_p, &reply);
    loyalty_answer_clear(&ans);
}

static int s_on_tick(crm_loop_t *loop, void *arg);

static int s_on_catch_up(crm_loop_t *loop, void *arg)
{
    loyalty_server_t *server = arg;
    server->catch_up_timer = 0;
    return s_on_tick(loop, arg);
}

/* Runs the due jobs, a few transactions at a time; comes back at once while some remain. */
static int s_on_tick(crm_loop_t *loop, void *arg)
{
    loyalty_server_t *server = arg;
    bool more = true;
    for (int round = 0; more && round < LOYALTY_TICK_ROUNDS_MAX; round++) {
        int rc = loyalty_tick(server->ly, &more);
        if (rc) {
            crm_log_error(crm_service_log(server->svc), "loyalty jobs failed; retrying", "error", crm_errname(rc));
            return 0;
        }
    }
    if (more && !server->catch_up_timer)
        crm_loop_add_oneshot(loop, 0, s_on_catch_up, server, &server->catch_up_timer);
    return 0;
}

int loyalty_server_new(crm_service_t *svc, loyalty_server_t **server_p)
{
    crm_log_t *log = crm_service_log(svc);
    loyalty_server_t *server = calloc(1, sizeof *server);
    if (!server)
        return CRM_ENOMEM;
    server->svc = svc;
    loyalty_options_t opts = {
        .store = crm_service_store(svc), .outbox = crm_service_outbox(svc), .ids = crm_service_ids(svc),
        .source = crm_service_source(svc),
    };
    char why[CRM_CONFIG_ERROR_MAX];
    int rc = loyalty_settings_load(crm_service_config(svc), &opts.settings, &server->tick_ms, why, sizeof why);
    if (rc) {
        crm_log_error(log, "invalid settings", "error", why);
        goto out;
    }
    rc = loyalty_new(&opts, &server->ly);
    if (rc) {
        crm_log_error(log, "cannot open the loyalty store", "error", crm_errname(rc));
        goto out;
    }
    rc = crm_service_on_request(svc, s_on_request, server);
    if (rc == 0)
        rc = crm_service_subscribe(svc, CRM_SVC_CONTACTS, "crm.contacts.", loyalty_on_event, server->ly);
    if (rc == 0)
        rc = crm_service_subscribe(svc, CRM_SVC_FEEDBACK, "crm.feedback.answer.", loyalty_on_event, server->ly);
    if (rc == 0)
        rc = crm_loop_add_timer(crm_service_loop(svc), (int) server->tick_ms, s_on_tick, server, NULL);
    if (rc == 0)
        rc = crm_loop_add_oneshot(crm_service_loop(svc), 0, s_on_catch_up, server, &server->catch_up_timer);
    if (rc)
        crm_log_error(log, "cannot wire the loyalty service", "error", crm_errname(rc));
out:
    if (rc) {
        loyalty_server_destroy(&server);
        return rc;
    }
    *server_p = server;
    return 0;
}

loyalty_t *loyalty_server_state(loyalty_server_t *server)
{
    return server->ly;
}

void loyalty_server_destroy(loyalty_server_t **server_p)
{
    if (!server_p || !*server_p)
        return;
    loyalty_destroy(&(*server_p)->ly);
    free(*server_p);
    *server_p = NULL;
}
