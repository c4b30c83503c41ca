/*
 * dsl.h: pipeline files (YAML) into an immutable, validated kiln_pipeline.
 *
 * dsl/ knows libyaml and nothing of libuv, SQLite or executors. A loaded
 * pipeline lives in one arena and is freed as a unit with
 * kiln_pipeline_free(). Every model node keeps the kiln_pos of the YAML node
 * it came from, so later checks (graph errors, runtime messages) can still
 * point at the file.
 */
#ifndef KILN_DSL_H
#define KILN_DSL_H

#include "base/base.h"
#include "dsl/cron.h"
#include "dsl/expr.h"

/* Step kinds, from `kind:`. */
typedef enum kiln_step_kind {
    KILN_KIND_TASK = 0, /* the default */
    KILN_KIND_INGEST,
    KILN_KIND_VALIDATE,
    KILN_KIND_TRAIN,
    KILN_KIND_EVALUATE,
    KILN_KIND_DEPLOY
} kiln_step_kind;

const char *kiln_step_kind_name(kiln_step_kind kind);


/* A list of strings, as in `needs:`, `inputs:`, `outputs:`. */
typedef struct kiln_strlist {
    size_t n;
    const char **items;
    kiln_pos *pos; /* pos[i] is where items[i] was written */
} kiln_strlist;

/* A drift check: the reference CSV against the current one, per column,
 * by method (psi, js, ks, wasserstein; see orchestrator/drift.h). Used by
 * drift triggers and by validation steps. */
typedef struct kiln_drift_check {
    const char *reference;  /* paths as written, relative to the
                               pipeline's directory (triggers) or the
                               step's workdir (validation) */
    const char *current;    /* triggers only; validation compares data: */
    kiln_strlist columns;   /* n = 0: every column in both files */
    const char *method;     /* "psi" by default */
    double threshold;       /* drift when a column's statistic is above it
                               (ks: when the p-value is below it) */
    kiln_pos pos;
} kiln_drift_check;

/* What validation expects of a column's values. */
typedef enum kiln_col_type {
    KILN_COL_ANY = 0,     /* no type given: only presence is checked */
    KILN_COL_INT,         /* integers (no fraction, no exponent) */
    KILN_COL_FLOAT,       /* any number */
    KILN_COL_BOOL,        /* true/false, yes/no, 1/0 (any case) */
    KILN_COL_CATEGORY,    /* one of values:, when given */
    KILN_COL_STRING       /* anything */
} kiln_col_type;

const char *kiln_col_type_name(kiln_col_type t);

/* One column of a validation schema. */
typedef struct kiln_col_rule {
    const char *column;
    kiln_pos pos;           /* where the column's key was written */
    kiln_col_type type;
    bool has_min, has_max;  /* numeric types only */
    double min, max;
    double max_missing;     /* largest allowed fraction of empty cells;
                               0 by default (no empty cells) */
    kiln_strlist values;    /* category: the allowed values (n = 0: any) */
} kiln_col_rule;

/* The checks of a `kind: validate` step, run by kiln itself on a CSV
 * file (after the step's run: command, when it has one). */
typedef struct kiln_validation {
    const char *data;       /* the CSV file, relative to the workdir */
    kiln_pos pos;           /* where data: was written */
    size_t n_rules;
    kiln_col_rule *rules;   /* schema:, in file order */
    int64_t min_rows;       /* -1: no minimum */
    int64_t max_rows;       /* -1: no maximum */
    bool strict;            /* columns missing from the schema fail */
    kiln_drift_check *drift; /* NULL: no drift check */
} kiln_validation;

/* resources: what a step needs. cpus weighs a step against --jobs on this
 * machine; everything is passed to a cluster scheduler (Slurm) as its
 * options. 0 or NULL: not given. */
typedef struct kiln_resources {
    unsigned cpus;          /* 1 when not given */
    uint64_t mem_mb;        /* memory in MiB ("16G" = 16384) */
    unsigned gpus;
    int64_t time_ms;        /* the scheduler's time limit */
    const char *partition;
} kiln_resources;

/* slurm: options only Slurm understands. */
typedef struct kiln_slurm_opts {
    const char *account;
    const char *qos;
    kiln_strlist extra;     /* more sbatch options, as written */
    kiln_pos pos;           /* where slurm: was written (line 0: it was
                               not) */
} kiln_slurm_opts;

/* models: a model version a step reads from the registry, by alias
 * ("churn@production") or pinned by version ("churn:3"). */
