//! Per-example SGD: one positive at a time, updates written straight into the tables.

use super::hot_items::HotItems;
use super::*;
use crate::optim::{prefetch_lines, sgd_values, step_values};

/// What per-example SGD trains: the tables, the kernel that scores them, and the loss.
pub(crate) struct Trained<'a, 't, S> {
    pub(crate) tables: &'a [TrainedTable<'t, S>],
    pub(crate) kernel: &'a Kernel,
    pub(crate) loss: &'a dyn ExampleGradient,
    pub(crate) context: &'a LossContext,
}

/// Plain SGD one positive at a time (batch size 1), as LightFM and implicit train: each
/// positive's update is written straight into the tables, with no row gradients kept and no
/// optimizer pass. The update is the one [`bilinear_batch`] and the optimizer's SGD step give
/// a batch of one (`w -= lr (g + l2 w)` on each row with a non-zero gradient, repeated items
/// summed first).
///
/// Returns the sum of `loss * weight` over the positives, or the index and value of the first
/// positive whose loss is not finite (nothing of it is applied).
pub(crate) fn sgd_examples<S: RowStore>(
    model: &Trained<'_, '_, S>,
    batch: &Batch<'_>,
    rule: (f32, f32),
    scratch: &mut Scratch,
    hot: Option<&mut HotItems<'_>>,
) -> Result<f64, (usize, f32)> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked just above)
        return unsafe { sgd_examples_avx2(model, batch, rule, scratch, hot) };
    }
    sgd_examples_inline(model, batch, rule, scratch, hot)
}

/// [`sgd_examples`] compiled for AVX2: eight lanes per vector op instead of SSE2's four.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn sgd_examples_avx2<S: RowStore>(
    model: &Trained<'_, '_, S>,
    batch: &Batch<'_>,
    rule: (f32, f32),
    scratch: &mut Scratch,
    hot: Option<&mut HotItems<'_>>,
) -> Result<f64, (usize, f32)> {
    sgd_examples_inline(model, batch, rule, scratch, hot)
}

#[inline(always)]
fn sgd_examples_inline<S: RowStore>(
    model: &Trained<'_, '_, S>,
    batch: &Batch<'_>,
    rule: (f32, f32),
    scratch: &mut Scratch,
    hot: Option<&mut HotItems<'_>>,
) -> Result<f64, (usize, f32)> {
    if S::IN_PLACE && hot.is_none() && batch.negatives.len() == batch.users.len() {
        return sgd_pairs(model, batch, rule, scratch);
    }
    sgd_examples_each(model, batch, rule, scratch, hot)
}

/// One example of one negative: its user and its two items (the positive, then the negative).
#[derive(Clone, Copy)]
struct Pair {
    user: usize,
    items: [usize; 2],
}

impl Pair {
    #[inline(always)]
    fn of(batch: &Batch<'_>, i: usize) -> Self {
        Pair {
            user: batch.users[i] as usize,
            items: [batch.positives[i] as usize, batch.negatives[i] as usize],
        }
    }

    /// Whether the two examples read and write no row in common.
    #[inline(always)]
    fn disjoint(&self, other: &Pair) -> bool {
        let [p, q] = self.items;
        self.user != other.user && !other.items.contains(&p) && !other.items.contains(&q)
    }
}

/// The four tables of the bilinear kernel, opened for per-example SGD.
struct PairTables<'a, S> {
    user: &'a S,
    user_bias: &'a S,
    item: &'a S,
    item_bias: &'a S,
}

impl<S: RowStore> PairTables<'_, S> {
    /// Steps the example's rows by the loss's factors (see [`loss_factors`]), `user` being the
    /// user's row as scored and `grad` a buffer for its gradient.
    #[inline(always)]
    fn step(
        &self,
        e: &Pair,
        (factors, touched): ([f32; 2], [bool; 2]),
        user: &[f32],
        grad: &mut [f32],
        rule: (f32, f32),
        tmp: &mut [f32],
    ) {
        grad.iter_mut().for_each(|g| *g = 0.0);
        let mut bias_grad = 0.0;
        for k in 0..2 {
            if !touched[k] {
                continue;
            }
            let (d, id) = (factors[k], e.items[k]);
            self.item.step_row(id, d, user, rule, grad, tmp);
            bias_grad += d;
            self.item_bias.sgd_row(id, &[d], rule, tmp);
        }
        self.user.sgd_row(e.user, grad, rule, tmp);
        self.user_bias.sgd_row(e.user, &[bias_grad], rule, tmp);
    }
}

