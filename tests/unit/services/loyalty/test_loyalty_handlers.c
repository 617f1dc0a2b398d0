/* test_loyalty_handlers.c: request methods (bad input, paging, balance) and contacts events (referrals, merges, deletions, erasure, malformed events). */
#include "loyalty_fixture.h"

#include "crm/v1/feedback.pb-c.h"

#include "loyalty_tiers.h"

static void s_setup(void)
{
    fx_setup();
}

TestSuite(loyalty_handlers, .init = s_setup, .fini = fx_teardown, .timeout = 60);

static crm_rpc_status_t s_raw(const char *method, const char *role, const void *body, size_t len, char *field)
{
    loyalty_caller_t caller = { "key-1", role };
    loyalty_answer_t ans;
    loyalty_handle(fx.ly, method, &caller, body, len, &ans);
    if (field)
        snprintf(field, LOYALTY_FIELD_MAX, "%s", ans.field);
    crm_rpc_status_t status = ans.status;
    loyalty_answer_clear(&ans);
    return status;
}

static Crm__V1__BalanceReply *s_balance(const char *customer)
{
    Crm__V1__CustomerLoyaltyRequest req = CRM__V1__CUSTOMER_LOYALTY_REQUEST__INIT;
    req.customer_id = (char *) customer;
    Crm__V1__BalanceReply *rep = NULL;
    cr_assert_eq(fx_call("loyalty.GetBalance", "agent", &req.base, &crm__v1__balance_reply__descriptor,
                         (ProtobufCMessage **) &rep, NULL), CRM_RPC_OK);
    return rep;
}

Test(loyalty_handlers, bad_requests_get_the_status_and_the_field)
{
    char field[LOYALTY_FIELD_MAX];
    cr_assert_eq(s_raw("loyalty.NoSuchMethod", "admin", NULL, 0, NULL), CRM_RPC_UNKNOWN_METHOD);
    cr_assert_eq(s_raw("contacts.GetBalance", "admin", NULL, 0, NULL), CRM_RPC_UNKNOWN_METHOD);
    static const uint8_t garbage[] = { 0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f };
    cr_assert_eq(s_raw("loyalty.GetBalance", "agent", garbage, sizeof garbage, NULL), CRM_RPC_INVALID);
    cr_assert_eq(s_raw("loyalty.GetBalance", "agent", NULL, 0, field), CRM_RPC_INVALID);
    cr_assert_str_eq(field, "customerId");
    Crm__V1__StatementRequest st = CRM__V1__STATEMENT_REQUEST__INIT;
    char c[CRM_ID_SIZE];
    fx_customer(c);
    st.customer_id = c;
    st.page_token = "abc";
    cr_assert_eq(fx_call("loyalty.GetStatement", "agent", &st.base, NULL, NULL, field), CRM_RPC_INVALID);
    cr_assert_str_eq(field, "pageToken");
    Crm__V1__RecordActivityRequest act = CRM__V1__RECORD_ACTIVITY_REQUEST__INIT;
    act.customer_id = c;
    act.kind = CRM__V1__EARN_KIND__EARN_KIND_PURCHASE;
    cr_assert_eq(fx_call("loyalty.RecordActivity", "integrator", &act.base, NULL, NULL, field), CRM_RPC_INVALID);
    cr_assert_str_eq(field, "kind");
    act.kind = CRM__V1__EARN_KIND__EARN_KIND_SURVEY;
    cr_assert_eq(fx_call("loyalty.RecordActivity", "integrator", &act.base, NULL, NULL, field), CRM_RPC_INVALID);
    cr_assert_str_eq(field, "activityId");
    Crm__V1__Tier tier = CRM__V1__TIER__INIT;
    tier.id = "diamond";
    tier.rank = 2;                       /* gold's */
    Crm__V1__PutTierRequest treq = CRM__V1__PUT_TIER_REQUEST__INIT;
    treq.tier = &tier;
    cr_assert_eq(fx_call("loyalty.PutTier", "admin", &treq.base, NULL, NULL, field), CRM_RPC_CONFLICT);
    cr_assert_str_eq(field, "tier.rank");
    tier.id = "";
    cr_assert_eq(fx_call("loyalty.PutTier", "admin", &treq.base, NULL, NULL, field), CRM_RPC_INVALID);
    cr_assert_str_eq(field, "tier.id");
    Crm__V1__ListTiersRequest lt = CRM__V1__LIST_TIERS_REQUEST__INIT;
    Crm__V1__ListTiersReply *tiers = NULL;
    cr_assert_eq(fx_call("loyalty.ListTiers", "agent", &lt.base, &crm__v1__list_tiers_reply__descriptor,
                         (ProtobufCMessage **) &tiers, NULL), CRM_RPC_OK);
    cr_assert_eq(tiers->n_tiers, 4);
    cr_assert_str_eq(tiers->tiers[0]->id, "bronze");
    cr_assert_str_eq(tiers->tiers[3]->id, "platinum");
    cr_assert(tiers->tiers[3]->vip);
    crm_codec_message_free((ProtobufCMessage **) &tiers);
}

