//! The command line's arguments: one struct per subcommand, one `ValueEnum` per enumerated
//! option.

use std::path::PathBuf;

use clap::builder::{PossibleValue, TypedValueParser};
use clap::{Args, ValueEnum};

use netrex::data::{AmazonS3Rec, MovieLens, OfficialSplit};
use netrex::losses::BuiltinLoss;
use netrex::representations::SequenceSpec;
use netrex::{LearningRateSchedule, NegativeSampling, OptimizerKind, TrainingConfig};

/// A value parser for a `ValueEnum` whose error names the option's kind ("unknown loss
/// \"nope\": use one of ...") and whose possible values show in `--help`.
#[derive(Clone)]
pub(crate) struct Named<T> {
    what: &'static str,
    _values: std::marker::PhantomData<T>,
}

/// The parser for an option whose values are `T`'s, called a `what` in errors.
pub(crate) fn named<T>(what: &'static str) -> Named<T> {
    Named {
        what,
        _values: std::marker::PhantomData,
    }
}

impl<T: ValueEnum + Clone + Send + Sync + 'static> TypedValueParser for Named<T> {
    type Value = T;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<T, clap::Error> {
        let text = value.to_string_lossy();
        T::from_str(&text, false).map_err(|_| {
            let names: Vec<String> = T::value_variants()
                .iter()
                .filter_map(|v| v.to_possible_value())
                .map(|p| p.get_name().to_owned())
                .collect();
            clap::Error::raw(
                clap::error::ErrorKind::InvalidValue,
                format!(
                    "unknown {} {text:?}: use one of {}\n",
                    self.what,
                    names.join(", ")
                ),
            )
            .with_cmd(cmd)
        })
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(
            T::value_variants()
                .iter()
                .filter_map(|v| v.to_possible_value()),
        ))
    }
}

/// Where the interactions come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum DatasetName {
    /// MovieLens 100K.
    #[value(name = "ml-100k")]
    Ml100k,
    /// MovieLens 1M.
    #[value(name = "ml-1m")]
    Ml1m,
    /// MovieLens 10M.
    #[value(name = "ml-10m")]
    Ml10m,
    /// MovieLens 20M.
    #[value(name = "ml-20m")]
    Ml20m,
    /// MovieLens 25M.
    #[value(name = "ml-25m")]
    Ml25m,
    /// MovieLens 32M.
    #[value(name = "ml-32m")]
    Ml32m,
    /// MovieLens latest, small.
    #[value(name = "ml-latest-small")]
    MlLatestSmall,
    /// MovieLens latest.
    #[value(name = "ml-latest")]
    MlLatest,
    /// Rows of consecutive items (`--rows`, `--length`).
    SyntheticTiled,
    /// A seeded Markov chain over items (`--users`, `--items`, `--interactions`, ...).
    SyntheticMarkov,
    /// Amazon Beauty as S3Rec preprocessed it ($NETREX_DATA_DIR/amazon-s3rec/Beauty.txt).
    AmazonBeauty,
    /// Amazon Sports and Outdoors, likewise (Sports_and_Outdoors.txt).
    AmazonSports,
}

impl DatasetName {
    /// The MovieLens release, `None` for other data.
    pub(crate) fn movielens(self) -> Option<MovieLens> {
        let name = self.to_possible_value()?.get_name().to_owned();
        name.parse().ok()
    }

    /// The Amazon dataset, `None` for other data.
    pub(crate) fn amazon(self) -> Option<AmazonS3Rec> {
        match self {
            DatasetName::AmazonBeauty => Some(AmazonS3Rec::Beauty),
            DatasetName::AmazonSports => Some(AmazonS3Rec::Sports),
            _ => None,
        }
    }

    /// Whether the data is generated rather than read.
    pub(crate) fn is_synthetic(self) -> bool {
        matches!(
            self,
            DatasetName::SyntheticTiled | DatasetName::SyntheticMarkov
        )
    }
}

/// Which items a sequence model's training positions are scored against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum SamplingName {
    /// `--negatives` uniform draws at every position.
    PerPosition,
    /// `--negatives` uniform draws per sequence, shared by its positions (dense products).
    PerRow,
    /// Every item at every position: with sampled-softmax, the full softmax.
    FullCatalog,
}

impl SamplingName {
    /// The training crate's value.
    pub(crate) fn sampling(self) -> NegativeSampling {
        match self {
            SamplingName::PerPosition => NegativeSampling::PerPosition,
            SamplingName::PerRow => NegativeSampling::PerRow,
            SamplingName::FullCatalog => NegativeSampling::FullCatalog,
        }
    }
}

