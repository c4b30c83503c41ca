/*
 * restore.c: before a cacheable step's first attempt, its inputs are
 * hashed into its cache key off the loop and the key looked up; a hit
 * puts the step's own declared outputs back (each object's hash checked)
 * and records the step as cached, in one transaction. A retry reuses the
 * executions of the steps that succeeded in the run it retries.
 */
#include "internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cache.h"
#include "engine/capture.h"

/* Step caching. */

bool kiln_engine__cacheable(step_rt *s)
{
    const kiln_step *st = &s->run->p->steps[s->idx];
    /* Outputs to restore, or a validate step's checks: what they decide
     * depends only on the data, the reference and the checks, all in the
     * key. */
    return s->run->eng->cache && !s->run->no_cache && st->cache &&
           (st->outputs.n > 0 || st->validation) && s->attempt == 0 &&
           s->phase == PHASE_IDLE;
}

bool kiln_engine__needs_prepare(step_rt *s)
{
    const kiln_step *st = &s->run->p->steps[s->idx];
    return s->attempt == 0 && s->phase == PHASE_IDLE &&
           (kiln_engine__cacheable(s) || st->inputs.n || st->outputs.n ||
            st->validation || st->n_models || st->environment ||
            st->container || (s->run->has_aliases && !st->cache));
}

/* A model version to copy for the step: pins[i] of the job. */
typedef struct pin_use {
    kiln_registry_pin pin;
    char *env[2];            /* the variables naming its copy */
    bool declared;           /* models: (recorded as an input) */
    char *ref;               /* as written: "churn@production" */
    char *path;              /* its copy, once made */
} pin_use;

typedef struct cache_job {
    uv_work_t req;
    step_rt *s;
    kiln_artifact_list in;   /* the inputs, hashed for the key */
    kiln_cache_files in_files; /* ...and kept in the object store */
    char key[KILN_HASH_HEX];
    char *doc;               /* what went into the key */
    int rc;
    kiln_cache_entry hit;    /* the lookup's answer, for the restore */
    kiln_artifact_list out;  /* the restored outputs, hashed */
    kiln_err err;
    size_t n_uses;
    pin_use *uses;
    char *const *envv;       /* the run's environment, for captures */
    size_t n_captures;
    char **cap_sha, **cap_text;
    json_t *models, *environment; /* for the key document */
    const char *image_pin;   /* kiln reproduce: the image ID to run */
    kiln_image image;        /* a container step's image, resolved */
    bool fatal;              /* a model or image could not be had: the
                                step fails without running */
} cache_job;

static void cache_job_free(cache_job *j)
{
    kiln_artifact_list_dispose(&j->in);
    kiln_artifact_list_dispose(&j->out);
    kiln_cache_files_dispose(&j->in_files);
    kiln_cache_entry_dispose(&j->hit);
    for (size_t i = 0; i < j->n_uses; i++) {
        kiln_registry_pin_dispose(&j->uses[i].pin);
        free(j->uses[i].env[0]);
        free(j->uses[i].env[1]);
        free(j->uses[i].ref);
        free(j->uses[i].path);
    }
    free(j->uses);
    for (size_t i = 0; i < j->n_captures; i++) {
        free(j->cap_sha[i]);
        free(j->cap_text[i]);
    }
    free(j->cap_sha);
    free(j->cap_text);
    json_decref(j->models);
    json_decref(j->environment);
    kiln_image_dispose(&j->image);
    free(j->doc);
    free(j);
}

/* KILN_MODEL_<NAME>[_<SUFFIX>], upper case, other characters as '_'. */
static char *model_var(const char *name, const char *suffix)
{
    char *key = suffix ? kiln_asprintf("KILN_MODEL_%s_%s", name, suffix)
                       : kiln_asprintf("KILN_MODEL_%s", name);
    for (char *c = key; *c; c++)
        *c = (char)(isalnum((unsigned char)*c) ? toupper((unsigned char)*c)
                                                : '_');
    return key;
}

