/* test_loyalty_rewards.c: the rewards catalogue and redemptions: the stock race, unique codes, used, cancelled, restrictions, repeats. */
#include <pthread.h>

#include "loyalty_fixture.h"

#include "loyalty_rewards.h"

#define RACE_THREADS      5
#define RACE_PER_THREAD   10
#define RACE_STOCK        10
#define RACE_PRICE        100

static void s_setup(void)
{
    fx_setup();
}

TestSuite(loyalty_rewards, .init = s_setup, .fini = fx_teardown, .timeout = 60);

/* --- 50 redemptions racing for 10 items */

typedef struct {
    char customers[RACE_PER_THREAD][CRM_ID_SIZE];
    int ok, conflict, other;
    char codes[RACE_PER_THREAD][LOYALTY_CODE_SIZE];
} s_racer_t;

static void *s_race(void *arg)
{
    s_racer_t *r = arg;
    for (int i = 0; i < RACE_PER_THREAD; i++) {
        Crm__V1__RedeemRequest req = CRM__V1__REDEEM_REQUEST__INIT;
        req.customer_id = r->customers[i];
        req.reward_id = "last-tv";
        uint8_t body[256];
        size_t len = protobuf_c_message_pack(&req.base, body);
        loyalty_caller_t caller = { "key-2", "agent" };
        loyalty_answer_t ans;
        loyalty_handle(fx.ly, "loyalty.Redeem", &caller, body, len, &ans);
        if (ans.status == CRM_RPC_OK) {
            Crm__V1__RedemptionReply *rep = crm__v1__redemption_reply__unpack(NULL, ans.body_len, ans.body);
            if (rep && rep->redemption)
                snprintf(r->codes[r->ok], LOYALTY_CODE_SIZE, "%s", rep->redemption->code);
            crm__v1__redemption_reply__free_unpacked(rep, NULL);
            r->ok++;
        } else if (ans.status == CRM_RPC_CONFLICT && strcmp(ans.field, "rewardId") == 0) {
            r->conflict++;
        } else {
            r->other++;
        }
        loyalty_answer_clear(&ans);
    }
    return NULL;
}

Test(loyalty_rewards, fifty_redemptions_for_ten_in_stock_give_exactly_ten_codes)
{
    fx_reward("last-tv", RACE_PRICE, RACE_STOCK);
    static s_racer_t racers[RACE_THREADS];
    memset(racers, 0, sizeof racers);
    for (int t = 0; t < RACE_THREADS; t++)
        for (int i = 0; i < RACE_PER_THREAD; i++) {
            fx_customer(racers[t].customers[i]);
            fx_give(racers[t].customers[i], RACE_PRICE);
        }
    uint64_t head = fx_head();
    pthread_t threads[RACE_THREADS];
    for (int t = 0; t < RACE_THREADS; t++)
        cr_assert_eq(pthread_create(&threads[t], NULL, s_race, &racers[t]), 0);
    for (int t = 0; t < RACE_THREADS; t++)
        pthread_join(threads[t], NULL);
    int ok = 0, conflict = 0, other = 0, paid = 0, kept = 0;
    static char codes[RACE_THREADS * RACE_PER_THREAD][LOYALTY_CODE_SIZE];
    for (int t = 0; t < RACE_THREADS; t++) {
        for (int i = 0; i < racers[t].ok; i++)
            memcpy(codes[ok + i], racers[t].codes[i], LOYALTY_CODE_SIZE);
        ok += racers[t].ok;
        conflict += racers[t].conflict;
        other += racers[t].other;
        for (int i = 0; i < RACE_PER_THREAD; i++) {
            loyalty_account_t acc = fx_account(racers[t].customers[i]);
            paid += acc.balance == 0;
            kept += acc.balance == RACE_PRICE;
            cr_assert_eq(fx_check(racers[t].customers[i], NULL, 0), 0);
        }
    }
    cr_assert_eq(ok, RACE_STOCK);
    cr_assert_eq(conflict, RACE_THREADS * RACE_PER_THREAD - RACE_STOCK);
    cr_assert_eq(other, 0);
    cr_assert_eq(paid, RACE_STOCK);
    cr_assert_eq(kept, RACE_THREADS * RACE_PER_THREAD - RACE_STOCK);
    for (int i = 0; i < RACE_STOCK; i++) {
        cr_assert_eq(strlen(codes[i]), LOYALTY_CODE_LEN);
        for (int j = 0; j < i; j++)
            cr_assert_str_neq(codes[i], codes[j]);
    }
    cr_assert_eq(fx_events(head, LOYALTY_TOPIC_REWARD_REDEEMED, NULL, NULL), RACE_STOCK);
    Crm__V1__GetRewardRequest req = CRM__V1__GET_REWARD_REQUEST__INIT;
    req.id = "last-tv";
    Crm__V1__RewardReply *rep = NULL;
    cr_assert_eq(fx_call("loyalty.GetReward", "agent", &req.base, &crm__v1__reward_reply__descriptor,
                         (ProtobufCMessage **) &rep, NULL), CRM_RPC_OK);
    cr_assert_eq(rep->reward->stock, 0);
    cr_assert_eq(rep->reward->redeemed, RACE_STOCK);
    crm_codec_message_free((ProtobufCMessage **) &rep);
}

