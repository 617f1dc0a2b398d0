/* contacts_record.c: customers, their indexes, interactions and purchases, and their key layout in LMDB. */
#include "contacts_record.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crm_codec.h"
#include "crm_error.h"

#define S_KIND_EMAIL     'e'
#define S_KIND_PHONE     'p'
#define S_KIND_EXTERNAL  'x'
#define S_KIND_NAME      'n'
#define S_KIND_TAG       't'
#define S_KIND_TIER      'v'
#define S_KIND_NEED      'd'
#define S_KIND_STAGE     's'
#define S_KIND_OWNER     'o'
#define S_KIND_CUSTOM    'c'
#define S_REF_ORDER      'o'
#define S_REF_PURCHASE   'p'

#define S_KEY_FIELD_MAX  48            /* "externalIds[15]", with room for any size_t */
#define S_KEYS_FIRST_CAP 64
#define S_NUMBER_MAX     16            /* an enum number as text */
#define S_TOKEN_BIN_MAX  (CONTACTS_TIME_KEY_LEN + CRM_ID_LEN)
#define S_B64_VARIANT    sodium_base64_VARIANT_URLSAFE_NO_PADDING

/* --- Keys */

typedef struct {
    bool unique;                                  /* customer_unique, else customer_index */
    size_t len;
    unsigned char data[CRM_STORE_MAX_KEY_SIZE];
    char field[S_KEY_FIELD_MAX];                  /* unique keys: the field that owns the value */
} s_key_t;

typedef struct {
    s_key_t *items;
    size_t count;
    size_t cap;
} s_keys_t;

/* A key under construction. */
typedef struct {
    unsigned char data[CRM_STORE_MAX_KEY_SIZE];
    size_t len;
    bool overflow;
} s_buf_t;

