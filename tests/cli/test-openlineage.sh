# --openlineage URL|FILE on kiln run and kiln serve: a RunEvent START,
# then COMPLETE, FAIL or ABORT, per step and per run, validated offline
# against OpenLineage's schemas (tests/fixtures/openlineage) with Debian's
# python3-jsonschema; by POST to a receiver on 127.0.0.1, or as JSON lines
# appended to a file; a receiver that is down or silent never fails or
# holds up a run.
. "$(dirname "$0")/lib.sh"
/usr/bin/python3 -c 'import jsonschema' 2>/dev/null || {
    echo "skipped: no python3-jsonschema (apt-get install python3-jsonschema)"
    exit 77
}
SCHEMAS=$KILN_SRC/tests/fixtures/openlineage
# olcheck EVENTS: validate; one summary line an event in $summary.
olcheck() {
    summary=$(/usr/bin/python3 "$KILN_SRC/tests/cli/openlineage.py" \
              "$SCHEMAS" "$1" 2>"$T/olcheck.err")
    local rc=$?
    eq "$1: every event valid, paired and in order" "0 " \
        "$rc $(cat "$T/olcheck.err")"
}
# line JOB TYPE: the summary line of that event (first one).
line() { printf '%s\n' "$summary" | grep -m1 "^$2 $1 " | cut -d' ' -f4-; }
# ev N EXPR: a Python expression over event N (1-based) of $events.
ev() { /usr/bin/python3 -c "
import json
e = [json.loads(l) for l in open('$events')][$1 - 1]
print($2)"; }

# The validator itself refuses what is not OpenLineage.
printf '%s\n' '{"eventType":"START","eventTime":"now","producer":"kiln","schemaURL":"https://openlineage.io/spec/2-0-7/OpenLineage.json#/$defs/RunEvent","run":{"runId":"nope"},"job":{"namespace":"kiln"}}' > "$T/bad.jsonl"
/usr/bin/python3 "$KILN_SRC/tests/cli/openlineage.py" "$SCHEMAS" "$T/bad.jsonl" > /dev/null 2> "$T/bad.err"
eq "the validator rejects an invalid event" 1 "$?"
contains "a bad run id" "'nope' is not a 'uuid'" "$(cat "$T/bad.err")"
contains "a job without a name" "'name' is a required property" "$(cat "$T/bad.err")"

mkdir -p "$T/w"
pipeline ol <<YAML
pipeline: ol
steps:
  make:
    run: mkdir -p data && echo 1 > data/a.txt
    outputs: [data/a.txt]
  use:
    needs: [make]
    inputs: [data/a.txt]
    run: mkdir -p out && cat data/a.txt > out/b.txt
    outputs: [out/b.txt]
  bad:
    needs: [make]
    inputs: [data/a.txt]
    run: exit 3
  after:
    needs: [bad]
    run: "true"
YAML
cp "$T/ol.yaml" "$T/w/ol.yaml"
events=$T/events.jsonl
kiln_rc run "$T/w/ol.yaml" --openlineage "$events"
eq "the run fails (bad)" 1 "$rc"
olcheck "$events"
W=$T/w
eq "the pipeline run starts first" "START ol run=r1 parent=-" \
    "$(printf '%s\n' "$summary" | head -1 | cut -d' ' -f1-4)"
eq "and ends last, failed" "FAIL ol run=r1 parent=-" \
    "$(printf '%s\n' "$summary" | tail -1 | cut -d' ' -f1-4)"
eq "make: its output" "parent=r1 in=- out=$W/data/a.txt up=-" "$(line ol.make START)"
eq "make completes" "parent=r1 in=- out=$W/data/a.txt up=-" "$(line ol.make COMPLETE)"
eq "use: input, output, upstream job" \
    "parent=r1 in=$W/data/a.txt out=$W/out/b.txt up=ol.make" "$(line ol.use COMPLETE)"
eq "bad fails, after make" "parent=r1 in=$W/data/a.txt out=- up=ol.make" \
    "$(line ol.bad FAIL)"
eq "after never started: no events" "" "$(printf '%s\n' "$summary" | grep ' ol.after ')"
eq "4 runs, 8 events" 8 "$(printf '%s\n' "$summary" | wc -l)"
eq "each step's events share a run id" \
    "$(line ol.use START | cut -d' ' -f1) $(line ol.bad START | cut -d' ' -f1)" \
    "$(line ol.use COMPLETE | cut -d' ' -f1) $(line ol.bad FAIL | cut -d' ' -f1)"
# The datasets are the artifacts kiln recorded, at the same paths.
eq "dataset names are the recorded artifact paths" \
    "$(q 'select distinct path from artifacts order by path' | tr '\n' ' ')" \
    "$(/usr/bin/python3 -c "
import json
names = set()
for l in open('$events'):
    e = json.loads(l)
    names |= {d['name'] for d in e['inputs'] + e['outputs']}
    assert all(d['namespace'] == 'file://' + '$(hostname)' for d in e['inputs'] + e['outputs'])
print(' '.join(sorted(names)) + ' ')")"
n_fail=$(grep -n '"eventType":"FAIL"' "$events" | grep -m1 '"ol.bad"' | cut -d: -f1)
eq "a failed step says why" "exited with status 3" \
    "$(ev "$n_fail" 'e["run"]["facets"]["errorMessage"]["message"]')"
eq "job namespace, producer, schema" \
    "kiln https://github.com/kiln/kiln/tree/v https://openlineage.io/spec/2-0-7/OpenLineage.json#/\$defs/RunEvent" \
    "$(ev 2 'e["job"]["namespace"], e["producer"].rstrip("0123456789."), e["schemaURL"]')"
eq "the parent is the pipeline's run" "True ol kiln" \
    "$(ev 2 'e["run"]["facets"]["parent"]["run"]["runId"] == [json.loads(l) for l in open("'"$events"'")][0]["run"]["runId"], e["run"]["facets"]["parent"]["job"]["name"], e["run"]["facets"]["parent"]["job"]["namespace"]')"
eq "START's time is not after COMPLETE's" True \
    "$(/usr/bin/python3 -c "
import json
ev = [json.loads(l) for l in open('$events')]
t = {}
for e in ev:
    t.setdefault(e['run']['runId'], []).append(e['eventTime'])
print(all(v[0] <= v[-1] for v in t.values()))")"

# Again, in a namespace of its own: appended to the same file; make and
# use come from the cache (START and COMPLETE all the same); new run ids.
first=$(wc -l < "$events")
kiln_rc run "$T/w/ol.yaml" --openlineage "$events" --openlineage-namespace team-a
eq "the second run fails too" 1 "$rc"
olcheck "$events"
eq "appended" 16 "$(wc -l < "$events")"
eq "served from the cache: still START and COMPLETE" \
    "START COMPLETE" "$(tail -n +$((first + 1)) "$events" | /usr/bin/python3 -c '
import json, sys
print(" ".join(e["eventType"] for e in map(json.loads, sys.stdin)
               if e["job"]["name"] == "ol.make"))')"
eq "cached really" "cached" "$(q "select status from executions where run_id = 2 and step = 'make'")"
eq "the namespace given" "team-a" "$(ev $((first + 1)) 'e["job"]["namespace"]')"
eq "a new run, new run ids" 16 \
    "$(/usr/bin/python3 -c "
import json
print(len({json.loads(l)['run']['runId'] for l in open('$events')}) * 2)")"

# A file that cannot be opened stops kiln run before anything runs.
kiln_rc run "$T/w/ol.yaml" --openlineage "$T/no/such/dir/events.jsonl"
eq "an unwritable file: exit 3" 3 "$rc"
contains "says which" "--openlineage: cannot open $T/no/such/dir/events.jsonl" "$err"
eq "and no run" 2 "$(q 'select count(*) from runs')"

pipeline quick <<YAML
pipeline: quick
steps:
  one: {run: "true", outputs: []}
  two: {needs: [one], run: "true"}
YAML

# A closed port: the run succeeds at once, and kiln says so once.
closed=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
t0=$(now_ms)
kiln_rc run "$T/quick.yaml" --openlineage "http://127.0.0.1:$closed/api/v1/lineage"
elapsed=$(( $(now_ms) - t0 ))
eq "a receiver that is down does not fail the run" 0 "$rc"
check "nor slow it ($elapsed ms)" test "$elapsed" -lt 3000
eq "one warning" 1 "$(grep -c 'OpenLineage events cannot reach' "$T/err")"
contains "naming the URL" "cannot reach http://127.0.0.1:$closed/api/v1/lineage" "$err"

# A receiver that takes the connection and never answers: kiln waits 2 s
# for what is left after the run, then gives up and says how many.
/usr/bin/python3 - "$T/silent.port" <<'PY' &
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(64)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
time.sleep(120)
PY
silent=$!
daemons+=("$silent")
wait_for "the silent receiver" 10 'test -s "$T/silent.port"'
t0=$(now_ms)
kiln_rc run "$T/quick.yaml" --openlineage "http://127.0.0.1:$(cat "$T/silent.port")/api/v1/lineage"
elapsed=$(( $(now_ms) - t0 ))
eq "a silent receiver does not fail the run" 0 "$rc"
check "kiln exits about 2 s after the run ($elapsed ms)" test "$elapsed" -lt 4500
contains "saying what was not delivered" "OpenLineage events not delivered" "$err"
kill "$silent" 2>/dev/null; wait "$silent" 2>/dev/null

# kiln serve: POSTs to a receiver on 127.0.0.1, in order.
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
/usr/bin/python3 - "$port" "$T/got.jsonl" "$T/got.meta" <<'PY' &
import http.server, sys
port, out, meta = int(sys.argv[1]), sys.argv[2], sys.argv[3]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with open(out, "ab") as f:
            f.write(body + b"\n")
        with open(meta, "a") as f:
            f.write("%s %s\n" % (self.path, self.headers.get("Content-Type")))
        self.send_response(201); self.end_headers()
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
PY
receiver=$!
daemons+=("$receiver")
wait_for "the receiver" 10 "/usr/bin/python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", $port))'"
mkdir -p "$T/p"
cp "$T/ol.yaml" "$T/p/ol.yaml"
serve serve.log --openlineage "http://127.0.0.1:$port/api/v1/lineage" "$T/p"
wait_for "the daemon" 10 'test -n "$(web_url)"'
kiln_rc trigger ol --wait --state "$KILN_STATE"
eq "the served run fails (bad)" 1 "$rc"
wait_for "the run's last event" 10 'grep -q "\"eventType\":\"FAIL\".*\"name\":\"ol\"," "$T/got.jsonl"'
events=$T/got.jsonl
olcheck "$events"
eq "8 events by POST" 8 "$(wc -l < "$events")"
eq "to the path given, as JSON" "/api/v1/lineage application/json" \
    "$(sort -u "$T/got.meta")"
