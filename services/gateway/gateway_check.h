/* gateway_check.h: bounds on decoded messages: string lengths and unknown protobuf fields, at any depth. */
#ifndef GATEWAY_CHECK_H
#define GATEWAY_CHECK_H

#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

#include "crm_codec.h"

/* Walks msg through its descriptors: every string and bytes value, at any depth (repeated
 * fields, map keys and values, the set member of a oneof), must be at most max_string bytes,
 * and no message may carry unknown fields (what protobuf-c keeps of field numbers it does not
 * know). Returns 0, or CRM_EINVALID with err (may be NULL) naming the field by its JSON path
 * ("items[2].sku", "customFields.vip") and saying why. */
int gateway_check_message(const ProtobufCMessage *msg, size_t max_string, crm_codec_error_t *err);

#endif
