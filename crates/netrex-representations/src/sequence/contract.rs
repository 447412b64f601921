//! The contract every sequence representation meets: the tensors it reads and returns, the
//! `SequenceRepresentation` trait, and the checks of the item tables every one starts with.
//! Each representation's module reads it from here (and its imports, as a prelude).

pub(super) use crate::tape::Taped;
pub(super) use dfdx::prelude::*;
pub(super) use rand::Rng;

pub(super) use crate::error::RepresentationError;
pub(super) use crate::host::{CnnKernel, HostEncoder, LstmKernel, PoolingKernel, ZeroKernel};
pub(super) use crate::table::{IndexedBy, Table};

/// A `(B, T, D)` tensor: one vector per sequence and position.
pub type Steps<D, T> = Tensor<(usize, usize, usize), f32, D, T>;

/// A `(rows, cols)` tensor.
pub type Matrix<D, T> = Tensor<(usize, usize), f32, D, T>;

/// What a sequence representation reads for one batch.
pub struct SequenceRows<D: Device<f32>, T> {
    /// Embeddings of the input items, `(B, T, D)`; padding rows are zero.
    pub inputs: Steps<D, T>,
    /// The input ids (shifted), row-major `(B, T)`.
    pub ids: Vec<u32>,
    /// The representation's dense tables, whole, in table order (after the two item tables).
    pub whole: Vec<Matrix<D, T>>,
    /// While training, the seed of this batch's dropout masks; `None` when scoring (no
    /// dropout). Representations without dropout ignore it.
    pub dropout_seed: Option<u64>,
}

/// A representation of item sequences.
pub trait SequenceRepresentation: Send + Sync {
    /// A short name (`"lstm"`), stored in saved models.
    fn name(&self) -> String;

    /// Number of items (without padding): the item embedding's rows less the padding row.
    fn num_items(&self) -> usize {
        self.tables()
            .first()
            .map_or(0, |t| t.rows().saturating_sub(1))
    }

    /// Embedding dimension: the item embedding's width.
    fn dim(&self) -> usize {
        self.tables().first().map_or(0, Table::cols)
    }

    /// Tables: `item_embedding`, `item_bias`, then dense weights.
    fn tables(&self) -> &[Table];

    /// Tables, mutably.
    fn tables_mut(&mut self) -> &mut [Table];

    /// The representation at every position: `(B, T, D)` from inputs `(B, T, D)`. Position
    /// `t` may depend only on inputs `0..=t`, which are the items before target `t`.
    fn encode<D: Device<f32>, T: Taped<D>>(&self, rows: SequenceRows<D, T>) -> Steps<D, T>;

    /// The same function as [`encode`](Self::encode) written by hand on host memory, if the
    /// representation has one (every built-in does): the CPU trains and scores
    /// through it without dfdx's tape. `None` (the default) always goes through `encode`.
    fn host_encoder(&self) -> Option<Box<dyn HostEncoder + '_>> {
        None
    }
}

/// Checks that `tables` start with the two item tables every sequence representation shares
/// (`item_embedding (num_items + 1, dim)`, `item_bias (num_items + 1, 1)`, item-indexed) and
/// that every further table is a dense [`IndexedBy::Whole`] one: the training kernels and the
/// scorers rely on it.
pub fn check_sequence_tables(
    tables: &[Table],
    num_items: usize,
    dim: usize,
) -> Result<(), RepresentationError> {
    let fail = |message: String| {
        Err(RepresentationError::Layout {
            representation: "sequence representation",
            message,
        })
    };
    let [embedding, bias, dense @ ..] = tables else {
        return fail(format!(
            "{} tables, expected item_embedding, item_bias and dense weights",
            tables.len()
        ));
    };
    for (k, table, cols) in [(0, embedding, dim), (1, bias, 1)] {
        if table.indexed_by() != IndexedBy::Item
            || table.rows() != num_items + 1
            || table.cols() != cols
        {
            return fail(format!(
                "table {k} ({}) is {:?}-indexed, {} x {}; expected Item-indexed, {} x {cols}",
                table.name(),
                table.indexed_by(),
                table.rows(),
                table.cols(),
                num_items + 1
            ));
        }
    }
    if let Some(t) = dense.iter().find(|t| t.indexed_by() != IndexedBy::Whole) {
        return fail(format!(
            "table {} is {:?}-indexed: tables after the two item tables must be Whole",
            t.name(),
            t.indexed_by()
        ));
    }
    Ok(())
}

