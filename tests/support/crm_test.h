/* crm_test.h: fixtures shared by the tests: temporary folders, free loopback ports, child processes. */
#ifndef CRM_TEST_H
#define CRM_TEST_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define CRM_TEST_PATH_MAX 512

/* Makes a fresh, empty temporary folder and writes its path into out (size CRM_TEST_PATH_MAX).
 * Aborts the test on failure. */
void crm_test_tmpdir(char *out);

/* Removes a folder and everything below it. Returns 0 or -1. */
int crm_test_rmtree(const char *path);

/* Returns a TCP port on 127.0.0.1 that was free a moment ago. */
int crm_test_free_port(void);

/* Writes "tcp://127.0.0.1:<free port>" into out (size >= 64). */
void crm_test_endpoint(char *out);

/* Path of a built program, such as "crm-contacts" or "bus_publisher", under the build tree.
 * Writes into out (size CRM_TEST_PATH_MAX). */
void crm_test_program(const char *name, char *out);

/* Starts argv[0] with argv and extra environment entries ("NAME=value", NULL-terminated; may be
 * NULL) added to the current environment. stderr goes to log_path when not NULL (appended).
 * The child is killed when the test process ends, so a failed test leaves nothing running.
 * Returns the child's pid, or aborts the test. */
pid_t crm_test_spawn(char *const argv[], char *const env[], const char *log_path);

/* Sends sig to pid and waits for it to end, at most timeout_ms (then SIGKILL). Returns the raw
 * wait status, or -1 when pid is not a child. */
int crm_test_stop(pid_t pid, int sig, int timeout_ms);

/* Waits for pid to end by itself, at most timeout_ms. Returns the raw wait status, or -1 on
 * time-out (the child is left running). */
int crm_test_wait(pid_t pid, int timeout_ms);

/* Returns true once a TCP connection to 127.0.0.1:port succeeds, trying for at most timeout_ms. */
bool crm_test_wait_port(int port, int timeout_ms);

/* Criterion ignores LeakSanitizer's verdict: a suite's .fini calls this, so that memory still
 * allocated after a test fails that test (under AddressSanitizer; a no-op otherwise). */
void crm_test_check_leaks(void);

/* Milliseconds on a monotonic clock. */
long long crm_test_now_ms(void);

#endif
