//! `netrex fit --split leave-one-out`: the next-item protocol of sequential recommendation.
//! Per user the last item is the test target and the one before it the validation target;
//! a sequence model trains on the rest with early stopping on validation NDCG@10, and the
//! best epoch's model ranks every test target given the history before it (validation item
//! included), seen items removed. Baselines (popularity, cooc) go through the same ranking.
//!
//! The session protocol (`--csv TRAIN --test-csv TEST` with a sequence model, cooc or sknn)
//! is the same with other parts: each training session's last item validates (early
//! stopping), the rest trains, and each test session's last item is ranked after the rest of
//! that session, which training never reads.

use std::any::Any;
use std::time::Instant;

use serde_json::{json, Value};

use netrex::data::split::{leave_last_k, leave_one_out, LeaveOneOut};
use netrex::data::{Dataset, PerUser};
use netrex::evaluation::{
    next_item_metrics, Cooccurrence, NextItemConfig, NextItemReport, Popularity, SequenceScorer,
    Sknn,
};
use netrex::losses::{BuiltinLoss, Loss};
use netrex::plan::memory::{available_memory, DataSize};
use netrex::plan::{ModelName, RunPlan};
use netrex::prelude::*;
use netrex::{fit_early_stopping, EarlyStopping, EarlyStoppingReport, PlateauDecay};

use crate::device::on_device;
use crate::load::load_unsplit;
use crate::train::diverged;
use crate::Failure;

/// The histories each pass reads and the targets it ranks.
struct Passes {
    split: LeaveOneOut,
    /// Training histories: what the validation pass reads.
    train: PerUser<u32>,
    /// Training histories with the validation item: what the test pass reads.
    train_and_validation: PerUser<u32>,
    eval: NextItemConfig,
    threads: usize,
}

impl Passes {
    /// Ranks `targets` given `histories` on the configured threads.
    fn rank(
        &self,
        model: &(impl SequenceScorer + Sync),
        histories: &PerUser<u32>,
        targets: &netrex::data::Interactions,
    ) -> Result<NextItemReport, Failure> {
        Ok(netrex::in_pool(self.threads, || {
            next_item_metrics(model, histories, targets, &self.eval)
        })??)
    }

    fn validation(&self, model: &(impl SequenceScorer + Sync)) -> Result<NextItemReport, Failure> {
        self.rank(model, &self.train, &self.split.validation)
    }

    fn test(&self, model: &(impl SequenceScorer + Sync)) -> Result<NextItemReport, Failure> {
        self.rank(model, &self.train_and_validation, &self.split.test)
    }
}

fn metrics(report: &NextItemReport) -> Value {
    json!({
        "hr_at_10": report.hr_at_k,
        "ndcg_at_10": report.ndcg_at_k,
        "mrr": report.mrr,
        "targets": report.targets,
    })
}

/// The plan's data split leave-one-out, and the passes that rank its targets.
fn passes_of(plan: &RunPlan) -> Result<(Dataset, Passes), Failure> {
    if plan.is_session_files() {
        return session_passes(plan);
    }
    let data = load_unsplit(plan)?;
    let split = leave_one_out(&data.interactions)?;
    let passes = Passes {
        train: split.train.histories(),
        train_and_validation: split.train.concat(&split.validation)?.histories(),
        split,
        eval: plan.next_item_config(),
        threads: plan.training.threads,
    };
    Ok((data, passes))
}

fn protocol(plan: &RunPlan) -> &'static str {
    if plan.is_session_files() {
        "sessions"
    } else {
        "leave-one-out"
    }
}

/// The session protocol's parts: the test sessions' last items after the rest of each.
fn session_passes(plan: &RunPlan) -> Result<(Dataset, Passes), Failure> {
    let split = crate::load::load(plan)?;
    if split.parts.train.timestamps().is_none() {
        return Err("the session protocol reads each session in time order: name the CSV's timestamp column with --timestamp-col".into());
    }
    let train = leave_last_k(&split.parts.train, 1)?;
    let test = leave_last_k(&split.parts.test, 1)?;
    let passes = Passes {
        train: train.train.histories(),
        train_and_validation: test.train.histories(),
        split: LeaveOneOut {
            train: train.train,
            validation: train.test,
            test: test.test,
        },
        eval: plan.next_item_config(),
        threads: plan.training.threads,
    };
    Ok((split.data, passes))
}

