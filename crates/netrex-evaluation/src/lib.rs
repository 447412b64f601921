//! # netrex-evaluation
//!
//! Ranking metrics for recommenders, usable without any neural network library: implement
//! [`ItemScorer`] (or [`SequenceScorer`]) for a model and call [`evaluate`] (or
//! [`sequence_mrr_score`], [`sampled_mrr_score`]).
//!
//! ```
//! use netrex_data::Interactions;
//! use netrex_evaluation::{evaluate, EvalConfig, Popularity};
//!
//! let train = Interactions::new(vec![0, 0, 1, 1], vec![0, 1, 0, 2], 3, 4)?;
//! let test = Interactions::new(vec![2], vec![0], 3, 4)?;
//! let report = evaluate(&Popularity::fit(&train), &test, Some(&train), &EvalConfig::default())?;
//! assert_eq!(report.mrr, 1.0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

pub mod baseline;
pub mod error;
pub mod metrics;
pub mod next_item;
pub mod rank;
pub mod scorer;
pub mod sequence;
pub mod sknn;

pub use baseline::{Cooccurrence, Popularity};
pub use error::EvalError;
pub use metrics::{
    auc_score, evaluate, mrr_score, AtK, EvalConfig, MetricScores, Report, UserMetrics,
};
pub use next_item::{next_item_metrics, NextItemConfig, NextItemReport};
pub use scorer::{ItemScorer, SequenceScorer};
pub use sequence::{sampled_mrr_score, sequence_mrr_score, SequenceEvalConfig};
pub use sknn::{Sknn, SknnConfig};
