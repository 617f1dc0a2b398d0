/* test_feedback_sentiment.c: sentiment and topics of comments: hand-labelled Chinese and English comments with accuracy, negation, intensifiers, contrast, bad input, the lexicon's form. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "crm_error.h"
#include "feedback_lexicon.h"
#include "feedback_sentiment.h"

#define DLV (1u << FEEDBACK_TOPIC_DELIVERY)
#define PRC (1u << FEEDBACK_TOPIC_PRICE)
#define QLT (1u << FEEDBACK_TOPIC_QUALITY)
#define STF (1u << FEEDBACK_TOPIC_STAFF)
#define SVC (1u << FEEDBACK_TOPIC_SERVICE)
#define PKG (1u << FEEDBACK_TOPIC_PACKAGING)
#define RET (1u << FEEDBACK_TOPIC_RETURNS)
#define WEB (1u << FEEDBACK_TOPIC_WEBSITE)

#define POS FEEDBACK_POLARITY_POSITIVE
#define NEG FEEDBACK_POLARITY_NEGATIVE
#define NEU FEEDBACK_POLARITY_NEUTRAL

typedef enum { LANG_EN, LANG_ZH, LANG_COUNT } lang_t;
static const char *const s_lang_names[LANG_COUNT] = { "english", "chinese" };

typedef struct {
    lang_t lang;
    feedback_polarity_t polarity;   /* labelled by hand */
    unsigned topics;                /* labelled by hand */
    const char *text;
} labelled_t;

/* The tuning set: realistic shop and e-commerce comments, labelled by hand; the lexicon was
 * tuned while looking at these, so they guard against regressions more than they measure. */
