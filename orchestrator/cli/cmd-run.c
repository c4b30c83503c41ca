/*
 * cmd-run.c: kiln run FILE — run a pipeline now, in the foreground.
 *
 * Before the loop starts: load and check the file, pin the Git commit (or
 * check out --commit REV under the state directory and load the file as it
 * is there), open the store. Then one engine, one run, and SIGINT/SIGTERM
 * handlers that cancel it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dsl/dsl.h"
#include "cli/cli.h"
#include "cli/dryrun.h"
#include "cli/foreground.h"
#include "cli/select.h"
#include "git/git.h"
#include "base/hash.h"
#include "cli/state.h"

typedef struct run_opts {
    const char *file;     /* FILE */
    kiln_opt_list params; /* --param NAME=VALUE..., kiln_kv */
    long jobs;            /* --jobs N; 0: CPUs */
    kiln_opt_list pools;  /* --pool NAME=N..., kiln_kv */
    const char *state;    /* --state DIR */
    const char *commit;   /* --commit REV */
    bool require_clean;   /* --require-clean */
    bool no_cache;        /* --no-cache */
    bool dry_run;         /* --dry-run */
    const char *junit;    /* --junit PATH */
    bool json;            /* --json */
    const char *openlineage;    /* --openlineage URL|FILE */
    const char *openlineage_ns; /* --openlineage-namespace NAME */
    kiln_opt_list only;   /* --only STEP... */
    const char *from;     /* --from STEP */
    const char *until;    /* --until STEP */
} run_opts;

static const kiln_opt options[] = {
    KILN_OPT_ARG(run_opts, file, "FILE", NULL),
    KILN_CLI_OPT_PARAM(run_opts),
    KILN_CLI_OPT_JOBS(run_opts, "run at most N steps at once (default: "
                      "CPUs)"),
    KILN_CLI_OPT_POOL(run_opts),
    KILN_CLI_OPT_STATE(run_opts),
    KILN_OPT_VALUE(0, "commit", run_opts, commit, "REV", "run the pipeline "
                   "as it is at commit REV, in a checkout under the state "
                   "directory"),
    KILN_OPT_SWITCH(0, "require-clean", run_opts, require_clean,
                    "refuse to run with uncommitted changes"),
    KILN_OPT_SWITCH(0, "no-cache", run_opts, no_cache, "run every step, "
                    "even those whose outputs are cached"),
    KILN_OPT_SWITCH('n', "dry-run", run_opts, dry_run, "say which steps "
                    "would run and which would be served from the cache, "
                    "and why; run nothing (but environment: capture "
                    "commands), record nothing"),
    KILN_CLI_OPT_JUNIT(run_opts),
    KILN_CLI_OPT_JSON_HELP(run_opts, "print a JSON summary of the run on "
                           "stdout"),
    KILN_OPT_VALUE(0, "openlineage", run_opts, openlineage, "URL|FILE",
                   "send an OpenLineage event as each step starts and "
                   "ends: POST to an http(s) URL, or append JSON lines to "
                   "a file"),
    KILN_OPT_VALUE(0, "openlineage-namespace", run_opts, openlineage_ns,
                   "NAME", "the OpenLineage jobs' namespace", .def = "kiln"),
    KILN_OPT_LIST(0, "only", run_opts, only, "STEP", "run only this step "
                  "(repeatable); what it needs is reused from the cache or "
                  "the last run that made it, never run"),
    KILN_OPT_VALUE(0, "from", run_opts, from, "STEP", "run STEP and "
                   "everything downstream of it; reuse what it needs"),
    KILN_OPT_VALUE(0, "until", run_opts, until, "STEP", "run STEP and "
                   "everything upstream of it, nothing after it"),
    KILN_OPT_END,
};

static int load(kiln_pipeline **out, const char *path)
{
    kiln_diag diag = KILN_DIAG_INIT;
    int rc;
    if (access(path, F_OK) != 0) {
        /* "No such file or directory", "Too many levels of symbolic
         * links"... */
        fprintf(stderr, "kiln: error: %s: %s\n", path, strerror(errno));
        return KILN_EXIT_USAGE;
    }
    rc = kiln_dsl_load_file(out, path, &diag);
    if (rc == 0)
        rc = kiln_cli_check_pipeline(*out, &diag);
    if (rc == 0)
        kiln_cli_warn_inputs(*out);
    /* Print before freeing: the errors' positions point into the
     * pipeline. */
    if (rc != 0)
        kiln_diag_print(&diag);
    if (rc != 0 && *out) {
        kiln_pipeline_free(*out);
        *out = NULL;
    }
    kiln_diag_dispose(&diag);
    return rc == 0 ? 0 : rc == KILN_EINVAL ? KILN_EXIT_USAGE
                                           : KILN_EXIT_SYSTEM;
}

