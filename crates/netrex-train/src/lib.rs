//! # netrex-train
//!
//! Everything about fitting a netrex model: validated hyperparameters ([`TrainingConfig`],
//! [`SequenceConfig`]), the models that tie a representation and a loss together
//! ([`ImplicitFactorizationModel`], [`ImplicitSequenceModel`]), sampling and epoch drivers,
//! Hogwild workers, the hand-written CPU kernels, row-wise optimizers ([`optim`]), tables
//! resident on a device ([`resident`]), checkpoints and model files.
//!
//! Data flows one way: `netrex-data` -> `netrex-representations` -> `netrex-losses` -> this
//! crate -> `netrex-evaluation`. Most users reach it through the `netrex` facade.

#![warn(missing_docs)]

mod catalog_kernel;
pub mod checkpoint;
pub mod config;
pub mod device;
pub mod early_stopping;
pub mod error;
pub mod factorization;
mod fused;
pub mod optim;
pub mod persist;
mod progress;
pub(crate) mod resident;
pub mod sequence;
mod sequence_kernel;
pub mod sequence_persist;
mod training;
pub use training::{in_pool, EpochEnd, Fit, FitReport, OnEpoch};

pub use checkpoint::{checkpoint_dir, Checkpoint};
pub use config::{
    Checked, IntoChecked, LearningRateSchedule, ParamGuard, TrainingConfig, TrainingConfigBuilder,
};
pub use device::{available_devices, ComputeDevice};
pub use early_stopping::{
    fit_early_stopping, EarlyStopping, EarlyStoppingReport, PlateauDecay, RoundEnd,
};
pub use error::NetrexError;
pub use factorization::{
    feature_map, feature_side, FeatureNames, FoldIn, FoldedUser, FoldedUsers,
    ImplicitFactorizationModel, SideFeatures,
};
pub use optim::{OptimizerConfig, OptimizerKind, RowOptimizer};
pub use persist::Catalog;
pub use sequence::{ImplicitSequenceModel, NegativeSampling, SequenceConfig, MASKED_SCORE};
