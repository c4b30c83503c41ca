# Nothing a step starts outlives it: processes that leave its process
# group (setsid, nohup in a new session) or its parent (a double fork) are
# killed when the step ends, times out or is cancelled, gracefully or not
# (kiln-shim is their subreaper).
. "$(dirname "$0")/lib.sh"
P=$T/pipelines
mkdir -p "$P"
# Sleeps no other test (or other copy of this one) runs: case C's (0-9)
# are exactly "sleep 40PID<C><digit>".
n=40$$
# alive C: how many of case C's sleeps run.
alive() { pgrep -fc "^sleep $n$1[0-9]\$"; }
# Whatever a failure left running goes when the test ends.
trap 'kill -9 $(pgrep -f "^sleep $n[0-9][0-9]\$") 2>/dev/null; cleanup' EXIT

# esc.sh C [deaf] [long]: start three processes that escape the step,
# wait until they run, say so, then (long) sleep in the foreground; deaf
# ignores SIGTERM first, so only SIGKILL ends the step.
cat > "$T/esc.sh" <<'SH'
C=$1 c=$N$1; shift
[ "${1:-}" = deaf ] && { trap '' TERM; shift; }
setsid sleep ${c}1 &
sh -c "(sleep ${c}2 &) &"
nohup setsid sleep ${c}3 >/dev/null 2>&1 &
i=0
while [ "$(pgrep -fc "^sleep $c[0-9]\$")" -lt 3 ] && [ $i -lt 100 ]; do
    sleep 0.05
    i=$((i + 1))
done
echo "case $C: escaped $(pgrep -fc "^sleep $c[0-9]\$")"
[ "${1:-}" = long ] && exec sleep ${c}9
exit 0
SH
export N=$n

# step NAME C ARGS...: a pipeline of one step running esc.sh C ARGS,
# with its own keys after the command (timeout).
step() {
    local name=$1 c=$2; shift 2
    printf 'pipeline: %s\nsteps:\n  s:\n    run: sh %s %s %s\n' \
        "$name" "$T/esc.sh" "$c" "$*" > "$P/$name.yaml"
}

step end 1
printf '    timeout: 1s\n' > "$T/timeout"
step timeout 2 long && cat "$T/timeout" >> "$P/timeout.yaml"
step cancel 3 long
step deaf 4 deaf long
step stubborn 5 deaf long && cat "$T/timeout" >> "$P/stubborn.yaml"
step interrupt 6 long

# --- Under kiln serve (every step under kiln-shim) ---
serve serve.log --listen none --grace 30s "$P"
wait_for "the daemon" 10 'grep -q "pid $daemon" "$T/serve.log"'

# (a) The step ends: what it left behind goes with it.
kiln_rc trigger end --wait
eq "the step succeeded" 0 "$rc"
eq "case 1: nothing survives the step's end" 0 "$(alive 1)"

# (b) A timeout.
kiln_rc trigger timeout --wait
eq "the step timed out" "timed_out|timed out after 1.0s" \
    "$(q "select status, reason from run_steps where step='s' order by run_id desc limit 1")"
eq "case 2: nothing survives the timeout" 0 "$(alive 2)"

# (d) kiln cancel.
kiln_rc trigger cancel
id=$(printf '%s' "$out" | sed -n 's/^run \([0-9]*\) started$/\1/p')
wait_for "case 3's escapes" 10 'test "$(alive 3)" = 4'
kiln_rc cancel "$id"
wait_for "the cancel" 10 'test "$(q "select status from runs where id=$id")" = cancelled'
eq "case 3: nothing survives kiln cancel" 0 "$(alive 3)"

# (e) The forced path, after the grace period: a step deaf to SIGTERM gets
# SIGKILL 10 s after its timeout, and so does everything it started.
t0=$(now_ms)
kiln_rc trigger stubborn --wait
t1=$(now_ms)
check "SIGKILL after the 10 s grace ($((t1 - t0)) ms)" \
    test $((t1 - t0)) -ge 10500 -a $((t1 - t0)) -lt 20000
