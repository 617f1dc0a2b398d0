/* bench_outbox.c: events committed to the outbox and delivered to a subscriber, against raw LMDB batched puts. */
#include <stdio.h>
#include <stdlib.h>

#include "crm_outbox_rate.h"
#include "crm_test.h"

#define DEFAULT_EVENTS 100000
#define RUNS 3

static int s_cmp(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    uint64_t events = argc > 1 ? strtoull(argv[1], NULL, 10) : DEFAULT_EVENTS;
    double raw[RUNS], suite[RUNS];
    for (int i = 0; i < RUNS; i++) {
        char dir[CRM_TEST_PATH_MAX], raw_dir[CRM_TEST_PATH_MAX + 16];
        crm_test_tmpdir(dir);
        snprintf(raw_dir, sizeof raw_dir, "%s/raw", dir);
        raw[i] = crm_outbox_rate_raw_lmdb(raw_dir, events);
        crm_test_rmtree(dir);
        suite[i] = crm_outbox_rate_delivery(events);
    }
    qsort(raw, RUNS, sizeof *raw, s_cmp);
    qsort(suite, RUNS, sizeof *suite, s_cmp);
    double ratio = suite[RUNS / 2] / raw[RUNS / 2];
    printf("outbox benchmark: %llu events of %d bytes, %d per synced commit, median of %d runs\n",
           (unsigned long long) events, CRM_OUTBOX_RATE_PAYLOAD, CRM_OUTBOX_RATE_BATCH, RUNS);
    printf("%-52s %12s %12s\n", "figure", "events/s", "spread");
    printf("%-52s %12.0f %11.0f%%\n", "raw LMDB batched puts (reference)", raw[RUNS / 2],
           100.0 * (raw[RUNS - 1] - raw[0]) / raw[RUNS / 2]);
    printf("%-52s %12.0f %11.0f%%\n", "outbox commit + delivery to a subscriber's store", suite[RUNS / 2],
           100.0 * (suite[RUNS - 1] - suite[0]) / suite[RUNS / 2]);
    printf("%-52s %11.0f%%  (target >= 50%%: %s)\n", "ratio suite / raw", 100.0 * ratio,
           ratio >= 0.5 ? "met" : "NOT met");
    return 0;
}
