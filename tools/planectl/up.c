/* planectl up: starts a whole rack (switchd, every nicd/serverd) as children and stops it on Ctrl-C/SIGTERM. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <plane/client.h>
#include <plane/error.h>

#include "planectl.h"

#define UP_MAX 257

struct child {
    const char *name;
    char exe[PATH_MAX];
    pid_t pid;
};

static uint64_t
mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000u + (uint64_t) ts.tv_nsec / 1000000u;
}

static bool
is_exe(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode) && access(p, X_OK) == 0;
}

/*
 * Finds daemon `name`: in --bin-dir, next to planectl, in the build tree's
 * sibling directory (build/tools/planectl -> build/<name>/<name>), then PATH.
 */
static int
find_daemon(const char *bin_dir, const char *name, char *out, size_t cap)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    char dir[PATH_MAX] = ".";
    if (n > 0) {
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (slash) {
            *slash = '\0';
            snprintf(dir, sizeof dir, "%s", self);
        }
    }
    if (bin_dir) {
        snprintf(out, cap, "%s/%s", bin_dir, name);
        return is_exe(out) ? 0 : -1;
    }
    snprintf(out, cap, "%s/%s", dir, name);
    if (is_exe(out)) {
        return 0;
    }
    snprintf(out, cap, "%s/../%s/%s", dir, name, name);
    if (is_exe(out)) {
        return 0;
    }
    const char *path = getenv("PATH");
    char *copy = path ? strdup(path) : NULL, *save = NULL;
    for (char *d = copy ? strtok_r(copy, ":", &save) : NULL; d; d = strtok_r(NULL, ":", &save)) {
        snprintf(out, cap, "%s/%s", d, name);
        if (is_exe(out)) {
            free(copy);
            return 0;
        }
    }
    free(copy);
    return -1;
}

static int
spawn(struct child *ch, const char *config, const char *id, const char *log_level,
      const sigset_t *oldmask)
{
    const char *argv[8];
    int n = 0;
    argv[n++] = ch->exe;
    argv[n++] = "--config";
    argv[n++] = config;
    if (id) {
        argv[n++] = "--id";
        argv[n++] = id;
    }
    if (log_level) {
        argv[n++] = "--log-level";
        argv[n++] = log_level;
    }
    argv[n] = NULL;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "planectl up: fork: %s\n", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        /* planectl killed without a chance to clean up takes the rack with it. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        sigprocmask(SIG_SETMASK, oldmask, NULL);
        /* Ctrl-C goes to the whole foreground group; planectl alone decides
         * the order of the stop, so the children leave the group. */
        setpgid(0, 0);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0) {
            dup2(devnull, STDIN_FILENO);
        }
        execv(ch->exe, (char *const *) argv);
        fprintf(stderr, "planectl up: exec %s: %s\n", ch->exe, strerror(errno));
        _exit(127);
    }
    ch->pid = pid;
    return 0;
}

/* Reaps children that exited; returns the index of one that did, or -1. */
static int
reap(struct child *ch, int n)
{
    int gone = -1;
    for (int i = 0; i < n; i++) {
        int st;
        if (ch[i].pid > 0 && waitpid(ch[i].pid, &st, WNOHANG) == ch[i].pid) {
            if (WIFEXITED(st)) {
                fprintf(stderr, "planectl up: %s (pid %d) exited with status %d\n", ch[i].name,
                        (int) ch[i].pid, WEXITSTATUS(st));
            } else if (WIFSIGNALED(st)) {
                fprintf(stderr, "planectl up: %s (pid %d) killed by signal %d\n", ch[i].name,
                        (int) ch[i].pid, WTERMSIG(st));
            }
            ch[i].pid = 0;
            gone = i;
        }
    }
    return gone;
}

