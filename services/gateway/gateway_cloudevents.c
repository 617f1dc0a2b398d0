/* gateway_cloudevents.c: reading and checking integrator events: CloudEvents JSON and protobuf envelopes. */
#include "gateway_cloudevents.h"

#include <assert.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "crm/v1/envelope.pb-c.h"
#include "crm_codec.h"
#include "crm_error.h"
#include "crm_event.h"
#include "crm_time.h"
#include "gateway_answer.h"
#include "gateway_check.h"

#define S_SPEC_VERSION     "1.0"
#define S_PROTOBUF_TYPE    "application/protobuf"
#define S_HEADER_PREFIX    "ce-"
#define S_ATTR_TEXT_MAX    1024    /* bytes of a decoded ce-* header value we look at */
#define S_CURRENCY_LEN     3

/* The attributes of one event as read, before checking. Strings are borrowed. */
typedef struct {
    const char *prefix;           /* "" for JSON attributes, "ce-" for headers */
    const char *specversion;
    const char *id;
    const char *source;
    const char *type;
    const char *time;             /* RFC 3339 text, or NULL */
    bool has_time_us;             /* envelopes: a Timestamp instead of text */
    int64_t time_us;
} s_attrs_t;

int
gateway_ce_mode(const char *content_type, gateway_ce_mode_t *mode)
{
    assert(mode);
    if (gateway_media_type_is(content_type, GATEWAY_CE_STRUCTURED_TYPE))
        *mode = GATEWAY_CE_STRUCTURED;
    else if (gateway_media_type_is(content_type, GATEWAY_CE_BATCH_TYPE))
        *mode = GATEWAY_CE_BATCH;
    else if (gateway_media_type_is(content_type, GATEWAY_CE_BINARY_TYPE))
        *mode = GATEWAY_CE_BINARY;
    else
        return CRM_EINVALID;
    return 0;
}

/* --- Checks shared by every form. */

/* 1..max bytes with no control characters and no spaces. */
static bool
s_token_ok(const char *s, size_t max)
{
    size_t len = s ? strnlen(s, max + 1) : 0;
    if (len == 0 || len > max)
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char) s[i] <= ' ' || s[i] == 0x7f)
            return false;
    return true;
}

static void
s_copy_echo(char *out, size_t size, const char *s)
{
    if (s && strlen(s) < size)
        snprintf(out, size, "%s", s);
}

static bool
s_currency_ok(const char *s)
{
    if (!s || strlen(s) != S_CURRENCY_LEN)
        return false;
    for (size_t i = 0; i < S_CURRENCY_LEN; i++)
        if (s[i] < 'A' || s[i] > 'Z')
            return false;
    return true;
}

/* A customer reference needs an id, a whole external id, or an email. Returns the field at
 * fault, or NULL when fine. */
static const char *
s_customer_ref_fault(const Crm__V1__CustomerRef *ref, const char **why)
{
    if (!ref) {
        *why = "a customer (customerId, externalId or email) is required";
        return "data.customer";
    }
    if (ref->external_id && (!*ref->external_id->system || !*ref->external_id->id)) {
        *why = "an external id needs both system and id";
        return "data.customer.externalId";
    }
    if (!*ref->customer_id && !ref->external_id && !*ref->email) {
        *why = "a customer (customerId, externalId or email) is required";
        return "data.customer";
    }
    return NULL;
}