/// `netrex evaluate` of a model trained on this protocol: its test targets ranked again.
pub(crate) fn evaluate_saved(
    plan: &RunPlan,
    model: &ImplicitSequenceModel<AnySequence, BuiltinLoss>,
) -> Result<(Value, String), Failure> {
    let (_, passes) = passes_of(plan)?;
    let test = passes.test(model)?;
    let text = format!(
        "test: HR@10 {:.4}  NDCG@10 {:.4}  MRR {:.4}",
        test.hr_at_k, test.ndcg_at_k, test.mrr
    );
    Ok((metrics(&test), text))
}

/// Runs the protocol for the plan's model (the plan is checked: a sequence model, cooc or
/// popularity).
pub(crate) fn fit_next_item(plan: &RunPlan) -> Result<(), Failure> {
    let max_len = plan.max_len();
    let rules = plan.early_stopping().check()?;
    let s = &plan.stopping;
    let decay = s
        .lr_decay_patience
        .map(|n| PlateauDecay::new(n, s.lr_decay_factor))
        .transpose()?;
    let (data, passes) = passes_of(plan)?;
    let split = &passes.split;
    let size = DataSize {
        users: data.users.len(),
        items: data.items.len(),
        interactions: split.train.len(),
        features: 0,
    };
    plan.training_estimate(size).fits(available_memory())?;
    if !plan.output.json {
        eprintln!(
            "data: {} users, {} items; {}: train {} / validation {} / test {}",
            data.users.len(),
            data.items.len(),
            protocol(plan),
            split.train.len(),
            split.validation.len(),
            split.test.len()
        );
    }
    let n = data.items.len();
    let start = Instant::now();
    let (out, text) = match plan.model.kind {
        ModelName::Popularity => baseline(&Popularity::fit(&passes.split.train), &passes)?,
        ModelName::Cooc => baseline(&Cooccurrence::fit(&passes.train, n), &passes)?,
        ModelName::Sknn => baseline(&Sknn::fit(&passes.train, n, plan.sknn_config()), &passes)?,
        _ => on_device!(plan.training.device, device => {
            let model = plan.sequence_model_on(device, n)?;
            train(model, plan, (&rules, decay.clone()), &passes, &data)
        })?,
    };
    let mut out = out;
    out["model"] = json!(plan.model.kind.name());
    out["seconds"] = json!(start.elapsed().as_secs_f64());
    out["protocol"] = json!(protocol(plan));
    out["max_len"] = json!(max_len);
    out["users"] = json!(data.users.len());
    out["items"] = json!(n);
    if plan.output.json {
        println!("{out}");
    } else {
        println!("{text}");
    }
    Ok(())
}

/// A model with nothing to train: scored on validation and test.
fn baseline(
    model: &(impl SequenceScorer + Sync),
    passes: &Passes,
) -> Result<(Value, String), Failure> {
    let validation = passes.validation(model)?;
    let test = passes.test(model)?;
    let mut out = metrics(&test);
    out["validation"] = metrics(&validation);
    let text = format!(
        "validation: HR@10 {:.4}  NDCG@10 {:.4}\ntest: HR@10 {:.4}  NDCG@10 {:.4}  MRR {:.4}",
        validation.hr_at_k, validation.ndcg_at_k, test.hr_at_k, test.ndcg_at_k, test.mrr
    );
    Ok((out, text))
}

/// Scores `model` through `rank` on the CPU: in place where it lives there, else through a
/// copy (dfdx's `Cuda` is neither `Send` nor `Sync`, and the ranking runs on many threads).
fn on_cpu<D: ComputeDevice + 'static, T>(
    model: &ImplicitSequenceModel<AnySequence, BuiltinLoss, D>,
    rank: impl FnOnce(&ImplicitSequenceModel<AnySequence, BuiltinLoss>) -> Result<T, Failure>,
) -> Result<T, Failure> {
    match (model as &dyn Any).downcast_ref() {
        Some(on_host) => rank(on_host),
        None => rank(&model.to_cpu()?),
    }
}

