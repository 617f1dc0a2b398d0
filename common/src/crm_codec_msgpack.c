/* crm_codec_msgpack.c: protobuf-c messages to and from MessagePack maps keyed by field number, driven by descriptors. */
#include "crm_codec.h"

#include <assert.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "crm_error.h"

#define S_MEMBER(msg, offset) ((void *) ((char *) (msg) + (offset)))
#define S_CMEMBER(msg, offset) ((const void *) ((const char *) (msg) + (offset)))

/* The largest field number protobuf allows. */
#define S_FIELD_NUMBER_MAX 536870911u

/* --- Encoding */

static int s_pack_message(msgpack_packer *pk, const ProtobufCMessage *msg, int depth);

static int
s_pack_value(msgpack_packer *pk, const ProtobufCFieldDescriptor *f, const void *slot, int depth)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        return msgpack_pack_int32(pk, *(const int32_t *) slot);
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        return msgpack_pack_uint32(pk, *(const uint32_t *) slot);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        return msgpack_pack_int64(pk, *(const int64_t *) slot);
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return msgpack_pack_uint64(pk, *(const uint64_t *) slot);
    case PROTOBUF_C_TYPE_ENUM:
        return msgpack_pack_int32(pk, *(const int32_t *) slot);
    case PROTOBUF_C_TYPE_FLOAT:
        return msgpack_pack_float(pk, *(const float *) slot);
    case PROTOBUF_C_TYPE_DOUBLE:
        return msgpack_pack_double(pk, *(const double *) slot);
    case PROTOBUF_C_TYPE_BOOL:
        return *(const protobuf_c_boolean *) slot ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(const char *const *) slot;
        size_t len = s ? strlen(s) : 0;
        int rc = msgpack_pack_str(pk, len);
        return rc == 0 && len ? msgpack_pack_str_body(pk, s, len) : rc;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *data = slot;
        int rc = msgpack_pack_bin(pk, data->len);
        return rc == 0 && data->len ? msgpack_pack_bin_body(pk, data->data, data->len) : rc;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *sub = *(const ProtobufCMessage *const *) slot;
        return sub ? s_pack_message(pk, sub, depth + 1) : msgpack_pack_nil(pk);
    }
    }
    return -1;
}

static int
s_pack_field(msgpack_packer *pk, const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f, int depth)
{
    if (f->label != PROTOBUF_C_LABEL_REPEATED)
        return s_pack_value(pk, f, S_CMEMBER(msg, f->offset), depth);
    if (depth + 1 > CRM_CODEC_MAX_DEPTH)
        return CRM_ETOOBIG;
    size_t n = *(const size_t *) S_CMEMBER(msg, f->quantifier_offset);
    const char *array = *(const char *const *) S_CMEMBER(msg, f->offset);
    size_t size = crm_codec_repeated_elt_size(f->type);
    int rc;
    if (crm_codec_field_is_map(f)) {
        const ProtobufCMessageDescriptor *entry_desc = f->descriptor;
        const ProtobufCFieldDescriptor *kf = &entry_desc->fields[0];
        const ProtobufCFieldDescriptor *vf = &entry_desc->fields[1];
        rc = msgpack_pack_map(pk, n);
        for (size_t i = 0; i < n && rc == 0; i++) {
            const ProtobufCMessage *entry = *(const ProtobufCMessage *const *) (array + i * size);
            rc = s_pack_value(pk, kf, S_CMEMBER(entry, kf->offset), depth + 1);
            if (rc == 0)
                rc = s_pack_value(pk, vf, S_CMEMBER(entry, vf->offset), depth + 1);
        }
        return rc;
    }
    rc = msgpack_pack_array(pk, n);
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = s_pack_value(pk, f, array + i * size, depth + 1);
    return rc;
}

static int
s_pack_message(msgpack_packer *pk, const ProtobufCMessage *msg, int depth)
{
    if (depth > CRM_CODEC_MAX_DEPTH)
        return CRM_ETOOBIG;
    const ProtobufCMessageDescriptor *desc = msg->descriptor;
    size_t count = 0;
    for (unsigned i = 0; i < desc->n_fields; i++)
        count += crm_codec_field_present(msg, &desc->fields[i]);
    int rc = msgpack_pack_map(pk, count);
    for (unsigned i = 0; i < desc->n_fields && rc == 0; i++) {
        const ProtobufCFieldDescriptor *f = &desc->fields[i];
        if (!crm_codec_field_present(msg, f))
            continue;
        rc = msgpack_pack_uint32(pk, f->id);
        if (rc == 0)
            rc = s_pack_field(pk, msg, f, depth);
    }
    return rc;
}

