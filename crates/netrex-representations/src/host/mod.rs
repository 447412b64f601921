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

mod activation;
mod attention;
mod cnn;
mod dense;
mod frequency;
mod gru;
mod lstm;
mod pooling;
mod recurrent;
mod sasrec;

pub use cnn::CnnKernel;
pub use gru::GruKernel;
pub use lstm::LstmKernel;
pub use pooling::{PoolingKernel, ZeroKernel};
pub use sasrec::SasrecKernel;

/// Sequences per parallel chunk.
pub(crate) const CHUNK: usize = 8;

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

impl EncoderTrace {
    /// The trace of `batch` sequences of `steps` positions.
    pub fn new(batch: usize, steps: usize, outputs: Vec<f32>, saved: Vec<Vec<f32>>) -> Self {
        Self {
            batch,
            steps,
            outputs,
            saved,
        }
    }
}

/// What a backward pass reads: the forward pass's arguments and trace, and the gradient of
/// the loss with respect to its outputs.
#[derive(Clone, Copy)]
pub struct BackwardPass<'a> {
    /// The forward pass's `inputs`, `(B, T, D)`.
    pub inputs: &'a [f32],
    /// The forward pass's `ids`, `(B, T)`.
    pub ids: &'a [u32],
    /// What the forward pass kept.
    pub trace: &'a EncoderTrace,
    /// `d loss / d outputs`, `(B, T, D)`.
    pub d_outputs: &'a [f32],
}

/// A sequence representation's function written out by hand (see the module docs).
pub trait HostEncoder: Sync {
    /// Runs over `inputs` `(B, T, D)` row-major (the input items' embeddings; `ids` their
    /// shifted ids, `(B, T)`); the trace's `outputs` are `encode`'s `(B, T, D)`.
    fn forward(&self, inputs: &[f32], ids: &[u32], batch: usize) -> EncoderTrace;

    /// [`forward`](Self::forward) while training, where an encoder with dropout draws its
    /// masks from `seed` (the same masks as `encode` with
    /// [`SequenceRows::dropout_seed`](crate::sequence::SequenceRows::dropout_seed)). The
    /// default ignores the seed.
    fn forward_training(
        &self,
        inputs: &[f32],
        ids: &[u32],
        batch: usize,
        seed: u64,
    ) -> EncoderTrace {
        let _ = seed;
        self.forward(inputs, ids, batch)
    }

    /// Adds `d loss / d inputs` into `d_inputs` `(B, T, D)` and the gradient of each dense
    /// table (in table order) into `d_whole`.
    fn backward(&self, pass: BackwardPass<'_>, d_inputs: &mut [f32], d_whole: &mut [Vec<f32>]);
}

/// Adds each chunk's dense-table gradients into `d_whole`, chunk after chunk, so the sum does
/// not depend on which thread ran which chunk.
pub(crate) fn add_in_chunk_order<P: AsRef<[Vec<f32>]>>(d_whole: &mut [Vec<f32>], partial: &[P]) {
    for chunk in partial {
        for (total, part) in d_whole.iter_mut().zip(chunk.as_ref()) {
            total.iter_mut().zip(part).for_each(|(a, b)| *a += b);
        }
    }
}

/// A row-major or transposed view of a matrix in a slice: element `(r, c)` at
/// `r * row_stride + c * col_stride`.
#[derive(Clone, Copy)]
pub struct View<'a> {
    data: &'a [f32],
    row_stride: usize,
    col_stride: usize,
}

impl<'a> View<'a> {
    /// `rows x cols` stored row after row with `stride` between rows.
    pub fn rows(data: &'a [f32], stride: usize) -> Self {
        View {
            data,
            row_stride: stride,
            col_stride: 1,
        }
    }

    /// The transpose of a row-major matrix whose rows are `stride` apart.
    pub fn transposed(data: &'a [f32], stride: usize) -> Self {
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

/// Where a product goes: a row-major matrix whose rows are `stride` apart, the product added
/// to what is there or written over it.
pub struct Out<'a> {
    data: &'a mut [f32],
    stride: usize,
    accumulate: bool,
}

impl<'a> Out<'a> {
    /// The product is added to `data`.
    pub fn add(data: &'a mut [f32], stride: usize) -> Self {
        Out::new(data, stride, true)
    }

    /// The product overwrites `data`.
    pub fn write(data: &'a mut [f32], stride: usize) -> Self {
        Out::new(data, stride, false)
    }

    /// Added when `accumulate`, else written over.
    pub fn new(data: &'a mut [f32], stride: usize, accumulate: bool) -> Self {
        Out {
            data,
            stride,
            accumulate,
        }
    }
}

/// `out (m x n) = [out +] a (m x k) b (k x n)` for `(m, n, k)`, through the `gemm` crate's
/// runtime-dispatched SIMD kernels on the calling thread (for hand-written kernels, here and
/// in the training crate). Panics if an operand does not cover its view.
pub fn matmul((m, n, k): (usize, usize, usize), out: Out<'_>, a: View<'_>, b: View<'_>) {
    let Out {
        data: out,
        stride: out_stride,
        accumulate,
    } = out;
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
            (2, 2, 3),
            Out::add(&mut out, 2),
            View::rows(&a, 3),
            View::rows(&b, 2),
        );
        assert_eq!(out, [14.0, 15.0, 20.0, 21.0]);
        // a^T (3 x 2) b' (2 x 2) with b' = first two rows of b
        let mut out = [0.0; 6];
        matmul(
            (3, 2, 2),
            Out::write(&mut out, 2),
            View::transposed(&a, 3),
            View::rows(&b, 2),
        );
        assert_eq!(out, [1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
    }
}
