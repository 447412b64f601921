//! Causal attention over each row's packed positions, per head: the part of SASRec's block
//! between the projections (queries, keys, values) and the output projection.

/// Softmax attention of each packed position over itself and the positions before it in its
/// segment: returns the weights (row by row, head by head, `qi + 1` each) and the context.
pub(crate) fn attend(
    query: &[f32],
    key: &[f32],
    value: &[f32],
    segments: &[(usize, usize)],
    heads: usize,
    d: usize,
) -> (Vec<f32>, Vec<f32>) {
    let dh = d / heads;
    let inv = 1.0 / (dh as f32).sqrt();
    let m = query.len() / d;
    let mut weights = Vec::new();
    let mut context = vec![0.0f32; m * d];
    for &(o, n) in segments {
        for h in 0..heads {
            let c = h * dh..(h + 1) * dh;
            for qi in 0..n {
                let q = &query[(o + qi) * d..][c.clone()];
                let row_start = weights.len();
                let mut top = f32::NEG_INFINITY;
                for ki in 0..=qi {
                    let k = &key[(o + ki) * d..][c.clone()];
                    let s = q.iter().zip(k).map(|(a, b)| a * b).sum::<f32>() * inv;
                    top = top.max(s);
                    weights.push(s);
                }
                let mut z = 0.0;
                for v in &mut weights[row_start..] {
                    *v = (*v - top).exp();
                    z += *v;
                }
                let ctx = &mut context[(o + qi) * d..][c.clone()];
                for (ki, a) in weights[row_start..].iter_mut().enumerate() {
                    *a /= z;
                    let v = &value[(o + ki) * d..][c.clone()];
                    ctx.iter_mut().zip(v).for_each(|(acc, vv)| *acc += *a * vv);
                }
            }
        }
    }
    (weights, context)
}

/// The transpose of [`attend`]: the gradients of the queries, keys and values.
pub(crate) fn attend_back(
    (query, key, value, weights): (&[f32], &[f32], &[f32], &[f32]),
    dcontext: &[f32],
    segments: &[(usize, usize)],
    heads: usize,
    d: usize,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let dh = d / heads;
    let inv = 1.0 / (dh as f32).sqrt();
    let (mut dq, mut dk, mut dv) = (
        vec![0.0f32; query.len()],
        vec![0.0f32; query.len()],
        vec![0.0f32; query.len()],
    );
    let mut wat = 0;
    let mut da: Vec<f32> = Vec::new();
    for &(o, n) in segments {
        for h in 0..heads {
            let c = h * dh..(h + 1) * dh;
            for qi in 0..n {
                let a = &weights[wat..wat + qi + 1];
                wat += qi + 1;
                let dc = &dcontext[(o + qi) * d..][c.clone()];
                da.clear();
                for (ki, &aw) in a.iter().enumerate() {
                    let v = &value[(o + ki) * d..][c.clone()];
                    da.push(dc.iter().zip(v).map(|(x, y)| x * y).sum());
                    let dvr = &mut dv[(o + ki) * d..][c.clone()];
                    dvr.iter_mut().zip(dc).for_each(|(g, x)| *g += aw * x);
                }
                let centre: f32 = a.iter().zip(&da).map(|(x, y)| x * y).sum();
                for ki in 0..=qi {
                    let ds = a[ki] * (da[ki] - centre) * inv;
                    if ds == 0.0 {
                        continue;
                    }
                    for j in c.clone() {
                        dq[(o + qi) * d + j] += ds * key[(o + ki) * d + j];
                        dk[(o + ki) * d + j] += ds * query[(o + qi) * d + j];
                    }
                }
            }
        }
    }
    (dq, dk, dv)
}
