/* planegen end to end without a rack: `planegen gen` straight into `planegen sink` over loopback, checking the JSON summary. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#ifndef PLANEGEN_BIN
#define PLANEGEN_BIN "planegen"
#endif

/* Deadlines are generous: a loaded 2-core box under ASan is slow, and only counts are checked. */
#define START_DEADLINE_MS 30000
#define RUN_DEADLINE_MS 120000

static char dir[256];

static uint64_t
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void
nap_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = ms % 1000 * 1000000L};
    nanosleep(&ts, NULL);
}

/* Starts PLANEGEN_BIN with argv, stdout to out_path.  Returns the pid. */
static pid_t
spawn(char *const argv[], const char *out_path)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0)
            _exit(126);
        execv(PLANEGEN_BIN, argv);
        _exit(127);
    }
    return pid;
}

/* Waits for pid to exit within deadline_ms; returns its exit status or -1 (then kills it). */
static int
wait_exit(pid_t pid, uint64_t deadline_ms)
{
    uint64_t until = now_ms() + deadline_ms;
    for (;;) {
        int st;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        if (now_ms() > until) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            return -1;
        }
        nap_ms(10);
    }
}

static char *
slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

static uint64_t
json_u64(const char *json, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof(pat), "\"%s\":", key);
    const char *p = strstr(json, pat);
    if (!p)
        return UINT64_MAX;
    return strtoull(p + strlen(pat), NULL, 10);
}

static void
path(char *out, size_t len, const char *name)
{
    snprintf(out, len, "%s/%s", dir, name);
}

static void
test_gen_into_sink(void **state)
{
    (void)state;
    char ready[300], report[300], sink_out[300], gen_out[300];
    path(ready, sizeof(ready), "ready");
    path(report, sizeof(report), "gen.json");
    path(sink_out, sizeof(sink_out), "sink.json");
    path(gen_out, sizeof(gen_out), "gen.out");

    /* The sink binds an ephemeral port and names it in the ready file. */
    char *sink_argv[] = {"planegen", "sink", "--listen", "127.0.0.1:0", "--ready-file", ready,
                         "--gen-report", report, "--idle", "60", "--duration", "110",
                         "--promotion-src", "10.0.0.0/8", "--json", "--quiet", NULL};
    pid_t sink = spawn(sink_argv, sink_out);
    char addr[128] = "";
    uint64_t until = now_ms() + START_DEADLINE_MS;
    for (;;) {
        char *text = slurp(ready);
        if (text && strchr(text, '\n')) {
            snprintf(addr, sizeof(addr), "%.*s", (int)strcspn(text, "\n"), text);
            break;
        }
        int st;
        if (waitpid(sink, &st, WNOHANG) == sink)
            fail_msg("the sink exited before listening");
        if (now_ms() > until) {
            kill(sink, SIGKILL);
            waitpid(sink, &st, 0);
            fail_msg("the sink did not listen within %d ms", START_DEADLINE_MS);
        }
        nap_ms(10);
    }
    printf("sink listens on %s\n", addr);

    /* A modest rate: loopback must not drop, even on a busy machine. */
    char *gen_argv[] = {"planegen", "gen", "--to", addr, "--count", "3000", "--rate", "2000",
                        "--flows", "500", "--alpha", "0.99", "--seed", "12345",
                        "--classes", "2", "--shares", "3,1", "--sizes", "64,512,1500",
                        "--batch", "8", "--report", report, "--json", "--quiet", NULL};
    pid_t gen = spawn(gen_argv, gen_out);
    int gst = wait_exit(gen, RUN_DEADLINE_MS);
    int sst = wait_exit(sink, RUN_DEADLINE_MS);
    assert_int_equal(gst, 0);
    assert_int_equal(sst, 0);

    char *g = slurp(gen_out);
    assert_non_null(g);
    printf("gen:  %s", g);
    assert_int_equal(json_u64(g, "sent"), 3000);
    assert_int_equal(json_u64(g, "send_errors"), 0);
    assert_int_equal(json_u64(g, "seed"), 12345);

    char *s = slurp(sink_out);
    assert_non_null(s);
    printf("sink: %s", s);
    assert_int_equal(json_u64(s, "sent"), 3000);
    assert_int_equal(json_u64(s, "received"), 3000);
    assert_int_equal(json_u64(s, "unique"), 3000);
    assert_int_equal(json_u64(s, "lost"), 0);
    assert_int_equal(json_u64(s, "duplicated"), 0);
    assert_int_equal(json_u64(s, "not_stamped"), 0);
    assert_int_equal(json_u64(s, "rewrite_errors"), 0);
    assert_int_equal(json_u64(s, "inconsistent_flows"), 0);
    assert_int_equal(json_u64(s, "with_header"), 0);
    assert_int_equal(json_u64(s, "at_switch"), 0);
    assert_non_null(strstr(s, "\"device\":\"none\",\"packets\":3000"));
    uint64_t flows = json_u64(s, "flows");
    assert_true(flows > 10 && flows <= 1000);
    /* Every flow comes from 10.0.0.0/8 and none through a switch: tracked, never promoted. */
    char want[160];
    snprintf(want, sizeof(want),
             "\"promotion\":{\"src\":\"10.0.0.0/8\",\"flows\":%" PRIu64 ",\"promoted\":0,", flows);
    assert_non_null(strstr(s, want));
}

static void
test_bad_flags_exit_1(void **state)
{
    (void)state;
    char out[300];
    path(out, sizeof(out), "bad.out");
    char *a1[] = {"planegen", "gen", "--to", "nowhere", NULL};
    assert_int_equal(wait_exit(spawn(a1, out), RUN_DEADLINE_MS), 1);
    char *a2[] = {"planegen", "sink", NULL};
    assert_int_equal(wait_exit(spawn(a2, out), RUN_DEADLINE_MS), 1);
    char *a3[] = {"planegen", "frobnicate", NULL};
    assert_int_equal(wait_exit(spawn(a3, out), RUN_DEADLINE_MS), 1);
    char *a4[] = {"planegen", "gen", "--help", NULL};
    assert_int_equal(wait_exit(spawn(a4, out), RUN_DEADLINE_MS), 0);
    assert_non_null(strstr(slurp(out), "--churn"));
}

static int
setup(void **state)
{
    (void)state;
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof(dir), "%s/planegen-test-XXXXXX", tmp ? tmp : "/tmp");
    return mkdtemp(dir) ? 0 : -1;
}

static int
teardown(void **state)
{
    (void)state;
    const char *names[] = {"ready", "gen.json", "sink.json", "gen.out", "bad.out"};
    char p[300];
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        path(p, sizeof(p), names[i]);
        unlink(p);
    }
    rmdir(dir);
    return 0;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gen_into_sink),
        cmocka_unit_test(test_bad_flags_exit_1),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