static const labelled_t s_tuning[] = {
    { LANG_EN, NEG, DLV | PKG, "Arrived two days late and the box was crushed." },
    { LANG_EN, NEG, STF, "Rude staff at the Xuhui store, the cashier ignored me completely." },
    { LANG_EN, POS, PRC, "Great value for money, I will definitely buy again." },
    { LANG_EN, NEG, QLT, "The blender broke after a week. Very disappointed." },
    { LANG_EN, NEG, WEB, "The app keeps crashing every time I try to pay." },
    { LANG_EN, NEG, RET | SVC, "Refund took forever, three emails before anyone replied." },
    { LANG_EN, POS, DLV | QLT, "Fast delivery and the product works perfectly." },
    { LANG_EN, POS, SVC, "Customer service was very helpful and solved my problem in minutes." },
    { LANG_EN, NEG, PRC, "Too expensive for what you get." },
    { LANG_EN, POS, QLT, "The jacket is well made and really warm, love it." },
    { LANG_EN, NEG, DLV, "Not happy with the delivery, the courier never called before coming." },
    { LANG_EN, NEG, QLT | PRC, "Good quality but way too expensive." },
    { LANG_EN, POS, STF, "Staff were friendly and knowledgeable, they helped me choose the right laptop." },
    { LANG_EN, NEG, PKG | QLT, "Packaging was damaged and one cup inside was cracked." },
    { LANG_EN, POS, RET, "Easy returns process, got my money back within 3 days." },
    { LANG_EN, NEG, SVC, "Waited 40 minutes on hold and then the call dropped." },
    { LANG_EN, NEG, WEB | PRC, "The website checkout is confusing and the discount code didn't work." },
    { LANG_EN, NEG, QLT, "Item not as described, the colour is completely different." },
    { LANG_EN, POS, DLV, "Delivery was on time and the driver was very polite." },
    { LANG_EN, NEG, PRC | QLT, "Overpriced and poor quality, never again." },
    { LANG_EN, POS, STF | PRC, "Nice shop, helpful sales assistants and fair prices." },
    { LANG_EN, NEG, SVC | DLV, "Support never answered my emails about the missing parcel." },
    { LANG_EN, NEG, RET, "I asked for an exchange and they refused." },
    { LANG_EN, POS, PKG, "Beautiful packaging, it made a perfect gift." },
    { LANG_EN, NEG, WEB, "The login page shows an error every time, I can't access my account." },
    { LANG_EN, POS, QLT | PRC, "Decent product for the price." },
    { LANG_EN, NEU, DLV, "Received the order yesterday, will try it this weekend." },
    { LANG_EN, NEG, STF, "The manager was dismissive and unprofessional when I complained." },
    { LANG_EN, NEG, QLT | RET, "Shoes fell apart after two weeks and the return was rejected." },
    { LANG_EN, POS, DLV | PKG, "Super quick shipping, well packed, highly recommend!" },
    { LANG_EN, NEU, DLV, "How do I change the delivery address on my order?" },
    { LANG_EN, NEG, QLT, "The phone was fake, the serial number did not match." },
    { LANG_EN, NEG, 0, "Will never buy from here again." },
    { LANG_EN, POS, STF, "The staff couldn't have been nicer." },
    { LANG_EN, NEG, PRC, "Waste of money, avoid!" },

    { LANG_ZH, NEG, DLV, "快递太慢了，等了一个星期才到。" },
    { LANG_ZH, NEG, PKG | QLT, "包装破损，里面的杯子碎了。" },
    { LANG_ZH, NEG, SVC, "客服态度很差，问了三遍都不回答。" },
    { LANG_ZH, POS, PRC | QLT, "性价比高，质量不错，会回购。" },
    { LANG_ZH, POS, QLT | DLV, "质量很好，穿着很舒服，物流也快。" },
    { LANG_ZH, NEG, RET | SVC, "退款申请提交了一周还没处理。" },
    { LANG_ZH, POS, SVC | RET, "售后很给力，很快就给换了新的。" },
    { LANG_ZH, NEG, STF, "收银员一直在玩手机，结账等了很久。" },
    { LANG_ZH, NEG, PRC, "价格太贵了，不值这个价。" },
    { LANG_ZH, NEG, QLT, "手机买回来用了两天就坏了，太失望了。" },
    { LANG_ZH, NEG, WEB, "APP登录不了，一直提示验证码错误。" },
    { LANG_ZH, POS, QLT | PKG, "东西不错，包装也很精美，送人很合适。" },
    { LANG_ZH, POS, DLV, "物流超级快，昨天下单今天就到了。" },
    { LANG_ZH, POS, STF | QLT, "导购小姐姐很专业，推荐的衣服很合身。" },
    { LANG_ZH, NEG, QLT, "质量太差了，洗一次就掉色。" },
    { LANG_ZH, POS, SVC, "客服回复很及时，问题很快就解决了。" },
    { LANG_ZH, NEG, RET | PRC, "退货流程太麻烦了，还要自己出运费。" },
    { LANG_ZH, POS, PRC | QLT, "这个价格能买到这样的质量，很划算。" },
    { LANG_ZH, NEG, PKG, "包装很简陋，就一个塑料袋。" },
    { LANG_ZH, NEG, WEB, "下单页面一直卡，付款失败好几次。" },
    { LANG_ZH, NEG, STF, "服务员态度恶劣，再也不来了。" },
    { LANG_ZH, NEU, DLV, "收到货了，还没用，用了再评价。" },
    { LANG_ZH, POS, PRC | QLT, "虽然价格有点贵，但是质量真的很好。" },
    { LANG_ZH, NEG, QLT | DLV, "衣服不错，就是物流太慢了。" },
    { LANG_ZH, POS, DLV, "快递员态度很好，送货上门。" },
    { LANG_ZH, NEG, QLT | RET, "收到的是假货，要求退款商家不理。" },
    { LANG_ZH, NEG, QLT, "不是很满意，尺码偏小。" },
    { LANG_ZH, NEG, SVC, "电话客服一直打不通，在线客服是机器人。" },
    { LANG_ZH, POS, QLT, "宝贝和图片一样，很满意，五星好评！" },
    { LANG_ZH, POS, QLT, "用了半年了，没有任何问题，很耐用。" },
    { LANG_ZH, POS, RET, "退款已经到账了，谢谢。" },
    { LANG_ZH, NEU, DLV, "请问什么时候发货？" },
    { LANG_ZH, NEG, 0, "一般般吧，没有想象中好。" },
    { LANG_ZH, POS, QLT, "超级无敌好用！" },
    { LANG_ZH, NEG, DLV | SVC, "没有收到货，客服也联系不上。" },
};

/* The held-out set: never used to tune the lexicon (no entry was added or changed because of a
 * held-out miss; the misses are left as they are). It measures how the lexicon generalises;
 * being small, it is reported apart and held to a lower bar. First measured, before the
 * tuning-set changes: batch A polarity 11/12, exact topics 11/12; batch B 10/13 and 8/13.
 * Batch A was written and labelled before the lexicon existed, by the lexicon's author. */
