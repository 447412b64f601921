//! The built-in losses.

use dfdx::prelude::*;
use serde::{Deserialize, Serialize};

use crate::{Loss, LossContext};

/// The `Loss` methods every built-in shares (its label, its `negatives` field, its hand-written
/// gradient) around its `per_example` body.
macro_rules! loss_methods {
    (
        $name:ident, $label:literal,
        |$this:ident, $positive:ident, $negative:ident, $context:tt| $body:block
    ) => {
        impl Loss for $name {
            fn name(&self) -> String {
                $label.into()
            }
            fn num_negatives(&self) -> usize {
                self.negatives
            }
            fn example_gradient(&self) -> Option<&dyn crate::ExampleGradient> {
                Some(self)
            }
            /// `positive` is `(B,)`, `negative` is `(B, N)`; the result is `(B,)`.
            fn per_example<D: Device<f32>, T: Tape<f32, D> + Merge<NoneTape>>(
                &$this,
                $positive: Tensor<(usize,), f32, D, T>,
                $negative: Tensor<(usize, usize), f32, D, T>,
                $context: &LossContext,
            ) -> Tensor<(usize,), f32, D, T> {
                $body
            }
        }
    };
}
pub(crate) use loss_methods;

/// A built-in loss: its struct (the number of negatives, with a default), and the `Loss`
/// methods of `loss_methods!`.
macro_rules! builtin_loss {
    (
        $(#[$doc:meta])*
        $name:ident, $label:literal, $negatives:literal, $negatives_doc:literal,
        |$positive:ident, $negative:ident, $context:tt| $body:block
    ) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
        pub struct $name {
            #[doc = $negatives_doc]
            pub negatives: usize,
        }

        impl Default for $name {
            fn default() -> Self {
                $name {
                    negatives: $negatives,
                }
            }
        }

        loss_methods!($name, $label, |self, $positive, $negative, $context| $body);
    };
}

builtin_loss! {
    /// The talk's pointwise loss: `1 - sigmoid(pos)` plus the mean `sigmoid(neg)`.
    Pointwise, "pointwise", 1, "Negatives per positive.",
    |positive, negative, _| {
        let pos = positive.sigmoid().negate() + 1.0;
        let neg = negative.sigmoid().mean::<(usize,), Axis<1>>();
        pos + neg
    }
}

/// Broadcasts positives `(B,)` against negatives `(B, N)`: `neg - pos`.
fn differences<D: Device<f32>, T: Tape<f32, D> + Merge<NoneTape>>(
    positive: Tensor<(usize,), f32, D, T>,
    negative: Tensor<(usize, usize), f32, D, T>,
) -> Tensor<(usize, usize), f32, D, T> {
    let shape = *negative.shape();
    negative - positive.broadcast_like::<_, Axis<1>>(&shape)
}

builtin_loss! {
    /// BPR in the talk's form: the mean over negatives of `1 - sigmoid(pos - neg)`.
    Bpr, "bpr", 1, "Negatives per positive.",
    |positive, negative, _| {
        // 1 - sigmoid(pos - neg) = sigmoid(neg - pos)
        differences(positive, negative)
            .sigmoid()
            .mean::<(usize,), Axis<1>>()
    }
}

/// `softplus(x) = relu(x) + ln(1 + exp(-|x|))`, which neither overflows nor loses precision.
pub(crate) fn softplus<S: Shape, D: Device<f32>, T: Tape<f32, D> + Merge<NoneTape>>(
    x: Tensor<S, f32, D, T>,
) -> Tensor<S, f32, D, T> {
    // x is used twice: the second use gets an empty tape with the same id, so both branches'
    // gradients accumulate on x when dfdx merges the tapes at the addition
    let second = x.retaped::<T>();
    x.relu() + (second.abs().negate().exp() + 1.0).ln()
}

builtin_loss! {
    /// BPR in its log-likelihood form: the mean over negatives of `-ln sigmoid(pos - neg)`,
    /// computed stably as `softplus(neg - pos)`.
    LogSigmoidBpr, "bpr-log", 1, "Negatives per positive.",
    |positive, negative, _| {
        softplus(differences(positive, negative)).mean::<(usize,), Axis<1>>()
    }
}

builtin_loss! {
    /// Hinge: the mean over negatives of `max(0, 1 - pos + neg)`.
    Hinge, "hinge", 1, "Negatives per positive.",
    |positive, negative, _| {
        (differences(positive, negative) + 1.0)
            .relu()
            .mean::<(usize,), Axis<1>>()
    }
}

builtin_loss! {
    /// Adaptive hinge: the hinge on the highest-scoring of N sampled negatives (default 5), which
    /// approximates WARP's search for a violating negative in one batched pass.
    AdaptiveHinge, "adaptive-hinge", 5, "Negatives sampled per positive.",
    |positive, negative, _| {
        let (b, n) = *negative.shape();
        // the index of the hardest negative, chosen without gradient: dfdx's `max` would send
        // the gradient to every tied maximum, and duplicate negatives tie
        let values = negative.retaped::<NoneTape>().as_vec();
        let hardest: Vec<usize> = values
            .chunks(n.max(1))
            .map(|row| {
                row.iter()
                    .enumerate()
                    .fold(0, |best, (j, &v)| if v > row[best] { j } else { best })
            })
            .collect();
        let index = negative.device().tensor_from_vec(hardest, (b,));
        (negative.select(index) - positive + 1.0).relu()
    }
}

builtin_loss! {
    /// WARP-style loss over N sampled negatives (default 20): the mean hinge of the violating
    /// negatives (`neg > pos - 1`), weighted by `ln(1 + rank)` where the rank estimate is
    /// `floor((num_items - 1) * violators / N)`. As in WARP, a positive ranked high by the model
    /// (few violators) gets little weight; the weight carries no gradient.
    Warp, "warp", 20, "Negatives sampled per positive.",
    |positive, negative, context| {
        let (b, n) = *negative.shape();
        let margins = (differences(positive, negative) + 1.0).relu();
        let values = margins.retaped::<NoneTape>().as_vec();
        let mut weights = Vec::with_capacity(b);
        for row in values.chunks(n.max(1)) {
            let violators = row.iter().filter(|&&m| m > 0.0).count();
            if violators == 0 {
                weights.push(0.0);
            } else {
                let rank = ((context.num_items.saturating_sub(1)) * violators / n) as f32;
                weights.push((1.0 + rank).ln() / violators as f32);
            }
        }
        let weights = margins.device().tensor_from_vec(weights, (b,));
        margins.sum::<(usize,), Axis<1>>() * weights
    }
}
