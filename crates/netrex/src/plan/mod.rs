//! A run, described once: the data and its split, the model and its hyperparameters, the
//! loss, training, early stopping and outputs, as one serde value ([`RunPlan`]).
//!
//! A plan is built from a config file ([`RunPlan::from_toml`]), from code, or by the command
//! line from its flags, then [`resolved`](RunPlan::resolve) (every default filled in from the
//! model kind, protocol and data) and [`checked`](RunPlan::check) before any data is read. The
//! resolved plan is what a model folder stores beside the model (`plan.toml`), so a result can
//! be reproduced from the folder alone, and what `netrex fit --print-config` prints.
//!
//! ```
//! use netrex::plan::{ModelName, RunPlan};
//!
//! let plan = RunPlan::from_toml(
//!     "[data]\ndataset = \"amazon-beauty\"\n[model]\nkind = \"sasrec\"\n",
//! )?
//! .resolve()?;
//! assert_eq!(plan.model.kind, ModelName::Sasrec);
//! assert!(plan.is_next_item()); // Amazon sequences default to leave-one-out
//! assert_eq!(plan.training.dim, Some(64));
//! # Ok::<(), netrex::plan::PlanError>(())
//! ```

mod build;
mod check;
mod defaults;
mod error;
pub mod memory;
mod names;
pub mod tune;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use error::{flag_of, PlanError};
pub use names::{
    name_of, DatasetName, DeviceName, FeatureWeighting, IdSides, LossName, ModelName,
    OptimizerName, PrecisionName, SamplingName, ScheduleName, SplitName,
};
pub use tune::{Point, TuneMetric, TunePlan};

/// The file a model folder keeps its resolved plan in.
pub const PLAN_FILE: &str = "plan.toml";

/// One run: what to read, how to split it, what to train and how, what to write.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunPlan {
    /// Where the interactions come from.
    pub data: DataPlan,
    /// How they are split into train and test.
    pub split: SplitPlan,
    /// Side features of users and items.
    pub features: FeaturePlan,
    /// The model and its layout.
    pub model: ModelPlan,
    /// The loss and the optimisation.
    pub training: TrainingPlan,
    /// Early stopping on validation targets (the leave-one-out protocol only).
    pub stopping: StoppingPlan,
    /// What the run writes.
    pub output: OutputPlan,
    /// Hyperparameters chosen on validation data before the run (none by default).
    #[serde(skip_serializing_if = "TunePlan::is_off")]
    pub tune: TunePlan,
}

/// Where the interactions come from: one of `dataset`, `sequences` or `csv`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DataPlan {
    /// A MovieLens release, an Amazon sequence dataset or a synthetic dataset.
    pub dataset: Option<DatasetName>,
    /// A sequence file: one user a line, `user item item ...` in time order (the S3Rec format).
    pub sequences: Option<PathBuf>,
    /// A CSV file of interactions.
    pub csv: Option<PathBuf>,
    /// A test CSV made elsewhere: `csv` is then the train set, evaluated as given.
    pub test_csv: Option<PathBuf>,
    /// Folder holding the release (default: $NETREX_DATA_DIR, then the cache folder).
    pub data_dir: Option<PathBuf>,
    /// User id column of the CSV.
    pub user_col: String,
    /// Item id column of the CSV.
    pub item_col: String,
    /// Integer timestamp column of the CSV.
    pub timestamp_col: Option<String>,
    /// Rating column of the CSV.
    pub rating_col: Option<String>,
    /// Sample-weight column of the CSV.
    pub weight_col: Option<String>,
    /// Field separator of the CSV (one character; `tab` for a tab).
    pub separator: String,
    /// Drop ratings below this value (none: every rating is an interaction).
    pub min_rating: Option<f32>,
    /// Keep only items with at least this many interactions, in one pass (resolved: 5 for
    /// ml-1m on leave-one-out, as the literature; none otherwise).
    pub min_item_interactions: Option<u32>,
    /// The sizes of generated data.
    pub synthetic: SyntheticPlan,
}

impl Default for DataPlan {
    fn default() -> Self {
        DataPlan {
            dataset: None,
            sequences: None,
            csv: None,
            test_csv: None,
            data_dir: None,
            user_col: "user".into(),
            item_col: "item".into(),
            timestamp_col: None,
            rating_col: None,
            weight_col: None,
            separator: ",".into(),
            min_rating: None,
            min_item_interactions: None,
            synthetic: SyntheticPlan::default(),
        }
    }
}

