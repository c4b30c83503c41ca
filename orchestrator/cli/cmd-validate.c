/* cmd-validate.c: kiln validate [--format text|github] FILE... */
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dsl/dsl.h"
#include "engine/secrets.h"
#include "executors/executor.h"
#include "cli/cli.h"

typedef struct validate_opts {
    kiln_opt_list files; /* FILE... */
    bool quiet;          /* --quiet */
    const char *format;  /* --format text|github */
} validate_opts;

static const kiln_opt options[] = {
    KILN_OPT_ARGS(validate_opts, files, "FILE", 1, NULL),
    KILN_OPT_SWITCH('q', "quiet", validate_opts, quiet,
                    "print nothing for valid files"),
    KILN_OPT_CHOICE('f', "format", validate_opts, format, "text|github",
                    "text (FILE:LINE:COL: error: ..., on stderr) or github "
                    "(::error annotations on stdout, for GitHub Actions)",
                    .def = "text"),
    KILN_OPT_END,
};

/* GitHub Actions workflow commands: "%", CR and LF escaped everywhere,
 * and ":" and "," too in properties. */
static void gh_escape(const char *s, bool property)
{
    for (; *s; s++) {
        if (*s == '%')
            fputs("%25", stdout);
        else if (*s == '\r')
            fputs("%0D", stdout);
        else if (*s == '\n')
            fputs("%0A", stdout);
        else if (property && *s == ':')
            fputs("%3A", stdout);
        else if (property && *s == ',')
            fputs("%2C", stdout);
        else
            putchar(*s);
    }
}

/* One ::error annotation per error: the pull request shows each at its
 * line. */
static void print_github(const kiln_diag *d, const char *file)
{
    for (size_t i = 0; i < d->n; i++) {
        const kiln_err *e = &d->errs[i];
        fputs("::error file=", stdout);
        gh_escape(e->pos.file ? e->pos.file : file, true);
        if (e->pos.line)
            printf(",line=%u,col=%u", e->pos.line, e->pos.col);
        fputs(",title=kiln validate::", stdout);
        gh_escape(e->msg, false);
        putchar('\n');
    }
}

/* Is name an executable file in a directory of PATH? Only looked up:
 * validating runs nothing. */
static bool on_path(const char *name)
{
    const char *path = getenv("PATH");
    bool found = false;
    for (const char *p = path ? path : ""; *p && !found;) {
        size_t len = strcspn(p, ":");
        char *dir = kiln_strndup(p, len);
        char *full = kiln_path_join(len ? dir : ".", name);
        struct stat st;
        found = access(full, X_OK) == 0 && stat(full, &st) == 0 &&
                S_ISREG(st.st_mode);
        free(dir);
        free(full);
        p += len + (p[len] == ':');
    }
    return found;
}

/* Does step s run a container on this machine? A Slurm step runs its
 * container on a compute node, whose engine cannot be seen from here. */
static bool local_container(const kiln_step *s)
{
    return s->container && strcmp(s->executor, "local") == 0;
}

/* A container engine (podman, docker) that local steps use must be
 * installed: said once per engine, at its first step. */
static void check_engine(const kiln_pipeline *p, size_t i, kiln_diag *diag)
{
    const kiln_step *s = &p->steps[i];
    const char *engine = s->container->engine;
    for (size_t j = 0; j < i; j++)
        if (local_container(&p->steps[j]) &&
            strcmp(p->steps[j].container->engine, engine) == 0)
            return;
    if (on_path(engine))
        return;
    diag->errs = kiln_realloc(diag->errs, (diag->n + 1) * sizeof(kiln_err));
    kiln_err_set_at(&diag->errs[diag->n++], KILN_EINVAL, s->pos,
                    "step \"%s\": container engine %s not found in PATH "
                    "(install %s, or use \"engine: %s\" in the step's "
                    "container:)", s->name, engine, engine,
                    strcmp(engine, "podman") == 0 ? "docker" : "podman");
}

/* Checks that need more than the file: executors must exist here, and
 * be usable on this machine (Slurm's commands installed), and so must
 * the container engines of the steps that run here. */
int kiln_cli_check_pipeline(const kiln_pipeline *p, kiln_diag *diag)
{
    for (size_t i = 0; i < p->n_steps; i++) {
        const kiln_step *s = &p->steps[i];
        kiln_err err = KILN_ERR_INIT;
        if (local_container(s))
            check_engine(p, i, diag);
        if (!kiln_executor_exists(s->executor)) {
            diag->errs = kiln_realloc(diag->errs,
                                      (diag->n + 1) * sizeof(kiln_err));
            kiln_err_set_at(&diag->errs[diag->n++], KILN_EINVAL, s->pos,
                            "step \"%s\": unknown executor \"%s\" "
                            "(available: local, slurm)", s->name,
                            s->executor);
        } else if (kiln_executor_check(s->executor, &err) != 0) {
            /* Said once per executor, at its first step. */
            size_t j;
            for (j = 0; j < i; j++)
                if (strcmp(p->steps[j].executor, s->executor) == 0)
                    break;
            if (j < i)
                continue;
            diag->errs = kiln_realloc(diag->errs,
                                      (diag->n + 1) * sizeof(kiln_err));
            kiln_err_set_at(&diag->errs[diag->n++], KILN_EINVAL, s->pos,
                            "step \"%s\": %s", s->name, err.msg);
        }
    }
    return diag->n ? KILN_EINVAL : 0;
}

