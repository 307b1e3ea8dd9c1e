#!/usr/bin/env bash
# How close the scheduler gets to the critical path: runs the real static binary in a chroot
# overlay (tests/e2e/chroot.sh; needs root) on a graph of 12 custom steps that only sleep, once
# with --workers 4 and once with --workers 1, and prints the wall times against the critical path
# and the sequential sum. Goal: with 4 workers, wall within 10% of the critical path (the graph
# never has more than 4 steps ready at once, so 4 workers can reach it).
#
#   scripts/bench/schedule.sh [PATH-TO-cs231n-agent]      (default: build/cs231n-agent)
#   REPEAT=5 scripts/bench/schedule.sh                    (runs of each; the median is reported)
set -euo pipefail
top=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd)
agent=$(realpath -- "${1:-$top/build/cs231n-agent}")
repeat=${REPEAT:-3}
[[ -x $agent ]] || { echo "usage: $0 [PATH-TO-cs231n-agent] (no executable at $agent)" >&2; exit 2; }
[[ $(id -u) == 0 ]] || { echo "$0 needs root (it mounts an overlay and chroots)" >&2; exit 2; }
[[ $repeat =~ ^[1-9][0-9]*$ ]] || { echo "REPEAT must be a positive integer" >&2; exit 2; }

# shellcheck source=tests/e2e/chroot.sh
source "$top/tests/e2e/chroot.sh"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cs231n-bench.XXXXXX")
CHROOT_REMOVE_ON_EXIT+=("$tmp")
chroot_start "$tmp/chroot"
chroot_install_agent "$agent"

# The graph: step sleep after...  Four chains (a, b, c+b, d) that meet in z; at most 4 steps are
# ever ready at once.
graph='
a1 0.5
a2 0.8 a1
a3 0.8 a2
b1 0.7
b2 0.7 b1
c1 0.5
c2 0.9 c1
b3 0.6 b2 c2
d1 0.4
d2 0.9 d1
d3 0.6 d2
z  0.4 a3 b3 d3
'

# Writes the config and prints "<critical path> <sequential sum> <step names, comma separated>".
read -r critical sequential only < <(python3 - "$CHROOT_ROOT/root/bench.json" "$graph" <<'PY'
import json, sys
steps, finish = [], {}
for line in sys.argv[2].strip().splitlines():
    name, seconds, *after = line.split()
    finish[name] = float(seconds) + max((finish[p] for p in after), default=0.0)
    steps.append({"name": name, "after": after, "user": "root", "run": ["sleep", seconds]})
json.dump({"steps": steps}, open(sys.argv[1], "w"), indent=1)
total = sum(float(step["run"][1]) for step in steps)
print("%.3f %.3f %s" % (max(finish.values()), total, ",".join(step["name"] for step in steps)))
PY
)

# bench WORKERS: runs the graph REPEAT times from a fresh state; prints the median wall time (s).
bench() {
  local workers=$1 run started ended walls=()
  for run in $(seq 1 "$repeat"); do
    started=${EPOCHREALTIME/./}
    in_chroot /root/cs231n-agent run --config /root/bench.json --only "$only" --yes --workers "$workers" \
      --state-dir "/var/lib/bench-$workers-$run" >"$tmp/out" 2>"$tmp/err" </dev/null ||
      { cat "$tmp/out" "$tmp/err" >&2; echo "the run with --workers $workers failed" >&2; exit 1; }
    ended=${EPOCHREALTIME/./}
    walls+=("$(((ended - started) / 1000))")
  done
  printf '%s\n' "${walls[@]}" | sort -n | awk '{ms[NR] = $1} END {printf "%.3f\n", ms[int((NR + 1) / 2)] / 1000}'
}

echo "graph: 12 steps that sleep; critical path ${critical} s, sequential sum ${sequential} s; median of $repeat run(s)"
printf '%-8s %8s %10s %11s %14s %16s\n' workers wall critical sequential wall/critical wall/sequential
for workers in 4 1; do
  wall=$(bench "$workers")
  printf '%-8s %7.3fs %9.3fs %10.3fs %14.3f %16.3f\n' "$workers" "$wall" "$critical" "$sequential" \
    "$(echo "$wall $critical" | awk '{print $1 / $2}')" "$(echo "$wall $sequential" | awk '{print $1 / $2}')"
  [[ $workers == 4 ]] && wall4=$wall
done
verdict=$(echo "$wall4 $critical" | awk '{print ($1 <= 1.10 * $2) ? "met" : "missed"}')
echo "goal (--workers 4: wall within 10% of the critical path): $verdict"