/// Which sides of a hybrid model keep id embeddings beside their features.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum IdSides {
    /// Users and items.
    Both,
    /// Users only.
    Users,
    /// Items only.
    Items,
}

impl IdSides {
    /// Whether users (`users = true`) or items keep their ids.
    pub(crate) fn keeps(sides: Option<IdSides>, users: bool) -> bool {
        match sides {
            None => false,
            Some(IdSides::Both) => true,
            Some(IdSides::Users) => users,
            Some(IdSides::Items) => !users,
        }
    }
}

/// How the interactions are split into train and test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum SplitName {
    /// ML-100K's official ua split.
    Ua,
    /// ML-100K's official ub split.
    Ub,
    /// ML-100K's official fold 1.
    U1,
    /// ML-100K's official fold 2.
    U2,
    /// ML-100K's official fold 3.
    U3,
    /// ML-100K's official fold 4.
    U4,
    /// ML-100K's official fold 5.
    U5,
    /// A seeded share of all interactions.
    Random,
    /// A seeded share of users, all their interactions (for sequence models).
    User,
    /// The last `--leave-last` interactions of every user.
    LeaveLast,
    /// The latest share of interactions by timestamp.
    Temporal,
    /// Per user: the last item is the test target, the one before it the validation target
    /// (next-item protocol: HR@10, NDCG@10, MRR; early stopping on validation NDCG@10).
    LeaveOneOut,
    /// Cold start: every interaction on the items of `--cold-items FILE` (or a seeded
    /// `--test-fraction` of items) is the test set, and evaluation ranks those items only.
    ColdItems,
    /// Cold start: every interaction of the users of `--cold-users FILE` (or a seeded
    /// `--test-fraction` of users) is the test set.
    ColdUsers,
}

impl SplitName {
    /// The official ML-100K split, if this is one.
    pub(crate) fn official(self) -> Option<OfficialSplit> {
        match self {
            SplitName::Ua => Some(OfficialSplit::Ua),
            SplitName::Ub => Some(OfficialSplit::Ub),
            SplitName::U1 => Some(OfficialSplit::Fold(1)),
            SplitName::U2 => Some(OfficialSplit::Fold(2)),
            SplitName::U3 => Some(OfficialSplit::Fold(3)),
            SplitName::U4 => Some(OfficialSplit::Fold(4)),
            SplitName::U5 => Some(OfficialSplit::Fold(5)),
            _ => None,
        }
    }
}

/// The model `fit` trains.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum ModelName {
    /// Bilinear factorization.
    Factorization,
    /// Items ranked by how often they were seen in training (no training, no sequence).
    Popularity,
    /// A sequence model whose next-item score is a learned item bias.
    SequencePopularity,
    /// A sequence model: an LSTM over the history.
    Lstm,
    /// A sequence model: causal convolutions over the history.
    Cnn,
    /// A sequence model: the mean of the history's embeddings.
    Pool,
    /// A sequence model: the sum of the history's embeddings.
    PoolSum,
    /// The next item scored by how often it followed the history's last item in training
    /// (popularity breaking ties; no training; --split leave-one-out).
    Cooc,
    /// A sequence model: causal self-attention (SASRec; --blocks, --heads, --dropout).
    Sasrec,
    /// A sequence model: a GRU over the history (GRU4Rec's unit).
    Gru,
}

impl ModelName {
    /// Whether the model reads histories (and is trained and evaluated as a sequence model).
    pub(crate) fn is_sequence(self) -> bool {
        !matches!(
            self,
            ModelName::Factorization | ModelName::Popularity | ModelName::Cooc
        )
    }

    /// The name on the command line.
    pub(crate) fn name(self) -> String {
        self.to_possible_value()
            .map(|p| p.get_name().to_owned())
            .unwrap_or_default()
    }

    /// The model that trains a sequence representation of this kind.
    pub(crate) fn of_spec(spec: &SequenceSpec) -> ModelName {
        match spec {
            SequenceSpec::Popularity => ModelName::SequencePopularity,
            SequenceSpec::Pooling(p) if p.mean => ModelName::Pool,
            SequenceSpec::Pooling(_) => ModelName::PoolSum,
            SequenceSpec::Lstm => ModelName::Lstm,
            SequenceSpec::Cnn(_) => ModelName::Cnn,
            SequenceSpec::Sasrec(_) => ModelName::Sasrec,
            SequenceSpec::Gru => ModelName::Gru,
        }
    }
}

