//! Full-ranking evaluation of every ML-100K `ua.test` user (scoring, exclusion of train items,
//! MRR, AUC and P/R/NDCG@k), and the ML-100K load itself. Data is loaded outside the timed
//! closures.
//!
//! `NETREX_DATA_DIR=../shared/data cargo bench --bench evaluation`

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use netrex_data::ingest::load_movielens_split;
use netrex_data::OfficialSplit;
use netrex_evaluation::{evaluate, EvalConfig, Popularity};

fn bench(c: &mut Criterion) {
    let (_, parts) =
        load_movielens_split(None, OfficialSplit::Ua, None).expect("ML-100K: set NETREX_DATA_DIR");
    let model = Popularity::fit(&parts.train);
    let mut group = c.benchmark_group("evaluate");
    for threads in [1usize, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        group.bench_with_input(
            BenchmarkId::new("ml100k_ua_all_users", format!("threads={threads}")),
            &threads,
            |b, _| {
                b.iter(|| {
                    pool.install(|| {
                        evaluate(
                            &model,
                            &parts.test,
                            Some(&parts.train),
                            &EvalConfig::default(),
                        )
                        .unwrap()
                    })
                })
            },
        );
    }
    group.finish();
    c.bench_function("load/ml100k_ua", |b| {
        b.iter(|| load_movielens_split(None, OfficialSplit::Ua, None).unwrap())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
