/* test_gateway_keys.c: API keys against a temporary store: making, hashing, checking, listing, revoking. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crm_codec.h"
#include "gateway_fixture.h"
#include "gateway_keys.h"

static gateway_fixture_t fx;
static gateway_keys_t *keys;

static void
s_setup(void)
{
    memset(&fx, 0, sizeof fx);
    gateway_fixture_open(&fx);
    cr_assert_eq(gateway_keys_new(&fx.ctx, &keys), 0);
}

static void
s_teardown(void)
{
    gateway_keys_destroy(&keys);
    gateway_fixture_destroy(&fx);
    crm_test_check_leaks();
}

TestSuite(gateway_keys, .init = s_setup, .fini = s_teardown);

static void
s_make(const char *name, Crm__V1__Role role, char secret[GATEWAY_KEY_SECRET_SIZE], char id[CRM_ID_SIZE])
{
    Crm__V1__ApiKey *key = NULL;
    cr_assert_eq(gateway_keys_create(keys, name, role, "01ARZ3NDEKTSV4RRFFQ69G5FAV", NULL, false,
                                     secret, &key), 0);
    snprintf(id, CRM_ID_SIZE, "%s", key->id);
    crm_codec_message_free((ProtobufCMessage **) &key);
}

/* True when the bytes of needle appear anywhere in the file at path. */
static bool
s_file_contains(const char *path, const char *needle)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *data = malloc((size_t) size + 1);
    cr_assert_eq(fread(data, 1, (size_t) size, f), (size_t) size);
    fclose(f);
    bool found = memmem(data, (size_t) size, needle, strlen(needle)) != NULL;
    free(data);
    return found;
}

Test(gateway_keys, a_new_key_has_a_random_secret_and_works)
{
    char secret[GATEWAY_KEY_SECRET_SIZE];
    Crm__V1__ApiKey *key = NULL;
    cr_assert_eq(gateway_keys_create(keys, "shop sync", CRM__V1__ROLE__ROLE_INTEGRATOR,
                                     "01ARZ3NDEKTSV4RRFFQ69G5FAV", NULL, false, secret, &key), 0);
    cr_assert_eq(strlen(secret), 4 + 43);
    cr_assert_eq(strncmp(secret, "crm_", 4), 0);
    for (const char *c = secret + 4; *c; c++)
        cr_assert(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", *c),
                  "base64url only: %c", *c);
    cr_assert(crm_id_valid(key->id));
    cr_assert_str_eq(key->name, "shop sync");
    cr_assert_eq(key->role, CRM__V1__ROLE__ROLE_INTEGRATOR);
    cr_assert_eq(strncmp(key->prefix, secret, GATEWAY_KEY_SHOWN_PREFIX), 0);
    cr_assert_eq(strlen(key->prefix), GATEWAY_KEY_SHOWN_PREFIX);
    cr_assert_str_eq(key->created_by, "01ARZ3NDEKTSV4RRFFQ69G5FAV");
    cr_assert_not_null(key->created_at);
    cr_assert_null(key->revoked_at);

    gateway_caller_t caller = { 0 };
    cr_assert_eq(gateway_keys_authenticate(keys, secret, strlen(secret), &caller), 0);
    cr_assert_str_eq(caller.id, key->id);
    cr_assert_eq(caller.role, CRM__V1__ROLE__ROLE_INTEGRATOR);

    /* A near miss, a prefix and nothing are all unknown. */
    char wrong[GATEWAY_KEY_SECRET_SIZE];
    snprintf(wrong, sizeof wrong, "%s", secret);
    wrong[10] = wrong[10] == 'A' ? 'B' : 'A';
    cr_assert_eq(gateway_keys_authenticate(keys, wrong, strlen(wrong), &caller), CRM_ENOTFOUND);
    cr_assert_eq(gateway_keys_authenticate(keys, secret, strlen(secret) - 1, &caller), CRM_ENOTFOUND);
    cr_assert_eq(gateway_keys_authenticate(keys, secret, 0, &caller), CRM_ENOTFOUND);

    /* Two keys never share a secret. */
    char other[GATEWAY_KEY_SECRET_SIZE], other_id[CRM_ID_SIZE];
    s_make("other", CRM__V1__ROLE__ROLE_AGENT, other, other_id);
    cr_assert_str_neq(other, secret);
    crm_codec_message_free((ProtobufCMessage **) &key);
}