static const labelled_t s_held_out[] = {
    { LANG_EN, NEG, DLV | SVC, "The courier left the parcel at the wrong address and nobody picked up the hotline." },
    { LANG_EN, NEG, PRC | QLT, "Cheap, but the zipper fell off on day two." },
    { LANG_EN, POS, STF, "Lovely shop assistant, she helped me find the right size." },
    { LANG_EN, NEG, WEB, "Checkout page froze twice and I had to pay again." },
    { LANG_EN, POS, RET, "Exchanged the shoes without any hassle, very smooth." },
    { LANG_EN, NEG, RET, "Three weeks and still waiting for my refund." },
    { LANG_ZH, POS, DLV | PKG, "发货速度很快，包装也很严实。" },
    { LANG_ZH, NEG, PRC | QLT, "价格偏贵，质量一般。" },
    { LANG_ZH, NEG, SVC | RET, "客服一直不回复消息，退货申请也没人处理。" },
    { LANG_ZH, POS, STF, "店员很热情，耐心帮我挑选。" },
    { LANG_ZH, NEG, WEB, "手机APP老是闪退，根本没法下单。" },
    { LANG_ZH, NEG, DLV, "等了十天才到货，太慢了。" },
    /* Batch B: written after the lexicon, with other wording on purpose, frozen before its
     * first run (a less flattering measure than the batch above, which was in mind while the
     * lexicon was written). */
    { LANG_EN, NEG, DLV | RET, "Ordered a size M, got an XL. Returning it." },
    { LANG_EN, NEG, STF, "The sales guy was pushy and kept upselling me insurance." },
    { LANG_EN, POS, QLT, "Battery life is excellent, lasts two full days." },
    { LANG_EN, NEG, PRC | DLV, "I was charged for shipping even though it said free delivery." },
    { LANG_EN, POS, SVC, "Chat agent sorted out my issue in five minutes, brilliant." },
    { LANG_EN, NEG, PKG | DLV, "Box arrived soaking wet and the manual was ruined." },
    { LANG_EN, NEG, PRC, "Prices went up again this month, not impressed." },
    { LANG_ZH, POS, SVC | DLV, "客服小姐姐很耐心，一直帮我查物流。" },
    { LANG_ZH, NEG, QLT, "衣服洗了一次就缩水了，不建议购买。" },
    { LANG_ZH, NEG, RET | PRC, "退货运费还要我自己出，太不合理了。" },
    { LANG_ZH, NEG, WEB, "网页加载特别慢，结账的时候还卡住了。" },
    { LANG_ZH, POS, QLT, "东西收到了，跟描述的一样，好评。" },
    { LANG_ZH, NEG, STF, "专柜的店员爱答不理的，问个尺码都不耐烦。" },
};

#define N_TUNING   (sizeof s_tuning / sizeof s_tuning[0])
#define N_HELD_OUT (sizeof s_held_out / sizeof s_held_out[0])

/* Accuracy bars.
 * Tuning set: the lexicon was written with these comments in view, so anything below 90% on
 * polarity means a regression, not a hard case; 80% exact topic sets (every topic right, none
 * extra: stricter than polarity, and a few comments name things no keyword list can catch:
 * "the call dropped", "东西" for the product), and 90% recall over all labelled topics.
 * Each language must reach the polarity bar on its own, so that one cannot hide the other.
 * Held-out set: 12 comments the lexicon never saw, where one miss costs 8 points; the bars are
 * floors that catch a broken analyser (guessing among three polarities scores about 33%), not
 * targets: 2/3 on polarity and half the topic sets exact. */
#define TUNING_POLARITY_MIN_PCT    90
#define TUNING_TOPICS_EXACT_MIN_PCT 80
#define TUNING_TOPIC_RECALL_MIN_PCT 90
#define HELD_OUT_POLARITY_MIN_PCT  66
#define HELD_OUT_TOPICS_EXACT_MIN_PCT 50

typedef struct {
    int n, polarity_ok, topics_exact;
    int labelled[FEEDBACK_TOPIC_COUNT];   /* comments labelled with the topic */
    int found[FEEDBACK_TOPIC_COUNT];      /* of those, where the analyser found it */
    int extra[FEEDBACK_TOPIC_COUNT];      /* found but not labelled */
} stats_t;

static void s_topics_text(unsigned topics, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int t = 0; t < FEEDBACK_TOPIC_COUNT; t++) {
        if (!(topics & (1u << t)))
            continue;
        int n = snprintf(buf + used, size - used, "%s%s", used ? "," : "", feedback_topic_name((feedback_topic_t) t));
        if (n < 0 || (size_t) n >= size - used)
            break;
        used += (size_t) n;
    }
    if (used == 0)
        snprintf(buf, size, "-");
}

static double s_pct(int part, int whole)
{
    return whole ? 100.0 * part / whole : 0.0;
}

static void s_print_stats(const char *set, const char *lang, const stats_t *s)
{
    int labelled = 0, found = 0;
    for (int t = 0; t < FEEDBACK_TOPIC_COUNT; t++) {
        labelled += s->labelled[t];
        found += s->found[t];
    }
    printf("%-9s %-8s n=%2d  polarity %2d/%-2d %5.1f%%  topics exact %2d/%-2d %5.1f%%  topic recall %2d/%-2d %5.1f%%\n",
           set, lang, s->n, s->polarity_ok, s->n, s_pct(s->polarity_ok, s->n), s->topics_exact, s->n,
           s_pct(s->topics_exact, s->n), found, labelled, s_pct(found, labelled));
    printf("%-9s %-8s per topic (found/labelled, extra):", set, lang);
    for (int t = 0; t < FEEDBACK_TOPIC_COUNT; t++)
        if (s->labelled[t] || s->extra[t])
            printf(" %s %d/%d+%d", feedback_topic_name((feedback_topic_t) t), s->found[t], s->labelled[t], s->extra[t]);
    printf("\n");
}

static void s_add(stats_t *into, const stats_t *from)
{
    into->n += from->n;
    into->polarity_ok += from->polarity_ok;
    into->topics_exact += from->topics_exact;
    for (int t = 0; t < FEEDBACK_TOPIC_COUNT; t++) {
        into->labelled[t] += from->labelled[t];
        into->found[t] += from->found[t];
        into->extra[t] += from->extra[t];
    }
}

