# Every exit status: 0 ok, 1 failed, 2 invalid pipeline or usage, 3 kiln
# could not work.
. "$(dirname "$0")/lib.sh"
pipeline good <<'YAML'
pipeline: good
steps:
  a: {run: "true"}
YAML
pipeline bad <<'YAML'
pipeline: bad
steps:
  a: {run: "false"}
YAML
pipeline invalid <<'YAML'
pipeline: invalid
steps:
  a: {needs: [nope], run: "true"}
YAML
kiln_rc run "$T/good.yaml"; eq "succeeded" 0 "$rc"
kiln_rc run "$T/bad.yaml"; eq "step failed" 1 "$rc"
kiln_rc run "$T/invalid.yaml"; eq "invalid pipeline" 2 "$rc"
contains "error names file:line:col" "invalid.yaml:3:15: error:" "$err"
kiln_rc run; eq "no file" 2 "$rc"
kiln_rc run "$T/good.yaml" --jobs zero; eq "bad --jobs" 2 "$rc"
kiln_rc run "$T/good.yaml" --param nope=1; eq "unknown param" 2 "$rc"
# A param too long for a step's environment: refused before anything
# runs, not a step failing to start (E2BIG).
pipeline withp <<'YAML'
pipeline: withp
params: {a: "1", b: "1", c: "1", d: "1", e: "1"}
steps:
  s: {run: "true"}
YAML
long=$(head -c 40000 /dev/zero | tr '\0' x)
kiln_rc run "$T/withp.yaml" --param "a=$long"; eq "a param of 40,000 bytes" 2 "$rc"
contains "says the limit" 'parameter "a" is 40000 bytes: at most 32 KiB' "$err"
eq "nothing recorded" 0 "$(q "select count(*) from runs where pipeline = 'withp'")"
p30=$(head -c 30000 /dev/zero | tr '\0' y)
kiln_rc run "$T/withp.yaml" --param "a=$p30" --param "b=$p30" --param "c=$p30" --param "d=$p30" --param "e=$p30"
eq "five of 30,000" 2 "$rc"
contains "...more than the total" "the parameters are more than 128 KiB together" "$err"
kiln_rc run "$T/withp.yaml" --param "a=$p30" --param "b=$p30"
eq "two of 30,000: run" 0 "$rc"
# Not UTF-8: it would run, then vanish from the run's record (JSON).
kiln_rc run "$T/withp.yaml" --param a=$'caf\xe9'
eq "a param that is not UTF-8: exit 2" 2 "$rc"
contains "...saying so" 'parameter "a" is not UTF-8 text' "$err"
kiln_rc run "$T/withp.yaml" --param a=café
eq "UTF-8 is fine" 0 "$rc"
eq "...and recorded" "café" "$(q "select json_extract(params, '$.a') from runs where pipeline = 'withp' order by id desc limit 1")"
# A reader gone from the pipe (| head -1) does not kill kiln run with
# SIGPIPE mid-run, which left the run recorded running: it finishes.
pipeline piped <<'YAML'
pipeline: piped
steps:
  a: {run: "sleep 0.5"}
  b: {run: "sleep 0.5", needs: [a]}
YAML
"$KILN" run "$T/piped.yaml" 2>/dev/null | head -1 > /dev/null
eq "kiln run | head -1: exit 0" 0 "${PIPESTATUS[0]}"
eq "...the run recorded ended" "succeeded|2" \
    "$(q "select status, (select count(*) from executions e where e.run_id = r.id and e.status = 'succeeded') from runs r where pipeline = 'piped'")"
