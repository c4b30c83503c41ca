/*
 * schema-container.c: image: and container:, in defaults: or a step
 * (schema.h): a step that runs in a container through the engine's CLI.
 *
 *   image:      NAME[:TAG][@sha256:DIGEST]; a step's replaces the
 *               defaults', and image: "" (or null) on a step turns the
 *               defaults' off;
 *   container:  engine:, pull:, network:, mounts:, gpus:, options:; a
 *               step's block replaces the defaults' whole.
 *
 * The two are read apart, into a cdraft each for defaults: and for the
 * step being read, and made into the step's kiln_container once the step
 * is read (kiln_dsl__container_step()), so the order of the keys does not
 * matter. Steps that take both from defaults: share one kiln_container.
 */
#include "schema.h"

#include <string.h>

/* The draft of the mapping being walked: defaults: fill the template. */
static cdraft *draft(vctx *v, void *obj)
{
    return obj == &v->tmpl ? &v->cdefaults : &v->cstep;
}

/* image:. */

#define IMAGE_EXAMPLES "such as python:3.12, " \
    "registry.example.com:5000/team/img:1.2 or python@sha256:<64 hex digits>"
#define MAX_IMAGE_NAME 255 /* as Docker's reference grammar */
#define MAX_TAG 128

static bool is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(char c)
{
    return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* A registry: HOST[:PORT], HOST made of dot-separated labels of letters,
 * digits and "-" (not at either end of a label). */
static bool valid_registry(const char *s, size_t n)
{
    size_t colon = 0, i, label = 0;
    while (colon < n && s[colon] != ':')
        colon++;
    if (colon == 0)
        return false;
    for (i = 0; i <= colon; i++) {
        if (i == colon || s[i] == '.') {
            if (label == 0 || s[i - 1] == '-')
                return false;
            label = 0;
        } else if (is_alnum(s[i]) || (s[i] == '-' && label > 0)) {
            label++;
        } else {
            return false;
        }
    }
    if (colon == n)
        return true;
    if (colon + 1 == n || n - colon - 1 > 5)
        return false;
    for (i = colon + 1; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* A path component: lowercase letters and digits, separated by ".",
 * "_", "__" or any number of "-". Returns 0, or 1 when it is only the
 * case that is wrong (for a better message), or -1. */
static int valid_component(const char *s, size_t n)
{
    bool upper = false;
    size_t i, run = 0;
    char sep = 0;
    if (n == 0)
        return -1;
    for (i = 0; i < n; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z') {
            upper = true;
            c = (char)(c - 'A' + 'a');
        }
        if (is_lower_alnum(c)) {
            run = 0;
            continue;
        }
        if (c != '.' && c != '_' && c != '-')
            return -1;
        if (i == 0 || i == n - 1)
            return -1;
        if (run > 0 && !(c == sep && (c == '-' || (c == '_' && run == 1))))
            return -1;
        sep = c;
        run++;
    }
    return upper ? 1 : 0;
}

/*
 * Check the image reference s (n bytes, quoted in q) as Docker's grammar
 * has it, loosely: [REGISTRY[:PORT]/]PATH[:TAG][@sha256:DIGEST]. The
 * first component is a registry when more follow and it holds "." or
 * ":" or is "localhost". Reports the first problem at val; returns
 * whether there was none.
 */
static bool check_image(vctx *v, const kiln_ynode *val, const char *q)
{
    const char *s = val->u.str;
    size_t n = val->n, at, name_end, slash, start, i;

    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= ' ' || c == 0x7f) {
            error_at(v, val, "image: %s: an image reference holds no "
                     "spaces or control characters", q);
            return false;
        }
        if (c >= 0x80) {
            error_at(v, val, "image: %s: an image reference is ASCII "
                     "letters, digits and \"._-:/@\"", q);
            return false;
        }
        if (!is_alnum(s[i]) && !strchr("._-:/@", s[i])) {
            error_at(v, val, "image: %s: unexpected character \"%c\" "
                     "(expected NAME[:TAG] or NAME@sha256:DIGEST, "
                     IMAGE_EXAMPLES ")", q, s[i]);
            return false;
        }
    }
    for (at = 0; at < n && s[at] != '@'; at++)
        ;
    if (at < n) {
        const char *d = s + at + 1;
        size_t dn = n - at - 1;
        bool good = dn == 7 + 64 && memcmp(d, "sha256:", 7) == 0;
        for (i = 7; good && i < dn; i++)
            good = is_hex(d[i]);
        if (!good) {
            error_at(v, val, "image: %s: a digest is \"sha256:\" and 64 "
                     "lowercase hex digits", q);
            return false;
        }
    }
    /* A tag follows the last ":" after the last "/". */
    slash = 0;
    for (i = 0; i < at; i++)
        if (s[i] == '/')
            slash = i + 1;
    for (name_end = slash; name_end < at && s[name_end] != ':'; name_end++)
        ;
    if (name_end < at) {
        const char *t = s + name_end + 1;
        size_t tn = at - name_end - 1;
        bool good = tn > 0 && tn <= MAX_TAG && (is_alnum(t[0]) || t[0] == '_');
        for (i = 1; good && i < tn; i++)
            good = is_alnum(t[i]) || t[i] == '_' || t[i] == '.' ||
                   t[i] == '-';
        if (!good) {
            error_at(v, val, "image: %s: a tag is letters, digits, \"_\", "
                     "\".\" and \"-\" (at most %d, not starting with \".\" "
                     "or \"-\")", q, MAX_TAG);
            return false;
        }
    }
    if (name_end == 0) {
        error_at(v, val, "image: %s has no image name (expected "
                 "NAME[:TAG] or NAME@sha256:DIGEST, " IMAGE_EXAMPLES ")", q);
        return false;
    }
    if (name_end > MAX_IMAGE_NAME) {
        error_at(v, val, "image: %s: the name is longer than %d characters",
                 q, MAX_IMAGE_NAME);
        return false;
    }
    start = 0;
    for (i = 0; i < name_end && s[i] != '/'; i++)
        ;
    if (i < name_end) {
        bool registry = (i == 9 && memcmp(s, "localhost", 9) == 0) ||
                        memchr(s, '.', i) || memchr(s, ':', i);
        if (registry) {
            if (!valid_registry(s, i)) {
                error_at(v, val, "image: %s: invalid registry \"%.*s\" "
                         "(expected HOST or HOST:PORT, such as "
                         "registry.example.com:5000)", q, (int)i, s);
                return false;
            }
            start = i + 1;
        }
    }
    while (start <= name_end) {
        size_t end = start;
        int rc;
        while (end < name_end && s[end] != '/')
            end++;
        rc = valid_component(s + start, end - start);
        if (end == start) {
            error_at(v, val, "image: %s: an empty name component (\"//\", "
                     "or \"/\" at either end)", q);
            return false;
        }
        if (rc == 1) {
            error_at(v, val, "image: %s: repository names are lowercase",
                     q);
            return false;
        }
        if (rc < 0) {
            error_at(v, val, "image: %s: invalid name component \"%.*s\" "
                     "(lowercase letters and digits, separated by \".\", "
                     "\"_\" or \"-\")", q, (int)(end - start), s + start);
            return false;
        }
        start = end + 1;
    }
    return true;
}