/* One environment capture: its text to record, its hash in the key. */
static void capture_add(const char *label, const char *text, void *data)
{
    cache_job *j = data;
    char sha[KILN_HASH_HEX];
    kiln_hash_bytes(sha, text, strlen(text));
    j->cap_sha = kiln_realloc(j->cap_sha, (j->n_captures + 1) *
                              sizeof(char *));
    j->cap_text = kiln_realloc(j->cap_text, (j->n_captures + 1) *
                               sizeof(char *));
    j->cap_sha[j->n_captures] = kiln_strdup(sha);
    j->cap_text[j->n_captures] = kiln_strdup(text);
    j->n_captures++;
    json_object_set_new(j->environment, label, json_string(sha));
}

static void image_copy(kiln_image *to, const kiln_image *from)
{
    to->ref = from->ref ? kiln_strdup(from->ref) : NULL;
    to->id = from->id ? kiln_strdup(from->id) : NULL;
    to->digest = from->digest ? kiln_strdup(from->digest) : NULL;
}

/* The step's image, resolved once per run for an engine, reference and
 * pull policy (on the thread pool: other steps may be resolving too). */
static int resolve_image(cache_job *j, const kiln_container *c)
{
    kiln_run *run = j->s->run;
    char *key = kiln_asprintf("%s %s %s", c->engine,
                              j->image_pin ? j->image_pin : c->image,
                              c->pull);
    struct run_image *ri = NULL;
    int rc;

    uv_mutex_lock(&run->images_lock);
    for (size_t i = 0; i < run->n_images && !ri; i++)
        if (strcmp(run->images[i].key, key) == 0)
            ri = &run->images[i];
    if (!ri) {
        run->images = kiln_realloc(run->images, (run->n_images + 1) *
                                   sizeof(*run->images));
        ri = &run->images[run->n_images++];
        memset(ri, 0, sizeof(*ri));
        ri->key = key;
        key = NULL;
        ri->rc = kiln_container_resolve(&ri->img, c, j->image_pin, j->envv,
                                        &ri->err);
    }
    rc = ri->rc;
    if (rc == 0)
        image_copy(&j->image, &ri->img);
    else
        j->err = ri->err;
    uv_mutex_unlock(&run->images_lock);
    free(key);
    return rc;
}

static void key_work(uv_work_t *req)
{
    cache_job *j = req->data;
    step_rt *s = j->s;
    kiln_engine *eng = s->run->eng;
    const kiln_step *st = &s->run->p->steps[s->idx];
    json_t *doc;

    for (size_t i = 0; i < j->n_uses && j->rc == 0; i++)
        if (j->uses[i].pin.version)
            j->rc = kiln_registry_materialise(&j->uses[i].path,
                                              eng->state_dir,
                                              &j->uses[i].pin, &j->err);
    /* The image, once: the ID of its content is what runs. */
    if (j->rc == 0 && st->container)
        j->rc = resolve_image(j, st->container);
    j->fatal = j->rc != 0;
    if (j->rc == 0 && st->environment)
        kiln_capture_environment(st->environment, s->workdir, j->envv,
                                 capture_add, j);
    if (j->rc == 0)
        j->rc = kiln_artifacts_collect_inputs(&j->in, s->workdir, st,
                                              &j->err);
    /* Inputs are kept (once per content) so the run can be reproduced
     * after they changed; kiln gc trims them beyond its size limit. */
    if (j->rc == 0 && j->in.n) {
        kiln_err kerr = KILN_ERR_INIT;
        if (kiln_cache_save(&j->in_files, eng->objects, s->workdir, &j->in,
                            &kerr) != 0)
            memset(&j->in_files, 0, sizeof(j->in_files));
    }
    if (j->rc != 0)
        return;
    doc = kiln_cache_key_doc(st, s->run->p, &j->in, s->workdir,
                             s->run->n_params, s->run->params);
    json_object_set(doc, "models", j->models);
    json_object_set(doc, "environment", j->environment);
    if (st->container)
        json_object_set_new(doc, "image",
                            kiln_container_key(st->container, &j->image));
    j->doc = kiln_cache_key_of(j->key, doc);
    json_decref(doc);
}

/* Resolve the versions s reads: its models: (by the run's pins first,
 * kiln reproduce), and every alias for KILN_MODEL_<NAME>_<ALIAS>. */
