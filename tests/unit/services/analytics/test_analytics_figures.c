/* test_analytics_figures.c: the figure arithmetic: calendar, active spells and retention, refunds, cohorts, prospects, complaints, loyalty, segments, merges, deletions, and order independence. */
#include "analytics_fixture.h"

static void s_setup(void)
{
    fx_setup();
}

TestSuite(analytics_figures, .init = s_setup, .fini = fx_teardown, .timeout = 60);

#define D(date) fx_date(date)
#define EPS 1e-9

/* Starts over with an empty store (the settings kept). */
static void s_fresh(void)
{
    fx_stop();
    crm_test_rmtree(fx.dir);
    crm_test_tmpdir(fx.dir);
    fx_start();
}

static int64_t s_day(const char *date)
{
    int64_t d = 0;
    cr_assert_eq(analytics_date_parse(date, &d), 0);
    return d;
}

Test(analytics_figures, calendar_days_weeks_months_and_offsets)
{
    char text[ANALYTICS_DATE_SIZE], month[ANALYTICS_MONTH_SIZE];
    cr_assert_eq(s_day("1970-01-01"), 0);
    cr_assert_eq(s_day("2024-03-01") - s_day("2024-02-28"), 2, "2024 is a leap year");
    cr_assert_eq(s_day("2025-03-01") - s_day("2025-02-28"), 1);
    analytics_date_format(s_day("2025-12-31"), text);
    cr_assert_str_eq(text, "2025-12-31");
    int64_t d;
    cr_assert_eq(analytics_date_parse("2025-02-29", &d), CRM_EINVALID);
    cr_assert_eq(analytics_date_parse("2025-2-28", &d), CRM_EINVALID);
    cr_assert_eq(analytics_date_parse("2025-13-01", &d), CRM_EINVALID);
    cr_assert_eq(analytics_date_parse("", &d), CRM_EINVALID);
    /* ISO weeks start on Monday: 2025-01-01 was a Wednesday, its week began 2024-12-30. */
    cr_assert_eq(analytics_week_start(s_day("2025-01-01")), s_day("2024-12-30"));
    cr_assert_eq(analytics_week_start(s_day("2024-12-30")), s_day("2024-12-30"));
    cr_assert_eq(analytics_week_start(s_day("2025-01-05")), s_day("2024-12-30"), "Sunday ends the week");
    cr_assert_eq(analytics_week_start(s_day("1969-12-31")), s_day("1969-12-29"));
    cr_assert_eq(analytics_month_first_day(analytics_month_of(s_day("2025-02-17"))), s_day("2025-02-01"));
    analytics_month_format(analytics_month_of(s_day("2024-12-31")) + 1, month);
    cr_assert_str_eq(month, "2025-01");
    /* A time belongs to the local day: 23:30 UTC is the next day at +08:00. */
    int64_t late = s_day("2025-01-01") * FX_DAY + 23 * FX_HOUR + 30 * 60 * INT64_C(1000000);
    cr_assert_eq(analytics_day_of(late, 0), s_day("2025-01-01"));
    int64_t offset = 0;
    cr_assert_eq(analytics_offset_parse("+08:00", &offset), 0);
    cr_assert_eq(offset, 8 * FX_HOUR);
    cr_assert_eq(analytics_day_of(late, offset), s_day("2025-01-02"));
    cr_assert_eq(analytics_offset_parse("-05:30", &offset), 0);
    cr_assert_eq(offset, -(5 * FX_HOUR + 30 * 60 * INT64_C(1000000)));
    cr_assert_eq(analytics_offset_parse("+15:00", &offset), CRM_EINVALID);
    cr_assert_eq(analytics_offset_parse("08:00", &offset), CRM_EINVALID);
    cr_assert_eq(analytics_offset_parse("+08:60", &offset), CRM_EINVALID);
}

