//! The fused passes over a batch: scores, the loss's gradient and the row gradients at once,
//! for built-in losses (hand-written gradients) and any other loss (its score gradient).

use super::*;

/// What a fused pass reads: the tables, how they compose, the loss and the batch.
pub(crate) struct Pass<'a, S: ?Sized, L: ?Sized + 'a> {
    pub tables: &'a S,
    pub kernel: &'a Kernel,
    pub loss: &'a L,
    pub context: &'a LossContext,
    pub batch: &'a Batch<'a>,
}

impl<S: ?Sized, L: ?Sized> Clone for Pass<'_, S, L> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<S: ?Sized, L: ?Sized> Copy for Pass<'_, S, L> {}

/// The batch's loss (`sum(l * w) / B`), with its row gradients added to `grads` (one per
/// table, in the bilinear order).
#[inline(always)]
pub(crate) fn bilinear_batch<S: RowSource + ?Sized>(
    pass: Pass<'_, S, dyn ExampleGradient>,
    grads: &mut [SparseGrad],
    scratch: &mut Scratch,
) -> f32 {
    let (tables, kernel, batch) = (pass.tables, pass.kernel, pass.batch);
    let (at, dim) = (kernel.at, kernel.dim);
    let um = kernel.maps.user.as_deref();
    let b = batch.users.len();
    let n = batch.negatives.len() / b.max(1);
    scratch.size(dim, n);
    scratch.cache_items(tables, kernel, b, n);
    let plain = kernel.plain();
    let mut total = 0.0f64;
    for i in 0..b {
        scratch.score_positive(tables, kernel, batch, i, n);
        let Scratch {
            user,
            user_grad,
            items,
            scores,
            negative_grad,
            ids,
            cached,
            item_grads,
            tmp,
            ..
        } = &mut *scratch;
        let u = batch.users[i];
        let (value, dpos) = checked_example(
            pass.loss,
            scores[0],
            &scores[1..],
            negative_grad,
            pass.context,
        );
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
            if plain {
                tables.add_scaled_row(at.item, item as usize, factor, user_grad, tmp);
            } else {
                add_scaled(user_grad, factor, &items[k * dim..(k + 1) * dim]);
            }
            bias_grad += factor;
            item_grads.add(*cached, grads, kernel, item, factor, user);
        }
        scatter(&mut grads[at.user], um, u, 1.0, user_grad);
        scatter(&mut grads[at.user_bias], um, u, bias_grad, &[1.0]);
    }
    if scratch.cached {
        scratch.item_grads.flush(grads, kernel);
    }
    (total / b.max(1) as f64) as f32
}

/// The batch's loss and row gradients for any [`Loss`]: in one pass by hand for a loss with an
/// [`ExampleGradient`], through [`bilinear_batch_scored`] otherwise.
pub(crate) fn bilinear_any<S: RowSource + ?Sized, L: Loss>(
    pass: Pass<'_, S, L>,
    grads: &mut [SparseGrad],
    scratch: &mut Scratch,
) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked just above)
        return unsafe { bilinear_any_avx2(pass, grads, scratch) };
    }
    bilinear_any_inline(pass, grads, scratch)
}

/// [`bilinear_any`] compiled for AVX2 (the dot products and row updates in eight lanes; no
/// fused multiply-add, so the same results as the SSE2 build).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn bilinear_any_avx2<S: RowSource + ?Sized, L: Loss>(
    pass: Pass<'_, S, L>,
    grads: &mut [SparseGrad],
    scratch: &mut Scratch,
) -> f32 {
    bilinear_any_inline(pass, grads, scratch)
}

#[inline(always)]
fn bilinear_any_inline<S: RowSource + ?Sized, L: Loss>(
    pass: Pass<'_, S, L>,
    grads: &mut [SparseGrad],
    scratch: &mut Scratch,
) -> f32 {
    match pass.loss.example_gradient() {
        Some(loss) => {
            let Pass {
                tables,
                kernel,
                context,
                batch,
                ..
            } = pass;
            let pass = Pass {
                tables,
                kernel,
                loss,
                context,
                batch,
            };
            bilinear_batch(pass, grads, scratch)
        }
        None => bilinear_batch_scored(pass, grads, scratch),
    }
}

/// The batch's loss for any [`Loss`], with its row gradients added to `grads`: every score of
/// the batch first, then `d loss / d scores` from [`score_gradient`] (dfdx's tape over the
/// scores alone for a loss without a hand-written gradient), then the rows again for their
/// gradients. Same result as [`bilinear_batch`] for a built-in loss.
pub(crate) fn bilinear_batch_scored<S: RowSource + ?Sized, L: Loss>(
    pass: Pass<'_, S, L>,
    grads: &mut [SparseGrad],
    scratch: &mut Scratch,
) -> f32 {
    let (tables, kernel, batch) = (pass.tables, pass.kernel, pass.batch);
    let (at, dim) = (kernel.at, kernel.dim);
    let (um, im) = (kernel.maps.user.as_deref(), kernel.maps.item.as_deref());
    let b = batch.users.len();
    let n = batch.negatives.len() / b.max(1);
    scratch.size(dim, n);
    scratch.cache_items(tables, kernel, b, n);
    scratch.positive.resize(b, 0.0);
    scratch.negative.resize(b * n, 0.0);
    for i in 0..b {
        scratch.score_positive(tables, kernel, batch, i, n);
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
        tmp,
        item_cache,
        cached,
        item_grads,
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
    let value = score_gradient(pass.loss, &scores, pass.context, dscores);
    if !value.is_finite() {
        return value;
    }
    for i in 0..b {
        let u = batch.users[i];
        read_side(tables, at.user, um, u, user, tmp);
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
            if *cached {
                let i = item as usize;
                items.copy_from_slice(&item_cache[i * dim..(i + 1) * dim]);
            } else {
                read_side(tables, at.item, im, item, items, tmp);
            }
            add_scaled(user_grad, d, items);
            bias_grad += d;
            item_grads.add(*cached, grads, kernel, item, d, user);
        }
        scatter(&mut grads[at.user], um, u, 1.0, user_grad);
        scatter(&mut grads[at.user_bias], um, u, bias_grad, &[1.0]);
    }
    if *cached {
        item_grads.flush(grads, kernel);
    }
    value
}
