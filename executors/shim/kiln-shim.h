/*
 * kiln-shim.h: how kiln talks to a running kiln-shim, beside its command
 * line. libc only: the shim includes it too.
 */
#ifndef KILN_SHIM_H
#define KILN_SHIM_H

#include <signal.h>

/* A forced stop: sent with sigqueue() to the shim's pid alone, with
 * KILN_SHIM_MAGIC as its value, it makes the shim SIGKILL the command and
 * everything else still below it, record how the command ended and exit
 * the same way. The shim ignores this signal when it comes without the
 * value (a step signalling its own process group). SIGKILL to the group
 * would kill the shim first and leave the processes that escaped the
 * group running. */
#define KILN_SHIM_KILL SIGUSR1
#define KILN_SHIM_MAGIC 0x6b696c6e /* "kiln" */

#endif