Test(loyalty_handlers, the_statement_pages_newest_first_without_gaps)
{
    char c[CRM_ID_SIZE];
    fx_customer(c);
    for (int i = 0; i < 120; i++)
        fx_give(c, i + 1);
    Crm__V1__StatementRequest req = CRM__V1__STATEMENT_REQUEST__INIT;
    req.customer_id = c;
    uint64_t expect = 120;
    int pages = 0;
    char token[32] = "";
    do {
        req.page_token = token;
        Crm__V1__StatementReply *rep = NULL;
        cr_assert_eq(fx_call("loyalty.GetStatement", "agent", &req.base, &crm__v1__statement_reply__descriptor,
                             (ProtobufCMessage **) &rep, NULL), CRM_RPC_OK);
        for (size_t i = 0; i < rep->n_entries; i++) {
            cr_assert_eq(rep->entries[i]->seq, expect);
            cr_assert_eq(rep->entries[i]->points, (int64_t) expect);
            expect--;
        }
        cr_assert_eq(rep->balance, 120 * 121 / 2);
        snprintf(token, sizeof token, "%s", rep->next_page_token);
        crm_codec_message_free((ProtobufCMessage **) &rep);
        pages++;
    } while (token[0]);
    cr_assert_eq(expect, 0);
    cr_assert_eq(pages, 3);
    Crm__V1__BalanceReply *bal = s_balance(c);
    cr_assert_eq(bal->balance, 120 * 121 / 2);
    cr_assert_eq(bal->next_expiry_points, 120 * 121 / 2);    /* all earned today */
    cr_assert_eq(loyalty_ts_us(bal->next_expiry_at), FX_T0 + 365 * FX_DAY);
    cr_assert_str_eq(bal->tier, "bronze");
    crm_codec_message_free((ProtobufCMessage **) &bal);
    /* A customer loyalty never heard of has an empty account. */
    char nobody[CRM_ID_SIZE];
    fx_customer(nobody);
    bal = s_balance(nobody);
    cr_assert_eq(bal->balance, 0);
    cr_assert_null(bal->next_expiry_at);
    crm_codec_message_free((ProtobufCMessage **) &bal);
}

