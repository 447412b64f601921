"""The models: a factorization model trained with any built-in loss, and loading what the
command line saved."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Tuple

import numpy as np

from . import _netrex
from ._data import Data, interactions
from ._netrex import NetrexError

__all__ = ["FactorizationModel", "load", "evaluate"]

OnEpoch = Callable[[int, float, Dict[str, float]], Any]


def _default_threads() -> int:
    return os.cpu_count() or 1


def _plan(config: Any, sections: Dict[str, Dict[str, Any]]) -> Dict[str, Any]:
    """A plan's sections: ``config`` (a dict of sections, or the path of a TOML config file
    as ``netrex fit --config`` reads) with ``sections``' settings over it."""
    if config is None:
        plan: Dict[str, Any] = {}
    elif isinstance(config, dict):
        plan = json.loads(json.dumps(config))
    else:
        plan = json.loads(_netrex.plan_toml_to_json(Path(config).read_text()))
    for name, values in sections.items():
        section = plan.setdefault(name, {})
        section.update({k: v for k, v in values.items() if v is not None})
    return plan


def _forwarded(owner: str, name: str, doc: str, call: bool = False) -> property:
    """A read-only property: ``self.<owner>.<name>`` (called when ``call``)."""

    def read(self: Any) -> Any:
        value = getattr(getattr(self, owner), name)
        return value() if call else value

    read.__doc__ = doc
    return property(read, doc=doc)


def _ids(values: Any, name: str) -> np.ndarray:
    array = np.atleast_1d(np.asarray(values))
    if array.dtype.kind not in "iu":
        raise NetrexError(f"{name} must be integer (dense) ids, got {array.dtype}")
    return np.ascontiguousarray(array, dtype=np.int64)


def _feature_rows(features: Any, mapping: Any, side: str):
    """Side features as ``(dense ids, feature names, weights)`` rows."""
    if features is None:
        return None
    from ._data import _id_column

    if hasattr(features, "tocoo"):
        coo = features.tocoo()
        names = [str(c) for c in np.asarray(coo.col).tolist()]
        weights = np.ascontiguousarray(coo.data, dtype=np.float32)
        return np.ascontiguousarray(coo.row, dtype=np.int64), names, weights
    if not hasattr(features, "columns"):
        raise NetrexError(
            f"{side}_features must be a sparse matrix or a frame of ({side}, feature[, weight]) rows"
        )
    cols = [str(c) for c in features.columns]
    id_col = next((c for c in (side, f"{side}_id", "id") if c in cols), cols[0])
    feature_col = "feature" if "feature" in cols else cols[1]
    column = lambda c: (  # noqa: E731
        features.get_column(c).to_numpy() if hasattr(features, "get_column") else features[c].to_numpy()
    )
    ids = _id_column(column(id_col), side)
    if mapping is not None:
        dense = mapping.lookup(ids)
        if (dense < 0).any():
            bad = np.asarray(column(id_col))[dense < 0][0]
            raise NetrexError(f"{side} features name {side} {bad!r}, which the data does not have")
    elif not isinstance(ids, np.ndarray):
        raise NetrexError(f"{side} features name raw ids but the data has dense ids only")
    else:
        dense = ids
    names = [str(v) for v in np.asarray(column(feature_col)).tolist()]
    if "weight" in cols:
        weights = np.ascontiguousarray(column("weight"), dtype=np.float32)
    else:
        weights = np.ones(len(names), dtype=np.float32)
    return np.ascontiguousarray(dense, dtype=np.int64), names, weights


