//! SASRec (Kang & McAuley 2018): causal self-attention over the history, in dfdx ops, with the
//! same function by hand in [`crate::host::SasrecKernel`].

use super::contract::*;
use super::frequency::FilterInput;
use super::sasrec_parts::{
    dropout_factor, frequency_layer, position_row, row_start, BlockLayout, FrequencySpec, EPSILON,
};

/// A causal self-attention encoder (SASRec): `x = sqrt(D) E[item] + P[recency]`, then per
/// block `q = LN1(x)`, multi-head attention with queries from `q` and keys and values from
/// `x` (each position sees itself and the real positions before it), `x1 = q + dropout(attn
/// W_out)`, `f = LN2(x1)`, `x = f + dropout(relu(f W1) W2)` (dropout on the hidden layer
/// too), and a final layer norm. Input and output item embeddings are shared.
///
/// Positions count back from the last one (`P[0]` is the newest; `P[rows - 1]` is shared by
/// everything older), so any history length scores; padding on the left is masked out and its
/// outputs are zero. Dropout applies while training only (a seeded mask per batch,
/// [`SequenceRows::dropout_seed`]).
///
/// Dense tables: `position (positions, D)`, then per block `BLOCK_TABLES`-named tables
/// (gains `(1, D)` at 1, biases `(1, D)` at 0, weights `(D, D)`), then `final_gain`,
/// `final_bias`.
///
/// With a [`FrequencySpec`] (BSARec), each block's residual also mixes in a frequency branch
/// over `q`: `x1 = q + (1 - α) dropout(attn W_out) + α dropout(F(q))`, where `F(q) = low +
/// β² (q - low)`, `low` is the causal low-pass of [`FrequencySpec::taps`] and `β` a learned
/// per-dimension scale (table `freq_beta (blocks, D)`, after `final_bias`). With
/// [`FrequencySpec::learned`], `F(q)` is a learned causal filter instead (table `freq_filter
/// (blocks * window, D)`, row `block * window + j` the lag-`j` weights), and with `α` 1 the
/// blocks do not attend (FMLP-Rec) and hold no attention tables.
#[derive(Clone, Debug, PartialEq)]
pub struct Sasrec {
    tables: Vec<Table>,
    heads: usize,
    dropout: f32,
    frequency: Option<FrequencySpec>,
}
impl Sasrec {
    /// A fresh model: `blocks` blocks of `heads` heads (which must divide `dim`), dropout
    /// `dropout` in `[0, 1)`, positional embeddings for `positions` steps (`max_len + 1` sees
    /// every position of a training row).
    pub fn new(
        num_items: usize,
        dim: usize,
        spec: &SasrecSpec,
        rng: &mut impl Rng,
    ) -> Result<Self, RepresentationError> {
        check(num_items, dim)?;
        spec.check(dim)?;
        let mut tables = item_tables(num_items, dim, rng);
        tables.push(Table::scaled_normal(
            "position",
            IndexedBy::Whole,
            spec.positions,
            dim,
            rng,
        ));
        // Glorot uniform, as PyTorch's attention and (roughly) its linear layers start
        let bound = (6.0 / (2 * dim) as f32).sqrt();
        for block in 0..spec.blocks {
            for name in BlockLayout::of(spec.frequency.as_ref()).names() {
                let full = format!("block{block}.{name}");
                let table = match name {
                    n if n.starts_with("w_") => {
                        let data = (0..dim * dim)
                            .map(|_| rng.gen_range(-bound..bound))
                            .collect();
                        Table::from_data(&full, IndexedBy::Whole, dim, dim, data)?
                    }
                    n if n.ends_with("_gain") => {
                        Table::from_data(&full, IndexedBy::Whole, 1, dim, vec![1.0; dim])?
                    }
                    _ => Table::zeros(&full, IndexedBy::Whole, 1, dim),
                };
                tables.push(table);
            }
        }
        tables.push(Table::from_data(
            "final_gain",
            IndexedBy::Whole,
            1,
            dim,
            vec![1.0; dim],
        )?);
        tables.push(Table::zeros("final_bias", IndexedBy::Whole, 1, dim));
        match spec.frequency {
            Some(f) if f.learned => {
                // every block's filter starts as the low-pass
                let data = f.filter_rows(dim).repeat(spec.blocks);
                tables.push(Table::from_data(
                    "freq_filter",
                    IndexedBy::Whole,
                    spec.blocks * f.window,
                    dim,
                    data,
                )?);
            }
            Some(_) => {
                // BSARec draws its sqrt(beta) from a standard normal
                let normal = rand_distr::Normal::new(0.0f32, 1.0).expect("unit deviation");
                let data = (0..spec.blocks * dim).map(|_| rng.sample(normal)).collect();
                tables.push(Table::from_data(
                    "freq_beta",
                    IndexedBy::Whole,
                    spec.blocks,
                    dim,
                    data,
                )?);
            }
            None => {}
        }
        Ok(Sasrec {
            tables,
            heads: spec.heads,
            dropout: spec.dropout,
            frequency: spec.frequency,
        })
    }

