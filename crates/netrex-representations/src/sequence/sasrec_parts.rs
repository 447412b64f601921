//! What SASRec's two paths (dfdx's `encode` and the host kernel) share: the block's table
//! layout, the layer-norm epsilon, where a row's real positions start and which positional row
//! a step reads, and the hashed dropout masks that both draw alike in any order.

/// Tables of one block, in order, after the item tables and `position`.
pub(crate) const BLOCK_TABLES: [&str; 16] = [
    "ln1_gain", "ln1_bias", "w_query", "b_query", "w_key", "b_key", "w_value", "b_value", "w_out",
    "b_out", "ln2_gain", "ln2_bias", "w_ff1", "b_ff1", "w_ff2", "b_ff2",
];

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
