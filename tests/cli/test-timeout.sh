# A timeout kills the whole process group; SIGKILL follows an ignored
# SIGTERM after the grace period.
. "$(dirname "$0")/lib.sh"
# Sleeps no other test (or other copy of this one) runs.
n=30$$
pipeline slow <<YAML
pipeline: slow
steps:
  sleepy:
    run: sleep ${n}1 & sleep ${n}2 & wait
    timeout: 1s
YAML
kiln_rc run "$T/slow.yaml"
eq "exit status" 1 "$rc"
eq "the step timed out" "timed_out|timed out after 1.0s" \
    "$(q "select status, reason from run_steps where step='sleepy'")"
eq "its attempt too" "timed_out" "$(q "select status from executions where step='sleepy'")"
eq "the run failed, naming it" "failed|step \"sleepy\" failed: timed out after 1.0s" \
    "$(q "select status, reason from runs where pipeline='slow'")"
contains "kiln run says timed out" "timed out" "$out$err"
kiln_rc show 1
contains "kiln show says timed_out" "timed_out" "$out"
kiln_rc run "$T/slow.yaml" --junit "$T/junit.xml"
contains "JUnit: a failure" '<failure type="timed_out" message="timed out after 1.0s"' "$(cat "$T/junit.xml")"

# A run's reason names every step that failed.
pipeline two <<YAML
pipeline: two
steps:
  a: {run: "exit 3"}
  b: {run: "exit 4"}
  c: {run: "sleep ${n}5", timeout: 1s}
  d: {run: "true"}
YAML
kiln_rc run "$T/two.yaml"
eq "three failures named" 'steps "a", "b" and "c" failed: a: exited with status 3; b: exited with status 4; c: timed out after 1.0s' \
    "$(q "select reason from runs where pipeline='two'")"
sleep 0.3
check "no orphan left" bash -c "! pgrep -f 'sleep $n[12]' >/dev/null"

pipeline stubborn <<YAML
pipeline: stubborn
steps:
  deaf:
    run: trap "" TERM; sleep ${n}3 & sleep ${n}4; wait
    timeout: 1s
YAML
t0=$(now_ms)
kiln_rc run "$T/stubborn.yaml"
t1=$(now_ms)
eq "exit status" 1 "$rc"
check "SIGKILL after the 10 s grace ($((t1 - t0)) ms)" \
    test $((t1 - t0)) -ge 10500 -a $((t1 - t0)) -lt 20000
eq "killed by SIGKILL" "timed_out|9" \
    "$(q "select status, signal from executions where step='deaf'")"
sleep 0.3
check "no orphan left" bash -c "! pgrep -f 'sleep $n[34]' >/dev/null"
finish
