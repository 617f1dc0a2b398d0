/* test_crm_codec_json.c: the JSON side of crm_codec: every message type round-trips, exact text, input forms, errors, fuzz. */
#include <criterion/criterion.h>

#include "crm_test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "crm_all_messages.h"
#include "crm_codec.h"
#include "crm_error.h"
#include "crmtest/codec_test.pb-c.h"
#include "crmtest/codec_test2.pb-c.h"


TestSuite(codec_json, .fini = crm_test_check_leaks);

#define SEEDS_PER_TYPE 24
#define FUZZ_ITERATIONS 3000
#define FUZZ_SEED 20261123u

/* Test-only schemas, on top of every contract message. */
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
pack(const ProtobufCMessage *msg, void **buf, size_t *len)
{
    cr_assert_eq(crm_codec_pb_encode(msg, buf, len), 0);
}

/* Asserts that two messages pack to the same protobuf bytes. */
static void
assert_same(const ProtobufCMessage *a, const ProtobufCMessage *b, const char *what)
{
    void *abuf, *bbuf;
    size_t alen, blen;
    pack(a, &abuf, &alen);
    pack(b, &bbuf, &blen);
    cr_assert(alen == blen && memcmp(abuf, bbuf, alen) == 0, "%s: %s differs after the round trip",
              what, a->descriptor->name);
    free(abuf);
    free(bbuf);
}

/* Encodes msg as JSON text, decodes it, and checks the protobuf bytes are unchanged. */
static void
json_round_trip(const ProtobufCMessage *msg, unsigned flags)
{
    crm_codec_error_t err;
    char *text = NULL;
    size_t len = 0;
    int rc = crm_codec_json_encode(msg, flags, &text, &len, &err);
    cr_assert_eq(rc, 0, "encode %s: %s at %s", msg->descriptor->name, err.message, err.path);
    cr_assert_eq(strlen(text), len);
    ProtobufCMessage *back = NULL;
    rc = crm_codec_json_decode(msg->descriptor, text, len, &back, &err);
    cr_assert_eq(rc, 0, "decode %s: %s at '%s' in %s", msg->descriptor->name, err.message, err.path, text);
    assert_same(msg, back, text);

    /* Encoding the decoded message gives the same text. */
    char *again = NULL;
    cr_assert_eq(crm_codec_json_encode(back, flags, &again, NULL, &err), 0);
    cr_assert_str_eq(again, text);
    free(again);
    free(text);
    crm_codec_message_free(&back);
    cr_assert_null(back);
}

Test(codec_json, every_message_type_round_trips)
{
    cr_assert_gt(CRM_ALL_MESSAGES_COUNT, 20, "the generated list looks too short");
    for (size_t i = 0; i < CRM_ALL_MESSAGES_COUNT + EXTRA_COUNT; i++) {
        const ProtobufCMessageDescriptor *desc = descriptor_at(i);
        ProtobufCMessage *empty = NULL;
        cr_assert_eq(crm_codec_message_new(desc, &empty), 0);
        json_round_trip(empty, 0);
        json_round_trip(empty, CRM_CODEC_EMIT_DEFAULTS);
        crm_codec_message_free(&empty);

        for (uint64_t seed = 1; seed <= SEEDS_PER_TYPE; seed++) {
            ProtobufCMessage *msg = NULL;
            cr_assert_eq(crm_codec_message_sample(desc, seed * 7919 + i, &msg), 0);
            json_round_trip(msg, seed % 2 ? 0 : CRM_CODEC_EMIT_DEFAULTS);
            crm_codec_message_free(&msg);
        }
    }
}

Test(codec_json, json_t_round_trip_without_text)
{
    ProtobufCMessage *msg = NULL;
    cr_assert_eq(crm_codec_message_sample(&crm__v1__customer__descriptor, 42, &msg), 0);
    json_t *json = NULL;
    crm_codec_error_t err;
    cr_assert_eq(crm_codec_json_from_message(msg, 0, &json, &err), 0);
    cr_assert(json_is_object(json));
    ProtobufCMessage *back = NULL;
    cr_assert_eq(crm_codec_json_to_message(&crm__v1__customer__descriptor, json, &back, &err), 0,
                 "%s at %s", err.message, err.path);
    assert_same(msg, back, "json_t");
    json_decref(json);
    crm_codec_message_free(&msg);
    crm_codec_message_free(&back);
}