typedef struct kiln_model_ref {
    const char *name;       /* a model name, as a step name */
    const char *alias;      /* NULL when pinned by version */
    int version;            /* 0 when by alias */
    bool optional;          /* "churn@production?" ("churn:3?"): the step
                               runs without it while the alias (version)
                               does not exist */
    kiln_pos pos;           /* where the item was written */
} kiln_model_ref;

/* environment: what describes the software a step runs with, beyond its
 * inputs: lock files and the output of commands. At least one entry. */
typedef struct kiln_environment {
    kiln_strlist files;     /* lock files (requirements.txt, uv.lock,
                               conda-lock.yml), relative to the workdir */
    kiln_strlist commands;  /* shell commands whose output describes the
                               environment ("python3 -m pip freeze") */
    kiln_pos pos;           /* where environment: was written */
} kiln_environment;

/* image: and container: a step that runs in a container, through the
 * engine's own CLI (podman run, docker run). image: comes from the step or
 * defaults: (the step's replaces it; image: "" or null on a step turns
 * the defaults' off); the settings below come from the step's container:
 * block, else the defaults' (a block replaces the other whole), else
 * the built-in ones. */
typedef struct kiln_container {
    const char *image;      /* as written: NAME[:TAG][@sha256:DIGEST],
                               NAME possibly with a registry, a port and
                               a path ("registry.example.com:5000/team/
                               img:1.2"); a digest is sha256: and 64
                               lowercase hex digits */
    const char *engine;     /* "podman" (the default) | "docker" */
    const char *pull;       /* "missing" (the default): pull when the image
                               is not here | "always" | "never" */
    const char *network;    /* "default" (the default): the engine's own
                               network | "none": no network */
    kiln_strlist mounts;    /* "HOST:CONTAINER" or "HOST:CONTAINER:ro"
                               (":rw" also written), as written; CONTAINER
                               is absolute, HOST is absolute or relative
                               to the pipeline's directory */
    const char *gpus;       /* NULL: none; "all" or a number >= 1 as text
                               ("2") */
    kiln_strlist options;   /* more engine flags, one argv item each, as
                               written; each starts with '-' */
    kiln_pos pos;           /* where image: was written (the step's or
                               the defaults') */
} kiln_container;

/* secrets: where a secret's value comes from. */
typedef enum kiln_secret_kind {
    KILN_SECRET_ENV = 0,    /* {env: VAR}: kiln's own environment */
    KILN_SECRET_FILE,       /* {file: PATH}: a file's bytes */
    KILN_SECRET_COMMAND     /* {command: CMD}: what a shell command prints */
} kiln_secret_kind;

const char *kiln_secret_kind_name(kiln_secret_kind kind);

/* One entry of secrets:, a reference only: the value is read when a step
 * starts (orchestrator/engine/secrets.c), never when the file is loaded,
 * so it is never part of the model. */
typedef struct kiln_secret {
    const char *name;       /* the variable the step sees the value in */
    kiln_secret_kind kind;
    const char *ref;        /* the variable, the path (relative to the
                               pipeline's directory) or the command, as
                               written */
    kiln_pos pos;           /* where the name was written */
} kiln_secret;

/* matrix: a step swept over values of pipeline params, expanded when the
 * file is loaded into one step per item (dsl/matrix.c): the items take
 * the template's place in pipeline->steps, one after another, and a step
 * needing the template needs every item. */
typedef struct kiln_matrix_axis {
    const char *param;      /* a declared pipeline param */
    size_t n_values;
    const char **values;    /* as written, or a range's, formatted */
    kiln_pos pos;           /* where the param's key was written */
} kiln_matrix_axis;

/* An entry of include: or exclude: (param -> value). */
typedef struct kiln_matrix_combo {
    size_t n;
    kiln_kv *kv;
    kiln_pos pos;
} kiln_matrix_combo;

typedef struct kiln_matrix {
    const char *step;       /* the template's name ("train") */
    kiln_pos pos;           /* where matrix: was written */
    size_t index;           /* in pipeline->matrices */
    size_t n_axes;
    kiln_matrix_axis *axes; /* in file order: items are named so */
    size_t n_include, n_exclude;
    kiln_matrix_combo *include, *exclude;
    unsigned max_parallel;  /* items running at once; 0: no cap but
                               --jobs and pools */
    uint64_t max_items;     /* 10,000 unless max_items: says more */
    bool keep_going;        /* on_failure: continue (a failed item does
                               not stop its siblings, and what needs the
                               step runs with the items that succeeded);
                               fail_fast by default */
    size_t first, n_items;  /* the items: pipeline->steps[first ...] */
} kiln_matrix;

