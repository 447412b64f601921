//! The representation trait of (user, item) models, and the bilinear representation.

use dfdx::prelude::*;
use rand::Rng;

use crate::error::RepresentationError;
use crate::feature_map::FeatureMaps;
use crate::gather::Rows;
use crate::kernel::BilinearKernel;
use crate::table::{IndexedBy, Table};
use crate::tape::Taped;

/// A representation of users and items whose parameters are row tables.
///
/// The training loop gathers the rows a batch touches from [`tables`](Self::tables), calls
/// [`forward`](Self::forward), and applies row gradients to
/// [`tables_mut`](Self::tables_mut); a representation never sees an optimizer.
pub trait FactorizationRepresentation: Send + Sync {
    /// A short name (`"bilinear"`), stored in saved models.
    fn name(&self) -> String;

    /// Number of users: by default the rows of the first table indexed by user.
    fn num_users(&self) -> usize {
        rows_of(self.tables(), IndexedBy::User)
    }

    /// Number of items: by default the rows of the first table indexed by item.
    fn num_items(&self) -> usize {
        rows_of(self.tables(), IndexedBy::Item)
    }

    /// The parameter tables. Their order is the order of [`Rows`]' vectors.
    fn tables(&self) -> &[Table];

    /// The parameter tables, mutably.
    fn tables_mut(&mut self) -> &mut [Table];

    /// Scores of user `b` for its `M` items.
    ///
    /// Shapes: `rows.user[k]` is `(B, cols_k)`, `rows.item[k]` is `(B, M, cols_k)`; the
    /// result is `(B, M)`.
    fn forward<D: Device<f32>, T: Taped<D>>(
        &self,
        rows: Rows<D, T>,
    ) -> Tensor<(usize, usize), f32, D, T>;

    /// The hand-written CPU kernel of this representation, if its score is
    /// `<p_u, q_i> + b_u + b_i` over four of its tables: it says where those tables are, and
    /// training (fused gradients, Hogwild, per-example SGD) and scoring then run through it
    /// with no dfdx tape. The model checks the kernel against the tables once, when it is
    /// built. `None` (the default) trains and scores through [`forward`](Self::forward).
    fn bilinear_kernel(&self) -> Option<BilinearKernel> {
        None
    }

    /// The feature maps of a representation whose users or items are sums of feature rows
    /// ([`Hybrid`](crate::Hybrid)): with a [`bilinear_kernel`](Self::bilinear_kernel), a side
    /// with a map keeps one row per feature in its [`IndexedBy::Whole`] tables and the kernel
    /// sums them. Default: none (both sides indexed by id).
    fn feature_maps(&self) -> FeatureMaps {
        FeatureMaps::default()
    }
}

/// The rows of the first of `tables` indexed `by` (0 if none is).
fn rows_of(tables: &[Table], by: IndexedBy) -> usize {
    tables
        .iter()
        .find(|t| t.indexed_by() == by)
        .map_or(0, Table::rows)
}

/// `<p_b, q_bm>` for every user row `b` and each of its `M` item rows: `user` `(B, D)` and
/// `items` `(B, M, D)` in, `(B, M)` out. The inner product of bilinear scores, for
/// representations of your own.
pub fn dot_scores<D: Device<f32>, T: Taped<D>>(
    user: Tensor<(usize, usize), f32, D, T>,
    items: Tensor<(usize, usize, usize), f32, D, T>,
) -> Tensor<(usize, usize), f32, D, T> {
    let shape = *items.shape();
    (user.broadcast_like::<_, Axis<1>>(&shape) * items).sum::<(usize, usize), Axis<2>>()
}

/// `<p_u, q_i> + b_u + b_i` from gathered rows: `user` `(B, D)`, `user_bias` `(B, 1)`, `items`
/// `(B, M, D)`, `item_bias` `(B, M, 1)` in, `(B, M)` out.
pub fn bilinear_scores<D: Device<f32>, T: Taped<D>>(
    user: Tensor<(usize, usize), f32, D, T>,
    user_bias: Tensor<(usize, usize), f32, D, T>,
    items: Tensor<(usize, usize, usize), f32, D, T>,
    item_bias: Tensor<(usize, usize, usize), f32, D, T>,
) -> Tensor<(usize, usize), f32, D, T> {
    let (b, m, _) = *items.shape();
    let dot = dot_scores(user, items);
    // (B, 1) -> (B,) -> (B, M)
    let user_bias = user_bias
        .sum::<(usize,), Axis<1>>()
        .broadcast_like::<_, Axis<1>>(&(b, m));
    // (B, M, 1) -> (B, M)
    dot + user_bias + item_bias.sum::<(usize, usize), Axis<2>>()
}

