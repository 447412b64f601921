//! The frequency branch of a block by hand: BSARec's fixed low-pass with a learned `β`, or
//! FMLP-Rec's learned causal filter (see [`crate::FrequencySpec`]).

use crate::sequence::sasrec_parts::{
    causal_filter, causal_filter_back, causal_filter_grad, FrequencySpec,
};

/// One model's frequency branch; its parameters are one table (`freq_beta (blocks, D)` or
/// `freq_filter (blocks * window, D)`), passed in as `param`.
pub(crate) struct Branch {
    /// The branch's share of the mixing layer.
    pub(crate) mix: f32,
    learned: bool,
    /// The fixed low-pass as filter rows (BSARec; empty for a learned filter).
    fixed: Vec<f32>,
    window: usize,
}

impl Branch {
    pub(crate) fn new(spec: FrequencySpec, dim: usize) -> Self {
        Branch {
            mix: spec.mix,
            learned: spec.learned,
            fixed: if spec.learned {
                Vec::new()
            } else {
                spec.filter_rows(dim)
            },
            window: spec.window,
        }
    }

    fn filter<'a>(&'a self, param: &'a [f32], block: usize, d: usize) -> &'a [f32] {
        match self.learned {
            true => &param[block * self.window * d..(block + 1) * self.window * d],
            false => &self.fixed,
        }
    }

    /// `F(q)` at the packed positions of `segments`, and what its backward needs besides `q`
    /// (the low-pass for BSARec, nothing for a learned filter).
    pub(crate) fn forward(
        &self,
        param: &[f32],
        block: usize,
        q: &[f32],
        segments: &[(usize, usize)],
        d: usize,
    ) -> (Vec<f32>, Vec<f32>) {
        let h = self.filter(param, block, d);
        let mut low = vec![0.0f32; q.len()];
        for &(o, n) in segments {
            causal_filter(h, &q[o * d..], n, d, &mut low[o * d..]);
        }
        if self.learned {
            return (low, Vec::new());
        }
        // BSARec: F(q) = low + β² (q - low)
        let beta = &param[block * d..(block + 1) * d];
        let f = low
            .iter()
            .zip(q)
            .enumerate()
            .map(|(p, (l, v))| l + beta[p % d] * beta[p % d] * (v - l))
            .collect();
        (f, low)
    }

    /// Adds to `dq` and to the branch table's gradient `dparam` what `df` (the gradient of
    /// `F(q)`) sends back.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn backward(
        &self,
        param: &[f32],
        block: usize,
        (q, low): (&[f32], &[f32]),
        df: &[f32],
        segments: &[(usize, usize)],
        d: usize,
        dq: &mut [f32],
        dparam: &mut [f32],
    ) {
        let h = self.filter(param, block, d);
        if self.learned {
            let dh = &mut dparam[block * self.window * d..(block + 1) * self.window * d];
            for &(o, n) in segments {
                causal_filter_back(h, &df[o * d..], n, d, &mut dq[o * d..]);
                causal_filter_grad(&q[o * d..], &df[o * d..], n, d, dh);
            }
            return;
        }
        let beta = &param[block * d..(block + 1) * d];
        let dbeta = &mut dparam[block * d..(block + 1) * d];
        let mut dlow = vec![0.0f32; df.len()];
        for (p, g) in df.iter().enumerate() {
            let (c, b) = (p % d, beta[p % d]);
            dbeta[c] += g * (q[p] - low[p]) * 2.0 * b;
            dq[p] += g * b * b;
            dlow[p] = g * (1.0 - b * b);
        }
        for &(o, n) in segments {
            causal_filter_back(h, &dlow[o * d..], n, d, &mut dq[o * d..]);
        }
    }
}