/* A hand-made customer whose JSON text is known exactly. */
static Crm__V1__Customer *
make_customer(void)
{
    Crm__V1__Customer *c = malloc(sizeof *c);
    crm__v1__customer__init(c);
    c->id = strdup("c-1");
    c->name = strdup("张伟");
    c->email = strdup("zw@example.com");
    c->address = malloc(sizeof *c->address);
    crm__v1__address__init(c->address);
    c->address->city = strdup("上海");
    c->address->postal_code = strdup("200000");
    c->address->country = strdup("CN");
    c->n_tags = 2;
    c->tags = malloc(2 * sizeof *c->tags);
    c->tags[0] = strdup("vip");
    c->tags[1] = strdup("wine \"lover\"");

    static const struct {
        const char *key;
        int kind;
        const char *s;
        double d;
    } fields[] = {
        { "tier", 1, "gold", 0 }, { "score", 2, NULL, 9.5 }, { "visits", 2, NULL, 12 }, { "vip", 3, NULL, 1 },
    };
    c->n_custom_fields = 4;
    c->custom_fields = malloc(4 * sizeof *c->custom_fields);
    for (size_t i = 0; i < 4; i++) {
        Crm__V1__Customer__CustomFieldsEntry *e = malloc(sizeof *e);
        crm__v1__customer__custom_fields_entry__init(e);
        e->key = strdup(fields[i].key);
        e->value = malloc(sizeof *e->value);
        crm__v1__value__init(e->value);
        if (fields[i].kind == 1) {
            e->value->kind_case = CRM__V1__VALUE__KIND_STRING_VALUE;
            e->value->string_value = strdup(fields[i].s);
        } else if (fields[i].kind == 2) {
            e->value->kind_case = CRM__V1__VALUE__KIND_NUMBER_VALUE;
            e->value->number_value = fields[i].d;
        } else {
            e->value->kind_case = CRM__V1__VALUE__KIND_BOOL_VALUE;
            e->value->bool_value = 1;
        }
        c->custom_fields[i] = e;
    }
    c->consent = malloc(sizeof *c->consent);
    crm__v1__consent__init(c->consent);
    c->consent->email = CRM__V1__CONSENT_STATE__CONSENT_STATE_GRANTED;
    c->value_tier = CRM__V1__VALUE_TIER__VALUE_TIER_HIGH;
    c->need_type = CRM__V1__NEED_TYPE__NEED_TYPE_PRICE_SENSITIVE;
    c->lifecycle_stage = CRM__V1__LIFECYCLE_STAGE__LIFECYCLE_STAGE_AT_RISK;
    c->created_at = malloc(sizeof *c->created_at);
    crm__v1__timestamp__init(c->created_at);
    c->created_at->seconds = 1795428000;        /* 2026-11-23T10:00:00Z */
    c->updated_at = malloc(sizeof *c->updated_at);
    crm__v1__timestamp__init(c->updated_at);
    c->updated_at->seconds = 1795428000;
    c->updated_at->nanos = 250000000;
    c->version = UINT64_MAX;
    c->purchase_count = 3;
    return c;
}

static const char customer_json[] =
    "{\"id\":\"c-1\",\"name\":\"张伟\",\"email\":\"zw@example.com\","
    "\"address\":{\"city\":\"上海\",\"postalCode\":\"200000\",\"country\":\"CN\"},"
    "\"tags\":[\"vip\",\"wine \\\"lover\\\"\"],"
    "\"customFields\":{\"tier\":\"gold\",\"score\":9.5,\"visits\":12,\"vip\":true},"
    "\"consent\":{\"email\":\"granted\"},"
    "\"valueTier\":\"high\",\"needType\":\"price_sensitive\",\"lifecycleStage\":\"at_risk\","
    "\"createdAt\":\"2026-11-23T10:00:00Z\",\"updatedAt\":\"2026-11-23T10:00:00.250Z\","
    "\"version\":\"18446744073709551615\",\"purchaseCount\":3}";

