//! Exact top-10 through `netrex::retrieval::ItemIndex` on vectors another program wrote, so
//! that a peer (faiss `IndexFlatIP`, see `benches/serving/exact_peers.py`) searches the very
//! same data in the same run.
//!
//! ```text
//! cargo run --release -p netrex-retrieval --features hnsw --example exact_top_k -- DIR [threads] [repeats]
//! ```
//! `DIR` holds `items.f32` and `queries.f32` (row-major little-endian `f32`, 64 columns unless
//! `DIR/dim` says otherwise). Prints the best wall time of `repeats` searches of every query
//! at once (k 10) and writes the found ids to `DIR/netrex_ids.u32` (10 per query).
//!
//! ```text
//! cargo run --release -p netrex-retrieval --features hnsw --example exact_top_k -- DIR threads repeats hnsw M EF_CONSTRUCTION EF...
//! ```
//! builds netrex's HNSW graph (`netrex_retrieval::HnswIndex`, seed 0) on the items instead,
//! prints its build time, then for each search width `EF` the best time and the ids in
//! `DIR/netrex_hnsw_EF.u32`.

use std::path::Path;
use std::time::Instant;

use netrex_retrieval::{Filter, HnswConfig, HnswIndex, ItemIndex, Ranked};

fn floats(path: &Path) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = Path::new(args.get(1).map_or("/tmp/exact-peers", String::as_str));
    let threads: usize = args.get(2).map_or(2, |t| t.parse().expect("threads"));
    let repeats: usize = args.get(3).map_or(5, |r| r.parse().expect("repeats"));
    let dim: usize =
        std::fs::read_to_string(dir.join("dim")).map_or(64, |d| d.trim().parse().expect("dim"));
    let items = floats(&dir.join("items.f32"));
    let queries = floats(&dir.join("queries.f32"));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("pool");
    if args.get(4).map(String::as_str) == Some("hnsw") {
        let number = |i: usize| -> usize { args[i].parse().expect("a number") };
        let config = HnswConfig {
            m: number(5),
            ef_construction: number(6),
            seed: 0,
        };
        let start = Instant::now();
        let graph = HnswIndex::build(&items, dim, None, config).expect("graph");
        println!(
            "netrex hnsw: built over {} items (m {}, ef_construction {}, one thread) in {:.1} s",
            graph.num_items(),
            config.m,
            config.ef_construction,
            start.elapsed().as_secs_f64()
        );
        for i in 7..args.len() {
            let ef = number(i);
            let (took, found) = best_of(repeats, || {
                pool.install(|| graph.top_k(&queries, 10, ef, &Filter::default()))
                    .expect("search")
            });
            write_ids(&dir.join(format!("netrex_hnsw_{ef}.u32")), &found);
            println!(
                "netrex hnsw ef {ef}: {} queries, {threads} threads: best of {repeats} {took:.4} s ({:.0} queries/s)",
                found.len(),
                found.len() as f64 / took
            );
        }
        return;
    }
    let index = ItemIndex::new(items, dim, None).expect("items");
    let (best, found) = best_of(repeats, || {
        pool.install(|| index.top_k(&queries, None, 10, &Filter::default()))
            .expect("search")
    });
    write_ids(&dir.join("netrex_ids.u32"), &found);
    println!(
        "netrex exact: {} queries x {} items, dim {dim}, {threads} threads: best of {repeats} {:.4} s ({:.0} queries/s)",
        found.len(),
        index.num_items(),
        best,
        found.len() as f64 / best
    );
}

/// The best wall time of `repeats` runs of `search`, and its last answer.
fn best_of(repeats: usize, search: impl Fn() -> Vec<Vec<Ranked>>) -> (f64, Vec<Vec<Ranked>>) {
    let mut best = f64::INFINITY;
    let mut found = Vec::new();
    for _ in 0..repeats.max(1) {
        let start = Instant::now();
        found = search();
        best = best.min(start.elapsed().as_secs_f64());
    }
    (best, found)
}

/// Ten ids a query (`u32::MAX` where fewer were found).
fn write_ids(path: &Path, found: &[Vec<Ranked>]) {
    let ids: Vec<u8> = found
        .iter()
        .flat_map(|r| (0..10).map(|j| r.get(j).map_or(u32::MAX, |x| x.id)))
        .flat_map(u32::to_le_bytes)
        .collect();
    std::fs::write(path, ids).expect("write ids");
}
