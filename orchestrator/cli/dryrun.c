/*
 * dryrun.c: kiln run FILE --dry-run: for each step, in the order a run
 * takes them, whether it would run or be served from the cache, and why
 * (the ingredients of its key that differ from the closest earlier
 * execution), or whether its gate (when:) says already it would not:
 * one that reads only params, or metrics of steps served from the cache,
 * is decided here; one that reads metrics of a step that runs is said to
 * be decided then. Nothing runs but the steps' environment capture
 * commands; nothing is written: the store is opened read-only, models
 * are resolved and not copied.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/dryrun.h"
#include "engine/cache.h"
#include "engine/keys.h"
#include "dsl/expr.h"

extern char **environ;

/* Would step i run (its own verdict, and upstream ones)? GATED: its
 * when: is false already (params, metrics of cached steps); SKIPPED: a
 * step it needs is gated. */
typedef enum verdict { WOULD_RUN = 0, CACHED, MAYBE, GATED, SKIPPED } verdict;

/* What a gate reads, when known before the run: params, and metrics of
 * steps served from the cache (as the run they come from recorded
 * them). */
typedef struct gate_ctx {
    const kiln_pipeline *p;
    kiln_store *store;
    const verdict *v;
    const int64_t *from;     /* a cached step's run */
    const kiln_step *st;
    size_t n_params;
    const kiln_kv *params;
    const char *unknown;     /* a step whose metrics a gate reads and that
                                runs first */
} gate_ctx;

static bool gate_lookup(double *out, const kiln_expr *ref, void *data)
{
    gate_ctx *g = data;
    kiln_err err = KILN_ERR_INIT;
    bool found = false;
    if (ref->kind == KILN_EXPR_METRIC) {
        ssize_t k = kiln_pipeline_find_step(g->p, ref->step);
        if (k < 0 || g->v[k] != CACHED || !g->store) {
            if (!g->unknown)
                g->unknown = ref->step;
            return false;
        }
        return kiln_store_metric_get(g->store, out, &found, g->from[k],
                                     ref->step, ref->key, &err) == 0 &&
               found;
    }
    return kiln_step_param_number(out, g->st, g->params, g->n_params,
                                  ref->key);
}

/* Step i's when:, decided now when it can be: 1 holds, 0 false (trace
 * says why), -1 not before the run (why in *why). */
static int gate_now(gate_ctx *g, const kiln_step *st, kiln_buf *trace,
                    char *why, size_t cap)
{
    kiln_err err = KILN_ERR_INIT;
    bool pass = true;
    g->st = st;
    g->unknown = NULL;
    if (kiln_expr_eval(&pass, st->when_expr, gate_lookup, g, trace,
                       &err) == 0)
        return pass ? 1 : 0;
    if (g->unknown)
        snprintf(why, cap, "it reads metrics of %.100s, which runs first",
                 g->unknown);
    else
        snprintf(why, cap, "%.200s", err.msg);
    return -1;
}

