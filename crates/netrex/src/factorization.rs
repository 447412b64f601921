//! The implicit-feedback factorization model: any representation, any loss.

use dfdx::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use netrex_data::Interactions;
use netrex_evaluation::{evaluate, EvalConfig, ItemScorer, Report};
use netrex_losses::{Loss, LossContext};
use rayon::prelude::*;

use netrex_representations::{
    Bilinear, FactorizationRepresentation, Gathered, IndexedBy, ResidentTables, RowStore,
    RowTraining, Rows, SparseGrad, Touched,
};

use crate::config::FactorizationConfig;
use crate::device::ComputeDevice;
use crate::error::NetrexError;
use crate::fused;
use crate::progress::Progress;
pub use crate::training::FitReport;
use crate::training::{run_epochs, EpochEnd, OnEpoch, Trainer};

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
    config: FactorizationConfig,
    representation: R,
    loss: L,
    trainer: Trainer,
    device: D,
    all_items: Vec<u32>,
    /// Whether training keeps the tables on the device (see
    /// [`with_resident_tables`](ImplicitFactorizationModel::with_resident_tables)).
    resident: bool,
    resident_tables: Option<ResidentTables<D>>,
}

impl<L: Loss> ImplicitFactorizationModel<Bilinear, L> {
    /// A bilinear model for `num_users x num_items` on the CPU, initialised from
    /// `config.seed`.
    pub fn bilinear(
        config: FactorizationConfig,
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
        config: FactorizationConfig,
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
        config: FactorizationConfig,
        num_users: usize,
        num_items: usize,
        loss: L,
    ) -> Result<Self, NetrexError> {
        config.validate()?;
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
        config: FactorizationConfig,
        representation: R,
        loss: L,
    ) -> Result<Self, NetrexError> {
        config.validate()?;
        Self::with_seed(device, config, representation, loss)
    }

