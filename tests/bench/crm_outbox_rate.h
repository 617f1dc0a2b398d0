/* crm_outbox_rate.h: the foundation's outbox delivery rate and raw LMDB's, measured the same way for every benchmark. */
#ifndef CRM_OUTBOX_RATE_H
#define CRM_OUTBOX_RATE_H

#include <stdint.h>

#define CRM_OUTBOX_RATE_BATCH 100      /* events per synced commit, for both sides */
#define CRM_OUTBOX_RATE_PAYLOAD 100    /* bytes per event */

/* Puts `events` payloads into a fresh LMDB environment under dir (made), CRM_OUTBOX_RATE_BATCH per
 * synced commit, keys in sequence order. Returns events per second. Exits the program on failure. */
double crm_outbox_rate_raw_lmdb(const char *dir, uint64_t events);

/* Commits `events` events to an outbox in one store (CRM_OUTBOX_RATE_BATCH per transaction),
 * publishes them, and applies each in a subscriber's store (one record per event, cursor in the
 * same transaction), in a temporary folder removed after. Returns events per second from the first
 * commit to the last applied. Exits the program on failure. */
double crm_outbox_rate_delivery(uint64_t events);

#endif
