/* test_contacts_history.c: interactions, purchases, refunds, lifecycle stages and merging customers. */
#include "contacts_fixture.h"

#include "crm/v1/contacts.pb-c.h"
#include "crm_time.h"

#define HISTORY_ITEMS 25
#define HISTORY_PAGE  10
#define BASE_SECONDS  1700000000LL

TestSuite(history, .init = fx_setup, .fini = fx_teardown, .timeout = 30);

static crm_rpc_status_t
s_log(const char *customer_id, const char *json, Crm__V1__Interaction **out)
{
    Crm__V1__LogInteractionRequest req = CRM__V1__LOG_INTERACTION_REQUEST__INIT;
    req.customer_id = (char *) customer_id;
    req.interaction = (Crm__V1__Interaction *) fx_json(&crm__v1__interaction__descriptor, json);
    Crm__V1__InteractionReply *reply = NULL;
    crm_rpc_status_t status = fx_call(CONTACTS_METHOD_LOG_INTERACTION, &req.base,
                                      &crm__v1__interaction_reply__descriptor, (ProtobufCMessage **) &reply);
    if (status == CRM_RPC_OK && out) {
        *out = reply->interaction;
        reply->interaction = NULL;
    }
    fx_free(&reply);
    fx_free(&req.interaction);
    return status;
}

static crm_rpc_status_t
s_buy(const char *customer_id, const char *json, Crm__V1__Purchase **out)
{
    Crm__V1__RecordPurchaseRequest req = CRM__V1__RECORD_PURCHASE_REQUEST__INIT;
    req.customer_id = (char *) customer_id;
    req.purchase = (Crm__V1__Purchase *) fx_json(&crm__v1__purchase__descriptor, json);
    Crm__V1__PurchaseReply *reply = NULL;
    crm_rpc_status_t status = fx_call(CONTACTS_METHOD_RECORD_PURCHASE, &req.base,
                                      &crm__v1__purchase_reply__descriptor, (ProtobufCMessage **) &reply);
    if (status == CRM_RPC_OK && out) {
        *out = reply->purchase;
        reply->purchase = NULL;
    }
    fx_free(&reply);
    fx_free(&req.purchase);
    return status;
}

/* Records a purchase of amount EUR minor units and returns its id (static ring). */
static const char *
s_buy_ok(const char *customer_id, const char *order_id, long long amount)
{
    static char ring[8][CRM_ID_SIZE];
    static int next;
    char json[256];
    snprintf(json, sizeof json, "{\"orderId\":\"%s\",\"amountMinor\":\"%lld\",\"currency\":\"EUR\"}",
             order_id, amount);
    Crm__V1__Purchase *p = NULL;
    crm_rpc_status_t status = s_buy(customer_id, json, &p);
    cr_assert_eq(status, CRM_RPC_OK, "buy %s: %s %s", order_id, fx.err.field, fx.err.message);
    char *id = ring[next++ % 8];
    snprintf(id, CRM_ID_SIZE, "%s", p->id);
    fx_free(&p);
    return id;
}

static crm_rpc_status_t
s_refund(const char *customer_id, const char *purchase_id, const char *json, Crm__V1__Purchase **out)
{
    Crm__V1__RefundPurchaseRequest req = CRM__V1__REFUND_PURCHASE_REQUEST__INIT;
    req.customer_id = (char *) customer_id;
    req.purchase_id = (char *) purchase_id;
    req.refund = (Crm__V1__Refund *) fx_json(&crm__v1__refund__descriptor, json);
    Crm__V1__PurchaseReply *reply = NULL;
    crm_rpc_status_t status = fx_call(CONTACTS_METHOD_REFUND_PURCHASE, &req.base,
                                      &crm__v1__purchase_reply__descriptor, (ProtobufCMessage **) &reply);
    if (status == CRM_RPC_OK && out) {
        *out = reply->purchase;
        reply->purchase = NULL;
    }
    fx_free(&reply);
    fx_free(&req.refund);
    return status;
}

