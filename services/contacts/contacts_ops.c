/* contacts_ops.c: the changes the contacts service makes, each inside one write transaction with the events it raises. */
#include "contacts_ops.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "crm_codec.h"
#include "crm_error.h"
#include "crm_event.h"
#include "crm_time.h"

#define S_FIELDS_MAX 32                      /* fields of Customer, with room */
#define S_ID_TEXT_MAX 64                     /* how much of a bad id goes into a message */

/* Fields only the service sets. */
static const char *const s_read_only[] = {
    "id", "createdAt", "updatedAt", "version", "purchaseCount", "lastPurchaseAt",
};

/* Fields filled from the merged customer when the survivor has none. */
static const char *const s_fill_fields[] = {
    "name", "email", "phone", "address", "birthday", "occupation", "owner", "valueTier", "needType",
    "locale",
};

enum { S_EMIT_NEVER, S_EMIT_ON_STAGE, S_EMIT_ALWAYS };

bool
contacts_op_client_error(int rc)
{
    return rc == CRM_EINVALID || rc == CRM_ENOTFOUND || rc == CRM_ECONFLICT || rc == CRM_ESTALE
           || rc == CRM_EEXISTS;
}

int
contacts_message_copy(const ProtobufCMessage *msg, ProtobufCMessage **out)
{
    void *buf = NULL;
    size_t len = 0;
    int rc = crm_codec_pb_encode(msg, &buf, &len);
    if (rc == 0)
        rc = crm_codec_pb_decode(msg->descriptor, buf, len, out, NULL);
    free(buf);
    return rc;
}

static bool
s_read_only_field(const char *name)
{
    for (size_t i = 0; i < sizeof s_read_only / sizeof s_read_only[0]; i++)
        if (strcmp(s_read_only[i], name) == 0)
            return true;
    return false;
}

static int
s_emit(const contacts_ctx_t *ctx, crm_txn_t *txn, const char *type, const char *subject,
       const ProtobufCMessage *data)
{
    crm_event_spec_t spec = {
        .source = ctx->source, .type = type, .subject = subject, .data = data,
    };
    return crm_event_append(ctx->outbox, txn, ctx->ids, &spec, NULL);
}

static void
s_free_customer(Crm__V1__Customer **c)
{
    crm_codec_message_free((ProtobufCMessage **) c);
}

/* --- Customers as JSON: masks, merges and upserts are edits of the JSON form. */

static int
s_to_json(const Crm__V1__Customer *c, json_t **out)
{
    return crm_codec_json_from_message(&c->base, 0, out, NULL);
}

static int
s_from_json(const json_t *json, Crm__V1__Customer **out, contacts_err_t *err)
{
    crm_codec_error_t cerr = { .path = "", .message = "" };
    int rc = crm_codec_json_to_message(&crm__v1__customer__descriptor, json, (ProtobufCMessage **) out,
                                       &cerr);
    if (rc == CRM_EINVALID || rc == CRM_ETOOBIG)
        return contacts_fail(err, CRM_EINVALID, cerr.path, "%s%s%s", cerr.path, *cerr.path ? ": " : "",
                             cerr.message);
    return rc;
}

static int
s_json_set_copy(json_t *object, const char *key, const json_t *value)
{
    json_t *copy = json_deep_copy(value);
    if (!copy || json_object_set_new(object, key, copy) != 0)
        return CRM_ENOMEM;
    return 0;
}

/* The lowerCamelCase fields whose JSON differs between before and after (version and updatedAt
 * left out), in field-number order. */
typedef struct {
    char names[S_FIELDS_MAX][CRM_CODEC_NAME_MAX];
    char *list[S_FIELDS_MAX];
    size_t count;
} s_changes_t;

static void
s_changes(const json_t *before, const json_t *after, s_changes_t *ch)
{
    ch->count = 0;
    const ProtobufCMessageDescriptor *d = &crm__v1__customer__descriptor;
    for (unsigned i = 0; i < d->n_fields && ch->count < S_FIELDS_MAX; i++) {
        char *name = ch->names[ch->count];
        crm_codec_json_name(&d->fields[i], name, CRM_CODEC_NAME_MAX);
        if (strcmp(name, "version") == 0 || strcmp(name, "updatedAt") == 0)
            continue;
        const json_t *a = json_object_get(before, name), *b = json_object_get(after, name);
        if ((a || b) && !(a && b && json_equal(a, b))) {
            ch->list[ch->count] = name;
            ch->count++;
        }
    }
}

/* Reads customer id twice: *old as stored, *cur to change. */
static int
s_load_pair(const contacts_ctx_t *ctx, crm_txn_t *txn, const char *id, const char *field,
            Crm__V1__Customer **old, Crm__V1__Customer **cur, contacts_err_t *err)
{
    int rc = contacts_customer_get(ctx->db, txn, id, old);
    if (rc == CRM_ENOTFOUND)
        return contacts_fail(err, rc, field, "customer %.*s not found", S_ID_TEXT_MAX, id);
    if (rc)
        return rc;
    rc = contacts_message_copy(&(*old)->base, (ProtobufCMessage **) cur);
    if (rc)
        s_free_customer(old);
    return rc;
}

