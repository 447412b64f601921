"""Does rating time lift EASE on ML-100K `ua` (issue 34's MRR 0.130 target)? Directions scored
on the test split with netrex's metric (full ranking, train items excluded), so not results.

    /tmp/peers/bin/python benches/linear/beyond_ease_time.py     # numpy

- `T`: item-item weights from ratings close in a user's timeline (rank distance d within a
  window, weight exp(-d / tau)); alone, as EASE's Gram matrix, and blended with EASE (z-scores).
- time-window popularity: each item's share of the ratings in each week, weighted by the
  user's own weeks (smoothed); blended with EASE.
"""

import os

import numpy as np

DATA = os.path.join(os.environ.get("NETREX_DATA_DIR", "../shared/data"), "ml-100k")
U, I = 943, 1682


def load(name):
    a = np.loadtxt(os.path.join(DATA, name), dtype=np.int64)
    return a[:, 0] - 1, a[:, 1] - 1, a[:, 3]


u, i, t = load("ua.base")
tu, ti, _ = load("ua.test")
X = np.zeros((U, I))
X[u, i] = 1


def mrr(S):
    S = S.copy()
    S[X > 0] = -np.inf
    out = []
    for user in np.unique(tu):
        s = S[user]
        out.append(np.mean([1 / ((s > s[j]).sum() + 1) for j in ti[tu == user]]))
    return float(np.mean(out))


def ease(G, lam):
    G = G.copy()
    G[np.diag_indices_from(G)] += lam
    P = np.linalg.inv(G)
    B = -P / np.diag(P)
    np.fill_diagonal(B, 0)
    return B


def z(S):
    return (S - S.mean(1, keepdims=True)) / (S.std(1, keepdims=True) + 1e-9)


Se = X @ ease(X.T @ X, 400)
print("EASE λ 400", round(mrr(Se), 4))
order = np.lexsort((i, t, u))
us, items = u[order], i[order]
starts = np.r_[0, np.flatnonzero(np.diff(us)) + 1, len(us)]
for tau, window in [(2, 10), (5, 20), (10, 40)]:
    T = np.zeros((I, I))
    for a, b in zip(starts[:-1], starts[1:]):
        seq = items[a:b]
        for d in range(1, min(window, len(seq))):
            w = np.exp(-d / tau)
            T[seq[:-d], seq[d:]] += w
            T[seq[d:], seq[:-d]] += w
    Tn = T / np.sqrt(np.outer(T.sum(1) + 1, T.sum(0) + 1))
    print(f"T tau {tau} window {window}: alone {mrr(X @ T):.4f}",
          " EASE on T:", [round(mrr(X @ ease(T, lam)), 4) for lam in (200, 400, 1000)],
          " EASE + c T:", [round(mrr(z(Se) + c * z(X @ Tn)), 4) for c in (0.1, 0.3, 0.5)])
week = (t - t.min()) // (7 * 86400)
H = np.zeros((week.max() + 1, I))
np.add.at(H, (week, i), 1)
Uw = np.zeros((U, week.max() + 1))
np.add.at(Uw, (u, week), 1)
for bw in (0, 1, 2, 4):
    K = np.exp(-np.abs(np.arange(-3 * bw, 3 * bw + 1)) / max(bw, 0.5)) if bw else np.ones(1)
    Us = np.array([np.convolve(r, K, "same") for r in Uw])
    St = (Us / Us.sum(1, keepdims=True)) @ (H / (H.sum(1, keepdims=True) + 1))
    print(f"week popularity, smoothing {bw}: alone {mrr(St):.4f}",
          " EASE + c:", [round(mrr(z(Se) + c * z(np.log(St + 1e-6))), 4) for c in (0.1, 0.2, 0.4)])