/// The loss of an example of one negative scored `scores` (positive, negative), and the
/// factors its two item rows are stepped by, with whether each is stepped at all (a positive
/// that is also the negative is one row, stepped once by the sum).
#[inline(always)]
fn loss_factors(
    model_loss: &dyn ExampleGradient,
    context: &LossContext,
    e: &Pair,
    scores: [f32; 2],
    weight: f32,
) -> (f32, ([f32; 2], [bool; 2])) {
    let mut negative_grad = [0.0f32];
    let (value, dpos) = checked_example(
        model_loss,
        scores[0],
        &scores[1..],
        &mut negative_grad,
        context,
    );
    let mut factors = [dpos * weight, negative_grad[0] * weight];
    let mut touched = [dpos != 0.0, factors[1] != 0.0];
    if e.items[0] == e.items[1] {
        factors = [factors[0] + factors[1], 0.0];
        touched = [touched[0] | touched[1], false];
    }
    (value, (factors, touched))
}

/// [`sgd_examples_each`] for one negative per positive on rows stepped in place (one thread,
/// or a stratum's worker), two examples at a time where they share no row (see
/// [`pair_loop`]), on [`PlainTables`]; one at a time ([`sgd_examples_each`]) where the tables
/// cannot be opened so.
#[inline(always)]
pub(super) fn sgd_pairs<S: RowStore>(
    model: &Trained<'_, '_, S>,
    batch: &Batch<'_>,
    rule: (f32, f32),
    scratch: &mut Scratch,
) -> Result<f64, (usize, f32)> {
    let (tables, kernel, loss, context) = (model.tables, model.kernel, model.loss, model.context);
    debug_assert!(kernel.plain(), "per-example SGD writes id rows");
    let at = kernel.at;
    let rows = PairTables {
        user: &tables[at.user].weights,
        user_bias: &tables[at.user_bias].weights,
        item: &tables[at.item].weights,
        item_bias: &tables[at.item_bias].weights,
    };
    match PlainTables::open(&rows, batch, kernel.dim) {
        Some(plain) => {
            scratch.size(kernel.dim, 1);
            let steps = PlainSteps { plain, rows };
            // SAFETY: `steps` were opened for `batch` just above
            unsafe { pair_loop(&steps, batch, (loss, context), rule, scratch) }
        }
        // widths other than the kernel's, or ids beyond the tables (which the data's checks
        // rule out): one at a time, through the stores
        None => sgd_examples_each(model, batch, rule, scratch, None),
    }
}

/// Per-example SGD on examples of one negative, two at a time where they share no row: both
/// are scored before either is stepped, so that the CPU runs the two chains of loads, dot
/// products and loss side by side. As neither reads a row the other writes, the result is the
/// one-at-a-time result to the bit.
///
/// # Safety
/// `steps` were opened ([`PlainTables::open`]) for `batch`.
#[inline(always)]
unsafe fn pair_loop<S: RowStore>(
    steps: &PlainSteps<'_, S>,
    batch: &Batch<'_>,
    (loss, context): (&dyn ExampleGradient, &LossContext),
    rule: (f32, f32),
    scratch: &mut Scratch,
) -> Result<f64, (usize, f32)> {
    let b = batch.users.len();
    let weight = |i: usize| batch.weights.map_or(1.0, |w| w[i]);
    let mut total = 0.0f64;
    let mut i = 0;
    // SAFETY (of every `score` and `step` below): their examples are `batch`'s, which `steps`
    // were opened for (the caller's contract)
    while i < b {
        steps.plain.prefetch_ahead(batch, i);
        let first = Pair::of(batch, i);
        let second = (i + 1 < b)
            .then(|| Pair::of(batch, i + 1))
            .filter(|e| first.disjoint(e));
        let Some(second) = second else {
            let scores = unsafe { steps.plain.score(&first) };
            let (value, factors) = loss_factors(loss, context, &first, scores, weight(i));
            if !value.is_finite() {
                return Err((i, value));
            }
            total += f64::from(value) * f64::from(weight(i));
            unsafe { steps.step(&first, factors, rule, scratch) };
            i += 1;
            continue;
        };
        let scores = unsafe { [steps.plain.score(&first), steps.plain.score(&second)] };
        let (value, factors) = loss_factors(loss, context, &first, scores[0], weight(i));
        let (next_value, next_factors) =
            loss_factors(loss, context, &second, scores[1], weight(i + 1));
        if !value.is_finite() {
            return Err((i, value));
        }
        total += f64::from(value) * f64::from(weight(i));
        unsafe { steps.step(&first, factors, rule, scratch) };
        if !next_value.is_finite() {
            return Err((i + 1, next_value));
        }
        total += f64::from(next_value) * f64::from(weight(i + 1));
        unsafe { steps.step(&second, next_factors, rule, scratch) };
        // the next pair's rows were asked for by the first of this one; ask for the one after
        steps.plain.prefetch_ahead(batch, i + 1);
        i += 2;
    }
    Ok(total)
}

