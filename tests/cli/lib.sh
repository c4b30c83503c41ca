# tests/cli/lib.sh: helpers for shell tests of the real kiln binary.
# CTest sets KILN (the binary) and KILN_SRC (the source tree).
set -u
: "${KILN:?KILN must point at the kiln binary}"
T=$(mktemp -d /tmp/kiln-test.XXXXXX)
export KILN_STATE=$T/state
unset KILN_TOKEN
fails=0
checks=0
cleanup() { rm -rf "$T"; }
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
ok() { checks=$((checks + 1)); }

# check DESCRIPTION COMMAND...: the command must succeed.
check() {
    local what=$1; shift
    if "$@"; then ok; else fail "$what"; fi
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

finish() {
    echo "$checks checks, $fails failed"
    [ "$fails" -eq 0 ]
    exit $?
}
