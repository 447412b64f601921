"""`netrex export --format parquet` end to end with LanceDB (an embedded vector store that
scales out to object storage): load the exported Parquet, search every user's exact top-10 by
inner product in LanceDB, and compare with netrex's own exact top-10 (`netrex recommend`
without seen-item exclusion).

    /tmp/peers/bin/pip install lancedb pyarrow pandas
    cargo build --release -p netrex-cli
    /tmp/peers/bin/python benches/serving/lancedb_export.py [MODEL_DIR] [--users N]

Without MODEL_DIR it trains a WARP model on ML-100K `ua` (dim 64, seed 0) first.
"""

import argparse
import json
import os
import subprocess
import tempfile
import time

import lancedb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

p = argparse.ArgumentParser()
p.add_argument("model", nargs="?")
p.add_argument("--users", type=int, default=943)
p.add_argument("--netrex", default="target/release/netrex")
a = p.parse_args()

work = tempfile.mkdtemp(prefix="netrex-lancedb-")
model = a.model
if model is None:
    model = os.path.join(work, "model")
    subprocess.run(
        [a.netrex, "fit", "--dataset", "ml-100k", "--split", "ua", "--loss", "warp", "--dim", "64",
         "--seed", "0", "--save", model, "--json"],
        check=True, capture_output=True,
    )
out = os.path.join(work, "vectors")
subprocess.run([a.netrex, "export", "--model", model, "--out", out, "--format", "parquet"],
               check=True, capture_output=True)

items = pq.read_table(os.path.join(out, "items.parquet"))
users = pq.read_table(os.path.join(out, "users.parquet"))
width = len(items.column("vector")[0])
# LanceDB's vector column is a fixed-size list
vector_type = pa.list_(pa.float32(), width)
table = pa.table({"id": items.column("id"), "vector": items.column("vector").cast(vector_type)})
db = lancedb.connect(os.path.join(work, "lance"))
store = db.create_table("items", table)

user_ids = users.column("id").to_pylist()[: a.users]
user_vectors = np.array(users.column("vector").to_pylist()[: a.users], dtype=np.float32)

start = time.perf_counter()
lance_top = []
for v in user_vectors:
    # exact search (no ANN index built): LanceDB's "dot" distance is 1 - q.v, smaller first
    found = store.search(v).distance_type("dot").limit(10).to_list()
    lance_top.append([row["id"] for row in found])
lance_s = time.perf_counter() - start

same, start = 0, time.perf_counter()
for uid, theirs in zip(user_ids, lance_top):
    ours = json.loads(subprocess.run(
        [a.netrex, "recommend", "--model", model, "--user", uid, "-k", "10", "--include-seen", "--json"],
        check=True, capture_output=True, text=True,
    ).stdout)
    same += [it["item"] for it in ours["items"]] == theirs
print(f"LanceDB {lancedb.__version__}: {len(user_ids)} users' top-10 over {items.num_rows} exported "
      f"items in {lance_s:.2f} s; equal to netrex's exact top-10 (same order) for "
      f"{same}/{len(user_ids)} = {same / len(user_ids):.4f}")
