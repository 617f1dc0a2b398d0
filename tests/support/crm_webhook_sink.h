/* crm_webhook_sink.h: an HTTP receiver on loopback for tests: keeps every POST, checks its Standard Webhooks signature, and can fail the first requests. */
#ifndef CRM_WEBHOOK_SINK_H
#define CRM_WEBHOOK_SINK_H

#include <stdbool.h>
#include <stddef.h>

#define CRM_WEBHOOK_SINK_REQUESTS_MAX 256       /* requests kept */
#define CRM_WEBHOOK_SINK_BODY_MAX     (1u << 20)
#define CRM_WEBHOOK_SINK_HEADER_MAX   256
#define CRM_WEBHOOK_SINK_TOLERANCE_S  300       /* a timestamp further from now is refused */

typedef struct crm_webhook_sink crm_webhook_sink_t;

/* One request as received. body is the caller's (crm_webhook_request_clear frees it). */
typedef struct {
    char path[CRM_WEBHOOK_SINK_HEADER_MAX];
    char id[CRM_WEBHOOK_SINK_HEADER_MAX];          /* webhook-id */
    char timestamp[CRM_WEBHOOK_SINK_HEADER_MAX];   /* webhook-timestamp */
    char signature[CRM_WEBHOOK_SINK_HEADER_MAX];   /* webhook-signature */
    char content_type[CRM_WEBHOOK_SINK_HEADER_MAX];
    char authorization[CRM_WEBHOOK_SINK_HEADER_MAX];
    char *body;
    bool signature_ok;                             /* one v1 signature matched, timestamp fresh */
    unsigned status;                               /* what the sink answered */
} crm_webhook_request_t;

/* Starts the receiver on 127.0.0.1 on a port the system picks. secret ("whsec_..." or NULL for
 * no checking) verifies signatures, independently of the code under test; the first fail_first
 * requests are answered 500, later ones 204 (401 when the signature does not verify). Aborts the
 * test when it cannot start. */
void crm_webhook_sink_start(const char *secret, unsigned fail_first, crm_webhook_sink_t **sink_p);

/* The port, and "http://127.0.0.1:<port>/hook" (borrowed). */
int crm_webhook_sink_port(const crm_webhook_sink_t *sink);
const char *crm_webhook_sink_url(const crm_webhook_sink_t *sink);

size_t crm_webhook_sink_count(crm_webhook_sink_t *sink);

/* Waits until at least count requests arrived, at most timeout_ms. Returns true when so. */
bool crm_webhook_sink_wait(crm_webhook_sink_t *sink, size_t count, int timeout_ms);

/* Copies request i into *out. Returns false when there is none. */
bool crm_webhook_sink_get(crm_webhook_sink_t *sink, size_t i, crm_webhook_request_t *out);

void crm_webhook_request_clear(crm_webhook_request_t *request);

/* Stops the receiver and frees it. Safe on NULL; sets *sink_p to NULL. */
void crm_webhook_sink_stop(crm_webhook_sink_t **sink_p);

#endif
