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

use netrex_losses::{score_gradient, BatchScores, Loss, LossContext, ScoreGrads};
use netrex_representations::host::{matmul, View};
use netrex_representations::{SparseGrad, Table};

use crate::sequence::MASKED_SCORE;

/// Real positions per parallel task: large enough for efficient products, small enough that
/// two threads share a batch evenly.
const POSITIONS_PER_TASK: usize = 32;

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
    // a custom loss is handed the whole batch at once: only a per-example loss is known to
    // be a mean that chunks can be weighted back into
    let per_task = if loss.example_gradient().is_some() {
        POSITIONS_PER_TASK
    } else {
        m
    };
    // scores, then overwritten by their gradients
    let mut g = vec![0.0f32; m * items];
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
            // the task's mean, weighted back into the batch's
            let share = c as f32 / m as f32;
            for (out, v) in g.iter_mut().zip(&dscores.negative) {
                *out = v * share;
            }
            for (i, &r) in rows.iter().enumerate() {
                g[i * items + targets[r] as usize] += dscores.positive[i] * share;
            }
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
            value * share
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
    value
}
