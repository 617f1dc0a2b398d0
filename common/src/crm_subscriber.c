/* crm_subscriber.c: applies one publisher's events exactly once, in order, with the cursor in the same transaction. */
#include "crm_subscriber.h"

#include <assert.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crm_error.h"

#define SEQ_SIZE 8
#define CATCH_UP_BUDGET_MS 250       /* time one call may spend replaying before yielding */
#define ARENA_INITIAL ((size_t) 64 << 10)

typedef struct {
    size_t topic_off;
    size_t topic_len;
    uint64_t seq;
    size_t payload_off;
    size_t payload_len;
} s_pending_t;

struct crm_subscriber {
    crm_store_t *store;
    crm_db_t cursor_db;
    crm_db_t dead_db;
    char name[CRM_SUBSCRIBER_MAX_NAME + 1];
    size_t name_len;
    crm_bus_sub_t *bus;
    crm_bus_replay_client_t *replay;
    crm_subscriber_apply_fn apply;
    void *arg;
    char *prefixes[CRM_SUBSCRIBER_MAX_PREFIXES];
    size_t prefix_count;
    uint64_t cursor;           /* last applied, as committed */
    uint64_t known_head;       /* highest sequence the publisher has shown */
    bool heard;                /* the publisher has answered a replay since start */
    bool behind;               /* a catch-up could not finish */
    uint64_t dead_letters;
    s_pending_t pending[CRM_SUBSCRIBER_BATCH_MAX];
    size_t pending_count;
    unsigned char *arena;
    size_t arena_len;
    size_t arena_cap;
    crm_bus_event_t events[CRM_SUBSCRIBER_BATCH_MAX];
};

/* One run of the apply transaction. Fields below `out` are written by the body and read after it. */
typedef struct {
    crm_subscriber_t *sub;
    const crm_bus_event_t *events;
    size_t count;
    bool dead_letter;          /* record events[0] as dead instead of applying */
    int dead_rc;
    /* out */
    uint64_t new_cursor;
    bool apply_failed;
    size_t failed_index;
} s_apply_t;

static long long s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int s_cursor_read(crm_subscriber_t *sub, crm_txn_t *txn, uint64_t *cursor)
{
    crm_val_t value;
    int rc = crm_store_get(txn, sub->cursor_db, sub->name, sub->name_len, &value);
    if (rc == CRM_ENOTFOUND) {
        *cursor = 0;
        return 0;
    }
    if (rc)
        return rc;
    if (value.size != SEQ_SIZE)
        return CRM_ESTORE;
    *cursor = crm_bus_seq_decode(value.data);
    return 0;
}

static int s_cursor_write(crm_subscriber_t *sub, crm_txn_t *txn, uint64_t cursor)
{
    unsigned char value[SEQ_SIZE];
    crm_bus_seq_encode(cursor, value);
    return crm_store_put(txn, sub->cursor_db, sub->name, sub->name_len, value, SEQ_SIZE, 0);
}

static bool s_wanted(const crm_subscriber_t *sub, const crm_bus_event_t *event)
{
    if (sub->prefix_count == 0)
        return true;
    for (size_t i = 0; i < sub->prefix_count; i++)
        if (crm_bus_topic_matches(event->topic, event->topic_len, sub->prefixes[i]))
            return true;
    return false;
}

