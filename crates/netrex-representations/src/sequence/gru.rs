//! A one-layer GRU (GRU4Rec's recurrent unit) in dfdx ops.

use super::contract::*;

/// A one-layer GRU, written out in dfdx (which has none), PyTorch's formulation: with
/// `a = x W_i + b_i` and `c = h W_h + b_h` (gates in the order reset, update, new),
/// `r = sigmoid(a_r + c_r)`, `z = sigmoid(a_z + c_z)`, `n = tanh(a_n + r c_n)`,
/// `h' = (1 - z) n + z h`; the state before the first position is zero.
///
/// Dense tables: `w_input (dim, 3 dim)`, `w_hidden (dim, 3 dim)`, `b_input (1, 3 dim)`,
/// `b_hidden (1, 3 dim)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Gru {
    tables: Vec<Table>,
}

impl Gru {
    /// A fresh GRU.
    pub fn new(
        num_items: usize,
        dim: usize,
        rng: &mut impl Rng,
    ) -> Result<Self, RepresentationError> {
        check(num_items, dim)?;
        let mut tables = item_tables(num_items, dim, rng);
        for (name, rows) in [
            ("w_input", dim),
            ("w_hidden", dim),
            ("b_input", 1),
            ("b_hidden", 1),
        ] {
            tables.push(recurrent_table(name, rows, 3 * dim, dim, rng)?);
        }
        Ok(Gru { tables })
    }

    /// Restores a saved model from its tables.
    pub fn from_tables(tables: Vec<Table>) -> Result<Self, RepresentationError> {
        let (_, d) = check_item_tables(&tables)?;
        check_whole(
            &tables,
            &[
                ("w_input".into(), d, 3 * d),
                ("w_hidden".into(), d, 3 * d),
                ("b_input".into(), 1, 3 * d),
                ("b_hidden".into(), 1, 3 * d),
            ],
        )?;
        Ok(Gru { tables })
    }
}

impl SequenceRepresentation for Gru {
    fn encode<D: Device<f32>, T: Taped<D>>(&self, rows: SequenceRows<D, T>) -> Steps<D, T> {
        let (b, steps, d) = *rows.inputs.shape();
        let x = rows.inputs;
        let w = |k: usize| rows.whole[k].retaped::<T>();
        let bias = |k: usize| {
            w(k).reshape_like(&(3 * d,))
                .broadcast_like::<_, Axis<0>>(&(b, 3 * d))
        };
        let mut outputs: Vec<Matrix<D, T>> = Vec::with_capacity(steps);
        let mut h_prev: Option<Matrix<D, T>> = None;
        for t in 0..steps {
            let xt = x
                .retaped::<T>()
                .slice((.., t..t + 1, ..))
                .reshape_like(&(b, d));
            let a = xt.matmul(w(0)) + bias(2);
            // the zero state at the first step goes through the same product: a sum with a
            // broadcast bias materialises it, and slices of it then pass gradients back whole
            let c = match &h_prev {
                Some(h) => h.retaped::<T>().matmul(w(1)) + bias(3),
                None => {
                    let zero: Matrix<D, NoneTape> = x.device().zeros_like(&(b, d));
                    zero.retaped::<T>().matmul(w(1)) + bias(3)
                }
            };
            let part =
                |m: &Matrix<D, T>, k: usize| m.retaped::<T>().slice((.., k * d..(k + 1) * d));
            let r = (part(&a, 0) + part(&c, 0)).sigmoid();
            let z = (part(&a, 1) + part(&c, 1)).sigmoid();
            // a's and c's own tapes (their matmuls) reach the output through the new gate
            let n = (a.slice((.., 2 * d..3 * d)) + r * c.slice((.., 2 * d..3 * d))).tanh();
            let h = match h_prev.take() {
                Some(hp) => n * (z.retaped::<T>().negate() + 1.0) + z * hp,
                None => n * (z.negate() + 1.0),
            };
            h_prev = Some(h.retaped::<T>());
            outputs.push(h);
        }
        batch_major(outputs)
    }

    fn host_encoder(&self) -> Option<Box<dyn HostEncoder + '_>> {
        Some(Box::new(crate::host::GruKernel {
            input: self.tables[2].data(),
            hidden: self.tables[3].data(),
            input_bias: self.tables[4].data(),
            hidden_bias: self.tables[5].data(),
            dim: self.dim(),
        }))
    }

    fn name(&self) -> String {
        "gru".into()
    }
    table_accessors!();
}
