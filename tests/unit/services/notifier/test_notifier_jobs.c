/* test_notifier_jobs.c: the time-driven work on a fake clock: reminders (also after a stop), birthdays once a year with catch-up, holidays, digests, quiet hours, times of day, senders stopped mid-flight. */
#include "notifier_fixture.h"

TestSuite(notifier_jobs, .init = fx_setup, .fini = fx_teardown, .timeout = 60);

/* Creates a reminder for customer due at due_us; writes its id. */
static void s_reminder(const char *customer, int64_t due_us, const char *note, const char *request_id, char *id_out)
{
    Crm__V1__Timestamp due;
    Crm__V1__Reminder r = CRM__V1__REMINDER__INIT;
    r.due_at = notifier_ts_set(&due, due_us);
    r.note = (char *) note;
    r.kind = "contract_expiry";
    r.request_id = (char *) (request_id ? request_id : "");
    Crm__V1__CreateReminderRequest req = CRM__V1__CREATE_REMINDER_REQUEST__INIT;
    req.customer_id = (char *) customer;
    req.reminder = &r;
    Crm__V1__ReminderReply *rep = NULL;
    cr_assert_eq(fx_call("notifier.CreateReminder", "agent", &req.base, &crm__v1__reminder_reply__descriptor,
                         (ProtobufCMessage **) &rep), CRM_RPC_OK, "%s %s", fx_last_field, fx_last_error);
    cr_assert_eq(rep->reminder->status, CRM__V1__REMINDER_STATUS__REMINDER_STATUS_PENDING);
    if (id_out)
        snprintf(id_out, CRM_ID_SIZE, "%s", rep->reminder->id);
    fx_free(rep);
}

Test(notifier_jobs, a_reminder_due_while_stopped_fires_once_after_the_restart)
{
    fx_staff("alice", "Alice", "alice@example.com", "care", false, false);
    char id[CRM_ID_SIZE], rid[CRM_ID_SIZE], again[CRM_ID_SIZE];
    fx_new_id(id);
    fx_customer(id, "钱多多", "qian@example.com", "zh-CN", CRM__V1__CONSENT_STATE__CONSENT_STATE_UNSPECIFIED, "alice",
                NULL);
    s_reminder(id, fx.now + FX_MINUTE, "合同6月30日到期，请联系续约", "req-1", rid);
    s_reminder(id, fx.now + FX_MINUTE, "合同6月30日到期，请联系续约", "req-1", again);
    cr_assert_str_eq(rid, again, "the request id makes it idempotent");
    fx_tick();
    cr_assert_eq(fx_drain(), 0, "not due yet");
    fx_stop();
    fx.now += 2 * FX_MINUTE;     /* due while the service was down */
    fx_start();
    fx_tick();
    cr_assert_eq(fx_drain(), 1);
    crm_smtp_message_t m;
    cr_assert(crm_smtp_sink_get(fx.smtp, 0, &m));
    cr_assert_str_eq(m.to[0], "alice@example.com", "the account owner");
    cr_assert(strstr(m.body, "合同6月30日到期"), "%s", m.body);
    cr_assert(strstr(m.subject, "钱多多"), "%s", m.subject);
    crm_smtp_message_clear(&m);
    cr_assert_eq(fx_published(NOTIFIER_TYPE_REMINDER), 1);
    fx_restart();
    fx_tick();
    fx.now += FX_HOUR;
    fx_tick();
    cr_assert_eq(fx_drain(), 0);
    cr_assert_eq(crm_smtp_sink_count(fx.smtp), 1, "once");
    Crm__V1__ListRemindersRequest list = CRM__V1__LIST_REMINDERS_REQUEST__INIT;
    list.customer_id = id;
    list.include_done = true;
    Crm__V1__ListRemindersReply *all = NULL;
    cr_assert_eq(fx_call("notifier.ListReminders", "analyst", &list.base, &crm__v1__list_reminders_reply__descriptor,
                         (ProtobufCMessage **) &all), CRM_RPC_OK);
    cr_assert_eq(all->n_reminders, 1);
    cr_assert_eq(all->reminders[0]->status, CRM__V1__REMINDER_STATUS__REMINDER_STATUS_FIRED);
    cr_assert_not_null(all->reminders[0]->fired_at);
    fx_free(all);
    /* A fired reminder cannot be cancelled; a pending one can, and then never fires. */
    Crm__V1__CancelReminderRequest cancel = CRM__V1__CANCEL_REMINDER_REQUEST__INIT;
    cancel.customer_id = id;
    cancel.id = rid;
    cr_assert_eq(fx_call("notifier.CancelReminder", "agent", &cancel.base, &crm__v1__reminder_reply__descriptor, NULL),
                 CRM_RPC_CONFLICT);
    char later[CRM_ID_SIZE];
    s_reminder(id, fx.now + FX_HOUR, "call back", NULL, later);
    cancel.id = later;
    cr_assert_eq(fx_call("notifier.CancelReminder", "agent", &cancel.base, &crm__v1__reminder_reply__descriptor, NULL),
                 CRM_RPC_OK);
    fx.now += 2 * FX_HOUR;
    fx_tick();
    cr_assert_eq(fx_drain(), 0);
}

