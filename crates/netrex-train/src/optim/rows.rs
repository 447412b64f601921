//! Hogwild row stores: tables and optimizer state read and written row by row through a
//! shared reference (relaxed atomics across threads, `Cell`s on one), and the tables opened
//! for row-wise training.

use std::cell::Cell;
use std::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, Ordering};

use netrex_representations::kernel::dot;
use netrex_representations::SparseGrad;

use crate::fused::add_scaled;

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

/// One `f32` that can be read and written through a shared reference.
pub(crate) trait Slot: Sized {
    /// The first value of `data` as a plain pointer, where slots are one thread's (see
    /// [`RowStore::plain`]).
    fn plain(_data: &[Self]) -> Option<*mut f32> {
        None
    }
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
    /// See [`RowStore::IN_PLACE`].
    const IN_PLACE: bool = false;
    /// See [`RowStore::dot_row`].
    #[inline(always)]
    fn dot_row(row: &[Self], x: &[f32], tmp: &mut [f32]) -> f32 {
        let tmp = &mut tmp[..row.len()];
        Self::read_row(row, tmp);
        dot(tmp, x)
    }
    /// See [`RowStore::step_row`].
    #[inline(always)]
    fn step_row(
        row: &[Self],
        d: f32,
        x: &[f32],
        rule: (f32, f32),
        grad: &mut [f32],
        tmp: &mut [f32],
    ) {
        step_copied(row, d, x, rule, grad, tmp);
    }
    /// See [`RowStore::sgd_row`].
    #[inline(always)]
    fn sgd_row(row: &[Self], g: &[f32], rule: (f32, f32), tmp: &mut [f32]) {
        sgd_copied(row, g, rule, tmp);
    }
    /// See [`RowStore::add_scaled_row`].
    #[inline(always)]
    fn add_scaled_row(row: &[Self], factor: f32, out: &mut [f32], tmp: &mut [f32]) {
        let tmp = &mut tmp[..row.len()];
        Self::read_row(row, tmp);
        add_scaled(out, factor, tmp);
    }
    /// See [`RowStore::update_row`]; `m` and `v` are empty or as long as `w`.
    #[inline(always)]
    fn update_row<F>(w: &[Self], m: &[Self], v: &[Self], buffers: &mut [Vec<f32>; 3], update: F)
    where
        F: FnMut(&mut [f32], &mut [f32], &mut [f32]),
    {
        update_copied(w, m, v, buffers, update);
    }
}

/// [`Slot::update_row`] through copies of the whole rows.
#[inline(always)]
fn update_copied<S: Slot, F>(w: &[S], m: &[S], v: &[S], buffers: &mut [Vec<f32>; 3], mut update: F)
where
    F: FnMut(&mut [f32], &mut [f32], &mut [f32]),
{
    let [bw, bm, bv] = buffers;
    for (buffer, row) in [(&mut *bw, w), (&mut *bm, m), (&mut *bv, v)] {
        buffer.resize(row.len(), 0.0);
        S::read_row(row, buffer);
    }
    update(bw, bm, bv);
    for (buffer, row) in [(&*bw, w), (&*bm, m), (&*bv, v)] {
        S::write_row(row, buffer);
    }
}

/// `grad += d q`, then `q -= lr (d x + l2 q)`, element by element: the per-example SGD step
/// of an item row `q` scored against the user row `x` (and the user's gradient from it).
#[inline(always)]
pub(crate) fn step_values(
    q: &mut [f32],
    d: f32,
    x: &[f32],
    (lr, l2): (f32, f32),
    grad: &mut [f32],
) {
    for ((q, x), g) in q.iter_mut().zip(x).zip(grad.iter_mut()) {
        *g += d * *q;
        *q -= lr * (d * x + l2 * *q);
    }
}

/// `p -= lr (g + l2 p)`, element by element.
#[inline(always)]
pub(crate) fn sgd_values(p: &mut [f32], g: &[f32], (lr, l2): (f32, f32)) {
    for (p, g) in p.iter_mut().zip(g) {
        *p -= lr * (g + l2 * *p);
    }
}

