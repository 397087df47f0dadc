/* What the integration tests share: clock and log, byte order, Zipf ranks, loopback sockets, a control client. */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <plane/error.h>

#include "common/rpc.h"
#include "common/udp.h"
#include "common/wire.h"

static const char *it_name = "test";

void
it_set_name(const char *name)
{
    it_name = name;
}

uint64_t
it_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void
it_sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

void
it_say(const char *fmt, ...)
{
    static uint64_t t0;
    if (!t0)
        t0 = it_now_ms();
    uint64_t el = it_now_ms() - t0;
    va_list ap;
    va_start(ap, fmt);
    printf("%s: [%3" PRIu64 ".%03" PRIu64 "] ", it_name, el / 1000, el % 1000);
    vprintf(fmt, ap);
    putchar('\n');
    fflush(stdout);
    va_end(ap);
}

const char *
it_env_or(const char *name, const char *dflt)
{
    const char *v = getenv(name);
    return v && *v ? v : dflt;
}

void
it_put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

uint64_t
it_get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

int
it_zipf_init(struct it_zipf *z, uint32_t n, double s)
{
    z->n = n;
    z->cdf = calloc(n, sizeof(*z->cdf));
    if (!z->cdf)
        return -1;
    double sum = 0;
    for (uint32_t i = 0; i < n; i++)
        z->cdf[i] = (sum += 1.0 / pow((double)(i + 1), s));
    for (uint32_t i = 0; i < n; i++)
        z->cdf[i] /= sum;
    return 0;
}

uint32_t
it_zipf_rank(const struct it_zipf *z, double u)
{
    uint32_t lo = 0, hi = z->n - 1;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (z->cdf[mid] < u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

void
it_zipf_uninit(struct it_zipf *z)
{
    free(z->cdf);
    z->cdf = NULL;
}

double
it_unit(uint64_t draw)
{
    return (double)(draw >> 11) * (1.0 / 9007199254740992.0);
}

void
it_addr(struct sockaddr_in *sa, uint16_t port)
{
    memset(sa, 0, sizeof(*sa));
    sa->sin_family = AF_INET;
    sa->sin_port = htons(port);
    sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

int
it_udp_open(uint16_t port, uint16_t *bound, int bufsize, bool nonblock)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
    if (fd < 0)
        return -1;
    if (bufsize > 0) {
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bufsize, sizeof(bufsize));
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsize, sizeof(bufsize));
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bufsize, sizeof(bufsize));
    }
    struct sockaddr_in sa;
    it_addr(&sa, port);
    socklen_t len = sizeof(sa);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
        close(fd);
        return -1;
    }
    if (bound)
        *bound = ntohs(sa.sin_port);
    return fd;
}

uint16_t
it_free_port(void)
{
    static uint8_t given[65536 / 8];
    for (int tries = 0; tries < 100; tries++) {
        uint16_t port = 0;
        int fd = it_udp_open(0, &port, 0, false);
        if (fd < 0)
            return 0;
        close(fd);
        if (!(given[port / 8] & (1u << (port % 8)))) {
            given[port / 8] |= (uint8_t)(1u << (port % 8));
            return port;
        }
    }
    return 0;
}

/* ---- daemons as child processes ---- */

pid_t
it_spawn(const char *const *argv, const char *log_path)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        it_say("fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
        }
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, STDIN_FILENO);
        execv(argv[0], (char *const *)argv);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    return pid;
}

bool
it_alive(pid_t *pid, const char *name, int *status)
{
    if (!*pid)
        return false;
    int st = 0;
    pid_t w = waitpid(*pid, &st, WNOHANG);
    if (w == 0)
        return true;
    if (w == *pid) {
        if (status)
            *status = st;
        if (WIFEXITED(st))
            it_say("%s (pid %d) exited with status %d", name, (int)*pid, WEXITSTATUS(st));
        else if (WIFSIGNALED(st))
            it_say("%s (pid %d) killed by signal %d", name, (int)*pid, WTERMSIG(st));
    }
    *pid = 0;
    return false;
}

int
it_stop(pid_t *pid, const char *name, int sig, int *status)
{
    if (!*pid)
        return 0;
    pid_t p = *pid;
    kill(p, sig);
    uint64_t deadline = it_now_ms() + 20000;
    int st = 0;
    while (waitpid(p, &st, WNOHANG) != p) {
        if (it_now_ms() > deadline) {
            it_say("%s (pid %d) did not exit within 20 s of signal %d: SIGKILL", name, (int)p,
                   sig);
            kill(p, SIGKILL);
            waitpid(p, &st, 0);
            *pid = 0;
            if (status)
                *status = st;
            return -1;
        }
        it_sleep_ms(5);
    }
    *pid = 0;
    if (status)
        *status = st;
    if (sig == SIGKILL)
        return WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL ? 0 : -1;
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
        return 0;
    if (WIFEXITED(st))
        it_say("%s exited with status %d after signal %d", name, WEXITSTATUS(st), sig);
    else if (WIFSIGNALED(st))
        it_say("%s died of signal %d after signal %d", name, WTERMSIG(st), sig);
    return -1;
}