static void
s_buf_bytes(s_buf_t *b, const void *data, size_t len)
{
    if (b->overflow || len > sizeof b->data - b->len) {
        b->overflow = true;
        return;
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
}

static void
s_buf_byte(s_buf_t *b, unsigned char c)
{
    s_buf_bytes(b, &c, 1);
}

static void
s_buf_str(s_buf_t *b, const char *s)
{
    s_buf_bytes(b, s, strlen(s));
}

/* Appends s with ASCII letters lower-cased, at most max bytes of it. */
static void
s_buf_fold(s_buf_t *b, const char *s, size_t max)
{
    for (size_t i = 0; s[i] && i < max; i++) {
        char c = s[i];
        s_buf_byte(b, (unsigned char) ((c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c));
    }
}

static void
s_buf_number(s_buf_t *b, int n)
{
    char text[S_NUMBER_MAX];
    snprintf(text, sizeof text, "%d", n);
    s_buf_str(b, text);
}

static int
s_keys_add(s_keys_t *keys, bool unique, const s_buf_t *b, const char *field)
{
    if (b->overflow || b->len == 0)
        return CRM_EINVALID;
    if (keys->count == keys->cap) {
        size_t cap = keys->cap ? keys->cap * 2 : S_KEYS_FIRST_CAP;
        s_key_t *items = realloc(keys->items, cap * sizeof *items);
        if (!items)
            return CRM_ENOMEM;
        keys->items = items;
        keys->cap = cap;
    }
    s_key_t *k = &keys->items[keys->count++];
    k->unique = unique;
    k->len = b->len;
    memcpy(k->data, b->data, b->len);
    snprintf(k->field, sizeof k->field, "%s", field ? field : "");
    return 0;
}

/* An index key: the prefix in b followed by the customer id. */
static int
s_keys_add_index(s_keys_t *keys, s_buf_t *b, const char *id)
{
    s_buf_str(b, id);
    return s_keys_add(keys, false, b, NULL);
}

static void
s_key_email(s_buf_t *b, const char *email)
{
    s_buf_byte(b, S_KIND_EMAIL);
    s_buf_fold(b, email, CONTACTS_EMAIL_MAX);
}

static void
s_key_phone(s_buf_t *b, const char *phone)
{
    s_buf_byte(b, S_KIND_PHONE);
    s_buf_str(b, phone);
}

static void
s_key_external(s_buf_t *b, const char *system, const char *id)
{
    s_buf_byte(b, S_KIND_EXTERNAL);
    s_buf_str(b, system);
    s_buf_byte(b, 0);
    s_buf_str(b, id);
}

/* Prefixes of index keys (everything before the customer id). */
static void
s_prefix_value(s_buf_t *b, char kind, const char *value, bool fold)
{
    s_buf_byte(b, (unsigned char) kind);
    if (fold)
        s_buf_fold(b, value, sizeof b->data);
    else
        s_buf_str(b, value);
    s_buf_byte(b, 0);
}

static void
s_prefix_number(s_buf_t *b, char kind, int n)
{
    s_buf_byte(b, (unsigned char) kind);
    s_buf_number(b, n);
    s_buf_byte(b, 0);
}

static void
s_prefix_custom(s_buf_t *b, const char *name, const char *text)
{
    s_buf_byte(b, S_KIND_CUSTOM);
    s_buf_str(b, name);
    s_buf_byte(b, 0);
    s_buf_str(b, text);
    s_buf_byte(b, 0);
}

/* The name-prefix key for a query: at most CONTACTS_NAME_INDEX_PREFIX_MAX folded bytes. */
static void
s_prefix_name(s_buf_t *b, const char *name, size_t len)
{
    s_buf_byte(b, S_KIND_NAME);
    s_buf_fold(b, name, len);
    s_buf_byte(b, 0);
}

/* Every unique and index key of customer c. */
static int
s_keys_build(const Crm__V1__Customer *c, s_keys_t *keys)
{
    int rc = 0;
    const char *id = c->id;
    s_buf_t b;
    char field[S_KEY_FIELD_MAX];
    if (*c->email) {
        b = (s_buf_t) { .len = 0 };
        s_key_email(&b, c->email);
        if ((rc = s_keys_add(keys, true, &b, "email")))
            return rc;
    }
    if (*c->phone) {
        b = (s_buf_t) { .len = 0 };
        s_key_phone(&b, c->phone);
        if ((rc = s_keys_add(keys, true, &b, "phone")))
            return rc;
    }
    for (size_t i = 0; i < c->n_external_ids; i++) {
        b = (s_buf_t) { .len = 0 };
        s_key_external(&b, c->external_ids[i]->system, c->external_ids[i]->id);
        snprintf(field, sizeof field, "externalIds[%zu]", i);
        if ((rc = s_keys_add(keys, true, &b, field)))
            return rc;
    }
    size_t name_len = strlen(c->name);
    if (name_len > CONTACTS_NAME_INDEX_PREFIX_MAX)
        name_len = CONTACTS_NAME_INDEX_PREFIX_MAX;
    for (size_t n = 1; n <= name_len; n++) {
        b = (s_buf_t) { .len = 0 };
        s_prefix_name(&b, c->name, n);
        if ((rc = s_keys_add_index(keys, &b, id)))
            return rc;
    }
    for (size_t i = 0; i < c->n_tags; i++) {
        b = (s_buf_t) { .len = 0 };
        s_prefix_value(&b, S_KIND_TAG, c->tags[i], true);
        if ((rc = s_keys_add_index(keys, &b, id)))
            return rc;
    }
    const struct {
        char kind;
        int value;
    } numbers[] = {
        { S_KIND_TIER, (int) c->value_tier },
        { S_KIND_NEED, (int) c->need_type },
        { S_KIND_STAGE, (int) c->lifecycle_stage },
    };
    for (size_t i = 0; i < sizeof numbers / sizeof numbers[0]; i++) {
        if (numbers[i].value == 0)
            continue;
        b = (s_buf_t) { .len = 0 };
        s_prefix_number(&b, numbers[i].kind, numbers[i].value);
        if ((rc = s_keys_add_index(keys, &b, id)))
            return rc;
    }
    if (*c->owner) {
        b = (s_buf_t) { .len = 0 };
        s_prefix_value(&b, S_KIND_OWNER, c->owner, false);
        if ((rc = s_keys_add_index(keys, &b, id)))
            return rc;
    }
    char text[CONTACTS_VALUE_TEXT_MAX];
    for (size_t i = 0; i < c->n_custom_fields; i++) {
        contacts_value_text(c->custom_fields[i]->value, text, sizeof text);
        b = (s_buf_t) { .len = 0 };
        s_prefix_custom(&b, c->custom_fields[i]->key, text);
        if ((rc = s_keys_add_index(keys, &b, id)))
            return rc;
    }
    return 0;
}

static int
s_key_cmp(const void *a, const void *b)
{
    const s_key_t *x = a, *y = b;
    if (x->unique != y->unique)
        return x->unique ? -1 : 1;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->data, y->data, n);
    if (c)
        return c;
    return x->len < y->len ? -1 : x->len > y->len;
}

/* Sorts the keys and drops repeats (two tags that fold alike). */
static void
s_keys_sort(s_keys_t *keys)
{
    if (keys->count < 2)
        return;
    qsort(keys->items, keys->count, sizeof *keys->items, s_key_cmp);
    size_t kept = 1;
    for (size_t i = 1; i < keys->count; i++)
        if (s_key_cmp(&keys->items[kept - 1], &keys->items[i]) != 0)
            keys->items[kept++] = keys->items[i];
    keys->count = kept;
}

static crm_db_t
s_key_db(const contacts_db_t *db, const s_key_t *k)
{
    return k->unique ? db->unique : db->index;
}

/* --- Records */

static int
s_get_msg(crm_txn_t *txn, crm_db_t dbi, const void *key, size_t key_len,
          const ProtobufCMessageDescriptor *desc, ProtobufCMessage **out)
{
    crm_val_t val;
    int rc = crm_store_get(txn, dbi, key, key_len, &val);
    if (rc)
        return rc;
    return crm_codec_msgpack_decode(desc, val.data, val.size, out, NULL);
}

static int
s_put_msg(crm_txn_t *txn, crm_db_t dbi, const void *key, size_t key_len, const ProtobufCMessage *msg)
{
    void *buf = NULL;
    size_t len = 0;
    int rc = crm_codec_msgpack_encode(msg, &buf, &len);
    if (rc == 0)
        rc = crm_store_put(txn, dbi, key, key_len, buf, len, 0);
    free(buf);
    return rc;
}

int
contacts_record_open(crm_store_t *store, contacts_db_t *db)
{
    int rc;
    if ((rc = crm_store_db(store, CONTACTS_DB_CUSTOMERS, &db->customers))
        || (rc = crm_store_db(store, CONTACTS_DB_UNIQUE, &db->unique))
        || (rc = crm_store_db(store, CONTACTS_DB_INDEX, &db->index))
        || (rc = crm_store_db(store, CONTACTS_DB_INTERACTIONS, &db->interactions))
        || (rc = crm_store_db(store, CONTACTS_DB_PURCHASES, &db->purchases))
        || (rc = crm_store_db(store, CONTACTS_DB_PURCHASE_REFS, &db->purchase_refs)))
        return rc;
    return 0;
}

/* --- Lifecycle */

Crm__V1__LifecycleStage
contacts_stage_derive(const contacts_settings_t *settings, uint32_t purchases)
{
    if (purchases == 0)
        return CRM__V1__LIFECYCLE_STAGE__LIFECYCLE_STAGE_PROSPECT;
    if (purchases >= settings->loyal_purchases)
        return CRM__V1__LIFECYCLE_STAGE__LIFECYCLE_STAGE_LOYAL;
    if (purchases >= settings->repeat_purchases)
        return CRM__V1__LIFECYCLE_STAGE__LIFECYCLE_STAGE_REPEAT;
    return CRM__V1__LIFECYCLE_STAGE__LIFECYCLE_STAGE_FIRST_PURCHASE;
}

bool
contacts_stage_is_risk(Crm__V1__LifecycleStage stage)
{
    return stage == CRM__V1__LIFECYCLE_STAGE__LIFECYCLE_STAGE_AT_RISK
           || stage == CRM__V1__LIFECYCLE_STAGE__LIFECYCLE_STAGE_CHURNED;
}

/* --- Customers */

int
contacts_customer_get(const contacts_db_t *db, crm_txn_t *txn, const char *id,
                      Crm__V1__Customer **out)
{
    if (!crm_id_valid(id))
        return CRM_ENOTFOUND;
    return s_get_msg(txn, db->customers, id, CRM_ID_LEN, &crm__v1__customer__descriptor,
                     (ProtobufCMessage **) out);
}

/* Adds a unique entry, unless another customer holds it. */
static int
s_unique_put(const contacts_db_t *db, crm_txn_t *txn, const s_key_t *k, const char *id,
             contacts_err_t *err)
{
    crm_val_t val;
    int rc = crm_store_get(txn, db->unique, k->data, k->len, &val);
    if (rc == 0) {
        if (val.size == CRM_ID_LEN && memcmp(val.data, id, CRM_ID_LEN) == 0)
            return 0;
        char other[CRM_ID_SIZE] = "";
        if (val.size == CRM_ID_LEN)
            memcpy(other, val.data, CRM_ID_LEN);
        contacts_fail(err, CRM_ECONFLICT, k->field, "%s is already used by customer %s", k->field,
                      other);
        if (err)
            snprintf(err->conflict_id, sizeof err->conflict_id, "%s", other);
        return CRM_ECONFLICT;
    }
    if (rc != CRM_ENOTFOUND)
        return rc;
    return crm_store_put(txn, db->unique, k->data, k->len, id, CRM_ID_LEN, 0);
}

int
contacts_customer_put(const contacts_db_t *db, crm_txn_t *txn, const Crm__V1__Customer *old,
                      const Crm__V1__Customer *cust, contacts_err_t *err)
{
    assert(crm_id_valid(cust->id));
    assert(!old || strcmp(old->id, cust->id) == 0);
    s_keys_t before = { 0 }, after = { 0 };
    int rc = s_keys_build(cust, &after);
    if (rc == CRM_EINVALID)
        contacts_fail(err, rc, "", "a value is too long to index");
    if (rc == 0 && old)
        rc = s_keys_build(old, &before);
    if (rc)
        goto out;
    s_keys_sort(&before);
    s_keys_sort(&after);
    /* One walk over both sorted lists: entries only in before go, entries only in after come. */
    size_t i = 0, j = 0;
    while (rc == 0 && (i < before.count || j < after.count)) {
        int c = i == before.count ? 1 : j == after.count ? -1
              : s_key_cmp(&before.items[i], &after.items[j]);
        if (c < 0) {
            const s_key_t *k = &before.items[i++];
            rc = crm_store_del(txn, s_key_db(db, k), k->data, k->len);
            if (rc == CRM_ENOTFOUND)
                rc = 0;
        } else if (c > 0) {
            const s_key_t *k = &after.items[j++];
            rc = k->unique ? s_unique_put(db, txn, k, cust->id, err)
                           : crm_store_put(txn, db->index, k->data, k->len, NULL, 0, 0);
        } else {
            i++;
            j++;
        }
    }
    if (rc == 0)
        rc = s_put_msg(txn, db->customers, cust->id, CRM_ID_LEN, &cust->base);
out:
    free(before.items);
    free(after.items);
    return rc;
}

int
contacts_customer_remove(const contacts_db_t *db, crm_txn_t *txn, const Crm__V1__Customer *cust)
{
    s_keys_t keys = { 0 };
    int rc = s_keys_build(cust, &keys);
    for (size_t i = 0; rc == 0 && i < keys.count; i++) {
        const s_key_t *k = &keys.items[i];
        rc = crm_store_del(txn, s_key_db(db, k), k->data, k->len);
        if (rc == CRM_ENOTFOUND)
            rc = 0;
    }
    if (rc == 0)
        rc = crm_store_del(txn, db->customers, cust->id, CRM_ID_LEN);
    free(keys.items);
    return rc;
}

static int
s_unique_find(const contacts_db_t *db, crm_txn_t *txn, const s_buf_t *b, char id_out[CRM_ID_SIZE])
{
    if (b->overflow)
        return CRM_ENOTFOUND;
    crm_val_t val;
    int rc = crm_store_get(txn, db->unique, b->data, b->len, &val);
    if (rc)
        return rc;
    if (val.size != CRM_ID_LEN)
        return CRM_ESTORE;
    memcpy(id_out, val.data, CRM_ID_LEN);
    id_out[CRM_ID_LEN] = '\0';
    return 0;
}

int
contacts_customer_find_email(const contacts_db_t *db, crm_txn_t *txn, const char *email,
                             char id_out[CRM_ID_SIZE])
{
    s_buf_t b = { .len = 0 };
    s_key_email(&b, email);
    return s_unique_find(db, txn, &b, id_out);
}

int
contacts_customer_find_phone(const contacts_db_t *db, crm_txn_t *txn, const char *phone,
                             char id_out[CRM_ID_SIZE])
{
    s_buf_t b = { .len = 0 };
    s_key_phone(&b, phone);
    return s_unique_find(db, txn, &b, id_out);
}

int
contacts_customer_find_external(const contacts_db_t *db, crm_txn_t *txn, const char *system,
                                const char *external_id, char id_out[CRM_ID_SIZE])
{
    s_buf_t b = { .len = 0 };
    s_key_external(&b, system, external_id);
    return s_unique_find(db, txn, &b, id_out);
}

/* --- Pages and tokens */

void
contacts_page_clear(contacts_page_t *page)
{
    if (!page)
        return;
    for (size_t i = 0; i < page->count; i++)
        crm_codec_message_free(&page->items[i]);
    free(page->items);
    memset(page, 0, sizeof *page);
}

static int
s_page_add(contacts_page_t *page, size_t page_size, ProtobufCMessage **msg_p)
{
    if (!page->items) {
        page->items = calloc(page_size, sizeof *page->items);
        if (!page->items)
            return CRM_ENOMEM;
    }
    assert(page->count < page_size);
    page->items[page->count++] = *msg_p;
    *msg_p = NULL;
    return 0;
}

static uint32_t
s_page_size(uint32_t asked)
{
    if (asked == 0)
        return CONTACTS_PAGE_SIZE_DEFAULT;
    return asked > CONTACTS_PAGE_SIZE_MAX ? CONTACTS_PAGE_SIZE_MAX : asked;
}

static void
s_token_encode(const void *bin, size_t len, char out[CONTACTS_PAGE_TOKEN_MAX])
{
    assert(sodium_base64_ENCODED_LEN(len, S_B64_VARIANT) <= CONTACTS_PAGE_TOKEN_MAX);
    sodium_bin2base64(out, CONTACTS_PAGE_TOKEN_MAX, bin, len, S_B64_VARIANT);
}

/* Decodes a token of exactly len bytes whose last CRM_ID_LEN bytes are an id. */
static int
s_token_decode(const char *token, unsigned char *bin, size_t len, contacts_err_t *err)
{
    size_t token_len = strlen(token);
    size_t bin_len = 0;
    const char *end = NULL;
    char id[CRM_ID_SIZE];
    bool ok = token_len < CONTACTS_PAGE_TOKEN_MAX
              && sodium_base642bin(bin, len, token, token_len, NULL, &bin_len, &end, S_B64_VARIANT) == 0
              && end == token + token_len && bin_len == len;
    if (ok) {
        memcpy(id, bin + len - CRM_ID_LEN, CRM_ID_LEN);
        id[CRM_ID_LEN] = '\0';
        ok = crm_id_valid(id);
    }
    if (!ok)
        return contacts_fail(err, CRM_EINVALID, "pageToken", "pageToken is not a token this service gave");
    return 0;
}

/* --- Search */

static bool
s_given(const char *s)
{
    return s && *s;
}

static bool
s_fold_eq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = (*a >= 'A' && *a <= 'Z') ? (char) (*a - 'A' + 'a') : *a;
        char y = (*b >= 'A' && *b <= 'Z') ? (char) (*b - 'A' + 'a') : *b;
        if (x != y)
            return false;
    }
    return *a == *b;
}

