//! `netrex fit`: builds the model `--model` names and hands it to the one fit-and-report
//! path; `--resume` finishes a checkpointed run.

use std::path::Path;
use std::sync::Arc;

use clap::ArgMatches;
use rand::SeedableRng;
use serde_json::json;

use netrex::data::Features;
use netrex::evaluation::{evaluate, Popularity};
use netrex::losses::{BuiltinLoss, Loss};
use netrex::prelude::*;
use netrex::representations::HybridSide;
use netrex::representations::Record;
use netrex::representations::{CnnSpec, PoolingSpec, SasrecSpec, SequenceSpec};
use netrex::{feature_map, feature_side, LearningRateSchedule, OptimizerKind, SideFeatures};

use crate::args::{FitArgs, IdSides, ModelName, SamplingName, SplitName};
use crate::device::{on_device, resident_by_default};
use crate::load::{check_same_ids, describe, load, Split};
use crate::report::{metrics_json, metrics_text};
use crate::train::train_and_report;
use crate::Failure;
use netrex::data::cold::Side;

/// Runs `netrex fit`; `matches` says which options were given on the command line.
pub(crate) fn fit(args: FitArgs, matches: &ArgMatches) -> Result<(), Failure> {
    if args.checkpoint_every == Some(0) || args.eval_every == Some(0) {
        return Err("--checkpoint-every and --eval-every take a number of epochs >= 1".into());
    }
    if args.checkpoint_every.is_some() && args.save.is_none() && args.resume.is_none() {
        return Err("--checkpoint-every needs --save DIR: checkpoints go under that folder".into());
    }
    if let Some(dir) = &args.resume {
        return resume(&args, dir, matches);
    }
    // checkpoints hold host tables and their optimizer state: say so before any training
    if args.checkpoint_every.is_some() && (args.resident || resident_by_default(args.device)) {
        return Err(
            "--checkpoint-every saves host tables: it cannot be used with --resident or --device \
             cuda (save the final model with --save instead)"
                .into(),
        );
    }
    let features = args.data.item_features.is_some() || args.data.user_features.is_some();
    if features && (args.data.is_next_item() || args.model == ModelName::Popularity) {
        return Err(
            "--item-features and --user-features train a hybrid factorization model or a \
             sequence model with --split user; the leave-one-out protocol and popularity do not \
             read features"
                .into(),
        );
    }
    if args.data.user_features.is_some() && args.model.is_sequence() {
        return Err(
            "--user-features: a sequence model represents a user by their history; give it \
             --item-features"
                .into(),
        );
    }
    if args.with_ids.is_some() && !features {
        return Err(
            "--with-ids keeps id embeddings beside features: give --item-features or \
                    --user-features"
                .into(),
        );
    }
    if args.data.is_next_item() {
        return crate::next_item::fit_next_item(&args);
    }
    if args.lr_decay_patience.is_some() {
        return Err(
            "--lr-decay-patience decays on the validation score of --split leave-one-out".into(),
        );
    }
    if args.model == ModelName::Cooc {
        return Err("--model cooc ranks next items: use --split leave-one-out".into());
    }
    let cold = matches!(
        args.data.split,
        Some(SplitName::ColdItems | SplitName::ColdUsers)
    );
    if cold && !matches!(args.model, ModelName::Factorization | ModelName::Popularity) {
        return Err("cold-start splits evaluate factorization models and popularity".into());
    }
    if args.model == ModelName::Popularity {
        return fit_popularity(&args);
    }
    // the device is checked (and opened once) before any data is read
    on_device!(args.device, _device => Ok::<(), Failure>(()))?;
    if args.model.is_sequence() {
        fit_sequence(&args)
    } else {
        fit_factorization(&args)
    }
}

