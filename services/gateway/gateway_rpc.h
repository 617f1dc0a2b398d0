/* gateway_rpc.h: asynchronous requests to one service: many in flight on one DEALER socket, each completed by a callback. */
#ifndef GATEWAY_RPC_H
#define GATEWAY_RPC_H

#include <stddef.h>
#include <stdint.h>

#include "crm_rpc.h"

/* The wire is crm_rpc's (a packed crm.v1.Request out, a packed crm.v1.Reply back, matched by
 * id), but where a crm_rpc client blocks its thread for each call, this dispatcher owns one
 * DEALER socket in a thread of its own and keeps up to GATEWAY_RPC_MAX_IN_FLIGHT calls going at
 * once. The HTTP threads hand it a call and suspend the connection; the dispatcher finishes the
 * call (reply, time-out, or unreachable service) and the callback resumes the connection. Under
 * load one wake-up of each thread moves many messages, where blocking calls would pay two
 * thread hand-offs for every request.
 *
 * Like crm_rpc: ZMQ_IMMEDIATE, so a call while no server is connected fails at once with
 * CRM_EUNAVAIL; a call is never sent twice; a late reply to a call that timed out is dropped. */

#define GATEWAY_RPC_MAX_IN_FLIGHT 4096   /* calls at once per service; more fail with CRM_EUNAVAIL */

typedef struct gateway_rpc gateway_rpc_t;
typedef struct gateway_rpc_call gateway_rpc_call_t;

/* Called on the dispatcher's thread once call is finished; call is the caller's again. */
typedef void (*gateway_rpc_done_fn)(gateway_rpc_call_t *call, void *arg);

struct gateway_rpc_call {
    /* Set by the caller; all borrowed until done. */
    const char *method;                /* "contacts.GetCustomer" */
    const char *key_id;                /* may be NULL */
    const char *role;                  /* may be NULL */
    const void *body;
    size_t body_len;
    int timeout_ms;                    /* 1 .. CRM_RPC_MAX_TIMEOUT_MS */
    /* The outcome: rc 0 with result filled (the caller clears it with crm_rpc_result_clear), or
     * CRM_EUNAVAIL (not sent: no server connected, too many in flight, or stopped),
     * CRM_ETIMEOUT (no reply in time), CRM_EINVALID (bad method, text or time-out),
     * CRM_ETOOBIG, CRM_ENOMEM or CRM_EBUS. */
    int rc;
    crm_rpc_result_t result;
    /* The dispatcher's. */
    gateway_rpc_done_fn done;
    void *done_arg;
    int64_t deadline_ms;               /* monotonic */
    gateway_rpc_call_t *next;
    int done_flag;                     /* gateway_rpc_call's wait */
};

/* Connects a DEALER to endpoint and starts the dispatcher thread. Returns 0 and sets *rpc_p
 * (caller destroys), CRM_EINVALID (endpoint), CRM_EBUS, CRM_EIO (no thread) or CRM_ENOMEM. */
int gateway_rpc_new(void *zmq_ctx, const char *endpoint, gateway_rpc_t **rpc_p);

/* Finishes every call in flight or queued with CRM_EUNAVAIL and refuses new ones; returns once
 * the dispatcher has let go of every call. Thread-safe; safe to call twice. */
void gateway_rpc_stop(gateway_rpc_t *rpc);

/* Stops (as gateway_rpc_stop), joins the thread, closes the socket, frees. Safe on NULL; sets
 * *rpc_p to NULL. */
void gateway_rpc_destroy(gateway_rpc_t **rpc_p);

/* Queues call; done(call, arg) runs on the dispatcher's thread when it is finished (call->rc
 * says how). call must stay untouched until then. Returns 0, or CRM_EUNAVAIL when stopped (done
 * is not called). Thread-safe. */
int gateway_rpc_submit(gateway_rpc_t *rpc, gateway_rpc_call_t *call, gateway_rpc_done_fn done,
                       void *arg);

/* Submits call and waits until it is finished. Returns call->rc. Thread-safe. */
int gateway_rpc_call(gateway_rpc_t *rpc, gateway_rpc_call_t *call);

#endif
