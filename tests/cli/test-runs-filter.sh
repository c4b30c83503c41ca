# kiln runs --status S --pipeline P --trigger K --since T, and the same
# filters on GET /api/v1/runs (trigger and since).
. "$(dirname "$0")/lib.sh"
mkdir -p "$T/p"
cd "$T/p" || exit 1
cat > a.yaml <<'YAML'
pipeline: a
steps:
  one: {run: "test -f go"}
YAML
cat > b.yaml <<'YAML'
pipeline: b
steps:
  one: {run: "true"}
YAML
ids() { printf '%s\n' "$out" | awk 'NR > 1 { print $1 }' | tr '\n' ' ' | sed 's/ $//'; }

"$KILN" run a.yaml >/dev/null 2>&1           # 1 a failed manual
"$KILN" run b.yaml >/dev/null 2>&1           # 2 b succeeded manual
touch go
"$KILN" retry 1 >/dev/null 2>&1              # 3 a succeeded retry
"$KILN" run a.yaml >/dev/null 2>&1           # 4 a succeeded manual (cached)
# Run 1 and 2 are a day old.
old=$(( $(now_ms) - 86400000 ))
q "update runs set created_at = $old where id in (1, 2)"

kiln_rc runs
eq "all" "4 3 2 1" "$(ids)"
kiln_rc runs --status failed
eq "--status failed" "1" "$(ids)"
kiln_rc runs --status succeeded --pipeline a
eq "--status succeeded --pipeline a" "4 3" "$(ids)"
kiln_rc runs --trigger retry
eq "--trigger retry" "3" "$(ids)"
kiln_rc runs --trigger manual --pipeline a
eq "--trigger manual --pipeline a" "4 1" "$(ids)"
kiln_rc runs --since 2h
eq "--since 2h" "4 3" "$(ids)"
kiln_rc runs --since 2h --trigger manual --json
eq "--since 2h --trigger manual --json" "4" "$(printf '%s' "$out" | python3 -c 'import json,sys; print(" ".join(str(r["id"]) for r in json.load(sys.stdin)))')"
kiln_rc runs --since "$(date -u -d @$(( old / 1000 - 60 )) +%Y-%m-%dT%H:%M:%SZ)" --limit 3
eq "--since a UTC time, --limit 3" "4 3 2" "$(ids)"
kiln_rc runs --status running
eq "--status running: none" "" "$(ids)"
kiln_rc runs --status bogus
eq "--status bogus: exit 2" 2 "$rc"
kiln_rc runs --since yesterday
eq "--since yesterday: exit 2" 2 "$rc"
contains "saying what it expects" "expects a UTC time" "$err"

# An orphan: recorded running, its process gone.
q "insert into runs (pipeline, file, pipeline_hash, trigger, status, created_at, owner_pid, owner_start) values ('a', 'x', 'h', 'manual', 'running', $(now_ms), 999999999, 1)"
kiln_rc runs --status orphaned
eq "--status orphaned" "5" "$(ids)"
kiln_rc runs --status running
eq "--status running leaves the orphan out" "" "$(ids)"

# The API.
TOKEN=0123456789abcdef-filter-token
printf '%s\n' "$TOKEN" > "$T/token"
serve serve.log --token-file "$T/token" "$T/p/a.yaml"
wait_for "the web URL" 10 '[ -n "$(web_url)" ]'
api() { curl -s "$(web_url)api/v1/runs?$1" | python3 -c 'import json,sys; print(" ".join(str(r["id"]) for r in json.load(sys.stdin)["runs"]))'; }
eq "API: trigger=retry" "3" "$(api trigger=retry)"
eq "API: trigger=manual&pipeline=a&status=succeeded" "4" "$(api 'trigger=manual&pipeline=a&status=succeeded')"
eq "API: since" "5 4 3" "$(api "since=$(( old + 1000 ))")"
eq "API: since and trigger" "5 4" "$(api "since=$(( old + 1000 ))&trigger=manual")"
code=$(curl -s -o /dev/null -w '%{http_code}' "$(web_url)api/v1/runs?since=yesterday")
eq "API: a bad since: 400" 400 "$code"
stop "$daemon"
finish
