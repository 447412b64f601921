"""EASE and iALS from Python: the command line's figures, files both ways, pickling."""

import json
import pickle
import subprocess

import pytest

import netrex
from netrex import NetrexError


def test_ease_and_ials_give_the_clis_figures(ua):
    train, test = ua
    ease = netrex.EASE(threads=1).fit(train)
    assert round(netrex.evaluate(ease, test, train=train)["mrr"], 4) == 0.1237
    ials = netrex.IALS(threads=1).fit(train)
    assert round(netrex.evaluate(ials, test, train=train)["mrr"], 4) == 0.1239
    assert len(ials.loss_history) == 10


def test_linear_folders_go_both_ways(ua, cli, tmp_path):
    train, test = ua
    ease = netrex.EASE(l2=300.0, threads=1).fit(train)
    ease.save(tmp_path / "py")
    out = subprocess.run(
        [cli, "evaluate", "--model", str(tmp_path / "py"), "--dataset", "ml-100k", "--split", "ua", "--json"],
        check=True, capture_output=True, text=True,
    )
    printed = json.loads(out.stdout.strip().splitlines()[-1])
    assert printed["mrr"] == pytest.approx(netrex.evaluate(ease, test, train=train)["mrr"], abs=1e-9)
    out = subprocess.run(
        [cli, "fit", "--dataset", "ml-100k", "--split", "ua", "--model", "ials", "--dim", "16",
         "--epochs", "3", "--json", "--save", str(tmp_path / "cli")],
        check=True, capture_output=True, text=True,
    )
    printed = json.loads(out.stdout.strip().splitlines()[-1])
    loaded = netrex.load(tmp_path / "cli")
    assert isinstance(loaded, netrex.IALS)
    assert netrex.evaluate(loaded, test, train=train)["mrr"] == pytest.approx(printed["mrr"], abs=1e-9)
    copy = pickle.loads(pickle.dumps(loaded))
    assert copy.recommend([5], k=5)[0].tolist() == loaded.recommend([5], k=5)[0].tolist()


def test_linear_queries_and_errors(ua):
    train, _ = ua
    ease = netrex.EASE(threads=1).fit(train)
    ids, scores = ease.recommend([0, 1], k=4)
    assert ids.shape == (2, 4)
    seen = set(train.items[train.users == 0].tolist())
    assert not seen & set(ids[0].tolist())
    new_ids, _ = ease.recommend_new([0, 1, 2], k=3)
    assert not {0, 1, 2} & set(new_ids.tolist())
    with pytest.raises(NetrexError, match="unknown user"):
        ease.recommend([10**6])
    with pytest.raises(NetrexError, match="l2"):
        netrex.EASE(l2=-1.0).fit(train)
    with pytest.raises(NetrexError, match="not fitted"):
        netrex.IALS().recommend([0])