/// The four tables of the bilinear kernel as one thread's plain rows (see
/// [`RowStore::plain`]), every id of the batch checked against them once: what
/// [`pair_loop`] addresses rows through, with no bounds check, no row copied and the three
/// rows of an example stepped in one pass.
struct PlainTables {
    user: *mut f32,
    user_bias: *mut f32,
    item: *mut f32,
    item_bias: *mut f32,
    dim: usize,
}

impl PlainTables {
    /// The tables as plain rows, if they are one thread's, have the kernel's widths, and hold
    /// every row `batch` names.
    fn open<S: RowStore>(rows: &PairTables<'_, S>, batch: &Batch<'_>, dim: usize) -> Option<Self> {
        let widths = [
            (rows.user, dim),
            (rows.user_bias, 1),
            (rows.item, dim),
            (rows.item_bias, 1),
        ];
        if dim == 0 || widths.iter().any(|(t, cols)| t.cols() != *cols) {
            return None;
        }
        let fits = |ids: &[u32], t: &S, u: &S| {
            let last = ids.iter().copied().max().map_or(0, |m| m as usize + 1);
            last <= t.rows() && last <= u.rows()
        };
        let items_fit = fits(batch.positives, rows.item, rows.item_bias)
            && fits(batch.negatives, rows.item, rows.item_bias);
        if !fits(batch.users, rows.user, rows.user_bias) || !items_fit {
            return None;
        }
        Some(PlainTables {
            user: rows.user.plain()?,
            user_bias: rows.user_bias.plain()?,
            item: rows.item.plain()?,
            item_bias: rows.item_bias.plain()?,
            dim,
        })
    }

    /// Asks for the lines of the rows of example `i +` [`PREFETCH_AHEAD`] of `batch`, if any.
    #[inline(always)]
    fn prefetch_ahead(&self, batch: &Batch<'_>, i: usize) {
        if i + PREFETCH_AHEAD < batch.users.len() {
            self.prefetch(&Pair::of(batch, i + PREFETCH_AHEAD));
        }
    }

    /// Asks for the lines of example `e`'s rows and biases.
    #[inline(always)]
    fn prefetch(&self, e: &Pair) {
        let bytes = self.dim * std::mem::size_of::<f32>();
        // SAFETY (of the `add`s): the batch's ids were checked against the tables in `open`
        unsafe {
            prefetch_lines(self.user.add(e.user * self.dim).cast(), bytes);
            prefetch_lines(self.user_bias.add(e.user).cast(), 4);
            for &id in &e.items {
                prefetch_lines(self.item.add(id * self.dim).cast(), bytes);
                prefetch_lines(self.item_bias.add(id).cast(), 4);
            }
        }
    }

