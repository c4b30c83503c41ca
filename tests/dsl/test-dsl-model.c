/*
 * test-dsl-model.c: what a valid pipeline file turns into.
 *
 * Loads files from good/ and checks every field of the model: defaults
 * inheritance, params and env in file order, kinds, durations, needs and
 * need_idx, topological order, positions, aliases and merge keys.
 */
#include "dsl/dsl.h"
#include "kiln_test.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static kiln_pipeline *load(const char *path)
{
    kiln_pipeline *p = NULL;
    kiln_diag diag = KILN_DIAG_INIT;
    int rc = kiln_dsl_load_file(&p, path, &diag);
    if (rc != 0)
        kiln_diag_print(&diag);
    ASSERT_EQ_INT(rc, 0);
    ASSERT_EQ_INT(diag.n, 0);
    ASSERT_NOT_NULL(p);
    kiln_diag_dispose(&diag);
    return p;
}

static const kiln_step *step(const kiln_pipeline *p, const char *name)
{
    ssize_t i = kiln_pipeline_find_step(p, name);
    ASSERT_LE_INT(0, i);
    return &p->steps[i];
}

static void test_full(void)
{
    kiln_pipeline *p = load("good/full.yaml");
    const kiln_step *s;
    const char *tail = "/tests/dsl/good";
    static const char *const order[] = {"ingest", "validate", "train",
                                        "evaluate", "report", "deploy"};
    size_t i;

    ASSERT_STREQ(p->file, "good/full.yaml");
    ASSERT(p->dir[0] == '/');
    ASSERT(strlen(p->dir) > strlen(tail));
    ASSERT_STREQ(p->dir + strlen(p->dir) - strlen(tail), tail);
    ASSERT_STREQ(p->name, "churn");
    ASSERT_STREQ(p->description, "Retrain the churn model");
    ASSERT(p->git_require_clean);

    /* Params and env keep file order and the text as written. */
    ASSERT_EQ_INT(p->n_params, 4);
    ASSERT_STREQ(p->params[0].key, "lr");
    ASSERT_STREQ(p->params[0].value, "0.01");
    ASSERT_STREQ(p->params[1].key, "epochs");
    ASSERT_STREQ(p->params[1].value, "10");
    ASSERT_STREQ(p->params[2].key, "name");
    ASSERT_STREQ(p->params[2].value, "churn v2");
    ASSERT_STREQ(p->params[3].key, "debug");
    ASSERT_STREQ(p->params[3].value, "true");
    ASSERT_EQ_INT(p->params[0].pos.line, 4);
    ASSERT_EQ_INT(p->params[0].pos.col, 10);
    ASSERT_STREQ(p->params[0].pos.file, "good/full.yaml");
    ASSERT_EQ_INT(p->n_env, 2);
    ASSERT_STREQ(p->env[0].key, "DATA_DIR");
    ASSERT_STREQ(p->env[0].value, "/data");
    ASSERT_STREQ(p->env[1].key, "THREADS");
    ASSERT_STREQ(p->env[1].value, "4");

    /* Steps in file order, at their keys' positions. */
    ASSERT_EQ_INT(p->n_steps, 6);
    for (i = 0; i < 6; i++) {
        ASSERT_STREQ(p->steps[i].name, order[i]);
        ASSERT_EQ_INT(kiln_pipeline_find_step(p, order[i]), i);
        ASSERT_EQ_INT(p->steps[i].pos.col, 3);
    }
    ASSERT_EQ_INT(kiln_pipeline_find_step(p, "nope"), -1);
    ASSERT_EQ_INT(p->steps[0].pos.line, 17);
    ASSERT_EQ_INT(p->steps[5].pos.line, 49);

    /* ingest: defaults: apply. */
    s = step(p, "ingest");
    ASSERT_EQ_INT(s->kind, KILN_KIND_INGEST);
    ASSERT_STREQ(s->run, "python3 ingest.py --out data/raw.csv");
    ASSERT_EQ_INT(s->needs.n, 0);
    ASSERT_EQ_INT(s->inputs.n, 0);
    ASSERT_EQ_INT(s->outputs.n, 1);
    ASSERT_STREQ(s->outputs.items[0], "data/raw.csv");
    ASSERT_EQ_INT(s->outputs.pos[0].line, 20);
    ASSERT_EQ_INT(s->outputs.pos[0].col, 15);
    ASSERT_EQ_INT(s->retries, 1);
    ASSERT_EQ_INT(s->retry_delay_ms, 5000);
    ASSERT_EQ_INT(s->timeout_ms, 3600000);
    ASSERT_STREQ(s->workdir, ".");
    ASSERT_STREQ(s->executor, "local");
    ASSERT_EQ_INT(s->n_env, 0);

    /* validate: a block scalar, and needs as a single string. */
    s = step(p, "validate");
    ASSERT_EQ_INT(s->kind, KILN_KIND_VALIDATE);
    ASSERT_STREQ(s->run, "python3 validate.py data/raw.csv\necho done\n");
    ASSERT_EQ_INT(s->needs.n, 1);
    ASSERT_STREQ(s->needs.items[0], "ingest");
    ASSERT_EQ_INT(s->need_idx[0], 0);

    /* train: merged from x-python, explicit keys win. */
    s = step(p, "train");
    ASSERT_EQ_INT(s->kind, KILN_KIND_TRAIN);
    ASSERT_EQ_INT(s->retries, 2);
    ASSERT_EQ_INT(s->retry_delay_ms, 90000);
    ASSERT_EQ_INT(s->timeout_ms, 1800000);
    ASSERT_STREQ(s->workdir, "src");
    ASSERT_STREQ(s->executor, "local");
    ASSERT_EQ_INT(s->inputs.n, 2);
    ASSERT_STREQ(s->inputs.items[1], "train.py");
    ASSERT_EQ_INT(s->n_env, 1);
    ASSERT_STREQ(s->env[0].key, "SEED");
    ASSERT_STREQ(s->env[0].value, "42");
    ASSERT_EQ_INT(s->need_idx[0], 1);

    s = step(p, "evaluate");
    ASSERT_EQ_INT(s->kind, KILN_KIND_EVALUATE);
    ASSERT_EQ_INT(s->timeout_ms, 500);
    ASSERT_EQ_INT(s->needs.n, 2);
    ASSERT_EQ_INT(s->need_idx[0], 2);
    ASSERT_EQ_INT(s->need_idx[1], 1);
    ASSERT_EQ_INT(s->needs.pos[1].line, 42);
    ASSERT_EQ_INT(s->needs.pos[1].col, 20);

    s = step(p, "report");
    ASSERT_EQ_INT(s->kind, KILN_KIND_TASK);
    ASSERT_STREQ(s->executor, "slurm");
    ASSERT_EQ_INT(s->retries, 1);

    /* deploy: everything from the merge that it does not set itself. */
    s = step(p, "deploy");
    ASSERT_EQ_INT(s->kind, KILN_KIND_DEPLOY);
    ASSERT_EQ_INT(s->retries, 3);
    ASSERT_EQ_INT(s->n_env, 1);
    ASSERT_STREQ(s->env[0].key, "PYTHONUNBUFFERED");
    ASSERT_STREQ(s->env[0].value, "1");
    ASSERT_EQ_INT(s->env[0].pos.line, 14);
    ASSERT_EQ_INT(s->need_idx[0], 3);
    ASSERT_EQ_INT(s->need_idx[1], 4);

    for (i = 0; i < 6; i++)
        ASSERT_EQ_INT(p->topo[i], i);
    kiln_pipeline_free(p);
}

