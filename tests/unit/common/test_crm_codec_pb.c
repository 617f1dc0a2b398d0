/* test_crm_codec_pb.c: checked protobuf decoding, the descriptor helpers and sample messages of crm_codec. */
#include <criterion/criterion.h>

#include "crm_test.h"

#include <stdlib.h>
#include <string.h>

#include "crm_all_messages.h"
#include "crm_codec.h"
#include "crm_error.h"
#include "crmtest/codec_test.pb-c.h"
#include "crmtest/codec_test2.pb-c.h"


TestSuite(codec_pb, .fini = crm_test_check_leaks);
TestSuite(codec_names, .fini = crm_test_check_leaks);
TestSuite(codec_sample, .fini = crm_test_check_leaks);

#define SEEDS_PER_TYPE 16
#define FUZZ_ITERATIONS 3000
#define FUZZ_SEED 4242u

static const ProtobufCMessageDescriptor *const extra_messages[] = {
    &crmtest__all_types__descriptor,
    &crmtest__deep1__descriptor,
    &crmtest2__legacy__descriptor,
};
#define EXTRA_COUNT (sizeof extra_messages / sizeof extra_messages[0])

static const ProtobufCMessageDescriptor *
descriptor_at(size_t i)
{
    return i < CRM_ALL_MESSAGES_COUNT ? crm_all_messages[i] : extra_messages[i - CRM_ALL_MESSAGES_COUNT];
}

Test(codec_pb, every_message_type_round_trips)
{
    for (size_t i = 0; i < CRM_ALL_MESSAGES_COUNT + EXTRA_COUNT; i++) {
        const ProtobufCMessageDescriptor *desc = descriptor_at(i);
        for (uint64_t seed = 0; seed <= SEEDS_PER_TYPE; seed++) {
            ProtobufCMessage *msg = NULL;
            if (seed == 0)
                cr_assert_eq(crm_codec_message_new(desc, &msg), 0);
            else
                cr_assert_eq(crm_codec_message_sample(desc, seed * 31 + i, &msg), 0);
            void *buf = NULL;
            size_t len = 0;
            cr_assert_eq(crm_codec_pb_encode(msg, &buf, &len), 0);
            cr_assert_not_null(buf);
            ProtobufCMessage *back = NULL;
            crm_codec_error_t err;
            cr_assert_eq(crm_codec_pb_decode(desc, buf, len, &back, &err), 0, "%s: %s at %s", desc->name,
                         err.message, err.path);
            void *again = NULL;
            size_t again_len = 0;
            cr_assert_eq(crm_codec_pb_encode(back, &again, &again_len), 0);
            cr_assert(again_len == len && memcmp(again, buf, len) == 0, "%s", desc->name);
            free(again);
            free(buf);
            crm_codec_message_free(&back);
            crm_codec_message_free(&msg);
            cr_assert_null(msg);
        }
    }
    crm_codec_message_free(NULL);
}

static void
pb_fails(const ProtobufCMessageDescriptor *desc, const uint8_t *buf, size_t len, int code, const char *path,
         const char *message)
{
    ProtobufCMessage *msg = NULL;
    crm_codec_error_t err;
    int rc = crm_codec_pb_decode(desc, buf, len, &msg, &err);
    cr_assert_eq(rc, code, "got %d (%s at '%s')", rc, err.message, err.path);
    cr_assert_null(msg);
    cr_assert_str_eq(err.path, path);
    cr_assert(strstr(err.message, message), "message '%s'", err.message);
}

