//! Pooling: the running sum or mean of the history's embeddings.

use super::contract::*;

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
    fn encode<D: Device<f32>, T: Taped<D>>(&self, rows: SequenceRows<D, T>) -> Steps<D, T> {
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

    fn name(&self) -> String {
        if self.mean { "pool-mean" } else { "pool-sum" }.into()
    }
    table_accessors!();
}

impl Pooling {
    /// Restores a saved model from its tables.
    pub fn from_tables(tables: Vec<Table>, mean: bool) -> Result<Self, RepresentationError> {
        check_item_tables(&tables)?;
        check_whole(&tables, &[])?;
        Ok(Pooling { tables, mean })
    }
}
