/* crm_codec_json.c: protobuf-c messages to and from JSON (jansson), by the proto3 JSON mapping, driven by descriptors. */
#include "crm_codec.h"

#include <assert.h>
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crm_error.h"
#include "crm_time.h"

#define S_MEMBER(msg, offset) ((void *) ((char *) (msg) + (offset)))
#define S_CMEMBER(msg, offset) ((const void *) ((const char *) (msg) + (offset)))

/* Integral doubles up to 2^53 in magnitude are written as JSON integers ("42", not "42.0"). */
#define S_EXACT_INTEGER_MAX 9007199254740992.0
#define S_TWO_POW_63 9223372036854775808.0
#define S_TWO_POW_64 18446744073709551616.0
/* Room for a 64-bit integer or a bool as text, NUL included. */
#define S_NUMBER_TEXT_MAX 32

typedef struct {
    crm_codec_path_t path;
    crm_codec_error_t *err;
    unsigned flags;
} s_ctx_t;

static bool
s_is_type(const ProtobufCMessageDescriptor *desc, const char *name)
{
    return strcmp(desc->name, name) == 0;
}

static const ProtobufCFieldDescriptor *
s_field_of_type(const ProtobufCMessageDescriptor *desc, ProtobufCType type)
{
    for (unsigned i = 0; i < desc->n_fields; i++)
        if (desc->fields[i].type == type && desc->fields[i].label != PROTOBUF_C_LABEL_REPEATED)
            return &desc->fields[i];
    return NULL;
}

static int
s_fail(s_ctx_t *ctx, int code, const char *what)
{
    return crm_codec_fail(ctx->err, &ctx->path, code, "%s", what);
}

static int
s_too_deep(s_ctx_t *ctx)
{
    return crm_codec_fail(ctx->err, &ctx->path, CRM_ETOOBIG, "nested deeper than %d levels",
                          CRM_CODEC_MAX_DEPTH);
}

static void
s_clear_error(crm_codec_error_t *err)
{
    if (err) {
        err->path[0] = '\0';
        err->message[0] = '\0';
    }
}

/* --- Base64 (RFC 4648): standard with padding out; standard or URL-safe, padding optional, in. */

static const char s_base64_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static json_t *
s_base64_json(const uint8_t *data, size_t len)
{
    size_t out_len = (len + 2) / 3 * 4;
    char *text = malloc(out_len + 1);
    if (!text)
        return NULL;
    size_t at = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t group = (uint32_t) data[i] << 16;
        if (i + 1 < len)
            group |= (uint32_t) data[i + 1] << 8;
        if (i + 2 < len)
            group |= data[i + 2];
        text[at++] = s_base64_chars[(group >> 18) & 63];
        text[at++] = s_base64_chars[(group >> 12) & 63];
        text[at++] = i + 1 < len ? s_base64_chars[(group >> 6) & 63] : '=';
        text[at++] = i + 2 < len ? s_base64_chars[group & 63] : '=';
    }
    text[at] = '\0';
    json_t *json = json_stringn_nocheck(text, at);
    free(text);
    return json;
}

