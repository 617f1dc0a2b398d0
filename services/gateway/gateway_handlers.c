/* gateway_handlers.c: the routes' work: forwarding to services, keys, events, health and metrics. */
#include "gateway_handlers.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crm/v1/gateway.pb-c.h"
#include "crm/v1/ingest.pb-c.h"
#include "crm_codec.h"
#include "crm_error.h"
#include "crm_time.h"
#include "gateway_check.h"
#include "gateway_openapi.h"

#define S_DETAIL_MAX 512

const char *
gateway_client_field(const gateway_route_t *route, const char *path)
{
    if (!path || !route || !route->body_field)
        return path;
    size_t n = strlen(route->body_field);
    if (strncmp(path, route->body_field, n) == 0) {
        if (path[n] == '.')
            return path + n + 1;
        if (path[n] == '\0')
            return "";
    }
    return path;
}

static void
s_problem(gateway_call_t *call, gateway_problem_t problem, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
s_problem(gateway_call_t *call, gateway_problem_t problem, const char *field, const char *fmt, ...)
{
    char detail[S_DETAIL_MAX];
    va_list args;
    va_start(args, fmt);
    vsnprintf(detail, sizeof detail, fmt, args);
    va_end(args);
    gateway_answer_problem(&call->answer, problem, detail, field, NULL);
}

/* Answers msg as JSON with status; when ensure_arrays, empty repeated fields are written as []
 * so that a list with no items still has its key. */
static void
s_answer_message(gateway_call_t *call, unsigned status, const ProtobufCMessage *msg,
                 bool ensure_arrays)
{
    json_t *json = NULL;
    crm_codec_error_t err;
    int rc = crm_codec_json_from_message(msg, 0, &json, &err);
    if (rc) {
        s_problem(call, GATEWAY_PROBLEM_INTERNAL, NULL, "the answer could not be written as JSON: %s",
                  rc == CRM_ENOMEM ? "out of memory" : err.message);
        return;
    }
    const ProtobufCMessageDescriptor *d = msg->descriptor;
    for (unsigned i = 0; ensure_arrays && i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->label != PROTOBUF_C_LABEL_REPEATED || crm_codec_field_is_map(f))
            continue;
        char name[CRM_CODEC_NAME_MAX];
        crm_codec_json_name(f, name, sizeof name);
        if (!json_object_get(json, name))
            json_object_set_new(json, name, json_array());
    }
    if (gateway_answer_json(&call->answer, status, json))
        s_problem(call, GATEWAY_PROBLEM_INTERNAL, NULL, "out of memory");
    json_decref(json);
}

/* Parses the body as a JSON object. Returns it (new reference) or NULL with the answer made. */
static json_t *
s_body_object(gateway_call_t *call)
{
    if (call->body_len == 0) {
        s_problem(call, GATEWAY_PROBLEM_VALIDATION, NULL, "a JSON object is required as the body");
        return NULL;
    }
    json_error_t jerr;
    json_t *body = json_loadb(call->body, call->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!body) {
        if (json_error_code(&jerr) == json_error_out_of_memory)
            s_problem(call, GATEWAY_PROBLEM_INTERNAL, NULL, "out of memory");
        else
            s_problem(call, GATEWAY_PROBLEM_MALFORMED_JSON, NULL, "%s (line %d, column %d)",
                      jerr.text, jerr.line, jerr.column);
        return NULL;
    }
    if (!json_is_object(body)) {
        json_decref(body);
        s_problem(call, GATEWAY_PROBLEM_VALIDATION, NULL, "the body must be a JSON object");
        return NULL;
    }
    return body;
}

/* --- Forwarding to a service. */

typedef struct {
    size_t count;
    const char *names[GATEWAY_QUERY_MAX];
    const char *values[GATEWAY_QUERY_MAX];
    bool overflow;
} s_query_t;

static enum MHD_Result
s_collect_query(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void) kind;
    s_query_t *q = cls;
    if (q->count == GATEWAY_QUERY_MAX) {
        q->overflow = true;
        return MHD_NO;
    }
    q->names[q->count] = key;
    q->values[q->count] = value ? value : "";
    q->count++;
    return MHD_YES;
}

static bool
s_is_integer_type(ProtobufCType type)
{
    switch (type) {
    case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32: case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32: case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64: case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64:
        return true;
    default:
        return false;
    }
}

/* Sets request field `field` (proto name) of req to text, typed by the descriptor: integers
 * as JSON integers (when they fit) or strings, booleans from "true" or "false", anything else as
 * a string. name is the parameter as the client wrote it, for errors. Returns 0 or makes the
 * answer and returns CRM_EINVALID. */
static int
s_set_param(gateway_call_t *call, json_t *req, const char *field, const char *name,
            const char *text)
{
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(call->route->request, field);
    assert(f);
    if (json_object_get(req, f->name)) {
        s_problem(call, GATEWAY_PROBLEM_VALIDATION, name, "%s is given twice", name);
        return CRM_EINVALID;
    }
    size_t len = strlen(text);
    if (!crm_codec_utf8_valid(text, len)) {
        s_problem(call, GATEWAY_PROBLEM_VALIDATION, name, "%s is not UTF-8", name);
        return CRM_EINVALID;
    }
    json_t *value = NULL;
    if (s_is_integer_type(f->type)) {
        char *end = NULL;
        errno = 0;
        long long v = strtoll(text, &end, 10);
        if (!*text || *end || errno == ERANGE) {
            s_problem(call, GATEWAY_PROBLEM_VALIDATION, name, "%s must be a whole number", name);
            return CRM_EINVALID;
        }
        value = json_integer(v);
    } else if (f->type == PROTOBUF_C_TYPE_BOOL) {
        if (strcmp(text, "true") != 0 && strcmp(text, "false") != 0) {
            s_problem(call, GATEWAY_PROBLEM_VALIDATION, name, "%s must be true or false", name);
            return CRM_EINVALID;
        }
        value = json_boolean(strcmp(text, "true") == 0);
    } else {
        value = json_stringn(text, len);
    }
    if (json_object_set_new(req, f->name, value)) {
        s_problem(call, GATEWAY_PROBLEM_INTERNAL, NULL, "out of memory");
        return CRM_EINVALID;
    }
    return 0;
}

