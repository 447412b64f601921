"""Sequence models: SASRec, GRU, LSTM, causal CNN and pooling, ranking the next item."""

from __future__ import annotations

import warnings
from typing import Any, Dict, Optional, Sequence as Seq, Tuple

import numpy as np

from . import _netrex
from ._data import Data, interactions
from ._models import OnEpoch, _FileBacked, _plan, _Progress
from ._netrex import NetrexError

__all__ = ["SequenceModel", "leave_one_out", "leave_last"]


def leave_one_out(data: Data) -> Tuple[Data, Data, Data]:
    """The sequence benchmarks' split: per user the last item is the test target and the one
    before it the validation target: ``(train, validation, test)``, as ``netrex fit --split
    leave-one-out`` cuts it."""
    return _netrex.split_leave_one_out(data)


def leave_last(data: Data, k: int = 1) -> Tuple[Data, Data]:
    """Each user's last ``k`` interactions (by timestamp) held out: ``(train, held_out)``."""
    return _netrex.split_leave_last(data, k)


class SequenceModel(_FileBacked):
    """A sequence model: reads a user's history, oldest first, and ranks every item as the
    next one (netrex's `--model sasrec|bsarec|gru|lstm|cnn|pooling`).

    Parameters
    ----------
    model : str
        'sasrec' (default), 'bsarec' (SASRec with a causal frequency branch; its
        ``frequency_mix`` and ``frequency_cutoff`` go in ``config={"model": {...}}``),
        'gru', 'lstm', 'cnn' or 'pooling'.
    loss : str, optional
        Default on the next-item protocol: 'sampled-softmax' over the full catalog.
    dim, max_len, blocks, heads, dropout : optional
        Embedding dimension (default 64), history length read (50), SASRec's blocks (2),
        heads (1) and dropout (0.5).
    learning_rate, batch_size, negatives : optional
        The optimisation (defaults tuned on the protocol, see docs/results.md).
    max_epochs, patience : int, optional
        Early stopping on validation NDCG@10 (defaults 200 and 20).
    epochs : int, optional
        Epochs when fitting without validation data.
    seed, threads : int, optional
        Seed (default 0) and worker threads (default: all cores).
    config : dict or path, optional
        A run plan's sections or a TOML config file; keyword arguments override it.

    Examples
    --------
    >>> data = netrex.read_sequences("Beauty.txt")
    >>> train, valid, test = netrex.leave_one_out(data)
    >>> model = netrex.SequenceModel("sasrec", seed=0).fit(train, validation=valid)
    >>> netrex.evaluate(model, test, train=train.concat(valid))["ndcg_at_10"]
    """

    def __init__(
        self,
        model: str = "sasrec",
        loss: Optional[str] = None,
        dim: Optional[int] = None,
        max_len: Optional[int] = None,
        blocks: Optional[int] = None,
        heads: Optional[int] = None,
        dropout: Optional[float] = None,
        learning_rate: Optional[float] = None,
        batch_size: Optional[int] = None,
        negatives: Optional[int] = None,
        max_epochs: Optional[int] = None,
        patience: Optional[int] = None,
        epochs: Optional[int] = None,
        seed: Optional[int] = None,
        threads: Optional[int] = None,
        config: Any = None,
    ):
        plan = _plan(
            config,
            {
                "model": dict(kind=model, max_len=max_len, blocks=blocks, heads=heads,
                              dropout=dropout),
                "training": dict(loss=loss, dim=dim, learning_rate=learning_rate,
                                 batch_size=batch_size, negatives=negatives, epochs=epochs,
                                 seed=seed),
                "stopping": dict(max_epochs=max_epochs, patience=patience),
            },
        )
        plan.setdefault("split", {}).setdefault("method", "leave-one-out")
        self._start(plan, threads)

    @staticmethod
    def _core_type():
        return _netrex.Sequence

    def fit(
        self,
        data: Any,
        validation: Any = "last",
        *,
        epochs: Optional[int] = None,
        on_epoch: Optional[OnEpoch] = None,
        progress: bool = False,
        **columns: Any,
    ) -> "SequenceModel":
        """Trains on ``data`` (interactions with timestamps, or a sequence file's data).

        ``validation`` holds one target per user, after that user's training items; training
        stops early on its NDCG@10 and keeps the best epoch's model. The default, ``"last"``,
        carves each user's last item from ``data`` for it (as the command line does on
        leave-one-out); ``None`` trains ``epochs`` epochs without validation. Ctrl-C stops
        after the epoch under way."""
        data = interactions(data, **columns)
        if isinstance(validation, str):
            if validation != "last":
                raise NetrexError(f"validation must be data, 'last' or None, not {validation!r}")
            data, validation = leave_last(data, 1)
        elif validation is not None:
            validation = interactions(validation, like=data if data.user_map else None)
        stopping = self._plan_sections.get("stopping", {})
        total = stopping.get("max_epochs") or 200 if validation is not None else (epochs or 10)
        bar = _Progress(total, progress, on_epoch)
        callback = bar if (progress or on_epoch is not None) else None
        try:
            self._core.fit(data, validation, epochs, callback)
        finally:
            bar.close()
        if self._core.diverged:
            warnings.warn(f"training stopped early: {self._core.diverged}", stacklevel=2)
        return self

    @property
    def best_epoch(self) -> Optional[int]:
        """The epoch whose model early stopping kept."""
        return self._core.best_epoch

    @property
    def diverged(self) -> Optional[str]:
        """Why the last early-stopped fit stopped early, if it diverged (a validation score that
        collapsed or a loss that exploded); the best epoch's model is kept. ``None`` otherwise."""
        return self._core.diverged

    @property
    def validation_curve(self):
        """(epoch, validation NDCG@10) of each epoch of the last early-stopped fit."""
        return self._core.validation_curve

    def recommend(
        self, histories: Seq[Any], k: int = 10, exclude_seen: bool = True, raw: bool = False
    ) -> Tuple[np.ndarray, np.ndarray]:
        """The ``k`` best next items after each history (item ids, oldest first): ``(ids,
        scores)``, ``len(histories) x k``. With ``raw=True`` histories hold raw item ids and
        raw ids come back."""
        if raw:
            rows = [self._raw_to_dense(h, "item") for h in histories]
        else:
            rows = [np.ascontiguousarray(np.asarray(h, dtype=np.int64)).reshape(-1) for h in histories]
        ids, scores = self._core.recommend(rows, k, exclude_seen)
        return (self._dense_to_raw(ids) if raw else ids), scores

    def evaluate(self, test: Any, train: Any) -> Dict[str, float]:
        """Next-item metrics: each user's target in ``test`` ranked among every item given the
        user's history in ``train`` (seen items removed): ``hr_at_10``, ``ndcg_at_10``,
        ``mrr``, ``targets``."""
        like = self if self.item_map is not None else None
        test = interactions(test, like=like)
        history = interactions(train, like=like)
        return dict(self._core.evaluate(test, history))

    def __repr__(self) -> str:
        kind = self.plan.get("model", {}).get("kind")
        state = f"{self._core.epochs_trained} epochs trained" if self._core.fitted else "not fitted"
        return f"SequenceModel({kind!r}, {state})"
