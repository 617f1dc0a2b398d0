/* gateway_openapi.c: the OpenAPI 3.1 document of the HTTP API, made from the route table and the protobuf descriptors. */
#include "gateway_openapi.h"

#include <assert.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crm/v1/gateway.pb-c.h"
#include "crm_codec.h"
#include "crm_error.h"
#include "gateway_routes.h"

#define S_PACKAGE_PREFIX "crm.v1."
#define S_SCHEMA_REF "#/components/schemas/"
#define S_PROBLEM "Problem"
#define S_CLOUD_EVENT "CloudEvent"
#define S_OPERATION_ID_MAX 160
#define S_REF_MAX 192

/* The messages met so far, in order of meeting; schemas are made for each. */
typedef struct {
    const ProtobufCMessageDescriptor *items[GATEWAY_OPENAPI_MESSAGES_MAX];
    size_t count;
    bool overflow;
} s_messages_t;

/* A message's schema name: its full name without the package ("Customer"). */
static const char *
s_schema_name(const ProtobufCMessageDescriptor *d)
{
    size_t n = strlen(S_PACKAGE_PREFIX);
    return strncmp(d->name, S_PACKAGE_PREFIX, n) == 0 ? d->name + n : d->name;
}

static bool
s_is(const ProtobufCMessageDescriptor *d, const char *full_name)
{
    return strcmp(d->name, full_name) == 0;
}

static void
s_remember(s_messages_t *m, const ProtobufCMessageDescriptor *d)
{
    for (size_t i = 0; i < m->count; i++)
        if (m->items[i] == d)
            return;
    if (m->count == GATEWAY_OPENAPI_MESSAGES_MAX) {
        m->overflow = true;
        return;
    }
    m->items[m->count++] = d;
}

/* Sets key to value (stolen) in obj; a NULL value marks the document failed through *ok. */
static void
s_set(json_t *obj, const char *key, json_t *value, bool *ok)
{
    if (!value || json_object_set_new(obj, key, value) != 0)
        *ok = false;
}

static void
s_append(json_t *array, json_t *value, bool *ok)
{
    if (!value || json_array_append_new(array, value) != 0)
        *ok = false;
}

static json_t *
s_ref(const ProtobufCMessageDescriptor *d, s_messages_t *m)
{
    char ref[S_REF_MAX];
    snprintf(ref, sizeof ref, S_SCHEMA_REF "%s", s_schema_name(d));
    s_remember(m, d);
    return json_pack("{s:s}", "$ref", ref);
}

/* The schema of one value of field f (not its repetition). */
static json_t *
s_value_schema(const ProtobufCFieldDescriptor *f, s_messages_t *m)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        return json_pack("{s:s,s:s}", "type", "integer", "format", "int32");
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        return json_pack("{s:s,s:i}", "type", "integer", "minimum", 0);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        return json_pack("{s:s,s:s,s:s}", "type", "string", "format", "int64", "pattern", "^-?[0-9]+$");
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return json_pack("{s:s,s:s,s:s}", "type", "string", "format", "uint64", "pattern", "^[0-9]+$");
    case PROTOBUF_C_TYPE_BOOL:
        return json_pack("{s:s}", "type", "boolean");
    case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_DOUBLE:
        return json_pack("{s:s}", "type", "number");
    case PROTOBUF_C_TYPE_STRING:
        return json_pack("{s:s}", "type", "string");
    case PROTOBUF_C_TYPE_BYTES:
        return json_pack("{s:s,s:s}", "type", "string", "contentEncoding", "base64");
    case PROTOBUF_C_TYPE_ENUM: {
        const ProtobufCEnumDescriptor *e = f->descriptor;
        json_t *names = json_array();
        bool ok = names != NULL;
        for (unsigned i = 0; ok && i < e->n_values; i++) {
            char name[CRM_CODEC_NAME_MAX];
            crm_codec_enum_short_name(e, &e->values[i], name, sizeof name);
            s_append(names, json_string(name), &ok);
        }
        if (!ok) {
            json_decref(names);
            return NULL;
        }
        return json_pack("{s:s,s:o}", "type", "string", "enum", names);
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessageDescriptor *d = f->descriptor;
        if (s_is(d, "crm.v1.Timestamp"))
            return json_pack("{s:s,s:s}", "type", "string", "format", "date-time");
        if (s_is(d, "crm.v1.Value"))
            return json_pack("{s:[s,s,s]}", "type", "string", "number", "boolean");
        return s_ref(d, m);
    }
    }
    return NULL;
}