Test(notifier_jobs, reminders_are_validated)
{
    Crm__V1__Reminder r = CRM__V1__REMINDER__INIT;
    r.note = "x";
    Crm__V1__CreateReminderRequest req = CRM__V1__CREATE_REMINDER_REQUEST__INIT;
    req.customer_id = "not-an-id";
    req.reminder = &r;
    cr_assert_eq(fx_call("notifier.CreateReminder", "agent", &req.base, &crm__v1__reminder_reply__descriptor, NULL),
                 CRM_RPC_INVALID);
    cr_assert_str_eq(fx_last_field, "customerId");
    char id[CRM_ID_SIZE];
    fx_new_id(id);
    req.customer_id = id;
    cr_assert_eq(fx_call("notifier.CreateReminder", "agent", &req.base, &crm__v1__reminder_reply__descriptor, NULL),
                 CRM_RPC_INVALID);
    cr_assert_str_eq(fx_last_field, "dueAt");
    Crm__V1__Timestamp due;
    r.due_at = notifier_ts_set(&due, fx.now);
    r.note = "";
    cr_assert_eq(fx_call("notifier.CreateReminder", "agent", &req.base, &crm__v1__reminder_reply__descriptor, NULL),
                 CRM_RPC_INVALID);
    cr_assert_str_eq(fx_last_field, "note");
}

static void s_birthday_today(char *id, const char *name, const char *email)
{
    char date[NOTIFIER_DATE_SIZE];
    notifier_date_format(notifier_local_day(fx.now, 0), date);
    memcpy(date, "1990", 4);
    fx_new_id(id);
    fx_customer(id, name, email, "zh-CN", CRM__V1__CONSENT_STATE__CONSENT_STATE_GRANTED, NULL, date);
}

Test(notifier_jobs, a_birthday_greeting_goes_out_once_on_the_day)
{
    char id[CRM_ID_SIZE];
    s_birthday_today(id, "孙丽", "sun.li@example.com");
    fx_tick();
    cr_assert_eq(fx_drain(), 1);
    crm_smtp_message_t m;
    cr_assert(crm_smtp_sink_get(fx.smtp, 0, &m));
    cr_assert_str_eq(m.subject, "孙丽，生日快乐！");
    crm_smtp_message_clear(&m);
    /* The customer changes on the same day, the service restarts, the day's pass runs: still one. */
    char date[NOTIFIER_DATE_SIZE];
    notifier_date_format(notifier_local_day(fx.now, 0), date);
    memcpy(date, "1990", 4);
    fx_customer(id, "孙丽", "sun.li@example.com", "zh-CN", CRM__V1__CONSENT_STATE__CONSENT_STATE_GRANTED, NULL, date);
    fx_restart();
    fx_tick();
    cr_assert_eq(fx_drain(), 0);
    fx.now += FX_DAY;
    fx_tick();
    cr_assert_eq(fx_drain(), 0, "not the next day");
    cr_assert_eq(crm_smtp_sink_count(fx.smtp), 1);
    /* A year later (365 or 366 days), again. */
    int64_t start_day = notifier_local_day(fx.now - FX_DAY, 0);
    int y, mo, d;
    notifier_civil_from_day(start_day, &y, &mo, &d);
    int64_t next = notifier_day_from_civil(y + 1, mo, d == 29 && mo == 2 ? 28 : d);
    fx.now += (next - start_day - 1) * FX_DAY;
    fx_tick();
    cr_assert_eq(fx_drain(), 1, "next year's birthday");
}

