/* feedback_sentiment.c: sentiment score and topics of a comment, by longest-match scanning of the lexicons. */
/*
 * The comment is read once, left to right. At each position the longest lexicon entry that
 * matches is taken (English entries only at word boundaries, Chinese ones anywhere); where none
 * matches, one English word or one Chinese character is skipped as a plain token. A small state
 * carries what the words before say about the next sentiment word:
 * - a negator flips it if it comes within FEEDBACK_NEGATION_WINDOW tokens ("not good", "不满意";
 *   two negators cancel: "没有不满意"), and intensifiers in between are dropped ("not very good",
 *   "不太好" are plainly negative); intensifiers before the negator still count ("非常不满意");
 * - intensifiers multiply its weight, within FEEDBACK_INTENSIFIER_WINDOW tokens;
 * - inside an "although" clause it weighs FEEDBACK_CONCESSIVE_PCT;
 * - after a contrast word everything weighs FEEDBACK_CONTRAST_AFTER_PCT, and the sum so far is cut
 *   to FEEDBACK_CONTRAST_BEFORE_PCT ("good, but slow" is negative, "slow, but good" positive).
 * Clause punctuation (, . ; : ! ? and their full-width forms, line breaks) ends negation,
 * intensifiers and concession. The score is the sum of the weights, in score points, rounded and
 * clamped to +-FEEDBACK_SCORE_MAX. Topics are the union of the topics of every entry found.
 */
#include "feedback_sentiment.h"

#include <assert.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "crm_error.h"
#include "feedback_lexicon.h"

#define S_PCT   100            /* a scale of 100 percent: unchanged */
#define S_CENTI 100            /* sums are kept in hundredths of a score point */
#define S_ASCII_MAX 0x7f

typedef struct {
    long long raw;             /* the score so far, in hundredths of a point */
    unsigned topics;
    int negate_left;           /* tokens in which the next sentiment word is flipped; 0: none */
    int scale_pct;             /* intensifiers waiting for the next sentiment word */
    int scale_left;            /* tokens in which they apply; 0: none */
    bool concessive;           /* inside an "although" clause */
    int after_pct;             /* weight of everything after a contrast word */
} s_state_t;

/* Returns the length of the well-formed UTF-8 sequence at s (avail bytes left), 0 if it is not
 * one (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF). */
