/*
 * progress.h: what `kiln run` shows while a run goes on.
 *
 * In a terminal, a block of lines (one per step: state, attempt, elapsed)
 * redrawn in place a few times a second; otherwise one plain line per state
 * change, fit for CI logs.
 */
#ifndef KILN_PROGRESS_H
#define KILN_PROGRESS_H

#include <stdio.h>
#include <uv.h>

#include "engine/engine.h"

typedef struct kiln_progress kiln_progress;

/* Show progress of run's steps on out; tty selects the live display. */
kiln_progress *kiln_progress_new(uv_loop_t *loop, FILE *out, bool tty);
/* Feed it the engine's events (a kiln_run_event_cb's arguments). */
void kiln_progress_event(kiln_progress *pr, kiln_run *run, ssize_t step);
/* Draw the final state and release it (asynchronously: its timer closes
 * on the loop). */
void kiln_progress_close(kiln_progress *pr, kiln_run *run);

#endif
