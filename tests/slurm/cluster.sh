# The single-node Slurm cluster the Slurm tests share (a CTest fixture):
#   cluster.sh start   start it unless it runs already; a cluster this
#                      script started is marked, so that
#   cluster.sh stop    stops only a cluster the tests started (one that
#                      contrib/test.sh or a developer started is left alone).
# Never fails: when the cluster cannot start, the tests skip and say why.
set -u
: "${KILN_SRC:?}" "${KILN_SLURM_MARK:?}"
S=$KILN_SRC/contrib/slurm/local-cluster.sh
case ${1:-} in
start)
    if bash "$S" status 2>/dev/null; then
        echo "cluster already running: the tests use it and leave it up"
        exit 0
    fi
    if bash "$S" start >/dev/null; then
        touch "$KILN_SLURM_MARK"
    else
        echo "could not start the local Slurm cluster; the Slurm tests skip"
    fi
    ;;
stop)
    if [ -e "$KILN_SLURM_MARK" ]; then
        rm -f "$KILN_SLURM_MARK"
        bash "$S" stop
    fi
    ;;
esac
exit 0
