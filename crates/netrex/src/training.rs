//! Pieces both model kinds share: training state, the epoch driver, the worker pool, the
//! negatives check, ranking for recommendations.

use std::time::Instant;

use netrex_data::Interactions;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};

use netrex_representations::{OptimizerConfig, RowOptimizer, SparseGrad, Table};

use crate::config::FactorizationConfig;
use crate::error::NetrexError;

/// A rayon pool of `threads` workers, in which fitting and evaluation run.
pub(crate) fn thread_pool(threads: usize) -> Result<rayon::ThreadPool, NetrexError> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| NetrexError::Device(e.to_string()))
}

/// Uniform negatives need at least one other item per positive.
pub(crate) fn check_negatives(
    loss: &str,
    negatives: usize,
    num_items: usize,
) -> Result<(), NetrexError> {
    if negatives == 0 || negatives >= num_items {
        return Err(NetrexError::Training(format!(
            "the loss {loss} wants {negatives} negatives per positive but there are only {num_items} items: use fewer negatives"
        )));
    }
    Ok(())
}

/// The `k` best (item, score) pairs, best first, ties by id, leaving out `exclude`.
pub(crate) fn top_k(scores: Vec<f32>, exclude: &[u32], k: usize) -> Vec<(u32, f32)> {
    let mut skip = vec![false; scores.len()];
    for &i in exclude {
        if let Some(s) = skip.get_mut(i as usize) {
            *s = true;
        }
    }
    let mut ranked: Vec<(u32, f32)> = scores
        .into_iter()
        .enumerate()
        .filter(|(i, _)| !skip[*i])
        .map(|(i, s)| (i as u32, s))
        .collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    ranked.truncate(k);
    ranked
}

/// The training state both model kinds keep beside their representation and loss: row-wise
/// optimizer state, reusable row gradients, the sampling stream, and the epoch history.
pub(crate) struct Trainer {
    pub(crate) optimizer: RowOptimizer,
    pub(crate) grads: Vec<SparseGrad>,
    pub(crate) rng: StdRng,
    pub(crate) epochs_trained: usize,
    pub(crate) loss_history: Vec<f32>,
    pub(crate) progress: bool,
}

impl Trainer {
    /// State for `tables` trained with `config`, sampling from `rng`.
    pub(crate) fn new(config: &FactorizationConfig, tables: &[Table], rng: StdRng) -> Self {
        let optimizer = RowOptimizer::new(
            OptimizerConfig {
                kind: config.optimizer,
                learning_rate: config.learning_rate,
                l2: config.l2,
            },
            tables,
        );
        Trainer {
            optimizer,
            grads: tables.iter().map(SparseGrad::for_table).collect(),
            rng,
            epochs_trained: 0,
            loss_history: Vec::new(),
            progress: false,
        }
    }

    /// Sets the learning rate for epoch `i` (0-based) of this `fit` call.
    pub(crate) fn begin_epoch(&mut self, config: &FactorizationConfig, i: usize) {
        let factor = config.lr_schedule.factor(i, config.epochs);
        self.optimizer
            .set_learning_rate(config.learning_rate * factor);
    }

    /// Records a finished epoch's mean loss.
    pub(crate) fn end_epoch(&mut self, mean: f32) {
        self.epochs_trained += 1;
        self.loss_history.push(mean);
    }
}

/// Training on a dataset, whatever the model and device: `fit` continues from where the last
/// call stopped. Both model kinds implement it on the CPU and (with the `cuda` feature) on the
/// GPU, so code generic over the device can train.
pub trait Fit {
    /// Trains for the configured number of epochs more on `train`.
    fn fit(&mut self, train: &Interactions) -> Result<FitReport, NetrexError>;
}

/// What one call to `fit` did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FitReport {
    /// Mean loss of each epoch of this call.
    pub loss_history: Vec<f32>,
    /// Wall time of this call, seconds.
    pub seconds: f64,
}

/// Runs `epoch(i)` for `config.epochs` epochs on the calling thread.
pub(crate) fn run_epochs(
    config: &FactorizationConfig,
    mut epoch: impl FnMut(usize) -> Result<f32, NetrexError>,
) -> Result<FitReport, NetrexError> {
    let start = Instant::now();
    let loss_history = (0..config.epochs)
        .map(&mut epoch)
        .collect::<Result<Vec<f32>, _>>()?;
    Ok(FitReport {
        loss_history,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// Runs `work` in a pool of `threads` workers: CPU models train and evaluate there (dfdx's
/// matmul and the Hogwild workers take their threads from it).
pub(crate) fn in_pool<T: Send>(
    threads: usize,
    work: impl FnOnce() -> Result<T, NetrexError> + Send,
) -> Result<T, NetrexError> {
    thread_pool(threads)?.install(work)
}