/* --- Used and cancelled */

static crm_rpc_status_t s_action(const char *method, const char *code, const char *id,
                                 Crm__V1__RedemptionReply **rep_p, char *field)
{
    Crm__V1__RedemptionActionRequest req = CRM__V1__REDEMPTION_ACTION_REQUEST__INIT;
    req.code = (char *) (code ? code : "");
    req.redemption_id = (char *) (id ? id : "");
    req.reason = "out of stock at the store";
    return fx_call(method, "agent", &req.base, &crm__v1__redemption_reply__descriptor, (ProtobufCMessage **) rep_p,
                   field);
}

Test(loyalty_rewards, a_code_is_used_once_and_a_used_code_cannot_be_cancelled)
{
    char c[CRM_ID_SIZE], field[LOYALTY_FIELD_MAX];
    fx_customer(c);
    fx_give(c, 1000);
    fx_reward("coupon", 300, 5);
    Crm__V1__RedemptionReply *rep = NULL;
    cr_assert_eq(fx_redeem(c, "coupon", NULL, &rep), CRM_RPC_OK);
    cr_assert_eq(rep->redemption->status, CRM__V1__REDEMPTION_STATUS__REDEMPTION_STATUS_ISSUED);
    cr_assert_eq(rep->balance, 700);
    char code[LOYALTY_CODE_SIZE];
    snprintf(code, sizeof code, "%s", rep->redemption->code);
    crm_codec_message_free((ProtobufCMessage **) &rep);
    uint64_t head = fx_head();
    cr_assert_eq(s_action("loyalty.GetRedemption", code, NULL, &rep, NULL), CRM_RPC_OK);
    cr_assert_str_eq(rep->redemption->customer_id, c);
    crm_codec_message_free((ProtobufCMessage **) &rep);
    cr_assert_eq(s_action("loyalty.MarkRedemptionUsed", code, NULL, &rep, NULL), CRM_RPC_OK);
    cr_assert_eq(rep->redemption->status, CRM__V1__REDEMPTION_STATUS__REDEMPTION_STATUS_USED);
    cr_assert_str_eq(rep->redemption->used_by, "key-1");
    cr_assert_not_null(rep->redemption->used_at);
    crm_codec_message_free((ProtobufCMessage **) &rep);
    cr_assert_eq(fx_events(head, LOYALTY_TOPIC_REWARD_USED, NULL, NULL), 1);
    cr_assert_eq(s_action("loyalty.MarkRedemptionUsed", code, NULL, NULL, field), CRM_RPC_CONFLICT);
    cr_assert_str_eq(field, "code");
    cr_assert_eq(s_action("loyalty.CancelRedemption", code, NULL, NULL, field), CRM_RPC_CONFLICT);
    cr_assert_eq(s_action("loyalty.MarkRedemptionUsed", "ZZZZZZZZZZZZ", NULL, NULL, field), CRM_RPC_NOT_FOUND);
    cr_assert_str_eq(field, "code");
    cr_assert_eq(s_action("loyalty.MarkRedemptionUsed", NULL, NULL, NULL, field), CRM_RPC_INVALID);
    cr_assert_eq(fx_account(c).balance, 700);

    /* A code not used within its validity (90 days by default) has expired. */
    cr_assert_eq(fx_redeem(c, "coupon", NULL, &rep), CRM_RPC_OK);
    snprintf(code, sizeof code, "%s", rep->redemption->code);
    crm_codec_message_free((ProtobufCMessage **) &rep);
    fx_advance(91 * FX_DAY);
    cr_assert_eq(s_action("loyalty.MarkRedemptionUsed", code, NULL, NULL, field), CRM_RPC_CONFLICT);
}

