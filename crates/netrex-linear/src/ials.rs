//! Implicit alternating least squares (Hu, Koren & Volinsky, "Collaborative Filtering for
//! Implicit Feedback Datasets", ICDM 2008): every (user, item) pair is a target, 1 where the
//! user has the item and 0 elsewhere, weighted by a confidence `c = 1 + α` on the observed
//! pairs and 1 on the rest. Each half-sweep solves every user's (then every item's) least
//! squares problem by a few conjugate-gradient steps from its current value, as implicit
//! does (Takács, Pilászy & Tikk, RecSys 2011), without ever forming the dense matrix.

use faer::linalg::matmul::matmul;
use faer::linalg::solvers::Solve;
use faer::{Accum, Mat, MatMut, MatRef, Par, Side};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::rows::UserItems;
use crate::wide::{axpy, dot, widest, Wide};
use crate::LinearError;

/// iALS's hyperparameters.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct IalsConfig {
    /// Factors per user and item.
    pub factors: usize,
    /// `λ`, the L2 penalty on every factor.
    pub l2: f32,
    /// `α`: an observed pair weighs `1 + α`.
    pub alpha: f32,
    /// Sweeps (users, then items).
    pub iterations: usize,
    /// Conjugate-gradient steps per row and half-sweep.
    pub cg_steps: usize,
    /// Seed of the initial factors.
    pub seed: u64,
}

/// The defaults are the tuner's choice on ML-100K `ua`'s training data (128 factors, 15
/// sweeps): λ 25, α 2.
impl Default for IalsConfig {
    fn default() -> Self {
        IalsConfig {
            factors: 128,
            l2: 25.0,
            alpha: 2.0,
            iterations: 15,
            cg_steps: 3,
            seed: 0,
        }
    }
}

impl IalsConfig {
    /// Checks the values.
    pub fn check(&self) -> Result<(), LinearError> {
        let bad = |what: &str| Err(LinearError::Parameter(what.to_owned()));
        if self.factors == 0 || self.factors > 4096 {
            return bad("iALS's factors (--dim) must be in 1..=4096");
        }
        if !(self.l2.is_finite() && self.l2 >= 0.0) {
            return bad("iALS's l2 must be a finite number >= 0");
        }
        if !(self.alpha.is_finite() && self.alpha >= 0.0) {
            return bad("iALS's alpha must be a finite number >= 0");
        }
        if self.iterations == 0 || self.cg_steps == 0 {
            return bad("iALS's iterations (--epochs) and cg_steps must be at least 1");
        }
        Ok(())
    }

    /// Bytes the fit allocates: both factor tables and the transposed data.
    pub fn memory(&self, users: usize, items: usize, nnz: usize) -> u64 {
        4 * ((users + items) * self.factors) as u64 + 12 * nnz as u64
    }
}

/// A fitted iALS model: user and item factors, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct Ials {
    config: IalsConfig,
    users: Vec<f32>,
    items: Vec<f32>,
    train: UserItems,
}

/// One side's least-squares problems: `rows` of factors to solve against the other side's
/// `fixed` rows `(n, k)`, with `gram = fixedᵀ fixed`. Every row's conjugate-gradient step
/// runs at once, so the dense part of `A p` for all rows is one matrix product.
struct HalfSweep<'a> {
    config: &'a IalsConfig,
    fixed: &'a [f32],
    gram: Vec<f32>,
    rows: &'a UserItems,
}

impl<'a> HalfSweep<'a> {
    fn new(config: &'a IalsConfig, fixed: &'a [f32], rows: &'a UserItems) -> Self {
        let gram = gram(fixed, config.factors);
        HalfSweep {
            config,
            fixed,
            gram,
            rows,
        }
    }

    fn row(&self, i: u32) -> &[f32] {
        let k = self.config.factors;
        &self.fixed[i as usize * k..(i as usize + 1) * k]
    }

    /// `out_u = A_u v_u` for every row: `(gram + λI) v_u + α Σ_{i ∈ items(u)} (y_i · v_u) y_i`.
    fn apply_all(&self, v: &[f32], out: &mut [f32]) {
        let k = self.config.factors;
        let m = v.len() / k;
        matmul(
            MatMut::from_row_major_slice_mut(out, m, k),
            Accum::Replace,
            MatRef::from_row_major_slice(v, m, k),
            MatRef::from_row_major_slice(&self.gram, k, k),
            1.0f32,
            Par::rayon(0),
        );
        out.par_chunks_mut(k)
            .zip(v.par_chunks(k))
            .enumerate()
            .for_each(|(u, (o, v))| self.add_sparse(self.rows.get(u), v, o));
    }

    /// `out += λ v + α Σ_{i ∈ items} (y_i · v) y_i`.
    fn add_sparse(&self, items: &[u32], v: &[f32], out: &mut [f32]) {
        widest(&mut SparseRow {
            fixed: self.fixed,
            l2: self.config.l2,
            alpha: self.config.alpha,
            items,
            v,
            out,
        });
    }

