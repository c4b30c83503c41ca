# tests/cli/lib.sh: helpers for shell tests of the real kiln binary.
# CTest sets KILN (the binary) and KILN_SRC (the source tree).
set -u
: "${KILN:?KILN must point at the kiln binary}"
T=$(mktemp -d /tmp/kiln-test.XXXXXX)
export KILN_STATE=$T/state
unset KILN_TOKEN
fails=0
checks=0
daemons=()
# Daemons a test started are killed when it ends; KEEP=1 keeps $T.
cleanup() {
    for p in "${daemons[@]}"; do kill -9 "$p" 2>/dev/null; done
    [ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
ok() { checks=$((checks + 1)); }

# check DESCRIPTION COMMAND...: the command must succeed (its output,
# pids from pgrep, is not the test's).
check() {
    local what=$1; shift
    if "$@" >/dev/null; then ok; else fail "$what"; fi
}

# eq WHAT EXPECTED ACTUAL
eq() {
    if [ "$2" = "$3" ]; then ok
    else fail "$1: expected [$2], got [$3]"; fi
}

# contains WHAT NEEDLE HAYSTACK
contains() {
    case "$3" in
        *"$2"*) ok ;;
        *) fail "$1: [$2] not found in [$3]" ;;
    esac
}

# q SQL: query the test's kiln.db.
q() { sqlite3 "$KILN_STATE/kiln.db" "$1"; }

# kiln_rc ARGS...: run kiln, capture stdout/stderr in $out/$err, status in
# $rc.
kiln_rc() {
    "$KILN" "$@" >"$T/out" 2>"$T/err"
    rc=$?
    out=$(cat "$T/out")
    err=$(cat "$T/err")
}

# pipeline NAME <<YAML: write $T/NAME.yaml from stdin.
pipeline() { cat >"$T/$1.yaml"; }

now_ms() { date +%s%3N; }

# git_identity: tests that make repositories: skip without git; commits by
# a fixed author; no user or system configuration.
git_identity() {
    command -v git >/dev/null || exit 77
    export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.com
    export GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.com
    export HOME=$T GIT_CONFIG_NOSYSTEM=1
}

# churn_example: a copy of examples/churn in $T/churn without anything a
# run made there, as a Git repository of its own (runs are pinned to a
# commit, as in a user's project); the working directory is left there.
churn_example() {
    cp -r "$KILN_SRC/examples/churn" "$T/churn"
    rm -rf "$T/churn/data" "$T/churn/models" "$T/churn/reports" \
        "$T/churn/serving" "$T/churn/incoming/live.csv" \
        "$T/churn/incoming/batches/"*.csv "$T/churn/predictions" \
        "$T/churn/scores" "$T/churn/labels" "$T/churn/__pycache__"
    cd "$T/churn"
    git_identity
    git -c init.defaultBranch=main init -q .
    printf '%s\n' data/ models/ reports/ serving/ incoming/ predictions/ \
        scores/ labels/ __pycache__/ '*.log' > .gitignore
    git add -A && git commit -qm churn
}

# serve LOG ARGS...: start kiln serve on the test's state in the
# background, appending to $T/LOG; $daemon is its pid.
serve() {
    local log=$1 listen=(--listen 127.0.0.1:0); shift
    # Tests run side by side: any free port, unless the test picks one.
    case " $* " in *" --listen "*) listen=() ;; esac
    "$KILN" serve --state "$KILN_STATE" "${listen[@]}" "$@" >>"$T/$log" 2>&1 &
    daemon=$!
    daemons+=("$daemon")
}

# web_url: the running daemon's base URL (it writes STATE/web.url).
web_url() { cat "$KILN_STATE/web.url" 2>/dev/null; }

# wait_for WHAT SECONDS 'SHELL CONDITION': poll until it holds (a check).
wait_for() {
    local what=$1 secs=$2 cond=$3
    for _ in $(seq $((secs * 10))); do
        eval "$cond" >/dev/null 2>&1 && { ok; return 0; }
        sleep 0.1
    done
    fail "timed out waiting for: $what"
    return 1
}

# start_killed FILE: a kiln run of FILE killed with SIGKILL once one step
# runs (a check): its process started, as its recorded id says (a kill
# between the attempt's record and its start is another case: the step
# never started, and runs when the run is taken over); $id is its run.
start_killed() {
    "$KILN" run "$1" >/dev/null 2>&1 &
    local runner=$!
    wait_for "a step running" 5 \
        '[ "$(q "select count(*) from executions where status = '\''running'\'' and external_id is not null")" = 1 ]'
    id=$(q "select max(id) from runs")
    kill -9 $runner
    wait $runner 2>/dev/null
}

# stop PID: SIGTERM a daemon and wait for it; its status in $?.
stop() { kill -TERM "$1"; wait "$1"; }

# browser_check WHAT SCRIPT PATH: run tests/web/SCRIPT in chromium against
# a kiln serve of PATH on the test's state (a check named WHAT), started
# and stopped here; skipped, saying so, without a browser (a failure with
# KILN_REQUIRE_BROWSER).
browser_check() {
    local what=$1 script=$2 path=$3 w=$KILN_SRC/tests/web
    if [ -x /usr/bin/chromium ] && command -v node > /dev/null &&
       [ -d "$w/node_modules/playwright-core" ]; then
        rm -f "$KILN_STATE/web.url"
        serve "view-${script%.mjs}.log" "$path"
        wait_for "the web URL" 10 '[ -n "$(web_url)" ]'
        KILN_URL=$(web_url) KILN_WEB_SHOTS=${KILN_WEB_SHOTS:-$T/screenshots} \
            timeout 90 node "$w/$script"
        eq "$what" 0 "$?"
        stop "$daemon"
    elif [ -n "${KILN_REQUIRE_BROWSER:-}" ]; then
        fail "no browser (chromium, node, npm ci in tests/web) for: $what"
    else
        echo "not checked, no chromium, node or playwright-core: $what"
    fi
}

finish() {
    # A sanitizer build's daemons report memory errors and, when stopped,
    # leaks in their logs, not in their exit status.
    local report
    for report in $(grep -l -E "ERROR: (Address|Leak)Sanitizer|runtime error:" \
                        "$T"/*.log "$T"/*/*.log 2>/dev/null); do
        fail "a sanitizer report in ${report#"$T"/}:"
        grep -m3 -A8 -E "ERROR: (Address|Leak)Sanitizer|runtime error:" "$report" >&2
    done
    echo "$checks checks, $fails failed"
    [ "$fails" -eq 0 ]
    exit $?
}