static bool
s_fold_prefix(const char *s, const char *prefix)
{
    for (; *prefix; s++, prefix++) {
        char x = (*s >= 'A' && *s <= 'Z') ? (char) (*s - 'A' + 'a') : *s;
        char y = (*prefix >= 'A' && *prefix <= 'Z') ? (char) (*prefix - 'A' + 'a') : *prefix;
        if (!*s || x != y)
            return false;
    }
    return true;
}

/* True when c satisfies every filter of q. */
static bool
s_matches(const contacts_query_t *q, const Crm__V1__Customer *c)
{
    if (s_given(q->name_prefix) && !s_fold_prefix(c->name, q->name_prefix))
        return false;
    if (s_given(q->email) && !s_fold_eq(c->email, q->email))
        return false;
    if (s_given(q->phone) && strcmp(c->phone, q->phone) != 0)
        return false;
    if (s_given(q->owner) && strcmp(c->owner, q->owner) != 0)
        return false;
    if (q->value_tier && (int) c->value_tier != q->value_tier)
        return false;
    if (q->need_type && (int) c->need_type != q->need_type)
        return false;
    if (q->lifecycle_stage && (int) c->lifecycle_stage != q->lifecycle_stage)
        return false;
    if (s_given(q->tag)) {
        bool found = false;
        for (size_t i = 0; i < c->n_tags && !found; i++)
            found = s_fold_eq(c->tags[i], q->tag);
        if (!found)
            return false;
    }
    if (s_given(q->custom_field)) {
        bool found = false;
        char text[CONTACTS_VALUE_TEXT_MAX];
        for (size_t i = 0; i < c->n_custom_fields && !found; i++) {
            if (strcmp(c->custom_fields[i]->key, q->custom_field) != 0)
                continue;
            contacts_value_text(c->custom_fields[i]->value, text, sizeof text);
            found = strcmp(text, q->custom_value ? q->custom_value : "") == 0;
        }
        if (!found)
            return false;
    }
    if (s_given(q->external_system)) {
        bool found = false;
        for (size_t i = 0; i < c->n_external_ids && !found; i++)
            found = strcmp(c->external_ids[i]->system, q->external_system) == 0
                    && strcmp(c->external_ids[i]->id, q->external_id ? q->external_id : "") == 0;
        if (!found)
            return false;
    }
    return true;
}

