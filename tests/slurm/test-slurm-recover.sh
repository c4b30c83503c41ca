# kiln serve killed with SIGKILL while Slurm jobs run, then started again:
# it finds the jobs again by job id and records how they really ended, one
# that ended while no daemon watched and one still running.
. "$(dirname "$0")/lib.sh"
P=$T/pipelines
mkdir -p "$P"
# Fires once, a second after the daemon starts (as in tests/cli/test-recover.sh).
cat > "$P/crash.yaml" <<'YAML'
pipeline: crash
schedule: "0 0 1 1 *"
defaults: {executor: slurm}
steps:
  quick:
    run: "echo ran >> quick.count; sleep 1; exit 4"
  long:
    run: "echo ran >> long.count; sleep 8; echo done"
  after:
    needs: [long]
    executor: local
    run: "echo ran >> after.count"
YAML
cd "$P"
KILN_NOW=2025-12-31T23:59:59Z serve serve.log --jobs 4 "$P/crash.yaml"
wait_for "both jobs running" 15 'test "$(q "select count(*) from executions where status='\''running'\'' and external_id is not null")" = 2'
quick=$(q "select external_id from executions where step='quick'")
long=$(q "select external_id from executions where step='long'")
wait_for "the long job to run" 10 'test "$(job_state "$long" | cut -d" " -f1)" = RUNNING'
kill -9 $daemon
wait $daemon 2>/dev/null
eq "records still say running" "running" "$(q 'select status from runs where id=1')"
# The quick job ends while no daemon watches.
wait_for "the quick job to end" 10 'job_state "$quick" | grep -q ^FAILED'
eq "the long job outlived the daemon" RUNNING "$(job_state "$long" | cut -d' ' -f1)"

KILN_NOW=2026-01-01T00:00:30Z serve serve.log --jobs 4 "$P/crash.yaml"
wait_for "the run to end" 30 'test "$(q "select status from runs where id=1")" != running'
stop $daemon
eq "daemon exits 0" 0 "$?"
contains "it took the run over" "crash: taking over run 1" "$(cat "$T/serve.log")"
eq "quick's real end, read after the restart" "failed|4|$quick" \
    "$(q "select status, exit_code, external_id from executions where step='quick'")"
eq "long's real end, watched again" "succeeded|0|$long" \
    "$(q "select status, exit_code, external_id from executions where step='long'")"
eq "long's output in its log" "done" "$(cat "$(q "select log_path from executions where step='long'")")"
eq "each job ran once" "ran ran" "$(cat quick.count) $(cat long.count)"
eq "after ran once, after the restart" "ran" "$(cat after.count)"
eq "one execution per step" 3 "$(q 'select count(*) from executions')"
eq "the run failed because of quick" 'failed|step "quick" failed: exited with status 4' \
    "$(q 'select status, reason from runs where id=1')"

# Killed right after sbatch, before the job id was recorded
# (KILN_CRASH=spawned): the restarted daemon finds the job by the comment
# naming its attempt and watches it, rather than submit it again.
cat > "$P/crash.yaml" <<'YAML'
pipeline: crash2
schedule: "0 0 1 1 *"
defaults: {executor: slurm}
steps:
  once:
    run: "echo ran >> once.count; sleep 3"
YAML
rm -f once.count
KILN_CRASH=spawned:1 KILN_NOW=2025-12-31T23:59:59Z serve serve2.log --jobs 4 "$P/crash.yaml"
wait_for "the daemon killed itself after sbatch" 15 '! kill -0 $daemon 2>/dev/null'
eq "the attempt is recorded, its job id not" "running|" \
    "$(q "select e.status, coalesce(e.external_id, '') from executions e join runs r on r.id = e.run_id where r.pipeline = 'crash2'")"
KILN_NOW=2026-01-01T00:00:30Z serve serve2.log --jobs 4 "$P/crash.yaml"
wait_for "the run to end" 30 'test "$(q "select status from runs where pipeline = '\''crash2'\''")" = succeeded'
stop $daemon
eq "the job ran once" "ran" "$(cat once.count)"
eq "one execution, with the job id found" "1|1" \
    "$(q "select count(*), count(external_id) from executions e join runs r on r.id = e.run_id where r.pipeline = 'crash2'")"
finish
