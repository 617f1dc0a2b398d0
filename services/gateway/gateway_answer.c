/* gateway_answer.c: HTTP answers, RFC 9457 problems, and the ETag and If-Match forms. */
#include "gateway_answer.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crm_codec.h"
#include "crm_error.h"

#define GATEWAY_PROBLEM_ENTRY(name, slug, status, title) { slug, status, title },
const gateway_problem_type_t gateway_problem_types[GATEWAY_PROBLEM_COUNT] = {
    GATEWAY_PROBLEM_MAP(GATEWAY_PROBLEM_ENTRY)
};
#undef GATEWAY_PROBLEM_ENTRY

#define S_VERSION_DIGITS_MAX 20   /* digits of the largest uint64 */

/* The answer when even a problem cannot be built. */
static const char s_fallback[] = "{\"type\":\"" GATEWAY_PROBLEM_BASE "internal\",\"title\":"
                                 "\"Internal error\",\"status\":500,\"detail\":\"out of memory\"}";

void
gateway_answer_clear(gateway_answer_t *answer)
{
    assert(answer);
    free(answer->body);
    memset(answer, 0, sizeof *answer);
}

int
gateway_answer_text(gateway_answer_t *answer, unsigned status, const char *content_type,
                    const char *text, size_t len)
{
    assert(answer && content_type && (text || len == 0));
    free(answer->body);
    answer->body = malloc(len + 1);
    if (!answer->body) {
        answer->body_len = 0;
        return CRM_ENOMEM;
    }
    if (len)
        memcpy(answer->body, text, len);
    answer->body[len] = '\0';
    answer->body_len = len;
    answer->status = status;
    snprintf(answer->content_type, sizeof answer->content_type, "%s", content_type);
    return 0;
}

/* Dumps doc into answer's body. */
static int
s_dump(gateway_answer_t *answer, unsigned status, const char *content_type, const json_t *doc)
{
    size_t size = json_dumpb(doc, NULL, 0, JSON_COMPACT);
    char *text = size ? malloc(size + 1) : NULL;
    if (!text || json_dumpb(doc, text, size, JSON_COMPACT) != size) {
        free(text);
        return CRM_ENOMEM;
    }
    text[size] = '\0';
    free(answer->body);
    answer->body = text;
    answer->body_len = size;
    answer->status = status;
    snprintf(answer->content_type, sizeof answer->content_type, "%s", content_type);
    return 0;
}

int
gateway_answer_json(gateway_answer_t *answer, unsigned status, const json_t *doc)
{
    assert(answer && doc);
    return s_dump(answer, status, GATEWAY_JSON, doc);
}

/* Adds key: text to obj when text is non-empty, replacing text that is not UTF-8. */
static int
s_set_text(json_t *obj, const char *key, const char *text, const char *fallback)
{
    if (!text || !*text)
        return 0;
    size_t len = strnlen(text, GATEWAY_DETAIL_MAX);
    json_t *value = crm_codec_utf8_valid(text, len) ? json_stringn(text, len) : json_string(fallback);
    return json_object_set_new(obj, key, value) == 0 ? 0 : CRM_ENOMEM;
}

int
gateway_answer_problem(gateway_answer_t *answer, gateway_problem_t problem, const char *detail,
                       const char *field, const char *conflict_id)
{
    assert(answer && problem < GATEWAY_PROBLEM_COUNT);
    const gateway_problem_type_t *type = &gateway_problem_types[problem];
    char uri[128];
    snprintf(uri, sizeof uri, GATEWAY_PROBLEM_BASE "%s", type->slug);
    int rc = CRM_ENOMEM;
    json_t *doc = json_object();
    if (!doc)
        goto out;
    if (json_object_set_new(doc, "type", json_string(uri))
        || json_object_set_new(doc, "title", json_string(type->title))
        || json_object_set_new(doc, "status", json_integer(type->status)))
        goto out;
    rc = s_set_text(doc, "detail", detail && *detail ? detail : type->title, "(not UTF-8)");
    if (rc == 0)
        rc = s_set_text(doc, "field", field, "(not UTF-8)");
    if (rc == 0)
        rc = s_set_text(doc, "conflictId", conflict_id, "(not UTF-8)");
    if (rc == 0)
        rc = s_dump(answer, type->status, GATEWAY_PROBLEM_JSON, doc);
out:
    json_decref(doc);
    if (rc) {
        gateway_answer_clear(answer);
        if (gateway_answer_text(answer, 500, GATEWAY_PROBLEM_JSON, s_fallback, sizeof s_fallback - 1))
            answer->status = 500;
    }
    answer->authenticate = answer->status == 401;
    return rc;
}

