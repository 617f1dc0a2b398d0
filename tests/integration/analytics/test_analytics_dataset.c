/* test_analytics_dataset.c: THE data set (analytics_dataset.h) fed into the real analytics process by the test acting as contacts, loyalty and feedback; every figure worked out by hand below and compared with the service's HTTP answers through the gateway. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics_dataset.h"
#include "crm_suite.h"

#define ADMIN CRM_SUITE_ADMIN_KEY
#define FOLD_WAIT_MS 30000
#define SECRET_SIZE 128
#define PRECISION 0.005          /* rates and averages are compared to two decimals */

static crm_suite_t suite;
static ap_t ap;
static ap_batch_t batch;
static char analyst[SECRET_SIZE];

static void s_setup(void)
{
    crm_suite_init(&suite);
    /* No jobs in the way: RFM on demand only, no risk evaluation job. */
    ap_env(&suite, "CRM_ANALYTICS_RFM_INTERVAL", "0");
    ap_env(&suite, "CRM_ANALYTICS_RISK_INTERVAL", "0");
    ap_start(&ap, &suite, false);
    memset(&batch, 0, sizeof batch);
    batch.ap = &ap;
    batch.pub = ap_pub(&ap, CRM_SVC_CONTACTS);
    ds_contacts(&batch);
    batch.pub = ap_pub(&ap, CRM_SVC_LOYALTY);
    ds_loyalty(&batch);
    batch.pub = ap_pub(&ap, CRM_SVC_FEEDBACK);
    ds_feedback(&batch);
    crm_suite_start(&suite, CRM_SVC_ANALYTICS);
    crm_suite_start(&suite, CRM_SVC_GATEWAY);
    crm_http_response_t r;
    crm_suite_http(&suite, "POST", "/v1/keys", ADMIN, "{\"name\":\"dataset-analyst\",\"role\":\"analyst\"}", NULL, &r);
    cr_assert_eq(r.status, 201, "%ld %s", r.status, r.body);
    json_t *json = crm_http_json(&r);
    snprintf(analyst, sizeof analyst, "%s", json_string_value(json_object_get(json, "secret")));
    json_decref(json);
    crm_http_response_clear(&r);
    cr_assert(ap_wait_folded(&ap, &suite, analyst, 0, FOLD_WAIT_MS), "analytics did not fold the data set; see %s",
              suite.log);
}

static void s_teardown(void)
{
    crm_suite_destroy(&suite);
    ap_stop(&ap);
    crm_test_check_leaks();
}

TestSuite(analytics_dataset, .init = s_setup, .fini = s_teardown, .timeout = 180);

/* GET path as the analyst; asserts 200; returns the JSON (caller decrefs). */
static json_t *s_get(const char *path)
{
    crm_http_response_t r;
    crm_suite_http(&suite, "GET", path, analyst, NULL, NULL, &r);
    cr_assert_eq(r.status, 200, "GET %s: %ld %s", path, r.status, r.body);
    json_t *json = crm_http_json(&r);
    crm_http_response_clear(&r);
    return json;
}

/* An integer figure (JSON writes 64-bit integers as strings and leaves out zeros). */
static long long s_int(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (json_is_integer(v))
        return json_integer_value(v);
    return json_is_string(v) ? strtoll(json_string_value(v), NULL, 10) : 0;
}

static double s_num(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_number(v) ? json_number_value(v) : 0.0;
}

#define EXPECT_INT(obj, key, want) \
    cr_expect_eq(s_int((obj), (key)), (want), "%s: %lld, expected %lld", (key), s_int((obj), (key)), (long long) (want))
#define EXPECT_NUM(obj, key, want) \
    cr_expect(fabs(s_num((obj), (key)) - (want)) < PRECISION, "%s: %.6f, expected %.6f", (key), s_num((obj), (key)), \
              (double) (want))

