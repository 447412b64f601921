//! Items made of side features in sequence models: an item's embedding and bias, as input and
//! as target, are the weighted sums of its features' rows (its own id optionally among them,
//! see [`feature_map`](crate::factorization::hybrid::feature_map)).
//!
//! The representation keeps its two item tables, recomposed from the feature tables after
//! every step, so that every encoder, kernel and scorer reads items as it always does. Only
//! the update differs: the item rows' gradients go through the map onto the feature rows
//! (`dF_f = sum_i w_if dE_i`, the chain rule of `E_i = sum_f w_if F_f`), which an optimizer
//! of their own applies; the item tables themselves are never stepped.

use std::sync::Arc;

use netrex_representations::{FeatureMap, Table};

use super::item_features::ItemFeatures;
use super::*;

impl<R: SequenceRepresentation, L: Loss, D: ComputeDevice> ImplicitSequenceModel<R, L, D> {
    /// The model with every item made of its features: item `i`'s embedding and bias (as
    /// input and as target) are `sum_f w_if F_f` over row `i` of `map` (items x features, e.g.
    /// from [`feature_map`](crate::factorization::hybrid::feature_map), with ids kept as features or
    /// not). The feature rows are drawn from the model's seed, as item embeddings are, and
    /// replace the item tables' values. Any representation, any loss, every CPU path; on a GPU
    /// the rows travel per batch (tables are not kept resident).
    ///
    /// Errors: a map whose rows are not the model's items.
    pub fn with_item_features(self, map: Arc<FeatureMap>) -> Result<Self, NetrexError> {
        let seed = self.config.training.seed ^ 0x0FEA_7E5E;
        let features = ItemFeatures::fresh(
            map,
            self.representation.dim(),
            *self.trainer.optimizer.config(),
            seed,
        );
        self.with_feature_tables(features)
    }

    /// [`with_item_features`](Self::with_item_features) with the feature tables given
    /// (`item_feature_embedding (features, dim)`, `item_feature_bias (features, 1)`), e.g.
    /// to continue from trained ones.
    pub fn with_item_feature_tables(
        self,
        map: Arc<FeatureMap>,
        tables: Vec<Table>,
    ) -> Result<Self, NetrexError> {
        let optimizer = *self.trainer.optimizer.config();
        self.with_feature_tables(ItemFeatures::from_tables(map, tables, optimizer))
    }

    fn with_feature_tables(mut self, features: ItemFeatures) -> Result<Self, NetrexError> {
        ItemFeatures::check(
            &features.map,
            &features.tables,
            self.representation.num_items(),
            self.representation.dim(),
        )?;
        features.compose(&mut self.representation.tables_mut()[..2]);
        self.item_features = Some(features);
        Ok(self)
    }

    /// The item feature map, if items are made of features.
    pub fn item_feature_map(&self) -> Option<&Arc<FeatureMap>> {
        self.item_features.as_ref().map(|f| &f.map)
    }

    /// The feature tables (`item_feature_embedding`, `item_feature_bias`), if items are made
    /// of features.
    pub fn item_feature_tables(&self) -> Option<&[Table]> {
        self.item_features.as_ref().map(|f| f.tables.as_slice())
    }

    /// Applies the batch's row gradients in `self.trainer.grads`: through the feature map
    /// when items are made of features, then the representation's own rows.
    pub(super) fn apply_gradients(&mut self) {
        // the padding row never moves, so padding keeps contributing nothing
        self.trainer.grads[0].zero_row(0);
        self.trainer.grads[1].zero_row(0);
        let tables = self.representation.tables_mut();
        if let Some(features) = &mut self.item_features {
            let lr = self.trainer.optimizer.config().learning_rate;
            features.step(&mut self.trainer.grads[..2], &mut tables[..2], lr);
        }
        self.trainer.optimizer.step(tables, &mut self.trainer.grads);
    }

    /// The gradients of a batch's loss on the feature rows, through dfdx (`fused = false`) or
    /// the hand-written kernel: the item rows' gradients moved through the map.
    #[cfg(feature = "testing")]
    #[doc(hidden)]
    pub fn feature_batch_gradients(
        &mut self,
        fused: bool,
        batch: usize,
        inputs: &[u32],
        targets: &[u32],
        negatives: &[u32],
    ) -> Option<(f32, Vec<SparseGrad>)> {
        let (value, mut grads) = if fused {
            self.fused_batch_gradients(batch, inputs, targets, negatives)?
        } else {
            self.batch_gradients(batch, inputs, targets, negatives)
                .ok()?
        };
        let features = self.item_features.as_mut()?;
        features.map_gradients(&mut grads[..2]);
        let out = features
            .grads
            .iter()
            .zip(&features.tables)
            .map(|(g, t)| {
                let mut copy = SparseGrad::for_table(t);
                g.iter().for_each(|(r, row)| copy.add_row(r, row));
                copy
            })
            .collect();
        features.grads.iter_mut().for_each(SparseGrad::clear);
        Some((value, out))
    }
}