Test(codec_pb, invalid_utf8_is_found_at_any_depth)
{
    /* Customer.name (3) = "\xff\xfe" */
    static const uint8_t top[] = { 0x1a, 0x02, 0xff, 0xfe };
    pb_fails(&crm__v1__customer__descriptor, top, sizeof top, CRM_EINVALID, "name", "invalid UTF-8");

    /* Customer.address (6) { city (3) = "\xc0\xaf" } */
    static const uint8_t nested[] = { 0x32, 0x04, 0x1a, 0x02, 0xc0, 0xaf };
    pb_fails(&crm__v1__customer__descriptor, nested, sizeof nested, CRM_EINVALID, "address.city", "invalid UTF-8");

    /* Customer.tags (10) = ["ok", "\xed\xa0\x80"] (a surrogate) */
    static const uint8_t repeated[] = { 0x52, 0x02, 'o', 'k', 0x52, 0x03, 0xed, 0xa0, 0x80 };
    pb_fails(&crm__v1__customer__descriptor, repeated, sizeof repeated, CRM_EINVALID, "tags[1]", "invalid UTF-8");

    /* Customer.custom_fields (11) { key "vip", value { string_value (1) "\xf5" } } */
    static const uint8_t map_value[] = { 0x5a, 0x0a, 0x0a, 0x03, 'v', 'i', 'p', 0x12, 0x03, 0x0a, 0x01, 0xf5 };
    pb_fails(&crm__v1__customer__descriptor, map_value, sizeof map_value, CRM_EINVALID,
             "customFields.vip.stringValue", "invalid UTF-8");

    /* ... and a map key that is not UTF-8 */
    static const uint8_t map_key[] = { 0x5a, 0x03, 0x0a, 0x01, 0xff };
    pb_fails(&crm__v1__customer__descriptor, map_key, sizeof map_key, CRM_EINVALID, "customFields",
             "invalid UTF-8 in a map key");

    /* Valid multi-byte UTF-8 passes: name = "张伟" */
    static const uint8_t good[] = { 0x1a, 0x06, 0xe5, 0xbc, 0xa0, 0xe4, 0xbc, 0x9f };
    ProtobufCMessage *msg = NULL;
    cr_assert_eq(crm_codec_pb_decode(&crm__v1__customer__descriptor, good, sizeof good, &msg, NULL), 0);
    cr_assert_str_eq(((Crm__V1__Customer *) msg)->name, "张伟");
    crm_codec_message_free(&msg);
}

Test(codec_pb, malformed_and_oversized_input)
{
    static const uint8_t truncated[] = { 0x1a, 0x05, 'a' };
    pb_fails(&crm__v1__customer__descriptor, truncated, sizeof truncated, CRM_EINVALID, "",
             "not a valid protobuf message");
    static const uint8_t bad_wire[] = { 0x0f };
    pb_fails(&crm__v1__customer__descriptor, bad_wire, sizeof bad_wire, CRM_EINVALID, "",
             "not a valid protobuf message");

    uint8_t *big = calloc(CRM_CODEC_MAX_INPUT + 1, 1);
    cr_assert_not_null(big);
    pb_fails(&crm__v1__customer__descriptor, big, CRM_CODEC_MAX_INPUT + 1, CRM_ETOOBIG, "", "larger than");
    free(big);

    /* An empty buffer is an empty message. */
    ProtobufCMessage *msg = NULL;
    cr_assert_eq(crm_codec_pb_decode(&crm__v1__customer__descriptor, NULL, 0, &msg, NULL), 0);
    crm_codec_message_free(&msg);
}

static void
decode_anything(const ProtobufCMessageDescriptor *desc, const uint8_t *buf, size_t len)
{
    ProtobufCMessage *msg = NULL;
    int rc = crm_codec_pb_decode(desc, buf, len, &msg, NULL);
    cr_assert(rc == 0 || rc == CRM_EINVALID, "rc %d", rc);
    if (rc == 0) {
        void *again = NULL;
        size_t again_len = 0;
        cr_assert_eq(crm_codec_pb_encode(msg, &again, &again_len), 0);
        free(again);
        crm_codec_message_free(&msg);
    } else {
        cr_assert_null(msg);
    }
}

