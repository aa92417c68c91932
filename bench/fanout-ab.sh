#!/usr/bin/env bash
# Fan-out A/B (issue 3): server CPU per edit of two crm-sync-server builds, runs alternating so that
# both see the same machine (timing here is noisy: compare within one run of this script).
#
# Usage: bench/fanout-ab.sh A B [ROUNDS] [PEERS] [EDITS]
#   A, B     two crm-sync-server binaries (e.g. a copy of target/release/crm-sync-server per build)
#   ROUNDS   runs of each (default 6); PEERS (default 100); EDITS per run (default 1000)
# Uses target/release/crm-sync-load (build it with `cargo build --release -p crm-sync-load`).
# Prints mean, median, min and every figure of each build.
set -euo pipefail
A=$1
B=$2
ROUNDS=${3:-6}
PEERS=${4:-100}
EDITS=${5:-1000}
LOAD="$(dirname "$0")/../target/release/crm-sync-load"
[ -x "$LOAD" ] || { echo "no $LOAD: cargo build --release -p crm-sync-load" >&2; exit 1; }
for _ in $(seq "$ROUNDS"); do
  for side in A B; do
    bin=$A; [ "$side" = B ] && bin=$B
    v=$(timeout 300 "$LOAD" --server "$bin" fanout --peers "$PEERS" --edits "$EDITS" 2>&1 |
      awk '/server CPU per edit  /{print $5}')
    echo "$side ${v:-nan}"
  done
done | python3 -c '
import sys, statistics as st, collections
d = collections.defaultdict(list)
for line in sys.stdin:
    k, v = line.split()
    if v != "nan":
        d[k].append(float(v))
for k in sorted(d):
    x = d[k]
    print(f"{k}: server CPU per edit (ms) mean {st.mean(x):.3f} median {st.median(x):.3f} min {min(x):.3f} of {len(x)}: {x}")
'
echo "load average: $(cut -d" " -f1-3 /proc/loadavg)"