    fn with_seed(
        device: D,
        config: FactorizationConfig,
        representation: R,
        loss: L,
    ) -> Result<Self, NetrexError> {
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
            resident: D::NAME != "cpu",
            resident_tables: None,
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
    pub fn config(&self) -> &FactorizationConfig {
        &self.config
    }

    crate::training::model_accessors!();

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
        crate::training::check_negatives(
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
        D::NAME == "cpu" && self.config.fused && self.representation.bilinear_layout()
    }

    /// Whether the fused kernel trains one positive at a time with updates written straight
    /// into the tables: SGD with a batch size of 1 and a built-in loss (LightFM's and
    /// implicit's way). Negatives are then drawn per unit of 1024 positives.
    pub fn uses_per_example_sgd(&self) -> bool {
        self.uses_fused_kernel()
            && self.config.batch_size == 1
            && self.config.optimizer == netrex_representations::OptimizerKind::Sgd
            && self.loss.example_gradient().is_some()
    }

    fn epoch(&mut self, train: &Interactions) -> Result<f32, NetrexError> {
        let epoch = self.trainer.epochs_trained + 1;
        // u32 rows: the shuffled order is the largest buffer of an epoch over a big set
        let mut order: Vec<u32> = (0..train.len() as u32).collect();
        let mut rng = self.trainer.epoch_rng();
        order.shuffle(&mut rng);
        let sampler = Sampler {
            seed: rng.gen(),
            negatives: self.negatives(),
            num_items: self.representation.num_items() as u32,
        };
        // one positive at a time still samples and splits work in units of many positives
        let unit = if self.uses_per_example_sgd() {
            PER_EXAMPLE_UNIT
        } else {
            self.config.batch_size
        };
        let batches: Vec<&[u32]> = order.chunks(unit).collect();
        let progress = Progress::new(self.trainer.progress, order.len(), epoch);
        let outcome = if self.uses_fused_kernel() {
            self.fused_epoch(train, &batches, &sampler, &progress)
        } else if self.uses_resident_tables() {
            self.resident_epoch(train, &batches, &sampler, &progress)
        } else {
            self.generic_epoch(train, &batches, &sampler, &progress)
        };
        progress.finish();
        let (total, count) = outcome?.into_result(epoch)?;
        let mean = (total / count.max(1) as f64) as f32;
        self.trainer.end_epoch(mean);
        Ok(mean)
    }

    /// Batches one after the other through dfdx.
    fn generic_epoch(
        &mut self,
        train: &Interactions,
        batches: &[&[u32]],
        sampler: &Sampler,
        progress: &Progress,
    ) -> Result<Outcome, NetrexError> {
        let mut buffer = BatchBuffer::default();
        let mut outcome = Outcome::default();
        for (b, rows) in batches.iter().enumerate() {
            buffer.fill(train, rows, sampler, b);
            let batch = buffer.batch();
            let value = self.step(batch.users, batch.positives, batch.negatives, batch.weights)?;
            if !outcome.add(b, value, rows.len()) {
                break;
            }
            progress.advance(rows.len(), outcome.mean());
        }
        Ok(outcome)
    }

    /// Batches one after the other on the device, with the tables resident there.
    fn resident_epoch(
        &mut self,
        train: &Interactions,
        batches: &[&[u32]],
        sampler: &Sampler,
        progress: &Progress,
    ) -> Result<Outcome, NetrexError> {
        let device_error = |e: D::Err| NetrexError::Device(format!("{e:?}"));
        let optimizer = *self.trainer.optimizer.config();
        let tables = self.representation.tables();
        let resident = match self.resident_tables.take() {
            Some(mut r) => {
                r.refresh(tables);
                r.set_learning_rate(optimizer.learning_rate);
                r
            }
            None => ResidentTables::upload(&self.device, tables, optimizer),
        };
        let resident = self.resident_tables.insert(resident);
        let context = LossContext {
            num_items: self.representation.num_items(),
        };
        let mut buffer = BatchBuffer::default();
        let mut outcome = Outcome::default();
        for (b, rows) in batches.iter().enumerate() {
            buffer.fill(train, rows, sampler, b);
            let batch = rows.len();
            let n = buffer.negatives.len() / batch;
            let ids = |v: &[u32]| v.iter().map(|&i| i as usize).collect::<Vec<usize>>();
            let users = self.device.tensor_from_vec(ids(&buffer.users), (batch,));
            let positives = self
                .device
                .tensor_from_vec(ids(&buffer.positives), (batch, 1));
            let negatives = self
                .device
                .tensor_from_vec(ids(&buffer.negatives), (batch, n));
            let rows_for = |items: &Tensor<(usize, usize), usize, D>| {
                let mut out = Rows {
                    user: Vec::new(),
                    item: Vec::new(),
                    whole: Vec::new(),
                };
                for (k, t) in tables.iter().enumerate() {
                    match t.indexed_by() {
                        IndexedBy::User => out.user.push(resident.traced(k).gather(users.clone())),
                        IndexedBy::Item => out.item.push(resident.traced(k).gather(items.clone())),
                        IndexedBy::Whole => out.whole.push(resident.traced(k)),
                    }
                }
                out
            };
            // (B, 1) -> (B,)
            let pos = self
                .representation
                .forward(rows_for(&positives))
                .sum::<(usize,), Axis<1>>();
            // (B, N)
            let neg = self.representation.forward(rows_for(&negatives));
            let weights = buffer
                .weights
                .as_ref()
                .map(|w| self.device.tensor_from_vec(w.clone(), (batch,)));
            let loss = self.loss.loss(pos, neg, None, weights.as_ref(), &context);
            let value = loss.as_vec()[0];
            if !outcome.add(b, value, batch) {
                break;
            }
            let mut grads = loss.backward();
            let items: Vec<u32> = buffer
                .positives
                .iter()
                .chain(&buffer.negatives)
                .copied()
                .collect();
            let touched: Vec<Touched<'_>> = tables
                .iter()
                .map(|t| match t.indexed_by() {
                    IndexedBy::User => Touched::Rows(&buffer.users),
                    IndexedBy::Item => Touched::Rows(&items),
                    IndexedBy::Whole => Touched::All,
                })
                .collect();
            resident.step(&mut grads, &touched).map_err(device_error)?;
            progress.advance(batch, outcome.mean());
        }
        resident.download(self.representation.tables_mut());
        Ok(outcome)
    }

    /// Hogwild: each worker of the pool trains every `workers`-th batch with the fused kernel
    /// and applies its own updates to the shared tables. Negatives depend on the batch, not
    /// on the worker, so one worker gives the same result as a sequential loop.
    fn fused_epoch(
        &mut self,
        train: &Interactions,
        batches: &[&[u32]],
        sampler: &Sampler,
        progress: &Progress,
    ) -> Result<Outcome, NetrexError> {
        let loss = &self.loss;
        let context = LossContext {
            num_items: self.representation.num_items(),
        };
        let dim = self.representation.tables()[0].cols();
        let workers = rayon::current_num_threads().clamp(1, batches.len().max(1));
        let per_example = self.uses_per_example_sgd().then(|| {
            let c = self.trainer.optimizer.config();
            (c.learning_rate, c.l2)
        });
        let tables = self.representation.tables_mut();
        let work = FusedWork {
            per_example,
            train,
            batches,
            sampler,
            progress,
            loss,
            context,
            dim,
            workers,
            stop: AtomicBool::new(false),
        };
        if workers == 1 {
            let training = self.trainer.optimizer.exclusive(tables);
            return Ok(work.run(&training, 0));
        }
        let training = self.trainer.optimizer.share(tables);
        let outcomes: Vec<Outcome> = (0..workers)
            .into_par_iter()
            .map(|worker| work.run(&training, worker))
            .collect();
        Ok(outcomes
            .into_iter()
            .fold(Outcome::default(), Outcome::merge))
    }

    /// Row gradients of a batch's loss through the fused kernel, or `None` when this model
    /// trains through dfdx (see [`uses_fused_kernel`](Self::uses_fused_kernel)). Same inputs
    /// and outputs as [`batch_gradients`](Self::batch_gradients), for checking one against the
    /// other.
    pub fn fused_batch_gradients(
        &self,
        users: &[u32],
        positives: &[u32],
        negatives: &[u32],
        weights: Option<&[f32]>,
    ) -> Option<(f32, Vec<SparseGrad>)> {
        if !self.representation.bilinear_layout() {
            return None;
        }
        let tables = self.representation.tables();
        let mut grads: Vec<SparseGrad> = tables.iter().map(SparseGrad::for_table).collect();
        let context = LossContext {
            num_items: self.representation.num_items(),
        };
        let batch = fused::Batch {
            users,
            positives,
            negatives,
            weights,
        };
        let (dim, scratch) = (tables[0].cols(), &mut fused::Scratch::default());
        let value = fused::bilinear_any(
            tables, dim, &self.loss, &context, &batch, &mut grads, scratch,
        );
        Some((value, grads))
    }

    /// The loss of one batch, as a traced dfdx scalar, and the gathered rows it came from.
    ///
    /// Shapes: `users` (B), `positives` (B), `negatives` (B x N, row-major), `weights` (B).
    pub fn batch_loss(
        &self,
        users: &[u32],
        positives: &[u32],
        negatives: &[u32],
        weights: Option<&[f32]>,
    ) -> (TracedLoss<D>, [Gathered<D>; 2]) {
        let tables = self.representation.tables();
        let pos_rows = Gathered::new(&self.device, tables, users, positives);
        let neg_rows = Gathered::new(&self.device, tables, users, negatives);
        // (B, 1) -> (B,)
        let pos = self
            .representation
            .forward(pos_rows.traced())
            .sum::<(usize,), Axis<1>>();
        // (B, N)
        let neg = self.representation.forward(neg_rows.traced());
        let weights = weights.map(|w| self.device.tensor_from_vec(w.to_vec(), (w.len(),)));
        let context = LossContext {
            num_items: self.representation.num_items(),
        };
        let loss = self.loss.loss(pos, neg, None, weights.as_ref(), &context);
        (loss, [pos_rows, neg_rows])
    }

    /// Row gradients of a batch's loss for every table (for gradient checks and custom loops).
    pub fn batch_gradients(
        &self,
        users: &[u32],
        positives: &[u32],
        negatives: &[u32],
        weights: Option<&[f32]>,
    ) -> Result<(f32, Vec<SparseGrad>), NetrexError> {
        let (loss, gathered) = self.batch_loss(users, positives, negatives, weights);
        let value = loss.as_vec()[0];
        let mut grads = loss.backward();
        let mut out: Vec<SparseGrad> = self
            .representation
            .tables()
            .iter()
            .map(SparseGrad::for_table)
            .collect();
        for g in &gathered {
            g.accumulate(&mut grads, &mut out)
                .map_err(|e| NetrexError::Device(format!("{e:?}")))?;
        }
        Ok((value, out))
    }

    fn step(
        &mut self,
        users: &[u32],
        positives: &[u32],
        negatives: &[u32],
        weights: Option<&[f32]>,
    ) -> Result<f32, NetrexError> {
        let (loss, gathered) = self.batch_loss(users, positives, negatives, weights);
        let value = loss.as_vec()[0];
        if !value.is_finite() {
            return Ok(value);
        }
        let mut grads = loss.backward();
        for g in &gathered {
            g.accumulate(&mut grads, &mut self.trainer.grads)
                .map_err(|e| NetrexError::Device(format!("{e:?}")))?;
        }
        self.trainer
            .optimizer
            .step(self.representation.tables_mut(), &mut self.trainer.grads);
        Ok(value)
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

    /// Scores of `items` for `user` (dense ids).
    pub fn predict(&self, user: u32, items: &[u32]) -> Result<Vec<f32>, NetrexError> {
        self.check_user(user)?;
        if let Some(&i) = items
            .iter()
            .find(|&&i| i as usize >= self.representation.num_items())
        {
            return Err(NetrexError::UnknownId {
                kind: "item",
                id: i.to_string(),
                count: self.representation.num_items(),
            });
        }
        if items.is_empty() {
            return Ok(Vec::new());
        }
        if self.representation.bilinear_layout() && items == self.all_items.as_slice() {
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
        Ok(crate::training::top_k(scores, exclude, k))
    }

    /// A copy of the model on the CPU (representation, loss, configuration and history; not
    /// the optimizer state): for scoring a model trained on another device.
    pub fn to_cpu(&self) -> Result<ImplicitFactorizationModel<R, L>, NetrexError>
    where
        R: Clone,
        L: Clone,
    {
        let mut model = ImplicitFactorizationModel::new(
            self.config.clone(),
            self.representation.clone(),
            self.loss.clone(),
        )?;
        model.restore_history(
            self.trainer.epochs_trained,
            self.trainer.run_start,
            self.trainer.loss_history.clone(),
        );
        Ok(model)
    }
}

impl<R: FactorizationRepresentation, L: Loss> ImplicitFactorizationModel<R, L> {
    /// Trains for `config.epochs` more epochs on `train` (a second call continues training),
    /// in a pool of `config.threads` workers.
    ///
    /// Each epoch shuffles the interactions, cuts them into minibatches, and pairs every
    /// positive with negatives drawn uniformly from all items. Stops with
    /// [`NetrexError::NonFiniteLoss`] at the first NaN or infinite loss.
    pub fn fit(&mut self, train: &Interactions) -> Result<FitReport, NetrexError> {
        self.fit_with(train, &mut |_, _| Ok(()))
    }

    /// [`fit`](Self::fit), calling `on_epoch` after every epoch (to evaluate, checkpoint or
    /// log); an error from it stops training.
    pub fn fit_with(
        &mut self,
        train: &Interactions,
        on_epoch: &mut OnEpoch<'_, Self>,
    ) -> Result<FitReport, NetrexError> {
        crate::training::in_pool(self.config.threads, || self.run(train, false, on_epoch))
    }

    /// Continues the run a checkpoint was taken in (see
    /// [`load_checkpoint`](Self::load_checkpoint)) up to its `config.epochs`, with the same
    /// learning-rate schedule and sampling as the uninterrupted run.
    pub fn resume_with(
        &mut self,
        train: &Interactions,
        on_epoch: &mut OnEpoch<'_, Self>,
    ) -> Result<FitReport, NetrexError> {
        crate::training::in_pool(self.config.threads, || self.run(train, true, on_epoch))
    }

    /// Full-ranking evaluation on `test`, with `train` items excluded (see
    /// [`netrex_evaluation::evaluate`]).
    pub fn evaluate(
        &self,
        test: &Interactions,
        train: Option<&Interactions>,
        config: &EvalConfig,
    ) -> Result<Report, NetrexError> {
        crate::training::in_pool(self.config.threads, || {
            Ok(evaluate(self, test, train, config)?)
        })
    }
}

#[cfg(feature = "cuda")]
impl<R: FactorizationRepresentation, L: Loss> ImplicitFactorizationModel<R, L, Cuda> {
    /// Trains for `config.epochs` more epochs on `train` on the GPU (see the CPU model's
    /// `fit`; dfdx's CUDA device is used from the calling thread only).
    pub fn fit(&mut self, train: &Interactions) -> Result<FitReport, NetrexError> {
        self.run(train, false, &mut |_, _| Ok(()))
    }

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
        if self.representation.bilinear_layout() {
            return fused::bilinear_scores(self.representation.tables(), user, scores);
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

/// What every Hogwild worker of a fused epoch shares.
struct FusedWork<'a, L> {
    train: &'a Interactions,
    batches: &'a [&'a [u32]],
    sampler: &'a Sampler,
    progress: &'a Progress,
    loss: &'a L,
    /// `(learning rate, l2)` of per-example SGD, which then trains each unit's positives one
    /// at a time.
    per_example: Option<(f32, f32)>,
    context: LossContext,
    dim: usize,
    workers: usize,
    stop: AtomicBool,
}

impl<L: Loss> FusedWork<'_, L> {
    /// Trains batches `worker`, `worker + workers`, ... and applies each one's updates.
    fn run<S: RowStore>(&self, training: &RowTraining<'_, S>, worker: usize) -> Outcome {
        let tables = training.tables();
        let mut grads: Vec<SparseGrad> = tables
            .iter()
            .map(|t| SparseGrad::new(t.weights.rows(), t.weights.cols()))
            .collect();
        let mut buffer = BatchBuffer::default();
        let mut scratch = fused::Scratch::default();
        let mut outcome = Outcome::default();
        for b in (worker..self.batches.len()).step_by(self.workers) {
            if self.stop.load(Ordering::Relaxed) {
                break;
            }
            let rows = self.batches[b];
            buffer.fill(self.train, rows, self.sampler, b);
            if let (Some(rule), Some(example)) = (self.per_example, self.loss.example_gradient()) {
                let result = fused::sgd_examples(
                    tables,
                    self.dim,
                    example,
                    &self.context,
                    &buffer.batch(),
                    rule,
                    &mut scratch,
                );
                // every positive is a batch of its own
                let ok = match result {
                    Ok(total) => outcome.add(b, (total / rows.len() as f64) as f32, rows.len()),
                    Err((i, value)) => outcome.add(b * PER_EXAMPLE_UNIT + i, value, 1),
                };
                if !ok {
                    self.stop.store(true, Ordering::Relaxed);
                    break;
                }
                self.progress.advance(rows.len(), outcome.mean());
                continue;
            }
            let value = fused::bilinear_any(
                tables,
                self.dim,
                self.loss,
                &self.context,
                &buffer.batch(),
                &mut grads,
                &mut scratch,
            );
            if !outcome.add(b, value, rows.len()) {
                self.stop.store(true, Ordering::Relaxed);
                break;
            }
            training.step(&mut grads);
            self.progress.advance(rows.len(), outcome.mean());
        }
        outcome
    }
}

/// Positives per unit of sampling and work when training one positive at a time.
const PER_EXAMPLE_UNIT: usize = 1024;

/// Uniform negatives for each batch from a stream of its own, so that which worker trains a
/// batch does not change its negatives.
struct Sampler {
    seed: u64,
    negatives: usize,
    num_items: u32,
}

impl Sampler {
    fn rng(&self, batch: usize) -> StdRng {
        StdRng::seed_from_u64(
            self.seed
                .wrapping_add((batch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)),
        )
    }
}

/// A batch's ids, negatives and weights, refilled in place.
#[derive(Default)]
struct BatchBuffer {
    users: Vec<u32>,
    positives: Vec<u32>,
    negatives: Vec<u32>,
    weights: Option<Vec<f32>>,
}

impl BatchBuffer {
    fn fill(&mut self, train: &Interactions, rows: &[u32], sampler: &Sampler, batch: usize) {
        self.users.clear();
        self.positives.clear();
        self.negatives.clear();
        self.users
            .extend(rows.iter().map(|&r| train.users()[r as usize]));
        self.positives
            .extend(rows.iter().map(|&r| train.items()[r as usize]));
        let mut rng = sampler.rng(batch);
        self.negatives.extend(
            (0..rows.len() * sampler.negatives).map(|_| rng.gen_range(0..sampler.num_items)),
        );
        self.weights = train.weights().map(|w| {
            let mut weights = self.weights.take().unwrap_or_default();
            weights.clear();
            weights.extend(rows.iter().map(|&r| w[r as usize]));
            weights
        });
    }

    fn batch(&self) -> fused::Batch<'_> {
        fused::Batch {
            users: &self.users,
            positives: &self.positives,
            negatives: &self.negatives,
            weights: self.weights.as_deref(),
        }
    }
}

/// What a run of batches added up to, and the first batch (0-based) whose loss was not finite.
#[derive(Default)]
struct Outcome {
    total: f64,
    count: usize,
    non_finite: Option<(usize, f32)>,
}

impl Outcome {
    /// Records a batch of `rows` positives; `false` if its loss is not finite.
    fn add(&mut self, batch: usize, value: f32, rows: usize) -> bool {
        if !value.is_finite() {
            self.non_finite = Some((batch, value));
            return false;
        }
        self.total += f64::from(value) * rows as f64;
        self.count += rows;
        true
    }

    fn mean(&self) -> f64 {
        self.total / self.count.max(1) as f64
    }

    fn merge(self, other: Outcome) -> Outcome {
        let non_finite = match (self.non_finite, other.non_finite) {
            (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
            (a, b) => a.or(b),
        };
        Outcome {
            total: self.total + other.total,
            count: self.count + other.count,
            non_finite,
        }
    }

    fn into_result(self, epoch: usize) -> Result<(f64, usize), NetrexError> {
        match self.non_finite {
            Some((batch, value)) => Err(NetrexError::NonFiniteLoss {
                epoch,
                batch: batch + 1,
                value,
            }),
            None => Ok((self.total, self.count)),
        }
    }
}

impl<R: FactorizationRepresentation, L: Loss> crate::Fit for ImplicitFactorizationModel<R, L> {
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
impl<R: FactorizationRepresentation, L: Loss> crate::Fit
    for ImplicitFactorizationModel<R, L, Cuda>
{
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
