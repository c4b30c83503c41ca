#!/usr/bin/env bash
# contrib/containers/test-image.sh: the images kiln's container tests run,
# built offline from Debian packages once and reused.
#
#   test-image.sh [build]          make kiln-test:py and kiln-test:variant
#                                  unless they exist
#   test-image.sh tag NAME IMAGE   point the tag NAME (kiln-test:other) at
#                                  IMAGE, moving it if it points elsewhere
#   test-image.sh untag NAME       remove the tag NAME (its image stays)
#   test-image.sh clean            remove the kiln-test images (the cached
#                                  tarball stays)
#   test-image.sh fixture          what CTest's containers/setup runs: build;
#                                  without podman say so and succeed (the
#                                  tests skip)
#
# kiln-test:py       Debian 12: mmdebstrap --variant=essential plus
#                    python3-minimal (/usr/bin/python3), imported with
#                    podman import
# kiln-test:variant  the same files plus /etc/kiln-variant: other content
#                    under another digest, for tests that re-point a tag
#
# The root file system tarball is kept in $KILN_TEST_IMAGE_CACHE
# (/var/cache/kiln-test as root, else ~/.cache/kiln-test), so images
# removed or a new podman storage are imported again without a download.
# mmdebstrap fetches the .debs from $KILN_DEBIAN_MIRROR (default
# deb.debian.org). Images carry a label naming their recipe: one made by
# another recipe is replaced. CONTAINERS_CONF defaults to containers.conf
# beside this script. A lock makes concurrent callers build once.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export CONTAINERS_CONF=${CONTAINERS_CONF:-$here/containers.conf}

PY=kiln-test:py
VARIANT=kiln-test:variant
SUITE=bookworm
# Change the revision when the image must be rebuilt.
RECIPE="$SUITE essential python3-minimal r1"
LABEL=kiln-test.recipe
if [ "$(id -u)" = 0 ]; then
    CACHE=${KILN_TEST_IMAGE_CACHE:-/var/cache/kiln-test}
else
    CACHE=${KILN_TEST_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kiln-test}
fi
ROOTFS=$CACHE/rootfs-$SUITE-essential-python3-minimal-r1.tar

say() { echo "test-image: $*"; }

# recipe_of IMAGE: the recipe label of IMAGE, empty when it has none or
# does not exist.
recipe_of() {
    podman image inspect --format "{{index .Labels \"$LABEL\"}}" "$1" \
        2>/dev/null || true
}

# rootfs: make $ROOTFS unless it is cached.
rootfs() {
    if [ -s "$ROOTFS" ]; then
        say "root file system: cached $ROOTFS"
        return
    fi
    command -v mmdebstrap >/dev/null || {
        say "mmdebstrap is not installed (contrib/deps.sh installs it)" >&2
        return 1
    }
    local t0=$SECONDS tmp=$ROOTFS.tmp.$$ log=$CACHE/mmdebstrap.log
    say "root file system: mmdebstrap --variant=essential" \
        "--include=python3-minimal $SUITE ..."
    if ! mmdebstrap --variant=essential --include=python3-minimal \
            --format=tar "$SUITE" "$tmp" ${KILN_DEBIAN_MIRROR:-} \
            >"$log" 2>&1; then
        rm -f "$tmp"
        cat "$log" >&2
        say "mmdebstrap failed (log above, kept in $log)" >&2
        return 1
    fi
    mv "$tmp" "$ROOTFS"
    say "root file system: built in $((SECONDS - t0)) s," \
        "$(du -h "$ROOTFS" | cut -f1) in $ROOTFS"
}