Test(codec_json, customer_exact_text)
{
    Crm__V1__Customer *c = make_customer();
    char *text = NULL;
    crm_codec_error_t err;
    cr_assert_eq(crm_codec_json_encode(&c->base, 0, &text, NULL, &err), 0, "%s", err.message);
    cr_assert_str_eq(text, customer_json);
    free(text);

    ProtobufCMessage *back = NULL;
    cr_assert_eq(crm_codec_json_decode(&crm__v1__customer__descriptor, customer_json,
                                       strlen(customer_json), &back, &err), 0, "%s", err.message);
    assert_same(&c->base, back, "customer");
    Crm__V1__Customer *b = (Crm__V1__Customer *) back;
    cr_assert_str_eq(b->address->city, "上海");
    cr_assert_eq(b->version, UINT64_MAX);
    cr_assert_eq(b->custom_fields[1]->value->number_value, 9.5);
    crm_codec_message_free(&back);
    crm__v1__customer__free_unpacked(c, NULL);
}

Test(codec_json, emit_defaults_shows_every_proto3_field)
{
    ProtobufCMessage *empty = NULL;
    cr_assert_eq(crm_codec_message_new(&crm__v1__customer__descriptor, &empty), 0);
    char *text = NULL;
    cr_assert_eq(crm_codec_json_encode(empty, 0, &text, NULL, NULL), 0);
    cr_assert_str_eq(text, "{}");
    free(text);
    cr_assert_eq(crm_codec_json_encode(empty, CRM_CODEC_EMIT_DEFAULTS, &text, NULL, NULL), 0);
    cr_assert_str_eq(text,
                     "{\"id\":\"\",\"externalIds\":[],\"name\":\"\",\"email\":\"\",\"phone\":\"\","
                     "\"birthday\":\"\",\"occupation\":\"\",\"interests\":[],\"tags\":[],"
                     "\"customFields\":{},\"owner\":\"\",\"valueTier\":\"unspecified\","
                     "\"needType\":\"unspecified\",\"lifecycleStage\":\"unspecified\",\"locale\":\"\","
                     "\"version\":\"0\",\"purchaseCount\":0}");
    free(text);
    crm_codec_message_free(&empty);

    /* Status has no UNSPECIFIED: its zero is STATUS_OK. */
    ProtobufCMessage *reply = NULL;
    cr_assert_eq(crm_codec_message_new(&crm__v1__reply__descriptor, &reply), 0);
    cr_assert_eq(crm_codec_json_encode(reply, CRM_CODEC_EMIT_DEFAULTS, &text, NULL, NULL), 0);
    cr_assert_str_eq(text, "{\"id\":\"\",\"status\":\"ok\",\"error\":\"\",\"field\":\"\",\"body\":\"\","
                           "\"conflictId\":\"\"}");
    free(text);
    crm_codec_message_free(&reply);
}

/* Decodes text as desc and returns the message (asserting success). */
static ProtobufCMessage *
decode_ok(const ProtobufCMessageDescriptor *desc, const char *text)
{
    ProtobufCMessage *msg = NULL;
    crm_codec_error_t err;
    int rc = crm_codec_json_decode(desc, text, strlen(text), &msg, &err);
    cr_assert_eq(rc, 0, "%s: %s at '%s'", text, err.message, err.path);
    return msg;
}