/* Warn that input j of s names path, which is not a file (a FIFO, a
 * device): kiln never reads it, so it is not part of the step's key. */
static void warn_special_input(const kiln_step *s, size_t j,
                               const char *path)
{
    struct stat sb;
    if (stat(path, &sb) != 0 || S_ISREG(sb.st_mode) || S_ISDIR(sb.st_mode))
        return;
    fprintf(stderr, "%s:%u:%u: warning: step \"%s\": input \"%s\": %s is "
            "%s, not a file; kiln does not hash it\n", s->inputs.pos[j].file,
            s->inputs.pos[j].line, s->inputs.pos[j].col, s->name,
            s->inputs.items[j], path, kiln_file_kind(sb.st_mode));
}

void kiln_cli_warn_inputs(const kiln_pipeline *p)
{
    for (size_t i = 0; i < p->n_steps; i++) {
        const kiln_step *s = &p->steps[i];
        char *wd = kiln_path_join(p->dir, s->workdir);
        for (size_t j = 0; j < s->inputs.n; j++) {
            char *path;
            bool there;
            if (s->input_from && s->input_from[j] != (size_t)-1)
                continue;
            path = kiln_path_join(wd, s->inputs.items[j]);
            if (strpbrk(path, "*?[")) {
                glob_t g;
                there = glob(path, 0, NULL, &g) == 0;
                for (size_t k = 0; there && k < g.gl_pathc; k++)
                    warn_special_input(s, j, g.gl_pathv[k]);
                if (there)
                    globfree(&g);
            } else {
                there = access(path, F_OK) == 0;
                if (there)
                    warn_special_input(s, j, path);
            }
            if (!there)
                fprintf(stderr, "%s:%u:%u: warning: step \"%s\": input "
                        "\"%s\" exists neither on disk (%s) nor as an "
                        "output of a step\n", s->inputs.pos[j].file,
                        s->inputs.pos[j].line, s->inputs.pos[j].col,
                        s->name, s->inputs.items[j], path);
            free(path);
        }
        free(wd);
    }
}

/* Warn about the {env:} secrets whose value here is too short to be
 * masked in logs (other values are only read when a step starts). Each
 * entry once, where it is written. */
static void warn_short_secrets(const kiln_pipeline *p)
{
    for (size_t i = 0; i <= p->n_steps; i++) {
        const kiln_secret *list = i ? p->steps[i - 1].secrets : p->secrets;
        size_t n = i ? p->steps[i - 1].n_secrets : p->n_secrets;
        for (size_t j = 0; j < n; j++) {
            const kiln_secret *s = &list[j];
            const char *value = s->kind == KILN_SECRET_ENV ? getenv(s->ref)
                                                           : NULL;
            bool seen = false;
            if (!value || strlen(value) >= KILN_SECRET_MIN_MASKED)
                continue;
            /* A step's list holds the pipeline's entries too. */
            for (size_t k = 0; k < p->n_secrets && i; k++)
                seen |= p->secrets[k].pos.line == s->pos.line &&
                        p->secrets[k].pos.col == s->pos.col;
            for (size_t k = 0; k + 1 < i && !seen; k++)
                for (size_t m = 0; m < p->steps[k].n_secrets; m++)
                    seen |= p->steps[k].secrets[m].pos.line == s->pos.line &&
                            p->steps[k].secrets[m].pos.col == s->pos.col;
            if (!seen)
                fprintf(stderr, "%s:%u:%u: warning: secret \"%s\": $%s is "
                        "shorter than %d characters: it will not be masked "
                        "in logs\n", s->pos.file, s->pos.line, s->pos.col,
                        s->name, s->ref, KILN_SECRET_MIN_MASKED);
        }
    }
}

static int exec_validate(void *opts)
{
    const validate_opts *o = opts;
    char **argv = KILN_OPT_STRINGS(o->files);
    bool github = strcmp(o->format, "github") == 0;
    int status = KILN_EXIT_OK;

    for (size_t i = 0; i < o->files.n; i++) {
        kiln_pipeline *p = NULL;
        kiln_diag diag = KILN_DIAG_INIT;
        int rc = kiln_dsl_load_file(&p, argv[i], &diag);
        if (rc == 0)
            rc = kiln_cli_check_pipeline(p, &diag);
        if (rc == 0) {
            warn_short_secrets(p);
            kiln_cli_warn_inputs(p);
        }
        if (rc != 0) {
            if (github)
                print_github(&diag, argv[i]);
            else
                kiln_diag_print(&diag);
            if (rc == KILN_EINVAL || status == KILN_EXIT_OK)
                status = rc == KILN_EINVAL ? KILN_EXIT_USAGE
                                           : KILN_EXIT_SYSTEM;
        } else if (!o->quiet) {
            printf("%s: ok (pipeline \"%s\", %zu step%s)\n", argv[i],
                   p->name, p->n_steps, p->n_steps == 1 ? "" : "s");
        }
        kiln_diag_dispose(&diag);
        kiln_pipeline_free(p);
    }
    return status;
}

const kiln_cmd kiln_cmd_validate = {
    .name = "validate",
    .summary = "Check pipeline files and report every error as "
               "FILE:LINE:COL.",
    .opts = options,
    .opts_size = sizeof(validate_opts),
    .exec = exec_validate,
};
