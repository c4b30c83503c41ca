/* test-cron.c: cron parsing and next fire times, across DST both ways. */
#include <stdio.h>
#include <string.h>

#include "kiln_test.h"
#include "dsl/cron.h"

/* A fire-time case: the first `n` fires of expr in zone after `after`. */
static const struct {
    const char *zone, *expr, *after;
    const char *want[8];
} fires[] = {
    /* Europe/Lisbon: 2026-03-29 01:00 -> 02:00, 2026-10-25 02:00 -> 01:00.
     * A fixed hour in the gap fires at the first instant after it. */
    {"Europe/Lisbon", "30 1 * * *", "2026-03-28T12:00:00Z",
     {"2026-03-29T02:00:00+01:00", "2026-03-30T01:30:00+01:00"}},
    /* A fixed hour repeated fires at its first occurrence only. */
    {"Europe/Lisbon", "30 1 * * *", "2026-10-24T12:00:00Z",
     {"2026-10-25T01:30:00+01:00", "2026-10-26T01:30:00+00:00"}},
    /* '*' hours follow elapsed time: both copies of the repeated hour... */
    {"Europe/Lisbon", "30 * * * *", "2026-10-24T23:00:00Z",
     {"2026-10-25T00:30:00+01:00", "2026-10-25T01:30:00+01:00",
      "2026-10-25T01:30:00+00:00", "2026-10-25T02:30:00+00:00"}},
    /* ...and nothing in the skipped one. */
    {"Europe/Lisbon", "30 * * * *", "2026-03-28T23:45:00Z",
     {"2026-03-29T00:30:00+00:00", "2026-03-29T02:30:00+01:00",
      "2026-03-29T03:30:00+01:00"}},
    /* America/New_York: 2026-03-08 02:00 -> 03:00, 2026-11-01 02:00 ->
     * 01:00. */
    {"America/New_York", "30 2 * * *", "2026-03-07T12:00:00Z",
     {"2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00"}},
    {"America/New_York", "0 1 * * *", "2026-10-31T12:00:00Z",
     {"2026-11-01T01:00:00-04:00", "2026-11-02T01:00:00-05:00"}},
    {"America/New_York", "*/30 * * * *", "2026-11-01T00:45:00-04:00",
     {"2026-11-01T01:00:00-04:00", "2026-11-01T01:30:00-04:00",
      "2026-11-01T01:00:00-05:00", "2026-11-01T01:30:00-05:00",
      "2026-11-01T02:00:00-05:00"}},
    {"America/New_York", "15 * * * *", "2026-03-08T01:00:00-05:00",
     {"2026-03-08T01:15:00-05:00", "2026-03-08T03:15:00-04:00"}},
    /* Australia/Sydney, southern hemisphere: 2026-04-05 03:00 -> 02:00,
     * 2026-10-04 02:00 -> 03:00. */
    {"Australia/Sydney", "30 2 * * *", "2026-10-03T00:00:00Z",
     {"2026-10-04T03:00:00+11:00", "2026-10-05T02:30:00+11:00"}},
    {"Australia/Sydney", "30 2 * * *", "2026-04-04T00:00:00Z",
     {"2026-04-05T02:30:00+11:00", "2026-04-06T02:30:00+10:00"}},
    {"Australia/Sydney", "15 * * * *", "2026-10-04T01:00:00+10:00",
     {"2026-10-04T01:15:00+10:00", "2026-10-04T03:15:00+11:00"}},
    {"Australia/Sydney", "45 * * * *", "2026-04-05T01:50:00+11:00",
     {"2026-04-05T02:45:00+11:00", "2026-04-05T02:45:00+10:00",
      "2026-04-05T03:45:00+10:00"}},
    /* Leap years, month ends. */
    {NULL, "0 0 29 2 *", "2026-01-01T00:00:00Z",
     {"2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"}},
    {NULL, "0 0 31 * *", "2026-01-31T00:00:00Z",
     {"2026-03-31T00:00:00Z", "2026-05-31T00:00:00Z",
      "2026-07-31T00:00:00Z", "2026-08-31T00:00:00Z"}},
    {NULL, "59 23 28-31 2 *", "2027-02-27T00:00:00Z",
     {"2027-02-28T23:59:00Z", "2028-02-28T23:59:00Z",
      "2028-02-29T23:59:00Z"}},
    {NULL, "0 12 31 12 *", "2026-12-31T12:00:00Z",
     {"2027-12-31T12:00:00Z"}},
    /* Both day fields restricted: either matches (13th or a Friday). */
    {NULL, "0 0 13 * 5", "2026-11-01T00:00:00Z",
     {"2026-11-06T00:00:00Z", "2026-11-13T00:00:00Z",
      "2026-11-20T00:00:00Z", "2026-11-27T00:00:00Z",
      "2026-12-04T00:00:00Z", "2026-12-11T00:00:00Z",
      "2026-12-13T00:00:00Z"}},
    /* A day field starting with '*' makes it "and" (odd days, Mondays). */
    {NULL, "0 0 */2 * mon", "2026-11-01T00:00:00Z",
     {"2026-11-09T00:00:00Z", "2026-11-23T00:00:00Z",
      "2026-12-07T00:00:00Z"}},
    /* Names in any case, ranges, steps, 7 = Sunday. */
    {NULL, "0 9 * Jan-MAR mon-fri", "2026-03-27T10:00:00Z",
     {"2026-03-30T09:00:00Z", "2026-03-31T09:00:00Z",
      "2027-01-01T09:00:00Z"}},
    {NULL, "0 0 * * 7", "2026-11-21T00:00:00Z",
     {"2026-11-22T00:00:00Z", "2026-11-29T00:00:00Z"}},
    {NULL, "0 0 * * 0", "2026-11-21T00:00:00Z",
     {"2026-11-22T00:00:00Z", "2026-11-29T00:00:00Z"}},
    {NULL, "*/15 * * * *", "2026-01-01T00:00:00Z",
     {"2026-01-01T00:15:00Z", "2026-01-01T00:30:00Z",
      "2026-01-01T00:45:00Z", "2026-01-01T01:00:00Z"}},
    {NULL, "1-30/10 * * * *", "2026-01-01T00:00:00Z",
     {"2026-01-01T00:01:00Z", "2026-01-01T00:11:00Z",
      "2026-01-01T00:21:00Z", "2026-01-01T01:01:00Z"}},
    {NULL, "5/20 * * * *", "2026-01-01T00:00:00Z",
     {"2026-01-01T00:05:00Z", "2026-01-01T00:25:00Z",
      "2026-01-01T00:45:00Z", "2026-01-01T01:05:00Z"}},
    {NULL, "0,30 8,17 * * *", "2026-01-01T08:00:00Z",
     {"2026-01-01T08:30:00Z", "2026-01-01T17:00:00Z",
      "2026-01-01T17:30:00Z", "2026-01-02T08:00:00Z"}},
    /* Macros. */
    {NULL, "@yearly", "2026-06-01T00:00:00Z", {"2027-01-01T00:00:00Z"}},
    {NULL, "@annually", "2026-06-01T00:00:00Z", {"2027-01-01T00:00:00Z"}},
    {NULL, "@monthly", "2026-06-01T00:00:00Z", {"2026-07-01T00:00:00Z"}},
    {NULL, "@weekly", "2026-11-21T00:00:00Z", {"2026-11-22T00:00:00Z"}},
    {NULL, "@daily", "2026-11-21T05:00:00Z", {"2026-11-22T00:00:00Z"}},
    {NULL, "@midnight", "2026-11-21T05:00:00Z", {"2026-11-22T00:00:00Z"}},
    {NULL, "@hourly", "2026-11-21T05:00:00Z", {"2026-11-21T06:00:00Z"}},
    {"Europe/Lisbon", "@daily", "2026-10-24T12:00:00Z",
     {"2026-10-25T00:00:00+01:00", "2026-10-26T00:00:00+00:00"}},
};