static int
s_base64_digit(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

/* Decodes base64 text into a malloc'd buffer (NULL when empty). Returns 0, CRM_EINVALID or
 * CRM_ENOMEM. */
static int
s_base64_decode(const char *text, size_t len, ProtobufCBinaryData *out)
{
    size_t pad = 0;
    while (pad < 2 && len > pad && text[len - 1 - pad] == '=')
        pad++;
    if (pad > 0 && len % 4 != 0)
        return CRM_EINVALID;
    size_t digits = len - pad;
    if (digits % 4 == 1)
        return CRM_EINVALID;
    size_t out_len = digits / 4 * 3 + (digits % 4 ? digits % 4 - 1 : 0);
    uint8_t *data = NULL;
    if (out_len > 0 && !(data = malloc(out_len)))
        return CRM_ENOMEM;
    size_t at = 0;
    uint32_t group = 0;
    for (size_t i = 0; i < digits; i++) {
        int d = s_base64_digit(text[i]);
        if (d < 0) {
            free(data);
            return CRM_EINVALID;
        }
        group = group << 6 | (uint32_t) d;
        if (i % 4 == 3) {
            data[at++] = (uint8_t) (group >> 16);
            data[at++] = (uint8_t) (group >> 8);
            data[at++] = (uint8_t) group;
            group = 0;
        }
    }
    if (digits % 4 == 2) {
        data[at++] = (uint8_t) (group >> 4);
    } else if (digits % 4 == 3) {
        data[at++] = (uint8_t) (group >> 10);
        data[at++] = (uint8_t) (group >> 2);
    }
    assert(at == out_len);
    out->data = data;
    out->len = out_len;
    return 0;
}

/* --- Message to JSON */

static int s_message_to_json(s_ctx_t *ctx, const ProtobufCMessage *msg, int depth, json_t **out);

static json_t *
s_double_json(double d)
{
    if (isnan(d))
        return json_string("NaN");
    if (isinf(d))
        return json_string(d > 0 ? "Infinity" : "-Infinity");
    if (d == trunc(d) && fabs(d) <= S_EXACT_INTEGER_MAX && !(d == 0 && signbit(d)))
        return json_integer((json_int_t) d);
    return json_real(d);
}

static int
s_string_json(s_ctx_t *ctx, const char *s, json_t **out)
{
    if (!s)
        s = "";
    size_t len = strlen(s);
    if (!crm_codec_utf8_valid(s, len))
        return s_fail(ctx, CRM_EINVALID, "invalid UTF-8");
    *out = json_stringn_nocheck(s, len);
    return *out ? 0 : CRM_ENOMEM;
}

/* Builds the JSON of one value of field f held at slot; depth is that of its container. */
static int
s_value_to_json(s_ctx_t *ctx, const ProtobufCFieldDescriptor *f, const void *slot, int depth,
                json_t **out)
{
    char text[S_NUMBER_TEXT_MAX];
    json_t *json = NULL;
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        json = json_integer(*(const int32_t *) slot);
        break;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        json = json_integer(*(const uint32_t *) slot);
        break;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        snprintf(text, sizeof text, "%" PRId64, *(const int64_t *) slot);
        json = json_string(text);
        break;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        snprintf(text, sizeof text, "%" PRIu64, *(const uint64_t *) slot);
        json = json_string(text);
        break;
    case PROTOBUF_C_TYPE_FLOAT:
        json = s_double_json(*(const float *) slot);
        break;
    case PROTOBUF_C_TYPE_DOUBLE:
        json = s_double_json(*(const double *) slot);
        break;
    case PROTOBUF_C_TYPE_BOOL:
        json = json_boolean(*(const protobuf_c_boolean *) slot);
        break;
    case PROTOBUF_C_TYPE_ENUM: {
        int value = *(const int *) slot;
        const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(f->descriptor, value);
        if (v) {
            char name[CRM_CODEC_NAME_MAX];
            crm_codec_enum_short_name(f->descriptor, v, name, sizeof name);
            json = json_string(name);
        } else {
            json = json_integer(value);     /* a value this version does not know */
        }
        break;
    }
    case PROTOBUF_C_TYPE_STRING:
        return s_string_json(ctx, *(const char *const *) slot, out);
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *data = slot;
        json = s_base64_json(data->data, data->len);
        break;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *sub = *(const ProtobufCMessage *const *) slot;
        if (sub)
            return s_message_to_json(ctx, sub, depth + 1, out);
        /* An absent map value: Value has no kind, any other message is empty. */
        json = s_is_type(f->descriptor, CRM_CODEC_VALUE_TYPE) ? json_null() : json_object();
        break;
    }
    }
    *out = json;
    return json ? 0 : CRM_ENOMEM;
}

/* Writes a map key as JSON object key text; string keys are borrowed into *key. */
static int
s_map_key_text(s_ctx_t *ctx, const ProtobufCFieldDescriptor *kf, const void *slot, char *buf,
               size_t size, const char **key)
{
    switch (kf->type) {
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(const char *const *) slot;
        *key = s ? s : "";
        if (!crm_codec_utf8_valid(*key, strlen(*key)))
            return s_fail(ctx, CRM_EINVALID, "invalid UTF-8 in a map key");
        return 0;
    }
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        snprintf(buf, size, "%" PRId32, *(const int32_t *) slot);
        break;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        snprintf(buf, size, "%" PRIu32, *(const uint32_t *) slot);
        break;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        snprintf(buf, size, "%" PRId64, *(const int64_t *) slot);
        break;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        snprintf(buf, size, "%" PRIu64, *(const uint64_t *) slot);
        break;
    case PROTOBUF_C_TYPE_BOOL:
        snprintf(buf, size, "%s", *(const protobuf_c_boolean *) slot ? "true" : "false");
        break;
    default:
        return s_fail(ctx, CRM_EINVALID, "map key of a type protobuf does not allow");
    }
    *key = buf;
    return 0;
}

