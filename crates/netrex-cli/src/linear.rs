//! `fit --model ease|ials`: netrex-linear's models on the factorization protocols, scored by
//! the same metrics, saved in a model folder with the same catalog.

use std::time::Instant;

use serde_json::json;

use netrex::data::Interactions;
use netrex::evaluation::{evaluate, Report};
use netrex::folder::FolderLock;
use netrex::linear::LinearModel;
use netrex::plan::{ModelName, RunPlan};
use netrex::prelude::*;

use crate::load::Split;
use crate::report::{merge, metrics_json, metrics_text};
use crate::Failure;

/// A linear model fitted to `train`, with its fit seconds and (iALS) each sweep's loss.
pub(crate) struct Fitted {
    pub(crate) model: LinearModel,
    pub(crate) seconds: f64,
    pub(crate) losses: Vec<f64>,
}

/// Fits the plan's linear model to `train` on the plan's threads.
pub(crate) fn fit_linear_on(plan: &RunPlan, train: &Interactions) -> Result<Fitted, Failure> {
    let start = Instant::now();
    let (model, losses) = plan.fit_linear(train)?;
    Ok(Fitted {
        model,
        seconds: start.elapsed().as_secs_f64(),
        losses,
    })
}

/// The full-ranking metrics of `model` on `test`, `train` excluded.
pub(crate) fn test_linear(
    model: &LinearModel,
    plan: &RunPlan,
    split: &Split,
    test: &Interactions,
    train: &Interactions,
) -> Result<Report, Failure> {
    let config = split.eval_config(EvalConfig::default());
    Ok(netrex::in_pool(plan.training.threads, || {
        evaluate(model, test, Some(train), &config)
    })??)
}

/// Runs `fit` for EASE or iALS on `split`: fit, test, save, report.
pub(crate) fn fit_linear(
    plan: &RunPlan,
    split: &Split,
    folder: Option<&FolderLock>,
) -> Result<serde_json::Value, Failure> {
    let parts = &split.parts;
    let fitted = fit_linear_on(plan, &parts.train)?;
    let report = test_linear(&fitted.model, plan, split, &parts.test, &parts.train)?;
    if let Some(folder) = folder {
        let catalog = Catalog {
            users: Some(split.data.users.clone()),
            items: Some(split.data.items.clone()),
            titles: split.data.item_titles.clone(),
            plan: Some(serde_json::to_value(plan)?),
            ..Default::default()
        };
        fitted
            .model
            .save(folder.path(), serde_json::to_value(&catalog)?)?;
    }
    let mut out = metrics_json(&report);
    out["model"] = json!(fitted.model.kind());
    out["fit_seconds"] = json!(fitted.seconds);
    out["l2"] = json!(plan.l2());
    if plan.model.kind == ModelName::Ials {
        out["loss_history"] = json!(fitted.losses);
    }
    merge(&mut out, split.unseen.json());
    if plan.output.quiet {
        return Ok(out);
    }
    if plan.output.json {
        println!("{out}");
    } else {
        for (sweep, loss) in fitted.losses.iter().enumerate() {
            eprintln!("sweep {:>3}: loss {loss:.1}", sweep + 1);
        }
        println!("fit: {} in {:.2} s", fitted.model.kind(), fitted.seconds);
        println!("{}", metrics_text(&report));
        if let Some(folder) = folder {
            println!("saved to {}", folder.path().display());
        }
    }
    Ok(out)
}

/// Loads the linear model in `dir` with its catalog (its seen items from the model's own
/// training rows).
pub(crate) fn load_linear(dir: &std::path::Path) -> Result<(LinearModel, Catalog), Failure> {
    let (model, catalog) = LinearModel::load(dir)?;
    let mut catalog: Catalog = serde_json::from_value(catalog)
        .map_err(|e| format!("{}: the model's catalog cannot be read: {e}", dir.display()))?;
    let train = model.train();
    catalog.seen = Some(netrex::data::PerUser::from_lists(
        (0..train.num_users())
            .map(|u| train.get(u).to_vec())
            .collect(),
    ));
    Ok((model, catalog))
}
