/*
 * shim.h: what kiln-shim's two modes share (kiln-shim.c runs one command,
 * serve.c many). libc only.
 */
#ifndef KILN_SHIM_INTERNAL_H
#define KILN_SHIM_INTERNAL_H

#include <stddef.h>
#include <sys/types.h>

/* The shim's children, in a new array *out (free() it). Returns how
 * many, or -1 when they cannot be listed (no /proc). */
int shim_children(pid_t **out);

/* Write text to path atomically (beside it, then renamed). 0 or -1. */
int shim_write_status(const char *path, const char *text);

/* prog as execvp finds it, in path (execvp's default when NULL), into
 * file; -1 with errno when it is not found. */
int shim_find_program(char *file, size_t size, const char *prog,
                      const char *path);

/* exec /bin/sh FILE ARGS... for args[0], a program the kernel cannot
 * execute (ENOEXEC: a script without "#!"), FILE found in PATH as execvp
 * finds it. Returns only when it fails, with errno set. */
void shim_exec_sh(char **args);

/* kiln-shim --serve (kiln-shim.h): runs until kiln has gone and no
 * command of its own runs; returns the exit status. */
int shim_serve(void);

#endif
