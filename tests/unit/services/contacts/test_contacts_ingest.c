/* test_contacts_ingest.c: the gateway's ingest events applied by the contacts subscriber: orders, refunds, interactions, upserts. */
#include "contacts_fixture.h"

#include "crm/v1/analytics.pb-c.h"
#include "crm/v1/contacts.pb-c.h"
#include "crm/v1/ingest.pb-c.h"

TestSuite(ingest, .init = fx_setup, .fini = fx_teardown, .timeout = 30);

#define INTEGRATOR "/shop/eu"

typedef int (*s_apply_fn)(crm_txn_t *txn, const crm_bus_event_t *event, void *arg);

typedef struct {
    crm_bus_event_t event;
    s_apply_fn fn;
} s_apply_t;

static int
s_apply_body(crm_txn_t *txn, void *arg)
{
    s_apply_t *a = arg;
    return a->fn(txn, &a->event, fx.contacts);
}

/* Applies one ingest event as the subscriber would, in its own write transaction: topic
 * "crm.ingest.<type>.v1", an envelope with the integrator's id and data. Returns the apply result
 * (the transaction is aborted unless 0). */
static int
s_apply_raw(s_apply_fn fn, const char *topic, const void *payload, size_t len)
{
    s_apply_t a = { .event = { .topic = topic, .topic_len = strlen(topic), .seq = 1,
                               .payload = payload, .payload_len = len }, .fn = fn };
    return crm_store_write(fx.store, s_apply_body, &a);
}

static int
s_ingest_raw(const char *topic, const void *payload, size_t len)
{
    return s_apply_raw(contacts_apply_ingest, topic, payload, len);
}

/* Applies data in an envelope under topic with fn, as the subscriber would. */
static int
s_apply(s_apply_fn fn, const char *topic, const char *event_id, const ProtobufCMessage *data)
{
    void *packed = NULL, *env_buf = NULL;
    size_t packed_len = 0, env_len = 0;
    cr_assert_eq(crm_codec_pb_encode(data, &packed, &packed_len), 0);
    Crm__V1__Timestamp time = CRM__V1__TIMESTAMP__INIT;
    time.seconds = 1750000000;
    Crm__V1__Event env = CRM__V1__EVENT__INIT;
    env.id = (char *) event_id;
    env.source = (char *) INTEGRATOR;
    env.spec_version = (char *) "1.0";
    env.type = (char *) topic;
    env.time = &time;
    env.data.data = packed;
    env.data.len = packed_len;
    env.data_schema = (char *) data->descriptor->name;
    cr_assert_eq(crm_codec_pb_encode(&env.base, &env_buf, &env_len), 0);
    int rc = s_apply_raw(fn, topic, env_buf, env_len);
    free(packed);
    free(env_buf);
    return rc;
}

static int
s_ingest(const char *topic, const char *event_id, const ProtobufCMessage *data)
{
    return s_apply(contacts_apply_ingest, topic, event_id, data);
}

/* Applies a payload given as JSON. */
static int
s_ingest_json(const char *topic, const char *event_id, const ProtobufCMessageDescriptor *desc, const char *json)
{
    ProtobufCMessage *msg = fx_json(desc, json);
    int rc = s_ingest(topic, event_id, msg);
    fx_free(&msg);
    return rc;
}

static int
s_order(const char *event_id, const char *json)
{
    return s_ingest_json(CONTACTS_INGEST_ORDER_PLACED, event_id, &crm__v1__order_placed__descriptor, json);
}

static int
s_refund(const char *event_id, const char *json)
{
    return s_ingest_json(CONTACTS_INGEST_ORDER_REFUNDED, event_id, &crm__v1__order_refunded__descriptor, json);
}

/* The customer holding email (must exist). Caller frees. */
static Crm__V1__Customer *
s_by_email(const char *email)
{
    char id[CRM_ID_SIZE];
    crm_txn_t *txn = NULL;
    cr_assert_eq(crm_store_read_begin(fx.store, &txn), 0);
    int rc = contacts_customer_find_email(contacts_db(fx.contacts), txn, email, id);
    crm_store_txn_end(&txn);
    cr_assert_eq(rc, 0, "nobody has %s", email);
    return fx_get(id);
}