    /// `b = (1 + α) Σ_{i ∈ items} y_i`.
    fn target(&self, items: &[u32], b: &mut [f32]) {
        b.iter_mut().for_each(|x| *x = 0.0);
        for &i in items {
            axpy(b, 1.0 + self.config.alpha, self.row(i));
        }
    }

    /// A few conjugate-gradient steps on every row of `x` from its current value.
    fn run(&self, x: &mut [f32]) {
        let k = self.config.factors;
        let mut r = vec![0.0f32; x.len()];
        let mut ap = vec![0.0f32; x.len()];
        self.apply_all(x, &mut ap);
        r.par_chunks_mut(k)
            .zip(ap.par_chunks(k))
            .enumerate()
            .for_each(|(u, (r, ax))| {
                self.target(self.rows.get(u), r);
                r.iter_mut().zip(ax).for_each(|(r, a)| *r -= a);
            });
        let mut p = r.clone();
        let mut rr: Vec<f32> = r.par_chunks(k).map(|r| dot(r, r)).collect();
        for _ in 0..self.config.cg_steps {
            self.apply_all(&p, &mut ap);
            x.par_chunks_mut(k)
                .zip(r.par_chunks_mut(k))
                .zip(p.par_chunks_mut(k))
                .zip(ap.par_chunks(k))
                .zip(rr.par_iter_mut())
                .for_each(|((((x, r), p), ap), rr)| widest(&mut CgStep { x, r, p, ap, rr }));
        }
    }
}

/// One row's `out += λ v + α Σ_{i ∈ items} (y_i · v) y_i`.
struct SparseRow<'a> {
    fixed: &'a [f32],
    l2: f32,
    alpha: f32,
    items: &'a [u32],
    v: &'a [f32],
    out: &'a mut [f32],
}

impl Wide for SparseRow<'_> {
    #[inline(always)]
    fn run(&mut self) {
        let k = self.v.len();
        axpy(self.out, self.l2, self.v);
        for &i in self.items {
            let y = &self.fixed[i as usize * k..(i as usize + 1) * k];
            axpy(self.out, self.alpha * dot(y, self.v), y);
        }
    }
}

/// One conjugate-gradient step of one row, given `ap = A p` and `rr = r · r`.
struct CgStep<'a> {
    x: &'a mut [f32],
    r: &'a mut [f32],
    p: &'a mut [f32],
    ap: &'a [f32],
    rr: &'a mut f32,
}

impl Wide for CgStep<'_> {
    #[inline(always)]
    fn run(&mut self) {
        let pap = dot(self.p, self.ap);
        // a converged row (or a breakdown) keeps its value
        if *self.rr <= 1e-20 || pap <= 0.0 || !pap.is_finite() {
            *self.rr = 0.0;
            return;
        }
        let step = *self.rr / pap;
        axpy(self.x, step, self.p);
        axpy(self.r, -step, self.ap);
        let next = dot(self.r, self.r);
        let beta = next / *self.rr;
        for (p, r) in self.p.iter_mut().zip(self.r.iter()) {
            *p = r + beta * *p;
        }
        *self.rr = next;
    }
}

/// One user's share of the loss: every pair as an unobserved one (`x (YᵀY) x`), corrected on
/// the observed pairs.
struct LossRow<'a> {
    gram: &'a [f32],
    items: &'a [f32],
    observed: &'a [u32],
    alpha: f64,
    x: &'a [f32],
    value: f64,
}

impl Wide for LossRow<'_> {
    #[inline(always)]
    fn run(&mut self) {
        let k = self.x.len();
        let mut all = 0.0f64;
        for (a, g) in self.gram.chunks_exact(k).enumerate() {
            all += f64::from(self.x[a]) * f64::from(dot(g, self.x));
        }
        for &i in self.observed {
            let s = f64::from(dot(
                self.x,
                &self.items[i as usize * k..(i as usize + 1) * k],
            ));
            all += (1.0 + self.alpha) * (1.0 - s).powi(2) - s * s;
        }
        self.value = all;
    }
}

/// Every item's score `x · y_i` into `scores`.
struct ScoreRow<'a> {
    items: &'a [f32],
    x: &'a [f32],
    scores: &'a mut [f32],
}

impl Wide for ScoreRow<'_> {
    #[inline(always)]
    fn run(&mut self) {
        let k = self.x.len();
        for (s, y) in self.scores.iter_mut().zip(self.items.chunks_exact(k)) {
            *s = dot(self.x, y);
        }
    }
}

/// `tableᵀ table` `(k, k)` row-major, for a row-major `(rows, k)` table.
fn gram(table: &[f32], k: usize) -> Vec<f32> {
    let rows = table.len() / k.max(1);
    let mut g = vec![0.0f32; k * k];
    let t = MatRef::from_row_major_slice(table, rows, k);
    matmul(
        MatMut::from_row_major_slice_mut(&mut g, k, k),
        Accum::Replace,
        t.transpose(),
        t,
        1.0f32,
        Par::rayon(0),
    );
    g
}

