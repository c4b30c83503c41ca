/* cmd-models.c: kiln models [NAME] [--limit N] [--json]
 *               kiln models promote NAME VERSION ALIAS
 *               kiln models rollback NAME ALIAS
 *               kiln models retire NAME ALIAS
 *               kiln models pull NAME[@ALIAS|:VERSION] --to PATH [--force]
 *               kiln models history NAME [--json]
 *
 * promote and rollback go through kiln_registry_move() (deploy.h): the
 * model's deploy command (register:'s deploy:) runs with the version's
 * bytes first, and the alias moves only when it succeeds. pull copies a
 * version's bytes out of the object store, each file checked against its
 * hash. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsl/dsl.h"
#include "engine/deploy.h"
#include "engine/registry.h"
#include "cli/cli.h"
#include "cli/fetch.h"

typedef struct models_opts {
    kiln_opt_list args; /* NAME, or promote/rollback/pull and theirs */
    const char *to;     /* pull --to PATH */
    bool force;         /* pull --force */
    long limit;         /* --limit N: versions a model (0: all) */
    const char *state;  /* --state DIR */
    bool json;          /* --json */
} models_opts;

static const kiln_opt options[] = {
    KILN_OPT_ARGS(models_opts, args, "NAME | promote ... | rollback ... | "
                  "retire ... | pull ... | history NAME", 0, NULL),
    KILN_OPT_VALUE(0, "to", models_opts, to, "PATH", "pull: write the "
                   "version's file (or directory) at PATH"),
    KILN_OPT_SWITCH('f', "force", models_opts, force, "pull: replace "
                    "what is at PATH"),
    KILN_OPT_INT('n', "limit", models_opts, limit, "N", 0, INT_MAX,
                 "list the newest N versions of each model, and those an "
                 "alias points at; history: the newest N moves (0: all)",
                 .def = "20"),
    KILN_CLI_OPT_STATE(models_opts),
    KILN_CLI_OPT_JSON(models_opts),
    KILN_OPT_END,
};

static void print_models(json_t *versions)
{
    json_t *v, *al;
    size_t i, k;
    char when[32];
    printf("%-16s %-7s %-14s %-12s %-6s %-12s %-20s %s\n", "MODEL",
           "VERSION", "ALIASES", "SHA256", "RUN", "COMMIT", "REGISTERED",
           "PATH");
    json_array_foreach(versions, i, v) {
        kiln_buf aliases = KILN_BUF_INIT;
        const char *commit = json_string_value(json_object_get(v,
                                                               "git_commit"));
        json_array_foreach(json_object_get(v, "aliases"), k, al)
            kiln_buf_printf(&aliases, "%s%s", k ? "," : "",
                            json_string_value(al));
        printf("%-16s %-7lld %-14s %-12.12s %-6lld %-12.10s %-20s %s\n",
               json_string_value(json_object_get(v, "name")),
               (long long)json_integer_value(json_object_get(v, "version")),
               aliases.len ? kiln_buf_cstr(&aliases) : "-",
               kiln_cli_str(v, "sha256"),
               (long long)json_integer_value(json_object_get(v, "run_id")),
               commit ? commit : "-",
               kiln_fmt_time(when, sizeof(when), json_integer_value(
                   json_object_get(v, "created_at"))),
               json_string_value(json_object_get(v, "path")));
        kiln_buf_dispose(&aliases);
    }
}

/* Whether some model of versions (name, newest first) has limit of them
 * listed or more: older ones may have been left out. */
static bool cut_short(json_t *versions, long limit)
{
    const char *last = NULL;
    json_t *v;
    size_t i;
    long n = 0;
    json_array_foreach(versions, i, v) {
        const char *name = json_string_value(json_object_get(v, "name"));
        n = last && strcmp(last, name) == 0 ? n + 1 : 1;
        last = name;
        if (limit > 0 && n >= limit)
            return true;
    }
    return false;
}

/* The exit status of a promote or rollback that failed once the model,
 * version and alias were known to exist: the deploy command failed, or
 * the version's bytes are missing or corrupt (1); a locked database is
 * kiln's own trouble (3). The alias has not moved. */