Test(notifier_jobs, birthdays_of_a_day_missed_while_stopped_are_caught_up_within_the_window)
{
    /* Born tomorrow: nothing today. */
    char date[NOTIFIER_DATE_SIZE], id[CRM_ID_SIZE];
    notifier_date_format(notifier_local_day(fx.now, 0) + 1, date);
    memcpy(date, "1985", 4);
    fx_new_id(id);
    fx_customer(id, "Gus", "gus@example.com", "en", CRM__V1__CONSENT_STATE__CONSENT_STATE_GRANTED, NULL, date);
    fx_tick();
    cr_assert_eq(fx_drain(), 0);
    /* Down over midnight, back the next day: today's pass greets. */
    fx_stop();
    fx.now += FX_DAY;
    fx_start();
    fx_tick();
    cr_assert_eq(fx_drain(), 1);
    crm_smtp_message_t m;
    cr_assert(crm_smtp_sink_get(fx.smtp, 0, &m));
    cr_assert_str_eq(m.subject, "Happy birthday, Gus!");
    crm_smtp_message_clear(&m);
    /* Down for the whole day: with no catch-up window, that birthday is not greeted late. */
    char other[CRM_ID_SIZE];
    notifier_date_format(notifier_local_day(fx.now, 0) + 1, date);
    memcpy(date, "1985", 4);
    fx_new_id(other);
    fx_customer(other, "Hal", "hal@example.com", "en", CRM__V1__CONSENT_STATE__CONSENT_STATE_GRANTED, NULL, date);
    fx_stop();
    fx.now += 2 * FX_DAY;
    fx_start();
    fx_tick();
    cr_assert_eq(fx_drain(), 0);
    /* With one day of catch-up, it would have been. */
    char third[CRM_ID_SIZE];
    notifier_date_format(notifier_local_day(fx.now, 0) + 1, date);
    memcpy(date, "1985", 4);
    fx_new_id(third);
    fx_customer(third, "Ida", "ida@example.com", "en", CRM__V1__CONSENT_STATE__CONSENT_STATE_GRANTED, NULL, date);
    fx_stop();
    fx.settings.catch_up_days = 1;
    fx.now += 2 * FX_DAY;
    fx_start();
    fx_tick();
    cr_assert_eq(fx_drain(), 1);
    cr_assert(crm_smtp_sink_get(fx.smtp, 1, &m));
    cr_assert_str_eq(m.subject, "Happy birthday, Ida!");
    crm_smtp_message_clear(&m);
}

