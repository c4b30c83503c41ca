# kill -9 of kiln during a 1,000-step fan-out, whose state changes are
# committed a turn of the loop at a time (several steps' ends and starts
# in one transaction), then kiln resume, killed again, at random moments
# and at the fault points after an attempt's end (not committed yet) and
# after its start (committed, its process not started). After each kill:
# every step recorded as finished really finished (the file it appends
# to says so). At the end: the run succeeded, every step ran exactly
# once (one line in its file, one succeeded execution), and the
# database passes integrity_check.
. "$(dirname "$0")/lib.sh"
N=1000
RANDOM=${KILL_SEED:-20}
W=$T/work
mkdir -p "$W/counts"
{
    echo "pipeline: fan"
    echo "steps:"
    echo "  s1: {run: \"echo \$KILN_RUN_ID >> counts/s1\"}"
    for ((i = 2; i < N; i++)); do
        echo "  s$i: {run: \"echo \$KILN_RUN_ID >> counts/s$i\", needs: [s1]}"
    done
    printf '  s%d: {run: "echo $KILN_RUN_ID >> counts/s%d", needs: [' $N $N
    seq -s, -f 's%g' 2 $((N - 1)) | tr -d '\n'
    echo "]}"
} > "$W/fan.yaml"

# Every step recorded succeeded in the run has its line.
finished_really() {
    local bad=0 s
    for s in $(q "select step from executions where run_id = 1 and
                  status = 'succeeded'"); do
        grep -qx 1 "$W/counts/$s" 2>/dev/null || bad=$((bad + 1))
    done
    eq "$1: every step recorded finished wrote its file" 0 "$bad"
}

# kiln (run or resume) with crash (a KILN_CRASH value or ""), killed
# after delay_ms unless it ends first.
attempt() {
    local crash=$1 delay_ms=$2 pid waited=0
    if [ "$3" = run ]; then
        (cd "$W" && KILN_CRASH=$crash exec "$KILN" run fan.yaml --jobs 2 \
            >>"$T/run.log" 2>&1) &
    else
        KILN_CRASH=$crash "$KILN" resume 1 >>"$T/run.log" 2>&1 &
    fi
    pid=$!
    while kill -0 $pid 2>/dev/null && [ $waited -lt "$delay_ms" ]; do
        sleep 0.05
        waited=$((waited + 50))
    done
    kill -9 $pid 2>/dev/null
    wait $pid 2>/dev/null
    # What the killed kiln left running finishes meanwhile, or is found
    # by the next.
    finished_really "$4"
}

attempt "" $((300 + RANDOM % 700)) run "kill -9 of kiln run"
n1=$(q "select count(*) from executions where status = 'succeeded'")
attempt "attempt-ended:$((20 + RANDOM % 100))" 20000 resume \
    "crash after an attempt's end, before its commit"
attempt "" $((200 + RANDOM % 800)) resume "kill -9 of kiln resume"
attempt "attempt-recorded:$((5 + RANDOM % 50))" 20000 resume \
    "crash after a start was committed, before its process"
attempt "spawned:$((5 + RANDOM % 50))" 20000 resume \
    "crash after a process started, before its id was recorded"
for k in 1 2 3; do
    [ "$(q "select status from runs where id = 1")" = succeeded ] && break
    attempt "" 60000 resume "resume to the end ($k)"
done
eq "some steps had finished at the first kill" 1 \
    "$([ "${n1:-0}" -gt 0 ] && [ "${n1:-0}" -lt $N ] && echo 1)"
eq "the run ended succeeded" succeeded \
    "$(q "select status from runs where id = 1")"
ran=0 twice=0
for ((i = 1; i <= N; i++)); do
    c=$(grep -cx 1 "$W/counts/s$i" 2>/dev/null)
    [ "${c:-0}" = 1 ] && ran=$((ran + 1))
    [ "${c:-0}" -gt 1 ] && twice=$((twice + 1))
done
eq "every step ran" $N $ran
eq "no step ran twice" 0 $twice
eq "one succeeded execution per step" "$N|$N" \
    "$(q "select count(*), count(distinct step) from executions
          where status = 'succeeded'")"
eq "no other execution but those never started" 0 \
    "$(q "select count(*) from executions where status != 'succeeded'
          and reason not like 'never started%'")"
eq "integrity" ok "$(q "pragma integrity_check")"
finish
