//! `netrex fit`: turns the options into a plan, checks it, then runs it: the model the plan
//! names goes through the one fit-and-report path (`train`), the next-item protocol through
//! its own (`next_item`). `--resume` finishes a checkpointed run (`resume`).

use std::sync::Arc;

use serde_json::json;

use netrex::data::Features;
use netrex::evaluation::{evaluate, Popularity};
use netrex::folder::FolderLock;
use netrex::plan::{ModelName, RunPlan};
use netrex::prelude::*;
use netrex::representations::HybridSide;
use netrex::{feature_map, feature_side};

use crate::args::FitArgs;
use crate::device::on_device;
use crate::load::{load_checked, negative_items, Split};
use crate::report::{metrics_json, metrics_text};
use crate::train::train_and_report;
use crate::Failure;

/// Runs `netrex fit`.
pub(crate) fn fit(args: FitArgs) -> Result<(), Failure> {
    if let Some(dir) = &args.resume {
        return crate::resume::resume(&args, dir);
    }
    let given = crate::plan::given_plan(&args)?;
    let plan = crate::plan::finish(given.clone())?;
    if args.print_config {
        print!("{}", plan.to_toml()?);
        return Ok(());
    }
    // the device is opened once, and the output folder claimed, before any data is read
    if plan.model.kind.is_trained() && !plan.model.kind.is_linear() {
        on_device!(plan.training.device, _device => Ok::<(), Failure>(()))?;
    }
    let folder = plan
        .output
        .save
        .as_deref()
        .map(FolderLock::claim)
        .transpose()?;
    if plan.is_next_item() {
        return crate::next_item::fit_next_item(&plan);
    }
    if !plan.tune.grid.is_empty() {
        return crate::tune::fit_tuned(&given, &plan, folder.as_ref());
    }
    let split = load_checked(&plan)?;
    run(&plan, &split, folder.as_ref()).map(|_| ())
}

/// Trains and tests the plan's model on `split` (saving it into `folder`), printing the
/// report unless the plan is quiet; returns the report's JSON.
pub(crate) fn run(
    plan: &RunPlan,
    split: &Split,
    folder: Option<&FolderLock>,
) -> Result<serde_json::Value, Failure> {
    match plan.model.kind {
        ModelName::Popularity => fit_popularity(plan, split),
        kind if kind.is_linear() => crate::linear::fit_linear(plan, split, folder),
        kind if kind.is_sequence() => fit_sequence(plan, split, folder),
        _ => fit_factorization(plan, split, folder),
    }
}

fn fit_factorization(
    plan: &RunPlan,
    split: &Split,
    folder: Option<&FolderLock>,
) -> Result<serde_json::Value, Failure> {
    let loss = plan.loss()?;
    let config = plan.training_config().check()?;
    let made_of = |features: &Option<Features>, ids: usize, users: bool| match features {
        Some(f) => feature_side(f, ids, plan.side_features(users)),
        None => Ok(HybridSide::Ids(ids)),
    };
    let users = made_of(&split.user_features, split.data.users.len(), true)?;
    let items = made_of(&split.item_features, split.data.items.len(), false)?;
    let pool = negative_items(plan, split);
    on_device!(plan.training.device, device => {
        let mut model = ImplicitFactorizationModel::hybrid_on(device, config, users, items, loss)?
            .with_progress(!plan.output.json && !plan.output.quiet)
            .with_resident_tables(plan.resident());
        if let Some(pool) = pool {
            model = model.with_negative_items(pool)?;
        }
        train_and_report(model, plan, split, folder, false)
    })
}

fn fit_sequence(
    plan: &RunPlan,
    split: &Split,
    folder: Option<&FolderLock>,
) -> Result<serde_json::Value, Failure> {
    let items = split
        .item_features
        .as_ref()
        .map(|f| feature_map(f, split.data.items.len(), plan.side_features(false)))
        .transpose()?
        .map(Arc::new);
    on_device!(plan.training.device, device => {
        let mut model = plan
            .sequence_model_on(device, split.data.items.len())?
            .with_progress(!plan.output.json && !plan.output.quiet);
        if let Some(map) = items.clone() {
            model = model.with_item_features(map)?;
        }
        train_and_report(model, plan, split, folder, false)
    })
}

/// `fit --model popularity`: the item-popularity baseline on the factorization protocol.
fn fit_popularity(plan: &RunPlan, split: &Split) -> Result<serde_json::Value, Failure> {
    let parts = &split.parts;
    let model = Popularity::fit(&parts.train);
    let config = split.eval_config(EvalConfig::default());
    let report = netrex::in_pool(plan.training.threads, || {
        evaluate(&model, &parts.test, Some(&parts.train), &config)
    })??;
    let mut out = metrics_json(&report);
    out["model"] = json!("popularity");
    crate::report::merge(&mut out, split.unseen.json());
    if plan.output.quiet {
        return Ok(out);
    }
    if plan.output.json {
        println!("{out}");
    } else {
        println!("{}", metrics_text(&report));
    }
    Ok(out)
}