/* A walk over keys "<prefix><customer id>" of one database, from just after the id `after`. */
typedef struct {
    crm_cursor_t *cursor;
    const s_buf_t *prefix;
    bool started;
    const char *after;
} s_walk_t;

/* Moves to the next key of the walk and writes its customer id. Returns 0, CRM_ENOTFOUND at the
 * end, or a store error. */
static int
s_walk_next(s_walk_t *w, char id[CRM_ID_SIZE])
{
    crm_val_t k;
    int rc;
    if (!w->started) {
        w->started = true;
        s_buf_t seek = *w->prefix;
        if (*w->after)
            s_buf_str(&seek, w->after);
        rc = seek.len ? crm_cursor_seek(w->cursor, seek.data, seek.len, &k, NULL)
                      : crm_cursor_first(w->cursor, &k, NULL);
        if (rc == 0 && *w->after && k.size == seek.len && memcmp(k.data, seek.data, seek.len) == 0)
            rc = crm_cursor_next(w->cursor, &k, NULL);
    } else {
        rc = crm_cursor_next(w->cursor, &k, NULL);
    }
    for (; rc == 0; rc = crm_cursor_next(w->cursor, &k, NULL)) {
        if (k.size < w->prefix->len || memcmp(k.data, w->prefix->data, w->prefix->len) != 0)
            return CRM_ENOTFOUND;
        if (k.size == w->prefix->len + CRM_ID_LEN) {
            memcpy(id, (const char *) k.data + w->prefix->len, CRM_ID_LEN);
            id[CRM_ID_LEN] = '\0';
            return 0;
        }
    }
    return rc;
}