static void test_fires(void)
{
    for (size_t i = 0; i < KILN_ARRAY_SIZE(fires); i++) {
        kiln_cron c;
        kiln_err err = KILN_ERR_INIT;
        size_t off;
        int64_t t;
        ASSERT_EQ_INT(kiln_time_parse_iso(&t, fires[i].after, &err), 0);
        if (kiln_cron_parse(&c, fires[i].expr, &off, &err) != 0) {
            fprintf(stderr, "%s: %s\n", fires[i].expr, err.msg);
            ASSERT(0);
        }
        for (size_t k = 0; k < 8 && fires[i].want[k]; k++) {
            char buf[40];
            t = kiln_cron_next(&c, fires[i].zone, t);
            ASSERT(t > 0);
            kiln_time_iso(buf, sizeof(buf), t, fires[i].zone);
            if (strcmp(buf, fires[i].want[k]) != 0)
                fprintf(stderr, "%s in %s after %s, fire %zu:\n",
                        fires[i].expr, fires[i].zone ? fires[i].zone : "UTC",
                        fires[i].after, k + 1);
            ASSERT_STREQ(buf, fires[i].want[k]);
        }
    }
}

static const struct {
    const char *expr, *msg;
    size_t offset;
} bad[] = {
    {"0 24 * * *", "hour: 24 is out of range 0-23", 2},
    {"60 * * * *", "minute: 60 is out of range 0-59", 0},
    {"* * 0 * *", "day-of-month: 0 is out of range 1-31", 4},
    {"* * 32 * *", "day-of-month: 32 is out of range 1-31", 4},
    {"* * * 13 *", "month: 13 is out of range 1-12", 6},
    {"* * * * 8", "day-of-week: 8 is out of range 0-7", 8},
    {"* * * foo *", "month: invalid value \"foo\" (use 1-12 or JAN-DEC)", 6},
    {"* * * * sunday", "day-of-week: invalid value \"sunday\" (use 0-7 or "
                       "SUN-SAT)", 8},
    {"*/0 * * * *", "minute: invalid step \"0\"", 2},
    {"*/x * * * *", "minute: invalid step \"x\"", 2},
    {"5-1 * * * *", "minute: range 5-1 is backwards", 0},
    {"1,,2 * * * *", "minute: expected a value", 2},
    {"0 1-99 * * *", "hour: 99 is out of range 0-23", 4},
    {"* * * *", "expected 5 fields (minute hour day-of-month month "
                "day-of-week), got 4", 7},
    {"* * * * * *", "expected 5 fields (minute hour day-of-month month "
                    "day-of-week), got more", 10},
    {"", "expected 5 fields (minute hour day-of-month month "
         "day-of-week), got 0", 0},
    {"0 0 30 2 *", "never fires: no chosen month has the chosen days of "
                   "the month", 4},
    {"0 0 31 4,6,9,11 *", "never fires: no chosen month has the chosen "
                          "days of the month", 4},
    {"@sometimes", "unknown macro \"@sometimes\" (@yearly, @annually, "
                   "@monthly, @weekly, @daily, @midnight, @hourly)", 0},
    {"0 0 * * 1#2", "day-of-week: unexpected \"#\"", 9},
    {"L * * * *", "minute: invalid value \"L\"", 0},
    {"99999999999 * * * *", "minute: 1000 is out of range 0-59", 0},
};

