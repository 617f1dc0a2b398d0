/* gateway_audit.h: the append-only, hash-chained log of sensitive operations made through the gateway. */
#ifndef GATEWAY_AUDIT_H
#define GATEWAY_AUDIT_H

#include <stdint.h>

#include "crm/v1/gateway.pb-c.h"
#include "gateway_ctx.h"

#define GATEWAY_AUDIT_DB          "audit_log"
#define GATEWAY_AUDIT_TOPIC       "crm.audit.operation.v1"
#define GATEWAY_AUDIT_HASH_SIZE   32          /* BLAKE2b-256 */
#define GATEWAY_AUDIT_PAGE_MAX    500
#define GATEWAY_AUDIT_PAGE_DEFAULT 50
#define GATEWAY_AUDIT_TEXT_MAX    512         /* bytes of a path or operation kept */

typedef struct gateway_audit gateway_audit_t;

/* Opens the log's database in ctx's store. Call at start-up, before any transaction is open. ctx
 * is copied; what it points to is borrowed. Returns 0 and sets *audit_p (caller destroys), or a
 * store error or CRM_ENOMEM. */
int gateway_audit_new(const gateway_ctx_t *ctx, gateway_audit_t **audit_p);

/* Frees the log. Safe on NULL; sets *audit_p to NULL. */
void gateway_audit_destroy(gateway_audit_t **audit_p);

/* Appends one line (seq, time, prev_hash and hash are filled here from entry's other fields,
 * which are borrowed) and publishes it as GATEWAY_AUDIT_TOPIC, in one transaction. Thread-safe.
 * Returns 0, CRM_EINVALID for text over GATEWAY_AUDIT_TEXT_MAX, or a store error. */
int gateway_audit_append(gateway_audit_t *audit, const Crm__V1__AuditEntry *entry, int64_t now_us);

/* Lists lines newest first: page_size 0 means GATEWAY_AUDIT_PAGE_DEFAULT, at most
 * GATEWAY_AUDIT_PAGE_MAX; page_token "" or a seq from a previous reply. Returns 0 and sets *reply_p
 * (caller frees with crm_codec_message_free), CRM_EINVALID for a bad token, or a store error. */
int gateway_audit_list(gateway_audit_t *audit, uint32_t page_size, const char *page_token,
                       Crm__V1__ListAuditEntriesReply **reply_p);

/* Walks the chain from the first line: sequence numbers without gaps, each prev_hash equal to the
 * line before's hash, each hash recomputed. Fills *reply (its detail is a static string). Returns
 * 0 or a store error. */
int gateway_audit_verify(gateway_audit_t *audit, Crm__V1__VerifyAuditReply *reply);

#endif