Test(loyalty_handlers, a_referral_rewards_both_at_the_first_purchase)
{
    char referrer[CRM_ID_SIZE], friend_[CRM_ID_SIZE], other[CRM_ID_SIZE];
    fx_customer(referrer);
    fx_customer(friend_);
    fx_customer(other);
    Crm__V1__RecordActivityRequest req = CRM__V1__RECORD_ACTIVITY_REQUEST__INIT;
    req.customer_id = friend_;
    req.kind = CRM__V1__EARN_KIND__EARN_KIND_REFERRAL;
    req.referrer_id = referrer;
    cr_assert_eq(fx_call("loyalty.RecordActivity", "integrator", &req.base, NULL, NULL, NULL), CRM_RPC_OK);
    cr_assert_eq(fx_account(referrer).balance, 0);
    cr_assert_eq(fx_purchase(friend_, "f1", 1000, "CNY", fx.now), 0);
    cr_assert_eq(fx_account(referrer).balance, 200);
    cr_assert_eq(fx_account(friend_).balance, 10 + 50 + 200);
    cr_assert_eq(fx_purchase(friend_, "f2", 1000, "CNY", fx.now), 0);
    cr_assert_eq(fx_account(referrer).balance, 200);
    /* A referral rule can reward one side only; a customer named by contacts' referredBy field. */
    Crm__V1__EarnRule rule = CRM__V1__EARN_RULE__INIT;
    rule.id = "referral";
    rule.kind = CRM__V1__EARN_KIND__EARN_KIND_REFERRAL;
    rule.fixed_points = 300;
    rule.referral_target = CRM__V1__REFERRAL_TARGET__REFERRAL_TARGET_REFERRER;
    Crm__V1__PutRuleRequest put = CRM__V1__PUT_RULE_REQUEST__INIT;
    put.rule = &rule;
    cr_assert_eq(fx_call("loyalty.PutRule", "admin", &put.base, NULL, NULL, NULL), CRM_RPC_OK);
    Crm__V1__Value value = CRM__V1__VALUE__INIT;
    value.kind_case = CRM__V1__VALUE__KIND_STRING_VALUE;
    value.string_value = referrer;
    Crm__V1__Customer__CustomFieldsEntry entry = CRM__V1__CUSTOMER__CUSTOM_FIELDS_ENTRY__INIT;
    entry.key = "referredBy";
    entry.value = &value;
    Crm__V1__Customer__CustomFieldsEntry *entries[] = { &entry };
    Crm__V1__Customer cust = CRM__V1__CUSTOMER__INIT;
    cust.id = other;
    cust.n_custom_fields = 1;
    cust.custom_fields = entries;
    Crm__V1__CustomerCreated created = CRM__V1__CUSTOMER_CREATED__INIT;
    created.customer = &cust;
    cr_assert_eq(fx_event("crm.contacts.customer.created.v1", &created.base), 0);
    cr_assert_eq(fx_purchase(other, "o1", 1000, "CNY", fx.now), 0);
    cr_assert_eq(fx_account(referrer).balance, 500);
    cr_assert_eq(fx_account(other).balance, 10 + 50);
}

/* Feedback's answer.received as the subscriber would apply it. */
static int s_answer(const char *customer_id, const char *answer_id)
{
    Crm__V1__Timestamp at;
    Crm__V1__Answer a = CRM__V1__ANSWER__INIT;
    a.id = (char *) answer_id;
    a.customer_id = (char *) customer_id;
    a.score = 9;
    a.answered_at = loyalty_ts_set(&at, fx.now);
    Crm__V1__AnswerReceived ev = CRM__V1__ANSWER_RECEIVED__INIT;
    ev.answer = &a;
    return fx_event("crm.feedback.answer.received.v1", &ev.base);
}

Test(loyalty_handlers, a_survey_answer_earns_the_survey_points_once_within_the_daily_cap)
{
    char customer[CRM_ID_SIZE];
    fx_customer(customer);
    cr_assert_eq(s_answer(customer, "ans-1"), 0);
    cr_assert_eq(fx_account(customer).balance, 20, "the default survey rule: 20 points");
    cr_assert_eq(s_answer(customer, "ans-1"), 0);
    cr_assert_eq(fx_account(customer).balance, 20, "the same answer again earns nothing");
    for (int i = 2; i <= 7; i++) {
        char id[16];
        snprintf(id, sizeof id, "ans-%d", i);
        cr_assert_eq(s_answer(customer, id), 0);
    }
    cr_assert_eq(fx_account(customer).balance, 100, "at most 5 surveys a day earn");
    char why[256];
    cr_assert_eq(fx_check(customer, why, sizeof why), 0, "%s", why);
    /* An answer without a customer or an id is refused as malformed. */
    cr_assert_eq(s_answer("not-an-id", "ans-9"), CRM_EINVALID);
    cr_assert_eq(s_answer(customer, ""), CRM_EINVALID);
}