int
crm_codec_msgpack_encode(const ProtobufCMessage *msg, void **buf_p, size_t *len_p)
{
    assert(msg && buf_p && len_p);
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init(&sbuf);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write);
    int rc = s_pack_message(&pk, msg, 1);
    if (rc) {
        msgpack_sbuffer_destroy(&sbuf);
        return rc == CRM_ETOOBIG ? CRM_ETOOBIG : CRM_ENOMEM;
    }
    *len_p = sbuf.size;
    *buf_p = msgpack_sbuffer_release(&sbuf);
    return 0;
}

/* --- Structural check of untrusted bytes, before msgpack-c allocates anything for them */

/* Reads an n-byte big-endian unsigned integer at p[*at], advancing *at. False when truncated. */
static bool
s_read_be(const uint8_t *p, size_t len, size_t *at, size_t n, uint64_t *value)
{
    if (n > len - *at)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | p[*at + i];
    *at += n;
    *value = v;
    return true;
}

/* Walks the whole buffer as exactly one MessagePack value: every length within the buffer, every
 * container's count no larger than the bytes left (each element takes at least one), nesting at
 * most CRM_CODEC_MAX_DEPTH, at most CRM_CODEC_MAX_ITEMS values, nothing after the end. */
static int
s_scan(const uint8_t *p, size_t len, crm_codec_error_t *err)
{
    uint64_t pending[CRM_CODEC_MAX_DEPTH + 1];
    int top = 0;
    pending[0] = 1;
    size_t at = 0;
    size_t items = 0;
    while (top >= 0) {
        if (pending[top] == 0) {
            top--;
            continue;
        }
        pending[top]--;
        if (at >= len)
            return crm_codec_fail(err, NULL, CRM_EINVALID, "truncated MessagePack");
        if (++items > CRM_CODEC_MAX_ITEMS)
            return crm_codec_fail(err, NULL, CRM_ETOOBIG, "more than %u MessagePack values",
                                  CRM_CODEC_MAX_ITEMS);
        uint8_t c = p[at++];
        uint64_t skip = 0;          /* payload bytes after the header */
        size_t length_bytes = 0;    /* big-endian length that follows the type byte */
        size_t extra = 0;           /* bytes after the length before the payload (ext type) */
        bool container = false;
        uint64_t per_item = 1;      /* values per counted element: 2 for maps */

        if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3) {
            skip = 0;
        } else if (c >= 0x80 && c <= 0x8f) {
            container = true;
            skip = c & 0x0f;
            per_item = 2;
        } else if (c >= 0x90 && c <= 0x9f) {
            container = true;
            skip = c & 0x0f;
        } else if (c >= 0xa0 && c <= 0xbf) {
            skip = c & 0x1f;
        } else {
            switch (c) {
            case 0xc4: case 0xd9: length_bytes = 1; break;          /* bin8, str8 */
            case 0xc5: case 0xda: length_bytes = 2; break;          /* bin16, str16 */
            case 0xc6: case 0xdb: length_bytes = 4; break;          /* bin32, str32 */
            case 0xc7: length_bytes = 1; extra = 1; break;          /* ext8 */
            case 0xc8: length_bytes = 2; extra = 1; break;          /* ext16 */
            case 0xc9: length_bytes = 4; extra = 1; break;          /* ext32 */
            case 0xca: case 0xce: case 0xd2: skip = 4; break;       /* float32, uint32, int32 */
            case 0xcb: case 0xcf: case 0xd3: skip = 8; break;       /* float64, uint64, int64 */
            case 0xcc: case 0xd0: skip = 1; break;                  /* uint8, int8 */
            case 0xcd: case 0xd1: skip = 2; break;                  /* uint16, int16 */
            case 0xd4: skip = 2; break;                             /* fixext1 */
            case 0xd5: skip = 3; break;                             /* fixext2 */
            case 0xd6: skip = 5; break;                             /* fixext4 */
            case 0xd7: skip = 9; break;                             /* fixext8 */
            case 0xd8: skip = 17; break;                            /* fixext16 */
            case 0xdc: container = true; length_bytes = 2; break;   /* array16 */
            case 0xdd: container = true; length_bytes = 4; break;   /* array32 */
            case 0xde: container = true; length_bytes = 2; per_item = 2; break;  /* map16 */
            case 0xdf: container = true; length_bytes = 4; per_item = 2; break;  /* map32 */
            default:
                return crm_codec_fail(err, NULL, CRM_EINVALID, "malformed MessagePack (byte 0x%02x)", c);
            }
            if (length_bytes && !s_read_be(p, len, &at, length_bytes, &skip))
                return crm_codec_fail(err, NULL, CRM_EINVALID, "truncated MessagePack");
            skip += extra;
        }
        if (!container) {
            if (skip > len - at)
                return crm_codec_fail(err, NULL, CRM_EINVALID, "truncated MessagePack");
            at += (size_t) skip;
            continue;
        }
        if (top + 1 > CRM_CODEC_MAX_DEPTH)
            return crm_codec_fail(err, NULL, CRM_ETOOBIG, "nested deeper than %d levels",
                                  CRM_CODEC_MAX_DEPTH);
        uint64_t values = skip * per_item;
        if (values > len - at)
            return crm_codec_fail(err, NULL, CRM_EINVALID, "truncated MessagePack");
        pending[++top] = values;
    }
    if (at != len)
        return crm_codec_fail(err, NULL, CRM_EINVALID, "trailing bytes after the MessagePack record");
    return 0;
}

