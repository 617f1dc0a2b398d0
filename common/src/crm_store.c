/* crm_store.c: one LMDB environment per service: named databases, transactions, cursors. */
#include "crm_store.h"

#include "crm_error.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <lmdb.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

_Static_assert(sizeof(size_t) >= 8, "the default maximum map size needs a 64-bit size_t");

#define CRM_STORE_FILE_MODE     0600   /* data and lock files */
#define CRM_STORE_DIR_MODE      0700   /* directories the store creates */
#define CRM_STORE_RESIZE_TRIES  8      /* times to adopt a map grown by another process */

/*
 * The gate: LMDB's mdb_env_set_mapsize may only run while no transaction of this process is
 * open. Every transaction (read, write, and the snapshot inside a backup) enters the gate, and
 * growth closes it: it sets `growing`, waits for `open_txns` to drop to zero, remaps, opens it.
 *
 * A mutex and a condition variable rather than a pthread rwlock, for three reasons: a read
 * transaction may end on another thread than the one that began it (MDB_NOTLS allows it; a
 * rwlock does not); the gate knows which threads hold snapshots, so a thread holding one may
 * begin another while growth waits (a writer-preferring rwlock would deadlock there); and
 * growth can see the two deadlocks it would otherwise wait on forever and give up instead:
 *  - the growing thread itself holds a read transaction;
 *  - a thread holding a read transaction waits for the write lock, which the grower holds.
 * Growth (and adopting a map grown by another process) only ever runs under write_lock, so a
 * writer entering the gate never finds it closed.
 */
struct crm_store {
    MDB_env *env;
    size_t max_map_size;
    size_t page_size;
    size_t max_key_size;
    pthread_mutex_t write_lock;     /* one write transaction at a time */
    pthread_mutex_t gate_lock;      /* guards every field below */
    pthread_cond_t gate_changed;    /* open_txns, growing or holders_waiting changed */
    crm_txn_t *reads;               /* open read transactions, a doubly linked list */
    unsigned open_txns;             /* read, write and backup transactions open */
    unsigned holders_waiting;       /* threads holding a read transaction, waiting to write */
    bool growing;
    uint64_t grows;
};

struct crm_txn {
    crm_store_t *store;
    MDB_txn *txn;
    bool write;
    int spoilt;                     /* first error that ruined a write transaction, or 0 */
    pthread_t owner;                /* the thread that began a read transaction */
    crm_txn_t *prev, *next;         /* in store->reads */
    crm_cursor_t *cursors;          /* open cursors, a doubly linked list */
};

struct crm_cursor {
    crm_txn_t *txn;                 /* NULL once the transaction has ended */
    MDB_cursor *cursor;
    crm_cursor_t *prev, *next;      /* in txn->cursors */
};

/* --- Errors */

static int
s_error(int rc)
{
    switch (rc) {
    case MDB_SUCCESS:      return 0;
    case MDB_NOTFOUND:     return CRM_ENOTFOUND;
    case MDB_KEYEXIST:     return CRM_EEXISTS;
    case MDB_MAP_FULL:     return CRM_EMAPFULL;
    case MDB_TXN_FULL:
    case MDB_READERS_FULL:
    case MDB_DBS_FULL:
    case MDB_CURSOR_FULL:
    case MDB_TLS_FULL:     return CRM_ELIMIT;
    case MDB_BAD_VALSIZE:
    case EINVAL:           return CRM_EINVALID;
    case ENOMEM:           return CRM_ENOMEM;
    case ENOSPC:
    case EDQUOT:           return CRM_ENOSPACE;
    case EIO:
    case EACCES:
    case EPERM:
    case EROFS:
    case ENOENT:
    case ENOTDIR:          return CRM_EIO;
    default:               return CRM_ESTORE;
    }
}

/* Maps an LMDB result inside a transaction, remembering errors that spoil a write. */
static int
s_txn_error(crm_txn_t *txn, int rc)
{
    int code = s_error(rc);
    bool soft = rc == MDB_SUCCESS || rc == MDB_NOTFOUND || rc == MDB_KEYEXIST || rc == EINVAL
                || rc == MDB_BAD_VALSIZE;
    if (txn->write && !soft && txn->spoilt == 0)
        txn->spoilt = code;
    return code;
}

