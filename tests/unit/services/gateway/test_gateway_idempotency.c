/* test_gateway_idempotency.c: the Idempotency-Key store: reserve, replay, mismatch, in progress, expiry, purge. */
#include <criterion/criterion.h>
#include <string.h>

#include "gateway_fixture.h"
#include "gateway_idempotency.h"

#define TTL_US     (3600LL * 1000000)
#define PENDING_US (10LL * 1000000)
#define NOW        (1800000000LL * 1000000)
#define KEY_ID     "01ARZ3NDEKTSV4RRFFQ69G5FAV"

static gateway_fixture_t fx;
static gateway_idem_t *idem;

static void
s_setup(void)
{
    memset(&fx, 0, sizeof fx);
    gateway_fixture_open(&fx);
    cr_assert_eq(gateway_idem_new(&fx.ctx, TTL_US, PENDING_US, &idem), 0);
}

static void
s_teardown(void)
{
    gateway_idem_destroy(&idem);
    gateway_fixture_destroy(&fx);
    crm_test_check_leaks();
}

TestSuite(gateway_idempotency, .init = s_setup, .fini = s_teardown);

static gateway_idem_outcome_t
s_begin(const char *key_id, const char *key, const unsigned char *hash, int64_t now,
        gateway_answer_t *stored)
{
    gateway_idem_outcome_t outcome = (gateway_idem_outcome_t) -1;
    cr_assert_eq(gateway_idem_begin(idem, key_id, key, hash, now, &outcome, stored), 0);
    return outcome;
}

static void
s_answer(gateway_answer_t *a, unsigned status, const char *body)
{
    memset(a, 0, sizeof *a);
    cr_assert_eq(gateway_answer_text(a, status, "application/json", body, strlen(body)), 0);
    snprintf(a->etag, sizeof a->etag, "\"1\"");
    snprintf(a->location, sizeof a->location, "/v1/contacts/X");
}

Test(gateway_idempotency, hashes_tell_requests_apart)
{
    unsigned char a[GATEWAY_IDEM_HASH_SIZE], b[GATEWAY_IDEM_HASH_SIZE], c[GATEWAY_IDEM_HASH_SIZE];
    gateway_idem_hash("POST", "/v1/contacts?", "{\"a\":1}", 7, a);
    gateway_idem_hash("POST", "/v1/contacts?", "{\"a\":1}", 7, b);
    cr_assert_eq(memcmp(a, b, sizeof a), 0);
    gateway_idem_hash("POST", "/v1/contacts?", "{\"a\":2}", 7, c);
    cr_assert_neq(memcmp(a, c, sizeof a), 0);
    gateway_idem_hash("PATCH", "/v1/contacts?", "{\"a\":1}", 7, c);
    cr_assert_neq(memcmp(a, c, sizeof a), 0);
    /* Moving a byte between parts changes the hash (parts are length-prefixed). */
    gateway_idem_hash("POST", "/v1/contacts", "?{\"a\":1}", 8, c);
    cr_assert_neq(memcmp(a, c, sizeof a), 0);
    gateway_idem_hash("GET", "/x", NULL, 0, c);
}

Test(gateway_idempotency, the_first_answer_is_replayed_to_a_repeat)
{
    unsigned char h[GATEWAY_IDEM_HASH_SIZE];
    gateway_idem_hash("POST", "/v1/contacts?", "{}", 2, h);
    gateway_answer_t stored = { 0 };
    cr_assert_eq(s_begin(KEY_ID, "k-1", h, NOW, &stored), GATEWAY_IDEM_PROCEED);
    cr_assert_eq(stored.status, 0);
    /* While it runs, a concurrent repeat must not run too. */
    cr_assert_eq(s_begin(KEY_ID, "k-1", h, NOW + 1, &stored), GATEWAY_IDEM_IN_PROGRESS);
    gateway_answer_t first;
    s_answer(&first, 201, "{\"id\":\"X\"}");
    cr_assert_eq(gateway_idem_finish(idem, KEY_ID, "k-1", h, &first), 0);
    cr_assert_eq(s_begin(KEY_ID, "k-1", h, NOW + 2, &stored), GATEWAY_IDEM_REPLAY);
    cr_assert_eq(stored.status, 201);
    cr_assert(stored.replayed);
    cr_assert_str_eq(stored.content_type, "application/json");
    cr_assert_str_eq(stored.etag, "\"1\"");
    cr_assert_str_eq(stored.location, "/v1/contacts/X");
    cr_assert_eq(stored.body_len, first.body_len);
    cr_assert_eq(memcmp(stored.body, first.body, first.body_len), 0);
    gateway_answer_clear(&stored);
    gateway_answer_clear(&first);
}