static uint64_t
s_count(crm_db_t db)
{
    crm_txn_t *txn = NULL;
    uint64_t n = 0;
    cr_assert_eq(crm_store_read_begin(fx.store, &txn), 0);
    cr_assert_eq(crm_store_count(txn, db, &n), 0);
    crm_store_txn_end(&txn);
    return n;
}

Test(ingest, an_order_for_a_new_email_creates_the_customer_and_counts_once)
{
    const char *order = "{\"orderId\":\"W-1001\",\"customer\":{\"email\":\"Lin@Example.cn\"},"
                        "\"amountMinor\":\"12900\",\"currency\":\"CNY\","
                        "\"items\":[{\"sku\":\"tea-1\",\"quantity\":3,\"unitPriceMinor\":\"4300\"}],"
                        "\"placedAt\":\"2025-05-01T08:00:00+08:00\"}";
    cr_assert_eq(s_order("evt-1", order), 0);
    Crm__V1__Customer *c = s_by_email("lin@example.cn");
    cr_assert_str_eq(c->name, "Lin@Example.cn", "named after the email");
    cr_assert_eq(c->purchase_count, 1);
    cr_assert_eq(c->lifecycle_stage, CRM__V1__LIFECYCLE_STAGE__LIFECYCLE_STAGE_FIRST_PURCHASE);
    cr_assert_eq(c->last_purchase_at->seconds, 1746057600);
    fx_free(&c);
    uint64_t head = fx_head();
    cr_assert_eq(fx_count_events(1, CONTACTS_EVENT_CUSTOMER_CREATED), 1);
    cr_assert_eq(fx_count_events(1, CONTACTS_EVENT_PURCHASE_RECORDED), 1);
    cr_assert_eq(fx_count_events(1, CONTACTS_EVENT_CUSTOMER_UPDATED), 1, "prospect to first purchase");
    /* The same order again, even in another event, earns nothing more. */
    cr_assert_eq(s_order("evt-2", order), 0);
    cr_assert_eq(fx_head(), head);
    c = s_by_email("lin@example.cn");
    cr_assert_eq(c->purchase_count, 1);
    fx_free(&c);
    cr_assert_eq(s_count(contacts_db(fx.contacts)->purchases), 1);
    cr_assert_eq(s_count(contacts_db(fx.contacts)->customers), 1);
}

Test(ingest, orders_match_by_id_then_external_id_then_email)
{
    const char *by_id = fx_create_ok("{\"name\":\"Id\"}");
    const char *by_ext = fx_create_ok("{\"name\":\"Ext\",\"externalIds\":[{\"system\":\"shop\",\"id\":\"C-9\"}]}");
    const char *by_mail = fx_create_ok("{\"name\":\"Mail\",\"email\":\"mail@example.com\"}");
    char json[512];
    snprintf(json, sizeof json, "{\"orderId\":\"1\",\"customer\":{\"customerId\":\"%s\",\"email\":\"mail@example.com\"},"
             "\"amountMinor\":\"1\",\"currency\":\"EUR\"}", by_id);
    cr_assert_eq(s_order("e1", json), 0);
    cr_assert_eq(s_order("e2", "{\"orderId\":\"2\",\"customer\":{\"externalId\":{\"system\":\"shop\",\"id\":\"C-9\"},"
                               "\"email\":\"mail@example.com\"},\"amountMinor\":\"1\",\"currency\":\"EUR\"}"), 0);
    cr_assert_eq(s_order("e3", "{\"orderId\":\"3\",\"customer\":{\"externalId\":{\"system\":\"shop\",\"id\":\"C-10\"},"
                               "\"email\":\"MAIL@example.com\"},\"amountMinor\":\"1\",\"currency\":\"EUR\"}"), 0);
    const char *ids[] = { by_id, by_ext, by_mail };
    for (int i = 0; i < 3; i++) {
        Crm__V1__Customer *c = fx_get(ids[i]);
        cr_assert_eq(c->purchase_count, 1, "customer %d", i);
        fx_free(&c);
    }
    /* Matched by email, the unknown external id now names that customer. */
    Crm__V1__Customer *c = fx_get(by_mail);
    cr_assert_eq(c->n_external_ids, 1);
    cr_assert_str_eq(c->external_ids[0]->id, "C-10");
    fx_free(&c);
    cr_assert_eq(s_order("e4", "{\"orderId\":\"4\",\"customer\":{\"externalId\":{\"system\":\"shop\",\"id\":\"C-10\"}},"
                               "\"amountMinor\":\"1\",\"currency\":\"EUR\"}"), 0);
    c = fx_get(by_mail);
    cr_assert_eq(c->purchase_count, 2);
    fx_free(&c);
    cr_assert_eq(s_count(contacts_db(fx.contacts)->customers), 3);
}