/* Writes cur, changed from old: when a field differs, bumps the version and the updated time,
 * updates the indexes and raises customer.updated as emit says. Sets *changed (may be NULL). */
static int
s_customer_save(const contacts_ctx_t *ctx, crm_txn_t *txn, const Crm__V1__Customer *old,
                Crm__V1__Customer *cur, int emit, bool *changed, contacts_err_t *err)
{
    json_t *a = NULL, *b = NULL;
    s_changes_t *ch = malloc(sizeof *ch);
    int rc = ch ? 0 : CRM_ENOMEM;
    if (rc == 0 && (rc = s_to_json(old, &a)) == 0)
        rc = s_to_json(cur, &b);
    if (rc)
        goto out;
    s_changes(a, b, ch);
    if (changed)
        *changed = ch->count > 0;
    if (ch->count == 0)
        goto out;
    cur->version = old->version + 1;
    if ((rc = contacts_ts_set(&cur->updated_at, crm_time_now_us()))
        || (rc = contacts_customer_put(ctx->db, txn, old, cur, err)))
        goto out;
    if (emit == S_EMIT_ALWAYS || (emit == S_EMIT_ON_STAGE && old->lifecycle_stage != cur->lifecycle_stage)) {
        Crm__V1__CustomerUpdated ev = CRM__V1__CUSTOMER_UPDATED__INIT;
        ev.customer = cur;
        ev.n_changed_fields = ch->count;
        ev.changed_fields = ch->list;
        ev.previous_stage = old->lifecycle_stage;
        rc = s_emit(ctx, txn, CONTACTS_EVENT_CUSTOMER_UPDATED, cur->id, &ev.base);
    }
out:
    json_decref(a);
    json_decref(b);
    free(ch);
    return rc;
}

static int
s_add_external(Crm__V1__Customer *c, const char *system, const char *id)
{
    Crm__V1__ExternalId **items = realloc(c->external_ids, (c->n_external_ids + 1) * sizeof *items);
    if (!items)
        return CRM_ENOMEM;
    c->external_ids = items;
    Crm__V1__ExternalId *x = malloc(sizeof *x);
    if (!x)
        return CRM_ENOMEM;
    crm__v1__external_id__init(x);
    if (contacts_str_set(&x->system, system) || contacts_str_set(&x->id, id)) {
        protobuf_c_message_free_unpacked(&x->base, NULL);
        return CRM_ENOMEM;
    }
    c->external_ids[c->n_external_ids++] = x;
    return 0;
}

/* --- Create */

int
contacts_op_create(const contacts_ctx_t *ctx, crm_txn_t *txn, Crm__V1__Customer *c, contacts_err_t *err)
{
    char id[CRM_ID_SIZE];
    int64_t now = crm_time_now_us();
    int rc;
    if ((rc = crm_id_next(ctx->ids, id))
        || (rc = contacts_str_set(&c->id, id))
        || (rc = contacts_ts_set(&c->created_at, now))
        || (rc = contacts_ts_set(&c->updated_at, now)))
        return rc;
    c->version = 1;
    c->purchase_count = 0;
    if (c->last_purchase_at) {
        protobuf_c_message_free_unpacked(&c->last_purchase_at->base, NULL);
        c->last_purchase_at = NULL;
    }
    if (!contacts_stage_is_risk(c->lifecycle_stage))
        c->lifecycle_stage = contacts_stage_derive(ctx->settings, 0);
    if ((rc = contacts_customer_put(ctx->db, txn, NULL, c, err)))
        return rc;
    Crm__V1__CustomerCreated ev = CRM__V1__CUSTOMER_CREATED__INIT;
    ev.customer = c;
    return s_emit(ctx, txn, CONTACTS_EVENT_CUSTOMER_CREATED, c->id, &ev.base);
}

/* --- Update */

/* The field of desc whose lowerCamelCase name is exactly name, or NULL. */
static const ProtobufCFieldDescriptor *
s_field_exact(const ProtobufCMessageDescriptor *desc, const char *name)
{
    const ProtobufCFieldDescriptor *f = crm_codec_field_by_json_name(desc, name);
    char json_name[CRM_CODEC_NAME_MAX];
    if (!f)
        return NULL;
    crm_codec_json_name(f, json_name, sizeof json_name);
    return strcmp(json_name, name) == 0 ? f : NULL;
}

