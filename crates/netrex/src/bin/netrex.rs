//! The `netrex` command line: fit, evaluate and recommend.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use serde_json::json;

use netrex::data::ingest::{
    load_csv, load_csv_pair, load_movielens, load_movielens_split, ColumnMapping, CsvFormat,
};
use netrex::data::split::{leave_last_k, random_split, temporal_split, user_split};
use netrex::data::{Dataset, MovieLens, OfficialSplit};
use netrex::evaluation::{evaluate, Popularity};
use netrex::prelude::*;
use netrex::FactorizationConfigBuilder;
use netrex::SequenceConfig;
use netrex::{Checkpoint, ComputeDevice, EpochEnd, NetrexError};

#[derive(Parser)]
#[command(
    name = "netrex",
    version,
    about = "Neural recommender models: fit, evaluate, recommend."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a model, evaluate it on the test split, optionally save it.
    #[command(
        after_help = "Examples:\n  netrex fit --dataset ml-100k --split ua --model factorization --loss warp \\\n      --dim 128 --batch-size 1024 --epochs 10 --seed 0 --save model/\n  netrex fit --dataset ml-100k --split ua --loss warp --eval-every 1 --plot curve.svg\n  netrex fit --dataset ml-100k --split ua --loss warp --checkpoint-every 2 --save run/\n  netrex fit --dataset ml-100k --split ua --resume run/        # after an interruption\n  netrex fit --dataset ml-100k --model lstm --split user --dim 64 --threads 2"
    )]
    Fit(Box<FitArgs>),
    /// Evaluate a saved model on a dataset's test split.
    #[command(
        after_help = "Example:\n  netrex evaluate --model model/ --dataset ml-100k --split ua --plot at-k.svg"
    )]
    Evaluate(Box<EvaluateArgs>),
    /// Recommend items for a user of a saved model (raw ids in, raw ids and titles out).
    #[command(after_help = "Example:\n  netrex recommend --model model/ --user 196 -k 10")]
    Recommend(RecommendArgs),
}

#[derive(Args, Clone)]
struct DataArgs {
    /// A MovieLens release (ml-100k, ml-1m, ml-10m, ml-20m, ml-25m, ml-32m, ml-latest-small,
    /// ml-latest), or synthetic-tiled / synthetic-markov.
    #[arg(long, conflicts_with = "csv")]
    dataset: Option<String>,
    /// synthetic-tiled: number of rows (users).
    #[arg(long, default_value_t = 1000)]
    rows: usize,
    /// synthetic-tiled: length of each row.
    #[arg(long, default_value_t = 20)]
    length: usize,
    /// synthetic-markov: users.
    #[arg(long, default_value_t = 100)]
    users: usize,
    /// synthetic-markov: items.
    #[arg(long, default_value_t = 100)]
    items: usize,
    /// synthetic-markov: interactions.
    #[arg(long, default_value_t = 10_000)]
    interactions: usize,
    /// synthetic-markov: Dirichlet concentration (small: predictable).
    #[arg(long, default_value_t = 1e-3)]
    concentration: f64,
    /// synthetic-markov: order of the chain.
    #[arg(long, default_value_t = 2)]
    order: usize,
    /// Folder holding the release (default: $NETREX_DATA_DIR, then the cache folder).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// A CSV file of interactions instead of MovieLens.
    #[arg(long)]
    csv: Option<PathBuf>,
    /// A test CSV made elsewhere: --csv is then the train set, evaluated as given.
    #[arg(long, requires = "csv")]
    test_csv: Option<PathBuf>,
    /// User id column of the CSV.
    #[arg(long, default_value = "user")]
    user_col: String,
    /// Item id column of the CSV.
    #[arg(long, default_value = "item")]
    item_col: String,
    /// Integer timestamp column of the CSV.
    #[arg(long)]
    timestamp_col: Option<String>,
    /// Rating column of the CSV.
    #[arg(long)]
    rating_col: Option<String>,
    /// Sample-weight column of the CSV.
    #[arg(long)]
    weight_col: Option<String>,
    /// Field separator of the CSV (one character; `tab` for a tab).
    #[arg(long, default_value = ",")]
    separator: String,
    /// Drop ratings below this value (default: every rating is an interaction).
    #[arg(long)]
    min_rating: Option<f32>,
    /// ua, ub or u1..u5 (ML-100K's official splits), random, user, leave-last or temporal.
    /// Default: ua for ml-100k, random otherwise.
    #[arg(long)]
    split: Option<String>,
    /// Test share for random, user and temporal splits.
    #[arg(long, default_value_t = 0.2)]
    test_fraction: f64,
    /// Interactions per user held out by the leave-last split.
    #[arg(long, default_value_t = 1)]
    leave_last: usize,
}

