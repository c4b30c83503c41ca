#!/usr/bin/env bash
# contrib/demo.sh: install what is missing, build kiln and run the example
# pipeline end to end.
set -euo pipefail
cd "$(dirname "$0")/.."
. contrib/deps.sh
kiln_deps

cmake -S . -B build >/dev/null
cmake --build build -j "$(nproc 2>/dev/null || echo 2)"
kiln=$PWD/build/kiln
state=$(mktemp -d /tmp/kiln-demo.XXXXXX)

echo
echo "== kiln validate examples/hello/pipeline.yaml"
"$kiln" validate examples/hello/pipeline.yaml
echo
echo "== kiln dag examples/hello/pipeline.yaml"
"$kiln" dag examples/hello/pipeline.yaml
echo
echo "== kiln run examples/hello/pipeline.yaml --param count=1000"
"$kiln" run examples/hello/pipeline.yaml --state "$state" --param count=1000
echo
echo "== kiln runs"
"$kiln" runs --state "$state"
echo
echo "== kiln show 1"
"$kiln" show 1 --state "$state"
echo
echo "== kiln logs 1 train"
"$kiln" logs 1 train --state "$state"
echo
echo "The run's records are in $state/kiln.db."