static int resolve_models(cache_job *j, step_rt *s, kiln_err *err)
{
    kiln_run *run = s->run;
    kiln_store *store = run->eng->store;
    const kiln_step *st = &run->p->steps[s->idx];
    kiln_model_alias *aliases = NULL;
    size_t n_aliases = 0;
    int rc = 0;

    j->uses = kiln_calloc(st->n_models + 1, sizeof(*j->uses));
    for (size_t i = 0; i < st->n_models && rc == 0; i++) {
        const kiln_model_ref *m = &st->models[i];
        pin_use *u = &j->uses[j->n_uses];
        const char *alias = m->alias;
        int version = m->version;
        bool pinned = false, first = true;
        char vtext[16];
        if (m->alias)
            u->ref = kiln_asprintf("%s@%s", m->name, m->alias);
        else
            u->ref = kiln_asprintf("%s:%d", m->name, m->version);
        /* kiln reproduce: the version each reference read then. */
        for (size_t k = 0; k < run->n_model_pins; k++)
            if (strcmp(run->model_pins[k].key, u->ref) == 0) {
                alias = NULL;
                version = atoi(run->model_pins[k].value);
                pinned = true;
            }
        u->declared = true;
        j->n_uses++;
        if (pinned && version == 0) {
            /* Reproducing a run that read none (an optional alias not
             * set then): none now either. */
            json_object_set_new(j->models, u->ref, json_null());
            continue;
        }
        rc = kiln_registry_resolve(&u->pin, store, m->name, alias, version,
                                   err);
        if (rc == KILN_ENOTFOUND && m->optional && !pinned) {
            memset(err, 0, sizeof(*err));
            rc = 0;
            json_object_set_new(j->models, u->ref, json_null());
            continue;
        }
        if (rc != 0)
            break;
        snprintf(vtext, sizeof(vtext), "%d", u->pin.version);
        /* KILN_MODEL_<NAME>: the first reference to the model. */
        for (size_t k = 0; k < i; k++)
            first &= strcmp(st->models[k].name, m->name) != 0;
        u->env[0] = first ? model_var(m->name, NULL) : NULL;
        u->env[1] = model_var(m->name, m->alias ? m->alias : vtext);
        json_object_set_new(j->models, u->ref,
                            json_pack("{s:i, s:s}", "version",
                                      u->pin.version, "sha256",
                                      u->pin.sha256));
    }
    /* Every alias as KILN_MODEL_<NAME>_<ALIAS>, to steps whose outputs are
     * never served from the cache (a deploy step): a cached step reads
     * only the versions it declares, which its key covers. */
    if (rc == 0 && run->has_aliases && !st->cache &&
        (rc = kiln_store_model_aliases(&aliases, &n_aliases, store,
                                       err)) == 0) {
        j->uses = kiln_realloc(j->uses, (j->n_uses + n_aliases + 1) *
                               sizeof(*j->uses));
        for (size_t i = 0; i < n_aliases && rc == 0; i++) {
            pin_use *u = &j->uses[j->n_uses];
            bool declared = false;
            /* A model the step declares it reads is read as declared (or
             * pinned) only. */
            for (size_t k = 0; k < st->n_models; k++)
                declared |= strcmp(st->models[k].name, aliases[i].name) == 0;
            if (declared)
                continue;
            memset(u, 0, sizeof(*u));
            if (kiln_registry_resolve(&u->pin, store, aliases[i].name, NULL,
                                      aliases[i].version, err) != 0) {
                /* A version registered before kiln kept model bytes:
                 * nothing to name. */
                memset(err, 0, sizeof(*err));
                continue;
            }
            u->env[0] = model_var(aliases[i].name, aliases[i].alias);
            j->n_uses++;
        }
        kiln_model_aliases_free(aliases, n_aliases);
    }
    return rc;
}

/* The step cannot start: a model it reads does not exist. */
static void prepare_failed(step_rt *s, const kiln_err *err)
{
    const kiln_step *st = &s->run->p->steps[s->idx];
    char why[600];
    snprintf(why, sizeof(why), "%s", err->msg);
    kiln_engine__tx_begin(s->run);
    kiln_engine__step_set(s, KILN_STEP_FAILED, why);
    snprintf(why, sizeof(why), "upstream step \"%s\" failed", st->name);
    kiln_engine__skip_downstream(s, why, false);
    kiln_engine__tx_end(s->run);
}
/* Record an execution that ran nothing (a cache hit, a retry's reuse) as
 * attempt 1, ended: its executor says which. */