/*
 * image: NAME[:TAG][@sha256:DIGEST]. "" or null turns an image off: on a
 * step, the defaults'; in defaults:, it says nothing.
 */
void kiln_dsl__set_image(vctx *v, const kiln_ynode *key,
                         const kiln_ynode *val, void *obj, const keyspec *k)
{
    cdraft *d = draft(v, obj);
    char got[KILN_DSL_QUOTE_SIZE];

    d->image_set = true;
    d->image_bad = false;
    d->image = NULL;
    d->image_key = key;
    if (kiln_dsl__is_null(val) ||
        (val->type == KILN_YNODE_SCALAR && val->n == 0))
        return;
    if (val->type != KILN_YNODE_SCALAR) {
        error_at(v, val, "image: expected an image " IMAGE_EXAMPLES
                 ", got %s", kiln_dsl__describe(got, val));
        d->image_bad = true;
        return;
    }
    if (!check_image(v, val, kiln_dsl__quote(got, val->u.str, val->n))) {
        d->image_bad = true;
        return;
    }
    d->image = model_str(v, val);
}

/* container:. */

/* A value that must be one of choices (n of them), stored as the
 * choice's own string; what describes them for a message with no
 * guess ("podman or docker"). */
static void set_choice(vctx *v, const kiln_ynode *val, void *obj,
                       const keyspec *k, const char *const *choices,
                       size_t n, const char *what)
{
    char got[KILN_DSL_QUOTE_SIZE];
    const char *guess;
    if (kiln_dsl__is_text(val)) {
        for (size_t i = 0; i < n; i++) {
            if (strlen(choices[i]) == val->n &&
                memcmp(choices[i], val->u.str, val->n) == 0) {
                *FIELD(obj, k->off, const char *) = choices[i];
                return;
            }
        }
        guess = kiln_dsl__suggest(v->c, val->u.str, val->n, choices, n);
        if (guess) {
            error_at(v, val, "%s: unknown value %s (did you mean \"%s\"?)",
                     k->name, kiln_dsl__quote(got, val->u.str, val->n),
                     guess);
            return;
        }
    }
    error_at(v, val, "%s: expected %s, got %s", k->name, what,
             kiln_dsl__describe(got, val));
}

