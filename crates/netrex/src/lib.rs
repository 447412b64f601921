//! # netrex
//!
//! Neural recommender models in Rust. This facade re-exports the workspace's crates and holds
//! the models that tie them together: [`ImplicitFactorizationModel`], generic over a
//! representation and a loss, with validated hyperparameters ([`FactorizationConfig`]),
//! training, prediction, recommendation, evaluation and save/load.
//!
//! ```no_run
//! use netrex::prelude::*;
//!
//! let (data, parts) = netrex::data::ingest::load_movielens_split(None, OfficialSplit::Ua, None)?;
//! let config = FactorizationConfig::builder().epochs(10).seed(0).build()?;
//! let mut model = ImplicitFactorizationModel::bilinear(
//!     config, data.users.len(), data.items.len(), AdaptiveHinge::default())?;
//! model.fit(&parts.train)?;
//! let report = model.evaluate(&parts.test, Some(&parts.train), &EvalConfig::default())?;
//! println!("MRR {:.4}", report.mrr);
//! # Ok::<(), NetrexError>(())
//! ```

#![warn(missing_docs)]

pub mod checkpoint;
pub mod config;
pub mod device;
pub mod error;
pub mod factorization;
mod fused;
pub mod persist;
pub mod plot;
mod progress;
pub mod sequence;
mod sequence_kernel;
pub mod sequence_persist;
mod training;
pub use training::{EpochEnd, Fit, OnEpoch};

pub use checkpoint::{checkpoint_dir, Checkpoint};
pub use config::{FactorizationConfig, FactorizationConfigBuilder, LearningRateSchedule};
pub use device::{available_devices, ComputeDevice};
pub use error::NetrexError;
pub use factorization::{FitReport, ImplicitFactorizationModel};
pub use persist::{Catalog, Restore};
pub use sequence::{ImplicitSequenceModel, SequenceConfig};
pub use sequence_persist::SequenceSpec;

/// Interactions, ids, splits, sequences, synthetic data and ingestion.
pub use netrex_data as data;
/// Metrics.
pub use netrex_evaluation as evaluation;
/// Losses.
pub use netrex_losses as losses;
/// Representations and row-wise optimizers.
pub use netrex_representations as representations;

/// The names most programs need.
pub mod prelude {
    pub use crate::{
        Catalog, Checkpoint, ComputeDevice, FactorizationConfig, Fit, ImplicitFactorizationModel,
        ImplicitSequenceModel, LearningRateSchedule, NetrexError, SequenceConfig,
    };
    pub use netrex_data::{Interactions, MovieLens, OfficialSplit, RawId, TrainTest};
    pub use netrex_evaluation::{EvalConfig, ItemScorer, Report, SequenceScorer};
    pub use netrex_losses::{
        AdaptiveHinge, Bpr, BuiltinLoss, Hinge, LogSigmoidBpr, Loss, LossContext, Pointwise, Warp,
    };
    pub use netrex_representations::{
        AnySequence, Bilinear, CausalCnn, FactorizationRepresentation, Lstm, OptimizerKind,
        Pooling, SequencePopularity, SequenceRepresentation,
    };
}
