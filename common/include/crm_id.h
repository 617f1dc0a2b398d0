/* crm_id.h: unique, time-ordered record ids as text: ULIDs in Crockford base32. */
#ifndef CRM_ID_H
#define CRM_ID_H

#include <stdbool.h>
#include <stdint.h>

/* An id is a ULID (https://github.com/ulid/spec): 48 bits of Unix time in milliseconds followed by
 * 80 random bits, written as 26 upper-case Crockford base32 characters ("01HV4Z3K8X..."). Ids sort
 * by time as plain byte strings, so they make good LMDB keys. Ids from one generator are strictly
 * increasing: within one millisecond (or when the wall clock steps back) the generator adds one to
 * the random part of the last id instead of drawing a new one, as the spec says. Ids are unique,
 * not secret: the random bits come from a fast generator seeded once from getrandom(). */

#define CRM_ID_LEN      26                    /* characters */
#define CRM_ID_SIZE     (CRM_ID_LEN + 1)      /* bytes with the terminating NUL */
#define CRM_ID_MAX_TIME_MS ((UINT64_C(1) << 48) - 1)   /* the last millisecond a ULID can hold */

typedef struct crm_id_gen crm_id_gen_t;

/* Makes a generator seeded from getrandom(). Generators are thread-safe (a mutex guards the state),
 * so one per process is enough; ids from different generators are unique but not mutually
 * ordered within a millisecond. Do not use a generator on both sides of a fork(): both would draw
 * the same ids. Returns 0 and sets *gen_p (caller destroys), CRM_ENOMEM or CRM_EIO (getrandom
 * failed). */
int crm_id_gen_new(crm_id_gen_t **gen_p);

/* Frees the generator. Safe on NULL; sets *gen_p to NULL. */
void crm_id_gen_destroy(crm_id_gen_t **gen_p);

/* Writes the next id, NUL-terminated, into out. Returns 0, or CRM_ELIMIT when the clock is past
 * CRM_ID_MAX_TIME_MS (year 10889) or the generator's ids have run out; out is then an empty string. */
int crm_id_next(crm_id_gen_t *gen, char out[CRM_ID_SIZE]);

/* As crm_id_next, with now_ms standing for the wall clock (for tests, and to stamp ids with a
 * known time). The id's time is never before the time of the generator's previous id. */
int crm_id_next_at(crm_id_gen_t *gen, uint64_t now_ms, char out[CRM_ID_SIZE]);

/* Returns true when s is a canonical id: exactly CRM_ID_LEN upper-case Crockford base32 characters
 * (0-9, A-Z without I, L, O, U) whose value fits in 128 bits (first character 0-7). False for NULL.
 * Lower case and the Crockford look-alikes (I, L, O) are refused, so one id has one spelling. */
bool crm_id_valid(const char *s);

/* The millisecond Unix time stored in id s. Returns 0 and sets *ms, or CRM_EINVALID when s is not
 * a valid id. */
int crm_id_time_ms(const char *s, uint64_t *ms);

#endif