/* Dead letter: key [publisher name][sequence], value [error code, 4 bytes][topic length, 1][topic][payload]. */
static int s_dead_letter_put(crm_subscriber_t *sub, crm_txn_t *txn, const crm_bus_event_t *event, int code)
{
    unsigned char key[CRM_SUBSCRIBER_MAX_NAME + SEQ_SIZE];
    memcpy(key, sub->name, sub->name_len);
    crm_bus_seq_encode(event->seq, key + sub->name_len);
    size_t size = 4 + 1 + event->topic_len + event->payload_len;
    unsigned char *value = malloc(size);
    if (!value)
        return CRM_ENOMEM;
    uint32_t ucode = (uint32_t) code;
    value[0] = (unsigned char) (ucode >> 24);
    value[1] = (unsigned char) (ucode >> 16);
    value[2] = (unsigned char) (ucode >> 8);
    value[3] = (unsigned char) ucode;
    value[4] = (unsigned char) event->topic_len;
    memcpy(value + 5, event->topic, event->topic_len);
    if (event->payload_len)
        memcpy(value + 5 + event->topic_len, event->payload, event->payload_len);
    int rc = crm_store_put(txn, sub->dead_db, key, sub->name_len + SEQ_SIZE, value, size, 0);
    free(value);
    return rc;
}

static int s_apply_body(crm_txn_t *txn, void *arg)
{
    s_apply_t *run = arg;
    crm_subscriber_t *sub = run->sub;
    run->apply_failed = false;
    uint64_t cursor = 0;
    int rc = s_cursor_read(sub, txn, &cursor);
    if (rc)
        return rc;
    uint64_t start = cursor;
    for (size_t i = 0; i < run->count; i++) {
        const crm_bus_event_t *event = &run->events[i];
        if (event->seq <= cursor)
            continue;                 /* already applied */
        if (event->seq != cursor + 1)
            break;                    /* a gap: replay fills it */
        if (run->dead_letter) {
            rc = s_dead_letter_put(sub, txn, event, run->dead_rc);
        } else if (s_wanted(sub, event)) {
            rc = sub->apply(txn, event, sub->arg);
            if (rc) {
                run->apply_failed = true;
                run->failed_index = i;
            }
        }
        if (rc)
            return rc;
        cursor = event->seq;
        if (run->dead_letter)
            break;
    }
    if (cursor != start)
        rc = s_cursor_write(sub, txn, cursor);
    run->new_cursor = cursor;
    return rc;
}

/* Applies events (in sequence order, possibly with already-applied ones first) in as few
 * transactions as it can, setting aside unusable ones. */
static int s_apply_events(crm_subscriber_t *sub, const crm_bus_event_t *events, size_t count)
{
    size_t start = 0;
    while (start < count) {
        s_apply_t run = { .sub = sub, .events = events + start, .count = count - start };
        int rc = crm_store_write(sub->store, s_apply_body, &run);
        if (rc == 0) {
            sub->cursor = run.new_cursor;
            return 0;
        }
        if (rc != CRM_EINVALID || !run.apply_failed)
            return rc;
        /* Apply what came before the unusable event, then set it aside on its own. */
        size_t failed = run.failed_index;
        if (failed > 0) {
            s_apply_t before = { .sub = sub, .events = events + start, .count = failed };
            rc = crm_store_write(sub->store, s_apply_body, &before);
            if (rc)
                return rc;
            sub->cursor = before.new_cursor;
        }
        s_apply_t dead = { .sub = sub, .events = events + start + failed, .count = 1,
                           .dead_letter = true, .dead_rc = CRM_EINVALID };
        rc = crm_store_write(sub->store, s_apply_body, &dead);
        if (rc)
            return rc;
        sub->cursor = dead.new_cursor;
        sub->dead_letters++;
        start += failed + 1;
    }
    return 0;
}