/* Runs a labelled set: prints every miss and the figures per language and overall. */
static void s_evaluate(const char *set, const labelled_t *items, size_t count, stats_t per_lang[LANG_COUNT], stats_t *all)
{
    memset(per_lang, 0, sizeof(stats_t) * LANG_COUNT);
    memset(all, 0, sizeof *all);
    for (size_t i = 0; i < count; i++) {
        const labelled_t *c = &items[i];
        feedback_sentiment_t out;
        cr_assert_eq(feedback_sentiment_analyze(c->text, strlen(c->text), &out), 0, "%s", c->text);
        stats_t *s = &per_lang[c->lang];
        s->n++;
        bool polarity_ok = out.polarity == c->polarity;
        bool topics_ok = out.topics == c->topics;
        s->polarity_ok += polarity_ok;
        s->topics_exact += topics_ok;
        for (int t = 0; t < FEEDBACK_TOPIC_COUNT; t++) {
            unsigned bit = 1u << t;
            if (c->topics & bit) {
                s->labelled[t]++;
                s->found[t] += (out.topics & bit) != 0;
            } else if (out.topics & bit)
                s->extra[t]++;
        }
        if (!polarity_ok || !topics_ok) {
            char want[128], got[128];
            s_topics_text(c->topics, want, sizeof want);
            s_topics_text(out.topics, got, sizeof got);
            printf("%-9s miss: \"%s\"\n          expected %s [%s], got %s [%s] (score %d)\n", set, c->text,
                   feedback_polarity_name(c->polarity), want, feedback_polarity_name(out.polarity), got, out.score);
        }
    }
    for (int l = 0; l < LANG_COUNT; l++) {
        s_print_stats(set, s_lang_names[l], &per_lang[l]);
        s_add(all, &per_lang[l]);
    }
    s_print_stats(set, "overall", all);
    fflush(stdout);
}

static int s_recall_found(const stats_t *s)
{
    int found = 0;
    for (int t = 0; t < FEEDBACK_TOPIC_COUNT; t++)
        found += s->found[t];
    return found;
}

static int s_recall_labelled(const stats_t *s)
{
    int labelled = 0;
    for (int t = 0; t < FEEDBACK_TOPIC_COUNT; t++)
        labelled += s->labelled[t];
    return labelled;
}

Test(feedback_sentiment, labelled_comments_tuning_set)
{
    cr_assert_geq(N_TUNING, 60);
    stats_t per_lang[LANG_COUNT], all;
    s_evaluate("tuning", s_tuning, N_TUNING, per_lang, &all);
    for (int l = 0; l < LANG_COUNT; l++) {
        cr_assert_geq(per_lang[l].n, 25, "about half the comments are %s", s_lang_names[l]);
        cr_expect_geq(s_pct(per_lang[l].polarity_ok, per_lang[l].n), TUNING_POLARITY_MIN_PCT,
                      "%s polarity accuracy", s_lang_names[l]);
    }
    cr_expect_geq(s_pct(all.polarity_ok, all.n), TUNING_POLARITY_MIN_PCT, "polarity accuracy");
    cr_expect_geq(s_pct(all.topics_exact, all.n), TUNING_TOPICS_EXACT_MIN_PCT, "exact topic sets");
    cr_expect_geq(s_pct(s_recall_found(&all), s_recall_labelled(&all)), TUNING_TOPIC_RECALL_MIN_PCT, "topic recall");
}

Test(feedback_sentiment, labelled_comments_held_out_set)
{
    cr_assert_geq(N_HELD_OUT, 10);
    stats_t per_lang[LANG_COUNT], all;
    s_evaluate("held-out", s_held_out, N_HELD_OUT, per_lang, &all);
    cr_expect_geq(s_pct(all.polarity_ok, all.n), HELD_OUT_POLARITY_MIN_PCT, "held-out polarity accuracy");
    cr_expect_geq(s_pct(all.topics_exact, all.n), HELD_OUT_TOPICS_EXACT_MIN_PCT, "held-out exact topic sets");
}

/* --- Negation, intensifiers, contrast. */

static feedback_sentiment_t s_analyze(const char *text)
{
    feedback_sentiment_t out;
    int rc = feedback_sentiment_analyze(text, strlen(text), &out);
    cr_assert_eq(rc, 0, "analyse \"%s\": %s", text, crm_strerror(rc));
    return out;
}

static int s_score(const char *text)
{
    return s_analyze(text).score;
}

static void s_expect_polarity(const char *text, feedback_polarity_t want)
{
    feedback_sentiment_t out = s_analyze(text);
    cr_expect_eq(out.polarity, want, "\"%s\": expected %s, got %s (score %d)", text, feedback_polarity_name(want),
                 feedback_polarity_name(out.polarity), out.score);
}

