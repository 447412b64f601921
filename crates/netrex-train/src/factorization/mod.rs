//! The implicit-feedback factorization model: any representation, any loss.

use dfdx::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use netrex_data::Interactions;
use netrex_evaluation::{evaluate, EvalConfig, ItemScorer, Report};
use netrex_losses::{Loss, LossContext};
use rayon::prelude::*;

use netrex_representations::{
    Bilinear, FactorizationRepresentation, Gathered, IndexedBy, Rows, SparseGrad,
};

use crate::engine::resident::{ResidentTables, Touched};
use crate::optim::{RowStore, RowTraining};

use crate::config::{Checked, IntoChecked, ParamGuard, TrainingConfig};
use crate::device::ComputeDevice;
use crate::engine::progress::Progress;
use crate::engine::training::{run_epochs, EpochEnd, FitReport, OnEpoch, Trainer};
use crate::error::NetrexError;

mod batch;
mod epochs;
pub mod file;
pub mod fold_in;
pub(crate) mod fused;
mod gradients;
pub mod hybrid;
mod strata;
pub mod vectors;

use batch::{BatchBuffer, Sampler, PER_EXAMPLE_UNIT};

/// A scalar loss that records its gradients, on device `D`.
pub type TracedLoss<D = Cpu> = Tensor<(), f32, D, OwnedTape<f32, D>>;

/// A factorization model trained on implicit feedback with uniformly sampled negatives.
///
/// Generic over the representation `R` (e.g. [`Bilinear`]), the loss `L` (any [`Loss`],
/// including one from another crate) and the dfdx device `D` ([`Cpu`] unless built with the
/// `cuda` feature and created with [`bilinear_on`](Self::bilinear_on) or
/// [`new_on`](Self::new_on)).
pub struct ImplicitFactorizationModel<
    R: FactorizationRepresentation,
    L: Loss,
    D: ComputeDevice = Cpu,
> {
    pub(crate) config: Checked<TrainingConfig>,
    representation: R,
    loss: L,
    trainer: Trainer,
    device: D,
    all_items: Vec<u32>,
    /// The representation's bilinear CPU kernel and its dimension, checked against its tables
    /// when the model was built.
    kernel: Option<fused::Kernel>,
    /// Whether training keeps the tables on the device (see
    /// [`with_resident_tables`](ImplicitFactorizationModel::with_resident_tables)).
    resident: bool,
    resident_tables: Option<ResidentTables<D>>,
    /// The items negatives are drawn from, if not all (see
    /// [`with_negative_items`](ImplicitFactorizationModel::with_negative_items)).
    negative_pool: Option<std::sync::Arc<Vec<u32>>>,
    /// The strata of per-example SGD on two or more workers (see [`strata`]), made by the
    /// first epoch that needs them and kept while the training data stays the same.
    strata: Option<strata::Strata>,
}

impl<L: Loss> ImplicitFactorizationModel<Bilinear, L> {
    /// A bilinear model for `num_users x num_items` on the CPU, initialised from
    /// `config.seed`.
    pub fn bilinear(
        config: impl IntoChecked<TrainingConfig>,
        num_users: usize,
        num_items: usize,
        loss: L,
    ) -> Result<Self, NetrexError> {
        Self::bilinear_on(crate::device::cpu(), config, num_users, num_items, loss)
    }
}

impl<R: FactorizationRepresentation, L: Loss> ImplicitFactorizationModel<R, L> {
    /// A model over an already built representation, on the CPU.
    pub fn new(
        config: impl IntoChecked<TrainingConfig>,
        representation: R,
        loss: L,
    ) -> Result<Self, NetrexError> {
        Self::new_on(crate::device::cpu(), config, representation, loss)
    }
}

impl<L: Loss, D: ComputeDevice> ImplicitFactorizationModel<Bilinear, L, D> {
    /// A bilinear model on `device` (see [`ComputeDevice::open`]).
    pub fn bilinear_on(
        device: D,
        config: impl IntoChecked<TrainingConfig>,
        num_users: usize,
        num_items: usize,
        loss: L,
    ) -> Result<Self, NetrexError> {
        let config = config.into_checked()?;
        let mut rng = StdRng::seed_from_u64(config.seed);
        let representation = Bilinear::new(num_users, num_items, config.embedding_dim, &mut rng)?;
        Self::with_seed(device, config, representation, loss)
    }
}

