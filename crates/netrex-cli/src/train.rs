//! One fit-and-report path for every model kind: train (or resume) with the per-epoch
//! evaluation, checkpoints and curve asked for, then test, save, chart and report.

use std::path::Path;

use serde_json::{json, Value};

use netrex::data::{Dataset, TrainTest};
use netrex::evaluation::{sampled_mrr_score, sequence_mrr_score, EvalError, SequenceEvalConfig};
use netrex::folder::FolderLock;
use netrex::losses::{BuiltinLoss, Loss};
use netrex::plan::RunPlan;
use netrex::prelude::*;
use netrex::{EpochEnd, FeatureNames, FitReport, EXPLOSION_FACTOR};

use crate::load::Split;
use crate::report::{merge, metrics_json, metrics_text, print_epochs};
use crate::Failure;

/// How a model is scored on the test set.
pub(crate) struct TestSettings {
    /// Worker threads.
    pub(crate) threads: usize,
    /// Seed of sampled metrics.
    pub(crate) seed: u64,
    /// The items ranked (a cold-items split's), else all.
    pub(crate) candidates: Option<Vec<u32>>,
}

/// A model's test scores.
pub(crate) struct Scores {
    /// The metric of the training curve (MRR, or sequence MRR).
    pub(crate) headline: f64,
    /// Its name in the per-epoch line.
    pub(crate) headline_name: &'static str,
    /// Every metric, as JSON fields.
    pub(crate) json: Value,
    /// Every metric, as one line of text.
    pub(crate) text: String,
}

/// The `Trainable` methods both model types answer from their shared accessors.
macro_rules! model_history {
    () => {
        fn loss_name(&self) -> String {
            self.loss().name()
        }

        fn epochs(&self) -> usize {
            self.epochs_trained()
        }

        fn history(&self) -> &[f32] {
            self.loss_history()
        }
    };
}

/// What the fit-and-report path needs of a model kind.
pub(crate) trait Trainable: Fit + Checkpoint {
    /// The model's name in reports.
    fn kind(&self) -> String;
    /// The loss's name.
    fn loss_name(&self) -> String;
    /// Epochs trained over all runs.
    fn epochs(&self) -> usize;
    /// Mean loss of every epoch trained.
    fn history(&self) -> &[f32];
    /// What is saved beside the model: raw ids, titles and (for factorization) seen items.
    fn catalog(data: &Dataset, parts: &TrainTest) -> Catalog;
    /// Scores on `parts.test`; `quick` asks for the headline metric only.
    fn test(
        &self,
        parts: &TrainTest,
        settings: &TestSettings,
        quick: bool,
    ) -> Result<Scores, Failure>;
    /// Saves the model and `catalog` into `dir`.
    fn save_to(&self, dir: &Path, catalog: &Catalog) -> Result<(), NetrexError>;
    /// How it trained: device, kernels, config.
    fn training_json(&self) -> Result<Value, Failure>;
}

impl<D: ComputeDevice> Trainable for ImplicitFactorizationModel<Hybrid, BuiltinLoss, D>
where
    Self: Fit + Checkpoint,
{
    fn kind(&self) -> String {
        match self.representation().is_bilinear() {
            true => "factorization".into(),
            false => "hybrid factorization".into(),
        }
    }

    model_history!();

    fn catalog(data: &Dataset, parts: &TrainTest) -> Catalog {
        Catalog {
            users: Some(data.users.clone()),
            items: Some(data.items.clone()),
            titles: data.item_titles.clone(),
            seen: Some(parts.train.histories()),
            ..Default::default()
        }
    }

    fn test(
        &self,
        parts: &TrainTest,
        settings: &TestSettings,
        _quick: bool,
    ) -> Result<Scores, Failure> {
        let config = EvalConfig {
            candidates: settings.candidates.clone(),
            ..EvalConfig::default()
        };
        // scored on the CPU whatever the training device
        let report = self
            .to_cpu()?
            .evaluate(&parts.test, Some(&parts.train), &config)?;
        Ok(factorization_scores(&report))
    }

    fn save_to(&self, dir: &Path, catalog: &Catalog) -> Result<(), NetrexError> {
        self.save(dir, catalog)
    }

    fn training_json(&self) -> Result<Value, Failure> {
        Ok(json!({
            "device": D::NAME,
            "fused_kernel": self.uses_fused_kernel(),
            "per_example_sgd": self.uses_per_example_sgd(),
            "resident_tables": self.uses_resident_tables(),
            "config": serde_json::to_value(self.config())?,
        }))
    }
}

