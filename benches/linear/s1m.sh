#!/usr/bin/env bash
# The linear models and the factorization losses on the 1M synthetic set, beside RecTools' EASE
# and implicit's ALS, in one run: fit seconds, peak memory (`/usr/bin/time -v`), and netrex's
# full-ranking metrics. docs/results.md has the figures.
#   cargo build --release -p netrex-cli && bash benches/linear/s1m.sh /tmp/s1m
set -euo pipefail
dir=${1:-/tmp/s1m}
netrex=${NETREX:-target/release/netrex}
python=${PEERS_PYTHON:-/tmp/peers/bin/python}
lscpu | grep -E "Model name|^CPU\(s\)"
[ -f "$dir/train.csv" ] || "$python" benches/linear/s1m.py split "$dir"
run() {
  /usr/bin/time -v "$netrex" fit --csv "$dir/train.csv" --test-csv "$dir/test.csv" --threads 2 --json "$@" 2> "$dir/time.txt" | python3 -c '
import json, sys
r = json.loads(sys.stdin.read())
print(json.dumps({k: r.get(k) for k in ("model", "loss", "mrr", "auc", "ndcg_at_10", "fit_seconds")}))'
  grep "Maximum resident" "$dir/time.txt"
}
run --model popularity
run --model ease
run --model local-ease --neighbours 100
run --model ials
run --model factorization --loss bpr --dim 64 --epochs 10
run --model factorization --loss warp --dim 64 --epochs 10
for peer in implicit-als rectools-ease; do "$python" benches/linear/s1m.py peer "$dir" "$peer"; done