Test(codec_json, accepted_input_forms)
{
    ProtobufCMessage *msg = decode_ok(
        &crm__v1__customer__descriptor,
        "{\"external_ids\":[{\"system\":\"shop\",\"id\":\"42\"}],\"value_tier\":\"HIGH\","
        "\"needType\":\"Quality-Seeking\",\"lifecycleStage\":4,\"version\":\"12\",\"purchaseCount\":7.0,"
        "\"created_at\":\"2026-11-23T18:00:00.5+08:00\",\"updatedAt\":null,\"name\":null,"
        "\"consent\":{\"sms\":\"CONSENT_STATE_WITHDRAWN\"},\"customFields\":{\"n\":-3,\"e\":1e3}}");
    Crm__V1__Customer *c = (Crm__V1__Customer *) msg;
    cr_assert_eq(c->n_external_ids, 1);
    cr_assert_str_eq(c->external_ids[0]->system, "shop");
    cr_assert_eq(c->value_tier, CRM__V1__VALUE_TIER__VALUE_TIER_HIGH);
    cr_assert_eq(c->need_type, CRM__V1__NEED_TYPE__NEED_TYPE_QUALITY_SEEKING);
    cr_assert_eq(c->lifecycle_stage, CRM__V1__LIFECYCLE_STAGE__LIFECYCLE_STAGE_LOYAL);
    cr_assert_eq(c->version, 12);
    cr_assert_eq(c->purchase_count, 7);
    cr_assert_eq(c->created_at->seconds, 1795428000);
    cr_assert_eq(c->created_at->nanos, 500000000);
    cr_assert_null(c->updated_at);
    cr_assert_str_eq(c->name, "");
    cr_assert_eq(c->consent->sms, CRM__V1__CONSENT_STATE__CONSENT_STATE_WITHDRAWN);
    cr_assert_eq(c->custom_fields[0]->value->number_value, -3);
    cr_assert_eq(c->custom_fields[1]->value->number_value, 1000);
    crm_codec_message_free(&msg);

    /* 64-bit integers as numbers, bytes as URL-safe base64 without padding. */
    msg = decode_ok(&crm__v1__request__descriptor,
                    "{\"deadlineUnixUs\":-9223372036854775808,\"body\":\"-_8\"}");
    Crm__V1__Request *r = (Crm__V1__Request *) msg;
    cr_assert_eq(r->deadline_unix_us, INT64_MIN);
    cr_assert_eq(r->body.len, 2);
    cr_assert_eq(r->body.data[0], 0xfb);
    cr_assert_eq(r->body.data[1], 0xff);
    char *text = NULL;
    cr_assert_eq(crm_codec_json_encode(msg, 0, &text, NULL, NULL), 0);
    cr_assert_str_eq(text, "{\"deadlineUnixUs\":\"-9223372036854775808\",\"body\":\"+/8=\"}");
    free(text);
    crm_codec_message_free(&msg);

    /* Nested enum short names, and Status names. */
    msg = decode_ok(&crm__v1__ingest_result__descriptor, "{\"outcome\":\"duplicate\"}");
    cr_assert_eq(((Crm__V1__IngestResult *) msg)->outcome, CRM__V1__INGEST_RESULT__OUTCOME__OUTCOME_DUPLICATE);
    crm_codec_message_free(&msg);
    msg = decode_ok(&crm__v1__reply__descriptor, "{\"status\":\"not_found\"}");
    cr_assert_eq(((Crm__V1__Reply *) msg)->status, CRM__V1__STATUS__STATUS_NOT_FOUND);
    cr_assert_eq(crm_codec_json_encode(msg, 0, &text, NULL, NULL), 0);
    cr_assert_str_eq(text, "{\"status\":\"not_found\"}");
    free(text);
    crm_codec_message_free(&msg);
}

Test(codec_json, every_scalar_type_written_as_proto3_json)
{
    Crmtest__AllTypes m = CRMTEST__ALL_TYPES__INIT;
    m.d = NAN;
    m.f = -INFINITY;
    m.i32 = INT32_MIN;
    m.i64 = INT64_MAX;
    m.u32 = UINT32_MAX;
    m.u64 = 1;
    m.s32 = -1;
    m.fx64 = 2;
    m.b = 1;
    uint8_t bytes[] = { 0, 1, 2, 0xff };
    m.by.data = bytes;
    m.by.len = sizeof bytes;
    m.shade = CRMTEST__SHADE__SHADE_LIGHT_GREY;
    double rd[] = { 0.5, INFINITY, -2 };
    m.n_rd = 3;
    m.rd = rd;
    m.choice_case = CRMTEST__ALL_TYPES__CHOICE_O_F;
    m.o_f = 0;      /* a set oneof member is written even at zero */
    m.far_away = 7;
    char *text = NULL;
    crm_codec_error_t err;
    cr_assert_eq(crm_codec_json_encode(&m.base, 0, &text, NULL, &err), 0, "%s", err.message);
    cr_assert_str_eq(text,
                     "{\"d\":\"NaN\",\"f\":\"-Infinity\",\"i32\":-2147483648,\"i64\":\"9223372036854775807\","
                     "\"u32\":4294967295,\"u64\":\"1\",\"s32\":-1,\"fx64\":\"2\",\"b\":true,"
                     "\"by\":\"AAEC/w==\",\"shade\":\"light_grey\",\"rd\":[0.5,\"Infinity\",-2],"
                     "\"oF\":0,\"farAway\":7}");
    ProtobufCMessage *back = decode_ok(&crmtest__all_types__descriptor, text);
    Crmtest__AllTypes *a = (Crmtest__AllTypes *) back;
    cr_assert(isnan(a->d));
    cr_assert(isinf(a->f) && a->f < 0);
    cr_assert_eq(a->choice_case, CRMTEST__ALL_TYPES__CHOICE_O_F);
    assert_same(&m.base, back, "all types");
    crm_codec_message_free(&back);
    free(text);
}

