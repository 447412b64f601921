//! The command line's arguments: one struct per subcommand, one `ValueEnum` per enumerated
//! option.

use std::path::PathBuf;

use clap::builder::{PossibleValue, TypedValueParser};
use clap::{Args, ValueEnum};

use netrex::plan::{
    DatasetName, DeviceName, FeatureWeighting, IdSides, LossName, ModelName, OptimizerName,
    PrecisionName, SamplingName, ScheduleName, SplitName, TuneMetric,
};

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

/// Where the data comes from and how it is split. Every option left out keeps the value of
/// the config file (fit), of the model's own plan (evaluate), or its default.
#[derive(Args, Clone, Default)]
pub(crate) struct DataArgs {
    /// A MovieLens release, an Amazon sequence dataset or a synthetic dataset.
    #[arg(long, conflicts_with = "csv", value_parser = named::<DatasetName>("dataset"))]
    pub(crate) dataset: Option<DatasetName>,
    /// A sequence file instead: one user a line, `user item item ...` in time order (the
    /// S3Rec format); split leave-one-out by default.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["csv", "dataset"])]
    pub(crate) sequences: Option<PathBuf>,
    /// synthetic-tiled: number of rows (users) [default: 1000].
    #[arg(long)]
    pub(crate) rows: Option<usize>,
    /// synthetic-tiled: length of each row [default: 20].
    #[arg(long)]
    pub(crate) length: Option<usize>,
    /// synthetic-markov: users [default: 100].
    #[arg(long)]
    pub(crate) users: Option<usize>,
    /// synthetic-markov: items [default: 100].
    #[arg(long)]
    pub(crate) items: Option<usize>,
    /// synthetic-markov: interactions [default: 10000].
    #[arg(long)]
    pub(crate) interactions: Option<usize>,
    /// synthetic-markov: Dirichlet concentration (small: predictable) [default: 0.001].
    #[arg(long)]
    pub(crate) concentration: Option<f64>,
    /// synthetic-markov: order of the chain [default: 2].
    #[arg(long)]
    pub(crate) order: Option<usize>,
    /// Folder holding the release (default: $NETREX_DATA_DIR, then the cache folder).
    #[arg(long)]
    pub(crate) data_dir: Option<PathBuf>,
    /// A CSV file of interactions instead of MovieLens.
    #[arg(long)]
    pub(crate) csv: Option<PathBuf>,
    /// A test CSV made elsewhere: --csv is then the train set, evaluated as given.
    #[arg(long)]
    pub(crate) test_csv: Option<PathBuf>,
    /// User id column of the CSV [default: user].
    #[arg(long)]
    pub(crate) user_col: Option<String>,
    /// Item id column of the CSV [default: item].
    #[arg(long)]
    pub(crate) item_col: Option<String>,
    /// Integer timestamp column of the CSV.
    #[arg(long)]
    pub(crate) timestamp_col: Option<String>,
    /// Rating column of the CSV.
    #[arg(long)]
    pub(crate) rating_col: Option<String>,
    /// Sample-weight column of the CSV.
    #[arg(long)]
    pub(crate) weight_col: Option<String>,
    /// Field separator of the CSV (one character; `tab` for a tab) [default: ,].
    #[arg(long)]
    pub(crate) separator: Option<String>,
    /// Drop ratings below this value (default: every rating is an interaction).
    #[arg(long)]
    pub(crate) min_rating: Option<f32>,
    /// How to split. Default: ua for ml-100k, leave-one-out for sequence files and the Amazon
    /// datasets, user for sequence models and synthetic data, random otherwise; `evaluate`:
    /// the split the model was trained on.
    #[arg(long, value_parser = named::<SplitName>("split"))]
    pub(crate) split: Option<SplitName>,
    /// Test share for random, user and temporal splits [default: 0.2].
    #[arg(long)]
    pub(crate) test_fraction: Option<f64>,
    /// Interactions per user held out by the leave-last split [default: 1].
    #[arg(long)]
    pub(crate) leave_last: Option<usize>,
    /// cold-items: the cold items, one raw id a line (`#` comments).
    #[arg(long, value_name = "FILE")]
    pub(crate) cold_items: Option<PathBuf>,
    /// cold-users: the cold users, one raw id a line (`#` comments).
    #[arg(long, value_name = "FILE")]
    pub(crate) cold_users: Option<PathBuf>,
    /// Item features for a hybrid factorization model, or for the items of a sequence model
    /// (`--split user`): a file of `raw item id, feature[, weight]` rows, or `movielens` for
    /// the release's genres and decade.
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

#[derive(Args)]
pub(crate) struct FitArgs {
    /// A run plan in TOML (`--print-config` writes one); options given beside it override it.
    #[arg(long, value_name = "FILE.toml")]
    pub(crate) config: Option<PathBuf>,
    /// Print the resolved plan (every default filled in) as TOML and exit without training.
    #[arg(long)]
    pub(crate) print_config: bool,
    #[command(flatten)]
    pub(crate) data: DataArgs,
    /// The model to train [default: factorization].
    #[arg(long, value_parser = named::<ModelName>("model"))]
    pub(crate) model: Option<ModelName>,
    /// The loss (default: warp for factorization, adaptive-hinge for sequence models,
    /// sampled-softmax on leave-one-out; see docs/results.md).
    #[arg(long, value_parser = named::<LossName>("loss"))]
    pub(crate) loss: Option<LossName>,
    /// Negatives per positive (default: the loss's own).
    #[arg(long)]
    pub(crate) negatives: Option<usize>,
    /// Sequence models: which items each training position is scored against (default:
    /// full-catalog for leave-one-out, per-position otherwise).
    #[arg(long, value_parser = named::<SamplingName>("negative sampling"))]
    pub(crate) negative_sampling: Option<SamplingName>,
    /// gBCE's calibration t in [0, 1] (0: plain BCE; 1: fully calibrated) [default: 0.75].
    #[arg(long)]
    pub(crate) gbce_t: Option<f32>,
    /// Embedding dimension (default: 128 for factorization, 32 for sequence models, 64 on
    /// leave-one-out).
    #[arg(long)]
    pub(crate) dim: Option<usize>,
    /// Minibatch size: interactions for factorization (default 1024), sequences for sequence
    /// models (default 32; 128 on leave-one-out).
    #[arg(long)]
    pub(crate) batch_size: Option<usize>,
    /// Sequence models: length of the padded rows (default 200; 20 for synthetic data; 50 on
    /// leave-one-out).
    #[arg(long)]
    pub(crate) max_len: Option<usize>,
    /// cnn: kernel width of the causal convolutions [default: 3].
    #[arg(long)]
    pub(crate) kernel_width: Option<usize>,
    /// cnn: comma-separated dilations, one layer each [default: 1].
    #[arg(long, value_delimiter = ',')]
    pub(crate) dilations: Option<Vec<usize>>,
    /// cnn: no residual connections.
    #[arg(long)]
    pub(crate) no_residual: bool,
    /// sasrec: self-attention blocks (2 measured best on Amazon Beauty) [default: 2].
    #[arg(long)]
    pub(crate) blocks: Option<usize>,
    /// sasrec: attention heads (dividing --dim) [default: 1].
    #[arg(long)]
    pub(crate) heads: Option<usize>,
    /// sasrec: dropout probability while training (0.5 measured best on Amazon Beauty)
    /// [default: 0.5].
    #[arg(long)]
    pub(crate) dropout: Option<f32>,
    /// bsarec: the frequency branch's share of each block (BSARec's alpha) [default: 0.7].
    #[arg(long)]
    pub(crate) frequency_mix: Option<f32>,
    /// bsarec: the lowest DFT bins its low-pass keeps (BSARec's c // 2 + 1); fmlp: the
    /// low-pass its learned filter starts as [default: 3].
    #[arg(long)]
    pub(crate) frequency_cutoff: Option<usize>,
    /// bsarec: a learned causal filter per dimension (FMLP-Rec's) in place of the fixed
    /// low-pass and its scale.
    #[arg(long)]
    pub(crate) frequency_learned: bool,
    /// Tune on validation data before the run: `KEY=V1,V2,...` (repeat for more axes; KEY is a
    /// config key such as l2, dim, alpha, learning_rate or training.epochs). Each point trains
    /// on the training data less a held-out share and is scored there; the best then trains
    /// on all of it and is tested once. The test set never chooses.
    #[arg(long = "grid", value_name = "KEY=V1,V2,...")]
    pub(crate) grid: Vec<String>,
    /// The metric the grid chooses by [default: mrr].
    #[arg(long, value_parser = named::<TuneMetric>("metric"))]
    pub(crate) tune_metric: Option<TuneMetric>,
    /// The share of the training interactions the grid is scored on [default: 0.1].
    #[arg(long)]
    pub(crate) validation_fraction: Option<f64>,
    /// Held-out shares each grid point is scored on (their mean chooses) [default: 3].
    #[arg(long)]
    pub(crate) folds: Option<usize>,
    /// ials: an observed pair weighs 1 + alpha [default: 2].
    #[arg(long)]
    pub(crate) alpha: Option<f32>,
    /// ials: conjugate-gradient steps per row and half-sweep [default: 3].
    #[arg(long)]
    pub(crate) cg_steps: Option<usize>,
    /// ease: EDLAE's dropout probability; item i's penalty becomes l2 + p / (1 - p) times
    /// its count [default: 0, plain EASE].
    #[arg(long)]
    pub(crate) ease_dropout: Option<f32>,
    /// local-ease: items each item's weights may come from; sknn: neighbours per history
    /// [default: 100].
    #[arg(long)]
    pub(crate) neighbours: Option<usize>,
    /// sknn: the most recent training histories holding an item that are candidates (0: all)
    /// [default: 1000].
    #[arg(long)]
    pub(crate) sknn_sample: Option<usize>,
    /// sknn: V-SKNN's position and inverse-document-frequency weights.
    #[arg(long)]
    pub(crate) sknn_weights: bool,
    /// ease: the precision of the solve [default: f32].
    #[arg(long, value_parser = named::<PrecisionName>("precision"))]
    pub(crate) precision: Option<PrecisionName>,
    /// Epochs [default: 10]. Leave-one-out trains up to --max-epochs instead.
    #[arg(long)]
    pub(crate) epochs: Option<usize>,
    /// Learning rate (default: tuned per loss, see docs/results.md).
    #[arg(long)]
    pub(crate) learning_rate: Option<f32>,
    /// Learning-rate schedule (default: tuned per loss).
    #[arg(long, value_parser = named::<ScheduleName>("learning-rate schedule"))]
    pub(crate) lr_schedule: Option<ScheduleName>,
    /// L2 penalty [default: 0; ease: its lambda, 500; ials: 25].
    #[arg(long)]
    pub(crate) l2: Option<f32>,
    /// The update rule [default: adam].
    #[arg(long, value_parser = named::<OptimizerName>("optimizer"))]
    pub(crate) optimizer: Option<OptimizerName>,
    /// Seed of the split, initialisation, shuffling and negative sampling [default: 0].
    #[arg(long)]
    pub(crate) seed: Option<u64>,
    /// Worker threads [default: 1; all cores on next-item runs, where the same count gives
    /// the same result]: factorization trains Hogwild-style on this many threads;
    /// 1 is deterministic, and so is per-example SGD (--batch-size 1 --optimizer sgd) on any
    /// number, which trains in strata of disjoint users and items. More than the machine's
    /// logical CPUs are capped to them, with a warning.
    #[arg(long)]
    pub(crate) threads: Option<usize>,
    /// Train through dfdx's tape even where a hand-written kernel applies (for comparisons).
    #[arg(long)]
    pub(crate) generic: bool,
    /// With features: which sides keep one embedding per id beside their features (LightFM's
    /// identity features). Default: both on warm data; on cold splits, the side not held out.
    #[arg(long, value_name = "SIDES", num_args = 0..=1, default_missing_value = "both",
          value_parser = named::<IdSides>("side"))]
    pub(crate) with_ids: Option<IdSides>,
    /// cold-items: draw training negatives from the cold items too (as LightFM does); by
    /// default training never sees them, as it would not see items that do not exist yet.
    #[arg(long)]
    pub(crate) sample_cold_items: bool,
    /// With features: `normalised` divides each id's weights by their sum, as LightFM does;
    /// `raw` (the default, measured best on warm and cold data) uses them as given.
    #[arg(long, value_parser = named::<FeatureWeighting>("feature weighting"))]
    pub(crate) feature_weighting: Option<FeatureWeighting>,
    /// The same as --feature-weighting raw.
    #[arg(long, conflicts_with = "feature_weighting")]
    pub(crate) raw_feature_weights: bool,
    /// With features: a factor on the named features' weights (the id's stays 1), applied
    /// before rows are normalised. Default: 0.05 for factorization on warm data (the id
    /// embedding leads, features nudge it), 1 on cold splits and for sequence models.
    #[arg(long, value_name = "W")]
    pub(crate) feature_weight: Option<f32>,
    /// Keep the tables and a dense optimizer on the device for the whole fit (the default
    /// with --device cuda; on the CPU for comparisons).
    #[arg(long)]
    pub(crate) resident: bool,
    /// Where dfdx runs the model (cuda needs a build with the `cuda` feature) [default: cpu].
    #[arg(long, value_parser = named::<DeviceName>("device"))]
    pub(crate) device: Option<DeviceName>,
    /// Save the trained model and its plan into this folder.
    #[arg(long)]
    pub(crate) save: Option<PathBuf>,
    /// Write a checkpoint under the --save folder every N epochs (CPU training with host
    /// tables).
    #[arg(long, value_name = "N")]
    pub(crate) checkpoint_every: Option<usize>,
    /// Continue the run checkpointed under DIR with the plan it was started with (options
    /// given beside it must agree with that plan); the final model is saved there.
    #[arg(long, value_name = "DIR", conflicts_with = "config")]
    pub(crate) resume: Option<PathBuf>,
    /// Evaluate on the test set every K epochs (shown in the --plot chart); with
    /// leave-one-out, on the validation targets (default: every epoch).
    #[arg(long, value_name = "K")]
    pub(crate) eval_every: Option<usize>,
    /// Leave-one-out: stop after this many epochs at the latest [default: 200].
    #[arg(long, value_name = "N")]
    pub(crate) max_epochs: Option<usize>,
    /// Leave-one-out: stop once this many epochs pass without a better validation NDCG@10
    /// [default: 20].
    #[arg(long, value_name = "N")]
    pub(crate) patience: Option<usize>,
    /// Leave-one-out: multiply the learning rate by --lr-decay-factor once this many epochs
    /// pass without a better validation NDCG@10 (counted from the best epoch or the last
    /// decay); below --patience to matter. The JSON's `learning_rate_decays` lists each
    /// (epoch, new rate). Default: no decay.
    #[arg(long, value_name = "N")]
    pub(crate) lr_decay_patience: Option<usize>,
    /// Leave-one-out: the factor of --lr-decay-patience, in (0, 1) [default: 0.5].
    #[arg(long, value_name = "F")]
    pub(crate) lr_decay_factor: Option<f32>,
    /// Draw the training curve (loss per epoch, test MRR with --eval-every) into this SVG file.
    #[arg(long, value_name = "FILE.svg")]
    pub(crate) plot: Option<PathBuf>,
    /// Print one JSON object on stdout instead of text.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Args)]