static Crm__V1__LifecycleStage
s_stage(const char *id, uint32_t *count)
{
    Crm__V1__Customer *c = fx_get(id);
    cr_assert_not_null(c);
    Crm__V1__LifecycleStage stage = c->lifecycle_stage;
    if (count)
        *count = c->purchase_count;
    fx_free(&c);
    return stage;
}

/* Pages through a list method; writes the times (seconds) in order into seconds and returns how
 * many there were. */
static size_t
s_list_seconds(const char *method, const char *customer_id, int64_t *seconds, size_t max)
{
    char token[CONTACTS_PAGE_TOKEN_MAX] = "";
    size_t n = 0;
    bool interactions = strcmp(method, CONTACTS_METHOD_LIST_INTERACTIONS) == 0;
    for (int pages = 0; pages < 100; pages++) {
        Crm__V1__ListRequest req = CRM__V1__LIST_REQUEST__INIT;
        req.customer_id = (char *) customer_id;
        req.page_size = HISTORY_PAGE;
        req.page_token = token;
        ProtobufCMessage *reply = NULL;
        cr_assert_eq(fx_call(method, &req.base, interactions ? &crm__v1__list_interactions_reply__descriptor
                                                             : &crm__v1__list_purchases_reply__descriptor,
                             &reply), CRM_RPC_OK, "%s", fx.err.message);
        const char *next;
        if (interactions) {
            Crm__V1__ListInteractionsReply *r = (Crm__V1__ListInteractionsReply *) reply;
            for (size_t i = 0; i < r->n_interactions && n < max; i++) {
                cr_assert_str_eq(r->interactions[i]->customer_id, customer_id);
                seconds[n++] = r->interactions[i]->occurred_at->seconds;
            }
            next = r->next_page_token;
        } else {
            Crm__V1__ListPurchasesReply *r = (Crm__V1__ListPurchasesReply *) reply;
            for (size_t i = 0; i < r->n_purchases && n < max; i++) {
                cr_assert_str_eq(r->purchases[i]->customer_id, customer_id);
                seconds[n++] = r->purchases[i]->purchased_at->seconds;
            }
            next = r->next_page_token;
        }
        snprintf(token, sizeof token, "%s", next);
        fx_free(&reply);
        if (!*token)
            return n;
    }
    cr_assert_fail("paging never ended");
    return n;
}

/* Times in a shuffled order: i * 7 mod 25 visits every value. */
static int64_t
s_shuffled(int i)
{
    return BASE_SECONDS + (i * 7) % HISTORY_ITEMS * 60;
}

Test(history, interactions_newest_first_with_paging)
{
    const char *id = fx_create_ok("{\"name\":\"Talker\"}");
    uint64_t head = fx_head();
    char json[256], when[CRM_TIME_TEXT_MAX];
    for (int i = 0; i < HISTORY_ITEMS; i++) {
        cr_assert_eq(crm_time_format(s_shuffled(i), 0, when, sizeof when), 0);
        snprintf(json, sizeof json, "{\"channel\":\"%s\",\"direction\":\"inbound\",\"summary\":\"call %d\","
                 "\"agent\":\"zoe\",\"occurredAt\":\"%s\"}", i % 2 ? "phone" : "chat", i, when);
        Crm__V1__Interaction *it = NULL;
        cr_assert_eq(s_log(id, json, &it), CRM_RPC_OK, "%s", fx.err.message);
        cr_assert(crm_id_valid(it->id));
        cr_assert_str_eq(it->customer_id, id);
        cr_assert_not_null(it->recorded_at);
        fx_free(&it);
    }
    cr_assert_eq(fx_count_events(head + 1, CONTACTS_EVENT_INTERACTION_LOGGED), HISTORY_ITEMS);
    Crm__V1__InteractionLogged *ev = (Crm__V1__InteractionLogged *)
        fx_last_event(CONTACTS_EVENT_INTERACTION_LOGGED, &crm__v1__interaction_logged__descriptor, id);
    cr_assert_str_eq(ev->interaction->agent, "zoe");
    fx_free(&ev);
    int64_t seconds[HISTORY_ITEMS + 5];
    size_t n = s_list_seconds(CONTACTS_METHOD_LIST_INTERACTIONS, id, seconds, HISTORY_ITEMS + 5);
    cr_assert_eq(n, HISTORY_ITEMS);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(seconds[i], BASE_SECONDS + (int64_t) (HISTORY_ITEMS - 1 - i) * 60, "item %zu", i);
    /* Without occurredAt: now, so first. */
    Crm__V1__Interaction *it = NULL;
    cr_assert_eq(s_log(id, "{\"channel\":\"visit\"}", &it), CRM_RPC_OK);
    cr_assert_gt(it->occurred_at->seconds, BASE_SECONDS + HISTORY_ITEMS * 60);
    fx_free(&it);
}

