/* notifier_events.h: events in: the payload decoded by its schema name into JSON, the directory kept from contacts' and loyalty's events, then the rules. */
#ifndef NOTIFIER_EVENTS_H
#define NOTIFIER_EVENTS_H

#include <stdbool.h>

#include <protobuf-c/protobuf-c.h>

#include "crm/v1/envelope.pb-c.h"
#include "crm_bus.h"
#include "crm_store.h"
#include "notifier_ctx.h"

/* Returns the descriptor of the event payload named full_name ("crm.v1.TierChanged") among the
 * crm.v1 event messages the notifier knows (README.md, "Events in"), or NULL. */
const ProtobufCMessageDescriptor *notifier_schema_find(const char *full_name);

/* Applies one event envelope: decodes its data by data_schema (an unknown schema gives the rules
 * the envelope only, event = {}), updates the directory (contacts' customer events, loyalty's
 * tier changes; an erasure also scrubs the delivery log, inbox and reminders; a customer who
 * becomes known releases the events held for them; one whose birthday is today is greeted), then
 * runs the rules. Returns 0, CRM_EINVALID (a payload that does not decode as its schema) or a
 * store error. */
int notifier_event_apply(notifier_t *nt, crm_txn_t *txn, const Crm__V1__Event *event, bool may_park);

/* The subscriber's apply function for every publisher the notifier follows (arg is the
 * notifier_t). Returns 0, CRM_EINVALID for a malformed event (dead-lettered) or a store error
 * (retried). */
int notifier_on_event(crm_txn_t *txn, const crm_bus_event_t *event, void *arg);

#endif
