//! The hybrid factorization representation (LightFM's model): a user's (item's) vector and
//! bias are the weighted sum of its features' embeddings and biases.

use std::sync::Arc;

use dfdx::prelude::*;
use rand::Rng;

use crate::error::RepresentationError;
use crate::factorization::{bilinear_scores, FactorizationRepresentation};
use crate::feature_map::{FeatureMap, FeatureMaps};
use crate::gather::Rows;
use crate::kernel::BilinearKernel;
use crate::table::{IndexedBy, Table};
use crate::tape::Taped;

/// What one side (users or items) of a [`Hybrid`] is made of.
#[derive(Clone, Debug, PartialEq)]
pub enum HybridSide {
    /// One embedding per id, as in [`Bilinear`](crate::Bilinear): this many ids.
    Ids(usize),
    /// The weighted sum of feature embeddings: one row per id, over the map's feature rows.
    /// Include the id as a feature of its own to keep per-id embeddings too.
    Features(Arc<FeatureMap>),
}

impl HybridSide {
    fn rows(&self) -> usize {
        match self {
            HybridSide::Ids(n) => *n,
            HybridSide::Features(map) => map.num_features(),
        }
    }

    fn indexed_by(&self, ids: IndexedBy) -> IndexedBy {
        match self {
            HybridSide::Ids(_) => ids,
            HybridSide::Features(_) => IndexedBy::Whole,
        }
    }

    fn map(&self) -> Option<Arc<FeatureMap>> {
        match self {
            HybridSide::Ids(_) => None,
            HybridSide::Features(map) => Some(map.clone()),
        }
    }
}

/// `score(u, i) = <p_u, q_i> + b_u + b_i` where, on a side made of features,
/// `p_u = sum_f w_uf e_f` and `b_u = sum_f w_uf c_f` over the user's features `f` (likewise
/// for items): LightFM's hybrid model. A side made of ids is [`Bilinear`](crate::Bilinear)'s.
///
/// Tables, in order and named as [`Bilinear`](crate::Bilinear)'s: `user_embedding`,
/// `user_bias`, `item_embedding`, `item_bias`; a side made of features has one row per feature
/// and its tables are [`IndexedBy::Whole`] (every batch may touch any feature). The feature
/// maps live with the representation (and its saved model), so an id with features but no
/// interactions (a cold item) scores.
#[derive(Clone, Debug, PartialEq)]
pub struct Hybrid {
    tables: Vec<Table>,
    users: HybridSide,
    items: HybridSide,
}

impl Hybrid {
    /// A freshly initialised representation: embeddings normal with standard deviation
    /// `1 / dim`, biases zero.
    pub fn new(
        users: HybridSide,
        items: HybridSide,
        dim: usize,
        rng: &mut impl Rng,
    ) -> Result<Self, RepresentationError> {
        if dim == 0 || users.rows() == 0 || items.rows() == 0 {
            return Err(RepresentationError::InvalidParameter {
                name: "users, items, dim",
                message: format!(
                    "must all be at least 1 (got {} user rows, {} item rows, dim {dim})",
                    users.rows(),
                    items.rows()
                ),
            });
        }
        let (ub, ib) = (
            users.indexed_by(IndexedBy::User),
            items.indexed_by(IndexedBy::Item),
        );
        let tables = vec![
            Table::scaled_normal("user_embedding", ub, users.rows(), dim, rng),
            Table::zeros("user_bias", ub, users.rows(), 1),
            Table::scaled_normal("item_embedding", ib, items.rows(), dim, rng),
            Table::zeros("item_bias", ib, items.rows(), 1),
        ];
        Ok(Hybrid {
            tables,
            users,
            items,
        })
    }

    /// Restores a representation from its sides and four tables (as saved), checking that
    /// they agree.
    pub fn from_tables(
        users: HybridSide,
        items: HybridSide,
        tables: Vec<Table>,
    ) -> Result<Self, RepresentationError> {
        let names: Vec<&str> = tables.iter().map(Table::name).collect();
        if names != ["user_embedding", "user_bias", "item_embedding", "item_bias"] {
            return Err(RepresentationError::Shape(format!(
                "hybrid tables must be user_embedding, user_bias, item_embedding, item_bias; \
                 got {names:?}"
            )));
        }
        for (side, table) in [(&users, &tables[0]), (&items, &tables[2])] {
            if side.rows() != table.rows() {
                return Err(RepresentationError::Shape(format!(
                    "{} has {} rows, its side {}",
                    table.name(),
                    table.rows(),
                    side.rows()
                )));
            }
        }
        let hybrid = Hybrid {
            tables,
            users,
            items,
        };
        BilinearKernel::IN_ORDER.check_with_maps(&hybrid.tables, &hybrid.feature_maps())?;
        Ok(hybrid)
    }

