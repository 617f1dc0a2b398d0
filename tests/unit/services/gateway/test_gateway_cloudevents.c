/* test_gateway_cloudevents.c: reading CloudEvents (structured, batch, binary) and envelopes, with every rejection. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crm/v1/envelope.pb-c.h"
#include "crm_codec.h"
#include "crm_error.h"
#include "crm_test.h"
#include "gateway_cloudevents.h"

TestSuite(gateway_cloudevents, .fini = crm_test_check_leaks);

static const gateway_ce_limits_t limits = { .max_batch = 5, .max_string = 64 };

#define ORDER_DATA "{\"orderId\":\"o-1\",\"customer\":{\"email\":\"li@example.cn\"},\"amountMinor\":\"1999\",\"currency\":\"CNY\"}"
#define ORDER(extra) "{\"specversion\":\"1.0\",\"id\":\"e-1\",\"source\":\"/shop/1\",\"type\":\"order.placed\"," \
                     extra "\"data\":" ORDER_DATA "}"

/* Parses one structured event; returns the batch (caller clears). */
static gateway_ingest_batch_t
s_one(const char *json)
{
    gateway_ingest_batch_t batch = { 0 };
    char detail[GATEWAY_CE_ERROR_MAX];
    int rc = gateway_ce_parse(GATEWAY_CE_STRUCTURED, json, strlen(json), NULL, 0, &limits, &batch, detail);
    cr_assert_eq(rc, 0, "%s: %s", json, detail);
    cr_assert_eq(batch.count, 1);
    return batch;
}

static void
s_expect_rejected(const char *json, const char *field, const char *words)
{
    gateway_ingest_batch_t batch = s_one(json);
    const gateway_ingest_event_t *ev = &batch.events[0];
    cr_assert_not(ev->pending, "%s", json);
    cr_assert_eq(ev->outcome, CRM__V1__INGEST_RESULT__OUTCOME__OUTCOME_REJECTED, "%s", json);
    cr_assert_str_eq(ev->field, field, "%s: %s", json, ev->error);
    cr_assert_not_null(strstr(ev->error, words), "%s: error [%s]", json, ev->error);
    cr_assert_null(ev->data);
    gateway_ingest_batch_clear(&batch);
}

Test(gateway_cloudevents, a_structured_event_decodes_its_payload)
{
    gateway_ingest_batch_t batch = s_one(ORDER("\"time\":\"2026-11-20T16:00:00+08:00\",\"subject\":\"x\",\"traceparent\":\"00-ab\",\"datacontenttype\":\"application/json\","));
    const gateway_ingest_event_t *ev = &batch.events[0];
    cr_assert(ev->pending, "%s %s", ev->field, ev->error);
    cr_assert_str_eq(ev->id, "e-1");
    cr_assert_str_eq(ev->source, "/shop/1");
    cr_assert_str_eq(ev->type->type, "order.placed");
    cr_assert_str_eq(ev->type->topic, "crm.ingest.order.placed.v1");
    cr_assert_eq(ev->time_us, 1795161600LL * 1000000, "time in UTC: %lld", (long long) ev->time_us);
    cr_assert_eq(ev->data->descriptor, &crm__v1__order_placed__descriptor);
    const Crm__V1__OrderPlaced *o = (const Crm__V1__OrderPlaced *) ev->data;
    cr_assert_str_eq(o->order_id, "o-1");
    cr_assert_eq(o->amount_minor, 1999);
    cr_assert_str_eq(o->customer->email, "li@example.cn");
    gateway_ingest_batch_clear(&batch);
}

