#!/usr/bin/env bash
# local-cluster.sh - run a throw-away single-node Slurm cluster (munged +
# slurmctld + slurmd, optionally slurmrestd) as root, for tests and CI.
#
#   local-cluster.sh start    install if missing, configure, start, wait
#                                 until the node is idle, print export lines
#   local-cluster.sh stop     cancel jobs, stop only the daemons this
#                                 script started (by the pid files it wrote)
#   local-cluster.sh status   exit 0 if the cluster answers, 1 otherwise
#   local-cluster.sh env      print the export lines (no checks)
#
# Typical use:   eval "$(local-cluster.sh start)"   # sets SLURM_CONF
#                sbatch --wrap 'echo hi'; ...
#                local-cluster.sh stop
#
# Only the export lines go to stdout; progress and errors go to stderr.
#
# Settings (environment variables, all optional):
#   SLURM_LOCAL_DIR          working dir (config, state, logs, sockets)
#                            [/tmp/kiln-slurm]
#   SLURM_LOCAL_CTLD_PORT    slurmctld port [first free pair from 6817 up]
#   SLURM_LOCAL_SLURMD_PORT  slurmd port    [SLURM_LOCAL_CTLD_PORT + 1]
#   SLURM_LOCAL_CPUS         CPUs declared for the node [real count]
#   SLURM_LOCAL_OVERSUBSCRIBE  jobs allowed per CPU (partition
#                            OverSubscribe=FORCE:N); NO = one job per core
#                            [8]
#   SLURM_LOCAL_MIN_JOB_AGE  seconds a finished job stays visible to
#                            scontrol/squeue [3600]
#   SLURM_LOCAL_RESTD        1 = also run slurmrestd on a unix socket [0]
#   SLURM_LOCAL_RESTD_USER   unprivileged user slurmrestd runs as (jobs
#                            submitted through REST run as this user)
#                            [nobody]
#   SLURM_LOCAL_INSTALL      1 = apt-get install missing packages [1]
#   SLURM_LOCAL_TIMEOUT      seconds to wait for the node to become idle [45]
#   SLURM_LOCAL_KEEP_STATE   1 = keep job state from a previous run [0]
set -u -o pipefail

DIR=${SLURM_LOCAL_DIR:-/tmp/kiln-slurm}
CONF=$DIR/etc/slurm.conf
RUN=$DIR/run            # pid files written by this script
LOG=$DIR/log
MUNGE_SOCK=$DIR/munge/munge.socket.2
RESTD_SOCK=$DIR/restd/slurmrestd.sock
RESTD=${SLURM_LOCAL_RESTD:-0}
RESTD_USER=${SLURM_LOCAL_RESTD_USER:-nobody}
OVERSUB=${SLURM_LOCAL_OVERSUBSCRIBE:-8}
MIN_JOB_AGE=${SLURM_LOCAL_MIN_JOB_AGE:-3600}
TIMEOUT=${SLURM_LOCAL_TIMEOUT:-45}

say() { echo "local-cluster: $*" >&2; }
die() { say "ERROR: $*"; exit 1; }

print_env() {
    echo "export SLURM_CONF=$CONF"
    if [ "$RESTD" = 1 ] && [ -S "$RESTD_SOCK" ]; then
        echo "export SLURM_LOCAL_RESTD_SOCKET=$RESTD_SOCK"
    fi
}

# ---------------------------------------------------------------- processes
# true if PID exists and is not a zombie (an exited daemon whose parent, pid
# 1 in some containers, has not reaped it yet).
alive() {
    local st
    st=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null) || return 1
    [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# pid of daemon $1 if its pid file exists and the process is alive and is
# really that program (guards against a recycled pid).
live_pid() {
    local name=$1 pid comm
    [ -r "$RUN/$name.pid" ] || return 1
    pid=$(cat "$RUN/$name.pid" 2>/dev/null) || return 1
    case $pid in ''|*[!0-9]*) return 1 ;; esac
    alive "$pid" || return 1
    comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
    # /proc/PID/comm is cut to 15 chars; "slurmctld" etc. fit.
    [ "$comm" = "$name" ] || return 1
    echo "$pid"
}

