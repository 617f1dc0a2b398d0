/* notifier_webhook.h: Standard Webhooks signatures and secrets, and the refusal of private and loopback targets. */
#ifndef NOTIFIER_WEBHOOK_H
#define NOTIFIER_WEBHOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Standard Webhooks (https://www.standardwebhooks.com): a message carries the headers
 *   webhook-id         the message id, the same on every retry
 *   webhook-timestamp  Unix seconds of this attempt
 *   webhook-signature  "v1," + base64(HMAC-SHA256(key, id + "." + timestamp + "." + body))
 * where the endpoint's secret is "whsec_" + base64(key). */

#define NOTIFIER_WEBHOOK_SECRET_PREFIX "whsec_"
#define NOTIFIER_WEBHOOK_KEY_MIN       24      /* bytes of a key */
#define NOTIFIER_WEBHOOK_KEY_MAX       64
#define NOTIFIER_WEBHOOK_KEY_NEW       32      /* bytes of a key made by the service */
#define NOTIFIER_WEBHOOK_SECRET_MAX    100     /* bytes of a secret's text, with its NUL */
#define NOTIFIER_WEBHOOK_SIGNATURE_MAX 64      /* bytes of "v1,<base64>", with its NUL */
#define NOTIFIER_URL_MAX               2048    /* bytes of a target URL */
#define NOTIFIER_HOST_MAX              256     /* bytes of a host name, with its NUL */

/* Makes a new secret of NOTIFIER_WEBHOOK_KEY_NEW random bytes into out. Returns 0. */
int notifier_webhook_secret_new(char out[NOTIFIER_WEBHOOK_SECRET_MAX]);

/* Decodes a secret ("whsec_" + standard base64; the prefix is optional) into key. Returns 0 and
 * sets *key_len, or CRM_EINVALID (not base64, or a key shorter than NOTIFIER_WEBHOOK_KEY_MIN or
 * longer than NOTIFIER_WEBHOOK_KEY_MAX bytes). */
int notifier_webhook_secret_key(const char *secret, uint8_t key[NOTIFIER_WEBHOOK_KEY_MAX], size_t *key_len);

/* Signs a message: writes "v1,<base64 signature>" into out. Returns 0, or CRM_EINVALID for a bad
 * secret. */
int notifier_webhook_sign(const char *secret, const char *msg_id, int64_t timestamp, const void *body,
                          size_t body_len, char out[NOTIFIER_WEBHOOK_SIGNATURE_MAX]);

/* True for an address no webhook may reach unless private targets are allowed: loopback
 * (127.0.0.0/8, ::1), private (10/8, 172.16/12, 192.168/16, fc00::/7), link-local (169.254/16,
 * fe80::/10), unspecified (0.0.0.0/8, ::), shared (100.64/10), multicast and broadcast, and IPv4
 * written as IPv6 (::ffff:a.b.c.d, ::a.b.c.d) when the IPv4 address is one of those. */
bool notifier_addr_private(const struct sockaddr *addr);

/* True for host names that are private by name: "localhost" and "*.localhost" (any case). */
bool notifier_host_private_name(const char *host);

/* Splits an http:// or https:// URL: writes its host (without brackets) into host and its port
 * (80 or 443 when absent) into *port. Returns 0, or CRM_EINVALID (another scheme, no host, bad
 * port, credentials in the URL, longer than NOTIFIER_URL_MAX) with why (why_size bytes). */
int notifier_url_split(const char *url, char host[NOTIFIER_HOST_MAX], uint16_t *port, char *why,
                       size_t why_size);

/* Checks a webhook or gateway target: the URL splits, and unless allow_private, its host is not
 * private by name and every address it resolves to is public. Returns 0; CRM_EINVALID (bad URL);
 * CRM_EDENIED (a private or loopback target; why names the address); CRM_EUNAVAIL (the name does
 * not resolve now). */
int notifier_target_check(const char *url, bool allow_private, char *why, size_t why_size);

#endif
