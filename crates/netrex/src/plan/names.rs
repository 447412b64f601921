//! The enumerated choices of a run plan. Each is spelt the same in a config file (serde,
//! kebab-case) and on the command line (clap's `ValueEnum`, with the `clap` feature).

use serde::{Deserialize, Serialize};

use netrex_data::{AmazonS3Rec, MovieLens, OfficialSplit};
use netrex_train::{LearningRateSchedule, NegativeSampling, OptimizerKind};

/// The kebab-case name of a unit variant, as config files and the command line spell it.
pub fn name_of<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

/// Where the interactions come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum DatasetName {
    /// MovieLens 100K.
    #[serde(rename = "ml-100k")]
    #[cfg_attr(feature = "clap", value(name = "ml-100k"))]
    Ml100k,
    /// MovieLens 1M.
    #[serde(rename = "ml-1m")]
    #[cfg_attr(feature = "clap", value(name = "ml-1m"))]
    Ml1m,
    /// MovieLens 10M.
    #[serde(rename = "ml-10m")]
    #[cfg_attr(feature = "clap", value(name = "ml-10m"))]
    Ml10m,
    /// MovieLens 20M.
    #[serde(rename = "ml-20m")]
    #[cfg_attr(feature = "clap", value(name = "ml-20m"))]
    Ml20m,
    /// MovieLens 25M.
    #[serde(rename = "ml-25m")]
    #[cfg_attr(feature = "clap", value(name = "ml-25m"))]
    Ml25m,
    /// MovieLens 32M.
    #[serde(rename = "ml-32m")]
    #[cfg_attr(feature = "clap", value(name = "ml-32m"))]
    Ml32m,
    /// MovieLens latest, small.
    MlLatestSmall,
    /// MovieLens latest.
    MlLatest,
    /// Rows of consecutive items (`rows`, `length`).
    SyntheticTiled,
    /// A seeded Markov chain over items (`users`, `items`, `interactions`, ...).
    SyntheticMarkov,
    /// Amazon Beauty as S3Rec preprocessed it ($NETREX_DATA_DIR/amazon-s3rec/Beauty.txt).
    AmazonBeauty,
    /// Amazon Sports and Outdoors, likewise (Sports_and_Outdoors.txt).
    AmazonSports,
}

impl DatasetName {
    /// The MovieLens release, `None` for other data.
    pub fn movielens(self) -> Option<MovieLens> {
        name_of(&self).parse().ok()
    }

    /// The Amazon dataset, `None` for other data.
    pub fn amazon(self) -> Option<AmazonS3Rec> {
        match self {
            DatasetName::AmazonBeauty => Some(AmazonS3Rec::Beauty),
            DatasetName::AmazonSports => Some(AmazonS3Rec::Sports),
            _ => None,
        }
    }

    /// Whether the data is generated rather than read.
    pub fn is_synthetic(self) -> bool {
        matches!(
            self,
            DatasetName::SyntheticTiled | DatasetName::SyntheticMarkov
        )
    }
}

/// How the interactions are split into train and test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum SplitName {
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
    /// The last `leave_last` interactions of every user.
    LeaveLast,
    /// The latest share of interactions by timestamp.
    Temporal,
    /// Per user: the last item is the test target, the one before it the validation target
    /// (next-item protocol: HR@10, NDCG@10, MRR; early stopping on validation NDCG@10).
    LeaveOneOut,
    /// Cold start: every interaction on the items of `cold_items` (or a seeded
    /// `test_fraction` of items) is the test set, and evaluation ranks those items only.
    ColdItems,
    /// Cold start: every interaction of the users of `cold_users` (or a seeded
    /// `test_fraction` of users) is the test set.
    ColdUsers,
    /// The test file given with `test_csv`: the split was made elsewhere.
    TestFile,
}

impl SplitName {
    /// The official ML-100K split, if this is one.
    pub fn official(self) -> Option<OfficialSplit> {
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

    /// Whether the split holds out whole items or users (cold start).
    pub fn is_cold(self) -> bool {
        matches!(self, SplitName::ColdItems | SplitName::ColdUsers)
    }
}

/// The model a run trains.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum ModelName {
    /// Bilinear factorization (hybrid with side features).
    #[default]
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
    /// (popularity breaking ties; no training; leave-one-out).
    Cooc,
    /// A sequence model: causal self-attention (SASRec; blocks, heads, dropout).
    Sasrec,
    /// A sequence model: SASRec with BSARec's frequency branch in every block, made causal
    /// (frequency_mix, frequency_cutoff, frequency_learned).
    Bsarec,
    /// A sequence model: FMLP-Rec's blocks (a learned causal filter per dimension in place
    /// of attention, starting as BSARec's low-pass of frequency_cutoff bins).
    Fmlp,
    /// A sequence model: a GRU over the history (GRU4Rec's unit).
    Gru,
    /// EASE: closed-form item-item weights (Steck 2019); `training.l2` is its lambda.
    Ease,
    /// Implicit alternating least squares (Hu et al. 2008): `training.dim` factors,
    /// `training.epochs` sweeps, `training.l2` and `model.alpha`.
    Ials,
    /// EASE for catalogs too large for a dense item-item matrix: each item's weights from its
    /// `model.neighbours` most co-occurring items (fsSLIM's selection, EASE's ridge).
    LocalEase,
    /// Session kNN: the next item scored by the `model.neighbours` training histories most
    /// similar to the history (V-SKNN's weights with `model.sknn_weights`; no training;
    /// leave-one-out).
    Sknn,
}

