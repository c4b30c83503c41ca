/* cache.c: cache keys and the object store. */
#include "cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "engine/secrets.h"

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

char *kiln_cache_relpath(const char *workdir, const char *path)
{
    char *real = kiln_path_absolute(workdir);
    size_t n = strlen(real);
    char *rel;
    if (strncmp(path, real, n) == 0 && path[n] == '/')
        rel = kiln_strdup(path + n + 1);
    else
        rel = kiln_strdup(path);
    free(real);
    return rel;
}

static json_t *kv_object(size_t n, const kiln_kv *kv)
{
    json_t *o = json_object();
    for (size_t i = 0; i < n; i++)
        json_object_set_new(o, kv[i].key, json_string(kv[i].value));
    return o;
}

/* A step's checks, written out: a step whose outputs were made under
 * other checks must run them. */
static json_t *validation_text(const kiln_validation *v)
{
    kiln_buf b = KILN_BUF_INIT;
    json_t *text;
    if (!v)
        return json_null();
    kiln_buf_printf(&b, "data=%s\nmin_rows=%lld\nmax_rows=%lld\nstrict=%d\n",
                    v->data ? v->data : "", (long long)v->min_rows,
                    (long long)v->max_rows, v->strict);
    for (size_t i = 0; i < v->n_rules; i++) {
        const kiln_col_rule *r = &v->rules[i];
        kiln_buf_printf(&b, "column=%s\ntype=%s\n", r->column,
                        kiln_col_type_name(r->type));
        if (r->has_min)
            kiln_buf_printf(&b, "min=%.17g\n", r->min);
        if (r->has_max)
            kiln_buf_printf(&b, "max=%.17g\n", r->max);
        kiln_buf_printf(&b, "max_missing=%.17g\n", r->max_missing);
        for (size_t k = 0; k < r->values.n; k++)
            kiln_buf_printf(&b, "value=%s\n", r->values.items[k]);
    }
    if (v->drift) {
        kiln_buf_printf(&b, "drift=%s\nmethod=%s\nthreshold=%.17g\n",
                        v->drift->reference ? v->drift->reference : "",
                        v->drift->method ? v->drift->method : "",
                        v->drift->threshold);
        for (size_t k = 0; k < v->drift->columns.n; k++)
            kiln_buf_printf(&b, "drift_column=%s\n",
                            v->drift->columns.items[k]);
    }
    text = json_string(kiln_buf_cstr(&b));
    kiln_buf_dispose(&b);
    return text;
}

bool kiln_cache_step_uses_param(const kiln_step *st, const char *name)
{
    if (!st->has_params)
        return true;
    for (size_t i = 0; i < st->params.n; i++)
        if (strcmp(st->params.items[i], name) == 0)
            return true;
    return false;
}

