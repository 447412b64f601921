//! `netrex fit --resume DIR`: finishes the run checkpointed under DIR with the plan it was
//! started with (recorded in the checkpoint), refusing a checkpoint that the folder's own
//! model has superseded, and options that would change the run.

use std::path::Path;

use netrex::folder::FolderLock;
use netrex::losses::BuiltinLoss;
use netrex::plan::{flag_of, RunPlan};
use netrex::prelude::*;

use crate::args::FitArgs;
use crate::load::{load_checked, negative_items, Split};
use crate::saved::{check_same_ids, saved_loss};
use crate::train::{train_and_report, Trainable};
use crate::Failure;

/// Runs `fit --resume dir`.
pub(crate) fn resume(args: &FitArgs, dir: &Path) -> Result<(), Failure> {
    let found = netrex::find_checkpoint(dir)?;
    let folder = FolderLock::claim(dir)?;
    let sequence = netrex::is_sequence_model(&found);
    let loss = saved_loss(&found, sequence)?;
    if sequence {
        let (model, catalog) =
            ImplicitSequenceModel::<AnySequence, BuiltinLoss>::load_checkpoint(dir, loss)?;
        finish(args, &folder, model, &catalog, |m, plan, _| {
            Ok(m.with_progress(!plan.output.json))
        })
    } else {
        let (model, catalog) =
            ImplicitFactorizationModel::<Hybrid, BuiltinLoss>::load_checkpoint(dir, loss)?;
        finish(args, &folder, model, &catalog, |m, plan, split| {
            let m = m.with_progress(!plan.output.json);
            Ok(match negative_items(plan, split) {
                Some(pool) => m.with_negative_items(pool)?,
                None => m,
            })
        })
    }
}

/// Finishes the checkpointed `model` with its plan (`prepare` sets what is not saved with it),
/// or prints that plan with `--print-config`.
fn finish<M: Trainable>(
    args: &FitArgs,
    folder: &FolderLock,
    model: M,
    catalog: &Catalog,
    prepare: impl FnOnce(M, &RunPlan, &Split) -> Result<M, Failure>,
) -> Result<(), Failure> {
    let plan = resumed_plan(args, folder.path(), catalog, model.epochs())?;
    if args.print_config {
        print!("{}", plan.to_toml()?);
        return Ok(());
    }
    let split = load_checked(&plan)?;
    check_same_ids(catalog, &split.data)?;
    let model = prepare(model, &plan, &split)?;
    train_and_report(model, &plan, &split, Some(folder), true).map(|_| ())
}

/// The plan of the checkpoint under `dir` (with `--json` and `--plot` as given now), after
/// checking that the folder's model has not superseded it and that the options given agree
/// with it.
fn resumed_plan(
    args: &FitArgs,
    dir: &Path,
    catalog: &Catalog,
    epochs: usize,
) -> Result<RunPlan, Failure> {
    let plan = RunPlan::of_catalog(catalog)?.ok_or(
        "this checkpoint records no run plan (it was written by an older netrex): fit a new run",
    )?;
    if let Some((saved, saved_epochs)) = saved_model(dir)? {
        if saved != plan {
            let changed: Vec<String> = saved
                .differences(&plan)
                .into_iter()
                .map(|(key, now, then)| format!("{key} {now} (the checkpoint's {then})"))
                .collect();
            return Err(format!(
                "the checkpoint under {} is from an earlier run than the model saved there \
                 ({}): resuming would overwrite that model; fit a new run instead",
                dir.display(),
                changed.join(", ")
            )
            .into());
        }
        if saved_epochs >= epochs {
            return Err(format!(
                "the run under {} has finished: its model trained {saved_epochs} epochs, the \
                 checkpoint {epochs}; nothing to resume",
                dir.display()
            )
            .into());
        }
    }
    let mut asked = plan.clone();
    crate::plan::apply_fit(args, &mut asked);
    asked.output.json = args.json;
    asked.output.plot = args.plot.clone();
    let mut asked = asked.resolve()?;
    let mut had = plan.clone();
    (had.output.json, had.output.plot) = (args.json, args.plot.clone());
    // a plan capped to another machine's CPUs is capped here too, as a fit would be
    asked.cap_threads(crate::plan::cpus());
    had.cap_threads(crate::plan::cpus());
    let conflicts: Vec<String> = asked
        .differences(&had)
        .into_iter()
        .map(|(key, now, then)| format!("{} {now} (the run has {then})", flag_of(&key)))
        .collect();
    if !conflicts.is_empty() {
        return Err(format!(
            "--resume finishes the checkpointed run with the plan it was started with: {} \
             would change it (drop them, or fit a new run)",
            conflicts.join(", ")
        )
        .into());
    }
    had.check()?;
    Ok(had)
}

/// The plan and epochs of the model saved in `dir` itself, if there is one with a plan.
fn saved_model(dir: &Path) -> Result<Option<(RunPlan, usize)>, Failure> {
    let path = dir.join("model.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(None);
    };
    let json: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| format!("{}: not a netrex model file: {e}", path.display()))?;
    let Some(plan) = json["catalog"].get("plan").cloned() else {
        return Ok(None);
    };
    let plan: RunPlan =
        serde_json::from_value(plan).map_err(|e| format!("{}: its plan: {e}", path.display()))?;
    let epochs = json["epochs_trained"].as_u64().unwrap_or(0) as usize;
    Ok(Some((plan, epochs)))
}
