/* test_contacts_customers.c: create, get, update, delete, versions, uniqueness and validation of customers through the request handlers. */
#include "contacts_fixture.h"

#include "crm/v1/contacts.pb-c.h"
#include "crm_time.h"

TestSuite(customers, .init = fx_setup, .fini = fx_teardown, .timeout = 30);

/* Number of customers in the store. */
static uint64_t
s_customer_count(void)
{
    crm_txn_t *txn = NULL;
    uint64_t n = 0;
    cr_assert_eq(crm_store_read_begin(fx.store, &txn), 0);
    cr_assert_eq(crm_store_count(txn, contacts_db(fx.contacts)->customers, &n), 0);
    crm_store_txn_end(&txn);
    return n;
}

Test(customers, create_assigns_id_version_times_and_stage)
{
    int64_t before = crm_time_now_us();
    char id[CRM_ID_SIZE];
    cr_assert_eq(fx_create("{\"name\":\"Ada Lovelace\",\"email\":\"Ada@Example.com\","
                           "\"phone\":\"+44 (20) 7946-0958\",\"tags\":[\"vip\",\"vip\",\"b2b\"],"
                           "\"address\":{\"city\":\"London\",\"country\":\"gb\"},"
                           "\"customFields\":{\"shoeSize\":42.5,\"newsletter\":true},"
                           "\"id\":\"ignored\",\"version\":\"77\",\"purchaseCount\":9}", id),
                 CRM_RPC_OK);
    cr_assert(crm_id_valid(id));
    Crm__V1__Customer *c = fx_get(id);
    cr_assert_not_null(c);
    cr_assert_str_eq(c->id, id);
    cr_assert_eq(c->version, 1);
    cr_assert_eq(c->purchase_count, 0);
    cr_assert_null(c->last_purchase_at);
    cr_assert_eq(c->lifecycle_stage, CRM__V1__LIFECYCLE_STAGE__LIFECYCLE_STAGE_PROSPECT);
    cr_assert_not_null(c->created_at);
    cr_assert_geq(contacts_ts_us(c->created_at), before);
    cr_assert_eq(contacts_ts_us(c->created_at), contacts_ts_us(c->updated_at));
    cr_assert_str_eq(c->email, "Ada@Example.com");
    cr_assert_str_eq(c->phone, "+442079460958", "phone normalised");
    cr_assert_str_eq(c->address->country, "GB");
    cr_assert_eq(c->n_tags, 2, "repeated tag dropped");
    cr_assert_eq(c->n_custom_fields, 2);

    Crm__V1__CustomerCreated *ev = (Crm__V1__CustomerCreated *)
        fx_last_event(CONTACTS_EVENT_CUSTOMER_CREATED, &crm__v1__customer_created__descriptor, id);
    cr_assert_str_eq(ev->customer->id, id);
    cr_assert_str_eq(ev->customer->name, "Ada Lovelace");
    cr_assert_eq(ev->customer->version, 1);
    fx_free(&ev);
    cr_assert_eq(fx_head(), 1);
    fx_free(&c);
}

Test(customers, create_keeps_a_risk_stage_and_refuses_an_earned_one)
{
    const char *id = fx_create_ok("{\"name\":\"A\",\"lifecycleStage\":\"churned\"}");
    Crm__V1__Customer *c = fx_get(id);
    cr_assert_eq(c->lifecycle_stage, CRM__V1__LIFECYCLE_STAGE__LIFECYCLE_STAGE_CHURNED);
    fx_free(&c);
    cr_assert_eq(fx_create("{\"name\":\"B\",\"lifecycleStage\":\"loyal\"}", NULL), CRM_RPC_INVALID);
    cr_assert_str_eq(fx.err.field, "lifecycleStage");
}

