/*
 * cmd-run.c: kiln run FILE — run a pipeline now, in the foreground.
 *
 * Before the loop starts: load and check the file, pin the Git commit (or
 * check out --commit REV under the state directory and load the file as it
 * is there), open the store. Then one engine, one run, and SIGINT/SIGTERM
 * handlers that cancel it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dsl/dsl.h"
#include "cli/cli.h"
#include "cli/foreground.h"
#include "git/git.h"
#include "base/hash.h"
#include "cli/state.h"

enum { OPT_JSON = 256, OPT_COMMIT, OPT_REQUIRE_CLEAN, OPT_POOL,
       OPT_NO_CACHE, OPT_JUNIT };

static const struct option options[] = {
    {"help", no_argument, NULL, 'h'},
    {"param", required_argument, NULL, 'p'},
    {"jobs", required_argument, NULL, 'j'},
    {"state", required_argument, NULL, 's'},
    {"json", no_argument, NULL, OPT_JSON},
    {"commit", required_argument, NULL, OPT_COMMIT},
    {"require-clean", no_argument, NULL, OPT_REQUIRE_CLEAN},
    {"pool", required_argument, NULL, OPT_POOL},
    {"no-cache", no_argument, NULL, OPT_NO_CACHE},
    {"junit", required_argument, NULL, OPT_JUNIT},
    {NULL, 0, NULL, 0},
};

static int load(kiln_pipeline **out, const char *path)
{
    kiln_diag diag = KILN_DIAG_INIT;
    int rc;
    if (access(path, F_OK) != 0) {
        fprintf(stderr, "kiln: error: %s: no such file\n", path);
        return KILN_EXIT_USAGE;
    }
    rc = kiln_dsl_load_file(out, path, &diag);
    if (rc == 0)
        rc = kiln_cli_check_pipeline(*out, &diag);
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

static int exec_run(int argc, char **argv)
{
    kiln_kv *params = kiln_calloc((size_t)argc, sizeof(kiln_kv));
    kiln_kv *pools = kiln_calloc((size_t)argc, sizeof(kiln_kv));
    size_t n_params = 0, n_pools = 0;
    const char *state_opt = NULL, *commit_opt = NULL;
    bool require_clean = false, json = false, no_cache = false;
    const char *junit = NULL;
    unsigned jobs = 0;
    kiln_pipeline *p = NULL;
    kiln_git_info git;
    kiln_store *store = NULL;
    kiln_err err = KILN_ERR_INIT;
    char *file = NULL, *state = NULL, *db = NULL;
    char *root = NULL, commit[41] = "", hash[KILN_HASH_HEX];
    int c, status = KILN_EXIT_OK;

    memset(&git, 0, sizeof(git));
    optind = 1;
    while ((c = getopt_long(argc, argv, "hp:j:s:", options, NULL)) != -1) {
        switch (c) {
        case 'h':
            kiln_cli_help(&kiln_cmd_run);
            goto done;
        case 'p':
            if (kiln_cli_parse_param(&params[n_params++], optarg, &err) != 0) {
                status = kiln_cli_usage_error(&kiln_cmd_run, "%s", err.msg);
                goto done;
            }
            break;
        case 'j': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || v < 1 || v > 4096) {
                status = kiln_cli_usage_error(&kiln_cmd_run, "--jobs "
                                              "expects 1 to 4096, got "
                                              "\"%s\"", optarg);
                goto done;
            }
            jobs = (unsigned)v;
            break;
        }
        case 's':
            state_opt = optarg;
            break;
        case OPT_JSON:
            json = true;
            break;
        case OPT_COMMIT:
            commit_opt = optarg;
            break;
        case OPT_REQUIRE_CLEAN:
            require_clean = true;
            break;
        case OPT_NO_CACHE:
            no_cache = true;
            break;
        case OPT_JUNIT:
            junit = optarg;
            break;
        case OPT_POOL:
            if (kiln_cli_parse_pool(&pools[n_pools++], optarg, &err) != 0) {
                status = kiln_cli_usage_error(&kiln_cmd_run, "%s", err.msg);
                goto done;
            }
            break;
        default:
            status = kiln_cli_usage_error(&kiln_cmd_run, "bad option");
            goto done;
        }
    }
    if (optind != argc - 1) {
        status = kiln_cli_usage_error(&kiln_cmd_run, "expected one FILE");
        goto done;
    }
    if ((status = load(&p, argv[optind])) != 0)
        goto done;
    if (kiln_run_check_params(p, n_params, params, &err) != 0) {
        status = kiln_cli_fail(&err);
        goto done;
    }
    file = kiln_path_absolute(argv[optind]);

    /* Pin the commit. */
    if (kiln_git_inspect(&git, file, &err) != 0) {
        status = kiln_cli_fail(&err);
        goto done;
    }
    if (!git.in_repo && commit_opt) {
        kiln_err_set(&err, KILN_EINVAL, "--commit: %s is not in a Git "
                     "repository", argv[optind]);
        status = kiln_cli_fail(&err);
        goto done;
    }
    if (!git.in_repo)
        fprintf(stderr, "kiln: warning: %s is not in a Git repository; the "
                "run records no commit\n", argv[optind]);
    if (git.in_repo && !commit_opt && git.dirty &&
        (require_clean || p->git_require_clean)) {
        fprintf(stderr, "kiln: error: the work tree of %s has uncommitted "
                "changes and %s requires a clean tree:\n", git.workdir,
                require_clean ? "--require-clean" : "the pipeline");
        for (size_t i = 0; i < git.n_changed; i++)
            fprintf(stderr, "  %s\n", git.changed[i]);
        fprintf(stderr, "commit or stash them, or run a commit with "
                "--commit REV\n");
        status = KILN_EXIT_USAGE;
        goto done;
    }

    state = kiln_state_dir_pick(state_opt, git.in_repo ? git.workdir : NULL,
                                p->dir);
    if (kiln_state_dir_prepare(state, &err) != 0) {
        status = KILN_EXIT_SYSTEM;
        kiln_err_print(&err);
        goto done;
    }

    if (commit_opt) {
        /* Run the pipeline as it is at REV, in a checkout of its own. */
        const char *rel = file + strlen(git.workdir) + 1;
        char *dir, *path;
        if (kiln_git_resolve(commit, file, commit_opt, &err) != 0) {
            status = kiln_cli_fail(&err);
            goto done;
        }
        dir = kiln_asprintf("%s/checkouts/%s", state, commit);
        if (kiln_git_checkout(file, commit, dir, &err) != 0) {
            free(dir);
            status = kiln_cli_fail(&err);
            goto done;
        }
        path = kiln_path_join(dir, rel);
        free(dir);
        kiln_pipeline_free(p);
        p = NULL;
        if (access(path, F_OK) != 0) {
            kiln_err_set(&err, KILN_ENOTFOUND, "%s does not exist at "
                         "commit %.12s", rel, commit);
            free(path);
            status = kiln_cli_fail(&err);
            goto done;
        }
        status = load(&p, path);
        if (status == 0 &&
            kiln_run_check_params(p, n_params, params, &err) != 0)
            status = kiln_cli_fail(&err);
        free(file);
        file = path;
        if (status != 0)
            goto done;
        root = kiln_strdup(p->dir);
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

    {
        kiln_fg_options fo;
        kiln_run_options o = KILN_RUN_OPTIONS_INIT;
        memset(&fo, 0, sizeof(fo));
        fo.store = store;
        fo.state_dir = state;
        fo.jobs = jobs;
        fo.n_pools = n_pools;
        fo.pools = pools;
        fo.cache = !no_cache;
        fo.json = json;
        fo.junit = junit;
        o.pipeline = p;
        o.file = file;
        o.hash = hash;
        o.root = root;
        o.n_params = n_params;
        o.params = params;
        o.trigger = "manual";
        o.git_commit = commit[0] ? commit : NULL;
        o.git_branch = commit_opt ? NULL : git.branch;
        o.git_dirty = commit_opt ? false : git.dirty;
        status = kiln_fg_run(&fo, &o, NULL);
    }

done:
    kiln_store_close(store);
    kiln_git_info_dispose(&git);
    kiln_pipeline_free(p);
    free(params);
    free(pools);
    free(file);
    free(state);
    free(db);
    free(root);
    return status;
}