Test(codec_pb, truncated_and_mutated_input_never_crashes)
{
    static const ProtobufCMessageDescriptor *const targets[] = {
        &crm__v1__customer__descriptor, &crm__v1__purchase__descriptor, &crm__v1__event__descriptor,
        &crm__v1__request__descriptor, &crmtest__all_types__descriptor,
    };
    uint64_t state = FUZZ_SEED;
    for (size_t t = 0; t < sizeof targets / sizeof targets[0]; t++) {
        ProtobufCMessage *msg = NULL;
        cr_assert_eq(crm_codec_message_sample(targets[t], t + 5, &msg), 0);
        void *buf = NULL;
        size_t len = 0;
        cr_assert_eq(crm_codec_pb_encode(msg, &buf, &len), 0);
        crm_codec_message_free(&msg);

        for (size_t cut = 0; cut < len; cut++) {
            uint8_t *prefix = malloc(cut ? cut : 1);
            memcpy(prefix, buf, cut);
            decode_anything(targets[t], prefix, cut);
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
            uint8_t garbage[48];
            size_t garbage_len = 1 + (size_t) (state % sizeof garbage);
            for (size_t k = 0; k < garbage_len; k++) {
                state = state * 6364136223846793005ull + 1442695040888963407ull;
                garbage[k] = (uint8_t) (state >> 40);
            }
            decode_anything(targets[t], garbage, garbage_len);
        }
        free(copy);
        free(buf);
    }
}

Test(codec_names, json_names_and_lookup)
{
    const ProtobufCMessageDescriptor *address = &crm__v1__address__descriptor;
    const ProtobufCFieldDescriptor *f = crm_codec_field_by_json_name(address, "postalCode");
    cr_assert_not_null(f);
    cr_assert_str_eq(f->name, "postal_code");
    cr_assert_eq(crm_codec_field_by_json_name(address, "postal_code"), f);
    cr_assert_null(crm_codec_field_by_json_name(address, "PostalCode"));
    cr_assert_null(crm_codec_field_by_json_name(address, "postalcode"));
    cr_assert_null(crm_codec_field_by_json_name(address, "postalCod"));
    cr_assert_null(crm_codec_field_by_json_name(address, ""));
    cr_assert_eq(crm_codec_field_by_json_name(address, "line1"), &address->fields[0]);

    char name[CRM_CODEC_NAME_MAX];
    crm_codec_json_name(f, name, sizeof name);
    cr_assert_str_eq(name, "postalCode");
    crm_codec_json_name(crm_codec_field_by_json_name(&crm__v1__event__descriptor, "data_content_type"), name,
                        sizeof name);
    cr_assert_str_eq(name, "dataContentType");
    crm_codec_json_name(f, name, 5);
    cr_assert_str_eq(name, "post");
}

static void
assert_enum(const ProtobufCEnumDescriptor *e, int value, const char *short_name)
{
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(e, value);
    cr_assert_not_null(v);
    char name[CRM_CODEC_NAME_MAX];
    crm_codec_enum_short_name(e, v, name, sizeof name);
    cr_assert_str_eq(name, short_name);
    cr_assert_eq(crm_codec_enum_by_name(e, short_name), v);
    cr_assert_eq(crm_codec_enum_by_name(e, v->name), v);
}

