/* crm_codec.c: the codec's shared parts: names, field access, UTF-8, allocation, checked protobuf, sample messages. */
#include "crm_codec.h"

#include <assert.h>
#include <ctype.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crm_error.h"
#include "crm_time.h"

#define S_MEMBER(msg, offset) ((void *) ((char *) (msg) + (offset)))
#define S_CMEMBER(msg, offset) ((const void *) ((const char *) (msg) + (offset)))

/* --- Names */

const char *
crm_codec_type_name(ProtobufCType type)
{
    switch (type) {
    case PROTOBUF_C_TYPE_INT32: return "int32";
    case PROTOBUF_C_TYPE_SINT32: return "sint32";
    case PROTOBUF_C_TYPE_SFIXED32: return "sfixed32";
    case PROTOBUF_C_TYPE_INT64: return "int64";
    case PROTOBUF_C_TYPE_SINT64: return "sint64";
    case PROTOBUF_C_TYPE_SFIXED64: return "sfixed64";
    case PROTOBUF_C_TYPE_UINT32: return "uint32";
    case PROTOBUF_C_TYPE_FIXED32: return "fixed32";
    case PROTOBUF_C_TYPE_UINT64: return "uint64";
    case PROTOBUF_C_TYPE_FIXED64: return "fixed64";
    case PROTOBUF_C_TYPE_FLOAT: return "float";
    case PROTOBUF_C_TYPE_DOUBLE: return "double";
    case PROTOBUF_C_TYPE_BOOL: return "bool";
    case PROTOBUF_C_TYPE_ENUM: return "enum";
    case PROTOBUF_C_TYPE_STRING: return "string";
    case PROTOBUF_C_TYPE_BYTES: return "bytes";
    case PROTOBUF_C_TYPE_MESSAGE: return "message";
    }
    return "unknown";
}

void
crm_codec_json_name(const ProtobufCFieldDescriptor *f, char *out, size_t size)
{
    assert(f && out && size > 0);
    size_t at = 0;
    bool upper = false;
    for (const char *c = f->name; *c && at + 1 < size; c++) {
        if (*c == '_') {
            upper = true;
            continue;
        }
        out[at++] = upper ? (char) toupper((unsigned char) *c) : *c;
        upper = false;
    }
    out[at] = '\0';
}

/* True when name is the lowerCamelCase form of the proto name proto. */
static bool
s_json_name_equals(const char *proto, const char *name)
{
    bool upper = false;
    for (; *proto; proto++) {
        if (*proto == '_') {
            upper = true;
            continue;
        }
        char want = upper ? (char) toupper((unsigned char) *proto) : *proto;
        upper = false;
        if (*name++ != want)
            return false;
    }
    return *name == '\0';
}

const ProtobufCFieldDescriptor *
crm_codec_field_by_json_name(const ProtobufCMessageDescriptor *desc, const char *name)
{
    assert(desc && name);
    for (unsigned i = 0; i < desc->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &desc->fields[i];
        if (strcmp(f->name, name) == 0 || s_json_name_equals(f->name, name))
            return f;
    }
    return NULL;
}

/* Writes the UPPER_SNAKE form of a CamelCase type name ("ValueTier" -> "VALUE_TIER"). */
static void
s_upper_snake(const char *camel, char *out, size_t size)
{
    size_t at = 0;
    for (size_t i = 0; camel[i] && at + 2 < size; i++) {
        unsigned char c = (unsigned char) camel[i];
        if (isupper(c) && i > 0) {
            unsigned char prev = (unsigned char) camel[i - 1];
            unsigned char next = (unsigned char) camel[i + 1];
            if (islower(prev) || isdigit(prev) || (isupper(prev) && islower(next)))
                out[at++] = '_';
        }
        out[at++] = (char) toupper(c);
    }
    out[at] = '\0';
}

