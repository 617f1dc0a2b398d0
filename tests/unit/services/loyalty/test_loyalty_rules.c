/* test_loyalty_rules.c: earning rules: defaults, tier multipliers, daily caps, weekly and monthly limits, budgets, campaigns by date, validation. */
#include "loyalty_fixture.h"

static void s_setup(void)
{
    fx_setup();
}

TestSuite(loyalty_rules, .init = s_setup, .fini = fx_teardown, .timeout = 60);

/* Points a purchase earned (its cause record). */
static int64_t s_purchase_points(const char *purchase_id)
{
    char cause[LOYALTY_CAUSE_MAX];
    snprintf(cause, sizeof cause, "purchase:%s", purchase_id);
    crm_txn_t *txn = NULL;
    Crm__V1__CauseRecord *rec = NULL;
    cr_assert_eq(crm_store_read_begin(fx.store, &txn), 0);
    cr_assert_eq(loyalty_cause_get(&fx.ly->db, txn, cause, &rec), 0);
    int64_t points = rec->points;
    crm_codec_message_free((ProtobufCMessage **) &rec);
    crm_store_txn_end(&txn);
    return points;
}

static crm_rpc_status_t s_put_rule(Crm__V1__EarnRule *rule, char *field)
{
    Crm__V1__PutRuleRequest req = CRM__V1__PUT_RULE_REQUEST__INIT;
    req.rule = rule;
    return fx_call("loyalty.PutRule", "admin", &req.base, NULL, NULL, field);
}

static int64_t s_activity(const char *customer, Crm__V1__EarnKind kind, const char *activity_id)
{
    Crm__V1__RecordActivityRequest req = CRM__V1__RECORD_ACTIVITY_REQUEST__INIT;
    req.customer_id = (char *) customer;
    req.kind = kind;
    req.activity_id = (char *) activity_id;
    Crm__V1__ActivityReply *rep = NULL;
    cr_assert_eq(fx_call("loyalty.RecordActivity", "integrator", &req.base, &crm__v1__activity_reply__descriptor,
                         (ProtobufCMessage **) &rep, NULL), CRM_RPC_OK);
    int64_t points = rep->points;
    crm_codec_message_free((ProtobufCMessage **) &rep);
    return points;
}

Test(loyalty_rules, defaults_give_one_point_per_whole_unit_of_cny_usd_eur)
{
    char c[CRM_ID_SIZE];
    fx_customer(c);
    cr_assert_eq(fx_purchase(c, "cny", 12399, "CNY", fx.now), 0);
    cr_assert_eq(fx_purchase(c, "usd", 2599, "USD", fx.now), 0);
    cr_assert_eq(fx_purchase(c, "eur", 1000, "EUR", fx.now), 0);
    cr_assert_eq(fx_purchase(c, "jpy", 5000, "JPY", fx.now), 0);
    cr_assert_eq(fx_purchase(c, "zero", 0, "CNY", fx.now), 0);
    cr_assert_eq(s_purchase_points("cny"), 123);
    cr_assert_eq(s_purchase_points("usd"), 25);
    cr_assert_eq(s_purchase_points("eur"), 10);
    cr_assert_eq(s_purchase_points("jpy"), 0);     /* no rule for JPY until an admin adds one */
    cr_assert_eq(s_purchase_points("zero"), 0);
    cr_assert_eq(fx_account(c).balance, 123 + 25 + 10 + 50);

    Crm__V1__ListRulesRequest req = CRM__V1__LIST_RULES_REQUEST__INIT;
    Crm__V1__ListRulesReply *rep = NULL;
    cr_assert_eq(fx_call("loyalty.ListRules", "analyst", &req.base, &crm__v1__list_rules_reply__descriptor,
                         (ProtobufCMessage **) &rep, NULL), CRM_RPC_OK);
    cr_assert_eq(rep->n_rules, 12);
    bool seen = false;
    for (size_t i = 0; i < rep->n_rules; i++)
        if (strcmp(rep->rules[i]->id, "purchase-cny") == 0) {
            seen = true;
            cr_assert_eq(rep->rules[i]->awarded, 123);
        }
    cr_assert(seen);
    crm_codec_message_free((ProtobufCMessage **) &rep);
    req.kind = CRM__V1__EARN_KIND__EARN_KIND_BADGE;
    cr_assert_eq(fx_call("loyalty.ListRules", "analyst", &req.base, &crm__v1__list_rules_reply__descriptor,
                         (ProtobufCMessage **) &rep, NULL), CRM_RPC_OK);
    cr_assert_eq(rep->n_rules, 4);
    crm_codec_message_free((ProtobufCMessage **) &rep);
}

