/* fuzz_codec_json.c: libFuzzer target: JSON text decoded into a message type; what decodes must round-trip. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "crm_codec.h"
#include "crm_error.h"
#include "fuzz_common.h"

/* Input: one type byte (see fuzz_common.h), then JSON text. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const ProtobufCMessageDescriptor *desc = fuzz_type_take(&data, &size);
    if (!desc)
        return 0;
    /* A copy of exactly size bytes, not NUL-terminated, so ASan sees any read past the end. */
    char *text = malloc(size ? size : 1);
    FUZZ_CHECK(text, "out of memory");
    memcpy(text, data, size);
    ProtobufCMessage *msg = NULL;
    crm_codec_error_t err;
    int rc = crm_codec_json_decode(desc, text, size, &msg, &err);
    FUZZ_CHECK(rc == 0 || rc == CRM_EINVALID || rc == CRM_ETOOBIG, "decode rc %d", rc);
    if (rc == 0) {
        FUZZ_CHECK(msg && msg->descriptor == desc, "decode gave no %s", desc->name);
        fuzz_check_round_trips(msg, true, true);
        crm_codec_message_free(&msg);
        FUZZ_CHECK(msg == NULL, "free did not clear the pointer");
    } else {
        FUZZ_CHECK(msg == NULL, "a failed decode set the message");
        FUZZ_CHECK(memchr(err.message, '\0', sizeof err.message) && err.message[0], "no error message");
        FUZZ_CHECK(memchr(err.path, '\0', sizeof err.path), "error path not terminated");
    }
    free(text);
    return 0;
}
