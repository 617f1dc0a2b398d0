/* contacts_server.c: wires the contacts handlers into the service skeleton: settings, requests, the ingest subscription. */
#include "contacts_server.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crm_error.h"

#define S_SETTING_MIN 2

struct contacts_server {
    crm_service_t *svc;
    contacts_t *contacts;
};

int
contacts_settings_load(crm_config_t *cfg, contacts_settings_t *settings, char *error, size_t size)
{
    long long repeat = 0, loyal = 0;
    int rc = crm_config_int(cfg, CONTACTS_SETTING_REPEAT_PURCHASES, CONTACTS_DEFAULT_REPEAT_PURCHASES,
                            S_SETTING_MIN, CONTACTS_PURCHASES_SETTING_MAX, &repeat);
    if (rc == 0)
        rc = crm_config_int(cfg, CONTACTS_SETTING_LOYAL_PURCHASES, CONTACTS_DEFAULT_LOYAL_PURCHASES,
                            S_SETTING_MIN, CONTACTS_PURCHASES_SETTING_MAX, &loyal);
    if (rc) {
        snprintf(error, size, "%s", crm_config_error(cfg));
        return CRM_ECONFIG;
    }
    if (loyal < repeat) {
        snprintf(error, size, "%s=%lld: expected at least %s (%lld)", CONTACTS_SETTING_LOYAL_PURCHASES,
                 loyal, CONTACTS_SETTING_REPEAT_PURCHASES, repeat);
        return CRM_ECONFIG;
    }
    settings->repeat_purchases = (uint32_t) repeat;
    settings->loyal_purchases = (uint32_t) loyal;
    return 0;
}

/* Answers one request from the request socket. */
static void
s_on_request(crm_service_t *svc, crm_rpc_request_t **req_p, void *arg)
{
    contacts_server_t *server = arg;
    crm_rpc_request_t *req = *req_p;
    contacts_reply_t reply = { 0 };
    contacts_handle(server->contacts, req->method, req->body, req->body_len, &reply);
    crm_rpc_reply_t out = {
        .status = reply.status,
        .error = reply.status == CRM_RPC_OK ? NULL : reply.err.message,
        .field = reply.status == CRM_RPC_OK ? NULL : reply.err.field,
        .conflict_id = reply.status == CRM_RPC_CONFLICT ? reply.err.conflict_id : NULL,
        .body = reply.body,
        .body_len = reply.body_len,
    };
    crm_service_reply(svc, req_p, &out);
    contacts_reply_clear(&reply);
}

int
contacts_server_new(crm_service_t *svc, contacts_server_t **server_p)
{
    assert(svc && server_p);
    crm_log_t *log = crm_service_log(svc);
    contacts_settings_t settings;
    char error[CONTACTS_SETTINGS_ERROR_MAX];
    int rc = contacts_settings_load(crm_service_config(svc), &settings, error, sizeof error);
    if (rc) {
        crm_log_error(log, "invalid settings", "error", error);
        return rc;
    }
    contacts_server_t *server = calloc(1, sizeof *server);
    if (!server)
        return CRM_ENOMEM;
    server->svc = svc;
    rc = contacts_new(crm_service_store(svc), crm_service_outbox(svc), crm_service_ids(svc),
                      crm_service_source(svc), &settings, &server->contacts);
    if (rc) {
        crm_log_error(log, "cannot open the contacts databases", "error", crm_errname(rc));
        goto out;
    }
    contacts_set_service(server->contacts, svc);
    if ((rc = crm_service_on_request(svc, s_on_request, server))) {
        crm_log_error(log, "no request endpoint", "error", crm_errname(rc));
        goto out;
    }
    rc = crm_service_subscribe(svc, CRM_SVC_GATEWAY, CONTACTS_INGEST_PREFIX, contacts_apply_ingest,
                               server->contacts);
    if (rc)
        crm_log_error(log, "cannot subscribe to the gateway's ingest log", "error", crm_errname(rc));
    if (rc == 0 && (rc = crm_service_subscribe(svc, CRM_SVC_ANALYTICS, CONTACTS_ANALYTICS_PREFIX,
                                               contacts_apply_analytics, server->contacts)))
        crm_log_error(log, "cannot subscribe to analytics", "error", crm_errname(rc));
out:
    if (rc) {
        contacts_server_destroy(&server);
        return rc;
    }
    *server_p = server;
    return 0;
}

void
contacts_server_destroy(contacts_server_t **server_p)
{
    if (!server_p || !*server_p)
        return;
    contacts_destroy(&(*server_p)->contacts);
    free(*server_p);
    *server_p = NULL;
}

contacts_t *
contacts_server_handlers(contacts_server_t *server)
{
    return server->contacts;
}