static void set_engine(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
                       void *obj, const keyspec *k)
{
    static const char *const engines[] = {"podman", "docker"};
    set_choice(v, val, obj, k, engines, KILN_ARRAY_SIZE(engines),
               "podman or docker");
}

static void set_pull(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
                     void *obj, const keyspec *k)
{
    static const char *const pulls[] = {"missing", "always", "never"};
    set_choice(v, val, obj, k, pulls, KILN_ARRAY_SIZE(pulls),
               "missing, always or never");
}

static void set_network(vctx *v, const kiln_ynode *key,
                        const kiln_ynode *val, void *obj, const keyspec *k)
{
    static const char *const networks[] = {"default", "none"};
    set_choice(v, val, obj, k, networks, KILN_ARRAY_SIZE(networks),
               "default or none");
}

/* gpus: a count from 1 to KILN_DSL_MAX_CPUS, or "all"; kept as text. */
static void set_gpus(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
                     void *obj, const keyspec *k)
{
    char got[KILN_DSL_QUOTE_SIZE];
    uint64_t n;
    if (kiln_dsl__is_text(val) && val->n == 3 &&
        memcmp(val->u.str, "all", 3) == 0) {
        *FIELD(obj, k->off, const char *) = "all";
        return;
    }
    if (kiln_dsl__as_count(val, &n) < 0 || n == 0 || n > KILN_DSL_MAX_CPUS) {
        error_at(v, val, "%s: expected an integer from 1 to %d or \"all\", "
                 "got %s", k->name, KILN_DSL_MAX_CPUS,
                 kiln_dsl__describe(got, val));
        return;
    }
    *FIELD(obj, k->off, const char *) =
        kiln_arena_printf(v->p->arena, "%u", (unsigned)n);
}

/* Report what is wrong with mount item i of l. */
static void bad_mount(vctx *v, const kiln_strlist *l, size_t i,
                      const char *what)
{
    char q[KILN_DSL_QUOTE_SIZE];
    kiln_dsl__error(v->c, l->pos[i].line, l->pos[i].col,
                    "mounts: %s: %s", kiln_dsl__quote(q, l->items[i],
                                                      strlen(l->items[i])),
                    what);
}

/*
 * mounts: [HOST:CONTAINER[:ro|rw]]. CONTAINER is absolute; HOST is
 * absolute or relative to the pipeline's directory; no two mounts share
 * a CONTAINER path (the engine would refuse them).
 */
static void set_mounts(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
                       void *obj, const keyspec *k)
{
    kiln_strlist *l = FIELD(obj, k->off, kiln_strlist);
    kiln_strmap seen;
    size_t i, j, old;

    kiln_dsl__set_list(v, val, obj, k, "a list of HOST:CONTAINER[:ro] "
                       "mounts such as [data:/data:ro]", "a mount such as "
                       "data:/data:ro");
    kiln_dsl__strmap_init(&seen, l->n);
    for (i = j = 0; i < l->n; i++) {
        const char *s = l->items[i], *c1 = strchr(s, ':'), *c2, *ctr;
        size_t ctr_n;
        bool good = false;
        if (!c1 || c1 == s) {
            bad_mount(v, l, i, "expected HOST:CONTAINER or "
                      "HOST:CONTAINER:ro, such as data:/data:ro");
        } else if (c1[1] != '/') {
            bad_mount(v, l, i, "the container path must be absolute "
                      "(HOST:CONTAINER[:ro], such as data:/data:ro)");
        } else {
            ctr = c1 + 1;
            c2 = strchr(ctr, ':');
            ctr_n = c2 ? (size_t)(c2 - ctr) : strlen(ctr);
            if (c2 && strcmp(c2 + 1, "ro") != 0 && strcmp(c2 + 1, "rw") != 0)
                bad_mount(v, l, i, "expected \"ro\" or \"rw\" after the "
                          "container path (paths with \":\" cannot be "
                          "mounted)");
            else if (!kiln_dsl__strmap_add(&seen, ctr, ctr_n, i, &old))
                bad_mount(v, l, i, "a second mount at the same container "
                          "path");
            else
                good = true;
        }
        if (good) {
            l->items[j] = l->items[i];
            l->pos[j] = l->pos[i];
            j++;
        }
    }
    l->n = j;
    kiln_dsl__strmap_dispose(&seen);
}

/* options: more engine flags, each one argv item that looks like a flag,
 * so that a command or a stray word is caught here. */
