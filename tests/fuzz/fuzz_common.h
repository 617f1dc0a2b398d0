/* fuzz_common.h: what the fuzz targets share: the message types they decode into, and checks that abort on a finding. */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <protobuf-c/protobuf-c.h>

#include "crm/v1/contacts.pb-c.h"
#include "crm/v1/envelope.pb-c.h"
#include "crm/v1/feedback.pb-c.h"
#include "crm/v1/ingest.pb-c.h"
#include "crm/v1/loyalty.pb-c.h"
#include "crm_codec.h"
#include "crm_error.h"

/* The first byte of an input picks the message type (modulo the count); the rest is the
 * encoded message. Seeds in corpus/ start with '0', '1', ... in this order. */
static const ProtobufCMessageDescriptor *const fuzz_types[] = {
    &crm__v1__customer__descriptor,          /* '0' */
    &crm__v1__event__descriptor,             /* '1' */
    &crm__v1__order_placed__descriptor,      /* '2' */
    &crm__v1__loyalty_account__descriptor,   /* '3' */
    &crm__v1__ledger_entry__descriptor,      /* '4' */
    &crm__v1__survey__descriptor,            /* '5' */
    &crm__v1__answer__descriptor,            /* '6' */
    &crm__v1__complaint__descriptor,         /* '7' */
};

#define FUZZ_TYPES_COUNT (sizeof fuzz_types / sizeof fuzz_types[0])

/* Aborts (a finding for libFuzzer, which keeps the input) when cond is false. */
#define FUZZ_CHECK(cond, ...)                                                    \
    do {                                                                         \
        if (!(cond)) {                                                           \
            fprintf(stderr, "fuzz check failed: %s: ", #cond);                   \
            fprintf(stderr, __VA_ARGS__);                                        \
            fputc('\n', stderr);                                                 \
            abort();                                                             \
        }                                                                        \
    } while (0)

/* Takes the type byte off the input. Returns the type, or NULL for an empty input. */
static inline const ProtobufCMessageDescriptor *
fuzz_type_take(const uint8_t **data, size_t *size)
{
    if (*size == 0)
        return NULL;
    const ProtobufCMessageDescriptor *desc = fuzz_types[(*data)[0] % FUZZ_TYPES_COUNT];
    (*data)++;
    (*size)--;
    return desc;
}

/* Aborts unless a and b pack to the same protobuf bytes (same type, same values). */
static inline void
fuzz_check_same(const ProtobufCMessage *a, const ProtobufCMessage *b, const char *what)
{
    FUZZ_CHECK(a->descriptor == b->descriptor, "%s: types differ", what);
    void *pa = NULL, *pb = NULL;
    size_t la = 0, lb = 0;
    FUZZ_CHECK(crm_codec_pb_encode(a, &pa, &la) == 0, "%s: pack", what);
    FUZZ_CHECK(crm_codec_pb_encode(b, &pb, &lb) == 0, "%s: pack", what);
    FUZZ_CHECK(la == lb && memcmp(pa, pb, la) == 0, "%s: %s differs after a round trip (%zu vs %zu bytes)",
               what, a->descriptor->name, la, lb);
    free(pa);
    free(pb);
}

/* Encodes msg to MessagePack and decodes it back. Returns the copy (the caller frees it). */
static inline ProtobufCMessage *
fuzz_msgpack_copy(const ProtobufCMessage *msg)
{
    void *buf = NULL;
    size_t len = 0;
    crm_codec_error_t err;
    FUZZ_CHECK(crm_codec_msgpack_encode(msg, &buf, &len) == 0, "MessagePack encode of %s", msg->descriptor->name);
    ProtobufCMessage *copy = NULL;
    int rc = crm_codec_msgpack_decode(msg->descriptor, buf, len, &copy, &err);
    FUZZ_CHECK(rc == 0, "decode of our own MessagePack: rc %d at [%s]: %s", rc, err.path, err.message);
    free(buf);
    return copy;
}

/* Checks that msg survives MessagePack unchanged, and JSON (with and without defaults).
 * exact: msg came from a decoder that keeps nothing the codecs drop (JSON, MessagePack);
 * otherwise (a protobuf decode keeps unknown fields) its MessagePack copy is the reference.
 * from_json: msg came from the JSON decoder, so it must encode to JSON and come back the same
 * message. Otherwise the JSON codec may refuse what other decoders keep, by design: the encoder
 * refuses a Timestamp out of range or a number that is not finite, and writes what the strict
 * decoder then refuses (an enum number this version does not know, an empty Value as null in a
 * map); and protobuf and MessagePack keep a map key given twice, JSON only the last. So then
 * only the JSON text must be stable: what decodes encodes to the same text. */
static inline void
fuzz_check_round_trips(const ProtobufCMessage *msg, bool exact, bool from_json)
{
    ProtobufCMessage *copy = fuzz_msgpack_copy(msg);
    const ProtobufCMessage *ref = msg;
    if (exact)
        fuzz_check_same(msg, copy, "MessagePack");
    else
        ref = copy;
    ProtobufCMessage *copy2 = fuzz_msgpack_copy(ref);
    fuzz_check_same(ref, copy2, "MessagePack twice");
    crm_codec_message_free(&copy2);

    static const unsigned flags[] = { 0, CRM_CODEC_EMIT_DEFAULTS };
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        char *text = NULL, *text2 = NULL;
        size_t len = 0, len2 = 0;
        crm_codec_error_t err;
        ProtobufCMessage *again = NULL;
        int rc = crm_codec_json_encode(ref, flags[i], &text, &len, &err);
        FUZZ_CHECK(rc == 0 || (rc == CRM_EINVALID && !from_json), "JSON encode of %s: rc %d at [%s]: %s",
                   ref->descriptor->name, rc, err.path, err.message);
        if (rc == 0)
            rc = crm_codec_json_decode(ref->descriptor, text, len, &again, &err);
        FUZZ_CHECK(rc == 0 || !from_json, "decode of our own JSON: rc %d at [%s]: %s: %s", rc, err.path,
                   err.message, text);
        if (rc == 0 && from_json) {
            fuzz_check_same(ref, again, "JSON");
        } else if (rc == 0) {
            rc = crm_codec_json_encode(again, flags[i], &text2, &len2, &err);
            FUZZ_CHECK(rc == 0, "JSON encode of decoded JSON: rc %d at [%s]: %s", rc, err.path, err.message);
            FUZZ_CHECK(len == len2 && memcmp(text, text2, len) == 0, "JSON text changed:\n%s\n%s", text, text2);
        }
        crm_codec_message_free(&again);
        free(text);
        free(text2);
    }
    crm_codec_message_free(&copy);
}

#endif
