/*
 * moves.c: the API's model alias moves (promote, rollback), off the loop.
 *
 * A move runs the model's deploy command and waits for it
 * (kiln_registry_move()), which may take minutes: on the loop it held
 * every request and every run of kiln serve for as long. Each move runs
 * on the thread pool instead, over a store connection of its own, and
 * the loop hears of its end. Moves run one at a time, in the order they
 * were asked for: two deploy commands of a model never run at once, and
 * a rollback asked after a promote rolls that promote back. A daemon
 * asked to stop finishes the moves it accepted (a deploy cut in the
 * middle would leave the served model in no known state).
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#include "engine/registry.h"

#define say kiln_daemon__say

struct kiln_move {
    struct kiln_move *next;
    kiln_daemon *dm;
    uv_work_t work;
    char *db, *model, *alias, *actor, *via;
    int version;             /* 0: roll back */
    int now;                 /* where the alias points after it */
    int rc;
    kiln_err err;
    kiln_web_done_cb done;
    void *ctx;
};

static void move_free(struct kiln_move *m)
{
    free(m->db);
    free(m->model);
    free(m->alias);
    free(m->actor);
    free(m->via);
    free(m);
}

static void on_work(uv_work_t *w)
{
    struct kiln_move *m = w->data;
    kiln_audit_who who = {m->actor, m->via};
    kiln_store *st = NULL;

    m->rc = kiln_store_open(&st, m->db, &m->err);
    if (m->rc == 0)
        m->rc = kiln_registry_move_as(&m->now, st, m->dm->o->state_dir,
                                      m->model, m->alias, m->version, NULL,
                                      &who, &m->err);
    kiln_store_close(st);
}

static void on_work_done(uv_work_t *w, int status);

/* Start the first queued move, unless one runs. */
static void next_move(kiln_daemon *dm)
{
    struct kiln_move *m = dm->moves;
    if (!m || dm->move_busy)
        return;
    m->work.data = m;
    if (uv_queue_work(&dm->loop, &m->work, on_work, on_work_done) == 0) {
        dm->move_busy = true;
        return;
    }
    dm->moves = m->next;
    m->rc = kiln_err_set(&m->err, KILN_ERROR, "cannot start the move");
    m->done(m->ctx, m->rc, 0, &m->err);
    move_free(m);
    next_move(dm);
}

static void on_work_done(uv_work_t *w, int status)
{
    struct kiln_move *m = w->data;
    kiln_daemon *dm = m->dm;
    (void)status;
    dm->moves = m->next;
    dm->move_busy = false;
    if (m->rc == 0 && m->version)
        say("model %s: %s is now version %d (%s, %s)", m->model, m->alias,
            m->now, m->actor, m->via);
    else if (m->rc == 0)
        say("model %s: %s is back at version %d (%s, %s)", m->model,
            m->alias, m->now, m->actor, m->via);
    else if (m->version)
        say("model %s: %s not moved to version %d (%s, %s): %s", m->model,
            m->alias, m->version, m->actor, m->via, m->err.msg);
    else
        say("model %s: %s not rolled back (%s, %s): %s", m->model, m->alias,
            m->actor, m->via, m->err.msg);
    m->done(m->ctx, m->rc, m->now, &m->err);
    move_free(m);
    next_move(dm);
}

void kiln_daemon__move_model(kiln_daemon *dm, const char *model,
                             const char *alias, int version,
                             const kiln_audit_who *who,
                             kiln_web_done_cb done,
                             void *ctx)
{
    struct kiln_move *m = kiln_calloc(1, sizeof(*m)), **tail;
    m->dm = dm;
    m->db = kiln_path_join(dm->o->state_dir, "kiln.db");
    m->model = kiln_strdup(model);
    m->alias = kiln_strdup(alias);
    m->actor = kiln_strdup(who->actor);
    m->via = kiln_strdup(who->via);
    m->version = version;
    m->done = done;
    m->ctx = ctx;
    for (tail = &dm->moves; *tail; tail = &(*tail)->next)
        ;
    *tail = m;
    next_move(dm);
}
