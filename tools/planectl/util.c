/* planectl helpers: opening the client with helpful errors, JSON strings, hex and 5-tuple parsing. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <plane/client.h>
#include <plane/error.h>
#include <plane/flow.h>

#include "planectl.h"

int
ctl_open(const struct ctl_opts *o, struct plane_client **out)
{
    char err[1200];
    int rc = plane_client_open_err(o->config, out, err, sizeof err);
    if (rc) {
        fprintf(stderr, "planectl: %s\n", err[0] ? err : plane_strerror(rc));
        fprintf(stderr, "planectl: give the rack's configuration with --config FILE "
                        "(or set PLANE_CONFIG)\n");
        return rc;
    }
    if (o->timeout_ms) {
        plane_client_set_timeout(*out, o->timeout_ms);
    }
    return 0;
}

void
ctl_fail(struct plane_client *c, const char *what, int rc)
{
    const char *why = c ? plane_client_last_error(c) : "";
    fprintf(stderr, "planectl: %s: %s\n", what, why && why[0] ? why : plane_strerror(rc));
}

void
json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *) s; p && *p; p++) {
        if (*p == '"' || *p == '\\') {
            fprintf(f, "\\%c", *p);
        } else if (*p < 0x20) {
            fprintf(f, "\\u%04x", *p);
        } else {
            fputc(*p, f);
        }
    }
    fputc('"', f);
}

void
put_hex(FILE *f, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        fprintf(f, "%02x", p[i]);
    }
}

int
parse_hex(const char *s, uint8_t *buf, size_t cap)
{
    size_t n = 0;
    int hi = -1;
    if (!strncmp(s, "0x", 2)) {
        s += 2;
    }
    for (; *s; s++) {
        if (*s == ':' || *s == '-' || *s == ' ') {
            continue;
        }
        if (!isxdigit((unsigned char) *s)) {
            return -1;
        }
        int v = isdigit((unsigned char) *s) ? *s - '0' : (tolower((unsigned char) *s) - 'a' + 10);
        if (hi < 0) {
            hi = v;
        } else {
            if (n == cap) {
                return -1;
            }
            buf[n++] = (uint8_t) (hi << 4 | v);
            hi = -1;
        }
    }
    return hi < 0 ? (int) n : -1;
}

/* Splits "a.b.c.d:port" or "[v6]:port"; returns the address family or -1. */
static int
parse_endpoint(const char *s, uint8_t addr[16], uint16_t *port)
{
    char host[128];
    const char *colon;
    if (s[0] == '[') {
        const char *end = strchr(s, ']');
        if (!end || end[1] != ':' || (size_t) (end - s - 1) >= sizeof host) {
            return -1;
        }
        memcpy(host, s + 1, (size_t) (end - s - 1));
        host[end - s - 1] = '\0';
        colon = end + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon || (size_t) (colon - s) >= sizeof host) {
            return -1;
        }
        memcpy(host, s, (size_t) (colon - s));
        host[colon - s] = '\0';
    }
    char *e;
    unsigned long p = strtoul(colon + 1, &e, 10);
    if (*e || p > 65535 || !colon[1]) {
        return -1;
    }
    *port = (uint16_t) p;
    if (inet_pton(AF_INET, host, addr) == 1) {
        return AF_INET;
    }
    if (inet_pton(AF_INET6, host, addr) == 1) {
        return AF_INET6;
    }
    return -1;
}

int
parse_tuple(char **argv, int argc, struct plane_flow_key *key)
{
    if (argc < 3) {
        return -1;
    }
    unsigned long proto;
    if (!strcmp(argv[0], "tcp")) {
        proto = 6;
    } else if (!strcmp(argv[0], "udp")) {
        proto = 17;
    } else if (!strcmp(argv[0], "icmp")) {
        proto = 1;
    } else {
        char *e;
        proto = strtoul(argv[0], &e, 10);
        if (*e || proto > 255) {
            return -1;
        }
    }
    uint8_t sa[16], da[16];
    uint16_t sp, dp;
    int f1 = parse_endpoint(argv[1], sa, &sp), f2 = parse_endpoint(argv[2], da, &dp);
    if (f1 < 0 || f1 != f2) {
        return -1;
    }
    if (f1 == AF_INET) {
        plane_flow_key_set_v4(key, (uint8_t) proto, sa, sp, da, dp);
    } else {
        plane_flow_key_set_v6(key, (uint8_t) proto, sa, sp, da, dp);
    }
    return 0;
}
