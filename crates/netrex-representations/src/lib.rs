//! # netrex-representations
//!
//! Representations in dfdx: runtime-sized parameter [`Table`]s (initialised like the talk's
//! ScaledEmbedding and ZeroEmbedding), the [`FactorizationRepresentation`] trait with the
//! [`Bilinear`] model, batch [`gather`]ing of touched rows into dfdx tensors, and
//! [row-wise optimizers](optim) that update only those rows.
//!
//! Every `forward` documents its tensor shapes: `B` is the batch, `M` items per user,
//! `D` the embedding dimension.

#![warn(missing_docs)]

pub mod error;
pub mod factorization;
pub mod gather;
pub mod host;
pub mod optim;
pub mod resident;
pub mod sequence;
pub mod table;

pub use error::RepresentationError;
pub use factorization::{Bilinear, FactorizationRepresentation};
pub use gather::{accumulate_rows, gather_rows, Gathered, ItemRows, Rows, UserRows};
pub use host::{CnnKernel, EncoderTrace, HostEncoder, LstmKernel, PoolingKernel};
pub use optim::{
    AtomicRows, CellRows, OptimizerConfig, OptimizerKind, RowOptimizer, RowStore, RowTraining,
    Slot, SlotRows, TrainedTable,
};
pub use resident::{ResidentTables, Touched};
pub use sequence::{
    AnySequence, CausalCnn, Lstm, Pooling, SequencePopularity, SequenceRepresentation, SequenceRows,
};
pub use table::{IndexedBy, SparseGrad, Table};