/* What each payload type needs beyond decoding. */
static void
s_check_payload(gateway_ingest_event_t *ev)
{
    const char *field = NULL;
    const char *why = NULL;
    const ProtobufCMessage *msg = ev->data;
    if (msg->descriptor == &crm__v1__order_placed__descriptor) {
        const Crm__V1__OrderPlaced *o = (const Crm__V1__OrderPlaced *) msg;
        if (!*o->order_id)
            field = "data.orderId", why = "an order id is required";
        else if ((field = s_customer_ref_fault(o->customer, &why)))
            ;
        else if (!s_currency_ok(o->currency))
            field = "data.currency", why = "an ISO 4217 currency code of three capitals is required";
        else if (o->amount_minor < 0)
            field = "data.amountMinor", why = "the amount may not be negative";
    } else if (msg->descriptor == &crm__v1__order_refunded__descriptor) {
        const Crm__V1__OrderRefunded *r = (const Crm__V1__OrderRefunded *) msg;
        if (!*r->order_id)
            field = "data.orderId", why = "an order id is required";
        else if (!*r->refund_id)
            field = "data.refundId", why = "a refund id is required";
        else if (r->amount_minor <= 0)
            field = "data.amountMinor", why = "the amount must be positive";
        else if (*r->currency && !s_currency_ok(r->currency))
            field = "data.currency", why = "an ISO 4217 currency code of three capitals is required";
    } else if (msg->descriptor == &crm__v1__interaction_reported__descriptor) {
        const Crm__V1__InteractionReported *i = (const Crm__V1__InteractionReported *) msg;
        if ((field = s_customer_ref_fault(i->customer, &why)))
            ;
        else if (i->channel == CRM__V1__CHANNEL__CHANNEL_UNSPECIFIED)
            field = "data.channel", why = "a channel is required";
    } else if (msg->descriptor == &crm__v1__customer_upserted__descriptor) {
        const Crm__V1__CustomerUpserted *u = (const Crm__V1__CustomerUpserted *) msg;
        bool external = false;
        for (size_t k = 0; u->customer && k < u->customer->n_external_ids; k++) {
            const Crm__V1__ExternalId *x = u->customer->external_ids[k];
            if (!*x->system || !*x->id) {
                field = "data.customer.externalIds", why = "an external id needs both system and id";
                break;
            }
            external = true;
        }
        if (!field && !u->customer)
            field = "data.customer", why = "a customer is required";
        else if (!field && !external && !*u->customer->email)
            field = "data.customer", why = "a customer needs an external id or an email to be matched";
    } else if (msg->descriptor == &crm__v1__complaint_filed__descriptor) {
        const Crm__V1__ComplaintFiled *c = (const Crm__V1__ComplaintFiled *) msg;
        if ((field = s_customer_ref_fault(c->customer, &why)))
            ;
        else if (c->channel == CRM__V1__CHANNEL__CHANNEL_UNSPECIFIED)
            field = "data.channel", why = "a channel is required";
        else if (!*c->subject && !*c->text)
            field = "data.text", why = "a complaint needs a subject or a text";
        else if (strlen(c->subject) > GATEWAY_COMPLAINT_SUBJECT_MAX)
            field = "data.subject", why = "the subject is too long";
        else if (strlen(c->text) > GATEWAY_COMPLAINT_TEXT_MAX)
            field = "data.text", why = "the text is too long";
        else if (c->n_attachments > GATEWAY_COMPLAINT_ATTACHMENTS_MAX)
            field = "data.attachments", why = "too many attachments";
    }
    if (field)
        gateway_ingest_reject(ev, field, "%s", why);
}

/* Checks the attributes, then the decoded payload already in ev->data (or decodes nothing when
 * it is NULL and the caller rejected it). Sets the event pending when all is well. */
static void
s_check_attrs(gateway_ingest_event_t *ev, const s_attrs_t *a)
{
    char field[GATEWAY_CE_FIELD_MAX];
#define S_FIELD(name) (snprintf(field, sizeof field, "%s%s", a->prefix, name), field)
    s_copy_echo(ev->id, sizeof ev->id, a->id);
    s_copy_echo(ev->source, sizeof ev->source, a->source);
    if (!a->specversion || strcmp(a->specversion, S_SPEC_VERSION) != 0) {
        gateway_ingest_reject(ev, S_FIELD("specversion"), "specversion must be \"" S_SPEC_VERSION "\"");
        return;
    }
    if (!s_token_ok(a->id, GATEWAY_CE_ID_MAX)) {
        gateway_ingest_reject(ev, S_FIELD("id"), "id is required: 1 to %d bytes without spaces",
                              GATEWAY_CE_ID_MAX);
        return;
    }
    if (!s_token_ok(a->source, GATEWAY_CE_SOURCE_MAX)) {
        gateway_ingest_reject(ev, S_FIELD("source"),
                              "source is required: a URI reference of 1 to %d bytes", GATEWAY_CE_SOURCE_MAX);
        return;
    }
    ev->type = gateway_ingest_type_find(a->type);
    if (!ev->type) {
        gateway_ingest_reject(ev, S_FIELD("type"), "type must be order.placed, order.refunded, "
                              "interaction.logged, customer.upserted or complaint.filed");
        return;
    }
    ev->time_us = 0;
    if (a->time && crm_time_parse_us(a->time, &ev->time_us) != 0) {
        gateway_ingest_reject(ev, S_FIELD("time"), "time must be an RFC 3339 timestamp");
        return;
    }
    if (a->has_time_us)
        ev->time_us = a->time_us;
#undef S_FIELD
    ev->pending = true;
}