/* Applies one update_mask path to target, taking values from patch. */
static int
s_mask_apply(json_t *target, const json_t *patch, const char *path, contacts_err_t *err)
{
    char top[CRM_CODEC_NAME_MAX];
    const char *dot = strchr(path, '.');
    size_t top_len = dot ? (size_t) (dot - path) : strlen(path);
    if (top_len == 0 || top_len >= sizeof top)
        return contacts_fail(err, CRM_EINVALID, path, "updateMask names an unknown field: %s", path);
    memcpy(top, path, top_len);
    top[top_len] = '\0';
    if (!s_field_exact(&crm__v1__customer__descriptor, top))
        return contacts_fail(err, CRM_EINVALID, path, "updateMask names an unknown field: %s", path);
    if (s_read_only_field(top))
        return contacts_fail(err, CRM_EINVALID, path, "%s is read-only", top);
    const json_t *value = json_object_get(patch, top);
    if (!dot) {
        if (value)
            return s_json_set_copy(target, top, value);
        json_object_del(target, top);
        return 0;
    }
    const char *sub = dot + 1;
    const ProtobufCMessageDescriptor *sub_desc = NULL;
    if (strcmp(top, "address") == 0)
        sub_desc = &crm__v1__address__descriptor;
    else if (strcmp(top, "consent") == 0)
        sub_desc = &crm__v1__consent__descriptor;
    else if (strcmp(top, "customFields") != 0)
        return contacts_fail(err, CRM_EINVALID, path, "%s has no parts to name in updateMask", top);
    if (!*sub || strchr(sub, '.') || (sub_desc && !s_field_exact(sub_desc, sub)))
        return contacts_fail(err, CRM_EINVALID, path, "updateMask names an unknown field: %s", path);
    json_t *object = json_object_get(target, top);
    if (!object) {
        object = json_object();
        if (!object || json_object_set_new(target, top, object) != 0)
            return CRM_ENOMEM;
    }
    const json_t *sub_value = value ? json_object_get(value, sub) : NULL;
    int rc = 0;
    if (sub_value)
        rc = s_json_set_copy(object, sub, sub_value);
    else
        json_object_del(object, sub);
    if (rc == 0 && json_object_size(object) == 0)
        json_object_del(target, top);
    return rc;
}

static int
s_check_version(const Crm__V1__Customer *c, uint64_t if_match, contacts_err_t *err)
{
    if (if_match && if_match != c->version)
        return contacts_fail(err, CRM_ESTALE, "ifMatchVersion",
                             "version %llu is stale: customer %s is at version %llu",
                             (unsigned long long) if_match, c->id, (unsigned long long) c->version);
    return 0;
}

int
contacts_op_update(const contacts_ctx_t *ctx, crm_txn_t *txn, const char *id,
                   const Crm__V1__Customer *patch, char *const *mask, size_t mask_len,
                   uint64_t if_match, Crm__V1__Customer **out, contacts_err_t *err)
{
    Crm__V1__Customer *old = NULL, *cur = NULL;
    json_t *target = NULL, *patch_json = NULL;
    bool stage_in_mask = false;
    int rc = 0;
    if (mask_len > CONTACTS_UPDATE_MASK_MAX) {
        rc = contacts_fail(err, CRM_EINVALID, "updateMask", "updateMask has more than %d paths",
                           CONTACTS_UPDATE_MASK_MAX);
        goto out;
    }
    if ((rc = s_load_pair(ctx, txn, id, "id", &old, &cur, err))
        || (rc = s_check_version(old, if_match, err))
        || (rc = s_to_json(old, &target)))
        goto out;
    if (patch)
        rc = s_to_json(patch, &patch_json);
    else
        rc = (patch_json = json_object()) ? 0 : CRM_ENOMEM;
    for (size_t i = 0; rc == 0 && i < mask_len; i++) {
        rc = s_mask_apply(target, patch_json, mask[i], err);
        stage_in_mask = stage_in_mask || strcmp(mask[i], "lifecycleStage") == 0;
    }
    if (rc)
        goto out;
    s_free_customer(&cur);
    if ((rc = s_from_json(target, &cur, err)))
        goto out;
    if (stage_in_mask) {
        Crm__V1__LifecycleStage earned = contacts_stage_derive(ctx->settings, old->purchase_count);
        if (cur->lifecycle_stage == CRM__V1__LIFECYCLE_STAGE__LIFECYCLE_STAGE_UNSPECIFIED)
            cur->lifecycle_stage = earned;
        else if (!contacts_stage_is_risk(cur->lifecycle_stage) && cur->lifecycle_stage != earned) {
            rc = contacts_fail(err, CRM_EINVALID, "lifecycleStage",
                               "lifecycleStage follows purchases; only at_risk or churned may be set");
            goto out;
        }
    }
    if ((rc = contacts_validate_customer(cur, true, err))
        || (rc = s_customer_save(ctx, txn, old, cur, S_EMIT_ALWAYS, NULL, err)))
        goto out;
    *out = cur;
    cur = NULL;
out:
    s_free_customer(&old);
    s_free_customer(&cur);
    json_decref(target);
    json_decref(patch_json);
    return rc;
}

