/* test_gateway_answer.c: problem+json bodies, the RPC status map, If-Match, ETags and media types. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <string.h>

#include "crm_error.h"
#include "crm_test.h"
#include "gateway_answer.h"

TestSuite(gateway_answer, .fini = crm_test_check_leaks);

static json_t *
s_parse(const gateway_answer_t *a)
{
    json_error_t err;
    json_t *doc = json_loadb(a->body, a->body_len, JSON_REJECT_DUPLICATES, &err);
    cr_assert_not_null(doc, "%s: %.*s", err.text, (int) a->body_len, a->body);
    return doc;
}

Test(gateway_answer, a_problem_has_the_rfc_9457_members)
{
    gateway_answer_t a = { 0 };
    cr_assert_eq(gateway_answer_problem(&a, GATEWAY_PROBLEM_CONFLICT, "email taken", "email",
                                        "01ARZ3NDEKTSV4RRFFQ69G5FAV"), 0);
    cr_assert_eq(a.status, 409);
    cr_assert_str_eq(a.content_type, "application/problem+json");
    cr_assert_not(a.authenticate);
    json_t *doc = s_parse(&a);
    cr_assert_str_eq(json_string_value(json_object_get(doc, "type")),
                     "https://crm.example/problems/conflict");
    cr_assert_str_eq(json_string_value(json_object_get(doc, "title")), "Conflict with another record");
    cr_assert_eq(json_integer_value(json_object_get(doc, "status")), 409);
    cr_assert_str_eq(json_string_value(json_object_get(doc, "detail")), "email taken");
    cr_assert_str_eq(json_string_value(json_object_get(doc, "field")), "email");
    cr_assert_str_eq(json_string_value(json_object_get(doc, "conflictId")), "01ARZ3NDEKTSV4RRFFQ69G5FAV");
    cr_assert_eq(json_object_size(doc), 6);
    json_decref(doc);
    gateway_answer_clear(&a);
    cr_assert_null(a.body);
    cr_assert_eq(a.status, 0);
}

Test(gateway_answer, optional_members_are_left_out_and_401_asks_for_a_bearer)
{
    gateway_answer_t a = { 0 };
    gateway_answer_problem(&a, GATEWAY_PROBLEM_UNAUTHORIZED, NULL, "", NULL);
    cr_assert_eq(a.status, 401);
    cr_assert(a.authenticate);
    json_t *doc = s_parse(&a);
    cr_assert_null(json_object_get(doc, "field"));
    cr_assert_null(json_object_get(doc, "conflictId"));
    cr_assert_str_eq(json_string_value(json_object_get(doc, "detail")), "An API key is required",
                     "the title stands in for a missing detail");
    json_decref(doc);
    gateway_answer_clear(&a);
}

Test(gateway_answer, text_that_is_not_utf8_is_replaced_not_sent)
{
    gateway_answer_t a = { 0 };
    gateway_answer_problem(&a, GATEWAY_PROBLEM_VALIDATION, "bad \xff\xfe byte", "f\xc3", NULL);
    json_t *doc = s_parse(&a);
    cr_assert_str_eq(json_string_value(json_object_get(doc, "detail")), "(not UTF-8)");
    cr_assert_str_eq(json_string_value(json_object_get(doc, "field")), "(not UTF-8)");
    json_decref(doc);
    gateway_answer_clear(&a);
}

Test(gateway_answer, every_problem_type_is_stable_and_distinct)
{
    for (size_t i = 0; i < GATEWAY_PROBLEM_COUNT; i++) {
        const gateway_problem_type_t *t = &gateway_problem_types[i];
        cr_assert(t->status >= 400 && t->status < 600);
        cr_assert(strlen(t->slug) > 0 && strlen(t->title) > 0);
        for (const char *c = t->slug; *c; c++)
            cr_assert((*c >= 'a' && *c <= 'z') || *c == '-', "slug %s", t->slug);
        for (size_t k = 0; k < i; k++)
            cr_assert_str_neq(t->slug, gateway_problem_types[k].slug);
        gateway_answer_t a = { 0 };
        gateway_answer_problem(&a, (gateway_problem_t) i, "d", NULL, NULL);
        cr_assert_eq(a.status, t->status);
        json_t *doc = s_parse(&a);
        char uri[128];
        snprintf(uri, sizeof uri, "https://crm.example/problems/%s", t->slug);
        cr_assert_str_eq(json_string_value(json_object_get(doc, "type")), uri);
        json_decref(doc);
        gateway_answer_clear(&a);
    }
    cr_assert_eq(gateway_problem_types[GATEWAY_PROBLEM_KEY_REUSE].status, 422);
    cr_assert_eq(gateway_problem_types[GATEWAY_PROBLEM_MEDIA_TYPE].status, 415);
    cr_assert_eq(gateway_problem_types[GATEWAY_PROBLEM_TOO_LARGE].status, 413);
}

Test(gateway_answer, rpc_statuses_map_to_http)
{
    static const struct {
        crm_rpc_status_t status;
        unsigned http;
    } map[] = {
        { CRM_RPC_INVALID, 400 }, { CRM_RPC_NOT_FOUND, 404 }, { CRM_RPC_CONFLICT, 409 },
        { CRM_RPC_PRECONDITION_FAILED, 412 }, { CRM_RPC_FORBIDDEN, 403 },
        { CRM_RPC_UNAVAILABLE, 503 }, { CRM_RPC_INTERNAL, 500 }, { CRM_RPC_TOO_LARGE, 413 },
        { CRM_RPC_UNKNOWN_METHOD, 501 }, { CRM_RPC_TIMEOUT, 504 }, { (crm_rpc_status_t) 77, 500 },
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        cr_assert_eq(gateway_problem_types[gateway_problem_from_rpc(map[i].status)].status, map[i].http,
                     "status %d", (int) map[i].status);
}

Test(gateway_answer, if_match_takes_one_strong_or_weak_tag_or_a_star)
{
    static const struct {
        const char *text;
        int rc;
        uint64_t version;
    } cases[] = {
        { "\"5\"", 0, 5 }, { "W/\"17\"", 0, 17 }, { "  \"3\"  ", 0, 3 }, { "*", 0, 0 },
        { " * ", 0, 0 }, { "\"18446744073709551615\"", 0, UINT64_MAX },
        { "5", CRM_EINVALID, 0 }, { "\"\"", CRM_EINVALID, 0 }, { "\"0\"", CRM_EINVALID, 0 },
        { "\"5\", \"6\"", CRM_EINVALID, 0 }, { "\"abc\"", CRM_EINVALID, 0 },
        { "\"5", CRM_EINVALID, 0 }, { "w/\"5\"", CRM_EINVALID, 0 }, { "\"-1\"", CRM_EINVALID, 0 },
        { "\"18446744073709551616\"", CRM_EINVALID, 0 }, { "", CRM_EINVALID, 0 },
        { "*, \"5\"", CRM_EINVALID, 0 }, { "\"5\"x", CRM_EINVALID, 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint64_t v = 99;
        int rc = gateway_if_match_parse(cases[i].text, &v);
        cr_assert_eq(rc, cases[i].rc, "[%s]", cases[i].text);
        if (rc == 0)
            cr_assert_eq(v, cases[i].version, "[%s]", cases[i].text);
    }
    char etag[GATEWAY_ETAG_MAX];
    gateway_etag_format(42, etag);
    cr_assert_str_eq(etag, "\"42\"");
    uint64_t back = 0;
    cr_assert_eq(gateway_if_match_parse(etag, &back), 0);
    cr_assert_eq(back, 42);
}

Test(gateway_answer, media_types_match_with_only_a_utf8_charset)
{
    cr_assert(gateway_media_type_is("application/json", "application/json"));
    cr_assert(gateway_media_type_is("Application/JSON", "application/json"));
    cr_assert(gateway_media_type_is("application/json; charset=utf-8", "application/json"));
    cr_assert(gateway_media_type_is("application/json;charset=\"UTF-8\"", "application/json"));
    cr_assert_not(gateway_media_type_is("application/json; charset=latin1", "application/json"));
    cr_assert_not(gateway_media_type_is("application/jsonx", "application/json"));
    cr_assert_not(gateway_media_type_is("application/json; boundary=x", "application/json"));
    cr_assert_not(gateway_media_type_is("text/plain", "application/json"));
    cr_assert_not(gateway_media_type_is(NULL, "application/json"));
    cr_assert_not(gateway_media_type_is("application/cloudevents+json", "application/json"));
}

Test(gateway_answer, json_and_text_answers)
{
    gateway_answer_t a = { 0 };
    json_t *doc = json_pack("{s:i}", "n", 1);
    cr_assert_eq(gateway_answer_json(&a, 201, doc), 0);
    json_decref(doc);
    cr_assert_eq(a.status, 201);
    cr_assert_str_eq(a.content_type, "application/json");
    cr_assert_eq(a.body_len, strlen("{\"n\":1}"));
    cr_assert_eq(memcmp(a.body, "{\"n\":1}", a.body_len), 0);
    cr_assert_eq(gateway_answer_text(&a, 200, "text/plain", "hi", 2), 0, "replaces the body");
    cr_assert_eq(a.body_len, 2);
    gateway_answer_clear(&a);
}