/// The sizes of `synthetic-tiled` and `synthetic-markov`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SyntheticPlan {
    /// synthetic-tiled: number of rows (users).
    pub rows: usize,
    /// synthetic-tiled: length of each row.
    pub length: usize,
    /// synthetic-markov: users.
    pub users: usize,
    /// synthetic-markov: items.
    pub items: usize,
    /// synthetic-markov: interactions.
    pub interactions: usize,
    /// synthetic-markov: Dirichlet concentration (small: predictable).
    pub concentration: f64,
    /// synthetic-markov: order of the chain.
    pub order: usize,
}

impl Default for SyntheticPlan {
    fn default() -> Self {
        SyntheticPlan {
            rows: 1000,
            length: 20,
            users: 100,
            items: 100,
            interactions: 10_000,
            concentration: 1e-3,
            order: 2,
        }
    }
}

/// How the interactions are split.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SplitPlan {
    /// The split (resolved: ua for ml-100k, leave-one-out for sequence files and the Amazon
    /// datasets, user for sequence models and synthetic data, test-file with `test_csv`,
    /// random otherwise).
    pub method: Option<SplitName>,
    /// Test share for random, user, temporal and seeded cold splits.
    pub test_fraction: f64,
    /// Interactions per user held out by the leave-last split.
    pub leave_last: usize,
    /// cold-items: the cold items, one raw id a line (`#` comments).
    pub cold_items: Option<PathBuf>,
    /// cold-users: the cold users, one raw id a line (`#` comments).
    pub cold_users: Option<PathBuf>,
    /// cold-items: draw training negatives from the cold items too (as LightFM does); by
    /// default training never sees them, as it would not see items that do not exist yet.
    pub sample_cold_items: bool,
}

impl Default for SplitPlan {
    fn default() -> Self {
        SplitPlan {
            method: None,
            test_fraction: 0.2,
            leave_last: 1,
            cold_items: None,
            cold_users: None,
            sample_cold_items: false,
        }
    }
}

/// Side features of users and items.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FeaturePlan {
    /// Item features: a file of `raw item id, feature[, weight]` rows, or `movielens` for the
    /// release's genres and decade.
    pub item: Option<String>,
    /// User features likewise (`movielens`: gender, age bracket, occupation).
    pub user: Option<String>,
    /// Which sides keep one embedding per id beside their features (resolved: both on warm
    /// data, as LightFM's identity features; none on cold-start splits, whose held-out ids
    /// have no trained row).
    pub with_ids: Option<IdSides>,
    /// How feature weights are used (resolved: raw, which measured best on warm and cold data
    /// alike; LightFM normalises).
    pub weighting: Option<FeatureWeighting>,
    /// A factor on the named features' weights (the id's stays 1), before normalising
    /// (resolved: 0.05 for a factorization model on warm data, where the id embedding should
    /// lead and features only nudge it; 1 otherwise).
    pub feature_weight: Option<f32>,
}

/// The model and its layout.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelPlan {
    /// The model to train.
    pub kind: ModelName,
    /// Sequence models: length of the padded rows (resolved: 50 on leave-one-out, 20 for
    /// synthetic data, 200 otherwise).
    pub max_len: Option<usize>,
    /// cnn: kernel width of the causal convolutions.
    pub kernel_width: usize,
    /// cnn: dilations, one layer each.
    pub dilations: Vec<usize>,
    /// cnn: residual connections.
    pub residual: bool,
    /// sasrec: self-attention blocks.
    pub blocks: usize,
    /// sasrec: attention heads (dividing `dim`).
    pub heads: usize,
    /// sasrec: dropout probability while training.
    pub dropout: f32,
    /// bsarec: the frequency branch's share of each block's mixing layer (BSARec's alpha;
    /// attention keeps the rest).
    pub frequency_mix: f32,
    /// bsarec: the lowest DFT bins the low-pass keeps (BSARec's `c // 2 + 1`); fmlp: the
    /// low-pass its learned filter starts as.
    pub frequency_cutoff: usize,
    /// bsarec: a learned causal filter (FMLP-Rec's) in place of the fixed low-pass and `β`.
    pub frequency_learned: bool,
    /// ials: an observed pair weighs `1 + alpha` (2: the tuner's choice on ML-100K `ua`).
    pub alpha: f32,
    /// ials: conjugate-gradient steps per row and half-sweep.
    pub cg_steps: usize,
    /// ease: the precision of the solve.
    pub precision: PrecisionName,
    /// ease: EDLAE's dropout probability (0: plain EASE); item i's penalty is
    /// `l2 + p / (1 - p) * count_i`.
    pub ease_dropout: f32,
    /// local-ease: items each item's weights may come from; sknn: neighbours kept per history.
    pub neighbours: usize,
    /// sknn: of the training histories holding an item, the most recent this many are
    /// candidates (0: all).
    pub sknn_sample: usize,
    /// sknn: V-SKNN's weights (a history item counts by its position, the last most, and by
    /// its inverse document frequency) instead of the plain cosine of item sets.
    pub sknn_weights: bool,
}