void
crm_codec_enum_short_name(const ProtobufCEnumDescriptor *e, const ProtobufCEnumValue *v, char *out,
                          size_t size)
{
    assert(e && v && out && size > 0);
    char prefix[CRM_CODEC_NAME_MAX];
    s_upper_snake(e->short_name, prefix, sizeof prefix - 1);
    size_t prefix_len = strlen(prefix);
    prefix[prefix_len++] = '_';
    prefix[prefix_len] = '\0';

    const char *name = v->name;
    if (strncmp(name, prefix, prefix_len) == 0 && name[prefix_len] != '\0')
        name += prefix_len;
    size_t at = 0;
    for (; name[at] && at + 1 < size; at++)
        out[at] = (char) tolower((unsigned char) name[at]);
    out[at] = '\0';
}

const ProtobufCEnumValue *
crm_codec_enum_by_name(const ProtobufCEnumDescriptor *e, const char *name)
{
    assert(e && name);
    char wanted[CRM_CODEC_NAME_MAX];
    size_t len = strlen(name);
    if (len == 0 || len >= sizeof wanted)
        return NULL;
    for (size_t i = 0; i <= len; i++)
        wanted[i] = name[i] == '-' ? '_' : (char) tolower((unsigned char) name[i]);

    for (unsigned i = 0; i < e->n_values; i++) {
        const ProtobufCEnumValue *v = &e->values[i];
        char short_name[CRM_CODEC_NAME_MAX];
        crm_codec_enum_short_name(e, v, short_name, sizeof short_name);
        if (strcmp(short_name, wanted) == 0 || strcasecmp(v->name, wanted) == 0)
            return v;
    }
    return NULL;
}

bool
crm_codec_field_is_map(const ProtobufCFieldDescriptor *f)
{
    assert(f);
    if (f->label != PROTOBUF_C_LABEL_REPEATED || f->type != PROTOBUF_C_TYPE_MESSAGE)
        return false;
    const ProtobufCMessageDescriptor *entry = f->descriptor;
    size_t len = strlen(entry->short_name);
    static const char suffix[] = "Entry";
    return entry->n_fields == 2 && len > strlen(suffix)
           && strcmp(entry->short_name + len - strlen(suffix), suffix) == 0
           && entry->fields[0].id == 1 && strcmp(entry->fields[0].name, "key") == 0
           && entry->fields[0].label != PROTOBUF_C_LABEL_REPEATED && entry->fields[1].id == 2
           && strcmp(entry->fields[1].name, "value") == 0
           && entry->fields[1].label != PROTOBUF_C_LABEL_REPEATED;
}

/* --- Field access */

bool
crm_codec_field_present(const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f)
{
    assert(msg && f);
    const void *member = S_CMEMBER(msg, f->offset);
    bool pointer = f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_MESSAGE;

    if (f->label == PROTOBUF_C_LABEL_REPEATED)
        return *(const size_t *) S_CMEMBER(msg, f->quantifier_offset) > 0;
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
        if (*(const uint32_t *) S_CMEMBER(msg, f->quantifier_offset) != f->id)
            return false;
        if (pointer) {
            const void *ptr = *(const void *const *) member;
            return ptr != NULL && ptr != f->default_value;
        }
        return true;
    }
    if (f->label == PROTOBUF_C_LABEL_OPTIONAL) {
        if (pointer) {
            const void *ptr = *(const void *const *) member;
            return ptr != NULL && ptr != f->default_value;
        }
        return *(const protobuf_c_boolean *) S_CMEMBER(msg, f->quantifier_offset);
    }
    if (f->label == PROTOBUF_C_LABEL_REQUIRED)
        return true;

    /* proto3: present unless zero, exactly as protobuf-c's packer decides. */
    switch (f->type) {
    case PROTOBUF_C_TYPE_BOOL: return *(const protobuf_c_boolean *) member != 0;
    case PROTOBUF_C_TYPE_ENUM:
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32: return *(const int32_t *) member != 0;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32: return *(const uint32_t *) member != 0;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64: return *(const int64_t *) member != 0;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64: return *(const uint64_t *) member != 0;
    case PROTOBUF_C_TYPE_FLOAT: return *(const float *) member != 0;
    case PROTOBUF_C_TYPE_DOUBLE: return *(const double *) member != 0;
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(const char *const *) member;
        return s != NULL && s[0] != '\0';
    }
    case PROTOBUF_C_TYPE_BYTES: return ((const ProtobufCBinaryData *) member)->len > 0;
    case PROTOBUF_C_TYPE_MESSAGE: return *(const void *const *) member != NULL;
    }
    return false;
}

