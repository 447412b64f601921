//! # netrex-losses
//!
//! Ranking losses behind one trait, [`Loss`], so that any representation trains with any loss.
//! A loss sees a batch of positive scores `(B,)` and negative scores `(B, N)` (N sampled
//! negatives per positive) and gives a loss per positive; [`Loss::loss`] then averages it over
//! the unmasked positives, honouring sample weights.
//!
//! Built in: [`Pointwise`], [`Bpr`], [`LogSigmoidBpr`], [`Hinge`], [`AdaptiveHinge`], [`Warp`],
//! and the softmax family over many negatives: [`SampledSoftmax`], [`Gbce`].
//! A researcher's loss lives in their own crate: implement [`Loss::per_example`] with dfdx ops
//! (see `examples/custom_loss.rs`).

#![warn(missing_docs)]

use dfdx::prelude::*;

/// The dfdx this crate is built on: a custom loss must use the same version.
pub use dfdx;

mod builtin;
mod example;
mod named;
mod score;
mod softmax;

pub use builtin::{AdaptiveHinge, Bpr, Hinge, LogSigmoidBpr, Pointwise, Warp};
pub use example::{checked_example, ExampleGradient};
pub use named::BuiltinLoss;
pub use score::{per_example_gradient, score_gradient, taped_gradient, BatchScores, ScoreGrads};
pub use softmax::{Gbce, SampledSoftmax};

/// What a loss may need to know beyond the scores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LossContext {
    /// Number of items negatives are drawn from (WARP scales its rank estimate by it).
    pub num_items: usize,
}

/// A ranking loss over positive and sampled negative scores.
pub trait Loss: Send + Sync {
    /// A short name (`"bpr"`, `"adaptive-hinge"`...), used in saved models and logs.
    fn name(&self) -> String;

    /// Negatives wanted per positive (`N`).
    fn num_negatives(&self) -> usize;

    /// The loss of each positive.
    ///
    /// Shapes: `positive` is `(B,)`, `negative` is `(B, N)` with `N = num_negatives()`; the
    /// result is `(B,)`. Lower is better; every op must be differentiable through dfdx.
    fn per_example<D: Device<f32>, T: Tape<f32, D> + Merge<NoneTape>>(
        &self,
        positive: Tensor<(usize,), f32, D, T>,
        negative: Tensor<(usize, usize), f32, D, T>,
        context: &LossContext,
    ) -> Tensor<(usize,), f32, D, T>;

    /// The same loss with a hand-written gradient, if it has one (every built-in loss does).
    ///
    /// A model whose representation also has a fused kernel then trains without dfdx; a loss
    /// returning `None` (the default) trains through `per_example` and dfdx's tape.
    fn example_gradient(&self) -> Option<&dyn ExampleGradient> {
        None
    }

    /// The scalar to minimise: `sum(per_example * weight * mask) / sum(mask)`.
    ///
    /// `mask` (`(B,)`, 1 = real, 0 = padding) and `weights` (`(B,)`) default to ones. Override
    /// only for a loss that does not decompose per positive.
    fn loss<D: Device<f32>, T: Tape<f32, D> + Merge<NoneTape>>(
        &self,
        positive: Tensor<(usize,), f32, D, T>,
        negative: Tensor<(usize, usize), f32, D, T>,
        mask: Option<&Tensor<(usize,), f32, D>>,
        weights: Option<&Tensor<(usize,), f32, D>>,
        context: &LossContext,
    ) -> Tensor<(), f32, D, T> {
        let per = self.per_example(positive, negative, context);
        weighted_mean(per, mask, weights)
    }
}

/// `sum(values * weights * mask) / sum(mask)`; with no mask, the mean over the batch.
pub fn weighted_mean<D: Device<f32>, T: Tape<f32, D> + Merge<NoneTape>>(
    values: Tensor<(usize,), f32, D, T>,
    mask: Option<&Tensor<(usize,), f32, D>>,
    weights: Option<&Tensor<(usize,), f32, D>>,
) -> Tensor<(), f32, D, T> {
    let batch = values.shape().0;
    let mut values = values;
    if let Some(w) = weights {
        values = values * w.clone();
    }
    let denominator = match mask {
        Some(m) => {
            values = values * m.clone();
            m.clone().sum::<(), _>().as_vec()[0].max(1.0)
        }
        None => batch.max(1) as f32,
    };
    values.sum::<(), _>() / denominator
}
