//! Gradient check of every built-in loss with the bilinear representation: the row gradients
//! of the training step against central finite differences of the same batch loss.

use netrex::prelude::*;
use netrex::representations::SparseGrad;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn model(loss: BuiltinLoss) -> ImplicitFactorizationModel<Bilinear, BuiltinLoss> {
    let config = TrainingConfig::builder().embedding_dim(3).build().unwrap();
    let mut m = ImplicitFactorizationModel::bilinear(config, 4, 7, loss).unwrap();
    // values of order 1, so scores sit away from the hinge and max kinks
    let mut rng = StdRng::seed_from_u64(11);
    for t in m.representation_mut().tables_mut() {
        t.data_mut()
            .iter_mut()
            .for_each(|v| *v = rng.gen_range(-1.0..1.0));
    }
    m
}

fn check(loss: BuiltinLoss, weights: Option<&[f32]>) {
    let users = [0u32, 1, 2, 0, 3];
    let positives = [1u32, 2, 3, 4, 0];
    let n = loss.num_negatives();
    let mut rng = StdRng::seed_from_u64(5);
    let negatives: Vec<u32> = (0..users.len() * n).map(|_| rng.gen_range(0..7)).collect();
    let mut m = model(loss);
    let (_, grads): (f32, Vec<SparseGrad>) = m
        .batch_gradients(&users, &positives, &negatives, weights)
        .unwrap();
    let value = |m: &ImplicitFactorizationModel<Bilinear, BuiltinLoss>| {
        f64::from(
            m.batch_loss(&users, &positives, &negatives, weights)
                .0
                .as_vec()[0],
        )
    };
    let eps = 1e-3f32;
    let mut worst = 0.0f64;
    let mut nonzero = 0;
    for (t, grad) in grads.iter().enumerate() {
        let (rows, cols) = (
            m.representation().tables()[t].rows(),
            m.representation().tables()[t].cols(),
        );
        for r in 0..rows {
            for c in 0..cols {
                let analytic = f64::from(grad.row(r as u32)[c]);
                let original = m.representation().tables()[t].row(r)[c];
                m.representation_mut().tables_mut()[t].row_mut(r)[c] = original + eps;
                let up = value(&m);
                m.representation_mut().tables_mut()[t].row_mut(r)[c] = original - eps;
                let down = value(&m);
                m.representation_mut().tables_mut()[t].row_mut(r)[c] = original;
                let numeric = (up - down) / (2.0 * f64::from(eps));
                let err = (analytic - numeric).abs() / (1e-2 + analytic.abs().max(numeric.abs()));
                worst = worst.max(err);
                if analytic.abs() > 1e-6 {
                    nonzero += 1;
                }
                assert!(
                    err < 2e-2,
                    "{} table {} [{r}, {c}]: analytic {analytic:.6} numeric {numeric:.6}",
                    loss.name(),
                    m.representation().tables()[t].name()
                );
            }
        }
    }
    assert!(
        nonzero > 10,
        "{}: only {nonzero} non-zero gradients",
        loss.name()
    );
    eprintln!("{}: worst relative error {worst:.2e}", loss.name());
}

#[test]
fn every_builtin_loss_matches_finite_differences() {
    for name in BuiltinLoss::NAMES {
        // the softmax family's 256 default negatives make the f32 loss a sum so large that
        // central differences lose the digits they compare: 4 check the same formula
        let negatives = matches!(name, "sampled-softmax" | "gbce").then_some(4);
        check(BuiltinLoss::from_name(name, negatives).unwrap(), None);
    }
}

#[test]
fn sample_weights_are_in_the_gradient() {
    let w = [1.0, 0.0, 2.0, 0.5, 3.0];
    for name in ["bpr", "adaptive-hinge"] {
        check(BuiltinLoss::from_name(name, Some(3)).unwrap(), Some(&w));
    }
    // a zero weight removes the example's gradient entirely: user 1 appears only there
    let m = model(BuiltinLoss::from_name("bpr", Some(2)).unwrap());
    let (_, g) = m
        .batch_gradients(&[0, 1], &[1, 2], &[3, 4, 5, 6], Some(&[1.0, 0.0]))
        .unwrap();
    assert!(g[0].row(1).iter().all(|&x| x == 0.0));
    assert!(g[0].row(0).iter().any(|&x| x != 0.0));
}
