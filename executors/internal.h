/* internal.h: what executor implementations share with executor.c. */
#ifndef KILN_EXECUTORS_INTERNAL_H
#define KILN_EXECUTORS_INTERNAL_H

#include "executor.h"

/* Constructors, one per implementation; they fill only ops. */
kiln_executor *kiln_executor__local_new(uv_loop_t *loop);
kiln_executor *kiln_executor__slurm_new(uv_loop_t *loop);
/* 0 when Slurm's commands are found (KILN_SLURM_BIN or PATH). */
int kiln_executor__slurm_check(kiln_err *err);

/* How a Slurm job that ended in state (NULL: Slurm no longer knows it;
 * why: Slurm's reason) ended for kiln: the status file at status_path
 * says how the command ended, the state why Slurm ended it (TIMEOUT and
 * OUT_OF_MEMORY: killed; NODE_FAIL, PREEMPTED, BOOT_FAIL, DEADLINE: lost;
 * CANCELLED by someone else: killed). Fills t's outcome, exit code,
 * signal and reason. */
void kiln_executor__slurm_judge(kiln_task *t, const char *state,
                                const char *why, bool cancelling,
                                const char *status_path);

/* Fill the task's end from a status file as kiln-shim writes it ("exit N"
 * or "signal N"). Returns false when there is none, or nothing valid. */
bool kiln_executor__read_status(kiln_task *task, const char *path);

/* Report a task's end: every implementation ends each task through this,
 * exactly once. */
void kiln_executor__done(kiln_executor *ex, kiln_task *task);

#endif
