/* crm_event.c: making, appending and reading event envelopes. */
#include "crm_event.h"

#include <stdlib.h>
#include <string.h>

#include "crm_codec.h"
#include "crm_error.h"
#include "crm_time.h"

int crm_event_append(crm_outbox_t *outbox, crm_txn_t *txn, crm_id_gen_t *ids,
                     const crm_event_spec_t *spec, uint64_t *seq_p)
{
    if (!spec->source || !*spec->source || !spec->type || !*spec->type || !spec->data)
        return CRM_EINVALID;
    char id[CRM_ID_SIZE];
    if (!spec->id) {
        int rc = crm_id_next(ids, id);
        if (rc)
            return rc;
    }
    uint64_t seq = 0;
    int rc = crm_outbox_next_seq(outbox, txn, &seq);
    if (rc)
        return rc;
    int64_t time_us = spec->time_us ? spec->time_us : crm_time_now_us();

    size_t data_len = protobuf_c_message_get_packed_size(spec->data);
    if (data_len > CRM_BUS_MAX_PAYLOAD)
        return CRM_ETOOBIG;
    uint8_t *data = malloc(data_len ? data_len : 1);
    if (!data)
        return CRM_ENOMEM;
    protobuf_c_message_pack(spec->data, data);

    Crm__V1__Timestamp time = CRM__V1__TIMESTAMP__INIT;
    time.seconds = time_us / 1000000;
    time.nanos = (int32_t) (time_us % 1000000) * 1000;
    if (time.nanos < 0) {
        time.seconds -= 1;
        time.nanos += 1000000000;
    }
    Crm__V1__Event event = CRM__V1__EVENT__INIT;
    event.id = (char *) (spec->id ? spec->id : id);
    event.source = (char *) spec->source;
    event.spec_version = (char *) CRM_EVENT_SPEC_VERSION;
    event.type = (char *) spec->type;
    event.time = &time;
    event.subject = (char *) (spec->subject ? spec->subject : "");
    event.sequence = seq;
    event.data_content_type = (char *) CRM_EVENT_CONTENT_TYPE;
    event.data.data = data;
    event.data.len = data_len;
    event.data_schema = (char *) spec->data->descriptor->name;

    size_t len = crm__v1__event__get_packed_size(&event);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf) {
        free(data);
        return CRM_ENOMEM;
    }
    crm__v1__event__pack(&event, buf);
    free(data);
    rc = crm_outbox_append_at(outbox, txn, seq, spec->type, buf, len);
    free(buf);
    if (rc == 0 && seq_p)
        *seq_p = seq;
    return rc;
}

int crm_event_decode(const void *buf, size_t len, Crm__V1__Event **event_p)
{
    crm_codec_error_t err;
    ProtobufCMessage *msg = NULL;
    int rc = crm_codec_pb_decode(&crm__v1__event__descriptor, buf, len, &msg, &err);
    if (rc)
        return rc;
    *event_p = (Crm__V1__Event *) msg;
    return 0;
}

int crm_event_data(const Crm__V1__Event *event, const ProtobufCMessageDescriptor *desc,
                   ProtobufCMessage **data_p)
{
    if (!event->data_schema || strcmp(event->data_schema, desc->name) != 0)
        return CRM_EINVALID;
    crm_codec_error_t err;
    return crm_codec_pb_decode(desc, event->data.data, event->data.len, data_p, &err);
}

void crm_event_destroy(Crm__V1__Event **event_p)
{
    if (!event_p || !*event_p)
        return;
    protobuf_c_message_free_unpacked(&(*event_p)->base, NULL);
    *event_p = NULL;
}
