//! Row-wise optimizers: each step visits only the rows with a gradient.
//!
//! Adam here is "lazy" Adam: moments of untouched rows are not decayed, which is what makes a
//! step's cost follow the batch. L2 is likewise applied to touched rows only.

use std::cell::Cell;
use std::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use crate::error::RepresentationError;
use crate::table::{SparseGrad, Table};

/// Which update rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OptimizerKind {
    /// Plain stochastic gradient descent.
    Sgd,
    /// Adagrad (per-coordinate learning rates from accumulated squared gradients).
    Adagrad,
    /// Adam with bias correction, applied lazily to touched rows (the talk used Adam).
    Adam,
}

impl std::str::FromStr for OptimizerKind {
    type Err = RepresentationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "sgd" => Ok(OptimizerKind::Sgd),
            "adagrad" => Ok(OptimizerKind::Adagrad),
            "adam" => Ok(OptimizerKind::Adam),
            _ => Err(RepresentationError::InvalidParameter {
                name: "optimizer",
                message: format!("{s:?} is not sgd, adagrad or adam"),
            }),
        }
    }
}

/// Optimizer hyperparameters.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct OptimizerConfig {
    /// The rule.
    pub kind: OptimizerKind,
    /// Learning rate.
    pub learning_rate: f32,
    /// L2 penalty added to the gradient of touched rows.
    pub l2: f32,
}

struct State {
    first: Vec<f32>,
    second: Vec<f32>,
    step: i32,
}

/// Optimizer state for a list of tables.
pub struct RowOptimizer {
    config: OptimizerConfig,
    states: Vec<State>,
}

pub(crate) const BETA1: f32 = 0.9;
pub(crate) const BETA2: f32 = 0.999;
pub(crate) const EPSILON: f32 = 1e-8;

impl RowOptimizer {
    /// State for `tables` (allocated once; Adam keeps two moments, Adagrad one accumulator).
    pub fn new(config: OptimizerConfig, tables: &[Table]) -> Self {
        let states = tables
            .iter()
            .map(|t| {
                let n = t.rows() * t.cols();
                State {
                    first: if config.kind == OptimizerKind::Adam {
                        vec![0.0; n]
                    } else {
                        Vec::new()
                    },
                    second: if config.kind == OptimizerKind::Sgd {
                        Vec::new()
                    } else {
                        vec![0.0; n]
                    },
                    step: 0,
                }
            })
            .collect();
        RowOptimizer { config, states }
    }

    /// Sets the learning rate.
    pub fn set_learning_rate(&mut self, lr: f32) {
        self.config.learning_rate = lr;
    }

    /// The hyperparameters.
    pub fn config(&self) -> &OptimizerConfig {
        &self.config
    }

    /// Each table's state, for checkpoints: `(first, second, step)`, where `first` is Adam's
    /// first moment (empty for the other rules) and `second` Adam's second moment or
    /// Adagrad's accumulator (empty for SGD).
    pub fn state(&self) -> Vec<(&[f32], &[f32], i32)> {
        self.states
            .iter()
            .map(|s| (s.first.as_slice(), s.second.as_slice(), s.step))
            .collect()
    }

    /// Restores the state saved by [`state`](Self::state), checking every length.
    pub fn restore_state(
        &mut self,
        saved: Vec<(Vec<f32>, Vec<f32>, i32)>,
    ) -> Result<(), RepresentationError> {
        if saved.len() != self.states.len() {
            return Err(RepresentationError::Shape(format!(
                "optimizer state for {} tables, expected {}",
                saved.len(),
                self.states.len()
            )));
        }
        for (k, ((first, second, step), state)) in saved.iter().zip(&self.states).enumerate() {
            if first.len() != state.first.len() || second.len() != state.second.len() || *step < 0 {
                return Err(RepresentationError::Shape(format!(
                    "optimizer state of table {k} has {} + {} values at step {step}, expected {} + {}",
                    first.len(),
                    second.len(),
                    state.first.len(),
                    state.second.len()
                )));
            }
            if first.iter().chain(second).any(|v| !v.is_finite()) {
                return Err(RepresentationError::NonFinite(format!(
                    "optimizer state of table {k}"
                )));
            }
        }
        for ((first, second, step), state) in saved.into_iter().zip(&mut self.states) {
            *state = State {
                first,
                second,
                step,
            };
        }
        Ok(())
    }