Test(loyalty_rewards, cancelling_gives_back_the_points_to_their_lots_and_the_item_to_stock)
{
    char c[CRM_ID_SIZE];
    fx_customer(c);
    fx_give(c, 200);
    fx_advance(FX_DAY);
    fx_give(c, 200);
    fx_reward("bag", 300, 1);
    Crm__V1__RedemptionReply *rep = NULL;
    cr_assert_eq(fx_redeem(c, "bag", NULL, &rep), CRM_RPC_OK);
    char id[CRM_ID_SIZE];
    snprintf(id, sizeof id, "%s", rep->redemption->id);
    crm_codec_message_free((ProtobufCMessage **) &rep);
    cr_assert_eq(fx_account(c).balance, 100);
    char d[CRM_ID_SIZE];
    fx_customer(d);
    fx_give(d, 500);
    cr_assert_eq(fx_redeem(d, "bag", NULL, NULL), CRM_RPC_CONFLICT);     /* out of stock */
    uint64_t head = fx_head();
    cr_assert_eq(s_action("loyalty.CancelRedemption", NULL, id, &rep, NULL), CRM_RPC_OK);
    cr_assert_eq(rep->redemption->status, CRM__V1__REDEMPTION_STATUS__REDEMPTION_STATUS_CANCELLED);
    cr_assert_str_eq(rep->redemption->cancel_reason, "out of stock at the store");
    cr_assert_eq(rep->balance, 400);
    crm_codec_message_free((ProtobufCMessage **) &rep);
    cr_assert_eq(fx_events(head, LOYALTY_TOPIC_REWARD_CANCELLED, NULL, NULL), 1);
    Crm__V1__PointsChanged *ev = NULL;
    cr_assert_eq(fx_events(head, LOYALTY_TOPIC_RESTORED, &crm__v1__points_changed__descriptor,
                           (ProtobufCMessage **) &ev), 1);
    cr_assert_eq(ev->entry->points, 300);
    cr_assert_eq(ev->entry->n_draws, 2);
    cr_assert_eq(ev->entry->draws[0]->lot, 1);
    cr_assert_eq(ev->entry->draws[0]->points, 200);
    cr_assert_eq(ev->entry->draws[1]->lot, 2);
    cr_assert_eq(ev->entry->draws[1]->points, 100);
    crm_codec_message_free((ProtobufCMessage **) &ev);
    cr_assert_eq(fx_account(c).lifetime_redeemed, 0);
    cr_assert_eq(s_action("loyalty.CancelRedemption", NULL, id, NULL, NULL), CRM_RPC_CONFLICT);
    cr_assert_eq(s_action("loyalty.MarkRedemptionUsed", NULL, id, NULL, NULL), CRM_RPC_CONFLICT);
    /* The item is back in stock. */
    cr_assert_eq(fx_redeem(d, "bag", NULL, NULL), CRM_RPC_OK);
    cr_assert_eq(fx_check(c, NULL, 0), 0);
    cr_assert_eq(fx_check(d, NULL, 0), 0);
}

