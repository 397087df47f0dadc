/* Command-line parsing shared by planegen's subcommands (values, common flags), and their small shared run helpers. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <sys/socket.h>

/*
 * Each parser reads the whole string s (no trailing junk) and returns 0, or
 * PLANE_EINVAL with a message naming `flag` in err (err_len bytes).
 */
int planegen_opt_u64(const char *flag, const char *s, uint64_t lo, uint64_t hi, uint64_t *out,
                     char *err, size_t err_len);
int planegen_opt_double(const char *flag, const char *s, double lo, double hi, double *out,
                        char *err, size_t err_len);
/* A numeric "A.B.C.D:PORT" or "[V6]:PORT" (no DNS). */
int planegen_opt_addr(const char *flag, const char *s, struct sockaddr_storage *sa,
                      socklen_t *len, char *err, size_t err_len);

/*
 * Splits the value of `--flag VALUE` or `--flag=VALUE` at argv[*i]: when
 * argv[*i] is the flag named `name`, stores its value in *val (advancing
 * *i past a separate value) and returns true.  A flag missing its value
 * sets *val to NULL and returns true.
 */
bool planegen_opt_match(const char *name, int argc, char **argv, int *i, const char **val);

/*
 * planegen_opt_match() for a flag that needs its value: a missing value
 * sets *rc to PLANE_EINVAL with "NAME needs a value" in err (and *val to
 * NULL) but still returns true, so the caller's branch for the flag runs
 * and the loop stops on *rc afterwards.
 */
bool planegen_opt_need(const char *name, int argc, char **argv, int *i, const char **val,
                       int *rc, char *err, size_t err_len);

/*
 * The value of --pcap FILE: stores v in *out and returns rc (the caller's
 * status so far); when planegen was built without libpcap, returns
 * PLANE_EINVAL with a message in err instead.
 */
int planegen_opt_pcap(const char *v, const char **out, int rc, char *err, size_t err_len);

/* Returned by a planegen_opt_flag_fn for an argument that is none of its flags. */
#define PLANEGEN_OPT_UNKNOWN 1

/*
 * A subcommand's own flags: parses the flag at argv[*i] into ctx, advancing
 * *i past a separate value (see planegen_opt_need()).  Returns 0,
 * PLANEGEN_OPT_UNKNOWN, or PLANE_EINVAL with a message in err.
 */
typedef int planegen_opt_flag_fn(void *ctx, int argc, char **argv, int *i, char *err,
                                 size_t err_len);

/* A subcommand's command line, for planegen_opt_parse(). */
struct planegen_opt_cmd {
    const char *name;              /* "gen", "sink": named in the unknown-option message */
    void (*usage)(FILE *f);        /* printed for -h/--help */
    planegen_opt_flag_fn *flag;    /* everything but the common flags */
};

/*
 * The flag loop every subcommand shares, over argv[0..argc): -h/--help
 * prints cmd->usage to out and returns 1; --json and --quiet set *json and
 * *quiet; anything else goes to cmd->flag(ctx, ...), and one it does not
 * know is an error.  Returns 0, 1 (help) or PLANE_EINVAL with a message in
 * err, stopping at the first error.
 */
int planegen_opt_parse(const struct planegen_opt_cmd *cmd, void *ctx, bool *json, bool *quiet,
                       int argc, char **argv, FILE *out, char *err, size_t err_len);

/*
 * Writes path through "path.tmp" and a rename, so a reader polling for the
 * file never sees half of it: fill(f, arg) writes the temporary file.
 * Returns 0, PLANE_EINVAL (path too long) or a negative errno.
 */
int planegen_write_atomic(const char *path, void (*fill)(FILE *f, const void *arg),
                          const void *arg);

/* Installs handler for SIGINT and SIGTERM (the subcommands' clean stop). */
void planegen_catch_stop(void (*handler)(int));

/* Formats sa as "host:port" ("[v6]:port") into buf; returns buf. */
const char *planegen_addr_str(const struct sockaddr *sa, char *buf, size_t len);