int crm_subscriber_new(void *zmq_ctx, crm_store_t *store, const char *publisher,
                       const char *pub_endpoint, const char *replay_endpoint,
                       crm_subscriber_apply_fn apply, void *arg, crm_subscriber_t **sub_p)
{
    assert(zmq_ctx && store && apply && sub_p);
    size_t name_len = publisher ? strlen(publisher) : 0;
    if (name_len == 0 || name_len > CRM_SUBSCRIBER_MAX_NAME)
        return CRM_EINVALID;
    crm_subscriber_t *sub = calloc(1, sizeof *sub);
    if (!sub)
        return CRM_ENOMEM;
    memcpy(sub->name, publisher, name_len);
    sub->name_len = name_len;
    sub->store = store;
    sub->apply = apply;
    sub->arg = arg;
    crm_txn_t *txn = NULL;
    int rc = crm_store_db(store, CRM_SUBSCRIBER_CURSOR_DB, &sub->cursor_db);
    if (rc == 0)
        rc = crm_store_db(store, CRM_SUBSCRIBER_DEAD_LETTER_DB, &sub->dead_db);
    if (rc == 0)
        rc = crm_store_read_begin(store, &txn);
    if (rc == 0)
        rc = s_cursor_read(sub, txn, &sub->cursor);
    crm_store_txn_end(&txn);
    sub->known_head = sub->cursor;
    if (rc == 0)
        rc = crm_bus_sub_new(zmq_ctx, pub_endpoint, &sub->bus);
    if (rc == 0)
        rc = crm_bus_replay_client_new(zmq_ctx, replay_endpoint, &sub->replay);
    if (rc == 0) {
        sub->arena = malloc(ARENA_INITIAL);
        sub->arena_cap = ARENA_INITIAL;
        if (!sub->arena)
            rc = CRM_ENOMEM;
    }
    if (rc) {
        crm_subscriber_destroy(&sub);
        return rc;
    }
    *sub_p = sub;
    return 0;
}

void crm_subscriber_destroy(crm_subscriber_t **sub_p)
{
    if (!sub_p || !*sub_p)
        return;
    crm_subscriber_t *sub = *sub_p;
    crm_bus_sub_destroy(&sub->bus);
    crm_bus_replay_client_destroy(&sub->replay);
    for (size_t i = 0; i < sub->prefix_count; i++)
        free(sub->prefixes[i]);
    free(sub->arena);
    free(sub);
    *sub_p = NULL;
}

int crm_subscriber_add_prefix(crm_subscriber_t *sub, const char *prefix)
{
    if (!prefix || !*prefix || strlen(prefix) > CRM_BUS_MAX_TOPIC)
        return CRM_EINVALID;
    if (sub->prefix_count == CRM_SUBSCRIBER_MAX_PREFIXES)
        return CRM_ELIMIT;
    sub->prefixes[sub->prefix_count] = strdup(prefix);
    if (!sub->prefixes[sub->prefix_count])
        return CRM_ENOMEM;
    sub->prefix_count++;
    return 0;
}

void *crm_subscriber_socket(crm_subscriber_t *sub)
{
    return crm_bus_sub_socket(sub->bus);
}

uint64_t crm_subscriber_cursor(const crm_subscriber_t *sub)
{
    return sub->cursor;
}

uint64_t crm_subscriber_known_head(const crm_subscriber_t *sub)
{
    return sub->known_head;
}

uint64_t crm_subscriber_dead_letters(const crm_subscriber_t *sub)
{
    return sub->dead_letters;
}

/* Replays from the cursor until caught up with the publisher's head, or the time budget is spent. */
static int s_catch_up(crm_subscriber_t *sub)
{
    long long deadline = s_now_ms() + CATCH_UP_BUDGET_MS;
    do {
        crm_bus_batch_t *batch = NULL;
        int rc = crm_bus_replay_fetch(sub->replay, sub->cursor, CRM_SUBSCRIBER_BATCH_MAX,
                                      CRM_SUBSCRIBER_REPLAY_TIMEOUT_MS, &batch);
        if (rc == CRM_EUNAVAIL || rc == CRM_ETIMEOUT || rc == CRM_EPROTOCOL) {
            sub->behind = true;       /* the publisher is away: try again on the next tick */
            return 0;
        }
        if (rc)
            return rc;
        sub->heard = true;
        uint64_t head = crm_bus_batch_head(batch);
        if (head > sub->known_head)
            sub->known_head = head;
        size_t count = crm_bus_batch_count(batch);
        if (count > CRM_SUBSCRIBER_BATCH_MAX) {
            crm_bus_batch_destroy(&batch);   /* more than was asked for: not a publisher we know */
            sub->behind = true;
            return 0;
        }
        for (size_t i = 0; i < count; i++)
            crm_bus_batch_event(batch, i, &sub->events[i]);
        rc = count ? s_apply_events(sub, sub->events, count) : 0;
        crm_bus_batch_destroy(&batch);
        if (rc) {
            sub->behind = true;
            return rc;
        }
        if (sub->cursor >= head || count == 0) {
            /* Caught up; or the publisher has nothing after the cursor (its head moved back). */
            sub->behind = false;
            return 0;
        }
    } while (s_now_ms() < deadline);
    sub->behind = true;
    return 0;
}

