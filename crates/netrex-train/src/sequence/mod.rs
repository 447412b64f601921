//! The implicit-feedback sequence model: next-item prediction over a user's history, with any
//! sequence representation and any loss.

use dfdx::prelude::*;
use rand::seq::SliceRandom;
use rand::Rng;

use crate::engine::resident::{ResidentTables, Touched};
use netrex_data::sequence::chunked;
use netrex_data::{Interactions, Sequences};
use netrex_evaluation::SequenceScorer;
use netrex_losses::{Loss, LossContext};
use netrex_representations::host::{matmul, Out, View};
use netrex_representations::sequence::{Matrix, SequenceRows, Steps};
use netrex_representations::{accumulate_rows, gather_rows, SequenceRepresentation, SparseGrad};

use crate::config::{Checked, IntoChecked, ParamGuard};
use crate::device::ComputeDevice;
use crate::engine::progress::Progress;
use crate::engine::training::{run_epochs, EpochEnd, FitReport, OnEpoch, Trainer};
use crate::error::NetrexError;
use crate::sequence::kernel::{sequence_batch, SequenceBatch};

pub(crate) mod catalog;
mod config;
mod features;
pub mod file;
mod item_features;
pub(crate) mod kernel;
mod steps;

pub use config::{NegativeSampling, SequenceConfig, MASKED_SCORE};

/// A next-item model trained on users' histories (the talk's padded form: input
/// `[0, a, b, c]`, targets `[a, b, c, d]`), a prediction and a loss at every position, padding
/// masked out, negatives drawn uniformly.
///
/// The dfdx device `D` is [`Cpu`] unless the model is created with [`new_on`](Self::new_on)
/// (e.g. on `Cuda` with the `cuda` feature).
pub struct ImplicitSequenceModel<R: SequenceRepresentation, L: Loss, D: ComputeDevice = Cpu> {
    pub(crate) config: Checked<SequenceConfig>,
    representation: R,
    loss: L,
    trainer: Trainer,
    device: D,
    resident: bool,
    resident_tables: Option<ResidentTables<D>>,
    /// Items made of side features, if they are (see `with_item_features`).
    item_features: Option<item_features::ItemFeatures>,
}

/// `(B, N)` negatives as `(B, T, N)`: each row's set at each of its `t` positions.
fn repeat_per_position(negatives: &[u32], n: usize, t: usize) -> Vec<u32> {
    let mut out = Vec::with_capacity(negatives.len() * t);
    for set in negatives.chunks(n.max(1)) {
        for _ in 0..t {
            out.extend_from_slice(set);
        }
    }
    out
}

/// The dropout seed of batch `batch` of epoch `epoch`.
fn dropout_seed(seed: u64, epoch: usize, batch: usize) -> u64 {
    let mut z = seed ^ 0xD20F_0A7E ^ ((epoch as u64) << 32) ^ batch as u64;
    z = (z ^ (z >> 33)).wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    z = (z ^ (z >> 33)).wrapping_mul(0xC4CE_B9FE_1A85_EC53);
    z ^ (z >> 33)
}

/// The traced loss of a batch and the leaves it came from.
struct BatchLoss<D: ComputeDevice> {
    loss: Tensor<(), f32, D, OwnedTape<f32, D>>,
    leaves: Vec<(usize, Leaf<D>, Vec<u32>)>,
}

/// A batch's traced rows. Shapes: `inputs` `(B, T, D)`, `target_emb` `(B * T, D)`,
/// `target_bias` `(B * T, 1)`; `whole` the dense tables.
struct BatchRows<D: ComputeDevice> {
    inputs: Steps<D, OwnedTape<f32, D>>,
    whole: Vec<Matrix<D, OwnedTape<f32, D>>>,
    target_emb: Matrix<D, OwnedTape<f32, D>>,
    target_bias: Matrix<D, OwnedTape<f32, D>>,
    negatives: NegativeRows<D>,
}

