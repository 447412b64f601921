"""The factorization model from Python: the CLI's run to the bit, its queries, files, pickling,
threads and signals."""

import json
import pickle
import subprocess
import threading
import time

import numpy as np
import pytest

import netrex
from netrex import NetrexError


def test_warp_on_ml100k_gives_the_clis_mrr(ua, warp_ua):
    train, test = ua
    metrics = netrex.evaluate(warp_ua, test, train=train)
    # the README's run: `netrex fit --dataset ml-100k --split ua --loss warp --dim 128 ...`
    assert round(metrics["mrr"], 4) == 0.1186
    assert metrics["test_users"] == 943
    assert metrics["precision_at_10"] > 0.25
    assert set(metrics) >= {"mrr", "auc", "precision_at_10", "recall_at_10", "ndcg_at_10"}


def test_python_save_is_read_by_the_cli(ua, warp_ua, cli, tmp_path):
    train, test = ua
    warp_ua.save(tmp_path / "model")
    out = subprocess.run(
        [cli, "evaluate", "--model", str(tmp_path / "model"), "--dataset", "ml-100k",
         "--split", "ua", "--json"],
        check=True, capture_output=True, text=True,
    )
    printed = json.loads(out.stdout.strip().splitlines()[-1])
    assert printed["mrr"] == pytest.approx(netrex.evaluate(warp_ua, test, train=train)["mrr"], abs=1e-9)
    recs = subprocess.run(
        [cli, "recommend", "--model", str(tmp_path / "model"), "--user", "196", "-k", "3", "--json"],
        check=True, capture_output=True, text=True,
    )
    cli_ids = [str(r["item"]) for r in json.loads(recs.stdout.strip().splitlines()[-1])["items"]]
    ids, _ = warp_ua.recommend([196], k=3, raw=True)
    assert cli_ids == [str(i) for i in ids[0]]


def test_cli_save_is_read_by_python(ua, cli, tmp_path):
    train, test = ua
    out = subprocess.run(
        [cli, "fit", "--dataset", "ml-100k", "--split", "ua", "--loss", "bpr", "--dim", "16",
         "--epochs", "2", "--seed", "3", "--json", "--save", str(tmp_path / "m")],
        check=True, capture_output=True, text=True,
    )
    printed = json.loads(out.stdout.strip().splitlines()[-1])
    model = netrex.load(tmp_path / "m")
    assert isinstance(model, netrex.FactorizationModel)
    assert netrex.evaluate(model, test, train=train)["mrr"] == pytest.approx(printed["mrr"], abs=1e-9)
    # and the same settings from Python are the same run
    again = netrex.FactorizationModel(loss="bpr", dim=16, epochs=2, seed=3, threads=1).fit(train)
    assert np.array_equal(again.item_embeddings, model.item_embeddings)


def test_queries(ua, warp_ua):
    train, _ = ua
    ids, scores = warp_ua.recommend([0, 1], k=5)
    assert ids.shape == scores.shape == (2, 5)
    assert (np.diff(scores, axis=1) <= 0).all()
    seen = set(train.items[train.users == 0].tolist())
    assert not seen & set(ids[0].tolist())
    unfiltered, _ = warp_ua.recommend([0], k=50, filter_seen=False)
    assert seen & set(unfiltered[0].tolist())
    # predict agrees with recommend's scores and with the embeddings
    assert np.allclose(warp_ua.predict(0, ids[0]), scores[0], atol=1e-5)
    by_hand = warp_ua.user_embeddings[1] @ warp_ua.item_embeddings[ids[1]].T
    by_hand += warp_ua.item_biases[ids[1]] + warp_ua.user_biases[1]
    assert np.allclose(by_hand, scores[1], atol=1e-4)
    # a new user's items give a vector and recommendations without those items
    vector = warp_ua.fold_in([0, 1, 2])
    assert vector.shape == (128,)
    new_ids, _ = warp_ua.recommend_new([0, 1, 2], k=5)
    assert not {0, 1, 2} & set(new_ids.tolist())
    raw_ids, _ = warp_ua.recommend_new(["50", 172], k=3, raw=True)
    assert len(raw_ids) == 3
    with pytest.raises(NetrexError, match="unknown user"):
        warp_ua.recommend([10**6])
    with pytest.raises(NetrexError, match="unknown item"):
        warp_ua.predict([0], [5000])
    with pytest.raises(NetrexError, match="one id per pair"):
        warp_ua.predict([0, 1, 2], [1, 2])


def test_similar_items(warp_ua):
    ids, scores = warp_ua.similar_items([0, 49], k=5)
    assert ids.shape == scores.shape == (2, 5)
    assert 0 not in ids[0] and 49 not in ids[1] and (np.diff(scores, axis=1) <= 0).all()
    vectors = warp_ua.item_embeddings
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    by_hand = unit[ids[1]] @ unit[49]
    assert np.allclose(by_hand, scores[1], atol=1e-5)
    dot_ids, dot_scores = warp_ua.similar_items([49], k=3, similarity="dot")
    assert np.allclose(vectors[dot_ids[0]] @ vectors[49], dot_scores[0], rtol=1e-5)
    raw, _ = warp_ua.similar_items(["50"], k=3, raw=True)
    assert raw.shape == (1, 3) and "50" not in [str(x) for x in raw[0]]
    with pytest.raises(NetrexError, match="cosine"):
        warp_ua.similar_items([0], similarity="euclid")