json_t *kiln_cache_key_doc(const kiln_step *st, const kiln_pipeline *p,
                           const kiln_artifact_list *inputs,
                           const char *workdir, size_t n_params,
                           const kiln_kv *params)
{
    json_t *doc = json_object(), *outs = json_array(), *ins = json_object();
    json_t *ps = json_object();
    char **sorted = kiln_calloc(st->outputs.n ? st->outputs.n : 1,
                                sizeof(char *));

    json_object_set_new(doc, "kiln", json_integer(3));
    /* What the step runs, and what tells steps with the same command
     * apart when they run ($KILN_PIPELINE, $KILN_STEP, the working
     * directory) and where their outputs go: a step never gets another
     * step's outputs. */
    json_object_set_new(doc, "command", json_string(st->run ? st->run : ""));
    json_object_set_new(doc, "pipeline", json_string(p->name));
    json_object_set_new(doc, "step", json_string(st->name));
    json_object_set_new(doc, "kind",
                        json_string(kiln_step_kind_name(st->kind)));
    json_object_set_new(doc, "workdir",
                        json_string(st->workdir ? st->workdir : "."));
    for (size_t i = 0; i < st->outputs.n; i++)
        sorted[i] = (char *)st->outputs.items[i];
    qsort(sorted, st->outputs.n, sizeof(char *), cmp_str);
    for (size_t i = 0; i < st->outputs.n; i++)
        json_array_append_new(outs, json_string(sorted[i]));
    free(sorted);
    json_object_set_new(doc, "outputs", outs);
    json_object_set_new(doc, "metrics_file", st->metrics
                        ? json_string(st->metrics) : json_null());
    json_object_set_new(doc, "validation", validation_text(st->validation));
    for (size_t i = 0; i < inputs->n; i++) {
        char *rel = kiln_cache_relpath(workdir, inputs->items[i].path);
        json_object_set_new(ins, rel, json_string(inputs->items[i].sha256));
        free(rel);
    }
    json_object_set_new(doc, "inputs", ins);
    /* Only the params the step says it uses (params:), all without. */
    for (size_t i = 0; i < n_params; i++)
        if (kiln_cache_step_uses_param(st, params[i].key)) {
            const char *item = kiln_step_item_param(st, params[i].key);
            json_object_set_new(ps, params[i].key,
                                json_string(item ? item : params[i].value));
        }
    json_object_set_new(doc, "params", ps);
    json_object_set_new(doc, "env", kv_object(p->n_env, p->env));
    json_object_set_new(doc, "step_env", kv_object(st->n_env, st->env));
    json_object_set_new(doc, "models", json_object());
    json_object_set_new(doc, "environment", json_object());
    /* Secrets by reference ("env:VAR"), never by value; only in the keys
     * of steps that have some, so no other key changes. */
    if (st->n_secrets) {
        json_t *sec = json_object();
        for (size_t i = 0; i < st->n_secrets; i++) {
            char *ref = kiln_secret_ref(&st->secrets[i]);
            json_object_set_new(sec, st->secrets[i].name, json_string(ref));
            free(ref);
        }
        json_object_set_new(doc, "secrets", sec);
    }
    return doc;
}

char *kiln_cache_key_of(char out[KILN_HASH_HEX], const json_t *doc)
{
    char *text = json_dumps(doc, JSON_SORT_KEYS | JSON_COMPACT);
    kiln_hash_bytes(out, text, strlen(text));
    return text;
}

/* path (absolute) with its "." and ".." components and doubled slashes
 * gone, by its text alone. */
static char *lexical(const char *path)
{
    char *out = kiln_malloc(strlen(path) + 2);
    size_t n = 0;
    for (const char *p = path; *p;) {
        size_t len = strcspn(p, "/");
        if (len == 2 && p[0] == '.' && p[1] == '.') {
            while (n > 0 && out[--n] != '/')
                ;
        } else if (len && !(len == 1 && p[0] == '.')) {
            out[n++] = '/';
            memcpy(out + n, p, len);
            n += len;
        }
        p += len + (p[len] == '/');
    }
    if (n == 0)
        out[n++] = '/';
    out[n] = '\0';
    return out;
}

/* A declared output pattern as the files it names are recorded
 * (kiln_cache_relpath: relative to workdir under it, else absolute):
 * its directory as the file system resolves it (a file's recorded path
 * is its real one), so "../out/model.bin", or "models/m.pkl" with models
 * a symlink to another disk, names its file; by its text alone while
 * that directory does not exist (a fresh checkout). Never its last
 * component: an output that is itself a symlink stays one. */
static char *pattern_rel(const char *workdir, const char *pattern)
{
    char *base = kiln_path_absolute(workdir), *full, *slash, *real, *abs;
    char *rel;
    size_t len;
    while (pattern[0] == '.' && pattern[1] == '/')
        pattern += 2;
    full = kiln_path_join(base, pattern);
    len = strlen(full);
    while (len > 1 && full[len - 1] == '/')
        full[--len] = '\0'; /* "out/" is the directory out */
    /* The directory: up to the last slash before any glob character. */
    slash = NULL;
    for (char *c = full; *c && !strchr("*?[{", *c); c++)
        if (*c == '/')
            slash = c;
    if (slash && slash > full) {
        *slash = '\0';
        real = realpath(full, NULL);
        *slash = '/';
        abs = real ? kiln_path_join(real, slash + 1) : lexical(full);
        free(real);
    } else {
        abs = lexical(full);
    }
    rel = kiln_cache_relpath(workdir, abs);
    free(abs);
    free(full);
    free(base);
    return rel;
}