/* select: the best item of a matrix step the step needs, by a metric
 * its items record; the step sees the winner (KILN_SELECTED_*). */
typedef struct kiln_select {
    const char *from;       /* the matrix step, as written */
    const char *metric;     /* a key of the items' metrics */
    bool max;               /* mode: max (the default), else min */
    kiln_pos pos;           /* where select: was written */
    const kiln_matrix *matrix; /* from, resolved */
} kiln_select;

/* What a step does to the model registry; most steps do none of it, so
 * it is kept apart from kiln_step. */
typedef struct kiln_registry_ops {
    const char *register_model; /* register: {model: NAME, ...}, or NULL */
    const char *register_path;  /* ...path: one of the step's outputs */
    const char *register_alias; /* ...alias: pointed at the new version
                                   (production), or NULL */
    const char *register_deploy; /* ...deploy: a shell command run when an
                                    alias of the model is moved (promote,
                                    rollback), or NULL */
    int64_t register_deploy_timeout_ms; /* ...deploy_timeout: killed after
                                           it (0: the default, an hour) */
    kiln_pos register_pos;
    const char *promote_model; /* promote: {model, from, to}: once the step
                                  succeeded, alias to points at the
                                  version alias from points at, and from
                                  is retired (champion and challenger) */
    const char *promote_from;
    const char *promote_to;
    const char *retire_model;  /* retire: {model, alias}: once the step
                                  succeeded, alias points nowhere */
    const char *retire_alias;
    kiln_pos promote_pos, retire_pos;
} kiln_registry_ops;

typedef struct kiln_step {
    const char *name;     /* [a-z0-9_-]+, unique in the pipeline */
    kiln_pos pos;         /* where the step's key was written */
    kiln_step_kind kind;
    int retries;          /* extra attempts after the first; >= 0 */
    const char *run;      /* the command, run through /bin/sh -c */
    kiln_strlist needs;   /* step names */
    size_t *need_idx;     /* needs.n indexes into pipeline->steps */
    kiln_strlist inputs;  /* paths or globs, relative to workdir */
    size_t *input_from;   /* inputs.n: the step writing each (its output,
                             a directory above it, a file inside it, a
                             glob either way), or (size_t)-1: none */
    kiln_strlist outputs;
    int64_t retry_delay_ms; /* first delay; doubles, capped at 10 min */
    int64_t timeout_ms;   /* 0 = no timeout */
    const char *workdir;  /* as written, relative to the pipeline's dir;
                             "." by default */
    const char *executor; /* "local" by default */
    const char *when;     /* the gate as written, or NULL */
    kiln_expr *when_expr; /* parsed */
    kiln_pos when_pos;    /* where the expression's text starts */
    bool has_params;      /* params: was written, even as []: only those
                             params join the step's cache key and reach
                             it as KILN_PARAM_*; without the key all do */
    bool cache;           /* in effect: on by default, cache: false
                             turns it off; a deploy step's effect lies
                             outside its outputs, so it is cached only
                             with its own cache: true, never defaults' */
    bool cache_set;       /* the step itself wrote cache: */
    bool deterministic;   /* deterministic: false (true by default):
                             the same inputs may give other outputs, so
                             kiln reproduce reports them "not checked" */
    kiln_strlist params;  /* params: the pipeline params the step uses */
    size_t n_models;
    kiln_model_ref *models; /* models: the versions the step reads */
    const kiln_environment *environment; /* NULL: none; a step's replaces
                                            the defaults' whole */
    kiln_registry_ops *reg; /* register:, promote:, retire:; NULL: the
                               step does none of them */
    const char *metrics;  /* a JSON file of numbers the step writes,
                             relative to workdir; NULL: none */
    const char *pool;     /* a named pool limiting this class of steps
                             (kiln serve --pool NAME=N); NULL: none */
    /* defaults: then the step's, key by key; a step that sets none shares
     * the defaults' (never NULL) */
    const kiln_resources *resources;
    const kiln_slurm_opts *slurm;
    size_t n_env;
    kiln_kv *env;         /* the step's own env, merged over pipeline env */
    size_t n_secrets;
    kiln_secret *secrets; /* in effect: the pipeline's secrets:, an entry
                             of the step's own replacing the one of the
                             same name; sorted by name */
    kiln_validation *validation; /* kind: validate with data:, or NULL;
                                    such a step may have no run: */
    const kiln_container *container; /* NULL: the step runs on the host;
                                        steps may share one (read only) */
    const kiln_matrix *matrix; /* an item of this sweep, or NULL */
    const kiln_select *select; /* select:, or NULL */
    size_t n_item_params;
    kiln_kv *item_params; /* the item's values, in the matrix's key
                             order: they override the pipeline's (its
                             KILN_PARAM_*, cache key, gates) */
} kiln_step;

