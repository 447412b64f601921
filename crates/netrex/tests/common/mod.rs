//! Losses shared by the integration tests (each test file uses some of them).
#![allow(dead_code)]

use netrex::losses::dfdx::prelude::*;
use netrex::losses::{BuiltinLoss, Loss, LossContext};
use netrex::representations::Table;
use rand::Rng;

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

/// A loss defined outside netrex-losses, with no hand-written gradient:
/// `sum_j relu(1 + neg_j - pos)^2`.
#[derive(Clone, Copy)]
pub struct SquaredGap {
    pub negatives: usize,
}

impl Loss for SquaredGap {
    fn name(&self) -> String {
        "squared-gap".into()
    }
    fn num_negatives(&self) -> usize {
        self.negatives
    }
    fn per_example<D: Device<f32>, T: Tape<f32, D> + Merge<NoneTape>>(
        &self,
        positive: Tensor<(usize,), f32, D, T>,
        negative: Tensor<(usize, usize), f32, D, T>,
        _: &LossContext,
    ) -> Tensor<(usize,), f32, D, T> {
        let shape = *negative.shape();
        (negative - positive.broadcast_like::<_, Axis<1>>(&shape) + 1.0)
            .relu()
            .square()
            .sum::<(usize,), Axis<1>>()
    }
}

/// A built-in loss with its hand-written gradient hidden: the path a custom loss takes.
#[derive(Clone, Copy)]
pub struct Hidden(pub BuiltinLoss);

impl Loss for Hidden {
    fn name(&self) -> String {
        format!("hidden-{}", self.0.name())
    }
    fn num_negatives(&self) -> usize {
        self.0.num_negatives()
    }
    fn per_example<D: Device<f32>, T: Tape<f32, D> + Merge<NoneTape>>(
        &self,
        positive: Tensor<(usize,), f32, D, T>,
        negative: Tensor<(usize, usize), f32, D, T>,
        context: &LossContext,
    ) -> Tensor<(usize,), f32, D, T> {
        self.0.per_example(positive, negative, context)
    }
}
