//! Hand-written forward and backward passes of sequence representations on host memory.
//!
//! dfdx records every op of an LSTM time step on its tape (about 25 per step forward, as many
//! backward); on `(32, 32)` tensors that bookkeeping costs more than the arithmetic. A
//! [`HostEncoder`] runs the same function with a few large matrix products (the inputs'
//! projection and the weight gradients over all steps at once) and one small product per step
//! for the recurrence, through the `gemm` crate's runtime-dispatched SIMD kernels.
//!
//! Work is split into fixed chunks of sequences run on rayon's pool; their weight gradients
//! are summed in chunk order, so the result does not depend on the number of threads.
//! `netrex`'s tests check every encoder against its dfdx `encode`.

use rayon::prelude::*;

/// Sequences per parallel chunk.
const CHUNK: usize = 8;

/// What a forward pass keeps for its backward pass.
#[derive(Clone, Debug, Default)]
pub struct EncoderTrace {
    /// Sequences.
    pub batch: usize,
    /// Positions per sequence.
    pub steps: usize,
    /// The representation at every position, `(B, T, D)` row-major.
    pub outputs: Vec<f32>,
    /// Intermediate values the backward pass needs, laid out as the encoder chooses.
    pub saved: Vec<Vec<f32>>,
}

/// A sequence representation's function written out by hand (see the module docs).
pub trait HostEncoder: Sync {
    /// Runs over `inputs` `(B, T, D)` row-major (the input items' embeddings; `ids` their
    /// shifted ids, `(B, T)`); the trace's `outputs` are `encode`'s `(B, T, D)`.
    fn forward(&self, inputs: &[f32], ids: &[u32], batch: usize) -> EncoderTrace;

    /// Given `d_outputs` `(B, T, D)`, adds `d loss / d inputs` into `d_inputs` `(B, T, D)` and
    /// the gradient of each dense table (in table order) into `d_whole`.
    fn backward(
        &self,
        inputs: &[f32],
        ids: &[u32],
        trace: &EncoderTrace,
        d_outputs: &[f32],
        d_inputs: &mut [f32],
        d_whole: &mut [Vec<f32>],
    );
}

/// A row-major or transposed view of a matrix in a slice: element `(r, c)` at
/// `r * row_stride + c * col_stride`.
#[derive(Clone, Copy)]
struct View<'a> {
    data: &'a [f32],
    row_stride: usize,
    col_stride: usize,
}

impl<'a> View<'a> {
    /// `rows x cols` stored row after row with `stride` between rows.
    fn rows(data: &'a [f32], stride: usize) -> Self {
        View {
            data,
            row_stride: stride,
            col_stride: 1,
        }
    }

    /// The transpose of a row-major matrix whose rows are `stride` apart.
    fn transposed(data: &'a [f32], stride: usize) -> Self {
        View {
            data,
            row_stride: 1,
            col_stride: stride,
        }
    }

    fn covers(&self, rows: usize, cols: usize) -> bool {
        rows == 0
            || cols == 0
            || (rows - 1) * self.row_stride + (cols - 1) * self.col_stride < self.data.len()
    }
}

/// `out (m x n, rows out_stride apart) = [out +] a (m x k) b (k x n)`.
#[allow(clippy::too_many_arguments)]
fn matmul(
    m: usize,
    n: usize,
    k: usize,
    out: &mut [f32],
    out_stride: usize,
    accumulate: bool,
    a: View<'_>,
    b: View<'_>,
) {
    assert!(
        View::rows(out, out_stride).covers(m, n) && a.covers(m, k) && b.covers(k, n),
        "matmul operands out of bounds"
    );
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for r in 0..m {
                out[r * out_stride..r * out_stride + n].fill(0.0);
            }
        }
        return;
    }
    // SAFETY: the assertion above keeps every element gemm reads or writes inside its slice;
    // `out` is borrowed mutably, so it aliases neither input.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            out.as_mut_ptr(),
            1,
            out_stride as isize,
            accumulate,
            a.data.as_ptr(),
            a.col_stride as isize,
            a.row_stride as isize,
            b.data.as_ptr(),
            b.col_stride as isize,
            b.row_stride as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
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

// saved vectors of an LSTM trace
const GATES: usize = 0;
const CELLS: usize = 1;
const CELL_TANH: usize = 2;

