/* gateway_ctx.h: what the gateway's modules share: the store, the outbox, ids, and how to write. */
#ifndef GATEWAY_CTX_H
#define GATEWAY_CTX_H

#include "crm_id.h"
#include "crm_outbox.h"
#include "crm_store.h"

/* Runs fn in a write transaction and returns what crm_store_write returns. In the service this is
 * crm_service_write (which also wakes the publisher); tests pass a plain crm_store_write. */
typedef int (*gateway_write_fn)(void *write_arg, crm_store_write_fn fn, void *arg);

/* Everything is borrowed and must outlive the modules that use it. */
typedef struct {
    crm_store_t *store;
    crm_outbox_t *outbox;
    crm_id_gen_t *ids;
    const char *source;          /* "/crm/gateway": the source of the gateway's own events */
    gateway_write_fn write;
    void *write_arg;
} gateway_ctx_t;

/* Runs fn through ctx->write. Returns what it returns. */
static inline int
gateway_ctx_write(const gateway_ctx_t *ctx, crm_store_write_fn fn, void *arg)
{
    return ctx->write(ctx->write_arg, fn, arg);
}

#endif
