/* test_crm_id.c: ULID ids: uniqueness, strict order, monotonic bursts, validation, decoding. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crm_error.h"
#include "crm_id.h"
#include "crm_test.h"

/* Every test fails on leaked memory. */
TestSuite(crm_id, .fini = crm_test_check_leaks);

#define MANY_IDS 100000
#define THREADS 4
#define IDS_PER_THREAD 20000

static int
s_cmp_ids(const void *a, const void *b)
{
    return memcmp(a, b, CRM_ID_SIZE);
}

static uint64_t
s_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

Test(crm_id, next_makes_valid_ids_stamped_now)
{
    crm_id_gen_t *gen = NULL;
    cr_assert_eq(crm_id_gen_new(&gen), 0);
    uint64_t before = s_wall_ms();
    char id[CRM_ID_SIZE];
    cr_assert_eq(crm_id_next(gen, id), 0);
    uint64_t after = s_wall_ms();
    cr_assert_eq(strlen(id), CRM_ID_LEN);
    cr_assert(crm_id_valid(id), "%s", id);
    uint64_t ms = 0;
    cr_assert_eq(crm_id_time_ms(id, &ms), 0);
    cr_assert(ms >= before && ms <= after, "%llu not in [%llu, %llu]", (unsigned long long) ms,
              (unsigned long long) before, (unsigned long long) after);
    crm_id_gen_destroy(&gen);
    cr_assert_null(gen);
    crm_id_gen_destroy(&gen);       /* safe on NULL */
}

Test(crm_id, hundred_thousand_ids_are_unique_and_strictly_increasing)
{
    crm_id_gen_t *gen = NULL;
    cr_assert_eq(crm_id_gen_new(&gen), 0);
    char (*ids)[CRM_ID_SIZE] = malloc((size_t) MANY_IDS * CRM_ID_SIZE);
    cr_assert_not_null(ids);
    /* Violations are counted, not asserted one by one: Criterion's --full-stats reports every
     * assertion, which would make this loop crawl. */
    int failed = 0, unordered = 0, duplicates = 0;
    for (int i = 0; i < MANY_IDS; i++) {
        failed += crm_id_next(gen, ids[i]) != 0;
        unordered += i > 0 && strcmp(ids[i - 1], ids[i]) >= 0;
    }
    cr_assert_eq(failed, 0);
    cr_assert_eq(unordered, 0);
    /* No two are equal. */
    qsort(ids, MANY_IDS, CRM_ID_SIZE, s_cmp_ids);
    for (int i = 1; i < MANY_IDS; i++)
        duplicates += strcmp(ids[i - 1], ids[i]) == 0;
    cr_assert_eq(duplicates, 0);
    free(ids);
    crm_id_gen_destroy(&gen);
}

Test(crm_id, same_millisecond_increments_the_random_part)
{
    crm_id_gen_t *gen = NULL;
    cr_assert_eq(crm_id_gen_new(&gen), 0);
    const uint64_t t = UINT64_C(1700000000000);
    char a[CRM_ID_SIZE], b[CRM_ID_SIZE], c[CRM_ID_SIZE];
    cr_assert_eq(crm_id_next_at(gen, t, a), 0);
    cr_assert_eq(crm_id_next_at(gen, t, b), 0);
    /* The clock stepping back does not break the order. */
    cr_assert_eq(crm_id_next_at(gen, t - 1000, c), 0);
    cr_assert(strcmp(a, b) < 0 && strcmp(b, c) < 0, "%s %s %s", a, b, c);
    uint64_t ta, tb, tc;
    cr_assert_eq(crm_id_time_ms(a, &ta), 0);
    cr_assert_eq(crm_id_time_ms(b, &tb), 0);
    cr_assert_eq(crm_id_time_ms(c, &tc), 0);
    cr_assert_eq(ta, t);
    cr_assert_eq(tb, t);
    cr_assert_eq(tc, t);
    /* b is a plus one: unless the last character carries, only it changes, by one step. */
    static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    if (a[CRM_ID_LEN - 1] != 'Z') {
        cr_assert_eq(memcmp(a, b, CRM_ID_LEN - 1), 0, "%s then %s", a, b);
        cr_assert_eq(strchr(alphabet, b[CRM_ID_LEN - 1]) - strchr(alphabet, a[CRM_ID_LEN - 1]), 1);
    }
    /* A later millisecond draws fresh randomness with the new time. */
    char d[CRM_ID_SIZE];
    cr_assert_eq(crm_id_next_at(gen, t + 1, d), 0);
    uint64_t td;
    cr_assert_eq(crm_id_time_ms(d, &td), 0);
    cr_assert_eq(td, t + 1);
    cr_assert(strcmp(c, d) < 0);
    crm_id_gen_destroy(&gen);
}