/* The schema of field f as the JSON codec writes it: repeated fields as arrays, maps as objects. */
static json_t *
s_field_schema(const ProtobufCFieldDescriptor *f, s_messages_t *m)
{
    if (crm_codec_field_is_map(f)) {
        const ProtobufCMessageDescriptor *entry = f->descriptor;
        const ProtobufCFieldDescriptor *value = protobuf_c_message_descriptor_get_field(entry, 2);
        json_t *inner = value ? s_value_schema(value, m) : NULL;
        return inner ? json_pack("{s:s,s:o}", "type", "object", "additionalProperties", inner) : NULL;
    }
    json_t *one = s_value_schema(f, m);
    if (!one || f->label != PROTOBUF_C_LABEL_REPEATED)
        return one;
    return json_pack("{s:s,s:o}", "type", "array", "items", one);
}

static json_t *
s_message_schema(const ProtobufCMessageDescriptor *d, s_messages_t *m)
{
    json_t *props = json_object();
    bool ok = props != NULL;
    for (unsigned i = 0; ok && i < d->n_fields; i++) {
        char name[CRM_CODEC_NAME_MAX];
        crm_codec_json_name(&d->fields[i], name, sizeof name);
        s_set(props, name, s_field_schema(&d->fields[i], m), &ok);
    }
    if (!ok) {
        json_decref(props);
        return NULL;
    }
    return json_pack("{s:s,s:s,s:o}", "type", "object", "x-proto", d->name, "properties", props);
}

/* The message held by message field name of d (the route's body or reply field). */
static const ProtobufCMessageDescriptor *
s_sub(const ProtobufCMessageDescriptor *d, const char *name)
{
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(d, name);
    assert(f && f->type == PROTOBUF_C_TYPE_MESSAGE);
    return f->descriptor;
}

/* The schema of a query or path parameter filling field name of the request. */
static json_t *
s_param_schema(const gateway_route_t *route, const char *field, s_messages_t *m)
{
    const ProtobufCFieldDescriptor *f =
        route->request ? protobuf_c_message_descriptor_get_field_by_name(route->request, field) : NULL;
    if (!f)
        return json_pack("{s:s}", "type", "string");
    return s_value_schema(f, m);
}

static json_t *
s_parameters(const gateway_route_t *route, s_messages_t *m)
{
    json_t *params = json_array();
    bool ok = params != NULL;
    for (size_t i = 0; ok && i < GATEWAY_ROUTE_MAX_PATH_PARAMS && route->path[i].name; i++)
        s_append(params, json_pack("{s:s,s:s,s:b,s:o*}", "name", route->path[i].name, "in", "path",
                                   "required", 1, "schema", s_param_schema(route, route->path[i].field, m)),
                 &ok);
    for (size_t i = 0; ok && i < GATEWAY_ROUTE_MAX_QUERY && route->query[i].name; i++) {
        const gateway_param_t *q = &route->query[i];
        size_t len = strlen(q->name);
        if (len && q->name[len - 1] == '.') {
            char pattern[64];
            snprintf(pattern, sizeof pattern, "%s<name>", q->name);
            s_append(params, json_pack("{s:s,s:s,s:s,s:{s:s}}", "name", pattern, "in", "query",
                                       "description", "a family of parameters: the part after the dot "
                                       "names the custom field, the value is its value",
                                       "schema", "type", "string"), &ok);
            continue;
        }
        s_append(params, json_pack("{s:s,s:s,s:o*}", "name", q->name, "in", "query",
                                   "schema", s_param_schema(route, q->field, m)), &ok);
    }
    if (ok && (route->flags & GATEWAY_ROUTE_IDEMPOTENT))
        s_append(params, json_pack("{s:s,s:s,s:s,s:{s:s,s:i}}", "name", "Idempotency-Key", "in", "header",
                                   "description", "a repeat with the same key and body gets the first answer",
                                   "schema", "type", "string", "maxLength", 255), &ok);
    if (ok && (route->flags & GATEWAY_ROUTE_IF_MATCH))
        s_append(params, json_pack("{s:s,s:s,s:s,s:{s:s}}", "name", "If-Match", "in", "header",
                                   "description", "the ETag (version) the change expects; 412 when stale",
                                   "schema", "type", "string"), &ok);
    if (!ok) {
        json_decref(params);
        return NULL;
    }
    return params;
}

static json_t *
s_json_content(json_t *schema, const char *type)
{
    return schema ? json_pack("{s:{s:o}}", type, "schema", schema) : NULL;
}