/* Counts the walk's entries, stopping at limit. */
static int
s_walk_count(crm_txn_t *txn, crm_db_t dbi, const s_buf_t *prefix, const char *after, size_t limit,
             size_t *count)
{
    s_walk_t w = { .prefix = prefix, .after = after };
    int rc = crm_cursor_open(txn, dbi, &w.cursor);
    char id[CRM_ID_SIZE];
    size_t n = 0;
    while (rc == 0 && n < limit && (rc = s_walk_next(&w, id)) == 0)
        n++;
    crm_cursor_close(&w.cursor);
    *count = n;
    return rc == CRM_ENOTFOUND ? 0 : rc;
}

/* Adds the search index prefixes q asks for to keys. */
static int
s_query_prefixes(const contacts_query_t *q, s_keys_t *keys)
{
    int rc = 0;
    s_buf_t b;
    if (s_given(q->name_prefix)) {
        b = (s_buf_t) { .len = 0 };
        size_t len = strlen(q->name_prefix);
        s_prefix_name(&b, q->name_prefix,
                      len < CONTACTS_NAME_INDEX_PREFIX_MAX ? len : CONTACTS_NAME_INDEX_PREFIX_MAX);
        rc = s_keys_add(keys, false, &b, NULL);
    }
    if (rc == 0 && s_given(q->tag)) {
        b = (s_buf_t) { .len = 0 };
        s_prefix_value(&b, S_KIND_TAG, q->tag, true);
        rc = s_keys_add(keys, false, &b, NULL);
    }
    if (rc == 0 && s_given(q->owner)) {
        b = (s_buf_t) { .len = 0 };
        s_prefix_value(&b, S_KIND_OWNER, q->owner, false);
        rc = s_keys_add(keys, false, &b, NULL);
    }
    if (rc == 0 && s_given(q->custom_field)) {
        b = (s_buf_t) { .len = 0 };
        s_prefix_custom(&b, q->custom_field, q->custom_value ? q->custom_value : "");
        rc = s_keys_add(keys, false, &b, NULL);
    }
    const struct {
        char kind;
        int value;
    } numbers[] = {
        { S_KIND_TIER, q->value_tier },
        { S_KIND_NEED, q->need_type },
        { S_KIND_STAGE, q->lifecycle_stage },
    };
    for (size_t i = 0; rc == 0 && i < sizeof numbers / sizeof numbers[0]; i++) {
        if (numbers[i].value == 0)
            continue;
        b = (s_buf_t) { .len = 0 };
        s_prefix_number(&b, numbers[i].kind, numbers[i].value);
        rc = s_keys_add(keys, false, &b, NULL);
    }
    /* A value too long to be in any key matches nothing: keep it, as an empty walk. */
    return rc == CRM_EINVALID ? 0 : rc;
}

/* Adds customer id to the page when it matches; sets *full when a match arrives on a full page. */
static int
s_search_visit(const contacts_db_t *db, crm_txn_t *txn, const contacts_query_t *q, const char *id,
               uint32_t page_size, contacts_page_t *page, bool *full)
{
    Crm__V1__Customer *c = NULL;
    int rc = contacts_customer_get(db, txn, id, &c);
    if (rc == CRM_ENOTFOUND)
        return 0;
    if (rc)
        return rc;
    if (s_matches(q, c)) {
        if (page->count == page_size)
            *full = true;
        else
            rc = s_page_add(page, page_size, (ProtobufCMessage **) &c);
    }
    crm_codec_message_free((ProtobufCMessage **) &c);
    return rc;
}

/* The single candidate of a unique filter, when q has one: sets *has_unique and id ("" when
 * nobody holds the value). */
static int
s_search_unique(const contacts_db_t *db, crm_txn_t *txn, const contacts_query_t *q, bool *has_unique,
                char id[CRM_ID_SIZE])
{
    int rc = CRM_ENOTFOUND;
    *has_unique = true;
    if (s_given(q->email))
        rc = contacts_customer_find_email(db, txn, q->email, id);
    else if (s_given(q->phone))
        rc = contacts_customer_find_phone(db, txn, q->phone, id);
    else if (s_given(q->external_system))
        rc = contacts_customer_find_external(db, txn, q->external_system,
                                             q->external_id ? q->external_id : "", id);
    else
        *has_unique = false;
    if (rc == CRM_ENOTFOUND) {
        id[0] = '\0';
        rc = 0;
    }
    return rc;
}

