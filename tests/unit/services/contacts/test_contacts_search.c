/* test_contacts_search.c: searching customers by every filter, served from the indexes, and paging through thousands. */
#include "contacts_fixture.h"

#include "crm/v1/contacts.pb-c.h"

#define BULK_CUSTOMERS   3000
#define BULK_PAGE        97
#define ADDED_PER_PAGE   2
#define MAX_SEEN         (BULK_CUSTOMERS + 1000)

TestSuite(search, .init = fx_setup, .fini = fx_teardown, .timeout = 60);

/* The small cast: letters A..E for the ids, in creation (and so id) order. */
static char s_ids[5][CRM_ID_SIZE];

static void
s_cast(void)
{
    const char *people[] = {
        "{\"name\":\"Ada Lovelace\",\"email\":\"ada@example.com\",\"phone\":\"+44 20 7946 0958\","
        "\"tags\":[\"vip\"],\"valueTier\":\"high\",\"needType\":\"quality_seeking\",\"owner\":\"ann\","
        "\"customFields\":{\"tier\":\"gold\",\"score\":12.5,\"newsletter\":true},"
        "\"externalIds\":[{\"system\":\"shop\",\"id\":\"1\"}]}",
        "{\"name\":\"Adam Smith\",\"email\":\"adam@example.com\",\"tags\":[\"VIP\",\"b2b\"],"
        "\"valueTier\":\"low\",\"needType\":\"price_sensitive\",\"owner\":\"bob\","
        "\"customFields\":{\"tier\":\"silver\",\"score\":3}}",
        "{\"name\":\"Bob Ross\",\"tags\":[\"b2b\"],\"owner\":\"ann\",\"valueTier\":\"high\"}",
        "{\"name\":\"\xc3\xa5" "dne \xc3\x98vre\",\"needType\":\"service_seeking\"}",
        "{\"name\":\"Christopher Columbus Smith\",\"lifecycleStage\":\"churned\"}",
    };
    for (size_t i = 0; i < 5; i++)
        snprintf(s_ids[i], CRM_ID_SIZE, "%s", fx_create_ok(people[i]));
}

/* Runs a search and writes the letters of the customers found into out, in order. */
static crm_rpc_status_t
s_search(const char *json, char *out, size_t size)
{
    Crm__V1__SearchCustomersRequest *req = (Crm__V1__SearchCustomersRequest *)
        fx_json(&crm__v1__search_customers_request__descriptor, json);
    Crm__V1__SearchCustomersReply *reply = NULL;
    crm_rpc_status_t status = fx_call(CONTACTS_METHOD_SEARCH_CUSTOMERS, &req->base,
                                      &crm__v1__search_customers_reply__descriptor,
                                      (ProtobufCMessage **) &reply);
    size_t n = 0;
    out[0] = '\0';
    if (status == CRM_RPC_OK) {
        cr_assert_str_eq(reply->next_page_token, "");
        for (size_t i = 0; i < reply->n_customers && n + 1 < size; i++) {
            char letter = '?';
            for (int k = 0; k < 5; k++)
                if (strcmp(reply->customers[i]->id, s_ids[k]) == 0)
                    letter = (char) ('A' + k);
            out[n++] = letter;
        }
        out[n] = '\0';
    }
    fx_free(&reply);
    fx_free(&req);
    return status;
}

static void
s_expect(const char *json, const char *letters)
{
    char got[32];
    crm_rpc_status_t status = s_search(json, got, sizeof got);
    cr_assert_eq(status, CRM_RPC_OK, "%s: %s %s", json, fx.err.field, fx.err.message);
    cr_assert_str_eq(got, letters, "search %s found %s, expected %s", json, got, letters);
}

