/* feedback_record.h: the feedback records (MessagePack through crm_codec), their key layout in LMDB, and helpers to edit decoded messages. */
#ifndef FEEDBACK_RECORD_H
#define FEEDBACK_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "crm/v1/feedback.pb-c.h"
#include "crm_id.h"
#include "crm_store.h"
#include "feedback_token.h"

/* Key layout (README.md has the same table). Records are MessagePack (crm_codec) of the named
 * crm.v1 message; ids are 26-byte ULIDs (time-ordered); "time" is 8 bytes big-endian of the Unix
 * microseconds with the sign bit flipped (keys sort by time); "seq" 4 bytes big-endian; index
 * values are empty.
 *
 *   surveys               <survey id>                      -> Survey
 *   invitations           <invitation id>                  -> Invitation (never with its token)
 *   tokens                <BLAKE2b-256 of the token, 32>   -> invitation id
 *   customer_invitations  <customer id><invitation id>
 *   answers               <answer id>                      -> Answer
 *   customer_answers      <customer id><answer id>
 *   complaints            <complaint id>                   -> Complaint (without history)
 *   complaint_history     <complaint id><seq>              -> ComplaintEntry
 *   customer_complaints   <customer id><complaint id>
 *   causes                <cause text>                     -> the invitation or complaint id it made ("" while pending)
 *   customers             <customer id>                    -> FeedbackCustomer
 *   timers                <time due><kind, 1 byte><ref>    -> FeedbackTimer (ref: complaint id, or the invite's cause)
 *   meta                  "state"                          -> FeedbackMeta
 */

#define FEEDBACK_DB_SURVEYS              "surveys"
#define FEEDBACK_DB_INVITATIONS          "invitations"
#define FEEDBACK_DB_TOKENS               "tokens"
#define FEEDBACK_DB_CUSTOMER_INVITATIONS "customer_invitations"
#define FEEDBACK_DB_ANSWERS              "answers"
#define FEEDBACK_DB_CUSTOMER_ANSWERS     "customer_answers"
#define FEEDBACK_DB_COMPLAINTS           "complaints"
#define FEEDBACK_DB_COMPLAINT_HISTORY    "complaint_history"
#define FEEDBACK_DB_CUSTOMER_COMPLAINTS  "customer_complaints"
#define FEEDBACK_DB_CAUSES               "causes"
#define FEEDBACK_DB_CUSTOMERS            "customers"
#define FEEDBACK_DB_TIMERS               "timers"
#define FEEDBACK_DB_META                 "meta"
#define FEEDBACK_META_KEY                "state"

#define FEEDBACK_TIME_KEY_LEN   8
#define FEEDBACK_SEQ_KEY_LEN    4
#define FEEDBACK_PAIR_KEY_LEN   (CRM_ID_LEN + CRM_ID_LEN)       /* <customer id><record id> */
#define FEEDBACK_HISTORY_KEY_LEN (CRM_ID_LEN + FEEDBACK_SEQ_KEY_LEN)
/* Bytes of a cause text, with its NUL: "event:" with the longest integrator source (256) and
 * event id (128) fits, and the timer key stays under LMDB's 511 bytes. */
#define FEEDBACK_CAUSE_MAX      448
#define FEEDBACK_TIMER_KEY_MAX  (FEEDBACK_TIME_KEY_LEN + 1 + FEEDBACK_CAUSE_MAX)
#define FEEDBACK_NAME_MAX       64       /* bytes of a survey, question or choice id */
#define FEEDBACK_NAME_SIZE      (FEEDBACK_NAME_MAX + 1)

typedef struct {
    crm_db_t surveys, invitations, tokens, customer_invitations, answers, customer_answers, complaints,
        complaint_history, customer_complaints, causes, customers, timers, meta;
} feedback_db_t;

/* Opens (creating) every database. Call at start-up before any other transaction is open.
 * Returns 0 or a store error. */
int feedback_record_open(crm_store_t *store, feedback_db_t *db);

/* --- Keys */

/* 8-byte time key of Unix microseconds, and back. */
void feedback_key_time(uint8_t out[FEEDBACK_TIME_KEY_LEN], int64_t us);
int64_t feedback_key_time_read(const uint8_t in[FEEDBACK_TIME_KEY_LEN]);

/* <a><b>: two 26-byte ids (a customer and one of their records). */
void feedback_key_pair(uint8_t out[FEEDBACK_PAIR_KEY_LEN], const char *a, const char *b);

/* <complaint id><seq>: a history line. */
void feedback_key_history(uint8_t out[FEEDBACK_HISTORY_KEY_LEN], const char *complaint_id, uint32_t seq);

/* <time><kind><ref>: a timer's key. Returns its length, or 0 when ref is too long. */
size_t feedback_key_timer(uint8_t out[FEEDBACK_TIMER_KEY_MAX], int64_t due_us, Crm__V1__FeedbackTimer__Kind kind,
                          const char *ref);

/* --- Records, generically */

/* Reads key from db as a message of type desc. Returns 0 with *msg_p (caller frees with
 * crm_codec_message_free), CRM_ENOTFOUND, a store error or a codec error. */
