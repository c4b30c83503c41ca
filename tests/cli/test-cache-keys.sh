# The step cache never serves one step another's outputs: steps with the
# same command text but other names, pipelines or declared outputs have
# other keys, a restore puts back exactly the step's own declared
# outputs, and an entry whose recorded outputs are not the step's is a
# miss (issue 12, point 1).
. "$(dirname "$0")/lib.sh"
cd "$T"
# The same command in two pipelines; each step writes its own file.
CMD='mkdir -p res && echo "made by $KILN_PIPELINE.$KILN_STEP" > res/$KILN_STEP.txt && echo run >> $KILN_STEP.count'
pipeline one <<YAML
pipeline: one
steps:
  a: {run: '$CMD', outputs: [res/a.txt]}
YAML
pipeline two <<YAML
pipeline: two
steps:
  b: {run: '$CMD', outputs: [res/b.txt]}
  reader: {needs: [b], run: 'cat res/b.txt > read.txt'}
YAML
kiln_rc run one.yaml; eq "pipeline one" 0 "$rc"; [ "$rc" = 0 ] || echo "$err" >&2
echo "stale, from long ago" > res/b.txt
kiln_rc run two.yaml; eq "pipeline two" 0 "$rc"
eq "b ran: not served a's output" "1" "$(wc -l < b.count)"
eq "b wrote its own output" "made by two.b" "$(cat res/b.txt)"
eq "the reader read b's output, not the stale file" "made by two.b" \
    "$(cat read.txt)"
eq "b is not recorded as cached" "succeeded" \
    "$(q "select status from executions where step = 'b'")"
eq "a's file untouched" "made by one.a" "$(cat res/a.txt)"

# Within one run: 30 steps with the same command each run and write
# their own output.
{
    echo "pipeline: many"
    echo "steps:"
    for i in $(seq 1 30); do
        echo "  s$i: {run: '$CMD', outputs: [res/s$i.txt]}"
    done
} > many.yaml
kiln_rc run many.yaml --jobs 4; eq "30 identical commands" 0 "$rc"
ran=0 right=0
for i in $(seq 1 30); do
    [ "$(cat s$i.count 2>/dev/null)" = run ] && ran=$((ran + 1))
    [ "$(cat res/s$i.txt 2>/dev/null)" = "made by many.s$i" ] &&
        right=$((right + 1))
done
eq "every step ran once" 30 "$ran"
eq "every step wrote its own output" 30 "$right"
eq "none recorded as cached" 0 \
    "$(q "select count(*) from executions e join runs r on r.id = e.run_id where r.pipeline = 'many' and e.status = 'cached'")"
# A second run of it is a hit for every step, each restoring its own.
rm -rf res
kiln_rc run many.yaml --jobs 4; eq "again" 0 "$rc"
right=0
for i in $(seq 1 30); do
    [ "$(cat res/s$i.txt 2>/dev/null)" = "made by many.s$i" ] &&
        right=$((right + 1))
done
eq "30 cached, each from its own step" 30 \
    "$(q "select count(*) from executions e join executions f on f.id = e.cached_from where e.run_id = 4 and f.step = e.step")"
eq "each restored its own output" 30 "$right"
check "nothing else restored" test "$(ls res | wc -l)" = 30

# An entry whose recorded outputs are not the step's declared ones is a
# miss: here the entry's file list is tampered with in the record.
pipeline c <<'YAML'
pipeline: c
steps:
  make: {run: 'echo x > c.txt; echo run >> make.count', outputs: [c.txt]}
YAML
kiln_rc run c.yaml; eq "c first" 0 "$rc"
q "update cache_outputs set rel_path = 'elsewhere.txt' where execution_id = (select max(id) from executions where step = 'make')"
rm c.txt
kiln_rc run c.yaml; eq "c again" 0 "$rc"
eq "not restored from an entry of other files: it ran" "2" \
    "$(wc -l < make.count)"
check "and nothing else was written" test ! -e elsewhere.txt
finish
