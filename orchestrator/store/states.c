/*
 * states.c: every state as stored, in one table per kind (Redis's
 * standardConfig shape): its text in the database and whether it is
 * final. Nothing else spells a state's text or lists the final ones.
 */
#include "internal.h"

#include <string.h>

typedef struct state_row {
    const char *text;
    bool final;
} state_row;

static const state_row step_states[] = {
    [KILN_STEP_PENDING] = {"pending", false},
    [KILN_STEP_READY] = {"pending", false},
    [KILN_STEP_RUNNING] = {"running", false},
    [KILN_STEP_RETRYING] = {"retrying", false},
    [KILN_STEP_SUCCEEDED] = {"succeeded", true},
    [KILN_STEP_FAILED] = {"failed", true},
    [KILN_STEP_SKIPPED] = {"skipped", true},
    [KILN_STEP_CANCELLED] = {"cancelled", true},
    [KILN_STEP_GATED] = {"gated", true},
    [KILN_STEP_TIMED_OUT] = {"timed_out", true},
};

static const state_row run_states[] = {
    [KILN_RUN_RUNNING] = {"running", false},
    [KILN_RUN_SUCCEEDED] = {"succeeded", true},
    [KILN_RUN_FAILED] = {"failed", true},
    [KILN_RUN_CANCELLED] = {"cancelled", true},
    [KILN_RUN_QUEUED] = {"queued", false},
};

static const state_row exec_states[] = {
    [KILN_EXEC_RUNNING] = {"running", false},
    [KILN_EXEC_SUCCEEDED] = {"succeeded", true},
    [KILN_EXEC_FAILED] = {"failed", true},
    [KILN_EXEC_CANCELLED] = {"cancelled", true},
    [KILN_EXEC_LOST] = {"lost", true},
    [KILN_EXEC_CACHED] = {"cached", true},
    [KILN_EXEC_TIMED_OUT] = {"timed_out", true},
};

static const char *const fire_statuses[] = {
    [KILN_FIRE_STARTED] = "started",
    [KILN_FIRE_SKIPPED] = "skipped",
    [KILN_FIRE_MISSED] = "missed",
    [KILN_FIRE_QUEUED] = "queued",
};

static const char *const check_statuses[] = {
    [KILN_CHECK_FIRED] = "fired",
    [KILN_CHECK_QUEUED] = "queued",
    [KILN_CHECK_QUIET] = "quiet",
    [KILN_CHECK_HELD] = "held",
    [KILN_CHECK_ERROR] = "error",
};

/* What a fire's status means for the trigger check that caused it. */
static const kiln_check_status check_of_fire[] = {
    [KILN_FIRE_STARTED] = KILN_CHECK_FIRED,
    [KILN_FIRE_SKIPPED] = KILN_CHECK_HELD,
    [KILN_FIRE_MISSED] = KILN_CHECK_ERROR,
    [KILN_FIRE_QUEUED] = KILN_CHECK_QUEUED,
};

static int parse(int *out, const state_row *rows, size_t n, const char *text)
{
    for (size_t i = 0; text && i < n; i++) {
        if (rows[i].text && strcmp(rows[i].text, text) == 0) {
            *out = (int)i;
            return 0;
        }
    }
    return KILN_EINVAL;
}

const char *kiln_step_state_name(kiln_step_state s)
{
    return step_states[s].text;
}

const char *kiln_run_state_name(kiln_run_state s)
{
    return run_states[s].text;
}

const char *kiln_exec_state_name(kiln_exec_state s)
{
    return exec_states[s].text;
}

bool kiln_step_state_final(kiln_step_state s)
{
    return step_states[s].final;
}

bool kiln_run_state_final(kiln_run_state s)
{
    return run_states[s].final;
}

int kiln_step_state_parse(kiln_step_state *out, const char *text)
{
    int v = 0, rc = parse(&v, step_states, KILN_ARRAY_SIZE(step_states),
                          text);
    *out = (kiln_step_state)v;
    return rc;
}

int kiln_run_state_parse(kiln_run_state *out, const char *text)
{
    int v = 0, rc = parse(&v, run_states, KILN_ARRAY_SIZE(run_states), text);
    *out = (kiln_run_state)v;
    return rc;
}

int kiln_exec_state_parse(kiln_exec_state *out, const char *text)
{
    int v = 0, rc = parse(&v, exec_states, KILN_ARRAY_SIZE(exec_states),
                          text);
    *out = (kiln_exec_state)v;
    return rc;
}

const char *kiln_fire_status_name(kiln_fire_status s)
{
    return fire_statuses[s];
}

const char *kiln_check_status_name(kiln_check_status s)
{
    return check_statuses[s];
}

kiln_check_status kiln_check_status_of_fire(kiln_fire_status s)
{
    return check_of_fire[s];
}
