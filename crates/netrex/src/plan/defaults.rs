//! What a plan means where it leaves a choice open: the defaults that depend on the model
//! kind, the protocol and the data, each decided here once. [`RunPlan::resolve`] writes them
//! all into the plan, so that a resolved plan says everything and reads back the same.

use netrex_losses::BuiltinLoss;
use netrex_representations::{CnnSpec, FrequencySpec, PoolingSpec, SasrecSpec, SequenceSpec};
use netrex_train::{
    EarlyStopping, LearningRateSchedule, NegativeSampling, SequenceConfig, SideFeatures,
    TrainingConfig,
};

use super::{
    DeviceName, FeatureWeighting, IdSides, LossName, ModelName, PlanError, RunPlan, SamplingName,
    ScheduleName, SplitName,
};

impl RunPlan {
    /// The split: as given, else the data's usual one.
    pub fn split_method(&self) -> SplitName {
        if let Some(split) = self.split.method {
            return split;
        }
        let d = &self.data;
        let dataset = d.dataset;
        if d.test_csv.is_some() {
            SplitName::TestFile
        } else if d.sequences.is_some() || dataset.is_some_and(|d| d.amazon().is_some()) {
            SplitName::LeaveOneOut
        } else if self.model.kind.is_sequence() || dataset.is_some_and(|d| d.is_synthetic()) {
            SplitName::User
        } else if dataset.is_some_and(|d| d.movielens() == Some(netrex_data::MovieLens::Ml100k)) {
            SplitName::Ua
        } else {
            SplitName::Random
        }
    }

    /// The model a run trains when neither flags nor a config file name one: on next-item
    /// data (the Amazon sets, sequence files, `--split leave-one-out`) the strongest sequence
    /// model measured there (BSARec, docs/results.md); otherwise factorization.
    pub fn default_kind(&self) -> ModelName {
        let mut probe = self.clone();
        probe.model.kind = ModelName::Bsarec;
        if probe.split_method() == SplitName::LeaveOneOut {
            ModelName::Bsarec
        } else {
            ModelName::Factorization
        }
    }

    /// The loss: as given, else the model kind's and protocol's.
    pub fn loss_name(&self) -> LossName {
        self.training.loss.unwrap_or(if self.is_next_item() {
            LossName::SampledSoftmax
        } else if self.model.kind.is_sequence() {
            LossName::AdaptiveHinge
        } else {
            LossName::Warp
        })
    }

    /// The loss with the options that tune it.
    pub fn loss(&self) -> Result<BuiltinLoss, PlanError> {
        let name = self.loss_name().name();
        let mut loss = BuiltinLoss::from_name(&name, self.training.negatives)
            .ok_or_else(|| PlanError::invalid("training.loss", format!("unknown loss {name}")))?;
        if let BuiltinLoss::Gbce(gbce) = &mut loss {
            gbce.t = self.training.gbce_t;
        }
        Ok(loss)
    }

    /// The settings of the model kind and protocol that flags and config files may override.
    fn kind_defaults(&self) -> TrainingConfig {
        if self.is_next_item() {
            TrainingConfig {
                embedding_dim: 64,
                batch_size: 128,
                learning_rate: 1e-3,
                ..TrainingConfig::default()
            }
        } else if self.model.kind.is_sequence() {
            TrainingConfig {
                embedding_dim: 32,
                batch_size: 32,
                learning_rate: 0.01,
                ..TrainingConfig::default()
            }
        } else {
            TrainingConfig::tuned_for(&self.loss_name().name())
        }
    }

    /// The training settings, not yet checked (each model kind checks its whole configuration).
    pub fn training_config(&self) -> TrainingConfig {
        let t = &self.training;
        let defaults = self.kind_defaults();
        TrainingConfig {
            embedding_dim: t.dim.unwrap_or(defaults.embedding_dim),
            batch_size: t.batch_size.unwrap_or(defaults.batch_size),
            // one round of early stopping is one fit of `eval_every` epochs
            epochs: match self.is_next_item() {
                true => self.eval_every().unwrap_or(1),
                false => t.epochs,
            },
            learning_rate: t.learning_rate.unwrap_or(defaults.learning_rate),
            lr_schedule: t
                .lr_schedule
                .map_or(defaults.lr_schedule, LearningRateSchedule::from),
            l2: self.l2(),
            optimizer: t.optimizer.into(),
            negatives: t.negatives.or(defaults.negatives),
            seed: t.seed,
            threads: t.threads,
            fused: !t.generic,
        }
    }

