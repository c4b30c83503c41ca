/*
 * mover.h: the model registry's moves of one kiln process (an alias
 * pointed elsewhere through the model's deploy command, a run's promote:
 * or retire:, the API's promote and rollback) on the libuv thread pool,
 * one at a time, in the order asked.
 *
 * A deploy command takes as long as it takes: on the loop it held every
 * step and request for as long, and inside the loop's transaction the
 * database's write lock too. A mover runs each move over a store
 * connection of its own on the thread pool, and never more than one at
 * once: two deploy commands of a model never overlap, a move reads where
 * the one before left the alias, and a slow deploy holds one thread of
 * the pool, not all of them.
 */
#ifndef KILN_ENGINE_MOVER_H
#define KILN_ENGINE_MOVER_H

#include <uv.h>

#include "store/store.h"

typedef struct kiln_mover kiln_mover;

/* On the thread pool: st is a connection of the move's own, or NULL when
 * it could not be opened (open_err says why). */
typedef void (*kiln_move_work_fn)(kiln_store *st, const kiln_err *open_err,
                                  void *data);
/* On the loop, once work has returned. */
typedef void (*kiln_move_done_fn)(void *data);

/* Moves on loop's thread pool, over connections to the database at
 * db_path. */
kiln_mover *kiln_mover_new(uv_loop_t *loop, const char *db_path);
/* Queue a move: work, then done. */
void kiln_mover_add(kiln_mover *m, kiln_move_work_fn work,
                    kiln_move_done_fn done, void *data);
/* The moves queued still run (the loop runs until they have); then the
 * mover frees itself. NULL is fine. */
void kiln_mover_free(kiln_mover *m);

#endif
