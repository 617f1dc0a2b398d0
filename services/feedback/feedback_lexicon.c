/* feedback_lexicon.c: the sentiment and topic lexicons for customer comments, English and Chinese, as static tables. */
/*
 * Format
 * ------
 * Each entry is { text, kind, value, topics } (feedback_lexicon.h), written with the macros
 * below:
 *   W(text, weight, topics)   a sentiment word or phrase: weight is the score, in points, that the
 *                             word alone gives (+35 "excellent", +20 "good", +8 "ok", -25 "bad",
 *                             -35 "terrible"; |weight| <= FEEDBACK_LEX_WEIGHT_MAX), and the topics
 *                             it mentions (0 for none).
 *   T(text, topics)           a topic keyword with no sentiment ("delivery", "快递").
 *   KEEP(text)                a blocker: a word that holds no sentiment nor topic but contains
 *                             one ("不好意思" holds "不好", "差不多" holds "差"). The scanner
 *                             takes the longest entry at each position, so the blocker wins.
 *   NEG(text)                 a negator ("not", "不", "没有"): flips the next sentiment word
 *                             within FEEDBACK_NEGATION_WINDOW tokens; intensifiers between the
 *                             two are dropped ("not very good" is simply negative).
 *   INT(text, percent)        an intensifier ("very" 150) or downtoner ("a bit" 60) for the next
 *                             sentiment word within FEEDBACK_INTENSIFIER_WINDOW tokens.
 *   BUT(text)                 a contrast word ("but", "但是"): what follows weighs more.
 *   THO(text)                 a concessive word ("although", "虽然"): the rest of its clause
 *                             weighs less.
 * Topics are the bits DLV, PRC, QLT, STF, SVC, PKG, RET, WEB (or-ed), one per feedback_topic_t.
 *
 * Text syntax
 * -----------
 * - English entries are lowercase ASCII and match case-insensitively, only at word boundaries
 *   (no ASCII letter or digit right before or after). A space matches one or more spaces, tabs,
 *   line breaks or hyphens ("rip off" matches "rip-off"); an apostrophe matches ', U+2019 or
 *   nothing ("don't" matches "dont" and "don’t"); a final '*' matches the rest of the word
 *   ("deliver*": delivery, delivered, deliveries).
 * - Chinese entries are UTF-8 and match anywhere (Chinese has no word spaces): at each position
 *   the longest matching entry wins, so "快递" (a topic) beats "快" (fast) and "不错" (good)
 *   beats "不" (a negator).
 * - The English table holds every entry that begins with an ASCII byte (emoticons too); the
 *   Chinese table every entry that begins with a non-ASCII byte (emoji too).
 *
 * Extending
 * ---------
 * Add an entry to the right table, with its weight on the scale above and its topics. If the new
 * text contains a shorter entry that would now read wrong, nothing else is needed (longest
 * wins); if a short new entry appears inside longer common words, add KEEP() blockers for them.
 * Two entries must never match the same text with the same length (the unit tests check
 * this, as well as case, UTF-8, ranges and placement). Then run test_feedback_sentiment: the
 * labelled comments there must stay above their accuracy bars, and add comments for the new
 * words to its tuning set (not to its held-out set).
 */
#include "feedback_lexicon.h"

#include <assert.h>
#include <stdbool.h>
#include <string.h>

#define DLV (1u << FEEDBACK_TOPIC_DELIVERY)
#define PRC (1u << FEEDBACK_TOPIC_PRICE)
#define QLT (1u << FEEDBACK_TOPIC_QUALITY)
#define STF (1u << FEEDBACK_TOPIC_STAFF)
#define SVC (1u << FEEDBACK_TOPIC_SERVICE)
#define PKG (1u << FEEDBACK_TOPIC_PACKAGING)
#define RET (1u << FEEDBACK_TOPIC_RETURNS)
#define WEB (1u << FEEDBACK_TOPIC_WEBSITE)

#define W(text, weight, topics) { text, FEEDBACK_LEX_WORD, weight, topics }
#define T(text, topics)         { text, FEEDBACK_LEX_WORD, 0, topics }
#define KEEP(text)              { text, FEEDBACK_LEX_WORD, 0, 0 }
#define NEG(text)               { text, FEEDBACK_LEX_NEGATOR, 0, 0 }
#define INT(text, percent)      { text, FEEDBACK_LEX_INTENSIFIER, percent, 0 }
#define BUT(text)               { text, FEEDBACK_LEX_CONTRAST, 0, 0 }
#define THO(text)               { text, FEEDBACK_LEX_CONCESSIVE, 0, 0 }

