//! What the LSTM and the GRU share: the inputs' projection before the recurrence, the weight
//! gradients after it, and the chunked, thread-count-independent backward pass around both.

use rayon::prelude::*;

use super::{add_in_chunk_order, matmul, BackwardPass, EncoderTrace, Out, View, CHUNK};

/// One chunk of a gated recurrent layer: `b` sequences of `t` positions, `d` wide, with `g`
/// gate columns (`3D` for a GRU, `4D` for an LSTM).
#[derive(Clone, Copy)]
pub(super) struct Gated {
    pub b: usize,
    pub t: usize,
    pub d: usize,
    pub g: usize,
}

/// `gates = x W_i + b_i` for every position at once: `x` `(b, T, D)`, `W_i` `(D, g)`,
/// `gates` `(b, T, g)`.
pub(super) fn project_inputs(
    s: Gated,
    x: &[f32],
    w_input: &[f32],
    bias: &[f32],
    gates: &mut [f32],
) {
    matmul(
        (s.b * s.t, s.g, s.d),
        Out::write(gates, s.g),
        View::rows(x, s.d),
        View::rows(w_input, s.g),
    );
    for row in gates.chunks_exact_mut(s.g) {
        row.iter_mut().zip(bias).for_each(|(a, w)| *a += w);
    }
}

/// The gradients of one chunk's inputs and weights, once the gradient of every position's
/// input pre-activations `d_input` and recurrent pre-activations `d_hidden` (both `(b, T, g)`;
/// the same slice for an LSTM) are known.
pub(super) struct WeightGradients<'a> {
    /// The chunk's inputs `(b, T, D)`.
    pub x: &'a [f32],
    /// The chunk's outputs `(b, T, D)`, the states the recurrence read.
    pub out: &'a [f32],
    /// `W_i` `(D, g)`.
    pub w_input: &'a [f32],
    /// `d a` `(b, T, g)`.
    pub d_input: &'a [f32],
    /// `d c` `(b, T, g)`.
    pub d_hidden: &'a [f32],
}

impl<'a> WeightGradients<'a> {
    /// The gradients of inputs `x` and weights `w_input`, of a layer that output `out`.
    pub(super) fn new(
        x: &'a [f32],
        out: &'a [f32],
        w_input: &'a [f32],
        d_input: &'a [f32],
        d_hidden: &'a [f32],
    ) -> Self {
        Self {
            x,
            out,
            w_input,
            d_input,
            d_hidden,
        }
    }

    /// Adds `dA W_iᵀ` into `dx`; writes `dw = [d W_i, d W_h, d b...]`: `d W_i = Xᵀ dA`,
    /// `d W_h = Σ_r H[r, 0..T-1]ᵀ dC[r, 1..T]`, and one bias's gradient (its column sums)
    /// for each of `biases`.
    pub(super) fn write(&self, s: Gated, dx: &mut [f32], dw: &mut [Vec<f32>], biases: &[&[f32]]) {
        let (dw_input, rest) = dw.split_at_mut(1);
        let (dw_input, (dw_hidden, dw_biases)) = (&mut dw_input[0], rest.split_at_mut(1));
        let dw_hidden = &mut dw_hidden[0];
        let Gated { b, t, d, g } = s;
        matmul(
            (b * t, d, g),
            Out::add(dx, d),
            View::rows(self.d_input, g),
            View::transposed(self.w_input, g),
        );
        matmul(
            (d, g, b * t),
            Out::write(dw_input, g),
            View::transposed(self.x, d),
            View::rows(self.d_input, g),
        );
        dw_hidden.fill(0.0);
        if t > 1 {
            for r in 0..b {
                matmul(
                    (d, g, t - 1),
                    Out::add(dw_hidden, g),
                    View::transposed(&self.out[r * t * d..], d),
                    View::rows(&self.d_hidden[(r * t + 1) * g..], g),
                );
            }
        }
        for (into, grads) in dw_biases.iter_mut().zip(biases) {
            column_sums(grads, into);
        }
    }
}

/// `dh_prev (b, D) (+)= dG[.., step] W_hᵀ`: the gradient that position `step`'s recurrent
/// pre-activations `d_hidden` `(b, T, g)` send to every sequence's previous state, added
/// into `dh_prev` or written over it.
pub(super) fn to_previous_state(s: Gated, step: usize, d_hidden: &[f32], w: &[f32], dh: Acc<'_>) {
    let Gated { b, t, d, g } = s;
    let (dh_prev, accumulate) = match dh {
        Acc::Add(into) => (into, true),
        Acc::Write(into) => (into, false),
    };
    matmul(
        (b, d, g),
        Out::new(dh_prev, d, accumulate),
        View::rows(&d_hidden[step * g..], t * g),
        View::transposed(w, g),
    );
}

