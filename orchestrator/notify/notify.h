/*
 * notify.h: webhooks about runs and triggers (notify: in a pipeline).
 *
 * A notification is posted with libcurl on the loop (kiln_http), with a
 * timeout per attempt and up to three attempts (1 s, then 4 s apart). It
 * is a row of the notifications table from before the first attempt
 * ('pending') to its end ('sent', 'failed'), so one that a killed or
 * stopped kiln did not deliver is posted by kiln serve later (at least
 * once: a receiver may see one twice). A notification that cannot be
 * delivered never fails a run and never blocks the loop.
 */
#ifndef KILN_NOTIFY_H
#define KILN_NOTIFY_H

#include <jansson.h>
#include <uv.h>

#include "dsl/dsl.h"
#include "notify/http.h"
#include "store/store.h"

typedef struct kiln_notifier kiln_notifier;

/* A notifier posting through http (may be NULL: nothing is sent) and
 * recording into store. It cannot fail (allocations abort); free it with
 * kiln_notifier_free(). */
kiln_notifier *kiln_notifier_new(uv_loop_t *loop, kiln_http *http,
                                 kiln_store *store);
/* Where the status page is ("http://127.0.0.1:8080/"), for links; NULL:
 * none. */
void kiln_notifier_set_page(kiln_notifier *n, const char *url);

/* Tell p's webhooks that listen for event (KILN_NOTIFY_*) about it:
 * what is a JSON object with at least "pipeline" and "status" (a run:
 * run_id, status, reason, steps; drift: the check's detail). run_id and
 * check_id (the trigger check told of) are recorded with each
 * notification; 0: none. */
void kiln_notifier_send(kiln_notifier *n, const kiln_pipeline *p,
                        unsigned event, int64_t run_id, int64_t check_id,
                        json_t *what);
/* A drift trigger's check check_id fired: tell p's webhooks, with info
 * (the check's JSON text: {reason, detail}). */
void kiln_notifier_drift(kiln_notifier *n, const kiln_pipeline *p,
                         int64_t check_id, const char *info);

/* A run of p ended: tell the webhooks listening for how it ended
 * (success, failure, cancelled), with its steps. */
void kiln_notifier_run_ended(kiln_notifier *n, const kiln_pipeline *p,
                             int64_t run_id);

/* Post the pending notifications (of pipeline, or all when NULL) that a
 * kiln no longer running left (killed, or stopped before it delivered
 * them), taking each over first so that two kilns never both do; one more
 * than 24 h old is recorded as failed instead. How many are posted. NULL
 * is fine. */
size_t kiln_notifier_adopt(kiln_notifier *n, const char *pipeline);

/* Leave what waits for a retry pending, for kiln serve to post, and free.
 * Call it after kiln_http_close(), which ends the requests in flight
 * (left pending too). NULL is fine. */
void kiln_notifier_free(kiln_notifier *n);

#endif
