/* test_crm_codec_msgpack.c: the MessagePack side of crm_codec: every message type round-trips, exact bytes, forward compatibility, errors, fuzz. */
#include <criterion/criterion.h>

#include "crm_test.h"

#include <math.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "crm_all_messages.h"
#include "crm_codec.h"
#include "crm_error.h"
#include "crmtest/codec_test.pb-c.h"
#include "crmtest/codec_test2.pb-c.h"


TestSuite(codec_msgpack, .fini = crm_test_check_leaks);

#define SEEDS_PER_TYPE 24
#define FUZZ_ITERATIONS 3000
#define FUZZ_SEED 77u

static const ProtobufCMessageDescriptor *const extra_messages[] = {
    &crmtest__all_types__descriptor,
    &crmtest__all_types__inner__descriptor,
    &crmtest__deep1__descriptor,
    &crmtest2__legacy__descriptor,
};
#define EXTRA_COUNT (sizeof extra_messages / sizeof extra_messages[0])

static const ProtobufCMessageDescriptor *
descriptor_at(size_t i)
{
    return i < CRM_ALL_MESSAGES_COUNT ? crm_all_messages[i] : extra_messages[i - CRM_ALL_MESSAGES_COUNT];
}

static void
assert_same(const ProtobufCMessage *a, const ProtobufCMessage *b)
{
    void *abuf, *bbuf;
    size_t alen, blen;
    cr_assert_eq(crm_codec_pb_encode(a, &abuf, &alen), 0);
    cr_assert_eq(crm_codec_pb_encode(b, &bbuf, &blen), 0);
    cr_assert(alen == blen && memcmp(abuf, bbuf, alen) == 0, "%s differs after the round trip",
              a->descriptor->name);
    free(abuf);
    free(bbuf);
}

static void
msgpack_round_trip(const ProtobufCMessage *msg)
{
    void *buf = NULL;
    size_t len = 0;
    cr_assert_eq(crm_codec_msgpack_encode(msg, &buf, &len), 0);
    ProtobufCMessage *back = NULL;
    crm_codec_error_t err;
    int rc = crm_codec_msgpack_decode(msg->descriptor, buf, len, &back, &err);
    cr_assert_eq(rc, 0, "%s: %s at '%s'", msg->descriptor->name, err.message, err.path);
    assert_same(msg, back);

    void *again = NULL;
    size_t again_len = 0;
    cr_assert_eq(crm_codec_msgpack_encode(back, &again, &again_len), 0);
    cr_assert(again_len == len && memcmp(again, buf, len) == 0);
    free(again);
    free(buf);
    crm_codec_message_free(&back);
}

Test(codec_msgpack, every_message_type_round_trips)
{
    cr_assert_gt(CRM_ALL_MESSAGES_COUNT, 20);
    for (size_t i = 0; i < CRM_ALL_MESSAGES_COUNT + EXTRA_COUNT; i++) {
        const ProtobufCMessageDescriptor *desc = descriptor_at(i);
        ProtobufCMessage *empty = NULL;
        cr_assert_eq(crm_codec_message_new(desc, &empty), 0);
        msgpack_round_trip(empty);
        crm_codec_message_free(&empty);
        for (uint64_t seed = 1; seed <= SEEDS_PER_TYPE; seed++) {
            ProtobufCMessage *msg = NULL;
            cr_assert_eq(crm_codec_message_sample(desc, seed * 104729 + i, &msg), 0);
            msgpack_round_trip(msg);
            crm_codec_message_free(&msg);
        }
    }
}

static void
assert_bytes(const ProtobufCMessage *msg, const uint8_t *want, size_t want_len)
{
    void *buf = NULL;
    size_t len = 0;
    cr_assert_eq(crm_codec_msgpack_encode(msg, &buf, &len), 0);
    cr_assert_eq(len, want_len, "length %zu, wanted %zu", len, want_len);
    cr_assert_arr_eq(buf, want, len);
    free(buf);
}

