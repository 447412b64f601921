//! What SASRec's two paths (dfdx's `encode` and the host kernel) share: the block's table
//! layout, the layer-norm epsilon, where a row's real positions start and which positional row
//! a step reads, and the hashed dropout masks that both draw alike in any order.

/// Tables of one block, in order, after the item tables and `position`.
pub(crate) const BLOCK_TABLES: [&str; 16] = [
    "ln1_gain", "ln1_bias", "w_query", "b_query", "w_key", "b_key", "w_value", "b_value", "w_out",
    "b_out", "ln2_gain", "ln2_bias", "w_ff1", "b_ff1", "w_ff2", "b_ff2",
];

/// Which of [`BLOCK_TABLES`] a model's blocks hold: all where they attend; the layer norms and
/// the feed-forward layer only where they do not (FMLP-Rec).
#[derive(Clone, Copy, Debug)]
pub(crate) struct BlockLayout {
    attends: bool,
}

impl BlockLayout {
    /// The layout of a model with this frequency branch (or none).
    pub(crate) fn of(frequency: Option<&FrequencySpec>) -> Self {
        BlockLayout {
            attends: frequency.is_none_or(FrequencySpec::attends),
        }
    }

    /// Whether the blocks attend.
    pub(crate) fn attends(self) -> bool {
        self.attends
    }

    /// A block's table names, in order.
    pub(crate) fn names(self) -> impl Iterator<Item = &'static str> {
        (0..BLOCK_TABLES.len())
            .filter(move |&k| self.attends || !(2..10).contains(&k))
            .map(|k| BLOCK_TABLES[k])
    }

    /// Tables per block.
    pub(crate) fn len(self) -> usize {
        if self.attends {
            BLOCK_TABLES.len()
        } else {
            BLOCK_TABLES.len() - 8
        }
    }

    /// Where table `k` of [`BLOCK_TABLES`] sits among its block's tables (an attention table
    /// only where the blocks attend).
    pub(crate) fn slot(self, k: usize) -> usize {
        if self.attends || k < 2 {
            k
        } else {
            k - 8
        }
    }
}

/// Layer-norm epsilon (both paths).
pub(crate) const EPSILON: f32 = 1e-6;

/// Where each padded row's real positions start: the position before its first item (its
/// "nothing yet" input), or 0 for a row with no padding, or the last position for a row of
/// padding only (an empty history).
pub(crate) fn row_start(ids: &[u32]) -> usize {
    match ids.iter().position(|&i| i != 0) {
        Some(first) => first.saturating_sub(1),
        None => ids.len().saturating_sub(1),
    }
}

/// The positional row of step `t` of `steps`: how far back from the last step, capped.
pub(crate) fn position_row(t: usize, steps: usize, positions: usize) -> usize {
    (steps - 1 - t).min(positions - 1)
}

/// The dropout factor (0 or `1 / (1 - p)`) of element `index` of mask `layer` under `seed`:
/// a hash, so both paths draw the same masks in any order.
pub(crate) fn dropout_factor(seed: u64, layer: u64, index: u64, p: f32) -> f32 {
    let mut z = seed
        ^ layer.wrapping_mul(0xD1B5_4A32_D192_ED03)
        ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    let u = (z >> 40) as f32 / (1u64 << 24) as f32;
    if u < p {
        0.0
    } else {
        1.0 / (1.0 - p)
    }
}

/// The dropout layer of block `block`'s frequency branch (far from the attention layers').
pub(crate) fn frequency_layer(block: usize) -> u64 {
    (1 << 32) + block as u64
}

/// BSARec's frequency branch (Shin et al., AAAI 2024) made causal: the low-pass of step `t`
/// reads steps `t, t-1, ...` through fixed taps, so that training on every position cannot
/// see a target.
///
/// BSARec keeps the lowest `cutoff` bins of the real DFT over its whole window of `window`
/// steps and reads the last position. Row `window - 1` of that projection weighs step `t - j`
/// by `taps[j]`; applying those taps at every step gives each prefix the value BSARec's
/// branch has at the last position of that prefix (padding counted as zero), which is what
/// BSARec's prefix-by-prefix training reads.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FrequencySpec {
    /// α: the frequency branch's share of the mixing layer; attention keeps `1 - α`.
    pub mix: f32,
    /// Lowest real-DFT bins the low-pass keeps (BSARec's `c // 2 + 1`: 3 for its `c = 5`).
    pub cutoff: usize,
    /// Steps the DFT is defined over (BSARec's sequence length, 50).
    pub window: usize,
    /// A learned filter instead of the fixed low-pass and `β`: FMLP-Rec's learnable filter
    /// (Zhou et al., WWW 2022) read at the last position, i.e. `window` causal taps per
    /// dimension, starting at the low-pass taps. With `mix` 1 there is no attention (FMLP-Rec).
    #[serde(default)]
    pub learned: bool,
}