static int move_failed(const kiln_err *err)
{
    if (err->code == KILN_EBUSY)
        return kiln_cli_fail(err);
    kiln_err_print(err);
    return KILN_EXIT_FAILED;
}

/* Point alias of name at version (0: roll it back), the model's deploy
 * command first; say what happened. */
static int move(kiln_store *store, const char *state, const char *name,
                const char *alias, int version)
{
    kiln_err err = KILN_ERR_INIT;
    kiln_model_version v;
    kiln_move m = {0};
    char *dir, *command = NULL, *workdir = NULL;
    int target = version, now = 0, status = KILN_EXIT_OK;

    /* What does not exist is a usage error (2), before anything runs. */
    if (version == 0 &&
        kiln_store_model_rollback_target(store, &target, name, alias,
                                         &err) != 0)
        return kiln_cli_fail(&err);
    if (kiln_store_model_find(store, &v, name, NULL, target, &err) != 0)
        return kiln_cli_fail(&err);
    kiln_model_version_dispose(&v);
    if (kiln_store_model_hook_get(store, &command, &workdir, NULL, name,
                                  &err) != 0)
        return kiln_cli_fail(&err);
    dir = kiln_cli_state_dir(state);
    /* The deploy command's output goes to stderr: stdout says what
     * became of the alias. */
    m.name = name;
    m.alias = alias;
    m.version = version;
    m.who.actor = kiln_user_name();
    m.who.via = "cli";
    if (kiln_registry_move(&now, store, dir, &m, &err) != 0)
        status = move_failed(&err);
    else if (version)
        printf("%s of model %s is now version %d%s\n", alias, name, now,
               command ? " (its deploy command succeeded)" : "");
    else
        printf("%s of model %s is back at version %d%s\n", alias, name, now,
               command ? " (its deploy command succeeded)" : "");
    free(dir);
    free(command);
    free(workdir);
    return status;
}

/* kiln models retire NAME ALIAS: the alias points nowhere (a challenger
 * that lost); no deploy command runs, nothing is served from it. */
static int retire(const char *state, const char *name, const char *alias)
{
    kiln_store *store = NULL;
    kiln_err err = KILN_ERR_INIT;
    kiln_model_version v;
    kiln_audit_who who = {kiln_user_name(), "cli"};
    int was = 0, status = KILN_EXIT_OK;

    if (kiln_cli_open_store(&store, state, false, &err) != 0 ||
        kiln_store_model_find(store, &v, name, alias, 0, &err) != 0 ||
        (kiln_model_version_dispose(&v),
         kiln_store_model_retire(store, &was, name, alias, &who, &err)) != 0)
        status = kiln_cli_fail(&err);
    else
        printf("%s of model %s is retired (it was version %d; kiln models "
               "rollback %s %s brings it back)\n", alias, name, was, name,
               alias);
    kiln_store_close(store);
    return status;
}

/* NAME, NAME@ALIAS or NAME:VERSION: *alias points into ref (or NULL),
 * *version is 0 for NAME alone (the newest). false when malformed. */
static bool parse_ref(char *name, size_t cap, const char **alias,
                      int *version, const char *ref)
{
    size_t n = strcspn(ref, "@:");
    const char *rest = ref + n + 1;
    char *end;
    long v;

    *alias = NULL;
    *version = 0;
    if (n == 0 || n >= cap)
        return false;
    memcpy(name, ref, n);
    name[n] = '\0';
    if (!kiln_dsl_valid_name(name))
        return false;
    if (!ref[n])
        return true;
    if (ref[n] == '@') {
        *alias = rest;
        return kiln_dsl_valid_name(rest);
    }
    if (!*rest || strspn(rest, "0123456789") != strlen(rest) ||
        strlen(rest) > 9)
        return false;
    v = strtol(rest, &end, 10);
    *version = (int)v;
    return v > 0;
}

