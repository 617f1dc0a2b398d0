/* contacts_validate.h: checks and normalises customers, interactions, purchases and refunds, naming the offending field. */
#ifndef CONTACTS_VALIDATE_H
#define CONTACTS_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crm/v1/contacts.pb-c.h"
#include "crm_id.h"

/* Field paths in errors are lowerCamelCase JSON names relative to the resource the caller sent
 * (a Customer, an Interaction, a Purchase or a Refund), such as "email", "address.country",
 * "externalIds[1].system", "customFields.vip", "items[0].quantity"; request parameters are named
 * as in the request ("id", "customerId", "ifMatchVersion", "updateMask", "pageToken"). */

/* --- Limits: bytes of UTF-8 text unless said otherwise. */
#define CONTACTS_NAME_MAX             200
#define CONTACTS_EMAIL_MAX            254    /* RFC 5321 path limit */
#define CONTACTS_EMAIL_LOCAL_MAX      64
#define CONTACTS_EMAIL_LABEL_MAX      63
#define CONTACTS_PHONE_TEXT_MAX       32     /* as typed, with spaces, dashes, dots, brackets */
#define CONTACTS_PHONE_DIGITS_MIN     7
#define CONTACTS_PHONE_DIGITS_MAX     15     /* E.164 */
#define CONTACTS_PHONE_SIZE           (CONTACTS_PHONE_DIGITS_MAX + 2)   /* "+" digits NUL */
#define CONTACTS_TEXT_MAX             200    /* occupation, address lines, city, region, postal code */
#define CONTACTS_OWNER_MAX            128
#define CONTACTS_LOCALE_MAX           35
#define CONTACTS_BIRTH_YEAR_MIN       1900
#define CONTACTS_TAG_MAX              64
#define CONTACTS_TAGS_MAX             50     /* tags per customer */
#define CONTACTS_INTEREST_MAX         64
#define CONTACTS_INTERESTS_MAX        50
#define CONTACTS_EXTERNAL_IDS_MAX     16
#define CONTACTS_EXTERNAL_SYSTEM_MAX  64
#define CONTACTS_EXTERNAL_ID_MAX      128
#define CONTACTS_CUSTOM_FIELDS_MAX    50
#define CONTACTS_CUSTOM_NAME_MAX      64     /* letters, digits, '_' and '-' */
#define CONTACTS_CUSTOM_VALUE_MAX     256    /* a string value */
#define CONTACTS_SUMMARY_MAX          4000
#define CONTACTS_AGENT_MAX            128
#define CONTACTS_ORDER_ID_MAX         128
#define CONTACTS_ITEMS_MAX            200    /* items per purchase */
#define CONTACTS_SKU_MAX              64
#define CONTACTS_ITEM_NAME_MAX        200
#define CONTACTS_REFUND_ID_MAX        128
#define CONTACTS_REFUNDS_MAX          100    /* refunds per purchase */
#define CONTACTS_REASON_MAX           500
#define CONTACTS_AMOUNT_MAX           INT64_C(1000000000000000)   /* minor units, 10^15 */
#define CONTACTS_CURRENCY_LEN         3
#define CONTACTS_VALUE_TEXT_MAX       (CONTACTS_CUSTOM_VALUE_MAX + 1)   /* text form of a Value */

/* --- Errors as the handlers report them. */
#define CONTACTS_FIELD_MAX    160
#define CONTACTS_MESSAGE_MAX  320
#define CONTACTS_REF_MAX      CRM_ID_SIZE

typedef struct {
    int code;                                /* CRM_EINVALID, CRM_ENOTFOUND, CRM_ECONFLICT, CRM_ESTALE ... */
    char field[CONTACTS_FIELD_MAX];          /* the offending field, "" when none */
    char message[CONTACTS_MESSAGE_MAX];      /* a human sentence */
    char conflict_id[CONTACTS_REF_MAX];      /* CRM_ECONFLICT: the other record's id */
} contacts_err_t;

/* Fills err (when not NULL) with code, field (may be NULL) and a printf-style message, cutting
 * text that does not fit. Returns code. */
int contacts_fail(contacts_err_t *err, int code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Validates c and normalises it in place: the phone becomes "+<digits>", the country upper case,
 * repeated tags, interests and external ids are dropped (first kept). Server-assigned fields (id,
 * version, times, purchaseCount, lastPurchaseAt) and lifecycleStage are not looked at. name is
 * required when name_required. c must be allocated part by part with malloc (decoded).
 * Returns 0, CRM_EINVALID (err names the field) or CRM_ENOMEM. */
int contacts_validate_customer(Crm__V1__Customer *c, bool name_required, contacts_err_t *err);

/* Validates an interaction as a client sends it: channel required, direction, summary, agent,
 * occurredAt (when set). Returns 0 or CRM_EINVALID. */
int contacts_validate_interaction(const Crm__V1__Interaction *it, contacts_err_t *err);

/* Validates a purchase as a client sends it: orderId (may be empty), amountMinor from 0 to
 * CONTACTS_AMOUNT_MAX, currency, items, purchasedAt (when set); refunds and refundedMinor must be
 * empty. Returns 0 or CRM_EINVALID. */
int contacts_validate_purchase(const Crm__V1__Purchase *p, contacts_err_t *err);

/* Validates a refund as a client sends it: id (may be empty), amountMinor above 0 and at most
 * CONTACTS_AMOUNT_MAX, reason, refundedAt (when set). Returns 0 or CRM_EINVALID. */
int contacts_validate_refund(const Crm__V1__Refund *r, contacts_err_t *err);

/* Returns true when email has a sane addr-spec syntax: local@domain.tld within the limits. */
bool contacts_email_valid(const char *email);

/* Normalises a phone number typed in international form ("+49 (30) 123-4567") to "+<digits>"
 * ("+49301234567") in out (size at least CONTACTS_PHONE_SIZE). Returns 0 or CRM_EINVALID. */
int contacts_phone_normalise(const char *in, char *out, size_t size);

/* Returns true when text is a real calendar date YYYY-MM-DD from CONTACTS_BIRTH_YEAR_MIN up to
 * the day of now_us (Unix microseconds). */
bool contacts_birthday_valid(const char *text, int64_t now_us);

/* Returns true when code is three upper-case ASCII letters (ISO 4217 shape). */
bool contacts_currency_valid(const char *code);

/* Returns true when t is a representable time (RFC 3339 range, nanos in range). */
bool contacts_timestamp_valid(const Crm__V1__Timestamp *t);

/* Writes s folded for case-insensitive matching into out (ASCII letters lower-cased, other
 * bytes kept), cut to size - 1 bytes. */
void contacts_fold(const char *s, char *out, size_t size);

/* Writes the text form of a custom field value into out: the string itself, "true"/"false", or
 * the shortest decimal that reads back as the same number ("12.5", "3"); "" when unset. */
void contacts_value_text(const Crm__V1__Value *v, char *out, size_t size);

/* Replaces the malloc'd string in *slot (which may be protobuf-c's shared empty string) by a
 * copy of s. Returns 0 or CRM_ENOMEM (*slot unchanged). */
int contacts_str_set(char **slot, const char *s);

/* Sets *slot, allocating the Timestamp when NULL, to Unix microseconds us. Returns 0 or
 * CRM_ENOMEM. */
int contacts_ts_set(Crm__V1__Timestamp **slot, int64_t us);

/* Unix microseconds of t (0 for NULL). */
int64_t contacts_ts_us(const Crm__V1__Timestamp *t);

#endif
