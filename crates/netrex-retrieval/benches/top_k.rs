//! Exact top-10 on catalogs of ML-20M's size (27k items) and of 1M items, 64 dimensions,
//! against scoring every item and sorting one query at a time (the naive search).
//!
//! `cargo bench -p netrex-retrieval --bench top_k`

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use netrex_retrieval::{top_k_naive, Filter, ItemIndex};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const DIM: usize = 64;

fn random(rng: &mut StdRng, n: usize) -> Vec<f32> {
    (0..n).map(|_| rng.gen_range(-1.0..1.0)).collect()
}

fn exact(c: &mut Criterion) {
    let mut group = c.benchmark_group("top10_exact");
    group.sample_size(10);
    let mut rng = StdRng::seed_from_u64(0);
    // 100k x 1 is the server's single query, 100k x 64 a batch of them
    for (items, queries) in [
        (100_000usize, 1usize),
        (100_000, 64),
        (27_000, 1024),
        (1_000_000, 64),
    ] {
        let index = ItemIndex::new(random(&mut rng, items * DIM), DIM, None).expect("valid");
        let qs = random(&mut rng, queries * DIM);
        let name = format!("{items}items_{queries}queries_dim{DIM}");
        group.bench_function(BenchmarkId::new("blocked", &name), |b| {
            b.iter(|| {
                index
                    .top_k(&qs, None, 10, &Filter::default())
                    .expect("valid")
            })
        });
        group.bench_function(BenchmarkId::new("naive", &name), |b| {
            b.iter(|| {
                qs.chunks_exact(DIM)
                    .map(|q| top_k_naive(&index.scores(q, 0.0).expect("valid"), 10, |_| false))
                    .collect::<Vec<_>>()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, exact);
criterion_main!(benches);
