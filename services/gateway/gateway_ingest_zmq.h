/* gateway_ingest_zmq.h: the ZeroMQ ingest socket: packed crm.v1.Event envelopes in, one crm.v1.IngestResult out for each, after commit. */
#ifndef GATEWAY_INGEST_ZMQ_H
#define GATEWAY_INGEST_ZMQ_H

#include <stddef.h>

#include "gateway_cloudevents.h"
#include "gateway_ingest.h"

/* A ROUTER socket. A DEALER client sends one frame, a packed crm.v1.Event, and receives one
 * frame, a packed crm.v1.IngestResult, once the event is committed to the ingest log (or
 * rejected, or found a duplicate). A REQ client (an empty delimiter frame first) works too.
 * Results come back in the order the events were sent. A message of another shape is answered
 * with a rejected result. A thread of its own reads up to GATEWAY_INGEST_ZMQ_BATCH waiting
 * messages, hands them to the group committer as one batch, and answers them all. */

#define GATEWAY_INGEST_ZMQ_BATCH     1000    /* messages taken into one batch */
#define GATEWAY_INGEST_ZMQ_HWM       10000   /* messages queued per peer, each way */
#define GATEWAY_INGEST_ZMQ_POLL_MS   1000    /* longest wait before looking at the stop flag */

typedef struct gateway_ingest_zmq gateway_ingest_zmq_t;

/* Called on the socket's thread after each batch is answered (for metrics). */
typedef void (*gateway_ingest_zmq_fn)(const gateway_ingest_batch_t *batch, void *arg);

/* Binds a ROUTER on endpoint, with ZMQ_MAXMSGSIZE max_message, and starts the thread.
 * max_message: the largest message taken (bytes); ingest, limits and on_batch (may be NULL)
 * are borrowed. Returns 0 and sets *zi_p (caller destroys), CRM_EINVALID (bad endpoint),
 * CRM_EBUS (bind failed), CRM_ENOMEM or CRM_EIO (no thread). */
int gateway_ingest_zmq_new(void *zmq_ctx, const char *endpoint, size_t max_message,
                           gateway_ingest_t *ingest, const gateway_ce_limits_t *limits,
                           gateway_ingest_zmq_fn on_batch, void *arg, gateway_ingest_zmq_t **zi_p);

/* The endpoint bound, with the port filled in (borrowed). */
const char *gateway_ingest_zmq_endpoint(const gateway_ingest_zmq_t *zi);

/* Stops the thread (answering what it holds first), closes the socket and frees. Safe on NULL;
 * sets *zi_p to NULL. */
void gateway_ingest_zmq_destroy(gateway_ingest_zmq_t **zi_p);

#endif