/*
 * The first quarter of 2025, 2025-01-01 .. 2025-03-31 (90 days; the active window W is 90 days, so
 * the window ending 03-31 starts 01-01 and is the quarter itself).
 *
 * Net purchases (not fully refunded) and the active spells they make: purchase days less than or
 * equal to 90 days apart join; a spell lapses 90 days after its last purchase.
 *   C01 2024-01-10, 03-01 (51 days), 05-20 (80)          -> spell 2024-01-10 .. lapse 2024-08-18
 *       2024-11-15, 2025-01-20 (66), 03-10 (49), 05-05   -> spell 2024-11-15 .. lapse 2025-08-03
 *   C02 2024-02-10                                       -> .. lapse 2024-05-10
 *       (2024-12-20 fully refunded: no purchase)
 *       2025-02-14 (12000, 2000 refunded 02-20)          -> .. lapse 2025-05-15
 *   C03 2024-04-01                                       -> .. lapse 2024-06-30
 *       2024-10-20, 2025-01-05 (77; 5000 refunded 04-10) -> .. lapse 2025-04-05
 *   C04 2024-06-10, 08-15, 10-10, 12-05                  -> .. lapse 2025-03-05
 *   C05 2025-02-01, 03-15                                -> .. lapse 2025-06-13
 *   C06 2025-03-20                                       -> .. lapse 2025-06-18
 *   C08 2024-05-05 (USD)                                 -> .. lapse 2024-08-03
 *       2024-12-30, 2025-03-25 (85)                      -> .. lapse 2025-06-23
 *   C09 2024-09-10, 11-25 (76)                           -> .. lapse 2025-02-23
 *       2025-04-15                                       -> .. lapse 2025-07-14
 *   C10 2024-07-05                                       -> .. lapse 2024-10-03
 *   C12 2025-03-01                                       -> .. lapse 2025-05-30
 *   (C07 and C11 never buy.)
 * activeStart (end of 2024-12-31): C01, C03, C04, C08, C09 = 5.
 * activeEnd (end of 2025-03-31): C01, C02, C03 (lapses 04-05), C05, C06, C08, C12 = 7.
 * lapsed: of the five, C09 (02-23) and C04 (03-05) = 2; retained 3; retention 60 %, churn 40 %.
 * newCustomers (first net purchase in Q1): C05 02-01, C12 03-01, C06 03-20 = 3.
 * buyers up to 03-31: everyone but C07 and C11 = 10; repeatBuyers (two net purchases by then):
 *   C01, C02 (2024-02-10 and 2025-02-14), C03, C04, C05, C08 (the USD order counts), C09 = 7: 70 %.
 * orders in Q1: C01 x2, C02, C03, C05 x2, C06, C08, C12 = 9, all CNY: moneyOrders 9.
 * revenueMinor: 25000 + 20000 + 12000 + 45000 + 9000 + 6000 + 7000 + 13000 + 5000 = 142000.
 * refundsMinor (refund days in Q1): R0202 2000 on 02-20 (R0201 was 2024-12-28, R0301 2025-04-10).
 * netRevenueMinor: 142000 - 2000 (P0203) - 5000 (P0303, refunded in April) = 135000.
 * aov: 135000 / 9 = 15000.
 * windowOrders (01-01 .. 03-31) = 9; purchaseFrequency 9 / 7 = 1.285714.
 * historicClv: CNY net revenue of all purchases up to 03-31 over 10 buyers:
 *   C01 10000+20000+15000+30000+25000+20000 = 120000; C02 5000 + 0 + 10000 = 15000;
 *   C03 40000+35000+40000 = 115000; C04 3000+3500+4000+2500 = 13000; C05 15000; C06 7000;
 *   C08 11000+13000 = 24000 (the USD order is not money in CNY); C09 6000+6000 = 12000; C10 2000;
 *   C12 5000; total 328000 / 10 = 32800.
 * expectedLifespanDays 1095 (the default); predictiveClv = aov x frequency x lifespan / W
 *   = 15000 x 9/7 x 1095/90 = 234642.857143.
 * customersCreated in Q1: C06 01-15, C07 02-10, C12 03-01 = 3.
 * prospects: C05 (created 2024-12-01, first purchase 2025-02-01) and C11 (2024-11-01, never) at the
 *   start = 2; created in Q1 before their first purchase: C06 (01-15 .. 03-20) and C07 (never) = 2
 *   (C12 bought the day it was created: never a prospect); conversions C05, C06 = 2;
 *   conversionRate 2 / (2 + 2) = 50 %.
 *
 * Answers in Q1:
 *   NPS  C01 10 (01-25, promoter), C02 6 (02-15, detractor), C05 8 (02-20, passive),
 *        C12 10 (03-02, promoter), C03 9 (03-05, promoter), C08 3 (03-26, detractor)
 *        -> 6 answers, 3 promoters, 1 passive, 2 detractors; NPS 100 x (3 - 2) / 6 = 16.67
 *   CSAT C02 5, C09 3, C04 2, C06 4 -> 4 answers, 2 satisfied (4-5): 50 %
 *   CES  C01 6, C05 7, C08 2 -> 3 answers, mean 15 / 3 = 5.0
 *   (outside: C03 CSAT 2024-10-25, C04 NPS 2024-11-01, C01 NPS 2024-12-10, C09 NPS 2025-04-20,
 *   C03 CES 2025-05-01.)
 *
 * Complaints, as their last version says:
 *   K4 C09 opened 2024-12-28 10:00, breached, first response 2025-01-02 (432000 s), resolved
 *      2025-01-05 (691200 s), closed.
 *   K1 C02 opened 2025-01-12 09:00, first response 11:00 (7200 s), resolved 01-13 09:00 (86400 s)
 *      at first contact, closed.
 *   K2 C04 opened 2025-02-03 10:00, breached, first response 02-04 16:00 (108000 s), resolved
 *      02-07, reopened, resolved again 02-12 10:00 (777600 s).
 *   K3 C08 opened 2025-03-26 08:00, first response 10:00 (7200 s), in progress.
 *   K5 C01 opened 2025-03-30, open.
 * complaintsOpened in Q1: K1, K2, K3, K5 = 4; complaintRate 100 x 4 / 7 = 57.14.
 * firstResponses in Q1: K4 (01-02), K1, K2, K3 = 4; mean (432000 + 7200 + 108000 + 7200) / 4 = 138600.
 * resolutions in Q1: K4 (01-05), K1 (01-13), K2 (02-12) = 3; mean (691200 + 86400 + 777600) / 3
 *   = 518400; at first contact K1: fcrRate 33.33.
 * complaintsBreached (opened in Q1): K2: 25 %; complaintsReopened: K2: 25 %.
 *
 * Points (ledger entries by their time) in Q1:
 *   earned C01 250 + 200, C03 450, C05 90 + 60, C02 100, C08 130 = 1280
 *   redeemed C01 400, C03 200 - 200 restored = 400; expired C02 50, C04 30 = 80;
 *   other: C02 reversal -20, C09 adjustment +15 = -5.
 *   Before 2025: earned 750 (C01) + 50 (C02) + 750 (C03) + 130 (C04) + 110 (C08) + 120 (C09) = 1910,
 *   redeemed 300 (C01) + 500 (C03) = 800.
 *   outstandingPoints at 03-31 = 1910 - 800 + 1280 - 400 - 80 - 5 = 1905.
 * members at 03-31: C01, C02, C03, C04, C05 (from 2025-02-01), C08, C09 = 7; by tier then:
 *   gold C01 (2024-11-15), C03 (2025-01-05) = 2; silver C08 (2024-12-30) = 1;
 *   bronze (the entry tier, no change) C02, C04, C05, C09 = 4.
 */
