//! The feature tables of a sequence model's items, their map and their own optimizer (see
//! `features.rs` for how the model composes its item tables from them).

use std::sync::Arc;

use netrex_representations::{FeatureMap, IndexedBy, SparseGrad, Table};
use rand::rngs::StdRng;
use rand::SeedableRng;

use crate::error::NetrexError;
use crate::optim::{OptimizerConfig, RowOptimizer};

/// Names of the feature tables, as saved.
pub(crate) const FEATURE_TABLES: [&str; 2] = ["item_feature_embedding", "item_feature_bias"];

/// The feature tables of a sequence model's items, their map and their optimizer.
pub(crate) struct ItemFeatures {
    /// `(items, features)`: dense item `i` (table row `i + 1`) is map row `i`.
    pub(crate) map: Arc<FeatureMap>,
    /// `item_feature_embedding (features, dim)`, `item_feature_bias (features, 1)`.
    pub(crate) tables: Vec<Table>,
    pub(super) optimizer: RowOptimizer,
    pub(super) grads: Vec<SparseGrad>,
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
        let grads = SparseGrad::for_tables(&tables);
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
