# kill -9 of kiln serve at random moments and fault points of a run,
# restarted each time (see killloop.sh).
MODE=serve
. "$(dirname "$0")/killloop.sh"
