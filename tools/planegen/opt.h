/* Command-line value parsers shared by planegen's subcommands (numbers, addresses, lists). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
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

/* Formats sa as "host:port" ("[v6]:port") into buf; returns buf. */
const char *planegen_addr_str(const struct sockaddr *sa, char *buf, size_t len);
