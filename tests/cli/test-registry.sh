# Immutable model versions (issue 14): two versions deployed to the same
# path; rollback runs the model's deploy command with the old version's
# bytes; steps reading a version get exactly its bytes, whatever happened
# to the working tree or to their read-only copy; kiln models pull; a
# failing deploy command moves nothing; kiln gc never removes registered
# bytes; kiln artifacts get puts any kept artifact back, hash checked;
# two promotes of a model at once run their deploy commands in turn.
. "$(dirname "$0")/lib.sh"
cd "$T"
sha() { sha256sum "$1" | cut -d' ' -f1; }
# registered NAME VERSION: the hash the registry recorded.
registered() { q "select a.sha256 from models m join artifacts a on a.id = m.artifact_id where m.name = '$1' and m.version = $2"; }
# alias NAME ALIAS: the version it points at.
alias_of() { q "select version from model_aliases where name = '$1' and alias = '$2' and rolled_back = 0 order by id desc limit 1"; }
# object SHA: its file in the object store.
object() { echo "$KILN_STATE/objects/${1:0:2}/${1:2}"; }

pipeline ship <<'YAML'
pipeline: ship
params: {v: 1}
steps:
  deploy:
    kind: deploy
    run: mkdir -p serving && printf 'weights of version %s\n' "$KILN_PARAM_V" > serving/model.bin
    outputs: [serving/model.bin]
    register:
      model: m
      path: serving/model.bin
      alias: production
      deploy: cp "$KILN_MODEL_PATH" serving/model.bin && echo "$# $* | $KILN_MODEL_VERSION $KILN_MODEL_ALIAS $KILN_MODEL_NAME $KILN_MODEL_SHA256" >> hooks.log
YAML
kiln_rc run ship.yaml --param v=1
eq "version 1 deployed" 0 "$rc"
v1=$(sha serving/model.bin)
kiln_rc run ship.yaml --param v=2
eq "version 2 deployed" 0 "$rc"
v2=$(sha serving/model.bin)
check "two versions, other bytes" test "$v1" != "$v2"
eq "registered with their hashes" "$v1 $v2" "$(registered m 1) $(registered m 2)"
eq "production on 2" 2 "$(alias_of m production)"
check "no deploy command ran yet (the deploy step deployed)" test ! -e hooks.log

# kiln models shows each version's hash (12 hex digits); --json all 64.
kiln_rc models m
eq "models" 0 "$rc"
contains "a SHA256 column" "SHA256" "$out"
eq "version 1's hash prefix" "${v1:0:12}" "$(printf '%s\n' "$out" | awk '$2 == 1 {print $4}')"
eq "version 2's hash prefix" "${v2:0:12}" "$(printf '%s\n' "$out" | awk '$2 == 2 {print $4}')"
kiln_rc models m --json
eq "--json: sha256" "$v1" "$(printf '%s' "$out" | /usr/bin/python3 -c '
import json, sys
print(*[v["sha256"] for v in json.load(sys.stdin) if v["version"] == 1])')"

# Rollback: the deploy command puts version 1's bytes where they are
# served, with the path, version and alias as $1 $2 $3.
kiln_rc models rollback m production
eq "rollback" 0 "$rc"
contains "says so" "production of model m is back at version 1" "$out"
eq "production on 1" 1 "$(alias_of m production)"
eq "the served file has version 1's bytes" "$v1" "$(sha serving/model.bin)"
eq "the deploy command's arguments and environment" \
    "3 $KILN_STATE/models/m/1/model.bin 1 production | 1 production m $v1" \
    "$(tail -1 hooks.log)"

# A step reading m@production gets version 1's bytes, not what is at the
# path it was made at.
pipeline use <<'YAML'
pipeline: use
steps:
  score:
    cache: false
    models: [m@production]
    run: |
      sha256sum "$KILN_MODEL_M" | cut -d' ' -f1 > seen.sha
      sha256sum "$KILN_MODEL_M_PRODUCTION" | cut -d' ' -f1 >> seen.sha
      echo "$KILN_MODEL_M" > seen.path
      echo ran >> score.runs
YAML
kiln_rc run use.yaml
eq "the reading step" 0 "$rc"
eq "it read version 1's bytes (both variables)" "$v1 $v1" "$(tr '\n' ' ' < seen.sha | sed 's/ $//')"
eq "from a copy under the state directory" "$KILN_STATE/models/m/1/model.bin" "$(cat seen.path)"
eq "recorded as its input, though it has no outputs" "model|$v1" \
    "$(q "select a.type || '|' || a.sha256 from events e join artifacts a on a.id = e.artifact_id join executions x on x.id = e.execution_id where x.step = 'score' and e.type = 'input'")"
