//! The frequency branch `F(q)` of [`super::Sasrec`]'s blocks in dfdx ops: BSARec's fixed
//! low-pass with a learned `β`, or FMLP-Rec's learned causal filter.

use super::contract::*;
use super::sasrec_parts::FrequencySpec;

/// The constants one batch's branch reads: the fixed low-pass as a `(B, T, T)` product, or,
/// for a learned filter, which packed step each `(step, lag)` reads and whether it is real.
pub(super) struct FilterInput<D: Device<f32>> {
    spec: FrequencySpec,
    /// Aᵀ with `Aᵀ[r, s, t] = taps[t - s]` over the row's real steps (fixed low-pass).
    fixed: Option<Tensor<(usize, usize, usize), f32, D>>,
    /// `(B * T, lags)`: the step `s - j` of row `r` as `r * T + s - j` (0 where not real).
    reads: Option<Tensor<(usize, usize), usize, D>>,
    /// `(B * T, lags)`: 1 where step `s - j` is real, else 0.
    real: Option<Tensor<(usize, usize), f32, D>>,
    lags: usize,
}

impl<D: Device<f32>> FilterInput<D> {
    /// The constants for rows whose real steps start at `starts`, `t` steps each.
    pub(super) fn new(dev: &D, spec: &FrequencySpec, starts: &[usize], t: usize) -> Self {
        let b = starts.len();
        let lags = spec.window.min(t);
        let mut input = FilterInput {
            spec: *spec,
            fixed: None,
            reads: None,
            real: None,
            lags,
        };
        if spec.learned {
            let (mut reads, mut real) = (vec![0usize; b * t * lags], vec![0.0f32; b * t * lags]);
            for (r, &start) in starts.iter().enumerate() {
                for s in start..t {
                    for j in 0..lags.min(s - start + 1) {
                        reads[(r * t + s) * lags + j] = r * t + s - j;
                        real[(r * t + s) * lags + j] = 1.0;
                    }
                }
            }
            input.reads = Some(dev.tensor_from_vec(reads, (b * t, lags)));
            input.real = Some(dev.tensor_from_vec(real, (b * t, lags)));
        } else {
            let taps = spec.taps();
            let mut a = vec![0.0f32; b * t * t];
            for (r, &start) in starts.iter().enumerate() {
                for s in start..t {
                    for (j, &h) in taps.iter().enumerate().take(t - s) {
                        a[(r * t + s) * t + s + j] = h;
                    }
                }
            }
            input.fixed = Some(dev.tensor_from_vec(a, (b, t, t)));
        }
        input
    }

    /// `F(q)` of block `block` for `q (B, T, D)`, `param` being the branch's table
    /// (`freq_beta` or `freq_filter`).
    pub(super) fn apply<T: Taped<D>>(
        &self,
        q: Steps<D, T>,
        param: Matrix<D, T>,
        block: usize,
    ) -> Steps<D, T> {
        let shape = *q.shape();
        let (b, t, d) = shape;
        if let (Some(reads), Some(real)) = (&self.reads, &self.real) {
            // out[r, s] = sum_j h[j] q[r, s - j], the reads gathered as (B * T, lags, D)
            let wide = (b * t, self.lags, d);
            let first = block * self.spec.window;
            let h = param
                .slice((first..first + self.lags, ..))
                .broadcast_like::<_, Axis<0>>(&wide);
            let read = q.reshape_like(&(b * t, d)).gather(reads.clone());
            let real = real.clone().broadcast_like::<_, Axis<2>>(&wide);
            return (read * real * h).sum::<_, Axis<1>>().reshape_like(&shape);
        }
        let a_t = self.fixed.as_ref().expect("a fixed low-pass");
        // BSARec: F(q) = low + β² (q - low); the tape goes on the left of the product
        let low = q
            .retaped::<T>()
            .permute::<_, Axes3<0, 2, 1>>()
            .matmul(a_t.clone())
            .permute::<_, Axes3<0, 2, 1>>();
        let beta2 = param
            .slice((block..block + 1, ..))
            .square()
            .reshape_like(&(d,))
            .broadcast_like::<_, Axes2<0, 1>>(&shape);
        low.retaped::<T>() + (q - low) * beta2
    }
}
