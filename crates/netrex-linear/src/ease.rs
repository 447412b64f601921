//! EASE (Steck, "Embarrassingly Shallow Autoencoders for Sparse Data", WWW 2019): item-item
//! weights `B = I - P diag(1 / diag P)` with `P = (XᵀX + λI)⁻¹` and a zero diagonal, so a
//! user's scores are `x_u B`, the sum of the rows of `B` of the items they have.

use faer::linalg::solvers::DenseSolveCore;
use faer::{MatRef, Side};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::rows::UserItems;
use crate::LinearError;

/// The floating-point type the Gram matrix is factorised in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// Single precision: half the memory and about twice the speed of `f64`; on ML-100K its
    /// scores rank the same items (docs/results.md).
    #[default]
    F32,
    /// Double precision.
    F64,
}

/// EASE's hyperparameters.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct EaseConfig {
    /// `λ`, added to the Gram matrix's diagonal (Steck's best values are in the hundreds).
    pub l2: f32,
    /// The type the Gram matrix is factorised in.
    #[serde(default)]
    pub precision: Precision,
    /// EDLAE's dropout probability `p` in `[0, 1)` (Steck, "Autoencoders that don't overfit
    /// towards the identity", NeurIPS 2020): item `i`'s penalty becomes
    /// `λ + p / (1 - p) G_ii`, so popular items are held back more. 0 is EASE.
    #[serde(default)]
    pub dropout: f32,
}

impl Default for EaseConfig {
    fn default() -> Self {
        EaseConfig {
            l2: 500.0,
            precision: Precision::F32,
            dropout: 0.0,
        }
    }
}

impl EaseConfig {
    /// Checks the values: `λ` must be finite and positive (it keeps the Gram matrix
    /// invertible).
    pub fn check(&self) -> Result<(), LinearError> {
        if !(self.l2.is_finite() && self.l2 > 0.0) {
            return Err(LinearError::Parameter(format!(
                "EASE's l2 (lambda) must be a positive number, not {}",
                self.l2
            )));
        }
        if !(self.dropout.is_finite() && (0.0..1.0).contains(&self.dropout)) {
            return Err(LinearError::Parameter(format!(
                "EDLAE's dropout must be in [0, 1), not {}",
                self.dropout
            )));
        }
        Ok(())
    }

    /// Bytes the fit allocates for a catalog of `items`: the Gram matrix, its factor and its
    /// inverse in the working precision, and the weights in `f32`.
    pub fn memory(&self, items: usize) -> u64 {
        let width = match self.precision {
            Precision::F32 => 4,
            Precision::F64 => 8,
        };
        (items as u64).pow(2) * (3 * width + 4)
    }
}

/// A fitted EASE model: the item-item weights and each training user's items.
#[derive(Clone, Debug, PartialEq)]
pub struct Ease {
    config: EaseConfig,
    num_items: usize,
    /// `B`, row-major `(items, items)`: row `i` holds what having item `i` adds to every item.
    weights: Vec<f32>,
    train: UserItems,
}

/// The working precision of the solve.
trait Real: faer::traits::RealField + Copy + Send + Sync {
    fn of(x: f64) -> Self;
    fn to_f32(self) -> f32;
}

impl Real for f32 {
    fn of(x: f64) -> Self {
        x as f32
    }
    fn to_f32(self) -> f32 {
        self
    }
}

impl Real for f64 {
    fn of(x: f64) -> Self {
        x
    }
    fn to_f32(self) -> f32 {
        self as f32
    }
}

impl Ease {
    /// Fits EASE to `train` (each (user, item) pair counts once).
    pub fn fit(train: &UserItems, config: &EaseConfig) -> Result<Self, LinearError> {
        config.check()?;
        if train.nnz() == 0 {
            return Err(LinearError::Empty("EASE's training data"));
        }
        let weights = match config.precision {
            Precision::F32 => solve::<f32>(train, config)?,
            Precision::F64 => solve::<f64>(train, config)?,
        };
        Ok(Ease {
            config: *config,
            num_items: train.num_items(),
            weights,
            train: train.clone(),
        })
    }