/* Every bad input names its field and changes nothing. */
Test(customers, validation_names_the_field_and_changes_nothing)
{
    static const struct {
        const char *json;
        const char *field;
    } cases[] = {
        { "{}", "name" },
        { "{\"name\":\"   \"}", "name" },
        { "{\"name\":\"A\",\"email\":\"not-an-email\"}", "email" },
        { "{\"name\":\"A\",\"email\":\"a@b\"}", "email" },
        { "{\"name\":\"A\",\"email\":\"a..b@example.com\"}", "email" },
        { "{\"name\":\"A\",\"email\":\"a@-example.com\"}", "email" },
        { "{\"name\":\"A\",\"phone\":\"12345\"}", "phone" },
        { "{\"name\":\"A\",\"phone\":\"030 1234567\"}", "phone" },
        { "{\"name\":\"A\",\"phone\":\"+49 30 12a4567\"}", "phone" },
        { "{\"name\":\"A\",\"phone\":\"+1234567890123456\"}", "phone" },
        { "{\"name\":\"A\",\"birthday\":\"2023-02-29\"}", "birthday" },
        { "{\"name\":\"A\",\"birthday\":\"1990-13-01\"}", "birthday" },
        { "{\"name\":\"A\",\"birthday\":\"1990-1-01\"}", "birthday" },
        { "{\"name\":\"A\",\"birthday\":\"2999-01-01\"}", "birthday" },
        { "{\"name\":\"A\",\"address\":{\"country\":\"Germany\"}}", "address.country" },
        { "{\"name\":\"A\",\"locale\":\"e\"}", "locale" },
        { "{\"name\":\"A\",\"tags\":[\"ok\",\"\"]}", "tags[1]" },
        { "{\"name\":\"A\",\"externalIds\":[{\"system\":\"shop\"}]}", "externalIds[0].id" },
        { "{\"name\":\"A\",\"externalIds\":[{\"id\":\"9\"}]}", "externalIds[0].system" },
        { "{\"name\":\"A\",\"customFields\":{\"bad name\":1}}", "customFields.bad name" },
        { "{\"name\":\"A\",\"occupation\":\"line\\nbreak\"}", "occupation" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cr_assert_eq(fx_create(cases[i].json, NULL), CRM_RPC_INVALID, "%s", cases[i].json);
        cr_assert_str_eq(fx.err.field, cases[i].field, "%s: field %s, %s", cases[i].json, fx.err.field,
                         fx.err.message);
        cr_assert_neq(fx.err.message[0], '\0');
    }
    /* Limits: a name one byte too long, one tag too many. */
    char json[CONTACTS_NAME_MAX + 64];
    snprintf(json, sizeof json, "{\"name\":\"%0*d\"}", CONTACTS_NAME_MAX + 1, 0);
    cr_assert_eq(fx_create(json, NULL), CRM_RPC_INVALID);
    cr_assert_str_eq(fx.err.field, "name");
    snprintf(json, sizeof json, "{\"name\":\"%0*d\"}", CONTACTS_NAME_MAX, 0);
    cr_assert_eq(fx_create(json, NULL), CRM_RPC_OK, "exactly the limit is fine");
    char tags[CONTACTS_TAGS_MAX * 8 + 64];
    size_t len = (size_t) snprintf(tags, sizeof tags, "{\"name\":\"A\",\"tags\":[");
    for (int i = 0; i <= CONTACTS_TAGS_MAX; i++)
        len += (size_t) snprintf(tags + len, sizeof tags - len, "%s\"t%d\"", i ? "," : "", i);
    snprintf(tags + len, sizeof tags - len, "]}");
    cr_assert_eq(fx_create(tags, NULL), CRM_RPC_INVALID);
    cr_assert_str_eq(fx.err.field, "tags");
    cr_assert_eq(s_customer_count(), 1, "only the valid customer is stored");
    cr_assert_eq(fx_head(), 1, "only its event is raised");
}

Test(customers, get_missing_and_malformed_ids)
{
    Crm__V1__GetCustomerRequest req = CRM__V1__GET_CUSTOMER_REQUEST__INIT;
    req.id = (char *) "01ARZ3NDEKTSV4RRFFQ69G5FAV";
    cr_assert_eq(fx_call(CONTACTS_METHOD_GET_CUSTOMER, &req.base, NULL, NULL), CRM_RPC_NOT_FOUND);
    cr_assert_str_eq(fx.err.field, "id");
    req.id = (char *) "not an id";
    cr_assert_eq(fx_call(CONTACTS_METHOD_GET_CUSTOMER, &req.base, NULL, NULL), CRM_RPC_NOT_FOUND);
    req.id = (char *) "";
    cr_assert_eq(fx_call(CONTACTS_METHOD_GET_CUSTOMER, &req.base, NULL, NULL), CRM_RPC_INVALID);
    cr_assert_str_eq(fx.err.field, "id");
}

Test(customers, update_changes_only_the_masked_fields)
{
    const char *id = fx_create_ok("{\"name\":\"Bo\",\"email\":\"bo@example.com\",\"occupation\":\"baker\","
                                  "\"tags\":[\"a\"]}");
    Crm__V1__Customer *c = NULL;
    cr_assert_eq(fx_update(id, "{\"email\":\"bo@new.example\",\"tags\":[\"b\",\"c\"],"
                               "\"name\":\"not in the mask\",\"occupation\":\"cook\"}",
                           "email,tags", 1, &c), CRM_RPC_OK, "%s", fx.err.message);
    cr_assert_eq(c->version, 2);
    cr_assert_str_eq(c->email, "bo@new.example");
    cr_assert_eq(c->n_tags, 2);
    cr_assert_str_eq(c->tags[0], "b");
    cr_assert_str_eq(c->name, "Bo");
    cr_assert_str_eq(c->occupation, "baker");
    cr_assert_geq(contacts_ts_us(c->updated_at), contacts_ts_us(c->created_at));
    Crm__V1__CustomerUpdated *ev = (Crm__V1__CustomerUpdated *)
        fx_last_event(CONTACTS_EVENT_CUSTOMER_UPDATED, &crm__v1__customer_updated__descriptor, id);
    cr_assert_eq(ev->n_changed_fields, 2);
    cr_assert_str_eq(ev->changed_fields[0], "email");
    cr_assert_str_eq(ev->changed_fields[1], "tags");
    cr_assert_eq(ev->previous_stage, CRM__V1__LIFECYCLE_STAGE__LIFECYCLE_STAGE_PROSPECT);
    cr_assert_eq(ev->customer->version, 2);
    fx_free(&ev);
    fx_free(&c);
    /* A masked field absent from the patch is cleared. */
    cr_assert_eq(fx_update(id, "{}", "occupation", 0, &c), CRM_RPC_OK);
    cr_assert_str_eq(c->occupation, "");
    cr_assert_eq(c->version, 3);
    fx_free(&c);
    /* The old email is free again; the new one is taken. */
    cr_assert_eq(fx_create("{\"name\":\"X\",\"email\":\"BO@example.com\"}", NULL), CRM_RPC_OK);
    cr_assert_eq(fx_create("{\"name\":\"Y\",\"email\":\"Bo@New.Example\"}", NULL), CRM_RPC_CONFLICT);
    cr_assert_str_eq(fx.err.conflict_id, id);
}

Test(customers, update_nested_paths)
{
    const char *id = fx_create_ok("{\"name\":\"N\",\"address\":{\"city\":\"Paris\",\"country\":\"FR\"},"
                                  "\"customFields\":{\"vip\":true,\"size\":\"M\"},"
                                  "\"consent\":{\"email\":\"granted\"}}");
    Crm__V1__Customer *c = NULL;
    cr_assert_eq(fx_update(id, "{\"address\":{\"city\":\"Lyon\",\"line1\":\"ignored\"},"
                               "\"customFields\":{\"size\":\"L\"},\"consent\":{\"sms\":\"withdrawn\"}}",
                           "address.city,customFields.size,customFields.vip,consent.sms", 0, &c),
                 CRM_RPC_OK, "%s: %s", fx.err.field, fx.err.message);
    cr_assert_str_eq(c->address->city, "Lyon");
    cr_assert_str_eq(c->address->country, "FR");
    cr_assert_str_eq(c->address->line1, "");
    cr_assert_eq(c->n_custom_fields, 1, "vip removed");
    cr_assert_str_eq(c->custom_fields[0]->key, "size");
    cr_assert_str_eq(c->custom_fields[0]->value->string_value, "L");
    cr_assert_eq(c->consent->email, CRM__V1__CONSENT_STATE__CONSENT_STATE_GRANTED);
    cr_assert_eq(c->consent->sms, CRM__V1__CONSENT_STATE__CONSENT_STATE_WITHDRAWN);
    fx_free(&c);
}

Test(customers, update_mask_refuses_unknown_and_read_only_fields)
{
    const char *id = fx_create_ok("{\"name\":\"M\"}");
    static const struct {
        const char *mask;
        const char *field;
    } cases[] = {
        { "nickname", "nickname" },
        { "version", "version" },
        { "id", "id" },
        { "createdAt", "createdAt" },
        { "purchaseCount", "purchaseCount" },
        { "lastPurchaseAt", "lastPurchaseAt" },
        { "value_tier", "value_tier" },
        { "address.street", "address.street" },
        { "name.first", "name.first" },
        { "customFields.", "customFields." },
    };
    uint64_t head = fx_head();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cr_assert_eq(fx_update(id, "{\"name\":\"Z\"}", cases[i].mask, 0, NULL), CRM_RPC_INVALID, "%s",
                     cases[i].mask);
        cr_assert_str_eq(fx.err.field, cases[i].field);
    }
    /* The whole update fails when one path is bad. */
    cr_assert_eq(fx_update(id, "{\"name\":\"Z\"}", "name,version", 0, NULL), CRM_RPC_INVALID);
    Crm__V1__Customer *c = fx_get(id);
    cr_assert_str_eq(c->name, "M");
    cr_assert_eq(c->version, 1);
    fx_free(&c);
    cr_assert_eq(fx_head(), head);
    /* Clearing the required name is refused too. */
    cr_assert_eq(fx_update(id, "{}", "name", 0, NULL), CRM_RPC_INVALID);
    cr_assert_str_eq(fx.err.field, "name");
    /* An invalid value after the mask names its field. */
    cr_assert_eq(fx_update(id, "{\"phone\":\"123\"}", "phone", 0, NULL), CRM_RPC_INVALID);
    cr_assert_str_eq(fx.err.field, "phone");
}

