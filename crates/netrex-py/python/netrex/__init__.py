"""netrex: neural recommender models in Rust, for Python.

Factorization models trained with any ranking loss (WARP, adaptive hinge, BPR, ...), sequence
models (SASRec, GRU, ...), EASE and iALS, data in
as you hold it (SciPy sparse matrices, pandas and polars DataFrames, NumPy id arrays), the
command line's metrics and model files, and drop-in adapters for LightFM and implicit
(:mod:`netrex.compat`).

>>> import netrex
>>> train, test = netrex.movielens_100k("ua")
>>> model = netrex.FactorizationModel(loss="warp", dim=128, epochs=10, seed=0).fit(train)
>>> netrex.evaluate(model, test, train=train)["mrr"]
"""

from ._netrex import Data, IdMapping, NetrexError, __version__
from ._data import interactions, movielens_100k, read_sequences
from ._models import FactorizationModel, evaluate, load
from ._sequence import SequenceModel, leave_last, leave_one_out
from ._linear import EASE, IALS, LocalEASE

Interactions = Data

__all__ = [
    "Data",
    "EASE",
    "IALS",
    "LocalEASE",
    "FactorizationModel",
    "IdMapping",
    "Interactions",
    "NetrexError",
    "SequenceModel",
    "__version__",
    "evaluate",
    "interactions",
    "leave_last",
    "leave_one_out",
    "load",
    "movielens_100k",
    "read_sequences",
]