    /// Restores a saved model from its spec and tables.
    pub fn from_tables(tables: Vec<Table>, spec: &SasrecSpec) -> Result<Self, RepresentationError> {
        let (_, d) = check_item_tables(&tables)?;
        spec.check(d)?;
        let mut expected = vec![("position".to_owned(), spec.positions, d)];
        for block in 0..spec.blocks {
            for name in BlockLayout::of(spec.frequency.as_ref()).names() {
                let rows = if name.starts_with("w_") { d } else { 1 };
                expected.push((format!("block{block}.{name}"), rows, d));
            }
        }
        expected.push(("final_gain".into(), 1, d));
        expected.push(("final_bias".into(), 1, d));
        match spec.frequency {
            Some(f) if f.learned => {
                expected.push(("freq_filter".into(), spec.blocks * f.window, d))
            }
            Some(_) => expected.push(("freq_beta".into(), spec.blocks, d)),
            None => {}
        }
        check_whole(&tables, &expected)?;
        Ok(Sasrec {
            tables,
            heads: spec.heads,
            dropout: spec.dropout,
            frequency: spec.frequency,
        })
    }

    /// The model's hyperparameters.
    pub fn spec(&self) -> SasrecSpec {
        SasrecSpec {
            blocks: self.blocks(),
            heads: self.heads,
            dropout: self.dropout,
            positions: self.tables[2].rows(),
            frequency: self.frequency,
        }
    }

    fn layout(&self) -> BlockLayout {
        BlockLayout::of(self.frequency.as_ref())
    }

    fn blocks(&self) -> usize {
        let extra = 5 + usize::from(self.frequency.is_some());
        (self.tables.len() - extra) / self.layout().len()
    }
}

/// What [`Sasrec`] needs beyond its tables.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SasrecSpec {
    /// Self-attention blocks.
    pub blocks: usize,
    /// Attention heads per block (dividing the dimension).
    pub heads: usize,
    /// Dropout probability while training.
    pub dropout: f32,
    /// Rows of the positional table: steps back from the newest that get their own.
    pub positions: usize,
    /// BSARec's frequency branch in every block (none: SASRec).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency: Option<FrequencySpec>,
}

impl SasrecSpec {
    fn check(&self, dim: usize) -> Result<(), RepresentationError> {
        let bad = |name: &'static str, message: String| {
            Err(RepresentationError::InvalidParameter { name, message })
        };
        if self.blocks == 0 {
            return bad("blocks", "must be at least 1".into());
        }
        if self.heads == 0 || !dim.is_multiple_of(self.heads) {
            return bad(
                "heads",
                format!("{} does not divide the dimension {dim}", self.heads),
            );
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return bad("dropout", format!("{} is not in [0, 1)", self.dropout));
        }
        if self.positions == 0 {
            return bad("positions", "must be at least 1".into());
        }
        match &self.frequency {
            Some(f) => f.check(),
            None => Ok(()),
        }
    }
}

