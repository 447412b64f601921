"""Type stubs of the extension module (crates/netrex-py/src)."""

from os import PathLike
from typing import Any, Callable, Dict, List, Optional, Tuple, Union
from typing import Sequence as Seq

import numpy as np
import numpy.typing as npt

__version__: str

Callback = Callable[[int, float, Dict[str, float]], Any]
RawIds = Union[npt.NDArray[np.int64], List[str]]
FeatureRows = Tuple[npt.NDArray[np.int64], List[str], npt.NDArray[np.float32]]

class NetrexError(ValueError):
    """An error of netrex: bad data, a bad hyperparameter, a missing or corrupt model file."""

class IdMapping:
    """Raw ids by dense index."""

    def __len__(self) -> int: ...
    def lookup(self, raw: RawIds) -> npt.NDArray[np.int64]:
        """Dense ids of raw ids; -1 for an unknown id."""
    def raw(self, dense: npt.NDArray[np.int64]) -> List[Union[int, str]]:
        """Raw ids of dense ids."""
    def all(self) -> List[Union[int, str]]:
        """Every raw id, by dense index."""

class Data:
    """Implicit-feedback interactions over dense ids, with the raw ids they came from."""

    num_users: int
    num_items: int
    users: npt.NDArray[np.uint32]
    items: npt.NDArray[np.uint32]
    timestamps: Optional[npt.NDArray[np.int64]]
    user_map: Optional[IdMapping]
    item_map: Optional[IdMapping]
    def __len__(self) -> int: ...
    def concat(self, other: "Data") -> "Data":
        """These interactions followed by ``other``'s (one id space)."""
    def with_maps(self, users: IdMapping, items: IdMapping) -> "Data":
        """The same interactions labelled with raw-id maps."""

def from_dense(
    users: npt.NDArray[np.int64],
    items: npt.NDArray[np.int64],
    num_users: Optional[int] = None,
    num_items: Optional[int] = None,
    timestamps: Optional[npt.NDArray[np.int64]] = None,
    weights: Optional[npt.NDArray[np.float32]] = None,
) -> Data: ...
def from_raw(
    tables: Seq[
        Tuple[RawIds, RawIds, Optional[npt.NDArray[np.int64]], Optional[npt.NDArray[np.float32]]]
    ],
) -> List[Data]: ...
def movielens_100k(dir: Union[str, PathLike], split: str) -> Tuple[Data, Data]: ...
def read_sequences(path: Union[str, PathLike]) -> Data: ...
def split_leave_one_out(data: Data) -> Tuple[Data, Data, Data]: ...
def split_leave_last(data: Data, k: int) -> Tuple[Data, Data]: ...
def saved_kind(dir: Union[str, PathLike]) -> str: ...
def plan_toml_to_json(text: str) -> str: ...

class Factorization:
    """The factorization model of a run plan."""

    plan_json: str
    fitted: bool
    shape: Tuple[int, int]
    epochs_trained: int
    loss_history: List[float]
    maps: Tuple[Optional[IdMapping], Optional[IdMapping]]
    def __init__(self, plan_json: str) -> None: ...
    def fit(
        self,
        data: Data,
        epochs: Optional[int] = None,
        restart: bool = True,
        callback: Optional[Callback] = None,
        validation: Optional[Data] = None,
        user_features: Optional[FeatureRows] = None,
        item_features: Optional[FeatureRows] = None,
    ) -> List[float]: ...
    def predict(
        self, users: npt.NDArray[np.int64], items: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.float32]: ...
    def recommend(
        self, users: npt.NDArray[np.int64], k: int = 10, exclude_seen: bool = True
    ) -> Tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]: ...
    def fold_in(
        self,
        items: npt.NDArray[np.int64],
        epochs: Optional[int] = None,
        learning_rate: Optional[float] = None,
        seed: Optional[int] = None,
    ) -> npt.NDArray[np.float32]: ...
    def recommend_new(
        self, items: npt.NDArray[np.int64], k: int = 10
    ) -> Tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]: ...
    def similar_items(
        self, items: npt.NDArray[np.int64], k: int = 10, cosine: bool = True
    ) -> Tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]: ...
    def user_embeddings(self) -> npt.NDArray[np.float32]: ...
    def item_embeddings(self) -> npt.NDArray[np.float32]: ...
    def user_biases(self) -> npt.NDArray[np.float32]: ...
    def item_biases(self) -> npt.NDArray[np.float32]: ...
    def evaluate(self, test: Data, train: Optional[Data] = None) -> Dict[str, float]: ...
    def save(self, dir: Union[str, PathLike]) -> None: ...
    @staticmethod
    def load(dir: Union[str, PathLike]) -> "Factorization": ...

class Sequence:
    """The sequence model of a run plan."""

    plan_json: str
    fitted: bool
    best_epoch: Optional[int]
    diverged: Optional[str]
    validation_curve: List[Tuple[int, float]]
    loss_history: List[float]
    epochs_trained: int
    num_items: int
    maps: Tuple[Optional[IdMapping], Optional[IdMapping]]
    def __init__(self, plan_json: str) -> None: ...
    def fit(
        self,
        data: Data,
        validation: Optional[Data] = None,
        epochs: Optional[int] = None,
        callback: Optional[Callback] = None,
    ) -> List[float]: ...
    def recommend(
        self, histories: Seq[npt.NDArray[np.int64]], k: int = 10, exclude_seen: bool = True
    ) -> Tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]: ...
    def evaluate(self, test: Data, history: Data) -> Dict[str, float]: ...
    def save(self, dir: Union[str, PathLike]) -> None: ...
    @staticmethod
    def load(dir: Union[str, PathLike]) -> "Sequence": ...

class Linear:
    """EASE, the neighbourhood EASE or iALS of a run plan."""

    plan_json: str
    fitted: bool
    loss_history: List[float]
    shape: Tuple[int, int]
    maps: Tuple[Optional[IdMapping], Optional[IdMapping]]
    def __init__(self, plan_json: str) -> None: ...
    def fit(self, data: Data) -> None: ...
    def recommend(
        self, users: npt.NDArray[np.int64], k: int = 10, exclude_seen: bool = True
    ) -> Tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]: ...
    def recommend_new(
        self, items: npt.NDArray[np.int64], k: int = 10
    ) -> Tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]: ...
    def evaluate(self, test: Data, train: Optional[Data] = None) -> Dict[str, float]: ...
    def save(self, dir: Union[str, PathLike]) -> None: ...
    @staticmethod
    def load(dir: Union[str, PathLike]) -> "Linear": ...
