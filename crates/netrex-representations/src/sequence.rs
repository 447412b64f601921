//! Representations of a sequence of items: popularity, pooling and an LSTM.
//!
//! Item ids are shifted (`item + 1`; 0 is padding). Every sequence representation owns, in
//! this order, `item_embedding (num_items + 1, dim)` and `item_bias (num_items + 1, 1)`,
//! shared between inputs and targets, then its dense weights as [`IndexedBy::Whole`] tables.
//! Row 0 (padding) of the embedding starts at zero and the models never update it, so padding
//! contributes nothing to sums.

use dfdx::prelude::*;
use rand::Rng;

use crate::error::RepresentationError;
use crate::host::{CnnKernel, HostEncoder, LstmKernel, PoolingKernel, ZeroKernel};
use crate::table::{IndexedBy, Table};

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
}

/// A representation of item sequences.
pub trait SequenceRepresentation: Send + Sync {
    /// A short name (`"lstm"`), stored in saved models.
    fn name(&self) -> String;

    /// Number of items (without padding).
    fn num_items(&self) -> usize;

    /// Embedding dimension.
    fn dim(&self) -> usize;

    /// Tables: `item_embedding`, `item_bias`, then dense weights.
    fn tables(&self) -> &[Table];

    /// Tables, mutably.
    fn tables_mut(&mut self) -> &mut [Table];

    /// The representation at every position: `(B, T, D)` from inputs `(B, T, D)`. Position
    /// `t` may depend only on inputs `0..=t`, which are the items before target `t`.
    fn encode<D: Device<f32>, T: Tape<f32, D> + Merge<NoneTape>>(
        &self,
        rows: SequenceRows<D, T>,
    ) -> Steps<D, T>;

    /// The same function as [`encode`](Self::encode) written by hand on host memory, if the
    /// representation has one (every built-in does): the CPU trains and scores
    /// through it without dfdx's tape. `None` (the default) always goes through `encode`.
    fn host_encoder(&self) -> Option<Box<dyn HostEncoder + '_>> {
        None
    }
}

fn check(num_items: usize, dim: usize) -> Result<(), RepresentationError> {
    if num_items == 0 || dim == 0 {
        return Err(RepresentationError::InvalidParameter {
            name: "num_items, dim",
            message: format!("must be at least 1 (got {num_items}, {dim})"),
        });
    }
    Ok(())
}

fn item_tables(num_items: usize, dim: usize, rng: &mut impl Rng) -> Vec<Table> {
    let mut embedding =
        Table::scaled_normal("item_embedding", IndexedBy::Item, num_items + 1, dim, rng);
    embedding.row_mut(0).iter_mut().for_each(|v| *v = 0.0);
    vec![
        embedding,
        Table::zeros("item_bias", IndexedBy::Item, num_items + 1, 1),
    ]
}

macro_rules! table_accessors {
    () => {
        fn num_items(&self) -> usize {
            self.tables[0].rows() - 1
        }
        fn dim(&self) -> usize {
            self.tables[0].cols()
        }
        fn tables(&self) -> &[Table] {
            &self.tables
        }
        fn tables_mut(&mut self) -> &mut [Table] {
            &mut self.tables
        }
    };
}

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
    fn name(&self) -> String {
        "popularity".into()
    }
    table_accessors!();
    fn encode<D: Device<f32>, T: Tape<f32, D> + Merge<NoneTape>>(
        &self,
        rows: SequenceRows<D, T>,
    ) -> Steps<D, T> {
        rows.inputs * 0.0
    }
    fn host_encoder(&self) -> Option<Box<dyn HostEncoder + '_>> {
        Some(Box::new(ZeroKernel))
    }
}

/// Pooling over the items seen so far: the talk's running sum, or Spotlight's running mean.
#[derive(Clone, Debug, PartialEq)]
pub struct Pooling {
    tables: Vec<Table>,
    mean: bool,
}

impl Pooling {
    /// A fresh model; `mean` chooses the running mean over the running sum.
    pub fn new(
        num_items: usize,
        dim: usize,
        mean: bool,
        rng: &mut impl Rng,
    ) -> Result<Self, RepresentationError> {
        check(num_items, dim)?;
        Ok(Pooling {
            tables: item_tables(num_items, dim, rng),
            mean,
        })
    }

    /// Whether it averages (rather than sums).
    pub fn is_mean(&self) -> bool {
        self.mean
    }
}