Test(ingest, unusable_orders_are_refused_and_change_nothing)
{
    const char *orders[] = {
        /* nobody matches and nothing to create a customer with */
        "{\"orderId\":\"1\",\"customer\":{\"customerId\":\"01ARZ3NDEKTSV4RRFFQ69G5FAV\"},\"amountMinor\":\"1\",\"currency\":\"EUR\"}",
        "{\"orderId\":\"1\",\"amountMinor\":\"1\",\"currency\":\"EUR\"}",
        /* bad values */
        "{\"orderId\":\"1\",\"customer\":{\"email\":\"a@example.com\"},\"amountMinor\":\"1\",\"currency\":\"euro\"}",
        "{\"orderId\":\"1\",\"customer\":{\"email\":\"a@example.com\"},\"amountMinor\":\"-1\",\"currency\":\"EUR\"}",
        "{\"customer\":{\"email\":\"a@example.com\"},\"amountMinor\":\"1\",\"currency\":\"EUR\"}",
        "{\"orderId\":\"1\",\"customer\":{\"email\":\"not-an-email\"},\"amountMinor\":\"1\",\"currency\":\"EUR\"}",
    };
    for (size_t i = 0; i < sizeof orders / sizeof orders[0]; i++)
        cr_assert_eq(s_order("e", orders[i]), CRM_EINVALID, "%s", orders[i]);
    cr_assert_eq(fx_head(), 0);
    cr_assert_eq(s_count(contacts_db(fx.contacts)->customers), 0);
    cr_assert_eq(s_count(contacts_db(fx.contacts)->purchases), 0);
}

Test(ingest, refunds_by_order_id_apply_once)
{
    cr_assert_eq(s_order("o", "{\"orderId\":\"R-1\",\"customer\":{\"email\":\"r@example.com\"},"
                              "\"amountMinor\":\"1000\",\"currency\":\"EUR\"}"), 0);
    uint64_t head = fx_head();
    cr_assert_eq(s_refund("rf-1", "{\"orderId\":\"R-1\",\"refundId\":\"RF-1\",\"amountMinor\":\"300\",\"currency\":\"EUR\"}"), 0);
    cr_assert_eq(s_refund("rf-1-again", "{\"orderId\":\"R-1\",\"refundId\":\"RF-1\",\"amountMinor\":\"300\"}"), 0);
    /* Without a refund id the event's id keeps it idempotent. */
    cr_assert_eq(s_refund("rf-2", "{\"orderId\":\"R-1\",\"amountMinor\":\"200\",\"reason\":\"late\"}"), 0);
    cr_assert_eq(s_refund("rf-2", "{\"orderId\":\"R-1\",\"amountMinor\":\"200\",\"reason\":\"late\"}"), 0);
    cr_assert_eq(fx_count_events(head + 1, CONTACTS_EVENT_PURCHASE_REFUNDED), 2);
    crm_txn_t *txn = NULL;
    Crm__V1__Purchase *p = NULL;
    cr_assert_eq(crm_store_read_begin(fx.store, &txn), 0);
    cr_assert_eq(contacts_purchase_find_order(contacts_db(fx.contacts), txn, "R-1", &p), 0);
    crm_store_txn_end(&txn);
    cr_assert_eq(p->refunded_minor, 500);
    cr_assert_eq(p->n_refunds, 2);
    cr_assert_str_eq(p->refunds[1]->id, "rf-2");
    fx_free(&p);
    head = fx_head();
    cr_assert_eq(s_refund("x1", "{\"orderId\":\"R-1\",\"amountMinor\":\"501\"}"), CRM_EINVALID, "exceeds");
    cr_assert_eq(s_refund("x2", "{\"orderId\":\"R-2\",\"amountMinor\":\"1\"}"), CRM_EINVALID, "unknown order");
    cr_assert_eq(s_refund("x3", "{\"orderId\":\"R-1\",\"amountMinor\":\"1\",\"currency\":\"USD\"}"), CRM_EINVALID);
    cr_assert_eq(s_refund("x4", "{\"orderId\":\"R-1\",\"refundId\":\"RF-1\",\"amountMinor\":\"7\"}"), CRM_EINVALID);
    cr_assert_eq(fx_head(), head);
    cr_assert_eq(s_refund("x5", "{\"orderId\":\"R-1\",\"amountMinor\":\"500\"}"), 0);
    Crm__V1__Customer *c = s_by_email("r@example.com");
    cr_assert_eq(c->purchase_count, 0);
    cr_assert_eq(c->lifecycle_stage, CRM__V1__LIFECYCLE_STAGE__LIFECYCLE_STAGE_PROSPECT);
    fx_free(&c);
}