Test(crm_id, known_encoding)
{
    /* The time part of a ULID is the first ten characters: 1469918176385 ms is "01ARYZ6S41" in
     * the spec's own example. */
    crm_id_gen_t *gen = NULL;
    cr_assert_eq(crm_id_gen_new(&gen), 0);
    char id[CRM_ID_SIZE];
    cr_assert_eq(crm_id_next_at(gen, UINT64_C(1469918176385), id), 0);
    cr_assert_eq(strncmp(id, "01ARYZ6S41", 10), 0, "%s", id);
    uint64_t ms = 0;
    cr_assert_eq(crm_id_time_ms("01ARYZ6S41TSV4RRFFQ69G5FAV", &ms), 0);
    cr_assert_eq(ms, UINT64_C(1469918176385));
    cr_assert_eq(crm_id_time_ms("7ZZZZZZZZZZZZZZZZZZZZZZZZZ", &ms), 0);
    cr_assert_eq(ms, CRM_ID_MAX_TIME_MS);
    crm_id_gen_destroy(&gen);
}

Test(crm_id, validation)
{
    cr_assert(crm_id_valid("01ARYZ6S41TSV4RRFFQ69G5FAV"));
    cr_assert(crm_id_valid("00000000000000000000000000"));
    cr_assert(crm_id_valid("7ZZZZZZZZZZZZZZZZZZZZZZZZZ"));
    cr_assert_not(crm_id_valid(NULL));
    cr_assert_not(crm_id_valid(""));
    cr_assert_not(crm_id_valid("01ARYZ6S41TSV4RRFFQ69G5FA"));     /* 25 */
    cr_assert_not(crm_id_valid("01ARYZ6S41TSV4RRFFQ69G5FAVX"));   /* 27 */
    cr_assert_not(crm_id_valid("8ZZZZZZZZZZZZZZZZZZZZZZZZZ"));    /* over 128 bits */
    cr_assert_not(crm_id_valid("01aryz6s41tsv4rrffq69g5fav"));    /* lower case */
    cr_assert_not(crm_id_valid("01ARYZ6S41TSV4RRFFQ69G5FAI"));    /* I */
    cr_assert_not(crm_id_valid("01ARYZ6S41TSV4RRFFQ69G5FAL"));    /* L */
    cr_assert_not(crm_id_valid("01ARYZ6S41TSV4RRFFQ69G5FAO"));    /* O */
    cr_assert_not(crm_id_valid("01ARYZ6S41TSV4RRFFQ69G5FAU"));    /* U */
    cr_assert_not(crm_id_valid("01ARYZ6S41TSV4RR-FQ69G5FAV"));
    cr_assert_not(crm_id_valid("01ARYZ6S41TSV4RR\0FQ69G5FAV"));
    uint64_t ms = 42;
    cr_assert_eq(crm_id_time_ms("not an id", &ms), CRM_EINVALID);
    cr_assert_eq(crm_id_time_ms(NULL, &ms), CRM_EINVALID);
    cr_assert_eq(ms, 42);
}

