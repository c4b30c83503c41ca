#!/usr/bin/env bash
# tests/bench/overhead.sh: kiln's per-step overhead against make.
#
# Generates 1,000-step DAGs of `true` in three shapes and runs each with
# kiln run --jobs 2 (recording every step in SQLite) and with make -j2,
# printing wall seconds and milliseconds per step for both.
#   chain   s1 <- s2 <- ... <- s1000
#   fan     one root, 998 parallel steps, one join
#   layers  30 layers; each step needs every step of the layer before
# Usage: tests/bench/overhead.sh [path/to/kiln] [steps] [base directory]
#
# kiln creates one log file per step attempt; on some file systems (ext4
# without a journal, as on the CI machines) creating a file costs more
# than starting `true`. Run it once with a base directory on tmpfs
# (/dev/shm) to see kiln's own overhead apart from the file system's.
set -euo pipefail
kiln=${1:-$(dirname "$0")/../../build/kiln}
kiln=$(realpath "$kiln")
n=${2:-1000}
base=${3:-/tmp}
dir=$(mktemp -d "$base/kiln-bench.XXXXXX")
trap 'rm -rf "$dir"' EXIT
echo "state and logs in $dir ($(stat -f -c %T "$dir"))"

# gen SHAPE: write $dir/SHAPE.yaml and $dir/SHAPE.mk.
gen() {
    local shape=$1 y=$dir/$1.yaml m=$dir/$1.mk
    printf 'pipeline: %s\nsteps:\n' "$shape" > "$y"
    printf '.PHONY: all\nall: s%d\n' "$n" > "$m"
    local i needs
    case $shape in
    chain)
        for ((i = 1; i <= n; i++)); do
            needs=""; [ $i -gt 1 ] && needs="s$((i - 1))"
            printf '  s%d: {run: "true", needs: [%s]}\n' $i "$needs" >> "$y"
            printf '.PHONY: s%d\ns%d: %s\n\t@true\n' $i $i "$needs" >> "$m"
        done ;;
    fan)
        printf '  s1: {run: "true"}\n' >> "$y"
        printf '.PHONY: s1\ns1:\n\t@true\n' >> "$m"
        local all=""
        for ((i = 2; i < n; i++)); do
            printf '  s%d: {run: "true", needs: [s1]}\n' $i >> "$y"
            printf '.PHONY: s%d\ns%d: s1\n\t@true\n' $i $i >> "$m"
            all="$all s$i"
        done
        printf '  s%d: {run: "true", needs: [%s]}\n' $n "$(echo $all | tr ' ' ',')" >> "$y"
        printf '.PHONY: s%d\ns%d:%s\n\t@true\n' $n $n "$all" >> "$m" ;;
    layers)
        local layers=30 per=$(( (n + 29) / 30 )) prev="" cur k=0
        for ((l = 0; l < layers && k < n; l++)); do
            cur=""
            for ((j = 0; j < per && k < n; j++)); do
                k=$((k + 1))
                printf '  s%d: {run: "true", needs: [%s]}\n' $k "$(echo $prev | tr ' ' ',')" >> "$y"
                printf '.PHONY: s%d\ns%d: %s\n\t@true\n' $k $k "$prev" >> "$m"
                cur="$cur s$k"
            done
            prev=$cur
        done
        # make's default goal must reach every step: depend on the last layer.
        printf '.PHONY: all2\nall2: %s\n' "$prev" >> "$m"
        sed -i "s/^all: s$n\$/all: all2/" "$m" ;;
    esac
}

ms() { date +%s%N | cut -c1-13; }

printf '%-8s %6s  %10s %10s  %10s %10s  %6s\n' shape steps \
    "kiln s" "kiln ms/st" "make s" "make ms/st" ratio
for shape in chain fan layers; do
    gen $shape
    t0=$(ms)
    "$kiln" run "$dir/$shape.yaml" --jobs 2 --state "$dir/state-$shape" \
        > /dev/null 2>&1
    t1=$(ms)
    make -s -j2 -f "$dir/$shape.mk" > /dev/null
    t2=$(ms)
    recorded=$(sqlite3 "$dir/state-$shape/kiln.db" \
        "select count(*) from executions where status='succeeded'")
    [ "$recorded" = "$n" ] || { echo "only $recorded steps recorded" >&2; exit 1; }
    k=$((t1 - t0)); m=$((t2 - t1))
    awk -v s=$shape -v n=$n -v k=$k -v m=$m 'BEGIN {
        printf "%-8s %6d  %10.2f %10.2f  %10.2f %10.2f  %6.2f\n",
               s, n, k / 1000, k / n, m / 1000, m / n, k / m }'
done
