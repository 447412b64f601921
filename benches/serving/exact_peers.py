"""Exact top-10 in netrex against faiss `IndexFlatIP` on the same vectors, in the same run.

    cargo build --release -p netrex-retrieval --features hnsw --example exact_top_k
    /tmp/peers/bin/python benches/serving/exact_peers.py [--items N] [--queries Q] [--threads T]
    /tmp/peers/bin/python benches/serving/exact_peers.py --items 100000 --hnsw   # + approximate

Items and queries are standard normal float32 (numpy seed 0; `--data clustered`: drawn around
1,000 centres), 64 dimensions, written to
`--dir` for netrex's example to read. Each side's time is the best of `--repeats` searches of
every query at once (k 10) with T threads; the script also counts the queries on which both
return the same ten ids (ties aside, exact search must agree everywhere).
"""

import argparse
import os
import subprocess
import time

import numpy as np

p = argparse.ArgumentParser()
p.add_argument("--items", type=int, default=1_000_000)
p.add_argument("--queries", type=int, default=1024)
p.add_argument("--dim", type=int, default=64)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--repeats", type=int, default=5)
p.add_argument("--dir", default="/tmp/exact-peers")
p.add_argument("--netrex", default="target/release/examples/exact_top_k")
p.add_argument("--data", choices=["normal", "clustered"], default="normal",
               help="clustered: 1,000 Gaussian clusters (unit-normal centres, sd 0.3 around them)")
p.add_argument("--hnsw", action="store_true", help="also approximate search (see below)")
p.add_argument("--m", type=int, default=16)
p.add_argument("--ef-construction", type=int, default=200)
a = p.parse_args()

os.environ["OMP_NUM_THREADS"] = str(a.threads)
import faiss  # noqa: E402  (after OMP_NUM_THREADS)

faiss.omp_set_num_threads(a.threads)
rng = np.random.default_rng(0)
if a.data == "normal":
    items = rng.standard_normal((a.items, a.dim), dtype=np.float32)
    queries = rng.standard_normal((a.queries, a.dim), dtype=np.float32)
else:
    # trained embeddings gather in groups; i.i.d. normal vectors in 64 dimensions have no
    # neighbourhood structure at all, the worst case for any graph index
    centres = rng.standard_normal((1000, a.dim), dtype=np.float32)
    def around(n):
        return (centres[rng.integers(1000, size=n)]
                + 0.3 * rng.standard_normal((n, a.dim), dtype=np.float32)).astype(np.float32)
    items, queries = around(a.items), around(a.queries)
os.makedirs(a.dir, exist_ok=True)
items.tofile(os.path.join(a.dir, "items.f32"))
queries.tofile(os.path.join(a.dir, "queries.f32"))
with open(os.path.join(a.dir, "dim"), "w") as f:
    f.write(str(a.dim))

index = faiss.IndexFlatIP(a.dim)
index.add(items)
# faiss scores by SIMD dot products below `distance_compute_blas_threshold` queries (its
# default) and by BLAS sgemm above it: both are timed, the faster is the peer
default_threshold = faiss.cvar.distance_compute_blas_threshold
best = float("inf")
for threshold, path in ((default_threshold, "default"), (1, "BLAS")):
    faiss.cvar.distance_compute_blas_threshold = threshold
    took = float("inf")
    for _ in range(a.repeats):
        start = time.perf_counter()
        _, ids = index.search(queries, 10)
        took = min(took, time.perf_counter() - start)
    if took < best:
        best, faiss_ids = took, ids
    print(
        f"faiss {faiss.__version__} IndexFlatIP ({path}, threshold {threshold}): {a.queries} queries x "
        f"{a.items} items, dim {a.dim}, {a.threads} threads: best of {a.repeats} {took:.4f} s "
        f"({a.queries / took:.0f} queries/s)"
    )
