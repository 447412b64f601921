//! A causal convolutional network in dfdx ops.

use super::contract::*;

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
fn shift_later<D: Device<f32>, T: Taped<D>>(x: Steps<D, T>, s: usize) -> Steps<D, T> {
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
    fn encode<D: Device<f32>, T: Taped<D>>(&self, rows: SequenceRows<D, T>) -> Steps<D, T> {
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

    fn name(&self) -> String {
        "cnn".into()
    }
    table_accessors!();
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
