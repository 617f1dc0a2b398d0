/* feedback_token.h: single-use invitation tokens: random (libsodium), URL-safe text, kept at rest only as a hash. */
#ifndef FEEDBACK_TOKEN_H
#define FEEDBACK_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FEEDBACK_TOKEN_BYTES 32                 /* random bytes in a token */
#define FEEDBACK_TOKEN_LEN   43                 /* its URL-safe base64 text, without padding */
#define FEEDBACK_TOKEN_SIZE  (FEEDBACK_TOKEN_LEN + 1)
#define FEEDBACK_TOKEN_HASH_LEN 32              /* BLAKE2b-256 of the text: the key at rest */

/* Makes a new token from FEEDBACK_TOKEN_BYTES random bytes (randombytes_buf), as URL-safe base64
 * without padding, NUL-terminated in out. Call sodium_init first (feedback_new does). */
void feedback_token_new(char out[FEEDBACK_TOKEN_SIZE]);

/* True when text is shaped like a token: exactly FEEDBACK_TOKEN_LEN characters of A-Z a-z 0-9 - _.
 * False for NULL. */
bool feedback_token_valid(const char *text);

/* The hash under which a token is stored (BLAKE2b-256 of its text). Returns 0, or CRM_EINVALID
 * when text is not a valid token. */
int feedback_token_hash(const char *text, uint8_t out[FEEDBACK_TOKEN_HASH_LEN]);

#endif
