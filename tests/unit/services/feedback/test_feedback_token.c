/* test_feedback_token.c: invitation tokens: random, URL-safe, of one shape, stored only as a hash. */
#include <criterion/criterion.h>
#include <sodium.h>
#include <string.h>

#include "crm_error.h"
#include "feedback_token.h"

#define TOKENS 200

static void s_init(void)
{
    cr_assert_geq(sodium_init(), 0);
}

TestSuite(feedback_token, .init = s_init);

Test(feedback_token, tokens_are_url_safe_and_distinct)
{
    static char tokens[TOKENS][FEEDBACK_TOKEN_SIZE];
    for (int i = 0; i < TOKENS; i++) {
        feedback_token_new(tokens[i]);
        cr_assert_eq(strlen(tokens[i]), FEEDBACK_TOKEN_LEN);
        cr_assert(feedback_token_valid(tokens[i]), "%s", tokens[i]);
        cr_assert_eq(strspn(tokens[i], "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
                     FEEDBACK_TOKEN_LEN);
        for (int j = 0; j < i; j++)
            cr_assert_str_neq(tokens[i], tokens[j]);
    }
}

Test(feedback_token, the_hash_is_stable_and_differs_from_the_token)
{
    char a[FEEDBACK_TOKEN_SIZE], b[FEEDBACK_TOKEN_SIZE];
    feedback_token_new(a);
    feedback_token_new(b);
    uint8_t ha[FEEDBACK_TOKEN_HASH_LEN], ha2[FEEDBACK_TOKEN_HASH_LEN], hb[FEEDBACK_TOKEN_HASH_LEN];
    cr_assert_eq(feedback_token_hash(a, ha), 0);
    cr_assert_eq(feedback_token_hash(a, ha2), 0);
    cr_assert_eq(feedback_token_hash(b, hb), 0);
    cr_assert_eq(memcmp(ha, ha2, sizeof ha), 0);
    cr_assert_neq(memcmp(ha, hb, sizeof ha), 0);
    cr_assert_neq(memcmp(ha, a, sizeof ha), 0, "the hash is not the token's text");
}

Test(feedback_token, malformed_tokens_are_refused)
{
    char t[FEEDBACK_TOKEN_SIZE];
    feedback_token_new(t);
    uint8_t h[FEEDBACK_TOKEN_HASH_LEN];
    cr_assert(!feedback_token_valid(NULL));
    cr_assert(!feedback_token_valid(""));
    char shorter[FEEDBACK_TOKEN_SIZE];
    memcpy(shorter, t, FEEDBACK_TOKEN_LEN - 1);
    shorter[FEEDBACK_TOKEN_LEN - 1] = '\0';
    cr_assert(!feedback_token_valid(shorter));
    cr_assert_eq(feedback_token_hash(shorter, h), CRM_EINVALID);
    char longer[FEEDBACK_TOKEN_SIZE + 1];
    snprintf(longer, sizeof longer, "%sA", t);
    cr_assert(!feedback_token_valid(longer));
    char bad[FEEDBACK_TOKEN_SIZE];
    memcpy(bad, t, sizeof bad);
    bad[10] = '/';
    cr_assert(!feedback_token_valid(bad), "standard base64 is not URL-safe");
    bad[10] = '.';
    cr_assert(!feedback_token_valid(bad));
}