    /// The L2 penalty: as given, else EASE's lambda (500, Steck's value for data of
    /// ML-100K's density), iALS's 25 (chosen with alpha 2 by the tuner on ML-100K `ua`'s
    /// training data, docs/results.md), and none for the neural models. `--grid l2=...`
    /// tunes it for other data.
    pub fn l2(&self) -> f32 {
        self.training.l2.unwrap_or(match self.model.kind {
            ModelName::Ease | ModelName::LocalEase => 500.0,
            ModelName::Ials => 25.0,
            _ => TrainingConfig::default().l2,
        })
    }

    /// EASE's settings.
    pub fn ease_config(&self) -> netrex_linear::EaseConfig {
        netrex_linear::EaseConfig {
            l2: self.l2(),
            precision: self.model.precision.into(),
            dropout: self.dropout_of_ease(),
        }
    }

    /// The scalable EASE's settings.
    pub fn local_ease_config(&self) -> netrex_linear::LocalEaseConfig {
        netrex_linear::LocalEaseConfig {
            l2: self.l2(),
            neighbours: self.model.neighbours,
        }
    }

    /// EASE's EDLAE dropout: `model.ease_dropout` (0, plain EASE, by default).
    fn dropout_of_ease(&self) -> f32 {
        self.model.ease_dropout
    }

    /// The session-kNN settings of `--model sknn`.
    pub fn sknn_config(&self) -> netrex_evaluation::SknnConfig {
        let m = &self.model;
        netrex_evaluation::SknnConfig {
            neighbours: m.neighbours,
            sample: m.sknn_sample,
            positions: m.sknn_weights,
            idf: m.sknn_weights,
        }
    }

    /// iALS's settings: `dim` factors, `epochs` sweeps.
    pub fn ials_config(&self) -> netrex_linear::IalsConfig {
        let config = self.training_config();
        netrex_linear::IalsConfig {
            factors: config.embedding_dim,
            l2: self.l2(),
            alpha: self.model.alpha,
            iterations: self.training.epochs,
            cg_steps: self.model.cg_steps,
            seed: self.training.seed,
        }
    }

    /// Sequence models: the padded row length.
    pub fn max_len(&self) -> usize {
        let synthetic = self.data.dataset.is_some_and(|d| d.is_synthetic());
        self.model.max_len.unwrap_or(if self.is_next_item() {
            50
        } else if synthetic {
            20
        } else {
            200
        })
    }

    /// Sequence models: what training positions are scored against.
    pub fn negative_sampling(&self) -> SamplingName {
        self.training
            .negative_sampling
            .unwrap_or(match self.is_next_item() {
                // every item a negative (the full softmax): Beauty NDCG@10 0.0561 vs 0.0503
                // with 256 per row (docs/results.md)
                true => SamplingName::FullCatalog,
                false => SamplingName::PerPosition,
            })
    }

    /// A sequence model's configuration, not yet checked.
    pub fn sequence_config(&self) -> SequenceConfig {
        SequenceConfig {
            training: self.training_config(),
            max_len: self.max_len(),
            negatives: NegativeSampling::from(self.negative_sampling()),
        }
    }

    /// The layout of the sequence representation the plan names (popularity for a model kind
    /// that is not a sequence model).
    pub fn sequence_spec(&self) -> SequenceSpec {
        let m = &self.model;
        match m.kind {
            ModelName::Lstm => SequenceSpec::Lstm,
            ModelName::Gru => SequenceSpec::Gru,
            ModelName::Pool => SequenceSpec::Pooling(PoolingSpec { mean: true }),
            ModelName::PoolSum => SequenceSpec::Pooling(PoolingSpec { mean: false }),
            ModelName::Cnn => SequenceSpec::Cnn(CnnSpec {
                kernel_width: m.kernel_width,
                dilations: m.dilations.clone(),
                residual: m.residual,
            }),
            ModelName::Sasrec | ModelName::Bsarec | ModelName::Fmlp => {
                SequenceSpec::Sasrec(self.sasrec_spec())
            }
            _ => SequenceSpec::Popularity,
        }
    }

    /// SASRec's layout, with BSARec's or FMLP-Rec's frequency branch where the plan names them.
    fn sasrec_spec(&self) -> SasrecSpec {
        let m = &self.model;
        // BSARec's and FMLP-Rec's DFT window is their row length
        let branch = |mix: f32, learned: bool| FrequencySpec {
            mix,
            cutoff: m.frequency_cutoff,
            window: self.max_len(),
            learned,
        };
        SasrecSpec {
            blocks: m.blocks,
            heads: m.heads,
            dropout: m.dropout,
            // a training row of max_len positions; scoring reads one more (the start input)
            positions: self.max_len() + 1,
            frequency: match m.kind {
                ModelName::Bsarec => Some(branch(m.frequency_mix, m.frequency_learned)),
                ModelName::Fmlp => Some(branch(1.0, true)),
                _ => None,
            },
        }
    }

