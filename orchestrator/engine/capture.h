/*
 * capture.h: environment captures (a step's environment:): the text of a
 * lock file, or what a command prints about the software a step runs
 * with ("python3 -m pip freeze"). kiln stores each text once by its hash,
 * puts the hash in the step's cache key, and shows the texts (kiln show
 * --env) and their differences (kiln reproduce). These calls block: the
 * engine makes them on the thread pool.
 */
#ifndef KILN_CAPTURE_H
#define KILN_CAPTURE_H

#include "dsl/dsl.h"

/* Captured texts are cut at this size (a note says so). */
#define KILN_CAPTURE_MAX (1 << 20)

/* Append the file's text to out; KILN_ERROR when it cannot be read. */
int kiln_capture_file(kiln_buf *out, const char *path);
/* Run command through /bin/sh -c in workdir with environment envv,
 * stdin from /dev/null, for at most a minute, and append what it printed
 * (stdout and stderr) to out, then a line with its exit status when it
 * was not 0. */
void kiln_capture_command(kiln_buf *out, const char *command,
                          const char *workdir, char *const *envv);

/* Capture every entry of e, lock files then commands, in workdir with
 * envv: add(label, text, data) for each, label being "file PATH" or
 * "command CMD" (a missing file's text says so). */
void kiln_capture_environment(const kiln_environment *e, const char *workdir,
                              char *const *envv,
                              void (*add)(const char *label,
                                          const char *text, void *data),
                              void *data);

/* Run argv (found on PATH) in workdir (NULL: here) with envv, stdin from
 * /dev/null, for at most timeout_ms, appending what it printed to out.
 * Returns its exit status, or -1 (it could not start, was killed or ran
 * out of time; out says which). */
int kiln_capture_argv(kiln_buf *out, char *const *argv, const char *workdir,
                      char *const *envv, int64_t timeout_ms);

#endif