/* Decodes text as desc and asserts the error code, path and message. */
static void
decode_fails(const ProtobufCMessageDescriptor *desc, const char *text, int code, const char *path,
             const char *message)
{
    ProtobufCMessage *msg = NULL;
    crm_codec_error_t err;
    int rc = crm_codec_json_decode(desc, text, strlen(text), &msg, &err);
    cr_assert_eq(rc, code, "%s: got %d (%s at '%s')", text, rc, err.message, err.path);
    cr_assert_null(msg);
    cr_assert_str_eq(err.path, path, "%s: path '%s'", text, err.path);
    cr_assert(strstr(err.message, message), "%s: message '%s', wanted '%s'", text, err.message, message);
}

Test(codec_json, errors_name_the_field)
{
    const ProtobufCMessageDescriptor *customer = &crm__v1__customer__descriptor;
    decode_fails(customer, "{\"nmae\":\"x\"}", CRM_EINVALID, "nmae", "unknown field");
    decode_fails(customer, "{\"address\":{\"town\":\"x\"}}", CRM_EINVALID, "address.town", "unknown field");
    decode_fails(customer, "{\"name\":5}", CRM_EINVALID, "name", "expected a string");
    decode_fails(customer, "{\"tags\":\"vip\"}", CRM_EINVALID, "tags", "expected an array");
    decode_fails(customer, "{\"tags\":[\"a\",null]}", CRM_EINVALID, "tags[1]", "null is not allowed");
    decode_fails(customer, "{\"tags\":[\"a\",7]}", CRM_EINVALID, "tags[1]", "expected a string");
    decode_fails(customer, "{\"address\":\"Shanghai\"}", CRM_EINVALID, "address", "expected an object");
    decode_fails(customer, "{\"purchaseCount\":\"many\"}", CRM_EINVALID, "purchaseCount", "expected an integer");
    decode_fails(customer, "{\"purchaseCount\":1.5}", CRM_EINVALID, "purchaseCount", "expected an integer");
    decode_fails(customer, "{\"purchaseCount\":4294967296}", CRM_EINVALID, "purchaseCount",
                 "value out of range for uint32");
    decode_fails(customer, "{\"purchaseCount\":-1}", CRM_EINVALID, "purchaseCount",
                 "value out of range for uint32");
    decode_fails(customer, "{\"version\":\"18446744073709551616\"}", CRM_EINVALID, "version",
                 "value out of range for uint64");
    decode_fails(customer, "{\"version\":1e20}", CRM_EINVALID, "version", "value out of range for uint64");
    decode_fails(customer, "{\"valueTier\":\"gold\"}", CRM_EINVALID, "valueTier", "unknown enum value \"gold\"");
    decode_fails(customer, "{\"valueTier\":9}", CRM_EINVALID, "valueTier", "unknown enum value 9");
    decode_fails(customer, "{\"valueTier\":true}", CRM_EINVALID, "valueTier", "expected an enum");
    decode_fails(customer, "{\"createdAt\":\"2026-02-30T00:00:00Z\"}", CRM_EINVALID, "createdAt",
                 "not a valid RFC 3339 time");
    decode_fails(customer, "{\"createdAt\":\"yesterday\"}", CRM_EINVALID, "createdAt",
                 "not a valid RFC 3339 time");
    decode_fails(customer, "{\"createdAt\":1795428000}", CRM_EINVALID, "createdAt", "RFC 3339");
    decode_fails(customer, "{\"customFields\":{\"vip\":[true]}}", CRM_EINVALID, "customFields.vip",
                 "expected a string, number or boolean");
    decode_fails(customer, "{\"customFields\":{\"vip\":null}}", CRM_EINVALID, "customFields.vip",
                 "expected a string, number or boolean");
    decode_fails(customer, "{\"customFields\":[]}", CRM_EINVALID, "customFields", "expected an object");
    decode_fails(customer, "{\"address\":{\"postalCode\":\"1\",\"postal_code\":\"2\"}}", CRM_EINVALID,
                 "address.postalCode", "field given twice");
    decode_fails(customer, "{\"name\":\"a\",\"name\":\"b\"}", CRM_EINVALID, "", "duplicate key");
    decode_fails(customer, "{\"name\":\"\xff\"}", CRM_EINVALID, "", "invalid UTF-8");
    decode_fails(customer, "{\"name\":\"a\\u0000b\"}", CRM_EINVALID, "", "invalid JSON");
    decode_fails(customer, "[]", CRM_EINVALID, "", "expected an object");
    decode_fails(customer, "", CRM_EINVALID, "", "invalid JSON");
    decode_fails(customer, "{\"name\":\"x\"} {}", CRM_EINVALID, "", "invalid JSON");
    decode_fails(&crm__v1__purchase__descriptor, "{\"items\":[{\"sku\":\"a\"},{\"sku\":1}]}", CRM_EINVALID,
                 "items[1].sku", "expected a string");
    decode_fails(&crm__v1__purchase__descriptor, "{\"items\":[{\"quantity\":-2}]}", CRM_EINVALID,
                 "items[0].quantity", "value out of range for uint32");
    decode_fails(&crm__v1__event__descriptor, "{\"data\":\"a*==\"}", CRM_EINVALID, "data", "not valid base64");
    decode_fails(&crm__v1__event__descriptor, "{\"extensions\":{\"a\":1}}", CRM_EINVALID, "extensions.a",
                 "expected a string");

    const ProtobufCMessageDescriptor *all = &crmtest__all_types__descriptor;
    decode_fails(all, "{\"i32\":2147483648}", CRM_EINVALID, "i32", "value out of range for int32");
    decode_fails(all, "{\"s32\":\"-2147483649\"}", CRM_EINVALID, "s32", "value out of range for sint32");
    decode_fails(all, "{\"i64\":\"9223372036854775808\"}", CRM_EINVALID, "i64", "value out of range for int64");
    decode_fails(all, "{\"u64\":\"-1\"}", CRM_EINVALID, "u64", "expected an integer");
    decode_fails(all, "{\"f\":1e39}", CRM_EINVALID, "f", "value out of range for float");
    decode_fails(all, "{\"d\":\"nan\"}", CRM_EINVALID, "d", "expected a number");
    decode_fails(all, "{\"b\":\"true\"}", CRM_EINVALID, "b", "expected a boolean");
    decode_fails(all, "{\"byInt\":{\"x\":\"a\"}}", CRM_EINVALID, "byInt.x", "expected an integer");
    decode_fails(all, "{\"byBool\":{\"yes\":\"AA==\"}}", CRM_EINVALID, "byBool.yes", "\"true\" or \"false\"");
    decode_fails(all, "{\"oF\":1,\"oS\":\"x\"}", CRM_EINVALID, "oS", "another member of the same oneof");
    decode_fails(all, "{\"inners\":[{\"attrs\":{\"k\":{}}}]}", CRM_EINVALID, "inners[0].attrs.k",
                 "expected a string, number or boolean");
    decode_fails(&crm__v1__value__descriptor, "{\"stringValue\":\"a\",\"boolValue\":true}", CRM_EINVALID,
                 "boolValue", "another member of the same oneof");
}