static const feedback_lex_entry_t s_english[] = {
    /* --- Negators. */
    NEG("not"), NEG("no"), NEG("never"), NEG("don't"), NEG("doesn't"), NEG("didn't"),
    NEG("isn't"), NEG("wasn't"), NEG("aren't"), NEG("weren't"), NEG("won't"), NEG("wouldn't"),
    NEG("can't"), NEG("cannot"), NEG("couldn't"), NEG("shouldn't"), NEG("hasn't"),
    NEG("haven't"), NEG("hadn't"), NEG("ain't"), NEG("without"), NEG("hardly"), NEG("barely"),
    NEG("neither"), NEG("nor"), NEG("nothing"), NEG("nobody"), NEG("no one"), NEG("none"),
    NEG("no longer"),

    /* --- Intensifiers and downtoners. */
    INT("very", 150), INT("really", 140), INT("so", 140), INT("extremely", 180),
    INT("super", 150), INT("incredibly", 170), INT("totally", 150), INT("absolutely", 160),
    INT("completely", 150), INT("highly", 150), INT("too", 130), INT("way too", 170),
    INT("far too", 170), INT("quite", 120), INT("truly", 140), INT("such", 130),
    INT("particularly", 130), INT("especially", 130), INT("seriously", 150),
    INT("terribly", 160), INT("awfully", 150), INT("insanely", 170), INT("ridiculously", 170),
    INT("unbelievably", 170), INT("utterly", 170), INT("much", 130), INT("rather", 110),
    INT("fairly", 90), INT("a bit", 60), INT("a little", 60), INT("slightly", 60),
    INT("somewhat", 70), INT("kind of", 70), INT("kinda", 70), INT("sort of", 70),

    /* --- Contrast and concession. */
    BUT("but"), BUT("however"), BUT("nevertheless"), BUT("nonetheless"),
    BUT("on the other hand"), KEEP("but also"),
    THO("although"), THO("though"), THO("even though"), THO("despite"), THO("in spite of"),

    /* --- General positive. */
    W("good", 20, 0), W("great", 30, 0), W("excellent", 35, 0), W("amazing", 35, 0),
    W("awesome", 30, 0), W("fantastic", 35, 0), W("perfect", 35, 0), W("perfectly", 30, 0),
    W("love", 30, 0), W("loved", 30, 0), W("love it", 30, 0), W("lovely", 25, 0),
    W("nice", 20, 0), W("nicely", 15, 0), W("happy", 25, 0), W("pleased", 25, 0),
    W("satisfied", 25, 0), W("glad", 20, 0), W("delighted", 30, 0), W("impressed", 25, 0),
    W("impressive", 25, 0), W("wonderful", 35, 0), W("superb", 35, 0), W("brilliant", 30, 0),
    W("outstanding", 35, 0), W("exceptional", 35, 0), W("best", 30, 0), W("better", 10, 0),
    W("fine", 8, 0), W("ok", 5, 0), W("okay", 5, 0), W("decent", 15, 0), W("solid", 15, 0),
    W("reliable", 20, 0), W("recommend*", 25, 0), W("helpful", 25, 0), W("helped", 15, 0),
    W("thank*", 15, 0), W("appreciat*", 15, 0), W("fast", 20, 0), W("faster", 15, 0),
    W("quick", 20, 0), W("quickly", 20, 0), W("quicker", 15, 0), W("prompt", 20, 0),
    W("promptly", 20, 0), W("speedy", 20, 0), W("efficient", 20, 0), W("smooth", 20, 0),
    W("smoothly", 20, 0), W("easy", 20, 0), W("easily", 15, 0), W("simple", 10, 0),
    W("convenient", 20, 0), W("professional", 20, 0), W("patient", 20, 0), W("kind", 15, 0),
    W("caring", 15, 0), W("above and beyond", 30, 0), W("top notch", 30, 0),
    W("beautiful", 25, 0), W("beautifully", 25, 0), W("gorgeous", 25, 0), W("stylish", 15, 0),
    W("cute", 15, 0), W("exceeded*", 30, 0), W("hassle free", 20, 0), W("no hassle", 15, 0),
    W("no problem", 15, 0), W("no problems", 15, 0), W("no issues", 15, 0),
    W("no complaints", 20, 0), W("buy again", 25, 0), W("order again", 25, 0),
    W("shop again", 25, 0), W("come back", 20, 0), W("be back", 20, 0),
    W("5 stars", 30, 0), W("five stars", 30, 0), W("i like", 20, 0),
    W("like it", 15, 0), W("liked", 20, 0), W("enjoy*", 20, 0), W("fair", 10, 0),
    W("clean", 15, 0), W("tidy", 10, 0), W("safe", 10, 0), W("safely", 10, 0),
    W("intact", 15, 0), W("undamaged", 15, 0), W("spotless", 20, 0), W("accurate", 10, 0),
    W("early", 10, 0), W("well done", 25, 0), W("works well", 20, QLT),
    W(":)", 15, 0), W(":-)", 15, 0), W(":d", 20, 0),

    /* --- General negative. */
    W("bad", -25, 0), W("poor", -25, 0), W("poorly", -20, 0), W("terrible", -35, 0),
    W("awful", -35, 0), W("horrible", -35, 0), W("horrendous", -40, 0), W("worst", -40, 0),
    W("worse", -20, 0), W("disappoint*", -25, 0), W("unhappy", -25, 0),
    W("dissatisfied", -25, 0), W("unsatisfied", -25, 0), W("angry", -25, 0),
    W("furious", -35, 0), W("annoyed", -20, 0), W("annoying", -20, 0), W("frustrat*", -25, 0),
    W("upset", -25, 0), W("useless", -30, 0), W("pathetic", -35, 0), W("ridiculous", -25, 0),
    W("unacceptable", -35, 0), W("disgusting", -35, 0), W("disgrace*", -35, 0),
    W("shocking", -30, 0), W("appalling", -35, 0), W("mediocre", -15, 0), W("meh", -10, 0),
    W("so so", -5, 0), W("rubbish", -30, 0), W("garbage", -30, 0), W("junk", -30, 0),
    W("trash", -30, 0), W("crap", -30, 0), W("crappy", -30, 0), W("scam", -40, 0),
    W("ignored", -25, 0), W("unhelpful", -25, 0), W("incompetent", -30, 0),
    W("careless", -25, 0), W("slow", -20, 0), W("slowly", -15, 0), W("slower", -15, 0),
    W("late", -20, 0), W("took forever", -30, 0), W("takes forever", -30, 0),
    W("took ages", -25, 0), W("still waiting", -25, 0), W("wait", -10, 0),
    W("waited", -10, 0), W("waiting", -10, 0), W("lost", -25, 0), W("missing", -25, 0),
    W("wrong", -20, 0), W("damaged", -25, 0), W("torn", -20, 0), W("ripped", -20, 0),
    W("hate", -35, 0), W("hated", -35, 0), W("regret*", -30, 0), W("never again", -30, 0),
    W("won't be back", -30, 0), W("will not be back", -30, 0), W("avoid", -25, 0),
    W("stay away", -30, 0), W("don't buy", -30, 0), W("do not buy", -30, 0),
    W("don't bother", -25, 0), W("one star", -30, 0), W("1 star", -30, 0),
    W("zero stars", -35, 0), W("problem", -5, 0), W("problems", -5, 0),
    W("problem with", -15, 0), W("problems with", -15, 0), W("issue", -5, 0),
    W("issues", -5, 0), W("issue with", -15, 0), W("issues with", -15, 0),
    W("complain*", -15, 0), W("hassle", -15, 0), W("nightmare", -35, 0),
    W("waste of time", -30, 0), W("refused", -20, 0), W("refused to", -25, 0),
    W("rejected", -20, 0), W("denied", -20, 0), W("mess", -20, 0), W("messy", -15, 0),
    W("dirty", -25, 0), W("filthy", -30, 0), W("smelly", -20, 0), W("unreliable", -25, 0),
    W("unfortunately", -20, 0), W("sadly", -15, 0), W("sad", -20, 0), W("let down", -25, 0),
    W("let me down", -25, 0), W("cheated", -35, 0), W("lied", -30, 0),
    W("misleading", -25, 0), W("incorrect", -15, 0), W("inaccurate", -15, 0),
    W("stuck", -15, 0), W("confusing", -20, 0), W("complicated", -15, 0),
    W("difficult", -15, 0), W("hard to", -10, 0), W("unable to", -15, 0),
    W("downside", -15, 0), W("could be better", -15, 0), W("could have been better", -15, 0),
    W("not great", -20, 0), W("nothing special", -5, 0), W("never buy", -30, 0),
    W("never shop", -30, 0), W("never order", -30, 0), W("couldn't be happier", 35, 0),
    W("couldn't be better", 30, 0), W("couldn't have been better", 30, 0),
    W("couldn't have been nicer", 30, 0), W("could not be happier", 35, 0), W(":(", -15, 0), W(":-(", -15, 0),

    /* --- Delivery. */
    T("deliver*", DLV), T("ship*", DLV), T("courier*", DLV), T("parcel*", DLV),
    T("package", DLV), T("packages", DLV), T("arriv*", DLV), T("dispatch*", DLV),
    T("postage", DLV), T("postman", DLV), T("post office", DLV), T("mail", DLV),
    T("driver", DLV), T("drivers", DLV), T("tracking", DLV), T("transit", DLV),
    T("doorstep", DLV), T("dhl", DLV), T("fedex", DLV), T("usps", DLV), T("ems", DLV),
    T("receiv*", DLV),
    T("shipping cost", DLV | PRC), T("shipping costs", DLV | PRC), T("shipping fee", DLV | PRC),
    T("shipping fees", DLV | PRC), T("delivery fee", DLV | PRC), T("delivery charge", DLV | PRC),
    W("free shipping", 15, DLV | PRC), W("free delivery", 15, DLV | PRC),
    W("on time", 15, DLV), W("on schedule", 15, DLV), W("ahead of schedule", 25, DLV),
    W("delay", -20, DLV), W("delayed", -20, DLV), W("delays", -20, DLV),
    W("wrong item", -25, DLV), W("wrong address", -25, DLV), W("never arrived", -35, DLV),
    W("never came", -30, DLV), W("hasn't arrived", -30, DLV), W("has not arrived", -30, DLV),
    W("didn't arrive", -30, DLV), W("did not arrive", -30, DLV), W("not arrived", -30, DLV),
    W("not delivered", -30, DLV), W("never delivered", -35, DLV),
    W("never received", -35, DLV), W("not received", -30, DLV),
    W("didn't receive", -30, DLV), W("did not receive", -30, DLV),
    W("haven't received", -30, DLV), W("have not received", -30, DLV),

    /* --- Price. */
    T("price", PRC), T("prices", PRC), T("priced", PRC), T("pricing", PRC), T("cost", PRC),
    T("costs", PRC), T("value", PRC), T("value for money", PRC), T("deal", PRC),
    T("deals", PRC), KEEP("deal with"), KEEP("dealt with"), T("discount*", PRC),
    T("coupon*", PRC), T("promo*", PRC), T("sale", PRC), T("on sale", PRC), T("afford", PRC),
    T("billing", PRC), T("billed", PRC), T("charge", PRC), T("charged", PRC), T("fee", PRC),
    T("fees", PRC), T("budget", PRC), T("money back", RET), KEEP("in charge"),
    W("worth", 15, PRC), W("worth it", 20, PRC), W("worth every penny", 35, PRC),
    W("worth the money", 20, PRC), W("affordable", 20, PRC), W("unaffordable", -25, PRC),
    W("reasonable", 15, 0), W("reasonably priced", 20, PRC), W("bargain", 25, PRC),
    W("cheap", 5, PRC), W("cheaper", 5, PRC), W("overpriced", -30, PRC),
    W("expensive", -20, PRC), W("pricey", -15, PRC), W("costly", -15, PRC),
    W("overcharg*", -30, PRC), W("charged twice", -25, PRC), W("double charged", -25, PRC),
    W("hidden fees", -25, PRC), W("waste of money", -35, PRC), W("rip off", -35, PRC),
    W("ripoff", -35, PRC),

    /* --- Quality. */
    T("quality", QLT), T("material", QLT), T("materials", QLT), T("fabric", QLT),
    T("stitching", QLT), T("durability", QLT), T("craftsmanship", QLT),
    T("workmanship", QLT), T("battery", QLT), T("product", QLT), T("products", QLT),
    W("top quality", 30, QLT), W("high quality", 25, QLT), W("well made", 25, QLT),
    W("well built", 25, QLT), W("works perfectly", 30, QLT), W("works great", 30, QLT), W("sturdy", 20, QLT), W("durable", 25, QLT),
    W("comfortable", 20, QLT), W("comfy", 20, QLT), W("genuine", 15, QLT),
    W("authentic", 15, QLT), W("fresh", 15, QLT), W("tasty", 20, QLT),
    W("delicious", 25, QLT), W("as described", 15, QLT), W("as advertised", 15, QLT),
    W("as pictured", 15, QLT), W("not as described", -25, QLT),
    W("broke", -30, QLT), W("broken", -30, QLT), W("breaks", -25, QLT),
    W("broke down", -30, QLT), W("defect*", -30, QLT), W("faulty", -30, QLT),
    W("flimsy", -25, QLT), W("cracked", -25, QLT), W("crack", -20, QLT), W("cracks", -20, QLT),
    W("scratched", -20, QLT), W("scratches", -20, QLT), W("leak*", -25, QLT),
    W("stained", -15, QLT), W("stains", -15, QLT), W("rusty", -25, QLT), W("rusted", -25, QLT),
    W("fake", -35, QLT), W("counterfeit", -35, QLT), W("knockoff", -30, QLT),
    W("cheaply made", -30, QLT), W("poorly made", -30, QLT), W("badly made", -30, QLT),
    W("low quality", -25, QLT), W("feels cheap", -25, QLT), W("looks cheap", -20, QLT),
    W("cheap plastic", -25, QLT), W("fell apart", -30, QLT), W("falling apart", -30, QLT),
    W("stopped working", -30, QLT), W("not working", -25, QLT), W("doesn't work", -25, QLT),
    W("don't work", -25, QLT), W("didn't work", -25, QLT), W("does not work", -25, QLT),
    W("do not work", -25, QLT), W("did not work", -25, QLT), W("won't turn on", -30, QLT),
    W("dead on arrival", -35, QLT), W("expired", -30, QLT), W("stale", -20, QLT),
    W("uncomfortable", -20, QLT), W("too small", -15, QLT), W("too big", -15, QLT),
    W("doesn't fit", -15, QLT), W("didn't fit", -15, QLT),

    /* --- Staff. */
    T("staff", STF), T("cashier", STF), T("cashiers", STF), T("salesperson", STF),
    T("salespeople", STF), T("salesman", STF), T("saleswoman", STF),
    T("sales assistant", STF), T("sales assistants", STF), T("shop assistant", STF),
    T("shop assistants", STF), T("store assistant", STF), T("assistant", STF),
    T("assistants", STF), T("employee", STF), T("employees", STF), T("clerk", STF),
    T("clerks", STF), T("waiter", STF), T("waiters", STF), T("waitress", STF),
    T("manager", STF), T("sales rep", STF), T("personnel", STF), T("counter", STF),
    W("friendly", 20, STF), W("polite", 20, STF), W("politely", 20, STF),
    W("courteous", 20, STF), W("knowledgeable", 20, STF), W("welcoming", 20, STF),
    W("cheerful", 20, STF), W("attentive", 20, STF), W("smile", 15, STF),
    W("smiled", 15, STF), W("smiling", 15, STF), W("greeted", 15, STF),
    W("rude", -30, STF), W("rudely", -30, STF), W("rudeness", -30, STF),
    W("unfriendly", -25, STF), W("impolite", -25, STF), W("arrogant", -25, STF),
    W("pushy", -20, STF), W("unprofessional", -30, STF), W("dismissive", -25, STF),
    W("yelled", -30, STF), W("shouted", -30, STF),

    /* --- Customer service. */
    T("service", SVC), T("customer service", SVC), T("after sales", SVC), T("after sale", SVC), T("customer care", SVC),
    T("customer support", SVC), T("support", SVC), T("hotline", SVC), T("helpdesk", SVC),
    T("help desk", SVC), T("call center", SVC), T("call centre", SVC), T("agent", SVC),
    T("agents", SVC), T("representative", SVC), T("representatives", SVC), T("rep", SVC),
    T("reps", SVC), T("live chat", SVC), T("chat", SVC), T("chatbot", SVC), T("ticket", SVC),
    T("email", SVC), T("emails", SVC), T("emailed", SVC), T("e mail", SVC),
    T("phone call", SVC), T("on the phone", SVC), T("reply", SVC), T("replied", SVC),
    T("replies", SVC), T("response", SVC), T("responses", SVC), T("respond", SVC),
    T("responded", SVC), T("answer", SVC), T("answered", SVC), T("follow up", SVC),
    W("responsive", 20, SVC), W("unresponsive", -25, SVC), W("resolved", 15, SVC),
    W("solved", 15, SVC), W("unresolved", -25, SVC), W("on hold", -20, SVC),
    W("hung up", -25, SVC), W("no reply", -25, SVC), W("no response", -25, SVC),
    W("no answer", -20, SVC), W("never answered", -25, SVC), W("never replied", -25, SVC),
    W("never responded", -25, SVC), W("runaround", -25, SVC), W("no help", -25, 0),

    /* --- Packaging. */
    T("packaging", PKG), T("packed", PKG), T("packaged", PKG), T("box", PKG), T("boxes", PKG), T("boxed", PKG),
    T("wrapping", PKG), T("wrapped", PKG), T("bubble wrap", PKG), T("padding", PKG),
    T("sealed", PKG), T("seal", PKG), T("gift wrap", PKG),
    W("well packed", 20, PKG), W("well packaged", 20, PKG), W("securely packed", 20, PKG),
    W("poorly packed", -25, PKG), W("crushed", -25, PKG), W("dented", -20, PKG),

    /* --- Returns. */
    T("return", RET), T("returns", RET), T("returned", RET), T("returning", RET),
    T("refund*", RET), T("exchang*", RET), T("send it back", RET), T("sent it back", RET),
    T("send back", RET), T("sent back", RET), T("store credit", RET), T("replacement", RET),
    T("replacements", RET), T("replaced", RET), T("rma", RET),
    W("free returns", 15, RET), W("no refund", -25, RET), W("restocking fee", -20, RET | PRC),

    /* --- Website and app. */
    T("website", WEB), T("websites", WEB), T("web site", WEB), T("site", WEB), T("app", WEB),
    T("apps", WEB), T("checkout", WEB), T("login", WEB), T("log in", WEB), T("sign in", WEB),
    T("sign up", WEB), T("password", WEB), T("account", WEB), T("page", WEB), T("pages", WEB),
    T("cart", WEB), T("shopping cart", WEB), T("interface", WEB), T("ui", WEB),
    T("online store", WEB), T("online shop", WEB), T("payment", WEB), T("payments", WEB),
    W("user friendly", 20, WEB), W("crash*", -25, WEB), W("freezes", -20, WEB),
    W("froze", -20, WEB), W("keeps freezing", -20, WEB), W("buggy", -25, WEB),
    W("bug", -15, WEB), W("bugs", -15, WEB), W("glitch*", -20, WEB), W("error", -15, WEB),
    W("errors", -15, WEB), W("timed out", -20, WEB), W("won't load", -25, WEB),
    W("doesn't load", -25, WEB), W("not loading", -25, WEB), W("can't log in", -25, WEB),
    W("cannot log in", -25, WEB), W("can't login", -25, WEB), W("couldn't log in", -25, WEB),
    W("clunky", -20, WEB),
};

