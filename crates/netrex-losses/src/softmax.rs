//! The softmax family: losses over many sampled negatives at once, as strong sequence models
//! train (SASRec with sampled softmax, Klenitskiy & Vasilev 2023; gSASRec's gBCE, Petrov &
//! Macdonald 2023). Both pair with every representation, factorization included.

use dfdx::prelude::*;
use serde::{Deserialize, Serialize};

use crate::builtin::softplus;
use crate::example::{sigmoid, softplus as softplus1};
use crate::{ExampleGradient, Loss, LossContext};

/// Sampled softmax cross-entropy: `-ln softmax(pos | pos, neg_1..neg_N)`, i.e.
/// `logsumexp(pos, neg_1, ..., neg_N) - pos`, over N uniform negatives (default 256), with no
/// sampling correction (the negatives are uniform, so it would be a constant).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SampledSoftmax {
    /// Negatives sampled per positive.
    pub negatives: usize,
}

impl Default for SampledSoftmax {
    fn default() -> Self {
        SampledSoftmax { negatives: 256 }
    }
}

/// Each row's largest score, without gradient: the shift that keeps `exp` finite.
fn row_max<D: Device<f32>, T: Tape<f32, D>>(
    positive: &Tensor<(usize,), f32, D, T>,
    negative: &Tensor<(usize, usize), f32, D, T>,
) -> Tensor<(usize,), f32, D> {
    let (b, n) = *negative.shape();
    let p = positive.retaped::<NoneTape>().as_vec();
    let q = negative.retaped::<NoneTape>().as_vec();
    let max: Vec<f32> = (0..b)
        .map(|r| {
            q[r * n..(r + 1) * n]
                .iter()
                .fold(p[r], |m, &v| if v > m { v } else { m })
        })
        .map(|m| if m.is_finite() { m } else { 0.0 })
        .collect();
    positive.device().tensor_from_vec(max, (b,))
}

impl Loss for SampledSoftmax {
    fn name(&self) -> String {
        "sampled-softmax".into()
    }
    fn num_negatives(&self) -> usize {
        self.negatives
    }
    fn example_gradient(&self) -> Option<&dyn ExampleGradient> {
        Some(self)
    }
    /// `positive` is `(B,)`, `negative` is `(B, N)`; the result is `(B,)`.
    fn per_example<D: Device<f32>, T: Tape<f32, D> + Merge<NoneTape>>(
        &self,
        positive: Tensor<(usize,), f32, D, T>,
        negative: Tensor<(usize, usize), f32, D, T>,
        _: &LossContext,
    ) -> Tensor<(usize,), f32, D, T> {
        let shape = *negative.shape();
        let shift = row_max(&positive, &negative);
        // positive is read twice: the second read gets an empty tape with the same id, so
        // both gradients land on it when the tapes merge
        let again = positive.retaped::<T>();
        let e_pos = (positive - shift.clone()).exp();
        let e_neg = (negative - shift.clone().broadcast_like::<_, Axis<1>>(&shape))
            .exp()
            .sum::<(usize,), Axis<1>>();
        (e_pos + e_neg).ln() + shift - again
    }
}

impl ExampleGradient for SampledSoftmax {
    fn example(&self, p: f32, negatives: &[f32], grad: &mut [f32], _: &LossContext) -> (f32, f32) {
        let m = negatives.iter().fold(p, |m, &v| m.max(v));
        let e_pos = (p - m).exp();
        let mut z = e_pos;
        for (n, g) in negatives.iter().zip(grad.iter_mut()) {
            *g = (n - m).exp();
            z += *g;
        }
        grad.iter_mut().for_each(|g| *g /= z);
        // (m - p) first: at large scores m and p are close, and ln z is what is left
        (z.ln() + (m - p), e_pos / z - 1.0)
    }
}