class _Progress:
    """A tqdm bar over epochs when tqdm is installed, else one line per epoch on stderr."""

    def __init__(self, epochs: int, show: bool, on_epoch: Optional[OnEpoch]):
        self.on_epoch, self.bar, self.show = on_epoch, None, show
        if show:
            try:
                from tqdm.auto import tqdm

                self.bar = tqdm(total=epochs, unit="epoch")
            except ImportError:
                self.bar = None

    def __call__(self, epoch: int, loss: float, metrics: Dict[str, float]) -> None:
        if self.bar is not None:
            self.bar.set_postfix(loss=f"{loss:.4f}", **{k: f"{v:.4f}" for k, v in metrics.items()})
            self.bar.update(1)
        elif self.show:
            extra = "".join(f"  {k} {v:.4f}" for k, v in metrics.items())
            print(f"epoch {epoch:>3}: loss {loss:.4f}{extra}", file=sys.stderr)
        if self.on_epoch is not None:
            self.on_epoch(epoch, loss, metrics)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class _FileBacked:
    """Saving, loading and pickling through the command line's model folder."""

    _core: Any
    _plan_sections: Dict[str, Any]

    @staticmethod
    def _core_type():
        raise NotImplementedError

    def _start(self, plan: Dict[str, Any], threads: Optional[int]) -> None:
        """Builds the core model of ``plan``, on ``threads`` threads (default: every core, or
        what the config file says)."""
        training = plan.setdefault("training", {})
        training.setdefault("threads", threads or _default_threads())
        if threads is not None:
            training["threads"] = threads
        self._plan_sections = plan
        self._core = self._core_type()(json.dumps(plan))

    def save(self, path: Any) -> None:
        """Saves the model into the folder ``path`` in the command line's format: ``netrex
        evaluate --model PATH`` and ``netrex recommend --model PATH`` read it."""
        self._core.save(str(path))

    def __getstate__(self) -> Dict[str, Any]:
        if not self._core.fitted:
            return {"plan": self._plan_sections, "files": None}
        with tempfile.TemporaryDirectory() as tmp:
            self._core.save(tmp)
            files = {p.name: p.read_bytes() for p in Path(tmp).iterdir() if p.is_file()}
        return {"plan": self._plan_sections, "files": files}

    def __setstate__(self, state: Dict[str, Any]) -> None:
        self._plan_sections = state["plan"]
        if state["files"] is None:
            self._core = self._core_type()(json.dumps(self._plan_sections))
            return
        with tempfile.TemporaryDirectory() as tmp:
            for name, content in state["files"].items():
                (Path(tmp) / name).write_bytes(content)
            self._core = self._core_type().load(tmp)

    @property
    def plan(self) -> Dict[str, Any]:
        """The run plan (resolved at the first fit): what ``netrex fit --print-config`` shows."""
        return json.loads(self._core.plan_json)

    @property
    def loss_history(self):
        """Mean loss of every epoch trained."""
        return self._core.loss_history

    @property
    def user_map(self):
        """Raw user ids by dense id (None for a model trained on dense ids)."""
        return self._core.maps[0]

    @property
    def item_map(self):
        """Raw item ids by dense id (None for a model trained on dense ids)."""
        return self._core.maps[1]

    def _dense_to_raw(self, ids: np.ndarray) -> np.ndarray:
        mapping = self.item_map
        if mapping is None:
            raise NetrexError("the model was trained on dense ids: it knows no raw ids")
        flat = ids.ravel()
        known = flat >= 0
        values = np.full(flat.shape, None, dtype=object)
        values[known] = mapping.raw(flat[known])
        return values.reshape(ids.shape)

    def _raw_to_dense(self, raw: Any, side: str) -> np.ndarray:
        mapping = self.user_map if side == "user" else self.item_map
        if mapping is None:
            raise NetrexError("the model was trained on dense ids: it knows no raw ids")
        from ._data import _id_column

        values = np.atleast_1d(np.asarray(raw))
        dense = mapping.lookup(_id_column(values, side))
        if (dense < 0).any():
            raise NetrexError(f"unknown {side} {values[dense < 0][0]!r}")
        return dense


