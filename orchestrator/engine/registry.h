/*
 * registry.h: the bytes of model versions. A version is registered with
 * its content kept in the object store (STATE/objects, as cached outputs
 * are); whatever reads a version (a step, kiln models pull, a deploy
 * command) gets a copy of exactly those bytes, each file checked against
 * its hash, never the working-tree path the version was made at, which a
 * later run may have rewritten.
 *
 * Steps read versions through copies under STATE/models/NAME/VERSION/,
 * made once, read-only, and checked again before each step that uses
 * them (a stamp of each file's size and time makes that cheap; a copy
 * that no longer matches is made anew).
 *
 * kiln_registry_resolve() uses the store (the loop's thread, or the
 * CLI); kiln_registry_materialise() and kiln_registry_copy() only read
 * and write files (the thread pool). An alias moves through the model's
 * deploy command: deploy.h.
 */
#ifndef KILN_REGISTRY_H
#define KILN_REGISTRY_H

#include <stdio.h>

#include "base/hash.h"
#include "store/store.h"

/* A version to read, resolved from the record. */
typedef struct kiln_registry_pin {
    char *name;
    char *alias;             /* how it was asked for, or NULL */
    int version;             /* 0: an optional alias that does not exist
                                (nothing else is set) */
    char sha256[KILN_HASH_HEX];
    bool is_dir;
    char *basename;          /* of the path it was made at */
    kiln_file_list files;    /* is_dir: its files, relative to it */
    int64_t artifact_id;     /* for the record: an input of the step */
    char *path;              /* ...made at this path */
    int64_t size;
} kiln_registry_pin;

/* Resolve name@alias (alias not NULL) or name:version. KILN_ENOTFOUND
 * when the model, alias or version does not exist. */
int kiln_registry_resolve(kiln_registry_pin *out, kiln_store *st,
                          const char *name, const char *alias, int version,
                          kiln_err *err);
void kiln_registry_pin_dispose(kiln_registry_pin *pin);

/* The read-only copy of pin under state_dir/models, made or checked:
 * *out is the file's or directory's path (malloc'd). KILN_ENOTFOUND when
 * the version's bytes are gone from the object store, KILN_EINVAL when
 * they are corrupt. */
int kiln_registry_materialise(char **out, const char *state_dir,
                              const kiln_registry_pin *pin, kiln_err *err);

/* Copy pin's bytes to path to (a file, or a directory created), each
 * file checked against its hash; nothing is written when an object is
 * missing or corrupt. */
int kiln_registry_copy(const char *state_dir, const kiln_registry_pin *pin,
                       const char *to, kiln_err *err);

#endif
