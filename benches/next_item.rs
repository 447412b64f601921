//! The next-item protocol's costs: one SASRec training step (batch 128, rows of 50 with
//! Beauty-like histories of 3-15 items, dim 64, sampled softmax over 256 shared negatives) by
//! the hand-written kernel and through dfdx, and one Amazon Beauty epoch (leave-one-out train
//! set): per-row sampled softmax over 256 negatives on 1 and 2 threads, and the full softmax (the
//! CLI's default there) on 2.
//!
//! `NETREX_DATA_DIR=../shared/data cargo bench --bench next_item`

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use netrex::data::split::leave_one_out;
use netrex::data::AmazonS3Rec;
use netrex::prelude::*;
use netrex::representations::{Sasrec, SasrecSpec};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

#[path = "support/paths.rs"]
mod paths;
use paths::{bench_paths, StepBatch};

const ITEMS: usize = 12_101;

fn spec() -> SasrecSpec {
    SasrecSpec {
        blocks: 1,
        heads: 1,
        dropout: 0.2,
        positions: 51,
        frequency: None,
    }
}

fn config(threads: usize, negatives: netrex::NegativeSampling) -> SequenceConfig {
    SequenceConfig {
        training: TrainingConfig::builder()
            .embedding_dim(64)
            .batch_size(128)
            .learning_rate(1e-3)
            .epochs(1)
            .threads(threads)
            .config(),
        max_len: 50,
        negatives,
    }
}

fn sasrec_step(c: &mut Criterion) {
    let mut group = c.benchmark_group("sasrec_step");
    group.sample_size(20);
    let mut rng = StdRng::seed_from_u64(0);
    let (batch, len, n) = (128usize, 50usize, 256usize);
    let (mut inputs, mut targets) = (Vec::new(), Vec::new());
    for _ in 0..batch {
        let real = rng.gen_range(3..=15);
        let items: Vec<u32> = (0..real).map(|_| rng.gen_range(1..=ITEMS as u32)).collect();
        inputs.extend(std::iter::repeat_n(0, len - real + 1));
        inputs.extend(&items[..real - 1]);
        targets.extend(std::iter::repeat_n(0, len - real));
        targets.extend(&items);
    }
    // one set of negatives per row, repeated at its positions (what the kernel shares)
    let negatives: Vec<u32> = (0..batch)
        .flat_map(|_| {
            let set: Vec<u32> = (0..n).map(|_| rng.gen_range(1..=ITEMS as u32)).collect();
            std::iter::repeat_n(set, len).flatten()
        })
        .collect();
    let sasrec = Sasrec::new(ITEMS, 64, &spec(), &mut rng).expect("valid");
    let loss = BuiltinLoss::from_name("sampled-softmax", None).expect("built-in");
    let model =
        ImplicitSequenceModel::new(config(1, netrex::NegativeSampling::PerRow), sasrec, loss)
            .expect("valid");
    let step = StepBatch {
        rows: batch,
        inputs: &inputs,
        targets: &targets,
        negatives: &negatives,
    };
    let id = |path: &str| BenchmarkId::new(path, "batch128_len50_dim64_ss256");
    bench_paths(&mut group, id, &model, &step);
    group.finish();
}

fn beauty_epoch(c: &mut Criterion) {
    let Ok(data) = AmazonS3Rec::Beauty.load(None) else {
        eprintln!("Beauty.txt not found (set NETREX_DATA_DIR): skipping the epoch benchmark");
        return;
    };
    let split = leave_one_out(&data.interactions).expect("5-core data");
    let n = data.interactions.num_items();
    let mut group = c.benchmark_group("beauty_epoch");
    group.sample_size(10);
    // the per-row sampled softmax (RecTools' loss) on 1 and 2 threads, and the full softmax
    // (the CLI's default on this protocol) on 2
    let runs = [
        ("sasrec_ss256", 1, netrex::NegativeSampling::PerRow),
        ("sasrec_ss256", 2, netrex::NegativeSampling::PerRow),
        (
            "sasrec_full_softmax",
            2,
            netrex::NegativeSampling::FullCatalog,
        ),
    ];
    for (name, threads, negatives) in runs {
        let sasrec = Sasrec::new(n, 64, &spec(), &mut StdRng::seed_from_u64(0)).expect("valid");
        let loss = BuiltinLoss::from_name("sampled-softmax", None).expect("built-in");
        let mut model =
            ImplicitSequenceModel::new(config(threads, negatives), sasrec, loss).expect("valid");
        group.bench_function(BenchmarkId::new(name, threads), |b| {
            b.iter(|| model.fit(&split.train).expect("epoch"))
        });
    }
    group.finish();
}

criterion_group!(benches, sasrec_step, beauty_epoch);
criterion_main!(benches);