/// The traced rows the negatives are scored against.
enum NegativeRows<D: ComputeDevice> {
    /// `N` per position: embeddings `(B * T, N, D)`, biases `(B * T, N, 1)`.
    Sampled {
        emb: Tensor<(usize, usize, usize), f32, D, OwnedTape<f32, D>>,
        bias: Tensor<(usize, usize, usize), f32, D, OwnedTape<f32, D>>,
    },
    /// The whole item tables, padding row included (it and each position's target are
    /// masked): embeddings `(I + 1, D)`, biases `(I + 1, 1)`.
    Catalog {
        emb: Matrix<D, OwnedTape<f32, D>>,
        bias: Matrix<D, OwnedTape<f32, D>>,
    },
}

enum Leaf<D: ComputeDevice> {
    Two(Tensor<(usize, usize), f32, D>),
    Three(Tensor<(usize, usize, usize), f32, D>),
}

impl<D: ComputeDevice> Leaf<D> {
    /// Adds this leaf's gradient in `grads` to the rows `ids` of `into`.
    fn accumulate(
        &self,
        grads: &mut Gradients<f32, D>,
        ids: &[u32],
        into: &mut SparseGrad,
    ) -> Result<(), NetrexError> {
        let result = match self {
            Leaf::Two(t) => accumulate_rows(grads, t, ids, into),
            Leaf::Three(t) => accumulate_rows(grads, t, ids, into),
        };
        result.map_err(|e| NetrexError::Device(format!("{e:?}")))
    }
}

impl<R: SequenceRepresentation, L: Loss> ImplicitSequenceModel<R, L> {
    /// A model over a freshly built representation, on the CPU.
    pub fn new(
        config: impl IntoChecked<SequenceConfig>,
        representation: R,
        loss: L,
    ) -> Result<Self, NetrexError> {
        Self::new_on(crate::device::cpu(), config, representation, loss)
    }
}

impl<R: SequenceRepresentation, L: Loss, D: ComputeDevice> ImplicitSequenceModel<R, L, D> {
    /// A model over a freshly built representation, on `device`.
    pub fn new_on(
        device: D,
        config: impl IntoChecked<SequenceConfig>,
        representation: R,
        loss: L,
    ) -> Result<Self, NetrexError> {
        let config = config.into_checked()?;
        netrex_representations::check_sequence_tables(
            representation.tables(),
            representation.num_items(),
            representation.dim(),
        )?;
        let trainer = Trainer::new(
            &config.training,
            representation.tables(),
            config.training.seed ^ 0x005E_9E0C,
        );
        Ok(ImplicitSequenceModel {
            config,
            representation,
            loss,
            trainer,
            device,
            resident: !D::HOST,
            resident_tables: None,
            item_features: None,
        })
    }

    /// Keeps the tables and optimizer state on the device for the whole fit (see
    /// [`ResidentTables`]): the default on a GPU; on the CPU for comparisons and tests.
    pub fn with_resident_tables(mut self, resident: bool) -> Self {
        self.resident = resident;
        self
    }

    /// Whether training keeps the tables on the device (never with item features, whose
    /// rows travel per batch).
    pub fn uses_resident_tables(&self) -> bool {
        self.resident && self.item_features.is_none()
    }

    /// Shows a progress bar per epoch on stderr while fitting.
    pub fn with_progress(mut self, show: bool) -> Self {
        self.trainer.progress = show;
        self
    }

    /// The hyperparameters.
    pub fn config(&self) -> &SequenceConfig {
        &self.config
    }

    /// Sets how many epochs the next `fit` trains (a run of that many more epochs).
    pub fn set_epochs(&mut self, epochs: usize) -> Result<(), NetrexError> {
        let mut config = self.config.clone().into_inner();
        config.training.epochs = epochs;
        self.config = config.check()?;
        Ok(())
    }

    /// Sets the learning rate of the epochs to come (a schedule still scales it within each
    /// `fit`), e.g. to decay it between rounds of early stopping; checked as the configuration
    /// is.
    pub fn set_learning_rate(&mut self, learning_rate: f32) -> Result<(), NetrexError> {
        let mut config = self.config.clone().into_inner();
        config.training.learning_rate = learning_rate;
        self.config = config.check()?;
        Ok(())
    }

    crate::engine::training::model_accessors!();