Test(feedback_sentiment, negation_flips_the_next_sentiment_word)
{
    s_expect_polarity("good", POS);
    s_expect_polarity("not good", NEG);
    s_expect_polarity("bad", NEG);
    s_expect_polarity("not bad", POS);
    s_expect_polarity("I would not recommend this shop", NEG);
    s_expect_polarity("It isn't worth the money", NEG);
    s_expect_polarity("It isn’t worth the money", NEG);     /* typographic apostrophe */
    s_expect_polarity("It isnt worth the money", NEG);      /* none at all */
    s_expect_polarity("满意", POS);
    s_expect_polarity("不满意", NEG);
    s_expect_polarity("好", POS);
    s_expect_polarity("不好", NEG);
    s_expect_polarity("喜欢", POS);
    s_expect_polarity("没有不满意的地方", POS);               /* two negators cancel */
    s_expect_polarity("不错", POS);                          /* longest match: not 不 + 错 */
    s_expect_polarity("不贵", POS);
    /* "not bad" is milder than "good": a negated negative keeps half its weight. */
    cr_expect_lt(s_score("not bad"), s_score("good"));
    cr_expect_lt(s_score("不满意"), 0);
    cr_expect_gt(s_score("不满意"), s_score("非常不满意"));  /* an intensifier before the negator counts */
}

Test(feedback_sentiment, negation_window_and_clause_end)
{
    /* "not" + k filler words + "good": flipped while the word is within the window. */
    for (int k = 0; k <= FEEDBACK_NEGATION_WINDOW + 1; k++) {
        char text[128] = "not";
        for (int i = 0; i < k; i++)
            strcat(text, " the");
        strcat(text, " good");
        feedback_polarity_t want = k < FEEDBACK_NEGATION_WINDOW ? NEG : POS;
        s_expect_polarity(text, want);
    }
    for (int k = 0; k <= FEEDBACK_NEGATION_WINDOW + 1; k++) {
        char text[128] = "不";
        for (int i = 0; i < k; i++)
            strcat(text, "那");
        strcat(text, "满意");
        s_expect_polarity(text, k < FEEDBACK_NEGATION_WINDOW ? NEG : POS);
    }
    /* Punctuation ends a clause and the negator with it. */
    s_expect_polarity("Not cheap. Good though", POS);
    s_expect_polarity("不是，满意", POS);
    s_expect_polarity("没有！好", POS);
}

Test(feedback_sentiment, intensifiers_scale)
{
    cr_expect_lt(s_score("good"), s_score("very good"));
    cr_expect_lt(s_score("very good"), s_score("extremely good"));
    cr_expect_gt(s_score("slightly slow"), s_score("slow"));
    cr_expect_gt(s_score("slow"), s_score("very slow"));
    cr_expect_lt(s_score("好"), s_score("很好"));
    cr_expect_lt(s_score("很好"), s_score("非常好"));
    cr_expect_gt(s_score("有点贵"), s_score("贵"));
    cr_expect_gt(s_score("慢"), s_score("太慢"));
    cr_expect_lt(s_score("very very good"), FEEDBACK_SCORE_MAX);    /* stacked, capped */
    cr_expect_gt(s_score("very very good"), s_score("very good"));
    /* Intensifiers between a negator and its word are dropped: still plainly negative. */
    s_expect_polarity("not very good", NEG);
    s_expect_polarity("不太好", NEG);
    s_expect_polarity("不是很满意", NEG);
    cr_expect_eq(s_score("not very good"), s_score("not good"));
    /* The intensifier's window ends. */
    cr_expect_eq(s_score("very the the the good"), s_score("good"));
}

Test(feedback_sentiment, contrast_makes_what_follows_weigh_more)
{
    s_expect_polarity("The quality is great but the delivery was slow.", NEG);
    s_expect_polarity("The delivery was slow but the quality is great.", POS);
    s_expect_polarity("The quality is great. However, the delivery was slow.", NEG);
    s_expect_polarity("质量很好，但是物流太慢了。", NEG);
    s_expect_polarity("物流太慢了，但是质量很好。", POS);
    s_expect_polarity("东西还可以，不过客服态度很差。", NEG);
    s_expect_polarity("客服态度很差，不过东西很好。", POS);
    s_expect_polarity("包装很好，可是里面的东西坏了。", NEG);
    /* The same words without the contrast sum to about zero; the contrast decides. */
    cr_expect_lt(s_score("good but bad"), s_score("good and bad"));
    cr_expect_gt(s_score("bad but good"), s_score("bad and good"));
    /* Concession: the "although" clause weighs less. */
    s_expect_polarity("Although delivery was slow, the product is excellent.", POS);
    s_expect_polarity("虽然价格有点贵，质量真的很好。", POS);
    cr_expect_gt(s_score("虽然慢"), s_score("慢"));
}