static int
s_map_to_json(s_ctx_t *ctx, const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f, int depth,
              json_t **out)
{
    size_t n = *(const size_t *) S_CMEMBER(msg, f->quantifier_offset);
    ProtobufCMessage *const *entries = *(ProtobufCMessage *const *const *) S_CMEMBER(msg, f->offset);
    const ProtobufCMessageDescriptor *entry_desc = f->descriptor;
    const ProtobufCFieldDescriptor *kf = &entry_desc->fields[0];
    const ProtobufCFieldDescriptor *vf = &entry_desc->fields[1];
    json_t *object = json_object();
    if (!object)
        return CRM_ENOMEM;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const ProtobufCMessage *entry = entries[i];
        char buf[S_NUMBER_TEXT_MAX];
        const char *key = NULL;
        rc = s_map_key_text(ctx, kf, S_CMEMBER(entry, kf->offset), buf, sizeof buf, &key);
        if (rc)
            break;
        size_t mark = crm_codec_path_key(&ctx->path, key);
        json_t *value;
        rc = s_value_to_json(ctx, vf, S_CMEMBER(entry, vf->offset), depth, &value);
        if (rc == 0 && json_object_set_new_nocheck(object, key, value) != 0)
            rc = CRM_ENOMEM;
        if (rc == 0)
            crm_codec_path_restore(&ctx->path, mark);
    }
    if (rc) {
        json_decref(object);
        return rc;
    }
    *out = object;
    return 0;
}

/* Builds the JSON of field f of msg (at depth). */
static int
s_field_to_json(s_ctx_t *ctx, const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f, int depth,
                json_t **out)
{
    if (f->label != PROTOBUF_C_LABEL_REPEATED)
        return s_value_to_json(ctx, f, S_CMEMBER(msg, f->offset), depth, out);
    if (depth + 1 > CRM_CODEC_MAX_DEPTH)
        return s_too_deep(ctx);
    if (crm_codec_field_is_map(f))
        return s_map_to_json(ctx, msg, f, depth + 1, out);

    size_t n = *(const size_t *) S_CMEMBER(msg, f->quantifier_offset);
    const char *array = *(const char *const *) S_CMEMBER(msg, f->offset);
    size_t size = crm_codec_repeated_elt_size(f->type);
    json_t *list = json_array();
    if (!list)
        return CRM_ENOMEM;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        size_t mark = crm_codec_path_index(&ctx->path, i);
        json_t *value;
        rc = s_value_to_json(ctx, f, array + i * size, depth + 1, &value);
        if (rc == 0 && json_array_append_new(list, value) != 0)
            rc = CRM_ENOMEM;
        if (rc == 0)
            crm_codec_path_restore(&ctx->path, mark);
    }
    if (rc) {
        json_decref(list);
        return rc;
    }
    *out = list;
    return 0;
}

static int
s_timestamp_to_json(s_ctx_t *ctx, const ProtobufCMessage *msg, json_t **out)
{
    const ProtobufCFieldDescriptor *seconds = crm_codec_field_by_json_name(msg->descriptor, "seconds");
    const ProtobufCFieldDescriptor *nanos = crm_codec_field_by_json_name(msg->descriptor, "nanos");
    assert(seconds && nanos);
    char text[CRM_TIME_TEXT_MAX];
    if (crm_time_format(*(const int64_t *) S_CMEMBER(msg, seconds->offset),
                        *(const int32_t *) S_CMEMBER(msg, nanos->offset), text, sizeof text) != 0)
        return s_fail(ctx, CRM_EINVALID, "time out of range for RFC 3339");
    *out = json_string(text);
    return *out ? 0 : CRM_ENOMEM;
}

static int
s_value_message_to_json(s_ctx_t *ctx, const ProtobufCMessage *msg, json_t **out)
{
    const ProtobufCMessageDescriptor *desc = msg->descriptor;
    for (unsigned i = 0; i < desc->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &desc->fields[i];
        if (!crm_codec_field_present(msg, f))
            continue;
        if (f->type == PROTOBUF_C_TYPE_DOUBLE && !isfinite(*(const double *) S_CMEMBER(msg, f->offset))) {
            size_t mark = crm_codec_path_field(&ctx->path, f);
            int rc = s_fail(ctx, CRM_EINVALID, "number is not finite");
            crm_codec_path_restore(&ctx->path, mark);
            return rc;
        }
        return s_value_to_json(ctx, f, S_CMEMBER(msg, f->offset), 1, out);
    }
    *out = json_null();
    return 0;
}

