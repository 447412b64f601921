//! Row-wise optimizers: each step visits only the rows with a gradient.
//!
//! Adam here is "lazy" Adam: moments of untouched rows are not decayed, which is what makes a
//! step's cost follow the batch. L2 is likewise applied to touched rows only.

use std::sync::atomic::AtomicI32;

use netrex_representations::{RepresentationError, SparseGrad, Table};

mod rows;
mod rule;
mod slot;

pub(crate) use rows::{prefetch_lines, AtomicRows, CellRows, RowStore, RowTraining, TrainedTable};
pub(crate) use rule::{Bias, Rule, BETA1, BETA2, EPSILON};
pub use rule::{OptimizerConfig, OptimizerKind};
pub(crate) use slot::{sgd_values, step_values};

struct State {
    first: Vec<f32>,
    second: Vec<f32>,
    step: i32,
}

/// Optimizer state for a list of tables.
///
/// The state (Adam's two moments, Adagrad's accumulator: up to twice the tables) is allocated
/// by the first update, so a model loaded only to score or recommend never holds it.
pub struct RowOptimizer {
    config: OptimizerConfig,
    /// Values per table (rows x cols).
    sizes: Vec<usize>,
    /// One per table; empty vectors until the first update or a restore.
    states: Vec<State>,
}

impl RowOptimizer {
    /// An optimizer for `tables`; its state is allocated once, at the first update.
    pub fn new(config: OptimizerConfig, tables: &[Table]) -> Self {
        let sizes: Vec<usize> = tables.iter().map(|t| t.rows() * t.cols()).collect();
        let states = sizes
            .iter()
            .map(|_| State {
                first: Vec::new(),
                second: Vec::new(),
                step: 0,
            })
            .collect();
        RowOptimizer {
            config,
            sizes,
            states,
        }
    }

    /// Lengths of a table's `(first, second)` state under this rule.
    fn state_len(&self, size: usize) -> (usize, usize) {
        match self.config.kind {
            OptimizerKind::Sgd => (0, 0),
            OptimizerKind::Adagrad => (0, size),
            OptimizerKind::Adam => (size, size),
        }
    }

    /// Whether the state is allocated (after the first update, or a restored checkpoint).
    pub fn is_allocated(&self) -> bool {
        self.sizes
            .iter()
            .zip(&self.states)
            .all(|(&n, s)| (s.first.len(), s.second.len()) == self.state_len(n))
    }

    /// Allocates the zeroed state of every table that has none yet.
    fn allocate(&mut self) {
        for k in 0..self.states.len() {
            let (first, second) = self.state_len(self.sizes[k]);
            let state = &mut self.states[k];
            if state.first.len() != first {
                state.first = netrex_representations::memory::zeroed(first);
            }
            if state.second.len() != second {
                state.second = netrex_representations::memory::zeroed(second);
            }
        }
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
    /// Adagrad's accumulator (empty for SGD); both are empty before the first update.
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
        for (k, (first, second, step)) in saved.iter().enumerate() {
            let (want_first, want_second) = self.state_len(self.sizes[k]);
            // a state never allocated is saved empty, at step 0
            let fresh = first.is_empty() && second.is_empty() && *step == 0;
            if (!fresh && (first.len() != want_first || second.len() != want_second)) || *step < 0 {
                return Err(RepresentationError::Shape(format!(
                    "optimizer state of table {k} has {} + {} values at step {step}, expected {want_first} + {want_second}",
                    first.len(),
                    second.len(),
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
        self.allocate();
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
    pub(crate) fn share<'a>(
        &'a mut self,
        tables: &'a mut [Table],
    ) -> RowTraining<'a, AtomicRows<'a>> {
        self.open(tables, AtomicRows::new)
    }

    /// The same interface as [`share`](Self::share) for one thread: plain loads and stores
    /// that the compiler vectorises.
    pub(crate) fn exclusive<'a>(
        &'a mut self,
        tables: &'a mut [Table],
    ) -> RowTraining<'a, CellRows<'a>> {
        self.open(tables, CellRows::new)
    }

    fn open<'a, S: RowStore + 'a>(
        &'a mut self,
        tables: &'a mut [Table],
        wrap: impl Fn(&'a mut [f32], usize, usize) -> S,
    ) -> RowTraining<'a, S> {
        self.allocate();
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

fn atomic_i32(value: &mut i32) -> &AtomicI32 {
    // SAFETY: AtomicI32 has the size and alignment of i32 (asserted above), and the exclusive
    // borrow means every access for its lifetime goes through the atomic.
    unsafe { &*(value as *mut i32 as *const AtomicI32) }
}

#[cfg(test)]
mod tests;