impl<R: FactorizationRepresentation, L: Loss, D: ComputeDevice>
    ImplicitFactorizationModel<R, L, D>
{
    /// A model over an already built representation, on `device`.
    pub fn new_on(
        device: D,
        config: impl IntoChecked<TrainingConfig>,
        representation: R,
        loss: L,
    ) -> Result<Self, NetrexError> {
        let config = config.into_checked()?;
        Self::with_seed(device, config, representation, loss)
    }

    fn with_seed(
        device: D,
        config: Checked<TrainingConfig>,
        representation: R,
        loss: L,
    ) -> Result<Self, NetrexError> {
        // the kernel reads tables by position: it is checked here, once, rather than trusted
        // to train garbage or panic mid-epoch
        let kernel = match representation.bilinear_kernel() {
            Some(at) => {
                let maps = representation.feature_maps();
                Some(fused::Kernel {
                    at,
                    dim: at.check_with_maps(representation.tables(), &maps)?,
                    maps,
                })
            }
            None => None,
        };
        // the sampling streams depend on the seed only, so that a model loaded from a
        // checkpoint draws what the original would have (and apart from the initialisation's)
        let trainer = Trainer::new(
            &config,
            representation.tables(),
            config.seed ^ 0x005E_ED0F_7EA1,
        );
        let all_items = (0..representation.num_items() as u32).collect();
        Ok(ImplicitFactorizationModel {
            config,
            representation,
            loss,
            trainer,
            device,
            all_items,
            kernel,
            resident: !D::HOST,
            resident_tables: None,
            negative_pool: None,
            strata: None,
        })
    }

    /// Shows a progress bar per epoch on stderr while fitting.
    pub fn with_progress(mut self, show: bool) -> Self {
        self.trainer.progress = show;
        self
    }

    /// Keeps the tables and (dense) optimizer state on the device for the whole fit, so that
    /// a batch moves only its ids ([`ResidentTables`]). The default on a GPU, where per-batch
    /// copies of rows and gradients dominate; on the CPU the row-wise path is faster, so this
    /// is for comparisons and tests there.
    pub fn with_resident_tables(mut self, resident: bool) -> Self {
        self.resident = resident;
        self
    }

    /// Whether training keeps the tables on the device.
    pub fn uses_resident_tables(&self) -> bool {
        self.resident && !self.uses_fused_kernel()
    }

    /// The hyperparameters.
    pub fn config(&self) -> &TrainingConfig {
        &self.config
    }

    /// Sets how many epochs the next `fit` trains (a run of that many more epochs; what
    /// LightFM's `fit_partial(epochs=n)` does).
    pub fn set_epochs(&mut self, epochs: usize) -> Result<(), NetrexError> {
        let mut config = self.config.clone().into_inner();
        config.epochs = epochs;
        self.config = config.check()?;
        Ok(())
    }

    crate::engine::training::model_accessors!();

    /// Draws training negatives from `items` only (dense ids, each at most once), not from
    /// every item: for a cold-start split, the items with training interactions, so that the
    /// cold items stay unseen in training, as new items are. WARP's rank estimate counts these
    /// items.
    pub fn with_negative_items(mut self, items: Vec<u32>) -> Result<Self, NetrexError> {
        if items.is_empty() {
            return Err(NetrexError::config(
                "negative items",
                "negatives need at least one item to be drawn from",
            ));
        }
        self.check_items(&items)?;
        let mut seen = vec![false; self.representation.num_items()];
        if let Some(&twice) = items
            .iter()
            .find(|&&i| std::mem::replace(&mut seen[i as usize], true))
        {
            return Err(NetrexError::config(
                "negative items",
                format!("item {twice} is listed twice"),
            ));
        }
        self.negative_pool = Some(std::sync::Arc::new(items));
        // the strata's negatives come from the pool
        self.strata = None;
        Ok(self)
    }

    /// How many items negatives are drawn from.
    fn sampled_items(&self) -> usize {
        self.negative_pool
            .as_ref()
            .map_or(self.representation.num_items(), |p| p.len())
    }

    fn negatives(&self) -> usize {
        self.config
            .negatives
            .unwrap_or_else(|| self.loss.num_negatives())
    }

    fn check_fit(&self, train: &Interactions) -> Result<(), NetrexError> {
        train.ensure_not_empty("the training set")?;
        if u32::try_from(train.len()).is_err() {
            return Err(NetrexError::Training(format!(
                "{} interactions are more than one fit takes (2^32 - 1): split the data",
                train.len()
            )));
        }
        if train.num_users() > self.representation.num_users()
            || train.num_items() != self.representation.num_items()
        {
            return Err(NetrexError::Training(format!(
                "the data is {} users x {} items but the model is {} x {}",
                train.num_users(),
                train.num_items(),
                self.representation.num_users(),
                self.representation.num_items()
            )));
        }
        crate::engine::training::check_negatives(
            &self.loss.name(),
            self.negatives(),
            self.representation.num_items(),
        )?;
        Ok(())
    }

    /// The training loop of `fit` (a new run of `config.epochs` epochs) or of a resumed run,
    /// on the calling thread.
    fn run(
        &mut self,
        train: &Interactions,
        resume: bool,
        on_epoch: &mut OnEpoch<'_, Self>,
    ) -> Result<FitReport, NetrexError> {
        self.check_fit(train)?;
        if !resume {
            self.trainer.run_start = self.trainer.epochs_trained;
        }
        let config = self.config.clone();
        let epochs = self.trainer.epochs_left(&config);
        // strata are kept from run to run while the data is the same (a loop of one-epoch
        // fits cuts them once); a run over other data, or without them, drops them
        let stratified = self.uses_per_example_sgd() && rayon::current_num_threads() > 1;
        let data = stratified.then(|| strata::fingerprint(train));
        if self.strata.as_ref().map(strata::Strata::cut_from) != data {
            self.strata = None;
        }
        run_epochs(epochs, || {
            self.trainer.begin_epoch(&config);
            let loss = self.epoch(train)?;
            on_epoch(self, &EpochEnd::of(&self.trainer, &config, loss))?;
            Ok(loss)
        })
    }

    /// Whether training takes the fused kernel: the CPU, a bilinear layout and `config.fused`.
    /// A built-in loss then runs by hand; a custom loss through dfdx's tape over the batch's
    /// scores alone (the representation's part stays hand-written).
    pub fn uses_fused_kernel(&self) -> bool {
        D::HOST && self.config.fused && self.kernel.is_some()
    }

    /// Whether the fused kernel trains one positive at a time with updates written straight
    /// into the tables: SGD with a batch size of 1 and a built-in loss (LightFM's and
    /// implicit's way). Negatives are then drawn per unit of 1024 positives.
    pub fn uses_per_example_sgd(&self) -> bool {
        self.uses_fused_kernel()
            && self.kernel.as_ref().is_some_and(fused::Kernel::plain)
            && self.config.batch_size == 1
            && self.config.optimizer == crate::optim::OptimizerKind::Sgd
            && self.loss.example_gradient().is_some()
    }

    fn epoch(&mut self, train: &Interactions) -> Result<f32, NetrexError> {
        let epoch = self.trainer.epochs_trained + 1;
        let mut rng = self.trainer.epoch_rng();
        let workers = rayon::current_num_threads();
        let stratified = self.uses_per_example_sgd() && workers > 1;
        if stratified && self.strata.as_ref().is_none_or(|s| s.workers() != workers) {
            let pool = self.negative_pool.as_deref().map(Vec::as_slice);
            let num_items = self.representation.num_items();
            // the blocks from the seed alone: every epoch of every run cuts the same cells
            let mut blocks = self.trainer.strata_rng();
            self.strata = strata::Strata::new(train, num_items, workers, pool, &mut blocks);
        }
        if let Some(mut strata) = self.strata.take().filter(|_| stratified) {
            strata.reseed(rng.gen());
            let progress = Progress::new(self.trainer.progress, strata.len(), epoch);
            let outcome = self.strata_epoch(&mut strata, &progress);
            progress.finish();
            self.strata = Some(strata);
            return self.end_epoch(outcome, epoch);
        }
        // the largest buffer of an epoch over a big set: 8 bytes an example (12 with weights)
        let order = batch::Shuffled::new(train, &mut rng);
        let sampler = Sampler {
            seed: rng.gen(),
            negatives: self.negatives(),
            num_items: self.representation.num_items() as u32,
            pool: self.negative_pool.clone(),
        };
        // one positive at a time still samples and splits work in units of many positives
        let unit = if self.uses_per_example_sgd() {
            PER_EXAMPLE_UNIT
        } else {
            self.config.batch_size
        };
        let batches = order.batches(unit);
        let progress = Progress::new(self.trainer.progress, order.len(), epoch);
        let hot_items = if self.uses_per_example_sgd() && self.config.threads > 1 {
            fused::hot_items::hot_item_ids(
                train.items(),
                self.representation.num_items(),
                self.kernel.as_ref().map_or(1, |k| k.dim),
            )
        } else {
            Vec::new()
        };
        let plan = batch::EpochPlan {
            batches: &batches,
            sampler: &sampler,
            progress: &progress,
            hot_items: &hot_items,
        };
        let outcome = if self.uses_fused_kernel() {
            self.fused_epoch(&plan)
        } else if self.uses_resident_tables() {
            self.resident_epoch(&plan)
        } else {
            self.generic_epoch(&plan)
        };
        progress.finish();
        self.end_epoch(outcome, epoch)
    }

    /// The epoch's mean loss, or the error of its first non-finite loss.
    fn end_epoch(
        &mut self,
        outcome: Result<batch::Outcome, NetrexError>,
        epoch: usize,
    ) -> Result<f32, NetrexError> {
        let (total, count) = outcome?.into_result(epoch)?;
        let mean = (total / count.max(1) as f64) as f32;
        self.trainer.end_epoch(mean);
        Ok(mean)
    }

    fn check_user(&self, user: u32) -> Result<(), NetrexError> {
        if (user as usize) < self.representation.num_users() {
            Ok(())
        } else {
            Err(NetrexError::UnknownId {
                kind: "user",
                id: user.to_string(),
                count: self.representation.num_users(),
            })
        }
    }

    /// An error naming the first of `items` beyond the model's items.
    fn check_items(&self, items: &[u32]) -> Result<(), NetrexError> {
        let count = self.representation.num_items();
        match items.iter().find(|&&i| i as usize >= count) {
            Some(&i) => Err(NetrexError::UnknownId {
                kind: "item",
                id: i.to_string(),
                count,
            }),
            None => Ok(()),
        }
    }

    /// Scores of `items` for `user` (dense ids).
    pub fn predict(&self, user: u32, items: &[u32]) -> Result<Vec<f32>, NetrexError> {
        self.check_user(user)?;
        self.check_items(items)?;
        if items.is_empty() {
            return Ok(Vec::new());
        }
        if self.kernel.is_some() && items == self.all_items.as_slice() {
            let mut scores = vec![0.0; items.len()];
            self.score_items(user, &mut scores);
            return Ok(scores);
        }
        let rows = Gathered::new(&self.device, self.representation.tables(), &[user], items);
        Ok(self.representation.forward(rows.untraced()).as_vec())
    }

    /// The `k` best items for `user` (dense ids, best first, ties by id), leaving out
    /// `exclude` (e.g. the items the user has already seen).
    pub fn recommend(
        &self,
        user: u32,
        k: usize,
        exclude: &[u32],
    ) -> Result<Vec<(u32, f32)>, NetrexError> {
        let scores = self.predict(user, &self.all_items)?;
        Ok(crate::engine::training::top_k(scores, exclude, k))
    }
}