# exec "$@" with no inherited descriptors above 2 (so a test harness that
# reads our stdout, or any other pipe it passed down, is never held open),
# stdin from /dev/null and output appended to $LOG/NAME.out.  Always called
# inside a subshell: ( exec_clean NAME CMD... )
exec_clean() {
    local name=$1 fd; shift
    for fd in /proc/$BASHPID/fd/*; do
        fd=${fd##*/}
        [ "$fd" -gt 2 ] 2>/dev/null && eval "exec $fd>&-"
    done
    trap '' HUP INT
    exec "$@" </dev/null >>"$LOG/$name.out" 2>&1
}

has_pid() { live_pid "$1" >/dev/null; }

# A self-daemonizing program (munged, slurmctld, slurmd): it forks, detaches
# and writes its own pid file $RUN/NAME.pid; wait for that file.
spawn_daemon() {
    local name=$1; shift
    rm -f "$RUN/$name.pid"
    ( exec_clean "$name" "$@" ) || return 1
    wait_for 10 "$name pid file" has_pid "$name"
}

# A program without a daemon mode (slurmrestd): background it, record $!.
# The subshell execs the program, so $! is the program's pid.
spawn_bg() {
    local name=$1; shift
    ( exec_clean "$name" "$@" ) &
    echo $! >"$RUN/$name.pid"
}

stop_pid() {   # stop_pid NAME PID : TERM, wait up to 10 s, then KILL
    local name=$1 pid=$2
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 100); do
        alive "$pid" || { say "stopped $name (pid $pid)"; return 0; }
        sleep 0.1
    done
    say "$name (pid $pid) did not stop on TERM, sending KILL"
    kill -KILL "$pid" 2>/dev/null
    sleep 0.2
}

