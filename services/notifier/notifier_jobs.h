/* notifier_jobs.h: the notifier's calendar and held work: birthdays, holidays, reminders, digests and events waiting for their customer (the tick itself is notifier_tick in notifier_ctx.h). */
#ifndef NOTIFIER_JOBS_H
#define NOTIFIER_JOBS_H

#include <stdbool.h>
#include <stdint.h>

#include "notifier_ctx.h"

/* Raises the birthday of customer_id on the local day `day` for the rules
 * (crm.notifier.calendar.birthday.v1, event id "birthday:<customer>:<year>", so at most once a year
 * per rule). Returns 0 (also for a customer deleted or without a birthday) or a store error. */
int notifier_calendar_birthday(notifier_t *nt, crm_txn_t *txn, const char *customer_id, int64_t day);

/* Runs the events held for customer_id (it has just become known). Returns 0 or a store error. */
int notifier_parked_release(notifier_t *nt, crm_txn_t *txn, const char *customer_id);

/* Forgets what a customer's reminders say (erasure): pending ones are cancelled, notes emptied.
 * Returns 0 or a store error. */
int notifier_reminders_erase(notifier_t *nt, crm_txn_t *txn, const char *customer_id);

#endif
