/* notifier_expr.c: rule conditions: a recursive-descent compiler into a node array, and an evaluator over JSON. */
#include "notifier_expr.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crm_error.h"

typedef enum {
    S_OR,
    S_AND,
    S_NOT,
    S_EQ,
    S_NE,
    S_LT,
    S_LE,
    S_GT,
    S_GE,
    S_CONTAINS,
    S_STR,
    S_NUM,
    S_TRUE,
    S_FALSE,
    S_NULL,
    S_PATH,
    S_ALWAYS
} s_kind_t;

typedef struct {
    s_kind_t kind;
    int left, right;        /* child nodes (binary operators, NOT uses left) */
    char *text;             /* S_STR value, S_PATH path (malloc'd) */
    double number;          /* S_NUM */
} s_node_t;

struct notifier_expr {
    s_node_t nodes[NOTIFIER_EXPR_MAX_NODES];
    int count;
    int root;
};

typedef struct {
    const char *text;
    size_t pos;
    int depth;
    notifier_expr_t *expr;
    char *why;
    size_t why_size;
    int rc;
} s_parser_t;

static int s_fail(s_parser_t *p, int code, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int s_fail(s_parser_t *p, int code, size_t at, const char *fmt, ...)
{
    if (p->rc)
        return p->rc;
    char msg[NOTIFIER_EXPR_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(p->why, p->why_size, "at %zu: %s", at + 1, msg);
    p->rc = code;
    return code;
}

static void s_skip_space(s_parser_t *p)
{
    while (p->text[p->pos] && isspace((unsigned char) p->text[p->pos]))
        p->pos++;
}

static int s_node(s_parser_t *p, s_kind_t kind, int left, int right, int *out)
{
    if (p->expr->count == NOTIFIER_EXPR_MAX_NODES)
        return s_fail(p, CRM_ETOOBIG, p->pos, "more than %d terms", NOTIFIER_EXPR_MAX_NODES);
    s_node_t *n = &p->expr->nodes[p->expr->count];
    memset(n, 0, sizeof *n);
    n->kind = kind;
    n->left = left;
    n->right = right;
    *out = p->expr->count++;
    return 0;
}

static bool s_word_char(char c)
{
    return isalnum((unsigned char) c) || c == '_';
}

/* True when the text at pos is the word w, not followed by a name character. */
static bool s_at_word(const s_parser_t *p, const char *w)
{
    size_t n = strlen(w);
    return strncmp(p->text + p->pos, w, n) == 0 && !s_word_char(p->text[p->pos + n]);
}

static int s_expr(s_parser_t *p, int *out);

static int s_string(s_parser_t *p, int *out)
{
    char quote = p->text[p->pos];
    size_t start = p->pos++;
    size_t cap = strlen(p->text + p->pos) + 1;
    char *buf = malloc(cap);
    if (!buf)
        return s_fail(p, CRM_ENOMEM, start, "out of memory");
    size_t len = 0;
    for (;;) {
        char c = p->text[p->pos];
        if (c == '\0') {
            free(buf);
            return s_fail(p, CRM_EINVALID, start, "unterminated string");
        }
        p->pos++;
        if (c == quote)
            break;
        if (c == '\\') {
            char e = p->text[p->pos];
            switch (e) {
            case '"': case '\'': case '\\': c = e; break;
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            default:
                free(buf);
                return s_fail(p, CRM_EINVALID, p->pos - 1, "unknown escape \\%c", e ? e : '0');
            }
            p->pos++;
        }
        buf[len++] = c;
    }
    buf[len] = '\0';
    int rc = s_node(p, S_STR, -1, -1, out);
    if (rc) {
        free(buf);
        return rc;
    }
    p->expr->nodes[*out].text = buf;
    return 0;
}

static int s_number(s_parser_t *p, int *out)
{
    size_t start = p->pos;
    const char *s = p->text + p->pos;
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    /* strtod takes hex, inf and nan: only plain decimals are numbers here. */
    size_t len = (size_t) (end - s);
    for (size_t i = 0; i < len; i++)
        if (!(isdigit((unsigned char) s[i]) || s[i] == '.' || s[i] == '-' || s[i] == '+' || s[i] == 'e'
              || s[i] == 'E'))
            return s_fail(p, CRM_EINVALID, start, "not a decimal number");
    if (len == 0 || errno || !isfinite(v) || s_word_char(s[len]))
        return s_fail(p, CRM_EINVALID, start, "not a decimal number");
    p->pos += len;
    int rc = s_node(p, S_NUM, -1, -1, out);
    if (rc == 0)
        p->expr->nodes[*out].number = v;
    return rc;
}

static int s_path(s_parser_t *p, int *out)
{
    size_t start = p->pos;
    for (;;) {
        if (!(isalpha((unsigned char) p->text[p->pos]) || p->text[p->pos] == '_'))
            return s_fail(p, CRM_EINVALID, p->pos, "expected a field name");
        while (s_word_char(p->text[p->pos]))
            p->pos++;
        while (p->text[p->pos] == '[') {
            size_t digits = ++p->pos;
            while (isdigit((unsigned char) p->text[p->pos]))
                p->pos++;
            if (p->pos == digits || p->text[p->pos] != ']')
                return s_fail(p, CRM_EINVALID, p->pos, "expected an index such as [0]");
            p->pos++;
        }
        if (p->text[p->pos] != '.')
            break;
        p->pos++;
    }
    size_t len = p->pos - start;
    if (len >= NOTIFIER_EXPR_PATH_MAX)
        return s_fail(p, CRM_ETOOBIG, start, "a path longer than %d bytes", NOTIFIER_EXPR_PATH_MAX - 1);
    char *text = strndup(p->text + start, len);
    if (!text)
        return s_fail(p, CRM_ENOMEM, start, "out of memory");
    int rc = s_node(p, S_PATH, -1, -1, out);
    if (rc) {
        free(text);
        return rc;
    }
    p->expr->nodes[*out].text = text;
    return 0;
}

static int s_operand(s_parser_t *p, int *out)
{
    s_skip_space(p);
    char c = p->text[p->pos];
    if (c == '(') {
        if (++p->depth > NOTIFIER_EXPR_MAX_DEPTH)
            return s_fail(p, CRM_ETOOBIG, p->pos, "nested deeper than %d", NOTIFIER_EXPR_MAX_DEPTH);
        size_t open = p->pos++;
        int rc = s_expr(p, out);
        if (rc)
            return rc;
        s_skip_space(p);
        if (p->text[p->pos] != ')')
            return s_fail(p, CRM_EINVALID, p->pos, "expected ')' to close the '(' at %zu", open + 1);
        p->pos++;
        p->depth--;
        return 0;
    }
    if (c == '"' || c == '\'')
        return s_string(p, out);
    if (isdigit((unsigned char) c) || ((c == '-' || c == '+' || c == '.') && p->text[p->pos + 1]
                                       && (isdigit((unsigned char) p->text[p->pos + 1]) || p->text[p->pos + 1] == '.')))
        return s_number(p, out);
    if (s_at_word(p, "true") || s_at_word(p, "false") || s_at_word(p, "null")) {
        s_kind_t kind = c == 't' ? S_TRUE : c == 'f' ? S_FALSE : S_NULL;
        p->pos += kind == S_FALSE ? 5 : 4;
        return s_node(p, kind, -1, -1, out);
    }
    if (s_at_word(p, "contains"))
        return s_fail(p, CRM_EINVALID, p->pos, "expected a value before 'contains'");
    if (isalpha((unsigned char) c) || c == '_')
        return s_path(p, out);
    if (c == '\0')
        return s_fail(p, CRM_EINVALID, p->pos, "expected a value at the end");
    return s_fail(p, CRM_EINVALID, p->pos, "expected a value, found '%c'", c);
}

static int s_compare(s_parser_t *p, int *out)
{
    int left = -1;
    int rc = s_operand(p, &left);
    if (rc)
        return rc;
    s_skip_space(p);
    static const struct {
        const char *op;
        s_kind_t kind;
    } ops[] = {
        { "==", S_EQ }, { "!=", S_NE }, { "<=", S_LE }, { ">=", S_GE }, { "<", S_LT }, { ">", S_GT },
    };
    const char *at = p->text + p->pos;
    const char *name = NULL;
    s_kind_t kind = S_ALWAYS;
    for (size_t i = 0; i < sizeof ops / sizeof ops[0] && !name; i++)
        if (strncmp(at, ops[i].op, strlen(ops[i].op)) == 0) {
            name = ops[i].op;
            kind = ops[i].kind;
        }
    if (!name && s_at_word(p, "contains")) {
        name = "contains";
        kind = S_CONTAINS;
    }
    if (!name) {
        if (at[0] == '=' && at[1] != '=')
            return s_fail(p, CRM_EINVALID, p->pos, "use '==' to compare");
        *out = left;
        return 0;
    }
    size_t op_at = p->pos;
    p->pos += strlen(name);
    s_skip_space(p);
    char c = p->text[p->pos];
    if (c == '\0' || c == ')' || c == '&' || c == '|' || c == '=' || c == '<' || c == '>')
        return s_fail(p, CRM_EINVALID, op_at, "expected a value after '%s'", name);
    int right = -1;
    rc = s_operand(p, &right);
    if (rc == 0)
        rc = s_node(p, kind, left, right, out);
    if (rc == 0) {
        s_skip_space(p);
        at = p->text + p->pos;
        if (strncmp(at, "==", 2) == 0 || strncmp(at, "!=", 2) == 0 || at[0] == '<' || at[0] == '>'
            || s_at_word(p, "contains"))
            return s_fail(p, CRM_EINVALID, p->pos, "comparisons do not chain: use && or parentheses");
    }
    return rc;
}

static int s_unary(s_parser_t *p, int *out)
{
    s_skip_space(p);
    if (p->text[p->pos] == '!' && p->text[p->pos + 1] != '=') {
        p->pos++;
        if (++p->depth > NOTIFIER_EXPR_MAX_DEPTH)
            return s_fail(p, CRM_ETOOBIG, p->pos, "nested deeper than %d", NOTIFIER_EXPR_MAX_DEPTH);
        int inner = -1;
        int rc = s_unary(p, &inner);
        p->depth--;
        if (rc == 0)
            rc = s_node(p, S_NOT, inner, -1, out);
        return rc;
    }
    return s_compare(p, out);
}

static int s_and(s_parser_t *p, int *out)
{
    int left = -1;
    int rc = s_unary(p, &left);
    while (rc == 0) {
        s_skip_space(p);
        if (strncmp(p->text + p->pos, "&&", 2) != 0)
            break;
        p->pos += 2;
        int right = -1;
        rc = s_unary(p, &right);
        if (rc == 0)
            rc = s_node(p, S_AND, left, right, &left);
    }
    *out = left;
    return rc;
}

static int s_expr(s_parser_t *p, int *out)
{
    int left = -1;
    int rc = s_and(p, &left);
    while (rc == 0) {
        s_skip_space(p);
        if (strncmp(p->text + p->pos, "||", 2) != 0)
            break;
        p->pos += 2;
        int right = -1;
        rc = s_and(p, &right);
        if (rc == 0)
            rc = s_node(p, S_OR, left, right, &left);
    }
    *out = left;
    return rc;
}

int notifier_expr_compile(const char *text, notifier_expr_t **expr_p, char *why, size_t why_size)
{
    assert(text && expr_p && why && why_size);
    why[0] = '\0';
    size_t len = strnlen(text, NOTIFIER_EXPR_MAX_LEN + 1);
    if (len > NOTIFIER_EXPR_MAX_LEN) {
        snprintf(why, why_size, "longer than %d bytes", NOTIFIER_EXPR_MAX_LEN);
        return CRM_ETOOBIG;
    }
    notifier_expr_t *expr = calloc(1, sizeof *expr);
    if (!expr)
        return CRM_ENOMEM;
    s_parser_t p = { .text = text, .expr = expr, .why = why, .why_size = why_size };
    s_skip_space(&p);
    int rc = 0;
    if (text[p.pos] == '\0') {
        rc = s_node(&p, S_ALWAYS, -1, -1, &expr->root);
    } else {
        rc = s_expr(&p, &expr->root);
        s_skip_space(&p);
        if (rc == 0 && text[p.pos] == ')')
            rc = s_fail(&p, CRM_EINVALID, p.pos, "')' without '('");
        else if (rc == 0 && text[p.pos] == '&')
            rc = s_fail(&p, CRM_EINVALID, p.pos, "use '&&' for and");
        else if (rc == 0 && text[p.pos] == '|')
            rc = s_fail(&p, CRM_EINVALID, p.pos, "use '||' for or");
        else if (rc == 0 && text[p.pos] == '=')
            rc = s_fail(&p, CRM_EINVALID, p.pos, "use '==' to compare");
        else if (rc == 0 && text[p.pos] != '\0')
            rc = s_fail(&p, CRM_EINVALID, p.pos, "expected && or || or the end");
    }
    if (rc) {
        notifier_expr_destroy(&expr);
        return rc;
    }
    *expr_p = expr;
    return 0;
}

void notifier_expr_destroy(notifier_expr_t **expr_p)
{
    if (!expr_p || !*expr_p)
        return;
    notifier_expr_t *expr = *expr_p;
    for (int i = 0; i < expr->count; i++)
        free(expr->nodes[i].text);
    free(expr);
    *expr_p = NULL;
}

/* --- Paths */

const json_t *notifier_json_path(const json_t *root, const char *path)
{
    const json_t *at = root;
    const char *p = path;
    char name[NOTIFIER_EXPR_PATH_MAX];
    while (at && *p) {
        size_t n = 0;
        while (p[n] && p[n] != '.' && p[n] != '[')
            n++;
        if (n == 0 || n >= sizeof name)
            return NULL;
        memcpy(name, p, n);
        name[n] = '\0';
        at = json_is_object(at) ? json_object_get(at, name) : NULL;
        p += n;
        while (at && *p == '[') {
            char *end = NULL;
            errno = 0;
            unsigned long index = strtoul(p + 1, &end, 10);
            if (errno || !end || end == p + 1 || *end != ']')
                return NULL;
            at = json_is_array(at) ? json_array_get(at, index) : NULL;
            p = end + 1;
        }
        if (*p == '.')
            p++;
        else if (*p)
            return NULL;
    }
    return at;
}

/* --- Evaluation */

typedef enum { S_V_NULL, S_V_BOOL, S_V_NUM, S_V_STR, S_V_JSON } s_vkind_t;

typedef struct {
    s_vkind_t kind;
    bool b;
    double n;
    const char *s;
    const json_t *json;      /* arrays and objects */
} s_value_t;

static s_value_t s_from_json(const json_t *j)
{
    s_value_t v = { .kind = S_V_NULL };
    if (!j || json_is_null(j))
        return v;
    if (json_is_boolean(j)) {
        v.kind = S_V_BOOL;
        v.b = json_is_true(j);
    } else if (json_is_number(j)) {
        v.kind = S_V_NUM;
        v.n = json_number_value(j);
    } else if (json_is_string(j)) {
        v.kind = S_V_STR;
        v.s = json_string_value(j);
    } else {
        v.kind = S_V_JSON;
        v.json = j;
    }
    return v;
}

static s_value_t s_value(const notifier_expr_t *e, int i, const json_t *ctx);
static bool s_truth(const notifier_expr_t *e, int i, const json_t *ctx);

/* A value as a number: numbers, and text that is a whole decimal number. */
static bool s_as_number(const s_value_t *v, double *out)
{
    if (v->kind == S_V_NUM) {
        *out = v->n;
        return true;
    }
    if (v->kind != S_V_STR || !v->s[0] || isspace((unsigned char) v->s[0]))
        return false;
    for (const char *c = v->s; *c; c++)
        if (!(isdigit((unsigned char) *c) || *c == '.' || *c == '-' || *c == '+' || *c == 'e' || *c == 'E'))
            return false;
    char *end = NULL;
    errno = 0;
    double d = strtod(v->s, &end);
    if (errno || !end || *end || !isfinite(d))
        return false;
    *out = d;
    return true;
}

static bool s_equal(const s_value_t *a, const s_value_t *b)
{
    double x, y;
    if (a->kind == S_V_NULL || b->kind == S_V_NULL)
        return a->kind == b->kind;
    if ((a->kind == S_V_NUM || b->kind == S_V_NUM) && s_as_number(a, &x) && s_as_number(b, &y))
        return x == y;
    if (a->kind != b->kind)
        return false;
    switch (a->kind) {
    case S_V_BOOL: return a->b == b->b;
    case S_V_STR: return strcmp(a->s, b->s) == 0;
    case S_V_JSON: return json_equal(a->json, b->json);
    default: return false;
    }
}

/* -1, 0, 1, or 2 when the values do not order. */
static int s_order(const s_value_t *a, const s_value_t *b)
{
    double x, y;
    if (s_as_number(a, &x) && s_as_number(b, &y))
        return x < y ? -1 : x > y ? 1 : 0;
    if (a->kind == S_V_STR && b->kind == S_V_STR) {
        int c = strcmp(a->s, b->s);
        return c < 0 ? -1 : c > 0 ? 1 : 0;
    }
    return 2;
}

static bool s_contains(const s_value_t *a, const s_value_t *b)
{
    if (a->kind == S_V_STR && b->kind == S_V_STR)
        return strstr(a->s, b->s) != NULL;
    if (a->kind == S_V_JSON && json_is_array(a->json)) {
        size_t i;
        const json_t *item;
        json_array_foreach(a->json, i, item) {
            s_value_t v = s_from_json(item);
            if (s_equal(&v, b))
                return true;
        }
    }
    return false;
}

static s_value_t s_value(const notifier_expr_t *e, int i, const json_t *ctx)
{
    const s_node_t *n = &e->nodes[i];
    s_value_t v = { .kind = S_V_NULL };
    switch (n->kind) {
    case S_STR:
        v.kind = S_V_STR;
        v.s = n->text;
        return v;
    case S_NUM:
        v.kind = S_V_NUM;
        v.n = n->number;
        return v;
    case S_NULL:
        return v;
    case S_PATH:
        return s_from_json(ctx ? notifier_json_path(ctx, n->text) : NULL);
    default:
        v.kind = S_V_BOOL;
        v.b = s_truth(e, i, ctx);
        return v;
    }
}

static bool s_truth(const notifier_expr_t *e, int i, const json_t *ctx)
{
    assert(i >= 0 && i < e->count);
    const s_node_t *n = &e->nodes[i];
    switch (n->kind) {
    case S_ALWAYS:
    case S_TRUE: return true;
    case S_FALSE:
    case S_NULL: return false;
    case S_OR: return s_truth(e, n->left, ctx) || s_truth(e, n->right, ctx);
    case S_AND: return s_truth(e, n->left, ctx) && s_truth(e, n->right, ctx);
    case S_NOT: return !s_truth(e, n->left, ctx);
    case S_EQ:
    case S_NE:
    case S_LT:
    case S_LE:
    case S_GT:
    case S_GE:
    case S_CONTAINS: {
        s_value_t a = s_value(e, n->left, ctx);
        s_value_t b = s_value(e, n->right, ctx);
        if (n->kind == S_EQ)
            return s_equal(&a, &b);
        if (n->kind == S_NE)
            return !s_equal(&a, &b);
        if (n->kind == S_CONTAINS)
            return s_contains(&a, &b);
        int o = s_order(&a, &b);
        if (o == 2)
            return false;
        return n->kind == S_LT ? o < 0 : n->kind == S_LE ? o <= 0 : n->kind == S_GT ? o > 0 : o >= 0;
    }
    case S_STR:
    case S_NUM:
    case S_PATH: {
        s_value_t v = s_value(e, i, ctx);
        switch (v.kind) {
        case S_V_BOOL: return v.b;
        case S_V_NUM: return v.n != 0;
        case S_V_STR: return v.s[0] != '\0';
        case S_V_JSON: return json_is_array(v.json) ? json_array_size(v.json) > 0 : json_object_size(v.json) > 0;
        default: return false;
        }
    }
    }
    return false;
}

bool notifier_expr_eval(const notifier_expr_t *expr, const json_t *ctx)
{
    assert(expr && expr->count > 0);
    return s_truth(expr, expr->root, ctx);
}