# slurmstepd processes belonging to THIS cluster: they keep our slurmd log
# (under $DIR) open.  Used only after slurmd is gone.
our_stepds() {
    local p f t
    for p in /proc/[0-9]*; do
        [ "$(cat "$p/comm" 2>/dev/null)" = slurmstepd ] || continue
        for f in "$p"/fd/*; do
            t=$(readlink "$f" 2>/dev/null) || continue
            case $t in "$DIR"/*) echo "${p#/proc/}"; break ;; esac
        done
    done
}

# All descendants of PID (job processes under a slurmstepd), from /proc.
descendants() {
    local p st rest pid ppid list="" frontier=" $1 " found=1
    local -a pairs=()
    for p in /proc/[0-9]*/stat; do
        st=$(cat "$p" 2>/dev/null) || continue
        rest=${st##*) }            # after "(comm) ": "STATE PPID ..."
        ppid=${rest#* }; ppid=${ppid%% *}
        pid=${st%% *}
        pairs+=("$pid:$ppid")
    done
    while [ $found = 1 ]; do
        found=0
        for p in "${pairs[@]}"; do
            pid=${p%%:*}; ppid=${p##*:}
            case $frontier in *" $ppid "*) ;; *) continue ;; esac
            case $frontier in *" $pid "*) continue ;; esac
            frontier="$frontier$pid "; list="$list $pid"; found=1
        done
    done
    echo $list
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# ------------------------------------------------------------------ install
need_install() {
    local c
    for c in slurmctld slurmd sbatch squeue scontrol sinfo munged mungekey munge; do
        command -v "$c" >/dev/null 2>&1 || PATH=$PATH:/usr/sbin:/sbin command -v "$c" >/dev/null 2>&1 || return 0
    done
    if [ "$RESTD" = 1 ]; then
        command -v slurmrestd >/dev/null 2>&1 || return 0
    fi
    return 1
}

install_pkgs() {
    export PATH=$PATH:/usr/sbin:/sbin
    need_install || return 0
    [ "${SLURM_LOCAL_INSTALL:-1}" = 1 ] || die "Slurm/munge not installed and SLURM_LOCAL_INSTALL=0"
    [ "$(id -u)" = 0 ] || die "must run as root to install packages"
    local pkgs="slurmctld slurmd slurm-client munge"
    [ "$RESTD" = 1 ] && pkgs="$pkgs slurmrestd"
    say "installing $pkgs (apt-get)"
    local apt="apt-get -o DPkg::Lock::Timeout=300 -y -q --no-install-recommends"
    if ! DEBIAN_FRONTEND=noninteractive $apt install $pkgs >"/tmp/slurm-single-node-apt.log" 2>&1; then
        DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -q update >>"/tmp/slurm-single-node-apt.log" 2>&1
        DEBIAN_FRONTEND=noninteractive $apt install $pkgs >>"/tmp/slurm-single-node-apt.log" 2>&1 \
            || die "apt-get install failed, see /tmp/slurm-single-node-apt.log"
    fi
    need_install && die "packages installed but commands still missing"
    return 0
}

# ------------------------------------------------------------------- config
pick_ports() {
    if [ -n "${SLURM_LOCAL_CTLD_PORT:-}" ]; then
        CTLD_PORT=$SLURM_LOCAL_CTLD_PORT
        SLURMD_PORT=${SLURM_LOCAL_SLURMD_PORT:-$((CTLD_PORT + 1))}
        return
    fi
    local p
    for p in $(seq 6817 2 6917); do
        if ! port_busy "$p" && ! port_busy $((p + 1)); then
            CTLD_PORT=$p; SLURMD_PORT=$((p + 1)); return
        fi
    done
    die "no free port pair in 6817-6918"
}

write_config() {
    local host hw node_hw part_os
    host=$(hostname -s 2>/dev/null || hostname)
    [ -n "$host" ] || die "empty hostname"
    # "NodeName=h CPUs=2 Boards=1 SocketsPerBoard=1 CoresPerSocket=2 ThreadsPerCore=1 RealMemory=N"
    hw=$(slurmd -C 2>/dev/null | head -n1) || true
    [ -n "$hw" ] || die "slurmd -C failed"
    hw=${hw#NodeName=* }
    if [ -n "${SLURM_LOCAL_CPUS:-}" ]; then
        local mem
        mem=$(echo "$hw" | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')
        node_hw="CPUs=$SLURM_LOCAL_CPUS RealMemory=$mem"
    else
        node_hw=$hw
    fi
    case $OVERSUB in
        NO|no|0|'') part_os="OverSubscribe=NO" ;;
        *) part_os="OverSubscribe=FORCE:$OVERSUB" ;;
    esac
    cat >"$CONF" <<EOF
# Generated by local-cluster.sh - single-node test cluster, no slurmdbd.
ClusterName=localci
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MUNGE_SOCK
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$RUN/slurmctld.pid
SlurmdPidFile=$RUN/slurmd.pid
SlurmctldLogFile=$LOG/slurmctld.log
SlurmdLogFile=$LOG/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
LogTimeFormat=iso8601_ms
# No cgroups: plain process tracking, no task containment.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
# Start jobs on the next scheduler tick (about 1 s) instead of batching.
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
MpiDefault=none
SwitchType=switch/none
MailProg=/bin/true
# No accounting database: finished jobs stay in slurmctld memory for
# MinJobAge seconds (scontrol show job / squeue -t all), and every finished
# job is appended to the jobcomp text file.
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$LOG/jobcomp.txt
MinJobAge=$MIN_JOB_AGE
MaxJobCount=50000
# Test friendliness: fast kill on cancel/timeout, never requeue.
KillWait=5
JobRequeue=0
ReturnToService=2
PropagateResourceLimits=NONE
SlurmdParameters=config_overrides
NodeName=$host NodeAddr=127.0.0.1 NodeHostname=$host $node_hw State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP $part_os
EOF
}

# ------------------------------------------------------------------ helpers
node_state() {
    sinfo -h -N -o '%t' 2>/dev/null | head -n1
}

cluster_ok() {
    live_pid munged >/dev/null && live_pid slurmctld >/dev/null && live_pid slurmd >/dev/null || return 1
    [ -r "$CONF" ] || return 1
    SLURM_CONF=$CONF scontrol ping 2>/dev/null | grep -q 'is UP' || return 1
    case $(SLURM_CONF=$CONF node_state) in idle|mix|alloc|comp) ;; *) return 1 ;; esac
    if [ "$RESTD" = 1 ] && [ ! -e "$RUN/restd.disabled" ] && ! live_pid slurmrestd >/dev/null; then
        return 1
    fi
    return 0
}

