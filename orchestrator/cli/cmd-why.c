/* cmd-why.c: kiln why RUN STEP [--json]
 *
 * What went into the step's cache key in that run (the document its
 * execution recorded: command, inputs with their hashes, the params it
 * uses, env, model versions, environment captures) and, for a step that
 * ran instead of being served from the cache, which of those differed
 * from the closest earlier execution of the same step, old and new. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "engine/keys.h"

typedef struct why_opts {
    int64_t run;       /* RUN */
    const char *step;  /* STEP */
    const char *state; /* --state DIR */
    bool json;         /* --json */
} why_opts;

static const kiln_opt options[] = {
    KILN_CLI_ARG_RUN(why_opts, run),
    KILN_OPT_ARG(why_opts, step, "STEP", NULL),
    KILN_CLI_OPT_STATE(why_opts),
    KILN_CLI_OPT_JSON(why_opts),
    KILN_OPT_END,
};

/* The attempt whose key tells: the last one that recorded a key. */
static const kiln_attempt_info *keyed_attempt(kiln_store *store,
                                              const kiln_step_info *step,
                                              char **doc, kiln_err *err)
{
    *doc = NULL;
    for (size_t i = step->n_attempts; i-- > 0;) {
        if (kiln_store_key_doc_get(store, doc, step->attempt[i].id,
                                   err) != 0)
            return NULL;
        if (*doc)
            return &step->attempt[i];
    }
    return NULL;
}

/* The run whose execution made the outputs a cached attempt was served:
 * the entry it reused may itself have been served from the cache, so the
 * chain of cached_from is followed (within the same step: a key names
 * it) to the execution that ran; 0 when that is more than 1000 runs
 * away or cannot be read. */
static int64_t maker_run(kiln_store *store, const char *step,
                         const kiln_attempt_info *a)
{
    int64_t run_id = a->cached_from_run, exec_id = a->cached_from;
    for (int hops = 0;; hops++) {
        kiln_run_info *run = NULL;
        kiln_err err = KILN_ERR_INIT;
        const kiln_step_info *st;
        int64_t next = 0, next_run = 0;
        if (hops == 1000 ||
            kiln_store_run_get(&run, store, run_id, &err) != 0)
            return 0;
        if ((st = kiln_run_info_step(run, step)))
            for (size_t i = 0; i < st->n_attempts; i++)
                if (st->attempt[i].id == exec_id) {
                    next = st->attempt[i].cached_from;
                    next_run = st->attempt[i].cached_from_run;
                }
        kiln_run_info_free(run);
        if (next <= 0)
            return run_id;
        exec_id = next;
        run_id = next_run;
    }
}

