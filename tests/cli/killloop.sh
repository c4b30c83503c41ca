# tests/cli/killloop.sh: kill -9 of kiln at random moments of a
# multi-layer run, and at the fault points kiln names (KILN_CRASH: right
# after an attempt is recorded, right after its process is spawned, while
# artifacts are hashed, while cached outputs are restored, with a step's
# $KILN_UPSTREAM opened and not yet written...), then
# recovery, again and again. After each iteration, from counter files the
# steps write: no step ran twice, none that finished ran again, every
# process that ran has its execution recorded, the run ended succeeded,
# and the database passes integrity_check.
#
# Sourced by test-killloop-serve.sh (kiln serve, restarted) and
# test-killloop-run.sh (kiln run, then kiln resume). MODE is serve or run;
# KILL_ITERATIONS (default 20) and KILL_SEED (default 12) may be set.
. "$(dirname "$0")/lib.sh"
ITER=${KILL_ITERATIONS:-20}
RANDOM=${KILL_SEED:-12}
POINTS=(attempt-recorded spawned started hashed restoring restored
        attempt-ended upstream-opened)
W=$T/work
mkdir -p "$W/in" "$W/counts"
# Three layers; branch x reads an input that changes every iteration
# (its steps run), branch y one that never does (its steps are restored
# from the cache after the first iteration), z joins them.
{
    echo "pipeline: kl"
    echo "steps:"
    step() { # NAME NEEDS INPUTS
        echo "  $1:"
        [ -n "$2" ] && echo "    needs: [$2]"
        echo "    run: \"sh -c 'echo \$KILN_RUN_ID >> counts/$1; grep -q ^]} \${KILN_UPSTREAM:-whole.json} || exit 9; sleep 0.\$((\$\$ % 3)); cat ${3//,/} > res/$1.txt; echo $1 >> res/$1.txt'\""
        echo "    inputs: [$3]"
        echo "    outputs: [res/$1.txt]"
    }
    for b in x y; do
        step ${b}1 "" in/$b.txt
        step ${b}2a ${b}1 res/${b}1.txt
        step ${b}2b ${b}1 res/${b}1.txt
        step ${b}3 "${b}2a, ${b}2b" "res/${b}2a.txt, res/${b}2b.txt"
    done
    step z "x3, y3" "res/x3.txt, res/y3.txt"
} > "$W/kl.yaml"
mkdir -p "$W/res"
echo steady > "$W/in/y.txt"
# Each step with needs checks that its $KILN_UPSTREAM is whole (its last
# line closes the document; a file left empty by a crash after it was
# opened is written again, not reused); the others read this one.
echo ']}' > "$W/whole.json"
STEPS=(x1 x2a x2b x3 y1 y2a y2b y3 z)

# One process of kiln working on the run, with crash (a KILN_CRASH value,
# or "") and killed after delay_ms unless it ends first; waits for it.
# $id is the run (known once it exists).
attempt() {
    local crash=$1 delay_ms=$2 pid
    if [ "$MODE" = serve ]; then
        KILN_CRASH=$crash "$KILN" serve --state "$KILN_STATE" \
            --listen 127.0.0.1:0 "$W/kl.yaml" \
            >>"$T/serve.log" 2>&1 &
        pid=$!
        if [ -z "$id" ]; then
            for _ in $(seq 50); do [ -f "$KILN_STATE/web.url" ] ||
                [ -d "$KILN_STATE/inbox" ] && break; sleep 0.1; done
            "$KILN" trigger kl >/dev/null 2>&1
        fi
    elif [ -z "$id" ]; then
        (cd "$W" && KILN_CRASH=$crash exec "$KILN" run kl.yaml \
            >>"$T/run.log" 2>&1) &
        pid=$!
    else
        KILN_CRASH=$crash "$KILN" resume "$id" >>"$T/run.log" 2>&1 &
        pid=$!
    fi
    # Kill after delay_ms, or when the run has ended (serve keeps going).
    local waited=0
    while kill -0 $pid 2>/dev/null; do
        [ -n "$id" ] || new_id
        if [ -n "$id" ] && [ "$(q "select status from runs where id = $id" 2>/dev/null)" = succeeded ]; then
            break
        fi
        [ "$waited" -ge "$delay_ms" ] && break
        sleep 0.05
        waited=$((waited + 50))
    done
    kill -9 $pid 2>/dev/null
    wait $pid 2>/dev/null
    [ -n "$id" ] || new_id
}

# The iteration's run, once it exists: the first one after $prev.
new_id() {
    local m
    m=$(q "select coalesce(max(id), 0) from runs" 2>/dev/null)
    [ -n "$m" ] && [ "$m" -gt "$prev" ] && id=$m
}

for i in $(seq 1 "$ITER"); do
    rm -rf "$W/counts" "$W/res"
    mkdir -p "$W/counts" "$W/res"
    echo "$i" > "$W/in/x.txt"
    id=
    prev=$(q "select coalesce(max(id), 0) from runs" 2>/dev/null)
    prev=${prev:-0}
    # The first process crashes at a fault point (every other iteration)
    # or is killed at a random moment; the ones after it are killed at
    # random moments, then one is let finish.
    if [ $((i % 2)) = 1 ]; then
        point=${POINTS[$(( (i / 2) % ${#POINTS[@]} ))]}
        attempt "$point:$((RANDOM % 4 + 1))" 15000
    else
        attempt "" $((RANDOM % 2000))
    fi
    for k in 1 2; do
        [ "$(q "select status from runs where id = ${id:-0}")" = succeeded ] && break
        attempt "" $((RANDOM % 2500))
    done
    for k in 1 2 3; do
        [ "$(q "select status from runs where id = ${id:-0}")" = succeeded ] && break
        attempt "" 30000
    done
    st=$(q "select status from runs where id = ${id:-0}")
    eq "iteration $i: run $id ended succeeded" succeeded "$st"
    bad=
    for s in "${STEPS[@]}"; do
        ran=$(grep -cx "$id" "$W/counts/$s" 2>/dev/null)
        ran=${ran:-0}
        ok=$(q "select count(*) from executions where run_id = $id and step = '$s' and status = 'succeeded'")
        cached=$(q "select count(*) from executions where run_id = $id and step = '$s' and status = 'cached'")
        other=$(q "select count(*) from executions where run_id = $id and step = '$s' and status not in ('succeeded', 'cached') and reason not like 'never started%'")
        # It ran at most once; every run of it is its one succeeded
        # execution; a step that did not run was restored from the cache.
        if [ "$ran" -gt 1 ] || [ "$ok" != "$ran" ] ||
           [ $((ok + cached)) != 1 ] || [ "$other" != 0 ]; then
            bad="$bad $s(ran=$ran ok=$ok cached=$cached other=$other)"
        fi
        [ "$(tail -1 "$W/res/$s.txt" 2>/dev/null)" = "$s" ] ||
            bad="$bad $s(output)"
    done
    eq "iteration $i: every step ran at most once and is recorded" "" "$bad"
    eq "iteration $i: integrity" ok "$(q "pragma integrity_check")"
done
eq "some steps were restored from the cache" 1 \
    "$(q "select count(*) > 0 from executions where status = 'cached'")"
finish
