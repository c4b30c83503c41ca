/* cmd-why.c: kiln why RUN STEP [--json]
 *
 * What went into the step's cache key in that run (the document its
 * execution recorded: command, inputs with their hashes, the params it
 * uses, env, model versions, environment captures) and, for a step that
 * ran instead of being served from the cache, which of those differed
 * from the closest earlier execution of the same step, old and new; for
 * a step reused from an earlier run (kiln retry, or one kiln run --only,
 * --from or --until needed without picking it), which run, and what in
 * its key differs from that execution's; for a step whose outputs kiln
 * would not keep in the cache (an input it cannot hash, an output that is
 * a symlink), why. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "engine/cache.h"
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
 * it) to the execution that ran (*maker); 0 when that is more than 1000
 * runs away or cannot be read. */
static int64_t maker_run(kiln_store *store, const char *step,
                         const kiln_attempt_info *a, int64_t *maker)
{
    int64_t run_id = a->cached_from_run, exec_id = a->cached_from;
    *maker = 0;
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
        if (next <= 0) {
            *maker = exec_id;
            return run_id;
        }
        exec_id = next;
        run_id = next_run;
    }
}

/* What follows "not cached: " in an execution's reason (why it kept no
 * cache entry, kiln_cache_refusal()), or NULL. */
static const char *refusal_of(const char *reason)
{
    size_t len = strlen(KILN_CACHE_REFUSED);
    if (!reason || strncmp(reason, KILN_CACHE_REFUSED, len) != 0)
        return NULL;
    return reason + len;
}

/* Was a reused: not run, not served from the cache, but an earlier
 * run's execution taken as it was (record_unrun's executor)? */
static bool reused(const kiln_attempt_info *a)
{
    return a->cached_from > 0 && a->executor &&
           strcmp(a->executor, "reuse") == 0;
}

/* The differences from old (a JSON text) to doc, one a line, into b, and
 * into changes as strings; how many (0 without both). */
static size_t changes_of(kiln_buf *b, json_t *changes, const char *old,
                         const json_t *doc)
{
    json_t *o = old && doc ? json_loads(old, 0, NULL) : NULL;
    size_t n = o ? kiln_key_diff(b, o, doc) : 0;
    kiln_buf copy = KILN_BUF_INIT;
    kiln_buf_puts(&copy, kiln_buf_cstr(b));
    for (char *line = strtok(copy.ptr ? copy.ptr : (char *)"", "\n"); line;
         line = strtok(NULL, "\n"))
        json_array_append_new(changes, json_string(line + 2));
    kiln_buf_dispose(&copy);
    json_decref(o);
    return n;
}

/* Step a's execution a was reused from an earlier run: say which, what
 * made the outputs, and what in its key (when it recorded one: the cache
 * was tried first) differs from that of the execution that made them. */