/* True when a key of obj names the same request field as f. */
static bool
s_body_names(const json_t *obj, const ProtobufCMessageDescriptor *desc,
             const ProtobufCFieldDescriptor *f)
{
    const char *key;
    json_t *value;
    json_object_foreach((json_t *) obj, key, value) {
        (void) value;
        if (crm_codec_field_by_json_name(desc, key) == f)
            return true;
    }
    return false;
}

static int
s_path_params(gateway_call_t *call, json_t *req)
{
    const gateway_route_t *route = call->route;
    for (size_t i = 0; i < call->values.count; i++) {
        const gateway_param_t *p = &route->path[i];
        assert(p->name && p->field);
        const ProtobufCFieldDescriptor *f =
            protobuf_c_message_descriptor_get_field_by_name(route->request, p->field);
        assert(f);
        if (!route->body_field && s_body_names(req, route->request, f)) {
            char name[CRM_CODEC_NAME_MAX];
            crm_codec_json_name(f, name, sizeof name);
            s_problem(call, GATEWAY_PROBLEM_VALIDATION, name,
                      "%s comes from the path; leave it out of the body", name);
            return CRM_EINVALID;
        }
        if (s_set_param(call, req, p->field, p->name, call->values.values[i]))
            return CRM_EINVALID;
    }
    return 0;
}

static int
s_query_params(gateway_call_t *call, json_t *req)
{
    const gateway_route_t *route = call->route;
    s_query_t q = { .count = 0 };
    MHD_get_connection_values(call->conn, MHD_GET_ARGUMENT_KIND, s_collect_query, &q);
    if (q.overflow) {
        s_problem(call, GATEWAY_PROBLEM_VALIDATION, NULL, "more than %d query parameters",
                  GATEWAY_QUERY_MAX);
        return CRM_EINVALID;
    }
    for (size_t i = 0; i < q.count; i++) {
        const char *name = q.names[i];
        const gateway_param_t *match = NULL;
        for (size_t k = 0; k < GATEWAY_ROUTE_MAX_QUERY && route->query[k].name; k++) {
            const gateway_param_t *p = &route->query[k];
            size_t n = strlen(p->name);
            bool prefix = n && p->name[n - 1] == '.';
            if (prefix ? strncmp(name, p->name, n) == 0 && name[n] : strcmp(name, p->name) == 0) {
                match = p;
                break;
            }
        }
        if (!match) {
            s_problem(call, GATEWAY_PROBLEM_VALIDATION, name, "unknown query parameter %s", name);
            return CRM_EINVALID;
        }
        if (match->value_field) {
            if (s_set_param(call, req, match->field, name, name + strlen(match->name))
                || s_set_param(call, req, match->value_field, name, q.values[i]))
                return CRM_EINVALID;
        } else if (s_set_param(call, req, match->field, name, q.values[i])) {
            return CRM_EINVALID;
        }
    }
    return 0;
}

static int
s_if_match(gateway_call_t *call, json_t *req)
{
    const char *header = MHD_lookup_connection_value(call->conn, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_IF_MATCH);
    if (!header)
        return 0;
    uint64_t version = 0;
    if (gateway_if_match_parse(header, &version) != 0) {
        s_problem(call, GATEWAY_PROBLEM_VALIDATION, "If-Match",
                  "If-Match must be one ETag such as \"5\" (or W/\"5\", or *)");
        return CRM_EINVALID;
    }
    if (version == 0)
        return 0;
    char text[32];
    snprintf(text, sizeof text, "%" PRIu64, version);
    if (json_object_set_new(req, "if_match_version", json_string(text))) {
        s_problem(call, GATEWAY_PROBLEM_INTERNAL, NULL, "out of memory");
        return CRM_EINVALID;
    }
    return 0;
}

/* update_mask: the body's top-level keys, as lowerCamelCase names of the body's message. */
static int
s_update_mask(gateway_call_t *call, json_t *req, const json_t *body)
{
    const gateway_route_t *route = call->route;
    const ProtobufCFieldDescriptor *bf =
        protobuf_c_message_descriptor_get_field_by_name(route->request, route->body_field);
    assert(bf && bf->type == PROTOBUF_C_TYPE_MESSAGE);
    const ProtobufCMessageDescriptor *body_desc = bf->descriptor;
    json_t *mask = json_array();
    const char *key;
    json_t *value;
    json_object_foreach((json_t *) body, key, value) {
        (void) value;
        const ProtobufCFieldDescriptor *f = crm_codec_field_by_json_name(body_desc, key);
        char name[CRM_CODEC_NAME_MAX];
        if (f)
            crm_codec_json_name(f, name, sizeof name);
        else
            snprintf(name, sizeof name, "%s", key);   /* unknown: the decode below says so */
        json_array_append_new(mask, json_string(name));
    }
    if (!mask || json_object_set_new(req, "update_mask", mask)) {
        s_problem(call, GATEWAY_PROBLEM_INTERNAL, NULL, "out of memory");
        return CRM_EINVALID;
    }
    return 0;
}

/* Builds the request message from the path, the query, the headers and the body. Returns it, or
 * NULL with the answer made. */
