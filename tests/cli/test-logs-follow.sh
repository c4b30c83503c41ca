# kiln logs -f RUN STEP follows a running step (kiln run's or kiln
# serve's) through its retries to its end; kiln logs of a cached or reused
# step prints the log of the run that made its outputs and says so; with
# --server, the same through a kiln serve's API.
. "$(dirname "$0")/lib.sh"
mkdir -p "$T/p"
cd "$T/p" || exit 1
cat > f.yaml <<'YAML'
pipeline: f
steps:
  slow:
    run: |
      n=$(cat tries 2>/dev/null || echo 0); n=$((n + 1)); echo $n > tries
      for i in 1 2 3; do echo "try $n line $i"; while [ ! -e "tick$n.$i" ]; do sleep 0.05; done; done
      [ $n -ge 2 ]
    retries: 1
    retry_delay: 100ms
  made:
    run: echo made it > out.txt; echo the maker speaks
    outputs: [out.txt]
YAML

"$KILN" run f.yaml >"$T/run.out" 2>&1 &
runner=$!
wait_for "the run is recorded" 10 '[ "$(q "select count(*) from executions where step = '"'slow'"'")" = 1 ]'
id=$(q "select max(id) from runs")
"$KILN" logs -f "$id" slow >"$T/follow.out" 2>"$T/follow.err" &
follower=$!
wait_for "the first line, live" 10 'grep -q "try 1 line 1" "$T/follow.out"'
check "not the second yet" test "$(grep -c "line 2" "$T/follow.out")" = 0
touch tick1.1
wait_for "the second line, live" 10 'grep -q "try 1 line 2" "$T/follow.out"'
touch tick1.2 tick1.3
wait_for "the retry's first line" 10 'grep -q "try 2 line 1" "$T/follow.out"'
check "the follower still follows" kill -0 "$follower"
touch tick2.1 tick2.2 tick2.3
wait "$follower"
eq "-f ends with the step: exit 0 (it succeeded)" 0 "$?"
wait "$runner"
eq "the log, both attempts, in order" "try 1 line 1
try 1 line 2
try 1 line 3
try 2 line 1
try 2 line 2
try 2 line 3" "$(cat "$T/follow.out")"
contains "the next attempt said on stderr" 'attempt 1 of step "slow" ended (failed); attempt 2 follows' "$(cat "$T/follow.err")"

# A step that ended: -f prints it and returns at once.
kiln_rc logs -f "$id" made
eq "-f of an ended step" "0 the maker speaks" "$rc $out"

# Cached: the log of the run that made it.
rm -f tries; touch tick1.1 tick1.2 tick1.3
kiln_rc run f.yaml
id2=$(q "select max(id) from runs")
eq "made is cached" "cached from run $id" "$(q "select reason from run_steps where run_id = $id2 and step = 'made'")"
kiln_rc logs "$id2" made
eq "kiln logs of a cached step: exit 0" 0 "$rc"
eq "its maker's log" "the maker speaks" "$out"
contains "said on stderr" "this is its log in run $id, which made its outputs" "$err"
kiln_rc logs -f "$id2" made
eq "-f of a cached step: the same" "0 the maker speaks" "$rc $out"

# A retry's reused step, through the daemon's record.
cat > g.yaml <<'YAML'
pipeline: g
steps:
  first: {run: "echo first speaks"}
  second: {run: "echo second speaks; test -f go", needs: [first]}
YAML
kiln_rc run g.yaml
gid=$(q "select max(id) from runs")
touch go
kiln_rc retry "$gid"
rid=$(q "select max(id) from runs")
kiln_rc logs "$rid" first
eq "a reused step: its log in the run retried" "0 first speaks" "$rc $out"
contains "said so" "reused from run $gid" "$err"

kiln_rc logs "$id" nope
eq "no such step: exit 2" 2 "$rc"
kiln_rc logs -f "$id" nope
eq "-f, no such step: exit 2" 2 "$rc"