static bool
s_key_ok(const crm_store_t *store, const void *key, size_t key_size)
{
    assert(key || key_size == 0);
    return key_size > 0 && key_size <= store->max_key_size;
}

/* --- Files */

/* Creates directory path and its parents. Returns 0, CRM_EINVALID or CRM_EIO. */
static int
s_mkdirs(const char *path)
{
    char buf[PATH_MAX];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof buf)
        return CRM_EINVALID;
    memcpy(buf, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char saved = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, CRM_STORE_DIR_MODE) != 0 && errno != EEXIST)
            return CRM_EIO;
        buf[i] = saved;
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return CRM_EIO;
    return 0;
}

/* Returns 0 when directory path is empty, CRM_EEXISTS when not, CRM_EIO when unreadable. */
static int
s_dir_empty(const char *path)
{
    DIR *dir = opendir(path);
    if (!dir)
        return CRM_EIO;
    int rc = 0;
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL) {
        if (strcmp(entry->d_name, ".") != 0 && strcmp(entry->d_name, "..") != 0) {
            rc = CRM_EEXISTS;
            break;
        }
    }
    closedir(dir);
    return rc;
}

/* --- The gate */

static void
s_lock(pthread_mutex_t *mutex)
{
    int rc = pthread_mutex_lock(mutex);
    assert(rc == 0);
    (void) rc;
}

static void
s_unlock(pthread_mutex_t *mutex)
{
    int rc = pthread_mutex_unlock(mutex);
    assert(rc == 0);
    (void) rc;
}

/* True when the calling thread began a read transaction still open. Under gate_lock. */
static bool
s_holds_read(const crm_store_t *store)
{
    pthread_t self = pthread_self();
    for (const crm_txn_t *txn = store->reads; txn; txn = txn->next)
        if (pthread_equal(txn->owner, self))
            return true;
    return false;
}

/* Enters the gate for a read transaction (listed when txn is not NULL) or a backup, waiting
 * while the map grows unless this thread already holds a snapshot. */
static void
s_gate_enter_read(crm_store_t *store, crm_txn_t *txn)
{
    s_lock(&store->gate_lock);
    while (store->growing && !s_holds_read(store))
        pthread_cond_wait(&store->gate_changed, &store->gate_lock);
    store->open_txns++;
    if (txn) {
        txn->owner = pthread_self();
        txn->prev = NULL;
        txn->next = store->reads;
        if (store->reads)
            store->reads->prev = txn;
        store->reads = txn;
    }
    s_unlock(&store->gate_lock);
}

/* Enters the gate for a write transaction. Under write_lock, so the gate is never closed. */
static void
s_gate_enter_write(crm_store_t *store)
{
    s_lock(&store->gate_lock);
    assert(!store->growing);
    store->open_txns++;
    s_unlock(&store->gate_lock);
}

static void
s_gate_leave(crm_store_t *store, crm_txn_t *txn)
{
    s_lock(&store->gate_lock);
    assert(store->open_txns > 0);
    store->open_txns--;
    if (txn && !txn->write) {
        if (txn->prev)
            txn->prev->next = txn->next;
        else
            store->reads = txn->next;
        if (txn->next)
            txn->next->prev = txn->prev;
        txn->prev = txn->next = NULL;
    }
    pthread_cond_broadcast(&store->gate_changed);
    s_unlock(&store->gate_lock);
}

/* Sets the map size to size (0: adopt the size another process set) once no transaction is
 * open in this process. Called under write_lock, with no transaction of the caller open.
 * Returns 0, CRM_EMAPFULL (growth would deadlock: see the gate) or CRM_ESTORE. */
static int
s_remap(crm_store_t *store, size_t size)
{
    int rc = 0;
    s_lock(&store->gate_lock);
    assert(!store->growing);
    if (s_holds_read(store)) {
        rc = CRM_EMAPFULL;
        goto out;
    }
    store->growing = true;
    while (store->open_txns > 0) {
        if (store->holders_waiting > 0) {
            rc = CRM_EMAPFULL;
            goto out;
        }
        pthread_cond_wait(&store->gate_changed, &store->gate_lock);
    }
    rc = s_error(mdb_env_set_mapsize(store->env, size));
    if (rc == 0 && size > 0)
        store->grows++;
out:
    store->growing = false;
    pthread_cond_broadcast(&store->gate_changed);
    s_unlock(&store->gate_lock);
    return rc;
}

