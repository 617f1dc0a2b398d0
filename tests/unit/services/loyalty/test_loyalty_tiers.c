/* test_loyalty_tiers.c: tiers (upgrade on the crossing purchase, downgrade only at review after the grace period), badges, birthdays once a year, anniversaries. */
#include "loyalty_fixture.h"

#include "loyalty_tiers.h"

static void s_setup(void)
{
    fx_setup();
}

TestSuite(loyalty_tiers, .init = s_setup, .fini = fx_teardown, .timeout = 60);

static Crm__V1__TierReply *s_tier(const char *customer)
{
    Crm__V1__CustomerLoyaltyRequest req = CRM__V1__CUSTOMER_LOYALTY_REQUEST__INIT;
    req.customer_id = (char *) customer;
    Crm__V1__TierReply *rep = NULL;
    cr_assert_eq(fx_call("loyalty.GetTier", "agent", &req.base, &crm__v1__tier_reply__descriptor,
                         (ProtobufCMessage **) &rep, NULL), CRM_RPC_OK);
    return rep;
}

static int64_t s_cause_points(const char *cause, bool *found)
{
    crm_txn_t *txn = NULL;
    Crm__V1__CauseRecord *rec = NULL;
    cr_assert_eq(crm_store_read_begin(fx.store, &txn), 0);
    int rc = loyalty_cause_get(&fx.ly->db, txn, cause, &rec);
    crm_store_txn_end(&txn);
    *found = rc == 0;
    int64_t points = rc == 0 ? rec->points : 0;
    crm_codec_message_free((ProtobufCMessage **) &rec);
    return points;
}

Test(loyalty_tiers, the_purchase_that_crosses_a_threshold_upgrades_at_once)
{
    char c[CRM_ID_SIZE];
    fx_customer(c);
    cr_assert_eq(fx_purchase(c, "o1", 60000, "CNY", fx.now), 0);
    cr_assert_str_eq(fx_account(c).tier, "bronze");
    uint64_t head = fx_head();
    /* Silver needs 1,000.00 and two purchases over the rolling year: this one crosses it. */
    cr_assert_eq(fx_purchase(c, "o2", 50000, "CNY", fx.now), 0);
    cr_assert_str_eq(fx_account(c).tier, "silver");
    Crm__V1__TierChanged *ev = NULL;
    cr_assert_eq(fx_events(head, LOYALTY_TOPIC_TIER_CHANGED, &crm__v1__tier_changed__descriptor,
                           (ProtobufCMessage **) &ev), 1);
    cr_assert_str_eq(ev->from_tier, "bronze");
    cr_assert_str_eq(ev->to_tier, "silver");
    cr_assert_eq(ev->change, CRM__V1__TIER_CHANGE__TIER_CHANGE_UPGRADE);
    cr_assert_eq(ev->rolling_spend_minor, 110000);
    cr_assert_eq(ev->rolling_purchases, 2);
    crm_codec_message_free((ProtobufCMessage **) &ev);
    /* ... and earns at the new tier's multiplier (x1.25). */
    bool found = false;
    cr_assert_eq(s_cause_points("purchase:o2", &found), 625);
    Crm__V1__TierReply *t = s_tier(c);
    cr_assert_str_eq(t->tier->id, "silver");
    cr_assert_eq(t->rolling_spend_minor, 110000);
    cr_assert_eq(t->rolling_purchases, 2);
    cr_assert_str_eq(t->currency, "CNY");
    cr_assert_str_eq(t->next_tier->id, "gold");
    cr_assert_eq(t->spend_to_next_minor, 500000 - 110000);
    cr_assert_eq(t->purchases_to_next, 3);
    cr_assert_eq(loyalty_ts_us(t->since), FX_T0);
    crm_codec_message_free((ProtobufCMessage **) &t);
    /* Purchases in another currency count as purchases, not as spend. */
    cr_assert_eq(fx_purchase(c, "o3", 999999, "USD", fx.now), 0);
    t = s_tier(c);
    cr_assert_eq(t->rolling_spend_minor, 110000);
    cr_assert_eq(t->rolling_purchases, 3);
    crm_codec_message_free((ProtobufCMessage **) &t);
}

