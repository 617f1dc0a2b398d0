/* notifier_expr.h: rule conditions: a small expression language over the event's and the customer's fields, compiled once, evaluated on JSON. */
#ifndef NOTIFIER_EXPR_H
#define NOTIFIER_EXPR_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* The language (README.md, "Conditions"):
 *
 *   expr    := or
 *   or      := and ( "||" and )*
 *   and     := unary ( "&&" unary )*
 *   unary   := "!" unary | compare
 *   compare := operand [ ( "==" | "!=" | "<" | "<=" | ">" | ">=" | "contains" ) operand ]
 *   operand := "(" expr ")" | string | number | true | false | null | path
 *   path    := name ( "." name | "[" digits "]" )*        e.g. event.complaint.priority, tags[0]
 *
 * Strings are in double or single quotes with \" \' \\ \n \t escapes; numbers are decimal with an
 * optional sign, fraction and exponent. A path reads the context object: a missing field is null.
 * Comparisons are numeric when both sides are numbers or decimal text ("120" from an int64 field),
 * else text comparisons (byte order: RFC 3339 times and YYYY-MM-DD dates compare in time order);
 * null equals only null and is neither less nor greater than anything. "a contains b" holds when
 * text a contains text b, or array a has an element equal to b. A lone operand is true unless it
 * is null, false, 0, "" or an empty array or object. */

#define NOTIFIER_EXPR_MAX_LEN   1024   /* bytes of a condition's text */
#define NOTIFIER_EXPR_MAX_NODES 256    /* operators, operands and paths in one condition */
#define NOTIFIER_EXPR_MAX_DEPTH 32     /* nesting of parentheses and operators */
#define NOTIFIER_EXPR_PATH_MAX  256    /* bytes of one path, with its NUL */
#define NOTIFIER_EXPR_ERROR_MAX 192    /* bytes of a compile error, with its NUL */

typedef struct notifier_expr notifier_expr_t;

/* Compiles text (NUL-terminated). Text of spaces only compiles to an expression that is always
 * true. Returns 0 and sets *expr_p (caller destroys); CRM_EINVALID with why (why_size bytes) saying
 * where and what, such as "at 17: expected a value after '<'"; CRM_ETOOBIG (text longer than
 * NOTIFIER_EXPR_MAX_LEN, more than NOTIFIER_EXPR_MAX_NODES nodes or nested deeper than
 * NOTIFIER_EXPR_MAX_DEPTH; why says which); CRM_ENOMEM. */
int notifier_expr_compile(const char *text, notifier_expr_t **expr_p, char *why, size_t why_size);

/* Frees a compiled expression. Safe on NULL; sets *expr_p to NULL. */
void notifier_expr_destroy(notifier_expr_t **expr_p);

/* Evaluates expr with its paths read from ctx (a JSON object, borrowed; NULL reads as empty).
 * Returns the result. Pure: safe from several threads on the same expression. */
bool notifier_expr_eval(const notifier_expr_t *expr, const json_t *ctx);

/* Looks up a path ("event.toTier", "event.items[0].sku") under root. Returns the value (borrowed
 * from root) or NULL when any step is missing or the path is malformed. */
const json_t *notifier_json_path(const json_t *root, const char *path);

#endif
