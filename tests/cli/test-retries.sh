# Retries with backoff: a step failing twice then passing.
. "$(dirname "$0")/lib.sh"
pipeline retry <<'YAML'
pipeline: retry
steps:
  flaky:
    run: |
      n=$(cat count 2>/dev/null || echo 0); n=$((n + 1)); echo $n > count
      echo "attempt $KILN_ATTEMPT"
      [ "$n" -ge 3 ]
    retries: 3
    retry_delay: 200ms
  never:
    run: echo nope; exit 4
    retries: 1
    retry_delay: 100ms
YAML
kiln_rc run "$T/retry.yaml"
eq "exit status" 1 "$rc"
eq "flaky attempts" "3|succeeded" \
    "$(q "select attempts, status from run_steps where step='flaky'")"
eq "flaky executions" "1|failed|1 2|failed|1 3|succeeded|0" \
    "$(q "select attempt, status, exit_code from executions where step='flaky' order by attempt" | tr '\n' ' ' | sed 's/ $//')"
# Backoff doubles: >= 200 ms before attempt 2, >= 400 ms before attempt 3.
gap1=$(q "select b.started_at - a.finished_at from executions a join executions b on b.step=a.step and b.attempt=a.attempt+1 where a.step='flaky' and a.attempt=1")
gap2=$(q "select b.started_at - a.finished_at from executions a join executions b on b.step=a.step and b.attempt=a.attempt+1 where a.step='flaky' and a.attempt=2")
check "first retry waited 200 ms ($gap1)" test "$gap1" -ge 190
check "second retry waited 400 ms ($gap2)" test "$gap2" -ge 390
eq "never failed after 2 attempts" "2|failed|exited with status 4" \
    "$(q "select attempts, status, reason from run_steps where step='never'")"
kiln_rc logs 1 flaky --attempt 2
eq "log of attempt 2" "attempt 2" "$out"
kiln_rc logs 1 flaky
eq "log of the last attempt" "attempt 3" "$out"
finish