static void print_history(json_t *moves)
{
    json_t *m;
    size_t i;
    char when[32], from[16], to[16];
    printf("%-20s %-14s %-7s    %-7s %-16s %-7s %s\n", "TIME", "ALIAS",
           "FROM", "TO", "BY", "VIA", "ACTION");
    json_array_foreach(moves, i, m) {
        json_t *f = json_object_get(m, "from"), *t = json_object_get(m, "to");
        snprintf(from, sizeof(from), "%lld", (long long)json_integer_value(f));
        snprintf(to, sizeof(to), "%lld", (long long)json_integer_value(t));
        if (json_integer_value(t) == 0) /* retired: pointing nowhere */
            snprintf(to, sizeof(to), "none");
        printf("%-20s %-14s %-7s -> %-7s %-16s %-7s %s\n",
               kiln_fmt_time(when, sizeof(when),
                             json_integer_value(json_object_get(m, "at"))),
               kiln_cli_str(m, "alias"), json_is_integer(f) ? from : "-",
               json_is_integer(t) ? to : "-", kiln_cli_str(m, "by"),
               kiln_cli_str(m, "via"), kiln_cli_str(m, "action"));
    }
}

/* kiln models history NAME: the moves of its aliases, from the audit
 * trail (as the status page's models view shows them), the newest
 * --limit of them. */
static int history(const models_opts *o, const char *name)
{
    kiln_store *store = NULL;
    kiln_err err = KILN_ERR_INIT;
    json_t *moves = NULL, *versions = NULL;
    int status = KILN_EXIT_OK;
    bool cut;

    if (kiln_cli_open_store(&store, o->state, true, &err) != 0 ||
        kiln_store_models_newest_json(store, &versions, name, 1, false,
                                      &err) != 0 ||
        kiln_store_alias_history_json(store, &moves, name,
                                      o->limit ? o->limit + 1 : 0,
                                      &err) != 0) {
        status = kiln_cli_fail(&err);
        goto done;
    }
    if (json_array_size(versions) == 0 && json_array_size(moves) == 0) {
        kiln_err_set(&err, KILN_ENOTFOUND, "no model %s", name);
        status = kiln_cli_fail(&err);
        goto done;
    }
    /* One more than asked for: whether there are earlier ones. */
    cut = o->limit > 0 && json_array_size(moves) > (size_t)o->limit;
    if (cut)
        json_array_remove(moves, 0);
    kiln_cli_output(moves, o->json, print_history);
    if (cut && !o->json)
        printf("(the newest %ld moves; --limit 0 lists them all)\n",
               o->limit);
done:
    json_decref(moves);
    json_decref(versions);
    kiln_store_close(store);
    return status;
}

