/* gateway_ratelimit.h: a token bucket per API key: so many requests a second, with a burst. */
#ifndef GATEWAY_RATELIMIT_H
#define GATEWAY_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GATEWAY_RATELIMIT_KEYS_MAX 65536     /* buckets kept at once; the stalest make room */
#define GATEWAY_RATELIMIT_PROBE    16        /* slots looked at for a key before one is reused */
#define GATEWAY_RATELIMIT_ID_MAX   32        /* bytes of a key id, with the NUL */

typedef struct gateway_ratelimit gateway_ratelimit_t;

/* Makes a limiter: each key may make `rate` requests a second on average and `burst` at once
 * (burst >= 1). Returns 0 and sets *rl_p (caller destroys), CRM_EINVALID for a rate <= 0 or a
 * burst of 0, or CRM_ENOMEM. */
int gateway_ratelimit_new(double rate, unsigned burst, gateway_ratelimit_t **rl_p);

/* Frees the limiter. Safe on NULL; sets *rl_p to NULL. */
void gateway_ratelimit_destroy(gateway_ratelimit_t **rl_p);

/* Takes one request for key_id at now_us (monotonic microseconds). Returns true when it may go
 * on; false when the key's bucket is empty, with *retry_after_s (when not NULL) the whole seconds
 * until one request is allowed again (at least 1). A key not seen for long starts with a full
 * bucket. Thread-safe. */
bool gateway_ratelimit_take(gateway_ratelimit_t *rl, const char *key_id, int64_t now_us,
                            unsigned *retry_after_s);

#endif
