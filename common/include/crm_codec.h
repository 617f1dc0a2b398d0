/* crm_codec.h: one generic codec, driven by protobuf-c descriptors, between messages and JSON, MessagePack and checked protobuf. */
#ifndef CRM_CODEC_H
#define CRM_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>

/* There is no per-message code anywhere: every function walks ProtobufCMessageDescriptor,
 * ProtobufCFieldDescriptor and ProtobufCEnumDescriptor. Two message types have a special JSON
 * form, recognised by full name: crm.v1.Timestamp is an RFC 3339 string in UTC and crm.v1.Value a
 * bare JSON scalar. Map fields (repeated "...Entry" messages with key = 1 and value = 2) are JSON
 * objects and MessagePack maps.
 *
 * Every message a decoder returns is allocated part by part with malloc, exactly as
 * protobuf_c_message_unpack does: free it with crm_codec_message_free (or
 * protobuf_c_message_free_unpacked(msg, NULL)). */

/* Limits. Nesting counts each message and each array or map: a Customer is depth 1, its
 * external_ids array 2, one ExternalId in it 3. */
#define CRM_CODEC_MAX_DEPTH 32
#define CRM_CODEC_MAX_INPUT (16u * 1024u * 1024u)   /* bytes of one encoded message a decoder takes */
#define CRM_CODEC_MAX_ITEMS (1u << 20)              /* MessagePack values in one record */
#define CRM_CODEC_PATH_MAX 256                      /* crm_codec_error_t.path, NUL included */
#define CRM_CODEC_MESSAGE_MAX 256                   /* crm_codec_error_t.message, NUL included */
#define CRM_CODEC_NAME_MAX 128                      /* a JSON field name or enum short name, NUL included */

/* Full names of the message types with a special JSON form. */
#define CRM_CODEC_TIMESTAMP_TYPE "crm.v1.Timestamp"
#define CRM_CODEC_VALUE_TYPE "crm.v1.Value"

/* Flags for crm_codec_json_from_message and crm_codec_json_encode. */
#define CRM_CODEC_EMIT_DEFAULTS 0x1u   /* also write fields at their default: "", 0, false, [], {}, the zero enum */

/* Where and why a decode or encode failed. path names the field with JSON names, for example
 * "address.city", "items[2].sku" or "customFields.vip" ("" for the whole input); message is a
 * human sentence such as "unknown field" or "value out of range for int32". */
typedef struct {
    char path[CRM_CODEC_PATH_MAX];
    char message[CRM_CODEC_MESSAGE_MAX];
} crm_codec_error_t;

/* --- JSON (the proto3 JSON mapping, with the choices noted here)
 * The Timestamp and Value forms apply to fields; a top-level Timestamp or Value message is an
 * ordinary object ({"seconds": "1", "nanos": 2}), since a JSON document here is always an object. */

/* Builds the JSON object of msg: lowerCamelCase names, fields at their default omitted unless
 * flags has CRM_CODEC_EMIT_DEFAULTS, enums as short lowercase names ("high"), 64-bit integers as
 * decimal strings, bytes as padded base64, NaN and infinities as "NaN", "Infinity", "-Infinity".
 * Returns 0 with *json_p a new reference owned by the caller; CRM_EINVALID (a string that is not
 * UTF-8, a Timestamp out of range, a Value number that is not finite; err says where);
 * CRM_ETOOBIG (nested deeper than CRM_CODEC_MAX_DEPTH); CRM_ENOMEM. err may be NULL. */
int crm_codec_json_from_message(const ProtobufCMessage *msg, unsigned flags, json_t **json_p,
                                crm_codec_error_t *err);

/* Builds a message of type desc from a JSON object. Names may be lowerCamelCase or snake_case;
 * null means the default; enums by short name (any case, '-' for '_'), full value name or number;
 * 64-bit integers as numbers or decimal strings; bytes as base64, standard or URL-safe.
 * Returns 0 with *msg_p owned by the caller (free with crm_codec_message_free); CRM_EINVALID with
 * err filled (unknown field, wrong type, out of range, unknown enum value, bad time, invalid
 * UTF-8, a field given twice, two members of one oneof); CRM_ETOOBIG (nested deeper than
 * CRM_CODEC_MAX_DEPTH); CRM_ENOMEM. *msg_p is untouched on error. err may be NULL. */
int crm_codec_json_to_message(const ProtobufCMessageDescriptor *desc, const json_t *json,
                              ProtobufCMessage **msg_p, crm_codec_error_t *err);