/* Refuse a dirty work tree when --require-clean or the pipeline asks for
 * a clean one, naming the changes. Returns an exit status. */
static int check_clean(const run_opts *o, const kiln_pipeline *p,
                       const kiln_git_info *git)
{
    if (!git->in_repo || o->commit || !git->dirty ||
        !(o->require_clean || p->git_require_clean))
        return KILN_EXIT_OK;
    fprintf(stderr, "kiln: error: the work tree of %s has uncommitted "
            "changes and %s requires a clean tree:\n", git->workdir,
            o->require_clean ? "--require-clean" : "the pipeline");
    for (size_t i = 0; i < git->n_changed; i++)
        fprintf(stderr, "  %s\n", git->changed[i]);
    fprintf(stderr, "commit or stash them, or run a commit with "
            "--commit REV\n");
    return KILN_EXIT_USAGE;
}

/*
 * Load the pipeline as it is at --commit REV, from a checkout of its own
 * under state: *p and *file (the absolute path, of the work tree's file
 * before) are replaced, *root is the checkout's pipeline directory and
 * commit the full id. Returns an exit status.
 */
static int load_at_commit(kiln_pipeline **p, char **file, char **root,
                          char commit[41], const run_opts *o,
                          const kiln_git_info *git, const char *state)
{
    const char *rel = *file + strlen(git->workdir) + 1;
    kiln_err err = KILN_ERR_INIT;
    char *dir, *path;
    int status;

    if (kiln_git_resolve(commit, *file, o->commit, &err) != 0)
        return kiln_cli_fail(&err);
    dir = kiln_asprintf("%s/checkouts/%s", state, commit);
    if (kiln_git_checkout(*file, commit, dir, &err) != 0) {
        free(dir);
        return kiln_cli_fail(&err);
    }
    path = kiln_path_join(dir, rel);
    free(dir);
    kiln_pipeline_free(*p);
    *p = NULL;
    if (access(path, F_OK) != 0) {
        kiln_err_set(&err, KILN_ENOTFOUND, "%s does not exist at "
                     "commit %.12s", rel, commit);
        free(path);
        return kiln_cli_fail(&err);
    }
    status = load(p, path);
    if (status == 0 &&
        kiln_run_check_params(*p, o->params.n, o->params.items, &err) != 0)
        status = kiln_cli_fail(&err);
    free(*file);
    *file = path;
    if (status == 0)
        *root = kiln_strdup((*p)->dir);
    return status;
}

/* --dry-run: the run's params, the store read-only (none yet: every step
 * would run). */
static int dry_run(const run_opts *o, const kiln_pipeline *p,
                   const char *state)
{
    kiln_store *store = NULL;
    kiln_err err = KILN_ERR_INIT;
    char *db = kiln_path_join(state, "kiln.db");
    kiln_kv *params = kiln_calloc(p->n_params + 1, sizeof(*params));
    int status;

    if (o->commit) {
        free(db);
        free(params);
        fprintf(stderr, "kiln: error: --dry-run does not go with --commit "
                "(it would check the commit out)\n");
        return KILN_EXIT_USAGE;
    }
    for (size_t i = 0; i < p->n_params; i++) {
        params[i] = p->params[i];
        for (size_t k = 0; k < o->params.n; k++) {
            const kiln_kv *kv = &((const kiln_kv *)o->params.items)[k];
            if (strcmp(kv->key, params[i].key) == 0)
                params[i].value = kv->value;
        }
    }
    if (access(db, F_OK) == 0 &&
        kiln_store_open_readonly(&store, db, &err) != 0) {
        free(db);
        free(params);
        return kiln_cli_fail(&err);
    }
    status = kiln_cli_dry_run(p, p->dir, store, p->n_params, params,
                              !o->no_cache);
    kiln_store_close(store);
    free(params);
    free(db);
    return status;
}

