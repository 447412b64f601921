//! Early stopping: train in rounds, score the model on validation data after each, keep the
//! best round's model, and stop once `patience` epochs have passed without a better score, or
//! at once when the run diverges (a validation score that collapses, a loss that explodes).

use std::time::Instant;

use serde::{Deserialize, Serialize};

use netrex_data::Interactions;

use crate::config::ParamGuard;
use crate::engine::training::Fit;
use crate::error::NetrexError;

/// When to stop. Each round is one [`Fit::fit`] call, i.e. the model's configured epochs
/// (one, for a score after every epoch); a learning-rate schedule restarts every round.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EarlyStopping {
    /// Stop after this many epochs at the latest.
    pub max_epochs: usize,
    /// Stop once this many epochs have passed since the best score.
    pub patience: usize,
}

impl ParamGuard for EarlyStopping {
    fn check_ref(&self) -> Result<(), NetrexError> {
        if self.max_epochs == 0 {
            return Err(NetrexError::config("max_epochs", "must be at least 1"));
        }
        if self.patience == 0 {
            return Err(NetrexError::config("patience", "must be at least 1"));
        }
        Ok(())
    }
}

/// What an early-stopped fit did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EarlyStoppingReport {
    /// The epoch whose model was kept (1-based, counted in this fit).
    pub best_epoch: usize,
    /// Its validation score.
    pub best_score: f64,
    /// Epochs trained.
    pub epochs: usize,
    /// Training seconds of each epoch (a round's time shared by its epochs; validation not
    /// included).
    pub epoch_seconds: Vec<f64>,
    /// Mean training loss of each epoch.
    pub loss_history: Vec<f32>,
    /// `(epoch, score)` after each round.
    pub validation: Vec<(usize, f64)>,
    /// Why the run stopped early, if it diverged: the validation score fell below
    /// [`COLLAPSE_SHARE`] of the best, or the round's loss rose above [`EXPLOSION_FACTOR`]
    /// times the lowest so far. The best epoch's model is kept either way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diverged: Option<String>,
}

/// A validation score below this share of the best one so far is a collapse: the run stops.
pub const COLLAPSE_SHARE: f64 = 0.5;

/// A round's loss above this many times the lowest epoch loss so far is an explosion: the run
/// stops.
pub const EXPLOSION_FACTOR: f32 = 10.0;

/// Why the run looks diverged after its last round, if it does: its validation score against
/// the best one, then its loss against the lowest one (losses at or below zero, which custom
/// losses may have, are not compared).
fn divergence(report: &EarlyStoppingReport, score: f64) -> Option<String> {
    let (epoch, best, at) = (report.epochs, report.best_score, report.best_epoch);
    let kept =
        format!("the model of epoch {at} is kept; a smaller learning rate may train further");
    if best > 0.0 && score < COLLAPSE_SHARE * best {
        return Some(format!(
            "the validation score collapsed at epoch {epoch}: {score:.4} against {best:.4} at \
             epoch {at}; {kept}"
        ));
    }
    let last = *report.loss_history.last()?;
    let (low_at, low) = report
        .loss_history
        .iter()
        .enumerate()
        .min_by(|a, b| a.1.total_cmp(b.1))?;
    (*low > 0.0 && last > EXPLOSION_FACTOR * low).then(|| {
        format!(
            "the training loss exploded at epoch {epoch}: {last:.4} against {low:.4} at epoch \
             {}; {kept}",
            low_at + 1
        )
    })
}

/// How far an early-stopped fit is, after each round.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RoundEnd {
    /// Epochs trained in this fit.
    pub epoch: usize,
    /// The round's last mean training loss.
    pub loss: f32,
    /// The round's validation score.
    pub score: f64,
    /// The best score so far and its epoch.
    pub best: (f64, usize),
}

/// Learning-rate decay on a plateau of the validation score: once `patience` epochs pass
/// without a better score (counted from the best epoch or the last decay, whichever is later),
/// the rate is multiplied by `factor`. Used from [`fit_early_stopping`]'s `on_round`:
/// validation curves of sequence models flatten long before early stopping ends them, and a
/// smaller step then settles nearer an optimum.
#[derive(Clone, Debug, PartialEq)]
pub struct PlateauDecay {
    patience: usize,
    factor: f32,
    /// The best epoch or the last decay, whichever is later.
    since: usize,
}

