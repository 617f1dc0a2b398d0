/* crm_smtp_sink.h: a small SMTP server on loopback for tests: accepts EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP and QUIT, and keeps every message, decoded. */
#ifndef CRM_SMTP_SINK_H
#define CRM_SMTP_SINK_H

#include <stdbool.h>
#include <stddef.h>

#define CRM_SMTP_SINK_MESSAGES_MAX 256      /* messages kept; later ones are refused with 452 */
#define CRM_SMTP_SINK_RCPT_MAX     16       /* recipients of one message */
#define CRM_SMTP_SINK_ADDRESS_MAX  320      /* bytes of an address, with its NUL */
#define CRM_SMTP_SINK_DATA_MAX     (1u << 20)   /* bytes of one message */

typedef struct crm_smtp_sink crm_smtp_sink_t;

/* One message as received. The strings are the caller's (crm_smtp_message_clear frees them). */
typedef struct {
    char from[CRM_SMTP_SINK_ADDRESS_MAX];                          /* MAIL FROM, without <> */
    char to[CRM_SMTP_SINK_RCPT_MAX][CRM_SMTP_SINK_ADDRESS_MAX];    /* RCPT TO, without <> */
    size_t n_to;
    char *data;       /* the DATA as sent, dots unstuffed, CRLF line ends */
    char *subject;    /* the Subject header, RFC 2047 "B" words decoded, folds joined */
    char *body;       /* the body, base64 decoded when so encoded, LF line ends */
} crm_smtp_message_t;

/* Starts the server on 127.0.0.1 on a port the system picks (see crm_smtp_sink_port), serving
 * one connection at a time on its own thread. Aborts the test when it cannot. */
void crm_smtp_sink_start(crm_smtp_sink_t **sink_p);

/* The port it listens on. */
int crm_smtp_sink_port(const crm_smtp_sink_t *sink);

/* How many messages were received (DATA completed) so far. */
size_t crm_smtp_sink_count(crm_smtp_sink_t *sink);

/* Waits until at least count messages were received, at most timeout_ms. Returns true when so. */
bool crm_smtp_sink_wait(crm_smtp_sink_t *sink, size_t count, int timeout_ms);

/* Copies message i (0 first) into *out (cleared first by the caller or zeroed). Returns false
 * when there is no such message. */
bool crm_smtp_sink_get(crm_smtp_sink_t *sink, size_t i, crm_smtp_message_t *out);

/* Frees what a copied message holds and zeroes it. */
void crm_smtp_message_clear(crm_smtp_message_t *message);

/* Stops the server, closes its sockets and frees it. Safe on NULL; sets *sink_p to NULL. */
void crm_smtp_sink_stop(crm_smtp_sink_t **sink_p);

#endif
