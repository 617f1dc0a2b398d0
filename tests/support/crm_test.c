/* crm_test.c: fixtures shared by the tests. */
#include "crm_test.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <sys/prctl.h>
#include <unistd.h>

extern char **environ;

void
crm_test_tmpdir(char *out)
{
    const char *base = getenv("TMPDIR");
    snprintf(out, CRM_TEST_PATH_MAX, "%s/crm-test-XXXXXX", base && *base ? base : "/tmp");
    cr_assert_not_null(mkdtemp(out), "mkdtemp: %s", strerror(errno));
}

static int
s_remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st; (void) flag; (void) ftw;
    return remove(path);
}

int
crm_test_rmtree(const char *path)
{
    return nftw(path, s_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Ports for tests come from below the kernel's ephemeral range, in a block of its own for each
 * process (by pid), handed out in turn: ports asked for in one process never repeat, and parallel
 * test processes rarely meet. A port that cannot be bound right now is skipped. */
#define PORT_BASE 20000
#define PORT_BLOCK 64
#define PORT_BLOCKS 180

static bool
s_bindable(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert(fd >= 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port) };
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = bind(fd, (struct sockaddr *) &addr, sizeof addr) == 0;
    close(fd);
    return ok;
}

int
crm_test_free_port(void)
{
    static unsigned next;   /* test fixtures only: the turn within this process's block */
    int base = PORT_BASE + (int) ((unsigned) getpid() % PORT_BLOCKS) * PORT_BLOCK;
    for (int tries = 0; tries < PORT_BLOCK; tries++) {
        int port = base + (int) (next++ % PORT_BLOCK);
        if (s_bindable(port))
            return port;
    }
    cr_assert_fail("no free port in %d..%d", base, base + PORT_BLOCK - 1);
    return -1;
}

void
crm_test_endpoint(char *out)
{
    snprintf(out, 64, "tcp://127.0.0.1:%d", crm_test_free_port());
}

void
crm_test_program(const char *name, char *out)
{
    const char *dirs[] = { "", "/tests" };
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        snprintf(out, CRM_TEST_PATH_MAX, "%s%s/%s", CRM_BINARY_DIR, dirs[i], name);
        if (access(out, X_OK) == 0)
            return;
    }
    cr_assert_fail("program %s is not built under %s", name, CRM_BINARY_DIR);
}

pid_t
crm_test_spawn(char *const argv[], char *const env[], const char *log_path)
{
    pid_t pid = fork();
    cr_assert(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        /* A test that fails before it stops its processes must not leave them running: they
         * die with the test process. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() == 1)
            _exit(127);
        for (size_t i = 0; env && env[i]; i++)
            putenv(env[i]);
        if (log_path) {
            int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
            if (fd >= 0) {
                dup2(fd, STDERR_FILENO);
                close(fd);
            }
        }
        execv(argv[0], argv);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    return pid;
}

int
crm_test_wait(pid_t pid, int timeout_ms)
{
    long long deadline = crm_test_now_ms() + timeout_ms;
    for (;;) {
        int status = 0;
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return status;
        if (r < 0)
            return -1;
        if (crm_test_now_ms() >= deadline)
            return -1;
        usleep(5000);
    }
}

int
crm_test_stop(pid_t pid, int sig, int timeout_ms)
{
    if (kill(pid, sig) != 0 && errno == ESRCH) {
        int status = 0;
        return waitpid(pid, &status, 0) == pid ? status : -1;
    }
    int status = crm_test_wait(pid, timeout_ms);
    if (status == -1) {
        kill(pid, SIGKILL);
        if (waitpid(pid, &status, 0) != pid)
            return -1;
    }
    return status;
}

bool
crm_test_wait_port(int port, int timeout_ms)
{
    long long deadline = crm_test_now_ms() + timeout_ms;
    do {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0)
            return false;
        struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port) };
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int ok = connect(fd, (struct sockaddr *) &addr, sizeof addr) == 0;
        close(fd);
        if (ok)
            return true;
        usleep(10000);
    } while (crm_test_now_ms() < deadline);
    return false;
}

long long
crm_test_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>

/* Any sanitizer error ends the test process at once, so Criterion reports the test as crashed. */
const char *__asan_default_options(void);
const char *
__asan_default_options(void)
{
    return "abort_on_error=1";
}

void
crm_test_check_leaks(void)
{
    cr_assert_eq(__lsan_do_recoverable_leak_check(), 0, "memory leaked (see the LeakSanitizer report)");
}
#else
void
crm_test_check_leaks(void)
{
}
#endif
