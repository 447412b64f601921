"""implicit's model classes, trained by netrex: ``from netrex.compat.implicit import
BayesianPersonalizedRanking`` in place of ``from implicit.bpr import ...``.

``fit(user_items)`` takes a users x items CSR matrix as implicit (>= 0.5) does; ``recommend``
and ``similar_items`` answer as implicit's do, so ``implicit.evaluation.ranking_metrics_at_k``
runs on these models unchanged. Unlike implicit's BPR, a user never seen can be folded in:
``recommend(..., recalculate_user=True)`` fits their vector from the items in ``user_items``.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from .._models import FactorizationModel, _forwarded
from .._netrex import NetrexError
from . import _seed

__all__ = ["BayesianPersonalizedRanking"]


class BayesianPersonalizedRanking:
    """implicit's ``BayesianPersonalizedRanking``: ``factors`` (embedding dimension),
    ``iterations`` (epochs), ``regularization`` (L2; implicit's default 0.01 is its own
    per-update scale, so netrex's default, none, is used unless it is given), ``learning_rate``
    (netrex's tuned step size for BPR unless given), ``random_state``, ``num_threads`` (0: all
    cores). ``user_factors`` and ``item_factors`` are the embeddings."""

    def __init__(
        self,
        factors: int = 100,
        learning_rate: Optional[float] = None,
        regularization: Optional[float] = None,
        dtype: Any = np.float32,
        iterations: int = 100,
        verify_negative_samples: bool = True,
        random_state: Any = None,
        num_threads: int = 0,
    ):
        if np.dtype(dtype) != np.float32:
            raise NetrexError("netrex trains float32 models only")
        self.factors, self.iterations = factors, iterations
        self.learning_rate, self.regularization = learning_rate, regularization
        self.random_state, self.num_threads = random_state, num_threads
        self._model = FactorizationModel(
            loss="bpr",
            dim=factors,
            epochs=iterations,
            learning_rate=learning_rate,
            l2=regularization,
            seed=_seed(random_state),
            threads=num_threads or None,
        )
        self._liked = None

    def fit(self, user_items, show_progress: bool = True, callback=None):
        """Fits on a users x items sparse matrix (its non-zero entries)."""
        on_epoch = None if callback is None else (lambda e, loss, _m: callback(e, loss))
        self._model.fit(user_items, progress=show_progress, on_epoch=on_epoch)
        self._liked = user_items.tocsr()
        return self

    user_factors = _forwarded(
        "_model", "user_embeddings", "User factors, ``n_users x factors`` (the embeddings)."
    )
    item_factors = _forwarded(
        "_model", "item_embeddings", "Item factors, ``n_items x factors`` (the embeddings)."
    )

    def _user_scores(self, userid, user_items, recalculate_user: bool) -> np.ndarray:
        items = self._model.item_embeddings
        bias = self._model.item_biases
        if recalculate_user:
            rows = [user_items[k].indices for k in range(len(userid))]
            vectors = np.stack([self._model.fold_in(r) for r in rows])
        else:
            n_users = self._model.user_embeddings.shape[0]
            if (userid < 0).any() or (userid >= n_users).any():
                raise NetrexError(f"unknown user id: the model has {n_users} users")
            vectors = self._model.user_embeddings[userid]
        return vectors @ items.T + bias[None, :]

    def recommend(
        self,
        userid,
        user_items,
        N: int = 10,
        filter_already_liked_items: bool = True,
        filter_items=None,
        recalculate_user: bool = False,
        items=None,
    ):
        """The ``N`` best items for ``userid`` (an id or an array of ids): ``(ids, scores)``,
        1-d for one user, 2-d for many. ``user_items`` holds the users' rows (one row per id
        given), whose items are left out with ``filter_already_liked_items``."""
        single = np.isscalar(userid)
        users = np.atleast_1d(np.asarray(userid, dtype=np.int64))
        liked = user_items.tocsr() if user_items is not None else None
        if liked is not None and liked.shape[0] != len(users):
            raise ValueError("user_items must contain 1 row for every user in userids")
        scores = self._user_scores(users, liked, recalculate_user)
        n_items = scores.shape[1]
        allowed = np.ones(n_items, dtype=bool)
        if items is not None:
            allowed[:] = False
            allowed[np.asarray(items)] = True
        if filter_items is not None:
            allowed[np.asarray(filter_items)] = False
        scores[:, ~allowed] = -np.inf
        if filter_already_liked_items and liked is not None:
            for k in range(len(users)):
                scores[k, liked.indices[liked.indptr[k]:liked.indptr[k + 1]]] = -np.inf
        n = min(N, int(allowed.sum()))
        top = np.argpartition(-scores, n - 1, axis=1)[:, :n] if n > 0 else np.zeros((len(users), 0), int)
        order = np.take_along_axis(scores, top, axis=1).argsort(axis=1)[:, ::-1]
        ids = np.take_along_axis(top, order, axis=1)
        best = np.take_along_axis(scores, ids, axis=1).astype(np.float32)
        ids = ids.astype(np.int32)
        return (ids[0], best[0]) if single else (ids, best)

    def similar_items(self, itemid, N: int = 10, recalculate_item: bool = False,
                      item_users=None, filter_items=None, items=None):
        """The ``N`` items most similar to ``itemid`` by the cosine of their embeddings (the
        item itself first, as implicit answers): ``(ids, scores)``."""
        if recalculate_item:
            raise NetrexError("recalculate_item is not supported: items are trained rows")
        single = np.isscalar(itemid)
        queries = np.atleast_1d(np.asarray(itemid, dtype=np.int64))
        vectors = self._model.item_embeddings
        norms = np.linalg.norm(vectors, axis=1)
        norms[norms == 0] = 1.0
        unit = vectors / norms[:, None]
        scores = unit[queries] @ unit.T
        if items is not None:
            mask = np.ones(scores.shape[1], dtype=bool)
            mask[np.asarray(items)] = False
            scores[:, mask] = -np.inf
        if filter_items is not None:
            scores[:, np.asarray(filter_items)] = -np.inf
        ids = np.argsort(-scores, axis=1, kind="stable")[:, :N]
        best = np.take_along_axis(scores, ids, axis=1).astype(np.float32)
        ids = ids.astype(np.int32)
        return (ids[0], best[0]) if single else (ids, best)

    @property
    def model(self) -> FactorizationModel:
        """The netrex model underneath."""
        return self._model
