//! A sequence model's hyperparameters and the negatives its positions train against (a leaf
//! of the folder: the model, its kernels and its file all read it).

use serde::{Deserialize, Serialize};

use crate::config::{ParamGuard, TrainingConfig};
use crate::error::NetrexError;

/// Hyperparameters of [`ImplicitSequenceModel`](super::ImplicitSequenceModel): the training settings shared with
/// factorization models, plus the sequence length.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SequenceConfig {
    /// Embedding dimension, epochs, batch size (in sequences), learning rate, optimizer...
    pub training: TrainingConfig,
    /// Length of the padded training rows; longer histories are cut into chunks.
    pub max_len: usize,
    /// Which items each position is trained against.
    #[serde(default)]
    pub negatives: NegativeSampling,
}

/// The negatives of a sequence model's training positions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NegativeSampling {
    /// `N` uniform draws at every position (the loss's `num_negatives`).
    #[default]
    PerPosition,
    /// `N` uniform draws per training row, shared by its positions (correlated within a
    /// row). The CPU kernel scores and updates them with dense products per row: several
    /// times faster than [`PerPosition`](Self::PerPosition) with a softmax-family loss.
    PerRow,
    /// Every item of the catalog is a negative at every position, except the position's own
    /// target (scored [`MASKED_SCORE`]): with `SampledSoftmax` this is the full softmax
    /// cross-entropy. Costs `O(positions x items x dim)` per batch, as three large matrix
    /// products on the CPU kernel; the dfdx path holds a `(B * T, items)` score matrix.
    FullCatalog,
}

/// The score a [`NegativeSampling::FullCatalog`] negative gets where it is the position's
/// target: low enough that every built-in loss gives it no weight and no gradient, finite so
/// that a custom loss's arithmetic stays finite.
pub const MASKED_SCORE: f32 = -1.0e9;

impl ParamGuard for SequenceConfig {
    fn check_ref(&self) -> Result<(), NetrexError> {
        self.training.check_ref()?;
        if self.max_len == 0 {
            return Err(NetrexError::config("max_len", "must be at least 1"));
        }
        Ok(())
    }
}
