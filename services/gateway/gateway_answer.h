/* gateway_answer.h: one HTTP answer as the gateway builds it, RFC 9457 problems, and header parsing. */
#ifndef GATEWAY_ANSWER_H
#define GATEWAY_ANSWER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>

#include "crm_rpc.h"

#define GATEWAY_PROBLEM_BASE      "https://crm.example/problems/"
#define GATEWAY_JSON              "application/json"
#define GATEWAY_PROBLEM_JSON      "application/problem+json"
#define GATEWAY_METRICS_TYPE      "text/plain; version=0.0.4; charset=utf-8"
#define GATEWAY_CONTENT_TYPE_MAX  64     /* bytes of a Content-Type we send, with the NUL */
#define GATEWAY_ETAG_MAX          32     /* "\"18446744073709551615\"" fits */
#define GATEWAY_LOCATION_MAX      256
#define GATEWAY_ALLOW_MAX         64
#define GATEWAY_DETAIL_MAX        512    /* bytes of a problem's detail we copy from a service */
#define GATEWAY_FIELD_MAX         256    /* bytes of a problem's field */

/* The problem types: each a stable URI GATEWAY_PROBLEM_BASE + slug, an HTTP status and a title. */
#define GATEWAY_PROBLEM_MAP(X)                                                              \
    X(VALIDATION,         "validation",              400, "The request is not valid")          \
    X(MALFORMED_JSON,     "malformed-json",          400, "The body is not well-formed JSON")  \
    X(UNAUTHORIZED,       "unauthorized",            401, "An API key is required")            \
    X(FORBIDDEN,          "forbidden",               403, "The API key's role may not do this") \
    X(NOT_FOUND,          "not-found",               404, "Not found")                          \
    X(METHOD_NOT_ALLOWED, "method-not-allowed",      405, "Method not allowed")                 \
    X(CONFLICT,           "conflict",                409, "Conflict with another record")       \
    X(IN_PROGRESS,        "idempotency-in-progress", 409, "A request with this Idempotency-Key is in progress") \
    X(PRECONDITION,       "precondition-failed",     412, "The version does not match")         \
    X(TOO_LARGE,          "payload-too-large",       413, "The request body is too large")      \
    X(BATCH_TOO_LARGE,    "batch-too-large",         413, "Too many events in one batch")       \
    X(MEDIA_TYPE,         "unsupported-media-type",  415, "Unsupported Content-Type")           \
    X(HEADER_TOO_LARGE,   "header-too-large",        431, "The request headers are too large")  \
    X(RATE_LIMITED,       "rate-limited",            429, "Too many requests for this API key") \
    X(KEY_REUSE,          "idempotency-key-reuse",   422, "The Idempotency-Key was used for another request") \
    X(INTERNAL,           "internal",                500, "Internal error")                     \
    X(NOT_IMPLEMENTED,    "not-implemented",         501, "The service does not know this method") \
    X(UNAVAILABLE,        "service-unavailable",     503, "A service is unavailable")           \
    X(TIMEOUT,            "timeout",                 504, "A service did not answer in time")

#define GATEWAY_PROBLEM_ENUM(name, slug, status, title) GATEWAY_PROBLEM_##name,
typedef enum { GATEWAY_PROBLEM_MAP(GATEWAY_PROBLEM_ENUM) GATEWAY_PROBLEM_COUNT } gateway_problem_t;
#undef GATEWAY_PROBLEM_ENUM

typedef struct {
    const char *slug;            /* "validation" */
    unsigned status;             /* 400 */
    const char *title;
} gateway_problem_type_t;

/* The table above, indexed by gateway_problem_t. */
extern const gateway_problem_type_t gateway_problem_types[GATEWAY_PROBLEM_COUNT];

/* One answer: status, body and the headers that matter. */
typedef struct {
    unsigned status;                          /* 0 while not made */
    char content_type[GATEWAY_CONTENT_TYPE_MAX];
    char *body;                               /* owned (malloc'd); NULL for none */
    size_t body_len;
    char etag[GATEWAY_ETAG_MAX];              /* the quoted ETag, or "" */
    char location[GATEWAY_LOCATION_MAX];      /* or "" */
    char allow[GATEWAY_ALLOW_MAX];            /* for 405, or "" */
    bool authenticate;                        /* send WWW-Authenticate: Bearer (401) */
    bool replayed;                            /* an idempotent replay: Idempotent-Replayed: true */
    unsigned retry_after_s;                   /* Retry-After, or 0 for none */
} gateway_answer_t;

/* Frees the body and zeroes the answer. Safe on a zeroed answer. */
void gateway_answer_clear(gateway_answer_t *answer);

/* Makes a JSON answer from doc (borrowed), compact. Returns 0 or CRM_ENOMEM. */
int gateway_answer_json(gateway_answer_t *answer, unsigned status, const json_t *doc);

/* Makes an answer whose body is text (copied, len bytes) of the given content type.
 * Returns 0 or CRM_ENOMEM. */
int gateway_answer_text(gateway_answer_t *answer, unsigned status, const char *content_type,
                        const char *text, size_t len);

/* Makes a problem answer: {type, title, status, detail, field?, conflictId?}. detail, field and
 * conflict_id are borrowed; field and conflict_id may be NULL or "" for none; text that is not
 * UTF-8 is replaced. A 401 also asks for WWW-Authenticate. Returns 0 or CRM_ENOMEM (then the
 * answer is a fixed 500 body, still usable). */
int gateway_answer_problem(gateway_answer_t *answer, gateway_problem_t problem, const char *detail,
                           const char *field, const char *conflict_id);

/* The problem a service's reply status maps to (never called with CRM_RPC_OK):
 * INVALID 400, NOT_FOUND 404, CONFLICT 409, PRECONDITION_FAILED 412, FORBIDDEN 403,
 * UNAVAILABLE 503, TIMEOUT 504, TOO_LARGE 413, UNKNOWN_METHOD 501, INTERNAL and others 500. */
gateway_problem_t gateway_problem_from_rpc(crm_rpc_status_t status);

/* Parses an If-Match header: "\"5\"", W/"5" or * (any version: *version = 0). Returns 0 and sets
 * *version (>= 1, or 0 for *), or CRM_EINVALID (a list, an unquoted or non-numeric tag, 0). */
int gateway_if_match_parse(const char *header, uint64_t *version);

/* Returns true when the Content-Type header value names media type type (case-insensitive,
 * "application/json"), with parameters allowed only as charset=utf-8. False for NULL. */
bool gateway_media_type_is(const char *content_type, const char *type);

/* Writes the ETag of a version, "\"5\"", into out (GATEWAY_ETAG_MAX bytes). */
void gateway_etag_format(uint64_t version, char out[GATEWAY_ETAG_MAX]);

#endif