/* Active spells with the 90-day window:
 *   A buys 2025-01-10 and 2025-03-01 (50 days apart): one spell 2025-01-10 .. lapse 2025-05-30.
 *   B buys 2024-12-01: spell 2024-12-01 .. lapse 2025-03-01.
 *   C buys 2024-11-15 and 2025-03-20 (125 days apart): spells 2024-11-15 .. lapse 2025-02-13 and
 *     2025-03-20 .. lapse 2025-06-18.
 * Q1 2025: active at 2024-12-31: B, C = 2; at 2025-03-31: A, C = 2; lapsed during Q1 among the
 * start's two: B (03-01) and C (02-13, though back on 03-20) = 2; retained 0. */
Test(analytics_figures, active_spells_retention_and_churn)
{
    char a[CRM_ID_SIZE], b[CRM_ID_SIZE], c[CRM_ID_SIZE];
    fx_customer(a);
    fx_customer(b);
    fx_customer(c);
    cr_assert_eq(fx_purchase(a, "a1", 10000, "CNY", D("2025-01-10")), 0);
    cr_assert_eq(fx_purchase(a, "a2", 20000, "CNY", D("2025-03-01")), 0);
    cr_assert_eq(fx_purchase(b, "b1", 5000, "CNY", D("2024-12-01")), 0);
    cr_assert_eq(fx_purchase(c, "c1", 7000, "USD", D("2024-11-15")), 0);
    cr_assert_eq(fx_purchase(c, "c2", 3000, "CNY", D("2025-03-20")), 0);
    analytics_summary_t *s = fx_summary("a", "2025-01-01", "2025-03-31");
    cr_assert_eq(s->msg.active_start, 2);
    cr_assert_eq(s->msg.active_end, 2);
    cr_assert_eq(s->msg.lapsed, 2);
    cr_assert_eq(s->msg.retained, 0);
    cr_assert_float_eq(s->msg.churn_rate, 100.0, EPS);
    cr_assert_eq(s->msg.new_customers, 1);
    cr_assert_eq(s->msg.buyers, 3);
    cr_assert_eq(s->msg.repeat_buyers, 2);
    cr_assert_float_eq(s->msg.repeat_purchase_rate, 200.0 / 3, EPS);
    cr_assert_eq(s->msg.orders, 3);
    cr_assert_eq(s->msg.money_orders, 3);
    cr_assert_eq(s->msg.revenue_minor, 33000);
    cr_assert_float_eq(s->msg.aov, 11000.0, EPS);
    cr_assert_eq(s->msg.window_orders, 3);
    cr_assert_float_eq(s->msg.purchase_frequency, 1.5, EPS);
    /* Historic CLV: CNY net revenue through 03-31 (10000 + 20000 + 5000 + 3000; c1 was USD) over 3
     * buyers. Predictive: 11000 x 1.5 x 1095 / 90. */
    cr_assert_float_eq(s->msg.historic_clv, 38000.0 / 3, EPS);
    cr_assert_float_eq(s->msg.predictive_clv, 11000.0 * 1.5 * 1095 / 90, 1e-6);
    free(s);
    /* One day at a time: B lapses on 03-01 (its last active day is 02-28). */
    s = fx_summary("a", "2025-02-28", "2025-02-28");
    cr_assert_eq(s->msg.active_end, 2, "A and B on 02-28");
    free(s);
    s = fx_summary("a", "2025-03-01", "2025-03-01");
    cr_assert_eq(s->msg.active_start, 2);
    cr_assert_eq(s->msg.active_end, 1, "B lapsed on 03-01");
    cr_assert_eq(s->msg.lapsed, 1);
    free(s);
    /* Derived lifespan: with CRM_ANALYTICS_LIFESPAN=0, period days x start / lapsed. */
    fx.settings.lifespan_days = 0;
    fx_restart();
    s = fx_summary("a", "2025-01-01", "2025-03-31");
    cr_assert_float_eq(s->msg.expected_lifespan_days, 90.0 * 2 / 2, EPS);
    free(s);
}