Test(loyalty_tiers, a_downgrade_waits_for_the_review_after_the_grace_period)
{
    fx.settings.tier_grace_us = 30 * FX_DAY;
    fx.settings.review_interval_us = FX_DAY;
    fx_restart();
    char c[CRM_ID_SIZE], d[CRM_ID_SIZE];
    fx_customer(c);
    fx_customer(d);
    cr_assert_eq(fx_purchase(c, "c1", 60000, "CNY", fx.now), 0);
    cr_assert_eq(fx_purchase(c, "c2", 50000, "CNY", fx.now), 0);
    cr_assert_eq(fx_purchase(d, "d1", 60000, "CNY", fx.now), 0);
    cr_assert_eq(fx_purchase(d, "d2", 50000, "CNY", fx.now), 0);
    cr_assert_str_eq(fx_account(c).tier, "silver");
    /* Refunds drop both below silver: nothing changes until a review. */
    cr_assert_eq(fx_refund(c, "c2", 50000, "rc2", 50000, 50000), 0);
    cr_assert_eq(fx_refund(d, "d2", 50000, "rd2", 20000, 20000), 0);
    cr_assert_str_eq(fx_account(c).tier, "silver");
    uint64_t head = fx_head();
    fx_advance(FX_DAY);                 /* the first review sees it */
    Crm__V1__TierReply *t = s_tier(c);
    cr_assert_str_eq(t->tier->id, "silver");
    cr_assert_str_eq(t->qualifying_tier->id, "bronze");
    cr_assert_eq(loyalty_ts_us(t->below_since), FX_T0 + FX_DAY);
    crm_codec_message_free((ProtobufCMessage **) &t);
    /* d qualifies again before the grace period ends: forgotten at the next review. */
    fx_advance(10 * FX_DAY);
    cr_assert_eq(fx_purchase(d, "d3", 30000, "CNY", fx.now), 0);
    fx_advance(FX_DAY);
    cr_assert_eq(fx_account(d).below_since_us, 0);
    fx_advance(18 * FX_DAY);           /* 29 days below */
    cr_assert_str_eq(fx_account(c).tier, "silver");
    cr_assert_eq(fx_events(head, LOYALTY_TOPIC_TIER_CHANGED, NULL, NULL), 0);
    fx_advance(FX_DAY);                /* 30 days below: the review downgrades */
    cr_assert_str_eq(fx_account(c).tier, "bronze");
    cr_assert_str_eq(fx_account(d).tier, "silver");
    Crm__V1__TierChanged *ev = NULL;
    cr_assert_eq(fx_events(head, LOYALTY_TOPIC_TIER_CHANGED, &crm__v1__tier_changed__descriptor,
                           (ProtobufCMessage **) &ev), 1);
    cr_assert_str_eq(ev->customer_id, c);
    cr_assert_str_eq(ev->to_tier, "bronze");
    cr_assert_eq(ev->change, CRM__V1__TIER_CHANGE__TIER_CHANGE_DOWNGRADE);
    crm_codec_message_free((ProtobufCMessage **) &ev);
    cr_assert_eq(fx_check(c, NULL, 0), 0);
}

