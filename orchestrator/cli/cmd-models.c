/* cmd-models.c: kiln models [NAME] [--json]
 *               kiln models promote NAME VERSION ALIAS
 *               kiln models rollback NAME ALIAS */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsl/dsl.h"
#include "cli/cli.h"

typedef struct models_opts {
    kiln_opt_list args; /* NAME, or promote/rollback and theirs */
    const char *state;  /* --state DIR */
    bool json;          /* --json */
} models_opts;

static const kiln_opt options[] = {
    KILN_OPT_ARGS(models_opts, args, "NAME | promote NAME VERSION ALIAS | "
                  "rollback NAME ALIAS", 0, NULL),
    KILN_CLI_OPT_STATE(models_opts),
    KILN_CLI_OPT_JSON(models_opts),
    KILN_OPT_END,
};

static void print_models(json_t *versions)
{
    json_t *v, *al;
    size_t i, k;
    char when[32];
    printf("%-16s %-7s %-14s %-6s %-12s %-20s %s\n", "MODEL", "VERSION",
           "ALIASES", "RUN", "COMMIT", "REGISTERED", "PATH");
    json_array_foreach(versions, i, v) {
        kiln_buf aliases = KILN_BUF_INIT;
        const char *commit = json_string_value(json_object_get(v,
                                                               "git_commit"));
        json_array_foreach(json_object_get(v, "aliases"), k, al)
            kiln_buf_printf(&aliases, "%s%s", k ? "," : "",
                            json_string_value(al));
        printf("%-16s %-7lld %-14s %-6lld %-12.10s %-20s %s\n",
               json_string_value(json_object_get(v, "name")),
               (long long)json_integer_value(json_object_get(v, "version")),
               aliases.len ? kiln_buf_cstr(&aliases) : "-",
               (long long)json_integer_value(json_object_get(v, "run_id")),
               commit ? commit : "-",
               kiln_fmt_time(when, sizeof(when), json_integer_value(
                   json_object_get(v, "created_at"))),
               json_string_value(json_object_get(v, "path")));
        kiln_buf_dispose(&aliases);
    }
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
        if (kiln_cli_open_store(&store, state, false, &err) != 0 ||
            kiln_store_model_promote(store, argv[1], version, argv[3],
                                     &err) != 0)
            status = kiln_cli_fail(&err);
        else
            printf("%s of model %s is now version %d\n", argv[3], argv[1],
                   version);
    } else if (argc >= 1 && strcmp(argv[0], "rollback") == 0) {
        if (argc != 3)
            return kiln_cli_usage_error(&kiln_cmd_models, "rollback expects "
                                        "NAME ALIAS");
        if (kiln_cli_open_store(&store, state, false, &err) != 0 ||
            kiln_store_model_rollback(store, &version, argv[1], argv[2],
                                      &err) != 0)
            status = kiln_cli_fail(&err);
        else
            printf("%s of model %s is back at version %d\n", argv[2],
                   argv[1], version);
    } else if (argc <= 1) {
        if (kiln_cli_open_store(&store, state, true, &err) != 0 ||
            kiln_store_models_json(store, &versions, argc ? argv[0] : NULL,
                                   &err) != 0) {
            status = kiln_cli_fail(&err);
        } else if (argc && json_array_size(versions) == 0) {
            kiln_err_set(&err, KILN_ENOTFOUND, "no model %s", argv[0]);
            status = kiln_cli_fail(&err);
        } else {
            kiln_cli_output(versions, o->json, print_models);
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
    .summary = "The model registry: versions, aliases, promote, rollback.",
    .help = "A step with `register: {model: NAME, path: OUTPUT}` registers "
            "that output as\nthe model's next version. Steps see each "
            "alias as $KILN_MODEL_<NAME>_<ALIAS>.\n",
    .opts = options,
    .opts_size = sizeof(models_opts),
    .exec = exec_models,
};