Test(analytics_figures, refunds_count_on_the_purchase_day_and_a_full_refund_undoes_the_purchase)
{
    char a[CRM_ID_SIZE];
    fx_customer(a);
    cr_assert_eq(fx_purchase(a, "p1", 10000, "CNY", D("2025-01-10")), 0);
    cr_assert_eq(fx_purchase(a, "p2", 4000, "CNY", D("2025-02-10")), 0);
    cr_assert_eq(fx_refund(a, "p1", 10000, D("2025-01-10"), "r1", 2500, 2500, D("2025-04-02")), 0);
    cr_assert_eq(fx_refund(a, "p2", 4000, D("2025-02-10"), "r2", 4000, 4000, D("2025-02-12")), 0);
    /* The same refund again changes nothing. */
    cr_assert_eq(fx_refund(a, "p2", 4000, D("2025-02-10"), "r2", 4000, 4000, D("2025-02-12")), 0);
    analytics_summary_t *s = fx_summary("a", "2025-01-01", "2025-03-31");
    cr_assert_eq(s->msg.revenue_minor, 14000, "gross");
    cr_assert_eq(s->msg.net_revenue_minor, 7500, "p1 less its refund; p2 fully refunded");
    cr_assert_eq(s->msg.refunds_minor, 4000, "by refund day: r2 in Q1, r1 in April");
    cr_assert_eq(s->msg.orders, 1, "p2 is no order any more");
    cr_assert_eq(s->msg.repeat_buyers, 0);
    cr_assert_float_eq(s->msg.aov, 7500.0, EPS);
    free(s);
    s = fx_summary("a", "2025-04-01", "2025-04-30");
    cr_assert_eq(s->msg.refunds_minor, 2500);
    cr_assert_eq(s->msg.active_end, 0, "active until 2025-04-09 only (01-10 + 90 days)");
    free(s);
}

/* Cohorts by month of first purchase, and prospects: P created 2024-12-15 buys 2025-01-05 and
 * 2025-03-03; Q created 2025-01-20 buys 2025-01-25; R created 2025-02-01 never buys; S buys
 * 2025-02-10 before contacts says it was created (same day: never a prospect). */
Test(analytics_figures, cohort_table_and_conversion)
{
    char p[CRM_ID_SIZE], q[CRM_ID_SIZE], r[CRM_ID_SIZE], s_id[CRM_ID_SIZE];
    fx_customer(p);
    fx_customer(q);
    fx_customer(r);
    fx_customer(s_id);
    cr_assert_eq(fx_created(p, D("2024-12-15"), 0, NULL), 0);
    cr_assert_eq(fx_created(q, D("2025-01-20"), 0, NULL), 0);
    cr_assert_eq(fx_created(r, D("2025-02-01"), 0, NULL), 0);
    cr_assert_eq(fx_purchase(p, "p1", 100, "CNY", D("2025-01-05")), 0);
    cr_assert_eq(fx_purchase(p, "p2", 100, "CNY", D("2025-03-03")), 0);
    cr_assert_eq(fx_purchase(q, "q1", 100, "CNY", D("2025-01-25")), 0);
    cr_assert_eq(fx_purchase(s_id, "s1", 100, "CNY", D("2025-02-10")), 0);
    cr_assert_eq(fx_created(s_id, D("2025-02-10") + FX_HOUR, 0, NULL), 0);
    analytics_summary_t *sum = fx_summary("a", "2025-01-01", "2025-03-31");
    cr_assert_eq(sum->msg.customers_created, 3, "Q, R and S");
    cr_assert_eq(sum->msg.prospects_start, 1, "P");
    cr_assert_eq(sum->msg.prospects_new, 2, "Q and R (S bought the day it was created)");
    cr_assert_eq(sum->msg.conversions, 2, "P and Q");
    cr_assert_float_eq(sum->msg.conversion_rate, 100.0 * 2 / 3, EPS);
    free(sum);
    analytics_cohorts_t cohorts;
    crm_txn_t *txn = NULL;
    cr_assert_eq(crm_store_read_begin(fx.store, &txn), 0);
    cr_assert_eq(analytics_cohorts(fx.an, txn, "a", s_day("2025-01-01"), s_day("2025-03-31"), &cohorts), 0);
    crm_store_txn_end(&txn);
    cr_assert_eq(cohorts.count, 3);
    cr_assert_str_eq(cohorts.rows[0].month, "2025-01");
    cr_assert_eq(cohorts.rows[0].customers, 2, "P and Q");
    cr_assert_eq(cohorts.rows[0].n_active, 3);
    cr_assert_eq(cohorts.rows[0].active[1], 0);
    cr_assert_eq(cohorts.rows[0].active[2], 1, "P bought again in March");
    cr_assert_float_eq(cohorts.rows[0].retention[2], 50.0, EPS);
    cr_assert_eq(cohorts.rows[1].customers, 1, "S");
    cr_assert_eq(cohorts.rows[1].n_active, 2);
    cr_assert_eq(cohorts.rows[2].customers, 0);
    analytics_cohorts_clear(&cohorts);
}