Test(codec_json, oneof_null_member_does_not_count)
{
    ProtobufCMessage *msg = decode_ok(&crmtest__all_types__descriptor, "{\"oF\":null,\"oS\":\"x\"}");
    Crmtest__AllTypes *a = (Crmtest__AllTypes *) msg;
    cr_assert_eq(a->choice_case, CRMTEST__ALL_TYPES__CHOICE_O_S);
    cr_assert_str_eq(a->o_s, "x");
    crm_codec_message_free(&msg);

    /* An empty string in a oneof is still the chosen member. */
    msg = decode_ok(&crmtest__all_types__descriptor, "{\"oS\":\"\"}");
    char *text = NULL;
    cr_assert_eq(crm_codec_json_encode(msg, 0, &text, NULL, NULL), 0);
    cr_assert_str_eq(text, "{\"oS\":\"\"}");
    free(text);
    crm_codec_message_free(&msg);
}

/* Builds a chain of `levels` nested Deep messages, generically through the descriptors. */
static ProtobufCMessage *
make_deep(int levels)
{
    ProtobufCMessage *top = NULL;
    cr_assert_eq(crm_codec_message_new(&crmtest__deep1__descriptor, &top), 0);
    ProtobufCMessage *at = top;
    for (int level = 2; level <= levels; level++) {
        const ProtobufCFieldDescriptor *next = crm_codec_field_by_json_name(at->descriptor, "next");
        cr_assert_not_null(next);
        ProtobufCMessage *sub = NULL;
        cr_assert_eq(crm_codec_message_new(next->descriptor, &sub), 0);
        *(ProtobufCMessage **) ((char *) at + next->offset) = sub;
        at = sub;
    }
    return top;
}

