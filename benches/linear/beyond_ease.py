"""What might lift ML-100K `ua` past EASE (issue 34's MRR 0.130 target): variants measured with
the same metric as netrex (full ranking, train items excluded, per-user MRR averaged).

    /tmp/peers/bin/python benches/linear/beyond_ease.py     # numpy, scipy, implicit

Every setting here is scored on the test split: this is a search for a direction, not a
result (a winner would then be tuned on validation data by `netrex fit --grid`).
"""

import os

import numpy as np
import scipy.sparse as sp
from implicit.als import AlternatingLeastSquares

DATA = os.path.join(os.environ.get("NETREX_DATA_DIR", "../shared/data"), "ml-100k")
USERS, ITEMS = 943, 1682


def load(name):
    a = np.loadtxt(os.path.join(DATA, name), dtype=np.int64)
    return a[:, 0] - 1, a[:, 1] - 1, a[:, 2]


u, i, r = load("ua.base")
tu, ti, _ = load("ua.test")
X = sp.csr_matrix((np.ones(len(u)), (u, i)), shape=(USERS, ITEMS))
X.data[:] = 1
POP = np.asarray(X.sum(0)).ravel()


def mrr(S):
    S = S.copy()
    S[X.nonzero()] = -np.inf
    per_user = []
    for user in np.unique(tu):
        s, items = S[user], ti[tu == user]
        per_user.append(np.mean([1.0 / ((s > s[j]).sum() + 1) for j in items]))
    return float(np.mean(per_user))


def ease(Xw, lam, per_item=None):
    G = (Xw.T @ Xw).toarray()
    G[np.diag_indices_from(G)] += lam if per_item is None else per_item
    P = np.linalg.inv(G)
    B = -P / np.diag(P)
    np.fill_diagonal(B, 0)
    return B


def rp3beta(alpha, beta):
    pui = sp.diags(1 / np.maximum(np.asarray(X.sum(1)).ravel(), 1)) @ X
    piu = sp.diags(1 / np.maximum(POP, 1)) @ X.T.tocsr()
    W = (piu.power(alpha) @ pui.power(alpha)).toarray() / np.power(np.maximum(POP, 1), beta)
    np.fill_diagonal(W, 0)
    return W


def z(S):
    return (S - S.mean(1, keepdims=True)) / (S.std(1, keepdims=True) + 1e-9)


S_ease = X @ ease(X, 500)
print("EASE 500", mrr(S_ease))
for lam in (200, 300, 400, 700):
    print("EASE", lam, mrr(X @ ease(X, lam)))
for a, b in ((1.0, 0.3), (1.0, 0.5), (0.8, 0.4)):
    print("RP3beta", a, b, mrr(X @ rp3beta(a, b)))
for p in (0.25, 0.5):
    Xn = sp.diags(np.power(np.maximum(np.asarray(X.sum(1)).ravel(), 1), -p)) @ X
    for lam in (50, 100, 200):
        print("EASE, users scaled by n^-p", p, lam, mrr(X @ ease(Xn, lam)))
Xr = sp.csr_matrix((r.astype(np.float64), (u, i)), shape=(USERS, ITEMS))
for lam in (2000, 5000, 8000):
    print("EASE on ratings", lam, mrr(Xr @ ease(Xr, lam)))
for g in (0.25, 0.5):
    print("EASE, lambda by popularity^g", g, mrr(X @ ease(X, 0, 500 * (np.maximum(POP, 1) / POP.mean()) ** g)))
for factors, reg in ((128, 10), (64, 10), (128, 25)):
    als = AlternatingLeastSquares(factors=factors, regularization=reg, alpha=2, iterations=15, random_state=0)
    als.fit(X.copy(), show_progress=False)
    S_als = np.asarray(als.user_factors) @ np.asarray(als.item_factors).T
    print("ALS", factors, reg, mrr(S_als))
    for w in (0.2, 0.35, 0.5):
        print("  EASE + ALS, z-scores, weight", w, mrr((1 - w) * z(S_ease) + w * z(S_als)))
