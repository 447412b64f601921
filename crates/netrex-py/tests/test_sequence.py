"""Sequence models from Python: the command line's leave-one-out run, queries, files."""

import json
import pickle
import subprocess

import numpy as np
import pytest

import netrex
from netrex import NetrexError


@pytest.fixture(scope="module")
def sequence_file(tmp_path_factory):
    """300 users walking a ring of 60 items (item i is followed by i+1 or i+2), seeded."""
    rng = np.random.default_rng(0)
    lines = []
    for user in range(300):
        item, row = int(rng.integers(60)), []
        for _ in range(int(rng.integers(5, 15))):
            row.append(item + 1)
            item = (item + int(rng.integers(1, 3))) % 60
        lines.append(" ".join(map(str, [user + 1] + row)))
    path = tmp_path_factory.mktemp("seq") / "ring.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


SETTINGS = dict(dim=16, max_epochs=30, patience=5, seed=0, threads=1)


def test_python_and_cli_are_one_run(sequence_file, cli, tmp_path):
    data = netrex.read_sequences(sequence_file)
    train, valid, test = netrex.leave_one_out(data)
    assert len(train) + len(valid) + len(test) == len(data)
    model = netrex.SequenceModel("sasrec", **SETTINGS).fit(train, validation=valid)
    metrics = netrex.evaluate(model, test, train=train.concat(valid))
    assert metrics["targets"] == 300
    assert metrics["hr_at_10"] > 0.3  # the ring is predictable
    out = subprocess.run(
        [cli, "fit", "--sequences", str(sequence_file), "--model", "sasrec", "--dim", "16",
         "--max-epochs", "30", "--patience", "5", "--seed", "0", "--threads", "1", "--json",
         "--save", str(tmp_path / "cli")],
        check=True, capture_output=True, text=True,
    )
    printed = json.loads(out.stdout.strip().splitlines()[-1])
    assert printed["ndcg_at_10"] == metrics["ndcg_at_10"]
    assert printed["best_epoch"] == model.best_epoch
    loaded = netrex.load(tmp_path / "cli")
    assert isinstance(loaded, netrex.SequenceModel)
    again = netrex.evaluate(loaded, test, train=train.concat(valid))
    assert again["ndcg_at_10"] == pytest.approx(metrics["ndcg_at_10"], abs=1e-12)


def test_recommend_save_and_pickle(sequence_file, cli, tmp_path):
    data = netrex.read_sequences(sequence_file)
    model = netrex.SequenceModel("gru", dim=16, max_epochs=3, patience=2, seed=1, threads=1)
    model.fit(data)  # validation carved from each user's last item
    assert model.best_epoch is not None and len(model.validation_curve) >= 1
    assert model.diverged is None  # no collapse, no explosion: patience or max_epochs ended it
    ids, scores = model.recommend([[0, 1, 2], [5]], k=4)
    assert ids.shape == (2, 4) and not {0, 1, 2} & set(ids[0].tolist())
    raw, _ = model.recommend([["1", "2"]], k=2, raw=True)
    assert raw.shape == (1, 2)
    copy = pickle.loads(pickle.dumps(model))
    assert copy.recommend([[0, 1, 2]], k=4)[0].tolist() == ids[:1].tolist()
    model.save(tmp_path / "py")
    out = subprocess.run(
        [cli, "evaluate", "--model", str(tmp_path / "py"), "--sequences", str(sequence_file),
         "--json"],
        check=True, capture_output=True, text=True,
    )
    assert "ndcg_at_10" in json.loads(out.stdout.strip().splitlines()[-1])
    with pytest.raises(NetrexError, match="unknown item"):
        model.recommend([[10_000]])


def test_errors(sequence_file):
    with pytest.raises(NetrexError, match="not a sequence model"):
        netrex.SequenceModel("factorization")
    with pytest.raises(NetrexError, match="unknown variant"):
        netrex.SequenceModel("transformer-xl")
    with pytest.raises(NetrexError, match="not fitted"):
        netrex.SequenceModel().recommend([[1]])
    no_time = netrex.interactions(np.array([0, 0, 1]), np.array([1, 2, 3]))
    with pytest.raises(NetrexError, match="timestamps"):
        netrex.leave_one_out(no_time)


def test_bsarec_from_python_is_the_cli_run(sequence_file, cli, tmp_path):
    """BSARec's frequency settings reach the model from a config, as the CLI's flags do."""
    data = netrex.read_sequences(sequence_file)
    train, valid, test = netrex.leave_one_out(data)
    config = {"model": {"frequency_mix": 0.5, "frequency_cutoff": 2}}
    model = netrex.SequenceModel("bsarec", config=config, **SETTINGS).fit(train, validation=valid)
    metrics = netrex.evaluate(model, test, train=train.concat(valid))
    assert metrics["hr_at_10"] > 0.3
    out = subprocess.run(
        [cli, "fit", "--sequences", str(sequence_file), "--model", "bsarec", "--dim", "16",
         "--frequency-mix", "0.5", "--frequency-cutoff", "2", "--max-epochs", "30",
         "--patience", "5", "--seed", "0", "--threads", "1", "--json"],
        check=True, capture_output=True, text=True,
    )
    printed = json.loads(out.stdout.strip().splitlines()[-1])
    assert printed["ndcg_at_10"] == metrics["ndcg_at_10"]
    # another mix trains another model
    other = netrex.SequenceModel("bsarec", config={"model": {"frequency_mix": 0.9}}, **SETTINGS)
    other.fit(train, validation=valid)
    assert netrex.evaluate(other, test, train=train.concat(valid))["ndcg_at_10"] != metrics["ndcg_at_10"]