static int record_unrun(step_rt *s, const char *executor, const char *why,
                        kiln_err *err)
{
    kiln_run *run = s->run;
    const kiln_step *st = &run->p->steps[s->idx];
    kiln_exec_rec rec;
    int rc;

    memset(&rec, 0, sizeof(rec));
    s->attempt = 1;
    rec.run_id = run->id;
    rec.step = st->name;
    rec.kind = kiln_step_kind_name(st->kind);
    rec.attempt = 1;
    rec.log_path = "";
    rec.executor = executor;
    rec.started_ms = kiln_now_ms();
    rec.key_doc = s->key_doc;
    rec.image = s->x ? s->x->image.id : NULL;
    rec.image_ref = s->x ? s->x->image.ref : NULL;
    if ((rc = kiln_store_exec_start(run->eng->store, &s->exec_id, &rec,
                                    err)) != 0)
        return rc;
    kiln_engine__record_key(s);
    return kiln_store_exec_finish(run->eng->store, s->exec_id,
                                  KILN_EXEC_CACHED, -1, 0, why, kiln_now_ms(),
                                  err);
}

static void restore_work(uv_work_t *req)
{
    cache_job *j = req->data;
    step_rt *s = j->s;
    const kiln_step *st = &s->run->p->steps[s->idx];
    j->rc = kiln_cache_restore_outputs(s->run->eng->objects, s->workdir,
                                       &st->outputs, j->hit.n, j->hit.rel,
                                       j->hit.sha256, &j->err);
    kiln_crash_point("restoring");
    if (j->rc == 0)
        j->rc = kiln_artifacts_collect(&j->out, s->workdir, &st->outputs,
                                       &j->err);
}

/* The cache had the step's outputs (or not): record it as a cached
 * execution, or let the step run after all. */
static void restore_done(uv_work_t *req, int status)
{
    cache_job *j = req->data;
    step_rt *s = j->s;
    kiln_run *run = s->run;
    const kiln_step *st = &run->p->steps[s->idx];
    kiln_err err = KILN_ERR_INIT;
    (void)status;

    run->n_hashing--;
    s->phase = PHASE_CHECKED;
    kiln_engine__release_slot(s);
    if (s->state != KILN_STEP_READY || run->cancelling) {
        /* Cancelled meanwhile. */
    } else if (j->rc != 0 || j->out.n_missing || j->out.n_special) {
        FILE *f;
        free(s->log_path);
        s->log_path = kiln_asprintf("%s/%s.cache.log", run->log_dir,
                                    st->name);
        if ((f = fopen(s->log_path, "a")) != NULL) {
            fprintf(f, "kiln: warning: %s; running the step instead\n",
                    j->rc ? j->err.msg
                    : j->out.n_missing ? "a cached output is missing"
                                       : j->out.special[0]);
            fclose(f);
        }
    } else {
        const kiln_artifact_list *in = s->cache_key[0] ? &s->inputs : &j->in;
        size_t n;
        kiln_artifact_rec *recs = kiln_engine__artifact_recs(s, in, &j->out,
                                                             &n);
        char why[120];
        snprintf(why, sizeof(why), "cached from run %lld",
                 (long long)j->hit.run_id);
        kiln_crash_point("restored");
        kiln_engine__tx_begin(run);
        if (record_unrun(s, "cache", why, &err) != 0 ||
            kiln_store_cache_hit(run->eng->store, s->exec_id,
                                 j->hit.exec_id, j->key, &err) != 0 ||
            kiln_store_record_artifacts(run->eng->store, s->exec_id, recs, n,
                                        &err) != 0)
            kiln_engine__store_failed(run, &err);
        free(recs);
        kiln_engine__step_set(s, KILN_STEP_RUNNING, NULL);
        kiln_engine__succeed(s, why, 0);
        kiln_engine__tx_end(run);
    }
    cache_job_free(j);
    kiln_engine__run_maybe_finish(run);
    kiln_engine__request_dispatch(run->eng);
}