printf 'garbage\n' > serving/model.bin
kiln_rc run use.yaml
eq "the working tree's file overwritten: still version 1" "$v1 $v1" "$(tr '\n' ' ' < seen.sha | sed 's/ $//')"
copy=$KILN_STATE/models/m/1/model.bin
chmod u+w "$copy"
printf 'tampered\n' > "$copy"
kiln_rc run use.yaml
eq "the copy tampered with: still version 1" "$v1 $v1" "$(tr '\n' ' ' < seen.sha | sed 's/ $//')"
eq "the copy was made again" "$v1" "$(sha "$copy")"
eq "read-only again" "" "$(stat -c %A "$copy" | tr -d -- '-rx')"
eq "each time the step ran" 3 "$(wc -l < score.runs)"

# Promote: the deploy command runs with version 2.
kiln_rc models promote m 2 production
eq "promote" 0 "$rc"
eq "production on 2 again" 2 "$(alias_of m production)"
eq "served: version 2" "$v2" "$(sha serving/model.bin)"
eq "promote's arguments" "3 $KILN_STATE/models/m/2/model.bin 2 production | 2 production m $v2" "$(tail -1 hooks.log)"
kiln_rc models rollback m production
eq "back to 1" "0 1 $v1" "$rc $(alias_of m production) $(sha serving/model.bin)"

# kiln models pull: exactly a version's bytes.
kiln_rc models pull m@production --to x.bin
eq "pull m@production" 0 "$rc"
eq "version 1's bytes" "$v1" "$(sha x.bin)"
contains "says what it wrote" "wrote x.bin: version 1 of model m (production)" "$out"
contains "with its hash" "sha256 $v1" "$out"
kiln_rc models pull m:2 --to y.bin
eq "pull m:2: version 2's bytes" "0 $v2" "$rc $(sha y.bin)"
kiln_rc models pull m --to new/newest.bin
eq "pull m: the newest version, parent made" "0 $v2" "$rc $(sha new/newest.bin)"
kiln_rc models pull m:2 --to x.bin
eq "an existing path is refused" 2 "$rc"
contains "saying so" "x.bin already exists (give --force to replace it)" "$err"
eq "and left alone" "$v1" "$(sha x.bin)"
kiln_rc models pull m:2 --to x.bin --force
eq "--force replaces it" "0 $v2" "$rc $(sha x.bin)"
mkdir adir
kiln_rc models pull m:1 --to adir --force
eq "a directory is not replaced by a file" 2 "$rc"
check "the directory stays" test -d adir
kiln_rc models pull m:9 --to z.bin
eq "unknown version" 2 "$rc"
contains "says so" "model m has no version 9" "$err"
kiln_rc models pull m@staging --to z.bin
eq "unknown alias" 2 "$rc"
kiln_rc models pull nosuch --to z.bin
eq "unknown model" 2 "$rc"
kiln_rc models pull m@production
eq "--to is needed" 2 "$rc"
check "nothing written on errors" test ! -e z.bin
check "no temporary files left" test -z "$(ls -A | grep kiln-)"

# A directory model: pulled as its files.
pipeline bundle <<'YAML'
pipeline: bundle
steps:
  train:
    kind: train
    run: |
      mkdir -p bundle/sub
      printf 'w\n' > bundle/weights.bin
      printf '{"c": 1}\n' > bundle/sub/config.json
    outputs: [bundle]
    register: {model: d, path: bundle}
YAML
kiln_rc run bundle.yaml
eq "a directory model" 0 "$rc"
kiln_rc models pull d --to pulled
eq "pull a directory" 0 "$rc"
check "identical files" diff -r bundle pulled
contains "says so" "a directory of 2 files" "$out"
touch pulled/extra
kiln_rc models pull d:1 --to pulled --force
eq "--force: exactly the version's files" "0 " "$rc $(ls pulled/extra 2>/dev/null)"
check "identical again" diff -r bundle pulled
# ...with its symlinks (their link text, dangling or leading out) and
# empty directories: pulled, and in the copy a step reads, which leaves
# what a symlink leads to writable.
pipeline linked <<'YAML'
pipeline: linked
steps:
  train:
    run: |
      rm -rf lbundle; mkdir -p lbundle/empty lbundle/sub
      printf 'w\n' > lbundle/weights.bin; ln -s weights.bin lbundle/latest.bin
      ln -s "$PWD/outside.txt" lbundle/sub/out; ln -s nowhere lbundle/dangling
    outputs: [lbundle]
    register: {model: dl, path: lbundle}
  read:
    needs: [train]
    cache: false
    models: [dl:1]
    run: |
      cd "$KILN_MODEL_DL" && find . -printf '%y %p %l\n' | sort | tr '\n' ';' > "$OLDPWD/lseen.txt"
