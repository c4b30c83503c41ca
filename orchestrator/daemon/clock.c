/* clock.c: wall clock, or a test clock that starts elsewhere and runs
 * faster. */
#include "clock.h"

#include <stdlib.h>
#include <time.h>

#include "dsl/cron.h"

static int64_t base_virtual; /* the kiln clock at base_real */
static int64_t base_real;    /* CLOCK_MONOTONIC ms at init */
static double speed = 1.0;
static bool simulated;

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int kiln_clock_init(kiln_err *err)
{
    const char *now = getenv("KILN_NOW"), *sp = getenv("KILN_CLOCK_SPEED");
    base_real = mono_ms();
    base_virtual = kiln_now_ms();
    simulated = false;
    speed = 1.0;
    if (now && *now) {
        int64_t t;
        if (kiln_time_parse_iso(&t, now, err) != 0)
            return kiln_err_set(err, KILN_EINVAL, "KILN_NOW: %s", err->msg);
        base_virtual = t * 1000;
        simulated = true;
    }
    if (sp && *sp) {
        char *end;
        speed = strtod(sp, &end);
        if (*end || !(speed >= 0.001 && speed <= 1e6))
            return kiln_err_set(err, KILN_EINVAL, "KILN_CLOCK_SPEED: "
                                "expected a number from 0.001 to 1000000, "
                                "got \"%s\"", sp);
        simulated = true;
    }
    return 0;
}

int64_t kiln_clock_now_ms(void)
{
    if (!simulated)
        return kiln_now_ms();
    return base_virtual + (int64_t)((double)(mono_ms() - base_real) * speed);
}

uint64_t kiln_clock_real_ms(int64_t t_ms)
{
    int64_t d = t_ms - kiln_clock_now_ms();
    if (d <= 0)
        return 0;
    return (uint64_t)((double)d / speed + 0.999);
}

double kiln_clock_speed(void)
{
    return speed;
}

bool kiln_clock_is_simulated(void)
{
    return simulated;
}
