# A kill loop over deploy commands: kiln models promote killed with
# kill -9 at a random moment, again and again (before its record, before
# its command starts, while it runs, after it ended, while it waits for
# the one killed before), or at one of its fault points (KILN_CRASH),
# alternating versions of one alias. Once a last promote has settled whatever the killed ones
# left: every deploy is settled, each command ran at most once and only
# when its record says it started, every move whose command exited 0 is
# recorded and audited exactly once, and the alias points where the last
# of them left it.
. "$(dirname "$0")/lib.sh"
cd "$T"

rounds=${ROUNDS:-20}
# Each command's start and end, with its shell's pid (one per command).
cmd='echo "start $$ $2" >> loop.log; sleep "${DEPLOY_SLEEP:-0}"; echo "end $$ $2" >> loop.log'
pipeline reg <<YAML
pipeline: reg
params: {v: 1}
steps:
  make:
    kind: train
    run: mkdir -p kd && printf 'k %s\n' "\$KILN_PARAM_V" > kd/model.bin
    outputs: [kd/model.bin]
    register: {model: k, path: kd/model.bin, deploy: '$cmd'}
YAML
kiln_rc run reg.yaml --param v=1
eq "version 1" 0 "$rc"
kiln_rc run reg.yaml --param v=2
eq "version 2" 0 "$rc"

points=(deploy-recorded deploy-forked deploy-gated deploy-ended)
# (in a shell of its own, whose "Killed" notices go nowhere)
(for r in $(seq "$rounds"); do
    v=$((r % 2 + 1))
    # Every third round kills itself at one of the move's fault points.
    crash=
    [ $((r % 3)) = 0 ] && crash=${points[$((RANDOM % 4))]}:1
    KILN_CRASH=$crash DEPLOY_SLEEP=0.2 "$KILN" models promote k "$v" live \
        >/dev/null 2>&1 &
    pid=$!
    # Half the kills in its first 40 ms (before and around its record and
    # its gate), half anywhere in 400 (mostly while the command runs).
    sleep "0.$(printf '%03d' $((RANDOM % (r % 2 ? 40 : 400))))"
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
done) 2>/dev/null
# The last one settles what the killed ones left (waiting for any still
# running), then moves live to version 1.
kiln_rc models promote k 1 live
eq "the last promote" 0 "$rc"

eq "every deploy settled" 0 "$(q "select count(*) from deploys where outcome is null")"
eq "no status file left" "" "$(ls "$KILN_STATE/deploys")"
moved=$(q "select count(*) from deploys where model = 'k' and outcome = 'moved'")
check "some killed moves completed ($moved)" test "$moved" -ge 2
ends=$(grep -c '^end ' loop.log)
eq "one move recorded per command that ended" "$ends" "$moved"
eq "no command started twice" "" "$(grep '^start ' loop.log | sort | uniq -d)"
eq "every command that started ended (its shim outlived each kill)" \
    "$(grep -c '^start ' loop.log)" "$ends"
started=$(q "select count(*) from deploys where model = 'k' and pid is not null and detail != 'never started: kiln stopped first'")
eq "a command ran for each deploy recorded as started, none for the others" \
    "$started" "$(grep -c '^start ' loop.log)"
eq "never started: none of them moved anything" 0 \
    "$(q "select count(*) from deploys where detail like 'never started%' and outcome != 'failed'")"
eq "one alias.moved audit row per move" "$moved" \
    "$(q "select count(*) from audit where target = 'model k live' and action = 'alias.moved'")"
eq "the alias is where the last move left it" 1 \
    "$(q "select version from model_aliases where name = 'k' and alias = 'live' and rolled_back = 0 order by id desc limit 1")"
eq "...the version of the last deploy that moved it" 1 \
    "$(q "select version from deploys where outcome = 'moved' order by id desc limit 1")"
eq "the audit trail is intact" 0 "$("$KILN" audit verify >/dev/null 2>&1; echo $?)"
finish