pub(crate) struct EvaluateArgs {
    /// The saved model's folder.
    #[arg(long)]
    pub(crate) model: PathBuf,
    #[command(flatten)]
    pub(crate) data: DataArgs,
    /// Seed of the split (default: the model's).
    #[arg(long)]
    pub(crate) seed: Option<u64>,
    /// Worker threads [default: 1].
    #[arg(long)]
    pub(crate) threads: Option<usize>,
    /// Draw precision, recall and NDCG against k into this SVG file (factorization models).
    #[arg(long, value_name = "FILE.svg")]
    pub(crate) plot: Option<PathBuf>,
    /// Print one JSON object.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Args)]
pub(crate) struct ExportArgs {
    /// The saved factorization model's folder.
    #[arg(long)]
    pub(crate) model: PathBuf,
    /// The folder to write the vectors and `export.json` into (created if missing).
    #[arg(long)]
    pub(crate) out: PathBuf,
    /// `npy`: `users.npy`, `items.npy`, `user_ids.txt`, `item_ids.txt`; `parquet`:
    /// `users.parquet` and `items.parquet`, columns `id` and `vector`.
    #[arg(long, value_enum, default_value_t = ExportFormat::Npy)]
    pub(crate) format: ExportFormat,
}

/// What `netrex export` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum ExportFormat {
    /// NumPy arrays and id lists.
    Npy,
    /// Parquet tables of ids and vectors.
    Parquet,
}

