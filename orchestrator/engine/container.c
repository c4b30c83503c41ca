/* container.c: steps in containers (see container.h). */
#include "container.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/hash.h"
#include "engine/capture.h"

/* How long a pull may take (a large image on a slow link) before the
 * step fails; looking an image up is quick. */
#define PULL_TIMEOUT_MS (30 * 60 * 1000)
#define INSPECT_TIMEOUT_MS (60 * 1000)
/* How much sooner than the executor's forced stop (after the same
 * grace) the engine kills a container it stops: time for the engine to
 * record its end and remove it before the executor kills its client. */
#define STOP_MARGIN_S 3

void kiln_image_dispose(kiln_image *img)
{
    free(img->ref);
    free(img->id);
    free(img->digest);
    memset(img, 0, sizeof(*img));
}

/* Run ENGINE ARGS...; its output in out, its exit status returned. */
static int engine_run(kiln_buf *out, const kiln_container *c,
                      char *const *envv, int64_t timeout_ms, ...)
{
    const char *argv[12];
    size_t n = 0;
    va_list ap;
    argv[n++] = c->engine;
    va_start(ap, timeout_ms);
    for (const char *a; n < 11 && (a = va_arg(ap, const char *)) != NULL;)
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    kiln_buf_clear(out);
    return kiln_capture_argv(out, (char *const *)argv, NULL, envv,
                             timeout_ms);
}

/* The engine's last line of output, for a message. */
static const char *last_line(kiln_buf *b)
{
    char *s = (char *)kiln_buf_cstr(b), *nl;
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
    nl = strrchr(s, '\n');
    return nl ? nl + 1 : s;
}

/* Inspect ref: its ID (and registry digest) into out; the engine's exit
 * status (not 0: no such image here). */
static int inspect(kiln_image *out, kiln_buf *b, const kiln_container *c,
                   const char *ref, char *const *envv)
{
    bool docker = strcmp(c->engine, "docker") == 0;
    int st = engine_run(b, c, envv, INSPECT_TIMEOUT_MS, "image", "inspect",
                        "--format", docker ? "{{.Id}}" : "{{.Id}} {{.Digest}}",
                        ref, (char *)NULL);
    char *id, *sp;
    if (st != 0)
        return st;
    id = (char *)last_line(b);
    if ((sp = strchr(id, ' ')) != NULL) {
        *sp = '\0';
        if (strncmp(sp + 1, "sha256:", 7) == 0)
            out->digest = kiln_strdup(sp + 1);
    }
    if (strncmp(id, "sha256:", 7) == 0)
        id += 7;
    if (strlen(id) != 64 || strspn(id, "0123456789abcdef") != 64)
        return -1;
    out->id = kiln_asprintf("sha256:%s", id);
    return 0;
}

int kiln_container_resolve(kiln_image *out, const kiln_container *c,
                           const char *pinned_id, char *const *envv,
                           kiln_err *err)
{
    kiln_buf b = KILN_BUF_INIT;
    const char *ref = pinned_id ? pinned_id : c->image;
    bool always = !pinned_id && strcmp(c->pull, "always") == 0;
    int rc = 0, st = 1;

    memset(out, 0, sizeof(*out));
    if (!always)
        st = inspect(out, &b, c, ref, envv);
    if (st < 0) {
        rc = kiln_err_set(err, KILN_ERROR, "%s image inspect %s: %s",
                          c->engine, ref, last_line(&b));
    } else if (st != 0 && pinned_id) {
        rc = kiln_err_set(err, KILN_ENOTFOUND, "image %s (%s) is no longer "
                          "available on this machine", pinned_id, c->image);
    } else if (st != 0 && strcmp(c->pull, "never") == 0) {
        rc = kiln_err_set(err, KILN_ENOTFOUND, "image %s is not on this "
                          "machine (pull: never)", c->image);
    } else if (st != 0) {
        if (engine_run(&b, c, envv, PULL_TIMEOUT_MS, "pull", c->image,
                       (char *)NULL) != 0)
            rc = kiln_err_set(err, KILN_ENOTFOUND, "cannot pull image %s: "
                              "%s", c->image, last_line(&b));
        else if (inspect(out, &b, c, c->image, envv) != 0)
            rc = kiln_err_set(err, KILN_ENOTFOUND, "cannot inspect image "
                              "%s: %s", c->image, last_line(&b));
    }
    if (rc == 0)
        out->ref = kiln_strdup(c->image);
    kiln_buf_dispose(&b);
    if (rc != 0)
        kiln_image_dispose(out);
    return rc;
}