Test(history, interaction_validation)
{
    const char *id = fx_create_ok("{\"name\":\"V\"}");
    uint64_t head = fx_head();
    cr_assert_eq(s_log(id, "{\"summary\":\"no channel\"}", NULL), CRM_RPC_INVALID);
    cr_assert_str_eq(fx.err.field, "channel");
    cr_assert_eq(s_log(id, "{\"channel\":\"email\",\"agent\":\"a\\u0001b\"}", NULL), CRM_RPC_INVALID);
    cr_assert_str_eq(fx.err.field, "agent");
    cr_assert_eq(s_log("01ARZ3NDEKTSV4RRFFQ69G5FAV", "{\"channel\":\"email\"}", NULL), CRM_RPC_NOT_FOUND);
    cr_assert_str_eq(fx.err.field, "customerId");
    cr_assert_eq(s_log("", "{\"channel\":\"email\"}", NULL), CRM_RPC_INVALID);
    cr_assert_str_eq(fx.err.field, "customerId");
    cr_assert_eq(fx_head(), head);
    Crm__V1__ListRequest req = CRM__V1__LIST_REQUEST__INIT;
    req.customer_id = (char *) "01ARZ3NDEKTSV4RRFFQ69G5FAV";
    cr_assert_eq(fx_call(CONTACTS_METHOD_LIST_INTERACTIONS, &req.base, NULL, NULL), CRM_RPC_NOT_FOUND);
    req.customer_id = (char *) id;
    req.page_token = (char *) "bad";
    cr_assert_eq(fx_call(CONTACTS_METHOD_LIST_PURCHASES, &req.base, NULL, NULL), CRM_RPC_INVALID);
    cr_assert_str_eq(fx.err.field, "pageToken");
}

Test(history, purchases_newest_first_and_counted)
{
    const char *id = fx_create_ok("{\"name\":\"Buyer\"}");
    char json[256], when[CRM_TIME_TEXT_MAX];
    uint64_t head = fx_head();
    for (int i = 0; i < HISTORY_ITEMS; i++) {
        cr_assert_eq(crm_time_format(s_shuffled(i), 0, when, sizeof when), 0);
        snprintf(json, sizeof json, "{\"orderId\":\"ord-%d\",\"amountMinor\":\"%d\",\"currency\":\"CNY\","
                 "\"items\":[{\"sku\":\"s\",\"name\":\"\xe8\x8c\xb6\",\"quantity\":2,\"unitPriceMinor\":\"5\"}],"
                 "\"purchasedAt\":\"%s\"}", i, 100 + i, when);
        Crm__V1__Purchase *p = NULL;
        cr_assert_eq(s_buy(id, json, &p), CRM_RPC_OK, "%s", fx.err.message);
        cr_assert_str_eq(p->customer_id, id);
        cr_assert_eq(p->n_items, 1);
        fx_free(&p);
        Crm__V1__PurchaseRecorded *ev = (Crm__V1__PurchaseRecorded *)
            fx_last_event(CONTACTS_EVENT_PURCHASE_RECORDED, &crm__v1__purchase_recorded__descriptor, id);
        cr_assert_eq(ev->purchase_number, (uint32_t) i + 1);
        fx_free(&ev);
    }
    cr_assert_eq(fx_count_events(head + 1, CONTACTS_EVENT_PURCHASE_RECORDED), HISTORY_ITEMS);
    int64_t seconds[HISTORY_ITEMS + 5];
    size_t n = s_list_seconds(CONTACTS_METHOD_LIST_PURCHASES, id, seconds, HISTORY_ITEMS + 5);
    cr_assert_eq(n, HISTORY_ITEMS);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(seconds[i], BASE_SECONDS + (int64_t) (HISTORY_ITEMS - 1 - i) * 60);
    Crm__V1__Customer *c = fx_get(id);
    cr_assert_eq(c->purchase_count, HISTORY_ITEMS);
    cr_assert_eq(c->last_purchase_at->seconds, BASE_SECONDS + (HISTORY_ITEMS - 1) * 60);
    cr_assert_eq(c->version, 1 + HISTORY_ITEMS);
    fx_free(&c);
}