static void set_options(vctx *v, const kiln_ynode *key,
                        const kiln_ynode *val, void *obj, const keyspec *k)
{
    kiln_strlist *l = FIELD(obj, k->off, kiln_strlist);
    char q[KILN_DSL_QUOTE_SIZE];
    kiln_dsl__set_list(v, val, obj, k, "a list of engine options such as "
                       "[\"--shm-size=1g\"]", "an engine option such as "
                       "--shm-size=1g");
    for (size_t i = 0; i < l->n; i++)
        if (l->items[i][0] != '-' || l->items[i][1] == '\0')
            kiln_dsl__error(v->c, l->pos[i].line, l->pos[i].col,
                            "%s: %s is not an engine option (expected "
                            "something like --shm-size=1g: a flag and "
                            "its value in one item, joined by \"=\")", k->name,
                            kiln_dsl__quote(q, l->items[i],
                                            strlen(l->items[i])));
}

/* container:; target: kiln_container. */
static const keyspec container_keys[] = {
    ROW(kiln_container, "engine", set_engine, engine),
    ROW(kiln_container, "pull", set_pull, pull),
    ROW(kiln_container, "network", set_network, network),
    ROW(kiln_container, "mounts", set_mounts, mounts),
    ROW(kiln_container, "gpus", set_gpus, gpus),
    ROW(kiln_container, "options", set_options, options),
};

_Static_assert(KILN_ARRAY_SIZE(container_keys) <= 64, "too many keys");

static const mapspec container_spec = SPEC(container_keys, false);

static void builtin_settings(kiln_container *c)
{
    c->engine = "podman";
    c->pull = "missing";
    c->network = "default";
}

/* container: {...} in defaults: or a step; null is the built-in
 * settings (on a step: instead of the defaults'). */
void kiln_dsl__set_container(vctx *v, const kiln_ynode *key,
                             const kiln_ynode *val, void *obj,
                             const keyspec *k)
{
    cdraft *d = draft(v, obj);
    kiln_container *c;

    if (!kiln_dsl__nested_map(v, val, k->name))
        return;
    c = kiln_arena_alloc(v->p->arena, sizeof(*c));
    builtin_settings(c);
    kiln_dsl__walk(v, &container_spec,
                   val->type == KILN_YNODE_MAP ? val : NULL, c, "container",
                   NULL, key);
    d->block = c;
    d->block_key = key;
}

/* Make the container of an image and a block (NULL: the built-in
 * settings). */
static const kiln_container *make(vctx *v, const cdraft *image,
                                  const kiln_container *block)
{
    kiln_container *c = kiln_arena_alloc(v->p->arena, sizeof(*c));
    if (block)
        *c = *block;
    else
        builtin_settings(c);
    c->image = image->image;
    c->pos = model_pos(v, image->image_key);
    return c;
}

void kiln_dsl__container_step(vctx *v, kiln_step *st, const kiln_ynode *key)
{
    cdraft *own = &v->cstep, *def = &v->cdefaults;
    const cdraft *image = own->image_set ? own : def;
    const kiln_container *block = own->block ? own->block : def->block;
    char q[KILN_DSL_QUOTE_SIZE];

    st->container = NULL;
    kiln_dsl__quote(q, key->u.str, key->n);
    /* A step with an image (even a wrong one) had the defaults' block
     * meant for it. */
    if ((image->image || image->image_bad) && !own->block && def->block)
        v->cdefaults_used = true;
    if (image->image_bad) {
        /* Reported already. */
    } else if (!image->image) {
        if (own->block)
            error_at(v, own->block_key, "step %s: container: needs an "
                     "image (%s)", q, own->image_set
                     ? "image: here turns the defaults' off"
                     : "write image: on the step or in defaults:");
    } else if (st->validation && st->kind == KILN_KIND_VALIDATE) {
        /* kiln runs the checks itself, on the host. */
        if (own->image_set)
            error_at(v, own->image_key, "step %s: a validate step with "
                     "checks runs on the host: it cannot have an image:",
                     q);
        else
            error_at(v, key, "step %s: a validate step with checks runs "
                     "on the host, but defaults: give it an image: write "
                     "image: \"\" in the step", q);
    } else if (image == def && block == def->block) {
        if (!v->cshared)
            v->cshared = make(v, def, block);
        st->container = v->cshared;
    } else {
        st->container = make(v, image, block);
    }
    memset(own, 0, sizeof(*own));
}

void kiln_dsl__container_done(vctx *v)
{
    const cdraft *def = &v->cdefaults;
    if (def->block && !v->cdefaults_used && v->p->n_steps > 0 &&
        !def->image_bad)
        error_at(v, def->block_key, "defaults: container: applies to no "
                 "step: no step has an image:");
}
