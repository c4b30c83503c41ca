# Two kiln processes on one state directory: both record, nothing corrupt.
. "$(dirname "$0")/lib.sh"
pipeline many <<'YAML'
pipeline: many
steps:
  a: {run: "true"}
  b: {run: "true", needs: [a]}
  c: {run: "true", needs: [a]}
  d: {run: "true", needs: [b, c]}
YAML
pids=()
for i in 1 2 3 4; do
    "$KILN" run "$T/many.yaml" --jobs 2 >"$T/out$i" 2>&1 &
    pids+=($!)
done
status=0
for p in "${pids[@]}"; do wait "$p" || status=$?; done
eq "all four runs succeeded" 0 "$status"
eq "four runs recorded" "4" "$(q "select count(*) from runs where status='succeeded'")"
eq "distinct ids" "1 2 3 4" "$(q 'select id from runs order by id' | tr '\n' ' ' | sed 's/ $//')"
eq "16 step executions" "16" "$(q "select count(*) from executions where status='succeeded'")"
eq "integrity" ok "$(q 'pragma integrity_check')"
finish