    /// Rebuilds a model from its saved parts.
    pub fn from_parts(
        config: EaseConfig,
        weights: Vec<f32>,
        train: UserItems,
    ) -> Result<Self, LinearError> {
        let n = train.num_items();
        if weights.len() != n * n {
            return Err(LinearError::Shape(format!(
                "EASE's weights hold {} values, not {n} x {n}",
                weights.len()
            )));
        }
        Ok(Ease {
            config,
            num_items: n,
            weights,
            train,
        })
    }

    /// The hyperparameters it was fitted with.
    pub fn config(&self) -> &EaseConfig {
        &self.config
    }

    /// `B`, row-major `(items, items)`.
    pub fn weights(&self) -> &[f32] {
        &self.weights
    }

    /// Each training user's items.
    pub fn train(&self) -> &UserItems {
        &self.train
    }

    /// Number of items.
    pub fn num_items(&self) -> usize {
        self.num_items
    }

    /// The scores of every item for someone who has `items` (`x B`), into `scores`
    /// (`num_items` long). Ids at or above `num_items` are ignored; the caller checks them.
    pub fn score_items_of(&self, items: &[u32], scores: &mut [f32]) {
        let n = self.num_items;
        scores.iter_mut().for_each(|s| *s = 0.0);
        for &i in items.iter().filter(|&&i| (i as usize) < n) {
            let row = &self.weights[i as usize * n..(i as usize + 1) * n];
            scores.iter_mut().zip(row).for_each(|(s, w)| *s += w);
        }
    }
}

/// `B` for `train` and `λ`, computed in `T`.
fn solve<T: Real>(train: &UserItems, config: &EaseConfig) -> Result<Vec<f32>, LinearError> {
    let l2 = config.l2;
    let emphasis = f64::from(config.dropout) / (1.0 - f64::from(config.dropout));
    let n = train.num_items();
    let by_item = train.transpose();
    // G = XᵀX + λI, one row per item in parallel: row i counts the items of i's users
    let mut gram = vec![T::of(0.0); n * n];
    gram.par_chunks_mut(n.max(1))
        .enumerate()
        .for_each(|(i, row)| {
            let mut counts = vec![0u32; n];
            for &u in by_item.get(i) {
                for &j in train.get(u as usize) {
                    counts[j as usize] += 1;
                }
            }
            for (g, &c) in row.iter_mut().zip(&counts) {
                *g = T::of(f64::from(c));
            }
            let g = f64::from(counts[i]);
            row[i] = T::of(g + f64::from(l2) + emphasis * g);
        });
    // symmetric, so the row-major buffer is also column-major
    let llt = MatRef::from_column_major_slice(&gram, n, n)
        .llt(Side::Lower)
        .map_err(|_| {
            LinearError::Numerical(format!(
                "the Gram matrix plus l2 = {l2} is not positive definite in this precision: \
                 raise --l2 or use f64"
            ))
        })?;
    drop(gram);
    let p = llt.inverse();
    drop(llt);
    let diagonal: Vec<T> = (0..n).map(|j| p[(j, j)]).collect();
    let mut weights = vec![0.0f32; n * n];
    weights
        .par_chunks_mut(n.max(1))
        .enumerate()
        .for_each(|(i, row)| {
            // B[i, j] = -P[i, j] / P[j, j]; P is symmetric, so row i is column i
            let column = p.col(i);
            for (j, w) in row.iter_mut().enumerate() {
                *w = if i == j {
                    0.0
                } else {
                    (-column[j] / diagonal[j]).to_f32()
                };
            }
        });
    if weights.iter().any(|w| !w.is_finite()) {
        return Err(LinearError::Numerical(format!(
            "EASE's weights are not finite at l2 = {l2}: raise --l2 or use f64"
        )));
    }
    Ok(weights)
}
