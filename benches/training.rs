//! Training costs: one step (gather, forward, loss, backward, row gradients) of every
//! representation x loss (dfdx and the hand-written kernels), one ML-100K factorization epoch,
//! and one epoch over the 1M-interaction Zipf set (built-in losses, per-example SGD, and a
//! custom loss). Ids and data are built outside the timed closures.
//!
//! `NETREX_DATA_DIR=../shared/data cargo bench --bench training`

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use netrex::data::synthetic::{zipf, ZipfConfig};
use netrex::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

#[path = "../examples/support/custom_losses.rs"]
mod custom_losses;
#[path = "support/paths.rs"]
mod paths;
#[path = "../examples/support/random_rows.rs"]
mod random_rows;
use custom_losses::CustomBpr;
use paths::{bench_paths, StepBatch};
use random_rows::random_rows;

const USERS: usize = 943;
const ITEMS: usize = 1682;

fn factorization_steps(c: &mut Criterion) {
    let mut group = c.benchmark_group("factorization_step");
    group.sample_size(20);
    let mut rng = StdRng::seed_from_u64(0);
    let batch = 1024;
    let users: Vec<u32> = (0..batch).map(|_| rng.gen_range(0..USERS as u32)).collect();
    let positives: Vec<u32> = (0..batch).map(|_| rng.gen_range(0..ITEMS as u32)).collect();
    for name in BuiltinLoss::NAMES {
        let loss = BuiltinLoss::from_name(name, None).expect("built-in");
        let negatives: Vec<u32> = (0..batch * loss.num_negatives())
            .map(|_| rng.gen_range(0..ITEMS as u32))
            .collect();
        let model =
            ImplicitFactorizationModel::bilinear(TrainingConfig::default(), USERS, ITEMS, loss)
                .expect("valid");
        group.bench_function(BenchmarkId::new("dfdx_dim128_batch1024", name), |b| {
            b.iter(|| {
                model
                    .batch_gradients(&users, &positives, &negatives, None)
                    .expect("step")
            })
        });
        group.bench_function(BenchmarkId::new("fused_dim128_batch1024", name), |b| {
            b.iter(|| {
                model
                    .fused_batch_gradients(&users, &positives, &negatives, None)
                    .expect("built-in losses have a fused kernel")
            })
        });
    }
    group.finish();
}

fn sequence_steps(c: &mut Criterion) {
    let mut group = c.benchmark_group("sequence_step");
    group.sample_size(10);
    let mut rng = StdRng::seed_from_u64(0);
    let (batch, len, dim) = (32usize, 50usize, 32usize);
    let (inputs, targets) = random_rows(&mut rng, (batch, len), ITEMS);
    let config = SequenceConfig {
        training: TrainingConfig::builder().embedding_dim(dim).config(),
        max_len: len,
        negatives: netrex::NegativeSampling::PerPosition,
    };
    let kinds: Vec<(&str, AnySequence)> = vec![
        (
            "popularity",
            AnySequence::Popularity(SequencePopularity::new(ITEMS, &mut rng).expect("valid")),
        ),
        (
            "pool",
            AnySequence::Pooling(Pooling::new(ITEMS, dim, true, &mut rng).expect("valid")),
        ),
        (
            "lstm",
            AnySequence::Lstm(Lstm::new(ITEMS, dim, &mut rng).expect("valid")),
        ),
        (
            "cnn",
            AnySequence::Cnn(CausalCnn::new(ITEMS, dim, 3, &[1], true, &mut rng).expect("valid")),
        ),
    ];
    for loss_name in BuiltinLoss::NAMES {
        let loss = BuiltinLoss::from_name(loss_name, None).expect("built-in");
        let negatives: Vec<u32> = (0..batch * len * loss.num_negatives())
            .map(|_| rng.gen_range(1..=ITEMS as u32))
            .collect();
        for (name, representation) in &kinds {
            let model = ImplicitSequenceModel::new(config.clone(), representation.clone(), loss)
                .expect("valid");
            let id = |path: &str| {
                BenchmarkId::new(format!("{path}_{loss_name}_batch32_len50_dim32"), name)
            };
            let step = StepBatch {
                rows: batch,
                inputs: &inputs,
                targets: &targets,
                negatives: &negatives,
            };
            bench_paths(&mut group, id, &model, &step);
        }
    }
    group.finish();
}