/// [`Slot::step_row`] through a copy of the row.
#[inline(always)]
fn step_copied<S: Slot>(
    row: &[S],
    d: f32,
    x: &[f32],
    rule: (f32, f32),
    grad: &mut [f32],
    tmp: &mut [f32],
) {
    let tmp = &mut tmp[..row.len()];
    S::read_row(row, tmp);
    step_values(tmp, d, x, rule, grad);
    S::write_row(row, tmp);
}

/// [`Slot::sgd_row`] through a copy of the row.
#[inline(always)]
fn sgd_copied<S: Slot>(row: &[S], g: &[f32], rule: (f32, f32), tmp: &mut [f32]) {
    let tmp = &mut tmp[..row.len()];
    S::read_row(row, tmp);
    sgd_values(tmp, g, rule);
    S::write_row(row, tmp);
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
        #[cfg(target_arch = "x86_64")]
        if wide::available() {
            // SAFETY: the CPU has AVX (checked just above)
            return unsafe { wide::read_row(row, out) };
        }
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
    #[inline(always)]
    fn dot_row(row: &[Self], x: &[f32], tmp: &mut [f32]) -> f32 {
        #[cfg(target_arch = "x86_64")]
        if wide::available() {
            // SAFETY: the CPU has AVX (checked just above)
            return unsafe { wide::dot_row(row, x) };
        }
        let tmp = &mut tmp[..row.len()];
        Self::read_row(row, tmp);
        dot(tmp, x)
    }
    #[inline(always)]
    fn add_scaled_row(row: &[Self], factor: f32, out: &mut [f32], tmp: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if wide::available() {
            // SAFETY: the CPU has AVX (checked just above)
            return unsafe { wide::add_scaled_row(row, factor, out) };
        }
        let tmp = &mut tmp[..row.len()];
        Self::read_row(row, tmp);
        add_scaled(out, factor, tmp);
    }
    #[inline]
    fn write_row(row: &[Self], values: &[f32]) {
        #[cfg(target_arch = "x86_64")]
        if wide::available() {
            // SAFETY: the CPU has AVX (checked just above)
            return unsafe { wide::write_row(row, values) };
        }
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

/// Rows shared by Hogwild workers copied eight floats at a time.
///
/// Rust's memory model has no racy vector access: relaxed atomics are at most 8 bytes wide and
/// the compiler does not vectorise them, so a 256-byte row takes 32 loads or stores (and the
/// vector loop that reads the copy next waits on store forwarding from the narrow stores).
/// Moves written in inline assembly are outside that model, as in the `atomic-memcpy` crate:
/// each one is a 32-byte AVX `vmovups`, which x86 performs as reads or writes of its aligned
/// 4-byte elements, never tearing a value. Another worker may see a row half updated, which
/// Hogwild accepts (it did with the atomic pairs too). Measured on ML-100K (docs/results.md),
/// 16-byte moves gained nothing over the atomic pairs; these 32-byte ones 15%.
#[cfg(target_arch = "x86_64")]
mod wide {
    use std::arch::asm;
    use std::arch::x86_64::{
        __m256, _mm256_add_ps, _mm256_loadu_ps, _mm256_mul_ps, _mm256_set1_ps, _mm256_setzero_ps,
        _mm256_storeu_ps,
    };
    use std::sync::atomic::{AtomicU32, Ordering};

    /// Floats in one move.
    const LANES: usize = 8;

    /// Whether the CPU has AVX (a cached flag after the first call).
    #[inline(always)]
    pub(super) fn available() -> bool {
        std::arch::is_x86_feature_detected!("avx")
    }

    /// Copies `row` into `out` (the shorter length).
    ///
    /// # Safety
    /// The CPU must have AVX.
    #[target_feature(enable = "avx")]
    #[inline]
    pub(super) unsafe fn read_row(row: &[AtomicU32], out: &mut [f32]) {
        let n = row.len().min(out.len());
        let whole = n - n % LANES;
        for at in (0..whole).step_by(LANES) {
            let v: __m256;
            // SAFETY: `row[at..at + 8]` is in bounds (`at + 8 <= n`); an atomic's memory may
            // be read through a shared reference, and the move only reads it
            unsafe {
                asm!(
                    "vmovups {v}, ymmword ptr [{p}]",
                    v = out(ymm_reg) v,
                    p = in(reg) row.as_ptr().add(at),
                    options(nostack, preserves_flags, readonly),
                );
            }
            // SAFETY: `out[at..at + 8]` is in bounds, as above
            unsafe { _mm256_storeu_ps(out.as_mut_ptr().add(at), v) };
        }
        for (o, slot) in out[whole..n].iter_mut().zip(&row[whole..n]) {
            *o = f32::from_bits(slot.load(Ordering::Relaxed));
        }
    }

    /// Eight floats of an atomic row, in one move.
    ///
    /// # Safety
    /// The CPU must have AVX, and `p..p + 8` must lie in one row.
    #[target_feature(enable = "avx")]
    #[inline]
    unsafe fn load(p: *const AtomicU32) -> __m256 {
        let v: __m256;
        // SAFETY: the caller keeps `p..p + 8` in bounds; an atomic's memory may be read through
        // a shared reference, and the move only reads it
        unsafe {
            asm!(
                "vmovups {v}, ymmword ptr [{p}]",
                v = out(ymm_reg) v,
                p = in(reg) p,
                options(nostack, preserves_flags, readonly),
            );
        }
        v
    }

    /// `<row, x>` over the shorter length, summed lane by lane and then across as
    /// [`dot`](super::dot) sums (so to the bit the dot product of a copy), with no copy.
    ///
    /// # Safety
    /// The CPU must have AVX.
    #[target_feature(enable = "avx")]
    #[inline]
    pub(super) unsafe fn dot_row(row: &[AtomicU32], x: &[f32]) -> f32 {
        let n = row.len().min(x.len());
        let whole = n - n % LANES;
        let mut sum = _mm256_setzero_ps();
        for at in (0..whole).step_by(LANES) {
            // SAFETY: `at + 8 <= n` for both slices
            let (r, y) = unsafe {
                (
                    load(row.as_ptr().add(at)),
                    _mm256_loadu_ps(x.as_ptr().add(at)),
                )
            };
            sum = _mm256_add_ps(sum, _mm256_mul_ps(r, y));
        }
        let mut lanes = [0.0f32; LANES];
        // SAFETY: `lanes` holds eight floats
        unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), sum) };
        let tail: f32 = row[whole..n]
            .iter()
            .zip(&x[whole..n])
            .map(|(r, y)| f32::from_bits(r.load(Ordering::Relaxed)) * y)
            .sum();
        lanes.iter().sum::<f32>() + tail
    }

    /// `out += factor * row` over the shorter length, with no copy of the row.
    ///
    /// # Safety
    /// The CPU must have AVX.
    #[target_feature(enable = "avx")]
    #[inline]
    pub(super) unsafe fn add_scaled_row(row: &[AtomicU32], factor: f32, out: &mut [f32]) {
        let n = row.len().min(out.len());
        let whole = n - n % LANES;
        let f = _mm256_set1_ps(factor);
        for at in (0..whole).step_by(LANES) {
            // SAFETY: `at + 8 <= n` for both slices
            unsafe {
                let o = out.as_mut_ptr().add(at);
                let r = load(row.as_ptr().add(at));
                _mm256_storeu_ps(o, _mm256_add_ps(_mm256_loadu_ps(o), _mm256_mul_ps(f, r)));
            }
        }
        for (o, r) in out[whole..n].iter_mut().zip(&row[whole..n]) {
            *o += factor * f32::from_bits(r.load(Ordering::Relaxed));
        }
    }

    /// Overwrites `row` with `values` (the shorter length).
    ///
    /// # Safety
    /// The CPU must have AVX.
    #[target_feature(enable = "avx")]
    #[inline]
    pub(super) unsafe fn write_row(row: &[AtomicU32], values: &[f32]) {
        let n = row.len().min(values.len());
        let whole = n - n % LANES;
        for at in (0..whole).step_by(LANES) {
            // SAFETY: `values[at..at + 8]` is in bounds (`at + 8 <= n`)
            let v = unsafe { _mm256_loadu_ps(values.as_ptr().add(at)) };
            // SAFETY: `row[at..at + 8]` is in bounds; atomics are written through shared
            // references (their memory is an `UnsafeCell`), which is what the move does
            unsafe {
                asm!(
                    "vmovups ymmword ptr [{p}], {v}",
                    p = in(reg) row.as_ptr().add(at),
                    v = in(ymm_reg) v,
                    options(nostack, preserves_flags),
                );
            }
        }
        for (slot, v) in row[whole..n].iter().zip(&values[whole..n]) {
            slot.store(v.to_bits(), Ordering::Relaxed);
        }
    }
}