/// A built-in loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum LossName {
    /// Sigmoid cross-entropy on positives and negatives.
    Pointwise,
    /// Bayesian personalised ranking (sigmoid of the score gap).
    Bpr,
    /// BPR as the log-sigmoid of the score gap.
    BprLog,
    /// Hinge on the score gap.
    Hinge,
    /// Hinge against the highest-scoring of several negatives.
    AdaptiveHinge,
    /// Weighted approximate-rank pairwise loss.
    Warp,
    /// Softmax cross-entropy over many uniform negatives (default 256).
    SampledSoftmax,
    /// gSASRec's calibrated binary cross-entropy over many negatives (`--gbce-t`).
    Gbce,
}

impl LossName {
    /// The loss, with `negatives` per positive if given.
    pub(crate) fn build(self, negatives: Option<usize>) -> BuiltinLoss {
        let name = self.name();
        BuiltinLoss::from_name(&name, negatives)
            .unwrap_or_else(|| unreachable!("every LossName is a built-in loss: {name}"))
    }

    /// The loss's name (as `BuiltinLoss` and `TrainingConfig::tuned_for` know it).
    pub(crate) fn name(self) -> String {
        self.to_possible_value()
            .map(|p| p.get_name().to_owned())
            .unwrap_or_default()
    }
}

/// The update rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum OptimizerName {
    /// Plain stochastic gradient descent.
    Sgd,
    /// Adagrad.
    Adagrad,
    /// Lazy Adam (only touched rows).
    Adam,
}

impl From<OptimizerName> for OptimizerKind {
    fn from(o: OptimizerName) -> Self {
        match o {
            OptimizerName::Sgd => OptimizerKind::Sgd,
            OptimizerName::Adagrad => OptimizerKind::Adagrad,
            OptimizerName::Adam => OptimizerKind::Adam,
        }
    }
}

/// How the learning rate changes over a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum ScheduleName {
    /// The same rate throughout.
    Constant,
    /// Down linearly over the run.
    Linear,
}

impl From<ScheduleName> for LearningRateSchedule {
    fn from(s: ScheduleName) -> Self {
        match s {
            ScheduleName::Constant => LearningRateSchedule::Constant,
            ScheduleName::Linear => LearningRateSchedule::Linear,
        }
    }
}

/// Where dfdx runs the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum DeviceName {
    /// The CPU (hand-written kernels where a model has them).
    Cpu,
    /// An NVIDIA GPU, in a build with the `cuda` feature.
    Cuda,
}

