/*
 * kiln-shim.h: how kiln talks to a running kiln-shim, beside its command
 * line. libc only: the shim includes it too.
 */
#ifndef KILN_SHIM_H
#define KILN_SHIM_H

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

/* A forced stop: sent with sigqueue() to the shim's pid alone, with
 * KILN_SHIM_MAGIC as its value, it makes the shim SIGKILL the command and
 * everything else still below it, record how the command ended and exit
 * the same way. The shim ignores this signal when it comes without the
 * value (a step signalling its own process group). SIGKILL to the group
 * would kill the shim first and leave the processes that escaped the
 * group running. */
#define KILN_SHIM_KILL SIGUSR1
#define KILN_SHIM_MAGIC 0x6b696c6e /* "kiln" */

/*
 * kiln-shim --serve: one process that starts every local step of one kiln
 * and watches them to their end, so a step costs one process (its
 * command) and not two. kiln starts it with two SOCK_SEQPACKET sockets:
 *
 *   fd 3 (KILN_SHIM_REQ_FD): kiln sends a kiln_shim_req, the log file's
 *        descriptor beside it (SCM_RIGHTS), and waits for its
 *        kiln_shim_reply on the same socket.
 *   fd 4 (KILN_SHIM_EV_FD): the supervisor sends a kiln_shim_event when
 *        a command has ended (after its leftovers are killed and its
 *        status file written), and a first one with slot
 *        KILN_SHIM_HELLO and wstatus KILN_SHIM_PROTO once it is ready.
 *
 * The status file holds, while the command runs, "starting SPID SSTART"
 * (the supervisor's pid and start time, before the command is started)
 * then "running PID START SPID SSTART", and at its end "exit N" or
 * "signal N" as a per-step kiln-shim writes it: a kiln started again
 * after a crash finds the process from it. The command's environment
 * gets KILN_SHIM_TOKEN=STATUS_FILE, by which the supervisor tells which
 * step an orphan it adopted belongs to. It exits once kiln has closed
 * the sockets and no command of its own runs.
 */
#define KILN_SHIM_REQ_FD 3
#define KILN_SHIM_EV_FD 4
#define KILN_SHIM_PROTO 2
#define KILN_SHIM_HELLO UINT32_MAX
#define KILN_SHIM_TOKEN "KILN_SHIM_TOKEN"

/* Followed by NUL-ended strings: the status file, a spare file ("":
 * none), the working directory ("": kiln's), argc arguments and envc
 * environment entries. The spare is a file kiln no longer needs (the
 * status file of an attempt whose end it has recorded): the supervisor
 * writes "starting" into it and renames it to the status file rather
 * than create one, which costs more than a step on some file systems. */
struct kiln_shim_req {
    uint32_t slot;  /* kiln's, echoed in the reply and the event */
    uint32_t argc;
    uint32_t envc;
};

struct kiln_shim_reply {
    uint32_t slot;
    int32_t err;    /* 0, or the errno that kept the command from starting */
    int32_t pid;
    int32_t pad;
    uint64_t start; /* of pid, in clock ticks after boot (/proc) */
};

struct kiln_shim_event {
    uint32_t slot;
    int32_t wstatus; /* as waitpid() tells */
};

/* Send a request of len bytes (a kiln_shim_req and its strings) on sock,
 * with the descriptor fd beside it. Returns what sendmsg() does. */
static inline ssize_t kiln_shim_send(int sock, const void *msg, size_t len,
                                     int fd)
{
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
    } ctl;
    struct msghdr mh;
    struct iovec iov;
    struct cmsghdr *cm;
    ssize_t n;

    memset(&mh, 0, sizeof(mh));
    memset(&ctl, 0, sizeof(ctl));
    iov.iov_base = (void *)msg;
    iov.iov_len = len;
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = ctl.buf;
    mh.msg_controllen = sizeof(ctl.buf);
    cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &fd, sizeof(int));
    while ((n = sendmsg(sock, &mh, MSG_NOSIGNAL)) < 0 && errno == EINTR)
        ;
    return n;
}

#endif