    /// Whether both sides are ids: the [`Bilinear`](crate::Bilinear) model, which this
    /// representation then names itself and saves as.
    pub fn is_bilinear(&self) -> bool {
        matches!(
            (&self.users, &self.items),
            (HybridSide::Ids(_), HybridSide::Ids(_))
        )
    }

    /// What users are made of.
    pub fn users(&self) -> &HybridSide {
        &self.users
    }

    /// What items are made of.
    pub fn items(&self) -> &HybridSide {
        &self.items
    }

    /// Embedding dimension.
    pub fn dim(&self) -> usize {
        self.tables[0].cols()
    }
}

/// `(B, cols)` rows of ids `ids` from a feature table `(F, cols)`: `sum_f w_f table[f]`.
fn compose<D: Device<f32>, T: Tape<f32, D>>(
    table: Tensor<(usize, usize), f32, D, T>,
    map: &FeatureMap,
    ids: &[u32],
) -> Tensor<(usize, usize), f32, D, T> {
    let dev = table.device().clone();
    let cols = table.shape().1;
    let (indices, weights, k) = map.padded(ids);
    let b = ids.len();
    // (B, K, cols): each id's feature rows, weighted, summed over K
    let rows = table.gather(dev.tensor_from_vec(indices, (b, k)));
    let weights = dev
        .tensor_from_vec(weights, (b, k))
        .broadcast_like::<_, Axis<2>>(&(b, k, cols));
    (rows * weights).sum::<(usize, usize), Axis<1>>()
}

impl FactorizationRepresentation for Hybrid {
    /// `"hybrid"`, or `"bilinear"` when both sides are ids (the same model and file).
    fn name(&self) -> String {
        if self.is_bilinear() {
            "bilinear".into()
        } else {
            "hybrid".into()
        }
    }

    fn num_users(&self) -> usize {
        match &self.users {
            HybridSide::Ids(n) => *n,
            HybridSide::Features(map) => map.rows(),
        }
    }

    fn num_items(&self) -> usize {
        match &self.items {
            HybridSide::Ids(n) => *n,
            HybridSide::Features(map) => map.rows(),
        }
    }

    fn tables(&self) -> &[Table] {
        &self.tables
    }

    fn tables_mut(&mut self) -> &mut [Table] {
        &mut self.tables
    }

    fn bilinear_kernel(&self) -> Option<BilinearKernel> {
        Some(BilinearKernel::IN_ORDER)
    }

    fn feature_maps(&self) -> FeatureMaps {
        FeatureMaps {
            user: self.users.map(),
            item: self.items.map(),
        }
    }

    /// Shapes: `(B, M)` scores from the `B` users and `B x M` items of `rows`; a side made of
    /// features gathers `(B, K, D)` feature rows (`K` the longest feature list in the batch)
    /// from its whole tables and sums them with their weights.
    fn forward<D: Device<f32>, T: Taped<D>>(
        &self,
        rows: Rows<D, T>,
    ) -> Tensor<(usize, usize), f32, D, T> {
        let b = rows.user_ids.len();
        let m = rows.item_ids.len() / b.max(1);
        let mut user = rows.user.into_iter();
        let mut item = rows.item.into_iter();
        let mut whole = rows.whole.into_iter();
        let mut next_whole = || whole.next().expect("a feature table per featured side");
        let (p, bu) = match &self.users {
            HybridSide::Ids(_) => (
                user.next().expect("user_embedding rows"),
                user.next().expect("user_bias rows"),
            ),
            HybridSide::Features(map) => (
                compose(next_whole(), map, &rows.user_ids),
                compose(next_whole(), map, &rows.user_ids),
            ),
        };
        let (q, bi) = match &self.items {
            HybridSide::Ids(_) => (
                item.next().expect("item_embedding rows"),
                item.next().expect("item_bias rows"),
            ),
            HybridSide::Features(map) => {
                let d = self.dim();
                let q = compose(next_whole(), map, &rows.item_ids).reshape_like(&(b, m, d));
                let bi = compose(next_whole(), map, &rows.item_ids).reshape_like(&(b, m, 1));
                (q, bi)
            }
        };
        bilinear_scores(p, bu, q, bi)
    }
}
