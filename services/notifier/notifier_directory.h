/* notifier_directory.h: whom the notifier can reach: customers as contacts' and loyalty's events describe them, and the staff directory. */
#ifndef NOTIFIER_DIRECTORY_H
#define NOTIFIER_DIRECTORY_H

#include <stdbool.h>
#include <stdint.h>

#include "crm/v1/contacts.pb-c.h"
#include "crm/v1/notifier.pb-c.h"
#include "notifier_ctx.h"

#define NOTIFIER_CALENDAR_KEY_LEN (4 + CRM_ID_LEN)   /* <MMDD><customer id> */

/* Reads a customer; a merged customer reads as its survivor. Returns 0 with *out (caller frees
 * with crm_codec_message_free), CRM_ENOTFOUND (never heard of), or a store or codec error. A
 * deleted or erased customer reads with deleted set; one only loyalty has spoken of so far reads
 * with described false. */
int notifier_customer_get(notifier_t *nt, crm_txn_t *txn, const char *id, Crm__V1__NotifyCustomer **out);

/* Takes in a customer as contacts published it (created, updated, merged survivor), keeping the
 * loyalty tier the notifier already knows, and files its birthday in the calendar. Sets
 * *birthday_today when the customer's birthday is the local day of now. Returns 0 or a store or
 * codec error. */
int notifier_customer_upsert(notifier_t *nt, crm_txn_t *txn, const Crm__V1__Customer *c, bool *birthday_today);

/* Sets the customer's loyalty tier (from crm.loyalty.tier.changed.v1); a customer not yet known
 * gets a record with only the tier. Returns 0 or a store or codec error. */
int notifier_customer_set_tier(notifier_t *nt, crm_txn_t *txn, const char *id, const char *tier);

/* Forgets a deleted, erased or merged customer: keeps a tombstone (deleted; merged_into for a
 * merge) so that later events about it are not held for it, drops its calendar entry, and on
 * erasure drops every personal field. Returns 0 or a store or codec error. */
int notifier_customer_forget(notifier_t *nt, crm_txn_t *txn, const char *id, bool erased, const char *merged_into);

/* Reads a staff member. Returns 0 with *out (caller frees), CRM_ENOTFOUND, or a store or codec
 * error. */
int notifier_staff_get(notifier_t *nt, crm_txn_t *txn, const char *id, Crm__V1__StaffMember **out);

/* Calls fn for every staff member in id order (the member is borrowed for the call); stops when fn
 * returns non-zero and returns that. Returns 0 or a store or codec error. */
typedef int (*notifier_staff_fn)(const Crm__V1__StaffMember *member, void *arg);
int notifier_staff_each(notifier_t *nt, crm_txn_t *txn, notifier_staff_fn fn, void *arg);

/* The customer's JSON for templates and conditions (every field, defaults included), or an empty
 * object for NULL. Returns a new reference or NULL (out of memory). */
json_t *notifier_customer_json(const Crm__V1__NotifyCustomer *c);

#endif