impl PlateauDecay {
    /// Decay by `factor` (in `(0, 1)`) after `patience` (at least 1) epochs without progress.
    pub fn new(patience: usize, factor: f32) -> Result<Self, NetrexError> {
        if patience == 0 {
            return Err(NetrexError::config(
                "lr_decay_patience",
                "must be at least 1",
            ));
        }
        if !(factor > 0.0 && factor < 1.0) {
            return Err(NetrexError::config(
                "lr_decay_factor",
                format!("must be in (0, 1), got {factor}"),
            ));
        }
        Ok(PlateauDecay {
            patience,
            factor,
            since: 0,
        })
    }

    /// After a round: the factor to multiply the learning rate by now, if the plateau has
    /// lasted `patience` epochs.
    pub fn after(&mut self, end: &RoundEnd) -> Option<f32> {
        self.since = self.since.max(end.best.1);
        if end.epoch.saturating_sub(self.since) >= self.patience {
            self.since = end.epoch;
            return Some(self.factor);
        }
        None
    }
}

/// Trains `model` on `train` in rounds until `rules` say stop, scoring it with `validate`
/// after each round (higher is better), then puts back the best round's state: `snapshot`
/// takes it (e.g. a clone of the representation), `restore` writes it back. A score that is
/// not finite is an error (a diverged model). `on_round` sees each round's result and may
/// change the model before the next round (a [`PlateauDecay`] of its learning rate, say).
pub fn fit_early_stopping<M: Fit, S>(
    model: &mut M,
    train: &Interactions,
    rules: &EarlyStopping,
    mut validate: impl FnMut(&M) -> Result<f64, NetrexError>,
    snapshot: impl Fn(&M) -> S,
    restore: impl FnOnce(&mut M, S),
    mut on_round: impl FnMut(&mut M, &RoundEnd),
) -> Result<EarlyStoppingReport, NetrexError> {
    rules.check_ref()?;
    let mut report = EarlyStoppingReport {
        best_epoch: 0,
        best_score: f64::NEG_INFINITY,
        epochs: 0,
        epoch_seconds: Vec::new(),
        loss_history: Vec::new(),
        validation: Vec::new(),
        diverged: None,
    };
    let mut best = None;
    while report.epochs < rules.max_epochs {
        let start = Instant::now();
        let fitted = model.fit(train)?;
        let seconds = start.elapsed().as_secs_f64();
        let n = fitted.loss_history.len().max(1);
        report.epochs += n;
        report
            .epoch_seconds
            .extend(std::iter::repeat_n(seconds / n as f64, n));
        report.loss_history.extend(&fitted.loss_history);
        let score = validate(model)?;
        if !score.is_finite() {
            return Err(NetrexError::Training(format!(
                "the validation score after epoch {} is {score}",
                report.epochs
            )));
        }
        report.validation.push((report.epochs, score));
        if score > report.best_score {
            report.best_score = score;
            report.best_epoch = report.epochs;
            best = Some(snapshot(model));
        }
        on_round(
            model,
            &RoundEnd {
                epoch: report.epochs,
                loss: fitted.loss_history.last().copied().unwrap_or(f32::NAN),
                score,
                best: (report.best_score, report.best_epoch),
            },
        );
        report.diverged = divergence(&report, score);
        if report.diverged.is_some() || report.epochs - report.best_epoch >= rules.patience {
            break;
        }
    }
    if let Some(state) = best {
        restore(model, state);
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::training::{FitReport, OnEpoch};

    /// A "model" whose validation score after epoch e is `curve[e - 1]`, and whose loss is
    /// `1 / e` until epoch `explode_at`, 100 from there.
    struct Scripted {
        epoch: usize,
        state: usize,
        explode_at: usize,
    }

    impl Fit for Scripted {
        fn fit_with(
            &mut self,
            _: &Interactions,
            _: &mut OnEpoch<'_, Self>,
        ) -> Result<FitReport, NetrexError> {
            self.epoch += 1;
            self.state = self.epoch;
            Ok(FitReport {
                loss_history: vec![if self.epoch < self.explode_at {
                    1.0 / self.epoch as f32
                } else {
                    100.0
                }],
                seconds: 0.0,
            })
        }
        fn resume_with(
            &mut self,
            train: &Interactions,
            on_epoch: &mut OnEpoch<'_, Self>,
        ) -> Result<FitReport, NetrexError> {
            self.fit_with(train, on_epoch)
        }
    }

    /// Early stopping over a scripted validation curve: the report, the state restored and
    /// the rounds reported.
    fn scripted(
        curve: &[f64],
        (max_epochs, patience): (usize, usize),
        explode_at: usize,
    ) -> (EarlyStoppingReport, usize, usize) {
        let train = Interactions::new(vec![0], vec![0], 1, 1).unwrap();
        let mut model = Scripted {
            epoch: 0,
            state: 0,
            explode_at,
        };
        let mut rounds = 0;
        let report = fit_early_stopping(
            &mut model,
            &train,
            &EarlyStopping {
                max_epochs,
                patience,
            },
            |m| Ok(curve[m.epoch - 1]),
            |m| m.state,
            |m, s| m.state = s,
            |_, _| rounds += 1,
        )
        .unwrap();
        (report, model.state, rounds)
    }

    #[test]
    fn the_best_epoch_is_kept_and_patience_stops_the_fit() {
        let curve = [0.1, 0.3, 0.2, 0.25, 0.29, 0.1, 0.5];
        let (report, state, rounds) = scripted(&curve, (100, 3), usize::MAX);
        // epoch 2 is best; epochs 3, 4, 5 do not beat it: stop after 5, never seeing 0.5
        assert_eq!((report.best_epoch, report.epochs, rounds), (2, 5, 5));
        assert_eq!(report.best_score, 0.3);
        assert_eq!(state, 2);
        assert_eq!(report.epoch_seconds.len(), 5);
        let (capped, _, _) = scripted(&curve, (2, 10), usize::MAX);
        assert_eq!(capped.epochs, 2);
        assert_eq!(report.diverged, None);
    }

    #[test]
    fn a_collapsed_validation_score_stops_the_run_and_keeps_the_best_model() {
        // epoch 3 falls below half of epoch 2's score: stop there, patience or not
        let (report, state, rounds) = scripted(&[0.2, 0.3, 0.1, 0.4], (100, 50), usize::MAX);
        assert_eq!(
            (report.best_epoch, report.epochs, rounds, state),
            (2, 3, 3, 2)
        );
        let why = report.diverged.expect("a collapse");
        assert!(why.contains("collapsed at epoch 3"), "{why}");
        assert!(why.contains("0.1000 against 0.3000 at epoch 2"), "{why}");
        // the loss of epoch 3 is 100 against epoch 2's 0.5: an explosion, scores steady
        let (report, state, _) = scripted(&[0.2, 0.3, 0.3, 0.4], (100, 50), 3);
        assert_eq!((report.best_epoch, report.epochs, state), (2, 3, 2));
        let why = report.diverged.expect("an explosion");
        assert!(why.contains("loss exploded at epoch 3"), "{why}");
        assert!(why.contains("100.0000 against 0.5000 at epoch 2"), "{why}");
    }

    #[test]
    fn the_rate_decays_after_each_plateau_of_patience_epochs() {
        let mut decay = PlateauDecay::new(2, 0.5).unwrap();
        // (epoch, best epoch so far)
        let rounds = [
            (1, 1),
            (2, 2),
            (3, 2),
            (4, 2),
            (5, 2),
            (6, 2),
            (7, 7),
            (8, 7),
            (9, 7),
        ];
        let decays: Vec<usize> = rounds
            .iter()
            .filter_map(|&(epoch, best)| {
                let end = RoundEnd {
                    epoch,
                    loss: 1.0,
                    score: 0.0,
                    best: (0.0, best),
                };
                decay.after(&end).map(|f| {
                    assert_eq!(f, 0.5);
                    epoch
                })
            })
            .collect();
        // two epochs after the best (4), two after that decay (6), two after the new best (9)
        assert_eq!(decays, [4, 6, 9]);
        assert!(PlateauDecay::new(0, 0.5).is_err());
        for factor in [0.0, 1.0, 1.5, f32::NAN] {
            assert!(PlateauDecay::new(3, factor).is_err(), "{factor}");
        }
    }
}