/* --- Delete */

int
contacts_op_delete(const contacts_ctx_t *ctx, crm_txn_t *txn, const char *id, uint64_t if_match,
                   contacts_err_t *err)
{
    Crm__V1__Customer *c = NULL;
    int rc = contacts_customer_get(ctx->db, txn, id, &c);
    if (rc == CRM_ENOTFOUND)
        return contacts_fail(err, rc, "id", "customer %.*s not found", S_ID_TEXT_MAX, id);
    if (rc)
        return rc;
    if ((rc = s_check_version(c, if_match, err)) == 0
        && (rc = contacts_history_delete(ctx->db, txn, c->id)) == 0
        && (rc = contacts_customer_remove(ctx->db, txn, c)) == 0) {
        Crm__V1__CustomerDeleted ev = CRM__V1__CUSTOMER_DELETED__INIT;
        ev.customer_id = c->id;
        rc = s_emit(ctx, txn, CONTACTS_EVENT_CUSTOMER_DELETED, c->id, &ev.base);
    }
    s_free_customer(&c);
    return rc;
}

/* --- Merge */

static int
s_union_array(json_t *target, const json_t *source, const char *key)
{
    const json_t *from = json_object_get(source, key);
    if (!from)
        return 0;
    json_t *to = json_object_get(target, key);
    if (!to)
        return s_json_set_copy(target, key, from);
    size_t i;
    json_t *item;
    json_array_foreach((json_t *) from, i, item) {
        bool seen = false;
        size_t j;
        json_t *have;
        json_array_foreach(to, j, have) {
            if (json_equal(have, item)) {
                seen = true;
                break;
            }
        }
        if (!seen && json_array_append_new(to, json_deep_copy(item)) != 0)
            return CRM_ENOMEM;
    }
    return 0;
}

/* Copies the keys of source[key] into target[key], overwriting when overwrite, else only where
 * target has none. */
static int
s_merge_object(json_t *target, const json_t *source, const char *key, bool overwrite)
{
    const json_t *from = json_object_get(source, key);
    if (!from)
        return 0;
    json_t *to = json_object_get(target, key);
    if (!to)
        return s_json_set_copy(target, key, from);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *) from, k, v) {
        if (!overwrite && json_object_get(to, k))
            continue;
        int rc = s_json_set_copy(to, k, v);
        if (rc)
            return rc;
    }
    return 0;
}

static int
s_merge_json(json_t *survivor, const json_t *merged)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < sizeof s_fill_fields / sizeof s_fill_fields[0]; i++) {
        const json_t *v = json_object_get(merged, s_fill_fields[i]);
        if (v && !json_object_get(survivor, s_fill_fields[i]))
            rc = s_json_set_copy(survivor, s_fill_fields[i], v);
    }
    if (rc == 0)
        rc = s_merge_object(survivor, merged, "consent", false);
    if (rc == 0)
        rc = s_merge_object(survivor, merged, "customFields", false);
    if (rc == 0)
        rc = s_union_array(survivor, merged, "tags");
    if (rc == 0)
        rc = s_union_array(survivor, merged, "interests");
    if (rc == 0)
        rc = s_union_array(survivor, merged, "externalIds");
    return rc;
}

/* Sets the purchase count, last purchase time and stage of c from its purchases in txn; a stage
 * the analytics service set stays unless won_back. */
static int
s_recount(const contacts_ctx_t *ctx, crm_txn_t *txn, Crm__V1__Customer *c, bool won_back)
{
    uint32_t count = 0;
    int64_t last_us = 0;
    bool has_last = false;
    int rc = contacts_purchase_stats(ctx->db, txn, c->id, &count, &last_us, &has_last);
    if (rc)
        return rc;
    c->purchase_count = count;
    if (has_last) {
        if ((rc = contacts_ts_set(&c->last_purchase_at, last_us)))
            return rc;
    } else if (c->last_purchase_at) {
        protobuf_c_message_free_unpacked(&c->last_purchase_at->base, NULL);
        c->last_purchase_at = NULL;
    }
    if (won_back || !contacts_stage_is_risk(c->lifecycle_stage))
        c->lifecycle_stage = contacts_stage_derive(ctx->settings, count);
    return 0;
}

