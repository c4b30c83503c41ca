/* mover.c: the registry's moves, one at a time off the loop (mover.h). */
#include "engine/mover.h"

#include <stdlib.h>

#include "base/base.h"

typedef struct move {
    struct move *next;
    kiln_move_work_fn work;
    kiln_move_done_fn done;
    void *data;
} move;

struct kiln_mover {
    uv_loop_t *loop;
    char *db;
    uv_work_t req;
    move *first, *last;      /* queued; the first runs when busy */
    bool busy;
    bool closing;            /* freed meanwhile: free it when idle */
};

static void on_work(uv_work_t *req)
{
    kiln_mover *m = req->data;
    kiln_err err = KILN_ERR_INIT;
    kiln_store *st = NULL;
    if (kiln_store_open(&st, m->db, &err) != 0)
        st = NULL;
    m->first->work(st, &err, m->first->data);
    kiln_store_close(st);
}

static void on_done(uv_work_t *req, int status);

static void destroy(kiln_mover *m)
{
    free(m->db);
    free(m);
}

static void next(kiln_mover *m)
{
    if (m->busy)
        return;
    if (!m->first) {
        if (m->closing)
            destroy(m);
        return;
    }
    m->req.data = m;
    if (uv_queue_work(m->loop, &m->req, on_work, on_done) == 0)
        m->busy = true;
    else
        abort(); /* libuv refuses work only for a NULL callback */
}

static void on_done(uv_work_t *req, int status)
{
    kiln_mover *m = req->data;
    move *mv = m->first;
    (void)status;
    m->busy = false;
    if (!(m->first = mv->next))
        m->last = NULL;
    mv->done(mv->data);
    free(mv);
    next(m);
}

kiln_mover *kiln_mover_new(uv_loop_t *loop, const char *db_path)
{
    kiln_mover *m = kiln_calloc(1, sizeof(*m));
    m->loop = loop;
    m->db = kiln_strdup(db_path);
    return m;
}

void kiln_mover_add(kiln_mover *m, kiln_move_work_fn work,
                    kiln_move_done_fn done, void *data)
{
    move *mv = kiln_calloc(1, sizeof(*mv));
    mv->work = work;
    mv->done = done;
    mv->data = data;
    if (m->last)
        m->last->next = mv;
    else
        m->first = mv;
    m->last = mv;
    next(m);
}

void kiln_mover_free(kiln_mover *m)
{
    if (!m)
        return;
    m->closing = true;
    next(m);
}
