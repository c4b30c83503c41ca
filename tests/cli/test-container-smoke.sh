# Podman runs the container tests' images with the repository's
# containers.conf (CTest's fixture containers/setup builds them): python3
# in kiln-test:py, files written to a bind mount owned by the user running
# the test, kiln-test:variant with other content under another digest, a
# tag re-pointed from one to the other, nothing left in podman ps -a.
# Skipped without podman.
. "$(dirname "$0")/lib.sh"
. "$KILN_SRC/contrib/containers/lib.sh"
ctr_require
eq "CONTAINERS_CONF is the repository's" \
    "$KILN_SRC/contrib/containers/containers.conf" "$CONTAINERS_CONF"

run() { podman run --rm --name "$(ctr_name "$1")" "${@:2}"; }

eq "python3 in $KILN_TEST_IMAGE" 42 \
    "$(run py "$KILN_TEST_IMAGE" /usr/bin/python3 -c 'print(6*7)' 2>"$T/err")"
if [ -s "$T/err" ]; then fail "podman run wrote to stderr: $(cat "$T/err")"; fi

mkdir "$T/out"
run mount -v "$T/out:/out" -w /out "$KILN_TEST_IMAGE" \
    sh -c 'echo hello >f && mkdir d && echo x >d/g'
eq "written through the bind mount" hello "$(cat "$T/out/f" 2>&1)"
eq "owned by the user running the test" "$(id -u):$(id -g)" \
    "$(stat -c %u:%g "$T/out/f" "$T/out/d" "$T/out/d/g" | sort -u)"

eq "an exit status comes through" 3 \
    "$(run status "$KILN_TEST_IMAGE" sh -c 'exit 3'; echo $?)"

digest() { podman image inspect --format '{{.Digest}}' "$1"; }
py=$(digest "$KILN_TEST_IMAGE")
variant=$(digest "$KILN_TEST_IMAGE_VARIANT")
contains "$KILN_TEST_IMAGE has a digest" sha256: "$py"
check "the variant has another digest" [ "$py" != "$variant" ]
eq "the variant's extra file" "kiln test image variant" \
    "$(run variant "$KILN_TEST_IMAGE_VARIANT" cat /etc/kiln-variant)"
check "not in $KILN_TEST_IMAGE" \
    run nofile "$KILN_TEST_IMAGE" sh -c '! test -e /etc/kiln-variant'

tag=kiln-test:smoke-$$
ctr_tag "$tag" "$KILN_TEST_IMAGE"
eq "$tag at $KILN_TEST_IMAGE" "$py" "$(digest "$tag")"
ctr_tag "$tag" "$KILN_TEST_IMAGE_VARIANT"
eq "$tag re-pointed" "$variant" "$(digest "$tag")"
eq "the re-pointed tag runs the other content" "kiln test image variant" \
    "$(run tag "$tag" cat /etc/kiln-variant)"

ctr_check_clean
finish
