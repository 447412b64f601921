#!/usr/bin/env bash
# Interleaved rounds on ML-100K: adaptive hinge (dim 64, 10 epochs) against LightFM WARP, so
# that the speed claim is a ratio measured in the same run:
#
#     benches/peers/ml100k_rounds.sh NEW [BASE] [ROUNDS]
#
# NEW and BASE are `netrex` binaries (`cargo build --release -p netrex-cli --bin netrex`, BASE
# built from the commit to compare with). Each round: LightFM (`../shared/peers/run_peers.py
# --only p1`, or $NETREX_PEERS; Python from $PEERS_PYTHON, default /tmp/peers/bin/python), then BASE and NEW on 2
# threads and on 1, seeds 0 / 1 / 2 each; prints fit seconds / MRR. Data from
# $NETREX_DATA_DIR (default ../shared/data).
set -euo pipefail
new=$1
base=${2:-}
rounds=${3:-5}
python=${PEERS_PYTHON:-/tmp/peers/bin/python}
peers=${NETREX_PEERS:-$(cd "$(dirname "$0")" && pwd)/../../../shared/peers/run_peers.py}

export NETREX_DATA_DIR=${NETREX_DATA_DIR:-../shared/data}
fit() { # BINARY THREADS SEED
    "$1" fit --dataset ml-100k --split ua --loss adaptive-hinge --dim 64 --threads "$2" \
        --seed "$3" --json |
        "$python" -c "import json,sys;d=json.load(sys.stdin);print('%.3f/%.4f' % (d['fit_seconds'],d['mrr']), end=' ')"
}
lscpu | grep -E "Model name|^CPU family|^Model:"
for r in $(seq 1 "$rounds"); do
    echo "## round $r $(date +%T)"
    "$python" "$peers" --only p1 --json 2>/dev/null |
        "$python" -c "import json,sys;d=json.load(sys.stdin)['p1_lightfm_warp'];print('lightfm warp: %.3f s, MRR %.4f' % (d['fit_seconds'], d['mrr']))"
    for threads in 2 1; do
        for binary in ${base:+"$base"} "$new"; do
            name=new
            [ "$binary" = "$base" ] && name=base
            echo -n "$name ${threads}t: "
            for seed in 0 1 2; do fit "$binary" "$threads" "$seed"; done
            echo
        done
    done
done
