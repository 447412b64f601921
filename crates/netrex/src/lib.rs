//! # netrex
//!
//! Neural recommender models in Rust. This facade re-exports the workspace's crates, one per
//! concern, and gathers the names most programs need in [`prelude`]:
//!
//! | module | crate | what it holds |
//! |---|---|---|
//! | [`data`] | `netrex-data` | interactions, id maps, splits, sequences, synthetic data, ingestion |
//! | [`representations`] | `netrex-representations` | parameter tables, bilinear and sequence representations in dfdx, host encoders |
//! | [`losses`] | `netrex-losses` | the `Loss` trait and the built-in ranking losses |
//! | [`train`] | `netrex-train` | configs, models, training paths, optimizers, checkpoints, model files |
//! | [`evaluation`] | `netrex-evaluation` | the scorer traits and the metrics |
//!
//! The training crate's items are also re-exported at the top level. Features: `polars`
//! (default: MovieLens and CSV ingestion), `parquet`, `download`, `plots` (SVG charts,
//! [`plot`]), `cuda` (training on an NVIDIA GPU).
//!
//! ```no_run
//! use netrex::prelude::*;
//!
//! let (data, parts) = netrex::data::ingest::load_movielens_split(None, OfficialSplit::Ua, None)?;
//! let config = TrainingConfig::builder().epochs(10).seed(0).build()?;
//! let mut model = ImplicitFactorizationModel::bilinear(
//!     config, data.users.len(), data.items.len(), AdaptiveHinge::default())?;
//! model.fit(&parts.train)?;
//! let report = model.evaluate(&parts.test, Some(&parts.train), &EvalConfig::default())?;
//! println!("MRR {:.4}", report.mrr);
//! # Ok::<(), NetrexError>(())
//! ```

#![warn(missing_docs)]

pub mod folder;
pub mod plan;
#[cfg(feature = "plots")]
pub mod plot;
pub mod similar;

pub use netrex_train::*;

/// Interactions, ids, splits, sequences, synthetic data and ingestion.
pub use netrex_data as data;
/// Metrics.
pub use netrex_evaluation as evaluation;
/// EASE and iALS: netrex-linear (no dfdx).
pub use netrex_linear as linear;
/// Losses.
pub use netrex_losses as losses;
/// Representations: parameter tables, bilinear and sequence models, host encoders.
pub use netrex_representations as representations;
/// Top-k retrieval over item vectors: netrex-retrieval (no dfdx, no polars).
pub use netrex_retrieval as retrieval;
/// Training: configs, models, optimizers, checkpoints, model files.
pub use netrex_train as train;

/// The names most programs need.
pub mod prelude {
    pub use netrex_data::{Interactions, MovieLens, OfficialSplit, RawId, TrainTest};
    pub use netrex_evaluation::{EvalConfig, ItemScorer, Report, SequenceScorer};
    pub use netrex_losses::{
        AdaptiveHinge, Bpr, BuiltinLoss, Hinge, LogSigmoidBpr, Loss, LossContext, Pointwise, Warp,
    };
    pub use netrex_representations::{
        AnySequence, Bilinear, BilinearKernel, CausalCnn, FactorizationRepresentation, Hybrid,
        HybridSide, Lstm, Pooling, Record, SequencePopularity, SequenceRepresentation,
        SequenceSpec,
    };
    pub use netrex_train::{
        Catalog, Checked, Checkpoint, ComputeDevice, Fit, ImplicitFactorizationModel,
        ImplicitSequenceModel, IntoChecked, LearningRateSchedule, NegativeSampling, NetrexError,
        OptimizerKind, ParamGuard, SequenceConfig, SideFeatures, TrainingConfig,
    };
}