/// Where a product goes: added into a buffer or written over it.
pub(super) enum Acc<'a> {
    Add(&'a mut [f32]),
    Write(&'a mut [f32]),
}

/// A bias's gradient: the column sums of `grads` `(rows, g)` written into `into` `(g)`.
fn column_sums(grads: &[f32], into: &mut [f32]) {
    into.fill(0.0);
    for row in grads.chunks_exact(into.len()) {
        into.iter_mut().zip(row).for_each(|(w, z)| *w += z);
    }
}

/// One chunk's share of a backward pass: `b` sequences of `t` positions with their inputs,
/// outputs and output gradients `(b, t, D)`, their rows of every saved buffer, the chunk's `dx`
/// to add into and its weight gradients to write.
pub(super) struct Chunk<'a> {
    pub x: &'a [f32],
    pub out: &'a [f32],
    pub d_out: &'a [f32],
    pub saved: Vec<&'a [f32]>,
    pub b: usize,
    pub t: usize,
    pub dx: &'a mut [f32],
    pub dw: &'a mut [Vec<f32>],
}

/// Forward over chunks of [`CHUNK`] sequences in parallel: `inputs` is `(B, T, D)`, and
/// `chunk(x, b, t, buffers)` fills one chunk's rows of every buffer, buffer `k` holding
/// `widths[k]` values per position. The last buffer is the output; the others are saved.
pub(super) fn forward_by_chunks<F>(
    inputs: &[f32],
    batch: usize,
    d: usize,
    widths: &[usize],
    chunk: F,
) -> EncoderTrace
where
    F: Fn(&[f32], usize, usize, &mut [&mut [f32]]) + Sync,
{
    let t = inputs.len() / (batch * d).max(1);
    let per = (CHUNK * t).max(1);
    let mut buffers: Vec<Vec<f32>> = widths.iter().map(|w| vec![0.0; batch * t * w]).collect();
    let mut chunks: Vec<Vec<&mut [f32]>> = Vec::new();
    for (buffer, w) in buffers.iter_mut().zip(widths) {
        for (k, part) in buffer.chunks_mut(per * w).enumerate() {
            if k == chunks.len() {
                chunks.push(Vec::new());
            }
            chunks[k].push(part);
        }
    }
    chunks
        .into_par_iter()
        .zip(inputs.par_chunks(per * d))
        .for_each(|(mut parts, x)| chunk(x, x.len() / (t * d).max(1), t, &mut parts));
    let outputs = buffers.pop().unwrap_or_default();
    EncoderTrace::new(batch, t, outputs, buffers)
}

/// Runs `chunk` over chunks of [`CHUNK`] sequences in parallel, each with weight gradients
/// of `sizes`, and adds them into `d_whole` in chunk order. Saved buffer `k` of the trace
/// holds `saved_widths[k]` values per position.
pub(super) fn backward_by_chunks<F>(
    pass: &BackwardPass<'_>,
    d: usize,
    (saved_widths, sizes): (&[usize], &[usize]),
    d_inputs: &mut [f32],
    d_whole: &mut [Vec<f32>],
    chunk: F,
) where
    F: Fn(Chunk<'_>) + Sync,
{
    let t = pass.trace.steps;
    let per = CHUNK * t;
    let partial: Vec<Vec<Vec<f32>>> = d_inputs
        .par_chunks_mut((per * d).max(1))
        .enumerate()
        .map(|(k, dx)| {
            let rows = k * per..k * per + dx.len() / d;
            let narrow = rows.start * d..rows.end * d;
            let saved = pass
                .trace
                .saved
                .iter()
                .zip(saved_widths)
                .map(|(buffer, w)| &buffer[rows.start * w..rows.end * w])
                .collect();
            let mut dw: Vec<Vec<f32>> = sizes.iter().map(|&n| vec![0.0; n]).collect();
            chunk(Chunk {
                x: &pass.inputs[narrow.clone()],
                out: &pass.trace.outputs[narrow.clone()],
                d_out: &pass.d_outputs[narrow],
                saved,
                b: dx.len() / (t * d).max(1),
                t,
                dx,
                dw: &mut dw,
            });
            dw
        })
        .collect();
    add_in_chunk_order(d_whole, &partial);
}
