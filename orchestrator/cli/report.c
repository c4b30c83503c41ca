/*
 * report.c: JUnit XML and Markdown from a run's records.
 *
 * Both read the run's typed record (kiln_store_run_get()) and its
 * metrics, so a report says exactly what the database says.
 */
#include "report.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The end of a failed step's log that goes into its report. */
#define LOG_TAIL 4096

static const char *str(const char *s)
{
    return s ? s : "";
}

static double seconds(int64_t started_ms, int64_t finished_ms)
{
    if (!started_ms || !finished_ms)
        return 0;
    return (double)(finished_ms - started_ms) / 1000.0;
}

/* Text as XML character data: escaped, and without the control
 * characters XML 1.0 cannot hold. Invalid UTF-8 passes as is (junit
 * readers are lenient about it; kiln cannot know the log's encoding). */
static void xml_text(kiln_buf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '<':
            kiln_buf_puts(b, "&lt;");
            break;
        case '>':
            kiln_buf_puts(b, "&gt;");
            break;
        case '&':
            kiln_buf_puts(b, "&amp;");
            break;
        case '"':
            kiln_buf_puts(b, "&quot;");
            break;
        default:
            if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
                kiln_buf_puts(b, "?");
            else
                kiln_buf_add(b, &s[i], 1);
        }
    }
}

static void xml_attr(kiln_buf *b, const char *name, const char *value)
{
    kiln_buf_printf(b, " %s=\"", name);
    xml_text(b, value, strlen(value));
    kiln_buf_puts(b, "\"");
}

/* The last LOG_TAIL bytes of a step's last attempt's log (as written,
 * or gzip'd by retention). */
static void log_tail(kiln_buf *b, kiln_store *st, int64_t run_id,
                     const char *step)
{
    kiln_err err = KILN_ERR_INIT;
    char *path = NULL, buf[LOG_TAIL];
    kiln_log *log = NULL;
    int64_t size, from = 0;
    ssize_t got;

    if (kiln_store_log_path(st, &path, run_id, step, 0, &err) != 0 ||
        !path || !*path || kiln_log_open(&log, path, &err) != 0) {
        free(path);
        return;
    }
    free(path);
    size = kiln_log_size(log);
    if (size > LOG_TAIL) {
        kiln_buf_puts(b, "[...]\n");
        from = size - LOG_TAIL;
    }
    got = kiln_log_pread(log, buf, sizeof(buf), from);
    kiln_log_close(log);
    if (got > 0)
        xml_text(b, buf, (size_t)got);
}

static int write_file(const char *path, const kiln_buf *b, bool append,
                      kiln_err *err)
{
    char *tmp = append ? NULL : kiln_asprintf("%s.tmp", path);
    FILE *f = fopen(append ? path : tmp, append ? "a" : "w");
    int rc = 0;
    if (!f || fwrite(kiln_buf_cstr(b), 1, b->len, f) != b->len ||
        fclose(f) != 0) {
        if (f)
            fclose(f);
        rc = kiln_err_set_os(err, "cannot write %s", path);
    } else if (tmp && rename(tmp, path) != 0) {
        rc = kiln_err_set_os(err, "cannot write %s", path);
    }
    if (rc != 0 && tmp)
        unlink(tmp);
    free(tmp);
    return rc;
}

/* The run and its metrics. */
typedef struct report_data {
    kiln_run_info *run;
    kiln_metric *metrics;
    size_t n_metrics;
} report_data;

static int load(report_data *d, kiln_store *st, int64_t run_id,
                kiln_err *err)
{
    int rc;
    memset(d, 0, sizeof(*d));
    if ((rc = kiln_store_run_get(&d->run, st, run_id, err)) == 0 &&
        (rc = kiln_store_run_metrics(&d->metrics, &d->n_metrics, st, run_id,
                                     err)) != 0) {
        kiln_run_info_free(d->run);
        d->run = NULL;
    }
    return rc;
}

static void unload(report_data *d)
{
    kiln_run_info_free(d->run);
    kiln_metrics_free(d->metrics, d->n_metrics);
}

/* The step ended on an attempt that ran nothing (outputs restored). */
static bool cached(const kiln_step_info *step)
{
    const kiln_attempt_info *last = kiln_step_info_last(step);
    return last && last->state == KILN_EXEC_CACHED;
}