/* Does pattern name rel: the file itself, or a directory holding it? */
static bool pattern_covers(const char *pattern, const char *rel)
{
    char *prefix = kiln_strdup(rel), *slash;
    bool hit = fnmatch(pattern, prefix, FNM_PATHNAME | FNM_PERIOD) == 0;
    size_t len = strlen(pattern);
    while (pattern[0] && len > 0 && pattern[len - 1] == '/')
        len--; /* "out/" is the directory out */
    if (!hit && len < strlen(pattern)) {
        char *trimmed = kiln_strndup(pattern, len);
        hit = pattern_covers(trimmed, rel);
        free(trimmed);
    }
    while (!hit && (slash = strrchr(prefix, '/')) != NULL) {
        *slash = '\0';
        hit = fnmatch(pattern, prefix, FNM_PATHNAME | FNM_PERIOD) == 0;
    }
    free(prefix);
    return hit;
}

bool kiln_cache_outputs_match(const kiln_strlist *outputs,
                              const char *workdir, size_t n,
                              char *const *rel)
{
    char **pat = kiln_calloc(outputs->n ? outputs->n : 1, sizeof(char *));
    bool ok = true;
    for (size_t i = 0; i < outputs->n; i++)
        pat[i] = pattern_rel(workdir, outputs->items[i]);
    /* Every recorded file under a declared output... */
    for (size_t k = 0; ok && k < n; k++) {
        bool covered = false;
        for (size_t i = 0; !covered && i < outputs->n; i++)
            covered = pattern_covers(pat[i], rel[k]);
        ok = covered;
    }
    /* ...and every declared output made of recorded files. */
    for (size_t i = 0; ok && i < outputs->n; i++) {
        bool used = false;
        for (size_t k = 0; !used && k < n; k++)
            used = pattern_covers(pat[i], rel[k]);
        ok = used;
    }
    for (size_t i = 0; i < outputs->n; i++)
        free(pat[i]);
    free(pat);
    return ok;
}

/* what, its first note and how many more. */
static char *first_of(const char *what, size_t n, char *const *notes)
{
    if (n > 1)
        return kiln_asprintf("%s %s (and %zu more)", what, notes[0], n - 1);
    return kiln_asprintf("%s %s", what, notes[0]);
}

char *kiln_cache_refusal(const kiln_artifact_list *in,
                         const kiln_artifact_list *out)
{
    if (in && in->n_special)
        return first_of("input", in->n_special, in->special);
    if (out && out->n_links)
        return first_of("output", out->n_links, out->links);
    return NULL;
}

static char *object_path(const char *objects, const char *sha)
{
    return kiln_asprintf("%s/%.2s/%s", objects, sha, sha + 2);
}

/* Copy a file, through a temporary name so a reader never sees half. */
static int copy_file(const char *from, const char *to, kiln_err *err)
{
    char buf[1 << 16], *tmp = kiln_asprintf("%s.tmp.%d", to, (int)getpid());
    /* Not waiting in open() for a FIFO's writer, nor reading a device for
     * ever: only a regular file is copied. */
    int in = open(from, O_RDONLY | O_CLOEXEC | O_NONBLOCK), out = -1;
    int rc = 0;
    struct stat sb;
    ssize_t n;
    if (in < 0 || fstat(in, &sb) != 0) {
        rc = kiln_err_set_os(err, "cannot read %s", from);
        goto done;
    }
    if (!S_ISREG(sb.st_mode)) {
        rc = kiln_err_set(err, KILN_EINVAL, "%s is %s, not a file", from,
                          kiln_file_kind(sb.st_mode));
        goto done;
    }
    out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) {
        rc = kiln_err_set_os(err, "cannot write %s", tmp);
        goto done;
    }
    /* A copy-on-write clone where the file system has them (btrfs, XFS):
     * no data copied, yet no aliasing as a hard link would have. */
    if (ioctl(out, FICLONE, in) == 0) {
        if (rename(tmp, to) != 0)
            rc = kiln_err_set_os(err, "cannot write %s", to);
        goto done;
    }
    while ((n = read(in, buf, sizeof(buf))) > 0)
        if (write(out, buf, (size_t)n) != n) {
            rc = kiln_err_set_os(err, "cannot write %s", tmp);
            goto done;
        }
    if (n < 0)
        rc = kiln_err_set_os(err, "cannot read %s", from);
    else if (rename(tmp, to) != 0)
        rc = kiln_err_set_os(err, "cannot write %s", to);