Test(gateway_idempotency, the_same_key_with_another_request_is_a_mismatch)
{
    unsigned char h1[GATEWAY_IDEM_HASH_SIZE], h2[GATEWAY_IDEM_HASH_SIZE];
    gateway_idem_hash("POST", "/v1/contacts?", "{\"name\":\"a\"}", 12, h1);
    gateway_idem_hash("POST", "/v1/contacts?", "{\"name\":\"b\"}", 12, h2);
    gateway_answer_t stored = { 0 };
    cr_assert_eq(s_begin(KEY_ID, "k", h1, NOW, &stored), GATEWAY_IDEM_PROCEED);
    cr_assert_eq(s_begin(KEY_ID, "k", h2, NOW, &stored), GATEWAY_IDEM_MISMATCH, "even while running");
    gateway_answer_t first;
    s_answer(&first, 200, "{}");
    cr_assert_eq(gateway_idem_finish(idem, KEY_ID, "k", h1, &first), 0);
    cr_assert_eq(s_begin(KEY_ID, "k", h2, NOW, &stored), GATEWAY_IDEM_MISMATCH);
    /* Keys are per API key: another caller's "k" is its own. */
    cr_assert_eq(s_begin("01BX5ZZKBKACTAV9WEVGEMMVRZ", "k", h2, NOW, &stored), GATEWAY_IDEM_PROCEED);
    gateway_answer_clear(&first);
}

Test(gateway_idempotency, server_errors_are_not_kept)
{
    unsigned char h[GATEWAY_IDEM_HASH_SIZE];
    gateway_idem_hash("DELETE", "/v1/contacts/X?", NULL, 0, h);
    gateway_answer_t stored = { 0 }, failed;
    cr_assert_eq(s_begin(KEY_ID, "k", h, NOW, &stored), GATEWAY_IDEM_PROCEED);
    s_answer(&failed, 503, "{}");
    cr_assert_eq(gateway_idem_finish(idem, KEY_ID, "k", h, &failed), 0);
    cr_assert_eq(s_begin(KEY_ID, "k", h, NOW, &stored), GATEWAY_IDEM_PROCEED, "a retry runs again");
    gateway_answer_clear(&failed);
    s_answer(&failed, 404, "{}");
    cr_assert_eq(gateway_idem_finish(idem, KEY_ID, "k", h, &failed), 0);
    cr_assert_eq(s_begin(KEY_ID, "k", h, NOW, &stored), GATEWAY_IDEM_REPLAY, "client errors are kept");
    cr_assert_eq(stored.status, 404);
    gateway_answer_clear(&stored);
    gateway_answer_clear(&failed);
}

