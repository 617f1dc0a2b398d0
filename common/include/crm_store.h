/* crm_store.h: one LMDB environment per service: named databases, transactions, cursors. */
#ifndef CRM_STORE_H
#define CRM_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Defaults; each is overridable through crm_store_options_t. */
#define CRM_STORE_DEFAULT_MAP_SIZE     ((size_t) 64 << 20)   /* first map size: 64 MiB */
#define CRM_STORE_DEFAULT_MAX_MAP_SIZE ((size_t) 1 << 40)    /* growth stops at 1 TiB */
#define CRM_STORE_DEFAULT_MAX_DBS      64
#define CRM_STORE_DEFAULT_MAX_READERS  256
#define CRM_STORE_MAX_KEY_SIZE         511                   /* LMDB's default key limit */

/* Flags for crm_store_put. */
#define CRM_STORE_NOOVERWRITE 0x1u   /* fail with CRM_EEXISTS when the key is there */
#define CRM_STORE_APPEND      0x2u   /* the key sorts after every key in the db (fast path) */

/*
 * Threads and transactions.
 *
 * A store is shared by all threads of one process (never across fork: open it in the child).
 * Read transactions are snapshots: any thread may begin several, and a transaction with its
 * cursors may be used by one thread at a time. Writers are serialised: crm_store_write runs
 * one body at a time.
 *
 * The map grows only while no transaction of this process is open, so growth waits for every
 * open read transaction to end. A thread that holds a read transaction while it calls
 * crm_store_write would wait for itself; instead, a write that needs to grow the map while
 * its own thread (or another thread holding a read transaction and waiting to write) holds a
 * snapshot gives up with CRM_EMAPFULL. Rule: end your read transactions before you write,
 * and keep them short; a read transaction counts as held by the thread that began it.
 */

typedef struct crm_store crm_store_t;
typedef struct crm_txn crm_txn_t;
typedef struct crm_cursor crm_cursor_t;
typedef unsigned int crm_db_t;

/* A key or value. Values returned by the store are borrowed and valid only until the
 * transaction that read them ends (LMDB's MDB_val rule). */
typedef struct {
    const void *data;
    size_t size;
} crm_val_t;

typedef struct {
    size_t map_size;        /* first map size in bytes, rounded up to the page size; 0 for the
                             * default. A store reopened keeps its larger, grown size. */
    size_t max_map_size;    /* the map never grows past this; 0 for the default */
    unsigned max_dbs;       /* 0 for the default */
    unsigned max_readers;   /* 0 for the default; concurrent read transactions of all processes */
    bool no_sync;           /* skip fsync on commit: weakens durability; off by default */
} crm_store_options_t;

/* Statistics for metrics and tests. */
typedef struct {
    size_t map_size;        /* bytes */
    size_t used_bytes;      /* pages in use times page size */
    unsigned readers;       /* reader slots holding a snapshot, all processes (stale ones too) */
    uint64_t grows;         /* times this process grew the map */
} crm_store_stat_t;

/* Opens (creating if needed) the environment in directory path, which is created too, with
 * its parents. Clears stale reader slots left by dead processes. opts may be NULL for the
 * defaults. Returns 0 and sets *store_p (caller owns; free with crm_store_destroy); CRM_EINVALID
 * (path too long, or max_map_size below map_size); CRM_ENOMEM; CRM_EIO (the directory cannot be
 * made or opened) or CRM_ESTORE (not an LMDB environment, or another LMDB failure). */
int crm_store_open(const char *path, const crm_store_options_t *opts, crm_store_t **store_p);

/* Closes the environment. No transaction may be open. Safe on NULL; sets *store_p to NULL. */
void crm_store_destroy(crm_store_t **store_p);

/* Opens (creating if needed) the named database and sets *db. Call at start-up, before any other
 * transaction is open. The handle stays valid until the store is destroyed.
 * Returns 0, CRM_EINVALID (name longer than a key), CRM_ELIMIT (more than max_dbs), CRM_EMAPFULL
 * or CRM_ESTORE. */
int crm_store_db(crm_store_t *store, const char *name, crm_db_t *db);

/* The body of a write transaction. It may run more than once (after the store grows its map),
 * so it must have no effect outside txn. It must close the cursors it opens, must not end txn
 * and must not call crm_store_write (that fails an assert). Returns 0 to commit, or an error
 * code to abort. */
typedef int (*crm_store_write_fn)(crm_txn_t *txn, void *arg);

/* Runs fn in a write transaction and commits it (durably unless no_sync). When the map is full,
 * aborts, grows the map (doubling it, up to max_map_size) with no transaction open, and runs fn
 * again; also when fn returns another error after an operation in txn reported CRM_EMAPFULL.
 * Adopts a map grown by another process. Returns 0 once committed; fn's own error (nothing
 * written); CRM_EMAPFULL when max_map_size is reached, or when growth would deadlock (see
 * "Threads and transactions" above); CRM_ENOSPACE when the disk is full; CRM_ELIMIT when one
 * transaction is too large; CRM_EIO; CRM_ESTORE otherwise. Nothing is written unless it
 * returns 0. Writers from several threads are serialised. */
