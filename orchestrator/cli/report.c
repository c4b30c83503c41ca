/*
 * report.c: JUnit XML and Markdown from a run's records.
 *
 * Both read the run as kiln_store_run_json() gives it, with its metrics,
 * so a report says exactly what the database says.
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

static const char *str(json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v ? v : "";
}

static double seconds(json_t *o)
{
    json_t *a = json_object_get(o, "started_at");
    json_t *b = json_object_get(o, "finished_at");
    if (!json_is_integer(a) || !json_is_integer(b))
        return 0;
    return (double)(json_integer_value(b) - json_integer_value(a)) / 1000.0;
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

/* The last LOG_TAIL bytes of a step's last attempt's log. */
static void log_tail(kiln_buf *b, kiln_store *st, int64_t run_id,
                     const char *step)
{
    kiln_err err = KILN_ERR_INIT;
    char *path = NULL, buf[LOG_TAIL];
    struct stat sb;
    ssize_t got;
    int fd;

    if (kiln_store_log_path(st, &path, run_id, step, 0, &err) != 0 ||
        !path || !*path || (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        free(path);
        return;
    }
    free(path);
    if (fstat(fd, &sb) == 0 && sb.st_size > LOG_TAIL) {
        kiln_buf_puts(b, "[...]\n");
        got = pread(fd, buf, LOG_TAIL, sb.st_size - LOG_TAIL);
    } else {
        got = read(fd, buf, sizeof(buf));
    }
    close(fd);
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

static int load(kiln_store *st, int64_t run_id, json_t **run,
                json_t **metrics, kiln_err *err)
{
    int rc;
    *metrics = NULL;
    if ((rc = kiln_store_run_json(st, run, run_id, err)) != 0)
        return rc;
    if ((rc = kiln_store_metrics_json(st, metrics, NULL, NULL, 0, run_id,
                                      run_id, err)) != 0) {
        json_decref(*run);
        *run = NULL;
    }
    return rc;
}

int kiln_report_junit(kiln_store *st, int64_t run_id, const char *path,
                      kiln_err *err)
{
    json_t *run, *metrics, *step, *m;
    kiln_buf b = KILN_BUF_INIT;
    size_t i, failures = 0, skipped = 0, n;
    const char *pipeline;
    char when[40], id[32];
    int rc;

    if ((rc = load(st, run_id, &run, &metrics, err)) != 0)
        return rc;
    pipeline = str(run, "pipeline");
    n = json_array_size(json_object_get(run, "steps"));
    json_array_foreach(json_object_get(run, "steps"), i, step) {
        const char *s = str(step, "status");
        failures += strcmp(s, "failed") == 0 || strcmp(s, "cancelled") == 0;
        skipped += strcmp(s, "skipped") == 0 || strcmp(s, "gated") == 0 ||
                   strcmp(s, "pending") == 0;
    }
    json_array_foreach(json_object_get(run, "steps"), i, step) {
        json_t *ex = json_array_get(json_object_get(step, "attempts_detail"),
                                    json_array_size(json_object_get(
                                        step, "attempts_detail")) - 1);
        skipped += strcmp(str(step, "status"), "succeeded") == 0 && ex &&
                   strcmp(str(ex, "status"), "cached") == 0;
    }
    kiln_fmt_time(when, sizeof(when), json_integer_value(json_object_get(
                                          run, "created_at")));
    snprintf(id, sizeof(id), "%lld", (long long)run_id);
    kiln_buf_puts(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    kiln_buf_printf(&b, "<testsuites name=\"kiln\" tests=\"%zu\" "
                    "failures=\"%zu\" errors=\"0\" skipped=\"%zu\" "
                    "time=\"%.3f\">\n", n, failures, skipped, seconds(run));
    kiln_buf_puts(&b, "  <testsuite");
    xml_attr(&b, "name", pipeline);
    kiln_buf_printf(&b, " tests=\"%zu\" failures=\"%zu\" errors=\"0\" "
                    "skipped=\"%zu\" time=\"%.3f\"", n, failures, skipped,
                    seconds(run));
    xml_attr(&b, "timestamp", when);
    kiln_buf_puts(&b, ">\n    <properties>\n");
    {
        const char *props[][2] = {
            {"kiln.run_id", id},
            {"kiln.status", str(run, "status")},
            {"kiln.trigger", str(run, "trigger")},
            {"kiln.commit", str(run, "git_commit")},
            {"kiln.branch", str(run, "git_branch")},
        };
        for (size_t k = 0; k < KILN_ARRAY_SIZE(props); k++) {
            if (!*props[k][1])
                continue;
            kiln_buf_puts(&b, "      <property");
            xml_attr(&b, "name", props[k][0]);
            xml_attr(&b, "value", props[k][1]);
            kiln_buf_puts(&b, "/>\n");
        }
        json_array_foreach(metrics, i, m) {
            char name[300], value[64];
            snprintf(name, sizeof(name), "metric.%s.%s", str(m, "step"),
                     str(m, "key"));
            snprintf(value, sizeof(value), "%.17g",
                     json_number_value(json_object_get(m, "value")));
            kiln_buf_puts(&b, "      <property");
            xml_attr(&b, "name", name);
            xml_attr(&b, "value", value);
            kiln_buf_puts(&b, "/>\n");
        }
    }
    kiln_buf_puts(&b, "    </properties>\n");
    json_array_foreach(json_object_get(run, "steps"), i, step) {
        const char *s = str(step, "status"), *why = str(step, "reason");
        json_t *attempts = json_object_get(step, "attempts_detail");
        json_t *last = json_array_get(attempts, json_array_size(attempts) -
                                                    1);
        bool cached = last && strcmp(str(last, "status"), "cached") == 0;
        kiln_buf_puts(&b, "    <testcase");
        xml_attr(&b, "name", str(step, "name"));
        xml_attr(&b, "classname", pipeline);
        kiln_buf_printf(&b, " time=\"%.3f\"", seconds(step));
        if (strcmp(s, "succeeded") == 0 && !cached) {
            kiln_buf_puts(&b, "/>\n");
            continue;
        }
        kiln_buf_puts(&b, ">\n");
        if (strcmp(s, "failed") == 0 || strcmp(s, "cancelled") == 0) {
            kiln_buf_puts(&b, "      <failure");
            xml_attr(&b, "type", s);
            xml_attr(&b, "message", *why ? why : s);
            kiln_buf_puts(&b, ">");
            log_tail(&b, st, run_id, str(step, "name"));
            kiln_buf_puts(&b, "</failure>\n");
        } else {
            char msg[600];
            if (cached)
                snprintf(msg, sizeof(msg), "cached: %s", *why ? why
                         : "outputs reused");
            else
                snprintf(msg, sizeof(msg), "%s%s%s", s, *why ? ": " : "",
                         why);
            kiln_buf_puts(&b, "      <skipped");
            xml_attr(&b, "message", msg);
            kiln_buf_puts(&b, "/>\n");
        }
        kiln_buf_puts(&b, "    </testcase>\n");
    }
    kiln_buf_puts(&b, "  </testsuite>\n</testsuites>\n");
    rc = write_file(path, &b, false, err);
    kiln_buf_dispose(&b);
    json_decref(run);
    json_decref(metrics);
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
    json_t *run, *metrics, *step, *m;
    kiln_buf b = KILN_BUF_INIT;
    const char *status;
    size_t i;
    int rc;

    if ((rc = load(st, run_id, &run, &metrics, err)) != 0)
        return rc;
    status = str(run, "status");
    kiln_buf_printf(&b, "### kiln: %s run %lld %s\n\n", str(run, "pipeline"),
                    (long long)run_id, status);
    if (*str(run, "git_commit"))
        kiln_buf_printf(&b, "Commit `%.12s`%s%s%s. ", str(run, "git_commit"),
                        *str(run, "git_branch") ? " on `" : "",
                        str(run, "git_branch"),
                        *str(run, "git_branch") ? "`" : "");
    kiln_buf_printf(&b, "Took %.1f s.", seconds(run));
    if (*str(run, "reason") && strcmp(status, "succeeded") != 0) {
        kiln_buf_puts(&b, " ");
        md_cell(&b, str(run, "reason"));
    }
    kiln_buf_puts(&b, "\n\n| Step | Status | Duration | Note |\n"
                      "|---|---|---|---|\n");
    json_array_foreach(json_object_get(run, "steps"), i, step) {
        const char *s = str(step, "status"), *icon = "";
        for (size_t k = 0; k < KILN_ARRAY_SIZE(icons); k++)
            if (strcmp(icons[k][0], s) == 0)
                icon = icons[k][1];
        kiln_buf_puts(&b, "| ");
        md_cell(&b, str(step, "name"));
        kiln_buf_printf(&b, " | %s %s | %.1f s | ", icon, s, seconds(step));
        md_cell(&b, str(step, "reason"));
        kiln_buf_puts(&b, " |\n");
    }
    if (json_array_size(metrics)) {
        kiln_buf_puts(&b, "\n| Metric | Value |\n|---|---|\n");
        json_array_foreach(metrics, i, m) {
            kiln_buf_puts(&b, "| ");
            md_cell(&b, str(m, "step"));
            kiln_buf_puts(&b, ".");
            md_cell(&b, str(m, "key"));
            kiln_buf_printf(&b, " | %.6g |\n", json_number_value(
                                                  json_object_get(m,
                                                                  "value")));
        }
    }
    kiln_buf_puts(&b, "\n");
    rc = write_file(path, &b, true, err);
    kiln_buf_dispose(&b);
    json_decref(run);
    json_decref(metrics);
    return rc;
}
