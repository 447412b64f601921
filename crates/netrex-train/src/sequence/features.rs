//! Items made of side features in sequence models: an item's embedding and bias, as input and
//! as target, are the weighted sums of its features' rows (its own id optionally among them,
//! see [`feature_map`](crate::factorization::feature_map)).
//!
//! The representation keeps its two item tables, recomposed from the feature tables after
//! every step, so that every encoder, kernel and scorer reads items as it always does. Only
//! the update differs: the item rows' gradients go through the map onto the feature rows
//! (`dF_f = sum_i w_if dE_i`, the chain rule of `E_i = sum_f w_if F_f`), which an optimizer
//! of their own applies; the item tables themselves are never stepped.

use std::sync::Arc;

use netrex_representations::{FeatureMap, IndexedBy, SparseGrad, Table};
use rand::rngs::StdRng;
use rand::SeedableRng;

use super::*;
use crate::optim::{OptimizerConfig, RowOptimizer};

/// Names of the feature tables, as saved.
pub(crate) const FEATURE_TABLES: [&str; 2] = ["item_feature_embedding", "item_feature_bias"];

/// The feature tables of a sequence model's items, their map and their optimizer.
pub(crate) struct ItemFeatures {
    /// `(items, features)`: dense item `i` (table row `i + 1`) is map row `i`.
    pub(crate) map: Arc<FeatureMap>,
    /// `item_feature_embedding (features, dim)`, `item_feature_bias (features, 1)`.
    pub(crate) tables: Vec<Table>,
    optimizer: RowOptimizer,
    grads: Vec<SparseGrad>,
}

impl ItemFeatures {
    /// Feature tables for `map` at width `dim`: embeddings drawn from `seed` as item
    /// embeddings are, biases zero.
    pub(crate) fn fresh(
        map: Arc<FeatureMap>,
        dim: usize,
        optimizer: OptimizerConfig,
        seed: u64,
    ) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let k = map.num_features();
        let tables = vec![
            Table::scaled_normal(FEATURE_TABLES[0], IndexedBy::Whole, k, dim, &mut rng),
            Table::zeros(FEATURE_TABLES[1], IndexedBy::Whole, k, 1),
        ];
        Self::from_tables(map, tables, optimizer)
    }

    /// Feature tables given (checked by the caller).
    pub(crate) fn from_tables(
        map: Arc<FeatureMap>,
        tables: Vec<Table>,
        optimizer: OptimizerConfig,
    ) -> Self {
        let optimizer = RowOptimizer::new(optimizer, &tables);
        let grads = tables.iter().map(SparseGrad::for_table).collect();
        ItemFeatures {
            map,
            tables,
            optimizer,
            grads,
        }
    }

    /// Checks `tables` against `map` and the model's width: two tables named as saved, one
    /// row per feature, `dim` and 1 columns.
    pub(crate) fn check(
        map: &FeatureMap,
        tables: &[Table],
        num_items: usize,
        dim: usize,
    ) -> Result<(), NetrexError> {
        if map.rows() != num_items {
            return Err(NetrexError::Features(format!(
                "the item feature map has {} rows but the model has {num_items} items",
                map.rows()
            )));
        }
        let k = map.num_features();
        let fits = tables.len() == 2
            && tables
                .iter()
                .zip(FEATURE_TABLES.iter().zip([dim, 1]))
                .all(|(t, (name, cols))| t.name() == *name && t.rows() == k && t.cols() == cols);
        if !fits {
            let found: Vec<String> = tables
                .iter()
                .map(|t| format!("{} {}x{}", t.name(), t.rows(), t.cols()))
                .collect();
            return Err(NetrexError::Features(format!(
                "item feature tables {found:?} do not fit {k} features at dim {dim}"
            )));
        }
        Ok(())
    }

    /// Writes every item's embedding and bias (rows `1..`) into `items` (`item_embedding`,
    /// `item_bias`) from the feature tables; the padding row stays as it is.
    pub(crate) fn compose(&self, items: &mut [Table]) {
        for (table, features) in items.iter_mut().zip(&self.tables) {
            let cols = table.cols();
            let mut tmp = vec![0.0f32; cols];
            let data = table.data_mut();
            for (i, out) in data[cols..].chunks_exact_mut(cols).enumerate() {
                self.map.compose(i as u32, out, &mut tmp, |f, into| {
                    into.copy_from_slice(features.row(f));
                });
            }
        }
    }

    /// Moves the item rows' gradients (`item_grads`: `item_embedding`, `item_bias`) onto the
    /// feature rows' gradients, clearing them.
    pub(crate) fn map_gradients(&mut self, item_grads: &mut [SparseGrad]) {
        for (grad, out) in item_grads.iter_mut().zip(&mut self.grads) {
            for (row, g) in grad.iter() {
                // row 0 is padding, which no feature makes
                let Some(item) = row.checked_sub(1) else {
                    continue;
                };
                let (features, weights) = self.map.row(item);
                for (&f, &w) in features.iter().zip(weights) {
                    netrex_representations::kernel::add_scaled(out.row_mut(f), w, g);
                }
            }
            grad.clear();
        }
    }

    /// One optimizer step: the item rows' gradients moved onto the features and applied at
    /// `learning_rate`, then the item tables recomposed.
    pub(crate) fn step(
        &mut self,
        item_grads: &mut [SparseGrad],
        items: &mut [Table],
        learning_rate: f32,
    ) {
        self.map_gradients(item_grads);
        self.optimizer.set_learning_rate(learning_rate);
        self.optimizer.step(&mut self.tables, &mut self.grads);
        self.compose(items);
    }
}

impl<R: SequenceRepresentation, L: Loss, D: ComputeDevice> ImplicitSequenceModel<R, L, D> {
    /// The model with every item made of its features: item `i`'s embedding and bias (as
    /// input and as target) are `sum_f w_if F_f` over row `i` of `map` (items x features, e.g.
    /// from [`feature_map`](crate::factorization::feature_map), with ids kept as features or
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