/* --- Decoding */

typedef struct {
    crm_codec_path_t path;
    crm_codec_error_t *err;
} s_ctx_t;

static int
s_fail(s_ctx_t *ctx, int code, const char *what)
{
    return crm_codec_fail(ctx->err, &ctx->path, code, "%s", what);
}

static int s_read_message(s_ctx_t *ctx, ProtobufCMessage *msg, const msgpack_object *o, int depth);

static int
s_read_integer(s_ctx_t *ctx, ProtobufCType type, const msgpack_object *o, void *slot)
{
    bool is_signed = type == PROTOBUF_C_TYPE_INT32 || type == PROTOBUF_C_TYPE_SINT32
                     || type == PROTOBUF_C_TYPE_SFIXED32 || type == PROTOBUF_C_TYPE_INT64
                     || type == PROTOBUF_C_TYPE_SINT64 || type == PROTOBUF_C_TYPE_SFIXED64
                     || type == PROTOBUF_C_TYPE_ENUM;
    bool wide = type == PROTOBUF_C_TYPE_INT64 || type == PROTOBUF_C_TYPE_SINT64
                || type == PROTOBUF_C_TYPE_SFIXED64 || type == PROTOBUF_C_TYPE_UINT64
                || type == PROTOBUF_C_TYPE_FIXED64;
    bool range;
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        uint64_t u = o->via.u64;
        if (is_signed)
            range = u > (wide ? (uint64_t) INT64_MAX : (uint64_t) INT32_MAX);
        else
            range = !wide && u > UINT32_MAX;
        if (!range) {
            if (wide)
                *(uint64_t *) slot = u;     /* the same bits for int64 and uint64 */
            else
                *(uint32_t *) slot = (uint32_t) u;
        }
    } else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        int64_t i = o->via.i64;
        range = !is_signed || (!wide && i < INT32_MIN);
        if (!range) {
            if (wide)
                *(int64_t *) slot = i;
            else
                *(int32_t *) slot = (int32_t) i;
        }
    } else {
        return s_fail(ctx, CRM_EINVALID, "expected an integer");
    }
    if (range)
        return crm_codec_fail(ctx->err, &ctx->path, CRM_EINVALID, "value out of range for %s",
                              crm_codec_type_name(type));
    return 0;
}