Test(notifier_jobs, holidays_from_the_settings_greet_every_consenting_customer)
{
    char today[NOTIFIER_DATE_SIZE];
    notifier_date_format(notifier_local_day(fx.now, 0) + 1, today);
    fx.settings.holiday_count = 1;
    int year;
    notifier_date_parse(today, &year, &fx.settings.holidays[0].month, &fx.settings.holidays[0].mday);
    snprintf(fx.settings.holidays[0].name, sizeof fx.settings.holidays[0].name, "spring_festival");
    fx_restart();
    char a[CRM_ID_SIZE], b[CRM_ID_SIZE], c[CRM_ID_SIZE];
    fx_new_id(a);
    fx_new_id(b);
    fx_new_id(c);
    fx_customer(a, "刘洋", "liu@example.com", "zh-CN", CRM__V1__CONSENT_STATE__CONSENT_STATE_GRANTED, NULL, NULL);
    fx_customer(b, "Kim", "kim@example.com", "en", CRM__V1__CONSENT_STATE__CONSENT_STATE_GRANTED, NULL, NULL);
    fx_customer(c, "Lee", "lee@example.com", "en", CRM__V1__CONSENT_STATE__CONSENT_STATE_WITHDRAWN, NULL, NULL);
    fx_tick();
    cr_assert_eq(fx_drain(), 0);
    fx.now += FX_DAY;
    fx_tick();
    cr_assert_eq(fx_drain(), 2);
    bool zh = false, en = false;
    for (size_t i = 0; i < 2; i++) {
        crm_smtp_message_t m;
        cr_assert(crm_smtp_sink_get(fx.smtp, i, &m));
        zh |= strcmp(m.subject, "刘洋，春节快乐") == 0;
        en |= strcmp(m.subject, "Happy Spring Festival, Kim") == 0;
        crm_smtp_message_clear(&m);
    }
    cr_assert(zh && en);
    fx_restart();
    fx_tick();
    cr_assert_eq(fx_drain(), 0, "once");
}

Test(notifier_jobs, a_digest_gathers_an_owners_alerts_into_one_message)
{
    fx_staff("alice", "Alice", "alice@example.com", "care", false, false);
    char ids[3][CRM_ID_SIZE];
    const char *names[] = { "赵一", "钱二", "孙三" };
    for (int i = 0; i < 3; i++) {
        fx_new_id(ids[i]);
        fx_customer(ids[i], names[i], "x@example.com", "zh-CN", CRM__V1__CONSENT_STATE__CONSENT_STATE_GRANTED, "alice",
                    NULL);
    }
    /* Churn risk from analytics. */
    for (int i = 0; i < 3; i++) {
        Crm__V1__RiskReason reason = CRM__V1__RISK_REASON__INIT;
        reason.code = "silent";
        reason.detail = "no purchase for 120 days";
        Crm__V1__RiskReason *reasons[] = { &reason };
        Crm__V1__ChurnRisk risk = CRM__V1__CHURN_RISK__INIT;
        risk.customer_id = ids[i];
        risk.score = 80;
        risk.threshold = 70;
        risk.n_reasons = 1;
        risk.reasons = reasons;
        fx_event("crm.analytics.customer.churn_risk.v1", ids[i], &risk.base);
    }
    fx_tick();
    cr_assert_eq(fx_drain(), 0, "gathered, not sent");
    fx.now += 61 * FX_MINUTE;
    fx_tick();
    cr_assert_eq(fx_drain(), 1);
    crm_smtp_message_t m;
    cr_assert(crm_smtp_sink_get(fx.smtp, 0, &m));
    cr_assert_str_eq(m.to[0], "alice@example.com");
    cr_assert_str_eq(m.subject, "3 alerts: Churn risk to the account owner");
    for (int i = 0; i < 3; i++)
        cr_assert(strstr(m.body, names[i]), "%s", m.body);
    crm_smtp_message_clear(&m);
    Crm__V1__ListDeliveriesReply *log = fx_deliveries(ids[0], NULL);
    cr_assert_eq(log->deliveries[0]->status, CRM__V1__DELIVERY_STATUS__DELIVERY_STATUS_DIGESTED);
    cr_assert(crm_id_valid(log->deliveries[0]->digest_id));
    fx_free(log);
}