static void test_bad(void)
{
    for (size_t i = 0; i < KILN_ARRAY_SIZE(bad); i++) {
        kiln_cron c;
        kiln_err err = KILN_ERR_INIT;
        size_t off = 99;
        ASSERT_EQ_INT(kiln_cron_parse(&c, bad[i].expr, &off, &err),
                      KILN_EINVAL);
        ASSERT_STREQ(err.msg, bad[i].msg);
        if (off != bad[i].offset)
            fprintf(stderr, "offset of \"%s\"\n", bad[i].expr);
        ASSERT_EQ_INT(off, bad[i].offset);
    }
}

static void test_valid_edge(void)
{
    kiln_cron c;
    kiln_err err = KILN_ERR_INIT;
    size_t off;
    /* 29 February alone is valid: it happens every four years. */
    ASSERT_EQ_INT(kiln_cron_parse(&c, "0 0 29 2 *", &off, &err), 0);
    /* A restricted day of the week rescues an impossible date. */
    ASSERT_EQ_INT(kiln_cron_parse(&c, "0 0 30 2 1", &off, &err), 0);
    ASSERT_EQ_INT(kiln_cron_parse(&c, "  0   0 * * *  ", &off, &err), 0);
    ASSERT(c.minutes == 1 && c.hours == 1 && !c.hour_star);
    ASSERT_EQ_INT(kiln_cron_parse(&c, "0 * * * *", &off, &err), 0);
    ASSERT(c.hour_star);
}

static void test_zones_and_times(void)
{
    kiln_err err = KILN_ERR_INIT;
    int64_t t;
    char buf[40];
    ASSERT(kiln_tz_valid("UTC"));
    ASSERT(kiln_tz_valid("Europe/Lisbon"));
    ASSERT(!kiln_tz_valid("Europe/Atlantis"));
    ASSERT(!kiln_tz_valid("../../etc/passwd"));
    ASSERT(!kiln_tz_valid(""));
    ASSERT_EQ_INT(kiln_time_parse_iso(&t, "2026-03-29T03:00:00+01:00", &err),
                  0);
    ASSERT_STREQ(kiln_time_iso(buf, sizeof(buf), t, NULL),
                 "2026-03-29T02:00:00Z");
    ASSERT_EQ_INT(kiln_time_parse_iso(&t, "2026-03-29T03:00-02:30", &err), 0);
    ASSERT_STREQ(kiln_time_iso(buf, sizeof(buf), t, "UTC"),
                 "2026-03-29T05:30:00Z");
    ASSERT_EQ_INT(kiln_time_parse_iso(&t, "2026-03-29T03:00:00.123Z", &err),
                  0);
    ASSERT_EQ_INT(kiln_time_parse_iso(&t, "2026-03-29 03:00Z", &err),
                  KILN_EINVAL);
    ASSERT_EQ_INT(kiln_time_parse_iso(&t, "2026-03-29T03:00:00", &err),
                  KILN_EINVAL);
    ASSERT_EQ_INT(kiln_time_parse_iso(&t, "2026-02-30T03:00:00Z", &err),
                  KILN_EINVAL);
    ASSERT_EQ_INT(kiln_time_parse_iso(&t, "2026-13-01T03:00:00Z", &err),
                  KILN_EINVAL);
    /* The process's own TZ is left as it was. */
    setenv("TZ", "Asia/Tokyo", 1);
    kiln_time_iso(buf, sizeof(buf), 0, "Europe/Lisbon");
    ASSERT_STREQ(getenv("TZ"), "Asia/Tokyo");
}

int main(void)
{
    RUN_TEST(test_fires);
    RUN_TEST(test_bad);
    RUN_TEST(test_valid_edge);
    RUN_TEST(test_zones_and_times);
    return 0;
}