/// The scores of a full-ranking report.
pub(crate) fn factorization_scores(report: &Report) -> Scores {
    Scores {
        headline: report.mrr,
        headline_name: "test MRR",
        json: metrics_json(report),
        text: metrics_text(report),
    }
}

impl<D: ComputeDevice> Trainable for ImplicitSequenceModel<AnySequence, BuiltinLoss, D>
where
    Self: Fit + Checkpoint,
{
    fn kind(&self) -> String {
        self.representation().name()
    }

    model_history!();

    fn catalog(data: &Dataset, _parts: &TrainTest) -> Catalog {
        Catalog {
            users: Some(data.users.clone()),
            items: Some(data.items.clone()),
            titles: data.item_titles.clone(),
            seen: None,
            ..Default::default()
        }
    }

    fn test(
        &self,
        parts: &TrainTest,
        settings: &TestSettings,
        quick: bool,
    ) -> Result<Scores, Failure> {
        sequence_scores(&self.to_cpu()?, parts, settings, quick)
    }

    fn save_to(&self, dir: &Path, catalog: &Catalog) -> Result<(), NetrexError> {
        self.save(dir, catalog)
    }

    fn training_json(&self) -> Result<Value, Failure> {
        Ok(json!({
            "device": D::NAME,
            "host_kernel": self.uses_host_kernel(),
            "resident_tables": self.uses_resident_tables(),
            "config": serde_json::to_value(self.config())?,
        }))
    }
}

/// Scores of a sequence model on held-out histories: full-ranking MRR, the same excluding
/// seen items, and sampled-200 MRR (`quick`: the first only).
pub(crate) fn sequence_scores(
    scorer: &ImplicitSequenceModel<AnySequence, BuiltinLoss>,
    parts: &TrainTest,
    settings: &TestSettings,
    quick: bool,
) -> Result<Scores, Failure> {
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
    let (full, excluding, sampled) = netrex::in_pool(settings.threads, || {
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
        if quick {
            return Ok::<_, EvalError>((full, f64::NAN, f64::NAN));
        }
        let excluding = score(true)?.mean;
        let sampled = sampled_mrr_score(
            scorer,
            &histories,
            200,
            Some(max_len.saturating_sub(1)),
            settings.seed,
        )?;
        Ok((full, excluding, sampled.mean))
    })??;
    Ok(Scores {
        headline: full,
        headline_name: "test sequence MRR",
        json: json!({
            "sequence_mrr": full,
            "sequence_mrr_excluding_seen": excluding,
            "sampled_mrr": sampled,
        }),
        text: format!(
            "test: sequence MRR {full:.4}  excluding seen {excluding:.4}  sampled-200 MRR {sampled:.4}"
        ),
    })
}

/// Whether an every-`k`-epochs action falls on this epoch.
fn due(every: Option<usize>, end: &EpochEnd) -> bool {
    every.is_some_and(|k| end.epoch.is_multiple_of(k))
}

/// A diverged epoch as an error that says so, with the learning rate to lower: a mean loss
/// that is not finite or above 1e6 (the built-in losses stay within tens).
pub(crate) fn diverged(epoch: usize, loss: f32, learning_rate: f32) -> Option<NetrexError> {
    (!loss.is_finite() || loss > 1e6).then(|| {
        NetrexError::Training(format!(
            "training diverged: epoch {epoch}'s mean loss is {loss} at learning rate \
             {learning_rate}; lower --learning-rate"
        ))
    })
}

/// [`diverged`], or a loss that exploded: `end`'s above [`EXPLOSION_FACTOR`] times the lowest
/// of the `earlier` epochs' (positive losses only; custom losses may go below zero).
fn diverged_after(earlier: &[f32], end: &EpochEnd, learning_rate: f32) -> Option<NetrexError> {
    let low = earlier.iter().copied().fold(f32::INFINITY, f32::min);
    if low > 0.0 && end.loss > EXPLOSION_FACTOR * low {
        return Some(NetrexError::Training(format!(
            "training diverged: epoch {}'s mean loss {} is over {EXPLOSION_FACTOR} times the \
             lowest before it, {low}, at learning rate {learning_rate}; lower --learning-rate",
            end.epoch, end.loss
        )));
    }
    diverged(end.epoch, end.loss, learning_rate)
}

