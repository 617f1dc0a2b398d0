/* crm_event.h: the event envelope (crm.v1.Event): made with its payload and appended to an outbox, or read back. */
#ifndef CRM_EVENT_H
#define CRM_EVENT_H

#include <stddef.h>
#include <stdint.h>
#include <protobuf-c/protobuf-c.h>

#include "crm/v1/envelope.pb-c.h"
#include "crm_id.h"
#include "crm_outbox.h"
#include "crm_store.h"

#define CRM_EVENT_SPEC_VERSION "1.0"
#define CRM_EVENT_CONTENT_TYPE "application/protobuf"

/* What a service says about an event it raises. Strings are borrowed for the call. */
typedef struct {
    const char *id;                  /* NULL: a new time-ordered id */
    const char *source;              /* "/crm/contacts" */
    const char *type;                /* "crm.contacts.customer.created.v1": also the bus topic */
    const char *subject;             /* the customer id, or NULL */
    int64_t time_us;                 /* when it happened; 0 for now */
    const ProtobufCMessage *data;    /* the payload message */
} crm_event_spec_t;

/* Packs the envelope with the outbox's next sequence and appends it, in the write transaction txn
 * (inside a crm_store_write body), so the event commits with the state change. ids makes the id
 * when spec->id is NULL. Sets *seq (may be NULL). Returns 0, CRM_EINVALID (missing source, type or
 * data), CRM_ETOOBIG, CRM_ENOMEM or a store error (CRM_EMAPFULL included). */
int crm_event_append(crm_outbox_t *outbox, crm_txn_t *txn, crm_id_gen_t *ids,
                     const crm_event_spec_t *spec, uint64_t *seq);

/* Reads an envelope from bytes. Returns 0 and sets *event_p (caller frees with
 * crm_event_destroy), CRM_EINVALID for a malformed one, or CRM_ETOOBIG. */
int crm_event_decode(const void *buf, size_t len, Crm__V1__Event **event_p);

/* Decodes the envelope's payload as desc, checking data_schema names it. Returns 0 and sets
 * *data_p (caller frees with protobuf_c_message_free_unpacked), or CRM_EINVALID. */
int crm_event_data(const Crm__V1__Event *event, const ProtobufCMessageDescriptor *desc,
                   ProtobufCMessage **data_p);

/* Frees an envelope. Safe on NULL; sets *event_p to NULL. */
void crm_event_destroy(Crm__V1__Event **event_p);

#endif
