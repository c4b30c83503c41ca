#!/usr/bin/env bash
# contrib/deps.sh: install the Debian packages kiln needs, when missing.
# Sourced by demo.sh and test.sh (which adds kiln_test_deps); run it alone
# to set up a machine for building and testing.
# Usage: contrib/deps.sh [extra packages...]

kiln_deps() {
    local pkgs=(gcc make cmake pkg-config git sqlite3 clang python3 python3-sklearn python3-yaml python3-jsonschema procps tzdata curl
                libuv1-dev libyaml-dev libsqlite3-dev libgit2-dev
                libcurl4-openssl-dev libjansson-dev libssl-dev libh2o-dev libcsv-dev zlib1g-dev
                "$@")
    local missing=()
    for p in "${pkgs[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
            missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        echo "kiln: missing Debian packages: ${missing[*]}" >&2
        echo "kiln: run as root, or: sudo apt-get install ${missing[*]}" >&2
        return 1
    fi
    echo "kiln: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2 &&
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

# What the tests need besides: chromium for the browser test (tests/web),
# which runs playwright-core under node (any node will do: nvm,
# nodesource), and npm to install playwright-core; podman with runc and
# catatonit for the container tests, and mmdebstrap to build their image
# (contrib/containers/test-image.sh); prometheus for promtool, which
# checks /metrics and the example alert rules (tests/cli/test-metrics-prom;
# under systemd the package also starts a Prometheus server on :9090).
kiln_test_deps() {
    local extra=(chromium podman runc catatonit mmdebstrap prometheus)
    command -v node >/dev/null || extra+=(nodejs)
    command -v npm >/dev/null || extra+=(npm)
    kiln_deps "${extra[@]}" "$@"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -euo pipefail
    kiln_test_deps "$@"
fi
