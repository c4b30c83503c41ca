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
        # /flaky and /once* fail their first attempt; /broken always fails.
        first = self.path == "/flaky" or self.path.startswith("/once")
        code = 500 if self.path.startswith("/broken") or (first and seen[self.path] == 1) else 200
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
kiln_rc show 1
contains "kiln show lists the run's notifications" "success       127.0.0.1:$port            sent (2 attempts)" "$out"
contains "...one that failed, and why" "success       127.0.0.1:1                failed after 3 attempts: Failed to connect to 127.0.0.1 port 1" "$out"
kiln_rc show 1 --json
eq "--json: each webhook by its host only (a Slack URL's path is its secret)" \
    "success 127.0.0.1:1 failed 3|success 127.0.0.1:$port sent 1|success 127.0.0.1:$port sent 2" \
    "$(echo "$out" | /usr/bin/python3 -c '
import json, sys
r = json.load(sys.stdin)
print("|".join(sorted("%s %s %s %d" % (n["event"], n["webhook"], n["status"], n["attempts"]) for n in r["notifications"])))')"

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

# A notification is a row before it is posted: a kiln run killed with
# SIGKILL while it waits to retry leaves it pending (with its body), and
# kiln serve posts it (below).
pipeline killed <<YAML
pipeline: killed
notify: [{on: [success], webhook: "$W/once"}]
steps:
  a: {run: "true"}
YAML
"$KILN" run "$T/killed.yaml" > "$T/killed.out" 2>&1 &
killed=$!
wait_for "the first attempt (answered 500)" 10 'grep -q "\"/once\"" "$T/got"'
kill -KILL "$killed"
wait "$killed" 2>/dev/null
killed_run=$(q "select id from runs where pipeline = 'killed'")
eq "the killed kiln's notification is pending, one attempt made" \
    "pending|1|1|$killed_run" \
    "$(q "select status, attempts, body like '%\"status\":\"succeeded\"%', run_id from notifications where url like '%/once'")"
# Without kiln serve: the next kiln run of the same pipeline (a CI job
# after one cancelled with SIGKILL) posts what the killed one left, with
# its own.
pipeline ci <<YAML
pipeline: ci
notify: [{on: [success], webhook: "$W/once-ci"}]
steps:
  a: {run: "true"}
YAML
"$KILN" run "$T/ci.yaml" > /dev/null 2>&1 &
killed=$!
wait_for "the CI run's first attempt (answered 500)" 10 'grep -q "\"/once-ci\"" "$T/got"'
kill -KILL "$killed"
wait "$killed" 2>/dev/null
kiln_rc run "$T/ci.yaml"
eq "the next kiln run of ci" 0 "$rc"
contains "says it posts the killed one's" "posting 1 notification of ci that a kiln no longer running did not deliver" "$err"
eq "both sent: the killed run's on its second attempt, the new one's on its first" \
    "sent|2 sent|1" "$(q "select status, attempts from notifications where pipeline = 'ci' order by run_id" | tr '\n' ' ' | sed 's/ $//')"

# Pending ones kiln serve must not post: one older than 24 h (recorded
# failed instead), and one whose kiln still runs (this shell stands in).
me="$$:$(awk '{print $22}' /proc/$$/stat)"
q "insert into notifications (pipeline, run_id, event, url, status, attempts, body, timeout_ms, owner, created_at) values
   ('old', null, 'drift', '$W/stale', 'pending', 1, '{}', 5000, '1:1', $(( $(now_ms) - 25 * 3600 * 1000 ))),
   ('live', null, 'drift', '$W/alive', 'pending', 0, '{}', 5000, '$me', $(now_ms))"

# A run's end and its notifications commit together: killed in between,
# the run is unfinished (kiln serve ends it again, below) and nothing
# was recorded half.
pipeline ending <<YAML
pipeline: ending
notify: [{on: [success], webhook: "$W/ending"}]
steps:
  a: {run: "true"}
YAML
KILN_CRASH=run-ending:1 "$KILN" run "$T/ending.yaml" > /dev/null 2>&1
eq "killed as the run ended" 137 "$?"
ending_run=$(q "select id from runs where pipeline = 'ending'")
eq "the run is not recorded ended, no notification either" "running|0" \
    "$(q "select status, (select count(*) from notifications where pipeline = 'ending') from runs where id = $ending_run")"

# In kiln serve: a drift trigger notifies on drift, and a run's end too.
F=$KILN_SRC/tests/fixtures/drift
mkdir -p "$T/d"
cp "$F/reference.csv" "$T/d/ref.csv"; cp "$F/current.csv" "$T/d/cur.csv"
cat > "$T/d/p.yaml" <<YAML
pipeline: drifty
notify:
  - {on: [drift, success], webhook: "$W/hook"}
  - {on: [drift], webhook: "$W/broken/SECRET"}
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
# The drift check that alerted shows how its alerts went: one sent, one
# failed after 3 attempts (a 500 each time), each webhook by its host.
first_check=$(q "select min(check_id) from notifications where event = 'drift'")
eq "the drift alerts name their check" "drift|drift" \
    "$(q "select c.trigger, n.event from notifications n join trigger_checks c on c.id = n.check_id where n.url like '%/hook' and c.id = $first_check")"
