/* notifier_events.c: events in: schemas by name, the directory from contacts and loyalty, erasure, then the rules. */
#include "notifier_events.h"

#include <stdio.h>
#include <string.h>

#include "crm/v1/analytics.pb-c.h"
#include "crm/v1/contacts.pb-c.h"
#include "crm/v1/feedback.pb-c.h"
#include "crm/v1/gateway.pb-c.h"
#include "crm/v1/loyalty.pb-c.h"
#include "crm/v1/notifier.pb-c.h"
#include "crm_codec.h"
#include "crm_error.h"
#include "crm_event.h"
#include "notifier_delivery.h"
#include "notifier_directory.h"
#include "notifier_jobs.h"

/* The event payloads of the suite, by full name. A new event message needs one line here (until
 * then its events reach the rules with the envelope only). */
static const ProtobufCMessageDescriptor *const s_schemas[] = {
    /* contacts */
    &crm__v1__customer_created__descriptor,
    &crm__v1__customer_updated__descriptor,
    &crm__v1__customer_merged__descriptor,
    &crm__v1__customer_deleted__descriptor,
    &crm__v1__customer_erased__descriptor,
    &crm__v1__interaction_logged__descriptor,
    &crm__v1__purchase_recorded__descriptor,
    &crm__v1__purchase_refunded__descriptor,
    &crm__v1__complaint_received__descriptor,
    /* loyalty */
    &crm__v1__points_changed__descriptor,
    &crm__v1__points_expiring__descriptor,
    &crm__v1__tier_changed__descriptor,
    &crm__v1__badge_awarded__descriptor,
    &crm__v1__redemption_changed__descriptor,
    /* feedback */
    &crm__v1__invitation_created__descriptor,
    &crm__v1__answer_received__descriptor,
    &crm__v1__complaint_changed__descriptor,
    &crm__v1__complaint_replied__descriptor,
    &crm__v1__sla_breached__descriptor,
    &crm__v1__complaint_escalated__descriptor,
    /* analytics */
    &crm__v1__churn_risk__descriptor,
    &crm__v1__segment_changed__descriptor,
    &crm__v1__stage_changed__descriptor,
    /* gateway (audit) */
    &crm__v1__key_changed__descriptor,
    &crm__v1__audit_entry__descriptor,
    /* notifier */
    &crm__v1__message_event__descriptor,
    &crm__v1__reminder_due__descriptor,
    &crm__v1__calendar_occasion__descriptor,
};

const ProtobufCMessageDescriptor *notifier_schema_find(const char *full_name)
{
    for (size_t i = 0; i < sizeof s_schemas / sizeof s_schemas[0]; i++)
        if (strcmp(s_schemas[i]->name, full_name) == 0)
            return s_schemas[i];
    return NULL;
}

static bool s_is(const Crm__V1__Event *ev, const char *type)
{
    return strcmp(ev->type, type) == 0;
}

/* After a customer arrives or changes: held events, today's birthday. */
static int s_customer_known(notifier_t *nt, crm_txn_t *txn, const char *id, bool birthday_today)
{
    int rc = notifier_parked_release(nt, txn, id);
    if (rc == 0 && birthday_today)
        rc = notifier_calendar_birthday(nt, txn, id, notifier_local_day(notifier_now(nt), nt->settings.utc_offset_min));
    return rc;
}

