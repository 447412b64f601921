//! The fused training kernel of bilinear models: scores, a built-in loss's hand-written
//! gradient ([`ExampleGradient`]) and the row gradients in one pass, with no dfdx tape.
//!
//! For `score = <p_u, q_i> + b_u + b_i` and a per-positive loss `l(pos, neg_1..neg_N)`
//! averaged over the batch with weights `w`, each positive adds, with `s = w / B`:
//! `dp_u = s (dl/dpos q_pos + sum_j dl/dneg_j q_j)`, `db_u = s (dl/dpos + sum_j dl/dneg_j)`,
//! `dq_pos = s dl/dpos p_u`, `dq_j = s dl/dneg_j p_u`, and the same factors on the item
//! biases. Negatives with a zero derivative (hinge losses) are not touched at all, so the
//! optimizer visits fewer rows than the dfdx path (which touches every gathered row).

use netrex_losses::{
    checked_example, score_gradient, BatchScores, ExampleGradient, Loss, LossContext, ScoreGrads,
};
use netrex_representations::{RowStore, SparseGrad, Table, TrainedTable};

/// Where the kernel reads parameter rows from: plain tables, or tables shared by Hogwild
/// workers.
pub(crate) trait RowSource {
    /// Copies row `r` of table `t` into `out`.
    fn read(&self, t: usize, r: usize, out: &mut [f32]);
    /// Hints that row `r` of table `t` is needed soon.
    fn prefetch(&self, _t: usize, _r: usize) {}
}

impl RowSource for [Table] {
    fn read(&self, t: usize, r: usize, out: &mut [f32]) {
        out.copy_from_slice(self[t].row(r));
    }
}

impl<S: RowStore> RowSource for [TrainedTable<'_, S>] {
    fn read(&self, t: usize, r: usize, out: &mut [f32]) {
        self[t].weights.read(r, out);
    }
    fn prefetch(&self, t: usize, r: usize) {
        self[t].weights.prefetch(r);
    }
}

/// One minibatch. Shapes: `users` (B), `positives` (B), `negatives` (B x N, row-major),
/// `weights` (B).
pub(crate) struct Batch<'a> {
    pub(crate) users: &'a [u32],
    pub(crate) positives: &'a [u32],
    pub(crate) negatives: &'a [u32],
    pub(crate) weights: Option<&'a [f32]>,
}

/// Buffers reused across batches.
#[derive(Default)]
pub(crate) struct Scratch {
    user: Vec<f32>,
    user_grad: Vec<f32>,
    /// `(1 + N) x D`: the positive's row, then the negatives'.
    items: Vec<f32>,
    item_bias: Vec<f32>,
    scores: Vec<f32>,
    negative_grad: Vec<f32>,
    /// The whole batch's scores and their gradients, for [`bilinear_batch_scored`].
    positive: Vec<f32>,
    negative: Vec<f32>,
    dscores: ScoreGrads,
    /// The positive's and its negatives' ids, `1 + N`.
    ids: Vec<u32>,
    user_bias: [f32; 1],
}

impl Scratch {
    /// Sizes the per-positive buffers for rows of `dim` and `n` negatives.
    fn size(&mut self, dim: usize, n: usize) {
        let m = 1 + n;
        self.user.resize(dim, 0.0);
        self.user_grad.resize(dim, 0.0);
        self.items.resize(m * dim, 0.0);
        self.item_bias.resize(m, 0.0);
        self.scores.resize(m, 0.0);
        self.negative_grad.resize(n, 0.0);
        self.ids.resize(m, 0);
    }