Test(loyalty_rules, the_tier_multiplier_applies_to_purchase_points)
{
    /* Gold from the first purchase on: x1.5. */
    Crm__V1__Tier gold = CRM__V1__TIER__INIT;
    gold.id = "gold";
    gold.name = "Gold";
    gold.rank = 2;
    gold.min_purchases = 1;
    gold.multiplier_percent = 150;
    Crm__V1__PutTierRequest treq = CRM__V1__PUT_TIER_REQUEST__INIT;
    treq.tier = &gold;
    cr_assert_eq(fx_call("loyalty.PutTier", "admin", &treq.base, NULL, NULL, NULL), CRM_RPC_OK);
    char c[CRM_ID_SIZE];
    fx_customer(c);
    cr_assert_eq(fx_purchase(c, "o1", 10000, "CNY", fx.now), 0);
    cr_assert_str_eq(fx_account(c).tier, "gold");
    cr_assert_eq(s_purchase_points("o1"), 150);
    /* Fixed-point rules are not multiplied unless they say so. */
    cr_assert_eq(s_activity(c, CRM__V1__EARN_KIND__EARN_KIND_REVIEW, "rv1"), 50);
    /* A rule open only to gold adds to the base rule. */
    Crm__V1__EarnRule r = CRM__V1__EARN_RULE__INIT;
    char *tiers[] = { "gold" };
    r.id = "gold-extra";
    r.kind = CRM__V1__EARN_KIND__EARN_KIND_PURCHASE;
    r.currency = "CNY";
    r.points_per_unit = 1;
    r.unit_minor = 1000;           /* 1 point per 10 yuan */
    r.no_tier_multiplier = true;
    r.n_tiers = 1;
    r.tiers = tiers;
    cr_assert_eq(s_put_rule(&r, NULL), CRM_RPC_OK);
    cr_assert_eq(fx_purchase(c, "o2", 10000, "CNY", fx.now), 0);
    cr_assert_eq(s_purchase_points("o2"), 150 + 10);
    char d[CRM_ID_SIZE];
    fx_customer(d);
    gold.min_purchases = 2;
    cr_assert_eq(fx_call("loyalty.PutTier", "admin", &treq.base, NULL, NULL, NULL), CRM_RPC_OK);
    cr_assert_eq(fx_purchase(d, "o3", 10000, "CNY", fx.now), 0);
    cr_assert_eq(s_purchase_points("o3"), 100);    /* bronze: neither multiplier nor the gold rule */
}