Test(notifier_jobs, quiet_hours_and_times_of_day_hold_messages)
{
    /* Quiet all day but the current hour's complement: the customer's email waits. */
    int64_t minute_now = (fx.now % FX_DAY) / FX_MINUTE;
    int start = (int) ((minute_now + NOTIFIER_MINUTES_PER_DAY - 10) % NOTIFIER_MINUTES_PER_DAY);
    int end = (int) ((minute_now + 60) % NOTIFIER_MINUTES_PER_DAY);
    fx.settings.quiet = (notifier_quiet_t) { .on = true, .start_min = start, .end_min = end };
    fx_restart();
    char id[CRM_ID_SIZE];
    fx_new_id(id);
    fx_customer(id, "Ned", "ned@example.com", "en", CRM__V1__CONSENT_STATE__CONSENT_STATE_GRANTED, NULL, NULL);
    fx_tier(id, "bronze", "silver", CRM__V1__TIER_CHANGE__TIER_CHANGE_UPGRADE, NULL);
    cr_assert_eq(fx_drain(), 0, "quiet hours");
    fx.now += 61 * FX_MINUTE;
    cr_assert_eq(fx_drain(), 1, "after them");
}

Test(notifier_jobs, a_sender_stopped_mid_flight_leaves_the_delivery_queued)
{
    char id[CRM_ID_SIZE];
    fx_new_id(id);
    fx_customer(id, "Ola", "ola@example.com", "en", CRM__V1__CONSENT_STATE__CONSENT_STATE_GRANTED, NULL, NULL);
    fx_tier(id, "bronze", "silver", CRM__V1__TIER_CHANGE__TIER_CHANGE_UPGRADE, NULL);
    notifier_job_t job;
    memset(&job, 0, sizeof job);
    bool got = false, worked = false;
    int64_t next = 0;
    cr_assert_eq(notifier_delivery_claim(fx.nt, &job, &got, &worked, &next), 0);
    cr_assert(got);
    /* The process dies here; at the next start the delivery is queued again and goes once. */
    notifier_job_clear(&job);
    fx_restart();
    cr_assert_eq(fx_drain(), 1);
    cr_assert_eq(crm_smtp_sink_count(fx.smtp), 1);
    /* Stopping (CRM_EINTERRUPT) queues it again without counting an attempt. */
    char other[CRM_ID_SIZE];
    fx_new_id(other);
    fx_customer(other, "Pam", "pam@example.com", "en", CRM__V1__CONSENT_STATE__CONSENT_STATE_GRANTED, NULL, NULL);
    fx_tier(other, "bronze", "silver", CRM__V1__TIER_CHANGE__TIER_CHANGE_UPGRADE, NULL);
    cr_assert_eq(notifier_delivery_claim(fx.nt, &job, &got, &worked, &next), 0);
    cr_assert(got);
    cr_assert_eq(notifier_delivery_complete(fx.nt, &job, CRM_EINTERRUPT, "stopping"), 0);
    notifier_job_clear(&job);
    Crm__V1__ListDeliveriesReply *log = fx_deliveries(other, NULL);
    cr_assert_eq(log->deliveries[0]->status, CRM__V1__DELIVERY_STATUS__DELIVERY_STATUS_QUEUED);
    cr_assert_eq(log->deliveries[0]->attempts, 0);
    fx_free(log);
    cr_assert_eq(fx_drain(), 1);
}

Test(notifier_jobs, the_sender_threads_send_what_falls_due)
{
    notifier_sender_t *sender = NULL;
    cr_assert_eq(notifier_sender_start(fx.nt, &sender), 0);
    char id[CRM_ID_SIZE];
    fx_new_id(id);
    fx_customer(id, "Quinn", "quinn@example.com", "en", CRM__V1__CONSENT_STATE__CONSENT_STATE_GRANTED, NULL, NULL);
    fx_tier(id, "bronze", "silver", CRM__V1__TIER_CHANGE__TIER_CHANGE_UPGRADE, NULL);
    cr_assert(crm_smtp_sink_wait(fx.smtp, 1, FX_WAIT_MS), "a sender thread sent it");
    notifier_sender_stop(&sender);
    cr_assert_null(sender);
    cr_assert_null(fx.nt->wake);
}
