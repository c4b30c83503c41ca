/* progress.c: live (terminal) and plain (log) progress of a run. */
#include "progress.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Terminals show at most this many step lines; the rest are counted. */
#define MAX_LINES 30

struct kiln_progress {
    uv_timer_t timer; /* repaints the live display */
    FILE *out;
    bool tty;
    kiln_run *run;    /* the run being shown, once known */
    int drawn;        /* lines drawn last time, to move back over */
    int width;        /* of the step name column: the longest name */
};

static const char *state_word(kiln_step_state s)
{
    switch (s) {
    case KILN_STEP_PENDING:
        return "waiting";
    case KILN_STEP_READY:
        return "queued";
    case KILN_STEP_TIMED_OUT:
        return "timed out";
    default:
        return kiln_step_state_name(s);
    }
}

/* The step name column fits the longest name (a sweep's items are long),
 * within reason. Once per run: a line must not cost O(steps). */
static void set_run(kiln_progress *pr, kiln_run *run)
{
    const kiln_pipeline *p = kiln_run_pipeline(run);
    size_t w = 24;

    if (pr->run == run)
        return;
    pr->run = run;
    for (size_t i = 0; i < p->n_steps; i++)
        if (strlen(p->steps[i].name) > w)
            w = strlen(p->steps[i].name);
    pr->width = (int)(w < 48 ? w : 48);
}

static void line_for(kiln_buf *b, kiln_progress *pr, size_t i)
{
    kiln_run *run = pr->run;
    const kiln_pipeline *p = kiln_run_pipeline(run);
    kiln_step_state st = kiln_run_step_state(run, i);
    int64_t start = kiln_run_step_started(run, i);
    int64_t end = kiln_run_step_finished(run, i);
    const char *reason = kiln_run_step_reason(run, i);
    char dur[32];

    kiln_buf_printf(b, "%-*s %-10s", pr->width, p->steps[i].name,
                    state_word(st));
    if (kiln_run_step_attempt(run, i) > 1)
        kiln_buf_printf(b, " attempt %d", kiln_run_step_attempt(run, i));
    if (start)
        kiln_buf_printf(b, " %s", kiln_fmt_duration(dur, sizeof(dur),
                        (end && st != KILN_STEP_RUNNING ? end
                                                         : kiln_now_ms()) -
                        start));
    if (*reason)
        kiln_buf_printf(b, "  %s", reason);
}

/* Redraw the whole block in place. */
static void repaint(kiln_progress *pr)
{
    kiln_run *run = pr->run;
    const kiln_pipeline *p;
    kiln_buf b = KILN_BUF_INIT;
    int lines = 0;
    size_t hidden = 0;

    if (!run)
        return;
    p = kiln_run_pipeline(run);
    if (pr->drawn)
        kiln_buf_printf(&b, "\033[%dA", pr->drawn);
    for (size_t k = 0; k < p->n_steps; k++) {
        size_t i = p->topo[k];
        kiln_step_state st = kiln_run_step_state(run, i);
        /* Big pipelines: show what moves, count the rest. */
        if (p->n_steps > MAX_LINES &&
            (st == KILN_STEP_PENDING || st == KILN_STEP_SUCCEEDED ||
             lines >= MAX_LINES - 1)) {
            hidden++;
            continue;
        }
        kiln_buf_puts(&b, "\033[2K");
        line_for(&b, pr, i);
        kiln_buf_puts(&b, "\n");
        lines++;
    }
    if (p->n_steps > MAX_LINES) {
        kiln_buf_printf(&b, "\033[2K... and %zu more steps\n", hidden);
        lines++;
    }
    /* Clear what a longer previous frame left below. */
    for (int i = lines; i < pr->drawn; i++)
        kiln_buf_puts(&b, "\033[2K\n");
    if (pr->drawn > lines)
        kiln_buf_printf(&b, "\033[%dA", pr->drawn - lines);
    fwrite(b.ptr, 1, b.len, pr->out);
    fflush(pr->out);
    pr->drawn = lines;
    kiln_buf_dispose(&b);
}

static void on_tick(uv_timer_t *t)
{
    repaint(t->data);
}

kiln_progress *kiln_progress_new(uv_loop_t *loop, FILE *out, bool tty)
{
    kiln_progress *pr = kiln_calloc(1, sizeof(*pr));
    pr->out = out;
    pr->tty = tty;
    uv_timer_init(loop, &pr->timer);
    pr->timer.data = pr;
    if (tty)
        uv_timer_start(&pr->timer, on_tick, 250, 250);
    return pr;
}

void kiln_progress_event(kiln_progress *pr, kiln_run *run, ssize_t step)
{
    char when[16];
    time_t now;
    struct tm tm;
    kiln_buf b = KILN_BUF_INIT;

    set_run(pr, run);
    if (pr->tty) {
        repaint(pr);
        return;
    }
    if (step < 0) {
        if (kiln_run_state_get(run) == KILN_RUN_RUNNING)
            fprintf(pr->out, "run %lld of %s started\n",
                    (long long)kiln_run_id(run),
                    kiln_run_pipeline(run)->name);
        return;
    }
    if (kiln_run_step_state(run, (size_t)step) == KILN_STEP_READY)
        return;
    now = time(NULL);
    localtime_r(&now, &tm);
    strftime(when, sizeof(when), "%H:%M:%S", &tm);
    kiln_buf_printf(&b, "%s ", when);
    line_for(&b, pr, (size_t)step);
    fprintf(pr->out, "%s\n", kiln_buf_cstr(&b));
    fflush(pr->out);
    kiln_buf_dispose(&b);
}

static void on_close(uv_handle_t *h)
{
    free(h->data);
}

void kiln_progress_close(kiln_progress *pr, kiln_run *run)
{
    if (pr->tty && run) {
        set_run(pr, run);
        repaint(pr);
    }
    uv_timer_stop(&pr->timer);
    uv_close((uv_handle_t *)&pr->timer, on_close);
}
