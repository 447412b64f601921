"""Drop-in adapters: ``from netrex.compat import LightFM`` in place of ``from lightfm import
LightFM``, and ``netrex.compat.implicit.BayesianPersonalizedRanking`` in place of implicit's.
Their constructors, ``fit`` and query methods take the peers' arguments, so the peers' own
evaluation functions (``lightfm.evaluation.precision_at_k``, ``auc_score``,
``implicit.evaluation.ranking_metrics_at_k``) run on a netrex model unchanged.

Training is netrex's: the optimizer and learning rate tuned for the loss (LightFM's
``learning_schedule``, ``learning_rate``, ``rho`` and ``epsilon`` describe its own optimizer
and are not used unless ``learning_rate`` is given explicitly, which netrex then uses as its
own step size)."""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from .._models import FactorizationModel, _forwarded
from .._netrex import NetrexError

__all__ = ["LightFM"]

_LIGHTFM_LOSSES = {"warp": "warp", "bpr": "bpr", "logistic": "pointwise", "warp-kos": "warp"}


def _seed(random_state: Any) -> int:
    if random_state is None:
        return 0
    if isinstance(random_state, (int, np.integer)):
        return int(random_state)
    if hasattr(random_state, "randint"):
        return int(random_state.randint(0, 2**31 - 1))
    raise NetrexError(f"random_state must be an int or a RandomState, got {random_state!r}")


def _no_features(user_features: Any, item_features: Any) -> None:
    if user_features is not None or item_features is not None:
        raise NetrexError(
            "netrex.compat.LightFM trains on ids only: side features go through "
            "netrex.FactorizationModel's plan (features section) instead"
        )


