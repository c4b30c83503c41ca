# The event stream: ids that only grow, across a restart too; a client
# reconnecting with Last-Event-ID gets exactly the events it missed, and
# "reset" when they are not kept (an id of an earlier process, or older
# than what is kept); events are kept while nobody listens.
. "$(dirname "$0")/lib.sh"
mkdir -p "$T/p"
cat > "$T/p/sse.yaml" <<'YAML'
pipeline: sse
steps:
  a: {run: "true"}
  b: {needs: [a], run: "true"}
YAML
ids() { sed -n 's/^id: //p' "$1"; }
start_daemon() {
    rm -f "$KILN_STATE/web.url"
    serve "$1" "$T/p"
    wait_for "the web URL" 10 '[ -n "$(web_url)" ]'
    U=$(web_url)
    wait_for "the daemon answers" 10 'curl -sf "${U}healthz"'
}
start_daemon serve.log
# Two runs while nobody listens.
for i in 1 2; do
    kiln_rc trigger sse --wait
    eq "run $i" 0 "$rc"
done
# A client that saw nothing yet and says so with an id it never got: reset.
curl -sN --max-time 1 -H "Last-Event-ID: 5" "${U}api/v1/events" > "$T/old" 2>/dev/null
contains "an id not kept: reset" "event: reset" "$(cat "$T/old")"
# The whole stream as kept: from the first event on (the id before it).
first=$(curl -sN --max-time 1 -H "Last-Event-ID: 999999999999999999" "${U}api/v1/events" 2>/dev/null | sed -n 's/^id: //p' | head -1)
check "reset names the current id ($first)" test -n "$first"
# Follow the stream, start a third run: ids grow one by one.
curl -sN --max-time 8 "${U}api/v1/events" > "$T/live" 2>/dev/null &
sse=$!
wait_for "the stream opens" 10 'grep -q connected "$T/live"'
kiln_rc trigger sse --wait
wait_for "run 3's end on the stream" 10 'grep -q "\"run_id\":3,\"pipeline\":\"sse\",\"status\":\"succeeded\"" "$T/live"'
kill "$sse" 2>/dev/null; wait "$sse" 2>/dev/null
ids "$T/live" > "$T/live.ids"
n=$(wc -l < "$T/live.ids")
check "events of run 3 ($n)" test "$n" -ge 4
eq "ids one after another" "$(seq "$(head -1 "$T/live.ids")" "$(tail -1 "$T/live.ids")" | tr '\n' ' ')" "$(tr '\n' ' ' < "$T/live.ids")"
# Reconnect naming the second event of run 3: the rest, exactly.
second=$(sed -n 2p "$T/live.ids")
curl -sN --max-time 1 -H "Last-Event-ID: $second" "${U}api/v1/events" > "$T/again" 2>/dev/null
eq "what it missed, exactly" "$(tail -n +3 "$T/live.ids" | tr '\n' ' ')" "$(ids "$T/again" | tr '\n' ' ')"
eq "the same events" "$(sed -n '/^id: '"$(sed -n 3p "$T/live.ids")"'$/,$p' "$T/live" | grep -c '^data:')" "$(grep -c '^data:' "$T/again")"
case "$(cat "$T/again")" in *"event: reset"*) fail "a reset where events were kept" ;; *) ok ;; esac
# The page's EventSource may also name it as ?lastEventId=.
eq "or as a query parameter" "$(tail -n +3 "$T/live.ids" | tr '\n' ' ')" \
    "$(curl -sN --max-time 1 "${U}api/v1/events?lastEventId=$second" 2>/dev/null | sed -n 's/^id: //p' | tr '\n' ' ')"
last=$(tail -1 "$T/live.ids")
curl -sN --max-time 1 -H "Last-Event-ID: $last" "${U}api/v1/events" > "$T/none" 2>/dev/null
eq "up to date: nothing to replay" "" "$(ids "$T/none")"
curl -sN --max-time 1 -H "Last-Event-ID: abc" "${U}api/v1/events" > "$T/bad" 2>/dev/null
contains "a malformed id: reset" "event: reset" "$(cat "$T/bad")"
# A restart: ids go on growing; the old id is another process's: reset.
stop "$daemon"
start_daemon serve2.log
curl -sN --max-time 6 "${U}api/v1/events" > "$T/after" 2>/dev/null &
sse=$!
wait_for "the stream opens" 10 'grep -q connected "$T/after"'
kiln_rc trigger sse --wait
wait_for "run 4 on the stream" 10 'grep -q "\"run_id\":4" "$T/after"'
kill "$sse" 2>/dev/null; wait "$sse" 2>/dev/null
new=$(ids "$T/after" | head -1)
check "after a restart, ids above the old ones ($new > $last)" test "$new" -gt "$last"
curl -sN --max-time 1 -H "Last-Event-ID: $last" "${U}api/v1/events" > "$T/stale" 2>/dev/null
contains "an id of the earlier process: reset" "event: reset" "$(cat "$T/stale")"
stop "$daemon"
finish
