/* test_bus_delivery.c: real processes, SIGKILL at random moments: every event applied exactly once, in order. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crm_bus.h"
#include "crm_store.h"
#include "crm_test.h"

#define EVENTS 100000
#define BATCH "100"
#define RATE "20000"              /* events/s, so that the kills land in the middle of the stream */
#define KILLS 6
#define KILL_AFTER_MIN_MS 150
#define KILL_AFTER_SPREAD_MS 600
#define FINISH_TIMEOUT_MS 240000

typedef struct {
    char dir[CRM_TEST_PATH_MAX];
    char pub_store[CRM_TEST_PATH_MAX + 16];
    char sub_store[CRM_TEST_PATH_MAX + 16];
    char log[CRM_TEST_PATH_MAX + 16];
    char pub_ep[64];
    char replay_ep[64];
    char publisher[CRM_TEST_PATH_MAX];
    char subscriber[CRM_TEST_PATH_MAX];
    char expect[32];
} s_rig_t;

static s_rig_t rig;

static void s_setup(void)
{
    crm_test_tmpdir(rig.dir);
    snprintf(rig.pub_store, sizeof rig.pub_store, "%s/publisher", rig.dir);
    snprintf(rig.sub_store, sizeof rig.sub_store, "%s/subscriber", rig.dir);
    snprintf(rig.log, sizeof rig.log, "%s/log", rig.dir);
    crm_test_endpoint(rig.pub_ep);
    crm_test_endpoint(rig.replay_ep);
    crm_test_program("bus_publisher", rig.publisher);
    crm_test_program("bus_subscriber", rig.subscriber);
    snprintf(rig.expect, sizeof rig.expect, "%d", EVENTS);
}

static void s_teardown(void)
{
    crm_test_rmtree(rig.dir);
    crm_test_check_leaks();
}

static pid_t s_start_publisher(void)
{
    char *argv[] = { rig.publisher, "--store", rig.pub_store, "--pub", rig.pub_ep, "--replay",
                     rig.replay_ep, "--total", rig.expect, "--batch", BATCH, "--rate", RATE, NULL };
    return crm_test_spawn(argv, NULL, rig.log);
}

static pid_t s_start_subscriber(void)
{
    char *argv[] = { rig.subscriber, "--store", rig.sub_store, "--pub", rig.pub_ep, "--replay",
                     rig.replay_ep, "--expect", rig.expect, NULL };
    return crm_test_spawn(argv, NULL, rig.log);
}

static uint64_t s_read_u64(crm_txn_t *txn, crm_db_t db, const char *key)
{
    crm_val_t v;
    if (crm_store_get(txn, db, key, strlen(key), &v) != 0 || v.size != 8)
        return 0;
    return crm_bus_seq_decode(v.data);
}

/* Opens the subscriber's store after it stopped and checks what it applied. */
static void s_check_subscriber(void)
{
    crm_store_t *store = NULL;
    crm_db_t db, cursors;
    cr_assert_eq(crm_store_open(rig.sub_store, NULL, &store), 0);
    cr_assert_eq(crm_store_db(store, "check", &db), 0);
    cr_assert_eq(crm_store_db(store, "bus_cursors", &cursors), 0);
    crm_txn_t *txn = NULL;
    cr_assert_eq(crm_store_read_begin(store, &txn), 0);
    uint64_t last = s_read_u64(txn, db, "last");
    uint64_t count = s_read_u64(txn, db, "count");
    uint64_t violations = s_read_u64(txn, db, "violations");
    uint64_t cursor = s_read_u64(txn, cursors, "publisher");
    crm_store_txn_end(&txn);
    crm_store_destroy(&store);
    printf("applied %llu events (last %llu, cursor %llu), %llu out of order or doubled\n",
           (unsigned long long) count, (unsigned long long) last, (unsigned long long) cursor,
           (unsigned long long) violations);
    cr_expect_eq(violations, 0, "events applied out of order, twice or damaged: %llu",
                 (unsigned long long) violations);
    cr_expect_eq(count, EVENTS, "applied %llu events, not %d", (unsigned long long) count, EVENTS);
    cr_expect_eq(last, EVENTS);
    cr_expect_eq(cursor, EVENTS);
}

static int s_random_pause_ms(void)
{
    return KILL_AFTER_MIN_MS + rand() % KILL_AFTER_SPREAD_MS;
}

Test(bus_delivery, subscriber_killed_at_random, .init = s_setup, .fini = s_teardown, .timeout = 400)
{
    srand((unsigned) getpid());
    pid_t publisher = s_start_publisher();
    int kills = 0;
    for (; kills < KILLS; kills++) {
        pid_t subscriber = s_start_subscriber();
        usleep((useconds_t) s_random_pause_ms() * 1000);
        int status = crm_test_stop(subscriber, SIGKILL, 5000);
        cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
                  "the subscriber ended before it was killed (status %d): see %s", status, rig.log);
    }
    pid_t subscriber = s_start_subscriber();
    int status = crm_test_wait(subscriber, FINISH_TIMEOUT_MS);
    if (status == -1)
        crm_test_stop(subscriber, SIGKILL, 1000);
    crm_test_stop(publisher, SIGTERM, 10000);
    cr_assert(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "the subscriber did not finish (status %d): see %s", status, rig.log);
    printf("subscriber killed %d times\n", kills);
    s_check_subscriber();
}

Test(bus_delivery, publisher_killed_at_random, .init = s_setup, .fini = s_teardown, .timeout = 400)
{
    srand((unsigned) getpid() * 7u);
    pid_t subscriber = s_start_subscriber();
    int kills = 0;
    for (; kills < KILLS; kills++) {
        pid_t publisher = s_start_publisher();
        usleep((useconds_t) s_random_pause_ms() * 1000);
        int status = crm_test_stop(publisher, SIGKILL, 5000);
        cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
                  "the publisher ended before it was killed (status %d): see %s", status, rig.log);
    }
    pid_t publisher = s_start_publisher();
    int status = crm_test_wait(subscriber, FINISH_TIMEOUT_MS);
    if (status == -1)
        crm_test_stop(subscriber, SIGKILL, 1000);
    crm_test_stop(publisher, SIGTERM, 10000);
    cr_assert(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "the subscriber did not finish (status %d): see %s", status, rig.log);
    printf("publisher killed %d times\n", kills);
    s_check_subscriber();
}