    /// Applies `grads` (one per table) to the touched rows of `tables`, then clears them.
    pub fn step(&mut self, tables: &mut [Table], grads: &mut [SparseGrad]) {
        let rule = Rule::from(self.config);
        for ((table, grad), state) in tables
            .iter_mut()
            .zip(grads.iter_mut())
            .zip(&mut self.states)
        {
            state.step += 1;
            let bias = Bias::at(state.step);
            let cols = table.cols();
            for (r, g) in grad.iter() {
                let range = r as usize * cols..(r as usize + 1) * cols;
                let w = &mut table.data_mut()[range.clone()];
                let m = state.first.get_mut(range.clone()).unwrap_or(&mut []);
                let v = state.second.get_mut(range).unwrap_or(&mut []);
                rule.update(bias, w, g, m, v);
            }
            grad.clear();
        }
    }

    /// Shares `tables` and this optimizer's state between threads for Hogwild-style training:
    /// every worker reads rows and applies its own updates without locks. Reads and writes are
    /// relaxed atomics, so a race loses or mixes an update (as in Hogwild) but is never
    /// undefined behaviour. With one worker the result is the same as [`RowOptimizer::step`].
    pub fn share<'a>(&'a mut self, tables: &'a mut [Table]) -> RowTraining<'a, AtomicRows<'a>> {
        self.open(tables, AtomicRows::new)
    }

    /// The same interface as [`share`](Self::share) for one thread: plain loads and stores
    /// that the compiler vectorises.
    pub fn exclusive<'a>(&'a mut self, tables: &'a mut [Table]) -> RowTraining<'a, CellRows<'a>> {
        self.open(tables, CellRows::new)
    }

    fn open<'a, S: RowStore + 'a>(
        &'a mut self,
        tables: &'a mut [Table],
        wrap: impl Fn(&'a mut [f32], usize, usize) -> S,
    ) -> RowTraining<'a, S> {
        let config = self.config;
        let mut out = Vec::with_capacity(tables.len());
        for (table, state) in tables.iter_mut().zip(&mut self.states) {
            let (rows, cols) = (table.rows(), table.cols());
            out.push(TrainedTable {
                weights: wrap(table.data_mut(), rows, cols),
                first: wrap(&mut state.first, rows, cols),
                second: wrap(&mut state.second, rows, cols),
                step: atomic_i32(&mut state.step),
            });
        }
        RowTraining {
            config,
            tables: out,
        }
    }
}

/// How many rows ahead a step asks for its rows to be fetched.
const PREFETCH_AHEAD: usize = 6;

/// The update rule with its hyperparameters.
#[derive(Clone, Copy)]
struct Rule {
    kind: OptimizerKind,
    lr: f32,
    l2: f32,
}

impl From<OptimizerConfig> for Rule {
    fn from(c: OptimizerConfig) -> Self {
        Rule {
            kind: c.kind,
            lr: c.learning_rate,
            l2: c.l2,
        }
    }
}

/// Adam's bias corrections at a step.
#[derive(Clone, Copy)]
struct Bias {
    c1: f32,
    c2: f32,
}

impl Bias {
    fn at(step: i32) -> Self {
        Bias {
            c1: 1.0 - BETA1.powi(step),
            c2: 1.0 - BETA2.powi(step),
        }
    }
}

impl Rule {
    /// Updates one row `w` with gradient `g`; `m` and `v` are its state (empty when unused).
    #[inline]
    fn update(self, bias: Bias, w: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]) {
        let Rule { kind, lr, l2 } = self;
        match kind {
            OptimizerKind::Sgd => {
                for (w, g) in w.iter_mut().zip(g) {
                    *w -= lr * (g + l2 * *w);
                }
            }
            OptimizerKind::Adagrad => {
                for ((w, g), acc) in w.iter_mut().zip(g).zip(v) {
                    let g = g + l2 * *w;
                    *acc += g * g;
                    *w -= lr * g / (acc.sqrt() + 1e-7);
                }
            }
            OptimizerKind::Adam => {
                let Bias { c1, c2 } = bias;
                for (((w, g), m), v) in w.iter_mut().zip(g).zip(m).zip(v) {
                    let g = g + l2 * *w;
                    *m = BETA1 * *m + (1.0 - BETA1) * g;
                    *v = BETA2 * *v + (1.0 - BETA2) * g * g;
                    *w -= lr * (*m / c1) / ((*v / c2).sqrt() + EPSILON);
                }
            }
        }
    }
}