Test(search, each_filter)
{
    s_cast();
    s_expect("{}", "ABCDE");
    s_expect("{\"namePrefix\":\"ad\"}", "AB");
    s_expect("{\"namePrefix\":\"ADA \"}", "A");
    s_expect("{\"namePrefix\":\"Bob Ross\"}", "C");
    s_expect("{\"namePrefix\":\"Bob Rossi\"}", "");
    s_expect("{\"namePrefix\":\"\xc3\xa5" "dn\"}", "D");
    s_expect("{\"namePrefix\":\"christopher columbus s\"}", "E");     /* longer than the indexed prefix */
    s_expect("{\"namePrefix\":\"christopher columbus x\"}", "");
    s_expect("{\"email\":\"ADA@Example.com\"}", "A");
    s_expect("{\"email\":\"nobody@example.com\"}", "");
    s_expect("{\"phone\":\"+442079460958\"}", "A");
    s_expect("{\"phone\":\"+44 (20) 7946-0958\"}", "A");
    s_expect("{\"tag\":\"vip\"}", "AB");
    s_expect("{\"tag\":\"B2B\"}", "BC");
    s_expect("{\"valueTier\":\"high\"}", "AC");
    s_expect("{\"needType\":\"price_sensitive\"}", "B");
    s_expect("{\"needType\":\"service_seeking\"}", "D");
    s_expect("{\"lifecycleStage\":\"prospect\"}", "ABCD");
    s_expect("{\"lifecycleStage\":\"churned\"}", "E");
    s_expect("{\"owner\":\"ann\"}", "AC");
    s_expect("{\"owner\":\"Ann\"}", "");
    s_expect("{\"customField\":\"tier\",\"customValue\":\"gold\"}", "A");
    s_expect("{\"customField\":\"score\",\"customValue\":\"12.5\"}", "A");
    s_expect("{\"customField\":\"score\",\"customValue\":\"3\"}", "B");
    s_expect("{\"customField\":\"newsletter\",\"customValue\":\"true\"}", "A");
    s_expect("{\"externalSystem\":\"shop\",\"externalId\":\"1\"}", "A");
    s_expect("{\"externalSystem\":\"shop\",\"externalId\":\"2\"}", "");
    /* Every filter must hold. */
    s_expect("{\"tag\":\"b2b\",\"owner\":\"ann\"}", "C");
    s_expect("{\"valueTier\":\"high\",\"namePrefix\":\"ad\"}", "A");
    s_expect("{\"email\":\"ada@example.com\",\"owner\":\"bob\"}", "");
    s_expect("{\"phone\":\"+442079460958\",\"tag\":\"vip\",\"customField\":\"tier\",\"customValue\":\"gold\"}", "A");
    s_expect("{\"tag\":\"vip\",\"needType\":\"price_sensitive\",\"valueTier\":\"low\",\"owner\":\"bob\"}", "B");
}

Test(search, indexes_follow_updates_and_deletes)
{
    s_cast();
    cr_assert_eq(fx_update(s_ids[1], "{\"tags\":[\"b2b\"],\"name\":\"Zed\",\"owner\":\"ann\"}",
                           "tags,name,owner", 0, NULL), CRM_RPC_OK);
    s_expect("{\"tag\":\"vip\"}", "A");
    s_expect("{\"namePrefix\":\"ad\"}", "A");
    s_expect("{\"namePrefix\":\"z\"}", "B");
    s_expect("{\"owner\":\"ann\"}", "ABC");
    s_expect("{\"owner\":\"bob\"}", "");
    cr_assert_eq(fx_update(s_ids[0], "{\"customFields\":{\"tier\":\"silver\"}}", "customFields.tier", 0, NULL),
                 CRM_RPC_OK);
    s_expect("{\"customField\":\"tier\",\"customValue\":\"gold\"}", "");
    s_expect("{\"customField\":\"tier\",\"customValue\":\"silver\"}", "AB");
    Crm__V1__DeleteCustomerRequest del = CRM__V1__DELETE_CUSTOMER_REQUEST__INIT;
    del.id = s_ids[0];
    cr_assert_eq(fx_call(CONTACTS_METHOD_DELETE_CUSTOMER, &del.base, NULL, NULL), CRM_RPC_OK);
    s_expect("{\"tag\":\"vip\"}", "");
    s_expect("{\"email\":\"ada@example.com\"}", "");
    s_expect("{\"phone\":\"+442079460958\"}", "");
    s_expect("{\"valueTier\":\"high\"}", "C");
    s_expect("{}", "BCDE");
}

Test(search, bad_filters_name_their_field)
{
    static const struct {
        const char *json;
        const char *field;
    } cases[] = {
        { "{\"customField\":\"tier\"}", "customValue" },
        { "{\"customValue\":\"gold\"}", "customField" },
        { "{\"externalSystem\":\"shop\"}", "externalId" },
        { "{\"externalId\":\"1\"}", "externalSystem" },
        { "{\"phone\":\"12\"}", "phone" },
        { "{\"pageToken\":\"garbage!\"}", "pageToken" },
        { "{\"pageToken\":\"AAAA\"}", "pageToken" },
    };
    char got[32];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cr_assert_eq(s_search(cases[i].json, got, sizeof got), CRM_RPC_INVALID, "%s", cases[i].json);
        cr_assert_str_eq(fx.err.field, cases[i].field, "%s", cases[i].json);
    }
    /* An enum number the contract does not know (JSON refuses it; protobuf carries it). */
    Crm__V1__SearchCustomersRequest req = CRM__V1__SEARCH_CUSTOMERS_REQUEST__INIT;
    req.value_tier = (Crm__V1__ValueTier) 99;
    cr_assert_eq(fx_call(CONTACTS_METHOD_SEARCH_CUSTOMERS, &req.base, NULL, NULL), CRM_RPC_INVALID);
    cr_assert_str_eq(fx.err.field, "valueTier");
}