void kiln_engine__record_trees(kiln_run *run,
                               const kiln_artifact_list *list,
                               const kiln_cache_files *files,
                               const char *workdir)
{
    kiln_err err = KILN_ERR_INIT;
    for (size_t i = 0; i < list->n; i++) {
        char *dir, **rel, **sha;
        size_t n = 0, len;
        if (!list->items[i].is_dir)
            continue;
        dir = kiln_cache_relpath(workdir, list->items[i].path);
        len = strlen(dir);
        rel = kiln_calloc(files->n + 1, sizeof(char *));
        sha = kiln_calloc(files->n + 1, sizeof(char *));
        for (size_t k = 0; k < files->n; k++)
            if (strncmp(files->rel[k], dir, len) == 0 &&
                files->rel[k][len] == '/') {
                rel[n] = files->rel[k] + len + 1;
                sha[n++] = files->sha256[k];
            }
        if (n && kiln_store_tree_record(run->eng->store,
                                        list->items[i].sha256, n, rel, sha,
                                        &err) != 0)
            kiln_engine__store_failed(run, &err);
        free(rel);
        free(sha);
        free(dir);
    }
}

step_extra *kiln_engine__extra(step_rt *s)
{
    if (!s->x)
        s->x = kiln_calloc(1, sizeof(*s->x));
    return s->x;
}

static void drop_captures(step_extra *x)
{
    for (size_t i = 0; i < x->n_captures; i++) {
        free(x->capture_sha[i]);
        free(x->capture_text[i]);
    }
    free(x->capture_sha);
    free(x->capture_text);
    x->capture_sha = x->capture_text = NULL;
    x->n_captures = 0;
}

void kiln_engine__record_key(step_rt *s)
{
    kiln_run *run = s->run;
    kiln_err err = KILN_ERR_INIT;
    if (!s->x)
        return;
    for (size_t i = 0; i < s->x->n_captures; i++)
        if (kiln_store_capture_put(run->eng->store, s->x->capture_sha[i],
                                   s->x->capture_text[i], &err) != 0)
            kiln_engine__store_failed(run, &err);
    drop_captures(s->x);
}

/* One artifact record of list item a. */
static void rec_of(kiln_artifact_rec *r, const kiln_artifact *a,
                   const char *type, bool output)
{
    r->path = a->path;
    r->sha256 = a->sha256;
    r->size = a->size;
    r->is_dir = a->is_dir;
    r->type = type;
    r->output = output;
}

kiln_artifact_rec *kiln_engine__artifact_recs(step_rt *s,
                                              const kiln_artifact_list *in,
                                              const kiln_artifact_list *out,
                                              size_t *n)
{
    const kiln_step *st = &s->run->p->steps[s->idx];
    kiln_artifact_rec *recs;
    size_t k = 0, n_pins = s->x ? s->x->n_pins : 0;

    *n = in->n + out->n + n_pins;
    recs = kiln_calloc(*n ? *n : 1, sizeof(*recs));
    for (size_t i = 0; i < in->n; i++)
        rec_of(&recs[k++], &in->items[i], "file", false);
    for (size_t i = 0; i < n_pins; i++, k++) {
        recs[k].path = s->x->pins[i].path;
        recs[k].sha256 = s->x->pins[i].sha256;
        recs[k].size = s->x->pins[i].size;
        recs[k].is_dir = s->x->pins[i].is_dir;
        recs[k].type = "model";
    }
    for (size_t i = 0; i < out->n; i++)
        rec_of(&recs[k++], &out->items[i],
               kiln_artifact_type_of(st, s->workdir, out->items[i].path),
               true);
    return recs;
}

