/* test_feedback_record.c: records round-trip through the store (MessagePack), keys sort as the indexes need, decoded messages can be edited and freed. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "crm_codec.h"
#include "crm_error.h"
#include "crm_store.h"
#include "crm_test.h"
#include "feedback_record.h"

static char dir[CRM_TEST_PATH_MAX];
static crm_store_t *store;
static feedback_db_t db;
static crm_id_gen_t *ids;

static void s_setup(void)
{
    crm_test_tmpdir(dir);
    crm_store_options_t opts = { .no_sync = true };
    cr_assert_eq(crm_store_open(dir, &opts, &store), 0);
    cr_assert_eq(feedback_record_open(store, &db), 0);
    cr_assert_eq(crm_id_gen_new(&ids), 0);
}

static void s_teardown(void)
{
    crm_id_gen_destroy(&ids);
    crm_store_destroy(&store);
    crm_test_rmtree(dir);
    crm_test_check_leaks();
}

TestSuite(feedback_record, .init = s_setup, .fini = s_teardown);

typedef struct {
    Crm__V1__Complaint *c;
    Crm__V1__ComplaintEntry *lines[3];
} s_put_t;

static int s_put_body(crm_txn_t *txn, void *arg)
{
    s_put_t *p = arg;
    int rc = feedback_complaint_put(&db, txn, p->c);
    for (int i = 0; rc == 0 && i < 3; i++) {
        uint8_t key[FEEDBACK_HISTORY_KEY_LEN];
        feedback_key_history(key, p->c->id, p->lines[i]->seq);
        rc = feedback_record_put(txn, db.complaint_history, key, sizeof key, &p->lines[i]->base);
    }
    return rc;
}

Test(feedback_record, a_complaint_and_its_history_round_trip)
{
    char id[CRM_ID_SIZE], customer[CRM_ID_SIZE];
    cr_assert_eq(crm_id_next(ids, id), 0);
    cr_assert_eq(crm_id_next(ids, customer), 0);
    Crm__V1__Complaint *c = NULL;
    cr_assert_eq(crm_codec_message_new(&crm__v1__complaint__descriptor, (ProtobufCMessage **) &c), 0);
    cr_assert_eq(feedback_str_set(&c->id, id), 0);
    cr_assert_eq(feedback_str_set(&c->customer_id, customer), 0);
    cr_assert_eq(feedback_str_set(&c->text, "包裹晚到了三天 — the parcel came three days late"), 0);
    cr_assert_eq(feedback_str_set(&c->text, "包裹晚到了三天"), 0);   /* replaced, the old text freed */
    cr_assert_eq(feedback_strv_add(&c->attachments, &c->n_attachments, "https://files.example/1.jpg"), 0);
    cr_assert_eq(feedback_strv_add(&c->attachments, &c->n_attachments, "doc:42"), 0);
    cr_assert_eq(feedback_ts_put(&c->created_at, INT64_C(1773144000123456)), 0);
    cr_assert_eq(feedback_ts_put(&c->resolved_at, 5), 0);
    cr_assert_eq(feedback_ts_put(&c->resolved_at, 0), 0);   /* cleared */
    c->category = CRM__V1__COMPLAINT_CATEGORY__COMPLAINT_CATEGORY_DELIVERY;
    c->priority = CRM__V1__PRIORITY__PRIORITY_URGENT;
    c->status = CRM__V1__COMPLAINT_STATUS__COMPLAINT_STATUS_WAITING_ON_CUSTOMER;
    c->first_response_seconds = 3600;
    c->resolved_at_first_contact = true;
    c->history_count = 3;
    c->version = 7;
    /* History lines are stored apart, never inside the record: a history on c is left out. */
    Crm__V1__ComplaintEntry lines[3];
    s_put_t p = { .c = c };
    for (int i = 0; i < 3; i++) {
        crm__v1__complaint_entry__init(&lines[i]);
        lines[i].seq = (uint32_t) (3 - i);    /* written out of order */
        lines[i].kind = CRM__V1__COMPLAINT_ENTRY_KIND__COMPLAINT_ENTRY_KIND_NOTE;
        lines[i].actor = "key-agent";
        lines[i].text = i == 0 ? "third" : i == 1 ? "second" : "first";
        p.lines[i] = &lines[i];
    }
    Crm__V1__ComplaintEntry *stray[1] = { &lines[0] };
    c->n_history = 1;
    c->history = stray;
    cr_assert_eq(crm_store_write(store, s_put_body, &p), 0);
    cr_assert_eq(c->n_history, 1, "the caller's history is given back");
    c->n_history = 0;
    c->history = NULL;

    crm_txn_t *txn = NULL;
    cr_assert_eq(crm_store_read_begin(store, &txn), 0);
    Crm__V1__Complaint *back = NULL;
    cr_assert_eq(feedback_complaint_get(&db, txn, id, &back), 0);
    cr_assert_eq(back->n_history, 0);
    cr_assert_str_eq(back->text, "包裹晚到了三天");
    cr_assert_eq(back->n_attachments, 2);
    cr_assert_str_eq(back->attachments[1], "doc:42");
    cr_assert_eq(feedback_ts_us(back->created_at), INT64_C(1773144000123456));
    cr_assert_null(back->resolved_at);
    cr_assert_eq(back->priority, CRM__V1__PRIORITY__PRIORITY_URGENT);
    cr_assert_eq(back->status, CRM__V1__COMPLAINT_STATUS__COMPLAINT_STATUS_WAITING_ON_CUSTOMER);
    cr_assert_eq(back->first_response_seconds, 3600);
    cr_assert(back->resolved_at_first_contact);
    cr_assert_eq(back->version, 7);
    cr_assert_eq(feedback_complaint_history_load(&db, txn, back), 0);
    cr_assert_eq(back->n_history, 3);
    cr_assert_str_eq(back->history[0]->text, "first");
    cr_assert_str_eq(back->history[2]->text, "third");
    cr_assert_eq(back->history[1]->seq, 2);
    cr_assert_eq(feedback_complaint_history_load(&db, txn, back), 0, "loading again replaces");
    cr_assert_eq(back->n_history, 3);
    Crm__V1__Complaint *copy = NULL;
    cr_assert_eq(feedback_msg_copy(&back->base, (ProtobufCMessage **) &copy), 0);
    cr_assert_str_eq(copy->history[0]->text, "first");
    Crm__V1__Complaint *none = NULL;
    cr_assert_eq(feedback_complaint_get(&db, txn, "not an id", &none), CRM_ENOTFOUND);
    crm_store_txn_end(&txn);
    crm_codec_message_free((ProtobufCMessage **) &copy);
    crm_codec_message_free((ProtobufCMessage **) &back);
    crm_codec_message_free((ProtobufCMessage **) &c);
}