Test(feedback_sentiment, score_is_clamped)
{
    char text[FEEDBACK_TEXT_MAX];
    text[0] = '\0';
    for (int i = 0; i < 40; i++)
        strcat(text, "Terrible! ");
    feedback_sentiment_t out = s_analyze(text);
    cr_expect_eq(out.score, -FEEDBACK_SCORE_MAX);
    cr_expect_eq(out.polarity, NEG);
    text[0] = '\0';
    for (int i = 0; i < 40; i++)
        strcat(text, "非常好！");
    cr_expect_eq(s_score(text), FEEDBACK_SCORE_MAX);
    /* A single word alone scores its weight. */
    cr_expect_eq(s_score("good"), 20);
    cr_expect_eq(s_score("terrible"), -35);
}

/* --- Bad input and limits. */

static void s_expect_invalid(const char *text, size_t len)
{
    feedback_sentiment_t out;
    memset(&out, 0x5a, sizeof out);
    cr_expect_eq(feedback_sentiment_analyze(text, len, &out), CRM_EINVALID);
    cr_expect_eq(out.score, 0);
    cr_expect_eq(out.polarity, NEU);
    cr_expect_eq(out.topics, 0u);
}

Test(feedback_sentiment, invalid_utf8_is_refused)
{
    static const struct { const char *bytes; const char *what; } bad[] = {
        { "good \xff", "byte never used in UTF-8" },
        { "\x80 good", "lone continuation byte" },
        { "good \xc0\xaf", "overlong slash" },
        { "\xe0\x80\xaf", "overlong three-byte" },
        { "\xed\xa0\x80", "UTF-16 surrogate" },
        { "\xf4\x90\x80\x80", "above U+10FFFF" },
        { "\xf8\x88\x80\x80\x80", "five-byte form" },
        { "质量\xe5\xa5", "truncated at the end" },
        { "\xe5\xa5 好", "truncated in the middle" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_log_info("invalid: %s", bad[i].what);
        s_expect_invalid(bad[i].bytes, strlen(bad[i].bytes));
    }
    /* Only len bytes are read: a bad byte past len does not matter. */
    feedback_sentiment_t out;
    cr_expect_eq(feedback_sentiment_analyze("good\xff", 4, &out), 0);
    cr_expect_eq(out.polarity, POS);
    /* Text that ends in the middle of a character is refused, even if the buffer goes on. */
    s_expect_invalid("好", 2);
    s_expect_invalid(NULL, 3);
}

Test(feedback_sentiment, too_long_is_refused_at_the_limit)
{
    static char text[FEEDBACK_TEXT_MAX + 2];
    for (size_t i = 0; i < sizeof text; i++)
        text[i] = (i % 5 == 4) ? ' ' : "good"[i % 5];
    feedback_sentiment_t out;
    cr_expect_eq(feedback_sentiment_analyze(text, FEEDBACK_TEXT_MAX, &out), 0);
    cr_expect_eq(out.polarity, POS);
    s_expect_invalid(text, FEEDBACK_TEXT_MAX + 1);
    s_expect_invalid(text, (size_t) -1);
    /* A full-length Chinese comment, the slowest case for the scanner, is fine too. */
    static const char unit[] = "快递太慢了，质量也一般，客服不回复。";
    static char zh[FEEDBACK_TEXT_MAX + 1];
    size_t len = 0;
    while (len + sizeof unit - 1 <= FEEDBACK_TEXT_MAX) {
        memcpy(zh + len, unit, sizeof unit - 1);
        len += sizeof unit - 1;
    }
    cr_expect_eq(feedback_sentiment_analyze(zh, len, &out), 0);
    cr_expect_eq(out.score, -FEEDBACK_SCORE_MAX);
    cr_expect_eq(out.topics, DLV | QLT | SVC);
}

Test(feedback_sentiment, empty_text_is_neutral)
{
    feedback_sentiment_t out;
    memset(&out, 0x5a, sizeof out);
    cr_expect_eq(feedback_sentiment_analyze("", 0, &out), 0);
    cr_expect_eq(out.score, 0);
    cr_expect_eq(out.polarity, NEU);
    cr_expect_eq(out.topics, 0u);
    memset(&out, 0x5a, sizeof out);
    cr_expect_eq(feedback_sentiment_analyze(NULL, 0, &out), 0);
    cr_expect_eq(out.polarity, NEU);
    cr_expect_eq(out.topics, 0u);
    out = s_analyze("   \n\t 。，！ ");
    cr_expect_eq(out.score, 0);
    cr_expect_eq(out.topics, 0u);
    out = s_analyze("Order 12345, 2 items.");
    cr_expect_eq(out.polarity, NEU);
    cr_expect_eq(out.topics, 0u);
}

/* --- Mixed Chinese and English, word boundaries, case. */

Test(feedback_sentiment, mixed_chinese_and_english)
{
    static const labelled_t mixed[] = {
        { LANG_ZH, NEG, WEB | SVC, "这个app老是crash，客服也不回复" },
        { LANG_ZH, POS, DLV | PKG, "Delivery很快，包装也很好" },
        { LANG_ZH, NEG, QLT | PRC, "质量很好 but way too expensive" },
        { LANG_EN, POS, STF, "The staff were 非常热情 and patient" },
        { LANG_ZH, NEG, RET, "refund申请了两周还没到账😡" },
        { LANG_ZH, POS, QLT, "质量超好👍👍" },
    };
    for (size_t i = 0; i < sizeof mixed / sizeof mixed[0]; i++) {
        feedback_sentiment_t out = s_analyze(mixed[i].text);
        char want[128], got[128];
        s_topics_text(mixed[i].topics, want, sizeof want);
        s_topics_text(out.topics, got, sizeof got);
        cr_expect_eq(out.polarity, mixed[i].polarity, "\"%s\": polarity %s, score %d", mixed[i].text,
                     feedback_polarity_name(out.polarity), out.score);
        cr_expect_eq(out.topics, mixed[i].topics, "\"%s\": topics %s, expected %s", mixed[i].text, got, want);
    }
}

Test(feedback_sentiment, english_words_match_whole_and_in_any_case)
{
    cr_expect_eq(s_score("GREAT VALUE"), s_score("great value"));
    cr_expect_eq(s_analyze("Great Value").topics, PRC);
    /* Words inside other words do not count. */
    s_expect_polarity("I collected my badge", NEU);          /* not "bad" */
    s_expect_polarity("Goodwin Street", NEU);                /* not "good" */
    cr_expect_eq(s_analyze("appetite").topics, 0u);          /* not "app" */
    cr_expect_eq(s_analyze("counterfeit").topics, QLT);      /* not "counter" (staff) */
    /* Stems, hyphens for spaces, line breaks. */
    cr_expect_eq(s_analyze("It was delivered").topics, DLV);
    cr_expect_eq(s_analyze("deliveries").topics, DLV);
    s_expect_polarity("a total rip-off", NEG);
    cr_expect_eq(s_analyze("customer\nservice").topics, SVC);
    s_expect_polarity("it doesnt work", NEG);
}

/* --- Names. */

Test(feedback_sentiment, topic_and_polarity_names_are_stable)
{
    static const char *const names[FEEDBACK_TOPIC_COUNT] = {
        "delivery", "price", "quality", "staff", "service", "packaging", "returns", "website",
    };
    cr_assert_eq(FEEDBACK_TOPIC_COUNT, 8);
    for (int t = 0; t < FEEDBACK_TOPIC_COUNT; t++)
        cr_expect_str_eq(feedback_topic_name((feedback_topic_t) t), names[t]);
    cr_expect_eq(FEEDBACK_TOPIC_DELIVERY, 0);
    cr_expect_eq(FEEDBACK_TOPIC_WEBSITE, 7);
    cr_expect_str_eq(feedback_topic_name(FEEDBACK_TOPIC_COUNT), "unknown");
    cr_expect_str_eq(feedback_topic_name((feedback_topic_t) -1), "unknown");
    cr_expect_str_eq(feedback_polarity_name(FEEDBACK_POLARITY_NEUTRAL), "neutral");
    cr_expect_str_eq(feedback_polarity_name(FEEDBACK_POLARITY_POSITIVE), "positive");
    cr_expect_str_eq(feedback_polarity_name(FEEDBACK_POLARITY_NEGATIVE), "negative");
    cr_expect_str_eq(feedback_polarity_name((feedback_polarity_t) 7), "unknown");
}

/* --- The lexicon's form. */

/* The text an entry stands for: its pattern without a final '*'. */
static size_t s_entry_text(const feedback_lex_entry_t *e, char *buf, size_t size)
{
    size_t len = strlen(e->text);
    cr_assert_lt(len, size);
    memcpy(buf, e->text, len + 1);
    if (len > 0 && buf[len - 1] == '*')
        buf[--len] = '\0';
    return len;
}

Test(feedback_sentiment, lexicon_is_well_formed)
{
    size_t total = 0;
    int per_topic[FEEDBACK_LEX_TABLE_COUNT][FEEDBACK_TOPIC_COUNT] = { { 0 } };
    for (int tb = 0; tb < FEEDBACK_LEX_TABLE_COUNT; tb++) {
        size_t count;
        const feedback_lex_entry_t *table = feedback_lexicon_table((feedback_lex_table_t) tb, &count);
        total += count;
        for (size_t i = 0; i < count; i++) {
            const feedback_lex_entry_t *e = &table[i];
            cr_assert(e->text && e->text[0], "entry %zu of table %d has no text", i, tb);
            size_t len = strlen(e->text);
            const unsigned char *u = (const unsigned char *) e->text;
            cr_expect_leq(len, FEEDBACK_LEX_TEXT_MAX, "\"%s\" too long", e->text);
            feedback_sentiment_t out;
            cr_expect_eq(feedback_sentiment_analyze(e->text, len, &out), 0, "\"%s\" is not UTF-8", e->text);
            if (tb == FEEDBACK_LEX_ENGLISH) {
                cr_expect_lt(u[0], 0x80, "\"%s\" belongs in the Chinese table", e->text);
                cr_expect(u[0] != ' ' && u[0] != '\'' && u[0] != '*', "\"%s\" starts badly", e->text);
                cr_expect(u[len - 1] != ' ', "\"%s\" ends in a space", e->text);
                for (size_t k = 0; k < len; k++) {
                    cr_expect(u[k] >= 0x20 && u[k] < 0x7f, "\"%s\": not printable ASCII", e->text);
                    cr_expect(!(u[k] >= 'A' && u[k] <= 'Z'), "\"%s\": not lowercase", e->text);
                    cr_expect(u[k] != '*' || k == len - 1, "\"%s\": '*' only at the end", e->text);
                    cr_expect(!(u[k] == ' ' && k + 1 < len && u[k + 1] == ' '), "\"%s\": double space", e->text);
                }
            } else {
                cr_expect_geq(u[0], 0x80, "\"%s\" belongs in the English table", e->text);
                for (size_t k = 0; k < len; k++)
                    cr_expect(u[k] >= 0x80, "\"%s\": ASCII in a Chinese entry", e->text);
            }
            cr_expect_lt(e->topics, 1u << FEEDBACK_TOPIC_COUNT, "\"%s\": no such topic", e->text);
            switch (e->kind) {
            case FEEDBACK_LEX_WORD:
                cr_expect_leq(e->value, FEEDBACK_LEX_WEIGHT_MAX, "\"%s\"", e->text);
                cr_expect_geq(e->value, -FEEDBACK_LEX_WEIGHT_MAX, "\"%s\"", e->text);
                break;
            case FEEDBACK_LEX_INTENSIFIER:
                cr_expect_geq(e->value, FEEDBACK_LEX_SCALE_MIN_PCT, "\"%s\"", e->text);
                cr_expect_leq(e->value, FEEDBACK_LEX_SCALE_MAX_PCT, "\"%s\"", e->text);
                cr_expect_neq(e->value, 100, "\"%s\" changes nothing", e->text);
                cr_expect_eq(e->topics, 0u, "\"%s\"", e->text);
                break;
            case FEEDBACK_LEX_NEGATOR:
            case FEEDBACK_LEX_CONTRAST:
            case FEEDBACK_LEX_CONCESSIVE:
                cr_expect_eq(e->value, 0, "\"%s\"", e->text);
                cr_expect_eq(e->topics, 0u, "\"%s\"", e->text);
                break;
            default:
                cr_expect_fail("\"%s\": unknown kind %d", e->text, (int) e->kind);
            }
            for (int t = 0; t < FEEDBACK_TOPIC_COUNT; t++)
                per_topic[tb][t] += (e->topics >> t) & 1u;

            /* The entry matches its own text, and no other entry matches it just as long:
             * the longest match is never a tie. */
            char text[FEEDBACK_LEX_TEXT_MAX + 1];
            size_t tlen = s_entry_text(e, text, sizeof text);
            cr_expect_eq(feedback_lexicon_match(e->text, text, tlen, 0), tlen, "\"%s\" does not match itself", e->text);
            for (size_t j = 0; j < count; j++)
                if (j != i)
                    cr_expect_neq(feedback_lexicon_match(table[j].text, text, tlen, 0), tlen,
                                  "\"%s\" and \"%s\" match the same text", e->text, table[j].text);
        }
    }
    for (int tb = 0; tb < FEEDBACK_LEX_TABLE_COUNT; tb++)
        for (int t = 0; t < FEEDBACK_TOPIC_COUNT; t++)
            cr_expect_geq(per_topic[tb][t], 5, "table %d has few keywords for %s", tb,
                          feedback_topic_name((feedback_topic_t) t));
    cr_expect_geq(total, 300);
    printf("lexicon: %zu entries\n", total);
    fflush(stdout);
}

/* Every sentiment word alone scores exactly its weight and names its topics: what the table says
 * is what the analyser does (no shorter or longer entry shadows it). */
Test(feedback_sentiment, lexicon_words_alone_score_their_weight)
{
    for (int tb = 0; tb < FEEDBACK_LEX_TABLE_COUNT; tb++) {
        size_t count;
        const feedback_lex_entry_t *table = feedback_lexicon_table((feedback_lex_table_t) tb, &count);
        for (size_t i = 0; i < count; i++) {
            const feedback_lex_entry_t *e = &table[i];
            if (e->kind != FEEDBACK_LEX_WORD)
                continue;
            char text[FEEDBACK_LEX_TEXT_MAX + 1];
            size_t len = s_entry_text(e, text, sizeof text);
            feedback_sentiment_t out;
            cr_assert_eq(feedback_sentiment_analyze(text, len, &out), 0);
            cr_expect_eq(out.score, e->value, "\"%s\" scores %d, weight %d", text, out.score, e->value);
            cr_expect_eq(out.topics, e->topics, "\"%s\" topics %#x, table says %#x", text, out.topics, e->topics);
        }
    }
}