void kiln_engine__prepared_restore(step_rt *s, int64_t exec_id)
{
    kiln_run *run = s->run;
    kiln_store *store = run->eng->store;
    const kiln_step *st = &run->p->steps[s->idx];
    kiln_err err = KILN_ERR_INIT;
    char *text = NULL;
    json_t *doc, *m, *v;
    const char *ref;

    if (kiln_store_key_doc_get(store, &text, exec_id, &err) != 0 || !text) {
        free(text);
        return;
    }
    doc = json_loads(text, 0, NULL);
    free(s->key_doc);
    s->key_doc = text;
    /* The model versions it read, as recorded: its records and a retry's
     * environment name them again. */
    m = json_object_get(doc, "models");
    json_object_foreach(m, ref, v) {
        const char *sep = strpbrk(ref, "@:");
        char *name, *path = NULL, vtext[16];
        kiln_registry_pin pin;
        if (!json_is_object(v) || !sep)
            continue;
        name = kiln_strndup(ref, (size_t)(sep - ref));
        if (kiln_registry_resolve(&pin, store, name, NULL, (int)
                json_integer_value(json_object_get(v, "version")), &err) == 0 &&
            kiln_registry_materialise(&path, run->eng->state_dir, &pin,
                                      &err) == 0) {
            char *k0 = model_var(name, NULL), *k1;
            step_extra *x = kiln_engine__extra(s);
            snprintf(vtext, sizeof(vtext), "%d", pin.version);
            k1 = model_var(name, *sep == '@' ? sep + 1 : vtext);
            kiln_env_set(&x->model_env, k0, path);
            kiln_env_set(&x->model_env, k1, path);
            free(k0);
            free(k1);
            x->pins = kiln_realloc(x->pins, (x->n_pins + 1) *
                                   sizeof(*x->pins));
            x->pins[x->n_pins++] = pin;
        } else {
            kiln_registry_pin_dispose(&pin);
        }
        memset(&err, 0, sizeof(err));
        free(path);
        free(name);
    }
    /* A container step's image, as it ran. */
    if (st->container &&
        json_is_string(json_object_get(json_object_get(doc, "image"),
                                       "id"))) {
        step_extra *x = kiln_engine__extra(s);
        kiln_image_dispose(&x->image);
        x->image.id = kiln_strdup(json_string_value(json_object_get(
            json_object_get(doc, "image"), "id")));
        x->image.ref = kiln_strdup(st->container->image);
    }
    json_decref(doc);
}

void kiln_engine__prepared_dispose(step_rt *s)
{
    step_extra *x = s->x;
    if (x) {
        for (size_t i = 0; i < x->n_pins; i++)
            kiln_registry_pin_dispose(&x->pins[i]);
        free(x->pins);
        x->pins = NULL;
        x->n_pins = 0;
        drop_captures(x);
        kiln_env_dispose(&x->model_env);
        kiln_image_dispose(&x->image);
        free(x->container);
        x->container = NULL;
    }
    free(s->key_doc);
    s->key_doc = NULL;
}

/* Keep what the preparation found on the step: its key and document,
 * hashed inputs, captures, model copies. */
static void keep_prepared(step_rt *s, cache_job *j)
{
    if (j->image.id || j->image.ref || s->x) {
        step_extra *x = kiln_engine__extra(s);
        kiln_image_dispose(&x->image);
        x->image = j->image;
        memset(&j->image, 0, sizeof(j->image));
    }
    memcpy(s->cache_key, j->key, sizeof(s->cache_key));
    free(s->key_doc);
    s->key_doc = j->doc;
    j->doc = NULL;
    kiln_artifact_list_dispose(&s->inputs);
    s->inputs = j->in;
    memset(&j->in, 0, sizeof(j->in));
    if (j->n_captures) {
        step_extra *x = kiln_engine__extra(s);
        drop_captures(x);
        x->n_captures = j->n_captures;
        x->capture_sha = j->cap_sha;
        x->capture_text = j->cap_text;
        j->n_captures = 0;
        j->cap_sha = j->cap_text = NULL;
    }
    kiln_engine__record_trees(s->run, &s->inputs, &j->in_files, s->workdir);
    for (size_t i = 0; i < j->n_uses; i++) {
        pin_use *u = &j->uses[i];
        if (!u->path)
            continue;
        for (int k = 0; k < 2; k++)
            if (u->env[k]) {
                /* ..._VERSION: which version the copy is. */
                char *var = kiln_asprintf("%s_VERSION", u->env[k]);
                char num[16];
                snprintf(num, sizeof(num), "%d", u->pin.version);
                kiln_env_set(&kiln_engine__extra(s)->model_env, u->env[k],
                             u->path);
                kiln_env_set(&s->x->model_env, var, num);
                free(var);
            }
        if (u->declared) {
            step_extra *x = kiln_engine__extra(s);
            x->pins = kiln_realloc(x->pins, (x->n_pins + 1) *
                                   sizeof(*x->pins));
            x->pins[x->n_pins++] = u->pin;
            memset(&u->pin, 0, sizeof(u->pin));
        }
    }
}

