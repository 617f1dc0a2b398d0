/* feedback_sentiment.h: sentiment and topics of a comment, by the lexicons shipped with the service (Chinese and English). */
#ifndef FEEDBACK_SENTIMENT_H
#define FEEDBACK_SENTIMENT_H

#include <stddef.h>

#define FEEDBACK_TEXT_MAX 8192           /* longest comment analysed, in bytes */

/* What a comment speaks of. Bit i of feedback_sentiment_t.topics is topic i. */
typedef enum {
    FEEDBACK_TOPIC_DELIVERY,             /* shipping, courier, late, arrival */
    FEEDBACK_TOPIC_PRICE,                /* price, expensive, cheap, value for money */
    FEEDBACK_TOPIC_QUALITY,              /* product quality, broken, defective, durable */
    FEEDBACK_TOPIC_STAFF,                /* staff, cashier, salesperson, rude, friendly */
    FEEDBACK_TOPIC_SERVICE,              /* customer service, support, answer, hotline */
    FEEDBACK_TOPIC_PACKAGING,            /* box, packaging, wrapping */
    FEEDBACK_TOPIC_RETURNS,              /* return, refund, exchange */
    FEEDBACK_TOPIC_WEBSITE,              /* website, app, checkout, login */
    FEEDBACK_TOPIC_COUNT
} feedback_topic_t;

typedef enum {
    FEEDBACK_POLARITY_NEUTRAL,
    FEEDBACK_POLARITY_POSITIVE,
    FEEDBACK_POLARITY_NEGATIVE,
} feedback_polarity_t;

typedef struct {
    int score;                           /* -100 (very negative) .. 100 (very positive); 0 neutral */
    feedback_polarity_t polarity;        /* from score: <= -FEEDBACK_POLARITY_MARGIN negative, >= margin positive */
    unsigned topics;                     /* bit set of feedback_topic_t */
} feedback_sentiment_t;

#define FEEDBACK_POLARITY_MARGIN 10

/* Analyses text (UTF-8, len bytes, Chinese without word spaces or English, or both mixed):
 * negation ("not good", "不好", "没有"), intensifiers ("very", "非常", "太") and contrast ("but",
 * "但是": what follows weighs more) are taken into account. Returns 0 and fills *out; CRM_EINVALID
 * when text is not valid UTF-8 or longer than FEEDBACK_TEXT_MAX (then *out is zeroed). Empty text
 * is neutral with no topics. Pure: no state, safe from any thread. */
int feedback_sentiment_analyze(const char *text, size_t len, feedback_sentiment_t *out);

/* The topic's stable lowercase name ("delivery", "price", ...); "unknown" out of range. */
const char *feedback_topic_name(feedback_topic_t topic);

/* The polarity's name: "neutral", "positive", "negative". */
const char *feedback_polarity_name(feedback_polarity_t polarity);

#endif