Test(loyalty_rules, caps_per_day_and_limits_per_week_and_month)
{
    char c[CRM_ID_SIZE];
    fx_customer(c);
    /* Reviews: 50 each, at most 120 points a day. */
    Crm__V1__EarnRule review = CRM__V1__EARN_RULE__INIT;
    review.id = "review";
    review.kind = CRM__V1__EARN_KIND__EARN_KIND_REVIEW;
    review.fixed_points = 50;
    review.max_points_per_day = 120;
    review.no_tier_multiplier = true;
    cr_assert_eq(s_put_rule(&review, NULL), CRM_RPC_OK);
    cr_assert_eq(s_activity(c, CRM__V1__EARN_KIND__EARN_KIND_REVIEW, "r1"), 50);
    cr_assert_eq(s_activity(c, CRM__V1__EARN_KIND__EARN_KIND_REVIEW, "r2"), 50);
    cr_assert_eq(s_activity(c, CRM__V1__EARN_KIND__EARN_KIND_REVIEW, "r3"), 20);
    cr_assert_eq(s_activity(c, CRM__V1__EARN_KIND__EARN_KIND_REVIEW, "r4"), 0);
    cr_assert_eq(s_activity(c, CRM__V1__EARN_KIND__EARN_KIND_REVIEW, "r1"), 0);   /* a repeat */
    fx_advance(FX_DAY);
    cr_assert_eq(s_activity(c, CRM__V1__EARN_KIND__EARN_KIND_REVIEW, "r5"), 50);

    /* Social shares: at most twice a week (weeks start on Monday; the clock is on a Wednesday). */
    Crm__V1__EarnRule share = CRM__V1__EARN_RULE__INIT;
    share.id = "social-share";
    share.kind = CRM__V1__EARN_KIND__EARN_KIND_SOCIAL_SHARE;
    share.fixed_points = 10;
    share.max_times_per_week = 2;
    share.no_tier_multiplier = true;
    cr_assert_eq(s_put_rule(&share, NULL), CRM_RPC_OK);
    cr_assert_eq(s_activity(c, CRM__V1__EARN_KIND__EARN_KIND_SOCIAL_SHARE, "s1"), 10);
    fx_advance(FX_DAY);
    cr_assert_eq(s_activity(c, CRM__V1__EARN_KIND__EARN_KIND_SOCIAL_SHARE, "s2"), 10);
    fx_advance(3 * FX_DAY);                     /* Sunday */
    cr_assert_eq(s_activity(c, CRM__V1__EARN_KIND__EARN_KIND_SOCIAL_SHARE, "s3"), 0);
    fx_advance(FX_DAY);                         /* Monday */
    cr_assert_eq(s_activity(c, CRM__V1__EARN_KIND__EARN_KIND_SOCIAL_SHARE, "s4"), 10);

    /* Surveys: at most 50 points a month. */
    Crm__V1__EarnRule survey = CRM__V1__EARN_RULE__INIT;
    survey.id = "survey";
    survey.kind = CRM__V1__EARN_KIND__EARN_KIND_SURVEY;
    survey.fixed_points = 20;
    survey.max_points_per_month = 50;
    survey.no_tier_multiplier = true;
    cr_assert_eq(s_put_rule(&survey, NULL), CRM_RPC_OK);
    cr_assert_eq(s_activity(c, CRM__V1__EARN_KIND__EARN_KIND_SURVEY, "v1"), 20);
    cr_assert_eq(s_activity(c, CRM__V1__EARN_KIND__EARN_KIND_SURVEY, "v2"), 20);
    cr_assert_eq(s_activity(c, CRM__V1__EARN_KIND__EARN_KIND_SURVEY, "v3"), 10);
    cr_assert_eq(s_activity(c, CRM__V1__EARN_KIND__EARN_KIND_SURVEY, "v4"), 0);
    fx_advance(20 * FX_DAY);                    /* April */
    cr_assert_eq(s_activity(c, CRM__V1__EARN_KIND__EARN_KIND_SURVEY, "v5"), 20);

    /* Another customer has limits of their own. */
    char d[CRM_ID_SIZE];
    fx_customer(d);
    cr_assert_eq(s_activity(d, CRM__V1__EARN_KIND__EARN_KIND_REVIEW, "r1"), 50);
    cr_assert_eq(fx_check(c, NULL, 0), 0);
}