Test(codec_msgpack, exact_bytes)
{
    Crm__V1__Money money = CRM__V1__MONEY__INIT;
    money.amount_minor = 1250;
    char cny[] = "CNY";
    money.currency = cny;
    static const uint8_t money_bytes[] = { 0x82, 0x01, 0xcd, 0x04, 0xe2, 0x02, 0xa3, 'C', 'N', 'Y' };
    assert_bytes(&money.base, money_bytes, sizeof money_bytes);

    /* Defaults are left out; an empty message is an empty map. */
    Crm__V1__Money zero = CRM__V1__MONEY__INIT;
    static const uint8_t empty_bytes[] = { 0x80 };
    assert_bytes(&zero.base, empty_bytes, sizeof empty_bytes);

    /* float is float32, double float64, bytes bin, enum int, negative int compact,
     * a set oneof member even at zero, a far field number. */
    Crmtest__AllTypes all = CRMTEST__ALL_TYPES__INIT;
    all.f = 1.5f;
    all.d = -2.5;
    all.s32 = -3;
    uint8_t raw[] = { 0xde, 0xad };
    all.by.data = raw;
    all.by.len = 2;
    all.shade = CRMTEST__SHADE__SHADE_DARK;
    all.choice_case = CRMTEST__ALL_TYPES__CHOICE_O_F;
    all.far_away = 1;
    static const uint8_t all_bytes[] = {
        0x87,
        0x01, 0xcb, 0xc0, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,    /* d = -2.5 */
        0x02, 0xca, 0x3f, 0xc0, 0x00, 0x00,                            /* f = 1.5f */
        0x07, 0xfd,                                                    /* s32 = -3 */
        0x0f, 0xc4, 0x02, 0xde, 0xad,                                  /* by */
        0x10, 0x02,                                                    /* shade = dark */
        0x20, 0xca, 0x00, 0x00, 0x00, 0x00,                            /* o_f = 0 */
        0xcd, 0x03, 0xe8, 0x01,                                        /* 1000: far_away */
    };
    assert_bytes(&all.base, all_bytes, sizeof all_bytes);
}

/* Packs a msgpack map with the given packing steps into a malloc'd buffer. */
typedef struct {
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
} writer_t;

static void
writer_init(writer_t *w)
{
    msgpack_sbuffer_init(&w->sbuf);
    msgpack_packer_init(&w->pk, &w->sbuf, msgpack_sbuffer_write);
}

static void
pack_str(writer_t *w, const char *s, size_t len)
{
    msgpack_pack_str(&w->pk, len);
    msgpack_pack_str_body(&w->pk, s, len);
}

static ProtobufCMessage *
decode_ok(const ProtobufCMessageDescriptor *desc, writer_t *w)
{
    ProtobufCMessage *msg = NULL;
    crm_codec_error_t err;
    int rc = crm_codec_msgpack_decode(desc, w->sbuf.data, w->sbuf.size, &msg, &err);
    cr_assert_eq(rc, 0, "%s at '%s'", err.message, err.path);
    msgpack_sbuffer_destroy(&w->sbuf);
    return msg;
}

static void
decode_fails(const ProtobufCMessageDescriptor *desc, writer_t *w, int code, const char *path,
             const char *message)
{
    ProtobufCMessage *msg = NULL;
    crm_codec_error_t err;
    int rc = crm_codec_msgpack_decode(desc, w->sbuf.data, w->sbuf.size, &msg, &err);
    cr_assert_eq(rc, code, "got %d (%s at '%s')", rc, err.message, err.path);
    cr_assert_null(msg);
    cr_assert_str_eq(err.path, path);
    cr_assert(strstr(err.message, message), "message '%s', wanted '%s'", err.message, message);
    msgpack_sbuffer_destroy(&w->sbuf);
}

Test(codec_msgpack, newer_and_older_records_still_read)
{
    /* A newer writer added fields 90..93; an older one never wrote most fields. */
    writer_t w;
    writer_init(&w);
    msgpack_pack_map(&w.pk, 6);
    msgpack_pack_uint32(&w.pk, 3);
    pack_str(&w, "Li Na", 5);
    msgpack_pack_uint32(&w.pk, 90);
    pack_str(&w, "future", 6);
    msgpack_pack_uint32(&w.pk, 91);
    msgpack_pack_array(&w.pk, 2);
    msgpack_pack_int(&w.pk, 1);
    msgpack_pack_map(&w.pk, 1);
    msgpack_pack_int(&w.pk, 1);
    msgpack_pack_nil(&w.pk);
    msgpack_pack_uint32(&w.pk, 92);
    msgpack_pack_ext(&w.pk, 1, 7);
    msgpack_pack_ext_body(&w.pk, "x", 1);
    msgpack_pack_uint32(&w.pk, 14);
    msgpack_pack_int(&w.pk, 7);             /* a value tier this version does not know */
    msgpack_pack_uint32(&w.pk, 4);
    msgpack_pack_nil(&w.pk);                /* nil: the default */
    ProtobufCMessage *msg = decode_ok(&crm__v1__customer__descriptor, &w);
    Crm__V1__Customer *c = (Crm__V1__Customer *) msg;
    cr_assert_str_eq(c->name, "Li Na");
    cr_assert_eq(c->value_tier, 7);
    cr_assert_str_eq(c->email, "");
    cr_assert_null(c->address);
    crm_codec_message_free(&msg);
}

