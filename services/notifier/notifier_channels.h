/* notifier_channels.h: the channels that leave the process, through libcurl: email over SMTP, signed webhooks, SMS through an HTTP gateway. */
#ifndef NOTIFIER_CHANNELS_H
#define NOTIFIER_CHANNELS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "notifier_ctx.h"

/* Every sender blocks (libcurl's easy interface) for at most CRM_NOTIFIER_SEND_TIMEOUT and gives
 * up early when *stop becomes true. Each returns:
 *   0               delivered (SMTP accepted the message; the HTTP target answered 2xx)
 *   CRM_EINTERRUPT  *stop became true: nothing is known to be delivered
 *   CRM_EINVALID    failed for good: the channel is not configured, the recipient was refused
 *                   (SMTP 5xx, HTTP 4xx other than 408 and 429), the URL is unusable
 *   CRM_EDENIED     the target is a private or loopback address and those are not allowed
 *   CRM_EUNAVAIL    failed for now (connection, time-out, SMTP 4xx, HTTP 5xx, 408, 429): retry
 * with why (why_size bytes) saying what happened. Safe from several threads at once. */

#define NOTIFIER_USER_AGENT       "crm-notifier/1"
#define NOTIFIER_MAIL_LINE        76       /* base64 characters per body line */
#define NOTIFIER_MAIL_WORD_BYTES  39       /* UTF-8 bytes per RFC 2047 encoded word: 52 base64 characters, a 64-character word, so "Subject: " and a word fit in 78 */
#define NOTIFIER_MESSAGE_ID_HOST  "crm-notifier"
#define NOTIFIER_CONNECT_TIMEOUT_MS 5000

/* Writes an email (RFC 5322 with MIME: UTF-8 text in base64, the subject and a display name as
 * RFC 2047 encoded words) into *out (NUL-terminated, malloc'd; the caller frees it). Lines end
 * with CRLF. Returns 0, CRM_EINVALID (a header value with CR or LF) or CRM_ENOMEM. */
int notifier_mail_compose(const char *from, const char *from_name, const char *to, const char *subject,
                          const char *body, const char *message_id, int64_t date_us, char **out);

/* Sends an email to `to` through CRM_NOTIFIER_SMTP_URL. */
int notifier_send_email(const notifier_settings_t *s, const atomic_bool *stop, const char *message_id,
                        const char *to, const char *subject, const char *body, int64_t now_us, char *why,
                        size_t why_size);

/* POSTs body (JSON) to url with the Standard Webhooks headers signed with secret, the message id
 * and now_us. Private and loopback addresses (checked on the address connected to, not the name)
 * are refused unless s->allow_private. */
int notifier_send_webhook(const notifier_settings_t *s, const atomic_bool *stop, const char *url,
                          const char *secret, const char *message_id, const char *body, int64_t now_us, char *why,
                          size_t why_size);

/* POSTs {"to": to, "text": text} to CRM_NOTIFIER_SMS_URL (with the bearer token when set and
 * message_id as Idempotency-Key). */
int notifier_send_sms(const notifier_settings_t *s, const atomic_bool *stop, const char *message_id,
                      const char *to, const char *text, char *why, size_t why_size);

/* Maps an HTTP status to the outcome above (2xx 0; 408, 429 and 5xx CRM_EUNAVAIL; other 4xx
 * CRM_EINVALID; anything else CRM_EUNAVAIL). */
int notifier_http_outcome(long status);

#endif