    /// Example `e`'s two scores (positive, negative), both biases included, summed as the
    /// stores' `dot_row` sums.
    ///
    /// # Safety
    /// `e` is one of the checked batch's examples, and no reference into the tables lives.
    #[inline(always)]
    unsafe fn score(&self, e: &Pair) -> [f32; 2] {
        let dim = self.dim;
        // SAFETY: rows in bounds (checked in `open`); nothing writes the tables while these
        // shared borrows live
        unsafe {
            let user = std::slice::from_raw_parts(self.user.add(e.user * dim), dim);
            let user_bias = *self.user_bias.add(e.user);
            let mut scores = [0.0f32; 2];
            for (score, &id) in scores.iter_mut().zip(&e.items) {
                let row = std::slice::from_raw_parts(self.item.add(id * dim), dim);
                *score = dot(row, user) + user_bias + *self.item_bias.add(id);
            }
            scores
        }
    }

    /// Steps example `e`'s two item rows by `factors` and its user row by their gradient,
    /// element by element in one pass, as [`PairTables::step`] does for two touched,
    /// distinct items: the same operations in the same order, so the same values to the bit.
    ///
    /// # Safety
    /// As [`score`](Self::score); and `e`'s two items differ.
    #[inline(always)]
    unsafe fn step_both(&self, e: &Pair, [dp, dn]: [f32; 2], (lr, l2): (f32, f32)) {
        let dim = self.dim;
        let [p, n] = e.items;
        debug_assert_ne!(p, n);
        // SAFETY: rows in bounds (checked in `open`); the two item rows differ and the user
        // row is another table's, so the three mutable borrows are disjoint, and no other
        // reference into the tables lives
        unsafe {
            let user = std::slice::from_raw_parts_mut(self.user.add(e.user * dim), dim);
            let qp = std::slice::from_raw_parts_mut(self.item.add(p * dim), dim);
            let qn = std::slice::from_raw_parts_mut(self.item.add(n * dim), dim);
            for ((x, qp), qn) in user.iter_mut().zip(qp).zip(qn) {
                // `grad` starts at zero and adds each item's term, as the row steps do
                let g = (0.0 + dp * *qp) + dn * *qn;
                *qp -= lr * (dp * *x + l2 * *qp);
                *qn -= lr * (dn * *x + l2 * *qn);
                *x -= lr * (g + l2 * *x);
            }
            for (id, d) in [(p, dp), (n, dn)] {
                let bias = &mut *self.item_bias.add(id);
                *bias -= lr * (d + l2 * *bias);
            }
            let bias = &mut *self.user_bias.add(e.user);
            *bias -= lr * ((0.0 + dp + dn) + l2 * *bias);
        }
    }
}

/// What [`pair_loop`] steps: [`PlainTables`], and the same tables as row stores for the rarer
/// steps.
struct PlainSteps<'a, S> {
    plain: PlainTables,
    rows: PairTables<'a, S>,
}

impl<S: RowStore> PlainSteps<'_, S> {
    /// Steps example `e`'s rows by the loss's factors (see [`loss_factors`]): the common step
    /// (two touched, distinct items) by [`PlainTables::step_both`], the others through the
    /// stores on a copy of the user row, which no step has changed since it was scored.
    ///
    /// # Safety
    /// As [`PlainTables::score`].
    #[inline(always)]
    unsafe fn step(
        &self,
        e: &Pair,
        (factors, touched): ([f32; 2], [bool; 2]),
        rule: (f32, f32),
        scratch: &mut Scratch,
    ) {
        if touched == [true, true] && e.items[0] != e.items[1] {
            // SAFETY: the caller's contract, and the two items differ
            unsafe { self.plain.step_both(e, factors, rule) };
            return;
        }
        let Scratch {
            user,
            user_grad,
            tmp,
            ..
        } = scratch;
        self.rows.user.read(e.user, user);
        self.rows
            .step(e, (factors, touched), user, user_grad, rule, tmp);
    }
}

