# A pipeline file that fails to load on SIGHUP keeps its last good
# definition and is shown as broken, with its FILE:LINE:COL errors, in
# kiln status (text and --json) and GET /api/v1/pipelines, as is a new
# file that never loaded, until each loads again.
. "$(dirname "$0")/lib.sh"
TOKEN=0123456789abcdef-test-token
printf '%s\n' "$TOKEN" > "$T/token"
chmod 600 "$T/token"
P=$T/p
mkdir -p "$P"
cat > "$P/good.yaml" <<'YAML'
pipeline: good
steps:
  a: {run: "echo a"}
YAML
cp "$P/good.yaml" "$T/good.yaml"
serve serve.log --token-file "$T/token" "$P"
wait_for "the web URL" 10 '[ -n "$(web_url)" ]'
U=$(web_url)
AUTH="Authorization: Bearer $TOKEN"
get() { body=$(curl -s -H "$AUTH" "${U}api/v1/$1"); }
js() { printf '%s' "$body" | /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

get pipelines
eq "loaded, no errors" "good []" "$(js '" ".join(str(x) for x in (d["pipelines"][0]["name"], d["pipelines"][0]["load_errors"]))')"
kiln_rc status
check "status: nothing broken" test "${out#*DID NOT LOAD}" = "$out"

# Break the loaded file (a needs: to a step that does not exist), and add
# a new file that never loads (a YAML syntax error).
cat > "$P/good.yaml" <<'YAML'
pipeline: good
steps:
  a: {run: "echo a", needs: [nope]}
YAML
printf 'pipeline: fresh\nsteps:\n  a: {run: "echo a"\n' > "$P/fresh.yaml"
kill -HUP "$daemon"
wait_for "the reload" 10 'grep -q "no longer validates" "$T/serve.log"'
wait_for "the broken files published" 10 'test "$(q "select count(*) from load_errors")" = 2'

get pipelines
eq "API: good keeps its definition, listed once with its error" \
    "good 1 $P/good.yaml:3:" \
    "$(js '" ".join(str(x) for x in ([p["name"] for p in d["pipelines"]][0], len(d["pipelines"][0]["load_errors"]), d["pipelines"][0]["load_errors"][0][:len("'"$P"'/good.yaml:3:")]))')"
contains "API: the error is the validator's" "error: step \"a\" needs unknown step \"nope\"" \
    "$(js 'd["pipelines"][0]["load_errors"][0]')"
eq "API: the new file listed without a name" "None $P/fresh.yaml True" \
    "$(js '" ".join(str(x) for x in (d["pipelines"][1]["name"], d["pipelines"][1]["file"], d["pipelines"][1]["load_errors"][0].startswith("'"$P"'/fresh.yaml:")))')"
get pipelines/good
eq "API: the pipeline's own view has its errors too" 1 "$(js 'len(d["load_errors"])')"
body=$(curl -s -H "$AUTH" -X POST "${U}api/v1/pipelines/good/runs" -d '{}')
eq "the last good definition still runs" "started" "$(js 'd["status"]')"
wait_for "its run succeeds" 10 'test "$(q "select status from runs where pipeline = '\''good'\''")" = succeeded'

kiln_rc status
contains "status: heading" "PIPELINE FILES THAT DID NOT LOAD" "$out"
contains "status: the kept definition" "$P/good.yaml: pipeline good keeps its last good definition" "$out"
contains "status: the error at FILE:LINE:COL" "$P/good.yaml:3:" "$out"
contains "status: the never loaded file" "$P/fresh.yaml: never loaded" "$out"
contains "status: its syntax error" "$P/fresh.yaml:" "${out#*never loaded}"
kiln_rc status --json
eq "status --json" "2 good None" "$(printf '%s' "$out" | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin)["load_errors"]; print(len(d), d[1]["pipeline"], d[0]["pipeline"])')"
since=$(q "select since from load_errors where file = '$P/good.yaml'")

# Still broken at the next reload: failing since the first time.
kill -HUP "$daemon"
wait_for "a second reload" 10 'test "$(grep -c "SIGHUP: reloading" "$T/serve.log")" = 2'
wait_for "published again" 10 'test "$(grep -c "pipelines\? loaded" "$T/serve.log")" -ge 3'
eq "failing since the first failure" "$since" "$(q "select since from load_errors where file = '$P/good.yaml'")"

# Fixed: gone everywhere.
cp "$T/good.yaml" "$P/good.yaml"
printf 'pipeline: fresh\nsteps:\n  a: {run: "echo a"}\n' > "$P/fresh.yaml"
kill -HUP "$daemon"
wait_for "the fixed files load" 10 'test "$(q "select count(*) from load_errors")" = 0'
get pipelines
eq "API: both load, no errors" "fresh [] good []" \
    "$(js '" ".join(p["name"] + " " + str(p["load_errors"]) for p in sorted(d["pipelines"], key=lambda p: p["name"]))')"
kiln_rc status
check "status: nothing broken any more" test "${out#*DID NOT LOAD}" = "$out"

# Broken again, then the daemon stops: kiln status says nothing of a
# daemon that is not running.
printf 'pipeline: fresh\nsteps: [\n' > "$P/fresh.yaml"
kill -HUP "$daemon"
wait_for "broken again" 10 'test "$(q "select count(*) from load_errors")" = 1'
stop "$daemon"
kiln_rc status --json
eq "no daemon, no load errors" "[]" "$(printf '%s' "$out" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["load_errors"])')"

# Paths that cannot be read. A symlink named *.yaml in a served directory
# is a pipeline file (it was skipped); one that leads nowhere is a load
# error. A PATH argument that does not exist is a load error, and the
# other paths load (before, the daemon loaded nothing at all); gone at a
# reload, what it defined stays, as for a file that no longer validates.
mkdir -p "$T/q" "$T/elsewhere" "$T/extra"
printf 'pipeline: linked\nsteps:\n  a: {run: "true"}\n' > "$T/elsewhere/linked.yaml"
ln -s ../elsewhere/linked.yaml "$T/q/linked.yaml"
ln -s "$T/nowhere.yaml" "$T/q/dangling.yaml"
printf 'pipeline: extra\nsteps:\n  a: {run: "true"}\n' > "$T/extra/extra.yaml"
serve serve2.log "$T/q" "$T/missing-dir" "$T/extra"
wait_for "the second daemon" 10 'grep -q "pipelines loaded" "$T/serve2.log"'
contains "the missing path said" "cannot read $T/missing-dir" "$(cat "$T/serve2.log")"
contains "the rest loaded: linked and extra" "2 pipelines loaded" "$(cat "$T/serve2.log")"
kiln_rc trigger linked; eq "a symlinked pipeline runs" 0 "$rc"
kiln_rc trigger extra; eq "the path after the missing one runs" 0 "$rc"
kiln_rc status
contains "status: the missing path" "$T/missing-dir: never loaded" "$out"
contains "status: the dangling symlink" "$T/q/dangling.yaml: never loaded" "$out"
mv "$T/extra" "$T/extra-gone"
kill -HUP "$daemon"
wait_for "the reload" 10 'grep -q "keeping what it defined" "$T/serve2.log"'
kiln_rc trigger extra; eq "a path gone at a reload: its pipeline stays" 0 "$rc"
kiln_rc status
contains "status: the gone path keeps extra" "$T/extra: pipeline extra keeps its last good definition" "$out"
# A FIFO named *.yaml, held open for writing by some process: a load
# error, and the reload finishes (before, it blocked the daemon for
# ever, deaf to SIGTERM).
mkfifo "$T/q/held.yaml"
(exec 7<>"$T/q/held.yaml"; exec sleep 60) &
holder=$!
kill -HUP "$daemon"
wait_for "the reload past the FIFO" 10 \
    'test "$(grep -c " loaded in " "$T/serve2.log")" = 3'
contains "the FIFO is a load error" "held.yaml is a FIFO, not a pipeline file" \
    "$(cat "$T/serve2.log")"
kiln_rc trigger linked; eq "the daemon still answers" 0 "$rc"
kill "$holder"
stop "$daemon"
finish