Test(history, order_ids_are_unique_across_customers)
{
    const char *a = fx_create_ok("{\"name\":\"A\"}");
    const char *b = fx_create_ok("{\"name\":\"B\"}");
    const char *pid = s_buy_ok(a, "SO-1", 500);
    uint64_t head = fx_head();
    cr_assert_eq(s_buy(b, "{\"orderId\":\"SO-1\",\"amountMinor\":\"1\",\"currency\":\"EUR\"}", NULL),
                 CRM_RPC_CONFLICT);
    cr_assert_str_eq(fx.err.field, "orderId");
    cr_assert_str_eq(fx.err.conflict_id, pid);
    cr_assert_eq(fx_head(), head);
    uint32_t count = 0;
    s_stage(b, &count);
    cr_assert_eq(count, 0);
    /* Without an order id, the purchase's own id stands in. */
    Crm__V1__Purchase *p = NULL;
    cr_assert_eq(s_buy(b, "{\"amountMinor\":\"0\",\"currency\":\"EUR\"}", &p), CRM_RPC_OK);
    cr_assert_str_eq(p->order_id, p->id);
    fx_free(&p);
    s_stage(b, &count);
    cr_assert_eq(count, 1, "a free purchase counts");
}

Test(history, purchase_validation_names_fields)
{
    const char *id = fx_create_ok("{\"name\":\"P\"}");
    static const struct {
        const char *json;
        const char *field;
    } cases[] = {
        { "{\"amountMinor\":\"1\",\"currency\":\"eur\"}", "currency" },
        { "{\"amountMinor\":\"1\",\"currency\":\"EURO\"}", "currency" },
        { "{\"amountMinor\":\"1\"}", "currency" },
        { "{\"amountMinor\":\"-1\",\"currency\":\"EUR\"}", "amountMinor" },
        { "{\"amountMinor\":\"9000000000000000000\",\"currency\":\"EUR\"}", "amountMinor" },
        { "{\"amountMinor\":\"1\",\"currency\":\"EUR\",\"items\":[{\"sku\":\"a\",\"quantity\":1},{\"sku\":\"b\"}]}",
          "items[1].quantity" },
        { "{\"amountMinor\":\"1\",\"currency\":\"EUR\",\"items\":[{\"quantity\":1,\"unitPriceMinor\":\"-5\"}]}",
          "items[0].unitPriceMinor" },
        { "{\"amountMinor\":\"1\",\"currency\":\"EUR\",\"refunds\":[{\"amountMinor\":\"1\"}]}", "refunds" },
        { "{\"amountMinor\":\"1\",\"currency\":\"EUR\",\"refundedMinor\":\"1\"}", "refundedMinor" },
    };
    uint64_t head = fx_head();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cr_assert_eq(s_buy(id, cases[i].json, NULL), CRM_RPC_INVALID, "%s", cases[i].json);
        cr_assert_str_eq(fx.err.field, cases[i].field, "%s: %s", cases[i].json, fx.err.field);
    }
    cr_assert_eq(s_buy("01ARZ3NDEKTSV4RRFFQ69G5FAV", "{\"amountMinor\":\"1\",\"currency\":\"EUR\"}", NULL),
                 CRM_RPC_NOT_FOUND);
    cr_assert_str_eq(fx.err.field, "customerId");
    cr_assert_eq(fx_head(), head);
}