Test(ingest, interactions_for_known_and_new_customers)
{
    const char *known = fx_create_ok("{\"name\":\"Known\",\"email\":\"known@example.com\"}");
    uint64_t head = fx_head();
    cr_assert_eq(s_ingest_json(CONTACTS_INGEST_INTERACTION_LOGGED, "i1", &crm__v1__interaction_reported__descriptor,
                               "{\"customer\":{\"email\":\"known@example.com\"},\"channel\":\"phone\","
                               "\"direction\":\"inbound\",\"summary\":\"asked about delivery\",\"agent\":\"cc-7\"}"), 0);
    Crm__V1__InteractionLogged *ev = (Crm__V1__InteractionLogged *)
        fx_last_event(CONTACTS_EVENT_INTERACTION_LOGGED, &crm__v1__interaction_logged__descriptor, known);
    cr_assert_str_eq(ev->interaction->summary, "asked about delivery");
    cr_assert_eq(ev->interaction->occurred_at->seconds, 1750000000, "the event's time when none is given");
    fx_free(&ev);
    cr_assert_eq(fx_head(), head + 1);
    cr_assert_eq(s_ingest_json(CONTACTS_INGEST_INTERACTION_LOGGED, "i2", &crm__v1__interaction_reported__descriptor,
                               "{\"customer\":{\"externalId\":{\"system\":\"cc\",\"id\":\"caller-5\"}},"
                               "\"channel\":\"social\"}"), 0);
    cr_assert_eq(s_count(contacts_db(fx.contacts)->customers), 2);
    cr_assert_eq(s_count(contacts_db(fx.contacts)->interactions), 2);
    cr_assert_eq(s_ingest_json(CONTACTS_INGEST_INTERACTION_LOGGED, "i3", &crm__v1__interaction_reported__descriptor,
                               "{\"customer\":{\"email\":\"known@example.com\"}}"), CRM_EINVALID, "no channel");
}

