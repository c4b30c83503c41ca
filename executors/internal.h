/* internal.h: what executor implementations share with executor.c. */
#ifndef KILN_EXECUTORS_INTERNAL_H
#define KILN_EXECUTORS_INTERNAL_H

#include "executor.h"

/* Constructors, one per implementation; they fill only ops. */
kiln_executor *kiln_executor__local_new(uv_loop_t *loop);
kiln_executor *kiln_executor__slurm_new(uv_loop_t *loop);
/* 0 when Slurm's commands are found (KILN_SLURM_BIN or PATH). */
int kiln_executor__slurm_check(kiln_err *err);

/* Fill the task's end from a status file as kiln-shim writes it ("exit N"
 * or "signal N"). Returns false when there is none, or nothing valid. */
bool kiln_executor__read_status(kiln_task *task, const char *path);

/* Report a task's end: every implementation ends each task through this,
 * exactly once. */
void kiln_executor__done(kiln_executor *ex, kiln_task *task);

#endif
