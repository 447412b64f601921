//! A batch loss's gradient with respect to its scores, for kernels that compute scores by hand.
//!
//! A representation with a hand-written forward and backward pass (the bilinear kernel, the
//! LSTM kernel) needs from the loss only `d loss / d scores`. Built-in losses give it from
//! their [`ExampleGradient`]; any other [`Loss`] gives it from dfdx's tape on the CPU, traced
//! over the score tensors alone (`(B,)` and `(B, N)`), so a custom loss costs a handful of
//! dfdx ops per batch instead of a tape over the whole model.

use dfdx::prelude::*;

use crate::{checked_example, ExampleGradient, Loss, LossContext};

/// The scores of one batch: `positive` `(B,)`, `negative` `(B, N)` row-major, and the optional
/// `mask` (1 = real, 0 = padding) and `weights`, both `(B,)`, of [`Loss::loss`].
#[derive(Clone, Copy, Debug)]
pub struct BatchScores<'a> {
    /// Score of each positive.
    pub positive: &'a [f32],
    /// Scores of its `N` negatives, row-major.
    pub negative: &'a [f32],
    /// Which positives count.
    pub mask: Option<&'a [f32]>,
    /// Weight of each positive.
    pub weights: Option<&'a [f32]>,
}

impl BatchScores<'_> {
    /// Negatives per positive.
    pub fn negatives(&self) -> usize {
        self.negative.len() / self.positive.len().max(1)
    }

    /// `sum(mask)` clamped to 1, or `B` without a mask: the denominator of [`Loss::loss`].
    fn denominator(&self) -> f32 {
        match self.mask {
            Some(m) => m.iter().sum::<f32>().max(1.0),
            None => self.positive.len().max(1) as f32,
        }
    }
}

/// `d loss / d scores` of a batch: `positive` `(B,)` and `negative` `(B, N)`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ScoreGrads {
    /// `d loss / d positive`.
    pub positive: Vec<f32>,
    /// `d loss / d negative`, row-major.
    pub negative: Vec<f32>,
}

impl ScoreGrads {
    fn reset(&mut self, b: usize, n: usize) {
        self.positive.clear();
        self.positive.resize(b, 0.0);
        self.negative.clear();
        self.negative.resize(b * n, 0.0);
    }
}

/// The value of [`Loss::loss`] on `scores`, with its gradient written into `grads`.
///
/// Uses the loss's [`ExampleGradient`] when it has one, otherwise dfdx's tape on the CPU.
pub fn score_gradient<L: Loss>(
    loss: &L,
    scores: &BatchScores<'_>,
    context: &LossContext,
    grads: &mut ScoreGrads,
) -> f32 {
    match loss.example_gradient() {
        Some(example) => per_example_gradient(example, scores, context, grads),
        None => taped_gradient(loss, scores, context, grads),
    }
}

/// [`score_gradient`] from a hand-written per-positive gradient: `sum(l w m) / sum(m)`.
pub fn per_example_gradient(
    loss: &dyn ExampleGradient,
    scores: &BatchScores<'_>,
    context: &LossContext,
    grads: &mut ScoreGrads,
) -> f32 {
    let (b, n) = (scores.positive.len(), scores.negatives());
    grads.reset(b, n);
    let denominator = scores.denominator();
    let mut total = 0.0f64;
    for i in 0..b {
        let keep = scores.mask.map_or(1.0, |m| m[i]) * scores.weights.map_or(1.0, |w| w[i]);
        if keep == 0.0 {
            continue;
        }
        let negative_grad = &mut grads.negative[i * n..(i + 1) * n];
        let (value, dpos) = checked_example(
            loss,
            scores.positive[i],
            &scores.negative[i * n..(i + 1) * n],
            negative_grad,
            context,
        );
        if !value.is_finite() {
            return value;
        }
        let scale = keep / denominator;
        total += f64::from(value * keep);
        grads.positive[i] = dpos * scale;
        negative_grad.iter_mut().for_each(|g| *g *= scale);
    }
    (total / f64::from(denominator)) as f32
}

/// [`score_gradient`] through dfdx: the scores become leaves of a tape that records
/// [`Loss::loss`] alone (so a loss that overrides `loss` is honoured too).
pub fn taped_gradient<L: Loss>(
    loss: &L,
    scores: &BatchScores<'_>,
    context: &LossContext,
    grads: &mut ScoreGrads,
) -> f32 {
    let (b, n) = (scores.positive.len(), scores.negatives());
    let device = Cpu::default();
    let positive = device.tensor_from_vec(scores.positive.to_vec(), (b,));
    let negative = device.tensor_from_vec(scores.negative.to_vec(), (b, n));
    let mask = scores
        .mask
        .map(|m| device.tensor_from_vec(m.to_vec(), (b,)));
    let weights = scores
        .weights
        .map(|w| device.tensor_from_vec(w.to_vec(), (b,)));
    let value = loss.loss(
        positive.leaky_trace(),
        negative.leaky_trace(),
        mask.as_ref(),
        weights.as_ref(),
        context,
    );
    let result = value.as_vec()[0];
    if !result.is_finite() {
        return result;
    }
    let mut tape_grads = value.backward();
    // a loss that ignores one of its inputs leaves no gradient for it: zeros
    if tape_grads.get_or_alloc_mut(&positive).is_err()
        || tape_grads.get_or_alloc_mut(&negative).is_err()
    {
        return f32::NAN;
    }
    grads.positive = tape_grads.get(&positive).as_vec();
    grads.negative = tape_grads.get(&negative).as_vec();
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BuiltinLoss;

    #[test]
    fn hand_written_and_taped_gradients_agree_for_every_builtin_loss() {
        let context = LossContext { num_items: 40 };
        let (b, n) = (6, 3);
        // no score exactly 0: the dfdx forms of softplus and the hinges have kinks there
        let positive: Vec<f32> = (0..b).map(|i| (i as f32 * 0.37).sin() + 0.05).collect();
        let negative: Vec<f32> = (0..b * n).map(|i| (i as f32 * 0.71).cos() * 0.9).collect();
        let mask = [1.0, 0.0, 1.0, 1.0, 0.0, 1.0];
        let weights = [0.5, 2.0, 1.0, 1.5, 1.0, 0.25];
        for name in BuiltinLoss::NAMES {
            let loss = BuiltinLoss::from_name(name, Some(n)).expect("a built-in name");
            let example = loss.example_gradient().expect("built-in");
            for (m, w) in [
                (None, None),
                (Some(&mask[..]), None),
                (Some(&mask[..]), Some(&weights[..])),
            ] {
                let scores = BatchScores {
                    positive: &positive,
                    negative: &negative,
                    mask: m,
                    weights: w,
                };
                let (mut hand, mut taped) = (ScoreGrads::default(), ScoreGrads::default());
                let v1 = per_example_gradient(example, &scores, &context, &mut hand);
                let v2 = taped_gradient(&loss, &scores, &context, &mut taped);
                assert!((v1 - v2).abs() < 1e-5, "{name}: loss {v1} vs {v2}");
                for (x, y) in hand
                    .positive
                    .iter()
                    .chain(&hand.negative)
                    .zip(taped.positive.iter().chain(&taped.negative))
                {
                    assert!((x - y).abs() < 1e-5, "{name}: gradient {x} vs {y}");
                }
            }
        }
    }
}