Test(codec_msgpack, errors_name_the_field)
{
    const ProtobufCMessageDescriptor *customer = &crm__v1__customer__descriptor;
    writer_t w;

    writer_init(&w);
    msgpack_pack_map(&w.pk, 1);
    msgpack_pack_int(&w.pk, 3);
    msgpack_pack_int(&w.pk, 5);
    decode_fails(customer, &w, CRM_EINVALID, "name", "expected a string");

    writer_init(&w);
    msgpack_pack_map(&w.pk, 1);
    msgpack_pack_int(&w.pk, 6);
    msgpack_pack_map(&w.pk, 1);
    msgpack_pack_int(&w.pk, 3);
    msgpack_pack_true(&w.pk);
    decode_fails(customer, &w, CRM_EINVALID, "address.city", "expected a string");

    writer_init(&w);
    msgpack_pack_map(&w.pk, 1);
    msgpack_pack_int(&w.pk, 6);
    pack_str(&w, "Shanghai", 8);
    decode_fails(customer, &w, CRM_EINVALID, "address", "expected a map");

    writer_init(&w);
    msgpack_pack_map(&w.pk, 1);
    msgpack_pack_int(&w.pk, 10);
    msgpack_pack_array(&w.pk, 2);
    pack_str(&w, "ok", 2);
    pack_str(&w, "\xc0\xaf", 2);            /* an overlong '/' */
    decode_fails(customer, &w, CRM_EINVALID, "tags[1]", "invalid UTF-8");

    writer_init(&w);
    msgpack_pack_map(&w.pk, 1);
    msgpack_pack_int(&w.pk, 11);
    msgpack_pack_map(&w.pk, 1);
    pack_str(&w, "vip", 3);
    msgpack_pack_map(&w.pk, 1);
    msgpack_pack_int(&w.pk, 1);
    pack_str(&w, "a\0b", 3);
    decode_fails(customer, &w, CRM_EINVALID, "customFields.vip.stringValue", "NUL");

    writer_init(&w);
    msgpack_pack_map(&w.pk, 1);
    msgpack_pack_int(&w.pk, 21);
    msgpack_pack_uint64(&w.pk, 4294967296ull);
    decode_fails(customer, &w, CRM_EINVALID, "purchaseCount", "value out of range for uint32");

    writer_init(&w);
    msgpack_pack_map(&w.pk, 1);
    msgpack_pack_int(&w.pk, 20);
    msgpack_pack_int(&w.pk, -1);
    decode_fails(customer, &w, CRM_EINVALID, "version", "value out of range for uint64");

    writer_init(&w);
    msgpack_pack_map(&w.pk, 1);
    msgpack_pack_int(&w.pk, 14);
    msgpack_pack_double(&w.pk, 1.0);
    decode_fails(customer, &w, CRM_EINVALID, "valueTier", "expected an integer");

    writer_init(&w);
    msgpack_pack_map(&w.pk, 2);
    msgpack_pack_int(&w.pk, 3);
    pack_str(&w, "a", 1);
    msgpack_pack_int(&w.pk, 3);
    pack_str(&w, "b", 1);
    decode_fails(customer, &w, CRM_EINVALID, "name", "field given twice");

    writer_init(&w);
    msgpack_pack_map(&w.pk, 1);
    pack_str(&w, "name", 4);
    pack_str(&w, "b", 1);
    decode_fails(customer, &w, CRM_EINVALID, "", "not a field number");

    writer_init(&w);
    msgpack_pack_array(&w.pk, 0);
    decode_fails(customer, &w, CRM_EINVALID, "", "expected a map");

    writer_init(&w);
    msgpack_pack_map(&w.pk, 2);
    msgpack_pack_int(&w.pk, 1);
    pack_str(&w, "a", 1);
    msgpack_pack_int(&w.pk, 2);
    msgpack_pack_double(&w.pk, 1.5);
    decode_fails(&crm__v1__value__descriptor, &w, CRM_EINVALID, "numberValue", "another member of the same oneof");

    writer_init(&w);
    msgpack_pack_map(&w.pk, 1);
    msgpack_pack_int(&w.pk, 2);
    msgpack_pack_double(&w.pk, 1e39);
    decode_fails(&crmtest__all_types__descriptor, &w, CRM_EINVALID, "f", "value out of range for float");

    writer_init(&w);
    msgpack_pack_map(&w.pk, 1);
    msgpack_pack_int(&w.pk, 3);
    msgpack_pack_int64(&w.pk, (int64_t) INT32_MIN - 1);
    decode_fails(&crmtest__all_types__descriptor, &w, CRM_EINVALID, "i32", "value out of range for int32");

    writer_init(&w);
    msgpack_pack_map(&w.pk, 1);
    msgpack_pack_int(&w.pk, 27);
    msgpack_pack_map(&w.pk, 1);
    pack_str(&w, "1", 1);
    pack_str(&w, "one", 3);
    decode_fails(&crmtest__all_types__descriptor, &w, CRM_EINVALID, "byInt.1", "expected an integer");

    writer_init(&w);
    msgpack_pack_map(&w.pk, 1);
    msgpack_pack_int(&w.pk, 41);
    msgpack_pack_array(&w.pk, 1);
    msgpack_pack_nil(&w.pk);
    decode_fails(&crmtest__all_types__descriptor, &w, CRM_EINVALID, "inners[0]", "nil is not allowed");

    /* Trailing bytes after the record. */
    writer_init(&w);
    msgpack_pack_map(&w.pk, 0);
    msgpack_pack_map(&w.pk, 0);
    decode_fails(customer, &w, CRM_EINVALID, "", "trailing bytes");
}

