/*
 * cron.c: parsing cron expressions and finding their next fire time.
 *
 * Local times are computed with the C library's tz support: the zone is
 * selected by setting TZ and calling tzset(), then restored. For a local
 * wall-clock time the instants that show it are found by trying the
 * offsets in force half a day before and after it: none (skipped by a
 * jump forward), one, or two (repeated when clocks go back).
 */
#include "cron.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

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
        while (s < end && isdigit((unsigned char)*s) && v < 1000)
            v = v * 10 + (*s++ - '0');
        if (s < end && isdigit((unsigned char)*s))
            v = 1000;
        if (v < f->min || v > f->max)
            return kiln_err_set(err, KILN_EINVAL, "%s: %ld is out of range "
                                "%d-%d", f->name, v, f->min, f->max);
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
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
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

typedef struct wall {
    int year, mon, mday, hour, min; /* mon 1-12 */
} wall;

static bool shows(int64_t t, const wall *w)
{
    time_t tt = (time_t)t;
    struct tm tm;
    localtime_r(&tt, &tm);
    return tm.tm_year + 1900 == w->year && tm.tm_mon + 1 == w->mon &&
           tm.tm_mday == w->mday && tm.tm_hour == w->hour &&
           tm.tm_min == w->min && tm.tm_sec == 0;
}

static int64_t naive(const wall *w)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = w->year - 1900;
    tm.tm_mon = w->mon - 1;
    tm.tm_mday = w->mday;
    tm.tm_hour = w->hour;
    tm.tm_min = w->min;
    return (int64_t)timegm(&tm);
}

/*
 * The instants showing wall time w, earliest first: returns how many (0, 1
 * or 2). When none (a jump forward skipped it), *after_gap is the first
 * instant after the jump.
 */
static int instants(int64_t out[2], int64_t *after_gap, const wall *w)
{
    int64_t n = naive(w);
    long before = offset_at(n - 43200), after = offset_at(n + 43200);
    int k = 0;

    if (shows(n - before, w))
        out[k++] = n - before;
    if (after != before && shows(n - after, w))
        out[k++] = n - after;
    if (k == 2 && out[1] < out[0]) {
        int64_t t = out[0];
        out[0] = out[1];
        out[1] = t;
    }
    if (k == 0) {
        /* Binary search the jump between n - after and n - before. */
        int64_t lo = n - after, hi = n - before;
        if (lo > hi) {
            int64_t t = lo;
            lo = hi;
            hi = t;
        }
        while (hi - lo > 1) {
            int64_t mid = lo + (hi - lo) / 2;
            if (offset_at(mid) == after)
                hi = mid;
            else
                lo = mid;
        }
        *after_gap = hi;
    }
    return k;
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

/* The earliest fire > after on local day (year, mon, mday), or -1. */
static int64_t next_on_day(const kiln_cron *c, int year, int mon, int mday,
                           int64_t after)
{
    int64_t best = -1;
    for (int h = 0; h < 24; h++) {
        if (!((c->hours >> h) & 1))
            continue;
        for (int m = 0; m < 60; m++) {
            wall w = {year, mon, mday, h, m};
            int64_t t[2], gap = 0;
            int k;
            if (!((c->minutes >> m) & 1))
                continue;
            /* Wall times past this bound come after any repeat too. */
            if (best >= 0 && naive(&w) - 14 * 3600 > best)
                return best;
            k = instants(t, &gap, &w);
            if (k == 0 && !c->hour_star) {
                t[0] = gap;
                k = 1;
            }
            if (k == 2 && !c->hour_star)
                k = 1;
            for (int i = 0; i < k; i++)
                if (t[i] > after && (best < 0 || t[i] < best))
                    best = t[i];
        }
    }
    return best;
}

int64_t kiln_cron_next(const kiln_cron *c, const char *zone, int64_t after)
{
    char *saved = tz_push(zone);
    time_t start = (time_t)(after - 86400);
    struct tm tm;
    int64_t found = -1;

    localtime_r(&start, &tm);
    tm.tm_hour = 12;
    tm.tm_min = tm.tm_sec = 0;
    tm.tm_isdst = -1;
    for (int day = 0; day < 366 * 10 + 2 && found < 0; day++) {
        struct tm d = tm;
        time_t noon;
        d.tm_mday += day;
        noon = timegm(&d);
        gmtime_r(&noon, &d);
        if (day_matches(c, d.tm_year + 1900, d.tm_mon + 1, d.tm_mday))
            found = next_on_day(c, d.tm_year + 1900, d.tm_mon + 1,
                                d.tm_mday, after);
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
