#!/usr/bin/env bash
# tests/bench/overhead.sh: kiln's per-step overhead against make and ninja.
#
# Generates DAGs of steps that each write one file through /bin/sh
# (`: > out/sN`) in three shapes and runs each, side by side in one run,
# with kiln run --jobs 2 (recording every step's start and end in
# SQLite), make -j2 and ninja -j2, printing for each its wall seconds,
# milliseconds per step, peak resident memory and kiln's ratio to make
# and to ninja, with the targets of issue 20 beside them.
#   chain   s1 <- s2 <- ... <- sN
#   fan     one root, N-2 parallel steps, one join
#   layers  30 layers; each step needs the steps of the layer before
#           (all of them up to 34, which is every one at 1,000 steps;
#           34 of them, in turn, above: a dense 100,000-step DAG would
#           have 333 million edges)
#
# Usage: tests/bench/overhead.sh [options] [path/to/kiln] [steps] [base]
#   --sizes N,N...   step counts (default 1000; the chain runs at most
#                    10,000 steps)
#   --big            add 100,000 steps (fan and layers; minutes)
#   --shapes S,S...  chain,fan,layers (default all three)
#   --repeat K       run each measurement K times (default 1)
#   --trace          instead: syscalls per step of a 1,000-step fan-out
#                    (strace -f -c over kiln and everything it starts,
#                    and over kiln alone), fcntl, pwrite64, openat,
#                    unlink and prlimit64
#   --base DIR       where state, logs and outputs go (default /tmp)
# ninja comes from Debian's ninja-build: installed when missing and run
# as root, else skipped with a message.
#
# kiln creates one log file per step attempt (its status file is the
# last ended attempt's, renamed), every tool one output per step. On ext4
# without a journal (as on the CI machines) a file created within minutes
# of many deletions in its block group costs a scan of the recently
# deleted inodes (up to a millisecond and more, against 30 us): figures
# taken in a directory where thousands of files were just removed (an
# earlier run of this script in /tmp) are the file system's, not the
# tools'. Give --base a directory in a quiet block group (a new top-level
# directory, which ext4 places in a group of its own: mkdir /kb1), or
# /dev/shm (tmpfs) to see kiln's own overhead apart from the file
# system's.
set -euo pipefail
kiln=$(dirname "$0")/../../build/kiln
sizes=1000 shapes=chain,fan,layers repeat=1 trace=0 base=/tmp big=0
pos=()
while [ $# -gt 0 ]; do
    case $1 in
    --sizes) sizes=$2; shift ;;
    --big) big=1 ;;
    --shapes) shapes=$2; shift ;;
    --repeat) repeat=$2; shift ;;
    --trace) trace=1 ;;
    --base) base=$2; shift ;;
    -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'
               exit 0 ;;
    *) pos+=("$1") ;;
    esac
    shift
