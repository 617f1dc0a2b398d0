/* crm_suite.h: integration fixtures: the real service processes on loopback, and an HTTP client. */
#ifndef CRM_SUITE_H
#define CRM_SUITE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "crm/v1/envelope.pb-c.h"
#include "crm_config.h"
#include "crm_test.h"

#define CRM_SUITE_ADMIN_KEY "crm_test_admin_key_0123456789abcdefghijklmnop"
#define CRM_SUITE_START_MS 20000          /* how long a service may take to answer */
#define CRM_SUITE_ENV_MAX 48
#define CRM_SUITE_ENV_SIZE 600

/* A suite of processes on ephemeral ports with stores under one temporary folder. Every service
 * gets its endpoints whether it runs or not, so that others can wait for it. */
typedef struct {
    char dir[CRM_TEST_PATH_MAX];
    char log[CRM_TEST_PATH_MAX + 16];
    char base_url[64];                 /* "http://127.0.0.1:<port>" */
    int http_port;
    char ingest_endpoint[64];
    char env_text[CRM_SUITE_ENV_MAX][CRM_SUITE_ENV_SIZE];
    char *env[CRM_SUITE_ENV_MAX + 1];
    pid_t pids[CRM_SVC_COUNT];
    int health_ports[CRM_SVC_COUNT];
    char rpc_endpoints[CRM_SVC_COUNT][64];
    char pub_endpoints[CRM_SVC_COUNT][64];
    char replay_endpoints[CRM_SVC_COUNT][64];
} crm_suite_t;

/* Makes the folder and the endpoints; starts nothing. */
void crm_suite_init(crm_suite_t *suite);

/* Sets a setting for the services started after (replacing one the suite set). */
void crm_suite_set(crm_suite_t *suite, const char *name, const char *value);

/* Starts one service (crm-<name>) and waits until it answers on its health port (the gateway:
 * on its HTTP port). Aborts the test when it does not come up. */
void crm_suite_start(crm_suite_t *suite, crm_service_id_t id);

/* Stops one service with sig (SIGTERM for a clean stop, SIGKILL for a crash) and waits for it.
 * Returns the raw wait status. */
int crm_suite_stop(crm_suite_t *suite, crm_service_id_t id, int sig);

/* Stops every running service with SIGTERM, checks each stopped cleanly (exit status 0), and removes
 * the folder. */
void crm_suite_destroy(crm_suite_t *suite);

/* Reads what publisher id has published so far, from its replay endpoint (the service must run),
 * and decodes into out the envelopes of the events whose topic is exactly type, oldest first, at
 * most max (the caller destroys each with crm_event_destroy). Returns how many were stored.
 * Aborts the test when the publisher does not answer. */
size_t crm_suite_events(crm_suite_t *suite, crm_service_id_t id, const char *type,
                        Crm__V1__Event **out, size_t max);

/* An HTTP response. body is NUL-terminated; the caller clears the response. */
typedef struct {
    long status;
    char *body;
    size_t body_len;
    char content_type[128];
    char etag[64];
    char location[256];
    char allow[128];
    char www_authenticate[128];
    char retry_after[16];
} crm_http_response_t;

/* Sends one request. headers is a NULL-terminated list of "Name: value" (may be NULL). Returns 0,
 * or -1 when no response came (connection refused, time-out). */
int crm_http(const char *method, const char *url, const char *const *headers, const char *body,
             size_t body_len, crm_http_response_t *response);

/* As crm_http to the suite's gateway: path such as "/v1/contacts", key NULL for none, body JSON
 * text or NULL, extra headers NULL-terminated or NULL. Content-Type application/json is added when
 * a body is given and extra headers do not set one. Aborts the test when no response came. */
void crm_suite_http(crm_suite_t *suite, const char *method, const char *path, const char *key,
                    const char *body, const char *const *headers, crm_http_response_t *response);

/* As crm_suite_http, then asserts the answer's status is status. Returns the body as JSON
 * (caller decrefs), or NULL when there is none; aborts the test on another status or a body that
 * is not JSON. */
json_t *crm_suite_call(crm_suite_t *suite, const char *method, const char *path, const char *key,
                       const char *body, long status);

/* Parses the response body as JSON (caller decrefs), or aborts the test. */
json_t *crm_http_json(const crm_http_response_t *response);

/* Frees the body and zeroes the response. */
void crm_http_response_clear(crm_http_response_t *response);

#endif