# Following a kiln serve's run.
rm -f go
cat > h.yaml <<'YAML'
pipeline: h
steps:
  wait: {run: "echo waiting; while [ ! -e go ]; do sleep 0.05; done; echo done; exit 4"}
YAML
serve serve.log "$T/p/h.yaml"
wait_for "the daemon" 10 '[ -n "$(web_url)" ]'
"$KILN" trigger h >/dev/null 2>&1
wait_for "the daemon's run" 10 '[ "$(q "select count(*) from executions e join runs r on r.id = e.run_id where r.pipeline = '"'h'"'")" = 1 ]'
hid=$(q "select max(id) from runs where pipeline = 'h'")
"$KILN" logs -f "$hid" wait >"$T/h.out" 2>"$T/h.err" &
follower=$!
wait_for "its first line" 10 'grep -q waiting "$T/h.out"'
touch go
wait "$follower"
eq "-f of a failing step: exit 1" 1 "$?"
eq "all of it" "waiting
done" "$(cat "$T/h.out")"

# --server: the same logs through the daemon's API, from anywhere.
U=$(web_url)
cat > big.yaml <<'YAML'
pipeline: big
steps:
  loud: {run: "seq 1 300000"}
YAML
kiln_rc run big.yaml
bid=$(q "select max(id) from runs")
for args in "$id slow" "$id slow --attempt 1" "$id made" "$id2 made" \
            "$rid first" "$bid loud" "$hid wait"; do
    # shellcheck disable=SC2086
    kiln_rc logs $args
    local_out=$out local_rc=$rc
    # shellcheck disable=SC2086
    kiln_rc logs $args --server "$U"
    eq "--server: kiln logs $args as the local record says" \
        "$local_rc $(printf '%s' "$local_out" | sha256sum)" "$rc $(printf '%s' "$out" | sha256sum)"
done
kiln_rc logs "$bid" loud --server "$U"
eq "a log larger than a chunk (1 MiB), whole" "0 300000 300000" "$rc $(printf '%s\n' "$out" | wc -l) $(printf '%s\n' "$out" | tail -1)"
kiln_rc logs "$id2" made --server "$U"
contains "--server: a cached step's log said to come from its maker" \
    "this is its log in run $id, which made its outputs" "$err"
kiln_rc logs "$id" nope --server "$U"
eq "--server, no such step: exit 2" 2 "$rc"
kiln_rc logs 99999 slow --server "$U"
eq "--server, no such run: exit 2" 2 "$rc"
kiln_rc logs "$id" slow --attempt 7 --server "$U"
eq "--server, no such attempt: exit 2" 2 "$rc"
kiln_rc logs "$id" slow --server http://127.0.0.1:1/
eq "--server that does not answer: exit 3" 3 "$rc"
KILN_SERVER=$U kiln_rc logs "$id" made --state /nonexistent
eq "\$KILN_SERVER as --server" "0 the maker speaks" "$rc $out"
# -f through the API: live, to the step's end.
rm -f go
"$KILN" trigger h >/dev/null 2>&1
wait_for "the daemon's second run" 10 '[ "$(q "select count(*) from executions e join runs r on r.id = e.run_id where r.pipeline = '"'h'"'")" = 2 ]'
hid2=$(q "select max(id) from runs where pipeline = 'h'")
"$KILN" logs -f "$hid2" wait --server "$U" >"$T/h2.out" 2>"$T/h2.err" &
follower=$!
wait_for "--server -f: its first line, live" 10 'grep -q waiting "$T/h2.out"'
check "not the end yet" test "$(grep -c done "$T/h2.out")" = 0
touch go
wait "$follower"
eq "--server -f of a failing step: exit 1" 1 "$?"
eq "--server -f: all of it" "waiting
done" "$(cat "$T/h2.out")"
kiln_rc logs -f "$id" slow --server "$U"
eq "--server -f of a step that ended, with its retry" "0 6" "$rc $(printf '%s\n' "$out" | grep -c line)"
stop "$daemon"
finish