#[derive(Args)]
struct FitArgs {
    #[command(flatten)]
    data: DataArgs,
    /// factorization (bilinear) or popularity.
    #[arg(long, default_value = "factorization")]
    model: String,
    /// pointwise, bpr, bpr-log, hinge, adaptive-hinge or warp.
    #[arg(long, default_value = "adaptive-hinge")]
    loss: String,
    /// Negatives per positive (default: the loss's own).
    #[arg(long)]
    negatives: Option<usize>,
    /// Embedding dimension (default: 128 for factorization, 32 for sequence models).
    #[arg(long)]
    dim: Option<usize>,
    /// Minibatch size: interactions for factorization (default 1024), sequences for sequence
    /// models (default 32).
    #[arg(long)]
    batch_size: Option<usize>,
    /// Sequence models: length of the padded rows (default 200; 20 for synthetic data).
    #[arg(long)]
    max_len: Option<usize>,
    /// cnn: kernel width of the causal convolutions.
    #[arg(long, default_value_t = 3)]
    kernel_width: usize,
    /// cnn: comma-separated dilations, one layer each.
    #[arg(long, default_value = "1")]
    dilations: String,
    /// cnn: no residual connections.
    #[arg(long)]
    no_residual: bool,
    /// Epochs.
    #[arg(long, default_value_t = FactorizationConfig::default().epochs)]
    epochs: usize,
    /// Learning rate (default: tuned per loss, see docs/results.md).
    #[arg(long)]
    learning_rate: Option<f32>,
    /// constant or linear (default: tuned per loss).
    #[arg(long)]
    lr_schedule: Option<String>,
    /// L2 penalty.
    #[arg(long, default_value_t = FactorizationConfig::default().l2)]
    l2: f32,
    /// sgd, adagrad or adam.
    #[arg(long, default_value = "adam")]
    optimizer: String,
    /// Seed of the split, initialisation, shuffling and negative sampling.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Worker threads: factorization with a built-in loss trains Hogwild-style on this many
    /// threads; 1 is deterministic.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Train through dfdx's tape even where the fused kernel applies (for comparisons).
    #[arg(long)]
    generic: bool,
    /// Keep the tables and a dense optimizer on the device for the whole fit (the default
    /// with --device cuda; on the CPU for comparisons).
    #[arg(long)]
    resident: bool,
    /// Where dfdx runs the model: cpu, or cuda in a build with the `cuda` feature (an NVIDIA
    /// GPU; the fused CPU kernel is then not used).
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Save the trained model into this folder.
    #[arg(long)]
    save: Option<PathBuf>,
    /// Write a checkpoint under the --save folder every N epochs (CPU training).
    #[arg(long, value_name = "N")]
    checkpoint_every: Option<usize>,
    /// Continue the run checkpointed under DIR (pass the same data arguments); the final
    /// model is saved there.
    #[arg(long, value_name = "DIR")]
    resume: Option<PathBuf>,
    /// Evaluate on the test set every K epochs (shown in the --plot chart).
    #[arg(long, value_name = "K")]
    eval_every: Option<usize>,
    /// Draw the training curve (loss per epoch, test MRR with --eval-every) into this SVG file.
    #[arg(long, value_name = "FILE.svg")]
    plot: Option<PathBuf>,
    /// Print one JSON object on stdout instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct EvaluateArgs {
    /// The saved model's folder.
    #[arg(long)]
    model: PathBuf,
    #[command(flatten)]
    data: DataArgs,
    /// Seed of the split.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Worker threads.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Draw precision, recall and NDCG against k into this SVG file.
    #[arg(long, value_name = "FILE.svg")]
    plot: Option<PathBuf>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct RecommendArgs {
    /// The saved model's folder.
    #[arg(long)]
    model: PathBuf,
    /// Factorization models: the user's raw id, as in the training data.
    #[arg(long, required_unless_present = "items", conflicts_with = "items")]
    user: Option<String>,
    /// Sequence models: the history, comma-separated raw item ids, oldest first.
    #[arg(long)]
    items: Option<String>,
    /// How many items.
    #[arg(short, default_value_t = 10)]
    k: usize,
    /// Also recommend items the user already has.
    #[arg(long)]
    include_seen: bool,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

type Failure = Box<dyn std::error::Error>;

fn load(args: &DataArgs, seed: u64) -> Result<(Dataset, TrainTest), Failure> {
    let columns = || {
        let mut m = ColumnMapping::new(&args.user_col, &args.item_col);
        m.timestamp = args.timestamp_col.clone();
        m.rating = args.rating_col.clone();
        m.weight = args.weight_col.clone();
        m
    };
    let format = || -> Result<CsvFormat, Failure> {
        let separator = match args.separator.as_str() {
            "tab" | "\\t" => b'\t',
            s if s.len() == 1 => s.as_bytes()[0],
            s => return Err(format!("--separator must be one character, got {s:?}").into()),
        };
        Ok(CsvFormat {
            separator,
            ..CsvFormat::default()
        })
    };
    let split_of = |data: Dataset, split: &str| -> Result<(Dataset, TrainTest), Failure> {
        let x = &data.interactions;
        let parts = match split {
            "random" => random_split(x, args.test_fraction, seed)?,
            "user" => user_split(x, args.test_fraction, seed)?,
            "leave-last" => leave_last_k(x, args.leave_last)?,
            "temporal" => temporal_split(x, args.test_fraction)?,
            other => return Err(format!("unknown split {other:?}: use random, user, leave-last or temporal (ua/ub/u1..u5 for ml-100k)").into()),
        };
        Ok((data, parts))
    };
    if let Some(csv) = &args.csv {
        if let Some(test) = &args.test_csv {
            return Ok(load_csv_pair(
                csv,
                test,
                &format()?,
                &columns(),
                args.min_rating,
            )?);
        }
        let data = load_csv(csv, &format()?, &columns(), args.min_rating)?;
        return split_of(data, args.split.as_deref().unwrap_or("random"));
    }
    let name = args
        .dataset
        .as_deref()
        .ok_or("give --dataset NAME or --csv PATH")?;
    if let Some(data) = synthetic(args, name, seed)? {
        return split_of(data, args.split.as_deref().unwrap_or("user"));
    }
    let dataset: MovieLens = name.parse()?;
    let official = args
        .split
        .as_deref()
        .map_or(dataset == MovieLens::Ml100k, |s| {
            s.parse::<OfficialSplit>().is_ok()
        });
    if dataset == MovieLens::Ml100k && official {
        let split: OfficialSplit = args.split.as_deref().unwrap_or("ua").parse()?;
        return Ok(load_movielens_split(
            args.data_dir.as_deref(),
            split,
            args.min_rating,
        )?);
    }
    let data = load_movielens(dataset, args.data_dir.as_deref(), args.min_rating)?;
    split_of(data, args.split.as_deref().unwrap_or("random"))
}

/// A synthetic dataset wrapped as a `Dataset` (ids are their own raw ids).
fn synthetic(args: &DataArgs, name: &str, seed: u64) -> Result<Option<Dataset>, Failure> {
    use netrex::data::synthetic::{markov, tiled, MarkovConfig};
    let interactions = match name {
        "synthetic-tiled" => tiled(args.rows, args.length)?,
        "synthetic-markov" => markov(&MarkovConfig {
            num_users: args.users,
            num_items: args.items,
            num_interactions: args.interactions,
            concentration: args.concentration,
            order: args.order,
            seed,
        })?,
        _ => return Ok(None),
    };
    let ids = |n: usize| netrex::data::IdMap::from_raw((0..n as i64).map(RawId::Int).collect());
    Ok(Some(Dataset {
        users: ids(interactions.num_users())?,
        items: ids(interactions.num_items())?,
        item_titles: None,
        report: Default::default(),
        interactions,
    }))
}

fn metrics_json(report: &Report) -> serde_json::Value {
    let at = |k: usize| report.at(k).copied().unwrap_or_default();
    json!({
        "mrr": report.mrr,
        "auc": report.auc,
        "precision_at_10": at(10).precision,
        "recall_at_10": at(10).recall,
        "ndcg_at_10": at(10).ndcg,
        "hit_rate_at_10": at(10).hit_rate,
        "test_users": report.per_user.len(),
    })
}

fn print_metrics(report: &Report) {
    let at10 = report.at(10).copied().unwrap_or_default();
    println!(
        "test: MRR {:.4}  AUC {:.4}  P@10 {:.4}  R@10 {:.4}  NDCG@10 {:.4}  ({} users)",
        report.mrr,
        report.auc,
        at10.precision,
        at10.recall,
        at10.ndcg,
        report.per_user.len()
    );
}

/// Runs `$body` with `$dev` bound to the dfdx device called `$name`.
macro_rules! on_device {
    ($name:expr, $dev:ident => $body:expr) => {
        match $name {
            "cpu" => {
                let $dev = <netrex::losses::dfdx::prelude::Cpu as ComputeDevice>::open()?;
                $body
            }
            #[cfg(feature = "cuda")]
            "cuda" => {
                let $dev = <netrex::losses::dfdx::prelude::Cuda as ComputeDevice>::open()?;
                $body
            }
            other => Err(unknown_device(other)),
        }
    };
}

fn unknown_device(name: &str) -> Failure {
    if name == "cuda" {
        "this netrex was built without CUDA: rebuild with `cargo build --release --features cuda` \
         (docs/gpu.md), or use --device cpu"
            .into()
    } else {
        format!(
            "unknown device {name:?}: this build has {}",
            netrex::available_devices().join(", ")
        )
        .into()
    }
}

fn fit(args: FitArgs) -> Result<(), Failure> {
    if args.checkpoint_every == Some(0) || args.eval_every == Some(0) {
        return Err("--checkpoint-every and --eval-every take a number of epochs >= 1".into());
    }
    if args.checkpoint_every.is_some() && args.save.is_none() && args.resume.is_none() {
        return Err("--checkpoint-every needs --save DIR: checkpoints go under that folder".into());
    }
    if let Some(dir) = &args.resume {
        return resume(&args, dir);
    }
    // the device is checked (and opened once) before any data is read
    on_device!(args.device.as_str(), _device => Ok::<(), Failure>(()))?;
    let synthetic = args
        .data
        .dataset
        .as_deref()
        .is_some_and(|d| d.starts_with("synthetic-"));
    let sequence_split =
        args.data.split.as_deref() == Some("user") || (synthetic && args.data.split.is_none());
    match args.model.as_str() {
        "lstm" | "cnn" | "pool" | "pool-sum" => return fit_sequence(&args, synthetic),
        "popularity" if sequence_split => return fit_sequence(&args, synthetic),
        "popularity" => return fit_popularity(&args),
        "factorization" => {}
        other => {
            return Err(format!(
            "unknown model {other:?}: use factorization, popularity, lstm, cnn, pool or pool-sum"
        )
            .into())
        }
    }
    // hyperparameters are checked before any data is read
    let loss = parse_loss(&args)?;
    let config = training_config(&args, FactorizationConfig::tuned_for(&args.loss))?;
    let (data, parts) = load(&args.data, args.seed)?;
    if !args.json {
        describe(&data, &parts);
    }
    on_device!(args.device.as_str(), device => {
        fit_factorization(device, &args, config, loss, &data, &parts)
    })
}

fn fit_factorization<D: ComputeDevice>(
    device: D,
    args: &FitArgs,
    config: FactorizationConfig,
    loss: BuiltinLoss,
    data: &Dataset,
    parts: &TrainTest,
) -> Result<(), Failure>
where
    ImplicitFactorizationModel<Bilinear, BuiltinLoss, D>: Fit + Checkpoint,
{
    let mut model = ImplicitFactorizationModel::bilinear_on(
        device,
        config,
        data.users.len(),
        data.items.len(),
        loss,
    )?
    .with_progress(!args.json);
    if args.resident {
        model = model.with_resident_tables(true);
    }
    train_factorization(model, args, data, parts, false)
}

/// Fits (or resumes) `model`, with the per-epoch evaluation, checkpoints and plot asked for,
/// then evaluates, saves and reports.
fn train_factorization<D: ComputeDevice>(
    mut model: ImplicitFactorizationModel<Bilinear, BuiltinLoss, D>,
    args: &FitArgs,
    data: &Dataset,
    parts: &TrainTest,
    resume: bool,
) -> Result<(), Failure>
where
    ImplicitFactorizationModel<Bilinear, BuiltinLoss, D>: Fit + Checkpoint,
{
    let catalog = Catalog {
        users: Some(data.users.clone()),
        items: Some(data.items.clone()),
        titles: data.item_titles.clone(),
        seen: Some(parts.train.histories()),
    };
    let save_dir = args.save.clone().or_else(|| args.resume.clone());
    let mut curve: Vec<(usize, f64)> = Vec::new();
    let mut on_epoch = |m: &ImplicitFactorizationModel<Bilinear, BuiltinLoss, D>,
                        end: &EpochEnd|
     -> Result<(), NetrexError> {
        if due(args.eval_every, end) {
            let report =
                m.to_cpu()?
                    .evaluate(&parts.test, Some(&parts.train), &EvalConfig::default())?;
            if !args.json {
                eprintln!(
                    "epoch {:>3}: loss {:.4}, test MRR {:.4}",
                    end.epoch, end.loss, report.mrr
                );
            }
            curve.push((end.epoch, report.mrr));
        }
        checkpoint_if_due(args, save_dir.as_deref(), m, end, &catalog)
    };
    let fitted = if resume {
        Fit::resume_with(&mut model, &parts.train, &mut on_epoch)?
    } else {
        Fit::fit_with(&mut model, &parts.train, &mut on_epoch)?
    };
    // scored on the CPU whatever the training device
    let report =
        model
            .to_cpu()?
            .evaluate(&parts.test, Some(&parts.train), &EvalConfig::default())?;
    if let Some(dir) = &save_dir {
        model.save(dir, &catalog)?;
    }
    if let Some(file) = &args.plot {
        let title = format!("factorization, {} loss", model.loss().name());
        netrex::plot::training_curve(file, &title, model.loss_history(), &curve)?;
    }
    if args.json {
        let mut out = metrics_json(&report);
        out["model"] = json!("factorization");
        out["loss"] = json!(model.loss().name());
        out["fit_seconds"] = json!(fitted.seconds);
        out["device"] = json!(D::NAME);
        out["fused_kernel"] = json!(model.uses_fused_kernel());
        out["per_example_sgd"] = json!(model.uses_per_example_sgd());
        out["resident_tables"] = json!(model.uses_resident_tables());
        out["epochs"] = json!(model.epochs_trained());
        out["loss_history"] = json!(fitted.loss_history);
        out["config"] = serde_json::to_value(model.config())?;
        println!("{out}");
    } else {
        print_epochs(&fitted.loss_history);
        println!(
            "fit: {} epochs in {:.2} s, final loss {:.4}",
            model.epochs_trained(),
            fitted.seconds,
            fitted.loss_history.last().copied().unwrap_or(f32::NAN)
        );
        print_metrics(&report);
        if let Some(dir) = &save_dir {
            println!("saved to {}", dir.display());
        }
    }
    Ok(())
}

/// The loss named by `--loss`, with `--negatives` if given.
fn parse_loss(args: &FitArgs) -> Result<BuiltinLoss, Failure> {
    BuiltinLoss::from_name(&args.loss, args.negatives).ok_or_else(|| {
        format!(
            "unknown loss {:?}: use one of {}",
            args.loss,
            BuiltinLoss::NAMES.join(", ")
        )
        .into()
    })
}

/// The training settings of the command line over `defaults` (which differ per model kind).
fn training_config(
    args: &FitArgs,
    defaults: FactorizationConfig,
) -> Result<FactorizationConfig, Failure> {
    let mut builder = FactorizationConfigBuilder::from(defaults.clone())
        .embedding_dim(args.dim.unwrap_or(defaults.embedding_dim))
        .batch_size(args.batch_size.unwrap_or(defaults.batch_size))
        .epochs(args.epochs)
        .learning_rate(args.learning_rate.unwrap_or(defaults.learning_rate))
        .lr_schedule(
            args.lr_schedule
                .as_deref()
                .map(str::parse)
                .transpose()?
                .unwrap_or(defaults.lr_schedule),
        )
        .l2(args.l2)
        .optimizer(args.optimizer.parse()?)
        .seed(args.seed)
        .threads(args.threads)
        .fused(!args.generic);
    if let Some(n) = args.negatives {
        builder = builder.negatives(n);
    }
    Ok(builder.build()?)
}

fn print_epochs(history: &[f32]) {
    for (k, l) in history.iter().enumerate() {
        eprintln!("epoch {:>3}: loss {l:.4}", k + 1);
    }
}

fn fit_sequence(args: &FitArgs, synthetic: bool) -> Result<(), Failure> {
    use rand::SeedableRng;
    let loss = parse_loss(args)?;
    let defaults = FactorizationConfig {
        embedding_dim: 32,
        batch_size: 32,
        learning_rate: 0.01,
        ..FactorizationConfig::default()
    };
    let config = SequenceConfig {
        training: training_config(args, defaults)?,
        max_len: args.max_len.unwrap_or(if synthetic { 20 } else { 200 }),
    };
    config.validate()?;
    let mut data_args = args.data.clone();
    if data_args.split.is_none() {
        data_args.split = Some("user".into());
    }
    let (data, parts) = load(&data_args, args.seed)?;
    if !args.json {
        describe(&data, &parts);
    }
    let n = data.items.len();
    let dim = config.training.embedding_dim;
    let mut rng = rand::rngs::StdRng::seed_from_u64(args.seed);
    let representation = match args.model.as_str() {
        "lstm" => AnySequence::Lstm(Lstm::new(n, dim, &mut rng)?),
        "pool" => AnySequence::Pooling(Pooling::new(n, dim, true, &mut rng)?),
        "pool-sum" => AnySequence::Pooling(Pooling::new(n, dim, false, &mut rng)?),
        "cnn" => {
            let dilations: Vec<usize> = args
                .dilations
                .split(',')
                .map(|d| {
                    d.trim()
                        .parse::<usize>()
                        .map_err(|_| format!("--dilations: {d:?} is not a whole number"))
                })
                .collect::<Result<_, _>>()?;
            AnySequence::Cnn(CausalCnn::new(
                n,
                dim,
                args.kernel_width,
                &dilations,
                !args.no_residual,
                &mut rng,
            )?)
        }
        _ => AnySequence::Popularity(SequencePopularity::new(n, &mut rng)?),
    };
    on_device!(args.device.as_str(), device => {
        run_sequence(device, args, config, representation, loss, &data, &parts)
    })
}

fn run_sequence<D: ComputeDevice>(
    device: D,
    args: &FitArgs,
    config: SequenceConfig,
    representation: AnySequence,
    loss: BuiltinLoss,
    data: &Dataset,
    parts: &TrainTest,
) -> Result<(), Failure>
where
    ImplicitSequenceModel<AnySequence, BuiltinLoss, D>: Fit + Checkpoint,
{
    let mut model = ImplicitSequenceModel::new_on(device, config, representation, loss)?
        .with_progress(!args.json);
    if args.resident {
        model = model.with_resident_tables(true);
    }
    train_sequence(model, args, data, parts, false)
}

/// Scores of a sequence model on held-out histories: full-ranking MRR, the same excluding
/// seen items, and sampled-200 MRR.
fn sequence_scores(
    scorer: &ImplicitSequenceModel<AnySequence, BuiltinLoss>,
    args: &FitArgs,
    parts: &TrainTest,
    full_only: bool,
) -> Result<(f64, f64, f64), Failure> {
    use netrex::evaluation::{sampled_mrr_score, sequence_mrr_score, SequenceEvalConfig};
    let max_len = scorer.config().max_len;
    // every non-overlapping window of each held-out history, scored on its last item, as
    // Spotlight evaluates `to_sequence(step_size=None)`: many more points than one per user
    let histories = netrex::data::sequence::windows(
        &parts.test.histories(),
        parts.test.num_items(),
        max_len,
        2,
        max_len,
    )?
    .target_histories();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads.max(1))
        .build()?;
    Ok(
        pool.install(|| -> Result<_, netrex::evaluation::EvalError> {
            let score = |exclude_seen| {
                sequence_mrr_score(
                    scorer,
                    &histories,
                    &SequenceEvalConfig {
                        exclude_seen,
                        max_context: Some(max_len),
                    },
                )
            };
            let full = score(false)?.mean;
            if full_only {
                return Ok((full, f64::NAN, f64::NAN));
            }
            let excluding = score(true)?.mean;
            let sampled = sampled_mrr_score(
                scorer,
                &histories,
                200,
                Some(max_len.saturating_sub(1)),
                args.seed,
            )?;
            Ok((full, excluding, sampled.mean))
        })?,
    )
}

/// Fits (or resumes) a sequence model, with the per-epoch evaluation, checkpoints and plot
/// asked for, then evaluates, saves and reports.
fn train_sequence<D: ComputeDevice>(
    mut model: ImplicitSequenceModel<AnySequence, BuiltinLoss, D>,
    args: &FitArgs,
    data: &Dataset,
    parts: &TrainTest,
    resume: bool,
) -> Result<(), Failure>
where
    ImplicitSequenceModel<AnySequence, BuiltinLoss, D>: Fit + Checkpoint,
{
    let catalog = Catalog {
        users: Some(data.users.clone()),
        items: Some(data.items.clone()),
        titles: data.item_titles.clone(),
        seen: None,
    };
    let save_dir = args.save.clone().or_else(|| args.resume.clone());
    let mut curve: Vec<(usize, f64)> = Vec::new();
    let mut on_epoch = |m: &ImplicitSequenceModel<AnySequence, BuiltinLoss, D>,
                        end: &EpochEnd|
     -> Result<(), NetrexError> {
        if due(args.eval_every, end) {
            let (mrr, _, _) = sequence_scores(&m.to_cpu()?, args, parts, true)
                .map_err(|e| NetrexError::Training(e.to_string()))?;
            if !args.json {
                eprintln!(
                    "epoch {:>3}: loss {:.4}, test sequence MRR {mrr:.4}",
                    end.epoch, end.loss
                );
            }
            curve.push((end.epoch, mrr));
        }
        checkpoint_if_due(args, save_dir.as_deref(), m, end, &catalog)
    };
    let fitted = if resume {
        Fit::resume_with(&mut model, &parts.train, &mut on_epoch)?
    } else {
        Fit::fit_with(&mut model, &parts.train, &mut on_epoch)?
    };
    // scored on the CPU whatever the training device
    let (full, excluding, sampled) = sequence_scores(&model.to_cpu()?, args, parts, false)?;
    if let Some(dir) = &save_dir {
        model.save(dir, &catalog)?;
    }
    if let Some(file) = &args.plot {
        let title = format!(
            "{} sequence model, {} loss",
            model.representation().name(),
            model.loss().name()
        );
        netrex::plot::training_curve(file, &title, model.loss_history(), &curve)?;
    }
    if args.json {
        let out = json!({
            "model": model.representation().name(),
            "loss": model.loss().name(),
            "sequence_mrr": full,
            "sequence_mrr_excluding_seen": excluding,
            "sampled_mrr": sampled,
            "fit_seconds": fitted.seconds,
            "epochs": model.epochs_trained(),
            "device": D::NAME,
            "host_kernel": model.uses_host_kernel(),
            "resident_tables": model.uses_resident_tables(),
            "loss_history": fitted.loss_history,
            "eval_curve": curve,
            "config": serde_json::to_value(model.config())?,
        });
        println!("{out}");
    } else {
        print_epochs(&fitted.loss_history);
        println!(
            "fit: {} epochs in {:.2} s",
            model.epochs_trained(),
            fitted.seconds
        );
        println!("test: sequence MRR {full:.4}  excluding seen {excluding:.4}  sampled-200 MRR {sampled:.4}");
        if let Some(dir) = &save_dir {
            println!("saved to {}", dir.display());
        }
    }
    Ok(())
}

/// Whether an every-`k`-epochs action falls on this epoch.
fn due(every: Option<usize>, end: &EpochEnd) -> bool {
    every.is_some_and(|k| end.epoch.is_multiple_of(k))
}

/// Writes a checkpoint under `dir` when `--checkpoint-every` falls on this epoch.
fn checkpoint_if_due(
    args: &FitArgs,
    dir: Option<&std::path::Path>,
    model: &impl Checkpoint,
    end: &EpochEnd,
    catalog: &Catalog,
) -> Result<(), NetrexError> {
    match dir {
        Some(dir) if due(args.checkpoint_every, end) => model.save_checkpoint(dir, catalog),
        _ => Ok(()),
    }
}

/// `fit --resume DIR`: loads the checkpoint under DIR and finishes its run on the CPU.
fn resume(args: &FitArgs, dir: &std::path::Path) -> Result<(), Failure> {
    let found = netrex::checkpoint_dir(dir).ok_or_else(|| {
        format!(
            "no checkpoint under {}: fit with --checkpoint-every N --save {} first",
            dir.display(),
            dir.display()
        )
    })?;
    let sequence = netrex::sequence_persist::is_sequence_model(&found);
    let loss_name = if sequence {
        netrex::sequence_persist::saved_sequence_loss_name(&found)?
    } else {
        netrex::persist::saved_loss_name(&found)?
    };
    let loss = BuiltinLoss::from_name(&loss_name, None)
        .ok_or_else(|| format!("the checkpoint's loss {loss_name:?} is not a built-in loss"))?;
    let mut data_args = args.data.clone();
    if sequence && data_args.split.is_none() {
        data_args.split = Some("user".into());
    }
    let (data, parts) = load(&data_args, args.seed)?;
    if sequence {
        let (model, catalog) = ImplicitSequenceModel::load_checkpoint(dir, loss)?;
        check_same_ids(&catalog, &data)?;
        train_sequence(model.with_progress(!args.json), args, &data, &parts, true)
    } else {
        let (model, catalog) =
            ImplicitFactorizationModel::<Bilinear, BuiltinLoss>::load_checkpoint(dir, loss)?;
        check_same_ids(&catalog, &data)?;
        train_factorization(model.with_progress(!args.json), args, &data, &parts, true)
    }
}

/// The data must map ids the way the model was trained, or its scores mean nothing.
fn check_same_ids(catalog: &Catalog, data: &Dataset) -> Result<(), Failure> {
    if let (Some(users), Some(items)) = (&catalog.users, &catalog.items) {
        if users != &data.users || items != &data.items {
            return Err("the data's ids do not match the model's: use the dataset and split it was trained on".into());
        }
    }
    Ok(())
}

fn describe(data: &Dataset, parts: &TrainTest) {
    eprintln!(
        "data: {} users, {} items; train {} / test {} interactions",
        data.users.len(),
        data.items.len(),
        parts.train.len(),
        parts.test.len()
    );
}

fn fit_popularity(args: &FitArgs) -> Result<(), Failure> {
    if args.save.is_some() {
        return Err("--save is for trained models; popularity has nothing to save".into());
    }
    let (data, parts) = load(&args.data, args.seed)?;
    if !args.json {
        describe(&data, &parts);
    }
    let model = Popularity::fit(&parts.train);
    let report = evaluate(
        &model,
        &parts.test,
        Some(&parts.train),
        &EvalConfig::default(),
    )?;
    if args.json {
        let mut out = metrics_json(&report);
        out["model"] = json!("popularity");
        println!("{out}");
    } else {
        print_metrics(&report);
    }
    Ok(())
}

fn load_model(
    dir: &std::path::Path,
) -> Result<(ImplicitFactorizationModel<Bilinear, BuiltinLoss>, Catalog), Failure> {
    let name = netrex::persist::saved_loss_name(dir)?;
    let loss = BuiltinLoss::from_name(&name, None).ok_or_else(|| {
        format!(
            "{}: trained with loss {name:?}, which this netrex does not know",
            dir.display()
        )
    })?;
    Ok(ImplicitFactorizationModel::<Bilinear, BuiltinLoss>::load(
        dir, loss,
    )?)
}

fn evaluate_saved(args: EvaluateArgs) -> Result<(), Failure> {
    let (model, catalog) = load_model(&args.model)?;
    let (data, parts) = load(&args.data, args.seed)?;
    // the data must map ids the way the model was trained, or the scores mean nothing
    if let (Some(users), Some(items)) = (&catalog.users, &catalog.items) {
        if users != &data.users || items != &data.items {
            return Err("the data's ids do not match the model's: evaluate on the dataset and split it was trained on".into());
        }
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads.max(1))
        .build()?;
    // a chart needs more cut-offs than the summary
    let config = if args.plot.is_some() {
        EvalConfig {
            ks: vec![1, 2, 3, 5, 10, 15, 20, 30, 50],
        }
    } else {
        EvalConfig::default()
    };
    let report = pool.install(|| {
        netrex::evaluation::evaluate(&model, &parts.test, Some(&parts.train), &config)
    })?;
    if let Some(file) = &args.plot {
        let title = format!(
            "{}: {} test users",
            args.model.display(),
            report.per_user.len()
        );
        netrex::plot::metrics_at_k(file, &title, &report)?;
    }
    if args.json {
        println!("{}", metrics_json(&report));
    } else {
        print_metrics(&report);
        if let Some(file) = &args.plot {
            println!("chart written to {}", file.display());
        }
    }
    Ok(())
}

fn recommend_sequence(args: RecommendArgs) -> Result<(), Failure> {
    let name = netrex::sequence_persist::saved_sequence_loss_name(&args.model)?;
    let loss = BuiltinLoss::from_name(&name, None)
        .ok_or_else(|| format!("trained with loss {name:?}, which this netrex does not know"))?;
    let (model, catalog) =
        ImplicitSequenceModel::<AnySequence, BuiltinLoss>::load(&args.model, loss)?;
    let text = args
        .items
        .as_deref()
        .ok_or("a sequence model recommends from a history: give --items a,b,c")?;
    let items = catalog.items.as_ref().ok_or("the model has no item ids")?;
    let history: Vec<u32> = text
        .split(',')
        .filter(|t| !t.trim().is_empty())
        .map(|t| items.index_of(&RawId::parse(t.trim()), "item"))
        .collect::<Result<_, _>>()?;
    let recs = model.recommend(&history, args.k, !args.include_seen)?;
    print_recommendations(&recs, &catalog, json!({"history": text}), args.json);
    Ok(())
}

/// Prints recommendations as text, or as `header` plus an `items` list in JSON.
fn print_recommendations(
    recs: &[(u32, f32)],
    catalog: &Catalog,
    mut header: serde_json::Value,
    as_json: bool,
) {
    if as_json {
        let list: Vec<_> = recs
            .iter()
            .map(|&(i, s)| json!({"item": catalog.item_raw(i).to_string(), "title": catalog.title(i), "score": s}))
            .collect();
        header["items"] = json!(list);
        println!("{header}");
    } else {
        for (rank, &(i, s)) in recs.iter().enumerate() {
            println!(
                "{:>3}. {:<8} {:<60} {:.4}",
                rank + 1,
                catalog.item_raw(i).to_string(),
                catalog.title(i).unwrap_or(""),
                s
            );
        }
    }
}

fn recommend(args: RecommendArgs) -> Result<(), Failure> {
    if netrex::sequence_persist::is_sequence_model(&args.model) {
        return recommend_sequence(args);
    }
    let (model, catalog) = load_model(&args.model)?;
    let user = args
        .user
        .as_deref()
        .ok_or("a factorization model recommends for a user: give --user ID")?;
    let raw = RawId::parse(user);
    let user = catalog.user_index(&raw)?;
    let exclude: &[u32] = match (&catalog.seen, args.include_seen) {
        (Some(seen), false) => seen.get(user as usize),
        _ => &[],
    };
    let items = model.recommend(user, args.k, exclude)?;
    print_recommendations(
        &items,
        &catalog,
        json!({"user": raw.to_string()}),
        args.json,
    );
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Fit(a) => fit(*a),
        Command::Evaluate(a) => evaluate_saved(*a),
        Command::Recommend(a) => recommend(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
