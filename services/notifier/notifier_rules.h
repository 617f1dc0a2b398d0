/* notifier_rules.h: rules, templates, staff and webhook endpoints: validation, the built-in set written on the first start, and the compiled rule cache. */
#ifndef NOTIFIER_RULES_H
#define NOTIFIER_RULES_H

#include <stdbool.h>
#include <stdint.h>

#include "crm/v1/notifier.pb-c.h"
#include "notifier_ctx.h"

#define NOTIFIER_RULES_MAX        1024       /* rules in the store */
#define NOTIFIER_RECIPIENTS_MAX   16         /* recipients of one rule or reminder */
#define NOTIFIER_EVENT_TYPE_MAX   128        /* bytes of an event type */
#define NOTIFIER_TEXT_MAX         512        /* bytes of a name or description */
#define NOTIFIER_DELAY_MAX_S      (30u * 24 * 3600)   /* a rule's delay: a month */
#define NOTIFIER_DIGEST_MAX_MIN   (7u * 24 * 60)      /* a digest window: a week */
#define NOTIFIER_LABELS_MAX       256        /* labels of one template */
#define NOTIFIER_TEAMS_MAX        16         /* teams of one staff member */
#define NOTIFIER_STAFF_MAX        10000      /* staff members in the store */

/* Event types of the notifier's own calendar, fed to its rules. */
#define NOTIFIER_TYPE_BIRTHDAY    "crm.notifier.calendar.birthday.v1"
#define NOTIFIER_TYPE_HOLIDAY     "crm.notifier.calendar.holiday.v1"
#define NOTIFIER_TYPE_REMINDER    "crm.notifier.reminder.due.v1"

/* Templates the notifier uses itself (built in; replaceable, not deletable in "en"). */
#define NOTIFIER_TEMPLATE_REMINDER "reminder"
#define NOTIFIER_TEMPLATE_DIGEST   "digest"

/* True when spec is a recipient a rule may name: customer, owner, team_lead, admins,
 * team:<name>, team_lead:<team>, staff:<id>, webhook:<id> or address:<email>. */
bool notifier_recipient_valid(const char *spec);

/* True for a plausible email address: one '@', something on each side, no spaces or controls,
 * at most NOTIFIER_ADDRESS_MAX - 1 bytes. */
bool notifier_email_valid(const char *s);

/* Checks and normalises a rule sent by an admin (fields named "rule.<field>"): id, event type,
 * condition (compiled), template (must exist), channel, recipients (webhook endpoints must
 * exist; webhooks only on the webhook channel), delay, time of day, digest window. Returns 0,
 * CRM_EINVALID with err filled, or a store error. */
int notifier_rule_check(notifier_t *nt, crm_txn_t *txn, const Crm__V1__NotifyRule *rule, notifier_err_t *err);

/* Checks a template ("template.<field>"): id, locale, subject and body placeholders, labels.
 * Returns 0 or CRM_EINVALID with err filled. */
int notifier_template_valid(const Crm__V1__NotifyTemplate *t, notifier_err_t *err);

/* Checks a staff member ("member.<field>"). Returns 0 or CRM_EINVALID with err filled. */
int notifier_staff_valid(const Crm__V1__StaffMember *m, notifier_err_t *err);

/* Checks a webhook endpoint ("webhook.<field>"): the URL (a private or loopback target is refused
 * unless the settings allow it), the secret when given. Returns 0 or CRM_EINVALID with err. */
int notifier_webhook_valid(const notifier_t *nt, const Crm__V1__WebhookEndpoint *w, notifier_err_t *err);

/* Writes the built-in templates and rules (README.md, "Built-in rules") in txn. Returns 0 or a
 * store or codec error. */
int notifier_builtin_seed(notifier_t *nt, crm_txn_t *txn, int64_t now_us);

/* Reads every rule and compiles its condition (a stored rule whose condition no longer compiles
 * is left out and logged). Returns 0 with *out filled (caller clears it), or a store, codec or
 * memory error. */
int notifier_rules_load(notifier_t *nt, crm_txn_t *txn, notifier_rules_t *out);

/* Frees the cache's rules and zeroes it. Safe on a zeroed cache. */
void notifier_rules_clear(notifier_rules_t *rules);

#endif