/* A skipped testcase's message: "gated: why", once even when the reason
 * starts with the word already ("gated: x was false", "cached from run
 * 1"). */
static void skip_message(char *buf, size_t size, const char *what,
                         const char *why)
{
    size_t n = strlen(what);
    if (strncmp(why, what, n) == 0 && (why[n] == '\0' || why[n] == ':' ||
                                       why[n] == ' '))
        snprintf(buf, size, "%s", why);
    else
        snprintf(buf, size, "%s%s%s", what, *why ? ": " : "", why);
}

int kiln_report_junit(kiln_store *st, int64_t run_id, const char *path,
                      kiln_err *err)
{
    kiln_buf b = KILN_BUF_INIT;
    size_t failures = 0, skipped = 0, n;
    const kiln_run_info *run;
    report_data d;
    const char *pipeline;
    char when[40], id[32];
    double took;
    int rc;

    if ((rc = load(&d, st, run_id, err)) != 0)
        return rc;
    run = d.run;
    pipeline = run->pipeline;
    n = run->n_steps;
    for (size_t i = 0; i < n; i++) {
        kiln_step_state s = run->steps[i].state;
        failures += s == KILN_STEP_FAILED || s == KILN_STEP_TIMED_OUT ||
                    s == KILN_STEP_CANCELLED;
        skipped += s == KILN_STEP_SKIPPED || s == KILN_STEP_GATED ||
                   s == KILN_STEP_PENDING || s == KILN_STEP_READY ||
                   (s == KILN_STEP_SUCCEEDED && cached(&run->steps[i]));
    }
    took = seconds(run->started_ms, run->finished_ms);
    kiln_fmt_time(when, sizeof(when), run->created_ms);
    snprintf(id, sizeof(id), "%lld", (long long)run_id);
    kiln_buf_puts(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    kiln_buf_printf(&b, "<testsuites name=\"kiln\" tests=\"%zu\" "
                    "failures=\"%zu\" errors=\"0\" skipped=\"%zu\" "
                    "time=\"%.3f\">\n", n, failures, skipped, took);
    kiln_buf_puts(&b, "  <testsuite");
    xml_attr(&b, "name", pipeline);
    kiln_buf_printf(&b, " tests=\"%zu\" failures=\"%zu\" errors=\"0\" "
                    "skipped=\"%zu\" time=\"%.3f\"", n, failures, skipped,
                    took);
    xml_attr(&b, "timestamp", when);
    kiln_buf_puts(&b, ">\n    <properties>\n");
    {
        const char *props[][2] = {
            {"kiln.run_id", id},
            {"kiln.status", kiln_run_state_name(run->state)},
            {"kiln.trigger", str(run->trigger)},
            {"kiln.commit", str(run->git_commit)},
            {"kiln.branch", str(run->git_branch)},
        };
        for (size_t k = 0; k < KILN_ARRAY_SIZE(props); k++) {
            if (!*props[k][1])
                continue;
            kiln_buf_puts(&b, "      <property");
            xml_attr(&b, "name", props[k][0]);
            xml_attr(&b, "value", props[k][1]);
            kiln_buf_puts(&b, "/>\n");
        }
        for (size_t i = 0; i < d.n_metrics; i++) {
            char name[300], value[64];
            snprintf(name, sizeof(name), "metric.%s.%s", d.metrics[i].step,
                     d.metrics[i].key);
            snprintf(value, sizeof(value), "%.17g", d.metrics[i].value);
            kiln_buf_puts(&b, "      <property");
            xml_attr(&b, "name", name);
            xml_attr(&b, "value", value);
            kiln_buf_puts(&b, "/>\n");
        }
    }
    kiln_buf_puts(&b, "    </properties>\n");
    for (size_t i = 0; i < n; i++) {
        const kiln_step_info *step = &run->steps[i];
        const char *s = kiln_step_state_name(step->state);
        const char *why = str(step->reason);
        bool hit = cached(step);
        kiln_buf_puts(&b, "    <testcase");
        xml_attr(&b, "name", step->name);
        xml_attr(&b, "classname", pipeline);
        kiln_buf_printf(&b, " time=\"%.3f\"",
                        seconds(step->started_ms, step->finished_ms));
        if (step->state == KILN_STEP_SUCCEEDED && !hit) {
            kiln_buf_puts(&b, "/>\n");
            continue;
        }
        kiln_buf_puts(&b, ">\n");
        if (step->state == KILN_STEP_FAILED ||
            step->state == KILN_STEP_TIMED_OUT ||
            step->state == KILN_STEP_CANCELLED) {
            kiln_buf_puts(&b, "      <failure");
            xml_attr(&b, "type", s);
            xml_attr(&b, "message", *why ? why : s);
            kiln_buf_puts(&b, ">");
            log_tail(&b, st, run_id, step->name);
            kiln_buf_puts(&b, "</failure>\n");
        } else {
            char msg[600];
            skip_message(msg, sizeof(msg), hit ? "cached" : s,
                         *why ? why : hit ? "outputs reused" : "");
            kiln_buf_puts(&b, "      <skipped");
            xml_attr(&b, "message", msg);
            kiln_buf_puts(&b, "/>\n");
        }
        kiln_buf_puts(&b, "    </testcase>\n");
    }
    kiln_buf_puts(&b, "  </testsuite>\n</testsuites>\n");
    rc = write_file(path, &b, false, err);
    kiln_buf_dispose(&b);
    unload(&d);
    return rc;
}

/* Markdown table cells: no pipes or newlines. */
static void md_cell(kiln_buf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            kiln_buf_puts(b, "\\|");
        else if (*s == '\n' || *s == '\r')
            kiln_buf_puts(b, " ");
        else
            kiln_buf_add(b, s, 1);
    }
}

