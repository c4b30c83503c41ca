/*
 * hash.h: content hashes (SHA-256, OpenSSL's libcrypto). Files are read in
 * chunks, never whole into memory. These calls block on disk reads.
 */
#ifndef KILN_HASH_H
#define KILN_HASH_H

#include "base/base.h"

#define KILN_HASH_HEX 65 /* 64 hex digits and a NUL */

/* SHA-256 of len bytes as lowercase hex. */
void kiln_hash_bytes(char out[KILN_HASH_HEX], const void *data, size_t len);
/* SHA-256 of a regular file's content; KILN_ERROR with the path if
 * unreadable, KILN_EINVAL ("PATH is a FIFO, not a file") if it is not a
 * regular file, without blocking on it. */
int kiln_hash_file(char out[KILN_HASH_HEX], const char *path, kiln_err *err);

#endif
