#!/usr/bin/env bash
# tests/bench/slurm.sh: kiln's per-step overhead on Slurm.
#
# Runs one pipeline of N independent `true` steps with executor: slurm
# (N = 50 by default) and, as the baseline, the same N jobs submitted with
# plain sbatch and waited for with squeue. Prints wall seconds for both,
# the mean submit-to-recorded-end time of a kiln step, and kiln's overhead
# per step: (kiln wall - sbatch wall) / N.
# Needs a cluster: SLURM_CONF set, or contrib/slurm/local-cluster.sh
# running (it is started, as root, when it is not, and stopped after).
# Usage: tests/bench/slurm.sh [path/to/kiln] [steps]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
kiln=$(realpath "${1:-$here/../../build/kiln}")
n=${2:-50}
cluster=$here/../../contrib/slurm/local-cluster.sh
started=0
if [ -z "${SLURM_CONF:-}" ]; then
    if bash "$cluster" status 2>/dev/null; then
        eval "$(bash "$cluster" env)"
    else
        eval "$(bash "$cluster" start)"
        started=1
    fi
fi
export SLURM_CONF
dir=$(mktemp -d /tmp/kiln-bench-slurm.XXXXXX)
trap 'rm -rf "$dir"; [ $started = 0 ] || bash "$cluster" stop' EXIT
ms() { date +%s%3N; }

# Baseline: N jobs with sbatch, then squeue until none is left.
t0=$(ms)
ids=""
for ((i = 1; i <= n; i++)); do
    ids="$ids,$(sbatch --parsable -o "$dir/raw-%j.log" --chdir "$dir" --wrap true)"
done
ids=${ids#,}
while squeue -h -j "$ids" -o %T 2>/dev/null | grep -q .; do sleep 0.1; done
t1=$(ms)

printf 'pipeline: bench\ndefaults: {executor: slurm}\nsteps:\n' > "$dir/bench.yaml"
for ((i = 1; i <= n; i++)); do
    printf '  s%d: {run: "true"}\n' $i >> "$dir/bench.yaml"
done
t2=$(ms)
KILN_STATE=$dir/state "$kiln" run --jobs 2 "$dir/bench.yaml" >/dev/null 2>&1
t3=$(ms)
ok=$(sqlite3 "$dir/state/kiln.db" "select count(*) from executions where status = 'succeeded' and executor = 'slurm'")
mean=$(sqlite3 "$dir/state/kiln.db" "select round(avg(finished_at - started_at)) from executions")
[ "$ok" = "$n" ] || { echo "only $ok of $n steps succeeded" >&2; exit 1; }
awk -v n="$n" -v raw=$((t1 - t0)) -v k=$((t3 - t2)) -v mean="$mean" 'BEGIN {
    printf "%d trivial jobs: sbatch+squeue %.2f s, kiln run %.2f s\n", n, raw / 1000, k / 1000
    printf "kiln step, submit to recorded end: %d ms on average\n", mean
    printf "kiln overhead per step: %.1f ms ((kiln - sbatch) / %d)\n", (k - raw) / n, n
}'