static int exec_why(void *opts)
{
    const why_opts *o = opts;
    kiln_store *store = NULL;
    kiln_err err = KILN_ERR_INIT;
    kiln_run_info *run = NULL;
    const kiln_step_info *step;
    const kiln_attempt_info *a;
    kiln_key_doc_row *rows = NULL;
    size_t n_rows = 0;
    char *text = NULL;
    json_t *doc = NULL, *old = NULL, *out;
    kiln_buf b = KILN_BUF_INIT;
    ssize_t best = -1;
    int status = KILN_EXIT_OK;
    bool cached;
    int64_t made_by = 0;

    if (kiln_cli_open_store(&store, o->state, true, &err) != 0 ||
        kiln_store_run_get(&run, store, o->run, &err) != 0) {
        status = kiln_cli_fail(&err);
        goto done;
    }
    if (!(step = kiln_run_info_step(run, o->step))) {
        kiln_err_set(&err, KILN_ENOTFOUND, "run %lld has no step %s",
                     (long long)o->run, o->step);
        status = kiln_cli_fail(&err);
        goto done;
    }
    if (!(a = keyed_attempt(store, step, &text, &err))) {
        if (err.code) {
            status = kiln_cli_fail(&err);
        } else if (step->state == KILN_STEP_GATED ||
                   step->state == KILN_STEP_SKIPPED ||
                   step->state == KILN_STEP_CANCELLED ||
                   (step->state == KILN_STEP_FAILED ||
                    step->state == KILN_STEP_TIMED_OUT)) {
            kiln_err_set(&err, KILN_ENOTFOUND, "step %s of run %lld did not "
                         "run: %s: %s", o->step, (long long)o->run,
                         kiln_step_state_name(step->state),
                         step->reason ? step->reason : "no reason recorded");
            status = kiln_cli_fail(&err);
        } else {
            kiln_err_set(&err, KILN_ENOTFOUND, "step %s of run %lld "
                         "recorded no key (it did not start, or ran before "
                         "kiln recorded keys)", o->step, (long long)o->run);
            status = kiln_cli_fail(&err);
        }
        goto done;
    }
    doc = json_loads(text, 0, NULL);
    cached = a->cached_from > 0;
    if (cached)
        made_by = maker_run(store, o->step, a);
    if (!cached) {
        const char **docs;
        if (kiln_store_key_docs_before(&rows, &n_rows, store, run->pipeline,
                                       o->step, a->id, 50, &err) != 0) {
            status = kiln_cli_fail(&err);
            goto done;
        }
        docs = kiln_calloc(n_rows + 1, sizeof(char *));
        for (size_t i = 0; i < n_rows; i++)
            docs[i] = rows[i].doc;
        best = kiln_key_closest(doc, n_rows, docs);
        free(docs);
        if (best >= 0)
            old = json_loads(rows[best].doc, 0, NULL);
    }

    if (o->json) {
        json_t *changes = json_array();
        if (old) {
            kiln_buf d = KILN_BUF_INIT;
            kiln_key_diff(&d, old, doc);
            for (char *line = strtok(d.ptr ? d.ptr : (char *)"", "\n"); line;
                 line = strtok(NULL, "\n"))
                json_array_append_new(changes, json_string(line + 2));
            kiln_buf_dispose(&d);
        }
        out = json_pack("{s:I, s:s, s:I, s:s, s:O, s:o, s:o, s:o, s:o}",
                        "run", (json_int_t)run->id, "step", o->step,
                        "execution", (json_int_t)a->id, "outcome",
                        cached ? "cached" : "ran", "key", doc,
                        "cached_from_run", cached
                            ? json_integer(a->cached_from_run) : json_null(),
                        "made_by_run", made_by
                            ? json_integer(made_by) : json_null(),
                        "compared_with_run", best >= 0
                            ? json_integer(rows[best].run_id) : json_null(),
                        "changes", changes);
        kiln_cli_print_json(out);
        json_decref(out);
        goto done;
    }
    printf("step %s of run %lld (%s)\n", o->step, (long long)run->id,
           run->pipeline);
    printf("what went into its cache key:\n");
    kiln_key_describe(&b, doc);
    fputs(kiln_buf_cstr(&b), stdout);
    kiln_buf_clear(&b);
    if (cached) {
        if (made_by == 0)
            printf("\nserved from the cache: the entry of run %lld has the "
                   "same key", (long long)a->cached_from_run);
        else
            printf("\nserved from the cache: run %lld made its outputs with "
                   "the same key", (long long)made_by);
        if (made_by != 0 && made_by != a->cached_from_run)
            printf(" (reached through run %lld, itself served from the "
                   "cache)", (long long)a->cached_from_run);
        printf("\n");
    } else if (!old) {
        printf("\nit ran: no earlier execution of %s in pipeline %s "
               "succeeded to compare with\n", o->step, run->pipeline);
    } else if (kiln_key_diff(&b, old, doc) == 0) {
        printf("\nit ran with the same key as run %lld: its cache was not "
               "used (cache: false, kind: deploy, kiln run --no-cache, or the "
               "cached outputs were missing from the store)\n",
               (long long)rows[best].run_id);
    } else {
        printf("\nit ran because, against run %lld (the closest earlier "
               "execution):\n%s", (long long)rows[best].run_id,
               kiln_buf_cstr(&b));
    }

done:
    kiln_buf_dispose(&b);
    json_decref(doc);
    json_decref(old);
    kiln_key_doc_rows_free(rows, n_rows);
    free(text);
    kiln_run_info_free(run);
    kiln_store_close(store);
    return status;
}

const kiln_cmd kiln_cmd_why = {
    .name = "why",
    .summary = "Why a step of a run ran or was served from the cache.",
    .help = "Prints what went into the step's cache key (command, each "
            "input and its\nhash, the params it uses, env, model versions, "
            "environment captures) and,\nwhen it ran, what differed from "
            "the closest earlier execution of the step.\n",
    .opts = options,
    .opts_size = sizeof(why_opts),
    .exec = exec_why,
};
