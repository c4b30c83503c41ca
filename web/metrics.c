/*
 * metrics.c: metrics of two kinds. /api/v1/metrics/{pipeline}: what the
 * steps of a pipeline's runs recorded (a key's series across runs, for
 * the page's trend charts). /metrics: kiln's own, in Prometheus's text
 * format: runs by pipeline and status, step durations and trigger checks
 * from the store, and the daemon's gauges (queue depth, active runs,
 * scheduler lag).
 */
#include "internal.h"

/* GET /api/v1/metrics/{pipeline}?key=&runs= : a series across runs. */
void kiln_web__get_metric_series(kiln_web_route_ctx *c)
{
    const char *key = kiln_web__query(c->t, "key");
    int64_t runs = 100;
    kiln_err err = KILN_ERR_INIT;
    json_t *rows;
    if (!kiln_web__query_int(c, "runs", 1, 10000, &runs))
        return;
    if (kiln_store_metrics_json(c->w->o.store, &rows, c->seg[1], key,
                                (int)runs, 0, 0, &err) != 0) {
        kiln_web__fail(c, &err);
        return;
    }
    kiln_web__reply(c, 200, json_pack("{s:s, s:s?, s:o}", "pipeline",
                                      c->seg[1], "key", key, "series",
                                      rows));
}

/* A label's value, with backslash, double quote and newline escaped. */
static void prom_escape(kiln_buf *b, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '\\' || *s == '"')
            kiln_buf_printf(b, "\\%c", *s);
        else if (*s == '\n')
            kiln_buf_puts(b, "\\n");
        else
            kiln_buf_add(b, s, 1);
    }
}

/* GET /metrics: Prometheus text format. */
void kiln_web__get_prometheus(kiln_web_route_ctx *c)
{
    kiln_web *w = c->w;
    kiln_err err = KILN_ERR_INIT;
    json_t *st, *row, *g;
    kiln_buf b = KILN_BUF_INIT;
    const char *key;
    size_t i;

    if (kiln_store_stats_json(w->o.store, &st, &err) != 0) {
        kiln_web__fail(c, &err);
        return;
    }
    kiln_buf_puts(&b, "# HELP kiln_runs Runs recorded, by pipeline and "
                      "status.\n# TYPE kiln_runs gauge\n");
    json_array_foreach(json_object_get(st, "runs"), i, row) {
        kiln_buf_puts(&b, "kiln_runs{pipeline=\"");
        prom_escape(&b, json_string_value(json_object_get(row, "pipeline")));
        kiln_buf_puts(&b, "\",status=\"");
        prom_escape(&b, json_string_value(json_object_get(row, "status")));
        kiln_buf_printf(&b, "\"} %lld\n", (long long)json_integer_value(
                                              json_object_get(row, "n")));
    }
    kiln_buf_puts(&b, "# HELP kiln_step_seconds Durations of finished step "
                      "attempts (the last 10,000).\n# TYPE "
                      "kiln_step_seconds summary\n");
    json_array_foreach(json_object_get(st, "steps"), i, row) {
        const char *lbl[2] = {"_sum", "_count"};
        for (int k = 0; k < 2; k++) {
            kiln_buf_printf(&b, "kiln_step_seconds%s{pipeline=\"", lbl[k]);
            prom_escape(&b, json_string_value(json_object_get(row,
                                                              "pipeline")));
            kiln_buf_puts(&b, "\",step=\"");
            prom_escape(&b, json_string_value(json_object_get(row, "step")));
            if (k == 0)
                kiln_buf_printf(&b, "\"} %.3f\n", json_number_value(
                                    json_object_get(row, "seconds")));
            else
                kiln_buf_printf(&b, "\"} %lld\n",
                                (long long)json_integer_value(
                                    json_object_get(row, "n")));
        }
    }
    kiln_buf_puts(&b, "# HELP kiln_trigger_checks Trigger checks, by "
                      "pipeline, trigger and outcome.\n# TYPE "
                      "kiln_trigger_checks counter\n");
    json_array_foreach(json_object_get(st, "checks"), i, row) {
        kiln_buf_puts(&b, "kiln_trigger_checks_total{pipeline=\"");
        prom_escape(&b, json_string_value(json_object_get(row, "pipeline")));
        kiln_buf_puts(&b, "\",trigger=\"");
        prom_escape(&b, json_string_value(json_object_get(row, "trigger")));
        kiln_buf_puts(&b, "\",status=\"");
        prom_escape(&b, json_string_value(json_object_get(row, "status")));
        kiln_buf_printf(&b, "\"} %lld\n", (long long)json_integer_value(
                                              json_object_get(row, "n")));
    }
    json_decref(st);
    g = w->o.hooks.gauges(w->o.hooks.data);
    json_object_foreach(g, key, row) {
        kiln_buf_printf(&b, "# TYPE kiln_%s gauge\nkiln_%s %g\n", key, key,
                        json_number_value(row));
    }
    json_decref(g);
    kiln_web__text(c->req, 200, "text/plain; version=0.0.4",
                   kiln_buf_cstr(&b), b.len);
    kiln_buf_dispose(&b);
}