static ProtobufCMessage *
s_build_request(gateway_call_t *call)
{
    const gateway_route_t *route = call->route;
    json_t *body = NULL;
    json_t *req = NULL;
    ProtobufCMessage *msg = NULL;
    if (route->flags & GATEWAY_ROUTE_BODY) {
        body = s_body_object(call);
        if (!body)
            goto out;
    }
    if (route->body_field) {
        req = json_object();
        if (!req || (body && json_object_set(req, route->body_field, body))) {
            s_problem(call, GATEWAY_PROBLEM_INTERNAL, NULL, "out of memory");
            goto out;
        }
    } else {
        req = body ? json_incref(body) : json_object();
    }
    if (s_path_params(call, req) || s_query_params(call, req))
        goto out;
    if ((route->flags & GATEWAY_ROUTE_IF_MATCH) && s_if_match(call, req))
        goto out;
    if ((route->flags & GATEWAY_ROUTE_UPDATE_MASK) && s_update_mask(call, req, body))
        goto out;
    crm_codec_error_t err;
    int rc = crm_codec_json_to_message(route->request, req, &msg, &err);
    if (rc == 0)
        rc = gateway_check_message(msg, call->env->settings->max_string, &err);
    if (rc) {
        crm_codec_message_free(&msg);
        if (rc == CRM_ENOMEM) {
            s_problem(call, GATEWAY_PROBLEM_INTERNAL, NULL, "out of memory");
        } else {
            const char *field = gateway_client_field(route, err.path);
            s_problem(call, GATEWAY_PROBLEM_VALIDATION, field, "%s%s%s", field && *field ? field : "",
                      field && *field ? ": " : "", err.message);
        }
    }
out:
    json_decref(body);
    json_decref(req);
    return msg;
}

/* The message held by field name of msg (a message field), or NULL. Borrowed. */
static const ProtobufCMessage *
s_sub_message(const ProtobufCMessage *msg, const char *name)
{
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(msg->descriptor, name);
    assert(f && f->type == PROTOBUF_C_TYPE_MESSAGE && f->label != PROTOBUF_C_LABEL_REPEATED);
    return *(ProtobufCMessage *const *) ((const char *) msg + f->offset);
}

/* Sets Location to the request path + "/" + id, unless it does not fit. */
static void
s_location(gateway_call_t *call, const char *id)
{
    gateway_answer_t *a = &call->answer;
    int n = snprintf(a->location, sizeof a->location, "%s/%s", call->path, id);
    if (n < 0 || (size_t) n >= sizeof a->location)
        a->location[0] = '\0';
}

/* The ETag and Location of an answer that is one record. */
static void
s_record_headers(gateway_call_t *call, const ProtobufCMessage *record)
{
    const gateway_route_t *route = call->route;
    const ProtobufCMessageDescriptor *d = record->descriptor;
    if (route->flags & GATEWAY_ROUTE_ETAG) {
        const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(d, "version");
        if (f && f->type == PROTOBUF_C_TYPE_UINT64) {
            uint64_t version = *(const uint64_t *) ((const char *) record + f->offset);
            if (version)
                gateway_etag_format(version, call->answer.etag);
        }
    }
    if (route->flags & GATEWAY_ROUTE_LOCATION) {
        const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(d, "id");
        const char *id = f && f->type == PROTOBUF_C_TYPE_STRING
                             ? *(char *const *) ((const char *) record + f->offset) : NULL;
        if (id && *id)
            s_location(call, id);
    }
}

static void
s_rpc_failed(gateway_call_t *call, int rc)
{
    const gateway_route_t *route = call->route;
    const char *service = crm_service_name(route->service);
    switch (rc) {
    case CRM_EUNAVAIL:
        gateway_metrics_rpc_error(call->env->metrics, route->service, GATEWAY_RPC_ERR_UNREACHABLE);
        s_problem(call, GATEWAY_PROBLEM_UNAVAILABLE, NULL,
                  "the %s service is not reachable; try again later", service);
        break;
    case CRM_ETIMEOUT:
        gateway_metrics_rpc_error(call->env->metrics, route->service, GATEWAY_RPC_ERR_DEADLINE);
        s_problem(call, GATEWAY_PROBLEM_TIMEOUT, NULL, "the %s service did not answer within %d ms",
                  service, call->env->settings->rpc_timeout_ms);
        break;
    case CRM_ETOOBIG:
        s_problem(call, GATEWAY_PROBLEM_TOO_LARGE, NULL, "the request is too large for the %s service",
                  service);
        break;
    default:
        gateway_metrics_rpc_error(call->env->metrics, route->service, GATEWAY_RPC_ERR_TRANSPORT);
        s_problem(call, GATEWAY_PROBLEM_INTERNAL, NULL, "calling the %s service failed: %s", service,
                  crm_strerror(rc));
        break;
    }
}

static void
s_rpc_refused(gateway_call_t *call, const crm_rpc_result_t *result)
{
    const gateway_route_t *route = call->route;
    gateway_problem_t problem = gateway_problem_from_rpc(result->status);
    if (problem == GATEWAY_PROBLEM_INTERNAL)
        gateway_metrics_rpc_error(call->env->metrics, route->service, GATEWAY_RPC_ERR_INTERNAL);
    else if (problem == GATEWAY_PROBLEM_UNAVAILABLE)
        gateway_metrics_rpc_error(call->env->metrics, route->service, GATEWAY_RPC_ERR_UNAVAILABLE);
    else if (problem == GATEWAY_PROBLEM_TIMEOUT)
        gateway_metrics_rpc_error(call->env->metrics, route->service, GATEWAY_RPC_ERR_TIMEOUT);
    const char *field = gateway_client_field(route, result->field);
    const char *detail = result->error;
    if (!detail || !*detail)
        detail = crm_rpc_status_name(result->status);
    gateway_answer_problem(&call->answer, problem, detail, field, result->conflict_id);
}