impl ModelName {
    /// Whether the model reads histories (and is trained and evaluated as a sequence model).
    pub fn is_sequence(self) -> bool {
        !matches!(
            self,
            ModelName::Factorization
                | ModelName::Popularity
                | ModelName::Cooc
                | ModelName::Sknn
                | ModelName::Ease
                | ModelName::Ials
                | ModelName::LocalEase
        )
    }

    /// Whether the model is one of netrex-linear's (fitted by linear algebra, not by dfdx).
    pub fn is_linear(self) -> bool {
        matches!(
            self,
            ModelName::Ease | ModelName::Ials | ModelName::LocalEase
        )
    }

    /// Whether the model has parameters to train.
    pub fn is_trained(self) -> bool {
        !matches!(
            self,
            ModelName::Popularity | ModelName::Cooc | ModelName::Sknn
        )
    }

    /// The name in config files and on the command line.
    pub fn name(self) -> String {
        name_of(&self)
    }
}

/// A built-in loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum LossName {
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
    /// gSASRec's calibrated binary cross-entropy over many negatives (`gbce_t`).
    Gbce,
}

impl LossName {
    /// The loss's name (as `BuiltinLoss` and `TrainingConfig::tuned_for` know it).
    pub fn name(self) -> String {
        name_of(&self)
    }
}

/// Which items a sequence model's training positions are scored against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum SamplingName {
    /// `negatives` uniform draws at every position.
    PerPosition,
    /// `negatives` uniform draws per sequence, shared by its positions (dense products).
    PerRow,
    /// Every item at every position: with sampled-softmax, the full softmax.
    FullCatalog,
}

impl From<SamplingName> for NegativeSampling {
    fn from(s: SamplingName) -> Self {
        match s {
            SamplingName::PerPosition => NegativeSampling::PerPosition,
            SamplingName::PerRow => NegativeSampling::PerRow,
            SamplingName::FullCatalog => NegativeSampling::FullCatalog,
        }
    }
}

/// Which sides of a hybrid model keep id embeddings beside their features.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum IdSides {
    /// Users and items.
    Both,
    /// Users only.
    Users,
    /// Items only.
    Items,
    /// Neither: every user and item is its features alone.
    None,
}

impl IdSides {
    /// Whether users (`users = true`) or items keep their ids.
    pub fn keeps(self, users: bool) -> bool {
        match self {
            IdSides::None => false,
            IdSides::Both => true,
            IdSides::Users => users,
            IdSides::Items => !users,
        }
    }
}

/// How the weights of a feature file are used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum FeatureWeighting {
    /// Each id's weights divided by their sum, as LightFM does.
    Normalised,
    /// The weights as given.
    Raw,
}

/// The update rule.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum OptimizerName {
    /// Plain stochastic gradient descent.
    Sgd,
    /// Adagrad.
    Adagrad,
    /// Lazy Adam (only touched rows).
    #[default]
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum ScheduleName {
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

impl From<LearningRateSchedule> for ScheduleName {
    fn from(s: LearningRateSchedule) -> Self {
        match s {
            LearningRateSchedule::Constant => ScheduleName::Constant,
            LearningRateSchedule::Linear => ScheduleName::Linear,
        }
    }
}

/// Where dfdx runs the model.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum DeviceName {
    /// The CPU (hand-written kernels where a model has them).
    #[default]
    Cpu,
    /// An NVIDIA GPU, in a build with the `cuda` feature.
    Cuda,
}

/// The floating-point type EASE factorises its Gram matrix in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum PrecisionName {
    /// Single precision (the default: as accurate on ML-100K, faster; docs/results.md).
    #[default]
    F32,
    /// Double precision.
    F64,
}

impl From<PrecisionName> for netrex_linear::Precision {
    fn from(p: PrecisionName) -> Self {
        match p {
            PrecisionName::F32 => netrex_linear::Precision::F32,
            PrecisionName::F64 => netrex_linear::Precision::F64,
        }
    }
}