impl LstmKernel<'_> {
    /// Forward over one chunk of `b` sequences: `x` `(b, T, D)` into activated gates
    /// `(b, T, 4D)`, cells, `tanh(cells)` and outputs `(b, T, D)`.
    #[allow(clippy::too_many_arguments)]
    fn forward_chunk(
        &self,
        x: &[f32],
        b: usize,
        t: usize,
        gates: &mut [f32],
        cells: &mut [f32],
        cell_tanh: &mut [f32],
        out: &mut [f32],
    ) {
        let d = self.dim;
        let g4 = 4 * d;
        matmul(
            b * t,
            g4,
            d,
            gates,
            g4,
            false,
            View::rows(x, d),
            View::rows(self.input, g4),
        );
        for row in gates.chunks_exact_mut(g4) {
            row.iter_mut().zip(self.bias).for_each(|(z, w)| *z += w);
        }
        for step in 0..t {
            if step > 0 {
                // z[r, step] += h[r, step - 1] W_h for every sequence r at once
                matmul(
                    b,
                    g4,
                    d,
                    &mut gates[step * g4..],
                    t * g4,
                    true,
                    View::rows(&out[(step - 1) * d..], t * d),
                    View::rows(self.hidden, g4),
                );
            }
            for r in 0..b {
                let at = r * t + step;
                let z = &mut gates[at * g4..(at + 1) * g4];
                let (zi, rest) = z.split_at_mut(d);
                let (zf, rest) = rest.split_at_mut(d);
                let (zg, zo) = rest.split_at_mut(d);
                for k in 0..d {
                    let i = sigmoid(zi[k]);
                    let f = sigmoid(zf[k]);
                    let g = zg[k].tanh();
                    let o = sigmoid(zo[k]);
                    let previous = if step > 0 {
                        cells[(at - 1) * d + k]
                    } else {
                        0.0
                    };
                    let c = f * previous + i * g;
                    let tc = c.tanh();
                    (zi[k], zf[k], zg[k], zo[k]) = (i, f, g, o);
                    cells[at * d + k] = c;
                    cell_tanh[at * d + k] = tc;
                    out[at * d + k] = o * tc;
                }
            }
        }
    }

    /// Backward over one chunk: `d_out` `(b, T, D)` into `dx` (added) and this chunk's
    /// weight gradients `[d w_input, d w_hidden, d w_bias]` (overwritten).
    #[allow(clippy::too_many_arguments)]
    fn backward_chunk(
        &self,
        x: &[f32],
        b: usize,
        t: usize,
        saved: [&[f32]; 3],
        out: &[f32],
        d_out: &[f32],
        dx: &mut [f32],
        dw: &mut [Vec<f32>; 3],
    ) {
        let d = self.dim;
        let g4 = 4 * d;
        let [gates, cells, cell_tanh] = saved;
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
                // dh[r, step - 1] = dz[r, step] W_h^T
                matmul(
                    b,
                    d,
                    g4,
                    &mut dh_next,
                    d,
                    false,
                    View::rows(&dz[step * g4..], t * g4),
                    View::transposed(self.hidden, g4),
                );
            }
        }
        // dx += dZ W_i^T
        matmul(
            b * t,
            d,
            g4,
            dx,
            d,
            true,
            View::rows(&dz, g4),
            View::transposed(self.input, g4),
        );
        // d W_i = X^T dZ
        matmul(
            d,
            g4,
            b * t,
            &mut dw[0],
            g4,
            false,
            View::transposed(x, d),
            View::rows(&dz, g4),
        );
        // d W_h = sum over sequences of H[.., 0..T-1]^T dZ[.., 1..T]
        dw[1].fill(0.0);
        if t > 1 {
            for r in 0..b {
                matmul(
                    d,
                    g4,
                    t - 1,
                    &mut dw[1],
                    g4,
                    true,
                    View::transposed(&out[r * t * d..], d),
                    View::rows(&dz[(r * t + 1) * g4..], g4),
                );
            }
        }
        dw[2].fill(0.0);
        for row in dz.chunks_exact(g4) {
            dw[2].iter_mut().zip(row).for_each(|(w, z)| *w += z);
        }
    }
}