Test(customers, stale_version_is_refused)
{
    const char *id = fx_create_ok("{\"name\":\"V\"}");
    cr_assert_eq(fx_update(id, "{\"owner\":\"ann\"}", "owner", 1, NULL), CRM_RPC_OK);
    uint64_t head = fx_head();
    cr_assert_eq(fx_update(id, "{\"owner\":\"bob\"}", "owner", 1, NULL), CRM_RPC_PRECONDITION_FAILED);
    cr_assert_str_eq(fx.err.field, "ifMatchVersion");
    Crm__V1__Customer *c = fx_get(id);
    cr_assert_str_eq(c->owner, "ann");
    cr_assert_eq(c->version, 2);
    fx_free(&c);
    cr_assert_eq(fx_head(), head);
    cr_assert_eq(fx_update(id, "{\"owner\":\"bob\"}", "owner", 2, NULL), CRM_RPC_OK);
}

Test(customers, update_with_no_change_keeps_the_version)
{
    const char *id = fx_create_ok("{\"name\":\"Same\",\"phone\":\"+4930123456\"}");
    uint64_t head = fx_head();
    Crm__V1__Customer *c = NULL;
    cr_assert_eq(fx_update(id, "{\"name\":\"Same\",\"phone\":\"+49 30 123456\"}", "name,phone", 1, &c),
                 CRM_RPC_OK);
    cr_assert_eq(c->version, 1);
    cr_assert_eq(fx_head(), head, "no event");
    fx_free(&c);
}