/* What a daemon does when a fire comes while runs are active. */
typedef enum kiln_concurrency {
    KILN_CONCURRENCY_ALLOW = 0, /* start it (queued at max_active_runs) */
    KILN_CONCURRENCY_FORBID,    /* skip it, recording why */
    KILN_CONCURRENCY_REPLACE    /* cancel the running runs, then start */
} kiln_concurrency;

const char *kiln_concurrency_name(kiln_concurrency c);

/* One cron expression of a schedule. */
typedef struct kiln_cron_entry {
    const char *expr;   /* as written */
    kiln_cron cron;
    kiln_pos pos;
} kiln_cron_entry;

typedef struct kiln_schedule {
    size_t n_crons;          /* 0: the pipeline has no schedule */
    kiln_cron_entry *crons;
    const char *timezone;    /* IANA name; "UTC" by default */
    bool catchup;            /* after downtime, run missed slots */
    int max_catchup;         /* at most this many of them; 10 */
    kiln_concurrency concurrency; /* allow by default */
    int max_active_runs;     /* 1 by default */
    int64_t start_deadline_ms; /* 0: a fire may start however late */
    kiln_pos pos;
} kiln_schedule;

/* What fires a pipeline in kiln serve besides its schedule. */
typedef enum kiln_trigger_kind {
    KILN_TRIGGER_DRIFT = 0, /* the current CSV drifted from the reference */
    KILN_TRIGGER_DATA,      /* a file under path is new or changed */
    KILN_TRIGGER_GIT,       /* a new commit on a branch */
    KILN_TRIGGER_METRIC     /* a number from a URL or file crossed a bound */
} kiln_trigger_kind;

const char *kiln_trigger_kind_name(kiln_trigger_kind kind);

typedef struct kiln_trigger {
    kiln_trigger_kind kind;
    kiln_pos pos;
    int64_t every_ms;       /* how often it is checked */
    kiln_drift_check drift; /* drift */
    const char *path;       /* data: a file or a directory; relative paths
                               are against the pipeline's directory */
    const char *repo;       /* git: the repository (default: the one
                               holding the pipeline file) */
    const char *branch;     /* git: "main" by default */
    const char *remote;     /* git: fetched first when given */
    const char *url;        /* metric: http(s) URL, or */
    const char *file;       /* metric: a JSON file */
    const char *json;       /* metric: dotted path to the number
                               ("data.result.0.value.1"); NULL: the whole
                               document is the number */
    const char *pipeline;   /* metric: or a metric kiln recorded for
                               another pipeline (its latest value), */
    const char *key;        /* ...named "STEP.KEY" */
    bool has_below, has_above;
    double below, above;    /* fires when the value is below / above */
    int64_t timeout_ms;     /* metric URL: the whole request */
} kiln_trigger;

/* What a notification is sent on (bits of kiln_notify.on). */
enum {
    KILN_NOTIFY_SUCCESS = 1,   /* a run succeeded */
    KILN_NOTIFY_FAILURE = 2,   /* a run failed */
    KILN_NOTIFY_CANCELLED = 4, /* a run was cancelled */
    KILN_NOTIFY_DRIFT = 8      /* a drift trigger fired */
};

/* notify: one webhook and what it hears about. */
typedef struct kiln_notify {
    unsigned on;            /* KILN_NOTIFY_* bits; failure by default */
    const char *webhook;    /* http(s) URL */
    const char *format;     /* "json" (default) or "slack" */
    int64_t timeout_ms;     /* per attempt; 10 s by default */
    kiln_pos pos;
} kiln_notify;

/* retention: how long the record keeps the pipeline's runs and their
 * logs (kiln gc --runs, kiln serve); -1 where no limit was written. A run
 * goes when either limit says so; a run that registered a model version
 * (or whose outputs such a run read) always stays. */