impl HostEncoder for LstmKernel<'_> {
    fn forward(&self, inputs: &[f32], _ids: &[u32], batch: usize) -> EncoderTrace {
        let d = self.dim;
        let g4 = 4 * d;
        let t = inputs.len() / (batch * d).max(1);
        let rows = batch * t;
        let mut gates = vec![0.0f32; rows * g4];
        let mut cells = vec![0.0f32; rows * d];
        let mut cell_tanh = vec![0.0f32; rows * d];
        let mut outputs = vec![0.0f32; rows * d];
        let per = CHUNK * t;
        gates
            .par_chunks_mut(per * g4)
            .zip(cells.par_chunks_mut(per * d))
            .zip(cell_tanh.par_chunks_mut(per * d))
            .zip(outputs.par_chunks_mut(per * d))
            .zip(inputs.par_chunks(per * d))
            .for_each(|((((gates, cells), cell_tanh), out), x)| {
                let b = x.len() / (t * d).max(1);
                self.forward_chunk(x, b, t, gates, cells, cell_tanh, out);
            });
        EncoderTrace {
            batch,
            steps: t,
            outputs,
            saved: vec![gates, cells, cell_tanh],
        }
    }

    fn backward(
        &self,
        inputs: &[f32],
        _ids: &[u32],
        trace: &EncoderTrace,
        d_outputs: &[f32],
        d_inputs: &mut [f32],
        d_whole: &mut [Vec<f32>],
    ) {
        let (d, t) = (self.dim, trace.steps);
        let g4 = 4 * d;
        let per = CHUNK * t;
        let saved = &trace.saved;
        let partial: Vec<[Vec<f32>; 3]> = d_inputs
            .par_chunks_mut(per * d)
            .enumerate()
            .map(|(chunk, dx)| {
                let rows = chunk * per..chunk * per + dx.len() / d;
                let b = dx.len() / (t * d).max(1);
                let mut dw = [vec![0.0; d * g4], vec![0.0; d * g4], vec![0.0; g4]];
                self.backward_chunk(
                    &inputs[rows.start * d..rows.end * d],
                    b,
                    t,
                    [
                        &saved[GATES][rows.start * g4..rows.end * g4],
                        &saved[CELLS][rows.start * d..rows.end * d],
                        &saved[CELL_TANH][rows.start * d..rows.end * d],
                    ],
                    &trace.outputs[rows.start * d..rows.end * d],
                    &d_outputs[rows.start * d..rows.end * d],
                    dx,
                    &mut dw,
                );
                dw
            })
            .collect();
        for dw in &partial {
            for (total, part) in d_whole.iter_mut().zip(dw) {
                total.iter_mut().zip(part).for_each(|(a, b)| *a += b);
            }
        }
    }
}

/// Pooling by hand: running sums over positions, or running means over the real
/// (non-padding) items seen so far (at least 1), as [`crate::Pooling`].
pub struct PoolingKernel {
    /// `D`.
    pub dim: usize,
    /// Means rather than sums.
    pub mean: bool,
}

impl PoolingKernel {
    /// `1 / max(1, real items among ids[..=t])` for every position of one sequence.
    fn scales<'a>(&self, ids: &'a [u32]) -> impl Iterator<Item = f32> + 'a {
        let mean = self.mean;
        ids.iter().scan(0.0f32, move |seen, &id| {
            *seen += f32::from(u8::from(id != 0));
            Some(if mean { 1.0 / seen.max(1.0) } else { 1.0 })
        })
    }
}

impl HostEncoder for PoolingKernel {
    fn forward(&self, inputs: &[f32], ids: &[u32], batch: usize) -> EncoderTrace {
        let d = self.dim;
        let t = ids.len() / batch.max(1);
        let mut outputs = vec![0.0f32; inputs.len()];
        let mut sum = vec![0.0f32; d];
        for (r, row_ids) in ids.chunks(t.max(1)).enumerate() {
            sum.fill(0.0);
            for (step, scale) in self.scales(row_ids).enumerate() {
                let at = (r * t + step) * d;
                sum.iter_mut()
                    .zip(&inputs[at..at + d])
                    .for_each(|(s, x)| *s += x);
                outputs[at..at + d]
                    .iter_mut()
                    .zip(&sum)
                    .for_each(|(o, s)| *o = s * scale);
            }
        }
        EncoderTrace {
            batch,
            steps: t,
            outputs,
            saved: Vec::new(),
        }
    }

    fn backward(
        &self,
        _inputs: &[f32],
        ids: &[u32],
        trace: &EncoderTrace,
        d_outputs: &[f32],
        d_inputs: &mut [f32],
        _d_whole: &mut [Vec<f32>],
    ) {
        let (d, t) = (self.dim, trace.steps);
        let mut suffix = vec![0.0f32; d];
        let mut scales = Vec::with_capacity(t);
        for (r, row_ids) in ids.chunks(t.max(1)).enumerate() {
            scales.clear();
            scales.extend(self.scales(row_ids));
            suffix.fill(0.0);
            // input s reaches every output t >= s
            for step in (0..row_ids.len()).rev() {
                let at = (r * t + step) * d;
                suffix
                    .iter_mut()
                    .zip(&d_outputs[at..at + d])
                    .for_each(|(s, g)| *s += g * scales[step]);
                d_inputs[at..at + d]
                    .iter_mut()
                    .zip(&suffix)
                    .for_each(|(x, s)| *x += s);
            }
        }
    }
}