Test(gateway_keys, only_a_hash_of_the_secret_is_stored)
{
    char secret[GATEWAY_KEY_SECRET_SIZE], id[CRM_ID_SIZE];
    s_make("plain check", CRM__V1__ROLE__ROLE_ANALYST, secret, id);
    char path[CRM_TEST_PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/data.mdb", fx.dir);
    cr_assert(s_file_contains(path, id), "the record is there");
    cr_assert_not(s_file_contains(path, secret), "the secret is not");
    cr_assert_not(s_file_contains(path, secret + 4), "nor its random part");
}

Test(gateway_keys, keys_still_work_after_a_restart)
{
    char secret[GATEWAY_KEY_SECRET_SIZE], id[CRM_ID_SIZE];
    s_make("survivor", CRM__V1__ROLE__ROLE_AGENT, secret, id);
    gateway_keys_destroy(&keys);
    gateway_fixture_close(&fx);
    gateway_fixture_open(&fx);
    cr_assert_eq(gateway_keys_new(&fx.ctx, &keys), 0);
    gateway_caller_t caller;
    cr_assert_eq(gateway_keys_authenticate(keys, secret, strlen(secret), &caller), 0,
                 "the per-install hashing key is kept in the store");
    cr_assert_str_eq(caller.id, id);
}

Test(gateway_keys, a_revoked_key_is_refused_at_once)
{
    char admin[GATEWAY_KEY_SECRET_SIZE], admin_id[CRM_ID_SIZE];
    char agent[GATEWAY_KEY_SECRET_SIZE], agent_id[CRM_ID_SIZE];
    s_make("admin", CRM__V1__ROLE__ROLE_ADMIN, admin, admin_id);
    s_make("agent", CRM__V1__ROLE__ROLE_AGENT, agent, agent_id);
    uint64_t head = gateway_fixture_head(&fx);
    Crm__V1__ApiKey *key = NULL;
    cr_assert_eq(gateway_keys_revoke(keys, agent_id, admin_id, &key), 0);
    cr_assert_not_null(key->revoked_at);
    cr_assert_str_eq(key->id, agent_id);
    crm_codec_message_free((ProtobufCMessage **) &key);
    gateway_caller_t caller;
    cr_assert_eq(gateway_keys_authenticate(keys, agent, strlen(agent), &caller), CRM_ENOTFOUND);
    cr_assert_eq(gateway_keys_authenticate(keys, admin, strlen(admin), &caller), 0);

    /* The change is audited in the outbox. */
    cr_assert_eq(gateway_fixture_head(&fx), head + 1);
    char topic[64];
    Crm__V1__Event *event = gateway_fixture_event(&fx, head + 1, topic, sizeof topic);
    cr_assert_str_eq(topic, GATEWAY_KEY_TOPIC_REVOKED);
    cr_assert_str_eq(event->data_schema, "crm.v1.KeyChanged");
    Crm__V1__KeyChanged *changed = NULL;
    cr_assert_eq(crm_event_data(event, &crm__v1__key_changed__descriptor, (ProtobufCMessage **) &changed), 0);
    cr_assert_str_eq(changed->key->id, agent_id);
    cr_assert_str_eq(changed->actor_key_id, admin_id);
    cr_assert_not_null(changed->key->revoked_at);
    protobuf_c_message_free_unpacked(&changed->base, NULL);
    crm_event_destroy(&event);

    /* Revoking again changes nothing and says so quietly. */
    cr_assert_eq(gateway_keys_revoke(keys, agent_id, admin_id, NULL), 0);
    cr_assert_eq(gateway_fixture_head(&fx), head + 1);
    cr_assert_eq(gateway_keys_revoke(keys, "01ARZ3NDEKTSV4RRFFQ69G5FAV", admin_id, NULL), CRM_ENOTFOUND);
    cr_assert_eq(gateway_keys_revoke(keys, "not an id", admin_id, NULL), CRM_ENOTFOUND);
}

Test(gateway_keys, the_last_valid_admin_key_cannot_be_revoked)
{
    char a1[GATEWAY_KEY_SECRET_SIZE], a1_id[CRM_ID_SIZE], a2[GATEWAY_KEY_SECRET_SIZE], a2_id[CRM_ID_SIZE];
    s_make("admin one", CRM__V1__ROLE__ROLE_ADMIN, a1, a1_id);
    s_make("admin two", CRM__V1__ROLE__ROLE_ADMIN, a2, a2_id);
    uint64_t total = 0, admins = 0;
    cr_assert_eq(gateway_keys_count(keys, &total, &admins), 0);
    cr_assert_eq(total, 2);
    cr_assert_eq(admins, 2);
    cr_assert_eq(gateway_keys_revoke(keys, a1_id, a2_id, NULL), 0);
    cr_assert_eq(gateway_keys_revoke(keys, a2_id, a2_id, NULL), CRM_ECONFLICT);
    gateway_caller_t caller;
    cr_assert_eq(gateway_keys_authenticate(keys, a2, strlen(a2), &caller), 0);
    cr_assert_eq(gateway_keys_count(keys, &total, &admins), 0);
    cr_assert_eq(total, 2);
    cr_assert_eq(admins, 1);
}

Test(gateway_keys, listing_shows_every_key_oldest_first_and_never_a_secret)
{
    Crm__V1__ListKeysReply *list = NULL;
    cr_assert_eq(gateway_keys_list(keys, &list), 0);
    cr_assert_eq(list->n_keys, 0);
    crm_codec_message_free((ProtobufCMessage **) &list);
    char s[3][GATEWAY_KEY_SECRET_SIZE], ids[3][CRM_ID_SIZE];
    s_make("first", CRM__V1__ROLE__ROLE_ADMIN, s[0], ids[0]);
    s_make("second", CRM__V1__ROLE__ROLE_AGENT, s[1], ids[1]);
    s_make("third", CRM__V1__ROLE__ROLE_ANALYST, s[2], ids[2]);
    cr_assert_eq(gateway_keys_revoke(keys, ids[1], ids[0], NULL), 0);
    cr_assert_eq(gateway_keys_list(keys, &list), 0);
    cr_assert_eq(list->n_keys, 3);
    for (size_t i = 0; i < 3; i++)
        cr_assert_str_eq(list->keys[i]->id, ids[i]);
    cr_assert_null(list->keys[0]->revoked_at);
    cr_assert_not_null(list->keys[1]->revoked_at);
    char *json = NULL;
    cr_assert_eq(crm_codec_json_encode(&list->base, 0, &json, NULL, NULL), 0);
    for (size_t i = 0; i < 3; i++)
        cr_assert_null(strstr(json, s[i] + GATEWAY_KEY_SHOWN_PREFIX), "%s", json);
    free(json);
    crm_codec_message_free((ProtobufCMessage **) &list);
}

Test(gateway_keys, the_first_admin_key_is_made_once_from_a_chosen_secret)
{
    const char *chosen = "crm_test_admin_key_0123456789abcdefghijklmnop";
    char secret[GATEWAY_KEY_SECRET_SIZE];
    Crm__V1__ApiKey *key = NULL;
    cr_assert_eq(gateway_keys_create(keys, "first admin key", CRM__V1__ROLE__ROLE_ADMIN, "", chosen,
                                     true, secret, &key), 0);
    cr_assert_str_eq(secret, chosen);
    cr_assert_str_eq(key->created_by, "");
    crm_codec_message_free((ProtobufCMessage **) &key);
    gateway_caller_t caller;
    cr_assert_eq(gateway_keys_authenticate(keys, chosen, strlen(chosen), &caller), 0);
    cr_assert_eq(caller.role, CRM__V1__ROLE__ROLE_ADMIN);
    /* Never twice, and never the same secret for two keys. */
    cr_assert_eq(gateway_keys_create(keys, "again", CRM__V1__ROLE__ROLE_ADMIN, "", NULL, true,
                                     secret, NULL), CRM_EEXISTS);
    cr_assert_eq(gateway_keys_create(keys, "copy", CRM__V1__ROLE__ROLE_AGENT, "", chosen, false,
                                     secret, NULL), CRM_EEXISTS);
    cr_assert_str_eq(secret, "", "no secret is handed out on failure");
    uint64_t total = 0;
    cr_assert_eq(gateway_keys_count(keys, &total, NULL), 0);
    cr_assert_eq(total, 1);
    char topic[64];
    Crm__V1__Event *event = gateway_fixture_event(&fx, 1, topic, sizeof topic);
    cr_assert_str_eq(topic, GATEWAY_KEY_TOPIC_CREATED);
    cr_assert_str_eq(event->source, "/crm/gateway");
    crm_event_destroy(&event);
}

Test(gateway_keys, bad_names_roles_and_secrets_are_refused)
{
    char secret[GATEWAY_KEY_SECRET_SIZE];
    char long_name[GATEWAY_KEY_NAME_MAX + 2];
    memset(long_name, 'n', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    cr_assert_eq(gateway_keys_create(keys, "", CRM__V1__ROLE__ROLE_AGENT, "", NULL, false, secret, NULL), CRM_EINVALID);
    cr_assert_eq(gateway_keys_create(keys, long_name, CRM__V1__ROLE__ROLE_AGENT, "", NULL, false, secret, NULL), CRM_EINVALID);
    cr_assert_eq(gateway_keys_create(keys, "tab\there", CRM__V1__ROLE__ROLE_AGENT, "", NULL, false, secret, NULL), CRM_EINVALID);
    cr_assert_eq(gateway_keys_create(keys, "bad \xff", CRM__V1__ROLE__ROLE_AGENT, "", NULL, false, secret, NULL), CRM_EINVALID);
    cr_assert_eq(gateway_keys_create(keys, "ok", CRM__V1__ROLE__ROLE_UNSPECIFIED, "", NULL, false, secret, NULL), CRM_EINVALID);
    cr_assert_eq(gateway_keys_create(keys, "ok", (Crm__V1__Role) 9, "", NULL, false, secret, NULL), CRM_EINVALID);
    cr_assert_eq(gateway_keys_create(keys, "ok", CRM__V1__ROLE__ROLE_AGENT, "", "short", false, secret, NULL), CRM_EINVALID);
    cr_assert_eq(gateway_keys_create(keys, "名字 ok", CRM__V1__ROLE__ROLE_AGENT, "", NULL, false, secret, NULL), 0);

    cr_assert_not(gateway_keys_secret_acceptable(NULL));
    cr_assert_not(gateway_keys_secret_acceptable("0123456789012345678901234567890"));   /* 31 */
    cr_assert(gateway_keys_secret_acceptable("01234567890123456789012345678901"));      /* 32 */
    cr_assert_not(gateway_keys_secret_acceptable("0123456789012345 678901234567890123"));
    char longest[GATEWAY_KEY_SECRET_MAX + 2];
    memset(longest, 'k', sizeof longest - 1);
    longest[GATEWAY_KEY_SECRET_MAX] = '\0';
    cr_assert(gateway_keys_secret_acceptable(longest));
    longest[GATEWAY_KEY_SECRET_MAX] = 'k';
    longest[GATEWAY_KEY_SECRET_MAX + 1] = '\0';
    cr_assert_not(gateway_keys_secret_acceptable(longest));
}