Test(gateway_idempotency, abandoned_and_expired_entries_are_taken_over)
{
    unsigned char h1[GATEWAY_IDEM_HASH_SIZE], h2[GATEWAY_IDEM_HASH_SIZE];
    gateway_idem_hash("POST", "/a?", "1", 1, h1);
    gateway_idem_hash("POST", "/a?", "2", 1, h2);
    gateway_answer_t stored = { 0 }, a;
    cr_assert_eq(s_begin(KEY_ID, "gone", h1, NOW, &stored), GATEWAY_IDEM_PROCEED);
    /* The gateway died mid-request: after the pending time-out the key is free again. */
    cr_assert_eq(s_begin(KEY_ID, "gone", h1, NOW + PENDING_US - 1, &stored), GATEWAY_IDEM_IN_PROGRESS);
    cr_assert_eq(s_begin(KEY_ID, "gone", h1, NOW + PENDING_US + 1, &stored), GATEWAY_IDEM_PROCEED);
    s_answer(&a, 201, "{}");
    cr_assert_eq(gateway_idem_finish(idem, KEY_ID, "gone", h1, &a), 0);
    /* A finished answer is kept for the TTL, then the key may serve another request. */
    int64_t then = NOW + PENDING_US + 1;
    cr_assert_eq(s_begin(KEY_ID, "gone", h2, then + TTL_US - 1, &stored), GATEWAY_IDEM_MISMATCH);
    cr_assert_eq(s_begin(KEY_ID, "gone", h2, then + TTL_US + 1, &stored), GATEWAY_IDEM_PROCEED);
    gateway_answer_clear(&a);
}

Test(gateway_idempotency, purge_removes_only_old_entries)
{
    unsigned char h[GATEWAY_IDEM_HASH_SIZE];
    gateway_idem_hash("POST", "/a?", "x", 1, h);
    gateway_answer_t stored = { 0 }, a;
    s_answer(&a, 200, "{}");
    char key[16];
    for (int i = 0; i < 10; i++) {
        snprintf(key, sizeof key, "old-%d", i);
        cr_assert_eq(s_begin(KEY_ID, key, h, NOW + i, &stored), GATEWAY_IDEM_PROCEED);
        cr_assert_eq(gateway_idem_finish(idem, KEY_ID, key, h, &a), 0);
    }
    cr_assert_eq(s_begin(KEY_ID, "new", h, NOW + TTL_US, &stored), GATEWAY_IDEM_PROCEED);
    size_t purged = 99;
    cr_assert_eq(gateway_idem_purge(idem, NOW + TTL_US + 5, &purged), 0);
    cr_assert_eq(purged, 5, "entries made before now - ttl go");
    cr_assert_eq(gateway_idem_purge(idem, NOW + TTL_US + 5, &purged), 0);
    cr_assert_eq(purged, 0);
    /* old-7 is still there (replayed), old-2 is gone (a fresh start). */
    cr_assert_eq(s_begin(KEY_ID, "old-7", h, NOW + 10, &stored), GATEWAY_IDEM_REPLAY);
    gateway_answer_clear(&stored);
    cr_assert_eq(s_begin(KEY_ID, "old-2", h, NOW + 10, &stored), GATEWAY_IDEM_PROCEED);
    cr_assert_eq(s_begin(KEY_ID, "new", h, NOW + TTL_US, &stored), GATEWAY_IDEM_IN_PROGRESS);
    gateway_answer_clear(&a);
}

Test(gateway_idempotency, keys_are_bounded_printable_text)
{
    cr_assert(gateway_idem_key_acceptable("a"));
    cr_assert(gateway_idem_key_acceptable("4b5c1f2e-9d3a-4c1b-8f7e-1a2b3c4d5e6f"));
    cr_assert_not(gateway_idem_key_acceptable(""));
    cr_assert_not(gateway_idem_key_acceptable(NULL));
    cr_assert_not(gateway_idem_key_acceptable("tab\tkey"));
    cr_assert_not(gateway_idem_key_acceptable("caf\xc3\xa9"));
    char longest[GATEWAY_IDEM_KEY_MAX + 2];
    memset(longest, 'k', sizeof longest);
    longest[GATEWAY_IDEM_KEY_MAX] = '\0';
    cr_assert(gateway_idem_key_acceptable(longest));
    longest[GATEWAY_IDEM_KEY_MAX] = 'k';
    longest[GATEWAY_IDEM_KEY_MAX + 1] = '\0';
    cr_assert_not(gateway_idem_key_acceptable(longest));
    unsigned char h[GATEWAY_IDEM_HASH_SIZE] = { 0 };
    gateway_idem_outcome_t outcome;
    gateway_answer_t stored = { 0 };
    cr_assert_eq(gateway_idem_begin(idem, KEY_ID, longest, h, NOW, &outcome, &stored), CRM_EINVALID);
}
