"""Linear models: EASE (and EDLAE), the neighbourhood EASE for large catalogs, and iALS:
closed forms and alternating least squares fitted in one piece (netrex-linear, faer)."""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

import numpy as np

from . import _netrex
from ._data import interactions
from ._models import _FileBacked, _ids, _plan

__all__ = ["EASE", "IALS", "LocalEASE"]


class _Linear(_FileBacked):
    _kind = ""

    def __init__(self, model: Dict[str, Any], training: Dict[str, Any], threads, config):
        plan = _plan(config, {"model": dict(kind=self._kind, **model), "training": training})
        self._start(plan, threads)

    @staticmethod
    def _core_type():
        return _netrex.Linear

    def fit(self, interactions_: Any, **columns: Any):
        """Fits to ``interactions_`` (anything :func:`netrex.interactions` takes). Returns the
        model."""
        self._core.fit(interactions(interactions_, **columns))
        return self

    def recommend(
        self, users: Any, k: int = 10, filter_seen: bool = True, raw: bool = False
    ) -> Tuple[np.ndarray, np.ndarray]:
        """The ``k`` best items for each user: ``(ids, scores)``, ``len(users) x k``, padded
        with -1 / -inf; ``raw=True`` takes and gives raw ids."""
        if raw:
            users = self._raw_to_dense(users, "user")
        ids, scores = self._core.recommend(_ids(users, "users"), k, filter_seen)
        return (self._dense_to_raw(ids) if raw else ids), scores

    def recommend_new(self, items: Any, k: int = 10, raw: bool = False) -> Tuple[np.ndarray, np.ndarray]:
        """The ``k`` best items for a new user who chose ``items`` (left out)."""
        if raw:
            items = self._raw_to_dense(items, "item")
        ids, scores = self._core.recommend_new(_ids(items, "items"), k)
        return (self._dense_to_raw(ids)[0] if raw else ids[0]), scores[0]

    def evaluate(self, test: Any, train: Any = None) -> Dict[str, float]:
        """Full-ranking metrics on ``test``, ``train``'s items excluded."""
        like = self if self.item_map is not None else None
        test = interactions(test, like=like)
        train = None if train is None else interactions(train, like=like)
        return dict(self._core.evaluate(test, train))

    def __repr__(self) -> str:
        state = "fitted" if self._core.fitted else "not fitted"
        return f"{type(self).__name__}({state})"


class EASE(_Linear):
    """EASE (Steck 2019): item-item weights ``B = I - P diag(1/diag P)``, ``P = (X'X + l2
    I)^-1``, zero diagonal; a user's scores are their items' rows of ``B`` summed.

    Parameters
    ----------
    l2 : float
        The penalty lambda (default 500, chosen on validation data for ML-100K).
    dropout : float
        EDLAE's emphasis (Steck 2020): item i's penalty becomes ``l2 + p/(1-p) count_i``.
    precision : str
        'f32' (default) or 'f64' for the solve.
    threads : int, optional
        Worker threads (default: all cores).
    """

    _kind = "ease"

    def __init__(self, l2: Optional[float] = None, dropout: Optional[float] = None,
                 precision: Optional[str] = None, threads: Optional[int] = None, config: Any = None):
        super().__init__(dict(ease_dropout=dropout, precision=precision), dict(l2=l2), threads, config)


class LocalEASE(_Linear):
    """EASE solved per item over its ``neighbours`` most co-occurring items: for catalogs whose
    dense item-item matrix does not fit in memory."""

    _kind = "local-ease"

    def __init__(self, neighbours: Optional[int] = None, l2: Optional[float] = None,
                 threads: Optional[int] = None, config: Any = None):
        super().__init__(dict(neighbours=neighbours), dict(l2=l2), threads, config)


class IALS(_Linear):
    """Implicit ALS (Hu, Koren & Volinsky 2008) by conjugate gradient: ``factors``, ``l2``,
    confidence ``1 + alpha`` on observed pairs, ``iterations`` sweeps, ``cg_steps`` per row,
    ``seed``. ``loss_history`` holds the loss after each sweep."""

    _kind = "ials"

    def __init__(self, factors: Optional[int] = None, l2: Optional[float] = None,
                 alpha: Optional[float] = None, iterations: Optional[int] = None,
                 cg_steps: Optional[int] = None, seed: Optional[int] = None,
                 threads: Optional[int] = None, config: Any = None):
        super().__init__(
            dict(alpha=alpha, cg_steps=cg_steps),
            dict(dim=factors, l2=l2, epochs=iterations, seed=seed),
            threads,
            config,
        )
