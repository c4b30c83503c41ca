# secrets: values from kiln's environment, a file and a command reach the
# step as variables and nowhere else: not kiln.db (its bytes, the WAL
# too), the API of a kiln serve on 127.0.0.1, the JUnit report, a
# notification, nor the step's log, where they are *** (also a value cut
# across two writes). Only the reference is in the key; a secret that
# cannot be read fails the step naming it; a container step gets them by
# name (podman's argv, through a wrapper); kill -9 of kiln serve while a
# step with secrets runs: the shim still masks the rest of the log. A slow
# {command:} is read off the loop: the daemon answers and other runs go
# on meanwhile; a cancel, kiln serve's stop and a kill -9 while it runs.
. "$(dirname "$0")/lib.sh"
export KT_ENV_SECRET=envsecret-AAAA1111 KT_SHORT=abc
FILE_VALUE=filesecret-BBBB2222
CMD_VALUE=cmdsecret-CCCC3333
VALUES="$KT_ENV_SECRET $FILE_VALUE $CMD_VALUE"
mkdir -p "$T/p"
printf '%s\n' "$FILE_VALUE" > "$T/p/secret.txt"

# absent WHAT FILE...: none of the values is in the files' bytes.
absent() {
    local what=$1 v; shift
    for v in $VALUES; do
        if grep -aqF -- "$v" "$@" 2>/dev/null; then fail "$what holds $v"
        else ok; fi
    done
}

# restart_after_kill GO LOG FILE RUN: kill -9 the daemon, let RUN's step
# go on (touch GO), start kiln serve again on FILE and wait for RUN to
# succeed.
restart_after_kill() {
    kill -9 "$daemon"; wait "$daemon" 2>/dev/null
    touch "$1"
    serve "$2" --token-file "$T/token" "$3"
    wait_for "the run ends after the restart" 30 \
        "[ \"\$(q \"select status from runs where id = $4\")\" = succeeded ]"
}

# A listener for the notifications, as in test-notify.
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
/usr/bin/python3 - "$port" "$T/notified" <<'PY' &
import http.server, sys
port, out = int(sys.argv[1]), sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with open(out, "ab") as f:
            f.write(body + b"\n")
        self.send_response(200); self.end_headers()
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
PY
daemons+=("$!")
wait_for "the listener" 10 "/usr/bin/python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", $port))'"

cat > "$T/p/sec.yaml" <<YAML
pipeline: sec
notify: [{on: [success, failure], webhook: "http://127.0.0.1:$port/hook"}]
secrets:
  ENV_S: {env: KT_ENV_SECRET}
  FILE_S: {file: secret.txt}
  SHORT: {env: KT_SHORT}
steps:
  show:
    secrets:
      CMD_S: {command: "printf '%s%s\\\\n' ${CMD_VALUE%-*} -${CMD_VALUE#*-}"}
    outputs: [out/seen.txt]
    run: |
      echo "env=\$ENV_S file=\$FILE_S cmd=\$CMD_S short=\$SHORT"
      printf 'split=%s' "\$(printf %s "\$ENV_S" | cut -c1-9)"
      sleep 0.3
      printf '%s!\n' "\$(printf %s "\$ENV_S" | cut -c10-)"
      echo "to stderr \$CMD_S" >&2
      mkdir -p out
      echo "\$ENV_S \$FILE_S \$CMD_S" > out/seen.txt
      test "\$KILN_STEP" = show
YAML
kiln_rc validate "$T/p/sec.yaml"
eq "validate passes" 0 "$rc"
contains "validate warns about a short value from the environment" \
    'secret "SHORT": $KT_SHORT is shorter than 4 characters' "$err"
case "$err" in *KT_ENV_SECRET*) fail "validate warns about a long value: $err" ;; *) ok ;; esac

