/* registry.c: the bytes of model versions (see registry.h). */
#include "registry.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/cache.h"

int kiln_registry_resolve(kiln_registry_pin *out, kiln_store *st,
                          const char *name, const char *alias, int version,
                          kiln_err *err)
{
    kiln_model_version v;
    const char *slash;
    int rc;

    memset(out, 0, sizeof(*out));
    if ((rc = kiln_store_model_find(st, &v, name, alias, version, err)) != 0)
        return rc;
    out->name = kiln_strdup(name);
    out->alias = alias ? kiln_strdup(alias) : NULL;
    out->version = v.version;
    snprintf(out->sha256, sizeof(out->sha256), "%s", v.sha256);
    out->is_dir = v.is_dir;
    slash = strrchr(v.path, '/');
    out->basename = kiln_strdup(slash ? slash + 1 : v.path);
    out->artifact_id = v.artifact_id;
    out->path = kiln_strdup(v.path);
    out->size = v.size;
    kiln_model_version_dispose(&v);
    if (out->is_dir &&
        (rc = kiln_store_tree_files(st, &out->files, out->sha256, err)) == 0 &&
        out->files.n == 0)
        rc = kiln_err_set(err, KILN_ENOTFOUND, "the files of version %d of "
                          "model %s were not kept (it was registered before "
                          "kiln kept model bytes)", out->version, name);
    if (rc != 0)
        kiln_registry_pin_dispose(out);
    return rc;
}

void kiln_registry_pin_dispose(kiln_registry_pin *pin)
{
    free(pin->name);
    free(pin->alias);
    free(pin->basename);
    free(pin->path);
    kiln_file_list_dispose(&pin->files);
    memset(pin, 0, sizeof(*pin));
}

static int readonly_entry(const char *path, const struct stat *st, int type,
                          struct FTW *ftw)
{
    (void)ftw;
    /* Not a symlink: chmod() would change what it points to. */
    if (type != FTW_SL)
        chmod(path, (st->st_mode & 07777) & ~(mode_t)(S_IWUSR | S_IWGRP |
                                                       S_IWOTH));
    return 0;
}

/* The files of pin as (relative to dir, hash) lists. */
static void pin_files(const kiln_registry_pin *pin, size_t *n,
                      char *const **rel, char *const **sha,
                      char *one_rel[1], char *one_sha[1])
{
    if (pin->is_dir) {
        *n = pin->files.n;
        *rel = pin->files.rel;
        *sha = pin->files.sha256;
        return;
    }
    one_rel[0] = pin->basename;
    one_sha[0] = (char *)pin->sha256;
    *n = 1;
    *rel = one_rel;
    *sha = one_sha;
}

int kiln_registry_copy(const char *state_dir, const kiln_registry_pin *pin,
                       const char *to, kiln_err *err)
{
    char *objects = kiln_path_join(state_dir, "objects");
    char *one_rel[1], *one_sha[1];
    char *const *rel, *const *sha;
    size_t n;
    int rc;

    pin_files(pin, &n, &rel, &sha, one_rel, one_sha);
    if (pin->is_dir) {
        rc = kiln_cache_restore(objects, to, n, rel, sha, err);
    } else {
        /* A file: put it at to itself. */
        char *abs = kiln_path_absolute(to), *slash = strrchr(abs, '/');
        *slash = '\0';
        one_rel[0] = slash + 1;
        rc = kiln_cache_restore(objects, abs[0] ? abs : "/", 1, one_rel, sha,
                                err);
        free(abs);
    }
    free(objects);
    if (rc == KILN_ENOTFOUND || rc == KILN_EINVAL) {
        char why[sizeof(err->msg)];
        snprintf(why, sizeof(why), "%s", err->msg);
        kiln_err_set(err, rc, "version %d of model %s: %s", pin->version,
                     pin->name, why);
    }
    return rc;
}

/* STAMP: "REL\tSIZE\tMTIME_NS\n" per entry of a copy made or checked
 * (a symlink's own, not its target's). */
static char *stamp_of(const char *root, size_t n, char *const *rel)
{
    kiln_buf b = KILN_BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        char *p = kiln_path_join(root, rel[i]);
        struct stat st;
        if (lstat(p, &st) != 0) {
            free(p);
            kiln_buf_dispose(&b);
            return NULL;
        }
        kiln_buf_printf(&b, "%s\t%lld\t%lld.%09ld\n", rel[i],
                        (long long)st.st_size, (long long)st.st_mtim.tv_sec,
                        st.st_mtim.tv_nsec);
        free(p);
    }
    return kiln_buf_detach(&b);
}

static char *read_small(const char *path)
{
    FILE *f = fopen(path, "r");
    kiln_buf b = KILN_BUF_INIT;
    char chunk[4096];
    size_t got;
    if (!f)
        return NULL;
    while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0)
        kiln_buf_add(&b, chunk, got);
    fclose(f);
    return kiln_buf_detach(&b);
}