/* Stops every child: devices first, the switch (index 0) last; SIGKILL after 10 s. */
static int
stop_all(struct child *ch, int n)
{
    int rc = 0;
    for (int i = n - 1; i >= 0; i--) {
        if (ch[i].pid <= 0) {
            continue;
        }
        kill(ch[i].pid, SIGTERM);
        uint64_t until = mono_ms() + 10000;
        int st;
        pid_t w;
        while ((w = waitpid(ch[i].pid, &st, WNOHANG)) == 0 && mono_ms() < until) {
            struct timespec ts = { 0, 5 * 1000 * 1000 };
            nanosleep(&ts, NULL);
        }
        if (w == 0) {
            fprintf(stderr, "planectl up: %s (pid %d) ignored SIGTERM for 10 s: SIGKILL\n",
                    ch[i].name, (int) ch[i].pid);
            kill(ch[i].pid, SIGKILL);
            waitpid(ch[i].pid, &st, 0);
            rc = -1;
        } else if (w == ch[i].pid && !(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
            rc = -1;
        }
        ch[i].pid = 0;
    }
    return rc;
}

int
cmd_up(const struct ctl_opts *o, int argc, char **argv)
{
    const char *config = o->config, *log_level = NULL;
    unsigned start_s = 60;
    bool config_arg = false;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--log-level") && i + 1 < argc) {
            log_level = argv[++i];
        } else if (!strcmp(argv[i], "--start-timeout") && i + 1 < argc) {
            start_s = (unsigned) strtoul(argv[++i], NULL, 10);
        } else if (argv[i][0] != '-' && !config_arg) {
            config = argv[i];
            config_arg = true;
        } else {
            fprintf(stderr, "usage: planectl up [RACK.yaml] [--log-level L] "
                            "[--start-timeout S]\n");
            return CTL_USAGE;
        }
    }
    struct ctl_opts oo = *o;
    oo.config = config;
    struct plane_client *c;
    if (ctl_open(&oo, &c)) {
        return CTL_USAGE;
    }
    size_t nn = plane_client_n_nodes(c);
    if (nn > UP_MAX) {
        plane_client_close(c);
        return CTL_USAGE;
    }
    static struct child ch[UP_MAX];
    memset(ch, 0, sizeof ch);
    for (size_t i = 0; i < nn; i++) {
        const struct plane_client_node *nd = plane_client_node(c, i);
        const char *d = nd->role == PLANE_CLIENT_ROLE_SWITCH ? "switchd"
                        : nd->role == PLANE_CLIENT_ROLE_NIC  ? "nicd"
                                                              : "serverd";
        ch[i].name = nd->name;
        if (find_daemon(o->bin_dir, d, ch[i].exe, sizeof ch[i].exe)) {
            fprintf(stderr, "planectl up: cannot find %s (looked in %s, next to planectl and "
                            "in PATH): build it or give --bin-dir DIR\n", d,
                    o->bin_dir ? o->bin_dir : "no --bin-dir");
            plane_client_close(c);
            return CTL_USAGE;
        }
    }
    /* Signals are taken synchronously (sigtimedwait) so the stop runs in
     * normal context, in order. */
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, &old);

    int status = CTL_OK;
    for (size_t i = 0; i < nn; i++) {
        const struct plane_client_node *nd = plane_client_node(c, i);
        if (spawn(&ch[i], config, i ? nd->name : NULL, log_level, &old)) {
            status = CTL_FAILED;
            goto stop;
        }
        if (!o->json) {
            printf("started %s (%s, pid %d)\n", nd->name, ch[i].exe, (int) ch[i].pid);
        }
    }
    fflush(stdout);
    /* Ready when the switch reports every device up. */
    plane_client_set_timeout(c, 300);
    uint64_t until = mono_ms() + (uint64_t) start_s * 1000u, t0 = mono_ms();
    bool ready = false;
    while (!ready) {
        struct timespec ts = { 0, 50 * 1000 * 1000 };
        int sig = sigtimedwait(&set, NULL, &ts);
        if (sig == SIGINT || sig == SIGTERM) {
            fprintf(stderr, "planectl up: signal %d during start: stopping\n", sig);
            goto stop;
        }
        if (reap(ch, (int) nn) >= 0) {
            fprintf(stderr, "planectl up: a daemon exited during start: stopping the rack\n");
            status = CTL_FAILED;
            goto stop;
        }
        struct plane_client_dev_status st[UP_MAX];
        size_t n = 0;
        if (plane_client_devices(c, st, UP_MAX, &n) == 0) {
            ready = true;
            for (size_t i = 0; i < n; i++) {
                ready = ready && st[i].up;
            }
        }
        if (!ready && mono_ms() > until) {
            fprintf(stderr, "planectl up: the switch did not see every device up within %u s "
                            "(see the daemons' logs above): stopping\n", start_s);
            status = CTL_FAILED;
            goto stop;
        }
    }
    if (o->json) {
        printf("{\"up\":true,\"ms\":%llu,\"pids\":{", (unsigned long long) (mono_ms() - t0));
        for (size_t i = 0; i < nn; i++) {
            printf("%s", i ? "," : "");
            json_str(stdout, ch[i].name);
            printf(":%d", (int) ch[i].pid);
        }
        printf("}}\n");
    } else {
        printf("rack %s is up (%zu devices) after %llu ms; Ctrl-C stops it\n",
               plane_client_rack_name(c), nn - 1, (unsigned long long) (mono_ms() - t0));
    }
    fflush(stdout);
    for (;;) {
        struct timespec ts = { 0, 200 * 1000 * 1000 };
        int sig = sigtimedwait(&set, NULL, &ts);
        if (sig == SIGINT || sig == SIGTERM) {
            break;
        }
        if (reap(ch, (int) nn) >= 0) {
            fprintf(stderr, "planectl up: a daemon exited: stopping the rack\n");
            status = CTL_FAILED;
            break;
        }
    }
stop:
    if (stop_all(ch, (int) nn)) {
        status = CTL_FAILED;
    }
    if (!o->json) {
        printf("rack stopped\n");
    }
    plane_client_close(c);
    sigprocmask(SIG_SETMASK, &old, NULL);
    return status;
}