int
contacts_op_merge(const contacts_ctx_t *ctx, crm_txn_t *txn, const char *survivor_id,
                  const char *merged_id, Crm__V1__Customer **out, contacts_err_t *err)
{
    Crm__V1__Customer *old = NULL, *cur = NULL, *merged = NULL;
    json_t *sj = NULL, *mj = NULL;
    int rc;
    if (strcmp(survivor_id, merged_id) == 0)
        return contacts_fail(err, CRM_EINVALID, "mergedId", "a customer cannot be merged with itself");
    if ((rc = s_load_pair(ctx, txn, survivor_id, "survivorId", &old, &cur, err)))
        goto out;
    rc = contacts_customer_get(ctx->db, txn, merged_id, &merged);
    if (rc == CRM_ENOTFOUND)
        rc = contacts_fail(err, rc, "mergedId", "customer %.*s not found", S_ID_TEXT_MAX, merged_id);
    if (rc || (rc = s_to_json(old, &sj)) || (rc = s_to_json(merged, &mj)) || (rc = s_merge_json(sj, mj)))
        goto out;
    s_free_customer(&cur);
    if ((rc = s_from_json(sj, &cur, err)) || (rc = contacts_validate_customer(cur, true, err)))
        goto out;
    if (merged->created_at && cur->created_at
        && contacts_ts_us(merged->created_at) < contacts_ts_us(cur->created_at)
        && (rc = contacts_ts_set(&cur->created_at, contacts_ts_us(merged->created_at))))
        goto out;
    /* The merged customer goes first, so that its unique values are free for the survivor. */
    if ((rc = contacts_customer_remove(ctx->db, txn, merged))
        || (rc = contacts_history_move(ctx->db, txn, merged->id, cur->id))
        || (rc = s_recount(ctx, txn, cur, false))
        || (rc = contacts_ts_set(&cur->updated_at, crm_time_now_us())))
        goto out;
    cur->version = old->version + 1;
    if ((rc = contacts_customer_put(ctx->db, txn, old, cur, err)))
        goto out;
    Crm__V1__CustomerMerged ev = CRM__V1__CUSTOMER_MERGED__INIT;
    ev.survivor_id = cur->id;
    ev.merged_id = merged->id;
    ev.survivor = cur;
    if ((rc = s_emit(ctx, txn, CONTACTS_EVENT_CUSTOMER_MERGED, cur->id, &ev.base)))
        goto out;
    *out = cur;
    cur = NULL;
out:
    s_free_customer(&old);
    s_free_customer(&cur);
    s_free_customer(&merged);
    json_decref(sj);
    json_decref(mj);
    return rc;
}

/* --- Interactions */

int
contacts_op_log_interaction(const contacts_ctx_t *ctx, crm_txn_t *txn, const char *customer_id,
                            Crm__V1__Interaction *it, contacts_err_t *err)
{
    Crm__V1__Customer *c = NULL;
    int rc = contacts_customer_get(ctx->db, txn, customer_id, &c);
    if (rc == CRM_ENOTFOUND)
        return contacts_fail(err, rc, "customerId", "customer %.*s not found", S_ID_TEXT_MAX, customer_id);
    s_free_customer(&c);
    if (rc)
        return rc;
    char id[CRM_ID_SIZE];
    int64_t now = crm_time_now_us();
    if ((rc = crm_id_next(ctx->ids, id))
        || (rc = contacts_str_set(&it->id, id))
        || (rc = contacts_str_set(&it->customer_id, customer_id))
        || (rc = contacts_ts_set(&it->recorded_at, now))
        || (!it->occurred_at && (rc = contacts_ts_set(&it->occurred_at, now)))
        || (rc = contacts_interaction_put(ctx->db, txn, it)))
        return rc;
    Crm__V1__InteractionLogged ev = CRM__V1__INTERACTION_LOGGED__INIT;
    ev.interaction = it;
    return s_emit(ctx, txn, CONTACTS_EVENT_INTERACTION_LOGGED, customer_id, &ev.base);
}

int
contacts_op_apply_analysis(const contacts_ctx_t *ctx, crm_txn_t *txn, const char *id,
                           Crm__V1__ValueTier tier, Crm__V1__LifecycleStage stage, bool won_back,
                           contacts_err_t *err)
{
    Crm__V1__Customer *old = NULL, *cur = NULL;
    int rc = s_load_pair(ctx, txn, id, "customerId", &old, &cur, err);
    if (rc)
        return rc;
    if (tier != CRM__V1__VALUE_TIER__VALUE_TIER_UNSPECIFIED)
        cur->value_tier = tier;
    if (contacts_stage_is_risk(stage))
        cur->lifecycle_stage = stage;
    else if (won_back && contacts_stage_is_risk(cur->lifecycle_stage))
        cur->lifecycle_stage = contacts_stage_derive(ctx->settings, cur->purchase_count);
    rc = s_customer_save(ctx, txn, old, cur, S_EMIT_ALWAYS, NULL, err);
    s_free_customer(&old);
    s_free_customer(&cur);
    return rc;
}

/* The length of the longest prefix of s of at most max bytes that ends between UTF-8 characters. */
static size_t
s_utf8_prefix_len(const char *s, size_t max)
{
    size_t n = strnlen(s, max + 1);
    if (n <= max)
        return n;
    n = max;
    while (n > 0 && ((unsigned char) s[n] & 0xC0) == 0x80)
        n--;
    return n;
}