faiss.cvar.distance_compute_blas_threshold = default_threshold
out = subprocess.run(
    [a.netrex, a.dir, str(a.threads), str(a.repeats)], check=True, capture_output=True, text=True
).stdout
print(out.strip())
netrex_s = float(out.split("best of")[1].split()[1])
ours = np.fromfile(os.path.join(a.dir, "netrex_ids.u32"), dtype=np.uint32).reshape(-1, 10)
same = np.mean([set(x) == set(y) for x, y in zip(ours, faiss_ids)])
print(f"same top-10 ids on {same:.4f} of queries; netrex time / faiss time = {netrex_s / best:.2f}")

if a.hnsw:
    # Approximate: netrex's graph, faiss IndexHNSWFlat and usearch, each swept over its search
    # width; recall@10 against the exact ids above. The peers get the items made points of one
    # sphere ([v, sqrt(M^2 - |v|^2)], queries [q, 0]), as netrex builds internally, so that
    # inner product search is a true nearest-neighbour search for all three.
    from usearch.index import Index

    truth = faiss_ids
    def recall(ids):
        return float(np.mean([len(set(x) & set(t)) / 10 for x, t in zip(ids, truth)]))

    norms = np.einsum("ij,ij->i", items, items)
    sphere = np.hstack([items, np.sqrt(norms.max() - norms)[:, None]]).astype(np.float32)
    lifted = np.hstack([queries, np.zeros((a.queries, 1), np.float32)])
    widths = [16, 20, 24, 32, 48, 64, 128, 256]
    rows = []

    start = time.perf_counter()
    hnsw = faiss.IndexHNSWFlat(a.dim + 1, a.m, faiss.METRIC_INNER_PRODUCT)
    hnsw.hnsw.efConstruction = a.ef_construction
    hnsw.add(sphere)
    print(f"faiss HNSW built in {time.perf_counter() - start:.1f} s ({a.threads} threads)")
    for ef in widths:
        hnsw.hnsw.efSearch = ef
        best_t, ids = float("inf"), None
        for _ in range(a.repeats):
            t0 = time.perf_counter()
            _, ids = hnsw.search(lifted, 10)
            best_t = min(best_t, time.perf_counter() - t0)
        rows.append(("faiss HNSW", ef, recall(ids), a.queries / best_t))

    start = time.perf_counter()
    us = Index(ndim=a.dim + 1, metric="ip", connectivity=a.m, expansion_add=a.ef_construction)
    us.add(np.arange(a.items), sphere, threads=a.threads)
    print(f"usearch {__import__('usearch').__version__} built in {time.perf_counter() - start:.1f} s ({a.threads} threads)")
    for ef in widths:
        us.expansion_search = ef
        best_t, ids = float("inf"), None
        for _ in range(a.repeats):
            t0 = time.perf_counter()
            ids = us.search(lifted, 10, threads=a.threads).keys
            best_t = min(best_t, time.perf_counter() - t0)
        rows.append(("usearch", ef, recall(ids), a.queries / best_t))

    out = subprocess.run(
        [a.netrex, a.dir, str(a.threads), str(a.repeats), "hnsw", str(a.m), str(a.ef_construction)]
        + [str(w) for w in widths],
        check=True, capture_output=True, text=True,
    ).stdout
    print(out.strip())
    for line in out.splitlines():
        if line.startswith("netrex hnsw ef"):
            ef = int(line.split()[3].rstrip(":"))
            qps = float(line.split("(")[1].split()[0])
            ids = np.fromfile(os.path.join(a.dir, f"netrex_hnsw_{ef}.u32"), dtype=np.uint32).reshape(-1, 10)
            rows.append(("netrex HNSW", ef, recall(ids), qps))
    print("| index | ef | recall@10 | queries/s |")
    print("|---|---|---|---|")
    for name, ef, r, qps in rows:
        print(f"| {name} | {ef} | {r:.4f} | {qps:.0f} |")
    for name in ("netrex HNSW", "faiss HNSW", "usearch"):
        ok = [row for row in rows if row[0] == name and row[2] >= 0.95]
        best = max(ok, key=lambda row: row[3]) if ok else None
        print(f"{name}: fastest at recall@10 >= 0.95: " + (f"ef {best[1]}, recall {best[2]:.4f}, {best[3]:.0f} queries/s" if best else "none"))
