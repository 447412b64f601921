"""Interactions from each input kind and dtype, and an error for each bad input."""

import numpy as np
import pytest

import netrex
from netrex import NetrexError


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.int64, np.uint16, np.uint32, np.uint64])
def test_dense_ids_of_any_integer_dtype(dtype):
    users = np.array([0, 1, 2, 2], dtype=dtype)
    items = np.array([3, 0, 1, 3], dtype=dtype)
    data = netrex.interactions(users, items)
    assert (len(data), data.num_users, data.num_items) == (4, 3, 4)
    assert data.users.tolist() == [0, 1, 2, 2]
    assert data.items.tolist() == [3, 0, 1, 3]


def test_non_contiguous_arrays():
    block = np.arange(20, dtype=np.int64).reshape(10, 2) % 5
    data = netrex.interactions(block[:, 0], block[:, 1])  # strided views
    assert data.users.tolist() == block[:, 0].tolist()
    reversed_items = np.arange(6)[::-1]
    data = netrex.interactions(np.zeros(6, dtype=np.int32), reversed_items)
    assert data.items.tolist() == [5, 4, 3, 2, 1, 0]


def test_scipy_matrices_of_each_format():
    sp = pytest.importorskip("scipy.sparse")
    dense = np.array([[1, 0, 2], [0, 0, 1], [0, 0, 0], [1, 1, 0]], dtype=np.float32)
    for matrix in (sp.coo_matrix(dense), sp.csr_matrix(dense), sp.csc_matrix(dense)):
        data = netrex.interactions(matrix)
        assert (data.num_users, data.num_items, len(data)) == (4, 3, 5)
        pairs = sorted(zip(data.users.tolist(), data.items.tolist()))
        assert pairs == [(0, 0), (0, 2), (1, 2), (3, 0), (3, 1)]
    explicit_zero = sp.coo_matrix(([1.0, 0.0], ([0, 1], [0, 1])), shape=(2, 2))
    assert len(netrex.interactions(explicit_zero)) == 1


def test_pandas_frame_with_raw_ids():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"u": ["b", "a", "b"], "i": [30, 10, 20], "t": [3, 1, 2]})
    data = netrex.interactions(frame, user_col="u", item_col="i", timestamp_col="t")
    assert data.user_map.all() == ["a", "b"]  # sorted raw ids, as the CLI maps a CSV
    assert data.item_map.all() == [10, 20, 30]
    assert data.users.tolist() == [1, 0, 1]
    assert data.items.tolist() == [2, 0, 1]
    assert data.timestamps.tolist() == [3, 1, 2]


def test_polars_frame_with_raw_ids():
    pl = pytest.importorskip("polars")
    frame = pl.DataFrame({"user": [7, 5, 7], "item": ["x", "y", "x"]})
    data = netrex.interactions(frame)
    assert data.user_map.all() == [5, 7]
    assert data.item_map.all() == ["x", "y"]
    assert data.users.tolist() == [1, 0, 1]


def test_like_maps_through_a_models_ids(ua):
    train, _ = ua
    raw_users = train.user_map.raw(np.array([0, 5], dtype=np.int64))
    raw_items = train.item_map.raw(np.array([1, 2], dtype=np.int64))
    data = netrex.interactions(np.array(raw_users), np.array(raw_items), like=train)
    assert data.users.tolist() == [0, 5]
    assert data.items.tolist() == [1, 2]
    assert (data.num_users, data.num_items) == (train.num_users, train.num_items)
    with pytest.raises(NetrexError, match="ids the model does not know"):
        netrex.interactions(np.array([10**9]), np.array([1]), like=train)
    kept = netrex.interactions(np.array([10**9, 1]), np.array([1, 1]), like=train, unknown="drop")
    assert len(kept) == 1