int kiln_report_markdown(kiln_store *st, int64_t run_id, const char *path,
                         kiln_err *err)
{
    static const char *const icons[][2] = {
        {"succeeded", "✅"}, {"failed", "❌"}, {"cancelled", "⛔"},
        {"skipped", "⏭️"},   {"gated", "🚧"},  {"pending", "⏸️"},
    };
    kiln_buf b = KILN_BUF_INIT;
    const kiln_run_info *run;
    report_data d;
    int rc;

    if ((rc = load(&d, st, run_id, err)) != 0)
        return rc;
    run = d.run;
    kiln_buf_printf(&b, "### kiln: %s run %lld %s\n\n", run->pipeline,
                    (long long)run_id, kiln_run_state_name(run->state));
    if (run->git_commit)
        kiln_buf_printf(&b, "Commit `%.12s`%s%s%s. ", run->git_commit,
                        run->git_branch ? " on `" : "", str(run->git_branch),
                        run->git_branch ? "`" : "");
    kiln_buf_printf(&b, "Took %.1f s.",
                    seconds(run->started_ms, run->finished_ms));
    if (run->reason && *run->reason && run->state != KILN_RUN_SUCCEEDED) {
        kiln_buf_puts(&b, " ");
        md_cell(&b, run->reason);
    }
    kiln_buf_puts(&b, "\n\n| Step | Status | Duration | Note |\n"
                      "|---|---|---|---|\n");
    for (size_t i = 0; i < run->n_steps; i++) {
        const kiln_step_info *step = &run->steps[i];
        const char *s = kiln_step_state_name(step->state), *icon = "";
        for (size_t k = 0; k < KILN_ARRAY_SIZE(icons); k++)
            if (strcmp(icons[k][0], s) == 0)
                icon = icons[k][1];
        kiln_buf_puts(&b, "| ");
        md_cell(&b, step->name);
        kiln_buf_printf(&b, " | %s %s | %.1f s | ", icon, s,
                        seconds(step->started_ms, step->finished_ms));
        md_cell(&b, str(step->reason));
        kiln_buf_puts(&b, " |\n");
    }
    if (d.n_metrics) {
        kiln_buf_puts(&b, "\n| Metric | Value |\n|---|---|\n");
        for (size_t i = 0; i < d.n_metrics; i++) {
            kiln_buf_puts(&b, "| ");
            md_cell(&b, d.metrics[i].step);
            kiln_buf_puts(&b, ".");
            md_cell(&b, d.metrics[i].key);
            kiln_buf_printf(&b, " | %.6g |\n", d.metrics[i].value);
        }
    }
    kiln_buf_puts(&b, "\n");
    rc = write_file(path, &b, true, err);
    kiln_buf_dispose(&b);
    unload(&d);
    return rc;
}