fn movielens_epoch(c: &mut Criterion) {
    let Ok((data, parts)) =
        netrex::data::ingest::load_movielens_split(None, OfficialSplit::Ua, None)
    else {
        eprintln!("ML-100K not found (set NETREX_DATA_DIR): skipping the epoch benchmark");
        return;
    };
    let mut group = c.benchmark_group("factorization_epoch");
    group.sample_size(10);
    for name in ["bpr", "adaptive-hinge", "warp"] {
        for (kernel, fused, threads) in [("dfdx", false, 1), ("fused", true, 1), ("fused", true, 2)]
        {
            if name == "warp" && !fused {
                continue;
            }
            let config = TrainingConfig {
                epochs: 1,
                fused,
                threads,
                ..TrainingConfig::tuned_for(name)
            };
            let loss = BuiltinLoss::from_name(name, None).expect("built-in");
            let mut model = ImplicitFactorizationModel::bilinear(
                config,
                data.users.len(),
                data.items.len(),
                loss,
            )
            .expect("valid");
            let id = format!("ml100k_ua_dim128_{kernel}_threads{threads}");
            group.bench_function(BenchmarkId::new(id, name), |b| {
                b.iter(|| model.fit(&parts.train).expect("fit"))
            });
        }
    }
    group.finish();
}

/// The speed issue's reference set: 1M interactions, 50k users, 20k items, Zipf popularity,
/// dim 64, batch 1024, one epoch.
fn synthetic_epoch(c: &mut Criterion) {
    let config = ZipfConfig::default();
    let data = zipf(&config).expect("valid");
    let mut group = c.benchmark_group("zipf_1m_epoch");
    group.sample_size(10);
    // (loss, kernel, threads, batch size, optimizer); "per-example" is SGD on batches of one
    let runs: [(&str, &str, usize, usize, OptimizerKind); 7] = [
        ("bpr", "fused", 1, 1024, OptimizerKind::Adam),
        ("bpr", "fused", 2, 1024, OptimizerKind::Adam),
        ("bpr", "dfdx", 1, 1024, OptimizerKind::Adam),
        ("adaptive-hinge", "fused", 2, 1024, OptimizerKind::Adam),
        ("bpr", "per-example-sgd", 1, 1, OptimizerKind::Sgd),
        ("bpr", "per-example-sgd", 2, 1, OptimizerKind::Sgd),
        ("custom-bpr", "fused", 1, 1024, OptimizerKind::Adam),
    ];
    for (name, kernel, threads, batch_size, optimizer) in runs {
        let training = TrainingConfig {
            embedding_dim: 64,
            epochs: 1,
            fused: kernel != "dfdx",
            threads,
            batch_size,
            optimizer,
            ..TrainingConfig::tuned_for(if name == "custom-bpr" { "bpr" } else { name })
        };
        let id = format!("dim64_{kernel}_threads{threads}");
        let (users, items) = (config.num_users, config.num_items);
        if name == "custom-bpr" {
            let mut model = ImplicitFactorizationModel::bilinear(training, users, items, CustomBpr)
                .expect("valid");
            group.bench_function(BenchmarkId::new(id, name), |b| {
                b.iter(|| model.fit(&data).expect("fit"))
            });
            continue;
        }
        let loss = BuiltinLoss::from_name(name, None).expect("built-in");
        let mut model =
            ImplicitFactorizationModel::bilinear(training, users, items, loss).expect("valid");
        group.bench_function(BenchmarkId::new(id, name), |b| {
            b.iter(|| model.fit(&data).expect("fit"))
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    factorization_steps,
    sequence_steps,
    movielens_epoch,
    synthetic_epoch
);
criterion_main!(benches);