void
it_print_log(const char *title, const char *path, long cap)
{
    FILE *f = fopen(path, "r");
    printf("---- %s (%s) ----\n", title, path);
    if (f) {
        fseek(f, 0, SEEK_END);
        long size = ftell(f);
        if (size > cap) {
            fseek(f, size - cap, SEEK_SET);
            printf("[... %ld bytes before ...]\n", size - cap);
        } else {
            fseek(f, 0, SEEK_SET);
        }
        char buf[4096];
        size_t n;
        while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
            fwrite(buf, 1, n, stdout);
        fclose(f);
    }
    printf("---- end of %s ----\n", title);
    fflush(stdout);
}

/* ---- control client ---- */

int
it_key_from_hex(const char *hex, uint8_t key[PLANE_AUTH_KEY_LEN])
{
    for (size_t i = 0; i < PLANE_AUTH_KEY_LEN; i++) {
        unsigned v = 0;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            return -1;
        key[i] = (uint8_t)v;
    }
    return 0;
}

struct ctl_call {
    bool done;
    int status;
    uint8_t *resp;
    size_t cap, len;
};

static void
ctl_call_cb(void *arg, struct plane_rpc *rpc, int status, const struct plane_wire_ctl *resp)
{
    (void)rpc;
    struct ctl_call *c = arg;
    c->done = true;
    c->status = status;
    c->len = 0;
    if (resp && resp->body_len <= c->cap) {
        memcpy(c->resp, resp->body, resp->body_len);
        c->len = resp->body_len;
    } else if (resp && status == 0) {
        c->status = PLANE_EMSGSIZE;
    }
}

static void
ctl_rpc_closed(void *arg, struct plane_rpc *rpc)
{
    (void)rpc;
    ((struct it_ctl *)arg)->rpc_closed = true;
}

static void
ctl_udp_closed(void *arg, struct plane_udp *udp)
{
    (void)udp;
    ((struct it_ctl *)arg)->udp_closed = true;
}

void
it_ctl_close(struct it_ctl *c)
{
    if (c->rpc)
        plane_rpc_close(c->rpc, ctl_rpc_closed, c);
    if (c->udp)
        plane_udp_close(c->udp, ctl_udp_closed, c);
    if (c->loop_ok) {
        uint64_t until = it_now_ms() + 5000;
        while (((c->rpc && !c->rpc_closed) || (c->udp && !c->udp_closed) ||
                uv_loop_alive(&c->loop)) && it_now_ms() < until)
            uv_run(&c->loop, UV_RUN_NOWAIT);
        if (uv_loop_close(&c->loop) != 0)
            it_say("control client loop did not close cleanly");
    }
    plane_auth_uninit(&c->auth);
    memset(c, 0, sizeof(*c));
}

int
it_ctl_open(struct it_ctl *c, const char *key_hex, uint16_t client_id, const uint16_t *ids,
            const uint16_t *ports, size_t n)
{
    memset(c, 0, sizeof(*c));
    uint8_t key[PLANE_AUTH_KEY_LEN];
    if (it_key_from_hex(key_hex, key) < 0 || uv_loop_init(&c->loop) < 0)
        return -1;
    c->loop_ok = true;
    struct sockaddr_in sa;
    it_addr(&sa, 0);
    if (plane_auth_init(&c->auth, key, 0) < 0 || !(c->udp = plane_udp_new(&c->loop, NULL)) ||
        plane_udp_bind(c->udp, (struct sockaddr *)&sa) < 0 ||
        !(c->rpc = plane_rpc_new(&c->loop, c->udp, client_id, plane_auth_new_incarnation(),
                                 &c->auth, NULL))) {
        it_ctl_close(c);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        it_addr(&sa, ports[i]);
        if (plane_rpc_peer_add(c->rpc, ids[i], (struct sockaddr *)&sa) < 0) {
            it_ctl_close(c);
            return -1;
        }
    }
    return 0;
}

int
it_ctl_call(struct it_ctl *c, uint16_t id, uint16_t msg_type, const uint8_t *body, size_t len,
            uint8_t *resp, size_t resp_cap, size_t *resp_len)
{
    struct ctl_call call = {.resp = resp, .cap = resp_cap};
    struct plane_rpc_call_opts co = {.timeout_ns = 100 * 1000 * 1000ull, .retries = 4};
    int rc = plane_rpc_call(c->rpc, id, msg_type, body, len, &co, ctl_call_cb, &call, NULL);
    if (rc < 0)
        return rc;
    /* The rpc's own retransmission timer ends the call; this is a backstop. */
    uint64_t deadline = it_now_ms() + 20000;
    while (!call.done && it_now_ms() < deadline) {
        uv_run(&c->loop, UV_RUN_NOWAIT);
        if (!call.done)
            uv_sleep(1);
    }
    if (!call.done)
        return PLANE_ETIMEDOUT;
    if (resp_len)
        *resp_len = call.len;
    return call.status;
}