@pytest.mark.parametrize(
    "users, items, message",
    [
        (np.array([0, -1]), np.array([0, 1]), "not a dense id"),
        (np.array([0.0, np.nan]), np.array([0, 1]), "NaN"),
        (np.array([0.5, 1.0]), np.array([0, 1]), "must be integers or strings"),
        (np.array([True, False]), np.array([0, 1]), "booleans"),
        (np.array([0, 1, 2]), np.array([0, 1]), "one id per interaction"),
        (np.zeros((2, 2), dtype=np.int64), np.array([0, 1]), "one-dimensional"),
    ],
)
def test_bad_ids_raise_the_librarys_error(users, items, message):
    with pytest.raises(NetrexError, match=message):
        netrex.interactions(users, items)


def test_out_of_range_ids_and_bad_weights():
    with pytest.raises(NetrexError, match="out of range"):
        netrex.interactions(np.array([0, 5]), np.array([0, 1]), num_users=3)
    with pytest.raises(NetrexError, match="NaN or infinite"):
        netrex.interactions(np.array([0, 1]), np.array([0, 1]), weights=[1.0, np.nan])
    with pytest.raises(NetrexError, match="must not be negative"):
        netrex.interactions(np.array([0, 1]), np.array([0, 1]), weights=[1.0, -2.0])


def test_empty_inputs():
    sp = pytest.importorskip("scipy.sparse")
    empty = netrex.interactions(sp.csr_matrix((3, 4)))
    assert (len(empty), empty.num_users, empty.num_items) == (0, 3, 4)
    model = netrex.FactorizationModel(epochs=1)
    with pytest.raises(NetrexError, match="no interactions"):
        model.fit(empty)
    with pytest.raises(NetrexError, match="no interactions"):
        netrex.interactions(np.array([], dtype=str), np.array([], dtype=str))


def test_missing_column_and_missing_values():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"user": ["a", None], "item": [1, 2]})
    with pytest.raises(NetrexError, match="no column 'items'"):
        netrex.interactions(frame, item_col="items")
    with pytest.raises(NetrexError, match="missing value"):
        netrex.interactions(frame)


def test_movielens_and_sequence_readers(tmp_path):
    with pytest.raises(NetrexError, match="unknown MovieLens 100K split"):
        netrex.movielens_100k("uz")
    with pytest.raises(NetrexError, match="cannot read"):
        netrex.movielens_100k("ua", path=tmp_path)
    path = tmp_path / "seqs.txt"
    path.write_text("1 10 11 12\n2 11 13\n")
    data = netrex.read_sequences(path)
    assert (len(data), data.num_users, data.num_items) == (5, 2, 4)
    (tmp_path / "bad.txt").write_text("1\n")
    with pytest.raises(NetrexError):
        netrex.read_sequences(tmp_path / "bad.txt")


def test_the_readme_quickstart_is_the_example_file():
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    readme = (root / "README.md").read_text()
    example = (root / "examples" / "python" / "quickstart.py").read_text()
    assert "```python\n" + example + "```" in readme


def test_string_columns_are_factorized_by_the_frame_library():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"user": ["u2", "u1", "u2", "10"], "item": ["b", "a", "c", "a"]})
    data = netrex.interactions(frame)
    assert data.user_map.all() == [10, "u1", "u2"]  # numeric-looking strings are integers, as in a CSV
    assert data.users.tolist() == [2, 1, 2, 0]
    assert data.items.tolist() == [1, 0, 2, 0]
    as_categories = frame.astype("category")
    same = netrex.interactions(as_categories)
    assert same.users.tolist() == data.users.tolist() and same.items.tolist() == data.items.tolist()
    pl = pytest.importorskip("polars")
    polars_data = netrex.interactions(pl.DataFrame({c: frame[c].tolist() for c in frame.columns}))
    assert polars_data.users.tolist() == data.users.tolist()
    assert polars_data.item_map.all() == ["a", "b", "c"]
    with pytest.raises(NetrexError, match="missing value"):
        netrex.interactions(pl.DataFrame({"user": ["a", None], "item": ["x", "y"]}))
