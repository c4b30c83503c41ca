# Container steps (image:) with the real kiln binary and a real podman:
# outputs at the same relative paths, owned by the user running kiln; the
# variables a step sees; the image's ID recorded, shown and in the cache
# key (a re-pointed tag misses, kiln why says so); cancel, timeout and a
# daemon killed with SIGKILL stop or find the container; a missing image;
# network: none; a read-only mount; kiln reproduce of a container step,
# and of one whose image is gone. Nothing is left in podman ps -a.
# Skipped without podman or the test images (CTest's fixture
# containers/setup makes them).
. "$(dirname "$0")/lib.sh"
. "$KILN_SRC/contrib/containers/lib.sh"
ctr_require

PY=$KILN_TEST_IMAGE VARIANT=$KILN_TEST_IMAGE_VARIANT
image_id() { podman image inspect --format '{{.Id}}' "$1"; }
# podman prints an image's ID without its algorithm; kiln records it with.
py_id=sha256:$(image_id "$PY")
variant_id=sha256:$(image_id "$VARIANT")
# A container of kiln's, by name: its status line, empty when there is none.
ctr_status() {
    podman ps -a --filter "name=^$1\$" --format '{{.Status}}' 2>/dev/null
}
# Execution field of a step's last attempt in a run.
ex() { q "select $3 from executions where run_id = $1 and step = '$2' order by attempt desc limit 1"; }
# Step names carry the test's pid: containers are named
# kiln-RUN-STEP-ATTEMPT, and other kiln states on this machine have runs
# of the same number.
S=$$
W=$T/work
mkdir -p "$W/in"
echo "input data" > "$W/in/data.txt"
export CTR_HOST_ONLY=host-$S

# --- Outputs, variables, ownership, the record ---------------------------
TAG=kiln-test:other-$S
ctr_tag "$TAG" "$PY"
pipeline out <<YAML
pipeline: out
params: {n: 3}
env: {GREETING: hello from the pipeline}
defaults: {workdir: $W}
steps:
  write_$S:
    image: $TAG
    params: [n]
    run: |
      echo ran >> ran.count
      python3 - <<'PY'
      import os
      os.makedirs("out/sub", exist_ok=True)
      with open("out/sub/result.txt", "w") as f:
          f.write("param %s\n" % os.environ.get("KILN_PARAM_N"))
          f.write("env %s\n" % os.environ.get("GREETING"))
          f.write("host %s\n" % os.environ.get("CTR_HOST_ONLY"))
          f.write("input %s" % open("in/data.txt").read())
          f.write("variant %s\n" % os.path.exists("/etc/kiln-variant"))
          f.write("pid1 %s" % open("/proc/1/comm").read())
          f.write("cwd %s\n" % os.getcwd())
      with open(os.environ["KILN_METRICS"], "w") as f:
          f.write('{"accuracy": 0.875}')
      PY
    inputs: [in/data.txt]
    outputs: [out/sub/result.txt]
  after_$S:
    needs: [write_$S]
    run: cp out/sub/result.txt host-copy.txt
YAML
kiln_rc run "$T/out.yaml" --param n=5
eq "a container step's run succeeds" 0 "$rc"
[ "$rc" = 0 ] || echo "$out$err" >&2
eq "what the step saw and wrote (same relative paths)" "param 5
env hello from the pipeline
host None
input input data
variant False
cwd $W" "$(grep -v '^pid1 ' "$W/out/sub/result.txt" 2>&1)"
# --init: an init is the container's PID 1 (podman's catatonit, installed
# as podman-init or catatonit), the command its child.
case $(sed -n 's/^pid1 //p' "$W/out/sub/result.txt") in
    catatonit|podman-init|tini|docker-init) ok ;;
    *) fail "PID 1 in the container is not an init: $(grep '^pid1' "$W/out/sub/result.txt")" ;;
esac
eq "the host step after it read it at the same path" \
    "$(cat "$W/out/sub/result.txt")" "$(cat "$W/host-copy.txt" 2>&1)"