/* Doubles the map, up to max_map_size. Under write_lock. Returns 0, CRM_EMAPFULL or CRM_ESTORE. */
static int
s_grow(crm_store_t *store)
{
    MDB_envinfo info;
    s_lock(&store->gate_lock);
    int rc = s_error(mdb_env_info(store->env, &info));
    s_unlock(&store->gate_lock);
    if (rc != 0)
        return rc;
    if (info.me_mapsize >= store->max_map_size)
        return CRM_EMAPFULL;
    size_t size = info.me_mapsize > store->max_map_size / 2 ? store->max_map_size
                                                            : info.me_mapsize * 2;
    return s_remap(store, size);
}

/* --- The environment */

static size_t
s_round_up(size_t size, size_t unit)
{
    return (size + unit - 1) / unit * unit;
}

/* Picks the map size at open: the configured one for a new environment, else the larger of the
 * configured and the stored (grown) one, within max_map_size. */
static int
s_initial_map(crm_store_t *store, size_t map_size)
{
    MDB_envinfo info;
    int rc = s_error(mdb_env_info(store->env, &info));
    if (rc != 0)
        return rc;
    size_t size = map_size;
    if (info.me_last_txnid > 0 && info.me_mapsize > size)
        size = info.me_mapsize < store->max_map_size ? info.me_mapsize : store->max_map_size;
    if (size == info.me_mapsize)
        return 0;
    return s_error(mdb_env_set_mapsize(store->env, size));
}

int
crm_store_open(const char *path, const crm_store_options_t *opts, crm_store_t **store_p)
{
    assert(path);
    assert(store_p);
    *store_p = NULL;
    crm_store_options_t o = opts ? *opts : (crm_store_options_t) { 0 };
    long os_page = sysconf(_SC_PAGESIZE);
    assert(os_page > 0);
    size_t page = (size_t) os_page;
    size_t map_size = s_round_up(o.map_size ? o.map_size : CRM_STORE_DEFAULT_MAP_SIZE, page);
    size_t max_map = (o.max_map_size ? o.max_map_size : CRM_STORE_DEFAULT_MAX_MAP_SIZE) / page * page;
    if (max_map < map_size)
        return CRM_EINVALID;

    int rc = s_mkdirs(path);
    if (rc != 0)
        return rc;
    crm_store_t *store = calloc(1, sizeof *store);
    if (!store)
        return CRM_ENOMEM;
    store->max_map_size = max_map;
    /* An error-checking write lock turns a crm_store_write called from inside a write body
     * into a failed assert instead of a silent deadlock. */
    pthread_mutexattr_t attr;
    bool write_lock = false, gate_lock = false, gate_changed = false;
    if (pthread_mutexattr_init(&attr) != 0) {
        rc = CRM_ENOMEM;
        goto out;
    }
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ERRORCHECK);
    write_lock = pthread_mutex_init(&store->write_lock, &attr) == 0;
    pthread_mutexattr_destroy(&attr);
    if (write_lock)
        gate_lock = pthread_mutex_init(&store->gate_lock, NULL) == 0;
    if (gate_lock)
        gate_changed = pthread_cond_init(&store->gate_changed, NULL) == 0;
    if (!gate_changed) {
        rc = CRM_ENOMEM;
        goto out;
    }

    rc = s_error(mdb_env_create(&store->env));
    if (rc != 0)
        goto out;
    rc = s_error(mdb_env_set_maxdbs(store->env, o.max_dbs ? o.max_dbs : CRM_STORE_DEFAULT_MAX_DBS));
    if (rc == 0)
        rc = s_error(mdb_env_set_maxreaders(store->env,
                                            o.max_readers ? o.max_readers : CRM_STORE_DEFAULT_MAX_READERS));
    if (rc != 0)
        goto out;
    /* No map size before open: an existing environment keeps its grown size (s_initial_map). */
    unsigned flags = MDB_NOTLS | (o.no_sync ? MDB_NOSYNC : 0);
    rc = s_error(mdb_env_open(store->env, path, flags, CRM_STORE_FILE_MODE));
    if (rc != 0)
        goto out;
    rc = s_error(mdb_reader_check(store->env, NULL));
    if (rc != 0)
        goto out;
    rc = s_initial_map(store, map_size);
    if (rc != 0)
        goto out;
    MDB_stat st;
    rc = s_error(mdb_env_stat(store->env, &st));
    if (rc != 0)
        goto out;
    store->page_size = st.ms_psize;
    int max_key = mdb_env_get_maxkeysize(store->env);
    assert(max_key > 0);
    store->max_key_size = (size_t) max_key < CRM_STORE_MAX_KEY_SIZE ? (size_t) max_key
                                                                    : CRM_STORE_MAX_KEY_SIZE;