static void test_minimal_builtins(void)
{
    kiln_pipeline *p = load("good/minimal.yaml");
    const kiln_step *s = &p->steps[0];
    ASSERT_STREQ(p->name, "hello");
    ASSERT_NULL(p->description);
    ASSERT_EQ_INT(p->n_params, 0);
    ASSERT_EQ_INT(p->n_env, 0);
    ASSERT(!p->git_require_clean);
    ASSERT_EQ_INT(p->n_steps, 1);
    ASSERT_STREQ(s->name, "hello");
    ASSERT_STREQ(s->run, "echo hello");
    ASSERT_EQ_INT(s->kind, KILN_KIND_TASK);
    ASSERT_EQ_INT(s->retries, 0);
    ASSERT_EQ_INT(s->retry_delay_ms, 10000);
    ASSERT_EQ_INT(s->timeout_ms, 0);
    ASSERT_STREQ(s->workdir, ".");
    ASSERT_STREQ(s->executor, "local");
    ASSERT_EQ_INT(p->topo[0], 0);
    kiln_pipeline_free(p);
}

static void test_aliases_and_merges(void)
{
    kiln_pipeline *p = load("good/aliases.yaml");
    const kiln_step *s;

    ASSERT_EQ_INT(p->n_steps, 5);
    /* A scalar alias, then a whole step aliased under another name. */
    s = step(p, "prep");
    ASSERT_STREQ(s->run, "python3 step.py");
    s = step(p, "fetch");
    ASSERT_STREQ(s->run, "python3 step.py");
    ASSERT_EQ_INT(s->pos.line, 17);
    ASSERT_EQ_INT(s->inputs.n, 1);
    ASSERT_STREQ(s->inputs.items[0], "prep.in");

    /* A list alias; its items keep the anchor's positions. */
    s = step(p, "single");
    ASSERT_EQ_INT(s->needs.n, 2);
    ASSERT_STREQ(s->needs.items[0], "prep");
    ASSERT_STREQ(s->needs.items[1], "fetch");
    ASSERT_EQ_INT(s->needs.pos[0].line, 4);
    ASSERT_EQ_INT(s->need_idx[0], 0);
    ASSERT_EQ_INT(s->need_idx[1], 1);
    ASSERT_EQ_INT(s->retries, 4);
    ASSERT_EQ_INT(s->timeout_ms, 120000);
    ASSERT_STREQ(s->executor, "base-exec");

    /* <<: [*gpu, *base]: gpu wins over base, explicit over both. */
    s = step(p, "multi");
    ASSERT_STREQ(s->executor, "gpu");
    ASSERT_STREQ(s->workdir, "gpu-dir");
    ASSERT_EQ_INT(s->timeout_ms, 540000);
    ASSERT_EQ_INT(s->retries, 1);

    /* An explicit key after the merge key still wins. */
    s = step(p, "order");
    ASSERT_EQ_INT(s->timeout_ms, 1000);
    ASSERT_EQ_INT(s->retries, 4);
    kiln_pipeline_free(p);
}