P=$T/p
eq "use, as kiln run says it" \
    "parent=r1 in=$P/data/a.txt out=$P/out/b.txt up=ol.make" "$(line ol.use COMPLETE)"
eq "bad fails" "parent=r1 in=$P/data/a.txt out=- up=ol.make" "$(line ol.bad FAIL)"
contains "the daemon says where events go" \
    "OpenLineage events go to http://127.0.0.1:$port/api/v1/lineage" "$(cat "$T/serve.log")"

# The receiver goes away: runs go on, the daemon warns once.
kill "$receiver"; wait "$receiver" 2>/dev/null
pipeline ok <<YAML
pipeline: ok
steps:
  a: {run: "true"}
  b: {needs: [a], run: "true"}
YAML
cp "$T/ok.yaml" "$T/p/ok.yaml"
kill -HUP "$daemon"
wait_for "the reload" 10 'grep -q "ok: added" "$T/serve.log"'
t0=$(now_ms)
kiln_rc trigger ok --wait --state "$KILN_STATE"
eq "a run with the receiver gone succeeds" 0 "$rc"
check "promptly" test $(( $(now_ms) - t0 )) -lt 5000
kiln_rc trigger ok --wait --state "$KILN_STATE"
eq "and another" 0 "$rc"
eq "one warning for all of it" 1 "$(grep -c 'OpenLineage events cannot reach' "$T/serve.log")"
stop "$daemon"
eq "the daemon stops cleanly" 0 "$?"

