//! Hand-written per-positive gradients of the built-in losses.
//!
//! dfdx records every op on a tape; for a factorization model the ops are so small that this
//! bookkeeping costs more than the arithmetic. A loss that also implements [`ExampleGradient`]
//! lets a fused training kernel compute its value and gradient directly. It must agree with the
//! loss's [`Loss::per_example`](crate::Loss::per_example): `netrex`'s tests check each
//! built-in loss against dfdx's gradient.

use crate::{AdaptiveHinge, Bpr, Hinge, LogSigmoidBpr, LossContext, Pointwise, Warp};

/// A loss's value and gradient for one positive, without dfdx.
pub trait ExampleGradient: Send + Sync {
    /// The loss of one positive scored `positive` against `negatives` (length `N`).
    ///
    /// Returns `(loss, d loss / d positive)` and writes `d loss / d negatives[j]` into
    /// `negative_grad[j]` (same length as `negatives`).
    fn example(
        &self,
        positive: f32,
        negatives: &[f32],
        negative_grad: &mut [f32],
        context: &LossContext,
    ) -> (f32, f32);
}

/// [`ExampleGradient::example`], except that a score that is not finite (a diverged model)
/// becomes the loss itself, with no gradient: hinges would otherwise read a NaN as "no
/// violation" and training would go on silently.
// inline: so that its scan is compiled for the vectors of a caller built for a wider ISA
#[inline]
pub fn checked_example(
    loss: &dyn ExampleGradient,
    positive: f32,
    negatives: &[f32],
    negative_grad: &mut [f32],
    context: &LossContext,
) -> (f32, f32) {
    // a branch-free scan first (it vectorises: scoring a whole catalog makes rows long),
    // then the search for the culprit only when there is one
    let any_bad = negatives
        .iter()
        .fold(!positive.is_finite(), |bad, s| bad | !s.is_finite());
    if any_bad {
        let bad = std::iter::once(&positive)
            .chain(negatives)
            .find(|s| !s.is_finite())
            .copied()
            .unwrap_or(f32::NAN);
        negative_grad.iter_mut().for_each(|g| *g = 0.0);
        return (bad, 0.0);
    }
    loss.example(positive, negatives, negative_grad, context)
}

pub(crate) fn sigmoid(x: f32) -> f32 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// `ln(1 + e^x)` without overflow, as in the dfdx form.
pub(crate) fn softplus(x: f32) -> f32 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

/// Mean over negatives of `f(neg - pos)`, where `f` returns `(value, derivative)`.
fn mean_of_differences(
    positive: f32,
    negatives: &[f32],
    negative_grad: &mut [f32],
    f: impl Fn(f32) -> (f32, f32),
) -> (f32, f32) {
    let scale = 1.0 / negatives.len().max(1) as f32;
    let (mut loss, mut dpos) = (0.0, 0.0);
    for (n, g) in negatives.iter().zip(negative_grad.iter_mut()) {
        let (value, slope) = f(n - positive);
        loss += value;
        *g = slope * scale;
        dpos -= slope * scale;
    }
    (loss * scale, dpos)
}

impl ExampleGradient for Pointwise {
    fn example(&self, p: f32, negatives: &[f32], grad: &mut [f32], _: &LossContext) -> (f32, f32) {
        let scale = 1.0 / negatives.len().max(1) as f32;
        let sp = sigmoid(p);
        let mut loss = 1.0 - sp;
        for (n, g) in negatives.iter().zip(grad.iter_mut()) {
            let sn = sigmoid(*n);
            loss += sn * scale;
            *g = sn * (1.0 - sn) * scale;
        }
        (loss, -sp * (1.0 - sp))
    }
}

impl ExampleGradient for Bpr {
    fn example(&self, p: f32, negatives: &[f32], grad: &mut [f32], _: &LossContext) -> (f32, f32) {
        mean_of_differences(p, negatives, grad, |x| {
            let s = sigmoid(x);
            (s, s * (1.0 - s))
        })
    }
}

impl ExampleGradient for LogSigmoidBpr {
    fn example(&self, p: f32, negatives: &[f32], grad: &mut [f32], _: &LossContext) -> (f32, f32) {
        mean_of_differences(p, negatives, grad, |x| (softplus(x), sigmoid(x)))
    }
}