static int
s_message_to_json(s_ctx_t *ctx, const ProtobufCMessage *msg, int depth, json_t **out)
{
    if (depth > CRM_CODEC_MAX_DEPTH)
        return s_too_deep(ctx);
    const ProtobufCMessageDescriptor *desc = msg->descriptor;
    /* The special forms apply to fields; a top-level message is always a JSON object. */
    if (depth > 1 && s_is_type(desc, CRM_CODEC_TIMESTAMP_TYPE))
        return s_timestamp_to_json(ctx, msg, out);
    if (depth > 1 && s_is_type(desc, CRM_CODEC_VALUE_TYPE))
        return s_value_message_to_json(ctx, msg, out);

    json_t *object = json_object();
    if (!object)
        return CRM_ENOMEM;
    int rc = 0;
    for (unsigned i = 0; i < desc->n_fields && rc == 0; i++) {
        const ProtobufCFieldDescriptor *f = &desc->fields[i];
        if (!crm_codec_field_present(msg, f)) {
            /* Only proto3 fields have a default to show; oneofs, proto2 optionals and
             * messages have presence, and an absent one stays absent. */
            if (!(ctx->flags & CRM_CODEC_EMIT_DEFAULTS) || (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
                || f->label == PROTOBUF_C_LABEL_OPTIONAL
                || (f->type == PROTOBUF_C_TYPE_MESSAGE && f->label != PROTOBUF_C_LABEL_REPEATED))
                continue;
        }
        char name[CRM_CODEC_NAME_MAX];
        crm_codec_json_name(f, name, sizeof name);
        size_t mark = crm_codec_path_field(&ctx->path, f);
        json_t *value;
        rc = s_field_to_json(ctx, msg, f, depth, &value);
        if (rc == 0 && json_object_set_new_nocheck(object, name, value) != 0)
            rc = CRM_ENOMEM;
        if (rc == 0)
            crm_codec_path_restore(&ctx->path, mark);
    }
    if (rc) {
        json_decref(object);
        return rc;
    }
    *out = object;
    return 0;
}

int
crm_codec_json_from_message(const ProtobufCMessage *msg, unsigned flags, json_t **json_p,
                            crm_codec_error_t *err)
{
    assert(msg && json_p);
    s_clear_error(err);
    s_ctx_t ctx = { .path = { .len = 0 }, .err = err, .flags = flags };
    return s_message_to_json(&ctx, msg, 1, json_p);
}

int
crm_codec_json_encode(const ProtobufCMessage *msg, unsigned flags, char **text_p, size_t *len_p,
                      crm_codec_error_t *err)
{
    assert(text_p);
    json_t *json = NULL;
    char *text = NULL;
    int rc = crm_codec_json_from_message(msg, flags, &json, err);
    if (rc)
        goto out;
    size_t size = json_dumpb(json, NULL, 0, JSON_COMPACT);
    if (size == 0 || !(text = malloc(size + 1))) {
        rc = CRM_ENOMEM;
        goto out;
    }
    if (json_dumpb(json, text, size, JSON_COMPACT) != size) {
        free(text);
        text = NULL;
        rc = CRM_ENOMEM;
        goto out;
    }
    text[size] = '\0';
    *text_p = text;
    if (len_p)
        *len_p = size;
out:
    json_decref(json);
    return rc;
}

/* --- JSON to message */

static int s_message_from_json(s_ctx_t *ctx, ProtobufCMessage *msg, const json_t *json, int depth);

/* Parses a strict decimal integer (optional '-' only when is_signed). */
static bool
s_parse_decimal(const char *text, bool is_signed, int64_t *i, uint64_t *u, bool *range)
{
    const char *digits = text[0] == '-' && is_signed ? text + 1 : text;
    if (digits[0] == '\0')
        return false;
    for (const char *c = digits; *c; c++)
        if (*c < '0' || *c > '9')
            return false;
    char *end;
    errno = 0;
    if (is_signed)
        *i = strtoll(text, &end, 10);
    else
        *u = strtoull(text, &end, 10);
    *range = errno == ERANGE;
    return *end == '\0';
}

/* Reads an integer of field type type from JSON (integer, integral number or decimal string)
 * into slot. */
static int
s_integer_from_json(s_ctx_t *ctx, ProtobufCType type, const json_t *json, void *slot)
{
    bool is_signed = type == PROTOBUF_C_TYPE_INT32 || type == PROTOBUF_C_TYPE_SINT32
                     || type == PROTOBUF_C_TYPE_SFIXED32 || type == PROTOBUF_C_TYPE_INT64
                     || type == PROTOBUF_C_TYPE_SINT64 || type == PROTOBUF_C_TYPE_SFIXED64;
    bool wide = type == PROTOBUF_C_TYPE_INT64 || type == PROTOBUF_C_TYPE_SINT64
                || type == PROTOBUF_C_TYPE_SFIXED64 || type == PROTOBUF_C_TYPE_UINT64
                || type == PROTOBUF_C_TYPE_FIXED64;
    int64_t i = 0;
    uint64_t u = 0;
    bool range = false;
    if (json_is_integer(json)) {
        json_int_t v = json_integer_value(json);
        if (is_signed)
            i = v;
        else if (v < 0)
            range = true;
        else
            u = (uint64_t) v;
    } else if (json_is_real(json)) {
        double d = json_real_value(json);
        if (d != trunc(d))
            return crm_codec_fail(ctx->err, &ctx->path, CRM_EINVALID, "expected an integer");
        if (is_signed && d >= -S_TWO_POW_63 && d < S_TWO_POW_63)
            i = (int64_t) d;
        else if (!is_signed && d >= 0 && d < S_TWO_POW_64)
            u = (uint64_t) d;
        else
            range = true;
    } else if (json_is_string(json)) {
        if (!s_parse_decimal(json_string_value(json), is_signed, &i, &u, &range))
            return crm_codec_fail(ctx->err, &ctx->path, CRM_EINVALID, "expected an integer");
    } else {
        return crm_codec_fail(ctx->err, &ctx->path, CRM_EINVALID, "expected an integer");
    }
    if (!range && !wide)
        range = is_signed ? (i < INT32_MIN || i > INT32_MAX) : u > UINT32_MAX;
    if (range)
        return crm_codec_fail(ctx->err, &ctx->path, CRM_EINVALID, "value out of range for %s",
                              crm_codec_type_name(type));
    if (wide && is_signed)
        *(int64_t *) slot = i;
    else if (wide)
        *(uint64_t *) slot = u;
    else if (is_signed)
        *(int32_t *) slot = (int32_t) i;
    else
        *(uint32_t *) slot = (uint32_t) u;
    return 0;
}

static int
s_float_from_json(s_ctx_t *ctx, ProtobufCType type, const json_t *json, void *slot)
{
    double d;
    if (json_is_number(json)) {
        d = json_number_value(json);
    } else if (json_is_string(json)) {
        const char *text = json_string_value(json);
        if (strcmp(text, "NaN") == 0) {
            d = NAN;
        } else if (strcmp(text, "Infinity") == 0) {
            d = INFINITY;
        } else if (strcmp(text, "-Infinity") == 0) {
            d = -INFINITY;
        } else {
            char *end;
            if (text[0] == '\0' || strspn(text, "0123456789+-.eE") != strlen(text))
                return crm_codec_fail(ctx->err, &ctx->path, CRM_EINVALID, "expected a number");
            d = strtod(text, &end);
            if (*end != '\0')
                return crm_codec_fail(ctx->err, &ctx->path, CRM_EINVALID, "expected a number");
            if (!isfinite(d))
                return crm_codec_fail(ctx->err, &ctx->path, CRM_EINVALID, "value out of range for %s",
                                      crm_codec_type_name(type));
        }
    } else {
        return crm_codec_fail(ctx->err, &ctx->path, CRM_EINVALID, "expected a number");
    }
    if (type == PROTOBUF_C_TYPE_DOUBLE) {
        *(double *) slot = d;
        return 0;
    }
    if (isfinite(d) && fabs(d) > FLT_MAX)
        return crm_codec_fail(ctx->err, &ctx->path, CRM_EINVALID, "value out of range for float");
    *(float *) slot = (float) d;
    return 0;
}

static int
s_enum_from_json(s_ctx_t *ctx, const ProtobufCFieldDescriptor *f, const json_t *json, void *slot)
{
    const ProtobufCEnumDescriptor *e = f->descriptor;
    const ProtobufCEnumValue *v = NULL;
    if (json_is_string(json)) {
        v = crm_codec_enum_by_name(e, json_string_value(json));
        if (!v)
            return crm_codec_fail(ctx->err, &ctx->path, CRM_EINVALID, "unknown enum value \"%s\"",
                                  json_string_value(json));
    } else if (json_is_integer(json)) {
        json_int_t number = json_integer_value(json);
        if (number >= INT32_MIN && number <= INT32_MAX)
            v = protobuf_c_enum_descriptor_get_value(e, (int) number);
        if (!v)
            return crm_codec_fail(ctx->err, &ctx->path, CRM_EINVALID, "unknown enum value %" JSON_INTEGER_FORMAT,
                                  number);
    } else {
        return crm_codec_fail(ctx->err, &ctx->path, CRM_EINVALID, "expected an enum name or number");
    }
    *(int *) slot = v->value;
    return 0;
}

/* Reads a JSON string that must be UTF-8 without NUL into a new C string. */
static int
s_string_from_json(s_ctx_t *ctx, const json_t *json, char **out)
{
    if (!json_is_string(json))
        return s_fail(ctx, CRM_EINVALID, "expected a string");
    const char *text = json_string_value(json);
    size_t len = json_string_length(json);
    if (memchr(text, '\0', len))
        return s_fail(ctx, CRM_EINVALID, "string contains a NUL character");
    if (!crm_codec_utf8_valid(text, len))
        return s_fail(ctx, CRM_EINVALID, "invalid UTF-8");
    return crm_codec_strndup(text, len, out);
}

/* Reads one value of field f from json into slot (a fresh slot: zero, or the field's static
 * default); depth is that of its container. */
static int
s_value_from_json(s_ctx_t *ctx, const ProtobufCFieldDescriptor *f, const json_t *json, void *slot,
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
        return s_integer_from_json(ctx, f->type, json, slot);
    case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_DOUBLE:
        return s_float_from_json(ctx, f->type, json, slot);
    case PROTOBUF_C_TYPE_BOOL:
        if (!json_is_boolean(json))
            return s_fail(ctx, CRM_EINVALID, "expected a boolean");
        *(protobuf_c_boolean *) slot = json_is_true(json);
        return 0;
    case PROTOBUF_C_TYPE_ENUM:
        return s_enum_from_json(ctx, f, json, slot);
    case PROTOBUF_C_TYPE_STRING:
        return s_string_from_json(ctx, json, (char **) slot);
    case PROTOBUF_C_TYPE_BYTES: {
        if (!json_is_string(json))
            return s_fail(ctx, CRM_EINVALID, "expected base64 text");
        int rc = s_base64_decode(json_string_value(json), json_string_length(json), slot);
        return rc == CRM_EINVALID ? s_fail(ctx, rc, "not valid base64") : rc;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        if (json_is_null(json) && !s_is_type(f->descriptor, CRM_CODEC_VALUE_TYPE))
            return s_fail(ctx, CRM_EINVALID, "null is not allowed here");
        ProtobufCMessage *sub;
        int rc = crm_codec_message_new(f->descriptor, &sub);
        if (rc)
            return rc;
        *(ProtobufCMessage **) slot = sub;      /* freed with its parent, even when half filled */
        return s_message_from_json(ctx, sub, json, depth + 1);
    }
    }
    return s_fail(ctx, CRM_EINVALID, "field of an unknown type");
}

