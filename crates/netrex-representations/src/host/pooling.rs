//! Pooling and popularity by hand.

use super::{BackwardPass, EncoderTrace, HostEncoder};

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
        EncoderTrace::new(batch, t, outputs, Vec::new())
    }

    fn backward(&self, pass: BackwardPass<'_>, d_inputs: &mut [f32], _: &mut [Vec<f32>]) {
        let (d, t) = (self.dim, pass.trace.steps);
        let (ids, d_outputs) = (pass.ids, pass.d_outputs);
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

/// The popularity model's representation: zero everywhere, with nothing to learn.
pub struct ZeroKernel;

impl HostEncoder for ZeroKernel {
    fn forward(&self, inputs: &[f32], ids: &[u32], batch: usize) -> EncoderTrace {
        let steps = ids.len() / batch.max(1);
        EncoderTrace::new(batch, steps, vec![0.0; inputs.len()], Vec::new())
    }

    fn backward(&self, _: BackwardPass<'_>, _: &mut [f32], _: &mut [Vec<f32>]) {}
}
