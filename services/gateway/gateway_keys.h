/* gateway_keys.h: API keys: random secrets kept only as keyed hashes, roles, creation, listing, revocation. */
#ifndef GATEWAY_KEYS_H
#define GATEWAY_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crm/v1/gateway.pb-c.h"
#include "crm_id.h"
#include "gateway_ctx.h"

/* A secret made here is "crm_" and 43 base64url characters (32 random bytes). Secrets are high
 * entropy, so a fast keyed hash (BLAKE2b, crypto_generichash, with a random per-install key kept
 * in the store) is enough: there is nothing to guess. Only the hash is stored.
 *
 * Store layout (databases of the gateway's store):
 *   meta        "key_hash_secret" -> 32 random bytes, made at first start
 *   keys        key id (ULID)     -> crm.v1.ApiKeyRecord (MessagePack): the listing and the hash
 *   key_hashes  hash (32 bytes)   -> [role, 1 byte][key id]: only while the key is valid, so
 *                                    checking a key is one read, and revocation one delete after
 *                                    which the very next request with the key finds nothing
 * Every change appends a crm.v1.KeyChanged event to the outbox in the same transaction (topics
 * GATEWAY_KEY_TOPIC_CREATED and GATEWAY_KEY_TOPIC_REVOKED): the audit trail. */

#define GATEWAY_KEY_SECRET_PREFIX   "crm_"
#define GATEWAY_KEY_RANDOM_BYTES    32
#define GATEWAY_KEY_SECRET_MIN      32      /* shortest secret accepted (CRM_ADMIN_KEY) */
#define GATEWAY_KEY_SECRET_MAX      256     /* longest secret accepted, without the NUL */
#define GATEWAY_KEY_SECRET_SIZE     (GATEWAY_KEY_SECRET_MAX + 1)
#define GATEWAY_KEY_SHOWN_PREFIX    12      /* characters of a secret kept to recognise it */
#define GATEWAY_KEY_NAME_MAX        128     /* bytes of a key's name */
#define GATEWAY_KEY_HASH_SIZE       32
#define GATEWAY_KEY_INSTALL_SECRET_SIZE 32
#define GATEWAY_KEYS_DB             "keys"
#define GATEWAY_KEY_HASHES_DB       "key_hashes"
#define GATEWAY_META_DB             "meta"
#define GATEWAY_META_HASH_SECRET    "key_hash_secret"
#define GATEWAY_KEY_TOPIC_CREATED   "crm.audit.key.created.v1"
#define GATEWAY_KEY_TOPIC_REVOKED   "crm.audit.key.revoked.v1"

typedef struct gateway_keys gateway_keys_t;

/* Who called, as a valid key says. */
typedef struct {
    char id[CRM_ID_SIZE];
    Crm__V1__Role role;
} gateway_caller_t;

/* Opens the key databases in ctx's store and loads (or, at first start, makes) the per-install
 * hashing key. Call at start-up, before any transaction is open. ctx is copied; what it points to
 * is borrowed. Returns 0 and sets *keys_p (caller destroys), CRM_EIO (no randomness), CRM_ENOMEM
 * or a store error. */
int gateway_keys_new(const gateway_ctx_t *ctx, gateway_keys_t **keys_p);

/* Frees the keys module. Safe on NULL; sets *keys_p to NULL. */
void gateway_keys_destroy(gateway_keys_t **keys_p);

/* Returns true when secret is acceptable as a key: GATEWAY_KEY_SECRET_MIN to
 * GATEWAY_KEY_SECRET_MAX printable ASCII characters without spaces. */
bool gateway_keys_secret_acceptable(const char *secret);

/* Finds the valid key whose secret is len bytes at secret. Thread-safe (a read transaction).
 * Returns 0 with *caller filled; CRM_ENOTFOUND when no valid key has this secret (unknown or
 * revoked); or a store error. */
int gateway_keys_authenticate(gateway_keys_t *keys, const char *secret, size_t len,
                              gateway_caller_t *caller);

/* Makes a key. name: 1 .. GATEWAY_KEY_NAME_MAX bytes of UTF-8; role: not UNSPECIFIED; actor: the
 * admin key id that asks ("" or NULL at first start). secret: NULL to draw a random one, or a
 * chosen one (gateway_keys_secret_acceptable). When only_if_none is true the key is made only if
 * no key was ever made (the first admin key): CRM_EEXISTS otherwise. Writes the secret into
 * secret_out (GATEWAY_KEY_SECRET_SIZE bytes; shown once, never stored) and, when key_p is not
 * NULL, sets *key_p to the listing (caller frees with crm_codec_message_free).
 * Returns 0; CRM_EINVALID (bad name, role or secret); CRM_EEXISTS (only_if_none, or the secret
 * is already a key's); CRM_EIO; CRM_ENOMEM; or a store error. */
int gateway_keys_create(gateway_keys_t *keys, const char *name, Crm__V1__Role role,
                        const char *actor, const char *secret, bool only_if_none,
                        char secret_out[GATEWAY_KEY_SECRET_SIZE], Crm__V1__ApiKey **key_p);

/* Lists every key, revoked ones too, oldest first, without secrets. Returns 0 and sets *reply_p
 * (caller frees with crm_codec_message_free), CRM_ENOMEM or a store error. */
int gateway_keys_list(gateway_keys_t *keys, Crm__V1__ListKeysReply **reply_p);

/* Revokes key id on behalf of actor: its secret stops working with the next request. Revoking a
 * revoked key changes nothing and succeeds. Sets *key_p when not NULL (the listing after; caller
 * frees with crm_codec_message_free). Returns 0; CRM_ENOTFOUND (no such key); CRM_ECONFLICT (it
 * is the last valid admin key: the gateway would lock its admins out); CRM_ENOMEM; or a store
 * error. */
int gateway_keys_revoke(gateway_keys_t *keys, const char *id, const char *actor,
                        Crm__V1__ApiKey **key_p);

/* Counts the keys ever made and, when valid_admins is not NULL, the valid admin keys.
 * Returns 0 or a store error. */
int gateway_keys_count(gateway_keys_t *keys, uint64_t *total, uint64_t *valid_admins);

#endif
