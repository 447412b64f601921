//! Popularity as a sequence model: every item scored by its learned bias.

use super::contract::*;

/// Scores every item by its bias alone: the popularity baseline trained as a model. Its
/// representation is zero everywhere (dimension 1).
#[derive(Clone, Debug, PartialEq)]
pub struct SequencePopularity {
    tables: Vec<Table>,
}

impl SequencePopularity {
    /// A fresh model over `num_items` items.
    pub fn new(num_items: usize, rng: &mut impl Rng) -> Result<Self, RepresentationError> {
        check(num_items, 1)?;
        Ok(SequencePopularity {
            tables: item_tables(num_items, 1, rng),
        })
    }
}

impl SequenceRepresentation for SequencePopularity {
    fn encode<D: Device<f32>, T: Taped<D>>(&self, rows: SequenceRows<D, T>) -> Steps<D, T> {
        rows.inputs * 0.0
    }
    fn host_encoder(&self) -> Option<Box<dyn HostEncoder + '_>> {
        Some(Box::new(ZeroKernel))
    }

    fn name(&self) -> String {
        "popularity".into()
    }
    table_accessors!();
}

impl SequencePopularity {
    /// Restores a saved model from its tables.
    pub fn from_tables(tables: Vec<Table>) -> Result<Self, RepresentationError> {
        let (_, dim) = check_item_tables(&tables)?;
        if dim != 1 || tables.len() != 2 {
            return Err(shape_error(
                "popularity has two item tables of dimension 1".into(),
            ));
        }
        Ok(SequencePopularity { tables })
    }
}
