/* deploy_sdnotify: switchd under a fake systemd notify socket: READY, STATUS, WATCHDOG pets, SIGHUP reload, clean SIGTERM exit. */

/*
 * Usage: sdnotify_test SWITCHD
 *
 * Plays the service manager of a Type=notify, NotifyAccess=main unit with
 * WatchdogSec: binds a unix datagram socket (SO_PASSCRED, so each message's
 * sender pid is known), writes a one-switch rack.yaml (addresses picked at
 * run time), starts switchd with NOTIFY_SOCKET, WATCHDOG_USEC and
 * WATCHDOG_PID set as systemd sets them, and checks:
 *   - READY=1 and a STATUS= arrive, from the main pid;
 *   - WATCHDOG=1 keeps coming, at about WATCHDOG_USEC/2, never a gap of a
 *     whole WATCHDOG_USEC (systemd would kill the unit);
 *   - SIGHUP (the units' ExecReload) answers STATUS=running (reloaded);
 *   - SIGTERM gives STOPPING=1 and exit status 0.
 * Every wait polls the socket under a generous deadline.
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#define WATCHDOG_USEC 2000000u      /* the daemon pets every second */
#define PETS_WANTED 4
#define DEADLINE_MS 60000u          /* ASan daemons on a loaded 2-core box */

static pid_t child = -1;
static char tmpdir[] = "/tmp/plane-sdnotify.XXXXXX";
static char sock_path[sizeof(struct sockaddr_un)];

static uint64_t
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000u + (uint64_t) ts.tv_nsec / 1000000u;
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("deploy_sdnotify: ", stdout);
    vfprintf(stdout, fmt, ap);
    fputc('\n', stdout);
    va_end(ap);
    fflush(stdout);
}

/* Prints the daemon's output, kills it, removes the temp dir. */
static void
cleanup(bool show_log)
{
    char path[512];
    if (child > 0) {
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        child = -1;
    }
    snprintf(path, sizeof path, "%s/switchd.log", tmpdir);
    if (show_log) {
        FILE *f = fopen(path, "r");
        if (f) {
            char line[1024];
            say("---- switchd output ----");
            while (fgets(line, sizeof line, f)) {
                fputs(line, stdout);
            }
            fclose(f);
        }
    }
    unlink(path);
    snprintf(path, sizeof path, "%s/rack.yaml", tmpdir);
    unlink(path);
    unlink(sock_path);
    rmdir(tmpdir);
}

#define CHECK(cond, ...)                                                       \
    do {                                                                       \
        if (!(cond)) {                                                         \
            say("FAIL line %d: %s", __LINE__, #cond);                          \
            say(__VA_ARGS__);                                                  \
            cleanup(true);                                                     \
            return 1;                                                          \
        }                                                                      \
    } while (0)

/* A free UDP port on 127.0.0.1 (bind :0, read back, close). */
static int
free_udp_port(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) {
        return -1;
    }
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    int port = -1;
    if (bind(fd, (struct sockaddr *) &a, sizeof a) == 0
        && getsockname(fd, (struct sockaddr *) &a, &len) == 0) {
        port = ntohs(a.sin_port);
    }
    close(fd);
    return port;
}

static int
write_config(const char *path, int dev_port)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        return -1;
    }
    fprintf(f,
            "version: 1\n"
            "rack:\n"
            "  name: sdnotify\n"
            "  auth_key: 6974657374206b65792c206e6f7420612073656372657420617420616c6c2121\n"
            "switch:\n"
            "  id: 0\n"
            "  name: tor0\n"
            "  control: 127.0.0.1:0\n"
            "  ports:\n"
            "    - {id: 0, name: p0, listen: 127.0.0.1:0}\n"
            "devices:\n"
            "  - {id: 1, name: nic0, role: nic, address: 127.0.0.1:%d}\n",
            dev_port);
    return fclose(f);
}

/* One notify message, with the sender's pid. */
struct note {
    char text[1024];
    pid_t pid;
    uint64_t at_ms;
};