/* Reads a JSON object key as a map key of field kf into slot. */
static int
s_map_key_from_text(s_ctx_t *ctx, const ProtobufCFieldDescriptor *kf, const char *key, void *slot)
{
    if (kf->type == PROTOBUF_C_TYPE_STRING) {
        size_t len = strlen(key);
        if (!crm_codec_utf8_valid(key, len))
            return s_fail(ctx, CRM_EINVALID, "invalid UTF-8 in a map key");
        return crm_codec_strndup(key, len, (char **) slot);
    }
    if (kf->type == PROTOBUF_C_TYPE_BOOL) {
        if (strcmp(key, "true") != 0 && strcmp(key, "false") != 0)
            return s_fail(ctx, CRM_EINVALID, "map key is not \"true\" or \"false\"");
        *(protobuf_c_boolean *) slot = strcmp(key, "true") == 0;
        return 0;
    }
    json_t *text = json_string_nocheck(key);
    if (!text)
        return CRM_ENOMEM;
    int rc = s_integer_from_json(ctx, kf->type, text, slot);
    json_decref(text);
    return rc;
}

static int
s_map_from_json(s_ctx_t *ctx, ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f, const json_t *json,
                int depth)
{
    if (!json_is_object(json))
        return s_fail(ctx, CRM_EINVALID, "expected an object");
    int rc = crm_codec_repeated_alloc(msg, f, json_object_size(json));
    if (rc)
        return rc;
    size_t *n = S_MEMBER(msg, f->quantifier_offset);
    ProtobufCMessage **entries = *(ProtobufCMessage ***) S_MEMBER(msg, f->offset);
    const ProtobufCMessageDescriptor *entry_desc = f->descriptor;
    const ProtobufCFieldDescriptor *kf = &entry_desc->fields[0];
    const ProtobufCFieldDescriptor *vf = &entry_desc->fields[1];
    const char *key;
    const json_t *value;
    json_object_foreach ((json_t *) json, key, value) {
        size_t mark = crm_codec_path_key(&ctx->path, key);
        ProtobufCMessage *entry;
        rc = crm_codec_message_new(entry_desc, &entry);
        if (rc)
            return rc;
        entries[(*n)++] = entry;
        rc = s_map_key_from_text(ctx, kf, key, S_MEMBER(entry, kf->offset));
        if (rc == 0)
            rc = s_value_from_json(ctx, vf, value, S_MEMBER(entry, vf->offset), depth);
        if (rc)
            return rc;
        crm_codec_field_mark_set(entry, kf);
        crm_codec_field_mark_set(entry, vf);
        crm_codec_path_restore(&ctx->path, mark);
    }
    return 0;
}