static json_t *list(const kiln_strlist *l)
{
    json_t *a = json_array();
    for (size_t i = 0; i < l->n; i++)
        json_array_append_new(a, json_string(l->items[i]));
    return a;
}

json_t *kiln_container_key(const kiln_container *c, const kiln_image *img)
{
    return json_pack("{s:s?, s:s, s:s, s:o, s:s?, s:o}", "id", img->id,
                     "engine", c->engine, "network",
                     c->network ? c->network : "default", "mounts",
                     list(&c->mounts), "gpus", c->gpus, "options",
                     list(&c->options));
}

char *kiln_container_name(int64_t run_id, const char *step, int attempt)
{
    char *name = kiln_asprintf("kiln-%lld-%s-%d", (long long)run_id, step,
                               attempt), *p, *full;
    char hash[KILN_HASH_HEX];
    bool plain = true;

    /* A sweep's item, train[lr=0.1,depth=3]: podman takes only
     * [a-zA-Z0-9_.-]; the rest become '_', and a hash of the step's name
     * keeps two items apart. */
    for (p = name; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("_.-", *p)) {
            *p = '_';
            plain = false;
        }
    if (plain)
        return name;
    kiln_hash_bytes(hash, step, strlen(step));
    full = kiln_asprintf("%s-%.8s", name, hash);
    free(name);
    return full;
}

/* argv under construction: strings kept in a buffer, then packed. */
typedef struct args {
    size_t n, cap;
    char **v;
} args;

static void add(args *a, const char *s)
{
    if (a->n + 2 > a->cap) {
        a->cap = a->cap ? a->cap * 2 : 64;
        a->v = kiln_realloc(a->v, a->cap * sizeof(char *));
    }
    a->v[a->n++] = kiln_strdup(s);
    a->v[a->n] = NULL;
}

static void add_mount(args *a, const char *host, const char *in,
                      const char *mode)
{
    char *m = kiln_asprintf("%s:%s%s%s", host, in, mode ? ":" : "",
                            mode ? mode : "");
    add(a, "--volume");
    add(a, m);
    free(m);
}

/* One allocation: the pointers, then the strings. */
static char **pack(args *a)
{
    size_t size = (a->n + 1) * sizeof(char *), off;
    char **out;
    for (size_t i = 0; i < a->n; i++)
        size += strlen(a->v[i]) + 1;
    out = kiln_calloc(1, size);
    off = (a->n + 1) * sizeof(char *);
    for (size_t i = 0; i < a->n; i++) {
        size_t len = strlen(a->v[i]) + 1;
        out[i] = (char *)out + off;
        memcpy(out[i], a->v[i], len);
        off += len;
        free(a->v[i]);
    }
    out[a->n] = NULL;
    free(a->v);
    return out;
}

static bool under(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    return strncmp(path, dir, n) == 0 && (path[n] == '/' || !path[n]);
}