    /// Reads positive `i`'s user row and its items' rows (the positive's, then its `n`
    /// negatives') and scores them into `scores`; asks for the rows of the positive
    /// [`PREFETCH_AHEAD`] later.
    #[inline(always)]
    fn score_positive<S: RowSource + ?Sized>(
        &mut self,
        tables: &S,
        batch: &Batch<'_>,
        i: usize,
        n: usize,
    ) {
        let b = batch.users.len();
        if i + PREFETCH_AHEAD < b {
            let ahead = i + PREFETCH_AHEAD;
            tables.prefetch(USER, batch.users[ahead] as usize);
            tables.prefetch(ITEM, batch.positives[ahead] as usize);
            for &item in &batch.negatives[ahead * n..(ahead + 1) * n] {
                tables.prefetch(ITEM, item as usize);
            }
        }
        let dim = self.user.len();
        let u = batch.users[i] as usize;
        self.ids[0] = batch.positives[i];
        self.ids[1..].copy_from_slice(&batch.negatives[i * n..(i + 1) * n]);
        tables.read(USER, u, &mut self.user);
        tables.read(USER_BIAS, u, &mut self.user_bias);
        for (k, &item) in self.ids.iter().enumerate() {
            let row = &mut self.items[k * dim..(k + 1) * dim];
            tables.read(ITEM, item as usize, row);
            tables.read(ITEM_BIAS, item as usize, &mut self.item_bias[k..k + 1]);
            self.scores[k] = dot(&self.user, row) + self.user_bias[0] + self.item_bias[k];
        }
    }
}

// table order of the bilinear layout
const USER: usize = 0;
const USER_BIAS: usize = 1;
const ITEM: usize = 2;
const ITEM_BIAS: usize = 3;

/// How many positives ahead the kernel asks for their rows to be fetched.
const PREFETCH_AHEAD: usize = 6;

/// `<a, b>` in eight lanes, which the compiler keeps in vector registers.
#[inline(always)]
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let split = a.len() / 8 * 8;
    for (x, y) in a[..split].chunks_exact(8).zip(b[..split].chunks_exact(8)) {
        for k in 0..8 {
            lanes[k] += x[k] * y[k];
        }
    }
    let tail: f32 = a[split..].iter().zip(&b[split..]).map(|(x, y)| x * y).sum();
    lanes.iter().sum::<f32>() + tail
}

/// `out += factor * x`.
#[inline(always)]
pub(crate) fn add_scaled(out: &mut [f32], factor: f32, x: &[f32]) {
    for (o, v) in out.iter_mut().zip(x) {
        *o += factor * v;
    }
}

/// The batch's loss (`sum(l * w) / B`), with its row gradients added to `grads` (one per
/// table, in the bilinear order).
pub(crate) fn bilinear_batch<S: RowSource + ?Sized>(
    tables: &S,
    dim: usize,
    loss: &dyn ExampleGradient,
    context: &LossContext,
    batch: &Batch<'_>,
    grads: &mut [SparseGrad],
    scratch: &mut Scratch,
) -> f32 {
    let b = batch.users.len();
    let n = batch.negatives.len() / b.max(1);
    scratch.size(dim, n);
    let mut total = 0.0f64;
    for i in 0..b {
        scratch.score_positive(tables, batch, i, n);
        let Scratch {
            user,
            user_grad,
            items,
            scores,
            negative_grad,
            ids,
            ..
        } = &mut *scratch;
        let u = batch.users[i];
        let (value, dpos) = checked_example(loss, scores[0], &scores[1..], negative_grad, context);
        let weight = batch.weights.map_or(1.0, |w| w[i]);
        total += f64::from(value) * f64::from(weight);
        let scale = weight / b as f32;

        user_grad.iter_mut().for_each(|g| *g = 0.0);
        let mut bias_grad = 0.0;
        for (k, &item) in ids.iter().enumerate() {
            let d = if k == 0 { dpos } else { negative_grad[k - 1] };
            if d == 0.0 {
                continue;
            }
            let factor = scale * d;
            add_scaled(user_grad, factor, &items[k * dim..(k + 1) * dim]);
            bias_grad += factor;
            add_scaled(grads[ITEM].row_mut(item), factor, user);
            grads[ITEM_BIAS].row_mut(item)[0] += factor;
        }
        grads[USER].add_row(u, user_grad);
        grads[USER_BIAS].row_mut(u)[0] += bias_grad;
    }
    (total / b.max(1) as f64) as f32
}

