"""Side features: frames of raw ids and LightFM-style matrices, cold items, bad rows."""

import json
import subprocess

import numpy as np
import pytest

import netrex
from netrex import NetrexError

sp = pytest.importorskip("scipy.sparse")


def genre_rows():
    import os
    from pathlib import Path

    rows = []
    path = Path(os.environ["NETREX_DATA_DIR"]) / "ml-100k" / "u.item"
    for line in path.read_text(encoding="latin-1").splitlines():
        fields = line.split("|")
        rows += [(int(fields[0]), f"genre{g}") for g, flag in enumerate(fields[5:]) if flag == "1"]
    return rows


def test_item_features_from_a_frame_train_a_hybrid_model(ua, cli, tmp_path):
    pd = pytest.importorskip("pandas")
    train, test = ua
    frame = pd.DataFrame(genre_rows(), columns=["item", "feature"])
    model = netrex.FactorizationModel(loss="warp", dim=32, epochs=3, seed=0, threads=1)
    model.fit(train, item_features=frame)
    assert model.plan["features"]["with_ids"] == "both"  # LightFM's identity features
    assert netrex.evaluate(model, test, train=train)["mrr"] > 0.05
    with pytest.raises(NetrexError, match="not single rows"):
        model.item_embeddings
    model.save(tmp_path / "hybrid")
    out = subprocess.run(
        [cli, "recommend", "--model", str(tmp_path / "hybrid"), "--user", "196", "-k", "3", "--json"],
        check=True, capture_output=True, text=True,
    )
    cli_ids = [r["item"] for r in json.loads(out.stdout.strip().splitlines()[-1])["items"]]
    ids, _ = model.recommend([196], k=3, raw=True)
    assert cli_ids == [str(i) for i in ids[0]]
    loaded = netrex.load(tmp_path / "hybrid")
    assert loaded.recommend([0], k=5)[0].tolist() == model.recommend([0], k=5)[0].tolist()


def test_a_feature_matrix_adds_cold_items():
    rng = np.random.default_rng(0)
    users = rng.integers(0, 50, 2000)
    items = rng.integers(0, 40, 2000)
    data = netrex.interactions(users, items)
    # 45 items: 5 cold ones, each sharing a feature with a warm item
    features = sp.csr_matrix((np.ones(45), (np.arange(45), np.arange(45) % 20)), shape=(45, 20))
    model = netrex.FactorizationModel(loss="bpr", dim=8, epochs=2, seed=0, threads=1)
    model.fit(data, item_features=features)
    ids, scores = model.recommend([0], k=45, filter_seen=False)
    assert set(range(40, 45)) <= set(ids[0].tolist())
    assert np.isfinite(scores).all()


@pytest.mark.parametrize(
    "weights, message",
    [([1.0, -1.0], "is not a number in"), ([0.0, 0.0], "every feature weight is 0")],
)
def test_bad_feature_rows(weights, message):
    data = netrex.interactions(np.array([0, 1]), np.array([0, 0]))
    features = sp.coo_matrix((weights, ([0, 0], [0, 1])), shape=(1, 2))
    with pytest.raises(NetrexError, match=message):
        netrex.FactorizationModel(dim=4, epochs=1).fit(data, item_features=features)


def test_feature_frames_must_name_known_ids(ua):
    pd = pytest.importorskip("pandas")
    train, _ = ua
    frame = pd.DataFrame({"item": [10**7], "feature": ["x"]})
    with pytest.raises(NetrexError, match="which the data does not have"):
        netrex.FactorizationModel(dim=4, epochs=1).fit(train, item_features=frame)
    duplicated = pd.DataFrame({"item": [1, 1], "feature": ["x", "x"]})
    with pytest.raises(NetrexError, match="twice"):
        netrex.FactorizationModel(dim=4, epochs=1).fit(train, item_features=duplicated)
