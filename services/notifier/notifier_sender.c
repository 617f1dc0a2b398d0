/* notifier_sender.c: sender threads over the LMDB queue: claim (one write transaction), send (no transaction), complete (one write transaction). */
#include "notifier_sender.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crm_error.h"
#include "notifier_channels.h"

struct notifier_sender {
    notifier_t *nt;
    pthread_t threads[NOTIFIER_SENDERS_MAX];
    unsigned started;
    atomic_bool stop;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    unsigned long kicks;          /* under lock: wakes since the start */
};

int notifier_sender_send(const notifier_t *nt, const atomic_bool *stop, const notifier_job_t *job, char *why,
                         size_t why_size)
{
    int64_t now = notifier_now(nt);
    switch (job->channel) {
    case CRM__V1__NOTIFY_CHANNEL__NOTIFY_CHANNEL_EMAIL:
        return notifier_send_email(&nt->settings, stop, job->id, job->address, job->subject, job->body, now, why,
                                   why_size);
    case CRM__V1__NOTIFY_CHANNEL__NOTIFY_CHANNEL_WEBHOOK:
        return notifier_send_webhook(&nt->settings, stop, job->url, job->secret, job->id, job->payload, now, why,
                                     why_size);
    case CRM__V1__NOTIFY_CHANNEL__NOTIFY_CHANNEL_SMS:
        return notifier_send_sms(&nt->settings, stop, job->id, job->address, job->body, why, why_size);
    default:
        snprintf(why, why_size, "no sender for this channel");
        return CRM_EINVALID;
    }
}

int notifier_sender_drain(notifier_t *nt, const atomic_bool *stop, int64_t *next_due_us, unsigned *sent)
{
    *sent = 0;
    *next_due_us = 0;
    notifier_job_t job;
    memset(&job, 0, sizeof job);
    while (!(stop && atomic_load(stop))) {
        bool got = false, worked = false;
        int rc = notifier_delivery_claim(nt, &job, &got, &worked, next_due_us);
        if (rc)
            return rc;
        if (!got) {
            if (worked)
                continue;   /* in-app messages, skips: look again */
            return 0;
        }
        char why[NOTIFIER_ERROR_MAX] = "";
        int outcome = notifier_sender_send(nt, stop, &job, why, sizeof why);
        rc = notifier_delivery_complete(nt, &job, outcome, why);
        notifier_job_clear(&job);
        (*sent)++;
        if (rc)
            return rc;
    }
    return 0;
}

static void s_wake(void *arg)
{
    notifier_sender_t *s = arg;
    pthread_mutex_lock(&s->lock);
    s->kicks++;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

static void *s_run(void *arg)
{
    notifier_sender_t *s = arg;
    notifier_t *nt = s->nt;
    while (!atomic_load(&s->stop)) {
        pthread_mutex_lock(&s->lock);
        unsigned long seen = s->kicks;
        pthread_mutex_unlock(&s->lock);
        int64_t next_due = 0;
        unsigned sent = 0;
        int rc = notifier_sender_drain(nt, &s->stop, &next_due, &sent);
        int64_t wait_ms = NOTIFIER_SENDER_IDLE_MS;
        if (rc) {
            NOTIFIER_LOG(nt, CRM_LOG_ERROR, "the sender failed; trying again", "error", crm_errname(rc));
            wait_ms = NOTIFIER_SENDER_ERROR_MS;
        } else if (next_due) {
            int64_t until = (next_due - notifier_now(nt)) / 1000 + 1;
            if (until < wait_ms)
                wait_ms = until < 1 ? 1 : until;
        }
        struct timespec deadline;
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += (time_t) (wait_ms / 1000);
        deadline.tv_nsec += (long) (wait_ms % 1000) * 1000000L;
        if (deadline.tv_nsec >= 1000000000L) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000L;
        }
        pthread_mutex_lock(&s->lock);
        while (s->kicks == seen && !atomic_load(&s->stop)) {
            if (pthread_cond_timedwait(&s->cond, &s->lock, &deadline) == ETIMEDOUT)
                break;
        }
        pthread_mutex_unlock(&s->lock);
    }
    return NULL;
}

int notifier_sender_start(notifier_t *nt, notifier_sender_t **sender_p)
{
    notifier_sender_t *s = calloc(1, sizeof *s);
    if (!s)
        return CRM_ENOMEM;
    s->nt = nt;
    atomic_init(&s->stop, false);
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, NULL);
    nt->wake = s_wake;
    nt->wake_arg = s;
    unsigned want = nt->settings.senders ? nt->settings.senders : 1;
    if (want > NOTIFIER_SENDERS_MAX)
        want = NOTIFIER_SENDERS_MAX;
    for (unsigned i = 0; i < want; i++) {
        if (pthread_create(&s->threads[i], NULL, s_run, s) != 0) {
            notifier_sender_stop(&s);
            return CRM_EIO;
        }
        s->started++;
    }
    *sender_p = s;
    return 0;
}

void notifier_sender_stop(notifier_sender_t **sender_p)
{
    if (!sender_p || !*sender_p)
        return;
    notifier_sender_t *s = *sender_p;
    atomic_store(&s->stop, true);
    s_wake(s);
    for (unsigned i = 0; i < s->started; i++)
        pthread_join(s->threads[i], NULL);
    s->nt->wake = NULL;
    s->nt->wake_arg = NULL;
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->lock);
    free(s);
    *sender_p = NULL;
}