crate::engine::training::fit_impls!(
    ImplicitFactorizationModel,
    FactorizationRepresentation,
    config.threads
);

impl<R: FactorizationRepresentation, L: Loss> ImplicitFactorizationModel<R, L> {
    /// Full-ranking evaluation on `test`, with `train` items excluded (see
    /// [`netrex_evaluation::evaluate`]).
    pub fn evaluate(
        &self,
        test: &Interactions,
        train: Option<&Interactions>,
        config: &EvalConfig,
    ) -> Result<Report, NetrexError> {
        Ok(crate::engine::training::in_pool(
            self.config.threads,
            || evaluate(self, test, train, config),
        )??)
    }
}

#[cfg(feature = "cuda")]
impl<R: FactorizationRepresentation, L: Loss> ImplicitFactorizationModel<R, L, Cuda> {
    /// Full-ranking evaluation on `test` (scored on the CPU, see
    /// [`to_cpu`](Self::to_cpu)).
    pub fn evaluate(
        &self,
        test: &Interactions,
        train: Option<&Interactions>,
        config: &EvalConfig,
    ) -> Result<Report, NetrexError>
    where
        R: Clone,
        L: Clone,
    {
        self.to_cpu()?.evaluate(test, train, config)
    }
}

impl<R: FactorizationRepresentation, L: Loss, D: ComputeDevice> ItemScorer
    for ImplicitFactorizationModel<R, L, D>
{
    fn num_users(&self) -> usize {
        self.representation.num_users()
    }

    fn num_items(&self) -> usize {
        self.representation.num_items()
    }

    fn score_items(&self, user: u32, scores: &mut [f32]) {
        if let Some(kernel) = &self.kernel {
            return kernel.scores(self.representation.tables(), user, scores);
        }
        let rows = Gathered::new(
            &self.device,
            self.representation.tables(),
            &[user],
            &self.all_items,
        );
        self.representation
            .forward(rows.untraced())
            .copy_into(scores);
    }
}