Test(crm_id, end_of_time_is_refused)
{
    crm_id_gen_t *gen = NULL;
    cr_assert_eq(crm_id_gen_new(&gen), 0);
    char id[CRM_ID_SIZE];
    cr_assert_eq(crm_id_next_at(gen, CRM_ID_MAX_TIME_MS, id), 0);
    cr_assert(crm_id_valid(id));
    cr_assert_eq(crm_id_next_at(gen, CRM_ID_MAX_TIME_MS + 1, id), CRM_ELIMIT);
    cr_assert_eq(id[0], '\0');
    cr_assert_eq(crm_id_next_at(gen, CRM_ID_MAX_TIME_MS, id), CRM_ELIMIT);
    crm_id_gen_destroy(&gen);
}

Test(crm_id, generators_differ)
{
    crm_id_gen_t *g1 = NULL, *g2 = NULL;
    cr_assert_eq(crm_id_gen_new(&g1), 0);
    cr_assert_eq(crm_id_gen_new(&g2), 0);
    char a[CRM_ID_SIZE], b[CRM_ID_SIZE];
    cr_assert_eq(crm_id_next_at(g1, 1000, a), 0);
    cr_assert_eq(crm_id_next_at(g2, 1000, b), 0);
    cr_assert_str_neq(a, b);      /* 80 random bits each */
    crm_id_gen_destroy(&g1);
    crm_id_gen_destroy(&g2);
}

typedef struct {
    crm_id_gen_t *gen;
    char (*ids)[CRM_ID_SIZE];
} s_worker_t;

static void *
s_worker(void *arg)
{
    s_worker_t *w = arg;
    for (int i = 0; i < IDS_PER_THREAD; i++)
        if (crm_id_next(w->gen, w->ids[i]) != 0)
            return (void *) 1;
    return NULL;
}

Test(crm_id, one_generator_shared_by_threads)
{
    crm_id_gen_t *gen = NULL;
    cr_assert_eq(crm_id_gen_new(&gen), 0);
    char (*ids)[CRM_ID_SIZE] = malloc((size_t) THREADS * IDS_PER_THREAD * CRM_ID_SIZE);
    cr_assert_not_null(ids);
    pthread_t threads[THREADS];
    s_worker_t workers[THREADS];
    uint64_t before = s_wall_ms();
    for (int t = 0; t < THREADS; t++) {
        workers[t] = (s_worker_t) { .gen = gen, .ids = ids + (size_t) t * IDS_PER_THREAD };
        cr_assert_eq(pthread_create(&threads[t], NULL, s_worker, &workers[t]), 0);
    }
    for (int t = 0; t < THREADS; t++) {
        void *res = NULL;
        pthread_join(threads[t], &res);
        cr_assert_null(res);
    }
    /* Each thread sees its own ids increase; all ids together are distinct. */
    int unordered = 0, duplicates = 0;
    for (int t = 0; t < THREADS; t++)
        for (int i = 1; i < IDS_PER_THREAD; i++)
            unordered += strcmp(workers[t].ids[i - 1], workers[t].ids[i]) >= 0;
    cr_assert_eq(unordered, 0);
    qsort(ids, (size_t) THREADS * IDS_PER_THREAD, CRM_ID_SIZE, s_cmp_ids);
    for (size_t i = 1; i < (size_t) THREADS * IDS_PER_THREAD; i++)
        duplicates += strcmp(ids[i - 1], ids[i]) == 0;
    cr_assert_eq(duplicates, 0);
    /* The smallest and largest ids were made while the threads ran. */
    uint64_t first = 0, last = 0, after = s_wall_ms();
    cr_assert_eq(crm_id_time_ms(ids[0], &first), 0);
    cr_assert_eq(crm_id_time_ms(ids[(size_t) THREADS * IDS_PER_THREAD - 1], &last), 0);
    cr_assert(first >= before && last <= after);
    free(ids);
    crm_id_gen_destroy(&gen);
}