/* Waits up to until_ms for a message; 1 got one, 0 timed out, -1 error. */
static int
recv_note(int fd, uint64_t until_ms, struct note *n)
{
    for (;;) {
        uint64_t now = now_ms();
        if (now >= until_ms) {
            return 0;
        }
        struct pollfd p = { .fd = fd, .events = POLLIN };
        int r = poll(&p, 1, (int) (until_ms - now));
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            return r;
        }
        union {
            struct cmsghdr h;
            char buf[CMSG_SPACE(sizeof(struct ucred))];
        } ctl;
        struct iovec iov = { .iov_base = n->text, .iov_len = sizeof n->text - 1 };
        struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
                            .msg_control = &ctl, .msg_controllen = sizeof ctl };
        ssize_t len = recvmsg(fd, &m, MSG_DONTWAIT);
        if (len < 0) {
            if (errno == EAGAIN || errno == EINTR) {
                continue;
            }
            return -1;
        }
        n->text[len] = '\0';
        n->pid = -1;
        n->at_ms = now_ms();
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
                struct ucred cred;
                memcpy(&cred, CMSG_DATA(c), sizeof cred);
                n->pid = cred.pid;
            }
        }
        return 1;
    }
}

/* True when the newline-separated assignments in text include line. */
static bool
has_line(const char *text, const char *line)
{
    size_t len = strlen(line);
    for (const char *p = text; p && *p; ) {
        if (strncmp(p, line, len) == 0 && (p[len] == '\n' || p[len] == '\0')) {
            return true;
        }
        p = strchr(p, '\n');
        p = p ? p + 1 : NULL;
    }
    return false;
}

static bool
has_prefix_line(const char *text, const char *prefix)
{
    size_t len = strlen(prefix);
    for (const char *p = text; p && *p; ) {
        if (strncmp(p, prefix, len) == 0) {
            return true;
        }
        p = strchr(p, '\n');
        p = p ? p + 1 : NULL;
    }
    return false;
}

