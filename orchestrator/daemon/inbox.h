/*
 * inbox.h: asking a running kiln serve to do something, through its state
 * directory.
 *
 * A client writes a JSON request into STATE/inbox/ (under a temporary name,
 * then renamed, so the daemon never reads half a request) and waits for
 * the reply file next to it. The daemon watches the directory with
 * inotify (uv_fs_event), so a request is taken at once; a slow timer is
 * only a safety net. The web API (kiln serve --listen) is the other way
 * in; this one needs nothing but the file system and works without it.
 */
#ifndef KILN_INBOX_H
#define KILN_INBOX_H

#include <jansson.h>
#include <uv.h>

#include "base/base.h"

typedef struct kiln_inbox kiln_inbox;
typedef struct kiln_inbox_reply kiln_inbox_reply;

/* Handle request, then answer it with kiln_inbox_answer(reply, ...),
 * exactly once: at once, or later on the loop (a trigger whose
 * repository is read on the thread pool first). */
typedef void (*kiln_inbox_fn)(json_t *request, kiln_inbox_reply *reply,
                              void *data);
/* Answer the request reply stands for with answer (a JSON object, taken),
 * and free reply. Works after kiln_inbox_close() too. */
void kiln_inbox_answer(kiln_inbox_reply *reply, json_t *answer);

/* Daemon side: take requests until kiln_inbox_close(). Requests already
 * waiting are taken on the next loop iteration. */
int kiln_inbox_open(kiln_inbox **out, uv_loop_t *loop, const char *state_dir,
                    kiln_inbox_fn fn, void *data, kiln_err *err);
void kiln_inbox_close(kiln_inbox *ib); /* NULL is fine */

/*
 * Client side: send request and wait up to timeout_ms for the reply.
 * KILN_ETIMEDOUT when the daemon does not answer in time; the request is
 * then withdrawn if it was not taken yet.
 */
int kiln_inbox_send(json_t **reply, const char *state_dir, json_t *request,
                    int64_t timeout_ms, kiln_err *err);

#endif