Test(history, refunds_never_exceed_the_amount_and_repeat_safely)
{
    const char *id = fx_create_ok("{\"name\":\"R\"}");
    const char *pid = s_buy_ok(id, "R-1", 1000);
    Crm__V1__Purchase *p = NULL;
    cr_assert_eq(s_refund(id, pid, "{\"id\":\"r1\",\"amountMinor\":\"600\",\"reason\":\"broken\"}", &p), CRM_RPC_OK);
    cr_assert_eq(p->refunded_minor, 600);
    cr_assert_eq(p->n_refunds, 1);
    fx_free(&p);
    Crm__V1__PurchaseRefunded *ev = (Crm__V1__PurchaseRefunded *)
        fx_last_event(CONTACTS_EVENT_PURCHASE_REFUNDED, &crm__v1__purchase_refunded__descriptor, id);
    cr_assert_str_eq(ev->refund->id, "r1");
    cr_assert_eq(ev->purchase->refunded_minor, 600);
    fx_free(&ev);
    uint64_t head = fx_head();
    cr_assert_eq(s_refund(id, pid, "{\"id\":\"r2\",\"amountMinor\":\"401\"}", NULL), CRM_RPC_INVALID);
    cr_assert_str_eq(fx.err.field, "amountMinor");
    cr_assert_eq(s_refund(id, pid, "{\"amountMinor\":\"0\"}", NULL), CRM_RPC_INVALID);
    cr_assert_str_eq(fx.err.field, "amountMinor");
    cr_assert_eq(s_refund(id, pid, "{\"id\":\"r1\",\"amountMinor\":\"5\"}", NULL), CRM_RPC_INVALID,
                 "a refund id reused with another amount");
    cr_assert_str_eq(fx.err.field, "id");
    /* The same refund again is a no-op. */
    cr_assert_eq(s_refund(id, pid, "{\"id\":\"r1\",\"amountMinor\":\"600\"}", &p), CRM_RPC_OK);
    cr_assert_eq(p->refunded_minor, 600);
    fx_free(&p);
    cr_assert_eq(fx_head(), head, "nothing raised by refusals and repeats");
    uint32_t count = 0;
    s_stage(id, &count);
    cr_assert_eq(count, 1, "partly refunded still counts");
    /* The rest: fully refunded, no longer counted. */
    cr_assert_eq(s_refund(id, pid, "{\"amountMinor\":\"400\"}", &p), CRM_RPC_OK);
    cr_assert_eq(p->refunded_minor, 1000);
    cr_assert(crm_id_valid(p->refunds[1]->id), "a refund without an id gets one");
    fx_free(&p);
    cr_assert_eq(s_stage(id, &count), CRM__V1__LIFECYCLE_STAGE__LIFECYCLE_STAGE_PROSPECT);
    cr_assert_eq(count, 0);
    cr_assert_eq(s_refund(id, pid, "{\"amountMinor\":\"1\"}", NULL), CRM_RPC_INVALID);
    /* Wrong customer or purchase. */
    const char *other = fx_create_ok("{\"name\":\"O\"}");
    cr_assert_eq(s_refund(other, pid, "{\"amountMinor\":\"1\"}", NULL), CRM_RPC_NOT_FOUND);
    cr_assert_str_eq(fx.err.field, "purchaseId");
    cr_assert_eq(s_refund(id, "nope", "{\"amountMinor\":\"1\"}", NULL), CRM_RPC_NOT_FOUND);
}