out:
    if (rc != 0) {
        if (rc == CRM_EINVALID)
            rc = CRM_ESTORE;   /* options were checked above: LMDB refused the environment */
        if (store->env)
            mdb_env_close(store->env);
        if (gate_changed)
            pthread_cond_destroy(&store->gate_changed);
        if (gate_lock)
            pthread_mutex_destroy(&store->gate_lock);
        if (write_lock)
            pthread_mutex_destroy(&store->write_lock);
        free(store);
        return rc;
    }
    *store_p = store;
    return 0;
}

void
crm_store_destroy(crm_store_t **store_p)
{
    assert(store_p);
    crm_store_t *store = *store_p;
    if (!store)
        return;
    assert(store->open_txns == 0 && "a transaction is still open");
    mdb_env_close(store->env);
    pthread_cond_destroy(&store->gate_changed);
    pthread_mutex_destroy(&store->gate_lock);
    pthread_mutex_destroy(&store->write_lock);
    free(store);
    *store_p = NULL;
}

/* --- Transactions */

/* Closes the LMDB cursors of txn before it ends, leaving the wrappers to crm_cursor_close. */
static void
s_detach_cursors(crm_txn_t *txn)
{
    crm_cursor_t *cursor = txn->cursors;
    while (cursor) {
        crm_cursor_t *next = cursor->next;
        mdb_cursor_close(cursor->cursor);
        cursor->cursor = NULL;
        cursor->txn = NULL;
        cursor->prev = cursor->next = NULL;
        cursor = next;
    }
    txn->cursors = NULL;
}

typedef struct {
    const char *name;
    MDB_dbi dbi;
} s_db_open_t;

static int
s_db_open(crm_txn_t *txn, void *arg)
{
    s_db_open_t *open = arg;
    return s_txn_error(txn, mdb_dbi_open(txn->txn, open->name, MDB_CREATE, &open->dbi));
}

int
crm_store_db(crm_store_t *store, const char *name, crm_db_t *db)
{
    assert(store);
    assert(name && *name);
    assert(db);
    if (strlen(name) > store->max_key_size)
        return CRM_EINVALID;
    s_db_open_t open = { .name = name };
    int rc = crm_store_write(store, s_db_open, &open);
    if (rc == 0)
        *db = open.dbi;
    return rc;
}

/* One attempt at a write: begin, run fn, commit or abort. Under write_lock. Returns 0, fn's
 * error, CRM_EMAPFULL (grow and retry), MDB_MAP_RESIZED (adopt and retry) or another code. */
static int
s_write_once(crm_store_t *store, crm_store_write_fn fn, void *arg)
{
    crm_txn_t txn = { .store = store, .write = true };
    s_gate_enter_write(store);
    int mrc = mdb_txn_begin(store->env, NULL, 0, &txn.txn);
    if (mrc != MDB_SUCCESS) {
        s_gate_leave(store, &txn);
        return mrc == MDB_MAP_RESIZED ? MDB_MAP_RESIZED : s_error(mrc);
    }
    int rc = fn(&txn, arg);
    s_detach_cursors(&txn);
    if (txn.spoilt == CRM_EMAPFULL || (rc == 0 && txn.spoilt != 0))
        rc = txn.spoilt;
    if (rc == 0)
        rc = s_error(mdb_txn_commit(txn.txn));   /* frees the transaction, even on failure */
    else
        mdb_txn_abort(txn.txn);
    s_gate_leave(store, &txn);
    return rc;
}