static int exec_run(void *opts)
{
    const run_opts *o = opts;
    kiln_pipeline *p = NULL;
    kiln_git_info git;
    kiln_store *store = NULL;
    kiln_err err = KILN_ERR_INIT;
    char *file = NULL, *state = NULL, *db = NULL;
    char *root = NULL, commit[41] = "", hash[KILN_HASH_HEX];
    kiln_cli_selection sel;
    int status = KILN_EXIT_OK;

    memset(&sel, 0, sizeof(sel));
    memset(&git, 0, sizeof(git));
    if ((status = load(&p, o->file)) != 0)
        goto done;
    /* With --commit the params are checked against the definition at
     * that commit (load_at_commit()): one may exist there and not here. */
    if (!o->commit &&
        kiln_run_check_params(p, o->params.n, o->params.items, &err) != 0) {
        status = kiln_cli_fail(&err);
        goto done;
    }
    file = kiln_path_absolute(o->file);

    /* Pin the commit. */
    if (kiln_git_inspect(&git, file, &err) != 0) {
        status = kiln_cli_fail(&err);
        goto done;
    }
    if (!git.in_repo && o->commit) {
        kiln_err_set(&err, KILN_EINVAL, "--commit: %s is not in a Git "
                     "repository", o->file);
        status = kiln_cli_fail(&err);
        goto done;
    }
    if (!git.in_repo)
        fprintf(stderr, "kiln: warning: %s is not in a Git repository; the "
                "run records no commit\n", o->file);
    if ((status = check_clean(o, p, &git)) != 0)
        goto done;

    state = kiln_state_dir_pick(o->state, git.in_repo ? git.workdir : NULL,
                                p->dir);
    if (o->dry_run && (o->only.n || o->from || o->until)) {
        fprintf(stderr, "kiln run: --dry-run does not go with --only, "
                "--from or --until\n");
        status = KILN_EXIT_USAGE;
        goto done;
    }
    if (o->dry_run) {
        status = dry_run(o, p, state);
        goto done;
    }
    if (kiln_state_dir_prepare(state, &err) != 0) {
        status = KILN_EXIT_SYSTEM;
        kiln_err_print(&err);
        goto done;
    }

    if (o->commit) {
        /* Run the pipeline as it is at REV, in a checkout of its own. */
        if ((status = load_at_commit(&p, &file, &root, commit, o, &git,
                                     state)) != 0)
            goto done;
    } else if (git.in_repo) {
        snprintf(commit, sizeof(commit), "%s", git.commit);
    }
    if (kiln_hash_file(hash, file, &err) != 0) {
        status = kiln_cli_fail(&err);
        goto done;
    }

    db = kiln_path_join(state, "kiln.db");
    if (kiln_store_open(&store, db, &err) != 0) {
        kiln_err_print(&err);
        status = KILN_EXIT_SYSTEM;
        goto done;
    }

    if (o->only.n || o->from || o->until) {
        kiln_run_selection rs;
        memset(&rs, 0, sizeof(rs));
        rs.n_only = o->only.n;
        rs.only = o->only.items;
        rs.from = o->from;
        rs.until = o->until;
        if ((status = kiln_cli_select(&sel, p, root ? root : p->dir, store,
                                      &rs, !o->no_cache)) != 0)
            goto done;
    }
    {
        kiln_fg_options fo;
        kiln_run_options ro = KILN_RUN_OPTIONS_INIT;
        memset(&fo, 0, sizeof(fo));
        fo.store = store;
        fo.state_dir = state;
        fo.jobs = (unsigned)o->jobs;
        fo.n_pools = o->pools.n;
        fo.pools = o->pools.items;
        fo.cache = !o->no_cache;
        fo.json = o->json;
        fo.junit = o->junit;
        fo.openlineage = o->openlineage;
        fo.openlineage_ns = o->openlineage_ns;
        ro.pipeline = p;
        ro.file = file;
        ro.hash = hash;
        ro.root = root;
        ro.n_params = o->params.n;
        ro.params = o->params.items;
        ro.trigger = "manual";
        ro.started_by = kiln_user_name();
        ro.started_via = "cli";
        ro.git_commit = commit[0] ? commit : NULL;
        ro.git_branch = o->commit ? NULL : git.branch;
        ro.git_dirty = o->commit ? false : git.dirty;
        if (sel.skip) {
            ro.trigger_info = sel.info;
            ro.skip = sel.skip;
            ro.reuse_only = sel.reuse_only;
            ro.n_reuse = sel.n_reuse;
            ro.reuse = sel.reuse;
        }
        status = kiln_fg_run(&fo, &ro, NULL);
    }

done:
    kiln_cli_selection_dispose(&sel);
    kiln_store_close(store);
    kiln_git_info_dispose(&git);
    kiln_pipeline_free(p);
    free(file);
    free(state);
    free(db);
    free(root);
    return status;
}

const kiln_cmd kiln_cmd_run = {
    .name = "run",
    .summary = "Run a pipeline now, in the foreground.",
    .notes = "Exit status: 0 succeeded, 1 a step failed or the run was "
             "cancelled,\n"
             "2 invalid pipeline or usage, 3 kiln itself could not work.\n",
    .opts = options,
    .opts_size = sizeof(run_opts),
    .exec = exec_run,
};