/// The training settings of the command line over `defaults` (which differ per model kind),
/// not yet checked: each model kind checks its whole configuration once.
pub(crate) fn training_config(args: &FitArgs, defaults: TrainingConfig) -> TrainingConfig {
    TrainingConfig {
        embedding_dim: args.dim.unwrap_or(defaults.embedding_dim),
        batch_size: args.batch_size.unwrap_or(defaults.batch_size),
        epochs: args.epochs,
        learning_rate: args.learning_rate.unwrap_or(defaults.learning_rate),
        lr_schedule: args.lr_schedule.map_or(defaults.lr_schedule, Into::into),
        l2: args.l2,
        optimizer: args.optimizer.into(),
        negatives: args.negatives.or(defaults.negatives),
        seed: args.seed,
        threads: args.threads,
        fused: !args.generic,
    }
}

fn fit_factorization(args: &FitArgs) -> Result<(), Failure> {
    // hyperparameters are checked before any data is read
    let loss = args.loss()?;
    let config = training_config(args, TrainingConfig::tuned_for(&loss.name())).check()?;
    let split = load(&args.data, args.seed, None)?;
    if !args.json {
        describe(&split.data, &split.parts);
    }
    let made_of = |features: &Option<Features>, ids: usize, users: bool| match features {
        Some(f) => feature_side(f, ids, side_features(args, users)),
        None => Ok(HybridSide::Ids(ids)),
    };
    let users = made_of(&split.user_features, split.data.users.len(), true)?;
    let items = made_of(&split.item_features, split.data.items.len(), false)?;
    let pool = negative_items(args, &split);
    on_device!(args.device, device => {
        let mut model = ImplicitFactorizationModel::hybrid_on(device, config, users, items, loss)?
            .with_progress(!args.json)
            .with_resident_tables(args.resident || resident_by_default(args.device));
        if let Some(pool) = pool {
            model = model.with_negative_items(pool)?;
        }
        train_and_report(model, args, &split, false)
    })
}

/// A cold-items split's training items, which negatives are drawn from (unless
/// `--sample-cold-items`): the cold items stay unseen in training, as new items are.
fn negative_items(args: &FitArgs, split: &Split) -> Option<Vec<u32>> {
    if args.sample_cold_items || !matches!(split.cold, Some((Side::Items, _))) {
        return None;
    }
    let mut seen = vec![false; split.data.items.len()];
    split
        .parts
        .train
        .items()
        .iter()
        .for_each(|&i| seen[i as usize] = true);
    Some(
        (0..seen.len() as u32)
            .filter(|&i| seen[i as usize])
            .collect(),
    )
}

/// How the features of users (`users = true`) or items make up their side.
pub(crate) fn side_features(args: &FitArgs, users: bool) -> SideFeatures {
    SideFeatures {
        with_ids: IdSides::keeps(args.with_ids, users),
        normalise: !args.raw_feature_weights,
        feature_weight: args.feature_weight,
    }
}

/// The layout of the sequence representation `--model` names.
pub(crate) fn sequence_spec(args: &FitArgs, max_len: usize) -> Result<SequenceSpec, Failure> {
    Ok(match args.model {
        ModelName::Lstm => SequenceSpec::Lstm,
        ModelName::Gru => SequenceSpec::Gru,
        ModelName::Pool => SequenceSpec::Pooling(PoolingSpec { mean: true }),
        ModelName::PoolSum => SequenceSpec::Pooling(PoolingSpec { mean: false }),
        ModelName::Cnn => SequenceSpec::Cnn(CnnSpec {
            kernel_width: args.kernel_width,
            dilations: args
                .dilations
                .split(',')
                .map(|d| {
                    d.trim()
                        .parse::<usize>()
                        .map_err(|_| format!("--dilations: {d:?} is not a whole number"))
                })
                .collect::<Result<_, _>>()?,
            residual: !args.no_residual,
        }),
        // a training row of max_len positions; scoring reads one more (the start input)
        ModelName::Sasrec => SequenceSpec::Sasrec(SasrecSpec {
            blocks: args.blocks,
            heads: args.heads,
            dropout: args.dropout,
            positions: max_len + 1,
        }),
        _ => SequenceSpec::Popularity,
    })
}

