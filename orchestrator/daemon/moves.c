/*
 * moves.c: the API's model alias moves (promote, rollback), off the loop.
 *
 * A move runs the model's deploy command and waits for it
 * (kiln_registry_move(), engine/deploy.h), which may take minutes: on the loop it held
 * every request and every run of kiln serve for as long. The API's moves
 * go through the engine's mover instead (engine/mover.h), with the runs'
 * promote: and retire:, one at a time on the thread pool in the order
 * asked, and the loop hears of each one's end. A daemon asked to stop
 * finishes the moves it accepted (a deploy cut in the middle would leave
 * the served model in no known state).
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#include "engine/deploy.h"

#define say kiln_daemon__say

typedef struct api_move {
    const char *state_dir;
    char *model, *alias, *actor, *via;
    int version;             /* 0: roll back */
    int now;                 /* where the alias points after it */
    int rc;
    kiln_err err;
    kiln_web_done_cb done;
    void *ctx;
} api_move;

static void work(kiln_store *st, const kiln_err *open_err, void *data)
{
    api_move *m = data;
    kiln_move move = {m->model, m->alias, m->version, NULL,
                      {m->actor, m->via}, 0};
    if (!st) {
        m->err = *open_err;
        m->rc = open_err->code ? open_err->code : KILN_ERROR;
        return;
    }
    m->rc = kiln_registry_move(&m->now, st, m->state_dir, &move, &m->err);
}

static void done(void *data)
{
    api_move *m = data;
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
    free(m->model);
    free(m->alias);
    free(m->actor);
    free(m->via);
    free(m);
}

void kiln_daemon__move_model(kiln_daemon *dm, const char *model,
                             const char *alias, int version,
                             const kiln_audit_who *who,
                             kiln_web_done_cb done_cb, void *ctx)
{
    api_move *m = kiln_calloc(1, sizeof(*m));
    m->state_dir = dm->o->state_dir;
    m->model = kiln_strdup(model);
    m->alias = kiln_strdup(alias);
    m->actor = kiln_strdup(who->actor);
    m->via = kiln_strdup(who->via);
    m->version = version;
    m->done = done_cb;
    m->ctx = ctx;
    kiln_mover_add(kiln_engine_mover(dm->eng), work, done, m);
}

typedef struct settle_job {
    const char *state_dir;
    kiln_deploy *settled;
    size_t n;
    int rc;
    kiln_err err;
} settle_job;

static void settle_work(kiln_store *st, const kiln_err *open_err, void *data)
{
    settle_job *j = data;
    if (!st) {
        j->err = *open_err;
        j->rc = KILN_ERROR;
        return;
    }
    j->rc = kiln_deploy_settle(st, j->state_dir, NULL, &j->settled, &j->n,
                               &j->err);
}

static void settle_done(void *data)
{
    settle_job *j = data;
    if (j->rc != 0)
        say("cannot settle the deploy commands a killed kiln left: %s",
            j->err.msg);
    for (size_t i = 0; i < j->n; i++) {
        const kiln_deploy *d = &j->settled[i];
        say("model %s: %s %s version %d (%s via %s; its deploy command "
            "outlived a killed kiln): %s%s%s%s", d->model, d->alias,
            d->rollback ? "back to" : "to", d->version,
            d->actor ? d->actor : "?", d->via ? d->via : "?",
            d->outcome ? d->outcome : "settled", d->detail ? " (" : "",
            d->detail ? d->detail : "", d->detail ? ")" : "");
    }
    kiln_deploys_free(j->settled, j->n);
    free(j);
}

void kiln_daemon__settle_deploys(kiln_daemon *dm)
{
    settle_job *j = kiln_calloc(1, sizeof(*j));
    j->state_dir = dm->o->state_dir;
    kiln_mover_add(kiln_engine_mover(dm->eng), settle_work, settle_done, j);
}