size_t
crm_codec_repeated_elt_size(ProtobufCType type)
{
    switch (type) {
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_ENUM: return 4;
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE: return 8;
    case PROTOBUF_C_TYPE_BOOL: return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_MESSAGE: return sizeof(void *);
    case PROTOBUF_C_TYPE_BYTES: return sizeof(ProtobufCBinaryData);
    }
    assert(!"unknown protobuf-c type");
    return 0;
}

int
crm_codec_repeated_alloc(ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f, size_t count)
{
    assert(msg && f && f->label == PROTOBUF_C_LABEL_REPEATED);
    size_t *n = S_MEMBER(msg, f->quantifier_offset);
    void **array = S_MEMBER(msg, f->offset);
    assert(*n == 0 && *array == NULL);
    if (count == 0)
        return 0;
    *array = calloc(count, crm_codec_repeated_elt_size(f->type));
    return *array ? 0 : CRM_ENOMEM;
}

void
crm_codec_field_mark_set(ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f)
{
    assert(msg && f);
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
        *(uint32_t *) S_MEMBER(msg, f->quantifier_offset) = f->id;
    else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->type != PROTOBUF_C_TYPE_STRING
             && f->type != PROTOBUF_C_TYPE_MESSAGE)
        *(protobuf_c_boolean *) S_MEMBER(msg, f->quantifier_offset) = 1;
}

bool
crm_codec_oneof_taken(const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f)
{
    assert(msg && f);
    return (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
           && *(const uint32_t *) S_CMEMBER(msg, f->quantifier_offset) != 0;
}

int
crm_codec_strndup(const char *s, size_t len, char **out)
{
    assert(out && (s || len == 0));
    char *copy = malloc(len + 1);
    if (!copy)
        return CRM_ENOMEM;
    if (len)
        memcpy(copy, s, len);
    copy[len] = '\0';
    *out = copy;
    return 0;
}

/* --- UTF-8 */

bool
crm_codec_utf8_valid(const char *text, size_t len)
{
    const unsigned char *s = (const unsigned char *) text;
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        unsigned char lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            if (c == 0xE0)
                lo = 0xA0;          /* no overlong forms */
            else if (c == 0xED)
                hi = 0x9F;          /* no surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            if (c == 0xF0)
                lo = 0x90;
            else if (c == 0xF4)
                hi = 0x8F;          /* nothing above U+10FFFF */
        } else {
            return false;
        }
        if (len - i <= need)
            return false;
        if (s[i + 1] < lo || s[i + 1] > hi)
            return false;
        for (size_t k = 2; k <= need; k++)
            if (s[i + k] < 0x80 || s[i + k] > 0xBF)
                return false;
        i += need + 1;
    }
    return true;
}

/* --- Paths and errors */

