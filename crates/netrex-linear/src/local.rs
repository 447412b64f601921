//! A scalable EASE: each item's weights restricted to its `m` most co-occurring items, so no
//! n x n matrix is ever formed. Item j's column solves EASE's own problem on those items only,
//! `min ‖X_j - X_N b‖² + λ‖b‖²`, i.e. `b = (G_NN + λI)⁻¹ G_Nj`: SLIM with its ℓ1 term dropped
//! and its feature selection (fsSLIM, Ning & Karypis, ICDM 2011) by co-occurrence. Memory is
//! the sparse co-occurrence matrix and `n x m` weights; each column is an `m x m` solve.

use faer::linalg::solvers::Solve;
use faer::{Mat, Side};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::rows::UserItems;
use crate::LinearError;

/// The scalable EASE's hyperparameters.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LocalEaseConfig {
    /// `λ`, as EASE's.
    pub l2: f32,
    /// Items each item's weights may come from (its most co-occurring ones).
    pub neighbours: usize,
}

impl Default for LocalEaseConfig {
    fn default() -> Self {
        LocalEaseConfig {
            l2: 500.0,
            neighbours: 100,
        }
    }
}

impl LocalEaseConfig {
    /// Checks the values.
    pub fn check(&self) -> Result<(), LinearError> {
        if !(self.l2.is_finite() && self.l2 > 0.0) {
            return Err(LinearError::Parameter(format!(
                "the scalable EASE's l2 must be a positive number, not {}",
                self.l2
            )));
        }
        if !(1..=2048).contains(&self.neighbours) {
            return Err(LinearError::Parameter(format!(
                "the scalable EASE's neighbours must be in 1..=2048, not {}",
                self.neighbours
            )));
        }
        Ok(())
    }
}

/// Each item's co-occurrence counts with the other items, `(item, count)` by increasing item.
fn cooccurrence(train: &UserItems, by_item: &UserItems) -> Vec<Vec<(u32, u32)>> {
    let n = train.num_items();
    (0..n)
        .into_par_iter()
        .map_init(
            || (vec![0u32; n], Vec::new()),
            |(counts, touched), i| {
                for &u in by_item.get(i) {
                    for &j in train.get(u as usize) {
                        if counts[j as usize] == 0 {
                            touched.push(j);
                        }
                        counts[j as usize] += 1;
                    }
                }
                touched.sort_unstable();
                let row = touched
                    .iter()
                    .map(|&j| (j, std::mem::take(&mut counts[j as usize])))
                    .collect();
                touched.clear();
                row
            },
        )
        .collect()
}

/// A fitted scalable EASE: for each source item, the items it adds to and by how much.
#[derive(Clone, Debug, PartialEq)]
pub struct LocalEase {
    config: LocalEaseConfig,
    /// By source item `a`: `(target j, weight B[a, j])`.
    rows: Vec<Vec<(u32, f32)>>,
    train: UserItems,
}

