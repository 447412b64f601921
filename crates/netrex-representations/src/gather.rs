//! Copying the rows a batch touches into dfdx tensors, and their gradients back.

use dfdx::prelude::*;

use crate::table::{IndexedBy, SparseGrad, Table};

/// Rows of a user-indexed table for a batch: `(B, cols)`.
pub type UserRows<D, T> = Tensor<(usize, usize), f32, D, T>;

/// Rows of an item-indexed table for a batch: `(B, M, cols)`.
pub type ItemRows<D, T> = Tensor<(usize, usize, usize), f32, D, T>;

/// The rows of every table gathered for one batch, as dfdx tensors.
///
/// `user[k]` is `(B, cols)` for the k-th user-indexed table; `item[k]` is `(B, M, cols)` for
/// the k-th item-indexed table (M items per user), both in table order.
pub struct Rows<D: Device<f32>, T> {
    /// Rows of user-indexed tables, `(B, cols)` each.
    pub user: Vec<UserRows<D, T>>,
    /// Rows of item-indexed tables, `(B, M, cols)` each.
    pub item: Vec<ItemRows<D, T>>,
    /// Whole dense tables, `(rows, cols)` each.
    pub whole: Vec<UserRows<D, T>>,
    /// The batch's user ids, `B` (for representations that look rows up themselves).
    pub user_ids: Vec<u32>,
    /// The batch's item ids, `B x M` row-major.
    pub item_ids: Vec<u32>,
}

/// Gathers rows `ids` of `table` into a dfdx tensor of `shape` (whose size must be
/// `ids.len() * table.cols()`).
pub fn gather_rows<S: Shape, D: Device<f32>>(
    device: &D,
    table: &Table,
    ids: &[u32],
    shape: S,
) -> Tensor<S, f32, D> {
    device.tensor_from_vec(copy_rows(table, ids), shape)
}

/// Adds the gradient of a gathered tensor (one row per id) to the table rows `ids`.
pub fn accumulate_rows<S: Shape, D: Device<f32>>(
    grads: &mut Gradients<f32, D>,
    leaf: &Tensor<S, f32, D>,
    ids: &[u32],
    into: &mut SparseGrad,
) -> Result<(), D::Err> {
    grads.get_or_alloc_mut(leaf)?;
    let values = grads.get(leaf).as_vec();
    let cols = values.len() / ids.len().max(1);
    for (k, &id) in ids.iter().enumerate() {
        into.add_row(id, &values[k * cols..(k + 1) * cols]);
    }
    Ok(())
}

enum Leaf<D: Device<f32>> {
    User(Tensor<(usize, usize), f32, D>),
    Item(Tensor<(usize, usize, usize), f32, D>),
    Whole(Tensor<(usize, usize), f32, D>),
}

/// A batch of users, each with M items, gathered from a representation's tables.
pub struct Gathered<D: Device<f32>> {
    leaves: Vec<Leaf<D>>,
    users: Vec<u32>,
    items: Vec<u32>,
}

fn copy_rows(table: &Table, ids: &[u32]) -> Vec<f32> {
    let mut out = Vec::with_capacity(ids.len() * table.cols());
    for &id in ids {
        out.extend_from_slice(table.row(id as usize));
    }
    out
}

impl<D: Device<f32>> Gathered<D> {
    /// Gathers `users` (B) and `items` (B x M, row-major) from `tables`.
    ///
    /// # Panics
    /// If `items.len()` is not a multiple of `users.len()` or an id is out of its table: the
    /// models that call this validate ids first.
    pub fn new(device: &D, tables: &[Table], users: &[u32], items: &[u32]) -> Self {
        let b = users.len();
        assert!(
            b > 0 && items.len().is_multiple_of(b),
            "items must hold M ids per user"
        );
        let m = items.len() / b;
        let leaves = tables
            .iter()
            .map(|t| match t.indexed_by() {
                IndexedBy::User => {
                    Leaf::User(device.tensor_from_vec(copy_rows(t, users), (b, t.cols())))
                }
                IndexedBy::Item => {
                    Leaf::Item(device.tensor_from_vec(copy_rows(t, items), (b, m, t.cols())))
                }
                IndexedBy::Whole => {
                    Leaf::Whole(device.tensor_from_vec(t.data().to_vec(), (t.rows(), t.cols())))
                }
            })
            .collect();
        Gathered {
            leaves,
            users: users.to_vec(),
            items: items.to_vec(),
        }
    }

    fn rows<T>(
        &self,
        two: impl Fn(&Tensor<(usize, usize), f32, D>) -> UserRows<D, T>,
        three: impl Fn(&Tensor<(usize, usize, usize), f32, D>) -> ItemRows<D, T>,
    ) -> Rows<D, T> {
        let mut rows = Rows {
            user: Vec::new(),
            item: Vec::new(),
            whole: Vec::new(),
            user_ids: self.users.clone(),
            item_ids: self.items.clone(),
        };
        for leaf in &self.leaves {
            match leaf {
                Leaf::User(t) => rows.user.push(two(t)),
                Leaf::Item(t) => rows.item.push(three(t)),
                Leaf::Whole(t) => rows.whole.push(two(t)),
            }
        }
        rows
    }

    /// The rows as tensors that record gradients.
    pub fn traced(&self) -> Rows<D, OwnedTape<f32, D>> {
        self.rows(|t| t.leaky_trace(), |t| t.leaky_trace())
    }

    /// The rows as plain tensors (for prediction).
    pub fn untraced(&self) -> Rows<D, NoneTape> {
        self.rows(|t| t.clone(), |t| t.clone())
    }

    /// Adds each gathered row's gradient to its table row in `into` (one per table, in table
    /// order). Rows that occur several times in the batch sum their gradients, which is the
    /// gradient of the table itself.
    pub fn accumulate(
        &self,
        grads: &mut Gradients<f32, D>,
        into: &mut [SparseGrad],
    ) -> Result<(), D::Err> {
        for (leaf, sparse) in self.leaves.iter().zip(into.iter_mut()) {
            match leaf {
                Leaf::User(t) => accumulate_rows(grads, t, &self.users, sparse)?,
                Leaf::Item(t) => accumulate_rows(grads, t, &self.items, sparse)?,
                Leaf::Whole(t) => {
                    let all: Vec<u32> = (0..t.shape().0 as u32).collect();
                    accumulate_rows(grads, t, &all, sparse)?
                }
            }
        }
        Ok(())
    }
}