Test(loyalty_rewards, refusals_name_their_reason_and_change_nothing)
{
    char c[CRM_ID_SIZE], field[LOYALTY_FIELD_MAX];
    fx_customer(c);
    fx_give(c, 100);
    Crm__V1__Reward r = CRM__V1__REWARD__INIT;
    char *gold[] = { "gold", "platinum" };
    r.id = "lounge";
    r.name = "Lounge access";
    r.kind = CRM__V1__REWARD_KIND__REWARD_KIND_VOUCHER;
    r.points_price = 50;
    r.stock = 10;
    r.n_tiers = 2;
    r.tiers = gold;
    Crm__V1__PutRewardRequest put = CRM__V1__PUT_REWARD_REQUEST__INIT;
    put.reward = &r;
    cr_assert_eq(fx_call("loyalty.PutReward", "admin", &put.base, NULL, NULL, NULL), CRM_RPC_OK);
    fx_reward("watch", 5000, 10);
    Crm__V1__Timestamp later;
    Crm__V1__Reward soon = CRM__V1__REWARD__INIT;
    soon.id = "soon";
    soon.name = "Coming soon";
    soon.kind = CRM__V1__REWARD_KIND__REWARD_KIND_GIFT;
    soon.points_price = 10;
    soon.unlimited = true;
    soon.valid_from = loyalty_ts_set(&later, fx.now + FX_DAY);
    put.reward = &soon;
    cr_assert_eq(fx_call("loyalty.PutReward", "admin", &put.base, NULL, NULL, NULL), CRM_RPC_OK);
    uint64_t head = fx_head();

    Crm__V1__RedeemRequest req = CRM__V1__REDEEM_REQUEST__INIT;
    req.customer_id = c;
    req.reward_id = "lounge";
    cr_assert_eq(fx_call("loyalty.Redeem", "agent", &req.base, NULL, NULL, field), CRM_RPC_FORBIDDEN);
    cr_assert_str_eq(field, "rewardId");
    req.reward_id = "watch";
    cr_assert_eq(fx_call("loyalty.Redeem", "agent", &req.base, NULL, NULL, field), CRM_RPC_CONFLICT);
    cr_assert_str_eq(field, "customerId");
    req.reward_id = "no-such-reward";
    cr_assert_eq(fx_call("loyalty.Redeem", "agent", &req.base, NULL, NULL, field), CRM_RPC_NOT_FOUND);
    cr_assert_str_eq(field, "rewardId");
    req.reward_id = "soon";
    cr_assert_eq(fx_call("loyalty.Redeem", "agent", &req.base, NULL, NULL, field), CRM_RPC_CONFLICT);
    cr_assert_str_eq(field, "rewardId");
    req.reward_id = "";
    cr_assert_eq(fx_call("loyalty.Redeem", "agent", &req.base, NULL, NULL, field), CRM_RPC_INVALID);
    cr_assert_str_eq(field, "rewardId");
    req.customer_id = "not-an-id";
    req.reward_id = "watch";
    cr_assert_eq(fx_call("loyalty.Redeem", "agent", &req.base, NULL, NULL, field), CRM_RPC_INVALID);
    cr_assert_str_eq(field, "customerId");
    cr_assert_eq(fx_head(), head);
    cr_assert_eq(fx_account(c).balance, 100);

    /* Bad rewards. */
    Crm__V1__Reward bad = CRM__V1__REWARD__INIT;
    bad.name = "Free";
    bad.kind = CRM__V1__REWARD_KIND__REWARD_KIND_GIFT;
    put.reward = &bad;
    cr_assert_eq(fx_call("loyalty.PutReward", "admin", &put.base, NULL, NULL, field), CRM_RPC_INVALID);
    cr_assert_str_eq(field, "reward.pointsPrice");
    bad.points_price = 10;
    bad.name = "";
    cr_assert_eq(fx_call("loyalty.PutReward", "admin", &put.base, NULL, NULL, field), CRM_RPC_INVALID);
    cr_assert_str_eq(field, "reward.name");
    bad.name = "Free";
    cr_assert_eq(fx_call("loyalty.PutReward", "agent", &put.base, NULL, NULL, NULL), CRM_RPC_FORBIDDEN);
}

