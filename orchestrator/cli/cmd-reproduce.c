/*
 * cmd-reproduce.c: kiln reproduce RUN [--step STEP]... [--with-deploy]
 * [--json]
 *
 * Re-executes a run as it was recorded, in a scratch work tree under the
 * state directory (the user's tree is never written): its commit checked
 * out, its params, the model versions its steps read, and each input it
 * read put back from the object store by its recorded hash (or taken
 * from the work tree when the file there still has that hash; otherwise
 * the step's inputs are unavailable, never silently replaced). Nothing
 * is served from the cache; deploy steps and register: are off unless
 * --with-deploy. The reproduction is a run of its own (trigger
 * "reproduce", linked to the original); its outputs are compared with the
 * original's: identical, differs, missing, or not checked (steps marked
 * deterministic: false). Exit 0 when every checked output is identical,
 * 1 otherwise, 2 on usage errors.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/foreground.h"
#include "engine/artifacts.h"
#include "engine/cache.h"
#include "git/git.h"

typedef struct repro_opts {
    int64_t run;           /* RUN */
    kiln_opt_list steps;   /* --step STEP... */
    bool with_deploy;      /* --with-deploy */
    long jobs;             /* --jobs N */
    const char *state;     /* --state DIR */
    bool json;             /* --json */
} repro_opts;

static const kiln_opt options[] = {
    KILN_CLI_ARG_RUN(repro_opts, run),
    KILN_OPT_LIST(0, "step", repro_opts, steps, "STEP", "reproduce only "
                  "this step (repeatable); the inputs it read are put back "
                  "as recorded"),
    KILN_OPT_SWITCH(0, "with-deploy", repro_opts, with_deploy, "run deploy "
                    "steps and register: too (off by default; aliases "
                    "never move either way)"),
    KILN_CLI_OPT_JOBS(repro_opts, "run at most N steps at once (default: "
                      "CPUs)"),
    KILN_CLI_OPT_STATE(repro_opts),
    KILN_CLI_OPT_JSON_HELP(repro_opts, "print the comparison as JSON on "
                           "stdout"),
    KILN_OPT_END,
};

/* Where the original run's tree was, and where the reproduction's is. */
typedef struct trees {
    char *orig;     /* the original top (repository work tree, or the
                       checkout of a --commit run) */
    char *scratch;  /* its copy */
} trees;

/* path under t->orig as the same path under t->scratch; NULL when it was
 * outside the tree. */
static char *map_path(const trees *t, const char *path)
{
    size_t n = strlen(t->orig);
    if (strncmp(path, t->orig, n) != 0 || (path[n] != '/' && path[n]))
        return NULL;
    return kiln_asprintf("%s%s", t->scratch, path + n);
}

static const char *rel_of(const trees *t, const char *path, bool scratch)
{
    const char *top = scratch ? t->scratch : t->orig;
    size_t n = strlen(top);
    if (strncmp(path, top, n) == 0 && path[n] == '/')
        return path + n + 1;
    return path;
}

/* Put one recorded input at dest: from the object store (a file's
 * object, a directory's files), or from the original path when what is
 * there still has the recorded hash. */