class FactorizationModel(_FileBacked):
    """A factorization model: user and item embeddings and biases, scored by a dot product,
    trained on implicit feedback with a ranking loss (netrex's `--model factorization`).

    Parameters
    ----------
    loss : str, optional
        One of 'warp' (default), 'adaptive-hinge', 'bpr', 'hinge', 'pointwise',
        'log-sigmoid-bpr'.
    dim : int, optional
        Embedding dimension (default 128).
    epochs : int, optional
        Epochs of each ``fit`` (default 10).
    learning_rate : float, optional
        Step size (default: tuned per loss, see docs/results.md).
    batch_size : int, optional
        Interactions per minibatch (default 1024).
    l2 : float, optional
        L2 penalty on the rows a batch touches (default 0).
    negatives : int, optional
        Negatives per positive (default: the loss's own).
    optimizer : str, optional
        'adam' (default), 'adagrad' or 'sgd'.
    seed : int, optional
        Seed of the initialisation, shuffling and negatives (default 0). The same seed and
        one thread give the same model.
    threads : int, optional
        Worker threads for training and scoring (default: all cores).
    config : dict or path, optional
        A run plan's sections (``{"training": {...}}``) or a TOML config file as ``netrex fit
        --config`` reads; the keyword arguments above override it.

    A Python run and ``netrex fit`` with the same settings are the same run: the model folder
    written by :meth:`save` is the command line's.

    Examples
    --------
    >>> train, test = netrex.movielens_100k("ua")
    >>> model = netrex.FactorizationModel(loss="warp", dim=128, epochs=10, seed=0)
    >>> model.fit(train)
    >>> netrex.evaluate(model, test, train=train)["mrr"]
    """

    _kind = "factorization"

    def __init__(
        self,
        loss: Optional[str] = "warp",
        dim: Optional[int] = None,
        epochs: Optional[int] = None,
        learning_rate: Optional[float] = None,
        batch_size: Optional[int] = None,
        l2: Optional[float] = None,
        negatives: Optional[int] = None,
        optimizer: Optional[str] = None,
        seed: Optional[int] = None,
        threads: Optional[int] = None,
        config: Any = None,
    ):
        training = dict(
            loss=loss,
            dim=dim,
            epochs=epochs,
            learning_rate=learning_rate,
            batch_size=batch_size,
            l2=l2,
            negatives=negatives,
            optimizer=optimizer,
            seed=seed,
        )
        self._start(_plan(config, {"training": training}), threads)

    # ----- training -------------------------------------------------------------------------

    def fit(
        self,
        interactions_: Any,
        *,
        epochs: Optional[int] = None,
        validation: Any = None,
        user_features: Any = None,
        item_features: Any = None,
        on_epoch: Optional[OnEpoch] = None,
        progress: bool = False,
        **columns: Any,
    ) -> "FactorizationModel":
        """Trains from a new initialisation on ``interactions_`` (anything
        :func:`netrex.interactions` takes; ``columns`` are its keyword arguments, such as
        ``user_col``). ``on_epoch(epoch, loss, metrics)`` runs after each epoch, ``metrics``
        holding MRR and NDCG@10 on ``validation`` when given. Ctrl-C stops after the epoch
        under way, with the finished epochs kept. Returns the model.

        ``item_features`` / ``user_features`` make the model hybrid (LightFM's): a sparse
        matrix (ids x features, as LightFM takes, without its identity columns: each id keeps
        its own embedding by default) or a frame of ``(id, feature[, weight])`` rows whose ids
        are the data's raw ids. Items with features and no interactions (rows beyond the
        data's items, for data on dense ids) are cold items, scored from their features."""
        data = interactions(interactions_, **columns)
        rows = (
            _feature_rows(user_features, data.user_map, "user"),
            _feature_rows(item_features, data.item_map, "item"),
        )
        return self._fit(data, epochs, True, validation, on_epoch, progress, rows)

    def fit_partial(
        self,
        interactions_: Any,
        *,
        epochs: int = 1,
        validation: Any = None,
        on_epoch: Optional[OnEpoch] = None,
        progress: bool = False,
        **columns: Any,
    ) -> "FactorizationModel":
        """Trains ``epochs`` more epochs, continuing from the current weights (the first call
        initialises). The data must be in the model's id space: build frames with
        ``like=model``."""
        if self._core.fitted and not isinstance(interactions_, Data) and "like" not in columns:
            if self.user_map is not None and not hasattr(interactions_, "tocoo"):
                columns["like"] = self
        data = interactions(interactions_, **columns)
        return self._fit(data, epochs, False, validation, on_epoch, progress)

    def _fit(self, data, epochs, restart, validation, on_epoch, progress, features=(None, None)):
        if validation is not None:
            validation = interactions(validation, like=data if data.user_map else None)
        total = epochs or self._plan_sections.get("training", {}).get("epochs", 10)
        bar = _Progress(total, progress, on_epoch)
        callback = bar if (progress or on_epoch is not None) else None
        try:
            self._core.fit(data, epochs, restart, callback, validation, *features)
        finally:
            bar.close()
        return self

    # ----- scoring --------------------------------------------------------------------------

    def predict(self, users: Any, items: Any) -> np.ndarray:
        """Scores of the pairs ``(users[i], items[i])`` (dense ids; a single user is paired with
        every item given), float32."""
        u, i = _ids(users, "users"), _ids(items, "items")
        if u.size == 1 and i.size != 1:
            u = np.full(i.shape, u[0], dtype=np.int64)
        return self._core.predict(u, i)

    def recommend(
        self, users: Any, k: int = 10, filter_seen: bool = True, raw: bool = False
    ) -> Tuple[np.ndarray, np.ndarray]:
        """The ``k`` best items for each user, best first: ``(ids, scores)``, each
        ``len(users) x k`` (ids -1 and scores -inf pad lists that run out of items).
        ``filter_seen`` leaves out each user's training items. With ``raw=True`` users are
        raw ids and the ids returned are raw ids (an object array)."""
        if raw:
            users = self._raw_to_dense(users, "user")
        ids, scores = self._core.recommend(_ids(users, "users"), k, filter_seen)
        if raw:
            ids = self._dense_to_raw(ids)
        return ids, scores

    def fold_in(self, items: Any, *, epochs: Optional[int] = None) -> np.ndarray:
        """An embedding for a user the model never saw, from the items they chose (dense ids):
        the model's own loss minimised over that user's vector, the items fixed."""
        return self._core.fold_in(_ids(items, "items"), epochs)

    def recommend_new(self, items: Any, k: int = 10, raw: bool = False) -> Tuple[np.ndarray, np.ndarray]:
        """The ``k`` best items for a new user who chose ``items`` (folded in; those items
        left out): ``(ids, scores)``."""
        if raw:
            items = self._raw_to_dense(items, "item")
        ids, scores = self._core.recommend_new(_ids(items, "items"), k)
        return (self._dense_to_raw(ids[None, :])[0] if raw else ids), scores

    def similar_items(
        self, items: Any, k: int = 10, similarity: str = "cosine", raw: bool = False
    ) -> Tuple[np.ndarray, np.ndarray]:
        """The ``k`` items most like each of ``items`` (each leaves itself out) by the cosine,
        or with ``similarity="dot"`` the inner product, of the items' vectors: ``(ids, scores)``,
        one row per item, padded with -1 / -inf."""
        if similarity not in ("cosine", "dot"):
            raise NetrexError(f"similarity must be 'cosine' or 'dot', not {similarity!r}")
        if raw:
            items = self._raw_to_dense(items, "item")
        ids, scores = self._core.similar_items(_ids(items, "items"), k, similarity == "cosine")
        return (self._dense_to_raw(ids) if raw else ids), scores

    user_embeddings = _forwarded(
        "_core", "user_embeddings", "User embeddings, ``num_users x dim`` float32.", call=True
    )
    item_embeddings = _forwarded(
        "_core", "item_embeddings", "Item embeddings, ``num_items x dim`` float32.", call=True
    )
    user_biases = _forwarded("_core", "user_biases", "User biases, float32.", call=True)
    item_biases = _forwarded("_core", "item_biases", "Item biases, float32.", call=True)

    @staticmethod
    def _core_type():
        return _netrex.Factorization

    def __repr__(self) -> str:
        t = self.plan.get("training", {})
        state = f"{self._core.epochs_trained} epochs trained" if self._core.fitted else "not fitted"
        return f"FactorizationModel(loss={t.get('loss')!r}, dim={t.get('dim')}, {state})"