Test(codec_names, enum_short_names)
{
    assert_enum(&crm__v1__value_tier__descriptor, 1, "high");
    assert_enum(&crm__v1__value_tier__descriptor, 0, "unspecified");
    assert_enum(&crm__v1__need_type__descriptor, 1, "price_sensitive");
    assert_enum(&crm__v1__lifecycle_stage__descriptor, 5, "at_risk");
    assert_enum(&crm__v1__consent_state__descriptor, 2, "withdrawn");
    assert_enum(&crm__v1__status__descriptor, 2, "not_found");
    assert_enum(&crm__v1__status__descriptor, 4, "precondition_failed");
    assert_enum(&crm__v1__ingest_result__outcome__descriptor, 1, "accepted");
    assert_enum(&crmtest__shade__descriptor, 1, "light_grey");
    assert_enum(&crmtest2__legacy__kind__descriptor, 2, "b");

    const ProtobufCEnumDescriptor *need = &crm__v1__need_type__descriptor;
    cr_assert_eq(crm_codec_enum_by_name(need, "PRICE-SENSITIVE")->value, 1);
    cr_assert_eq(crm_codec_enum_by_name(need, "need_type_service_seeking")->value, 3);
    cr_assert_null(crm_codec_enum_by_name(need, "price"));
    cr_assert_null(crm_codec_enum_by_name(need, ""));
    cr_assert_null(crm_codec_enum_by_name(need, "1"));

    /* Every value of every enum in the contracts has a distinct, non-empty short name. */
    for (size_t i = 0; i < CRM_ALL_MESSAGES_COUNT; i++) {
        const ProtobufCMessageDescriptor *desc = crm_all_messages[i];
        for (unsigned k = 0; k < desc->n_fields; k++) {
            if (desc->fields[k].type != PROTOBUF_C_TYPE_ENUM)
                continue;
            const ProtobufCEnumDescriptor *e = desc->fields[k].descriptor;
            for (unsigned v = 0; v < e->n_values; v++) {
                char name[CRM_CODEC_NAME_MAX];
                crm_codec_enum_short_name(e, &e->values[v], name, sizeof name);
                cr_assert(name[0] != '\0');
                cr_assert_eq(crm_codec_enum_by_name(e, name), &e->values[v], "%s %s", e->name, name);
            }
        }
    }
}

Test(codec_names, maps_and_presence)
{
    const ProtobufCMessageDescriptor *customer = &crm__v1__customer__descriptor;
    cr_assert(crm_codec_field_is_map(crm_codec_field_by_json_name(customer, "customFields")));
    cr_assert_not(crm_codec_field_is_map(crm_codec_field_by_json_name(customer, "externalIds")));
    cr_assert_not(crm_codec_field_is_map(crm_codec_field_by_json_name(customer, "tags")));
    cr_assert_not(crm_codec_field_is_map(crm_codec_field_by_json_name(customer, "address")));
    cr_assert(crm_codec_field_is_map(crm_codec_field_by_json_name(&crm__v1__event__descriptor, "extensions")));

    Crmtest__AllTypes m = CRMTEST__ALL_TYPES__INIT;
    const ProtobufCMessageDescriptor *all = &crmtest__all_types__descriptor;
    const ProtobufCFieldDescriptor *s = crm_codec_field_by_json_name(all, "s");
    const ProtobufCFieldDescriptor *f = crm_codec_field_by_json_name(all, "f");
    const ProtobufCFieldDescriptor *os = crm_codec_field_by_json_name(all, "oS");
    cr_assert_not(crm_codec_field_present(&m.base, s));
    char empty[] = "";
    m.s = empty;
    cr_assert_not(crm_codec_field_present(&m.base, s));
    m.f = -0.0f;
    cr_assert_not(crm_codec_field_present(&m.base, f));     /* as protobuf-c packs it */
    m.choice_case = CRMTEST__ALL_TYPES__CHOICE_O_S;
    m.o_s = (char *) protobuf_c_empty_string;
    cr_assert_not(crm_codec_field_present(&m.base, os));   /* protobuf-c does not pack it */
    cr_assert_eq(protobuf_c_message_get_packed_size(&m.base), 0);
    m.o_s = empty;
    cr_assert(crm_codec_field_present(&m.base, os));
    cr_assert_eq(protobuf_c_message_get_packed_size(&m.base), 3);
    cr_assert(crm_codec_oneof_taken(&m.base, crm_codec_field_by_json_name(all, "oF")));
    cr_assert_not(crm_codec_oneof_taken(&m.base, s));

    Crmtest2__Legacy legacy = CRMTEST2__LEGACY__INIT;
    const ProtobufCFieldDescriptor *count = crm_codec_field_by_json_name(&crmtest2__legacy__descriptor, "count");
    const ProtobufCFieldDescriptor *name = crm_codec_field_by_json_name(&crmtest2__legacy__descriptor, "name");
    cr_assert_eq(legacy.count, 7);
    cr_assert_not(crm_codec_field_present(&legacy.base, count));
    cr_assert_not(crm_codec_field_present(&legacy.base, name));     /* still the static default */
    crm_codec_field_mark_set(&legacy.base, count);
    cr_assert(legacy.has_count);
    cr_assert(crm_codec_field_present(&legacy.base, count));
}