eq "files it wrote are the test user's" "$(id -u):$(id -g)" \
    "$(stat -c %u:%g "$W/out" "$W/out/sub" "$W/out/sub/result.txt" "$W/ran.count" | sort -u)"
eq "its \$KILN_METRICS recorded" "accuracy=0.875" \
    "$(q "select key || '=' || value from metrics where run_id = 1 and step = 'write_$S'")"
eq "the image ID recorded (not the tag)" "$py_id" "$(ex 1 "write_$S" image)"
eq "the reference as written" "$TAG" "$(ex 1 "write_$S" image_ref)"
eq "no image on the host step" "null|null" \
    "$(ex 1 "after_$S" "coalesce(image, 'null') || '|' || coalesce(image_ref, 'null')")"
kiln_rc show 1
contains "kiln show: the image line" \
    "    image $TAG (${py_id:0:19})" "$out"
kiln_rc show 1 --json
eq "kiln show --json: image and image_ref of the attempt" "$py_id $TAG" \
    "$(printf '%s' "$out" | python3 -c '
import json, sys
d = json.load(sys.stdin)
s = [s for s in d["steps"] if s["name"].startswith("write_")][0]
a = s["attempts_detail"][-1]
print(a.get("image"), a.get("image_ref"))')"
kiln_rc why 1 "write_$S"
contains "kiln why: the image in the key" "image: ${py_id:0:19} (podman)" "$out"
kiln_rc lineage "$W/out/sub/result.txt"
contains "kiln lineage: the image" "image ${py_id:0:19}" "$out"
check "no container of run 1 left" test -z "$(ctr_status "kiln-1-write_$S-1")"


# The same again: served from the cache, no container run.
kiln_rc run "$T/out.yaml" --param n=5
eq "second run succeeds" 0 "$rc"
eq "cached" cached "$(ex 2 "write_$S" status)"
eq "the container did not run again" 1 "$(wc -l < "$W/ran.count")"
kiln_rc why 2 "write_$S"
contains "kiln why: cached" "served from the cache: run 1 made its outputs" "$out"

# The tag re-pointed at other content: another ID, a miss.
ctr_tag "$TAG" "$VARIANT"
kiln_rc run "$T/out.yaml" --param n=5
eq "run after the tag moved succeeds" 0 "$rc"
eq "ran, not cached" succeeded "$(ex 3 "write_$S" status)"
eq "the container ran again" 2 "$(wc -l < "$W/ran.count")"
contains "it ran the variant's content" "variant True" \
    "$(cat "$W/out/sub/result.txt")"
eq "the variant's ID recorded, the same reference" "$variant_id $TAG" \
    "$(ex 3 "write_$S" "image || ' ' || image_ref")"
kiln_rc why 3 "write_$S"
contains "kiln why names the image change" \
    "image: ${py_id:0:19} (podman) -> ${variant_id:0:19} (podman)" "$out"
ctr_check_clean

# --- network: none, a read-only mount, missing images ----------------------
mkdir -p "$T/data"
echo "mounted payload" > "$T/data/in.txt"
pipeline iso <<YAML
pipeline: iso
defaults: {workdir: $W, image: $PY}
steps:
  offline_$S:
    container: {network: none}
    run: |
      echo \$(ls /sys/class/net) > offline.txt
      python3 -c '
      import socket
      for host in ("127.0.0.1", "10.88.0.1", "1.1.1.1"):
          try:
              socket.create_connection((host, 9), timeout=2)
              print("connected", host)
          except OSError as e:
              print("refused" if host == "127.0.0.1" else "unreachable", host)
      ' >> offline.txt
  online_$S:
    run: echo \$(ls /sys/class/net) > online.txt
  readonly_$S:
    container: {mounts: ["data:/data:ro"]}
    run: |
      cat /data/in.txt > ro.txt
      if touch /data/new 2>/dev/null; then echo writable; else echo read-only; fi >> ro.txt
