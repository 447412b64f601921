//! Hogwild row stores: tables and optimizer state read and written row by row through a
//! shared reference (relaxed atomics across threads, `Cell`s on one), and the tables opened
//! for row-wise training.

use std::cell::Cell;
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};

use netrex_representations::SparseGrad;

use super::rule::{Bias, OptimizerConfig, Rule, PREFETCH_AHEAD};
use super::slot::Slot;

/// Row-wise access to a row-major `f32` buffer through a shared reference.
pub(crate) trait RowStore {
    /// Number of rows.
    fn rows(&self) -> usize;
    /// Number of columns.
    fn cols(&self) -> usize;
    /// Copies row `r` into `out` (length `cols`).
    fn read(&self, r: usize, out: &mut [f32]);
    /// Overwrites row `r` with `values` (length `cols`).
    fn write(&self, r: usize, values: &[f32]);
    /// Hints the CPU to start loading row `r` (a no-op where there is no such hint).
    fn prefetch(&self, r: usize);
    /// The buffer's first value, where the store is one thread's plain values (`Cell`s):
    /// kernels that have checked their ids against [`rows`](Self::rows) may then address
    /// rows without a bounds check each. `None` for rows other threads share.
    fn plain(&self) -> Option<*mut f32> {
        None
    }
    /// Whether [`step_row`](Self::step_row) and [`sgd_row`](Self::sgd_row) work in place
    /// (else through a copy, and a caller that already holds a copy should step that).
    const IN_PLACE: bool;
    /// `dot(row r, x)`, summed as [`dot`] sums (`tmp`: scratch of `cols`).
    fn dot_row(&self, r: usize, x: &[f32], tmp: &mut [f32]) -> f32;
    /// One SGD step on row `r` of an item the caller scored against `x`, applied in place
    /// where the store allows: `grad += d row` (the row before the step), then
    /// `row -= lr (d x + l2 row)` (see [`step_values`]).
    fn step_row(
        &self,
        r: usize,
        d: f32,
        x: &[f32],
        rule: (f32, f32),
        grad: &mut [f32],
        tmp: &mut [f32],
    );
    /// `row r -= lr (g + l2 row r)`, in place where the store allows.
    fn sgd_row(&self, r: usize, g: &[f32], rule: (f32, f32), tmp: &mut [f32]);
    /// `out += factor * row r`, reading the row where it lies when the store allows
    /// (`tmp`: scratch of `cols`).
    fn add_scaled_row(&self, r: usize, factor: f32, out: &mut [f32], tmp: &mut [f32]);
    /// Runs an optimizer's `update(w, m, v)` over row `r` of these weights and of their
    /// state `first` and `second` (each empty when the rule keeps none, and then passed
    /// empty): on the rows in place where the store allows, else on copies that are written
    /// back (`buffers`: scratch, resized as needed).
    fn update_row<F>(
        &self,
        first: &Self,
        second: &Self,
        r: usize,
        buffers: &mut [Vec<f32>; 3],
        update: F,
    ) where
        F: FnMut(&mut [f32], &mut [f32], &mut [f32]);
}

/// Asks the CPU to fetch the cache lines of `bytes` bytes at `start`: random rows of large
/// tables are what a training step waits on.
#[inline]
pub(crate) fn prefetch_lines(start: *const u8, bytes: usize) {
    #[cfg(target_arch = "x86_64")]
    for offset in (0..bytes).step_by(64) {
        // SAFETY: a prefetch is only a hint; it never faults, whatever the address
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                start.wrapping_add(offset).cast(),
            )
        };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (start, bytes);
}

/// A row-major buffer read and written row by row through a shared reference.
pub(crate) struct SlotRows<'a, S> {
    data: &'a [S],
    rows: usize,
    cols: usize,
}

/// A buffer that several threads read and write with relaxed atomics (Hogwild).
pub(crate) type AtomicRows<'a> = SlotRows<'a, AtomicU32>;

/// A buffer used by one thread through a shared reference (`Cell`s, so not `Sync`); plain
/// loads and stores that the compiler vectorises.
pub(crate) type CellRows<'a> = SlotRows<'a, Cell<f32>>;

