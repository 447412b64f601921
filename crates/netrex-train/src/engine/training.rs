//! Pieces both model kinds share: training state, the epoch driver, the worker pool, the
//! negatives check, ranking for recommendations.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use netrex_data::Interactions;
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

use crate::optim::{OptimizerConfig, RowOptimizer};
use netrex_representations::{SparseGrad, Table};

use crate::config::TrainingConfig;
use crate::error::NetrexError;

/// The rayon pool of `threads` workers, in which fitting and evaluation run: built once per
/// thread count and kept for the process, so that a fit that evaluates every epoch does not
/// start new threads each time.
fn thread_pool(threads: usize) -> Result<Arc<rayon::ThreadPool>, NetrexError> {
    static POOLS: OnceLock<Mutex<HashMap<usize, Arc<rayon::ThreadPool>>>> = OnceLock::new();
    let mut pools = POOLS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(pool) = pools.get(&threads) {
        return Ok(Arc::clone(pool));
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| NetrexError::Device(e.to_string()))?;
    Ok(Arc::clone(pools.entry(threads).or_insert(Arc::new(pool))))
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
/// optimizer state, reusable row gradients, the sampling seed, and the epoch history.
///
/// Each epoch's shuffling and negatives come from a stream seeded by the model's seed and the
/// epoch's number, so a run resumed from a checkpoint draws what the uninterrupted run would.
pub(crate) struct Trainer {
    pub(crate) optimizer: RowOptimizer,
    pub(crate) grads: Vec<SparseGrad>,
    pub(crate) seed: u64,
    pub(crate) epochs_trained: usize,
    /// `epochs_trained` when the current run of `config.epochs` epochs began (the learning-rate
    /// schedule counts from it).
    pub(crate) run_start: usize,
    pub(crate) loss_history: Vec<f32>,
    pub(crate) progress: bool,
}

impl Trainer {
    /// State for `tables` trained with `config`, sampling from `rng`.
    pub(crate) fn new(config: &TrainingConfig, tables: &[Table], seed: u64) -> Self {
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
            grads: SparseGrad::for_tables(tables),
            seed,
            epochs_trained: 0,
            run_start: 0,
            loss_history: Vec::new(),
            progress: false,
        }
    }

    /// Sets the learning rate for the next epoch from its place in the current run.
    pub(crate) fn begin_epoch(&mut self, config: &TrainingConfig) {
        let i = self.epochs_trained.saturating_sub(self.run_start);
        let factor = config.lr_schedule.factor(i, config.epochs);
        self.optimizer
            .set_learning_rate(config.learning_rate * factor);
    }

    /// The shuffling and sampling stream of the next epoch.
    pub(crate) fn epoch_rng(&self) -> StdRng {
        let epoch = self.epochs_trained as u64 + 1;
        StdRng::seed_from_u64(self.seed ^ epoch.wrapping_mul(0xA076_1D64_78BD_642F))
    }

    /// The stream per-example SGD's strata draw their item blocks from: the seed's alone, so
    /// that the cells are the same in every epoch and every run.
    pub(crate) fn strata_rng(&self) -> StdRng {
        StdRng::seed_from_u64(self.seed ^ 0x5EED_B10C_C0FF_EE11)
    }

    /// Epochs left in the current run.
    pub(crate) fn epochs_left(&self, config: &TrainingConfig) -> usize {
        (self.run_start + config.epochs).saturating_sub(self.epochs_trained)
    }

    /// Puts back the history of a saved model: epochs trained, the start of its run, losses.
    pub(crate) fn restore(&mut self, epochs: usize, run_start: usize, history: Vec<f32>) {
        self.epochs_trained = epochs;
        self.run_start = run_start.min(epochs);
        self.loss_history = history;
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
pub trait Fit: Sized {
    /// Trains for the configured number of epochs more on `train`.
    fn fit(&mut self, train: &Interactions) -> Result<FitReport, NetrexError> {
        self.fit_with(train, &mut |_, _| Ok(()))
    }

    /// [`fit`](Fit::fit), calling `on_epoch` after every epoch; an error from it stops
    /// training.
    fn fit_with(
        &mut self,
        train: &Interactions,
        on_epoch: &mut OnEpoch<'_, Self>,
    ) -> Result<FitReport, NetrexError>;

    /// Continues an interrupted run (a model loaded from a checkpoint) to its end.
    fn resume_with(
        &mut self,
        train: &Interactions,
        on_epoch: &mut OnEpoch<'_, Self>,
    ) -> Result<FitReport, NetrexError>;
}

/// A callback after each epoch: it sees the model and the epoch's summary.
pub type OnEpoch<'a, M> = dyn FnMut(&M, &EpochEnd) -> Result<(), NetrexError> + Send + 'a;

/// What the callback of `fit_with` learns after an epoch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EpochEnd {
    /// Epochs trained so far (over every call), 1-based: the epoch just finished.
    pub epoch: usize,
    /// The epoch's place in the current run, 1-based.
    pub run_epoch: usize,
    /// Epochs in the current run (`config.epochs`).
    pub run_epochs: usize,
    /// The epoch's mean loss.
    pub loss: f32,
}

impl EpochEnd {
    pub(crate) fn of(trainer: &Trainer, config: &TrainingConfig, loss: f32) -> Self {
        EpochEnd {
            epoch: trainer.epochs_trained,
            run_epoch: trainer.epochs_trained - trainer.run_start,
            run_epochs: config.epochs,
            loss,
        }
    }
}

/// What one call to `fit` did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FitReport {
    /// Mean loss of each epoch of this call.
    pub loss_history: Vec<f32>,
    /// Wall time of this call, seconds.
    pub seconds: f64,
}