Test(gateway_cloudevents, every_type_is_known_by_its_short_name)
{
    static const char *const events[] = {
        "{\"specversion\":\"1.0\",\"id\":\"r\",\"source\":\"s\",\"type\":\"order.refunded\",\"data\":{\"orderId\":\"o\",\"refundId\":\"r1\",\"amountMinor\":5}}",
        "{\"specversion\":\"1.0\",\"id\":\"i\",\"source\":\"s\",\"type\":\"interaction.logged\",\"data\":{\"customer\":{\"externalId\":{\"system\":\"erp\",\"id\":\"9\"}},\"channel\":\"chat\",\"summary\":\"hi\"}}",
        "{\"specversion\":\"1.0\",\"id\":\"u\",\"source\":\"s\",\"type\":\"customer.upserted\",\"data\":{\"customer\":{\"name\":\"王芳\",\"externalIds\":[{\"system\":\"shop\",\"id\":\"7\"}]}}}",
        "{\"specversion\":\"1.0\",\"id\":\"c\",\"source\":\"s\",\"type\":\"complaint.filed\",\"data\":{\"customer\":{\"email\":\"a@b.cn\"},\"channel\":\"visit\",\"category\":\"product\",\"text\":\"坏了\"}}",
    };
    static const ProtobufCMessageDescriptor *const types[] = {
        &crm__v1__order_refunded__descriptor, &crm__v1__interaction_reported__descriptor,
        &crm__v1__customer_upserted__descriptor, &crm__v1__complaint_filed__descriptor,
    };
    for (size_t i = 0; i < sizeof events / sizeof events[0]; i++) {
        gateway_ingest_batch_t batch = s_one(events[i]);
        cr_assert(batch.events[0].pending, "%s: %s %s", events[i], batch.events[0].field, batch.events[0].error);
        cr_assert_eq(batch.events[0].data->descriptor, types[i]);
        gateway_ingest_batch_clear(&batch);
    }
    cr_assert_null(gateway_ingest_type_find("order.shipped"));
    cr_assert_eq(gateway_ingest_types_count, 5);
}

