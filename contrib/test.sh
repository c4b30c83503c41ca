#!/usr/bin/env bash
# contrib/test.sh: install what is missing, build kiln, run every test.
#
#   contrib/test.sh                 build in build/ and run CTest
#   KILN_SANITIZE=1 contrib/test.sh  the same under AddressSanitizer + UBSan
#                                   (in build-asan/)
# With clang present it also builds the libFuzzer target and fuzzes the
# pipeline parser briefly (build-fuzz/). As root it starts a single-node
# Slurm cluster (contrib/slurm/local-cluster.sh) for the Slurm tests, and
# says so when it cannot and they skip.
set -euo pipefail
cd "$(dirname "$0")/.."
. contrib/deps.sh
kiln_test_deps

jobs=$(nproc 2>/dev/null || echo 2)
if [ "${KILN_SANITIZE:-0}" = 1 ]; then
    dir=build-asan
    cmake -S . -B "$dir" -DKILN_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
else
    dir=build
    cmake -S . -B "$dir" -DKILN_WERROR=ON
fi
cmake --build "$dir" -j "$jobs"

if command -v clang >/dev/null; then
    CC=clang cmake -S . -B build-fuzz -DKILN_FUZZ=ON >/dev/null
    cmake --build build-fuzz -j "$jobs" --target fuzz-dsl fuzz-expr
    ctest --test-dir build-fuzz --output-on-failure -R fuzz
else
    echo "kiln: clang not found: skipping the fuzz target" >&2
fi

# playwright-core for the browser test (tests/web/test-ui.sh), as pinned in
# tests/web/package-lock.json. The browser test is part of the suite here:
# it must run, not skip (KILN_OFFLINE=1 lets it skip when npm's registry is
# out of reach).
if ! (cd tests/web && npm ci --no-audit --no-fund --loglevel=error); then
    if [ "${KILN_OFFLINE:-0}" != 1 ]; then
        echo "kiln: npm ci failed in tests/web (KILN_OFFLINE=1 skips the browser test)" >&2
        exit 1
    fi
    echo "kiln: npm ci failed in tests/web: web/test-ui will be skipped" >&2
else
    export KILN_REQUIRE_BROWSER=1
fi

# The Slurm tests need a real cluster: start the single-node one here
# (root, Debian 12) so they run, and stop it after. Without it they skip.
cluster=contrib/slurm/local-cluster.sh
started_cluster=0
if bash "$cluster" status 2>/dev/null; then
    echo "kiln: using the Slurm cluster already running" >&2
elif [ "$(id -u)" = 0 ] && bash "$cluster" start >/dev/null; then
    started_cluster=1
    trap 'bash "$cluster" stop' EXIT
else
    echo "kiln: SKIPPING the Slurm tests: could not start a local Slurm" \
         "cluster (needs root and Debian's slurmctld, slurmd, munge)" >&2
fi

ctest --test-dir "$dir" --output-on-failure -j "$jobs"
[ $started_cluster = 0 ] || echo "kiln: the Slurm tests ran on the local cluster" >&2
