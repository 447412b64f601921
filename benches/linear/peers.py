"""EASE and ALS peers on ML-100K ua (the talk's protocol), for ratios measured in the same run.

NumPy's dense EASE (Steck's reference code: Gram, inverse, B = -P / diag P), RecTools'
EASEModel and implicit's AlternatingLeastSquares (128 factors; its defaults, and the best of a
small grid on the test set, an upper bound for the peer). Metrics are ../shared/peers'
(full ranking, train items excluded). Fit seconds exclude data loading.

Setup:  python3 -m venv /tmp/peers && /tmp/peers/bin/pip install numpy scipy threadpoolctl implicit rectools
Run:    NETREX_DATA_DIR=../shared/data /tmp/peers/bin/python benches/linear/peers.py --json
"""
import argparse, json, os, sys, time

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, os.environ.get("NETREX_PEERS_DIR", "../shared/peers"))
from run_peers import load_p1, mrr_auc  # noqa: E402


def timed(f):
    t = time.perf_counter()
    out = f()
    return out, time.perf_counter() - t


def numpy_ease(train, l2, dtype):
    x = train.astype(dtype)
    g = (x.T @ x).toarray()
    g[np.diag_indices_from(g)] += l2
    p = np.linalg.inv(g)
    b = p / (-np.diag(p))
    b[np.diag_indices_from(b)] = 0.0
    return b


def rectools_ease(train, l2, threads):
    import pandas as pd
    from rectools import Columns
    from rectools.dataset import Dataset
    from rectools.models import EASEModel

    coo = train.tocoo()
    df = pd.DataFrame({Columns.User: coo.row, Columns.Item: coo.col, Columns.Weight: 1.0, Columns.Datetime: 0})
    ds = Dataset.construct(df)
    model = EASEModel(regularization=l2, num_threads=threads)
    _, secs = timed(lambda: model.fit(ds))
    # back to the original item ids (items without training interactions keep zero rows), so
    # the metrics read the same columns
    ext = np.asarray(ds.item_id_map.external_ids, dtype=np.int64)
    weight = np.zeros((train.shape[1], train.shape[1]), dtype=np.float64)
    weight[np.ix_(ext, ext)] = np.asarray(model.weight)
    return weight, secs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    train, test = load_p1(os.environ.get("NETREX_DATA_DIR", "../shared/data"))
    res = {}
    with threadpool_limits(a.threads):
        for name, dtype in (("f64", np.float64), ("f32", np.float32)):
            b, secs = timed(lambda: numpy_ease(train, 500.0, dtype))
            sc = train @ b
            res[f"numpy_ease_{name}"] = dict(zip(("mrr", "auc"), mrr_auc(sc, train, test)), fit_seconds=secs)
        weight, secs = rectools_ease(train, 500.0, a.threads)
        res["rectools_ease"] = dict(zip(("mrr", "auc"), mrr_auc(train @ weight, train, test)), fit_seconds=secs)
    from implicit.cpu.als import AlternatingLeastSquares

    def als(**kw):
        with threadpool_limits(1, "blas"):
            m = AlternatingLeastSquares(factors=128, num_threads=a.threads, random_state=0, **kw)
            _, secs = timed(lambda: m.fit(train, show_progress=False))
        sc = m.user_factors @ m.item_factors.T
        return dict(zip(("mrr", "auc"), mrr_auc(sc, train, test)), fit_seconds=secs, **kw)

    res["implicit_als_defaults"] = als()
    grid = [als(alpha=al, regularization=r, iterations=15) for al in (1.0, 5.0, 10.0, 40.0) for r in (0.01, 1.0, 10.0, 50.0)]
    res["implicit_als_best_on_test"] = max(grid, key=lambda g: g["mrr"])
    print(json.dumps(res) if a.json else json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
