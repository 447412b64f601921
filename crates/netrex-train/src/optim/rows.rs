//! Hogwild row stores: tables and optimizer state read and written row by row through a
//! shared reference (relaxed atomics across threads, `Cell`s on one), and the tables opened
//! for row-wise training.

use std::cell::Cell;
use std::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, Ordering};

use netrex_representations::SparseGrad;

use super::{Bias, OptimizerConfig, Rule, PREFETCH_AHEAD};

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
    /// Whether the buffer is empty (optimizer state a rule does not use).
    fn is_empty(&self) -> bool {
        self.rows() * self.cols() == 0
    }
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

/// One `f32` that can be read and written through a shared reference.
pub(crate) trait Slot: Sized {
    /// The value.
    fn get(&self) -> f32;
    /// Replaces the value.
    fn set(&self, value: f32);
    /// Copies a row of slots into `out`.
    #[inline]
    fn read_row(row: &[Self], out: &mut [f32]) {
        for (o, slot) in out.iter_mut().zip(row) {
            *o = slot.get();
        }
    }
    /// Overwrites a row of slots with `values`.
    #[inline]
    fn write_row(row: &[Self], values: &[f32]) {
        for (slot, v) in row.iter().zip(values) {
            slot.set(*v);
        }
    }
}

/// A row of atomic `f32`s as atomic pairs, when its length is even and it starts on an 8-byte
/// boundary: half the (unvectorisable) atomic operations per row. Whether a row qualifies
/// depends only on its address and length, so every access to a row has the same width.
#[inline]
fn atomic_pairs(row: &[AtomicU32]) -> Option<&[AtomicU64]> {
    let aligned = (row.as_ptr() as usize).is_multiple_of(std::mem::align_of::<AtomicU64>());
    if cfg!(target_endian = "little") && row.len().is_multiple_of(2) && aligned {
        // SAFETY: two adjacent AtomicU32 have the size of one AtomicU64 (asserted below) and
        // the start is aligned for it; the borrow covers exactly these words.
        Some(unsafe { std::slice::from_raw_parts(row.as_ptr().cast(), row.len() / 2) })
    } else {
        None
    }
}

const _: () = assert!(std::mem::size_of::<AtomicU64>() == 2 * std::mem::size_of::<AtomicU32>());

impl Slot for AtomicU32 {
    #[inline]
    fn get(&self) -> f32 {
        f32::from_bits(self.load(Ordering::Relaxed))
    }
    #[inline]
    fn set(&self, value: f32) {
        self.store(value.to_bits(), Ordering::Relaxed);
    }
    #[inline]
    fn read_row(row: &[Self], out: &mut [f32]) {
        let Some(pairs) = atomic_pairs(row) else {
            for (o, slot) in out.iter_mut().zip(row) {
                *o = slot.get();
            }
            return;
        };
        for (o, pair) in out.chunks_exact_mut(2).zip(pairs) {
            let bits = pair.load(Ordering::Relaxed);
            o[0] = f32::from_bits(bits as u32);
            o[1] = f32::from_bits((bits >> 32) as u32);
        }
    }
    #[inline]
    fn write_row(row: &[Self], values: &[f32]) {
        let Some(pairs) = atomic_pairs(row) else {
            for (slot, v) in row.iter().zip(values) {
                slot.set(*v);
            }
            return;
        };
        for (pair, v) in pairs.iter().zip(values.chunks_exact(2)) {
            let bits = u64::from(v[0].to_bits()) | (u64::from(v[1].to_bits()) << 32);
            pair.store(bits, Ordering::Relaxed);
        }
    }
}

impl Slot for Cell<f32> {
    #[inline]
    fn get(&self) -> f32 {
        Cell::get(self)
    }
    #[inline]
    fn set(&self, value: f32) {
        Cell::set(self, value);
    }
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
/// [`RowOptimizer::share`] and [`RowOptimizer::exclusive`]).
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
            let cols = table.weights.cols();
            let [w, m, v] = &mut buffers;
            for buffer in [&mut *w, &mut *m, &mut *v] {
                buffer.resize(cols, 0.0);
            }
            let (has_m, has_v) = (!table.first.is_empty(), !table.second.is_empty());
            let m = if has_m { &mut m[..] } else { &mut m[..0] };
            let v = if has_v { &mut v[..] } else { &mut v[..0] };
            let touched = grad.touched();
            for (k, (r, g)) in grad.iter().enumerate() {
                if let Some(&ahead) = touched.get(k + PREFETCH_AHEAD) {
                    let ahead = ahead as usize;
                    table.weights.prefetch(ahead);
                    table.first.prefetch(ahead);
                    table.second.prefetch(ahead);
                }
                let r = r as usize;
                table.weights.read(r, w);
                if has_m {
                    table.first.read(r, m);
                }
                if has_v {
                    table.second.read(r, v);
                }
                rule.update(bias, w, g, m, v);
                table.weights.write(r, w);
                if has_m {
                    table.first.write(r, m);
                }
                if has_v {
                    table.second.write(r, v);
                }
            }
            grad.clear();
        }
    }
}