/* Writes `levels` nested messages of Deep1..DeepN: {1: {1: ... {2: levels}}}. */
static void
pack_deep(writer_t *w, int levels)
{
    for (int i = 1; i < levels; i++) {
        msgpack_pack_map(&w->pk, 1);
        msgpack_pack_int(&w->pk, 1);
    }
    msgpack_pack_map(&w->pk, 1);
    msgpack_pack_int(&w->pk, 2);
    msgpack_pack_int(&w->pk, levels);
}

Test(codec_msgpack, depth_limit)
{
    writer_t w;
    writer_init(&w);
    pack_deep(&w, CRM_CODEC_MAX_DEPTH);
    ProtobufCMessage *msg = decode_ok(&crmtest__deep1__descriptor, &w);
    crm_codec_message_free(&msg);

    writer_init(&w);
    pack_deep(&w, CRM_CODEC_MAX_DEPTH + 1);
    decode_fails(&crmtest__deep1__descriptor, &w, CRM_ETOOBIG, "", "deeper");

    /* Deeply nested arrays under a field number this version does not know. */
    writer_init(&w);
    msgpack_pack_map(&w.pk, 1);
    msgpack_pack_int(&w.pk, 99);
    for (int i = 0; i < 100; i++)
        msgpack_pack_array(&w.pk, 1);
    msgpack_pack_nil(&w.pk);
    decode_fails(&crm__v1__customer__descriptor, &w, CRM_ETOOBIG, "", "deeper");

    /* Encoding refuses what decoding would refuse. */
    ProtobufCMessage *top = NULL;
    cr_assert_eq(crm_codec_message_new(&crmtest__deep1__descriptor, &top), 0);
    ProtobufCMessage *at = top;
    for (int level = 2; level <= CRM_CODEC_MAX_DEPTH + 1; level++) {
        const ProtobufCFieldDescriptor *next = crm_codec_field_by_json_name(at->descriptor, "next");
        ProtobufCMessage *sub = NULL;
        cr_assert_eq(crm_codec_message_new(next->descriptor, &sub), 0);
        *(ProtobufCMessage **) ((char *) at + next->offset) = sub;
        at = sub;
    }
    void *buf = NULL;
    size_t len = 0;
    cr_assert_eq(crm_codec_msgpack_encode(top, &buf, &len), CRM_ETOOBIG);
    cr_assert_null(buf);
    crm_codec_message_free(&top);
}

