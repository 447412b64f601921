"""netrex from Python against LightFM and implicit, in one Python process on one machine.

    /tmp/peers/bin/pip install target/python/release-wheels/netrex-*.whl   # a --release wheel
    NETREX_DATA_DIR=../shared/data /tmp/peers/bin/python benches/python/peers.py [--cli target/release/netrex]

(The venv of ../shared/peers/README.md: numpy, scipy, implicit, lightfm, threadpoolctl.) Prints
one JSON object:
- ml100k: ML-100K ua, 10 epochs, fit seconds (median of --repeats) and full-ranking MRR (train
  items excluded, ../shared/peers' metric code for every model): netrex adaptive hinge dim 64
  and WARP dim 128 on 2 threads, LightFM WARP dim 128 on 2 threads; LightFM's own
  precision_at_k and auc_score on netrex.compat.LightFM and on LightFM;
- s1m: seconds of one BPR epoch over 1M Zipf interactions (dim 64, 2 threads): netrex
  per-example SGD (lr 0.05) and implicit's BPR, medians of 5 epochs;
- overhead: the same plan through the command line (its `fit_seconds`) when --cli is given.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time

import numpy as np
import scipy.sparse as sp

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.environ.get("NETREX_PEERS", os.path.join(HERE, "..", "..", "..", "shared", "peers")))

import netrex  # noqa: E402
from netrex.compat import LightFM as NetrexLightFM  # noqa: E402
from run_peers import mrr_auc, synthetic_1m  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402


def timed(f):
    start = time.perf_counter()
    out = f()
    return out, time.perf_counter() - start


def csr(data, shape):
    ones = np.ones(len(data), dtype=np.float32)
    return sp.coo_matrix((ones, (data.users, data.items)), shape=shape).tocsr()


def scores_of(user_embeddings, item_embeddings, item_biases):
    return user_embeddings @ item_embeddings.T + item_biases[None, :]


def ml100k(args):
    train, test = netrex.movielens_100k("ua")
    shape = (train.num_users, train.num_items)
    tr, te = csr(train, shape), csr(test, shape)
    out = {}
    for name, settings in [
        ("netrex adaptive-hinge dim64", dict(loss="adaptive-hinge", dim=64)),
        ("netrex warp dim128", dict(loss="warp", dim=128)),
    ]:
        runs = []
        for _ in range(args.repeats):
            model = netrex.FactorizationModel(epochs=10, seed=0, threads=2, **settings)
            _, seconds = timed(lambda: model.fit(train))
            runs.append(seconds)
        s = scores_of(model.user_embeddings, model.item_embeddings, model.item_biases)
        mrr, auc = mrr_auc(s, tr, te)
        out[name] = {"fit_seconds": sorted(runs), "median": float(np.median(runs)), "mrr": mrr, "auc": auc}
    import lightfm
    from lightfm.evaluation import auc_score, precision_at_k

    runs = []
    for _ in range(args.repeats):
        peer = lightfm.LightFM(loss="warp", no_components=128, random_state=0)
        _, seconds = timed(lambda: peer.fit(tr.tocoo(), epochs=10, num_threads=2))
        runs.append(seconds)
    s = scores_of(peer.user_embeddings, peer.item_embeddings, peer.item_biases)
    mrr, auc = mrr_auc(s, tr, te)
    out["lightfm warp dim128"] = {"fit_seconds": sorted(runs), "median": float(np.median(runs)), "mrr": mrr, "auc": auc}
    adapter = NetrexLightFM(loss="warp", no_components=128, random_state=0).fit(tr, epochs=10, num_threads=2)
    for name, model in [("netrex.compat.LightFM", adapter), ("lightfm.LightFM", peer)]:
        out[f"{name} via lightfm.evaluation"] = {
            "precision_at_10": float(precision_at_k(model, te, train_interactions=tr, k=10).mean()),
            "auc": float(auc_score(model, te, train_interactions=tr).mean()),
        }
    return out


def s1m():
    from implicit.cpu.bpr import BayesianPersonalizedRanking

    matrix = synthetic_1m()
    data = netrex.interactions(matrix)
    model = netrex.FactorizationModel(
        loss="bpr", dim=64, optimizer="sgd", batch_size=1, learning_rate=0.05, seed=0, threads=2
    )
    netrex_epochs = []
    for _ in range(5):
        _, seconds = timed(lambda: model.fit_partial(data, epochs=1))
        netrex_epochs.append(seconds)
    implicit_epochs = []
    with threadpool_limits(1, "blas"):
        peer = BayesianPersonalizedRanking(factors=64, iterations=5, num_threads=2, random_state=0)
        peer.fit(matrix, show_progress=False, callback=lambda *cb: implicit_epochs.append(cb[1]))
    return {
        "netrex per-example sgd bpr": {"epochs": netrex_epochs, "median": float(np.median(netrex_epochs))},
        "implicit bpr": {"epochs": implicit_epochs, "median": float(np.median(implicit_epochs))},
    }


def overhead(args):
    """The adaptive-hinge plan through the CLI and through Python, alternated."""
    train, _ = netrex.movielens_100k("ua")
    cli, py = [], []
    for _ in range(args.repeats):
        run = subprocess.run(
            [args.cli, "fit", "--dataset", "ml-100k", "--split", "ua", "--loss", "adaptive-hinge",
             "--dim", "64", "--epochs", "10", "--seed", "0", "--threads", "2", "--json"],
            check=True, capture_output=True, text=True,
        )
        cli.append(json.loads(run.stdout.strip().splitlines()[-1])["fit_seconds"])
        model = netrex.FactorizationModel(loss="adaptive-hinge", dim=64, epochs=10, seed=0, threads=2)
        py.append(timed(lambda: model.fit(train))[1])
    return {"cli_fit_seconds": cli, "python_fit_seconds": py,
            "ratio_of_medians": float(np.median(py) / np.median(cli))}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cli", help="a release build of the netrex binary, for the overhead")
    args = parser.parse_args()
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
    out = {"cpu": cpu, "cpus": os.cpu_count(), "netrex": netrex.__version__, "ml100k": ml100k(args), "s1m": s1m()}
    if args.cli:
        out["overhead"] = overhead(args)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
