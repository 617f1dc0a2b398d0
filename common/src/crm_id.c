/* crm_id.c: ULID generation (monotonic within a millisecond), validation and decoding. */
#include "crm_id.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "crm_error.h"

#define RANDOM_HI_BITS 16                        /* 80 random bits: 16 in hi, 64 in lo */
#define RANDOM_HI_MASK ((UINT64_C(1) << RANDOM_HI_BITS) - 1)
#define SEED_WORDS 4                             /* xoshiro256** state */
#define BITS_PER_CHAR 5
#define CHAR_MASK 0x1f
#define FIRST_CHAR_MAX 7                         /* 26 * 5 = 130 bits: the top two must be 0 */
#define MS_PER_S 1000
#define NS_PER_MS 1000000

static const char s_alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

struct crm_id_gen {
    pthread_mutex_t lock;
    uint64_t rng[SEED_WORDS];
    uint64_t last_ms;            /* time of the last id; 0 before the first */
    uint64_t rand_hi;            /* random part of the last id: RANDOM_HI_BITS bits ... */
    uint64_t rand_lo;            /* ... then 64 */
};

static inline uint64_t
s_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* xoshiro256** by Blackman and Vigna: fast, 256 bits of state, fine for unique (not secret) ids. */
static uint64_t
s_rng_next(uint64_t s[SEED_WORDS])
{
    uint64_t result = s_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = s_rotl(s[3], 45);
    return result;
}

static int
s_seed(uint64_t s[SEED_WORDS])
{
    unsigned char *p = (unsigned char *) s;
    size_t want = sizeof(uint64_t) * SEED_WORDS;
    size_t got = 0;
    while (got < want) {
        ssize_t n = getrandom(p + got, want - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return CRM_EIO;
        }
        got += (size_t) n;
    }
    /* The all-zero state is xoshiro's one fixed point. */
    if ((s[0] | s[1] | s[2] | s[3]) == 0)
        s[0] = 1;
    return 0;
}

int
crm_id_gen_new(crm_id_gen_t **gen_p)
{
    assert(gen_p);
    *gen_p = NULL;
    int rc = 0;
    crm_id_gen_t *gen = calloc(1, sizeof *gen);
    if (!gen)
        return CRM_ENOMEM;
    rc = s_seed(gen->rng);
    if (rc)
        goto out;
    if (pthread_mutex_init(&gen->lock, NULL) != 0) {
        rc = CRM_ENOMEM;
        goto out;
    }
    *gen_p = gen;
    gen = NULL;
out:
    free(gen);
    return rc;
}

void
crm_id_gen_destroy(crm_id_gen_t **gen_p)
{
    assert(gen_p);
    crm_id_gen_t *gen = *gen_p;
    if (!gen)
        return;
    pthread_mutex_destroy(&gen->lock);
    explicit_bzero(gen, sizeof *gen);
    free(gen);
    *gen_p = NULL;
}

static void
s_encode(uint64_t hi, uint64_t lo, char out[CRM_ID_SIZE])
{
    for (int i = CRM_ID_LEN - 1; i >= 0; i--) {
        out[i] = s_alphabet[lo & CHAR_MASK];
        lo = (lo >> BITS_PER_CHAR) | (hi << (64 - BITS_PER_CHAR));
        hi >>= BITS_PER_CHAR;
    }
    out[CRM_ID_LEN] = '\0';
}

/* The value of one canonical character, or -1. */
static int
s_char_value(char c)
{
    for (int v = 0; s_alphabet[v]; v++)
        if (s_alphabet[v] == c)
            return v;
    return -1;
}

/* Decodes a canonical id into its two 64-bit halves. Returns 0 or CRM_EINVALID. */
static int
s_decode(const char *s, uint64_t *hi_p, uint64_t *lo_p)
{
    if (!s)
        return CRM_EINVALID;
    uint64_t hi = 0, lo = 0;
    for (int i = 0; i < CRM_ID_LEN; i++) {
        int v = s_char_value(s[i]);      /* stops at the NUL of a short string: '\0' has no value */
        if (v < 0 || (i == 0 && v > FIRST_CHAR_MAX))
            return CRM_EINVALID;
        hi = (hi << BITS_PER_CHAR) | (lo >> (64 - BITS_PER_CHAR));
        lo = (lo << BITS_PER_CHAR) | (uint64_t) v;
    }
    if (s[CRM_ID_LEN] != '\0')
        return CRM_EINVALID;
    *hi_p = hi;
    *lo_p = lo;
    return 0;
}

int
crm_id_next_at(crm_id_gen_t *gen, uint64_t now_ms, char out[CRM_ID_SIZE])
{
    assert(gen);
    assert(out);
    out[0] = '\0';
    int rc = 0;
    pthread_mutex_lock(&gen->lock);
    if (now_ms > gen->last_ms) {
        gen->last_ms = now_ms;
        gen->rand_hi = s_rng_next(gen->rng) & RANDOM_HI_MASK;
        gen->rand_lo = s_rng_next(gen->rng);
    } else if (++gen->rand_lo == 0 && (gen->rand_hi = (gen->rand_hi + 1) & RANDOM_HI_MASK) == 0) {
        /* The random part overflowed within one millisecond: borrow the next millisecond, which
         * keeps ids increasing (the spec would fail here instead). */
        gen->last_ms++;
        gen->rand_hi = s_rng_next(gen->rng) & RANDOM_HI_MASK;
        gen->rand_lo = s_rng_next(gen->rng);
    }
    if (gen->last_ms > CRM_ID_MAX_TIME_MS) {
        gen->last_ms = CRM_ID_MAX_TIME_MS;     /* stay at the end: every later call fails too */
        gen->rand_hi = RANDOM_HI_MASK;
        gen->rand_lo = UINT64_MAX;
        rc = CRM_ELIMIT;
        goto out;
    }
    s_encode((gen->last_ms << RANDOM_HI_BITS) | gen->rand_hi, gen->rand_lo, out);
out:
    pthread_mutex_unlock(&gen->lock);
    return rc;
}

int
crm_id_next(crm_id_gen_t *gen, char out[CRM_ID_SIZE])
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t now_ms = (uint64_t) ts.tv_sec * MS_PER_S + (uint64_t) ts.tv_nsec / NS_PER_MS;
    return crm_id_next_at(gen, now_ms, out);
}

bool
crm_id_valid(const char *s)
{
    uint64_t hi, lo;
    return s_decode(s, &hi, &lo) == 0;
}

int
crm_id_time_ms(const char *s, uint64_t *ms)
{
    assert(ms);
    uint64_t hi, lo;
    int rc = s_decode(s, &hi, &lo);
    if (rc)
        return rc;
    *ms = hi >> RANDOM_HI_BITS;
    return 0;
}