fn fit_sequence(args: &FitArgs) -> Result<(), Failure> {
    let synthetic = args.data.dataset.is_some_and(|d| d.is_synthetic());
    let defaults = TrainingConfig {
        embedding_dim: 32,
        batch_size: 32,
        learning_rate: 0.01,
        ..TrainingConfig::default()
    };
    let config = SequenceConfig {
        training: training_config(args, defaults),
        max_len: args.max_len.unwrap_or(if synthetic { 20 } else { 200 }),
        negatives: args
            .negative_sampling
            .map_or(NegativeSampling::PerPosition, SamplingName::sampling),
    }
    .check()?;
    let spec = sequence_spec(args, config.max_len)?;
    let split = load(&args.data, args.seed, Some(SplitName::User))?;
    if !args.json {
        describe(&split.data, &split.parts);
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(args.seed);
    let representation = spec.build(
        split.data.items.len(),
        config.training.embedding_dim,
        &mut rng,
    )?;
    let loss = args.loss()?;
    let items = split
        .item_features
        .as_ref()
        .map(|f| feature_map(f, split.data.items.len(), side_features(args, false)))
        .transpose()?
        .map(Arc::new);
    on_device!(args.device, device => {
        let mut model = ImplicitSequenceModel::new_on(device, config, representation, loss)?
            .with_progress(!args.json)
            .with_resident_tables(args.resident || resident_by_default(args.device));
        if let Some(map) = items.clone() {
            model = model.with_item_features(map)?;
        }
        train_and_report(model, args, &split, false)
    })
}

/// `fit --model popularity`: the item-popularity baseline on the factorization protocol.
fn fit_popularity(args: &FitArgs) -> Result<(), Failure> {
    if args.save.is_some() {
        return Err("--save is for trained models; popularity has nothing to save".into());
    }
    let split = load(&args.data, args.seed, None)?;
    let (data, parts) = (&split.data, &split.parts);
    if !args.json {
        describe(data, parts);
    }
    let model = Popularity::fit(&parts.train);
    let config = split.eval_config(EvalConfig::default());
    let report = netrex::in_pool(args.threads, || {
        evaluate(&model, &parts.test, Some(&parts.train), &config)
    })??;
    if args.json {
        let mut out = metrics_json(&report);
        out["model"] = json!("popularity");
        println!("{out}");
    } else {
        println!("{}", metrics_text(&report));
    }
    Ok(())
}

/// `fit --resume DIR`: loads the checkpoint under DIR and finishes its run on the CPU with
/// the settings it was started with.
fn resume(args: &FitArgs, dir: &Path, matches: &ArgMatches) -> Result<(), Failure> {
    let found = netrex::checkpoint_dir(dir).ok_or_else(|| {
        format!(
            "no checkpoint under {}: fit with --checkpoint-every N --save {} first",
            dir.display(),
            dir.display()
        )
    })?;
    let sequence = netrex::sequence_persist::is_sequence_model(&found);
    let loss = crate::evaluate::saved_loss(&found, sequence)?;
    let given = |id: &str| matches.value_source(id) == Some(clap::parser::ValueSource::CommandLine);
    let default_split = sequence.then_some(SplitName::User);
    if sequence {
        let (model, catalog) =
            ImplicitSequenceModel::<AnySequence, BuiltinLoss>::load_checkpoint(dir, loss)?;
        let run = RunSettings {
            config: &model.config().training,
            loss: model.loss().name(),
            max_len: Some(model.config().max_len),
            spec: Some(model.representation().spec()),
        };
        refuse_changes(args, &given, &run)?;
        let split = load(&args.data, args.seed, default_split)?;
        check_same_ids(&catalog, &split.data)?;
        train_and_report(model.with_progress(!args.json), args, &split, true)
    } else {
        let (model, catalog) =
            ImplicitFactorizationModel::<Hybrid, BuiltinLoss>::load_checkpoint(dir, loss)?;
        let run = RunSettings {
            config: model.config(),
            loss: model.loss().name(),
            max_len: None,
            spec: None,
        };
        refuse_changes(args, &given, &run)?;
        let split = load(&args.data, args.seed, default_split)?;
        check_same_ids(&catalog, &split.data)?;
        let mut model = model.with_progress(!args.json);
        if let Some(pool) = negative_items(args, &split) {
            model = model.with_negative_items(pool)?;
        }
        train_and_report(model, args, &split, true)
    }
}

/// What a checkpointed run was started with.
struct RunSettings<'a> {
    config: &'a TrainingConfig,
    loss: String,
    /// Sequence models: the padded length and the representation.
    max_len: Option<usize>,
    spec: Option<SequenceSpec>,
}

