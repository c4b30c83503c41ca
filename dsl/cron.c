/*
 * cron.c: parsing cron expressions and finding their next fire time.
 *
 * Local times are computed with the C library's tz support: the zone is
 * selected by setting TZ and calling tzset(), then restored. For each
 * local day, the zone's offsets and the instants they change at are found
 * around it (every offset that could show one of its times), and from
 * them the instants that show a local time: none (skipped by a jump
 * forward), one, or more (repeated when clocks go back).
 */
#include "cron.h"

#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TZDIR "/usr/share/zoneinfo"

/* Fields. */

typedef struct field {
    const char *name;
    int min, max;
    const char *const *names; /* names[i] stands for min + i, or NULL */
} field;

static const char *const month_names[] = {
    "jan", "feb", "mar", "apr", "may", "jun",
    "jul", "aug", "sep", "oct", "nov", "dec", NULL,
};
static const char *const wday_names[] = {
    "sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL,
};

static const field fields[5] = {
    {"minute", 0, 59, NULL},
    {"hour", 0, 23, NULL},
    {"day-of-month", 1, 31, NULL},
    {"month", 1, 12, month_names},
    {"day-of-week", 0, 7, wday_names},
};

static const struct {
    const char *name, *expr;
} macros[] = {
    {"@yearly", "0 0 1 1 *"},  {"@annually", "0 0 1 1 *"},
    {"@monthly", "0 0 1 * *"}, {"@weekly", "0 0 * * 0"},
    {"@daily", "0 0 * * *"},   {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
};

/* Read one value (a number or a name) at *p, advancing it. */
static int read_value(int *out, const char **p, const char *end,
                      const field *f, kiln_err *err)
{
    const char *s = *p;
    char word[16];
    size_t n = 0;

    if (s < end && isdigit((unsigned char)*s)) {
        long v = 0;
        for (; s < end && isdigit((unsigned char)*s); s++)
            if (v < 1000) /* past any field's range: stop counting */
                v = v * 10 + (*s - '0');
        if (v < f->min || v > f->max)
            return kiln_err_set(err, KILN_EINVAL, "%s: %.*s is out of range "
                                "%d-%d", f->name, (int)(s - *p), *p, f->min,
                                f->max);
        *out = (int)v;
        *p = s;
        return 0;
    }
    while (s < end && isalpha((unsigned char)*s) && n < sizeof(word) - 1)
        word[n++] = (char)tolower((unsigned char)*s++);
    word[n] = '\0';
    if (f->names && n == 3) {
        for (int i = 0; f->names[i]; i++) {
            if (strcmp(f->names[i], word) == 0) {
                *out = f->min + i;
                *p = s;
                return 0;
            }
        }
    }
    n = strcspn(*p, ",-/ \t");
    if ((size_t)(end - *p) < n)
        n = (size_t)(end - *p);
    if (n == 0)
        return kiln_err_set(err, KILN_EINVAL, "%s: expected a value",
                            f->name);
    return kiln_err_set(err, KILN_EINVAL, "%s: invalid value \"%.*s\"%s",
                        f->name, (int)n, *p,
                        f->names ? (f == &fields[3]
                                    ? " (use 1-12 or JAN-DEC)"
                                    : " (use 0-7 or SUN-SAT)") : "");
}

/* Parse one field [start, end) into a bit set. On error *bad is the
 * offset of the offending text in the field. */
static int parse_field(uint64_t *bits, const char *start, const char *end,
                       const field *f, size_t *bad, kiln_err *err)
{
    const char *p = start, *at;
    int top = f->max == 7 ? 6 : f->max; /* 7 is Sunday again */
    int rc;

    *bits = 0;
    for (;;) {
        int lo, hi, step = 1;
        bool range = false;
        const char *item = p;
        at = p;
        if (p < end && *p == '*') {
            lo = f->min;
            hi = top;
            p++;
            range = true;
        } else {
            if ((rc = read_value(&lo, &p, end, f, err)) != 0)
                goto fail;
            hi = lo;
            if (p < end && *p == '-') {
                at = ++p;
                if ((rc = read_value(&hi, &p, end, f, err)) != 0)
                    goto fail;
                /* Sunday ends a week too: Mon-Sun, 1-0 (cronie, croniter). */
                if (f->max == 7 && hi == 0 && lo > 0)
                    hi = 7;
                if (hi < lo) {
                    at = item;
                    rc = kiln_err_set(err, KILN_EINVAL, "%s: range "
                                      "%.*s is backwards", f->name,
                                      (int)(p - item), item);
                    goto fail;
                }
                range = true;
            }
        }
        if (p < end && *p == '/') {
            long v = 0;
            at = ++p;
            while (p < end && isdigit((unsigned char)*p) && v < 1000)
                v = v * 10 + (*p++ - '0');
            if (p == at || v == 0 || v > f->max ||
                (p < end && *p != ',')) {
                rc = kiln_err_set(err, KILN_EINVAL, "%s: invalid step "
                                  "\"%.*s\"", f->name,
                                  (int)strcspn(at, ", \t"), at);
                goto fail;
            }
            step = (int)v;
            /* "5/10" means from 5 to the end, every 10. */
            if (!range)
                hi = top;
        }
        for (int v = lo; v <= hi; v += step)
            *bits |= (uint64_t)1 << (f->max == 7 && v == 7 ? 0 : v);
        if (p < end && *p == ',') {
            p++;
            continue;
        }
        if (p < end) {
            at = p;
            rc = kiln_err_set(err, KILN_EINVAL, "%s: unexpected \"%c\"",
                              f->name, *p);
            goto fail;
        }
        return 0;
    }
fail:
    *bad = (size_t)(at - start);
    return rc;
}

static const int month_days[13] = {0, 31, 29, 31, 30, 31, 30,
                                   31, 31, 30, 31, 30, 31};

int kiln_cron_parse(kiln_cron *out, const char *expr, size_t *offset,
                    kiln_err *err)
{
    const char *p = expr, *start[6], *end[6];
    uint64_t bits[5];
    int n = 0;

    memset(out, 0, sizeof(*out));
    *offset = 0;
    p += strspn(p, " \t");
    if (*p == '@') {
        size_t len = strcspn(p, " \t");
        for (size_t i = 0; i < KILN_ARRAY_SIZE(macros); i++) {
            if (strlen(macros[i].name) == len &&
                strncasecmp(macros[i].name, p, len) == 0 &&
                p[len + strspn(p + len, " \t")] == '\0')
                return kiln_cron_parse(out, macros[i].expr, offset, err);
        }
        *offset = (size_t)(p - expr);
        return kiln_err_set(err, KILN_EINVAL, "unknown macro \"%.*s\" "
                            "(@yearly, @annually, @monthly, @weekly, "
                            "@daily, @midnight, @hourly)", (int)len, p);
    }
    while (*p) {
        if (n == 5) {
            *offset = (size_t)(p - expr);
            return kiln_err_set(err, KILN_EINVAL, "expected 5 fields "
                                "(minute hour day-of-month month "
                                "day-of-week), got more");
        }
        start[n] = p;
        p += strcspn(p, " \t");
        end[n++] = p;
        p += strspn(p, " \t");
    }
    if (n < 5) {
        *offset = (size_t)(p - expr);
        return kiln_err_set(err, KILN_EINVAL, "expected 5 fields (minute "
                            "hour day-of-month month day-of-week), got %d",
                            n);
    }
    for (int i = 0; i < 5; i++) {
        size_t bad = 0;
        int rc = parse_field(&bits[i], start[i], end[i], &fields[i], &bad,
                             err);
        if (rc != 0) {
            *offset = (size_t)(start[i] - expr) + bad;
            return rc;
        }
    }
    out->minutes = bits[0];
    out->hours = (uint32_t)bits[1];
    out->mdays = (uint32_t)bits[2];
    out->months = (uint16_t)bits[3];
    out->wdays = (uint8_t)bits[4];
    out->min_star = *start[0] == '*';
    out->hour_star = *start[1] == '*';
    out->mday_star = *start[2] == '*';
    out->wday_star = *start[4] == '*';

    /* With the day of the week left open, some chosen month must have a
     * chosen day (29 February counts: it comes every four years). */
    if (!out->mday_star && out->wday_star) {
        bool possible = false;
        for (int m = 1; m <= 12 && !possible; m++)
            if (out->months & (1u << m))
                for (int d = 1; d <= month_days[m]; d++)
                    if (out->mdays & (1u << d))
                        possible = true;
        if (!possible) {
            *offset = (size_t)(start[2] - expr);
            return kiln_err_set(err, KILN_EINVAL, "never fires: no chosen "
                                "month has the chosen days of the month");
        }
    }
    return 0;
}

/* Time zones. */

/* Does path start as a compiled zone does ("TZif")? Read without
 * blocking. */
static bool tzif(const char *path)
{
    char magic[4];
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    bool ok = fd >= 0 && read(fd, magic, 4) == 4 &&
              memcmp(magic, "TZif", 4) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

bool kiln_tz_valid(const char *zone)
{
    char path[512];
    struct stat st;
    if (!zone || strcmp(zone, "UTC") == 0)
        return true;
    if (!*zone || zone[0] == '/' || strstr(zone, "..") ||
        strlen(zone) > 200)
        return false;
    snprintf(path, sizeof(path), TZDIR "/%s", zone);
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return false;
    /* A zone is a TZif file: zone.tab, tzdata.zi and the like, beside
     * them, would be read as UTC. */
    return tzif(path);
}

/* Select zone for localtime_r(); returns the old TZ to restore. */
static char *tz_push(const char *zone)
{
    const char *old = getenv("TZ");
    char *saved = old ? kiln_strdup(old) : NULL;
    setenv("TZ", zone && *zone ? zone : "UTC", 1);
    tzset();
    return saved;
}

static void tz_pop(char *saved)
{
    if (saved)
        setenv("TZ", saved, 1);
    else
        unsetenv("TZ");
    tzset();
    free(saved);
}

static long offset_at(int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    localtime_r(&tt, &tm);
    return tm.tm_gmtoff;
}

/* A local wall-clock time read as if it were UTC: seconds since the
 * epoch. Local times then add and compare as numbers. */
static int64_t naive(int year, int mon, int mday, int hour, int min)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = year - 1900;
    tm.tm_mon = mon - 1;
    tm.tm_mday = mday;
    tm.tm_hour = hour;
    tm.tm_min = min;
    return (int64_t)timegm(&tm);
}

/*
 * The zone's offsets over a stretch of time: off[i] is in force from
 * from[i] to from[i + 1] (the first from before from[0], the last on
 * after its from). The changes are found by reading the offset every
 * PROBE seconds and bisecting to the second where it changes; the tz
 * database has no two changes within days of each other, so none hides
 * between two probes.
 */
#define MAX_OFFSET (16 * 3600) /* the tz database's reach: -15:56 to +15:13 */
#define PROBE 3600
#define MAX_SPANS 64

typedef struct spans {
    int64_t from[MAX_SPANS];
    long off[MAX_SPANS];
    size_t n;
} spans;

static void spans_find(spans *z, int64_t lo, int64_t hi)
{
    int64_t t = lo;

    z->n = 1;
    z->from[0] = lo;
    z->off[0] = offset_at(lo);
    while (t < hi && z->n < MAX_SPANS) {
        int64_t next = hi - t > PROBE ? t + PROBE : hi;
        long cur = z->off[z->n - 1];
        if (offset_at(next) == cur) {
            t = next;
            continue;
        }
        /* cur at t, another offset at next: find the first second of it. */
        while (next - t > 1) {
            int64_t mid = t + (next - t) / 2;
            if (offset_at(mid) == cur)
                t = mid;
            else
                next = mid;
        }
        z->from[z->n] = next;
        z->off[z->n++] = offset_at(next);
        t = next;
    }
}

/*
 * The instants at which the clock shows local time n (as naive() gives
 * it), earliest first, at most max of them: returns how many. When none
 * (a jump forward skipped it), *jump is the instant of that jump.
 */
static size_t instants(int64_t *out, size_t max, int64_t *jump,
                       const spans *z, int64_t n)
{
    size_t k = 0;

    *jump = -1;
    for (size_t i = 0; i < z->n; i++) {
        int64_t t = n - z->off[i];
        bool last = i + 1 == z->n;
        if ((i == 0 || t >= z->from[i]) && (last || t < z->from[i + 1]) &&
            k < max)
            out[k++] = t;
        /* Before from[i + 1] the clock shows less than n, after it more. */
        if (!last && *jump < 0 && z->from[i + 1] + z->off[i] <= n &&
            z->from[i + 1] + z->off[i + 1] > n)
            *jump = z->from[i + 1];
    }
    return k;
}

/* The first instant the clock shows local time n or later. */
static int64_t reached(const spans *z, int64_t n)
{
    int64_t t = -1, jump; /* set only when an instant is found */
    return instants(&t, 1, &jump, z, n) ? t : jump;
}

static bool day_matches(const kiln_cron *c, int year, int mon, int mday)
{
    struct tm tm;
    time_t t;
    bool dom, dow;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = year - 1900;
    tm.tm_mon = mon - 1;
    tm.tm_mday = mday;
    tm.tm_hour = 12;
    t = timegm(&tm);
    gmtime_r(&t, &tm);
    if (tm.tm_mon != mon - 1 || !(c->months & (1u << mon)))
        return false;
    dom = (c->mdays >> mday) & 1;
    dow = (c->wdays >> tm.tm_wday) & 1;
    if (c->mday_star || c->wday_star)
        return dom && dow;
    return dom || dow;
}

/*
 * The earliest fire > after among the local times of the day starting at
 * local midnight `day` (as naive() gives it), or -1. cronie's rules: a
 * wildcard schedule fires whenever the clock shows a chosen time, so not
 * in a skipped one and at each copy of a repeated one; any other fires at
 * the jump that skipped its time, and at the first copy of a repeated one.
 */
static int64_t next_on_day(const kiln_cron *c, const spans *z, int64_t day,
                           int64_t after)
{
    bool wild = c->min_star || c->hour_star;
    int64_t best = -1;

    for (int h = 0; h < 24; h++) {
        if (!((c->hours >> h) & 1))
            continue;
        for (int m = 0; m < 60; m++) {
            int64_t t[4], jump;
            size_t k;
            if (!((c->minutes >> m) & 1))
                continue;
            k = instants(t, KILN_ARRAY_SIZE(t), &jump, z,
                         day + h * 3600 + m * 60);
            if (k == 0 && !wild && jump >= 0) {
                t[0] = jump;
                k = 1;
            }
            if (k > 1 && !wild)
                k = 1;
            for (size_t i = 0; i < k; i++)
                if (t[i] > after && (best < 0 || t[i] < best))
                    best = t[i];
        }
    }
    return best;
}

int64_t kiln_cron_next(const kiln_cron *c, const char *zone, int64_t after)
{
    char *saved = tz_push(zone);
    time_t start = (time_t)after;
    struct tm tm;
    int64_t day, found = -1;
    spans z;

    /* Local days in turn, from two before after's own: a clock set back
     * can show a day's times again later. */
    localtime_r(&start, &tm);
    day = naive(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, 0, 0) -
          2 * 86400;
    for (int i = 0; i < 366 * 10 + 3; i++, day += 86400) {
        time_t noon = (time_t)(day + 43200);
        bool match;
        /* Every time of this day was shown by after. */
        if (day + 86400 + MAX_OFFSET <= after)
            continue;
        gmtime_r(&noon, &tm);
        match = day_matches(c, tm.tm_year + 1900, tm.tm_mon + 1,
                            tm.tm_mday);
        if (!match && found < 0)
            continue;
        spans_find(&z, day - MAX_OFFSET, day + 86400 + MAX_OFFSET);
        if (match) {
            int64_t t = next_on_day(c, &z, day, after);
            if (t >= 0 && (found < 0 || t < found))
                found = t;
        }
        /* Later days show their times once the clock reaches their
         * midnight. */
        if (found >= 0) {
            int64_t next_day = reached(&z, day + 86400);
            if (next_day < 0 || found <= next_day)
                break;
        }
    }
    tz_pop(saved);
    return found;
}

const char *kiln_time_iso(char *buf, size_t size, int64_t t,
                          const char *zone)
{
    char *saved = tz_push(zone);
    time_t tt = (time_t)t;
    struct tm tm;
    size_t n;
    long off;
    localtime_r(&tt, &tm);
    tz_pop(saved);
    n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
    off = tm.tm_gmtoff;
    if (off == 0 && (!zone || strcmp(zone, "UTC") == 0))
        snprintf(buf + n, size - n, "Z");
    else
        snprintf(buf + n, size - n, "%c%02ld:%02ld", off < 0 ? '-' : '+',
                 labs(off) / 3600, labs(off) / 60 % 60);
    return buf;
}

int kiln_time_parse_iso(int64_t *out, const char *text, kiln_err *err)
{
    struct tm tm;
    int y, mo, d, h, mi, s = 0, n = 0, oh, om;
    const char *p;
    long off = 0;

    memset(&tm, 0, sizeof(tm));
    if (sscanf(text, "%4d-%2d-%2dT%2d:%2d%n", &y, &mo, &d, &h, &mi, &n) !=
            5 || n != 16)
        goto bad;
    p = text + n;
    if (*p == ':') {
        if (!isdigit((unsigned char)p[1]) || !isdigit((unsigned char)p[2]))
            goto bad;
        s = (p[1] - '0') * 10 + (p[2] - '0');
        p += 3;
        if (*p == '.' || *p == ',')
            for (p++; isdigit((unsigned char)*p); p++)
                ;
    }
    if (*p == 'Z' && p[1] == '\0') {
        off = 0;
    } else if ((*p == '+' || *p == '-') &&
               sscanf(p + 1, "%2d:%2d%n", &oh, &om, &n) == 2 && n == 5 &&
               p[6] == '\0' && oh < 24 && om < 60) {
        off = (oh * 3600L + om * 60L) * (*p == '-' ? -1 : 1);
    } else {
        goto bad;
    }
    if (mo < 1 || mo > 12 || d < 1 || d > month_days[mo] || h > 23 ||
        mi > 59 || s > 60)
        goto bad;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = s;
    *out = (int64_t)timegm(&tm) - off;
    return 0;
bad:
    return kiln_err_set(err, KILN_EINVAL, "invalid time \"%s\": expected "
                        "ISO-8601 with Z or an offset, like "
                        "2026-03-29T01:30:00Z or 2026-03-29T01:30+01:00",
                        text);
}