/* As crm_codec_json_from_message, then compact text. Returns 0 with *text_p (NUL-terminated,
 * malloc'd, the caller frees it) and *len_p its length without the NUL (len_p may be NULL);
 * the same errors. */
int crm_codec_json_encode(const ProtobufCMessage *msg, unsigned flags, char **text_p, size_t *len_p,
                          crm_codec_error_t *err);

/* Parses len bytes of JSON text (strict: duplicate keys rejected; the top level must be an
 * object) into a message of type desc, as crm_codec_json_to_message. Returns 0 with *msg_p owned
 * by the caller; CRM_EINVALID (err says why: "invalid JSON: ...", "duplicate key: ...");
 * CRM_ETOOBIG (more than CRM_CODEC_MAX_INPUT bytes, or too deep); CRM_ENOMEM. */
int crm_codec_json_decode(const ProtobufCMessageDescriptor *desc, const char *text, size_t len,
                          ProtobufCMessage **msg_p, crm_codec_error_t *err);

/* --- MessagePack (records at rest)
 * A message is a map from field number to value; fields at their default are left out (a set
 * oneof member is always written); repeated fields are arrays, map fields maps, nested messages
 * maps; strings str, bytes bin, enums and integers int, float float32, double float64. */

/* Encodes msg. Returns 0 with *buf_p (malloc'd, the caller frees it) and *len_p; CRM_ENOMEM;
 * CRM_ETOOBIG (nested deeper than CRM_CODEC_MAX_DEPTH). */
int crm_codec_msgpack_encode(const ProtobufCMessage *msg, void **buf_p, size_t *len_p);

/* Decodes len bytes into a message of type desc. Unknown field numbers are skipped (a record
 * written by a newer version still reads); nil means the default. Returns 0 with *msg_p owned by
 * the caller; CRM_EINVALID (truncated or malformed input, a type mismatch, invalid UTF-8, a field
 * given twice; err says where); CRM_ETOOBIG (more than CRM_CODEC_MAX_INPUT bytes or
 * CRM_CODEC_MAX_ITEMS values, nested deeper than CRM_CODEC_MAX_DEPTH); CRM_ENOMEM. Never reads
 * outside buf. err may be NULL. */
int crm_codec_msgpack_decode(const ProtobufCMessageDescriptor *desc, const void *buf, size_t len,
                             ProtobufCMessage **msg_p, crm_codec_error_t *err);

/* --- Protobuf, checked */

/* Packs msg. Returns 0 with *buf_p (malloc'd, at least one byte even for an empty message; the
 * caller frees it) and *len_p; CRM_ENOMEM. */
int crm_codec_pb_encode(const ProtobufCMessage *msg, void **buf_p, size_t *len_p);

/* Unpacks len bytes as desc, then checks that every string, at any depth, is valid UTF-8.
 * Returns 0 with *msg_p owned by the caller; CRM_ETOOBIG (more than CRM_CODEC_MAX_INPUT bytes);
 * CRM_EINVALID ("not a valid protobuf message", or "invalid UTF-8" with the field's path).
 * err may be NULL. */
int crm_codec_pb_decode(const ProtobufCMessageDescriptor *desc, const void *buf, size_t len,
                        ProtobufCMessage **msg_p, crm_codec_error_t *err);

/* --- Messages */

/* Allocates a message of type desc with malloc, initialised to its defaults. Returns 0 with
 * *msg_p owned by the caller (free with crm_codec_message_free), or CRM_ENOMEM. */
int crm_codec_message_new(const ProtobufCMessageDescriptor *desc, ProtobufCMessage **msg_p);

/* Frees a message allocated part by part with malloc (by a decoder here, by
 * protobuf_c_message_unpack or crm_codec_message_new) and sets *msg_p to NULL. Safe on NULL. */
void crm_codec_message_free(ProtobufCMessage **msg_p);

/* Builds a message of type desc with every field filled with pseudo-random but valid values,
 * the same for the same seed: every scalar type, repeated fields with several elements, maps with
 * distinct keys, nested messages down to CRM_CODEC_MAX_DEPTH, one member of each oneof, valid
 * Timestamps, each kind of Value, strings mixing ASCII, escapes and Chinese. For tests, fuzz seeds
 * and benchmarks. Returns 0 with *msg_p owned by the caller, or CRM_ENOMEM. */