int
crm_store_write(crm_store_t *store, crm_store_write_fn fn, void *arg)
{
    assert(store);
    assert(fn);
    /* A thread holding a snapshot says so while it waits, so that growth does not wait for it. */
    s_lock(&store->gate_lock);
    bool holder = s_holds_read(store);
    if (holder) {
        store->holders_waiting++;
        pthread_cond_broadcast(&store->gate_changed);
    }
    s_unlock(&store->gate_lock);
    s_lock(&store->write_lock);
    if (holder) {
        s_lock(&store->gate_lock);
        store->holders_waiting--;
        s_unlock(&store->gate_lock);
    }

    int rc;
    unsigned resizes = 0;
    for (;;) {
        rc = s_write_once(store, fn, arg);
        if (rc == MDB_MAP_RESIZED) {
            rc = ++resizes > CRM_STORE_RESIZE_TRIES ? CRM_ESTORE : s_remap(store, 0);
            if (rc == CRM_EMAPFULL)
                rc = CRM_ESTORE;   /* the map is not full here: we could not adopt its size */
        } else if (rc == CRM_EMAPFULL) {
            rc = s_grow(store);
        } else {
            goto out;
        }
        if (rc != 0)
            goto out;
    }
out:
    s_unlock(&store->write_lock);
    return rc;
}

/* Adopts a map grown by another process, for a reader. Returns 0, CRM_ESTORE. */
static int
s_adopt_for_read(crm_store_t *store)
{
    s_lock(&store->gate_lock);
    bool holder = s_holds_read(store);
    s_unlock(&store->gate_lock);
    if (holder)
        return CRM_ESTORE;   /* cannot remap under our own snapshot */
    s_lock(&store->write_lock);
    int rc = s_remap(store, 0);
    s_unlock(&store->write_lock);
    return rc == 0 ? 0 : CRM_ESTORE;
}

int
crm_store_read_begin(crm_store_t *store, crm_txn_t **txn_p)
{
    assert(store);
    assert(txn_p);
    *txn_p = NULL;
    crm_txn_t *txn = calloc(1, sizeof *txn);
    if (!txn)
        return CRM_ENOMEM;
    txn->store = store;
    int rc;
    for (unsigned resizes = 0;; resizes++) {
        s_gate_enter_read(store, txn);
        int mrc = mdb_txn_begin(store->env, NULL, MDB_RDONLY, &txn->txn);
        if (mrc == MDB_SUCCESS) {
            rc = 0;
            goto out;
        }
        s_gate_leave(store, txn);
        if (mrc != MDB_MAP_RESIZED || resizes >= CRM_STORE_RESIZE_TRIES) {
            rc = mrc == MDB_MAP_RESIZED ? CRM_ESTORE : s_error(mrc);
            goto out;
        }
        rc = s_adopt_for_read(store);
        if (rc != 0)
            goto out;
    }
out:
    if (rc != 0) {
        free(txn);
        return rc;
    }
    *txn_p = txn;
    return 0;
}

void
crm_store_txn_end(crm_txn_t **txn_p)
{
    assert(txn_p);
    crm_txn_t *txn = *txn_p;
    if (!txn)
        return;
    assert(!txn->write && "the write transaction belongs to crm_store_write");
    s_detach_cursors(txn);
    mdb_txn_abort(txn->txn);
    s_gate_leave(txn->store, txn);
    free(txn);
    *txn_p = NULL;
}

/* --- Records */

static void
s_out(crm_val_t *out, const MDB_val *val)
{
    if (out) {
        out->data = val->mv_data;
        out->size = val->mv_size;
    }
}

int
crm_store_get(crm_txn_t *txn, crm_db_t db, const void *key, size_t key_size, crm_val_t *val)
{
    assert(txn && txn->txn);
    assert(val);
    if (!s_key_ok(txn->store, key, key_size))
        return CRM_EINVALID;
    MDB_val k = { .mv_size = key_size, .mv_data = (void *) key };
    MDB_val v;
    int rc = s_txn_error(txn, mdb_get(txn->txn, db, &k, &v));
    if (rc == 0)
        s_out(val, &v);
    return rc;
}