def _from_core(cls, core, plan):
    model = cls.__new__(cls)
    model._core, model._plan_sections = core, plan
    return model


def load(path: Any):
    """Loads a model saved by ``save`` in Python or by ``netrex fit --save DIR``."""
    kind = _netrex.saved_kind(str(path))
    if kind == "factorization":
        core = _netrex.Factorization.load(str(path))
        return _from_core(FactorizationModel, core, json.loads(core.plan_json))
    if kind == "sequence":
        from ._sequence import SequenceModel

        core = _netrex.Sequence.load(str(path))
        return _from_core(SequenceModel, core, json.loads(core.plan_json))
    from ._linear import EASE, IALS, LocalEASE

    core = _netrex.Linear.load(str(path))
    plan = json.loads(core.plan_json)
    cls = {"ease": EASE, "local-ease": LocalEASE, "ials": IALS}[plan["model"]["kind"]]
    return _from_core(cls, core, plan)


def evaluate(model: Any, test: Any, train: Any = None) -> Dict[str, float]:
    """Metrics of ``model`` on ``test`` with the command line's JSON keys.

    For a factorization model: full ranking with ``train``'s items excluded: ``mrr``, ``auc``,
    ``precision_at_10``, ``recall_at_10``, ``ndcg_at_10``, ``hit_rate_at_10``, ``test_users``.
    EASE and iALS report the same keys. For a sequence model: see
    :meth:`netrex.SequenceModel.evaluate`. Frames are mapped
    through the model's id maps."""
    if hasattr(model, "evaluate") and not isinstance(model, FactorizationModel):
        return model.evaluate(test, train=train)
    like = model if model.user_map is not None else None
    test = interactions(test, like=like)
    train = None if train is None else interactions(train, like=like)
    return dict(model._core.evaluate(test, train))
