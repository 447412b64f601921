//! The softmax family: losses over many sampled negatives at once, as strong sequence models
//! train (SASRec with sampled softmax, Klenitskiy & Vasilev 2023; gSASRec's gBCE, Petrov &
//! Macdonald 2023). Both pair with every representation, factorization included.

use dfdx::prelude::*;
use serde::{Deserialize, Serialize};

use crate::builtin::{loss_methods, softplus};
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
    // on the device: with the whole catalog as negatives, a copy of the scores to the host
    // and back would cost more than the step
    negative
        .retaped::<NoneTape>()
        .max::<(usize,), Axis<1>>()
        .maximum(positive.retaped::<NoneTape>())
}

loss_methods!(
    SampledSoftmax,
    "sampled-softmax",
    |self, positive, negative, _| {
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
);

impl ExampleGradient for SampledSoftmax {
    fn example(&self, p: f32, negatives: &[f32], grad: &mut [f32], _: &LossContext) -> (f32, f32) {
        softmax_row(p, negatives, grad)
    }
}

/// [`SampledSoftmax`]'s example on the widest vectors the CPU has: the default build targets
/// baseline x86-64 (SSE2), and with the whole catalog as negatives this row is the loss's cost.
/// Every variant does the same float operations in the same order (no fused multiply-adds;
/// the sums run over eight fixed lanes), so results do not depend on which one ran.
fn softmax_row(p: f32, negatives: &[f32], grad: &mut [f32]) -> (f32, f32) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F, checked just above
            return unsafe { softmax_row_avx512(p, negatives, grad) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2, checked just above
            return unsafe { softmax_row_avx2(p, negatives, grad) };
        }
    }
    softmax_row_portable(p, negatives, grad)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn softmax_row_avx512(p: f32, negatives: &[f32], grad: &mut [f32]) -> (f32, f32) {
    softmax_row_portable(p, negatives, grad)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn softmax_row_avx2(p: f32, negatives: &[f32], grad: &mut [f32]) -> (f32, f32) {
    softmax_row_portable(p, negatives, grad)
}

// inlined into each variant, so that it is compiled for that variant's vectors
#[inline(always)]
fn softmax_row_portable(p: f32, negatives: &[f32], grad: &mut [f32]) -> (f32, f32) {
    // separate passes, each free of loop-carried dependencies but the lane sums, so that
    // they vectorise
    let m = lane_fold(negatives, p, f32::max);
    let e_pos = exp_nonpositive(p - m);
    for (n, g) in negatives.iter().zip(grad.iter_mut()) {
        *g = exp_nonpositive(n - m);
    }
    let z = e_pos + lane_fold(grad, 0.0, |a, b| a + b);
    let inv = 1.0 / z;
    grad.iter_mut().for_each(|g| *g *= inv);
    // (m - p) first: at large scores m and p are close, and ln z is what is left
    (z.ln() + (m - p), e_pos * inv - 1.0)
}

/// `values` folded with `f` over eight independent lanes, then the lanes into `init`.
#[inline(always)]
fn lane_fold(values: &[f32], init: f32, f: impl Fn(f32, f32) -> f32) -> f32 {
    let mut lanes = [init; 8];
    let mut chunks = values.chunks_exact(8);
    for chunk in &mut chunks {
        for (lane, &v) in lanes.iter_mut().zip(chunk) {
            *lane = f(*lane, v);
        }
    }
    let tail = chunks.remainder().iter().fold(init, |a, &v| f(a, v));
    lanes.iter().fold(tail, |a, &v| f(a, v))
}

/// `e^x` for `x <= 0` (below -87 it is clamped there: `~1.6e-38`), within `~2e-7` relative:
/// Cephes' `expf` reduction and polynomial, written without branches or library calls so that
/// a loop over it vectorises. NaN stays NaN.
#[inline(always)]
fn exp_nonpositive(x: f32) -> f32 {
    const LOG2_E: f32 = std::f32::consts::LOG2_E;
    // ln 2 split so that k * LN2_HI is exact
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // adding 1.5 * 2^23 rounds to an integer and leaves it in the low mantissa bits
    const ROUND: f32 = 12_582_912.0;
    let x = if x < -87.0 { -87.0 } else { x };
    let shifted = x * LOG2_E + ROUND;
    let k = shifted - ROUND;
    let r = x - k * LN2_HI - k * LN2_LO;
    let poly = ((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2)
        * r
        + 1.666_666_5e-1)
        * r
        + 0.5;
    let e_r = r * r * poly + r + 1.0;
    let k_int = shifted.to_bits().wrapping_sub(ROUND.to_bits()) as i32;
    e_r * f32::from_bits(((k_int + 127) as u32) << 23)
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

loss_methods!(Gbce, "gbce", |self, positive, negative, context| {
    // -ln sigmoid(x) = softplus(-x); -ln(1 - sigmoid(x)) = softplus(x)
    softplus(positive.negate()) * self.beta(context.num_items)
        + softplus(negative).sum::<(usize,), Axis<1>>()
});

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

#[cfg(test)]
mod fast_exp_tests {
    use super::{exp_nonpositive, lane_fold, softmax_row, softmax_row_portable};

    #[test]
    fn softmax_row_gives_the_same_bits_on_every_vector_width() {
        // odd lengths leave tails after the eight lanes and after the widest vectors
        for len in [0usize, 1, 7, 8, 9, 31, 257, 12_101] {
            let negatives: Vec<f32> = (0..len)
                .map(|i| ((i * 7919) % 1000) as f32 / 37.0 - 13.0)
                .collect();
            let (mut wide, mut portable) = (vec![0.0f32; len], vec![0.0f32; len]);
            let a = softmax_row(1.5, &negatives, &mut wide);
            let b = softmax_row_portable(1.5, &negatives, &mut portable);
            assert_eq!(
                (a.0.to_bits(), a.1.to_bits()),
                (b.0.to_bits(), b.1.to_bits())
            );
            assert!(wide
                .iter()
                .zip(&portable)
                .all(|(x, y)| x.to_bits() == y.to_bits()));
        }
    }

    #[test]
    fn exp_nonpositive_matches_the_library_exp() {
        let mut worst = 0.0f64;
        for i in 0..=200_000 {
            let x = -87.0 * i as f32 / 200_000.0;
            let exact = f64::from(x).exp();
            let rel = ((f64::from(exp_nonpositive(x)) - exact) / exact).abs();
            worst = worst.max(rel);
        }
        assert!(worst < 5e-7, "worst relative error {worst}");
        assert_eq!(exp_nonpositive(0.0), 1.0);
        assert!(exp_nonpositive(-1.0e9) < 1e-37);
        assert!(exp_nonpositive(f32::NAN).is_nan());
    }

    #[test]
    fn lane_fold_sums_and_maxes_every_element() {
        let v: Vec<f32> = (0..21).map(|i| i as f32).collect();
        assert_eq!(lane_fold(&v, 0.0, |a, b| a + b), 210.0);
        assert_eq!(lane_fold(&v, -1.0, f32::max), 20.0);
        assert_eq!(lane_fold(&[], 3.0, f32::max), 3.0);
    }
}