YAML
kiln_rc run "$T/iso.yaml" --jobs 3
eq "network, mounts: the run succeeds" 0 "$rc"
[ "$rc" = 0 ] || echo "$out$err" >&2
eq "network: none has only the loopback" "lo" "$(head -1 "$W/offline.txt")"
eq "and reaches nothing" "refused 127.0.0.1
unreachable 10.88.0.1
unreachable 1.1.1.1" "$(tail -n +2 "$W/offline.txt")"
online=$(cat "$W/online.txt")
check "the default network has more than the loopback ($online)" \
    test -n "$online" -a "$online" != "lo"
eq "a read-only mount (relative to the pipeline file) is read" \
    "mounted payload
read-only" "$(cat "$W/ro.txt" 2>&1)"
check "nothing written through it" test ! -e "$T/data/new"

pipeline missing <<YAML
pipeline: missing
defaults: {workdir: $W}
steps:
  never_$S:
    image: kiln-test:nosuch-$S
    container: {pull: never}
    run: touch never-ran
  unpullable_$S:
    image: localhost:1/kiln-nosuch:$S
    run: touch never-ran
YAML
t0=$(now_ms)
kiln_rc run "$T/missing.yaml" --jobs 2
t1=$(now_ms)
run=$(q "select max(id) from runs")
eq "a missing image fails the run" 1 "$rc"
check "quickly ($((t1 - t0)) ms)" test $((t1 - t0)) -lt 15000
# The image is resolved before the first attempt: the step fails with
# no attempt, its reason the engine's.
rs() { q "select $3 from run_steps where run_id = $1 and step = '$2'"; }
eq "pull: never: the step fails saying why, with no attempt" \
    "failed|0|image kiln-test:nosuch-$S is not on this machine (pull: never)" \
    "$(rs $run "never_$S" "status || '|' || attempts || '|' || reason")"
contains "the run says so, naming each failed step" \
    "steps \"never_$S\" and \"unpullable_$S\" failed: never_$S: image kiln-test:nosuch-$S is not on this machine (pull: never); unpullable_$S: cannot pull image" \
    "$(q "select status || '|' || reason from runs where id = $run")"
eq "no execution was started" 0 \
    "$(q "select count(*) from executions where run_id = $run")"
reason=$(rs $run "unpullable_$S" reason)
contains "an image that cannot be pulled: the engine's words" \
    "cannot pull image localhost:1/kiln-nosuch:$S: " "$reason"
contains "... and why" "connection refused" "$reason"
contains "kiln run says so" "is not on this machine (pull: never)" "$out$err"
check "neither command ran" test ! -e "$W/never-ran"
ctr_check_clean

# --- Cancel and timeout ----------------------------------------------------
# wait_running RUN STEP: until the step's container of attempt 1 is up.
wait_running() {
    wait_for "container kiln-$1-$2-1 running" 20 \
        "ctr_status kiln-$1-$2-1 | grep -q '^Up'"
}
# gone_within WHAT MS NAME: until the container NAME is gone, at most MS.
gone_within() {
    local t0 t
    t0=$(now_ms)
    while [ -n "$(ctr_status "$3")" ] && [ $(($(now_ms) - t0)) -lt "$2" ]; do
        sleep 0.1
    done
    t=$(($(now_ms) - t0))
    if [ -z "$(ctr_status "$3")" ]; then ok
    else fail "$1: container $3 still there after $t ms: $(ctr_status "$3")"; fi
}
pipeline sleepy <<YAML
pipeline: sleepy
defaults: {workdir: $W, image: $PY}
steps:
  sleeper_$S: {run: "echo started > sleeper.txt; sleep 600"}