/* C1 opened 2025-02-01, answered in 2 h, resolved in 1 day at first contact; C2 opened 2025-02-03,
 * breached, resolved 2025-02-10 after 7 days, then reopened (not resolved any more), then resolved
 * again 2025-02-20 after 17 days. */
Test(analytics_figures, complaint_figures_follow_the_newest_state)
{
    char a[CRM_ID_SIZE];
    fx_customer(a);
    fx_complaint_t c1 = { a, "c1", CRM__V1__COMPLAINT_STATUS__COMPLAINT_STATUS_OPEN, D("2025-02-01"), 0, 0, 0, 0,
                          false, false, 0, 1 };
    cr_assert_eq(fx_complaint("crm.feedback.complaint.opened.v1", &c1, D("2025-02-01")), 0);
    c1.first_response_us = D("2025-02-01") + 2 * FX_HOUR;
    c1.first_response_seconds = 7200;
    c1.version = 2;
    cr_assert_eq(fx_complaint("crm.feedback.complaint.responded.v1", &c1, c1.first_response_us), 0);
    c1.status = CRM__V1__COMPLAINT_STATUS__COMPLAINT_STATUS_RESOLVED;
    c1.resolved_us = D("2025-02-02");
    c1.resolution_seconds = 86400;
    c1.first_contact = true;
    c1.version = 3;
    cr_assert_eq(fx_complaint("crm.feedback.complaint.resolved.v1", &c1, c1.resolved_us), 0);
    fx_complaint_t c2 = { a, "c2", CRM__V1__COMPLAINT_STATUS__COMPLAINT_STATUS_RESOLVED, D("2025-02-03"),
                          D("2025-02-04"), 86400, D("2025-02-10"), 7 * 86400, false, true, 0, 4 };
    cr_assert_eq(fx_complaint("crm.feedback.complaint.resolved.v1", &c2, D("2025-02-10")), 0);
    /* An older version arriving late changes nothing. */
    fx_complaint_t stale = c2;
    stale.status = CRM__V1__COMPLAINT_STATUS__COMPLAINT_STATUS_OPEN;
    stale.version = 1;
    cr_assert_eq(fx_complaint("crm.feedback.complaint.opened.v1", &stale, D("2025-02-03")), 0);
    analytics_summary_t *s = fx_summary("a", "2025-02-01", "2025-02-28");
    cr_assert_eq(s->msg.complaints_opened, 2);
    cr_assert_eq(s->msg.first_responses, 2);
    cr_assert_float_eq(s->msg.avg_first_response_seconds, (7200.0 + 86400) / 2, EPS);
    cr_assert_eq(s->msg.resolutions, 2);
    cr_assert_float_eq(s->msg.avg_resolution_seconds, (86400.0 + 7 * 86400) / 2, EPS);
    cr_assert_float_eq(s->msg.fcr_rate, 50.0, EPS);
    cr_assert_float_eq(s->msg.sla_breach_rate, 50.0, EPS);
    cr_assert_eq(s->msg.complaints_reopened, 0);
    free(s);
    c2.status = CRM__V1__COMPLAINT_STATUS__COMPLAINT_STATUS_OPEN;
    c2.reopen_count = 1;
    c2.version = 5;
    cr_assert_eq(fx_complaint("crm.feedback.complaint.reopened.v1", &c2, D("2025-02-12")), 0);
    s = fx_summary("a", "2025-02-01", "2025-02-28");
    cr_assert_eq(s->msg.resolutions, 1, "a reopened complaint is not resolved");
    cr_assert_float_eq(s->msg.reopen_rate, 50.0, EPS);
    free(s);
    c2.status = CRM__V1__COMPLAINT_STATUS__COMPLAINT_STATUS_CLOSED;
    c2.resolved_us = D("2025-02-20");
    c2.resolution_seconds = 17 * 86400;
    c2.version = 7;
    cr_assert_eq(fx_complaint("crm.feedback.complaint.closed.v1", &c2, D("2025-02-21")), 0);
    s = fx_summary("a", "2025-02-01", "2025-02-28");
    cr_assert_eq(s->msg.resolutions, 2);
    cr_assert_float_eq(s->msg.avg_resolution_seconds, (86400.0 + 17 * 86400) / 2, EPS);
    cr_assert_eq(s->msg.complaints_reopened, 1);
    free(s);
}

