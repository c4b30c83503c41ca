# Container steps under Slurm: executor: slurm with image: runs podman
# inside the batch job, on the node. Its output reaches the next step, the
# image's ID is recorded, an exit status comes through the job, and a kiln
# timeout stops the container with the job. Nothing is left in podman ps
# -a. Skipped without the local cluster or without podman and the test
# images.
. "$(dirname "$0")/lib.sh"
. "$KILN_SRC/contrib/containers/lib.sh"
ctr_require

py_id=sha256:$(podman image inspect --format '{{.Id}}' "$KILN_TEST_IMAGE")
S=$$
W=$T/work
mkdir -p "$W"
ex() { q "select $3 from executions where run_id = $1 and step = '$2' order by attempt desc limit 1"; }
ctr_status() {
    podman ps -a --filter "name=^$1\$" --format '{{.Status}}' 2>/dev/null
}

pipeline mix <<YAML
pipeline: mix
env: {GREETING: hello}
defaults: {workdir: $W}
steps:
  prep_$S:
    run: echo 21 > in.txt
    outputs: [in.txt]
  train_$S:
    needs: [prep_$S]
    executor: slurm
    image: $KILN_TEST_IMAGE
    resources: {cpus: 1, time: 5m}
    run: |
      python3 - <<'PY'
      import os
      os.makedirs("out", exist_ok=True)
      with open("out/model.txt", "w") as f:
          f.write("%d\n" % (int(open("in.txt").read()) * 2))
          f.write("%s %s\n" % (os.environ.get("GREETING"), os.environ.get("KILN_STEP")))
          f.write("pid1 %s" % open("/proc/1/comm").read())
      PY
      echo "in the container"
    inputs: [in.txt]
    outputs: [out/model.txt]
  report_$S:
    needs: [train_$S]
    run: head -1 out/model.txt > report.txt
YAML
kiln_rc run "$T/mix.yaml"
eq "the run succeeds" 0 "$rc"
[ "$rc" = 0 ] || echo "$out$err" >&2
eq "the container step's output, at the same path" "42
hello train_$S" "$(head -2 "$W/out/model.txt" 2>&1)"
case $(sed -n 's/^pid1 //p' "$W/out/model.txt" 2>/dev/null) in
    catatonit|podman-init|tini) ok ;;
    *) fail "not in a container: $(cat "$W/out/model.txt" 2>&1)" ;;
esac
eq "the next (local) step read it" 42 "$(cat "$W/report.txt" 2>&1)"
eq "files are the test user's" "$(id -u):$(id -g)" \
    "$(stat -c %u:%g "$W/out" "$W/out/model.txt" | sort -u)"
eq "ran under Slurm, succeeded, the image's ID recorded" \
    "slurm|succeeded|0|$py_id|$KILN_TEST_IMAGE" \
    "$(ex 1 "train_$S" "executor || '|' || status || '|' || exit_code || '|' || image || '|' || image_ref")"
job=$(ex 1 "train_$S" external_id)
check "its external id is a job id ($job)" test -n "$job" -a -z "${job//[0-9]/}"
eq "Slurm says the job completed" "COMPLETED None" "$(job_state "$job")"
eq "the job ran the container step" "mix.train_$S" \
    "$(squeue -h -t all -j "$job" -o '%j')"
kiln_rc logs 1 "train_$S"
eq "its log, written by the job" "in the container" "$out"
kiln_rc show 1
contains "kiln show: the image" "    image $KILN_TEST_IMAGE (${py_id:0:19})" "$out"
eq "no container of the run left" "" "$(ctr_status "kiln-1-train_$S-1")"

# An exit status through the container and the job; a kiln timeout
# cancels the job and stops the container.
pipeline ends <<YAML
pipeline: ends
defaults: {workdir: $W, executor: slurm, image: $KILN_TEST_IMAGE}
steps:
  three_$S: {run: "exit 3"}
  sleepy_$S: {run: "touch sleepy.started; sleep 600", timeout: 4s}
YAML
t0=$(now_ms)
kiln_rc run "$T/ends.yaml" --jobs 2
t1=$(now_ms)
eq "the run fails" 1 "$rc"
eq "exit 3 through podman and Slurm" "failed|3|exited with status 3" \
    "$(ex 2 "three_$S" "status || '|' || exit_code || '|' || reason")"
job=$(ex 2 "three_$S" external_id)
eq "Slurm says so" "FAILED NonZeroExitCode" "$(job_state "$job")"
check "the sleepy container had started" test -e "$W/sleepy.started"
eq "timed out" "timed_out|timed out after 4.0s" \
    "$(q "select status || '|' || reason from run_steps where run_id = 2 and step = 'sleepy_$S'")"
check "ended soon after the timeout ($((t1 - t0)) ms)" test $((t1 - t0)) -lt 15000
job=$(ex 2 "sleepy_$S" external_id)
eq "its job was cancelled" CANCELLED "$(job_state "$job" | cut -d' ' -f1)"
for _ in $(seq 50); do
    [ -z "$(ctr_status "kiln-2-sleepy_$S-1")" ] && break
    sleep 0.1
done
eq "the timed-out container is gone" "" "$(ctr_status "kiln-2-sleepy_$S-1")"
ctr_check_clean
finish
