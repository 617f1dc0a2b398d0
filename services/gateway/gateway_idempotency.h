/* gateway_idempotency.h: Idempotency-Key: the first answer to a request kept per key, and replayed to its repeats. */
#ifndef GATEWAY_IDEMPOTENCY_H
#define GATEWAY_IDEMPOTENCY_H

#include <stddef.h>
#include <stdint.h>

#include "gateway_answer.h"
#include "gateway_ctx.h"

/* Store layout:
 *   idempotency          <key id> 0x00 <Idempotency-Key> -> crm.v1.IdempotencyRecord (MessagePack)
 *   idempotency_by_time  <created, µs, 8 bytes big-endian><the key above> -> empty: for purging
 * A request first reserves its entry (done = false) in a write transaction, so two concurrent
 * requests with one key cannot both run: the second sees the reservation. The answer is kept
 * when the request ends; answers of 500 and above are not kept (the reservation is dropped, so a
 * retry runs again). A reservation older than the pending time-out is taken as abandoned (the
 * gateway stopped mid-request) and may be taken over. */

#define GATEWAY_IDEM_DB          "idempotency"
#define GATEWAY_IDEM_TIME_DB     "idempotency_by_time"
#define GATEWAY_IDEM_KEY_MAX     255     /* bytes of an Idempotency-Key header */
#define GATEWAY_IDEM_HASH_SIZE   32
#define GATEWAY_IDEM_PURGE_MAX   10000   /* entries one purge call removes */

typedef struct gateway_idem gateway_idem_t;

typedef enum {
    GATEWAY_IDEM_PROCEED = 0,    /* reserved: run the request, then gateway_idem_finish */
    GATEWAY_IDEM_REPLAY,         /* a repeat: answer the stored answer */
    GATEWAY_IDEM_MISMATCH,       /* the key was used for another request: 422 */
    GATEWAY_IDEM_IN_PROGRESS     /* the first request is still running: 409 */
} gateway_idem_outcome_t;

/* Opens the databases. Call at start-up, before any transaction is open. ttl_us: how long answers
 * are kept; pending_us: after how long a reservation counts as abandoned. Returns 0 and sets
 * *idem_p (caller destroys), CRM_ENOMEM or a store error. */
int gateway_idem_new(const gateway_ctx_t *ctx, int64_t ttl_us, int64_t pending_us,
                     gateway_idem_t **idem_p);

/* Frees it. Safe on NULL; sets *idem_p to NULL. */
void gateway_idem_destroy(gateway_idem_t **idem_p);

/* Returns true when key is an acceptable Idempotency-Key: 1 .. GATEWAY_IDEM_KEY_MAX printable
 * ASCII characters. */
bool gateway_idem_key_acceptable(const char *key);

/* Hashes what identifies a request: method, path with its query, and body (len bytes; NULL when
 * 0). Each part is length-prefixed, so no two requests share an input. */
void gateway_idem_hash(const char *method, const char *path_and_query, const void *body,
                       size_t len, unsigned char out[GATEWAY_IDEM_HASH_SIZE]);

/* Looks up (key_id, key) at time now_us and reserves it when free (absent, expired or
 * abandoned). Sets *outcome; on GATEWAY_IDEM_REPLAY fills *stored (caller clears it) with the
 * stored answer, marked replayed. Returns 0, CRM_EINVALID (a bad key), CRM_ENOMEM or a store
 * error. */
int gateway_idem_begin(gateway_idem_t *idem, const char *key_id, const char *key,
                       const unsigned char hash[GATEWAY_IDEM_HASH_SIZE], int64_t now_us,
                       gateway_idem_outcome_t *outcome, gateway_answer_t *stored);

/* Ends a reserved request: keeps answer (status, Content-Type, ETag, Location, body) when its
 * status is below 500, else drops the reservation. Returns 0, CRM_ENOMEM or a store error. */
int gateway_idem_finish(gateway_idem_t *idem, const char *key_id, const char *key,
                        const unsigned char hash[GATEWAY_IDEM_HASH_SIZE],
                        const gateway_answer_t *answer);

/* Removes entries created before now_us - ttl, at most GATEWAY_IDEM_PURGE_MAX; sets *purged
 * (may be NULL). Returns 0 or a store error. */
int gateway_idem_purge(gateway_idem_t *idem, int64_t now_us, size_t *purged);

#endif