# import TAG RECIPE TARBALL: import TARBALL as TAG labelled RECIPE. An
# image TAG named before, when it carried a kiln-test recipe (made here),
# is removed unless something still uses it.
import() {
    local tag=$1 recipe=$2 tar=$3 old id t0=$SECONDS
    old=$(podman image inspect --format '{{.Id}}' "$tag" 2>/dev/null || true)
    [ -n "$old" ] && [ -n "$(recipe_of "$tag")" ] || old=
    id=$(podman import --quiet --change "LABEL $LABEL=\"$recipe\"" \
             --message "kiln test image: $recipe" "$tar" "$tag") || {
        say "$tag: podman import failed" >&2
        return 1
    }
    id=${id#sha256:}
    say "$tag: imported in $((SECONDS - t0)) s: ${id:0:12}" \
        "($(podman image inspect --format '{{.Digest}}' "$tag"))"
    if [ -n "$old" ] && [ "$old" != "$id" ]; then
        podman rmi "$old" >/dev/null 2>&1 &&
            say "$tag: removed its previous image ${old:0:12}" || true
    fi
}

build() {
    local want_variant="$RECIPE +/etc/kiln-variant"
    mkdir -p "$CACHE" || return 1
    exec 9>"$CACHE/lock"
    flock 9 || return 1
    if [ "$(recipe_of $PY)" = "$RECIPE" ] &&
       [ "$(recipe_of $VARIANT)" = "$want_variant" ]; then
        say "$PY and $VARIANT exist: reused"
        return
    fi
    rootfs || return 1
    if [ "$(recipe_of $PY)" = "$RECIPE" ]; then
        say "$PY exists: reused"
    else
        import $PY "$RECIPE" "$ROOTFS" || return 1
    fi
    if [ "$(recipe_of $VARIANT)" = "$want_variant" ]; then
        say "$VARIANT exists: reused"
    else
        # The same tarball with one more file appended: another layer,
        # another digest.
        local tmp
        tmp=$(mktemp -d "${TMPDIR:-/tmp}/kiln-test-image.XXXXXX") || return 1
        mkdir -p "$tmp/etc" &&
            echo "kiln test image variant" >"$tmp/etc/kiln-variant" &&
            cp "$ROOTFS" "$tmp/variant.tar" &&
            tar --append -f "$tmp/variant.tar" -C "$tmp" --owner=0 \
                --group=0 --numeric-owner --mtime=@0 ./etc/kiln-variant &&
            import $VARIANT "$want_variant" "$tmp/variant.tar"
        local rc=$?
        rm -rf "$tmp"
        return $rc
    fi
}

case ${1:-build} in
build)
    build
    ;;
fixture)
    if ! command -v podman >/dev/null; then
        say "podman is not installed: the container tests skip" \
            "(contrib/deps.sh installs it)"
        exit 0
    fi
    t0=$SECONDS
    # A process of its own, where set -e holds.
    if ! bash "$0" build; then
        if [ "${KILN_OFFLINE:-0}" = 1 ]; then
            say "no test image (KILN_OFFLINE=1): the container tests skip"
            exit 0
        fi
        say "could not make the test images (KILN_OFFLINE=1 lets the" \
            "container tests skip)" >&2
        exit 1
    fi
    say "ready in $((SECONDS - t0)) s with CONTAINERS_CONF=$CONTAINERS_CONF"
    # This script runs no container; say so when others are left over.
    left=$(podman ps -a --format '{{.ID}} {{.Names}} {{.Image}} {{.Status}}')
    if [ -n "$left" ]; then
        say "warning: containers not made by the tests exist:" >&2
        echo "$left" >&2
    fi
    ;;
tag)
    [ $# = 3 ] || { echo "usage: $0 tag NAME IMAGE" >&2; exit 2; }
    podman tag "$3" "$2"
    say "$2 -> $(podman image inspect --format '{{.Digest}}' "$2")"
    ;;
untag)
    [ $# = 2 ] || { echo "usage: $0 untag NAME" >&2; exit 2; }
    podman untag "$2" "$2"
    ;;
clean)
    # Every kiln-test:* name, then the images made here (by their label).
    for n in $(podman images --format '{{.Repository}}:{{.Tag}}' \
                   --filter reference=kiln-test); do
        podman untag "$n" "$n"
    done
    ids=$(podman images -q --filter "label=$LABEL")
    [ -z "$ids" ] || podman rmi $ids
    say "removed the kiln-test images; $CACHE stays"
    ;;
*)
    sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
