/*
 * api-client.h: the CLI's side of kiln serve's HTTP API (libcurl, easy
 * interface: the CLI has nothing else to do while it waits).
 */
#ifndef KILN_API_CLIENT_H
#define KILN_API_CLIENT_H

#include <jansson.h>

#include "base/base.h"

/*
 * METHOD base_url + path with an optional JSON body and bearer token.
 * Returns 0 with *status and *reply (the parsed JSON body, or NULL when
 * it is not JSON); KILN_ERROR when no answer came (err says why).
 */
int kiln_api_call(long *status, json_t **reply, const char *method,
                  const char *base_url, const char *path, json_t *body,
                  const char *token, kiln_err *err);

/*
 * GET base_url + path as bytes: 0 with *status and the body appended to
 * body, and the value of each response header named in names (any case)
 * in values (malloc'd; NULL when it did not come); KILN_ERROR when no
 * answer came.
 */
int kiln_api_get_bytes(long *status, kiln_buf *body, const char *base_url,
                       const char *path, const char *token, size_t n_names,
                       const char *const *names, char **values,
                       kiln_err *err);

/*
 * Follow run id to its end through the API at server (NULL: the store of
 * the state directory state), printing each step's changes (the run's
 * JSON at the end with json). Returns the exit status: 0 it succeeded, 1
 * it failed or was cancelled, 3 no answer (cmd-trigger.c).
 */
int kiln_cli_follow_run(const char *server, const char *token,
                        const char *state, int64_t id, bool json);

#endif