/// The causal CNN of [`crate::CausalCnn`] by hand: per layer, `y[t] = tanh(b + sum_j
/// x[t - j dilation] W_j)` (zero before the start), plus `x` when residual.
pub struct CnnKernel<'a> {
    /// Per layer, `conv_weight (kernel_width D, D)` (tap `j` in rows `j D..(j + 1) D`).
    pub weights: Vec<&'a [f32]>,
    /// Per layer, `conv_bias (D)`.
    pub biases: Vec<&'a [f32]>,
    /// Taps per layer.
    pub kernel_width: usize,
    /// Per layer, the step between taps.
    pub dilations: &'a [usize],
    /// Whether each layer adds its input.
    pub residual: bool,
    /// `D`.
    pub dim: usize,
}

/// A chunk's forward pass through the CNN.
struct CnnChunk {
    /// The activated `y` of every layer.
    ys: Vec<Vec<f32>>,
    /// The input of every layer after the first.
    inputs: Vec<Vec<f32>>,
    /// The last layer's output.
    out: Vec<f32>,
}

impl CnnKernel<'_> {
    /// Forward over one chunk of `b` sequences of length `t`.
    fn forward_chunk(&self, x: &[f32], b: usize, t: usize) -> CnnChunk {
        let d = self.dim;
        let (mut ys, mut inputs) = (Vec::new(), Vec::new());
        let mut current = x.to_vec();
        for (layer, (&w, &bias)) in self.weights.iter().zip(&self.biases).enumerate() {
            let dilation = self.dilations[layer];
            let mut y: Vec<f32> = bias.iter().copied().cycle().take(b * t * d).collect();
            for tap in 0..self.kernel_width {
                let shift = tap * dilation;
                if shift >= t {
                    break;
                }
                for r in 0..b {
                    // y[r, shift..] += x[r, ..t - shift] W_tap
                    matmul(
                        t - shift,
                        d,
                        d,
                        &mut y[(r * t + shift) * d..],
                        d,
                        true,
                        View::rows(&current[r * t * d..], d),
                        View::rows(&w[tap * d * d..], d),
                    );
                }
            }
            y.iter_mut().for_each(|v| *v = v.tanh());
            let next = if self.residual {
                y.iter().zip(&current).map(|(a, b)| a + b).collect()
            } else {
                y.clone()
            };
            ys.push(y);
            if layer > 0 {
                inputs.push(current);
            }
            current = next;
        }
        CnnChunk {
            ys,
            inputs,
            out: current,
        }
    }

    /// Backward over one chunk: `d_out` into `dx` (added) and this chunk's weight gradients in
    /// table order (`weight, bias` per layer).
    #[allow(clippy::too_many_arguments)]
    fn backward_chunk(
        &self,
        x: &[f32],
        b: usize,
        t: usize,
        ys: &[Vec<f32>],
        inputs: &[Vec<f32>],
        d_out: &[f32],
        dx: &mut [f32],
    ) -> Vec<Vec<f32>> {
        let d = self.dim;
        let layers = self.weights.len();
        let mut dw: Vec<Vec<f32>> = Vec::with_capacity(2 * layers);
        for (w, bias) in self.weights.iter().zip(&self.biases) {
            dw.push(vec![0.0; w.len()]);
            dw.push(vec![0.0; bias.len()]);
        }
        let mut g = d_out.to_vec();
        for layer in (0..layers).rev() {
            let input = if layer == 0 {
                x
            } else {
                &inputs[layer - 1][..]
            };
            let dy: Vec<f32> = g
                .iter()
                .zip(&ys[layer])
                .map(|(g, y)| g * (1.0 - y * y))
                .collect();
            let mut d_input = if self.residual {
                g
            } else {
                vec![0.0; dy.len()]
            };
            let (w, dilation) = (self.weights[layer], self.dilations[layer]);
            for tap in 0..self.kernel_width {
                let shift = tap * dilation;
                if shift >= t {
                    break;
                }
                for r in 0..b {
                    // d W_tap += x[r, ..t - shift]^T dy[r, shift..]
                    matmul(
                        d,
                        d,
                        t - shift,
                        &mut dw[2 * layer][tap * d * d..],
                        d,
                        true,
                        View::transposed(&input[r * t * d..], d),
                        View::rows(&dy[(r * t + shift) * d..], d),
                    );
                    // d x[r, ..t - shift] += dy[r, shift..] W_tap^T
                    matmul(
                        t - shift,
                        d,
                        d,
                        &mut d_input[r * t * d..],
                        d,
                        true,
                        View::rows(&dy[(r * t + shift) * d..], d),
                        View::transposed(&w[tap * d * d..], d),
                    );
                }
            }
            for row in dy.chunks_exact(d) {
                dw[2 * layer + 1]
                    .iter_mut()
                    .zip(row)
                    .for_each(|(a, b)| *a += b);
            }
            g = d_input;
        }
        dx.iter_mut().zip(&g).for_each(|(a, b)| *a += b);
        dw
    }
}