Test(history, lifecycle_thresholds)
{
    const char *id = fx_create_ok("{\"name\":\"L\"}");
    Crm__V1__LifecycleStage expected[] = {
        CRM__V1__LIFECYCLE_STAGE__LIFECYCLE_STAGE_FIRST_PURCHASE,
        CRM__V1__LIFECYCLE_STAGE__LIFECYCLE_STAGE_REPEAT,
        CRM__V1__LIFECYCLE_STAGE__LIFECYCLE_STAGE_REPEAT,
        CRM__V1__LIFECYCLE_STAGE__LIFECYCLE_STAGE_REPEAT,
        CRM__V1__LIFECYCLE_STAGE__LIFECYCLE_STAGE_LOYAL,
        CRM__V1__LIFECYCLE_STAGE__LIFECYCLE_STAGE_LOYAL,
    };
    uint64_t head = fx_head();
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++) {
        char order[16];
        snprintf(order, sizeof order, "L-%zu", i);
        s_buy_ok(id, order, 10);
        cr_assert_eq(s_stage(id, NULL), expected[i], "after purchase %zu", i + 1);
    }
    /* customer.updated only when the stage moved: to first_purchase, repeat and loyal. */
    cr_assert_eq(fx_count_events(head + 1, CONTACTS_EVENT_CUSTOMER_UPDATED), 3);
    /* Other thresholds from the settings. */
    fx_close();
    fx.settings = (contacts_settings_t) { .repeat_purchases = 3, .loyal_purchases = 4 };
    fx_open();
    const char *other = fx_create_ok("{\"name\":\"M\"}");
    Crm__V1__LifecycleStage expected2[] = {
        CRM__V1__LIFECYCLE_STAGE__LIFECYCLE_STAGE_FIRST_PURCHASE,
        CRM__V1__LIFECYCLE_STAGE__LIFECYCLE_STAGE_FIRST_PURCHASE,
        CRM__V1__LIFECYCLE_STAGE__LIFECYCLE_STAGE_REPEAT,
        CRM__V1__LIFECYCLE_STAGE__LIFECYCLE_STAGE_LOYAL,
    };
    for (size_t i = 0; i < sizeof expected2 / sizeof expected2[0]; i++) {
        char order[16];
        snprintf(order, sizeof order, "M-%zu", i);
        s_buy_ok(other, order, 10);
        cr_assert_eq(s_stage(other, NULL), expected2[i], "after purchase %zu", i + 1);
    }
    contacts_t *bad = NULL;
    contacts_settings_t wrong = { .repeat_purchases = 4, .loyal_purchases = 3 };
    cr_assert_eq(contacts_new(fx.store, fx.outbox, fx.ids, FX_SOURCE, &wrong, &bad), CRM_EINVALID);
    cr_assert_null(bad);
}

Test(history, risk_stages_survive_refunds_and_end_with_a_purchase)
{
    const char *id = fx_create_ok("{\"name\":\"W\"}");
    s_buy_ok(id, "W-1", 10);
    const char *second = s_buy_ok(id, "W-2", 10);
    cr_assert_eq(fx_update(id, "{\"lifecycleStage\":\"churned\"}", "lifecycleStage", 0, NULL), CRM_RPC_OK);
    cr_assert_eq(s_refund(id, second, "{\"amountMinor\":\"10\"}", NULL), CRM_RPC_OK);
    uint32_t count = 0;
    cr_assert_eq(s_stage(id, &count), CRM__V1__LIFECYCLE_STAGE__LIFECYCLE_STAGE_CHURNED);
    cr_assert_eq(count, 1);
    uint64_t head = fx_head();
    s_buy_ok(id, "W-3", 10);
    cr_assert_eq(s_stage(id, &count), CRM__V1__LIFECYCLE_STAGE__LIFECYCLE_STAGE_REPEAT, "won back");
    cr_assert_eq(count, 2);
    Crm__V1__CustomerUpdated *ev = NULL;
    char type[FX_TEXT_MAX];
    for (uint64_t seq = head + 1; seq <= fx_head(); seq++) {
        Crm__V1__Event *env = fx_event(seq, type);
        if (strcmp(type, CONTACTS_EVENT_CUSTOMER_UPDATED) == 0)
            cr_assert_eq(crm_event_data(env, &crm__v1__customer_updated__descriptor, (ProtobufCMessage **) &ev), 0);
        crm_event_destroy(&env);
    }
    cr_assert_not_null(ev);
    cr_assert_eq(ev->previous_stage, CRM__V1__LIFECYCLE_STAGE__LIFECYCLE_STAGE_CHURNED);
    cr_assert_eq(ev->customer->lifecycle_stage, CRM__V1__LIFECYCLE_STAGE__LIFECYCLE_STAGE_REPEAT);
    bool has_stage = false;
    for (size_t i = 0; i < ev->n_changed_fields; i++)
        has_stage = has_stage || strcmp(ev->changed_fields[i], "lifecycleStage") == 0;
    cr_assert(has_stage);
    fx_free(&ev);
}

