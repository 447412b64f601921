"""Interactions from what Python users hold: SciPy sparse matrices, pandas and polars
DataFrames, NumPy id arrays, MovieLens 100K and S3Rec sequence files from a path."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional, Tuple

import numpy as np

from . import _netrex
from ._netrex import Data, NetrexError

__all__ = ["interactions", "movielens_100k", "read_sequences", "Data"]


def _factorized(values: Any):
    """A pandas or polars string column as ``(int64 codes, distinct strings)``, computed by
    the frame library (no Python object per row); None for any other column."""
    module = type(values).__module__.split(".")[0]
    if module == "polars":
        import polars as pl

        if values.dtype in (pl.String, pl.Categorical) or str(values.dtype).startswith("Enum"):
            if values.null_count():
                return None  # the row-by-row path names the missing row
            strings = values.cast(pl.String)
            uniques = strings.unique().sort()
            codes = uniques.search_sorted(strings).to_numpy()
            return np.ascontiguousarray(codes, dtype=np.int64), uniques.to_list()
        return None
    if module == "pandas" and getattr(values, "dtype", None) is not None:
        import pandas as pd

        if values.dtype.kind in "iufb":
            return None
        codes, uniques = pd.factorize(values)
        if (codes < 0).any() or not all(isinstance(u, str) for u in uniques):
            return None
        return np.ascontiguousarray(codes, dtype=np.int64), list(uniques)
    return None


def _id_column(values: Any, name: str):
    """One column of ids as an int64 array (integer ids), ``(codes, uniques)`` (a frame's
    string column) or a list of str (any other ids)."""
    factorized = _factorized(values)
    if factorized is not None:
        return factorized
    array = np.asarray(values)
    if array.ndim != 1:
        raise NetrexError(f"{name} ids must be one-dimensional, got shape {array.shape}")
    kind = array.dtype.kind
    if kind in "iu":
        if kind == "u" and array.size and array.max() > np.iinfo(np.int64).max:
            raise NetrexError(f"{name} id {array.max()} does not fit in int64")
        return np.ascontiguousarray(array, dtype=np.int64)
    if kind == "f":
        if np.isnan(array).any():
            row = int(np.flatnonzero(np.isnan(array))[0])
            raise NetrexError(f"{name} ids contain NaN (row {row}): drop or fill the missing ids")
        raise NetrexError(
            f"{name} ids must be integers or strings, got {array.dtype} (cast whole-number "
            "floats with .astype('int64'))"
        )
    if kind == "b":
        raise NetrexError(f"{name} ids must be integers or strings, got booleans")
    if kind in "USO":
        out = []
        for row, v in enumerate(array.tolist()):
            if v is None or (isinstance(v, float) and v != v):
                raise NetrexError(f"{name} ids contain a missing value (row {row})")
            out.append(str(v))
        return out
    raise NetrexError(f"{name} ids must be integers or strings, got {array.dtype}")


def _length(column) -> int:
    return len(column[0]) if isinstance(column, tuple) else len(column)


def _dense_column(values: Any, name: str) -> np.ndarray:
    column = _id_column(values, name)
    if not isinstance(column, np.ndarray):
        raise NetrexError(
            f"{name} ids of a matrix or dense array must be integers: for raw ids use "
            "netrex.interactions(frame, user_col=..., item_col=...)"
        )
    return column


def _optional(values: Any, dtype, name: str) -> Optional[np.ndarray]:
    if values is None:
        return None
    array = np.ascontiguousarray(np.asarray(values), dtype=dtype)
    if dtype == np.float32 and not np.isfinite(array).all():
        raise NetrexError(f"{name} contain NaN or infinite values")
    return array


def _numeric_or_series(series: Any):
    """A frame's column: a NumPy array for numbers (no copy where the memory allows), the
    series itself otherwise (string ids are factorized by the frame library)."""
    dtype = series.dtype
    numeric = getattr(dtype, "kind", None) in ("i", "u", "f", "b") or (
        hasattr(dtype, "is_numeric") and dtype.is_numeric()
    )
    return series.to_numpy() if numeric else series


def _columns(frame: Any, user_col: str, item_col: str, timestamp_col, weight_col):
    """The columns of a pandas or polars DataFrame, as NumPy arrays (no copy where the
    frame's memory allows one)."""
    module = type(frame).__module__.split(".")[0]
    if module == "polars":
        names = frame.columns
        get = lambda c: _numeric_or_series(frame.get_column(c))  # noqa: E731
    elif module == "pandas" or hasattr(frame, "columns"):
        names = list(frame.columns)
        get = lambda c: _numeric_or_series(frame[c])  # noqa: E731
    else:
        raise NetrexError(f"cannot read interactions from a {type(frame).__name__}")
    for col in (user_col, item_col, timestamp_col, weight_col):
        if col is not None and col not in names:
            raise NetrexError(f"no column {col!r} (columns are: {', '.join(map(str, names))})")
    pick = lambda c: None if c is None else get(c)  # noqa: E731
    return get(user_col), get(item_col), pick(timestamp_col), pick(weight_col)


def _like_maps(like: Any):
    if like is None:
        return None, None
    users, items = getattr(like, "user_map", None), getattr(like, "item_map", None)
    if users is None or items is None:
        raise NetrexError("like= needs a model or data built from raw ids (it has no id maps)")
    return users, items


def interactions(
    source: Any,
    items: Any = None,
    *,
    user_col: str = "user",
    item_col: str = "item",
    timestamp_col: Optional[str] = None,
    weight_col: Optional[str] = None,
    timestamps: Any = None,
    weights: Any = None,
    num_users: Optional[int] = None,
    num_items: Optional[int] = None,
    like: Any = None,
    unknown: str = "error",
) -> Data:
    """Interactions from what you hold.

    - A SciPy sparse matrix (COO, CSR, CSC: users x items, as LightFM and implicit take): its
      non-zero entries are the interactions, rows and columns the dense ids.
    - A pandas or polars DataFrame with raw id columns ``user_col`` and ``item_col`` (and
      optionally ``timestamp_col``, ``weight_col``): raw ids (integers or strings) are mapped
      to dense ids in sorted order, as the command line maps a CSV, and kept.
    - Two arrays ``interactions(users, items)``: integer arrays are dense ids (any integer
      dtype); string arrays are raw ids.

    ``like=model`` (or data) maps raw ids through that model's id maps instead, so test data
    and new training data share its id space; ``unknown`` says what happens to ids it does not
    know: ``"error"`` (default) or ``"drop"`` (the rows are left out).
    """
    if isinstance(source, Data):
        return source
    if hasattr(source, "tocoo") and hasattr(source, "shape"):
        coo = source.tocoo()
        values = np.asarray(coo.data)
        if values.dtype.kind == "f" and np.isnan(values).any():
            raise NetrexError("the matrix holds NaN values")
        keep = values != 0
        shape = coo.shape
        return _netrex.from_dense(
            _dense_column(coo.row[keep], "user"),
            _dense_column(coo.col[keep], "item"),
            shape[0] if num_users is None else num_users,
            shape[1] if num_items is None else num_items,
            None,
            None,
        )
    if items is None:
        users, items, timestamps, weights = _columns(
            source, user_col, item_col, timestamp_col, weight_col
        )
        raw = True
    else:
        users = source
        raw = None
    user_ids, item_ids = _id_column(users, "user"), _id_column(items, "item")
    if _length(user_ids) != _length(item_ids):
        raise NetrexError(
            f"users and items must have one id per interaction: {_length(user_ids)} users, "
            f"{_length(item_ids)} items"
        )
    ts = _optional(timestamps, np.int64, "timestamps")
    ws = _optional(weights, np.float32, "weights")
    user_map, item_map = _like_maps(like)
    if user_map is not None:
        dense_u, dense_i = user_map.lookup(user_ids), item_map.lookup(item_ids)
        missing = (dense_u < 0) | (dense_i < 0)
        if missing.any():
            if unknown != "drop":
                row = int(np.flatnonzero(missing)[0])
                raise NetrexError(
                    f"{int(missing.sum())} interactions name ids the model does not know "
                    f"(first at row {row}); pass unknown='drop' to leave them out"
                )
            keep = ~missing
            dense_u, dense_i = dense_u[keep], dense_i[keep]
            ts = None if ts is None else ts[keep]
            ws = None if ws is None else ws[keep]
        data = _netrex.from_dense(dense_u, dense_i, len(user_map), len(item_map), ts, ws)
        return data.with_maps(user_map, item_map)
    both_int = isinstance(user_ids, np.ndarray) and isinstance(item_ids, np.ndarray)
    if raw is None and both_int:
        return _netrex.from_dense(user_ids, item_ids, num_users, num_items, ts, ws)
    return _netrex.from_raw([(user_ids, item_ids, ts, ws)])[0]


def _data_dir(path, name: str) -> Path:
    if path is not None:
        return Path(path)
    root = os.environ.get("NETREX_DATA_DIR")
    if root is None:
        raise NetrexError(
            f"give the folder of {name} (path=...) or set NETREX_DATA_DIR to the folder "
            "that holds it"
        )
    return Path(root) / name


def movielens_100k(split: str = "ua", path: Any = None) -> Tuple[Data, Data]:
    """MovieLens 100K's official split (``ua``, ``ub``, ``u1``..``u5``) as ``(train, test)``
    in one id space, read as ``netrex fit --dataset ml-100k --split SPLIT`` reads it, from
    ``path`` (the ``ml-100k`` folder) or ``$NETREX_DATA_DIR/ml-100k``."""
    return _netrex.movielens_100k(str(_data_dir(path, "ml-100k")), split)


def read_sequences(path: Any) -> Data:
    """A sequence file in the S3Rec format (``user item item ...`` a line, in time order)."""
    return _netrex.read_sequences(str(path))
