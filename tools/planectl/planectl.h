/* planectl's internal interface: global options, subcommands and output helpers shared by its files. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct plane_client;
struct plane_flow_key;

/* Exit statuses of every subcommand but `plan` (which keeps its own). */
enum {
    CTL_OK = 0,
    CTL_USAGE = 1,       /* bad arguments or configuration */
    CTL_FAILED = 2,      /* a daemon did not answer or refused */
};

/* Options before the subcommand, shared by all of them. */
struct ctl_opts {
    const char *config;      /* --config (default $PLANE_CONFIG, then ./rack.yaml) */
    const char *bin_dir;     /* --bin-dir, for `up` */
    bool json;               /* --json */
    uint32_t timeout_ms;     /* --timeout (0: the client's default) */
};

/* Opens the client for o->config; on failure prints why and what to try. */
int ctl_open(const struct ctl_opts *o, struct plane_client **out);
/* Prints "planectl: <what>: <client's reason>" for a failed call. */
void ctl_fail(struct plane_client *c, const char *what, int rc);

/* JSON output: a string with escapes. */
void json_str(FILE *f, const char *s);
/* Hex of n bytes (no separators). */
void put_hex(FILE *f, const uint8_t *p, size_t n);
/* Parses hex (optionally "0x"-prefixed, ':' or '-' separators ignored) into
 * buf; returns the byte count or -1. */
int parse_hex(const char *s, uint8_t *buf, size_t cap);
/*
 * Parses a 5-tuple from argv[0..2]: PROTO SRC:SPORT DST:DPORT (PROTO is
 * tcp, udp, icmp or a number; IPv6 as [addr]:port).  Returns 0 or -1.
 */
int parse_tuple(char **argv, int argc, struct plane_flow_key *key);

int cmd_plan(int argc, char **argv);
int cmd_status(const struct ctl_opts *o, int argc, char **argv);
int cmd_counters(const struct ctl_opts *o, int argc, char **argv);
int cmd_objects(const struct ctl_opts *o, int argc, char **argv, bool flows);
int cmd_read(const struct ctl_opts *o, int argc, char **argv);
int cmd_change(const struct ctl_opts *o, int argc, char **argv, bool insert);
int cmd_update(const struct ctl_opts *o, int argc, char **argv, bool promote);
int cmd_drill(const struct ctl_opts *o, int argc, char **argv);
int cmd_devices(const struct ctl_opts *o, int argc, char **argv);
int cmd_up(const struct ctl_opts *o, int argc, char **argv);
