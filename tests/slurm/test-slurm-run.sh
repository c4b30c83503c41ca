# Steps on a real Slurm cluster with `kiln run`: local and Slurm steps
# passing files, resources reaching sbatch, exit codes, signals, retries,
# a kiln timeout cancelling the job, a job cancelled outside kiln, and an
# sbatch that refuses the job.
. "$(dirname "$0")/lib.sh"
W=$T/work
mkdir -p "$W"

pipeline mix <<YAML
pipeline: mix
defaults: {workdir: $W}
steps:
  prep:
    run: echo 21 > in.txt
    outputs: [in.txt]
  train:
    needs: [prep]
    executor: slurm
    resources: {cpus: 2, mem: 100M, time: 5m, partition: debug}
    run: echo "job \$SLURM_JOB_ID step \$KILN_STEP"; echo \$((\$(cat in.txt) * 2)) > out.txt
    inputs: [in.txt]
    outputs: [out.txt]
  report:
    needs: [train]
    run: cat out.txt
YAML
kiln_rc run "$T/mix.yaml"
eq "mixed run succeeds" 0 "$rc"
eq "the local step read the Slurm step's output" 42 "$(cat "$W/out.txt")"
job=$(q "select external_id from executions where step='train'")
eq "train ran under Slurm" "slurm|succeeded|0" \
    "$(q "select executor, status, exit_code from executions where step='train'")"
check "its external id is a job id ($job)" test -n "$job" -a -z "${job//[0-9]/}"
eq "Slurm says it completed" "COMPLETED None" "$(job_state "$job")"
eq "resources became sbatch options" "mix.train 2 100M 5:00 debug" \
    "$(squeue -h -t all -j "$job" -o '%j %C %m %l %P')"
kiln_rc logs 1 train
eq "its log, written by Slurm, is kiln's log" "job $job step train" "$out"
eq "its status file, written beside the log" "exit 0" \
    "$(cat "$KILN_STATE/logs/1/train.1.status")"

pipeline ends <<YAML
pipeline: ends
defaults: {workdir: $W, executor: slurm}
steps:
  three: {run: exit 3}
  term: {run: kill -TERM \$\$}
  flaky:
    run: if [ -e flaky.once ]; then exit 0; fi; touch flaky.once; exit 1
    retries: 1
    retry_delay: 100ms
YAML
kiln_rc run "$T/ends.yaml"
eq "a failed step fails the run" 1 "$rc"
eq "exit 3" "failed|3||exited with status 3" \
    "$(q "select status, exit_code, signal, reason from executions where step='three'")"
eq "SIGTERM" "failed||15|killed by signal 15 (Terminated)" \
    "$(q "select status, exit_code, signal, reason from executions where step='term'")"
eq "retried once, then succeeded" "1|failed 2|succeeded" \
    "$(q "select attempt || '|' || status from executions where step='flaky' order by attempt" | tr '\n' ' ' | sed 's/ $//')"
eq "two jobs for two attempts" 2 \
    "$(q "select count(distinct external_id) from executions where step='flaky'")"

# kiln's own timeout cancels the job with scancel.
pipeline slow <<YAML
pipeline: slow
defaults: {workdir: $W, executor: slurm}
steps:
  sleepy: {run: sleep 600, timeout: 2s}
YAML
t0=$(now_ms)
kiln_rc run "$T/slow.yaml"
t1=$(now_ms)
eq "timeout fails the run" 1 "$rc"
eq "timed out" "timed_out|timed out after 2.0s" \
    "$(q "select r.status, r.reason from run_steps r join runs u on u.id = r.run_id where u.pipeline='slow'")"
check "ended soon after the timeout ($((t1 - t0)) ms)" test $((t1 - t0)) -lt 10000
job=$(q "select e.external_id from executions e join runs u on u.id = e.run_id where u.pipeline='slow'")
eq "the job was cancelled" "CANCELLED" "$(job_state "$job" | cut -d' ' -f1)"

# A job cancelled by someone else fails the step, saying so.
pipeline other <<YAML
pipeline: other
defaults: {workdir: $W, executor: slurm}
steps:
  victim: {run: sleep 600}
YAML
"$KILN" run "$T/other.yaml" >"$T/other.out" 2>&1 &
runner=$!
wait_for "the victim's job" 10 'test -n "$(q "select e.external_id from executions e join runs u on u.id = e.run_id where u.pipeline='\''other'\''")"'
job=$(q "select e.external_id from executions e join runs u on u.id = e.run_id where u.pipeline='other'")
wait_for "the job to run" 10 'test "$(job_state "$job" | cut -d" " -f1)" = RUNNING'
scancel "$job"
wait $runner
eq "kiln run fails" 1 "$?"
eq "cancelled outside kiln" "failed|Slurm job $job was cancelled outside kiln (CANCELLED)" \
    "$(q "select status, reason from executions where external_id='$job' and executor='slurm'")"

