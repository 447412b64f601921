//! Losses shared by the integration tests (each test file uses some of them).
#![allow(dead_code)]

use netrex::data::synthetic::{markov, zipf, MarkovConfig, ZipfConfig};
use netrex::data::Interactions;
use netrex::losses::dfdx::prelude::*;
use netrex::losses::{BuiltinLoss, Loss, LossContext};
use netrex::representations::{FactorizationRepresentation, Table};
use netrex::{ImplicitFactorizationModel, NegativeSampling, SequenceConfig, TrainingConfig};
use rand::Rng;

/// Zipf-distributed interactions of `users x items`, with `n` interactions.
pub fn zipf_data(users: usize, items: usize, n: usize, seed: u64) -> Interactions {
    zipf(&ZipfConfig {
        num_users: users,
        num_items: items,
        num_interactions: n,
        exponent: 1.0,
        seed,
    })
    .unwrap()
}

/// 600 first-order Markov interactions of 20 users over 15 items: a small sequence set.
pub fn markov_data() -> Interactions {
    markov(&MarkovConfig {
        num_users: 20,
        num_items: 15,
        num_interactions: 600,
        concentration: 0.01,
        order: 1,
        seed: 1,
    })
    .unwrap()
}

/// Fills `m`'s tables with values of order 1, draws a batch of `b` positives (ids below
/// `users` and `items`) and checks that the fused kernel's loss and row gradients equal
/// dfdx's, with and without weights.
pub fn assert_kernel_matches_dfdx<R: FactorizationRepresentation, L: Loss>(
    m: &mut ImplicitFactorizationModel<R, L>,
    (users, items, b): (usize, usize, usize),
    rng: &mut impl Rng,
) {
    let negatives = m.loss().num_negatives();
    let name = m.loss().name();
    for t in m.representation_mut().tables_mut() {
        t.data_mut()
            .iter_mut()
            .for_each(|v| *v = rng.gen_range(-0.8..0.8));
    }
    let u: Vec<u32> = (0..b).map(|_| rng.gen_range(0..users as u32)).collect();
    let p: Vec<u32> = (0..b).map(|_| rng.gen_range(0..items as u32)).collect();
    let n: Vec<u32> = (0..b * negatives)
        .map(|_| rng.gen_range(0..items as u32))
        .collect();
    let w: Vec<f32> = (0..b).map(|_| rng.gen_range(0.1..2.0)).collect();
    for weights in [None, Some(w.as_slice())] {
        let (reference, expected) = m.batch_gradients(&u, &p, &n, weights).unwrap();
        let (value, actual) = m.fused_batch_gradients(&u, &p, &n, weights).unwrap();
        assert!(
            (value - reference).abs() <= 1e-5 * (1.0 + reference.abs()),
            "{name}: loss {value} vs {reference}"
        );
        for (t, (a, e)) in actual.iter().zip(&expected).enumerate() {
            for r in 0..m.representation().tables()[t].rows() as u32 {
                for (x, y) in a.row(r).iter().zip(e.row(r)) {
                    assert!(
                        (x - y).abs() <= 1e-5 + 1e-4 * y.abs(),
                        "{name}: table {t} row {r}: {x} vs {y}"
                    );
                }
            }
        }
    }
}

/// Fills a sequence model's tables with values of order 1 (so no unit sits at a kink), keeping
/// the padding row of the two item tables at zero.
pub fn randomize_sequence_tables(tables: &mut [Table], rng: &mut impl Rng) {
    for (k, t) in tables.iter_mut().enumerate() {
        let cols = t.cols();
        for (i, v) in t.data_mut().iter_mut().enumerate() {
            *v = if k < 2 && i < cols {
                0.0
            } else {
                rng.gen_range(-0.8..0.8)
            };
        }
    }
}

/// The losses a kernel must take through the score tape: [`Custom::SquaredGap`] and every
/// built-in loss behind [`Custom::Hidden`] (with 3 negatives), in that order.
pub fn custom_losses(squared_negatives: usize) -> Vec<Custom> {
    let hidden = BuiltinLoss::all(Some(3)).into_iter().map(Custom::Hidden);
    std::iter::once(Custom::SquaredGap {
        negatives: squared_negatives,
    })
    .chain(hidden)
    .collect()
}

/// Losses defined outside netrex-losses, with no hand-written gradient: the path a custom
/// loss takes.
#[derive(Clone, Copy)]
pub enum Custom {
    /// `sum_j relu(1 + neg_j - pos)^2`.
    SquaredGap { negatives: usize },
    /// A built-in loss with its hand-written gradient hidden.
    Hidden(BuiltinLoss),
    /// A loss that goes wrong: NaN from the first batch.
    Broken,
}

impl Loss for Custom {
    fn name(&self) -> String {
        match self {
            Custom::SquaredGap { .. } => "squared-gap".into(),
            Custom::Hidden(loss) => format!("hidden-{}", loss.name()),
            Custom::Broken => "broken".into(),
        }
    }
    fn num_negatives(&self) -> usize {
        match self {
            Custom::SquaredGap { negatives } => *negatives,
            Custom::Hidden(loss) => loss.num_negatives(),
            Custom::Broken => 1,
        }
    }
    fn per_example<D: Device<f32>, T: Tape<f32, D> + Merge<NoneTape>>(
        &self,
        positive: Tensor<(usize,), f32, D, T>,
        negative: Tensor<(usize, usize), f32, D, T>,
        context: &LossContext,
    ) -> Tensor<(usize,), f32, D, T> {
        let shape = *negative.shape();
        match self {
            Custom::SquaredGap { .. } => (negative - positive.broadcast_like::<_, Axis<1>>(&shape)
                + 1.0)
                .relu()
                .square()
                .sum::<(usize,), Axis<1>>(),
            Custom::Hidden(loss) => loss.per_example(positive, negative, context),
            Custom::Broken => (positive * 0.0 - 1.0).sqrt(),
        }
    }
}

/// A sequence model's settings: `(dim, epochs, batch)`, the learning rate, the seed and the
/// padded length, with per-position negatives.
pub fn sequence_config(
    (dim, epochs, batch): (usize, usize, usize),
    learning_rate: f32,
    seed: u64,
    max_len: usize,
) -> SequenceConfig {
    SequenceConfig {
        training: TrainingConfig::builder()
            .embedding_dim(dim)
            .epochs(epochs)
            .batch_size(batch)
            .learning_rate(learning_rate)
            .seed(seed)
            .config(),
        max_len,
        negatives: NegativeSampling::PerPosition,
    }
}

/// A fresh folder `name` under the system's temporary one, unique to this test process.
pub fn temp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("netrex-tests-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// `config` trained by plain SGD at `learning_rate`.
pub fn sgd(config: TrainingConfig, learning_rate: f32) -> TrainingConfig {
    netrex::TrainingConfigBuilder::from(config)
        .optimizer(netrex::OptimizerKind::Sgd)
        .learning_rate(learning_rate)
        .config()
}

/// Tables `a` and `b` hold the same values, table by table (`what` names the case).
pub fn assert_same_tables(a: &[Table], b: &[Table], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: table counts");
    for (x, y) in a.iter().zip(b) {
        assert_eq!(x.data(), y.data(), "{what}: {}", x.name());
    }
}

/// The largest difference between two sets of tables, value by value.
pub fn worst_difference(a: &[Table], b: &[Table]) -> f32 {
    a.iter()
        .zip(b)
        .flat_map(|(x, y)| x.data().iter().zip(y.data()).map(|(p, q)| (p - q).abs()))
        .fold(0.0, f32::max)
}