Test(loyalty_tiers, milestones_award_badges_once_with_their_bonus)
{
    char c[CRM_ID_SIZE];
    fx_customer(c);
    uint64_t head = fx_head();
    for (int i = 0; i < 11; i++) {
        char id[16];
        snprintf(id, sizeof id, "o%d", i);
        cr_assert_eq(fx_purchase(c, id, 200000, "CNY", fx.now), 0);
    }
    /* Bronze -> silver (2nd) -> gold (5th) -> platinum, a vip tier (10th). */
    cr_assert_eq(fx_events(head, LOYALTY_TOPIC_TIER_CHANGED, NULL, NULL), 3);
    cr_assert_str_eq(fx_account(c).tier, "platinum");
    cr_assert_eq(fx_events(head, LOYALTY_TOPIC_BADGE_AWARDED, NULL, NULL), 3);
    Crm__V1__CustomerLoyaltyRequest req = CRM__V1__CUSTOMER_LOYALTY_REQUEST__INIT;
    req.customer_id = c;
    Crm__V1__ListBadgesReply *rep = NULL;
    cr_assert_eq(fx_call("loyalty.ListBadges", "agent", &req.base, &crm__v1__list_badges_reply__descriptor,
                         (ProtobufCMessage **) &rep, NULL), CRM_RPC_OK);
    cr_assert_eq(rep->n_badges, 3);
    cr_assert_eq(rep->badges[0]->kind, CRM__V1__BADGE_KIND__BADGE_KIND_FIRST_PURCHASE);
    cr_assert_eq(rep->badges[0]->bonus_points, 50);
    cr_assert_eq(rep->badges[1]->kind, CRM__V1__BADGE_KIND__BADGE_KIND_TENTH_PURCHASE);
    cr_assert_eq(rep->badges[1]->bonus_points, 200);
    cr_assert_eq(rep->badges[2]->kind, CRM__V1__BADGE_KIND__BADGE_KIND_VIP);
    cr_assert_eq(rep->badges[2]->bonus_points, 500);
    crm_codec_message_free((ProtobufCMessage **) &rep);
    /* 2000 x1 + 2000 x1.25 x3 + 2000 x1.5 x5 + 2000 x2 x2, and 50 + 200 + 500 of bonuses. */
    cr_assert_eq(fx_account(c).lifetime_earned, 2000 + 7500 + 15000 + 8000 + 750);

    /* One year a member: the anniversary of the customer's creation. */
    char d[CRM_ID_SIZE];
    fx_customer(d);
    cr_assert_eq(fx_customer_created(d, NULL, fx.now - FX_DAY), 0);
    head = fx_head();
    fx_advance(363 * FX_DAY);
    cr_assert_eq(fx_events(head, LOYALTY_TOPIC_BADGE_AWARDED, NULL, NULL), 0);
    fx_advance(FX_DAY);
    Crm__V1__BadgeAwarded *ev = NULL;
    cr_assert_eq(fx_events(head, LOYALTY_TOPIC_BADGE_AWARDED, &crm__v1__badge_awarded__descriptor,
                           (ProtobufCMessage **) &ev), 1);
    cr_assert_str_eq(ev->badge->customer_id, d);
    cr_assert_eq(ev->badge->kind, CRM__V1__BADGE_KIND__BADGE_KIND_ONE_YEAR_MEMBER);
    cr_assert_eq(ev->badge->bonus_points, 100);
    crm_codec_message_free((ProtobufCMessage **) &ev);
    fx_advance(FX_DAY);                /* c became a member a day after d */
    cr_assert_eq(fx_events(head, LOYALTY_TOPIC_BADGE_AWARDED, &crm__v1__badge_awarded__descriptor,
                           (ProtobufCMessage **) &ev), 2);
    cr_assert_str_eq(ev->badge->customer_id, c);
    crm_codec_message_free((ProtobufCMessage **) &ev);
    cr_assert_eq(fx_account(d).balance, 100);
    fx_advance(366 * FX_DAY);
    cr_assert_eq(fx_events(head, LOYALTY_TOPIC_BADGE_AWARDED, NULL, NULL), 2);
}