class LightFM:
    """LightFM's model class, trained by netrex.

    Takes LightFM's constructor arguments: ``no_components`` (embedding dimension), ``loss``
    ('warp', 'bpr', 'logistic', 'warp-kos'), ``item_alpha``/``user_alpha`` (an L2 penalty:
    netrex uses the larger), ``max_sampled`` (WARP's sampling trials), ``random_state``; and
    ``learning_schedule``, ``learning_rate``, ``rho``, ``epsilon``, ``k``, ``n`` (LightFM's
    optimizer and k-OS settings; see the module's note). Exposes ``user_embeddings``,
    ``item_embeddings``, ``user_biases``, ``item_biases`` as LightFM does.
    """

    def __init__(
        self,
        no_components: int = 10,
        k: int = 5,
        n: int = 10,
        learning_schedule: str = "adagrad",
        loss: str = "logistic",
        learning_rate: Optional[float] = None,
        rho: float = 0.95,
        epsilon: float = 1e-6,
        item_alpha: float = 0.0,
        user_alpha: float = 0.0,
        max_sampled: Optional[int] = None,
        random_state: Any = None,
    ):
        if loss not in _LIGHTFM_LOSSES:
            raise ValueError(f"unknown loss {loss!r}: use one of {sorted(_LIGHTFM_LOSSES)}")
        if learning_schedule not in ("adagrad", "adadelta"):
            raise ValueError("learning_schedule must be 'adagrad' or 'adadelta'")
        self.no_components, self.loss, self.k, self.n = no_components, loss, k, n
        self.learning_schedule, self.learning_rate = learning_schedule, learning_rate
        self.rho, self.epsilon = rho, epsilon
        self.item_alpha, self.user_alpha, self.max_sampled = item_alpha, user_alpha, max_sampled
        self.random_state = random_state
        l2 = max(item_alpha, user_alpha)
        self._model = FactorizationModel(
            loss=_LIGHTFM_LOSSES[loss],
            dim=no_components,
            learning_rate=learning_rate,
            l2=l2 if l2 > 0 else None,
            negatives=max_sampled,
            seed=_seed(random_state),
            threads=1,
        )

    def _train(self, interactions, user_features, item_features, sample_weight, epochs, num_threads, verbose, restart):
        _no_features(user_features, item_features)
        from .._data import interactions as to_data
        from .. import _netrex

        coo = interactions.tocoo()
        weights = None
        if sample_weight is not None:
            w = sample_weight.tocoo()
            if w.shape != coo.shape or not (np.array_equal(w.row, coo.row) and np.array_equal(w.col, coo.col)):
                raise ValueError("sample_weight must have the same shape and entries as interactions")
            weights = np.asarray(w.data, dtype=np.float32)
        keep = coo.data != 0
        if weights is None:
            data = to_data(coo)
        else:
            data = _netrex.from_dense(
                coo.row[keep].astype(np.int64), coo.col[keep].astype(np.int64),
                coo.shape[0], coo.shape[1], None, np.ascontiguousarray(weights[keep]),
            )
        self._model._plan_sections.setdefault("training", {})["threads"] = max(1, int(num_threads))
        if restart:
            import json

            self._model._core = _netrex.Factorization(json.dumps(self._model._plan_sections))
            self._model.fit(data, epochs=epochs, progress=verbose)
        else:
            self._model.fit_partial(data, epochs=epochs, progress=verbose)
        return self

    def fit(self, interactions, user_features=None, item_features=None, sample_weight=None,
            epochs=1, num_threads=1, verbose=False):
        """Fits from a new initialisation on a users x items sparse matrix (LightFM's
        ``fit``)."""
        return self._train(interactions, user_features, item_features, sample_weight, epochs,
                           num_threads, verbose, True)

    def fit_partial(self, interactions, user_features=None, item_features=None,
                    sample_weight=None, epochs=1, num_threads=1, verbose=False):
        """Trains ``epochs`` more epochs (LightFM's ``fit_partial``)."""
        restart = not self._model._core.fitted
        return self._train(interactions, user_features, item_features, sample_weight, epochs,
                           num_threads, verbose, restart)

    def predict(self, user_ids, item_ids, item_features=None, user_features=None, num_threads=1):
        """Scores of the pairs ``(user_ids[i], item_ids[i])``; a single user id is paired with
        every item (LightFM's ``predict``)."""
        _no_features(user_features, item_features)
        return self._model.predict(user_ids, item_ids)

    def _scores(self, users: np.ndarray) -> np.ndarray:
        u = self._model.user_embeddings[users]
        return u @ self._model.item_embeddings.T + self._model.item_biases[None, :]

    def predict_rank(self, test_interactions, train_interactions=None, item_features=None,
                     user_features=None, num_threads=1, check_intersections=True):
        """For each test interaction, the number of items scored above it, the user's
        training items left out (LightFM's ``predict_rank``: a CSR matrix shaped as the test
        matrix)."""
        _no_features(user_features, item_features)
        test = test_interactions.tocsr().astype(np.float32)
        test.sort_indices()
        train = None if train_interactions is None else train_interactions.tocsr()
        n_users, n_items = self._model._core.shape
        if test.shape[0] > n_users or test.shape[1] > n_items:
            raise ValueError("test interactions have more users or items than the model")
        if check_intersections and train is not None:
            if test.multiply(train).nnz > 0:
                raise ValueError(
                    "Test interactions matrix and train interactions matrix share "
                    "interactions. This will cause incorrect evaluation, check your data split."
                )
        ranks = test.copy()
        users = np.flatnonzero(np.diff(test.indptr))
        for start in range(0, len(users), 512):
            block = users[start:start + 512]
            scores = self._scores(block)
            for row, u in zip(scores, block):
                if train is not None and u < train.shape[0]:
                    row = row.copy()
                    row[train.indices[train.indptr[u]:train.indptr[u + 1]]] = -np.inf
                lo, hi = test.indptr[u], test.indptr[u + 1]
                positives = row[test.indices[lo:hi]]
                ranks.data[lo:hi] = (row[None, :] > positives[:, None]).sum(axis=1)
        return ranks

    def get_user_representations(self, features=None):
        """(biases, embeddings) of the users."""
        _no_features(features, None)
        return self._model.user_biases, self._model.user_embeddings

    def get_item_representations(self, features=None):
        """(biases, embeddings) of the items."""
        _no_features(None, features)
        return self._model.item_biases, self._model.item_embeddings

    user_embeddings = _forwarded(
        "_model", "user_embeddings", "User embeddings, ``n_users x no_components``."
    )
    item_embeddings = _forwarded(
        "_model", "item_embeddings", "Item embeddings, ``n_items x no_components``."
    )
    user_biases = _forwarded("_model", "user_biases", "User biases.")
    item_biases = _forwarded("_model", "item_biases", "Item biases.")

    @property
    def model(self) -> FactorizationModel:
        """The netrex model underneath (save it, evaluate it, recommend with it)."""
        return self._model