int
contacts_op_file_complaint(const contacts_ctx_t *ctx, crm_txn_t *txn, Crm__V1__ComplaintReceived *c,
                           contacts_err_t *err)
{
    Crm__V1__Interaction *it = NULL;
    Crm__V1__Interaction view = CRM__V1__INTERACTION__INIT;
    char summary[CONTACTS_COMPLAINT_SUMMARY_MAX + 1];
    const char *from = *c->subject ? c->subject : c->text;
    size_t n = s_utf8_prefix_len(from, CONTACTS_COMPLAINT_SUMMARY_MAX);
    memcpy(summary, from, n);
    summary[n] = '\0';
    view.channel = c->channel;
    view.direction = CRM__V1__DIRECTION__DIRECTION_INBOUND;
    view.summary = summary;
    view.occurred_at = c->occurred_at;
    int rc = contacts_validate_interaction(&view, err);
    if (rc || (rc = contacts_message_copy(&view.base, (ProtobufCMessage **) &it))
        || (rc = contacts_op_log_interaction(ctx, txn, c->customer_id, it, err))
        || (rc = contacts_str_set(&c->interaction_id, it->id)))
        goto out;
    rc = s_emit(ctx, txn, CONTACTS_EVENT_COMPLAINT_RECEIVED, c->customer_id, &c->base);
out:
    crm_codec_message_free((ProtobufCMessage **) &it);
    return rc;
}

/* --- Purchases */

int
contacts_op_record_purchase(const contacts_ctx_t *ctx, crm_txn_t *txn, const char *customer_id,
                            Crm__V1__Purchase *p, bool duplicate_ok, bool *duplicate,
                            contacts_err_t *err)
{
    Crm__V1__Customer *old = NULL, *cur = NULL;
    Crm__V1__Purchase *existing = NULL;
    char id[CRM_ID_SIZE];
    int64_t now = crm_time_now_us();
    if (duplicate)
        *duplicate = false;
    int rc = s_load_pair(ctx, txn, customer_id, "customerId", &old, &cur, err);
    if (rc || (rc = crm_id_next(ctx->ids, id)))
        goto out;
    if (!*p->order_id && (rc = contacts_str_set(&p->order_id, id)))
        goto out;
    rc = contacts_purchase_find_order(ctx->db, txn, p->order_id, &existing);
    if (rc == 0) {
        if (duplicate_ok) {
            if (duplicate)
                *duplicate = true;
        } else {
            rc = contacts_fail(err, CRM_ECONFLICT, "orderId",
                               "order %s is already recorded as purchase %s of customer %s",
                               p->order_id, existing->id, existing->customer_id);
            snprintf(err->conflict_id, sizeof err->conflict_id, "%s", existing->id);
        }
        goto out;
    }
    if (rc != CRM_ENOTFOUND)
        goto out;
    p->refunded_minor = 0;
    if ((rc = contacts_str_set(&p->id, id))
        || (rc = contacts_str_set(&p->customer_id, cur->id))
        || (rc = contacts_ts_set(&p->recorded_at, now))
        || (!p->purchased_at && (rc = contacts_ts_set(&p->purchased_at, now)))
        || (rc = contacts_purchase_put(ctx->db, txn, p)))
        goto out;
    /* The customer: one more purchase, and the stage it earns (which ends at_risk and churned). */
    cur->purchase_count = old->purchase_count + 1;
    int64_t at = contacts_ts_us(p->purchased_at);
    if ((!cur->last_purchase_at || at > contacts_ts_us(cur->last_purchase_at))
        && (rc = contacts_ts_set(&cur->last_purchase_at, at)))
        goto out;
    cur->lifecycle_stage = contacts_stage_derive(ctx->settings, cur->purchase_count);
    if ((rc = s_customer_save(ctx, txn, old, cur, S_EMIT_ON_STAGE, NULL, err)))
        goto out;
    Crm__V1__PurchaseRecorded ev = CRM__V1__PURCHASE_RECORDED__INIT;
    ev.purchase = p;
    ev.purchase_number = cur->purchase_count;
    rc = s_emit(ctx, txn, CONTACTS_EVENT_PURCHASE_RECORDED, cur->id, &ev.base);
out:
    s_free_customer(&old);
    s_free_customer(&cur);
    crm_codec_message_free((ProtobufCMessage **) &existing);
    return rc;
}

