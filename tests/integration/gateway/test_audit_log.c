/* test_audit_log.c: sensitive operations are logged in a hash chain that admins read and verify, each published; a changed line is found. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crm/v1/gateway.pb-c.h"
#include "crm_codec.h"
#include "crm_event.h"
#include "crm_store.h"
#include "crm_suite.h"

#define ADMIN CRM_SUITE_ADMIN_KEY

static crm_suite_t suite;

static void s_setup(void)
{
    crm_suite_init(&suite);
    crm_suite_start(&suite, CRM_SVC_CONTACTS);
    crm_suite_start(&suite, CRM_SVC_GATEWAY);
}

static void s_teardown(void)
{
    crm_suite_destroy(&suite);
    crm_test_check_leaks();
}

TestSuite(audit_log, .init = s_setup, .fini = s_teardown, .timeout = 90);

static json_t *s_call(const char *method, const char *path, const char *key, const char *body, long status)
{
    return crm_suite_call(&suite, method, path, key, body, status);
}

static char *s_customer(const char *name, const char *email)
{
    char body[256];
    snprintf(body, sizeof body, "{\"name\":\"%s\",\"email\":\"%s\"}", name, email);
    json_t *c = s_call("POST", "/v1/contacts", ADMIN, body, 201);
    json_t *inner = json_object_get(c, "customer");
    char *id = strdup(json_string_value(json_object_get(inner ? inner : c, "id")));
    json_decref(c);
    return id;
}

Test(audit_log, sensitive_operations_are_chained_listed_verified_and_published)
{
    char *a = s_customer("Wang Fang", "wang.fang@example.com");
    char *b = s_customer("Wang F.", "wf@example.com");
    char path[160], body[160];
    snprintf(path, sizeof path, "/v1/contacts/%s/merge", a);
    snprintf(body, sizeof body, "{\"mergedId\":\"%s\"}", b);
    json_decref(s_call("POST", path, ADMIN, body, 200));
    json_t *key = s_call("POST", "/v1/keys", ADMIN, "{\"name\":\"shop\",\"role\":\"integrator\"}", 201);
    json_t *listed = json_object_get(key, "key");
    char key_path[96];
    snprintf(key_path, sizeof key_path, "/v1/keys/%s", json_string_value(json_object_get(listed, "id")));
    json_decref(key);
    json_decref(s_call("DELETE", key_path, ADMIN, NULL, 204));
    /* Not sensitive, or refused: not logged. */
    json_decref(s_call("GET", "/v1/contacts", ADMIN, NULL, 200));
    json_decref(s_call("DELETE", "/v1/keys/01J0000000000000000000000Z", ADMIN, NULL, 404));

    json_t *log = s_call("GET", "/v1/audit", ADMIN, NULL, 200);
    json_t *entries = json_object_get(log, "entries");
    cr_assert_eq(json_array_size(entries), 3, "%s", json_dumps(log, 0));
    static const char *const expected[] = { "keys.revoke", "keys.create", "contacts.MergeCustomers" };
    for (size_t i = 0; i < 3; i++) {
        json_t *e = json_array_get(entries, i);
        cr_assert_str_eq(json_string_value(json_object_get(e, "operation")), expected[i]);
        cr_assert_str_eq(json_string_value(json_object_get(e, "role")), "admin");
        cr_assert_eq(json_string_length(json_object_get(e, "hash")), 44, "32 bytes in base64");
    }
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(entries, 2), "path")), path);
    json_decref(log);
    json_t *verdict = s_call("GET", "/v1/audit/verify", ADMIN, NULL, 200);
    cr_assert(json_is_true(json_object_get(verdict, "intact")), "%s", json_dumps(verdict, 0));
    cr_assert_str_eq(json_string_value(json_object_get(verdict, "entries")), "3");
    json_decref(verdict);

    /* Each line is published for the notifier. */
    Crm__V1__Event *events[8] = { 0 };
    size_t n = crm_suite_events(&suite, CRM_SVC_GATEWAY, "crm.audit.operation.v1", events, 8);
    cr_assert_eq(n, 3);
    for (size_t i = 0; i < n; i++)
        crm_event_destroy(&events[i]);

    crm_http_response_t r;
    crm_suite_http(&suite, "GET", "/v1/audit", NULL, NULL, NULL, &r);
    cr_assert_eq(r.status, 401, "only admins read it");
    crm_http_response_clear(&r);
    free(a);
    free(b);
}

typedef struct {
    crm_db_t db;
    void *packed;
    size_t len;
} s_put_t;

/* Writes the rewritten second line. */
static int s_put_body(crm_txn_t *t, void *arg)
{
    s_put_t *p = arg;
    unsigned char k[8] = { 0, 0, 0, 0, 0, 0, 0, 2 };
    return crm_store_put(t, p->db, k, sizeof k, p->packed, p->len, 0);
}

Test(audit_log, a_line_changed_in_the_store_is_found)
{
    json_decref(s_call("POST", "/v1/keys", ADMIN, "{\"name\":\"one\",\"role\":\"agent\"}", 201));
    json_decref(s_call("POST", "/v1/keys", ADMIN, "{\"name\":\"two\",\"role\":\"agent\"}", 201));
    json_decref(s_call("POST", "/v1/keys", ADMIN, "{\"name\":\"three\",\"role\":\"agent\"}", 201));
    cr_assert_eq(crm_suite_stop(&suite, CRM_SVC_GATEWAY, SIGTERM), 0);

    /* Someone with the disk rewrites the second line to hide who did it. */
    char dir[CRM_TEST_PATH_MAX + 16];
    snprintf(dir, sizeof dir, "%s/gateway", suite.dir);
    crm_store_t *store = NULL;
    crm_db_t db;
    cr_assert_eq(crm_store_open(dir, NULL, &store), 0);
    cr_assert_eq(crm_store_db(store, "audit_log", &db), 0);
    crm_txn_t *txn = NULL;
    cr_assert_eq(crm_store_read_begin(store, &txn), 0);
    unsigned char k[8] = { 0, 0, 0, 0, 0, 0, 0, 2 };
    crm_val_t v;
    cr_assert_eq(crm_store_get(txn, db, k, sizeof k, &v), 0);
    Crm__V1__AuditEntry *e = NULL;
    cr_assert_eq(crm_codec_msgpack_decode(&crm__v1__audit_entry__descriptor, v.data, v.size,
                                          (ProtobufCMessage **) &e, NULL), 0);
    crm_store_txn_end(&txn);
    free(e->key_id);
    e->key_id = strdup("01J0000000000000000000000Z");
    void *packed = NULL;
    size_t len = 0;
    cr_assert_eq(crm_codec_msgpack_encode(&e->base, &packed, &len), 0);
    crm_codec_message_free((ProtobufCMessage **) &e);
    s_put_t put = { db, packed, len };
    cr_assert_eq(crm_store_write(store, s_put_body, &put), 0);
    free(packed);
    crm_store_destroy(&store);

    crm_suite_start(&suite, CRM_SVC_GATEWAY);
    json_t *verdict = s_call("GET", "/v1/audit/verify", ADMIN, NULL, 200);
    cr_assert(!json_is_true(json_object_get(verdict, "intact")), "%s", json_dumps(verdict, 0));
    cr_assert_str_eq(json_string_value(json_object_get(verdict, "firstBadSeq")), "2");
    json_decref(verdict);
}