def test_fit_partial_continues_and_checks_the_id_space(ua):
    train, test = ua
    model = netrex.FactorizationModel(loss="adaptive-hinge", dim=32, epochs=1, seed=1, threads=1)
    model.fit_partial(train, epochs=1)
    first = model.item_embeddings.copy()
    model.fit_partial(train, epochs=2)
    assert len(model.loss_history) == 3
    assert not np.array_equal(first, model.item_embeddings)
    other = netrex.interactions(np.array([0, 1]), np.array([0, 1]))
    with pytest.raises(NetrexError, match="model's id space"):
        model.fit_partial(other)


def test_settings_are_checked_before_training(ua):
    train, _ = ua
    with pytest.raises(NetrexError, match="dim"):
        netrex.FactorizationModel(dim=0)
    with pytest.raises(NetrexError, match="unknown variant"):
        netrex.FactorizationModel(loss="no-such-loss")
    with pytest.raises(NetrexError, match="learning_rate"):
        netrex.FactorizationModel(learning_rate=-1.0)
    with pytest.raises(NetrexError, match="not fitted"):
        netrex.FactorizationModel().recommend([0])


def test_config_file_and_plan(tmp_path, ua):
    train, _ = ua
    path = tmp_path / "run.toml"
    path.write_text('[training]\nloss = "bpr"\ndim = 8\nepochs = 1\nseed = 4\n')
    model = netrex.FactorizationModel(loss=None, config=path, threads=1).fit(train)
    assert model.plan["training"]["loss"] == "bpr"
    assert model.plan["training"]["dim"] == 8
    assert model.item_embeddings.shape == (train.num_items, 8)
    with pytest.raises(NetrexError, match="unknown field"):
        netrex.FactorizationModel(config={"training": {"no_such_key": 1}})


def test_pickle_round_trip(ua, warp_ua):
    train, test = ua
    copy = pickle.loads(pickle.dumps(warp_ua))
    assert np.array_equal(copy.item_embeddings, warp_ua.item_embeddings)
    assert copy.recommend([3], k=5)[0].tolist() == warp_ua.recommend([3], k=5)[0].tolist()
    fresh = pickle.loads(pickle.dumps(netrex.FactorizationModel(dim=8)))
    assert repr(fresh).endswith("not fitted)")


def test_corrupt_model_file_is_an_error(tmp_path, warp_ua):
    warp_ua.save(tmp_path / "m")
    (tmp_path / "m" / "model.safetensors").write_bytes(b"not a tensor file")
    with pytest.raises(NetrexError):
        netrex.load(tmp_path / "m")
    with pytest.raises(NetrexError, match="no model here"):
        netrex.load(tmp_path / "nothing")


def test_the_gil_is_released_while_fitting(ua):
    train, _ = ua
    ticks = []
    stop = threading.Event()

    def count():
        while not stop.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.001)

    worker = threading.Thread(target=count)
    model = netrex.FactorizationModel(loss="bpr", dim=64, epochs=3, seed=0, threads=1)
    worker.start()
    start = time.perf_counter()
    model.fit(train)
    end = time.perf_counter()
    stop.set()
    worker.join()
    during = [t for t in ticks if start < t < end]
    # a thread that never got the GIL back would tick at most once or twice
    assert len(during) > 20, (len(during), end - start)


def test_ctrl_c_stops_between_epochs_and_keeps_the_model(ua):
    import _thread

    train, test = ua
    model = netrex.FactorizationModel(loss="bpr", dim=32, epochs=1000, seed=0, threads=1)
    epochs = []
    timer = threading.Timer(1.0, _thread.interrupt_main)
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        model.fit(train, on_epoch=lambda e, loss, m: epochs.append(e))
    timer.cancel()
    trained = len(model.loss_history)
    assert 0 < trained < 1000
    assert trained == len(epochs)
    assert netrex.evaluate(model, test, train=train)["mrr"] > 0.01


def test_on_epoch_gets_validation_metrics(ua):
    train, test = ua
    seen = []
    netrex.FactorizationModel(dim=16, epochs=2, seed=0, threads=1).fit(
        train, validation=test, on_epoch=lambda e, loss, m: seen.append((e, loss, m))
    )
    assert [e for e, _, _ in seen] == [1, 2]
    assert all(np.isfinite(loss) and 0 < m["mrr"] < 1 for _, loss, m in seen)


def test_a_callback_error_stops_training_and_is_raised(ua):
    train, _ = ua

    def fail(epoch, loss, metrics):
        raise RuntimeError("stop here")

    model = netrex.FactorizationModel(dim=8, epochs=5, seed=0, threads=1)
    with pytest.raises(RuntimeError, match="stop here"):
        model.fit(train, on_epoch=fail)
    assert len(model.loss_history) == 1


def test_threads_default_to_all_cores():
    import os

    assert netrex.FactorizationModel().plan["training"]["threads"] == (os.cpu_count() or 1)