const _: () = assert!(
    std::mem::size_of::<AtomicU32>() == std::mem::size_of::<f32>()
        && std::mem::align_of::<AtomicU32>() == std::mem::align_of::<f32>()
        && std::mem::align_of::<AtomicI32>() == std::mem::align_of::<i32>()
);

fn atomic_i32(value: &mut i32) -> &AtomicI32 {
    // SAFETY: AtomicI32 has the size and alignment of i32 (asserted above), and the exclusive
    // borrow means every access for its lifetime goes through the atomic.
    unsafe { &*(value as *mut i32 as *const AtomicI32) }
}

/// Row-wise access to a row-major `f32` buffer through a shared reference.
pub trait RowStore {
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
fn prefetch_lines(start: *const u8, bytes: usize) {
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
pub trait Slot: Sized {
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
pub struct SlotRows<'a, S> {
    data: &'a [S],
    rows: usize,
    cols: usize,
}

/// A buffer that several threads read and write with relaxed atomics (Hogwild).
pub type AtomicRows<'a> = SlotRows<'a, AtomicU32>;

/// A buffer used by one thread through a shared reference (`Cell`s, so not `Sync`); plain
/// loads and stores that the compiler vectorises.
pub type CellRows<'a> = SlotRows<'a, Cell<f32>>;

impl<'a> AtomicRows<'a> {
    fn new(data: &'a mut [f32], rows: usize, cols: usize) -> Self {
        // SAFETY: AtomicU32 has the size and alignment of f32 (asserted above); the exclusive
        // borrow means every access for 'a goes through the atomics.
        let data = unsafe { &*(data as *mut [f32] as *const [AtomicU32]) };
        SlotRows::over(data, rows, cols)
    }
}

impl<'a> CellRows<'a> {
    fn new(data: &'a mut [f32], rows: usize, cols: usize) -> Self {
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
pub struct TrainedTable<'a, S> {
    /// The parameters.
    pub weights: S,
    first: S,
    second: S,
    step: &'a AtomicI32,
}

/// Tables and optimizer state opened for training with updates through `&self` (see
/// [`RowOptimizer::share`] and [`RowOptimizer::exclusive`]).
pub struct RowTraining<'a, S> {
    config: OptimizerConfig,
    tables: Vec<TrainedTable<'a, S>>,
}

impl<'a, S: RowStore> RowTraining<'a, S> {
    /// The tables, in the representation's order.
    pub fn tables(&self) -> &[TrainedTable<'a, S>] {
        &self.tables
    }

    /// Applies `grads` (one per table) to the touched rows, then clears them. With
    /// [`AtomicRows`], safe to call from several threads at once.
    pub fn step(&self, grads: &mut [SparseGrad]) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_rows_round_trip_whether_read_in_pairs_or_singly() {
        let mut data: Vec<f32> = (0..40).map(|k| k as f32 * 0.25 - 3.0).collect();
        let original = data.clone();
        // rows of 4 (pairs where aligned), then the same words as rows of 5 (always singles)
        for cols in [4usize, 5] {
            let rows = AtomicRows::new(&mut data, 40 / cols, cols);
            let mut out = vec![0.0f32; cols];
            for r in 0..40 / cols {
                rows.read(r, &mut out);
                assert_eq!(out, original[r * cols..(r + 1) * cols]);
                let doubled: Vec<f32> = out.iter().map(|v| v * 2.0).collect();
                rows.write(r, &doubled);
                rows.read(r, &mut out);
                assert_eq!(out, doubled);
                rows.write(r, &original[r * cols..(r + 1) * cols]);
            }
        }
        // an odd start: rows that begin between two pairs
        let rows = AtomicRows::new(&mut data[1..33], 8, 4);
        let mut out = vec![0.0f32; 4];
        for r in 0..8 {
            rows.read(r, &mut out);
            assert_eq!(out, original[1 + r * 4..1 + (r + 1) * 4]);
        }
    }
}