Test(loyalty_rewards, a_repeated_request_id_returns_the_first_redemption)
{
    char c[CRM_ID_SIZE];
    fx_customer(c);
    fx_give(c, 1000);
    fx_reward("pen", 100, -1);
    Crm__V1__RedemptionReply *first = NULL, *again = NULL;
    cr_assert_eq(fx_redeem(c, "pen", "checkout-7", &first), CRM_RPC_OK);
    uint64_t head = fx_head();
    cr_assert_eq(fx_redeem(c, "pen", "checkout-7", &again), CRM_RPC_OK);
    cr_assert_str_eq(first->redemption->id, again->redemption->id);
    cr_assert_str_eq(first->redemption->code, again->redemption->code);
    cr_assert_eq(again->balance, 900);
    cr_assert_eq(fx_head(), head);
    crm_codec_message_free((ProtobufCMessage **) &first);
    crm_codec_message_free((ProtobufCMessage **) &again);
    cr_assert_eq(fx_redeem(c, "pen", "checkout-8", NULL), CRM_RPC_OK);
    cr_assert_eq(fx_account(c).balance, 800);
}

Test(loyalty_rewards, lists_page_through_rewards_and_redemptions)
{
    char c[CRM_ID_SIZE];
    fx_customer(c);
    fx_give(c, 1000);
    fx_reward("a-pen", 10, -1);
    fx_reward("b-cap", 10, 0);           /* out of stock: listed only with includeInactive */
    fx_reward("c-mug", 10, 3);
    Crm__V1__ListRewardsRequest req = CRM__V1__LIST_REWARDS_REQUEST__INIT;
    req.page_size = 1;
    Crm__V1__ListRewardsReply *rep = NULL;
    cr_assert_eq(fx_call("loyalty.ListRewards", "agent", &req.base, &crm__v1__list_rewards_reply__descriptor,
                         (ProtobufCMessage **) &rep, NULL), CRM_RPC_OK);
    cr_assert_eq(rep->n_rewards, 1);
    cr_assert_str_eq(rep->rewards[0]->id, "a-pen");
    cr_assert_str_eq(rep->next_page_token, "a-pen");
    req.page_token = "a-pen";
    crm_codec_message_free((ProtobufCMessage **) &rep);
    cr_assert_eq(fx_call("loyalty.ListRewards", "agent", &req.base, &crm__v1__list_rewards_reply__descriptor,
                         (ProtobufCMessage **) &rep, NULL), CRM_RPC_OK);
    cr_assert_eq(rep->n_rewards, 1);
    cr_assert_str_eq(rep->rewards[0]->id, "c-mug");
    cr_assert_str_eq(rep->next_page_token, "");
    crm_codec_message_free((ProtobufCMessage **) &rep);
    req.page_token = "";
    req.page_size = 0;
    req.include_inactive = true;
    cr_assert_eq(fx_call("loyalty.ListRewards", "agent", &req.base, &crm__v1__list_rewards_reply__descriptor,
                         (ProtobufCMessage **) &rep, NULL), CRM_RPC_OK);
    cr_assert_eq(rep->n_rewards, 3);
    crm_codec_message_free((ProtobufCMessage **) &rep);

    char ids[5][CRM_ID_SIZE];
    for (int i = 0; i < 5; i++) {
        Crm__V1__RedemptionReply *red = NULL;
        cr_assert_eq(fx_redeem(c, "a-pen", NULL, &red), CRM_RPC_OK);
        snprintf(ids[i], CRM_ID_SIZE, "%s", red->redemption->id);
        crm_codec_message_free((ProtobufCMessage **) &red);
    }
    Crm__V1__ListRedemptionsRequest lreq = CRM__V1__LIST_REDEMPTIONS_REQUEST__INIT;
    lreq.customer_id = c;
    lreq.page_size = 2;
    int seen = 4;
    for (int page = 0; page < 3; page++) {
        Crm__V1__ListRedemptionsReply *lrep = NULL;
        cr_assert_eq(fx_call("loyalty.ListRedemptions", "agent", &lreq.base,
                             &crm__v1__list_redemptions_reply__descriptor, (ProtobufCMessage **) &lrep, NULL),
                     CRM_RPC_OK);
        for (size_t i = 0; i < lrep->n_redemptions; i++)
            cr_assert_str_eq(lrep->redemptions[i]->id, ids[seen--]);
        static char token[CRM_ID_SIZE];
        snprintf(token, sizeof token, "%s", lrep->next_page_token);
        lreq.page_token = token;
        cr_assert_eq(page == 2, token[0] == '\0');
        crm_codec_message_free((ProtobufCMessage **) &lrep);
    }
    cr_assert_eq(seen, -1);
}