Test(gateway_cloudevents, each_attribute_error_is_named)
{
    s_expect_rejected("{\"id\":\"e\",\"source\":\"s\",\"type\":\"order.placed\",\"data\":" ORDER_DATA "}", "specversion", "1.0");
    s_expect_rejected("{\"specversion\":\"0.3\",\"id\":\"e\",\"source\":\"s\",\"type\":\"order.placed\",\"data\":" ORDER_DATA "}", "specversion", "1.0");
    s_expect_rejected("{\"specversion\":1.0,\"id\":\"e\",\"source\":\"s\",\"type\":\"order.placed\",\"data\":" ORDER_DATA "}", "specversion", "string");
    s_expect_rejected("{\"specversion\":\"1.0\",\"source\":\"s\",\"type\":\"order.placed\",\"data\":" ORDER_DATA "}", "id", "required");
    s_expect_rejected("{\"specversion\":\"1.0\",\"id\":\"\",\"source\":\"s\",\"type\":\"order.placed\",\"data\":" ORDER_DATA "}", "id", "required");
    s_expect_rejected("{\"specversion\":\"1.0\",\"id\":\"a b\",\"source\":\"s\",\"type\":\"order.placed\",\"data\":" ORDER_DATA "}", "id", "spaces");
    s_expect_rejected("{\"specversion\":\"1.0\",\"id\":7,\"source\":\"s\",\"type\":\"order.placed\",\"data\":" ORDER_DATA "}", "id", "string");
    s_expect_rejected("{\"specversion\":\"1.0\",\"id\":\"e\",\"type\":\"order.placed\",\"data\":" ORDER_DATA "}", "source", "required");
    s_expect_rejected("{\"specversion\":\"1.0\",\"id\":\"e\",\"source\":\"s\",\"type\":\"order.shipped\",\"data\":" ORDER_DATA "}", "type", "order.placed");
    s_expect_rejected("{\"specversion\":\"1.0\",\"id\":\"e\",\"source\":\"s\",\"data\":" ORDER_DATA "}", "type", "order.placed");
    s_expect_rejected(ORDER("\"time\":\"yesterday\","), "time", "RFC 3339");
    s_expect_rejected(ORDER("\"datacontenttype\":\"text/xml\","), "datacontenttype", "application/json");
    s_expect_rejected(ORDER("\"Weird-Name\":\"x\","), "Weird-Name", "unknown attribute");
    s_expect_rejected(ORDER("\"averyveryverylongextension\":\"x\","), "averyveryverylongextension", "unknown attribute");
    s_expect_rejected(ORDER("\"ext\":{\"a\":1},"), "ext", "string, number or boolean");
    s_expect_rejected(ORDER("\"data_base64\":\"AAAA\","), "data_base64", "JSON object");

    char long_id[GATEWAY_CE_ID_MAX + 2];
    memset(long_id, 'i', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = '\0';
    char json[1024];
    snprintf(json, sizeof json, "{\"specversion\":\"1.0\",\"id\":\"%s\",\"source\":\"s\",\"type\":\"order.placed\",\"data\":" ORDER_DATA "}", long_id);
    s_expect_rejected(json, "id", "128");
}

Test(gateway_cloudevents, the_id_and_source_are_echoed_even_when_rejected)
{
    gateway_ingest_batch_t batch = s_one("{\"specversion\":\"2.0\",\"id\":\"e-9\",\"source\":\"/erp\",\"type\":\"x\"}");
    cr_assert_str_eq(batch.events[0].id, "e-9");
    cr_assert_str_eq(batch.events[0].source, "/erp");
    Crm__V1__IngestResult r;
    gateway_ingest_result(&batch.events[0], &r);
    cr_assert_eq(r.outcome, CRM__V1__INGEST_RESULT__OUTCOME__OUTCOME_REJECTED);
    cr_assert_str_eq(r.id, "e-9");
    cr_assert_str_eq(r.field, "specversion");
    gateway_ingest_batch_clear(&batch);
}

#define EV(data) "{\"specversion\":\"1.0\",\"id\":\"e\",\"source\":\"s\",\"type\":\"order.placed\",\"data\":" data "}"

Test(gateway_cloudevents, each_data_error_is_named_by_its_path)
{
    s_expect_rejected("{\"specversion\":\"1.0\",\"id\":\"e\",\"source\":\"s\",\"type\":\"order.placed\"}", "data", "required");
    s_expect_rejected(EV("null"), "data", "required");
    s_expect_rejected(EV("[1]"), "data", "JSON object");
    s_expect_rejected(EV("\"text\""), "data", "JSON object");
    s_expect_rejected(EV("{\"orderId\":\"o\",\"bogus\":1}"), "data.bogus", "unknown field");
    s_expect_rejected(EV("{\"orderId\":5}"), "data.orderId", "");
    s_expect_rejected(EV("{\"orderId\":\"o\",\"items\":[{\"sku\":\"a\"},{\"sku\":\"a\",\"colour\":\"red\"}]}"),
                      "data.items[1].colour", "unknown field");
    s_expect_rejected(EV("{\"orderId\":\"o\",\"customer\":{\"email\":\"a@b\"},\"currency\":\"CNY\",\"items\":[{\"sku\":\"0123456789012345678901234567890123456789012345678901234567890123456789\"}]}"),
                      "data.items[0].sku", "longer than 64 bytes");
    s_expect_rejected(EV("{\"customer\":{\"email\":\"a@b\"},\"currency\":\"CNY\"}"), "data.orderId", "order id");
    s_expect_rejected(EV("{\"orderId\":\"o\",\"currency\":\"CNY\"}"), "data.customer", "customer");
    s_expect_rejected(EV("{\"orderId\":\"o\",\"customer\":{},\"currency\":\"CNY\"}"), "data.customer", "customer");
    s_expect_rejected(EV("{\"orderId\":\"o\",\"customer\":{\"externalId\":{\"system\":\"erp\"}},\"currency\":\"CNY\"}"),
                      "data.customer.externalId", "system and id");
    s_expect_rejected(EV("{\"orderId\":\"o\",\"customer\":{\"email\":\"a@b\"},\"currency\":\"cny\"}"), "data.currency", "ISO 4217");
    s_expect_rejected(EV("{\"orderId\":\"o\",\"customer\":{\"email\":\"a@b\"},\"currency\":\"CNY\",\"amountMinor\":-1}"),
                      "data.amountMinor", "negative");
    s_expect_rejected("{\"specversion\":\"1.0\",\"id\":\"e\",\"source\":\"s\",\"type\":\"order.refunded\",\"data\":{\"orderId\":\"o\",\"refundId\":\"r\",\"amountMinor\":0}}",
                      "data.amountMinor", "positive");
    s_expect_rejected("{\"specversion\":\"1.0\",\"id\":\"e\",\"source\":\"s\",\"type\":\"order.refunded\",\"data\":{\"orderId\":\"o\",\"amountMinor\":3}}",
                      "data.refundId", "refund id");
    s_expect_rejected("{\"specversion\":\"1.0\",\"id\":\"e\",\"source\":\"s\",\"type\":\"interaction.logged\",\"data\":{\"customer\":{\"email\":\"a@b\"}}}",
                      "data.channel", "channel");
    s_expect_rejected("{\"specversion\":\"1.0\",\"id\":\"e\",\"source\":\"s\",\"type\":\"interaction.logged\",\"data\":{\"customer\":{\"email\":\"a@b\"},\"channel\":\"carrier-pigeon\"}}",
                      "data.channel", "");
    s_expect_rejected("{\"specversion\":\"1.0\",\"id\":\"e\",\"source\":\"s\",\"type\":\"customer.upserted\",\"data\":{\"customer\":{\"name\":\"x\"}}}",
                      "data.customer", "external id or an email");
    s_expect_rejected("{\"specversion\":\"1.0\",\"id\":\"e\",\"source\":\"s\",\"type\":\"customer.upserted\",\"data\":{}}",
                      "data.customer", "required");
    s_expect_rejected("{\"specversion\":\"1.0\",\"id\":\"e\",\"source\":\"s\",\"type\":\"customer.upserted\",\"data\":{\"customer\":{\"customFields\":{\"note\":\"0123456789012345678901234567890123456789012345678901234567890123456789\"},\"email\":\"a@b\"}}}",
                      "data.customer.customFields.note", "longer than 64 bytes");
}

Test(gateway_cloudevents, a_body_that_is_not_json_or_not_an_event_is_refused_whole)
{
    gateway_ingest_batch_t batch = { 0 };
    char detail[GATEWAY_CE_ERROR_MAX];
    static const char *const bad[] = { "", "{", "{\"a\":1,\"a\":2}", "nul", "[1,2" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(gateway_ce_parse(GATEWAY_CE_STRUCTURED, bad[i], strlen(bad[i]), NULL, 0, &limits,
                                      &batch, detail), CRM_EINVALID, "[%s]", bad[i]);
        cr_assert_eq(strncmp(detail, "invalid JSON", 12), 0, "%s", detail);
        cr_assert_eq(batch.count, 0);
    }
    cr_assert_eq(gateway_ce_parse(GATEWAY_CE_STRUCTURED, "[]", 2, NULL, 0, &limits, &batch, detail), CRM_EINVALID);
    cr_assert_not_null(strstr(detail, "JSON object"));
    cr_assert_eq(gateway_ce_parse(GATEWAY_CE_BATCH, "{}", 2, NULL, 0, &limits, &batch, detail), CRM_EINVALID);
    cr_assert_not_null(strstr(detail, "array"));
    cr_assert_eq(gateway_ce_parse(GATEWAY_CE_BINARY, "{", 1, NULL, 0, &limits, &batch, detail), CRM_EINVALID);
}

Test(gateway_cloudevents, a_batch_keeps_order_and_rejects_only_bad_events)
{
    const char *body = "[" ORDER("") ", 7, {\"specversion\":\"1.0\",\"id\":\"e-2\",\"source\":\"/shop/1\",\"type\":\"nope\"}, "
                       "{\"specversion\":\"1.0\",\"id\":\"e-3\",\"source\":\"/shop/1\",\"type\":\"order.placed\",\"data\":" ORDER_DATA "}]";
    gateway_ingest_batch_t batch = { 0 };
    char detail[GATEWAY_CE_ERROR_MAX];
    cr_assert_eq(gateway_ce_parse(GATEWAY_CE_BATCH, body, strlen(body), NULL, 0, &limits, &batch, detail), 0);
    cr_assert_eq(batch.count, 4);
    cr_assert(batch.events[0].pending);
    cr_assert_not(batch.events[1].pending);
    cr_assert_not_null(strstr(batch.events[1].error, "JSON object"));
    cr_assert_not(batch.events[2].pending);
    cr_assert_str_eq(batch.events[2].field, "type");
    cr_assert(batch.events[3].pending);
    cr_assert_str_eq(batch.events[3].id, "e-3");
    gateway_ingest_batch_clear(&batch);

    cr_assert_eq(gateway_ce_parse(GATEWAY_CE_BATCH, "[]", 2, NULL, 0, &limits, &batch, detail), 0);
    cr_assert_eq(batch.count, 0);
    const char *six = "[1,2,3,4,5,6]";
    cr_assert_eq(gateway_ce_parse(GATEWAY_CE_BATCH, six, strlen(six), NULL, 0, &limits, &batch, detail), CRM_ETOOBIG);
    cr_assert_not_null(strstr(detail, "at most 5"), "%s", detail);
    cr_assert_eq(batch.count, 0);
}

Test(gateway_cloudevents, binary_mode_takes_attributes_from_ce_headers)
{
    gateway_ce_header_t headers[] = {
        { "ce-specversion", "1.0" }, { "CE-ID", "b%2D1" }, { "ce-source", "/shop/%E6%9D%AD%E5%B7%9E" },
        { "ce-type", "order.placed" }, { "ce-time", "2026-11-20T08:00:00Z" }, { "ce-traceid", "abc" },
        { "ce-subject", "ignored" },
    };
    gateway_ingest_batch_t batch = { 0 };
    char detail[GATEWAY_CE_ERROR_MAX];
    cr_assert_eq(gateway_ce_parse(GATEWAY_CE_BINARY, ORDER_DATA, strlen(ORDER_DATA), headers, 7, &limits,
                                  &batch, detail), 0);
    cr_assert_eq(batch.count, 1);
    const gateway_ingest_event_t *ev = &batch.events[0];
    cr_assert(ev->pending, "%s %s", ev->field, ev->error);
    cr_assert_str_eq(ev->id, "b-1");
    cr_assert_str_eq(ev->source, "/shop/杭州");
    cr_assert_eq(ev->time_us, 1795161600LL * 1000000);
    gateway_ingest_batch_clear(&batch);

    struct {
        gateway_ce_header_t headers[5];
        size_t n;
        const char *field;
    } cases[] = {
        { { { "ce-specversion", "1.0" }, { "ce-source", "s" }, { "ce-type", "order.placed" } }, 3, "ce-id" },
        { { { "ce-specversion", "1.0" }, { "ce-id", "a" }, { "ce-id", "b" }, { "ce-source", "s" }, { "ce-type", "order.placed" } }, 5, "ce-id" },
        { { { "ce-specversion", "1.0" }, { "ce-id", "%zz" }, { "ce-source", "s" }, { "ce-type", "order.placed" } }, 4, "ce-id" },
        { { { "ce-specversion", "1.0" }, { "ce-id", "a" }, { "ce-source", "%FF" }, { "ce-type", "order.placed" } }, 4, "ce-source" },
        { { { "ce-id", "a" }, { "ce-source", "s" }, { "ce-type", "order.placed" } }, 3, "ce-specversion" },
        { { { "ce-specversion", "1.0" }, { "ce-id", "a" }, { "ce-source", "s" }, { "ce-type", "order.placed" }, { "ce-bad_name", "x" } }, 5, "ce-bad_name" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cr_assert_eq(gateway_ce_parse(GATEWAY_CE_BINARY, ORDER_DATA, strlen(ORDER_DATA), cases[i].headers,
                                      cases[i].n, &limits, &batch, detail), 0);
        cr_assert_not(batch.events[0].pending, "case %zu", i);
        cr_assert_str_eq(batch.events[0].field, cases[i].field, "case %zu: %s", i, batch.events[0].error);
        gateway_ingest_batch_clear(&batch);
    }
    /* In binary mode the body is the data. */
    cr_assert_eq(gateway_ce_parse(GATEWAY_CE_BINARY, "[1]", 3, headers, 4, &limits, &batch, detail), 0);
    cr_assert_str_eq(batch.events[0].field, "data");
    gateway_ingest_batch_clear(&batch);
}

Test(gateway_cloudevents, the_mode_follows_the_content_type)
{
    gateway_ce_mode_t mode;
    cr_assert_eq(gateway_ce_mode("application/cloudevents+json", &mode), 0);
    cr_assert_eq(mode, GATEWAY_CE_STRUCTURED);
    cr_assert_eq(gateway_ce_mode("application/cloudevents-batch+json; charset=utf-8", &mode), 0);
    cr_assert_eq(mode, GATEWAY_CE_BATCH);
    cr_assert_eq(gateway_ce_mode("application/json", &mode), 0);
    cr_assert_eq(mode, GATEWAY_CE_BINARY);
    cr_assert_eq(gateway_ce_mode("text/plain", &mode), CRM_EINVALID);
    cr_assert_eq(gateway_ce_mode(NULL, &mode), CRM_EINVALID);
    cr_assert_eq(gateway_ce_mode("application/cloudevents+xml", &mode), CRM_EINVALID);
}

/* Packs an envelope of type with payload msg (may be NULL for none). */
static void *
s_envelope(const char *id, const char *type, const char *schema, const ProtobufCMessage *msg, size_t *len)
{
    uint8_t data[1024];
    size_t data_len = msg ? protobuf_c_message_pack(msg, data) : 0;
    Crm__V1__Event ev = CRM__V1__EVENT__INIT;
    ev.id = (char *) id;
    ev.source = "/erp";
    ev.spec_version = "1.0";
    ev.type = (char *) type;
    ev.data_schema = (char *) schema;
    ev.data.data = data;
    ev.data.len = data_len;
    *len = crm__v1__event__get_packed_size(&ev);
    void *buf = malloc(*len ? *len : 1);
    crm__v1__event__pack(&ev, buf);
    return buf;
}

Test(gateway_cloudevents, envelopes_are_checked_like_json_events)
{
    Crm__V1__CustomerRef ref = CRM__V1__CUSTOMER_REF__INIT;
    ref.email = "a@b.c";
    Crm__V1__OrderPlaced order = CRM__V1__ORDER_PLACED__INIT;
    order.order_id = "o-1";
    order.customer = &ref;
    order.currency = "EUR";
    order.amount_minor = 100;
    size_t len = 0;
    gateway_ingest_event_t ev;

    void *buf = s_envelope("z-1", "order.placed", "crm.v1.OrderPlaced", &order.base, &len);
    cr_assert_eq(gateway_ce_from_envelope(buf, len, &limits, &ev), 0);
    cr_assert(ev.pending, "%s %s", ev.field, ev.error);
    cr_assert_str_eq(ev.id, "z-1");
    cr_assert_str_eq(((Crm__V1__OrderPlaced *) ev.data)->order_id, "o-1");
    crm_codec_message_free(&ev.data);
    free(buf);

    buf = s_envelope("z-2", "order.placed", "", &order.base, &len);
    cr_assert_eq(gateway_ce_from_envelope(buf, len, &limits, &ev), 0);
    cr_assert(ev.pending, "the schema may be left out");
    crm_codec_message_free(&ev.data);
    free(buf);

    buf = s_envelope("z-3", "order.placed", "crm.v1.OrderRefunded", &order.base, &len);
    cr_assert_eq(gateway_ce_from_envelope(buf, len, &limits, &ev), 0);
    cr_assert_str_eq(ev.field, "dataSchema");
    free(buf);

    buf = s_envelope("z-4", "crm.ingest.order.placed.v1", "", &order.base, &len);
    cr_assert_eq(gateway_ce_from_envelope(buf, len, &limits, &ev), 0);
    cr_assert_str_eq(ev.field, "type");
    free(buf);

    order.currency = "E";
    buf = s_envelope("z-5", "order.placed", "", &order.base, &len);
    cr_assert_eq(gateway_ce_from_envelope(buf, len, &limits, &ev), 0);
    cr_assert_str_eq(ev.field, "data.currency");
    free(buf);

    /* A payload with a field number its type does not have: Customer's field 21 in an OrderPlaced. */
    Crm__V1__Customer c = CRM__V1__CUSTOMER__INIT;
    c.purchase_count = 3;
    buf = s_envelope("z-6", "order.placed", "", &c.base, &len);
    cr_assert_eq(gateway_ce_from_envelope(buf, len, &limits, &ev), 0);
    cr_assert_not(ev.pending);
    cr_assert_str_eq(ev.field, "data");
    cr_assert_not_null(strstr(ev.error, "unknown field"), "%s", ev.error);
    free(buf);

    cr_assert_eq(gateway_ce_from_envelope("\xff\xff\xff", 3, &limits, &ev), 0);
    cr_assert_not(ev.pending);
    cr_assert_not_null(strstr(ev.error, "envelope"));
}
