/* test_gateway_main.c: the crm-gateway program: starts from the environment alone, prints the first admin key once, stops cleanly on SIGTERM. */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crm_test.h"

#define START_MS 15000
#define STOP_MS  10000

static char dir[CRM_TEST_PATH_MAX];
static char env_text[8][CRM_TEST_PATH_MAX + 32];
static int http_port;

static void
s_setup(void)
{
    crm_test_tmpdir(dir);
    http_port = crm_test_free_port();
    char e1[64], e2[64], e3[64], e4[64];
    crm_test_endpoint(e1);
    crm_test_endpoint(e2);
    crm_test_endpoint(e3);
    crm_test_endpoint(e4);
    snprintf(env_text[0], sizeof env_text[0], "CRM_DATA_DIR=%s", dir);
    snprintf(env_text[1], sizeof env_text[1], "CRM_HTTP_ADDR=127.0.0.1:%d", http_port);
    snprintf(env_text[2], sizeof env_text[2], "CRM_INGEST_ENDPOINT=%s", e1);
    snprintf(env_text[3], sizeof env_text[3], "CRM_GATEWAY_PUB_ENDPOINT=%s", e2);
    snprintf(env_text[4], sizeof env_text[4], "CRM_GATEWAY_REPLAY_ENDPOINT=%s", e3);
    snprintf(env_text[5], sizeof env_text[5], "CRM_CONTACTS_RPC_ENDPOINT=%s", e4);
}

static void
s_teardown(void)
{
    crm_test_rmtree(dir);
    crm_test_check_leaks();
}

TestSuite(gateway_main, .init = s_setup, .fini = s_teardown, .timeout = 60);

/* Starts crm-gateway with the base environment plus extra (may be NULL); its stdout comes back
 * through *out_fd. */
static pid_t
s_start(const char *extra, int *out_fd)
{
    char program[CRM_TEST_PATH_MAX];
    crm_test_program("crm-gateway", program);
    char log[CRM_TEST_PATH_MAX + 16];
    snprintf(log, sizeof log, "%s/gateway.log", dir);
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        int err = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (err >= 0)
            dup2(err, 2);
        unsetenv("CRM_ADMIN_KEY");
        for (size_t i = 0; i < 6; i++)
            putenv(env_text[i]);
        if (extra)
            putenv((char *) extra);
        char *argv[] = { program, NULL };
        execv(program, argv);
        _exit(127);
    }
    close(fds[1]);
    *out_fd = fds[0];
    return pid;
}

/* Reads what the child printed until it closes stdout or wait_ms pass; returns the text
 * (caller frees). */
static char *
s_read_stdout(int fd, int wait_ms)
{
    size_t cap = 4096, len = 0;
    char *text = calloc(1, cap);
    long long until = crm_test_now_ms() + wait_ms;
    for (;;) {
        long long left = until - crm_test_now_ms();
        if (left <= 0)
            break;
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, (int) left) <= 0)
            break;
        ssize_t n = read(fd, text + len, cap - len - 1);
        if (n <= 0)
            break;
        len += (size_t) n;
        if (memchr(text, '\n', len))
            break;
    }
    text[len] = '\0';
    return text;
}

static long
s_get(const char *path, const char *key)
{
    CURL *curl = curl_easy_init();
    char url[256], auth[512];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", http_port, path);
    struct curl_slist *list = NULL;
    if (key) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", key);
        list = curl_slist_append(list, auth);
    }
    FILE *sink = fopen("/dev/null", "w");
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, sink);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    long status = 0;
    if (curl_easy_perform(curl) == CURLE_OK)
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    fclose(sink);
    curl_slist_free_all(list);
    curl_easy_cleanup(curl);
    return status;
}

static void
s_stop_cleanly(pid_t pid)
{
    long long t0 = crm_test_now_ms();
    int status = crm_test_stop(pid, SIGTERM, STOP_MS);
    cr_assert(WIFEXITED(status), "crm-gateway did not exit by itself on SIGTERM (status %d)", status);
    cr_assert_eq(WEXITSTATUS(status), 0, "exit status %d", WEXITSTATUS(status));
    cr_assert_lt(crm_test_now_ms() - t0, STOP_MS);
}

Test(gateway_main, the_first_admin_key_is_printed_once_and_works)
{
    int out = -1;
    pid_t pid = s_start(NULL, &out);
    cr_assert(crm_test_wait_port(http_port, START_MS), "crm-gateway never listened");
    char *printed = s_read_stdout(out, START_MS);
    cr_assert_eq(strncmp(printed, "CRM_ADMIN_KEY=crm_", 18), 0, "stdout: [%s]", printed);
    char *nl = strchr(printed, '\n');
    cr_assert_not_null(nl);
    cr_assert_eq(nl[1], '\0', "one line only");
    *nl = '\0';
    char key[256];
    snprintf(key, sizeof key, "%s", printed + strlen("CRM_ADMIN_KEY="));
    cr_assert_eq(strlen(key), 47);
    free(printed);
    cr_assert_eq(s_get("/healthz", NULL), 200);
    cr_assert_eq(s_get("/v1/keys", key), 200);
    cr_assert_eq(s_get("/v1/keys", NULL), 401);
    s_stop_cleanly(pid);
    printed = s_read_stdout(out, 1000);
    cr_assert_str_eq(printed, "", "nothing more on stdout");
    free(printed);
    close(out);

    /* The log holds no secret. */
    char log[CRM_TEST_PATH_MAX + 16];
    snprintf(log, sizeof log, "%s/gateway.log", dir);
    FILE *f = fopen(log, "r");
    cr_assert_not_null(f);
    char line[4096];
    bool said = false;
    while (fgets(line, sizeof line, f)) {
        cr_assert_null(strstr(line, key + 12), "the secret leaked into the log: %s", line);
        said |= strstr(line, "first admin key made") != NULL;
    }
    fclose(f);
    cr_assert(said);

    /* Second start: keys exist, nothing is printed, the key still works. */
    pid = s_start(NULL, &out);
    cr_assert(crm_test_wait_port(http_port, START_MS));
    cr_assert_eq(s_get("/v1/keys", key), 200);
    s_stop_cleanly(pid);
    printed = s_read_stdout(out, 1000);
    cr_assert_str_eq(printed, "");
    free(printed);
    close(out);
}

Test(gateway_main, crm_admin_key_makes_the_first_key_and_is_checked)
{
    static char chosen[] = "CRM_ADMIN_KEY=crm_chosen_admin_key_0123456789abcdefghij";
    int out = -1;
    pid_t pid = s_start(chosen, &out);
    cr_assert(crm_test_wait_port(http_port, START_MS));
    cr_assert_eq(s_get("/v1/keys", chosen + strlen("CRM_ADMIN_KEY=")), 200);
    s_stop_cleanly(pid);
    char *printed = s_read_stdout(out, 1000);
    cr_assert_str_eq(printed, "", "a chosen key is not printed");
    free(printed);
    close(out);

    static char short_key[] = "CRM_ADMIN_KEY=too-short";
    pid = s_start(short_key, &out);
    int status = crm_test_wait(pid, START_MS);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) != 0, "a short CRM_ADMIN_KEY stops the start");
    close(out);
    static char bad_size[] = "CRM_HTTP_MAX_BODY=lots";
    pid = s_start(bad_size, &out);
    status = crm_test_wait(pid, START_MS);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) != 0, "a bad setting stops the start");
    close(out);
}