/// The batch's loss and row gradients for any [`Loss`]: in one pass by hand for a loss with an
/// [`ExampleGradient`], through [`bilinear_batch_scored`] otherwise.
pub(crate) fn bilinear_any<S: RowSource + ?Sized, L: Loss>(
    tables: &S,
    dim: usize,
    loss: &L,
    context: &LossContext,
    batch: &Batch<'_>,
    grads: &mut [SparseGrad],
    scratch: &mut Scratch,
) -> f32 {
    match loss.example_gradient() {
        Some(example) => bilinear_batch(tables, dim, example, context, batch, grads, scratch),
        None => bilinear_batch_scored(tables, dim, loss, context, batch, grads, scratch),
    }
}

/// The batch's loss for any [`Loss`], with its row gradients added to `grads`: every score of
/// the batch first, then `d loss / d scores` from [`score_gradient`] (dfdx's tape over the
/// scores alone for a loss without a hand-written gradient), then the rows again for their
/// gradients. Same result as [`bilinear_batch`] for a built-in loss.
pub(crate) fn bilinear_batch_scored<S: RowSource + ?Sized, L: Loss>(
    tables: &S,
    dim: usize,
    loss: &L,
    context: &LossContext,
    batch: &Batch<'_>,
    grads: &mut [SparseGrad],
    scratch: &mut Scratch,
) -> f32 {
    let b = batch.users.len();
    let n = batch.negatives.len() / b.max(1);
    scratch.size(dim, n);
    scratch.positive.resize(b, 0.0);
    scratch.negative.resize(b * n, 0.0);
    for i in 0..b {
        scratch.score_positive(tables, batch, i, n);
        scratch.positive[i] = scratch.scores[0];
        scratch.negative[i * n..(i + 1) * n].copy_from_slice(&scratch.scores[1..]);
    }
    let Scratch {
        user,
        user_grad,
        items,
        positive,
        negative,
        dscores,
        ..
    } = scratch;
    let items = &mut items[..dim];
    let ids = |i: usize| {
        std::iter::once(batch.positives[i])
            .chain(batch.negatives[i * n..(i + 1) * n].iter().copied())
    };
    let scores = BatchScores {
        positive,
        negative,
        mask: None,
        weights: batch.weights,
    };
    let value = score_gradient(loss, &scores, context, dscores);
    if !value.is_finite() {
        return value;
    }
    for i in 0..b {
        let u = batch.users[i] as usize;
        tables.read(USER, u, user);
        user_grad.iter_mut().for_each(|g| *g = 0.0);
        let mut bias_grad = 0.0;
        for (k, item) in ids(i).enumerate() {
            let d = if k == 0 {
                dscores.positive[i]
            } else {
                dscores.negative[i * n + k - 1]
            };
            if d == 0.0 {
                continue;
            }
            tables.read(ITEM, item as usize, items);
            add_scaled(user_grad, d, items);
            bias_grad += d;
            add_scaled(grads[ITEM].row_mut(item), d, user);
            grads[ITEM_BIAS].row_mut(item)[0] += d;
        }
        grads[USER].add_row(u as u32, user_grad);
        grads[USER_BIAS].row_mut(u as u32)[0] += bias_grad;
    }
    value
}

/// Plain SGD one positive at a time (batch size 1), as LightFM and implicit train: each
/// positive's update is written straight into the tables, with no row gradients kept and no
/// optimizer pass. The update is the one [`bilinear_batch`] and the optimizer's SGD step give
/// a batch of one (`w -= lr (g + l2 w)` on each row with a non-zero gradient, repeated items
/// summed first).
///
/// Returns the sum of `loss * weight` over the positives, or the index and value of the first
/// positive whose loss is not finite (nothing of it is applied).
pub(crate) fn sgd_examples<S: RowStore>(
    tables: &[TrainedTable<'_, S>],
    dim: usize,
    loss: &dyn ExampleGradient,
    context: &LossContext,
    batch: &Batch<'_>,
    rule: (f32, f32),
    scratch: &mut Scratch,
) -> Result<f64, (usize, f32)> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked just above)
        return unsafe { sgd_examples_avx2(tables, dim, loss, context, batch, rule, scratch) };
    }
    sgd_examples_inline(tables, dim, loss, context, batch, rule, scratch)
}