static int s_directory(notifier_t *nt, crm_txn_t *txn, const Crm__V1__Event *ev, const ProtobufCMessage *msg)
{
    bool today = false;
    int rc = 0;
    if (s_is(ev, "crm.contacts.customer.created.v1") || s_is(ev, "crm.contacts.customer.updated.v1")) {
        const Crm__V1__Customer *c = msg->descriptor == &crm__v1__customer_created__descriptor
                                         ? ((const Crm__V1__CustomerCreated *) msg)->customer
                                         : msg->descriptor == &crm__v1__customer_updated__descriptor
                                               ? ((const Crm__V1__CustomerUpdated *) msg)->customer
                                               : NULL;
        if (!c)
            return CRM_EINVALID;
        rc = notifier_customer_upsert(nt, txn, c, &today);
        if (rc == 0)
            rc = s_customer_known(nt, txn, c->id, today);
    } else if (s_is(ev, "crm.contacts.customer.merged.v1")) {
        if (msg->descriptor != &crm__v1__customer_merged__descriptor)
            return CRM_EINVALID;
        const Crm__V1__CustomerMerged *m = (const Crm__V1__CustomerMerged *) msg;
        if (m->survivor)
            rc = notifier_customer_upsert(nt, txn, m->survivor, &today);
        if (rc == 0)
            rc = notifier_customer_forget(nt, txn, m->merged_id, false, m->survivor_id);
        if (rc == 0 && m->survivor)
            rc = s_customer_known(nt, txn, m->survivor_id, false);
    } else if (s_is(ev, "crm.contacts.customer.deleted.v1")) {
        if (msg->descriptor != &crm__v1__customer_deleted__descriptor)
            return CRM_EINVALID;
        rc = notifier_customer_forget(nt, txn, ((const Crm__V1__CustomerDeleted *) msg)->customer_id, false, NULL);
    } else if (s_is(ev, "crm.contacts.customer.erased.v1")) {
        if (msg->descriptor != &crm__v1__customer_erased__descriptor)
            return CRM_EINVALID;
        const char *id = ((const Crm__V1__CustomerErased *) msg)->customer_id;
        rc = notifier_customer_forget(nt, txn, id, true, NULL);
        if (rc == 0)
            rc = notifier_deliveries_erase(nt, txn, id);
        if (rc == 0)
            rc = notifier_reminders_erase(nt, txn, id);
    } else if (s_is(ev, "crm.loyalty.tier.changed.v1")) {
        if (msg->descriptor != &crm__v1__tier_changed__descriptor)
            return CRM_EINVALID;
        const Crm__V1__TierChanged *t = (const Crm__V1__TierChanged *) msg;
        rc = notifier_customer_set_tier(nt, txn, t->customer_id, t->to_tier);
    }
    return rc;
}

int notifier_event_apply(notifier_t *nt, crm_txn_t *txn, const Crm__V1__Event *ev, bool may_park)
{
    const ProtobufCMessageDescriptor *desc = notifier_schema_find(ev->data_schema);
    ProtobufCMessage *msg = NULL;
    json_t *data = NULL;
    int rc = 0;
    if (desc) {
        rc = crm_codec_pb_decode(desc, ev->data.len ? ev->data.data : (const uint8_t *) "", ev->data.len, &msg, NULL);
        if (rc)
            return CRM_EINVALID;
        rc = s_directory(nt, txn, ev, msg);
        if (rc == 0 && crm_codec_json_from_message(msg, CRM_CODEC_EMIT_DEFAULTS, &data, NULL) != 0)
            rc = CRM_EINVALID;
    }
    if (rc == 0) {
        int64_t time_us = ev->time ? ev->time->seconds * 1000000 + ev->time->nanos / 1000 : notifier_now(nt);
        notifier_event_t in = {
            .type = ev->type, .id = ev->id, .subject = ev->subject, .time_us = time_us, .data = data,
        };
        rc = notifier_intake(nt, txn, &in, may_park, NULL);
    }
    json_decref(data);
    crm_codec_message_free(&msg);
    return rc;
}

int notifier_on_event(crm_txn_t *txn, const crm_bus_event_t *event, void *arg)
{
    notifier_t *nt = arg;
    Crm__V1__Event *ev = NULL;
    int rc = crm_event_decode(event->payload, event->payload_len, &ev);
    if (rc)
        return CRM_EINVALID;
    rc = notifier_event_apply(nt, txn, ev, true);
    if (rc == CRM_EINVALID)
        NOTIFIER_LOG(nt, CRM_LOG_WARN, "an event could not be used; dead-lettered", "type", ev->type, "id", ev->id);
    crm_event_destroy(&ev);
    /* Events the rules published (skips) go out once the subscriber commits. */
    if (rc == 0)
        crm_outbox_notify(nt->outbox);
    return rc;
}