Test(customers, lifecycle_stage_in_the_mask)
{
    const char *id = fx_create_ok("{\"name\":\"S\"}");
    Crm__V1__Customer *c = NULL;
    cr_assert_eq(fx_update(id, "{\"lifecycleStage\":\"at_risk\"}", "lifecycleStage", 0, &c), CRM_RPC_OK);
    cr_assert_eq(c->lifecycle_stage, CRM__V1__LIFECYCLE_STAGE__LIFECYCLE_STAGE_AT_RISK);
    fx_free(&c);
    Crm__V1__CustomerUpdated *ev = (Crm__V1__CustomerUpdated *)
        fx_last_event(CONTACTS_EVENT_CUSTOMER_UPDATED, &crm__v1__customer_updated__descriptor, id);
    cr_assert_eq(ev->previous_stage, CRM__V1__LIFECYCLE_STAGE__LIFECYCLE_STAGE_PROSPECT);
    cr_assert_eq(ev->customer->lifecycle_stage, CRM__V1__LIFECYCLE_STAGE__LIFECYCLE_STAGE_AT_RISK);
    fx_free(&ev);
    cr_assert_eq(fx_update(id, "{\"lifecycleStage\":\"loyal\"}", "lifecycleStage", 0, NULL), CRM_RPC_INVALID);
    cr_assert_str_eq(fx.err.field, "lifecycleStage");
    cr_assert_eq(fx_update(id, "{}", "lifecycleStage", 0, &c), CRM_RPC_OK);
    cr_assert_eq(c->lifecycle_stage, CRM__V1__LIFECYCLE_STAGE__LIFECYCLE_STAGE_PROSPECT, "back to earned");
    fx_free(&c);
}