/// Trains with early stopping on validation NDCG@10, then tests the best epoch's model.
fn train<D: ComputeDevice + 'static>(
    mut model: ImplicitSequenceModel<AnySequence, BuiltinLoss, D>,
    plan: &RunPlan,
    (rules, mut decay): (&EarlyStopping, Option<PlateauDecay>),
    passes: &Passes,
    data: &Dataset,
) -> Result<(Value, String), Failure>
where
    ImplicitSequenceModel<AnySequence, BuiltinLoss, D>: Fit,
{
    let mut failure = None;
    let (mut rates, mut decay_failure) = (Vec::new(), None);
    let report: EarlyStoppingReport = fit_early_stopping(
        &mut model,
        &passes.split.train,
        rules,
        |m| {
            let last = m.loss_history().last().copied().unwrap_or(0.0);
            let rate = m.config().training.learning_rate;
            if let Some(e) = diverged(m.epochs_trained(), last, rate) {
                return Err(e);
            }
            match on_cpu(m, |m| passes.validation(m)) {
                Ok(r) => Ok(r.ndcg_at_k),
                Err(e) => {
                    let message = e.to_string();
                    failure = Some(e);
                    Err(NetrexError::Training(message))
                }
            }
        },
        |m| m.representation().clone(),
        |m, best| *m.representation_mut() = best,
        |m, end| {
            if !plan.output.json {
                eprintln!(
                    "epoch {:>3}: loss {:.4}, validation NDCG@10 {:.4} (best {:.4} at epoch {})",
                    end.epoch, end.loss, end.score, end.best.0, end.best.1
                );
            }
            let Some(factor) = decay.as_mut().and_then(|d| d.after(end)) else {
                return;
            };
            let rate = m.config().training.learning_rate * factor;
            // a rate that underflows is a configuration error to report, not to skip
            match m.set_learning_rate(rate) {
                Ok(()) => rates.push((end.epoch, rate)),
                Err(e) => decay_failure = decay_failure.take().or(Some(e)),
            }
            if !plan.output.json {
                eprintln!("learning rate now {rate:e}");
            }
        },
    )?;
    if let Some(e) = failure {
        return Err(e);
    }
    if let Some(e) = decay_failure {
        return Err(e.into());
    }
    if let Some(why) = &report.diverged {
        eprintln!("warning: training stopped early: {why}");
    }
    let test = on_cpu(&model, |m| passes.test(m))?;
    if let Some(dir) = &plan.output.save {
        let catalog = Catalog {
            users: Some(data.users.clone()),
            items: Some(data.items.clone()),
            titles: data.item_titles.clone(),
            seen: None,
            plan: Some(serde_json::to_value(plan)?),
            ..Default::default()
        };
        model.save(dir, &catalog)?;
    }
    let mut out = metrics(&test);
    out["loss"] = json!(model.loss().name());
    out["best_epoch"] = json!(report.best_epoch);
    out["best_validation_ndcg_at_10"] = json!(report.best_score);
    out["epochs"] = json!(report.epochs);
    out["epoch_seconds"] = json!(report.epoch_seconds);
    out["loss_history"] = json!(report.loss_history);
    out["validation_curve"] = json!(report.validation);
    out["diverged"] = json!(report.diverged);
    if decay.is_some() {
        out["learning_rate_decays"] = json!(rates);
    }
    out["config"] = serde_json::to_value(model.config())?;
    out["host_kernel"] = json!(model.uses_host_kernel());
    let fit_seconds: f64 = report.epoch_seconds.iter().sum();
    let text = format!(
        "fit: {} epochs in {:.1} s ({:.2} s an epoch), best epoch {} (validation NDCG@10 {:.4})\n\
         test: HR@10 {:.4}  NDCG@10 {:.4}  MRR {:.4}",
        report.epochs,
        fit_seconds,
        fit_seconds / report.epochs.max(1) as f64,
        report.best_epoch,
        report.best_score,
        test.hr_at_k,
        test.ndcg_at_k,
        test.mrr
    );
    Ok((out, text))
}