int
contacts_op_refund(const contacts_ctx_t *ctx, crm_txn_t *txn, Crm__V1__Purchase **p_p,
                   Crm__V1__Refund *r, bool *repeated, contacts_err_t *err)
{
    Crm__V1__Purchase *p = *p_p;
    Crm__V1__Customer *old = NULL, *cur = NULL;
    Crm__V1__Refund *copy = NULL;
    *repeated = false;
    int rc = 0;
    if (*r->id) {
        for (size_t i = 0; i < p->n_refunds; i++) {
            if (strcmp(p->refunds[i]->id, r->id) != 0)
                continue;
            if (p->refunds[i]->amount_minor != r->amount_minor)
                return contacts_fail(err, CRM_EINVALID, "id",
                                     "refund %s of purchase %s was recorded with another amount (%lld)",
                                     r->id, p->id, (long long) p->refunds[i]->amount_minor);
            *repeated = true;
            return 0;
        }
    } else {
        char id[CRM_ID_SIZE];
        if ((rc = crm_id_next(ctx->ids, id)) || (rc = contacts_str_set(&r->id, id)))
            return rc;
    }
    if (p->n_refunds >= CONTACTS_REFUNDS_MAX)
        return contacts_fail(err, CRM_EINVALID, "id", "purchase %s already has %d refunds, the most it takes",
                             p->id, CONTACTS_REFUNDS_MAX);
    if (r->amount_minor > p->amount_minor - p->refunded_minor)
        return contacts_fail(err, CRM_EINVALID, "amountMinor",
                             "the refunds would exceed the purchase amount: %lld of %lld %s already refunded",
                             (long long) p->refunded_minor, (long long) p->amount_minor, p->currency);
    if (!r->refunded_at && (rc = contacts_ts_set(&r->refunded_at, crm_time_now_us())))
        return rc;
    bool counted = contacts_purchase_counts(p);
    Crm__V1__Refund **items = realloc(p->refunds, (p->n_refunds + 1) * sizeof *items);
    if (!items)
        return CRM_ENOMEM;
    p->refunds = items;
    if ((rc = contacts_message_copy(&r->base, (ProtobufCMessage **) &copy)))
        return rc;
    p->refunds[p->n_refunds++] = copy;
    p->refunded_minor += r->amount_minor;
    if ((rc = contacts_purchase_put(ctx->db, txn, p)))
        return rc;
    if (counted && !contacts_purchase_counts(p)) {
        /* Fully refunded: the customer has one purchase less. */
        if ((rc = s_load_pair(ctx, txn, p->customer_id, "customerId", &old, &cur, err))
            || (rc = s_recount(ctx, txn, cur, false))
            || (rc = s_customer_save(ctx, txn, old, cur, S_EMIT_ON_STAGE, NULL, err)))
            goto out;
    }
    Crm__V1__PurchaseRefunded ev = CRM__V1__PURCHASE_REFUNDED__INIT;
    ev.purchase = p;
    ev.refund = r;
    rc = s_emit(ctx, txn, CONTACTS_EVENT_PURCHASE_REFUNDED, p->customer_id, &ev.base);
out:
    s_free_customer(&old);
    s_free_customer(&cur);
    return rc;
}

/* --- Integrators' customers */

/* Adds external id x to customer id (nobody else holds it), raising customer.updated. Skipped
 * when the customer has no room for another. */
static int
s_link_external(const contacts_ctx_t *ctx, crm_txn_t *txn, const char *id, const Crm__V1__ExternalId *x,
                contacts_err_t *err)
{
    Crm__V1__Customer *old = NULL, *cur = NULL;
    int rc = s_load_pair(ctx, txn, id, "customer", &old, &cur, err);
    if (rc == 0 && cur->n_external_ids < CONTACTS_EXTERNAL_IDS_MAX
        && (rc = s_add_external(cur, x->system, x->id)) == 0
        && (rc = contacts_validate_customer(cur, false, err)) == 0)
        rc = s_customer_save(ctx, txn, old, cur, S_EMIT_ALWAYS, NULL, err);
    s_free_customer(&old);
    s_free_customer(&cur);
    return rc;
}

/* A new customer from what an integrator gave: c must have an email or an external id when it
 * has no name. */
static int
s_create_from_integrator(const contacts_ctx_t *ctx, crm_txn_t *txn, Crm__V1__Customer *c,
                         contacts_err_t *err)
{
    int rc = 0;
    if (!*c->name) {
        char name[CONTACTS_NAME_MAX + 1];
        if (*c->email)
            snprintf(name, sizeof name, "%s", c->email);
        else if (c->n_external_ids)
            snprintf(name, sizeof name, "%s %s", c->external_ids[0]->system, c->external_ids[0]->id);
        else
            return contacts_fail(err, CRM_EINVALID, "name", "name is required");
        if ((rc = contacts_str_set(&c->name, name)))
            return rc;
    }
    c->lifecycle_stage = CRM__V1__LIFECYCLE_STAGE__LIFECYCLE_STAGE_UNSPECIFIED;
    if ((rc = contacts_validate_customer(c, true, err)))
        return rc;
    return contacts_op_create(ctx, txn, c, err);
}

