//! The fused kernel (hand-written gradients, Hogwild workers) against the dfdx path: the same
//! batch gives the same loss and row gradients for every built-in loss; training with either
//! gives nearly the same model; a custom loss trains through the kernel (dfdx's tape over its
//! scores) with dfdx's gradients, and through the full dfdx path.

mod common;

use netrex::data::Interactions;
use netrex::losses::Loss;
use netrex::prelude::*;
use rand::rngs::StdRng;
use rand::SeedableRng;

use common::{assert_kernel_matches_dfdx, custom_losses, sgd, worst_difference, zipf_data, Custom};

fn data() -> Interactions {
    zipf_data(60, 40, 3000, 3)
}

fn config(fused: bool, threads: usize) -> TrainingConfig {
    TrainingConfig::builder()
        .embedding_dim(12)
        .epochs(2)
        .batch_size(128)
        .learning_rate(0.01)
        .seed(7)
        .fused(fused)
        .threads(threads)
        .config()
}

#[test]
fn fused_gradients_equal_dfdx_gradients_for_every_builtin_loss() {
    let mut rng = StdRng::seed_from_u64(1);
    for loss in BuiltinLoss::all(Some(4)) {
        check_against_dfdx(loss, &mut rng);
    }
}

#[test]
fn fused_training_tracks_dfdx_training() {
    let x = data();
    // BPR touches every gathered row in both paths, so the two optimizers see the same rows;
    // SGD keeps rounding differences as small as they start (Adam's normalisation magnifies
    // them on gradients near zero)
    let fit = |fused: bool| {
        let config = sgd(config(fused, 1), 0.05);
        let mut m = ImplicitFactorizationModel::bilinear(config, 60, 40, Bpr::default()).unwrap();
        assert_eq!(m.uses_fused_kernel(), fused);
        let report = m.fit(&x).unwrap();
        (m, report.loss_history)
    };
    let (fused, fused_loss) = fit(true);
    let (generic, generic_loss) = fit(false);
    for (a, b) in fused_loss.iter().zip(&generic_loss) {
        assert!((a - b).abs() < 1e-4, "loss {a} vs {b}");
    }
    let worst = worst_difference(
        fused.representation().tables(),
        generic.representation().tables(),
    );
    assert!(worst < 1e-4, "parameters differ by {worst}");
}

#[test]
fn one_worker_is_deterministic_and_two_workers_train() {
    let x = data();
    let fit = |threads: usize| {
        let mut m = ImplicitFactorizationModel::bilinear(
            config(true, threads),
            60,
            40,
            AdaptiveHinge::default(),
        )
        .unwrap();
        let report = m.fit(&x).unwrap();
        (m.representation().clone(), report.loss_history)
    };
    let (a, la) = fit(1);
    let (b, lb) = fit(1);
    assert_eq!(a, b);
    assert_eq!(la, lb);
    let (_, two) = fit(2);
    assert_eq!(two.len(), 2);
    assert!(two.iter().all(|l| l.is_finite()));
    assert!(two[1] < two[0], "loss fell with two workers: {two:?}");
}

/// The fused kernel's loss and row gradients of a random batch, with and without weights,
/// against dfdx's (a built-in loss runs its hand-written gradient, any other loss the score
/// tape).
fn check_against_dfdx<L: Loss>(loss: L, rng: &mut StdRng) {
    let (users, items) = (9usize, 13usize);
    let mut m = ImplicitFactorizationModel::bilinear(config(true, 1), users, items, loss).unwrap();
    assert_kernel_matches_dfdx(&mut m, (users, items, 16), rng);
}

#[test]
fn custom_losses_get_dfdx_gradients_through_the_scored_kernel() {
    let mut rng = StdRng::seed_from_u64(2);
    for loss in custom_losses(1) {
        check_against_dfdx(loss, &mut rng);
    }
}

