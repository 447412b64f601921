"""implicit's BPR epochs on the S1M set (1M Zipf interactions, 50k users x 20k items), 64 factors.

    python benches/peers/implicit_epochs.py THREADS ROUNDS

Prints, per round, the seconds of each of 3 epochs and their median. The data comes from
`synthetic_1m()` of ../shared/peers/run_peers.py (or $NETREX_PEERS), so that it is the set the
peers' reference figures use. Needs the venv of ../shared/peers/README.md.
"""
import os
import sys

peers = os.environ.get(
    "NETREX_PEERS",
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared", "peers"),
)
sys.path.insert(0, peers)

import numpy as np  # noqa: E402
from implicit.cpu.bpr import BayesianPersonalizedRanking  # noqa: E402
from run_peers import synthetic_1m  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

threads, rounds = int(sys.argv[1]), int(sys.argv[2])
data = synthetic_1m()
for _ in range(rounds):
    per = []
    with threadpool_limits(1, "blas"):
        model = BayesianPersonalizedRanking(
            factors=64, iterations=3, num_threads=threads, random_state=0
        )
        model.fit(data, show_progress=False, callback=lambda *cb: per.append(cb[1]))
    print("implicit epochs", " ".join(f"{x:.3f}" for x in per), "median", f"{np.median(per):.3f}")