pub(super) fn check(num_items: usize, dim: usize) -> Result<(), RepresentationError> {
    if num_items == 0 || dim == 0 {
        return Err(RepresentationError::InvalidParameter {
            name: "num_items, dim",
            message: format!("must be at least 1 (got {num_items}, {dim})"),
        });
    }
    Ok(())
}

pub(super) fn item_tables(num_items: usize, dim: usize, rng: &mut impl Rng) -> Vec<Table> {
    let mut embedding =
        Table::scaled_normal("item_embedding", IndexedBy::Item, num_items + 1, dim, rng);
    embedding.row_mut(0).iter_mut().for_each(|v| *v = 0.0);
    vec![
        embedding,
        Table::zeros("item_bias", IndexedBy::Item, num_items + 1, 1),
    ]
}

/// A dense table of `rows x cols` drawn uniformly from `(-1/sqrt(dim), 1/sqrt(dim))`, as
/// PyTorch initialises its recurrent layers.
pub(super) fn recurrent_table(
    name: &str,
    rows: usize,
    cols: usize,
    dim: usize,
    rng: &mut impl Rng,
) -> Result<Table, RepresentationError> {
    let bound = 1.0 / (dim as f32).sqrt();
    let data = (0..rows * cols)
        .map(|_| rng.gen_range(-bound..bound))
        .collect();
    Table::from_data(name, IndexedBy::Whole, rows, cols, data)
}

/// A recurrence's outputs, one `(B, D)` per step, as `(B, T, D)`.
pub(super) fn batch_major<D: Device<f32>, T: Taped<D>>(outputs: Vec<Matrix<D, T>>) -> Steps<D, T> {
    outputs
        .stack()
        .permute::<(usize, usize, usize), Axes3<1, 0, 2>>()
}

pub(super) fn shape_error(message: String) -> RepresentationError {
    RepresentationError::Shape(message)
}

/// Checks the two item tables every sequence representation starts with; returns
/// `(num_items, dim)`.
pub(super) fn check_item_tables(tables: &[Table]) -> Result<(usize, usize), RepresentationError> {
    let (Some(e), Some(b)) = (tables.first(), tables.get(1)) else {
        return Err(shape_error(
            "a sequence model needs item_embedding and item_bias tables".into(),
        ));
    };
    if e.name() != "item_embedding"
        || b.name() != "item_bias"
        || e.rows() != b.rows()
        || b.cols() != 1
        || e.rows() < 2
    {
        return Err(shape_error(format!(
            "item tables must be item_embedding (n + 1, dim) and item_bias (n + 1, 1); got {} {}x{} and {} {}x{}",
            e.name(),
            e.rows(),
            e.cols(),
            b.name(),
            b.rows(),
            b.cols()
        )));
    }
    Ok((e.rows() - 1, e.cols()))
}

pub(super) fn check_whole(
    tables: &[Table],
    expected: &[(String, usize, usize)],
) -> Result<(), RepresentationError> {
    let found: Vec<(String, usize, usize)> = tables
        .iter()
        .skip(2)
        .map(|t| (t.name().to_owned(), t.rows(), t.cols()))
        .collect();
    if found != expected {
        return Err(shape_error(format!(
            "dense tables {found:?} do not match the expected {expected:?}"
        )));
    }
    Ok(())
}