#[derive(Args, Clone)]
pub(crate) struct DataArgs {
    /// A MovieLens release, an Amazon sequence dataset or a synthetic dataset.
    #[arg(long, conflicts_with = "csv", value_parser = named::<DatasetName>("dataset"))]
    pub(crate) dataset: Option<DatasetName>,
    /// A sequence file instead: one user a line, `user item item ...` in time order (the
    /// S3Rec format); split leave-one-out by default.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["csv", "dataset"])]
    pub(crate) sequences: Option<PathBuf>,
    /// synthetic-tiled: number of rows (users).
    #[arg(long, default_value_t = 1000)]
    pub(crate) rows: usize,
    /// synthetic-tiled: length of each row.
    #[arg(long, default_value_t = 20)]
    pub(crate) length: usize,
    /// synthetic-markov: users.
    #[arg(long, default_value_t = 100)]
    pub(crate) users: usize,
    /// synthetic-markov: items.
    #[arg(long, default_value_t = 100)]
    pub(crate) items: usize,
    /// synthetic-markov: interactions.
    #[arg(long, default_value_t = 10_000)]
    pub(crate) interactions: usize,
    /// synthetic-markov: Dirichlet concentration (small: predictable).
    #[arg(long, default_value_t = 1e-3)]
    pub(crate) concentration: f64,
    /// synthetic-markov: order of the chain.
    #[arg(long, default_value_t = 2)]
    pub(crate) order: usize,
    /// Folder holding the release (default: $NETREX_DATA_DIR, then the cache folder).
    #[arg(long)]
    pub(crate) data_dir: Option<PathBuf>,
    /// A CSV file of interactions instead of MovieLens.
    #[arg(long)]
    pub(crate) csv: Option<PathBuf>,
    /// A test CSV made elsewhere: --csv is then the train set, evaluated as given.
    #[arg(long, requires = "csv")]
    pub(crate) test_csv: Option<PathBuf>,
    /// User id column of the CSV.
    #[arg(long, default_value = "user")]
    pub(crate) user_col: String,
    /// Item id column of the CSV.
    #[arg(long, default_value = "item")]
    pub(crate) item_col: String,
    /// Integer timestamp column of the CSV.
    #[arg(long)]
    pub(crate) timestamp_col: Option<String>,
    /// Rating column of the CSV.
    #[arg(long)]
    pub(crate) rating_col: Option<String>,
    /// Sample-weight column of the CSV.
    #[arg(long)]
    pub(crate) weight_col: Option<String>,
    /// Field separator of the CSV (one character; `tab` for a tab).
    #[arg(long, default_value = ",")]
    pub(crate) separator: String,
    /// Drop ratings below this value (default: every rating is an interaction).
    #[arg(long)]
    pub(crate) min_rating: Option<f32>,
    /// How to split. Default: ua for ml-100k, user for sequence models and synthetic data,
    /// random otherwise.
    #[arg(long, value_parser = named::<SplitName>("split"))]
    pub(crate) split: Option<SplitName>,
    /// Test share for random, user and temporal splits.
    #[arg(long, default_value_t = 0.2)]
    pub(crate) test_fraction: f64,
    /// Interactions per user held out by the leave-last split.
    #[arg(long, default_value_t = 1)]
    pub(crate) leave_last: usize,
    /// cold-items: the cold items, one raw id a line (`#` comments).
    #[arg(long, value_name = "FILE")]
    pub(crate) cold_items: Option<PathBuf>,
    /// cold-users: the cold users, one raw id a line (`#` comments).
    #[arg(long, value_name = "FILE")]
    pub(crate) cold_users: Option<PathBuf>,
    /// Item features for a hybrid factorization model, or for the items of a sequence model
    /// (`--split user`; add `--with-ids items` to keep an id embedding per item): a file of
    /// `raw item id, feature[, weight]` rows, or `movielens` for the release's genres and
    /// decade.
    #[arg(long, value_name = "FILE|movielens")]
    pub(crate) item_features: Option<String>,
    /// User features likewise (`movielens`: gender, age bracket, occupation).
    #[arg(long, value_name = "FILE|movielens")]
    pub(crate) user_features: Option<String>,
    /// Keep only items with at least this many interactions, in one pass (default: 5 for
    /// ml-1m with --split leave-one-out, as the literature; none otherwise).
    #[arg(long, value_name = "N")]
    pub(crate) min_item_interactions: Option<u32>,
}

impl DataArgs {
    /// Whether the run follows the next-item protocol: `--split leave-one-out`, or sequence
    /// data with no split named.
    pub(crate) fn is_next_item(&self) -> bool {
        match self.split {
            Some(split) => split == SplitName::LeaveOneOut,
            None => self.sequences.is_some() || self.dataset.is_some_and(|d| d.amazon().is_some()),
        }
    }
}