/* Points by day and the liability; members per tier through the tier changes. */
Test(analytics_figures, loyalty_points_liability_and_members_per_tier)
{
    char a[CRM_ID_SIZE], b[CRM_ID_SIZE];
    fx_customer(a);
    fx_customer(b);
    cr_assert_eq(fx_points(a, "crm.loyalty.points.earned.v1", CRM__V1__ENTRY_KIND__ENTRY_KIND_EARN, 500, D("2025-01-05")), 0);
    cr_assert_eq(fx_points(a, "crm.loyalty.points.redeemed.v1", CRM__V1__ENTRY_KIND__ENTRY_KIND_REDEEM, -200, D("2025-02-05")), 0);
    cr_assert_eq(fx_points(a, "crm.loyalty.points.restored.v1", CRM__V1__ENTRY_KIND__ENTRY_KIND_REDEEM_CANCEL, 50, D("2025-02-06")), 0);
    cr_assert_eq(fx_points(b, "crm.loyalty.points.earned.v1", CRM__V1__ENTRY_KIND__ENTRY_KIND_EARN, 300, D("2024-12-20")), 0);
    cr_assert_eq(fx_points(b, "crm.loyalty.points.expired.v1", CRM__V1__ENTRY_KIND__ENTRY_KIND_EXPIRE, -100, D("2025-03-01")), 0);
    cr_assert_eq(fx_points(b, "crm.loyalty.points.adjusted.v1", CRM__V1__ENTRY_KIND__ENTRY_KIND_ADJUST, 40, D("2025-03-02")), 0);
    cr_assert_eq(fx_tier(a, "", "silver", D("2025-01-05")), 0);
    cr_assert_eq(fx_tier(a, "silver", "gold", D("2025-03-10")), 0);
    analytics_summary_t *s = fx_summary("a", "2025-01-01", "2025-03-31");
    cr_assert_eq(s->msg.points_earned, 500);
    cr_assert_eq(s->msg.points_redeemed, 150);
    cr_assert_eq(s->msg.points_expired, 100);
    cr_assert_eq(s->msg.points_other, 40);
    cr_assert_eq(s->msg.outstanding_points, 500 - 150 + 300 - 100 + 40);
    cr_assert_eq(s->msg.members, 2);
    cr_assert_eq(s->msg.n_members_per_tier, 2);
    cr_assert_str_eq(s->msg.members_per_tier[0]->tier, "bronze", "B never changed tier: the entry tier");
    cr_assert_eq(s->msg.members_per_tier[0]->members, 1);
    cr_assert_str_eq(s->msg.members_per_tier[1]->tier, "gold");
    free(s);
    s = fx_summary("a", "2025-02-01", "2025-02-28");
    cr_assert_str_eq(s->msg.members_per_tier[1]->tier, "silver", "A was silver until 03-10");
    free(s);
    /* The tier is a segment: A's figures are under tier gold, B's under bronze. */
    s = fx_summary("tgold", "2025-01-01", "2025-03-31");
    cr_assert_eq(s->msg.points_earned, 500);
    cr_assert_eq(s->msg.members, 1);
    free(s);
    s = fx_summary("tbronze", "2025-01-01", "2025-03-31");
    cr_assert_eq(s->msg.points_earned, 0);
    cr_assert_eq(s->msg.outstanding_points, 240);
    free(s);
}

