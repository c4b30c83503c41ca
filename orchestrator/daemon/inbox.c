/*
 * inbox.c: request files in STATE/inbox/.
 *
 * NAME.tmp is being written; NAME.req is a request; NAME.reply is its
 * answer (also written as a .tmp first). The daemon deletes a request as
 * it takes it, so each is handled once; the client deletes the reply. A
 * client that gives up deletes its request: if that succeeds, the daemon
 * never saw it.
 */
#include "inbox.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The safety net, should inotify miss something (it does not drop events
 * for a directory this quiet, but an overflowed queue would). */
#define SWEEP_MS 5000
/* Requests are small. */
#define MAX_REQUEST ((size_t)1 << 20)

struct kiln_inbox {
    uv_loop_t *loop;
    char *dir;
    kiln_inbox_fn fn;
    void *data;
    uv_fs_event_t fsev;
    uv_timer_t sweep;
    uv_idle_t soon;       /* take what waits, once the loop runs */
    int open;
};

struct kiln_inbox_reply {
    char *path; /* the reply file */
};

static bool has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n > m && strcmp(s + n - m, suffix) == 0;
}

/* Write text to path atomically: path.tmp, then rename, so a reader sees
 * all of it or nothing. With sync, fsync'd first (a request, which the
 * daemon may take after a crash of the machine); a reply is not: its
 * reader dies with the machine, and the daemon writes it on its loop. */
