/*
 * command.h: a step's `run:` text into the argv an executor starts.
 *
 * Every command means what /bin/sh -c would make of it. Like make, kiln
 * skips the shell for a command that is plain words with nothing the shell
 * would interpret (no quotes, variables, globs, redirections, operators,
 * and no builtin or keyword in front), and executes it directly: that
 * saves a process start on every step.
 */
#ifndef KILN_COMMAND_H
#define KILN_COMMAND_H

#include "base/base.h"

/* A NULL-terminated argv in one allocation: free() it. */
char **kiln_command_argv(const char *cmd);

/*
 * The argv of a step with checks: `KILN validate-step FILE STEP`, where
 * KILN is the kiln binary's path and FILE the pipeline file. With a run:
 * command too, the shell runs it first and the checks only once it
 * succeeded. Every string travels as an argument of its own, never
 * spliced into shell text, so none needs quoting. One allocation: free()
 * it.
 */
char **kiln_command_validate_argv(const char *kiln, const char *run,
                                  const char *file, const char *step);

#endif