int crm_store_write(crm_store_t *store, crm_store_write_fn fn, void *arg);

/* Begins a read-only snapshot. Returns 0 and sets *txn_p (caller ends it with crm_store_txn_end),
 * CRM_ELIMIT (all max_readers slots in use), CRM_ENOMEM or CRM_ESTORE. Safe from any thread; a
 * thread may hold several. Waits while the map is being grown, unless this thread already holds
 * a read transaction. */
int crm_store_read_begin(crm_store_t *store, crm_txn_t **txn_p);

/* Ends a read transaction (from any thread), detaching its cursors: they stay allocated and
 * must still be closed. Safe on NULL; sets *txn_p to NULL. Never call it on the write
 * transaction given to a crm_store_write_fn. */
void crm_store_txn_end(crm_txn_t **txn_p);

/* Looks up key. Returns 0 and sets *val (borrowed), CRM_ENOTFOUND, CRM_EINVALID (bad key size:
 * 0 or more than CRM_STORE_MAX_KEY_SIZE) or CRM_ESTORE. */
int crm_store_get(crm_txn_t *txn, crm_db_t db, const void *key, size_t key_size, crm_val_t *val);

/* Stores key -> value in a write transaction; the store copies both. flags: CRM_STORE_NOOVERWRITE,
 * CRM_STORE_APPEND. Returns 0, CRM_EEXISTS (NOOVERWRITE and present), CRM_EINVALID (bad key
 * size, or APPEND out of order; the transaction stays usable), CRM_EMAPFULL (crm_store_write
 * handles it), CRM_ELIMIT (the transaction is too large) or CRM_ESTORE. After CRM_EMAPFULL,
 * CRM_ELIMIT or CRM_ESTORE the transaction is spoilt: it will not commit. */
int crm_store_put(crm_txn_t *txn, crm_db_t db, const void *key, size_t key_size,
                  const void *value, size_t value_size, unsigned flags);

/* Deletes key in a write transaction. Returns 0, CRM_ENOTFOUND, CRM_EINVALID (bad key size),
 * CRM_EMAPFULL or CRM_ESTORE. */
int crm_store_del(crm_txn_t *txn, crm_db_t db, const void *key, size_t key_size);

/* Opens a cursor over db, valid until crm_cursor_close or the end of txn, whichever first; after
 * the end of txn it only awaits crm_cursor_close. Returns 0 and sets *cursor_p (caller closes
 * it), CRM_ENOMEM or CRM_ESTORE. */
int crm_cursor_open(crm_txn_t *txn, crm_db_t db, crm_cursor_t **cursor_p);

/* Closes a cursor, before or after its transaction ends. Safe on NULL; sets *cursor_p to NULL. */
void crm_cursor_close(crm_cursor_t **cursor_p);

/* Moving the cursor. Each returns 0 and sets key and value (borrowed; either may be NULL), or
 * CRM_ENOTFOUND when there is no such entry, or CRM_ESTORE.
 * seek: the first key >= the given key (CRM_EINVALID for a bad key size).
 * first/last: the smallest/largest key. next/prev on a cursor not yet placed: first/last. */
int crm_cursor_seek(crm_cursor_t *cursor, const void *key, size_t key_size, crm_val_t *k, crm_val_t *v);
int crm_cursor_first(crm_cursor_t *cursor, crm_val_t *k, crm_val_t *v);
int crm_cursor_last(crm_cursor_t *cursor, crm_val_t *k, crm_val_t *v);
int crm_cursor_next(crm_cursor_t *cursor, crm_val_t *k, crm_val_t *v);
int crm_cursor_prev(crm_cursor_t *cursor, crm_val_t *k, crm_val_t *v);

/* Deletes the entry under a write transaction's cursor; the next crm_cursor_next returns the
 * entry that followed it, so "seek; while (match) { del; next; }" visits every entry.
 * Returns 0, CRM_EMAPFULL or CRM_ESTORE. */
int crm_cursor_del(crm_cursor_t *cursor);

/* Clears reader slots held by dead processes; sets *cleared when not NULL. Call periodically.
 * Returns 0 or CRM_ESTORE. */
int crm_store_reader_check(crm_store_t *store, int *cleared);

/* Fills *stat. Returns 0 or CRM_ESTORE. */
int crm_store_stat(crm_store_t *store, crm_store_stat_t *stat);

/* Writes a consistent, compacted copy of the environment into directory path (created with its
 * parents; must be empty) while the store stays in use: a hot backup. The copy opens with
 * crm_store_open. Returns 0, CRM_EEXISTS (path is not empty), CRM_EINVALID (path too long),
 * CRM_ENOSPACE, CRM_EIO or CRM_ESTORE. */
int crm_store_backup(crm_store_t *store, const char *path);

/* Number of entries in db. Returns 0 and sets *count, or CRM_ESTORE. */
int crm_store_count(crm_txn_t *txn, crm_db_t db, uint64_t *count);

#endif
