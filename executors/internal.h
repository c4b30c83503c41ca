/* internal.h: what executor implementations share with executor.c. */
#ifndef KILN_EXECUTORS_INTERNAL_H
#define KILN_EXECUTORS_INTERNAL_H

#include "executor.h"

/* Constructors, one per implementation; they fill only ops. */
kiln_executor *kiln_executor__local_new(uv_loop_t *loop);

/* Report a task's end: every implementation ends each task through this,
 * exactly once. */
void kiln_executor__done(kiln_executor *ex, kiln_task *task);

#endif
