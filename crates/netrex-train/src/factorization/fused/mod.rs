//! The fused training kernel of bilinear models: scores, a built-in loss's hand-written
//! gradient ([`ExampleGradient`]) and the row gradients in one pass, with no dfdx tape.
//!
//! For `score = <p_u, q_i> + b_u + b_i` and a per-positive loss `l(pos, neg_1..neg_N)`
//! averaged over the batch with weights `w`, each positive adds, with `s = w / B`:
//! `dp_u = s (dl/dpos q_pos + sum_j dl/dneg_j q_j)`, `db_u = s (dl/dpos + sum_j dl/dneg_j)`,
//! `dq_pos = s dl/dpos p_u`, `dq_j = s dl/dneg_j p_u`, and the same factors on the item
//! biases. Negatives with a zero derivative (hinge losses) are not touched at all, so the
//! optimizer visits fewer rows than the dfdx path (which touches every gathered row).

use crate::optim::{RowStore, TrainedTable};
use netrex_losses::{
    checked_example, score_gradient, BatchScores, ExampleGradient, Loss, LossContext, ScoreGrads,
};
pub(crate) use netrex_representations::kernel::{add_scaled, dot};
use netrex_representations::{BilinearKernel, FeatureMap, FeatureMaps, SparseGrad, Table};

/// Where the kernel reads parameter rows from: plain tables, or tables shared by Hogwild
/// workers.
pub(crate) trait RowSource {
    /// Copies row `r` of table `t` into `out`.
    fn read(&self, t: usize, r: usize, out: &mut [f32]);
    /// Hints that row `r` of table `t` is needed soon.
    fn prefetch(&self, _t: usize, _r: usize) {}
    /// `dot(row r of table t, x)`, summed as [`dot`] sums, with no copy of the row where the
    /// tables allow (`tmp`: scratch of a row).
    fn dot_row(&self, t: usize, r: usize, x: &[f32], tmp: &mut [f32]) -> f32;
    /// `out += factor * row r of table t`, with no copy where the tables allow.
    fn add_scaled_row(&self, t: usize, r: usize, factor: f32, out: &mut [f32], tmp: &mut [f32]);
}

impl RowSource for [Table] {
    fn read(&self, t: usize, r: usize, out: &mut [f32]) {
        out.copy_from_slice(self[t].row(r));
    }
    fn dot_row(&self, t: usize, r: usize, x: &[f32], _tmp: &mut [f32]) -> f32 {
        dot(self[t].row(r), x)
    }
    fn add_scaled_row(&self, t: usize, r: usize, factor: f32, out: &mut [f32], _tmp: &mut [f32]) {
        add_scaled(out, factor, self[t].row(r));
    }
}

impl<S: RowStore> RowSource for [TrainedTable<'_, S>] {
    #[inline(always)]
    fn read(&self, t: usize, r: usize, out: &mut [f32]) {
        self[t].weights.read(r, out);
    }
    #[inline(always)]
    fn prefetch(&self, t: usize, r: usize) {
        self[t].weights.prefetch(r);
    }
    #[inline(always)]
    fn dot_row(&self, t: usize, r: usize, x: &[f32], tmp: &mut [f32]) -> f32 {
        self[t].weights.dot_row(r, x, tmp)
    }
    #[inline(always)]
    fn add_scaled_row(&self, t: usize, r: usize, factor: f32, out: &mut [f32], tmp: &mut [f32]) {
        self[t].weights.add_scaled_row(r, factor, out, tmp);
    }
}

/// Where the kernel finds the bilinear tables, their embedding dimension and the feature maps
/// of a side made of features (all checked when the model was built).
#[derive(Clone, Debug)]
pub(crate) struct Kernel {
    pub(crate) at: BilinearKernel,
    pub(crate) dim: usize,
    pub(crate) maps: FeatureMaps,
}

impl Kernel {
    /// Whether both sides are indexed by id (the per-example path and prefetching need it).
    pub(crate) fn plain(&self) -> bool {
        self.maps.user.is_none() && self.maps.item.is_none()
    }

    /// Every item's vector `(items x D)` and bias `(items)`, summed from features on a side
    /// made of features.
    pub(crate) fn item_rows(&self, tables: &[Table], items: usize) -> (Vec<f32>, Vec<f32>) {
        let side = (self.at.item, self.at.item_bias);
        self.side_rows(tables, side, self.maps.item.as_deref(), items)
    }