Test(analytics_dataset, every_figure_of_the_first_quarter_of_2025)
{
    json_t *s = s_get("/v1/analytics/summary?from=2025-01-01&to=2025-03-31");
    cr_assert_str_eq(json_string_value(json_object_get(s, "segment")), "all");
    cr_assert_str_eq(json_string_value(json_object_get(s, "currency")), "CNY");
    /* Satisfaction */
    EXPECT_INT(s, "npsAnswers", 6);
    EXPECT_INT(s, "npsPromoters", 3);
    EXPECT_INT(s, "npsPassives", 1);
    EXPECT_INT(s, "npsDetractors", 2);
    EXPECT_NUM(s, "nps", 100.0 / 6);
    EXPECT_INT(s, "csatAnswers", 4);
    EXPECT_INT(s, "csatSatisfied", 2);
    EXPECT_NUM(s, "csat", 50.0);
    EXPECT_INT(s, "cesAnswers", 3);
    EXPECT_NUM(s, "cesAverage", 5.0);
    /* Service */
    EXPECT_INT(s, "complaintsOpened", 4);
    EXPECT_NUM(s, "complaintRate", 400.0 / 7);
    EXPECT_INT(s, "firstResponses", 4);
    EXPECT_NUM(s, "avgFirstResponseSeconds", 138600.0);
    EXPECT_INT(s, "resolutions", 3);
    EXPECT_NUM(s, "avgResolutionSeconds", 518400.0);
    EXPECT_INT(s, "resolvedFirstContact", 1);
    EXPECT_NUM(s, "fcrRate", 100.0 / 3);
    EXPECT_INT(s, "complaintsBreached", 1);
    EXPECT_NUM(s, "slaBreachRate", 25.0);
    EXPECT_INT(s, "complaintsReopened", 1);
    EXPECT_NUM(s, "reopenRate", 25.0);
    /* Retention and value */
    EXPECT_INT(s, "activeStart", 5);
    EXPECT_INT(s, "activeEnd", 7);
    EXPECT_INT(s, "lapsed", 2);
    EXPECT_INT(s, "retained", 3);
    EXPECT_NUM(s, "retentionRate", 60.0);
    EXPECT_NUM(s, "churnRate", 40.0);
    EXPECT_INT(s, "newCustomers", 3);
    EXPECT_INT(s, "buyers", 10);
    EXPECT_INT(s, "repeatBuyers", 7);
    EXPECT_NUM(s, "repeatPurchaseRate", 70.0);
    EXPECT_INT(s, "orders", 9);
    EXPECT_INT(s, "moneyOrders", 9);
    EXPECT_INT(s, "revenueMinor", 142000);
    EXPECT_INT(s, "refundsMinor", 2000);
    EXPECT_INT(s, "netRevenueMinor", 135000);
    EXPECT_NUM(s, "aov", 15000.0);
    EXPECT_INT(s, "windowOrders", 9);
    EXPECT_NUM(s, "purchaseFrequency", 9.0 / 7);
    EXPECT_NUM(s, "historicClv", 32800.0);
    EXPECT_NUM(s, "expectedLifespanDays", 1095.0);
    EXPECT_NUM(s, "predictiveClv", 15000.0 * 9 / 7 * 1095 / 90);
    EXPECT_INT(s, "customersCreated", 3);
    EXPECT_INT(s, "prospectsStart", 2);
    EXPECT_INT(s, "prospectsNew", 2);
    EXPECT_INT(s, "conversions", 2);
    EXPECT_NUM(s, "conversionRate", 50.0);
    /* Loyalty */
    EXPECT_INT(s, "pointsEarned", 1280);
    EXPECT_INT(s, "pointsRedeemed", 400);
    EXPECT_INT(s, "pointsExpired", 80);
    EXPECT_INT(s, "pointsOther", -5);
    EXPECT_INT(s, "outstandingPoints", 1905);
    EXPECT_INT(s, "members", 7);
    json_t *tiers = json_object_get(s, "membersPerTier");
    cr_assert_eq(json_array_size(tiers), 3, "%s", json_dumps(tiers, 0));
    static const char *const names[3] = { "bronze", "gold", "silver" };
    static const long long counts[3] = { 4, 2, 1 };
    for (size_t i = 0; i < 3; i++) {
        json_t *t = json_array_get(tiers, i);
        cr_expect_str_eq(json_string_value(json_object_get(t, "tier")), names[i]);
        EXPECT_INT(t, "members", counts[i]);
    }
    json_decref(s);
}