static int restore_input(kiln_store *store, const char *objects,
                         const kiln_run_artifact *a, const char *dest,
                         kiln_err *err)
{
    char *dir = kiln_path_dirname(dest);
    const char *base = dest + strlen(dir) + 1;
    kiln_file_list files;
    kiln_artifact_list now;
    kiln_strlist pat;
    const char *one[1];
    int rc;

    memset(&files, 0, sizeof(files));
    if (!a->is_dir) {
        char *rel[1] = {(char *)base}, *sha[1] = {a->sha256};
        rc = kiln_cache_restore(objects, dir, 1, rel, sha, err);
    } else if ((rc = kiln_store_tree_files(store, &files, a->sha256,
                                           err)) == 0 && files.n) {
        kiln_remove_tree(dest); /* exactly the recorded files */
        rc = kiln_cache_restore(objects, dest, files.n, files.rel,
                                files.sha256, err);
    } else if (rc == 0) {
        rc = kiln_err_set(err, KILN_ENOTFOUND, "its files were not kept");
    }
    kiln_file_list_dispose(&files);
    if (rc == 0 || rc == KILN_ERROR) {
        free(dir);
        return rc;
    }
    /* Not in the store: the original path, if unchanged. */
    {
        char *odir = kiln_path_dirname(a->path);
        one[0] = a->path + strlen(odir) + 1;
        pat.n = 1;
        pat.items = one;
        pat.pos = NULL;
        rc = kiln_artifacts_collect(&now, odir, &pat, err);
        free(odir);
    }
    if (rc == 0 && (now.n != 1 || strcmp(now.items[0].sha256,
                                         a->sha256) != 0))
        rc = kiln_err_set(err, KILN_ENOTFOUND, "%s is gone from the store "
                          "and has %s on disk", a->path,
                          now.n ? "changed" : "gone");
    if (rc == 0) {
        kiln_cache_files kept;
        /* Keep it now, then put it in place from the store. */
        rc = kiln_cache_save(&kept, objects, dir, &now, err);
        if (rc == 0) {
            char *rel[1] = {(char *)base}, *sha[1] = {a->sha256};
            if (!a->is_dir) {
                rc = kiln_cache_restore(objects, dir, 1, rel, sha, err);
            } else {
                kiln_file_list tree;
                size_t len = strlen(rel_of(&(trees){dir, dir}, a->path,
                                           false));
                (void)len;
                memset(&tree, 0, sizeof(tree));
                tree.n = kept.n;
                tree.rel = kiln_calloc(kept.n + 1, sizeof(char *));
                tree.sha256 = kept.sha256;
                for (size_t i = 0; i < kept.n; i++) {
                    const char *r = kept.rel[i];
                    tree.rel[i] = (char *)(strchr(r, '/') ? strchr(r, '/')
                                                              + 1 : r);
                }
                rc = kiln_cache_restore(objects, dest, tree.n, tree.rel,
                                        tree.sha256, err);
                free(tree.rel);
            }
            kiln_cache_files_dispose(&kept);
        }
    }
    kiln_artifact_list_dispose(&now);
    free(dir);
    return rc;
}

/* The original tree of run r and the repository to check out from. */
/* The repository a run's code came from, when its tree was under the
 * state directory: the one holding the state directory; for a
 * reproduction, the one its original run came from; else the one holding
 * the current directory. *repo NULL when none is found. */
static int repo_of(char **repo, kiln_store *store, const kiln_run_info *r,
                   const char *state, int depth, kiln_err *err)
{
    kiln_git_info git;
    json_t *info = r->trigger_info ? json_loads(r->trigger_info, 0, NULL)
                                   : NULL;
    json_int_t orig = json_integer_value(json_object_get(info,
                                                         "reproduces"));
    int rc;

    json_decref(info);
    *repo = NULL;
    memset(&git, 0, sizeof(git));
    if ((rc = kiln_git_inspect(&git, state, err)) == 0 && git.in_repo)
        *repo = kiln_strdup(git.workdir);
    kiln_git_info_dispose(&git);
    if (rc != 0 || *repo)
        return rc;
    if (orig > 0 && depth < 100) {
        kiln_run_info *o = NULL;
        if (kiln_store_run_get(&o, store, orig, err) == 0) {
            memset(&git, 0, sizeof(git));
            if (kiln_git_inspect(&git, o->file, err) == 0 && git.in_repo)
                *repo = kiln_strdup(git.workdir);
            else
                rc = repo_of(repo, store, o, state, depth + 1, err);
            kiln_git_info_dispose(&git);
        }
        kiln_run_info_free(o);
        if (*repo)
            return 0;
    }
    memset(&git, 0, sizeof(git));
    if (kiln_git_inspect(&git, ".", err) == 0 && git.in_repo)
        *repo = kiln_strdup(git.workdir);
    kiln_git_info_dispose(&git);
    return 0;
}

