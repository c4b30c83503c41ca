/* checkpoint.c: the store's WAL checkpoints off the loop (checkpoint.h). */
#include "engine/checkpoint.h"

#include <stdio.h>
#include <stdlib.h>

#include "base/base.h"

struct kiln_checkpointer {
    uv_loop_t *loop;
    kiln_store *st;
    char *path;
    uv_work_t work;
    kiln_err err;
    int rc;
    int frames;     /* the WAL's, after the last commit */
    int next_at;    /* frames at which to start one (further after a
                       failure: one warning per 1,000 frames at most) */
    int began_at, copied; /* the last checkpoint's frames and copies */
    bool busy;      /* a checkpoint is on the thread pool */
    bool orphaned;  /* freed meanwhile: free it when it is back */
};

static void on_done(uv_work_t *req, int status);

static void on_work(uv_work_t *req)
{
    kiln_checkpointer *c = req->data;
    c->rc = kiln_store_checkpoint(c->path, &c->began_at, &c->copied,
                                  &c->err);
}

static void start(kiln_checkpointer *c)
{
    c->work.data = c;
    if (uv_queue_work(c->loop, &c->work, on_work, on_done) == 0)
        c->busy = true;
}

static void destroy(kiln_checkpointer *c)
{
    free(c->path);
    free(c);
}

/* Commits went on while it ran: once more, for what they added, until
 * a checkpoint catches up with the last commit (the next one then starts
 * the WAL over). Not when a reader held it up: the next commit past the
 * mark tries again. */
static void on_done(uv_work_t *req, int status)
{
    kiln_checkpointer *c = req->data;
    (void)status;
    c->busy = false;
    if (c->orphaned) {
        destroy(c);
        return;
    }
    if (c->rc != 0) {
        fprintf(stderr, "kiln: warning: %s\n", c->err.msg);
        c->next_at = c->frames + KILN_CHECKPOINT_FRAMES;
        return;
    }
    c->next_at = KILN_CHECKPOINT_FRAMES;
    if (c->copied == c->began_at && c->frames > c->began_at)
        start(c);
}

static void on_wal(void *data, int frames)
{
    kiln_checkpointer *c = data;
    c->frames = frames;
    if (frames < KILN_CHECKPOINT_FRAMES) /* it started over */
        c->next_at = KILN_CHECKPOINT_FRAMES;
    if (!c->busy && frames >= c->next_at)
        start(c);
}

kiln_checkpointer *kiln_checkpointer_new(uv_loop_t *loop, kiln_store *st)
{
    kiln_checkpointer *c = kiln_calloc(1, sizeof(*c));
    c->loop = loop;
    c->st = st;
    c->path = kiln_strdup(kiln_store_path(st));
    c->next_at = KILN_CHECKPOINT_FRAMES;
    kiln_store_on_wal(st, on_wal, c);
    return c;
}

void kiln_checkpointer_free(kiln_checkpointer *c)
{
    if (!c)
        return;
    kiln_store_on_wal(c->st, NULL, NULL);
    if (c->busy)
        c->orphaned = true;
    else
        destroy(c);
}