Test(customers, delete_removes_record_indexes_and_history)
{
    const char *id = fx_create_ok("{\"name\":\"Del\",\"email\":\"del@example.com\",\"phone\":\"+15551234567\","
                                  "\"externalIds\":[{\"system\":\"shop\",\"id\":\"42\"}],\"tags\":[\"t\"]}");
    Crm__V1__LogInteractionRequest li = CRM__V1__LOG_INTERACTION_REQUEST__INIT;
    li.customer_id = (char *) id;
    li.interaction = (Crm__V1__Interaction *) fx_json(&crm__v1__interaction__descriptor,
                                                      "{\"channel\":\"phone\",\"summary\":\"hi\"}");
    cr_assert_eq(fx_call(CONTACTS_METHOD_LOG_INTERACTION, &li.base, NULL, NULL), CRM_RPC_OK);
    fx_free(&li.interaction);
    Crm__V1__RecordPurchaseRequest rp = CRM__V1__RECORD_PURCHASE_REQUEST__INIT;
    rp.customer_id = (char *) id;
    rp.purchase = (Crm__V1__Purchase *) fx_json(&crm__v1__purchase__descriptor,
                                                "{\"orderId\":\"o-1\",\"amountMinor\":\"100\",\"currency\":\"EUR\"}");
    cr_assert_eq(fx_call(CONTACTS_METHOD_RECORD_PURCHASE, &rp.base, NULL, NULL), CRM_RPC_OK);

    Crm__V1__DeleteCustomerRequest del = CRM__V1__DELETE_CUSTOMER_REQUEST__INIT;
    del.id = (char *) id;
    del.if_match_version = 1;
    cr_assert_eq(fx_call(CONTACTS_METHOD_DELETE_CUSTOMER, &del.base, NULL, NULL), CRM_RPC_PRECONDITION_FAILED,
                 "the purchase bumped the version");
    del.if_match_version = 2;
    Crm__V1__DeleteCustomerReply *reply = NULL;
    cr_assert_eq(fx_call(CONTACTS_METHOD_DELETE_CUSTOMER, &del.base, &crm__v1__delete_customer_reply__descriptor,
                         (ProtobufCMessage **) &reply), CRM_RPC_OK);
    cr_assert_str_eq(reply->id, id);
    fx_free(&reply);
    Crm__V1__CustomerDeleted *ev = (Crm__V1__CustomerDeleted *)
        fx_last_event(CONTACTS_EVENT_CUSTOMER_DELETED, &crm__v1__customer_deleted__descriptor, id);
    cr_assert_str_eq(ev->customer_id, id);
    fx_free(&ev);
    cr_assert_null(fx_get(id));
    cr_assert_eq(fx_call(CONTACTS_METHOD_DELETE_CUSTOMER, &del.base, NULL, NULL), CRM_RPC_NOT_FOUND);

    /* Every database is empty again: records, unique and search indexes, history. */
    const contacts_db_t *db = contacts_db(fx.contacts);
    crm_db_t dbs[] = { db->customers, db->unique, db->index, db->interactions, db->purchases, db->purchase_refs };
    crm_txn_t *txn = NULL;
    cr_assert_eq(crm_store_read_begin(fx.store, &txn), 0);
    for (size_t i = 0; i < sizeof dbs / sizeof dbs[0]; i++) {
        uint64_t n = 99;
        cr_assert_eq(crm_store_count(txn, dbs[i], &n), 0);
        cr_assert_eq(n, 0, "database %zu holds %llu entries", i, (unsigned long long) n);
    }
    crm_store_txn_end(&txn);
    /* The unique values and the order id are free again. */
    const char *again = fx_create_ok("{\"name\":\"Del2\",\"email\":\"DEL@example.com\",\"phone\":\"+1 555 123 4567\","
                                     "\"externalIds\":[{\"system\":\"shop\",\"id\":\"42\"}]}");
    rp.customer_id = (char *) again;
    cr_assert_eq(fx_call(CONTACTS_METHOD_RECORD_PURCHASE, &rp.base, NULL, NULL), CRM_RPC_OK);
    fx_free(&rp.purchase);
}