# Output that cannot be written is an error, not a silent success.
"$KILN" runs > /dev/full 2> "$T/err"
eq "kiln runs > /dev/full: exit 3" 3 "$?"
contains "saying why" "cannot write the output: No space left on device" "$(cat "$T/err")"
"$KILN" show 1 --json > /dev/full 2> /dev/null
eq "kiln show --json > /dev/full: exit 3" 3 "$?"
# A FIFO named like a pipeline (nobody writing to it) is an empty file,
# not a kiln blocked for ever in open(), deaf to SIGTERM.
mkdir -p "$T/fifodir"
cp "$T/good.yaml" "$T/fifodir/good.yaml"
mkfifo "$T/fifodir/fifo.yaml"
timeout 10 "$KILN" validate "$T/fifodir/fifo.yaml" > /dev/null 2> "$T/err"
eq "kiln validate FIFO: exit 2" 2 "$?"
contains "...an empty file" "fifo.yaml:1:1: error: the file is empty" "$(cat "$T/err")"
serve fifo.log "$T/fifodir"
wait_for "kiln serve loads the directory past the FIFO" 10 'grep -q "1 pipeline loaded" "$T/fifo.log"'
contains "...saying it skipped it" "fifo.yaml is not a valid pipeline; skipped" "$(cat "$T/fifo.log")"
kill -TERM "$daemon"
wait_for "and stops on SIGTERM" 10 '! kill -0 "$daemon" 2>/dev/null'
# A step's output or input that is not a file is never opened: hashing
# a FIFO waited for ever for a writer, and a symlink to /dev/zero was read
# for ever, deaf to SIGTERM, the run left recorded running. (timeout -k:
# a kiln that hangs so fails here instead of hanging the suite.)
pipeline fifo-out <<'YAML'
pipeline: fifo-out
steps:
  fifo: {run: "rm -f f.out; mkfifo f.out", outputs: [f.out]}
YAML
kiln_rc_timed() { timeout -k 5 20 "$KILN" "$@" >"$T/out" 2>"$T/err"; rc=$?
                  out=$(cat "$T/out"); err=$(cat "$T/err"); }
kiln_rc_timed run "$T/fifo-out.yaml"; eq "a FIFO as output: exit 1" 1 "$rc"
contains "...saying what it is" \
    'step "fifo" failed: declared output f.out is a FIFO, not a file' "$out"
eq "...the run recorded failed" "failed|failed" \
    "$(q "select r.status, e.status from runs r join executions e on e.run_id = r.id where r.pipeline = 'fifo-out'")"
pipeline zero-out <<'YAML'
pipeline: zero-out
steps:
  zero: {run: "ln -sf /dev/zero n.out", outputs: [n.out]}
YAML
kiln_rc_timed run "$T/zero-out.yaml"
eq "a symlink to /dev/zero as output: exit 1" 1 "$rc"
contains "...saying what it is" "declared output n.out is a symlink to a character device (/dev/zero), not a file" "$out"
eq "...the run recorded failed" "failed" \
    "$(q "select status from runs where pipeline = 'zero-out'")"
pipeline fifo-dir <<'YAML'
pipeline: fifo-dir
steps:
  d: {run: "rm -rf od; mkdir od; echo x > od/a; mkfifo od/p", outputs: [od/]}
YAML
kiln_rc_timed run "$T/fifo-dir.yaml"
eq "a FIFO in an output directory: exit 1" 1 "$rc"
contains "...naming it" "declared output od/p is a FIFO, not a file" "$out"
mkfifo "$T/in.fifo"
pipeline fifo-in <<'YAML'
pipeline: fifo-in
steps:
  reads: {run: "echo ok > r.out", inputs: [in.fifo], outputs: [r.out]}
YAML
kiln_rc_timed run --dry-run "$T/fifo-in.yaml"
eq "a FIFO as input: dry run exit 0" 0 "$rc"
contains "...warned of" '"in.fifo": '"$T"'/in.fifo is a FIFO, not a file; kiln does not hash it' "$err"
kiln_rc_timed run "$T/fifo-in.yaml"; eq "...run: exit 0" 0 "$rc"
contains "...warned of" "in.fifo is a FIFO, not a file; kiln does not hash it" "$err"
eq "...the run recorded ended" "succeeded" \
    "$(q "select status from runs where pipeline = 'fifo-in'")"
kiln_rc logs "$(q "select id from runs where pipeline = 'fifo-in'")" reads
contains "...and in the step's log" \
    "kiln: warning: input in.fifo is a FIFO, not a file: not hashed" "$out"
# Its key is that of the step without the input: it is neither kept in
# the cache (a run where in.fifo is missing was served that entry) nor
# served from it, and kiln why and a dry run say so.
fifo_run=$(q "select id from runs where pipeline = 'fifo-in'")
kiln_rc_timed why "$fifo_run" reads
contains "...kiln why says why it was not cached" \
    "it ran: not cached: input in.fifo is a FIFO, not a file" "$out"