/* kiln models pull NAME[@ALIAS|:VERSION] --to PATH [--force] */
static int pull(const models_opts *o, const char *ref)
{
    kiln_store *store = NULL;
    kiln_err err = KILN_ERR_INIT;
    kiln_model_version v;
    kiln_registry_pin pin;
    json_t *versions = NULL;
    char name[128], *dir = NULL, *to = NULL, *tmp = NULL;
    const char *alias;
    int version, rc, status = KILN_EXIT_OK;

    if (!parse_ref(name, sizeof(name), &alias, &version, ref))
        return kiln_cli_usage_error(&kiln_cmd_models, "pull expects "
                                    "NAME, NAME@ALIAS or NAME:VERSION, got "
                                    "\"%s\"", ref);
    if (!o->to || !*o->to)
        return kiln_cli_usage_error(&kiln_cmd_models, "pull expects --to "
                                    "PATH");
    memset(&pin, 0, sizeof(pin));
    if (kiln_cli_open_store(&store, o->state, true, &err) != 0)
        goto fail;
    /* NAME alone: its newest version. */
    if (!alias && !version) {
        if (kiln_store_models_newest_json(store, &versions, name, 1, false,
                                          &err) != 0)
            goto fail;
        if (json_array_size(versions) == 0) {
            kiln_err_set(&err, KILN_ENOTFOUND, "no model %s", name);
            goto fail;
        }
        version = (int)json_integer_value(json_object_get(
            json_array_get(versions, 0), "version"));
    }
    /* An unknown model, alias or version: 2. */
    if (kiln_store_model_find(store, &v, name, alias, version, &err) != 0)
        goto fail;
    version = v.version;
    kiln_model_version_dispose(&v);
    /* From here, bytes missing or corrupt in the store: 1. */
    status = KILN_EXIT_FAILED;
    to = kiln_fetch_target(o->to);
    dir = kiln_cli_state_dir(o->state);
    if ((rc = kiln_registry_resolve(&pin, store, name, NULL, version,
                                    &err)) != 0)
        goto fail;
    if ((rc = kiln_fetch_begin(&tmp, to, pin.is_dir, o->force, &err)) != 0) {
        status = KILN_EXIT_USAGE;
        goto fail;
    }
    rc = kiln_registry_copy(dir, &pin, tmp, &err);
    /* Said here: the file it names is the hidden one being written. */
    if (rc == KILN_ENOTFOUND || rc == KILN_EINVAL)
        kiln_err_set(&err, rc, "version %d of model %s (sha256 %.12s): %s "
                     "in %s/objects; nothing was written", pin.version,
                     name, pin.sha256, rc == KILN_ENOTFOUND
                     ? "its bytes are missing" : "its bytes are corrupt",
                     dir);
    if ((rc = kiln_fetch_finish(tmp, to, pin.is_dir, rc, &err)) != 0)
        goto fail;
    if (o->json) {
        json_t *doc = json_pack("{s:s, s:i, s:s?, s:s, s:b, s:I, s:s}",
                                "name", name, "version", pin.version,
                                "alias", alias, "sha256", pin.sha256,
                                "is_dir", pin.is_dir, "size",
                                (json_int_t)pin.size, "to", to);
        if (pin.is_dir)
            json_object_set_new(doc, "files",
                                json_integer((json_int_t)pin.files.n));
        kiln_cli_print_json(doc);
        json_decref(doc);
    } else {
        char what[64];
        if (pin.is_dir)
            snprintf(what, sizeof(what), "a directory of %zu files",
                     pin.files.n);
        else
            snprintf(what, sizeof(what), "%lld bytes", (long long)pin.size);
        printf("wrote %s: version %d of model %s%s%s%s, %s, sha256 %s\n",
               to, pin.version, name, alias ? " (" : "", alias ? alias : "",
               alias ? ")" : "", what, pin.sha256);
    }
    status = KILN_EXIT_OK;
    goto out;
fail:
    if (status == KILN_EXIT_OK || err.code == KILN_ERROR ||
        err.code == KILN_EBUSY)
        status = kiln_cli_fail(&err);
    else
        kiln_err_print(&err);
out:
    kiln_registry_pin_dispose(&pin);
    json_decref(versions);
    free(dir);
    free(to);
    kiln_store_close(store);
    return status;
}