    /// Every user's vector `(users x D)` and bias `(users)`, as [`item_rows`](Self::item_rows).
    pub(crate) fn user_rows(&self, tables: &[Table], users: usize) -> (Vec<f32>, Vec<f32>) {
        let side = (self.at.user, self.at.user_bias);
        self.side_rows(tables, side, self.maps.user.as_deref(), users)
    }

    /// The vectors and biases of `count` ids of one side: its embedding and bias tables, and
    /// its feature map when the side is made of features.
    fn side_rows(
        &self,
        tables: &[Table],
        (embedding, bias): (usize, usize),
        map: Option<&FeatureMap>,
        count: usize,
    ) -> (Vec<f32>, Vec<f32>) {
        let dim = self.dim;
        let (mut rows, mut biases) = (vec![0.0f32; count * dim], vec![0.0f32; count]);
        let mut tmp = vec![0.0f32; dim.max(1)];
        for i in 0..count {
            let (id, row) = (i as u32, &mut rows[i * dim..(i + 1) * dim]);
            read_side(tables, embedding, map, id, row, &mut tmp);
            read_side(tables, bias, map, id, &mut biases[i..i + 1], &mut tmp);
        }
        (rows, biases)
    }

    /// Scores of every item for `user` (one per item in `scores`).
    pub(crate) fn scores(&self, tables: &[Table], user: u32, scores: &mut [f32]) {
        self.at.scores_with_maps(tables, &self.maps, user, scores);
    }
}

/// Row `id` of table `t` into `out`: the row, or the weighted sum of its features' rows when
/// the side has a `map` (`tmp`: scratch as long as `out`).
#[inline(always)]
pub(crate) fn read_side<S: RowSource + ?Sized>(
    tables: &S,
    t: usize,
    map: Option<&FeatureMap>,
    id: u32,
    out: &mut [f32],
    tmp: &mut [f32],
) {
    FeatureMap::compose_side(map, id, out, tmp, |r, into| tables.read(t, r, into));
}

/// `grad[id] += factor * x`, or, on a side made of features, `grad[f] += factor w_f x` for
/// each of `id`'s features (the gradient through the weighted sum).
#[inline(always)]
pub(crate) fn scatter(
    grad: &mut SparseGrad,
    map: Option<&FeatureMap>,
    id: u32,
    factor: f32,
    x: &[f32],
) {
    match map {
        None => add_scaled(grad.row_mut(id), factor, x),
        Some(map) => {
            let (features, weights) = map.row(id);
            for (&f, &w) in features.iter().zip(weights) {
                add_scaled(grad.row_mut(f), factor * w, x);
            }
        }
    }
}

/// One minibatch. Shapes: `users` (B), `positives` (B), `negatives` (B x N, row-major),
/// `weights` (B).
pub(crate) struct Batch<'a> {
    pub(crate) users: &'a [u32],
    pub(crate) positives: &'a [u32],
    pub(crate) negatives: &'a [u32],
    pub(crate) weights: Option<&'a [f32]>,
}

/// Buffers reused across batches.
#[derive(Default)]
pub(crate) struct Scratch {
    user: Vec<f32>,
    user_grad: Vec<f32>,
    /// `(1 + N) x D`: the positive's row, then the negatives'.
    items: Vec<f32>,
    item_bias: Vec<f32>,
    scores: Vec<f32>,
    negative_grad: Vec<f32>,
    /// The whole batch's scores and their gradients, for [`bilinear_batch_scored`].
    positive: Vec<f32>,
    negative: Vec<f32>,
    dscores: ScoreGrads,
    /// The positive's and its negatives' ids, `1 + N`.
    ids: Vec<u32>,
    user_bias: [f32; 1],
    /// A row's worth of scratch for summing feature rows.
    tmp: Vec<f32>,
    /// Every item's summed row and bias, made at the start of a batch when that costs less
    /// than summing the rows the batch reads (see [`cache_items`](Self::cache_items)).
    item_cache: Vec<f32>,
    bias_cache: Vec<f32>,
    cached: bool,
    /// With the cache: each item's gradient summed over the batch, spread over its features
    /// once at the end (not once per occurrence).
    item_grads: ItemGrads,
}

