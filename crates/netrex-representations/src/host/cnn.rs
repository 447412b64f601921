//! The causal CNN's forward and backward passes by hand.

use rayon::prelude::*;

use super::activation::tanh_in_place;
use super::{
    add_in_chunk_order, matmul, BackwardPass, EncoderTrace, HostEncoder, Out, View, CHUNK,
};

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
                        (t - shift, d, d),
                        Out::add(&mut y[(r * t + shift) * d..], d),
                        View::rows(&current[r * t * d..], d),
                        View::rows(&w[tap * d * d..], d),
                    );
                }
            }
            tanh_in_place(&mut y);
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
                        (d, d, t - shift),
                        Out::add(&mut dw[2 * layer][tap * d * d..], d),
                        View::transposed(&input[r * t * d..], d),
                        View::rows(&dy[(r * t + shift) * d..], d),
                    );
                    // d x[r, ..t - shift] += dy[r, shift..] W_tap^T
                    matmul(
                        (t - shift, d, d),
                        Out::add(&mut d_input[r * t * d..], d),
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
        EncoderTrace::new(batch, t, outputs, saved)
    }

    fn backward(&self, pass: BackwardPass<'_>, d_inputs: &mut [f32], d_whole: &mut [Vec<f32>]) {
        let BackwardPass {
            inputs,
            trace,
            d_outputs,
            ..
        } = pass;
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
        add_in_chunk_order(d_whole, &partial);
    }
}