static size_t s_utf8_length(const unsigned char *s, size_t avail)
{
    unsigned char c = s[0];
    unsigned char lo = 0x80, hi = 0xbf;            /* range of the second byte */
    size_t n;
    if (c <= S_ASCII_MAX)
        return 1;
    if (c < 0xc2)
        return 0;                                  /* continuation byte or overlong lead */
    if (c < 0xe0)
        n = 2;
    else if (c < 0xf0) {
        n = 3;
        if (c == 0xe0)
            lo = 0xa0;                             /* overlong */
        else if (c == 0xed)
            hi = 0x9f;                             /* surrogates */
    } else if (c < 0xf5) {
        n = 4;
        if (c == 0xf0)
            lo = 0x90;                             /* overlong */
        else if (c == 0xf4)
            hi = 0x8f;                             /* above U+10FFFF */
    } else
        return 0;
    if (avail < n || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return n;
}

static bool s_utf8_valid(const unsigned char *s, size_t len)
{
    for (size_t i = 0; i < len;) {
        size_t n = s_utf8_length(s + i, len - i);
        if (n == 0)
            return false;
        i += n;
    }
    return true;
}

/* The code point of a well-formed sequence of n bytes. */
static uint32_t s_utf8_decode(const unsigned char *s, size_t n)
{
    static const unsigned char lead_mask[] = { 0, 0x7f, 0x1f, 0x0f, 0x07 };
    assert(n >= 1 && n <= 4);
    uint32_t cp = s[0] & lead_mask[n];
    for (size_t i = 1; i < n; i++)
        cp = (cp << 6) | (s[i] & 0x3f);
    return cp;
}

static bool s_is_alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* Punctuation that ends a clause: ends negation, intensifiers and concession. */
static bool s_is_clause_end(uint32_t cp)
{
    switch (cp) {
    case '.': case ',': case ';': case ':': case '!': case '?': case '\n': case '\r': case '~':
    case 0x3002:               /* 。 */
    case 0xff0c:               /* ， */
    case 0xff1b:               /* ； */
    case 0xff1a:               /* ： */
    case 0xff01:               /* ！ */
    case 0xff1f:               /* ？ */
    case 0xff5e:               /* ～ */
    case 0x2026:               /* … */
        return true;
    default:
        return false;
    }
}

/* Code points that are no token at all: spaces and invisible joiners/selectors of emoji. */
static bool s_is_ignorable(uint32_t cp)
{
    return cp == 0x3000 || cp == 0x00a0 || cp == 0x200b || cp == 0x200d
           || (cp >= 0xfe00 && cp <= 0xfe0f);
}

static void s_clause_end(s_state_t *st)
{
    st->negate_left = 0;
    st->scale_left = 0;
    st->scale_pct = S_PCT;
    st->concessive = false;
}

/* A word that is no sentiment word: the windows of negators and intensifiers shrink. */
static void s_token(s_state_t *st)
{
    if (st->negate_left > 0)
        st->negate_left--;
    if (st->scale_left > 0 && --st->scale_left == 0)
        st->scale_pct = S_PCT;
}

static void s_sentiment(s_state_t *st, int weight)
{
    long long v = (long long) weight * S_CENTI;
    if (st->scale_left > 0)
        v = v * st->scale_pct / S_PCT;
    if (st->negate_left > 0)
        v = -v * (weight > 0 ? FEEDBACK_NEGATED_POSITIVE_PCT : FEEDBACK_NEGATED_NEGATIVE_PCT) / S_PCT;
    if (st->concessive)
        v = v * FEEDBACK_CONCESSIVE_PCT / S_PCT;
    v = v * st->after_pct / S_PCT;
    st->raw += v;
    st->negate_left = 0;
    st->scale_left = 0;
    st->scale_pct = S_PCT;
}

static void s_apply(s_state_t *st, const feedback_lex_entry_t *e)
{
    switch (e->kind) {
    case FEEDBACK_LEX_WORD:
        st->topics |= e->topics;
        if (e->value != 0)
            s_sentiment(st, e->value);
        else
            s_token(st);
        break;
    case FEEDBACK_LEX_NEGATOR:
        /* A second negator in the window cancels the first ("没有不满意"). */
        st->negate_left = st->negate_left > 0 ? 0 : FEEDBACK_NEGATION_WINDOW;
        break;
    case FEEDBACK_LEX_INTENSIFIER:
        if (st->negate_left > 0)
            break;                                  /* "not very good": dropped */
        if (st->scale_left > 0) {
            long long pct = (long long) st->scale_pct * e->value / S_PCT;
            st->scale_pct = pct > FEEDBACK_SCALE_CAP_PCT ? FEEDBACK_SCALE_CAP_PCT : (int) pct;
        } else
            st->scale_pct = e->value;
        st->scale_left = FEEDBACK_INTENSIFIER_WINDOW;
        break;
    case FEEDBACK_LEX_CONTRAST:
        st->raw = st->raw * FEEDBACK_CONTRAST_BEFORE_PCT / S_PCT;
        st->after_pct = FEEDBACK_CONTRAST_AFTER_PCT;
        s_clause_end(st);
        break;
    case FEEDBACK_LEX_CONCESSIVE:
        s_clause_end(st);
        st->concessive = true;
        break;
    }
}

/* The longest entry matching at text[pos], from the table for the byte there; NULL if none. */
static const feedback_lex_entry_t *s_longest(const char *text, size_t len, size_t pos, size_t *match_len)
{
    unsigned char c = (unsigned char) text[pos];
    unsigned char first = (c >= 'A' && c <= 'Z') ? (unsigned char) (c - 'A' + 'a') : c;
    size_t count;
    const feedback_lex_entry_t *table =
        feedback_lexicon_table(c <= S_ASCII_MAX ? FEEDBACK_LEX_ENGLISH : FEEDBACK_LEX_CHINESE, &count);
    const feedback_lex_entry_t *best = NULL;
    size_t best_len = 0;
    for (size_t i = 0; i < count; i++) {
        if ((unsigned char) table[i].text[0] != first)
            continue;
        size_t n = feedback_lexicon_match(table[i].text, text, len, pos);
        if (n > best_len) {
            best = &table[i];
            best_len = n;
        }
    }
    *match_len = best_len;
    return best;
}

/* Skips one English word (letters, digits, inner apostrophes) at text[pos]; returns the end. */
static size_t s_skip_word(const char *text, size_t len, size_t pos)
{
    while (pos < len) {
        unsigned char c = (unsigned char) text[pos];
        if (s_is_alnum(c))
            pos++;
        else if (c == '\'' && pos + 1 < len && s_is_alnum((unsigned char) text[pos + 1]))
            pos++;
        else
            break;
    }
    return pos;
}

int feedback_sentiment_analyze(const char *text, size_t len, feedback_sentiment_t *out)
{
    assert(out);
    memset(out, 0, sizeof *out);
    if ((!text && len > 0) || len > FEEDBACK_TEXT_MAX)
        return CRM_EINVALID;
    if (len == 0)
        return 0;
    const unsigned char *u = (const unsigned char *) text;
    if (!s_utf8_valid(u, len))
        return CRM_EINVALID;

    s_state_t st = { .scale_pct = S_PCT, .after_pct = S_PCT };
    for (size_t pos = 0; pos < len;) {
        size_t n = 0;
        const feedback_lex_entry_t *e = s_longest(text, len, pos, &n);
        if (e) {
            s_apply(&st, e);
            pos += n;
            continue;
        }
        if (s_is_alnum(u[pos])) {
            pos = s_skip_word(text, len, pos);
            s_token(&st);
            continue;
        }
        n = s_utf8_length(u + pos, len - pos);
        assert(n > 0);
        uint32_t cp = s_utf8_decode(u + pos, n);
        if (s_is_clause_end(cp))
            s_clause_end(&st);
        else if (cp > S_ASCII_MAX && !s_is_ignorable(cp))
            s_token(&st);                           /* a Chinese character outside the lexicon */
        pos += n;
    }

    long long rounded = st.raw >= 0 ? (st.raw + S_CENTI / 2) / S_CENTI : -((-st.raw + S_CENTI / 2) / S_CENTI);
    if (rounded > FEEDBACK_SCORE_MAX)
        rounded = FEEDBACK_SCORE_MAX;
    if (rounded < -FEEDBACK_SCORE_MAX)
        rounded = -FEEDBACK_SCORE_MAX;
    out->score = (int) rounded;
    out->polarity = out->score >= FEEDBACK_POLARITY_MARGIN    ? FEEDBACK_POLARITY_POSITIVE
                    : out->score <= -FEEDBACK_POLARITY_MARGIN ? FEEDBACK_POLARITY_NEGATIVE
                                                              : FEEDBACK_POLARITY_NEUTRAL;
    out->topics = st.topics;
    return 0;
}

const char *feedback_topic_name(feedback_topic_t topic)
{
    static const char *const names[FEEDBACK_TOPIC_COUNT] = {
        [FEEDBACK_TOPIC_DELIVERY] = "delivery", [FEEDBACK_TOPIC_PRICE] = "price",
        [FEEDBACK_TOPIC_QUALITY] = "quality",   [FEEDBACK_TOPIC_STAFF] = "staff",
        [FEEDBACK_TOPIC_SERVICE] = "service",   [FEEDBACK_TOPIC_PACKAGING] = "packaging",
        [FEEDBACK_TOPIC_RETURNS] = "returns",   [FEEDBACK_TOPIC_WEBSITE] = "website",
    };
    if ((unsigned) topic >= FEEDBACK_TOPIC_COUNT || !names[topic])
        return "unknown";
    return names[topic];
}

const char *feedback_polarity_name(feedback_polarity_t polarity)
{
    switch (polarity) {
    case FEEDBACK_POLARITY_NEUTRAL:
        return "neutral";
    case FEEDBACK_POLARITY_POSITIVE:
        return "positive";
    case FEEDBACK_POLARITY_NEGATIVE:
        return "negative";
    }
    return "unknown";
}
