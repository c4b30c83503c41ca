/*
 * lock.h: one daemon per state directory.
 *
 * kiln serve holds an exclusive flock() on STATE/kiln.lock for its whole
 * life and writes its pid there, and one on the directory STATE itself,
 * which a deleted kiln.lock does not release. The kernel drops the lock when the
 * process dies, however it dies, so a crashed daemon never blocks the next
 * one.
 */
#ifndef KILN_LOCK_H
#define KILN_LOCK_H

#include "base/base.h"

typedef struct kiln_lock kiln_lock;

/* Take the lock. Returns 0 and *out (release with kiln_lock_release()),
 * KILN_EBUSY naming the holder's pid, or KILN_ERROR. */
int kiln_lock_acquire(kiln_lock **out, const char *state_dir, kiln_err *err);
void kiln_lock_release(kiln_lock *lock); /* NULL is fine */
/* Is a daemon holding the state directory? Returns its pid, or 0. */
long kiln_lock_holder(const char *state_dir);

#endif
