//! Validated hyperparameters of factorization models, kept apart from the model itself.

use serde::{Deserialize, Serialize};

use netrex_representations::OptimizerKind;

use crate::error::NetrexError;

/// Hyperparameters of [`crate::ImplicitFactorizationModel`]. Build with
/// [`FactorizationConfig::builder`], which validates them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FactorizationConfig {
    /// Embedding dimension.
    pub embedding_dim: usize,
    /// Passes over the training data per `fit`.
    pub epochs: usize,
    /// Positives per minibatch.
    pub batch_size: usize,
    /// Learning rate.
    pub learning_rate: f32,
    /// L2 penalty on the parameters a batch touches.
    pub l2: f32,
    /// Update rule.
    pub optimizer: OptimizerKind,
    /// Negatives per positive; `None` uses the loss's own number.
    pub negatives: Option<usize>,
    /// Seed of initialisation, shuffling and negative sampling.
    pub seed: u64,
    /// Worker threads.
    pub threads: usize,
}

impl Default for FactorizationConfig {
    /// The talk's protocol (dim 128, batch 1024, 10 epochs, Adam) with tuned learning rate and
    /// L2 (see docs/results.md).
    fn default() -> Self {
        FactorizationConfig {
            embedding_dim: 128,
            epochs: 10,
            batch_size: 1024,
            learning_rate: 1e-2,
            l2: 0.0,
            optimizer: OptimizerKind::Adam,
            negatives: None,
            seed: 0,
            threads: 1,
        }
    }
}

impl FactorizationConfig {
    /// A builder starting from the defaults.
    pub fn builder() -> FactorizationConfigBuilder {
        FactorizationConfigBuilder(FactorizationConfig::default())
    }

    /// Checks every hyperparameter's range.
    pub fn validate(&self) -> Result<(), NetrexError> {
        let positive = |name: &'static str, v: usize| {
            if v == 0 {
                Err(NetrexError::config(name, "must be at least 1"))
            } else {
                Ok(())
            }
        };
        positive("embedding_dim", self.embedding_dim)?;
        positive("epochs", self.epochs)?;
        positive("batch_size", self.batch_size)?;
        positive("threads", self.threads)?;
        if let Some(n) = self.negatives {
            positive("negatives", n)?;
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return Err(NetrexError::config(
                "learning_rate",
                format!("{} must be finite and > 0", self.learning_rate),
            ));
        }
        if !(self.l2.is_finite() && self.l2 >= 0.0) {
            return Err(NetrexError::config(
                "l2",
                format!("{} must be finite and >= 0", self.l2),
            ));
        }
        Ok(())
    }
}

/// Builds a validated [`FactorizationConfig`].
#[derive(Clone, Debug)]
pub struct FactorizationConfigBuilder(FactorizationConfig);

macro_rules! setters {
    ($($(#[$doc:meta])* $name:ident: $ty:ty),* $(,)?) => {
        $(
            $(#[$doc])*
            pub fn $name(mut self, value: $ty) -> Self {
                self.0.$name = value;
                self
            }
        )*
    };
}

impl FactorizationConfigBuilder {
    setters! {
        /// Embedding dimension.
        embedding_dim: usize,
        /// Epochs per `fit`.
        epochs: usize,
        /// Minibatch size.
        batch_size: usize,
        /// Learning rate.
        learning_rate: f32,
        /// L2 penalty.
        l2: f32,
        /// Update rule.
        optimizer: OptimizerKind,
        /// Seed.
        seed: u64,
        /// Worker threads.
        threads: usize,
    }

    /// Negatives per positive, overriding the loss's own number.
    pub fn negatives(mut self, value: usize) -> Self {
        self.0.negatives = Some(value);
        self
    }

    /// The validated configuration.
    pub fn build(self) -> Result<FactorizationConfig, NetrexError> {
        self.0.validate()?;
        Ok(self.0)
    }
}