static int
s_read_float(s_ctx_t *ctx, ProtobufCType type, const msgpack_object *o, void *slot)
{
    double d;
    if (o->type == MSGPACK_OBJECT_FLOAT32 || o->type == MSGPACK_OBJECT_FLOAT64)
        d = o->via.f64;
    else if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        d = (double) o->via.u64;
    else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        d = (double) o->via.i64;
    else
        return s_fail(ctx, CRM_EINVALID, "expected a number");
    if (type == PROTOBUF_C_TYPE_DOUBLE) {
        *(double *) slot = d;
        return 0;
    }
    if (isfinite(d) && fabs(d) > FLT_MAX)
        return s_fail(ctx, CRM_EINVALID, "value out of range for float");
    *(float *) slot = (float) d;
    return 0;
}

/* Reads one value of field f into slot (fresh: zero or the field's static default); depth is
 * that of its container. */
static int
s_read_value(s_ctx_t *ctx, const ProtobufCFieldDescriptor *f, const msgpack_object *o, void *slot,
             int depth)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_ENUM:
        return s_read_integer(ctx, f->type, o, slot);
    case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_DOUBLE:
        return s_read_float(ctx, f->type, o, slot);
    case PROTOBUF_C_TYPE_BOOL:
        if (o->type != MSGPACK_OBJECT_BOOLEAN)
            return s_fail(ctx, CRM_EINVALID, "expected a boolean");
        *(protobuf_c_boolean *) slot = o->via.boolean;
        return 0;
    case PROTOBUF_C_TYPE_STRING:
        if (o->type != MSGPACK_OBJECT_STR)
            return s_fail(ctx, CRM_EINVALID, "expected a string");
        /* msgpack-c gives an empty string a NULL pointer: never hand that to memchr. */
        if (o->via.str.size && memchr(o->via.str.ptr, '\0', o->via.str.size))
            return s_fail(ctx, CRM_EINVALID, "string contains a NUL character");
        if (!crm_codec_utf8_valid(o->via.str.ptr, o->via.str.size))
            return s_fail(ctx, CRM_EINVALID, "invalid UTF-8");
        return crm_codec_strndup(o->via.str.ptr, o->via.str.size, (char **) slot);
    case PROTOBUF_C_TYPE_BYTES: {
        if (o->type != MSGPACK_OBJECT_BIN)
            return s_fail(ctx, CRM_EINVALID, "expected binary data");
        ProtobufCBinaryData *data = slot;
        data->data = NULL;
        data->len = 0;
        if (o->via.bin.size) {
            if (!(data->data = malloc(o->via.bin.size)))
                return CRM_ENOMEM;
            memcpy(data->data, o->via.bin.ptr, o->via.bin.size);
            data->len = o->via.bin.size;
        }
        return 0;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        if (o->type != MSGPACK_OBJECT_MAP)
            return s_fail(ctx, CRM_EINVALID, "expected a map");
        ProtobufCMessage *sub;
        int rc = crm_codec_message_new(f->descriptor, &sub);
        if (rc)
            return rc;
        *(ProtobufCMessage **) slot = sub;      /* freed with its parent, even when half filled */
        return s_read_message(ctx, sub, o, depth + 1);
    }
    }
    return s_fail(ctx, CRM_EINVALID, "field of an unknown type");
}

/* Appends a map key to the path: its text when it is a string or number, else its index. */
static size_t
s_path_map_key(s_ctx_t *ctx, const msgpack_object *key, size_t index)
{
    char text[CRM_CODEC_NAME_MAX];
    if (key->type == MSGPACK_OBJECT_STR && key->via.str.size < sizeof text
        && (key->via.str.size == 0 || !memchr(key->via.str.ptr, '\0', key->via.str.size))
        && crm_codec_utf8_valid(key->via.str.ptr, key->via.str.size)) {
        if (key->via.str.size)      /* an empty key's pointer is NULL */
            memcpy(text, key->via.str.ptr, key->via.str.size);
        text[key->via.str.size] = '\0';
        return crm_codec_path_key(&ctx->path, text);
    }
    if (key->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        snprintf(text, sizeof text, "%" PRIu64, key->via.u64);
        return crm_codec_path_key(&ctx->path, text);
    }
    if (key->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        snprintf(text, sizeof text, "%" PRId64, key->via.i64);
        return crm_codec_path_key(&ctx->path, text);
    }
    if (key->type == MSGPACK_OBJECT_BOOLEAN)
        return crm_codec_path_key(&ctx->path, key->via.boolean ? "true" : "false");
    return crm_codec_path_index(&ctx->path, index);
}

