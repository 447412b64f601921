//! The GRU's forward and backward passes by hand.

use super::activation::{sigmoid_in_place, tanh_in_place};
use super::recurrent::{
    backward_by_chunks, forward_by_chunks, project_inputs, to_previous_state, Acc, Chunk, Gated,
    WeightGradients,
};
use super::{matmul, BackwardPass, EncoderTrace, HostEncoder, Out, View};

/// One position's gates and hidden state: `gate` `(3D)` input pre-activations in, activated
/// gates `r, z, n` out; `c` `(3D)` the hidden state's projection, `previous` `(D)` the last
/// hidden state (zeros at the first position); `c_n` and the output `(D)` out.
fn hidden_step(
    gate: &mut [f32],
    c: &[f32],
    previous: &[f32],
    hidden_new: &mut [f32],
    out: &mut [f32],
) {
    let d = out.len();
    let (rz, n) = gate.split_at_mut(2 * d);
    let (c_rz, c_n) = c.split_at(2 * d);
    rz.iter_mut().zip(c_rz).for_each(|(a, c)| *a += c);
    sigmoid_in_place(rz);
    let (reset, update) = rz.split_at(d);
    n.iter_mut()
        .zip(reset.iter().zip(c_n))
        .for_each(|(a, (r, c))| *a += r * c);
    tanh_in_place(n);
    hidden_new.copy_from_slice(c_n);
    let state = update.iter().zip(n.iter()).zip(&previous[..d]);
    for (h, ((z, n), previous)) in out.iter_mut().zip(state) {
        *h = (1.0 - z) * n + z * previous;
    }
}

/// The GRU of [`crate::Gru`] by hand: `a = x W_i + b_i`, `c = h_prev W_h + b_h`, gates
/// `r, z` (sigmoid of `a + c`), `n = tanh(a_n + r c_n)`, `h = (1 - z) n + z h_prev`; the
/// state before the first position is zero.
pub struct GruKernel<'a> {
    /// `w_input (D, 3D)`.
    pub input: &'a [f32],
    /// `w_hidden (D, 3D)`.
    pub hidden: &'a [f32],
    /// `b_input (3D)`.
    pub input_bias: &'a [f32],
    /// `b_hidden (3D)`.
    pub hidden_bias: &'a [f32],
    /// `D`.
    pub dim: usize,
}

impl GruKernel<'_> {
    /// Forward over one chunk of `b` sequences of `t` steps.
    /// `parts` are the chunk's gates, new hidden states and outputs.
    fn forward_chunk(&self, x: &[f32], b: usize, t: usize, parts: &mut [&mut [f32]]) {
        let [gates, hidden_new, out] = parts else {
            unreachable!("three buffers")
        };
        let d = self.dim;
        let g3 = 3 * d;
        let shape = Gated { b, t, d, g: g3 };
        project_inputs(shape, x, self.input, self.input_bias, gates);
        let mut c = vec![0.0f32; b * g3];
        let zeros = vec![0.0f32; d];
        for step in 0..t {
            for row in c.chunks_exact_mut(g3) {
                row.copy_from_slice(self.hidden_bias);
            }
            if step > 0 {
                matmul(
                    (b, g3, d),
                    Out::add(&mut c, g3),
                    View::rows(&out[(step - 1) * d..], t * d),
                    View::rows(self.hidden, g3),
                );
            }
            for r in 0..b {
                let at = r * t + step;
                let (before, out) = out.split_at_mut(at * d);
                let previous = match step {
                    0 => &zeros[..],
                    _ => &before[(at - 1) * d..],
                };
                hidden_step(
                    &mut gates[at * g3..(at + 1) * g3],
                    &c[r * g3..(r + 1) * g3],
                    previous,
                    &mut hidden_new[at * d..(at + 1) * d],
                    &mut out[..d],
                );
            }
        }
    }

    /// Backward over one chunk: `d_out` `(b, T, D)` into `dx` (added) and this chunk's
    /// weight gradients `[d w_input, d w_hidden, d b_input, d b_hidden]` (overwritten).
    fn backward_chunk(&self, c: Chunk<'_>) {
        let (x, out, d_out, b, t) = (c.x, c.out, c.d_out, c.b, c.t);
        let (dx, dw) = (c.dx, c.dw);
        let d = self.dim;
        let g3 = 3 * d;
        let &[gates, hidden_new] = &c.saved[..] else {
            unreachable!("a GRU saves its gates and new hidden states")
        };
        let shape = Gated { b, t, d, g: g3 };
        let mut da = vec![0.0f32; b * t * g3];
        let mut dc = vec![0.0f32; b * t * g3];
        let mut dh_next = vec![0.0f32; b * d];
        for step in (0..t).rev() {
            for r in 0..b {
                let at = r * t + step;
                let gate = &gates[at * g3..(at + 1) * g3];
                for k in 0..d {
                    let (reset, update, new) = (gate[k], gate[d + k], gate[2 * d + k]);
                    let previous = if step > 0 { out[(at - 1) * d + k] } else { 0.0 };
                    let dh = d_out[at * d + k] + dh_next[r * d + k];
                    let dn = dh * (1.0 - update) * (1.0 - new * new);
                    let dz = dh * (previous - new) * update * (1.0 - update);
                    let dr = dn * hidden_new[at * d + k] * reset * (1.0 - reset);
                    da[at * g3 + k] = dr;
                    da[at * g3 + d + k] = dz;
                    da[at * g3 + 2 * d + k] = dn;
                    dc[at * g3 + k] = dr;
                    dc[at * g3 + d + k] = dz;
                    dc[at * g3 + 2 * d + k] = dn * reset;
                    dh_next[r * d + k] = dh * update;
                }
            }
            if step > 0 {
                // every sequence's previous state at once
                to_previous_state(shape, step, &dc, self.hidden, Acc::Add(&mut dh_next));
            }
        }
        let grads = WeightGradients::new(x, out, self.input, &da, &dc);
        grads.write(shape, dx, dw, &[&da, &dc]);
    }
}

impl HostEncoder for GruKernel<'_> {
    fn forward(&self, inputs: &[f32], _ids: &[u32], batch: usize) -> EncoderTrace {
        let d = self.dim;
        // activated gates [r, z, n] (B, T, 3D), c_n (B, T, D), outputs (B, T, D)
        forward_by_chunks(inputs, batch, d, &[3 * d, d, d], |x, b, t, parts| {
            self.forward_chunk(x, b, t, parts)
        })
    }

    fn backward(&self, pass: BackwardPass<'_>, d_inputs: &mut [f32], d_whole: &mut [Vec<f32>]) {
        let (d, g3) = (self.dim, 3 * self.dim);
        let sizes = [d * g3, d * g3, g3, g3];
        backward_by_chunks(&pass, d, (&[g3, d], &sizes), d_inputs, d_whole, |c| {
            self.backward_chunk(c)
        });
    }
}