Test(history, last_purchase_time_follows_refunds)
{
    const char *id = fx_create_ok("{\"name\":\"T\"}");
    cr_assert_eq(s_buy(id, "{\"orderId\":\"T-1\",\"amountMinor\":\"10\",\"currency\":\"EUR\","
                           "\"purchasedAt\":\"2025-01-01T00:00:00Z\"}", NULL), CRM_RPC_OK);
    Crm__V1__Purchase *late = NULL;
    cr_assert_eq(s_buy(id, "{\"orderId\":\"T-2\",\"amountMinor\":\"10\",\"currency\":\"EUR\","
                           "\"purchasedAt\":\"2025-06-01T00:00:00Z\"}", &late), CRM_RPC_OK);
    cr_assert_eq(s_buy(id, "{\"orderId\":\"T-3\",\"amountMinor\":\"10\",\"currency\":\"EUR\","
                           "\"purchasedAt\":\"2025-03-01T00:00:00Z\"}", NULL), CRM_RPC_OK);
    Crm__V1__Customer *c = fx_get(id);
    int64_t june = 0, march = 0;
    cr_assert_eq(crm_time_parse("2025-06-01T00:00:00Z", &june, &(int32_t) { 0 }), 0);
    cr_assert_eq(crm_time_parse("2025-03-01T00:00:00Z", &march, &(int32_t) { 0 }), 0);
    cr_assert_eq(c->last_purchase_at->seconds, june);
    fx_free(&c);
    cr_assert_eq(s_refund(id, late->id, "{\"amountMinor\":\"10\"}", NULL), CRM_RPC_OK);
    fx_free(&late);
    c = fx_get(id);
    cr_assert_eq(c->last_purchase_at->seconds, march);
    cr_assert_eq(c->purchase_count, 2);
    fx_free(&c);
}