impl Ials {
    /// Fits iALS to `train`, calling `on_sweep(sweep, loss)` after every sweep.
    pub fn fit(
        train: &UserItems,
        config: &IalsConfig,
        mut on_sweep: impl FnMut(usize, f64),
    ) -> Result<Self, LinearError> {
        config.check()?;
        if train.nnz() == 0 {
            return Err(LinearError::Empty("iALS's training data"));
        }
        let k = config.factors;
        let mut rng = StdRng::seed_from_u64(config.seed);
        let mut init =
            |rows: usize| -> Vec<f32> { (0..rows * k).map(|_| rng.gen_range(0.0..0.01)).collect() };
        let mut model = Ials {
            config: *config,
            users: init(train.num_users()),
            items: init(train.num_items()),
            train: train.clone(),
        };
        let by_item = train.transpose();
        for sweep in 0..config.iterations {
            HalfSweep::new(config, &model.items, train).run(&mut model.users);
            HalfSweep::new(config, &model.users, &by_item).run(&mut model.items);
            let loss = model.loss();
            if !loss.is_finite() {
                return Err(LinearError::Numerical(format!(
                    "iALS diverged: the loss is {loss} after sweep {}",
                    sweep + 1
                )));
            }
            on_sweep(sweep + 1, loss);
        }
        Ok(model)
    }

    /// Rebuilds a model from its saved parts.
    pub fn from_parts(
        config: IalsConfig,
        users: Vec<f32>,
        items: Vec<f32>,
        train: UserItems,
    ) -> Result<Self, LinearError> {
        let k = config.factors;
        if users.len() != train.num_users() * k || items.len() != train.num_items() * k {
            return Err(LinearError::Shape(format!(
                "iALS's factors hold {} and {} values, not ({} + {}) x {k}",
                users.len(),
                items.len(),
                train.num_users(),
                train.num_items()
            )));
        }
        Ok(Ials {
            config,
            users,
            items,
            train,
        })
    }

    /// The objective: `Σ_{u,i} c_ui (p_ui - x_u·y_i)² + λ (‖X‖² + ‖Y‖²)`, in `f64`.
    pub fn loss(&self) -> f64 {
        let k = self.config.factors;
        let item_gram = gram(&self.items, k);
        let alpha = f64::from(self.config.alpha);
        let per_user: f64 = self
            .users
            .par_chunks(k)
            .enumerate()
            .map(|(u, x)| {
                let mut row = LossRow {
                    gram: &item_gram,
                    items: &self.items,
                    observed: self.train.get(u),
                    alpha,
                    x,
                    value: 0.0,
                };
                widest(&mut row);
                row.value
            })
            .sum();
        let norm = |t: &[f32]| t.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>();
        per_user + f64::from(self.config.l2) * (norm(&self.users) + norm(&self.items))
    }

    /// The hyperparameters it was fitted with.
    pub fn config(&self) -> &IalsConfig {
        &self.config
    }

    /// User factors, row-major `(users, factors)`.
    pub fn user_factors(&self) -> &[f32] {
        &self.users
    }

    /// Item factors, row-major `(items, factors)`.
    pub fn item_factors(&self) -> &[f32] {
        &self.items
    }

    /// Each training user's items.
    pub fn train(&self) -> &UserItems {
        &self.train
    }

    /// Number of items.
    pub fn num_items(&self) -> usize {
        self.train.num_items()
    }

    /// Every item's score (`x · y_i`) for the user with factors `x`, into `scores`.
    pub fn score_with(&self, x: &[f32], scores: &mut [f32]) {
        widest(&mut ScoreRow {
            items: &self.items,
            x,
            scores,
        });
    }

    /// The factors of a user never seen in training who has `items`: the exact solution of
    /// their least-squares problem against the item factors (one closed-form step, no
    /// retraining). Unknown item ids are an error.
    pub fn fold_in(&self, items: &[u32]) -> Result<Vec<f32>, LinearError> {
        let k = self.config.factors;
        if let Some(&bad) = items.iter().find(|&&i| i as usize >= self.num_items()) {
            return Err(LinearError::Parameter(format!(
                "item {bad} is not in the model's {} items",
                self.num_items()
            )));
        }
        let half = HalfSweep::new(&self.config, &self.items, &self.train);
        let mut b = vec![0.0f32; k];
        half.target(items, &mut b);
        // A, one column per unit vector (A is symmetric)
        let mut columns = vec![0.0f32; k * k];
        let mut unit = vec![0.0f32; k];
        for (c, column) in columns.chunks_exact_mut(k).enumerate() {
            unit[c] = 1.0;
            column.copy_from_slice(&half.gram[c * k..(c + 1) * k]);
            half.add_sparse(items, &unit, column);
            unit[c] = 0.0;
        }
        let a = Mat::<f64>::from_fn(k, k, |r, c| f64::from(columns[c * k + r]));
        let rhs = Mat::<f64>::from_fn(k, 1, |r, _| f64::from(b[r]));
        let x = a
            .llt(Side::Lower)
            .map_err(|_| {
                LinearError::Numerical("the fold-in system is singular: use l2 > 0".into())
            })?
            .solve(&rhs);
        Ok((0..k).map(|r| x[(r, 0)] as f32).collect())
    }
}
