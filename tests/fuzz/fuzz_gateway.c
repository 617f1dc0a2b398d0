/* fuzz_gateway.c: libFuzzer target: the gateway's request reading: CloudEvents bodies (structured, batch, binary), envelopes, Content-Type and routes. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crm_codec.h"
#include "crm_error.h"
#include "fuzz_common.h"
#include "gateway_check.h"
#include "gateway_cloudevents.h"
#include "gateway_routes.h"

/* Input: one byte picking what is read, then its text:
 *   '0' structured body, '1' batch body, '2' binary: "name: value" header lines, an empty line,
 *   then the body; '3' a packed envelope; '4' "METHOD /path" for the route table; '5' a
 *   Content-Type header value. */
enum { S_STRUCTURED, S_BATCH, S_BINARY, S_ENVELOPE, S_ROUTE, S_CONTENT_TYPE, S_KINDS };

#define S_HEADERS_MAX 16        /* header lines read in binary mode */
#define S_MAX_BATCH   8
#define S_MAX_STRING  128

static const gateway_ce_limits_t s_limits = { .max_batch = S_MAX_BATCH, .max_string = S_MAX_STRING };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What every event read must look like: pending with a checked payload of its type, or rejected
 * with a reason and no payload. */
static void
s_check_event(const gateway_ingest_event_t *ev)
{
    FUZZ_CHECK(memchr(ev->id, '\0', sizeof ev->id) && memchr(ev->source, '\0', sizeof ev->source),
               "id or source not terminated");
    FUZZ_CHECK(memchr(ev->error, '\0', sizeof ev->error) && memchr(ev->field, '\0', sizeof ev->field),
               "error or field not terminated");
    if (ev->pending) {
        FUZZ_CHECK(ev->outcome == CRM__V1__INGEST_RESULT__OUTCOME__OUTCOME_UNSPECIFIED, "pending with an outcome");
        FUZZ_CHECK(ev->type && ev->data && ev->data->descriptor == ev->type->payload, "pending without its payload");
        FUZZ_CHECK(ev->id[0] && strlen(ev->id) <= GATEWAY_CE_ID_MAX, "pending with id [%s]", ev->id);
        FUZZ_CHECK(ev->source[0] && strlen(ev->source) <= GATEWAY_CE_SOURCE_MAX, "pending with source [%s]",
                   ev->source);
        crm_codec_error_t err;
        FUZZ_CHECK(gateway_check_message(ev->data, S_MAX_STRING, &err) == 0, "pending payload fails the check at [%s]: %s",
                   err.path, err.message);
        fuzz_check_round_trips(ev->data, true, true);
    } else {
        FUZZ_CHECK(ev->outcome == CRM__V1__INGEST_RESULT__OUTCOME__OUTCOME_REJECTED, "neither pending nor rejected");
        FUZZ_CHECK(ev->data == NULL, "rejected with a payload");
        FUZZ_CHECK(ev->error[0], "rejected without a reason");
    }
}

/* Splits "name: value" lines up to an empty line into headers (pointing into text, which is
 * modified). Returns the body after the empty line (or the end of text). */
static char *
s_headers(char *text, gateway_ce_header_t *headers, size_t *n)
{
    char *line = text;
    *n = 0;
    while (*line && *line != '\n' && *n < S_HEADERS_MAX) {
        char *end = strchr(line, '\n');
        if (end)
            *end = '\0';
        char *colon = strchr(line, ':');
        if (colon) {
            *colon = '\0';
            char *value = colon + 1;
            while (*value == ' ')
                value++;
            headers[(*n)++] = (gateway_ce_header_t) { .name = line, .value = value };
        }
        if (!end)
            return line + strlen(line);
        line = end + 1;
    }
    return *line == '\n' ? line + 1 : line;
}