/* Runs on the dispatcher's thread: the connection goes back to MHD, which calls us again. */
static void
s_forward_done(gateway_rpc_call_t *rpc, void *arg)
{
    (void) rpc;
    gateway_call_t *call = arg;
    MHD_resume_connection(call->conn);
}

void
gateway_handle_forward(gateway_call_t *call)
{
    const gateway_route_t *route = call->route;
    const gateway_env_t *env = call->env;
    gateway_rpc_t *rpc = env->rpcs[route->service];
    assert(rpc);
    size_t packed_len = 0;
    ProtobufCMessage *request = s_build_request(call);
    if (!request)
        return;
    int rc = crm_codec_pb_encode(request, &call->rpc_body, &packed_len);
    crm_codec_message_free(&request);
    if (rc) {
        s_problem(call, GATEWAY_PROBLEM_INTERNAL, NULL, "out of memory");
        return;
    }
    call->rpc = (gateway_rpc_call_t) {
        .method = route->rpc,
        .key_id = call->caller.id,
        .role = gateway_role_name(call->caller.role),
        .body = call->rpc_body,
        .body_len = packed_len,
        .timeout_ms = env->settings->rpc_timeout_ms,
    };
    /* Suspend first: the dispatcher may finish the call before submit returns. */
    call->state = GATEWAY_CALL_WAITING;
    MHD_suspend_connection(call->conn);
    rc = gateway_rpc_submit(rpc, &call->rpc, s_forward_done, call);
    if (rc) {
        call->rpc.rc = rc;
        MHD_resume_connection(call->conn);
    }
}

/* Answers a forwarded request once its service has answered (or failed to). */
static void
s_forward_finish(gateway_call_t *call)
{
    const gateway_route_t *route = call->route;
    const gateway_env_t *env = call->env;
    crm_rpc_result_t *result = &call->rpc.result;
    ProtobufCMessage *reply = NULL;
    free(call->rpc_body);
    call->rpc_body = NULL;
    if (call->rpc.rc) {
        s_rpc_failed(call, call->rpc.rc);
        goto out;
    }
    if (result->status != CRM_RPC_OK) {
        s_rpc_refused(call, result);
        goto out;
    }
    if (route->flags & GATEWAY_ROUTE_NO_CONTENT) {
        gateway_answer_clear(&call->answer);
        call->answer.status = route->status;
        goto out;
    }
    crm_codec_error_t err;
    int rc = crm_codec_pb_decode(route->reply, result->body, result->body_len, &reply, &err);
    if (rc) {
        gateway_metrics_rpc_error(env->metrics, route->service, GATEWAY_RPC_ERR_TRANSPORT);
        s_problem(call, GATEWAY_PROBLEM_INTERNAL, NULL, "the %s service sent a reply that does not "
                  "read as %s: %s", crm_service_name(route->service), route->reply->name, err.message);
        goto out;
    }
    const ProtobufCMessage *answer = reply;
    if (route->reply_field) {
        answer = s_sub_message(reply, route->reply_field);
        if (!answer) {
            s_problem(call, GATEWAY_PROBLEM_INTERNAL, NULL, "the %s service's reply has no %s",
                      crm_service_name(route->service), route->reply_field);
            goto out;
        }
    }
    s_answer_message(call, route->status, answer, route->reply_field == NULL);
    if (call->answer.status == route->status)
        s_record_headers(call, answer);
out:
    crm_codec_message_free(&reply);
    crm_rpc_result_clear(result);
}

/* --- Keys. */

void
gateway_handle_key_create(gateway_call_t *call)
{
    const gateway_env_t *env = call->env;
    json_t *body = s_body_object(call);
    ProtobufCMessage *msg = NULL;
    Crm__V1__ApiKey *key = NULL;
    char secret[GATEWAY_KEY_SECRET_SIZE] = "";
    if (!body)
        goto out;
    crm_codec_error_t err;
    int rc = crm_codec_json_to_message(&crm__v1__create_key_request__descriptor, body, &msg, &err);
    if (rc) {
        s_problem(call, rc == CRM_ENOMEM ? GATEWAY_PROBLEM_INTERNAL : GATEWAY_PROBLEM_VALIDATION,
                  err.path, "%s%s%s", err.path, err.path[0] ? ": " : "", err.message);
        goto out;
    }
    const Crm__V1__CreateKeyRequest *req = (const Crm__V1__CreateKeyRequest *) msg;
    if (!*req->name || strlen(req->name) > GATEWAY_KEY_NAME_MAX) {
        s_problem(call, GATEWAY_PROBLEM_VALIDATION, "name", "name is required: 1 to %d bytes",
                  GATEWAY_KEY_NAME_MAX);
        goto out;
    }
    if (req->role == CRM__V1__ROLE__ROLE_UNSPECIFIED) {
        s_problem(call, GATEWAY_PROBLEM_VALIDATION, "role",
                  "role is required: admin, agent, analyst or integrator");
        goto out;
    }
    rc = gateway_keys_create(env->keys, req->name, req->role, call->caller.id, NULL, false, secret,
                             &key);
    if (rc == CRM_EINVALID) {
        s_problem(call, GATEWAY_PROBLEM_VALIDATION, "name",
                  "name must be printable UTF-8 text of 1 to %d bytes", GATEWAY_KEY_NAME_MAX);
        goto out;
    }
    if (rc) {
        s_problem(call, GATEWAY_PROBLEM_INTERNAL, NULL, "the key could not be stored: %s",
                  crm_strerror(rc));
        goto out;
    }
    gateway_metrics_key_change(env->metrics, true);
    crm_log_info(env->log, "api key created", "key_id", key->id, "role",
                 gateway_role_name(key->role), "name", key->name, "prefix", key->prefix,
                 "by", call->caller.id);
    Crm__V1__CreateKeyReply reply = CRM__V1__CREATE_KEY_REPLY__INIT;
    reply.key = key;
    reply.secret = secret;
    s_answer_message(call, call->route->status, &reply.base, false);
    s_location(call, key->id);
out:
    explicit_bzero(secret, sizeof secret);
    crm_codec_message_free((ProtobufCMessage **) &key);
    crm_codec_message_free(&msg);
    json_decref(body);
}