static int why_reused(const why_opts *o, kiln_store *store,
                      const kiln_run_info *run, const kiln_attempt_info *a)
{
    kiln_err err = KILN_ERR_INIT;
    char *text = NULL, *from_text = NULL;
    json_t *doc = NULL, *changes = json_array(), *out;
    kiln_buf b = KILN_BUF_INIT;
    int64_t maker, made_by = maker_run(store, o->step, a, &maker);
    size_t n = 0;

    if (kiln_store_key_doc_get(store, &text, a->id, &err) != 0 ||
        (made_by && kiln_store_key_doc_get(store, &from_text, maker,
                                           &err) != 0)) {
        free(text);
        json_decref(changes);
        return kiln_cli_fail(&err);
    }
    doc = text ? json_loads(text, 0, NULL) : NULL;
    n = changes_of(&b, changes, from_text, doc);
    if (o->json) {
        out = json_pack("{s:I, s:s, s:I, s:s, s:o, s:n, s:I, s:o, s:o, s:o, "
                        "s:n}",
                        "run", (json_int_t)run->id, "step", o->step,
                        "execution", (json_int_t)a->id, "outcome", "reused",
                        "key", doc ? json_incref(doc) : json_null(),
                        "cached_from_run",
                        "reused_from_run", (json_int_t)a->cached_from_run,
                        "made_by_run", made_by
                            ? json_integer(made_by) : json_null(),
                        "compared_with_run", doc && from_text
                            ? json_integer(made_by) : json_null(),
                        "changes", changes, "not_cached");
        kiln_cli_print_json(out);
        json_decref(out);
    } else {
        kiln_buf desc = KILN_BUF_INIT;
        printf("step %s of run %lld (%s)\n", o->step, (long long)run->id,
               run->pipeline);
        if (doc) {
            printf("what went into its cache key:\n");
            kiln_key_describe(&desc, doc);
            fputs(kiln_buf_cstr(&desc), stdout);
            printf("\n");
        }
        printf("reused from run %lld: it did not run, nor was it served "
               "from the cache: this run took the outputs run %lld "
               "recorded, as they were on disk (%s)",
               (long long)a->cached_from_run, (long long)a->cached_from_run,
               run->trigger && strcmp(run->trigger, "retry") == 0
                   ? "a retry reruns only what did not succeed"
                   : "--only, --from or --until did not pick it, and a "
                     "step picked needs it");
        if (made_by && made_by != a->cached_from_run)
            printf("; run %lld made them", (long long)made_by);
        printf("\n");
        if (n)
            printf("its key differs from that of run %lld, which made them, "
                   "so the cache did not serve it:\n%s", (long long)made_by,
                   kiln_buf_cstr(&b));
        kiln_buf_dispose(&desc);
        json_decref(changes);
    }
    kiln_buf_dispose(&b);
    json_decref(doc);
    free(text);
    free(from_text);
    return KILN_EXIT_OK;
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
    int64_t made_by = 0, maker;
    const char *refused, *then_refused = NULL;
    size_t n_diff;

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
    /* Reused, with a key (the cache was tried first) or without. */
    if (step->n_attempts &&
        reused(&step->attempt[step->n_attempts - 1])) {
        status = why_reused(o, store, run,
                            &step->attempt[step->n_attempts - 1]);
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
    refused = refusal_of(a->reason);
    if (cached)
        made_by = maker_run(store, o->step, a, &maker);
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
        if (best >= 0) {
            old = json_loads(rows[best].doc, 0, NULL);
            then_refused = refusal_of(rows[best].reason);
        }
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
        out = json_pack("{s:I, s:s, s:I, s:s, s:O, s:o, s:n, s:o, s:o, "
                        "s:o, s:o}",
                        "run", (json_int_t)run->id, "step", o->step,
                        "execution", (json_int_t)a->id, "outcome",
                        cached ? "cached" : "ran", "key", doc,
                        "cached_from_run", cached
                            ? json_integer(a->cached_from_run) : json_null(),
                        "reused_from_run",
                        "made_by_run", made_by
                            ? json_integer(made_by) : json_null(),
                        "compared_with_run", best >= 0
                            ? json_integer(rows[best].run_id) : json_null(),
                        "changes", changes,
                        "not_cached", refused ? json_string(refused)
                                              : json_null());
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
    n_diff = old ? kiln_key_diff(&b, old, doc) : 0;
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
    } else if (refused && strncmp(refused, "input ", 6) == 0) {
        /* Known before it ran: its key cannot tell what it read. */
        printf("\nit ran: not cached: %s (a step with an input kiln cannot "
               "hash is neither served from the cache nor kept in it)\n",
               refused);
        refused = NULL;
    } else if (!old) {
        printf("\nit ran: no earlier execution of %s in pipeline %s "
               "succeeded to compare with\n", o->step, run->pipeline);
    } else if (n_diff == 0 && then_refused) {
        printf("\nit ran with the same key as run %lld, which kept no "
               "cache entry: %s\n", (long long)rows[best].run_id,
               then_refused);
    } else if (n_diff == 0) {
        printf("\nit ran with the same key as run %lld: its cache was not "
               "used (cache: false, kind: deploy, kiln run --no-cache, or the "
               "cached outputs were missing from the store)\n",
               (long long)rows[best].run_id);
    } else {
        printf("\nit ran because, against run %lld (the closest earlier "
               "execution):\n%s", (long long)rows[best].run_id,
               kiln_buf_cstr(&b));
    }
    if (refused)
        printf("its outputs were not kept in the cache: %s\n", refused);

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
            "the closest earlier execution of the step;\nwhen it was "
            "reused from an earlier run (kiln retry, --only/--from/--until),"
            "\nwhich; when its outputs were not kept in the cache (an input "
            "kiln cannot\nhash, an output that is a symlink), why.\n",
    .opts = options,
    .opts_size = sizeof(why_opts),
    .exec = exec_why,
};
