#!/usr/bin/env bash
# tests/bench/drift.sh: kiln drift on 1,000,000 rows x 10 numeric columns
# against a reference of the same size. Target: under 2 s.
# Usage: tests/bench/drift.sh [path/to/kiln] [rows]
set -euo pipefail
kiln=$(realpath "${1:-$(dirname "$0")/../../build/kiln}")
rows=${2:-1000000}
dir=$(mktemp -d /tmp/kiln-drift-bench.XXXXXX)
trap 'rm -rf "$dir"' EXIT
gen() {
    awk -v n="$rows" -v seed="$1" -v shift="$2" 'BEGIN {
        srand(seed)
        print "c0,c1,c2,c3,c4,c5,c6,c7,c8,c9"
        for (i = 0; i < n; i++) {
            line = ""
            for (j = 0; j < 10; j++)
                line = line (j ? "," : "") sprintf("%.4f", rand() * 100 + shift * j)
            print line
        }
    }' > "$3"
}
gen 1 0 "$dir/ref.csv"
gen 2 0.5 "$dir/cur.csv"
echo "files: $(du -h "$dir/ref.csv" | cut -f1) each, $rows rows x 10 numeric columns"
best=999999
for _ in 1 2 3; do
    t0=$(date +%s%N)
    "$kiln" drift --reference "$dir/ref.csv" --current "$dir/cur.csv" > /dev/null
    t1=$(date +%s%N)
    ms=$(((t1 - t0) / 1000000))
    [ $ms -lt $best ] && best=$ms
done
echo "kiln drift: $best ms (best of 3, whole command)"
