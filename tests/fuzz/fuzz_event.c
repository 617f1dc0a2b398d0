/* fuzz_event.c: libFuzzer target: packed crm.v1.Event envelopes read with crm_event_decode and crm_event_data. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "crm_codec.h"
#include "crm_error.h"
#include "crm_event.h"
#include "fuzz_common.h"

/* Input: a packed envelope (no type byte). Its payload is read as every type of fuzz_common.h;
 * only the one data_schema names may decode. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    void *buf = malloc(size ? size : 1);
    FUZZ_CHECK(buf, "out of memory");
    memcpy(buf, data, size);
    Crm__V1__Event *event = NULL;
    int rc = crm_event_decode(buf, size, &event);
    FUZZ_CHECK(rc == 0 || rc == CRM_EINVALID || rc == CRM_ETOOBIG, "decode rc %d", rc);
    if (rc == 0) {
        FUZZ_CHECK(event && event->base.descriptor == &crm__v1__event__descriptor, "no envelope");
        fuzz_check_round_trips(&event->base, false, false);
        for (size_t i = 0; i < FUZZ_TYPES_COUNT; i++) {
            ProtobufCMessage *payload = NULL;
            rc = crm_event_data(event, fuzz_types[i], &payload);
            bool named = event->data_schema && strcmp(event->data_schema, fuzz_types[i]->name) == 0;
            FUZZ_CHECK(rc == 0 || rc == CRM_EINVALID || rc == CRM_ETOOBIG, "data rc %d", rc);
            FUZZ_CHECK(named || rc != 0, "%s decoded as %s", event->data_schema, fuzz_types[i]->name);
            if (rc == 0) {
                FUZZ_CHECK(payload && payload->descriptor == fuzz_types[i], "no payload");
                fuzz_check_round_trips(payload, false, false);
                protobuf_c_message_free_unpacked(payload, NULL);
            }
        }
        crm_event_destroy(&event);
        FUZZ_CHECK(event == NULL, "destroy did not clear the pointer");
    }
    free(buf);
    return 0;
}