static int
s_read_map(s_ctx_t *ctx, ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f, const msgpack_object *o,
           int depth)
{
    if (o->type != MSGPACK_OBJECT_MAP)
        return s_fail(ctx, CRM_EINVALID, "expected a map");
    int rc = crm_codec_repeated_alloc(msg, f, o->via.map.size);
    if (rc)
        return rc;
    size_t *n = S_MEMBER(msg, f->quantifier_offset);
    ProtobufCMessage **entries = *(ProtobufCMessage ***) S_MEMBER(msg, f->offset);
    const ProtobufCMessageDescriptor *entry_desc = f->descriptor;
    const ProtobufCFieldDescriptor *kf = &entry_desc->fields[0];
    const ProtobufCFieldDescriptor *vf = &entry_desc->fields[1];
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object_kv *kv = &o->via.map.ptr[i];
        size_t mark = s_path_map_key(ctx, &kv->key, i);
        ProtobufCMessage *entry;
        rc = crm_codec_message_new(entry_desc, &entry);
        if (rc)
            return rc;
        entries[(*n)++] = entry;
        void *key_slot = S_MEMBER(entry, kf->offset);
        void *value_slot = S_MEMBER(entry, vf->offset);
        if (kf->type == PROTOBUF_C_TYPE_STRING)
            *(char **) key_slot = NULL;
        rc = s_read_value(ctx, kf, &kv->key, key_slot, depth);
        if (rc == 0 && kv->val.type != MSGPACK_OBJECT_NIL) {
            if (vf->type == PROTOBUF_C_TYPE_STRING || vf->type == PROTOBUF_C_TYPE_MESSAGE)
                *(void **) value_slot = NULL;
            rc = s_read_value(ctx, vf, &kv->val, value_slot, depth);
            if (vf->type == PROTOBUF_C_TYPE_STRING && !*(void **) value_slot)
                *(const void **) value_slot = vf->default_value;
        }
        if (kf->type == PROTOBUF_C_TYPE_STRING && !*(void **) key_slot)
            *(const void **) key_slot = kf->default_value;
        if (rc)
            return rc;
        crm_codec_field_mark_set(entry, kf);
        if (kv->val.type != MSGPACK_OBJECT_NIL)
            crm_codec_field_mark_set(entry, vf);
        crm_codec_path_restore(&ctx->path, mark);
    }
    return 0;
}

/* Reads field f of msg (at depth) from o, which is not nil. */
static int
s_read_field(s_ctx_t *ctx, ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f, const msgpack_object *o,
             int depth)
{
    if (f->label != PROTOBUF_C_LABEL_REPEATED) {
        void *slot = S_MEMBER(msg, f->offset);
        crm_codec_slot_begin(f, slot);
        int rc = s_read_value(ctx, f, o, slot, depth);
        crm_codec_slot_end(msg, f, slot, rc);
        return rc;
    }
    if (depth + 1 > CRM_CODEC_MAX_DEPTH)
        return crm_codec_fail(ctx->err, &ctx->path, CRM_ETOOBIG, "nested deeper than %d levels",
                              CRM_CODEC_MAX_DEPTH);
    if (crm_codec_field_is_map(f))
        return s_read_map(ctx, msg, f, o, depth + 1);
    if (o->type != MSGPACK_OBJECT_ARRAY)
        return s_fail(ctx, CRM_EINVALID, "expected an array");

    int rc = crm_codec_repeated_alloc(msg, f, o->via.array.size);
    if (rc)
        return rc;
    size_t *n = S_MEMBER(msg, f->quantifier_offset);
    char *array = *(char **) S_MEMBER(msg, f->offset);
    size_t size = crm_codec_repeated_elt_size(f->type);
    for (uint32_t i = 0; i < o->via.array.size; i++) {
        size_t mark = crm_codec_path_index(&ctx->path, i);
        const msgpack_object *item = &o->via.array.ptr[i];
        if (item->type == MSGPACK_OBJECT_NIL)
            return s_fail(ctx, CRM_EINVALID, "nil is not allowed in an array");
        void *slot = array + i * size;
        rc = s_read_value(ctx, f, item, slot, depth + 1);
        if (rc == 0 || (f->type == PROTOBUF_C_TYPE_MESSAGE && *(void **) slot))
            (*n)++;
        if (rc)
            return rc;
        crm_codec_path_restore(&ctx->path, mark);
    }
    return 0;
}