/*
 * The third quarter of 2024, 2024-07-01 .. 2024-09-30.
 * activeStart (end of 2024-06-30): C01 (spell to 08-18), C04 (from 06-10), C08 (to 08-03) = 3; C03's
 *   first spell lapsed on 06-30 itself.
 * lapsed in the quarter: C08 (08-03), C01 (08-18) = 2; retained C04 = 1: 33.33 %, churn 66.67 %.
 * activeEnd (09-30): C04, C10 (07-05, lapses 10-03), C09 (09-10) = 3.
 * newCustomers: C10 (07-05), C09 (09-10) = 2; orders C10, C04 (08-15), C09 = 3;
 *   revenue 2000 + 3500 + 6000 = 11500; buyers by 09-30: C01, C02, C03, C08, C04, C10, C09 = 7.
 * No answers, no complaints; points earned C04 35 (08-15) + C09 60 (09-10) = 95.
 * members at 09-30: C01, C02, C03, C04, C09 = 5: silver C01 (03-01), C03 (04-01); bronze C02, C04, C09.
 */
Test(analytics_dataset, the_third_quarter_of_2024)
{
    json_t *s = s_get("/v1/analytics/summary?from=2024-07-01&to=2024-09-30");
    EXPECT_INT(s, "activeStart", 3);
    EXPECT_INT(s, "lapsed", 2);
    EXPECT_INT(s, "retained", 1);
    EXPECT_NUM(s, "retentionRate", 100.0 / 3);
    EXPECT_NUM(s, "churnRate", 200.0 / 3);
    EXPECT_INT(s, "activeEnd", 3);
    EXPECT_INT(s, "newCustomers", 2);
    EXPECT_INT(s, "orders", 3);
    EXPECT_INT(s, "revenueMinor", 11500);
    EXPECT_INT(s, "buyers", 7);
    EXPECT_INT(s, "npsAnswers", 0);
    EXPECT_INT(s, "complaintsOpened", 0);
    EXPECT_INT(s, "pointsEarned", 95);
    EXPECT_INT(s, "members", 5);
    json_t *tiers = json_object_get(s, "membersPerTier");
    cr_assert_eq(json_array_size(tiers), 2);
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(tiers, 0), "tier")), "bronze");
    EXPECT_INT(json_array_get(tiers, 0), "members", 3);
    EXPECT_INT(json_array_get(tiers, 1), "members", 2);
    json_decref(s);
}

