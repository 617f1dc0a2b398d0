/* analytics_server.c: the analytics service's wiring on the skeleton: settings, requests, subscriptions, jobs, restart for a rebuild. */
#include "analytics_server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crm_bus.h"
#include "crm_error.h"
#include "analytics_handlers.h"

#define S_MS_PER_DAY (86400LL * 1000)
#define S_RFM_TOTAL_MIN 3
#define S_RFM_TOTAL_MAX 15

struct analytics_server {
    crm_service_t *svc;
    analytics_t *an;
    long long tick_ms;
    int catch_up_timer;        /* a one-shot while jobs remain due; 0 when none */
    bool restart;
    crm_bus_replay_client_t *probes[ANALYTICS_PUBLISHER_COUNT];
};

static const crm_service_id_t s_publisher_ids[ANALYTICS_PUBLISHER_COUNT] = {
    CRM_SVC_CONTACTS, CRM_SVC_LOYALTY, CRM_SVC_FEEDBACK,
};

int analytics_settings_load(crm_config_t *cfg, analytics_settings_t *s, long long *tick_ms, bool *rebuild,
                            char *why, size_t why_size)
{
    snprintf(why, why_size, "%s", "");
    analytics_settings_default(s);
    long long window_ms = 0, lifespan_ms = 0;
    struct {
        const char *name;
        long long def;
        long long min;
        long long max;
        long long *out_ms;
        int64_t *out_us;
    } const durations[] = {
        { "CRM_ANALYTICS_ACTIVE_WINDOW", ANALYTICS_DEFAULT_ACTIVE_WINDOW_DAYS * S_MS_PER_DAY, S_MS_PER_DAY,
          ANALYTICS_DURATION_MAX_MS, &window_ms, NULL },
        { "CRM_ANALYTICS_LIFESPAN", ANALYTICS_DEFAULT_LIFESPAN_DAYS * S_MS_PER_DAY, 0, ANALYTICS_DURATION_MAX_MS,
          &lifespan_ms, NULL },
        { "CRM_ANALYTICS_TICK", ANALYTICS_DEFAULT_TICK_MS, ANALYTICS_TICK_MIN_MS, ANALYTICS_TICK_MAX_MS, tick_ms, NULL },
        { "CRM_ANALYTICS_RISK_INTERVAL", ANALYTICS_DEFAULT_RISK_INTERVAL_MS, 0, ANALYTICS_DURATION_MAX_MS, NULL,
          &s->risk_interval_us },
        { "CRM_ANALYTICS_SETTLE", ANALYTICS_DEFAULT_SETTLE_MS, 0, S_MS_PER_DAY, NULL, &s->settle_us },
        { "CRM_ANALYTICS_SILENCE", ANALYTICS_DEFAULT_SILENCE_MS, 1000, ANALYTICS_DURATION_MAX_MS, NULL,
          &s->silence_us },
        { "CRM_ANALYTICS_CHURN_AFTER", ANALYTICS_DEFAULT_CHURN_AFTER_MS, 1000, ANALYTICS_DURATION_MAX_MS, NULL,
          &s->churn_after_us },
        { "CRM_ANALYTICS_RISK_WINDOW", ANALYTICS_DEFAULT_RISK_WINDOW_MS, S_MS_PER_DAY, ANALYTICS_DURATION_MAX_MS,
          NULL, &s->risk_window_us },
        { "CRM_ANALYTICS_RFM_INTERVAL", ANALYTICS_DEFAULT_RFM_INTERVAL_MS, 0, ANALYTICS_DURATION_MAX_MS, NULL,
          &s->rfm_interval_us },
    };
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < sizeof durations / sizeof durations[0]; i++) {
        long long ms = 0;
        rc = crm_config_duration_ms(cfg, durations[i].name, durations[i].def, durations[i].min, durations[i].max, &ms);
        if (rc == 0 && durations[i].out_ms)
            *durations[i].out_ms = ms;
        if (rc == 0 && durations[i].out_us)
            *durations[i].out_us = ms * 1000;
    }
    if (rc) {
        snprintf(why, why_size, "%s", crm_config_error(cfg));
        return rc;
    }
    if (window_ms % S_MS_PER_DAY || lifespan_ms % S_MS_PER_DAY) {
        snprintf(why, why_size, "%s: expected whole days such as 90d",
                 window_ms % S_MS_PER_DAY ? "CRM_ANALYTICS_ACTIVE_WINDOW" : "CRM_ANALYTICS_LIFESPAN");
        return CRM_ECONFIG;
    }
    s->active_window_days = window_ms / S_MS_PER_DAY;
    s->lifespan_days = lifespan_ms / S_MS_PER_DAY;
    long long threshold = 0, high = 0, mid = 0;
    rc = crm_config_int(cfg, "CRM_ANALYTICS_RISK_THRESHOLD", ANALYTICS_DEFAULT_RISK_THRESHOLD, 1, 100, &threshold);
    if (rc == 0)
        rc = crm_config_int(cfg, "CRM_ANALYTICS_RFM_HIGH", ANALYTICS_DEFAULT_RFM_HIGH, S_RFM_TOTAL_MIN,
                            S_RFM_TOTAL_MAX, &high);
    if (rc == 0)
        rc = crm_config_int(cfg, "CRM_ANALYTICS_RFM_MID", ANALYTICS_DEFAULT_RFM_MID, S_RFM_TOTAL_MIN, high, &mid);
    if (rc == 0)
        rc = crm_config_bool(cfg, "CRM_ANALYTICS_REBUILD", false, rebuild);
    if (rc) {
        snprintf(why, why_size, "%s", crm_config_error(cfg));
        return rc;
    }
    s->risk_threshold = (uint32_t) threshold;
    s->rfm_high = (uint32_t) high;
    s->rfm_mid = (uint32_t) mid;
    char *currency = NULL, *offset = NULL, *entry = NULL;
    rc = crm_config_string(cfg, "CRM_ANALYTICS_CURRENCY", ANALYTICS_DEFAULT_CURRENCY, &currency);
    if (rc == 0)
        rc = crm_config_string(cfg, "CRM_ANALYTICS_UTC_OFFSET", ANALYTICS_DEFAULT_UTC_OFFSET, &offset);
    if (rc == 0)
        rc = crm_config_string(cfg, "CRM_ANALYTICS_ENTRY_TIER", ANALYTICS_DEFAULT_ENTRY_TIER, &entry);
    if (rc) {
        snprintf(why, why_size, "%s", crm_config_error(cfg));
        goto out;
    }
    bool currency_ok = strlen(currency) == ANALYTICS_CURRENCY_LEN;
    for (size_t i = 0; currency_ok && i < ANALYTICS_CURRENCY_LEN; i++)
        currency_ok = currency[i] >= 'A' && currency[i] <= 'Z';
    bool entry_ok = strlen(entry) <= ANALYTICS_TIER_MAX;
    for (const char *p = entry; entry_ok && *p; p++)
        entry_ok = (unsigned char) *p > 0x20 && *p != 0x7f;
    if (!currency_ok) {
        snprintf(why, why_size, "CRM_ANALYTICS_CURRENCY=\"%.8s\": expected an ISO 4217 code such as CNY", currency);
        rc = CRM_ECONFIG;
    } else if (analytics_offset_parse(offset, &s->utc_offset_us) != 0) {
        snprintf(why, why_size, "CRM_ANALYTICS_UTC_OFFSET=\"%.16s\": expected +HH:MM or -HH:MM such as +08:00", offset);
        rc = CRM_ECONFIG;
    } else if (!entry_ok) {
        snprintf(why, why_size, "CRM_ANALYTICS_ENTRY_TIER: expected a tier id of at most %d bytes", ANALYTICS_TIER_MAX);
        rc = CRM_ECONFIG;
    } else {
        snprintf(s->currency, sizeof s->currency, "%s", currency);
        snprintf(s->entry_tier, sizeof s->entry_tier, "%s", entry);
    }