/// Runs `epoch()` `epochs` times on the calling thread.
pub(crate) fn run_epochs(
    epochs: usize,
    mut epoch: impl FnMut() -> Result<f32, NetrexError>,
) -> Result<FitReport, NetrexError> {
    let start = Instant::now();
    let loss_history = (0..epochs)
        .map(|_| epoch())
        .collect::<Result<Vec<f32>, _>>()?;
    Ok(FitReport {
        loss_history,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// Runs `work` in the pool of `threads` workers (at least one), where netrex's CPU models
/// train and evaluate: dfdx's matmul, the Hogwild workers and the metrics take their threads
/// from it. The pool is built on first use and kept.
pub fn in_pool<T: Send>(threads: usize, work: impl FnOnce() -> T + Send) -> Result<T, NetrexError> {
    Ok(thread_pool(threads.max(1))?.install(work))
}

/// `fit`, `fit_with` and `resume_with` of a model type on the CPU (in the pool of the
/// configured threads) and on CUDA (on the calling thread: dfdx's `Cuda` is not `Send`), its
/// [`Fit`] impls and `to_cpu`, written once for both model types. `$($threads).+` is the path of the
/// thread count under `self`.
macro_rules! fit_impls {
    ($model:ident, $representation:ident, $($threads:ident).+) => {
        impl<R: $representation + Clone, L: Loss + Clone, D: ComputeDevice> $model<R, L, D> {
            /// A copy of the model on the CPU (representation, loss, configuration and
            /// history; not the optimizer state): for scoring a model trained on another
            /// device.
            pub fn to_cpu(&self) -> Result<$model<R, L>, NetrexError> {
                let mut model = $model::new(
                    self.config.clone(),
                    self.representation.clone(),
                    self.loss.clone(),
                )?;
                model.restore_history(self.run_history());
                Ok(model)
            }
        }

        impl<R: $representation, L: Loss> $model<R, L> {
            /// Trains for `epochs` more epochs on `train` (a second call continues training), in
            /// a pool of the configured number of worker threads.
            ///
            /// Each epoch shuffles the training data, cuts it into minibatches, and pairs every
            /// positive with negatives drawn uniformly from all items. Stops with
            /// [`NetrexError::NonFiniteLoss`] at the first NaN or infinite loss.
            pub fn fit(&mut self, train: &Interactions) -> Result<FitReport, NetrexError> {
                self.fit_with(train, &mut |_, _| Ok(()))
            }

            /// [`fit`](Self::fit), calling `on_epoch` after every epoch (to evaluate,
            /// checkpoint or log); an error from it stops training.
            pub fn fit_with(
                &mut self,
                train: &Interactions,
                on_epoch: &mut OnEpoch<'_, Self>,
            ) -> Result<FitReport, NetrexError> {
                let threads = self.$($threads).+;
                crate::engine::training::in_pool(threads, || self.run(train, false, on_epoch))?
            }

            /// Continues the run a checkpoint was taken in (see `load_checkpoint`) up to its
            /// `epochs`, with the same learning-rate schedule and sampling as the
            /// uninterrupted run.
            pub fn resume_with(
                &mut self,
                train: &Interactions,
                on_epoch: &mut OnEpoch<'_, Self>,
            ) -> Result<FitReport, NetrexError> {
                let threads = self.$($threads).+;
                crate::engine::training::in_pool(threads, || self.run(train, true, on_epoch))?
            }
        }

        #[cfg(feature = "cuda")]
        impl<R: $representation, L: Loss> $model<R, L, Cuda> {
            /// Trains for `epochs` more epochs on `train` on the GPU (dfdx's CUDA device is
            /// used from the calling thread only).
            pub fn fit(&mut self, train: &Interactions) -> Result<FitReport, NetrexError> {
                self.run(train, false, &mut |_, _| Ok(()))
            }
        }

        impl<R: $representation, L: Loss> crate::Fit for $model<R, L> {
            fn fit_with(
                &mut self,
                train: &Interactions,
                on_epoch: &mut OnEpoch<'_, Self>,
            ) -> Result<FitReport, NetrexError> {
                self.fit_with(train, on_epoch)
            }

            fn resume_with(
                &mut self,
                train: &Interactions,
                on_epoch: &mut OnEpoch<'_, Self>,
            ) -> Result<FitReport, NetrexError> {
                self.resume_with(train, on_epoch)
            }
        }

        #[cfg(feature = "cuda")]
        impl<R: $representation, L: Loss> crate::Fit for $model<R, L, Cuda> {
            fn fit_with(
                &mut self,
                train: &Interactions,
                on_epoch: &mut OnEpoch<'_, Self>,
            ) -> Result<FitReport, NetrexError> {
                self.run(train, false, on_epoch)
            }

            fn resume_with(
                &mut self,
                train: &Interactions,
                on_epoch: &mut OnEpoch<'_, Self>,
            ) -> Result<FitReport, NetrexError> {
                self.run(train, true, on_epoch)
            }
        }
    };
}
pub(crate) use fit_impls;

/// The accessors both model types share (their `representation`, `loss` and `trainer` fields),
/// written once.
macro_rules! model_accessors {
    () => {
        /// The representation.
        pub fn representation(&self) -> &R {
            &self.representation
        }

        /// The representation, mutably (e.g. to set parameters before training).
        pub fn representation_mut(&mut self) -> &mut R {
            &mut self.representation
        }

        /// The loss.
        pub fn loss(&self) -> &L {
            &self.loss
        }

        /// Epochs trained so far, over all calls to `fit`.
        pub fn epochs_trained(&self) -> usize {
            self.trainer.epochs_trained
        }

        /// Mean loss of every epoch trained so far.
        pub fn loss_history(&self) -> &[f32] {
            &self.trainer.loss_history
        }

        /// Where training stands, to save with the model.
        pub(crate) fn run_history(&self) -> crate::engine::files::RunHistory {
            crate::engine::files::RunHistory {
                epochs_trained: self.trainer.epochs_trained,
                run_start: self.trainer.run_start,
                loss_history: self.trainer.loss_history.clone(),
            }
        }

        pub(crate) fn restore_history(&mut self, history: crate::engine::files::RunHistory) {
            self.trainer.restore(
                history.epochs_trained,
                history.run_start,
                history.loss_history,
            );
        }

        /// Epochs trained when the current run of `config.epochs` epochs began.
        pub fn run_start(&self) -> usize {
            self.trainer.run_start
        }

        pub(crate) fn optimizer(&self) -> &crate::optim::RowOptimizer {
            &self.trainer.optimizer
        }

        pub(crate) fn optimizer_mut(&mut self) -> &mut crate::optim::RowOptimizer {
            &mut self.trainer.optimizer
        }
    };
}
pub(crate) use model_accessors;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_pool_per_thread_count_is_built_once() {
        let a = thread_pool(3).unwrap();
        let b = thread_pool(3).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(a.current_num_threads(), 3);
        let c = thread_pool(2).unwrap();
        assert!(!Arc::ptr_eq(&a, &c));
        assert_eq!(in_pool(3, rayon::current_num_threads).unwrap(), 3);
        assert_eq!(in_pool(0, rayon::current_num_threads).unwrap(), 1);
    }
}