const _: () = assert!(
    std::mem::size_of::<AtomicU32>() == std::mem::size_of::<f32>()
        && std::mem::align_of::<AtomicU32>() == std::mem::align_of::<f32>()
        && std::mem::align_of::<AtomicI32>() == std::mem::align_of::<i32>()
);

impl<'a> AtomicRows<'a> {
    pub(super) fn new(data: &'a mut [f32], rows: usize, cols: usize) -> Self {
        // SAFETY: AtomicU32 has the size and alignment of f32 (asserted above); the exclusive
        // borrow means every access for 'a goes through the atomics.
        let data = unsafe { &*(data as *mut [f32] as *const [AtomicU32]) };
        SlotRows::over(data, rows, cols)
    }
}

impl AtomicRows<'_> {
    /// The same buffer as `Cell`s, for a thread that has the values it touches to itself
    /// while the view lives: plain loads and stores, in place, as on one thread.
    ///
    /// # Safety
    /// While the view lives, no other thread may access a value this thread writes through
    /// it, nor write a value it reads through it (a data race otherwise).
    pub(crate) unsafe fn as_cells(&self) -> CellRows<'_> {
        // SAFETY: `AtomicU32` and `Cell<f32>` both wrap an `UnsafeCell` of 4 bytes (asserted
        // above for `AtomicU32` and `f32`); the caller rules out concurrent access to the
        // values this thread uses, which is what `Cell` not being `Sync` guards against; the
        // view is not `Send`, so it stays on the thread that made it
        let data = unsafe {
            std::slice::from_raw_parts(self.data.as_ptr().cast::<Cell<f32>>(), self.data.len())
        };
        SlotRows::over(data, self.rows, self.cols)
    }
}

impl<'a> TrainedTable<'a, AtomicRows<'a>> {
    /// [`AtomicRows::as_cells`] of the weights and optimizer state.
    ///
    /// # Safety
    /// As [`AtomicRows::as_cells`], for every buffer of the table.
    pub(crate) unsafe fn as_cells(&self) -> TrainedTable<'_, CellRows<'_>> {
        // SAFETY: the caller's contract
        unsafe {
            TrainedTable {
                weights: self.weights.as_cells(),
                first: self.first.as_cells(),
                second: self.second.as_cells(),
                step: self.step,
            }
        }
    }
}

impl<'a> CellRows<'a> {
    pub(super) fn new(data: &'a mut [f32], rows: usize, cols: usize) -> Self {
        SlotRows::over(Cell::from_mut(data).as_slice_of_cells(), rows, cols)
    }
}

impl<'a, S> SlotRows<'a, S> {
    fn over(data: &'a [S], rows: usize, cols: usize) -> Self {
        SlotRows {
            rows: if data.is_empty() { 0 } else { rows },
            data,
            cols,
        }
    }
}