Test(history, merge_moves_history_and_indexes)
{
    const char *a = fx_create_ok("{\"name\":\"Anna\",\"email\":\"anna@example.com\",\"tags\":[\"x\",\"y\"],"
                                 "\"interests\":[\"tea\"],\"customFields\":{\"size\":\"M\"},"
                                 "\"consent\":{\"email\":\"granted\"}}");
    const char *b = fx_create_ok("{\"name\":\"Anna B.\",\"email\":\"anna.b@example.com\",\"phone\":\"+4915112345678\","
                                 "\"tags\":[\"y\",\"z\"],\"interests\":[\"tea\",\"golf\"],\"occupation\":\"pilot\","
                                 "\"externalIds\":[{\"system\":\"shop\",\"id\":\"77\"}],"
                                 "\"customFields\":{\"size\":\"L\",\"vip\":true},\"consent\":{\"sms\":\"granted\"}}");
    s_buy_ok(a, "A-1", 100);
    const char *b_purchase = s_buy_ok(b, "B-1", 200);
    s_buy_ok(b, "B-2", 300);
    cr_assert_eq(s_log(a, "{\"channel\":\"chat\"}", NULL), CRM_RPC_OK);
    cr_assert_eq(s_log(b, "{\"channel\":\"phone\"}", NULL), CRM_RPC_OK);
    cr_assert_eq(s_log(b, "{\"channel\":\"visit\"}", NULL), CRM_RPC_OK);
    Crm__V1__Customer *before = fx_get(a);
    uint64_t version = before->version;
    fx_free(&before);

    Crm__V1__MergeCustomersRequest req = CRM__V1__MERGE_CUSTOMERS_REQUEST__INIT;
    req.survivor_id = (char *) a;
    req.merged_id = (char *) b;
    Crm__V1__CustomerReply *reply = NULL;
    cr_assert_eq(fx_call(CONTACTS_METHOD_MERGE_CUSTOMERS, &req.base, &crm__v1__customer_reply__descriptor,
                         (ProtobufCMessage **) &reply), CRM_RPC_OK, "%s", fx.err.message);
    Crm__V1__Customer *c = reply->customer;
    cr_assert_str_eq(c->id, a);
    cr_assert_str_eq(c->name, "Anna");
    cr_assert_str_eq(c->email, "anna@example.com", "the survivor's own value stays");
    cr_assert_str_eq(c->phone, "+4915112345678", "an empty field is filled");
    cr_assert_str_eq(c->occupation, "pilot");
    cr_assert_eq(c->n_tags, 3);
    cr_assert_str_eq(c->tags[2], "z");
    cr_assert_eq(c->n_interests, 2);
    cr_assert_eq(c->n_external_ids, 1);
    cr_assert_eq(c->n_custom_fields, 2);
    cr_assert_eq(c->consent->email, CRM__V1__CONSENT_STATE__CONSENT_STATE_GRANTED);
    cr_assert_eq(c->consent->sms, CRM__V1__CONSENT_STATE__CONSENT_STATE_GRANTED);
    cr_assert_eq(c->purchase_count, 3);
    cr_assert_eq(c->lifecycle_stage, CRM__V1__LIFECYCLE_STAGE__LIFECYCLE_STAGE_REPEAT);
    cr_assert_eq(c->version, version + 1);
    fx_free(&reply);

    Crm__V1__CustomerMerged *ev = (Crm__V1__CustomerMerged *)
        fx_last_event(CONTACTS_EVENT_CUSTOMER_MERGED, &crm__v1__customer_merged__descriptor, a);
    cr_assert_str_eq(ev->survivor_id, a);
    cr_assert_str_eq(ev->merged_id, b);
    cr_assert_eq(ev->survivor->purchase_count, 3);
    fx_free(&ev);
    cr_assert_null(fx_get(b));

    int64_t seconds[10];
    cr_assert_eq(s_list_seconds(CONTACTS_METHOD_LIST_INTERACTIONS, a, seconds, 10), 3);
    cr_assert_eq(s_list_seconds(CONTACTS_METHOD_LIST_PURCHASES, a, seconds, 10), 3);
    /* The merged customer's unique values and history now lead to the survivor. */
    char found[CRM_ID_SIZE];
    crm_txn_t *txn = NULL;
    const contacts_db_t *db = contacts_db(fx.contacts);
    cr_assert_eq(crm_store_read_begin(fx.store, &txn), 0);
    cr_assert_eq(contacts_customer_find_phone(db, txn, "+4915112345678", found), 0);
    cr_assert_str_eq(found, a);
    cr_assert_eq(contacts_customer_find_external(db, txn, "shop", "77", found), 0);
    cr_assert_str_eq(found, a);
    cr_assert_eq(contacts_customer_find_email(db, txn, "anna.b@example.com", found), CRM_ENOTFOUND);
    Crm__V1__Purchase *moved = NULL;
    cr_assert_eq(contacts_purchase_find_order(db, txn, "B-1", &moved), 0);
    cr_assert_str_eq(moved->customer_id, a);
    fx_free(&moved);
    crm_store_txn_end(&txn);
    cr_assert_eq(s_refund(a, b_purchase, "{\"amountMinor\":\"200\"}", NULL), CRM_RPC_OK);
    uint32_t count = 0;
    s_stage(a, &count);
    cr_assert_eq(count, 2);
    /* B's old email is free; merging with itself or with nobody is refused. */
    fx_create_ok("{\"name\":\"New B\",\"email\":\"anna.b@example.com\"}");
    req.merged_id = (char *) a;
    cr_assert_eq(fx_call(CONTACTS_METHOD_MERGE_CUSTOMERS, &req.base, NULL, NULL), CRM_RPC_INVALID);
    cr_assert_str_eq(fx.err.field, "mergedId");
    req.merged_id = (char *) b;
    cr_assert_eq(fx_call(CONTACTS_METHOD_MERGE_CUSTOMERS, &req.base, NULL, NULL), CRM_RPC_NOT_FOUND);
    cr_assert_str_eq(fx.err.field, "mergedId");
    req.survivor_id = (char *) "01ARZ3NDEKTSV4RRFFQ69G5FAV";
    cr_assert_eq(fx_call(CONTACTS_METHOD_MERGE_CUSTOMERS, &req.base, NULL, NULL), CRM_RPC_NOT_FOUND);
    cr_assert_str_eq(fx.err.field, "survivorId");
}