static int write_atomic(const char *path, const char *text, bool sync,
                        kiln_err *err)
{
    char *tmp = kiln_asprintf("%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    int rc = 0;
    if (!f || fputs(text, f) == EOF || fflush(f) != 0 ||
        (sync && fsync(fileno(f)) != 0)) {
        rc = kiln_err_set_os(err, "cannot write %s", tmp);
    }
    if (f && fclose(f) != 0 && rc == 0)
        rc = kiln_err_set_os(err, "cannot write %s", tmp);
    if (rc == 0 && rename(tmp, path) != 0)
        rc = kiln_err_set_os(err, "cannot rename %s", tmp);
    if (rc != 0)
        unlink(tmp);
    free(tmp);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void kiln_inbox_answer(kiln_inbox_reply *r, json_t *answer)
{
    kiln_err err = KILN_ERR_INIT;
    char *out = json_dumps(answer, JSON_COMPACT);
    if (!out || write_atomic(r->path, out, false, &err) != 0)
        fprintf(stderr, "kiln serve: warning: %s\n",
                out ? err.msg : "cannot make a reply");
    free(out);
    json_decref(answer);
    free(r->path);
    free(r);
}

/* Take one request: read it, delete it, hand it on to be answered. */
static void take(kiln_inbox *ib, const char *name)
{
    char *path = kiln_path_join(ib->dir, name), *text = NULL;
    size_t len, base = strlen(name) - strlen(".req");
    kiln_err err = KILN_ERR_INIT;
    kiln_inbox_reply *r;
    json_error_t je;
    json_t *req;

    if (kiln_read_file(&text, &len, path, MAX_REQUEST, &err) != 0 ||
        unlink(path) != 0) {
        free(text);
        free(path);
        return; /* another process took it, or it was withdrawn */
    }
    r = kiln_calloc(1, sizeof(*r));
    r->path = kiln_asprintf("%s/%.*s.reply", ib->dir, (int)base, name);
    req = json_loadb(text, len, 0, &je);
    if (!json_is_object(req))
        kiln_inbox_answer(r, json_pack("{s:s+}", "error", "the request is "
                                       "not a JSON object: ",
                                       req ? "" : je.text));
    else
        ib->fn(req, r, ib->data);
    json_decref(req);
    free(text);
    free(path);
}

/* Take every waiting request, oldest name first. */
static void drain(kiln_inbox *ib)
{
    DIR *d = opendir(ib->dir);
    struct dirent *de;
    char **names = NULL;
    size_t n = 0, cap = 0;
    if (!d)
        return;
    while ((de = readdir(d))) {
        if (!has_suffix(de->d_name, ".req"))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            names = kiln_realloc(names, cap * sizeof(*names));
        }
        names[n++] = kiln_strdup(de->d_name);
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof(*names), cmp_str);
    for (size_t i = 0; i < n; i++) {
        take(ib, names[i]);
        free(names[i]);
    }
    free(names);
}

static void on_fs_event(uv_fs_event_t *h, const char *name, int events,
                        int status)
{
    (void)events;
    (void)status;
    if (!name || has_suffix(name, ".req"))
        drain(h->data);
}

static void on_sweep(uv_timer_t *t)
{
    drain(t->data);
}

static void on_soon(uv_idle_t *idle)
{
    uv_idle_stop(idle);
    drain(idle->data);
}

int kiln_inbox_open(kiln_inbox **out, uv_loop_t *loop, const char *state_dir,
                    kiln_inbox_fn fn, void *data, kiln_err *err)
{
    kiln_inbox *ib;
    char *dir = kiln_path_join(state_dir, "inbox");
    int rc;

    if (kiln_mkdir_p(dir, err) != 0) {
        free(dir);
        return KILN_ERROR;
    }
    ib = kiln_calloc(1, sizeof(*ib));
    ib->loop = loop;
    ib->dir = dir;
    ib->fn = fn;
    ib->data = data;
    uv_fs_event_init(loop, &ib->fsev);
    uv_timer_init(loop, &ib->sweep);
    uv_idle_init(loop, &ib->soon);
    ib->fsev.data = ib->sweep.data = ib->soon.data = ib;
    if ((rc = uv_fs_event_start(&ib->fsev, on_fs_event, dir, 0)) != 0)
        fprintf(stderr, "kiln serve: warning: cannot watch %s (%s); "
                "requests are taken every %d s\n", dir, uv_strerror(rc),
                SWEEP_MS / 1000);
    uv_timer_start(&ib->sweep, on_sweep, SWEEP_MS, SWEEP_MS);
    uv_idle_start(&ib->soon, on_soon);
    *out = ib;
    return 0;
}

static void on_close(uv_handle_t *h)
{
    kiln_inbox *ib = h->data;
    if (--ib->open == 0) {
        free(ib->dir);
        free(ib);
    }
}

void kiln_inbox_close(kiln_inbox *ib)
{
    if (!ib)
        return;
    ib->open = 3;
    uv_close((uv_handle_t *)&ib->fsev, on_close);
    uv_close((uv_handle_t *)&ib->sweep, on_close);
    uv_close((uv_handle_t *)&ib->soon, on_close);
}

int kiln_inbox_send(json_t **reply, const char *state_dir, json_t *request,
                    int64_t timeout_ms, kiln_err *err)
{
    static unsigned seq;
    char *dir = kiln_path_join(state_dir, "inbox");
    char *req_path, *reply_path, *text;
    int64_t deadline = kiln_now_ms() + timeout_ms;
    struct timespec nap = {0, 10 * 1000 * 1000};
    bool withdrawn = false;
    int rc;

    *reply = NULL;
    if (kiln_mkdir_p(dir, err) != 0) {
        free(dir);
        return KILN_ERROR;
    }
    {
        char *base = kiln_asprintf("%s/%013lld-%d-%u", dir,
                                   (long long)kiln_now_ms(), (int)getpid(),
                                   seq++);
        req_path = kiln_asprintf("%s.req", base);
        reply_path = kiln_asprintf("%s.reply", base);
        free(base);
    }
    text = json_dumps(request, JSON_COMPACT);
    rc = write_atomic(req_path, text, true, err);
    free(text);
    while (rc == 0) {
        char *data = NULL;
        size_t len;
        kiln_err e = KILN_ERR_INIT;
        if (kiln_read_file(&data, &len, reply_path, MAX_REQUEST, &e) == 0) {
            json_error_t je;
            unlink(reply_path);
            *reply = json_loadb(data, len, 0, &je);
            free(data);
            if (!*reply)
                rc = kiln_err_set(err, KILN_ERROR, "unreadable reply from "
                                  "kiln serve: %s", je.text);
            break;
        }
        if (kiln_now_ms() >= deadline) {
            if (!withdrawn && unlink(req_path) == 0) {
                rc = kiln_err_set(err, KILN_ETIMEDOUT, "kiln serve did not "
                                  "take the request within %lld ms",
                                  (long long)timeout_ms);
                break;
            }
            /* Taken: the reply is being written; give it a little more. */
            if (withdrawn && kiln_now_ms() >= deadline + 5000) {
                rc = kiln_err_set(err, KILN_ETIMEDOUT, "kiln serve took the "
                                  "request but did not answer");
                break;
            }
            withdrawn = true;
        }
        nanosleep(&nap, NULL);
    }
    free(req_path);
    free(reply_path);
    free(dir);
    return rc;
}