static int exec_models(void *opts)
{
    const models_opts *o = opts;
    const char *state = o->state;
    size_t argc = o->args.n;
    char **argv = KILN_OPT_STRINGS(o->args);
    kiln_store *store = NULL;
    kiln_err err = KILN_ERR_INIT;
    json_t *versions = NULL;
    int status = KILN_EXIT_OK, version;
    char *end;

    if ((o->to || o->force) && !(argc >= 1 && strcmp(argv[0], "pull") == 0))
        return kiln_cli_usage_error(&kiln_cmd_models, "--to and --force "
                                    "are pull's");
    if (argc >= 1 && strcmp(argv[0], "promote") == 0) {
        if (argc != 4)
            return kiln_cli_usage_error(&kiln_cmd_models, "promote expects "
                                        "NAME VERSION ALIAS");
        version = (int)strtol(argv[2], &end, 10);
        if (*end || version < 1)
            return kiln_cli_usage_error(&kiln_cmd_models, "invalid version "
                                        "\"%s\"", argv[2]);
        if (!kiln_dsl_valid_name(argv[3]))
            return kiln_cli_usage_error(&kiln_cmd_models, "invalid alias "
                                        "\"%s\": use lowercase letters, "
                                        "digits, \"-\" and \"_\"", argv[3]);
        if (kiln_cli_open_store(&store, state, false, &err) != 0)
            status = kiln_cli_fail(&err);
        else
            status = move(store, state, argv[1], argv[3], version);
    } else if (argc >= 1 && strcmp(argv[0], "rollback") == 0) {
        if (argc != 3)
            return kiln_cli_usage_error(&kiln_cmd_models, "rollback expects "
                                        "NAME ALIAS");
        if (kiln_cli_open_store(&store, state, false, &err) != 0)
            status = kiln_cli_fail(&err);
        else
            status = move(store, state, argv[1], argv[2], 0);
    } else if (argc >= 1 && strcmp(argv[0], "retire") == 0) {
        if (argc != 3)
            return kiln_cli_usage_error(&kiln_cmd_models, "retire expects "
                                        "NAME ALIAS");
        status = retire(state, argv[1], argv[2]);
    } else if (argc >= 1 && strcmp(argv[0], "history") == 0) {
        if (argc != 2)
            return kiln_cli_usage_error(&kiln_cmd_models, "history expects "
                                        "NAME");
        return history(o, argv[1]);
    } else if (argc >= 1 && strcmp(argv[0], "pull") == 0) {
        if (argc != 2)
            return kiln_cli_usage_error(&kiln_cmd_models, "pull expects "
                                        "NAME[@ALIAS|:VERSION] --to PATH");
        return pull(o, argv[1]);
    } else if (argc <= 1) {
        if (kiln_cli_open_store(&store, state, true, &err) != 0 ||
            kiln_store_models_newest_json(store, &versions,
                                          argc ? argv[0] : NULL,
                                          (int)o->limit, o->json,
                                          &err) != 0) {
            status = kiln_cli_fail(&err);
        } else if (argc && json_array_size(versions) == 0) {
            kiln_err_set(&err, KILN_ENOTFOUND, "no model %s", argv[0]);
            status = kiln_cli_fail(&err);
        } else {
            kiln_cli_output(versions, o->json, print_models);
            if (!o->json && cut_short(versions, o->limit))
                printf("(the newest %ld versions of each model, and those "
                       "an alias points at; --limit 0 lists them all)\n",
                       o->limit);
        }
        json_decref(versions);
    } else {
        status = kiln_cli_usage_error(&kiln_cmd_models, "unexpected "
                                      "argument \"%s\"", argv[1]);
    }
    kiln_store_close(store);
    return status;
}

const kiln_cmd kiln_cmd_models = {
    .name = "models",
    .summary = "The model registry: versions, aliases, promote, rollback, "
               "pull.",
    .help = "  kiln models [NAME] [--limit N] [--json]\n"
            "  kiln models promote NAME VERSION ALIAS\n"
            "  kiln models rollback NAME ALIAS\n"
            "  kiln models retire NAME ALIAS\n"
            "  kiln models pull NAME[@ALIAS|:VERSION] --to PATH [--force] "
            "[--json]\n"
            "  kiln models history NAME [--json]\n\n"
            "A step with `register: {model: NAME, path: OUTPUT}` registers "
            "that output as\nthe model's next version, its bytes kept in "
            "the object store by hash (the\nSHA256 column: its first 12 hex "
            "digits) and never removed by kiln gc. Steps\nread versions "
            "with `models: [NAME@ALIAS]` or `[NAME:VERSION]`, as\n"
            "$KILN_MODEL_<NAME>, and every alias as "
            "$KILN_MODEL_<NAME>_<ALIAS>: read-only\ncopies of exactly "
            "those bytes.\n\n"
            "promote and rollback first run the model's deploy command\n"
            "(`register: {..., deploy: CMD}`) with the version's copy: "
            "$KILN_MODEL_PATH,\n$KILN_MODEL_NAME, _VERSION, _ALIAS, "
            "_SHA256, and $1 $2 $3 = path, version,\nalias. The alias "
            "moves only when it exits 0.\n\n"
            "pull writes a version's file (or directory) at --to PATH, "
            "each file checked\nagainst its hash; NAME alone is its newest "
            "version.\n",
    .notes = "Exit status: 0 done; 1 the deploy command failed, or the "
             "version's bytes are\nmissing or corrupt in the store (the "
             "alias did not move, nothing was written);\n2 an unknown "
             "model, version or alias, a usage error, or PATH exists "
             "without\n--force; 3 kiln could not work.\n",
    .opts = options,
    .opts_size = sizeof(models_opts),
    .exec = exec_models,
};
