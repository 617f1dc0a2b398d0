/* test_loyalty_ledger.c: the points ledger: the random-sequence property, oldest lot first, refunds after spending, pending points, expiry and warnings, adjustments. */
#include <stdarg.h>

#include "loyalty_fixture.h"

#define PROP_BATCHES          120     /* fresh stores */
#define PROP_CUSTOMERS        25      /* customers (sequences) per store */
#define PROP_OPS              200     /* random operations per store */
#define PROP_PURCHASES_MAX    64
#define PROP_REDEMPTIONS_MAX  64
#define PROP_SNAPSHOT_MAX     1024

static void s_setup(void)
{
    fx_setup();
}

TestSuite(loyalty_ledger, .init = s_setup, .fini = fx_teardown, .timeout = 120);

/* --- The property: random purchases, refunds, redemptions, cancellations, adjustments, time
 * passing (releases, expiries, reviews) and restarts; after each, every ledger invariant holds,
 * and applying the same event or request again changes nothing. */

typedef struct {
    char id[48];
    int64_t amount;
    int64_t refunded;
    int refunds;
} s_purchase_t;

typedef struct {
    char customer[CRM_ID_SIZE];
    s_purchase_t purchases[PROP_PURCHASES_MAX];
    int purchase_count;
    char redemptions[PROP_REDEMPTIONS_MAX][CRM_ID_SIZE];
    int redemption_count;
    int steps;
} s_seq_t;

typedef struct {
    uint8_t account[PROP_SNAPSHOT_MAX];
    size_t account_len;
    uint64_t head;
} s_snapshot_t;

static uint64_t s_rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t s_rand(void)
{
    s_rng_state ^= s_rng_state << 13;
    s_rng_state ^= s_rng_state >> 7;
    s_rng_state ^= s_rng_state << 17;
    return s_rng_state;
}

static void s_snapshot(const char *customer, s_snapshot_t *snap)
{
    memset(snap, 0, sizeof *snap);
    crm_txn_t *txn = NULL;
    cr_assert_eq(crm_store_read_begin(fx.store, &txn), 0);
    crm_val_t v;
    if (crm_store_get(txn, fx.ly->db.accounts, customer, CRM_ID_LEN, &v) == 0 && v.size <= PROP_SNAPSHOT_MAX) {
        memcpy(snap->account, v.data, v.size);
        snap->account_len = v.size;
    }
    crm_store_txn_end(&txn);
    snap->head = fx_head();
}

static bool s_same(const s_snapshot_t *a, const s_snapshot_t *b)
{
    return a->head == b->head && a->account_len == b->account_len
           && memcmp(a->account, b->account, a->account_len) == 0;
}

typedef struct {
    unsigned failures;
    char first[512];
    unsigned redeemed, refused, cancelled, adjusted, restarts;
} s_stats_t;

