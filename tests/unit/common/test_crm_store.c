/* test_crm_store.c: the LMDB store: records, cursors, growth, threads, processes, backup. */
#include "crm_error.h"
#include "crm_store.h"
#include "crm_test.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define TINY_MAP        ((size_t) 64 << 10)     /* 64 KiB: the first write that matters grows it */
#define BIG_MAX_MAP     ((size_t) 64 << 20)
#define VALUE_SIZE      4000                    /* bulk values: one overflow page (4 KiB) each */
#define THREAD_WRITERS  4
#define THREAD_READERS  2
#define WRITES_EACH     100

static char s_dir[CRM_TEST_PATH_MAX];
static char s_path[CRM_TEST_PATH_MAX];

/* Writes s_dir/name into out (size CRM_TEST_PATH_MAX). */
static void
s_join(char *out, const char *name)
{
    int n = snprintf(out, CRM_TEST_PATH_MAX, "%s/%s", s_dir, name);
    cr_assert(n > 0 && n < CRM_TEST_PATH_MAX, "path too long");
}

static void
s_setup(void)
{
    crm_test_tmpdir(s_dir);
    s_join(s_path, "store");
}

static void
s_teardown(void)
{
    crm_test_rmtree(s_dir);
    crm_test_check_leaks();
}

TestSuite(store, .init = s_setup, .fini = s_teardown, .timeout = 60);

/* --- Helpers: write bodies are plain functions over an argument struct. */

static crm_store_options_t
s_tiny(size_t max_map)
{
    return (crm_store_options_t) { .map_size = TINY_MAP, .max_map_size = max_map, .no_sync = true };
}

static crm_store_t *
s_open(const crm_store_options_t *opts)
{
    crm_store_t *store = NULL;
    int rc = crm_store_open(s_path, opts, &store);
    cr_assert_eq(rc, 0, "open: %s", crm_errname(rc));
    cr_assert_not_null(store);
    return store;
}

static crm_db_t
s_db(crm_store_t *store, const char *name)
{
    crm_db_t db;
    int rc = crm_store_db(store, name, &db);
    cr_assert_eq(rc, 0, "db %s: %s", name, crm_errname(rc));
    return db;
}

typedef struct {
    crm_db_t db;
    const char *key;
    const char *value;
    unsigned flags;
} put_t;

static int
s_put_body(crm_txn_t *txn, void *arg)
{
    put_t *put = arg;
    return crm_store_put(txn, put->db, put->key, strlen(put->key), put->value, strlen(put->value),
                         put->flags);
}

static int
s_put(crm_store_t *store, crm_db_t db, const char *key, const char *value, unsigned flags)
{
    put_t put = { db, key, value, flags };
    return crm_store_write(store, s_put_body, &put);
}

static int
s_del_body(crm_txn_t *txn, void *arg)
{
    put_t *del = arg;
    return crm_store_del(txn, del->db, del->key, strlen(del->key));
}

/* Reads key as a string into out (size 64). Returns the crm_store_get result. */
static int
s_get(crm_store_t *store, crm_db_t db, const char *key, char *out)
{
    crm_txn_t *txn = NULL;
    int rc = crm_store_read_begin(store, &txn);
    cr_assert_eq(rc, 0, "read_begin: %s", crm_errname(rc));
    crm_val_t val;
    rc = crm_store_get(txn, db, key, strlen(key), &val);
    if (rc == 0) {
        cr_assert_lt(val.size, 64);
        memcpy(out, val.data, val.size);
        out[val.size] = '\0';
    }
    crm_store_txn_end(&txn);
    cr_assert_null(txn);
    return rc;
}

static uint64_t
s_count(crm_store_t *store, crm_db_t db)
{
    crm_txn_t *txn = NULL;
    cr_assert_eq(crm_store_read_begin(store, &txn), 0);
    uint64_t count = 0;
    cr_assert_eq(crm_store_count(txn, db, &count), 0);
    crm_store_txn_end(&txn);
    return count;
}

/* Composite keys: customer id then sequence, both big-endian, so byte order is numeric order. */
static void
s_key(uint32_t customer, uint32_t seq, uint8_t key[8])
{
    for (int i = 0; i < 4; i++) {
        key[i] = (uint8_t) (customer >> (24 - 8 * i));
        key[4 + i] = (uint8_t) (seq >> (24 - 8 * i));
    }
}

static uint32_t
s_key_part(const crm_val_t *key, int part)
{
    cr_assert_eq(key->size, 8);
    const uint8_t *b = (const uint8_t *) key->data + 4 * part;
    return (uint32_t) b[0] << 24 | (uint32_t) b[1] << 16 | (uint32_t) b[2] << 8 | b[3];
}

static void
s_fill(uint8_t *value, size_t size, uint32_t i)
{
    memset(value, (int) ((i * 31u + 7u) & 0xffu), size);
    memcpy(value, &i, sizeof i);
}

/* Bulk: writes keys first..first+count-1 of VALUE_SIZE bytes each; counts the runs of the body. */
typedef struct {
    crm_db_t db;
    uint32_t first;
    uint32_t count;
    unsigned runs;
    atomic_bool entered;        /* set on the first run, for tests that race a writer */
} bulk_t;