done
[ ${#pos[@]} -ge 1 ] && kiln=${pos[0]}
[ ${#pos[@]} -ge 2 ] && sizes=${pos[1]}
[ ${#pos[@]} -ge 3 ] && base=${pos[2]}
[ $big = 1 ] && sizes="$sizes,100000"
kiln=$(realpath "$kiln")
dir=$(mktemp -d "$base/kiln-bench.XXXXXX")
trap 'rm -rf "$dir"' EXIT
echo "kiln $kiln; state, logs and outputs in $dir ($(stat -f -c %T "$dir"))"

have_ninja=0
if command -v ninja > /dev/null; then
    have_ninja=1
elif [ "$(id -u)" = 0 ] && command -v apt-get > /dev/null; then
    apt-get install -y -qq ninja-build > /dev/null 2>&1 || true
    command -v ninja > /dev/null && have_ninja=1
fi
[ $have_ninja = 1 ] ||
    echo "ninja not found (apt-get install ninja-build as root): skipped"

# gen SHAPE N: write $dir/SHAPE-N/{pipeline.yaml,Makefile,build.ninja}.
gen() {
    local shape=$1 n=$2 d=$dir/$1-$2
    mkdir -p "$d"
    SHAPE=$shape N=$n D=$d python3 - <<'EOF'
import os
shape, n, d = os.environ["SHAPE"], int(os.environ["N"]), os.environ["D"]
needs = {}
if shape == "chain":
    for i in range(1, n + 1):
        needs[i] = [i - 1] if i > 1 else []
    last = [n]
elif shape == "fan":
    needs[1] = []
    for i in range(2, n):
        needs[i] = [1]
    needs[n] = list(range(2, n))
    last = [n]
else:
    per, k, prev = (n + 29) // 30, 0, []
    for l in range(30):
        cur = []
        for j in range(per):
            if k == n:
                break
            k += 1
            if len(prev) <= 34:
                needs[k] = prev
            else:
                needs[k] = [prev[(j + t) % len(prev)] for t in range(34)]
            cur.append(k)
        if cur:
            prev = cur
    last = prev
with open(f"{d}/pipeline.yaml", "w") as y, open(f"{d}/Makefile", "w") as m, \
        open(f"{d}/build.ninja", "w") as b:
    y.write(f"pipeline: {shape}\nsteps:\n")
    m.write(".PHONY: all\nall: " + " ".join(f"s{i}" for i in last) + "\n")
    b.write("rule w\n  command = : > out/$out\n")
    for i in range(1, n + 1):
        ns = needs[i]
        y.write(f'  s{i}: {{run: ": > out/s{i}", needs: ['
                + ",".join(f"s{x}" for x in ns) + "]}\n")
        m.write(f".PHONY: s{i}\ns{i}: " + " ".join(f"s{x}" for x in ns)
                + f"\n\t@: > out/s{i}\n")
        b.write(f"build s{i}: w" + (" | " if ns else "")
                + " ".join(f"s{x}" for x in ns) + "\n")
    b.write("default " + " ".join(f"s{i}" for i in last) + "\n")
EOF
}

ms() { date +%s%3N; }

# measure NAME DIR COMMAND...: run it in a new directory beside DIR's
# files (sets w) with an empty out/, under /usr/bin/time; sets wall_ms
# and rss_kb. Nothing is removed until the end: on ext4 without a
# journal, a file created within minutes of many deletions in its block
# group costs a scan of the recently deleted inodes (recently_deleted()
# in the kernel's ialloc.c), so removing one tool's files just before
# the next tool runs would charge it for them.
seq=0
measure() {
    local d=$2
    shift 2
    seq=$((seq + 1))
    w=$d/run-$seq
    mkdir -p "$w/out"
    cp "$d/pipeline.yaml" "$d/Makefile" "$d/build.ninja" "$w/"
    local t0 t1
    t0=$(ms)
    (cd "$w" && /usr/bin/time -f %M -o "$w/rss" "$@" > /dev/null 2>&1)
    t1=$(ms)
    wall_ms=$((t1 - t0))
    rss_kb=$(tail -1 "$w/rss")
}

# check_kiln DIR N: every step recorded succeeded and its file written.
check_kiln() {
    local recorded files
    recorded=$(sqlite3 "$1/state/kiln.db" "select count(*) from executions
        where status = 'succeeded'")
    files=$(ls "$1/out" | wc -l)
    if [ "$recorded" != "$2" ] || [ "$files" != "$2" ]; then
        echo "kiln: $recorded steps recorded, $files files, of $2" >&2
        exit 1
    fi
}

if [ $trace = 1 ]; then
    command -v strace > /dev/null || { echo "strace missing" >&2; exit 1; }
    n=1000
    gen fan $n
    d=$dir/fan-$n
    calls="fcntl pwrite64 openat unlink prlimit64"
    for who in all kiln; do
        rm -rf "$d/state" "$d/out"
        mkdir -p "$d/out"
        f=-f
        [ $who = kiln ] && f=
        (cd "$d" && strace $f -c -o "$d/strace-$who" "$kiln" run \
            pipeline.yaml --jobs 2 --state "$d/state" > /dev/null 2>&1)
        check_kiln "$d" $n
        printf '%s (strace%s -c), calls per step of a %d-step fan-out:\n' \
            "$([ $who = all ] && echo "kiln and its steps" || echo "kiln alone")" \
            "${f:+ $f}" $n
        for c in $calls total; do
            awk -v c=$c -v n=$n '$NF == c { k = $4 }
                c == "total" && $NF == "total" { k = $4 }
                END { printf "  %-10s %8.2f\n", c, k / n }' "$d/strace-$who"
        done
    done
    exit 0
fi

printf '%-7s %7s %-6s %9s %8s %8s %7s %7s   %s\n' shape steps tool \
    "wall s" "ms/step" "RSS MB" "KB/step" "ratio" "target"
IFS=, read -r -a size_list <<< "$sizes"
IFS=, read -r -a shape_list <<< "$shapes"
for n in "${size_list[@]}"; do
    for shape in "${shape_list[@]}"; do
        [ $shape = chain ] && [ "$n" -gt 10000 ] && continue
        gen $shape "$n"
        d=$dir/$shape-$n
        for ((r = 1; r <= repeat; r++)); do
            measure kiln "$d" "$kiln" run pipeline.yaml --jobs 2 \
                --state state
            check_kiln "$w" "$n"
            k_ms=$wall_ms k_rss=$rss_kb
            measure make "$d" make -s -j2 -f Makefile
            m_ms=$wall_ms m_rss=$rss_kb
            j_ms=0 j_rss=0
            if [ $have_ninja = 1 ]; then
                measure ninja "$d" ninja -j2
                j_ms=$wall_ms j_rss=$rss_kb
            fi
            awk -v s=$shape -v n="$n" -v k=$k_ms -v kr=$k_rss -v m=$m_ms \
                -v mr=$m_rss -v j=$j_ms -v jr=$j_rss 'BEGIN {
                row = "%-7s %7d %-6s %9.2f %8.3f %8.1f %7.2f %7s   %s\n"
                printf row, s, n, "kiln", k / 1000, k / n, kr / 1024,
                    kr / n, "", "<= make; KB/step < 1 + constant"
                printf row, s, n, "make", m / 1000, m / n, mr / 1024,
                    mr / n, sprintf("%.2f", k / m), "kiln/make <= 1.00"
                if (j > 0)
                    printf row, s, n, "ninja", j / 1000, j / n, jr / 1024,
                        jr / n, sprintf("%.2f", k / j), "kiln/ninja"
            }'
        done
    done
done
echo "target: ms/step flat within 20 % from 1,000 to 100,000 steps"
