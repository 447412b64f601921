//! Row-wise optimizers: each step visits only the rows with a gradient.
//!
//! Adam here is "lazy" Adam: moments of untouched rows are not decayed, which is what makes a
//! step's cost follow the batch. L2 is likewise applied to touched rows only.

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

const BETA1: f32 = 0.9;
const BETA2: f32 = 0.999;
const EPSILON: f32 = 1e-8;

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

    /// Applies `grads` (one per table) to the touched rows of `tables`, then clears them.
    pub fn step(&mut self, tables: &mut [Table], grads: &mut [SparseGrad]) {
        let OptimizerConfig {
            kind,
            learning_rate: lr,
            l2,
        } = self.config;
        for ((table, grad), state) in tables
            .iter_mut()
            .zip(grads.iter_mut())
            .zip(&mut self.states)
        {
            state.step += 1;
            let cols = table.cols();
            let (c1, c2) = (1.0 - BETA1.powi(state.step), 1.0 - BETA2.powi(state.step));
            for &r in grad.touched() {
                let g = grad.row(r);
                let w = table.row_mut(r as usize);
                let range = r as usize * cols..(r as usize + 1) * cols;
                match kind {
                    OptimizerKind::Sgd => {
                        for (w, g) in w.iter_mut().zip(g) {
                            *w -= lr * (g + l2 * *w);
                        }
                    }
                    OptimizerKind::Adagrad => {
                        for ((w, g), acc) in w.iter_mut().zip(g).zip(&mut state.second[range]) {
                            let g = g + l2 * *w;
                            *acc += g * g;
                            *w -= lr * g / (acc.sqrt() + 1e-7);
                        }
                    }
                    OptimizerKind::Adam => {
                        let (m, v) = (&mut state.first[range.clone()], &mut state.second[range]);
                        for (((w, g), m), v) in w.iter_mut().zip(g).zip(m).zip(v) {
                            let g = g + l2 * *w;
                            *m = BETA1 * *m + (1.0 - BETA1) * g;
                            *v = BETA2 * *v + (1.0 - BETA2) * g * g;
                            *w -= lr * (*m / c1) / ((*v / c2).sqrt() + EPSILON);
                        }
                    }
                }
            }
            grad.clear();
        }
    }
}