Test(customers, every_unique_value_clash_names_the_other_customer)
{
    const char *first = fx_create_ok("{\"name\":\"First\",\"email\":\"one@example.com\",\"phone\":\"+33 1 23 45 67 89\","
                                     "\"externalIds\":[{\"system\":\"erp\",\"id\":\"A-1\"},{\"system\":\"shop\",\"id\":\"7\"}]}");
    static const struct {
        const char *json;
        const char *field;
    } cases[] = {
        { "{\"name\":\"S\",\"email\":\"ONE@Example.COM\"}", "email" },
        { "{\"name\":\"S\",\"phone\":\"+33123456789\"}", "phone" },
        { "{\"name\":\"S\",\"externalIds\":[{\"system\":\"shop\",\"id\":\"7\"}]}", "externalIds[0]" },
        { "{\"name\":\"S\",\"externalIds\":[{\"system\":\"x\",\"id\":\"1\"},{\"system\":\"erp\",\"id\":\"A-1\"}]}",
          "externalIds[1]" },
    };
    uint64_t head = fx_head();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cr_assert_eq(fx_create(cases[i].json, NULL), CRM_RPC_CONFLICT, "%s", cases[i].json);
        cr_assert_str_eq(fx.err.field, cases[i].field);
        cr_assert_str_eq(fx.err.conflict_id, first);
    }
    cr_assert_eq(s_customer_count(), 1);
    cr_assert_eq(fx_head(), head);
    /* Another system with the same id, and the same system with another id, are fine. */
    const char *second = fx_create_ok("{\"name\":\"Second\",\"externalIds\":[{\"system\":\"crm\",\"id\":\"7\"},"
                                      "{\"system\":\"shop\",\"id\":\"8\"}]}");
    /* An update into a clash too, and it changes nothing. */
    cr_assert_eq(fx_update(second, "{\"email\":\"one@EXAMPLE.com\",\"owner\":\"x\"}", "owner,email", 0, NULL),
                 CRM_RPC_CONFLICT);
    cr_assert_str_eq(fx.err.field, "email");
    cr_assert_str_eq(fx.err.conflict_id, first);
    Crm__V1__Customer *c = fx_get(second);
    cr_assert_str_eq(c->owner, "");
    cr_assert_eq(c->version, 1);
    fx_free(&c);
}

