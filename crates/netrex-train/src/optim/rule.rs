//! The update rules (SGD, Adagrad, Adam) with their hyperparameters, applied to one row: the
//! leaf that the optimizer, its row stores and the kernels read.

use serde::{Deserialize, Serialize};

use netrex_representations::RepresentationError;

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

pub(crate) const BETA1: f32 = 0.9;
pub(crate) const BETA2: f32 = 0.999;
pub(crate) const EPSILON: f32 = 1e-8;
/// The largest `|m| / sqrt(v)` Adam's moments reach over any history of gradients is
/// `(1 - b1) / sqrt((1 - b2)(1 - b1^2 / b2))` (Cauchy-Schwarz on the two sums), 7.27 for
/// b1 = 0.9, b2 = 0.999: moments outside 8 were mixed from two updates by a race.
pub(crate) const ADAM_RATIO: f32 = 8.0;

/// How many rows ahead a step asks for its rows to be fetched.
pub(crate) const PREFETCH_AHEAD: usize = 6;

/// The update rule with its hyperparameters.
#[derive(Clone, Copy)]
pub(crate) struct Rule {
    pub(crate) kind: OptimizerKind,
    pub(crate) lr: f32,
    pub(crate) l2: f32,
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
pub(crate) struct Bias {
    c1: f32,
    c2: f32,
}

impl Bias {
    pub(crate) fn at(step: i32) -> Self {
        Bias {
            c1: 1.0 - BETA1.powi(step),
            c2: 1.0 - BETA2.powi(step),
        }
    }

    /// `(lr / c1, 1 / sqrt(c2))`: Adam's step is `w -= (lr / c1) m / (sqrt(v) / sqrt(c2) + eps)`.
    pub(crate) fn factors(self, lr: f32) -> (f32, f32) {
        (lr / self.c1, self.c2.sqrt().recip())
    }
}

impl Rule {
    /// Updates one row `w` with gradient `g`; `m` and `v` are its state (empty when unused).
    #[inline]
    pub(crate) fn update(self, bias: Bias, w: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]) {
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
                // the bias corrections folded into two scalars (as PyTorch arranges Adam): one
                // square root and one division per element instead of three divisions and a
                // root, which the row step waits on
                let (step, scale) = bias.factors(lr);
                for (((w, g), m), v) in w.iter_mut().zip(g).zip(m).zip(v) {
                    let g = g + l2 * *w;
                    *v = BETA2 * *v + (1.0 - BETA2) * g * g;
                    let root = v.sqrt();
                    // Hogwild workers can leave a row's moments from two different updates
                    // (one worker's first moment, the other's second, or a fresh row's zero
                    // second moment read beside a written first one), and then m / sqrt(v)
                    // has no bound and one step can throw the weight by thousands of learning
                    // rates. Moments of one history keep |m| <= 7.27 sqrt(v) (see
                    // `ADAM_RATIO`), so this bound only repairs mixed ones.
                    let bound = ADAM_RATIO * (root + EPSILON);
                    let m_next = BETA1 * *m + (1.0 - BETA1) * g;
                    // compare-and-select, not `f32::min`/`max`: one vector min and max each,
                    // and a NaN passes through to the loss check as before
                    let m_next = if m_next > bound { bound } else { m_next };
                    *m = if m_next < -bound { -bound } else { m_next };
                    *w -= step * *m / (root * scale + EPSILON);
                }
            }
        }
    }
}
