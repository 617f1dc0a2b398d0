/* test_gateway_ratelimit.c: the token bucket per API key: burst, refill, retry time, separate keys, many keys. */
#include <criterion/criterion.h>
#include <stdio.h>

#include "crm_error.h"
#include "crm_test.h"
#include "gateway_ratelimit.h"

TestSuite(gateway_ratelimit, .fini = crm_test_check_leaks);

#define SECOND 1000000LL

Test(gateway_ratelimit, a_key_gets_its_burst_then_its_rate)
{
    gateway_ratelimit_t *rl = NULL;
    cr_assert_eq(gateway_ratelimit_new(10.0, 5, &rl), 0);
    int64_t t = 1000 * SECOND;
    int allowed = 0;
    for (int i = 0; i < 8; i++)
        allowed += gateway_ratelimit_take(rl, "K1", t, NULL);
    cr_assert_eq(allowed, 5, "the burst, then refused");
    unsigned retry = 0;
    cr_assert_not(gateway_ratelimit_take(rl, "K1", t, &retry));
    cr_assert_eq(retry, 1, "a tenth of a second rounds up to one");
    cr_assert_not(gateway_ratelimit_take(rl, "K1", t + SECOND / 20, NULL), "half a token is not one");
    cr_assert(gateway_ratelimit_take(rl, "K1", t + SECOND / 10, NULL), "a tenth of a second later: one more");
    /* Over a long run the rate holds: 10 a second. */
    allowed = 0;
    for (int i = 0; i < 1000; i++)
        allowed += gateway_ratelimit_take(rl, "K1", t + SECOND + (int64_t) i * (SECOND / 100), NULL);
    cr_assert(allowed >= 100 && allowed <= 106, "%d in 10 s at 10/s", allowed);
    /* Idle refills to the burst, never beyond. */
    allowed = 0;
    for (int i = 0; i < 20; i++)
        allowed += gateway_ratelimit_take(rl, "K1", t + 3600 * SECOND, NULL);
    cr_assert_eq(allowed, 5);
    gateway_ratelimit_destroy(&rl);
    cr_assert_null(rl);
    gateway_ratelimit_destroy(&rl);
}

Test(gateway_ratelimit, keys_are_separate_and_a_slow_rate_says_when_to_retry)
{
    gateway_ratelimit_t *rl = NULL;
    cr_assert_eq(gateway_ratelimit_new(0.1, 1, &rl), 0);
    int64_t t = 50 * SECOND;
    cr_assert(gateway_ratelimit_take(rl, "A", t, NULL));
    cr_assert(gateway_ratelimit_take(rl, "B", t, NULL), "another key has its own bucket");
    unsigned retry = 0;
    cr_assert_not(gateway_ratelimit_take(rl, "A", t, &retry));
    cr_assert_eq(retry, 10, "one request every 10 s");
    cr_assert(gateway_ratelimit_take(rl, "A", t + 10 * SECOND, NULL));
    gateway_ratelimit_destroy(&rl);
}

Test(gateway_ratelimit, more_keys_than_buckets_forget_the_stalest_only)
{
    gateway_ratelimit_t *rl = NULL;
    cr_assert_eq(gateway_ratelimit_new(1.0, 2, &rl), 0);
    int64_t t = 10 * SECOND;
    cr_assert(gateway_ratelimit_take(rl, "hot", t, NULL));
    cr_assert(gateway_ratelimit_take(rl, "hot", t, NULL));
    char key[32];
    size_t refused = 0;
    for (int i = 0; i < 3 * GATEWAY_RATELIMIT_KEYS_MAX; i++) {
        snprintf(key, sizeof key, "k%d", i);
        refused += !gateway_ratelimit_take(rl, key, t + 1 + i, NULL);
    }
    cr_assert_eq(refused, 0, "every new key starts with a full bucket");
    /* "hot" spent its burst of 2 at t; kept or forgotten, two seconds later it has 2 again, and
     * no third. */
    int64_t later = t + 3 * GATEWAY_RATELIMIT_KEYS_MAX + 2 * SECOND;
    cr_assert(gateway_ratelimit_take(rl, "hot", later, NULL));
    cr_assert(gateway_ratelimit_take(rl, "hot", later, NULL));
    cr_assert_not(gateway_ratelimit_take(rl, "hot", later, NULL));
    gateway_ratelimit_destroy(&rl);
    cr_assert_eq(gateway_ratelimit_new(0.0, 1, &rl), CRM_EINVALID);
    cr_assert_eq(gateway_ratelimit_new(1.0, 0, &rl), CRM_EINVALID);
    cr_assert_null(rl);
}