impl LocalEase {
    /// Fits the model to `train`.
    pub fn fit(train: &UserItems, config: &LocalEaseConfig) -> Result<Self, LinearError> {
        config.check()?;
        if train.nnz() == 0 {
            return Err(LinearError::Empty("the scalable EASE's training data"));
        }
        let n = train.num_items();
        let gram = cooccurrence(train, &train.transpose());
        let count = |a: u32, b: u32| -> f64 {
            let row = &gram[a as usize];
            row.binary_search_by_key(&b, |&(j, _)| j)
                .map_or(0.0, |k| f64::from(row[k].1))
        };
        let l2 = f64::from(config.l2);
        // column j: its neighbours and their weights
        let columns: Vec<Vec<(u32, f32)>> = (0..n as u32)
            .into_par_iter()
            .map(|j| {
                let mut near: Vec<(u32, u32)> = gram[j as usize]
                    .iter()
                    .copied()
                    .filter(|&(a, _)| a != j)
                    .collect();
                // most co-occurring first, ties by id
                near.sort_unstable_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(&y.0)));
                near.truncate(config.neighbours);
                let m = near.len();
                if m == 0 {
                    return Ok(Vec::new());
                }
                let a = Mat::<f64>::from_fn(m, m, |r, c| {
                    let g = count(near[r].0, near[c].0);
                    if r == c {
                        g + l2
                    } else {
                        g
                    }
                });
                let rhs = Mat::<f64>::from_fn(m, 1, |r, _| f64::from(near[r].1));
                let b = a
                    .llt(Side::Lower)
                    .map_err(|_| {
                        LinearError::Numerical(format!(
                            "item {j}'s neighbourhood system is not positive definite"
                        ))
                    })?
                    .solve(&rhs);
                Ok(near
                    .iter()
                    .enumerate()
                    .map(|(r, &(a, _))| (a, b[(r, 0)] as f32))
                    .collect())
            })
            .collect::<Result<_, LinearError>>()?;
        let mut rows: Vec<Vec<(u32, f32)>> = vec![Vec::new(); n];
        for (j, column) in columns.iter().enumerate() {
            for &(a, w) in column {
                rows[a as usize].push((j as u32, w));
            }
        }
        Ok(LocalEase {
            config: *config,
            rows,
            train: train.clone(),
        })
    }

    /// The hyperparameters it was fitted with.
    pub fn config(&self) -> &LocalEaseConfig {
        &self.config
    }

    /// Each training user's items.
    pub fn train(&self) -> &UserItems {
        &self.train
    }

    /// Number of items.
    pub fn num_items(&self) -> usize {
        self.train.num_items()
    }

    /// Stored weights (at most `items x neighbours`).
    pub fn nnz(&self) -> usize {
        self.rows.iter().map(Vec::len).sum()
    }

    /// The weights as CSR by source item: offsets (`items + 1`), targets and weights.
    pub fn to_csr(&self) -> (Vec<usize>, Vec<u32>, Vec<f32>) {
        let mut offsets = Vec::with_capacity(self.rows.len() + 1);
        offsets.push(0);
        let (mut targets, mut weights) = (Vec::new(), Vec::new());
        for row in &self.rows {
            targets.extend(row.iter().map(|&(j, _)| j));
            weights.extend(row.iter().map(|&(_, w)| w));
            offsets.push(targets.len());
        }
        (offsets, targets, weights)
    }

    /// Rebuilds a model from [`to_csr`](Self::to_csr)'s parts, checking them.
    pub fn from_csr(
        config: LocalEaseConfig,
        offsets: Vec<usize>,
        targets: Vec<u32>,
        weights: Vec<f32>,
        train: UserItems,
    ) -> Result<Self, LinearError> {
        let n = train.num_items();
        let ordered = offsets.windows(2).all(|w| w[0] <= w[1]);
        let fits = offsets.len() == n + 1
            && offsets.last() == Some(&targets.len())
            && targets.len() == weights.len()
            && targets.iter().all(|&j| (j as usize) < n);
        if !(ordered && fits) {
            return Err(LinearError::Shape(
                "the scalable EASE's weights do not fit its catalog".into(),
            ));
        }
        let rows = offsets
            .windows(2)
            .map(|w| (w[0]..w[1]).map(|k| (targets[k], weights[k])).collect())
            .collect();
        Ok(LocalEase {
            config,
            rows,
            train,
        })
    }

    /// The scores of every item for someone who has `items`, into `scores`.
    pub fn score_items_of(&self, items: &[u32], scores: &mut [f32]) {
        scores.iter_mut().for_each(|s| *s = 0.0);
        for &a in items.iter().filter(|&&a| (a as usize) < self.rows.len()) {
            for &(j, w) in &self.rows[a as usize] {
                scores[j as usize] += w;
            }
        }
    }

    /// `B`, dense and row-major `(items, items)`: for comparing with EASE on small catalogs.
    pub fn dense_weights(&self) -> Vec<f32> {
        let n = self.num_items();
        let mut dense = vec![0.0f32; n * n];
        for (a, row) in self.rows.iter().enumerate() {
            for &(j, w) in row {
                dense[a * n + j as usize] = w;
            }
        }
        dense
    }
}