Test(codec_json, depth_limit)
{
    /* 32 levels is fine both ways; 33 is too deep both ways. */
    ProtobufCMessage *ok = make_deep(CRM_CODEC_MAX_DEPTH);
    json_round_trip(ok, 0);
    crm_codec_message_free(&ok);

    ProtobufCMessage *deep = make_deep(CRM_CODEC_MAX_DEPTH + 1);
    char *text = NULL;
    crm_codec_error_t err;
    cr_assert_eq(crm_codec_json_encode(deep, 0, &text, NULL, &err), CRM_ETOOBIG);
    cr_assert_null(text);
    cr_assert(strstr(err.message, "deeper"));
    crm_codec_message_free(&deep);

    char doc[1024] = "";
    for (int i = 0; i < CRM_CODEC_MAX_DEPTH; i++)
        strcat(doc, "{\"next\":");
    strcat(doc, "{\"level\":1}");
    for (int i = 0; i < CRM_CODEC_MAX_DEPTH; i++)
        strcat(doc, "}");
    ProtobufCMessage *msg = NULL;
    cr_assert_eq(crm_codec_json_decode(&crmtest__deep1__descriptor, doc, strlen(doc), &msg, &err), CRM_ETOOBIG);
    cr_assert_null(msg);
    cr_assert(strncmp(err.path, "next.next.next", 14) == 0, "path %s", err.path);

    /* Deep JSON where the schema has none is rejected before any conversion. */
    strcpy(doc, "{\"customFields\":{\"a\":");
    for (int i = 0; i < 40; i++)
        strcat(doc, "[");
    for (int i = 0; i < 40; i++)
        strcat(doc, "]");
    strcat(doc, "}}");
    cr_assert_eq(crm_codec_json_decode(&crm__v1__customer__descriptor, doc, strlen(doc), &msg, &err),
                 CRM_ETOOBIG);
    cr_assert(strncmp(err.path, "customFields.a[0][0]", 20) == 0, "path %s", err.path);
}

Test(codec_json, encoding_checks_the_message)
{
    Crm__V1__Customer c = CRM__V1__CUSTOMER__INIT;
    char bad[] = "bad \xc3\x28 text";
    c.name = bad;
    char *text = NULL;
    crm_codec_error_t err;
    cr_assert_eq(crm_codec_json_encode(&c.base, 0, &text, NULL, &err), CRM_EINVALID);
    cr_assert_str_eq(err.path, "name");
    cr_assert_str_eq(err.message, "invalid UTF-8");
    cr_assert_null(text);

    /* A Value number that JSON cannot hold, and a time out of range. */
    Crm__V1__Value v = CRM__V1__VALUE__INIT;
    v.kind_case = CRM__V1__VALUE__KIND_NUMBER_VALUE;
    v.number_value = NAN;
    Crm__V1__Customer__CustomFieldsEntry e = CRM__V1__CUSTOMER__CUSTOM_FIELDS_ENTRY__INIT;
    char key[] = "score";
    e.key = key;
    e.value = &v;
    Crm__V1__Customer__CustomFieldsEntry *entries[] = { &e };
    Crm__V1__Customer d = CRM__V1__CUSTOMER__INIT;
    d.n_custom_fields = 1;
    d.custom_fields = entries;
    cr_assert_eq(crm_codec_json_encode(&d.base, 0, &text, NULL, &err), CRM_EINVALID);
    cr_assert_str_eq(err.path, "customFields.score.numberValue");
    cr_assert_str_eq(err.message, "number is not finite");

    Crm__V1__Timestamp ts = CRM__V1__TIMESTAMP__INIT;
    ts.seconds = 253402300800;      /* year 10000 */
    Crm__V1__Customer t = CRM__V1__CUSTOMER__INIT;
    t.created_at = &ts;
    cr_assert_eq(crm_codec_json_encode(&t.base, 0, &text, NULL, &err), CRM_EINVALID);
    cr_assert_str_eq(err.path, "createdAt");
    ts.seconds = 0;
    ts.nanos = 1000000000;
    cr_assert_eq(crm_codec_json_encode(&t.base, 0, &text, NULL, &err), CRM_EINVALID);
    cr_assert_str_eq(err.path, "createdAt");
}