static int
s_bulk_body(crm_txn_t *txn, void *arg)
{
    bulk_t *bulk = arg;
    bulk->runs++;
    atomic_store(&bulk->entered, true);
    uint8_t value[VALUE_SIZE];
    for (uint32_t i = bulk->first; i < bulk->first + bulk->count; i++) {
        uint8_t key[8];
        s_key(0, i, key);
        s_fill(value, sizeof value, i);
        int rc = crm_store_put(txn, bulk->db, key, sizeof key, value, sizeof value, 0);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Checks that keys first..first+count-1 hold their bulk values. */
static void
s_bulk_check(crm_store_t *store, crm_db_t db, uint32_t first, uint32_t count)
{
    crm_txn_t *txn = NULL;
    cr_assert_eq(crm_store_read_begin(store, &txn), 0);
    uint8_t expect[VALUE_SIZE];
    for (uint32_t i = first; i < first + count; i++) {
        uint8_t key[8];
        s_key(0, i, key);
        crm_val_t val;
        int rc = crm_store_get(txn, db, key, sizeof key, &val);
        cr_assert_eq(rc, 0, "key %u: %s", i, crm_errname(rc));
        s_fill(expect, sizeof expect, i);
        cr_assert_eq(val.size, sizeof expect);
        cr_assert(memcmp(val.data, expect, sizeof expect) == 0, "key %u holds the wrong value", i);
    }
    crm_store_txn_end(&txn);
}

static crm_store_stat_t
s_stat(crm_store_t *store)
{
    crm_store_stat_t stat;
    cr_assert_eq(crm_store_stat(store, &stat), 0);
    return stat;
}

/* --- Records */

Test(store, put_get_del_overwrite)
{
    crm_store_t *store = s_open(NULL);
    crm_db_t db = s_db(store, "contacts");
    char out[64];

    cr_assert_eq(s_get(store, db, "c1", out), CRM_ENOTFOUND);
    cr_assert_eq(s_put(store, db, "c1", "alice", 0), 0);
    cr_assert_eq(s_get(store, db, "c1", out), 0);
    cr_assert_str_eq(out, "alice");

    cr_assert_eq(s_put(store, db, "c1", "alicia", 0), 0);       /* overwrite */
    cr_assert_eq(s_get(store, db, "c1", out), 0);
    cr_assert_str_eq(out, "alicia");

    cr_assert_eq(s_put(store, db, "c1", "mallory", CRM_STORE_NOOVERWRITE), CRM_EEXISTS);
    cr_assert_eq(s_get(store, db, "c1", out), 0);
    cr_assert_str_eq(out, "alicia");
    cr_assert_eq(s_put(store, db, "c2", "bob", CRM_STORE_NOOVERWRITE), 0);
    cr_assert_eq(s_count(store, db), 2);

    put_t del = { db, "c1", NULL, 0 };
    cr_assert_eq(crm_store_write(store, s_del_body, &del), 0);
    cr_assert_eq(s_get(store, db, "c1", out), CRM_ENOTFOUND);
    cr_assert_eq(crm_store_write(store, s_del_body, &del), CRM_ENOTFOUND);
    cr_assert_eq(s_count(store, db), 1);

    /* Databases are separate key spaces; crm_store_db returns the same handle again. */
    crm_db_t other = s_db(store, "loyalty");
    cr_assert_neq(other, db);
    cr_assert_eq(s_get(store, other, "c2", out), CRM_ENOTFOUND);
    cr_assert_eq(s_db(store, "contacts"), db);

    crm_store_destroy(&store);
    cr_assert_null(store);
    crm_store_destroy(&store);   /* safe on NULL */
}

typedef struct {
    crm_db_t db;
    int out_of_order;
    int equal;
    int equal_nooverwrite;
    int after;
} append_t;

static int
s_append_body(crm_txn_t *txn, void *arg)
{
    append_t *a = arg;
    uint8_t key[8];
    for (uint32_t seq = 1; seq <= 10; seq++) {
        s_key(1, seq, key);
        int rc = crm_store_put(txn, a->db, key, sizeof key, "e", 1, CRM_STORE_APPEND);
        if (rc != 0)
            return rc;
    }
    s_key(1, 5, key);
    a->out_of_order = crm_store_put(txn, a->db, key, sizeof key, "x", 1, CRM_STORE_APPEND);
    s_key(1, 10, key);
    a->equal = crm_store_put(txn, a->db, key, sizeof key, "x", 1, CRM_STORE_APPEND);
    a->equal_nooverwrite = crm_store_put(txn, a->db, key, sizeof key, "x", 1,
                                         CRM_STORE_APPEND | CRM_STORE_NOOVERWRITE);
    /* A refused append leaves the transaction usable. */
    s_key(1, 11, key);
    a->after = crm_store_put(txn, a->db, key, sizeof key, "e", 1, CRM_STORE_APPEND);
    return 0;
}

Test(store, append_order)
{
    crm_store_t *store = s_open(NULL);
    append_t a = { .db = s_db(store, "outbox") };
    cr_assert_eq(crm_store_write(store, s_append_body, &a), 0);
    cr_assert_eq(a.out_of_order, CRM_EINVALID);
    cr_assert_eq(a.equal, CRM_EINVALID);
    cr_assert_eq(a.equal_nooverwrite, CRM_EEXISTS);
    cr_assert_eq(a.after, 0);
    cr_assert_eq(s_count(store, a.db), 11);

    crm_txn_t *txn = NULL;
    cr_assert_eq(crm_store_read_begin(store, &txn), 0);
    uint8_t key[8];
    s_key(1, 5, key);
    crm_val_t val;
    cr_assert_eq(crm_store_get(txn, a.db, key, sizeof key, &val), 0);
    cr_assert_eq(val.size, 1);
    cr_assert_eq(*(const char *) val.data, 'e', "the refused append must not overwrite");
    crm_store_txn_end(&txn);
    crm_store_destroy(&store);
}

/* --- Cursors */

typedef struct {
    crm_db_t db;
    uint32_t customer;
} cust_t;

static int
s_fill_customers(crm_txn_t *txn, void *arg)
{
    crm_db_t db = *(crm_db_t *) arg;
    /* Inserted out of order on purpose: the store sorts. */
    for (uint32_t customer = 3; customer >= 1; customer--) {
        for (uint32_t seq = 1; seq <= 5; seq++) {
            uint8_t key[8];
            s_key(customer, seq, key);
            char value[16];
            int len = snprintf(value, sizeof value, "%u/%u", customer, seq);
            int rc = crm_store_put(txn, db, key, sizeof key, value, (size_t) len, 0);
            if (rc != 0)
                return rc;
        }
    }
    return 0;
}

/* Deletes every entry of one customer through a cursor: seek to the prefix, delete while it
 * matches (after a delete the cursor's next entry is the one that followed the deleted one). */
static int
s_delete_customer(crm_txn_t *txn, void *arg)
{
    cust_t *c = arg;
    crm_cursor_t *cursor = NULL;
    int rc = crm_cursor_open(txn, c->db, &cursor);
    if (rc != 0)
        return rc;
    uint8_t prefix[8];
    s_key(c->customer, 0, prefix);
    crm_val_t k;
    for (rc = crm_cursor_seek(cursor, prefix, sizeof prefix, &k, NULL);
         rc == 0 && memcmp(k.data, prefix, 4) == 0;
         rc = crm_cursor_next(cursor, &k, NULL)) {
        rc = crm_cursor_del(cursor);
        if (rc != 0)
            goto out;
    }
    rc = rc == CRM_ENOTFOUND ? 0 : rc;
out:
    crm_cursor_close(&cursor);
    return rc;
}

Test(store, cursor_over_composite_keys)
{
    crm_store_t *store = s_open(NULL);
    crm_db_t db = s_db(store, "events");
    cr_assert_eq(crm_store_write(store, s_fill_customers, &db), 0);

    crm_txn_t *txn = NULL;
    crm_cursor_t *cursor = NULL;
    cr_assert_eq(crm_store_read_begin(store, &txn), 0);
    cr_assert_eq(crm_cursor_open(txn, db, &cursor), 0);
    crm_val_t k, v;

    /* All events of customer 2, in order: seek to (2, 0), walk while the prefix matches. */
    uint8_t prefix[8];
    s_key(2, 0, prefix);
    uint32_t seen = 0;
    int rc;
    for (rc = crm_cursor_seek(cursor, prefix, sizeof prefix, &k, &v);
         rc == 0 && s_key_part(&k, 0) == 2; rc = crm_cursor_next(cursor, &k, &v)) {
        seen++;
        cr_assert_eq(s_key_part(&k, 1), seen);
        char expect[16];
        snprintf(expect, sizeof expect, "2/%u", seen);
        cr_assert_eq(v.size, strlen(expect));
        cr_assert(memcmp(v.data, expect, v.size) == 0);
    }
    cr_assert_eq(rc, 0);   /* stopped on (3, 1) */
    cr_assert_eq(seen, 5);
    cr_assert_eq(s_key_part(&k, 0), 3);

    /* Back from the start of customer 2 lands on the end of customer 1. */
    cr_assert_eq(crm_cursor_seek(cursor, prefix, sizeof prefix, &k, NULL), 0);
    cr_assert_eq(crm_cursor_prev(cursor, &k, NULL), 0);
    cr_assert_eq(s_key_part(&k, 0), 1);
    cr_assert_eq(s_key_part(&k, 1), 5);

    cr_assert_eq(crm_cursor_first(cursor, &k, NULL), 0);
    cr_assert_eq(s_key_part(&k, 0), 1);
    cr_assert_eq(s_key_part(&k, 1), 1);
    cr_assert_eq(crm_cursor_prev(cursor, &k, NULL), CRM_ENOTFOUND);

    cr_assert_eq(crm_cursor_last(cursor, &k, &v), 0);
    cr_assert_eq(s_key_part(&k, 0), 3);
    cr_assert_eq(s_key_part(&k, 1), 5);
    cr_assert_eq(crm_cursor_next(cursor, NULL, NULL), CRM_ENOTFOUND);

    uint8_t beyond[8];
    s_key(9, 0, beyond);
    cr_assert_eq(crm_cursor_seek(cursor, beyond, sizeof beyond, &k, &v), CRM_ENOTFOUND);
    crm_cursor_close(&cursor);
    cr_assert_null(cursor);
    crm_cursor_close(&cursor);   /* safe on NULL */
    crm_store_txn_end(&txn);

    /* Deleting through a cursor in a write transaction. */
    cust_t c = { db, 2 };
    cr_assert_eq(crm_store_write(store, s_delete_customer, &c), 0);
    cr_assert_eq(s_count(store, db), 10);
    cr_assert_eq(crm_store_read_begin(store, &txn), 0);
    cr_assert_eq(crm_cursor_open(txn, db, &cursor), 0);
    cr_assert_eq(crm_cursor_seek(cursor, prefix, sizeof prefix, &k, NULL), 0);
    cr_assert_eq(s_key_part(&k, 0), 3);
    crm_cursor_close(&cursor);
    crm_store_txn_end(&txn);
    crm_store_destroy(&store);
}

Test(store, cursor_outlives_its_transaction_until_closed)
{
    crm_store_t *store = s_open(NULL);
    crm_db_t db = s_db(store, "events");
    cr_assert_eq(crm_store_write(store, s_fill_customers, &db), 0);
    crm_txn_t *txn = NULL;
    crm_cursor_t *a = NULL, *b = NULL;
    cr_assert_eq(crm_store_read_begin(store, &txn), 0);
    cr_assert_eq(crm_cursor_open(txn, db, &a), 0);
    cr_assert_eq(crm_cursor_open(txn, db, &b), 0);
    cr_assert_eq(crm_cursor_first(a, NULL, NULL), 0);
    crm_store_txn_end(&txn);   /* detaches both; they still need closing (ASan checks) */
    crm_cursor_close(&b);
    crm_cursor_close(&a);
    cr_assert_null(a);
    crm_store_destroy(&store);
}

/* --- Write transactions */

static int
s_abort_body(crm_txn_t *txn, void *arg)
{
    crm_db_t db = *(crm_db_t *) arg;
    int rc = crm_store_put(txn, db, "k1", 2, "v", 1, 0);
    if (rc == 0)
        rc = crm_store_put(txn, db, "k2", 2, "v", 1, 0);
    if (rc == 0)
        rc = crm_store_del(txn, db, "kept", 4);
    return rc != 0 ? rc : CRM_ECONFLICT;   /* the body decides to abort */
}

Test(store, aborting_body_writes_nothing)
{
    crm_store_t *store = s_open(NULL);
    crm_db_t db = s_db(store, "d");
    cr_assert_eq(s_put(store, db, "kept", "v", 0), 0);
    cr_assert_eq(crm_store_write(store, s_abort_body, &db), CRM_ECONFLICT);
    char out[64];
    cr_assert_eq(s_get(store, db, "k1", out), CRM_ENOTFOUND);
    cr_assert_eq(s_get(store, db, "k2", out), CRM_ENOTFOUND);
    cr_assert_eq(s_get(store, db, "kept", out), 0);
    cr_assert_eq(s_count(store, db), 1);
    crm_store_destroy(&store);
}

Test(store, read_snapshot_does_not_see_later_write)
{
    crm_store_t *store = s_open(NULL);
    crm_db_t db = s_db(store, "d");
    cr_assert_eq(s_put(store, db, "k", "old", 0), 0);
    crm_txn_t *snapshot = NULL;
    cr_assert_eq(crm_store_read_begin(store, &snapshot), 0);
    /* Writing while holding a snapshot works as long as the map need not grow. */
    cr_assert_eq(s_put(store, db, "k", "new", 0), 0);
    cr_assert_eq(s_put(store, db, "k2", "added", 0), 0);

    crm_val_t val;
    cr_assert_eq(crm_store_get(snapshot, db, "k", 1, &val), 0);
    cr_assert_eq(val.size, 3);
    cr_assert(memcmp(val.data, "old", 3) == 0);
    cr_assert_eq(crm_store_get(snapshot, db, "k2", 2, &val), CRM_ENOTFOUND);
    uint64_t count;
    cr_assert_eq(crm_store_count(snapshot, db, &count), 0);
    cr_assert_eq(count, 1);
    crm_store_txn_end(&snapshot);

    char out[64];
    cr_assert_eq(s_get(store, db, "k", out), 0);
    cr_assert_str_eq(out, "new");
    cr_assert_eq(s_count(store, db), 2);
    crm_store_destroy(&store);
}

typedef struct {
    crm_db_t db;
    int put_empty, put_long, get_empty, get_long, del_empty, seek_long, put_max;
} keysize_t;

static int
s_keysize_body(crm_txn_t *txn, void *arg)
{
    keysize_t *t = arg;
    uint8_t key[CRM_STORE_MAX_KEY_SIZE + 1];
    memset(key, 'k', sizeof key);
    crm_val_t val;
    t->put_empty = crm_store_put(txn, t->db, key, 0, "v", 1, 0);
    t->put_long = crm_store_put(txn, t->db, key, sizeof key, "v", 1, 0);
    t->get_empty = crm_store_get(txn, t->db, key, 0, &val);
    t->get_long = crm_store_get(txn, t->db, key, sizeof key, &val);
    t->del_empty = crm_store_del(txn, t->db, key, 0);
    crm_cursor_t *cursor = NULL;
    int rc = crm_cursor_open(txn, t->db, &cursor);
    if (rc != 0)
        return rc;
    t->seek_long = crm_cursor_seek(cursor, key, sizeof key, NULL, NULL);
    crm_cursor_close(&cursor);
    t->put_max = crm_store_put(txn, t->db, key, CRM_STORE_MAX_KEY_SIZE, "v", 1, 0);
    return 0;
}

Test(store, bad_key_sizes_are_invalid)
{
    crm_store_t *store = s_open(NULL);
    keysize_t t = { .db = s_db(store, "d") };
    cr_assert_eq(crm_store_write(store, s_keysize_body, &t), 0);
    cr_assert_eq(t.put_empty, CRM_EINVALID);
    cr_assert_eq(t.put_long, CRM_EINVALID);
    cr_assert_eq(t.get_empty, CRM_EINVALID);
    cr_assert_eq(t.get_long, CRM_EINVALID);
    cr_assert_eq(t.del_empty, CRM_EINVALID);
    cr_assert_eq(t.seek_long, CRM_EINVALID);
    cr_assert_eq(t.put_max, 0, "the largest key fits: %s", crm_errname(t.put_max));
    cr_assert_eq(s_count(store, t.db), 1);
    crm_store_destroy(&store);
}

/* --- Growth of the map */

Test(store, tiny_map_grows_to_take_many_megabytes)
{
    crm_store_options_t opts = s_tiny(BIG_MAX_MAP);
    crm_store_t *store = s_open(&opts);
    cr_assert_eq(s_stat(store).map_size, TINY_MAP);
    crm_db_t db = s_db(store, "bulk");

    /* One transaction far larger than the map it starts in: fn runs again after each growth,
     * 64 KiB -> 4 MiB and more takes at least 6 doublings. */
    const uint32_t big_count = 1024;   /* 4 MiB */
    bulk_t big = { .db = db, .first = 0, .count = big_count };
    cr_assert_eq(crm_store_write(store, s_bulk_body, &big), 0);
    cr_assert_geq(big.runs, 7, "the body ran %u times", big.runs);
    crm_store_stat_t after_big = s_stat(store);
    cr_assert_eq(after_big.grows, big.runs - 1);

    /* Then many transactions of 128 KiB each: 8 MiB more. */
    const uint32_t per_txn = 32, txns = 64;
    for (uint32_t t = 0; t < txns; t++) {
        bulk_t bulk = { .db = db, .first = big_count + t * per_txn, .count = per_txn };
        int rc = crm_store_write(store, s_bulk_body, &bulk);
        cr_assert_eq(rc, 0, "txn %u: %s", t, crm_errname(rc));
    }

    crm_store_stat_t stat = s_stat(store);
    cr_assert_gt(stat.grows, after_big.grows);
    cr_assert_geq(stat.grows, 8, "64 KiB to 16 MiB takes 8 doublings; got %llu",
                  (unsigned long long) stat.grows);
    cr_assert_gt(stat.map_size, (size_t) 12 << 20);
    cr_assert_leq(stat.map_size, BIG_MAX_MAP);
    cr_assert_gt(stat.used_bytes, (size_t) 12 << 20);
    cr_assert_leq(stat.used_bytes, stat.map_size);
    cr_assert_eq(stat.readers, 0);
    s_bulk_check(store, db, 0, big_count + txns * per_txn);
    cr_assert_eq(s_count(store, db), big_count + txns * per_txn);
    crm_store_destroy(&store);
}

Test(store, max_map_size_reached_leaves_nothing_behind)
{
    const size_t max_map = (size_t) 512 << 10;
    crm_store_options_t opts = s_tiny(max_map);
    crm_store_t *store = s_open(&opts);
    crm_db_t db = s_db(store, "bulk");
    bulk_t small = { .db = db, .first = 0, .count = 4 };   /* 16 KiB */
    cr_assert_eq(crm_store_write(store, s_bulk_body, &small), 0);

    bulk_t huge = { .db = db, .first = 1000, .count = 256 };   /* 1 MiB > 512 KiB */
    int rc = crm_store_write(store, s_bulk_body, &huge);
    cr_assert_eq(rc, CRM_EMAPFULL, "got %s", crm_errname(rc));
    cr_assert_geq(huge.runs, 3, "64 -> 128 -> 256 -> 512 KiB, then full: ran %u", huge.runs);
    crm_store_stat_t stat = s_stat(store);
    cr_assert_eq(stat.map_size, max_map);

    /* Nothing of the failed transaction, everything from before, and the store still works. */
    crm_txn_t *txn = NULL;
    cr_assert_eq(crm_store_read_begin(store, &txn), 0);
    uint8_t key[8];
    s_key(0, 1000, key);
    crm_val_t val;
    cr_assert_eq(crm_store_get(txn, db, key, sizeof key, &val), CRM_ENOTFOUND);
    crm_store_txn_end(&txn);
    s_bulk_check(store, db, 0, 4);
    cr_assert_eq(s_count(store, db), 4);

    bulk_t more = { .db = db, .first = 4, .count = 16 };   /* 64 KiB fits in 512 KiB */
    cr_assert_eq(crm_store_write(store, s_bulk_body, &more), 0);
    s_bulk_check(store, db, 0, 20);
    cr_assert_eq(s_stat(store).map_size, max_map);
    crm_store_destroy(&store);
}

Test(store, reopen_keeps_data_and_grown_map)
{
    crm_store_options_t opts = s_tiny(BIG_MAX_MAP);
    opts.no_sync = false;   /* the durable default */
    crm_store_t *store = s_open(&opts);
    crm_db_t db = s_db(store, "bulk");
    bulk_t bulk = { .db = db, .first = 0, .count = 256 };   /* 1 MiB */
    cr_assert_eq(crm_store_write(store, s_bulk_body, &bulk), 0);
    crm_store_stat_t grown = s_stat(store);
    cr_assert_gt(grown.grows, 0);
    crm_store_destroy(&store);

    store = s_open(&opts);
    crm_store_stat_t stat = s_stat(store);
    cr_assert_eq(stat.map_size, grown.map_size, "the grown map size is kept");
    cr_assert_eq(stat.grows, 0);
    db = s_db(store, "bulk");
    s_bulk_check(store, db, 0, 256);
    cr_assert_eq(s_count(store, db), 256);
    crm_store_destroy(&store);
}

Test(store, open_rejects_bad_options_and_paths)
{
    crm_store_t *store = NULL;
    crm_store_options_t opts = { .map_size = (size_t) 1 << 20, .max_map_size = (size_t) 64 << 10 };
    cr_assert_eq(crm_store_open(s_path, &opts, &store), CRM_EINVALID);
    cr_assert_null(store);

    char file[CRM_TEST_PATH_MAX];
    s_join(file, "file");
    FILE *f = fopen(file, "w");
    cr_assert_not_null(f);
    fclose(f);
    cr_assert_eq(crm_store_open(file, NULL, &store), CRM_EIO);
    cr_assert_null(store);

    /* Parents are created. */
    s_join(file, "a/b/c");
    cr_assert_eq(crm_store_open(file, NULL, &store), 0);
    crm_store_destroy(&store);
}

Test(store, limits_on_dbs_and_readers)
{
    crm_store_options_t opts = { .max_dbs = 2, .max_readers = 2, .no_sync = true };
    crm_store_t *store = s_open(&opts);
    crm_db_t db;
    s_db(store, "a");
    s_db(store, "b");
    cr_assert_eq(crm_store_db(store, "c", &db), CRM_ELIMIT);
    char name[CRM_STORE_MAX_KEY_SIZE + 2];
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    cr_assert_eq(crm_store_db(store, name, &db), CRM_EINVALID);

    crm_txn_t *r1 = NULL, *r2 = NULL, *r3 = NULL;
    cr_assert_eq(crm_store_read_begin(store, &r1), 0);
    cr_assert_eq(crm_store_read_begin(store, &r2), 0);
    cr_assert_eq(s_stat(store).readers, 2);
    cr_assert_eq(crm_store_read_begin(store, &r3), CRM_ELIMIT);
    cr_assert_null(r3);
    crm_store_txn_end(&r1);
    cr_assert_eq(crm_store_read_begin(store, &r3), 0, "an ended snapshot frees its slot");
    crm_store_txn_end(&r3);
    crm_store_txn_end(&r2);
    crm_store_txn_end(&r2);   /* safe on NULL */
    cr_assert_eq(s_stat(store).readers, 0);
    crm_store_destroy(&store);
}

/* --- Growth never deadlocks on snapshots */

Test(store, growth_under_own_snapshot_gives_up)
{
    crm_store_options_t opts = s_tiny(BIG_MAX_MAP);
    crm_store_t *store = s_open(&opts);
    crm_db_t db = s_db(store, "bulk");
    crm_txn_t *snapshot = NULL;
    cr_assert_eq(crm_store_read_begin(store, &snapshot), 0);
    bulk_t bulk = { .db = db, .first = 0, .count = 256 };   /* 1 MiB: must grow */
    cr_assert_eq(crm_store_write(store, s_bulk_body, &bulk), CRM_EMAPFULL,
                 "growing while this thread holds a snapshot would wait forever");
    cr_assert_eq(s_stat(store).grows, 0);
    crm_store_txn_end(&snapshot);

    cr_assert_eq(crm_store_write(store, s_bulk_body, &bulk), 0);
    cr_assert_gt(s_stat(store).grows, 0);
    s_bulk_check(store, db, 0, 256);
    crm_store_destroy(&store);
}

typedef struct {
    crm_store_t *store;
    bulk_t bulk;
    int rc;
} writer_t;

static void *
s_writer_thread(void *arg)
{
    writer_t *w = arg;
    w->rc = crm_store_write(w->store, s_bulk_body, &w->bulk);
    return NULL;
}

static void
s_wait_entered(bulk_t *bulk)
{
    long long deadline = crm_test_now_ms() + 10000;
    while (!atomic_load(&bulk->entered)) {
        cr_assert_lt(crm_test_now_ms(), deadline, "the writer never started");
        usleep(1000);
    }
}

Test(store, growth_gives_up_when_a_snapshot_holder_waits_to_write)
{
    crm_store_options_t opts = s_tiny(BIG_MAX_MAP);
    crm_store_t *store = s_open(&opts);
    crm_db_t db = s_db(store, "bulk");
    crm_txn_t *snapshot = NULL;
    cr_assert_eq(crm_store_read_begin(store, &snapshot), 0);

    /* Another thread writes 1 MiB and must grow, which waits for our snapshot; we then ask
     * to write while still holding it. Waiting on each other would hang: the grower gives up. */
    writer_t w = { .store = store, .bulk = { .db = db, .first = 0, .count = 256 } };
    pthread_t thread;
    cr_assert_eq(pthread_create(&thread, NULL, s_writer_thread, &w), 0);
    s_wait_entered(&w.bulk);
    cr_assert_eq(s_put(store, db, "mine", "small", 0), 0);
    crm_store_txn_end(&snapshot);
    pthread_join(thread, NULL);
    cr_assert_eq(w.rc, CRM_EMAPFULL, "got %s", crm_errname(w.rc));

    char out[64];
    cr_assert_eq(s_get(store, db, "mine", out), 0);
    cr_assert_eq(crm_store_write(store, s_bulk_body, &w.bulk), 0, "with no snapshot it grows");
    s_bulk_check(store, db, 0, 256);
    crm_store_destroy(&store);
}

Test(store, growth_waits_for_other_snapshots_which_may_nest)
{
    crm_store_options_t opts = s_tiny(BIG_MAX_MAP);
    crm_store_t *store = s_open(&opts);
    crm_db_t db = s_db(store, "bulk");
    cr_assert_eq(s_put(store, db, "k", "v", 0), 0);
    crm_txn_t *outer = NULL, *inner = NULL;
    cr_assert_eq(crm_store_read_begin(store, &outer), 0);
    crm_val_t before;
    cr_assert_eq(crm_store_get(outer, db, "k", 1, &before), 0);

    writer_t w = { .store = store, .bulk = { .db = db, .first = 0, .count = 256 } };
    pthread_t thread;
    cr_assert_eq(pthread_create(&thread, NULL, s_writer_thread, &w), 0);
    s_wait_entered(&w.bulk);
    usleep(50 * 1000);   /* most likely the writer now waits for our snapshot */
    /* This thread holds a snapshot, so a second one must not wait for the growth. */
    cr_assert_eq(crm_store_read_begin(store, &inner), 0);
    crm_val_t val;
    cr_assert_eq(crm_store_get(inner, db, "k", 1, &val), 0);
    crm_store_txn_end(&inner);
    /* No remap under a snapshot: the map has not grown, the old value is still mapped. */
    cr_assert_eq(s_stat(store).grows, 0);
    cr_assert_eq(before.size, 1);
    cr_assert_eq(*(const char *) before.data, 'v');
    crm_store_txn_end(&outer);
    pthread_join(thread, NULL);
    cr_assert_eq(w.rc, 0, "got %s", crm_errname(w.rc));
    cr_assert_gt(s_stat(store).grows, 0);
    s_bulk_check(store, db, 0, 256);
    crm_store_destroy(&store);
}

/* --- Threads: writers increment a counter and add an item in the same transaction; readers
 * check in every snapshot that the counter equals the number of items. */

typedef struct {
    crm_store_t *store;
    crm_db_t meta;
    crm_db_t items;
    uint32_t id;
    uint32_t writes;
    atomic_bool *stop;
    atomic_int *errors;
    atomic_int *snapshots;
} worker_t;

typedef struct {
    const worker_t *worker;
    uint32_t n;
} item_t;

static int
s_item_body(crm_txn_t *txn, void *arg)
{
    item_t *item = arg;
    const worker_t *w = item->worker;
    uint64_t counter = 0;
    crm_val_t val;
    int rc = crm_store_get(txn, w->meta, "counter", 7, &val);
    if (rc == 0) {
        if (val.size != sizeof counter)
            return CRM_ESTORE;
        memcpy(&counter, val.data, sizeof counter);
    } else if (rc != CRM_ENOTFOUND) {
        return rc;
    }
    counter++;
    rc = crm_store_put(txn, w->meta, "counter", 7, &counter, sizeof counter, 0);
    if (rc != 0)
        return rc;
    uint8_t key[8], value[256];
    s_key(w->id, item->n, key);
    memset(value, (int) w->id, sizeof value);
    return crm_store_put(txn, w->items, key, sizeof key, value, sizeof value, CRM_STORE_NOOVERWRITE);
}

static void *
s_writer_worker(void *arg)
{
    worker_t *w = arg;
    for (uint32_t n = 0; n < w->writes; n++) {
        item_t item = { w, n };
        if (crm_store_write(w->store, s_item_body, &item) != 0)
            atomic_fetch_add(w->errors, 1);
    }
    return NULL;
}

/* Checks one snapshot. Returns 0 when consistent. */
static int
s_check_snapshot(crm_store_t *store, crm_db_t meta, crm_db_t items, uint64_t *total)
{
    crm_txn_t *txn = NULL;
    int rc = crm_store_read_begin(store, &txn);
    if (rc != 0)
        return rc;
    uint64_t counter = 0, count = 0;
    crm_val_t val;
    rc = crm_store_get(txn, meta, "counter", 7, &val);
    if (rc == 0 && val.size == sizeof counter)
        memcpy(&counter, val.data, sizeof counter);
    else if (rc == CRM_ENOTFOUND)
        rc = 0;
    if (rc == 0)
        rc = crm_store_count(txn, items, &count);
    if (rc == 0 && counter != count)
        rc = CRM_ECONFLICT;
    crm_store_txn_end(&txn);
    if (total)
        *total = counter;
    return rc;
}

static void *
s_reader_worker(void *arg)
{
    worker_t *w = arg;
    while (!atomic_load(w->stop)) {
        if (s_check_snapshot(w->store, w->meta, w->items, NULL) != 0)
            atomic_fetch_add(w->errors, 1);
        atomic_fetch_add(w->snapshots, 1);
    }
    return NULL;
}

Test(store, concurrent_writers_and_readers_give_exact_totals)
{
    crm_store_options_t opts = s_tiny(BIG_MAX_MAP);   /* the map grows under load too */
    crm_store_t *store = s_open(&opts);
    crm_db_t meta = s_db(store, "meta"), items = s_db(store, "items");
    atomic_bool stop = false;
    atomic_int errors = 0, snapshots = 0;
    worker_t workers[THREAD_WRITERS + THREAD_READERS];
    pthread_t threads[THREAD_WRITERS + THREAD_READERS];
    for (uint32_t i = 0; i < THREAD_WRITERS + THREAD_READERS; i++) {
        workers[i] = (worker_t) { store, meta, items, i, WRITES_EACH, &stop, &errors, &snapshots };
        bool writer = i < THREAD_WRITERS;
        cr_assert_eq(pthread_create(&threads[i], NULL, writer ? s_writer_worker : s_reader_worker,
                                    &workers[i]), 0);
    }
    for (uint32_t i = 0; i < THREAD_WRITERS; i++)
        pthread_join(threads[i], NULL);
    atomic_store(&stop, true);
    for (uint32_t i = THREAD_WRITERS; i < THREAD_WRITERS + THREAD_READERS; i++)
        pthread_join(threads[i], NULL);

    cr_assert_eq(atomic_load(&errors), 0, "%d failed writes or inconsistent snapshots",
                 atomic_load(&errors));
    cr_assert_gt(atomic_load(&snapshots), 0);
    uint64_t total = 0;
    cr_assert_eq(s_check_snapshot(store, meta, items, &total), 0);
    cr_assert_eq(total, THREAD_WRITERS * WRITES_EACH);
    cr_assert_eq(s_count(store, items), THREAD_WRITERS * WRITES_EACH);
    cr_assert_gt(s_stat(store).grows, 0);
    crm_txn_t *txn = NULL;
    cr_assert_eq(crm_store_read_begin(store, &txn), 0);
    for (uint32_t id = 0; id < THREAD_WRITERS; id++) {
        for (uint32_t n = 0; n < WRITES_EACH; n++) {
            uint8_t key[8];
            s_key(id, n, key);
            crm_val_t val;
            cr_assert_eq(crm_store_get(txn, items, key, sizeof key, &val), 0);
            cr_assert_eq(((const uint8_t *) val.data)[0], id);
        }
    }
    crm_store_txn_end(&txn);
    crm_store_destroy(&store);
}

/* --- Backup */

Test(store, hot_backup_is_consistent_and_opens)
{
    crm_store_options_t opts = s_tiny(BIG_MAX_MAP);
    crm_store_t *store = s_open(&opts);
    crm_db_t meta = s_db(store, "meta"), items = s_db(store, "items");
    atomic_bool stop = false;
    atomic_int errors = 0, snapshots = 0;
    worker_t before = { store, meta, items, 0, 100, &stop, &errors, &snapshots };
    s_writer_worker(&before);

    /* Back up while another thread keeps writing. */
    worker_t during = { store, meta, items, 1, 200, &stop, &errors, &snapshots };
    pthread_t thread;
    cr_assert_eq(pthread_create(&thread, NULL, s_writer_worker, &during), 0);
    char backup[CRM_TEST_PATH_MAX];
    s_join(backup, "backups/one");
    int rc = crm_store_backup(store, backup);
    pthread_join(thread, NULL);
    cr_assert_eq(rc, 0, "backup: %s", crm_errname(rc));
    cr_assert_eq(atomic_load(&errors), 0);
    cr_assert_eq(crm_store_backup(store, backup), CRM_EEXISTS, "the target must be empty");
    crm_store_destroy(&store);

    /* The copy is a store of its own holding a consistent snapshot. */
    memcpy(s_path, backup, sizeof s_path);
    crm_store_t *copy = s_open(NULL);
    meta = s_db(copy, "meta");
    items = s_db(copy, "items");
    uint64_t total = 0;
    cr_assert_eq(s_check_snapshot(copy, meta, items, &total), 0);
    cr_assert_geq(total, 100);
    cr_assert_leq(total, 300);
    crm_txn_t *txn = NULL;
    cr_assert_eq(crm_store_read_begin(copy, &txn), 0);
    for (uint32_t n = 0; n < 100; n++) {
        uint8_t key[8];
        s_key(0, n, key);
        crm_val_t val;
        cr_assert_eq(crm_store_get(txn, items, key, sizeof key, &val), 0);
    }
    crm_store_txn_end(&txn);
    crm_store_destroy(&copy);
}

/* --- Processes */

Test(store, reader_check_runs)
{
    crm_store_t *store = s_open(NULL);
    int cleared = -1;
    cr_assert_eq(crm_store_reader_check(store, &cleared), 0);
    cr_assert_eq(cleared, 0);
    cr_assert_eq(crm_store_reader_check(store, NULL), 0);
    crm_store_destroy(&store);
}

static void
s_child_fail(void)
{
    _exit(1);
}

Test(store, killed_reader_leaves_a_stale_slot_that_reader_check_clears)
{
    int ready[2];
    cr_assert_eq(pipe(ready), 0);
    /* Fork before any environment exists in this process: the child opens its own. */
    pid_t pid = fork();
    if (pid == 0) {   /* the child: no cr_assert here, it would talk to Criterion's runner */
        close(ready[0]);
        crm_store_t *store = NULL;
        crm_txn_t *txn = NULL;
        if (crm_store_open(s_path, NULL, &store) != 0 || crm_store_read_begin(store, &txn) != 0)
            s_child_fail();
        char c = 'r';
        if (write(ready[1], &c, 1) != 1)
            s_child_fail();
        for (;;)
            pause();   /* holds the snapshot until killed */
    }
    cr_assert_geq(pid, 0, "fork");
    close(ready[1]);
    char c;
    cr_assert_eq(read(ready[0], &c, 1), 1, "the child did not start its reader");
    close(ready[0]);

    crm_store_t *store = s_open(NULL);   /* its reader check finds the child alive */
    cr_assert_eq(s_stat(store).readers, 1);
    int cleared = -1;
    cr_assert_eq(crm_store_reader_check(store, &cleared), 0);
    cr_assert_eq(cleared, 0);

    cr_assert_eq(kill(pid, SIGKILL), 0);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    cr_assert_eq(s_stat(store).readers, 1, "the dead child's slot is stale");
    cr_assert_eq(crm_store_reader_check(store, &cleared), 0);
    cr_assert_eq(cleared, 1);
    cr_assert_eq(s_stat(store).readers, 0);
    crm_store_destroy(&store);
}

/* A child process that grows the map on command; the parent must adopt the new size. */
static void
s_grower_child(int commands, int acks)
{
    crm_store_options_t opts = s_tiny(BIG_MAX_MAP);
    crm_store_t *store = NULL;
    crm_db_t db;
    if (crm_store_open(s_path, &opts, &store) != 0 || crm_store_db(store, "bulk", &db) != 0)
        s_child_fail();
    char c;
    for (uint32_t round = 0; read(commands, &c, 1) == 1 && c == 'w'; round++) {
        bulk_t bulk = { .db = db, .first = round * 512, .count = 512 };   /* 2 MiB */
        if (crm_store_write(store, s_bulk_body, &bulk) != 0 || write(acks, &c, 1) != 1)
            s_child_fail();
    }
    crm_store_destroy(&store);
    _exit(0);
}

Test(store, map_grown_by_another_process_is_adopted)
{
    int commands[2], acks[2];
    cr_assert_eq(pipe(commands), 0);
    cr_assert_eq(pipe(acks), 0);
    pid_t pid = fork();
    if (pid == 0) {   /* the child: no cr_assert here, it would talk to Criterion's runner */
        close(commands[1]);
        close(acks[0]);
        s_grower_child(commands[0], acks[1]);
    }
    cr_assert_geq(pid, 0, "fork");
    close(commands[0]);
    close(acks[1]);

    crm_store_options_t opts = s_tiny(BIG_MAX_MAP);
    crm_store_t *store = s_open(&opts);
    crm_db_t db = s_db(store, "bulk");
    char c = 'w';
    cr_assert_eq(write(commands[1], &c, 1), 1);
    cr_assert_eq(read(acks[0], &c, 1), 1);
    /* The child's data lies beyond our 64 KiB map: the write transaction adopts its size. */
    cr_assert_eq(s_put(store, db, "parent", "1", 0), 0);
    cr_assert_geq(s_stat(store).map_size, (size_t) 1 << 20);

    cr_assert_eq(write(commands[1], &c, 1), 1);
    cr_assert_eq(read(acks[0], &c, 1), 1);
    /* And again beyond that: now a read transaction adopts it. */
    s_bulk_check(store, db, 0, 1024);
    cr_assert_geq(s_stat(store).map_size, (size_t) 2 << 20);
    cr_assert_eq(s_stat(store).grows, 0, "adopting is not growing");

    c = 'q';
    cr_assert_eq(write(commands[1], &c, 1), 1);
    close(commands[1]);
    close(acks[0]);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    char out[64];
    cr_assert_eq(s_get(store, db, "parent", out), 0);
    cr_assert_eq(s_count(store, db), 1025);
    crm_store_destroy(&store);
}