static void s_fail(s_stats_t *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void s_fail(s_stats_t *st, const char *fmt, ...)
{
    if (st->failures++ == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(st->first, sizeof st->first, fmt, ap);
        va_end(ap);
    }
}

/* One random step of sequence s. */
static void s_step(s_seq_t *s, s_stats_t *st, int step_id)
{
    s_snapshot_t once, twice;
    char ref[64];
    unsigned op = (unsigned) (s_rand() % 100);
    if (op < 30 && s->purchase_count < PROP_PURCHASES_MAX) {
        s_purchase_t *p = &s->purchases[s->purchase_count++];
        snprintf(ref, sizeof ref, "p-%s-%d", s->customer, step_id);
        memcpy(p->id, ref, sizeof p->id);
        p->amount = (int64_t) (s_rand() % 400000);
        const char *currency = s_rand() % 5 == 0 ? "JPY" : "CNY";
        if (fx_purchase(s->customer, p->id, p->amount, currency, fx.now) != 0)
            s_fail(st, "purchase %s failed", p->id);
        s_snapshot(s->customer, &once);
        if (fx_purchase(s->customer, p->id, p->amount, currency, fx.now) != 0)
            s_fail(st, "purchase replay %s failed", p->id);
        s_snapshot(s->customer, &twice);
        if (!s_same(&once, &twice))
            s_fail(st, "replaying purchase %s changed the state", p->id);
    } else if (op < 45 && s->purchase_count) {
        s_purchase_t *p = &s->purchases[s_rand() % (uint64_t) s->purchase_count];
        if (p->refunded >= p->amount)
            return;
        int64_t left = p->amount - p->refunded;
        int64_t amount = s_rand() % 3 == 0 ? left : 1 + (int64_t) (s_rand() % (uint64_t) left);
        p->refunded += amount;
        snprintf(ref, sizeof ref, "r-%s-%d", p->id, p->refunds++);
        if (fx_refund(s->customer, p->id, p->amount, ref, amount, p->refunded) != 0)
            s_fail(st, "refund %s failed", ref);
        s_snapshot(s->customer, &once);
        if (fx_refund(s->customer, p->id, p->amount, ref, amount, p->refunded) != 0)
            s_fail(st, "refund replay %s failed", ref);
        s_snapshot(s->customer, &twice);
        if (!s_same(&once, &twice))
            s_fail(st, "replaying refund %s changed the state", ref);
    } else if (op < 60) {
        static const char *const rewards[] = { "cheap", "mid", "dear" };
        const char *reward = rewards[s_rand() % 3];
        snprintf(ref, sizeof ref, "q-%d", step_id);
        Crm__V1__RedemptionReply *first = NULL, *again = NULL;
        crm_rpc_status_t status = fx_redeem(s->customer, reward, ref, &first);
        s_snapshot(s->customer, &once);
        crm_rpc_status_t status2 = fx_redeem(s->customer, reward, ref, &again);
        s_snapshot(s->customer, &twice);
        if (status == CRM_RPC_OK) {
            st->redeemed++;
            if (status2 != CRM_RPC_OK || strcmp(first->redemption->id, again->redemption->id) != 0)
                s_fail(st, "a repeated redemption %s did not return the first", ref);
            if (s->redemption_count < PROP_REDEMPTIONS_MAX)
                snprintf(s->redemptions[s->redemption_count++], CRM_ID_SIZE, "%s", first->redemption->id);
        } else if (status == CRM_RPC_CONFLICT) {
            st->refused++;
            if (status2 != CRM_RPC_CONFLICT)
                s_fail(st, "a refused redemption %s went through the second time", ref);
        } else {
            s_fail(st, "redemption %s: unexpected status", ref);
        }
        if (!s_same(&once, &twice))
            s_fail(st, "repeating redemption %s changed the state", ref);
        crm_codec_message_free((ProtobufCMessage **) &first);
        crm_codec_message_free((ProtobufCMessage **) &again);
    } else if (op < 67 && s->redemption_count) {
        int i = (int) (s_rand() % (uint64_t) s->redemption_count);
        Crm__V1__RedemptionActionRequest req = CRM__V1__REDEMPTION_ACTION_REQUEST__INIT;
        req.redemption_id = s->redemptions[i];
        req.reason = "changed my mind";
        crm_rpc_status_t status = fx_call("loyalty.CancelRedemption", "agent", &req.base, NULL, NULL, NULL);
        s_snapshot(s->customer, &once);
        crm_rpc_status_t status2 = fx_call("loyalty.CancelRedemption", "agent", &req.base, NULL, NULL, NULL);
        s_snapshot(s->customer, &twice);
        if (status == CRM_RPC_OK)
            st->cancelled++;
        if ((status != CRM_RPC_OK && status != CRM_RPC_CONFLICT) || status2 != CRM_RPC_CONFLICT)
            s_fail(st, "cancelling %s: unexpected status", req.redemption_id);
        if (!s_same(&once, &twice))
            s_fail(st, "cancelling %s again changed the state", req.redemption_id);
    } else if (op < 75) {
        int64_t points = (int64_t) (s_rand() % 1500) - 500;
        if (points == 0)
            points = 1;
        snprintf(ref, sizeof ref, "a-%d", step_id);
        Crm__V1__AdjustRequest req = CRM__V1__ADJUST_REQUEST__INIT;
        req.customer_id = s->customer;
        req.points = points;
        req.reason = "goodwill";
        req.adjustment_id = ref;
        Crm__V1__AdjustReply *again = NULL;
        crm_rpc_status_t status = fx_call("loyalty.Adjust", "admin", &req.base, NULL, NULL, NULL);
        s_snapshot(s->customer, &once);
        crm_rpc_status_t status2 = fx_call("loyalty.Adjust", "admin", &req.base, &crm__v1__adjust_reply__descriptor,
                                           (ProtobufCMessage **) &again, NULL);
        s_snapshot(s->customer, &twice);
        if (status == CRM_RPC_OK) {
            st->adjusted++;
            if (status2 != CRM_RPC_OK || !again->duplicate)
                s_fail(st, "adjustment %s repeated was not a duplicate", ref);
        } else if (status != CRM_RPC_CONFLICT || points > 0) {
            s_fail(st, "adjustment %s: unexpected status", ref);
        }
        if (!s_same(&once, &twice))
            s_fail(st, "repeating adjustment %s changed the state", ref);
        crm_codec_message_free((ProtobufCMessage **) &again);
    } else if (op < 98) {
        fx_advance((int64_t) (s_rand() % 12) * FX_DAY + (int64_t) (s_rand() % 24) * FX_HOUR);
    } else {
        fx_restart();
        st->restarts++;
    }
}

Test(loyalty_ledger, random_sequences_keep_balance_equal_to_ledger_and_replays_change_nothing)
{
    fx.settings.return_window_us = 7 * FX_DAY;
    fx.settings.validity_us = 45 * FX_DAY;
    fx.settings.warning_us = 10 * FX_DAY;
    fx.settings.tier_grace_us = 5 * FX_DAY;
    fx.settings.review_interval_us = 3 * FX_DAY;
    s_stats_t st = { 0 };
    int64_t expired = 0, shortfall = 0, reversed = 0, redeemed = 0;
    static s_seq_t seqs[PROP_CUSTOMERS];
    for (int batch = 0; batch < PROP_BATCHES; batch++) {
        fx_stop();
        crm_test_rmtree(fx.dir);
        crm_test_tmpdir(fx.dir);
        fx.now = FX_T0;
        fx_start();
        fx_reward("cheap", 50, -1);
        fx_reward("mid", 300, -1);
        fx_reward("dear", 2000, -1);
        memset(seqs, 0, sizeof seqs);
        for (int i = 0; i < PROP_CUSTOMERS; i++)
            fx_customer(seqs[i].customer);
        for (int op = 0; op < PROP_OPS; op++) {
            s_seq_t *s = &seqs[s_rand() % PROP_CUSTOMERS];
            s_step(s, &st, batch * PROP_OPS + op);
            s->steps++;
            char why[256];
            if (fx_check(s->customer, why, sizeof why) != 0)
                s_fail(&st, "invariant broken: %s", why);
        }
        for (int i = 0; i < PROP_CUSTOMERS; i++) {
            char why[256];
            if (fx_check(seqs[i].customer, why, sizeof why) != 0)
                s_fail(&st, "invariant broken at the end: %s", why);
            loyalty_account_t acc = fx_account(seqs[i].customer);
            expired += acc.lifetime_expired;
            shortfall += acc.shortfall;
            reversed += acc.lifetime_reversed;
            redeemed += acc.lifetime_redeemed;
        }
    }
    cr_assert_eq(st.failures, 0, "%u failures; the first: %s", st.failures, st.first);
    /* The sequences did reach every path. */
    cr_assert_gt(st.redeemed, 100);
    cr_assert_gt(st.refused, 100);
    cr_assert_gt(st.cancelled, 10);
    cr_assert_gt(st.adjusted, 100);
    cr_assert_gt(st.restarts, 100);
    cr_assert_gt(expired, 0);
    cr_assert_gt(shortfall, 0);
    cr_assert_gt(reversed, 0);
    cr_assert_gt(redeemed, 0);
}

/* --- Examples */

static int64_t s_lot_remaining(const char *customer, uint64_t number)
{
    crm_txn_t *txn = NULL;
    Crm__V1__Lot *lot = NULL;
    cr_assert_eq(crm_store_read_begin(fx.store, &txn), 0);
    cr_assert_eq(loyalty_lot_get(&fx.ly->db, txn, customer, number, &lot), 0);
    int64_t remaining = lot->remaining;
    crm_codec_message_free((ProtobufCMessage **) &lot);
    crm_store_txn_end(&txn);
    return remaining;
}

Test(loyalty_ledger, redemption_spends_the_oldest_lots_first)
{
    char c[CRM_ID_SIZE];
    fx_customer(c);
    cr_assert_eq(fx_purchase(c, "o1", 10000, "CNY", fx.now), 0);     /* lot 1: 100 */
    fx_advance(FX_DAY);
    cr_assert_eq(fx_purchase(c, "o2", 20000, "CNY", fx.now), 0);     /* lot 2: 200 */
    fx_advance(FX_DAY);
    cr_assert_eq(fx_purchase(c, "o3", 30000, "CNY", fx.now), 0);     /* lot 3: 300 */
    fx_reward("mug", 250, 5);
    Crm__V1__RedemptionReply *rep = NULL;
    cr_assert_eq(fx_redeem(c, "mug", NULL, &rep), CRM_RPC_OK);
    /* First-purchase badge bonus (50) is lot 2: lots are numbered in order of earning. */
    cr_assert_eq(rep->balance, 100 + 50 + 200 + 300 - 250);
    cr_assert_eq(rep->redemption->n_draws, 3);
    cr_assert_eq(rep->redemption->draws[0]->lot, 1);
    cr_assert_eq(rep->redemption->draws[0]->points, 100);
    cr_assert_eq(rep->redemption->draws[1]->lot, 2);
    cr_assert_eq(rep->redemption->draws[1]->points, 50);
    cr_assert_eq(rep->redemption->draws[2]->lot, 3);
    cr_assert_eq(rep->redemption->draws[2]->points, 100);
    cr_assert_eq(strlen(rep->redemption->code), 12);
    crm_codec_message_free((ProtobufCMessage **) &rep);
    cr_assert_eq(s_lot_remaining(c, 1), 0);
    cr_assert_eq(s_lot_remaining(c, 3), 100);
    cr_assert_eq(s_lot_remaining(c, 4), 300);

    /* ListLots shows the open lots, oldest first; include_spent every lot. */
    Crm__V1__ListLotsRequest req = CRM__V1__LIST_LOTS_REQUEST__INIT;
    req.customer_id = c;
    Crm__V1__ListLotsReply *lots = NULL;
    cr_assert_eq(fx_call("loyalty.ListLots", "agent", &req.base, &crm__v1__list_lots_reply__descriptor,
                         (ProtobufCMessage **) &lots, NULL), CRM_RPC_OK);
    cr_assert_eq(lots->n_lots, 2);
    cr_assert_eq(lots->lots[0]->number, 3);
    cr_assert_eq(lots->lots[1]->number, 4);
    crm_codec_message_free((ProtobufCMessage **) &lots);
    req.include_spent = true;
    req.page_size = 3;
    cr_assert_eq(fx_call("loyalty.ListLots", "agent", &req.base, &crm__v1__list_lots_reply__descriptor,
                         (ProtobufCMessage **) &lots, NULL), CRM_RPC_OK);
    cr_assert_eq(lots->n_lots, 3);
    cr_assert_str_eq(lots->next_page_token, "3");
    req.page_token = "3";
    crm_codec_message_free((ProtobufCMessage **) &lots);
    cr_assert_eq(fx_call("loyalty.ListLots", "agent", &req.base, &crm__v1__list_lots_reply__descriptor,
                         (ProtobufCMessage **) &lots, NULL), CRM_RPC_OK);
    cr_assert_eq(lots->n_lots, 1);
    cr_assert_eq(lots->lots[0]->number, 4);
    cr_assert_str_eq(lots->next_page_token, "");
    crm_codec_message_free((ProtobufCMessage **) &lots);
    cr_assert_eq(fx_check(c, NULL, 0), 0);
}

Test(loyalty_ledger, the_same_order_twice_earns_once)
{
    char c[CRM_ID_SIZE];
    fx_customer(c);
    cr_assert_eq(fx_purchase(c, "order-1", 12345, "CNY", fx.now), 0);
    uint64_t head = fx_head();
    cr_assert_eq(fx_purchase(c, "order-1", 12345, "CNY", fx.now), 0);
    cr_assert_eq(fx_head(), head);
    loyalty_account_t acc = fx_account(c);
    cr_assert_eq(acc.balance, 123 + 50);     /* 123.45 CNY, and the first-purchase bonus */
    cr_assert_eq(acc.purchase_count, 1);
}

Test(loyalty_ledger, a_refund_reverses_proportionally_and_after_spending_clamps_to_zero)
{
    char c[CRM_ID_SIZE];
    fx_customer(c);
    cr_assert_eq(fx_purchase(c, "o1", 100000, "CNY", fx.now), 0);    /* 1000 points + 50 bonus */
    cr_assert_eq(fx_account(c).balance, 1050);
    /* A quarter refunded: a quarter of the order's points go back. */
    uint64_t head = fx_head();
    cr_assert_eq(fx_refund(c, "o1", 100000, "rf1", 25000, 25000), 0);
    cr_assert_eq(fx_account(c).balance, 800);
    Crm__V1__PointsChanged *ev = NULL;
    cr_assert_eq(fx_events(head, "crm.loyalty.points.reversed.v1", &crm__v1__points_changed__descriptor,
                           (ProtobufCMessage **) &ev), 1);
    cr_assert_eq(ev->entry->points, -250);
    cr_assert_eq(ev->entry->shortfall, 0);
    crm_codec_message_free((ProtobufCMessage **) &ev);

    /* Spend most of it, then refund the rest of the order: only what is left can go. */
    fx_reward("tv", 700, 1);
    cr_assert_eq(fx_redeem(c, "tv", NULL, NULL), CRM_RPC_OK);
    cr_assert_eq(fx_account(c).balance, 100);
    head = fx_head();
    cr_assert_eq(fx_refund(c, "o1", 100000, "rf2", 75000, 100000), 0);
    loyalty_account_t acc = fx_account(c);
    cr_assert_eq(acc.balance, 0);
    cr_assert_eq(acc.shortfall, 650);
    cr_assert_eq(acc.lifetime_reversed, 350);
    cr_assert_eq(acc.purchase_count, 0);
    cr_assert_eq(fx_events(head, "crm.loyalty.points.reversed.v1", &crm__v1__points_changed__descriptor,
                           (ProtobufCMessage **) &ev), 1);
    cr_assert_eq(ev->entry->points, -100);
    cr_assert_eq(ev->entry->shortfall, 650);
    crm_codec_message_free((ProtobufCMessage **) &ev);
    /* The same refund again changes nothing. */
    head = fx_head();
    cr_assert_eq(fx_refund(c, "o1", 100000, "rf2", 75000, 100000), 0);
    cr_assert_eq(fx_head(), head);
    cr_assert_eq(fx_check(c, NULL, 0), 0);

    /* A refund of an order loyalty never saw is taken and does nothing. */
    cr_assert_eq(fx_refund(c, "unknown-order", 5000, "rf3", 5000, 5000), 0);
    cr_assert_eq(fx_account(c).balance, 0);
}

Test(loyalty_ledger, points_stay_pending_for_the_return_window)
{
    fx.settings.return_window_us = 14 * FX_DAY;
    fx_restart();
    char c[CRM_ID_SIZE];
    fx_customer(c);
    cr_assert_eq(fx_purchase(c, "o1", 20000, "CNY", fx.now), 0);
    cr_assert_eq(fx_purchase(c, "o2", 30000, "CNY", fx.now), 0);
    loyalty_account_t acc = fx_account(c);
    cr_assert_eq(acc.pending, 500);
    cr_assert_eq(acc.balance, 50);           /* badge bonuses are not purchases: spendable */
    fx_reward("cap", 100, 3);
    cr_assert_eq(fx_redeem(c, "cap", NULL, NULL), CRM_RPC_CONFLICT);
    /* A return within the window takes the pending points: no shortfall. */
    cr_assert_eq(fx_refund(c, "o1", 20000, "rf1", 20000, 20000), 0);
    acc = fx_account(c);
    cr_assert_eq(acc.pending, 300);
    cr_assert_eq(acc.shortfall, 0);
    fx_advance(13 * FX_DAY);
    cr_assert_eq(fx_account(c).pending, 300);
    uint64_t head = fx_head();
    fx_advance(FX_DAY);
    acc = fx_account(c);
    cr_assert_eq(acc.pending, 0);
    cr_assert_eq(acc.balance, 350);
    cr_assert_eq(fx_events(head, "crm.loyalty.points.released.v1", NULL, NULL), 1);
    cr_assert_eq(fx_redeem(c, "cap", NULL, NULL), CRM_RPC_OK);
    cr_assert_eq(fx_check(c, NULL, 0), 0);
}

Test(loyalty_ledger, lots_warn_then_expire_on_time_and_after_a_restart)
{
    /* No bonus for the membership anniversary that falls on the expiry day. */
    Crm__V1__DeleteLoyaltyRequest del = CRM__V1__DELETE_LOYALTY_REQUEST__INIT;
    del.id = "badge-one-year";
    cr_assert_eq(fx_call("loyalty.DeleteRule", "admin", &del.base, NULL, NULL, NULL), CRM_RPC_OK);
    char c[CRM_ID_SIZE], d[CRM_ID_SIZE];
    fx_customer(c);
    fx_customer(d);
    cr_assert_eq(fx_purchase(c, "o1", 40000, "CNY", fx.now), 0);     /* 400 + 50 bonus, two lots */
    cr_assert_eq(fx_purchase(d, "o2", 10000, "CNY", fx.now), 0);
    uint64_t head = fx_head();
    /* 30 days before expiry: one warning per lot, once. */
    fx_advance(365 * FX_DAY - 30 * FX_DAY - FX_HOUR);
    cr_assert_eq(fx_events(head, LOYALTY_TOPIC_EXPIRING, NULL, NULL), 0);
    Crm__V1__PointsExpiring *warn = NULL;
    fx_advance(2 * FX_HOUR);
    cr_assert_eq(fx_events(head, LOYALTY_TOPIC_EXPIRING, &crm__v1__points_expiring__descriptor,
                           (ProtobufCMessage **) &warn), 4);
    cr_assert_eq(warn->points, 50);
    cr_assert_eq(loyalty_ts_us(warn->expires_at), FX_T0 + 365 * FX_DAY);
    crm_codec_message_free((ProtobufCMessage **) &warn);
    uint64_t warned = fx_head();
    fx_advance(FX_DAY);
    cr_assert_eq(fx_events(warned, LOYALTY_TOPIC_EXPIRING, NULL, NULL), 0);
    cr_assert_eq(fx_account(c).balance, 450);

    /* Expiry by the timer, on time. */
    fx_advance(29 * FX_DAY - 2 * FX_HOUR);
    cr_assert_eq(fx_account(c).balance, 450);
    head = fx_head();
    fx_advance(2 * FX_HOUR);
    loyalty_account_t acc = fx_account(c);
    cr_assert_eq(acc.balance, 0);
    cr_assert_eq(acc.lifetime_expired, 450);
    cr_assert_eq(fx_events(head, LOYALTY_TOPIC_EXPIRED, NULL, NULL), 4);

    /* Lots that fall due while the service is stopped expire on the first tick after. */
    cr_assert_eq(fx_purchase(c, "o3", 7000, "CNY", fx.now), 0);
    fx_stop();
    fx.now += 400 * FX_DAY;
    fx_start();
    cr_assert_eq(fx_account(c).balance, 70);
    fx_tick();
    cr_assert_eq(fx_account(c).balance, 0);
    cr_assert_eq(fx_check(c, NULL, 0), 0);
    cr_assert_eq(fx_check(d, NULL, 0), 0);
}

Test(loyalty_ledger, admin_adjustments_need_a_reason_and_are_audited)
{
    char c[CRM_ID_SIZE], field[LOYALTY_FIELD_MAX];
    fx_customer(c);
    Crm__V1__AdjustRequest req = CRM__V1__ADJUST_REQUEST__INIT;
    req.customer_id = c;
    req.points = 500;
    cr_assert_eq(fx_call("loyalty.Adjust", "admin", &req.base, NULL, NULL, field), CRM_RPC_INVALID);
    cr_assert_str_eq(field, "reason");
    req.reason = "compensation for a late delivery";
    cr_assert_eq(fx_call("loyalty.Adjust", "agent", &req.base, NULL, NULL, NULL), CRM_RPC_FORBIDDEN);
    req.adjustment_id = "ticket-42";
    Crm__V1__AdjustReply *rep = NULL;
    uint64_t head = fx_head();
    cr_assert_eq(fx_call("loyalty.Adjust", "admin", &req.base, &crm__v1__adjust_reply__descriptor,
                         (ProtobufCMessage **) &rep, NULL), CRM_RPC_OK);
    cr_assert_eq(rep->balance, 500);
    cr_assert_eq(rep->entry->kind, CRM__V1__ENTRY_KIND__ENTRY_KIND_ADJUST);
    cr_assert_str_eq(rep->entry->reason, "compensation for a late delivery");
    cr_assert_str_eq(rep->entry->actor, "key-1");
    cr_assert(!rep->duplicate);
    crm_codec_message_free((ProtobufCMessage **) &rep);
    cr_assert_eq(fx_events(head, LOYALTY_TOPIC_ADJUSTED, NULL, NULL), 1);
    /* The same adjustment id again: the first answer, nothing added. */
    cr_assert_eq(fx_call("loyalty.Adjust", "admin", &req.base, &crm__v1__adjust_reply__descriptor,
                         (ProtobufCMessage **) &rep, NULL), CRM_RPC_OK);
    cr_assert(rep->duplicate);
    cr_assert_eq(rep->balance, 500);
    crm_codec_message_free((ProtobufCMessage **) &rep);
    /* Taking more than there is is refused; taking less works, oldest lot first. */
    req.adjustment_id = "";
    req.points = -600;
    cr_assert_eq(fx_call("loyalty.Adjust", "admin", &req.base, NULL, NULL, field), CRM_RPC_CONFLICT);
    cr_assert_str_eq(field, "points");
    req.points = -200;
    cr_assert_eq(fx_call("loyalty.Adjust", "admin", &req.base, NULL, NULL, NULL), CRM_RPC_OK);
    cr_assert_eq(fx_account(c).balance, 300);
    cr_assert_eq(fx_account(c).lifetime_adjusted, 300);
    /* Both adjustments are in the audit log, newest first. */
    Crm__V1__ListAuditRequest lreq = CRM__V1__LIST_AUDIT_REQUEST__INIT;
    Crm__V1__ListAuditReply *audit = NULL;
    cr_assert_eq(fx_call("loyalty.ListAudit", "agent", &lreq.base, NULL, NULL, NULL), CRM_RPC_FORBIDDEN);
    cr_assert_eq(fx_call("loyalty.ListAudit", "admin", &lreq.base, &crm__v1__list_audit_reply__descriptor,
                         (ProtobufCMessage **) &audit, NULL), CRM_RPC_OK);
    cr_assert_eq(audit->n_records, 2);
    cr_assert_eq(audit->records[0]->points, -200);
    cr_assert_eq(audit->records[1]->points, 500);
    cr_assert_str_eq(audit->records[1]->reason, "compensation for a late delivery");
    cr_assert_str_eq(audit->records[1]->actor_key_id, "key-1");
    cr_assert_str_eq(audit->records[1]->action, "loyalty.Adjust");
    crm_codec_message_free((ProtobufCMessage **) &audit);
    cr_assert_eq(fx_check(c, NULL, 0), 0);
}
