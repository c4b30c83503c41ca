# kill -9 of kiln run, then of kiln resume, at random moments and fault
# points of a run (see killloop.sh).
MODE=run
. "$(dirname "$0")/killloop.sh"