static json_t *
s_request_body(const gateway_route_t *route, s_messages_t *m)
{
    if (!(route->flags & GATEWAY_ROUTE_BODY))
        return NULL;
    if (route->local == GATEWAY_LOCAL_EVENTS) {
        json_t *one = json_pack("{s:s}", "$ref", S_SCHEMA_REF S_CLOUD_EVENT);
        json_t *many = json_pack("{s:s,s:{s:s}}", "type", "array", "items", "$ref", S_SCHEMA_REF S_CLOUD_EVENT);
        return json_pack("{s:b,s:{s:{s:o},s:{s:o},s:{s:{s:s}}}}", "required", 1, "content",
                         "application/cloudevents-batch+json", "schema", many,
                         "application/cloudevents+json", "schema", one,
                         "application/json", "schema", "type", "object");
    }
    if (!route->request)
        return NULL;
    const ProtobufCMessageDescriptor *d = route->body_field ? s_sub(route->request, route->body_field)
                                                            : route->request;
    return json_pack("{s:b,s:o*}", "required", 1, "content", s_json_content(s_ref(d, m), "application/json"));
}

static json_t *
s_success(const gateway_route_t *route, s_messages_t *m)
{
    if (route->flags & GATEWAY_ROUTE_NO_CONTENT)
        return json_pack("{s:s}", "description", "done");
    if (route->local == GATEWAY_LOCAL_METRICS)
        return json_pack("{s:s,s:{s:{s:{s:s}}}}", "description", "Prometheus text exposition", "content",
                         "text/plain", "schema", "type", "string");
    if (route->local == GATEWAY_LOCAL_HEALTHZ || route->local == GATEWAY_LOCAL_READYZ
        || route->local == GATEWAY_LOCAL_OPENAPI || !route->reply)
        return json_pack("{s:s,s:{s:{s:{s:s}}}}", "description", "ok", "content", "application/json",
                         "schema", "type", "object");
    const ProtobufCMessageDescriptor *d = route->reply_field ? s_sub(route->reply, route->reply_field)
                                                             : route->reply;
    return json_pack("{s:s,s:o*}", "description", "ok", "content", s_json_content(s_ref(d, m), "application/json"));
}

/* "get /v1/contacts/{id}/loyalty" -> "getV1ContactsIdLoyalty": unique as the method and path are. */
static void
s_operation_id(const gateway_route_t *route, char *out, size_t size)
{
    size_t n = 0;
    bool upper = false;
    for (const char *p = route->method; *p && n + 1 < size; p++)
        out[n++] = (char) (*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
    upper = true;
    for (const char *p = route->pattern; *p && n + 1 < size; p++) {
        char c = *p;
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum) {
            upper = true;
            continue;
        }
        out[n++] = upper && c >= 'a' && c <= 'z' ? (char) (c - 'a' + 'A') : c;
        upper = false;
    }
    out[n] = '\0';
}

static json_t *
s_roles(const gateway_route_t *route)
{
    json_t *roles = json_array();
    bool ok = roles != NULL;
    static const Crm__V1__Role all[] = { CRM__V1__ROLE__ROLE_ADMIN, CRM__V1__ROLE__ROLE_AGENT,
                                         CRM__V1__ROLE__ROLE_ANALYST, CRM__V1__ROLE__ROLE_INTEGRATOR };
    for (size_t i = 0; ok && i < sizeof all / sizeof all[0]; i++)
        if (gateway_route_allows(route, all[i]))
            s_append(roles, json_string(gateway_role_name(all[i])), &ok);
    if (!ok) {
        json_decref(roles);
        return NULL;
    }
    return roles;
}

static json_t *
s_operation(const gateway_route_t *route, s_messages_t *m)
{
    char id[S_OPERATION_ID_MAX];
    s_operation_id(route, id, sizeof id);
    bool public_route = route->flags & GATEWAY_ROUTE_PUBLIC;
    char summary[S_OPERATION_ID_MAX];
    snprintf(summary, sizeof summary, "%s", route->rpc ? route->rpc : "answered by the gateway");
    json_t *op = json_pack("{s:s,s:s}", "operationId", id, "summary", summary);
    bool ok = op != NULL;
    if (ok)
        s_set(op, "parameters", s_parameters(route, m), &ok);
    json_t *body = ok ? s_request_body(route, m) : NULL;
    if (body)
        s_set(op, "requestBody", body, &ok);
    char status[8];
    snprintf(status, sizeof status, "%u", route->status);
    json_t *responses = json_object();
    if (!responses)
        ok = false;
    if (ok)
        s_set(responses, status, s_success(route, m), &ok);
    if (ok)
        s_set(responses, "default", json_pack("{s:s,s:{s:{s:{s:s}}}}", "description",
                                               "an error (RFC 9457)", "content", "application/problem+json",
                                               "schema", "$ref", S_SCHEMA_REF S_PROBLEM), &ok);
    s_set(op, "responses", responses, &ok);
    if (ok && public_route)
        s_set(op, "security", json_array(), &ok);
    if (ok && !public_route)
        s_set(op, "x-roles", s_roles(route), &ok);
    if (!ok) {
        json_decref(op);
        return NULL;
    }
    return op;
}

