/*
 * cron.h: cron expressions and their fire times in a time zone.
 *
 * Five fields (minute hour day-of-month month day-of-week) with `*`,
 * lists, ranges, steps and names, or a macro (@daily...). Vixie cron's
 * rule: when both day fields are restricted (neither starts with `*`), a
 * day matches if either does.
 *
 * Daylight saving, and any other change of a zone's offset, follows
 * cronie. A wildcard schedule, whose minute or hour field starts with `*`,
 * follows the clock: nothing fires at local times a jump forward skipped,
 * and it fires at each copy of local times the clock shows twice. Any
 * other schedule fires once for each of its local times: at the jump
 * forward that skipped it, and at the first copy of a repeated one.
 *
 * Time zones come from the system's tz database (/usr/share/zoneinfo).
 * kiln_cron_next() switches the process's TZ while it computes, so call it
 * from the loop thread only.
 */
#ifndef KILN_CRON_H
#define KILN_CRON_H

#include "base/base.h"

typedef struct kiln_cron {
    uint64_t minutes; /* bit m: minute m (0-59) */
    uint32_t hours;   /* bit h (0-23) */
    uint32_t mdays;   /* bit d (1-31) */
    uint16_t months;  /* bit m (1-12) */
    uint8_t wdays;    /* bit d (0-6, 0 = Sunday) */
    bool mday_star;   /* day-of-month field starts with '*' */
    bool wday_star;
    bool min_star;    /* minute field starts with '*' */
    bool hour_star;   /* either: a wildcard schedule (cronie's DST rules) */
} kiln_cron;

/*
 * Parse expr. Returns 0, or KILN_EINVAL with a message naming the field
 * ("hour: 24 is out of range 0-23") and *offset set to the byte offset in
 * expr where the problem starts. An expression that can never fire is an
 * error too.
 */
int kiln_cron_parse(kiln_cron *out, const char *expr, size_t *offset,
                    kiln_err *err);

/* True when zone names a zone of the system's tz database ("UTC" always
 * does). */
bool kiln_tz_valid(const char *zone);

/*
 * The first fire time strictly after `after` (seconds since the epoch) in
 * zone (NULL: UTC), or -1 when there is none in the next 10 years.
 */
int64_t kiln_cron_next(const kiln_cron *c, const char *zone, int64_t after);

/* Format t as ISO-8601 with zone's offset: 2026-03-29T03:00:00+01:00
 * (UTC: ...Z). buf needs 32 bytes. */
const char *kiln_time_iso(char *buf, size_t size, int64_t t,
                          const char *zone);
/* Parse ISO-8601 date-time with Z or an offset (seconds optional, a
 * fraction ignored). Returns 0 or KILN_EINVAL. */
int kiln_time_parse_iso(int64_t *out, const char *text, kiln_err *err);

#endif