/* Copies a live event into the pending batch. */
static int s_pending_add(crm_subscriber_t *sub, const crm_bus_event_t *event)
{
    size_t need = event->topic_len + event->payload_len;
    if (sub->arena_len + need > sub->arena_cap) {
        size_t cap = sub->arena_cap;
        while (cap < sub->arena_len + need)
            cap *= 2;
        unsigned char *grown = realloc(sub->arena, cap);
        if (!grown)
            return CRM_ENOMEM;
        sub->arena = grown;
        sub->arena_cap = cap;
    }
    s_pending_t *p = &sub->pending[sub->pending_count++];
    p->seq = event->seq;
    p->topic_off = sub->arena_len;
    p->topic_len = event->topic_len;
    memcpy(sub->arena + sub->arena_len, event->topic, event->topic_len);
    sub->arena_len += event->topic_len;
    p->payload_off = sub->arena_len;
    p->payload_len = event->payload_len;
    if (event->payload_len)
        memcpy(sub->arena + sub->arena_len, event->payload, event->payload_len);
    sub->arena_len += event->payload_len;
    return 0;
}

static int s_pending_apply(crm_subscriber_t *sub)
{
    for (size_t i = 0; i < sub->pending_count; i++) {
        const s_pending_t *p = &sub->pending[i];
        sub->events[i] = (crm_bus_event_t) {
            .topic = (const char *) sub->arena + p->topic_off, .topic_len = p->topic_len,
            .seq = p->seq, .payload = sub->arena + p->payload_off, .payload_len = p->payload_len,
        };
    }
    int rc = sub->pending_count ? s_apply_events(sub, sub->events, sub->pending_count) : 0;
    sub->pending_count = 0;
    sub->arena_len = 0;
    return rc;
}

int crm_subscriber_process(crm_subscriber_t *sub)
{
    bool gap = false;
    uint64_t next = sub->cursor + 1;
    int rc = 0;
    while (sub->pending_count < CRM_SUBSCRIBER_BATCH_MAX && sub->arena_len < CRM_SUBSCRIBER_BATCH_BYTES) {
        crm_bus_event_t event;
        rc = crm_bus_sub_recv(sub->bus, &event);
        if (rc == CRM_ENOTFOUND) {
            rc = 0;
            break;
        }
        if (rc == CRM_EPROTOCOL)
            continue;
        if (rc)
            break;
        if (event.seq > sub->known_head)
            sub->known_head = event.seq;
        if (event.heartbeat || event.seq < next)
            continue;
        if (event.seq > next) {
            gap = true;               /* dropped or missed: replay brings it */
            continue;
        }
        rc = s_pending_add(sub, &event);
        if (rc)
            break;
        next++;
    }
    int apply_rc = s_pending_apply(sub);
    if (rc == 0)
        rc = apply_rc;
    if (rc)
        return rc;
    if (gap || sub->known_head > sub->cursor)
        return s_catch_up(sub);
    return 0;
}

int crm_subscriber_tick(crm_subscriber_t *sub)
{
    if (!sub->heard || sub->behind || sub->known_head > sub->cursor)
        return s_catch_up(sub);
    return 0;
}