/* Reads field f of msg (at depth) from json, which is not null. */
static int
s_field_from_json(s_ctx_t *ctx, ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f, const json_t *json,
                  int depth)
{
    if (f->label != PROTOBUF_C_LABEL_REPEATED) {
        void *slot = S_MEMBER(msg, f->offset);
        crm_codec_slot_begin(f, slot);
        int rc = s_value_from_json(ctx, f, json, slot, depth);
        crm_codec_slot_end(msg, f, slot, rc);
        return rc;
    }
    if (depth + 1 > CRM_CODEC_MAX_DEPTH)
        return s_too_deep(ctx);
    if (crm_codec_field_is_map(f))
        return s_map_from_json(ctx, msg, f, json, depth + 1);
    if (!json_is_array(json))
        return s_fail(ctx, CRM_EINVALID, "expected an array");

    size_t count = json_array_size(json);
    int rc = crm_codec_repeated_alloc(msg, f, count);
    if (rc)
        return rc;
    size_t *n = S_MEMBER(msg, f->quantifier_offset);
    char *array = *(char **) S_MEMBER(msg, f->offset);
    size_t size = crm_codec_repeated_elt_size(f->type);
    for (size_t i = 0; i < count; i++) {
        size_t mark = crm_codec_path_index(&ctx->path, i);
        const json_t *item = json_array_get(json, i);
        if (json_is_null(item))
            return s_fail(ctx, CRM_EINVALID, "null is not allowed in an array");
        void *slot = array + i * size;
        rc = s_value_from_json(ctx, f, item, slot, depth + 1);
        if (rc == 0 || (f->type == PROTOBUF_C_TYPE_MESSAGE && *(void **) slot))
            (*n)++;
        if (rc)
            return rc;
        crm_codec_path_restore(&ctx->path, mark);
    }
    return 0;
}

