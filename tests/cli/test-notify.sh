# notify: webhooks, posted with libcurl on the loop, retried, recorded,
# never failing a run. A small HTTP listener on 127.0.0.1 receives them.
. "$(dirname "$0")/lib.sh"
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
/usr/bin/python3 - "$port" "$T/got" <<'PY' &
import http.server, json, sys
port, out = int(sys.argv[1]), sys.argv[2]
seen = {}
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        seen[self.path] = seen.get(self.path, 0) + 1
        with open(out, "a") as f:
            f.write(json.dumps({"path": self.path, "n": seen[self.path],
                                "type": self.headers.get("Content-Type"),
                                "body": json.loads(body)}) + "\n")
        # /flaky fails its first attempt; /broken always fails.
        code = 500 if self.path == "/broken" or (self.path == "/flaky" and seen[self.path] == 1) else 200
        self.send_response(code); self.end_headers()
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
PY
listener=$!
daemons+=("$listener")
wait_for "the listener" 10 "/usr/bin/python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", $port))'"
W=http://127.0.0.1:$port
pipeline ok <<YAML
pipeline: ok
notify:
  - {on: [success], webhook: "$W/slack", format: slack}
  - {on: [success, failure], webhook: "$W/flaky"}
  - {on: [failure], webhook: "$W/never"}
  - {on: [success], webhook: "http://127.0.0.1:1/down", timeout: 1s}
steps:
  train: {run: "echo ok"}
YAML
kiln_rc run "$T/ok.yaml"
eq "an undeliverable notification does not fail the run" 0 "$rc"
got() { /usr/bin/python3 -c "
import json, sys
rows = [json.loads(l) for l in open('$T/got')]
$1"; }
eq "slack format" 'True ok run 1 succeeded' "$(got '
r = [x for x in rows if x["path"] == "/slack"][0]
t = r["body"]["text"]
print(r["type"] == "application/json", "*ok*" in t and "ok", "run 1 succeeded" if "run 1 succeeded" in t else t)')"
eq "json format, retried after a 500" "2 success ok 1 succeeded train" "$(got '
r = [x for x in rows if x["path"] == "/flaky"]
b = r[-1]["body"]
print(len(r), b["event"], b["pipeline"], b["run_id"], b["status"], b["steps"][0]["name"])')"
eq "only the events asked for" 0 "$(got 'print(len([x for x in rows if x["path"] == "/never"]))')"
eq "every notification recorded" "flaky|sent|2 slack|sent|1 down|failed|3" \
    "$(q "select substr(url, instr(substr(url, 8), '/') + 8), status, attempts from notifications order by url like '%flaky%' desc, url like '%slack%' desc" | tr '\n' ' ' | sed 's/ $//')"
contains "the failure says why" "Couldn't connect" "$(q "select error from notifications where status='failed'")"
contains "and kiln says so" "notification to http://127.0.0.1:1/down failed after 3 attempts" "$err"

# The run's summary comes at once; kiln then waits for the notifications
# (here: three attempts at a dead webhook, 1 s and 4 s apart).
pipeline slowhook <<YAML
pipeline: slowhook
notify: [{on: [success], webhook: "http://127.0.0.1:1/down", timeout: 1s}]
steps:
  a: {run: "true"}
YAML
"$KILN" run "$T/slowhook.yaml" > "$T/slow.out" 2> "$T/slow.err" &
slow=$!
wait_for "the summary before the notifications give up" 3 'grep -q "run [0-9]* succeeded" "$T/slow.out"'
check "kiln is still delivering" kill -0 "$slow"
wait "$slow"
eq "then exits with the run's status" 0 "$?"

# A failing run notifies on failure; a webhook that keeps failing is
# recorded as failed and the run's own status is untouched.
pipeline bad <<YAML
pipeline: bad
notify: [{on: [failure], webhook: "$W/broken"}]
steps:
  train: {run: "exit 2"}
YAML
kiln_rc run "$T/bad.yaml"
eq "the run's own status" 1 "$rc"
eq "three attempts at the broken webhook" "failed|3|500" \
    "$(q "select status, attempts, http_status from notifications where url like '%broken'")"
eq "the run is recorded failed, nothing else" "failed" "$(q "select status from runs where pipeline='bad'")"

# In kiln serve: a drift trigger notifies on drift, and a run's end too.
F=$KILN_SRC/tests/fixtures/drift
mkdir -p "$T/d"
cp "$F/reference.csv" "$T/d/ref.csv"; cp "$F/current.csv" "$T/d/cur.csv"
cat > "$T/d/p.yaml" <<YAML
pipeline: drifty
notify: [{on: [drift, success], webhook: "$W/hook"}]
triggers:
  - drift: {reference: ref.csv, current: cur.csv, columns: [age], every: 1s}
steps:
  retrain: {run: "true"}
YAML
serve serve.log "$T/d/p.yaml"
wait_for "a drift notification" 10 'grep -q "\"event\": \"drift\"" "$T/got"'
wait_for "and the run's" 10 'grep -q "\"pipeline\": \"drifty\", \"run_id\"" "$T/got" || grep -q "\"event\": \"success\".*drifty\|drifty.*\"event\": \"success\"" "$T/got"'
eq "the drift body has the statistics" "age True" "$(got '
r = [x for x in rows if x["body"].get("event") == "drift"][0]["body"]
c = r["detail"]["columns"][0]
print(c["name"], c["drift"])')"
contains "with a link to the run" "#/runs/" "$(got 'print([x for x in rows if x["body"].get("event") == "success" and x["body"]["pipeline"] == "drifty"][0]["body"].get("url", ""))')"
stop "$daemon"
finish