static const feedback_lex_entry_t s_chinese[] = {
    /* --- Negators. */
    NEG("不"), NEG("没"), NEG("没有"), NEG("别"), NEG("无"), NEG("未"), NEG("并不"),
    NEG("并没有"), NEG("从不"), NEG("从没"), NEG("从来没有"), NEG("毫无"), NEG("不是"),
    NEG("没什么"), NEG("不怎么"), NEG("不够"), NEG("不算"),

    /* --- Intensifiers and downtoners. */
    INT("很", 130), INT("非常", 160), INT("特别", 150), INT("超级", 160), INT("超", 150),
    INT("太", 150), INT("真", 130), INT("真的", 130), INT("真是", 130), INT("挺", 120),
    INT("蛮", 120), INT("十分", 150), INT("极其", 180), INT("极", 150), INT("巨", 150),
    INT("最", 140), INT("更", 120), INT("更加", 130), INT("比较", 90), INT("有点", 70),
    INT("有点儿", 70), INT("有些", 70), INT("稍微", 60), INT("稍", 70), INT("略", 70),
    INT("略微", 60), INT("相当", 150), INT("实在", 140), INT("简直", 160), INT("完全", 150),
    INT("根本", 150), INT("严重", 150), INT("贼", 140), INT("绝对", 140), INT("过于", 150),
    INT("越来越", 120), INT("无敌", 160), INT("无比", 150),

    /* --- Contrast and concession. */
    BUT("但是"), BUT("但"), BUT("不过"), BUT("可是"), BUT("然而"), BUT("只是"), BUT("却"),
    BUT("就是"),
    THO("虽然"), THO("虽说"), THO("尽管"), THO("虽"),

    /* --- Blockers: common words holding a shorter entry that would read wrong. */
    KEEP("好像"), KEEP("好多"), KEEP("好几"), KEEP("不好意思"), KEEP("差不多"), KEEP("出差"),
    KEEP("差点"), KEEP("不但"), KEEP("不仅"), KEEP("不管"), KEEP("不知道"), KEEP("没想到"),
    KEEP("尽快"), KEEP("超市"), KEEP("超过"), KEEP("但愿"), KEEP("不少"), KEEP("贵宾"),
    KEEP("无线"), KEEP("不然"), KEEP("别人"), KEEP("别的"), KEEP("特别是"), KEEP("好吧"),
    KEEP("未来"), KEEP("最后"), KEEP("最近"), KEEP("更新"), KEEP("慢慢"), KEEP("快要"),
    KEEP("宝贵"), KEEP("一般来说"), KEEP("一般都"), KEEP("无论"), KEEP("无所谓"), KEEP("无限"),

    /* --- General positive. */
    W("好", 15, 0), W("不错", 25, 0), W("满意", 25, 0), W("喜欢", 25, 0), W("推荐", 20, 0),
    W("值得", 20, 0), W("赞", 25, 0), W("点赞", 25, 0), W("棒", 30, 0), W("完美", 35, 0),
    W("优秀", 30, 0), W("一流", 30, 0), W("给力", 30, 0), W("靠谱", 25, 0), W("放心", 20, 0),
    W("省心", 20, 0), W("贴心", 25, 0), W("周到", 25, 0), W("耐心", 25, 0), W("细心", 20, 0),
    W("友好", 20, 0), W("专业", 20, 0), W("及时", 20, 0), W("迅速", 20, 0), W("快", 15, 0),
    W("高效", 20, 0), W("顺利", 15, 0), W("方便", 20, 0), W("流畅", 20, 0), W("简单", 10, 0),
    W("惊喜", 25, 0), W("感谢", 15, 0), W("谢谢", 15, 0), W("开心", 25, 0), W("高兴", 25, 0),
    W("快乐", 20, 0), W("愉快", 20, 0), W("快速", 15, 0), W("快捷", 15, 0), W("合理", 15, 0),
    W("完好", 15, 0), W("完好无损", 25, 0), W("用心", 20, 0), W("认真", 15, 0),
    W("负责", 20, 0), W("回购", 25, 0), W("还会再来", 30, 0), W("下次还来", 30, 0),
    W("还会再买", 30, 0), W("下次还买", 30, 0), W("一如既往", 15, 0), W("没问题", 15, 0),
    W("没有问题", 15, 0), W("没毛病", 20, 0), W("可以", 5, 0), W("还可以", 8, 0),
    W("还行", 8, 0), W("还好", 8, 0), W("正好", 10, 0), W("刚好", 10, 0), W("好的", 5, 0),
    W("好评", 30, 0), W("五星", 30, 0), W("满分", 30, 0), W("效率高", 20, 0),
    W("只好", -5, 0), W("积极", 15, 0), W("无忧", 15, 0),
    W("超出预期", 25, 0), W("超乎想象", 25, 0), W("超出想象", 25, 0), W("比想象中好", 25, 0),

    /* --- General negative. */
    W("差", -25, 0), W("差劲", -30, 0), W("垃圾", -35, 0), W("烂", -25, 0), W("糟糕", -30, 0),
    W("失望", -30, 0), W("后悔", -30, 0), W("生气", -25, 0), W("气愤", -30, 0),
    W("愤怒", -30, 0), W("无语", -20, 0), W("郁闷", -20, 0), W("坑", -25, 0), W("坑人", -30, 0),
    W("坑爹", -30, 0), W("骗", -30, 0), W("骗人", -35, 0), W("骗子", -35, 0), W("欺骗", -35, 0),
    W("忽悠", -25, 0), W("恶心", -30, 0), W("差评", -35, 0), W("中评", -10, 0),
    W("一星", -30, 0), W("慢", -20, 0), W("迟迟", -15, 0), W("拖延", -20, 0),
    W("一拖再拖", -25, 0), W("丢失", -25, 0), W("丢了", -20, 0), W("暴力", -25, 0),
    W("偏高", -15, 0), W("一般", -8, 0), W("一般般", -10, 0), W("凑合", -8, 0),
    W("马马虎虎", -10, 0), W("有问题", -20, 0), W("出问题", -25, 0), W("出了问题", -25, 0),
    W("问题", -5, 0), W("毛病", -15, 0), W("缺点", -15, 0), W("不足", -15, 0),
    W("美中不足", -10, 0), W("可惜", -15, 0), W("遗憾", -20, 0), W("麻烦", -15, 0),
    W("费劲", -15, 0), W("难受", -20, 0), W("冷漠", -25, 0), W("冷淡", -25, 0),
    W("爱答不理", -30, 0), W("爱理不理", -30, 0), W("不理", -20, 0), W("没人理", -30, 0),
    W("没人管", -30, 0), W("不耐烦", -30, 0), W("恶劣", -30, 0), W("投诉", -25, 0),
    W("拒绝", -20, 0), W("失败", -15, 0), W("错误", -15, 0), W("无法", -15, 0),
    W("没法", -15, 0), W("不符", -20, 0), W("担心", -10, 0), W("不得不", -10, 0),
    W("等了很久", -20, 0), W("好久", -15, 0), W("快点", -10, 0), W("不行", -25, 0),
    W("破损", -25, 0), W("损坏", -25, 0), W("破了", -25, 0), W("再也不", -30, 0),
    W("不会再买", -35, 0), W("别买", -30, 0), W("无聊", -15, 0), W("无奈", -15, 0),
    W("不怎么样", -20, 0), W("没有想象中好", -20, 0), W("没有想象的好", -20, 0),
    W("没想象中好", -20, 0), W("不如想象", -20, 0), W("不如预期", -20, 0), W("低于预期", -20, 0), W("再也不买", -35, 0), W("再也不来", -35, 0),

    /* --- Delivery. */
    T("快递", DLV), T("物流", DLV), T("发货", DLV), T("送货", DLV), T("配送", DLV),
    T("到货", DLV), T("送达", DLV), T("派送", DLV), T("派件", DLV), T("签收", DLV),
    T("快递员", DLV), T("快递小哥", DLV), T("送货员", DLV), T("骑手", DLV), T("运输", DLV),
    T("邮寄", DLV), T("包裹", DLV), T("顺丰", DLV), T("中通", DLV), T("圆通", DLV),
    T("韵达", DLV), T("申通", DLV), T("邮政", DLV), T("驿站", DLV), T("取件", DLV),
    T("送到", DLV), T("送来", DLV), T("收到货", DLV), T("收货", DLV),
    T("运费", PRC), T("邮费", PRC), W("包邮", 10, DLV | PRC),
    W("准时", 20, DLV), W("神速", 25, DLV), W("送货上门", 10, DLV), W("次日达", 20, DLV),
    W("当天到", 20, DLV), W("第二天就到", 25, DLV), W("就到了", 15, DLV),
    W("就收到", 15, DLV), W("延迟", -20, DLV), W("延误", -20, DLV), W("晚到", -20, DLV),
    W("才到", -15, DLV), W("才收到", -15, DLV), W("还没到", -20, DLV),
    W("没收到", -25, DLV), W("没有收到", -25, DLV), W("还没收到", -25, DLV), W("未收到", -25, DLV),
    W("没发货", -25, DLV), W("不发货", -25, DLV), W("还没发货", -25, DLV),
    W("丢件", -30, DLV), W("发错", -25, DLV), W("寄错", -25, DLV), W("送错", -25, DLV),
    W("少发", -25, DLV), W("漏发", -25, DLV),

    /* --- Price. */
    T("价格", PRC), T("价钱", PRC), T("价位", PRC), T("售价", PRC), T("这个价", PRC),
    T("差价", PRC), T("折扣", PRC), T("打折", PRC), T("优惠券", PRC), T("满减", PRC),
    T("活动价", PRC), T("性价比", PRC), T("收费", PRC),
    W("超值", 30, PRC), W("实惠", 20, PRC), W("划算", 25, PRC), W("便宜", 10, PRC),
    W("物美价廉", 35, PRC | QLT), W("物有所值", 30, PRC), W("物超所值", 35, PRC),
    W("公道", 15, PRC), W("优惠", 10, PRC), W("值这个价", 25, PRC), W("对得起这个价", 25, PRC),
    W("性价比高", 30, PRC), W("性价比很高", 30, PRC), W("性价比超高", 35, PRC),
    W("性价比非常高", 35, PRC), W("性价比挺高", 25, PRC), W("性价比不高", -20, PRC),
    W("性价比低", -25, PRC), W("性价比很低", -25, PRC), W("性价比太低", -30, PRC),
    W("贵", -20, PRC), W("好贵", -25, PRC), W("偏贵", -20, PRC), W("小贵", -10, PRC),
    W("价格偏高", -20, PRC), W("价格太高", -30, PRC), W("不值", -25, PRC),
    W("坑钱", -30, PRC), W("浪费钱", -30, PRC), W("乱收费", -30, PRC), W("多收", -25, PRC),
    W("涨价", -15, PRC), W("降价", -10, PRC),

    /* --- Quality. */
    T("质量", QLT), T("品质", QLT), T("做工", QLT), T("材质", QLT), T("面料", QLT),
    T("用料", QLT), T("手感", QLT), T("质感", QLT), T("尺码", QLT), T("效果", QLT), T("东西", QLT), T("商品", QLT),
    T("产品", QLT), T("宝贝", QLT),
    W("耐用", 25, QLT), W("结实", 20, QLT), W("牢固", 20, QLT), W("精致", 25, QLT),
    W("精美", 25, 0), W("漂亮", 20, QLT), W("好看", 20, QLT), W("美观", 20, QLT),
    W("舒服", 20, QLT), W("舒适", 20, QLT), W("合身", 15, QLT), W("正品", 20, QLT),
    W("新鲜", 20, QLT), W("好吃", 25, QLT), W("美味", 25, QLT), W("清晰", 15, QLT),
    W("好用", 25, QLT), W("实用", 20, QLT), W("耐穿", 20, QLT), W("图片一样", 15, QLT),
    W("描述一致", 20, QLT),
    W("坏", -25, QLT), W("坏了", -30, QLT), W("坏掉", -30, QLT), W("就坏", -30, QLT),
    W("碎了", -25, QLT), W("裂了", -25, QLT), W("开裂", -25, QLT), W("裂开", -25, QLT),
    W("瑕疵", -20, QLT), W("划痕", -20, QLT), W("掉色", -25, QLT), W("褪色", -25, QLT),
    W("起球", -25, QLT), W("开线", -20, QLT), W("脱线", -20, QLT), W("开胶", -25, QLT),
    W("变形", -20, QLT), W("异味", -20, QLT), W("有味道", -15, QLT), W("色差", -15, QLT),
    W("粗糙", -25, QLT), W("劣质", -30, QLT), W("次品", -30, QLT), W("残次品", -30, QLT),
    W("假货", -35, QLT), W("假的", -30, QLT), W("仿品", -30, QLT), W("山寨", -30, QLT),
    W("故障", -25, QLT), W("不能用", -30, QLT), W("用不了", -30, QLT), W("没法用", -30, QLT),
    W("难用", -25, QLT), W("过期", -30, QLT), W("变质", -30, QLT), W("发霉", -30, QLT),
    W("缩水", -20, QLT), W("偏小", -10, QLT), W("偏大", -10, QLT), W("描述不符", -25, QLT),
    W("货不对板", -30, QLT), W("图片不符", -25, QLT), W("图片不一样", -25, QLT),
    W("质量问题", -25, QLT), W("难看", -20, QLT), W("丑", -20, QLT),

    /* --- Staff. */
    T("店员", STF), T("服务员", STF), T("导购", STF), T("收银员", STF), T("收银", STF),
    T("营业员", STF), T("售货员", STF), T("销售", STF), T("工作人员", STF), T("员工", STF),
    T("店长", STF), T("柜员", STF), T("柜姐", STF), T("小姐姐", STF), T("老板", STF),
    T("经理", STF), T("保安", STF),
    W("热情", 25, STF), W("礼貌", 20, STF), W("和蔼", 20, STF), W("亲切", 20, STF),
    W("微笑", 15, STF), W("凶", -20, STF), W("甩脸色", -30, STF), W("脸色", -10, STF),
    W("骂人", -35, STF), W("吼", -20, STF), W("翻白眼", -30, STF), W("玩手机", -15, STF),

    /* --- Customer service. */
    T("客服", SVC), T("售后", SVC), T("服务", SVC), T("热线", SVC), T("电话", SVC),
    T("回复", SVC), T("回应", SVC), T("答复", SVC), T("回答", SVC), T("处理", SVC),
    T("咨询", SVC), T("解答", SVC),
    W("解决", 15, SVC), W("敷衍", -30, SVC), W("推脱", -25, SVC), W("推诿", -25, SVC),
    W("踢皮球", -30, SVC), W("机器人", -10, SVC), W("打不通", -25, SVC), W("联系不上", -25, SVC), W("没人接", -25, SVC),
    W("无人接听", -25, SVC), W("不回复", -25, SVC), W("没回复", -25, SVC),
    W("没有回复", -25, SVC), W("不回", -20, SVC), W("没人回复", -25, SVC),
    W("没人处理", -30, SVC), W("不处理", -25, SVC),
    W("没处理", -20, SVC), W("未处理", -20, SVC),

    /* --- Packaging. */
    T("包装", PKG), T("外包装", PKG), T("包装盒", PKG), T("盒子", PKG), T("纸箱", PKG),
    T("箱子", PKG), T("泡沫", PKG), T("气泡膜", PKG), T("塑料袋", PKG), T("袋子", PKG),
    T("封口", PKG), T("防震", PKG),
    W("严实", 20, PKG), W("简陋", -20, PKG), W("压坏", -30, PKG), W("压扁", -25, PKG),
    W("挤压", -15, PKG),

    /* --- Returns. */
    T("退货", RET), T("退款", RET), T("换货", RET), T("退换", RET), T("退换货", RET),
    T("退钱", RET), T("退回", RET), T("退了", RET), T("退掉", RET), T("七天无理由", RET),
    T("无理由", RET), T("换新", RET), T("换了", RET), T("给换", RET),
    W("到账", 10, RET), W("没到账", -20, RET), W("还没到账", -20, RET), T("更换", RET), W("拒绝退款", -30, RET), W("不给退", -30, RET),
    W("不给退款", -30, RET), W("不让退", -30, RET), W("不能退", -25, RET),
    W("退不了", -30, RET), W("不给换", -25, RET),

    /* --- Website and app. */
    T("网站", WEB), T("官网", WEB), T("网页", WEB), T("页面", WEB), T("小程序", WEB),
    T("客户端", WEB), T("软件", WEB), T("系统", WEB), T("登录", WEB), T("登陆", WEB),
    T("注册", WEB), T("账号", WEB), T("账户", WEB), T("密码", WEB), T("验证码", WEB),
    T("购物车", WEB), T("结算", WEB), T("界面", WEB),
    W("闪退", -30, WEB), W("卡顿", -20, WEB), W("卡死", -25, WEB), W("很卡", -20, WEB),
    W("好卡", -20, WEB), W("太卡", -25, WEB), W("卡住", -20, WEB), W("卡了", -15, WEB),
    W("一直卡", -20, WEB), W("崩溃", -30, WEB), W("打不开", -25, WEB),
    W("登录不了", -25, WEB), W("登不上", -25, WEB), W("登陆不了", -25, WEB),
    W("进不去", -25, WEB), W("白屏", -25, WEB), W("报错", -20, WEB),
    W("加载不出来", -25, WEB), W("付款失败", -25, WEB), W("支付失败", -25, WEB),

    /* --- Emoji. */
    W("👍", 20, 0), W("👎", -20, 0), W("😡", -30, 0), W("😠", -25, 0), W("😤", -20, 0),
    W("😞", -20, 0), W("😢", -20, 0), W("😭", -20, 0), W("💩", -30, 0), W("🤬", -35, 0),
    W("😒", -15, 0), W("🙁", -15, 0), W("☹", -15, 0), W("😊", 15, 0), W("😄", 20, 0),
    W("😍", 30, 0), W("🥰", 30, 0), W("❤", 20, 0), W("🙂", 10, 0), W("👌", 15, 0),
};