static void test_scalars(void)
{
    kiln_pipeline *p = load("good/scalars.yaml");
    const kiln_step *s;

    ASSERT(!p->git_require_clean);
    ASSERT_EQ_INT(p->n_params, 4);
    ASSERT_STREQ(p->params[0].value, "0.01");
    ASSERT_STREQ(p->params[1].value, "0.01");
    ASSERT_STREQ(p->params[2].value, "yes");
    ASSERT_STREQ(p->params[3].value, "");
    s = step(p, "a");
    ASSERT_STREQ(s->run, "python3 a.py --flag\n");
    ASSERT_EQ_INT(s->retries, 0);
    ASSERT_EQ_INT(s->timeout_ms, 0);
    s = step(p, "b");
    ASSERT_STREQ(s->run, "echo \"b\"");
    ASSERT_EQ_INT(s->retries, 3);
    ASSERT_EQ_INT(s->needs.n, 1);
    ASSERT_EQ_INT(s->need_idx[0], 0);
    ASSERT_EQ_INT(s->n_env, 2);
    ASSERT_STREQ(s->env[0].value, "");
    ASSERT_STREQ(s->env[1].value, "1.50");
    kiln_pipeline_free(p);
}

static void test_tags_flow_crlf_bom(void)
{
    kiln_pipeline *p = load("good/tags.yaml");
    ASSERT_STREQ(p->name, "tags");
    ASSERT_STREQ(p->description, "2024");
    ASSERT_EQ_INT(p->n_params, 4);
    ASSERT_STREQ(p->params[0].value, "3");
    ASSERT_STREQ(p->params[3].value, "plain");
    ASSERT_STREQ(p->steps[0].run, "5");
    ASSERT_EQ_INT(p->steps[0].retries, 2);
    kiln_pipeline_free(p);

    p = load("good/flow.yaml");
    ASSERT_EQ_INT(p->n_params, 2);
    ASSERT_STREQ(p->params[1].value, "two");
    ASSERT_EQ_INT(p->n_steps, 2);
    ASSERT_STREQ(p->steps[1].run, "false");
    kiln_pipeline_free(p);

    p = load("good/crlf.yaml");
    ASSERT_STREQ(p->steps[0].run, "echo a");
    ASSERT_STREQ(p->steps[1].run, "echo b\n");
    ASSERT_EQ_INT(p->steps[1].pos.line, 5);
    kiln_pipeline_free(p);

    p = load("good/bom.yaml");
    ASSERT_STREQ(p->name, "bom");
    kiln_pipeline_free(p);
}

