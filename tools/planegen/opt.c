/* Strict command-line parsing for planegen (whole-string numbers with bounds, numeric addresses, common flags) and shared run helpers. */
#include "opt.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <plane/error.h>

int
planegen_opt_u64(const char *flag, const char *s, uint64_t lo, uint64_t hi, uint64_t *out,
                 char *err, size_t err_len)
{
    char *end;
    errno = 0;
    if (!s || !*s || *s == '-' || *s == ' ')
        goto bad;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || *end || v < lo || v > hi)
        goto bad;
    *out = v;
    return 0;
bad:
    snprintf(err, err_len, "%s takes an integer in [%llu, %llu], not \"%s\"", flag,
             (unsigned long long)lo, (unsigned long long)hi, s ? s : "");
    return PLANE_EINVAL;
}

int
planegen_opt_double(const char *flag, const char *s, double lo, double hi, double *out,
                    char *err, size_t err_len)
{
    char *end;
    errno = 0;
    if (!s || !*s)
        goto bad;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v) || v < lo || v > hi)
        goto bad;
    *out = v;
    return 0;
bad:
    snprintf(err, err_len, "%s takes a number in [%g, %g], not \"%s\"", flag, lo, hi,
             s ? s : "");
    return PLANE_EINVAL;
}

int
planegen_opt_addr(const char *flag, const char *s, struct sockaddr_storage *sa, socklen_t *len,
                  char *err, size_t err_len)
{
    char host[128];
    const char *port;
    if (!s)
        goto bad;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':' || (size_t)(close - s - 1) >= sizeof(host))
            goto bad;
        memcpy(host, s + 1, (size_t)(close - s - 1));
        host[close - s - 1] = '\0';
        port = close + 2;
    } else {
        const char *colon = strrchr(s, ':');
        if (!colon || (size_t)(colon - s) >= sizeof(host) || strchr(s, ':') != colon)
            goto bad;
        memcpy(host, s, (size_t)(colon - s));
        host[colon - s] = '\0';
        port = colon + 1;
    }
    uint64_t p;
    char perr[8];
    if (planegen_opt_u64(flag, port, 0, 65535, &p, perr, sizeof(perr)) < 0)
        goto bad;
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
                             .ai_socktype = SOCK_DGRAM};
    struct addrinfo *res = NULL;
    if (getaddrinfo(host, port, &hints, &res) != 0 || !res)
        goto bad;
    memset(sa, 0, sizeof(*sa));
    memcpy(sa, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
bad:
    snprintf(err, err_len, "%s takes a numeric HOST:PORT (e.g. 127.0.0.1:17010 or [::1]:17010),"
             " not \"%s\"", flag, s ? s : "");
    return PLANE_EINVAL;
}

bool
planegen_opt_match(const char *name, int argc, char **argv, int *i, const char **val)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0)
        return false;
    if (a[n] == '=') {
        *val = a + n + 1;
        return true;
    }
    if (a[n] != '\0')
        return false;
    if (*i + 1 < argc) {
        *val = argv[++*i];
    } else {
        *val = NULL;
    }
    return true;
}

bool
planegen_opt_need(const char *name, int argc, char **argv, int *i, const char **val, int *rc,
                  char *err, size_t err_len)
{
    if (!planegen_opt_match(name, argc, argv, i, val))
        return false;
    if (!*val) {
        snprintf(err, err_len, "%s needs a value", name);
        *rc = PLANE_EINVAL;
    }
    return true;
}

int
planegen_opt_pcap(const char *v, const char **out, int rc, char *err, size_t err_len)
{
#ifndef PLANEGEN_HAVE_PCAP
    (void)v;
    (void)out;
    (void)rc;
    snprintf(err, err_len, "--pcap: planegen was built without libpcap");
    return PLANE_EINVAL;
#else
    (void)err;
    (void)err_len;
    *out = v;
    return rc;
#endif
}

int
planegen_opt_parse(const struct planegen_opt_cmd *cmd, void *ctx, bool *json, bool *quiet,
                   int argc, char **argv, FILE *out, char *err, size_t err_len)
{
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            cmd->usage(out);
            return 1;
        } else if (!strcmp(a, "--json")) {
            *json = true;
            continue;
        } else if (!strcmp(a, "--quiet")) {
            *quiet = true;
            continue;
        }
        int rc = cmd->flag(ctx, argc, argv, &i, err, err_len);
        if (rc == PLANEGEN_OPT_UNKNOWN) {
            snprintf(err, err_len, "unknown option %s (try planegen %s --help)", a, cmd->name);
            return PLANE_EINVAL;
        }
        if (rc)
            return rc;
    }
    return 0;
}

int
planegen_write_atomic(const char *path, void (*fill)(FILE *f, const void *arg),
                      const void *arg)
{
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
        return PLANE_EINVAL;
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -errno;
    fill(f, arg);
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        int e = -errno;
        unlink(tmp);
        return e;
    }
    return 0;
}

void
planegen_catch_stop(void (*handler)(int))
{
    struct sigaction sa = {.sa_handler = handler};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

const char *
planegen_addr_str(const struct sockaddr *sa, char *buf, size_t len)
{
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
        port = ntohs(s4->sin_port);
        snprintf(buf, len, "%s:%u", host, port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
        port = ntohs(s6->sin6_port);
        snprintf(buf, len, "[%s]:%u", host, port);
    } else {
        snprintf(buf, len, "?");
    }
    return buf;
}