void
gateway_handle_key_list(gateway_call_t *call)
{
    Crm__V1__ListKeysReply *reply = NULL;
    int rc = gateway_keys_list(call->env->keys, &reply);
    if (rc) {
        s_problem(call, GATEWAY_PROBLEM_INTERNAL, NULL, "the keys could not be read: %s",
                  crm_strerror(rc));
        return;
    }
    s_answer_message(call, call->route->status, &reply->base, true);
    crm_codec_message_free((ProtobufCMessage **) &reply);
}

void
gateway_handle_key_revoke(gateway_call_t *call)
{
    const gateway_env_t *env = call->env;
    assert(call->values.count == 1);
    const char *id = call->values.values[0];
    Crm__V1__ApiKey *key = NULL;
    int rc = gateway_keys_revoke(env->keys, id, call->caller.id, &key);
    if (rc == CRM_ENOTFOUND) {
        s_problem(call, GATEWAY_PROBLEM_NOT_FOUND, NULL, "no API key has the id %s", id);
        return;
    }
    if (rc == CRM_ECONFLICT) {
        s_problem(call, GATEWAY_PROBLEM_CONFLICT, NULL,
                  "this is the last valid admin key; make another admin key first");
        return;
    }
    if (rc) {
        s_problem(call, GATEWAY_PROBLEM_INTERNAL, NULL, "the key could not be revoked: %s",
                  crm_strerror(rc));
        return;
    }
    gateway_metrics_key_change(env->metrics, false);
    crm_log_info(env->log, "api key revoked", "key_id", key->id, "role",
                 gateway_role_name(key->role), "name", key->name, "by", call->caller.id);
    crm_codec_message_free((ProtobufCMessage **) &key);
    gateway_answer_clear(&call->answer);
    call->answer.status = call->route->status;
}

/* --- Events. */

typedef struct {
    size_t count;
    gateway_ce_header_t headers[GATEWAY_CE_HEADERS_MAX];
    bool overflow;
} s_ce_headers_t;

static enum MHD_Result
s_collect_ce(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void) kind;
    s_ce_headers_t *h = cls;
    if (strncasecmp(key, "ce-", 3) != 0)
        return MHD_YES;
    if (h->count == GATEWAY_CE_HEADERS_MAX) {
        h->overflow = true;
        return MHD_NO;
    }
    h->headers[h->count].name = key;
    h->headers[h->count].value = value;
    h->count++;
    return MHD_YES;
}

/* Runs on the committer thread: the connection goes back to MHD, which calls us again. */
static void
s_events_committed(gateway_ingest_batch_t *batch, void *arg)
{
    (void) batch;
    gateway_call_t *call = arg;
    MHD_resume_connection(call->conn);
}

/* Answers the batch: 200 with one result per event, or 503 when the log could not be written. */
static void
s_events_answer(gateway_call_t *call)
{
    gateway_ingest_batch_t *batch = &call->batch;
    if (batch->rc) {
        crm_log_error(call->env->log, "ingest commit failed", "error", crm_errname(batch->rc));
        s_problem(call, GATEWAY_PROBLEM_UNAVAILABLE, NULL,
                  "the ingest log could not be written (%s); nothing was kept, send the events again",
                  crm_strerror(batch->rc));
        return;
    }
    size_t accepted = 0, duplicate = 0, rejected = 0;
    gateway_ingest_batch_tally(batch, &accepted, &duplicate, &rejected);
    gateway_metrics_ingest(call->env->metrics, GATEWAY_TRANSPORT_HTTP, accepted, duplicate, rejected);
    Crm__V1__IngestResult *results = calloc(batch->count ? batch->count : 1, sizeof *results);
    Crm__V1__IngestResult **pointers = calloc(batch->count ? batch->count : 1, sizeof *pointers);
    if (!results || !pointers) {
        s_problem(call, GATEWAY_PROBLEM_INTERNAL, NULL, "out of memory");
    } else {
        for (size_t i = 0; i < batch->count; i++) {
            gateway_ingest_result(&batch->events[i], &results[i]);
            pointers[i] = &results[i];
        }
        Crm__V1__IngestReply reply = CRM__V1__INGEST_REPLY__INIT;
        reply.n_results = batch->count;
        reply.results = pointers;
        s_answer_message(call, call->route->status, &reply.base, true);
    }
    free(pointers);
    free(results);
}

