//! Hyperparameters, kept apart from the models, and checked once (linfa's `ParamGuard`):
//! a model holds a [`Checked`] configuration, which only [`ParamGuard::check`] makes.

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

/// Training settings: all the hyperparameters of [`crate::ImplicitFactorizationModel`], and
/// the part of [`crate::SequenceConfig`] the two model kinds share. Build with
/// [`TrainingConfig::builder`], or fill the fields and [`check`](ParamGuard::check) them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainingConfig {
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
    /// (Hogwild); one thread is deterministic. Per-example SGD (batch size 1, SGD, a built-in
    /// loss) trains in strata instead, workers on disjoint users and items: deterministic for
    /// a given seed and thread count.
    pub threads: usize,
    /// Train with the hand-written kernel when the representation and the loss have one
    /// (bilinear with a built-in loss); `false` always goes through dfdx's tape.
    #[serde(default = "yes")]
    pub fused: bool,
}

fn yes() -> bool {
    true
}

impl Default for TrainingConfig {
    /// The talk's protocol (dim 128, batch 1024, 10 epochs, Adam) with the learning rate tuned
    /// for adaptive hinge (see docs/results.md; [`TrainingConfig::tuned_for`] has the
    /// others).
    fn default() -> Self {
        TrainingConfig {
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

impl TrainingConfig {
    /// The defaults with the learning rate and schedule tuned for a built-in loss on ML-100K
    /// (docs/results.md has the sweep); unknown names get the plain defaults.
    pub fn tuned_for(loss: &str) -> TrainingConfig {
        let (learning_rate, lr_schedule) = match loss {
            "pointwise" | "bpr" => (1e-2, LearningRateSchedule::Constant),
            "bpr-log" | "hinge" => (3e-3, LearningRateSchedule::Constant),
            "warp" => (4e-3, LearningRateSchedule::Linear),
            _ => (1.5e-3, LearningRateSchedule::Constant),
        };
        TrainingConfig {
            learning_rate,
            lr_schedule,
            ..TrainingConfig::default()
        }
    }

    /// A builder starting from the defaults.
    pub fn builder() -> TrainingConfigBuilder {
        TrainingConfigBuilder(TrainingConfig::default())
    }
}

impl ParamGuard for TrainingConfig {
    fn check_ref(&self) -> Result<(), NetrexError> {
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

/// Builds a validated [`TrainingConfig`].
#[derive(Clone, Debug)]
pub struct TrainingConfigBuilder(TrainingConfig);

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

impl TrainingConfigBuilder {
    /// A builder starting from `config`.
    pub fn from(config: TrainingConfig) -> Self {
        TrainingConfigBuilder(config)
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

    /// The configuration, unchecked: to embed in a larger one (a [`crate::SequenceConfig`]'s
    /// `training`) that is checked as a whole.
    pub fn config(self) -> TrainingConfig {
        self.0
    }

    /// The checked configuration.
    pub fn build(self) -> Result<Checked<TrainingConfig>, NetrexError> {
        self.0.check()
    }
}

/// Hyperparameters with a range check. [`check`](Self::check) is the one place a
/// configuration is validated: models take the [`Checked`] value it returns (or check an
/// unchecked one once, through [`IntoChecked`]), and never check it again.
pub trait ParamGuard: Sized {
    /// Checks every hyperparameter's range, naming the first one out of it.
    fn check_ref(&self) -> Result<(), NetrexError>;

    /// The configuration, checked.
    fn check(self) -> Result<Checked<Self>, NetrexError> {
        self.check_ref()?;
        Ok(Checked(self))
    }
}

/// A configuration that passed [`ParamGuard::check`]; reads as the configuration itself.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Checked<C>(C);

/// Reading a checked configuration (a model file's) checks it.
impl<'de, C: ParamGuard + Deserialize<'de>> Deserialize<'de> for Checked<C> {
    fn deserialize<De: serde::Deserializer<'de>>(deserializer: De) -> Result<Self, De::Error> {
        C::deserialize(deserializer)?
            .check()
            .map_err(serde::de::Error::custom)
    }
}

impl<C> Checked<C> {
    /// The configuration, to change and check again.
    pub fn into_inner(self) -> C {
        self.0
    }
}

impl<C> std::ops::Deref for Checked<C> {
    type Target = C;
    fn deref(&self) -> &C {
        &self.0
    }
}

/// What a model constructor takes: a configuration still to check, or one already checked.
pub trait IntoChecked<C> {
    /// The checked configuration (checking it if it is not yet).
    fn into_checked(self) -> Result<Checked<C>, NetrexError>;
}

impl<C: ParamGuard> IntoChecked<C> for C {
    fn into_checked(self) -> Result<Checked<C>, NetrexError> {
        self.check()
    }
}

impl<C> IntoChecked<C> for Checked<C> {
    fn into_checked(self) -> Result<Checked<C>, NetrexError> {
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SequenceConfig;

    #[test]
    fn checking_names_the_hyperparameter_out_of_range() {
        let bad = TrainingConfig {
            learning_rate: -1.0,
            ..TrainingConfig::default()
        };
        let err = bad.check().unwrap_err().to_string();
        assert!(err.contains("learning_rate"), "{err}");
        let bad = SequenceConfig {
            training: TrainingConfig::default(),
            max_len: 0,
            negatives: crate::NegativeSampling::PerPosition,
        };
        let err = bad.check().unwrap_err().to_string();
        assert!(err.contains("max_len"), "{err}");
    }

    #[test]
    fn a_checked_config_reads_back_only_if_it_passes_the_check() {
        let checked = TrainingConfig::builder().epochs(3).build().unwrap();
        let json = serde_json::to_string(&checked).unwrap();
        let back: Checked<TrainingConfig> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, checked);
        let bad = json.replace("\"epochs\":3", "\"epochs\":0");
        let err = serde_json::from_str::<Checked<TrainingConfig>>(&bad)
            .unwrap_err()
            .to_string();
        assert!(err.contains("epochs"), "{err}");
    }

    #[test]
    fn an_already_checked_config_passes_through_unchanged() {
        let checked = TrainingConfig::builder().seed(9).build().unwrap();
        assert_eq!(checked.clone().into_checked().unwrap(), checked);
        assert_eq!(checked.into_inner().seed, 9);
    }
}