impl FrequencySpec {
    /// The causal low-pass taps, `taps[j]` for lag `j` in `0..window`.
    pub fn taps(&self) -> Vec<f32> {
        let n = self.window;
        (0..n)
            .map(|j| {
                let sum: f64 = (0..self.cutoff.min(n / 2 + 1))
                    .map(|k| {
                        // a bin with a conjugate counts twice; 0 and Nyquist once
                        let weight = if k == 0 || 2 * k == n { 1.0 } else { 2.0 };
                        let angle = 2.0 * std::f64::consts::PI * (k * j) as f64 / n as f64;
                        weight * angle.cos()
                    })
                    .sum();
                (sum / n as f64) as f32
            })
            .collect()
    }

    /// The taps as filter rows, `window x dim` (every dimension the same), the learned
    /// filter's start and the fixed branch's filter.
    pub fn filter_rows(&self, dim: usize) -> Vec<f32> {
        self.taps()
            .into_iter()
            .flat_map(|h| std::iter::repeat_n(h, dim))
            .collect()
    }

    /// Whether the blocks attend at all (FMLP-Rec's `mix` 1 leaves only the filter).
    pub fn attends(&self) -> bool {
        self.mix < 1.0
    }

    pub(crate) fn check(&self) -> Result<(), crate::RepresentationError> {
        let bad = |name: &'static str, message: String| {
            Err(crate::RepresentationError::InvalidParameter { name, message })
        };
        if !(self.mix > 0.0 && self.mix <= 1.0) {
            return bad("frequency_mix", format!("{} is not in (0, 1]", self.mix));
        }
        if self.window == 0 {
            return bad("frequency_window", "must be at least 1".into());
        }
        if self.cutoff == 0 || self.cutoff > self.window / 2 + 1 {
            return bad(
                "frequency_cutoff",
                format!(
                    "{} is not between 1 and {} (the bins of a window of {})",
                    self.cutoff,
                    self.window / 2 + 1,
                    self.window
                ),
            );
        }
        Ok(())
    }
}

/// Adds the causal filter `h` of `x` (a segment's `n` packed steps of width `d`) to `out`:
/// `out[t, c] += sum_j h[j, c] x[t - j, c]`, `h` holding one row of `d` weights per lag.
pub(crate) fn causal_filter(h: &[f32], x: &[f32], n: usize, d: usize, out: &mut [f32]) {
    for t in 0..n {
        let o = &mut out[t * d..(t + 1) * d];
        for (j, w) in h.chunks_exact(d).enumerate().take(t + 1) {
            let row = &x[(t - j) * d..(t - j + 1) * d];
            o.iter_mut()
                .zip(row)
                .zip(w)
                .for_each(|((o, v), w)| *o += w * v);
        }
    }
}

/// The transpose of [`causal_filter`] in `x`: adds to `dx` what `dy` sends back through `h`.
pub(crate) fn causal_filter_back(h: &[f32], dy: &[f32], n: usize, d: usize, dx: &mut [f32]) {
    for t in 0..n {
        let g = &dy[t * d..(t + 1) * d];
        for (j, w) in h.chunks_exact(d).enumerate().take(t + 1) {
            let out = &mut dx[(t - j) * d..(t - j + 1) * d];
            out.iter_mut()
                .zip(g)
                .zip(w)
                .for_each(|((o, v), w)| *o += w * v);
        }
    }
}

/// [`causal_filter`]'s gradient in `h`: `dh[j, c] += sum_t dy[t, c] x[t - j, c]`.
pub(crate) fn causal_filter_grad(x: &[f32], dy: &[f32], n: usize, d: usize, dh: &mut [f32]) {
    for t in 0..n {
        let g = &dy[t * d..(t + 1) * d];
        for (j, w) in dh.chunks_exact_mut(d).enumerate().take(t + 1) {
            let row = &x[(t - j) * d..(t - j + 1) * d];
            w.iter_mut()
                .zip(g)
                .zip(row)
                .for_each(|((w, g), v)| *w += g * v);
        }
    }
}
