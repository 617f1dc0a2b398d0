/* notifier_delivery.h: from an event to deliveries (rules, recipients, consent, caps, digests, the queue), and a delivery's life in the queue: claimed, sent, retried, dead-lettered. */
#ifndef NOTIFIER_DELIVERY_H
#define NOTIFIER_DELIVERY_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "crm/v1/notifier.pb-c.h"
#include "notifier_ctx.h"
#include "notifier_webhook.h"

#define NOTIFIER_EXPAND_MAX       256     /* recipients one rule reaches for one event */
#define NOTIFIER_DIGEST_ITEMS_MAX 100     /* messages one digest gathers (a full bucket goes at once) */
#define NOTIFIER_TEMPLATE_LOCALES 32      /* locales of one template considered */
#define NOTIFIER_CLAIM_SKIP_MAX   64      /* stale queue entries one claim passes over */

#define NOTIFIER_TYPE_SENT        "crm.notifier.message.sent.v1"
#define NOTIFIER_TYPE_FAILED      "crm.notifier.message.failed.v1"
#define NOTIFIER_TYPE_DEAD        "crm.notifier.message.dead_lettered.v1"
#define NOTIFIER_TYPE_SKIPPED     "crm.notifier.message.skipped.v1"

/* Skip reasons (Delivery.skip_reason). */
#define NOTIFIER_SKIP_NO_CONSENT        "no_consent"
#define NOTIFIER_SKIP_NO_ADDRESS        "no_address"
#define NOTIFIER_SKIP_DAILY_CAP         "daily_cap"
#define NOTIFIER_SKIP_CUSTOMER_DELETED  "customer_deleted"
#define NOTIFIER_SKIP_UNKNOWN_CUSTOMER  "unknown_customer"
#define NOTIFIER_SKIP_DISABLED          "recipient_disabled"

/* An occurrence the rules react to. Strings and data are borrowed for the call. */
typedef struct {
    const char *type;            /* the event type */
    const char *id;              /* the event id: with the rule and recipient, sends once */
    const char *subject;         /* the customer it is about, or "" */
    int64_t time_us;             /* when it happened */
    const json_t *data;          /* the payload as JSON; NULL reads as {} */
} notifier_event_t;

/* Applies every enabled rule of ev->type whose condition holds: expands its recipients, and for
 * each one not yet sent this event by this rule renders the template in the recipient's locale and
 * records a delivery: skipped (no consent, no address, daily cap, deleted customer; logged and
 * published), gathered into a digest, or queued for its time (delay, time of day, quiet hours).
 * When ev names a customer the notifier has not heard of yet and may_park, the event waits (in
 * parked) for the customer, at most CRM_NOTIFIER_PARK_TIMEOUT; *parked is then set (may be NULL).
 * Returns 0 or a store, codec or memory error. */
int notifier_intake(notifier_t *nt, crm_txn_t *txn, const notifier_event_t *ev, bool may_park, bool *parked);

/* Fires a pending reminder: marks it fired, publishes crm.notifier.reminder.due.v1 and records a
 * delivery of the "reminder" template to each of its recipients (the account owner by default) on
 * its channel (email by default). Returns 0 or a store, codec or memory error. */
int notifier_reminder_fire(notifier_t *nt, crm_txn_t *txn, Crm__V1__Reminder *reminder);

/* Sends one digest: the bucket (recipient, rule) becomes one delivery of the "digest" template,
 * its messages marked digested. Returns 0, CRM_ENOTFOUND (no such bucket) or a store error. */
int notifier_digest_flush(notifier_t *nt, crm_txn_t *txn, const char *recipient, const char *rule_id);

/* Puts delivery id back in the queue at at_us as queued, not counting an attempt (a sender was
 * stopped while it held it). Returns 0 (also when the delivery is gone) or a store error. */
int notifier_delivery_requeue(notifier_t *nt, crm_txn_t *txn, const char *id, int64_t at_us);

/* Queues a dead-lettered delivery again with its attempts reset. Returns 0 with *out (the
 * delivery as stored; caller frees), CRM_ENOTFOUND, CRM_ECONFLICT (not dead-lettered) or a store
 * error. */
int notifier_delivery_retry(notifier_t *nt, crm_txn_t *txn, const char *id, Crm__V1__Delivery **out);

/* Forgets a customer's personal data in the delivery log and inbox: addresses, subjects, bodies
 * and payloads are emptied, queued messages skipped, in-app messages deleted. Returns 0 or a
 * store error. */
int notifier_deliveries_erase(notifier_t *nt, crm_txn_t *txn, const char *customer_id);

/* --- The senders' side */

/* A delivery taken from the queue, with what sending needs (owned copies). */
typedef struct {
    char id[CRM_ID_SIZE];
    Crm__V1__NotifyChannel channel;
    char recipient[NOTIFIER_RECIPIENT_MAX];
    char *address;
    char *subject;
    char *body;
    char *payload;
    char url[NOTIFIER_URL_MAX + 1];                 /* webhook */
    char secret[NOTIFIER_WEBHOOK_SECRET_MAX];       /* webhook */
    uint32_t attempts;                              /* before this one */
} notifier_job_t;

/* Frees the job's strings and zeroes it. */
void notifier_job_clear(notifier_job_t *job);

/* In one write transaction: takes the first queued delivery that is due, checks it is still
 * wanted (the customer not deleted and still consenting, the webhook endpoint there and enabled),
 * delivers in-app messages at once (into the inbox), and marks a delivery to send over the network
 * as sending (in inflight). Sets *got when job holds one to send (the caller sends it, outside any
 * transaction, then calls notifier_delivery_complete), *worked when anything was done, and
 * *next_due_us to when the next queued delivery is due (0: none). Returns 0 or a store or codec
 * error. Safe from any thread. */
int notifier_delivery_claim(notifier_t *nt, notifier_job_t *job, bool *got, bool *worked, int64_t *next_due_us);

/* Records how sending job went: outcome 0 sent; CRM_EINTERRUPT (the sender is stopping: queued
 * again, the attempt not counted); CRM_EINVALID or CRM_EDENIED (failed for good: dead-lettered
 * at once); anything else a failure that is retried with backoff until CRM_NOTIFIER_MAX_ATTEMPTS,
 * then dead-lettered. error is the reason (may be NULL). Publishes sent, failed or dead_lettered
 * and logs. Returns 0 or a store or codec error. Safe from any thread. */
int notifier_delivery_complete(notifier_t *nt, const notifier_job_t *job, int outcome, const char *error);

#endif