Test(loyalty_rules, a_budget_limits_a_rule_over_all_customers)
{
    Crm__V1__EarnRule launch = CRM__V1__EARN_RULE__INIT;
    launch.id = "launch";
    launch.name = "Launch bonus";
    launch.kind = CRM__V1__EARN_KIND__EARN_KIND_PURCHASE;
    launch.currency = "CNY";
    launch.points_per_unit = 1;
    launch.budget = 150;
    cr_assert_eq(s_put_rule(&launch, NULL), CRM_RPC_OK);
    char a[CRM_ID_SIZE], b[CRM_ID_SIZE], c[CRM_ID_SIZE];
    fx_customer(a);
    fx_customer(b);
    fx_customer(c);
    cr_assert_eq(fx_purchase(a, "oa", 10000, "CNY", fx.now), 0);
    cr_assert_eq(fx_purchase(b, "ob", 10000, "CNY", fx.now), 0);
    cr_assert_eq(fx_purchase(c, "oc", 10000, "CNY", fx.now), 0);
    cr_assert_eq(s_purchase_points("oa"), 200);
    cr_assert_eq(s_purchase_points("ob"), 150);
    cr_assert_eq(s_purchase_points("oc"), 100);

    /* The earned event names each rule's part. */
    char d[CRM_ID_SIZE];
    fx_customer(d);
    launch.budget = 0;
    cr_assert_eq(s_put_rule(&launch, NULL), CRM_RPC_OK);
    uint64_t head = fx_head();
    cr_assert_eq(fx_purchase(d, "od", 5000, "CNY", fx.now), 0);
    Crm__V1__PointsChanged *ev = NULL;
    cr_assert_eq(fx_events(head, LOYALTY_TOPIC_EARNED, &crm__v1__points_changed__descriptor,
                           (ProtobufCMessage **) &ev), 2);      /* the purchase, then the badge */
    crm_codec_message_free((ProtobufCMessage **) &ev);
    Crm__V1__StatementRequest sreq = CRM__V1__STATEMENT_REQUEST__INIT;
    sreq.customer_id = d;
    Crm__V1__StatementReply *st = NULL;
    cr_assert_eq(fx_call("loyalty.GetStatement", "agent", &sreq.base, &crm__v1__statement_reply__descriptor,
                         (ProtobufCMessage **) &st, NULL), CRM_RPC_OK);
    cr_assert_eq(st->n_entries, 2);
    const Crm__V1__LedgerEntry *earn = st->entries[1];       /* newest first */
    cr_assert_eq(earn->earn_kind, CRM__V1__EARN_KIND__EARN_KIND_PURCHASE);
    cr_assert_eq(earn->points, 100);
    cr_assert_eq(earn->n_parts, 2);
    cr_assert_str_eq(earn->parts[0]->rule_id, "launch");
    cr_assert_eq(earn->parts[0]->points, 50);
    cr_assert_str_eq(earn->parts[1]->rule_id, "purchase-cny");
    cr_assert_eq(earn->parts[1]->points, 50);
    crm_codec_message_free((ProtobufCMessage **) &st);
}

Test(loyalty_rules, a_campaign_is_a_rule_valid_between_two_dates)
{
    /* "Double points in November": one more purchase rule, valid 1 to 30 November 2026. */
    Crm__V1__Timestamp from, until;
    Crm__V1__EarnRule camp = CRM__V1__EARN_RULE__INIT;
    camp.id = "double-november";
    camp.kind = CRM__V1__EARN_KIND__EARN_KIND_PURCHASE;
    camp.currency = "CNY";
    camp.points_per_unit = 1;
    int64_t nov1 = loyalty_day_from_civil(2026, 11, 1) * FX_DAY;
    int64_t dec1 = loyalty_day_from_civil(2026, 12, 1) * FX_DAY;
    camp.valid_from = loyalty_ts_set(&from, nov1);
    camp.valid_until = loyalty_ts_set(&until, dec1);
    cr_assert_eq(s_put_rule(&camp, NULL), CRM_RPC_OK);
    fx.now = dec1 + 2 * FX_DAY;
    char c[CRM_ID_SIZE];
    fx_customer(c);
    /* Purchases count at the time they were made, even when they arrive later. */
    cr_assert_eq(fx_purchase(c, "oct", 10000, "CNY", nov1 - 1), 0);
    cr_assert_eq(fx_purchase(c, "nov-first", 10000, "CNY", nov1), 0);
    cr_assert_eq(fx_purchase(c, "nov", 10000, "CNY", nov1 + 14 * FX_DAY), 0);
    cr_assert_eq(fx_purchase(c, "dec", 10000, "CNY", dec1), 0);
    cr_assert_eq(s_purchase_points("oct"), 100);
    cr_assert_eq(s_purchase_points("nov-first"), 200);
    cr_assert_eq(s_purchase_points("nov"), 200);
    cr_assert_eq(s_purchase_points("dec"), 100);
}