impl SequenceRepresentation for Pooling {
    fn name(&self) -> String {
        if self.mean { "pool-mean" } else { "pool-sum" }.into()
    }
    table_accessors!();
    fn encode<D: Device<f32>, T: Tape<f32, D> + Merge<NoneTape>>(
        &self,
        rows: SequenceRows<D, T>,
    ) -> Steps<D, T> {
        let (b, t, d) = *rows.inputs.shape();
        let device = rows.inputs.device().clone();
        // prefix sums over time: (B, D, T) x upper-triangular (T, T), back to (B, T, D)
        let upper = device.upper_tri_like(&(t, t), 1.0f32, None);
        let sums = rows
            .inputs
            .permute::<(usize, usize, usize), Axes3<0, 2, 1>>()
            .matmul(upper)
            .permute::<(usize, usize, usize), Axes3<0, 2, 1>>();
        if !self.mean {
            return sums;
        }
        // divide by the number of real (non-padding) items seen so far, at least 1
        let mut counts = Vec::with_capacity(b * t);
        for row in rows.ids.chunks(t) {
            let mut seen = 0.0f32;
            for &id in row {
                seen += f32::from(u8::from(id != 0));
                counts.push(seen.max(1.0));
            }
        }
        let counts = device
            .tensor_from_vec(counts, (b, t))
            .broadcast_like::<_, Axis<2>>(&(b, t, d));
        sums / counts
    }
    fn host_encoder(&self) -> Option<Box<dyn HostEncoder + '_>> {
        Some(Box::new(PoolingKernel {
            dim: self.dim(),
            mean: self.mean,
        }))
    }
}

/// A one-layer LSTM, written out in dfdx (which has none): all four gates from one fused
/// matmul per input and per hidden state.
///
/// Dense tables: `w_input (dim, 4 dim)`, `w_hidden (dim, 4 dim)`, `w_bias (1, 4 dim)`, gates in
/// the order input, forget, cell, output; the forget bias starts at 1.
#[derive(Clone, Debug, PartialEq)]
pub struct Lstm {
    tables: Vec<Table>,
}

impl Lstm {
    /// A fresh LSTM.
    pub fn new(
        num_items: usize,
        dim: usize,
        rng: &mut impl Rng,
    ) -> Result<Self, RepresentationError> {
        check(num_items, dim)?;
        let mut tables = item_tables(num_items, dim, rng);
        // uniform(-1/sqrt(dim), 1/sqrt(dim)), as PyTorch initialises its LSTM
        let bound = 1.0 / (dim as f32).sqrt();
        for name in ["w_input", "w_hidden"] {
            let data = (0..dim * 4 * dim)
                .map(|_| rng.gen_range(-bound..bound))
                .collect();
            tables.push(Table::from_data(
                name,
                IndexedBy::Whole,
                dim,
                4 * dim,
                data,
            )?);
        }
        let mut bias = vec![0.0f32; 4 * dim];
        bias[dim..2 * dim].iter_mut().for_each(|v| *v = 1.0);
        tables.push(Table::from_data(
            "w_bias",
            IndexedBy::Whole,
            1,
            4 * dim,
            bias,
        )?);
        Ok(Lstm { tables })
    }
}

impl SequenceRepresentation for Lstm {
    fn name(&self) -> String {
        "lstm".into()
    }
    table_accessors!();

    fn encode<D: Device<f32>, T: Tape<f32, D> + Merge<NoneTape>>(
        &self,
        rows: SequenceRows<D, T>,
    ) -> Steps<D, T> {
        let (b, steps, d) = *rows.inputs.shape();
        let x = rows.inputs;
        let mut whole = rows.whole.into_iter();
        let (wi, wh, wb) = (
            whole.next().expect("w_input"),
            whole.next().expect("w_hidden"),
            whole.next().expect("w_bias"),
        );
        // Every further use of a tensor takes a copy with an empty tape and the same id, so
        // gradients from all uses add up; each tape that carries ops ends up in the output.
        let mut outputs: Vec<Matrix<D, T>> = Vec::with_capacity(steps);
        let mut h_prev: Option<Matrix<D, T>> = None;
        let mut c_prev: Option<Matrix<D, T>> = None;
        for t in 0..steps {
            let last = t + 1 == steps;
            let xt = x
                .retaped::<T>()
                .slice((.., t..t + 1, ..))
                .reshape_like(&(b, d));
            let bias = wb
                .retaped::<T>()
                .reshape_like(&(4 * d,))
                .broadcast_like::<_, Axis<0>>(&(b, 4 * d));
            let mut z = xt.matmul(wi.retaped::<T>()) + bias;
            if let Some(h) = h_prev.take() {
                z = z + h.matmul(wh.retaped::<T>());
            }
            let gate =
                |k: usize, z: &Matrix<D, T>| z.retaped::<T>().slice((.., k * d..(k + 1) * d));
            let i = gate(0, &z).sigmoid();
            let g = gate(2, &z).tanh();
            let o = gate(3, &z).sigmoid();
            let c = match c_prev.take() {
                Some(cp) => {
                    let f = z.slice((.., d..2 * d)).sigmoid();
                    f * cp + i * g
                }
                // no previous cell: the forget gate has nothing to act on; z's own tape
                // still has to reach the output, so it joins through a zero-weight term
                None => i * g + z.slice((.., d..2 * d)) * 0.0,
            };
            let h = if last {
                o * c.tanh()
            } else {
                let h = o * c.retaped::<T>().tanh();
                c_prev = Some(c);
                h
            };
            if !last {
                h_prev = Some(h.retaped::<T>());
            }
            outputs.push(h);
        }
        // (T, B, D) -> (B, T, D)
        outputs
            .stack()
            .permute::<(usize, usize, usize), Axes3<1, 0, 2>>()
    }