static size_t
s_path_append(crm_codec_path_t *path, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static size_t
s_path_append(crm_codec_path_t *path, const char *fmt, ...)
{
    assert(path && path->len < sizeof path->text);
    size_t mark = path->len;
    va_list args;
    va_start(args, fmt);
    int n = vsnprintf(path->text + path->len, sizeof path->text - path->len, fmt, args);
    va_end(args);
    if (n > 0)
        path->len += (size_t) n;
    if (path->len >= sizeof path->text)
        path->len = sizeof path->text - 1;
    return mark;
}

/* Appends "." (unless the path is empty) and name, camel-cased when camel; no formatting, since
 * this runs for every field of every record decoded. Returns the mark to restore. */
static size_t
s_path_append_name(crm_codec_path_t *path, const char *name, bool camel)
{
    assert(path && path->len < sizeof path->text);
    size_t mark = path->len;
    size_t at = path->len;
    const size_t last = sizeof path->text - 1;
    if (at > 0 && at < last)
        path->text[at++] = '.';
    bool upper = false;
    for (const char *c = name; *c && at < last; c++) {
        if (camel && *c == '_') {
            upper = true;
            continue;
        }
        path->text[at++] = upper ? (char) toupper((unsigned char) *c) : *c;
        upper = false;
    }
    path->text[at] = '\0';
    path->len = at;
    return mark;
}

void
crm_codec_slot_begin(const ProtobufCFieldDescriptor *f, void *slot)
{
    if (f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_MESSAGE)
        *(void **) slot = NULL;     /* the default it held is static, never freed */
}

void
crm_codec_slot_end(ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f, void *slot, int rc)
{
    /* A half-filled message is marked too, so that freeing the parent frees it. */
    if (rc == 0 || (f->type == PROTOBUF_C_TYPE_MESSAGE && *(void **) slot))
        crm_codec_field_mark_set(msg, f);
    else if (f->type == PROTOBUF_C_TYPE_STRING && !*(void **) slot)
        *(const void **) slot = f->default_value;
}

size_t
crm_codec_path_field(crm_codec_path_t *path, const ProtobufCFieldDescriptor *f)
{
    return s_path_append_name(path, f->name, true);
}

size_t
crm_codec_path_index(crm_codec_path_t *path, size_t index)
{
    return s_path_append(path, "[%zu]", index);
}

size_t
crm_codec_path_key(crm_codec_path_t *path, const char *key)
{
    return s_path_append_name(path, key, false);
}

void
crm_codec_path_restore(crm_codec_path_t *path, size_t mark)
{
    assert(path && mark <= path->len);
    path->len = mark;
    path->text[mark] = '\0';
}

int
crm_codec_fail(crm_codec_error_t *err, const crm_codec_path_t *path, int code, const char *fmt, ...)
{
    if (!err)
        return code;
    snprintf(err->path, sizeof err->path, "%s", path ? path->text : "");
    va_list args;
    va_start(args, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, args);
    va_end(args);
    return code;
}

/* --- Messages */

int
crm_codec_message_new(const ProtobufCMessageDescriptor *desc, ProtobufCMessage **msg_p)
{
    assert(desc && desc->magic == PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC && msg_p);
    ProtobufCMessage *msg = malloc(desc->sizeof_message);
    if (!msg)
        return CRM_ENOMEM;
    desc->message_init(msg);
    *msg_p = msg;
    return 0;
}

void
crm_codec_message_free(ProtobufCMessage **msg_p)
{
    if (msg_p && *msg_p) {
        protobuf_c_message_free_unpacked(*msg_p, NULL);
        *msg_p = NULL;
    }
}

/* --- Protobuf, checked */

int
crm_codec_pb_encode(const ProtobufCMessage *msg, void **buf_p, size_t *len_p)
{
    assert(msg && buf_p && len_p);
    size_t size = protobuf_c_message_get_packed_size(msg);
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf)
        return CRM_ENOMEM;
    size_t written = protobuf_c_message_pack(msg, buf);
    assert(written == size);
    (void) written;
    *buf_p = buf;
    *len_p = size;
    return 0;
}

static int s_pb_check(const ProtobufCMessage *msg, crm_codec_path_t *path, int depth,
                      crm_codec_error_t *err);

/* Checks one string or message value of field f (slot points at it) below msg. */
static int
s_pb_check_value(const ProtobufCFieldDescriptor *f, const void *slot, crm_codec_path_t *path,
                 int depth, crm_codec_error_t *err)
{
    if (f->type == PROTOBUF_C_TYPE_STRING) {
        const char *s = *(const char *const *) slot;
        if (s && !crm_codec_utf8_valid(s, strlen(s)))
            return crm_codec_fail(err, path, CRM_EINVALID, "invalid UTF-8");
    } else if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
        const ProtobufCMessage *sub = *(const ProtobufCMessage *const *) slot;
        if (sub)
            return s_pb_check(sub, path, depth + 1, err);
    }
    return 0;
}

