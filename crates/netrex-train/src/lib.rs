//! # netrex-train
//!
//! Everything about fitting a netrex model: validated hyperparameters ([`TrainingConfig`],
//! [`SequenceConfig`]), the models that tie a representation and a loss together
//! ([`ImplicitFactorizationModel`], [`ImplicitSequenceModel`]), sampling and epoch drivers,
//! Hogwild workers, the hand-written CPU kernels, row-wise optimizers ([`optim`]), tables
//! resident on a device, checkpoints and model files.
//!
//! Laid out by what each part holds: [`factorization`] and [`sequence`] each hold their model,
//! its kernels and its model file; [`engine`] holds what both share (the trainer and epoch
//! driver, early stopping, progress, checkpoints, the common model-file parts, resident
//! tables); [`optim`] the update rules.
//!
//! Data flows one way: `netrex-data` -> `netrex-representations` -> `netrex-losses` -> this
//! crate -> `netrex-evaluation`. Most users reach it through the `netrex` facade.

#![warn(missing_docs)]

pub mod config;
pub mod device;
pub mod engine;
pub mod error;
pub mod factorization;
pub mod optim;
pub mod sequence;

pub use config::{
    Checked, IntoChecked, LearningRateSchedule, ParamGuard, TrainingConfig, TrainingConfigBuilder,
};
pub use device::{available_devices, ComputeDevice};
pub use engine::checkpoint::{checkpoint_dir, find_checkpoint, Checkpoint};
pub use engine::early_stopping::{
    fit_early_stopping, EarlyStopping, EarlyStoppingReport, PlateauDecay, RoundEnd, COLLAPSE_SHARE,
    EXPLOSION_FACTOR,
};
pub use engine::files::Catalog;
pub use engine::training::{in_pool, EpochEnd, Fit, FitReport, OnEpoch};
pub use error::NetrexError;
pub use factorization::file::saved_loss_name;
pub use factorization::fold_in::{FoldIn, FoldedUser, FoldedUsers};
pub use factorization::hybrid::{feature_map, feature_side, FeatureNames, SideFeatures};
pub use factorization::vectors::Vectors;
pub use factorization::ImplicitFactorizationModel;
pub use optim::{OptimizerConfig, OptimizerKind, RowOptimizer};
pub use sequence::file::{is_sequence_model, saved_sequence_loss_name};
pub use sequence::{ImplicitSequenceModel, NegativeSampling, SequenceConfig, MASKED_SCORE};
