# tests/slurm/lib.sh: tests/cli/lib.sh, plus the local Slurm cluster
# (tests/slurm/cluster.sh starts it as a CTest fixture). A test skips
# (exit 77) and says why when no cluster answers.
. "$(dirname "${BASH_SOURCE[0]}")/../cli/lib.sh"
CLUSTER=$KILN_SRC/contrib/slurm/local-cluster.sh
if ! bash "$CLUSTER" status >/dev/null 2>&1; then
    echo "SKIP: no local Slurm cluster (contrib/slurm/local-cluster.sh start" \
         "must run as root on Debian 12 with slurmctld, slurmd and munge)"
    exit 77
fi
eval "$(bash "$CLUSTER" env)"
export SLURM_CONF
# The Slurm state of job ID: "STATE REASON".
job_state() { squeue -h -t all -j "$1" -o "%T %r" 2>/dev/null; }