out:
    free(currency);
    free(offset);
    free(entry);
    return rc;
}

static int s_on_restart(crm_loop_t *loop, void *arg)
{
    crm_loop_stop(loop);
    return 0;
}

static void s_on_request(crm_service_t *svc, crm_rpc_request_t **req_p, void *arg)
{
    analytics_server_t *server = arg;
    crm_rpc_request_t *req = *req_p;
    analytics_caller_t caller = { req->key_id, req->role };
    analytics_answer_t ans;
    analytics_handle(server->an, req->method, &caller, req->body, req->body_len, &ans);
    if (ans.status == CRM_RPC_INTERNAL)
        crm_log_error(crm_service_log(svc), "request failed", "method", req->method, "error", ans.error);
    crm_rpc_reply_t reply = {
        .status = ans.status, .error = ans.error, .field = ans.field, .body = ans.body, .body_len = ans.body_len,
    };
    crm_service_reply(svc, req_p, &reply);
    if (ans.restart && !server->restart) {
        server->restart = true;
        crm_log_info(crm_service_log(svc), "rebuild requested: restarting to replay the publishers");
        crm_loop_add_oneshot(crm_service_loop(svc), ANALYTICS_RESTART_DELAY_MS, s_on_restart, server, NULL);
    }
    analytics_answer_clear(&ans);
}

/* Asks each publisher for its head: while one has events not yet folded, the jobs wait. A
 * publisher that does not answer counts as caught up. */