static int
s_timestamp_from_json(s_ctx_t *ctx, ProtobufCMessage *msg, const json_t *json)
{
    if (!json_is_string(json))
        return s_fail(ctx, CRM_EINVALID, "expected an RFC 3339 time string");
    int64_t seconds;
    int32_t nanos;
    if (crm_time_parse_n(json_string_value(json), json_string_length(json), &seconds, &nanos) != 0)
        return s_fail(ctx, CRM_EINVALID, "not a valid RFC 3339 time");
    const ProtobufCFieldDescriptor *sf = crm_codec_field_by_json_name(msg->descriptor, "seconds");
    const ProtobufCFieldDescriptor *nf = crm_codec_field_by_json_name(msg->descriptor, "nanos");
    assert(sf && nf);
    *(int64_t *) S_MEMBER(msg, sf->offset) = seconds;
    *(int32_t *) S_MEMBER(msg, nf->offset) = nanos;
    return 0;
}

static int
s_value_message_from_json(s_ctx_t *ctx, ProtobufCMessage *msg, const json_t *json)
{
    ProtobufCType type;
    if (json_is_string(json))
        type = PROTOBUF_C_TYPE_STRING;
    else if (json_is_number(json))
        type = PROTOBUF_C_TYPE_DOUBLE;
    else if (json_is_boolean(json))
        type = PROTOBUF_C_TYPE_BOOL;
    else
        return s_fail(ctx, CRM_EINVALID, "expected a string, number or boolean");
    const ProtobufCFieldDescriptor *f = s_field_of_type(msg->descriptor, type);
    assert(f);
    return s_field_from_json(ctx, msg, f, json, 1);
}

