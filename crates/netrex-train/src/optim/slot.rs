//! One `f32` read and written through a shared reference: relaxed atomics when workers
//! share a table (Hogwild), `Cell`s on one thread; and the row updates written once for both.

use std::cell::Cell;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use netrex_representations::kernel::{add_scaled, dot};

/// One `f32` that can be read and written through a shared reference.
pub(crate) trait Slot: Sized {
    /// The first value of `data` as a plain pointer, where slots are one thread's (see
    /// [`RowStore::plain`](super::RowStore::plain)).
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
    /// See [`RowStore::IN_PLACE`](super::RowStore::IN_PLACE).
    const IN_PLACE: bool = false;
    /// See [`RowStore::dot_row`](super::RowStore::dot_row).
    #[inline(always)]
    fn dot_row(row: &[Self], x: &[f32], tmp: &mut [f32]) -> f32 {
        let tmp = &mut tmp[..row.len()];
        Self::read_row(row, tmp);
        dot(tmp, x)
    }
    /// See [`RowStore::step_row`](super::RowStore::step_row).
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
    /// See [`RowStore::sgd_row`](super::RowStore::sgd_row).
    #[inline(always)]
    fn sgd_row(row: &[Self], g: &[f32], rule: (f32, f32), tmp: &mut [f32]) {
        sgd_copied(row, g, rule, tmp);
    }
    /// See [`RowStore::add_scaled_row`](super::RowStore::add_scaled_row).
    #[inline(always)]
    fn add_scaled_row(row: &[Self], factor: f32, out: &mut [f32], tmp: &mut [f32]) {
        let tmp = &mut tmp[..row.len()];
        Self::read_row(row, tmp);
        add_scaled(out, factor, tmp);
    }
    /// See [`RowStore::update_row`](super::RowStore::update_row); `m` and `v` are empty or as long as `w`.
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
