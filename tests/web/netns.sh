# tests/web/netns.sh: sourced first by the browser tests. The test goes on
# in a network namespace of its own (unshare -rn: a loopback and nothing
# else), kiln serve and chromium with it: chromium fails the requests in
# flight (net::ERR_NETWORK_CHANGED), the event stream with them, whenever
# the host's interfaces change, as they do when containers come and go
# on a machine running other tests. Without unshare or ip, or where user
# namespaces are off, the test runs as it is.
if [ -z "${KILN_NETNS:-}" ] && command -v unshare >/dev/null &&
   command -v ip >/dev/null && unshare -rn true 2>/dev/null; then
    export KILN_NETNS=1
    exec unshare -rn bash -c 'ip link set lo up && exec bash "$0" "$@"' \
        "$0" "$@"
fi
