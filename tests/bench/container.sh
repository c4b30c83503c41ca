#!/usr/bin/env bash
# tests/bench/container.sh: kiln's cost per container step above podman's.
#
# Runs N trivial container steps (`true` in the test image), 2 at a time,
# with kiln run --jobs 2, and the same `podman run --rm --init` commands
# from a shell, 2 at a time (xargs -P2), printing wall seconds and the
# milliseconds per step each took, and kiln's overhead per step.
# Target: under 10 ms per step above podman's own cost.
# Usage: tests/bench/container.sh [path/to/kiln] [steps] [image]
# Needs podman and the test image (contrib/containers/test-image.sh);
# CONTAINERS_CONF defaults to contrib/containers/containers.conf.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
kiln=$(realpath "${1:-$here/../../build/kiln}")
n=${2:-50}
image=${3:-kiln-test:py}
export CONTAINERS_CONF=${CONTAINERS_CONF:-$here/../../contrib/containers/containers.conf}
command -v podman >/dev/null || { echo "podman is not installed" >&2; exit 1; }
podman image exists "$image" || { echo "no image $image (contrib/containers/test-image.sh)" >&2; exit 1; }
dir=$(mktemp -d /tmp/kiln-bench-ctr.XXXXXX)
trap 'rm -rf "$dir"' EXIT

{
    printf 'pipeline: ctr\ndefaults: {image: "%s"}\nsteps:\n' "$image"
    for ((i = 1; i <= n; i++)); do
        printf '  s%d: {run: "true", cache: false}\n' $i
    done
} > "$dir/ctr.yaml"

secs() { date +%s.%N; }

# podman alone: the same runs, 2 at a time.
t0=$(secs)
seq "$n" | xargs -P2 -I{} podman run --rm --init --pull=never \
    --name "bench-{}" "$image" true
t1=$(secs)
# kiln: one run, --jobs 2, every step recorded.
"$kiln" run "$dir/ctr.yaml" --jobs 2 --state "$dir/state" > /dev/null 2>&1
t2=$(secs)
left=$(podman ps -a --format '{{.Names}}' | grep -c -e '^kiln-' -e '^bench-' || true)

awk -v n="$n" -v t0="$t0" -v t1="$t1" -v t2="$t2" -v left="$left" 'BEGIN {
    p = t1 - t0; k = t2 - t1
    printf "%-10s %6s %10s %12s\n", "", "steps", "wall s", "ms per step"
    printf "%-10s %6d %10.2f %12.1f\n", "podman", n, p, 1000 * p / n
    printf "%-10s %6d %10.2f %12.1f\n", "kiln", n, k, 1000 * k / n
    printf "kiln overhead: %.1f ms per step (target: under 10)\n", 1000 * (k - p) / n
    printf "containers left behind: %d\n", left
}'
