//! The CPU training kernel of sequence models whose representation has a [`HostEncoder`]:
//! gather, encode, score, loss gradient, and back again, with dfdx's tape (if at all) only
//! over the scores of a custom loss.
//!
//! At position `r` with state `h_r`, target `t` and negatives `n_j`, `pos_r = <h_r, e_t> + b_t`
//! and `neg_rj = <h_r, e_nj> + b_nj`; with `dl/dpos` and `dl/dneg` from
//! [`score_gradient`]: `dh_r = dl/dpos e_t + sum_j dl/dneg_j e_nj`, `de_t += dl/dpos h_r`,
//! `de_nj += dl/dneg_j h_r`, and the same factors on the biases. `dh` then goes back through
//! the encoder to the input embeddings and the dense weights. Rows whose derivative is zero
//! (padding targets, negatives a hinge ignores) are not touched.

use netrex_losses::{score_gradient, BatchScores, Loss, LossContext, ScoreGrads};
use netrex_representations::host::{matmul, Out, View};
use netrex_representations::{BackwardPass, HostEncoder, SparseGrad, Table};

use super::config::NegativeSampling;
use crate::sequence::catalog::full_catalog;
use netrex_representations::kernel::{add_scaled, dot};

/// One batch of `B` padded rows: `inputs` and `targets` `(B, T)` (shifted ids, 0 = padding),
/// `negatives` `(B, T, N)` (or `(B, N)`, shared by each row's positions).
pub(crate) struct SequenceBatch<'a> {
    pub(crate) rows: usize,
    pub(crate) inputs: &'a [u32],
    pub(crate) targets: &'a [u32],
    pub(crate) negatives: &'a [u32],
    /// The seed of the encoder's dropout masks (`None`: no dropout).
    pub(crate) dropout_seed: Option<u64>,
    /// `PerRow`: `negatives` is `(B, N)`, one set per row shared by its positions, scored
    /// and updated with dense products per row. `FullCatalog`: `negatives` is empty.
    pub(crate) sampling: NegativeSampling,
}

/// The positions of row `b` (of `t`) whose target is real: a suffix, as rows are left-padded.
fn real_suffix(mask: &[f32], b: usize, t: usize) -> std::ops::Range<usize> {
    let row = &mask[b * t..(b + 1) * t];
    let first = row.iter().position(|&m| m != 0.0).unwrap_or(t);
    b * t + first..(b + 1) * t
}

/// The batch's masked mean loss, with its row gradients added to `grads` (one per table).
pub(crate) fn sequence_batch<L: Loss>(
    encoder: &dyn HostEncoder,
    tables: &[Table],
    loss: &L,
    batch: &SequenceBatch<'_>,
    grads: &mut [SparseGrad],
) -> f32 {
    let (embedding, bias) = (&tables[0], &tables[1]);
    let d = embedding.cols();
    let positions = batch.targets.len();
    let mut x = vec![0.0f32; positions * d];
    for (row, &id) in x.chunks_exact_mut(d).zip(batch.inputs) {
        row.copy_from_slice(embedding.row(id as usize));
    }
    let trace = match batch.dropout_seed {
        Some(seed) => encoder.forward_training(&x, batch.inputs, batch.rows, seed),
        None => encoder.forward(&x, batch.inputs, batch.rows),
    };
    let states = &trace.outputs;
    let mut d_states = vec![0.0f32; positions * d];
    let value = if batch.sampling == NegativeSampling::FullCatalog {
        full_catalog(
            loss,
            embedding,
            bias,
            states,
            batch.targets,
            &mut d_states,
            grads,
        )
    } else {
        sampled(loss, embedding, bias, states, batch, &mut d_states, grads)
    };
    if !value.is_finite() {
        return value;
    }
    let mut d_inputs = vec![0.0f32; positions * d];
    let mut d_whole: Vec<Vec<f32>> = tables[2..]
        .iter()
        .map(|t| vec![0.0; t.data().len()])
        .collect();
    let pass = BackwardPass {
        inputs: &x,
        ids: batch.inputs,
        trace: &trace,
        d_outputs: &d_states,
    };
    encoder.backward(pass, &mut d_inputs, &mut d_whole);
    for (row, &id) in d_inputs.chunks_exact(d).zip(batch.inputs) {
        if id != 0 {
            grads[0].add_row(id, row);
        }
    }
    for (k, whole) in d_whole.iter().enumerate() {
        let cols = tables[k + 2].cols();
        for (r, row) in whole.chunks_exact(cols).enumerate() {
            grads[k + 2].add_row(r as u32, row);
        }
    }
    value
}

