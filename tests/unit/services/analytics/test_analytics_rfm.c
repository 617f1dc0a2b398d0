/* test_analytics_rfm.c: RFM quintiles with ties and small bases, value tiers, and the scoring run with its segment events. */
#include "analytics_fixture.h"

static void s_setup(void)
{
    fx_setup();
}

TestSuite(analytics_rfm, .init = s_setup, .fini = fx_teardown, .timeout = 60);

Test(analytics_rfm, quintiles_score_by_how_many_are_worse)
{
    int64_t ten[10] = { 7, 1, 2, 3, 4, 5, 6, 8, 9, 10 };
    uint32_t s[10];
    cr_assert_eq(analytics_rfm_quintiles(ten, 10, true, s), 0);
    /* value v has v - 1 values below: 1 + floor(5 (v - 1) / 10). */
    static const uint32_t higher[10] = { 4, 1, 1, 2, 2, 3, 3, 4, 5, 5 };
    for (int i = 0; i < 10; i++)
        cr_assert_eq(s[i], higher[i], "value %lld: %u", (long long) ten[i], s[i]);
    /* Recency: fewer days is better: value v has 10 - v values above it. */
    cr_assert_eq(analytics_rfm_quintiles(ten, 10, false, s), 0);
    static const uint32_t lower[10] = { 2, 5, 5, 4, 4, 3, 3, 2, 1, 1 };
    for (int i = 0; i < 10; i++)
        cr_assert_eq(s[i], lower[i], "value %lld: %u", (long long) ten[i], s[i]);
    /* Ties share a score: four equal values above one lower value. */
    int64_t ties[5] = { 5, 5, 1, 5, 5 };
    cr_assert_eq(analytics_rfm_quintiles(ties, 5, true, s), 0);
    cr_assert_eq(s[0], 2);
    cr_assert_eq(s[1], 2);
    cr_assert_eq(s[2], 1);
    int64_t same[3] = { 4, 4, 4 };
    cr_assert_eq(analytics_rfm_quintiles(same, 3, true, s), 0);
    cr_assert(s[0] == 1 && s[1] == 1 && s[2] == 1, "all equal: nobody is better");
    int64_t three[3] = { 1, 2, 3 };
    cr_assert_eq(analytics_rfm_quintiles(three, 3, true, s), 0);
    cr_assert(s[0] == 1 && s[1] == 2 && s[2] == 4, "%u %u %u", s[0], s[1], s[2]);
    int64_t one[1] = { 42 };
    cr_assert_eq(analytics_rfm_quintiles(one, 1, false, s), 0);
    cr_assert_eq(s[0], 1);
    cr_assert_eq(analytics_rfm_quintiles(NULL, 0, true, NULL), 0);
}

Test(analytics_rfm, value_tiers_from_the_total)
{
    analytics_settings_t st;
    analytics_settings_default(&st);
    cr_assert_eq(analytics_rfm_value_tier(&st, 5, 5, 5), CRM__V1__VALUE_TIER__VALUE_TIER_HIGH);
    cr_assert_eq(analytics_rfm_value_tier(&st, 4, 4, 4), CRM__V1__VALUE_TIER__VALUE_TIER_HIGH);
    cr_assert_eq(analytics_rfm_value_tier(&st, 4, 4, 3), CRM__V1__VALUE_TIER__VALUE_TIER_MID);
    cr_assert_eq(analytics_rfm_value_tier(&st, 3, 3, 2), CRM__V1__VALUE_TIER__VALUE_TIER_MID);
    cr_assert_eq(analytics_rfm_value_tier(&st, 3, 2, 2), CRM__V1__VALUE_TIER__VALUE_TIER_LOW);
    cr_assert_eq(analytics_rfm_value_tier(&st, 1, 1, 1), CRM__V1__VALUE_TIER__VALUE_TIER_LOW);
}

typedef struct {
    analytics_t *an;
    int64_t as_of;
} s_run_t;

static int s_run_body(crm_txn_t *txn, void *arg)
{
    s_run_t *r = arg;
    return analytics_rfm_run(r->an, txn, r->as_of);
}

static void s_run(int64_t as_of)
{
    s_run_t r = { fx.an, as_of };
    cr_assert_eq(analytics_write(fx.an, s_run_body, &r), 0);
}

static Crm__V1__CustomerState *s_state(const char *id)
{
    Crm__V1__CustomerState *st = NULL;
    crm_txn_t *txn = NULL;
    cr_assert_eq(crm_store_read_begin(fx.store, &txn), 0);
    cr_assert_eq(analytics_state_get(fx.an, txn, id, &st), 0);
    crm_store_txn_end(&txn);
    return st;
}

/* Five active customers as of 2025-06-30 (a purchase since 2025-04-02), one lapsed buyer, one
 * prospect. Recency days / purchases / spend:
 *   c0: 1 day / 5 / 50000     R: fewer days better; days 1,10,20,30,80 -> worse counts 4,3,2,1,0
 *   c1: 10 / 4 / 40000           -> R 5,4,3,2,1; F and M: values 5,4,3,2,1 -> worse 4,3,2,1,0
 *   c2: 20 / 3 / 30000           -> 5,4,3,2,1. Totals 15,12,9,6,3: high, high, mid, low, low.
 *   c3: 30 / 2 / 20000
 *   c4: 80 / 1 / 10000
 *   c5: bought 2025-01-01 only: not active, low. c6: never bought: no tier. */
