//! SASRec's forward and backward passes by hand, over the real positions only.
//!
//! Padding never reaches a real position (keys are masked, every other op is position-wise), so
//! each chunk of rows packs its real positions into one matrix: the projections and the
//! feed-forward layer are a few large products, attention runs per row and head over its own
//! positions, and padding costs nothing (most rows of a left-padded batch are padding).

use rayon::prelude::*;

use super::attention::{attend, attend_back};
use super::dense::{
    add_bias, column_sums, input_grad, layer_norm, layer_norm_back, project, weight_grad,
};
use super::frequency::Branch;
use super::{add_in_chunk_order, BackwardPass, EncoderTrace, HostEncoder, CHUNK};
use crate::sequence::sasrec_parts::{
    dropout_factor, frequency_layer, position_row, row_start, BlockLayout, FrequencySpec,
};
use crate::table::Table;

/// [`crate::Sasrec`] by hand.
pub struct SasrecKernel<'a> {
    tables: &'a [Table],
    heads: usize,
    dropout: f32,
    dim: usize,
    blocks: usize,
    /// The frequency branch (BSARec, FMLP-Rec).
    frequency: Option<Branch>,
    layout: BlockLayout,
}

// per block saved vectors, in order
const X_IN: usize = 0;
const XHAT1: usize = 1;
const RSTD1: usize = 2;
const Q_IN: usize = 3;
const QUERY: usize = 4;
const KEY: usize = 5;
const VALUE: usize = 6;
const WEIGHTS: usize = 7;
const CONTEXT: usize = 8;
const MASK1: usize = 9;
const XHAT2: usize = 10;
const RSTD2: usize = 11;
const F_IN: usize = 12;
const HIDDEN: usize = 13;
const MASK2: usize = 14;
const DROPPED: usize = 15;
const MASK3: usize = 16;
const LOW: usize = 17;
const MASKF: usize = 18;
const PER_BLOCK: usize = 19;
// per chunk, after the blocks
const MASK0: usize = 0;
const XHATF: usize = 1;
const RSTDF: usize = 2;
const GLOBAL: usize = 3;

/// A chunk's real positions: `(row in the batch, step)` each, and each row's segment.
struct Packing {
    at: Vec<(usize, usize)>,
    segments: Vec<(usize, usize)>,
}

impl Packing {
    fn of(ids: &[u32], t: usize, first_row: usize) -> Packing {
        let (mut at, mut segments) = (Vec::new(), Vec::new());
        for (r, row) in ids.chunks(t).enumerate() {
            let start = row_start(row);
            segments.push((at.len(), t - start));
            at.extend((start..t).map(|s| (first_row + r, s)));
        }
        Packing { at, segments }
    }
}

impl<'a> SasrecKernel<'a> {
    /// The kernel over a [`crate::Sasrec`]'s tables.
    pub fn new(
        tables: &'a [Table],
        heads: usize,
        dropout: f32,
        frequency: Option<FrequencySpec>,
    ) -> Self {
        let extra = 5 + usize::from(frequency.is_some());
        SasrecKernel {
            tables,
            heads,
            dropout,
            dim: tables[0].cols(),
            blocks: (tables.len() - extra) / BlockLayout::of(frequency.as_ref()).len(),
            layout: BlockLayout::of(frequency.as_ref()),
            frequency: frequency.map(|f| Branch::new(f, tables[0].cols())),
        }
    }

    fn w(&self, block: usize, k: usize) -> &[f32] {
        self.tables[2 + self.dense(block, k)].data()
    }

    /// The index of `final_gain` among all tables (`final_bias` and `freq_beta` follow).
    fn finals(&self) -> usize {
        3 + self.blocks * self.layout.len()
    }

    /// The frequency branch's table (`freq_beta` or `freq_filter`; empty without a branch).
    fn branch_table(&self) -> &[f32] {
        self.tables.get(self.finals() + 2).map_or(&[], |t| t.data())
    }

    /// Whether the blocks attend (all but FMLP-Rec).
    fn attends(&self) -> bool {
        self.layout.attends()
    }

    /// The index of block table `k` among the dense tables (gradients' order).
    fn dense(&self, block: usize, k: usize) -> usize {
        1 + block * self.layout.len() + self.layout.slot(k)
    }

