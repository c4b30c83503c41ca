#!/usr/bin/env bash
# tests/bench/sweep.sh: a 1,000-item sweep of trivial steps.
# Prints: expansion and validation time (kiln validate), the run time of
# the sweep against 1,000 independent steps in one pipeline (target:
# within 10 %), and kiln compare on the 1,000 items (target < 200 ms).
# Usage: tests/bench/sweep.sh [path/to/kiln] [items] [jobs]
set -euo pipefail
kiln=$(realpath "${1:-$(dirname "$0")/../../build/kiln}")
n=${2:-1000}
jobs=${3:-2}
dir=$(mktemp -d /tmp/kiln-sweep-bench.XXXXXX)
trap '[ -n "${KEEP:-}" ] || rm -rf "$dir"' EXIT
cd "$dir"
cat > sweep.yaml <<YAML
pipeline: sweep
params: {i: 0}
steps:
  item:
    matrix:
      i: {from: 1, to: $n, step: 1}
      max_items: $n
    cache: false
    run: |
      echo "{\"v\": \$KILN_PARAM_I}" > "\$KILN_METRICS"
YAML
{
    echo "pipeline: flat"
    echo "steps:"
    for i in $(seq 1 "$n"); do
        echo "  s$i: {cache: false, run: 'echo \"{\\\"v\\\": $i}\" > \"\$KILN_METRICS\"'}"
    done
} > flat.yaml
ms() { date +%s%3N; }
best() { sort -n | head -1; }
for _ in 1 2 3; do t0=$(ms); "$kiln" validate -q sweep.yaml; t1=$(ms); echo $((t1 - t0)); done | best > validate.ms
for _ in 1 2 3; do t0=$(ms); "$kiln" validate -q flat.yaml; t1=$(ms); echo $((t1 - t0)); done | best > validate-flat.ms
runtime() {
    local t0 t1
    t0=$(ms)
    "$kiln" run "$1" --state "st-$2" --jobs "$jobs" > /dev/null 2>&1
    t1=$(ms)
    echo $((t1 - t0))
}
sweep=$(runtime sweep.yaml a); flat=$(runtime flat.yaml b)
sweep2=$(runtime sweep.yaml c); flat2=$(runtime flat.yaml d)
[ "$sweep2" -lt "$sweep" ] && sweep=$sweep2
[ "$flat2" -lt "$flat" ] && flat=$flat2
for _ in 1 2 3; do
    t0=$(ms); "$kiln" compare --state st-a 1:item --sort item.v > compare.txt; t1=$(ms); echo $((t1 - t0))
done | best > compare.ms
items=$(($(wc -l < compare.txt) - 1))
printf 'kiln validate, %d items: %d ms (1,000 plain steps: %d ms)\n' "$n" "$(cat validate.ms)" "$(cat validate-flat.ms)"
printf 'kiln run --jobs %d: sweep %d ms, %d independent steps %d ms: %+.1f %%   (target: within 10 %%)\n' \
    "$jobs" "$sweep" "$n" "$flat" "$(awk -v a="$sweep" -v b="$flat" 'BEGIN { print (a - b) * 100 / b }')"
printf 'kiln compare RUN:item, %d rows: %d ms   (target < 200 ms)\n' "$items" "$(cat compare.ms)"