int
crm_store_put(crm_txn_t *txn, crm_db_t db, const void *key, size_t key_size,
              const void *value, size_t value_size, unsigned flags)
{
    assert(txn && txn->txn && txn->write);
    assert(value || value_size == 0);
    assert((flags & ~(CRM_STORE_NOOVERWRITE | CRM_STORE_APPEND)) == 0);
    if (!s_key_ok(txn->store, key, key_size))
        return CRM_EINVALID;
    MDB_val k = { .mv_size = key_size, .mv_data = (void *) key };
    MDB_val v = { .mv_size = value_size, .mv_data = (void *) value };
    unsigned mflags = ((flags & CRM_STORE_NOOVERWRITE) ? MDB_NOOVERWRITE : 0)
                      | ((flags & CRM_STORE_APPEND) ? MDB_APPEND : 0);
    int mrc = mdb_put(txn->txn, db, &k, &v, mflags);
    if (mrc == MDB_KEYEXIST && (flags & CRM_STORE_APPEND)) {
        /* MDB_APPEND reports an out-of-order key as MDB_KEYEXIST; tell the two apart. */
        MDB_val found;
        bool present = mdb_get(txn->txn, db, &k, &found) == MDB_SUCCESS;
        return present && (flags & CRM_STORE_NOOVERWRITE) ? CRM_EEXISTS : CRM_EINVALID;
    }
    return s_txn_error(txn, mrc);
}

int
crm_store_del(crm_txn_t *txn, crm_db_t db, const void *key, size_t key_size)
{
    assert(txn && txn->txn && txn->write);
    if (!s_key_ok(txn->store, key, key_size))
        return CRM_EINVALID;
    MDB_val k = { .mv_size = key_size, .mv_data = (void *) key };
    return s_txn_error(txn, mdb_del(txn->txn, db, &k, NULL));
}

int
crm_store_count(crm_txn_t *txn, crm_db_t db, uint64_t *count)
{
    assert(txn && txn->txn);
    assert(count);
    MDB_stat st;
    int rc = s_txn_error(txn, mdb_stat(txn->txn, db, &st));
    if (rc == 0)
        *count = st.ms_entries;
    return rc == 0 ? 0 : CRM_ESTORE;
}

/* --- Cursors */

int
crm_cursor_open(crm_txn_t *txn, crm_db_t db, crm_cursor_t **cursor_p)
{
    assert(txn && txn->txn);
    assert(cursor_p);
    *cursor_p = NULL;
    crm_cursor_t *cursor = calloc(1, sizeof *cursor);
    if (!cursor)
        return CRM_ENOMEM;
    int rc = s_txn_error(txn, mdb_cursor_open(txn->txn, db, &cursor->cursor));
    if (rc != 0) {
        free(cursor);
        return rc == CRM_ENOMEM ? rc : CRM_ESTORE;
    }
    cursor->txn = txn;
    cursor->next = txn->cursors;
    if (txn->cursors)
        txn->cursors->prev = cursor;
    txn->cursors = cursor;
    *cursor_p = cursor;
    return 0;
}

void
crm_cursor_close(crm_cursor_t **cursor_p)
{
    assert(cursor_p);
    crm_cursor_t *cursor = *cursor_p;
    if (!cursor)
        return;
    if (cursor->txn) {
        if (cursor->prev)
            cursor->prev->next = cursor->next;
        else
            cursor->txn->cursors = cursor->next;
        if (cursor->next)
            cursor->next->prev = cursor->prev;
        mdb_cursor_close(cursor->cursor);
    }
    free(cursor);
    *cursor_p = NULL;
}

static int
s_cursor_get(crm_cursor_t *cursor, MDB_val *key, MDB_cursor_op op, crm_val_t *k, crm_val_t *v)
{
    assert(cursor);
    assert(cursor->txn && "the cursor's transaction has ended");
    MDB_val kv = key ? *key : (MDB_val) { 0 };
    MDB_val vv = { 0 };
    int rc = s_txn_error(cursor->txn, mdb_cursor_get(cursor->cursor, &kv, &vv, op));
    if (rc == 0) {
        s_out(k, &kv);
        s_out(v, &vv);
    }
    return rc == 0 || rc == CRM_ENOTFOUND ? rc : CRM_ESTORE;
}