impl Default for ModelPlan {
    fn default() -> Self {
        ModelPlan {
            kind: ModelName::Factorization,
            max_len: None,
            kernel_width: 3,
            dilations: vec![1],
            residual: true,
            blocks: 2,
            heads: 1,
            dropout: 0.5,
            frequency_mix: 0.7,
            frequency_cutoff: 3,
            frequency_learned: false,
            alpha: 2.0,
            cg_steps: 3,
            precision: PrecisionName::F32,
            ease_dropout: 0.0,
            neighbours: 100,
            sknn_sample: 1000,
            sknn_weights: false,
        }
    }
}

/// The loss and the optimisation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainingPlan {
    /// The loss (resolved: warp for factorization, adaptive-hinge for sequence models,
    /// sampled-softmax on leave-one-out).
    pub loss: Option<LossName>,
    /// Negatives per positive (none: the loss's own).
    pub negatives: Option<usize>,
    /// Sequence models: which items each position is scored against (resolved: full-catalog
    /// on leave-one-out, per-position otherwise).
    pub negative_sampling: Option<SamplingName>,
    /// gBCE's calibration t in [0, 1].
    pub gbce_t: f32,
    /// Embedding dimension (resolved: 128 factorization, 32 sequence, 64 leave-one-out).
    pub dim: Option<usize>,
    /// Minibatch size: interactions for factorization, sequences for sequence models
    /// (resolved: 1024, 32, 128 on leave-one-out).
    pub batch_size: Option<usize>,
    /// Epochs (leave-one-out: `stopping.max_epochs` instead).
    pub epochs: usize,
    /// Learning rate (resolved: tuned per loss for factorization, see docs/results.md).
    pub learning_rate: Option<f32>,
    /// Learning-rate schedule (resolved likewise).
    pub lr_schedule: Option<ScheduleName>,
    /// L2 penalty (resolved: EASE's lambda 500, iALS's 1, 0 for every other model).
    pub l2: Option<f32>,
    /// The update rule.
    pub optimizer: OptimizerName,
    /// Seed of the split, initialisation, shuffling and negative sampling.
    pub seed: u64,
    /// Worker threads (at most the machine's logical CPUs: more are capped, with a warning).
    pub threads: usize,
    /// Train through dfdx's tape even where a hand-written kernel applies.
    pub generic: bool,
    /// Keep the tables and a dense optimizer on the device for the whole fit (resolved: on
    /// with cuda).
    pub resident: Option<bool>,
    /// Where dfdx runs the model.
    pub device: DeviceName,
}

impl Default for TrainingPlan {
    fn default() -> Self {
        let t = netrex_train::TrainingConfig::default();
        TrainingPlan {
            loss: None,
            negatives: None,
            negative_sampling: None,
            gbce_t: 0.75,
            dim: None,
            batch_size: None,
            epochs: t.epochs,
            learning_rate: None,
            lr_schedule: None,
            l2: None,
            optimizer: OptimizerName::Adam,
            seed: 0,
            threads: 1,
            generic: false,
            resident: None,
            device: DeviceName::Cpu,
        }
    }
}

/// Early stopping on the validation targets of leave-one-out.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoppingPlan {
    /// Stop after this many epochs at the latest (resolved on leave-one-out: 200).
    pub max_epochs: Option<usize>,
    /// Stop once this many epochs pass without a better validation NDCG@10 (resolved: 20).
    pub patience: Option<usize>,
    /// Multiply the learning rate by `lr_decay_factor` once this many epochs pass without a
    /// better validation NDCG@10 (none: no decay).
    pub lr_decay_patience: Option<usize>,
    /// The factor of `lr_decay_patience`, in (0, 1).
    pub lr_decay_factor: f32,
}

impl Default for StoppingPlan {
    fn default() -> Self {
        StoppingPlan {
            max_epochs: None,
            patience: None,
            lr_decay_patience: None,
            lr_decay_factor: 0.5,
        }
    }
}

/// What the run writes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutputPlan {
    /// Save the trained model (and this plan) into this folder.
    pub save: Option<PathBuf>,
    /// Write a checkpoint under `save` every N epochs.
    pub checkpoint_every: Option<usize>,
    /// Evaluate every K epochs: on the test set (shown in the plot), or on the validation
    /// targets of leave-one-out (resolved there: 1).
    pub eval_every: Option<usize>,
    /// Draw the training curve into this SVG file.
    pub plot: Option<PathBuf>,
    /// Print one JSON object on stdout instead of text.
    pub json: bool,
    /// Print nothing (a tuner's grid points); never in a config file.
    #[serde(skip)]
    pub quiet: bool,
}