/* --- Paging through thousands */

typedef struct {
    const contacts_ctx_t *ctx;
    int first, count;
} s_bulk_t;

static int
s_bulk_body(crm_txn_t *txn, void *arg)
{
    s_bulk_t *b = arg;
    char json[256];
    int rc = 0;
    for (int i = b->first; rc == 0 && i < b->first + b->count; i++) {
        snprintf(json, sizeof json, "{\"name\":\"Customer %05d\",\"email\":\"c%05d@example.com\","
                 "\"tags\":[\"%s\"],\"owner\":\"%s\"}", i, i, i % 3 == 0 ? "gold" : "plain",
                 i % 2 ? "ann" : "bob");
        Crm__V1__Customer *c = (Crm__V1__Customer *) fx_json(&crm__v1__customer__descriptor, json);
        contacts_err_t err;
        rc = contacts_validate_customer(c, true, &err);
        if (rc == 0)
            rc = contacts_op_create(b->ctx, txn, c, &err);
        fx_free(&c);
    }
    return rc;
}

/* Pages through a search, creating customers between pages; returns the number of customers seen
 * and checks that they come in strictly increasing id order (so none twice). */
static size_t
s_page_through(const char *filter_json, char (*seen)[CRM_ID_SIZE], size_t max_seen, int *next_new)
{
    char token[CONTACTS_PAGE_TOKEN_MAX] = "";
    size_t n = 0;
    int pages = 0, out_of_order = 0;
    for (;;) {
        Crm__V1__SearchCustomersRequest *req = (Crm__V1__SearchCustomersRequest *)
            fx_json(&crm__v1__search_customers_request__descriptor, filter_json);
        req->page_size = BULK_PAGE;
        char *saved = req->page_token;
        req->page_token = token;
        Crm__V1__SearchCustomersReply *reply = NULL;
        crm_rpc_status_t status = fx_call(CONTACTS_METHOD_SEARCH_CUSTOMERS, &req->base,
                                          &crm__v1__search_customers_reply__descriptor,
                                          (ProtobufCMessage **) &reply);
        req->page_token = saved;
        fx_free(&req);
        cr_assert_eq(status, CRM_RPC_OK, "%s", fx.err.message);
        cr_assert_leq(reply->n_customers, BULK_PAGE);
        for (size_t i = 0; i < reply->n_customers && n < max_seen; i++) {
            if (n > 0 && strcmp(seen[n - 1], reply->customers[i]->id) >= 0)
                out_of_order++;
            snprintf(seen[n++], CRM_ID_SIZE, "%s", reply->customers[i]->id);
        }
        bool last = reply->next_page_token[0] == '\0';
        if (!last)
            cr_assert_eq(reply->n_customers, BULK_PAGE, "only the last page may be short");
        snprintf(token, sizeof token, "%s", reply->next_page_token);
        fx_free(&reply);
        pages++;
        if (last)
            break;
        /* Customers created between pages must neither shift nor repeat what follows. */
        for (int k = 0; k < ADDED_PER_PAGE; k++) {
            char json[128];
            snprintf(json, sizeof json, "{\"name\":\"Customer late %d\",\"tags\":[\"gold\"],\"owner\":\"ann\"}",
                     (*next_new)++);
            fx_create_ok(json);
        }
    }
    cr_assert_eq(out_of_order, 0, "%d customers out of id order (repeats or reordering)", out_of_order);
    cr_assert_gt(pages, 1);
    return n;
}

/* True when id is among the n sorted ids. */
static bool
s_seen(char (*seen)[CRM_ID_SIZE], size_t n, const char *id)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(seen[mid], id);
        if (c == 0)
            return true;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