done:
    if (in >= 0)
        close(in);
    if (out >= 0)
        close(out);
    if (rc != 0)
        unlink(tmp);
    free(tmp);
    return rc;
}

static void files_add(kiln_cache_files *f, char *rel, const char *sha)
{
    f->rel = kiln_realloc(f->rel, (f->n + 1) * sizeof(char *));
    f->sha256 = kiln_realloc(f->sha256, (f->n + 1) * sizeof(char *));
    f->rel[f->n] = rel;
    f->sha256[f->n] = kiln_strdup(sha);
    f->n++;
}

void kiln_cache_files_dispose(kiln_cache_files *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->rel[i]);
        free(f->sha256[i]);
    }
    free(f->rel);
    free(f->sha256);
    memset(f, 0, sizeof(*f));
}

/* Store one file as an object and list it. */
static int save_file(kiln_cache_files *f, const char *objects,
                     const char *workdir, const char *path, kiln_err *err)
{
    char sha[KILN_HASH_HEX], *obj, *dir;
    int rc = kiln_hash_file(sha, path, err);
    if (rc != 0)
        return rc;
    obj = object_path(objects, sha);
    dir = kiln_path_dirname(obj);
    rc = kiln_mkdir_p(dir, err);
    /* Copies, not hard links: a later step writing the file in place
     * would change the object too. */
    if (rc == 0 && access(obj, F_OK) != 0)
        rc = copy_file(path, obj, err);
    free(dir);
    free(obj);
    if (rc == 0)
        files_add(f, kiln_cache_relpath(workdir, path), sha);
    return rc;
}

bool kiln_cache_is_object(const char *entry)
{
    return strchr(entry, ':') == NULL;
}

/* Keep directory dir (an output's real path) as its entries: a file as
 * its object, a symlink and an empty directory in the list alone; the
 * directory itself, when it is empty, so it comes back too. Special files
 * (a FIFO...) are not part of its content: its hash leaves them out too. */
static int save_dir(kiln_cache_files *f, const char *objects,
                    const char *workdir, const char *dir, kiln_err *err)
{
    kiln_dir_entries e;
    int rc = kiln_artifacts_dir_entries(&e, dir, NULL, NULL, err);
    if (rc == 0 && e.n == 0)
        files_add(f, kiln_cache_relpath(workdir, dir), KILN_CACHE_DIR);
    for (size_t i = 0; i < e.n && rc == 0; i++) {
        const kiln_dir_entry *d = &e.items[i];
        char *full = kiln_path_join(dir, d->rel);
        if (d->link) {
            char *text = kiln_asprintf(KILN_CACHE_LINK "%s", d->link);
            files_add(f, kiln_cache_relpath(workdir, full), text);
            free(text);
        } else if (d->empty_dir) {
            files_add(f, kiln_cache_relpath(workdir, full), KILN_CACHE_DIR);
        } else {
            rc = save_file(f, objects, workdir, full, err);
        }
        free(full);
    }
    kiln_dir_entries_dispose(&e);
    return rc;
}

int kiln_cache_save(kiln_cache_files *files, const char *objects,
                    const char *workdir, const kiln_artifact_list *outputs,
                    kiln_err *err)
{
    int rc = 0;
    memset(files, 0, sizeof(*files));
    for (size_t i = 0; i < outputs->n && rc == 0; i++)
        rc = outputs->items[i].is_dir
                 ? save_dir(files, objects, workdir, outputs->items[i].path,
                            err)
                 : save_file(files, objects, workdir, outputs->items[i].path,
                             err);
    if (rc != 0)
        kiln_cache_files_dispose(files);
    return rc;
}

/* Make a symlink at to with text, replacing what is there (not a
 * directory) at once. */
static int put_link(const char *text, const char *to, kiln_err *err)
{
    char *tmp = kiln_asprintf("%s.tmp.%d", to, (int)getpid());
    int rc = 0;
    unlink(tmp);
    if (symlink(text, tmp) != 0)
        rc = kiln_err_set_os(err, "cannot write %s", tmp);
    else if (rename(tmp, to) != 0)
        rc = kiln_err_set_os(err, "cannot write %s", to);
    if (rc != 0)
        unlink(tmp);
    free(tmp);
    return rc;
}