static void
s_body(gateway_ce_mode_t mode, char *text, size_t size)
{
    gateway_ce_header_t headers[S_HEADERS_MAX];
    size_t n_headers = 0;
    const char *body = text;
    size_t len = size;
    if (mode == GATEWAY_CE_BINARY) {
        body = s_headers(text, headers, &n_headers);
        len = size - (size_t) (body - text);
    }
    gateway_ingest_batch_t batch = { 0 };
    char detail[GATEWAY_CE_ERROR_MAX] = "";
    int rc = gateway_ce_parse(mode, body, len, headers, n_headers, &s_limits, &batch, detail);
    FUZZ_CHECK(rc == 0 || rc == CRM_EINVALID || rc == CRM_ETOOBIG, "parse rc %d", rc);
    FUZZ_CHECK(memchr(detail, '\0', sizeof detail), "detail not terminated");
    if (rc == CRM_EINVALID)
        FUZZ_CHECK(detail[0], "a refused body without a reason");
    if (rc == CRM_ETOOBIG)
        FUZZ_CHECK(mode == GATEWAY_CE_BATCH && batch.count == 0, "too big, yet %zu events", batch.count);
    if (rc == 0 && mode != GATEWAY_CE_BATCH)
        FUZZ_CHECK(batch.count == 1, "one event read as %zu", batch.count);
    FUZZ_CHECK(batch.count <= S_MAX_BATCH, "%zu events in a batch", batch.count);
    for (size_t i = 0; i < batch.count; i++)
        s_check_event(&batch.events[i]);
    gateway_ingest_batch_clear(&batch);
}

static void
s_envelope(const uint8_t *data, size_t size)
{
    gateway_ingest_event_t ev;
    memset(&ev, 0xa5, sizeof ev);   /* the function must fill all of it */
    int rc = gateway_ce_from_envelope(data, size, &s_limits, &ev);
    FUZZ_CHECK(rc == 0, "envelope rc %d", rc);
    s_check_event(&ev);
    crm_codec_message_free(&ev.data);
}

static void
s_route(char *text)
{
    char *path = strchr(text, ' ');
    if (!path)
        return;
    *path++ = '\0';
    const gateway_route_t *route = NULL;
    gateway_path_values_t values;
    char allow[GATEWAY_ALLOW_MAX] = "";
    int rc = gateway_route_find(text, path, &route, &values, allow);
    FUZZ_CHECK(rc == 0 || rc == CRM_ENOTFOUND || rc == CRM_EINVALID, "route rc %d", rc);
    if (rc == CRM_EINVALID)
        FUZZ_CHECK(memchr(allow, '\0', sizeof allow) && allow[0], "405 without Allow");
    if (rc != 0)
        return;
    FUZZ_CHECK(route && gateway_route_index(route) < gateway_routes_count, "route outside the table");
    const char *method = strcmp(text, "HEAD") == 0 ? "GET" : text;
    FUZZ_CHECK(strcmp(route->method, method) == 0, "%s matched a %s route", text, route->method);
    FUZZ_CHECK(values.count <= GATEWAY_ROUTE_MAX_PATH_PARAMS, "%zu path values", values.count);
    for (size_t i = 0; i < values.count; i++) {
        size_t len = strnlen(values.values[i], GATEWAY_SEGMENT_MAX);
        FUZZ_CHECK(len > 0 && len < GATEWAY_SEGMENT_MAX, "path value %zu of length %zu", i, len);
        FUZZ_CHECK(strstr(path, values.values[i]) != NULL, "path value [%s] not in [%s]", values.values[i], path);
    }
    if (route->flags & GATEWAY_ROUTE_PUBLIC)
        FUZZ_CHECK(gateway_route_allows(route, CRM__V1__ROLE__ROLE_UNSPECIFIED), "public route refused");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    int kind = data[0] % S_KINDS;
    data++;
    size--;
    if (kind == S_ENVELOPE) {
        void *buf = malloc(size ? size : 1);
        FUZZ_CHECK(buf, "out of memory");
        memcpy(buf, data, size);
        s_envelope(buf, size);
        free(buf);
        return 0;
    }
    /* Bodies are not NUL-terminated (a copy of exactly size bytes); header lines, methods, paths
     * and header values are C strings, as the HTTP server hands them over. */
    char *text = malloc(size + 1);
    FUZZ_CHECK(text, "out of memory");
    memcpy(text, data, size);
    text[size] = '\0';
    switch (kind) {
    case S_STRUCTURED:
    case S_BATCH:
    case S_BINARY: {
        char *body = malloc(size ? size : 1);
        FUZZ_CHECK(body, "out of memory");
        memcpy(body, data, size);
        if (kind == S_BINARY)
            s_body(GATEWAY_CE_BINARY, text, size);
        else
            s_body(kind == S_STRUCTURED ? GATEWAY_CE_STRUCTURED : GATEWAY_CE_BATCH, body, size);
        free(body);
        break;
    }
    case S_ROUTE:
        s_route(text);
        break;
    default: {
        gateway_ce_mode_t mode;
        int rc = gateway_ce_mode(text, &mode);
        FUZZ_CHECK(rc == 0 || rc == CRM_EINVALID, "mode rc %d", rc);
        break;
    }
    }
    free(text);
    return 0;
}