/// `x W + b` over `(B, T, D)` with `W (D, D)`, `b (1, D)`.
fn linear<D: Device<f32>, T: Taped<D>>(
    x: Steps<D, T>,
    w: Matrix<D, T>,
    b: Matrix<D, T>,
) -> Steps<D, T> {
    let shape = *x.shape();
    let bias = b
        .reshape_like(&(shape.2,))
        .broadcast_like::<_, Axes2<0, 1>>(&shape);
    x.matmul(w) + bias
}

/// Layer norm over the last axis, with gain and bias `(1, D)`.
fn layer_norm<D: Device<f32>, T: Taped<D>>(
    x: Steps<D, T>,
    gain: Matrix<D, T>,
    bias: Matrix<D, T>,
) -> Steps<D, T> {
    let shape = *x.shape();
    let g = gain
        .reshape_like(&(shape.2,))
        .broadcast_like::<_, Axes2<0, 1>>(&shape);
    let b = bias
        .reshape_like(&(shape.2,))
        .broadcast_like::<_, Axes2<0, 1>>(&shape);
    x.normalize::<Axis<2>>(EPSILON) * g + b
}

impl Sasrec {
    /// A constant `(B, T, D)` tensor of dropout factors for mask `layer`.
    fn mask<D: Device<f32>>(
        &self,
        dev: &D,
        seed: u64,
        layer: u64,
        shape: (usize, usize, usize),
    ) -> Tensor<(usize, usize, usize), f32, D> {
        let n = shape.0 * shape.1 * shape.2;
        let values = (0..n as u64)
            .map(|i| dropout_factor(seed, layer, i, self.dropout))
            .collect();
        dev.tensor_from_vec(values, shape)
    }

    /// Multi-head causal attention of block tables from `first` (`q (B, T, D)` queries,
    /// `x` keys and values), through the output projection, before dropout.
    fn attention<D: Device<f32>, T: Taped<D>>(
        &self,
        q_in: Steps<D, T>,
        x: Steps<D, T>,
        w: &impl Fn(usize) -> Matrix<D, T>,
        first: usize,
        allowed: &Tensor<(usize, usize, usize), f32, D>,
    ) -> Steps<D, T> {
        let shape = *x.shape();
        let (heads, dh) = (self.heads, shape.2 / self.heads);
        let mut query = Some(linear(q_in, w(first + 2), w(first + 3)));
        let mut key = Some(linear(x.retaped::<T>(), w(first + 4), w(first + 5)));
        let mut value = Some(linear(x, w(first + 6), w(first + 7)));
        let mut attended: Option<Steps<D, T>> = None;
        for h in 0..heads {
            // the last head takes the originals, with their tapes
            let use_of = |t: &mut Option<Steps<D, T>>| {
                if h + 1 == heads {
                    t.take().expect("a projection")
                } else {
                    t.as_ref().expect("a projection").retaped::<T>()
                }
            };
            let cols = h * dh..(h + 1) * dh;
            let qh = use_of(&mut query).slice((.., .., cols.clone()));
            let kh = use_of(&mut key)
                .slice((.., .., cols.clone()))
                .permute::<_, Axes3<0, 2, 1>>();
            let vh = use_of(&mut value).slice((.., .., cols.clone()));
            let scores = qh.matmul(kh) * (1.0 / (dh as f32).sqrt()) + allowed.clone();
            let part = scores
                .softmax::<Axis<2>>()
                .matmul(vh)
                .matmul(w(first + 8).slice((cols, ..)));
            attended = Some(match attended {
                None => part,
                Some(sum) => sum + part,
            });
        }
        let out_bias = w(first + 9)
            .reshape_like(&(shape.2,))
            .broadcast_like::<_, Axes2<0, 1>>(&shape);
        attended.expect("at least one head") + out_bias
    }

    fn drop<D: Device<f32>, T: Tape<f32, D>>(
        &self,
        x: Steps<D, T>,
        seed: Option<u64>,
        layer: u64,
    ) -> Steps<D, T> {
        match seed {
            Some(seed) if self.dropout > 0.0 => {
                let mask = self.mask(x.device(), seed, layer, *x.shape());
                x * mask
            }
            _ => x,
        }
    }
}

