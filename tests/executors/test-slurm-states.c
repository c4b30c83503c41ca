/*
 * test-slurm-states.c: how a Slurm job's end becomes a step's end, for
 * every state Slurm reports, with and without the exit status the batch
 * script writes. The end states a single-node test cluster cannot produce
 * (OUT_OF_MEMORY without cgroups, NODE_FAIL, PREEMPTED) are checked here.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "executors/internal.h"
#include "kiln_test.h"

static char dir[] = "/tmp/kiln-slurm-states.XXXXXX";
static char status[300];

/* Judge a job whose status file holds text (NULL: no file). */
static kiln_task judge(const char *state, const char *text, bool cancelling)
{
    kiln_task t;
    memset(&t, 0, sizeof(t));
    snprintf(t.external_id, sizeof(t.external_id), "42");
    unlink(status);
    if (text) {
        FILE *f = fopen(status, "w");
        ASSERT_NOT_NULL(f);
        fputs(text, f);
        fclose(f);
    }
    kiln_executor__slurm_judge(&t, state, "Reason", cancelling, status);
    return t;
}

static void test_normal_ends(void)
{
    kiln_task t = judge("COMPLETED", "exit 0\n", false);
    ASSERT_EQ_INT(t.outcome, KILN_TASK_EXITED);
    ASSERT_EQ_INT(t.exit_code, 0);
    t = judge("FAILED", "exit 3\n", false);
    ASSERT_EQ_INT(t.outcome, KILN_TASK_EXITED);
    ASSERT_EQ_INT(t.exit_code, 3);
    t = judge("FAILED", "signal 15\n", false);
    ASSERT_EQ_INT(t.outcome, KILN_TASK_SIGNALED);
    ASSERT_EQ_INT(t.term_signal, SIGTERM);
    /* Ended, but nothing written where kiln reads: say why it may be. */
    t = judge("FAILED", NULL, false);
    ASSERT_EQ_INT(t.outcome, KILN_TASK_LOST);
    ASSERT(strstr(t.reason, "a file system the nodes share") != NULL);
}

static void test_killed_by_slurm(void)
{
    kiln_task t = judge("TIMEOUT", NULL, false);
    ASSERT_EQ_INT(t.outcome, KILN_TASK_SIGNALED);
    ASSERT_EQ_INT(t.term_signal, SIGTERM);
    ASSERT_STREQ(t.reason, "Slurm job 42 reached its Slurm time limit "
                           "(TIMEOUT)");
    t = judge("OUT_OF_MEMORY", "signal 9\n", false);
    ASSERT_EQ_INT(t.outcome, KILN_TASK_SIGNALED);
    ASSERT_EQ_INT(t.term_signal, SIGKILL);
    ASSERT_STREQ(t.reason, "Slurm job 42 ran out of memory (OUT_OF_MEMORY)");
    /* The OOM killer's signal is what the status file says; with none,
     * SIGKILL is what it sends. */
    t = judge("OUT_OF_MEMORY", NULL, false);
    ASSERT_EQ_INT(t.term_signal, SIGKILL);
    t = judge("CANCELLED", NULL, false);
    ASSERT_EQ_INT(t.outcome, KILN_TASK_SIGNALED);
    ASSERT_STREQ(t.reason, "Slurm job 42 was cancelled outside kiln "
                           "(CANCELLED)");
}

static void test_lost(void)
{
    kiln_task t = judge("NODE_FAIL", NULL, false);
    ASSERT_EQ_INT(t.outcome, KILN_TASK_LOST);
    ASSERT_STREQ(t.reason, "Slurm job 42 ended because its node failed "
                           "(NODE_FAIL) and left no exit status");
    t = judge("PREEMPTED", NULL, false);
    ASSERT_EQ_INT(t.outcome, KILN_TASK_LOST);
    ASSERT(strstr(t.reason, "preempted and not requeued") != NULL);
    t = judge("BOOT_FAIL", NULL, false);
    ASSERT_EQ_INT(t.outcome, KILN_TASK_LOST);
    t = judge("DEADLINE", NULL, false);
    ASSERT_EQ_INT(t.outcome, KILN_TASK_LOST);
    /* Forgotten by Slurm (MinJobAge passed): the status file decides. */
    t = judge(NULL, "exit 0\n", false);
    ASSERT_EQ_INT(t.outcome, KILN_TASK_EXITED);
    ASSERT_EQ_INT(t.exit_code, 0);
    t = judge(NULL, NULL, false);
    ASSERT_EQ_INT(t.outcome, KILN_TASK_LOST);
    ASSERT(strstr(t.reason, "no longer known to Slurm") != NULL);
}

static void test_cancelled_by_kiln(void)
{
    kiln_task t = judge("CANCELLED", NULL, true);
    ASSERT_EQ_INT(t.outcome, KILN_TASK_CANCELED);
    ASSERT_EQ_INT(t.term_signal, SIGTERM);
    ASSERT_STREQ(t.reason, "Slurm job 42 cancelled");
    /* It had exited on its own meanwhile: no signal. */
    t = judge("COMPLETED", "exit 0\n", true);
    ASSERT_EQ_INT(t.outcome, KILN_TASK_CANCELED);
    ASSERT_EQ_INT(t.term_signal, 0);
}

int main(void)
{
    ASSERT_NOT_NULL(mkdtemp(dir));
    snprintf(status, sizeof(status), "%s/step.1.status", dir);
    RUN_TEST(test_normal_ends);
    RUN_TEST(test_killed_by_slurm);
    RUN_TEST(test_lost);
    RUN_TEST(test_cancelled_by_kiln);
    unlink(status);
    rmdir(dir);
    return 0;
}