    fn host_encoder(&self) -> Option<Box<dyn HostEncoder + '_>> {
        Some(Box::new(LstmKernel {
            input: self.tables[2].data(),
            hidden: self.tables[3].data(),
            bias: self.tables[4].data(),
            dim: self.dim(),
        }))
    }
}

/// A causal convolutional network, as Spotlight's CNNNet: layers of causal convolutions over
/// time (output `t` sees inputs `t - j * dilation` for taps `j < kernel_width`, zero before the
/// start), `tanh`, and optional residual connections.
///
/// Dense tables per layer `l`: `conv{l}_weight (kernel_width * dim, dim)` (tap `j` in rows
/// `j * dim..(j + 1) * dim`) and `conv{l}_bias (1, dim)`.
#[derive(Clone, Debug, PartialEq)]
pub struct CausalCnn {
    tables: Vec<Table>,
    kernel_width: usize,
    dilations: Vec<usize>,
    residual: bool,
}

impl CausalCnn {
    /// A fresh network with one layer per dilation.
    pub fn new(
        num_items: usize,
        dim: usize,
        kernel_width: usize,
        dilations: &[usize],
        residual: bool,
        rng: &mut impl Rng,
    ) -> Result<Self, RepresentationError> {
        check(num_items, dim)?;
        if kernel_width == 0 || dilations.is_empty() || dilations.contains(&0) {
            return Err(RepresentationError::InvalidParameter {
                name: "kernel_width, dilations",
                message: "need a kernel width >= 1 and at least one dilation, each >= 1".into(),
            });
        }
        let mut tables = item_tables(num_items, dim, rng);
        let bound = 1.0 / ((kernel_width * dim) as f32).sqrt();
        for layer in 0..dilations.len() {
            let data = (0..kernel_width * dim * dim)
                .map(|_| rng.gen_range(-bound..bound))
                .collect();
            tables.push(Table::from_data(
                &format!("conv{layer}_weight"),
                IndexedBy::Whole,
                kernel_width * dim,
                dim,
                data,
            )?);
            tables.push(Table::zeros(
                &format!("conv{layer}_bias"),
                IndexedBy::Whole,
                1,
                dim,
            ));
        }
        Ok(CausalCnn {
            tables,
            kernel_width,
            dilations: dilations.to_vec(),
            residual,
        })
    }
}

/// `x` shifted `s` steps later in time (`out[t] = x[t - s]`, zero before the start):
/// `(B, T, D)` through `(B, D, T) x S (T, T)` with `S[t - s][t] = 1`.
fn shift_later<D: Device<f32>, T: Tape<f32, D> + Merge<NoneTape>>(
    x: Steps<D, T>,
    s: usize,
) -> Steps<D, T> {
    let (_, t, _) = *x.shape();
    let mut m = vec![0.0f32; t * t];
    for col in s..t {
        m[(col - s) * t + col] = 1.0;
    }
    let shift = x.device().tensor_from_vec(m, (t, t));
    x.permute::<(usize, usize, usize), Axes3<0, 2, 1>>()
        .matmul(shift)
        .permute::<(usize, usize, usize), Axes3<0, 2, 1>>()
}

impl SequenceRepresentation for CausalCnn {
    fn name(&self) -> String {
        "cnn".into()
    }
    table_accessors!();

    fn encode<D: Device<f32>, T: Tape<f32, D> + Merge<NoneTape>>(
        &self,
        rows: SequenceRows<D, T>,
    ) -> Steps<D, T> {
        let (b, t, d) = *rows.inputs.shape();
        let mut x = rows.inputs;
        let mut whole = rows.whole.into_iter();
        for &dilation in &self.dilations {
            let weight = whole.next().expect("conv weight");
            let bias = whole.next().expect("conv bias");
            // bias (1, D) -> (B, T, D)
            let mut y = bias
                .reshape_like(&(d,))
                .broadcast_like::<_, Axes2<0, 1>>(&(b, t, d));
            for tap in 0..self.kernel_width {
                let w = weight.retaped::<T>().slice((tap * d..(tap + 1) * d, ..));
                let shifted = shift_later(x.retaped::<T>(), tap * dilation);
                y = y + shifted.matmul(w);
            }
            let y = y.tanh();
            // the last use of x carries its tape into the layer's output
            x = if self.residual { y + x } else { y + x * 0.0 };
        }
        // weight tapes hold no ops (they are leaves), so dropping them loses nothing
        x
    }

