"""The 1M synthetic set (../shared/peers' S1M: 50k users, 20k items, Zipf, seed 20240601) for
the linear models: writes a seeded 90/10 split as CSVs for netrex, then times RecTools' EASE
and implicit's ALS on the same training file, each in its own process so that its peak memory
is its own. Peers: fit seconds and peak RSS only (their full-ranking metrics over 20k items
for 50k users would take longer than the fits).

Run:  /tmp/peers/bin/python benches/linear/s1m.py split DIR
      /tmp/peers/bin/python benches/linear/s1m.py peer DIR rectools-ease|implicit-als
"""
import os, resource, sys, time

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, os.environ.get("NETREX_PEERS_DIR", "../shared/peers"))


def split(out):
    from run_peers import synthetic_1m
    data = synthetic_1m().tocoo()
    rng = np.random.default_rng(1)
    test = rng.random(len(data.row)) < 0.1
    os.makedirs(out, exist_ok=True)
    for name, keep in (("train", ~test), ("test", test)):
        with open(os.path.join(out, name + ".csv"), "w") as f:
            f.write("user,item\n")
            np.savetxt(f, np.stack([data.row[keep], data.col[keep]], 1), fmt="%d", delimiter=",")


def load(out):
    a = np.loadtxt(os.path.join(out, "train.csv"), delimiter=",", skiprows=1, dtype=np.int64)
    return sp.coo_matrix((np.ones(len(a), np.float32), (a[:, 0], a[:, 1])), shape=(50_000, 20_000)).tocsr()


def peer(out, which):
    train = load(out)
    train.data[:] = 1.0
    t = time.perf_counter()
    if which == "implicit-als":
        from threadpoolctl import threadpool_limits
        from implicit.cpu.als import AlternatingLeastSquares
        with threadpool_limits(1, "blas"):
            AlternatingLeastSquares(factors=128, num_threads=2, random_state=0).fit(train, show_progress=False)
    else:
        import pandas as pd
        from rectools import Columns
        from rectools.dataset import Dataset
        from rectools.models import EASEModel
        coo = train.tocoo()
        df = pd.DataFrame({Columns.User: coo.row, Columns.Item: coo.col, Columns.Weight: 1.0, Columns.Datetime: 0})
        ds = Dataset.construct(df)
        t = time.perf_counter()
        EASEModel(regularization=500.0, num_threads=2).fit(ds)
    secs = time.perf_counter() - t
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f'{{"peer": "{which}", "fit_seconds": {secs:.3f}, "max_rss_mb": {rss:.0f}}}')


if __name__ == "__main__":
    if sys.argv[1] == "split":
        split(sys.argv[2])
    else:
        peer(sys.argv[2], sys.argv[3])
