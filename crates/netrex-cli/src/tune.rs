//! `fit --grid KEY=V1,V2,...`: each grid point trains on the training data less a held-out
//! share and is scored on that share; the best point then trains on all the training data and
//! is tested once. The test set is never read before the chosen plan runs.

use serde_json::{json, Map, Value};

use netrex::folder::FolderLock;
use netrex::plan::tune::validation_split;
use netrex::plan::{OutputPlan, Point, RunPlan};

use crate::load::{load_checked, Split, Unseen};
use crate::Failure;

fn describe(point: &Point) -> Value {
    Value::Object(point.iter().cloned().collect::<Map<String, Value>>())
}

/// Chooses the plan's grid point on validation data, then runs it. Points are set on the plan
/// as `given` (before its defaults were resolved) and each is resolved on its own.
pub(crate) fn fit_tuned(
    given: &RunPlan,
    plan: &RunPlan,
    folder: Option<&FolderLock>,
) -> Result<(), Failure> {
    let split = load_checked(plan)?;
    let tune = &plan.tune;
    // held-out shares of the training data; the test set stays out of every grid point
    let folds: Vec<Split> = (0..tune.folds as u64)
        .map(|fold| {
            let parts = validation_split(
                &split.parts.train,
                tune.validation_fraction,
                plan.training.seed.wrapping_add(fold),
            )?;
            Ok(Split {
                parts,
                cold: None,
                unseen: Unseen::default(),
                ..split.clone()
            })
        })
        .collect::<Result<_, Failure>>()?;
    let metric = tune.metric;
    let name = metric.keys()[0];
    let mut rows = Vec::new();
    let mut best: Option<(f64, Point)> = None;
    for point in given.grid_points()? {
        let mut trial = given.with_point(&point)?;
        trial.output = OutputPlan {
            json: true,
            quiet: true,
            ..OutputPlan::default()
        };
        let trial = crate::plan::finish(trial)?;
        let mut scores = Vec::with_capacity(folds.len());
        for fold in &folds {
            let report = crate::fit::run(&trial, fold, None)?;
            scores.push(
                metric
                    .read(&report)
                    .ok_or_else(|| format!("the run reports no {name} to choose by"))?,
            );
        }
        let score = scores.iter().sum::<f64>() / scores.len() as f64;
        if !plan.output.json {
            eprintln!("grid {}: validation {name} {score:.4}", describe(&point));
        }
        rows.push(json!({"point": describe(&point), name: score, "folds": scores}));
        if best.as_ref().is_none_or(|(b, _)| score > *b) {
            best = Some((score, point));
        }
    }
    let (score, point) = best.ok_or("the grid has no points")?;
    let mut chosen = crate::plan::finish(given.with_point(&point)?)?;
    let summary = json!({
        "metric": name,
        "validation_fraction": tune.validation_fraction,
        "folds": tune.folds,
        "validation_interactions": folds[0].parts.test.len(),
        "best": describe(&point),
        "best_validation": score,
        "grid": rows,
    });
    if plan.output.json {
        chosen.output.quiet = true;
        let mut out = crate::fit::run(&chosen, &split, folder)?;
        out["tuning"] = summary;
        println!("{out}");
    } else {
        eprintln!(
            "chosen on validation: {} ({name} {score:.4})",
            describe(&point)
        );
        crate::fit::run(&chosen, &split, folder)?;
    }
    Ok(())
}