eq "killed by SIGKILL" "timed_out|9" \
    "$(q "select status, signal from executions where step='s' order by run_id desc limit 1")"
eq "case 5: nothing survives the forced stop" 0 "$(alive 5)"

# (e) ...and at once: SIGTERM to kiln serve twice.
kiln_rc trigger deaf
id=$(printf '%s' "$out" | sed -n 's/^run \([0-9]*\) started$/\1/p')
wait_for "case 4's escapes" 10 'test "$(alive 4)" = 4'
kill -TERM "$daemon"
sleep 0.3
eq "still running within the grace" 4 "$(alive 4)"
stop "$daemon"
eq "the daemon stopped" 0 "$?"
eq "case 4: nothing survives a forced cancel" 0 "$(alive 4)"
eq "the run was cancelled, its step killed" "cancelled|9" \
    "$(q "select r.status, e.signal from runs r join executions e on e.run_id = r.id where r.id=$id")"

# (c) Ctrl-C of kiln serve: the running step gets --grace, then SIGTERM.
serve serve2.log --listen none --grace 1s "$P"
wait_for "the daemon again" 10 'grep -q "pid $daemon" "$T/serve2.log"'
kiln_rc trigger interrupt
wait_for "case 6's escapes" 10 'test "$(alive 6)" = 4'
kill -INT "$daemon"
wait "$daemon"
eq "the daemon stopped on SIGINT" 0 "$?"
eq "case 6: nothing survives Ctrl-C of kiln serve" 0 "$(alive 6)"
# Each case had its three escapes running (the checks above are not
# empty).
logs=$(cat "$KILN_STATE"/logs/*/s.1.log)
for c in 1 2 3 4 5 6; do
    contains "case $c: the three escapes ran" "case $c: escaped 3" "$logs"
done

# --- Under kiln run (cases of its own) ---
export KILN_STATE=$T/run-state
step run-end 7
step run-timeout 8 long && cat "$T/timeout" >> "$P/run-timeout.yaml"
step run-interrupt 9 long
step run-deaf 0 deaf long
kiln_rc run "$P/run-end.yaml"
eq "kiln run: the step succeeded" 0 "$rc"
eq "kiln run, case 7: nothing survives the step's end" 0 "$(alive 7)"
kiln_rc run "$P/run-timeout.yaml"
eq "kiln run: the step timed out" 1 "$rc"
eq "kiln run, case 8: nothing survives the timeout" 0 "$(alive 8)"
# (c) Ctrl-C, once...
"$KILN" run "$P/run-interrupt.yaml" >"$T/out" 2>&1 &
pid=$!
wait_for "case 9's escapes" 10 'test "$(alive 9)" = 4'
kill -INT $pid
wait $pid
eq "kiln run: exit 1 when cancelled" 1 "$?"
eq "kiln run, case 9: nothing survives Ctrl-C" 0 "$(alive 9)"
# ...and twice, for a step deaf to SIGTERM.
"$KILN" run "$P/run-deaf.yaml" >"$T/out" 2>&1 &
pid=$!
wait_for "case 0's escapes" 10 'test "$(alive 0)" = 4'
kill -INT $pid
sleep 0.3
eq "kiln run: still running after one Ctrl-C" 4 "$(alive 0)"
kill -INT $pid
wait $pid
eq "kiln run: exit 1 when killed" 1 "$?"
eq "kiln run, case 0: nothing survives a second Ctrl-C" 0 "$(alive 0)"
eq "kiln run: the deaf step was killed" "cancelled|9" \
    "$(q "select status, signal from executions where run_id=4")"
logs=$(cat "$KILN_STATE"/logs/*/s.1.log)
for c in 7 8 9 0; do
    contains "kiln run, case $c: the three escapes ran" "case $c: escaped 3" \
        "$logs"
done
finish