    /// Which sides keep id embeddings beside their features: both on warm data; on a cold
    /// split, only the side that is not held out (a held-out id never trains its row).
    pub fn with_ids(&self) -> IdSides {
        self.features.with_ids.unwrap_or(match self.split_method() {
            SplitName::ColdItems => IdSides::Users,
            SplitName::ColdUsers => IdSides::Items,
            _ => IdSides::Both,
        })
    }

    /// How feature weights are used: raw (cold items, CS1: MRR 0.0668 against 0.0588
    /// normalised; warm ML-100K with ids: 0.1123 against 0.1079; docs/results.md).
    pub fn weighting(&self) -> FeatureWeighting {
        self.features.weighting.unwrap_or(FeatureWeighting::Raw)
    }

    /// The factor on named features' weights: 0.05 for factorization on warm data (ML-100K
    /// `ua` with ids and item features: MRR 0.1187 against 0.1126 at 1, docs/results.md), 1
    /// where features carry the ids they stand for (cold splits) and for sequence models.
    pub fn feature_weight(&self) -> f32 {
        let warm = !self.split_method().is_cold() && !self.model.kind.is_sequence();
        self.features
            .feature_weight
            .unwrap_or(if warm { 0.05 } else { 1.0 })
    }

    /// How the features of users (`users = true`) or items make up their side.
    pub fn side_features(&self, users: bool) -> SideFeatures {
        SideFeatures {
            with_ids: self.with_ids().keeps(users),
            normalise: self.weighting() == FeatureWeighting::Normalised,
            feature_weight: self.feature_weight(),
        }
    }

    /// Leave-one-out: epochs between validation passes; otherwise epochs between test passes,
    /// if any.
    pub fn eval_every(&self) -> Option<usize> {
        self.output.eval_every.or(self.is_next_item().then_some(1))
    }

    /// Leave-one-out: the early-stopping rules, not yet checked.
    pub fn early_stopping(&self) -> EarlyStopping {
        EarlyStopping {
            max_epochs: self.stopping.max_epochs.unwrap_or(200),
            patience: self.stopping.patience.unwrap_or(20),
        }
    }

    /// The minimum interactions an item needs to be kept: ML-1M on leave-one-out keeps the
    /// movies with at least 5, as the literature.
    pub fn min_item_interactions(&self) -> Option<u32> {
        let ml1m = self.data.dataset == Some(super::DatasetName::Ml1m);
        self.data
            .min_item_interactions
            .or((ml1m && self.is_next_item()).then_some(5))
    }

    /// Whether the tables stay on the device for the whole fit: by default on a GPU.
    pub fn resident(&self) -> bool {
        self.training
            .resident
            .unwrap_or(self.training.device != DeviceName::Cpu)
    }

    /// The plan with every default written in: what `--print-config` prints and a model
    /// folder stores. Resolving a resolved plan changes nothing.
    pub fn resolve(mut self) -> Result<RunPlan, PlanError> {
        self.split.method = Some(self.split_method());
        let next_item = self.is_next_item();
        self.training.loss = Some(self.loss_name());
        self.training.l2 = Some(self.l2());
        let config = self.training_config();
        self.training.dim = Some(config.embedding_dim);
        self.training.batch_size = Some(config.batch_size);
        self.training.learning_rate = Some(config.learning_rate);
        self.training.lr_schedule = Some(ScheduleName::from(config.lr_schedule));
        self.training.resident = Some(self.resident());
        if self.model.kind.is_sequence() {
            self.model.max_len = Some(self.max_len());
            self.training.negative_sampling = Some(self.negative_sampling());
        }
        if next_item {
            let rules = self.early_stopping();
            self.stopping.max_epochs = Some(rules.max_epochs);
            self.stopping.patience = Some(rules.patience);
            self.output.eval_every = self.eval_every();
        }
        self.data.min_item_interactions = self.min_item_interactions();
        if self.features.item.is_some() || self.features.user.is_some() {
            self.features.with_ids = Some(self.with_ids());
            self.features.weighting = Some(self.weighting());
            self.features.feature_weight = Some(self.feature_weight());
        }
        Ok(self)
    }
}
