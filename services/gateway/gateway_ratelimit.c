/* gateway_ratelimit.c: a token bucket per API key: so many requests a second, with a burst. */
#include "gateway_ratelimit.h"

#include <assert.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "crm_error.h"

#define S_SLOTS (GATEWAY_RATELIMIT_KEYS_MAX * 2)   /* half full at most: short probes */

typedef struct {
    char key[GATEWAY_RATELIMIT_ID_MAX];   /* "" when free */
    double tokens;
    int64_t updated_us;
} s_bucket_t;

struct gateway_ratelimit {
    pthread_mutex_t lock;
    double rate;                 /* tokens a microsecond */
    double burst;
    s_bucket_t *slots;
};

int
gateway_ratelimit_new(double rate, unsigned burst, gateway_ratelimit_t **rl_p)
{
    assert(rl_p);
    *rl_p = NULL;
    if (!(rate > 0) || burst == 0)
        return CRM_EINVALID;
    gateway_ratelimit_t *rl = calloc(1, sizeof *rl);
    if (!rl)
        return CRM_ENOMEM;
    rl->slots = calloc(S_SLOTS, sizeof *rl->slots);
    if (!rl->slots) {
        free(rl);
        return CRM_ENOMEM;
    }
    pthread_mutex_init(&rl->lock, NULL);
    rl->rate = rate / 1e6;
    rl->burst = burst;
    *rl_p = rl;
    return 0;
}

void
gateway_ratelimit_destroy(gateway_ratelimit_t **rl_p)
{
    if (!rl_p || !*rl_p)
        return;
    gateway_ratelimit_t *rl = *rl_p;
    pthread_mutex_destroy(&rl->lock);
    free(rl->slots);
    free(rl);
    *rl_p = NULL;
}

/* FNV-1a over the key. */
static uint64_t
s_hash(const char *key)
{
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *p = (const unsigned char *) key; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    return h;
}

/* The key's bucket: its own, else a free slot, else the stalest of the probed ones (a bucket
 * not touched for burst/rate is full again, so forgetting it changes nothing). */
static s_bucket_t *
s_find(gateway_ratelimit_t *rl, const char *key, int64_t now_us)
{
    size_t start = (size_t) (s_hash(key) % S_SLOTS);
    s_bucket_t *free_slot = NULL, *stalest = NULL;
    for (size_t i = 0; i < GATEWAY_RATELIMIT_PROBE; i++) {
        s_bucket_t *b = &rl->slots[(start + i) % S_SLOTS];
        if (b->key[0] && strcmp(b->key, key) == 0)
            return b;
        if (!b->key[0] && !free_slot)
            free_slot = b;
        if (b->key[0] && (!stalest || b->updated_us < stalest->updated_us))
            stalest = b;
    }
    s_bucket_t *b = free_slot ? free_slot : stalest;
    size_t len = strlen(key);
    if (len >= sizeof b->key)
        len = sizeof b->key - 1;
    memcpy(b->key, key, len);
    b->key[len] = '\0';
    b->tokens = rl->burst;
    b->updated_us = now_us;
    return b;
}

bool
gateway_ratelimit_take(gateway_ratelimit_t *rl, const char *key_id, int64_t now_us, unsigned *retry_after_s)
{
    assert(rl && key_id);
    pthread_mutex_lock(&rl->lock);
    s_bucket_t *b = s_find(rl, key_id, now_us);
    if (now_us > b->updated_us) {
        b->tokens = fmin(rl->burst, b->tokens + (double) (now_us - b->updated_us) * rl->rate);
        b->updated_us = now_us;
    }
    bool allowed = b->tokens >= 1.0;
    if (allowed)
        b->tokens -= 1.0;
    else if (retry_after_s) {
        double wait_s = (1.0 - b->tokens) / rl->rate / 1e6;
        *retry_after_s = wait_s < 1.0 ? 1u : (unsigned) ceil(wait_s);
    }
    pthread_mutex_unlock(&rl->lock);
    return allowed;
}