/// The talk's bilinear model: `score(u, i) = <p_u, q_i> + b_u + b_i`.
///
/// Tables, in order: `user_embedding (users, dim)`, `user_bias (users, 1)`,
/// `item_embedding (items, dim)`, `item_bias (items, 1)`. Embeddings start normal with
/// standard deviation `1 / dim`, biases at zero.
#[derive(Clone, Debug, PartialEq)]
pub struct Bilinear {
    tables: Vec<Table>,
}

impl Bilinear {
    /// A freshly initialised representation.
    pub fn new(
        num_users: usize,
        num_items: usize,
        dim: usize,
        rng: &mut impl Rng,
    ) -> Result<Self, RepresentationError> {
        if dim == 0 || num_users == 0 || num_items == 0 {
            return Err(RepresentationError::InvalidParameter {
                name: "num_users, num_items, dim",
                message: format!("must all be at least 1 (got {num_users}, {num_items}, {dim})"),
            });
        }
        Ok(Bilinear {
            tables: vec![
                Table::scaled_normal("user_embedding", IndexedBy::User, num_users, dim, rng),
                Table::zeros("user_bias", IndexedBy::User, num_users, 1),
                Table::scaled_normal("item_embedding", IndexedBy::Item, num_items, dim, rng),
                Table::zeros("item_bias", IndexedBy::Item, num_items, 1),
            ],
        })
    }

    /// Restores a representation from its four tables (as saved), checking their shapes.
    pub fn from_tables(tables: Vec<Table>) -> Result<Self, RepresentationError> {
        let names: Vec<&str> = tables.iter().map(Table::name).collect();
        if names != ["user_embedding", "user_bias", "item_embedding", "item_bias"] {
            return Err(RepresentationError::Shape(format!("bilinear tables must be user_embedding, user_bias, item_embedding, item_bias; got {names:?}")));
        }
        let (ue, ub, ie, ib) = (&tables[0], &tables[1], &tables[2], &tables[3]);
        if ue.cols() != ie.cols()
            || ub.cols() != 1
            || ib.cols() != 1
            || ue.rows() != ub.rows()
            || ie.rows() != ib.rows()
        {
            return Err(RepresentationError::Shape(format!(
                "inconsistent bilinear tables: user {}x{} / {}x{}, item {}x{} / {}x{}",
                ue.rows(),
                ue.cols(),
                ub.rows(),
                ub.cols(),
                ie.rows(),
                ie.cols(),
                ib.rows(),
                ib.cols()
            )));
        }
        if ue.indexed_by() != IndexedBy::User
            || ub.indexed_by() != IndexedBy::User
            || ie.indexed_by() != IndexedBy::Item
            || ib.indexed_by() != IndexedBy::Item
        {
            return Err(RepresentationError::Shape(
                "bilinear tables are indexed by user, user, item, item".into(),
            ));
        }
        Ok(Bilinear { tables })
    }

    /// Embedding dimension.
    pub fn dim(&self) -> usize {
        self.tables[0].cols()
    }
}

impl FactorizationRepresentation for Bilinear {
    fn name(&self) -> String {
        "bilinear".into()
    }

    fn bilinear_kernel(&self) -> Option<BilinearKernel> {
        Some(BilinearKernel::IN_ORDER)
    }

    fn tables(&self) -> &[Table] {
        &self.tables
    }

    fn tables_mut(&mut self) -> &mut [Table] {
        &mut self.tables
    }

    fn forward<D: Device<f32>, T: Taped<D>>(
        &self,
        rows: Rows<D, T>,
    ) -> Tensor<(usize, usize), f32, D, T> {
        let mut user = rows.user.into_iter();
        let mut item = rows.item.into_iter();
        let (p, bu) = (
            user.next().expect("user_embedding rows"),
            user.next().expect("user_bias rows"),
        );
        let (q, bi) = (
            item.next().expect("item_embedding rows"),
            item.next().expect("item_bias rows"),
        );
        bilinear_scores(p, bu, q, bi)
    }
}
