/* make_seeds.c: writes the generated seed files of corpus/ (MessagePack records and envelopes) from crm_codec_message_sample. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crm_codec.h"
#include "crm_error.h"
#include "fuzz_common.h"

/* Run once by hand when the contracts change: make_seeds <tests/fuzz/corpus>. Seeds larger than
 * this are skipped (a sample nests down to CRM_CODEC_MAX_DEPTH; small seeds fuzz faster). */
#define S_SEED_MAX   4096
#define S_SEEDS_EACH 3        /* samples per type */

static int
s_write(const char *dir, const char *name, char type, const void *buf, size_t len)
{
    if (len + 1 > S_SEED_MAX)
        return 0;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    if (type)
        fputc(type, f);
    fwrite(buf, 1, len, f);
    return fclose(f);
}

int
main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s <corpus-dir>\n", argv[0]);
        return 2;
    }
    char dir[900];
    for (size_t t = 0; t < FUZZ_TYPES_COUNT; t++) {
        for (uint64_t seed = 1; seed <= S_SEEDS_EACH; seed++) {
            ProtobufCMessage *msg = NULL;
            if (crm_codec_message_sample(fuzz_types[t], seed, &msg) != 0)
                return 1;
            char name[64];
            snprintf(name, sizeof name, "sample-%s-%u", fuzz_types[t]->short_name, (unsigned) seed);
            void *buf = NULL;
            size_t len = 0;
            if (crm_codec_msgpack_encode(msg, &buf, &len) != 0)
                return 1;
            snprintf(dir, sizeof dir, "%s/codec_msgpack", argv[1]);
            if (s_write(dir, name, (char) ('0' + t), buf, len) != 0)
                return 1;
            free(buf);
            char *text = NULL;
            if (crm_codec_json_encode(msg, 0, &text, &len, NULL) != 0)
                return 1;
            snprintf(dir, sizeof dir, "%s/codec_json", argv[1]);
            if (s_write(dir, name, (char) ('0' + t), text, len) != 0)
                return 1;
            free(text);
            /* The same payload in an envelope. */
            if (crm_codec_pb_encode(msg, &buf, &len) != 0)
                return 1;
            Crm__V1__Event ev = CRM__V1__EVENT__INIT;
            ev.id = "e-1";
            ev.source = "/crm/fuzz";
            ev.spec_version = "1.0";
            ev.type = "crm.fuzz.sample.v1";
            ev.data_content_type = "application/protobuf";
            ev.data.data = buf;
            ev.data.len = len;
            ev.data_schema = (char *) fuzz_types[t]->name;
            void *packed = NULL;
            size_t packed_len = 0;
            if (crm_codec_pb_encode(&ev.base, &packed, &packed_len) != 0)
                return 1;
            snprintf(dir, sizeof dir, "%s/event", argv[1]);
            if (s_write(dir, name, 0, packed, packed_len) != 0)
                return 1;
            /* An integrator's envelope for the gateway ('3'): an order it knows. */
            if (fuzz_types[t] == &crm__v1__order_placed__descriptor) {
                free(packed);
                ev.type = "order.placed";
                if (crm_codec_pb_encode(&ev.base, &packed, &packed_len) != 0)
                    return 1;
                snprintf(dir, sizeof dir, "%s/gateway", argv[1]);
                snprintf(name, sizeof name, "envelope-order-placed-%u", (unsigned) seed);
                if (s_write(dir, name, '3', packed, packed_len) != 0)
                    return 1;
            }
            free(packed);
            free(buf);
            crm_codec_message_free(&msg);
        }
    }
    return 0;
}