int
contacts_customer_search(const contacts_db_t *db, crm_txn_t *txn, const contacts_query_t *q,
                         const char *page_token, uint32_t page_size, contacts_page_t *page,
                         contacts_err_t *err)
{
    memset(page, 0, sizeof *page);
    page_size = s_page_size(page_size);
    char after[CRM_ID_SIZE] = "";
    if (s_given(page_token)) {
        unsigned char bin[CRM_ID_LEN];
        int rc = s_token_decode(page_token, bin, sizeof bin, err);
        if (rc)
            return rc;
        memcpy(after, bin, CRM_ID_LEN);
        after[CRM_ID_LEN] = '\0';
    }
    bool full = false, has_unique = false;
    char id[CRM_ID_SIZE];
    s_keys_t prefixes = { 0 };
    s_buf_t best = { .len = 0 };         /* no prefix: every record */
    s_walk_t w = { .after = after, .prefix = &best };
    crm_db_t dbi = db->customers;
    int rc = s_search_unique(db, txn, q, &has_unique, id);
    if (rc || has_unique) {
        if (rc == 0 && *id && strcmp(id, after) > 0)
            rc = s_search_visit(db, txn, q, id, page_size, page, &full);
        goto out;
    }
    if ((rc = s_query_prefixes(q, &prefixes)))
        goto out;
    /* The most selective index: the fewest entries after the token, counted up to a limit. */
    size_t best_count = SIZE_MAX;
    for (size_t i = 0; rc == 0 && i < prefixes.count; i++) {
        const s_key_t *k = &prefixes.items[i];
        s_buf_t prefix = { .len = k->len };
        memcpy(prefix.data, k->data, k->len);
        size_t n = 0;
        rc = s_walk_count(txn, db->index, &prefix, after, CONTACTS_SEARCH_PROBE_MAX, &n);
        if (rc == 0 && n < best_count) {
            best_count = n;
            best = prefix;
            dbi = db->index;
        }
    }
    if (rc)
        goto out;
    if ((rc = crm_cursor_open(txn, dbi, &w.cursor)))
        goto out;
    while (rc == 0 && !full) {
        rc = s_walk_next(&w, id);
        if (rc == 0)
            rc = s_search_visit(db, txn, q, id, page_size, page, &full);
    }
    if (rc == CRM_ENOTFOUND)
        rc = 0;
out:
    crm_cursor_close(&w.cursor);
    free(prefixes.items);
    if (rc == 0 && full) {
        const Crm__V1__Customer *last = (const Crm__V1__Customer *) page->items[page->count - 1];
        s_token_encode(last->id, CRM_ID_LEN, page->next_token);
    }
    if (rc)
        contacts_page_clear(page);
    return rc;
}

/* --- History: interactions and purchases, keyed <customer id><time><id> */

static void
s_time_key(int64_t us, unsigned char out[CONTACTS_TIME_KEY_LEN])
{
    uint64_t u = ~((uint64_t) us ^ (UINT64_C(1) << 63));   /* newest first */
    for (int i = CONTACTS_TIME_KEY_LEN - 1; i >= 0; i--) {
        out[i] = (unsigned char) (u & 0xFF);
        u >>= 8;
    }
}

static void
s_history_key(const char *customer_id, const Crm__V1__Timestamp *t, const char *id,
              unsigned char key[CONTACTS_HISTORY_KEY_LEN])
{
    assert(strlen(customer_id) == CRM_ID_LEN && strlen(id) == CRM_ID_LEN);
    memcpy(key, customer_id, CRM_ID_LEN);
    s_time_key(contacts_ts_us(t), key + CRM_ID_LEN);
    memcpy(key + CRM_ID_LEN + CONTACTS_TIME_KEY_LEN, id, CRM_ID_LEN);
}

static int
s_history_list(crm_txn_t *txn, crm_db_t dbi, const ProtobufCMessageDescriptor *desc,
               const char *customer_id, const char *page_token, uint32_t page_size,
               contacts_page_t *page, contacts_err_t *err)
{
    memset(page, 0, sizeof *page);
    page_size = s_page_size(page_size);
    if (!crm_id_valid(customer_id))
        return 0;
    unsigned char seek[CONTACTS_HISTORY_KEY_LEN];
    size_t seek_len = CRM_ID_LEN;
    memcpy(seek, customer_id, CRM_ID_LEN);
    if (s_given(page_token)) {
        int rc = s_token_decode(page_token, seek + CRM_ID_LEN, S_TOKEN_BIN_MAX, err);
        if (rc)
            return rc;
        seek_len = CONTACTS_HISTORY_KEY_LEN;
    }
    crm_cursor_t *cursor = NULL;
    ProtobufCMessage *msg = NULL;
    unsigned char last[CONTACTS_HISTORY_KEY_LEN];
    crm_val_t k, v;
    int rc = crm_cursor_open(txn, dbi, &cursor);
    if (rc == 0)
        rc = crm_cursor_seek(cursor, seek, seek_len, &k, &v);
    if (rc == 0 && k.size == seek_len && memcmp(k.data, seek, seek_len) == 0
        && seek_len == CONTACTS_HISTORY_KEY_LEN)
        rc = crm_cursor_next(cursor, &k, &v);
    for (; rc == 0; rc = crm_cursor_next(cursor, &k, &v)) {
        if (k.size != CONTACTS_HISTORY_KEY_LEN || memcmp(k.data, customer_id, CRM_ID_LEN) != 0)
            break;
        if (page->count == page_size) {
            s_token_encode(last + CRM_ID_LEN, S_TOKEN_BIN_MAX, page->next_token);
            break;
        }
        if ((rc = crm_codec_msgpack_decode(desc, v.data, v.size, &msg, NULL))
            || (rc = s_page_add(page, page_size, &msg)))
            break;
        memcpy(last, k.data, CONTACTS_HISTORY_KEY_LEN);
    }
    if (rc == CRM_ENOTFOUND)
        rc = 0;
    crm_cursor_close(&cursor);
    crm_codec_message_free(&msg);
    if (rc)
        contacts_page_clear(page);
    return rc;
}