Test(codec_names, utf8_validation)
{
    static const struct {
        const char *text;
        size_t len;
        bool valid;
    } cases[] = {
        { "", 0, true },
        { "plain ascii", 11, true },
        { "张伟", 6, true },
        { "😀", 4, true },
        { "\xf4\x8f\xbf\xbf", 4, true },        /* U+10FFFF */
        { "\xef\xbf\xbf", 3, true },            /* U+FFFF */
        { "\xc3\x28", 2, false },
        { "\xc0\xaf", 2, false },               /* overlong */
        { "\xe0\x80\xaf", 3, false },           /* overlong */
        { "\xed\xa0\x80", 3, false },           /* surrogate */
        { "\xf4\x90\x80\x80", 4, false },       /* above U+10FFFF */
        { "\xf8\x88\x80\x80\x80", 5, false },
        { "\xe5\xbc", 2, false },               /* truncated */
        { "\x80", 1, false },
        { "\xff", 1, false },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_assert_eq(crm_codec_utf8_valid(cases[i].text, cases[i].len), cases[i].valid, "case %zu", i);
}

Test(codec_sample, deterministic_and_complete)
{
    ProtobufCMessage *a = NULL, *b = NULL, *c = NULL;
    cr_assert_eq(crm_codec_message_sample(&crmtest__all_types__descriptor, 9, &a), 0);
    cr_assert_eq(crm_codec_message_sample(&crmtest__all_types__descriptor, 9, &b), 0);
    cr_assert_eq(crm_codec_message_sample(&crmtest__all_types__descriptor, 10, &c), 0);
    void *abuf, *bbuf, *cbuf;
    size_t alen, blen, clen;
    cr_assert_eq(crm_codec_pb_encode(a, &abuf, &alen), 0);
    cr_assert_eq(crm_codec_pb_encode(b, &bbuf, &blen), 0);
    cr_assert_eq(crm_codec_pb_encode(c, &cbuf, &clen), 0);
    cr_assert(alen == blen && memcmp(abuf, bbuf, alen) == 0);
    cr_assert(alen != clen || memcmp(abuf, cbuf, alen) != 0);
    free(abuf);
    free(bbuf);
    free(cbuf);

    /* Every repeated field has several elements, every singular message is set, one oneof member. */
    Crmtest__AllTypes *m = (Crmtest__AllTypes *) a;
    cr_assert_geq(m->n_rd, 2);
    cr_assert_geq(m->n_by_int, 2);
    cr_assert_eq(m->n_by_bool, 2);
    cr_assert_geq(m->n_inners, 2);
    cr_assert_not_null(m->inner);
    cr_assert_not_null(m->ts);
    cr_assert_neq(m->choice_case, CRMTEST__ALL_TYPES__CHOICE__NOT_SET);
    cr_assert_geq(m->ts->nanos, 0);
    cr_assert_lt(m->ts->nanos, 1000000000);
    crm_codec_message_free(&a);
    crm_codec_message_free(&b);
    crm_codec_message_free(&c);

    /* Across seeds, Value takes each kind and strings carry Chinese. */
    bool kinds[4] = { false, false, false, false };
    bool chinese = false;
    for (uint64_t seed = 1; seed <= 64; seed++) {
        ProtobufCMessage *v = NULL;
        cr_assert_eq(crm_codec_message_sample(&crm__v1__value__descriptor, seed, &v), 0);
        Crm__V1__Value *value = (Crm__V1__Value *) v;
        kinds[value->kind_case] = true;
        if (value->kind_case == CRM__V1__VALUE__KIND_STRING_VALUE && strstr(value->string_value, "\xe5"))
            chinese = true;
        crm_codec_message_free(&v);
    }
    cr_assert(kinds[1] && kinds[2] && kinds[3]);
    cr_assert(chinese);
}
