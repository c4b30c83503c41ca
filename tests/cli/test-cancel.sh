# SIGINT to kiln cancels cleanly: children killed, records cancelled.
. "$(dirname "$0")/lib.sh"
# Sleeps no other test (or other copy of this one) runs.
A=30${$}1 B=30${$}2
pipeline long <<YAML
pipeline: long
steps:
  first: {run: sleep $A}
  second: {run: sleep $B}
  after: {needs: [first], run: "true"}
YAML
"$KILN" run "$T/long.yaml" --jobs 2 >"$T/out" 2>"$T/err" &
pid=$!
for _ in $(seq 50); do
    [ "$(pgrep -fc "^sleep ($A|$B)$")" = 2 ] && break
    sleep 0.1
done
kill -INT $pid
wait $pid
rc=$?
eq "exit status" 1 "$rc"
contains "says it cancels" "cancelling run 1" "$(cat "$T/err")"
eq "run cancelled" "cancelled" "$(q 'select status from runs')"
eq "steps cancelled" "after=cancelled first=cancelled second=cancelled" \
    "$(q "select step || '=' || status from run_steps order by step" | tr '\n' ' ' | sed 's/ $//')"
eq "executions cancelled" "cancelled cancelled" \
    "$(q "select status from executions order by step" | tr '\n' ' ' | sed 's/ $//')"
check "run finished_at set" test -n "$(q 'select finished_at from runs')"
sleep 0.3
check "children killed" bash -c "! pgrep -f 'sleep ($A|$B)' >/dev/null"

# SIGTERM works the same way.
"$KILN" run "$T/long.yaml" >"$T/out" 2>"$T/err" &
pid=$!
for _ in $(seq 50); do
    pgrep -f "sleep $A" >/dev/null && break
    sleep 0.1
done
kill -TERM $pid
wait $pid
eq "exit status on SIGTERM" 1 "$?"
eq "second run cancelled" cancelled "$(q 'select status from runs where id=2')"
finish