typedef struct {
    Crm__V1__FeedbackTimer t[3];
    const char *refs[3];
} s_timers_t;

static int s_timers_body(crm_txn_t *txn, void *arg)
{
    s_timers_t *x = arg;
    int rc = 0;
    for (int i = 0; rc == 0 && i < 3; i++)
        rc = feedback_timer_put(&db, txn, &x->t[i], x->refs[i]);
    return rc;
}

static int s_timer_del_body(crm_txn_t *txn, void *arg)
{
    s_timers_t *x = arg;
    return feedback_timer_del(&db, txn, x->t[1].due_us, x->t[1].kind, x->refs[1]);
}

Test(feedback_record, timers_sort_by_due_time)
{
    s_timers_t x;
    static const int64_t due[3] = { 5000000, -2000000, 3000000 };   /* negative times sort first */
    static const char *const refs[3] = { "01J0000000000000000000000A", "purchase:order-9", "01J0000000000000000000000B" };
    for (int i = 0; i < 3; i++) {
        crm__v1__feedback_timer__init(&x.t[i]);
        x.t[i].due_us = due[i];
        x.t[i].kind = i == 1 ? CRM__V1__FEEDBACK_TIMER__KIND__KIND_INVITE : CRM__V1__FEEDBACK_TIMER__KIND__KIND_RESOLUTION;
        x.t[i].cause = (char *) refs[i];
        x.refs[i] = refs[i];
    }
    cr_assert_eq(crm_store_write(store, s_timers_body, &x), 0);
    crm_txn_t *txn = NULL;
    cr_assert_eq(crm_store_read_begin(store, &txn), 0);
    crm_cursor_t *cur = NULL;
    cr_assert_eq(crm_cursor_open(txn, db.timers, &cur), 0);
    crm_val_t k, v;
    int64_t last = INT64_MIN;
    int n = 0;
    for (int rc = crm_cursor_first(cur, &k, &v); rc == 0; rc = crm_cursor_next(cur, &k, &v), n++) {
        int64_t t = feedback_key_time_read(k.data);
        cr_assert_geq(t, last);
        last = t;
        Crm__V1__FeedbackTimer *back = NULL;
        cr_assert_eq(crm_codec_msgpack_decode(&crm__v1__feedback_timer__descriptor, v.data, v.size,
                                              (ProtobufCMessage **) &back, NULL), 0);
        cr_assert_eq(back->due_us, t);
        if (n == 0)
            cr_assert_str_eq(back->cause, "purchase:order-9");
        crm_codec_message_free((ProtobufCMessage **) &back);
    }
    cr_assert_eq(n, 3);
    crm_cursor_close(&cur);
    crm_store_txn_end(&txn);
    cr_assert_eq(crm_store_write(store, s_timer_del_body, &x), 0);
    cr_assert_eq(crm_store_read_begin(store, &txn), 0);
    uint64_t count = 0;
    cr_assert_eq(crm_store_count(txn, db.timers, &count), 0);
    cr_assert_eq(count, 2);
    crm_store_txn_end(&txn);
    uint8_t key[FEEDBACK_TIMER_KEY_MAX];
    char long_ref[FEEDBACK_CAUSE_MAX + 1];
    memset(long_ref, 'x', sizeof long_ref - 1);
    long_ref[sizeof long_ref - 1] = '\0';
    cr_assert_eq(feedback_key_timer(key, 0, CRM__V1__FEEDBACK_TIMER__KIND__KIND_INVITE, long_ref), 0);
}

