//! The full-catalog scoring of the sequence kernel ([`NegativeSampling::FullCatalog`]): every
//! item scored at every real position, three large matrix products per batch, split over
//! rayon's threads.
//!
//! With `H` the packed states `(M, D)` of the `M` real positions, `E` the whole embedding
//! table `(I + 1, D)` (row 0 is padding) and `b` its biases: `S = H E^T + b` `(M, I + 1)`; the
//! position's target column is read out as its positive score, then it and the padding column
//! are masked ([`MASKED_SCORE`]), as the dfdx path does. With `G = dl/dS` (the positive's
//! derivative added back into its column): `dH = G E`, `dE = G^T H`, `db = colsum(G)`.
//!
//! The scores, tens of megabytes per batch, are written once by the first product, read and
//! overwritten once by the loss and read once by each other product, with no pass of their
//! own for the bias: the first product runs on `[H | 1]` `(M, D + 1)` and `[E | b]`
//! `(I + 1, D + 1)`, so it adds the bias, and `db` is summed while the loss has each row at
//! hand. (`[dE | db] = G^T [H | 1]` in one product costs more than it saves: `D + 1` columns
//! leave a mostly empty edge tile in `gemm`.)
//!
//! [`NegativeSampling::FullCatalog`]: crate::sequence::NegativeSampling::FullCatalog

use rayon::prelude::*;

use netrex_losses::{
    checked_example, score_gradient, BatchScores, ExampleGradient, Loss, LossContext, ScoreGrads,
};
use netrex_representations::host::{matmul, Out, View};
use netrex_representations::{SparseGrad, Table};

use super::config::MASKED_SCORE;

/// The fewest real positions per parallel task: each product repacks the whole item table, so
/// a task must be long enough to amortise that.
const MIN_POSITIONS_PER_TASK: usize = 32;

thread_local! {
    /// The score (then gradient) buffer of the last batch on this thread.
    static SCORES: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Items per task of the `dE` product.
const ITEMS_PER_TASK: usize = 1024;

/// The mean loss over the real positions (`targets[r] != 0`; `states` and `d_states` are
/// `(targets.len(), D)`) against every item, with `dl/dstates` written into `d_states` and
/// the item rows' gradients added to `grads[0]` (embeddings) and `grads[1]` (biases).
pub(crate) fn full_catalog<L: Loss>(
    loss: &L,
    embedding: &Table,
    bias: &Table,
    states: &[f32],
    targets: &[u32],
    d_states: &mut [f32],
    grads: &mut [SparseGrad],
) -> f32 {
    let d = embedding.cols();
    // every table row is a column of the scores, padding included (masked)
    let items = embedding.rows();
    let real: Vec<usize> = (0..targets.len()).filter(|&r| targets[r] != 0).collect();
    let m = real.len();
    if m == 0 || items < 2 {
        return 0.0;
    }
    let k = d + 1;
    let mut items_biased = vec![0.0f32; items * k];
    for ((row, item), &b) in items_biased
        .chunks_exact_mut(k)
        .zip(embedding.data().chunks_exact(d))
        .zip(bias.data())
    {
        row[..d].copy_from_slice(item);
        row[d] = b;
    }
    let mut h = vec![0.0f32; m * k];
    for (row, &r) in h.chunks_exact_mut(k).zip(&real) {
        row[..d].copy_from_slice(&states[r * d..(r + 1) * d]);
        row[d] = 1.0;
    }
    let context = LossContext {
        num_items: items - 1,
    };
    // one task per thread; a custom loss is handed the whole batch at once: only a
    // per-example loss is known to be a mean that tasks can be weighted back into
    let per_task = match loss.example_gradient() {
        Some(_) => m
            .div_ceil(rayon::current_num_threads())
            .max(MIN_POSITIONS_PER_TASK),
        None => m,
    };
    // scores, then overwritten by their gradients; kept between batches, as fresh pages for
    // tens of megabytes per batch cost more than the loss
    let mut g = SCORES.with(|cell| std::mem::take(&mut *cell.borrow_mut()));
    g.resize(m * items, 0.0);
    let mut dh = vec![0.0f32; m * d];
    let tasks: Vec<(f32, Vec<f32>)> = g
        .par_chunks_mut(per_task * items)
        .zip(dh.par_chunks_mut(per_task * d))
        .zip(h.par_chunks(per_task * k))
        .zip(real.par_chunks(per_task))
        .map(|(((g, dh), h), rows)| {
            let c = rows.len();
            matmul(
                (c, items, k),
                Out::write(g, items),
                View::rows(h, k),
                View::transposed(&items_biased, k),
            );
            let mut positive = vec![0.0f32; c];
            for (i, &r) in rows.iter().enumerate() {
                let scores = &mut g[i * items..(i + 1) * items];
                let target = targets[r] as usize;
                positive[i] = scores[target];
                scores[target] = MASKED_SCORE;
                scores[0] = MASKED_SCORE;
            }
            // the task's mean, weighted back into the batch's
            let share = c as f32 / m as f32;
            let mut db = vec![0.0f32; items];
            let value = match loss.example_gradient() {
                Some(example) => {
                    let cols: Vec<usize> = rows.iter().map(|&r| targets[r] as usize).collect();
                    example_gradients(LossPass {
                        example,
                        positive: &positive,
                        g,
                        cols: &cols,
                        context: &context,
                        share,
                        db: &mut db,
                    })
                }
                None => {
                    let mut dscores = ScoreGrads::default();
                    let value = score_gradient(
                        loss,
                        &BatchScores {
                            positive: &positive,
                            negative: g,
                            mask: None,
                            weights: None,
                        },
                        &context,
                        &mut dscores,
                    );
                    for (out, v) in g.iter_mut().zip(&dscores.negative) {
                        *out = v * share;
                    }
                    for (i, &r) in rows.iter().enumerate() {
                        g[i * items + targets[r] as usize] += dscores.positive[i] * share;
                    }
                    for row in g.chunks_exact(items) {
                        db.iter_mut().zip(row).for_each(|(s, v)| *s += v);
                    }
                    value * share
                }
            };
            // dH = G E: the first D columns of [E | b]
            matmul(
                (c, d, items),
                Out::write(dh, d),
                View::rows(g, items),
                View::rows(&items_biased, k),
            );
            (value, db)
        })
        .collect();
    let value: f32 = tasks.iter().map(|(value, _)| value).sum();
    if !value.is_finite() {
        return value;
    }
    for (&r, row) in real.iter().zip(dh.chunks_exact(d)) {
        d_states[r * d..(r + 1) * d].copy_from_slice(row);
    }
    // dE = G^T H (the first D columns of [H | 1]), over blocks of items
    let mut de = vec![0.0f32; items * d];
    de.par_chunks_mut(ITEMS_PER_TASK * d)
        .enumerate()
        .for_each(|(block, de)| {
            matmul(
                (de.len() / d, d, m),
                Out::write(de, d),
                View::transposed(&g[block * ITEMS_PER_TASK..], items),
                View::rows(&h, k),
            );
        });
    // the padding row never moves
    for (id, row) in de.chunks_exact(d).enumerate().skip(1) {
        let id = id as u32;
        grads[0].add_row(id, row);
        // task after task, so the sum does not depend on which thread ran which task
        let db: f32 = tasks.iter().map(|(_, db)| db[id as usize]).sum();
        grads[1].row_mut(id)[0] += db;
    }
    SCORES.with(|cell| *cell.borrow_mut() = g);
    value
}

/// One task's loss pass: a per-example loss over `positive` `(C,)` and the score rows of `g`
/// `(C, I + 1)`. See [`example_gradients`].
struct LossPass<'a> {
    example: &'a dyn ExampleGradient,
    positive: &'a [f32],
    g: &'a mut [f32],
    /// Each row's target column.
    cols: &'a [usize],
    context: &'a LossContext,
    share: f32,
    /// `(I + 1,)`: each gradient row is added here.
    db: &'a mut [f32],
}

