//! Representations of a sequence of items: popularity, pooling, an LSTM, a GRU, a causal CNN
//! and causal self-attention (SASRec) with BSARec's or FMLP-Rec's frequency branch.
//!
//! Item ids are shifted (`item + 1`; 0 is padding). Every sequence representation owns, in
//! this order, `item_embedding (num_items + 1, dim)` and `item_bias (num_items + 1, 1)`,
//! shared between inputs and targets, then its dense weights as [`IndexedBy::Whole`] tables.
//! Row 0 (padding) of the embedding starts at zero and the models never update it, so padding
//! contributes nothing to sums.

macro_rules! table_accessors {
    () => {
        fn tables(&self) -> &[Table] {
            &self.tables
        }
        fn tables_mut(&mut self) -> &mut [Table] {
            &mut self.tables
        }
    };
}

mod cnn;
mod contract;
mod frequency;
mod gru;
mod lstm;
mod pooling;
mod popularity;
pub(crate) mod sasrec;
pub(crate) mod sasrec_parts;

pub use cnn::CausalCnn;
use contract::*;
pub use contract::{check_sequence_tables, Matrix, SequenceRepresentation, SequenceRows, Steps};
pub use gru::Gru;
pub use lstm::Lstm;
pub use pooling::Pooling;
pub use popularity::SequencePopularity;
pub use sasrec::{Sasrec, SasrecSpec};
pub use sasrec_parts::FrequencySpec;

/// Any built-in sequence representation, chosen at run time (the command line, saved models).
#[derive(Clone, Debug, PartialEq)]
pub enum AnySequence {
    /// [`SequencePopularity`].
    Popularity(SequencePopularity),
    /// [`Pooling`].
    Pooling(Pooling),
    /// [`Lstm`].
    Lstm(Lstm),
    /// [`CausalCnn`].
    Cnn(CausalCnn),
    /// [`Sasrec`].
    Sasrec(Sasrec),
    /// [`Gru`].
    Gru(Gru),
}

macro_rules! any_dispatch {
    ($self:ident, $r:ident => $e:expr) => {
        match $self {
            AnySequence::Popularity($r) => $e,
            AnySequence::Pooling($r) => $e,
            AnySequence::Lstm($r) => $e,
            AnySequence::Cnn($r) => $e,
            AnySequence::Sasrec($r) => $e,
            AnySequence::Gru($r) => $e,
        }
    };
}

impl SequenceRepresentation for AnySequence {
    fn name(&self) -> String {
        any_dispatch!(self, r => r.name())
    }
    fn tables(&self) -> &[Table] {
        any_dispatch!(self, r => r.tables())
    }
    fn tables_mut(&mut self) -> &mut [Table] {
        any_dispatch!(self, r => r.tables_mut())
    }
    fn encode<D: Device<f32>, T: Taped<D>>(&self, rows: SequenceRows<D, T>) -> Steps<D, T> {
        any_dispatch!(self, r => r.encode(rows))
    }
    fn host_encoder(&self) -> Option<Box<dyn HostEncoder + '_>> {
        any_dispatch!(self, r => r.host_encoder())
    }
}