    /// Scores of every item (dense ids) as the next one after `history` (dense ids, oldest
    /// first; may be empty).
    pub fn predict(&self, history: &[u32]) -> Result<Vec<f32>, NetrexError> {
        self.known(history)?;
        let mut scores = vec![0.0f32; self.representation.num_items()];
        netrex_evaluation::SequenceScorer::score_next(self, history, &mut scores);
        Ok(scores)
    }

    /// An error naming the first id of `history` beyond the catalog.
    fn known(&self, history: &[u32]) -> Result<(), NetrexError> {
        let n = self.representation.num_items();
        if let Some(&i) = history.iter().find(|&&i| i as usize >= n) {
            return Err(NetrexError::UnknownId {
                kind: "item",
                id: i.to_string(),
                count: n,
            });
        }
        Ok(())
    }

    /// The state after `history` (dense ids, oldest first; may be empty): item `i`'s score as
    /// the next item is `state · e_i + b_i` with [`item_vectors`](Self::item_vectors), so a
    /// top-k index over those answers [`predict`](Self::predict)'s ranking.
    pub fn encode(&self, history: &[u32]) -> Result<Vec<f32>, NetrexError> {
        self.known(history)?;
        let (states, real) = self.states(history);
        let d = self.representation.dim();
        Ok(states[(real - 1) * d..real * d].to_vec())
    }

    /// The items' output vectors `e_i` (`items x dim`, row-major, dense ids) and biases `b_i`
    /// that [`encode`](Self::encode)'s state scores.
    pub fn item_vectors(&self) -> (Vec<f32>, Vec<f32>) {
        let d = self.representation.dim();
        let tables = self.representation.tables();
        // row 0 is padding: item i is row i + 1
        (
            tables[0].data()[d..].to_vec(),
            tables[1].data()[1..].to_vec(),
        )
    }

    /// The `k` best next items after `history` (dense ids, oldest first), best first, ties by
    /// id; items in the history are left out when `exclude_seen`.
    pub fn recommend(
        &self,
        history: &[u32],
        k: usize,
        exclude_seen: bool,
    ) -> Result<Vec<(u32, f32)>, NetrexError> {
        let scores = self.predict(history)?;
        let exclude: &[u32] = if exclude_seen { history } else { &[] };
        Ok(crate::engine::training::top_k(scores, exclude, k))
    }

    fn negatives(&self) -> usize {
        self.config
            .training
            .negatives
            .unwrap_or_else(|| self.loss.num_negatives())
    }

    /// The training loop of `fit` (a new run of `epochs` epochs) or of a resumed run, on the
    /// calling thread.
    fn run(
        &mut self,
        train: &Interactions,
        resume: bool,
        on_epoch: &mut OnEpoch<'_, Self>,
    ) -> Result<FitReport, NetrexError> {
        train.ensure_not_empty("the training set")?;
        let num_items = self.representation.num_items();
        if train.num_items() != num_items {
            return Err(NetrexError::Training(format!(
                "the data has {} items but the model has {num_items}",
                train.num_items()
            )));
        }
        if self.config.negatives != NegativeSampling::FullCatalog {
            crate::engine::training::check_negatives(
                &self.loss.name(),
                self.negatives(),
                num_items,
            )?;
        }
        let sequences = chunked(&train.histories(), num_items, self.config.max_len)?;
        if !resume {
            self.trainer.run_start = self.trainer.epochs_trained;
        }
        let config = self.config.training.clone();
        let epochs = self.trainer.epochs_left(&config);
        run_epochs(epochs, || {
            self.trainer.begin_epoch(&config);
            let loss = self.epoch(&sequences)?;
            on_epoch(self, &EpochEnd::of(&self.trainer, &config, loss))?;
            Ok(loss)
        })
    }