impl<S: Slot> RowStore for SlotRows<'_, S> {
    const IN_PLACE: bool = S::IN_PLACE;
    #[inline(always)]
    fn plain(&self) -> Option<*mut f32> {
        S::plain(self.data)
    }
    fn rows(&self) -> usize {
        self.rows
    }
    fn cols(&self) -> usize {
        self.cols
    }
    #[inline]
    fn prefetch(&self, r: usize) {
        if let Some(row) = self.data.get(r * self.cols..(r + 1) * self.cols) {
            prefetch_lines(row.as_ptr().cast(), std::mem::size_of_val(row));
        }
    }
    #[inline]
    fn read(&self, r: usize, out: &mut [f32]) {
        S::read_row(&self.data[r * self.cols..(r + 1) * self.cols], out);
    }
    #[inline]
    fn write(&self, r: usize, values: &[f32]) {
        S::write_row(&self.data[r * self.cols..(r + 1) * self.cols], values);
    }
    #[inline(always)]
    fn dot_row(&self, r: usize, x: &[f32], tmp: &mut [f32]) -> f32 {
        S::dot_row(&self.data[r * self.cols..(r + 1) * self.cols], x, tmp)
    }
    #[inline(always)]
    fn step_row(
        &self,
        r: usize,
        d: f32,
        x: &[f32],
        rule: (f32, f32),
        grad: &mut [f32],
        tmp: &mut [f32],
    ) {
        S::step_row(
            &self.data[r * self.cols..(r + 1) * self.cols],
            d,
            x,
            rule,
            grad,
            tmp,
        );
    }
    #[inline(always)]
    fn sgd_row(&self, r: usize, g: &[f32], rule: (f32, f32), tmp: &mut [f32]) {
        S::sgd_row(self.row(r), g, rule, tmp);
    }
    #[inline(always)]
    fn add_scaled_row(&self, r: usize, factor: f32, out: &mut [f32], tmp: &mut [f32]) {
        S::add_scaled_row(self.row(r), factor, out, tmp);
    }
    #[inline(always)]
    fn update_row<F>(
        &self,
        first: &Self,
        second: &Self,
        r: usize,
        buffers: &mut [Vec<f32>; 3],
        update: F,
    ) where
        F: FnMut(&mut [f32], &mut [f32], &mut [f32]),
    {
        fn state<'s, S>(s: &'s SlotRows<'_, S>, r: usize) -> &'s [S] {
            if s.rows * s.cols == 0 {
                &s.data[..0]
            } else {
                s.row(r)
            }
        }
        S::update_row(
            self.row(r),
            state(first, r),
            state(second, r),
            buffers,
            update,
        );
    }
}

impl<S> SlotRows<'_, S> {
    /// Row `r`'s slots.
    #[inline(always)]
    fn row(&self, r: usize) -> &[S] {
        &self.data[r * self.cols..(r + 1) * self.cols]
    }
}

/// One table with its optimizer state, opened for row-wise training.
pub(crate) struct TrainedTable<'a, S> {
    /// The parameters.
    pub weights: S,
    pub(super) first: S,
    pub(super) second: S,
    pub(super) step: &'a AtomicI32,
}

/// Tables and optimizer state opened for training with updates through `&self` (see
/// [`RowOptimizer::share`](super::RowOptimizer::share) and
/// [`RowOptimizer::exclusive`](super::RowOptimizer::exclusive)).
pub(crate) struct RowTraining<'a, S> {
    pub(super) config: OptimizerConfig,
    pub(super) tables: Vec<TrainedTable<'a, S>>,
}

impl<'a, S: RowStore> RowTraining<'a, S> {
    /// The tables, in the representation's order.
    pub fn tables(&self) -> &[TrainedTable<'a, S>] {
        &self.tables
    }

    /// Applies `grads` (one per table) to the touched rows, then clears them. With
    /// [`AtomicRows`], safe to call from several threads at once.
    pub fn step(&self, grads: &mut [SparseGrad]) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2 (checked just above)
            return unsafe { self.step_avx2(grads) };
        }
        self.step_inline(grads)
    }

    /// [`step`](Self::step) compiled for AVX2: eight lanes for Adam's divisions and square
    /// root, a large share of a small model's epoch. No fused multiply-add is formed, so the
    /// results are those of the SSE2 build.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn step_avx2(&self, grads: &mut [SparseGrad]) {
        self.step_inline(grads)
    }

    #[inline(always)]
    fn step_inline(&self, grads: &mut [SparseGrad]) {
        let rule = Rule::from(self.config);
        let mut buffers: [Vec<f32>; 3] = Default::default();
        for (table, grad) in self.tables.iter().zip(grads.iter_mut()) {
            let bias = Bias::at(table.step.fetch_add(1, Ordering::Relaxed) + 1);
            let touched = grad.touched();
            for (k, (r, g)) in grad.iter().enumerate() {
                if let Some(&ahead) = touched.get(k + PREFETCH_AHEAD) {
                    let ahead = ahead as usize;
                    table.weights.prefetch(ahead);
                    table.first.prefetch(ahead);
                    table.second.prefetch(ahead);
                }
                let (first, second) = (&table.first, &table.second);
                table
                    .weights
                    .update_row(first, second, r as usize, &mut buffers, |w, m, v| {
                        rule.update(bias, w, g, m, v)
                    });
            }
            grad.clear();
        }
    }
}
