#!/usr/bin/env bash
# `netrex serve` under load: a factorization model over 100,000 generated items (dim 64),
# 64 concurrent connections for DURATION seconds (oha), a reload every second meanwhile, and
# 10,000 malformed requests. Needs `oha` (cargo install oha) and a release build:
#   cargo build --release -p netrex-cli
#   bash benches/serving/serve_load.sh [DURATION] [OUT_DIR]
# APPROXIMATE=EF serves users from an HNSW graph (`netrex index`, then `serve --approximate EF`).
set -euo pipefail
DURATION=${1:-60}
OUT=${2:-/tmp/serve-load}
NETREX=${NETREX:-target/release/netrex}
OHA=${OHA:-oha}
PORT=${PORT:-18181}
mkdir -p "$OUT"
python3 - "$OUT/train.csv" <<'PY'
import random, sys
rng = random.Random(0)
with open(sys.argv[1], "w") as f:
    f.write("user,item\n")
    # every item once, then 10 items per user drawn with a popularity skew
    for i in range(100_000):
        f.write(f"u{i % 20_000},i{i}\n")
    for u in range(20_000):
        for _ in range(10):
            f.write(f"u{u},i{int(100_000 * rng.random() ** 2)}\n")
PY
rm -rf "$OUT/model"
"$NETREX" fit --csv "$OUT/train.csv" --dim 64 --loss bpr --epochs 1 --threads 2 \
    --save "$OUT/model" --json > "$OUT/fit.json"
EXTRA=()
if [ -n "${APPROXIMATE:-}" ]; then
    "$NETREX" index --model "$OUT/model"
    EXTRA=(--approximate "$APPROXIMATE")
fi
"$NETREX" serve --model "$OUT/model" --addr "127.0.0.1:$PORT" "${EXTRA[@]}" 2> "$OUT/serve.log" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
sleep 2
URL="http://127.0.0.1:$PORT"
( end=$((SECONDS + DURATION)); while [ $SECONDS -lt $end ]; do
    curl -s -o /dev/null -w "%{http_code}\n" -X POST "$URL/reload"; sleep 1; done ) > "$OUT/reloads.txt" &
RELOADER=$!
"$OHA" -c 64 -z "${DURATION}s" --no-tui -m POST -H "content-type: application/json" \
    -d '{"user": "u17", "k": 10}' "$URL/recommend" > "$OUT/load.txt"
wait $RELOADER
"$OHA" -c 16 -n 10000 --no-tui -m POST -H "content-type: application/json" \
    -d '{"user": ' "$URL/recommend" > "$OUT/malformed.txt"
curl -s "$URL/metrics" > "$OUT/metrics.txt"
echo "reload answers: $(sort "$OUT/reloads.txt" | uniq -c | tr '\n' ' ')"
grep -E "Requests/sec|Slowest|Fastest|Average|99.00%|50.00%|\[[0-9]{3}\]|Error" "$OUT/load.txt" || cat "$OUT/load.txt"
echo "malformed:"; grep -E "\[[0-9]{3}\]|Error" "$OUT/malformed.txt" || cat "$OUT/malformed.txt"
grep -E "netrex_requests_total|netrex_model_version|netrex_reloads" "$OUT/metrics.txt"