kiln_rc_timed run --dry-run "$T/fifo-in.yaml"
contains "...a dry run says it would run, and why" \
    "would run: not cached: input in.fifo is a FIFO, not a file" "$out"
kiln_rc_timed run "$T/fifo-in.yaml"
eq "...run again, it ran again" "succeeded succeeded" \
    "$(q "select e.status from executions e join runs r on r.id = e.run_id where r.pipeline = 'fifo-in' order by e.id" | tr '\n' ' ' | sed 's/ $//')"
rm "$T/in.fifo"
kiln_rc_timed run "$T/fifo-in.yaml"
eq "...and without the input it is not served what the FIFO's run made" \
    "succeeded succeeded succeeded" \
    "$(q "select e.status from executions e join runs r on r.id = e.run_id where r.pipeline = 'fifo-in' order by e.id" | tr '\n' ' ' | sed 's/ $//')"
kiln_rc frobnicate; eq "unknown command" 2 "$rc"
kiln_rc run "$T/missing.yaml"; eq "missing file" 2 "$rc"
kiln_rc validate "$T/missing.yaml"; eq "validate: missing file" 2 "$rc"
kiln_rc dag "$T/missing.yaml"; eq "dag: missing file" 2 "$rc"
kiln_rc validate "$T"; eq "validate: a directory" 2 "$rc"
ln -s "$T/loop-b" "$T/loop-a"; ln -s "$T/loop-a" "$T/loop-b"
kiln_rc run "$T/loop-a"; eq "run: a symlink loop" 2 "$rc"
contains "...named as such" "Too many levels of symbolic links" "$err"
touch "$T/plainfile"
kiln_rc run "$T/good.yaml" --state "$T/plainfile/state"
eq "state not writable" 3 "$rc"
contains "says why" "cannot create directory" "$err"
kiln_rc show 999; eq "no such run" 2 "$rc"
kiln_rc show abc; eq "bad run id" 2 "$rc"
kiln_rc runs --state "$T/nowhere"; eq "no records" 2 "$rc"
# A dry run changes nothing, not even a migration: an empty kiln.db stays
# empty, and kiln says which command upgrades it.
mkdir -p "$T/zero"; : > "$T/zero/kiln.db"
kiln_rc gc --dry-run --state "$T/zero"; eq "gc --dry-run on an unmigrated db: exit 3" 3 "$rc"
kiln_rc gc --runs --dry-run --state "$T/zero"; eq "gc --runs --dry-run too" 3 "$rc"
contains "...saying what upgrades it" "a kiln command that writes" "$err"
eq "...and kiln.db untouched" 0 "$(stat -c %s "$T/zero/kiln.db")"
# A kiln.db that is a directory: said so, not SQLite's "disk I/O error".
mkdir -p "$T/dirdb/kiln.db"
kiln_rc runs --state "$T/dirdb"; eq "kiln.db a directory: runs exit 3" 3 "$rc"
contains "...saying what it is" "kiln.db is not a file (it is a directory)" "$err"
kiln_rc run "$T/good.yaml" --state "$T/dirdb"; eq "...run exit 3" 3 "$rc"
contains "...saying so too" "kiln.db is not a file (it is a directory)" "$err"
# --state "$UNSET" would fall back to $KILN_STATE or .kiln: refused.
kiln_rc runs --state ""; eq "an empty --state" 2 "$rc"
contains "...saying so" "--state expects DIR, got an empty value" "$err"
kiln_rc run "$T/good.yaml" --state=; eq "run --state=" 2 "$rc"

# A database locked by another process for too long: exit 3.
# The kiln starts once the lock is held (a loaded machine may take more
# than a second to start sqlite3).
sqlite3 "$KILN_STATE/kiln.db" "BEGIN EXCLUSIVE;" \
    ".shell touch '$T/locked'; sleep 13" &
locker=$!
wait_for "the lock taken" 20 '[ -e "$T/locked" ]'
kiln_rc run "$T/good.yaml"
eq "database locked" 3 "$rc"
contains "says locked" "locked" "$err"
kill $locker 2>/dev/null; wait $locker 2>/dev/null
finish
