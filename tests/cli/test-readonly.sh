# Read-only commands (kiln runs, show, logs, metrics, models, status,
# triggers, lineage) work without write access to the state: on a full
# disk and in a state directory the user cannot write (issue 12, point 7).
. "$(dirname "$0")/lib.sh"
mkdir -p "$T/p"
cat > "$T/p/p.yaml" <<'YAML'
pipeline: p
steps:
  a:
    run: "echo hello > a.txt; echo hello; printf '{\"acc\": 0.5}' > $KILN_METRICS"
    outputs: [a.txt]
YAML
reads() {
    local what=$1
    kiln_rc runs; eq "$what: runs" "0" "$rc"; contains "$what: runs lists it" "succeeded" "$out"
    kiln_rc show 1; eq "$what: show" "0" "$rc"; contains "$what: show" "run 1" "$out"
    kiln_rc logs 1 a; eq "$what: logs" "0 hello" "$rc $out"
    kiln_rc metrics; eq "$what: metrics" "0" "$rc"; contains "$what: metrics" "acc" "$out"
    kiln_rc models; eq "$what: models" "0" "$rc"
    kiln_rc status; eq "$what: status" "0" "$rc"
    kiln_rc triggers; eq "$what: triggers" "0" "$rc"
    kiln_rc lineage "$T/p/a.txt"; eq "$what: lineage" "0" "$rc"
}

# A full disk: a small tmpfs of our own (needs root; said when skipped).
M=$T/disk
mkdir -p "$M"
if [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=4m tmpfs "$M" 2>/dev/null; then
    trap 'umount "$M" 2>/dev/null; cleanup' EXIT
    export KILN_STATE=$M/state
    kiln_rc run "$T/p/p.yaml"; eq "a run to read" 0 "$rc"
    dd if=/dev/zero of="$M/fill" bs=64k >/dev/null 2>&1
    check "the disk is full" test "$(df --output=avail "$M" | tail -1)" -eq 0
    reads "full disk"
    kiln_rc run "$T/p/p.yaml"
    eq "a write on a full disk fails as kiln's own failure" 3 "$rc"
    rm -f "$M/fill"
    umount "$M"
else
    echo "note: not root or no tmpfs: the full-disk case is not checked" >&2
fi

# A state directory the user cannot write: made by root and read as
# nobody (root would write anyway), or made read-only when not root.
export KILN_STATE=$T/state
kiln_rc run "$T/p/p.yaml"; eq "a run to read" 0 "$rc"
if [ "$(id -u)" = 0 ]; then
    chmod -R a+rX "$T"
    as=(setpriv --reuid=65534 --regid=65534 --clear-groups)
    check "nobody cannot write the state directory" \
        "${as[@]}" sh -c "! touch '$KILN_STATE/x' 2>/dev/null"
    KILN_REAL=$KILN
    KILN=$T/as-nobody
    printf '#!/bin/sh\nexec %s %s "$@"\n' "${as[*]}" "$KILN_REAL" > "$KILN"
    chmod 755 "$KILN"
else
    chmod a-w "$KILN_STATE"
fi
reads "read-only state"
finish
