/* feedback_server.c: the feedback service's wiring on the skeleton: settings, requests, the contacts subscription, the timer job. */
#include "feedback_server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crm_error.h"
#include "feedback_handlers.h"
#include "feedback_survey.h"

struct feedback_server {
    crm_service_t *svc;
    feedback_t *fb;
    long long tick_ms;
    int catch_up_timer;        /* a one-shot while timers remain due; 0 when none */
};

static int s_config_fail(crm_config_t *cfg, char *why, size_t why_size, int rc)
{
    snprintf(why, why_size, "%s", crm_config_error(cfg));
    return rc;
}

/* The string settings, copied into fixed buffers. */
static int s_strings(crm_config_t *cfg, feedback_settings_t *s, char *why, size_t why_size)
{
    char *url = NULL, *locale = NULL, *hours = NULL, *offset = NULL, *leads = NULL;
    int rc = crm_config_string(cfg, "CRM_FEEDBACK_ANSWER_URL_BASE", FEEDBACK_DEFAULT_ANSWER_URL_BASE, &url);
    if (rc == 0)
        rc = crm_config_string(cfg, "CRM_FEEDBACK_DEFAULT_LOCALE", FEEDBACK_DEFAULT_LOCALE, &locale);
    if (rc == 0)
        rc = crm_config_string(cfg, "CRM_FEEDBACK_BUSINESS_HOURS", FEEDBACK_DEFAULT_BUSINESS_HOURS, &hours);
    if (rc == 0)
        rc = crm_config_string(cfg, "CRM_FEEDBACK_UTC_OFFSET", FEEDBACK_DEFAULT_UTC_OFFSET, &offset);
    if (rc == 0)
        rc = crm_config_string(cfg, "CRM_FEEDBACK_TEAM_LEADS", "", &leads);
    if (rc) {
        s_config_fail(cfg, why, why_size, rc);
        goto out;
    }
    char reason[FEEDBACK_ERROR_MAX];
    rc = CRM_ECONFIG;
    if (strlen(url) >= sizeof s->answer_url_base)
        snprintf(why, why_size, "CRM_FEEDBACK_ANSWER_URL_BASE: at most %zu bytes", sizeof s->answer_url_base - 1);
    else if (!feedback_locale_valid(locale))
        snprintf(why, why_size, "CRM_FEEDBACK_DEFAULT_LOCALE=\"%.40s\": expected a locale such as en or zh-CN", locale);
    else if (strlen(leads) >= sizeof s->team_leads)
        snprintf(why, why_size, "CRM_FEEDBACK_TEAM_LEADS: at most %zu bytes", sizeof s->team_leads - 1);
    else if (feedback_hours_parse(hours, "", &s->hours, reason, sizeof reason))
        snprintf(why, why_size, "CRM_FEEDBACK_BUSINESS_HOURS=\"%.64s\": %s", hours, reason);
    else if (feedback_hours_parse(hours, offset, &s->hours, reason, sizeof reason))
        snprintf(why, why_size, "CRM_FEEDBACK_UTC_OFFSET: %s", reason);
    else
        rc = 0;
    if (rc == 0) {
        snprintf(s->answer_url_base, sizeof s->answer_url_base, "%s", url);
        snprintf(s->default_locale, sizeof s->default_locale, "%s", locale);
        snprintf(s->team_leads, sizeof s->team_leads, "%s", leads);
    }
out:
    free(url);
    free(locale);
    free(hours);
    free(offset);
    free(leads);
    return rc;
}