impl RunPlan {
    /// A plan from the text of a TOML config file; keys left out keep their defaults, and an
    /// unknown key is an error (a typo would otherwise be ignored).
    pub fn from_toml(text: &str) -> Result<RunPlan, PlanError> {
        toml::from_str(text.trim_start_matches('\u{feff}'))
            .map_err(|e| PlanError::Toml(e.to_string()))
    }

    /// The plan in the TOML config file `path`.
    pub fn read(path: &Path) -> Result<RunPlan, PlanError> {
        let text = std::fs::read_to_string(path).map_err(|e| PlanError::io(path, e))?;
        RunPlan::from_toml(&text).map_err(|e| e.in_file(path))
    }

    /// Whether the config file at `path` sets `section.key` (a run that names no
    /// `model.kind` trains [`default_kind`](Self::default_kind), say).
    pub fn file_sets(path: &Path, section: &str, key: &str) -> Result<bool, PlanError> {
        let text = std::fs::read_to_string(path).map_err(|e| PlanError::io(path, e))?;
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| PlanError::Toml(e.to_string()).in_file(path))?;
        Ok(table.get(section).and_then(|m| m.get(key)).is_some())
    }

    /// The plan as TOML (what [`from_toml`](Self::from_toml) reads back to the same plan).
    pub fn to_toml(&self) -> Result<String, PlanError> {
        toml::to_string(self).map_err(|e| PlanError::Toml(e.to_string()))
    }

    /// Writes the plan into the model folder `dir` (as [`PLAN_FILE`]), atomically.
    pub fn write_into(&self, dir: &Path) -> Result<(), PlanError> {
        let path = dir.join(PLAN_FILE);
        let tmp = dir.join(format!("{PLAN_FILE}.tmp"));
        std::fs::write(&tmp, self.to_toml()?).map_err(|e| PlanError::io(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| PlanError::io(&path, e))
    }

    /// The plan saved in the model folder `dir`, if it has one (folders written before plans
    /// were saved have none).
    pub fn saved_in(dir: &Path) -> Result<Option<RunPlan>, PlanError> {
        let path = dir.join(PLAN_FILE);
        if !path.exists() {
            return Ok(None);
        }
        RunPlan::read(&path).map(Some)
    }

    /// The plan a model folder's `model.json` records (its catalog's `plan`), if any.
    pub fn of_catalog(catalog: &netrex_train::Catalog) -> Result<Option<RunPlan>, PlanError> {
        catalog
            .plan
            .clone()
            .map(serde_json::from_value)
            .transpose()
            .map_err(|e| PlanError::Toml(format!("the model's plan: {e}")))
    }

    /// The settings in which `self` and `other` differ: each key (`training.dim`) with
    /// `self`'s value and `other`'s, as TOML writes them ("none" where a plan has none).
    pub fn differences(&self, other: &RunPlan) -> Vec<(String, String, String)> {
        fn walk(
            key: &str,
            a: &serde_json::Value,
            b: &serde_json::Value,
            out: &mut Vec<(String, String, String)>,
        ) {
            use serde_json::Value::{Null, Object};
            match (a, b) {
                (Object(x), Object(y)) => {
                    let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
                    keys.sort();
                    keys.dedup();
                    for k in keys {
                        let (u, v) = (x.get(k).unwrap_or(&Null), y.get(k).unwrap_or(&Null));
                        let key = if key.is_empty() {
                            k.clone()
                        } else {
                            format!("{key}.{k}")
                        };
                        walk(&key, u, v, out);
                    }
                }
                _ if a != b => {
                    let shown = |v: &serde_json::Value| match v {
                        Null => "none".to_owned(),
                        serde_json::Value::String(s) => s.clone(),
                        v => v.to_string(),
                    };
                    out.push((key.to_owned(), shown(a), shown(b)));
                }
                _ => {}
            }
        }
        let value = |p: &RunPlan| serde_json::to_value(p).unwrap_or(serde_json::Value::Null);
        let mut out = Vec::new();
        walk("", &value(self), &value(other), &mut out);
        out
    }

    /// Whether the run follows the next-item protocol (leave-one-out, early stopping).
    pub fn is_next_item(&self) -> bool {
        match self.split_method() {
            SplitName::LeaveOneOut => true,
            // a train file and a test file of sessions: each test session's last item is
            // ranked after the rest of the session
            SplitName::TestFile => self.is_session_files(),
            _ => false,
        }
    }

    /// Whether the run is the session protocol: `--csv` and `--test-csv` with a sequence model,
    /// cooc or sknn (each test session's last item ranked; early stopping on each training
    /// session's last item).
    pub fn is_session_files(&self) -> bool {
        let kind = self.model.kind;
        self.data.test_csv.is_some()
            && (kind.is_sequence() || matches!(kind, ModelName::Cooc | ModelName::Sknn))
    }
}