static void test_diamond_order(void)
{
    kiln_pipeline *p = load("good/diamond.yaml");
    static const size_t want[] = {3, 1, 2, 0, 4};
    size_t i;
    for (i = 0; i < KILN_ARRAY_SIZE(want); i++)
        ASSERT_EQ_INT(p->topo[i], want[i]);
    kiln_pipeline_free(p);
}

/* load_buffer: name and dir as given, dir NULL = the current directory. */
static void test_load_buffer(void)
{
    static const char yaml[] = "pipeline: buf\nsteps: {a: {run: x}}\n";
    kiln_pipeline *p = NULL;
    kiln_diag diag = KILN_DIAG_INIT;
    char cwd[4096];

    ASSERT_EQ_INT(kiln_dsl_load_buffer(&p, "mem.yaml", "/srv/x", yaml,
                                       strlen(yaml), &diag), 0);
    ASSERT_STREQ(p->file, "mem.yaml");
    ASSERT_STREQ(p->dir, "/srv/x");
    ASSERT_STREQ(p->steps[0].pos.file, "mem.yaml");
    kiln_pipeline_free(p);

    ASSERT_EQ_INT(kiln_dsl_load_buffer(&p, "mem.yaml", NULL, yaml,
                                       strlen(yaml), &diag), 0);
    ASSERT_NOT_NULL(getcwd(cwd, sizeof(cwd)));
    ASSERT_STREQ(p->dir, cwd);
    kiln_pipeline_free(p);
    ASSERT_EQ_INT(diag.n, 0);
}

/* No bytes at all, even without a buffer, is an empty file. */
static void test_no_bytes(void)
{
    kiln_pipeline *p = NULL;
    kiln_diag diag = KILN_DIAG_INIT;
    kiln_buf out = KILN_BUF_INIT;

    ASSERT_EQ_INT(kiln_dsl_load_buffer(&p, "none.yaml", NULL, NULL, 0,
                                       &diag), KILN_EINVAL);
    kiln_diag_format(&diag, &out);
    ASSERT_STREQ(kiln_buf_cstr(&out),
                 "none.yaml:1:1: error: the file is empty: a pipeline needs "
                 "at least \"pipeline:\" and \"steps:\"\n");
    kiln_buf_dispose(&out);
    kiln_diag_dispose(&diag);
    kiln_diag_print(&diag); /* nothing to print */
}

/* Errors of successive loads pile up in one diag, each load sorted. */
static void test_diag_appends(void)
{
    static const char one[] = "pipeline: a\nsteps: {b: {run: x, z: 1}}\n"
                              "q: 1\n";
    static const char two[] = "steps: []\n";
    kiln_pipeline *p = NULL;
    kiln_diag diag = KILN_DIAG_INIT;
    kiln_buf out = KILN_BUF_INIT;

    ASSERT_EQ_INT(kiln_dsl_load_buffer(&p, "one.yaml", NULL, one,
                                       strlen(one), &diag), KILN_EINVAL);
    ASSERT_NULL(p);
    ASSERT_EQ_INT(kiln_dsl_load_buffer(&p, "two.yaml", NULL, two,
                                       strlen(two), &diag), KILN_EINVAL);
    kiln_diag_format(&diag, &out);
    ASSERT_STREQ(kiln_buf_cstr(&out),
                 "one.yaml:2:21: error: unknown key \"z\" in step \"b\"\n"
                 "one.yaml:3:1: error: unknown key \"q\"\n"
                 "two.yaml:1:1: error: missing \"pipeline: NAME\": every "
                 "pipeline file needs a name\n"
                 "two.yaml:1:8: error: steps: expected a mapping of step "
                 "names to steps, got a list\n");
    ASSERT_EQ_INT(diag.errs[0].code, KILN_EINVAL);
    kiln_buf_dispose(&out);
    kiln_diag_dispose(&diag);
    kiln_diag_dispose(&diag); /* twice is fine */
    kiln_diag_dispose(NULL);
    kiln_pipeline_free(NULL);
}