int feedback_settings_load(crm_config_t *cfg, feedback_settings_t *s, long long *tick_ms, char *why, size_t why_size)
{
    snprintf(why, why_size, "%s", "");
    feedback_settings_default(s);
    struct {
        const char *name;
        long long def;
        long long min;
        int64_t *out;
    } const durations[] = {
        { "CRM_FEEDBACK_INVITE_DELAY", FEEDBACK_DEFAULT_INVITE_DELAY_MS, 0, &s->invite_delay_us },
        { "CRM_FEEDBACK_RESOLVED_INVITE_DELAY", FEEDBACK_DEFAULT_RESOLVED_INVITE_DELAY_MS, 0, &s->resolved_invite_delay_us },
        { "CRM_FEEDBACK_INVITE_VALIDITY", FEEDBACK_DEFAULT_INVITE_VALIDITY_MS, 1000, &s->invite_validity_us },
        { "CRM_FEEDBACK_INVITE_COOLDOWN", FEEDBACK_DEFAULT_INVITE_COOLDOWN_MS, 0, &s->invite_cooldown_us },
        { "CRM_FEEDBACK_ESCALATE_ADMINS_AFTER", FEEDBACK_DEFAULT_ESCALATE_ADMINS_MS, FEEDBACK_SLA_MIN_MS, &s->escalate_admins_us },
        { "CRM_FEEDBACK_REOPEN_WINDOW", FEEDBACK_DEFAULT_REOPEN_WINDOW_MS, 0, &s->reopen_window_us },
        { "CRM_FEEDBACK_SLA_LOW_FIRST_RESPONSE", FEEDBACK_DEFAULT_SLA_LOW_FIRST_MS, FEEDBACK_SLA_MIN_MS,
          &s->sla_first_response_us[CRM__V1__PRIORITY__PRIORITY_LOW] },
        { "CRM_FEEDBACK_SLA_LOW_RESOLUTION", FEEDBACK_DEFAULT_SLA_LOW_RESOLVE_MS, FEEDBACK_SLA_MIN_MS,
          &s->sla_resolution_us[CRM__V1__PRIORITY__PRIORITY_LOW] },
        { "CRM_FEEDBACK_SLA_NORMAL_FIRST_RESPONSE", FEEDBACK_DEFAULT_SLA_NORMAL_FIRST_MS, FEEDBACK_SLA_MIN_MS,
          &s->sla_first_response_us[CRM__V1__PRIORITY__PRIORITY_NORMAL] },
        { "CRM_FEEDBACK_SLA_NORMAL_RESOLUTION", FEEDBACK_DEFAULT_SLA_NORMAL_RESOLVE_MS, FEEDBACK_SLA_MIN_MS,
          &s->sla_resolution_us[CRM__V1__PRIORITY__PRIORITY_NORMAL] },
        { "CRM_FEEDBACK_SLA_HIGH_FIRST_RESPONSE", FEEDBACK_DEFAULT_SLA_HIGH_FIRST_MS, FEEDBACK_SLA_MIN_MS,
          &s->sla_first_response_us[CRM__V1__PRIORITY__PRIORITY_HIGH] },
        { "CRM_FEEDBACK_SLA_HIGH_RESOLUTION", FEEDBACK_DEFAULT_SLA_HIGH_RESOLVE_MS, FEEDBACK_SLA_MIN_MS,
          &s->sla_resolution_us[CRM__V1__PRIORITY__PRIORITY_HIGH] },
        { "CRM_FEEDBACK_SLA_URGENT_FIRST_RESPONSE", FEEDBACK_DEFAULT_SLA_URGENT_FIRST_MS, FEEDBACK_SLA_MIN_MS,
          &s->sla_first_response_us[CRM__V1__PRIORITY__PRIORITY_URGENT] },
        { "CRM_FEEDBACK_SLA_URGENT_RESOLUTION", FEEDBACK_DEFAULT_SLA_URGENT_RESOLVE_MS, FEEDBACK_SLA_MIN_MS,
          &s->sla_resolution_us[CRM__V1__PRIORITY__PRIORITY_URGENT] },
    };
    for (size_t i = 0; i < sizeof durations / sizeof durations[0]; i++) {
        long long ms = 0;
        int rc = crm_config_duration_ms(cfg, durations[i].name, durations[i].def, durations[i].min,
                                        FEEDBACK_DURATION_MAX_MS, &ms);
        if (rc)
            return s_config_fail(cfg, why, why_size, rc);
        *durations[i].out = ms * 1000;
    }
    /* Unspecified priority counts as normal. */
    s->sla_first_response_us[0] = s->sla_first_response_us[CRM__V1__PRIORITY__PRIORITY_NORMAL];
    s->sla_resolution_us[0] = s->sla_resolution_us[CRM__V1__PRIORITY__PRIORITY_NORMAL];
    long long sentiment = 0;
    int rc = crm_config_duration_ms(cfg, "CRM_FEEDBACK_TICK", FEEDBACK_DEFAULT_TICK_MS, FEEDBACK_TICK_MIN_MS,
                                    FEEDBACK_TICK_MAX_MS, tick_ms);
    if (rc == 0)
        rc = crm_config_bool(cfg, "CRM_FEEDBACK_AUTO_COMPLAINT", FEEDBACK_DEFAULT_AUTO_COMPLAINT, &s->auto_complaint);
    if (rc == 0)
        rc = crm_config_int(cfg, "CRM_FEEDBACK_AUTO_COMPLAINT_SENTIMENT", FEEDBACK_DEFAULT_AUTO_COMPLAINT_SENTIMENT,
                            FEEDBACK_SENTIMENT_MIN, FEEDBACK_SENTIMENT_MAX, &sentiment);
    if (rc)
        return s_config_fail(cfg, why, why_size, rc);
    s->auto_complaint_sentiment = (int) sentiment;
    return s_strings(cfg, s, why, why_size);
}

