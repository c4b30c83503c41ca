/*
 * foreground.h: one run in the foreground of a terminal or a CI job
 * (kiln run, kiln resume): its loop and engine, live progress, Ctrl-C,
 * notifications, the summary and CI reports, and the exit status.
 */
#ifndef KILN_FOREGROUND_H
#define KILN_FOREGROUND_H

#include "engine/engine.h"

typedef struct kiln_fg_options {
    kiln_store *store;       /* borrowed */
    const char *state_dir;
    unsigned jobs;           /* --jobs; 0: the number of CPUs */
    size_t n_pools;          /* --pool NAME=N */
    const kiln_kv *pools;
    bool cache;              /* false: --no-cache */
    bool json;               /* --json: the summary as JSON on stdout */
    bool to_stderr;          /* progress and summary on stderr (the
                                caller prints on stdout) */
    const char *junit;       /* --junit PATH, or NULL */
    const char *openlineage; /* --openlineage URL|FILE, or NULL */
    const char *openlineage_ns; /* --openlineage-namespace, or NULL */
} kiln_fg_options;

/*
 * Start the run ro describes (its callbacks are set here) and run it to
 * its end; with resume (the record of an orphaned run), take that run
 * over instead (kiln_run_resume()). SIGINT and
 * SIGTERM cancel it, a second one kills at once. With fo->openlineage,
 * the steps' OpenLineage events go there (a file that cannot be opened:
 * _SYSTEM before anything runs). Returns the exit status:
 * KILN_EXIT_OK, _FAILED (a step failed, or cancelled), _USAGE (resume
 * refused: the definition no longer fits) or _SYSTEM (kiln could not
 * record).
 */
int kiln_fg_run(const kiln_fg_options *fo, kiln_run_options *ro,
                const kiln_run_info *resume);

#endif