/// `relu(1 + x)` and its slope (0 at the kink, as dfdx's relu).
fn hinge(x: f32) -> (f32, f32) {
    let m = 1.0 + x;
    if m > 0.0 {
        (m, 1.0)
    } else {
        (0.0, 0.0)
    }
}

impl ExampleGradient for Hinge {
    fn example(&self, p: f32, negatives: &[f32], grad: &mut [f32], _: &LossContext) -> (f32, f32) {
        mean_of_differences(p, negatives, grad, hinge)
    }
}

impl ExampleGradient for AdaptiveHinge {
    fn example(&self, p: f32, negatives: &[f32], grad: &mut [f32], _: &LossContext) -> (f32, f32) {
        grad.iter_mut().for_each(|g| *g = 0.0);
        // the first of tied maxima, as the dfdx form picks it
        let Some(hardest) = (0..negatives.len()).reduce(|best, j| {
            if negatives[j] > negatives[best] {
                j
            } else {
                best
            }
        }) else {
            return (0.0, 0.0);
        };
        let (value, slope) = hinge(negatives[hardest] - p);
        grad[hardest] = slope;
        (value, -slope)
    }
}

impl ExampleGradient for Warp {
    fn example(
        &self,
        p: f32,
        negatives: &[f32],
        grad: &mut [f32],
        context: &LossContext,
    ) -> (f32, f32) {
        let n = negatives.len().max(1);
        let violators = negatives.iter().filter(|&&x| 1.0 + x - p > 0.0).count();
        if violators == 0 {
            grad.iter_mut().for_each(|g| *g = 0.0);
            return (0.0, 0.0);
        }
        let rank = (context.num_items.saturating_sub(1) * violators / n) as f32;
        let weight = (1.0 + rank).ln() / violators as f32;
        let mut loss = 0.0;
        for (x, g) in negatives.iter().zip(grad.iter_mut()) {
            let (value, slope) = hinge(x - p);
            loss += value;
            *g = slope * weight;
        }
        (loss * weight, -weight * violators as f32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numeric(
        loss: &dyn ExampleGradient,
        p: f32,
        negatives: &[f32],
        context: &LossContext,
    ) -> (f32, Vec<f32>) {
        let h = 1e-3f64;
        let value = |p: f32, n: &[f32]| {
            let mut g = vec![0.0; n.len()];
            f64::from(loss.example(p, n, &mut g, context).0)
        };
        let dp = (value(p + h as f32, negatives) - value(p - h as f32, negatives)) / (2.0 * h);
        let dn = (0..negatives.len())
            .map(|j| {
                let (mut up, mut down) = (negatives.to_vec(), negatives.to_vec());
                up[j] += h as f32;
                down[j] -= h as f32;
                ((value(p, &up) - value(p, &down)) / (2.0 * h)) as f32
            })
            .collect();
        (dp as f32, dn)
    }

    #[test]
    fn gradients_match_finite_differences() {
        let context = LossContext { num_items: 50 };
        // away from hinge kinks so that differences are exact up to rounding
        let p = 0.37f32;
        let negatives = [0.1f32, -0.93, 0.71, -0.2, 0.05];
        let losses: Vec<Box<dyn ExampleGradient>> = vec![
            Box::new(Pointwise { negatives: 5 }),
            Box::new(Bpr { negatives: 5 }),
            Box::new(LogSigmoidBpr { negatives: 5 }),
            Box::new(Hinge { negatives: 5 }),
            Box::new(AdaptiveHinge { negatives: 5 }),
            Box::new(Warp { negatives: 5 }),
            Box::new(crate::SampledSoftmax { negatives: 5 }),
            Box::new(crate::Gbce {
                negatives: 5,
                t: 0.75,
            }),
        ];
        for loss in &losses {
            let mut grad = vec![0.0; negatives.len()];
            let (_, dp) = loss.example(p, &negatives, &mut grad, &context);
            let (ndp, ndn) = numeric(loss.as_ref(), p, &negatives, &context);
            assert!((dp - ndp).abs() < 2e-3, "d pos {dp} vs {ndp}");
            for (a, b) in grad.iter().zip(&ndn) {
                assert!((a - b).abs() < 2e-3, "d neg {a} vs {b}");
            }
        }
    }
}