impl Slot for Cell<f32> {
    const IN_PLACE: bool = true;
    #[inline(always)]
    fn plain(data: &[Self]) -> Option<*mut f32> {
        // a `Cell`'s value may be written through a pointer made from a shared reference
        Some(data.as_ptr().cast::<f32>().cast_mut())
    }
    #[inline]
    fn get(&self) -> f32 {
        Cell::get(self)
    }
    #[inline]
    fn set(&self, value: f32) {
        Cell::set(self, value);
    }
    #[inline(always)]
    fn dot_row(row: &[Self], x: &[f32], _tmp: &mut [f32]) -> f32 {
        dot(cells_as_values(row), x)
    }
    #[inline(always)]
    fn step_row(
        row: &[Self],
        d: f32,
        x: &[f32],
        rule: (f32, f32),
        grad: &mut [f32],
        _tmp: &mut [f32],
    ) {
        // SAFETY: see `cells_as_values_mut`; `x` and `grad` are the caller's own buffers
        step_values(unsafe { cells_as_values_mut(row) }, d, x, rule, grad);
    }
    #[inline(always)]
    fn sgd_row(row: &[Self], g: &[f32], rule: (f32, f32), _tmp: &mut [f32]) {
        // SAFETY: see `cells_as_values_mut`; `g` is the caller's own buffer
        sgd_values(unsafe { cells_as_values_mut(row) }, g, rule);
    }
    #[inline(always)]
    fn add_scaled_row(row: &[Self], factor: f32, out: &mut [f32], _tmp: &mut [f32]) {
        add_scaled(out, factor, cells_as_values(row));
    }
    #[inline(always)]
    fn update_row<F>(
        w: &[Self],
        m: &[Self],
        v: &[Self],
        _buffers: &mut [Vec<f32>; 3],
        mut update: F,
    ) where
        F: FnMut(&mut [f32], &mut [f32], &mut [f32]),
    {
        // SAFETY: see `cells_as_values_mut`; the weights and the two states are buffers of
        // their own, so the three borrows do not overlap
        unsafe {
            update(
                cells_as_values_mut(w),
                cells_as_values_mut(m),
                cells_as_values_mut(v),
            )
        }
    }
}