static int
s_read_message(s_ctx_t *ctx, ProtobufCMessage *msg, const msgpack_object *o, int depth)
{
    if (depth > CRM_CODEC_MAX_DEPTH)
        return crm_codec_fail(ctx->err, &ctx->path, CRM_ETOOBIG, "nested deeper than %d levels",
                              CRM_CODEC_MAX_DEPTH);
    if (o->type != MSGPACK_OBJECT_MAP)
        return s_fail(ctx, CRM_EINVALID, "expected a map");
    const ProtobufCMessageDescriptor *desc = msg->descriptor;
    unsigned char *seen = calloc(desc->n_fields ? desc->n_fields : 1, 1);
    if (!seen)
        return CRM_ENOMEM;
    int rc = 0;
    for (uint32_t i = 0; i < o->via.map.size && rc == 0; i++) {
        const msgpack_object_kv *kv = &o->via.map.ptr[i];
        if (kv->key.type != MSGPACK_OBJECT_POSITIVE_INTEGER || kv->key.via.u64 == 0) {
            rc = s_fail(ctx, CRM_EINVALID, "a message key is not a field number");
            break;
        }
        const ProtobufCFieldDescriptor *f = NULL;
        if (kv->key.via.u64 <= S_FIELD_NUMBER_MAX)
            f = protobuf_c_message_descriptor_get_field(desc, (unsigned) kv->key.via.u64);
        if (!f)
            continue;       /* written by a newer version: skipped */
        size_t mark = crm_codec_path_field(&ctx->path, f);
        size_t index = (size_t) (f - desc->fields);
        if (seen[index]) {
            rc = s_fail(ctx, CRM_EINVALID, "field given twice");
            break;
        }
        seen[index] = 1;
        if (kv->val.type != MSGPACK_OBJECT_NIL) {
            if (crm_codec_oneof_taken(msg, f)) {
                rc = s_fail(ctx, CRM_EINVALID, "another member of the same oneof is already set");
                break;
            }
            rc = s_read_field(ctx, msg, f, &kv->val, depth);
            if (rc)
                break;
        }
        crm_codec_path_restore(&ctx->path, mark);
    }
    free(seen);
    return rc;
}

int
crm_codec_msgpack_decode(const ProtobufCMessageDescriptor *desc, const void *buf, size_t len,
                         ProtobufCMessage **msg_p, crm_codec_error_t *err)
{
    assert(desc && msg_p && (buf || len == 0));
    if (err) {
        err->path[0] = '\0';
        err->message[0] = '\0';
    }
    if (len > CRM_CODEC_MAX_INPUT)
        return crm_codec_fail(err, NULL, CRM_ETOOBIG, "record larger than %u bytes", CRM_CODEC_MAX_INPUT);
    int rc = s_scan(buf, len, err);
    if (rc)
        return rc;

    msgpack_unpacked result;
    msgpack_unpacked_init(&result);
    ProtobufCMessage *msg = NULL;
    size_t offset = 0;
    msgpack_unpack_return ret = msgpack_unpack_next(&result, buf, len, &offset);
    if (ret != MSGPACK_UNPACK_SUCCESS || offset != len) {
        rc = ret == MSGPACK_UNPACK_NOMEM_ERROR
                 ? CRM_ENOMEM
                 : crm_codec_fail(err, NULL, CRM_EINVALID, "malformed MessagePack");
        goto out;
    }
    rc = crm_codec_message_new(desc, &msg);
    if (rc)
        goto out;
    s_ctx_t ctx = { .path = { .len = 0 }, .err = err };
    rc = s_read_message(&ctx, msg, &result.data, 1);
out:
    msgpack_unpacked_destroy(&result);
    if (rc)
        crm_codec_message_free(&msg);
    else
        *msg_p = msg;
    return rc;
}
