/* test_bus_delivery.c: real processes killed at random, started in any order, paused for a minute: every event applied exactly once, in order. */
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
#define ORDER_EVENTS 30000
#define ORDER_GAP_MS 300
#define PAUSE_S 60                   /* CRM_FAULT_PAUSE_S overrides */
#define PUBLISHER_GROWTH_MAX_KIB (8 * 1024)     /* every event queued would be about 20 MiB */

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

static pid_t s_start_publisher_with(char *const env[])
{
    char *argv[] = { rig.publisher, "--store", rig.pub_store, "--pub", rig.pub_ep, "--replay",
                     rig.replay_ep, "--total", rig.expect, "--batch", BATCH, "--rate", RATE, NULL };
    return crm_test_spawn(argv, env, rig.log);
}

static pid_t s_start_publisher(void)
{
    return s_start_publisher_with(NULL);
}

static pid_t s_start_subscriber_at(const char *store)
{
    char *argv[] = { rig.subscriber, "--store", (char *) store, "--pub", rig.pub_ep, "--replay",
                     rig.replay_ep, "--expect", rig.expect, NULL };
    return crm_test_spawn(argv, NULL, rig.log);
}

static pid_t s_start_subscriber(void)
{
    return s_start_subscriber_at(rig.sub_store);
}

static uint64_t s_read_u64(crm_txn_t *txn, crm_db_t db, const char *key)
{
    crm_val_t v;
    if (crm_store_get(txn, db, key, strlen(key), &v) != 0 || v.size != 8)
        return 0;
    return crm_bus_seq_decode(v.data);
}

/* Opens a subscriber's store after it stopped and checks what it applied. */
static void s_check_subscriber_at(const char *path)
{
    uint64_t events = strtoull(rig.expect, NULL, 10);
    crm_store_t *store = NULL;
    crm_db_t db, cursors;
    cr_assert_eq(crm_store_open(path, NULL, &store), 0);
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
    cr_expect_eq(count, events, "applied %llu events, not %llu", (unsigned long long) count,
                 (unsigned long long) events);
    cr_expect_eq(last, events);
    cr_expect_eq(cursor, events);
}

static void s_check_subscriber(void)
{
    s_check_subscriber_at(rig.sub_store);
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

/* Waits for a subscriber to finish, or kills it after FINISH_TIMEOUT_MS; asserts it finished. */
static void s_finish(pid_t subscriber)
{
    int status = crm_test_wait(subscriber, FINISH_TIMEOUT_MS);
    if (status == -1)
        crm_test_stop(subscriber, SIGKILL, 1000);
    cr_assert(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "a subscriber did not finish (status %d): see %s", status, rig.log);
}

/* The anonymous resident memory of a process (its heap and queues, not the store's mapped file),
 * in KiB (0 when unknown). */
static long s_rss_kib(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int) pid);
    FILE *f = fopen(path, "r");
    long kib = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "RssAnon: %ld kB", &kib) == 1)
            break;
    if (f)
        fclose(f);
    return kib;
}

Test(bus_delivery, subscribers_started_before_during_and_after_miss_nothing, .init = s_setup,
     .fini = s_teardown, .timeout = 400)
{
    snprintf(rig.expect, sizeof rig.expect, "%d", ORDER_EVENTS);
    char stores[3][CRM_TEST_PATH_MAX + 16];
    for (int i = 0; i < 3; i++)
        snprintf(stores[i], sizeof stores[i], "%s/subscriber-%d", rig.dir, i);
    pid_t before = s_start_subscriber_at(stores[0]);
    usleep(ORDER_GAP_MS * 1000);
    pid_t publisher = s_start_publisher();
    usleep(ORDER_GAP_MS * 1000);
    pid_t during = s_start_subscriber_at(stores[1]);
    s_finish(before);
    s_finish(during);
    pid_t after = s_start_subscriber_at(stores[2]);    /* the stream is over: all from replay */
    s_finish(after);
    crm_test_stop(publisher, SIGTERM, 10000);
    for (int i = 0; i < 3; i++)
        s_check_subscriber_at(stores[i]);
}

Test(bus_delivery, a_paused_subscriber_misses_nothing_and_the_publisher_stays_bounded, .init = s_setup,
     .fini = s_teardown, .timeout = 400)
{
    const char *pause_env = getenv("CRM_FAULT_PAUSE_S");
    int pause_s = pause_env ? atoi(pause_env) : PAUSE_S;
    /* Freed memory goes back at once, so that the figure is what the publisher holds. */
    static char asan[] = "ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:quarantine_size_mb=0";
    char *env[] = { asan, NULL };
    pid_t subscriber = s_start_subscriber();
    pid_t publisher = s_start_publisher_with(env);
    usleep(KILL_AFTER_MIN_MS * 1000);
    long rss_before = s_rss_kib(publisher);
    cr_assert_eq(kill(subscriber, SIGSTOP), 0);
    long rss_peak = rss_before;
    for (int i = 0; i < pause_s * 10; i++) {      /* the publisher goes on meanwhile */
        usleep(100 * 1000);
        long rss = s_rss_kib(publisher);
        rss_peak = rss > rss_peak ? rss : rss_peak;
    }
    cr_assert_eq(kill(subscriber, SIGCONT), 0);
    s_finish(subscriber);
    crm_test_stop(publisher, SIGTERM, 10000);
    printf("subscriber paused %d s; publisher resident memory %ld KiB before, %ld KiB at most\n", pause_s,
           rss_before, rss_peak);
    cr_expect_lt(rss_peak - rss_before, PUBLISHER_GROWTH_MAX_KIB,
                 "the publisher grew by %ld KiB while its subscriber was paused", rss_peak - rss_before);
    s_check_subscriber();
}