/* Decodes a JSON data object into the event's payload and checks it. */
static void
s_data_from_json(gateway_ingest_event_t *ev, const json_t *data, const gateway_ce_limits_t *limits)
{
    if (!ev->pending)
        return;
    if (!data || json_is_null(data)) {
        gateway_ingest_reject(ev, "data", "data is required");
        return;
    }
    if (!json_is_object(data)) {
        gateway_ingest_reject(ev, "data", "data must be a JSON object");
        return;
    }
    crm_codec_error_t err;
    int rc = crm_codec_json_to_message(ev->type->payload, data, &ev->data, &err);
    if (rc == 0)
        rc = gateway_check_message(ev->data, limits->max_string, &err);
    if (rc) {
        char field[CRM_CODEC_PATH_MAX + 8];
        snprintf(field, sizeof field, "data%s%s", err.path[0] ? "." : "", err.path);
        gateway_ingest_reject(ev, field, "%s", rc == CRM_ENOMEM ? "out of memory" : err.message);
        return;
    }
    s_check_payload(ev);
}

/* --- Structured and batch modes. */

static bool
s_extension_name_ok(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > GATEWAY_CE_EXTENSION_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9')))
            return false;
    return true;
}

/* Reads one event object into ev. */
static void
s_from_object(const json_t *obj, const gateway_ce_limits_t *limits, gateway_ingest_event_t *ev)
{
    if (!json_is_object(obj)) {
        gateway_ingest_reject(ev, NULL, "an event must be a JSON object");
        return;
    }
    static const char *const strings[] = { "specversion", "id", "source", "type", "time",
                                           "subject", "dataschema", "datacontenttype" };
    s_attrs_t a = { .prefix = "" };
    s_copy_echo(ev->id, sizeof ev->id, json_string_value(json_object_get(obj, "id")));
    s_copy_echo(ev->source, sizeof ev->source, json_string_value(json_object_get(obj, "source")));
    const json_t *data = NULL;
    const char *key;
    json_t *value;
    json_object_foreach((json_t *) obj, key, value) {
        bool known = false;
        for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++) {
            if (strcmp(key, strings[i]) != 0)
                continue;
            known = true;
            if (!json_is_string(value)) {
                gateway_ingest_reject(ev, key, "%s must be a string", key);
                return;
            }
        }
        if (known)
            continue;
        if (strcmp(key, "data") == 0) {
            data = value;
        } else if (strcmp(key, "data_base64") == 0) {
            gateway_ingest_reject(ev, key, "data_base64 is not taken: send data as a JSON object");
            return;
        } else if (!s_extension_name_ok(key)) {
            gateway_ingest_reject(ev, key, "unknown attribute (extension names are 1 to %d "
                                  "lower-case letters or digits)", GATEWAY_CE_EXTENSION_MAX);
            return;
        } else if (!json_is_string(value) && !json_is_number(value) && !json_is_boolean(value)) {
            gateway_ingest_reject(ev, key, "an extension attribute must be a string, number or boolean");
            return;
        }
    }
    a.specversion = json_string_value(json_object_get(obj, "specversion"));
    a.id = json_string_value(json_object_get(obj, "id"));
    a.source = json_string_value(json_object_get(obj, "source"));
    a.type = json_string_value(json_object_get(obj, "type"));
    a.time = json_string_value(json_object_get(obj, "time"));
    const char *content_type = json_string_value(json_object_get(obj, "datacontenttype"));
    s_check_attrs(ev, &a);
    if (ev->pending && content_type && !gateway_media_type_is(content_type, GATEWAY_CE_BINARY_TYPE))
        gateway_ingest_reject(ev, "datacontenttype", "datacontenttype must be application/json");
    s_data_from_json(ev, data, limits);
}

static int
s_load(const char *body, size_t len, json_t **json_p, char detail[GATEWAY_CE_ERROR_MAX])
{
    json_error_t jerr;
    *json_p = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES, &jerr);
    if (*json_p)
        return 0;
    if (json_error_code(&jerr) == json_error_out_of_memory)
        return CRM_ENOMEM;
    snprintf(detail, GATEWAY_CE_ERROR_MAX, "invalid JSON: %s (line %d, column %d)", jerr.text,
             jerr.line, jerr.column);
    return CRM_EINVALID;
}

/* --- Binary mode. */