impl SequenceRepresentation for Sasrec {
    fn encode<D: Device<f32>, T: Taped<D>>(&self, rows: SequenceRows<D, T>) -> Steps<D, T> {
        let (b, t, d) = *rows.inputs.shape();
        let shape = (b, t, d);
        let dev = rows.inputs.device().clone();
        let seed = rows.dropout_seed;
        let positions = self.tables[2].rows();
        let starts: Vec<usize> = rows.ids.chunks(t).map(row_start).collect();
        let position_ids: Vec<usize> = (0..b * t)
            .map(|i| position_row(i % t, t, positions))
            .collect();
        // additive attention mask (B, T, T): each query sees itself and real keys before it
        let mut allowed = vec![-1e9f32; b * t * t];
        for (r, &start) in starts.iter().enumerate() {
            for q in 0..t {
                for k in 0..=q {
                    if k >= start || k == q {
                        allowed[(r * t + q) * t + k] = 0.0;
                    }
                }
            }
        }
        let allowed = dev.tensor_from_vec(allowed, (b, t, t));
        let real: Vec<f32> = (0..b * t)
            .map(|i| f32::from(u8::from(i % t >= starts[i / t])))
            .collect();
        let real = dev
            .tensor_from_vec(real, (b, t))
            .broadcast_like::<_, Axis<2>>(&shape);
        // the tables are leaves: every use takes a copy (gradients add up by id); a computed
        // tensor used twice passes its own tape (its history) through exactly one use
        let p: Vec<Matrix<D, T>> = rows.whole;
        let w = |k: usize| p[k].retaped::<T>();
        let position = w(0).gather(dev.tensor_from_vec(position_ids, (b, t)));
        let mut x = self.drop(rows.inputs * (d as f32).sqrt() + position, seed, 0);
        let blocks = self.blocks();
        let layout = self.layout();
        let finals = 1 + blocks * layout.len();
        let branch = self
            .frequency
            .map(|f| (f, FilterInput::new(&dev, &f, &starts, t)));
        for block in 0..blocks {
            let at = |k: usize| 1 + block * layout.len() + layout.slot(k);
            let (q_in, attention) = if layout.attends() {
                let q_in = layer_norm(x.retaped::<T>(), w(at(0)), w(at(1)));
                let attention = self.attention(q_in.retaped::<T>(), x, &w, at(0), &allowed);
                (q_in, Some(self.drop(attention, seed, 3 * block as u64 + 1)))
            } else {
                // FMLP-Rec: x passes its tape through the layer norm
                (layer_norm(x, w(at(0)), w(at(1))), None)
            };
            let x1 = match (&branch, attention) {
                (None, Some(attention)) => q_in + attention,
                (Some((f, input)), attention) => {
                    let fq = input.apply(q_in.retaped::<T>(), w(finals + 2), block);
                    let fq = self.drop(fq, seed, frequency_layer(block)) * f.mix;
                    match attention {
                        Some(attention) => q_in + attention * (1.0 - f.mix) + fq,
                        None => q_in + fq,
                    }
                }
                (None, None) => unreachable!("a block without a branch attends"),
            };
            let f_in = layer_norm(x1, w(at(10)), w(at(11)));
            let hidden = self.drop(
                linear(f_in.retaped::<T>(), w(at(12)), w(at(13))).relu(),
                seed,
                3 * block as u64 + 2,
            );
            let ff = self.drop(
                linear(hidden, w(at(14)), w(at(15))),
                seed,
                3 * block as u64 + 3,
            );
            x = f_in + ff;
        }
        layer_norm(x, w(finals), w(finals + 1)) * real
    }

    fn host_encoder(&self) -> Option<Box<dyn HostEncoder + '_>> {
        Some(Box::new(crate::host::SasrecKernel::new(
            &self.tables,
            self.heads,
            self.dropout,
            self.frequency,
        )))
    }

    fn name(&self) -> String {
        match self.frequency {
            Some(f) if f.learned && !f.attends() => "fmlp".into(),
            Some(_) => "bsarec".into(),
            None => "sasrec".into(),
        }
    }
    table_accessors!();
}