    /// A dropout mask over the packed positions (empty when there is no dropout).
    fn mask(&self, seed: Option<u64>, layer: u64, pack: &Packing, t: usize) -> Vec<f32> {
        let (d, p) = (self.dim, self.dropout);
        match seed {
            Some(seed) if p > 0.0 => pack
                .at
                .iter()
                .flat_map(|&(r, s)| {
                    (0..d)
                        .map(move |j| dropout_factor(seed, layer, ((r * t + s) * d + j) as u64, p))
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Forward over one chunk of rows: writes their outputs, returns the saved vectors.
    fn forward_chunk(
        &self,
        inputs: &[f32],
        ids: &[u32],
        t: usize,
        first_row: usize,
        seed: Option<u64>,
        out: &mut [f32],
    ) -> Vec<Vec<f32>> {
        let d = self.dim;
        let pack = Packing::of(ids, t, first_row);
        let m = pack.at.len();
        let position = &self.tables[2];
        let positions = position.rows();
        let scale = (d as f32).sqrt();
        let mut x = vec![0.0f32; m * d];
        for (p, &(r, s)) in pack.at.iter().enumerate() {
            let local = (r - first_row) * t + s;
            let e = &inputs[local * d..(local + 1) * d];
            let pos = position.row(position_row(s, t, positions));
            for k in 0..d {
                x[p * d + k] = e[k] * scale + pos[k];
            }
        }
        let mask0 = self.mask(seed, 0, &pack, t);
        if !mask0.is_empty() {
            x.iter_mut().zip(&mask0).for_each(|(v, f)| *v *= f);
        }
        let mut saved: Vec<Vec<f32>> = Vec::with_capacity(self.blocks * PER_BLOCK + GLOBAL);
        for block in 0..self.blocks {
            let w = |k: usize| self.w(block, k);
            let (mut xhat1, mut rstd1, mut q_in) =
                (vec![0.0; m * d], vec![0.0; m], vec![0.0; m * d]);
            layer_norm(&x, w(0), w(1), &mut xhat1, &mut rstd1, &mut q_in);
            let (mut query, mut key, mut value) = (Vec::new(), Vec::new(), Vec::new());
            let (mut weights, mut context, mut mask1) = (Vec::new(), Vec::new(), Vec::new());
            let mut x1 = vec![0.0f32; m * d];
            if self.attends() {
                (query, key, value) = (vec![0.0; m * d], vec![0.0; m * d], vec![0.0; m * d]);
                project(&q_in, w(2), d, &mut query, false);
                add_bias(&mut query, w(3));
                project(&x, w(4), d, &mut key, false);
                add_bias(&mut key, w(5));
                project(&x, w(6), d, &mut value, false);
                add_bias(&mut value, w(7));
                (weights, context) = attend(&query, &key, &value, &pack.segments, self.heads, d);
                project(&context, w(8), d, &mut x1, false);
                add_bias(&mut x1, w(9));
                mask1 = self.mask(seed, 3 * block as u64 + 1, &pack, t);
                if !mask1.is_empty() {
                    x1.iter_mut().zip(&mask1).for_each(|(v, f)| *v *= f);
                }
            }
            let (mut low, mut maskf) = (Vec::new(), Vec::new());
            if let Some(branch) = &self.frequency {
                // x1 = q_in + (1 - mix) attention + mix dropout(F(q_in))
                let f;
                (f, low) = branch.forward(self.branch_table(), block, &q_in, &pack.segments, d);
                maskf = self.mask(seed, frequency_layer(block), &pack, t);
                let mix = branch.mix;
                for (p, v) in x1.iter_mut().enumerate() {
                    let keep = if maskf.is_empty() { 1.0 } else { maskf[p] };
                    *v = *v * (1.0 - mix) + f[p] * keep * mix;
                }
            }
            x1.iter_mut().zip(&q_in).for_each(|(v, q)| *v += q);
            let (mut xhat2, mut rstd2, mut f_in) =
                (vec![0.0; m * d], vec![0.0; m], vec![0.0; m * d]);
            layer_norm(&x1, w(10), w(11), &mut xhat2, &mut rstd2, &mut f_in);
            let mut hidden = vec![0.0f32; m * d];
            project(&f_in, w(12), d, &mut hidden, false);
            add_bias(&mut hidden, w(13));
            hidden.iter_mut().for_each(|v| *v = v.max(0.0));
            let mask2 = self.mask(seed, 3 * block as u64 + 2, &pack, t);
            let dropped: Vec<f32> = if mask2.is_empty() {
                hidden.clone()
            } else {
                hidden.iter().zip(&mask2).map(|(a, b)| a * b).collect()
            };
            let mut ff = vec![0.0f32; m * d];
            project(&dropped, w(14), d, &mut ff, false);
            add_bias(&mut ff, w(15));
            let mask3 = self.mask(seed, 3 * block as u64 + 3, &pack, t);
            if !mask3.is_empty() {
                ff.iter_mut().zip(&mask3).for_each(|(v, f)| *v *= f);
            }
            let next: Vec<f32> = ff.iter().zip(&f_in).map(|(a, b)| a + b).collect();
            saved.extend([
                std::mem::replace(&mut x, next),
                xhat1,
                rstd1,
                q_in,
                query,
                key,
                value,
                weights,
                context,
                mask1,
                xhat2,
                rstd2,
                f_in,
                hidden,
                mask2,
                dropped,
                mask3,
                low,
                maskf,
            ]);
        }
        let k = self.finals();
        let (mut xhatf, mut rstdf, mut y) = (vec![0.0; m * d], vec![0.0; m], vec![0.0; m * d]);
        layer_norm(
            &x,
            self.tables[k].data(),
            self.tables[k + 1].data(),
            &mut xhatf,
            &mut rstdf,
            &mut y,
        );
        for (p, &(r, s)) in pack.at.iter().enumerate() {
            let local = (r - first_row) * t + s;
            out[local * d..(local + 1) * d].copy_from_slice(&y[p * d..(p + 1) * d]);
        }
        saved.extend([mask0, xhatf, rstdf]);
        saved
    }

    /// Backward over one chunk: adds its rows' input gradients to `dx_out`, returns its dense
    /// tables' gradients.
    #[allow(clippy::too_many_arguments)]
    fn backward_chunk(
        &self,
        ids: &[u32],
        t: usize,
        first_row: usize,
        saved: &[Vec<f32>],
        d_out: &[f32],
        dx_out: &mut [f32],
    ) -> Vec<Vec<f32>> {
        let d = self.dim;
        let pack = Packing::of(ids, t, first_row);
        let m = pack.at.len();
        let mut dw: Vec<Vec<f32>> = self.tables[2..]
            .iter()
            .map(|t| vec![0.0; t.data().len()])
            .collect();
        let nd = self.finals() - 2;
        let global = &saved[self.blocks * PER_BLOCK..];
        let mut dy = vec![0.0f32; m * d];
        for (p, &(r, s)) in pack.at.iter().enumerate() {
            let local = (r - first_row) * t + s;
            dy[p * d..(p + 1) * d].copy_from_slice(&d_out[local * d..(local + 1) * d]);
        }
        let mut dx = vec![0.0f32; m * d];
        {
            let (dg, db) = dw[nd..].split_at_mut(1);
            layer_norm_back(
                &dy,
                &global[XHATF],
                &global[RSTDF],
                self.tables[nd + 2].data(),
                &mut dx,
                &mut dg[0],
                &mut db[0],
            );
        }
        for block in (0..self.blocks).rev() {
            let sv = &saved[block * PER_BLOCK..(block + 1) * PER_BLOCK];
            let w = |k: usize| self.w(block, k);
            let at = |k: usize| self.dense(block, k);
            // x = f_in + dropout(dropped W2 + b2)
            let mut d_f_in = dx.clone();
            let mut dff = dx;
            if !sv[MASK3].is_empty() {
                dff.iter_mut().zip(&sv[MASK3]).for_each(|(g, f)| *g *= f);
            }
            weight_grad(&sv[DROPPED], &dff, d, &mut dw[at(14)]);
            column_sums(&mut dw[at(15)], &dff);
            let mut dhidden = vec![0.0f32; m * d];
            input_grad(&dff, w(14), d, &mut dhidden);
            for (i, g) in dhidden.iter_mut().enumerate() {
                let keep = if sv[MASK2].is_empty() {
                    1.0
                } else {
                    sv[MASK2][i]
                };
                *g *= if sv[HIDDEN][i] > 0.0 { keep } else { 0.0 };
            }
            weight_grad(&sv[F_IN], &dhidden, d, &mut dw[at(12)]);
            column_sums(&mut dw[at(13)], &dhidden);
            input_grad(&dhidden, w(12), d, &mut d_f_in);
            // f_in = LN2(x1)
            let mut dx1 = vec![0.0f32; m * d];
            {
                let (lo, hi) = dw.split_at_mut(at(11));
                layer_norm_back(
                    &d_f_in,
                    &sv[XHAT2],
                    &sv[RSTD2],
                    w(10),
                    &mut dx1,
                    &mut lo[at(10)],
                    &mut hi[0],
                );
            }
            // x1 = q_in + (1 - mix) dropout(context W_out + b_out) + mix dropout(F(q_in))
            let mut d_q_in = dx1.clone();
            let mut dout = dx1;
            if let Some(branch) = &self.frequency {
                let mix = branch.mix;
                let df: Vec<f32> = dout
                    .iter()
                    .enumerate()
                    .map(|(p, g)| g * mix * sv[MASKF].get(p).copied().unwrap_or(1.0))
                    .collect();
                branch.backward(
                    self.branch_table(),
                    block,
                    (&sv[Q_IN], &sv[LOW]),
                    &df,
                    &pack.segments,
                    d,
                    &mut d_q_in,
                    &mut dw[nd + 2],
                );
                dout.iter_mut().for_each(|g| *g *= 1.0 - mix);
            }
            let mut dx_in = vec![0.0f32; m * d];
            if self.attends() {
                if !sv[MASK1].is_empty() {
                    dout.iter_mut().zip(&sv[MASK1]).for_each(|(g, f)| *g *= f);
                }
                weight_grad(&sv[CONTEXT], &dout, d, &mut dw[at(8)]);
                column_sums(&mut dw[at(9)], &dout);
                let mut dcontext = vec![0.0f32; m * d];
                input_grad(&dout, w(8), d, &mut dcontext);
                let saved = (
                    &sv[QUERY][..],
                    &sv[KEY][..],
                    &sv[VALUE][..],
                    &sv[WEIGHTS][..],
                );
                let (dq, dk, dv) = attend_back(saved, &dcontext, &pack.segments, self.heads, d);
                weight_grad(&sv[Q_IN], &dq, d, &mut dw[at(2)]);
                column_sums(&mut dw[at(3)], &dq);
                input_grad(&dq, w(2), d, &mut d_q_in);
                weight_grad(&sv[X_IN], &dk, d, &mut dw[at(4)]);
                column_sums(&mut dw[at(5)], &dk);
                input_grad(&dk, w(4), d, &mut dx_in);
                weight_grad(&sv[X_IN], &dv, d, &mut dw[at(6)]);
                column_sums(&mut dw[at(7)], &dv);
                input_grad(&dv, w(6), d, &mut dx_in);
            }
            {
                let (lo, hi) = dw.split_at_mut(at(1));
                layer_norm_back(
                    &d_q_in,
                    &sv[XHAT1],
                    &sv[RSTD1],
                    w(0),
                    &mut dx_in,
                    &mut lo[at(0)],
                    &mut hi[0],
                );
            }
            dx = dx_in;
        }
        // x0 = dropout(sqrt(D) e + P[position])
        if !global[MASK0].is_empty() {
            dx.iter_mut().zip(&global[MASK0]).for_each(|(g, f)| *g *= f);
        }
        let scale = (d as f32).sqrt();
        let positions = self.tables[2].rows();
        for (p, &(r, s)) in pack.at.iter().enumerate() {
            let local = (r - first_row) * t + s;
            let g = &dx[p * d..(p + 1) * d];
            dx_out[local * d..(local + 1) * d]
                .iter_mut()
                .zip(g)
                .for_each(|(o, v)| *o += v * scale);
            let row = position_row(s, t, positions);
            dw[0][row * d..(row + 1) * d]
                .iter_mut()
                .zip(g)
                .for_each(|(o, v)| *o += v);
        }
        dw
    }

    fn run_forward(
        &self,
        inputs: &[f32],
        ids: &[u32],
        batch: usize,
        seed: Option<u64>,
    ) -> EncoderTrace {
        let d = self.dim;
        let t = ids.len() / batch.max(1);
        let mut outputs = vec![0.0f32; inputs.len()];
        let per = CHUNK * t;
        let saved: Vec<Vec<Vec<f32>>> = outputs
            .par_chunks_mut(per * d)
            .zip(inputs.par_chunks(per * d))
            .zip(ids.par_chunks(per))
            .enumerate()
            .map(|(chunk, ((out, x), ids))| self.forward_chunk(x, ids, t, chunk * CHUNK, seed, out))
            .collect();
        let saved = saved.into_iter().flatten().collect();
        EncoderTrace::new(batch, t, outputs, saved)
    }
}

impl HostEncoder for SasrecKernel<'_> {
    fn forward(&self, inputs: &[f32], ids: &[u32], batch: usize) -> EncoderTrace {
        self.run_forward(inputs, ids, batch, None)
    }

    fn forward_training(
        &self,
        inputs: &[f32],
        ids: &[u32],
        batch: usize,
        seed: u64,
    ) -> EncoderTrace {
        self.run_forward(inputs, ids, batch, Some(seed))
    }

    fn backward(&self, pass: BackwardPass<'_>, d_inputs: &mut [f32], d_whole: &mut [Vec<f32>]) {
        let (ids, trace) = (pass.ids, pass.trace);
        let (d, t) = (self.dim, trace.steps);
        let per = CHUNK * t;
        let size = self.blocks * PER_BLOCK + GLOBAL;
        let partial: Vec<Vec<Vec<f32>>> = d_inputs
            .par_chunks_mut(per * d)
            .zip(ids.par_chunks(per))
            .zip(pass.d_outputs.par_chunks(per * d))
            .enumerate()
            .map(|(chunk, ((dx, ids), dy))| {
                let saved = &trace.saved[chunk * size..(chunk + 1) * size];
                self.backward_chunk(ids, t, chunk * CHUNK, saved, dy, dx)
            })
            .collect();
        add_in_chunk_order(d_whole, &partial);
    }
}
