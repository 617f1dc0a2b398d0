/* gateway_cloudevents.h: integrator events read from CloudEvents 1.0 JSON (structured, batch, binary) and from protobuf envelopes. */
#ifndef GATEWAY_CLOUDEVENTS_H
#define GATEWAY_CLOUDEVENTS_H

#include <stddef.h>

#include "gateway_ingest.h"

#define GATEWAY_CE_STRUCTURED_TYPE "application/cloudevents+json"
#define GATEWAY_CE_BATCH_TYPE      "application/cloudevents-batch+json"
#define GATEWAY_CE_BINARY_TYPE     "application/json"
#define GATEWAY_CE_EXTENSION_MAX   20      /* characters of an extension attribute's name */

typedef enum {
    GATEWAY_CE_STRUCTURED = 0,    /* one event object */
    GATEWAY_CE_BATCH,             /* an array of event objects */
    GATEWAY_CE_BINARY             /* attributes in ce-* headers, the body is data */
} gateway_ce_mode_t;

typedef struct {
    size_t max_batch;             /* events in one batch */
    size_t max_string;            /* bytes of any string in an event's data */
} gateway_ce_limits_t;

/* One request header (borrowed). */
typedef struct {
    const char *name;
    const char *value;
} gateway_ce_header_t;

/* Picks the mode from a Content-Type header value. Returns 0 and sets *mode, or CRM_EINVALID
 * (another media type: 415). */
int gateway_ce_mode(const char *content_type, gateway_ce_mode_t *mode);

/* Reads len bytes of body in mode (binary mode takes the attributes from headers, n_headers of
 * them; the other modes ignore them) and appends one event per event found to batch: each
 * either pending (valid, payload decoded) or rejected with an error and a field:
 *   "id", "source", "specversion", "type", "time", "datacontenttype", an unknown attribute's
 *   name, "data" or "data.<path>" (JSON names, such as "data.customer.email"); in binary mode
 *   attributes are named by their header ("ce-id").
 * Checks: specversion "1.0"; id 1..GATEWAY_CE_ID_MAX and source 1..GATEWAY_CE_SOURCE_MAX bytes
 * without control characters or spaces; a known type; time RFC 3339 when given; datacontenttype
 * application/json when given; extension names [a-z0-9]{1,20} with scalar values (kept no
 * further); data a JSON object decoding strictly (unknown fields refused) into the type's
 * payload, strings at most max_string bytes, and what the type needs (an order id, a customer,
 * a currency of three capitals, ...).
 * Returns 0; CRM_EINVALID when the body as a whole is unusable (not JSON, or not an object in
 * structured mode, not an array in batch mode): detail says why (400); CRM_ETOOBIG when a batch
 * holds more than max_batch events (413; batch left empty); CRM_ENOMEM. */
int gateway_ce_parse(gateway_ce_mode_t mode, const char *body, size_t len,
                     const gateway_ce_header_t *headers, size_t n_headers,
                     const gateway_ce_limits_t *limits, gateway_ingest_batch_t *batch,
                     char detail[GATEWAY_CE_ERROR_MAX]);

/* Reads one packed crm.v1.Event envelope (the ZeroMQ ingest form: type "order.placed", data the
 * packed payload, data_schema empty or the payload's full name, data_content_type empty or
 * "application/protobuf") into event: pending, or rejected as gateway_ce_parse says (attributes
 * named as in CloudEvents JSON, "specversion", "id", ...; then "dataContentType", "dataSchema",
 * "data.orderId"). An envelope with unknown fields, or a payload with any, is rejected.
 * Returns 0 or CRM_ENOMEM. */
int gateway_ce_from_envelope(const void *buf, size_t len, const gateway_ce_limits_t *limits,
                             gateway_ingest_event_t *event);

#endif