static int locate(trees *t, char **repo, const kiln_run_info *r,
                  const char *state, kiln_store *store, kiln_err *err)
{
    char *abs = kiln_path_absolute(state);
    kiln_git_info git;
    size_t n = strlen(abs);
    const char *rest = r->file + n + 1, *a, *b;
    int rc;

    memset(&git, 0, sizeof(git));
    if (strncmp(r->file, abs, n) == 0 && r->file[n] == '/' &&
        (a = strchr(rest, '/')) != NULL && (b = strchr(a + 1, '/')) != NULL) {
        /* A --commit run or a reproduction: its tree was a checkout under
         * the state directory (checkouts/COMMIT, reproduce/RUN.TIME); the
         * repository is the one holding the state directory. */
        t->orig = kiln_strndup(r->file, (size_t)(b - r->file));
        free(abs);
        if ((rc = repo_of(repo, store, r, state, 0, err)) == 0 && !*repo)
            rc = kiln_err_set(err, KILN_EINVAL, "cannot find the Git "
                              "repository run %lld was made from (run kiln "
                              "reproduce in it)", (long long)r->id);
        return rc;
    } else {
        free(abs);
        rc = kiln_git_inspect(&git, r->file, err);
        if (rc == 0 && git.in_repo)
            t->orig = kiln_strdup(git.workdir);
    }
    if (rc == 0 && !git.in_repo)
        rc = kiln_err_set(err, KILN_EINVAL, "cannot find the Git repository "
                          "run %lld was made from", (long long)r->id);
    if (rc == 0)
        *repo = kiln_strdup(git.workdir);
    kiln_git_info_dispose(&git);
    return rc;
}

/* One compared output. */
typedef struct verdict {
    const char *step, *rel, *verdict;
    const char *orig_sha, *new_sha;
} verdict;

/* Print the differences of the environment captures of a step between
 * the original execution and the new one. */
static void env_diff(kiln_store *store, int64_t old_exec, int64_t new_exec,
                     int64_t old_run, int64_t new_run)
{
    char *a = NULL, *b = NULL;
    json_t *da, *db, *ea, *eb, *v;
    const char *label;
    kiln_err err = KILN_ERR_INIT;
    if (kiln_store_key_doc_get(store, &a, old_exec, &err) != 0 ||
        kiln_store_key_doc_get(store, &b, new_exec, &err) != 0 || !a || !b) {
        free(a);
        free(b);
        return;
    }
    da = json_loads(a, 0, NULL);
    db = json_loads(b, 0, NULL);
    ea = json_object_get(da, "environment");
    eb = json_object_get(db, "environment");
    json_object_foreach(ea, label, v) {
        json_t *w = json_object_get(eb, label);
        char *ta = NULL, *tb = NULL, pa[] = "/tmp/kiln-envXXXXXX",
             pb[] = "/tmp/kiln-envXXXXXX";
        int fa, fb;
        if (!w || json_equal(v, w))
            continue;
        if (kiln_store_capture_get(store, &ta, json_string_value(v),
                                   &err) != 0 ||
            kiln_store_capture_get(store, &tb, json_string_value(w),
                                   &err) != 0) {
            free(ta);
            free(tb);
            continue;
        }
        printf("    its environment changed: %s\n", label);
        fflush(stdout);
        if ((fa = mkstemp(pa)) >= 0 && (fb = mkstemp(pb)) >= 0) {
            char *cmd = kiln_asprintf("diff -u --label 'run %lld' --label "
                                      "'run %lld' %s %s | sed 's/^/    /'",
                                      (long long)old_run, (long long)new_run,
                                      pa, pb);
            if (write(fa, ta, strlen(ta)) < 0 ||
                write(fb, tb, strlen(tb)) < 0) {
                /* the diff shows what was written */
            }
            close(fa);
            close(fb);
            if (system(cmd) < 0) {
                /* nothing more to say */
            }
            free(cmd);
            unlink(pb);
        }
        unlink(pa);
        free(ta);
        free(tb);
    }
    json_decref(da);
    json_decref(db);
    free(a);
    free(b);
}

static int64_t last_exec(const kiln_run_info *r, const char *step)
{
    const kiln_step_info *s = kiln_run_info_step(r, step);
    const kiln_attempt_info *a = s ? kiln_step_info_last(s) : NULL;
    return a ? a->id : 0;
}