const feedback_lex_entry_t *feedback_lexicon_table(feedback_lex_table_t table, size_t *count)
{
    assert(count);
    switch (table) {
    case FEEDBACK_LEX_ENGLISH:
        *count = sizeof s_english / sizeof s_english[0];
        return s_english;
    case FEEDBACK_LEX_CHINESE:
        *count = sizeof s_chinese / sizeof s_chinese[0];
        return s_chinese;
    case FEEDBACK_LEX_TABLE_COUNT:
        break;
    }
    assert(!"feedback_lexicon_table: no such table");
    *count = 0;
    return s_english;
}

static bool s_is_alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* What a space in a pattern stands for: a run of these. */
static bool s_is_gap(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '-';
}

static unsigned char s_lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char) (c - 'A' + 'a') : c;
}

#define S_RIGHT_QUOTE "\xe2\x80\x99"   /* U+2019, the typographic apostrophe */
#define S_RIGHT_QUOTE_LEN 3

size_t feedback_lexicon_match(const char *pattern, const char *text, size_t len, size_t pos)
{
    assert(pattern && pattern[0]);
    assert(pos <= len && (text || len == 0));
    const unsigned char *p = (const unsigned char *) pattern;
    const unsigned char *t = (const unsigned char *) text;
    size_t i = pos;

    if (s_is_alnum(p[0]) && pos > 0 && s_is_alnum(t[pos - 1]))
        return 0;                                   /* inside a word */
    for (; *p; p++) {
        if (*p == '*') {                            /* the rest of the word */
            while (i < len && s_is_alnum(t[i]))
                i++;
            return i - pos;
        }
        if (*p == ' ') {
            size_t start = i;
            while (i < len && s_is_gap(t[i]))
                i++;
            if (i == start)
                return 0;
            continue;
        }
        if (*p == '\'') {                           /* optional apostrophe */
            if (i < len && t[i] == '\'')
                i++;
            else if (len - i >= S_RIGHT_QUOTE_LEN && memcmp(t + i, S_RIGHT_QUOTE, S_RIGHT_QUOTE_LEN) == 0)
                i += S_RIGHT_QUOTE_LEN;
            continue;
        }
        if (i >= len || s_lower(t[i]) != *p)
            return 0;
        i++;
    }
    if (s_is_alnum(p[-1]) && i < len && s_is_alnum(t[i]))
        return 0;                                   /* the word goes on */
    return i - pos;
}