/*
 * Segments, Q1 2025 (each customer in its segment now: C09 moved from bob to ann on 2025-02-01, and
 * its earlier answers moved with it):
 *   owner ann: C01, C02, C05, C07, C09, C12. NPS: C01 10, C02 6, C05 8, C12 10 -> 4 answers,
 *     2 promoters, 1 detractor: 25. CSAT: C02 5, C09 3 -> 2 answers, 50 %.
 *   owner bob: C03, C04, C06, C08, C10. NPS: C03 9, C08 3 -> 2 answers: 0. CSAT: C04 2, C06 4: 2.
 *   need type quality_seeking: C01, C03, C05, C08, C10, C12. NPS: C01 10, C03 9, C05 8, C08 3,
 *     C12 10 -> 5 answers, 3 promoters, 1 detractor: 40.
 *   need type price_sensitive: C02, C04, C06, C07, C11. NPS: C02 6 -> -100.
 *   tier gold (now): C01, C03. NPS: C01 10, C03 9 -> 100; points earned 450 + 450 = 900.
 */
Test(analytics_dataset, satisfaction_per_segment)
{
    json_t *s = s_get("/v1/analytics/summary?from=2025-01-01&to=2025-03-31&owner=ann");
    cr_assert_str_eq(json_string_value(json_object_get(s, "segment")), "owner:ann");
    EXPECT_INT(s, "npsAnswers", 4);
    EXPECT_NUM(s, "nps", 25.0);
    EXPECT_INT(s, "csatAnswers", 2);
    EXPECT_NUM(s, "csat", 50.0);
    json_decref(s);
    s = s_get("/v1/analytics/summary?from=2025-01-01&to=2025-03-31&owner=bob");
    EXPECT_INT(s, "npsAnswers", 2);
    EXPECT_NUM(s, "nps", 0.0);
    EXPECT_INT(s, "csatAnswers", 2);
    json_decref(s);
    s = s_get("/v1/analytics/summary?from=2025-01-01&to=2025-03-31&needType=quality_seeking");
    cr_assert_str_eq(json_string_value(json_object_get(s, "segment")), "needType:quality_seeking");
    EXPECT_INT(s, "npsAnswers", 5);
    EXPECT_NUM(s, "nps", 40.0);
    json_decref(s);
    s = s_get("/v1/analytics/summary?from=2025-01-01&to=2025-03-31&needType=price_sensitive");
    EXPECT_INT(s, "npsAnswers", 1);
    EXPECT_NUM(s, "nps", -100.0);
    json_decref(s);
    s = s_get("/v1/analytics/summary?from=2025-01-01&to=2025-03-31&tier=gold");
    EXPECT_INT(s, "npsAnswers", 2);
    EXPECT_NUM(s, "nps", 100.0);
    EXPECT_INT(s, "pointsEarned", 900);
    json_decref(s);
}

