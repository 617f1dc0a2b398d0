/* gateway_check.c: bounds on decoded messages: string lengths and unknown protobuf fields. */
#include "gateway_check.h"

#include <assert.h>
#include <string.h>

#include "crm/v1/types.pb-c.h"
#include "crm_error.h"

static int s_message(const ProtobufCMessage *msg, size_t max, crm_codec_path_t *path,
                     crm_codec_error_t *err, int depth);

/* Checks one value of field f stored at slot. path (and err) are NULL on the quick walk. */
static int
s_value(const ProtobufCFieldDescriptor *f, const void *slot, size_t max, crm_codec_path_t *path,
        crm_codec_error_t *err, int depth)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *) slot;
        if (s && strnlen(s, max + 1) > max)
            return crm_codec_fail(err, path, CRM_EINVALID, "longer than %zu bytes", max);
        return 0;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *b = slot;
        if (b->len > max)
            return crm_codec_fail(err, path, CRM_EINVALID, "longer than %zu bytes", max);
        return 0;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *sub = *(ProtobufCMessage *const *) slot;
        return sub ? s_message(sub, max, path, err, depth + 1) : 0;
    }
    default:
        return 0;
    }
}

/* Checks one map entry: the key's text goes into the path, then the value is checked. */
static int
s_map_entry(const ProtobufCMessage *entry, size_t max, crm_codec_path_t *path,
            crm_codec_error_t *err, int depth)
{
    const ProtobufCMessageDescriptor *d = entry->descriptor;
    const ProtobufCFieldDescriptor *key = protobuf_c_message_descriptor_get_field(d, 1);
    const ProtobufCFieldDescriptor *value = protobuf_c_message_descriptor_get_field(d, 2);
    assert(key && value);
    if (entry->n_unknown_fields)
        return crm_codec_fail(err, path, CRM_EINVALID, "unknown field in a map entry");
    const void *key_slot = (const char *) entry + key->offset;
    int rc = s_value(key, key_slot, max, path, err, depth);
    if (rc)
        return rc;
    size_t mark = path ? path->len : 0;
    if (path && key->type == PROTOBUF_C_TYPE_STRING && *(char *const *) key_slot)
        mark = crm_codec_path_key(path, *(char *const *) key_slot);
    rc = s_value(value, (const char *) entry + value->offset, max, path, err, depth);
    if (rc == 0 && path)
        crm_codec_path_restore(path, mark);
    return rc;
}

static int
s_message(const ProtobufCMessage *msg, size_t max, crm_codec_path_t *path, crm_codec_error_t *err,
          int depth)
{
    if (depth > CRM_CODEC_MAX_DEPTH)
        return crm_codec_fail(err, path, CRM_EINVALID, "nested too deep");
    if (msg->n_unknown_fields)
        return crm_codec_fail(err, path, CRM_EINVALID, "unknown field number %u",
                              (unsigned) msg->unknown_fields[0].tag);
    const ProtobufCMessageDescriptor *d = msg->descriptor;
    /* A Value is a bare scalar in JSON: its member adds nothing to the path. */
    bool transparent = d == &crm__v1__value__descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_BYTES
            && f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        if (!crm_codec_field_present(msg, f))
            continue;
        size_t mark = !path ? 0 : transparent ? path->len : crm_codec_path_field(path, f);
        const char *slot = (const char *) msg + f->offset;
        int rc = 0;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *) ((const char *) msg + f->quantifier_offset);
            bool map = crm_codec_field_is_map(f);
            size_t elt = crm_codec_repeated_elt_size(f->type);
            const char *array = *(char *const *) slot;
            for (size_t j = 0; rc == 0 && j < n; j++) {
                const void *item = array + j * elt;
                if (map) {
                    rc = s_map_entry(*(ProtobufCMessage *const *) item, max, path, err, depth + 1);
                } else {
                    size_t item_mark = path ? crm_codec_path_index(path, j) : 0;
                    rc = s_value(f, item, max, path, err, depth);
                    if (rc == 0 && path)
                        crm_codec_path_restore(path, item_mark);
                }
            }
        } else {
            rc = s_value(f, slot, max, path, err, depth);
        }
        if (rc)
            return rc;
        if (path)
            crm_codec_path_restore(path, mark);
    }
    return 0;
}

int
gateway_check_message(const ProtobufCMessage *msg, size_t max_string, crm_codec_error_t *err)
{
    assert(msg);
    if (err)
        err->path[0] = err->message[0] = '\0';
    /* A quick walk first; only a message at fault is walked again to say where. */
    int rc = s_message(msg, max_string, NULL, NULL, 1);
    if (rc == 0 || !err)
        return rc;
    crm_codec_path_t path = { .len = 0 };
    path.text[0] = '\0';
    return s_message(msg, max_string, &path, err, 1);
}
