/* cmd-artifacts.c: kiln artifacts get SHA|ID|PATH --to PATH [--force]
 *
 * Puts a recorded artifact's bytes back from the object store, by the
 * hash recorded for it: a file's object, or a directory's files (the
 * store's tree_files), each checked against its hash before anything is
 * written. What the store did not keep (kiln gc collected it, or it was
 * never an output kept for the cache, a recorded input or a registered
 * model) is an error, never a copy of whatever is at the path now. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cache.h"
#include "cli/cli.h"
#include "cli/fetch.h"

typedef struct artifacts_opts {
    const char *verb;   /* get */
    const char *what;   /* SHA|ID|PATH */
    const char *to;     /* --to PATH */
    bool force;         /* --force */
    const char *state;  /* --state DIR */
    bool json;          /* --json */
} artifacts_opts;

static const kiln_opt options[] = {
    KILN_OPT_ARG(artifacts_opts, verb, "get", NULL),
    KILN_OPT_ARG(artifacts_opts, what, "SHA|ID|PATH", "the artifact: its "
                 "content hash (or 6+ hex digits of it), its id, or the "
                 "path it was recorded at (the newest artifact there)"),
    KILN_OPT_VALUE(0, "to", artifacts_opts, to, "PATH", "write its file "
                   "(or directory) at PATH", .flags = KILN_OPT_REQUIRED),
    KILN_OPT_SWITCH('f', "force", artifacts_opts, force,
                    "replace what is at PATH"),
    KILN_CLI_OPT_STATE(artifacts_opts),
    KILN_CLI_OPT_JSON_HELP(artifacts_opts, "print what was written as "
                           "JSON"),
    KILN_OPT_END,
};