# Secrets reach the job through a file only the user can read, which the
# shim removes: never in the batch script or sbatch's environment; the
# Slurm log masks them, also a value cut across two writes.
printf '%s\n' slurmsecret-XYZ12345 > "$T/secret.txt"
pipeline sec <<YAML
pipeline: sec
defaults: {workdir: $W, executor: slurm}
secrets: {TOKEN: {file: $T/secret.txt}}
steps:
  s:
    run: |
      echo "tok=\$TOKEN"; printf 'cut=slurmsecret'; sleep 0.3; echo '-XYZ12345'
      printf '%s' "\$TOKEN" > token.out; printf 'env %s\n' "\$(env | grep -c XYZ12345)"
YAML
kiln_rc run "$T/sec.yaml"
eq "the step with a secret succeeds" 0 "$rc"
run=$(q "select max(id) from runs where pipeline = 'sec'")
eq "the job got the value" slurmsecret-XYZ12345 "$(cat "$W/token.out")"
eq "the Slurm log masks it" "tok=***
cut=***
env 1" "$(cat "$KILN_STATE/logs/$run/s.1.log")"
check "the batch script names the secrets file" \
    grep -q -- "--secrets '$KILN_STATE/logs/$run/s.1.status.secrets'" "$KILN_STATE/logs/$run/s.1.sbatch"
if grep -rqaF slurmsecret-XYZ12345 "$KILN_STATE"; then
    fail "a value is in the state directory: $(grep -rlaF slurmsecret-XYZ12345 "$KILN_STATE")"
else ok; fi
eq "the secrets file is gone" "" "$(find "$KILN_STATE" -name '*.secrets')"

# A sweep on Slurm: each item is a job of its own, with its params, its
# output and its metrics; the select step (local) gets the best.
pipeline sweep <<YAML
pipeline: sweep
params: {a: 1, b: 1}
defaults: {workdir: $W}
steps:
  train:
    executor: slurm
    run: |
      echo "{\\"score\\": \$((KILN_PARAM_A * KILN_PARAM_B))}" > "score-\$KILN_PARAM_A-\$KILN_PARAM_B.json"
      echo "job \$SLURM_JOB_ID" > "model-\$KILN_PARAM_A-\$KILN_PARAM_B.txt"
    outputs: ["model-{a}-{b}.txt"]
    metrics: "score-{a}-{b}.json"
    matrix: {a: [1, 2], b: [3, 5], max_parallel: 2}
  pick:
    needs: [train]
    select: {from: train, metric: score}
    run: cat \$KILN_SELECTED_OUTPUTS > picked.txt; echo \$KILN_SELECTED_STEP >> picked.txt
YAML
kiln_rc run "$T/sweep.yaml"
eq "the sweep on Slurm succeeds" 0 "$rc"
run=$(q "select max(id) from runs where pipeline = 'sweep'")
eq "four items, four Slurm jobs" 4 \
    "$(q "select count(distinct external_id) from executions where run_id = $run and step like 'train[%' and executor = 'slurm' and status = 'succeeded'")"
eq "each item's metric" "3.0 5.0 6.0 10.0" \
    "$(q "select value from metrics where run_id = $run order by value" | tr '\n' ' ' | sed 's/ $//')"
job=$(q "select external_id from executions where run_id = $run and step = 'train[a=2,b=5]'")
eq "pick got the best item's output" "job $job
train[a=2,b=5]" "$(cat "$W/picked.txt")"
eq "Slurm ran it under the item's name" "sweep.train[a=2,b=5] COMPLETED" \
    "$(squeue -h -t all -j "$job" -o '%j %T')"

# sbatch refusing the job is a failed start, with sbatch's reason.
pipeline refused <<YAML
pipeline: refused
defaults: {workdir: $W, executor: slurm}
steps:
  nowhere: {run: "true", resources: {partition: nosuchpartition}}
YAML
kiln_rc run "$T/refused.yaml"
eq "refused fails the run" 1 "$rc"
contains "sbatch's reason" "could not start: sbatch failed: sbatch: error: invalid partition specified: nosuchpartition" \
    "$(q "select e.reason from executions e join runs u on u.id = e.run_id where u.pipeline='refused'")"
finish
