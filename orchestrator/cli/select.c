/*
 * select.c: kiln run --only STEP... | --from STEP | --until STEP.
 *
 * The engine runs the selected steps. A step one of them needs is not
 * run: the engine serves it from the cache, or records the last execution
 * that made its outputs (still on disk with the hashes recorded then) as
 * reused, or fails it unrun naming what is missing. The other steps are
 * recorded skipped, "not selected".
 */
#include "cli/select.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "engine/artifacts.h"

/* Are the outputs of st on disk those exec e made? Else why not, in
 * why. */
static bool still_there(const kiln_cache_entry *e, const kiln_step *st,
                        const char *workdir, char *why, size_t size)
{
    kiln_artifact_list list;
    kiln_err err = KILN_ERR_INIT;
    bool same = true;

    memset(&list, 0, sizeof(list));
    if (kiln_artifacts_collect(&list, workdir, &st->outputs, &err) != 0) {
        snprintf(why, size, "%s", err.msg);
        return false;
    }
    if (list.n_missing) {
        snprintf(why, size, "its output %s is missing",
                 list.missing[0]);
        same = false;
    } else if (list.n_special) {
        snprintf(why, size, "its output %s", list.special[0]);
        same = false;
    }
    for (size_t i = 0; same && i < list.n; i++) {
        bool found = false;
        for (size_t k = 0; k < e->n && !found; k++)
            found = strcmp(e->rel[k], list.items[i].path) == 0 &&
                    strcmp(e->sha256[k], list.items[i].sha256) == 0;
        if (!found) {
            snprintf(why, size, "its output %s changed since run %lld "
                     "made it", list.items[i].path, (long long)e->run_id);
            same = false;
        }
    }
    kiln_artifact_list_dispose(&list);
    return same;
}

static char *describe(const kiln_run_selection *sel, json_t **info)
{
    kiln_buf b = KILN_BUF_INIT;
    json_t *only = json_array();
    *info = json_object();
    kiln_buf_puts(&b, "not selected (");
    if (sel->n_only) {
        kiln_buf_puts(&b, "--only");
        for (size_t i = 0; i < sel->n_only; i++) {
            kiln_buf_printf(&b, " %s", sel->only[i]);
            json_array_append_new(only, json_string(sel->only[i]));
        }
        json_object_set(*info, "only", only);
    }
    if (sel->from) {
        kiln_buf_printf(&b, "%s--from %s", sel->n_only ? " " : "",
                        sel->from);
        json_object_set_new(*info, "from", json_string(sel->from));
    }
    if (sel->until) {
        kiln_buf_printf(&b, "%s--until %s", sel->n_only || sel->from ? " "
                        : "", sel->until);
        json_object_set_new(*info, "until", json_string(sel->until));
    }
    kiln_buf_puts(&b, ")");
    json_decref(only);
    return kiln_buf_detach(&b);
}

int kiln_cli_select(kiln_cli_selection *out, const kiln_pipeline *p,
                    const char *root, kiln_store *store,
                    const kiln_run_selection *sel, bool cache)
{
    kiln_err err = KILN_ERR_INIT;
    bool *selected = kiln_calloc(p->n_steps + 1, sizeof(bool));
    bool *needed = kiln_calloc(p->n_steps + 1, sizeof(bool));
    json_t *info;
    int status = 0;

    memset(out, 0, sizeof(*out));
    if (kiln_run_select(selected, p, sel, &err) != 0) {
        free(selected);
        free(needed);
        return kiln_cli_fail(&err);
    }
    out->n_steps = p->n_steps;
    out->skip = kiln_calloc(p->n_steps, sizeof(char *));
    out->reuse_only = kiln_calloc(p->n_steps, sizeof(char *));
    out->reasons = kiln_calloc(p->n_steps, sizeof(char *));
    out->reuse = kiln_calloc(p->n_steps + 1, sizeof(kiln_kv));
    out->why = describe(sel, &info);
    out->info = json_dumps(info, JSON_COMPACT);
    json_decref(info);
    for (size_t i = 0; i < p->n_steps; i++)
        for (size_t k = 0; selected[i] && k < p->steps[i].needs.n; k++)
            if (!selected[p->steps[i].need_idx[k]])
                needed[p->steps[i].need_idx[k]] = true;

    for (size_t t = 0; t < p->n_steps; t++) {
        size_t i = p->topo[t];
        const kiln_step *st = &p->steps[i];
        kiln_cache_entry e;
        char why[512] = "", *wd;
        bool cacheable, reusable = false;
        int rc;

        if (selected[i])
            continue;
        if (!needed[i]) {
            out->skip[i] = out->why;
            continue;
        }
        memset(&e, 0, sizeof(e));
        wd = kiln_path_join(root, st->workdir);
        rc = kiln_store_last_made(store, &e, p->name, st->name, &err);
        if (rc == KILN_ENOTFOUND)
            snprintf(why, sizeof(why), "no earlier run made its outputs");
        else if (rc != 0)
            status = kiln_cli_fail(&err);
        else
            reusable = still_there(&e, st, wd, why, sizeof(why));
        free(wd);
        if (reusable) {
            out->reuse[out->n_reuse].key = st->name;
            out->reuse[out->n_reuse].value =
                kiln_asprintf("%lld", (long long)e.exec_id);
            out->n_reuse++;
        }
        kiln_cache_entry_dispose(&e);
        if (status != 0)
            break;
        /* Never made: the cache has nothing of it either. */
        cacheable = cache && st->cache && rc != KILN_ENOTFOUND &&
                    (st->outputs.n > 0 || st->validation);
        out->reasons[i] = kiln_asprintf("%s, and neither the cache nor an "
                                        "earlier run has its outputs (%s): "
                                        "select it too", out->why, why);
        out->reuse_only[i] = out->reasons[i];
        if (!reusable && !cacheable) {
            fprintf(stderr, "kiln: error: step \"%s\" is needed by the "
                    "selected steps but %s: %s; select it too (e.g. "
                    "--from %s)\n", st->name, out->why, why,
                    st->name);
            status = KILN_EXIT_USAGE;
            break;
        }
    }
    free(selected);
    free(needed);
    if (status != 0)
        kiln_cli_selection_dispose(out);
    return status;
}

void kiln_cli_selection_dispose(kiln_cli_selection *s)
{
    for (size_t i = 0; i < s->n_reuse; i++)
        free((char *)s->reuse[i].value);
    for (size_t i = 0; s->reasons && i < s->n_steps; i++)
        free(s->reasons[i]);
    free(s->reasons);
    free(s->reuse);
    free(s->skip);
    free(s->reuse_only);
    free(s->why);
    free(s->info);
    memset(s, 0, sizeof(*s));
}