YAML
shape_of() { (cd "$1" && find . -printf '%y %p %l\n' | sort | tr '\n' ';'); }
echo outside > outside.txt; chmod 644 outside.txt
kiln_rc run linked.yaml
eq "a directory model with symlinks" 0 "$rc"
kiln_rc models pull dl --to lpulled
eq "pull it" 0 "$rc"
eq "pulled with its symlinks and empty directories" "$(shape_of lbundle)" "$(shape_of lpulled)"
eq "a step reads them so" "$(shape_of lbundle)" "$(cat lseen.txt)"
eq "what a symlink leads to stays writable" 644 "$(stat -c %a outside.txt)"
kiln_rc run linked.yaml
eq "the copy read again" "0 $(shape_of lbundle)" "$rc $(cat lseen.txt)"

# A deploy command that fails moves nothing.
pipeline bad <<'YAML'
pipeline: bad
params: {v: 1}
steps:
  ship:
    kind: deploy
    run: mkdir -p bad && printf 'bad %s\n' "$KILN_PARAM_V" > bad/model.bin
    outputs: [bad/model.bin]
    register: {model: f, path: bad/model.bin, alias: production, deploy: 'echo "deploying $2" >&2; exit 3'}
YAML
kiln_rc run bad.yaml --param v=1
kiln_rc run bad.yaml --param v=2
eq "f: production on 2" 2 "$(alias_of f production)"
kiln_rc models rollback f production
eq "rollback with a failing deploy command: exit 1" 1 "$rc"
contains "says why" "the deploy command of model f failed (exit status 3); production still points where it did" "$err"
contains "its output shown" "deploying 1" "$err"
eq "the alias did not move" 2 "$(alias_of f production)"
kiln_rc models promote f 1 production
eq "promote with a failing deploy command: exit 1" 1 "$rc"
eq "the alias did not move" 2 "$(alias_of f production)"
kiln_rc models promote f 7 production
eq "an unknown version is still a usage error" 2 "$rc"

# The daemon's API moves aliases the same way.
TOKEN=0123456789abcdef-test-token
printf '%s\n' "$TOKEN" > token
mkdir -p served
cp ship.yaml served/
# A run's promote: whose deploy command is slow, and one whose deploy
# command fails (below, once the daemon serves).
cat > served/slowpromote.yaml <<'YAML'
pipeline: slowpromote
params: {v: 1}
steps:
  make:
    kind: train
    run: mkdir -p sp && printf 'p weights %s\n' "$KILN_PARAM_V" > sp/model.bin
    outputs: [sp/model.bin]
    register: {model: p, path: sp/model.bin, alias: staging, deploy: 'echo "start $3" >> sp.log; sleep 3; echo "end $3" >> sp.log'}
  promote:
    kind: deploy
    needs: [make]
    promote: {model: p, from: staging, to: production}
YAML
cat > served/badpromote.yaml <<'YAML'
pipeline: badpromote
steps:
  make:
    kind: train
    run: mkdir -p bp && printf 'q weights\n' > bp/model.bin
    outputs: [bp/model.bin]
    register: {model: q, path: bp/model.bin, alias: staging, deploy: 'echo "no room for $2" >&2; exit 4'}
  promote:
    kind: deploy
    needs: [make]
    promote: {model: q, from: staging, to: production}
YAML
for n in 1 2; do
    cat > "served/slow$n.yaml" <<YAML
pipeline: slow$n
steps:
  make:
    kind: train
    run: mkdir -p s$n && printf 'w$n\\n' > s$n/model.bin
    outputs: [s$n/model.bin]
    register: {model: w$n, path: s$n/model.bin, alias: staging, deploy: 'sleep 3; echo "\$KILN_MODEL_NAME" >> starve.log'}
  promote:
    kind: deploy
    needs: [make]
    promote: {model: w$n, from: staging, to: production}
YAML
done
cat > served/quick.yaml <<'YAML'
pipeline: quick
steps:
  out: {run: "mkdir -p q && date > q/out.txt", outputs: [q/out.txt]}