    fn epoch(&mut self, sequences: &Sequences) -> Result<f32, NetrexError> {
        let epoch = self.trainer.epochs_trained + 1;
        let mut order: Vec<usize> = (0..sequences.len()).collect();
        let mut rng = self.trainer.epoch_rng();
        order.shuffle(&mut rng);
        let (num_items, negatives) = (self.representation.num_items() as u32, self.negatives());
        let progress = Progress::new(self.trainer.progress, order.len(), epoch);
        if self.uses_resident_tables() {
            self.open_resident();
        }
        let (mut total, mut weight) = (0.0f64, 0.0f64);
        for (batch, rows) in order.chunks(self.config.training.batch_size).enumerate() {
            let inputs: Vec<u32> = rows
                .iter()
                .flat_map(|&r| sequences.input(r).iter().copied())
                .collect();
            let targets: Vec<u32> = rows
                .iter()
                .flat_map(|&r| sequences.target(r).iter().copied())
                .collect();
            let sampling = self.config.negatives;
            let draws = match sampling {
                NegativeSampling::PerPosition => targets.len() * negatives,
                NegativeSampling::PerRow => rows.len() * negatives,
                NegativeSampling::FullCatalog => 0,
            };
            let mut negs: Vec<u32> = (0..draws).map(|_| rng.gen_range(1..=num_items)).collect();
            if sampling == NegativeSampling::PerRow && !self.uses_host_kernel() {
                // the dfdx paths read a set per position: each row's, repeated
                negs = repeat_per_position(&negs, negatives, sequences.max_len());
            }
            let real = targets.iter().filter(|&&x| x != 0).count();
            // a stream of its own, so that models without dropout sample as before
            let dropout_seed = dropout_seed(self.config.training.seed, epoch, batch);
            let step = SequenceBatch {
                rows: rows.len(),
                inputs: &inputs,
                targets: &targets,
                negatives: &negs,
                dropout_seed: Some(dropout_seed),
                sampling,
            };
            let value = if self.uses_host_kernel() {
                self.kernel_step(&step)
            } else if self.uses_resident_tables() {
                self.resident_step(&step)?
            } else {
                self.host_step(&step)?
            };
            if !value.is_finite() {
                progress.finish();
                return Err(NetrexError::NonFiniteLoss {
                    epoch,
                    batch: batch + 1,
                    value,
                });
            }
            total += f64::from(value) * real as f64;
            weight += real as f64;
            progress.advance(rows.len(), total / weight.max(1.0));
        }
        progress.finish();
        if let Some(resident) = &self.resident_tables {
            resident.download(self.representation.tables_mut());
        }
        let mean = (total / weight.max(1.0)) as f32;
        self.trainer.end_epoch(mean);
        Ok(mean)
    }

    /// Whether training takes the hand-written CPU kernel: the CPU, a representation with a
    /// [`HostEncoder`](netrex_representations::HostEncoder) (every built-in does),
    /// tables not resident, and `config.training.fused`. Any loss trains through it (a custom
    /// loss through dfdx's tape over the batch's scores only).
    pub fn uses_host_kernel(&self) -> bool {
        D::HOST
            && self.config.training.fused
            && !self.uses_resident_tables()
            && self.representation.host_encoder().is_some()
    }

    /// Representations `(T, D)` after each item of `history` (dense ids), with the same left
    /// padding as training rows.
    fn states(&self, history: &[u32]) -> (Vec<f32>, usize) {
        let max_len = self.config.max_len;
        let mut row: Vec<u32> = std::iter::once(0)
            .chain(history.iter().map(|&i| i + 1))
            .collect();
        let real = row.len();
        if real < max_len {
            let mut padded = vec![0; max_len - real];
            padded.extend(row);
            row = padded;
        }
        let t = row.len();
        let d = self.representation.dim();
        if let Some(encoder) = self.representation.host_encoder() {
            let embedding = &self.representation.tables()[0];
            let mut x = vec![0.0f32; t * d];
            for (out, &id) in x.chunks_exact_mut(d).zip(&row) {
                out.copy_from_slice(embedding.row(id as usize));
            }
            let values = encoder.forward(&x, &row, 1).outputs;
            return (values[(t - real) * d..].to_vec(), real);
        }
        let inputs = gather_rows(
            &self.device,
            &self.representation.tables()[0],
            &row,
            (1, t, d),
        );
        let whole: Vec<Matrix<D, NoneTape>> = self
            .representation
            .tables()
            .iter()
            .skip(2)
            .map(|w| {
                let all: Vec<u32> = (0..w.rows() as u32).collect();
                gather_rows(&self.device, w, &all, (w.rows(), w.cols()))
            })
            .collect();
        let h: Steps<D, NoneTape> = self.representation.encode(SequenceRows {
            dropout_seed: None,
            inputs,
            ids: row,
            whole,
        });
        let values = h.as_vec();
        // keep the positions of the real inputs: the first predicts history[0]
        (values[(t - real) * d..].to_vec(), real)
    }