YAML
"$KILN" run "$T/sleepy.yaml" >"$T/sleepy.out" 2>&1 &
runner=$!
wait_for "the sleepy run" 10 'test -n "$(q "select id from runs where pipeline = '\''sleepy'\''")"'
run=$(q "select id from runs where pipeline = 'sleepy'")
wait_running $run "sleeper_$S"
t0=$(now_ms)
kill -INT $runner
wait $runner
rc=$?
t1=$(now_ms)
eq "SIGINT: kiln run exits 1" 1 "$rc"
check "within the grace ($((t1 - t0)) ms)" test $((t1 - t0)) -lt 10000
eq "run and step cancelled" "cancelled|cancelled" \
    "$(q "select status from runs where id = $run")|$(ex $run "sleeper_$S" status)"
gone_within "SIGINT stops the container" 3000 "kiln-$run-sleeper_$S-1"

# Timeouts: a command that ends on SIGTERM, and one that ignores it (the
# container is killed within the grace, 10 s).
pipeline slow <<YAML
pipeline: slow
defaults: {workdir: $W, image: $PY}
steps:
  polite_$S: {run: "sleep 600", timeout: 1s}
  stubborn_$S: {run: "trap '' TERM; sleep 600", timeout: 1s}
YAML
t0=$(now_ms)
kiln_rc run "$T/slow.yaml" --jobs 2
t1=$(now_ms)
run=$(q "select id from runs where pipeline = 'slow'")
eq "timeouts fail the run" 1 "$rc"
eq "the polite step timed out" "timed_out|timed out after 1.0s" \
    "$(q "select status || '|' || reason from run_steps where run_id = $run and step = 'polite_$S'")"
eq "the stubborn step timed out" "timed_out|timed out after 1.0s" \
    "$(q "select status || '|' || reason from run_steps where run_id = $run and step = 'stubborn_$S'")"
d=$(ex $run "polite_$S" "finished_at - started_at")
check "the polite one ended soon after its timeout ($d ms)" test "$d" -lt 5000
d=$(ex $run "stubborn_$S" "finished_at - started_at")
check "the stubborn one within the grace ($d ms)" test "$d" -lt 15000
check "kiln run returned then ($((t1 - t0)) ms)" test $((t1 - t0)) -lt 17000
gone_within "the polite container is gone" 2000 "kiln-$run-polite_$S-1"
gone_within "the stubborn container is gone" 2000 "kiln-$run-stubborn_$S-1"

# A second SIGINT kills at once, a container deaf to SIGTERM too.
pipeline deaf <<YAML
pipeline: deaf
defaults: {workdir: $W, image: $PY}
steps:
  deaf_$S: {run: "trap '' TERM; sleep 600"}
YAML
"$KILN" run "$T/deaf.yaml" >"$T/deaf.out" 2>&1 &
runner=$!
wait_for "the deaf run" 10 'test -n "$(q "select id from runs where pipeline = '\''deaf'\''")"'
run=$(q "select id from runs where pipeline = 'deaf'")
wait_running $run "deaf_$S"
t0=$(now_ms)
kill -INT $runner
sleep 0.5
kill -INT $runner
wait $runner
rc=$?
t1=$(now_ms)
eq "SIGINT twice: kiln run exits 1" 1 "$rc"
check "at once ($((t1 - t0)) ms)" test $((t1 - t0)) -lt 5000
eq "cancelled" cancelled "$(ex $run "deaf_$S" status)"
gone_within "the deaf container is gone" 3000 "kiln-$run-deaf_$S-1"
ctr_check_clean

# --- kiln serve killed with SIGKILL while a container step runs ------------
P=$T/pipelines
mkdir -p "$P"
cat > "$P/crash.yaml" <<YAML
pipeline: crash
defaults: {workdir: $W, image: $PY}
steps:
  seven_$S: {run: "echo started; sleep 4; echo ending; exit 7"}
YAML
cat > "$P/recov.yaml" <<YAML
pipeline: recov
defaults: {workdir: $W, image: $PY}
steps:
  long_$S: {run: "trap '' TERM; sleep 600"}