# A kiln run killed while its events wait in memory for a slow receiver
# (a second a POST): the kiln serve that takes the run over tells again
# how each step that ended did, so a's COMPLETE, lost with the kill, still
# arrives (at least once: its START is sent again too).
slow=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
/usr/bin/python3 - "$slow" "$T/slow.txt" <<'PY' &
import http.server, json, sys, time
port, out = int(sys.argv[1]), sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        e = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        time.sleep(1)
        with open(out, "a") as f:
            f.write("%s %s\n" % (e["eventType"], e["job"]["name"]))
        self.send_response(201); self.end_headers()
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
PY
daemons+=("$!")
wait_for "the slow receiver" 10 "/usr/bin/python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", $slow))'"
mkdir -p "$T/s"
cat > "$T/s/slowol.yaml" <<'YAML'
pipeline: slowol
steps:
  a: {run: "true"}
  b: {needs: [a], run: "sleep 3"}
YAML
"$KILN" run "$T/s/slowol.yaml" --openlineage "http://127.0.0.1:$slow/l" > /dev/null 2>&1 &
pid=$!
wait_for "a ended" 10 '[ "$(q "select status from run_steps where step = '"'"'a'"'"' and run_id = (select max(id) from runs)")" = succeeded ]'
sleep 0.5
kill -9 "$pid"; wait "$pid" 2>/dev/null
eq "a's COMPLETE was still in the killed kiln's memory" 0 \
    "$(cat "$T/slow.txt" 2>/dev/null | grep -c '^COMPLETE slowol.a$')"
serve serve-slow.log --openlineage "http://127.0.0.1:$slow/l" "$T/s"
wait_for "the run taken over and its end told" 40 'grep -q "^COMPLETE slowol$" "$T/slow.txt"'
eq "a's COMPLETE arrived after all" 1 "$(grep -c '^COMPLETE slowol.a$' "$T/slow.txt")"
eq "and b's" 1 "$(grep -c '^COMPLETE slowol.b$' "$T/slow.txt")"
stop "$daemon"

finish