int
main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s SWITCHD\n", argv[0]);
        return 2;
    }
    const char *switchd = argv[1];
    signal(SIGPIPE, SIG_IGN);
    if (!mkdtemp(tmpdir)) {
        say("mkdtemp: %s", strerror(errno));
        return 1;
    }
    char cfg[256], logp[256];
    snprintf(cfg, sizeof cfg, "%s/rack.yaml", tmpdir);
    snprintf(logp, sizeof logp, "%s/switchd.log", tmpdir);
    snprintf(sock_path, sizeof sock_path, "%s/notify", tmpdir);

    int dev_port = free_udp_port();
    CHECK(dev_port > 0, "no free UDP port");
    CHECK(write_config(cfg, dev_port) == 0, "cannot write %s", cfg);

    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    CHECK(fd >= 0, "socket: %s", strerror(errno));
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    memcpy(sun.sun_path, sock_path, strlen(sock_path) + 1);
    CHECK(bind(fd, (struct sockaddr *) &sun, sizeof sun) == 0, "bind %s: %s", sock_path,
          strerror(errno));
    int one = 1;
    CHECK(setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) == 0, "SO_PASSCRED: %s",
          strerror(errno));

    child = fork();
    CHECK(child >= 0, "fork: %s", strerror(errno));
    if (child == 0) {
        char pid[32], usec[32];
        snprintf(pid, sizeof pid, "%d", (int) getpid());
        snprintf(usec, sizeof usec, "%u", WATCHDOG_USEC);
        setenv("NOTIFY_SOCKET", sock_path, 1);
        setenv("WATCHDOG_USEC", usec, 1);
        setenv("WATCHDOG_PID", pid, 1);
        int out = open(logp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (out >= 0) {
            dup2(out, 1);
            dup2(out, 2);
            close(out);
        }
        execl(switchd, "switchd", "--config", cfg, "--log-level", "info", (char *) NULL);
        _exit(127);
    }
    say("switchd pid %d, NOTIFY_SOCKET=%s, WATCHDOG_USEC=%u", (int) child, sock_path,
        WATCHDOG_USEC);

    /* READY=1 and STATUS=, from the main pid (NotifyAccess=main). */
    struct note n;
    bool ready = false, status = false;
    uint64_t until = now_ms() + DEADLINE_MS;
    while (!(ready && status)) {
        int r = recv_note(fd, until, &n);
        CHECK(r == 1, "no READY=1 and STATUS= within %u ms (ready %d, status %d)",
              DEADLINE_MS, ready, status);
        CHECK(n.pid == child, "message from pid %d, not the main pid %d: \"%s\"",
              (int) n.pid, (int) child, n.text);
        ready = ready || has_line(n.text, "READY=1");
        status = status || has_prefix_line(n.text, "STATUS=");
    }
    say("READY=1 and STATUS= received");

    /* The watchdog keeps being petted at about half of WATCHDOG_USEC. */
    int pets = 0;
    uint64_t first = 0, last = 0, max_gap = 0;
    until = now_ms() + DEADLINE_MS;
    while (pets < PETS_WANTED) {
        int r = recv_note(fd, until, &n);
        CHECK(r == 1, "only %d WATCHDOG=1 within %u ms", pets, DEADLINE_MS);
        if (!has_line(n.text, "WATCHDOG=1")) {
            continue;
        }
        CHECK(n.pid == child, "WATCHDOG=1 from pid %d", (int) n.pid);
        if (pets == 0) {
            first = n.at_ms;
        } else if (n.at_ms - last > max_gap) {
            max_gap = n.at_ms - last;
        }
        last = n.at_ms;
        pets++;
    }
    uint64_t span = last - first;
    uint64_t period = WATCHDOG_USEC / 2000u;
    say("%d pets in %" PRIu64 " ms (period %" PRIu64 " ms, largest gap %" PRIu64 " ms)",
        pets, span, period, max_gap);
    /* Not faster than the period (timers honour WATCHDOG_USEC, ms rounding
     * allowed), and no gap that would have let systemd's watchdog fire. */
    CHECK(span + 10u * (PETS_WANTED - 1) >= period * (PETS_WANTED - 1),
          "pets came faster than every %" PRIu64 " ms", period);
    CHECK(max_gap < WATCHDOG_USEC / 1000u, "a %" PRIu64 " ms gap between pets", max_gap);

    /* SIGHUP: the units' ExecReload. */
    CHECK(kill(child, SIGHUP) == 0, "kill HUP: %s", strerror(errno));
    bool reloaded = false;
    until = now_ms() + DEADLINE_MS;
    while (!reloaded) {
        int r = recv_note(fd, until, &n);
        CHECK(r == 1, "no STATUS=running (reloaded) after SIGHUP");
        reloaded = has_line(n.text, "STATUS=running (reloaded)");
    }
    say("SIGHUP: reloaded");

    /* SIGTERM: STOPPING=1, then exit status 0. */
    CHECK(kill(child, SIGTERM) == 0, "kill TERM: %s", strerror(errno));
    bool stopping = false;
    until = now_ms() + DEADLINE_MS;
    while (!stopping) {
        int r = recv_note(fd, until, &n);
        CHECK(r == 1, "no STOPPING=1 after SIGTERM");
        stopping = has_line(n.text, "STOPPING=1");
    }
    int st = 0;
    pid_t w = 0;
    until = now_ms() + DEADLINE_MS;
    while ((w = waitpid(child, &st, WNOHANG)) == 0 && now_ms() < until) {
        struct pollfd p = { .fd = -1 };
        poll(&p, 0, 20);        /* polling the exit, not waiting for time */
    }
    CHECK(w == child, "switchd did not exit within %u ms of SIGTERM", DEADLINE_MS);
    child = -1;
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "switchd exit: status %#x", st);
    say("SIGTERM: STOPPING=1, exit 0");
    close(fd);
    cleanup(false);
    say("PASS");
    return 0;
}
