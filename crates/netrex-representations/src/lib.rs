//! # netrex-representations
//!
//! Representations in dfdx: runtime-sized parameter [`Table`]s (initialised like the talk's
//! ScaledEmbedding and ZeroEmbedding), the [`FactorizationRepresentation`] trait with the
//! [`Bilinear`] model and the [`Hybrid`] one (users and items as weighted sums of feature
//! embeddings, through a [`FeatureMap`]), batch [`gather`]ing of touched rows into dfdx tensors, the
//! [`SequenceRepresentation`]s and their hand-written [`HostEncoder`]s. A representation never
//! sees an optimizer: training (row optimizers, kernels, epochs) lives in `netrex-train`.
//!
//! Every `forward` documents its tensor shapes: `B` is the batch, `M` items per user,
//! `D` the embedding dimension.

#![warn(missing_docs)]

pub mod error;
pub mod factorization;
pub mod feature_map;
pub mod gather;
pub mod host;
pub mod hybrid;
pub mod kernel;
pub mod memory;
pub mod record;
pub mod sequence;
pub mod table;
pub mod tape;

pub use error::RepresentationError;
pub use factorization::{bilinear_scores, dot_scores, Bilinear, FactorizationRepresentation};
pub use feature_map::{FeatureMap, FeatureMaps};
pub use gather::{accumulate_rows, gather_rows, Gathered, ItemRows, Rows, UserRows};
pub use host::{
    BackwardPass, CnnKernel, EncoderTrace, GruKernel, HostEncoder, LstmKernel, PoolingKernel,
    SasrecKernel,
};
pub use hybrid::{Hybrid, HybridSide};
pub use kernel::BilinearKernel;
pub use record::{CnnSpec, HybridSideSpec, HybridSpec, PoolingSpec, Record, SequenceSpec};
pub use sequence::{
    check_sequence_tables, AnySequence, CausalCnn, FrequencySpec, Gru, Lstm, Pooling, Sasrec,
    SasrecSpec, SequencePopularity, SequenceRepresentation, SequenceRows,
};
pub use table::{IndexedBy, SparseGrad, Table};
pub use tape::Taped;