/// gBCE, gSASRec's generalised binary cross-entropy over N uniform negatives (default 256):
/// `-beta * ln sigmoid(pos) - sum_j ln(1 - sigmoid(neg_j))`, with
/// `beta = alpha * (t * (1 - 1/alpha) + 1/alpha)` and `alpha = N / (num_items - 1)` the
/// sampling rate. `t` (default 0.75) calibrates: `t = 0` is plain BCE, `t = 1` undoes the
/// overconfidence that sampling negatives causes.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Gbce {
    /// Negatives sampled per positive.
    pub negatives: usize,
    /// Calibration, in `[0, 1]`.
    pub t: f32,
}

impl Default for Gbce {
    fn default() -> Self {
        Gbce {
            negatives: 256,
            t: 0.75,
        }
    }
}

impl Gbce {
    /// The power on the positive's probability, for a catalog of `num_items`.
    pub fn beta(&self, num_items: usize) -> f32 {
        let alpha = (self.negatives as f64 / (num_items.max(2) - 1) as f64).min(1.0);
        let t = f64::from(self.t);
        (alpha * (t * (1.0 - 1.0 / alpha) + 1.0 / alpha)) as f32
    }
}

impl Loss for Gbce {
    fn name(&self) -> String {
        "gbce".into()
    }
    fn num_negatives(&self) -> usize {
        self.negatives
    }
    fn example_gradient(&self) -> Option<&dyn ExampleGradient> {
        Some(self)
    }
    /// `positive` is `(B,)`, `negative` is `(B, N)`; the result is `(B,)`.
    fn per_example<D: Device<f32>, T: Tape<f32, D> + Merge<NoneTape>>(
        &self,
        positive: Tensor<(usize,), f32, D, T>,
        negative: Tensor<(usize, usize), f32, D, T>,
        context: &LossContext,
    ) -> Tensor<(usize,), f32, D, T> {
        // -ln sigmoid(x) = softplus(-x); -ln(1 - sigmoid(x)) = softplus(x)
        softplus(positive.negate()) * self.beta(context.num_items)
            + softplus(negative).sum::<(usize,), Axis<1>>()
    }
}

impl ExampleGradient for Gbce {
    fn example(
        &self,
        p: f32,
        negatives: &[f32],
        grad: &mut [f32],
        context: &LossContext,
    ) -> (f32, f32) {
        let beta = self.beta(context.num_items);
        let mut loss = beta * softplus1(-p);
        for (&n, g) in negatives.iter().zip(grad.iter_mut()) {
            loss += softplus1(n);
            *g = sigmoid(n);
        }
        (loss, -beta * sigmoid(-p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gbce_beta_is_one_without_calibration_and_alpha_with_full_calibration() {
        let plain = Gbce {
            negatives: 256,
            t: 0.0,
        };
        assert!((plain.beta(12_102) - 1.0).abs() < 1e-6);
        let full = Gbce {
            negatives: 256,
            t: 1.0,
        };
        assert!((full.beta(12_102) - 256.0 / 12_101.0).abs() < 1e-6);
        // a sample as large as the catalog is no sample: beta 1 whatever t
        let all = Gbce {
            negatives: 500,
            t: 0.75,
        };
        assert!((all.beta(100) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn sampled_softmax_is_the_cross_entropy_of_the_softmax() {
        let loss = SampledSoftmax { negatives: 3 };
        let context = LossContext { num_items: 10 };
        let (p, negatives) = (0.5f32, [0.1f32, 2.0, -1.0]);
        let mut grad = [0.0; 3];
        let (value, dp) = loss.example(p, &negatives, &mut grad, &context);
        let z: f32 = p.exp() + negatives.iter().map(|n| n.exp()).sum::<f32>();
        assert!((value + (p.exp() / z).ln()).abs() < 1e-5);
        assert!((dp - (p.exp() / z - 1.0)).abs() < 1e-6);
        // the gradients of all scores sum to zero: softmax minus a one-hot
        assert!((dp + grad.iter().sum::<f32>()).abs() < 1e-6);
        // huge scores do not overflow
        let (value, _) = loss.example(1e4, &[1e4, -1e4, 0.0], &mut grad, &context);
        assert!((value - 2f32.ln()).abs() < 1e-4, "{value}");
    }
}
