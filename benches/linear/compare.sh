#!/usr/bin/env bash
# netrex's EASE and iALS beside NumPy's EASE, RecTools' EASE and implicit's ALS on ML-100K ua,
# in one run on this machine (docs/benchmarks.md). Each netrex line is the median of 3 fits.
# Needs the peers' venv (benches/linear/peers.py) and a release build:
#   cargo build --release -p netrex-cli
#   NETREX_DATA_DIR=../shared/data bash benches/linear/compare.sh
set -euo pipefail
netrex=${NETREX:-target/release/netrex}
python=${PEERS_PYTHON:-/tmp/peers/bin/python}
lscpu | grep -E "Model name|^CPU\(s\)"
median() {
  for _ in 1 2 3; do "$netrex" "$@" --threads 2 --json; done | python3 -c '
import json, sys
runs = [json.loads(l) for l in sys.stdin]
runs.sort(key=lambda r: r["fit_seconds"])
r = runs[1]
print(json.dumps({k: r[k] for k in ("model", "mrr", "auc", "precision_at_10", "ndcg_at_10", "fit_seconds")}))'
}
echo "netrex ease l2=500 f32:"; median fit --dataset ml-100k --split ua --model ease
echo "netrex ease l2=500 f64:"; median fit --dataset ml-100k --split ua --model ease --precision f64
echo "netrex ease l2=400 (the tuner's choice):"; median fit --dataset ml-100k --split ua --model ease --l2 400
echo "netrex ials, its defaults (128 factors, 10 sweeps, l2 25, alpha 2):"; median fit --dataset ml-100k --split ua --model ials
echo "netrex ials, 15 sweeps (implicit's count):"; median fit --dataset ml-100k --split ua --model ials --epochs 15
echo "netrex ials, 15 sweeps, implicit's default weights (l2 0.01, alpha 0):"; median fit --dataset ml-100k --split ua --model ials --epochs 15 --l2 0.01 --alpha 0
echo "peers:"; "$python" benches/linear/peers.py --json
