//! Dense row-wise pieces of the hand-written encoders: bias rows, column sums, layer norm and
//! its backward pass, and `D x D` projections with their gradients.

use super::{matmul, Out, View};
use crate::sequence::sasrec_parts::EPSILON;

pub(crate) fn add_bias(x: &mut [f32], bias: &[f32]) {
    for row in x.chunks_exact_mut(bias.len()) {
        row.iter_mut().zip(bias).for_each(|(a, b)| *a += b);
    }
}

pub(crate) fn column_sums(dst: &mut [f32], x: &[f32]) {
    for row in x.chunks_exact(dst.len()) {
        dst.iter_mut().zip(row).for_each(|(a, b)| *a += b);
    }
}

/// Layer norm of each row: writes `xhat`, `1 / std` and `gain xhat + bias`.
pub(crate) fn layer_norm(
    x: &[f32],
    gain: &[f32],
    bias: &[f32],
    xhat: &mut [f32],
    rstd: &mut [f32],
    y: &mut [f32],
) {
    let d = gain.len();
    for (r, row) in x.chunks_exact(d).enumerate() {
        let mean = row.iter().sum::<f32>() / d as f32;
        let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / d as f32;
        let s = 1.0 / (var + EPSILON).sqrt();
        rstd[r] = s;
        for k in 0..d {
            let h = (row[k] - mean) * s;
            xhat[r * d + k] = h;
            y[r * d + k] = gain[k] * h + bias[k];
        }
    }
}

/// Backward of [`layer_norm`]: adds `dx` and the gain and bias gradients.
pub(crate) fn layer_norm_back(
    dy: &[f32],
    xhat: &[f32],
    rstd: &[f32],
    gain: &[f32],
    dx: &mut [f32],
    dgain: &mut [f32],
    dbias: &mut [f32],
) {
    let d = gain.len();
    let mut g = vec![0.0f32; d];
    for (r, dyr) in dy.chunks_exact(d).enumerate() {
        let h = &xhat[r * d..(r + 1) * d];
        for k in 0..d {
            g[k] = dyr[k] * gain[k];
            dgain[k] += dyr[k] * h[k];
            dbias[k] += dyr[k];
        }
        let m1 = g.iter().sum::<f32>() / d as f32;
        let m2 = g.iter().zip(h).map(|(a, b)| a * b).sum::<f32>() / d as f32;
        for k in 0..d {
            dx[r * d + k] += rstd[r] * (g[k] - m1 - h[k] * m2);
        }
    }
}

/// `out (m x D) [+]= x (m x D) W (D x D)`.
pub(crate) fn project(x: &[f32], w: &[f32], d: usize, out: &mut [f32], accumulate: bool) {
    let m = x.len() / d;
    matmul(
        (m, d, d),
        Out::new(out, d, accumulate),
        View::rows(x, d),
        View::rows(w, d),
    );
}

/// `dw (D x D) += x^T dy` over `m` rows.
pub(crate) fn weight_grad(x: &[f32], dy: &[f32], d: usize, dw: &mut [f32]) {
    let m = x.len() / d;
    matmul(
        (d, d, m),
        Out::add(dw, d),
        View::transposed(x, d),
        View::rows(dy, d),
    );
}

/// `dx (m x D) += dy W^T`.
pub(crate) fn input_grad(dy: &[f32], w: &[f32], d: usize, dx: &mut [f32]) {
    let m = dy.len() / d;
    matmul(
        (m, d, d),
        Out::add(dx, d),
        View::rows(dy, d),
        View::transposed(w, d),
    );
}
