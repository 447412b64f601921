"""Fixtures: MovieLens 100K's ua split and the command line built beside the package."""

import os
import shutil
from pathlib import Path

import pytest

import netrex

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def ua():
    """(train, test) of ML-100K ua, read from $NETREX_DATA_DIR."""
    if "NETREX_DATA_DIR" not in os.environ:
        pytest.fail("set NETREX_DATA_DIR to the folder holding ml-100k (../shared/data)")
    return netrex.movielens_100k("ua")


@pytest.fixture(scope="session")
def warp_ua(ua):
    """The README's run through Python: WARP, dim 128, 10 epochs, seed 0, one thread."""
    train, _ = ua
    return netrex.FactorizationModel(loss="warp", dim=128, epochs=10, seed=0, threads=1).fit(train)


@pytest.fixture(scope="session")
def cli():
    """The `netrex` binary of this checkout ($NETREX_CLI, else target/debug or release)."""
    for candidate in (
        os.environ.get("NETREX_CLI"),
        ROOT / "target" / "debug" / "netrex",
        ROOT / "target" / "release" / "netrex",
        shutil.which("netrex"),
    ):
        if candidate and Path(candidate).is_file():
            return str(candidate)
    pytest.fail("no netrex binary: run `cargo build -p netrex-cli` (or set NETREX_CLI)")