typedef struct kiln_retention {
    int64_t keep_runs;      /* runs: {keep_last: N}: the newest N stay */
    int64_t runs_ms;        /* runs: {older_than: D} */
    int64_t keep_logs;      /* logs: {keep_last: N}: the others' logs go */
    int64_t logs_ms;        /* logs: {older_than: D} */
    int64_t compress_ms;    /* logs: {compress_after: D}: gzip'd then */
    kiln_pos pos;           /* line 0: the file has no retention: */
} kiln_retention;

typedef struct kiln_pipeline {
    kiln_arena *arena;      /* owns everything below */
    const char *file;       /* the path as given to kiln_dsl_load_file() */
    const char *dir;        /* absolute directory holding the file */
    const char *name;       /* [a-z0-9_-]+ */
    const char *description; /* may be NULL */
    size_t n_params;
    kiln_kv *params;        /* defaults, in file order */
    size_t n_env;
    kiln_kv *env;
    size_t n_secrets;
    kiln_secret *secrets;   /* every step's, under the step's own */
    bool git_require_clean; /* git: {require_clean: true} */
    kiln_schedule schedule;
    size_t n_triggers;
    kiln_trigger *triggers;
    int64_t cooldown_ms;    /* at most one triggered run per cooldown */
    size_t n_notify;
    kiln_notify *notify;
    kiln_retention retention;
    size_t n_steps;
    kiln_step *steps;       /* in file order, a matrix step's items in
                               its place */
    size_t n_matrices;
    kiln_matrix *matrices;  /* the matrix steps, in file order */
    size_t *topo;           /* n_steps indexes in a topological order
                               (stable: file order among ready steps) */
} kiln_pipeline;

/* A list of errors found in one pass. Loads append to it (each load's
 * errors sorted among themselves); errs[i].pos.file borrows the path or
 * name given to the load, so keep that string alive while using diag. */
typedef struct kiln_diag {
    size_t n;
    kiln_err *errs; /* malloc'd; sorted by position */
    size_t dropped; /* errors past the cap that were not kept */
} kiln_diag;

#define KILN_DIAG_INIT {0, NULL, 0}
#define KILN_DIAG_MAX 100
void kiln_diag_dispose(kiln_diag *d);
/* Print every error in compiler style to stderr. */
void kiln_diag_print(const kiln_diag *d);
/* Append to out exactly what kiln_diag_print() prints: one
 * "FILE:LINE:COL: error: MSG" line per error (as kiln_err_print() formats
 * it), then a note when errors past the cap were dropped. */
void kiln_diag_format(const kiln_diag *d, kiln_buf *out);

/*
 * Load, parse and validate a pipeline file. On success returns 0 and *out
 * (free it with kiln_pipeline_free()). On failure returns KILN_EINVAL with
 * every error found in diag (as many as one pass can find, up to
 * KILN_DIAG_MAX), or KILN_ERROR when the file cannot be read; *out is NULL.
 * Files over 64 MiB are refused.
 */
int kiln_dsl_load_file(kiln_pipeline **out, const char *path,
                       kiln_diag *diag);

/* As kiln_dsl_load_file() on bytes already in memory; `name` is used in
 * positions and as pipeline->file, `dir` as pipeline->dir (made absolute;
 * NULL means the current directory). */
int kiln_dsl_load_buffer(kiln_pipeline **out, const char *name,
                         const char *dir, const char *data, size_t len,
                         kiln_diag *diag);

void kiln_pipeline_free(kiln_pipeline *p); /* NULL is fine */

/* An item's value of param name (its matrix's), or NULL: the run's. */
const char *kiln_step_item_param(const kiln_step *st, const char *name);
/* What a gate's params.NAME reads for st: the item's value, else the
 * run's (params, n of them), as a number. false when the run has no such
 * param or its value is not a number. */
bool kiln_step_param_number(double *out, const kiln_step *st,
                            const kiln_kv *params, size_t n,
                            const char *name);

/* Index of the step called name, or -1. */
ssize_t kiln_pipeline_find_step(const kiln_pipeline *p, const char *name);

/* Durations: "10s", "5m", "2h", "1d", "500ms", or several joined ("1h30m",
 * largest unit first, each unit once). Returns 0 and *out_ms, or
 * KILN_EINVAL with a message in err (*out_ms untouched). */
int kiln_dsl_parse_duration(int64_t *out_ms, const char *text, kiln_err *err);

/* Names of pipelines and steps: [a-z0-9_-]+, at most 64 characters. */
bool kiln_dsl_valid_name(const char *name);
/* Parameter names: [A-Za-z_][A-Za-z0-9_]*. */
bool kiln_dsl_valid_param_name(const char *name);

#endif