Test(loyalty_rules, bad_rules_are_refused_with_the_field)
{
    char field[LOYALTY_FIELD_MAX];
    Crm__V1__EarnRule r = CRM__V1__EARN_RULE__INIT;
    r.kind = CRM__V1__EARN_KIND__EARN_KIND_PURCHASE;
    r.points_per_unit = 1;
    cr_assert_eq(s_put_rule(&r, field), CRM_RPC_INVALID);
    cr_assert_str_eq(field, "rule.currency");
    r.currency = "CNY";
    r.points_per_unit = 0;
    cr_assert_eq(s_put_rule(&r, field), CRM_RPC_INVALID);
    cr_assert_str_eq(field, "rule.pointsPerUnit");
    r.kind = CRM__V1__EARN_KIND__EARN_KIND_SURVEY;
    cr_assert_eq(s_put_rule(&r, field), CRM_RPC_INVALID);
    cr_assert_str_eq(field, "rule.fixedPoints");
    r.kind = 0;
    cr_assert_eq(s_put_rule(&r, field), CRM_RPC_INVALID);
    cr_assert_str_eq(field, "rule.kind");
    r.kind = CRM__V1__EARN_KIND__EARN_KIND_BADGE;
    r.fixed_points = 10;
    cr_assert_eq(s_put_rule(&r, field), CRM_RPC_INVALID);
    cr_assert_str_eq(field, "rule.badge");
    r.badge = CRM__V1__BADGE_KIND__BADGE_KIND_VIP;
    r.id = "bad id!";
    cr_assert_eq(s_put_rule(&r, field), CRM_RPC_INVALID);
    cr_assert_str_eq(field, "rule.id");
    r.id = "";
    Crm__V1__Timestamp from, until;
    r.valid_from = loyalty_ts_set(&from, fx.now);
    r.valid_until = loyalty_ts_set(&until, fx.now);
    cr_assert_eq(s_put_rule(&r, field), CRM_RPC_INVALID);
    cr_assert_str_eq(field, "rule.validUntil");
    r.valid_until = NULL;
    Crm__V1__PutRuleRequest req = CRM__V1__PUT_RULE_REQUEST__INIT;
    req.rule = &r;
    cr_assert_eq(fx_call("loyalty.PutRule", "agent", &req.base, NULL, NULL, NULL), CRM_RPC_FORBIDDEN);
    /* A rule without an id gets one. */
    Crm__V1__RuleReply *rep = NULL;
    cr_assert_eq(fx_call("loyalty.PutRule", "admin", &req.base, &crm__v1__rule_reply__descriptor,
                         (ProtobufCMessage **) &rep, NULL), CRM_RPC_OK);
    cr_assert(crm_id_valid(rep->rule->id));
    cr_assert_not_null(rep->rule->created_at);
    Crm__V1__DeleteLoyaltyRequest del = CRM__V1__DELETE_LOYALTY_REQUEST__INIT;
    del.id = rep->rule->id;
    cr_assert_eq(fx_call("loyalty.DeleteRule", "admin", &del.base, NULL, NULL, NULL), CRM_RPC_OK);
    cr_assert_eq(fx_call("loyalty.DeleteRule", "admin", &del.base, NULL, NULL, field), CRM_RPC_NOT_FOUND);
    cr_assert_str_eq(field, "id");
    crm_codec_message_free((ProtobufCMessage **) &rep);
    req.rule = NULL;
    cr_assert_eq(fx_call("loyalty.PutRule", "admin", &req.base, NULL, NULL, field), CRM_RPC_INVALID);
    cr_assert_str_eq(field, "rule");
}