/// Per-item gradients of one batch, in dense rows, and which items have one.
#[derive(Default)]
struct ItemGrads {
    rows: Vec<f32>,
    biases: Vec<f32>,
    touched: Vec<u32>,
    is_touched: Vec<bool>,
}

impl ItemGrads {
    fn size(&mut self, items: usize, dim: usize) {
        self.rows.resize(items * dim, 0.0);
        self.biases.resize(items, 0.0);
        self.is_touched.resize(items, false);
    }

    /// Adds `factor * user` to item `item`'s gradient: into the batch's dense rows when the
    /// items are cached, else straight onto its features' rows.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn add(
        &mut self,
        cached: bool,
        grads: &mut [SparseGrad],
        kernel: &Kernel,
        item: u32,
        factor: f32,
        user: &[f32],
    ) {
        let (at, im) = (kernel.at, kernel.maps.item.as_deref());
        if !cached {
            scatter(&mut grads[at.item], im, item, factor, user);
            scatter(&mut grads[at.item_bias], im, item, factor, &[1.0]);
            return;
        }
        let (i, dim) = (item as usize, kernel.dim);
        add_scaled(&mut self.rows[i * dim..(i + 1) * dim], factor, user);
        self.biases[i] += factor;
        if !std::mem::replace(&mut self.is_touched[i], true) {
            self.touched.push(item);
        }
    }

    /// Spreads the summed item gradients over the items' features and clears them.
    fn flush(&mut self, grads: &mut [SparseGrad], kernel: &Kernel) {
        let (at, im, dim) = (kernel.at, kernel.maps.item.as_deref(), kernel.dim);
        for &item in &self.touched {
            let i = item as usize;
            let row = &mut self.rows[i * dim..(i + 1) * dim];
            scatter(&mut grads[at.item], im, item, 1.0, row);
            scatter(&mut grads[at.item_bias], im, item, self.biases[i], &[1.0]);
            row.iter_mut().for_each(|g| *g = 0.0);
            self.biases[i] = 0.0;
            self.is_touched[i] = false;
        }
        self.touched.clear();
    }
}

impl Scratch {
    /// Sizes the per-positive buffers for rows of `dim` and `n` negatives.
    fn size(&mut self, dim: usize, n: usize) {
        let m = 1 + n;
        self.user.resize(dim, 0.0);
        self.user_grad.resize(dim, 0.0);
        self.items.resize(m * dim, 0.0);
        self.item_bias.resize(m, 0.0);
        self.scores.resize(m, 0.0);
        self.negative_grad.resize(n, 0.0);
        self.ids.resize(m, 0);
        self.tmp.resize(dim.max(1), 0.0);
    }

    /// Reads positive `i`'s user row and scores its items (the positive, then its `n`
    /// negatives) into `scores`; asks for the rows of the positive [`PREFETCH_AHEAD`] later.
    /// Items made of features leave their summed rows in `items`; plain item rows are not
    /// copied.
    #[inline(always)]
    fn score_positive<S: RowSource + ?Sized>(
        &mut self,
        tables: &S,
        kernel: &Kernel,
        batch: &Batch<'_>,
        i: usize,
        n: usize,
    ) {
        let at = kernel.at;
        if !kernel.plain() {
            return self.score_composed(tables, kernel, batch, i, n);
        }
        self.prefetch_ahead(tables, kernel, batch, i, n);
        let u = batch.users[i] as usize;
        self.ids[0] = batch.positives[i];
        self.ids[1..].copy_from_slice(&batch.negatives[i * n..(i + 1) * n]);
        tables.read(at.user, u, &mut self.user);
        tables.read(at.user_bias, u, &mut self.user_bias);
        // item rows are read where they lie: a hinge loss steps few of them, and those are
        // read again for their gradient (the tables do not change within a batch)
        for (k, &item) in self.ids.iter().enumerate() {
            let dot_product = tables.dot_row(at.item, item as usize, &self.user, &mut self.tmp);
            tables.read(at.item_bias, item as usize, &mut self.item_bias[k..k + 1]);
            self.scores[k] = dot_product + self.user_bias[0] + self.item_bias[k];
        }
    }