/* Is every object of entries sha256[i] there, with its hash? */
static int check_objects(const char *objects, size_t n, char *const *rel,
                         char *const *sha256, kiln_err *err)
{
    for (size_t i = 0; i < n; i++) {
        char *obj, got[KILN_HASH_HEX];
        int rc;
        if (!kiln_cache_is_object(sha256[i]))
            continue;
        obj = object_path(objects, sha256[i]);
        rc = kiln_hash_file(got, obj, err);
        free(obj);
        if (rc != 0)
            return kiln_err_set(err, KILN_ENOTFOUND, "cached object of %s "
                                "is missing", rel[i]);
        if (strcmp(got, sha256[i]) != 0)
            return kiln_err_set(err, KILN_EINVAL, "cached object of %s is "
                                "corrupt", rel[i]);
    }
    return 0;
}

/* Put entry sha at to: a copy of its object, a symlink, or a directory. */
static int put_entry(const char *objects, const char *sha, const char *to,
                     kiln_err *err)
{
    char *obj, *dir;
    int rc;
    if (strcmp(sha, KILN_CACHE_DIR) == 0)
        return kiln_mkdir_p(to, err);
    dir = kiln_path_dirname(to);
    rc = kiln_mkdir_p(dir, err);
    free(dir);
    if (rc != 0)
        return rc;
    if (strncmp(sha, KILN_CACHE_LINK, strlen(KILN_CACHE_LINK)) == 0)
        return put_link(sha + strlen(KILN_CACHE_LINK), to, err);
    if (!kiln_cache_is_object(sha))
        return kiln_err_set(err, KILN_EINVAL, "unknown cache entry %.40s at "
                            "%s", sha, to);
    /* A copy, not a link: a step that edits its output in place must not
     * edit the cache. The object's time marks it used (kiln gc removes
     * the least recently used first). */
    obj = object_path(objects, sha);
    if ((rc = copy_file(obj, to, err)) == 0)
        utimes(obj, NULL);
    free(obj);
    return rc;
}