/* Is entry sha (a hash, "symlink:TEXT" or "dir:") what is at path? */
static bool entry_intact(const char *path, const char *sha)
{
    char got[KILN_HASH_HEX], *text;
    kiln_err err = KILN_ERR_INIT;
    struct stat st;
    bool ok;
    if (lstat(path, &st) != 0)
        return false;
    if (strcmp(sha, KILN_CACHE_DIR) == 0)
        return S_ISDIR(st.st_mode);
    if (strncmp(sha, KILN_CACHE_LINK, strlen(KILN_CACHE_LINK)) == 0) {
        if (!S_ISLNK(st.st_mode))
            return false;
        text = kiln_malloc((size_t)st.st_size + 1);
        ok = readlink(path, text, (size_t)st.st_size + 1) == st.st_size;
        if (ok)
            text[st.st_size] = '\0';
        ok = ok && strcmp(text, sha + strlen(KILN_CACHE_LINK)) == 0;
        free(text);
        return ok;
    }
    return S_ISREG(st.st_mode) && kiln_hash_file(got, path, &err) == 0 &&
           strcmp(got, sha) == 0;
}

/* Every entry of the copy at root is as recorded. */
static bool copy_intact(const char *root, size_t n, char *const *rel,
                        char *const *sha)
{
    for (size_t i = 0; i < n; i++) {
        char *p = kiln_path_join(root, rel[i]);
        bool ok = entry_intact(p, sha[i]);
        free(p);
        if (!ok)
            return false;
    }
    return true;
}

int kiln_registry_materialise(char **out, const char *state_dir,
                              const kiln_registry_pin *pin, kiln_err *err)
{
    char *one_rel[1], *one_sha[1];
    char *const *rel, *const *sha;
    char *vdir = kiln_asprintf("%s/models/%s/%d", state_dir, pin->name,
                               pin->version);
    char *stamp_path = kiln_asprintf("%s.stamp", vdir);
    char *root, *stamp = NULL, *want = NULL, *tmp = NULL, *parent;
    size_t n;
    int rc = 0;

    *out = NULL;
    pin_files(pin, &n, &rel, &sha, one_rel, one_sha);
    /* The copy's files sit under root: vdir for a file, vdir/NAME for a
     * directory. */
    root = pin->is_dir ? kiln_path_join(vdir, pin->basename)
                       : kiln_strdup(vdir);
    stamp = read_small(stamp_path);
    want = access(root, F_OK) == 0 ? stamp_of(root, n, rel) : NULL;
    if (stamp && want && strcmp(stamp, want) == 0)
        goto done;
    /* No copy, or one changed since it was checked: check its bytes, and
     * make it anew when they differ. */
    if (want && copy_intact(root, n, rel, sha))
        goto stamp;
    parent = kiln_path_dirname(vdir);
    rc = kiln_mkdir_p(parent, err);
    free(parent);
    if (rc != 0)
        goto done;
    tmp = kiln_asprintf("%s.tmp.%d.%lx", vdir, (int)getpid(),
                        (unsigned long)(uintptr_t)&rc);
    kiln_remove_tree(tmp);
    {
        char *tmp_root = pin->is_dir ? kiln_path_join(tmp, pin->basename)
                                     : kiln_strdup(tmp);
        char *objects = kiln_path_join(state_dir, "objects");
        rc = kiln_mkdir_p(tmp_root, err);
        if (rc == 0)
            rc = kiln_cache_restore(objects, tmp_root, n, rel, sha, err);
        free(objects);
        free(tmp_root);
    }
    if (rc != 0) {
        char why[sizeof(err->msg)];
        snprintf(why, sizeof(why), "%s", err->msg);
        kiln_remove_tree(tmp);
        kiln_err_set(err, rc, "version %d of model %s: %s", pin->version,
                     pin->name, why);
        goto done;
    }
    nftw(tmp, readonly_entry, 16, FTW_PHYS);
    /* Replace a stale copy; another step making the same copy at once
     * wins the rename, and this one's is dropped. */
    if (access(vdir, F_OK) == 0 && !want) {
        /* another copy appeared meanwhile: keep it */
    } else if (access(vdir, F_OK) == 0) {
        char *old = kiln_asprintf("%s.old.%d", vdir, (int)getpid());
        if (rename(vdir, old) == 0)
            kiln_remove_tree(old);
        free(old);
    }
    if (rename(tmp, vdir) != 0)
        kiln_remove_tree(tmp);
stamp:
    free(want);
    want = stamp_of(root, n, rel);
    if (want) {
        char *t = kiln_asprintf("%s.%d", stamp_path, (int)getpid());
        FILE *f = fopen(t, "w");
        if (f) {
            fputs(want, f);
            if (fclose(f) == 0)
                rename(t, stamp_path);
        }
        unlink(t);
        free(t);
    }
done:
    if (rc == 0)
        *out = pin->is_dir ? kiln_strdup(root)
                           : kiln_path_join(root, pin->basename);
    free(root);
    free(stamp);
    free(want);
    free(tmp);
    free(stamp_path);
    free(vdir);
    return rc;
}