int feedback_record_get(crm_txn_t *txn, crm_db_t db, const void *key, size_t key_len,
                        const ProtobufCMessageDescriptor *desc, ProtobufCMessage **msg_p);

/* Encodes msg and stores it under key. Returns 0, a codec error or a store error. */
int feedback_record_put(crm_txn_t *txn, crm_db_t db, const void *key, size_t key_len,
                        const ProtobufCMessage *msg);

/* Stores an empty value under key (an index entry). Returns 0 or a store error. */
int feedback_index_put(crm_txn_t *txn, crm_db_t db, const void *key, size_t key_len);

/* Deletes key when present. Returns 0 (also when absent) or a store error. */
int feedback_index_del(crm_txn_t *txn, crm_db_t db, const void *key, size_t key_len);

/* --- Editing decoded messages (strings, timestamps and arrays malloc'd part by part, as
 * crm_codec_message_free expects) */

/* Replaces *field with a copy of value (NULL or "" makes it the shared empty string) and frees
 * the old text. Returns 0 or CRM_ENOMEM (*field unchanged). */
int feedback_str_set(char **field, const char *value);

/* Sets *ts to us: allocates it when NULL; us 0 frees it and sets NULL. Returns 0 or CRM_ENOMEM. */
int feedback_ts_put(Crm__V1__Timestamp **ts, int64_t us);

/* Unix microseconds of a Timestamp; 0 for NULL. */
int64_t feedback_ts_us(const Crm__V1__Timestamp *ts);

/* Fills a caller's Timestamp from Unix microseconds. Returns ts. */
Crm__V1__Timestamp *feedback_ts_fill(Crm__V1__Timestamp *ts, int64_t us);

/* Appends a copy of s to the string array (*v, *n). Returns 0 or CRM_ENOMEM. */
int feedback_strv_add(char ***v, size_t *n, const char *s);

/* Frees the strings of the array and the array; sets it empty. */
void feedback_strv_clear(char ***v, size_t *n);

/* A deep copy of msg (through the protobuf encoding). Returns 0 with *copy_p (caller frees with
 * crm_codec_message_free), CRM_ENOMEM or CRM_EINVALID. */
int feedback_msg_copy(const ProtobufCMessage *msg, ProtobufCMessage **copy_p);

/* --- Typed records */

/* A complaint (without history). Returns 0 with *out (caller frees), CRM_ENOTFOUND, or a store or
 * codec error. */
int feedback_complaint_get(const feedback_db_t *db, crm_txn_t *txn, const char *id, Crm__V1__Complaint **out);

/* Stores a complaint; history is never stored with it (it is left out of the record). Returns 0,
 * or a store or codec error. */
int feedback_complaint_put(const feedback_db_t *db, crm_txn_t *txn, Crm__V1__Complaint *c);

/* Reads the complaint's history lines in order into c->history (replacing what it held).
 * Returns 0, CRM_ENOMEM, or a store or codec error. */
int feedback_complaint_history_load(const feedback_db_t *db, crm_txn_t *txn, Crm__V1__Complaint *c);

/* An invitation, a survey, an answer by id. Returns 0 with *out (caller frees), CRM_ENOTFOUND, or
 * a store or codec error. */
int feedback_invitation_get(const feedback_db_t *db, crm_txn_t *txn, const char *id, Crm__V1__Invitation **out);
int feedback_survey_get(const feedback_db_t *db, crm_txn_t *txn, const char *id, Crm__V1__Survey **out);
int feedback_answer_get(const feedback_db_t *db, crm_txn_t *txn, const char *id, Crm__V1__Answer **out);

/* The directory entry of a customer. Returns 0 with *out (caller frees), CRM_ENOTFOUND, or a
 * store or codec error. */
int feedback_customer_get(const feedback_db_t *db, crm_txn_t *txn, const char *id, Crm__V1__FeedbackCustomer **out);

/* Schedules a timer (its key from due_us, kind and ref: the complaint id, or the cause). Returns 0,
 * CRM_EINVALID (ref too long), or a store or codec error. */
int feedback_timer_put(const feedback_db_t *db, crm_txn_t *txn, const Crm__V1__FeedbackTimer *t, const char *ref);

/* Removes a timer when present. Returns 0 or a store error. */
int feedback_timer_del(const feedback_db_t *db, crm_txn_t *txn, int64_t due_us, Crm__V1__FeedbackTimer__Kind kind,
                       const char *ref);

/* Reads a cause's record: *value (size FEEDBACK_CAUSE_MAX) gets what it made. Returns 0,
 * CRM_ENOTFOUND, CRM_EINVALID (cause too long) or a store error. */
int feedback_cause_get(const feedback_db_t *db, crm_txn_t *txn, const char *cause, char *value);

/* Records a cause with what it made. Returns 0, CRM_EINVALID (cause too long) or a store error. */
int feedback_cause_put(const feedback_db_t *db, crm_txn_t *txn, const char *cause, const char *value);

#endif
