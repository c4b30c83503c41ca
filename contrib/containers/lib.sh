# contrib/containers/lib.sh: helpers for the tests of container steps
# (tests/cli/test-container*.sh, tests/slurm/test-container*.sh), sourced
# after tests/cli/lib.sh (which makes $T and fail/ok):
#
#   ctr_require        skip (status 77) without podman or the test images;
#                      notes the containers that exist already
#   ctr_tag NAME IMG   point the tag NAME at IMG (podman tag; an existing
#                      NAME moves); the test's tags are removed when it ends
#   ctr_name WORD      a container name of this test's (kiln-t$$-WORD)
#   ctr_leftovers      prints this test's containers still there (podman ps
#                      -a): made since ctr_require, and named by ctr_name or
#                      mounting something under $T (as a step's working
#                      directory is), so that containers of other sessions
#                      on the machine do not count
#   ctr_check_clean    fails the test unless ctr_leftovers prints nothing
#
# CTest (fixture containers/setup, contrib/containers/test-image.sh) builds
# the images and sets, as this file does when run by hand:
#   CONTAINERS_CONF          contrib/containers/containers.conf
#   KILN_TEST_IMAGE          kiln-test:py (Debian 12, /usr/bin/python3)
#   KILN_TEST_IMAGE_VARIANT  kiln-test:variant (the same plus
#                            /etc/kiln-variant: another digest)
# The container tests hold CTest's resource lock "podman": no two run at
# once, so containers a test did not make are not its concern.
_ctr_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export CONTAINERS_CONF=${CONTAINERS_CONF:-$_ctr_dir/containers.conf}
export KILN_TEST_IMAGE=${KILN_TEST_IMAGE:-kiln-test:py}
export KILN_TEST_IMAGE_VARIANT=${KILN_TEST_IMAGE_VARIANT:-kiln-test:variant}

ctr_require() {
    if ! command -v podman >/dev/null; then
        echo "skipped: podman is not installed (contrib/deps.sh installs it)"
        exit 77
    fi
    local i
    for i in "$KILN_TEST_IMAGE" "$KILN_TEST_IMAGE_VARIANT"; do
        if ! podman image exists "$i"; then
            echo "skipped: no image $i (run" \
                 "contrib/containers/test-image.sh; CTest's fixture" \
                 "containers/setup does)"
            exit 77
        fi
    done
    podman ps -aq --no-trunc >"$T/ctr-before"
    : >"$T/ctr-tags"
}

ctr_tag() {
    podman tag "$2" "$1" && echo "$1" >>"$T/ctr-tags"
}

ctr_name() { echo "kiln-t$$-$1"; }

ctr_leftovers() {
    local id
    [ -e "$T/ctr-before" ] || : >"$T/ctr-before"
    for id in $(podman ps -aq --no-trunc | grep -v -x -F -f "$T/ctr-before"); do
        podman container inspect --format \
            '{{.Name}} {{range .Mounts}}{{.Source}} {{end}}' "$id" \
            2>/dev/null | grep -q -e "^kiln-t$$-" -e " $T/" -e " $T " ||
            continue
        podman ps -a --no-trunc --filter "id=$id" \
            --format '{{.ID}} {{.Names}} {{.Image}} {{.Status}}'
    done
}

ctr_check_clean() {
    local left
    left=$(ctr_leftovers)
    if [ -z "$left" ]; then ok
    else fail "containers left behind (podman ps -a): $left"; fi
}

_ctr_cleanup() {
    local n
    [ -s "$T/ctr-tags" ] || return 0
    sort -u "$T/ctr-tags" | while read -r n; do
        podman untag "$n" "$n" 2>/dev/null
    done
}
# Chained before tests/cli/lib.sh's cleanup, which removes $T.
if declare -F cleanup >/dev/null; then
    trap '_ctr_cleanup; cleanup' EXIT
else
    trap _ctr_cleanup EXIT
fi