static void explain(kiln_store *store, const kiln_pipeline *p,
                    const kiln_step *st, const json_t *doc)
{
    kiln_key_doc_row *rows = NULL;
    size_t n = 0;
    kiln_err err = KILN_ERR_INIT;
    const char **docs;
    ssize_t best;
    if (!store || kiln_store_key_docs_before(&rows, &n, store, p->name,
                                             st->name, 0, 50, &err) != 0 ||
        n == 0) {
        printf("    no earlier execution of it to compare with\n");
        kiln_key_doc_rows_free(rows, n);
        return;
    }
    docs = kiln_calloc(n, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        docs[i] = rows[i].doc;
    best = kiln_key_closest(doc, n, docs);
    free(docs);
    if (best >= 0) {
        json_t *old = json_loads(rows[best].doc, 0, NULL);
        kiln_buf b = KILN_BUF_INIT;
        const char *refused = rows[best].reason;
        size_t len = strlen(KILN_CACHE_REFUSED);
        size_t n_diff = kiln_key_diff(&b, old, doc);
        /* The same key: that execution said why it kept no entry (an
         * output that is a symlink), or its entry went. */
        if (n_diff == 0 && refused &&
            strncmp(refused, KILN_CACHE_REFUSED, len) == 0)
            printf("    same key as run %lld, which kept no cache entry: "
                   "%s\n", (long long)rows[best].run_id, refused + len);
        else if (n_diff == 0)
            printf("    same key as run %lld, whose outputs are no longer "
                   "in the cache\n", (long long)rows[best].run_id);
        else {
            printf("    because, against run %lld:\n",
                   (long long)rows[best].run_id);
            for (char *line = strtok(b.ptr, "\n"); line;
                 line = strtok(NULL, "\n"))
                printf("    %s\n", line);
        }
        kiln_buf_dispose(&b);
        json_decref(old);
    }
    kiln_key_doc_rows_free(rows, n);
}

int kiln_cli_dry_run(const kiln_pipeline *p, const char *root,
                     kiln_store *store, size_t n_params,
                     const kiln_kv *params, bool cache)
{
    verdict *v = kiln_calloc(p->n_steps, sizeof(*v));
    int64_t *from = kiln_calloc(p->n_steps, sizeof(*from));
    size_t would = 0, cached = 0, gated = 0;
    gate_ctx g;

    memset(&g, 0, sizeof(g));
    g.p = p;
    g.store = store;
    g.v = v;
    g.from = from;
    g.n_params = n_params;
    g.params = params;

    printf("dry run of pipeline %s: nothing runs, nothing is recorded\n",
           p->name);
    for (size_t t = 0; t < p->n_steps; t++) {
        size_t i = p->topo[t];
        const kiln_step *st = &p->steps[i];
        char *workdir = kiln_path_join(root, st->workdir ? st->workdir
                                                         : ".");
        const char *up_runs = NULL, *off = NULL;
        char *refused = NULL;
        json_t *doc = NULL;
        char key[KILN_HASH_HEX];
        kiln_cache_entry hit;
        kiln_err err = KILN_ERR_INIT;

        const char *up_gated = NULL, *gate_note = NULL;
        char why[300];
        kiln_buf trace = KILN_BUF_INIT;

        memset(&hit, 0, sizeof(hit));
        for (size_t k = 0; k < st->needs.n; k++) {
            verdict u = v[st->need_idx[k]];
            if ((u == GATED || u == SKIPPED) && !up_gated)
                up_gated = p->steps[st->need_idx[k]].name;
            else if (u != CACHED && !up_runs)
                up_runs = p->steps[st->need_idx[k]].name;
        }
        if (up_gated) {
            printf("  %-22s would be skipped: %s is gated or skipped\n",
                   st->name, up_gated);
            v[i] = SKIPPED;
            gated++;
            free(workdir);
            continue;
        }
        if (st->when_expr) {
            int now = gate_now(&g, st, &trace, why, sizeof(why));
            if (now == 0) {
                printf("  %-22s would be gated: %s is false (%s)\n",
                       st->name, st->when, kiln_buf_cstr(&trace));
                v[i] = GATED;
                gated++;
                kiln_buf_dispose(&trace);
                free(workdir);
                continue;
            }
            gate_note = now < 0 ? why : NULL;
        }
        if (!cache)
            off = "kiln run --no-cache";
        else if (st->kind == KILN_KIND_DEPLOY && !st->cache)
            off = "kind: deploy is never served from the cache";
        else if (!st->cache)
            off = "cache: false";
        else if (!st->outputs.n && !st->validation)
            off = "it declares no outputs to restore";
        if (kiln_key_preview(&doc, key, &refused, store, p, st, workdir,
                             environ, n_params, params, &err) != 0) {
            /* A model it reads is not there: the step could not start
             * (unless a step before it, which runs, registers it). */
            if (up_runs)
                printf("  %-22s would fail unless %s (which runs first) "
                       "changes this: %s\n", st->name, up_runs, err.msg);
            else
                printf("  %-22s would fail: %s\n", st->name, err.msg);
            v[i] = WOULD_RUN;
        } else if (off) {
            printf("  %-22s would run: %s\n", st->name, off);
            v[i] = WOULD_RUN;
        } else if (refused) {
            printf("  %-22s would run: %s%s\n", st->name, KILN_CACHE_REFUSED,
                   refused);
            v[i] = WOULD_RUN;
        } else if (store &&
                   kiln_store_cache_lookup(store, &hit, key, &err) == 0 &&
                   kiln_cache_outputs_match(&st->outputs, workdir, hit.n,
                                            hit.rel)) {
            if (up_runs) {
                printf("  %-22s cached from run %lld if %s (which runs) "
                       "makes the same outputs again\n", st->name,
                       (long long)hit.run_id, up_runs);
                v[i] = MAYBE;
            } else {
                printf("  %-22s cached from run %lld\n", st->name,
                       (long long)hit.run_id);
                v[i] = CACHED;
            }
        } else {
            if (up_runs)
                printf("  %-22s would run (its inputs as they are now; %s "
                       "runs first and may change them)\n", st->name,
                       up_runs);
            else
                printf("  %-22s would run\n", st->name);
            explain(store, p, st, doc);
            v[i] = WOULD_RUN;
        }
        if (gate_note)
            printf("    if its gate holds: %s is decided when it runs "
                   "(%s)\n", st->when, gate_note);
        kiln_buf_dispose(&trace);
        if (v[i] == CACHED) {
            from[i] = hit.run_id;
            cached++;
        } else {
            would++;
        }
        kiln_cache_entry_dispose(&hit);
        json_decref(doc);
        free(refused);
        free(workdir);
    }
    printf("%zu step%s would run, %zu would be served from the cache",
           would, would == 1 ? "" : "s", cached);
    if (gated)
        printf(", %zu gated or skipped", gated);
    printf("\n");
    free(v);
    free(from);
    return KILN_EXIT_OK;
}