int crm_codec_message_sample(const ProtobufCMessageDescriptor *desc, uint64_t seed,
                             ProtobufCMessage **msg_p);

/* --- Descriptors and names */

/* Returns the field of desc named name, as lowerCamelCase JSON name ("postalCode") or proto name
 * ("postal_code"); NULL when there is none. Borrowed from the descriptor. */
const ProtobufCFieldDescriptor *crm_codec_field_by_json_name(const ProtobufCMessageDescriptor *desc,
                                                             const char *name);

/* Writes the lowerCamelCase JSON name of f ("postal_code" -> "postalCode") into out (truncated to
 * size; CRM_CODEC_NAME_MAX is always enough for generated code). */
void crm_codec_json_name(const ProtobufCFieldDescriptor *f, char *out, size_t size);

/* Writes the short JSON name of an enum value into out: the value name without the enum's
 * UPPER_SNAKE type-name prefix, in lowercase (ValueTier VALUE_TIER_HIGH -> "high",
 * IngestResult.Outcome OUTCOME_ACCEPTED -> "accepted"). */
void crm_codec_enum_short_name(const ProtobufCEnumDescriptor *e, const ProtobufCEnumValue *v,
                               char *out, size_t size);

/* Returns the value of e named name: its short name in any case, with '-' taken as '_', or its
 * full value name; NULL when there is none. Borrowed. */
const ProtobufCEnumValue *crm_codec_enum_by_name(const ProtobufCEnumDescriptor *e, const char *name);

/* Returns true when f is a map field: a repeated message whose type is a "...Entry" message with
 * exactly the fields key = 1 and value = 2. */
bool crm_codec_field_is_map(const ProtobufCFieldDescriptor *f);

/* Returns true when f holds a value in msg that protobuf_c_message_pack would write: a set oneof
 * member, a non-empty repeated field, a proto2 optional with its has flag, or a proto3 field not
 * at its zero value. */
bool crm_codec_field_present(const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f);

/* Returns true when the len bytes at s are well-formed UTF-8 (no overlong forms, no surrogates,
 * nothing above U+10FFFF). */
bool crm_codec_utf8_valid(const char *s, size_t len);

/* Returns the protobuf name of a field type ("int32", "string", "message"). Static. */
const char *crm_codec_type_name(ProtobufCType type);

/* --- Building blocks shared by the codecs' walks */

/* A field path under construction: text like "items[2].sku", len its length. */
typedef struct {
    char text[CRM_CODEC_PATH_MAX];
    size_t len;
} crm_codec_path_t;

/* Around decoding one singular field into slot (its place in msg): begin clears a string or
 * message pointer (its static default is never freed); end, with the decoder's rc, marks the field
 * present (also a half-filled message, so that freeing msg frees it) or restores the default. */
void crm_codec_slot_begin(const ProtobufCFieldDescriptor *f, void *slot);
void crm_codec_slot_end(ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f, void *slot, int rc);

/* Append a field's JSON name, an array index or a map key to path (truncating at
 * CRM_CODEC_PATH_MAX). Each returns a mark for crm_codec_path_restore. */
size_t crm_codec_path_field(crm_codec_path_t *path, const ProtobufCFieldDescriptor *f);
size_t crm_codec_path_index(crm_codec_path_t *path, size_t index);
size_t crm_codec_path_key(crm_codec_path_t *path, const char *key);
void crm_codec_path_restore(crm_codec_path_t *path, size_t mark);

/* Fills err (when not NULL) with path (may be NULL) and a printf-style message. Returns code. */
int crm_codec_fail(crm_codec_error_t *err, const crm_codec_path_t *path, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Returns the size of one element of a repeated field of the given type in its C array. */
size_t crm_codec_repeated_elt_size(ProtobufCType type);

/* Allocates the zeroed C array of repeated field f in msg for count elements; the element count
 * stays 0 and the caller raises it as each element is complete, so a partly filled message can
 * always be freed. f must be empty. Returns 0 or CRM_ENOMEM. */
int crm_codec_repeated_alloc(ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f, size_t count);

/* Records that field f of msg now holds its value: sets the oneof case or the proto2 has flag. */
void crm_codec_field_mark_set(ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f);

/* Returns true when f belongs to a oneof of msg in which some member is already set. */
bool crm_codec_oneof_taken(const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f);

/* Copies len bytes into a new NUL-terminated string in *out (malloc'd). Returns 0 or CRM_ENOMEM. */
int crm_codec_strndup(const char *s, size_t len, char **out);

#endif