char **kiln_container_argv(const kiln_container *c, const kiln_image *img,
                           const char *name, const kiln_container_env *e,
                           char *const *cmd)
{
    args a = {0, 0, NULL};
    char *user = NULL;

    add(&a, c->engine);
    add(&a, "run");
    add(&a, "--rm");
    /* An init as PID 1: SIGTERM reaches the command (a shell as PID 1
     * would ignore it). */
    add(&a, "--init");
    add(&a, "--name");
    add(&a, name);
    add(&a, "--pull=never");
    /* Files it writes belong to the user running kiln. */
    if (getuid() != 0) {
        if (strcmp(c->engine, "podman") == 0) {
            add(&a, "--userns=keep-id");
        } else {
            user = kiln_asprintf("%d:%d", (int)getuid(), (int)getgid());
            add(&a, "--user");
            add(&a, user);
            free(user);
        }
    }
    if (c->network && strcmp(c->network, "none") == 0) {
        add(&a, "--network");
        add(&a, "none");
    }
    if (c->gpus) {
        if (strcmp(c->engine, "podman") == 0) {
            char *dev = strcmp(c->gpus, "all") == 0
                            ? kiln_strdup("nvidia.com/gpu=all")
                            : kiln_asprintf("nvidia.com/gpu=%s", c->gpus);
            add(&a, "--device");
            add(&a, dev);
            free(dev);
        } else {
            add(&a, "--gpus");
            add(&a, c->gpus);
        }
    }
    /* The step's tree and directory at the same paths, read-write; the
     * run's logs ($KILN_METRICS); model copies, read-only. */
    add_mount(&a, e->root, e->root, NULL);
    if (!under(e->workdir, e->root))
        add_mount(&a, e->workdir, e->workdir, NULL);
    if (!under(e->log_dir, e->root))
        add_mount(&a, e->log_dir, e->log_dir, NULL);
    if (e->models_dir && access(e->models_dir, F_OK) == 0)
        add_mount(&a, e->models_dir, e->models_dir, "ro");
    for (size_t i = 0; i < c->mounts.n; i++) {
        const char *m = c->mounts.items[i];
        if (m[0] != '/' && e->pipeline_dir) {
            char *abs = kiln_path_join(e->pipeline_dir, m);
            add(&a, "--volume");
            add(&a, abs);
            free(abs);
        } else {
            add(&a, "--volume");
            add(&a, m);
        }
    }
    add(&a, "--workdir");
    add(&a, e->workdir);
    /* Variables by name: their values come from the environment the
     * engine runs in, never from its command line. */
    for (size_t i = 0; i < e->n_names; i++) {
        add(&a, "--env");
        add(&a, e->names[i]);
    }
    for (size_t i = 0; i < c->options.n; i++)
        add(&a, c->options.items[i]);
    add(&a, img->id);
    for (size_t i = 0; cmd[i]; i++)
        add(&a, cmd[i]);
    return pack(&a);
}

typedef struct stopper {
    uv_process_t proc;
} stopper;

static void on_stopper_close(uv_handle_t *h)
{
    free(h->data);
}

static void on_stopper_exit(uv_process_t *p, int64_t status, int sig)
{
    (void)status;
    (void)sig;
    uv_close((uv_handle_t *)p, on_stopper_close);
}

void kiln_container_stop(uv_loop_t *loop, const kiln_container *c,
                         const char *name, int grace_s)
{
    stopper *s = kiln_calloc(1, sizeof(*s));
    char grace[16];
    /* podman: rm --force stops (SIGTERM, SIGKILL after --time), then
     * removes the container even when --rm cannot: podman run and the
     * container's monitor (conmon, adopted by kiln-shim, a subreaper) do
     * that removal, and they die with the step's processes when a Slurm
     * job is cancelled (Slurm signals every process of the job), leaving
     * the container Exited. docker's daemon removes --rm containers. */
    char *rm[] = {(char *)c->engine, (char *)"rm", (char *)"--force",
                  (char *)"--time", grace, (char *)name, NULL};
    char *stop[] = {(char *)c->engine, (char *)"stop", (char *)"--time",
                    grace, (char *)name, NULL};
    uv_process_options_t o;
    uv_stdio_container_t io[3];

    /* The engine's SIGKILL comes before the executor's forced stop after
     * the same grace: that kills kiln-shim's descendants, conmon among
     * them, and a container whose conmon was killed stays Stopping for
     * good, even to rm --force. */
    if (grace_s > 2 * STOP_MARGIN_S)
        grace_s -= STOP_MARGIN_S;
    snprintf(grace, sizeof(grace), "%d", grace_s);
    memset(&o, 0, sizeof(o));
    io[0].flags = UV_IGNORE;
    io[1].flags = UV_IGNORE;
    io[2].flags = UV_IGNORE;
    o.file = c->engine;
    o.args = strcmp(c->engine, "podman") == 0 ? rm : stop;
    o.exit_cb = on_stopper_exit;
    o.stdio = io;
    o.stdio_count = 3;
    s->proc.data = s;
    if (uv_spawn(loop, &s->proc, &o) != 0)
        uv_close((uv_handle_t *)&s->proc, on_stopper_close);
}