int
contacts_interaction_put(const contacts_db_t *db, crm_txn_t *txn, const Crm__V1__Interaction *it)
{
    unsigned char key[CONTACTS_HISTORY_KEY_LEN];
    s_history_key(it->customer_id, it->occurred_at, it->id, key);
    return s_put_msg(txn, db->interactions, key, sizeof key, &it->base);
}

int
contacts_interaction_list(const contacts_db_t *db, crm_txn_t *txn, const char *customer_id,
                          const char *page_token, uint32_t page_size, contacts_page_t *page,
                          contacts_err_t *err)
{
    return s_history_list(txn, db->interactions, &crm__v1__interaction__descriptor, customer_id,
                          page_token, page_size, page, err);
}

bool
contacts_purchase_counts(const Crm__V1__Purchase *p)
{
    return p->n_refunds == 0 || p->refunded_minor < p->amount_minor;
}

static void
s_ref_key(s_buf_t *b, char kind, const char *value)
{
    s_buf_byte(b, (unsigned char) kind);
    s_buf_str(b, value);
}

int
contacts_purchase_put(const contacts_db_t *db, crm_txn_t *txn, const Crm__V1__Purchase *p)
{
    unsigned char key[CONTACTS_HISTORY_KEY_LEN];
    s_history_key(p->customer_id, p->purchased_at, p->id, key);
    s_buf_t order = { .len = 0 }, id = { .len = 0 };
    s_ref_key(&order, S_REF_ORDER, p->order_id);
    s_ref_key(&id, S_REF_PURCHASE, p->id);
    if (order.overflow)
        return CRM_EINVALID;
    int rc;
    if ((rc = s_put_msg(txn, db->purchases, key, sizeof key, &p->base))
        || (rc = crm_store_put(txn, db->purchase_refs, order.data, order.len, key, sizeof key, 0))
        || (rc = crm_store_put(txn, db->purchase_refs, id.data, id.len, key, sizeof key, 0)))
        return rc;
    return 0;
}

static int
s_purchase_by_ref(const contacts_db_t *db, crm_txn_t *txn, const s_buf_t *ref, Crm__V1__Purchase **out)
{
    if (ref->overflow || ref->len < 2)
        return CRM_ENOTFOUND;
    crm_val_t val;
    int rc = crm_store_get(txn, db->purchase_refs, ref->data, ref->len, &val);
    if (rc)
        return rc;
    unsigned char key[CONTACTS_HISTORY_KEY_LEN];
    if (val.size != sizeof key)
        return CRM_ESTORE;
    memcpy(key, val.data, sizeof key);
    return s_get_msg(txn, db->purchases, key, sizeof key, &crm__v1__purchase__descriptor,
                     (ProtobufCMessage **) out);
}

int
contacts_purchase_get(const contacts_db_t *db, crm_txn_t *txn, const char *purchase_id,
                      Crm__V1__Purchase **out)
{
    s_buf_t b = { .len = 0 };
    s_ref_key(&b, S_REF_PURCHASE, purchase_id);
    return s_purchase_by_ref(db, txn, &b, out);
}

int
contacts_purchase_find_order(const contacts_db_t *db, crm_txn_t *txn, const char *order_id,
                             Crm__V1__Purchase **out)
{
    s_buf_t b = { .len = 0 };
    s_ref_key(&b, S_REF_ORDER, order_id);
    return s_purchase_by_ref(db, txn, &b, out);
}

int
contacts_purchase_list(const contacts_db_t *db, crm_txn_t *txn, const char *customer_id,
                       const char *page_token, uint32_t page_size, contacts_page_t *page,
                       contacts_err_t *err)
{
    return s_history_list(txn, db->purchases, &crm__v1__purchase__descriptor, customer_id,
                          page_token, page_size, page, err);
}

/* Calls visit for every record of a customer in dbi, newest first. The visitor may take the
 * record over (setting *msg_p to NULL); otherwise it is freed after the call. */
typedef int (*s_visit_fn)(ProtobufCMessage **msg_p, void *arg);

static int
s_history_each(crm_txn_t *txn, crm_db_t dbi, const ProtobufCMessageDescriptor *desc,
               const char *customer_id, s_visit_fn visit, void *arg)
{
    crm_cursor_t *cursor = NULL;
    ProtobufCMessage *msg = NULL;
    crm_val_t k, v;
    int rc = crm_cursor_open(txn, dbi, &cursor);
    if (rc == 0)
        rc = crm_cursor_seek(cursor, customer_id, CRM_ID_LEN, &k, &v);
    for (; rc == 0; rc = crm_cursor_next(cursor, &k, &v)) {
        if (k.size != CONTACTS_HISTORY_KEY_LEN || memcmp(k.data, customer_id, CRM_ID_LEN) != 0)
            break;
        if ((rc = crm_codec_msgpack_decode(desc, v.data, v.size, &msg, NULL)))
            break;
        rc = visit(&msg, arg);
        crm_codec_message_free(&msg);
        if (rc)
            break;
    }
    crm_cursor_close(&cursor);
    return rc == CRM_ENOTFOUND ? 0 : rc;
}

typedef struct {
    uint32_t count;
    int64_t last_us;
    bool has_last;
} s_stats_t;