/// Per-example SGD one example at a time, any number of negatives, on any store.
#[inline(always)]
pub(super) fn sgd_examples_each<S: RowStore>(
    model: &Trained<'_, '_, S>,
    batch: &Batch<'_>,
    rule: (f32, f32),
    scratch: &mut Scratch,
    mut hot: Option<&mut HotItems<'_>>,
) -> Result<f64, (usize, f32)> {
    let (tables, kernel, loss, context) = (model.tables, model.kernel, model.loss, model.context);
    debug_assert!(kernel.plain(), "per-example SGD writes id rows");
    let (at, dim) = (kernel.at, kernel.dim);
    let b = batch.users.len();
    let n = batch.negatives.len() / b.max(1);
    let m = 1 + n;
    scratch.size(kernel.dim, n);
    scratch.positive.resize(m, 0.0);
    let mut touched = vec![false; m];
    // each id's slot among the worker's copies of hot items, if it has one
    let mut copies: Vec<Option<usize>> = vec![None; m];
    let mut total = 0.0f64;
    let (item, item_bias) = (&tables[at.item].weights, &tables[at.item_bias].weights);
    for i in 0..b {
        scratch.prefetch_ahead(tables, kernel, batch, i, n);
        let Scratch {
            user,
            user_grad,
            items,
            scores,
            negative_grad,
            positive: factors,
            ids,
            user_bias,
            tmp,
            ..
        } = &mut *scratch;
        let u = batch.users[i] as usize;
        // the user row is copied: the items' steps use it as it was scored. Item rows are
        // scored and stepped in place where the store allows (one thread), else through one
        // copy each (Hogwild's atomics)
        tables[at.user].weights.read(u, user);
        tables[at.user_bias].weights.read(u, &mut user_bias[..]);
        ids[0] = batch.positives[i];
        ids[1..].copy_from_slice(&batch.negatives[i * n..(i + 1) * n]);
        for (k, &id) in ids.iter().enumerate() {
            let mut bias = [0.0f32];
            copies[k] = hot.as_deref().and_then(|h| h.slot(id));
            if let (Some(s), Some(h)) = (copies[k], hot.as_deref()) {
                let row = &mut items[k * dim..(k + 1) * dim];
                row.copy_from_slice(&h.rows[s * dim..(s + 1) * dim]);
                scores[k] = dot(user, row) + user_bias[0] + h.bias[s];
                continue;
            }
            item_bias.read(id as usize, &mut bias);
            let dot_product = if S::IN_PLACE {
                item.dot_row(id as usize, user, tmp)
            } else {
                let row = &mut items[k * dim..(k + 1) * dim];
                item.read(id as usize, row);
                dot(user, row)
            };
            scores[k] = dot_product + user_bias[0] + bias[0];
        }
        let (value, dpos) = checked_example(loss, scores[0], &scores[1..], negative_grad, context);
        if !value.is_finite() {
            return Err((i, value));
        }
        let weight = batch.weights.map_or(1.0, |w| w[i]);
        total += f64::from(value) * f64::from(weight);
        factors[0] = dpos * weight;
        touched[0] = dpos != 0.0;
        for k in 1..m {
            factors[k] = negative_grad[k - 1] * weight;
            touched[k] = factors[k] != 0.0;
            // a repeated item is one row: its gradients add up before the update (and it is
            // updated, L2 term included, if any of them is non-zero, even if they cancel)
            if let Some(first) = ids[..k].iter().position(|&j| j == ids[k]) {
                factors[first] += factors[k];
                touched[first] |= touched[k];
                factors[k] = 0.0;
                touched[k] = false;
            }
        }
        user_grad.iter_mut().for_each(|g| *g = 0.0);
        let mut bias_grad = 0.0;
        for k in 0..m {
            if !touched[k] {
                continue;
            }
            let (d, id) = (factors[k], ids[k] as usize);
            if let (Some(s), Some(h)) = (copies[k], hot.as_deref_mut()) {
                let row = &mut items[k * dim..(k + 1) * dim];
                step_values(row, d, user, rule, user_grad);
                h.rows[s * dim..(s + 1) * dim].copy_from_slice(row);
                sgd_values(&mut h.bias[s..s + 1], &[d], rule);
                bias_grad += d;
                continue;
            }
            if S::IN_PLACE {
                item.step_row(id, d, user, rule, user_grad, tmp);
            } else {
                let row = &mut items[k * dim..(k + 1) * dim];
                step_values(row, d, user, rule, user_grad);
                item.write(id, row);
            }
            bias_grad += d;
            item_bias.sgd_row(id, &[d], rule, tmp);
        }
        // the batch path always touches the user's row (so its L2 term applies), too
        tables[at.user].weights.sgd_row(u, user_grad, rule, tmp);
        tables[at.user_bias]
            .weights
            .sgd_row(u, &[bias_grad], rule, tmp);
    }
    Ok(total)
}