int
crm_cursor_seek(crm_cursor_t *cursor, const void *key, size_t key_size, crm_val_t *k, crm_val_t *v)
{
    assert(cursor && cursor->txn);
    if (!s_key_ok(cursor->txn->store, key, key_size))
        return CRM_EINVALID;
    MDB_val kv = { .mv_size = key_size, .mv_data = (void *) key };
    return s_cursor_get(cursor, &kv, MDB_SET_RANGE, k, v);
}

int
crm_cursor_first(crm_cursor_t *cursor, crm_val_t *k, crm_val_t *v)
{
    return s_cursor_get(cursor, NULL, MDB_FIRST, k, v);
}

int
crm_cursor_last(crm_cursor_t *cursor, crm_val_t *k, crm_val_t *v)
{
    return s_cursor_get(cursor, NULL, MDB_LAST, k, v);
}

int
crm_cursor_next(crm_cursor_t *cursor, crm_val_t *k, crm_val_t *v)
{
    return s_cursor_get(cursor, NULL, MDB_NEXT, k, v);
}

int
crm_cursor_prev(crm_cursor_t *cursor, crm_val_t *k, crm_val_t *v)
{
    return s_cursor_get(cursor, NULL, MDB_PREV, k, v);
}

int
crm_cursor_del(crm_cursor_t *cursor)
{
    assert(cursor);
    assert(cursor->txn && "the cursor's transaction has ended");
    assert(cursor->txn->write);
    int rc = s_txn_error(cursor->txn, mdb_cursor_del(cursor->cursor, 0));
    return rc == 0 || rc == CRM_EMAPFULL ? rc : CRM_ESTORE;
}

/* --- Maintenance */

int
crm_store_reader_check(crm_store_t *store, int *cleared)
{
    assert(store);
    int dead = 0;
    int rc = mdb_reader_check(store->env, &dead);
    if (rc != 0)
        return CRM_ESTORE;
    if (cleared)
        *cleared = dead;
    return 0;
}

/* mdb_reader_list calls this once per line: a header, then "pid thread txnid" per slot in use,
 * with txnid "-" for a slot kept without a snapshot (threads of processes without MDB_NOTLS). */
static int
s_count_reader(const char *line, void *ctx)
{
    unsigned *readers = ctx;
    while (*line == ' ')
        line++;
    size_t len = strlen(line);
    bool active = len >= 2 && strcmp(line + len - 2, "-\n") != 0;
    if (*line >= '0' && *line <= '9' && active)
        (*readers)++;
    return 0;
}

int
crm_store_stat(crm_store_t *store, crm_store_stat_t *stat)
{
    assert(store);
    assert(stat);
    MDB_envinfo info;
    s_lock(&store->gate_lock);   /* the map size changes under gate_lock */
    int rc = mdb_env_info(store->env, &info);
    uint64_t grows = store->grows;
    s_unlock(&store->gate_lock);
    if (rc != 0)
        return CRM_ESTORE;
    unsigned readers = 0;
    if (mdb_reader_list(store->env, s_count_reader, &readers) < 0)
        return CRM_ESTORE;
    *stat = (crm_store_stat_t) {
        .map_size = info.me_mapsize,
        .used_bytes = (info.me_last_pgno + 1) * store->page_size,
        .readers = readers,
        .grows = grows,
    };
    return 0;
}

int
crm_store_backup(crm_store_t *store, const char *path)
{
    assert(store);
    assert(path);
    int rc = s_mkdirs(path);
    if (rc == 0)
        rc = s_dir_empty(path);
    if (rc != 0)
        return rc;
    /* mdb_env_copy2 takes its own snapshot: it counts as an open transaction. */
    s_gate_enter_read(store, NULL);
    int mrc = mdb_env_copy2(store->env, path, MDB_CP_COMPACT);
    s_gate_leave(store, NULL);
    rc = s_error(mrc);
    if (rc == CRM_EMAPFULL || rc == CRM_EINVALID || rc == CRM_ELIMIT || rc == CRM_ENOTFOUND
        || rc == CRM_EEXISTS)
        rc = CRM_ESTORE;
    return rc;
}