Test(ingest, upserts_match_by_external_id_then_email)
{
    const char *upsert = CONTACTS_INGEST_CUSTOMER_UPSERTED;
    const ProtobufCMessageDescriptor *desc = &crm__v1__customer_upserted__descriptor;
    cr_assert_eq(s_ingest_json(upsert, "u1", desc,
                               "{\"customer\":{\"name\":\"Mei\",\"externalIds\":[{\"system\":\"erp\",\"id\":\"E1\"}],"
                               "\"tags\":[\"new\"],\"customFields\":{\"a\":1}}}"), 0);
    cr_assert_eq(s_count(contacts_db(fx.contacts)->customers), 1);
    cr_assert_eq(fx_count_events(1, CONTACTS_EVENT_CUSTOMER_CREATED), 1);
    /* Matched by external id: given fields replace, the rest stays. */
    cr_assert_eq(s_ingest_json(upsert, "u2", desc,
                               "{\"customer\":{\"externalIds\":[{\"system\":\"erp\",\"id\":\"E1\"},{\"system\":\"web\",\"id\":\"W1\"}],"
                               "\"phone\":\"+86 10 1234 5678\",\"tags\":[\"gold\"],\"customFields\":{\"b\":true},"
                               "\"lifecycleStage\":\"loyal\",\"version\":\"99\"}}"), 0);
    cr_assert_eq(s_count(contacts_db(fx.contacts)->customers), 1);
    Crm__V1__CustomerUpdated *ev = (Crm__V1__CustomerUpdated *)
        fx_last_event(CONTACTS_EVENT_CUSTOMER_UPDATED, &crm__v1__customer_updated__descriptor, NULL);
    Crm__V1__Customer *c = ev->customer;
    cr_assert_str_eq(c->name, "Mei");
    cr_assert_str_eq(c->phone, "+861012345678");
    cr_assert_eq(c->n_tags, 1);
    cr_assert_str_eq(c->tags[0], "gold");
    cr_assert_eq(c->n_external_ids, 2);
    cr_assert_eq(c->n_custom_fields, 2);
    cr_assert_eq(c->lifecycle_stage, CRM__V1__LIFECYCLE_STAGE__LIFECYCLE_STAGE_PROSPECT, "stage is not the integrator's");
    cr_assert_eq(c->version, 2);
    fx_free(&ev);
    /* Matched by email: a customer made through the API gains the external id. */
    const char *api = fx_create_ok("{\"name\":\"Api\",\"email\":\"api@example.com\"}");
    cr_assert_eq(s_ingest_json(upsert, "u3", desc,
                               "{\"customer\":{\"email\":\"API@example.com\",\"externalIds\":[{\"system\":\"erp\",\"id\":\"E2\"}],"
                               "\"occupation\":\"chef\"}}"), 0);
    c = fx_get(api);
    cr_assert_str_eq(c->occupation, "chef");
    cr_assert_str_eq(c->name, "Api");
    cr_assert_eq(c->n_external_ids, 1);
    fx_free(&c);
    cr_assert_eq(s_count(contacts_db(fx.contacts)->customers), 2);
    /* Unusable: a clash with another customer, a bad value, no customer at all. */
    uint64_t head = fx_head();
    cr_assert_eq(s_ingest_json(upsert, "u4", desc,
                               "{\"customer\":{\"externalIds\":[{\"system\":\"erp\",\"id\":\"E1\"}],\"email\":\"api@example.com\"}}"),
                 CRM_EINVALID);
    cr_assert_eq(s_ingest_json(upsert, "u5", desc,
                               "{\"customer\":{\"externalIds\":[{\"system\":\"erp\",\"id\":\"E1\"}],\"birthday\":\"1990-02-30\"}}"),
                 CRM_EINVALID);
    cr_assert_eq(s_ingest_json(upsert, "u6", desc, "{}"), CRM_EINVALID);
    cr_assert_eq(s_ingest_json(upsert, "u7", desc, "{\"customer\":{\"tags\":[\"nameless\"]}}"), CRM_EINVALID);
    cr_assert_eq(fx_head(), head);
}

Test(ingest, other_topics_are_skipped_and_garbage_refused)
{
    static const unsigned char garbage[] = { 0x0A, 0xFF, 0x01 };
    cr_assert_eq(s_ingest_raw("crm.ingest.survey.answered.v1", garbage, sizeof garbage), 0, "not ours: skipped");
    cr_assert_eq(s_ingest_raw(CONTACTS_INGEST_ORDER_PLACED, garbage, sizeof garbage), CRM_EINVALID);
    /* A payload of another type than the topic says. */
    Crm__V1__OrderRefunded wrong = CRM__V1__ORDER_REFUNDED__INIT;
    wrong.order_id = (char *) "1";
    cr_assert_eq(s_ingest(CONTACTS_INGEST_ORDER_PLACED, "w", &wrong.base), CRM_EINVALID);
    cr_assert_eq(fx_head(), 0);
}