static int
s_hex(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decodes value into out (size bytes). Returns false when it is malformed, too long or
 * not UTF-8 once decoded. */
static bool
s_percent_decode(const char *value, char *out, size_t size)
{
    size_t n = 0;
    for (const char *p = value; *p; p++) {
        int c = (unsigned char) *p;
        if (c == '%') {
            int hi = s_hex(p[1]);
            int lo = hi < 0 ? -1 : s_hex(p[2]);
            if (lo < 0)
                return false;
            c = hi * 16 + lo;
            p += 2;
        }
        if (c == 0 || n + 1 >= size)
            return false;
        out[n++] = (char) c;
    }
    out[n] = '\0';
    return crm_codec_utf8_valid(out, n);
}

typedef struct {
    const char *name;             /* the attribute, after "ce-" */
    char text[S_ATTR_TEXT_MAX];
    bool seen;
} s_header_attr_t;

static void
s_from_headers(const gateway_ce_header_t *headers, size_t n, const json_t *data,
               const gateway_ce_limits_t *limits, gateway_ingest_event_t *ev)
{
    enum { A_SPEC, A_ID, A_SOURCE, A_TYPE, A_TIME, A_COUNT };
    static const char *const names[A_COUNT] = { "specversion", "id", "source", "type", "time" };
    static s_header_attr_t zero;
    s_header_attr_t attrs[A_COUNT];
    for (size_t i = 0; i < A_COUNT; i++) {
        attrs[i] = zero;
        attrs[i].name = names[i];
    }
    size_t prefix = strlen(S_HEADER_PREFIX);
    for (size_t h = 0; h < n; h++) {
        const char *name = headers[h].name;
        if (!name || strncasecmp(name, S_HEADER_PREFIX, prefix) != 0)
            continue;
        const char *attr = name + prefix;
        char decoded[S_ATTR_TEXT_MAX];
        if (!s_percent_decode(headers[h].value ? headers[h].value : "", decoded, sizeof decoded)) {
            gateway_ingest_reject(ev, name, "%s is not valid percent-encoded UTF-8 text", name);
            return;
        }
        bool known = false;
        for (size_t i = 0; i < A_COUNT; i++) {
            if (strcasecmp(attr, attrs[i].name) != 0)
                continue;
            known = true;
            if (attrs[i].seen) {
                gateway_ingest_reject(ev, name, "%s given twice", name);
                return;
            }
            attrs[i].seen = true;
            snprintf(attrs[i].text, sizeof attrs[i].text, "%s", decoded);
            if (i == A_ID)
                s_copy_echo(ev->id, sizeof ev->id, decoded);
            if (i == A_SOURCE)
                s_copy_echo(ev->source, sizeof ev->source, decoded);
        }
        char lower[GATEWAY_CE_EXTENSION_MAX + 2];
        size_t len = strlen(attr);
        if (!known) {
            if (len > GATEWAY_CE_EXTENSION_MAX) {
                gateway_ingest_reject(ev, name, "unknown attribute (extension names are 1 to %d "
                                      "lower-case letters or digits)", GATEWAY_CE_EXTENSION_MAX);
                return;
            }
            for (size_t i = 0; i <= len; i++)
                lower[i] = (char) tolower((unsigned char) attr[i]);
            if (!s_extension_name_ok(lower)) {
                gateway_ingest_reject(ev, name, "unknown attribute (extension names are 1 to %d "
                                      "lower-case letters or digits)", GATEWAY_CE_EXTENSION_MAX);
                return;
            }
        }
    }
    s_attrs_t a = {
        .prefix = S_HEADER_PREFIX,
        .specversion = attrs[A_SPEC].seen ? attrs[A_SPEC].text : NULL,
        .id = attrs[A_ID].seen ? attrs[A_ID].text : NULL,
        .source = attrs[A_SOURCE].seen ? attrs[A_SOURCE].text : NULL,
        .type = attrs[A_TYPE].seen ? attrs[A_TYPE].text : NULL,
        .time = attrs[A_TIME].seen ? attrs[A_TIME].text : NULL,
    };
    s_check_attrs(ev, &a);
    s_data_from_json(ev, data, limits);
}

int
gateway_ce_parse(gateway_ce_mode_t mode, const char *body, size_t len,
                 const gateway_ce_header_t *headers, size_t n_headers,
                 const gateway_ce_limits_t *limits, gateway_ingest_batch_t *batch,
                 char detail[GATEWAY_CE_ERROR_MAX])
{
    assert(limits && batch && detail && (headers || n_headers == 0));
    detail[0] = '\0';
    json_t *root = NULL;
    int rc = s_load(body, len, &root, detail);
    if (rc)
        return rc;
    switch (mode) {
    case GATEWAY_CE_STRUCTURED: {
        if (!json_is_object(root)) {
            snprintf(detail, GATEWAY_CE_ERROR_MAX, "the body must be one CloudEvent, a JSON object");
            rc = CRM_EINVALID;
            break;
        }
        gateway_ingest_event_t *ev = gateway_ingest_batch_add(batch);
        if (!ev) {
            rc = CRM_ENOMEM;
            break;
        }
        s_from_object(root, limits, ev);
        break;
    }
    case GATEWAY_CE_BATCH: {
        if (!json_is_array(root)) {
            snprintf(detail, GATEWAY_CE_ERROR_MAX, "a batch must be a JSON array of CloudEvents");
            rc = CRM_EINVALID;
            break;
        }
        size_t n = json_array_size(root);
        if (n > limits->max_batch) {
            snprintf(detail, GATEWAY_CE_ERROR_MAX, "a batch holds at most %zu events; this one has %zu",
                     limits->max_batch, n);
            rc = CRM_ETOOBIG;
            break;
        }
        for (size_t i = 0; i < n && rc == 0; i++) {
            gateway_ingest_event_t *ev = gateway_ingest_batch_add(batch);
            if (!ev)
                rc = CRM_ENOMEM;
            else
                s_from_object(json_array_get(root, i), limits, ev);
        }
        break;
    }
    case GATEWAY_CE_BINARY: {
        gateway_ingest_event_t *ev = gateway_ingest_batch_add(batch);
        if (!ev) {
            rc = CRM_ENOMEM;
            break;
        }
        s_from_headers(headers, n_headers, root, limits, ev);
        break;
    }
    default:
        assert(!"unknown mode");
    }
    json_decref(root);
    if (rc)
        gateway_ingest_batch_clear(batch);
    return rc;
}

/* --- Envelopes (ZeroMQ). */

int
gateway_ce_from_envelope(const void *buf, size_t len, const gateway_ce_limits_t *limits,
                         gateway_ingest_event_t *ev)
{
    assert(limits && ev && (buf || len == 0));
    memset(ev, 0, sizeof *ev);
    Crm__V1__Event *envelope = NULL;
    int rc = crm_event_decode(buf, len, &envelope);
    if (rc == CRM_ENOMEM)
        return rc;
    if (rc) {
        gateway_ingest_reject(ev, NULL, "not a valid crm.v1.Event envelope");
        return 0;
    }
    s_attrs_t a = {
        .prefix = "",
        .specversion = envelope->spec_version,
        .id = envelope->id,
        .source = envelope->source,
        .type = envelope->type,
    };
    bool time_ok = true;
    if (envelope->time) {
        const Crm__V1__Timestamp *t = envelope->time;
        time_ok = t->seconds >= CRM_TIME_MIN_SECONDS && t->seconds <= CRM_TIME_MAX_SECONDS
                  && t->nanos >= 0 && t->nanos < CRM_TIME_NANOS_PER_SECOND;
        a.has_time_us = time_ok;
        a.time_us = t->seconds * CRM_TIME_US_PER_SECOND + t->nanos / 1000;
    }
    s_check_attrs(ev, &a);
    if (!ev->pending)
        goto out;
    if (envelope->base.n_unknown_fields) {
        gateway_ingest_reject(ev, NULL, "the envelope has unknown fields");
        goto out;
    }
    if (!time_ok) {
        gateway_ingest_reject(ev, "time", "time is out of range");
        goto out;
    }
    if (*envelope->data_content_type && strcmp(envelope->data_content_type, S_PROTOBUF_TYPE) != 0) {
        gateway_ingest_reject(ev, "dataContentType", "dataContentType must be empty or " S_PROTOBUF_TYPE);
        goto out;
    }
    if (*envelope->data_schema && strcmp(envelope->data_schema, ev->type->payload->name) != 0) {
        gateway_ingest_reject(ev, "dataSchema", "dataSchema must be empty or %s",
                              ev->type->payload->name);
        goto out;
    }
    crm_codec_error_t err;
    rc = crm_codec_pb_decode(ev->type->payload, envelope->data.data, envelope->data.len, &ev->data, &err);
    if (rc == 0)
        rc = gateway_check_message(ev->data, limits->max_string, &err);
    if (rc == CRM_ENOMEM)
        goto out;
    if (rc) {
        char field[CRM_CODEC_PATH_MAX + 8];
        snprintf(field, sizeof field, "data%s%s", err.path[0] ? "." : "", err.path);
        gateway_ingest_reject(ev, field, "%s", err.message);
        rc = 0;
        goto out;
    }
    s_check_payload(ev);
out:
    crm_event_destroy(&envelope);
    if (rc == CRM_ENOMEM)
        crm_codec_message_free(&ev->data);
    return rc;
}