Test(loyalty_handlers, a_merge_moves_points_purchases_and_redemptions_to_the_survivor)
{
    char survivor[CRM_ID_SIZE], merged[CRM_ID_SIZE];
    fx_customer(survivor);
    fx_customer(merged);
    cr_assert_eq(fx_purchase(survivor, "s1", 60000, "CNY", fx.now), 0);       /* 600 + 50 */
    cr_assert_eq(fx_purchase(merged, "m1", 50000, "CNY", fx.now), 0);         /* 500 + 50 */
    fx_reward("mug", 100, 5);
    Crm__V1__RedemptionReply *red = NULL;
    cr_assert_eq(fx_redeem(merged, "mug", NULL, &red), CRM_RPC_OK);
    char redemption[CRM_ID_SIZE];
    snprintf(redemption, sizeof redemption, "%s", red->redemption->id);
    crm_codec_message_free((ProtobufCMessage **) &red);
    uint64_t head = fx_head();
    Crm__V1__CustomerMerged m = CRM__V1__CUSTOMER_MERGED__INIT;
    m.survivor_id = survivor;
    m.merged_id = merged;
    cr_assert_eq(fx_event("crm.contacts.customer.merged.v1", &m.base), 0);
    cr_assert_eq(fx_events(head, LOYALTY_TOPIC_MERGED, NULL, NULL), 2);
    loyalty_account_t s = fx_account(survivor), g = fx_account(merged);
    cr_assert_eq(s.balance, 650 + 450);
    cr_assert_eq(g.balance, 0);
    cr_assert(g.closed);
    cr_assert_str_eq(g.merged_into, survivor);
    cr_assert_eq(s.purchase_count, 2);
    /* Together they cross silver's threshold (1,000.00 and two purchases). */
    cr_assert_str_eq(s.tier, "silver");
    head = fx_head();
    cr_assert_eq(fx_event("crm.contacts.customer.merged.v1", &m.base), 0);   /* once */
    cr_assert_eq(fx_head(), head);
    /* The merged customer's purchase now belongs to the survivor: its refund reverses there. */
    cr_assert_eq(fx_refund(survivor, "m1", 50000, "rm1", 50000, 50000), 0);
    cr_assert_eq(fx_account(survivor).balance, 650 + 450 - 500);
    /* A cancelled redemption of the merged customer gives its points to the survivor. */
    Crm__V1__RedemptionActionRequest cancel = CRM__V1__REDEMPTION_ACTION_REQUEST__INIT;
    cancel.redemption_id = redemption;
    cr_assert_eq(fx_call("loyalty.CancelRedemption", "agent", &cancel.base, NULL, NULL, NULL), CRM_RPC_OK);
    cr_assert_eq(fx_account(survivor).balance, 650 + 450 - 500 + 100);
    Crm__V1__ListRedemptionsRequest lreq = CRM__V1__LIST_REDEMPTIONS_REQUEST__INIT;
    lreq.customer_id = survivor;
    Crm__V1__ListRedemptionsReply *lrep = NULL;
    cr_assert_eq(fx_call("loyalty.ListRedemptions", "agent", &lreq.base, &crm__v1__list_redemptions_reply__descriptor,
                         (ProtobufCMessage **) &lrep, NULL), CRM_RPC_OK);
    cr_assert_eq(lrep->n_redemptions, 1);
    crm_codec_message_free((ProtobufCMessage **) &lrep);
    /* Later events for the merged id earn nothing. */
    cr_assert_eq(fx_purchase(merged, "m2", 50000, "CNY", fx.now), 0);
    cr_assert_eq(fx_account(merged).balance, 0);
    cr_assert_eq(fx_check(survivor, NULL, 0), 0);
    cr_assert_eq(fx_check(merged, NULL, 0), 0);
}