    /// Asks for the rows of positive `i + PREFETCH_AHEAD` (plain tables only).
    #[inline(always)]
    fn prefetch_ahead<S: RowSource + ?Sized>(
        &self,
        tables: &S,
        kernel: &Kernel,
        batch: &Batch<'_>,
        i: usize,
        n: usize,
    ) {
        let at = kernel.at;
        let b = batch.users.len();
        if i + PREFETCH_AHEAD < b {
            let ahead = i + PREFETCH_AHEAD;
            // biases too: a bias is a line of its own, and the first read of each example
            let (user, positive) = (batch.users[ahead] as usize, batch.positives[ahead] as usize);
            tables.prefetch(at.user, user);
            tables.prefetch(at.user_bias, user);
            tables.prefetch(at.item, positive);
            tables.prefetch(at.item_bias, positive);
            for &item in &batch.negatives[ahead * n..(ahead + 1) * n] {
                tables.prefetch(at.item, item as usize);
                tables.prefetch(at.item_bias, item as usize);
            }
        }
    }

    /// Sums every item's row once for this batch when items are made of features and there
    /// are fewer items than rows the batch will read (`b` positives of `1 + n` items each):
    /// a batch then reads summed rows, and the tables do not change within it.
    fn cache_items<S: RowSource + ?Sized>(
        &mut self,
        tables: &S,
        kernel: &Kernel,
        b: usize,
        n: usize,
    ) {
        self.cached = false;
        let Some(map) = kernel.maps.item.as_deref() else {
            return;
        };
        let items = map.rows();
        if items > b * (1 + n) {
            return;
        }
        let (at, dim) = (kernel.at, kernel.dim);
        self.item_grads.size(items, dim);
        self.item_cache.resize(items * dim, 0.0);
        self.bias_cache.resize(items, 0.0);
        let tmp = &mut self.tmp;
        for i in 0..items {
            let row = &mut self.item_cache[i * dim..(i + 1) * dim];
            read_side(tables, at.item, Some(map), i as u32, row, tmp);
            let bias = &mut self.bias_cache[i..i + 1];
            read_side(tables, at.item_bias, Some(map), i as u32, bias, tmp);
        }
        self.cached = true;
    }

    /// Item `id`'s row and bias into `row` and `bias`: from the batch's cache, else summed.
    #[inline(always)]
    fn read_item<S: RowSource + ?Sized>(&mut self, tables: &S, kernel: &Kernel, id: u32, k: usize) {
        let dim = kernel.dim;
        let row = &mut self.items[k * dim..(k + 1) * dim];
        if self.cached {
            let i = id as usize;
            row.copy_from_slice(&self.item_cache[i * dim..(i + 1) * dim]);
            self.item_bias[k] = self.bias_cache[i];
            return;
        }
        let im = kernel.maps.item.as_deref();
        read_side(tables, kernel.at.item, im, id, row, &mut self.tmp);
        let bias = &mut self.item_bias[k..k + 1];
        read_side(tables, kernel.at.item_bias, im, id, bias, &mut self.tmp);
    }

    /// [`score_positive`](Self::score_positive) with rows summed from features.
    fn score_composed<S: RowSource + ?Sized>(
        &mut self,
        tables: &S,
        kernel: &Kernel,
        batch: &Batch<'_>,
        i: usize,
        n: usize,
    ) {
        let (at, dim) = (kernel.at, kernel.dim);
        let um = kernel.maps.user.as_deref();
        let u = batch.users[i];
        self.ids[0] = batch.positives[i];
        self.ids[1..].copy_from_slice(&batch.negatives[i * n..(i + 1) * n]);
        let tmp = &mut self.tmp;
        read_side(tables, at.user, um, u, &mut self.user, tmp);
        read_side(tables, at.user_bias, um, u, &mut self.user_bias, tmp);
        for k in 0..self.ids.len() {
            self.read_item(tables, kernel, self.ids[k], k);
            let row = &self.items[k * dim..(k + 1) * dim];
            self.scores[k] = dot(&self.user, row) + self.user_bias[0] + self.item_bias[k];
        }
    }
}

/// How many positives ahead the kernel asks for their rows to be fetched.
const PREFETCH_AHEAD: usize = 6;

pub(crate) mod passes;

pub(crate) mod hot_items;
pub(crate) mod per_example;
#[cfg(test)]
mod tests;