Test(customers, unknown_methods_and_garbage_bodies)
{
    contacts_reply_t reply = { 0 };
    contacts_handle(fx.contacts, "contacts.Nope", NULL, 0, &reply);
    cr_assert_eq(reply.status, CRM_RPC_UNKNOWN_METHOD);
    contacts_reply_clear(&reply);
    static const unsigned char garbage[] = { 0xFF, 0xFF, 0xFF, 0xFF, 0x0F };
    contacts_handle(fx.contacts, CONTACTS_METHOD_CREATE_CUSTOMER, garbage, sizeof garbage, &reply);
    cr_assert_eq(reply.status, CRM_RPC_INVALID);
    contacts_reply_clear(&reply);
    /* An empty body is an empty request: here, a customer without a name. */
    contacts_handle(fx.contacts, CONTACTS_METHOD_CREATE_CUSTOMER, NULL, 0, &reply);
    cr_assert_eq(reply.status, CRM_RPC_INVALID);
    cr_assert_str_eq(reply.err.field, "name");
    contacts_reply_clear(&reply);
    cr_assert_eq(s_customer_count(), 0);
}

Test(customers, records_survive_a_reopen)
{
    const char *id = fx_create_ok("{\"name\":\"Persist\",\"email\":\"p@example.com\",\"customFields\":{\"n\":0.1}}");
    fx_close();
    fx_open();
    Crm__V1__Customer *c = fx_get(id);
    cr_assert_not_null(c);
    cr_assert_str_eq(c->email, "p@example.com");
    cr_assert_eq(c->custom_fields[0]->value->number_value, 0.1);
    fx_free(&c);
    cr_assert_eq(fx_create("{\"name\":\"Dup\",\"email\":\"P@example.com\"}", NULL), CRM_RPC_CONFLICT);
}

/* Writes that fill the map run again after it grows, with the same outcome. */
Test(customers, writes_survive_map_growth)
{
    fx_close();
    fx.map_size = (size_t) 64 << 10;
    crm_test_rmtree(fx.dir);
    crm_test_tmpdir(fx.dir);
    fx_open();
    enum { CUSTOMERS = 150 };
    char ids[CUSTOMERS][CRM_ID_SIZE];
    char json[512];
    for (int i = 0; i < CUSTOMERS; i++) {
        snprintf(json, sizeof json, "{\"name\":\"Grow %d\",\"email\":\"g%d@example.com\",\"tags\":[\"t%d\",\"all\"],"
                 "\"occupation\":\"%0*d\"}", i, i, i % 7, CONTACTS_TEXT_MAX, i);
        cr_assert_eq(fx_create(json, ids[i]), CRM_RPC_OK, "%d: %s", i, fx.err.message);
        Crm__V1__RecordPurchaseRequest rp = CRM__V1__RECORD_PURCHASE_REQUEST__INIT;
        rp.customer_id = ids[i];
        snprintf(json, sizeof json, "{\"orderId\":\"G-%d\",\"amountMinor\":\"%d\",\"currency\":\"EUR\"}", i, i);
        rp.purchase = (Crm__V1__Purchase *) fx_json(&crm__v1__purchase__descriptor, json);
        cr_assert_eq(fx_call(CONTACTS_METHOD_RECORD_PURCHASE, &rp.base, NULL, NULL), CRM_RPC_OK);
        fx_free(&rp.purchase);
    }
    crm_store_stat_t stat;
    cr_assert_eq(crm_store_stat(fx.store, &stat), 0);
    cr_assert_gt(stat.grows, 0, "the map grew");
    int wrong = 0;
    for (int i = 0; i < CUSTOMERS; i++) {
        Crm__V1__Customer *c = fx_get(ids[i]);
        snprintf(json, sizeof json, "g%d@example.com", i);
        wrong += !c || strcmp(c->email, json) != 0 || c->purchase_count != 1 || c->version != 2;
        fx_free(&c);
    }
    cr_assert_eq(wrong, 0);
    cr_assert_eq(s_customer_count(), CUSTOMERS);
    cr_assert_eq(fx_head(), 3 * CUSTOMERS, "created, recorded and updated (first purchase) once each");
}