Test(codec_json, invalid_utf8_in_a_json_tree)
{
    json_t *json = json_object();
    json_object_set_new(json, "name", json_stringn_nocheck("\xed\xa0\x80", 3));   /* a surrogate */
    ProtobufCMessage *msg = NULL;
    crm_codec_error_t err;
    cr_assert_eq(crm_codec_json_to_message(&crm__v1__customer__descriptor, json, &msg, &err), CRM_EINVALID);
    cr_assert_str_eq(err.path, "name");
    cr_assert_str_eq(err.message, "invalid UTF-8");
    cr_assert_null(msg);
    json_decref(json);
}

/* The one outcome a decoder may have on any input: success (then the message is whole and
 * re-encodes) or a clean error. */
static void
decode_anything(const ProtobufCMessageDescriptor *desc, const char *text, size_t len)
{
    ProtobufCMessage *msg = NULL;
    crm_codec_error_t err;
    int rc = crm_codec_json_decode(desc, text, len, &msg, &err);
    cr_assert(rc == 0 || rc == CRM_EINVALID || rc == CRM_ETOOBIG, "rc %d", rc);
    if (rc == 0) {
        char *again = NULL;
        int erc = crm_codec_json_encode(msg, 0, &again, NULL, &err);
        cr_assert(erc == 0 || erc == CRM_EINVALID, "re-encode rc %d", erc);
        free(again);
        crm_codec_message_free(&msg);
    } else {
        cr_assert_null(msg);
        cr_assert(err.message[0] != '\0');
    }
}

Test(codec_json, truncated_and_mutated_input_never_crashes)
{
    static const ProtobufCMessageDescriptor *const targets[] = {
        &crm__v1__customer__descriptor, &crm__v1__purchase__descriptor, &crm__v1__event__descriptor,
        &crmtest__all_types__descriptor, &crmtest2__legacy__descriptor,
    };
    uint64_t state = FUZZ_SEED;
    for (size_t t = 0; t < sizeof targets / sizeof targets[0]; t++) {
        ProtobufCMessage *msg = NULL;
        cr_assert_eq(crm_codec_message_sample(targets[t], t + 1, &msg), 0);
        char *text = NULL;
        size_t len = 0;
        cr_assert_eq(crm_codec_json_encode(msg, 0, &text, &len, NULL), 0);
        crm_codec_message_free(&msg);

        for (size_t cut = 0; cut < len; cut++)
            decode_anything(targets[t], text, cut);

        char *copy = malloc(len);
        for (int i = 0; i < FUZZ_ITERATIONS / 5; i++) {
            memcpy(copy, text, len);
            int flips = 1 + (int) (state % 4);
            for (int k = 0; k < flips; k++) {
                state = state * 6364136223846793005ull + 1442695040888963407ull;
                static const char interesting[] = "{}[]\":,0123456789-.eE\\ntfu\x80\xff";
                char c = (state >> 40) & 1 ? (char) (state >> 48)
                                           : interesting[(state >> 48) % (sizeof interesting - 1)];
                copy[(state >> 16) % len] = c;
            }
            decode_anything(targets[t], copy, len);
        }
        free(copy);
        free(text);
    }
}
