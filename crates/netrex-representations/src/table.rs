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
            data: vec![0.0; rows * cols],
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
            data: (0..rows * cols).map(|_| normal.sample(rng)).collect(),
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
            data,
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
#[derive(Clone, Debug, PartialEq)]
pub struct SparseGrad {
    cols: usize,
    data: Vec<f32>,
    touched: Vec<u32>,
    is_touched: Vec<bool>,
}

impl SparseGrad {
    /// An empty gradient for a `rows x cols` table. The buffer is allocated once and only the
    /// touched rows are ever cleared.
    pub fn new(rows: usize, cols: usize) -> Self {
        SparseGrad {
            cols,
            data: vec![0.0; rows * cols],
            touched: Vec::new(),
            is_touched: vec![false; rows],
        }
    }

    /// A gradient shaped like `table`.
    pub fn for_table(table: &Table) -> Self {
        SparseGrad::new(table.rows(), table.cols())
    }

    /// Adds `values` to row `r`.
    pub fn add_row(&mut self, r: u32, values: &[f32]) {
        let ri = r as usize;
        if !self.is_touched[ri] {
            self.is_touched[ri] = true;
            self.touched.push(r);
        }
        for (g, v) in self.data[ri * self.cols..(ri + 1) * self.cols]
            .iter_mut()
            .zip(values)
        {
            *g += v;
        }
    }

    /// The touched rows, in first-touch order.
    pub fn touched(&self) -> &[u32] {
        &self.touched
    }

    /// The gradient of row `r` (zeros if untouched).
    pub fn row(&self, r: u32) -> &[f32] {
        let ri = r as usize;
        &self.data[ri * self.cols..(ri + 1) * self.cols]
    }

    /// Drops row `r`'s gradient (the padding row of sequence models stays at zero).
    pub fn zero_row(&mut self, r: u32) {
        let ri = r as usize;
        self.data[ri * self.cols..(ri + 1) * self.cols]
            .iter_mut()
            .for_each(|g| *g = 0.0);
    }

    /// Forgets every touched row.
    pub fn clear(&mut self) {
        for &r in &self.touched {
            let ri = r as usize;
            self.is_touched[ri] = false;
            self.data[ri * self.cols..(ri + 1) * self.cols]
                .iter_mut()
                .for_each(|g| *g = 0.0);
        }
        self.touched.clear();
    }
}
