//! Per-example SGD: one positive at a time, updates written straight into the tables.

use super::*;
use crate::optim::step_values;

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
    kernel: &Kernel,
    loss: &dyn ExampleGradient,
    context: &LossContext,
    batch: &Batch<'_>,
    rule: (f32, f32),
    scratch: &mut Scratch,
) -> Result<f64, (usize, f32)> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked just above)
        return unsafe { sgd_examples_avx2(tables, kernel, loss, context, batch, rule, scratch) };
    }
    sgd_examples_inline(tables, kernel, loss, context, batch, rule, scratch)
}

/// [`sgd_examples`] compiled for AVX2: eight lanes per vector op instead of SSE2's four.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn sgd_examples_avx2<S: RowStore>(
    tables: &[TrainedTable<'_, S>],
    kernel: &Kernel,
    loss: &dyn ExampleGradient,
    context: &LossContext,
    batch: &Batch<'_>,
    rule: (f32, f32),
    scratch: &mut Scratch,
) -> Result<f64, (usize, f32)> {
    sgd_examples_inline(tables, kernel, loss, context, batch, rule, scratch)
}

#[inline(always)]
fn sgd_examples_inline<S: RowStore>(
    tables: &[TrainedTable<'_, S>],
    kernel: &Kernel,
    loss: &dyn ExampleGradient,
    context: &LossContext,
    batch: &Batch<'_>,
    rule: (f32, f32),
    scratch: &mut Scratch,
) -> Result<f64, (usize, f32)> {
    debug_assert!(kernel.plain(), "per-example SGD writes id rows");
    let (at, dim) = (kernel.at, kernel.dim);
    let b = batch.users.len();
    let n = batch.negatives.len() / b.max(1);
    let m = 1 + n;
    scratch.size(kernel.dim, n);
    scratch.positive.resize(m, 0.0);
    let mut touched = vec![false; m];
    let mut total = 0.0f64;
    let (item, item_bias) = (&tables[at.item].weights, &tables[at.item_bias].weights);
    for i in 0..b {
        scratch.prefetch_ahead(tables, kernel, batch, i, n);
        let Scratch {
            user,
            user_grad,
            items,
            scores,
            negative_grad,
            positive: factors,
            ids,
            user_bias,
            tmp,
            ..
        } = &mut *scratch;
        let u = batch.users[i] as usize;
        // the user row is copied: the items' steps use it as it was scored. Item rows are
        // scored and stepped in place where the store allows (one thread), else through one
        // copy each (Hogwild's atomics)
        tables[at.user].weights.read(u, user);
        tables[at.user_bias].weights.read(u, &mut user_bias[..]);
        ids[0] = batch.positives[i];
        ids[1..].copy_from_slice(&batch.negatives[i * n..(i + 1) * n]);
        for (k, &id) in ids.iter().enumerate() {
            let mut bias = [0.0f32];
            item_bias.read(id as usize, &mut bias);
            let dot_product = if S::IN_PLACE {
                item.dot_row(id as usize, user, tmp)
            } else {
                let row = &mut items[k * dim..(k + 1) * dim];
                item.read(id as usize, row);
                dot(user, row)
            };
            scores[k] = dot_product + user_bias[0] + bias[0];
        }
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
            let (d, id) = (factors[k], ids[k] as usize);
            if S::IN_PLACE {
                item.step_row(id, d, user, rule, user_grad, tmp);
            } else {
                let row = &mut items[k * dim..(k + 1) * dim];
                step_values(row, d, user, rule, user_grad);
                item.write(id, row);
            }
            bias_grad += d;
            item_bias.sgd_row(id, &[d], rule, tmp);
        }
        // the batch path always touches the user's row (so its L2 term applies), too
        tables[at.user].weights.sgd_row(u, user_grad, rule, tmp);
        tables[at.user_bias]
            .weights
            .sgd_row(u, &[bias_grad], rule, tmp);
    }
    Ok(total)
}