Test(loyalty_tiers, the_birthday_bonus_comes_once_a_year_also_after_a_restart)
{
    /* No anniversary bonus in the way. */
    Crm__V1__DeleteLoyaltyRequest del = CRM__V1__DELETE_LOYALTY_REQUEST__INIT;
    del.id = "badge-one-year";
    cr_assert_eq(fx_call("loyalty.DeleteRule", "admin", &del.base, NULL, NULL, NULL), CRM_RPC_OK);
    char c[CRM_ID_SIZE], leap[CRM_ID_SIZE];
    fx_customer(c);
    fx_customer(leap);
    cr_assert_eq(fx_customer_created(c, "1990-03-12", fx.now), 0);
    cr_assert_eq(fx_customer_created(leap, "2000-02-29", fx.now), 0);
    bool found = false;
    fx_advance(FX_DAY);                          /* 11 March */
    cr_assert_eq(fx_account(c).balance, 0);
    fx_advance(FX_DAY);                          /* 12 March 2026 */
    cr_assert_eq(fx_account(c).balance, 100);
    char cause[LOYALTY_CAUSE_MAX];
    snprintf(cause, sizeof cause, "birthday:%s:2026", c);
    cr_assert_eq(s_cause_points(cause, &found), 100);
    cr_assert(found);
    /* The same birthday reported by an integrator: already given this year. */
    Crm__V1__RecordActivityRequest req = CRM__V1__RECORD_ACTIVITY_REQUEST__INIT;
    req.customer_id = c;
    req.kind = CRM__V1__EARN_KIND__EARN_KIND_BIRTHDAY;
    Crm__V1__ActivityReply *rep = NULL;
    cr_assert_eq(fx_call("loyalty.RecordActivity", "integrator", &req.base, &crm__v1__activity_reply__descriptor,
                         (ProtobufCMessage **) &rep, NULL), CRM_RPC_OK);
    cr_assert(rep->duplicate);
    cr_assert_eq(rep->points, 0);
    crm_codec_message_free((ProtobufCMessage **) &rep);
    cr_assert_eq(fx_account(c).balance, 100);

    /* 29 February is celebrated on the 28th in a common year. */
    int64_t feb28 = loyalty_day_from_civil(2027, 2, 28) * FX_DAY + 12 * FX_HOUR;
    fx_advance(feb28 - FX_DAY - fx.now);
    cr_assert_eq(fx_account(leap).balance, 0);
    fx_advance(FX_DAY);
    cr_assert_eq(fx_account(leap).balance, 100);

    /* Stopped from 1 March to 20 March 2027: the birthday in between is celebrated on restart. */
    fx_advance(FX_DAY);
    fx_stop();
    fx.now = loyalty_day_from_civil(2027, 3, 20) * FX_DAY;
    fx_start();
    fx_tick();
    snprintf(cause, sizeof cause, "birthday:%s:2027", c);
    cr_assert_eq(s_cause_points(cause, &found), 100);
    cr_assert_eq(fx_account(c).lifetime_earned, 200);
    cr_assert_eq(fx_account(c).balance, 100);       /* last year's bonus expired on 12 March */
    fx_restart();
    fx_tick();
    cr_assert_eq(fx_account(c).lifetime_earned, 200);
    cr_assert_eq(fx_check(c, NULL, 0), 0);
}

Test(loyalty_tiers, a_day_with_more_birthdays_than_one_batch_celebrates_each_once)
{
    enum { N = LOYALTY_TICK_BATCH + 44 };
    static char ids[N][CRM_ID_SIZE];
    for (int i = 0; i < N; i++) {
        fx_customer(ids[i]);
        cr_assert_eq(fx_customer_created(ids[i], "1985-03-12", fx.now), 0);
    }
    fx_advance(2 * FX_DAY);
    int celebrated = 0;
    for (int i = 0; i < N; i++)
        celebrated += fx_account(ids[i]).balance == 100;
    cr_assert_eq(celebrated, N);
    fx_restart();
    fx_advance(FX_DAY);
    int64_t total = 0;
    for (int i = 0; i < N; i++)
        total += fx_account(ids[i]).lifetime_earned;
    cr_assert_eq(total, (int64_t) N * 100);
}