void
gateway_handle_events(gateway_call_t *call)
{
    const gateway_env_t *env = call->env;
    const char *content_type = MHD_lookup_connection_value(call->conn, MHD_HEADER_KIND,
                                                           MHD_HTTP_HEADER_CONTENT_TYPE);
    gateway_ce_mode_t mode;
    if (gateway_ce_mode(content_type, &mode) != 0) {
        s_problem(call, GATEWAY_PROBLEM_MEDIA_TYPE, NULL, "send " GATEWAY_CE_STRUCTURED_TYPE ", "
                  GATEWAY_CE_BATCH_TYPE " or " GATEWAY_CE_BINARY_TYPE " with ce-* headers");
        return;
    }
    s_ce_headers_t headers = { .count = 0 };
    if (mode == GATEWAY_CE_BINARY) {
        MHD_get_connection_values(call->conn, MHD_HEADER_KIND, s_collect_ce, &headers);
        if (headers.overflow) {
            s_problem(call, GATEWAY_PROBLEM_VALIDATION, NULL, "more than %d ce-* headers",
                      GATEWAY_CE_HEADERS_MAX);
            return;
        }
    }
    gateway_ce_limits_t limits = { .max_batch = env->settings->max_batch,
                                   .max_string = env->settings->max_string };
    char detail[GATEWAY_CE_ERROR_MAX];
    int rc = gateway_ce_parse(mode, call->body, call->body_len, headers.headers, headers.count,
                              &limits, &call->batch, detail);
    if (rc == CRM_ETOOBIG) {
        s_problem(call, GATEWAY_PROBLEM_BATCH_TOO_LARGE, NULL, "%s", detail);
        return;
    }
    if (rc == CRM_EINVALID) {
        bool json = strncmp(detail, "invalid JSON", 12) == 0;
        s_problem(call, json ? GATEWAY_PROBLEM_MALFORMED_JSON : GATEWAY_PROBLEM_VALIDATION, NULL,
                  "%s", detail);
        return;
    }
    if (rc) {
        s_problem(call, GATEWAY_PROBLEM_INTERNAL, NULL, "out of memory");
        return;
    }
    bool pending = false;
    for (size_t i = 0; i < call->batch.count && !pending; i++)
        pending = call->batch.events[i].pending;
    if (!pending) {
        s_events_answer(call);
        call->state = GATEWAY_CALL_ANSWERED;
        return;
    }
    /* Suspend first: the committer may hand the batch back before submit returns. */
    call->state = GATEWAY_CALL_WAITING;
    MHD_suspend_connection(call->conn);
    rc = gateway_ingest_submit(env->ingest, &call->batch, s_events_committed, call);
    if (rc) {
        call->batch.rc = rc;
        MHD_resume_connection(call->conn);
    }
}

/* --- Health and metrics. */

void
gateway_handle_healthz(gateway_call_t *call)
{
    static const char ok[] = "{\"status\":\"ok\"}";
    if (gateway_answer_text(&call->answer, call->route->status, GATEWAY_JSON, ok, sizeof ok - 1))
        s_problem(call, GATEWAY_PROBLEM_INTERNAL, NULL, "out of memory");
}

void
gateway_handle_readyz(gateway_call_t *call)
{
    const gateway_env_t *env = call->env;
    json_t *down = json_array();
    for (size_t svc = 0; svc < CRM_SVC_COUNT; svc++) {
        if (!env->rpcs[svc])
            continue;
        char method[CRM_RPC_METHOD_SIZE];
        snprintf(method, sizeof method, "%s.Ping", crm_service_name((crm_service_id_t) svc));
        gateway_rpc_call_t ping = { .method = method, .timeout_ms = env->settings->ready_timeout_ms };
        int rc = gateway_rpc_call(env->rpcs[svc], &ping);
        if (rc || ping.result.status != CRM_RPC_OK)
            json_array_append_new(down, json_string(crm_service_name((crm_service_id_t) svc)));
        crm_rpc_result_clear(&ping.result);
    }
    json_t *doc = NULL;
    if (down && json_array_size(down) == 0) {
        doc = json_pack("{s:s}", "status", "ready");
    } else if (down) {
        char reason[S_DETAIL_MAX] = "not answering:";
        size_t i;
        json_t *name;
        json_array_foreach(down, i, name) {
            size_t len = strlen(reason);
            snprintf(reason + len, sizeof reason - len, " %s", json_string_value(name));
        }
        doc = json_pack("{s:s, s:s, s:O}", "status", "not ready", "reason", reason,
                        "unavailable", down);
    }
    unsigned status = down && json_array_size(down) == 0 ? 200 : 503;
    if (!doc || gateway_answer_json(&call->answer, status, doc))
        s_problem(call, GATEWAY_PROBLEM_INTERNAL, NULL, "out of memory");
    json_decref(doc);
    json_decref(down);
}

void
gateway_handle_metrics(gateway_call_t *call)
{
    char *text = NULL;
    size_t len = 0;
    if (crm_metrics_render(call->env->registry, &text, &len) != 0) {
        s_problem(call, GATEWAY_PROBLEM_INTERNAL, NULL, "the metrics could not be rendered");
        return;
    }
    gateway_answer_clear(&call->answer);
    call->answer.body = text;
    call->answer.body_len = len;
    call->answer.status = call->route->status;
    snprintf(call->answer.content_type, sizeof call->answer.content_type, "%s", GATEWAY_METRICS_TYPE);
}

void
gateway_handle_openapi(gateway_call_t *call)
{
    char *text = NULL;
    if (gateway_openapi_text(&text) != 0) {
        s_problem(call, GATEWAY_PROBLEM_INTERNAL, NULL, "the API description could not be made");
        return;
    }
    gateway_answer_clear(&call->answer);
    call->answer.body = text;
    call->answer.body_len = strlen(text);
    call->answer.status = call->route->status;
    snprintf(call->answer.content_type, sizeof call->answer.content_type, "%s", "application/json");
}

/* --- The audit log. */

