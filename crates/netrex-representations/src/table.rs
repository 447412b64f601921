//! Runtime-sized parameter tables, one row per user or per item.
//!
//! dfdx 0.13's `nn::Embedding` has a compile-time vocabulary, so netrex keeps its tables as
//! plain row-major buffers and copies the rows a batch touches into dfdx tensors (see
//! [`crate::gather`]). Gradients come back per row, so an optimizer only ever visits touched
//! rows: the cost of a step follows the batch, not the table.

use rand::Rng;
use rand_distr::{Distribution, Normal};
use serde::{Deserialize, Serialize};

use crate::error::RepresentationError;

/// What a table's rows are indexed by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum IndexedBy {
    /// One row per user.
    User,
    /// One row per item.
    Item,
    /// A dense weight matrix (LSTM or CNN weights): every row takes part in every batch.
    Whole,
}

/// A `rows x cols` table of `f32` parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    name: String,
    indexed_by: IndexedBy,
    rows: usize,
    cols: usize,
    data: Vec<f32>,
}

impl Table {
    /// A table of zeros (the talk's ZeroEmbedding, for biases).
    pub fn zeros(name: &str, indexed_by: IndexedBy, rows: usize, cols: usize) -> Self {
        Table {
            name: name.to_owned(),
            indexed_by,
            rows,
            cols,
            data: crate::memory::zeroed(rows * cols),
        }
    }

    /// Normal entries with standard deviation `1 / cols` (the talk's ScaledEmbedding).
    pub fn scaled_normal(
        name: &str,
        indexed_by: IndexedBy,
        rows: usize,
        cols: usize,
        rng: &mut impl Rng,
    ) -> Self {
        let normal =
            Normal::new(0.0f32, 1.0 / cols.max(1) as f32).expect("positive standard deviation");
        Table {
            name: name.to_owned(),
            indexed_by,
            rows,
            cols,
            data: {
                let mut data = crate::memory::zeroed(rows * cols);
                data.iter_mut().for_each(|v| *v = normal.sample(rng));
                data
            },
        }
    }

    /// A table from saved values; the length must be `rows * cols` and values finite.
    pub fn from_data(
        name: &str,
        indexed_by: IndexedBy,
        rows: usize,
        cols: usize,
        data: Vec<f32>,
    ) -> Result<Self, RepresentationError> {
        if data.len() != rows * cols {
            return Err(RepresentationError::Shape(format!(
                "table {name} has {} values, expected {rows} x {cols}",
                data.len()
            )));
        }
        if data.iter().any(|v| !v.is_finite()) {
            return Err(RepresentationError::NonFinite(name.to_owned()));
        }
        Ok(Table {
            name: name.to_owned(),
            indexed_by,
            rows,
            cols,
            data: crate::memory::with_huge_pages(data),
        })
    }

    /// The table's name (its key in saved models).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What the rows are indexed by.
    pub fn indexed_by(&self) -> IndexedBy {
        self.indexed_by
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Row `r`.
    pub fn row(&self, r: usize) -> &[f32] {
        &self.data[r * self.cols..(r + 1) * self.cols]
    }

    /// Row `r`, mutably.
    pub fn row_mut(&mut self, r: usize) -> &mut [f32] {
        &mut self.data[r * self.cols..(r + 1) * self.cols]
    }

    /// All values, row-major.
    pub fn data(&self) -> &[f32] {
        &self.data
    }

    /// All values, row-major, mutably.
    pub fn data_mut(&mut self) -> &mut [f32] {
        &mut self.data
    }
}

/// Gradients of one table, kept only for the rows a batch touched.
///
/// Memory follows the touched rows (plus one slot index per table row), so that every worker
/// thread can keep its own without copying the table.
#[derive(Clone, Debug, PartialEq)]
pub struct SparseGrad {
    cols: usize,
    /// Per table row: its position in `touched`, or `UNTOUCHED`.
    slot: Vec<u32>,
    touched: Vec<u32>,
    /// `touched.len() x cols`, in touch order.
    data: Vec<f32>,
    zeros: Vec<f32>,
}

const UNTOUCHED: u32 = u32::MAX;

impl SparseGrad {
    /// An empty gradient for a `rows x cols` table.
    pub fn new(rows: usize, cols: usize) -> Self {
        SparseGrad {
            cols,
            slot: vec![UNTOUCHED; rows],
            touched: Vec::new(),
            data: Vec::new(),
            zeros: vec![0.0; cols],
        }
    }

    /// A gradient shaped like `table`.
    pub fn for_table(table: &Table) -> Self {
        SparseGrad::new(table.rows(), table.cols())
    }

    /// One gradient per table, shaped like it.
    pub fn for_tables(tables: &[Table]) -> Vec<Self> {
        tables.iter().map(SparseGrad::for_table).collect()
    }

    /// Row `r`'s gradient for accumulation, marking it touched (zeros the first time).
    pub fn row_mut(&mut self, r: u32) -> &mut [f32] {
        let ri = r as usize;
        let mut s = self.slot[ri];
        if s == UNTOUCHED {
            s = self.touched.len() as u32;
            self.slot[ri] = s;
            self.touched.push(r);
            self.data.resize(self.data.len() + self.cols, 0.0);
        }
        let start = s as usize * self.cols;
        &mut self.data[start..start + self.cols]
    }

    /// Adds `values` to row `r`.
    pub fn add_row(&mut self, r: u32, values: &[f32]) {
        for (g, v) in self.row_mut(r).iter_mut().zip(values) {
            *g += v;
        }
    }

    /// The touched rows, in first-touch order.
    pub fn touched(&self) -> &[u32] {
        &self.touched
    }

    /// The touched rows with their gradients, in first-touch order.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &[f32])> + '_ {
        self.touched
            .iter()
            .copied()
            .zip(self.data.chunks_exact(self.cols.max(1)))
    }

    /// The gradient of row `r` (zeros if untouched).
    pub fn row(&self, r: u32) -> &[f32] {
        match self.slot[r as usize] {
            UNTOUCHED => &self.zeros,
            s => &self.data[s as usize * self.cols..(s as usize + 1) * self.cols],
        }
    }

    /// Drops row `r`'s gradient (the padding row of sequence models stays at zero).
    pub fn zero_row(&mut self, r: u32) {
        let s = self.slot[r as usize];
        if s != UNTOUCHED {
            let start = s as usize * self.cols;
            self.data[start..start + self.cols]
                .iter_mut()
                .for_each(|g| *g = 0.0);
        }
    }

    /// Forgets every touched row (keeping the buffers' capacity).
    pub fn clear(&mut self) {
        for &r in &self.touched {
            self.slot[r as usize] = UNTOUCHED;
        }
        self.touched.clear();
        self.data.clear();
    }
}