static int
s_pb_check(const ProtobufCMessage *msg, crm_codec_path_t *path, int depth, crm_codec_error_t *err)
{
    if (depth > CRM_CODEC_MAX_DEPTH)
        return crm_codec_fail(err, path, CRM_ETOOBIG, "nested deeper than %d levels",
                              CRM_CODEC_MAX_DEPTH);
    const ProtobufCMessageDescriptor *desc = msg->descriptor;
    for (unsigned i = 0; i < desc->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &desc->fields[i];
        if (f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
            && *(const uint32_t *) S_CMEMBER(msg, f->quantifier_offset) != f->id)
            continue;
        size_t mark = crm_codec_path_field(path, f);
        int rc = 0;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *) S_CMEMBER(msg, f->quantifier_offset);
            const char *array = *(const char *const *) S_CMEMBER(msg, f->offset);
            size_t size = crm_codec_repeated_elt_size(f->type);
            bool map = crm_codec_field_is_map(f);
            for (size_t k = 0; k < n && rc == 0; k++) {
                const ProtobufCMessage *entry = *(const ProtobufCMessage *const *) (array + k * size);
                const char *key = NULL;
                if (map && entry && entry->descriptor->fields[0].type == PROTOBUF_C_TYPE_STRING) {
                    key = *(const char *const *) S_CMEMBER(entry, entry->descriptor->fields[0].offset);
                    if (key && !crm_codec_utf8_valid(key, strlen(key)))
                        rc = crm_codec_fail(err, path, CRM_EINVALID, "invalid UTF-8 in a map key");
                }
                if (rc)
                    break;
                size_t inner = key ? crm_codec_path_key(path, key) : crm_codec_path_index(path, k);
                if (map && entry) {
                    const ProtobufCFieldDescriptor *vf = &entry->descriptor->fields[1];
                    rc = s_pb_check_value(vf, S_CMEMBER(entry, vf->offset), path, depth + 1, err);
                } else {
                    rc = s_pb_check_value(f, array + k * size, path, depth + 1, err);
                }
                crm_codec_path_restore(path, inner);
            }
        } else {
            rc = s_pb_check_value(f, S_CMEMBER(msg, f->offset), path, depth, err);
        }
        if (rc)
            return rc;
        crm_codec_path_restore(path, mark);
    }
    return 0;
}

int
crm_codec_pb_decode(const ProtobufCMessageDescriptor *desc, const void *buf, size_t len,
                    ProtobufCMessage **msg_p, crm_codec_error_t *err)
{
    assert(desc && msg_p && (buf || len == 0));
    if (len > CRM_CODEC_MAX_INPUT)
        return crm_codec_fail(err, NULL, CRM_ETOOBIG, "message larger than %u bytes",
                              CRM_CODEC_MAX_INPUT);
    ProtobufCMessage *msg = protobuf_c_message_unpack(desc, NULL, len, buf);
    if (!msg)
        return crm_codec_fail(err, NULL, CRM_EINVALID, "not a valid protobuf message");
    crm_codec_path_t path = { .len = 0 };
    int rc = s_pb_check(msg, &path, 1, err);
    if (rc) {
        crm_codec_message_free(&msg);
        return rc;
    }
    *msg_p = msg;
    return 0;
}

/* --- Sample messages */

#define S_SAMPLE_REPEATED_MIN 2
#define S_SAMPLE_REPEATED_SPAN 2        /* 2 or 3 elements */
#define S_SAMPLE_FRAGMENTS_MAX 4
#define S_SAMPLE_BYTES_MAX 12
#define S_SAMPLE_SMALL_INT 100
#define S_SAMPLE_STRING_MAX 512         /* bytes of one sample string */
#define S_SAMPLE_PREFIX_MAX 32          /* "k<index>-", the prefix of a map key */
#define S_SAMPLE_MAGNITUDE 1000000      /* plain doubles lie within +-S_SAMPLE_MAGNITUDE */
#define S_SAMPLE_MILLIS 1000            /* ... some with three decimals */

typedef struct {
    uint64_t state;
} s_rng_t;