wait_for "the alert to a broken webhook given up" 20 \
    '[ "$(q "select status from notifications where check_id = $first_check and url like '"'"'%/broken/%'"'"'")" = failed ]'
kiln_rc triggers drifty --limit 1000 --json
eq "kiln triggers --json: the check's alerts" "drift fired: 127.0.0.1:$port sent 1; 127.0.0.1:$port failed 3 HTTP 500" \
    "$(echo "$out" | /usr/bin/python3 -c "
import json, sys
c = [c for c in json.load(sys.stdin)['checks'] if c['id'] == $first_check][0]
print(c['trigger'], c['status'] + ':', '; '.join(' '.join(str(x) for x in (n['webhook'], n['status'], n['attempts'], n['error'] or '')).strip() for n in c['notifications']))")"
eq "...and only on the checks that sent some" 0 \
    "$(echo "$out" | /usr/bin/python3 -c "
import json, sys
print(len([c for c in json.load(sys.stdin)['checks'] if 'notifications' in c and c['id'] not in [$(q "select group_concat(distinct check_id) from notifications where check_id is not null")]]))")"
kiln_rc triggers drifty --limit 1000
contains "kiln triggers: an ALERT column" "ALERT" "$out"
contains "...failed for the check whose alert failed" "drift   fired  " "$(echo "$out" | grep " failed ")"
eq "no webhook's path shown" "" "$(echo "$out" | grep -o SECRET)"

# The run killed as it ended: kiln serve ended it, and notified.
wait_for "the run killed as it ended, notified by kiln serve" 10 \
    '[ "$(q "select status from notifications where pipeline = '"'"'ending'"'"'")" = sent ]'
eq "...once, about that run, which succeeded" "succeeded 1 $ending_run succeeded" \
    "$(q "select status from runs where id = $ending_run") $(got '
r = [x for x in rows if x["path"] == "/ending"]
print(len(r), r[0]["body"]["run_id"], r[0]["body"]["status"])')"

# What the killed kiln run left, kiln serve posted at its start.
wait_for "the killed kiln's notification posted by kiln serve" 10 \
    '[ "$(q "select status from notifications where url like '"'"'%/once'"'"'")" = sent ]'
eq "its record: sent on the second attempt" "sent|2|200" \
    "$(q "select status, attempts, http_status from notifications where url like '%/once'")"
eq "the same body both times" "2 1 $killed_run succeeded" "$(got '
r = [x for x in rows if x["path"] == "/once"]
print(len(r), len(set(json.dumps(x["body"], sort_keys=True) for x in r)), r[-1]["body"]["run_id"], r[-1]["body"]["status"])')"
contains "kiln serve says so" "posting 1 notification that a kiln no longer running did not deliver" "$(cat "$T/serve.log")"
eq "a pending one older than 24 h: failed, not posted" "failed|0" \
    "$(q "select status, (select count(*) from notifications where 0) from notifications where url like '%/stale'")"
contains "saying why" "more than 24 h old" "$(q "select error from notifications where url like '%/stale'")"
eq "one whose kiln still runs: left to it" "pending|$me" \
    "$(q "select status, owner from notifications where url like '%/alive'")"
eq "neither was posted" 0 "$(got 'print(len([x for x in rows if x["path"] in ("/stale", "/alive")]))')"
q "delete from notifications where url like '%/alive'"
stop "$daemon"

# kiln serve stopped while a notification waits to retry: left pending
# for the next kiln serve, which posts it.
mkdir -p "$T/late"
cat > "$T/late/p.yaml" <<YAML
pipeline: late
notify: [{on: [success], webhook: "$W/once-late"}]
steps:
  a: {run: "true"}
YAML
serve late.log "$T/late"
wait_for "kiln serve" 10 'grep -q "pipeline loaded" "$T/late.log"'
kiln_rc trigger late
wait_for "the late run's first attempt" 10 'grep -q "\"/once-late\"" "$T/got"'
stop "$daemon"
eq "stopped while it waited: pending, nobody's" "pending|1|" \
    "$(q "select status, attempts, coalesce(owner, '') from notifications where url like '%/once-late'")"
contains "kiln serve said it left it" "1 notification not delivered yet: left pending" "$(cat "$T/late.log")"
serve late.log "$T/late"
wait_for "the next kiln serve posts it" 10 \
    '[ "$(q "select status from notifications where url like '"'"'%/once-late'"'"'")" = sent ]'
eq "on its second attempt" "sent|2" \
    "$(q "select status, attempts from notifications where url like '%/once-late'")"
stop "$daemon"
eq "nothing left pending" 0 "$(q "select count(*) from notifications where status = 'pending'")"

# The run's page lists them (one pending: its kiln, this shell, runs).
q "insert into notifications (pipeline, run_id, event, url, status, attempts, body, timeout_ms, owner, created_at) values
   ('ok', 1, 'success', 'http://127.0.0.1:9/hook/SECRET', 'pending', 1, '{}', 5000, '$me', $(now_ms))"
browser_check "the run page's notifications, in chromium" notifications-view.mjs "$T/ok.yaml"
browser_check "a drift check's alerts on the pipeline's page, in chromium" \
    drift-alerts-view.mjs "$T/d/p.yaml"
finish
