//! A one-layer LSTM in dfdx ops.

use super::contract::*;

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
        for name in ["w_input", "w_hidden"] {
            tables.push(recurrent_table(name, dim, 4 * dim, dim, rng)?);
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
    fn encode<D: Device<f32>, T: Taped<D>>(&self, rows: SequenceRows<D, T>) -> Steps<D, T> {
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
        batch_major(outputs)
    }

    fn host_encoder(&self) -> Option<Box<dyn HostEncoder + '_>> {
        Some(Box::new(LstmKernel {
            input: self.tables[2].data(),
            hidden: self.tables[3].data(),
            bias: self.tables[4].data(),
            dim: self.dim(),
        }))
    }

    fn name(&self) -> String {
        "lstm".into()
    }
    table_accessors!();
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
