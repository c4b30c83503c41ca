/*
 * checkpoint.h: the store's WAL checkpoints on the libuv thread pool.
 *
 * SQLite checkpoints in the commit that fills the WAL past 1,000 frames,
 * fsyncing the WAL and the database: on a busy disk that held kiln
 * serve's loop for a third of a second (every request and step
 * waiting). A checkpointer takes the store's commits' word instead
 * (kiln_store_on_wal()) and, once the WAL has KILN_CHECKPOINT_FRAMES
 * frames, checkpoints it passively over a connection of its own on the
 * thread pool, one at a time. Commits go on meanwhile (they append to
 * the WAL); the WAL starts over once a checkpoint has copied it all and
 * no reader holds it.
 */
#ifndef KILN_ENGINE_CHECKPOINT_H
#define KILN_ENGINE_CHECKPOINT_H

#include <uv.h>

#include "store/store.h"

#define KILN_CHECKPOINT_FRAMES 1000

typedef struct kiln_checkpointer kiln_checkpointer;

/* Checkpoint st's database off loop's thread from now on. */
kiln_checkpointer *kiln_checkpointer_new(uv_loop_t *loop, kiln_store *st);
/* Give the store back its own checkpoints; one in flight finishes on
 * the thread pool and frees itself. NULL is fine. */
void kiln_checkpointer_free(kiln_checkpointer *c);

#endif
