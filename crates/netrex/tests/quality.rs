//! Quality floors on MovieLens 100K, the talk's protocol: `ua.base` -> `ua.test`, every rating
//! an interaction, dim 128, batch 1024, 10 epochs, full-ranking MRR with train items excluded.
//! Fixed seeds: a regression fails CI.

use netrex::data::ingest::load_movielens_split;
use netrex::prelude::*;

fn fit(loss: BuiltinLoss) -> f64 {
    // the defaults tuned for this loss (docs/results.md), seed 0
    let config = TrainingConfig {
        seed: 0,
        ..TrainingConfig::tuned_for(&loss.name())
    };
    fit_with(loss, config)
}

fn fit_with(loss: BuiltinLoss, config: impl IntoChecked<TrainingConfig>) -> f64 {
    let dir = netrex::data::testing_data_dir(env!("CARGO_MANIFEST_DIR"));
    let (data, parts) = load_movielens_split(Some(&dir), OfficialSplit::Ua, None).unwrap();
    let mut model =
        ImplicitFactorizationModel::bilinear(config, data.users.len(), data.items.len(), loss)
            .unwrap();
    model.fit(&parts.train).unwrap();
    let report = model
        .evaluate(&parts.test, Some(&parts.train), &EvalConfig::at(vec![10]))
        .unwrap();
    eprintln!(
        "{}: MRR {:.4} AUC {:.4}",
        model.loss().name(),
        report.mrr,
        report.auc
    );
    report.mrr
}

/// The MRR of the default model trained with the built-in loss `name` is at least `floor`.
fn assert_floor(name: &str, floor: f64) {
    let mrr = fit(BuiltinLoss::from_name(name, None).unwrap());
    assert!(mrr >= floor, "{name} MRR {mrr}");
}

#[test]
fn pointwise_floor() {
    assert_floor("pointwise", 0.06);
}

#[test]
fn bpr_floor() {
    assert_floor("bpr", 0.08);
}

#[test]
fn adaptive_hinge_floor() {
    assert_floor("adaptive-hinge", 0.10);
}

#[test]
fn warp_floor() {
    assert_floor("warp", 0.115);
}

/// BPR's MRR trained by SGD one positive at a time (lr 0.3, seed 0) on `threads` threads.
fn bpr_per_example_sgd(threads: usize) -> f64 {
    let config = TrainingConfig::builder()
        .batch_size(1)
        .optimizer(OptimizerKind::Sgd)
        .learning_rate(0.3)
        .threads(threads)
        .seed(0)
        .build()
        .unwrap();
    fit_with(BuiltinLoss::from_name("bpr", None).unwrap(), config)
}

#[test]
fn bpr_per_example_sgd_floor() {
    // LightFM's and implicit's way: SGD on one positive at a time (seed 0 gives 0.086)
    let mrr = bpr_per_example_sgd(1);
    assert!(mrr >= 0.08, "BPR per-example SGD MRR {mrr}");
}

#[test]
fn bpr_per_example_sgd_in_strata_floor() {
    // two threads train in strata, each positive against negatives of its item block
    let mrr = bpr_per_example_sgd(2);
    assert!(mrr >= 0.08, "BPR per-example SGD on two threads MRR {mrr}");
}