impl HostEncoder for CnnKernel<'_> {
    fn forward(&self, inputs: &[f32], _ids: &[u32], batch: usize) -> EncoderTrace {
        let d = self.dim;
        let t = inputs.len() / (batch * d).max(1);
        let layers = self.weights.len();
        let chunks: Vec<CnnChunk> = inputs
            .par_chunks((CHUNK * t * d).max(1))
            .map(|x| self.forward_chunk(x, x.len() / (t * d).max(1), t))
            .collect();
        let mut outputs = Vec::with_capacity(inputs.len());
        // saved, chunk after chunk: the layers' y, then the inputs of layers 1..
        let mut saved = Vec::with_capacity(chunks.len() * (2 * layers).saturating_sub(1));
        for chunk in chunks {
            outputs.extend(chunk.out);
            saved.extend(chunk.ys);
            saved.extend(chunk.inputs);
        }
        EncoderTrace {
            batch,
            steps: t,
            outputs,
            saved,
        }
    }

    fn backward(
        &self,
        inputs: &[f32],
        _ids: &[u32],
        trace: &EncoderTrace,
        d_outputs: &[f32],
        d_inputs: &mut [f32],
        d_whole: &mut [Vec<f32>],
    ) {
        let (d, t) = (self.dim, trace.steps);
        let layers = self.weights.len();
        let per_chunk = 2 * layers - 1;
        let rows = CHUNK * t * d;
        let partial: Vec<Vec<Vec<f32>>> = d_inputs
            .par_chunks_mut(rows.max(1))
            .enumerate()
            .map(|(chunk, dx)| {
                let start = chunk * rows;
                let saved = &trace.saved[chunk * per_chunk..(chunk + 1) * per_chunk];
                self.backward_chunk(
                    &inputs[start..start + dx.len()],
                    dx.len() / (t * d).max(1),
                    t,
                    &saved[..layers],
                    &saved[layers..],
                    &d_outputs[start..start + dx.len()],
                    dx,
                )
            })
            .collect();
        for dw in &partial {
            for (total, part) in d_whole.iter_mut().zip(dw) {
                total.iter_mut().zip(part).for_each(|(a, b)| *a += b);
            }
        }
    }
}

/// The popularity model's representation: zero everywhere, with nothing to learn.
pub struct ZeroKernel;

impl HostEncoder for ZeroKernel {
    fn forward(&self, inputs: &[f32], ids: &[u32], batch: usize) -> EncoderTrace {
        EncoderTrace {
            batch,
            steps: ids.len() / batch.max(1),
            outputs: vec![0.0; inputs.len()],
            saved: Vec::new(),
        }
    }

    fn backward(
        &self,
        _: &[f32],
        _: &[u32],
        _: &EncoderTrace,
        _: &[f32],
        _: &mut [f32],
        _: &mut [Vec<f32>],
    ) {
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matmul_handles_strides_transposes_and_accumulation() {
        // a (2 x 3), b (3 x 2)
        let a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let b = [1.0, 0.0, 0.0, 1.0, 1.0, 1.0];
        let mut out = [10.0; 4];
        matmul(
            2,
            2,
            3,
            &mut out,
            2,
            true,
            View::rows(&a, 3),
            View::rows(&b, 2),
        );
        assert_eq!(out, [14.0, 15.0, 20.0, 21.0]);
        // a^T (3 x 2) b' (2 x 2) with b' = first two rows of b
        let mut out = [0.0; 6];
        matmul(
            3,
            2,
            2,
            &mut out,
            2,
            false,
            View::transposed(&a, 3),
            View::rows(&b, 2),
        );
        assert_eq!(out, [1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
    }
}