static int exec_reproduce(void *opts)
{
    const repro_opts *o = opts;
    kiln_store *store = NULL;
    kiln_err err = KILN_ERR_INIT;
    kiln_run_info *orig = NULL, *rep = NULL;
    kiln_pipeline *p = NULL;
    kiln_diag diag = KILN_DIAG_INIT;
    kiln_run_artifact *ins = NULL, *outs = NULL, *news = NULL;
    size_t n_ins = 0, n_outs = 0, n_news = 0, n_pins = 0, n_verdicts = 0;
    kiln_kv *pins = NULL, *ipins = NULL;
    size_t n_ipins = 0;
    const char **skip = NULL;
    bool *fails = NULL;
    char **skip_owned = NULL;
    verdict *verdicts = NULL;
    trees t = {NULL, NULL};
    char *state = NULL, *repo = NULL, *objects = NULL, *file = NULL;
    char *root = NULL, hash[KILN_HASH_HEX], *info = NULL;
    int64_t new_id = 0;
    size_t counts[5] = {0}; /* identical, differs, missing, not checked,
                               inputs unavailable */
    int status = KILN_EXIT_OK;

    state = kiln_cli_state_dir(o->state);
    objects = kiln_path_join(state, "objects");
    if (kiln_cli_open_store(&store, o->state, false, &err) != 0 ||
        kiln_store_run_get(&orig, store, o->run, &err) != 0) {
        status = kiln_cli_fail(&err);
        goto done;
    }
    if (!orig->git_commit) {
        kiln_err_set(&err, KILN_EINVAL, "run %lld recorded no commit (its "
                     "pipeline was not in a Git repository): its code "
                     "cannot be checked out again", (long long)o->run);
        status = kiln_cli_fail(&err);
        goto done;
    }
    if (!kiln_run_state_final(orig->state)) {
        kiln_err_set(&err, KILN_EINVAL, "run %lld has not ended",
                     (long long)o->run);
        status = kiln_cli_fail(&err);
        goto done;
    }
    /* What was not committed cannot be checked out: said first, so that
     * a verdict "differs" is not read as a step that is not
     * deterministic. */
    if (orig->git_dirty)
        fprintf(stderr, "kiln: warning: run %lld ran with uncommitted "
                "changes to commit %.12s; they are not recorded, so this "
                "reproduction runs the commit without them and may "
                "differ for that reason (kiln why shows what changed)\n",
                (long long)o->run, orig->git_commit);
    for (size_t i = 0; i < o->steps.n; i++)
        if (!kiln_run_info_step(orig, ((char **)o->steps.items)[i])) {
            status = kiln_cli_usage_error(&kiln_cmd_reproduce, "run %lld "
                                          "has no step %s", (long long)o->run,
                                          ((char **)o->steps.items)[i]);
            goto done;
        }

    /* The code: the recorded commit, in a scratch tree of its own. */
    if (locate(&t, &repo, orig, state, store, &err) != 0) {
        status = kiln_cli_fail(&err);
        goto done;
    }
    {
        char *dir = kiln_asprintf("%s/reproduce/%lld.%lld", state,
                                  (long long)orig->id,
                                  (long long)kiln_now_ms());
        t.scratch = kiln_path_absolute(dir);
        free(dir);
    }
    if (kiln_git_checkout(repo, orig->git_commit, t.scratch, &err) != 0) {
        status = kiln_cli_fail(&err);
        goto done;
    }
    file = map_path(&t, orig->file);
    root = orig->workdir ? map_path(&t, orig->workdir) : NULL;
    if (!file || access(file, F_OK) != 0) {
        kiln_err_set(&err, KILN_ENOTFOUND, "%s is not in commit %.12s",
                     orig->file, orig->git_commit);
        status = kiln_cli_fail(&err);
        goto done;
    }
    /* The definition at that commit; its params checked against it. */
    if (kiln_dsl_load_file(&p, file, &diag) != 0) {
        kiln_diag_print(&diag);
        status = KILN_EXIT_USAGE;
        goto done;
    }
    if (kiln_run_check_params(p, orig->n_params, orig->params, &err) != 0 ||
        kiln_hash_file(hash, file, &err) != 0) {
        status = kiln_cli_fail(&err);
        goto done;
    }

    /* The model versions its steps read, pinned. */
    for (size_t i = 0; i < orig->n_steps; i++) {
        char *text = NULL;
        json_t *doc, *m, *v;
        const char *ref;
        int64_t x = last_exec(orig, orig->steps[i].name);
        if (!x || kiln_store_key_doc_get(store, &text, x, &err) != 0 || !text)
            continue;
        doc = json_loads(text, 0, NULL);
        /* A container step runs the very image it ran (its ID). */
        if (json_is_string(json_object_get(json_object_get(doc, "image"),
                                           "id"))) {
            ipins = kiln_realloc(ipins, (n_ipins + 1) * sizeof(*ipins));
            ipins[n_ipins].key = kiln_strdup(orig->steps[i].name);
            ipins[n_ipins].value = kiln_strdup(json_string_value(
                json_object_get(json_object_get(doc, "image"), "id")));
            n_ipins++;
        }
        m = json_object_get(doc, "models");
        json_object_foreach(m, ref, v) {
            const char *sep = strpbrk(ref, "@:");
            if (!sep)
                continue;
            /* null: an optional alias that did not exist then ("0"). */
            pins = kiln_realloc(pins, (n_pins + 1) * sizeof(*pins));
            pins[n_pins].key = kiln_strdup(ref); /* churn@production */
            pins[n_pins].value = kiln_asprintf("%lld", (long long)
                json_integer_value(json_object_get(v, "version")));
            n_pins++;
        }
        json_decref(doc);
        free(text);
    }

    /* Which steps run: --step, or all; a step whose inputs cannot be put
     * back does not, nor what needs it. */
    skip = kiln_calloc(p->n_steps, sizeof(char *));
    skip_owned = kiln_calloc(p->n_steps, sizeof(char *));
    if (o->steps.n)
        for (size_t i = 0; i < p->n_steps; i++) {
            bool picked = false;
            for (size_t k = 0; k < o->steps.n; k++)
                picked |= strcmp(((char **)o->steps.items)[k],
                                 p->steps[i].name) == 0;
            if (!picked)
                skip[i] = "not selected (kiln reproduce --step)";
        }
    if (kiln_store_run_artifacts(&ins, &n_ins, store, orig->id, false,
                                 &err) != 0 ||
        kiln_store_run_artifacts(&outs, &n_outs, store, orig->id, true,
                                 &err) != 0) {
        status = kiln_cli_fail(&err);
        goto done;
    }
    for (size_t i = 0; i < n_ins; i++) {
        const kiln_run_artifact *a = &ins[i];
        ssize_t k = kiln_pipeline_find_step(p, a->step);
        char *dest;
        kiln_err ierr = KILN_ERR_INIT;
        if (k < 0 || skip[k] || strcmp(a->type, "model") == 0)
            continue; /* models: read through their pinned versions */
        /* Made by a step that runs again: made again. */
        if (a->made_in_run) {
            bool producer_runs = false;
            for (size_t m = 0; m < n_outs; m++)
                if (strcmp(outs[m].path, a->path) == 0 &&
                    strcmp(outs[m].sha256, a->sha256) == 0) {
                    ssize_t pk = kiln_pipeline_find_step(p, outs[m].step);
                    /* (or cannot: then this step cannot either) */
                    producer_runs |= pk >= 0 && (!skip[pk] || skip_owned[pk]);
                }
            if (producer_runs)
                continue;
        }
        if (!(dest = map_path(&t, a->path))) {
            skip_owned[k] = kiln_asprintf("inputs unavailable: %s was outside "
                                          "the work tree", a->path);
            skip[k] = skip_owned[k];
            continue;
        }
        if (restore_input(store, objects, a, dest, &ierr) != 0) {
            skip_owned[k] = kiln_asprintf("inputs unavailable: %s (sha256 "
                                          "%.12s): %s", rel_of(&t, a->path,
                                                               false),
                                          a->sha256, ierr.msg);
            skip[k] = skip_owned[k];
        }
        free(dest);
    }
    /* What needs a step whose inputs are unavailable cannot run either. */
    for (size_t t_i = 0; t_i < p->n_steps; t_i++) {
        size_t i = p->topo[t_i];
        for (size_t k = 0; k < p->steps[i].needs.n && !skip[i]; k++) {
            size_t up = p->steps[i].need_idx[k];
            if (skip_owned[up] || (skip[up] && strncmp(skip[up], "upstream",
                                                       8) == 0)) {
                skip_owned[i] = kiln_asprintf("upstream step %s's inputs are "
                                              "unavailable",
                                              p->steps[up].name);
                skip[i] = skip_owned[i];
            }
        }
    }

    /* The run. */
    {
        kiln_fg_options fo;
        kiln_run_options ro = KILN_RUN_OPTIONS_INIT;
        memset(&fo, 0, sizeof(fo));
        fo.store = store;
        fo.state_dir = state;
        fo.jobs = (unsigned)o->jobs;
        fo.cache = false;
        fo.to_stderr = true;
        info = kiln_asprintf("{\"reproduces\": %lld}", (long long)orig->id);
        ro.pipeline = p;
        ro.file = file;
        ro.hash = hash;
        ro.root = root;
        ro.n_params = orig->n_params;
        ro.params = orig->params;
        ro.trigger = "reproduce";
        ro.trigger_info = info;
        ro.started_by = kiln_user_name();
        ro.started_via = "cli";
        ro.git_commit = orig->git_commit;
        ro.reproduces = orig->id;
        ro.side_effects_off = !o->with_deploy;
        ro.keep_aliases = true; /* a reproduction never moves an alias */
        ro.n_model_pins = n_pins;
        ro.model_pins = pins;
        ro.n_image_pins = n_ipins;
        ro.image_pins = ipins;
        ro.skip = skip;
        fails = kiln_calloc(p->n_steps, sizeof(bool));
        for (size_t i = 0; i < p->n_steps; i++)
            fails[i] = skip_owned[i] != NULL;
        ro.skip_fails = fails;
        fprintf(stderr, "kiln: reproducing run %lld (%s, commit %.12s) in "
                "%s\n", (long long)orig->id, orig->pipeline,
                orig->git_commit, t.scratch);
        status = kiln_fg_run(&fo, &ro, NULL);
        if (status == KILN_EXIT_SYSTEM || status == KILN_EXIT_USAGE)
            goto done;
        status = KILN_EXIT_OK;
    }
    if (kiln_store_reproduction_last(store, &new_id, orig->id, &err) != 0 ||
        kiln_store_run_get(&rep, store, new_id, &err) != 0 ||
        kiln_store_run_artifacts(&news, &n_news, store, new_id, true,
                                 &err) != 0) {
        status = kiln_cli_fail(&err);
        goto done;
    }

    /* The comparison, output by output. */
    verdicts = kiln_calloc(n_outs + 1, sizeof(*verdicts));
    for (size_t i = 0; i < n_outs; i++) {
        const kiln_run_artifact *a = &outs[i];
        ssize_t k = kiln_pipeline_find_step(p, a->step);
        verdict *v = &verdicts[n_verdicts];
        const char *rel = rel_of(&t, a->path, false);
        if (k >= 0 && skip[k] && !skip_owned[k])
            continue; /* not selected */
        v->step = a->step;
        v->rel = rel;
        v->orig_sha = a->sha256;
        v->new_sha = NULL;
        for (size_t m = 0; m < n_news; m++)
            if (strcmp(news[m].step, a->step) == 0 &&
                strcmp(rel_of(&t, news[m].path, true), rel) == 0)
                v->new_sha = news[m].sha256;
        if (k < 0) {
            v->verdict = "missing";
            counts[2]++;
        } else if (skip_owned[k]) {
            v->verdict = "inputs unavailable";
            counts[4]++;
        } else if (!p->steps[k].deterministic) {
            v->verdict = "not checked";
            counts[3]++;
        } else if (p->steps[k].kind == KILN_KIND_DEPLOY && !o->with_deploy) {
            v->verdict = "not checked";
            counts[3]++;
        } else if (!v->new_sha) {
            v->verdict = "missing";
            counts[2]++;
        } else if (strcmp(v->new_sha, v->orig_sha) == 0) {
            v->verdict = "identical";
            counts[0]++;
        } else {
            v->verdict = "differs";
            counts[1]++;
        }
        n_verdicts++;
    }
    if (counts[1] || counts[2] || counts[4])
        status = KILN_EXIT_FAILED;

    if (o->json) {
        json_t *list = json_array(), *out;
        for (size_t i = 0; i < n_verdicts; i++)
        {
            ssize_t k = kiln_pipeline_find_step(p, verdicts[i].step);
            const kiln_step_info *rs = rep ? kiln_run_info_step(
                rep, verdicts[i].step) : NULL;
            const char *why = k >= 0 && skip_owned[k] ? skip_owned[k]
                              : strcmp(verdicts[i].verdict, "identical") &&
                                rs ? rs->reason : NULL;
            json_array_append_new(list, json_pack(
                "{s:s, s:s, s:s, s:s, s:s?, s:s?}", "step", verdicts[i].step,
                "path", verdicts[i].rel, "verdict", verdicts[i].verdict,
                "original_sha256", verdicts[i].orig_sha, "new_sha256",
                verdicts[i].new_sha, "reason", why));
        }
        out = json_pack("{s:I, s:I, s:s, s:b, s:s, s:o, s:{s:i, s:i, s:i, "
                        "s:i, s:i}, s:i}", "run", (json_int_t)new_id,
                        "reproduces", (json_int_t)orig->id, "commit",
                        orig->git_commit, "original_dirty", orig->git_dirty,
                        "workdir", t.scratch, "outputs",
                        list, "summary", "identical", (int)counts[0],
                        "differs", (int)counts[1], "missing", (int)counts[2],
                        "not_checked", (int)counts[3], "inputs_unavailable",
                        (int)counts[4], "exit", status);
        kiln_cli_print_json(out);
        json_decref(out);
        goto done;
    }
    printf("run %lld reproduces run %lld (%s, commit %.12s%s)\n",
           (long long)new_id, (long long)orig->id, orig->pipeline,
           orig->git_commit, orig->git_dirty
               ? ", without the run's uncommitted changes" : "");
    printf("  %-16s %-28s %-19s %-12s  %s\n", "STEP", "OUTPUT", "VERDICT",
           "ORIGINAL", "NEW");
    for (size_t i = 0; i < n_verdicts; i++) {
        const verdict *v = &verdicts[i];
        printf("  %-16s %-28s %-19s %.12s  %.12s\n", v->step, v->rel,
               v->verdict, v->orig_sha, v->new_sha ? v->new_sha : "-");
        if (strcmp(v->verdict, "differs") == 0 &&
            (i + 1 == n_verdicts || strcmp(verdicts[i + 1].step,
                                           v->step) != 0))
            env_diff(store, last_exec(orig, v->step),
                     last_exec(rep, v->step), orig->id, new_id);
        if (strcmp(v->verdict, "missing") == 0 && rep) {
            const kiln_step_info *rs = kiln_run_info_step(rep, v->step);
            if (rs && rs->reason &&
                (i + 1 == n_verdicts ||
                 strcmp(verdicts[i + 1].step, v->step) != 0))
                printf("    %s %s: %s\n", v->step,
                       kiln_step_state_name(rs->state), rs->reason);
        }
        if (strcmp(v->verdict, "inputs unavailable") == 0) {
            ssize_t k = kiln_pipeline_find_step(p, v->step);
            printf("    %s\n", skip_owned[k]);
        }
    }
    printf("%zu identical, %zu differ%s, %zu missing, %zu not checked",
           counts[0], counts[1], counts[1] == 1 ? "s" : "", counts[2],
           counts[3]);
    if (counts[4])
        printf(", %zu with inputs unavailable", counts[4]);
    printf("\n");

done:
    for (size_t i = 0; skip_owned && p && i < p->n_steps; i++)
        free(skip_owned[i]);
    free(skip_owned);
    free(skip);
    free(fails);
    for (size_t i = 0; i < n_pins; i++) {
        free((char *)pins[i].key);
        free((char *)pins[i].value);
    }
    free(pins);
    for (size_t i = 0; i < n_ipins; i++) {
        free((char *)ipins[i].key);
        free((char *)ipins[i].value);
    }
    free(ipins);
    free(verdicts);
    kiln_run_artifacts_free(ins, n_ins);
    kiln_run_artifacts_free(outs, n_outs);
    kiln_run_artifacts_free(news, n_news);
    kiln_diag_dispose(&diag);
    kiln_pipeline_free(p);
    kiln_run_info_free(orig);
    kiln_run_info_free(rep);
    kiln_store_close(store);
    free(t.orig);
    free(t.scratch);
    free(state);
    free(repo);
    free(objects);
    free(file);
    free(root);
    free(info);
    return status;
}

const kiln_cmd kiln_cmd_reproduce = {
    .name = "reproduce",
    .summary = "Run a recorded run again, as recorded, and compare its "
               "outputs.",
    .help = "In a scratch work tree under the state directory: the run's "
            "commit, params,\nmodel versions, and each input it read put "
            "back by its recorded hash. Nothing\nis served from the cache; "
            "deploy steps and register: are off unless\n--with-deploy. "
            "Every output is compared with the original's: identical,\n"
            "differs, missing, or not checked (deterministic: false).\n",
    .notes = "Exit status: 0 every checked output is identical, 1 one "
             "differs or is missing\n(or its inputs are unavailable), 2 "
             "usage, 3 kiln itself could not work.\n",
    .opts = options,
    .opts_size = sizeof(repro_opts),
    .exec = exec_reproduce,
};