#[test]
fn a_custom_loss_trains_through_the_kernel_and_through_dfdx() {
    let x = data();
    for fused in [true, false] {
        let mut m = ImplicitFactorizationModel::bilinear(
            config(fused, 2),
            60,
            40,
            Custom::SquaredGap { negatives: 1 },
        )
        .unwrap();
        assert_eq!(m.uses_fused_kernel(), fused);
        let report = m.fit(&x).unwrap();
        assert!(report.loss_history[1] < report.loss_history[0]);
    }
}

#[test]
fn per_example_sgd_is_deterministic_on_one_thread_and_on_two() {
    let x = data();
    let fit = |threads: usize, loss: BuiltinLoss| {
        let config = netrex::TrainingConfigBuilder::from(config(true, threads))
            .batch_size(1)
            .optimizer(netrex::OptimizerKind::Sgd)
            .learning_rate(0.05)
            .epochs(4)
            .build()
            .unwrap();
        let mut m = ImplicitFactorizationModel::bilinear(config, 60, 40, loss).unwrap();
        assert!(m.uses_per_example_sgd());
        let report = m.fit(&x).unwrap();
        (m.representation().clone(), report.loss_history)
    };
    for name in ["bpr", "hinge"] {
        let loss = BuiltinLoss::from_name(name, None).unwrap();
        let (a, la) = fit(1, loss);
        let (b, lb) = fit(1, loss);
        assert_eq!(a, b);
        assert_eq!(la, lb);
        assert!(la[3] < la[0], "{name}: loss fell: {la:?}");
        let (c, two) = fit(2, loss);
        assert!(two[3] < two[0], "{name}: loss fell on two threads: {two:?}");
        // two workers train in strata, which share no row: timing does not change the result
        let (d, again) = fit(2, loss);
        assert_eq!(c, d, "{name}: two threads, same seed");
        assert_eq!(two, again);
    }
    // a custom loss or another optimizer keeps minibatches of one
    let config = netrex::TrainingConfigBuilder::from(config(true, 1))
        .batch_size(1)
        .build()
        .unwrap();
    let m = ImplicitFactorizationModel::bilinear(config, 60, 40, Bpr::default()).unwrap();
    assert!(!m.uses_per_example_sgd());
}

#[test]
fn strata_serve_a_run_over_the_same_data_and_are_cut_again_for_other_data() {
    use netrex::representations::FactorizationRepresentation;
    let x = data();
    let model = |epochs: usize| {
        let config = netrex::TrainingConfigBuilder::from(config(true, 2))
            .batch_size(1)
            .optimizer(netrex::OptimizerKind::Sgd)
            .learning_rate(0.05)
            .epochs(epochs)
            .build()
            .unwrap();
        let loss = BuiltinLoss::from_name("bpr", None).unwrap();
        ImplicitFactorizationModel::bilinear(config, 60, 40, loss).unwrap()
    };
    // four epochs in one run, or in two runs of two: the same model
    let mut whole = model(4);
    let history = whole.fit(&x).unwrap().loss_history;
    let mut halves = model(2);
    let mut halves_history = halves.fit(&x).unwrap().loss_history;
    halves_history.extend(halves.fit(&x).unwrap().loss_history);
    assert_eq!(whole.representation(), halves.representation());
    assert_eq!(history, halves_history);

    // a run over other data (the first 30 users' examples) trains on that data: the other
    // users' rows are not touched
    let keep: Vec<usize> = (0..x.len()).filter(|&k| x.users()[k] < 30).collect();
    let y = Interactions::new(
        keep.iter().map(|&k| x.users()[k]).collect(),
        keep.iter().map(|&k| x.items()[k]).collect(),
        60,
        40,
    )
    .unwrap();
    let user_rows = |m: &ImplicitFactorizationModel<Bilinear, BuiltinLoss>| {
        m.representation().tables()[0].data()[30 * 12..].to_vec()
    };
    let before = user_rows(&halves);
    halves.fit(&y).unwrap();
    assert_eq!(user_rows(&halves), before);
}