YAML
# is_up WHAT NAME: the container NAME runs.
is_up() {
    case $(ctr_status "$2") in
        Up*) ok ;;
        *) fail "$1: $2 is not up: [$(ctr_status "$2")]" ;;
    esac
}
# restart NAME: kill -9 the daemon, check its container outlived it, start
# another on the same state.
restart() {
    kill -9 $daemon
    wait $daemon 2>/dev/null
    is_up "the container outlived the daemon" "$1"
    serve serve.log "$P"
}
serve serve.log "$P"
wait_for "the daemon" 10 'grep -q "pid $daemon" "$T/serve.log"'
kiln_rc trigger crash
eq "kiln trigger" 0 "$rc"
run=$(printf '%s' "$out" | sed -n 's/^run \([0-9]*\) started$/\1/p')
wait_running "$run" "seven_$S"
restart "kiln-$run-seven_$S-1"
wait_for "the new daemon to take the run over" 10 \
    "grep -q 'crash: taking over run $run' '$T/serve.log'"
is_up "re-attached while the container still ran" "kiln-$run-seven_$S-1"
wait_for "the run to end" 15 \
    'test "$(q "select status from runs where id = $run")" != running'
eq "its real exit code recorded" "failed|7|exited with status 7" \
    "$(ex $run "seven_$S" "status || '|' || exit_code || '|' || reason")"
eq "the run failed for it" "failed|step \"seven_$S\" failed: exited with status 7" \
    "$(q "select status || '|' || reason from runs where id = $run")"
eq "one execution" 1 "$(q "select count(*) from executions where run_id = $run")"
kiln_rc logs "$run" "seven_$S"
eq "its whole log, written across the restart" "started
ending" "$out"
gone_within "the container removed" 3000 "kiln-$run-seven_$S-1"

# Cancelled after the restart: the re-attached container is stopped by
# its name, even deaf to SIGTERM (podman kills it within the grace).
kiln_rc trigger recov
run=$(printf '%s' "$out" | sed -n 's/^run \([0-9]*\) started$/\1/p')
wait_running "$run" "long_$S"
restart "kiln-$run-long_$S-1"
wait_for "the new daemon to take the run over" 10 \
    "grep -q 'recov: taking over run $run' '$T/serve.log'"
t0=$(now_ms)
kiln_rc cancel "$run"
eq "kiln cancel" 0 "$rc"
wait_for "the cancel" 15 'test "$(q "select status from runs where id = $run")" = cancelled'
t1=$(now_ms)
check "within the grace ($((t1 - t0)) ms)" test $((t1 - t0)) -lt 11000
gone_within "kiln cancel stops the re-attached container" 3000 "kiln-$run-long_$S-1"
stop $daemon
eq "the daemon stops" 0 "$?"
ctr_check_clean

# --- kiln reproduce --------------------------------------------------------
# An image of the test's own (another ID than the shared ones), removed
# at the end: kiln-test:py with a label more.
OWN=kiln-test:own-$S
podman create --name "$(ctr_name own)" "$PY" true >/dev/null &&
    podman commit -q --change "LABEL kiln-test.own=$S" "$(ctr_name own)" \
        "$OWN" >/dev/null
podman rm "$(ctr_name own)" >/dev/null
echo "$OWN" >>"$T/ctr-tags"
own_id=sha256:$(image_id "$OWN")
trap 'podman rmi -f "$own_id" >/dev/null 2>&1; _ctr_cleanup; cleanup' EXIT
check "an image of the test's own ($own_id)" \
    test "$own_id" != "$py_id" -a "$own_id" != "$variant_id" -a "$own_id" != sha256:

git_identity
R=$T/repo
mkdir -p "$R"
cd "$R"
git -c init.defaultBranch=main init -q .
cat > p.yaml <<YAML
pipeline: rp
steps:
  make_$S:
    image: $OWN
    run: |
      python3 -c 'import os, sys; print("python", sys.version_info[0], "variant", os.path.exists("/etc/kiln-variant"))' > made.txt
      echo "\$KILN_STEP" >> made.txt
    outputs: [made.txt]