#[derive(Args)]
pub(crate) struct FitArgs {
    #[command(flatten)]
    pub(crate) data: DataArgs,
    /// The model to train.
    #[arg(long, default_value = "factorization", value_parser = named::<ModelName>("model"))]
    pub(crate) model: ModelName,
    /// The loss (default: warp for factorization, adaptive-hinge for sequence models; see
    /// docs/results.md).
    #[arg(long, value_parser = named::<LossName>("loss"))]
    pub(crate) loss: Option<LossName>,
    /// Negatives per positive (default: the loss's own).
    #[arg(long)]
    pub(crate) negatives: Option<usize>,
    /// Sequence models: which items each training position is scored against (default:
    /// full-catalog for leave-one-out, per-position otherwise).
    #[arg(long, value_parser = named::<SamplingName>("negative sampling"))]
    pub(crate) negative_sampling: Option<SamplingName>,
    /// gBCE's calibration t in [0, 1] (0: plain BCE; 1: fully calibrated).
    #[arg(long, default_value_t = 0.75)]
    pub(crate) gbce_t: f32,
    /// Embedding dimension (default: 128 for factorization, 32 for sequence models).
    #[arg(long)]
    pub(crate) dim: Option<usize>,
    /// Minibatch size: interactions for factorization (default 1024), sequences for sequence
    /// models (default 32).
    #[arg(long)]
    pub(crate) batch_size: Option<usize>,
    /// Sequence models: length of the padded rows (default 200; 20 for synthetic data).
    #[arg(long)]
    pub(crate) max_len: Option<usize>,
    /// cnn: kernel width of the causal convolutions.
    #[arg(long, default_value_t = 3)]
    pub(crate) kernel_width: usize,
    /// cnn: comma-separated dilations, one layer each.
    #[arg(long, default_value = "1")]
    pub(crate) dilations: String,
    /// cnn: no residual connections.
    #[arg(long)]
    pub(crate) no_residual: bool,
    /// sasrec: self-attention blocks (2 measured best on Amazon Beauty, see docs/results.md).
    #[arg(long, default_value_t = 2)]
    pub(crate) blocks: usize,
    /// sasrec: attention heads (dividing --dim).
    #[arg(long, default_value_t = 1)]
    pub(crate) heads: usize,
    /// sasrec: dropout probability while training (0.5 measured best on Amazon Beauty, see
    /// docs/results.md).
    #[arg(long, default_value_t = 0.5)]
    pub(crate) dropout: f32,
    /// Epochs.
    #[arg(long, default_value_t = TrainingConfig::default().epochs)]
    pub(crate) epochs: usize,
    /// Learning rate (default: tuned per loss, see docs/results.md).
    #[arg(long)]
    pub(crate) learning_rate: Option<f32>,
    /// Learning-rate schedule (default: tuned per loss).
    #[arg(long, value_parser = named::<ScheduleName>("learning-rate schedule"))]
    pub(crate) lr_schedule: Option<ScheduleName>,
    /// L2 penalty.
    #[arg(long, default_value_t = TrainingConfig::default().l2)]
    pub(crate) l2: f32,
    /// The update rule.
    #[arg(long, default_value = "adam", value_parser = named::<OptimizerName>("optimizer"))]
    pub(crate) optimizer: OptimizerName,
    /// Seed of the split, initialisation, shuffling and negative sampling.
    #[arg(long, default_value_t = 0)]
    pub(crate) seed: u64,
    /// Worker threads: factorization trains Hogwild-style on this many threads; 1 is
    /// deterministic, and so is per-example SGD (--batch-size 1 --optimizer sgd) on any
    /// number, which trains in strata of disjoint users and items.
    #[arg(long, default_value_t = 1)]
    pub(crate) threads: usize,
    /// Train through dfdx's tape even where a hand-written kernel applies (for comparisons).
    #[arg(long)]
    pub(crate) generic: bool,
    /// With --item-features / --user-features: keep one embedding per id as a feature of its
    /// own beside the named features (LightFM's identity features), on both sides that have
    /// features, or only on `users` or `items`.
    #[arg(long, value_name = "SIDES", num_args = 0..=1, default_missing_value = "both",
          value_parser = named::<IdSides>("side"))]
    pub(crate) with_ids: Option<IdSides>,
    /// cold-items: draw training negatives from the cold items too (as LightFM does); by
    /// default training never sees them, as it would not see items that do not exist yet.
    #[arg(long)]
    pub(crate) sample_cold_items: bool,
    /// With --item-features / --user-features: use the weights as given (default: each id's
    /// weights divided by their sum, as LightFM does).
    #[arg(long)]
    pub(crate) raw_feature_weights: bool,
    /// With --item-features / --user-features: a factor on the named features' weights (the
    /// id's stays 1), applied before rows are normalised. With --with-ids on warm data, a
    /// small weight (0.05 with --raw-feature-weights) lets the id embedding lead; 1 treats id
    /// and features alike.
    #[arg(long, value_name = "W", default_value_t = 1.0)]
    pub(crate) feature_weight: f32,
    /// Keep the tables and a dense optimizer on the device for the whole fit (the default
    /// with --device cuda; on the CPU for comparisons).
    #[arg(long)]
    pub(crate) resident: bool,
    /// Where dfdx runs the model (cuda needs a build with the `cuda` feature).
    #[arg(long, default_value = "cpu", value_parser = named::<DeviceName>("device"))]
    pub(crate) device: DeviceName,
    /// Save the trained model into this folder.
    #[arg(long)]
    pub(crate) save: Option<PathBuf>,
    /// Write a checkpoint under the --save folder every N epochs (CPU training with host
    /// tables).
    #[arg(long, value_name = "N")]
    pub(crate) checkpoint_every: Option<usize>,
    /// Continue the run checkpointed under DIR (pass the same data arguments, and none of the
    /// run's own options); the final model is saved there.
    #[arg(long, value_name = "DIR")]
    pub(crate) resume: Option<PathBuf>,
    /// Evaluate on the test set every K epochs (shown in the --plot chart); with
    /// leave-one-out, on the validation targets (default: every epoch).
    #[arg(long, value_name = "K")]
    pub(crate) eval_every: Option<usize>,
    /// Leave-one-out: stop after this many epochs at the latest (--epochs is then unused).
    #[arg(long, value_name = "N")]
    pub(crate) max_epochs: Option<usize>,
    /// Leave-one-out: stop once this many epochs pass without a better validation NDCG@10.
    #[arg(long, value_name = "N")]
    pub(crate) patience: Option<usize>,
    /// Leave-one-out: multiply the learning rate by --lr-decay-factor once this many epochs
    /// pass without a better validation NDCG@10 (counted from the best epoch or the last
    /// decay); below --patience to matter. The JSON's `learning_rate_decays` lists each
    /// (epoch, new rate); its `config`, like a model saved with --save, holds the last rate.
    /// Default: no decay.
    #[arg(long, value_name = "N")]
    pub(crate) lr_decay_patience: Option<usize>,
    /// Leave-one-out: the factor of --lr-decay-patience, in (0, 1).
    #[arg(long, value_name = "F", default_value_t = 0.5)]
    pub(crate) lr_decay_factor: f32,
    /// Draw the training curve (loss per epoch, test MRR with --eval-every) into this SVG file.
    #[arg(long, value_name = "FILE.svg")]
    pub(crate) plot: Option<PathBuf>,
    /// Print one JSON object on stdout instead of text.
    #[arg(long)]
    pub(crate) json: bool,
}

