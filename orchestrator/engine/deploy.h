/*
 * deploy.h: an alias of a model moved through the model's deploy command
 * (promote, rollback), and the moves a killed kiln left half done.
 *
 * The command runs under a kiln-shim of its own, recorded in the store
 * before it starts (store.h, kiln_deploy); the alias moves in the
 * transaction that settles that record. A kiln killed while the command
 * runs leaves the record open: whoever settles it next waits for the
 * command to end and moves the alias, or not, as it ended, and never runs
 * it a second time. Everything here may wait for a command: the CLI, or
 * a connection of its own on the thread pool (mover.h), never the loop.
 */
#ifndef KILN_DEPLOY_H
#define KILN_DEPLOY_H

#include <stdio.h>

#include "store/store.h"

typedef struct kiln_move {
    const char *name, *alias;
    int version;             /* 0: roll back to the version before */
    FILE *log;               /* the deploy command's output; NULL: stderr */
    kiln_audit_who who;      /* the move's audit row (alias.moved,
                                alias.rolled_back) */
    int64_t execution_id;    /* a run's promote: (its step's attempt): a
                                move it already made, or whose command
                                it already ran, is not made again; 0:
                                none */
} kiln_move;

/* Point m's alias at its version, after the model's deploy command, when
 * it has one, exited 0. The command gets the version's copy
 * (KILN_MODEL_PATH, _NAME, _VERSION, _ALIAS, _SHA256, and as $1 $2 $3:
 * path, version, alias). The model's moves a killed kiln left open are
 * settled first. *out_version is where the alias points now. */
int kiln_registry_move(int *out_version, kiln_store *st,
                       const char *state_dir, const kiln_move *m,
                       kiln_err *err);

/* Settle the open deploys of model (NULL: every model's), waiting for
 * the commands that still run: kiln serve as it starts. *settled (when
 * not NULL): them, as recorded now (*n_settled; free with
 * kiln_deploys_free). */
int kiln_deploy_settle(kiln_store *st, const char *state_dir,
                       const char *model, kiln_deploy **settled,
                       size_t *n_settled, kiln_err *err);

/* Has the run's step attempt execution_id run a deploy command already
 * (settled first, when a killed kiln left it open)? 1: it did, and the
 * alias moved (*out_version: to that version); 0: it ran none; -code: it
 * did and the alias did not move (err says why). A kiln that takes a run
 * over acts on this instead of running the command again. */
int kiln_deploy_made(kiln_store *st, const char *state_dir,
                     int64_t execution_id, int *out_version, kiln_err *err);

#endif