const kiln_cmd kiln_cmd_run = {
    .name = "run",
    .usage = "run FILE [--param NAME=VALUE]... [--jobs N] [--pool NAME=N]... "
             "[--state DIR] [--commit REV] [--require-clean] [--no-cache] "
             "[--junit PATH] [--json]",
    .summary = "Run a pipeline now, in the foreground.",
    .help =
        "Options:\n"
        "  -p, --param NAME=VALUE  override a parameter (repeatable); steps\n"
        "                          see it as $KILN_PARAM_NAME\n"
        "  -j, --jobs N            run at most N steps at once (default: "
        "CPUs)\n"
        "      --pool NAME=N       at most N steps of pool NAME at once "
        "(repeatable)\n"
        "  -s, --state DIR         state directory (default: $KILN_STATE, "
        "else\n"
        "                          .kiln/ at the top of the Git work tree)\n"
        "      --commit REV        run the pipeline as it is at commit REV, "
        "in a\n"
        "                          checkout under the state directory\n"
        "      --require-clean     refuse to run with uncommitted changes\n"
        "      --junit PATH        write a JUnit XML report (a testcase per "
        "step)\n"
        "      --no-cache          run every step, even those whose outputs "
        "are\n"
        "                          cached\n"
        "      --json              print a JSON summary of the run on "
        "stdout\n\n"
        "Exit status: 0 succeeded, 1 a step failed or the run was "
        "cancelled,\n"
        "2 invalid pipeline or usage, 3 kiln itself could not work.\n",
    .exec = exec_run,
};