/* A new owner moves every figure of the customer to the new owner's segment. */
Test(analytics_figures, a_segment_change_moves_the_customers_figures)
{
    char a[CRM_ID_SIZE];
    fx_customer(a);
    cr_assert_eq(fx_created(a, D("2025-01-01"), CRM__V1__NEED_TYPE__NEED_TYPE_PRICE_SENSITIVE, "ann"), 0);
    cr_assert_eq(fx_answer(a, "n1", CRM__V1__SURVEY_KIND__SURVEY_KIND_NPS, 10, D("2025-01-10")), 0);
    cr_assert_eq(fx_answer(a, "n2", CRM__V1__SURVEY_KIND__SURVEY_KIND_NPS, 3, D("2025-01-11")), 0);
    cr_assert_eq(fx_answer(a, "n2", CRM__V1__SURVEY_KIND__SURVEY_KIND_NPS, 3, D("2025-01-11")), 0);
    cr_assert_eq(fx_answer(a, "s1", CRM__V1__SURVEY_KIND__SURVEY_KIND_CSAT, 4, D("2025-01-12")), 0);
    cr_assert_eq(fx_answer(a, "e1", CRM__V1__SURVEY_KIND__SURVEY_KIND_CES, 6, D("2025-01-13")), 0);
    analytics_summary_t *s = fx_summary("oann", "2025-01-01", "2025-01-31");
    cr_assert_eq(s->msg.nps_answers, 2, "the same answer twice counts once");
    cr_assert_float_eq(s->msg.nps, 0.0, EPS);
    cr_assert_float_eq(s->msg.csat, 100.0, EPS);
    cr_assert_float_eq(s->msg.ces_average, 6.0, EPS);
    free(s);
    s = fx_summary("n1", "2025-01-01", "2025-01-31");
    cr_assert_eq(s->msg.nps_answers, 2);
    free(s);
    cr_assert_eq(fx_updated(a, D("2025-01-01"), CRM__V1__NEED_TYPE__NEED_TYPE_QUALITY_SEEKING, "bob", D("2025-02-01")), 0);
    s = fx_summary("oann", "2025-01-01", "2025-01-31");
    cr_assert_eq(s->msg.nps_answers, 0);
    cr_assert_eq(s->msg.customers_created, 0);
    free(s);
    s = fx_summary("obob", "2025-01-01", "2025-01-31");
    cr_assert_eq(s->msg.nps_answers, 2);
    cr_assert_eq(s->msg.customers_created, 1);
    free(s);
    s = fx_summary("n2", "2025-01-01", "2025-01-31");
    cr_assert_eq(s->msg.ces_answers, 1);
    free(s);
    s = fx_summary("a", "2025-01-01", "2025-01-31");
    cr_assert_eq(s->msg.nps_answers, 2, "all customers: unchanged");
    free(s);
}

