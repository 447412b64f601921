"""The LightFM and implicit adapters answer as the peers' classes do, so their evaluation
functions run on netrex models."""

import numpy as np
import pytest

from netrex.compat import LightFM
from netrex.compat.implicit import BayesianPersonalizedRanking

sp = pytest.importorskip("scipy.sparse")


@pytest.fixture(scope="module")
def matrices(ua):
    train, test = ua
    shape = (train.num_users, train.num_items)
    as_csr = lambda d: sp.coo_matrix(  # noqa: E731
        (np.ones(len(d), dtype=np.float32), (d.users, d.items)), shape=shape
    ).tocsr()
    return as_csr(train), as_csr(test)


@pytest.fixture(scope="module")
def lightfm_model(matrices):
    train, _ = matrices
    return LightFM(loss="warp", no_components=128, random_state=0).fit(train, epochs=10)


def test_lightfm_adapter_is_the_python_run(ua, matrices, lightfm_model):
    import netrex

    train, test = ua
    # the same run as netrex.FactorizationModel(loss="warp", dim=128, seed=0): MRR 0.1186
    assert round(netrex.evaluate(lightfm_model.model, test, train=train)["mrr"], 4) == 0.1186


def test_predict_rank_counts_the_items_scored_above(matrices, lightfm_model):
    train, test = matrices
    ranks = lightfm_model.predict_rank(test, train_interactions=train)
    assert ranks.shape == test.shape and ranks.nnz == test.nnz
    biases, users = lightfm_model.get_user_representations()
    item_biases, items = lightfm_model.get_item_representations()
    for u in (0, 17, 400):
        scores = users[u] @ items.T + item_biases
        scores[train[u].indices] = -np.inf
        for i in test[u].indices:
            assert ranks[u, i] == (scores > scores[i]).sum()
    with pytest.raises(ValueError, match="share interactions"):
        lightfm_model.predict_rank(train, train_interactions=train)


def test_lightfm_evaluation_functions_run_unchanged(matrices, lightfm_model):
    evaluation = pytest.importorskip("lightfm.evaluation")
    train, test = matrices
    precision = evaluation.precision_at_k(lightfm_model, test, train_interactions=train, k=10)
    assert precision.mean() > 0.25  # netrex's P@10 0.2615 on ua (LightFM's own: 0.243)
    assert evaluation.auc_score(lightfm_model, test, train_interactions=train).mean() > 0.93


def test_lightfm_fit_partial_and_predict(matrices):
    train, _ = matrices
    model = LightFM(loss="bpr", no_components=8, random_state=1)
    model.fit_partial(train, epochs=1)
    model.fit_partial(train, epochs=1)
    assert len(model.model.loss_history) == 2
    scores = model.predict(0, np.arange(5))
    assert scores.shape == (5,)
    with pytest.raises(Exception, match="ids only"):
        model.predict(0, np.arange(5), item_features=train)


def test_implicit_adapter(matrices):
    train, test = matrices
    model = BayesianPersonalizedRanking(factors=32, iterations=5, random_state=0, num_threads=1)
    model.fit(train, show_progress=False)
    assert model.item_factors.shape == (train.shape[1], 32)
    ids, scores = model.recommend(0, train[0], N=5)
    assert ids.shape == (5,) and not set(ids.tolist()) & set(train[0].indices.tolist())
    batch_ids, _ = model.recommend(np.arange(3), train[:3], N=4)
    assert batch_ids.shape == (3, 4)
    folded, _ = model.recommend(0, train[0], N=5, recalculate_user=True)
    assert folded.shape == (5,)
    similar, _ = model.similar_items(7, N=3)
    assert similar[0] == 7
    implicit = pytest.importorskip("implicit.evaluation")
    metrics = implicit.ranking_metrics_at_k(model, train, test, K=10, show_progress=False)
    assert metrics["precision"] > 0.1
