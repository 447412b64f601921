//! Losses written as a researcher would in their own crate (dfdx ops, no hand-written
//! gradient): the path every custom loss takes. `CustomBpr` is timed against the built-in BPR
//! (`examples/synthetic_epoch.rs`, `benches/training.rs`); `SoftAdaptiveHinge` is trained on
//! ML-100K by `examples/custom_loss.rs`. Each includer uses one of them.
#![allow(dead_code)]

use netrex::losses::dfdx::prelude::*;
use netrex::prelude::*;

/// `mean_j sigmoid(neg_j - pos)`.
pub struct CustomBpr;

impl Loss for CustomBpr {
    fn name(&self) -> String {
        "custom-bpr".into()
    }
    fn num_negatives(&self) -> usize {
        1
    }
    fn per_example<D: Device<f32>, T: Tape<f32, D> + Merge<NoneTape>>(
        &self,
        positive: Tensor<(usize,), f32, D, T>,
        negative: Tensor<(usize, usize), f32, D, T>,
        _: &LossContext,
    ) -> Tensor<(usize,), f32, D, T> {
        let shape = *negative.shape();
        (negative - positive.broadcast_like::<_, Axis<1>>(&shape))
            .sigmoid()
            .mean::<(usize,), Axis<1>>()
    }
}

/// `sum_j softmax(neg)_j * max(0, 1 - pos + neg_j)`.
pub struct SoftAdaptiveHinge {
    /// Negatives sampled per positive.
    pub negatives: usize,
}

impl Loss for SoftAdaptiveHinge {
    fn name(&self) -> String {
        "soft-adaptive-hinge".into()
    }

    fn num_negatives(&self) -> usize {
        self.negatives
    }

    /// `positive` is `(B,)`, `negative` is `(B, N)`; the result is `(B,)`.
    fn per_example<D: Device<f32>, T: Tape<f32, D> + Merge<NoneTape>>(
        &self,
        positive: Tensor<(usize,), f32, D, T>,
        negative: Tensor<(usize, usize), f32, D, T>,
        _context: &LossContext,
    ) -> Tensor<(usize,), f32, D, T> {
        let shape = *negative.shape();
        // the softmax weights carry no gradient: they only say which negatives matter
        let weights = negative.retaped::<NoneTape>().softmax::<Axis<1>>();
        let hinge = (negative - positive.broadcast_like::<_, Axis<1>>(&shape) + 1.0).relu();
        (hinge * weights).sum::<(usize,), Axis<1>>()
    }
}