    fn host_encoder(&self) -> Option<Box<dyn HostEncoder + '_>> {
        let dense = &self.tables[2..];
        Some(Box::new(CnnKernel {
            weights: dense.iter().step_by(2).map(|w| w.data()).collect(),
            biases: dense.iter().skip(1).step_by(2).map(|b| b.data()).collect(),
            kernel_width: self.kernel_width,
            dilations: &self.dilations,
            residual: self.residual,
            dim: self.dim(),
        }))
    }
}

fn shape_error(message: String) -> RepresentationError {
    RepresentationError::Shape(message)
}

/// Checks the two item tables every sequence representation starts with; returns
/// `(num_items, dim)`.
fn check_item_tables(tables: &[Table]) -> Result<(usize, usize), RepresentationError> {
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

fn check_whole(
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

impl Pooling {
    /// Restores a saved model from its tables.
    pub fn from_tables(tables: Vec<Table>, mean: bool) -> Result<Self, RepresentationError> {
        check_item_tables(&tables)?;
        check_whole(&tables, &[])?;
        Ok(Pooling { tables, mean })
    }
}

impl Lstm {
    /// Restores a saved model from its tables.
    pub fn from_tables(tables: Vec<Table>) -> Result<Self, RepresentationError> {
        let (_, d) = check_item_tables(&tables)?;
        check_whole(
            &tables,
            &[
                ("w_input".into(), d, 4 * d),
                ("w_hidden".into(), d, 4 * d),
                ("w_bias".into(), 1, 4 * d),
            ],
        )?;
        Ok(Lstm { tables })
    }
}

impl CausalCnn {
    /// Restores a saved model from its tables and its layout.
    pub fn from_tables(
        tables: Vec<Table>,
        kernel_width: usize,
        dilations: Vec<usize>,
        residual: bool,
    ) -> Result<Self, RepresentationError> {
        let (_, d) = check_item_tables(&tables)?;
        if kernel_width == 0 || dilations.is_empty() || dilations.contains(&0) {
            return Err(shape_error(
                "a CNN needs a kernel width and dilations of at least 1".into(),
            ));
        }
        let expected: Vec<(String, usize, usize)> = (0..dilations.len())
            .flat_map(|l| {
                [
                    (format!("conv{l}_weight"), kernel_width * d, d),
                    (format!("conv{l}_bias"), 1, d),
                ]
            })
            .collect();
        check_whole(&tables, &expected)?;
        Ok(CausalCnn {
            tables,
            kernel_width,
            dilations,
            residual,
        })
    }

    /// Kernel width.
    pub fn kernel_width(&self) -> usize {
        self.kernel_width
    }

    /// Dilation of each layer.
    pub fn dilations(&self) -> &[usize] {
        &self.dilations
    }

    /// Whether layers add their input back.
    pub fn residual(&self) -> bool {
        self.residual
    }
}

/// Any built-in sequence representation, chosen at run time (the command line, saved models).
#[derive(Clone, Debug, PartialEq)]
pub enum AnySequence {
    /// [`SequencePopularity`].
    Popularity(SequencePopularity),
    /// [`Pooling`].
    Pooling(Pooling),
    /// [`Lstm`].
    Lstm(Lstm),
    /// [`CausalCnn`].
    Cnn(CausalCnn),
}

macro_rules! any_dispatch {
    ($self:ident, $r:ident => $e:expr) => {
        match $self {
            AnySequence::Popularity($r) => $e,
            AnySequence::Pooling($r) => $e,
            AnySequence::Lstm($r) => $e,
            AnySequence::Cnn($r) => $e,
        }
    };
}

impl SequenceRepresentation for AnySequence {
    fn name(&self) -> String {
        any_dispatch!(self, r => r.name())
    }
    fn num_items(&self) -> usize {
        any_dispatch!(self, r => r.num_items())
    }
    fn dim(&self) -> usize {
        any_dispatch!(self, r => r.dim())
    }
    fn tables(&self) -> &[Table] {
        any_dispatch!(self, r => r.tables())
    }
    fn tables_mut(&mut self) -> &mut [Table] {
        any_dispatch!(self, r => r.tables_mut())
    }
    fn encode<D: Device<f32>, T: Tape<f32, D> + Merge<NoneTape>>(
        &self,
        rows: SequenceRows<D, T>,
    ) -> Steps<D, T> {
        any_dispatch!(self, r => r.encode(rows))
    }
    fn host_encoder(&self) -> Option<Box<dyn HostEncoder + '_>> {
        any_dispatch!(self, r => r.host_encoder())
    }
}
