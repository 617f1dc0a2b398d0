/* test_openapi.c: the OpenAPI document names every route and nothing else, holds together, is served, and is the one kept in the tree. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crm_suite.h"
#include "gateway_openapi.h"
#include "gateway_routes.h"

#define KEPT_FILE CRM_SOURCE_DIR "/docs/openapi.json"
#define REF_PREFIX "#/components/schemas/"

static void s_fini(void)
{
    crm_test_check_leaks();
}

TestSuite(openapi, .fini = s_fini, .timeout = 120);

static json_t *s_build(void)
{
    json_t *doc = NULL;
    cr_assert_eq(gateway_openapi_build(&doc), 0);
    return doc;
}

static void s_lower(const char *method, char *out, size_t size)
{
    size_t n = 0;
    for (; method[n] && n + 1 < size; n++)
        out[n] = (char) (method[n] >= 'A' && method[n] <= 'Z' ? method[n] - 'A' + 'a' : method[n]);
    out[n] = '\0';
}

Test(openapi, every_route_is_described_and_every_operation_is_a_route)
{
    json_t *doc = s_build();
    json_t *paths = json_object_get(doc, "paths");
    size_t operations = 0, missing = 0;
    for (size_t i = 0; i < gateway_routes_count; i++) {
        char method[8];
        s_lower(gateway_routes[i].method, method, sizeof method);
        json_t *op = json_object_get(json_object_get(paths, gateway_routes[i].pattern), method);
        if (!op) {
            missing++;
            fprintf(stderr, "not described: %s %s\n", gateway_routes[i].method, gateway_routes[i].pattern);
        }
    }
    const char *path;
    json_t *item;
    json_object_foreach(paths, path, item) {
        const char *method;
        json_t *op;
        json_object_foreach(item, method, op) {
            operations++;
            const gateway_route_t *route = NULL;
            char upper[8];
            size_t n = 0;
            for (; method[n] && n + 1 < sizeof upper; n++)
                upper[n] = (char) (method[n] - 'a' + 'A');
            upper[n] = '\0';
            int found = 0;
            for (size_t i = 0; i < gateway_routes_count; i++)
                if (strcmp(gateway_routes[i].pattern, path) == 0 && strcmp(gateway_routes[i].method, upper) == 0)
                    found = 1, route = &gateway_routes[i];
            cr_expect(found, "%s %s is described but no route serves it", upper, path);
            /* Public routes need no key; the others name their roles. */
            if (route && (route->flags & GATEWAY_ROUTE_PUBLIC))
                cr_expect_eq(json_array_size(json_object_get(op, "security")), 0, "%s %s", upper, path);
            else if (route)
                cr_expect_gt(json_array_size(json_object_get(op, "x-roles")), 0, "%s %s", upper, path);
        }
    }
    cr_assert_eq(missing, 0);
    cr_assert_eq(operations, gateway_routes_count);
    json_decref(doc);
}

/* Walks value and checks every $ref names a schema; counts them. */
static void s_check_refs(json_t *value, json_t *schemas, size_t *refs, size_t *broken)
{
    if (json_is_object(value)) {
        const char *key;
        json_t *v;
        json_object_foreach(value, key, v) {
            if (strcmp(key, "$ref") == 0 && json_is_string(v)) {
                const char *ref = json_string_value(v);
                (*refs)++;
                if (strncmp(ref, REF_PREFIX, strlen(REF_PREFIX)) != 0
                    || !json_object_get(schemas, ref + strlen(REF_PREFIX))) {
                    (*broken)++;
                    fprintf(stderr, "unresolved $ref %s\n", ref);
                }
            } else {
                s_check_refs(v, schemas, refs, broken);
            }
        }
    } else if (json_is_array(value)) {
        size_t i;
        json_t *v;
        json_array_foreach(value, i, v)
            s_check_refs(v, schemas, refs, broken);
    }
}

Test(openapi, the_document_holds_together)
{
    json_t *doc = s_build();
    cr_assert_str_eq(json_string_value(json_object_get(doc, "openapi")), GATEWAY_OPENAPI_VERSION);
    cr_assert_not_null(json_object_get(json_object_get(doc, "info"), "title"));
    json_t *schemas = json_object_get(json_object_get(doc, "components"), "schemas");
    size_t refs = 0, broken = 0;
    s_check_refs(doc, schemas, &refs, &broken);
    cr_assert_gt(refs, 0);
    cr_assert_eq(broken, 0, "%zu of %zu $refs name no schema", broken, refs);

    /* Unique operation ids; every {param} of a path declared as a required path parameter; a
     * success answer and the problem answer on every operation. */
    json_t *ids = json_object();
    const char *path;
    json_t *item;
    json_object_foreach(json_object_get(doc, "paths"), path, item) {
        const char *method;
        json_t *op;
        json_object_foreach(item, method, op) {
            const char *id = json_string_value(json_object_get(op, "operationId"));
            cr_assert_not_null(id, "%s %s has no operationId", method, path);
            cr_expect_null(json_object_get(ids, id), "operationId %s twice", id);
            json_object_set_new(ids, id, json_true());
            for (const char *p = strchr(path, '{'); p; p = strchr(p + 1, '{')) {
                const char *end = strchr(p, '}');
                cr_assert_not_null(end);
                int declared = 0;
                size_t k;
                json_t *param;
                json_array_foreach(json_object_get(op, "parameters"), k, param) {
                    const char *name = json_string_value(json_object_get(param, "name"));
                    const char *in = json_string_value(json_object_get(param, "in"));
                    if (name && in && strcmp(in, "path") == 0 && strlen(name) == (size_t) (end - p - 1)
                        && strncmp(name, p + 1, (size_t) (end - p - 1)) == 0
                        && json_is_true(json_object_get(param, "required")))
                        declared = 1;
                }
                cr_expect(declared, "%s %s: {%.*s} is not a required path parameter", method, path,
                          (int) (end - p - 1), p + 1);
            }
            json_t *responses = json_object_get(op, "responses");
            cr_expect_not_null(json_object_get(responses, "default"), "%s %s: no error answer", method, path);
            cr_expect_eq(json_object_size(responses), 2, "%s %s: one success answer and the errors", method, path);
        }
    }
    json_decref(ids);
    json_decref(doc);
}

Test(openapi, the_document_kept_in_the_tree_is_current)
{
    char *text = NULL;
    cr_assert_eq(gateway_openapi_text(&text), 0);
    FILE *f = fopen(KEPT_FILE, "rb");
    cr_assert_not_null(f, "%s is missing; make it with: crm-gateway --openapi > docs/openapi.json", KEPT_FILE);
    static char kept[4 << 20];
    size_t len = fread(kept, 1, sizeof kept - 1, f);
    fclose(f);
    kept[len] = '\0';
    int same = strcmp(kept, text) == 0;
    free(text);
    cr_assert(same, "docs/openapi.json is out of date; remake it with: build/crm-gateway --openapi > docs/openapi.json");
}

Test(openapi, the_gateway_serves_it_without_a_key)
{
    crm_suite_t suite;
    crm_suite_init(&suite);
    crm_suite_start(&suite, CRM_SVC_GATEWAY);
    crm_http_response_t r;
    crm_suite_http(&suite, "GET", "/v1/openapi.json", NULL, NULL, NULL, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert(strstr(r.content_type, "application/json"), "%s", r.content_type);
    json_t *served = crm_http_json(&r);
    json_t *doc = s_build();
    cr_assert(json_equal(served, doc), "the served document is the built one");
    json_decref(served);
    json_decref(doc);
    crm_http_response_clear(&r);
    crm_suite_destroy(&suite);
}