Test(ingest, analytics_sets_the_value_tier_and_the_risk_stages_and_a_win_back_undoes_them)
{
    const char *id = fx_create_ok("{\"name\":\"Zhou Min\"}");
    Crm__V1__SegmentChanged seg = CRM__V1__SEGMENT_CHANGED__INIT;
    seg.customer_id = (char *) id;
    seg.value_tier = CRM__V1__VALUE_TIER__VALUE_TIER_HIGH;
    cr_assert_eq(s_apply(contacts_apply_analytics, CONTACTS_ANALYTICS_SEGMENT_CHANGED, "a-1", &seg.base), 0);
    Crm__V1__Customer *c = fx_get(id);
    cr_assert_eq(c->value_tier, CRM__V1__VALUE_TIER__VALUE_TIER_HIGH);
    cr_assert_eq(c->lifecycle_stage, CRM__V1__LIFECYCLE_STAGE__LIFECYCLE_STAGE_PROSPECT);
    uint64_t version = c->version;
    fx_free(&c);

    Crm__V1__StageChanged st = CRM__V1__STAGE_CHANGED__INIT;
    st.customer_id = (char *) id;
    st.stage = CRM__V1__LIFECYCLE_STAGE__LIFECYCLE_STAGE_AT_RISK;
    cr_assert_eq(s_apply(contacts_apply_analytics, CONTACTS_ANALYTICS_STAGE_CHANGED, "a-2", &st.base), 0);
    c = fx_get(id);
    cr_assert_eq(c->lifecycle_stage, CRM__V1__LIFECYCLE_STAGE__LIFECYCLE_STAGE_AT_RISK);
    cr_assert_eq(c->version, version + 1);
    fx_free(&c);
    /* Stages that follow purchases stay contacts' own. */
    st.stage = CRM__V1__LIFECYCLE_STAGE__LIFECYCLE_STAGE_LOYAL;
    cr_assert_eq(s_apply(contacts_apply_analytics, CONTACTS_ANALYTICS_STAGE_CHANGED, "a-3", &st.base), 0);
    c = fx_get(id);
    cr_assert_eq(c->lifecycle_stage, CRM__V1__LIFECYCLE_STAGE__LIFECYCLE_STAGE_AT_RISK);
    fx_free(&c);
    /* Won back: the stage purchases earn (none here: prospect). */
    st.stage = CRM__V1__LIFECYCLE_STAGE__LIFECYCLE_STAGE_REPEAT;
    st.won_back = true;
    cr_assert_eq(s_apply(contacts_apply_analytics, CONTACTS_ANALYTICS_STAGE_CHANGED, "a-4", &st.base), 0);
    c = fx_get(id);
    cr_assert_eq(c->lifecycle_stage, CRM__V1__LIFECYCLE_STAGE__LIFECYCLE_STAGE_PROSPECT);
    cr_assert_eq(c->value_tier, CRM__V1__VALUE_TIER__VALUE_TIER_HIGH);
    fx_free(&c);
    cr_assert_geq(fx_count_events(1, CONTACTS_EVENT_CUSTOMER_UPDATED), 3);

    /* Unknown customers are skipped; garbage is refused; other analytics topics ignored. */
    st.customer_id = (char *) "01J0000000000000000000000Z";
    cr_assert_eq(s_apply(contacts_apply_analytics, CONTACTS_ANALYTICS_STAGE_CHANGED, "a-5", &st.base), 0);
    cr_assert_eq(s_apply_raw(contacts_apply_analytics, CONTACTS_ANALYTICS_STAGE_CHANGED, "junk", 4), CRM_EINVALID);
    cr_assert_eq(s_apply_raw(contacts_apply_analytics, "crm.analytics.customer.churn_risk.v1", "junk", 4), 0);
}