/*
 * Series:
 *   NPS by month, 2025-01 .. 2025-03: January C01 10 -> 100; February C02 6, C05 8 -> -50;
 *     March C12 10, C03 9, C08 3 -> 33.33.
 *   activeEnd by month: 01-31 C01, C03, C04, C08, C09 = 5; 02-28 C09 lapsed 02-23, C02 and C05
 *     came: 6; 03-31: 7.
 *   orders by ISO week over March 2025 (03-01 is a Saturday, 03-31 a Monday): weeks from 02-24
 *     (C12 03-01) 1, 03-03 0, 03-10 (C01 03-10, C05 03-15) 2, 03-17 (C06 03-20) 1,
 *     03-24 (C08 03-25) 1, 03-31 0.
 */
Test(analytics_dataset, series_by_month_and_week)
{
    json_t *j = s_get("/v1/analytics/series?figure=nps&granularity=month&from=2025-01-01&to=2025-03-31");
    json_t *points = json_object_get(j, "points");
    cr_assert_eq(json_array_size(points), 3);
    static const double nps[3] = { 100.0, -50.0, 100.0 / 3 };
    static const char *const starts[3] = { "2025-01-01", "2025-02-01", "2025-03-01" };
    for (size_t i = 0; i < 3; i++) {
        cr_expect_str_eq(json_string_value(json_object_get(json_array_get(points, i), "start")), starts[i]);
        EXPECT_NUM(json_array_get(points, i), "value", nps[i]);
    }
    json_decref(j);
    j = s_get("/v1/analytics/series?figure=activeEnd&granularity=month&from=2025-01-01&to=2025-03-31");
    points = json_object_get(j, "points");
    static const double active[3] = { 5, 6, 7 };
    for (size_t i = 0; i < 3; i++)
        EXPECT_NUM(json_array_get(points, i), "value", active[i]);
    json_decref(j);
    j = s_get("/v1/analytics/series?figure=orders&granularity=week&from=2025-03-01&to=2025-03-31");
    points = json_object_get(j, "points");
    cr_assert_eq(json_array_size(points), 6);
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(points, 0), "start")), "2025-02-24");
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(points, 5), "end")), "2025-04-06");
    static const double orders[6] = { 1, 0, 2, 1, 1, 0 };
    for (size_t i = 0; i < 6; i++)
        EXPECT_NUM(json_array_get(points, i), "value", orders[i]);
    json_decref(j);
}

/*
 * Cohorts by month of first net purchase, 2024-01 .. 2025-06, and the later months with a net purchase:
 *   2024-01 C01: 2024-01, 03, 05, 11, 2025-01, 03, 05 -> offsets 0, 2, 4, 10, 12, 14, 16
 *   2024-02 C02: 2024-02, 2025-02 (December's order was refunded) -> 0, 12
 *   2024-04 C03: 2024-04, 10, 2025-01 -> 0, 6, 9
 *   2024-05 C08: 2024-05, 12, 2025-03 -> 0, 7, 10
 *   2024-06 C04: 06, 08, 10, 12 -> 0, 2, 4, 6
 *   2024-07 C10: 0;  2024-09 C09: 2024-09, 11, 2025-04 -> 0, 2, 7
 *   2025-02 C05: 0, 1;  2025-03 C12 and C06: 2 customers at 0, none after.
 *   The other months have no cohort.
 */