static int
s_stats_visit(ProtobufCMessage **msg_p, void *arg)
{
    const Crm__V1__Purchase *p = (const Crm__V1__Purchase *) *msg_p;
    s_stats_t *stats = arg;
    if (contacts_purchase_counts(p)) {
        stats->count++;
        int64_t us = contacts_ts_us(p->purchased_at);
        if (!stats->has_last || us > stats->last_us) {
            stats->last_us = us;
            stats->has_last = true;
        }
    }
    return 0;
}

int
contacts_purchase_stats(const contacts_db_t *db, crm_txn_t *txn, const char *customer_id,
                        uint32_t *count, int64_t *last_us, bool *has_last)
{
    s_stats_t stats = { 0 };
    int rc = s_history_each(txn, db->purchases, &crm__v1__purchase__descriptor, customer_id,
                            s_stats_visit, &stats);
    if (rc == 0) {
        *count = stats.count;
        *last_us = stats.last_us;
        *has_last = stats.has_last;
    }
    return rc;
}

/* --- Moving and deleting history. Records are gathered first, then rewritten, so that no
 * cursor walks a database while it changes under it. */

typedef struct {
    ProtobufCMessage **items;
    size_t count;
    size_t cap;
} s_list_t;

static int
s_list_visit(ProtobufCMessage **msg_p, void *arg)
{
    s_list_t *list = arg;
    if (list->count == list->cap) {
        size_t cap = list->cap ? list->cap * 2 : S_KEYS_FIRST_CAP;
        ProtobufCMessage **items = realloc(list->items, cap * sizeof *items);
        if (!items)
            return CRM_ENOMEM;
        list->items = items;
        list->cap = cap;
    }
    list->items[list->count++] = *msg_p;
    *msg_p = NULL;
    return 0;
}

static void
s_list_clear(s_list_t *list)
{
    for (size_t i = 0; i < list->count; i++)
        crm_codec_message_free(&list->items[i]);
    free(list->items);
    memset(list, 0, sizeof *list);
}

static int
s_history_gather(const contacts_db_t *db, crm_txn_t *txn, const char *customer_id,
                 s_list_t *interactions, s_list_t *purchases)
{
    int rc = s_history_each(txn, db->interactions, &crm__v1__interaction__descriptor, customer_id,
                            s_list_visit, interactions);
    if (rc == 0)
        rc = s_history_each(txn, db->purchases, &crm__v1__purchase__descriptor, customer_id,
                            s_list_visit, purchases);
    return rc;
}

static int
s_del_ok(int rc)
{
    return rc == CRM_ENOTFOUND ? 0 : rc;
}

/* Deletes a purchase record and its references. */
static int
s_purchase_del(const contacts_db_t *db, crm_txn_t *txn, const Crm__V1__Purchase *p)
{
    unsigned char key[CONTACTS_HISTORY_KEY_LEN];
    s_history_key(p->customer_id, p->purchased_at, p->id, key);
    s_buf_t order = { .len = 0 }, id = { .len = 0 };
    s_ref_key(&order, S_REF_ORDER, p->order_id);
    s_ref_key(&id, S_REF_PURCHASE, p->id);
    int rc;
    if ((rc = s_del_ok(crm_store_del(txn, db->purchases, key, sizeof key)))
        || (rc = s_del_ok(crm_store_del(txn, db->purchase_refs, id.data, id.len))))
        return rc;
    if (!order.overflow)
        rc = s_del_ok(crm_store_del(txn, db->purchase_refs, order.data, order.len));
    return rc;
}

static int
s_interaction_del(const contacts_db_t *db, crm_txn_t *txn, const Crm__V1__Interaction *it)
{
    unsigned char key[CONTACTS_HISTORY_KEY_LEN];
    s_history_key(it->customer_id, it->occurred_at, it->id, key);
    return s_del_ok(crm_store_del(txn, db->interactions, key, sizeof key));
}

int
contacts_history_delete(const contacts_db_t *db, crm_txn_t *txn, const char *customer_id)
{
    s_list_t interactions = { 0 }, purchases = { 0 };
    int rc = s_history_gather(db, txn, customer_id, &interactions, &purchases);
    for (size_t i = 0; rc == 0 && i < interactions.count; i++)
        rc = s_interaction_del(db, txn, (const Crm__V1__Interaction *) interactions.items[i]);
    for (size_t i = 0; rc == 0 && i < purchases.count; i++)
        rc = s_purchase_del(db, txn, (const Crm__V1__Purchase *) purchases.items[i]);
    s_list_clear(&interactions);
    s_list_clear(&purchases);
    return rc;
}

int
contacts_history_move(const contacts_db_t *db, crm_txn_t *txn, const char *from_id, const char *to_id)
{
    assert(crm_id_valid(to_id));
    s_list_t interactions = { 0 }, purchases = { 0 };
    int rc = s_history_gather(db, txn, from_id, &interactions, &purchases);
    for (size_t i = 0; rc == 0 && i < interactions.count; i++) {
        Crm__V1__Interaction *it = (Crm__V1__Interaction *) interactions.items[i];
        if ((rc = s_interaction_del(db, txn, it)) == 0 && (rc = contacts_str_set(&it->customer_id, to_id)) == 0)
            rc = contacts_interaction_put(db, txn, it);
    }
    for (size_t i = 0; rc == 0 && i < purchases.count; i++) {
        Crm__V1__Purchase *p = (Crm__V1__Purchase *) purchases.items[i];
        if ((rc = s_purchase_del(db, txn, p)) == 0 && (rc = contacts_str_set(&p->customer_id, to_id)) == 0)
            rc = contacts_purchase_put(db, txn, p);
    }
    s_list_clear(&interactions);
    s_list_clear(&purchases);
    return rc;
}