static void key_done(uv_work_t *req, int status)
{
    cache_job *j = req->data;
    step_rt *s = j->s;
    kiln_run *run = s->run;
    const kiln_step *st = &run->p->steps[s->idx];
    kiln_err err = KILN_ERR_INIT;
    bool fatal = j->fatal;
    (void)status;

    if (j->rc == 0)
        keep_prepared(s, j);
    /* A hit restores its outputs on the thread pool, and only the step's
     * own declared outputs are ever put back. An input it could not hash
     * leaves its key that of a step without it: no lookup. */
    if (j->rc == 0 && s->may_cache && !s->inputs.n_special &&
        s->state == KILN_STEP_READY &&
        !run->cancelling &&
        kiln_store_cache_lookup(run->eng->store, &j->hit, j->key,
                                &err) == 0 &&
        (j->hit.n > 0 || st->outputs.n == 0) &&
        kiln_cache_outputs_match(&st->outputs, s->workdir, j->hit.n,
                                 j->hit.rel)) {
        uv_queue_work(run->eng->loop, &j->req, restore_work, restore_done);
        return;
    }
    if (err.code && err.code != KILN_ENOTFOUND)
        kiln_engine__store_failed(run, &err);
    run->n_hashing--;
    s->phase = PHASE_CHECKED;
    kiln_engine__release_slot(s);
    if (fatal && s->state == KILN_STEP_READY && !run->cancelling)
        prepare_failed(s, &j->err);
    cache_job_free(j);
    kiln_engine__run_maybe_finish(run);
    kiln_engine__request_dispatch(run->eng);
}

/* Before a step's first attempt: resolve the model versions it reads on
 * the loop, then off it copy them, capture its environment, hash its
 * inputs into its key, and look the key up. */
void kiln_engine__prepare(step_rt *s)
{
    cache_job *j = kiln_calloc(1, sizeof(*j));
    kiln_err err = KILN_ERR_INIT;
    j->s = s;
    j->req.data = j;
    j->models = json_object();
    j->environment = json_object();
    j->envv = kiln_env_vector(&s->run->base_env);
    for (size_t i = 0; i < s->run->n_image_pins; i++)
        if (strcmp(s->run->image_pins[i].key,
                   s->run->p->steps[s->idx].name) == 0)
            j->image_pin = s->run->image_pins[i].value;
    s->may_cache = kiln_engine__cacheable(s);
    if (resolve_models(j, s, &err) != 0) {
        prepare_failed(s, &err);
        cache_job_free(j);
        return;
    }
    s->phase = PHASE_CACHE;
    kiln_engine__take_slot(s);
    s->run->n_hashing++;
    uv_queue_work(s->run->eng->loop, &j->req, key_work, key_done);
}

/* A retry: the step succeeded in the run retried, so record that
 * execution's outputs and metrics as this run's and go on. The files are
 * where that run left them (the same workdir or checkout). */
void kiln_engine__step_reuse(step_rt *s, int64_t from_exec)
{
    kiln_run *run = s->run;
    kiln_err err = KILN_ERR_INIT;
    char why[80];

    int64_t from_run = run->reuse_run;

    /* kiln run --from/--only/--until: from the run that made them. */
    if (!from_run &&
        kiln_store_exec_run(run->eng->store, &from_run, from_exec,
                            &err) != 0)
        kiln_engine__store_failed(run, &err);
    snprintf(why, sizeof(why), "reused from run %lld", (long long)from_run);
    kiln_engine__tx_begin(run);
    if (record_unrun(s, "reuse", why, &err) != 0 ||
        kiln_store_exec_reuse(run->eng->store, s->exec_id, from_exec,
                              &err) != 0)
        kiln_engine__store_failed(run, &err);
    kiln_engine__step_set(s, KILN_STEP_RUNNING, NULL);
    kiln_engine__succeed(s, why, 0);
    kiln_engine__tx_end(run);
}

void kiln_engine__step_unavailable(step_rt *s, const char *why)
{
    kiln_err err = KILN_ERR_INIT;
    kiln_err_set(&err, KILN_ENOTFOUND, "%s", why);
    prepare_failed(s, &err);
}
