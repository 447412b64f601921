//! Validated hyperparameters of factorization models, kept apart from the model itself.

use serde::{Deserialize, Serialize};

use crate::optim::OptimizerKind;

use crate::error::NetrexError;

/// How the learning rate changes over the epochs of one `fit` call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LearningRateSchedule {
    /// The same rate throughout.
    #[default]
    Constant,
    /// From the full rate at the first epoch down linearly, to `rate / epochs` at the last.
    Linear,
}

impl std::str::FromStr for LearningRateSchedule {
    type Err = NetrexError;
    fn from_str(s: &str) -> Result<Self, NetrexError> {
        match s {
            "constant" => Ok(LearningRateSchedule::Constant),
            "linear" => Ok(LearningRateSchedule::Linear),
            _ => Err(NetrexError::config(
                "lr_schedule",
                format!("{s:?} is not constant or linear"),
            )),
        }
    }
}

impl LearningRateSchedule {
    /// The factor on the learning rate at 0-based `epoch` of `epochs`.
    pub fn factor(self, epoch: usize, epochs: usize) -> f32 {
        match self {
            LearningRateSchedule::Constant => 1.0,
            LearningRateSchedule::Linear => 1.0 - epoch as f32 / epochs.max(1) as f32,
        }
    }
}

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
    /// How the learning rate changes over the epochs of a `fit`.
    #[serde(default)]
    pub lr_schedule: LearningRateSchedule,
    /// L2 penalty on the parameters a batch touches.
    pub l2: f32,
    /// Update rule.
    pub optimizer: OptimizerKind,
    /// Negatives per positive; `None` uses the loss's own number.
    pub negatives: Option<usize>,
    /// Seed of initialisation, shuffling and negative sampling.
    pub seed: u64,
    /// Worker threads. With a fused kernel, each trains its own minibatches on shared tables
    /// (Hogwild); one thread is deterministic.
    pub threads: usize,
    /// Train with the hand-written kernel when the representation and the loss have one
    /// (bilinear with a built-in loss); `false` always goes through dfdx's tape.
    #[serde(default = "yes")]
    pub fused: bool,
}

fn yes() -> bool {
    true
}

impl Default for FactorizationConfig {
    /// The talk's protocol (dim 128, batch 1024, 10 epochs, Adam) with the learning rate tuned
    /// for adaptive hinge (see docs/results.md; [`FactorizationConfig::tuned_for`] has the
    /// others).
    fn default() -> Self {
        FactorizationConfig {
            embedding_dim: 128,
            epochs: 10,
            batch_size: 1024,
            learning_rate: 1.5e-3,
            lr_schedule: LearningRateSchedule::Constant,
            l2: 0.0,
            optimizer: OptimizerKind::Adam,
            negatives: None,
            seed: 0,
            threads: 1,
            fused: true,
        }
    }
}

impl FactorizationConfig {
    /// The defaults with the learning rate and schedule tuned for a built-in loss on ML-100K
    /// (docs/results.md has the sweep); unknown names get the plain defaults.
    pub fn tuned_for(loss: &str) -> FactorizationConfig {
        let (learning_rate, lr_schedule) = match loss {
            "pointwise" | "bpr" => (1e-2, LearningRateSchedule::Constant),
            "bpr-log" | "hinge" => (3e-3, LearningRateSchedule::Constant),
            "warp" => (4e-3, LearningRateSchedule::Linear),
            _ => (1.5e-3, LearningRateSchedule::Constant),
        };
        FactorizationConfig {
            learning_rate,
            lr_schedule,
            ..FactorizationConfig::default()
        }
    }

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
    /// A builder starting from `config`.
    pub fn from(config: FactorizationConfig) -> Self {
        FactorizationConfigBuilder(config)
    }

    setters! {
        /// Embedding dimension.
        embedding_dim: usize,
        /// Epochs per `fit`.
        epochs: usize,
        /// Minibatch size.
        batch_size: usize,
        /// Learning rate.
        learning_rate: f32,
        /// Learning-rate schedule.
        lr_schedule: LearningRateSchedule,
        /// L2 penalty.
        l2: f32,
        /// Update rule.
        optimizer: OptimizerKind,
        /// Seed.
        seed: u64,
        /// Worker threads.
        threads: usize,
        /// Use the fused kernel where there is one.
        fused: bool,
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