YAML
echo made.txt > .gitignore
git add -A && git commit -qm one
kiln_rc run p.yaml
eq "the run to reproduce" 0 "$rc"
orig=$(q "select max(id) from runs")
eq "its output" "python 3 variant False
make_$S" "$(cat made.txt 2>&1)"
eq "its image recorded" "$own_id|$OWN" "$(ex $orig "make_$S" "image || '|' || image_ref")"

# The tag moved since: the reproduction runs the recorded ID.
ctr_tag "$OWN" "$VARIANT"
kiln_rc reproduce "$orig"
eq "kiln reproduce: identical, exit 0" 0 "$rc"
[ "$rc" = 0 ] || echo "$out$err" >&2
check "the output identical" grep -Eq "^ *make_$S +made.txt +identical " "$T/out"
contains "... says so" "1 identical, 0 differ, 0 missing" "$out"
new=$(q "select max(id) from runs")
eq "the reproduction ran the recorded image, not the moved tag" \
    "succeeded|$own_id|$OWN" \
    "$(ex $new "make_$S" "status || '|' || image || '|' || image_ref")"

# The image is gone: the reproduction says so and fails.
podman rmi "$own_id" >/dev/null
check "the test's image is gone" bash -c "! podman image exists $own_id"
t0=$(now_ms)
kiln_rc reproduce "$orig"
t1=$(now_ms)
eq "kiln reproduce without the image: exit 1" 1 "$rc"
check "at once ($((t1 - t0)) ms)" test $((t1 - t0)) -lt 10000
new=$(q "select max(id) from runs")
gone="image $own_id ($OWN) is no longer available on this machine"
contains "kiln reproduce says the image is gone" "$gone" "$out$err"
eq "the step failed saying so" "failed|$gone" \
    "$(q "select status || '|' || reason from run_steps where run_id = $new and step = 'make_$S'")"
eq "nothing ran" "0" "$(q "select count(*) from executions where run_id = $new")"
ctr_check_clean

# A model version a container step reads: its copy is there, read-only.
cd "$T"
pipeline reads <<YAML
pipeline: reads
steps:
  train_$S:
    run: echo weights-1 > m.bin
    outputs: [m.bin]
    register: {model: cm$S, path: m.bin, alias: production}
  use_$S:
    needs: [train_$S]
    image: $PY
    models: [cm$S@production]
    run: cat "\$KILN_MODEL_CM$S" > used.txt; touch "\$KILN_MODEL_CM$S" 2>/dev/null && echo writable >> used.txt || echo read-only >> used.txt
    outputs: [used.txt]
YAML
kiln_rc run reads.yaml
eq "a container step reading a model" 0 "$rc"
eq "its bytes, read-only" "weights-1 read-only" "$(tr '\n' ' ' < used.txt | sed 's/ $//')"
ctr_check_clean

# A sweep in containers: podman names take no brackets, so each item's
# container has a name of its own (kiln-RUN-train_lr_1_-1-HASH).
pipeline sweepc <<YAML
pipeline: sweepc
params: {lr: 1}
defaults: {workdir: $W}
steps:
  item_$S:
    image: $PY
    run: python3 -c "import os; open('lr-' + os.environ['KILN_PARAM_LR'], 'w').write(os.environ['KILN_STEP'])"
    outputs: ["lr-{lr}"]
    matrix: {lr: [1, 2, 3], max_parallel: 3}
YAML
kiln_rc run "$T/sweepc.yaml"
eq "a sweep of container steps succeeds" 0 "$rc"
eq "each item in its container, with its params" "item_$S[lr=1] item_$S[lr=2] item_$S[lr=3]" \
    "$(cat "$W/lr-1") $(cat "$W/lr-2") $(cat "$W/lr-3")"
eq "three items, recorded with the image" "3|$py_id" \
    "$(q "select count(*), max(image) from executions e join runs r on r.id = e.run_id where r.pipeline = 'sweepc' and e.status = 'succeeded'")"
check "none of them left" test -z "$(podman ps -a --filter "name=item_$S" --format '{{.Names}}')"

finish