/// Runs `pass`: each row's gradient is written over its scores and the positive's derivative
/// added at its target column, all scaled by `share / C`, and each gradient row added into
/// `db`. Returns the rows' mean loss times `share` (a non-finite loss as it is, the gradients
/// then unfinished). In place, with one row of scratch: the whole catalog's scores are too
/// large to copy per batch.
fn example_gradients(pass: LossPass<'_>) -> f32 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F (checked just above)
            return unsafe { example_gradients_avx512(pass) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2 (checked just above)
            return unsafe { example_gradients_avx2(pass) };
        }
    }
    example_gradients_inline(pass)
}

/// [`example_gradients`] compiled for AVX-512 (the row copies and scaling in sixteen lanes; no
/// fused multiply-add, so the same results as the SSE2 build).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn example_gradients_avx512(pass: LossPass<'_>) -> f32 {
    example_gradients_inline(pass)
}

/// [`example_gradients`] compiled for AVX2, likewise.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn example_gradients_avx2(pass: LossPass<'_>) -> f32 {
    example_gradients_inline(pass)
}

#[inline(always)]
fn example_gradients_inline(pass: LossPass<'_>) -> f32 {
    let LossPass {
        example,
        positive,
        g,
        cols,
        context,
        share,
        db,
    } = pass;
    let items = g.len() / positive.len().max(1);
    let scale = share / positive.len().max(1) as f32;
    let mut scores = vec![0.0f32; items];
    let mut total = 0.0f64;
    for ((row, &p), &col) in g.chunks_exact_mut(items).zip(positive).zip(cols) {
        scores.copy_from_slice(row);
        let (value, dpos) = checked_example(example, p, &scores, row, context);
        if !value.is_finite() {
            return value;
        }
        total += f64::from(value);
        row[col] += dpos;
        row.iter_mut().zip(db.iter_mut()).for_each(|(x, s)| {
            *x *= scale;
            *s += *x;
        });
    }
    (total * f64::from(scale)) as f32
}
