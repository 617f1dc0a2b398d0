/* gateway_settings.c: the gateway's own settings. */
#include "gateway_settings.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "crm_error.h"
#include "gateway_ingest.h"
#include "gateway_keys.h"

int
gateway_settings_load(crm_config_t *cfg, gateway_settings_t *s, char *error, size_t error_size)
{
    assert(cfg && s && error && error_size);
    error[0] = '\0';
    memset(s, 0, sizeof *s);
    long long threads = 0, connections = 0, timeout_ms = 0, batch = 0, rpc_ms = 0, ready_ms = 0;
    size_t max_string = 0;
    int rc = crm_config_int(cfg, "CRM_HTTP_THREADS", 0, 0, GATEWAY_MAX_THREADS, &threads);
    if (rc == 0)
        rc = crm_config_int(cfg, "CRM_HTTP_MAX_CONNECTIONS", GATEWAY_DEFAULT_MAX_CONNECTIONS, 1,
                            1000000, &connections);
    if (rc == 0)
        rc = crm_config_duration_ms(cfg, "CRM_HTTP_TIMEOUT", GATEWAY_DEFAULT_HTTP_TIMEOUT_MS, 1000,
                                    24LL * 3600 * 1000, &timeout_ms);
    if (rc == 0)
        rc = crm_config_size(cfg, "CRM_HTTP_MAX_BODY", GATEWAY_DEFAULT_MAX_BODY, GATEWAY_MIN_BODY,
                             GATEWAY_MAX_BODY, &s->max_body);
    if (rc == 0)
        rc = crm_config_size(cfg, "CRM_HTTP_MAX_HEADER", GATEWAY_DEFAULT_MAX_HEADER,
                             GATEWAY_MIN_HEADER, GATEWAY_MAX_HEADER, &s->max_header);
    if (rc == 0)
        rc = crm_config_size(cfg, "CRM_HTTP_MAX_STRING", GATEWAY_DEFAULT_MAX_STRING,
                             GATEWAY_MIN_STRING, GATEWAY_MAX_STRING, &max_string);
    if (rc == 0)
        rc = crm_config_int(cfg, "CRM_INGEST_MAX_BATCH", GATEWAY_DEFAULT_MAX_BATCH, 1,
                            GATEWAY_INGEST_GROUP_MAX, &batch);
    if (rc == 0)
        rc = crm_config_duration_ms(cfg, "CRM_GATEWAY_RPC_TIMEOUT", GATEWAY_DEFAULT_RPC_TIMEOUT_MS,
                                    1, GATEWAY_MAX_TIMEOUT_MS, &rpc_ms);
    if (rc == 0)
        rc = crm_config_duration_ms(cfg, "CRM_GATEWAY_READY_TIMEOUT",
                                    GATEWAY_DEFAULT_READY_TIMEOUT_MS, 1, GATEWAY_MAX_TIMEOUT_MS,
                                    &ready_ms);
    if (rc == 0)
        rc = crm_config_duration_ms(cfg, "CRM_IDEMPOTENCY_TTL", GATEWAY_DEFAULT_IDEM_TTL_MS, 1000,
                                    GATEWAY_MAX_IDEM_TTL_MS, &s->idem_ttl_ms);
    if (rc == 0)
        rc = crm_config_duration_ms(cfg, "CRM_IDEMPOTENCY_PURGE_INTERVAL",
                                    GATEWAY_DEFAULT_IDEM_PURGE_MS, 1000, 24LL * 3600 * 1000,
                                    &s->idem_purge_ms);
    long long rate = 0, burst = 0;
    if (rc == 0)
        rc = crm_config_int(cfg, "CRM_GATEWAY_RATE_LIMIT", GATEWAY_DEFAULT_RATE_LIMIT, 0, GATEWAY_MAX_RATE,
                            &rate);
    if (rc == 0)
        rc = crm_config_int(cfg, "CRM_GATEWAY_RATE_BURST", GATEWAY_DEFAULT_RATE_BURST, 1, GATEWAY_MAX_RATE,
                            &burst);
    s->rate_limit = (unsigned) rate;
    s->rate_burst = (unsigned) burst;
    if (rc == 0)
        rc = crm_config_string(cfg, "CRM_ADMIN_KEY", NULL, &s->admin_key);
    if (rc == 0 && s->admin_key && !gateway_keys_secret_acceptable(s->admin_key)) {
        snprintf(error, error_size, "CRM_ADMIN_KEY: expected %d to %d printable ASCII characters "
                 "without spaces", GATEWAY_KEY_SECRET_MIN, GATEWAY_KEY_SECRET_MAX);
        gateway_settings_clear(s);
        return CRM_ECONFIG;
    }
    if (rc) {
        snprintf(error, error_size, "%s", rc == CRM_ECONFIG ? crm_config_error(cfg) : crm_strerror(rc));
        gateway_settings_clear(s);
        return rc;
    }
    if (threads == 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        threads = cores > 0 ? (cores < GATEWAY_MAX_THREADS ? cores : GATEWAY_MAX_THREADS) : 1;
    }
    s->http_threads = (unsigned) threads;
    s->max_connections = (unsigned) connections;
    s->http_timeout_s = (unsigned) ((timeout_ms + 999) / 1000);
    s->max_string = max_string;
    s->max_batch = (size_t) batch;
    s->rpc_timeout_ms = (int) rpc_ms;
    s->ready_timeout_ms = (int) ready_ms;
    return 0;
}

void
gateway_settings_clear(gateway_settings_t *s)
{
    assert(s);
    if (s->admin_key) {
        sodium_memzero(s->admin_key, strlen(s->admin_key));
        free(s->admin_key);
    }
    memset(s, 0, sizeof *s);
}