Test(loyalty_handlers, deleted_customers_forfeit_their_points_and_erased_ones_their_birthday)
{
    char c[CRM_ID_SIZE], e[CRM_ID_SIZE];
    fx_customer(c);
    fx_customer(e);
    cr_assert_eq(fx_purchase(c, "o1", 30000, "CNY", fx.now), 0);
    uint64_t head = fx_head();
    Crm__V1__CustomerDeleted del = CRM__V1__CUSTOMER_DELETED__INIT;
    del.customer_id = c;
    cr_assert_eq(fx_event("crm.contacts.customer.deleted.v1", &del.base), 0);
    cr_assert_eq(fx_events(head, LOYALTY_TOPIC_CLOSED, NULL, NULL), 1);
    loyalty_account_t acc = fx_account(c);
    cr_assert(acc.closed);
    cr_assert_eq(acc.balance, 0);
    cr_assert_eq(fx_purchase(c, "o2", 30000, "CNY", fx.now), 0);
    cr_assert_eq(fx_account(c).balance, 0);
    Crm__V1__RedeemRequest req = CRM__V1__REDEEM_REQUEST__INIT;
    fx_reward("pen", 1, -1);
    req.customer_id = c;
    req.reward_id = "pen";
    char field[LOYALTY_FIELD_MAX];
    cr_assert_eq(fx_call("loyalty.Redeem", "agent", &req.base, NULL, NULL, field), CRM_RPC_CONFLICT);
    cr_assert_str_eq(field, "customerId");
    cr_assert_eq(fx_check(c, NULL, 0), 0);

    /* Erased: the birthday is forgotten, so no bonus comes. */
    cr_assert_eq(fx_customer_created(e, "1990-03-12", fx.now), 0);
    cr_assert_str_eq(fx_account(e).birthday, "1990-03-12");
    Crm__V1__CustomerErased er = CRM__V1__CUSTOMER_ERASED__INIT;
    er.customer_id = e;
    cr_assert_eq(fx_event("crm.contacts.customer.erased.v1", &er.base), 0);
    cr_assert_str_eq(fx_account(e).birthday, "");
    fx_advance(3 * FX_DAY);
    cr_assert_eq(fx_account(e).balance, 0);
}

Test(loyalty_handlers, malformed_events_are_refused_as_invalid_and_others_ignored)
{
    Crm__V1__PurchaseRecorded empty = CRM__V1__PURCHASE_RECORDED__INIT;
    cr_assert_eq(fx_event("crm.contacts.purchase.recorded.v1", &empty.base), CRM_EINVALID);
    Crm__V1__Purchase p = CRM__V1__PURCHASE__INIT;
    p.id = "x";
    p.customer_id = "not-an-id";
    empty.purchase = &p;
    cr_assert_eq(fx_event("crm.contacts.purchase.recorded.v1", &empty.base), CRM_EINVALID);
    /* A payload of another type than the topic says. */
    Crm__V1__CustomerDeleted del = CRM__V1__CUSTOMER_DELETED__INIT;
    del.customer_id = "x";
    cr_assert_eq(fx_event("crm.contacts.purchase.recorded.v1", &del.base), CRM_EINVALID);
    /* Topics loyalty has no use for. */
    Crm__V1__InteractionLogged il = CRM__V1__INTERACTION_LOGGED__INIT;
    uint64_t head = fx_head();
    cr_assert_eq(fx_event("crm.contacts.interaction.logged.v1", &il.base), 0);
    cr_assert_eq(fx_head(), head);
    /* Garbage bytes. */
    crm_bus_event_t bus = { .topic = "crm.contacts.purchase.recorded.v1", .topic_len = 33, .seq = 1,
                            .payload = "\xff\xff\xff", .payload_len = 3 };
    fx_apply_t a = { &bus };
    cr_assert_eq(loyalty_write(fx.ly, fx_apply_body, &a), CRM_EINVALID);
}