void
gateway_handle_audit_list(gateway_call_t *call)
{
    const char *size = MHD_lookup_connection_value(call->conn, MHD_GET_ARGUMENT_KIND, "pageSize");
    const char *token = MHD_lookup_connection_value(call->conn, MHD_GET_ARGUMENT_KIND, "pageToken");
    char *end = NULL;
    unsigned long page = size ? strtoul(size, &end, 10) : 0;
    if (size && (!*size || *end || page > GATEWAY_AUDIT_PAGE_MAX)) {
        s_problem(call, GATEWAY_PROBLEM_VALIDATION, "pageSize", "pageSize: 0 to %d", GATEWAY_AUDIT_PAGE_MAX);
        return;
    }
    Crm__V1__ListAuditEntriesReply *reply = NULL;
    int rc = gateway_audit_list(call->env->audit, (uint32_t) page, token ? token : "", &reply);
    if (rc == CRM_EINVALID) {
        s_problem(call, GATEWAY_PROBLEM_VALIDATION, "pageToken", "not a page token of this list");
        return;
    }
    if (rc) {
        s_problem(call, GATEWAY_PROBLEM_INTERNAL, NULL, "the audit log could not be read: %s", crm_strerror(rc));
        return;
    }
    s_answer_message(call, call->route->status, &reply->base, true);
    crm_codec_message_free((ProtobufCMessage **) &reply);
}

void
gateway_handle_audit_verify(gateway_call_t *call)
{
    Crm__V1__VerifyAuditReply reply = CRM__V1__VERIFY_AUDIT_REPLY__INIT;
    int rc = gateway_audit_verify(call->env->audit, &reply);
    if (rc) {
        s_problem(call, GATEWAY_PROBLEM_INTERNAL, NULL, "the audit log could not be read: %s", crm_strerror(rc));
        return;
    }
    s_answer_message(call, call->route->status, &reply.base, true);
}

void
gateway_audit_call(gateway_call_t *call)
{
    const gateway_route_t *route = call->route;
    if (!route || !(route->flags & GATEWAY_ROUTE_AUDITED) || call->answer.status >= 400 || call->answer.replayed)
        return;
    static const char *const local_names[] = {
        [GATEWAY_LOCAL_KEY_CREATE] = "keys.create", [GATEWAY_LOCAL_KEY_REVOKE] = "keys.revoke",
        [GATEWAY_LOCAL_EXPORT] = "customers.export",
    };
    const char *operation = route->rpc;
    if (!operation && route->local < sizeof local_names / sizeof local_names[0])
        operation = local_names[route->local];
    Crm__V1__AuditEntry entry = CRM__V1__AUDIT_ENTRY__INIT;
    entry.key_id = call->caller.id;
    entry.role = call->caller.role;
    entry.method = (char *) call->method;
    entry.path = call->path;
    entry.status = call->answer.status;
    entry.operation = (char *) (operation ? operation : "");
    int rc = gateway_audit_append(call->env->audit, &entry, crm_time_now_us());
    if (rc)
        crm_log_error(call->env->log, "writing the audit log failed", "operation", entry.operation,
                      "key_id", entry.key_id, "error", crm_errname(rc));
}

/* --- Export of one customer. */

#define S_EXPORT_PAGE_SIZE 500          /* items asked per page */
#define S_EXPORT_PAGES_MAX 2000         /* pages read from one route at most */
#define S_EXPORT_PREFIX "/v1/contacts/{id}"

/* Calls route's method with request (a JSON object, borrowed) and fills *reply_json with the
 * answer (caller decrefs). Returns 0, CRM_ENOTFOUND, CRM_EUNAVAIL (no answer), or another code
 * with a problem made. */
static int
s_export_call(gateway_call_t *call, const gateway_route_t *route, json_t *request, json_t **reply_json)
{
    const gateway_env_t *env = call->env;
    ProtobufCMessage *msg = NULL, *reply = NULL;
    void *body = NULL;
    size_t body_len = 0;
    crm_codec_error_t err;
    int rc = crm_codec_json_to_message(route->request, request, &msg, &err);
    if (rc == 0)
        rc = crm_codec_pb_encode(msg, &body, &body_len);
    crm_codec_message_free(&msg);
    if (rc) {
        free(body);
        s_problem(call, GATEWAY_PROBLEM_INTERNAL, NULL, "the export could not ask %s: %s", route->rpc,
                  crm_strerror(rc));
        return rc;
    }
    gateway_rpc_call_t rpc = {
        .method = route->rpc, .key_id = call->caller.id, .role = gateway_role_name(call->caller.role),
        .body = body, .body_len = body_len, .timeout_ms = env->settings->rpc_timeout_ms,
    };
    rc = gateway_rpc_call(env->rpcs[route->service], &rpc);
    free(body);
    if (rc == 0 && rpc.result.status == CRM_RPC_NOT_FOUND)
        rc = CRM_ENOTFOUND;
    else if (rc == 0 && rpc.result.status != CRM_RPC_OK)
        rc = CRM_EUNAVAIL;
    else if (rc)
        rc = CRM_EUNAVAIL;
    if (rc == 0)
        rc = crm_codec_pb_decode(route->reply, rpc.result.body, rpc.result.body_len, &reply, &err);
    if (rc == 0)
        rc = crm_codec_json_from_message(reply, 0, reply_json, &err);
    crm_codec_message_free(&reply);
    crm_rpc_result_clear(&rpc.result);
    return rc;
}

/* The request field a route fills from the query parameter name, or NULL. */
static const char *
s_query_field(const gateway_route_t *route, const char *name)
{
    for (size_t k = 0; k < GATEWAY_ROUTE_MAX_QUERY && route->query[k].name; k++)
        if (strcmp(route->query[k].name, name) == 0)
            return route->query[k].field;
    return NULL;
}

