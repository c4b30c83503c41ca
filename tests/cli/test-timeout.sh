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
eq "step failed on timeout" "failed|timed out after 1.0s" \
    "$(q "select status, reason from run_steps where step='sleepy'")"
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
eq "killed by SIGKILL" "failed|9" \
    "$(q "select status, signal from executions where step='deaf'")"
sleep 0.3
check "no orphan left" bash -c "! pgrep -f 'sleep $n[34]' >/dev/null"
finish
