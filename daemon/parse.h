/*
 * parse.h — strict parsing of the numbers and sizes a user or client gives
 * the daemon.  Prefix: dm_parse_.
 *
 * Strict means: the whole string is the number (no leading blanks, no
 * trailing junk), no sign, no overflow, and a range check.  strtoul alone
 * accepts " -1" as ULONG_MAX; these do not.
 */
#ifndef ARCHD_DAEMON_PARSE_H
#define ARCHD_DAEMON_PARSE_H

#include <stdint.h>

/*
 * Parses a decimal integer in [min, max] into *out.  Returns 0, or -1 when
 * s is empty, holds anything but digits, or is out of range (*out is then
 * unchanged).
 */
int dm_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/*
 * Like dm_parse_u64 but accepts one binary suffix: K, M or G (also KiB,
 * MiB, GiB), meaning 1024, 1024^2, 1024^3.  The scaled value must be in
 * [min, max].
 */
int dm_parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *out);

#endif