/* Reads every page of route for the customer (its id in field id_field) into *out. */
static int
s_export_route(gateway_call_t *call, const gateway_route_t *route, const char *id_field, const char *id,
               json_t **out)
{
    const char *size_field = s_query_field(route, "pageSize");
    const char *token_field = s_query_field(route, "pageToken");
    json_t *all = NULL;
    char token[GATEWAY_SEGMENT_MAX] = "";
    int rc = 0;
    for (int page = 0; rc == 0 && page < S_EXPORT_PAGES_MAX; page++) {
        json_t *req = json_object();
        json_object_set_new(req, id_field, json_string(id));
        if (size_field)
            json_object_set_new(req, size_field, json_integer(S_EXPORT_PAGE_SIZE));
        if (token_field && token[0])
            json_object_set_new(req, token_field, json_string(token));
        json_t *got = NULL;
        rc = s_export_call(call, route, req, &got);
        json_decref(req);
        if (rc)
            break;
        const char *next = json_string_value(json_object_get(got, "nextPageToken"));
        snprintf(token, sizeof token, "%s", next && token_field ? next : "");
        json_object_del(got, "nextPageToken");
        if (!all) {
            all = got;
        } else {
            const char *key;
            json_t *value;
            json_object_foreach(got, key, value)
                if (json_is_array(value))
                    json_array_extend(json_object_get(all, key), value);
            json_decref(got);
        }
        if (!token[0])
            break;
    }
    if (rc) {
        json_decref(all);
        return rc;
    }
    *out = all;
    return 0;
}

void
gateway_handle_export(gateway_call_t *call)
{
    const gateway_env_t *env = call->env;
    assert(call->values.count == 1);
    const char *id = call->values.values[0];
    json_t *doc = json_object();
    json_t *parts = json_object();
    char now[40];
    crm_time_format_us(crm_time_now_us(), now, sizeof now);
    json_object_set_new(doc, "customerId", json_string(id));
    json_object_set_new(doc, "exportedAt", json_string(now));
    json_object_set(doc, "parts", parts);
    int rc = 0;
    const char *failed = NULL;
    for (size_t i = 0; rc == 0 && i < gateway_routes_count; i++) {
        const gateway_route_t *r = &gateway_routes[i];
        bool scoped = strncmp(r->pattern, S_EXPORT_PREFIX, strlen(S_EXPORT_PREFIX)) == 0
                      && strchr(r->pattern + strlen(S_EXPORT_PREFIX), '{') == NULL;
        bool complaints = strcmp(r->pattern, "/v1/complaints") == 0;
        if (strcmp(r->method, "GET") != 0 || r->local != GATEWAY_LOCAL_NONE || !r->request || !env->rpcs[r->service]
            || !(scoped || complaints))
            continue;
        const char *id_field = complaints ? s_query_field(r, "customerId") : r->path[0].field;
        if (!id_field)
            continue;
        json_t *part = NULL;
        rc = s_export_route(call, r, id_field, id, &part);
        if (rc == CRM_ENOTFOUND && strcmp(r->pattern, S_EXPORT_PREFIX) != 0) {
            rc = 0;                      /* a service with nothing on the customer */
            continue;
        }
        if (rc)
            failed = r->rpc;
        else
            json_object_set_new(parts, r->pattern + strlen("/v1"), part);
    }
    json_decref(parts);
    if (call->answer.status) {           /* a problem was made already */
        json_decref(doc);
        return;
    }
    if (rc == CRM_ENOTFOUND)
        s_problem(call, GATEWAY_PROBLEM_NOT_FOUND, NULL, "no customer has the id %s", id);
    else if (rc)
        s_problem(call, GATEWAY_PROBLEM_UNAVAILABLE, NULL,
                  "the export needs every service and %s did not answer (%s); nothing was exported",
                  failed ? failed : "one", crm_strerror(rc));
    else if (gateway_answer_json(&call->answer, call->route->status, doc) != 0)
        s_problem(call, GATEWAY_PROBLEM_INTERNAL, NULL, "out of memory");
    json_decref(doc);
}

/* --- Dispatch. */

void
gateway_handle(gateway_call_t *call)
{
    assert(call->route);
    call->state = GATEWAY_CALL_ANSWERED;
    switch (call->route->local) {
    case GATEWAY_LOCAL_NONE:       gateway_handle_forward(call); break;
    case GATEWAY_LOCAL_KEY_CREATE: gateway_handle_key_create(call); break;
    case GATEWAY_LOCAL_KEY_LIST:   gateway_handle_key_list(call); break;
    case GATEWAY_LOCAL_KEY_REVOKE: gateway_handle_key_revoke(call); break;
    case GATEWAY_LOCAL_EVENTS:     gateway_handle_events(call); break;
    case GATEWAY_LOCAL_HEALTHZ:    gateway_handle_healthz(call); break;
    case GATEWAY_LOCAL_READYZ:     gateway_handle_readyz(call); break;
    case GATEWAY_LOCAL_METRICS:    gateway_handle_metrics(call); break;
    case GATEWAY_LOCAL_OPENAPI:    gateway_handle_openapi(call); break;
    case GATEWAY_LOCAL_AUDIT_LIST: gateway_handle_audit_list(call); break;
    case GATEWAY_LOCAL_AUDIT_VERIFY: gateway_handle_audit_verify(call); break;
    case GATEWAY_LOCAL_EXPORT:     gateway_handle_export(call); break;
    }
    if (call->state == GATEWAY_CALL_ANSWERED && call->answer.status == 0)
        s_problem(call, GATEWAY_PROBLEM_INTERNAL, NULL, "no answer was made");
}

void
gateway_handle_resumed(gateway_call_t *call)
{
    assert(call->state == GATEWAY_CALL_WAITING);
    if (call->route->local == GATEWAY_LOCAL_EVENTS)
        s_events_answer(call);
    else
        s_forward_finish(call);
    call->state = GATEWAY_CALL_ANSWERED;
}

void
gateway_call_clear(gateway_call_t *call)
{
    gateway_ingest_batch_clear(&call->batch);
    gateway_answer_clear(&call->answer);
    crm_rpc_result_clear(&call->rpc.result);
    free(call->rpc_body);
    call->rpc_body = NULL;
    free(call->body);
    call->body = NULL;
    call->body_len = call->body_cap = 0;
}