static void test_kind_names(void)
{
    ASSERT_STREQ(kiln_step_kind_name(KILN_KIND_TASK), "task");
    ASSERT_STREQ(kiln_step_kind_name(KILN_KIND_INGEST), "ingest");
    ASSERT_STREQ(kiln_step_kind_name(KILN_KIND_VALIDATE), "validate");
    ASSERT_STREQ(kiln_step_kind_name(KILN_KIND_TRAIN), "train");
    ASSERT_STREQ(kiln_step_kind_name(KILN_KIND_EVALUATE), "evaluate");
    ASSERT_STREQ(kiln_step_kind_name(KILN_KIND_DEPLOY), "deploy");
    ASSERT_STREQ(kiln_step_kind_name((kiln_step_kind)99), "unknown");
}

static void test_names(void)
{
    char long_name[80];
    ASSERT(kiln_dsl_valid_name("churn"));
    ASSERT(kiln_dsl_valid_name("train-2_b"));
    ASSERT(kiln_dsl_valid_name("0"));
    ASSERT(!kiln_dsl_valid_name(""));
    ASSERT(!kiln_dsl_valid_name("Train"));
    ASSERT(!kiln_dsl_valid_name("a b"));
    ASSERT(!kiln_dsl_valid_name("a.b"));
    ASSERT(!kiln_dsl_valid_name("caf\xc3\xa9"));
    memset(long_name, 'a', sizeof(long_name));
    long_name[64] = '\0';
    ASSERT(kiln_dsl_valid_name(long_name));
    long_name[64] = 'a';
    long_name[65] = '\0';
    ASSERT(!kiln_dsl_valid_name(long_name));

    ASSERT(kiln_dsl_valid_param_name("lr"));
    ASSERT(kiln_dsl_valid_param_name("_x9"));
    ASSERT(kiln_dsl_valid_param_name("PYTHONPATH"));
    ASSERT(!kiln_dsl_valid_param_name(""));
    ASSERT(!kiln_dsl_valid_param_name("9x"));
    ASSERT(!kiln_dsl_valid_param_name("a-b"));
    ASSERT(!kiln_dsl_valid_param_name("a b"));
    ASSERT(!kiln_dsl_valid_param_name("a=b"));
}

static void test_schedule(void)
{
    kiln_pipeline *p = load("good/schedule.yaml");
    const kiln_schedule *s = &p->schedule;
    ASSERT_EQ_INT(s->n_crons, 2);
    ASSERT_STREQ(s->crons[0].expr, "0 3 * * 1-5");
    ASSERT_EQ_INT(s->crons[0].pos.line, 3);
    ASSERT_EQ_INT(s->crons[0].cron.hours, 1u << 3);
    ASSERT_STREQ(s->crons[1].expr, "@weekly");
    ASSERT_STREQ(s->timezone, "Europe/Lisbon");
    ASSERT(s->catchup);
    ASSERT_EQ_INT(s->max_catchup, 3);
    ASSERT_EQ_INT(s->concurrency, KILN_CONCURRENCY_REPLACE);
    ASSERT_EQ_INT(s->max_active_runs, 2);
    ASSERT_EQ_INT(s->start_deadline_ms, 600000);
    ASSERT_STREQ(p->steps[0].pool, "gpu");
    kiln_pipeline_free(p);

    p = load("good/schedule-short.yaml");
    s = &p->schedule;
    ASSERT_EQ_INT(s->n_crons, 1);
    ASSERT_STREQ(s->crons[0].expr, "@hourly");
    ASSERT_STREQ(s->timezone, "UTC");
    ASSERT(!s->catchup);
    ASSERT_EQ_INT(s->max_catchup, 10);
    ASSERT_EQ_INT(s->concurrency, KILN_CONCURRENCY_ALLOW);
    ASSERT_EQ_INT(s->max_active_runs, 1);
    ASSERT_EQ_INT(s->start_deadline_ms, 0);
    ASSERT_NULL(p->steps[0].pool);
    kiln_pipeline_free(p);

    /* No schedule at all. */
    p = load("good/minimal.yaml");
    ASSERT_EQ_INT(p->schedule.n_crons, 0);
    kiln_pipeline_free(p);
}

