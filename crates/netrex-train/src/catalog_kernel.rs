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
//! [`NegativeSampling::FullCatalog`]: crate::sequence::NegativeSampling::FullCatalog

use rayon::prelude::*;

use netrex_losses::{
    checked_example, score_gradient, BatchScores, ExampleGradient, Loss, LossContext, ScoreGrads,
};
use netrex_representations::host::{matmul, View};
use netrex_representations::{SparseGrad, Table};

use crate::sequence::MASKED_SCORE;

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
    let (item_rows, item_bias) = (embedding.data(), bias.data());
    let mut h = vec![0.0f32; m * d];
    for (row, &r) in h.chunks_exact_mut(d).zip(&real) {
        row.copy_from_slice(&states[r * d..(r + 1) * d]);
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
    let values: Vec<f32> = g
        .par_chunks_mut(per_task * items)
        .zip(dh.par_chunks_mut(per_task * d))
        .zip(h.par_chunks(per_task * d))
        .zip(real.par_chunks(per_task))
        .map(|(((g, dh), h), rows)| {
            let c = rows.len();
            matmul(
                c,
                items,
                d,
                g,
                items,
                false,
                View::rows(h, d),
                View::transposed(item_rows, d),
            );
            let mut positive = vec![0.0f32; c];
            for (i, &r) in rows.iter().enumerate() {
                let scores = &mut g[i * items..(i + 1) * items];
                scores.iter_mut().zip(item_bias).for_each(|(s, b)| *s += b);
                let target = targets[r] as usize;
                positive[i] = scores[target];
                scores[target] = MASKED_SCORE;
                scores[0] = MASKED_SCORE;
            }
            // the task's mean, weighted back into the batch's
            let share = c as f32 / m as f32;
            let value = match loss.example_gradient() {
                Some(example) => {
                    let cols: Vec<usize> = rows.iter().map(|&r| targets[r] as usize).collect();
                    example_gradients(example, &positive, g, &cols, &context, share)
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
                    value * share
                }
            };
            matmul(
                c,
                d,
                items,
                dh,
                d,
                false,
                View::rows(g, items),
                View::rows(item_rows, d),
            );
            value
        })
        .collect();
    let value: f32 = values.iter().sum();
    if !value.is_finite() {
        return value;
    }
    for (&r, row) in real.iter().zip(dh.chunks_exact(d)) {
        d_states[r * d..(r + 1) * d].copy_from_slice(row);
    }
    // dE = G^T H and db = colsum(G), over blocks of items
    let mut de = vec![0.0f32; items * d];
    let mut db = vec![0.0f32; items];
    de.par_chunks_mut(ITEMS_PER_TASK * d)
        .zip(db.par_chunks_mut(ITEMS_PER_TASK))
        .enumerate()
        .for_each(|(block, (de, db))| {
            let first = block * ITEMS_PER_TASK;
            let width = db.len();
            matmul(
                width,
                d,
                m,
                de,
                d,
                false,
                View::transposed(&g[first..], items),
                View::rows(&h, d),
            );
            for row in g.chunks_exact(items) {
                db.iter_mut()
                    .zip(&row[first..first + width])
                    .for_each(|(s, v)| *s += v);
            }
        });
    // the padding row never moves
    for (id, (row, b)) in de.chunks_exact(d).zip(&db).enumerate().skip(1) {
        let id = id as u32;
        grads[0].add_row(id, row);
        grads[1].row_mut(id)[0] += b;
    }
    SCORES.with(|cell| *cell.borrow_mut() = g);
    value
}

/// A per-example loss over `positive` `(C,)` and the score rows of `g` `(C, I + 1)`: each row's
/// gradient is written over its scores and the positive's derivative added at its target column
/// `cols[i]`, all scaled by `share / C`. Returns the rows' mean loss times `share` (a
/// non-finite loss as it is, the gradients then unfinished). In place, with one row of
/// scratch: the whole catalog's scores are too large to copy per batch.
fn example_gradients(
    example: &dyn ExampleGradient,
    positive: &[f32],
    g: &mut [f32],
    cols: &[usize],
    context: &LossContext,
    share: f32,
) -> f32 {
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
        row.iter_mut().for_each(|x| *x *= scale);
        row[col] += dpos * scale;
    }
    (total * f64::from(scale)) as f32
}