typedef struct {
    const char *cause;
    const char *value;
} s_cause_t;

static int s_cause_body(crm_txn_t *txn, void *arg)
{
    s_cause_t *c = arg;
    return feedback_cause_put(&db, txn, c->cause, c->value);
}

Test(feedback_record, causes_remember_what_they_made)
{
    s_cause_t c = { "purchase:order-1", "" };
    cr_assert_eq(crm_store_write(store, s_cause_body, &c), 0);
    c.value = "01J0000000000000000000000Z";
    cr_assert_eq(crm_store_write(store, s_cause_body, &c), 0);
    crm_txn_t *txn = NULL;
    cr_assert_eq(crm_store_read_begin(store, &txn), 0);
    char made[FEEDBACK_CAUSE_MAX];
    cr_assert_eq(feedback_cause_get(&db, txn, "purchase:order-1", made), 0);
    cr_assert_str_eq(made, "01J0000000000000000000000Z");
    cr_assert_eq(feedback_cause_get(&db, txn, "purchase:order-2", made), CRM_ENOTFOUND);
    cr_assert_eq(feedback_cause_get(&db, txn, "", made), CRM_EINVALID);
    crm_store_txn_end(&txn);
}

Test(feedback_record, time_keys_sort_like_times)
{
    static const int64_t times[] = { INT64_MIN / 2, -1, 0, 1, 1773144000000000, INT64_MAX / 2 };
    uint8_t prev[FEEDBACK_TIME_KEY_LEN], cur[FEEDBACK_TIME_KEY_LEN];
    for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
        feedback_key_time(cur, times[i]);
        cr_assert_eq(feedback_key_time_read(cur), times[i]);
        if (i)
            cr_assert_lt(memcmp(prev, cur, sizeof cur), 0);
        memcpy(prev, cur, sizeof cur);
    }
}
