# A kill loop over notifications: kiln run killed with kill -9 at a
# random moment, again and again (before the run ends, as it ends at the
# run-ending fault point, while a notification waits for its retry, after
# it was delivered), each run notifying two webhooks whose first attempt
# gets a 500. Then one kiln serve takes over what the killed ones left.
# Invariants: every run ended; each has exactly one notification per
# webhook, none pending, all sent; each was received at least once (at
# least once: never more often than attempts were recorded) and answered
# 200 at least once.
. "$(dirname "$0")/lib.sh"
cd "$T"

rounds=${ROUNDS:-15}
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
/usr/bin/python3 - "$port" "$T/got" <<'PY' &
import http.server, json, sys
port, out = int(sys.argv[1]), sys.argv[2]
seen = {}
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        key = (self.path, body.get("run_id"))
        seen[key] = seen.get(key, 0) + 1
        code = 500 if seen[key] == 1 else 200
        with open(out, "a") as f:
            f.write("%s %s %d\n" % (self.path, body.get("run_id"), code))
        self.send_response(code); self.end_headers()
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
PY
daemons+=("$!")
wait_for "the listener" 10 "/usr/bin/python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", $port))'"
W=http://127.0.0.1:$port
pipeline n <<YAML
pipeline: n
notify:
  - {on: [success], webhook: "$W/a"}
  - {on: [success], webhook: "$W/b"}
steps:
  s: {run: "true"}
YAML

# (in a shell of its own, whose "Killed" notices go nowhere)
(for r in $(seq "$rounds"); do
    crash=
    [ $((r % 4)) = 0 ] && crash=run-ending:1
    KILN_CRASH=$crash "$KILN" run n.yaml > /dev/null 2>&1 &
    pid=$!
    # Anywhere in 1.5 s: the first attempts, the 1 s wait for the
    # retries, the retries, the end.
    sleep "$((RANDOM % 2)).$(printf '%03d' $((RANDOM % 1000)))"
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
done) 2>/dev/null
# (a kiln killed at once may have recorded no run)
runs=$(q "select count(*) from runs")
check "a run in most rounds ($runs of $rounds)" test "$runs" -ge $((rounds / 2))
left=$(q "select (select count(*) from runs where status = 'running') || ' ' || (select count(*) from notifications where status = 'pending')")
echo "left by the kills: $left (unfinished runs, pending notifications)"

serve serve.log "$T/n.yaml"
wait_for "kiln serve ends every run and delivers every notification" 60 \
    '[ "$(q "select (select count(*) from runs where status != '"'"'succeeded'"'"') + (select count(*) from notifications where status = '"'"'pending'"'"')")" = 0 ]'
stop "$daemon"

eq "every run succeeded" "$runs" "$(q "select count(*) from runs where status = 'succeeded'")"
eq "one notification per run and webhook" "$((2 * runs)) $((2 * runs))" \
    "$(q "select count(*) || ' ' || count(distinct run_id || url) from notifications")"
eq "all sent" "$((2 * runs))" "$(q "select count(*) from notifications where status = 'sent'")"
# What the listener got, per webhook and run: POSTs, and how many it
# answered 200.
bad=$(q "select substr(url, length('$W') + 1), run_id, attempts from notifications" |
    while IFS='|' read -r path run attempts; do
        posts=$(grep -c "^$path $run " got)
        oks=$(grep -c "^$path $run 200$" got)
        if [ "$oks" -lt 1 ] || [ "$posts" -gt "$attempts" ]; then
            echo "$path run $run: $posts posts, $oks answered 200, $attempts attempts recorded"
        fi
    done)
eq "each received, answered 200, never more often than attempted" "" "$bad"
finish