static int exec_artifacts(void *opts)
{
    const artifacts_opts *o = opts;
    kiln_store *store = NULL;
    kiln_err err = KILN_ERR_INIT;
    kiln_file_list files;
    json_t *node = NULL;
    char *dir = NULL, *objects = NULL, *to = NULL, *tmp = NULL;
    char *one_rel[1], *one_sha[1], *const *rel, *const *sha, *base = NULL;
    char why[sizeof(err.msg)];
    const char *sha256, *path;
    int64_t id, size;
    size_t n;
    bool is_dir;
    int rc, status = KILN_EXIT_OK;

    memset(&files, 0, sizeof(files));
    if (strcmp(o->verb, "get") != 0)
        return kiln_cli_usage_error(&kiln_cmd_artifacts, "unknown "
                                    "subcommand \"%s\" (expected get)",
                                    o->verb);
    if (!*o->to)
        return kiln_cli_usage_error(&kiln_cmd_artifacts, "--to expects a "
                                    "path");
    /* An unknown or ambiguous artifact: 2. */
    if (kiln_cli_open_store(&store, o->state, true, &err) != 0 ||
        kiln_store_artifact_find(store, &id, o->what, 0, &err) != 0 ||
        kiln_store_lineage_json(store, &node, id, true, 1, 0, &err) != 0) {
        status = kiln_cli_fail(&err);
        goto out;
    }
    sha256 = json_string_value(json_object_get(node, "sha256"));
    path = json_string_value(json_object_get(node, "path"));
    is_dir = json_is_true(json_object_get(node, "is_dir"));
    size = json_integer_value(json_object_get(node, "size"));
    if (!sha256 || !path) {
        kiln_err_set(&err, KILN_ERROR, "artifact %lld has no recorded "
                     "hash", (long long)id);
        status = kiln_cli_fail(&err);
        goto out;
    }
    if (is_dir) {
        if (kiln_store_tree_files(store, &files, sha256, &err) != 0) {
            status = kiln_cli_fail(&err);
            goto out;
        }
        n = files.n;
        rel = files.rel;
        sha = files.sha256;
    } else {
        one_sha[0] = (char *)sha256;
        n = 1;
        rel = one_rel;
        sha = one_sha;
    }
    /* From here, bytes the store does not have: 1. */
    if (n == 0) {
        kiln_err_set(&err, KILN_ENOTFOUND, "artifact %lld (%s, sha256 "
                     "%.12s) is not kept: the store has no record of the "
                     "directory's files (only cached outputs, recorded "
                     "inputs and registered models are kept)",
                     (long long)id, path, sha256);
        kiln_err_print(&err);
        status = KILN_EXIT_FAILED;
        goto out;
    }
    to = kiln_fetch_target(o->to);
    if (kiln_fetch_begin(&tmp, to, is_dir, o->force, &err) != 0) {
        status = kiln_cli_fail(&err);
        goto out;
    }
    dir = kiln_cli_state_dir(o->state);
    objects = kiln_path_join(dir, "objects");
    if (is_dir) {
        rc = kiln_cache_restore(objects, tmp, n, rel, sha, &err);
    } else {
        /* A file: the object at tmp itself. */
        char *parent = kiln_path_dirname(tmp);
        const char *slash = strrchr(tmp, '/');
        base = kiln_strdup(slash ? slash + 1 : tmp);
        one_rel[0] = base;
        rc = kiln_cache_restore(objects, parent, 1, one_rel, sha, &err);
        free(parent);
    }
    /* A directory's message names the file; a file's would name the
     * hidden one being written. */
    snprintf(why, sizeof(why), "%s", is_dir ? err.msg : rc == KILN_ENOTFOUND
             ? "its object is missing" : "its object is corrupt");
    if (rc == KILN_ENOTFOUND)
        kiln_err_set(&err, rc, "artifact %lld (%s, sha256 %.12s) is not "
                     "kept: %s (kiln gc removed it, or it was never kept: "
                     "only cached outputs, recorded inputs and registered "
                     "models are); run kiln gc with a larger --max-size "
                     "next time", (long long)id, path, sha256, why);
    else if (rc == KILN_EINVAL)
        kiln_err_set(&err, rc, "artifact %lld (%s, sha256 %.12s): %s in "
                     "%s; nothing was written", (long long)id, path, sha256,
                     why, objects);
    if ((rc = kiln_fetch_finish(tmp, to, is_dir, rc, &err)) != 0) {
        if (rc == KILN_ENOTFOUND || rc == KILN_EINVAL) {
            kiln_err_print(&err);
            status = KILN_EXIT_FAILED;
        } else {
            status = kiln_cli_fail(&err);
        }
        goto out;
    }
    if (o->json) {
        json_t *doc = json_pack("{s:I, s:s, s:s, s:b, s:I, s:I, s:s}", "id",
                                (json_int_t)id, "path", path, "sha256",
                                sha256, "is_dir", is_dir, "size",
                                (json_int_t)size, "files", (json_int_t)n,
                                "to", to);
        kiln_cli_print_json(doc);
        json_decref(doc);
    } else if (is_dir) {
        printf("wrote %s: artifact %lld (%s), a directory of %zu files, "
               "sha256 %s\n", to, (long long)id, path, n, sha256);
    } else {
        printf("wrote %s: artifact %lld (%s), %lld bytes, sha256 %s\n", to,
               (long long)id, path, (long long)size, sha256);
    }
out:
    kiln_file_list_dispose(&files);
    json_decref(node);
    free(base);
    free(objects);
    free(dir);
    free(to);
    kiln_store_close(store);
    return status;
}

const kiln_cmd kiln_cmd_artifacts = {
    .name = "artifacts",
    .summary = "Put a recorded artifact's bytes back from the object store.",
    .help = "get writes the artifact's file (or directory) at --to PATH "
            "from the object\nstore, by the hash recorded for it, each file "
            "checked against its hash before\nanything is written. The "
            "store keeps cached outputs and recorded inputs\n(within kiln "
            "gc's --max-size) and registered model versions (always).\n",
    .notes = "Exit status: 0 written; 1 its bytes are not kept in the store, "
             "or are corrupt\n(nothing was written); 2 no such artifact, an "
             "ambiguous hash prefix, a usage\nerror, or PATH exists without "
             "--force; 3 kiln could not work.\n",
    .opts = options,
    .opts_size = sizeof(artifacts_opts),
    .exec = exec_artifacts,
};