static void test_triggers(void)
{
    kiln_pipeline *p = load("good/triggers.yaml");
    const kiln_trigger *t = p->triggers;
    ASSERT_EQ_INT(p->cooldown_ms, 3600000);
    ASSERT_EQ_INT(p->n_triggers, 5);
    ASSERT_EQ_INT(t[0].kind, KILN_TRIGGER_DRIFT);
    ASSERT_EQ_INT(t[0].pos.line, 4);
    ASSERT_STREQ(t[0].drift.reference, "data/reference.csv");
    ASSERT_STREQ(t[0].drift.current, "data/live.csv");
    ASSERT_EQ_INT(t[0].drift.columns.n, 3);
    ASSERT_STREQ(t[0].drift.columns.items[2], "plan");
    ASSERT_STREQ(t[0].drift.method, "ks");
    ASSERT(t[0].drift.threshold == 0.05); /* ks's default */
    ASSERT_EQ_INT(t[0].every_ms, 600000);
    ASSERT_EQ_INT(t[1].kind, KILN_TRIGGER_DATA);
    ASSERT_STREQ(t[1].path, "data/incoming/");
    ASSERT_EQ_INT(t[1].every_ms, 60000);
    ASSERT_EQ_INT(t[2].kind, KILN_TRIGGER_GIT);
    ASSERT_STREQ(t[2].branch, "release");
    ASSERT_STREQ(t[2].remote, "origin");
    ASSERT_NULL(t[2].repo);
    ASSERT_EQ_INT(t[3].kind, KILN_TRIGGER_METRIC);
    ASSERT_STREQ(t[3].json, "data.result.0.value.1");
    ASSERT(t[3].has_below && !t[3].has_above && t[3].below == 0.8);
    ASSERT_EQ_INT(t[3].every_ms, 300000);
    ASSERT_EQ_INT(t[3].timeout_ms, 10000);
    ASSERT_STREQ(t[4].file, "metrics.json");
    ASSERT_NULL(t[4].url);
    ASSERT(t[4].has_above && t[4].above == 0.25);
    ASSERT_EQ_INT(t[4].timeout_ms, 3000);
    kiln_pipeline_free(p);

    p = load("good/minimal.yaml");
    ASSERT_EQ_INT(p->n_triggers, 0);
    ASSERT_EQ_INT(p->cooldown_ms, 0);
    ASSERT_NULL(p->steps[0].validation);
    kiln_pipeline_free(p);
}