Test(analytics_rfm, the_run_scores_the_active_base_and_publishes_tier_changes)
{
    char c[7][CRM_ID_SIZE];
    for (int i = 0; i < 7; i++)
        fx_customer(c[i]);
    static const int days[5] = { 1, 10, 20, 30, 80 };
    int64_t as_of = fx_date("2025-06-30");
    for (int i = 0; i < 5; i++)
        for (int k = 0; k <= 4 - i; k++) {
            char id[32];
            snprintf(id, sizeof id, "c%d-%d", i, k);
            cr_assert_eq(fx_purchase(c[i], id, 10000, "CNY", as_of - (int64_t) (days[i] + 10 * k) * FX_DAY), 0);
        }
    cr_assert_eq(fx_purchase(c[5], "c5", 99999, "CNY", fx_date("2025-01-01")), 0);
    cr_assert_eq(fx_created(c[6], fx_date("2025-01-01"), 0, NULL), 0);
    uint64_t head = fx_head();
    s_run(as_of);
    static const Crm__V1__ValueTier tiers[7] = {
        CRM__V1__VALUE_TIER__VALUE_TIER_HIGH, CRM__V1__VALUE_TIER__VALUE_TIER_HIGH, CRM__V1__VALUE_TIER__VALUE_TIER_MID,
        CRM__V1__VALUE_TIER__VALUE_TIER_LOW, CRM__V1__VALUE_TIER__VALUE_TIER_LOW, CRM__V1__VALUE_TIER__VALUE_TIER_LOW,
        CRM__V1__VALUE_TIER__VALUE_TIER_UNSPECIFIED,
    };
    for (int i = 0; i < 7; i++) {
        Crm__V1__CustomerState *st = s_state(c[i]);
        cr_assert_eq(st->value_tier, tiers[i], "customer %d: %d", i, st->value_tier);
        if (i < 5) {
            cr_assert_eq(st->recency, (uint32_t) (5 - i));
            cr_assert_eq(st->frequency, (uint32_t) (5 - i));
            cr_assert_eq(st->monetary, (uint32_t) (5 - i));
        }
        crm_codec_message_free((ProtobufCMessage **) &st);
    }
    Crm__V1__SegmentChanged *last = NULL;
    cr_assert_eq(fx_events(head, ANALYTICS_TOPIC_SEGMENT_CHANGED, &crm__v1__segment_changed__descriptor,
                           (ProtobufCMessage **) &last), 6, "every buyer got its first tier");
    cr_assert_str_eq(last->customer_id, c[5]);
    cr_assert_eq(last->value_tier, CRM__V1__VALUE_TIER__VALUE_TIER_LOW);
    cr_assert_eq(last->previous_value_tier, CRM__V1__VALUE_TIER__VALUE_TIER_UNSPECIFIED);
    crm_codec_message_free((ProtobufCMessage **) &last);
    /* The same run again publishes nothing. */
    head = fx_head();
    s_run(as_of);
    cr_assert_eq(fx_events(head, ANALYTICS_TOPIC_SEGMENT_CHANGED, NULL, NULL), 0);
    /* A month later c4 (last purchase 110 days before) leaves the active base: low stays low;
     * the other four are rescored over four: worse counts 3,2,1,0 -> 1 + floor(5w/4) = 4,3,2,1:
     * totals 12, 9, 6, 3: c1 becomes mid, c2 low. */
    head = fx_head();
    s_run(as_of + 30 * FX_DAY);
    cr_assert_eq(fx_events(head, ANALYTICS_TOPIC_SEGMENT_CHANGED, NULL, NULL), 2);
    Crm__V1__CustomerState *st = s_state(c[4]);
    cr_assert_eq(st->value_tier, CRM__V1__VALUE_TIER__VALUE_TIER_LOW);
    cr_assert_eq(st->recency, 0, "outside the active base: no scores");
    crm_codec_message_free((ProtobufCMessage **) &st);
    st = s_state(c[1]);
    cr_assert_eq(st->value_tier, CRM__V1__VALUE_TIER__VALUE_TIER_MID);
    crm_codec_message_free((ProtobufCMessage **) &st);
    /* The distribution. */
    Crm__V1__RfmRequest req = CRM__V1__RFM_REQUEST__INIT;
    Crm__V1__RfmDistribution *d = NULL;
    cr_assert_eq(fx_call("analytics.GetRfmDistribution", "analyst", &req.base, &crm__v1__rfm_distribution__descriptor,
                         (ProtobufCMessage **) &d, NULL), CRM_RPC_OK);
    cr_assert_eq(d->scored, 4);
    cr_assert_eq(d->n_cells, 4);
    cr_assert_eq(d->recency[3], 1, "one customer with R = 4");
    cr_assert_eq(d->recency[4], 0);
    cr_assert_eq(d->value_high, 1);
    cr_assert_eq(d->value_mid, 1);
    cr_assert_eq(d->value_low, 4);
    crm_codec_message_free((ProtobufCMessage **) &d);
}