int
contacts_op_resolve(const contacts_ctx_t *ctx, crm_txn_t *txn, const Crm__V1__CustomerRef *ref,
                    bool create, char id_out[CRM_ID_SIZE], contacts_err_t *err)
{
    if (!ref)
        return contacts_fail(err, CRM_EINVALID, "customer", "the event names no customer");
    const Crm__V1__ExternalId *x = ref->external_id;
    bool has_external = x && *x->system && *x->id;
    bool has_email = *ref->email;
    Crm__V1__Customer *c = NULL;
    int rc;
    if (*ref->customer_id) {
        rc = contacts_customer_get(ctx->db, txn, ref->customer_id, &c);
        if (rc == 0)
            snprintf(id_out, CRM_ID_SIZE, "%s", c->id);
        s_free_customer(&c);
        if (rc != CRM_ENOTFOUND)
            return rc;
        if (!has_external && !has_email)
            return contacts_fail(err, CRM_EINVALID, "customer.customerId", "customer %.*s not found",
                                 S_ID_TEXT_MAX, ref->customer_id);
    }
    if (has_external) {
        rc = contacts_customer_find_external(ctx->db, txn, x->system, x->id, id_out);
        if (rc != CRM_ENOTFOUND)
            return rc;
    }
    if (has_email) {
        rc = contacts_customer_find_email(ctx->db, txn, ref->email, id_out);
        if (rc == 0 && has_external)
            rc = s_link_external(ctx, txn, id_out, x, err);
        if (rc != CRM_ENOTFOUND)
            return rc;
    }
    if (!create || (!has_external && !has_email))
        return contacts_fail(err, CRM_EINVALID, "customer",
                             "no customer matches, and the event gives no email or external id to "
                             "create one with");
    rc = crm_codec_message_new(&crm__v1__customer__descriptor, (ProtobufCMessage **) &c);
    if (rc == 0 && has_email)
        rc = contacts_str_set(&c->email, ref->email);
    if (rc == 0 && has_external)
        rc = s_add_external(c, x->system, x->id);
    if (rc == 0 && (rc = s_create_from_integrator(ctx, txn, c, err)) == 0)
        snprintf(id_out, CRM_ID_SIZE, "%s", c->id);
    s_free_customer(&c);
    return rc;
}

/* Puts the non-empty fields of u (as JSON) into c (as JSON). */
static int
s_upsert_json(json_t *c, const json_t *u)
{
    const char *key;
    json_t *value;
    int rc = 0;
    json_object_foreach((json_t *) u, key, value) {
        if (s_read_only_field(key) || strcmp(key, "lifecycleStage") == 0)
            continue;
        if (strcmp(key, "externalIds") == 0)
            rc = s_union_array(c, u, key);
        else if (strcmp(key, "customFields") == 0 || strcmp(key, "address") == 0
                 || strcmp(key, "consent") == 0)
            rc = s_merge_object(c, u, key, true);
        else
            rc = s_json_set_copy(c, key, value);
        if (rc)
            return rc;
    }
    return 0;
}

int
contacts_op_upsert(const contacts_ctx_t *ctx, crm_txn_t *txn, Crm__V1__Customer *u,
                   Crm__V1__Customer **out, contacts_err_t *err)
{
    Crm__V1__Customer *old = NULL, *cur = NULL, *made = NULL;
    json_t *cj = NULL, *uj = NULL;
    char id[CRM_ID_SIZE] = "";
    int rc = CRM_ENOTFOUND;
    for (size_t i = 0; rc == CRM_ENOTFOUND && i < u->n_external_ids; i++)
        if (*u->external_ids[i]->system && *u->external_ids[i]->id)
            rc = contacts_customer_find_external(ctx->db, txn, u->external_ids[i]->system,
                                                 u->external_ids[i]->id, id);
    if (rc == CRM_ENOTFOUND && *u->email)
        rc = contacts_customer_find_email(ctx->db, txn, u->email, id);
    if (rc == CRM_ENOTFOUND) {
        if ((rc = contacts_message_copy(&u->base, (ProtobufCMessage **) &made))
            || (rc = s_create_from_integrator(ctx, txn, made, err)))
            goto out;
        if (out) {
            *out = made;
            made = NULL;
        }
        goto out;
    }
    if (rc || (rc = s_load_pair(ctx, txn, id, "customer", &old, &cur, err))
        || (rc = s_to_json(old, &cj)) || (rc = s_to_json(u, &uj)) || (rc = s_upsert_json(cj, uj)))
        goto out;
    s_free_customer(&cur);
    if ((rc = s_from_json(cj, &cur, err))
        || (rc = contacts_validate_customer(cur, true, err))
        || (rc = s_customer_save(ctx, txn, old, cur, S_EMIT_ALWAYS, NULL, err)))
        goto out;
    if (out) {
        *out = cur;
        cur = NULL;
    }
out:
    s_free_customer(&old);
    s_free_customer(&cur);
    s_free_customer(&made);
    json_decref(cj);
    json_decref(uj);
    return rc;
}