static void test_validation(void)
{
    kiln_pipeline *p = load("good/triggers.yaml");
    const kiln_step *s = step(p, "validate");
    const kiln_validation *va = s->validation;
    ASSERT_NULL(s->run);
    ASSERT_NOT_NULL(va);
    ASSERT_STREQ(va->data, "data/raw.csv");
    ASSERT_EQ_INT(va->n_rules, 4);
    ASSERT_STREQ(va->rules[0].column, "age");
    ASSERT_EQ_INT(va->rules[0].type, KILN_COL_INT);
    ASSERT(va->rules[0].has_min && va->rules[0].min == 0);
    ASSERT(va->rules[0].has_max && va->rules[0].max == 120);
    ASSERT(va->rules[0].max_missing == 0.01);
    ASSERT_EQ_INT(va->rules[1].type, KILN_COL_CATEGORY);
    ASSERT_EQ_INT(va->rules[1].values.n, 3);
    ASSERT_STREQ(va->rules[1].values.items[1], "pro");
    ASSERT(!va->rules[1].has_min && va->rules[1].max_missing == 0);
    ASSERT_EQ_INT(va->rules[2].type, KILN_COL_FLOAT);
    ASSERT_STREQ(va->rules[3].column, "note");
    ASSERT_EQ_INT(va->rules[3].type, KILN_COL_ANY);
    ASSERT_EQ_INT(va->min_rows, 1000);
    ASSERT_EQ_INT(va->max_rows, -1);
    ASSERT(va->strict);
    ASSERT_NOT_NULL(va->drift);
    ASSERT_STREQ(va->drift->reference, "data/reference.csv");
    ASSERT_STREQ(va->drift->method, "psi");
    ASSERT(va->drift->threshold == 0.3);
    ASSERT_NULL(va->drift->current);
    ASSERT_NULL(step(p, "train")->validation);

    s = step(p, "check");
    ASSERT_STREQ(s->run, "./prepare.sh");
    ASSERT_EQ_INT(s->validation->n_rules, 0);
    ASSERT_EQ_INT(s->validation->min_rows, -1);
    ASSERT_STREQ(s->validation->drift->method, "wasserstein");
    ASSERT(s->validation->drift->threshold == 0.1);
    kiln_pipeline_free(p);
}

/* resources: and slurm: merge over defaults: key by key; sizes in MiB. */
static void test_resources(void)
{
    kiln_pipeline *p = load("good/resources.yaml");
    const kiln_step *s = step(p, "prep");

    ASSERT_STREQ(s->executor, "local");
    ASSERT_EQ_INT(s->resources->cpus, 2);
    ASSERT_EQ_INT(s->resources->mem_mb, 512);
    ASSERT_EQ_INT(s->resources->gpus, 0);
    ASSERT_EQ_INT(s->resources->time_ms, 0);
    ASSERT_STREQ(s->resources->partition, "debug");
    ASSERT_STREQ(s->slurm->account, "ml"); /* from defaults: */
    ASSERT_EQ_INT(s->slurm->pos.line, 5);

    s = step(p, "train");
    ASSERT_STREQ(s->executor, "slurm");
    ASSERT_EQ_INT(s->resources->cpus, 4);
    ASSERT_EQ_INT(s->resources->mem_mb, 16384);
    ASSERT_EQ_INT(s->resources->gpus, 1);
    ASSERT_EQ_INT(s->resources->time_ms, 2 * 3600 * 1000);
    ASSERT_STREQ(s->resources->partition, "gpu");
    ASSERT_STREQ(s->slurm->account, "ml");
    ASSERT_STREQ(s->slurm->qos, "normal");
    ASSERT_EQ_INT(s->slurm->extra.n, 2);
    ASSERT_STREQ(s->slurm->extra.items[0], "--constraint=a100");
    ASSERT_STREQ(s->slurm->extra.items[1], "-N1");
    ASSERT_EQ_INT(s->slurm->pos.line, 15);

    s = step(p, "small");
    ASSERT_EQ_INT(s->resources->cpus, 1); /* the built-in default */
    ASSERT_EQ_INT(s->resources->mem_mb, 2); /* 1500K, rounded up */
    ASSERT_EQ_INT(s->resources->time_ms, 90000);
    ASSERT(s->slurm->qos == NULL);
    ASSERT_EQ_INT(s->slurm->extra.n, 0);

    s = step(p, "plain");
    ASSERT_EQ_INT(s->resources->mem_mb, 2048); /* a bare number is MiB */
    kiln_pipeline_free(p);
}

int main(void)
{
    RUN_TEST(test_full);
    RUN_TEST(test_minimal_builtins);
    RUN_TEST(test_aliases_and_merges);
    RUN_TEST(test_scalars);
    RUN_TEST(test_tags_flow_crlf_bom);
    RUN_TEST(test_diamond_order);
    RUN_TEST(test_load_buffer);
    RUN_TEST(test_no_bytes);
    RUN_TEST(test_diag_appends);
    RUN_TEST(test_kind_names);
    RUN_TEST(test_names);
    RUN_TEST(test_schedule);
    RUN_TEST(test_triggers);
    RUN_TEST(test_validation);
    RUN_TEST(test_resources);
    return 0;
}