Test(analytics_figures, merges_join_the_facts_and_deletions_remove_them)
{
    char s_id[CRM_ID_SIZE], m[CRM_ID_SIZE];
    fx_customer(s_id);
    fx_customer(m);
    cr_assert_eq(fx_purchase(s_id, "s1", 1000, "CNY", D("2025-02-01")), 0);
    cr_assert_eq(fx_purchase(m, "m1", 2000, "CNY", D("2025-01-05")), 0);
    cr_assert_eq(fx_answer(m, "a1", CRM__V1__SURVEY_KIND__SURVEY_KIND_NPS, 9, D("2025-01-06")), 0);
    analytics_summary_t *s = fx_summary("a", "2025-01-01", "2025-03-31");
    cr_assert_eq(s->msg.buyers, 2);
    cr_assert_eq(s->msg.repeat_buyers, 0);
    free(s);
    cr_assert_eq(fx_merged(s_id, m, D("2025-03-01")), 0);
    /* An event about the merged customer that arrives later goes to the survivor. */
    cr_assert_eq(fx_purchase(m, "m2", 500, "CNY", D("2025-03-05")), 0);
    s = fx_summary("a", "2025-01-01", "2025-03-31");
    cr_assert_eq(s->msg.buyers, 1);
    cr_assert_eq(s->msg.repeat_buyers, 1);
    cr_assert_eq(s->msg.new_customers, 1, "the survivor's first purchase is now 01-05");
    cr_assert_eq(s->msg.orders, 3);
    cr_assert_eq(s->msg.nps_promoters, 1);
    free(s);
    cr_assert_eq(fx_deleted(s_id, D("2025-03-10")), 0);
    cr_assert_eq(fx_answer(s_id, "a2", CRM__V1__SURVEY_KIND__SURVEY_KIND_NPS, 9, D("2025-03-11")), 0);
    s = fx_summary("a", "2024-01-01", "2025-12-31");
    cr_assert_eq(s->msg.buyers, 0);
    cr_assert_eq(s->msg.orders, 0);
    cr_assert_eq(s->msg.nps_answers, 0, "events after the deletion are ignored");
    free(s);
    char *dump = fx_dump();
    cr_assert_eq(strstr(dump, "\n1:"), NULL, "no day bucket is left: %s", dump);
    free(dump);
}

/* The same history folded in two orders gives the same store: figures and facts. */
static void s_history(int order)
{
    static const char *const ids[3] = { "01JAAAAAAAAAAAAAAAAAAAAAA1", "01JAAAAAAAAAAAAAAAAAAAAAA2",
                                        "01JAAAAAAAAAAAAAAAAAAAAAA3" };
    for (int step = 0; step < 11; step++) {
        int k = order ? 10 - step : step;
        switch (k) {
        case 0: cr_assert_eq(fx_created(ids[0], D("2024-10-01"), 1, "ann"), 0); break;
        case 1: cr_assert_eq(fx_purchase(ids[0], "p1", 5000, "CNY", D("2024-11-01")), 0); break;
        case 2: cr_assert_eq(fx_purchase(ids[0], "p2", 7000, "CNY", D("2025-01-20")), 0); break;
        case 3: cr_assert_eq(fx_purchase(ids[0], "p0", 3000, "CNY", D("2024-10-15")), 0); break;
        case 4: cr_assert_eq(fx_refund(ids[0], "p2", 7000, D("2025-01-20"), "r1", 7000, 7000, D("2025-01-25")), 0); break;
        case 5: cr_assert_eq(fx_answer(ids[1], "n1", CRM__V1__SURVEY_KIND__SURVEY_KIND_NPS, 2, D("2025-01-02")), 0); break;
        case 6:
            fx.fixed_seq = 1000;   /* loyalty's sequence of this event, the same in any replay */
            cr_assert_eq(fx_tier(ids[1], "", "gold", D("2025-01-03")), 0);
            break;
        case 7: cr_assert_eq(fx_created(ids[1], D("2024-12-01"), 2, "bob"), 0); break;
        case 8: cr_assert_eq(fx_purchase(ids[2], "q1", 100, "CNY", D("2025-02-01")), 0); break;
        case 9: cr_assert_eq(fx_merged(ids[1], ids[2], D("2025-02-10")), 0); break;
        case 10: cr_assert_eq(fx_points(ids[1], "crm.loyalty.points.earned.v1", CRM__V1__ENTRY_KIND__ENTRY_KIND_EARN, 10, D("2025-02-02")), 0); break;
        default: break;
        }
    }
}