gateway_problem_t
gateway_problem_from_rpc(crm_rpc_status_t status)
{
    switch (status) {
    case CRM_RPC_INVALID:             return GATEWAY_PROBLEM_VALIDATION;
    case CRM_RPC_NOT_FOUND:           return GATEWAY_PROBLEM_NOT_FOUND;
    case CRM_RPC_CONFLICT:            return GATEWAY_PROBLEM_CONFLICT;
    case CRM_RPC_PRECONDITION_FAILED: return GATEWAY_PROBLEM_PRECONDITION;
    case CRM_RPC_FORBIDDEN:           return GATEWAY_PROBLEM_FORBIDDEN;
    case CRM_RPC_UNAVAILABLE:         return GATEWAY_PROBLEM_UNAVAILABLE;
    case CRM_RPC_TIMEOUT:             return GATEWAY_PROBLEM_TIMEOUT;
    case CRM_RPC_TOO_LARGE:           return GATEWAY_PROBLEM_TOO_LARGE;
    case CRM_RPC_UNKNOWN_METHOD:      return GATEWAY_PROBLEM_NOT_IMPLEMENTED;
    default:                          return GATEWAY_PROBLEM_INTERNAL;
    }
}

static const char *
s_skip_space(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

int
gateway_if_match_parse(const char *header, uint64_t *version)
{
    assert(header && version);
    const char *p = s_skip_space(header);
    if (p[0] == '*') {
        if (*s_skip_space(p + 1) != '\0')
            return CRM_EINVALID;
        *version = 0;
        return 0;
    }
    if (p[0] == 'W' && p[1] == '/')
        p += 2;
    if (*p++ != '"')
        return CRM_EINVALID;
    const char *digits = p;
    while (*p >= '0' && *p <= '9')
        p++;
    size_t n = (size_t) (p - digits);
    if (n == 0 || n > S_VERSION_DIGITS_MAX || *p != '"' || *s_skip_space(p + 1) != '\0')
        return CRM_EINVALID;
    char text[S_VERSION_DIGITS_MAX + 1];
    memcpy(text, digits, n);
    text[n] = '\0';
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno == ERANGE || *end != '\0' || v == 0)
        return CRM_EINVALID;
    *version = (uint64_t) v;
    return 0;
}

bool
gateway_media_type_is(const char *content_type, const char *type)
{
    if (!content_type || !type)
        return false;
    const char *p = s_skip_space(content_type);
    size_t n = strlen(type);
    if (strncasecmp(p, type, n) != 0)
        return false;
    p = s_skip_space(p + n);
    while (*p == ';') {
        p = s_skip_space(p + 1);
        static const char charset[] = "charset=";
        if (strncasecmp(p, charset, sizeof charset - 1) != 0)
            return false;
        p += sizeof charset - 1;
        bool quoted = *p == '"';
        p += quoted;
        if (strncasecmp(p, "utf-8", 5) != 0)
            return false;
        p += 5;
        if (quoted && *p++ != '"')
            return false;
        p = s_skip_space(p);
    }
    return *p == '\0';
}

void
gateway_etag_format(uint64_t version, char out[GATEWAY_ETAG_MAX])
{
    snprintf(out, GATEWAY_ETAG_MAX, "\"%" PRIu64 "\"", version);
}