Test(codec_msgpack, lying_lengths_are_rejected_without_allocating)
{
    static const uint8_t cases[][8] = {
        { 0xdd, 0xff, 0xff, 0xff, 0xff, 0x00 },     /* array of 4 billion */
        { 0xdf, 0x7f, 0xff, 0xff, 0xff, 0x00 },     /* map of 2 billion */
        { 0x81, 0x03, 0xdb, 0xff, 0xff, 0xff, 0xff, 'a' },  /* str32 of 4 GiB */
        { 0x81, 0x0f, 0xc6, 0x00, 0x00, 0x01, 0x00, 'a' },  /* bin32 of 256 bytes */
        { 0x81, 0x03, 0xc1 },                        /* never used byte */
        { 0x81, 0x03 },                              /* value missing */
    };
    static const size_t lengths[] = { 6, 6, 8, 8, 3, 2 };
    for (size_t i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
        ProtobufCMessage *msg = NULL;
        crm_codec_error_t err;
        int rc = crm_codec_msgpack_decode(&crm__v1__customer__descriptor, cases[i], lengths[i], &msg, &err);
        cr_assert_eq(rc, CRM_EINVALID, "case %zu: rc %d", i, rc);
        cr_assert_null(msg);
    }
    ProtobufCMessage *msg = NULL;
    cr_assert_eq(crm_codec_msgpack_decode(&crm__v1__customer__descriptor, "", 0, &msg, NULL), CRM_EINVALID);
}

static void
decode_anything(const ProtobufCMessageDescriptor *desc, const uint8_t *buf, size_t len)
{
    ProtobufCMessage *msg = NULL;
    crm_codec_error_t err;
    int rc = crm_codec_msgpack_decode(desc, buf, len, &msg, &err);
    cr_assert(rc == 0 || rc == CRM_EINVALID || rc == CRM_ETOOBIG, "rc %d", rc);
    if (rc == 0) {
        void *again = NULL;
        size_t again_len = 0;
        cr_assert_eq(crm_codec_msgpack_encode(msg, &again, &again_len), 0);
        free(again);
        crm_codec_message_free(&msg);
    } else {
        cr_assert_null(msg);
        cr_assert(err.message[0] != '\0');
    }
}

Test(codec_msgpack, truncated_and_mutated_input_never_crashes)
{
    static const ProtobufCMessageDescriptor *const targets[] = {
        &crm__v1__customer__descriptor, &crm__v1__purchase__descriptor, &crm__v1__event__descriptor,
        &crmtest__all_types__descriptor, &crmtest2__legacy__descriptor,
    };
    uint64_t state = FUZZ_SEED;
    for (size_t t = 0; t < sizeof targets / sizeof targets[0]; t++) {
        ProtobufCMessage *msg = NULL;
        cr_assert_eq(crm_codec_message_sample(targets[t], t + 11, &msg), 0);
        void *buf = NULL;
        size_t len = 0;
        cr_assert_eq(crm_codec_msgpack_encode(msg, &buf, &len), 0);
        crm_codec_message_free(&msg);

        for (size_t cut = 0; cut < len; cut++) {
            /* A copy of exactly cut bytes, so that ASan sees any read past the end. */
            uint8_t *prefix = malloc(cut ? cut : 1);
            memcpy(prefix, buf, cut);
            ProtobufCMessage *part = NULL;
            cr_assert_eq(crm_codec_msgpack_decode(targets[t], prefix, cut, &part, NULL), CRM_EINVALID);
            free(prefix);
        }

        uint8_t *copy = malloc(len);
        for (int i = 0; i < FUZZ_ITERATIONS / 5; i++) {
            memcpy(copy, buf, len);
            int flips = 1 + (int) (state % 4);
            for (int k = 0; k < flips; k++) {
                state = state * 6364136223846793005ull + 1442695040888963407ull;
                copy[(state >> 16) % len] = (uint8_t) (state >> 48);
            }
            decode_anything(targets[t], copy, len);
        }
        for (int i = 0; i < FUZZ_ITERATIONS / 5; i++) {
            size_t garbage_len = 1 + (size_t) (state % 64);
            uint8_t garbage[64];
            for (size_t k = 0; k < garbage_len; k++) {
                state = state * 6364136223846793005ull + 1442695040888963407ull;
                garbage[k] = (uint8_t) (state >> 40);
            }
            garbage[0] = 0x80 | (garbage[0] & 0x0f);    /* a map, to get past the first check */
            decode_anything(targets[t], garbage, garbage_len);
        }
        free(copy);
        free(buf);
    }
}