Test(analytics_figures, the_fold_does_not_depend_on_the_order_of_events)
{
    s_history(0);
    char *first = fx_dump();
    s_fresh();
    s_history(1);
    char *second = fx_dump();
    cr_assert_str_eq(first, second);
    cr_assert_gt(strlen(first), 100);
    free(first);
    free(second);
}

Test(analytics_figures, series_by_day_week_and_month)
{
    char a[CRM_ID_SIZE];
    fx_customer(a);
    cr_assert_eq(fx_answer(a, "n1", CRM__V1__SURVEY_KIND__SURVEY_KIND_NPS, 10, D("2025-01-01")), 0);
    cr_assert_eq(fx_answer(a, "n2", CRM__V1__SURVEY_KIND__SURVEY_KIND_NPS, 0, D("2025-01-06")), 0);
    cr_assert_eq(fx_answer(a, "n3", CRM__V1__SURVEY_KIND__SURVEY_KIND_NPS, 9, D("2025-02-03")), 0);
    crm_txn_t *txn = NULL;
    cr_assert_eq(crm_store_read_begin(fx.store, &txn), 0);
    analytics_series_t series;
    cr_assert_eq(analytics_series(fx.an, txn, "a", "nps", CRM__V1__GRANULARITY__GRANULARITY_MONTH, s_day("2025-01-15"),
                                  s_day("2025-02-10"), &series), 0);
    cr_assert_eq(series.count, 2);
    cr_assert_str_eq(series.points[0].start, "2025-01-01");
    cr_assert_str_eq(series.points[0].end, "2025-01-31");
    cr_assert_float_eq(series.points[0].value, 0.0, EPS);
    cr_assert_float_eq(series.points[1].value, 100.0, EPS);
    analytics_series_clear(&series);
    cr_assert_eq(analytics_series(fx.an, txn, "a", "npsAnswers", CRM__V1__GRANULARITY__GRANULARITY_WEEK,
                                  s_day("2025-01-01"), s_day("2025-01-12"), &series), 0);
    cr_assert_eq(series.count, 2);
    cr_assert_str_eq(series.points[0].start, "2024-12-30");
    cr_assert_float_eq(series.points[0].value, 1.0, EPS);
    cr_assert_str_eq(series.points[1].start, "2025-01-06");
    cr_assert_float_eq(series.points[1].value, 1.0, EPS);
    analytics_series_clear(&series);
    cr_assert_eq(analytics_series(fx.an, txn, "a", "nps_answers", CRM__V1__GRANULARITY__GRANULARITY_DAY,
                                  s_day("2025-01-01"), s_day("2025-01-07"), &series), 0);
    cr_assert_eq(series.count, 7);
    cr_assert_float_eq(series.points[5].value, 1.0, EPS);
    analytics_series_clear(&series);
    cr_assert_eq(analytics_series(fx.an, txn, "a", "membersPerTier", CRM__V1__GRANULARITY__GRANULARITY_DAY,
                                  s_day("2025-01-01"), s_day("2025-01-07"), &series), CRM_EINVALID);
    cr_assert_eq(analytics_series(fx.an, txn, "a", "segment", CRM__V1__GRANULARITY__GRANULARITY_DAY,
                                  s_day("2025-01-01"), s_day("2025-01-07"), &series), CRM_EINVALID);
    cr_assert_eq(analytics_series(fx.an, txn, "a", "nps", CRM__V1__GRANULARITY__GRANULARITY_DAY,
                                  s_day("2020-01-01"), s_day("2025-01-07"), &series), CRM_ELIMIT);
    crm_store_txn_end(&txn);
}
