/*
 * clock.h: the daemon's notion of "now", in seconds since the epoch.
 *
 * Normally the wall clock. For tests, KILN_NOW=ISO-8601 starts the clock
 * at that instant when the process starts and KILN_CLOCK_SPEED=N makes it
 * run N times faster than real time, so a test can watch a nightly
 * schedule fire within seconds. Timers convert clock delays into real
 * milliseconds with kiln_clock_real_ms().
 */
#ifndef KILN_CLOCK_H
#define KILN_CLOCK_H

#include "base/base.h"

/* Read KILN_NOW and KILN_CLOCK_SPEED; KILN_EINVAL if they are malformed. */
int kiln_clock_init(kiln_err *err);
/* Now, on the kiln clock, in milliseconds since the epoch. */
int64_t kiln_clock_now_ms(void);
/* Real milliseconds until the kiln clock shows t_ms (0 if past). */
uint64_t kiln_clock_real_ms(int64_t t_ms);
/* How many times faster than real time the kiln clock runs (1 normally). */
double kiln_clock_speed(void);
/* True when KILN_NOW or KILN_CLOCK_SPEED is set. */
bool kiln_clock_is_simulated(void);

#endif