static void s_probe(analytics_server_t *server)
{
    static const char *const names[ANALYTICS_PUBLISHER_COUNT] = ANALYTICS_PUBLISHERS;
    bool behind = false;
    for (size_t i = 0; i < ANALYTICS_PUBLISHER_COUNT && !behind; i++) {
        uint64_t cursor = 0;
        crm_txn_t *txn = NULL;
        if (crm_store_read_begin(server->an->store, &txn) == 0) {
            crm_val_t v;
            int rc = crm_store_get(txn, server->an->cursors, names[i], strlen(names[i]), &v);
            if (rc == 0 && v.size == ANALYTICS_SEQ_SIZE)
                cursor = crm_bus_seq_decode(v.data);
        }
        crm_store_txn_end(&txn);
        crm_bus_batch_t *batch = NULL;
        if (crm_bus_replay_fetch(server->probes[i], cursor, 1, ANALYTICS_PROBE_TIMEOUT_MS, &batch) == 0)
            behind = crm_bus_batch_head(batch) > cursor;
        crm_bus_batch_destroy(&batch);
    }
    server->an->behind = behind;
}

static int s_on_tick(crm_loop_t *loop, void *arg);

static int s_on_catch_up(crm_loop_t *loop, void *arg)
{
    analytics_server_t *server = arg;
    server->catch_up_timer = 0;
    return s_on_tick(loop, arg);
}

static int s_on_tick(crm_loop_t *loop, void *arg)
{
    analytics_server_t *server = arg;
    if (server->restart)
        return 0;
    s_probe(server);
    bool more = true;
    for (int round = 0; more && round < ANALYTICS_TICK_ROUNDS_MAX; round++) {
        int rc = analytics_tick(server->an, &more);
        if (rc) {
            crm_log_error(crm_service_log(server->svc), "analytics jobs failed; retrying", "error", crm_errname(rc));
            return 0;
        }
    }
    if (more && !server->catch_up_timer)
        crm_loop_add_oneshot(loop, 0, s_on_catch_up, server, &server->catch_up_timer);
    return 0;
}

int analytics_server_new(crm_service_t *svc, analytics_server_t **server_p)
{
    crm_log_t *log = crm_service_log(svc);
    analytics_server_t *server = calloc(1, sizeof *server);
    if (!server)
        return CRM_ENOMEM;
    server->svc = svc;
    analytics_options_t opts = {
        .store = crm_service_store(svc), .outbox = crm_service_outbox(svc), .ids = crm_service_ids(svc),
        .source = crm_service_source(svc),
    };
    char why[CRM_CONFIG_ERROR_MAX];
    bool rebuild = false, reset = false;
    int rc = analytics_settings_load(crm_service_config(svc), &opts.settings, &server->tick_ms, &rebuild, why,
                                     sizeof why);
    if (rc) {
        crm_log_error(log, "invalid settings", "error", why);
        goto out;
    }
    rc = analytics_new(&opts, &server->an);
    static const char *const names[ANALYTICS_PUBLISHER_COUNT] = ANALYTICS_PUBLISHERS;
    if (rc == 0)
        rc = analytics_rebuild_reset(server->an, rebuild, names, ANALYTICS_PUBLISHER_COUNT, &reset);
    if (rc) {
        crm_log_error(log, "cannot open the analytics store", "error", crm_errname(rc));
        goto out;
    }
    if (reset)
        crm_log_info(log, "rebuild: figures cleared, replaying contacts, loyalty and feedback from sequence 0");
    rc = crm_service_on_request(svc, s_on_request, server);
    static const char *const prefixes[ANALYTICS_PUBLISHER_COUNT] = { "crm.contacts.", "crm.loyalty.", "crm.feedback." };
    static const crm_subscriber_apply_fn applies[ANALYTICS_PUBLISHER_COUNT] = {
        analytics_on_contacts_event, analytics_on_loyalty_event, analytics_on_feedback_event,
    };
    const crm_topology_t *topo = crm_service_topology(svc);
    for (size_t i = 0; rc == 0 && i < ANALYTICS_PUBLISHER_COUNT; i++) {
        rc = crm_service_subscribe(svc, s_publisher_ids[i], prefixes[i], applies[i], server->an);
        if (rc == 0)
            rc = crm_bus_replay_client_new(crm_service_zmq(svc), topo->services[s_publisher_ids[i]].replay_endpoint,
                                           &server->probes[i]);
    }
    if (rc == 0)
        rc = crm_loop_add_timer(crm_service_loop(svc), (int) server->tick_ms, s_on_tick, server, NULL);
    if (rc == 0)
        rc = crm_loop_add_oneshot(crm_service_loop(svc), 0, s_on_catch_up, server, &server->catch_up_timer);
    if (rc)
        crm_log_error(log, "cannot wire the analytics service", "error", crm_errname(rc));
out:
    if (rc) {
        analytics_server_destroy(&server);
        return rc;
    }
    *server_p = server;
    return 0;
}

bool analytics_server_restart(const analytics_server_t *server)
{
    return server && server->restart;
}

analytics_t *analytics_server_state(analytics_server_t *server)
{
    return server->an;
}

void analytics_server_destroy(analytics_server_t **server_p)
{
    if (!server_p || !*server_p)
        return;
    analytics_server_t *server = *server_p;
    for (size_t i = 0; i < ANALYTICS_PUBLISHER_COUNT; i++)
        crm_bus_replay_client_destroy(&server->probes[i]);
    analytics_destroy(&server->an);
    free(server);
    *server_p = NULL;
}
