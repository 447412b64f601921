//! Fold-in: a vector for a user the model has never seen, from the items they chose, without
//! retraining. The item tables stay fixed; only the new user's embedding is fitted, with the
//! model's own loss over uniform negatives, so that it lives in the space the items were
//! trained in.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use netrex_evaluation::ItemScorer;
use netrex_losses::{score_gradient, BatchScores, Loss, LossContext, ScoreGrads};
use netrex_representations::FactorizationRepresentation;

use super::ImplicitFactorizationModel;
use crate::config::ParamGuard;
use crate::error::NetrexError;
use netrex_representations::kernel::{add_scaled, dot};

/// Options of [`ImplicitFactorizationModel::fold_in`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FoldIn {
    /// Passes over the user's items.
    pub epochs: usize,
    /// Adagrad's step size on the user's embedding.
    pub learning_rate: f32,
    /// Seed of the negatives and of the order of the items.
    pub seed: u64,
}

impl Default for FoldIn {
    fn default() -> Self {
        FoldIn {
            // ML-100K ua, WARP: a longer or larger step overfits the user's few items
            // (docs/results.md)
            epochs: 30,
            learning_rate: 0.01,
            seed: 0,
        }
    }
}

impl ParamGuard for FoldIn {
    fn check_ref(&self) -> Result<(), NetrexError> {
        if self.epochs == 0 {
            return Err(NetrexError::config("epochs", "must be at least 1"));
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return Err(NetrexError::config("learning_rate", "must be positive"));
        }
        Ok(())
    }
}

/// A user folded into a model: an embedding in the model's user space (the user's bias is
/// left out: it does not change the user's ranking).
#[derive(Clone, Debug, PartialEq)]
pub struct FoldedUser {
    /// The fitted embedding, `D` long.
    pub embedding: Vec<f32>,
}

impl<R: FactorizationRepresentation, L: Loss> ImplicitFactorizationModel<R, L> {
    /// Fits a vector for a new user who chose `items` (dense ids; repeats count twice): the
    /// model's loss at each item against uniform negatives, item tables fixed. Needs the
    /// bilinear kernel (every built-in factorization representation has it).
    pub fn fold_in(&self, items: &[u32], options: &FoldIn) -> Result<FoldedUser, NetrexError> {
        options.check_ref()?;
        let kernel = self.kernel.as_ref().ok_or_else(|| {
            NetrexError::Training("fold-in needs a representation with a bilinear kernel".into())
        })?;
        if items.is_empty() {
            return Err(NetrexError::config(
                "items",
                "fold-in needs at least one item",
            ));
        }
        self.check_items(items)?;
        let num_items = self.representation.num_items();
        let d = kernel.dim;
        let (embedding, bias) = kernel.item_rows(self.representation.tables(), num_items);
        let row = |i: u32| &embedding[i as usize * d..(i as usize + 1) * d];
        let n = self.negatives().max(1);
        let context = LossContext { num_items };
        let mut rng = StdRng::seed_from_u64(options.seed);
        let mut user = vec![0.0f32; d];
        let mut squares = vec![0.0f32; d];
        let mut order = items.to_vec();
        let (mut negatives, mut negative_scores) = (vec![0u32; n], vec![0.0f32; n]);
        let mut grads = ScoreGrads::default();
        let mut step = vec![0.0f32; d];
        let score = |user: &[f32], i: u32| dot(user, row(i)) + bias[i as usize];
        for _ in 0..options.epochs {
            order.shuffle(&mut rng);
            for &positive in &order {
                for (j, s) in negatives.iter_mut().zip(negative_scores.iter_mut()) {
                    *j = rng.gen_range(0..num_items as u32);
                    *s = score(&user, *j);
                }
                let value = score_gradient(
                    &self.loss,
                    &BatchScores {
                        positive: &[score(&user, positive)],
                        negative: &negative_scores,
                        mask: None,
                        weights: None,
                    },
                    &context,
                    &mut grads,
                );
                if !value.is_finite() {
                    return Err(NetrexError::NonFiniteLoss {
                        epoch: 0,
                        batch: 0,
                        value,
                    });
                }
                step.iter_mut().for_each(|g| *g = 0.0);
                add_scaled(&mut step, grads.positive[0], row(positive));
                for (&j, &g) in negatives.iter().zip(&grads.negative) {
                    if g != 0.0 {
                        add_scaled(&mut step, g, row(j));
                    }
                }
                for ((u, s), g) in user.iter_mut().zip(squares.iter_mut()).zip(&step) {
                    *s += g * g;
                    *u -= options.learning_rate * g / (s.sqrt() + 1e-8);
                }
            }
        }
        Ok(FoldedUser { embedding: user })
    }

    /// The scores of every item for a folded-in user: `<p, q_i> + b_i`.
    pub fn score_folded(&self, user: &FoldedUser, scores: &mut [f32]) -> Result<(), NetrexError> {
        let kernel = self.kernel.as_ref().ok_or_else(|| {
            NetrexError::Training("scoring a folded-in user needs a bilinear kernel".into())
        })?;
        let tables = self.representation.tables();
        if kernel.maps.item.is_some() {
            let (embedding, bias) = kernel.item_rows(tables, scores.len());
            let d = kernel.dim;
            for (i, s) in scores.iter_mut().enumerate() {
                *s = dot(&user.embedding, &embedding[i * d..(i + 1) * d]) + bias[i];
            }
            return Ok(());
        }
        let (embedding, bias) = (&tables[kernel.at.item], &tables[kernel.at.item_bias]);
        for (i, s) in scores.iter_mut().enumerate() {
            *s = dot(&user.embedding, embedding.row(i)) + bias.row(i)[0];
        }
        Ok(())
    }

    /// The `k` best items for a folded-in user (dense ids, best first, ties by id), leaving
    /// out `exclude`.
    pub fn recommend_folded(
        &self,
        user: &FoldedUser,
        k: usize,
        exclude: &[u32],
    ) -> Result<Vec<(u32, f32)>, NetrexError> {
        let mut scores = vec![0.0f32; self.representation.num_items()];
        self.score_folded(user, &mut scores)?;
        Ok(crate::engine::training::top_k(scores, exclude, k))
    }
}

/// Folded-in users as an [`ItemScorer`] (user `u` is `users[u]`), to evaluate fold-in with the
/// same protocol as trained users.
pub struct FoldedUsers<'a, R: FactorizationRepresentation, L: Loss> {
    /// The model the users were folded into.
    pub model: &'a ImplicitFactorizationModel<R, L>,
    /// One folded-in user per dense user id.
    pub users: Vec<FoldedUser>,
}

impl<R: FactorizationRepresentation, L: Loss> ItemScorer for FoldedUsers<'_, R, L> {
    fn num_users(&self) -> usize {
        self.users.len()
    }

    fn num_items(&self) -> usize {
        self.model.representation.num_items()
    }

    fn score_items(&self, user: u32, scores: &mut [f32]) {
        // the model has a kernel: fold_in succeeded for these users
        if self
            .model
            .score_folded(&self.users[user as usize], scores)
            .is_err()
        {
            scores.iter_mut().for_each(|s| *s = f32::NAN);
        }
    }
}
