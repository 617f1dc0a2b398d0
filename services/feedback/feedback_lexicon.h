/* feedback_lexicon.h: the sentiment and topic lexicons (English, Chinese) and the constants that tune the analyser. */
#ifndef FEEDBACK_LEXICON_H
#define FEEDBACK_LEXICON_H

#include <stddef.h>

#include "feedback_sentiment.h"

/* Limits checked on every entry (the unit tests walk both tables). */
#define FEEDBACK_LEX_WEIGHT_MAX        50    /* |weight| of one word, in score points */
#define FEEDBACK_LEX_SCALE_MIN_PCT     30    /* an intensifier (downtoner) scales by at least this */
#define FEEDBACK_LEX_SCALE_MAX_PCT     200   /* and at most this */
#define FEEDBACK_LEX_TEXT_MAX          64    /* bytes of one entry's text */

/* How the analyser combines the words it finds (see feedback_sentiment.c). */
#define FEEDBACK_NEGATION_WINDOW       3     /* a negator flips a sentiment word at most this many tokens after it */
#define FEEDBACK_INTENSIFIER_WINDOW    2     /* an intensifier scales a sentiment word at most this many tokens after it */
#define FEEDBACK_SCALE_CAP_PCT         250   /* stacked intensifiers ("very very") scale by at most this */
#define FEEDBACK_NEGATED_POSITIVE_PCT  90    /* "not good": -90% of "good" */
#define FEEDBACK_NEGATED_NEGATIVE_PCT  50    /* "not bad": -50% of "bad", mildly positive */
#define FEEDBACK_CONTRAST_BEFORE_PCT   50    /* what came before "but" keeps this share */
#define FEEDBACK_CONTRAST_AFTER_PCT    150   /* what follows "but" weighs this much */
#define FEEDBACK_CONCESSIVE_PCT        50    /* the rest of an "although" clause weighs this much */
#define FEEDBACK_SCORE_MAX             100   /* scores are clamped to -this .. this */

/* What an entry does when the scanner finds it. */
typedef enum {
    FEEDBACK_LEX_WORD,         /* value: sentiment weight in score points (0: topic or blocker only) */
    FEEDBACK_LEX_NEGATOR,      /* flips the next sentiment word within FEEDBACK_NEGATION_WINDOW */
    FEEDBACK_LEX_INTENSIFIER,  /* value: scale in percent for the next sentiment word (<100 softens) */
    FEEDBACK_LEX_CONTRAST,     /* "but": halves what came before, what follows weighs more */
    FEEDBACK_LEX_CONCESSIVE,   /* "although": the rest of its clause weighs less */
} feedback_lex_kind_t;

typedef struct {
    const char *text;          /* pattern: lowercase ASCII or UTF-8; see feedback_lexicon.c for syntax */
    feedback_lex_kind_t kind;
    int value;                 /* weight (WORD) or scale in percent (INTENSIFIER); 0 otherwise */
    unsigned topics;           /* bit set of feedback_topic_t the entry mentions */
} feedback_lex_entry_t;

/* The two tables, by the first byte of the text where an entry can match. */
typedef enum {
    FEEDBACK_LEX_ENGLISH,      /* entries beginning with an ASCII byte: English words, emoticons */
    FEEDBACK_LEX_CHINESE,      /* entries beginning with a non-ASCII byte: Chinese words, emoji */
    FEEDBACK_LEX_TABLE_COUNT
} feedback_lex_table_t;

/* Returns the table (static, borrowed; never NULL) and sets *count to its number of entries.
 * Asserts that table is in range and count is not NULL. */
const feedback_lex_entry_t *feedback_lexicon_table(feedback_lex_table_t table, size_t *count);

/* Matches pattern (an entry's text) against text[pos..len) by the rules at the top of
 * feedback_lexicon.c (ASCII case-insensitive, word boundaries for ASCII words, ' ' matches
 * spaces or hyphens, optional apostrophe, trailing '*' for the rest of a word). Returns the
 * number of bytes matched, 0 when it does not match. text is not required to end in NUL;
 * pos must be at most len. */
size_t feedback_lexicon_match(const char *pattern, const char *text, size_t len, size_t pos);

#endif