static int
s_message_from_json(s_ctx_t *ctx, ProtobufCMessage *msg, const json_t *json, int depth)
{
    if (depth > CRM_CODEC_MAX_DEPTH)
        return s_too_deep(ctx);
    const ProtobufCMessageDescriptor *desc = msg->descriptor;
    if (depth > 1 && s_is_type(desc, CRM_CODEC_TIMESTAMP_TYPE))
        return s_timestamp_from_json(ctx, msg, json);
    if (depth > 1 && s_is_type(desc, CRM_CODEC_VALUE_TYPE))
        return s_value_message_from_json(ctx, msg, json);
    if (!json_is_object(json))
        return s_fail(ctx, CRM_EINVALID, "expected an object");

    unsigned char *seen = calloc(desc->n_fields ? desc->n_fields : 1, 1);
    if (!seen)
        return CRM_ENOMEM;
    int rc = 0;
    const char *key;
    const json_t *value;
    json_object_foreach ((json_t *) json, key, value) {
        const ProtobufCFieldDescriptor *f = crm_codec_field_by_json_name(desc, key);
        if (!f) {
            crm_codec_path_key(&ctx->path, key);
            rc = s_fail(ctx, CRM_EINVALID, "unknown field");
            break;
        }
        size_t mark = crm_codec_path_field(&ctx->path, f);
        size_t index = (size_t) (f - desc->fields);
        if (seen[index]) {
            rc = s_fail(ctx, CRM_EINVALID, "field given twice");
            break;
        }
        seen[index] = 1;
        if (!json_is_null(value)) {
            if (crm_codec_oneof_taken(msg, f)) {
                rc = s_fail(ctx, CRM_EINVALID, "another member of the same oneof is already set");
                break;
            }
            rc = s_field_from_json(ctx, msg, f, value, depth);
            if (rc)
                break;
        }
        crm_codec_path_restore(&ctx->path, mark);
    }
    free(seen);
    return rc;
}

/* Rejects JSON nested deeper than CRM_CODEC_MAX_DEPTH before any of it is converted. */
static int
s_check_depth(s_ctx_t *ctx, const json_t *json, int depth)
{
    if (!json_is_object(json) && !json_is_array(json))
        return 0;
    if (depth > CRM_CODEC_MAX_DEPTH)
        return s_too_deep(ctx);
    int rc = 0;
    if (json_is_array(json)) {
        for (size_t i = 0; i < json_array_size(json) && rc == 0; i++) {
            size_t mark = crm_codec_path_index(&ctx->path, i);
            rc = s_check_depth(ctx, json_array_get(json, i), depth + 1);
            if (rc == 0)
                crm_codec_path_restore(&ctx->path, mark);
        }
        return rc;
    }
    const char *key;
    const json_t *value;
    json_object_foreach ((json_t *) json, key, value) {
        size_t mark = crm_codec_path_key(&ctx->path, key);
        rc = s_check_depth(ctx, value, depth + 1);
        if (rc)
            return rc;
        crm_codec_path_restore(&ctx->path, mark);
    }
    return 0;
}

int
crm_codec_json_to_message(const ProtobufCMessageDescriptor *desc, const json_t *json,
                          ProtobufCMessage **msg_p, crm_codec_error_t *err)
{
    assert(desc && json && msg_p);
    s_clear_error(err);
    s_ctx_t ctx = { .path = { .len = 0 }, .err = err, .flags = 0 };
    ProtobufCMessage *msg = NULL;
    int rc = s_check_depth(&ctx, json, 1);
    if (rc)
        goto out;
    rc = crm_codec_message_new(desc, &msg);
    if (rc)
        goto out;
    rc = s_message_from_json(&ctx, msg, json, 1);
out:
    if (rc)
        crm_codec_message_free(&msg);
    else
        *msg_p = msg;
    return rc;
}

int
crm_codec_json_decode(const ProtobufCMessageDescriptor *desc, const char *text, size_t len,
                      ProtobufCMessage **msg_p, crm_codec_error_t *err)
{
    assert(desc && msg_p && (text || len == 0));
    s_clear_error(err);
    if (len > CRM_CODEC_MAX_INPUT)
        return crm_codec_fail(err, NULL, CRM_ETOOBIG, "JSON larger than %u bytes", CRM_CODEC_MAX_INPUT);
    json_error_t jerr;
    json_t *json = json_loadb(text ? text : "", len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json) {
        switch (json_error_code(&jerr)) {
        case json_error_out_of_memory:
            return CRM_ENOMEM;
        case json_error_duplicate_key:
            return crm_codec_fail(err, NULL, CRM_EINVALID, "duplicate key: %s (line %d, column %d)",
                                  jerr.text, jerr.line, jerr.column);
        case json_error_invalid_utf8:
            return crm_codec_fail(err, NULL, CRM_EINVALID, "invalid UTF-8: %s (line %d, column %d)",
                                  jerr.text, jerr.line, jerr.column);
        default:
            return crm_codec_fail(err, NULL, CRM_EINVALID, "invalid JSON: %s (line %d, column %d)",
                                  jerr.text, jerr.line, jerr.column);
        }
    }
    int rc = crm_codec_json_to_message(desc, json, msg_p, err);
    json_decref(json);
    return rc;
}