kiln_rc run "$T/p/sec.yaml" --junit "$T/junit.xml"
eq "the run succeeds" 0 "$rc"
[ "$rc" = 0 ] || { echo "$out$err" >&2; cat "$KILN_STATE"/logs/1/* >&2; }
eq "the step got every value" "$VALUES" "$(cat "$T/p/out/seen.txt")"
kiln_rc logs 1 show
contains "values are masked in the log" \
    "env=*** file=*** cmd=*** short=abc" "$out"
contains "a value cut across two writes too" "split=***!" "$out"
contains "stderr too" "to stderr ***" "$out"
contains "a short value: a warning in the log" \
    'kiln: warning: secret "SHORT" (env:KT_SHORT) is shorter than 4 characters: it is not masked in this log' "$out"
absent "the step's log" "$KILN_STATE"/logs/1/*
eq "no secrets file is left" "" "$(find "$KILN_STATE" -name '*.secrets')"
absent "kiln.db" "$KILN_STATE"/kiln.db*
absent "kiln run's output" "$T/out" "$T/err"
absent "the JUnit report" "$T/junit.xml"
check "the JUnit report was written" test -s "$T/junit.xml"
wait_for "the notification" 10 'test -s "$T/notified"'
absent "the notification" "$T/notified"

# The key names references, not values.
key_doc() { q "select key_doc from executions where run_id = $1 and step = 'show'"; }
doc=$(key_doc 1)
contains "the key names the env reference" '"ENV_S":"env:KT_ENV_SECRET"' "$doc"
contains "the file reference" '"FILE_S":"file:secret.txt"' "$doc"
contains "the command reference" '"CMD_S":"command:printf' "$doc"
key1=$(q "select cache_key from executions where run_id = 1 and step = 'show'")

# Another value, the same reference: the same key (served from the cache).
KT_ENV_SECRET=envsecret-DDDD4444 kiln_rc run "$T/p/sec.yaml"
eq "run 2 succeeds" 0 "$rc"
eq "another value: the same key" "$key1" \
    "$(q "select cache_key from executions where run_id = 2 and step = 'show'")"
# Another reference: another key.
sed -i 's/{env: KT_ENV_SECRET}/{env: KT_ENV_OTHER}/' "$T/p/sec.yaml"
KT_ENV_OTHER=envsecret-AAAA1111 kiln_rc run "$T/p/sec.yaml"
eq "run 3 succeeds" 0 "$rc"
key3=$(q "select cache_key from executions where run_id = 3 and step = 'show'")
check "another reference: another key" test -n "$key3" -a "$key3" != "$key1"
contains "kiln why names the change" "KT_ENV_OTHER" "$("$KILN" why 3 show 2>&1)"

# Secrets that cannot be read fail the step, naming the secret and the
# reference, never a value.
unset_run() {
    pipeline bad <<YAML
pipeline: bad
steps:
  a:
    secrets: {S: $1}
    run: echo should not run
YAML
    kiln_rc run "$T/bad.yaml"
    eq "$2: the run fails" 1 "$rc"
    contains "$2: the reason names it" "$3" "$(q "select reason from executions order by id desc limit 1")"
}
unset_run "{env: KT_NOT_SET}" "an unset variable" \
    'secret "S" (env:KT_NOT_SET): $KT_NOT_SET is not set'
unset_run "{file: $T/nothing}" "a missing file" \
    "secret \"S\" (file:$T/nothing): cannot read $T/nothing"
unset_run "{command: \"echo \$KT_ENV_SECRET; exit 3\"}" "a failing command" \
    'the command exited with status 3'
absent "the failures' record" "$KILN_STATE"/kiln.db*

# kiln serve's API: the runs, a run, the log, the pipeline.
serve serve.log "$T/p/sec.yaml"
wait_for "kiln serve" 10 'test -n "$(web_url)"'
U=$(web_url)
for route in api/v1/runs api/v1/runs/1 api/v1/runs/1/steps/show/log \
             api/v1/pipelines/sec api/v1/pipelines; do
    curl -s "$U$route" > "$T/api.out"
    check "GET $route answers" test -s "$T/api.out"
    absent "GET $route" "$T/api.out"
done
contains "the log route masks" "env=***" "$(curl -s "${U}api/v1/runs/1/steps/show/log")"
curl -s "$U" > "$T/page.out"
absent "the status page" "$T/page.out"

# kill -9 of kiln serve while a step with secrets runs: the shim goes on,
# masks what the step writes after, and the restarted daemon finishes it.
pipeline slow <<YAML
pipeline: slow
secrets: {ENV_S: {env: KT_ENV_SECRET}}
steps:
  a:
    run: |
      echo "before \$ENV_S"
      while [ ! -e "$T/go" ]; do sleep 0.1; done
      echo "after \$ENV_S"
YAML
kill -9 "$daemon"; wait "$daemon" 2>/dev/null
printf '%s\n' 0123456789abcdef-test-token > "$T/token"
serve serve2.log --token-file "$T/token" "$T/slow.yaml"
wait_for "kiln serve again" 10 'curl -sf "$(web_url)api/v1/pipelines/slow"'
U=$(web_url)
curl -s -X POST -H "Authorization: Bearer 0123456789abcdef-test-token" \
    -d '{}' "${U}api/v1/pipelines/slow/runs" > "$T/post.out"
slow=$(q "select max(id) from runs where pipeline = 'slow'")
wait_for "the step runs" 10 "grep -q before \"$KILN_STATE\"/logs/$slow/a.1.log"
restart_after_kill "$T/go" serve3.log "$T/slow.yaml" "$slow"
eq "the log after the restart" "before ***
after ***" "$(cat "$KILN_STATE"/logs/$slow/a.1.log)"
stop "$daemon"
absent "kiln.db after the restart" "$KILN_STATE"/kiln.db*

# A {command:} is read off the loop: while one takes seconds, the daemon
# answers and another pipeline's steps run. A cancel meanwhile kills the
# command and everything it started, and the step never starts; so does
# kiln serve's stop.
pipeline waits <<YAML
pipeline: waits
secrets:
  W: {command: "echo \$\$ > $T/w.pid; touch $T/w.started; while [ ! -e $T/w.go ]; do sleep 0.1; done; printf '%s%s\\\\n' waited -DDDD4444"}
steps:
  a: {run: "echo ran >> $T/w.ran; echo got \$W"}
YAML
pipeline quick <<YAML
pipeline: quick
steps:
  q: {run: "echo quick"}
YAML
serve serve4.log --token-file "$T/token" "$T/waits.yaml" "$T/quick.yaml"
wait_for "kiln serve with waits" 10 'curl -sf "$(web_url)api/v1/pipelines/waits"'
U=$(web_url)
apost() {
    curl -s -o "$T/apost.out" -w '%{http_code}' -X POST \
        -H "Authorization: Bearer 0123456789abcdef-test-token" -d '{}' "$U$1"
}
eq "a waits run asked" 201 "$(apost api/v1/pipelines/waits/runs)"
wid=$(q "select max(id) from runs where pipeline = 'waits'")
wait_for "its secret's command runs" 10 "test -e $T/w.started"
t0=$(now_ms)
code=$(curl -s -o /dev/null -w '%{http_code}' "${U}healthz")
ms=$(( $(now_ms) - t0 ))
eq "healthz answered while a secret is read" 200 "$code"
check "at once ($ms ms)" test "$ms" -lt 1000
eq "a quick run asked meanwhile" 201 "$(apost api/v1/pipelines/quick/runs)"
qid=$(q "select max(id) from runs where pipeline = 'quick'")
wait_for "the quick run succeeds while the secret is read" 10 \
    "[ \"\$(q \"select status from runs where id = $qid\")\" = succeeded ]"
eq "the waits step is recorded running" running \
    "$(q "select status from executions where run_id = $wid")"
touch "$T/w.go"
wait_for "the waits run ends once the secret is read" 10 \
    "[ \"\$(q \"select status from runs where id = $wid\")\" = succeeded ]"
eq "its step ran once" ran "$(cat "$T/w.ran")"
eq "and got the value, masked" "got ***" "$(cat "$KILN_STATE"/logs/$wid/a.1.log)"
# Cancelled while the command runs.
rm -f "$T/w.go" "$T/w.started" "$T/w.ran"
eq "another waits run asked" 201 "$(apost api/v1/pipelines/waits/runs)"
wid=$(q "select max(id) from runs where pipeline = 'waits'")
wait_for "its secret's command runs again" 10 "test -e $T/w.started"
wpid=$(cat "$T/w.pid")
eq "cancel answered" 202 "$(apost api/v1/runs/$wid/cancel)"
wait_for "the run is cancelled at once" 5 \
    "[ \"\$(q \"select status from runs where id = $wid\")\" = cancelled ]"
eq "its attempt recorded cancelled" "cancelled|cancelled" \
    "$(q "select status, reason from executions where run_id = $wid")"
wait_for "the command's processes are gone" 5 "! kill -0 -$wpid 2>/dev/null"
check "the step never ran" test ! -e "$T/w.ran"
# kiln serve stopped while the command runs: the step does not start,
# and the daemon does not wait for the command.
rm -f "$T/w.started"
eq "a third waits run asked" 201 "$(apost api/v1/pipelines/waits/runs)"
wid=$(q "select max(id) from runs where pipeline = 'waits'")
wait_for "its secret's command runs a third time" 10 "test -e $T/w.started"
wpid=$(cat "$T/w.pid")
t0=$(now_ms)
kill -TERM "$daemon"; wait "$daemon" 2>/dev/null
ms=$(( $(now_ms) - t0 ))
check "kiln serve stopped without waiting for the command ($ms ms)" \
    test "$ms" -lt 5000
wait_for "the command's processes are gone again" 5 "! kill -0 -$wpid 2>/dev/null"
check "the step never ran" test ! -e "$T/w.ran"
eq "the run and its attempt: cancelled" "cancelled cancelled" \
    "$(q "select status from runs where id = $wid") $(q "select status from executions where run_id = $wid")"
# kill -9 of kiln serve while the command runs: the attempt never
# started, and the restarted daemon runs the step once.
rm -f "$T/w.started"
serve serve5.log --token-file "$T/token" "$T/waits.yaml"
wait_for "kiln serve with waits again" 10 'curl -sf "$(web_url)api/v1/pipelines/waits"'
U=$(web_url)
eq "a fourth waits run asked" 201 "$(apost api/v1/pipelines/waits/runs)"
wid=$(q "select max(id) from runs where pipeline = 'waits'")
wait_for "its secret's command runs a fourth time" 10 "test -e $T/w.started"
restart_after_kill "$T/w.go" serve6.log "$T/waits.yaml" "$wid"
eq "the step ran once" ran "$(cat "$T/w.ran")"
eq "its first attempt never started" "1 lost,2 succeeded" \
    "$(q "select attempt || ' ' || status from executions where run_id = $wid order by attempt" | paste -sd,)"
stop "$daemon"
VALUES="$VALUES waited-DDDD4444"
absent "kiln.db after secrets read off the loop" "$KILN_STATE"/kiln.db*

# A container step: the values reach podman by name only (--env NAME),
# never in its arguments; the container's output is masked too.
if command -v podman >/dev/null && podman image exists kiln-test:py 2>/dev/null; then
    . "$KILN_SRC/contrib/containers/lib.sh"
    mkdir -p "$T/bin"
    cat > "$T/bin/podman" <<SH
#!/bin/sh
printf '%s\n' "\$*" >> "$T/podman-argv"
exec /usr/bin/podman "\$@"
SH
    chmod +x "$T/bin/podman"
    pipeline ctr <<YAML
pipeline: ctr
secrets: {ENV_S: {env: KT_ENV_SECRET}, FILE_S: {file: $T/p/secret.txt}}
steps:
  c:
    image: kiln-test:py
    run: echo "in the container \$ENV_S \$FILE_S"
YAML
    PATH=$T/bin:$PATH kiln_rc run "$T/ctr.yaml"
    eq "the container step succeeds" 0 "$rc"
    [ "$rc" = 0 ] || echo "$out$err" >&2
    run=$(q "select max(id) from runs where pipeline = 'ctr'")
    eq "its log is masked" "in the container *** ***" \
        "$(cat "$KILN_STATE"/logs/$run/c.1.log)"
    contains "podman got the names" "--env ENV_S --env FILE_S" "$(cat "$T/podman-argv")"
    absent "podman's arguments" "$T/podman-argv"
    ctr_check_clean
else
    echo "skipped the container part: no podman or no kiln-test:py image"
fi
absent "kiln.db at the end" "$KILN_STATE"/kiln.db*
finish
