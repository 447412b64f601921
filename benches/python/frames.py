"""Seconds to turn 2M interactions with string ids (100k users x 20k items, seed 0) into
netrex data: a pandas frame and a polars frame (factorized by the frame library) against NumPy
string arrays (row by row).

    /tmp/peers/bin/python benches/python/frames.py      # with a --release wheel installed
"""

import time

import numpy as np
import pandas as pd
import polars as pl

import netrex

n = 2_000_000
rng = np.random.default_rng(0)
users = np.char.add("user", rng.integers(0, 100_000, n).astype(str))
items = np.char.add("item", rng.integers(0, 20_000, n).astype(str))
inputs = [
    ("pandas frame, factorized", pd.DataFrame({"user": users.astype(object), "item": items.astype(object)})),
    ("polars frame, factorized", pl.DataFrame({"user": users, "item": items})),
]
for name, frame in inputs:
    start = time.perf_counter()
    data = netrex.interactions(frame)
    print(f"{name}: {time.perf_counter() - start:.2f} s  {data}")
start = time.perf_counter()
netrex.interactions(users, items)
print(f"NumPy string arrays, row by row: {time.perf_counter() - start:.2f} s")
