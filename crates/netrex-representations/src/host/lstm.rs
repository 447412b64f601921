//! The LSTM's forward and backward passes by hand.

use super::activation::{sigmoid_in_place, tanh_in_place};
use super::recurrent::{
    backward_by_chunks, forward_by_chunks, project_inputs, to_previous_state, Acc, Chunk, Gated,
    WeightGradients,
};
use super::{matmul, BackwardPass, EncoderTrace, HostEncoder, Out, View};

/// One position's gates and cell: `z` `(4D)` pre-activations in, activated gates out; the
/// previous cell (zeros at the first position), and the cell, its tanh and the output `(D)`
/// out.
fn cell_step(
    z: &mut [f32],
    previous: &[f32],
    cells: &mut [f32],
    cell_tanh: &mut [f32],
    out: &mut [f32],
) {
    let d = out.len();
    let (ifg, o) = z.split_at_mut(3 * d);
    sigmoid_in_place(&mut ifg[..2 * d]);
    tanh_in_place(&mut ifg[2 * d..]);
    sigmoid_in_place(o);
    let (i, rest) = ifg.split_at(d);
    let (f, g) = rest.split_at(d);
    new_cell(i, f, g, previous, cells);
    cell_tanh.copy_from_slice(cells);
    tanh_in_place(cell_tanh);
    out.iter_mut()
        .zip(o.iter().zip(cell_tanh.iter()))
        .for_each(|(h, (o, tc))| *h = o * tc);
}

/// `c = f previous + i g`. Not inlined, so that its slices keep the compiler's no-alias
/// knowledge and the loop vectorises without run-time overlap checks.
#[inline(never)]
fn new_cell(i: &[f32], f: &[f32], g: &[f32], previous: &[f32], cells: &mut [f32]) {
    let gates = i.iter().zip(f).zip(g).zip(previous);
    for (c, (((i, f), g), previous)) in cells.iter_mut().zip(gates) {
        *c = f * previous + i * g;
    }
}

/// The LSTM of [`crate::Lstm`] by hand: `z = x W_i + h_prev W_h + b`, gates `i, f, g, o`
/// (sigmoid, sigmoid, tanh, sigmoid), `c = f c_prev + i g`, `h = o tanh(c)`; no previous
/// state at the first position.
pub struct LstmKernel<'a> {
    /// `w_input (D, 4D)`.
    pub input: &'a [f32],
    /// `w_hidden (D, 4D)`.
    pub hidden: &'a [f32],
    /// `w_bias (4D)`.
    pub bias: &'a [f32],
    /// `D`.
    pub dim: usize,
}

impl LstmKernel<'_> {
    /// Forward over one chunk of `b` sequences: `x` `(b, T, D)` into activated gates
    /// `(b, T, 4D)`, cells, `tanh(cells)` and outputs `(b, T, D)`.
    fn forward_chunk(&self, x: &[f32], b: usize, t: usize, parts: &mut [&mut [f32]]) {
        let [gates, cells, cell_tanh, out] = parts else {
            unreachable!("four buffers")
        };
        let d = self.dim;
        let g4 = 4 * d;
        project_inputs(Gated { b, t, d, g: g4 }, x, self.input, self.bias, gates);
        let zeros = vec![0.0f32; d];
        for step in 0..t {
            if step > 0 {
                // z[r, step] += h[r, step - 1] W_h for every sequence r at once
                matmul(
                    (b, g4, d),
                    Out::add(&mut gates[step * g4..], t * g4),
                    View::rows(&out[(step - 1) * d..], t * d),
                    View::rows(self.hidden, g4),
                );
            }
            for r in 0..b {
                let at = r * t + step;
                let z = &mut gates[at * g4..(at + 1) * g4];
                let (before, cells) = cells.split_at_mut(at * d);
                let previous = match step {
                    0 => &zeros[..],
                    _ => &before[(at - 1) * d..at * d],
                };
                cell_step(
                    z,
                    previous,
                    &mut cells[..d],
                    &mut cell_tanh[at * d..(at + 1) * d],
                    &mut out[at * d..(at + 1) * d],
                );
            }
        }
    }

    /// Backward over one chunk: `d_out` `(b, T, D)` into `dx` (added) and this chunk's
    /// weight gradients `[d w_input, d w_hidden, d w_bias]` (overwritten).
    fn backward_chunk(&self, c: Chunk<'_>) {
        let (x, out, d_out, b, t) = (c.x, c.out, c.d_out, c.b, c.t);
        let (dx, dw) = (c.dx, c.dw);
        let d = self.dim;
        let g4 = 4 * d;
        let &[gates, cells, cell_tanh] = &c.saved[..] else {
            unreachable!("an LSTM saves its gates, cells and their tanh")
        };
        let mut dz = vec![0.0f32; b * t * g4];
        // gradient reaching each sequence's state from the next position
        let mut dh_next = vec![0.0f32; b * d];
        let mut dc_next = vec![0.0f32; b * d];
        for step in (0..t).rev() {
            for r in 0..b {
                let at = r * t + step;
                let gate = &gates[at * g4..(at + 1) * g4];
                let dzr = &mut dz[at * g4..(at + 1) * g4];
                for k in 0..d {
                    let (i, f, g, o) = (gate[k], gate[d + k], gate[2 * d + k], gate[3 * d + k]);
                    let tc = cell_tanh[at * d + k];
                    let dh = d_out[at * d + k] + dh_next[r * d + k];
                    let dc = dh * o * (1.0 - tc * tc) + dc_next[r * d + k];
                    let previous = if step > 0 {
                        cells[(at - 1) * d + k]
                    } else {
                        0.0
                    };
                    dzr[k] = dc * g * i * (1.0 - i);
                    dzr[d + k] = dc * previous * f * (1.0 - f);
                    dzr[2 * d + k] = dc * i * (1.0 - g * g);
                    dzr[3 * d + k] = dh * tc * o * (1.0 - o);
                    dc_next[r * d + k] = dc * f;
                }
            }
            if step > 0 {
                let shape = Gated { b, t, d, g: g4 };
                to_previous_state(shape, step, &dz, self.hidden, Acc::Write(&mut dh_next));
            }
        }
        let grads = WeightGradients::new(x, out, self.input, &dz, &dz);
        grads.write(Gated { b, t, d, g: g4 }, dx, dw, &[&dz]);
    }
}

impl HostEncoder for LstmKernel<'_> {
    fn forward(&self, inputs: &[f32], _ids: &[u32], batch: usize) -> EncoderTrace {
        let d = self.dim;
        // gates, cells, their tanh, outputs
        forward_by_chunks(inputs, batch, d, &[4 * d, d, d, d], |x, b, t, parts| {
            self.forward_chunk(x, b, t, parts)
        })
    }

    fn backward(&self, pass: BackwardPass<'_>, d_inputs: &mut [f32], d_whole: &mut [Vec<f32>]) {
        let (d, g4) = (self.dim, 4 * self.dim);
        let sizes = [d * g4, d * g4, g4];
        backward_by_chunks(&pass, d, (&[g4, d, d], &sizes), d_inputs, d_whole, |c| {
            self.backward_chunk(c)
        });
    }
}