Test(search, paging_through_thousands_misses_and_repeats_nothing)
{
    s_bulk_t bulk = { .ctx = contacts_ctx(fx.contacts), .first = 0, .count = BULK_CUSTOMERS };
    cr_assert_eq(crm_store_write(fx.store, s_bulk_body, &bulk), 0);
    /* Every original customer, by id, from the records. */
    char (*all)[CRM_ID_SIZE] = calloc(BULK_CUSTOMERS, CRM_ID_SIZE);
    char (*seen)[CRM_ID_SIZE] = calloc(MAX_SEEN, CRM_ID_SIZE);
    cr_assert(all && seen);
    {
        crm_txn_t *txn = NULL;
        crm_cursor_t *cur = NULL;
        crm_val_t k;
        size_t n = 0;
        cr_assert_eq(crm_store_read_begin(fx.store, &txn), 0);
        cr_assert_eq(crm_cursor_open(txn, contacts_db(fx.contacts)->customers, &cur), 0);
        for (int rc = crm_cursor_first(cur, &k, NULL); rc == 0 && n < BULK_CUSTOMERS;
             rc = crm_cursor_next(cur, &k, NULL))
            snprintf(all[n++], CRM_ID_SIZE, "%.*s", (int) k.size, (const char *) k.data);
        crm_cursor_close(&cur);
        crm_store_txn_end(&txn);
        cr_assert_eq(n, BULK_CUSTOMERS);
    }
    int next_new = 0;
    struct {
        const char *filter;
        int expected;          /* originals that match */
    } runs[] = {
        { "{}", BULK_CUSTOMERS },
        { "{\"tag\":\"gold\"}", (BULK_CUSTOMERS + 2) / 3 },
        { "{\"namePrefix\":\"customer 01\"}", 1000 },
        { "{\"tag\":\"gold\",\"owner\":\"ann\"}", BULK_CUSTOMERS / 6 },
    };
    for (size_t r = 0; r < sizeof runs / sizeof runs[0]; r++) {
        int added_before = next_new;
        size_t n = s_page_through(runs[r].filter, seen, MAX_SEEN, &next_new);
        /* Which originals were seen: exactly the matching ones. */
        size_t originals = 0;
        for (int i = 0; i < BULK_CUSTOMERS; i++)
            originals += s_seen(seen, n, all[i]);
        cr_assert_eq(originals, (size_t) runs[r].expected, "%s: %zu of %d originals seen", runs[r].filter,
                     originals, runs[r].expected);
        /* Customers added while paging sort after the cursor, so they show up too when they match
         * (those of earlier runs as well): at least those added during this run. */
        if (strcmp(runs[r].filter, "{\"namePrefix\":\"customer 01\"}") != 0)
            cr_assert_geq(n - originals, (size_t) (next_new - added_before));
    }
    free(all);
    free(seen);
}

Test(search, page_size_default_and_limit)
{
    s_bulk_t bulk = { .ctx = contacts_ctx(fx.contacts), .first = 0, .count = CONTACTS_PAGE_SIZE_MAX + 10 };
    cr_assert_eq(crm_store_write(fx.store, s_bulk_body, &bulk), 0);
    Crm__V1__SearchCustomersRequest req = CRM__V1__SEARCH_CUSTOMERS_REQUEST__INIT;
    Crm__V1__SearchCustomersReply *reply = NULL;
    cr_assert_eq(fx_call(CONTACTS_METHOD_SEARCH_CUSTOMERS, &req.base, &crm__v1__search_customers_reply__descriptor,
                         (ProtobufCMessage **) &reply), CRM_RPC_OK);
    cr_assert_eq(reply->n_customers, CONTACTS_PAGE_SIZE_DEFAULT);
    cr_assert_neq(reply->next_page_token[0], '\0');
    fx_free(&reply);
    req.page_size = 100000;
    cr_assert_eq(fx_call(CONTACTS_METHOD_SEARCH_CUSTOMERS, &req.base, &crm__v1__search_customers_reply__descriptor,
                         (ProtobufCMessage **) &reply), CRM_RPC_OK);
    cr_assert_eq(reply->n_customers, CONTACTS_PAGE_SIZE_MAX);
    fx_free(&reply);
    /* An exact fit leaves no token behind. */
    req.page_size = 1;
    req.email = (char *) "c00007@example.com";
    cr_assert_eq(fx_call(CONTACTS_METHOD_SEARCH_CUSTOMERS, &req.base, &crm__v1__search_customers_reply__descriptor,
                         (ProtobufCMessage **) &reply), CRM_RPC_OK);
    cr_assert_eq(reply->n_customers, 1);
    cr_assert_str_eq(reply->next_page_token, "");
    fx_free(&reply);
}