impl FitArgs {
    /// The loss asked for, or the model kind's default.
    pub(crate) fn loss_name(&self) -> LossName {
        self.loss.unwrap_or(if self.model.is_sequence() {
            LossName::AdaptiveHinge
        } else {
            LossName::Warp
        })
    }

    /// The loss asked for, with the options that tune it.
    pub(crate) fn loss(&self) -> Result<BuiltinLoss, crate::Failure> {
        let mut loss = self.loss_name().build(self.negatives);
        if let BuiltinLoss::Gbce(gbce) = &mut loss {
            if !(0.0..=1.0).contains(&self.gbce_t) {
                return Err(format!("--gbce-t {} is not in [0, 1]", self.gbce_t).into());
            }
            gbce.t = self.gbce_t;
        }
        Ok(loss)
    }
}

#[derive(Args)]
pub(crate) struct EvaluateArgs {
    /// The saved model's folder.
    #[arg(long)]
    pub(crate) model: PathBuf,
    #[command(flatten)]
    pub(crate) data: DataArgs,
    /// Seed of the split.
    #[arg(long, default_value_t = 0)]
    pub(crate) seed: u64,
    /// Worker threads.
    #[arg(long, default_value_t = 1)]
    pub(crate) threads: usize,
    /// Draw precision, recall and NDCG against k into this SVG file (factorization models).
    #[arg(long, value_name = "FILE.svg")]
    pub(crate) plot: Option<PathBuf>,
    /// Print one JSON object.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Args)]
pub(crate) struct RecommendArgs {
    /// The saved model's folder.
    #[arg(long)]
    pub(crate) model: PathBuf,
    /// Factorization models: the user's raw id, as in the training data.
    #[arg(long, required_unless_present = "items", conflicts_with = "items")]
    pub(crate) user: Option<String>,
    /// Sequence models: the history, comma-separated raw item ids, oldest first.
    /// Factorization models: a new user's items, folded in without retraining.
    #[arg(long)]
    pub(crate) items: Option<String>,
    /// Hybrid factorization models: a features file (`raw item id, feature[, weight]`) whose
    /// items the model never saw are added, scored from their features, and ranked with the
    /// rest (items it knows keep their trained features).
    #[arg(long, value_name = "FILE")]
    pub(crate) item_features: Option<PathBuf>,
    /// Only rank the items of --item-features the model never saw.
    #[arg(long, requires = "item_features")]
    pub(crate) new_only: bool,
    /// Hybrid factorization models made of user features: a features file (`raw user id,
    /// feature[, weight]`) whose users the model never saw are added, each made of its
    /// features alone, so that `--user` can name one (a new user known only by attributes).
    #[arg(long, value_name = "FILE")]
    pub(crate) user_features: Option<PathBuf>,
    /// How many items.
    #[arg(short, default_value_t = 10)]
    pub(crate) k: usize,
    /// Also recommend items the user already has.
    #[arg(long)]
    pub(crate) include_seen: bool,
    /// Print one JSON object.
    #[arg(long)]
    pub(crate) json: bool,
}