/// A resumed run keeps its own settings: an option given with `--resume` must agree with the
/// checkpoint, or it is an error (it would otherwise be ignored).
fn refuse_changes(
    args: &FitArgs,
    given: &dyn Fn(&str) -> bool,
    run: &RunSettings<'_>,
) -> Result<(), Failure> {
    let c = run.config;
    let mut conflicts: Vec<String> = Vec::new();
    let mut differs = |id: &str, asked: String, has: String| {
        if given(id) && asked != has {
            conflicts.push(format!(
                "--{} {asked} (the run has {has})",
                id.replace('_', "-")
            ));
        }
    };
    differs("epochs", args.epochs.to_string(), c.epochs.to_string());
    // an option given on the command line has a value; what the run has is printed plainly
    let shown = |v: Option<String>| v.unwrap_or_else(|| "the default".into());
    let lower = |v: &dyn std::fmt::Debug| format!("{v:?}").to_lowercase();
    let rate = args.learning_rate.map(|r| r.to_string());
    differs("learning_rate", shown(rate), c.learning_rate.to_string());
    let schedule = args
        .lr_schedule
        .map(|s| lower(&LearningRateSchedule::from(s)));
    differs("lr_schedule", shown(schedule), lower(&c.lr_schedule));
    differs("l2", args.l2.to_string(), c.l2.to_string());
    let optimizer = OptimizerKind::from(args.optimizer);
    differs("optimizer", lower(&optimizer), lower(&c.optimizer));
    differs("threads", args.threads.to_string(), c.threads.to_string());
    let dim = args.dim.map(|d| d.to_string());
    differs("dim", shown(dim), c.embedding_dim.to_string());
    let batch = args.batch_size.map(|b| b.to_string());
    differs("batch_size", shown(batch), c.batch_size.to_string());
    let negatives = args.negatives.map(|n| n.to_string());
    let has = c.negatives.map(|n| n.to_string());
    differs("negatives", shown(negatives), shown(has));
    differs("generic", args.generic.to_string(), (!c.fused).to_string());
    differs("resident", args.resident.to_string(), "false".into());
    differs("device", lower(&args.device), "cpu".into());
    differs("loss", args.loss_name().name(), run.loss.clone());
    let max_len = args.max_len.map(|m| m.to_string());
    differs(
        "max_len",
        shown(max_len),
        shown(run.max_len.map(|m| m.to_string())),
    );
    let has = run
        .spec
        .as_ref()
        .map_or(ModelName::Factorization, ModelName::of_spec);
    differs("model", args.model.name(), has.name());
    if let Some(SequenceSpec::Cnn(CnnSpec {
        kernel_width,
        dilations,
        residual,
    })) = &run.spec
    {
        differs(
            "kernel_width",
            args.kernel_width.to_string(),
            kernel_width.to_string(),
        );
        let listed: Vec<String> = dilations.iter().map(usize::to_string).collect();
        differs(
            "dilations",
            args.dilations.replace(' ', ""),
            listed.join(","),
        );
        differs(
            "no_residual",
            args.no_residual.to_string(),
            (!residual).to_string(),
        );
    }
    if conflicts.is_empty() {
        return Ok(());
    }
    Err(format!(
        "--resume finishes the checkpointed run with the settings it was started with: {} \
         would be ignored (drop them, or fit a new run)",
        conflicts.join(", ")
    )
    .into())
}
