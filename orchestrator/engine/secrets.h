/*
 * secrets.h: a step's secrets (secrets: in the pipeline file), resolved
 * when an attempt starts.
 *
 * A value is read from kiln's own environment, a file or what a command
 * prints, handed to the executor (kiln_task.secrets) and forgotten: it is
 * never recorded, never part of a key (only the reference is, as
 * kiln_secret_ref() writes it) and kiln-shim masks it in the step's log.
 * These calls block (kiln calls them on the thread pool): a command runs
 * for at most KILN_SECRET_TIMEOUT_MS.
 */
#ifndef KILN_SECRETS_H
#define KILN_SECRETS_H

#include "dsl/dsl.h"

/* Values shorter than this are not masked in logs (they would mask
 * ordinary words): kiln warns about them. */
#define KILN_SECRET_MIN_MASKED 4
#define KILN_SECRET_MAX (1 << 20)            /* bytes in one value */
#define KILN_SECRET_TIMEOUT_MS (30 * 1000)   /* a {command:} runs so long */

/* A reference as the key names it: "env:VAR", "file:PATH", "command:CMD"
 * (free() it). */
char *kiln_secret_ref(const kiln_secret *s);

/*
 * Resolve st's secrets into *out, "NAME=VALUE" strings ending with NULL
 * (release them with kiln_secrets_free(); NULL when the step has none).
 * {env:} reads kiln's own environment, {file:} a file (relative to dir),
 * {command:} runs /bin/sh -c in dir with envv, its stderr to log_fd (-1:
 * nowhere), in a process group of its own, killed as soon as stop_fd
 * (-1: none) is readable (an error then). One trailing newline of a file
 * or of a command's output is not part of the value. A value shorter than KILN_SECRET_MIN_MASKED
 * appends a warning line to warn. Returns 0, or KILN_ERROR with a message
 * naming the secret and its reference, never a value.
 */
int kiln_secrets_resolve(char ***out, const kiln_step *st, const char *dir,
                         char *const *envv, int log_fd, int stop_fd,
                         kiln_buf *warn, kiln_err *err);
/* Overwrite and free the values of kiln_secrets_resolve(); NULL is fine. */
void kiln_secrets_free(char **values);

#endif