YAML
# A pool of two threads: the moves waiting their turn must not take both.
UV_THREADPOOL_SIZE=2 serve serve.log --token-file "$T/token" "$T/served"
wait_for "the web URL" 10 '[ -n "$(web_url)" ]'
U=$(web_url)
post() { body=$(curl -s -o - -w '\n%{http_code}' -X POST -H "Authorization: Bearer $TOKEN" "$@"); code=${body##*$'\n'}; body=${body%$'\n'*}; }
post -d '{"version": 2}' "${U}api/v1/models/m/aliases/production"
eq "API promote" '200 {"name":"m","alias":"production","version":2}' "$code $body"
eq "it ran the deploy command" "3 $KILN_STATE/models/m/2/model.bin 2 production | 2 production m $v2" "$(tail -1 hooks.log)"
eq "served: version 2" "$v2" "$(sha serving/model.bin)"
post "${U}api/v1/models/m/aliases/production/rollback"
eq "API rollback" '200 {"name":"m","alias":"production","version":1}' "$code $body"
eq "served: version 1" "$v1" "$(sha serving/model.bin)"
eq "with version 1's copy" "3 $KILN_STATE/models/m/1/model.bin 1 production | 1 production m $v1" "$(tail -1 hooks.log)"
post "${U}api/v1/models/f/aliases/production/rollback"
eq "API rollback, failing deploy command: an error" 500 "$code"
contains "saying why" "the deploy command of model f failed" "$body"
eq "the alias did not move" 2 "$(alias_of f production)"
# The API serves a version's bytes (checked first) and resolves aliases.
fetch() { code=$(curl -s -D "$T/headers" -o "$T/fetched" -w '%{http_code}' "$@"); }
fetch "${U}api/v1/models/m/versions/2/file"
eq "GET a version's file" "200 $v2" "$code $(sha "$T/fetched")"
contains "its hash in a header" "x-kiln-sha256: $v2" "$(tr -d '\r' < "$T/headers")"
contains "named as it was made" 'filename="model.bin"' "$(cat "$T/headers")"
contains "ranges accepted" "accept-ranges: bytes" "$(tr -d '\r' < "$T/headers")"
eq "...said once" 1 "$(grep -ci "^accept-ranges" "$T/headers")"
# A download resumed: Range, alone or with the version's ETag as
# If-Range; the whole file for several ranges or another ETag.
cp "$T/fetched" "$T/whole"
size=$(wc -c < "$T/whole")
# HEAD: the headers a GET would have, no bytes: the next answer on the
# connection is the next request's (and HTTP/2 gets a clean stream).
uport=${U#http://127.0.0.1:}; uport=${uport%%/*}
eq "HEAD of a version's file: headers only, the connection goes on" \
    "200 content-length=$size then 200" \
    "$(/usr/bin/python3 "$KILN_SRC/tests/cli/web-bad.py" head "$uport" /api/v1/models/m/versions/2/file)"
eq "...with a Range: 206, that length" "206 content-length=7 then 200" \
    "$(/usr/bin/python3 "$KILN_SRC/tests/cli/web-bad.py" head "$uport" /api/v1/models/m/versions/2/file --header "Range: bytes=3-9")"
if curl -V | grep -q HTTP2; then
    code=$(curl -s --http2-prior-knowledge -I -o "$T/h2" -w '%{http_code}' "${U}api/v1/models/m/versions/2/file"); rc=$?
    eq "HEAD over HTTP/2: a clean answer" "0 200" "$rc $code"
fi
fetch -H "Range: bytes=3-9" "${U}api/v1/models/m/versions/2/file"
eq "bytes=3-9: 206, those 7 bytes" "206 $(tail -c +4 "$T/whole" | head -c 7 | sha256sum | cut -c1-64)" "$code $(sha "$T/fetched")"
contains "with Content-Range" "content-range: bytes 3-9/$size" "$(tr -d '\r' < "$T/headers")"
fetch -H "Range: bytes=5-" -H "If-Range: \"$v2\"" "${U}api/v1/models/m/versions/2/file"
eq "bytes=5- with this ETag: the rest" "206 $(tail -c +6 "$T/whole" | sha256sum | cut -c1-64)" "$code $(sha "$T/fetched")"
fetch -H "Range: bytes=-4" "${U}api/v1/models/m/versions/2/file"
eq "bytes=-4: the last 4" "206 $(tail -c 4 "$T/whole" | sha256sum | cut -c1-64)" "$code $(sha "$T/fetched")"
fetch -H "Range: bytes=5-" -H "If-Range: \"$v1\"" "${U}api/v1/models/m/versions/2/file"
eq "another ETag in If-Range: the whole file" "200 $v2" "$code $(sha "$T/fetched")"
fetch -H "Range: bytes=0-1,4-5" "${U}api/v1/models/m/versions/2/file"
eq "several ranges: the whole file" "200 $v2" "$code $(sha "$T/fetched")"
fetch -H "Range: bytes=$size-" "${U}api/v1/models/m/versions/2/file"
eq "past the end: 416" 416 "$code"
contains "with the size" "content-range: bytes */$size" "$(tr -d '\r' < "$T/headers")"
# Malformed ones are no range at all (the whole file); -0 and a first
# byte past the end, none of it (416).
for r in "bytes=" "bytes=-" "bytes=a-b" "bytes=9-3" "items=0-1" "bytes=1-2x" \
         "bytes= 1-2" "bytes=$(printf '9%.0s' $(seq 70))-"; do
    fetch -H "Range: $r" "${U}api/v1/models/m/versions/2/file"
    eq "Range: $r" "200 $v2" "$code $(sha "$T/fetched")"
done
for r in "bytes=-0" "bytes=99999999999999999999-"; do
    fetch -H "Range: $r" "${U}api/v1/models/m/versions/2/file"
    eq "Range: $r: 416" 416 "$code"
done
head -c 5 "$T/whole" > "$T/part"
curl -s -C - -o "$T/part" "${U}api/v1/models/m/versions/2/file"
eq "curl -C - finishes a download cut short" "$v2" "$(sha "$T/part")"
fetch "${U}api/v1/models/m/aliases/production"
eq "GET an alias" "200 1 $v1 /api/v1/models/m/versions/1/file" "$code $(/usr/bin/python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(d["version"], d["sha256"], d["file"])' "$T/fetched")"
fetch "${U}api/v1/models/m/versions/9/file"
eq "an unknown version: 404" 404 "$code"
fetch "${U}api/v1/models/m/versions/x/file"
eq "not a version: 400" 400 "$code"
fetch "${U}api/v1/models/m/aliases/nosuch"
eq "an unknown alias: 404" 404 "$code"
fetch "${U}api/v1/models/d/versions/1/file"
eq "a directory version: 409" 409 "$code"
obj=$(object "$v2")
cp "$obj" "$T/keep.obj"
chmod u+w "$obj"
printf 'rot\n' > "$obj"
fetch "${U}api/v1/models/m/versions/2/file"
eq "corrupt bytes are never served: 500" 500 "$code"
contains "saying so" "corrupt" "$(cat "$T/fetched")"
rm -f "$obj"
fetch "${U}api/v1/models/m/versions/2/file"
eq "missing bytes: 410" 410 "$code"
cp "$T/keep.obj" "$obj"
# Retire: the alias points nowhere, audited; a rollback brings it back.
post "${U}api/v1/models/m/aliases/production/retire"
eq "API retire" '200 {"name":"m","alias":"production","version":0,"was":1}' "$code $body"
fetch "${U}api/v1/models/m/aliases/production"
eq "a retired alias resolves to nothing: 404" 404 "$code"
eq "audited as the token" "alias.retired admin-token" \
    "$(q "select action || ' ' || actor from audit where target = 'model m production' order by id desc limit 1")"
post "${U}api/v1/models/m/aliases/production/retire"
eq "retiring it again: 404" 404 "$code"
post "${U}api/v1/models/m/aliases/production/rollback"
eq "a rollback brings it back" '200 {"name":"m","alias":"production","version":1}' "$code $body"
curl -s -o /dev/null -w '%{http_code}' -X POST "${U}api/v1/models/m/aliases/production/retire" > "$T/code"
eq "retire needs a token" 401 "$(cat "$T/code")"
# A slow deploy command holds up neither the daemon's other requests nor
# its runs; moves asked meanwhile wait their turn, one deploy command at a
# time, in the order asked.
pipeline slowship <<'YAML'
pipeline: slowship
params: {v: 1}
steps:
  ship:
    kind: deploy
    run: mkdir -p slow && printf 'slow %s\n' "$KILN_PARAM_V" > slow/model.bin
    outputs: [slow/model.bin]
    register: {model: s, path: slow/model.bin, alias: production, deploy: 'echo "start $2" >> slow.log; sleep 3; echo "end $2" >> slow.log'}
YAML
kiln_rc run slowship.yaml --param v=1
kiln_rc run slowship.yaml --param v=2
eq "s: production on 2" 2 "$(alias_of s production)"
(post "${U}api/v1/models/s/aliases/production/rollback"
 echo "$code $body" > "$T/move1") &
m1=$!
wait_for "the deploy command started" 10 'grep -q "start 1" slow.log'
(post -d '{"version": 2}' "${U}api/v1/models/s/aliases/production"
 echo "$code $body" > "$T/move2") &
m2=$!
sleep 0.3
t0=$(date +%s%N)
code=$(curl -s -o /dev/null -w '%{http_code}' "${U}healthz")
code="$code $(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "${U}api/v1/models/s")"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
eq "answered while the deploy command runs" "200 200" "$code"
check "at once, not when it ends ($ms ms)" test "$ms" -lt 1500
eq "the alias has not moved yet" 2 "$(alias_of s production)"
wait $m1 $m2
eq "the rollback answered once its deploy command ended" \
    '200 {"name":"s","alias":"production","version":1}' "$(cat "$T/move1")"
eq "the promote asked meanwhile, after it" \
    '200 {"name":"s","alias":"production","version":2}' "$(cat "$T/move2")"
eq "one deploy command at a time, in order" "start 1,end 1,start 2,end 2" \
    "$(paste -sd, slow.log)"
eq "s: production on 2" 2 "$(alias_of s production)"
# A client that hangs up before the end: the move still completes, audited.
curl -s -o /dev/null --max-time 1 -X POST -H "Authorization: Bearer $TOKEN" \
    "${U}api/v1/models/s/aliases/production/rollback"
eq "the client gave up (curl: timed out)" 28 "$?"
wait_for "the rollback done all the same" 10 '[ "$(alias_of s production)" = 1 ]'
eq "audited as the token" "alias.rolled_back admin-token" \
    "$(q "select action || ' ' || actor from audit where target = 'model s production' order by id desc limit 1")"
check "the daemon still runs" kill -0 "$daemon"
eq "and answers" 200 "$(curl -s -o /dev/null -w '%{http_code}' "${U}healthz")"
# A run's promote: runs the deploy command off the loop too: the daemon
# answers meanwhile, the step ends when the command has.
post -d '{}' "${U}api/v1/pipelines/slowpromote/runs"
eq "slowpromote started" 201 "$code"
sp_run=$(printf '%s' "$body" | /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["run_id"])')
wait_for "its deploy command started" 20 'grep -q "start production" served/sp.log'
t0=$(date +%s%N)
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "${U}api/v1/runs/$sp_run")
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
eq "the run's page answered while its deploy command runs" 200 "$code"
check "at once ($ms ms)" test "$ms" -lt 1500
eq "the step is still running" running "$(q "select status from executions where run_id = $sp_run and step = 'promote'")"
wait_for "the run succeeded" 20 '[ "$(q "select status from runs where id = $sp_run")" = succeeded ]'
eq "after the deploy command ended" "start production,end production" "$(paste -sd, served/sp.log)"
eq "p: production on 1, staging retired" "1 0" "$(alias_of p production) $(alias_of p staging)"
contains "the step's log says so" "kiln: promoted version 1 of model p from staging to production" \
    "$(cat "$(q "select log_path from executions where run_id = $sp_run and step = 'promote'")")"
# Two runs' slow deploy commands, one after the other, hold one thread of
# the pool: a third run's outputs are hashed on the other meanwhile.
post -d '{}' "${U}api/v1/pipelines/slow1/runs"
post -d '{}' "${U}api/v1/pipelines/slow2/runs"
wait_for "both runs at their promote" 20 '[ "$(q "select count(*) from executions e join runs r on r.id = e.run_id where r.pipeline like '"'slow_'"' and e.step = '"'promote'"' and e.status = '"'running'"'")" = 2 ]'
post -d '{}' "${U}api/v1/pipelines/quick/runs"
q_run=$(printf '%s' "$body" | /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["run_id"])')
wait_for "the third run succeeded" 20 '[ "$(q "select status from runs where id = $q_run")" = succeeded ]'
eq "...before the first deploy command ended" 0 "$(grep -c . served/starve.log 2>/dev/null || echo 0)"
wait_for "both deploy commands ran" 20 '[ "$(grep -c . served/starve.log)" = 2 ]'
# A run's deploy command and the API's for the same model: one after
# the other, never at once.
: > served/sp.log
post -d '{"params": {"v": 2}}' "${U}api/v1/pipelines/slowpromote/runs"
sp_run=$(printf '%s' "$body" | /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["run_id"])')
wait_for "the run's deploy command started" 20 'grep -q "start production" served/sp.log'
post -d '{"version": 1}' "${U}api/v1/models/p/aliases/canary"
eq "the API's move, after the run's" '200 {"name":"p","alias":"canary","version":1}' "$code $body"
eq "one deploy command at a time" "start production,end production,start canary,end canary" \
    "$(paste -sd, served/sp.log)"
wait_for "the run succeeded" 20 '[ "$(q "select status from runs where id = $sp_run")" = succeeded ]'
post -d '{}' "${U}api/v1/pipelines/badpromote/runs"
bp_run=$(printf '%s' "$body" | /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["run_id"])')
wait_for "badpromote failed" 20 '[ "$(q "select status from runs where id = $bp_run")" = failed ]'
contains "the step failed, saying why" "the deploy command of model q failed (exit status 4); production still points where it did" \
    "$(q "select reason from executions where run_id = $bp_run and step = 'promote'")"
contains "the command's output in the step's log" "no room for 1" \
    "$(cat "$(q "select log_path from executions where run_id = $bp_run and step = 'promote'")")"
eq "q: production points nowhere, staging kept" " 1" "$(alias_of q production) $(alias_of q staging)"
# Asked to stop while a deploy command runs: the daemon finishes the move
# it accepted (a deploy cut short leaves the served model in no known
# state), answers it, then stops.
: > slow.log
(post -d '{"version": 2}' "${U}api/v1/models/s/aliases/production"
 echo "$code $body" > "$T/move3") &
m3=$!
wait_for "the deploy command started" 10 'grep -q "start 2" slow.log'
stop "$daemon"
eq "stopped after the deploy command ended" "start 2,end 2" "$(paste -sd, slow.log)"
wait $m3
eq "the move answered" '200 {"name":"s","alias":"production","version":2}' \
    "$(cat "$T/move3")"
eq "s: production on 2" 2 "$(alias_of s production)"

# kiln artifacts get: a registered artifact, and a cached directory output.
pipeline feats <<'YAML'
pipeline: feats
steps:
  features:
    run: mkdir -p feat/deep && printf 'a\n' > feat/a.csv && printf 'b\n' > feat/deep/b.csv
    outputs: [feat]
YAML
kiln_rc run feats.yaml
eq "a directory output" 0 "$rc"
kiln_rc artifacts get "$v1" --to got.bin
eq "artifacts get a registered version by hash" "0 $v1" "$rc $(sha got.bin)"
contains "says what it wrote" "wrote got.bin: artifact" "$out"
kiln_rc artifacts get "${v2:0:10}" --to got2.bin
eq "by a hash prefix" "0 $v2" "$rc $(sha got2.bin)"
kiln_rc artifacts get "$T/feat" --to gotfeat
eq "a directory output, by path" 0 "$rc"
check "identical files" diff -r feat gotfeat
rm -rf feat
kiln_rc artifacts get "$(q "select id from artifacts where path = '$T/feat'")" --to feat
eq "by id, where it was" 0 "$rc"
check "identical again" diff -r gotfeat feat
kiln_rc artifacts get "$v1" --to got.bin
eq "artifacts get: an existing path is refused" 2 "$rc"
kiln_rc artifacts get ffffffffffff --to nothing.bin
eq "artifacts get: no such artifact" 2 "$rc"

# kiln gc: unreferenced objects always go; cached objects least recently
# used first, only past the limit; registered bytes never.
stray=$(printf 'stray\n' | sha256sum | cut -d' ' -f1)
mkdir -p "$(dirname "$(object "$stray")")"
printf 'stray\n' > "$(object "$stray")"
a_sha=$(sha feat/a.csv)
b_sha=$(sha feat/deep/b.csv)
kiln_rc gc
eq "gc" 0 "$rc"
check "an unreferenced object goes" test ! -e "$(object "$stray")"
check "cached objects stay within the limit" test -e "$(object "$a_sha")" -a -e "$(object "$b_sha")"
contains "model objects kept, counted" "kept 13 objects of registered model versions" "$out"
total=$(du -b -c "$KILN_STATE"/objects/*/* | tail -1 | cut -f1)
touch -d 2001-01-01 "$(object "$a_sha")"
kiln_rc gc --max-size $((total - 1))
eq "one byte over: one object goes" "0" "$rc"
contains "says so" "removed 1 of" "$out"
check "the least recently used" test ! -e "$(object "$a_sha")"
check "not the other" test -e "$(object "$b_sha")"
kiln_rc gc --max-size 0
eq "gc --max-size 0" 0 "$rc"
check "cached objects go" test ! -e "$(object "$b_sha")"
for s in "$v1" "$v2" $(registered f 1) $(registered f 2) $(q "select sha256 from tree_files where tree = '$(registered d 1)'"); do
    check "registered object ${s:0:12} kept" test -e "$(object "$s")"
done
contains "says how many" "kept 13 objects of registered model versions" "$out"
rm -f x.bin pulled/weights.bin
kiln_rc models pull m@production --to x.bin
eq "pull after gc" "0 $v1" "$rc $(sha x.bin)"
kiln_rc models pull d --to pulled --force
eq "a directory model after gc" 0 "$rc"
check "identical" diff -r bundle pulled
kiln_rc artifacts get "$v2" --to got3.bin
eq "artifacts get of a registered version after gc" "0 $v2" "$rc $(sha got3.bin)"
kiln_rc artifacts get "$T/feat" --to gone
eq "artifacts get of collected bytes: exit 1" 1 "$rc"
contains "saying so" "is not kept" "$err"
contains "and what to do" "kiln gc with a larger --max-size" "$err"
check "nothing written" test ! -e gone
kiln_rc run use.yaml
eq "a step still reads version 1 after gc" "0 $v1 $v1" "$rc $(tr '\n' ' ' < seen.sha | sed 's/ $//')"

# Corrupt bytes in the store: nothing written, exit 1.
f1=$(registered f 1)
chmod u+w "$(object "$f1")" 2>/dev/null
printf 'rot\n' > "$(object "$f1")"
kiln_rc models pull f:1 --to rot.bin
eq "pull of corrupt bytes: exit 1" 1 "$rc"
contains "saying so" "corrupt" "$err"
check "nothing written" test ! -e rot.bin
kiln_rc artifacts get "$f1" --to rot.bin
eq "artifacts get of corrupt bytes: exit 1" 1 "$rc"
check "nothing written" test ! -e rot.bin
f2=$(registered f 2)
rm -f "$(object "$f2")"
kiln_rc models pull f:2 --to gone.bin
eq "pull of missing bytes: exit 1" 1 "$rc"
contains "saying so" "its bytes are missing" "$err"
check "nothing written" test ! -e gone.bin
# A deploy command that is a script gets path, version and alias as its
# arguments too.
pipeline script <<'YAML'
pipeline: script
params: {v: 1}
steps:
  ship:
    kind: deploy
    run: mkdir -p s && printf 'script %s\n' "$KILN_PARAM_V" > s/model.bin
    outputs: [s/model.bin]
    register: {model: sm, path: s/model.bin, alias: production, deploy: ./ship.sh}
YAML
printf '#!/bin/sh\necho "args: $*" >> script.log\n' > ship.sh
chmod +x ship.sh
kiln_rc run script.yaml --param v=1
kiln_rc run script.yaml --param v=2
kiln_rc models rollback sm production
eq "rollback through a script" 0 "$rc"
eq "the script's arguments" "args: $KILN_STATE/models/sm/1/model.bin 1 production" "$(tail -1 script.log)"

# A step whose outputs may be served from the cache sees only the model
# versions it declares (its key covers those): no KILN_MODEL_<NAME>_<ALIAS>
# of every alias; a deploy step does see them.
pipeline peek <<'YAML'
pipeline: peek
steps:
  cached:
    run: echo "${KILN_MODEL_M_PRODUCTION:-none}" > peek.txt
    outputs: [peek.txt]
  ship:
    kind: deploy
    needs: [cached]
    run: echo "${KILN_MODEL_M_PRODUCTION:-none}" > peek-deploy.txt
YAML
kiln_rc run peek.yaml
eq "a cached step: undeclared versions not there" "none" "$(cat peek.txt)"
eq "a deploy step: every alias's copy" "$KILN_STATE/models/m/1/model.bin" "$(cat peek-deploy.txt)"

# A kiln killed while a step that reads a model runs: the step taken over
# (kiln resume) still records the version it read.
pipeline slowread <<'YAML'
pipeline: slowread
steps:
  score:
    models: [m@production]
    run: sleep 2; sha256sum "$KILN_MODEL_M" | cut -d' ' -f1 > slow.sha
    outputs: [slow.sha]
YAML
"$KILN" run slowread.yaml > /dev/null 2>&1 &
pid=$!
wait_for "the step started" 10 '[ "$(q "select count(*) from executions x join runs r on r.id = x.run_id where r.pipeline = '"'slowread'"' and x.external_id is not null")" = 1 ]'
kill -9 "$pid"
wait "$pid" 2>/dev/null
rid=$(q "select max(id) from runs where pipeline = 'slowread'")
kiln_rc resume "$rid"
eq "taken over" 0 "$rc"
eq "it read version 1" "$v1" "$(cat slow.sha)"
eq "and the record says so" "model|$v1" \
    "$(q "select a.type || '|' || a.sha256 from events e join artifacts a on a.id = e.artifact_id join executions x on x.id = e.execution_id where x.run_id = $rid and e.type = 'input'")"

# Two promotes of one model at once: the second one's deploy command
# waits until the first one's ended and was recorded, then runs; the
# alias ends on the version deployed last. Version 1's command deploys
# then lingers, version 2's lingers then deploys: overlapping, the bytes
# served would not be the alias's.
pipeline race <<'YAML'
pipeline: race
params: {v: 1}
steps:
  train:
    kind: train
    run: mkdir -p race && printf 'race weights %s\n' "$KILN_PARAM_V" > race/model.bin
    outputs: [race/model.bin]
    register:
      model: c
      path: race/model.bin
      deploy: 'if [ "$2" = 1 ]; then cp "$1" race.bin; sleep 2; else sleep 1; cp "$1" race.bin; fi'
YAML
kiln_rc run race.yaml --param v=1
kiln_rc run race.yaml --param v=2
eq "c: two versions" "1 2" "$(q "select group_concat(version, ' ') from models where name = 'c'")"
waited=0
for round in 1 2 3; do
    "$KILN" models promote c 1 production >/dev/null 2>"$T/race1" & p1=$!
    "$KILN" models promote c 2 production >/dev/null 2>"$T/race2" & p2=$!
    wait "$p1"; r1=$?
    wait "$p2"; r2=$?
    eq "round $round: both promotes succeed" "0 0" "$r1 $r2"
    said=$(cat "$T/race1" "$T/race2")
    case "$said" in
        "") ;;
        "kiln: waiting for another move of model c to end (kiln process $p1)"|\
        "kiln: waiting for another move of model c to end (kiln process $p2)")
            waited=$((waited + 1)) ;;
        *) fail "round $round: said [$said]" ;;
    esac
    eq "round $round: the alias names the bytes deployed" \
        "race weights $(alias_of c production)" "$(cat race.bin)"
    eq "round $round: the alias names the deploy that ended last" \
        "$(q "select version from deploys where model = 'c' order by ended_at desc, id desc limit 1")" \
        "$(alias_of c production)"
done
check "the one that waits says so, naming the other ($waited of 3)" \
    test "$waited" -gt 0
eq "six deploys, all moved" "6 6" \
    "$(q "select count(*) || ' ' || sum(outcome = 'moved') from deploys where model = 'c'")"
eq "no two deploy commands of c overlap" "" \
    "$(q "select a.id || ' ' || b.id from deploys a join deploys b on a.id < b.id where a.model = 'c' and b.model = 'c' and a.started_at < b.ended_at and b.started_at < a.ended_at")"
eq "none said to have never started" 0 \
    "$(q "select count(*) from deploys where model = 'c' and detail like '%kiln stopped first%'")"
finish