static int place(const char *objects, const char *workdir, size_t n,
                 char *const *rel, char *const *sha256, kiln_err *err)
{
    for (size_t i = 0; i < n; i++) {
        char *to = kiln_path_join(workdir, rel[i]);
        int rc = put_entry(objects, sha256[i], to, err);
        free(to);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int kiln_cache_restore(const char *objects, const char *workdir, size_t n,
                       char *const *rel, char *const *sha256, kiln_err *err)
{
    /* Check every object before touching the work tree. */
    int rc = check_objects(objects, n, rel, sha256, err);
    return rc != 0 ? rc : place(objects, workdir, n, rel, sha256, err);
}

/* A cache entry's files sorted by rel: what a declared output directory
 * keeps when it is restored. */
typedef struct kept {
    size_t n;
    char **rel, **sha;       /* borrowed, sorted by rel */
} kept;

static int cmp_pair(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The entry at rel, or NULL. */
static const char *kept_find(const kept *k, const char *rel)
{
    char *const *hit = bsearch(&rel, k->rel, k->n, sizeof(char *), cmp_pair);
    return hit ? k->sha[hit - k->rel] : NULL;
}

/* Is anything kept under directory rel? */
static bool kept_under(const kept *k, const char *rel)
{
    size_t len = strlen(rel), lo = 0, hi = k->n;
    char *prefix = kiln_asprintf("%s/", rel);
    bool hit;
    while (lo < hi) { /* the first entry not before "rel/" */
        size_t mid = (lo + hi) / 2;
        if (strcmp(k->rel[mid], prefix) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    hit = lo < k->n && strncmp(k->rel[lo], prefix, len + 1) == 0;
    free(prefix);
    return hit;
}

/* Does what is there (st) have the kind entry sha says? */
static bool same_kind(const char *sha, const struct stat *st)
{
    if (strcmp(sha, KILN_CACHE_DIR) == 0)
        return S_ISDIR(st->st_mode);
    if (strncmp(sha, KILN_CACHE_LINK, strlen(KILN_CACHE_LINK)) == 0)
        return S_ISLNK(st->st_mode);
    return S_ISREG(st->st_mode);
}

/* Remove from directory rel (under workdir; never through a symlink)
 * everything the cache entry k does not keep there, or keeps as another
 * kind (a file where it has a directory...). */
static void prune(const char *workdir, const char *rel, const kept *k)
{
    char *path = kiln_path_join(workdir, rel);
    DIR *d = opendir(path);
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        char *sub, *full;
        const char *sha;
        struct stat st;
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        sub = kiln_path_join(rel, de->d_name);
        full = kiln_path_join(workdir, sub);
        sha = kept_find(k, sub);
        if (lstat(full, &st) != 0) {
            /* gone meanwhile */
        } else if (S_ISDIR(st.st_mode) && (sha ? same_kind(sha, &st)
                                                : kept_under(k, sub))) {
            prune(workdir, sub, k);
        } else if (!sha || !same_kind(sha, &st)) {
            kiln_remove_tree(full);
        }
        free(full);
        free(sub);
    }
    if (d)
        closedir(d);
    free(path);
}

/* The directories the declared outputs name in a cache entry k, into
 * dirs: each kept directory, or one holding a kept entry, that one of
 * the patterns matches (the deepest such). A file a pattern matches
 * names none: a glob's files may share a directory with others, which
 * stay. */
static size_t output_dirs(char ***dirs, const kiln_strlist *outputs,
                          const char *workdir, const kept *k)
{
    size_t n = 0;
    for (size_t i = 0; i < outputs->n; i++) {
        char *pat = pattern_rel(workdir, outputs->items[i]), *slash;
        size_t len = strlen(pat);
        while (len > 1 && pat[len - 1] == '/')
            pat[--len] = '\0'; /* "out/" is the directory out */
        for (size_t f = 0; f < k->n; f++) {
            char *dir = kiln_strdup(k->rel[f]);
            bool hit = strcmp(k->sha[f], KILN_CACHE_DIR) == 0 &&
                       fnmatch(pat, dir, FNM_PATHNAME | FNM_PERIOD) == 0;
            while (!hit && (slash = strrchr(dir, '/')) != NULL) {
                *slash = '\0';
                hit = fnmatch(pat, dir, FNM_PATHNAME | FNM_PERIOD) == 0;
            }
            /* k is sorted: one directory's entries come together. */
            if (hit && (n == 0 || strcmp((*dirs)[n - 1], dir) != 0)) {
                *dirs = kiln_realloc(*dirs, (n + 1) * sizeof(char *));
                (*dirs)[n++] = dir;
            } else {
                free(dir);
            }
        }
        free(pat);
    }
    return n;
}

int kiln_cache_restore_outputs(const char *objects, const char *workdir,
                               const kiln_strlist *outputs, size_t n,
                               char *const *rel, char *const *sha256,
                               kiln_err *err)
{
    kept k = {n, kiln_calloc(n + 1, sizeof(char *)),
              kiln_calloc(n + 1, sizeof(char *))};
    char **dirs = NULL, **pairs = kiln_calloc(2 * n + 1, sizeof(char *));
    size_t n_dirs = 0;
    int rc = check_objects(objects, n, rel, sha256, err);

    /* Sorted by rel, each with its entry (a pair sorts by its rel). */
    for (size_t i = 0; i < n; i++) {
        pairs[2 * i] = rel[i];
        pairs[2 * i + 1] = sha256[i];
    }
    if (n)
        qsort(pairs, n, 2 * sizeof(char *), cmp_pair);
    for (size_t i = 0; i < n; i++) {
        k.rel[i] = pairs[2 * i];
        k.sha[i] = pairs[2 * i + 1];
    }
    /* A declared output directory ends as the entry has it: what a run
     * left there that the cached one did not make goes, or the step
     * would be credited with it. */
    if (rc == 0)
        n_dirs = output_dirs(&dirs, outputs, workdir, &k);
    for (size_t i = 0; i < n_dirs; i++) {
        char *path = kiln_path_join(workdir, dirs[i]);
        struct stat st;
        if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
            prune(workdir, dirs[i], &k);
        free(path);
        free(dirs[i]);
    }
    if (rc == 0)
        rc = place(objects, workdir, n, rel, sha256, err);
    free(dirs);
    free(pairs);
    free(k.rel);
    free(k.sha);
    return rc;
}