/* splitmix64: small, fast, good enough for test data. */
static uint64_t
s_rng_next(s_rng_t *rng)
{
    uint64_t z = (rng->state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t
s_rng_below(s_rng_t *rng, uint64_t bound)
{
    assert(bound > 0);
    return s_rng_next(rng) % bound;
}

static uint64_t
s_sample_bits(s_rng_t *rng, bool is_signed)
{
    switch (s_rng_below(rng, 6)) {
    case 0: return s_rng_below(rng, S_SAMPLE_SMALL_INT) + 1;
    case 1: return is_signed ? (uint64_t) - (int64_t) (s_rng_below(rng, S_SAMPLE_SMALL_INT) + 1) : 1;
    case 2: return is_signed ? (uint64_t) INT64_MAX : UINT64_MAX;
    case 3: return is_signed ? (uint64_t) INT64_MIN : (uint64_t) INT64_MAX + 1;
    default: return s_rng_next(rng) | 1;
    }
}

static double
s_sample_double(s_rng_t *rng, bool finite, int max_exponent)
{
    switch (s_rng_below(rng, finite ? 6 : 9)) {
    case 0: return (double) (int64_t) s_rng_below(rng, 2 * S_SAMPLE_MAGNITUDE + 1) - S_SAMPLE_MAGNITUDE;
    case 1: return ((double) (int64_t) s_rng_below(rng, 2ull * S_SAMPLE_MAGNITUDE * S_SAMPLE_MILLIS + 1)
                    - (double) S_SAMPLE_MAGNITUDE * S_SAMPLE_MILLIS) / S_SAMPLE_MILLIS;
    case 2: return ldexp((double) (s_rng_next(rng) >> 11) / (double) (1ull << 53) + 0.5,
                         (int) s_rng_below(rng, 2 * (uint64_t) max_exponent) - max_exponent)
                   * (s_rng_next(rng) & 1 ? 1 : -1);
    case 3: return 0.1 * (double) (s_rng_below(rng, S_SAMPLE_SMALL_INT) + 1);
    case 4: return 1.5;
    case 5: return -0.0;
    case 6: return NAN;
    case 7: return INFINITY;
    default: return -INFINITY;
    }
}

static int
s_sample_string(s_rng_t *rng, const char *prefix, char **out)
{
    static const char *const fragments[] = {
        "Zhang Wei", "张伟", "客户满意度", "忠诚度计划", "\"quoted\"", "back\\slash", "line\nbreak",
        "tab\t", "\x01" "ctl", "é à ü", "😀", "/path/", "<b>&amp;</b>", "0", " ", "name@example.com",
    };
    char buf[S_SAMPLE_STRING_MAX];
    size_t at = (size_t) snprintf(buf, sizeof buf, "%s", prefix);
    size_t count = 1 + s_rng_below(rng, S_SAMPLE_FRAGMENTS_MAX);
    for (size_t i = 0; i < count; i++) {
        const char *fragment = fragments[s_rng_below(rng, sizeof fragments / sizeof fragments[0])];
        size_t len = strlen(fragment);
        if (at + len >= sizeof buf)
            break;
        memcpy(buf + at, fragment, len);
        at += len;
    }
    return crm_codec_strndup(buf, at, out);
}

static int s_sample_message(s_rng_t *rng, const ProtobufCMessageDescriptor *desc, int depth,
                            ProtobufCMessage **msg_p);

/* Writes one pseudo-random value of field f into slot; finite keeps doubles finite (Value);
 * key_index >= 0 makes a map key distinct from the other keys of the same map. */
static int
s_sample_value(s_rng_t *rng, const ProtobufCFieldDescriptor *f, void *slot, int depth, bool finite,
               int key_index)
{
    /* Map keys keep their index in the low byte, so the keys of one map are distinct. */
    uint64_t bits = s_sample_bits(rng, true);
    if (key_index >= 0)
        bits = (bits & ~(uint64_t) 0xFF) | (uint64_t) key_index;
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        /* The low half of an extreme is -1 or 0, the high half INT32_MAX or INT32_MIN. */
        *(uint32_t *) slot = (uint32_t) (key_index < 0 && (s_rng_next(rng) & 1) ? bits >> 32 : bits);
        return 0;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        *(int64_t *) slot = (int64_t) bits;
        return 0;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        *(uint64_t *) slot = key_index >= 0 ? bits : s_sample_bits(rng, false);
        return 0;
    case PROTOBUF_C_TYPE_FLOAT:
        *(float *) slot = (float) s_sample_double(rng, finite, FLT_MAX_EXP - 2);
        return 0;
    case PROTOBUF_C_TYPE_DOUBLE:
        *(double *) slot = s_sample_double(rng, finite, DBL_MAX_EXP - 2);
        return 0;
    case PROTOBUF_C_TYPE_BOOL:
        /* true three times in four: false is the default and mostly left out */
        *(protobuf_c_boolean *) slot = key_index >= 0 ? key_index & 1 : s_rng_below(rng, 4) != 0;
        return 0;
    case PROTOBUF_C_TYPE_ENUM: {
        const ProtobufCEnumDescriptor *e = f->descriptor;
        *(int *) slot = e->n_values ? e->values[s_rng_below(rng, e->n_values)].value : 0;
        return 0;
    }
    case PROTOBUF_C_TYPE_STRING: {
        char prefix[S_SAMPLE_PREFIX_MAX] = "";
        if (key_index >= 0)
            snprintf(prefix, sizeof prefix, "k%d-", key_index);
        return s_sample_string(rng, prefix, (char **) slot);
    }
    case PROTOBUF_C_TYPE_BYTES: {
        ProtobufCBinaryData *data = slot;
        size_t len = 1 + s_rng_below(rng, S_SAMPLE_BYTES_MAX);
        data->data = malloc(len);
        if (!data->data)
            return CRM_ENOMEM;
        for (size_t i = 0; i < len; i++)
            data->data[i] = (uint8_t) s_rng_next(rng);
        data->len = len;
        return 0;
    }
    case PROTOBUF_C_TYPE_MESSAGE:
        return s_sample_message(rng, f->descriptor, depth, (ProtobufCMessage **) slot);
    }
    return 0;
}

/* Fills a repeated (or map) field with a few elements at depth (the array's depth). */
static int
s_sample_repeated(s_rng_t *rng, ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f, int depth,
                  bool finite)
{
    if (f->type == PROTOBUF_C_TYPE_MESSAGE && depth + 1 > CRM_CODEC_MAX_DEPTH)
        return 0;
    bool map = crm_codec_field_is_map(f);
    size_t count = S_SAMPLE_REPEATED_MIN + s_rng_below(rng, S_SAMPLE_REPEATED_SPAN);
    const ProtobufCFieldDescriptor *key_field = NULL;
    if (map) {
        key_field = &((const ProtobufCMessageDescriptor *) f->descriptor)->fields[0];
        if (key_field->type == PROTOBUF_C_TYPE_BOOL)
            count = 2;
    }
    int rc = crm_codec_repeated_alloc(msg, f, count);
    if (rc)
        return rc;
    size_t *n = S_MEMBER(msg, f->quantifier_offset);
    char *array = *(char **) S_MEMBER(msg, f->offset);
    size_t size = crm_codec_repeated_elt_size(f->type);
    for (size_t i = 0; i < count; i++) {
        void *slot = array + i * size;
        if (!map) {
            rc = s_sample_value(rng, f, slot, depth + 1, finite, -1);
            if (rc == 0 || (f->type == PROTOBUF_C_TYPE_MESSAGE && *(void **) slot))
                (*n)++;     /* a partly filled message is still freed with the rest */
            if (rc)
                return rc;
            continue;
        }
        ProtobufCMessage *entry;
        rc = crm_codec_message_new(f->descriptor, &entry);
        if (rc)
            return rc;
        *(ProtobufCMessage **) slot = entry;
        (*n)++;
        const ProtobufCFieldDescriptor *value_field = &entry->descriptor->fields[1];
        rc = s_sample_value(rng, key_field, S_MEMBER(entry, key_field->offset), depth + 1, false,
                            (int) i);
        if (rc == 0)
            rc = s_sample_value(rng, value_field, S_MEMBER(entry, value_field->offset), depth + 1,
                                false, -1);
        if (rc)
            return rc;
    }
    return 0;
}

/* At the first member (index i) of a oneof, returns one member picked at random; NULL for the
 * other members, so that each oneof gets exactly one. */
static const ProtobufCFieldDescriptor *
s_sample_oneof_member(s_rng_t *rng, const ProtobufCMessageDescriptor *desc, unsigned i)
{
    unsigned first = desc->n_fields, count = 0;
    for (unsigned k = 0; k < desc->n_fields; k++) {
        const ProtobufCFieldDescriptor *g = &desc->fields[k];
        if ((g->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
            && g->quantifier_offset == desc->fields[i].quantifier_offset) {
            if (first == desc->n_fields)
                first = k;
            count++;
        }
    }
    if (first != i)
        return NULL;
    uint64_t pick = s_rng_below(rng, count);
    for (unsigned k = 0; k < desc->n_fields; k++) {
        const ProtobufCFieldDescriptor *g = &desc->fields[k];
        if ((g->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) && g->quantifier_offset == desc->fields[i].quantifier_offset
            && pick-- == 0)
            return g;
    }
    assert(!"oneof member not found");
    return NULL;
}

static int
s_sample_fill(s_rng_t *rng, ProtobufCMessage *msg, int depth)
{
    const ProtobufCMessageDescriptor *desc = msg->descriptor;
    if (strcmp(desc->name, CRM_CODEC_TIMESTAMP_TYPE) == 0) {
        const ProtobufCFieldDescriptor *seconds = crm_codec_field_by_json_name(desc, "seconds");
        const ProtobufCFieldDescriptor *nanos = crm_codec_field_by_json_name(desc, "nanos");
        assert(seconds && nanos);
        uint64_t span = (uint64_t) (CRM_TIME_MAX_SECONDS - CRM_TIME_MIN_SECONDS) + 1;
        *(int64_t *) S_MEMBER(msg, seconds->offset) =
            CRM_TIME_MIN_SECONDS + (int64_t) s_rng_below(rng, span);
        /* Whole seconds, milliseconds, microseconds or nanoseconds. */
        static const int32_t units[] = { CRM_TIME_NANOS_PER_SECOND, 1000000, 1000, 1 };
        int32_t unit = units[s_rng_below(rng, sizeof units / sizeof units[0])];
        *(int32_t *) S_MEMBER(msg, nanos->offset) =
            (int32_t) s_rng_below(rng, CRM_TIME_NANOS_PER_SECOND / unit) * unit;
        return 0;
    }
    bool finite = strcmp(desc->name, CRM_CODEC_VALUE_TYPE) == 0;

    for (unsigned i = 0; i < desc->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &desc->fields[i];
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            int rc = s_sample_repeated(rng, msg, f, depth + 1, finite);
            if (rc)
                return rc;
            continue;
        }
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            f = s_sample_oneof_member(rng, desc, i);
            if (!f)
                continue;       /* not the first member of its oneof: already done */
        }
        if (f->type == PROTOBUF_C_TYPE_MESSAGE && depth + 1 > CRM_CODEC_MAX_DEPTH)
            continue;
        void *slot = S_MEMBER(msg, f->offset);
        if (f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_MESSAGE)
            *(void **) slot = NULL;     /* nothing to free: defaults are static */
        int rc = s_sample_value(rng, f, slot, depth + 1, finite, -1);
        if (rc)
            return rc;
        crm_codec_field_mark_set(msg, f);
    }
    return 0;
}

static int
s_sample_message(s_rng_t *rng, const ProtobufCMessageDescriptor *desc, int depth,
                 ProtobufCMessage **msg_p)
{
    int rc = crm_codec_message_new(desc, msg_p);
    if (rc == 0)
        rc = s_sample_fill(rng, *msg_p, depth);
    return rc;
}

int
crm_codec_message_sample(const ProtobufCMessageDescriptor *desc, uint64_t seed,
                         ProtobufCMessage **msg_p)
{
    assert(desc && msg_p);
    s_rng_t rng = { .state = seed };
    ProtobufCMessage *msg = NULL;
    int rc = s_sample_message(&rng, desc, 1, &msg);
    if (rc) {
        crm_codec_message_free(&msg);
        return rc;
    }
    *msg_p = msg;
    return 0;
}
