/*
 * report.h: a finished run as CI systems read it.
 *
 * JUnit XML (GitHub Actions, GitLab CI and Jenkins display it): a testcase
 * per step; a failed step carries the tail of its log; skipped, gated and
 * cached steps are skipped with the reason. Markdown for
 * $GITHUB_STEP_SUMMARY: steps, durations, metrics, commit.
 */
#ifndef KILN_REPORT_H
#define KILN_REPORT_H

#include "store/store.h"

/* Write run_id's JUnit report to path (replaced atomically). */
int kiln_report_junit(kiln_store *st, int64_t run_id, const char *path,
                      kiln_err *err);
/* Append run_id's Markdown summary to path. */
int kiln_report_markdown(kiln_store *st, int64_t run_id, const char *path,
                         kiln_err *err);

#endif
