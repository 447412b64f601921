#!/usr/bin/env bash
# Interleaved rounds on the 1M BPR epoch (dim 64, per-example SGD), so that a speed claim is a
# ratio to implicit measured in the same run, next to the machine's random-row limit:
#
#     benches/peers/s1m_rounds.sh NEW [BASE] [ROUNDS]
#
# NEW and BASE are `synthetic_epoch` binaries (`cargo build --release -p netrex-suite --example
# synthetic_epoch --example row_bandwidth`, BASE built from the commit to compare with);
# `row_bandwidth` is taken from NEW's folder. Each round: BASE, NEW, NEW, BASE on 2 threads
# (when BASE is given), NEW on 1 thread (median of 10 epochs each), implicit's BPR on 2 threads
# (median of 3 epochs; Python from $PEERS_PYTHON, default /tmp/peers/bin/python), and the
# random-row cost of the rows an example updates (ns a row, two workers on tables of their own).
set -euo pipefail
new=$1
base=${2:-}
rounds=${3:-5}
here=$(cd "$(dirname "$0")" && pwd)
python=${PEERS_PYTHON:-/tmp/peers/bin/python}
bandwidth=$(dirname "$new")/row_bandwidth

lscpu | grep -E "Model name|^CPU family|^Model:"
median() {
    grep '^epoch' | sed 's/.*: \([0-9.]*\) s.*/\1/' | sort -n |
        awk '{a[NR]=$1} END {printf "median %s min %s max %s", a[int((NR+1)/2)], a[1], a[NR]}'
}
epoch() { # BINARY THREADS
    "$1" 1000000 50000 20000 64 bpr "$2" fused 10 sgd 0.05 1 2>&1 | median
}
for r in $(seq 1 "$rounds"); do
    echo "##### round $r $(date +%T)"
    if [ -n "$base" ]; then
        echo "base 2t: $(epoch "$base" 2)"
        echo "new 2t: $(epoch "$new" 2)"
        echo "new 2t: $(epoch "$new" 2)"
        echo "base 2t: $(epoch "$base" 2)"
    else
        echo "new 2t: $(epoch "$new" 2)"
    fi
    echo "new 1t: $(epoch "$new" 1)"
    "$python" "$here/implicit_epochs.py" 2 1
    # users (50,000 uniform), negatives (20,000 uniform), positives (20,000 Zipf); then their biases
    "$bandwidth" 64 4000000 2 2>&1 | awk '/ own +2 /{printf "%s %s %s | ", $1, $2, $5}'
    "$bandwidth" 1 4000000 2 2>&1 | awk '/ own +2 /{printf "bias %s %s %s | ", $1, $2, $5}'
    echo
done