/// The loss over the batch's sampled negatives (per position or per row), with `dl/dstates`
/// written into `d_states` and the rows' gradients added to `grads[0]` and `grads[1]`.
fn sampled<L: Loss>(
    loss: &L,
    embedding: &Table,
    bias: &Table,
    states: &[f32],
    batch: &SequenceBatch<'_>,
    d_states: &mut [f32],
    grads: &mut [SparseGrad],
) -> f32 {
    let d = embedding.cols();
    let positions = batch.targets.len();
    let per_row = batch.sampling == NegativeSampling::PerRow;
    let n = if per_row {
        batch.negatives.len() / batch.rows.max(1)
    } else {
        batch.negatives.len() / positions.max(1)
    };
    let score = |r: usize, item: u32| {
        dot(&states[r * d..(r + 1) * d], embedding.row(item as usize)) + bias.row(item as usize)[0]
    };
    let mut positive = vec![0.0f32; positions];
    let mut negative = vec![0.0f32; positions * n];
    let mut mask = vec![0.0f32; positions];
    let t = positions / batch.rows.max(1);
    // shared negatives: row b's `n` embeddings `(n, D)` and biases, gathered once
    let shared: Vec<(Vec<f32>, Vec<f32>)> = if per_row {
        (0..batch.rows)
            .map(|b| {
                let ids = &batch.negatives[b * n..(b + 1) * n];
                let e = ids.iter().flat_map(|&i| embedding.row(i as usize)).copied();
                let bias = ids.iter().map(|&i| bias.row(i as usize)[0]).collect();
                (e.collect(), bias)
            })
            .collect()
    } else {
        Vec::new()
    };
    for r in 0..positions {
        if batch.targets[r] == 0 {
            continue;
        }
        mask[r] = 1.0;
        positive[r] = score(r, batch.targets[r]);
        if !per_row {
            for j in 0..n {
                negative[r * n + j] = score(r, batch.negatives[r * n + j]);
            }
        }
    }
    if per_row {
        for (b, (e, bias)) in shared.iter().enumerate() {
            // scores (real x n) = states (real x D) e^T over the row's real positions (its
            // targets are left-padded: the real ones are a suffix)
            let rows = real_suffix(&mask, b, t);
            let m = rows.len();
            matmul(
                (m, n, d),
                Out::write(&mut negative[rows.start * n..rows.end * n], n),
                View::rows(&states[rows.start * d..rows.end * d], d),
                View::transposed(e, d),
            );
            for r in rows {
                negative[r * n..(r + 1) * n]
                    .iter_mut()
                    .zip(bias)
                    .for_each(|(s, b)| *s = if mask[r] == 0.0 { 0.0 } else { *s + b });
            }
        }
    }
    let context = LossContext {
        num_items: embedding.rows() - 1,
    };
    let mut dscores = ScoreGrads::default();
    let value = score_gradient(
        loss,
        &BatchScores {
            positive: &positive,
            negative: &negative,
            mask: Some(&mask),
            weights: None,
        },
        &context,
        &mut dscores,
    );
    if !value.is_finite() {
        return value;
    }
    for r in 0..positions {
        if mask[r] == 0.0 {
            continue;
        }
        let state = &states[r * d..(r + 1) * d];
        let d_state = &mut d_states[r * d..(r + 1) * d];
        let (target, g) = (batch.targets[r], dscores.positive[r]);
        if g != 0.0 {
            add_scaled(d_state, g, embedding.row(target as usize));
            add_scaled(grads[0].row_mut(target), g, state);
            grads[1].row_mut(target)[0] += g;
        }
        if per_row {
            continue;
        }
        for j in 0..n {
            let (item, g) = (batch.negatives[r * n + j], dscores.negative[r * n + j]);
            if g == 0.0 {
                continue;
            }
            add_scaled(d_state, g, embedding.row(item as usize));
            add_scaled(grads[0].row_mut(item), g, state);
            grads[1].row_mut(item)[0] += g;
        }
    }
    if per_row {
        let mut d_e = vec![0.0f32; n * d];
        for (b, (e, _)) in shared.iter().enumerate() {
            let rows = real_suffix(&mask, b, t);
            let m = rows.len();
            let ds = &dscores.negative[rows.start * n..rows.end * n];
            matmul(
                (m, d, n),
                Out::add(&mut d_states[rows.start * d..rows.end * d], d),
                View::rows(ds, n),
                View::rows(e, d),
            );
            matmul(
                (n, d, m),
                Out::write(&mut d_e, d),
                View::transposed(ds, n),
                View::rows(&states[rows.start * d..rows.end * d], d),
            );
            let ids = &batch.negatives[b * n..(b + 1) * n];
            for (j, &item) in ids.iter().enumerate() {
                let g: f32 = (rows.start..rows.end)
                    .map(|r| ds[(r - rows.start) * n + j])
                    .sum();
                grads[0].add_row(item, &d_e[j * d..(j + 1) * d]);
                grads[1].row_mut(item)[0] += g;
            }
        }
    }
    value
}
