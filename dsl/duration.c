/* duration.c: "10s", "5m", "1h30m", "500ms" into milliseconds. */
#include "internal.h"

#include <string.h>

static const struct {
    const char *name;
    int64_t ms;
} units[] = {
    /* Largest first: a duration lists its units in this order. */
    {"d", 86400000},
    {"h", 3600000},
    {"m", 60000},
    {"s", 1000},
    {"ms", 1},
};

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/*
 * Grammar: one or more groups of digits followed by a unit, with units
 * from largest to smallest and each at most once ("1h30m", not "30m1h").
 * No sign, no fraction, no spaces.
 */
int kiln_dsl_parse_duration(int64_t *out_ms, const char *text, kiln_err *err)
{
    const char *s = text;
    char q[KILN_DSL_QUOTE_SIZE], uq[KILN_DSL_QUOTE_SIZE];
    int64_t total = 0;
    int last = -1;

    kiln_dsl__quote(q, text, strlen(text));
    if (!*s)
        goto bad;
    while (*s) {
        int64_t n = 0;
        const char *unit;
        size_t ulen, i;
        bool too_big = false;

        if (!is_digit(*s))
            goto bad;
        for (; is_digit(*s); s++) {
            int d = *s - '0';
            if (n > (INT64_MAX - d) / 10)
                too_big = true;
            else
                n = n * 10 + d;
        }
        for (unit = s; is_alpha(*s); s++)
            ;
        ulen = (size_t)(s - unit);
        if (ulen == 0)
            goto bad;
        for (i = 0; i < KILN_ARRAY_SIZE(units); i++)
            if (strlen(units[i].name) == ulen &&
                memcmp(units[i].name, unit, ulen) == 0)
                break;
        if (i == KILN_ARRAY_SIZE(units))
            return kiln_err_set(err, KILN_EINVAL,
                                "invalid duration %s: unknown unit %s "
                                "(use ms, s, m, h or d)", q,
                                kiln_dsl__quote(uq, unit, ulen));
        if ((int)i <= last)
            return kiln_err_set(err, KILN_EINVAL,
                                "invalid duration %s: write each unit once, "
                                "largest first (1h30m)", q);
        last = (int)i;
        if (too_big || n > (INT64_MAX - total) / units[i].ms)
            return kiln_err_set(err, KILN_EINVAL,
                                "invalid duration %s: too large", q);
        total += n * units[i].ms;
    }
    *out_ms = total;
    return 0;
bad:
    return kiln_err_set(err, KILN_EINVAL,
                        "invalid duration %s: expected a number with a unit "
                        "(10s, 5m, 2h, 1d)", q);
}