/// [`sgd_examples`] compiled for AVX2: eight lanes per vector op instead of SSE2's four.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn sgd_examples_avx2<S: RowStore>(
    tables: &[TrainedTable<'_, S>],
    dim: usize,
    loss: &dyn ExampleGradient,
    context: &LossContext,
    batch: &Batch<'_>,
    rule: (f32, f32),
    scratch: &mut Scratch,
) -> Result<f64, (usize, f32)> {
    sgd_examples_inline(tables, dim, loss, context, batch, rule, scratch)
}

#[inline(always)]
fn sgd_examples_inline<S: RowStore>(
    tables: &[TrainedTable<'_, S>],
    dim: usize,
    loss: &dyn ExampleGradient,
    context: &LossContext,
    batch: &Batch<'_>,
    (lr, l2): (f32, f32),
    scratch: &mut Scratch,
) -> Result<f64, (usize, f32)> {
    let b = batch.users.len();
    let n = batch.negatives.len() / b.max(1);
    let m = 1 + n;
    scratch.size(dim, n);
    scratch.positive.resize(m, 0.0);
    let mut touched = vec![false; m];
    let mut total = 0.0f64;
    for i in 0..b {
        scratch.score_positive(tables, batch, i, n);
        let Scratch {
            user,
            user_grad,
            items,
            item_bias,
            scores,
            negative_grad,
            positive: factors,
            ids,
            user_bias,
            ..
        } = &mut *scratch;
        let u = batch.users[i] as usize;
        let (value, dpos) = checked_example(loss, scores[0], &scores[1..], negative_grad, context);
        if !value.is_finite() {
            return Err((i, value));
        }
        let weight = batch.weights.map_or(1.0, |w| w[i]);
        total += f64::from(value) * f64::from(weight);
        factors[0] = dpos * weight;
        touched[0] = dpos != 0.0;
        for k in 1..m {
            factors[k] = negative_grad[k - 1] * weight;
            touched[k] = factors[k] != 0.0;
            // a repeated item is one row: its gradients add up before the update (and it is
            // updated, L2 term included, if any of them is non-zero, even if they cancel)
            if let Some(first) = ids[..k].iter().position(|&j| j == ids[k]) {
                factors[first] += factors[k];
                touched[first] |= touched[k];
                factors[k] = 0.0;
                touched[k] = false;
            }
        }
        user_grad.iter_mut().for_each(|g| *g = 0.0);
        let mut bias_grad = 0.0;
        for k in 0..m {
            if !touched[k] {
                continue;
            }
            let d = factors[k];
            let row = &mut items[k * dim..(k + 1) * dim];
            add_scaled(user_grad, d, row);
            bias_grad += d;
            // the item's update uses the user row as it was scored
            for (q, p) in row.iter_mut().zip(user.iter()) {
                *q -= lr * (d * p + l2 * *q);
            }
            tables[ITEM].weights.write(ids[k] as usize, row);
            let bias = &mut item_bias[k];
            *bias -= lr * (d + l2 * *bias);
            tables[ITEM_BIAS].weights.write(ids[k] as usize, &[*bias]);
        }
        // the batch path always touches the user's row (so its L2 term applies), too
        for (p, g) in user.iter_mut().zip(user_grad.iter()) {
            *p -= lr * (g + l2 * *p);
        }
        tables[USER].weights.write(u, user);
        user_bias[0] -= lr * (bias_grad + l2 * user_bias[0]);
        tables[USER_BIAS].weights.write(u, &user_bias[..]);
    }
    Ok(total)
}

/// Scores of every item for `user`: `<p_u, q_i> + b_u + b_i` written into `scores`.
pub(crate) fn bilinear_scores(tables: &[Table], user: u32, scores: &mut [f32]) {
    let p = tables[USER].row(user as usize);
    let bias = tables[USER_BIAS].row(user as usize)[0];
    let items = tables[ITEM].data().chunks_exact(p.len().max(1));
    for ((s, q), b) in scores.iter_mut().zip(items).zip(tables[ITEM_BIAS].data()) {
        *s = dot(p, q) + bias + b;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use netrex_losses::{BuiltinLoss, Loss};
    use netrex_representations::{IndexedBy, OptimizerConfig, OptimizerKind, RowOptimizer};

    fn tables(users: usize, items: usize, dim: usize) -> Vec<Table> {
        let value = |k: usize| ((k as f32) * 0.613).sin() * 0.5;
        let table = |name: &str, by, rows: usize, cols: usize, offset: usize| {
            let data = (0..rows * cols).map(|k| value(k + offset)).collect();
            Table::from_data(name, by, rows, cols, data).unwrap()
        };
        vec![
            table("user_embedding", IndexedBy::User, users, dim, 0),
            table("user_bias", IndexedBy::User, users, 1, 1000),
            table("item_embedding", IndexedBy::Item, items, dim, 2000),
            table("item_bias", IndexedBy::Item, items, 1, 3000),
        ]
    }

    #[test]
    fn per_example_sgd_is_the_batch_kernel_with_batches_of_one() {
        let (users, items, dim, n) = (5, 4, 6, 2);
        let config = OptimizerConfig {
            kind: OptimizerKind::Sgd,
            learning_rate: 0.3,
            l2: 0.01,
        };
        let context = LossContext { num_items: items };
        // few items, so positives and negatives repeat within one positive's list
        let users_ids: Vec<u32> = (0..24).map(|i| (i * 7 % users) as u32).collect();
        let positives: Vec<u32> = (0..24).map(|i| (i * 3 % items) as u32).collect();
        let negatives: Vec<u32> = (0..24 * n).map(|i| (i * 5 % items) as u32).collect();
        let weights: Vec<f32> = (0..24).map(|i| 0.5 + (i % 3) as f32 * 0.25).collect();
        for name in BuiltinLoss::NAMES {
            let loss = BuiltinLoss::from_name(name, Some(n)).unwrap();
            let example = loss.example_gradient().unwrap();
            // reference: the batch kernel and the optimizer's SGD step, one positive at a time
            let mut expected = tables(users, items, dim);
            let mut optimizer = RowOptimizer::new(config, &expected);
            let mut grads: Vec<SparseGrad> = expected.iter().map(SparseGrad::for_table).collect();
            let mut total = 0.0f64;
            for i in 0..24 {
                let batch = Batch {
                    users: &users_ids[i..i + 1],
                    positives: &positives[i..i + 1],
                    negatives: &negatives[i * n..(i + 1) * n],
                    weights: Some(&weights[i..i + 1]),
                };
                let value = bilinear_batch(
                    &expected[..],
                    dim,
                    example,
                    &context,
                    &batch,
                    &mut grads,
                    &mut Scratch::default(),
                );
                total += f64::from(value);
                optimizer.step(&mut expected, &mut grads);
            }
            let mut actual = tables(users, items, dim);
            let mut optimizer = RowOptimizer::new(config, &actual);
            let training = optimizer.exclusive(&mut actual);
            let batch = Batch {
                users: &users_ids,
                positives: &positives,
                negatives: &negatives,
                weights: Some(&weights),
            };
            let sum = sgd_examples(
                training.tables(),
                dim,
                example,
                &context,
                &batch,
                (config.learning_rate, config.l2),
                &mut Scratch::default(),
            )
            .unwrap();
            drop(training);
            assert!((sum - total).abs() < 1e-4, "{name}: loss {sum} vs {total}");
            for (a, e) in actual.iter().zip(&expected) {
                for (x, y) in a.data().iter().zip(e.data()) {
                    assert!((x - y).abs() < 1e-5, "{name} {}: {x} vs {y}", a.name());
                }
            }
        }
    }

    #[test]
    fn dot_matches_the_plain_sum_for_every_length() {
        for len in 0..20 {
            let a: Vec<f32> = (0..len).map(|i| i as f32 * 0.5 - 3.0).collect();
            let b: Vec<f32> = (0..len).map(|i| 1.0 - i as f32 * 0.25).collect();
            let plain: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            assert!((dot(&a, &b) - plain).abs() < 1e-4, "length {len}");
        }
    }
}
