/*
 * dryrun.c: kiln run FILE --dry-run: for each step, in the order a run
 * takes them, whether it would run or be served from the cache, and why
 * (the ingredients of its key that differ from the closest earlier
 * execution). Nothing runs but the step's environment capture commands;
 * nothing is written: the store is opened read-only, models are resolved
 * and not copied.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/dryrun.h"
#include "engine/cache.h"
#include "engine/keys.h"

extern char **environ;

/* Would step i run (its own verdict, and upstream ones)? */
typedef enum verdict { WOULD_RUN = 0, CACHED, MAYBE } verdict;

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
        if (kiln_key_diff(&b, old, doc) == 0)
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
    size_t would = 0, cached = 0;

    printf("dry run of pipeline %s: nothing runs, nothing is recorded\n",
           p->name);
    for (size_t t = 0; t < p->n_steps; t++) {
        size_t i = p->topo[t];
        const kiln_step *st = &p->steps[i];
        char *workdir = kiln_path_join(root, st->workdir ? st->workdir
                                                         : ".");
        const char *up_runs = NULL, *off = NULL;
        json_t *doc = NULL;
        char key[KILN_HASH_HEX];
        kiln_cache_entry hit;
        kiln_err err = KILN_ERR_INIT;

        memset(&hit, 0, sizeof(hit));
        for (size_t k = 0; k < st->needs.n; k++)
            if (v[st->need_idx[k]] != CACHED && !up_runs)
                up_runs = p->steps[st->need_idx[k]].name;
        if (!cache)
            off = "kiln run --no-cache";
        else if (st->kind == KILN_KIND_DEPLOY && !st->cache)
            off = "kind: deploy is never served from the cache";
        else if (!st->cache)
            off = "cache: false";
        else if (!st->outputs.n && !st->validation)
            off = "it declares no outputs to restore";
        if (kiln_key_preview(&doc, key, store, p, st, workdir, environ,
                             n_params, params, &err) != 0) {
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
        if (v[i] == CACHED)
            cached++;
        else
            would++;
        kiln_cache_entry_dispose(&hit);
        json_decref(doc);
        free(workdir);
    }
    printf("%zu step%s would run, %zu would be served from the cache\n",
           would, would == 1 ? "" : "s", cached);
    free(v);
    return KILN_EXIT_OK;
}