/// Fits (or, with `resume`, finishes) `model` with the per-epoch evaluation, checkpoints and
/// curve the plan asks for, then tests, saves (into `folder`, claimed by this run), charts and
/// reports it.
pub(crate) fn train_and_report<M: Trainable>(
    mut model: M,
    plan: &RunPlan,
    split: &Split,
    folder: Option<&FolderLock>,
    resume: bool,
) -> Result<Value, Failure> {
    let (data, parts) = (&split.data, &split.parts);
    let mut catalog = M::catalog(data, parts);
    // the names let the saved model score ids it never saw from their features
    if let Some(f) = &split.item_features {
        let side = plan.side_features(false);
        catalog.item_features = Some(FeatureNames::of(f, data.items.len(), side));
    }
    if let Some(f) = &split.user_features {
        let side = plan.side_features(true);
        catalog.user_features = Some(FeatureNames::of(f, data.users.len(), side));
    }
    catalog.plan = Some(serde_json::to_value(plan)?);
    let settings = TestSettings {
        threads: plan.training.threads,
        seed: plan.training.seed,
        candidates: split.candidates(),
    };
    let save_dir = folder.map(FolderLock::path);
    let output = &plan.output;
    let learning_rate = plan.training_config().learning_rate;
    let mut curve: Vec<(usize, f64)> = Vec::new();
    let mut on_epoch = |m: &M, end: &EpochEnd| -> Result<(), NetrexError> {
        if let Some(e) = diverged_after(m.history(), end, learning_rate) {
            return Err(e);
        }
        if due(output.eval_every, end) {
            let scores = m
                .test(parts, &settings, true)
                .map_err(|e| NetrexError::Training(e.to_string()))?;
            if !output.json {
                eprintln!(
                    "epoch {:>3}: loss {:.4}, {} {:.4}",
                    end.epoch, end.loss, scores.headline_name, scores.headline
                );
            }
            curve.push((end.epoch, scores.headline));
        }
        match save_dir {
            Some(dir) if due(output.checkpoint_every, end) => m.save_checkpoint(dir, &catalog),
            _ => Ok(()),
        }
    };
    let fitted: FitReport = if resume {
        model.resume_with(&parts.train, &mut on_epoch)?
    } else {
        model.fit_with(&parts.train, &mut on_epoch)?
    };
    let scores = model.test(parts, &settings, false)?;
    if let Some(dir) = save_dir {
        model.save_to(dir, &catalog)?;
    }
    if let Some(file) = &output.plot {
        let title = format!("{}, {} loss", model.kind(), model.loss_name());
        netrex::plot::training_curve(file, &title, model.history(), &curve)?;
    }
    let mut out = scores.json;
    out["model"] = json!(model.kind());
    out["loss"] = json!(model.loss_name());
    out["fit_seconds"] = json!(fitted.seconds);
    out["epochs"] = json!(model.epochs());
    out["loss_history"] = json!(fitted.loss_history);
    out["eval_curve"] = json!(curve);
    merge(&mut out, model.training_json()?);
    merge(&mut out, split.unseen.json());
    if output.quiet {
        return Ok(out);
    }
    if output.json {
        println!("{out}");
    } else {
        let first = model.epochs() + 1 - fitted.loss_history.len();
        print_epochs(first, &fitted.loss_history);
        println!(
            "fit: {} epochs in {:.2} s, final loss {:.4}",
            model.epochs(),
            fitted.seconds,
            fitted.loss_history.last().copied().unwrap_or(f32::NAN)
        );
        println!("{}", scores.text);
        if let Some(dir) = save_dir {
            println!("saved to {}", dir.display());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_loss_ten_times_the_lowest_is_divergence() {
        let end = |epoch: usize, loss: f32| EpochEnd {
            epoch,
            run_epoch: epoch,
            run_epochs: 10,
            loss,
        };
        assert!(diverged_after(&[], &end(1, 5.0), 0.01).is_none());
        assert!(diverged_after(&[2.0, 0.5], &end(3, 4.9), 0.01).is_none());
        let e = diverged_after(&[2.0, 0.5], &end(3, 5.5), 0.01).expect("an explosion");
        assert!(e.to_string().contains("epoch 3's mean loss 5.5"), "{e}");
        // losses at or below zero are not compared; a NaN loss always is divergence
        assert!(diverged_after(&[-1.0], &end(2, 50.0), 0.01).is_none());
        assert!(diverged_after(&[1.0], &end(2, f32::NAN), 0.01).is_some());
    }
}