Test(analytics_dataset, the_cohort_table)
{
    json_t *j = s_get("/v1/analytics/cohorts?from=2024-01-01&to=2025-06-30");
    json_t *rows = json_object_get(j, "rows");
    cr_assert_eq(json_array_size(rows), 18);
    static const struct {
        size_t row;
        const char *month;
        long long customers;
        int offsets[8];
    } expected[] = {
        { 0, "2024-01", 1, { 0, 2, 4, 10, 12, 14, 16, -1 } },
        { 1, "2024-02", 1, { 0, 12, -1 } },
        { 2, "2024-03", 0, { -1 } },
        { 3, "2024-04", 1, { 0, 6, 9, -1 } },
        { 4, "2024-05", 1, { 0, 7, 10, -1 } },
        { 5, "2024-06", 1, { 0, 2, 4, 6, -1 } },
        { 6, "2024-07", 1, { 0, -1 } },
        { 8, "2024-09", 1, { 0, 2, 7, -1 } },
        { 13, "2025-02", 1, { 0, 1, -1 } },
        { 14, "2025-03", 2, { 0, -1 } },
        { 17, "2025-06", 0, { -1 } },
    };
    for (size_t e = 0; e < sizeof expected / sizeof expected[0]; e++) {
        json_t *row = json_array_get(rows, expected[e].row);
        cr_expect_str_eq(json_string_value(json_object_get(row, "month")), expected[e].month);
        EXPECT_INT(row, "customers", expected[e].customers);
        json_t *act = json_object_get(row, "active");
        cr_expect_eq(json_array_size(act), 18 - expected[e].row, "%s", expected[e].month);
        for (size_t k = 0; k < json_array_size(act); k++) {
            long long want = 0;
            for (int o = 0; expected[e].offsets[o] >= 0; o++)
                if ((size_t) expected[e].offsets[o] == k)
                    want = expected[e].customers;
            json_t *v = json_array_get(act, k);
            long long got = json_is_string(v) ? strtoll(json_string_value(v), NULL, 10) : json_integer_value(v);
            cr_expect_eq(got, want, "%s offset %zu: %lld, expected %lld", expected[e].month, k, got, want);
        }
    }
    json_t *march = json_array_get(rows, 14);
    cr_expect(fabs(json_number_value(json_array_get(json_object_get(march, "retention"), 0)) - 100.0) < PRECISION);
    json_decref(j);
}

/*
 * RFM as of 2025-04-20 12:00 UTC. Active base (a net purchase from 2025-01-21): C01 (03-10; May's is
 * later), C02 (02-14), C05 (03-15), C06 (03-20), C08 (03-25), C09 (04-15), C12 (03-01) = 7.
 *   recency days  C09 5, C08 26, C06 31, C05 36, C01 41, C12 50, C02 65
 *     customers with more days: 6, 5, 4, 3, 2, 1, 0 -> R = 1 + floor(5w/7): 5, 4, 3, 3, 2, 1, 1
 *   frequency     C06 1, C12 1, C02 2, C05 2, C08 3, C09 3, C01 6 -> fewer: 0,0,2,2,4,4,6
 *     -> F 1, 1, 2, 2, 3, 3, 5
 *   monetary      C12 5000, C06 7000, C02 15000, C05 15000, C09 20000, C08 24000, C01 120000
 *     -> less: 0,1,2,2,4,5,6 -> M 1, 1, 2, 2, 3, 4, 5
 *   totals: C01 2+5+5 = 12 high; C08 4+3+4 = 11 mid; C09 5+3+3 = 11 mid; C05 3+2+2 = 7 low;
 *     C02 1+2+2 = 5 low; C06 3+1+1 = 5 low; C12 1+1+1 = 3 low. C03, C04, C10 bought but are not
 *     active: low. Value tiers: high 1, mid 2, low 7.
 *   R distribution (scores 1..5): 2 (C02, C12), 1 (C01), 2 (C05, C06), 1 (C08), 1 (C09).
 *   F: 2, 2, 2, 0, 1.  M: 2, 2, 1, 1, 1.
 *
 * C04's churn risk as of 2025-04-20 12:00 UTC:
 *   interval_stretched: 4 purchases 2024-06-10 .. 12-05 (span 178 days, usually 59); 136 days since
 *     the last: 3 x 136 - 178 = 230 > 178: all 30 points.
 *   silent: last contact the complaint K2 opened 2025-02-03 10:00: 76 days 2 hours; silence 60 days:
 *     25 x (6573600 - 5184000) / 5184000 s = 6.70 -> 6.
 *   complaints_rising: 1 complaint (K2) in the last 90 days, none in the 90 before: 5.
 *   low_scores: the latest answer, CSAT 2 on 02-01 (78 days ago), is unsatisfied: 10.
 *   falling_scores: CSAT 2 is 25 of 100, the NPS 2 before it 20: not falling.
 *   points_expiring_unused: 30 points expired 03-05 (46 days ago), never a redemption: 10.
 *   Score 30 + 6 + 5 + 10 + 10 = 61.
 */
