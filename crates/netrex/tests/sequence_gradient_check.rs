//! Gradient check of the sequence representations (LSTM, pooling, popularity) with several
//! losses: row gradients of the training step against central finite differences.

mod common;

use netrex::prelude::*;
use netrex::representations::SparseGrad;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use common::randomize_sequence_tables;

const ITEMS: usize = 6;

fn config() -> SequenceConfig {
    SequenceConfig {
        training: TrainingConfig::builder().embedding_dim(3).config(),
        max_len: 4,
        negatives: NegativeSampling::PerPosition,
    }
}

fn check<R: SequenceRepresentation>(
    mut model: ImplicitSequenceModel<R, BuiltinLoss>,
    what: &str,
    min_nonzero: usize,
) {
    let mut rng = StdRng::seed_from_u64(3);
    randomize_sequence_tables(model.representation_mut().tables_mut(), &mut rng);
    // two rows, left-padded; targets are the inputs shifted by one
    let inputs = [0u32, 0, 3, 1, 0, 2, 5, 4];
    let targets = [0u32, 3, 1, 6, 2, 5, 4, 1];
    let n = model.loss().num_negatives();
    let negatives: Vec<u32> = (0..targets.len() * n)
        .map(|_| rng.gen_range(1..=ITEMS as u32))
        .collect();
    let (_, grads): (f32, Vec<SparseGrad>) = model
        .batch_gradients(2, &inputs, &targets, &negatives)
        .unwrap();
    let eps = 1e-3f32;
    let mut checked = 0;
    for (t, grad) in grads.iter().enumerate() {
        let (rows, cols) = (
            model.representation().tables()[t].rows(),
            model.representation().tables()[t].cols(),
        );
        // row 0 of the item tables is padding: training discards its gradient, and moving it
        // moves every padded position at once, so finite differences there cross hinge kinks
        for r in usize::from(t < 2)..rows {
            for c in 0..cols {
                let analytic = f64::from(grad.row(r as u32)[c]);
                let original = model.representation().tables()[t].row(r)[c];
                model.representation_mut().tables_mut()[t].row_mut(r)[c] = original + eps;
                let up = f64::from(model.batch_loss_value(2, &inputs, &targets, &negatives));
                model.representation_mut().tables_mut()[t].row_mut(r)[c] = original - eps;
                let down = f64::from(model.batch_loss_value(2, &inputs, &targets, &negatives));
                model.representation_mut().tables_mut()[t].row_mut(r)[c] = original;
                let numeric = (up - down) / (2.0 * f64::from(eps));
                let err = (analytic - numeric).abs() / (1e-2 + analytic.abs().max(numeric.abs()));
                assert!(
                    err < 3e-2,
                    "{what} {}: table {} [{r}, {c}]: analytic {analytic:.6} numeric {numeric:.6}",
                    model.loss().name(),
                    model.representation().tables()[t].name()
                );
                checked += usize::from(analytic.abs() > 1e-6);
            }
        }
    }
    assert!(
        checked >= min_nonzero,
        "{what}: only {checked} non-zero gradients"
    );
}

fn losses() -> Vec<BuiltinLoss> {
    ["bpr", "hinge", "adaptive-hinge", "pointwise"]
        .iter()
        .map(|n| BuiltinLoss::from_name(n, Some(3)).unwrap())
        .collect()
}

#[test]
fn lstm_gradients() {
    for loss in losses() {
        let lstm = Lstm::new(ITEMS, 3, &mut StdRng::seed_from_u64(1)).unwrap();
        check(
            ImplicitSequenceModel::new(config(), lstm, loss).unwrap(),
            "lstm",
            40,
        );
    }
}

#[test]
fn pooling_gradients() {
    for mean in [true, false] {
        for loss in losses() {
            let pool = Pooling::new(ITEMS, 3, mean, &mut StdRng::seed_from_u64(1)).unwrap();
            check(
                ImplicitSequenceModel::new(config(), pool, loss).unwrap(),
                "pooling",
                12,
            );
        }
    }
}

#[test]
fn popularity_gradients() {
    let pop = SequencePopularity::new(ITEMS, &mut StdRng::seed_from_u64(1)).unwrap();
    // only the item biases carry gradient: the representation is zero
    check(
        ImplicitSequenceModel::new(
            config(),
            pop,
            BuiltinLoss::from_name("bpr", Some(2)).unwrap(),
        )
        .unwrap(),
        "popularity",
        5,
    );
}

#[test]
fn causal_cnn_gradients() {
    for residual in [true, false] {
        for loss in losses() {
            let cnn = CausalCnn::new(
                ITEMS,
                3,
                2,
                &[1, 2],
                residual,
                &mut StdRng::seed_from_u64(1),
            )
            .unwrap();
            check(
                ImplicitSequenceModel::new(config(), cnn, loss).unwrap(),
                "cnn",
                30,
            );
        }
    }
}
