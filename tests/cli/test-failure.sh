# A failed step fails the run, skips its downstream steps, and lets
# independent branches finish.
. "$(dirname "$0")/lib.sh"
pipeline fail <<'YAML'
pipeline: fail
steps:
  a: {run: "true"}
  b: {needs: [a], run: echo boom >&2; exit 3}
  c: {needs: [b], run: touch c-ran}
  d: {needs: [c], run: touch d-ran}
  side: {needs: [a], run: sleep 0.5; touch side-ran}
YAML
kiln_rc run "$T/fail.yaml" --jobs 4
eq "exit status" 1 "$rc"
summary=$out
eq "run failed" 'failed|step "b" failed: exited with status 3' \
    "$(q 'select status, reason from runs where id=1')"
eq "statuses" "a=succeeded b=failed c=skipped d=skipped side=succeeded" \
    "$(q "select step || '=' || status from run_steps order by step" | tr '\n' ' ' | sed 's/ $//')"
eq "skip reason" 'upstream step "b" failed' \
    "$(q "select reason from run_steps where step='d'")"
check "c never ran" test ! -e "$T/c-ran"
check "side branch finished" test -e "$T/side-ran"
eq "b exit code recorded" 3 "$(q "select exit_code from executions where step='b'")"
eq "no execution for skipped steps" 0 \
    "$(q "select count(*) from executions where step in ('c','d')")"
check "every record ended" test "$(q "select count(*) from run_steps where finished_at is null")" = 0
kiln_rc logs 1 b
eq "stderr in the log" boom "$out"
contains "summary names the failure" 'step "b" failed' "$summary"
finish