static void s_on_request(crm_service_t *svc, crm_rpc_request_t **req_p, void *arg)
{
    feedback_server_t *server = arg;
    crm_rpc_request_t *req = *req_p;
    feedback_caller_t caller = { req->key_id, req->role };
    feedback_result_t res;
    feedback_handle(server->fb, req->method, &caller, req->body, req->body_len, &res);
    if (res.status == CRM_RPC_INTERNAL)
        crm_log_error(crm_service_log(svc), "request failed", "method", req->method, "error", res.error);
    crm_rpc_reply_t reply = {
        .status = res.status, .error = res.error, .field = res.field, .body = res.body, .body_len = res.body_len,
    };
    crm_service_reply(svc, req_p, &reply);
    feedback_result_clear(&res);
}

static int s_on_tick(crm_loop_t *loop, void *arg);

static int s_on_catch_up(crm_loop_t *loop, void *arg)
{
    feedback_server_t *server = arg;
    server->catch_up_timer = 0;
    return s_on_tick(loop, arg);
}

/* Runs the due timers, a few transactions at a time; comes back at once while some remain. */
static int s_on_tick(crm_loop_t *loop, void *arg)
{
    feedback_server_t *server = arg;
    bool more = true;
    for (int round = 0; more && round < FEEDBACK_TICK_ROUNDS_MAX; round++) {
        int rc = feedback_tick(server->fb, &more);
        if (rc) {
            crm_log_error(crm_service_log(server->svc), "feedback timers failed; retrying", "error", crm_errname(rc));
            return 0;
        }
    }
    if (more && !server->catch_up_timer)
        crm_loop_add_oneshot(loop, 0, s_on_catch_up, server, &server->catch_up_timer);
    return 0;
}

int feedback_server_new(crm_service_t *svc, feedback_server_t **server_p)
{
    crm_log_t *log = crm_service_log(svc);
    feedback_server_t *server = calloc(1, sizeof *server);
    if (!server)
        return CRM_ENOMEM;
    server->svc = svc;
    feedback_options_t opts = {
        .store = crm_service_store(svc), .outbox = crm_service_outbox(svc), .ids = crm_service_ids(svc),
        .source = crm_service_source(svc),
    };
    char why[CRM_CONFIG_ERROR_MAX];
    int rc = feedback_settings_load(crm_service_config(svc), &opts.settings, &server->tick_ms, why, sizeof why);
    if (rc) {
        crm_log_error(log, "invalid settings", "error", why);
        goto out;
    }
    rc = feedback_new(&opts, &server->fb);
    if (rc) {
        crm_log_error(log, "cannot open the feedback store", "error", crm_errname(rc));
        goto out;
    }
    rc = crm_service_on_request(svc, s_on_request, server);
    if (rc == 0)
        rc = crm_service_subscribe(svc, CRM_SVC_CONTACTS, "crm.contacts.", feedback_on_contacts_event, server->fb);
    if (rc == 0)
        rc = crm_loop_add_timer(crm_service_loop(svc), (int) server->tick_ms, s_on_tick, server, NULL);
    if (rc == 0)
        rc = crm_loop_add_oneshot(crm_service_loop(svc), 0, s_on_catch_up, server, &server->catch_up_timer);
    if (rc)
        crm_log_error(log, "cannot wire the feedback service", "error", crm_errname(rc));
out:
    if (rc) {
        feedback_server_destroy(&server);
        return rc;
    }
    *server_p = server;
    return 0;
}

feedback_t *feedback_server_state(feedback_server_t *server)
{
    return server->fb;
}

void feedback_server_destroy(feedback_server_t **server_p)
{
    if (!server_p || !*server_p)
        return;
    feedback_destroy(&(*server_p)->fb);
    free(*server_p);
    *server_p = NULL;
}