/// A row of cells read as plain values, so that loops over it vectorise. Sound because
/// `Cell`s are not `Sync` (no other thread writes them) and nothing writes the row through
/// another path while the borrow lives (it ends with the caller's expression).
#[inline(always)]
fn cells_as_values(row: &[Cell<f32>]) -> &[f32] {
    // SAFETY: `Cell<f32>` has the layout of `f32`; see above for why no write aliases it
    unsafe { std::slice::from_raw_parts(row.as_ptr().cast(), row.len()) }
}

/// A row of cells as plain mutable values: writing through a `Cell`'s shared reference is
/// what `Cell` allows, done a row at a time so that the update vectorises.
///
/// # Safety
/// No other reference to these cells' values may be used while the returned borrow lives
/// (the cells are not `Sync`, so only the calling thread could hold one).
#[inline(always)]
#[allow(clippy::mut_from_ref)]
unsafe fn cells_as_values_mut(row: &[Cell<f32>]) -> &mut [f32] {
    // SAFETY: `Cell<f32>` wraps an `UnsafeCell<f32>`, whose contents may be written through a
    // shared reference; the caller guarantees the borrow is unique while it lives
    unsafe { std::slice::from_raw_parts_mut(row.as_ptr().cast::<f32>().cast_mut(), row.len()) }
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
