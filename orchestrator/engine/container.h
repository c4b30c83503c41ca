/*
 * container.h: steps in containers (a step's image:), through the real
 * engine's command line (podman run, docker run), never a runtime of
 * kiln's own.
 *
 * Before a step's first attempt its image is resolved once, on the thread
 * pool: pulled per its pull: policy, then inspected for its ID, the
 * SHA-256 of its content. That ID, not the tag, is what the step runs, is
 * recorded on the execution and is part of the step's cache key, so a tag
 * re-pointed at other content is another key. The step's command then
 * runs as the argument of `ENGINE run --rm --init --name NAME ... ID`
 * under the step's usual executor (kiln-shim locally, the batch job under
 * Slurm): its log, exit status, cancel and crash recovery are a local
 * step's. The container is named after the run, step and attempt, so a
 * cancel can stop it (ENGINE stop) and nothing is left behind.
 */
#ifndef KILN_CONTAINER_H
#define KILN_CONTAINER_H

#include <jansson.h>
#include <uv.h>

#include "dsl/dsl.h"

/* An image resolved for an attempt. */
typedef struct kiln_image {
    char *ref;       /* as written */
    char *id;        /* "sha256:HEX": its content */
    char *digest;    /* a registry digest ("sha256:HEX"), or NULL */
} kiln_image;

void kiln_image_dispose(kiln_image *img);

/* Resolve c's image: pull it per c->pull (pinned_id not NULL: that exact
 * image, kiln reproduce: it must still be here), then its ID. Blocks
 * (the thread pool). KILN_ENOTFOUND with the engine's words when the
 * image is missing or cannot be pulled. */
int kiln_container_resolve(kiln_image *out, const kiln_container *c,
                           const char *pinned_id, char *const *envv,
                           kiln_err *err);

/* What of c and img goes into the step's cache key: the image's ID (not
 * its tag), the engine and what the container sees (network, mounts,
 * GPUs, options). */
json_t *kiln_container_key(const kiln_container *c, const kiln_image *img);

/* The container's name for an attempt: kiln-RUN-STEP-ATTEMPT (a sweep
 * item's brackets and commas as '_', then -HASH8 of the step's name). */
char *kiln_container_name(int64_t run_id, const char *step, int attempt);

/* What the container sees of the host. */
typedef struct kiln_container_env {
    const char *root;        /* the run's tree, at the same path */
    const char *workdir;     /* the step's directory (its cwd) */
    const char *log_dir;     /* the run's logs: $KILN_METRICS */
    const char *models_dir;  /* model copies (read-only), or NULL */
    const char *pipeline_dir; /* relative mounts: are against it */
    size_t n_names;          /* variables passed by name (their values */
    char **names;            /* come from the environment it runs in) */
} kiln_container_env;

/* The argv running cmd (a NULL-terminated argv) in a container: the
 * array and its strings in one allocation (free() it). */
char **kiln_container_argv(const kiln_container *c, const kiln_image *img,
                           const char *name, const kiln_container_env *e,
                           char *const *cmd);

/* Stop and remove the container called name (cancel, timeout): SIGTERM,
 * then SIGKILL a little before grace_s (the executor's own forced stop),
 * by the engine; runs in the background. */
void kiln_container_stop(uv_loop_t *loop, const kiln_container *c,
                         const char *name, int grace_s);

#endif