#[derive(Args)]
pub(crate) struct IndexArgs {
    /// The saved factorization model's folder; the graph is written into it as `hnsw.bin`.
    #[arg(long)]
    pub(crate) model: PathBuf,
    /// Links per item above level 0 (twice as many at level 0).
    #[arg(long, default_value_t = 16)]
    pub(crate) m: usize,
    /// Candidates kept while an item's links are searched.
    #[arg(long, default_value_t = 200)]
    pub(crate) ef_construction: usize,
    /// Seeds the items' levels: one seed, one graph.
    #[arg(long, default_value_t = 0)]
    pub(crate) seed: u64,
}

#[derive(Args)]
pub(crate) struct ServeArgs {
    /// The saved model's folder (any kind `fit --save` writes).
    #[arg(long)]
    pub(crate) model: PathBuf,
    /// The address to listen on (port 0: any free port, printed at start).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub(crate) addr: String,
    /// Worker threads [default: all cores].
    #[arg(long)]
    pub(crate) threads: Option<usize>,
    /// The largest k a request may ask for.
    #[arg(long, default_value_t = 1000)]
    pub(crate) max_k: usize,
    /// The most item ids one query may give.
    #[arg(long, default_value_t = 10_000)]
    pub(crate) max_items: usize,
    /// The most queries one batch may hold.
    #[arg(long, default_value_t = 1000)]
    pub(crate) max_batch: usize,
    /// The largest request body, in bytes.
    #[arg(long, default_value_t = 1 << 20)]
    pub(crate) max_body: usize,
    /// Factorization models: answer users from the HNSW graph `netrex index` saved beside the
    /// model, searching this many candidates (higher: slower, closer to exact), instead of
    /// exact search.
    #[arg(long, value_name = "EF")]
    pub(crate) approximate: Option<usize>,
}

/// How `recommend --similar-to` compares two items.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum SimilarityArg {
    /// The cosine of the item vectors.
    Cosine,
    /// Their inner product.
    Dot,
}

#[derive(Args)]
pub(crate) struct RecommendArgs {
    /// The saved model's folder.
    #[arg(long)]
    pub(crate) model: PathBuf,
    /// Factorization models: the user's raw id, as in the training data.
    #[arg(
        long,
        required_unless_present_any = ["items", "similar_to"],
        conflicts_with_all = ["items", "similar_to"]
    )]
    pub(crate) user: Option<String>,
    /// Factorization models: the items most like this item (raw id) by their vectors, the
    /// item itself left out.
    #[arg(long, value_name = "ITEM", conflicts_with = "items")]
    pub(crate) similar_to: Option<String>,
    /// How --similar-to compares item vectors.
    #[arg(long, value_enum, default_value_t = SimilarityArg::Cosine, requires = "similar_to")]
    pub(crate) similarity: SimilarityArg,
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
