//! The implicit-feedback factorization model: any representation, any loss.

use dfdx::prelude::*;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use netrex_data::Interactions;
use netrex_evaluation::{evaluate, EvalConfig, ItemScorer, Report};
use netrex_losses::{Loss, LossContext};
use netrex_representations::{Bilinear, FactorizationRepresentation, Gathered, SparseGrad};

use crate::config::FactorizationConfig;
use crate::error::NetrexError;
use crate::progress::Progress;
pub use crate::training::FitReport;
use crate::training::{run_epochs, Trainer};

/// A scalar loss that records its gradients.
pub type TracedLoss = Tensor<(), f32, Cpu, OwnedTape<f32, Cpu>>;

/// A factorization model trained on implicit feedback with uniformly sampled negatives.
///
/// Generic over the representation `R` (e.g. [`Bilinear`]) and the loss `L` (any
/// [`Loss`], including one from another crate).
pub struct ImplicitFactorizationModel<R: FactorizationRepresentation, L: Loss> {
    config: FactorizationConfig,
    representation: R,
    loss: L,
    trainer: Trainer,
    device: Cpu,
    all_items: Vec<u32>,
}

impl<L: Loss> ImplicitFactorizationModel<Bilinear, L> {
    /// A bilinear model for `num_users x num_items`, initialised from `config.seed`.
    pub fn bilinear(
        config: FactorizationConfig,
        num_users: usize,
        num_items: usize,
        loss: L,
    ) -> Result<Self, NetrexError> {
        config.validate()?;
        let mut rng = StdRng::seed_from_u64(config.seed);
        let representation = Bilinear::new(num_users, num_items, config.embedding_dim, &mut rng)?;
        Self::with_rng(config, representation, loss, rng)
    }
}

impl<R: FactorizationRepresentation, L: Loss> ImplicitFactorizationModel<R, L> {
    /// A model over an already built representation.
    pub fn new(
        config: FactorizationConfig,
        representation: R,
        loss: L,
    ) -> Result<Self, NetrexError> {
        config.validate()?;
        // a different stream from the one a constructor may have used to initialise
        let rng = StdRng::seed_from_u64(config.seed ^ 0x005E_ED0F_7EA1);
        Self::with_rng(config, representation, loss, rng)
    }

    fn with_rng(
        config: FactorizationConfig,
        representation: R,
        loss: L,
        rng: StdRng,
    ) -> Result<Self, NetrexError> {
        let trainer = Trainer::new(&config, representation.tables(), rng);
        let all_items = (0..representation.num_items() as u32).collect();
        Ok(ImplicitFactorizationModel {
            config,
            representation,
            loss,
            trainer,
            device: Cpu::default(),
            all_items,
        })
    }

    /// Shows a progress bar per epoch on stderr while fitting.
    pub fn with_progress(mut self, show: bool) -> Self {
        self.trainer.progress = show;
        self
    }

    /// The hyperparameters.
    pub fn config(&self) -> &FactorizationConfig {
        &self.config
    }

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

    pub(crate) fn restore_history(&mut self, epochs: usize, history: Vec<f32>) {
        self.trainer.epochs_trained = epochs;
        self.trainer.loss_history = history;
    }

    fn negatives(&self) -> usize {
        self.config
            .negatives
            .unwrap_or_else(|| self.loss.num_negatives())
    }

    fn check_fit(&self, train: &Interactions) -> Result<(), NetrexError> {
        train.ensure_not_empty("the training set")?;
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

    /// Trains for `config.epochs` more epochs on `train` (a second call continues training).
    ///
    /// Each epoch shuffles the interactions, cuts them into minibatches, and pairs every
    /// positive with negatives drawn uniformly from all items. Stops with
    /// [`NetrexError::NonFiniteLoss`] at the first NaN or infinite loss.
    pub fn fit(&mut self, train: &Interactions) -> Result<FitReport, NetrexError> {
        self.check_fit(train)?;
        let config = self.config.clone();
        run_epochs(&config, |i| {
            self.trainer.begin_epoch(&config, i);
            self.epoch(train)
        })
    }

    fn epoch(&mut self, train: &Interactions) -> Result<f32, NetrexError> {
        let epoch = self.trainer.epochs_trained + 1;
        let mut order: Vec<usize> = (0..train.len()).collect();
        order.shuffle(&mut self.trainer.rng);
        let negatives = self.negatives();
        let num_items = self.representation.num_items() as u32;
        let progress = Progress::new(self.trainer.progress, order.len(), epoch);
        let (mut total, mut count) = (0.0f64, 0usize);
        let mut users = Vec::with_capacity(self.config.batch_size);
        let mut positives = Vec::with_capacity(self.config.batch_size);
        let mut negs = Vec::with_capacity(self.config.batch_size * negatives);
        let mut weights = Vec::new();
        for (batch, rows) in order.chunks(self.config.batch_size).enumerate() {
            users.clear();
            positives.clear();
            negs.clear();
            users.extend(rows.iter().map(|&r| train.users()[r]));
            positives.extend(rows.iter().map(|&r| train.items()[r]));
            for _ in 0..rows.len() * negatives {
                negs.push(self.trainer.rng.gen_range(0..num_items));
            }
            let w = train.weights().map(|w| {
                weights.clear();
                weights.extend(rows.iter().map(|&r| w[r]));
                weights.as_slice()
            });
            let value = self.step(&users, &positives, &negs, w)?;
            if !value.is_finite() {
                progress.finish();
                return Err(NetrexError::NonFiniteLoss {
                    epoch,
                    batch: batch + 1,
                    value,
                });
            }
            total += f64::from(value) * rows.len() as f64;
            count += rows.len();
            progress.advance(rows.len(), total / count as f64);
        }
        progress.finish();
        let mean = (total / count.max(1) as f64) as f32;
        self.trainer.end_epoch(mean);
        Ok(mean)
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
    ) -> (TracedLoss, [Gathered<Cpu>; 2]) {
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
        let value = loss.array();
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
        let value = loss.array();
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

    /// Full-ranking evaluation on `test`, with `train` items excluded (see
    /// [`netrex_evaluation::evaluate`]).
    pub fn evaluate(
        &self,
        test: &Interactions,
        train: Option<&Interactions>,
        config: &EvalConfig,
    ) -> Result<Report, NetrexError> {
        let pool = crate::training::thread_pool(self.config.threads)?;
        Ok(pool.install(|| evaluate(self, test, train, config))?)
    }
}

impl<R: FactorizationRepresentation, L: Loss> ItemScorer for ImplicitFactorizationModel<R, L> {
    fn num_users(&self) -> usize {
        self.representation.num_users()
    }

    fn num_items(&self) -> usize {
        self.representation.num_items()
    }

    fn score_items(&self, user: u32, scores: &mut [f32]) {
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