Test(analytics_dataset, rfm_and_a_customers_scores)
{
    crm_http_response_t r;
    crm_suite_http(&suite, "POST", "/v1/analytics/rfm/recompute", analyst, "{}", NULL, &r);
    cr_assert_eq(r.status, 403, "recomputing is for admin: %ld", r.status);
    crm_http_response_clear(&r);
    crm_suite_http(&suite, "POST", "/v1/analytics/rfm/recompute", ADMIN, "{\"asOf\":\"2025-04-20T12:00:00Z\"}", NULL,
                   &r);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    crm_http_response_clear(&r);
    json_t *d = s_get("/v1/analytics/rfm");
    EXPECT_INT(d, "scored", 7);
    EXPECT_INT(d, "valueHigh", 1);
    EXPECT_INT(d, "valueMid", 2);
    EXPECT_INT(d, "valueLow", 7);
    static const long long rd[5] = { 2, 1, 2, 1, 1 }, fd[5] = { 2, 2, 2, 0, 1 }, md[5] = { 2, 2, 1, 1, 1 };
    for (size_t i = 0; i < 5; i++) {
        json_t *v;
        v = json_array_get(json_object_get(d, "recency"), i);
        cr_expect_eq(json_is_string(v) ? strtoll(json_string_value(v), NULL, 10) : 0, rd[i], "R=%zu", i + 1);
        v = json_array_get(json_object_get(d, "frequency"), i);
        cr_expect_eq(json_is_string(v) ? strtoll(json_string_value(v), NULL, 10) : 0, fd[i], "F=%zu", i + 1);
        v = json_array_get(json_object_get(d, "monetary"), i);
        cr_expect_eq(json_is_string(v) ? strtoll(json_string_value(v), NULL, 10) : 0, md[i], "M=%zu", i + 1);
    }
    json_decref(d);
    char path[256];
    snprintf(path, sizeof path, "/v1/analytics/customers/%s", ds_id("C01"));
    json_t *c = s_get(path);
    cr_expect_str_eq(json_string_value(json_object_get(c, "valueTier")), "high");
    EXPECT_INT(c, "recency", 2);
    EXPECT_INT(c, "frequency", 5);
    EXPECT_INT(c, "monetary", 5);
    cr_expect_str_eq(json_string_value(json_object_get(c, "tier")), "gold");
    json_decref(c);
    snprintf(path, sizeof path, "/v1/contacts/%s/analytics?asOf=2025-04-20T12:00:00Z", ds_id("C04"));
    c = s_get(path);
    EXPECT_INT(c, "purchases", 4);
    EXPECT_INT(c, "netSpendMinor", 13000);
    cr_expect(!json_is_true(json_object_get(c, "active")));
    EXPECT_INT(c, "churnScore", 61);
    cr_expect_str_eq(json_string_value(json_object_get(c, "valueTier")), "low");
    cr_expect_str_eq(json_string_value(json_object_get(c, "tier")), "bronze");
    cr_expect_str_eq(json_string_value(json_object_get(c, "owner")), "bob");
    cr_expect_str_eq(json_string_value(json_object_get(c, "needType")), "price_sensitive");
    EXPECT_INT(c, "answers", 2);
    EXPECT_INT(c, "complaints", 1);
    json_t *reasons = json_object_get(c, "reasons");
    static const struct {
        const char *code;
        long long weight;
    } want[] = {
        { "interval_stretched", 30 }, { "silent", 6 }, { "complaints_rising", 5 }, { "low_scores", 10 },
        { "points_expiring_unused", 10 },
    };
    cr_assert_eq(json_array_size(reasons), 5, "%s", json_dumps(reasons, 0));
    for (size_t i = 0; i < 5; i++) {
        json_t *reason = json_array_get(reasons, i);
        cr_expect_str_eq(json_string_value(json_object_get(reason, "code")), want[i].code);
        EXPECT_INT(reason, "weight", want[i].weight);
    }
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(reasons, 0), "detail")),
                     "no purchase for 136 days; usually every 59 days");
    json_decref(c);
    /* A customer analytics does not know, and an agent's key. */
    crm_suite_http(&suite, "GET", "/v1/analytics/customers/01JDATASET00000000000000ZZ", analyst, NULL, NULL, &r);
    cr_expect_eq(r.status, 404);
    crm_http_response_clear(&r);
}
