/* test_fuzz_regressions.c: inputs the fuzz targets (tests/fuzz/) found problems with, decoded as regular tests. */
#include <criterion/criterion.h>
#include <string.h>

#include "crm/v1/contacts.pb-c.h"
#include "crm_codec.h"
#include "crm_test.h"

TestSuite(fuzz_regressions, .fini = crm_test_check_leaks);

/* tests/fuzz/corpus/codec_msgpack/regress-empty-string-memchr-null: a Customer whose interests
 * hold one empty string. msgpack-c gives an empty str a NULL pointer, which the decoder passed
 * to memchr (undefined behaviour, caught by UBSan). */
Test(fuzz_regressions, an_empty_msgpack_string_in_a_repeated_field_decodes)
{
    static const unsigned char record[] = { 0x81, 0x09, 0x91, 0xa0 };   /* {9: [""]} */
    ProtobufCMessage *msg = NULL;
    crm_codec_error_t err;
    int rc = crm_codec_msgpack_decode(&crm__v1__customer__descriptor, record, sizeof record, &msg, &err);
    cr_assert_eq(rc, 0, "[%s] %s", err.path, err.message);
    const Crm__V1__Customer *c = (const Crm__V1__Customer *) msg;
    cr_assert_eq(c->n_interests, 1);
    cr_assert_str_eq(c->interests[0], "");
    crm_codec_message_free(&msg);
}

/* tests/fuzz/corpus/codec_msgpack/regress-empty-map-key-memchr-null: a Customer whose
 * custom_fields has the empty key; the key's NULL pointer went to memchr while building the
 * error path. */
Test(fuzz_regressions, an_empty_msgpack_map_key_decodes)
{
    static const unsigned char record[] = { 0x81, 0x0b, 0x81, 0xa0, 0x81, 0x01, 0xa1, 'x' };   /* {11: {"": {1: "x"}}} */
    ProtobufCMessage *msg = NULL;
    crm_codec_error_t err;
    int rc = crm_codec_msgpack_decode(&crm__v1__customer__descriptor, record, sizeof record, &msg, &err);
    cr_assert_eq(rc, 0, "[%s] %s", err.path, err.message);
    const Crm__V1__Customer *c = (const Crm__V1__Customer *) msg;
    cr_assert_eq(c->n_custom_fields, 1);
    cr_assert_str_eq(c->custom_fields[0]->key, "");
    cr_assert_str_eq(c->custom_fields[0]->value->string_value, "x");
    crm_codec_message_free(&msg);
}