wait_for() {   # wait_for SECONDS DESCRIPTION CMD...
    local secs=$1 end; shift 2      # $2 only documents the call
    end=$(( $(date +%s) + secs ))
    while ! "$@"; do
        [ "$(date +%s)" -lt "$end" ] || return 1
        sleep 0.2
    done
}

munge_ok() { [ -S "$MUNGE_SOCK" ] && munge -n -S "$MUNGE_SOCK" 2>/dev/null | unmunge -S "$MUNGE_SOCK" >/dev/null 2>&1; }
ctld_ok()  { SLURM_CONF=$CONF scontrol ping 2>/dev/null | grep -q 'is UP'; }
node_idle() { [ "$(SLURM_CONF=$CONF node_state)" = idle ]; }
restd_ok() { [ -S "$RESTD_SOCK" ] && curl -sf --unix-socket "$RESTD_SOCK" http://localhost/slurm/v0.0.38/ping >/dev/null 2>&1; }

dump_logs() {
    local f
    for f in "$LOG"/*.out "$LOG"/slurmctld.log "$LOG"/slurmd.log "$LOG"/munged.log; do
        [ -s "$f" ] || continue
        say "---- tail $f"
        tail -n 15 "$f" >&2
    done
}

# -------------------------------------------------------------------- start
do_start() {
    [ "$(id -u)" = 0 ] || die "must run as root (slurmd and SlurmUser=root)"
    export PATH=$PATH:/usr/sbin:/sbin
    mkdir -p "$RUN" "$LOG" 2>/dev/null
    if cluster_ok; then
        say "already running in $DIR"
        print_env
        return 0
    fi
    # Anything half-alive from an earlier run is stopped first.
    do_stop quiet
    install_pkgs
    local t0; t0=$(date +%s)

    mkdir -p "$DIR/etc" "$DIR/state" "$DIR/spool" "$LOG" "$RUN" "$DIR/munge" || die "cannot create $DIR"
    if [ "${SLURM_LOCAL_KEEP_STATE:-0}" != 1 ]; then
        rm -rf "${DIR:?}/state/"* "${DIR:?}/spool/"*
        rm -f "$LOG/jobcomp.txt"
    fi
    rm -f "$LOG"/*.log "$LOG"/*.out
    # munged refuses a socket dir that is not world-executable, and a key
    # that is readable by others.
    chmod 755 "$DIR" "$DIR/munge"
    if [ ! -s "$DIR/munge/munge.key" ]; then
        mungekey -c -k "$DIR/munge/munge.key" -b 1024 2>/dev/null \
            || dd if=/dev/urandom of="$DIR/munge/munge.key" bs=128 count=1 status=none \
            || die "cannot create munge key"
    fi
    chmod 600 "$DIR/munge/munge.key"

    rm -f "$RUN/restd.disabled"
    pick_ports
    write_config

    # munged on a private socket (does not touch a system munged).
    rm -f "$MUNGE_SOCK" "$MUNGE_SOCK.lock"
    spawn_daemon munged munged --force --socket="$MUNGE_SOCK" \
        --key-file="$DIR/munge/munge.key" --log-file="$LOG/munged.log" \
        --pid-file="$RUN/munged.pid" --seed-file="$DIR/munge/munged.seed" &&
    wait_for 10 munged munge_ok || { dump_logs; do_stop quiet; die "munged did not come up"; }

    spawn_daemon slurmctld slurmctld -f "$CONF" &&
    wait_for 20 slurmctld ctld_ok || { dump_logs; do_stop quiet; die "slurmctld did not answer"; }

    spawn_daemon slurmd slurmd -f "$CONF" || { dump_logs; do_stop quiet; die "slurmd did not start"; }
    local left=$(( TIMEOUT - ($(date +%s) - t0) )); [ "$left" -gt 5 ] || left=5
    if ! wait_for "$left" "node idle" node_idle; then
        # A node left DOWN/DRAIN by an earlier state: resume it once.
        SLURM_CONF=$CONF scontrol update nodename="$(hostname -s)" state=resume >/dev/null 2>&1
        wait_for 10 "node idle" node_idle || {
            SLURM_CONF=$CONF sinfo -N -l >&2; dump_logs; do_stop quiet; die "node did not become idle"; }
    fi

    # slurmctld runs its first scheduling pass about 3 s after it starts;
    # a job submitted before that waits for it.  Wait for that pass (it logs
    # its SchedulerParameters) so the first test job starts promptly.
    wait_for 8 "first scheduler pass" grep -q 'SchedulerParameters=' "$LOG/slurmctld.log" \
        || say "note: no scheduler pass logged yet; first job may wait a few seconds"

    if [ "$RESTD" = 1 ]; then
        if id -u "$RESTD_USER" >/dev/null 2>&1 && command -v slurmrestd >/dev/null 2>&1; then
            # slurmrestd refuses to run as root; -u drops to RESTD_USER before
            # binding, so the socket dir must belong to that user.
            mkdir -p "$DIR/restd"
            chown "$RESTD_USER" "$DIR/restd"
            rm -f "$RESTD_SOCK"
            # Only the non-database OpenAPI plugin: the dbv0.0.38 one is fatal
            # without slurmdbd.
            SLURM_CONF=$CONF spawn_bg slurmrestd slurmrestd -f "$CONF" -u "$RESTD_USER" \
                -s openapi/v0.0.38 -a rest_auth/local "unix:$RESTD_SOCK"
            if ! wait_for 10 slurmrestd restd_ok; then
                say "WARNING: slurmrestd did not answer; continuing without it"
                tail -n 5 "$LOG/slurmrestd.out" >&2 2>/dev/null
                local p; p=$(live_pid slurmrestd) && stop_pid slurmrestd "$p"
                rm -f "$RUN/slurmrestd.pid"
                touch "$RUN/restd.disabled"
                RESTD=0
            fi
        else
            say "WARNING: slurmrestd or user $RESTD_USER missing; not started"
            touch "$RUN/restd.disabled"
            RESTD=0
        fi
    fi
    say "cluster up in $DIR after $(( $(date +%s) - t0 )) s (ports $CTLD_PORT/$SLURMD_PORT)"
    print_env
}

# --------------------------------------------------------------------- stop
do_stop() {
    local quiet=${1:-} name pid any=0
    export PATH=$PATH:/usr/sbin:/sbin
    # Cancel remaining jobs while the controller still answers, so that no
    # job processes outlive the cluster.
    if live_pid slurmctld >/dev/null && [ -r "$CONF" ]; then
        local ids
        ids=$(SLURM_CONF=$CONF squeue -h -o %i 2>/dev/null | tr '\n' ' ')
        if [ -n "${ids// /}" ]; then
            SLURM_CONF=$CONF scancel $ids 2>/dev/null
            for _ in $(seq 50); do
                [ -z "$(SLURM_CONF=$CONF squeue -h -o %i 2>/dev/null)" ] && break
                sleep 0.2
            done
        fi
    fi
    for name in slurmrestd slurmd slurmctld munged; do
        if pid=$(live_pid "$name"); then
            stop_pid "$name" "$pid"; any=1
        fi
        rm -f "$RUN/$name.pid"
        if [ "$name" = slurmd ]; then
            # Only after a crash can job steps outlive the cancel above.
            for pid in $(our_stepds); do
                local kid
                for kid in $(descendants "$pid"); do kill -KILL "$kid" 2>/dev/null; done
                # an orphaned slurmstepd ignores TERM
                kill -KILL "$pid" 2>/dev/null && say "killed orphaned slurmstepd (pid $pid)"
            done
        fi
    done
    rm -f "$MUNGE_SOCK" "$RESTD_SOCK"
    [ -n "$quiet" ] || { [ $any = 1 ] || say "nothing running in $DIR"; }
    return 0
}

case ${1:-} in
    start)  do_start ;;
    stop)   do_stop ;;
    status) if cluster_ok; then say "running in $DIR"; exit 0; else say "not running in $DIR"; exit 1; fi ;;
    env)    print_env ;;
    *)      echo "usage: $0 start|stop|status|env" >&2; exit 2 ;;
esac