static json_t *
s_components(s_messages_t *m, bool *ok)
{
    json_t *schemas = json_object();
    if (!schemas) {
        *ok = false;
        return NULL;
    }
    s_set(schemas, S_PROBLEM,
          json_pack("{s:s,s:[s,s,s],s:{s:{s:s},s:{s:s},s:{s:s},s:{s:s},s:{s:s},s:{s:s}}}", "type", "object",
                    "required", "type", "title", "status", "properties", "type", "type", "string", "title",
                    "type", "string", "status", "type", "integer", "detail", "type", "string", "field",
                    "type", "string", "conflictId", "type", "string"), ok);
    s_set(schemas, S_CLOUD_EVENT,
          json_pack("{s:s,s:[s,s,s,s,s],s:{s:{s:s},s:{s:s},s:{s:s},s:{s:s},s:{s:s,s:s},s:{s:s},s:{s:s}}}",
                    "type", "object", "required", "specversion", "id", "source", "type", "data",
                    "properties", "specversion", "const", "1.0", "id", "type", "string", "source", "type",
                    "string", "type", "type", "string", "time", "type", "string", "format", "date-time",
                    "datacontenttype", "type", "string", "data", "type", "object"), ok);
    /* Schemas may name more messages: walk until every one met has its schema. */
    for (size_t i = 0; *ok && i < m->count; i++)
        s_set(schemas, s_schema_name(m->items[i]), s_message_schema(m->items[i], m), ok);
    json_t *comp = json_pack("{s:o,s:{s:{s:s,s:s}}}", "schemas", schemas, "securitySchemes", "bearer", "type",
                             "http", "scheme", "bearer");
    if (!comp)
        *ok = false;
    return comp;
}

int
gateway_openapi_build(json_t **doc_p)
{
    assert(doc_p);
    *doc_p = NULL;
    s_messages_t *m = calloc(1, sizeof *m);
    json_t *paths = json_object();
    bool ok = m && paths;
    for (size_t i = 0; ok && i < gateway_routes_count; i++) {
        const gateway_route_t *route = &gateway_routes[i];
        json_t *item = json_object_get(paths, route->pattern);
        if (!item) {
            item = json_object();
            s_set(paths, route->pattern, item, &ok);
        }
        char method[8];
        size_t n = 0;
        for (; route->method[n] && n + 1 < sizeof method; n++)
            method[n] = (char) (route->method[n] - 'A' + 'a');
        method[n] = '\0';
        if (ok)
            s_set(item, method, s_operation(route, m), &ok);
    }
    json_t *components = ok ? s_components(m, &ok) : NULL;
    int rc = !ok ? CRM_ENOMEM : m->overflow ? CRM_ETOOBIG : 0;
    free(m);
    if (rc) {
        json_decref(paths);
        json_decref(components);
        return rc;
    }
    *doc_p = json_pack("{s:s,s:{s:s,s:s,s:s},s:o,s:o,s:[{s:[]}]}", "openapi", GATEWAY_OPENAPI_VERSION,
                       "info", "title", "CRM suite HTTP API", "version", "1",
                       "description", "Customers, loyalty, feedback, analytics and notifications. "
                       "Keys travel as Authorization: Bearer <key>; x-roles names the roles a route allows.",
                       "paths", paths, "components", components, "security", "bearer");
    return *doc_p ? 0 : CRM_ENOMEM;
}

int
gateway_openapi_text(char **text_p)
{
    assert(text_p);
    *text_p = NULL;
    json_t *doc = NULL;
    int rc = gateway_openapi_build(&doc);
    if (rc)
        return rc;
    char *text = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(doc);
    if (!text)
        return CRM_ENOMEM;
    size_t len = strlen(text);
    char *out = realloc(text, len + 2);
    if (!out) {
        free(text);
        return CRM_ENOMEM;
    }
    out[len] = '\n';
    out[len + 1] = '\0';
    *text_p = out;
    return 0;
}