    fn score(&self, state: &[f32], item: u32) -> f32 {
        let tables = self.representation.tables();
        let e = tables[0].row(item as usize + 1);
        crate::factorization::fused::dot(state, e) + tables[1].row(item as usize + 1)[0]
    }
}

crate::engine::training::fit_impls!(
    ImplicitSequenceModel,
    SequenceRepresentation,
    config.training.threads
);

impl<R: SequenceRepresentation, L: Loss, D: ComputeDevice> SequenceScorer
    for ImplicitSequenceModel<R, L, D>
{
    fn num_items(&self) -> usize {
        self.representation.num_items()
    }

    fn score_next(&self, history: &[u32], scores: &mut [f32]) {
        let (states, real) = self.states(history);
        let d = self.representation.dim();
        let last = &states[(real - 1) * d..real * d];
        let tables = self.representation.tables();
        // row 0 is padding: item i is row i + 1
        let embeddings = tables[0].data()[d..].chunks_exact(d);
        let biases = &tables[1].data()[1..];
        for ((s, e), b) in scores.iter_mut().zip(embeddings).zip(biases) {
            *s = crate::factorization::fused::dot(last, e) + b;
        }
    }

    /// With a host encoder: the histories encoded as one batch (grouped by padded length) and
    /// their last states scored against every item as one matrix product.
    fn score_next_batch(&self, histories: &[&[u32]], scores: &mut [f32]) {
        let n = self.representation.num_items();
        let Some(encoder) = self.representation.host_encoder() else {
            for (history, row) in histories.iter().zip(scores.chunks_exact_mut(n.max(1))) {
                self.score_next(history, row);
            }
            return;
        };
        let d = self.representation.dim();
        let tables = self.representation.tables();
        let mut last = vec![0.0f32; histories.len() * d];
        // padded as `states` pads (to max_len, or to a longer history's length): the amount of
        // padding changes a recurrent model's states, so rows of one length go together
        let mut by_len: std::collections::BTreeMap<usize, Vec<usize>> = Default::default();
        for (i, history) in histories.iter().enumerate() {
            let t = (history.len() + 1).max(self.config.max_len);
            by_len.entry(t).or_default().push(i);
        }
        for (t, members) in by_len {
            let mut ids = Vec::with_capacity(members.len() * t);
            for &i in &members {
                let history = histories[i];
                ids.extend(std::iter::repeat_n(0u32, t - history.len()));
                ids.extend(history.iter().map(|&item| item + 1));
            }
            let mut x = vec![0.0f32; ids.len() * d];
            for (out, &id) in x.chunks_exact_mut(d).zip(&ids) {
                out.copy_from_slice(tables[0].row(id as usize));
            }
            let outputs = encoder.forward(&x, &ids, members.len()).outputs;
            for (k, &i) in members.iter().enumerate() {
                let end = (k + 1) * t * d;
                last[i * d..(i + 1) * d].copy_from_slice(&outputs[end - d..end]);
            }
        }
        // row 0 is padding: item i is row i + 1
        matmul(
            (histories.len(), n, d),
            Out::write(scores, n),
            View::rows(&last, d),
            View::transposed(&tables[0].data()[d..], d),
        );
        let biases = &tables[1].data()[1..];
        for row in scores.chunks_exact_mut(n.max(1)) {
            row.iter_mut().zip(biases).for_each(|(s, b)| *s += b);
        }
    }

    fn score_positions(
        &self,
        history: &[u32],
        candidates: &[u32],
        per_position: usize,
        out: &mut [f32],
    ) {
        if history.is_empty() {
            return;
        }
        let (states, _) = self.states(&history[..history.len() - 1]);
        let d = self.representation.dim();
        for t in 0..history.len() {
            let state = &states[t * d..(t + 1) * d];
            for k in t * per_position..(t + 1) * per_position {
                out[k] = self.score(state, candidates[k]);
            }
        }
    }
}
