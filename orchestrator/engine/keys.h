/*
 * keys.h: reading cache keys. Each execution records the document its key
 * was made of (engine/cache.h): the command, each input with its hash,
 * the params it uses, env, model versions, environment captures. These
 * describe a document, compare two (kiln why: what differed from the
 * closest earlier execution), and make the document a step would have
 * now without running it (kiln run --dry-run).
 */
#ifndef KILN_KEYS_H
#define KILN_KEYS_H

#include <jansson.h>

#include "dsl/dsl.h"
#include "store/store.h"

/* What went into a key, one ingredient a line, indented by two. */
void kiln_key_describe(kiln_buf *out, const json_t *doc);
/* The ingredients that differ from old to new, one a line ("  param lr:
 * 0.1 -> 0.2"), indented by two; returns how many. */
size_t kiln_key_diff(kiln_buf *out, const json_t *old, const json_t *now);
/* Of n earlier documents (JSON texts), the index of the one closest to
 * now (fewest differences; the newest among equals, docs being newest
 * first), or -1 when there is none. */
ssize_t kiln_key_closest(const json_t *now, size_t n,
                         const char *const *docs);

/* The key document step st of p would have now, in workdir with params
 * (the effective ones): its inputs hashed as they are, its models
 * resolved in the registry (not copied), its environment captured
 * (commands run). *doc (decref it) and key; *refused (free it): why the
 * step could be neither served from the cache nor kept in it, as its
 * inputs are (kiln_cache_refusal()), or NULL. */
int kiln_key_preview(json_t **doc, char key[65], char **refused,
                     kiln_store *store,
                     const kiln_pipeline *p, const kiln_step *st,
                     const char *workdir, char *const *envv,
                     size_t n_params, const kiln_kv *params, kiln_err *err);

#endif
